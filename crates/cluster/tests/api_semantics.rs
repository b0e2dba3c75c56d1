//! API semantics over raw HTTP, each as a real apiserver has them: watch expiry (410) and
//! bookmarks, list paging, orphaning deletes, dry runs, and the /status subresource.

mod common;

use std::collections::BTreeSet;
use std::pin::Pin;
use std::time::Duration;

use bosun_cluster::server::ClusterConfig;
use common::{Answer, TestCluster, eventually, send};
use futures::{AsyncBufReadExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, WatchEvent, WatchParams};
use serde_json::{Value, json};

type Lines = Pin<Box<dyn Stream<Item = std::io::Result<String>> + Send>>;

/// Opens a watch (the path carries `watch=true`) and returns its newline-delimited events.
async fn open_watch(client: &kube::Client, path: &str) -> Lines {
    let request = http::Request::get(path).body(Vec::new()).expect("request");
    let reader = client
        .request_stream(request)
        .await
        .unwrap_or_else(|e| panic!("watch {path}: {e}"));
    Box::pin(reader.lines())
}

/// The next event of a watch, or None when the server ended the stream; fails the test if
/// nothing comes within `secs`.
async fn next_event(lines: &mut Lines, secs: u64) -> Option<Value> {
    match tokio::time::timeout(Duration::from_secs(secs), lines.next()).await {
        Ok(Some(Ok(line))) => Some(serde_json::from_str(&line).expect("a JSON event per line")),
        Ok(Some(Err(e))) => panic!("reading the watch: {e}"),
        Ok(None) => None,
        Err(_) => panic!("no watch event within {secs} s"),
    }
}

fn rv_of(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a numeric resourceVersion in {object}"))
}

fn configmap(namespace: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": {"k": "v"}})
}

async fn create(client: &kube::Client, path: &str, object: &Value) -> Value {
    let a = send(client, "POST", path, &[], Some(object)).await;
    assert_eq!(a.code, 201, "POST {path}: {:?}", a.body);
    a.body
}

async fn create_namespace(client: &kube::Client, name: &str) {
    create(
        client,
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )
    .await;
}

async fn get(client: &kube::Client, path: &str) -> Answer {
    send(client, "GET", path, &[], None).await
}

/// A watch from a resourceVersion older than the retained history answers 200 and a single ERROR
/// event whose Status is 410 Expired ("too old resource version"), then ends — the signal on
/// which clients relist. kube-rs receives it as a WatchEvent::Error with code 410. A watch from a
/// recent resourceVersion still gets every later change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_an_expired_resource_version_is_410_gone() {
    let c = TestCluster::start_with(ClusterConfig {
        timing: common::fast_timing(),
        history_limit: 5,
        ..ClusterConfig::default()
    })
    .await;
    let client = c.client();
    let cms = "/api/v1/namespaces/default/configmaps";
    let first = create(&client, cms, &configmap("default", "first", json!({}))).await;
    let old_rv = rv_of(&first);
    // More writes than the history keeps push the first one out of it.
    for i in 0..10 {
        create(
            &client,
            cms,
            &configmap("default", &format!("cm-{i}"), json!({})),
        )
        .await;
    }

    let mut lines = open_watch(
        &client,
        &format!("{cms}?watch=true&resourceVersion={old_rv}"),
    )
    .await;
    let event = next_event(&mut lines, 10).await.expect("an ERROR event");
    assert_eq!(event["type"], "ERROR", "{event}");
    let status = &event["object"];
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["code"], 410);
    assert_eq!(status["reason"], "Expired");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("too old resource version")),
        "{status}"
    );
    assert!(
        next_event(&mut lines, 10).await.is_none(),
        "the stream ends after the error"
    );

    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut events = api
        .watch(&WatchParams::default(), &old_rv.to_string())
        .await
        .expect("watch")
        .boxed();
    match tokio::time::timeout(Duration::from_secs(10), events.next()).await {
        Ok(Some(Ok(WatchEvent::Error(status)))) => assert_eq!(status.code, 410, "{status:?}"),
        other => panic!("expected a 410 error event, got {other:?}"),
    }

    // A recent resourceVersion (that of a list) is within the history.
    let list = get(&client, cms).await;
    let mut lines = open_watch(
        &client,
        &format!(
            "{cms}?watch=true&resourceVersion={}",
            list.body["metadata"]["resourceVersion"].as_str().unwrap()
        ),
    )
    .await;
    create(&client, cms, &configmap("default", "later", json!({}))).await;
    let event = next_event(&mut lines, 10).await.expect("an event");
    assert_eq!(event["type"], "ADDED", "{event}");
    assert_eq!(event["object"]["metadata"]["name"], "later");
    c.shutdown().await;
}

/// Bookmarks, as the apiserver sends them: with `sendInitialEvents=true` and
/// `allowWatchBookmarks=true`, the ADDED events of what exists are followed by a BOOKMARK
/// annotated `k8s.io/initial-events-end: "true"`. A watch that allows bookmarks also gets
/// periodic ones (every 5 s here, about every minute on a real apiserver) carrying only kind,
/// apiVersion and a resourceVersion no older than the events already sent; a watch that does not
/// allow them never gets one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_bookmarks() {
    let c = TestCluster::start().await;
    let client = c.client();
    create_namespace(&client, "marks").await;
    let cms = "/api/v1/namespaces/marks/configmaps";
    let mut newest = 0;
    for name in ["a", "b", "c"] {
        newest = rv_of(&create(&client, cms, &configmap("marks", name, json!({}))).await);
    }

    // The initial events, then the bookmark that ends them.
    let mut lines = open_watch(
        &client,
        &format!(
            "{cms}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
        ),
    )
    .await;
    let mut initial = BTreeSet::new();
    for _ in 0..3 {
        let event = next_event(&mut lines, 10).await.expect("an initial event");
        assert_eq!(event["type"], "ADDED", "{event}");
        initial.insert(
            event["object"]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        initial,
        BTreeSet::from(["a".into(), "b".into(), "c".into()])
    );
    let end = next_event(&mut lines, 10)
        .await
        .expect("the initial-events-end bookmark");
    assert_eq!(end["type"], "BOOKMARK", "{end}");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(rv_of(&end["object"]) >= newest, "{end}");
    drop(lines);

    // Periodic bookmarks: two watches from the same resourceVersion, one allowing them. The one
    // that does not is closed by the server after 12 s, long enough for bookmarks to be due.
    let from = newest;
    let mut with = open_watch(
        &client,
        &format!("{cms}?watch=true&resourceVersion={from}&allowWatchBookmarks=true"),
    )
    .await;
    let mut without = open_watch(
        &client,
        &format!("{cms}?watch=true&resourceVersion={from}&timeoutSeconds=12"),
    )
    .await;
    let later = create(&client, cms, &configmap("marks", "later", json!({}))).await;

    // A bookmark may come first if the machine stalls for a whole interval; skip those.
    let added = loop {
        let event = next_event(&mut with, 30).await.expect("ADDED");
        if event["type"] != "BOOKMARK" {
            break event;
        }
        assert!(rv_of(&event["object"]) >= from, "{event}");
    };
    assert_eq!(added["type"], "ADDED", "{added}");
    assert_eq!(added["object"]["metadata"]["name"], "later");
    let bookmark = next_event(&mut with, 30).await.expect("a bookmark");
    assert_eq!(bookmark["type"], "BOOKMARK", "{bookmark}");
    let object = bookmark["object"].as_object().expect("object");
    assert_eq!(object["kind"], "ConfigMap");
    assert_eq!(object["apiVersion"], "v1");
    assert_eq!(
        object.keys().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            &"apiVersion".to_string(),
            &"kind".into(),
            &"metadata".into()
        ]),
        "a bookmark carries no object data"
    );
    assert!(rv_of(&bookmark["object"]) >= rv_of(&later), "{bookmark}");

    let mut seen = Vec::new();
    while let Some(event) = next_event(&mut without, 60).await {
        seen.push(event);
    }
    assert_eq!(seen.len(), 1, "only the ADDED event, no bookmark: {seen:?}");
    assert_eq!(seen[0]["type"], "ADDED");
    c.shutdown().await;
}

/// Pages through a list with `limit`, returning every page's body.
async fn pages(client: &kube::Client, path: &str, limit: usize) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut url = format!("{path}{separator}limit={limit}");
        if let Some(t) = &token {
            url.push_str(&format!("&continue={t}"));
        }
        let page = get(client, &url).await;
        assert_eq!(page.code, 200, "{url}: {:?}", page.body);
        token = page.body["metadata"]["continue"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(String::from);
        pages.push(page.body);
        if token.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

fn keys(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|o| {
            (
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// List paging: following `continue` with `limit=N` returns every object exactly once, in the
/// order of the unpaged list, N per page; each page but the last carries a continue token and
/// `remainingItemCount` (the objects after it), the last has neither. With a label selector the
/// count is unknown and omitted, as ListMeta documents. kubectl's `--chunk-size` pages the same
/// way. A continue token the server did not issue is refused with 400 BadRequest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_paging_with_limit_and_continue() {
    let c = TestCluster::start().await;
    let client = c.client();
    let mut ours = BTreeSet::new();
    for (ns, count) in [("paging-a", 13), ("paging-b", 12)] {
        create_namespace(&client, ns).await;
        for i in 0..count {
            let name = format!("cm-{i:02}");
            let tier = if i % 2 == 0 { "even" } else { "odd" };
            create(
                &client,
                &format!("/api/v1/namespaces/{ns}/configmaps"),
                &configmap(ns, &name, json!({"tier": tier})),
            )
            .await;
            ours.insert((ns.to_string(), name));
        }
    }

    // Across namespaces.
    let all = get(&client, "/api/v1/configmaps").await.body;
    let all_items = all["items"].as_array().unwrap().clone();
    assert!(all["metadata"].get("continue").is_none());
    let total = all_items.len();
    assert!(
        keys(&all_items)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .is_superset(&ours),
        "{all}"
    );
    let paged = pages(&client, "/api/v1/configmaps", 5).await;
    let mut seen = Vec::new();
    for (i, page) in paged.iter().enumerate() {
        let items = page["items"].as_array().unwrap();
        seen.extend(keys(items));
        if i + 1 < paged.len() {
            assert_eq!(items.len(), 5, "a full page before the last: {page}");
            assert_eq!(
                page["metadata"]["remainingItemCount"],
                json!(total - seen.len()),
                "{page}"
            );
        } else {
            assert!(!items.is_empty() && items.len() <= 5, "{page}");
            assert!(page["metadata"].get("continue").is_none(), "{page}");
            assert!(
                page["metadata"].get("remainingItemCount").is_none(),
                "{page}"
            );
        }
    }
    assert_eq!(seen, keys(&all_items), "every object once, in list order");

    // In one namespace, with a label selector.
    let odd_path = "/api/v1/namespaces/paging-a/configmaps?labelSelector=tier%3Dodd";
    let odd: Vec<(String, String)> = keys(
        get(&client, odd_path).await.body["items"]
            .as_array()
            .unwrap(),
    );
    assert_eq!(odd.len(), 6);
    let paged = pages(&client, odd_path, 4).await;
    assert_eq!(paged.len(), 2);
    assert_eq!(paged[0]["items"].as_array().unwrap().len(), 4);
    assert!(paged[0]["metadata"]["continue"].is_string());
    assert!(
        paged[0]["metadata"].get("remainingItemCount").is_none(),
        "no remainingItemCount with a selector: {}",
        paged[0]
    );
    let seen: Vec<(String, String)> = paged
        .iter()
        .flat_map(|p| keys(p["items"].as_array().unwrap()))
        .collect();
    assert_eq!(seen, odd);

    // limit=0 is no limit.
    let unlimited = get(&client, "/api/v1/configmaps?limit=0").await.body;
    assert_eq!(unlimited["items"].as_array().unwrap().len(), total);
    assert!(unlimited["metadata"].get("continue").is_none());

    // A real client paging: kubectl asks for chunks of 4 and follows the tokens.
    let kubectl = &common::kubectls()[0];
    let names = c
        .kubectl_ok(
            kubectl,
            &["get", "configmaps", "-A", "--chunk-size=4", "-o", "name"],
        )
        .await;
    assert_eq!(names.lines().count(), total, "{names}");

    // Tokens the server never issued.
    for token in ["not-a-token", "bm90LWpzb24"] {
        let a = get(
            &client,
            &format!("/api/v1/configmaps?limit=5&continue={token}"),
        )
        .await;
        assert_eq!(a.code, 400, "{:?}", a.body);
        assert_eq!(a.body["kind"], "Status");
        assert_eq!(a.body["reason"], "BadRequest");
    }
    c.shutdown().await;
}

/// Deleting a Deployment with propagationPolicy=Orphan answers 200 with the Deployment marked for
/// deletion under the `orphan` finalizer; the garbage collector then removes the Deployment's
/// ownerReference from its ReplicaSet, and the Deployment goes. The ReplicaSet survives with its
/// Pods, which stay owned by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_delete_keeps_the_replicaset() {
    let c = TestCluster::start().await;
    let client = c.client();
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    let deployment = create(
        &client,
        deployments,
        &json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}),
    )
    .await;
    let deployment_uid = deployment["metadata"]["uid"].as_str().unwrap().to_string();
    let owned_by = |o: &Value, uid: &str| {
        o["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
    };
    let rs: Value = eventually(30, "a ReplicaSet with 2 ready Pods", || {
        let client = client.clone();
        let deployment_uid = deployment_uid.clone();
        async move {
            let list = get(&client, "/apis/apps/v1/namespaces/default/replicasets").await;
            list.body["items"]
                .as_array()?
                .iter()
                .find(|rs| owned_by(rs, &deployment_uid) && rs["status"]["readyReplicas"] == 2)
                .cloned()
        }
    })
    .await;
    let rs_name = rs["metadata"]["name"].as_str().unwrap().to_string();
    let rs_uid = rs["metadata"]["uid"].as_str().unwrap().to_string();
    let rs_path = format!("/apis/apps/v1/namespaces/default/replicasets/{rs_name}");

    let deleted = send(
        &client,
        "DELETE",
        &format!("{deployments}/web"),
        &[],
        Some(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"})),
    )
    .await;
    assert_eq!(deleted.code, 200, "{:?}", deleted.body);
    assert!(deleted.body["metadata"]["deletionTimestamp"].is_string());
    assert!(
        deleted.body["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "orphan")),
        "{:?}",
        deleted.body
    );

    eventually(30, "the Deployment to be gone", || {
        let client = client.clone();
        async move { (get(&client, &format!("{deployments}/web")).await.code == 404).then_some(()) }
    })
    .await;
    let pods_of_rs = |pods: &Value| -> usize {
        pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| owned_by(p, &rs_uid))
            .count()
    };
    // Checked at once, and again after two resync periods of the garbage collector (1 s each
    // here), which would have deleted a dependent left with only a dangling owner.
    for wait in [Duration::ZERO, Duration::from_secs(2)] {
        tokio::time::sleep(wait).await;
        let rs = get(&client, &rs_path).await;
        assert_eq!(rs.code, 200, "the ReplicaSet survives: {:?}", rs.body);
        assert_eq!(rs.body["metadata"]["uid"], rs_uid.as_str());
        assert!(
            !owned_by(&rs.body, &deployment_uid),
            "its ownerReference to the Deployment is removed: {:?}",
            rs.body["metadata"]
        );
        assert!(rs.body["metadata"].get("deletionTimestamp").is_none());
        let pods = get(
            &client,
            "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb",
        )
        .await;
        assert_eq!(pods_of_rs(&pods.body), 2, "{:?}", pods.body);
    }
    c.shutdown().await;
}

/// `dryRun=All` runs a write through every check and answers as if it happened — 201 with the
/// would-be object for a create (uid set, no resourceVersion), 409 AlreadyExists for a name in
/// use, 200 with the changed object under the stored resourceVersion for a PUT or PATCH, 200 for
/// a delete (whether dryRun is in the query or in DeleteOptions), with the deletionTimestamp an
/// object held by a finalizer would get — but stores nothing: no object changes and no watch
/// event is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_store_nothing() {
    let c = TestCluster::start().await;
    let client = c.client();
    create_namespace(&client, "dry").await;
    let cms = "/api/v1/namespaces/dry/configmaps";
    let kept = create(&client, cms, &configmap("dry", "kept", json!({}))).await;
    let mut held = configmap("dry", "held", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    let held = create(&client, cms, &held).await;
    let mut watch = open_watch(
        &client,
        &format!("{cms}?watch=true&resourceVersion={}", rv_of(&held)),
    )
    .await;

    let dry = send(
        &client,
        "POST",
        &format!("{cms}?dryRun=All"),
        &[],
        Some(&configmap("dry", "ghost", json!({}))),
    )
    .await;
    assert_eq!(dry.code, 201, "{:?}", dry.body);
    assert_eq!(dry.body["metadata"]["name"], "ghost");
    assert!(dry.body["metadata"]["uid"].is_string());
    assert!(
        dry.body["metadata"].get("resourceVersion").is_none(),
        "{:?}",
        dry.body
    );
    let taken = send(
        &client,
        "POST",
        &format!("{cms}?dryRun=All"),
        &[],
        Some(&configmap("dry", "kept", json!({}))),
    )
    .await;
    assert_eq!(taken.code, 409);
    assert_eq!(taken.body["reason"], "AlreadyExists");

    let mut changed = kept.clone();
    changed["data"]["k"] = json!("put");
    let put = send(
        &client,
        "PUT",
        &format!("{cms}/kept?dryRun=All"),
        &[],
        Some(&changed),
    )
    .await;
    assert_eq!(put.code, 200, "{:?}", put.body);
    assert_eq!(put.body["data"]["k"], "put");
    assert_eq!(rv_of(&put.body), rv_of(&kept));

    let patched = send(
        &client,
        "PATCH",
        &format!("{cms}/kept?dryRun=All"),
        &[("content-type", "application/merge-patch+json")],
        Some(&json!({"data": {"k": "patched"}})),
    )
    .await;
    assert_eq!(patched.code, 200, "{:?}", patched.body);
    assert_eq!(patched.body["data"]["k"], "patched");

    let deleted = send(
        &client,
        "DELETE",
        &format!("{cms}/kept?dryRun=All"),
        &[],
        None,
    )
    .await;
    assert_eq!(deleted.code, 200, "{:?}", deleted.body);
    let deleted = send(
        &client,
        "DELETE",
        &format!("{cms}/kept"),
        &[],
        Some(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]})),
    )
    .await;
    assert_eq!(deleted.code, 200, "{:?}", deleted.body);
    let would_be = send(
        &client,
        "DELETE",
        &format!("{cms}/held?dryRun=All"),
        &[],
        None,
    )
    .await;
    assert_eq!(would_be.code, 200, "{:?}", would_be.body);
    assert!(
        would_be.body["metadata"]["deletionTimestamp"].is_string(),
        "{:?}",
        would_be.body
    );

    // Nothing was stored.
    assert_eq!(get(&client, &format!("{cms}/ghost")).await.code, 404);
    let now_kept = get(&client, &format!("{cms}/kept")).await.body;
    assert_eq!(now_kept["data"]["k"], "v");
    assert_eq!(rv_of(&now_kept), rv_of(&kept));
    let now_held = get(&client, &format!("{cms}/held")).await.body;
    assert!(now_held["metadata"].get("deletionTimestamp").is_none());
    assert_eq!(rv_of(&now_held), rv_of(&held));
    // The first event after the dry runs is that of a real write.
    create(&client, cms, &configmap("dry", "marker", json!({}))).await;
    let event = next_event(&mut watch, 10).await.expect("an event");
    assert_eq!(
        (
            event["type"].as_str(),
            event["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("marker")),
        "{event}"
    );
    c.shutdown().await;
}

/// The /status subresource is separate from the main resource: a create drops the status the
/// client sent; a PUT or PATCH of the main resource cannot change status (and bumps the
/// generation only for a spec change); a PUT or PATCH of /status changes status and nothing
/// else, and leaves the generation alone. A kind without the subresource has no /status (404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_subresource_is_separate_from_the_object() {
    let c = TestCluster::start().await;
    let client = c.client();
    // A PodDisruptionBudget: a kind with /status that no simulated controller writes.
    let pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
    let path = format!("{pdbs}/guard");
    let status_path = format!("{path}/status");
    let created = create(
        &client,
        pdbs,
        &json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "guard", "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"currentHealthy": 9, "desiredHealthy": 9, "disruptionsAllowed": 9, "expectedPods": 9}}),
    )
    .await;
    assert_ne!(created["status"]["currentHealthy"], 9, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);

    // /status: status changes, spec does not.
    let mut body = created.clone();
    body["spec"]["minAvailable"] = json!(5);
    body["status"] = json!({"currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1,
        "expectedPods": 2, "observedGeneration": 1});
    let a = send(&client, "PUT", &status_path, &[], Some(&body)).await;
    assert_eq!(a.code, 200, "{:?}", a.body);
    assert_eq!(a.body["status"]["currentHealthy"], 2);
    assert_eq!(a.body["spec"]["minAvailable"], 1);
    assert_eq!(a.body["metadata"]["generation"], 1);

    // The main resource: spec changes, status does not.
    let mut body = a.body.clone();
    body["spec"]["minAvailable"] = json!(2);
    body["status"]["currentHealthy"] = json!(0);
    let a = send(&client, "PUT", &path, &[], Some(&body)).await;
    assert_eq!(a.code, 200, "{:?}", a.body);
    assert_eq!(a.body["spec"]["minAvailable"], 2);
    assert_eq!(a.body["status"]["currentHealthy"], 2);
    assert_eq!(
        a.body["metadata"]["generation"], 2,
        "a spec change bumps the generation"
    );

    let merge = [("content-type", "application/merge-patch+json")];
    let a = send(
        &client,
        "PATCH",
        &path,
        &merge,
        Some(&json!({"status": {"currentHealthy": 7}})),
    )
    .await;
    assert_eq!(a.code, 200, "{:?}", a.body);
    assert_eq!(a.body["status"]["currentHealthy"], 2);
    assert_eq!(a.body["metadata"]["generation"], 2);
    let json_patch = [("content-type", "application/json-patch+json")];
    let a = send(
        &client,
        "PATCH",
        &path,
        &json_patch,
        Some(&json!([{"op": "replace", "path": "/status/expectedPods", "value": 8}])),
    )
    .await;
    assert_eq!(a.code, 200, "{:?}", a.body);
    assert_eq!(a.body["status"]["expectedPods"], 2);

    let a = send(
        &client,
        "PATCH",
        &status_path,
        &merge,
        Some(&json!({"spec": {"minAvailable": 9}, "status": {"disruptionsAllowed": 0}})),
    )
    .await;
    assert_eq!(a.code, 200, "{:?}", a.body);
    assert_eq!(a.body["status"]["disruptionsAllowed"], 0);
    assert_eq!(a.body["status"]["currentHealthy"], 2);
    assert_eq!(a.body["spec"]["minAvailable"], 2);
    assert_eq!(a.body["metadata"]["generation"], 2);

    let stored = get(&client, &path).await.body;
    assert_eq!(stored["spec"]["minAvailable"], 2);
    assert_eq!(stored["status"]["disruptionsAllowed"], 0);
    assert_eq!(stored["status"]["currentHealthy"], 2);

    create(
        &client,
        "/api/v1/namespaces/default/configmaps",
        &configmap("default", "plain", json!({})),
    )
    .await;
    let a = get(
        &client,
        "/api/v1/namespaces/default/configmaps/plain/status",
    )
    .await;
    assert_eq!(a.code, 404, "{:?}", a.body);
    c.shutdown().await;
}
