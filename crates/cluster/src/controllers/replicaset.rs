//! The ReplicaSet controller, after `pkg/controller/replicaset`: keeps `spec.replicas` active Pods
//! (creating them from the template with a controller reference, deleting the least useful
//! ones first), and reports replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
//! (Ready for minReadySeconds) and observedGeneration.

use std::cmp::Ordering;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::events::{Kind, record};
use super::ownership::{OwnedIndex, owner_key};
use super::podstate::{availability, is_active, is_ready, pod_from_template};
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, conditions, controller_write, uid_of};
use crate::objects::{DeleteOptions, name_of, namespace_of, now};
use crate::selectors::LabelSelector;
use crate::server::Shared;
use crate::store::WatchEvent;

/// At most this many Pods are created in one reconcile (the upstream burst size).
const BURST: i64 = 500;

pub async fn run(state: Shared) {
    super::runner::run(
        state,
        ReplicaSetController {
            pods: OwnedIndex::new("", "pods"),
        },
    )
    .await;
}

struct ReplicaSetController {
    pods: OwnedIndex,
}

impl Reconciler for ReplicaSetController {
    fn keys_for(&mut self, _state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "apps", "replicasets") {
            return vec![event_key(event)];
        }
        if is_type(event, "", "pods") {
            self.pods.observe(event);
            return owner_key(&event.object, "ReplicaSet").into_iter().collect();
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        self.pods.rebuild(state);
        let rt = builtin(state, "apps", "v1", "replicasets");
        state
            .objects
            .list(&rt, None)
            .items
            .iter()
            .map(|rs| (namespace_of(rs).to_string(), name_of(rs).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let rt = builtin(state, "apps", "v1", "replicasets");
        let rs = state.objects.get(&rt, &key.0, &key.1).ok()?;
        let owned = self.pods.children(state, uid_of(&rs));
        let mut active: Vec<&Value> = owned
            .iter()
            .map(|p| &**p)
            .filter(|p| is_active(p))
            .collect();
        let mut failure = None;
        if !rs["metadata"]["deletionTimestamp"].is_string() {
            let desired = rs["spec"]["replicas"].as_i64().unwrap_or(1);
            let diff = active.len() as i64 - desired;
            if diff < 0 {
                failure = self.create_pods(state, &rs, (-diff).min(BURST));
            } else if diff > 0 {
                active.sort_by(|a, b| deletion_rank(a, b));
                let pods = builtin(state, "", "v1", "pods");
                for pod in active.drain(..diff as usize) {
                    let (reason, kind, message) = match state.objects.delete(
                        &pods,
                        namespace_of(pod),
                        name_of(pod),
                        &DeleteOptions::default(),
                    ) {
                        Ok(_) => (
                            "SuccessfulDelete",
                            Kind::Normal,
                            format!("Deleted pod: {}", name_of(pod)),
                        ),
                        Err(e) => (
                            "FailedDelete",
                            Kind::Warning,
                            format!("Error deleting: {}", e.message),
                        ),
                    };
                    record(state, &rs, kind, reason, &message, "replicaset-controller");
                }
            }
        }
        // Status counts what exists now (the Pods just created show up with their events).
        let owned = self.pods.children(state, uid_of(&rs));
        let (status, recheck) = calculate_status(&rs, &owned, failure);
        if status == rs["status"] {
            // As upstream: an unchanged status is not written.
            return recheck;
        }
        let _ = state.objects.modify(
            &rt,
            &key.0,
            &key.1,
            Some("status"),
            &controller_write(),
            |live| Ok(crate::objects::status_write(live, status)),
        );
        recheck
    }
}

impl ReplicaSetController {
    /// Creates `count` Pods; the first refusal stops the batch and becomes the ReplicaFailure
    /// condition (as a quota or a terminating namespace does upstream).
    fn create_pods(&mut self, state: &Shared, rs: &Value, count: i64) -> Option<String> {
        let pods = builtin(state, "", "v1", "pods");
        for _ in 0..count {
            let pod = pod_from_template(rs, &rs["spec"]["template"], None, &[]);
            match state
                .objects
                .create(&pods, namespace_of(rs), pod, &controller_write())
            {
                Ok(created) => {
                    self.pods.record(&created);
                    record(
                        state,
                        rs,
                        Kind::Normal,
                        "SuccessfulCreate",
                        &format!("Created pod: {}", name_of(&created)),
                        "replicaset-controller",
                    );
                }
                Err(e) => {
                    record(
                        state,
                        rs,
                        Kind::Warning,
                        "FailedCreate",
                        &format!("Error creating: {}", e.message),
                        "replicaset-controller",
                    );
                    return Some(e.message);
                }
            }
        }
        None
    }
}

/// `calculateStatus`, and when a Pod will become available (minReadySeconds).
fn calculate_status(
    rs: &Value,
    owned: &[std::sync::Arc<Value>],
    failure: Option<String>,
) -> (Value, Option<Duration>) {
    let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let template_labels = LabelSelector::from_object(&json!({
        "matchLabels": rs["spec"]["template"]["metadata"]["labels"]
    }))
    .unwrap_or_default();
    let (mut replicas, mut fully_labeled, mut ready, mut available) = (0, 0, 0, 0);
    let mut recheck: Option<Duration> = None;
    for pod in owned.iter().filter(|p| is_active(p)) {
        replicas += 1;
        if template_labels.matches(pod) {
            fully_labeled += 1;
        }
        if is_ready(pod) {
            ready += 1;
        }
        let (is_available, after) = availability(pod, min_ready);
        if is_available {
            available += 1;
        }
        if let Some(after) = after {
            recheck = Some(recheck.map_or(after, |r| r.min(after)));
        }
    }
    let mut status = Map::new();
    status.insert("replicas".into(), json!(replicas));
    for (field, value) in [
        ("fullyLabeledReplicas", fully_labeled),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        (
            "observedGeneration",
            rs["metadata"]["generation"].as_i64().unwrap_or(0),
        ),
    ] {
        if value != 0 {
            status.insert(field.into(), json!(value));
        }
    }
    let mut status = Value::Object(status);
    if let Some(existing) = rs["status"]["conditions"].as_array() {
        status["conditions"] = json!(existing);
    }
    match failure {
        Some(message) => {
            let now = now();
            conditions::set(
                &mut status,
                json!({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                    "message": message, "lastTransitionTime": now}),
            );
        }
        None => conditions::remove(&mut status, "ReplicaFailure"),
    }
    if status["conditions"].as_array().is_some_and(Vec::is_empty) {
        status.as_object_mut().map(|s| s.remove("conditions"));
    }
    (status, recheck)
}

/// `ActivePods` ordering (`getPodsToDelete`): the Pods to delete first are unscheduled, then
/// pending, then not ready, then the ones with more restarts, then the newest.
fn deletion_rank(a: &Value, b: &Value) -> Ordering {
    let scheduled = |p: &Value| {
        p["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    };
    let phase = |p: &Value| match p["status"]["phase"].as_str() {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    let restarts = |p: &Value| -> i64 {
        p["status"]["containerStatuses"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    };
    let created = |p: &Value| {
        p["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    scheduled(a)
        .cmp(&scheduled(b))
        .then_with(|| phase(a).cmp(&phase(b)))
        .then_with(|| is_ready(a).cmp(&is_ready(b)))
        .then_with(|| restarts(b).cmp(&restarts(a)))
        .then_with(|| created(b).cmp(&created(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(node: &str, phase: &str, ready: bool, created: &str) -> Value {
        json!({"metadata": {"name": format!("{node}-{phase}-{ready}-{created}"), "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    // Scale-down removes the least useful Pods first: unscheduled, pending, not ready, newest.
    #[test]
    fn deletion_order_prefers_useless_pods() {
        let mut pods = [
            pod("n", "Running", true, "2025-01-01T00:00:00Z"),
            pod("n", "Running", true, "2025-01-02T00:00:00Z"),
            pod("n", "Running", false, "2025-01-01T00:00:00Z"),
            pod("n", "Pending", false, "2025-01-01T00:00:00Z"),
            pod("", "Pending", false, "2025-01-01T00:00:00Z"),
        ];
        pods.sort_by(deletion_rank);
        let order: Vec<&str> = pods.iter().map(name_of).collect();
        assert_eq!(
            order,
            [
                "-Pending-false-2025-01-01T00:00:00Z",
                "n-Pending-false-2025-01-01T00:00:00Z",
                "n-Running-false-2025-01-01T00:00:00Z",
                "n-Running-true-2025-01-02T00:00:00Z",
                "n-Running-true-2025-01-01T00:00:00Z",
            ]
        );
    }
}
