//! PersistentVolumeClaim, ported from gitops-engine `health_pvc.go`: the claim's phase says it
//! all, and Argo CD gives no message.

use serde_json::Value;

use crate::object::str_at;
use crate::status::{Health, HealthStatus};

/// Bound → Healthy, Pending → Progressing (including a claim whose StorageClass waits for its
/// first consumer), Lost → Degraded, anything else (no phase yet) → Unknown.
pub fn persistent_volume_claim(pvc: &Value) -> Health {
    let status = match str_at(pvc, &["status", "phase"]) {
        "Bound" => HealthStatus::Healthy,
        "Pending" => HealthStatus::Progressing,
        "Lost" => HealthStatus::Degraded,
        _ => HealthStatus::Unknown,
    };
    Health::new(status, "")
}
