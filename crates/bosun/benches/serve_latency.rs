//! From a commit to the change in the cluster, through `bosun serve` and a signed GitHub push
//! webhook, side by side with the push pipeline the seeds describe (a CI job that runs
//! `kubectl apply --server-side` on the checked-out directory after each commit). Both sides see
//! the same manifests, the same server build (`bosun cluster up`, release) and the same change:
//! one ConfigMap's value in an Application of `BENCH_OBJECTS` objects (default 200).
//!
//! bosun's latency: webhook sent → the ConfigMap's new value is readable from the API server
//! (polled every 10 ms with kube-rs). kubectl's: the same commit → `kubectl apply` returned.
//! Prints a Markdown section for docs/benchmarks.md.
//!
//! Run: `cargo bench -p bosun --bench serve_latency` (`BENCH_OBJECTS`, `BENCH_RUNS`).

mod common;

use common::{Process, git, kube_client, median, start_server, tools};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;

const SECRET: &str = "bench-webhook-secret";
const TOKEN: &str = "bench-admin-token-0123456789";

fn write_objects(dir: &Path, n: usize, value: &str) {
    let mut yaml = String::new();
    for i in 0..n {
        let data = if i == 0 {
            value.to_string()
        } else {
            format!("{i}")
        };
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}, namespace: bench}}\ndata: {{value: \"{data}\"}}\n"
        ));
    }
    std::fs::write(dir.join("objects.yaml"), yaml).unwrap();
}

async fn wait_value(api: &Api<ConfigMap>, value: &str, deadline: Duration) -> Instant {
    let start = Instant::now();
    loop {
        if let Ok(cm) = api.get("cm-0").await
            && cm
                .data
                .as_ref()
                .and_then(|d| d.get("value"))
                .map(String::as_str)
                == Some(value)
        {
            return Instant::now();
        }
        assert!(start.elapsed() < deadline, "cm-0 never became {value}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n: usize = std::env::var("BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let tools = tools();
    let kubectl = tools.join("bin/kubectl");
    assert!(kubectl.exists(), "run scripts/install-test-deps first");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let manifests = repo.join("app");
    std::fs::create_dir_all(&manifests).unwrap();
    write_objects(&manifests, n, "v0");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "objects"]);

    // bosun serve: an automated Application, refresh interval an hour (only the webhook acts).
    let cluster = start_server(dir.path());
    let kubeconfig = cluster.kubeconfig.clone();
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    std::fs::write(
        dir.path().join("apps/bench.yaml"),
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: bench}}\nspec:\n  source: {{repoURL: \"file://{}\", targetRevision: main, path: app}}\n  destination: {{server: \"https://kubernetes.default.svc\", namespace: bench}}\n  syncPolicy:\n    automated: {{prune: true}}\n    syncOptions: [CreateNamespace=true]\n",
            repo.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bosun.yaml"),
        "applications:\n- path: apps\nserver:\n  refreshInterval: 1h\n  refreshJitter: 0s\n  tokens:\n  - {name: bench, role: admin, tokenEnv: BENCH_TOKEN}\n  webhook: {githubSecretEnv: BENCH_SECRET}\n",
    )
    .unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.path().join("bosun.yaml"))
        .env("KUBECONFIG", &kubeconfig)
        .env("BOSUN_CACHE", dir.path().join("cache"))
        .env("BENCH_TOKEN", TOKEN)
        .env("BENCH_SECRET", SECRET)
        .env("BOSUN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bosun serve");
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _serve = Process(serve);
    let api_url = line
        .trim()
        .strip_prefix("bosun serve: listening on ")
        .expect("serve address")
        .to_string();
    let kube = kube_client(&kubeconfig).await;
    let cms: Api<ConfigMap> = Api::namespaced(kube, "bench");
    wait_value(&cms, "v0", Duration::from_secs(120)).await;
    let http = reqwest::Client::new();
    let payload = serde_json::json!({
        "ref": "refs/heads/main",
        "repository": {"clone_url": format!("file://{}", repo.display()), "default_branch": "main"},
    })
    .to_string();
    let signature = bosun_server::webhook::sign(SECRET.as_bytes(), payload.as_bytes());
    // Let the first sync's own refreshes settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut bosun_latency = Vec::new();
    for run in 1..=runs {
        let value = format!("b{run}");
        write_objects(&manifests, n, &value);
        git(&repo, &["commit", "-q", "-am", &value]);
        let sent = Instant::now();
        let answer = http
            .post(format!("{api_url}/api/webhook"))
            .header("X-GitHub-Event", "push")
            .header("X-Hub-Signature-256", &signature)
            .body(payload.clone())
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        let seen = wait_value(&cms, &value, Duration::from_secs(120)).await;
        bosun_latency.push((seen - sent).as_secs_f64());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(_serve);
    drop(cluster);

    // The push pipeline: after each commit, `kubectl apply --server-side` of the directory.
    let k_dir = tempfile::tempdir().unwrap();
    let cluster = start_server(k_dir.path());
    let kubeconfig = cluster.kubeconfig.clone();
    let ns = k_dir.path().join("ns.yaml");
    std::fs::write(
        &ns,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n",
    )
    .unwrap();
    let apply = |file: &Path| {
        let out = Command::new(&kubectl)
            .args(["apply", "--server-side", "-f"])
            .arg(file)
            .env("KUBECONFIG", &kubeconfig)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    apply(&ns);
    apply(&manifests.join("objects.yaml"));
    let mut kubectl_latency = Vec::new();
    for run in 1..=runs {
        let value = format!("k{run}");
        write_objects(&manifests, n, &value);
        git(&repo, &["commit", "-q", "-am", &value]);
        let started = Instant::now();
        apply(&manifests.join("objects.yaml"));
        kubectl_latency.push(started.elapsed().as_secs_f64());
    }

    let (b, k) = (
        median(bosun_latency.clone()),
        median(kubectl_latency.clone()),
    );
    let range = |v: &[f64]| {
        let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = v.iter().cloned().fold(0.0, f64::max);
        format!("{min:.2}–{max:.2} s")
    };
    println!(
        "## Commit to cluster: `bosun serve` + webhook vs a CI job running kubectl (`cargo bench -p bosun --bench serve_latency`)\n"
    );
    println!(
        "One Application of {n} ConfigMaps in a local Git repository; each run commits a change to one of them. Server: `bosun cluster up`, release build, fresh per side. {runs} runs per side.\n"
    );
    println!("| path | median | range | kubectl / bosun |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| `bosun serve`: signed GitHub push webhook → change readable from the API server | {b:.2} s | {} | {:.1}× |",
        range(&bosun_latency),
        k / b
    );
    println!(
        "| CI job: `kubectl apply --server-side -f` of the directory → returned | {k:.2} s | {} | |",
        range(&kubectl_latency)
    );
    println!(
        "\nbosun's latency includes verifying the signature, resolving the branch with ls-remote and fetching the commit, rendering, the server-side dry-run plan of every object, a server-side apply of every object (the unchanged ones are no-op writes), and the health check afterwards. kubectl's does not include the CI runner's checkout or start-up."
    );
}
