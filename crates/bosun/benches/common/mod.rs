//! What the benchmarks share: a local cluster per side (`bosun cluster up`, the release build, its
//! own process), the peer tools, Git repositories and medians.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `bosun cluster up`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub kubeconfig: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a local cluster on a free loopback port, its kubeconfig in `dir`.
pub fn start_server(dir: &Path) -> Server {
    start_cluster(Path::new(env!("CARGO_BIN_EXE_bosun")), dir)
}

/// A command for `program`, pinned with `taskset -c` to the CPUs the environment variable
/// `cpus_var` lists (e.g. `BENCH_CLUSTER_CPUS=0`), so that a benchmark can keep the local
/// cluster and `bosun serve` off each other's cores.
pub fn pinned(program: &Path, cpus_var: &str) -> Command {
    match std::env::var(cpus_var).ok().filter(|v| !v.is_empty()) {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpus]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Starts `bosun cluster up` of the binary `bosun` on a free loopback port, its kubeconfig in
/// `dir` (pinned to `BENCH_CLUSTER_CPUS` when set).
pub fn start_cluster(bosun: &Path, dir: &Path) -> Server {
    let port = free_port();
    let kubeconfig = dir.join("kubeconfig");
    let child = pinned(bosun, "BENCH_CLUSTER_CPUS")
        .args(["cluster", "up", "--port", &port.to_string(), "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bosun cluster up");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !kubeconfig.exists() {
        assert!(Instant::now() < deadline, "cluster did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        url,
        kubeconfig,
    }
}

impl Server {
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }
}

/// A child process, killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Peak RSS (MiB) and CPU seconds (user + system) of a process.
pub fn usage(pid: u32, clk_tck: f64) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| -> f64 { fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0.0) };
    (hwm_kib / 1024.0, (ticks(11) + ticks(12)) / clk_tck)
}

pub fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// `$BOSUN_TOOLS` or `~/.cache/bosun-tools` (kubectl and helm from scripts/install-test-deps).
pub fn tools() -> PathBuf {
    std::env::var("BOSUN_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/bosun-tools")
        })
}

pub fn git(repo: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_NAME", "b")
        .env("GIT_AUTHOR_EMAIL", "b@example.com")
        .env("GIT_COMMITTER_NAME", "b")
        .env("GIT_COMMITTER_EMAIL", "b@example.com")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `bosun serve` (the binary `bosun`) with one automated Application of `objects` (YAML) in
/// `namespace`, from a Git repository in `dir`: enough for serve to connect to the cluster of
/// `kubeconfig` and take its Rollouts and AnalysisRuns in hand (pinned to `BENCH_SERVE_CPUS`
/// when set). Its log goes to `log`; the process is stopped when the returned value is dropped.
pub fn serve_one_application(
    bosun: &Path,
    dir: &Path,
    kubeconfig: &Path,
    namespace: &str,
    objects: &str,
    log: &Path,
) -> Process {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("app")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("app/objects.yaml"), objects).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "app"]);
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::write(
        dir.join("apps/app.yaml"),
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: bench\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: app\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {namespace}\n  syncPolicy:\n    automated: {{}}\n    syncOptions: [CreateNamespace=true]\n",
            repo.display()
        ),
    )
    .unwrap();
    let config = dir.join("bosun.yaml");
    std::fs::write(&config, "applications:\n- path: apps\n").unwrap();
    let child = pinned(bosun, "BENCH_SERVE_CPUS")
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.join("data"))
        .env("KUBECONFIG", kubeconfig)
        .env("BOSUN_CACHE", dir.join("cache"))
        .env("BOSUN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("bosun serve");
    Process(child)
}

/// Waits until `api`'s kind is served (serve installs the Argo Rollouts CRDs once it connects),
/// then creates `namespace` (serve's Application may have made it first). `log` is serve's, for
/// the message when it never happens.
pub async fn wait_for_crds_and_namespace(
    api: &kube::Api<kube::api::DynamicObject>,
    client: &kube::Client,
    namespace: &str,
    log: &Path,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while api
        .list(&kube::api::ListParams::default().limit(1))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the Argo Rollouts CRDs were not installed; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let namespaces: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        client.clone(),
        &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
    );
    let _ = namespaces
        .create(
            &kube::api::PostParams::default(),
            &serde_json::from_value(serde_json::json!(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            ))
            .unwrap(),
        )
        .await;
}

/// A kube client for the cluster `kubeconfig` names.
pub async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}
