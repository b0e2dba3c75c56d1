//! Pods, shaped as the kubelet (and the local cluster's `controllers/kubelet.rs`) writes them.

use bosun_assess::{Health, HealthStatus::*, assess};
use serde_json::{Value, json};

fn pod(restart_policy: &str, annotations: Value, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-5d9c-abcde", "namespace": "shop", "annotations": annotations},
        "spec": {"restartPolicy": restart_policy,
                 "containers": [{"name": "main", "image": "shop/web:1.4.2"}]},
        "status": status})
}

fn health(object: Value) -> Health {
    assess(&object).expect("pods have a health check")
}

fn ready(ready: bool) -> Value {
    let s = if ready { "True" } else { "False" };
    json!([{"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
           {"type": "ContainersReady", "status": s}, {"type": "Ready", "status": s}])
}

#[test]
fn running_and_ready_with_restart_always_is_healthy() {
    let p = pod(
        "Always",
        json!({}),
        json!({"phase": "Running", "conditions": ready(true),
        "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0,
            "state": {"running": {"startedAt": "2026-11-02T10:00:00Z"}}, "lastState": {}}]}),
    );
    assert_eq!(health(p), Health::healthy(""));
}

#[test]
fn crash_loop_back_off_is_degraded_with_the_waiting_message() {
    let p = pod(
        "Always",
        json!({}),
        json!({"phase": "Running", "conditions": ready(false),
        "containerStatuses": [{"name": "main", "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                "message": "back-off 1m20s restarting failed container=main pod=web_shop(1)"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
    );
    assert_eq!(
        health(p),
        Health::degraded("back-off 1m20s restarting failed container=main pod=web_shop(1)")
    );
}

#[test]
fn image_pull_errors_are_degraded_joined_per_container() {
    let waiting = |reason: &str, message: &str| json!({"name": "c", "ready": false, "state": {"waiting": {"reason": reason, "message": message}}});
    let p = pod(
        "Always",
        json!({}),
        json!({"phase": "Pending", "conditions": ready(false),
        "containerStatuses": [waiting("ErrImagePull", "pull failed"),
                              waiting("ContainerCreating", ""),
                              waiting("CreateContainerConfigError", "secret \"db\" not found")]}),
    );
    assert_eq!(
        health(p),
        Health::degraded("pull failed, secret \"db\" not found")
    );
}

#[test]
fn waiting_errors_do_not_degrade_hook_pods_with_restart_never() {
    // Argo CD: a hook pod whose image is still being pulled must not fail the hook.
    let p = pod(
        "Never",
        json!({}),
        json!({"phase": "Pending",
        "containerStatuses": [{"name": "main", "state": {"waiting": {"reason": "ImagePullBackOff",
            "message": "Back-off pulling image"}}}]}),
    );
    assert_eq!(health(p).status, Progressing);
}

#[test]
fn running_not_ready_is_progressing_until_a_container_has_terminated() {
    let starting = pod(
        "Always",
        json!({}),
        json!({"phase": "Running", "conditions": ready(false),
        "containerStatuses": [{"name": "main", "ready": false, "state": {"running": {}}, "lastState": {}}]}),
    );
    assert_eq!(health(starting).status, Progressing);

    let restarted = pod(
        "Always",
        json!({}),
        json!({"phase": "Running", "conditions": ready(false),
        "message": "container restarted",
        "containerStatuses": [{"name": "main", "ready": false, "restartCount": 1,
            "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 137}}}]}),
    );
    assert_eq!(health(restarted), Health::degraded("container restarted"));
}

#[test]
fn running_pod_with_restart_never_or_on_failure_is_progressing_even_when_ready() {
    for policy in ["Never", "OnFailure"] {
        let p = pod(
            policy,
            json!({}),
            json!({"phase": "Running", "conditions": ready(true)}),
        );
        assert_eq!(health(p).status, Progressing, "restartPolicy {policy}");
    }
}

#[test]
fn ignore_restart_policy_annotation_judges_a_running_pod_by_readiness() {
    let p = pod(
        "Never",
        json!({"argocd.argoproj.io/ignore-restart-policy": "true"}),
        json!({"phase": "Running", "conditions": ready(true)}),
    );
    assert_eq!(health(p).status, Healthy);
}

#[test]
fn succeeded_is_healthy_and_pending_is_progressing() {
    assert_eq!(
        health(pod("Never", json!({}), json!({"phase": "Succeeded"}))).status,
        Healthy
    );
    let pending = pod(
        "Always",
        json!({}),
        json!({"phase": "Pending",
        "message": "0/1 nodes are available"}),
    );
    assert_eq!(
        health(pending),
        Health::progressing("0/1 nodes are available")
    );
}

#[test]
fn failed_pod_message_comes_from_pod_then_init_containers_then_containers() {
    let with_message = pod(
        "Never",
        json!({}),
        json!({"phase": "Failed",
        "message": "Pod was active on the node longer than activeDeadlineSeconds"}),
    );
    assert_eq!(
        health(with_message),
        Health::degraded("Pod was active on the node longer than activeDeadlineSeconds")
    );

    let terminated = |name: &str, t: Value| json!({"name": name, "state": {"terminated": t}});
    let init_failed = pod(
        "Never",
        json!({}),
        json!({"phase": "Failed",
        "initContainerStatuses": [terminated("migrate", json!({"exitCode": 2, "reason": "Error"}))],
        "containerStatuses": [terminated("main", json!({"exitCode": 0, "message": "never ran"}))]}),
    );
    assert_eq!(
        health(init_failed),
        Health::degraded("container \"migrate\" failed with exit code 2")
    );

    let oom = pod(
        "Never",
        json!({}),
        json!({"phase": "Failed",
        "containerStatuses": [terminated("main", json!({"exitCode": 137, "reason": "OOMKilled"}))]}),
    );
    assert_eq!(health(oom), Health::degraded("OOMKilled"));

    let own_message = pod(
        "Never",
        json!({}),
        json!({"phase": "Failed",
        "containerStatuses": [terminated("main", json!({"exitCode": 1, "message": "boom"}))]}),
    );
    assert_eq!(health(own_message), Health::degraded("boom"));
}

#[test]
fn unknown_phase_is_unknown() {
    assert_eq!(
        health(pod("Always", json!({}), json!({"phase": "Unknown"}))).status,
        Unknown
    );
}
