//! The real kubectl (v1.32 and v1.35) against the local cluster. Each assertion names the
//! behaviour of a real apiserver that it checks.

mod common;

use std::time::Duration;

use common::{TestCluster, eventually, kubectls};
use serde_json::Value;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/web:1.0.0
        ports:
        - containerPort: 8080
      - name: sidecar
        image: registry.local/proxy:2.1
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: rollouts.argoproj.io
spec:
  group: argoproj.io
  scope: Namespaced
  names: {plural: rollouts, singular: rollout, kind: Rollout, shortNames: [ro]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

const CUSTOM_RESOURCE: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  strategy:
    canary:
      steps:
      - setWeight: 20
"#;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `kubectl apply --server-side` of a multi-document manifest creates every object; a CRD is
/// served within a second, so a custom resource can be applied right after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_server_side_multi_document_with_crd() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        let out = c
            .kubectl_ok_stdin(
                &kubectl,
                &["apply", "--server-side", "-f", "-"],
                Some(MANIFEST),
            )
            .await;
        for line in [
            "namespace/shop serverside-applied",
            "configmap/settings serverside-applied",
            "deployment.apps/web serverside-applied",
            "service/web serverside-applied",
            "customresourcedefinition.apiextensions.k8s.io/rollouts.argoproj.io serverside-applied",
        ] {
            assert!(
                out.contains(line),
                "{} missing {line:?} in:\n{out}",
                kubectl.display()
            );
        }
        // The CRD becomes Established and its kind is discoverable (kubectl re-reads discovery).
        eventually(5, "the Rollout CRD to be established", || async {
            let out = c
                .kubectl(
                    &kubectl,
                    &["get", "crd", "rollouts.argoproj.io", "-o", "json"],
                )
                .await;
            let crd = json(&String::from_utf8_lossy(&out.stdout));
            crd["status"]["conditions"]
                .as_array()?
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
                .then_some(())
        })
        .await;
        let out = c
            .kubectl_ok_stdin(
                &kubectl,
                &["apply", "--server-side", "-f", "-"],
                Some(CUSTOM_RESOURCE),
            )
            .await;
        assert!(
            out.contains("rollout.argoproj.io/web serverside-applied"),
            "{out}"
        );
        // Short names from the CRD work, and the custom resource reads back as applied.
        let ro = json(
            &c.kubectl_ok(&kubectl, &["get", "ro", "web", "-n", "shop", "-o", "json"])
                .await,
        );
        assert_eq!(
            ro["spec"]["strategy"]["canary"]["steps"][0]["setWeight"],
            20
        );
        assert_eq!(
            ro["metadata"]["generation"], 1,
            "custom resources start at generation 1"
        );
        // The apiserver defaults what the manifest left out.
        let deploy = json(
            &c.kubectl_ok(
                &kubectl,
                &["get", "deployment", "web", "-n", "shop", "-o", "json"],
            )
            .await,
        );
        assert_eq!(
            deploy["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
            "25%"
        );
        assert_eq!(
            deploy["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(
            deploy["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"],
            "TCP"
        );
        assert!(
            deploy["metadata"]["uid"]
                .as_str()
                .is_some_and(|u| u.len() == 36)
        );
        let svc = json(
            &c.kubectl_ok(&kubectl, &["get", "svc", "web", "-n", "shop", "-o", "json"])
                .await,
        );
        assert_eq!(svc["spec"]["type"], "ClusterIP");
        // Applying the same manifest again changes nothing. The ConfigMap has no controller, so
        // its resourceVersion must stay the same (the apiserver skips no-op writes). The
        // Deployment's status is still being written by its controller while Pods come up, so its
        // resourceVersion may move for that reason alone; what a no-op apply must not touch is its
        // generation and the apply entry of kubectl's field manager (operation and time).
        let get = async |kind: &str, name: &str| {
            json(
                &c.kubectl_ok(
                    &kubectl,
                    &[
                        "get",
                        kind,
                        name,
                        "-n",
                        "shop",
                        "-o",
                        "json",
                        "--show-managed-fields",
                    ],
                )
                .await,
            )
        };
        let apply_entry = |obj: &Value| -> Value {
            obj["metadata"]["managedFields"]
                .as_array()
                .and_then(|m| m.iter().find(|e| e["operation"] == "Apply").cloned())
                .unwrap_or(Value::Null)
        };
        let cm_before = get("configmap", "settings").await;
        let deploy_before = get("deployment", "web").await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(MANIFEST),
        )
        .await;
        let cm_after = get("configmap", "settings").await;
        let deploy_after = get("deployment", "web").await;
        assert_eq!(
            cm_after["metadata"]["resourceVersion"],
            cm_before["metadata"]["resourceVersion"],
            "{}: a no-op apply must not bump resourceVersion",
            kubectl.display()
        );
        assert_eq!(
            deploy_after["metadata"]["generation"],
            deploy_before["metadata"]["generation"],
            "{}: a no-op apply must not bump generation",
            kubectl.display()
        );
        assert!(apply_entry(&deploy_before).is_object(), "{deploy_before}");
        assert_eq!(
            apply_entry(&deploy_after),
            apply_entry(&deploy_before),
            "{}: a no-op apply must not rewrite the manager's managedFields entry",
            kubectl.display()
        );
        c.shutdown().await;
    }
}

/// `get -o json|yaml|wide` print what the server returns; `-o wide` shows the server's priority-1
/// table columns (a Deployment's containers, images and selector).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_output_formats() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(MANIFEST),
        )
        .await;
        let list = json(
            &c.kubectl_ok(&kubectl, &["get", "configmaps", "-n", "shop", "-o", "json"])
                .await,
        );
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"][0]["data"]["mode"], "fast");
        let yaml = c
            .kubectl_ok(
                &kubectl,
                &["get", "configmap", "settings", "-n", "shop", "-o", "yaml"],
            )
            .await;
        assert!(
            yaml.contains("mode: fast") && yaml.contains("kind: ConfigMap"),
            "{yaml}"
        );
        let wide = c
            .kubectl_ok(
                &kubectl,
                &["get", "deployment", "web", "-n", "shop", "-o", "wide"],
            )
            .await;
        let header = wide.lines().next().unwrap_or_default();
        for column in [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ] {
            assert!(
                header.contains(column),
                "{}: -o wide header lacks {column}: {header}",
                kubectl.display()
            );
        }
        assert!(
            wide.contains("web,sidecar")
                && wide.contains("registry.local/web:1.0.0,registry.local/proxy:2.1"),
            "{wide}"
        );
        let plain = c.kubectl_ok(&kubectl, &["get", "svc", "-n", "shop"]).await;
        assert!(
            plain.contains("ClusterIP") && plain.contains("80/TCP"),
            "{plain}"
        );
        // A name that does not exist: NotFound, as the apiserver words it.
        let missing = c
            .kubectl(&kubectl, &["get", "configmap", "nope", "-n", "shop"])
            .await;
        assert!(!missing.status.success());
        let err = String::from_utf8_lossy(&missing.stderr);
        assert!(err.contains(r#"configmaps "nope" not found"#), "{err}");
        c.shutdown().await;
    }
}

/// `kubectl get -w` lists, then streams changes as they happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_streams_changes() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        let mut watch = tokio::process::Command::new(&kubectl)
            .args(["get", "configmaps", "-n", "default", "-w", "-o", "name"])
            .env("KUBECONFIG", &c.kubeconfig)
            .env("HOME", c.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl get -w");
        let stdout = watch.stdout.take().expect("stdout");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        for name in ["first", "second"] {
            let cm = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\ndata: {{k: v}}\n"
            );
            c.kubectl_ok_stdin(&kubectl, &["apply", "--server-side", "-f", "-"], Some(&cm))
                .await;
        }
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while seen.len() < 2 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(line)) => seen.push(line),
                _ => panic!("{}: get -w printed only {seen:?}", kubectl.display()),
            }
        }
        assert_eq!(seen, vec!["configmap/first", "configmap/second"]);
        watch.kill().await.ok();
        c.shutdown().await;
    }
}

/// label, annotate and scale change exactly the targeted fields; label and annotate leave the
/// generation alone (metadata), scale bumps it (spec).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_annotate_scale() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(MANIFEST),
        )
        .await;
        let ns = ["-n", "shop"];
        let args = |extra: &[&'static str]| -> Vec<&'static str> { [&ns[..], extra].concat() };
        c.kubectl_ok(
            &kubectl,
            &args(&["label", "deployment", "web", "tier=frontend"]),
        )
        .await;
        c.kubectl_ok(
            &kubectl,
            &args(&["annotate", "deployment", "web", "owner=team-a"]),
        )
        .await;
        let d = json(
            &c.kubectl_ok(&kubectl, &args(&["get", "deployment", "web", "-o", "json"]))
                .await,
        );
        assert_eq!(d["metadata"]["labels"]["tier"], "frontend");
        assert_eq!(d["metadata"]["annotations"]["owner"], "team-a");
        assert_eq!(
            d["metadata"]["generation"], 1,
            "metadata changes do not bump generation"
        );
        c.kubectl_ok(
            &kubectl,
            &args(&["scale", "deployment", "web", "--replicas=5"]),
        )
        .await;
        let d = json(
            &c.kubectl_ok(&kubectl, &args(&["get", "deployment", "web", "-o", "json"]))
                .await,
        );
        assert_eq!(d["spec"]["replicas"], 5);
        assert_eq!(
            d["metadata"]["generation"], 2,
            "a spec change bumps generation"
        );
        // Removing a label with the trailing-dash syntax.
        c.kubectl_ok(&kubectl, &args(&["label", "deployment", "web", "tier-"]))
            .await;
        let d = json(
            &c.kubectl_ok(&kubectl, &args(&["get", "deployment", "web", "-o", "json"]))
                .await,
        );
        assert!(d["metadata"]["labels"].get("tier").is_none());
        // Overwriting a label without --overwrite is refused by kubectl itself; with it, it changes.
        c.kubectl_ok(
            &kubectl,
            &args(&["label", "deployment", "web", "app=other", "--overwrite"]),
        )
        .await;
        let d = json(
            &c.kubectl_ok(&kubectl, &args(&["get", "deployment", "web", "-o", "json"]))
                .await,
        );
        assert_eq!(d["metadata"]["labels"]["app"], "other");
        c.shutdown().await;
    }
}

/// The three patch types: a JSON merge patch replaces lists, a JSON patch edits by path, and a
/// strategic merge patch merges the containers list by name (the other container stays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_merge_json_strategic() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(MANIFEST),
        )
        .await;
        let get = || async {
            json(
                &c.kubectl_ok(
                    &kubectl,
                    &["get", "deployment", "web", "-n", "shop", "-o", "json"],
                )
                .await,
            )
        };
        // Strategic: only the named container's image changes.
        c.kubectl_ok(
            &kubectl,
            &["patch", "deployment", "web", "-n", "shop", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"registry.local/web:1.1.0"}]}}}}"#],
        )
        .await;
        let d = get().await;
        let containers = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
            .clone();
        assert_eq!(
            containers.len(),
            2,
            "strategic merge keeps the sidecar: {containers:?}"
        );
        assert_eq!(containers[0]["image"], "registry.local/web:1.1.0");
        assert_eq!(containers[1]["name"], "sidecar");
        // JSON patch: by path, with a test that holds.
        c.kubectl_ok(
            &kubectl,
            &["patch", "deployment", "web", "-n", "shop", "--type", "json", "-p", r#"[{"op":"test","path":"/spec/replicas","value":2},{"op":"replace","path":"/spec/replicas","value":4}]"#],
        )
        .await;
        assert_eq!(get().await["spec"]["replicas"], 4);
        // A failing JSON-patch test changes nothing.
        let failed = c
            .kubectl(&kubectl, &["patch", "deployment", "web", "-n", "shop", "--type", "json", "-p", r#"[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":7}]"#])
            .await;
        assert!(!failed.status.success());
        assert_eq!(get().await["spec"]["replicas"], 4);
        // Merge patch: a list is replaced whole (the sidecar goes).
        c.kubectl_ok(
            &kubectl,
            &["patch", "deployment", "web", "-n", "shop", "--type", "merge", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"registry.local/web:2.0.0"}]}}}}"#],
        )
        .await;
        let d = get().await;
        let containers = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
            .clone();
        assert_eq!(
            containers.len(),
            1,
            "merge patch replaces lists: {containers:?}"
        );
        // null deletes a key.
        c.kubectl_ok(
            &kubectl,
            &[
                "patch",
                "configmap",
                "settings",
                "-n",
                "shop",
                "--type",
                "merge",
                "-p",
                r#"{"data":{"mode":null,"extra":"1"}}"#,
            ],
        )
        .await;
        let cm = json(
            &c.kubectl_ok(
                &kubectl,
                &["get", "configmap", "settings", "-n", "shop", "-o", "json"],
            )
            .await,
        );
        assert_eq!(cm["data"], serde_json::json!({"extra": "1"}));
        c.shutdown().await;
    }
}

/// `kubectl diff --server-side` exits 0 when the live objects equal the dry-run apply, and 1 with
/// a diff when they differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_server_side() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(MANIFEST),
        )
        .await;
        // kubectl diff reads the live object, then asks for a dry-run apply; while the Deployment's
        // Pods come up its controller writes status in between (as on a real apiserver), which
        // kubectl shows as a diff of status. Once the rollout is done and its status settles, an
        // unchanged manifest must give no diff at all; a few tries cover the last status write.
        c.kubectl_ok(
            &kubectl,
            &[
                "rollout",
                "status",
                "deployment/web",
                "-n",
                "shop",
                "--timeout=60s",
            ],
        )
        .await;
        let mut same = None;
        for _ in 0..10 {
            let out = c
                .kubectl_stdin(
                    &kubectl,
                    &["diff", "--server-side", "-f", "-"],
                    Some(MANIFEST),
                )
                .await;
            let done = out.status.code() == Some(0);
            same = Some(out);
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let same = same.expect("diff ran");
        assert_eq!(
            same.status.code(),
            Some(0),
            "{}: no diff expected:\n{}{}",
            kubectl.display(),
            String::from_utf8_lossy(&same.stdout),
            String::from_utf8_lossy(&same.stderr)
        );
        let changed = MANIFEST.replace("mode: fast", "mode: slow");
        let diff = c
            .kubectl_stdin(
                &kubectl,
                &["diff", "--server-side", "-f", "-"],
                Some(&changed),
            )
            .await;
        assert_eq!(
            diff.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&diff.stderr)
        );
        let text = String::from_utf8_lossy(&diff.stdout);
        assert!(
            text.contains("-  mode: fast") && text.contains("+  mode: slow"),
            "{text}"
        );
        // The dry run stored nothing.
        let cm = json(
            &c.kubectl_ok(
                &kubectl,
                &["get", "configmap", "settings", "-n", "shop", "-o", "json"],
            )
            .await,
        );
        assert_eq!(cm["data"]["mode"], "fast");
        c.shutdown().await;
    }
}

/// `delete --cascade=foreground`: the owner stays (with a deletionTimestamp and the
/// foregroundDeletion finalizer) until its dependents are gone, then goes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cascade_foreground_removes_dependents_first() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owner, namespace: default}\ndata: {a: b}\n"),
        )
        .await;
        let owner = json(
            &c.kubectl_ok(&kubectl, &["get", "configmap", "owner", "-o", "json"])
                .await,
        );
        let uid = owner["metadata"]["uid"].as_str().expect("uid");
        let dependent = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dependent\n  namespace: default\n  finalizers: [example.com/hold]\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {uid}, blockOwnerDeletion: true}}\n"
        );
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(&dependent),
        )
        .await;
        c.kubectl_ok(
            &kubectl,
            &[
                "delete",
                "configmap",
                "owner",
                "--cascade=foreground",
                "--wait=false",
            ],
        )
        .await;
        // The dependent holds a finalizer, so the owner must still be there, marked for deletion.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let owner = json(
            &c.kubectl_ok(&kubectl, &["get", "configmap", "owner", "-o", "json"])
                .await,
        );
        assert!(owner["metadata"]["deletionTimestamp"].is_string());
        assert!(
            owner["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| f.contains(&serde_json::json!("foregroundDeletion")))
        );
        // Releasing the dependent's finalizer lets both go.
        c.kubectl_ok(
            &kubectl,
            &[
                "patch",
                "configmap",
                "dependent",
                "--type",
                "json",
                "-p",
                r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
            ],
        )
        .await;
        eventually(10, "owner and dependent to be deleted", || async {
            let out = c
                .kubectl(&kubectl, &["get", "configmaps", "-o", "name"])
                .await;
            let names = String::from_utf8_lossy(&out.stdout).to_string();
            (!names.contains("owner") && !names.contains("dependent")).then_some(())
        })
        .await;
        c.shutdown().await;
    }
}

/// Deleting a namespace: it is Terminating until its contents are deleted, then it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_deletion_removes_contents() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(MANIFEST),
        )
        .await;
        c.kubectl_ok(
            &kubectl,
            &[
                "delete",
                "namespace",
                "shop",
                "--wait=true",
                "--timeout=30s",
            ],
        )
        .await;
        let ns = c.kubectl(&kubectl, &["get", "namespace", "shop"]).await;
        assert!(!ns.status.success(), "namespace still there");
        let left = c
            .kubectl_ok(
                &kubectl,
                &[
                    "get",
                    "configmaps,deployments,services",
                    "-n",
                    "shop",
                    "-o",
                    "name",
                ],
            )
            .await;
        assert!(left.trim().is_empty(), "contents left: {left}");
        // Creating in a deleted namespace fails: the namespace is not found.
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop}\n";
        let out = c
            .kubectl_stdin(&kubectl, &["apply", "--server-side", "-f", "-"], Some(cm))
            .await;
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(r#"namespaces "shop" not found"#),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        c.shutdown().await;
    }
}

const ROLLOUT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: default
spec:
  replicas: 3
  progressDeadlineSeconds: 4
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.local/api:1.0.0
"#;

/// `rollout status` waits for a rollout and reports success; `set image` starts revision 2;
/// `rollout history` lists revisions from the ReplicaSets' revision annotations; `rollout undo`
/// puts the previous template back as revision 3. An update to an image that crash-loops ends
/// with `rollout status` failing on the progress deadline while the old ReplicaSet keeps its
/// ready Pods — a real Deployment controller's behaviour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_status_history_undo_and_a_failed_rollout() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(ROLLOUT),
        )
        .await;
        let status = c
            .kubectl_ok(
                &kubectl,
                &["rollout", "status", "deployment/api", "--timeout=60s"],
            )
            .await;
        assert!(status.contains("successfully rolled out"), "{status}");

        c.kubectl_ok(
            &kubectl,
            &[
                "set",
                "image",
                "deployment/api",
                "api=registry.local/api:1.1.0",
            ],
        )
        .await;
        let status = c
            .kubectl_ok(
                &kubectl,
                &["rollout", "status", "deployment/api", "--timeout=60s"],
            )
            .await;
        assert!(status.contains("successfully rolled out"), "{status}");
        let history = c
            .kubectl_ok(&kubectl, &["rollout", "history", "deployment/api"])
            .await;
        let revisions: Vec<&str> = history
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.parse::<u32>().is_ok())
            .collect();
        assert_eq!(revisions, vec!["1", "2"], "{history}");

        c.kubectl_ok(&kubectl, &["rollout", "undo", "deployment/api"])
            .await;
        c.kubectl_ok(
            &kubectl,
            &["rollout", "status", "deployment/api", "--timeout=60s"],
        )
        .await;
        let d = json(
            &c.kubectl_ok(&kubectl, &["get", "deployment", "api", "-o", "json"])
                .await,
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.local/api:1.0.0"
        );
        let history = c
            .kubectl_ok(&kubectl, &["rollout", "history", "deployment/api"])
            .await;
        let revisions: Vec<&str> = history
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.parse::<u32>().is_ok())
            .collect();
        assert_eq!(
            revisions,
            vec!["2", "3"],
            "undo re-labels revision 1 as 3: {history}"
        );

        // A bad image: the rollout stalls and the progress deadline fails it.
        c.kubectl_ok(
            &kubectl,
            &[
                "set",
                "image",
                "deployment/api",
                "api=registry.local/api:crashloop",
            ],
        )
        .await;
        let failed = c
            .kubectl(
                &kubectl,
                &["rollout", "status", "deployment/api", "--timeout=60s"],
            )
            .await;
        assert!(!failed.status.success());
        let err = String::from_utf8_lossy(&failed.stderr);
        assert!(err.contains("exceeded its progress deadline"), "{err}");
        let rs = json(
            &c.kubectl_ok(
                &kubectl,
                &["get", "replicasets", "-l", "app=api", "-o", "json"],
            )
            .await,
        );
        let old = rs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["spec"]["template"]["spec"]["containers"][0]["image"]
                    == "registry.local/api:1.0.0"
            })
            .expect("the old ReplicaSet");
        assert!(
            old["status"]["readyReplicas"].as_i64().unwrap_or(0) >= 2,
            "old ReplicaSet keeps ready Pods: {}",
            old["status"]
        );
        c.shutdown().await;
    }
}

/// A Secret applied with `stringData` is stored with `data`, as the apiserver folds it: `kubectl
/// get secret` counts its keys and `-o jsonpath` reads them base64-encoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_string_data_shows_in_data() {
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  user: admin\n  password: hunter2\n";
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(&kubectl, &["apply", "-f", "-"], Some(manifest))
            .await;
        let table = c.kubectl_ok(&kubectl, &["get", "secret", "db"]).await;
        let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(row[..3], ["db", "Opaque", "2"], "{table}");
        let password = c
            .kubectl_ok(
                &kubectl,
                &["get", "secret", "db", "-o", "jsonpath={.data.password}"],
            )
            .await;
        assert_eq!(password, "aHVudGVyMg==");
        // Re-applying the same manifest: kubectl sends stringData again (the live object has
        // none, so it says "configured", as against a real cluster), and nothing is written.
        let rv = [
            "get",
            "secret",
            "db",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ];
        let before = c.kubectl_ok(&kubectl, &rv).await;
        c.kubectl_ok_stdin(&kubectl, &["apply", "-f", "-"], Some(manifest))
            .await;
        assert_eq!(c.kubectl_ok(&kubectl, &rv).await, before);
        c.shutdown().await;
    }
}

/// The simulated controllers record Events as the real ones do: the deployment controller's
/// `ScalingReplicaSet`, the ReplicaSet's `SuccessfulCreate` per Pod, the scheduler's `Scheduled`
/// and the kubelet's `Started`; `kubectl get events` lists them and `kubectl describe` shows the
/// Deployment's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_a_deployment_rollout() {
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(MANIFEST),
        )
        .await;
        let events = eventually(20, "the rollout's events", || {
            let c = &c;
            let kubectl = &kubectl;
            async move {
                let list = json(
                    &c.kubectl_ok(kubectl, &["get", "events", "-n", "shop", "-o", "json"])
                        .await,
                );
                let items = list["items"].as_array()?.clone();
                let count = |reason: &str| items.iter().filter(|e| e["reason"] == reason).count();
                (count("ScalingReplicaSet") == 1
                    && count("SuccessfulCreate") == 2
                    && count("Scheduled") == 2
                    && count("Started") == 4)
                    .then_some(items)
            }
        })
        .await;
        let scaling = events
            .iter()
            .find(|e| e["reason"] == "ScalingReplicaSet")
            .unwrap();
        assert_eq!(scaling["type"], "Normal");
        assert_eq!(scaling["source"]["component"], "deployment-controller");
        assert_eq!(scaling["involvedObject"]["kind"], "Deployment");
        assert_eq!(scaling["involvedObject"]["name"], "web");
        assert_eq!(scaling["involvedObject"]["apiVersion"], "apps/v1");
        assert_eq!(scaling["count"], 1);
        let message = scaling["message"].as_str().unwrap();
        assert!(
            message.starts_with("Scaled up replica set web-") && message.ends_with(" from 0 to 2"),
            "{message}"
        );
        assert!(
            scaling["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("web.")
        );
        let created = events
            .iter()
            .find(|e| e["reason"] == "SuccessfulCreate")
            .unwrap();
        assert_eq!(created["involvedObject"]["kind"], "ReplicaSet");
        assert_eq!(created["source"]["component"], "replicaset-controller");
        assert!(
            created["message"]
                .as_str()
                .unwrap()
                .starts_with("Created pod: web-")
        );
        let table = c
            .kubectl_ok(&kubectl, &["get", "events", "-n", "shop"])
            .await;
        assert!(table.contains("ScalingReplicaSet"), "{table}");
        assert!(table.contains("deployment/web"), "{table}");
        let described = c
            .kubectl_ok(&kubectl, &["describe", "deployment", "web", "-n", "shop"])
            .await;
        assert!(
            described.contains("ScalingReplicaSet") && described.contains("deployment-controller"),
            "{described}"
        );
        // Scaling down: the ReplicaSet deletes a Pod and says so, the kubelet stops its containers.
        c.kubectl_ok(
            &kubectl,
            &["scale", "deployment", "web", "-n", "shop", "--replicas=1"],
        )
        .await;
        eventually(20, "the scale-down's events", || {
            let c = &c;
            let kubectl = &kubectl;
            async move {
                let list = json(
                    &c.kubectl_ok(kubectl, &["get", "events", "-n", "shop", "-o", "json"])
                        .await,
                );
                let items = list["items"].as_array()?;
                let has = |reason: &str, prefix: &str| {
                    items.iter().any(|e| {
                        e["reason"] == reason
                            && e["message"].as_str().is_some_and(|m| m.starts_with(prefix))
                    })
                };
                (has("ScalingReplicaSet", "Scaled down replica set web-")
                    && has("SuccessfulDelete", "Deleted pod: web-")
                    && has("Killing", "Stopping container "))
                .then_some(())
            }
        })
        .await;
        c.shutdown().await;
    }
}

/// `kubectl logs` reads the simulated container's life from `pods/log`: its start and readiness
/// probe, a crash-looping container's exit with `--previous`, `--tail`; an unknown Pod is
/// NotFound and a Pod that never ran has no logs yet, as against a real apiserver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_simulated_containers() {
    let crash = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: crash\n  namespace: shop\nspec:\n  containers:\n  - name: app\n    image: example/app:crashloop\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: nopull\n  namespace: shop\nspec:\n  containers:\n  - name: app\n    image: example/app:pull-error\n";
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "--server-side", "-f", "-"],
            Some(MANIFEST),
        )
        .await;
        c.kubectl_ok_stdin(&kubectl, &["apply", "-f", "-"], Some(crash))
            .await;
        let logs = eventually(20, "the web container's readiness in its logs", || {
            let c = &c;
            let kubectl = &kubectl;
            async move {
                let out = c
                    .kubectl(kubectl, &["logs", "deploy/web", "-n", "shop", "-c", "web"])
                    .await;
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                (out.status.success() && text.contains("readiness probe succeeded")).then_some(text)
            }
        })
        .await;
        assert!(
            logs.starts_with(
                "bosun: container \"web\" started (image registry.local/web:1.0.0, simulated)\n"
            ),
            "{logs}"
        );
        let tail = c
            .kubectl_ok(
                &kubectl,
                &[
                    "logs",
                    "deploy/web",
                    "-n",
                    "shop",
                    "-c",
                    "sidecar",
                    "--tail=1",
                ],
            )
            .await;
        assert_eq!(tail, "bosun: readiness probe succeeded\n");
        // --follow answers what exists and ends (nothing more will be printed).
        let followed = c
            .kubectl_ok(
                &kubectl,
                &["logs", "-f", "deploy/web", "-n", "shop", "-c", "web"],
            )
            .await;
        assert_eq!(followed, logs);
        let previous = eventually(20, "a previous run of the crash-looping container", || {
            let c = &c;
            let kubectl = &kubectl;
            async move {
                let out = c
                    .kubectl(kubectl, &["logs", "crash", "-n", "shop", "--previous"])
                    .await;
                out.status
                    .success()
                    .then(|| String::from_utf8_lossy(&out.stdout).to_string())
            }
        })
        .await;
        assert!(
            previous.ends_with(
                "bosun: container \"app\" exited with code 1 (simulated: rule crashloop)\n"
            ),
            "{previous}"
        );
        let web_pod = c
            .kubectl_ok(
                &kubectl,
                &[
                    "get",
                    "pods",
                    "-n",
                    "shop",
                    "-l",
                    "app=web",
                    "-o",
                    "jsonpath={.items[0].metadata.name}",
                ],
            )
            .await;
        let out = c
            .kubectl(
                &kubectl,
                &["logs", &web_pod, "-n", "shop", "-c", "web", "--previous"],
            )
            .await;
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("previous terminated container \"web\" in pod"),
            "{stderr}"
        );
        let out = c.kubectl(&kubectl, &["logs", "nope", "-n", "shop"]).await;
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("pods \"nope\" not found"), "{stderr}");
        let out = c.kubectl(&kubectl, &["logs", "nopull", "-n", "shop"]).await;
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is waiting to start"), "{stderr}");
        c.shutdown().await;
    }
}

/// `kubectl apply` of built-in objects a real apiserver refuses is refused here with its words:
/// a field of the wrong type (400, decoding into the Go type), a field the type lacks under
/// kubectl's default `--validate=strict` (400, strict decoding), a selector that does not select
/// the template and a container without an image (422 Invalid). Nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_of_invalid_built_in_objects_is_refused() {
    let deployment = |spec: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n{spec}")
    };
    let template = "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n";
    let cases = [
        (
            deployment(&format!("  replicas: \"abc\"\n{template}")),
            "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field Deployment.spec.replicas of type int32",
        ),
        (
            deployment(&format!("  replica: 3\n{template}")),
            "strict decoding error: unknown field \"spec.replica\"",
        ),
        (
            deployment(&template.replace("matchLabels: {app: web}", "matchLabels: {app: api}")),
            "Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
        ),
        (
            deployment(&template.replace("        image: nginx\n", "")),
            "Deployment \"web\" is invalid: spec.template.spec.containers[0].image: Required value",
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: eighty\n".to_string(),
            "Service in version \"v1\" cannot be handled as a Service: json: cannot unmarshal string into Go struct field Service.spec.ports[0].port of type int32",
        ),
        (
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  labels:\n    app: {}\n",
                "a".repeat(64)
            ),
            "ConfigMap \"web\" is invalid: metadata.labels: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be no more than 63 characters",
        ),
    ];
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        for (manifest, words) in &cases {
            let out = c
                .kubectl_stdin(&kubectl, &["apply", "-f", "-"], Some(manifest))
                .await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{manifest} was accepted");
            assert!(
                stderr.contains(words),
                "{manifest}\nwanted {words}\ngot {stderr}"
            );
        }
        let listed = c
            .kubectl_ok(
                &kubectl,
                &["get", "deployments,services,configmaps", "-o", "name"],
            )
            .await;
        assert!(
            !listed.contains("deployment.apps/web")
                && !listed.contains("service/web")
                && !listed.contains("configmap/web"),
            "{listed}"
        );
        // The same Deployment without the mistakes is accepted.
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "-f", "-"],
            Some(&deployment(&format!("  replicas: 2\n{template}"))),
        )
        .await;
        c.shutdown().await;
    }
}

/// `kubectl apply` of a change the apiserver's update validation refuses: a Deployment's
/// selector, a Job's Pod template (a new image), the data of a ConfigMap marked `immutable`.
/// Each is a 422 with the apiserver's words and changes nothing; a change that may be made (a
/// Deployment's image) still is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_of_a_change_to_an_immutable_field_is_refused() {
    let deployment = |labels: &str, image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {{{labels}}}\n  template:\n    metadata:\n      labels: {{{labels}}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n"
        )
    };
    let job = |image: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: {image}\n"
        )
    };
    let settings = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\nimmutable: true\ndata:\n  level: {value}\n"
        )
    };
    for kubectl in kubectls() {
        let c = TestCluster::start().await;
        for manifest in [
            deployment("app: web", "web:1"),
            job("migrate:1"),
            settings("info"),
        ] {
            c.kubectl_ok_stdin(&kubectl, &["apply", "-f", "-"], Some(&manifest))
                .await;
        }
        for (manifest, words) in [
            (
                deployment("app: web, tier: front", "web:1"),
                "\"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector",
            ),
            (
                job("migrate:2"),
                "\"migrate\" is invalid: spec.template: Invalid value: ",
            ),
            (
                settings("debug"),
                "ConfigMap \"settings\" is invalid: data: Forbidden: field is immutable when `immutable` is set",
            ),
        ] {
            let out = c
                .kubectl_stdin(&kubectl, &["apply", "-f", "-"], Some(&manifest))
                .await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{manifest} was accepted");
            assert!(
                stderr.contains(words) && stderr.contains("immutable"),
                "{manifest}\nwanted {words}\ngot {stderr}"
            );
        }
        let get = async |what: &str, path: &str| {
            c.kubectl_ok(&kubectl, &["get", what, "-o", &format!("jsonpath={path}")])
                .await
        };
        assert_eq!(
            get("job/migrate", "{.spec.template.spec.containers[0].image}").await,
            "migrate:1"
        );
        assert_eq!(get("configmap/settings", "{.data.level}").await, "info");
        assert_eq!(
            get("deployment/web", "{.spec.selector.matchLabels}").await,
            "{\"app\":\"web\"}"
        );
        c.kubectl_ok_stdin(
            &kubectl,
            &["apply", "-f", "-"],
            Some(&deployment("app: web", "web:2")),
        )
        .await;
        assert_eq!(
            get(
                "deployment/web",
                "{.spec.template.spec.containers[0].image}"
            )
            .await,
            "web:2"
        );
        c.shutdown().await;
    }
}
