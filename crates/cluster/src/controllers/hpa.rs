//! HorizontalPodAutoscaler status only: the local cluster serves no metrics, so an HPA never
//! scales. It reports the target's current replicas, a desired count equal to that count held
//! within [minReplicas, maxReplicas], and conditions that say why: `AbleToScale` (the target's
//! scale could be read), `ScalingActive=False` (no metrics), `ScalingLimited` (the current count
//! is outside the bounds).

use std::time::Duration;

use serde_json::{Value, json};

use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, conditions, controller_write};
use crate::objects::{name_of, namespace_of, now};
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

pub async fn run(state: Shared) {
    super::runner::run(state, AutoscalerStatus).await;
}

struct AutoscalerStatus;

/// The plural of a scale target kind the cluster simulates.
fn target_plural(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment" => Some("deployments"),
        "StatefulSet" => Some("statefulsets"),
        "ReplicaSet" => Some("replicasets"),
        _ => None,
    }
}

fn condition(kind: &str, ok: bool, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": if ok {"True"} else {"False"}, "lastTransitionTime": now(),
        "reason": reason, "message": message})
}

impl Reconciler for AutoscalerStatus {
    fn keys_for(&mut self, state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "autoscaling", "horizontalpodautoscalers") {
            if event.event_type == EventType::Deleted {
                return Vec::new();
            }
            return vec![event_key(event)];
        }
        let kind = event.object["kind"].as_str().unwrap_or_default();
        if event.gr.group != "apps" || target_plural(kind).is_none() {
            return Vec::new();
        }
        // The HPAs in the namespace that target this object.
        let hpas = builtin(state, "autoscaling", "v2", "horizontalpodautoscalers");
        state
            .objects
            .list(&hpas, Some(&event.namespace))
            .items
            .iter()
            .filter(|h| {
                let target = &h["spec"]["scaleTargetRef"];
                target["kind"] == kind && target["name"] == event.name.as_str()
            })
            .map(|h| (namespace_of(h).to_string(), name_of(h).to_string()))
            .collect()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        let hpas = builtin(state, "autoscaling", "v2", "horizontalpodautoscalers");
        state
            .objects
            .list(&hpas, None)
            .items
            .iter()
            .map(|h| (namespace_of(h).to_string(), name_of(h).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let hpas = builtin(state, "autoscaling", "v2", "horizontalpodautoscalers");
        let hpa = state.objects.get(&hpas, &key.0, &key.1).ok()?;
        let target_ref = &hpa["spec"]["scaleTargetRef"];
        let target =
            target_plural(target_ref["kind"].as_str().unwrap_or_default()).and_then(|plural| {
                let rt = builtin(state, "apps", "v1", plural);
                state
                    .objects
                    .get(&rt, &key.0, target_ref["name"].as_str().unwrap_or_default())
                    .ok()
            });
        let mut status = hpa["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        let min = hpa["spec"]["minReplicas"].as_i64().unwrap_or(1);
        let max = hpa["spec"]["maxReplicas"].as_i64().unwrap_or(min);
        match target {
            None => {
                status["currentReplicas"] = json!(0);
                status["desiredReplicas"] = json!(0);
                conditions::set(
                    &mut status,
                    condition(
                        "AbleToScale",
                        false,
                        "FailedGetScale",
                        &format!(
                            "the HPA controller was unable to get the target's current scale: {} {:?} not found",
                            target_ref["kind"].as_str().unwrap_or_default(),
                            target_ref["name"].as_str().unwrap_or_default()
                        ),
                    ),
                );
            }
            Some(target) => {
                let current = target["status"]["replicas"].as_i64().unwrap_or(0);
                let desired = current.clamp(min, max.max(min));
                status["currentReplicas"] = json!(current);
                status["desiredReplicas"] = json!(desired);
                conditions::set(
                    &mut status,
                    condition(
                        "AbleToScale",
                        true,
                        "SucceededGetScale",
                        "the HPA controller was able to get the target's current scale",
                    ),
                );
                conditions::set(
                    &mut status,
                    condition(
                        "ScalingActive",
                        false,
                        "FailedGetResourceMetric",
                        "the HPA was unable to compute the replica count: the simulated cluster serves no metrics",
                    ),
                );
                let limited = if current < min {
                    condition(
                        "ScalingLimited",
                        true,
                        "TooFewReplicas",
                        "the desired replica count is less than the minimum replica count",
                    )
                } else if current > max {
                    condition(
                        "ScalingLimited",
                        true,
                        "TooManyReplicas",
                        "the desired replica count is more than the maximum replica count",
                    )
                } else {
                    condition(
                        "ScalingLimited",
                        false,
                        "DesiredWithinRange",
                        "the desired count is within the acceptable range",
                    )
                };
                conditions::set(&mut status, limited);
            }
        }
        let _ = state.objects.modify(
            &hpas,
            &key.0,
            &key.1,
            Some("status"),
            &controller_write(),
            |live| {
                let mut next = live.clone();
                next["status"] = status;
                Ok(next)
            },
        );
        None
    }
}
