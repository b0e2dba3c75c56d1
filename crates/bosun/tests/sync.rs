//! `bosun render|diff|sync` end to end: the real `bosun` binary, Git repositories made by the
//! tests, the real helm and kubectl (kustomize), and bosun's local cluster on a free loopback port.

mod common;

use common::{WIDGET_CRD, WIDGET_HEALTH, git, tools, write};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bosun_cluster::server::{self, ClusterConfig, RunningCluster};
use serde_json::{Value, json};

struct Env {
    cluster: RunningCluster,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    repo: PathBuf,
}

fn kubectl_path() -> PathBuf {
    let k = tools().join("bin/kubectl");
    assert!(
        k.exists(),
        "{} missing: run scripts/install-test-deps",
        k.display()
    );
    k
}

impl Env {
    async fn start() -> Env {
        let cluster = server::start(ClusterConfig {
            timing: bosun_cluster::controllers::Timing {
                pod_ready_delay: std::time::Duration::from_millis(200),
                job_run_time: std::time::Duration::from_millis(400),
                resync: std::time::Duration::from_secs(1),
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
            cluster,
            dir,
            kubeconfig,
            repo,
        }
    }

    fn commit(&self, message: &str) {
        git(&self.repo, &["add", "-A"]);
        git(
            &self.repo,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
    }

    /// An Application for `path` of the test repository, destination namespace `ns`.
    fn app(&self, name: &str, path: &str, ns: &str, extra: &str) -> PathBuf {
        let file = self.dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &file,
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: {path}\n{extra}  destination:\n    server: https://kubernetes.default.svc\n    namespace: {ns}\n  syncPolicy:\n    syncOptions:\n    - CreateNamespace=true\n",
                self.repo.display()
            ),
        )
        .unwrap();
        file
    }

    fn bosun(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("BOSUN_CACHE", self.dir.path().join("cache"))
            .env("NO_COLOR", "1")
            .output()
            .expect("bosun")
    }

    fn bosun_ok(&self, args: &[&str]) -> String {
        let out = self.bosun(args);
        assert!(
            out.status.success(),
            "bosun {args:?} exited {:?} (signal {:?})\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(kubectl_path())
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .expect("kubectl")
    }

    fn get(&self, args: &[&str]) -> Option<Value> {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl(&full);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    /// What a write by bosun would change on the Deployments, Services and ConfigMaps of `ns`:
    /// which objects exist (uid), their generation, labels, annotations, spec and data, and
    /// bosun's managedFields entry. Not their status or resourceVersion: the cluster's controllers
    /// keep writing those for reasons of their own, so comparing them would race.
    fn desired_state(&self, ns: &str) -> Vec<Value> {
        let list = self
            .get(&[
                "deployments,services,configmaps",
                "-n",
                ns,
                "--show-managed-fields",
            ])
            .expect("list");
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let m = &o["metadata"];
                let bosun: Vec<&Value> = m["managedFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|f| f["manager"] == "bosun")
                    .collect();
                serde_json::json!({
                    "kind": o["kind"], "name": m["name"], "uid": m["uid"],
                    "generation": m["generation"], "labels": m["labels"],
                    "annotations": m["annotations"], "spec": o["spec"], "data": o["data"],
                    "bosun": bosun,
                })
            })
            .collect()
    }
}

const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\n";
const CHART_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: web, env: {{ .Values.env }}}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"#;
const CHART_SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: web}
  ports:
  - port: 80
"#;

fn helm_repo(env: &Env) {
    write(&env.repo, "charts/web/Chart.yaml", CHART);
    write(
        &env.repo,
        "charts/web/templates/deployment.yaml",
        CHART_DEPLOYMENT,
    );
    write(
        &env.repo,
        "charts/web/templates/service.yaml",
        CHART_SERVICE,
    );
    write(
        &env.repo,
        "charts/web/values.yaml",
        "env: base\nreplicas: 1\nimage: {repository: registry.local/web, tag: '1.0.0'}\n",
    );
    write(
        &env.repo,
        "charts/web/values-dev.yaml",
        "env: dev\nreplicas: 1\nimage: {tag: '1.1.0-dev'}\n",
    );
    write(
        &env.repo,
        "charts/web/values-prod.yaml",
        "env: prod\nreplicas: 3\nimage: {tag: '1.0.0'}\n",
    );
}

/// seeds/003: one Helm chart, dev and prod value files, two Applications. Both sync; each gets
/// its environment's replicas and image; afterwards `bosun diff` reports no difference (exit 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_chart_with_dev_and_prod_values() {
    let env = Env::start().await;
    helm_repo(&env);
    env.commit("chart");
    for (name, values) in [
        ("web-dev", "values-dev.yaml"),
        ("web-prod", "values-prod.yaml"),
    ] {
        let app = env.app(
            name,
            "charts/web",
            name,
            &format!("    helm:\n      valueFiles:\n      - {values}\n"),
        );
        let out = env.bosun_ok(&["sync", app.to_str().unwrap(), "--wait", "--timeout", "60s"]);
        assert!(out.contains("Healthy"), "{out}");
        let diff = env.bosun(&["diff", app.to_str().unwrap()]);
        assert_eq!(
            diff.status.code(),
            Some(0),
            "in sync after sync: {}",
            String::from_utf8_lossy(&diff.stdout)
        );
    }
    let dev = env
        .get(&["deployment", "web-dev", "-n", "web-dev"])
        .expect("dev deployment");
    assert_eq!(dev["spec"]["replicas"], 1);
    assert_eq!(
        dev["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/web:1.1.0-dev"
    );
    assert_eq!(
        dev["metadata"]["annotations"]["bosun.dev/tracking-id"],
        "web-dev:apps/Deployment:web-dev/web-dev"
    );
    let prod = env
        .get(&["deployment", "web-prod", "-n", "web-prod"])
        .expect("prod deployment");
    assert_eq!(prod["spec"]["replicas"], 3);
    assert_eq!(prod["status"]["readyReplicas"], 3);
    // bosun applies with its own field manager.
    let prod = env
        .get(&[
            "deployment",
            "web-prod",
            "-n",
            "web-prod",
            "--show-managed-fields",
        ])
        .expect("prod deployment");
    let managers: Vec<&str> = prod["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"bosun"), "{managers:?}");
    env.cluster.shutdown().await;
}

/// A Kustomize base with two overlays; `kustomize.images` in the Application overrides the image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomize_overlays_with_images() {
    let env = Env::start().await;
    write(
        &env.repo,
        "k8s/base/kustomization.yaml",
        "resources:\n- deployment.yaml\n",
    );
    write(
        &env.repo,
        "k8s/base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers: [{name: api, image: registry.local/api:1.0.0}]\n",
    );
    write(
        &env.repo,
        "k8s/overlays/staging/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: staging-\n",
    );
    write(
        &env.repo,
        "k8s/overlays/production/kustomization.yaml",
        "resources:\n- ../../base\nnamePrefix: prod-\nreplicas:\n- {name: api, count: 2}\n",
    );
    env.commit("kustomize");
    let staging = env.app("api-staging", "k8s/overlays/staging", "staging", "");
    let production = env.app(
        "api-production",
        "k8s/overlays/production",
        "production",
        "    kustomize:\n      images:\n      - registry.local/api:2.0.0\n",
    );
    env.bosun_ok(&[
        "sync",
        staging.to_str().unwrap(),
        "--wait",
        "--timeout",
        "60s",
    ]);
    env.bosun_ok(&[
        "sync",
        production.to_str().unwrap(),
        "--wait",
        "--timeout",
        "60s",
    ]);
    let s = env
        .get(&["deployment", "staging-api", "-n", "staging"])
        .expect("staging");
    assert_eq!(
        s["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/api:1.0.0"
    );
    let p = env
        .get(&["deployment", "prod-api", "-n", "production"])
        .expect("production");
    assert_eq!(p["spec"]["replicas"], 2);
    assert_eq!(
        p["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/api:2.0.0"
    );
    env.cluster.shutdown().await;
}

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: NAME\nANNOTATIONSdata: {key: value}\n";

fn configmap(name: &str, annotations: &str) -> String {
    CM.replace("NAME", name).replace("ANNOTATIONS", annotations)
}

/// A plain directory: a second commit that removes resources prunes them with `--prune` —
/// PruneLast ones after everything else — while `Prune=false` keeps one; objects that bosun did
/// not create are never touched. A change made with kubectl shows up as drift (`bosun diff`
/// exit 1), and `bosun diff` agrees with `kubectl diff --server-side` about which objects differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_prune_and_drift() {
    let env = Env::start().await;
    write(&env.repo, "plain/a.yaml", &configmap("a", ""));
    write(&env.repo, "plain/b.yaml", &configmap("b", ""));
    write(
        &env.repo,
        "plain/last.yaml",
        &configmap(
            "last",
            "  annotations: {argocd.argoproj.io/sync-options: PruneLast=true}\n",
        ),
    );
    write(
        &env.repo,
        "plain/keep.yaml",
        &configmap(
            "keep",
            "  annotations: {argocd.argoproj.io/sync-options: Prune=false}\n",
        ),
    );
    env.commit("four configmaps");
    let app = env.app("plain", "plain", "plain", "");
    let app = app.to_str().unwrap();
    env.bosun_ok(&["sync", app]);
    // An object bosun did not create, in the same namespace.
    let foreign = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign, namespace: plain, labels: {bosun.dev/app: plain}}\n";
    let out = Command::new(kubectl_path())
        .args(["apply", "--server-side", "-f", "-"])
        .env("KUBECONFIG", &env.kubeconfig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(foreign.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(out.success());

    // Drift: kubectl changes one object; bosun diff and kubectl diff both see exactly it.
    assert!(
        env.kubectl(&[
            "patch",
            "configmap",
            "a",
            "-n",
            "plain",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"key":"edited"}}"#
        ])
        .status
        .success()
    );
    let diff = env.bosun(&["diff", app, "-o", "json"]);
    assert_eq!(
        diff.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&diff.stderr)
    );
    let rendered = env.bosun_ok(&["render", app]);
    let kubectl_diff = Command::new(kubectl_path())
        .args([
            "diff",
            "--server-side",
            "--force-conflicts",
            "-n",
            "plain",
            "-f",
            "-",
        ])
        .env("KUBECONFIG", &env.kubeconfig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(rendered.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let kubectl_text = String::from_utf8_lossy(&kubectl_diff.stdout);
    let kubectl_differs: Vec<&str> = ["a", "b", "last", "keep"]
        .into_iter()
        .filter(|n| kubectl_text.contains(&format!("v1.ConfigMap.plain.{n}")))
        .collect();
    let plan: Value = serde_json::from_slice(&diff.stdout).unwrap();
    let bosun_differs: Vec<String> = plan[0]["plan"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "OutOfSync")
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(bosun_differs, vec!["a".to_string()], "{plan}");
    assert_eq!(
        kubectl_differs,
        vec!["a"],
        "kubectl diff:\n{kubectl_text}\nbosun render:\n{rendered}"
    );

    // Remove three from Git; sync with prune.
    for f in ["plain/b.yaml", "plain/last.yaml", "plain/keep.yaml"] {
        std::fs::remove_file(env.repo.join(f)).unwrap();
    }
    env.commit("remove three");
    let out = env.bosun(&["sync", app, "--prune"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let pos = |needle: &str| {
        stderr
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{stderr}"))
    };
    assert!(
        pos("/ConfigMap/plain/b pruned") < pos("/ConfigMap/plain/last pruned"),
        "PruneLast prunes after the rest:\n{stderr}"
    );
    assert!(
        stderr.contains("/ConfigMap/plain/keep prune skipped"),
        "{stderr}"
    );
    assert!(env.get(&["configmap", "b", "-n", "plain"]).is_none());
    assert!(env.get(&["configmap", "last", "-n", "plain"]).is_none());
    assert!(
        env.get(&["configmap", "keep", "-n", "plain"]).is_some(),
        "Prune=false keeps it"
    );
    assert!(
        env.get(&["configmap", "foreign", "-n", "plain"]).is_some(),
        "never prune what bosun did not create"
    );
    assert_eq!(
        env.get(&["configmap", "a", "-n", "plain"]).unwrap()["data"]["key"],
        "value",
        "the sync reverted the drift"
    );
    env.cluster.shutdown().await;
}

/// Sync waves and hook Jobs run in the documented order: the PreSync hook completes before wave
/// -1, which is applied (and healthy) before wave 0; wave 0's Sync hook is created after wave 0's
/// objects and completes before wave 1; the PostSync hook is created after all of that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waves_and_hooks_in_order() {
    let env = Env::start().await;
    write(
        &env.repo,
        "waves/cm-early.yaml",
        &configmap(
            "early",
            "  annotations: {argocd.argoproj.io/sync-wave: \"-1\"}\n",
        ),
    );
    write(&env.repo, "waves/cm-default.yaml", &configmap("middle", ""));
    write(
        &env.repo,
        "waves/cm-late.yaml",
        &configmap(
            "late",
            "  annotations: {argocd.argoproj.io/sync-wave: \"1\"}\n",
        ),
    );
    write(
        &env.repo,
        "waves/migrate.yaml",
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: BeforeHookCreation}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: registry.local/migrate:1}]\n",
    );
    let hook_job = |name: &str, hook: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations: {{argocd.argoproj.io/hook: {hook}}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: m, image: registry.local/{name}:1}}]\n"
        )
    };
    write(&env.repo, "waves/seed.yaml", &hook_job("seed", "Sync"));
    write(
        &env.repo,
        "waves/smoke.yaml",
        &hook_job("smoke", "PostSync"),
    );
    env.commit("waves");
    let app = env.app("waves", "waves", "waves", "");
    let out = env.bosun(&["sync", app.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let pos = |needle: &str| {
        stderr
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{stderr}"))
    };
    assert!(pos("batch/Job/waves/migrate hook succeeded") < pos("/ConfigMap/waves/early"));
    assert!(pos("/ConfigMap/waves/early") < pos("/ConfigMap/waves/middle"));
    assert!(pos("/ConfigMap/waves/middle") < pos("batch/Job/waves/seed running"));
    assert!(pos("batch/Job/waves/seed hook succeeded") < pos("/ConfigMap/waves/late"));
    assert!(pos("/ConfigMap/waves/late") < pos("PostSync wave 0"));
    assert!(pos("PostSync wave 0") < pos("batch/Job/waves/smoke hook succeeded"));
    // In the cluster: each Job completed, and each was created no earlier than the previous
    // phase's Job completed.
    let complete = |name: &str| {
        let job = env
            .get(&["job", name, "-n", "waves"])
            .unwrap_or_else(|| panic!("hook job {name} kept (BeforeHookCreation)"));
        assert!(
            job["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Complete" && c["status"] == "True"),
            "{job}"
        );
        job
    };
    let (migrate, seed, smoke) = (complete("migrate"), complete("seed"), complete("smoke"));
    // RFC 3339 in UTC with whole seconds: the strings order as the times do.
    let created = |job: &Value| {
        job["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let completed = |job: &Value| {
        job["status"]["completionTime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(completed(&migrate) <= created(&seed), "{migrate}\n{seed}");
    assert!(completed(&seed) <= created(&smoke), "{seed}\n{smoke}");
    // The hook Job is not part of the Application's resources: a second sync recreates it.
    let first = env
        .get(&["job", "migrate", "-n", "waves"])
        .expect("hook job kept (BeforeHookCreation)");
    env.bosun_ok(&["sync", app.to_str().unwrap()]);
    let second = env
        .get(&["job", "migrate", "-n", "waves"])
        .expect("hook job");
    assert_ne!(
        first["metadata"]["uid"], second["metadata"]["uid"],
        "BeforeHookCreation recreates the hook"
    );
    env.cluster.shutdown().await;
}

/// `bosun render` prints a Secret's keys but never its values (docs/diff.md): `data`,
/// `stringData` and their decoded text stay out of the output, as in `bosun diff`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_masks_secret_values() {
    let env = Env::start().await;
    write(
        &env.repo,
        "secret/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  token: c2VjcmV0LXRva2Vu\nstringData:\n  password: hunter2\n",
    );
    write(&env.repo, "secret/config.yaml", &configmap("settings", ""));
    env.commit("secret");
    let app = env.app("secret", "secret", "secret", "");
    let out = env.bosun_ok(&["render", app.to_str().unwrap()]);
    for value in ["c2VjcmV0LXRva2Vu", "secret-token", "hunter2"] {
        assert!(!out.contains(value), "{value} in:\n{out}");
    }
    assert!(
        out.contains("kind: Secret") && out.contains("token") && out.contains("password"),
        "{out}"
    );
    assert!(out.contains("++++++++"), "{out}");
    assert!(
        out.contains("key: value"),
        "other objects print unmasked:\n{out}"
    );
    env.cluster.shutdown().await;
}

/// A broken chart and an empty render leave the cluster untouched, with an error naming the
/// cause (exit 2): nothing is applied and nothing is pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_chart_and_empty_render_change_nothing() {
    let env = Env::start().await;
    helm_repo(&env);
    write(&env.repo, "empty/README.md", "nothing here\n");
    env.commit("chart");
    let app = env.app("web", "charts/web", "web", "");
    // --wait: the Deployment's rollout is over before the snapshot is taken.
    env.bosun_ok(&["sync", app.to_str().unwrap(), "--wait", "--timeout", "60s"]);
    let before = env.desired_state("web");
    let applied = |kind: &str| {
        before.iter().any(|o| {
            o["kind"] == kind
                && o["name"] == "web"
                && o["bosun"].as_array().is_some_and(|b| !b.is_empty())
        })
    };
    assert!(applied("Deployment") && applied("Service"), "{before:?}");

    // The broken commit also changes the Deployment (replicas) and drops the Service, so that
    // applying the part that did render, or pruning, would show in the snapshot.
    write(
        &env.repo,
        "charts/web/templates/broken.yaml",
        "kind: ConfigMap\nmetadata:\n  name: {{ .Values.missing | nonexistentfunction }}\n",
    );
    write(
        &env.repo,
        "charts/web/values.yaml",
        "env: base\nreplicas: 2\nimage: {repository: registry.local/web, tag: '1.0.0'}\n",
    );
    std::fs::remove_file(env.repo.join("charts/web/templates/service.yaml")).unwrap();
    env.commit("break the chart");
    let out = env.bosun(&["sync", app.to_str().unwrap(), "--prune"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.yaml") || err.contains("nonexistentfunction"),
        "{err}"
    );
    assert_eq!(
        env.desired_state("web"),
        before,
        "a failed render applies and prunes nothing"
    );

    // The same Application pointed at a path with no manifests: pruning would delete everything.
    let empty = env.app("web", "empty", "web", "");
    let out = env.bosun(&["sync", empty.to_str().unwrap(), "--prune"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("no objects") || err.contains("empty"), "{err}");
    assert_eq!(
        env.desired_state("web"),
        before,
        "an empty render prunes nothing"
    );
    env.cluster.shutdown().await;
}

/// The writes (not dry runs) the cluster received since the `since`-th recorded request.
fn writes_since(env: &Env, since: usize) -> (usize, Vec<String>) {
    let out = env.kubectl(&["get", "--raw", "/admin/requests"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = log["items"].as_array().unwrap();
    let writes = items[since.min(items.len())..]
        .iter()
        .filter(|r| {
            matches!(
                r["method"].as_str(),
                Some("PATCH" | "PUT" | "POST" | "DELETE")
            )
        })
        .filter(|r| !r["uri"].as_str().unwrap_or_default().contains("dryRun"))
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["uri"].as_str().unwrap()
            )
        })
        .collect();
    (items.len(), writes)
}

/// A sync sends no write for an object whose server-side dry run returned the live object
/// unchanged: syncing again sends none, and a commit that changes one object sends one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_objects_are_not_written_again() {
    let env = Env::start().await;
    for name in ["a", "b", "c", "d"] {
        write(
            &env.repo,
            &format!("quiet/{name}.yaml"),
            &configmap(name, ""),
        );
    }
    env.commit("four configmaps");
    let app = env.app("quiet", "quiet", "quiet", "");
    let app = app.to_str().unwrap();
    env.bosun_ok(&["sync", app]);
    let (mark, _) = writes_since(&env, 0);

    let out = env.bosun_ok(&["sync", app]);
    assert!(out.contains("Synced (unchanged)"), "{out}");
    let (mark, writes) = writes_since(&env, mark);
    assert!(
        writes.is_empty(),
        "a sync with nothing to change wrote: {writes:?}"
    );

    write(
        &env.repo,
        "quiet/b.yaml",
        &configmap("b", "  labels: {changed: \"yes\"}\n"),
    );
    env.commit("change b");
    env.bosun_ok(&["sync", app]);
    let (_, writes) = writes_since(&env, mark);
    assert_eq!(
        writes.len(),
        1,
        "exactly the changed object is written: {writes:?}"
    );
    assert!(writes[0].contains("/configmaps/b"), "{writes:?}");
    let b = env.get(&["configmap", "b", "-n", "quiet"]).unwrap();
    assert_eq!(b["metadata"]["labels"]["changed"], "yes");
}

/// Lua health checks configured as in Argo CD (`resource.customizations.health.<group>_<kind>`
/// in the `argocd-cm` section of bosun.yaml) judge a custom resource: Progressing, Degraded,
/// Healthy as the script says; a script that loops is stopped and one that runs a command is
/// refused (Unknown, with the reason); a script that does not compile is an error naming the
/// file and key before anything is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_health_checks_from_argocd_cm_judge_custom_resources() {
    let env = Env::start().await;
    write(&env.repo, "widgets/crd.yaml", WIDGET_CRD);
    write(
        &env.repo,
        "widgets/widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 1\n",
    );
    env.commit("widgets");
    let app = env.app("widgets", "widgets", "widgets", "");
    let app = app.to_str().unwrap();
    let config = |script: &str| {
        let indented: String = script.lines().map(|l| format!("    {l}\n")).collect();
        let file = env.dir.path().join("bosun.yaml");
        std::fs::write(
            &file,
            format!(
                "argocd-cm:\n  resource.customizations.health.example.com_Widget: |\n{indented}"
            ),
        )
        .unwrap();
        file.to_str().unwrap().to_owned()
    };
    let health_of_widget = |stdout: &str| -> String {
        let row = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("Widget"))
            .unwrap_or_else(|| panic!("no Widget row in:\n{stdout}"));
        row.split_whitespace().nth(5).unwrap_or_default().to_owned()
    };
    let wait =
        |config: &str| env.bosun(&["sync", app, "--config", config, "--wait", "--timeout", "3s"]);
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).to_string();

    let checks = config(WIDGET_HEALTH);
    let out = env.bosun_ok(&["sync", app, "--config", &checks]);
    assert_eq!(health_of_widget(&out), "Progressing", "{out}");

    env.kubectl(&[
        "patch",
        "widget",
        "w",
        "-n",
        "widgets",
        "--type=merge",
        "-p",
        r#"{"status": {"state": "broken", "reason": "no disk"}}"#,
    ]);
    let out = wait(&checks);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is Degraded: widget broken: no disk"),
        "{}",
        stderr(&out)
    );

    env.kubectl(&[
        "patch",
        "widget",
        "w",
        "-n",
        "widgets",
        "--type=merge",
        "-p",
        r#"{"status": {"state": "on"}}"#,
    ]);
    let out = wait(&checks);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("health Healthy"));

    // Without the check, the Widget follows no status convention: no health, the app Healthy.
    let out = env.bosun_ok(&["sync", app]);
    assert_eq!(health_of_widget(&out), "");

    let out = wait(&config("while true do end"));
    assert!(
        stderr(&out).contains("is Unknown: the health script ran longer than 1s"),
        "{}",
        stderr(&out)
    );

    let marker = env.dir.path().join("lua-was-here");
    let out = wait(&config(&format!(
        "os.execute('touch {}')\nreturn {{status = 'Healthy'}}",
        marker.display()
    )));
    assert!(stderr(&out).contains("is Unknown: "), "{}", stderr(&out));
    assert!(!marker.exists(), "os.execute ran");

    let broken = config("hs = {");
    let out = env.bosun(&["sync", app, "--config", &broken]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "{broken}: argocd-cm.resource.customizations.health.example.com_Widget: the Lua script does not compile"
        )),
        "{}",
        stderr(&out)
    );
    env.cluster.shutdown().await;
}

/// Two Applications render one ConfigMap: the second gets Argo CD's SharedResourceWarning from
/// `bosun diff` and `bosun sync`; with `FailOnSharedResource=true` its sync fails naming the
/// object and its owner, and the object stays the first Application's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_two_applications_render_is_a_shared_resource() {
    let env = Env::start().await;
    write(
        &env.repo,
        "shared/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n",
    );
    env.commit("shared");
    let first = env.app("first", "shared", "shared", "");
    env.bosun_ok(&["sync", first.to_str().unwrap()]);
    let strict = env.dir.path().join("strict.yaml");
    let second = env.app("second", "shared", "shared", "");
    std::fs::write(
        &strict,
        std::fs::read_to_string(&second)
            .unwrap()
            .replace("name: second", "name: strict")
            .replace(
                "- CreateNamespace=true",
                "- CreateNamespace=true\n    - FailOnSharedResource=true",
            ),
    )
    .unwrap();
    let warning = "ConfigMap/settings is part of applications strict and first";

    let out = env.bosun(&["diff", strict.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        stderr.contains(&format!(
            "warning: strict: SharedResourceWarning: {warning}"
        )),
        "{stderr}"
    );

    let out = env.bosun(&["sync", strict.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "strict: sync failed: Shared resource found: {warning}"
        )),
        "{stderr}"
    );
    let owner = |cm: &Value| cm["metadata"]["labels"]["bosun.dev/app"].clone();
    let cm = env.get(&["configmap", "settings", "-n", "shared"]).unwrap();
    assert_eq!(owner(&cm), "first");

    // Without the option the sync takes it over, as Argo CD does, and says so.
    let out = env.bosun(&["sync", second.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "SharedResourceWarning: ConfigMap/settings is part of applications second and first"
        ),
        "{stderr}"
    );
    let cm = env.get(&["configmap", "settings", "-n", "shared"]).unwrap();
    assert_eq!(owner(&cm), "second");
    env.cluster.shutdown().await;
}

/// A Jsonnet directory (extVars, a TLA) and a config management plugin defined in bosun.yaml
/// sync like any source; an Application naming a plugin that is not defined fails with the
/// plugin's name and applies nothing.
/// `bosun sync` of an app-of-apps applies its child Applications: a cluster that does not serve
/// them gets the Application CRD first, and `kubectl get applications` lists the children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_of_apps_sync_installs_the_application_crd_and_applies_the_children() {
    let env = Env::start().await;
    write(
        &env.repo,
        "apps/child.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: child\n  namespace: argocd\n  finalizers: [resources-finalizer.argocd.argoproj.io]\nspec:\n  project: default\n  source:\n    repoURL: https://example.com/repo.git\n    path: child\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: child\n",
    );
    env.commit("an app of apps");
    assert!(env.get(&["crd", "applications.argoproj.io"]).is_none());
    let parent = env.app("parent", "apps", "argocd", "");
    env.bosun_ok(&["sync", parent.to_str().unwrap()]);
    let child = env
        .get(&["application", "child", "-n", "argocd"])
        .expect("the child Application");
    assert_eq!(child["spec"]["source"]["path"], "child");
    assert_eq!(child["metadata"]["labels"]["bosun.dev/app"], "parent");
    // Compared again: in sync (the CRD is bosun's, and it is not part of the Application).
    let out = env.bosun(&["diff", parent.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    env.cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonnet_directories_and_config_management_plugins_sync() {
    let env = Env::start().await;
    write(
        &env.repo,
        "jsonnet/main.jsonnet",
        "function(replicas) [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-jsonnet' }, data: { env: std.extVar('env'), replicas: std.toString(replicas) } }]\n",
    );
    write(&env.repo, "plugin/values.env", "COLOUR=blue\n");
    env.commit("sources");
    let jsonnet = env.app(
        "jsonnet",
        "jsonnet",
        "sources",
        "    directory:\n      jsonnet:\n        extVars: [{name: env, value: prod}]\n        tlas: [{name: replicas, value: '1 + 2', code: true}]\n",
    );
    env.bosun_ok(&["sync", jsonnet.to_str().unwrap()]);
    let cm = env
        .get(&["configmap", "from-jsonnet", "-n", "sources"])
        .unwrap();
    assert_eq!(
        cm["data"],
        serde_json::json!({"env": "prod", "replicas": "3"})
    );

    let config = env.dir.path().join("bosun.yaml");
    std::fs::write(
        &config,
        "plugins:\n- name: dotenv\n  version: v1\n  generate:\n    command: [sh, -c]\n    args:\n    - |\n      . ./values.env\n      printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-plugin\\ndata:\\n  colour: %s\\n  app: %s\\n' \"$COLOUR\" \"$ARGOCD_APP_NAME\"\n",
    )
    .unwrap();
    let plugin = env.app(
        "dotenv",
        "plugin",
        "sources",
        "    plugin:\n      name: dotenv-v1\n",
    );
    env.bosun_ok(&[
        "sync",
        plugin.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let cm = env
        .get(&["configmap", "from-plugin", "-n", "sources"])
        .unwrap();
    assert_eq!(
        cm["data"],
        serde_json::json!({"colour": "blue", "app": "dotenv"})
    );

    let undefined = env.app(
        "helmfile",
        "plugin",
        "undefined",
        "    plugin:\n      name: helmfile\n",
    );
    let out = env.bosun(&[
        "sync",
        undefined.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(
        stderr
            .contains("no plugin named \"helmfile\" in bosun.yaml's plugins (defined: dotenv-v1)"),
        "{stderr}"
    );
    assert!(
        env.get(&["namespace", "undefined"]).is_none(),
        "nothing is applied"
    );
    env.cluster.shutdown().await;
}

/// `bosun sync --dry-run` of a new Application with `CreateNamespace=true`: the namespace does
/// not exist yet, so the server cannot dry-run the objects inside it (404 `namespaces "t1" not
/// found`); the dry run says what would be created, as `bosun diff` does, and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sync_into_a_namespace_that_does_not_exist_yet() {
    let env = Env::start().await;
    write(&env.repo, "t1/cm.yaml", &configmap("settings", ""));
    env.commit("t1");
    let app = env.app("t1", "t1", "t1", "");
    let app = app.to_str().unwrap();
    let out = env.bosun_ok(&["sync", app, "--dry-run"]);
    assert!(out.contains("settings"), "{out}");
    assert!(
        env.get(&["namespace", "t1"]).is_none(),
        "a dry run created the namespace"
    );
    // A real sync afterwards creates both.
    env.bosun_ok(&["sync", app]);
    assert!(env.get(&["configmap", "settings", "-n", "t1"]).is_some());
}

/// A Secret written with `stringData` is stored folded into `data` (as a real apiserver does), and
/// bosun still sees it as in sync: a second sync writes nothing and `bosun diff` finds no drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_with_string_data_stays_synced() {
    let env = Env::start().await;
    write(
        &env.repo,
        "secrets/db.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: hunter2\n",
    );
    env.commit("a secret");
    let app = env.app("secrets", "secrets", "secrets", "");
    let app = app.to_str().unwrap();
    env.bosun_ok(&["sync", app]);
    let live = env.get(&["secret", "db", "-n", "secrets"]).unwrap();
    assert_eq!(live["data"]["password"], "aHVudGVyMg==");
    assert!(live.get("stringData").is_none(), "{live}");
    let (mark, _) = writes_since(&env, 0);
    let out = env.bosun_ok(&["sync", app]);
    assert!(out.contains("Synced (unchanged)"), "{out}");
    let (_, writes) = writes_since(&env, mark);
    assert!(writes.is_empty(), "{writes:?}");
    let diff = env.bosun(&["diff", app]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
}

impl Env {
    /// The Application `hello` of chart `hello` of `repo_url` at `version`, with the chart's
    /// `values-loud.yaml`, into namespace `charts`; its file.
    fn chart_app(&self, repo_url: &str, version: &str) -> String {
        let file = self.dir.path().join("hello.yaml");
        std::fs::write(
            &file,
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: hello\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: {repo_url}\n    chart: hello\n    targetRevision: \"{version}\"\n    helm:\n      valueFiles: [values-loud.yaml]\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: charts\n  syncPolicy:\n    syncOptions:\n    - CreateNamespace=true\n"
            ),
        )
        .unwrap();
        file.display().to_string()
    }
}

/// A Helm repository on loopback: Python's `http.server` serving `dir` (a real HTTP server,
/// stopped on drop).
struct HelmRepository {
    child: std::process::Child,
    url: String,
    /// The packaged charts.
    repo: PathBuf,
    /// helm's homes, for pushes.
    homes: PathBuf,
}

impl Drop for HelmRepository {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HelmRepository {
    /// The render crate's Helm repository of chart `hello` (1.0.0, 1.1.0, 2.0.0), served; `root`
    /// holds helm's homes for pushes.
    fn start(root: &Path) -> HelmRepository {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../render/tests/data/hello-repo");
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(&repo)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .unwrap_or_else(|| panic!("no port in {line:?}"))
            .to_string();
        HelmRepository {
            child,
            url: format!("http://127.0.0.1:{port}"),
            repo,
            homes: root.join("helm-homes"),
        }
    }

    /// Pushes the packaged chart `hello` at `version` to the OCI `reference` (`host/path`).
    fn push_to(&self, version: &str, reference: &str) {
        let out = Command::new(tools().join("bin/helm"))
            .arg("push")
            .arg(self.repo.join(format!("hello-{version}.tgz")))
            .arg(format!("oci://{reference}"))
            .arg("--plain-http")
            .env("HELM_CONFIG_HOME", self.homes.join("config"))
            .env("HELM_CACHE_HOME", self.homes.join("cache"))
            .env("HELM_DATA_HOME", self.homes.join("data"))
            .output()
            .unwrap();
        assert!(out.status.success(), "helm push: {out:?}");
    }
}

/// An Argo CD chart source (`chart:` with `repoURL` a Helm repository) is pulled at the version
/// `targetRevision` names, or the newest a constraint allows, rendered with the chart's own value
/// files and synced; the chart's version is the source's revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_of_a_helm_repository_is_synced_at_its_version() {
    let env = Env::start().await;
    let helm_repo = HelmRepository::start(env.dir.path());
    let app = |version: &str| env.chart_app(&helm_repo.url, version);
    let file = app("1.0.0");
    let out = env.bosun_ok(&["sync", &file]);
    assert!(
        out.contains("successfully synced (revision 1.0.0)"),
        "the chart's version is the revision:\n{out}"
    );
    let cm = env
        .get(&["configmap", "hello", "-n", "charts"])
        .expect("synced");
    assert_eq!(cm["data"], json!({"greeting": "HELLO", "chart": "1.0.0"}));
    assert_eq!(env.bosun(&["diff", &file]).status.code(), Some(0));

    let file = app("1.*");
    env.bosun_ok(&["sync", &file]);
    let cm = env.get(&["configmap", "hello", "-n", "charts"]).unwrap();
    assert_eq!(cm["data"]["chart"], "1.1.0");

    let file = app("3.0.0");
    let out = env.bosun(&["sync", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("hello") && stderr.contains("3.0.0"),
        "{stderr}"
    );
    env.cluster.shutdown().await;
}

/// Argo CD's multi-source Application with value files from another repository: the chart's
/// source names `$values/envs/prod.yaml`, the second source (`ref: values`, no path) only gives
/// value files and is not rendered itself (its YAML is not Kubernetes objects). A commit to the
/// values repository alone changes what is synced; each source's commit is a revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_files_from_another_repository_by_ref() {
    let env = Env::start().await;
    helm_repo(&env);
    env.commit("chart");
    let values = env.dir.path().join("values-repo");
    std::fs::create_dir_all(&values).unwrap();
    git(&values, &["init", "-q", "-b", "main"]);
    write(
        &values,
        "envs/prod.yaml",
        "env: from-values-repo\nreplicas: 2\n",
    );
    git(&values, &["add", "-A"]);
    git(&values, &["commit", "-q", "-m", "prod values"]);
    let file = env.dir.path().join("web.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\n  namespace: argocd\nspec:\n  project: default\n  sources:\n  - repoURL: file://{}\n    targetRevision: main\n    path: charts/web\n    helm:\n      valueFiles: [values-prod.yaml, $values/envs/prod.yaml]\n  - repoURL: file://{}\n    targetRevision: main\n    ref: values\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: web\n  syncPolicy:\n    syncOptions:\n    - CreateNamespace=true\n",
            env.repo.display(),
            values.display()
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let out = env.bosun_ok(&["sync", file]);
    let values_commit = git(&values, &["rev-parse", "HEAD"]);
    assert!(
        out.contains(&values_commit[..7]),
        "both sources' revisions:\n{out}"
    );
    let deployment = env
        .get(&["deployment", "web", "-n", "web"])
        .expect("synced");
    assert_eq!(
        deployment["spec"]["replicas"], 2,
        "the values repository's file wins"
    );
    assert_eq!(env.bosun(&["diff", file]).status.code(), Some(0));

    // A commit to the values repository alone.
    write(
        &values,
        "envs/prod.yaml",
        "env: from-values-repo\nreplicas: 4\n",
    );
    git(&values, &["commit", "-q", "-am", "more replicas"]);
    assert_eq!(env.bosun(&["diff", file]).status.code(), Some(1));
    env.bosun_ok(&["sync", file]);
    let deployment = env.get(&["deployment", "web", "-n", "web"]).unwrap();
    assert_eq!(deployment["spec"]["replicas"], 4);

    // A ref no source has: an error naming the file, and nothing changes.
    let text = std::fs::read_to_string(file)
        .unwrap()
        .replace("$values/", "$nope/");
    std::fs::write(file, text).unwrap();
    let out = env.bosun(&["sync", file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("$nope/envs/prod.yaml") && stderr.contains("no source has ref: nope"),
        "{stderr}"
    );
    env.cluster.shutdown().await;
}

/// A chart in an OCI registry (a real distribution registry on loopback, spoken to in plain
/// HTTP as the image updater does for a registry on this machine), named `oci://host/path` or,
/// as Argo CD writes it, `host/path`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_of_an_oci_registry_is_synced_at_its_version() {
    let env = Env::start().await;
    let charts = HelmRepository::start(env.dir.path());
    let registry = common::registry::Registry::start(false);
    let reference = format!("{}/charts", registry.address);
    charts.push_to("1.0.0", &reference);
    charts.push_to("1.1.0", &reference);
    let out = env.bosun_ok(&[
        "sync",
        &env.chart_app(&format!("oci://{reference}"), "1.0.0"),
    ]);
    assert!(
        out.contains("successfully synced (revision 1.0.0)"),
        "{out}"
    );
    let cm = env
        .get(&["configmap", "hello", "-n", "charts"])
        .expect("synced");
    assert_eq!(cm["data"], json!({"greeting": "HELLO", "chart": "1.0.0"}));
    env.bosun_ok(&["sync", &env.chart_app(&reference, "1.1.0")]);
    let cm = env.get(&["configmap", "hello", "-n", "charts"]).unwrap();
    assert_eq!(cm["data"]["chart"], "1.1.0");
    env.cluster.shutdown().await;
}
