//! The server's use of the merge library, as the apiserver's fieldmanager wraps
//! structured-merge-diff: every write records field ownership in `metadata.managedFields`, the
//! three patch types are applied with the kind's list/map semantics, and server-side apply merges
//! a configuration with conflict detection.

use std::sync::Arc;

use serde_json::Value;

use crate::api::body::MediaType;
use crate::merge::managed::{self as ssa, ApplyError, ApplyOptions, UpdateOptions};
use crate::merge::patch::{PatchType, apply_patch};
use crate::merge::schema::Schema;
use crate::objects::{Objects, Operation, WriteOptions};
use crate::resources::ResourceType;
use crate::status::{ApiError, ApiResult, Cause};

/// The list/map semantics of a type: the CRD's schema for custom resources, the built-in table
/// otherwise, and "lists atomic, maps granular" for anything unknown.
pub fn schema_for(
    group: &str,
    version: &str,
    kind: &str,
    crd_schema: Option<&Value>,
) -> Arc<Schema> {
    Arc::new(match crd_schema {
        Some(s) => Schema::from_crd_validation(s),
        None => Schema::builtin(group, version, kind).unwrap_or_else(Schema::deduced),
    })
}

pub use ssa::default_manager;

/// Records that `manager` wrote `next` over `live` (an Update operation) in `next`'s managedFields.
pub fn record_update(
    rt: &ResourceType,
    live: Option<&Value>,
    next: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) {
    if manager.is_empty() {
        return;
    }
    let reset = ssa::reset_fields(subresource, rt.status_subresource);
    let options = UpdateOptions {
        manager,
        subresource,
        now,
        reset_fields: &reset,
    };
    match ssa::record_update_in_place(live, next, &options, &rt.merge_schema) {
        Ok(()) => {}
        // The object does not fit its schema's shapes (a list where a map is declared, say):
        // ownership cannot be tracked, but the write itself is the validator's business.
        Err(e) => tracing::debug!(error = %e, kind = %rt.kind, "managedFields not recorded"),
    }
}

/// Applies a JSON, merge or strategic merge patch to `live`.
pub fn patch(rt: &ResourceType, live: &Value, patch: &Value, media: MediaType) -> ApiResult<Value> {
    let patch_type = match media {
        MediaType::JsonPatch => PatchType::Json,
        MediaType::MergePatch => PatchType::Merge,
        // Custom resources have no patch-strategy metadata: the apiserver refuses strategic patches.
        MediaType::StrategicMergePatch if rt.schema.is_some() => {
            return Err(ApiError::unsupported_media_type(
                "application/strategic-merge-patch+json",
            ));
        }
        MediaType::StrategicMergePatch => PatchType::Strategic,
        other => return Err(ApiError::unsupported_media_type(&format!("{other:?}"))),
    };
    apply_patch(live, patch_type, patch, &rt.merge_schema).map_err(|e| match e.http_status() {
        400 => ApiError::bad_request(e.to_string()),
        422 => ApiError::invalid(
            &rt.group,
            &rt.kind,
            crate::objects::name_of(live),
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "patch".into(),
                message: e.to_string(),
            }],
        ),
        code => ApiError::new(code, "BadRequest", e.to_string()),
    })
}

fn apply_error(rt: &ResourceType, name: &str, e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(c) => {
            let causes = c.0.iter().map(|c| c.status_cause()).collect();
            ApiError::conflict_with_causes(rt, name, c.message(), causes)
        }
        ApplyError::Invalid(message) => ApiError::bad_request(message),
    }
}

/// Server-side apply of `applied` by `opts.manager`: creates the object when it does not exist.
/// Returns the stored object and whether it was created.
pub fn apply(
    objects: &Objects,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    subresource: Option<&str>,
    mut applied: Value,
    opts: &WriteOptions,
) -> ApiResult<(Arc<Value>, bool)> {
    if crate::objects::name_of(&applied).is_empty() {
        applied["metadata"]["name"] = Value::String(name.to_string());
    }
    if crate::objects::name_of(&applied) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            crate::objects::name_of(&applied)
        )));
    }
    let opts = WriteOptions {
        operation: Operation::Apply,
        ..opts.clone()
    };
    let reset = ssa::reset_fields(subresource, rt.status_subresource);
    let now = crate::objects::now();
    let options = ApplyOptions {
        manager: &opts.manager,
        force: opts.force,
        subresource,
        now: &now,
        reset_fields: &reset,
    };
    if objects
        .store
        .get(
            &rt.group_resource(),
            if rt.namespaced { ns } else { "" },
            name,
        )
        .is_none()
    {
        if subresource.is_some() {
            return Err(ApiError::not_found(rt, name));
        }
        crate::validate::validate_object(rt, rt.namespaced.then_some(ns), &applied)?;
        let written = ssa::apply(None, &applied, &options, &rt.merge_schema)
            .map_err(|e| apply_error(rt, name, e))?;
        return objects
            .create(rt, ns, written.object, &opts)
            .map(|o| (o, true));
    }
    crate::validate::validate_object(rt, rt.namespaced.then_some(ns), &applied)?;
    let updated = objects.modify(rt, ns, name, subresource, &opts, |live| {
        // An applied configuration that carries a resourceVersion is conditional on it.
        crate::objects::expect_resource_version(rt, name, &applied, live)?;
        ssa::apply(Some(live), &applied, &options, &rt.merge_schema)
            .map(|w| w.object)
            .map_err(|e| apply_error(rt, name, e))
    })?;
    Ok((updated, false))
}
