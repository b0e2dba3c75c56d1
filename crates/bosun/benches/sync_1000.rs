//! Sync and diff of an Application of 1,000 objects, side by side with kubectl on the same
//! manifests and the same server build: `bosun sync` versus `kubectl apply --server-side`, and
//! `bosun diff` (in sync) versus `kubectl diff --server-side`. Each side gets a fresh local
//! cluster (`bosun cluster up`, release build, its own process). Prints a Markdown section for
//! docs/benchmarks.md.
//!
//! Run: `cargo bench -p bosun --bench sync_1000` (`BENCH_OBJECTS`, `BENCH_RUNS` to change).

mod common;

use common::{git, median, start_server, tools};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn run(program: &Path, args: &[&str], kubeconfig: &Path, cache: &Path, ok_codes: &[i32]) -> f64 {
    let start = Instant::now();
    let out = Command::new(program)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("BOSUN_CACHE", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        ok_codes.contains(&code),
        "{} {args:?} exited {code}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let tools = tools();
    let kubectl = tools.join("bin/kubectl");
    assert!(kubectl.exists(), "run scripts/install-test-deps first");
    let bosun = PathBuf::from(env!("CARGO_BIN_EXE_bosun"));
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let manifests = repo.join("app");
    std::fs::create_dir_all(&manifests).unwrap();
    // A third each of ConfigMaps, Services and Deployments (no Pods are waited for: both sides
    // only write).
    let mut yaml = String::new();
    for i in 0..n {
        let doc = match i % 3 {
            0 => format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}, namespace: bench}}\ndata: {{index: \"{i}\", payload: {}}}\n",
                "x".repeat(200)
            ),
            1 => format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: bench}}\nspec:\n  selector: {{app: app-{i}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n"
            ),
            _ => format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{i}, namespace: bench}}\nspec:\n  replicas: 0\n  selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n    metadata: {{labels: {{app: app-{i}}}}}\n    spec:\n      containers: [{{name: app, image: \"registry.local/app:{i}\", ports: [{{containerPort: 8080}}]}}]\n"
            ),
        };
        yaml.push_str("---\n");
        yaml.push_str(&doc);
    }
    std::fs::write(manifests.join("objects.yaml"), &yaml).unwrap();
    std::fs::write(
        dir.path().join("ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n",
    )
    .unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "objects"]);
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: bench}}\nspec:\n  source: {{repoURL: \"file://{}\", targetRevision: main, path: app}}\n  destination: {{server: \"https://kubernetes.default.svc\", namespace: bench}}\n  syncPolicy: {{syncOptions: [CreateNamespace=true]}}\n",
            repo.display()
        ),
    )
    .unwrap();
    let objects = manifests.join("objects.yaml");
    let (app, objects) = (app.to_str().unwrap(), objects.to_str().unwrap());

    let (mut b_sync, mut b_resync, mut b_diff, mut k_apply, mut k_reapply, mut k_diff) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for run_no in 0..runs {
        let cache = dir.path().join(format!("cache-{run_no}"));
        let b_dir = tempfile::tempdir().unwrap();
        let server = start_server(b_dir.path());
        b_sync.push(run(
            &bosun,
            &["sync", app],
            &server.kubeconfig,
            &cache,
            &[0],
        ));
        b_resync.push(run(
            &bosun,
            &["sync", app],
            &server.kubeconfig,
            &cache,
            &[0],
        ));
        b_diff.push(run(
            &bosun,
            &["diff", app],
            &server.kubeconfig,
            &cache,
            &[0],
        ));
        drop(server);

        let k_dir = tempfile::tempdir().unwrap();
        let server = start_server(k_dir.path());
        run(
            &kubectl,
            &[
                "apply",
                "--server-side",
                "-f",
                dir.path().join("ns.yaml").to_str().unwrap(),
            ],
            &server.kubeconfig,
            &cache,
            &[0],
        );
        k_apply.push(run(
            &kubectl,
            &["apply", "--server-side", "-f", objects],
            &server.kubeconfig,
            &cache,
            &[0],
        ));
        k_reapply.push(run(
            &kubectl,
            &["apply", "--server-side", "-f", objects],
            &server.kubeconfig,
            &cache,
            &[0],
        ));
        k_diff.push(run(
            &kubectl,
            &["diff", "--server-side", "-f", objects],
            &server.kubeconfig,
            &cache,
            &[0],
        ));
    }
    let (bs, brs, bd, ka, kra, kd) = (
        median(b_sync),
        median(b_resync),
        median(b_diff),
        median(k_apply),
        median(k_reapply),
        median(k_diff),
    );
    println!(
        "## bosun sync / diff: one Application of {n} objects (`cargo bench -p bosun --bench sync_1000`)\n"
    );
    println!(
        "Manifests: a plain directory in a local Git repository, a third each of ConfigMaps, Services and Deployments (0 replicas). Server: `bosun cluster up`, release build, fresh per side. Medians of {runs} runs, whole processes.\n"
    );
    println!("| step | bosun | kubectl | kubectl / bosun |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| first sync (`bosun sync` vs `kubectl apply --server-side`) | {bs:.2} s | {ka:.2} s | {:.1}× |",
        ka / bs
    );
    println!(
        "| sync again, nothing changed | {brs:.2} s | {kra:.2} s | {:.1}× |",
        kra / brs
    );
    println!(
        "| diff when in sync (`bosun diff` vs `kubectl diff --server-side`) | {bd:.2} s | {kd:.2} s | {:.1}× |",
        kd / bd
    );
    println!(
        "\nbosun's times include resolving the Git revision and rendering (each `bosun` run is a new process, so it renders again), discovery, the dry-run plan before every sync, tracking-label listing for prune, and the health check of the result."
    );
}
