//! Field ownership (`metadata.managedFields`) and the patch types, through the merge library.

use serde_json::Value;

use crate::api::body::MediaType;
use crate::objects::{Objects, WriteOptions};
use crate::resources::ResourceType;
use crate::status::{ApiError, ApiResult};

/// The list/map semantics for a type (placeholder until the merge library's schema lands).
pub struct TypeSchema;

pub fn schema_for(_rt: &ResourceType) -> TypeSchema {
    TypeSchema
}

/// The manager name the apiserver derives from a User-Agent: the part before the first '/'.
pub fn default_manager(user_agent: &str) -> String {
    let name = user_agent.split('/').next().unwrap_or_default();
    if name.is_empty() {
        "unknown".into()
    } else {
        name.to_string()
    }
}

/// Records that `manager` wrote `next` over `live` (an Update operation).
pub fn record_update(
    _rt: &ResourceType,
    _live: Option<&Value>,
    _next: &mut Value,
    _manager: &str,
    _subresource: Option<&str>,
    _now: &str,
) {
}

/// Applies a JSON, merge or strategic merge patch to `live`.
pub fn patch(
    _schema: &TypeSchema,
    _rt: &ResourceType,
    live: &Value,
    patch: &Value,
    media: MediaType,
) -> ApiResult<Value> {
    let mut next = live.clone();
    match media {
        MediaType::JsonPatch => {
            let p: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(&mut next, &p).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the JSON patch could not be applied: {e}"),
                )
            })?;
        }
        _ => json_patch::merge(&mut next, patch),
    }
    Ok(next)
}

/// Server-side apply: returns the stored object and whether it was created.
pub fn apply(
    objects: &Objects,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    applied: Value,
    opts: &WriteOptions,
) -> ApiResult<(Value, bool)> {
    match objects.get(rt, ns, name) {
        Err(e) if e.code == 404 && sub.is_none() => {
            let created = objects.create(rt, ns, applied, opts)?;
            Ok(((*created).clone(), true))
        }
        Err(e) => Err(e),
        Ok(_) => {
            let updated = objects.modify(rt, ns, name, sub, opts, |live| {
                let mut next = live.clone();
                json_patch::merge(&mut next, &applied);
                Ok(next)
            })?;
            Ok(((*updated).clone(), false))
        }
    }
}
