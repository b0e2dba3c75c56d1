//! HorizontalPodAutoscaler, ported from gitops-engine `health_hpa.go`.
//!
//! autoscaling/v2 (and v2beta1/v2beta2) carry `status.conditions`; autoscaling/v1 has none and
//! keeps them as JSON in the annotation `autoscaling.alpha.kubernetes.io/conditions`. Either
//! way the conditions are read in order and the first one that decides wins:
//! a known failure reason → Degraded, AbleToScale or ScalingLimited True → Healthy. With no
//! deciding condition the HPA is "Waiting to Autoscale".

use serde_json::Value;

use crate::object::{annotation, conditions, version};
use crate::status::Health;

const V1_CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const WAITING: &str = "Waiting to Autoscale";

/// (type, reason) pairs that mean the autoscaler cannot do its job.
const DEGRADED: [(&str, &str); 4] = [
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "InvalidSelector"),
];

pub fn horizontal_pod_autoscaler(hpa: &Value) -> Health {
    if version(hpa) != "v1" {
        return decide(conditions(hpa));
    }
    let Some(json) = annotation(hpa, V1_CONDITIONS) else {
        return Health::progressing(WAITING);
    };
    match serde_json::from_str::<Vec<Value>>(json) {
        Ok(list) => decide(&list),
        Err(e) => Health::unknown(format!(
            "failed to convert conditions annotation to typed: {e}"
        )),
    }
}

fn decide(conditions: &[Value]) -> Health {
    for c in conditions {
        let kind = field(c, "type");
        if DEGRADED.contains(&(kind, field(c, "reason"))) {
            return Health::degraded(field(c, "message"));
        }
        if (kind == "AbleToScale" || kind == "ScalingLimited") && field(c, "status") == "True" {
            return Health::healthy(field(c, "message"));
        }
    }
    Health::progressing(WAITING)
}

/// A condition field. The v1 annotation is decoded by Go's `encoding/json`, which matches keys
/// case-insensitively, so both `type` and `Type` are accepted.
fn field<'a>(condition: &'a Value, key: &str) -> &'a str {
    condition
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("")
}
