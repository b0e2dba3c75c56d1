//! One entry point for the three patch content types of `PATCH` requests. Server-side apply
//! (`application/apply-patch+yaml`) is not a patch of the object but of its field ownership, and
//! lives in the managed-fields module.

use serde_json::Value;

use super::schema::Schema;
use super::strategic::{StrategicPatchError, strategic_merge_patch};

/// The patch formats of `PATCH` requests, by their content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
}

impl PatchType {
    /// The patch type of a request's `Content-Type` (parameters such as `; charset=utf-8` are
    /// ignored), or `None` for an unsupported one (the apiserver answers 415).
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            _ => None,
        }
    }
}

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body is not a patch of the declared type.
    #[error("invalid {patch_type} patch: {message}")]
    InvalidBody {
        /// `json`, `merge` or `strategic`.
        patch_type: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A JSON patch operation failed; names the operation.
    #[error("json patch operation {index} ({op} {path}) failed: {reason}")]
    JsonPatchOperation {
        /// Zero-based index of the failing operation.
        index: usize,
        /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
        op: &'static str,
        /// The operation's `path`.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// A strategic merge patch failed.
    #[error(transparent)]
    Strategic(#[from] StrategicPatchError),
    /// The patched document is no longer a JSON object.
    #[error("the patched object is not a JSON object")]
    NotAnObject,
}

impl PatchError {
    /// The HTTP status the apiserver answers with: a malformed body is 400, a JSON patch operation
    /// that does not apply is 422, strategic errors as [`StrategicPatchError::http_status`].
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidBody { .. } => 400,
            Self::JsonPatchOperation { .. } | Self::NotAnObject => 422,
            Self::Strategic(e) => e.http_status(),
        }
    }
}

/// Applies a patch of `patch_type` to `original`; `schema` is used by strategic merge patch only.
pub fn apply_patch(
    original: &Value,
    patch_type: PatchType,
    patch: &Value,
    schema: &Schema,
) -> Result<Value, PatchError> {
    let patched = match patch_type {
        PatchType::Json => json_patch(original, patch)?,
        PatchType::Merge => json_merge_patch(original, patch)?,
        PatchType::Strategic => strategic_merge_patch(original, patch, schema)?,
    };
    if !patched.is_object() {
        return Err(PatchError::NotAnObject);
    }
    Ok(patched)
}

/// RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, everything else (lists
/// included) replaces. The patch must be an object, since the result must stay one.
pub fn json_merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::InvalidBody {
            patch_type: "merge",
            message: "a merge patch must be a JSON object".to_string(),
        });
    }
    let mut patched = original.clone();
    json_patch::merge(&mut patched, patch);
    Ok(patched)
}

/// RFC 6902 JSON patch: a list of operations applied in order, all or nothing.
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let operations: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::InvalidBody {
            patch_type: "json",
            message: e.to_string(),
        })?;
    let mut patched = original.clone();
    json_patch::patch(&mut patched, &operations.0).map_err(|e| {
        let op = operations.0.get(e.operation);
        PatchError::JsonPatchOperation {
            index: e.operation,
            op: op.map(operation_name).unwrap_or("?"),
            path: op.map(|o| o.path().to_string()).unwrap_or_default(),
            reason: e.kind.to_string(),
        }
    })?;
    Ok(patched)
}

fn operation_name(op: &json_patch::PatchOperation) -> &'static str {
    use json_patch::PatchOperation::*;
    match op {
        Add(_) => "add",
        Remove(_) => "remove",
        Replace(_) => "replace",
        Move(_) => "move",
        Copy(_) => "copy",
        Test(_) => "test",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Schema {
        Schema::builtin("apps", "v1", "Deployment").unwrap()
    }

    // Content types select the patch type; parameters are ignored.
    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("application/json-patch+json"),
            Some(PatchType::Json)
        );
        assert_eq!(
            PatchType::from_content_type("application/strategic-merge-patch+json"),
            Some(PatchType::Strategic)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
    }

    // JSON merge patch replaces lists whole (unlike SMP) and deletes on null.
    #[test]
    fn merge_patch_replaces_lists() {
        let original = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a"}, {"name": "b"}]}}}});
        let patch = json!({"spec": {"replicas": null,
                                    "template": {"spec": {"containers": [{"name": "c"}]}}}});
        let patched = apply_patch(&original, PatchType::Merge, &patch, &schema()).unwrap();
        assert_eq!(
            patched,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}})
        );
    }

    // A failing JSON patch operation is named in the error, and nothing is applied.
    #[test]
    fn json_patch_errors_name_the_operation() {
        let original = json!({"spec": {"replicas": 1}});
        let err = apply_patch(
            &original,
            PatchType::Json,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 2},
                {"op": "remove", "path": "/spec/missing"}
            ]),
            &schema(),
        )
        .unwrap_err();
        match &err {
            PatchError::JsonPatchOperation {
                index, op, path, ..
            } => {
                assert_eq!((*index, *op, path.as_str()), (1, "remove", "/spec/missing"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.http_status(), 422);
        let ok = apply_patch(
            &original,
            PatchType::Json,
            &json!([{"op": "test", "path": "/spec/replicas", "value": 1},
                    {"op": "add", "path": "/spec/paused", "value": true}]),
            &schema(),
        )
        .unwrap();
        assert_eq!(ok, json!({"spec": {"replicas": 1, "paused": true}}));
    }

    // A body that is not a list of operations is a 400.
    #[test]
    fn json_patch_invalid_body() {
        let err = apply_patch(
            &json!({}),
            PatchType::Json,
            &json!({"op": "add"}),
            &schema(),
        )
        .unwrap_err();
        assert_eq!(err.http_status(), 400);
    }

    // Strategic merge patch goes through the schema.
    #[test]
    fn strategic_goes_through_schema() {
        let original = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "1"}, {"name": "b"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "2"}]}}}});
        let patched = apply_patch(&original, PatchType::Strategic, &patch, &schema()).unwrap();
        assert_eq!(
            patched["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "2"}, {"name": "b"}])
        );
    }
}
