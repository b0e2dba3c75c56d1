//! `bosun diff` and `kubectl diff --server-side` agree about which objects differ, on the same
//! manifests against the same cluster; and a real `kubectl edit` shows up as drift.

mod common;

use std::collections::BTreeSet;

use bosun_plan::{live, plan, text};
use common::{APP, MANAGER, TestCluster};
use serde_json::{Value, json};

fn configmap(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
        "data": {"k": value}})
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}})
}

fn service(name: &str, port: i64) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port, "targetPort": 8080}]}})
}

fn secret(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque",
        "data": {"token": value}})
}

/// The manifests as bosun sends them (namespace placed, tracking stamped), as one YAML stream
/// of JSON documents for kubectl.
async fn stream(c: &TestCluster, objects: &[Value]) -> String {
    let mut out = String::new();
    for object in objects {
        let prepared = live::prepare(&c.resolver, object, APP, "default")
            .await
            .expect("prepare");
        out.push_str("---\n");
        out.push_str(&serde_json::to_string(&prepared.object).unwrap());
        out.push('\n');
    }
    out
}

/// `Kind/name` of every object in `kubectl diff`'s `diff -u -N LIVE/<file> MERGED/<file>` lines,
/// whose file is `[group.]version.Kind.namespace.name` (names here have no dots).
fn kubectl_differing(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| line.strip_prefix("diff -u -N "))
        .filter_map(|paths| paths.split_whitespace().next())
        .filter_map(|path| path.rsplit('/').next())
        .map(|file| {
            let parts: Vec<&str> = file.rsplitn(3, '.').collect();
            let kind = parts[2].rsplit('.').next().unwrap();
            format!("{kind}/{}", parts[0])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agrees_with_kubectl_diff_server_side() {
    let c = TestCluster::start().await;
    let initial = [
        configmap("cm-same", "a"),
        configmap("cm-changed", "a"),
        configmap("cm-drift", "original-drift"),
        deployment("deploy-same", 1),
        deployment("deploy-scaled", 1),
        service("svc-same", 80),
        service("svc-port", 80),
        secret("secret-same", "c2FtZQ=="),
        secret("secret-changed", "b2xk"),
    ];
    let applied = stream(&c, &initial).await;
    let (code, _, err) = c
        .kubectl(
            &[
                "apply",
                "--server-side",
                "--field-manager",
                MANAGER,
                "-f",
                "-",
            ],
            &applied,
        )
        .await;
    assert_eq!(code, 0, "kubectl apply: {err}");

    // A real `kubectl edit`, with sed as the editor.
    let (code, _, err) = c
        .kubectl_env(
            &["edit", "configmap", "cm-drift", "-n", "default"],
            "",
            &[("KUBE_EDITOR", "sed -i s/original-drift/edited/")],
        )
        .await;
    assert_eq!(code, 0, "kubectl edit: {err}");

    let desired = [
        configmap("cm-same", "a"),
        configmap("cm-changed", "b"),
        configmap("cm-drift", "original-drift"),
        configmap("cm-new", "n"),
        deployment("deploy-same", 1),
        deployment("deploy-scaled", 3),
        service("svc-same", 80),
        service("svc-port", 8080),
        secret("secret-same", "c2FtZQ=="),
        secret("secret-changed", "bmV3"),
    ];
    let (code, out, err) = c
        .kubectl(
            &[
                "diff",
                "--server-side",
                "--force-conflicts",
                "--field-manager",
                MANAGER,
                "-f",
                "-",
            ],
            &stream(&c, &desired).await,
        )
        .await;
    assert_eq!(code, 1, "kubectl diff exits 1 on differences: {err}\n{out}");
    let by_kubectl = kubectl_differing(&out);

    let p = plan(&c.resolver, &desired, APP, "default", &[], MANAGER)
        .await
        .expect("plan");
    let by_bosun: BTreeSet<String> = p
        .resources
        .iter()
        .filter(|r| r.differs())
        .map(|r| format!("{}/{}", r.key.kind, r.key.name))
        .collect();

    let expected: BTreeSet<String> = [
        "ConfigMap/cm-changed",
        "ConfigMap/cm-drift",
        "ConfigMap/cm-new",
        "Deployment/deploy-scaled",
        "Service/svc-port",
        "Secret/secret-changed",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(by_kubectl, expected, "kubectl diff output:\n{out}");
    assert_eq!(by_bosun, expected, "bosun diff:\n{}", text::render(&p));

    let drift = text::render(&p);
    assert!(
        drift.contains("-  k: edited") && drift.contains("+  k: original-drift"),
        "{drift}"
    );
    c.cluster.shutdown().await;
}
