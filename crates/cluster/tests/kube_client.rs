//! kube-rs, the client bosun's engine uses, against the local cluster: discovery (legacy and
//! aggregated), dynamic objects, server-side apply with dry run, a watcher that survives dropped
//! streams, and optimistic concurrency.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use bosun_cluster::faults::FaultConfig;
use common::{TestCluster, eventually};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::{Discovery, Scope};
use kube::runtime::watcher;
use serde_json::json;

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"k": "v"},
    }))
    .expect("configmap")
}

/// Discovery finds the built-in groups and a CRD's kind; DynamicObject CRUD works on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_dynamic_objects() {
    let c = TestCluster::start().await;
    let client = c.client();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "httproutes.gateway.networking.k8s.io"},
        "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
            "names": {"plural": "httproutes", "singular": "httproute", "kind": "HTTPRoute"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
    });
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    crds.create(
        &PostParams::default(),
        &serde_json::from_value(crd).unwrap(),
    )
    .await
    .expect("create CRD");

    // Both discovery protocols see the CRD's kind as namespaced, with the status subresource.
    for aggregated in [false, true] {
        let discovery = eventually(5, "the CRD in discovery", || {
            let client = client.clone();
            async move {
                let d = if aggregated {
                    Discovery::new(client).run_aggregated().await.ok()?
                } else {
                    Discovery::new(client).run().await.ok()?
                };
                d.has_group("gateway.networking.k8s.io").then_some(d)
            }
        })
        .await;
        let (ar, caps) = discovery
            .resolve_gvk(&kube::api::GroupVersionKind::gvk(
                "gateway.networking.k8s.io",
                "v1",
                "HTTPRoute",
            ))
            .expect("HTTPRoute discovered");
        assert_eq!(ar.plural, "httproutes");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(
            caps.subresources
                .iter()
                .any(|(s, _)| s.plural == "httproutes/status" || s.plural == "status"),
            "{:?}",
            caps.subresources
        );
        let (deploy, _) = discovery
            .resolve_gvk(&kube::api::GroupVersionKind::gvk(
                "apps",
                "v1",
                "Deployment",
            ))
            .expect("deployments discovered");
        assert_eq!(deploy.plural, "deployments");
    }

    let discovery = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("discovery");
    let (ar, _) = discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "gateway.networking.k8s.io",
            "v1",
            "HTTPRoute",
        ))
        .expect("HTTPRoute");
    let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let mut route = DynamicObject::new("web", &ar).within("default");
    route.data = json!({"spec": {"parentRefs": [{"name": "gw"}]}});
    let created = routes
        .create(&PostParams::default(), &route)
        .await
        .expect("create route");
    assert_eq!(created.metadata.generation, Some(1));
    let got = routes.get("web").await.expect("get route");
    assert_eq!(got.data["spec"]["parentRefs"][0]["name"], "gw");
    let listed = routes.list(&Default::default()).await.expect("list routes");
    assert_eq!(listed.items.len(), 1);
    routes
        .delete("web", &Default::default())
        .await
        .expect("delete route");
    assert!(routes.get_opt("web").await.expect("get_opt").is_none());
    c.shutdown().await;
}

/// Server-side apply with dryRun returns the would-be object and stores nothing; without dry run
/// it creates, and applying again with a change updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_with_dry_run() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client(), "default");
    let params = PatchParams::apply("bosun").force();
    let dry = cms
        .patch(
            "applied",
            &params.clone().dry_run(),
            &Patch::Apply(configmap("applied")),
        )
        .await
        .expect("dry-run apply");
    assert_eq!(dry.data.unwrap()["k"], "v");
    assert!(
        cms.get_opt("applied").await.unwrap().is_none(),
        "a dry run must not store the object"
    );
    let created = cms
        .patch("applied", &params, &Patch::Apply(configmap("applied")))
        .await
        .expect("apply");
    assert!(created.metadata.uid.is_some());
    let mut changed = configmap("applied");
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let updated = cms
        .patch("applied", &params, &Patch::Apply(changed.clone()))
        .await
        .expect("apply change");
    assert_eq!(updated.data.unwrap()["k"], "w");
    // A dry-run apply of a change leaves the stored object as it was.
    changed.data = Some([("k".to_string(), "x".to_string())].into());
    cms.patch("applied", &params.clone().dry_run(), &Patch::Apply(changed))
        .await
        .expect("dry-run change");
    assert_eq!(cms.get("applied").await.unwrap().data.unwrap()["k"], "w");
    c.shutdown().await;
}

/// A kube-rs watcher keeps delivering every change while the server cuts its watch streams every
/// second (it resumes from its last resourceVersion).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_survives_dropped_streams() {
    let c = TestCluster::start_with(bosun_cluster::server::ClusterConfig {
        timing: common::fast_timing(),
        faults: FaultConfig {
            drop_watch_after_seconds: 1,
            ..FaultConfig::default()
        },
        ..Default::default()
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client(), "default");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stream = watcher(cms.clone(), watcher::Config::default());
    let watch_task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) = event {
                let _ = tx.send(cm.metadata.name.unwrap_or_default());
            }
        }
    });
    let expected: BTreeSet<String> = (0..6).map(|i| format!("cm-{i}")).collect();
    for name in &expected {
        cms.create(&PostParams::default(), &configmap(name))
            .await
            .expect("create");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !expected.is_subset(&seen) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(name)) => {
                seen.insert(name);
            }
            _ => panic!("watcher saw only {seen:?}"),
        }
    }
    watch_task.abort();
    c.shutdown().await;
}

/// An update with a stale resourceVersion is refused with 409 Conflict and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimistic_concurrency_conflict() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client(), "default");
    let original = cms
        .create(&PostParams::default(), &configmap("cc"))
        .await
        .expect("create");
    let mut first = original.clone();
    first.data = Some([("k".to_string(), "first".to_string())].into());
    cms.replace("cc", &PostParams::default(), &first)
        .await
        .expect("first update");
    let mut stale = original.clone();
    stale.data = Some([("k".to_string(), "stale".to_string())].into());
    match cms.replace("cc", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409);
            assert_eq!(status.reason, "Conflict");
            assert!(
                status.message.contains("the object has been modified"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 409 Conflict, got {other:?}"),
    }
    assert_eq!(cms.get("cc").await.unwrap().data.unwrap()["k"], "first");
    c.shutdown().await;
}

/// A patch or an apply that carries a resourceVersion is conditional on it, as the apiserver's
/// storage makes it: a stale one is a 409 Conflict and changes nothing, the current one
/// writes; without one, the write is unconditional.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_or_apply_with_a_resource_version_is_conditional() {
    let c = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client(), "default");
    let original = cms
        .create(&PostParams::default(), &configmap("pc"))
        .await
        .expect("create");
    let stale = original.metadata.resource_version.clone().unwrap();
    let moved = cms
        .patch(
            "pc",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "moved"}})),
        )
        .await
        .expect("an unconditional merge patch");
    let current = moved.metadata.resource_version.clone().unwrap();
    let apply = |rv: &str, value: &str| {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "pc", "resourceVersion": rv},
            "data": {"k": value},
        })
    };
    let ssa = PatchParams::apply("tester").force();
    for (what, result) in [
        (
            "merge",
            cms.patch(
                "pc",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"resourceVersion": stale}, "data": {"k": "stale"}}),
                ),
            )
            .await,
        ),
        (
            "apply",
            cms.patch("pc", &ssa, &Patch::Apply(apply(&stale, "stale")))
                .await,
        ),
    ] {
        match result {
            Err(kube::Error::Api(status)) => assert_eq!(status.code, 409, "{what}: {status:?}"),
            other => panic!("{what}: expected a 409 Conflict, got {other:?}"),
        }
    }
    assert_eq!(cms.get("pc").await.unwrap().data.unwrap()["k"], "moved");
    let applied = cms
        .patch("pc", &ssa, &Patch::Apply(apply(&current, "applied")))
        .await
        .expect("an apply at the current resourceVersion");
    assert_eq!(applied.data.unwrap()["k"], "applied");
    c.shutdown().await;
}
