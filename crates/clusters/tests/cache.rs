//! The watch cache against bosun's local cluster: it holds what carries the label, tells spec
//! changes from status changes, and forgets deleted objects.

use std::sync::Arc;
use std::time::Duration;

use bosun_cluster::controllers::Timing;
use bosun_cluster::server::{self, ClusterConfig};
use bosun_clusters::{Change, LiveCache};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::json;
use tokio::sync::mpsc;

const LABEL: &str = "bosun.dev/app";

async fn next_for(
    events: &mut mpsc::UnboundedReceiver<(String, Change)>,
    app: &str,
    change: Change,
) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some((a, c)) = events.recv().await {
            if a == app && c == change {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {change:?} event for {app}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_labelled_objects_and_tells_spec_from_status_changes() {
    let cluster = server::start(ClusterConfig {
        timing: Timing {
            pod_ready_delay: Duration::from_millis(300),
            job_run_time: Duration::from_millis(300),
            resync: Duration::from_secs(1),
        },
        ..ClusterConfig::default()
    })
    .await
    .expect("cluster starts");
    let client = kube::Client::try_from(kube::Config::new(cluster.url().parse().unwrap())).unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    let cache = LiveCache::new(
        client.clone(),
        LABEL,
        Arc::new(move |app: &str, change| {
            let _ = tx.send((app.to_string(), change));
        }),
    );
    let deployments = ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("apps", "v1", "Deployment"),
        "deployments",
    );
    let configmaps = ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("", "v1", "ConfigMap"),
        "configmaps",
    );
    cache.watch([deployments.clone(), configmaps.clone()]);
    cache.ready(Duration::from_secs(30)).await.unwrap();
    assert!(cache.is_empty());

    let apply = PatchParams::apply("test").force();
    let cms: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &configmaps);
    for (name, labels) in [("mine", json!({LABEL: "web"})), ("other", json!({}))] {
        cms.patch(
            name,
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})),
        )
        .await
        .unwrap();
    }
    next_for(&mut events, "web", Change::Spec).await;
    let objects = cache.objects_of("web");
    assert_eq!(objects.len(), 1, "only the labelled ConfigMap: {objects:?}");
    assert_eq!(objects[0]["kind"], "ConfigMap");
    assert_eq!(objects[0]["apiVersion"], "v1");

    // A Deployment: created (a spec event), then its controller writes status (status events).
    let deploys: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &deployments);
    deploys
        .patch(
            "web",
            &apply,
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {LABEL: "web"}},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})),
        )
        .await
        .unwrap();
    next_for(&mut events, "web", Change::Status).await;
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let ready = cache.objects_of("web").iter().any(|o| {
                o["kind"] == "Deployment" && o.pointer("/status/readyReplicas") == Some(&json!(1))
            });
            if ready {
                return;
            }
            next_for(&mut events, "web", Change::Status).await;
        }
    })
    .await
    .expect("the cache follows the Deployment's status");

    // Deleted: gone from the cache, with a spec event.
    cms.delete("mine", &DeleteParams::default()).await.unwrap();
    next_for(&mut events, "web", Change::Spec).await;
    assert!(
        cache
            .objects_of("web")
            .iter()
            .all(|o| o["kind"] != "ConfigMap"),
        "the deleted ConfigMap is gone"
    );
}
