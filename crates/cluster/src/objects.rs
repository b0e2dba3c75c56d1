//! The semantics of Kubernetes writes, shared by the REST handlers and the simulated controllers:
//! server-set metadata (uid, resourceVersion, generation, timestamps), the split between an
//! object and its /status, optimistic concurrency, finalizers and graceful deletion, dry runs.
//! The store below only versions bytes; this module is what makes them Kubernetes objects.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::codec::FieldValidation;
use crate::resources::{Registry, ResourceType};
use crate::status::{ApiError, ApiResult};
use crate::store::{Listing, Store, StoreError};
use crate::{codec, defaults, validate};

/// Whether a write records ownership itself (server-side apply) or is an Update whose changed
/// fields go to its manager.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Operation {
    #[default]
    Update,
    Apply,
}

/// Who is writing and how: the parts of a request that change how a write is carried out.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    pub operation: Operation,
    /// `dryRun=All`: run every check and return the result without storing it.
    pub dry_run: bool,
    /// The field manager recorded in managedFields.
    pub manager: String,
    /// Server-side apply's `force`.
    pub force: bool,
    /// A client's write is decoded as its kind's type (`codec`), with this `fieldValidation`;
    /// `None` for the cluster's own controllers, whose writes need no checking.
    pub field_validation: Option<FieldValidation>,
}

impl WriteOptions {
    pub fn manager(name: &str) -> Self {
        Self {
            manager: name.to_string(),
            ..Self::default()
        }
    }
}

/// How dependents are treated when their owner is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

#[derive(Clone, Debug)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Propagation,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
}

impl Default for DeleteOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            propagation: Propagation::Background,
            resource_version: None,
            uid: None,
        }
    }
}

/// The finalizer the garbage collector owns during foreground deletion.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer the garbage collector owns during orphaning deletion.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// The object API of the cluster: one implementation for HTTP requests and controllers alike.
pub struct Objects {
    pub registry: Registry,
    pub store: Store,
}

/// RFC 3339 with second precision, as metav1.Time serialises.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn namespace_of(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// Drops `null` values: the apiserver decodes writes into typed structs, where an explicit null
/// is the same as an absent field (clients such as kubectl send `creationTimestamp: null`).
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// A write whose object, once its content is normalised (a Secret's `stringData` folded into
/// `data`), is the live object again keeps the live managedFields: the field manager moved its
/// entry's `time` because it compared the object before the fold (with `stringData`) against the
/// stored one (without), but the apiserver moves it only when the object changed, so that
/// re-applying the same Secret is a no-op.
fn keep_times_when_unchanged(live: &Value, next: &mut Value) {
    let without_times = |object: &Value| {
        let mut object = object.clone();
        if let Some(entries) = object["metadata"]["managedFields"].as_array_mut() {
            for entry in entries {
                if let Some(entry) = entry.as_object_mut() {
                    entry.remove("time");
                }
            }
        }
        object
    };
    if without_times(live) == without_times(next) {
        next["metadata"]["managedFields"] = live["metadata"]["managedFields"].clone();
    }
}

fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

/// Whether the resource keeps `metadata.generation` (the spec's version): every kind outside the
/// core group that has a status subresource, and all custom resources.
fn tracks_generation(rt: &ResourceType) -> bool {
    rt.schema.is_some() || (!rt.group.is_empty() && rt.status_subresource)
}

/// Whether a write changes the parts whose changes bump the generation (all but metadata, and
/// but status where it is a subresource). Compared in place: every write asks.
fn spec_changed(rt: &ResourceType, live: &Value, next: &Value) -> bool {
    let counts = |key: &str| key != "metadata" && !(rt.status_subresource && key == "status");
    match (live.as_object(), next.as_object()) {
        (Some(live), Some(next)) => {
            live.keys().filter(|k| counts(k)).count() != next.keys().filter(|k| counts(k)).count()
                || live
                    .iter()
                    .filter(|(k, _)| counts(k))
                    .any(|(k, v)| next.get(k) != Some(v))
        }
        _ => live != next,
    }
}

fn store_error(rt: &ResourceType, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found(rt, name),
        StoreError::AlreadyExists => ApiError::already_exists(rt, name),
        StoreError::Conflict => ApiError::conflict(rt, name),
        StoreError::Persist(msg) => ApiError::internal(format!("storing {name}: {msg}")),
    }
}

/// What a controller's status write of `live` sends: its name and `status`, all that a status
/// write takes (the rest is the live object's), so that the object is not copied to say it.
pub(crate) fn status_write(live: &Value, status: Value) -> Value {
    json!({"metadata": {"name": name_of(live)}, "status": status})
}

/// Optimistic concurrency: a resourceVersion in what a client writes (a replace, a patch or an
/// apply that carries one) must be the stored one, or the write is a 409 Conflict, as the
/// apiserver's storage checks it. Without one, the write is unconditional.
pub(crate) fn expect_resource_version(
    rt: &ResourceType,
    name: &str,
    written: &Value,
    live: &Value,
) -> ApiResult<()> {
    match written["metadata"]["resourceVersion"].as_str() {
        Some(expected)
            if !expected.is_empty()
                && live["metadata"]["resourceVersion"].as_str() != Some(expected) =>
        {
            Err(ApiError::conflict(rt, name))
        }
        _ => Ok(()),
    }
}

impl Objects {
    pub fn new(registry: Registry, store: Store) -> Self {
        Self { registry, store }
    }

    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> ApiResult<Arc<Value>> {
        self.store
            .get(&rt.group_resource(), namespace, name)
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    pub fn list(&self, rt: &ResourceType, namespace: Option<&str>) -> Listing {
        self.store.list(&rt.group_resource(), namespace)
    }

    /// Creates an object (POST). `generateName` is honoured; status is reset for kinds whose
    /// status is a subresource, as the apiserver's create strategies do.
    pub fn create(
        &self,
        rt: &ResourceType,
        namespace: &str,
        mut object: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        if object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
            && let Some(prefix) = object["metadata"]["generateName"].as_str()
        {
            let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].to_string();
            object["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
        }
        let url_ns = rt.namespaced.then_some(namespace);
        validate::validate_object(rt, url_ns, &object)?;
        if rt.namespaced && namespace != "default" && !namespace.is_empty() {
            self.require_namespace(namespace)?;
        }
        drop_nulls(&mut object);
        validate::normalize_content(rt, &mut object)?;
        if let Some(validation) = opts.field_validation {
            codec::decode(rt, &mut object, validation)?;
            validate::validate_workload(rt, &object)?;
        }
        defaults::apply_defaults(rt, &mut object);
        let name = name_of(&object).to_string();
        let now = now();
        {
            let meta = metadata_mut(&mut object);
            if rt.namespaced {
                meta.insert("namespace".into(), json!(namespace));
            } else {
                meta.remove("namespace");
            }
            meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            meta.insert("creationTimestamp".into(), json!(now));
            meta.remove("deletionTimestamp");
            meta.remove("deletionGracePeriodSeconds");
            meta.remove("resourceVersion");
            if tracks_generation(rt) {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
        }
        defaults::apply_create_defaults(rt, &mut object);
        if rt.status_subresource {
            // Status is written through /status: the apiserver's create strategies drop the status
            // a client sends for every kind that has the subresource, custom resources included,
            // except Nodes; a Namespace starts Active and a Pod Pending with its QoS class.
            match (rt.group.as_str(), rt.kind.as_str()) {
                ("", "Node") => {}
                ("", "Namespace") => object["status"] = json!({"phase": "Active"}),
                ("", "Pod") => {
                    let containers = object["spec"]["containers"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    object["status"] = json!({
                        "phase": "Pending",
                        "qosClass": crate::controllers::kubelet::qos_class(&containers),
                    });
                }
                _ => {
                    object.as_object_mut().expect("object").remove("status");
                }
            }
        }
        if opts.operation == Operation::Update {
            crate::field_manager::record_update(rt, None, &mut object, &opts.manager, None, &now);
        }
        let ns = if rt.namespaced { namespace } else { "" };
        if opts.dry_run {
            if self.store.get(&rt.group_resource(), ns, &name).is_some() {
                return Err(ApiError::already_exists(rt, &name));
            }
            return Ok(Arc::new(object));
        }
        self.store
            .create(&rt.group_resource(), ns, &name, |rv| {
                object["metadata"]["resourceVersion"] = json!(rv.to_string());
                object
            })
            .map_err(|e| store_error(rt, &name, e))
    }

    fn require_namespace(&self, namespace: &str) -> ApiResult<()> {
        let ns_type = self
            .registry
            .by_plural("", "v1", "namespaces")
            .expect("namespaces are built in");
        match self.store.get(&ns_type.group_resource(), "", namespace) {
            None => Err(ApiError::not_found(&ns_type, namespace)),
            Some(ns) if ns["metadata"]["deletionTimestamp"].is_string() => Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Replaces an object (PUT), or its status with `subresource = Some("status")`.
    /// A resourceVersion in the body must match the stored one (optimistic concurrency).
    pub fn replace(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        object: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        validate::validate_object(rt, rt.namespaced.then_some(namespace), &object)?;
        if name_of(&object) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&object)
            )));
        }
        self.modify(rt, namespace, name, subresource, opts, move |live| {
            expect_resource_version(rt, name, &object, live)?;
            Ok(object)
        })
    }

    /// The one path for every change to an existing object: `change` maps the live object to the
    /// desired one (a PUT body, a patched copy, an applied configuration); this function then
    /// enforces what the client may not change, keeps status or spec aside as the subresource
    /// demands, bumps the generation, records field ownership, and completes deletions whose last
    /// finalizer went away.
    pub fn modify(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        opts: &WriteOptions,
        change: impl FnOnce(&Value) -> ApiResult<Value>,
    ) -> ApiResult<Arc<Value>> {
        let ns = if rt.namespaced { namespace } else { "" };
        let gr = rt.group_resource();
        let mut dry_result: Option<Value> = None;
        let mut finished_deletion = false;
        let written = self
            .store
            .update(&gr, ns, name, |live, rv| -> ApiResult<Option<Value>> {
                let desired = change(live)?;
                let mut next = self.merge_write(rt, live, desired, subresource)?;
                drop_nulls(&mut next);
                if subresource.is_none() {
                    let folds = next.get("stringData").is_some();
                    validate::normalize_content(rt, &mut next)?;
                    if folds {
                        keep_times_when_unchanged(live, &mut next);
                    }
                }
                if let Some(validation) = opts.field_validation {
                    // A patch is held to what a create or replace is (names, labels).
                    validate::validate_object(rt, rt.namespaced.then_some(namespace), &next)?;
                    codec::decode(rt, &mut next, validation)?;
                    validate::validate_workload(rt, &next)?;
                }
                defaults::apply_defaults(rt, &mut next);
                if opts.field_validation.is_some() && subresource.is_none() {
                    validate::validate_update(rt, live, &next)?;
                }
                if tracks_generation(rt) && spec_changed(rt, live, &next) {
                    let generation = live["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                    next["metadata"]["generation"] = json!(generation);
                }
                let now = now();
                if opts.operation == Operation::Update {
                    crate::field_manager::record_update(
                        rt,
                        Some(live),
                        &mut next,
                        &opts.manager,
                        subresource,
                        &now,
                    );
                }
                // Unchanged object: no new resourceVersion, no event (as the apiserver skips no-op writes).
                next["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
                if next == *live {
                    if opts.dry_run {
                        dry_result = Some(next);
                    }
                    return Ok(None);
                }
                next["metadata"]["resourceVersion"] = json!(rv.to_string());
                let deleting = next["metadata"]["deletionTimestamp"].is_string();
                let finalizers_left = next["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty());
                if opts.dry_run {
                    // Nothing is stored, so the object keeps the stored resourceVersion, as the
                    // apiserver's dry-run responses do.
                    next["metadata"]["resourceVersion"] =
                        live["metadata"]["resourceVersion"].clone();
                    dry_result = Some(next);
                    return Ok(None);
                }
                if deleting && !finalizers_left {
                    finished_deletion = true;
                    return Ok(None);
                }
                Ok(Some(next))
            })?;
        if let Some(result) = dry_result {
            return Ok(Arc::new(result));
        }
        if finished_deletion {
            return self
                .store
                .delete(&gr, ns, name, |last, rv| {
                    let mut last = last.clone();
                    last["metadata"]["resourceVersion"] = json!(rv.to_string());
                    last["metadata"]["finalizers"] = json!([]);
                    last
                })
                .map_err(|e| store_error(rt, name, e));
        }
        written.map_err(|e| store_error(rt, name, e))
    }

    /// Combines the live object and the client's desired state into what will be stored.
    fn merge_write(
        &self,
        rt: &ResourceType,
        live: &Value,
        desired: Value,
        subresource: Option<&str>,
    ) -> ApiResult<Value> {
        if !desired.is_object() {
            return Err(ApiError::bad_request("the request body must be an object"));
        }
        let name = name_of(live);
        if name_of(&desired) != name {
            return Err(ApiError::invalid(
                &rt.group,
                &rt.kind,
                name,
                vec![crate::status::Cause {
                    reason: "FieldValueInvalid",
                    field: "metadata.name".into(),
                    message: format!("Invalid value: {:?}: field is immutable", name_of(&desired)),
                }],
            ));
        }
        let mut next = match subresource {
            Some("status") => {
                // A status write changes status only.
                let mut desired = desired;
                let status = desired.as_object_mut().and_then(|d| d.remove("status"));
                let mut next = live.clone();
                match status {
                    Some(status) => next["status"] = status,
                    None => {
                        next.as_object_mut().expect("object").remove("status");
                    }
                }
                return Ok(next);
            }
            _ => desired,
        };
        if rt.status_subresource {
            // A write to the main resource leaves status as it was.
            match live.get("status") {
                Some(status) => next["status"] = status.clone(),
                None => {
                    next.as_object_mut().expect("object").remove("status");
                }
            }
        }
        // Fields only the server sets.
        let live_meta = &live["metadata"];
        let meta = metadata_mut(&mut next);
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
        ] {
            match live_meta.get(field) {
                Some(v) => meta.insert(field.to_string(), v.clone()),
                None => meta.remove(field),
            };
        }
        if meta.get("managedFields").is_none()
            && let Some(m) = live_meta.get("managedFields")
        {
            meta.insert("managedFields".into(), m.clone());
        }
        next["apiVersion"] = json!(rt.api_version());
        next["kind"] = json!(rt.kind);
        // Finalizers may only be removed, never added, once deletion has started.
        if live_meta["deletionTimestamp"].is_string() {
            let live_f: Vec<&Value> = live_meta["finalizers"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            if let Some(new_f) = next["metadata"]["finalizers"].as_array()
                && new_f.iter().any(|f| !live_f.contains(&f))
            {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "{} \"{name}\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted",
                        rt.qualified_kind()
                    ),
                ));
            }
        }
        Ok(next)
    }

    /// Deletes an object. With finalizers (or foreground/orphan propagation, which add the garbage
    /// collector's own), the object only gets its deletionTimestamp and stays until they are gone.
    pub fn delete(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<Arc<Value>> {
        let ns = if rt.namespaced { namespace } else { "" };
        let gr = rt.group_resource();
        let live = self.get(rt, ns, name)?;
        if let Some(rv) = &opts.resource_version
            && live["metadata"]["resourceVersion"].as_str() != Some(rv.as_str())
        {
            return Err(ApiError::conflict(rt, name));
        }
        if let Some(uid) = &opts.uid
            && live["metadata"]["uid"].as_str() != Some(uid.as_str())
        {
            return Err(ApiError::conflict(rt, name));
        }
        let mut finalizers: Vec<Value> = live["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let gc_finalizer = match opts.propagation {
            Propagation::Foreground => Some(FOREGROUND_FINALIZER),
            Propagation::Orphan => Some(ORPHAN_FINALIZER),
            Propagation::Background => None,
        };
        // Namespaces always terminate through the namespace controller.
        let is_namespace = rt.group.is_empty() && rt.kind == "Namespace";
        if let Some(f) = gc_finalizer
            && !finalizers.contains(&json!(f))
        {
            finalizers.push(json!(f));
        }
        if finalizers.is_empty() && !is_namespace {
            if opts.dry_run {
                return Ok(live);
            }
            return self
                .store
                .delete(&gr, ns, name, |last, rv| {
                    let mut last = last.clone();
                    last["metadata"]["resourceVersion"] = json!(rv.to_string());
                    last
                })
                .map_err(|e| store_error(rt, name, e));
        }
        // Graceful: mark for deletion and leave the rest to finalizers' owners.
        let write = WriteOptions {
            dry_run: opts.dry_run,
            ..WriteOptions::default()
        };
        let now = now();
        let mut dry_result: Option<Value> = None;
        let result = self
            .store
            .update(&gr, ns, name, |live, rv| -> ApiResult<Option<Value>> {
                if live["metadata"]["deletionTimestamp"].is_string() && gc_finalizer.is_none() {
                    return Ok(None);
                }
                let mut next = live.clone();
                if !next["metadata"]["deletionTimestamp"].is_string() {
                    next["metadata"]["deletionTimestamp"] = json!(now);
                    next["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                    if tracks_generation(rt) {
                        let generation = live["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                        next["metadata"]["generation"] = json!(generation);
                    }
                }
                next["metadata"]["finalizers"] = json!(finalizers);
                if is_namespace {
                    next["status"]["phase"] = json!("Terminating");
                }
                if write.dry_run {
                    // The object as the deletion would leave it, under its stored resourceVersion.
                    dry_result = Some(next);
                    return Ok(None);
                }
                next["metadata"]["resourceVersion"] = json!(rv.to_string());
                Ok(Some(next))
            })?;
        if let Some(would_be) = dry_result {
            return Ok(Arc::new(would_be));
        }
        result.map_err(|e| store_error(rt, name, e))
    }

    /// The type of a stored object, by its apiVersion/kind.
    pub fn type_of(&self, object: &Value) -> Option<ResourceType> {
        self.registry.by_kind(
            object["apiVersion"].as_str().unwrap_or_default(),
            object["kind"].as_str().unwrap_or_default(),
        )
    }
}
