//! Pod health, ported from gitops-engine `health_pod.go`.
//!
//! The restart policy decides a great deal. A pod that restarts forever (`Always`, what every
//! Deployment makes) is judged by readiness, and a container stuck waiting on an error
//! (CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError…) makes it
//! Degraded at once. A pod with `OnFailure` or `Never` has a finite life; Argo CD runs such
//! pods as sync hooks, and calling one Degraded because its image is still being pulled would
//! fail the hook early, so while it runs it is only ever Progressing. The annotation
//! `argocd.argoproj.io/ignore-restart-policy` asks for the `Always` treatment of a running pod
//! anyway, for operator-managed pods that happen to use `Never`.

use serde_json::Value;

use crate::object::{annotation, condition, int_at, list_at, str_at};
use crate::status::Health;

/// Argo CD's annotation to judge a running `Never`/`OnFailure` pod by readiness.
pub const IGNORE_RESTART_POLICY: &str = "argocd.argoproj.io/ignore-restart-policy";

pub fn pod(pod: &Value) -> Health {
    let restart_policy = str_at(pod, &["spec", "restartPolicy"]);
    let message = str_at(pod, &["status", "message"]);

    if restart_policy == "Always" {
        let stuck: Vec<&str> = list_at(pod, &["status", "containerStatuses"])
            .iter()
            .filter_map(|c| crate::object::at(c, &["state", "waiting"]))
            .filter(|waiting| is_error_reason(str_at(waiting, &["reason"])))
            .map(|waiting| str_at(waiting, &["message"]))
            .collect();
        if !stuck.is_empty() {
            return Health::degraded(stuck.join(", "));
        }
    }

    match str_at(pod, &["status", "phase"]) {
        "Pending" => Health::progressing(message),
        "Succeeded" => Health::healthy(message),
        "Failed" => {
            if !message.is_empty() {
                return Health::degraded(message);
            }
            // Init containers first: if one of them failed, the others never ran.
            let containers = list_at(pod, &["status", "initContainerStatuses"])
                .iter()
                .chain(list_at(pod, &["status", "containerStatuses"]));
            let reason = containers
                .filter_map(failure_message)
                .next()
                .unwrap_or_default();
            Health::degraded(reason)
        }
        "Running" => {
            if restart_policy == "Always" || annotation(pod, IGNORE_RESTART_POLICY).is_some() {
                running_by_readiness(pod, message)
            } else if restart_policy == "OnFailure" || restart_policy == "Never" {
                Health::progressing(message)
            } else {
                // No restart policy at all (the API server always sets one, so this is an
                // object that never went through it): Argo CD falls through to Unknown.
                Health::unknown(message)
            }
        }
        _ => Health::unknown(message),
    }
}

/// Argo CD's test for a waiting reason that will not fix itself.
fn is_error_reason(reason: &str) -> bool {
    reason.starts_with("Err") || reason.ends_with("Error") || reason.ends_with("BackOff")
}

/// A running pod that is Ready is Healthy; one that is not, with a container that has already
/// terminated once, is Degraded (it crashed and is back, not ready); otherwise Progressing.
fn running_by_readiness(pod: &Value, message: &str) -> Health {
    let ready = condition(pod, "Ready").is_some_and(|c| str_at(c, &["status"]) == "True");
    if ready {
        return Health::healthy(message);
    }
    let restarted = list_at(pod, &["status", "containerStatuses"])
        .iter()
        .any(|c| crate::object::at(c, &["lastState", "terminated"]).is_some());
    if restarted {
        Health::degraded(message)
    } else {
        Health::progressing(message)
    }
}

/// Why a terminated container failed: its termination message, else OOMKilled, else its exit
/// code; `None` when it did not terminate or exited 0 without a message.
fn failure_message(container: &Value) -> Option<String> {
    let terminated = crate::object::at(container, &["state", "terminated"])?;
    let message = str_at(terminated, &["message"]);
    if !message.is_empty() {
        return Some(message.to_string());
    }
    let reason = str_at(terminated, &["reason"]);
    if reason == "OOMKilled" {
        return Some(reason.to_string());
    }
    let exit_code = int_at(terminated, &["exitCode"]);
    (exit_code != 0).then(|| {
        format!(
            "container {:?} failed with exit code {exit_code}",
            str_at(container, &["name"])
        )
    })
}
