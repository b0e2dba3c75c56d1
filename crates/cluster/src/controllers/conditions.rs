//! Status conditions, with the update rules the Kubernetes controllers share
//! (`SetDeploymentCondition` and friends): a condition whose status and reason are unchanged is
//! left alone, and `lastTransitionTime` only moves when the status flips.

use serde_json::Value;

/// The condition of `kind` in `status.conditions`.
pub fn get<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// Sets `condition` (which carries `type`) in `status.conditions`.
pub fn set(status: &mut Value, mut condition: Value) {
    let kind = condition["type"].clone();
    if let Some(current) = get(status, kind.as_str().unwrap_or_default()) {
        if current["status"] == condition["status"] && current["reason"] == condition["reason"] {
            return;
        }
        if current["status"] == condition["status"] {
            condition["lastTransitionTime"] = current["lastTransitionTime"].clone();
        }
    }
    remove(status, kind.as_str().unwrap_or_default());
    if !status["conditions"].is_array() {
        status["conditions"] = Value::Array(Vec::new());
    }
    status["conditions"]
        .as_array_mut()
        .expect("conditions is an array")
        .push(condition);
}

/// Removes the condition of `kind`.
pub fn remove(status: &mut Value, kind: &str) {
    if let Some(list) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        list.retain(|c| c["type"] != kind);
    }
}
