//! Removing what differs between a prediction and the live object without being a change.
//!
//! Both sides come from the server (the prediction is a dry-run apply), so defaulted fields
//! already agree and need no list of per-kind defaults. What is left is bookkeeping that the
//! server rewrites on every write (managedFields, resourceVersion, generation), identity that a
//! dry run invents (uid, creationTimestamp of an object not yet created), the status that
//! controllers own, kubectl's last-applied copy and bosun's own tracking marks.

use serde_json::Value;

use crate::tracking::{APP_LABEL, TRACKING_ANNOTATION};

/// metadata fields dropped from both sides.
const METADATA_FIELDS: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
];

/// Annotations dropped from both sides.
const ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    TRACKING_ANNOTATION,
];

/// Labels dropped from both sides.
const LABELS: &[&str] = &[APP_LABEL];

/// Strips server bookkeeping, status, last-applied configuration and tracking marks, in place.
/// An emptied labels or annotations map is removed, so "none" and "{}" compare equal.
pub fn normalize(object: &mut Value) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    root.remove("status");
    let Some(metadata) = root.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for field in METADATA_FIELDS {
        metadata.remove(*field);
    }
    for (map, drop) in [("annotations", ANNOTATIONS), ("labels", LABELS)] {
        if let Some(entries) = metadata.get_mut(map).and_then(Value::as_object_mut) {
            for key in drop {
                entries.remove(*key);
            }
            if entries.is_empty() {
                metadata.remove(map);
            }
        }
    }
}
