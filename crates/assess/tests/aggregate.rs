//! An Application's health from its resources', as Argo CD's `setApplicationHealth` computes it.

use bosun_assess::{HealthStatus, HealthStatus::*, ManagedResource, aggregate};
use serde_json::{Value, json};

fn deployment(name: &str, available: i64, annotations: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "generation": 1, "annotations": annotations},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
            "availableReplicas": available}})
}

fn pvc(phase: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "shop"}, "status": {"phase": phase}})
}

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "shop"}})
}

fn synced(object: &Value) -> ManagedResource<'_> {
    ManagedResource {
        target: Some(object),
        live: Some(object),
    }
}

fn missing(object: &Value) -> ManagedResource<'_> {
    ManagedResource {
        target: Some(object),
        live: None,
    }
}

fn status_of(resources: Vec<ManagedResource<'_>>) -> HealthStatus {
    aggregate(resources).status
}

#[test]
fn the_worst_resource_decides() {
    let ok = deployment("web", 2, json!({}));
    let waiting = deployment("api", 1, json!({}));
    let lost = pvc("Lost");
    assert_eq!(status_of(vec![synced(&ok)]), Healthy);
    assert_eq!(status_of(vec![synced(&ok), synced(&waiting)]), Progressing);
    assert_eq!(
        status_of(vec![synced(&ok), synced(&waiting), synced(&lost)]),
        Degraded
    );
}

#[test]
fn resources_without_a_health_check_do_not_count() {
    let cfg = config_map();
    let app = aggregate(vec![synced(&cfg)]);
    assert_eq!(app.status, Healthy);
    assert!(app.resources.is_empty());
}

#[test]
fn an_app_with_no_resources_is_healthy() {
    assert_eq!(status_of(vec![]), Healthy);
}

#[test]
fn a_missing_resource_is_reported_but_does_not_count_since_argo_cd_3_4() {
    let ok = deployment("web", 2, json!({}));
    let absent = deployment("api", 0, json!({}));
    let app = aggregate(vec![synced(&ok), missing(&absent)]);
    assert_eq!(app.status, Healthy);
    let reported = &app.resources[1];
    assert_eq!((reported.health.status, reported.counted), (Missing, false));
    assert_eq!(reported.reference(), "apps/Deployment shop/api");
}

#[test]
fn an_app_whose_resources_are_all_missing_is_missing() {
    let absent = deployment("api", 0, json!({}));
    let cfg = config_map();
    assert_eq!(status_of(vec![missing(&absent), missing(&cfg)]), Missing);
}

#[test]
fn missing_does_not_hide_a_degraded_resource() {
    // Degraded is worse than Missing in Argo CD's order.
    let lost = pvc("Lost");
    let absent = deployment("api", 0, json!({}));
    assert_eq!(status_of(vec![synced(&lost), missing(&absent)]), Degraded);
}

#[test]
fn ignore_healthcheck_annotation_keeps_a_resource_out() {
    let waiting = deployment(
        "batch",
        0,
        json!({"argocd.argoproj.io/ignore-healthcheck": "true"}),
    );
    let app = aggregate(vec![synced(&waiting)]);
    assert_eq!(app.status, Healthy);
    assert!(app.resources.is_empty());
    // Only the exact value "true" counts.
    let other = deployment(
        "batch",
        0,
        json!({"argocd.argoproj.io/ignore-healthcheck": "yes"}),
    );
    assert_eq!(status_of(vec![synced(&other)]), Progressing);
}

#[test]
fn hooks_are_left_out_of_the_app_health() {
    let failed_hook = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
        "status": {"conditions": [{"type": "Failed", "status": "True"}]}});
    let helm_hook = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "test", "annotations": {"helm.sh/hook": "test"}},
        "status": {"conditions": []}});
    assert_eq!(
        status_of(vec![synced(&failed_hook), synced(&helm_hook)]),
        Healthy
    );

    // A Helm crd-install "hook" is applied as a plain resource and counts.
    let crd_install = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "crds", "annotations": {"helm.sh/hook": "crd-install"}},
        "status": {"conditions": []}});
    assert_eq!(status_of(vec![synced(&crd_install)]), Progressing);

    // A Skip-ped resource is never applied; its absence is not Missing.
    let skipped = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "x", "annotations": {"argocd.argoproj.io/hook": "Skip"}}});
    assert_eq!(status_of(vec![missing(&skipped)]), Healthy);
}

#[test]
fn a_missing_or_unknown_child_application_does_not_count() {
    let child = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "child", "namespace": "argocd"}});
    let ok = deployment("web", 2, json!({}));
    assert_eq!(status_of(vec![synced(&ok), missing(&child)]), Healthy);
}

#[test]
fn unhealthy_lists_counted_resources_worst_first() {
    let waiting = deployment("api", 1, json!({}));
    let lost = pvc("Lost");
    let ok = deployment("web", 2, json!({}));
    let absent = deployment("gone", 0, json!({}));
    let app = aggregate(vec![
        synced(&waiting),
        synced(&ok),
        synced(&lost),
        missing(&absent),
    ]);
    let names: Vec<String> = app.unhealthy().iter().map(|r| r.reference()).collect();
    assert_eq!(
        names,
        [
            "PersistentVolumeClaim shop/data",
            "apps/Deployment shop/api"
        ]
    );
    assert_eq!(
        app.unhealthy()[1].health.message,
        "Waiting for rollout to finish: 1 of 2 updated replicas are available..."
    );
}
