//! The Plan stage against bosun's local cluster: each sync state, the ignoreDifferences kinds,
//! Secret masking, hooks and tracking.

mod common;

use bosun_model::ResourceIgnoreDifferences;
use bosun_plan::{Error, Plan, ResourceKey, SyncState, plan, text, tracking};
use common::{APP, MANAGER, TestCluster};
use serde_json::{Value, json};

fn configmap(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"tier": "web"}},
        "data": {"greeting": value}})
}

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 8080}]}]}}}})
}

fn secret(name: &str, password_b64: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "type": "Opaque", "data": {"password": password_b64}})
}

fn ignore(kind: &str, group: Option<&str>) -> ResourceIgnoreDifferences {
    ResourceIgnoreDifferences {
        group: group.map(str::to_owned),
        kind: kind.into(),
        name: None,
        namespace: None,
        json_pointers: vec![],
        jq_path_expressions: vec![],
        managed_fields_managers: vec![],
    }
}

async fn run(c: &TestCluster, desired: &[Value], rules: &[ResourceIgnoreDifferences]) -> Plan {
    plan(&c.resolver, desired, APP, "default", rules, MANAGER)
        .await
        .expect("plan")
}

fn status_of(plan: &Plan, kind: &str, name: &str) -> SyncState {
    plan.resources
        .iter()
        .find(|r| r.key.kind == kind && r.key.name == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not in plan: {:?}", plan.resources))
        .status
}

/// Synced after a sync, OutOfSync with the change in the diff, Missing when absent; the exit
/// decision (`in_sync`) follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_out_of_sync_and_missing() {
    let c = TestCluster::start().await;
    let cm = configmap("settings", "hello");
    let web = deployment("web", 2, "nginx:1.27");
    c.sync(&cm).await;
    c.sync(&web).await;

    let same = run(&c, &[cm.clone(), web.clone()], &[]).await;
    assert!(same.in_sync(), "{:#?}", same.resources);
    assert_eq!(same.resources.len(), 2);
    assert_eq!(text::render(&same), "");

    let changed = configmap("settings", "bonjour");
    let extra = configmap("extra", "new");
    let p = run(&c, &[changed, web.clone(), extra], &[]).await;
    assert!(!p.in_sync());
    assert_eq!(status_of(&p, "ConfigMap", "settings"), SyncState::OutOfSync);
    assert_eq!(status_of(&p, "Deployment", "web"), SyncState::Synced);
    assert_eq!(status_of(&p, "ConfigMap", "extra"), SyncState::Missing);
    let diff = text::render(&p);
    assert!(
        diff.contains("--- live//ConfigMap/default/settings"),
        "{diff}"
    );
    assert!(
        diff.contains("+++ desired//ConfigMap/default/settings"),
        "{diff}"
    );
    assert!(diff.contains("-  greeting: hello"), "{diff}");
    assert!(diff.contains("+  greeting: bonjour"), "{diff}");
    assert!(
        !diff.contains("managedFields") && !diff.contains("resourceVersion"),
        "{diff}"
    );
    assert!(
        !diff.contains("bosun.dev/"),
        "tracking marks are normalised away: {diff}"
    );

    let json = text::to_json(&p);
    assert_eq!(json["inSync"], false);
    let statuses: Vec<(&str, &str)> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("extra", "Missing"),
            ("settings", "OutOfSync"),
            ("web", "Synced")
        ]
    );
    c.cluster.shutdown().await;
}

/// A change by someone else (a `kubectl edit`) to a field bosun set is drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_by_another_manager_is_drift() {
    let c = TestCluster::start().await;
    let web = deployment("web", 2, "nginx:1.27");
    c.sync(&web).await;
    let placed = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"}});
    c.edit_as(&placed, json!({"spec": {"replicas": 7}}), "kubectl-edit")
        .await;
    let p = run(&c, &[web], &[]).await;
    assert_eq!(status_of(&p, "Deployment", "web"), SyncState::OutOfSync);
    let diff = text::render(&p);
    assert!(
        diff.contains("-  replicas: 7") && diff.contains("+  replicas: 2"),
        "{diff}"
    );
    c.cluster.shutdown().await;
}

/// Tracked objects no longer desired are Extraneous; an object carrying the app label but an
/// annotation copied from another object is not ours and is not reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extraneous_only_with_exact_tracking_annotation() {
    let c = TestCluster::start().await;
    let keep = configmap("keep", "a");
    let old = configmap("old", "b");
    c.sync(&keep).await;
    c.sync(&old).await;
    // A copy: same label and annotation as `keep`, different name.
    let mut copy = configmap("copy", "c");
    copy["metadata"]["namespace"] = json!("default");
    copy["metadata"]["labels"][tracking::APP_LABEL] = json!(APP);
    copy["metadata"]["annotations"] =
        json!({tracking::TRACKING_ANNOTATION: format!("{APP}:/ConfigMap:default/keep")});
    c.apply_as(&copy, "someone-else").await;

    let tracked = tracking::find_tracked(&c.resolver, APP).await.unwrap();
    let names: Vec<&str> = tracked
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["keep", "old"]);
    assert!(!tracking::is_tracked_by(&copy, APP));
    assert!(!tracking::is_tracked_by(&tracked[0], "other-app"));

    let p = run(&c, &[keep], &[]).await;
    assert_eq!(status_of(&p, "ConfigMap", "keep"), SyncState::Synced);
    assert_eq!(status_of(&p, "ConfigMap", "old"), SyncState::Extraneous);
    assert!(
        p.resources.iter().all(|r| r.key.name != "copy"),
        "{:?}",
        p.resources
    );
    assert!(text::render(&p).contains("-  greeting: b"));
    c.cluster.shutdown().await;
}

/// managedFieldsManagers: a field another manager owns in live is taken as is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_fields_managers_trust_the_other_manager() {
    let c = TestCluster::start().await;
    let web = deployment("web", 2, "nginx:1.27");
    c.sync(&web).await;
    let scaler = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 5}});
    c.apply_as(&scaler, "autoscaler").await;

    let p = run(&c, std::slice::from_ref(&web), &[]).await;
    assert_eq!(status_of(&p, "Deployment", "web"), SyncState::OutOfSync);

    let mut rule = ignore("Deployment", Some("apps"));
    rule.managed_fields_managers = vec!["autoscaler".into()];
    let p = run(&c, std::slice::from_ref(&web), &[rule.clone()]).await;
    assert_eq!(
        status_of(&p, "Deployment", "web"),
        SyncState::Synced,
        "{:#?}",
        p.resources
    );

    // Only that manager's fields: a change of ours still shows.
    let p = run(&c, &[deployment("web", 2, "nginx:1.28")], &[rule]).await;
    assert_eq!(status_of(&p, "Deployment", "web"), SyncState::OutOfSync);
    let diff = text::render(&p);
    assert!(diff.contains("+      - image: nginx:1.28"), "{diff}");
    assert!(!diff.contains("replicas"), "{diff}");
    c.cluster.shutdown().await;
}

/// jsonPointers and jqPathExpressions take the field out of the comparison, only for the
/// objects the rule matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_pointers_and_jq_expressions() {
    let c = TestCluster::start().await;
    let web = deployment("web", 2, "nginx:1.27");
    let cm = configmap("settings", "hello");
    c.sync(&web).await;
    c.sync(&cm).await;
    let placed = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"}});
    c.edit_as(&placed, json!({"spec": {"replicas": 3}}), "kubectl-edit")
        .await;
    let placed_cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default"}});
    c.edit_as(
        &placed_cm,
        json!({"data": {"greeting": "changed"}}),
        "kubectl-edit",
    )
    .await;

    let desired = [web.clone(), cm.clone()];
    let p = run(&c, &desired, &[]).await;
    assert_eq!(status_of(&p, "Deployment", "web"), SyncState::OutOfSync);
    assert_eq!(status_of(&p, "ConfigMap", "settings"), SyncState::OutOfSync);

    let mut by_pointer = ignore("Deployment", Some("apps"));
    by_pointer.json_pointers = vec!["/spec/replicas".into()];
    let mut by_jq = ignore("ConfigMap", None);
    by_jq.jq_path_expressions = vec![r#".data.greeting | select(. != null)"#.into()];
    let p = run(&c, &desired, &[by_pointer.clone(), by_jq.clone()]).await;
    assert_eq!(
        status_of(&p, "Deployment", "web"),
        SyncState::Synced,
        "{:#?}",
        p.resources
    );
    assert_eq!(
        status_of(&p, "ConfigMap", "settings"),
        SyncState::Synced,
        "{:#?}",
        p.resources
    );

    // A rule for another name does not apply.
    by_pointer.name = Some("api".into());
    let p = run(&c, &desired, &[by_pointer, by_jq]).await;
    assert_eq!(status_of(&p, "Deployment", "web"), SyncState::OutOfSync);
    c.cluster.shutdown().await;
}

/// jq select over a list: the selected container's image is ignored, another's is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jq_select_on_list_items() {
    let c = TestCluster::start().await;
    let mut web = deployment("web", 1, "nginx:1.27");
    web["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "proxy", "image": "envoy:1.30"}));
    c.sync(&web).await;
    let mut proxy_bumped = web.clone();
    proxy_bumped["spec"]["template"]["spec"]["containers"][1]["image"] = json!("envoy:1.31");
    let mut rule = ignore("Deployment", Some("apps"));
    rule.jq_path_expressions =
        vec![r#".spec.template.spec.containers[] | select(.name == "proxy") | .image"#.into()];
    let p = run(&c, &[proxy_bumped], std::slice::from_ref(&rule)).await;
    assert_eq!(
        status_of(&p, "Deployment", "web"),
        SyncState::Synced,
        "{:#?}",
        p.resources
    );

    let mut web_bumped = web.clone();
    web_bumped["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    let p = run(&c, &[web_bumped], &[rule]).await;
    assert_eq!(status_of(&p, "Deployment", "web"), SyncState::OutOfSync);
    c.cluster.shutdown().await;
}

/// A changed Secret is OutOfSync, and neither its old nor its new value appears anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_are_masked_everywhere() {
    let c = TestCluster::start().await;
    // "hunter2" and "correct-horse" in base64.
    let (old, new) = ("aHVudGVyMg==", "Y29ycmVjdC1ob3JzZQ==");
    c.sync(&secret("db", old)).await;

    let same = run(&c, &[secret("db", old)], &[]).await;
    assert_eq!(status_of(&same, "Secret", "db"), SyncState::Synced);

    let p = run(&c, &[secret("db", new), secret("fresh", new)], &[]).await;
    assert_eq!(status_of(&p, "Secret", "db"), SyncState::OutOfSync);
    assert_eq!(status_of(&p, "Secret", "fresh"), SyncState::Missing);
    let diff = text::render(&p);
    let json = serde_json::to_string(&text::to_json(&p)).unwrap();
    let debug = format!("{p:?}");
    for output in [&diff, &json, &debug] {
        for secret in [old, new, "hunter2", "correct-horse"] {
            assert!(!output.contains(secret), "{secret} leaked: {output}");
        }
    }
    assert!(
        diff.contains("-  password: '++++++++'") || diff.contains("-  password: ++++++++"),
        "{diff}"
    );
    assert!(
        diff.contains("+++++++++++"),
        "different values get different runs: {diff}"
    );
    c.cluster.shutdown().await;
}

/// Hooks are listed, marked, never compared and never make the app out of sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_are_not_out_of_sync() {
    let c = TestCluster::start().await;
    let cm = configmap("settings", "hello");
    c.sync(&cm).await;
    let hook = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"generateName": "migrate-", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "m", "image": "migrate:1"}]}}}});
    let p = run(&c, &[cm, hook], &[]).await;
    assert!(p.in_sync(), "{:#?}", p.resources);
    let job = p.resources.iter().find(|r| r.key.kind == "Job").unwrap();
    assert!(job.hook);
    assert_eq!(job.status, SyncState::Synced);
    assert_eq!(text::render(&p), "");
    c.cluster.shutdown().await;
}

/// A kind the cluster does not serve is an error naming the object; a kind whose CRD is in the
/// same desired set is Missing; a bad ignore rule fails before anything is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kinds_and_bad_rules() {
    let c = TestCluster::start().await;
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"size": 1}});
    match plan(
        &c.resolver,
        std::slice::from_ref(&widget),
        APP,
        "default",
        &[],
        MANAGER,
    )
    .await
    {
        Err(Error::UnknownKind { key, .. }) => assert_eq!(
            key,
            ResourceKey {
                group: "example.com".into(),
                kind: "Widget".into(),
                namespace: None,
                name: "w".into()
            }
        ),
        other => panic!("expected UnknownKind, got {other:?}"),
    }

    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let p = run(&c, &[crd.clone(), widget.clone()], &[]).await;
    assert_eq!(
        status_of(&p, "CustomResourceDefinition", "widgets.example.com"),
        SyncState::Missing
    );
    let w = p.resources.iter().find(|r| r.key.kind == "Widget").unwrap();
    assert_eq!(
        (w.status, w.key.namespace.as_deref()),
        (SyncState::Missing, Some("default"))
    );

    // Once the CRD exists, discovery is refreshed on the miss and the Widget is dry-run.
    c.sync(&crd).await;
    let p = run(&c, &[crd, widget], &[]).await;
    assert_eq!(status_of(&p, "Widget", "w"), SyncState::Missing);
    assert_eq!(
        status_of(&p, "CustomResourceDefinition", "widgets.example.com"),
        SyncState::Synced
    );

    // The server rejects the dry run: the error names the object and carries its message.
    let invalid = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "Not_A_Name"}, "data": {"k": "v"}});
    let err = plan(&c.resolver, &[invalid], APP, "default", &[], MANAGER)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DryRun { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("/ConfigMap/default/Not_A_Name: server-side apply dry run rejected: "),
        "{message}"
    );
    assert!(message.contains("is invalid"), "{message}");
    assert!(
        err.server_message()
            .is_some_and(|m| m.contains("metadata.name"))
    );

    let mut bad = ignore("Deployment", Some("apps"));
    bad.jq_path_expressions = vec![".spec |||".into()];
    let err = plan(&c.resolver, &[], APP, "default", &[bad], MANAGER)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::JqExpression { .. }), "{err}");
    c.cluster.shutdown().await;
}

/// The plan future can be spawned on a multi-threaded runtime.
#[allow(dead_code)]
fn plan_future_is_send(resolver: &bosun_plan::Resolver) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&plan(resolver, &[], APP, "default", &[], MANAGER));
}
