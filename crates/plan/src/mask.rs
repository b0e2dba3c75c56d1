//! Secret values never leave the Plan stage in clear.
//!
//! Argo CD's scheme: every value under a Secret's `data` and `stringData` is replaced by a run
//! of `+`, chosen per key so that equal values on both sides get the same run and different
//! values get runs of different lengths (8, 12, 16, ...). A changed Secret therefore still
//! shows as a one-line diff, and nothing about its value is revealed but the fact it changed.
//! `+` rather than `*` because `*` is not valid base64 and reads as an error in a diff.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The fields of a Secret that hold values.
const VALUE_FIELDS: &[&str] = &["data", "stringData"];

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The first replacement; each further distinct value of the same key gets `STEP` more.
const FIRST: usize = 8;
const STEP: usize = 4;

/// Whether `object` is a core/v1 Secret.
pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Masks the values of the Secret's two sides (either may be absent) consistently. Objects that
/// are not Secrets are left alone.
pub fn mask_pair(predicted: Option<&mut Value>, live: Option<&mut Value>) {
    let mut sides: Vec<&mut Value> = [predicted, live]
        .into_iter()
        .flatten()
        .filter(|side| is_secret(side))
        .collect();
    for side in sides.iter_mut() {
        // kubectl's last-applied copy holds the values in clear.
        if let Some(annotations) = side
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.remove(LAST_APPLIED);
        }
    }
    for field in VALUE_FIELDS {
        let keys: BTreeSet<String> = sides
            .iter()
            .filter_map(|side| side.get(*field).and_then(Value::as_object))
            .flat_map(|map| map.keys().cloned())
            .collect();
        for key in keys {
            // value text → its run of '+', assigned in side order (predicted first).
            let mut runs: BTreeMap<String, String> = BTreeMap::new();
            for side in sides.iter_mut() {
                let Some(slot) = side
                    .get_mut(*field)
                    .and_then(Value::as_object_mut)
                    .and_then(|map| map.get_mut(&key))
                else {
                    continue;
                };
                let text = match &*slot {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let next = FIRST + STEP * runs.len();
                let run = runs.entry(text).or_insert_with(|| "+".repeat(next));
                *slot = Value::String(run.clone());
            }
        }
    }
}

/// Masks a single object (a render of desired objects, a live object shown alone).
pub fn mask(object: &mut Value) {
    mask_pair(Some(object), None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_equal_runs_different_values_different_runs() {
        let mut predicted = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"same": "YQ==", "changed": "Yg==", "added": "Yw=="},
            "metadata": {"annotations": {LAST_APPLIED: "{\"data\":{\"same\":\"YQ==\"}}"}}});
        let mut live = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"same": "YQ==", "changed": "eg=="}, "stringData": {"s": "plain"}});
        mask_pair(Some(&mut predicted), Some(&mut live));
        assert_eq!(predicted["data"]["same"], live["data"]["same"]);
        assert_eq!(predicted["data"]["same"], "++++++++");
        assert_eq!(predicted["data"]["changed"], "++++++++");
        assert_eq!(live["data"]["changed"], "++++++++++++");
        assert_eq!(predicted["data"]["added"], "++++++++");
        assert_eq!(live["stringData"]["s"], "++++++++");
        assert!(!predicted.to_string().contains("YQ=="), "{predicted}");

        let mut config = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
        mask(&mut config);
        assert_eq!(config["data"]["k"], "v");
    }
}
