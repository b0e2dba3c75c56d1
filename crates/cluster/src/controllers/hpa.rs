//! HorizontalPodAutoscaler: the local cluster serves no resource metrics, so an HPA only does
//! what a real one does before it reads metrics — holds its target within [minReplicas,
//! maxReplicas] (Kubernetes' "Current number of replicas below Spec.MinReplicas" rescale),
//! through the target's `/scale` paths, so a Deployment or a custom resource with a scale
//! subresource (an Argo Rollout) is scaled alike. It reports the target's current replicas
//! (the scale's status, e.g. a Rollout's `status.HPAReplicas`), the desired count, and
//! conditions that say why: `AbleToScale`, `ScalingActive=False` (no metrics), `ScalingLimited`.

use std::time::Duration;

use serde_json::{Value, json};

use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, conditions, controller_write};
use crate::objects::{name_of, namespace_of, now};
use crate::resources::{ResourceType, ScalePaths, at_path, set_at_path};
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

pub async fn run(state: Shared) {
    super::runner::run(state, AutoscalerStatus).await;
}

struct AutoscalerStatus;

/// The scale target's type and scale paths, by `scaleTargetRef`'s apiVersion and kind.
fn target_type(state: &Shared, target_ref: &Value) -> Option<(ResourceType, ScalePaths)> {
    let rt = state.objects.registry.by_kind(
        target_ref["apiVersion"].as_str().unwrap_or_default(),
        target_ref["kind"].as_str().unwrap_or_default(),
    )?;
    let paths = rt.scale.clone()?;
    Some((rt, paths))
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
        let scalable = state
            .objects
            .registry
            .by_kind(
                event.object["apiVersion"].as_str().unwrap_or_default(),
                kind,
            )
            .is_some_and(|rt| rt.scale.is_some());
        if !scalable {
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
        let target_name = target_ref["name"].as_str().unwrap_or_default();
        let target = target_type(state, target_ref).and_then(|(rt, paths)| {
            let object = state.objects.get(&rt, &key.0, target_name).ok()?;
            Some((rt, paths, object))
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
            Some((rt, paths, target)) => {
                let spec = at_path(&target, &paths.spec_replicas).as_i64().unwrap_or(1);
                let current = at_path(&target, &paths.status_replicas)
                    .as_i64()
                    .unwrap_or(0);
                let desired = spec.clamp(min, max.max(min));
                // Scaling to zero turns the HPA off, as in Kubernetes.
                if desired != spec && spec != 0 {
                    let _ = state.objects.modify(
                        &rt,
                        &key.0,
                        target_name,
                        None,
                        &controller_write(),
                        |live| {
                            let mut next = live.clone();
                            set_at_path(&mut next, &paths.spec_replicas, json!(desired));
                            Ok(next)
                        },
                    );
                    status["lastScaleTime"] = json!(now());
                }
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
                let limited = if spec < min {
                    condition(
                        "ScalingLimited",
                        true,
                        "TooFewReplicas",
                        "the desired replica count is less than the minimum replica count",
                    )
                } else if spec > max {
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
