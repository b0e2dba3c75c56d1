//! Health of a custom resource that has no check of its own, from the status conventions most
//! controllers follow (Kubernetes API conventions, and kstatus as Flux reads them):
//!
//! - `status.observedGeneration` behind `metadata.generation` → Progressing (the controller has
//!   not seen the change yet);
//! - a `Stalled` condition True → Degraded; a `Reconciling` condition True → Progressing;
//! - a `Ready` (else `Available`) condition: True → Healthy, False → Progressing unless its reason
//!   says it failed (`…Failed…`, `…Error…`) → Degraded, Unknown → Progressing;
//! - else `status.phase`: the usual words of success, progress and failure; another phase is
//!   Unknown;
//! - anything else: no health, as in Argo CD (which has no generic rule; such an object does not
//!   count towards the Application's health rather than making it Unknown, the worst status).
//!
//! Argo CD judges such objects only by a Lua check; with one configured, that check is used and
//! this rule is not.

use serde_json::Value;

use crate::object::{conditions, str_at};
use crate::status::Health;

/// Whether `group` is one of Kubernetes' own API groups (no dot, or `*.k8s.io`): their kinds
/// without a check (ConfigMap, Role, ...) have no health, conditions or not.
fn is_kubernetes_group(group: &str) -> bool {
    !group.contains('.') || group.ends_with(".k8s.io") || group == "k8s.io"
}

pub fn custom_resource(object: &Value, group: &str) -> Option<Health> {
    if is_kubernetes_group(group) {
        return None;
    }
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64);
    let observed = object
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    if let (Some(generation), Some(observed)) = (generation, observed)
        && observed < generation
    {
        return Some(Health::progressing(format!(
            "Waiting for the controller to observe generation {generation} (observed {observed})"
        )));
    }
    let conditions = conditions(object);
    let find = |kind: &str| conditions.iter().find(|c| str_at(c, &["type"]) == kind);
    let message = |c: &Value| {
        let message = str_at(c, &["message"]);
        if message.is_empty() {
            str_at(c, &["reason"]).to_owned()
        } else {
            message.to_owned()
        }
    };
    if let Some(stalled) = find("Stalled").filter(|c| str_at(c, &["status"]) == "True") {
        return Some(Health::degraded(message(stalled)));
    }
    if let Some(reconciling) = find("Reconciling").filter(|c| str_at(c, &["status"]) == "True") {
        return Some(Health::progressing(message(reconciling)));
    }
    if let Some(ready) = find("Ready").or_else(|| find("Available")) {
        let reason = str_at(ready, &["reason"]);
        return Some(match str_at(ready, &["status"]) {
            "True" => Health::healthy(message(ready)),
            "False" if reason.contains("Fail") || reason.contains("Error") => {
                Health::degraded(message(ready))
            }
            _ => Health::progressing(message(ready)),
        });
    }
    let phase = str_at(object, &["status", "phase"]);
    if phase.is_empty() {
        return None;
    }
    let text = format!("phase {phase}");
    Some(match phase.to_ascii_lowercase().as_str() {
        "ready" | "running" | "active" | "available" | "healthy" | "bound" | "succeeded"
        | "complete" | "completed" | "deployed" | "established" | "synced" => Health::healthy(text),
        "pending" | "progressing" | "provisioning" | "creating" | "updating" | "initializing"
        | "reconciling" | "deploying" | "waiting" | "starting" => Health::progressing(text),
        "failed" | "failure" | "error" | "degraded" | "crashloopbackoff" => Health::degraded(text),
        "suspended" | "paused" => Health::suspended(text),
        _ => Health::unknown(format!("{text}: bosun has no rule for it")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::HealthStatus;
    use serde_json::json;

    fn widget(status: Value) -> Value {
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "generation": 2}, "status": status})
    }

    fn status_of(object: &Value) -> Option<HealthStatus> {
        custom_resource(object, "example.com").map(|h| h.status)
    }

    #[test]
    fn conditions_decide_as_kstatus_does() {
        let ready = |status: &str, reason: &str| {
            widget(json!({"observedGeneration": 2, "conditions": [
                {"type": "Ready", "status": status, "reason": reason, "message": "m"}]}))
        };
        assert_eq!(
            status_of(&ready("True", "Done")),
            Some(HealthStatus::Healthy)
        );
        assert_eq!(
            status_of(&ready("False", "Waiting")),
            Some(HealthStatus::Progressing)
        );
        assert_eq!(
            status_of(&ready("False", "InstallFailed")),
            Some(HealthStatus::Degraded)
        );
        assert_eq!(
            status_of(&ready("Unknown", "")),
            Some(HealthStatus::Progressing)
        );
        let stalled = widget(json!({"conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Stalled", "status": "True", "message": "bad spec"}]}));
        assert_eq!(
            custom_resource(&stalled, "example.com"),
            Some(Health::degraded("bad spec"))
        );
        let available = widget(json!({"conditions": [{"type": "Available", "status": "True"}]}));
        assert_eq!(status_of(&available), Some(HealthStatus::Healthy));
    }

    #[test]
    fn an_unobserved_generation_is_progressing() {
        let behind = widget(json!({"observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True"}]}));
        assert_eq!(status_of(&behind), Some(HealthStatus::Progressing));
    }

    #[test]
    fn phases_and_nothing() {
        assert_eq!(
            status_of(&widget(json!({"phase": "Running"}))),
            Some(HealthStatus::Healthy)
        );
        assert_eq!(
            status_of(&widget(json!({"phase": "Pending"}))),
            Some(HealthStatus::Progressing)
        );
        assert_eq!(
            status_of(&widget(json!({"phase": "Failed"}))),
            Some(HealthStatus::Degraded)
        );
        assert_eq!(
            status_of(&widget(json!({"phase": "Baking"}))),
            Some(HealthStatus::Unknown)
        );
        // No status at all: no health (a ServiceMonitor, a Certificate not yet reconciled...).
        assert_eq!(status_of(&widget(json!({}))), None);
        assert_eq!(status_of(&widget(Value::Null)), None);
    }

    #[test]
    fn kubernetes_own_kinds_are_not_judged_by_conventions() {
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "status": {"phase": "Failed"}});
        assert_eq!(custom_resource(&role, "rbac.authorization.k8s.io"), None);
        assert_eq!(custom_resource(&role, "policy"), None);
    }
}
