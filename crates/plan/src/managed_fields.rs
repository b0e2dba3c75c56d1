//! `ignoreDifferences.managedFieldsManagers`: fields that other managers own in the live object
//! are taken from the live object into the prediction, so changes they make never show as a
//! difference (Argo CD's `managedfields.Normalize`: extract the trusted managers' field set from
//! live and merge it into the desired side).
//!
//! The field sets are the live object's `metadata.managedFields[].fieldsV1`, in the
//! structured-merge-diff encoding: `f:<field>` for a struct or map field, `k:<json>` for a list
//! item identified by its key fields, `v:<json>` for a set item, `i:<n>` for a list item by
//! position, and `.` for the node itself.

use serde_json::{Map, Value};

/// Copies into `predicted` every field of `live` owned by one of `managers`.
pub fn copy_owned_fields(live: &Value, predicted: &mut Value, managers: &[String]) {
    if managers.is_empty() {
        return;
    }
    let Some(entries) = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return;
    };
    for entry in entries {
        let trusted = entry
            .get("manager")
            .and_then(Value::as_str)
            .is_some_and(|m| managers.iter().any(|t| t == m));
        if let (true, Some(set)) = (trusted, entry.get("fieldsV1").and_then(Value::as_object)) {
            copy_node(live, predicted, set);
        }
    }
}

/// Copies the members of `set` from `live` into `predicted`, where both are the same node.
fn copy_node(live: &Value, predicted: &mut Value, set: &Map<String, Value>) {
    match (live, predicted) {
        (Value::Object(live), Value::Object(predicted)) => copy_fields(live, predicted, set),
        (Value::Array(live), Value::Array(predicted)) => copy_items(live, predicted, set),
        // The shapes disagree: the owner's whole value wins.
        (live, predicted) => *predicted = live.clone(),
    }
}

fn copy_fields(
    live: &Map<String, Value>,
    predicted: &mut Map<String, Value>,
    set: &Map<String, Value>,
) {
    for (element, children) in set {
        let Some(name) = element.strip_prefix("f:") else {
            continue;
        };
        let Some(live_value) = live.get(name) else {
            continue;
        };
        let children = children.as_object().filter(|c| has_members(c));
        match (children, predicted.get_mut(name)) {
            (Some(children), Some(slot)) => copy_node(live_value, slot, children),
            (Some(children), None) if live_value.is_object() => {
                let mut fresh = Value::Object(Map::new());
                copy_node(live_value, &mut fresh, children);
                predicted.insert(name.to_owned(), fresh);
            }
            // A leaf, or a composite the prediction lacks altogether: take the live value.
            _ => {
                predicted.insert(name.to_owned(), live_value.clone());
            }
        }
    }
}

fn copy_items(live: &[Value], predicted: &mut Vec<Value>, set: &Map<String, Value>) {
    for (element, children) in set {
        let children = children.as_object().filter(|c| has_members(c));
        if let Some(json) = element.strip_prefix("k:") {
            let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(json) else {
                continue;
            };
            let matches = |item: &Value| keys.iter().all(|(k, v)| item.get(k) == Some(v));
            let Some((live_index, live_item)) = live.iter().enumerate().find(|(_, i)| matches(i))
            else {
                continue;
            };
            match (predicted.iter_mut().find(|i| matches(i)), children) {
                (Some(slot), Some(children)) => copy_node(live_item, slot, children),
                (Some(slot), None) => *slot = live_item.clone(),
                (None, Some(children)) => {
                    // Only the owned fields (and the keys that identify the item) come over.
                    let mut fresh = Value::Object(keys.clone());
                    copy_node(live_item, &mut fresh, children);
                    predicted.insert(live_index.min(predicted.len()), fresh);
                }
                (None, None) => {
                    predicted.insert(live_index.min(predicted.len()), live_item.clone())
                }
            }
        } else if let Some(json) = element.strip_prefix("v:") {
            let Ok(value) = serde_json::from_str::<Value>(json) else {
                continue;
            };
            if live.contains(&value) && !predicted.contains(&value) {
                let at = live.iter().position(|v| *v == value).unwrap_or(0);
                predicted.insert(at.min(predicted.len()), value);
            }
        } else if let Some(index) = element
            .strip_prefix("i:")
            .and_then(|i| i.parse::<usize>().ok())
            && let (Some(live_item), Some(slot)) = (live.get(index), predicted.get_mut(index))
        {
            match children {
                Some(children) => copy_node(live_item, slot, children),
                None => *slot = live_item.clone(),
            }
        }
    }
}

/// Whether a field set names members below the node (not just the node itself via `.`).
fn has_members(set: &Map<String, Value>) -> bool {
    set.keys().any(|k| k != ".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn copies_only_the_trusted_managers_fields() {
        let live = json!({
            "metadata": {"managedFields": [
                {"manager": "injector", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:injected": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"sidecar\"}": {".": {}, "f:name": {}, "f:image": {}},
                        "k:{\"name\":\"app\"}": {"f:env": {}}}}}},
                {"manager": "other", "operation": "Update", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:paused": {}}}}],
                "labels": {"injected": "yes", "team": "a"}},
            "spec": {"paused": true, "containers": [
                {"name": "app", "image": "app:1", "env": [{"name": "X", "value": "1"}]},
                {"name": "sidecar", "image": "proxy:2"}]}});
        let mut predicted = json!({
            "metadata": {"labels": {"team": "b"}},
            "spec": {"containers": [{"name": "app", "image": "app:2"}]}});
        copy_owned_fields(&live, &mut predicted, &["injector".to_owned()]);
        assert_eq!(
            predicted,
            json!({
            "metadata": {"labels": {"team": "b", "injected": "yes"}},
            "spec": {"containers": [
                {"name": "app", "image": "app:2", "env": [{"name": "X", "value": "1"}]},
                {"name": "sidecar", "image": "proxy:2"}]}})
        );
    }
}
