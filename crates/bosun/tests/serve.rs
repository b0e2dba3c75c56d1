//! `bosun serve` end to end: the real `bosun` binary as a server process, Git repositories made
//! by the tests, bosun's local cluster on a free loopback port, and the `bosun app` client.
//! Convergence is awaited with generous bounds; nothing asserts on how fast it happens (the
//! latency is measured by the benchmark, not here).

mod common;

use common::{WIDGET_CRD, WIDGET_HEALTH, git, tools, write};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bosun_cluster::server::{self, ClusterConfig, RunningCluster};
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-0123456789abcdef";
const DEPLOYER: &str = "deployer-token-0123456789abcdef";
const VIEWER: &str = "viewer-token-0123456789abcdef";
/// The deployer token's name in the test config.
const DEPLOYER_NAME: &str = "ci";
const HOOK_SECRET: &str = "webhook-secret-for-tests";
const REGISTRY_HOOK_SECRET: &str = "registry-hook-secret-for-tests";

fn configmap(name: &str, value: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations: {{{annotations}}}\ndata:\n  value: \"{value}\"\n"
    )
}

struct Env {
    cluster: Option<RunningCluster>,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    repo: PathBuf,
    server: Option<Child>,
    api: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Env {
    async fn start(job_run_time: Duration) -> Env {
        Env::start_with(job_run_time, Duration::from_millis(200)).await
    }

    /// A cluster whose pods become ready `pod_ready_delay` after they start.
    async fn start_with(job_run_time: Duration, pod_ready_delay: Duration) -> Env {
        let cluster = server::start(ClusterConfig {
            timing: bosun_cluster::controllers::Timing {
                pod_ready_delay,
                job_run_time,
                resync: Duration::from_secs(1),
            },
            ..ClusterConfig::default()
        })
        .await
        .expect("cluster");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        bosun_cluster::kubeconfig::write(&kubeconfig, "test", &cluster.url(), "tester").unwrap();
        let repo = dir.path().join("config-repo");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        Env {
            cluster: Some(cluster),
            dir,
            kubeconfig,
            repo,
            server: None,
            api: String::new(),
        }
    }

    fn commit(&self, message: &str) -> String {
        git(&self.repo, &["add", "-A"]);
        git(
            &self.repo,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(&self.repo, &["rev-parse", "HEAD"])
    }

    /// An Application of `path` in the test repository.
    fn app(&self, name: &str, path: &str, ns: &str, policy: &str) {
        write(
            self.dir.path(),
            &format!("apps/{name}.yaml"),
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: {path}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {ns}\n  syncPolicy:\n{policy}    syncOptions:\n    - CreateNamespace=true\n",
                self.repo.display()
            ),
        );
    }

    fn config(&self, refresh: &str) -> PathBuf {
        self.config_with("- path: apps\n", refresh)
    }

    fn config_with(&self, applications: &str, refresh: &str) -> PathBuf {
        let file = self.dir.path().join("bosun.yaml");
        std::fs::write(
            &file,
            format!(
                "applications:\n{applications}server:\n  refreshInterval: {refresh}\n  refreshJitter: 0s\n  tokens:\n  - {{name: root, role: admin, tokenEnv: T_ADMIN}}\n  - {{name: ci, role: deployer, tokenEnv: T_DEPLOYER}}\n  - {{name: viewer, role: read-only, tokenEnv: T_VIEWER}}\n  webhook:\n    githubSecretEnv: T_HOOK\n"
            ),
        )
        .unwrap();
        file
    }

    /// Starts `bosun serve` and waits for its address.
    fn serve(&mut self, refresh: &str) {
        let config = self.config(refresh);
        self.serve_config(&config);
    }

    fn serve_config(&mut self, config: &Path) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data")
            .arg(self.dir.path().join("data"))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("BOSUN_CACHE", self.dir.path().join("cache"))
            .env("T_ADMIN", ADMIN)
            .env("T_DEPLOYER", DEPLOYER)
            .env("T_VIEWER", VIEWER)
            .env("T_HOOK", HOOK_SECRET)
            .env("T_REGISTRY_HOOK", REGISTRY_HOOK_SECRET)
            .env("BOSUN_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.path().join("serve.log")).unwrap())
            .spawn()
            .expect("bosun serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let api = line
            .trim()
            .strip_prefix("bosun serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}; log:\n{}", self.log()))
            .to_string();
        self.api = api;
        self.server = Some(child);
    }

    fn kill_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            // SIGKILL: no chance to finish anything.
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn bosun(&self, token: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(args)
            .env("BOSUN_SERVER", &self.api)
            .env("BOSUN_TOKEN", token)
            .env("NO_COLOR", "1")
            .output()
            .expect("bosun")
    }

    /// `bosun ARGS` that must exit within `secs` (killed and failed otherwise); exit code and
    /// stdout and stderr together.
    fn bosun_within(&self, secs: u64, token: &str, args: &[&str]) -> (Option<i32>, String) {
        let dir = tempfile::tempdir().unwrap();
        let (out, err) = (dir.path().join("out"), dir.path().join("err"));
        let mut child = Process(
            Command::new(env!("CARGO_BIN_EXE_bosun"))
                .args(args)
                .env("BOSUN_SERVER", &self.api)
                .env("BOSUN_TOKEN", token)
                .env("NO_COLOR", "1")
                .stdout(std::fs::File::create(&out).unwrap())
                .stderr(std::fs::File::create(&err).unwrap())
                .spawn()
                .expect("bosun"),
        );
        let deadline = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "bosun {args:?} still running after {secs} s; output:\n{}{}\nserver log:\n{}",
                    std::fs::read_to_string(&out).unwrap_or_default(),
                    std::fs::read_to_string(&err).unwrap_or_default(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let text = std::fs::read_to_string(&out).unwrap() + &std::fs::read_to_string(&err).unwrap();
        (status.code(), text)
    }

    fn app_json(&self, name: &str) -> Value {
        let out = self.bosun(ADMIN, &["app", "get", name, "-o", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits until `app` has not been reconciled for three seconds.
    fn quiet(&self, app: &str) {
        let mut last = Value::Null;
        let mut since = Instant::now();
        self.eventually(60, "reconciles to stop", || {
            let now = self.app_json(app)["status"]["reconciledAt"].clone();
            if now != last {
                last = now;
                since = Instant::now();
            }
            since.elapsed() >= Duration::from_secs(3)
        });
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(tools().join("bin/kubectl"))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("kubectl")
    }

    fn data(&self, ns: &str, name: &str) -> Option<String> {
        let out = self.kubectl(&["get", "configmap", name, "-n", ns, "-o", "json"]);
        if !out.status.success() {
            return None;
        }
        let cm: Value = serde_json::from_slice(&out.stdout).unwrap();
        cm["data"]["value"].as_str().map(String::from)
    }

    /// Waits up to `secs` for `check`, then fails with `what` and the server log.
    fn eventually(&self, secs: u64, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("gave up waiting for {what}; server log:\n{}", self.log());
    }

    async fn post(&self, path: &str, headers: &[(&str, String)], body: &str) -> (u16, Value) {
        let client = http();
        let mut request = client
            .post(format!("{}{path}", self.api))
            .body(body.to_string());
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// `method` with a JSON body and a bearer token; the status and the answer's text.
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = http()
            .request(method, format!("{}{path}", self.api))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let client = http();
        let mut request = client.get(format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A push signed with another secret is refused 401.
    async fn forged_push_is_refused(&self, body: &str) {
        let forged = bosun_server::webhook::sign(b"not the secret", body.as_bytes());
        let headers = [
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", forged),
        ];
        let (status, answer) = self.post("/api/webhook", &headers, body).await;
        assert_eq!(status, 401, "{answer}");
    }

    fn push_payload(&self) -> String {
        json!({
            "ref": "refs/heads/main",
            "repository": {
                "clone_url": format!("file://{}", self.repo.display()),
                "default_branch": "main",
            },
        })
        .to_string()
    }
}

/// reqwest is built without a default crypto provider; ring is the binary's one provider.
/// A child process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn sign(body: &str) -> String {
    bosun_server::webhook::sign(HOOK_SECRET.as_bytes(), body.as_bytes())
}

const AUTO: &str = "    automated:\n      prune: true\n";
const AUTO_HEAL: &str = "    automated:\n      prune: true\n      selfHeal: true\n";

/// A push with a valid signature syncs the new commit; a forged one is refused and changes
/// nothing. The refresh interval is an hour, so only the webhook can explain the sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_syncs_and_forged_one_changes_nothing() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "web/cm.yaml", &configmap("web", "v1", ""));
    let first = env.commit("v1");
    env.app("web", "web", "dev", AUTO);
    env.serve("1h");
    env.eventually(60, "the first auto-sync", || {
        env.data("dev", "web").as_deref() == Some("v1")
    });
    env.eventually(30, "web to be Synced", || {
        env.app_json("web")["status"]["sync"]["status"] == "Synced"
    });
    assert_eq!(env.app_json("web")["status"]["sync"]["revision"], first);

    // Let the refreshes that the first sync's own writes trigger (live watch) die down: from
    // here on, with an hour's refresh interval, only a webhook can make bosun look at Git.
    env.quiet("web");
    write(&env.repo, "web/cm.yaml", &configmap("web", "v2", ""));
    let second = env.commit("v2");
    let body = env.push_payload();
    env.forged_push_is_refused(&body).await;
    let (status, _) = env
        .post("/api/webhook", &[("X-GitHub-Event", "push".into())], &body)
        .await;
    assert_eq!(status, 401, "an unsigned push is refused too");
    // The refusals are the event: a webhook is checked before anything is queued, so the
    // cluster and the status are as they were when the 401s came back.
    assert_eq!(
        env.data("dev", "web").as_deref(),
        Some("v1"),
        "a forged webhook changed the cluster"
    );
    assert_eq!(env.app_json("web")["status"]["sync"]["revision"], first);

    let delivery = [
        ("X-GitHub-Event", "push".to_string()),
        ("X-Hub-Signature-256", sign(&body)),
        (
            "X-GitHub-Delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_string(),
        ),
    ];
    let (status, answer) = env.post("/api/webhook", &delivery, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["refreshed"], json!(["web"]));
    assert!(answer.get("alreadyReceived").is_none(), "{answer}");
    // The same delivery again (a replay of a captured one): answered, and nothing is done.
    let (status, again) = env.post("/api/webhook", &delivery, &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["alreadyReceived"], true, "{again}");
    assert_eq!(again["refreshed"], json!([]), "{again}");
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("72d3162e-cc78-11e3-81ab-4c9367dc0958 was already received"),
        "{again}"
    );
    env.eventually(60, "the pushed commit to be synced", || {
        env.data("dev", "web").as_deref() == Some("v2")
    });
    env.eventually(30, "the status to show the new revision", || {
        env.app_json("web")["status"]["sync"]["revision"] == second.as_str()
    });
    let history = env.bosun(ADMIN, &["app", "history", "web", "-o", "json"]);
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    let items = history["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|op| op["kind"] == "auto-sync" && op["initiatedBy"] == "automated")
    );
    assert_eq!(items[0]["revisions"], json!([second]));
    assert_eq!(items[0]["phase"], "Succeeded");

    // The generic refresh endpoint does what the webhook does, for a deployer token.
    env.quiet("web");
    write(&env.repo, "web/cm.yaml", &configmap("web", "v3", ""));
    env.commit("v3");
    let request =
        json!({"repoURL": format!("file://{}", env.repo.display()), "ref": "refs/heads/main"})
            .to_string();
    let (status, _) = env
        .post(
            "/api/v1/refresh",
            &[("Authorization", format!("Bearer {VIEWER}"))],
            &request,
        )
        .await;
    assert_eq!(status, 403, "read-only tokens may not trigger refreshes");
    let (status, answer) = env
        .post(
            "/api/v1/refresh",
            &[("Authorization", format!("Bearer {DEPLOYER}"))],
            &request,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["refreshed"], json!(["web"]));
    env.eventually(60, "the refreshed commit to be synced", || {
        env.data("dev", "web").as_deref() == Some("v3")
    });

    // Only health, readiness and metrics answer without a token.
    let (status, _) = env.get("/api/v1/applications", None).await;
    assert_eq!(status, 401);
    let (status, _) = env
        .get("/api/v1/applications", Some("wrong-token-0123456789"))
        .await;
    assert_eq!(status, 401);
    let (status, metrics) = env.get("/metrics", None).await;
    assert_eq!(status, 200);
    for name in [
        "bosun_app_reconcile_seconds",
        "bosun_app_syncs_total",
        "bosun_apps{",
        "bosun_git_fetch_seconds",
        "bosun_render_seconds",
        "bosun_kubernetes_requests_total",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from /metrics:\n{metrics}"
        );
    }
    assert!(metrics.contains(r#"phase="Succeeded""#), "{metrics}");
    let (status, openapi) = env.get("/api/openapi.json", Some(VIEWER)).await;
    assert_eq!(status, 200);
    let openapi: Value = serde_json::from_str(&openapi).unwrap();
    for path in [
        "/api/v1/applications",
        "/api/v1/applications/{name}",
        "/api/v1/applications/{name}/sync",
        "/api/v1/applications/{name}/rollback",
        "/api/v1/applications/{name}/history",
        "/api/v1/applications/{name}/resource-tree",
        "/api/v1/stream/applications",
        "/api/webhook",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} not documented");
    }
    for (path, method) in [
        ("/api/v1/applications", "post"),
        ("/api/v1/applications/{name}", "put"),
        ("/api/v1/applications/{name}", "delete"),
    ] {
        assert!(
            openapi["paths"][path][method].is_object(),
            "{method} {path} not documented"
        );
    }
    assert!(openapi["components"]["schemas"]["ErrorBody"].is_object());

    // Every failure answers {code, message}, axum's own refusals included.
    let deployer = [("Authorization", format!("Bearer {DEPLOYER}"))];
    let failures = [
        (404, env.get("/api/v1/nowhere", Some(VIEWER)).await.1),
        (
            405,
            env.get("/api/v1/applications/web/sync", Some(DEPLOYER))
                .await
                .1,
        ),
        (
            400,
            env.get("/api/v1/audit?limit=many", Some(ADMIN)).await.1,
        ),
        (
            413,
            env.post(
                "/api/v1/applications/web/sync",
                &deployer,
                &" ".repeat((2 << 20) + 1024),
            )
            .await
            .1
            .to_string(),
        ),
    ];
    for (code, body) in failures {
        let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(body["code"], code, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
}

/// While the first catalog load hangs (a Git server that takes connections and never answers),
/// who asks is still checked at once: a bad token or a forged webhook is refused 401 (after the
/// wait it would have been a 503), a good caller is told 503 with a Retry-After, and a signed
/// delivery answered 503 is not remembered, so the same delivery sent again is acted on.
#[tokio::test(flavor = "multi_thread")]
async fn while_the_first_load_hangs_callers_are_checked_at_once_and_told_to_retry() {
    let mut env = Env::start(Duration::from_millis(200)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (asked, mut connections) = tokio::sync::mpsc::unbounded_channel();
    let stalled = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
            let _ = asked.send(());
        }
    });
    let config = env.config_with(
        &format!("- repoURL: http://127.0.0.1:{port}/apps.git\n  path: apps\n"),
        "1h",
    );
    env.serve_config(&config);
    tokio::time::timeout(Duration::from_secs(30), connections.recv())
        .await
        .unwrap_or_else(|_| panic!("bosun never asked the Git server; log:\n{}", env.log()));

    for token in [None, Some("wrong-token-0123456789")] {
        let (status, body) = env.get("/api/v1/applications", token).await;
        assert_eq!(status, 401, "{token:?}: {body}");
    }
    let body = env.push_payload();
    env.forged_push_is_refused(&body).await;

    let response = http()
        .get(format!("{}/api/v1/applications", env.api))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let text = response.text().await.unwrap();
    assert!(text.contains("still loading"), "{text}");
    let delivery = [
        ("X-GitHub-Event", "push".to_string()),
        ("X-Hub-Signature-256", sign(&body)),
        ("X-GitHub-Delivery", "5d1e0c3a-first-load-wait".to_string()),
    ];
    let (status, answer) = env.post("/api/webhook", &delivery, &body).await;
    assert_eq!(status, 503, "{answer}");

    // The Git server goes away: the load ends with its error, and the delivery is acted on.
    stalled.abort();
    let _ = stalled.await;
    env.eventually(90, "the first load to end", || {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{}/readyz", env.api))
            .output()
            .unwrap();
        out.stdout == b"200"
    });
    let (status, answer) = env.post("/api/webhook", &delivery, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("alreadyReceived").is_none(), "{answer}");
}

/// selfHeal reverts a kubectl change within seconds; a manual Application stays OutOfSync until
/// someone with the deployer role syncs it; a read-only token cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_heal_manual_sync_and_roles() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "dev/cm.yaml", &configmap("web", "dev", ""));
    write(&env.repo, "prod/cm.yaml", &configmap("web", "prod", ""));
    env.commit("dev and prod");
    env.app("dev", "dev", "dev", AUTO_HEAL);
    env.app("prod", "prod", "prod", "");
    env.serve("1h");
    env.eventually(60, "dev to be synced", || {
        env.data("dev", "web").as_deref() == Some("dev")
    });

    // Status changes stream as server-sent events (read-only tokens may listen).
    let response = http()
        .get(format!("{}/api/v1/stream/applications", env.api))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let events = tokio::spawn(async move {
        let mut response = response;
        let mut text = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), response.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) => break,
                Err(_) => {}
            }
            if text.contains("self-heal") {
                break;
            }
        }
        text
    });

    // Drift by hand: healed without any refresh interval elapsing (watch-driven).
    let out = env.kubectl(&[
        "patch",
        "configmap",
        "web",
        "-n",
        "dev",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"value":"hacked"}}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "self-heal to revert the kubectl change", || {
        env.data("dev", "web").as_deref() == Some("dev")
    });
    let history = env.bosun(ADMIN, &["app", "history", "dev", "-o", "json"]);
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert!(
        history["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|op| op["kind"] == "self-heal" && op["phase"] == "Succeeded"),
        "{history}"
    );

    let events = events.await.unwrap();
    assert!(events.contains("data:"), "{events}");
    assert!(
        events.contains(r#""type":"MODIFIED""#) && events.contains(r#""kind":"self-heal""#),
        "the self-heal operation was not streamed:\n{events}"
    );

    // The manual Application waits.
    env.eventually(30, "prod to be compared", || {
        env.app_json("prod")["status"]["sync"]["status"] == "OutOfSync"
    });
    assert_eq!(env.data("prod", "web"), None);
    let list = env.bosun(VIEWER, &["app", "list"]);
    assert!(list.status.success());
    let table = String::from_utf8_lossy(&list.stdout);
    assert!(
        table.contains("prod") && table.contains("OutOfSync"),
        "{table}"
    );

    // Read-only may look but not sync.
    let refused = env.bosun(VIEWER, &["app", "sync", "prod"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Refused before anything was queued (the 403 is the event).
    assert_eq!(
        env.data("prod", "web"),
        None,
        "a refused sync changed the cluster"
    );

    let synced = env.bosun(DEPLOYER, &["app", "sync", "prod"]);
    assert!(
        synced.status.success(),
        "{}{}",
        String::from_utf8_lossy(&synced.stdout),
        String::from_utf8_lossy(&synced.stderr)
    );
    assert_eq!(env.data("prod", "web").as_deref(), Some("prod"));
    let prod = env.app_json("prod");
    assert_eq!(prod["status"]["sync"]["status"], "Synced");
    assert_eq!(prod["status"]["operationState"]["initiatedBy"], "ci");
    // The refusal is in the audit log, which only admins read.
    let (status, _) = env.get("/api/v1/audit", Some(DEPLOYER)).await;
    assert_eq!(status, 403);
    let (status, audit) = env.get("/api/v1/audit", Some(ADMIN)).await;
    assert_eq!(status, 200);
    assert!(
        audit.contains("sync-refused") && audit.contains("viewer"),
        "{audit}"
    );
    // Bad API input is a 400 naming the field, and changes nothing.
    let (status, answer) = env
        .post(
            "/api/v1/applications/prod/sync",
            &[("Authorization", format!("Bearer {DEPLOYER}"))],
            r#"{"prune": "yes"}"#,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["message"].as_str().unwrap().contains("prune"),
        "{answer}"
    );
    let (status, _) = env
        .post(
            "/api/v1/applications/nope/sync",
            &[("Authorization", format!("Bearer {DEPLOYER}"))],
            "",
        )
        .await;
    assert_eq!(status, 404);
}

/// Rollback syncs a recorded revision. Under auto-sync the rollback holds until Git moves on,
/// then auto-sync resumes with the new commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_manual_and_under_auto_sync() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "m/cm.yaml", &configmap("m", "one", ""));
    write(&env.repo, "a/cm.yaml", &configmap("a", "one", ""));
    let one = env.commit("one");
    env.app("manual", "m", "m", "");
    env.app("auto", "a", "a", AUTO);
    env.serve("5s"); // polls Git: the shortest interval bosun accepts
    let sync = env.bosun(DEPLOYER, &["app", "sync", "manual"]);
    assert!(
        sync.status.success(),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    env.eventually(60, "auto to sync one", || {
        env.data("a", "a").as_deref() == Some("one")
    });

    write(&env.repo, "m/cm.yaml", &configmap("m", "two", ""));
    write(&env.repo, "a/cm.yaml", &configmap("a", "two", ""));
    let two = env.commit("two");
    env.eventually(60, "auto to sync two", || {
        env.data("a", "a").as_deref() == Some("two")
    });
    let refreshed = env.bosun(DEPLOYER, &["app", "refresh", "manual"]);
    assert!(refreshed.status.success());
    let sync = env.bosun(DEPLOYER, &["app", "sync", "manual"]);
    assert!(sync.status.success());
    assert_eq!(env.data("m", "m").as_deref(), Some("two"));

    // Manual: roll back to the first sync.
    let history: Value = serde_json::from_slice(
        &env.bosun(ADMIN, &["app", "history", "manual", "-o", "json"])
            .stdout,
    )
    .unwrap();
    let first = history["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(first["revisions"], json!([one]));
    let id = first["id"].to_string();
    let back = env.bosun(DEPLOYER, &["app", "rollback", "manual", &id]);
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    assert_eq!(env.data("m", "m").as_deref(), Some("one"));
    let manual = env.app_json("manual");
    assert_eq!(manual["status"]["operationState"]["kind"], "rollback");
    // Git still says two: the Application is OutOfSync with it, visibly.
    assert_eq!(manual["status"]["sync"]["status"], "OutOfSync");

    // A dry run is its own kind of history entry, and never a rollback target: said plainly,
    // and nothing is applied.
    let dry = env.bosun(DEPLOYER, &["app", "sync", "manual", "--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(env.data("m", "m").as_deref(), Some("one"));
    let table = env.bosun(ADMIN, &["app", "history", "manual"]);
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    let newest: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(newest[1..4], ["sync", "(dry", "run)"], "{table}");
    let dry_id = newest[0];
    let back = env.bosun(DEPLOYER, &["app", "rollback", "manual", dry_id]);
    assert_eq!(back.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&back.stderr);
    assert!(
        stderr.contains(&format!(
            "history entry {dry_id} of manual was a dry run: nothing was applied then"
        )),
        "{stderr}"
    );
    assert_eq!(env.data("m", "m").as_deref(), Some("one"));

    // Automated: the rollback holds across refreshes (every 2 s here) ...
    let history: Value = serde_json::from_slice(
        &env.bosun(ADMIN, &["app", "history", "auto", "-o", "json"])
            .stdout,
    )
    .unwrap();
    let first = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["revisions"] == json!([one]))
        .unwrap()
        .clone();
    let back = env.bosun(
        DEPLOYER,
        &["app", "rollback", "auto", &first["id"].to_string()],
    );
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    assert_eq!(env.data("a", "a").as_deref(), Some("one"));
    env.eventually(30, "the AutoSyncPaused condition", || {
        env.app_json("auto")["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "AutoSyncPaused"))
    });
    // A refresh answers after a whole reconcile that began after it was asked — one that would
    // have auto-synced the head if the pin did not hold.
    let refreshed = env.bosun(DEPLOYER, &["app", "refresh", "auto"]);
    assert!(
        refreshed.status.success(),
        "{}",
        String::from_utf8_lossy(&refreshed.stderr)
    );
    assert_eq!(
        env.data("a", "a").as_deref(),
        Some("one"),
        "auto-sync undid the rollback"
    );
    assert_eq!(env.app_json("auto")["status"]["sync"]["revision"], two);

    // ... until a new commit arrives.
    write(&env.repo, "a/cm.yaml", &configmap("a", "three", ""));
    env.commit("three");
    env.eventually(60, "auto-sync to resume with the new commit", || {
        env.data("a", "a").as_deref() == Some("three")
    });
    let rollback_of_missing = env.bosun(DEPLOYER, &["app", "rollback", "auto", "9999"]);
    assert_eq!(rollback_of_missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&rollback_of_missing.stderr);
    assert!(
        stderr.contains("no history entry 9999"),
        "{stderr}\n{}",
        env.log()
    );
}

/// `kill -9` while an auto-sync of a large Application waits in the middle of its waves; the
/// restarted server reports the operation as interrupted and converges.
/// kill -9 while an automated sync of 301 objects waits between waves: the restart resumes the
/// same operation at the wave it reached, and the history shows one operation, its whole length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_an_auto_sync_then_restart_resumes_it() {
    kill_9_mid_sync(false).await;
}

/// The same for a sync asked for through the API: it finishes after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_manual_sync_then_restart_resumes_it() {
    kill_9_mid_sync(true).await;
}

async fn kill_9_mid_sync(manual: bool) {
    // The wave-1 Job takes 4 s: the sync is certainly in flight while it runs.
    let mut env = Env::start(Duration::from_secs(4)).await;
    for i in 0..150 {
        write(
            &env.repo,
            &format!("big/early-{i:03}.yaml"),
            &configmap(&format!("early-{i:03}"), "x", ""),
        );
        write(
            &env.repo,
            &format!("big/late-{i:03}.yaml"),
            &configmap(
                &format!("late-{i:03}"),
                "x",
                r#""argocd.argoproj.io/sync-wave": "2""#,
            ),
        );
    }
    write(
        &env.repo,
        "big/job.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations: {\"argocd.argoproj.io/sync-wave\": \"1\"}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: m\n        image: migrate:1\n",
    );
    env.commit("big");
    // Something in the namespace that is not the Application's: never pruned.
    let out = env.kubectl(&["create", "namespace", "big"]);
    assert!(out.status.success());
    let out = env.kubectl(&[
        "create",
        "configmap",
        "foreign",
        "-n",
        "big",
        "--from-literal=value=mine",
    ]);
    assert!(out.status.success());
    env.app("big", "big", "big", if manual { "" } else { AUTO });
    env.serve("1h");
    // A manual sync is asked for through the CLI, which waits for it (and loses its server).
    let _client = manual.then(|| {
        env.eventually(60, "the Application to be compared", || {
            env.app_json("big")["status"]["sync"]["status"] == "OutOfSync"
        });
        Process(
            Command::new(env!("CARGO_BIN_EXE_bosun"))
                .args(["app", "sync", "big", "--prune"])
                .env("BOSUN_SERVER", &env.api)
                .env("BOSUN_TOKEN", DEPLOYER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("bosun app sync"),
        )
    });
    env.eventually(90, "the sync to be waiting for the wave-1 Job", || {
        let app = env.app_json("big");
        app["status"]["operationState"]["phase"] == "Running"
            && env
                .kubectl(&["get", "job", "migrate", "-n", "big"])
                .status
                .success()
    });
    env.kill_server();
    assert_eq!(
        env.data("big", "late-000"),
        None,
        "the kill was meant to land before wave 2"
    );

    env.serve("1h");
    env.eventually(120, "the restarted server to finish the sync", || {
        env.data("big", "late-149").is_some()
            && env.app_json("big")["status"]["sync"]["status"] == "Synced"
    });
    let mut history = Value::Null;
    env.eventually(60, "the resumed sync to be recorded", || {
        history = serde_json::from_slice(
            &env.bosun(ADMIN, &["app", "history", "big", "-o", "json"])
                .stdout,
        )
        .unwrap();
        history["items"][0]["phase"] == "Succeeded"
    });
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one operation, resumed: {history}");
    let op = &items[0];
    assert_eq!(op["kind"], if manual { "sync" } else { "auto-sync" });
    assert!(
        op["durationMs"].as_i64().unwrap() > 4000,
        "its whole length, across the restart: {op}"
    );
    let action = |name: &str| {
        op["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["action"].clone())
    };
    // Wave 0 was done before the kill and is not applied again; wave 2 only after it.
    assert_eq!(action("early-000"), Some(json!("created")), "{op}");
    assert_eq!(action("late-149"), Some(json!("created")), "{op}");
    assert_eq!(
        env.data("big", "foreign").as_deref(),
        Some("mine"),
        "a foreign object was pruned"
    );
    assert_eq!(env.data("big", "early-000").as_deref(), Some("x"));
    let _ = env.cluster.take();
}

/// `bosun up`: the playground starts a cluster, an example repository and the server; the dev
/// Application syncs itself and becomes healthy, prod waits for a person.
#[test]
fn bosun_up_playground() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--cluster-port",
            "0",
            "--prometheus-port",
            "0",
            "--registry-port",
            "0",
            "--dir",
        ])
        .arg(dir.path())
        .env("BOSUN_CACHE", dir.path().join("cache"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("up.log")).unwrap())
        .spawn()
        .expect("bosun up");
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut guard = Kill(child);
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    // The addresses and the hints.
    let mut printed = first.clone();
    while !printed.contains("Stop with Ctrl-C") {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        printed.push_str(&line);
    }
    // Keep reading what `bosun up` prints, as a terminal would.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let log = || std::fs::read_to_string(dir.path().join("up.log")).unwrap_or_default();
    assert!(
        first.starts_with("bosun playground is up"),
        "{first:?}\n{}",
        log()
    );
    let env_text = std::fs::read_to_string(dir.path().join("env")).unwrap();
    let var = |name: &str| {
        env_text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing from env:\n{env_text}"))
            .to_string()
    };
    let (server, token, kubeconfig) = (var("BOSUN_SERVER"), var("BOSUN_TOKEN"), var("KUBECONFIG"));
    // A fresh machine has neither bosun nor kubectl on PATH: the env file puts them there.
    let path = var("PATH");
    assert!(
        path.ends_with(":$PATH") && path.contains("bosun-tools/bin"),
        "{path}"
    );
    assert!(dir.path().join("repo/app/src/main.rs").exists());
    assert!(dir.path().join("repo/app/Dockerfile").exists());
    let app = |name: &str| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["app", "get", name, "-o", "json"])
            .env("BOSUN_SERVER", &server)
            .env("BOSUN_TOKEN", &token)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let dev = app("hello-dev");
        if dev["status"]["sync"]["status"] == "Synced"
            && dev["status"]["health"]["status"] == "Healthy"
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hello-dev never became Synced and Healthy: {dev}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(app("hello-prod")["status"]["sync"]["status"], "OutOfSync");
    let bosun = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(args)
            .env("BOSUN_SERVER", &server)
            .env("BOSUN_TOKEN", &token)
            .output()
            .unwrap()
    };
    let rollout = |name: &str| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["rollout", "get", name, "-o", "json"])
            .env("BOSUN_SERVER", &server)
            .env("BOSUN_TOKEN", &token)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    // dev runs the service as a canary Rollout that bosun drives: five ready pods.
    let first_view = rollout("hello-dev");
    assert_eq!(first_view["summary"]["ready"], 5, "{first_view}\n{}", log());
    let first_stable = first_view["summary"]["stableHash"].clone();
    // What Argo's tools read: the Rollout's status in the cluster, by its short name.
    let out = Command::new(tools().join("bin/kubectl"))
        .args(["get", "ro", "hello-dev", "-n", "dev", "-o", "json"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let object: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(object["status"]["phase"], "Healthy", "{object}");
    assert_eq!(object["status"]["stableRS"], first_stable, "{object}");

    // The resource tree shows what bosun's Rollout controller and the ReplicaSet controller
    // made: the Rollout's ReplicaSet and its Pods.
    let tree: Value = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = http()
            .get(format!(
                "{server}/api/v1/applications/hello-dev/resource-tree"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    });
    let nodes = tree["nodes"].as_array().unwrap();
    let of_kind = |kind: &str| {
        nodes
            .iter()
            .filter(|n| n["kind"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let rollout_uid = &of_kind("Rollout")[0]["uid"];
    let replica_sets = of_kind("ReplicaSet");
    assert!(
        replica_sets
            .iter()
            .any(|rs| rs["parentRefs"][0]["uid"] == *rollout_uid),
        "{tree}"
    );
    let pods = of_kind("Pod");
    assert!(
        pods.iter()
            .any(|p| p["parentRefs"][0]["kind"] == "ReplicaSet"
                && p["health"]["status"] == "Healthy"),
        "{tree}"
    );

    // The hint the playground prints: a new image walks the canary's steps. At the analysis
    // step one canary pod runs beside four stable ones while Prometheus judges it; the end has
    // the new revision stable and its run Successful.
    assert!(
        printed.contains("prometheus  http://127.0.0.1:"),
        "the playground's Prometheus runs: {printed}"
    );
    assert!(
        printed.contains("registry    127.0.0.1:"),
        "the playground's registry runs: {printed}"
    );
    let repo = dir.path().join("repo");
    let values = repo.join("charts/hello/values-dev.yaml");
    // A hint line, typed as printed (a shell runs it, with the env file's PATH).
    let type_hint = |needle: &str| {
        let line = printed
            .lines()
            .map(str::trim)
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no hint with {needle:?}: {printed}"));
        let out = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "set -a; . {}; set +a; {line}",
                    dir.path().join("env").display()
                ),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let text = std::fs::read_to_string(&values).unwrap();
    assert!(text.contains("tag: \"0.1.0\""), "{text}");
    // CI pushes image 0.2.0: bosun commits its tag to dev's values by itself.
    type_hint("hello:0.2.0");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&values)
        .unwrap()
        .contains("tag: \"0.2.0\"")
    {
        assert!(
            Instant::now() < deadline,
            "no write-back of 0.2.0\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let shown = type_hint("bosun image get hello-dev");
    assert!(
        shown.contains("Committed") && shown.contains("0.2.0"),
        "{shown}"
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut saw_analysis_step = false;
    loop {
        let view = rollout("hello-dev");
        let summary = &view["summary"];
        if summary["step"] == 1 && summary["stableHash"] == first_stable {
            let canary = view["revisions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["role"] == "canary")
                .cloned()
                .unwrap_or(Value::Null);
            if canary["ready"] == 1 {
                saw_analysis_step = true;
            }
        }
        if saw_analysis_step
            && summary["phase"] == "Healthy"
            && summary["stableHash"] != first_stable
        {
            assert_eq!(view["analysisRuns"][0]["phase"], "Successful", "{view}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the canary never walked to the new image (analysis step seen: {saw_analysis_step}): {view}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // The next hint: a version that fails 30 % of its requests is aborted at its analysis and
    // the Application rolled back and held, by itself.
    let second_stable = rollout("hello-dev")["summary"]["stableHash"].clone();
    // Image 0.3.0, the bad build: committed the same way, then aborted and rolled back.
    type_hint("hello:0.3.0");

    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let out = bosun(&["app", "history", "hello-dev", "-o", "json"]);
        let history: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let view = rollout("hello-dev");
        let rolled_back = history["items"][0]["kind"] == "rollback"
            && history["items"][0]["phase"] == "Succeeded";
        if rolled_back
            && view["summary"]["phase"] == "Healthy"
            && view["summary"]["stableHash"] == second_stable
        {
            let failed = view["analysisRuns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["phase"] == "Failed");
            assert!(failed, "{view}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bad version was not rolled back: {history}\n{view}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // SIGTERM (what `kill` sends) stops the playground gracefully, and its Prometheus with it.
    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while guard.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "bosun up did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for helper in ["prometheus", "registry"] {
        let helper_dir = dir.path().join(helper).display().to_string();
        let still_running = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .any(|cmdline| String::from_utf8_lossy(&cmdline).contains(&helper_dir));
        assert!(!still_running, "the playground's {helper} outlived it");
    }
}

/// App-of-apps: the Applications themselves live in Git. A pushed commit that adds an
/// Application starts managing it; one that removes an Application stops managing it (its
/// resources stay, as with Argo CD without the resources finalizer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_of_apps_from_git_adds_and_removes_applications() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    let repo = env.repo.clone();
    let application = |name: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: {name}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n  syncPolicy:\n    automated: {{prune: true}}\n    syncOptions: [CreateNamespace=true]\n",
            repo.display()
        )
    };
    write(&env.repo, "apps/one.yaml", &application("one"));
    write(&env.repo, "one/cm.yaml", &configmap("one", "1", ""));
    env.commit("one");
    let config = env.config_with(
        &format!(
            "- repoURL: file://{}\n  targetRevision: main\n  path: apps\n",
            env.repo.display()
        ),
        "1h",
    );
    env.serve_config(&config);
    env.eventually(60, "Application one to sync", || {
        env.data("one", "one").as_deref() == Some("1")
    });

    write(&env.repo, "apps/two.yaml", &application("two"));
    write(&env.repo, "two/cm.yaml", &configmap("two", "2", ""));
    env.commit("two");
    let body = env.push_payload();
    let push = async || {
        let (status, answer) = env
            .post(
                "/api/webhook",
                &[
                    ("X-GitHub-Event", "push".into()),
                    ("X-Hub-Signature-256", sign(&body)),
                ],
                &body,
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    };
    push().await;
    env.eventually(60, "Application two to appear and sync", || {
        env.data("two", "two").as_deref() == Some("2")
    });

    std::fs::remove_file(env.repo.join("apps/one.yaml")).unwrap();
    env.commit("drop one");
    push().await;
    env.eventually(60, "Application one to be gone", || {
        let out = env.bosun(ADMIN, &["app", "get", "one"]);
        String::from_utf8_lossy(&out.stderr).contains("404")
    });
    let list = String::from_utf8_lossy(&env.bosun(ADMIN, &["app", "list"]).stdout).to_string();
    assert!(list.contains("two") && !list.contains("one "), "{list}");
    assert_eq!(
        env.data("one", "one").as_deref(),
        Some("1"),
        "removing an Application must not delete its resources"
    );

    // A broken manifest in the app-of-apps directory keeps what was there.
    write(
        &env.repo,
        "apps/two.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: two}\nspec: {sourcee: {}}\n",
    );
    env.commit("typo");
    push().await;
    env.eventually(30, "the catalog error in the log", || {
        env.log().contains("sourcee")
    });
    let out = env.bosun(ADMIN, &["app", "get", "two"]);
    assert!(
        out.status.success(),
        "a typo in Git removed an Application: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        env.log().contains("sourcee"),
        "the load error names the field:\n{}",
        env.log()
    );
}

/// Applications as Kubernetes objects, as Argo CD users keep them: bosun installs the CRD,
/// `kubectl apply` of an Application in `argocd` is synced, `kubectl get applications` shows its
/// SYNC STATUS and HEALTH STATUS, `kubectl delete` with Argo CD's resources finalizer deletes its
/// resources before the Application goes, and without the finalizer leaves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_applied_with_kubectl_are_synced_and_deleted_with_their_finalizer() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "one/cm.yaml", &configmap("one", "1", ""));
    write(&env.repo, "two/cm.yaml", &configmap("two", "2", ""));
    env.commit("one and two");
    let config = env.config_with("- namespace: argocd\n", "1h");
    env.serve_config(&config);
    let repo = env.repo.clone();
    let application = |name: &str, finalizer: bool| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n{}spec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: {name}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n  syncPolicy:\n    automated: {{prune: true}}\n    syncOptions: [CreateNamespace=true]\n",
            if finalizer {
                "  finalizers: [resources-finalizer.argocd.argoproj.io]\n"
            } else {
                ""
            },
            repo.display()
        )
    };
    // bosun installed the CRD at start: kubectl can apply Applications.
    env.eventually(60, "the Application CRD", || {
        env.kubectl(&["get", "crd", "applications.argoproj.io"])
            .status
            .success()
    });
    // The namespace is there too, as after Argo CD's install.
    assert!(
        env.kubectl(&["get", "namespace", "argocd"])
            .status
            .success()
    );
    for (name, finalizer) in [("one", true), ("two", false)] {
        write(
            env.dir.path(),
            &format!("{name}.yaml"),
            &application(name, finalizer),
        );
        let file = env.dir.path().join(format!("{name}.yaml"));
        let out = env.kubectl(&["apply", "-f", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    env.eventually(60, "both Applications to sync", || {
        env.data("one", "one").as_deref() == Some("1")
            && env.data("two", "two").as_deref() == Some("2")
    });
    env.eventually(
        60,
        "kubectl get applications to show Synced and Healthy",
        || {
            let out = env.kubectl(&["get", "applications", "-n", "argocd"]);
            let table = String::from_utf8_lossy(&out.stdout).to_string();
            table.contains("SYNC STATUS")
                && table.contains("HEALTH STATUS")
                && table
                    .lines()
                    .filter(|l| l.contains("Synced") && l.contains("Healthy"))
                    .count()
                    == 2
        },
    );

    // A change by kubectl is picked up without a refresh interval (1h here).
    write(&env.repo, "one/cm.yaml", &configmap("one", "1b", ""));
    env.commit("one changes");
    let out = env.kubectl(&[
        "annotate",
        "application",
        "one",
        "-n",
        "argocd",
        "argocd.argoproj.io/refresh=normal",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(
        60,
        "the annotated Application to sync the new commit",
        || env.data("one", "one").as_deref() == Some("1b"),
    );
    env.eventually(
        60,
        "the refresh annotation to be removed, as Argo CD does",
        || {
            let out = env.kubectl(&[
                "get",
                "application",
                "one",
                "-n",
                "argocd",
                "-o",
                "jsonpath={.metadata.annotations}",
            ]);
            out.status.success()
                && !String::from_utf8_lossy(&out.stdout).contains("argocd.argoproj.io/refresh")
        },
    );

    // With the finalizer: its resources go, then the Application.
    let out = env.kubectl(&[
        "delete",
        "application",
        "one",
        "-n",
        "argocd",
        "--wait=false",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "one's ConfigMap and then one to be deleted", || {
        env.data("one", "one").is_none()
            && !env
                .kubectl(&["get", "application", "one", "-n", "argocd"])
                .status
                .success()
    });
    // Without: the Application goes (bosun stops managing it), its resources stay.
    let out = env.kubectl(&["delete", "application", "two", "-n", "argocd"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "bosun to stop managing two", || {
        let out = env.bosun(ADMIN, &["app", "get", "two"]);
        String::from_utf8_lossy(&out.stderr).contains("404")
    });
    assert_eq!(env.data("two", "two").as_deref(), Some("2"));
}

/// Argo CD's `argocd-cm` ConfigMap beside the Application objects brings its Lua health checks:
/// applied with kubectl, they judge the custom resources at once (no restart, no refresh); a
/// script that does not compile is reported by ConfigMap and key and the checks in use stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_argocd_cm_configmap_beside_the_applications_brings_its_health_checks() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "widgets/crd.yaml", WIDGET_CRD);
    write(
        &env.repo,
        "widgets/widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n",
    );
    env.commit("widgets");
    let config = env.config_with("- namespace: argocd\n", "1h");
    env.serve_config(&config);
    env.eventually(60, "the Application CRD", || {
        env.kubectl(&["get", "crd", "applications.argoproj.io"])
            .status
            .success()
    });
    let application = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: widgets\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: widgets\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: widgets\n  syncPolicy:\n    automated: {{}}\n    syncOptions: [CreateNamespace=true]\n",
        env.repo.display()
    );
    write(env.dir.path(), "widgets.yaml", &application);
    let apply = |file: &str| {
        let out = env.kubectl(&["apply", "-f", env.dir.path().join(file).to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    apply("widgets.yaml");
    let health = || {
        let out = env.bosun(ADMIN, &["app", "get", "widgets", "-o", "json"]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or_default()["status"]["health"].clone()
    };
    // Without a check the Widget has no health of its own.
    env.eventually(60, "the widgets to sync, Healthy", || {
        health()["status"] == "Healthy"
    });

    let configmap = |script: &str| {
        let indented: String = script.lines().map(|l| format!("    {l}\n")).collect();
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\ndata:\n  resource.customizations.health.example.com_Widget: |\n{indented}"
        )
    };
    write(env.dir.path(), "argocd-cm.yaml", &configmap(WIDGET_HEALTH));
    apply("argocd-cm.yaml");
    env.eventually(60, "the ConfigMap's check to judge the Widget", || {
        health()["status"] == "Progressing"
    });
    let out = env.kubectl(&[
        "patch",
        "widget",
        "w",
        "-n",
        "widgets",
        "--type=merge",
        "-p",
        r#"{"status": {"state": "broken", "reason": "no disk"}}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "the Widget to be Degraded by the script", || {
        health()["status"] == "Degraded"
    });

    write(env.dir.path(), "argocd-cm.yaml", &configmap("hs = {"));
    apply("argocd-cm.yaml");
    env.eventually(60, "the broken script to be reported by ConfigMap and key", || {
        env.log().contains(
            "ConfigMap argocd/argocd-cm: resource.customizations.health.example.com_Widget: the Lua script does not compile",
        )
    });
    let widget = env.app_json("widgets")["status"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "Widget")
        .cloned()
        .unwrap();
    assert_eq!(
        widget["health"]["message"], "widget broken: no disk",
        "the check in use stays"
    );
}

/// Argo CD's API paths create, update and delete Application objects: admins only, every call
/// audited, a bad manifest refused before anything is written, a different spec refused unless
/// upserted, and a delete cascades to the resources by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_are_created_and_deleted_through_the_api_by_admins_only() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "one/cm.yaml", &configmap("web", "1", ""));
    write(&env.repo, "two/cm.yaml", &configmap("web", "2", ""));
    env.commit("one and two");
    let config = env.config_with("- namespace: argocd\n", "1h");
    env.serve_config(&config);
    let manifest = |path: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: {path}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: web\n  syncPolicy:\n    automated: {{}}\n    syncOptions: [CreateNamespace=true]\n",
            env.repo.display()
        )
    };
    write(env.dir.path(), "web.yaml", &manifest("one"));
    write(env.dir.path(), "web2.yaml", &manifest("two"));
    write(
        env.dir.path(),
        "bad.yaml",
        &manifest("one").replace("  source:", "  sourc:"),
    );
    let file = |name: &str| env.dir.path().join(name).display().to_string();

    // A bad manifest names its file and field, and nothing is created.
    let out = env.bosun(ADMIN, &["app", "create", "-f", &file("bad.yaml")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("sourc"),
        "{stderr}"
    );
    // Only admins create.
    let out = env.bosun(DEPLOYER, &["app", "create", "-f", &file("web.yaml")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("403") && stderr.contains("may not create"),
        "{stderr}"
    );
    assert!(
        !env.kubectl(&["get", "application", "web", "-n", "argocd"])
            .status
            .success()
    );

    let out = env.bosun(ADMIN, &["app", "create", "-f", &file("web.yaml")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("application 'web' created"));
    assert!(
        env.kubectl(&["get", "application", "web", "-n", "argocd"])
            .status
            .success()
    );
    env.eventually(60, "the created Application to sync", || {
        env.data("web", "web").as_deref() == Some("1")
    });
    // The same spec again is fine; a different one needs --upsert.
    assert!(
        env.bosun(ADMIN, &["app", "create", "-f", &file("web.yaml")])
            .status
            .success()
    );
    let out = env.bosun(ADMIN, &["app", "create", "-f", &file("web2.yaml")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("409") && stderr.contains("upsert"),
        "{stderr}"
    );
    let out = env.bosun(
        ADMIN,
        &["app", "create", "-f", &file("web2.yaml"), "--upsert"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "the upserted spec to sync", || {
        env.data("web", "web").as_deref() == Some("2")
    });

    // PUT names its Application in the path and the body alike.
    let body: Value = serde_saphyr::from_str(&manifest("one")).unwrap();
    let (status, answer) = env
        .send("PUT", "/api/v1/applications/other", Some(ADMIN), &body)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("metadata.name"), "{answer}");
    let (status, answer) = env
        .send("PUT", "/api/v1/applications/web", Some(ADMIN), &body)
        .await;
    assert_eq!(status, 200, "{answer}");
    env.eventually(60, "the updated spec to sync", || {
        env.data("web", "web").as_deref() == Some("1")
    });

    // Only admins delete; by default the resources go first.
    let out = env.bosun(DEPLOYER, &["app", "delete", "web"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));
    let out = env.bosun(ADMIN, &["app", "delete", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "web's resources and then web to be deleted", || {
        env.data("web", "web").is_none()
            && !env
                .kubectl(&["get", "application", "web", "-n", "argocd"])
                .status
                .success()
    });
    let out = env.bosun(ADMIN, &["app", "delete", "web"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));

    let (_, audit) = env.get("/api/v1/audit?limit=100", Some(ADMIN)).await;
    for action in [
        "create-refused",
        "\"create\"",
        "\"update\"",
        "delete-refused",
        "\"delete\"",
    ] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
}

/// An automated Application whose own definition changes (here its source path) at an
/// unchanged commit is synced again: the desired state is the revision *and* the spec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_application_spec_at_the_same_commit_is_auto_synced() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "one/cm.yaml", &configmap("one", "1", ""));
    write(&env.repo, "two/cm.yaml", &configmap("two", "2", ""));
    env.commit("two directories");
    env.app("web", "one", "web", AUTO);
    env.serve("5s"); // polls Git: the shortest interval bosun accepts
    env.eventually(60, "the first auto-sync", || {
        env.data("web", "one").as_deref() == Some("1")
    });
    // Same commit, another path: only the Application file changed (no selfHeal here).
    env.app("web", "two", "web", AUTO);
    env.eventually(60, "the changed spec to be synced", || {
        env.data("web", "two").as_deref() == Some("2")
    });
    let history: Value = serde_json::from_slice(
        &env.bosun(ADMIN, &["app", "history", "web", "-o", "json"])
            .stdout,
    )
    .unwrap();
    let items = history["items"].as_array().unwrap();
    assert!(items.len() >= 2, "{history}");
    assert_eq!(
        items[0]["revisions"], items[1]["revisions"],
        "same commit, new spec"
    );
    assert_ne!(items[0]["specDigest"], items[1]["specDigest"]);
}

/// Health follows the cluster, not the refresh interval: with an hour between refreshes, an
/// Application whose Deployment becomes ready after its sync turns Healthy when the Deployment
/// does (the watch cache's status events re-assess it), and drift is still compared at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_live_status_between_refreshes() {
    let mut env = Env::start_with(Duration::from_millis(400), Duration::from_secs(8)).await;
    write(
        &env.repo,
        "web/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    );
    env.commit("a deployment");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    let mut health_after_sync = Value::Null;
    env.eventually(60, "the sync", || {
        let status = env.app_json("web")["status"].clone();
        health_after_sync = status["health"]["status"].clone();
        status["operationState"]["phase"] == "Succeeded"
    });
    // The pods take 8 s to become ready: the sync ended before that.
    assert_eq!(health_after_sync, "Progressing");
    env.eventually(60, "Healthy without a refresh", || {
        env.app_json("web")["status"]["health"]["status"] == "Healthy"
    });
    let status = env.app_json("web")["status"].clone();
    let deployment = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "Deployment")
        .cloned()
        .unwrap();
    assert_eq!(deployment["health"]["status"], "Healthy", "{status}");
}

/// A render that fails does not freeze health: as Argo CD does under a ComparisonError, the
/// live objects are still assessed against the last targets. The ConfigMap deleted behind
/// bosun's back is a spec change (a full comparison, which fails on the broken commit), and the
/// Application turns Missing all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_assessed_while_the_comparison_fails() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "web/cm.yaml", &configmap("web", "v1", ""));
    env.commit("web");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(60, "Synced and Healthy", || {
        let status = env.app_json("web")["status"].clone();
        status["sync"]["status"] == "Synced" && status["health"]["status"] == "Healthy"
    });
    write(&env.repo, "web/broken.yaml", "kind: [unclosed\n");
    env.commit("a manifest that does not parse");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "the ComparisonError", || {
        env.app_json("web")["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "ComparisonError"))
    });
    assert!(
        env.kubectl(&["delete", "configmap", "web", "-n", "web"])
            .status
            .success()
    );
    env.eventually(60, "health Missing under the ComparisonError", || {
        let status = env.app_json("web")["status"].clone();
        status["health"]["status"] == "Missing"
    });
    let status = env.app_json("web")["status"].clone();
    assert_eq!(status["sync"]["status"], "Unknown", "{status}");
    assert!(
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "ComparisonError"),
        "{status}"
    );
}

/// Sources that fail are visible, not only in the log: `/readyz` answers 503 until the first
/// load of the Applications (held here by an app-of-apps repository whose server the test
/// holds), then ok with a line per failing source; `GET /api/v1/catalog` lists them; `bosun app
/// list` prints them after its table; an Application defined twice gets `InvalidSpecError`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_sources_show_in_readyz_the_api_and_app_list() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "web/cm.yaml", &configmap("web", "v1", ""));
    env.commit("web");
    env.app("web", "web", "web", "");
    let other_spec = std::fs::read_to_string(env.dir.path().join("apps/web.yaml"))
        .unwrap()
        .replace("namespace: web", "namespace: elsewhere");
    write(env.dir.path(), "dupes/web.yaml", &other_spec);
    write(
        env.dir.path(),
        "broken/typo.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: typo\nspec:\n  sourc:\n    repoURL: https://example.com/x.git\n  destination:\n    server: https://kubernetes.default.svc\n",
    );
    // An app-of-apps repository on a server that accepts and answers only when the test says.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let held_url = format!("http://{}/config.git", held.local_addr().unwrap());
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let (connection, _) = held.accept().unwrap();
        let _ = released.recv();
        drop(connection);
        drop(held);
    });
    let config = env.config_with(
        &format!(
            "- path: apps\n- path: missing\n- path: broken\n- path: dupes\n- repoURL: {held_url}\n  path: apps\n"
        ),
        "1h",
    );
    env.serve_config(&config);

    let (status, body) = env.get("/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("loading the Applications"), "{body}");
    let (status, _) = env.get("/healthz", None).await;
    assert_eq!(status, 200);
    release.send(()).unwrap();
    holder.join().unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        let (status, body) = env.get("/readyz", None).await;
        if status == 200 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "never ready: {status} {body}\n{}",
            env.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for words in [
        "4 error(s) loading Applications",
        "missing: ",
        "typo.yaml",
        "sourc",
        "Application web is defined twice",
        held_url.as_str(),
    ] {
        assert!(body.contains(words), "{words:?} not in /readyz: {body}");
    }

    let (status, catalog) = env.get("/api/v1/catalog", Some(VIEWER)).await;
    assert_eq!(status, 200, "{catalog}");
    let catalog: Value = serde_json::from_str(&catalog).unwrap();
    assert_eq!(catalog["loaded"], true, "{catalog}");
    let errors = catalog["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4, "{catalog}");
    assert!(
        errors[0]["source"].as_str().unwrap().ends_with("missing"),
        "{catalog}"
    );
    assert!(
        errors[3]["source"].as_str().unwrap().contains(&held_url),
        "{catalog}"
    );

    let list = env.bosun(VIEWER, &["app", "list"]);
    let out = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{out}");
    let table_end = out.find("4 error(s) loading Applications").expect(&out);
    assert!(out[..table_end].contains("web"), "{out}");
    assert!(out[table_end..].contains("typo.yaml"), "{out}");

    let web = env.app_json("web");
    let conditions = web["status"]["conditions"].as_array().unwrap();
    let invalid = conditions
        .iter()
        .find(|c| c["type"] == "InvalidSpecError")
        .unwrap_or_else(|| panic!("{web}"));
    assert!(
        invalid["message"]
            .as_str()
            .unwrap()
            .contains("defined twice"),
        "{web}"
    );
    // The first definition is used.
    assert_eq!(web["spec"]["destination"]["namespace"], "web");
}

/// A refresh in which nothing changed asks the cluster nothing: what the Application owns comes
/// from the watch cache, and each object's dry run is remembered while neither the desired nor
/// the live object changed. (The first refresh after a rollout may dry-run the objects whose
/// status moved since; the one after it must send nothing.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_with_nothing_changed_sends_no_request() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "web/cm.yaml", &configmap("web", "v1", ""));
    write(
        &env.repo,
        "web/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    );
    env.commit("web");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(60, "Synced and Healthy", || {
        let status = env.app_json("web")["status"].clone();
        status["sync"]["status"] == "Synced" && status["health"]["status"] == "Healthy"
    });
    let refresh = || {
        let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    refresh();
    let log = &env.cluster.as_ref().unwrap().state.requests;
    let before = log.recent();
    assert!(
        before.len() < bosun_cluster::requests::CAPACITY - 100,
        "the log must not wrap"
    );
    refresh();
    let after = log.recent();
    let sent: Vec<_> = after[before.len()..]
        .iter()
        .filter(|r| !r.user_agent.starts_with("kubectl") && !r.uri.contains("watch=true"))
        .collect();
    assert!(sent.is_empty(), "a quiet refresh sent {sent:#?}");
    assert_eq!(env.app_json("web")["status"]["sync"]["status"], "Synced");
}

/// Two more clusters besides the live one: a local cluster that was stopped (connections
/// refused) and an address that accepts connections and never answers. Their Applications say
/// so in their status; the Application on the live cluster syncs as fast as ever (the
/// connection to each cluster is made by a task of its own, holding no reconcile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_does_not_hold_up_the_others() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    // A local cluster, stopped: its port refuses connections.
    let stopped = server::start(ClusterConfig::default())
        .await
        .expect("cluster");
    let stopped_url = stopped.url();
    drop(stopped);
    // An address that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let _held = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let mut clusters = String::from("clusters:\n");
    for (name, url) in [("stopped", &stopped_url), ("silent", &silent_url)] {
        let kubeconfig = env.dir.path().join(format!("{name}.kubeconfig"));
        bosun_cluster::kubeconfig::write(&kubeconfig, name, url, "tester").unwrap();
        clusters.push_str(&format!(
            "- {{name: {name}, kubeconfig: {}}}\n",
            kubeconfig.display()
        ));
    }
    write(&env.repo, "web/cm.yaml", &configmap("web", "v1", ""));
    env.commit("web");
    // Fifteen Applications on the unreachable clusters (ten on the silent one: more than the 8
    // reconciles at once), one on the live cluster.
    for i in 0..15 {
        let cluster = if i % 3 == 0 { "stopped" } else { "silent" };
        write(
            env.dir.path(),
            &format!("apps/far-{i}.yaml"),
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: far-{i}\nspec:\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: web\n  destination:\n    name: {cluster}\n    namespace: far\n  syncPolicy:\n    automated: {{prune: true}}\n",
                env.repo.display()
            ),
        );
    }
    env.app("near", "web", "near", AUTO);
    let config = env.config("1h");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{clusters}{text}")).unwrap();
    env.serve_config(&config);
    env.eventually(30, "the live cluster's Application to sync", || {
        env.data("near", "web").as_deref() == Some("v1")
    });
    for (app, says) in [("far-0", "stopped"), ("far-1", "silent")] {
        env.eventually(30, "the unreachable cluster in the status", || {
            let status = env.app_json(app)["status"].clone();
            status["sync"]["status"] == "Unknown"
                && status["conditions"].as_array().is_some_and(|c| {
                    c.iter().any(|c| {
                        c["type"] == "ComparisonError"
                            && c["message"].as_str().is_some_and(|m| m.contains(says))
                    })
                })
        });
    }
}

/// 300 Applications against a cluster that answers a fifth of all requests with 500 or 429 and
/// cuts every watch after 3 s: they all converge, nothing Git still has is pruned, and the
/// retries are bounded (printed, for the record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_applications_converge_through_faults() {
    const APPS: usize = 300;
    let mut env = Env::start(Duration::from_millis(400)).await;
    for i in 0..APPS {
        write(
            &env.repo,
            &format!("a{i:03}/cm.yaml"),
            &configmap(&format!("cm-{i:03}"), "v1", ""),
        );
    }
    env.commit("300 applications");
    let policy = format!(
        "{AUTO_HEAL}    retry:\n      limit: 10\n      backoff:\n        duration: 1s\n        factor: 2\n        maxDuration: 8s\n"
    );
    for i in 0..APPS {
        env.app(&format!("a{i:03}"), &format!("a{i:03}"), "faults", &policy);
    }
    env.cluster
        .as_ref()
        .unwrap()
        .state
        .faults
        .set(bosun_cluster::faults::FaultConfig {
            error_rate: 0.1,
            throttle_rate: 0.1,
            latency_ms: 0,
            drop_watch_after_seconds: 3,
        })
        .unwrap();
    env.serve("1h");
    let started = Instant::now();
    let mut apps = Value::Null;
    let mut converged = false;
    while started.elapsed() < Duration::from_secs(600) {
        let (code, body) = env.get("/api/v1/applications", Some(ADMIN)).await;
        if code == 200 {
            apps = serde_json::from_str(&body).unwrap();
            let items = apps["items"].as_array().unwrap();
            if items.len() == APPS
                && items.iter().all(|a| {
                    a["status"]["sync"]["status"] == "Synced"
                        && a["status"]["health"]["status"] == "Healthy"
                })
            {
                converged = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let unconverged: Vec<_> = apps["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|a| a["status"]["sync"]["status"] != "Synced")
                .map(|a| {
                    (
                        a["metadata"]["name"].clone(),
                        a["status"]["conditions"].clone(),
                    )
                })
                .take(5)
                .collect()
        })
        .unwrap_or_default();
    assert!(converged, "not converged in 600 s: {unconverged:?}");
    let took = started.elapsed();
    // Heal the cluster to read the results.
    env.cluster
        .as_ref()
        .unwrap()
        .state
        .faults
        .set(Default::default())
        .unwrap();
    let (mut operations, mut failed, mut most) = (0, 0, 0);
    for i in 0..APPS {
        let (code, body) = env
            .get(
                &format!("/api/v1/applications/a{i:03}/history"),
                Some(ADMIN),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        let history: Value = serde_json::from_str(&body).unwrap();
        let items = history["items"].as_array().unwrap();
        for op in items {
            assert!(
                op["resources"]
                    .as_array()
                    .is_none_or(|r| r.iter().all(|r| r["action"] != "pruned")),
                "something Git has was pruned: {op}"
            );
            if op["phase"] != "Succeeded" {
                failed += 1;
            }
        }
        operations += items.len();
        most = most.max(items.len());
        assert_eq!(
            env.data("faults", &format!("cm-{i:03}")).as_deref(),
            Some("v1")
        );
    }
    let (_, metrics) = env.get("/metrics", None).await;
    let errors: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("bosun_controller_reconciles_total")
                && l.contains("controller=\"applications\"")
                && l.contains("result=\"error\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    eprintln!(
        "faults: {APPS} Applications converged in {took:?}; {operations} operations ({failed} not \
         Succeeded, at most {most} for one Application); {errors} reconciles retried on error"
    );
    assert!(
        most <= 10,
        "operations per Application must stay bounded: {most}"
    );
    assert!(
        errors <= (APPS * 10) as f64,
        "reconcile retries must stay bounded: {errors}"
    );
}

/// A cluster that fails every request while bosun connects to it: the Application says why
/// (not "connecting" for a refresh interval), and once the cluster answers again it is
/// connected and synced without a refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_connection_is_reported_and_retried() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "web/cm.yaml", &configmap("web", "v1", ""));
    env.commit("web");
    env.app("web", "web", "web", AUTO);
    let faults = &env.cluster.as_ref().unwrap().state.faults;
    faults
        .set(bosun_cluster::faults::FaultConfig {
            error_rate: 1.0,
            ..Default::default()
        })
        .unwrap();
    env.serve("1h");
    env.eventually(60, "the failed connection in the status", || {
        env.app_json("web")["status"]["conditions"]
            .as_array()
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("the last attempt failed"))
                })
            })
    });
    env.cluster
        .as_ref()
        .unwrap()
        .state
        .faults
        .set(Default::default())
        .unwrap();
    env.eventually(90, "the sync once the cluster answers", || {
        env.data("web", "web").as_deref() == Some("v1")
    });
}

fn rollout_yaml(image: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  replicas: 5\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n  strategy:\n    canary:\n      canaryService: web-canary\n      stableService: web-stable\n      steps:\n      - setWeight: 20\n      - pause: {{}}\n      - setWeight: 60\n      - pause: {{duration: 2s}}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-stable\nspec:\n  selector: {{app: web}}\n  ports:\n  - port: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-canary\nspec:\n  selector: {{app: web}}\n  ports:\n  - port: 80\n"
    )
}

impl Env {
    /// The ImageUpdater e2es' second half: CI pushes `tags` of acme/api, a check of api-dev
    /// writes 1.10.0 back to `values` on `main` of `remote` (Image Updater's default message,
    /// only the tag changed), and dev deploys it.
    fn checked_tags_reach_dev(
        &self,
        registry: &common::registry::Registry,
        remote: &Path,
        values: &str,
        tags: &[(&str, &str)],
    ) {
        let before = git(remote, &["rev-parse", "main"]);
        for (tag, created) in tags {
            registry.push("acme/api", tag, created);
        }
        let out = self.bosun(DEPLOYER, &["image", "check", "api-dev", "-o", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.eventually(60, "the write-back commit", || {
            git(remote, &["rev-parse", "main"]) != before
        });
        assert_eq!(
            git(remote, &["log", "-1", "--format=%an <%ae>%n%B", "main"]),
            "bosun-bot <bot@example.com>\nbuild: automatic update of api-dev\n\nupdates image acme/api tag '1.2.0' to '1.10.0'"
        );
        let written = Command::new("git")
            .args(["show", "main:api/values.yaml"])
            .current_dir(remote)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&written.stdout),
            values.replace("\"1.2.0\"", "\"1.10.0\"")
        );
        let second = format!("{}/acme/api:1.10.0", registry.address);
        self.eventually(90, "1.10.0 deployed", || {
            self.deployed_image("api-dev").as_deref() == Some(&second)
        });
    }

    /// Commits `yaml` as `file` and has `app` look at Git at once; the commit.
    fn push_and_refresh(&self, file: &str, yaml: &str, message: &str, app: &str) -> String {
        write(&self.repo, file, yaml);
        let commit = self.commit(message);
        let out = self.bosun(DEPLOYER, &["app", "refresh", app]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        commit
    }

    /// Whether `app`'s last operation is the rollback bosun made by itself after an analysis
    /// aborted its Rollout (named as the app, in the namespace of that name), back to `good`.
    fn rolled_back_by_analysis(&self, app: &str, good: &str) -> bool {
        let out = self.bosun(ADMIN, &["app", "history", app, "-o", "json"]);
        let history: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let op = &history["items"][0];
        op["kind"] == "rollback"
            && op["initiatedBy"] == format!("automated (analysis aborted Rollout {app}/{app})")
            && op["phase"] == "Succeeded"
            && op["revisions"] == json!([good])
    }

    fn rollout(&self, name: &str) -> Value {
        let out = self.bosun(ADMIN, &["rollout", "get", name, "-o", "json"]);
        if !out.status.success() {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// The `rollouts-pod-template-hash` a Service selects.
    fn selected_hash(&self, ns: &str, service: &str) -> Value {
        let out = self.kubectl(&["get", "service", service, "-n", ns, "-o", "json"]);
        let svc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        svc["spec"]["selector"]["rollouts-pod-template-hash"].clone()
    }

    /// The name of the ReplicaSet of revision `revision` in a `bosun rollout get` view.
    fn replica_set_of(view: &Value, revision: u64) -> String {
        view["revisions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["revision"] == revision)
            .and_then(|r| r["replicaSet"].as_str())
            .unwrap_or_else(|| panic!("no revision {revision}: {view}"))
            .to_string()
    }

    /// (revision, desired replicas) of each ReplicaSet of the Rollout, oldest first.
    fn revisions(view: &Value) -> Vec<(u64, i64)> {
        let mut r: Vec<(u64, i64)> = view["revisions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["revision"].as_u64().unwrap(),
                    r["desired"].as_i64().unwrap(),
                )
            })
            .collect();
        r.sort();
        r
    }
}

/// A Rollout from Git, driven by bosun with no Argo controller: the CRD is installed, the first
/// revision skips the steps, a new image walks 20 % → pause → (promote) → 60 % → timed pause →
/// 100 %, with the canary and stable Services pinned to their revisions and the Application's
/// health following (Suspended while paused); an abort puts everything back on stable
/// (Degraded), and retry starts the steps again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_rollout_walks_its_steps_and_is_promoted_aborted_and_retried() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "web/rollout.yaml", &rollout_yaml("web:1"));
    env.commit("a rollout");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy" && view["summary"]["available"] == 5
    });
    let view = env.rollout("web");
    assert_eq!(Env::revisions(&view), vec![(1, 5)]);
    assert_eq!(
        view["summary"]["step"], 4,
        "the first deploy skips the steps"
    );
    let stable = view["summary"]["stableHash"].clone();
    assert_eq!(env.selected_hash("web", "web-stable"), stable);
    // kubectl sees the CRD bosun installed, with Argo's short name.
    let out = env.kubectl(&["get", "ro", "web", "-n", "web", "-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "the Application Healthy", || {
        env.app_json("web")["status"]["health"]["status"] == "Healthy"
    });

    // A new image: 20 % (one pod of five), then a pause until promoted.
    write(&env.repo, "web/rollout.yaml", &rollout_yaml("web:2"));
    env.commit("web:2");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the canary paused at step 1", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Paused"
            && view["summary"]["step"] == 1
            && Env::revisions(&view) == vec![(1, 4), (2, 1)]
    });
    let canary = env.rollout("web")["summary"]["currentHash"].clone();
    assert_ne!(canary, stable);
    assert_eq!(env.selected_hash("web", "web-canary"), canary);
    assert_eq!(env.selected_hash("web", "web-stable"), stable);
    env.eventually(60, "the Application Suspended", || {
        env.app_json("web")["status"]["health"]["status"] == "Suspended"
    });
    // A viewer may not promote.
    let out = env.bosun(VIEWER, &["rollout", "promote", "web"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.bosun(DEPLOYER, &["rollout", "promote", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(
        90,
        "60 %, the timed pause, then all on the new revision",
        || {
            let view = env.rollout("web");
            view["summary"]["phase"] == "Healthy"
                && view["summary"]["stableHash"] == canary
                && Env::revisions(&view) == vec![(1, 0), (2, 5)]
        },
    );
    assert_eq!(env.selected_hash("web", "web-stable"), canary);

    // Another image, aborted at its first pause: everything back on stable.
    write(&env.repo, "web/rollout.yaml", &rollout_yaml("web:3"));
    env.commit("web:3");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the third revision paused", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Paused"
            && Env::revisions(&view) == vec![(1, 0), (2, 4), (3, 1)]
    });
    let out = env.bosun(DEPLOYER, &["rollout", "abort", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the abort", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Degraded"
            && Env::revisions(&view) == vec![(1, 0), (2, 5), (3, 0)]
    });
    assert_eq!(
        env.rollout("web")["summary"]["message"],
        "RolloutAborted: Rollout aborted update to revision 3"
    );
    env.eventually(60, "the Application Degraded", || {
        env.app_json("web")["status"]["health"]["status"] == "Degraded"
    });
    let out = env.bosun(DEPLOYER, &["rollout", "retry", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the retried revision paused at step 1 again", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Paused"
            && Env::revisions(&view) == vec![(1, 0), (2, 4), (3, 1)]
    });
    let log = env.log();
    assert!(log.contains("installed the Argo Rollouts CRDs"), "{log}");
}

fn blue_green_yaml(image: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: shop\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {{app: shop}}\n  template:\n    metadata:\n      labels: {{app: shop}}\n    spec:\n      containers:\n      - name: shop\n        image: {image}\n  strategy:\n    blueGreen:\n      activeService: shop\n      previewService: shop-preview\n      autoPromotionEnabled: false\n      scaleDownDelaySeconds: 3\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: shop\nspec:\n  selector: {{app: shop}}\n  ports:\n  - port: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: shop-preview\nspec:\n  selector: {{app: shop}}\n  ports:\n  - port: 80\n"
    )
}

/// A loopback endpoint for a `web` metric: answers `{"healthy": V}` with `value`'s V at the time
/// of each request; on its own thread, so that the test's blocking waits cannot starve it.
fn health_endpoint(value: std::sync::Arc<std::sync::atomic::AtomicU8>) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let value = value.load(std::sync::atomic::Ordering::SeqCst);
            let body = format!("{{\"healthy\": {value}}}");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn post_promotion_yaml(image: &str, port: u16) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: smoke\nspec:\n  metrics:\n  - name: smoke\n    successCondition: result == 1\n    provider:\n      web:\n        url: http://127.0.0.1:{port}/health\n        jsonPath: \"{{$.healthy}}\"\n---\n{}",
        blue_green_yaml(image).replace(
            "      autoPromotionEnabled: false\n",
            "      postPromotionAnalysis:\n        templates:\n        - templateName: smoke\n"
        )
    )
}

/// Blue-green with `postPromotionAnalysis` (a `web` metric): a good version is switched to,
/// judged and made stable; a bad one is switched to, fails its run, and the active Service goes
/// back to the old side, which never went down — then the automated Application is rolled back to
/// the good commit and, with `rollouts.onAbort: revert`, a commit putting its folder back as it
/// was is pushed to Git and deployed, ending the hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_post_promotion_analysis_switches_a_bad_version_back() {
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(1));
    let port = health_endpoint(healthy.clone());
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(
        &env.repo,
        "shop/rollout.yaml",
        &post_promotion_yaml("shop:1", port),
    );
    env.commit("shop:1");
    // bosun pushes its revert to this (checked-out) repository, as to a server.
    git(
        &env.repo,
        &["config", "receive.denyCurrentBranch", "updateInstead"],
    );
    env.app("shop", "shop", "shop", AUTO);
    let config = env.config("1h");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}rollouts:\n  onAbort: revert\n  author: {{name: bosun-bot, email: bot@example.com}}\n"),
    )
    .unwrap();
    env.serve_config(&config);
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("shop")["summary"]["phase"] == "Healthy"
    });
    let good = env.push_and_refresh(
        "shop/rollout.yaml",
        &post_promotion_yaml("shop:2", port),
        "shop:2",
        "shop",
    );
    env.eventually(90, "shop:2 judged, stable, and the old side down", || {
        let view = env.rollout("shop");
        view["summary"]["phase"] == "Healthy"
            && Env::revisions(&view) == vec![(1, 0), (2, 3)]
            && view["summary"]["stableHash"] == view["summary"]["currentHash"]
    });
    let green = env.rollout("shop")["summary"]["currentHash"].clone();
    assert_eq!(env.selected_hash("shop", "shop"), green);
    let view = env.rollout("shop");
    assert!(
        view["analysisRuns"].as_array().unwrap().iter().any(|r| {
            r["name"].as_str().is_some_and(|n| n.ends_with("-2-post")) && r["phase"] == "Successful"
        }),
        "{view}"
    );

    healthy.store(0, std::sync::atomic::Ordering::SeqCst);
    env.push_and_refresh(
        "shop/rollout.yaml",
        &post_promotion_yaml("shop:3", port),
        "shop:3",
        "shop",
    );
    env.eventually(
        120,
        "shop:3 failed after the switch and rolled back",
        || {
            let history = env.bosun(ADMIN, &["app", "history", "shop", "-o", "json"]);
            let history: Value = serde_json::from_slice(&history.stdout).unwrap_or(Value::Null);
            history["items"][0]["kind"] == "rollback"
                && history["items"][0]["initiatedBy"]
                    == "automated (analysis aborted Rollout shop/shop)"
                && history["items"][0]["phase"] == "Succeeded"
                && history["items"][0]["revisions"] == json!([good])
        },
    );
    let log = env.log();
    assert!(
        log.contains("Blue/green post-promotion analysis phase error/failed")
            && log.contains("smoke measured 0"),
        "{log}"
    );
    env.eventually(60, "shop:2 active and Healthy again, shop:3 down", || {
        let view = env.rollout("shop");
        view["summary"]["phase"] == "Healthy"
            && view["summary"]["currentHash"] == green
            && view["revisions"].as_array().is_some_and(|revisions| {
                revisions
                    .iter()
                    .all(|r| r["desired"] == if r["hash"] == green { 3 } else { 0 })
            })
    });
    assert_eq!(env.selected_hash("shop", "shop"), green);
    assert_eq!(env.selected_hash("shop", "shop-preview"), green);

    // The revert commit: on the branch, by the configured author, naming the Rollout and the
    // values; the folder is as it was at the good commit.
    env.eventually(60, "the revert commit pushed", || {
        git(&env.repo, &["log", "-1", "--format=%an|%s"])
            == format!("bosun-bot|Revert shop to {}", &good[..7])
    });
    let body = git(&env.repo, &["log", "-1", "--format=%b"]);
    assert!(
        body.contains("analysis aborted Rollout shop/shop") && body.contains("smoke measured 0"),
        "{body}"
    );
    let revert = git(&env.repo, &["rev-parse", "HEAD"]);
    assert_eq!(
        git(&env.repo, &["diff", &good, &revert, "--", "shop"]),
        "",
        "the folder is as it was at the good commit"
    );
    // Git moved past the rejected commit: the hold ends, and the revert (what runs already) is
    // in sync with nothing to apply — as Argo CD, auto-sync acts only on OutOfSync.
    let out = env.bosun(DEPLOYER, &["app", "refresh", "shop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(
        60,
        "the Application Synced at the revert commit, the hold gone",
        || {
            let app = env.app_json("shop");
            app["status"]["sync"]["revision"] == revert.as_str()
                && app["status"]["sync"]["status"] == "Synced"
                && app["status"]["conditions"]
                    .as_array()
                    .is_none_or(|c| c.iter().all(|c| c["type"] != "AutoSyncPaused"))
        },
    );
    assert_eq!(env.rollout("shop")["summary"]["currentHash"], green);
}

fn judged_canary_yaml(image: &str, port: u16) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: health\nspec:\n  metrics:\n  - name: health\n    interval: 1s\n    count: 4\n    successCondition: result == 1\n    failureCondition: result == 0\n    provider:\n      web:\n        url: http://127.0.0.1:{port}/health\n        jsonPath: \"{{$.healthy}}\"\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  replicas: 4\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n  strategy:\n    canary:\n      steps:\n      - setWeight: 25\n      - analysis:\n          templates:\n          - templateName: health\n      - setWeight: 50\n"
    )
}

/// The run of a Rollout's analysis step, from `bosun rollout get`.
fn step_run(env: &Env) -> Value {
    env.rollout("web")["analysisRuns"]
        .as_array()
        .and_then(|runs| runs.last().cloned())
        .unwrap_or(Value::Null)
}

/// An analysis whose measurements meet neither condition is Inconclusive: the Rollout pauses with
/// `InconclusiveAnalysisRun` for a person, and a promote moves it past the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inconclusive_analysis_pauses_the_rollout_until_promoted() {
    let value = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(2));
    let port = health_endpoint(value.clone());
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(
        &env.repo,
        "web/rollout.yaml",
        &judged_canary_yaml("web:1", port),
    );
    env.commit("web:1");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("web")["summary"]["phase"] == "Healthy"
    });
    env.push_and_refresh(
        "web/rollout.yaml",
        &judged_canary_yaml("web:2", port),
        "web:2",
        "web",
    );
    env.eventually(90, "the Rollout paused on an Inconclusive run", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Paused"
            && view["object"]["status"]["pauseConditions"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["reason"] == "InconclusiveAnalysisRun"))
    });
    let run = step_run(&env);
    assert_eq!(run["phase"], "Inconclusive", "{run}");
    assert_eq!(env.rollout("web")["summary"]["step"], 1);
    let out = env.bosun(DEPLOYER, &["rollout", "promote", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the Rollout past the step and Healthy", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy"
            && view["object"]["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
            && view["summary"]["stableHash"] == view["summary"]["currentHash"]
    });
}

/// `kill -9` of `bosun serve` while an analysis run is measuring: the restarted server carries
/// the same run on from the measurements it had (they are in the run's status), and the run
/// ends with all of its count, none taken twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_an_analysis_then_restart_resumes_its_measurements() {
    let value = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(1));
    let port = health_endpoint(value.clone());
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(
        &env.repo,
        "web/rollout.yaml",
        &judged_canary_yaml("web:1", port),
    );
    env.commit("web:1");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("web")["summary"]["phase"] == "Healthy"
    });
    env.push_and_refresh(
        "web/rollout.yaml",
        &judged_canary_yaml("web:2", port),
        "web:2",
        "web",
    );
    let measured = |run: &Value| -> Vec<Value> {
        run["metricResults"][0]["measurements"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    env.eventually(90, "two measurements taken", || {
        let run = step_run(&env);
        run["phase"] == "Running" && measured(&run).len() >= 2
    });
    env.kill_server();
    // Read through kubectl: the server is down, the run is in the cluster.
    let out = env.kubectl(&["get", "analysisruns", "-n", "web", "-o", "json"]);
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stored = runs["items"].as_array().unwrap().last().unwrap().clone();
    let taken = stored["status"]["metricResults"][0]["measurements"]
        .as_array()
        .cloned()
        .unwrap();
    assert!(taken.len() >= 2 && taken.len() < 4, "{stored}");
    env.serve("1h");
    env.eventually(90, "the same run Successful with its whole count", || {
        let run = step_run(&env);
        run["name"] == stored["metadata"]["name"] && run["phase"] == "Successful"
    });
    let run = step_run(&env);
    let all = measured(&run);
    assert_eq!(all.len(), 4, "{run}");
    assert_eq!(
        all[..taken.len()]
            .iter()
            .map(|m| m["startedAt"].clone())
            .collect::<Vec<_>>(),
        taken
            .iter()
            .map(|m| m["startedAt"].clone())
            .collect::<Vec<_>>(),
        "the measurements from before the kill are kept as they were"
    );
    env.eventually(90, "the Rollout Healthy on web:2", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy"
            && view["summary"]["stableHash"] == view["summary"]["currentHash"]
    });
}

fn pre_promotion_yaml(image: &str, port: u16) -> String {
    post_promotion_yaml(image, port).replace("postPromotionAnalysis:", "prePromotionAnalysis:")
}

/// Blue-green with `prePromotionAnalysis`: a bad preview fails its run before any switch — the
/// active Service never leaves the old side, the preview is scaled down and the automated
/// Application is rolled back to the good commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_pre_promotion_analysis_blocks_a_bad_preview() {
    let value = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(1));
    let port = health_endpoint(value.clone());
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(
        &env.repo,
        "shop/rollout.yaml",
        &pre_promotion_yaml("shop:1", port),
    );
    let good = env.commit("shop:1");
    env.app("shop", "shop", "shop", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("shop")["summary"]["phase"] == "Healthy"
    });
    let blue = env.rollout("shop")["summary"]["currentHash"].clone();
    value.store(0, std::sync::atomic::Ordering::SeqCst);
    env.push_and_refresh(
        "shop/rollout.yaml",
        &pre_promotion_yaml("shop:2", port),
        "shop:2",
        "shop",
    );
    env.eventually(
        120,
        "the bad preview refused and the Application rolled back",
        || {
            let history = env.bosun(ADMIN, &["app", "history", "shop", "-o", "json"]);
            let history: Value = serde_json::from_slice(&history.stdout).unwrap_or(Value::Null);
            history["items"][0]["kind"] == "rollback"
                && history["items"][0]["initiatedBy"]
                    == "automated (analysis aborted Rollout shop/shop)"
                && history["items"][0]["revisions"] == json!([good])
        },
    );
    let log = env.log();
    assert!(
        log.contains("Blue/green pre-promotion analysis phase error/failed"),
        "{log}"
    );
    assert_eq!(
        env.selected_hash("shop", "shop"),
        blue,
        "the active Service never switched"
    );
    env.eventually(60, "shop:1 Healthy, the preview gone", || {
        let view = env.rollout("shop");
        view["summary"]["phase"] == "Healthy"
            && view["summary"]["currentHash"] == blue
            && view["revisions"].as_array().is_some_and(|revisions| {
                revisions
                    .iter()
                    .all(|r| r["desired"] == if r["hash"] == blue { 3 } else { 0 })
            })
    });
    assert_eq!(env.selected_hash("shop", "shop"), blue);
}

/// Blue-green: the new revision comes up behind the preview Service while the active one keeps
/// the old revision; `promote` switches the active Service, and the old side is scaled down
/// once its scale-down delay has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blue_green_rollout_previews_then_switches_on_promote() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "shop/rollout.yaml", &blue_green_yaml("shop:1"));
    env.commit("a blue-green rollout");
    env.app("shop", "shop", "shop", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("shop")["summary"]["phase"] == "Healthy"
    });
    let blue = env.rollout("shop")["summary"]["currentHash"].clone();
    assert_eq!(env.selected_hash("shop", "shop"), blue);
    write(&env.repo, "shop/rollout.yaml", &blue_green_yaml("shop:2"));
    env.commit("shop:2");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "shop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the preview up and paused", || {
        let view = env.rollout("shop");
        view["summary"]["phase"] == "Paused"
            && view["summary"]["message"] == "BlueGreenPause"
            && Env::revisions(&view) == vec![(1, 3), (2, 3)]
    });
    let green = env.rollout("shop")["summary"]["currentHash"].clone();
    assert_eq!(env.selected_hash("shop", "shop-preview"), green);
    assert_eq!(
        env.selected_hash("shop", "shop"),
        blue,
        "active stays until promoted"
    );
    let out = env.bosun(DEPLOYER, &["rollout", "promote", "shop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "the active Service switched", || {
        env.selected_hash("shop", "shop") == green
    });
    env.eventually(60, "the old side scaled down after its delay", || {
        let view = env.rollout("shop");
        view["summary"]["phase"] == "Healthy" && Env::revisions(&view) == vec![(1, 0), (2, 3)]
    });

    // Restart: every pod is recreated, and the restart is recorded.
    let pods = |env: &Env| -> Vec<String> {
        let out = env.kubectl(&["get", "pods", "-n", "shop", "-l", "app=shop", "-o", "json"]);
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let mut names: Vec<String> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .map(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    };
    let before = pods(&env);
    assert_eq!(before.len(), 3, "{before:?}");
    let out = env.bosun(DEPLOYER, &["rollout", "restart", "shop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "every pod recreated and the restart recorded", || {
        let view = env.rollout("shop");
        let now = pods(&env);
        !view["object"]["status"]["restartedAt"].is_null()
            && view["summary"]["phase"] == "Healthy"
            && now.len() == 3
            && now.iter().all(|p| !before.contains(p))
    });

    // Undo: the previous revision's pod template (as its ReplicaSet has it, with the API
    // server's defaults) comes back as the preview, waiting for promotion.
    let out = env.bosun(DEPLOYER, &["rollout", "undo", "shop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(60, "the undone revision in preview", || {
        let view = env.rollout("shop");
        view["summary"]["phase"] == "Paused"
            && view["summary"]["currentHash"] != green
            && view["object"]["spec"]["template"]["spec"]["containers"][0]["image"] == "shop:1"
    });
    let preview = env.rollout("shop")["summary"]["currentHash"].clone();
    assert_eq!(env.selected_hash("shop", "shop-preview"), preview);
    assert_eq!(env.selected_hash("shop", "shop"), green);
}

/// kill -9 of `bosun serve` during a timed pause: after the restart the pause keeps the start
/// time it had (the clock lives in the Rollout's status), and the Rollout completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_a_timed_pause_keeps_its_clock() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    let timed = |image: &str| {
        rollout_yaml(image).replace("      - pause: {}\n", "      - pause: {duration: 8s}\n")
    };
    write(&env.repo, "web/rollout.yaml", &timed("web:1"));
    env.commit("a rollout");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("web")["summary"]["phase"] == "Healthy"
    });
    write(&env.repo, "web/rollout.yaml", &timed("web:2"));
    env.commit("web:2");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut started = Value::Null;
    env.eventually(90, "the timed pause", || {
        let view = env.rollout("web");
        started = view["object"]["status"]["pauseConditions"][0]["startTime"].clone();
        view["summary"]["phase"] == "Paused" && view["summary"]["step"] == 1
    });
    env.kill_server();
    env.serve("1h");
    env.eventually(30, "the restarted server to drive the Rollout", || {
        !env.rollout("web").is_null()
    });
    let view = env.rollout("web");
    if view["summary"]["step"] == 1 {
        assert_eq!(
            view["object"]["status"]["pauseConditions"][0]["startTime"], started,
            "the pause clock restarted"
        );
    }
    env.eventually(90, "the rollout completed", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy" && Env::revisions(&view) == vec![(1, 0), (2, 5)]
    });
    // The pause was not cut short by the restart (a restarted server that decided before its
    // caches were filled saw no ReplicaSets and started the revision over).
    let started: jiff::Timestamp = started.as_str().unwrap().parse().unwrap();
    assert!(
        jiff::Timestamp::now() >= started + jiff::SignedDuration::from_secs(8),
        "the 8 s pause that began at {started} ended early"
    );

    // A third image aborted at its pause, and the server killed right after the abort: the
    // restarted server finishes the abort (the abort lives in the Rollout's status, not in the
    // process).
    write(&env.repo, "web/rollout.yaml", &timed("web:3"));
    env.commit("web:3");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the third revision paused", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Paused"
            && Env::revisions(&view) == vec![(1, 0), (2, 4), (3, 1)]
    });
    let out = env.bosun(DEPLOYER, &["rollout", "abort", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.kill_server();
    env.serve("1h");
    env.eventually(90, "the abort finished by the restarted server", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Degraded"
            && Env::revisions(&view) == vec![(1, 0), (2, 5), (3, 0)]
    });
}

/// A CRD of `group`/`kind` that keeps whatever it is given (the routing kinds of Istio and the
/// Gateway API, as far as these tests need them).
fn open_crd(group: &str, kind: &str, plural: &str, version: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.{group}\nspec:\n  group: {group}\n  names: {{kind: {kind}, plural: {plural}, singular: {}, listKind: {kind}List}}\n  scope: Namespaced\n  versions:\n  - name: {version}\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}\n---\n",
        kind.to_lowercase()
    )
}

fn routed_yaml(image: &str) -> String {
    let service = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector: {{app: web}}\n  ports:\n  - port: 80\n---\n"
        )
    };
    format!(
        "{}{}{}{}apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: web\nspec:\n  hosts: [web]\n  http:\n  - name: primary\n    route:\n    - destination: {{host: web-stable}}\n      weight: 100\n    - destination: {{host: web-canary}}\n      weight: 0\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\nspec:\n  rules:\n  - backendRefs:\n    - {{name: web-stable, port: 80, weight: 100}}\n    - {{name: web-canary, port: 80, weight: 0}}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  ingressClassName: nginx\n  rules:\n  - host: shop.example\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service: {{name: web-stable, port: {{number: 80}}}}\n---\n{}{}apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  replicas: 4\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n  strategy:\n    canary:\n      canaryService: web-canary\n      stableService: web-stable\n      scaleDownDelaySeconds: 2\n      trafficRouting:\n        istio:\n          virtualService: {{name: web, routes: [primary]}}\n        nginx:\n          stableIngress: web\n        plugins:\n          argoproj-labs/gatewayAPI: {{httpRoute: web}}\n      steps:\n      - setWeight: 25\n      - pause: {{}}\n",
        open_crd(
            "networking.istio.io",
            "VirtualService",
            "virtualservices",
            "v1beta1"
        ),
        open_crd("gateway.networking.k8s.io", "HTTPRoute", "httproutes", "v1"),
        "",
        "",
        service("web-stable"),
        service("web-canary"),
    )
}

/// A canary with three routers at once (an Istio VirtualService, an NGINX canary Ingress and a
/// Gateway API HTTPRoute, their CRDs written here): the weight reaches each of them at the
/// step, the stable keeps its pods, and after promotion the routers send everything to the
/// new stable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_canary_sets_istio_nginx_and_gateway_api_weights() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "web/all.yaml", &routed_yaml("web:1"));
    env.commit("a routed rollout");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("web")["summary"]["phase"] == "Healthy"
    });
    let get = |kind: &str, name: &str| -> Value {
        let out = env.kubectl(&["get", kind, name, "-n", "web", "-o", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    let istio = |get: &dyn Fn(&str, &str) -> Value| {
        let vs = get("virtualservices.networking.istio.io", "web");
        let route = &vs["spec"]["http"][0]["route"];
        (route[0]["weight"].clone(), route[1]["weight"].clone())
    };
    let gateway = |get: &dyn Fn(&str, &str) -> Value| {
        let r = get("httproutes.gateway.networking.k8s.io", "web");
        let refs = &r["spec"]["rules"][0]["backendRefs"];
        (refs[0]["weight"].clone(), refs[1]["weight"].clone())
    };
    write(&env.repo, "web/all.yaml", &routed_yaml("web:2"));
    env.commit("web:2");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "25 % on every router, paused", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Paused"
            && istio(&get) == (json!(75), json!(25))
            && gateway(&get) == (json!(75), json!(25))
            && get("ingress", "web-web-canary")["metadata"]["annotations"]
                ["nginx.ingress.kubernetes.io/canary-weight"]
                == "25"
    });
    let view = env.rollout("web");
    assert_eq!(
        Env::revisions(&view),
        vec![(1, 4), (2, 1)],
        "the stable keeps its pods"
    );
    assert_eq!(
        view["object"]["status"]["canary"]["weights"]["canary"]["weight"],
        25
    );
    let canary = get("ingress", "web-web-canary");
    assert_eq!(
        canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"],
        "true"
    );
    assert_eq!(
        canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "web-canary"
    );
    let out = env.bosun(DEPLOYER, &["rollout", "promote", "web", "--full"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(
        90,
        "promoted: the routers back on the (new) stable, the old pods gone",
        || {
            let view = env.rollout("web");
            view["summary"]["phase"] == "Healthy"
                && view["summary"]["stableHash"] == view["summary"]["currentHash"]
                && istio(&get) == (json!(100), json!(0))
                && gateway(&get) == (json!(100), json!(0))
                && Env::revisions(&view) == vec![(1, 0), (2, 4)]
        },
    );
    assert_eq!(
        env.selected_hash("web", "web-stable"),
        env.rollout("web")["summary"]["currentHash"]
    );
}

/// The routed canary with an analysis step between its weight and its pause: three
/// measurements of a loopback `web` metric, 2 s apart.
fn routed_analysed_yaml(image: &str, port: u16) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: smoke\nspec:\n  metrics:\n  - name: smoke\n    count: 3\n    interval: 2s\n    successCondition: result == 1\n    provider:\n      web:\n        url: http://127.0.0.1:{port}/health\n        jsonPath: \"{{$.healthy}}\"\n---\n{}",
        routed_yaml(image).replace(
            "      - setWeight: 25\n      - pause: {}\n",
            "      - setWeight: 25\n      - analysis:\n          templates:\n          - templateName: smoke\n      - pause: {}\n"
        )
    )
}

/// A Rollout's part of its Application's page, followed live in the browser: the router's
/// weight, the current step highlighted, the ReplicaSets with their roles, and the step's
/// AnalysisRun with each measurement appearing as it is taken (the Rollout event stream's
/// `changes`, no reload), value, phase and times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollout_view_shows_weights_and_every_measurement_live() {
    use common::browser::Browser;
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(1));
    let port = health_endpoint(healthy);
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(
        &env.repo,
        "web/all.yaml",
        &routed_analysed_yaml("web:1", port),
    );
    env.commit("a routed, analysed rollout");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("web")["summary"]["phase"] == "Healthy"
    });
    // Read in one script, at one instant: the page re-renders itself as the Rollout changes,
    // which would make elements found one call earlier stale.
    let texts = async |b: &Browser, css: &str| -> Vec<String> {
        let found = b
            .client
            .execute(
                "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText.replace(/\\s+/g, ' ').trim());",
                vec![json!(css)],
            )
            .await
            .unwrap_or_default();
        serde_json::from_value(found).unwrap_or_default()
    };
    let browser = Browser::start().await;
    let b = &browser.client;
    b.goto(&format!("{}/ui/applications/web", env.api))
        .await
        .unwrap();
    browser.submit_token(VIEWER).await;
    browser
        .until(20, "the Rollout on the page", async |b| {
            b.text("section.rollout h3").await.contains("Rollout web")
        })
        .await;
    assert!(
        texts(&browser, "section.rollout p.weights")
            .await
            .concat()
            .starts_with("Traffic: canary 0 % · stable 100 %")
    );
    b.execute("window.notReloaded = true;", vec![])
        .await
        .unwrap();

    write(
        &env.repo,
        "web/all.yaml",
        &routed_analysed_yaml("web:2", port),
    );
    env.commit("web:2");
    env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    let measurements =
        "details.analysis section.metric[data-metric=\"smoke\"] table.measurements tbody tr";
    // Each measurement shows up as it is taken, one at a time.
    browser
        .until(90, "the weight set and one measurement", async |b| {
            texts(b, "section.rollout p.weights")
                .await
                .concat()
                .contains("canary 25 % · stable 75 %")
                && texts(b, measurements).await.len() == 1
        })
        .await;
    browser
        .until(30, "a second measurement", async |b| {
            texts(b, measurements).await.len() == 2
        })
        .await;
    browser
        .until(30, "the third measurement and the pause", async |b| {
            texts(b, measurements).await.len() == 3
                && texts(b, "section.rollout li[aria-current=\"step\"]").await
                    == ["pause until promoted"]
                && texts(b, "details.analysis summary")
                    .await
                    .concat()
                    .contains("Successful")
        })
        .await;
    let page = texts(
        &browser,
        &format!("{measurements}, details.analysis summary, section.rollout p.weights, table.revisions tr[data-role=\"canary\"], table.revisions tr[data-role=\"stable\"]"),
    )
    .await;
    // In document order: the weights, the revisions, the run, its measurements ("#", value,
    // phase, started, finished).
    assert_eq!(page.len(), 7, "{page:?}");
    assert!(
        page[0].starts_with("Traffic: canary 25 % · stable 75 %")
            && page[0].contains("set on the traffic router"),
        "{page:?}"
    );
    assert!(
        page[1].starts_with("2 canary") && page[1].contains("1/1"),
        "{page:?}"
    );
    assert!(
        page[2].starts_with("1 stable") && page[2].contains("4/4"),
        "{page:?}"
    );
    assert!(
        page[3].contains("Successful") && page[3].contains("at step 1 (analysis smoke)"),
        "{page:?}"
    );
    for n in 1..=3 {
        assert!(
            page[3 + n].starts_with(&format!("{n} 1 Successful 20")),
            "{page:?}"
        );
    }
    let same_page = b
        .execute("return window.notReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, serde_json::json!(true), "the page was reloaded");
    b.execute(
        "document.querySelector('section.rollout').scrollIntoView();",
        vec![],
    )
    .await
    .unwrap();
    browser.screenshot("app-rollout-analysis").await;
}

fn workload_ref_yaml(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: legacy\nspec:\n  selector:\n    matchLabels: {{app: legacy}}\n  template:\n    metadata:\n      labels: {{app: legacy}}\n    spec:\n      containers:\n      - name: legacy\n        image: {image}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: legacy\nspec:\n  workloadRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: legacy\n    scaleDown: onsuccess\n  strategy:\n    canary:\n      steps:\n      - setWeight: 50\n      - pause: {{}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: legacy\nspec:\n  scaleTargetRef:\n    apiVersion: argoproj.io/v1alpha1\n    kind: Rollout\n    name: legacy\n  minReplicas: 4\n  maxReplicas: 8\n"
    )
}

/// A Deployment moved under a Rollout unchanged (`workloadRef`, `scaleDown: onsuccess`), with
/// an HPA on the Rollout: the HPA scales the Rollout through its scale subresource to its
/// minimum, the Rollout runs the Deployment's pod template, the Deployment is scaled to zero
/// once the Rollout is Healthy, and a change of the Deployment's template in Git walks the
/// Rollout's steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_takes_over_a_deployment_and_is_scaled_by_an_hpa() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "legacy/all.yaml", &workload_ref_yaml("legacy:1"));
    env.commit("legacy under a rollout");
    env.app("legacy", "legacy", "legacy", AUTO);
    env.serve("1h");
    let get = |env: &Env, kind: &str| -> Value {
        let out = env.kubectl(&["get", kind, "legacy", "-n", "legacy", "-o", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    env.eventually(
        90,
        "the HPA's minimum reached through the Rollout, the Deployment at zero",
        || {
            let view = env.rollout("legacy");
            view["summary"]["phase"] == "Healthy"
                && view["summary"]["ready"] == 4
                && get(&env, "deployment")["spec"]["replicas"] == 0
                && get(&env, "hpa")["status"]["currentReplicas"] == 4
        },
    );
    let rollout = get(&env, "rollout");
    assert_eq!(rollout["status"]["HPAReplicas"], 4, "{rollout}");
    assert_eq!(rollout["status"]["selector"], "app=legacy", "{rollout}");
    assert_eq!(
        rollout["status"]["workloadObservedGeneration"],
        get(&env, "deployment")["metadata"]["generation"].to_string(),
        "{rollout}"
    );
    let view = env.rollout("legacy");
    let template = &view["object"]["spec"]["template"];
    assert!(
        template.is_null(),
        "the Rollout's own spec is left as written: {view}"
    );
    env.eventually(60, "the Application Synced and Healthy", || {
        let app = env.app_json("legacy");
        app["status"]["sync"]["status"] == "Synced"
            && app["status"]["health"]["status"] == "Healthy"
    });

    // The Deployment's template changes in Git: the Rollout walks its steps with it.
    let stable = view["summary"]["stableHash"].clone();
    write(&env.repo, "legacy/all.yaml", &workload_ref_yaml("legacy:2"));
    env.commit("legacy:2");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "legacy"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the new template paused at 50 %", || {
        let view = env.rollout("legacy");
        view["summary"]["phase"] == "Paused" && Env::revisions(&view) == vec![(1, 2), (2, 2)]
    });
    let out = env.bosun(DEPLOYER, &["rollout", "promote", "legacy"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(90, "the new template stable", || {
        let view = env.rollout("legacy");
        view["summary"]["phase"] == "Healthy"
            && view["summary"]["stableHash"] != stable
            && Env::revisions(&view) == vec![(1, 0), (2, 4)]
    });
    assert_eq!(get(&env, "deployment")["spec"]["replicas"], 0);
}

/// A real Prometheus (Debian's `prometheus`, installed by scripts/install-tools) scraping the
/// local cluster's simulated traffic every second, on a free loopback port; stopped on drop.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(cluster_url: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let target = cluster_url.trim_start_matches("http://");
        std::fs::write(
            dir.path().join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: bosun-cluster\n  static_configs:\n  - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus (Debian package `prometheus`; scripts/install-tools installs it)");
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new("curl")
                .args(["-sf", &format!("{}/-/ready", prometheus.url)])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return prometheus;
            }
            assert!(Instant::now() < deadline, "Prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The seeds' canary judged by the seeds' success-rate query on a real Prometheus, narrowed to
/// the canary's pods (`podTemplateHashValue: Latest`) and to a short window for a test: the pods'
/// answers come from the local cluster's simulated traffic.
/// `kubectl get replicasets --watch` in the background: every `spec.replicas` each ReplicaSet
/// of a namespace was given, in order (the watch sees each scale as it is written).
struct ReplicaSetWatch {
    child: Child,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, i64)>>>,
}

impl ReplicaSetWatch {
    fn start(env: &Env, namespace: &str) -> ReplicaSetWatch {
        let mut child = Command::new(tools().join("bin/kubectl"))
            .args([
                "get",
                "replicasets",
                "-n",
                namespace,
                "--watch",
                "-o",
                "json",
            ])
            .env("KUBECONFIG", &env.kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl get --watch");
        let stdout = child.stdout.take().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for rs in serde_json::Deserializer::from_reader(stdout).into_iter::<Value>() {
                let Ok(rs) = rs else { return };
                let name = rs["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let replicas = rs["spec"]["replicas"].as_i64().unwrap_or(-1);
                record.lock().unwrap().push((name, replicas));
            }
        });
        ReplicaSetWatch { child, seen }
    }

    /// The replica counts `name` went through, each once, leaving out the 0 it starts at.
    fn steps_of(&self, name: &str) -> Vec<i64> {
        let mut steps: Vec<i64> = Vec::new();
        for (_, replicas) in self.seen.lock().unwrap().iter().filter(|(n, _)| n == name) {
            if *replicas > 0 && steps.last() != Some(replicas) {
                steps.push(*replicas);
            }
        }
        steps
    }
}

impl Drop for ReplicaSetWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn analysed_rollout_yaml(image: &str, error_rate: &str) -> String {
    analysed_rollout_yaml_from(image, &format!("value: \"{error_rate}\""))
}

/// [`analysed_rollout_yaml`] whose container takes `SIMULATED_ERROR_RATE` from `source` (the
/// rest of the env entry after its name, and any further container fields).
fn analysed_rollout_yaml_from(image: &str, source: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: success-rate\nspec:\n  args:\n  - name: service-name\n  - name: canary-hash\n  metrics:\n  - name: success-rate\n    initialDelay: 4s\n    interval: 2s\n    count: 5\n    failureLimit: 3\n    successCondition: result[0] >= 0.99\n    provider:\n      prometheus:\n        address: {{{{PROMETHEUS}}}}\n        query: |\n          sum(rate(http_requests_total{{\n            service=\"{{{{args.service-name}}}}\", rollouts_pod_template_hash=\"{{{{args.canary-hash}}}}\",\n            status=~\"2..\"\n          }}[20s])) /\n          sum(rate(http_requests_total{{\n            service=\"{{{{args.service-name}}}}\", rollouts_pod_template_hash=\"{{{{args.canary-hash}}}}\"\n          }}[20s]))\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n  replicas: 10\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n        env:\n        - name: SIMULATED_ERROR_RATE\n          {source}\n  strategy:\n    canary:\n      steps:\n      - setWeight: 10\n      - analysis:\n          templates:\n          - templateName: success-rate\n          args:\n          - name: service-name\n            value: web\n          - name: canary-hash\n            valueFrom:\n              podTemplateHashValue: Latest\n      - setWeight: 30\n      - setWeight: 50\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    bosun.dev/simulated-requests-per-second: \"200\"\nspec:\n  selector: {{app: web}}\n  ports:\n  - port: 80\n"
    )
}

/// Analysis on a real Prometheus: a good version passes its analysis step and walks to 100 %;
/// a version that answers 30 % of its requests with 500 fails `result[0] >= 0.99` and is
/// aborted by bosun itself, everything back on the stable, the Rollout and the Application
/// Degraded with the failing metric in the message; the AnalysisRuns are real objects with
/// Argo's status and measurements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_is_judged_by_prometheus_and_a_bad_version_is_rolled_back() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    let prometheus = Prometheus::start(&env.cluster.as_ref().unwrap().url());
    let yaml = |image: &str, errors: &str| {
        analysed_rollout_yaml(image, errors).replace("{{PROMETHEUS}}", &prometheus.url)
    };
    write(&env.repo, "web/all.yaml", &yaml("web:1", "0"));
    env.commit("a rollout judged by prometheus");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("web")["summary"]["phase"] == "Healthy"
    });

    // A good version: its run measures 1.0 five times and the canary walks 10 → 30 → 50 → 100 %
    // of 10 replicas, as a watch of the ReplicaSets sees them scaled.
    let scaled = ReplicaSetWatch::start(&env, "web");
    write(&env.repo, "web/all.yaml", &yaml("web:2", "0"));
    env.commit("web:2");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(120, "the good version through its analysis", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy" && Env::revisions(&view) == vec![(1, 0), (2, 10)]
    });
    let view = env.rollout("web");
    let canary = Env::replica_set_of(&view, 2);
    // 1, 3, 5 at 10, 30 and 50 %, then up to 10 within maxSurge (25 %: 8 first while the stable
    // side still has 5), never back down a step.
    let steps = scaled.steps_of(&canary);
    assert!(
        steps.starts_with(&[1, 3, 5])
            && steps.last() == Some(&10)
            && steps.windows(2).all(|w| w[0] < w[1]),
        "the canary's replicas at 10, 30, 50 and 100 %: {steps:?}"
    );
    let run = &view["analysisRuns"][0];
    assert_eq!(run["phase"], "Successful", "{run}");
    assert_eq!(run["rolloutType"], "Step");
    assert_eq!(run["stepIndex"], 1);
    let metric = &run["metricResults"][0];
    assert_eq!(metric["count"], 5, "{metric}");
    // (A first measurement may find no data yet: an Error, retried, never a pass.)
    for m in metric["measurements"].as_array().unwrap() {
        match m["phase"].as_str().unwrap() {
            "Successful" => assert_eq!(m["value"], "[1]", "{metric}"),
            "Error" => assert!(
                m["message"].as_str().unwrap().contains("no data returned"),
                "{metric}"
            ),
            other => panic!("a {other} measurement of the good version: {metric}"),
        }
    }
    let out = env.kubectl(&["get", "analysisruns.argoproj.io", "-n", "web", "-o", "json"]);
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs["items"][0]["status"]["phase"], "Successful");
    assert!(
        runs["items"][0]["status"]["metricResults"][0]["metadata"]["ResolvedPrometheusQuery"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "rollouts_pod_template_hash=\"{}\"",
                view["summary"]["stableHash"].as_str().unwrap()
            )),
        "the canary's hash reached the query"
    );

    // A bad version, the seeds' case: 5 % errors on the canary, a success rate of 0.95 against
    // `result[0] >= 0.99`; four failed measurements > failureLimit 3. bosun
    // aborts the Rollout (everything back on stable), then rolls the Application back to the
    // last good revision and holds it there: Git still names web:3, and auto-sync must not
    // deploy it again.
    let good_commit = git(&env.repo, &["rev-parse", "HEAD"]);
    write(&env.repo, "web/all.yaml", &yaml("web:3", "0.05"));
    env.commit("web:3");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(
        120,
        "the bad version aborted by its analysis and rolled back",
        || env.rolled_back_by_analysis("web", &good_commit),
    );
    let log = env.log();
    assert!(
        log.contains("analysis aborted the rollout: rolling back")
            && log.contains("Step-based analysis phase error/failed")
            && log.contains("assessed Failed due to failed (4) > failureLimit (3)")
            // The values measured, beside Argo's words for the limit.
            && log.contains("(success-rate measured [0.9"),
        "{log}"
    );
    env.eventually(60, "the Rollout back on the good version", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy"
            && Env::revisions(&view) == vec![(1, 0), (2, 10), (3, 0)]
            && view["object"]["spec"]["template"]["spec"]["containers"][0]["image"] == "web:2"
    });
    let view = env.rollout("web");
    let run = view["analysisRuns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["phase"] == "Failed")
        .cloned()
        .expect("the failed run");
    assert_eq!(
        run["message"],
        "Metric \"success-rate\" assessed Failed due to failed (4) > failureLimit (3)"
    );
    let values: Vec<&str> = run["metricResults"][0]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert!(
        values
            .iter()
            .any(|v| v.starts_with("[0.94") || v.starts_with("[0.95")),
        "the canary's success rate is measured as 0.95 (Prometheus' rate extrapolates): {values:?}"
    );
    assert!(
        view["analysisRuns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["name"].as_str().unwrap().contains('.')),
        "one run per step and revision: {view}"
    );
    let out = env.bosun(ADMIN, &["rollout", "get", "web"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Analysis runs:") && text.contains("success-rate: Failed"),
        "{text}"
    );
    // Held: a whole reconcile after the refresh leaves web:2 in place, and says why.
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app = env.app_json("web");
    assert_eq!(
        app["status"]["sync"]["status"], "OutOfSync",
        "Git still names web:3"
    );
    assert!(
        app["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "AutoSyncPaused")),
        "{app}"
    );
    assert_eq!(
        env.rollout("web")["object"]["spec"]["template"]["spec"]["containers"][0]["image"],
        "web:2"
    );

    // A fixed version: Git moves past the bad commit, the hold ends, and it goes out.
    write(&env.repo, "web/all.yaml", &yaml("web:4", "0"));
    env.commit("web:4");
    let out = env.bosun(DEPLOYER, &["app", "refresh", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.eventually(120, "the fixed version through its analysis", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy"
            && view["object"]["spec"]["template"]["spec"]["containers"][0]["image"] == "web:4"
            && Env::revisions(&view).last() == Some(&(4, 10))
    });
}

/// The error rate from the ConfigMap `web-config` (key `value`), and a Secret's keys in the
/// environment: config the revision includes.
const CONFIG_SOURCE: &str = "valueFrom: {configMapKeyRef: {name: web-config, key: value}}\n        envFrom: [{secretRef: {name: web-secret}}]";

/// Config versioning (docs/rollouts.md): a commit that changes only the ConfigMap a canary's
/// error rate comes from is a new revision, judged by Prometheus like an image change; its
/// analysis fails, the Rollout aborts, and the stable pods still read their own copy of the old
/// ConfigMap, so traffic back on the stable is good traffic. The copies are the ReplicaSets',
/// never the Application's (not in its resources, never pruned), and the Secret's copy is made
/// without its value reaching the server's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_map_only_change_is_a_revision_judged_and_rolled_back_with_its_config() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    let prometheus = Prometheus::start(&env.cluster.as_ref().unwrap().url());
    write(
        &env.repo,
        "web/all.yaml",
        &analysed_rollout_yaml_from("web:1", CONFIG_SOURCE)
            .replace("{{PROMETHEUS}}", &prometheus.url),
    );
    write(
        &env.repo,
        "web/secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secret\ntype: Opaque\ndata:\n  API_TOKEN: {SECRET_BASE64}\n"
        ),
    );
    write(
        &env.repo,
        "web/config.yaml",
        &configmap("web-config", "0", ""),
    );
    env.commit("a canary whose error rate is configured");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "the first revision Healthy", || {
        env.rollout("web")["summary"]["phase"] == "Healthy"
    });
    let first = env.rollout("web")["summary"]["stableHash"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |kind: &str, name: &str| -> Value {
        let out = env.kubectl(&["get", kind, name, "-n", "web", "-o", "json"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    // The revision's copies: immutable, the same content, the ReplicaSet's, and not tracked.
    for (kind, name) in [("configmap", "web-config"), ("secret", "web-secret")] {
        let copy = get(kind, &format!("{name}-{first}"));
        assert_eq!(copy["immutable"], true, "{copy}");
        assert_eq!(
            copy["metadata"]["ownerReferences"],
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{first}"),
                "uid": get("replicaset", &format!("web-{first}"))["metadata"]["uid"],
                "controller": false}]),
            "{copy}"
        );
        assert_eq!(
            copy["metadata"]["labels"],
            json!({"rollouts-pod-template-hash": first}),
            "{copy}"
        );
        assert!(
            copy["metadata"]["annotations"]
                .as_object()
                .is_some_and(|a| !a.keys().any(|k| k.contains("tracking-id"))),
            "{copy}"
        );
    }
    assert_eq!(
        get("secret", &format!("web-secret-{first}"))["data"]["API_TOKEN"],
        SECRET_BASE64
    );
    assert_eq!(
        env.data("web", &format!("web-config-{first}")).as_deref(),
        Some("0")
    );
    let app = env.app_json("web");
    assert_eq!(app["status"]["sync"]["status"], "Synced", "{app}");
    let resources = app["status"]["resources"].to_string();
    assert!(
        resources.contains("\"web-config\"") && !resources.contains(&first),
        "the copies are not the Application's resources: {resources}"
    );

    // Only the ConfigMap changes: 5 % errors, a new revision, judged and aborted.
    let good = git(&env.repo, &["rev-parse", "HEAD"]);
    env.push_and_refresh(
        "web/config.yaml",
        &configmap("web-config", "0.05", ""),
        "web-config: 5 % errors",
        "web",
    );
    env.eventually(
        120,
        "the new config aborted by its analysis and rolled back",
        || env.rolled_back_by_analysis("web", &good),
    );
    env.eventually(60, "the Rollout Healthy on its first revision", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy"
            && view["summary"]["stableHash"] == first.as_str()
            && Env::revisions(&view) == vec![(1, 10), (2, 0)]
    });
    let view = env.rollout("web");
    assert_eq!(
        view["object"]["spec"]["template"]["spec"]["containers"][0]["image"], "web:1",
        "the template never changed"
    );
    let second = Env::replica_set_of(&view, 2)
        .trim_start_matches("web-")
        .to_string();
    assert_ne!(second, first);
    // Each revision kept the config it was deployed with.
    assert_eq!(
        env.data("web", &format!("web-config-{second}")).as_deref(),
        Some("0.05")
    );
    assert_eq!(
        env.data("web", &format!("web-config-{first}")).as_deref(),
        Some("0")
    );
    let log = env.log();
    assert!(
        log.contains("Step-based analysis phase error/failed")
            && log.contains("(success-rate measured [0.9"),
        "{log}"
    );
    let pods = env.kubectl(&[
        "get",
        "pods",
        "-n",
        "web",
        "-l",
        &format!("rollouts-pod-template-hash={first}"),
        "-o",
        "json",
    ]);
    let pods: Value = serde_json::from_slice(&pods.stdout).unwrap();
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 10);
    for pod in pods {
        let container = &pod["spec"]["containers"][0];
        assert_eq!(
            container["env"][0]["valueFrom"]["configMapKeyRef"]["name"],
            format!("web-config-{first}")
        );
        assert_eq!(
            container["envFrom"][0]["secretRef"]["name"],
            format!("web-secret-{first}")
        );
    }
    // Traffic is back on the stable: only its pods are the Service's endpoints.
    let endpoints = get("endpoints", "web");
    let addresses: Vec<&str> = endpoints["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a["targetRef"]["name"].as_str())
        .collect();
    assert!(
        addresses.len() == 10
            && addresses
                .iter()
                .all(|a| a.starts_with(&format!("web-{first}-"))),
        "{addresses:?}"
    );
    // The rollback was a sync with prune: the copies are still there, and still not the
    // Application's.
    assert!(get("configmap", &format!("web-config-{first}")).is_object());
    assert!(get("secret", &format!("web-secret-{second}")).is_object());
    let resources = env.app_json("web")["status"]["resources"].to_string();
    assert!(
        !resources.contains(&first) && !resources.contains(&second),
        "{resources}"
    );
    let log = env.log();
    assert!(
        !log.contains(SECRET_CLEAR) && !log.contains(SECRET_BASE64),
        "the Secret's value in the log:\n{log}"
    );
}

// ---- image automation ----

const VALUES: &str = "# dev values: the tag is written by bosun's image updater\nreplicaCount: 1\nimage:\n  repository: {{REGISTRY}}/acme/api   # pushed by CI\n  tag: \"1.2.0\"  # renovate: ignore\n\nresources: {}\n";

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: {{ .Values.replicaCount }}\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers:\n      - name: api\n        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n";

impl Env {
    /// An Application of a Helm chart at `path` whose image Image Updater's annotations watch.
    fn image_app(&self, name: &str, path: &str, image_list: &str) {
        self.image_app_at(name, path, image_list, &self.repo);
    }

    /// The same, of the repository at `repo`.
    fn image_app_at(&self, name: &str, path: &str, image_list: &str, repo: &Path) {
        write(
            self.dir.path(),
            &format!("apps/{name}.yaml"),
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  annotations:\n    argocd-image-updater.argoproj.io/image-list: {image_list}\n    argocd-image-updater.argoproj.io/api.update-strategy: semver\n    argocd-image-updater.argoproj.io/write-back-method: git\n    argocd-image-updater.argoproj.io/write-back-target: helmvalues\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: {path}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n  syncPolicy:\n{AUTO}    syncOptions:\n    - CreateNamespace=true\n",
                repo.display()
            ),
        );
    }

    fn images_config(&self, extra: &str) -> PathBuf {
        let file = self.config("1h");
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.push_str(&format!(
            "images:\n  interval: 1h\n  webhookSecretEnv: T_REGISTRY_HOOK\n  author: {{name: bosun-bot, email: bot@example.com}}\n{extra}"
        ));
        std::fs::write(&file, text).unwrap();
        file
    }

    /// Commits the api chart whose values name acme/api:1.2.0 of `registry`; the values.
    fn api_chart(&self, registry: &common::registry::Registry) -> String {
        let values = VALUES.replace("{{REGISTRY}}", &registry.address);
        write(
            &self.repo,
            "api/Chart.yaml",
            "apiVersion: v2\nname: api\nversion: 0.1.0\n",
        );
        write(&self.repo, "api/values.yaml", &values);
        write(&self.repo, "api/templates/deployment.yaml", DEPLOYMENT);
        self.commit("api chart");
        values
    }

    /// Starts serve with the images config and waits until api-dev runs 1.2.0 of `registry`
    /// and its first image check is done.
    fn serve_until_first_check(&mut self, registry: &common::registry::Registry) {
        let config = self.images_config("");
        self.serve_config(&config);
        let first = format!("{}/acme/api:1.2.0", registry.address);
        self.eventually(90, "1.2.0 deployed", || {
            self.deployed_image("api-dev").as_deref() == Some(&first)
        });
        self.eventually(30, "the first image check", || {
            self.image_view("api-dev")["images"][0]["latest"] == "1.2.0"
        });
    }

    fn image_view(&self, name: &str) -> Value {
        let out = self.bosun(ADMIN, &["image", "get", name, "-o", "json"]);
        if !out.status.success() {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    fn deployed_image(&self, ns: &str) -> Option<String> {
        let out = self.kubectl(&["get", "deployment", "api", "-n", ns, "-o", "json"]);
        let d: Value = serde_json::from_slice(&out.stdout).ok()?;
        d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .map(str::to_string)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_image_reaches_dev_by_itself() {
    use common::registry::Registry;
    let mut env = Env::start(Duration::from_millis(200)).await;
    let mut registry = Registry::start(false);
    let locked = Registry::start(true);
    registry.push("acme/api", "1.2.0", "2026-01-01T00:00:00Z");
    locked.push("acme/api", "1.2.0", "2026-01-01T00:00:00Z");
    // The test repository is the remote bosun pushes to: a push updates its work tree.
    git(
        &env.repo,
        &["config", "receive.denyCurrentBranch", "updateInstead"],
    );
    let values = VALUES.replace("{{REGISTRY}}", &registry.address);
    for (dir, values) in [
        ("api", values.clone()),
        ("locked", VALUES.replace("{{REGISTRY}}", &locked.address)),
    ] {
        write(
            &env.repo,
            &format!("{dir}/Chart.yaml"),
            "apiVersion: v2\nname: api\nversion: 0.1.0\n",
        );
        write(&env.repo, &format!("{dir}/values.yaml"), &values);
        write(
            &env.repo,
            &format!("{dir}/templates/deployment.yaml"),
            DEPLOYMENT,
        );
    }
    env.commit("api chart");
    env.image_app(
        "api-dev",
        "api",
        &format!("api={}/acme/api:~1", registry.address),
    );
    env.image_app(
        "locked",
        "locked",
        &format!("api={}/acme/api", locked.address),
    );
    env.serve_until_first_check(&registry);
    let view = env.image_view("api-dev");
    assert_eq!(view["images"][0]["current"], "1.2.0", "{view}");
    assert_eq!(view["images"][0]["key"], "image.tag", "{view}");
    assert_eq!(view["file"], "api/values.yaml", "{view}");
    // A registry that wants credentials bosun was not given: said on the image, plainly.
    env.eventually(30, "the locked image's check", || {
        env.image_view("locked")["images"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("(401)"))
    });

    // CI pushes new tags; the registry's webhook tells bosun.
    let before = git(&env.repo, &["rev-parse", "HEAD"]);
    for (tag, created) in [
        ("1.3.0-rc.1", "2026-03-01T00:00:00Z"),
        ("1.10.0", "2026-02-01T00:00:00Z"),
        ("latest", "2026-02-01T00:00:00Z"),
        ("junk", "2026-02-01T00:00:00Z"),
    ] {
        registry.push("acme/api", tag, created);
    }
    // The generic hook is signed (HMAC-SHA256 of the body, as GitHub's): the secret alone, an
    // unsigned body or another key's signature is refused before anything is looked at.
    let body =
        json!({"image": format!("{}/acme/api", registry.address), "tag": "1.10.0"}).to_string();
    let signed = bosun_server::webhook::sign(REGISTRY_HOOK_SECRET.as_bytes(), body.as_bytes());
    let forged = bosun_server::webhook::sign(b"wrong-secret-0123456789", body.as_bytes());
    for (path, headers) in [
        (
            format!("/api/webhook/registry?type=generic&secret={REGISTRY_HOOK_SECRET}"),
            vec![],
        ),
        (
            "/api/webhook/registry".to_string(),
            vec![("X-Hub-Signature-256", forged)],
        ),
        (
            "/api/webhook/registry?type=generic".to_string(),
            vec![("X-Hub-Signature-256", signed.replace("sha256=", "sha1="))],
        ),
    ] {
        let (status, answer) = env.post(&path, &headers, &body).await;
        assert_eq!(status, 401, "{path} {headers:?}: {answer}");
        assert!(
            !answer.to_string().contains(REGISTRY_HOOK_SECRET),
            "{answer}"
        );
    }
    assert_eq!(
        git(&env.repo, &["rev-parse", "HEAD"]),
        before,
        "a forged hook changes nothing"
    );
    let delivery = ("X-Delivery-Id", "3f1c7d2e-registry-push-1".to_string());
    let (status, answer) = env
        .post(
            "/api/webhook/registry?type=generic",
            &[("X-Hub-Signature-256", signed.clone()), delivery.clone()],
            &body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["refreshed"], json!(["api-dev"]));
    // The same delivery replayed is answered and not acted on again.
    let (status, answer) = env
        .post(
            "/api/webhook/registry",
            &[("X-Hub-Signature-256", signed), delivery],
            &body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["alreadyReceived"], true, "{answer}");
    assert_eq!(answer["refreshed"], json!([]), "{answer}");

    // A write-back commit: Image Updater's message, bosun's author, only the tag changed.
    env.eventually(60, "the write-back commit", || {
        git(&env.repo, &["rev-parse", "HEAD"]) != before
    });
    assert_eq!(
        git(&env.repo, &["log", "-1", "--format=%an <%ae>%n%B"]),
        format!(
            "bosun-bot <bot@example.com>\nbuild: automatic update of api-dev\n\nupdates image acme/api tag '1.2.0' to '1.10.0'"
        )
    );
    assert_eq!(
        std::fs::read_to_string(env.repo.join("api/values.yaml")).unwrap(),
        values.replace("\"1.2.0\"", "\"1.10.0\"")
    );
    let commit = git(&env.repo, &["rev-parse", "HEAD"]);
    let (_, metrics) = env.get("/metrics", None).await;
    assert!(
        metrics.contains("bosun_image_write_backs_total{result=\"committed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bosun_image_registry_requests_total{kind=\"tags\"}"),
        "{metrics}"
    );
    // The dev Application deploys it by itself.
    let second = format!("{}/acme/api:1.10.0", registry.address);
    env.eventually(90, "1.10.0 deployed", || {
        env.deployed_image("api-dev").as_deref() == Some(&second)
    });
    let view = env.image_view("api-dev");
    assert_eq!(view["images"][0]["current"], "1.10.0", "{view}");
    assert_eq!(view["history"][0]["outcome"], "Committed", "{view}");
    assert_eq!(view["history"][0]["revision"], commit.as_str(), "{view}");
    assert_eq!(
        view["history"][0]["changes"][0],
        json!({"image": format!("{}/acme/api", registry.address), "oldTag": "1.2.0", "newTag": "1.10.0"})
    );
    assert_eq!(view["history"][0]["attempts"], 1, "{view}");
    // The images page shows the same: the write-back's commit, its change, its branch.
    let browser = common::browser::Browser::start().await;
    browser
        .client
        .goto(&format!("{}/ui/images", env.api))
        .await
        .unwrap();
    browser.submit_token(VIEWER).await;
    let latest = "section[data-app=\"api-dev\"] table.image-history tbody tr:first-child";
    browser
        .until(20, "the write-back on the images page", async |b| {
            let row = b.text(latest).await;
            row.contains(&commit[..7]) && row.contains("1.2.0 → 1.10.0") && row.contains("main")
        })
        .await;
    let full = browser
        .client
        .find(fantoccini::Locator::Css(&format!(
            "{latest} [data-revision]"
        )))
        .await
        .unwrap()
        .attr("data-revision")
        .await
        .unwrap();
    assert_eq!(full.as_deref(), Some(commit.as_str()));
    browser.screenshot("images").await;

    // The registry goes down: the check fails, is recorded once, and nothing is committed.
    registry.stop();
    let out = env.bosun(DEPLOYER, &["image", "check", "api-dev", "-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = view["images"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot reach the registry"), "{view}");
    assert!(
        view["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot reach the registry"),
        "{view}\n{}",
        env.log()
    );
    assert_eq!(view["history"][0]["outcome"], "Failed", "{view}");
    assert_eq!(git(&env.repo, &["rev-parse", "HEAD"]), commit);
    // It is tried again with backoff (not at the next hour's check): once the registry is
    // back, the error clears by itself, with still nothing to commit.
    registry.restart();
    env.eventually(60, "the retried check to pass", || {
        let view = env.image_view("api-dev");
        view["error"].is_null()
            && view["images"][0]["message"].is_null()
            && view["checkedAt"].is_string()
    });
    assert_eq!(git(&env.repo, &["rev-parse", "HEAD"]), commit);
    assert_eq!(
        env.image_view("api-dev")["history"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The failed check is on the page too, newest first, with its error.
    browser.client.refresh().await.unwrap();
    browser
        .until(20, "the failed check on the images page", async |b| {
            let row = b.text(latest).await;
            row.contains("Failed") && row.contains("cannot reach the registry")
        })
        .await;
    assert!(
        browser
            .text("section[data-app=\"api-dev\"] table.image-history tbody tr:nth-child(2)")
            .await
            .contains(&commit[..7])
    );
    browser.screenshot("images-failed-check").await;
    // A read-only user may look but not check.
    let out = env.bosun(VIEWER, &["image", "check", "api-dev"]);
    assert!(!out.status.success());
    let out = env.bosun(VIEWER, &["image", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("api-dev") && table.contains("1.10.0"),
        "{table}"
    );
}

/// Image Updater v1's `ImageUpdater` resource, in the Applications' own file, configures an
/// Application that has no image annotations: a new tag reaches dev through a write-back commit.
#[tokio::test(flavor = "multi_thread")]
async fn an_image_updater_resource_brings_a_new_tag_to_dev() {
    use common::registry::Registry;
    let mut env = Env::start(Duration::from_millis(200)).await;
    let registry = Registry::start(false);
    registry.push("acme/api", "1.2.0", "2026-01-01T00:00:00Z");
    git(
        &env.repo,
        &["config", "receive.denyCurrentBranch", "updateInstead"],
    );
    let values = env.api_chart(&registry);
    write(
        env.dir.path(),
        "apps/api-dev.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: api-dev\n  namespace: argocd\n  labels: {{env: dev}}\nspec:\n  project: default\n  source:\n    repoURL: file://{repo}\n    targetRevision: main\n    path: api\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: api-dev\n  syncPolicy:\n{AUTO}    syncOptions:\n    - CreateNamespace=true\n---\n# Image Updater v1, unchanged\napiVersion: argocd-image-updater.argoproj.io/v1alpha1\nkind: ImageUpdater\nmetadata:\n  name: dev-images\n  namespace: argocd\nspec:\n  commonUpdateSettings:\n    updateStrategy: semver\n    ignoreTags: [latest]\n  writeBackConfig:\n    method: git\n    gitConfig:\n      branch: main\n      writeBackTarget: helmvalues:values.yaml\n  applicationRefs:\n  - namePattern: \"api-*\"\n    labelSelectors:\n      matchLabels: {{env: dev}}\n    images:\n    - alias: api\n      imageName: {registry}/acme/api:~1\n      manifestTargets:\n        helm:\n          tag: image.tag\n      commonUpdateSettings:\n        platforms: [linux/amd64]\n",
            repo = env.repo.display(),
            registry = registry.address,
        ),
    );
    env.serve_until_first_check(&registry);
    let view = env.image_view("api-dev");
    assert_eq!(view["images"][0]["alias"], "api", "{view}");
    assert_eq!(view["images"][0]["key"], "image.tag", "{view}");
    assert_eq!(view["file"], "api/values.yaml", "{view}");
    // A field bosun does not act on is named in the log, not silently dropped.
    assert!(
        env.log()
            .contains("spec.applicationRefs[0].images[0].commonUpdateSettings.platforms"),
        "{}",
        env.log()
    );

    // CI pushes new tags; a check (as after a registry webhook) finds 1.10.0.
    env.checked_tags_reach_dev(
        &registry,
        &env.repo,
        &values,
        &[
            ("1.3.0-rc.1", "2026-03-01T00:00:00Z"),
            ("1.10.0", "2026-02-01T00:00:00Z"),
            ("latest", "2026-02-01T00:00:00Z"),
        ],
    );
    let view = env.image_view("api-dev");
    assert_eq!(view["history"][0]["outcome"], "Committed", "{view}");
}

/// Image Updater v1 as its users run it: the Application and the `ImageUpdater` are applied with
/// kubectl into the namespace bosun watches (bosun installs both CRDs). A new tag reaches dev
/// through a write-back commit; an ImageUpdater that does not parse, applied beside it, is a
/// catalog error naming the object and the field, and the good one keeps working.
#[tokio::test(flavor = "multi_thread")]
async fn an_image_updater_applied_with_kubectl_brings_a_new_tag_to_dev() {
    use common::registry::Registry;
    let mut env = Env::start(Duration::from_millis(200)).await;
    let registry = Registry::start(false);
    registry.push("acme/api", "1.2.0", "2026-01-01T00:00:00Z");
    git(
        &env.repo,
        &["config", "receive.denyCurrentBranch", "updateInstead"],
    );
    let values = env.api_chart(&registry);
    let config = env.config_with("- namespace: argocd\n", "1h");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("images:\n  interval: 1h\n  author: {name: bosun-bot, email: bot@example.com}\n");
    std::fs::write(&config, text).unwrap();
    env.serve_config(&config);
    env.eventually(60, "the ImageUpdater CRD", || {
        env.kubectl(&[
            "get",
            "crd",
            "imageupdaters.argocd-image-updater.argoproj.io",
        ])
        .status
        .success()
    });
    let apply = |file: &str, text: &str| {
        write(env.dir.path(), file, text);
        let path = env.dir.path().join(file);
        let out = env.kubectl(&["apply", "-f", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    apply(
        "api-dev.yaml",
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: api-dev\n  namespace: argocd\n  labels: {{env: dev}}\nspec:\n  project: default\n  source:\n    repoURL: file://{repo}\n    targetRevision: main\n    path: api\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: api-dev\n  syncPolicy:\n{AUTO}    syncOptions:\n    - CreateNamespace=true\n---\napiVersion: argocd-image-updater.argoproj.io/v1alpha1\nkind: ImageUpdater\nmetadata:\n  name: dev-images\n  namespace: argocd\nspec:\n  commonUpdateSettings:\n    updateStrategy: semver\n    ignoreTags: [latest]\n  writeBackConfig:\n    method: git\n    gitConfig:\n      branch: main\n      writeBackTarget: helmvalues:values.yaml\n  applicationRefs:\n  - namePattern: \"api-*\"\n    labelSelectors:\n      matchLabels: {{env: dev}}\n    images:\n    - alias: api\n      imageName: {registry}/acme/api:~1\n      manifestTargets:\n        helm:\n          tag: image.tag\n",
            repo = env.repo.display(),
            registry = registry.address,
        ),
    );
    let first = format!("{}/acme/api:1.2.0", registry.address);
    env.eventually(90, "1.2.0 deployed", || {
        env.deployed_image("api-dev").as_deref() == Some(&first)
    });
    env.eventually(30, "the first image check", || {
        env.image_view("api-dev")["images"][0]["latest"] == "1.2.0"
    });
    let view = env.image_view("api-dev");
    assert_eq!(view["images"][0]["alias"], "api", "{view}");
    assert_eq!(view["images"][0]["key"], "image.tag", "{view}");

    // CI pushes new tags; a check finds 1.10.0 and writes it back.
    env.checked_tags_reach_dev(
        &registry,
        &env.repo,
        &values,
        &[
            ("1.10.0", "2026-02-01T00:00:00Z"),
            ("latest", "2026-02-01T00:00:00Z"),
        ],
    );

    // A bad ImageUpdater applied beside it: a catalog error naming it and the field.
    apply(
        "bad.yaml",
        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\nkind: ImageUpdater\nmetadata:\n  name: bad-images\n  namespace: argocd\nspec:\n  writeBackConfig: {method: gitt}\n  applicationRefs:\n  - namePattern: other\n    images: [{alias: a, imageName: x}]\n",
    );
    let catalog_errors = || async {
        let (status, body) = env.get("/api/v1/catalog", Some(VIEWER)).await;
        assert_eq!(status, 200, "{body}");
        let catalog: Value = serde_json::from_str(&body).unwrap();
        catalog["errors"].as_array().cloned().unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let errors = loop {
        let errors = catalog_errors().await;
        if !errors.is_empty() {
            break errors;
        }
        assert!(
            Instant::now() < deadline,
            "no catalog error for bad-images; server log:\n{}",
            env.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["source"], "namespace argocd", "{errors:?}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("ImageUpdater argocd/bad-images")
            && message.contains("spec.writeBackConfig.method: `gitt`"),
        "{message}"
    );
    let list = env.bosun(VIEWER, &["app", "list"]);
    let out = String::from_utf8_lossy(&list.stdout);
    assert!(out.contains("argocd/bad-images"), "{out}");
    // The good one is still in effect.
    let view = env.image_view("api-dev");
    assert_eq!(view["images"][0]["alias"], "api", "{view}");
    // Deleted with kubectl, the error goes.
    let out = env.kubectl(&["delete", "imageupdater", "bad-images", "-n", "argocd"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !catalog_errors().await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the error stayed; server log:\n{}",
            env.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A person's push lands between bosun's fetch and its push of a write-back, to the same file:
/// the configuration repository is a bare remote whose pre-receive hook, on bosun's first push,
/// pushes the person's commit first (so the race happens every time, not by luck). bosun's
/// push is refused, it makes its edit again on the person's commit and pushes that — both
/// changes kept, the person's commit an ancestor, nothing forced.
#[tokio::test(flavor = "multi_thread")]
async fn a_push_racing_a_write_back_keeps_both_changes() {
    use common::registry::Registry;
    let mut env = Env::start(Duration::from_millis(200)).await;
    let registry = Registry::start(false);
    registry.push("acme/api", "1.2.0", "2026-01-01T00:00:00Z");
    let values = env.api_chart(&registry);
    let remote = env.dir.path().join("remote.git");
    git(
        env.dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            env.repo.to_str().unwrap(),
            remote.to_str().unwrap(),
        ],
    );
    // The person's change, committed in their clone and not pushed yet: two replicas, in the
    // file the write-back edits.
    let theirs = values.replace("replicaCount: 1", "replicaCount: 2");
    write(&env.repo, "api/values.yaml", &theirs);
    let person = env.commit("api: two replicas");
    let armed = env.dir.path().join("race-armed");
    std::fs::write(&armed, "").unwrap();
    let hook = remote.join("hooks/pre-receive");
    // The hook's environment points git at the quarantined push; the person's push is a
    // separate one, as from another machine.
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat >/dev/null\nif rm '{armed}' 2>/dev/null; then\n  env -i PATH=\"$PATH\" HOME=\"$HOME\" git -C '{clone}' push -q '{remote}' main || exit 1\nfi\n",
            armed = armed.display(),
            clone = env.repo.display(),
            remote = remote.display(),
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    env.image_app_at(
        "api-dev",
        "api",
        &format!("api={}/acme/api:~1", registry.address),
        &remote,
    );
    env.serve_until_first_check(&registry);

    env.checked_tags_reach_dev(
        &registry,
        &remote,
        &theirs,
        &[("1.10.0", "2026-02-01T00:00:00Z")],
    );
    assert!(!armed.exists(), "the hook did not run");
    assert_eq!(
        git(&remote, &["rev-parse", "main^"]),
        person,
        "the write-back is made on the person's commit"
    );
    let view = env.image_view("api-dev");
    assert_eq!(view["history"][0]["outcome"], "Committed", "{view}");
    assert_eq!(
        view["history"][0]["attempts"], 2,
        "refused once, then pushed: {view}"
    );
    assert!(
        env.log().contains("push rejected: the branch moved"),
        "{}",
        env.log()
    );
    env.eventually(60, "the person's two replicas deployed too", || {
        let out = env.kubectl(&["get", "deployment", "api", "-n", "api-dev", "-o", "json"]);
        serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|d| d["spec"]["replicas"] == 2)
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_applications_watching_one_image_cost_one_tags_request() {
    use common::registry::Registry;
    let mut env = Env::start(Duration::from_millis(200)).await;
    let registry = Registry::start(false);
    registry.push("acme/api", "1.10.0", "2026-01-01T00:00:00Z");
    for i in 0..200 {
        write(
            &env.repo,
            &format!("envs/app-{i}/kustomization.yaml"),
            &format!(
                "resources:\n- cm.yaml\nimages:\n- name: api # the chart's image\n  newName: {}/acme/api\n  newTag: 1.10.0\n",
                registry.address
            ),
        );
        write(
            &env.repo,
            &format!("envs/app-{i}/cm.yaml"),
            &configmap(&format!("app-{i}"), "v", ""),
        );
        write(
            env.dir.path(),
            &format!("apps/app-{i}.yaml"),
            &format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app-{i}\n  annotations:\n    argocd-image-updater.argoproj.io/image-list: api={}/acme/api\n    argocd-image-updater.argoproj.io/api.kustomize.image-name: api\n    argocd-image-updater.argoproj.io/write-back-method: git\n    argocd-image-updater.argoproj.io/write-back-target: kustomization\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: envs/app-{i}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: fleet\n",
                registry.address,
                env.repo.display()
            ),
        );
    }
    let head = env.commit("two hundred apps");
    let config = env.images_config("");
    env.serve_config(&config);
    env.eventually(240, "every Application's images checked", || {
        let out = env.bosun(ADMIN, &["image", "list", "-o", "json"]);
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let items = list["items"].as_array().cloned().unwrap_or_default();
        items.len() == 200
            && items.iter().all(|app| {
                app["images"][0]["latest"] == "1.10.0" && app["images"][0]["current"] == "1.10.0"
            })
    });
    // One tags request served all 200 (counted at the registry), and nothing to write.
    assert_eq!(
        registry.tag_list_requests("acme/api"),
        1,
        "{}",
        registry.log()
    );
    assert_eq!(git(&env.repo, &["rev-parse", "HEAD"]), head);
    let view = env.image_view("app-7");
    assert_eq!(
        view["images"][0]["key"], "images[name=api].newTag",
        "{view}"
    );
    assert_eq!(view["file"], "envs/app-7/kustomization.yaml", "{view}");
}

// ---- the web UI, in a real browser ----

const WEB_DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: web:1\n";

#[tokio::test(flavor = "multi_thread")]
async fn the_web_ui_shows_applications_live_and_acts_through_the_api() {
    use common::browser::Browser;
    use fantoccini::Locator;
    let mut env = Env::start(Duration::from_millis(200)).await;
    write(&env.repo, "web/deployment.yaml", WEB_DEPLOYMENT);
    write(
        &env.repo,
        "settings/cm.yaml",
        &configmap("settings", "one", ""),
    );
    write(
        &env.repo,
        "broken/bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n",
    );
    write(&env.repo, "canary/rollout.yaml", &rollout_yaml("web:1"));
    env.commit("four apps");
    env.app("web", "web", "web", AUTO);
    env.app("canary", "canary", "canary", AUTO);
    env.app("settings", "settings", "settings", "");
    env.app("broken", "broken", "broken", "");
    env.serve("1h");
    let health = |name: &str| -> Value {
        let out = env.bosun(ADMIN, &["app", "get", name, "-o", "json"]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)["status"]["health"]
            ["status"]
            .clone()
    };
    env.eventually(90, "web and canary Healthy", || {
        health("web") == "Healthy" && health("canary") == "Healthy"
    });
    let out = env.bosun(ADMIN, &["app", "sync", "settings"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let browser = Browser::start().await;
    let b = &browser.client;
    // Not signed in: the list sends to the sign-in page; a wrong token is refused there.
    b.goto(&format!("{}/ui/applications", env.api))
        .await
        .unwrap();
    browser.submit_token("not-a-token").await;
    browser
        .until(10, "the refusal", async |b| {
            b.text("p.error")
                .await
                .contains("not one this server knows")
        })
        .await;
    browser.submit_token(DEPLOYER).await;
    browser
        .until(20, "the list", async |b| {
            b.text("#count").await.contains("4 of 4 Applications")
        })
        .await;
    let row = |name: &str, field: &str| format!("tr[data-app=\"{name}\"] [data-field=\"{field}\"]");
    assert_eq!(browser.text(&row("web", "sync")).await, "Synced");
    assert_eq!(browser.text(&row("web", "health")).await, "Healthy");
    assert_eq!(browser.text(&row("settings", "sync")).await, "Synced");
    browser.screenshot("list").await;
    // What the page's headers promise: no inline script, no other origin.
    let (_, page) = env.get("/ui/login", None).await;
    assert!(page.contains("<script src=\"/ui/assets/app."), "{page}");

    // A commit changes the status on screen, without a reload.
    b.execute("window.notReloaded = true;", vec![])
        .await
        .unwrap();
    write(
        &env.repo,
        "settings/cm.yaml",
        &configmap("settings", "two", ""),
    );
    env.commit("settings two");
    let (status, _) = env
        .post(
            "/api/webhook",
            &[
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", sign(&env.push_payload())),
            ],
            &env.push_payload(),
        )
        .await;
    assert_eq!(status, 200);
    browser
        .until(30, "settings OutOfSync on screen", async |b| {
            b.text("tr[data-app=\"settings\"] [data-field=\"sync\"]")
                .await
                == "OutOfSync"
        })
        .await;
    let same_page = b
        .execute("return window.notReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, serde_json::json!(true), "the page was reloaded");
    // Search as you type: only matching rows.
    b.find(Locator::Id("q"))
        .await
        .unwrap()
        .send_keys("sett")
        .await
        .unwrap();
    browser
        .until(10, "the search", async |b| {
            b.text("#count").await.contains("1 of 4")
        })
        .await;
    browser.screenshot("list-search").await;

    // The tree of a Deployment: its ReplicaSet and its Pods.
    b.goto(&format!("{}/ui/applications/web", env.api))
        .await
        .unwrap();
    browser
        .until(20, "the tree", async |b| {
            b.client.find_all(Locator::Css("#tree li[data-kind=\"Deployment\"] li[data-kind=\"ReplicaSet\"] li[data-kind=\"Pod\"]"))
                .await
                .map(|pods| pods.len() == 2)
                .unwrap_or(false)
        })
        .await;
    browser.screenshot("app-tree").await;

    // A Rollout's steps on its Application's page; promoted from there.
    write(&env.repo, "canary/rollout.yaml", &rollout_yaml("web:2"));
    env.commit("canary web:2");
    env.bosun(DEPLOYER, &["app", "refresh", "canary"]);
    b.goto(&format!("{}/ui/applications/canary", env.api))
        .await
        .unwrap();
    browser
        .until(60, "the canary paused at its step", async |b| {
            b.text("section.rollout li[aria-current=\"step\"]").await == "pause until promoted"
        })
        .await;
    assert!(
        browser
            .text("section.rollout h3")
            .await
            .contains("step 1 of 4")
    );
    browser.screenshot("app-rollout").await;
    browser
        .click("section.rollout button[data-path$=\"/promote\"]")
        .await;
    b.accept_alert().await.unwrap();
    env.eventually(60, "the promoted canary to finish", || {
        let view = env.rollout("web");
        view["summary"]["phase"] == "Healthy" && Env::revisions(&view).last() == Some(&(2, 5))
    });

    // The diff of the changed object shows exactly the change.
    b.goto(&format!("{}/ui/applications/settings", env.api))
        .await
        .unwrap();
    browser
        .until(20, "the diff", async |b| {
            let diff = b.text("details.diff pre").await;
            diff.contains("-  value: one") && diff.contains("+  value: two")
        })
        .await;
    let diff = browser.text("details.diff pre").await;
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(changed, ["-  value: one", "+  value: two"], "{diff}");
    browser.screenshot("app-diff").await;

    // Sync from the UI (confirmed), through the API: it lands in history, and the page follows.
    browser.click("button[data-action=\"sync\"]").await;
    b.accept_alert().await.unwrap();
    browser
        .until(60, "the sync in history", async |b| {
            b.text("table.history tbody tr:first-child")
                .await
                .contains(DEPLOYER_NAME)
                && b.text("h1 [data-field=\"sync\"]").await == "Synced"
        })
        .await;
    assert_eq!(env.data("settings", "settings").as_deref(), Some("two"));
    // Roll back to the first sync (confirmed): the old value is back, and history says so.
    browser
        .click("table.history tbody tr:last-child button[data-action=\"rollback\"]")
        .await;
    b.accept_alert().await.unwrap();
    browser
        .until(60, "the rollback in history", async |b| {
            b.text("table.history tbody tr:first-child")
                .await
                .contains("rollback")
        })
        .await;
    assert_eq!(env.data("settings", "settings").as_deref(), Some("one"));
    browser.screenshot("app-history").await;
    let out = env.bosun(ADMIN, &["app", "history", "settings", "-o", "json"]);
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(history["items"][0]["kind"], "rollback", "{history}");
    assert_eq!(
        history["items"][0]["initiatedBy"], DEPLOYER_NAME,
        "{history}"
    );

    // A failed render shows its error on the page.
    b.goto(&format!("{}/ui/applications/broken", env.api))
        .await
        .unwrap();
    browser
        .until(20, "the error", async |b| {
            b.text(".conditions li.error").await.contains("Error")
        })
        .await;
    browser.screenshot("app-error").await;

    // A read-only user sees no action, and a forged POST is refused (no CSRF token; then with
    // the token but the wrong role).
    b.goto(&format!("{}/ui/applications", env.api))
        .await
        .unwrap();
    b.find(Locator::Css("form.logout button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.submit_token(VIEWER).await;
    browser
        .until(20, "the list", async |b| {
            b.text("#count").await.contains("of 4")
        })
        .await;
    b.goto(&format!("{}/ui/applications/settings", env.api))
        .await
        .unwrap();
    browser
        .until(20, "the page", async |b| {
            b.text("h1").await.contains("settings")
        })
        .await;
    assert!(
        b.find_all(Locator::Css("button[data-action]"))
            .await
            .unwrap()
            .is_empty()
    );
    let forged = b
        .execute_async(
            "const done = arguments[0];
             const csrf = document.querySelector('meta[name=\"csrf-token\"]').content;
             const post = (headers) => fetch('/api/v1/applications/settings/sync', {method: 'POST', headers, body: '{}'}).then(r => r.status);
             Promise.all([post({}), post({'X-CSRF-Token': csrf})]).then(done);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(forged, serde_json::json!([403, 403]));
    browser.screenshot("read-only").await;
}

/// `bosun app sync --wait` ends when the Application is Synced and Healthy; a Deployment whose
/// pods never become ready is Degraded at its progress deadline, and `bosun app wait --health`
/// (and `sync --wait`) end there with a failure naming it, not with the sync's `Succeeded`. A
/// condition never reached ends at `--timeout`, saying what was missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_wait_ends_healthy_or_degraded_or_at_its_timeout() {
    let mut env = Env::start(Duration::from_millis(400)).await;
    write(&env.repo, "web/deploy.yaml", WEB_DEPLOYMENT);
    write(
        &env.repo,
        "broken/deploy.yaml",
        &WEB_DEPLOYMENT
            .replace(
                "name: web\nspec:\n",
                "name: broken\nspec:\n  progressDeadlineSeconds: 5\n",
            )
            .replace("image: web:1", "image: web:crashloop"),
    );
    env.commit("web and a crash-looping web");
    env.app("web", "web", "web", "");
    env.app("broken", "broken", "broken", "");
    env.serve("1h");
    env.eventually(60, "the Applications to load", || {
        env.bosun(ADMIN, &["app", "get", "broken"]).status.success()
    });

    let (code, out) = env.bosun_within(
        120,
        DEPLOYER,
        &["app", "sync", "web", "--wait", "--timeout", "2m"],
    );
    assert_eq!(code, Some(0), "{out}");
    let status = env.app_json("web")["status"].clone();
    assert_eq!(status["sync"]["status"], "Synced", "{status}");
    assert_eq!(status["health"]["status"], "Healthy", "{status}");

    // Never synced (manual policy): --sync is not reached, and the timeout says so.
    let (code, out) = env.bosun_within(
        60,
        VIEWER,
        &["app", "wait", "broken", "--sync", "--timeout", "2s"],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("timed out after 2s") && out.contains("Synced (now OutOfSync)"),
        "{out}"
    );

    // The sync itself succeeds: the objects were applied.
    let (code, out) = env.bosun_within(60, DEPLOYER, &["app", "sync", "broken"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = env.bosun_within(
        120,
        VIEWER,
        &["app", "wait", "broken", "--health", "--timeout", "2m"],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("application 'broken' is Degraded"), "{out}");
    assert!(out.contains("Deployment broken/broken Degraded"), "{out}");
    assert!(!out.contains("timed out"), "{out}");

    let (code, out) = env.bosun_within(
        120,
        DEPLOYER,
        &["app", "sync", "broken", "--wait", "--timeout", "2m"],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("Degraded"), "{out}");
}

/// The value of the test Secret, in clear and as the Secret stores it; neither may reach a page
/// or an API answer.
const SECRET_CLEAR: &str = "hunter2-in-the-clear";
const SECRET_BASE64: &str = "aHVudGVyMi1pbi10aGUtY2xlYXI=";

/// One object of an Application, through the API (read-only is enough) and on its page in the
/// browser: the live manifest with the Secret's values masked as the diff masks them, the
/// object's Events, and a Deployment's and a Pod's container logs. An object that is not the
/// Application's is not served.
#[tokio::test(flavor = "multi_thread")]
async fn a_resources_manifest_events_and_logs_are_shown_secrets_masked() {
    use common::browser::Browser;
    use fantoccini::Locator;
    let mut env = Env::start(Duration::from_millis(200)).await;
    write(&env.repo, "web/deployment.yaml", WEB_DEPLOYMENT);
    write(
        &env.repo,
        "web/secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ntype: Opaque\ndata:\n  password: {SECRET_BASE64}\n"
        ),
    );
    env.commit("web");
    env.app("web", "web", "web", AUTO);
    env.serve("1h");
    env.eventually(90, "web Healthy", || {
        env.app_json("web")["status"]["health"]["status"] == "Healthy"
    });
    // A Secret beside it that is not the Application's.
    let other = env.kubectl(&[
        "create",
        "secret",
        "generic",
        "other",
        "-n",
        "web",
        &format!("--from-literal=password={SECRET_CLEAR}"),
    ]);
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    // The local cluster records Events and serves them to kubectl.
    let listed = env.kubectl(&["get", "events", "-n", "web"]);
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.contains("ScalingReplicaSet"), "{listed}");

    let api = |path: &str| format!("/api/v1/applications/web/{path}");
    let (status, body) = env
        .get(
            &api("resource?kind=Secret&namespace=web&resourceName=creds"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let manifest: Value = serde_json::from_str(&body).unwrap();
    let manifest = manifest["manifest"].as_str().unwrap();
    assert!(
        manifest.contains("password: '++++++++'") || manifest.contains("password: ++++++++"),
        "{manifest}"
    );
    assert!(manifest.contains("kind: Secret"), "{manifest}");
    assert!(manifest.contains("managedFields:"), "{manifest}");
    let (status, body) = env
        .get(
            &api("resource?kind=Secret&namespace=web&resourceName=creds&hideManagedFields=true"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("managedFields") && body.contains("++++++++"),
        "{body}"
    );
    assert!(
        !body.contains(SECRET_BASE64) && !body.contains(SECRET_CLEAR),
        "{body}"
    );
    let (status, body) = env
        .get(
            &api("resource?kind=Secret&namespace=web&resourceName=other"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("is not a resource of web"), "{body}");
    assert!(!body.contains(SECRET_BASE64), "{body}");
    let (status, _) = env
        .get(
            &api("resource?kind=Secret&namespace=web&resourceName=creds"),
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, body) = env.get(&api("resource?kind=Secret"), Some(VIEWER)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("resourceName is required"), "{body}");

    let (status, body) = env
        .get(
            &api("events?group=apps&kind=Deployment&namespace=web&resourceName=web"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let events: Value = serde_json::from_str(&body).unwrap();
    let scaled = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "ScalingReplicaSet")
        .unwrap_or_else(|| panic!("{events}"));
    assert_eq!(scaled["type"], "Normal", "{events}");
    assert_eq!(scaled["source"], "deployment-controller", "{events}");
    assert!(
        scaled["message"].as_str().unwrap().contains("to 2"),
        "{events}"
    );

    // A Deployment's logs are its Pods'; a Pod's own, tailed to its last line.
    let (status, body) = env
        .get(
            &api("logs?group=apps&kind=Deployment&namespace=web&resourceName=web"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let logs: Value = serde_json::from_str(&body).unwrap();
    let items = logs["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{logs}");
    for log in items {
        assert_eq!(log["container"], "web", "{logs}");
        assert!(
            log["content"]
                .as_str()
                .unwrap()
                .contains("started (image web:1"),
            "{logs}"
        );
    }
    let pod = items[0]["podName"].as_str().unwrap().to_string();
    let (status, body) = env
        .get(
            &api(&format!("logs?podName={pod}&namespace=web&tailLines=1")),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let tailed: Value = serde_json::from_str(&body).unwrap();
    let content = tailed["items"][0]["content"].as_str().unwrap();
    assert_eq!(content.lines().count(), 1, "{tailed}");
    let (status, body) = env
        .get(
            &api(&format!("logs?podName={pod}&namespace=web&container=nope")),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("container nope is not valid"), "{body}");
    let (status, body) = env
        .get(
            &api("logs?podName=not-one-of-web&namespace=web"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 404, "{body}");

    // In the browser, read-only: from the tree to each object's page.
    let browser = Browser::start().await;
    let b = &browser.client;
    b.goto(&format!("{}/ui/applications/web", env.api))
        .await
        .unwrap();
    browser.submit_token(VIEWER).await;
    browser
        .until(20, "the tree", async |b| {
            b.client
                .find_all(Locator::Css("#tree li[data-kind=\"Pod\"]"))
                .await
                .map(|pods| pods.len() == 2)
                .unwrap_or(false)
        })
        .await;
    browser
        .click("#tree li[data-kind=\"Secret\"] > a.name")
        .await;
    browser
        .until(20, "the Secret's manifest", async |b| {
            b.text("pre.manifest").await.contains("++++++++")
        })
        .await;
    let source = b.source().await.unwrap();
    assert!(
        !source.contains(SECRET_BASE64) && !source.contains(SECRET_CLEAR),
        "{source}"
    );
    assert!(browser.text("h1").await.contains("Secret creds"));
    browser.screenshot("resource-secret").await;

    b.back().await.unwrap();
    browser
        .click("#tree li[data-kind=\"Deployment\"] > a.name")
        .await;
    browser
        .until(
            20,
            "the Deployment's events and its Pods' logs",
            async |b| {
                b.text("table.events").await.contains("ScalingReplicaSet")
                    && b.client
                        .find_all(Locator::Css("section.log pre.log"))
                        .await
                        .map(|logs| logs.len() == 2)
                        .unwrap_or(false)
            },
        )
        .await;
    let shown = browser.text("pre.manifest").await;
    assert!(
        shown.contains("kind: Deployment") && !shown.contains("managedFields"),
        "{shown}"
    );
    assert!(
        browser
            .text("section.log pre.log")
            .await
            .contains("started (image web:1")
    );
    browser.screenshot("resource-deployment").await;

    // A Pod's page, its log tailed to one line through the form.
    browser.click("section.log h3 a").await;
    browser
        .until(20, "the Pod's page", async |b| {
            b.text("h1").await.starts_with("Pod ")
                && b.text("section.log pre.log").await.contains("started")
        })
        .await;
    let field = b.find(Locator::Id("tailLines")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("1").await.unwrap();
    browser.click("form.log-options button").await;
    browser
        .until(20, "one line of log", async |b| {
            b.client
                .current_url()
                .await
                .is_ok_and(|u| u.as_str().contains("tailLines=1"))
                && b.text("section.log pre.log").await.lines().count() == 1
        })
        .await;
    browser.screenshot("resource-pod").await;

    // An object that is not the Application's has no page.
    b.goto(&format!(
        "{}/ui/applications/web/resource?kind=Secret&namespace=web&resourceName=other",
        env.api
    ))
    .await
    .unwrap();
    browser
        .until(20, "the refusal", async |b| {
            b.text("main").await.contains("is not a resource of web")
        })
        .await;
    assert!(!b.source().await.unwrap().contains(SECRET_CLEAR));
}

/// A partial sync (Argo CD's sync `resources`, `argocd app sync --resource`): from the CLI and
/// from the UI's sync form, only the chosen resources are applied, --prune deletes only among
/// them, no hook runs, and history says which resources it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_of_selected_resources_applies_and_prunes_only_them() {
    use common::browser::Browser;
    use fantoccini::Locator;
    let mut env = Env::start(Duration::from_millis(200)).await;
    for name in ["a", "b", "c"] {
        write(
            &env.repo,
            &format!("parts/{name}.yaml"),
            &configmap(name, "one", ""),
        );
    }
    write(
        &env.repo,
        "parts/after.yaml",
        &configmap("after", "hook", "argocd.argoproj.io/hook: PostSync"),
    );
    env.commit("parts");
    env.app("parts", "parts", "parts", "");
    env.serve("1h");
    let (code, out) = env.bosun_within(60, DEPLOYER, &["app", "sync", "parts"]);
    assert_eq!(code, Some(0), "{out}");
    for name in ["a", "b", "c", "after"] {
        assert!(
            env.data("parts", name).is_some(),
            "{name} missing after the full sync"
        );
    }
    // The hook ran with the full sync; it is removed to see whether a partial one runs it.
    let deleted = env.kubectl(&["delete", "configmap", "after", "-n", "parts"]);
    assert!(deleted.status.success());

    write(&env.repo, "parts/a.yaml", &configmap("a", "two", ""));
    write(&env.repo, "parts/b.yaml", &configmap("b", "two", ""));
    std::fs::remove_file(env.repo.join("parts/c.yaml")).unwrap();
    env.commit("a and b two, c gone");
    let (code, out) = env.bosun_within(60, DEPLOYER, &["app", "refresh", "parts"]);
    assert_eq!(code, Some(0), "{out}");

    // Not a resource of the Application, or not in Argo CD's form: refused, nothing done.
    let (code, out) = env.bosun_within(
        60,
        DEPLOYER,
        &[
            "app",
            "sync",
            "parts",
            "--resource",
            ":ConfigMap:parts/nope",
        ],
    );
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains(":ConfigMap:parts/nope is not a resource of parts"),
        "{out}"
    );
    let (code, out) = env.bosun_within(
        60,
        DEPLOYER,
        &["app", "sync", "parts", "--resource", "ConfigMap/a"],
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("GROUP:KIND:NAME"), "{out}");
    assert_eq!(env.data("parts", "a").as_deref(), Some("one"));

    let (code, out) = env.bosun_within(
        60,
        DEPLOYER,
        &[
            "app",
            "sync",
            "parts",
            "--prune",
            "--resource",
            ":ConfigMap:parts/a",
            "--resource",
            ":ConfigMap:parts/c",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("sync of :ConfigMap:parts/a, :ConfigMap:parts/c"),
        "{out}"
    );
    assert_eq!(env.data("parts", "a").as_deref(), Some("two"));
    assert_eq!(
        env.data("parts", "b").as_deref(),
        Some("one"),
        "b was not selected"
    );
    assert_eq!(env.data("parts", "c"), None, "c was selected and pruned");
    assert_eq!(
        env.data("parts", "after"),
        None,
        "a partial sync ran the hook"
    );
    let history = env.bosun(ADMIN, &["app", "history", "parts", "-o", "json"]);
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        history["items"][0]["selectedResources"],
        json!([
            {"group": "", "kind": "ConfigMap", "namespace": "parts", "name": "a"},
            {"group": "", "kind": "ConfigMap", "namespace": "parts", "name": "c"}
        ]),
        "{history}"
    );
    assert!(
        history["items"][1].get("selectedResources").is_none(),
        "{history}"
    );
    let text = env.bosun(ADMIN, &["app", "history", "parts"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(
        text.contains("sync of :ConfigMap:parts/a, :ConfigMap:parts/c"),
        "{text}"
    );
    // The audit log names them too.
    let (_, audit) = env.get("/api/v1/audit", Some(ADMIN)).await;
    assert!(
        audit.contains("resources=:ConfigMap:parts/a,:ConfigMap:parts/c"),
        "{audit}"
    );

    // From the UI: b alone, checked in the sync form.
    let browser = Browser::start().await;
    let b = &browser.client;
    b.goto(&format!("{}/ui/applications/parts", env.api))
        .await
        .unwrap();
    browser.submit_token(DEPLOYER).await;
    browser.click("details.sync-resources summary").await;
    browser
        .click("input[data-sync-resource][data-kind=\"ConfigMap\"][data-name=\"b\"]")
        .await;
    // Hooks are not offered: a partial sync runs none.
    assert!(
        b.find_all(Locator::Css(
            "input[data-sync-resource][data-name=\"after\"]"
        ))
        .await
        .unwrap()
        .is_empty()
    );
    browser.screenshot("sync-selected").await;
    browser.click("button[data-action=\"sync\"]").await;
    let asked = b.get_alert_text().await.unwrap();
    assert!(
        asked.contains("Sync only ConfigMap parts/b of parts"),
        "{asked}"
    );
    b.accept_alert().await.unwrap();
    browser
        .until(60, "the partial sync in history", async |b| {
            b.text("table.history tbody tr:first-child")
                .await
                .contains("sync of :ConfigMap:parts/b")
        })
        .await;
    assert_eq!(env.data("parts", "b").as_deref(), Some("two"));
    assert_eq!(
        env.data("parts", "after"),
        None,
        "a partial sync ran the hook"
    );
    assert!(
        b.find(Locator::Css(
            "table.history tbody tr:first-child code.selected"
        ))
        .await
        .is_ok()
    );
    browser.screenshot("sync-selected-history").await;
}
