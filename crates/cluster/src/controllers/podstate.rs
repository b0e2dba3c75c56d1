//! What the workload controllers read from a Pod: whether it still counts (active), whether it
//! is Ready, and whether it has been Ready long enough to be available (`minReadySeconds`) — the
//! predicates of `k8s.io/kubernetes/pkg/api/v1/pod` that every controller shares.

use std::time::Duration;

use serde_json::{Value, json};

use super::ownership::controller_reference;

/// The Pod's `Ready` condition, if it has one.
fn ready_condition(pod: &Value) -> Option<&Value> {
    pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
}

/// Not terminal (Succeeded/Failed) and not being deleted: the Pods a controller counts.
pub fn is_active(pod: &Value) -> bool {
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    phase != "Succeeded" && phase != "Failed" && !is_terminating(pod)
}

pub fn is_terminating(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

pub fn is_ready(pod: &Value) -> bool {
    ready_condition(pod).is_some_and(|c| c["status"] == "True")
}

/// Ready for at least `min_ready_seconds`; when Ready but not yet long enough, also how long
/// until it will be (for the controller to look again then).
pub fn availability(pod: &Value, min_ready_seconds: i64) -> (bool, Option<Duration>) {
    let Some(cond) = ready_condition(pod).filter(|c| c["status"] == "True") else {
        return (false, None);
    };
    if min_ready_seconds <= 0 {
        return (true, None);
    }
    let since = cond["lastTransitionTime"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let Some(since) = since else {
        return (true, None);
    };
    let elapsed = jiff::Timestamp::now().as_second() - since.as_second();
    if elapsed >= min_ready_seconds {
        (true, None)
    } else {
        let left = (min_ready_seconds - elapsed).max(0) as u64;
        (
            false,
            Some(Duration::from_secs(left) + Duration::from_millis(50)),
        )
    }
}

/// A Pod made from `template` for `owner`: the template's labels and annotations (plus
/// `extra_labels`), its spec, and the controller reference.
pub fn pod_from_template(
    owner: &Value,
    template: &Value,
    name: Option<&str>,
    extra_labels: &[(&str, &str)],
) -> Value {
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    for (k, v) in extra_labels {
        labels[*k] = json!(v);
    }
    let mut metadata = json!({
        "namespace": owner["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [controller_reference(owner)],
    });
    match name {
        Some(name) => metadata["name"] = json!(name),
        None => {
            metadata["generateName"] = json!(format!(
                "{}-",
                owner["metadata"]["name"].as_str().unwrap_or_default()
            ))
        }
    }
    if let Some(annotations) = template["metadata"]["annotations"].as_object() {
        metadata["annotations"] = json!(annotations);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template["spec"],
    })
}
