//! `bosun up`: the playground. A local cluster, a local Git repository with an example service
//! (source, Dockerfile, Helm chart with dev and prod values, dev and prod Applications — the
//! pattern of the seeds; dev runs the service as a canary Rollout judged by its success rate,
//! prod as a Deployment), a Prometheus scraping the cluster's simulated traffic (when installed),
//! a container registry whose new tags bosun writes to dev's values (when installed), and
//! `bosun serve` on it, all in one process; `DIR/env` tells a shell how to reach them.
//!
//! Everything lives under `--dir` (default `.bosun/`): `repo/` (the example repository; commit
//! to it and watch the change arrive), `kubeconfig`, `bosun.yaml`, `data/` (history), `env`.
//! Running it again reuses the repository and the history.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Where the playground keeps its files.
    #[arg(long, default_value = ".bosun")]
    pub dir: PathBuf,
    /// Address of bosun's API (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Port of the local cluster's API server (0 picks a free one).
    #[arg(long, default_value_t = 6443)]
    pub cluster_port: u16,
    /// Port of the playground's Prometheus (0 picks a free one), when `prometheus` is installed.
    #[arg(long, default_value_t = 9090)]
    pub prometheus_port: u16,
    /// Port of the playground's container registry (0 picks a free one), when
    /// `docker-registry` is installed. The example repository records it when first created.
    #[arg(long, default_value_t = 5000)]
    pub registry_port: u16,
}

/// The example repository, compiled in so the binary alone is enough.
const FILES: &[(&str, &str)] = &[
    (
        "app/Cargo.toml",
        include_str!("../playground/app/Cargo.toml"),
    ),
    (
        "app/src/main.rs",
        include_str!("../playground/app/src/main.rs"),
    ),
    (
        "app/Dockerfile",
        include_str!("../playground/app/Dockerfile"),
    ),
    (
        "charts/hello/Chart.yaml",
        include_str!("../playground/charts/hello/Chart.yaml"),
    ),
    (
        "charts/hello/values.yaml",
        include_str!("../playground/charts/hello/values.yaml"),
    ),
    (
        "charts/hello/values-dev.yaml",
        include_str!("../playground/charts/hello/values-dev.yaml"),
    ),
    (
        "charts/hello/values-prod.yaml",
        include_str!("../playground/charts/hello/values-prod.yaml"),
    ),
    (
        "charts/hello/templates/deployment.yaml",
        include_str!("../playground/charts/hello/templates/deployment.yaml"),
    ),
    (
        "charts/hello/templates/_pod.tpl",
        include_str!("../playground/charts/hello/templates/_pod.tpl"),
    ),
    (
        "charts/hello/templates/rollout.yaml",
        include_str!("../playground/charts/hello/templates/rollout.yaml"),
    ),
    (
        "charts/hello/templates/service.yaml",
        include_str!("../playground/charts/hello/templates/service.yaml"),
    ),
    (
        "charts/hello/templates/analysistemplate.yaml",
        include_str!("../playground/charts/hello/templates/analysistemplate.yaml"),
    ),
    (
        "charts/hello/templates/configmap.yaml",
        include_str!("../playground/charts/hello/templates/configmap.yaml"),
    ),
    (
        "apps/hello-dev.yaml",
        include_str!("../playground/apps/hello-dev.yaml"),
    ),
    (
        "apps/hello-prod.yaml",
        include_str!("../playground/apps/hello-prod.yaml"),
    ),
];

fn git(repo: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_NAME", "bosun playground")
        .env("GIT_AUTHOR_EMAIL", "playground@bosun.invalid")
        .env("GIT_COMMITTER_NAME", "bosun playground")
        .env("GIT_COMMITTER_EMAIL", "playground@bosun.invalid")
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        anyhow::bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Creates the example repository unless it exists; `registry` is the playground registry's
/// address, which dev's image settings name.
fn example_repository(repo: &Path, registry: &str) -> anyhow::Result<bool> {
    if repo.join(".git").exists() {
        return Ok(false);
    }
    let url = format!("file://{}", repo.display());
    for (path, text) in FILES {
        let file = repo.join(path);
        std::fs::create_dir_all(file.parent().expect("files are in directories"))?;
        std::fs::write(
            &file,
            text.replace("{{REPO_URL}}", &url)
                .replace("{{REGISTRY}}", registry),
        )
        .with_context(|| format!("writing {}", file.display()))?;
    }
    git(repo, &["init", "-q", "-b", "main"])?;
    // The hints commit to this repository: on a machine without a Git identity that would fail,
    // so the repository gets one of its own (a user's own identity, when set, is left to win).
    let has_identity = Command::new("git")
        .args(["config", "--get", "user.email"])
        .current_dir(repo)
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !has_identity {
        git(repo, &["config", "user.name", "bosun playground"])?;
        git(repo, &["config", "user.email", "playground@bosun.invalid"])?;
    }
    git(repo, &["add", "-A"])?;
    git(
        repo,
        &[
            "commit",
            "-q",
            "-m",
            "feat: hello service with dev and prod environments",
        ],
    )?;
    Ok(true)
}

/// A random token: 32 hex digits from the OS's randomness.
fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `text` to `path`, readable by its owner only from the moment it exists.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Reads `path`, or writes a new random token there (owner-only).
fn secret_file(path: &Path) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text.trim().to_string());
    }
    let token = random_token()?;
    write_private(path, &format!("{token}\n"))?;
    Ok(token)
}

/// The playground's Prometheus: Debian's `prometheus` scraping the local cluster's simulated
/// traffic every 2 s (`docs/local-cluster.md`), its data under `DIR/prometheus`; stopped with
/// the playground.
struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Prometheus on `port`, or says why not (not installed: the hint names the script).
async fn start_prometheus(dir: &Path, cluster_url: &str, port: u16) -> Result<Prometheus, String> {
    let home = dir.join("prometheus");
    std::fs::create_dir_all(&home).map_err(|e| format!("creating {}: {e}", home.display()))?;
    let config = home.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "# Written by `bosun up`: the local cluster's simulated traffic (http_requests_total).\nglobal:\n  scrape_interval: 2s\n  evaluation_interval: 2s\nscrape_configs:\n  - job_name: bosun-cluster\n    static_configs:\n      - targets: ['{}']\n",
            cluster_url.trim_start_matches("http://")
        ),
    )
    .map_err(|e| format!("writing {}: {e}", config.display()))?;
    let log = std::fs::File::create(home.join("prometheus.log"))
        .map_err(|e| format!("creating the Prometheus log: {e}"))?;
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            home.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=1d")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "prometheus is not installed (scripts/install-tools installs it)".to_string()
            }
            _ => format!("starting prometheus: {e}"),
        })?;
    let prometheus = Prometheus(child);
    let ready = format!("http://127.0.0.1:{port}/-/ready");
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if http
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(prometheus);
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "prometheus did not answer on 127.0.0.1:{port} within 30 s; see {}",
                home.join("prometheus.log").display()
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The playground's registry: Debian's `docker-registry` on loopback, its data under
/// `DIR/registry`; stopped with the playground.
struct Registry(std::process::Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The example's images, as an OCI layout under `DIR/images/hello` (0.3.0 is the bad build the
/// chart's values make fail 30 % of its requests).
const IMAGES: &[(&str, &str)] = &[
    ("0.1.0", "2026-01-01T00:00:00Z"),
    ("0.2.0", "2026-02-01T00:00:00Z"),
    ("0.3.0", "2026-03-01T00:00:00Z"),
];

/// Starts the registry on `address` and pushes the example's first image, or says why not.
async fn start_registry(dir: &Path, address: &str) -> Result<Registry, String> {
    let home = dir.join("registry");
    std::fs::create_dir_all(&home).map_err(|e| format!("creating {}: {e}", home.display()))?;
    let config = home.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
            home.join("data").display()
        ),
    )
    .map_err(|e| format!("writing {}: {e}", config.display()))?;
    let log = std::fs::File::create(home.join("registry.log"))
        .map_err(|e| format!("creating the registry log: {e}"))?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "docker-registry is not installed (scripts/install-tools installs it)".to_string()
            }
            _ => format!("starting docker-registry: {e}"),
        })?;
    let registry = Registry(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::net::TcpStream::connect(address).await.is_err() {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "docker-registry did not answer on {address} within 30 s; see {}",
                home.join("registry.log").display()
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let layout = dir.join("images/hello");
    bosun_images::layout::write(&layout, IMAGES)
        .map_err(|e| format!("{}: {e}", layout.display()))?;
    // Awaited, not blocking: the runtime's other tasks go on meanwhile.
    let out = tokio::process::Command::new("skopeo")
        .args([
            "copy",
            "--insecure-policy",
            "--quiet",
            "--dest-tls-verify=false",
        ])
        .arg(format!("oci:{}:0.1.0", layout.display()))
        .arg(format!("docker://{address}/hello:0.1.0"))
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "skopeo is not installed (scripts/install-tools installs it)".to_string()
            }
            _ => format!("running skopeo: {e}"),
        })?;
    if !out.status.success() {
        return Err(format!(
            "pushing hello:0.1.0: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(registry)
}

pub fn up(args: UpArgs) -> anyhow::Result<()> {
    crate::serve::init_logging();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let prometheus_port = match args.prometheus_port {
        0 => std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port(),
        port => port,
    };
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    // The example's AnalysisTemplate names no address: Argo's provider then reads this variable,
    // so the repository works whatever port the playground's Prometheus has.
    // SAFETY: no other thread runs yet (the runtime is built below).
    unsafe { std::env::set_var("ARGO_ROLLOUTS_PROMETHEUS_ADDRESS", &prometheus_url) };
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir)?;
    let repo = dir.join("repo");
    let registry_port = match args.registry_port {
        0 => std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port(),
        port => port,
    };
    let registry_address = format!("127.0.0.1:{registry_port}");
    let created = example_repository(&repo, &registry_address)?;
    // bosun's image updater pushes its write-backs to this repository: a push to its checked-out
    // branch updates the work tree (when it has no uncommitted changes).
    git(
        &repo,
        &["config", "receive.denyCurrentBranch", "updateInstead"],
    )?;
    let admin_token = secret_file(&dir.join("admin-token"))?;
    secret_file(&dir.join("readonly-token"))?;
    secret_file(&dir.join("webhook-secret"))?;
    let config = dir.join("bosun.yaml");
    std::fs::write(
        &config,
        format!(
            "# Written by `bosun up`; rewritten at every start.\nclusters:\n  # The Applications' in-cluster destination is the playground's local cluster.\n  - name: in-cluster\n    server: https://kubernetes.default.svc\n    kubeconfig: {dir}/kubeconfig\napplications:\n  - repoURL: file://{repo}\n    targetRevision: main\n    path: apps\nserver:\n  # A local repository sends no webhooks: look at Git often.\n  refreshInterval: 10s\n  refreshJitter: 2s\n  tokens:\n    - {{name: admin, role: admin, tokenFile: {dir}/admin-token}}\n    - {{name: viewer, role: read-only, tokenFile: {dir}/readonly-token}}\n  webhook:\n    githubSecretFile: {dir}/webhook-secret\nimages:\n  # The playground's registry is on this machine: look at its tags often.\n  interval: 10s\n  author: {{name: bosun image updater, email: images@bosun.invalid}}\n",
            repo = repo.display(),
            dir = dir.display()
        ),
    )?;
    let kubeconfig = dir.join("kubeconfig");
    crate::apps::runtime().block_on(async {
        let cluster = bosun_cluster::server::start(bosun_cluster::server::ClusterConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], args.cluster_port)),
            data_dir: Some(dir.join("cluster")),
            ..Default::default()
        })
        .await
        .context("starting the local cluster")?;
        bosun_cluster::kubeconfig::write(&kubeconfig, "bosun-local", &cluster.url(), "admin")?;
        let prometheus = start_prometheus(&dir, &cluster.url(), prometheus_port).await;
        let prometheus_line = match &prometheus {
            Ok(_) => format!("  prometheus  {prometheus_url}"),
            Err(e) => format!(
                "  prometheus  not running: {e} — dev's analysis steps will fail and abort its canaries"
            ),
        };
        let registry = start_registry(&dir, &registry_address).await;
        let registry_line = match &registry {
            Ok(_) => format!("  registry    {registry_address}"),
            Err(e) => format!(
                "  registry    not running: {e} — dev's image updates will fail (`bosun image get hello-dev`)"
            ),
        };
        let server =
            crate::serve::prepare(&config, args.listen, Some(&dir.join("data"))).await?;
        let api = format!("http://{}", server.address());
        // It carries the admin token, and puts this bosun and the kubectl/helm that
        // scripts/install-tools installed first on PATH (a fresh machine has neither there).
        let mut path = Vec::new();
        if let Some(bin) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
            path.push(bin);
        }
        if let Some(tools) = bosun_render::tools_dir() {
            path.push(tools.join("bin"));
        }
        let path: Vec<String> = path.iter().map(|p| p.display().to_string()).collect();
        write_private(
            &dir.join("env"),
            &format!(
                "BOSUN_SERVER={api}\nBOSUN_TOKEN={admin_token}\nKUBECONFIG={}\nPATH={}:$PATH\n",
                kubeconfig.display(),
                path.join(":")
            ),
        )?;
        // A closed stdout (the terminal went away, a pipe's reader left) must not stop the
        // playground: the hints are a courtesy, the servers are the job.
        let _ = writeln!(
            std::io::stdout(),
            "bosun playground is up{}.\n\n  cluster     {}\n  API         {api}\n{prometheus_line}\n{registry_line}\n  repository  {}\n  env         {}\n\nTry, in another shell:\n\n  set -a; . {}; set +a\n  bosun app list                      # hello-dev syncs by itself; hello-prod waits\n  kubectl get rollout,deploy,svc,pods -A   # what bosun applied and drives\n  bosun app sync hello-prod           # prod is synced by a person\n  bosun app history hello-dev\n\nDrift is healed: `kubectl -n dev delete service hello-dev`, then `kubectl -n dev get services`.\n\nCI pushes a new image: within 10 s bosun commits its tag to charts/hello/values-dev.yaml and\ndev's canary Rollout walks it (20 %, its success rate judged on Prometheus, 60 %, pause, all;\nCtrl-C ends the watch):\n\n  {push}:0.2.0 docker://{registry_address}/hello:0.2.0\n  bosun image get hello-dev           # the write-back commit\n  bosun rollout watch hello-dev\n\nImage 0.3.0 is a bad build (it fails 30 % of its requests): it is committed the same way, aborted\nat its analysis and the Application rolled back, by itself:\n\n  {push}:0.3.0 docker://{registry_address}/hello:0.3.0\n  bosun rollout watch hello-dev\n  bosun app history hello-dev         # the automatic rollback, held until the next commit\n\nWhile it is held, automation waits (`AutoSyncPaused` in `bosun app get hello-dev`): the next commit\nresumes it. Stop with Ctrl-C; `bosun up` again resumes where you left off.",
            if created { " (new example repository)" } else { "" },
            cluster.url(),
            repo.display(),
            dir.join("env").display(),
            dir.join("env").display(),
            push = format!(
                "skopeo copy --insecure-policy --dest-tls-verify=false oci:{}",
                dir.join("images/hello").display()
            ),
        );
        let result = server.run(crate::serve::ctrl_c()).await;
        drop(prometheus);
        drop(registry);
        cluster.shutdown().await;
        result
    })
}
