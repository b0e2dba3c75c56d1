//! Service, Ingress, PersistentVolumeClaim, Job, HorizontalPodAutoscaler,
//! CustomResourceDefinition, kinds without a check, and the rules common to every kind.

use bosun_assess::{Health, HealthStatus::*, assess};
use serde_json::{Value, json};

fn health(object: Value) -> Health {
    assess(&object).expect("kind has a health check")
}

#[test]
fn service_only_a_load_balancer_waits_for_an_address() {
    let svc = |kind: &str, status: Value| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": kind, "ports": [{"port": 80}]}, "status": status})
    };
    assert_eq!(
        health(svc("ClusterIP", json!({"loadBalancer": {}}))),
        Health::healthy("")
    );
    assert_eq!(
        health(svc("LoadBalancer", json!({"loadBalancer": {}}))),
        Health::progressing("")
    );
    let assigned = svc(
        "LoadBalancer",
        json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.7"}]}}),
    );
    assert_eq!(health(assigned), Health::healthy(""));
}

#[test]
fn ingress_waits_for_an_address_in_both_groups() {
    for api in ["networking.k8s.io/v1", "extensions/v1beta1"] {
        let ing = |status: Value| json!({"apiVersion": api, "kind": "Ingress", "metadata": {"name": "web"}, "status": status});
        assert_eq!(
            health(ing(json!({"loadBalancer": {}}))).status,
            Progressing,
            "{api}"
        );
        let assigned = ing(json!({"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}));
        assert_eq!(health(assigned).status, Healthy, "{api}");
    }
}

#[test]
fn pvc_phase_decides() {
    let pvc = |phase: Option<&str>| {
        let status = phase.map_or(json!({}), |p| json!({"phase": p}));
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"]}, "status": status})
    };
    assert_eq!(health(pvc(Some("Bound"))).status, Healthy);
    assert_eq!(health(pvc(Some("Pending"))).status, Progressing);
    assert_eq!(health(pvc(Some("Lost"))).status, Degraded);
    assert_eq!(health(pvc(None)).status, Unknown);
}

fn job(conditions: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "spec": {"backoffLimit": 2}, "status": {"conditions": conditions}})
}

#[test]
fn job_rules() {
    assert_eq!(health(job(json!([]))), Health::progressing(""));

    let complete = job(json!([{"type": "SuccessCriteriaMet", "status": "True"},
        {"type": "Complete", "status": "True", "message": "Reached expected number of succeeded pods"}]));
    assert_eq!(
        health(complete),
        Health::healthy("Reached expected number of succeeded pods")
    );

    let failed = job(json!([{"type": "FailureTarget", "status": "True"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit"}]));
    assert_eq!(
        health(failed),
        Health::degraded("Job has reached the specified backoff limit")
    );

    // Argo CD reports a suspended Job with an empty message.
    let suspended = job(
        json!([{"type": "Suspended", "status": "True", "reason": "JobSuspended",
        "message": "Job suspended"}]),
    );
    assert_eq!(health(suspended), Health::suspended(""));

    // Quirk kept from Argo CD: a resumed Job (Suspended=False) is no longer "running".
    let resumed = job(
        json!([{"type": "Suspended", "status": "False", "reason": "JobResumed",
        "message": "Job resumed"}]),
    );
    assert_eq!(health(resumed), Health::healthy("Job resumed"));
}

fn hpa_v2(conditions: Value) -> Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"}, "status": {"currentReplicas": 2, "desiredReplicas": 2,
        "conditions": conditions}})
}

#[test]
fn hpa_rules() {
    let healthy = hpa_v2(json!([
        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
         "message": "recommended size matches current size"},
        {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
        {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"}]));
    assert_eq!(
        health(healthy),
        Health::healthy("recommended size matches current size")
    );

    // The degraded check runs per condition in order, so it must come before a healthy one.
    let degraded = hpa_v2(json!([
        {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
         "message": "missing request for cpu"},
        {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"}]));
    assert_eq!(
        health(degraded),
        Health::degraded("missing request for cpu")
    );

    assert_eq!(
        health(hpa_v2(json!([]))),
        Health::progressing("Waiting to Autoscale")
    );

    let v1 = |annotations: Value| {
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "annotations": annotations}})
    };
    assert_eq!(
        health(v1(json!({}))),
        Health::progressing("Waiting to Autoscale")
    );
    let conditions =
        r#"[{"type":"AbleToScale","status":"True","reason":"SucceededRescale","message":"ok"}]"#;
    let annotated = v1(json!({"autoscaling.alpha.kubernetes.io/conditions": conditions}));
    assert_eq!(health(annotated), Health::healthy("ok"));
    let garbage = v1(json!({"autoscaling.alpha.kubernetes.io/conditions": "not json"}));
    assert_eq!(health(garbage).status, Unknown);
}

fn crd(conditions: Value) -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "rollouts.argoproj.io"}, "status": {"conditions": conditions}})
}

#[test]
fn crd_rules_follow_argo_cds_lua_check() {
    assert_eq!(
        health(crd(json!([]))),
        Health::progressing("Status conditions not found")
    );

    let established = crd(json!([
        {"type": "NamesAccepted", "status": "True", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "message": "the initial names have been accepted"}]));
    assert_eq!(health(established), Health::healthy("CRD is healthy"));

    let names = crd(json!([
        {"type": "NamesAccepted", "status": "False", "message": "\"rollouts\" is already in use"},
        {"type": "Established", "status": "False"}]));
    assert_eq!(
        health(names),
        Health::degraded("CRD names have not been accepted: \"rollouts\" is already in use")
    );

    let installing = crd(json!([{"type": "NamesAccepted", "status": "True"},
        {"type": "Established", "status": "False", "reason": "Installing"}]));
    assert_eq!(
        health(installing),
        Health::degraded("CRD is not established")
    );

    let non_structural = crd(json!([{"type": "Established", "status": "True"},
        {"type": "NonStructuralSchema", "status": "True", "message": "spec.x: type missing"}]));
    assert_eq!(
        health(non_structural),
        Health::degraded("Schema violations found: spec.x: type missing")
    );

    let terminating = crd(json!([{"type": "Established", "status": "True"},
        {"type": "Terminating", "status": "True", "message": "deleting instances"}]));
    assert_eq!(
        health(terminating),
        Health::progressing("CRD is terminating: deleting instances")
    );
}

#[test]
fn kinds_without_a_check_have_no_health() {
    // Kubernetes' own kinds without a check, and custom resources that follow no status
    // convention, have no health (as in Argo CD); they do not count towards the Application's.
    let objects = [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"},
            "status": {"phase": "Active"}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "status": {"health": {"status": "Degraded"}}}),
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "web"}, "spec": {}}),
    ];
    for object in objects {
        assert_eq!(assess(&object), None, "{object}");
    }
}

#[test]
fn custom_resources_with_status_conventions_are_judged_by_them() {
    // Beyond Argo CD (which needs a Lua check per kind): a Ready condition or a phase.
    let certificate = |status: &str| {
        json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "tls"},
            "status": {"conditions": [{"type": "Ready", "status": status, "message": "m"}]}})
    };
    assert_eq!(assess(&certificate("True")), Some(Health::healthy("m")));
    assert_eq!(
        assess(&certificate("False")),
        Some(Health::progressing("m"))
    );
    let failed = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "status": {"phase": "Failed"}});
    assert_eq!(assess(&failed), Some(Health::degraded("phase Failed")));
}

#[test]
fn any_object_being_deleted_is_pending_deletion() {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "shop", "deletionTimestamp": "2026-11-02T10:00:00Z"},
        "status": {"phase": "Terminating"}});
    assert_eq!(assess(&ns), Some(Health::progressing("Pending deletion")));
}

#[test]
fn a_finished_hook_held_by_the_hook_finalizer_keeps_its_health() {
    let hook = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "deletionTimestamp": "2026-11-02T10:00:00Z",
            "finalizers": ["argocd.argoproj.io/hook-finalizer"],
            "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
        "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
    assert_eq!(assess(&hook).map(|h| h.status), Some(Healthy));
}
