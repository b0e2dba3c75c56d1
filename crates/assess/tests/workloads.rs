//! Deployment, ReplicaSet, StatefulSet and DaemonSet, with status as the controllers write it
//! (the local cluster's `controllers/deployment.rs` etc. write the same fields).

use bosun_assess::{Health, HealthStatus::*, assess};
use serde_json::{Value, json};

fn health(object: Value) -> Health {
    assess(&object).expect("kind has a health check")
}

fn deployment(generation: i64, spec: Value, status: Value) -> Value {
    let mut spec_full = json!({"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}});
    for (k, v) in spec.as_object().unwrap() {
        spec_full[k] = v.clone();
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": spec_full, "status": status})
}

fn available(reason: &str) -> Value {
    json!([{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability."},
           {"type": "Progressing", "status": if reason == "ProgressDeadlineExceeded" {"False"} else {"True"},
             "reason": reason, "message": "ReplicaSet \"web-5d9c\" has successfully progressed."}])
}

#[test]
fn deployment_rolled_out_is_healthy_without_message() {
    let d = deployment(
        2,
        json!({}),
        json!({"observedGeneration": 2, "replicas": 3,
        "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "conditions": available("NewReplicaSetAvailable")}),
    );
    assert_eq!(health(d), Health::healthy(""));
}

#[test]
fn deployment_paused_is_suspended_even_mid_rollout() {
    let d = deployment(
        3,
        json!({"paused": true}),
        json!({"observedGeneration": 2, "replicas": 3,
        "updatedReplicas": 1, "availableReplicas": 3}),
    );
    assert_eq!(health(d), Health::suspended("Deployment is paused"));
}

#[test]
fn deployment_generation_not_observed_is_progressing() {
    // Even a deadline that was exceeded for the previous spec does not count.
    let d = deployment(
        3,
        json!({}),
        json!({"observedGeneration": 2, "replicas": 3,
        "updatedReplicas": 3, "availableReplicas": 3,
        "conditions": available("ProgressDeadlineExceeded")}),
    );
    let h = health(d);
    assert_eq!(h.status, Progressing);
    assert_eq!(
        h.message,
        "Waiting for rollout to finish: observed deployment generation less than desired generation"
    );
}

#[test]
fn deployment_progress_deadline_exceeded_is_degraded() {
    let d = deployment(
        2,
        json!({}),
        json!({"observedGeneration": 2, "replicas": 4,
        "updatedReplicas": 1, "availableReplicas": 3, "unavailableReplicas": 1,
        "conditions": available("ProgressDeadlineExceeded")}),
    );
    assert_eq!(
        health(d),
        Health::degraded("Deployment \"web\" exceeded its progress deadline")
    );
}

#[test]
fn deployment_rollout_stages_are_progressing_with_kubectl_messages() {
    let cases = [
        (
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3}),
            "Waiting for rollout to finish: 1 out of 3 new replicas have been updated...",
        ),
        (
            json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}),
            "Waiting for rollout to finish: 1 old replicas are pending termination...",
        ),
        (
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}),
            "Waiting for rollout to finish: 1 of 3 updated replicas are available...",
        ),
    ];
    for (status, message) in cases {
        let h = health(deployment(2, json!({}), status));
        assert_eq!(h, Health::progressing(message));
    }
}

#[test]
fn deployment_scaled_to_zero_is_healthy() {
    let d = deployment(
        2,
        json!({"replicas": 0}),
        json!({"observedGeneration": 2,
        "conditions": available("NewReplicaSetAvailable")}),
    );
    assert_eq!(health(d).status, Healthy);
}

#[test]
fn deployment_of_an_old_api_version_is_unknown() {
    // gitops-engine only converts apps/v1; other versions fail the typed conversion.
    let mut d = deployment(1, json!({}), json!({"observedGeneration": 1}));
    d["apiVersion"] = json!("apps/v1beta2");
    assert_eq!(
        health(d),
        Health::unknown("unsupported Deployment GVK: apps/v1beta2, Kind=Deployment")
    );
}

fn replica_set(status: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-5d9c", "namespace": "shop", "generation": 1},
        "spec": {"replicas": 2}, "status": status})
}

#[test]
fn replica_set_rules() {
    let ok = replica_set(
        json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
        "availableReplicas": 2, "fullyLabeledReplicas": 2}),
    );
    assert_eq!(health(ok), Health::healthy(""));

    let waiting =
        replica_set(json!({"observedGeneration": 1, "replicas": 2, "availableReplicas": 1}));
    assert_eq!(
        health(waiting),
        Health::progressing(
            "Waiting for rollout to finish: 1 out of 2 new replicas are available..."
        )
    );

    let unobserved = replica_set(json!({"replicas": 0}));
    assert_eq!(health(unobserved).status, Progressing);

    // ReplicaFailure=True (e.g. a quota refusing pods) → Degraded with the condition's message.
    let failing = replica_set(json!({"observedGeneration": 1, "replicas": 0,
        "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
            "message": "pods \"web-5d9c-x\" is forbidden: exceeded quota"}]}));
    assert_eq!(
        health(failing),
        Health::degraded("pods \"web-5d9c-x\" is forbidden: exceeded quota")
    );
}

fn stateful_set(strategy: Value, status: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop", "generation": 2},
        "spec": {"replicas": 3, "serviceName": "db", "updateStrategy": strategy},
        "status": status})
}

fn rolling(partition: i64) -> Value {
    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": partition}})
}

#[test]
fn stateful_set_rules() {
    // observedGeneration 0 counts as not observed.
    let fresh = stateful_set(rolling(0), json!({"replicas": 0}));
    assert_eq!(
        health(fresh),
        Health::progressing("Waiting for statefulset spec update to be observed...")
    );

    let not_ready = stateful_set(
        rolling(0),
        json!({"observedGeneration": 2, "replicas": 3,
        "readyReplicas": 1, "updatedReplicas": 3}),
    );
    assert_eq!(
        health(not_ready),
        Health::progressing("Waiting for 2 pods to be ready...")
    );

    let partitioned = stateful_set(
        rolling(1),
        json!({"observedGeneration": 2, "replicas": 3,
        "readyReplicas": 3, "updatedReplicas": 1}),
    );
    assert_eq!(
        health(partitioned),
        Health::progressing(
            "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..."
        )
    );

    let done = stateful_set(
        rolling(0),
        json!({"observedGeneration": 2, "replicas": 3,
        "readyReplicas": 3, "updatedReplicas": 3, "currentReplicas": 3,
        "currentRevision": "db-7f9", "updateRevision": "db-7f9"}),
    );
    assert_eq!(
        health(done),
        Health::healthy("partitioned roll out complete: 3 new pods have been updated...")
    );

    let on_delete = stateful_set(
        json!({"type": "OnDelete"}),
        json!({"observedGeneration": 2,
        "replicas": 3, "readyReplicas": 3, "updatedReplicas": 0,
        "currentRevision": "db-1", "updateRevision": "db-2"}),
    );
    assert_eq!(
        health(on_delete),
        Health::healthy("statefulset has 3 ready pods (0 updated)")
    );

    // Without rollingUpdate details, the revisions decide.
    let revisions = stateful_set(
        json!({"type": "RollingUpdate"}),
        json!({"observedGeneration": 2,
        "replicas": 3, "readyReplicas": 3, "updatedReplicas": 1, "currentReplicas": 2,
        "currentRevision": "db-1", "updateRevision": "db-2"}),
    );
    assert_eq!(
        health(revisions),
        Health::progressing(
            "waiting for statefulset rolling update to complete 1 pods at revision db-2..."
        )
    );
}

fn daemon_set(strategy: &str, status: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "kube-system", "generation": 3},
        "spec": {"updateStrategy": {"type": strategy}}, "status": status})
}

#[test]
fn daemon_set_rules() {
    let unobserved = daemon_set("RollingUpdate", json!({"observedGeneration": 2}));
    assert_eq!(health(unobserved).status, Progressing);

    let updating = daemon_set(
        "RollingUpdate",
        json!({"observedGeneration": 3,
        "desiredNumberScheduled": 3, "updatedNumberScheduled": 1, "numberAvailable": 3}),
    );
    assert_eq!(
        health(updating),
        Health::progressing(
            "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated..."
        )
    );

    let unavailable = daemon_set(
        "RollingUpdate",
        json!({"observedGeneration": 3,
        "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}),
    );
    assert_eq!(
        health(unavailable),
        Health::progressing(
            "Waiting for daemon set \"agent\" rollout to finish: 2 of 3 updated pods are available..."
        )
    );

    let on_delete = daemon_set(
        "OnDelete",
        json!({"observedGeneration": 3,
        "desiredNumberScheduled": 3, "updatedNumberScheduled": 1, "numberAvailable": 3}),
    );
    assert_eq!(
        health(on_delete),
        Health::healthy("daemon set 1 out of 3 new pods have been updated")
    );

    let done = daemon_set(
        "RollingUpdate",
        json!({"observedGeneration": 3,
        "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3,
        "numberReady": 3, "currentNumberScheduled": 3}),
    );
    assert_eq!(health(done), Health::healthy(""));
}
