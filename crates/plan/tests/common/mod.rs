//! Test harness: bosun's local cluster in-process on a loopback port, a kube client for it, and
//! helpers that put objects in the cluster the way a bosun sync (or someone else) would.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use bosun_cluster::server::{self, ClusterConfig, RunningCluster};
use bosun_plan::{Resolver, live};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;

pub const APP: &str = "shop";
pub const MANAGER: &str = "bosun";

pub struct TestCluster {
    pub cluster: RunningCluster,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub resolver: Resolver,
}

impl TestCluster {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster = server::start(ClusterConfig::default())
            .await
            .expect("cluster starts");
        let kubeconfig = dir.path().join("kubeconfig");
        bosun_cluster::kubeconfig::write(&kubeconfig, "test", &cluster.url(), "tester")
            .expect("kubeconfig");
        let config = kube::Config::new(cluster.url().parse().expect("url"));
        let client = kube::Client::try_from(config).expect("kube client");
        let resolver = Resolver::new(client).await.expect("discovery");
        Self {
            cluster,
            dir,
            kubeconfig,
            resolver,
        }
    }

    fn api(&self, object: &Value) -> (Api<DynamicObject>, String) {
        let api_version = object["apiVersion"].as_str().expect("apiVersion");
        let kind = object["kind"].as_str().expect("kind");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let resource = kube::discovery::ApiResource::from_gvk(&gvk);
        let name = object["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_owned();
        let client = self.resolver.client().clone();
        let api = match object["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(client, ns, &resource),
            None => Api::all_with(client, &resource),
        };
        (api, name)
    }

    /// Applies `object` as a bosun sync does: namespace placed, tracking stamped, forced
    /// server-side apply by bosun's field manager.
    pub async fn sync(&self, object: &Value) {
        let prepared = live::prepare(&self.resolver, object, APP, "default")
            .await
            .expect("prepare");
        self.apply_as(&prepared.object, MANAGER).await;
    }

    /// A forced server-side apply of `object` exactly as given, by `manager`.
    pub async fn apply_as(&self, object: &Value, manager: &str) {
        let (api, name) = self.api(object);
        api.patch(
            &name,
            &PatchParams::apply(manager).force(),
            &Patch::Apply(object),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {name} as {manager}: {e}"));
    }

    /// A JSON merge patch by `manager`, as `kubectl edit` or a controller changes an object.
    pub async fn edit_as(&self, object: &Value, patch: Value, manager: &str) {
        let (api, name) = self.api(object);
        let params = PatchParams {
            field_manager: Some(manager.to_owned()),
            ..PatchParams::default()
        };
        api.patch(&name, &params, &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("patch {name} as {manager}: {e}"));
    }

    /// Runs kubectl against this cluster, bounded to 60 s; returns (exit code, stdout, stderr).
    pub async fn kubectl(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        self.kubectl_env(args, stdin, &[]).await
    }

    /// [`Self::kubectl`] with extra environment variables (`KUBE_EDITOR` for `kubectl edit`).
    pub async fn kubectl_env(
        &self,
        args: &[&str],
        stdin: &str,
        env: &[(&str, &str)],
    ) -> (i32, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(kubectl_path())
            .args(args)
            .envs(env.iter().copied())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run kubectl");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).await.expect("stdin");
        drop(input);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl finishes within 60 s")
            .expect("kubectl output");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// The kubectl from `scripts/install-test-deps` (`$BOSUN_TOOLS/bin/kubectl`); a missing one
/// fails the test.
pub fn kubectl_path() -> PathBuf {
    let tools = std::env::var("BOSUN_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/bosun-tools")
        });
    let path = tools.join("bin/kubectl");
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-test-deps",
        path.display()
    );
    path
}
