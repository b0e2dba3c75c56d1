//! `bosun serve` at scale: N Applications, cold start to all Synced+Healthy, then what it costs
//! to keep them when nothing changes. Two `bosun` binaries can run side by side
//! (`BENCH_BOSUN_OLD`, `BENCH_BOSUN_NEW`; default: this build only) against the same server:
//! every run gets a fresh local cluster started with the new binary's `bosun cluster up`.
//!
//! For each N in `BENCH_APPS` (default `100,1000`) and each binary: one Git repository
//! (file:// URL) with N directories of 5 objects (Deployment of 1 replica, Service, ConfigMap,
//! Secret, ServiceAccount) — or of one ConfigMap each when N > `BENCH_TRIVIAL_ABOVE` (default
//! 1000) — and N Application files in one shared, pre-created namespace, automated sync with
//! prune. `bosun serve` is started cold; `GET /api/v1/applications` is polled (every 500 ms, every
//! 2 s above 1,000 Applications, so that listing does not dominate serve's CPU) until every item
//! is Synced and Healthy, bounded by `BENCH_TIMEOUT` seconds (default 600; a timeout is a figure).
//! Recorded: wall time, peak RSS (VmHWM) and CPU seconds of serve, and every Kubernetes request by
//! verb. Requests are counted by a small HTTP/1.1 proxy in this process between serve and the
//! cluster (the cluster's own `/admin/requests` keeps only the last 1,000), so both sides pay the
//! same extra hop. Then, with nothing changed, requests over one refresh interval plus jitter
//! (`BENCH_REFRESH`, default 60 s; jitter 2 s) and per reconcile (from serve's `/metrics`).
//!
//! Prints a Markdown table; per-run details, serve's log and `/metrics` go to `BENCH_OUT`
//! (default `$TMPDIR/bosun-serve-scale`).
//!
//! Run: `BENCH_BOSUN_OLD=… BENCH_APPS=100,1000 cargo bench -p bosun --bench serve_scale`.

mod common;

use common::{Process, clk_tck, git, kube_client, start_cluster, usage};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "bench-admin-token-0123456789";
const NAMESPACE: &str = "bench";

// ---------------------------------------------------------------------------------------------
// Counting proxy: parses the client → server direction of each HTTP/1.1 connection (request
// head, then a Content-Length or chunked body), copies the other direction untouched.

/// Requests by verb, and, while `log` is on, the first requests themselves (verb and URI), to
/// say which objects an idle refresh still asks about.
#[derive(Default)]
struct Counts {
    by_verb: Mutex<BTreeMap<String, u64>>,
    log: Mutex<Option<Vec<String>>>,
}

impl Counts {
    fn add(&self, verb: String, target: &str) {
        if let Some(log) = self.log.lock().unwrap().as_mut()
            && log.len() < 20
        {
            log.push(format!("{verb} {target}"));
        }
        *self.by_verb.lock().unwrap().entry(verb).or_default() += 1;
    }
    fn snapshot(&self) -> BTreeMap<String, u64> {
        self.by_verb.lock().unwrap().clone()
    }
    fn start_log(&self) {
        *self.log.lock().unwrap() = Some(Vec::new());
    }
    fn take_log(&self) -> Vec<String> {
        self.log.lock().unwrap().take().unwrap_or_default()
    }
}

fn diff(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// The Kubernetes verb of a request: discovery, list, watch, get, create, update, apply, patch,
/// delete, with "(dry run)" for `dryRun=All`.
fn verb(method: &str, target: &str, content_type: &str) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: Vec<&str> = query.split('&').collect();
    let dry = params.iter().any(|p| p.starts_with("dryRun="));
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segments.first() {
        Some(&"api") if segments.len() >= 2 => &segments[2..],
        Some(&"apis") if segments.len() >= 3 => &segments[3..],
        _ => &[],
    };
    if rest.is_empty() {
        return "discovery".into();
    }
    let resource = if rest[0] == "namespaces" && rest.len() >= 3 {
        &rest[2..]
    } else {
        rest
    };
    let named = resource.len() >= 2;
    let base = match method {
        "GET" if params.iter().any(|p| *p == "watch=true" || *p == "watch=1") => "watch",
        "GET" if named => "get",
        "GET" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" if content_type.contains("apply-patch") => "apply",
        "PATCH" => "patch",
        "DELETE" if named => "delete",
        "DELETE" => "deletecollection",
        other => return other.to_lowercase(),
    };
    if dry {
        format!("{base} (dry run)")
    } else {
        base.to_string()
    }
}

async fn proxy(listener: TcpListener, upstream: SocketAddr, counts: Arc<Counts>) {
    while let Ok((client, _)) = listener.accept().await {
        let counts = counts.clone();
        tokio::spawn(async move {
            let _ = connection(client, upstream, counts).await;
        });
    }
}

async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    counts: Arc<Counts>,
) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let server = TcpStream::connect(upstream).await?;
    server.set_nodelay(true)?;
    let (client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut reader = BufReader::new(client_read);
    loop {
        let mut head = Vec::new();
        loop {
            if reader.read_until(b'\n', &mut head).await? == 0 {
                let _ = server_write.shutdown().await;
                return Ok(());
            }
            if head.ends_with(b"\r\n\r\n") || head == b"\r\n" {
                break;
            }
        }
        if head == b"\r\n" {
            continue;
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let mut request = lines.next().unwrap_or_default().split(' ');
        let (method, target) = (
            request.next().unwrap_or_default(),
            request.next().unwrap_or_default(),
        );
        let (mut length, mut chunked, mut content_type) = (0u64, false, String::new());
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                "content-type" => content_type = value.to_ascii_lowercase(),
                _ => {}
            }
        }
        counts.add(verb(method, target, &content_type), target);
        server_write.write_all(&head).await?;
        if chunked {
            loop {
                let mut size_line = Vec::new();
                reader.read_until(b'\n', &mut size_line).await?;
                server_write.write_all(&size_line).await?;
                let size = u64::from_str_radix(
                    String::from_utf8_lossy(&size_line)
                        .trim()
                        .split(';')
                        .next()
                        .unwrap_or("0"),
                    16,
                )
                .unwrap_or(0);
                if size == 0 {
                    // Trailers, then the empty line.
                    loop {
                        let mut line = Vec::new();
                        reader.read_until(b'\n', &mut line).await?;
                        server_write.write_all(&line).await?;
                        if line == b"\r\n" || line.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let mut body = (&mut reader).take(size + 2);
                tokio::io::copy(&mut body, &mut server_write).await?;
            }
        } else if length > 0 {
            let mut body = (&mut reader).take(length);
            tokio::io::copy(&mut body, &mut server_write).await?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The workload.

fn objects(i: usize, trivial: bool) -> String {
    let cm = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-{i}, namespace: {NAMESPACE}}}\ndata: {{index: \"{i}\"}}\n"
    );
    if trivial {
        return cm;
    }
    format!(
        "{cm}---
apiVersion: v1
kind: Secret
metadata: {{name: app-{i}, namespace: {NAMESPACE}}}
type: Opaque
stringData: {{password: \"secret-{i}\"}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: app-{i}, namespace: {NAMESPACE}}}
---
apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: {NAMESPACE}}}
spec:
  selector: {{app: app-{i}}}
  ports:
  - {{port: 80, targetPort: 8080}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: {NAMESPACE}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      serviceAccountName: app-{i}
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef: {{name: app-{i}}}
"
    )
}

/// The Git repository (one directory per Application) and the config directory (`bosun.yaml`,
/// `apps/` with one Application file each).
fn write_workload(dir: &Path, n: usize, trivial: bool, refresh: &str) -> PathBuf {
    let repo = dir.join("repo");
    for i in 0..n {
        let app = repo.join(format!("app-{i}"));
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("objects.yaml"), objects(i, trivial)).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "workload"]);
    let apps = dir.join("apps");
    std::fs::create_dir_all(&apps).unwrap();
    for i in 0..n {
        std::fs::write(
            apps.join(format!("app-{i}.yaml")),
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app-{i}\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: app-{i}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {NAMESPACE}\n  syncPolicy:\n    automated:\n      prune: true\n",
                repo.display()
            ),
        )
        .unwrap();
    }
    let config = dir.join("bosun.yaml");
    std::fs::write(
        &config,
        format!(
            "applications:\n- path: apps\nserver:\n  refreshInterval: {refresh}\n  refreshJitter: 2s\n  tokens:\n  - {{name: bench, role: admin, tokenEnv: BENCH_TOKEN}}\n"
        ),
    )
    .unwrap();
    config
}

/// Sum of the samples of a metric family whose line starts with `prefix` (labels ignored).
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

struct Run {
    label: String,
    n: usize,
    /// Seconds from spawning serve to every Application Synced and Healthy; None on timeout.
    converged: Option<f64>,
    /// (Synced, Healthy, listed) at the end of the wait.
    last: (usize, usize, usize),
    rss_mib: f64,
    cpu_s: f64,
    cold: BTreeMap<String, u64>,
    idle: BTreeMap<String, u64>,
    idle_window: f64,
    idle_reconciles: f64,
    /// The first requests of the idle window.
    idle_requests: Vec<String>,
    idle_cpu_s: f64,
    rss_after_idle: f64,
    metrics: String,
    errors: Vec<String>,
}

fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

fn verbs(counts: &BTreeMap<String, u64>) -> String {
    let mut out = String::new();
    for (k, v) in counts {
        let _ = write!(out, "{}{k} {v}", if out.is_empty() { "" } else { ", " });
    }
    if out.is_empty() { "—".into() } else { out }
}

struct Settings {
    cluster_bin: PathBuf,
    out: PathBuf,
    timeout: Duration,
    refresh: Duration,
    trivial_above: usize,
    clk_tck: f64,
}

async fn run(settings: &Settings, label: &str, bosun: &Path, n: usize) -> Run {
    let trivial = n > settings.trivial_above;
    let dir = tempfile::tempdir().unwrap();
    let config = write_workload(
        dir.path(),
        n,
        trivial,
        &format!("{}s", settings.refresh.as_secs()),
    );
    let cluster = start_cluster(&settings.cluster_bin, dir.path());
    let (port, kubeconfig) = (cluster.port(), cluster.kubeconfig.clone());

    // The namespace every Application shares, created directly (not through the proxy).
    let kube = kube_client(&kubeconfig).await;
    let namespaces: Api<Namespace> = Api::all(kube);
    namespaces
        .create(
            &Default::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}})).unwrap(),
        )
        .await
        .unwrap();

    // serve talks to the cluster through the counting proxy.
    let counts = Arc::new(Counts::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let proxy_task = tokio::spawn(proxy(
        listener,
        SocketAddr::from(([127, 0, 0, 1], port)),
        counts.clone(),
    ));
    let proxied = dir.path().join("kubeconfig-proxied");
    std::fs::write(
        &proxied,
        std::fs::read_to_string(&kubeconfig).unwrap().replace(
            &format!("127.0.0.1:{port}"),
            &format!("127.0.0.1:{proxy_port}"),
        ),
    )
    .unwrap();

    let log_path = settings.out.join(format!("serve-{label}-{n}.log"));
    let started = Instant::now();
    let mut child = Command::new(bosun)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("KUBECONFIG", &proxied)
        .env("BOSUN_CACHE", dir.path().join("cache"))
        .env("BENCH_TOKEN", TOKEN)
        .env("BOSUN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("bosun serve");
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let serve = Process(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        line
    })
    .await
    .unwrap();
    let api = line
        .trim()
        .strip_prefix("bosun serve: listening on ")
        .unwrap_or_else(|| panic!("serve did not start: {line:?}, see {}", log_path.display()))
        .to_string();

    let http = reqwest::Client::new();
    let poll = Duration::from_millis(if n > 1000 { 2000 } else { 500 });
    let deadline = started + settings.timeout;
    let mut last = (0, 0, 0);
    let converged = loop {
        if let Ok(answer) = http
            .get(format!("{api}/api/v1/applications"))
            .bearer_auth(TOKEN)
            .send()
            .await
            && let Ok(text) = answer.text().await
            && let Ok(list) = serde_json::from_str::<Value>(&text)
        {
            let items = list["items"].as_array().cloned().unwrap_or_default();
            let synced = items
                .iter()
                .filter(|a| a["status"]["sync"]["status"] == "Synced")
                .count();
            let healthy = items
                .iter()
                .filter(|a| a["status"]["health"]["status"] == "Healthy")
                .count();
            let both = items
                .iter()
                .filter(|a| {
                    a["status"]["sync"]["status"] == "Synced"
                        && a["status"]["health"]["status"] == "Healthy"
                })
                .count();
            last = (synced, healthy, items.len());
            if items.len() == n && both == n {
                break Some(started.elapsed().as_secs_f64());
            }
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(poll).await;
    };
    let (rss_mib, cpu_s) = usage(pid, settings.clk_tck);
    let cold = counts.snapshot();
    // On a timeout, name a few Applications that did not get there, with their status.
    let mut errors = Vec::new();
    if converged.is_none()
        && let Ok(answer) = http
            .get(format!("{api}/api/v1/applications"))
            .bearer_auth(TOKEN)
            .send()
            .await
        && let Ok(text) = answer.text().await
        && let Ok(list) = serde_json::from_str::<Value>(&text)
    {
        for app in list["items"].as_array().into_iter().flatten().filter(|a| {
            a["status"]["sync"]["status"] != "Synced"
                || a["status"]["health"]["status"] != "Healthy"
        }) {
            if errors.len() >= 5 {
                break;
            }
            errors.push(format!(
                "{}: sync {}, health {} ({}), conditions {}",
                app["metadata"]["name"],
                app["status"]["sync"]["status"],
                app["status"]["health"]["status"],
                app["status"]["health"]["message"],
                app["status"]["conditions"]
            ));
        }
    }

    // Nothing changes now: one refresh interval plus jitter and a margin.
    let metrics = |http: reqwest::Client| {
        let url = format!("{api}/metrics");
        async move {
            match http.get(url).send().await {
                Ok(answer) => answer.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        }
    };
    let before = metrics(http.clone()).await;
    let idle_start = counts.snapshot();
    counts.start_log();
    let window = settings.refresh + Duration::from_secs(2 + 3);
    tokio::time::sleep(window).await;
    let idle = diff(&counts.snapshot(), &idle_start);
    let idle_requests = counts.take_log();
    let after = metrics(http.clone()).await;
    let (rss_after_idle, cpu_after_idle) = usage(pid, settings.clk_tck);
    let reconciles = |text: &str| metric(text, "bosun_app_reconcile_seconds_count");
    let idle_reconciles = reconciles(&after) - reconciles(&before);
    std::fs::write(
        settings.out.join(format!("metrics-{label}-{n}.txt")),
        &after,
    )
    .unwrap();
    drop(serve);
    proxy_task.abort();
    Run {
        label: label.to_string(),
        n,
        converged,
        last,
        rss_mib,
        cpu_s,
        cold,
        idle,
        idle_window: window.as_secs_f64(),
        idle_reconciles,
        idle_requests,
        idle_cpu_s: cpu_after_idle - cpu_s,
        rss_after_idle,
        metrics: after,
        errors,
    }
}

fn describe(r: &Run) -> String {
    let m = &r.metrics;
    let avg = |name: &str| {
        let (sum, count) = (
            metric(m, &format!("{name}_sum")),
            metric(m, &format!("{name}_count")),
        );
        if count > 0.0 {
            format!("{count:.0} × {:.1} ms = {sum:.1} s", 1000.0 * sum / count)
        } else {
            "—".into()
        }
    };
    format!(
        "### {} × N={}\n\n- converged: {}; last poll: {} Synced, {} Healthy of {} listed\n- peak RSS {:.1} MiB, CPU {:.1} s (after the idle window: {:.1} MiB, +{:.1} s CPU)\n- cold-start requests ({}): {}\n- idle {:.0} s: {} requests ({}), {:.0} reconciles\n- reconcile: {}\n- git fetch: {}\n- render: {}\n- kubernetes answers by code (serve's own count): {}\n{}{}",
        r.label,
        r.n,
        r.converged
            .map(|s| format!("{s:.1} s"))
            .unwrap_or_else(|| "timeout".into()),
        r.last.0,
        r.last.1,
        r.last.2,
        r.rss_mib,
        r.cpu_s,
        r.rss_after_idle,
        r.idle_cpu_s,
        total(&r.cold),
        verbs(&r.cold),
        r.idle_window,
        total(&r.idle),
        verbs(&r.idle),
        r.idle_reconciles,
        avg("bosun_app_reconcile_seconds"),
        avg("bosun_git_fetch_seconds"),
        avg("bosun_render_seconds"),
        metric(m, "bosun_kubernetes_requests_total"),
        r.idle_requests
            .iter()
            .map(|e| format!("- idle request: {e}\n"))
            .collect::<String>(),
        r.errors
            .iter()
            .map(|e| format!("- not converged: {e}\n"))
            .collect::<String>(),
    )
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let new = var("BENCH_BOSUN_NEW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_bosun")));
    let mut binaries = Vec::new();
    if let Some(old) = var("BENCH_BOSUN_OLD") {
        binaries.push(("old".to_string(), PathBuf::from(old)));
    }
    binaries.push(("new".to_string(), new.clone()));
    let apps: Vec<usize> = var("BENCH_APPS")
        .unwrap_or_else(|| "100,1000".into())
        .split(',')
        .map(|v| {
            v.trim()
                .replace('_', "")
                .parse()
                .expect("BENCH_APPS: numbers")
        })
        .collect();
    let out = var("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("bosun-serve-scale"));
    std::fs::create_dir_all(&out).unwrap();
    let settings = Settings {
        cluster_bin: new,
        out: out.clone(),
        timeout: Duration::from_secs(
            var("BENCH_TIMEOUT")
                .and_then(|v| v.parse().ok())
                .unwrap_or(600),
        ),
        refresh: Duration::from_secs(
            var("BENCH_REFRESH")
                .and_then(|v| v.parse().ok())
                .unwrap_or(60),
        ),
        trivial_above: var("BENCH_TRIVIAL_ABOVE")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
        clk_tck: clk_tck(),
    };

    let mut runs = Vec::new();
    for &n in &apps {
        for (label, bosun) in &binaries {
            eprintln!("serve_scale: {label} × {n} …");
            let r = run(&settings, label, bosun, n).await;
            let text = describe(&r);
            eprintln!("{text}");
            let mut details = std::fs::read_to_string(out.join("details.md")).unwrap_or_default();
            details.push_str(&text);
            details.push('\n');
            std::fs::write(out.join("details.md"), details).unwrap();
            runs.push(r);
        }
    }

    println!("## `bosun serve` at scale (`cargo bench -p bosun --bench serve_scale`)\n");
    println!(
        "| N × objects | bosun | cold start → all Synced+Healthy | peak RSS | CPU | Kubernetes requests (per App) | by verb | idle: requests per refresh per App | idle CPU |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in &runs {
        let objects = if r.n > settings.trivial_above { 1 } else { 5 };
        let idle_per_app = total(&r.idle) as f64 / r.n as f64;
        println!(
            "| {} × {objects} | {} | {} | {:.0} MiB | {:.1} s | {} ({:.1}) | {} | {:.2} ({} in {:.0} s, {:.0} reconciles) | {:.1} s |",
            r.n,
            r.label,
            r.converged
                .map(|s| format!("{s:.1} s"))
                .unwrap_or_else(|| format!(
                    "timeout ({}/{} Synced, {} Healthy)",
                    r.last.0, r.n, r.last.1
                )),
            r.rss_mib,
            r.cpu_s,
            total(&r.cold),
            total(&r.cold) as f64 / r.n as f64,
            verbs(&r.cold),
            idle_per_app,
            total(&r.idle),
            r.idle_window,
            r.idle_reconciles,
            r.idle_cpu_s,
        );
    }
    // Ratios old / new and growth with N.
    let find = |label: &str, n: usize| runs.iter().find(|r| r.label == label && r.n == n);
    println!();
    for &n in &apps {
        if let (Some(old), Some(new)) = (find("old", n), find("new", n)) {
            let time = match (old.converged, new.converged) {
                (Some(o), Some(n)) => format!("{:.1}×", o / n),
                _ => "n/a (timeout)".into(),
            };
            println!(
                "- N={n}: old / new — time {time}, RSS {:.1}×, CPU {:.1}×, requests {:.1}×",
                old.rss_mib / new.rss_mib,
                old.cpu_s / new.cpu_s,
                total(&old.cold) as f64 / total(&new.cold).max(1) as f64,
            );
        }
    }
    for (label, _) in &binaries {
        let mine: Vec<&Run> = runs.iter().filter(|r| &r.label == label).collect();
        for pair in mine.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let time = match (a.converged, b.converged) {
                (Some(x), Some(y)) => format!("{:.1}×", y / x),
                _ => "n/a (timeout)".into(),
            };
            println!(
                "- {label}: N {} → {} ({:.0}×): time {time}, RSS {:.1}×, CPU {:.1}×, requests {:.1}×",
                a.n,
                b.n,
                b.n as f64 / a.n as f64,
                b.rss_mib / a.rss_mib,
                b.cpu_s / a.cpu_s,
                total(&b.cold) as f64 / total(&a.cold).max(1) as f64,
            );
        }
    }
    eprintln!("serve_scale: details in {}", out.display());
}
