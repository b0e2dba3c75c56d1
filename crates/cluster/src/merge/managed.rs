//! Field ownership: `metadata.managedFields`, server-side apply and the bookkeeping of other writes,
//! after structured-merge-diff's `merge.Updater` and the apiserver's field manager stack.
//!
//! The object's `metadata.managedFields` is the only record of ownership: every function here
//! parses it from the objects it is given and writes it back into the object it returns.
//!
//! - [`apply`]: server-side apply. Merges the applied configuration into the live object, reports
//!   conflicts with other managers (or takes the fields over with `force`), removes the fields the
//!   applier stopped applying when nobody else owns them, and records an `Apply` entry.
//! - [`record_update`]: every other write (create, update, JSON / merge / strategic patch). The
//!   writer gets an `Update` entry owning what it changed, and those fields leave other managers'
//!   sets; there are no conflicts.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

use super::fieldpath::{FieldPath, FieldSet, FieldsV1Error, PathElement};
use super::schema::Schema;
use super::structured::{self, StructureError};

/// The manager that the apiserver credits with the fields of an object that had no managedFields
/// when it was first applied to.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// The manager into which the apiserver folds the oldest `Update` entries once there are more than
/// [`MAX_UPDATE_MANAGERS`] of them.
pub const ANCIENT_CHANGES: &str = "ancient-changes";

/// How many `Update` entries an object keeps (`DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The longest manager name the apiserver accepts (`FieldManagerMaxLength`).
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// The operation of a managedFields entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedFieldsEntry {
    /// The field manager's name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: Operation,
    /// The apiVersion of the object as the manager wrote it.
    pub api_version: String,
    /// When the manager last changed the object (RFC 3339), if ever recorded.
    pub time: Option<String>,
    /// `status` (or another subresource) when the writes went through it.
    pub subresource: Option<String>,
    /// The fields the manager owns.
    pub fields: FieldSet,
}

impl ManagedFieldsEntry {
    /// Two entries are the same manager when name, operation and subresource match, and — for
    /// `Update` only — the apiVersion too (appliers keep one entry across versions).
    fn same_manager(&self, other: &ManagedFieldsEntry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// How the apiserver names this manager in conflict messages (`printManager`):
    /// `"mgr"`, `"mgr" with subresource "status"`, and ` using <apiVersion>` for updaters.
    pub fn display_name(&self) -> String {
        let mut name = quote(&self.manager);
        if let Some(subresource) = &self.subresource {
            name.push_str(&format!(" with subresource {}", quote(subresource)));
        }
        if self.operation == Operation::Update {
            name.push_str(&format!(" using {}", self.api_version));
        }
        name
    }

    fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("manager".into(), Value::String(self.manager.clone()));
        entry.insert(
            "operation".into(),
            Value::String(self.operation.as_str().into()),
        );
        entry.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            entry.insert("time".into(), Value::String(time.clone()));
        }
        entry.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        entry.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(subresource) = &self.subresource {
            entry.insert("subresource".into(), Value::String(subresource.clone()));
        }
        Value::Object(entry)
    }

    fn from_json(entry: &Value) -> Result<ManagedFieldsEntry, ManagedFieldsError> {
        let text = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_string);
        let operation = match text("operation").as_deref() {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => {
                return Err(ManagedFieldsError::Invalid(format!(
                    "invalid operation {other:?}"
                )));
            }
        };
        if let Some(fields_type) = text("fieldsType")
            && fields_type != "FieldsV1"
        {
            return Err(ManagedFieldsError::Invalid(format!(
                "unsupported fieldsType {fields_type:?}"
            )));
        }
        let fields = match entry.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(doc) => FieldSet::from_fields_v1(doc)?,
        };
        Ok(ManagedFieldsEntry {
            manager: text("manager").unwrap_or_default(),
            operation,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            fields,
        })
    }
}

fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A malformed `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagedFieldsError {
    /// An entry's fieldsV1 does not parse.
    #[error(transparent)]
    FieldsV1(#[from] FieldsV1Error),
    /// An entry is not well formed.
    #[error("invalid managedFields entry: {0}")]
    Invalid(String),
}

/// The managedFields entries of an object (none when it has no `metadata.managedFields`).
pub fn decode_managed_fields(
    object: &Value,
) -> Result<Vec<ManagedFieldsEntry>, ManagedFieldsError> {
    decode_entries(object.pointer("/metadata/managedFields"))
}

/// The entries of a `metadata.managedFields` value.
fn decode_entries(
    managed_fields: Option<&Value>,
) -> Result<Vec<ManagedFieldsEntry>, ManagedFieldsError> {
    match managed_fields {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(entries)) => entries.iter().map(ManagedFieldsEntry::from_json).collect(),
        Some(_) => Err(ManagedFieldsError::Invalid(
            "metadata.managedFields is not a list".into(),
        )),
    }
}

/// Writes `entries` into `object.metadata.managedFields`, dropping managers that own nothing and
/// sorting like the apiserver (operation, then time, manager, apiVersion, subresource). With no
/// entries left, the field is removed.
pub fn encode_managed_fields(object: &mut Value, entries: &[ManagedFieldsEntry]) {
    encode_entries(object, entries.iter().map(|e| (e, None)).collect());
}

/// [`encode_managed_fields`] of entries that may come with their stored JSON (`Some` when the
/// entry is as stored), which is then written again as it is instead of being encoded anew.
fn encode_entries(object: &mut Value, entries: Vec<(&ManagedFieldsEntry, Option<Value>)>) {
    let mut entries: Vec<(&ManagedFieldsEntry, Option<Value>)> = entries
        .into_iter()
        .filter(|(e, _)| !e.fields.is_empty())
        .collect();
    entries.sort_by(|(a, _), (b, _)| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| compare_times(a.time.as_deref(), b.time.as_deref()))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let Some(metadata) = object.as_object_mut().map(|o| {
        o.entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()))
    }) else {
        return;
    };
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        metadata.insert(
            "managedFields".into(),
            Value::Array(
                entries
                    .into_iter()
                    .map(|(e, stored)| stored.unwrap_or_else(|| e.to_json()))
                    .collect(),
            ),
        );
    }
}

/// Go compares whole seconds, with a missing time counting as 0. RFC 3339 times in UTC with the
/// same layout order as text.
fn compare_times(a: Option<&str>, b: Option<&str>) -> Ordering {
    fn seconds(t: Option<&str>) -> Option<&str> {
        t.map(|t| t.get(..19).unwrap_or(t))
    }
    seconds(a).cmp(&seconds(b))
}

/// The field manager name of a request without `fieldManager`: the User-Agent up to its first '/',
/// without unprintable characters, cut at 128 bytes (`prefixFromUserAgent`). `kubectl/v1.33.0
/// (linux/amd64) kubernetes/abc` gives `kubectl`.
pub fn default_manager(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        out.push(c);
    }
    out
}

/// Paths that no manager ever owns (`stripMetaManager`): identity and server-set metadata.
fn stripped_fields() -> &'static FieldSet {
    static STRIPPED: std::sync::LazyLock<FieldSet> = std::sync::LazyLock::new(stripped_field_set);
    &STRIPPED
}

fn stripped_field_set() -> FieldSet {
    let mut set = FieldSet::new();
    for path in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ] {
        set.insert(&FieldPath::fields(path));
    }
    set
}

/// The fields a write through `subresource` may not change and does not own (the strategies'
/// `GetResetFields`): through the main resource of a kind with a status subresource, `status`;
/// through `status`, everything but `status` and the metadata a status write may set.
///
/// Pass the result as `reset_fields` of [`ApplyOptions`] / [`UpdateOptions`].
pub fn reset_fields(subresource: Option<&str>, has_status_subresource: bool) -> Vec<FieldPath> {
    match subresource {
        Some("status") => {
            let mut paths = vec![FieldPath::fields(&["spec"])];
            // `ResetObjectMetaForStatus`.
            for field in [
                "labels",
                "annotations",
                "finalizers",
                "ownerReferences",
                "deletionTimestamp",
                "generation",
            ] {
                paths.push(FieldPath::fields(&["metadata", field]));
            }
            paths
        }
        None if has_status_subresource => vec![FieldPath::fields(&["status"])],
        _ => Vec::new(),
    }
}

fn path_set(paths: &[FieldPath]) -> FieldSet {
    let mut set = FieldSet::new();
    paths.iter().for_each(|p| set.insert(p));
    set
}

/// Puts back, in `object`, the values that `reference` has at `paths` (or removes them when
/// `reference` has none): a write may not change reset fields.
fn restore_paths(object: &mut Value, reference: &Value, paths: &[FieldPath]) {
    for path in paths {
        let names: Vec<&str> = path
            .0
            .iter()
            .filter_map(|pe| match pe {
                PathElement::Field(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let original = names
            .iter()
            .try_fold(reference, |v, name| v.get(*name))
            .cloned();
        match original {
            Some(value) => set_path(object, &names, value),
            None => remove_path(object, &names),
        }
    }
}

fn set_path(object: &mut Value, names: &[&str], value: Value) {
    let Some((first, rest)) = names.split_first() else {
        *object = value;
        return;
    };
    if let Some(map) = object.as_object_mut() {
        let child = map
            .entry(first.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        set_path(child, rest, value);
    }
}

fn remove_path(object: &mut Value, names: &[&str]) {
    match names {
        [] => {}
        [last] => {
            if let Some(map) = object.as_object_mut() {
                map.remove(*last);
            }
        }
        [first, rest @ ..] => {
            if let Some(child) = object.get_mut(*first) {
                remove_path(child, rest);
            }
        }
    }
}

/// A field that an apply would change while another manager owns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owner, as the apiserver prints it: `"mgr"` or `"mgr" using apps/v1`.
    pub manager: String,
    /// The field.
    pub path: FieldPath,
}

impl Conflict {
    /// The field in the apiserver's format (`.spec.replicas`), for `details.causes[].field`.
    pub fn field(&self) -> String {
        self.path.to_string()
    }

    /// `conflict with "mgr" using apps/v1`, for `details.causes[].message`.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager)
    }

    /// The `details.causes[]` entry of the 409 Status (Go's `StatusCause.Type` is serialised as `reason`):
    /// `{"reason": "FieldManagerConflict", "message": "conflict with …", "field": ".spec.replicas"}`.
    pub fn status_cause(&self) -> Value {
        serde_json::json!({
            "reason": "FieldManagerConflict",
            "message": self.cause_message(),
            "field": self.field(),
        })
    }
}

/// The conflicts of a rejected apply (HTTP 409, reason `Conflict`, causes of type
/// `FieldManagerConflict`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

impl Conflicts {
    /// The status message, worded like the apiserver's:
    /// `Apply failed with 1 conflict: conflict with "mgr" using apps/v1: .spec.replicas`, or for
    /// several, `Apply failed with 2 conflicts: conflicts with "mgr":\n- .a\n- .b` grouped by
    /// manager in name order.
    pub fn message(&self) -> String {
        if let [only] = &self.0[..] {
            return format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                only.manager, only.path
            );
        }
        let mut managers: Vec<&str> = self.0.iter().map(|c| c.manager.as_str()).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for conflict in self.0.iter().filter(|c| c.manager == manager) {
                lines.push(format!("- {}", conflict.path));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            self.0.len(),
            lines.join("\n")
        )
    }
}

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change (409 Conflict).
    #[error("{0}")]
    Conflicts(Conflicts),
    /// The applied configuration or the live object is malformed (400 / 422).
    #[error("{0}")]
    Invalid(String),
}

impl From<StructureError> for ApplyError {
    fn from(e: StructureError) -> Self {
        ApplyError::Invalid(e.to_string())
    }
}

impl From<ManagedFieldsError> for ApplyError {
    fn from(e: ManagedFieldsError) -> Self {
        ApplyError::Invalid(format!("failed to decode managed fields: {e}"))
    }
}

/// The parameters of a server-side apply request.
#[derive(Clone, Debug)]
pub struct ApplyOptions<'a> {
    /// `fieldManager` (required for apply).
    pub manager: &'a str,
    /// `force=true`: take over conflicting fields instead of failing.
    pub force: bool,
    /// `Some("status")` for the status subresource.
    pub subresource: Option<&'a str>,
    /// The current time, RFC 3339 (`2024-01-01T00:00:00Z`).
    pub now: &'a str,
    /// Fields this write may not change and does not own (see [`reset_fields`]).
    pub reset_fields: &'a [FieldPath],
}

/// The result of a write: the object to store and whether it differs from the live one at all (an
/// identical apply need not bump `resourceVersion`).
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The new object, with its `metadata.managedFields`.
    pub object: Value,
    /// Whether `object` differs from the live object (managedFields included).
    pub changed: bool,
}

/// The object with `metadata.managedFields` removed: ownership is not part of the content.
fn without_managed_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    object
}

/// Removes `null` values from objects: the apiserver decodes objects into Go structs, where an
/// explicit null is the same as an absent field.
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

/// Server-side apply of `applied` (a full object: apiVersion, kind, metadata.name, …) by
/// `options.manager` onto `live` (`None` to create).
///
/// Fails with [`ApplyError::Conflicts`] when a field whose value would change is owned by another
/// manager, unless `force`. The result has the applied configuration merged in, the fields the
/// manager applied before but not now removed unless someone else owns them, and the manager's
/// `Apply` entry in `metadata.managedFields`.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    options: &ApplyOptions<'_>,
    schema: &Schema,
) -> Result<Written, ApplyError> {
    let Some(applied_map) = applied.as_object() else {
        return Err(ApplyError::Invalid(
            "the applied object must be a JSON object".into(),
        ));
    };
    let api_version = applied_map
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApplyError::Invalid("apiVersion must be set".into()))?;
    if applied_map
        .get("kind")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(ApplyError::Invalid("kind must be set".into()));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApplyError::Invalid(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let root = schema.root();
    let live_object = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    let mut managers = decode_managed_fields(&live_object)?;
    let live_content = without_managed_fields(&live_object);

    // An object that was never tracked: its current fields belong to "before-first-apply", so that
    // applying over them is a conflict like any other.
    if live.is_some() && managers.is_empty() {
        let empty = Value::Object(Map::new());
        let comparison = structured::compare(&empty, &live_content, root)?;
        let fields = comparison.changed().difference(stripped_fields());
        managers.push(ManagedFieldsEntry {
            manager: BEFORE_FIRST_APPLY.into(),
            operation: Operation::Update,
            api_version: live_content
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or(api_version)
                .to_string(),
            time: None,
            subresource: options.subresource.map(str::to_string),
            fields,
        });
    }

    let me = ManagedFieldsEntry {
        manager: options.manager.to_string(),
        operation: Operation::Apply,
        api_version: api_version.to_string(),
        time: None,
        subresource: options.subresource.map(str::to_string),
        fields: FieldSet::new(),
    };
    let previous = managers.iter().position(|e| e.same_manager(&me));
    let last_applied = previous
        .map(|i| managers[i].fields.clone())
        .unwrap_or_default();
    let previous_time = previous.and_then(|i| managers[i].time.clone());

    let reset = path_set(options.reset_fields);
    let applied_set = structured::field_set(applied, root)?
        .difference(stripped_fields())
        .recursive_difference(&reset);

    let mut merged = structured::merge(&live_content, applied, root)?;
    drop_nulls(&mut merged);

    // The applier's new set replaces its old one; fields it applied before and no longer applies
    // go away unless another manager owns them.
    let mut others: Vec<ManagedFieldsEntry> = managers
        .into_iter()
        .filter(|e| !e.same_manager(&me))
        .collect();
    if !last_applied.is_empty() {
        let owned = others
            .iter()
            .fold(applied_set.clone(), |acc, e| acc.union(&e.fields))
            .with_field_ancestors();
        let orphaned = last_applied
            .with_field_ancestors()
            .difference(&owned)
            .recursive_difference(&reset);
        merged = structured::remove_items(&merged, &orphaned, root);
    }
    restore_paths(&mut merged, &live_content, options.reset_fields);

    // Conflicts: fields another manager owns whose value this apply changes.
    let comparison = structured::compare(&live_content, &merged, root)?.without(&reset);
    let changed = comparison.changed();
    let mut conflicts = Vec::new();
    for other in &others {
        for path in other.fields.intersection(&changed).paths() {
            conflicts.push(Conflict {
                manager: other.display_name(),
                path,
            });
        }
    }
    if !conflicts.is_empty() && !options.force {
        conflicts.sort_by(|a, b| a.manager.cmp(&b.manager).then_with(|| a.path.cmp(&b.path)));
        return Err(ApplyError::Conflicts(Conflicts(conflicts)));
    }
    // Forced (or no conflict): changed fields move to the applier, removed ones leave everyone.
    for other in &mut others {
        other.fields = other
            .fields
            .difference(&changed)
            .difference(&comparison.removed);
    }

    let content_changed = merged != live_content;
    let mut entries = others;
    entries.push(ManagedFieldsEntry {
        // The entry's time moves only when the object changed (`managedFieldsUpdater`).
        time: if content_changed {
            Some(options.now.to_string())
        } else {
            previous_time
        },
        fields: applied_set,
        ..me
    });
    encode_managed_fields(&mut merged, &entries);
    let changed = live.is_none() || merged != live_object;
    Ok(Written {
        object: merged,
        changed,
    })
}

/// The parameters of a non-apply write.
#[derive(Clone, Debug)]
pub struct UpdateOptions<'a> {
    /// `fieldManager`, or [`default_manager`] of the User-Agent.
    pub manager: &'a str,
    /// `Some("status")` for the status subresource.
    pub subresource: Option<&'a str>,
    /// The current time, RFC 3339.
    pub now: &'a str,
    /// Fields this write may not change and does not own (see [`reset_fields`]).
    pub reset_fields: &'a [FieldPath],
}

/// Records a non-apply write (create when `old` is `None`, update, any patch) of `new` by
/// `options.manager`, returning `new` with its `metadata.managedFields` updated: the manager's
/// `Update` entry gains every field the write added or changed, and those fields, as well as the
/// removed ones, leave the other managers' sets.
///
/// As in the apiserver, a client may rewrite `metadata.managedFields` itself: when `new` carries a
/// non-empty, valid list it is used instead of `old`'s (`[{}]` clears ownership).
pub fn record_update(
    old: Option<&Value>,
    new: &Value,
    options: &UpdateOptions<'_>,
    schema: &Schema,
) -> Result<Value, StructureError> {
    let mut new = new.clone();
    record_update_in_place(old, &mut new, options, schema)?;
    Ok(new)
}

/// [`record_update`] on `new` itself, which is left as it was on an error. Every write of the
/// cluster goes through here, so neither object is copied: `old`'s managedFields are skipped by
/// the comparison rather than removed from a copy.
pub fn record_update_in_place(
    old: Option<&Value>,
    new: &mut Value,
    options: &UpdateOptions<'_>,
    schema: &Schema,
) -> Result<(), StructureError> {
    let root = schema.root();
    let sent = new
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|metadata| metadata.remove("managedFields"));
    let stored = old.and_then(|o| o.pointer("/metadata/managedFields"));
    let (mut managers, source) = match decode_entries(sent.as_ref()) {
        Ok(entries) if !entries.is_empty() => (entries, sent.as_ref()),
        // A client that does not know managedFields must not wipe them; undecodable ones are
        // reset (the apiserver logs and drops them).
        _ => match stored.map(|s| decode_entries(Some(s))) {
            Some(Ok(entries)) => (entries, stored),
            _ => (Vec::new(), None),
        },
    };
    // The JSON of each entry as stored (what a writer that read the object sends back), to be
    // written again unless the entry changes: encoding every entry anew was most of the cost
    // of a kubelet's status write.
    let mut as_stored: Vec<Option<Value>> = match source {
        Some(Value::Array(raw)) if source == stored && raw.len() == managers.len() => {
            raw.iter().cloned().map(Some).collect()
        }
        _ => vec![None; managers.len()],
    };
    let empty = Value::Object(Map::new());
    let reset = path_set(options.reset_fields);
    let comparison = match structured::compare(old.unwrap_or(&empty), new, root) {
        Ok(comparison) => comparison.without(&reset),
        Err(e) => {
            if let (Some(sent), Some(metadata)) =
                (sent, new.get_mut("metadata").and_then(Value::as_object_mut))
            {
                metadata.insert("managedFields".into(), sent);
            }
            return Err(e);
        }
    };
    let changed = comparison.changed();
    for (entry, as_stored) in managers.iter_mut().zip(as_stored.iter_mut()) {
        let lost_changed = entry.fields.remove_all(&changed);
        let lost_removed = entry.fields.remove_all(&comparison.removed);
        if lost_changed || lost_removed {
            *as_stored = None;
        }
    }
    let taken = changed.difference(stripped_fields());
    if !taken.is_empty() {
        let api_version = new
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let me = ManagedFieldsEntry {
            manager: options.manager.to_string(),
            operation: Operation::Update,
            api_version,
            time: Some(options.now.to_string()),
            subresource: options.subresource.map(str::to_string),
            fields: FieldSet::new(),
        };
        match managers.iter().position(|e| e.same_manager(&me)) {
            Some(i) => {
                managers[i].fields = managers[i].fields.union(&taken);
                managers[i].time = me.time;
                as_stored[i] = None;
            }
            None => {
                managers.push(ManagedFieldsEntry {
                    fields: taken,
                    ..me
                });
                as_stored.push(None);
            }
        }
    }
    let updaters = managers
        .iter()
        .filter(|e| e.operation == Operation::Update && !e.fields.is_empty())
        .count();
    if updaters > MAX_UPDATE_MANAGERS {
        // Folding rewrites entries; encode them all.
        managers.retain(|e| !e.fields.is_empty());
        cap_update_managers(&mut managers);
        encode_managed_fields(new, &managers);
    } else {
        encode_entries(new, managers.iter().zip(as_stored).collect());
    }
    Ok(())
}

/// Keeps at most [`MAX_UPDATE_MANAGERS`] `Update` entries (`capManagersManager`): the oldest ones
/// are folded, per apiVersion, into an [`ANCIENT_CHANGES`] entry that takes the time of the last
/// entry folded into it.
fn cap_update_managers(managers: &mut Vec<ManagedFieldsEntry>) {
    let mut updaters: Vec<usize> = (0..managers.len())
        .filter(|&i| managers[i].operation == Operation::Update)
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|&a, &b| {
        compare_times(managers[a].time.as_deref(), managers[b].time.as_deref())
            .then_with(|| managers[a].manager.cmp(&managers[b].manager))
    });
    let mut remaining = updaters.len();
    // apiVersion → index of the first entry seen for it, which becomes the bucket.
    let mut buckets: Vec<(String, usize)> = Vec::new();
    let mut folded: Vec<usize> = Vec::new();
    for &i in &updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = managers[i].api_version.clone();
        match buckets.iter().find(|(v, _)| *v == version) {
            Some(&(_, bucket)) => {
                let (fields, time) = (managers[i].fields.clone(), managers[i].time.clone());
                let target = &mut managers[bucket];
                target.manager = ANCIENT_CHANGES.to_string();
                target.subresource = None;
                target.fields = target.fields.union(&fields);
                target.time = time;
                folded.push(i);
                remaining -= 1;
            }
            None => buckets.push((version, i)),
        }
    }
    let mut index = 0;
    managers.retain(|_| {
        let keep = !folded.contains(&index);
        index += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const T1: &str = "2024-01-01T00:00:00Z";
    const T2: &str = "2024-01-02T00:00:00Z";

    fn cm_schema() -> Schema {
        Schema::builtin("", "v1", "ConfigMap").unwrap()
    }

    fn deploy_schema() -> Schema {
        Schema::builtin("apps", "v1", "Deployment").unwrap()
    }

    fn apply_as(
        live: Option<&Value>,
        applied: &Value,
        manager: &str,
        force: bool,
        schema: &Schema,
        now: &str,
    ) -> Result<Written, ApplyError> {
        let options = ApplyOptions {
            manager,
            force,
            subresource: None,
            now,
            reset_fields: &[],
        };
        apply(live, applied, &options, schema)
    }

    fn update_as(old: Option<&Value>, new: &Value, manager: &str, schema: &Schema) -> Value {
        let options = UpdateOptions {
            manager,
            subresource: None,
            now: T1,
            reset_fields: &[],
        };
        record_update(old, new, &options, schema).unwrap()
    }

    fn entry<'a>(object: &'a Value, manager: &str) -> Option<&'a Value> {
        object["metadata"]["managedFields"]
            .as_array()?
            .iter()
            .find(|e| e["manager"] == json!(manager))
    }

    fn config_map(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
               "data": data})
    }

    // Creating by apply records one Apply entry, as in the SSA docs' ConfigMap example: no
    // f:metadata.f:name / f:namespace (stripped), no `.` on struct fields, `time` = now.
    #[test]
    fn create_by_apply_records_entry() {
        let written = apply_as(
            None,
            &config_map(json!({"key": "some value"})),
            "kubectl",
            false,
            &cm_schema(),
            T1,
        )
        .unwrap();
        assert!(written.changed);
        assert_eq!(
            written.object["metadata"]["managedFields"],
            json!([{
                "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T1,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}}
            }])
        );
        assert_eq!(written.object["data"], json!({"key": "some value"}));
    }

    // Applying the same configuration again changes nothing, not even the entry's time: the
    // server can skip the write and keep the resourceVersion.
    #[test]
    fn reapply_is_a_no_op() {
        let schema = cm_schema();
        let cm = config_map(json!({"key": "v"}));
        let first = apply_as(None, &cm, "kubectl", false, &schema, T1).unwrap();
        let second = apply_as(Some(&first.object), &cm, "kubectl", false, &schema, T2).unwrap();
        assert!(!second.changed);
        assert_eq!(second.object, first.object);
    }

    // Two appliers of different keys co-own the ConfigMap; applying the same value as another
    // manager shares ownership without a conflict; a different value is a conflict.
    #[test]
    fn two_managers_on_a_config_map() {
        let schema = cm_schema();
        let a = apply_as(
            None,
            &config_map(json!({"a": "1"})),
            "mgr-a",
            false,
            &schema,
            T1,
        )
        .unwrap()
        .object;
        let b_cfg = json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "test-cm"}, "data": {"b": "2"}});
        let ab = apply_as(Some(&a), &b_cfg, "mgr-b", false, &schema, T2)
            .unwrap()
            .object;
        assert_eq!(ab["data"], json!({"a": "1", "b": "2"}));
        assert_eq!(
            entry(&ab, "mgr-b").unwrap()["fieldsV1"],
            json!({"f:data": {"f:b": {}}})
        );

        let share = json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "test-cm"}, "data": {"a": "1", "b": "2"}});
        let shared = apply_as(Some(&ab), &share, "mgr-b", false, &schema, T2)
            .unwrap()
            .object;
        assert_eq!(
            entry(&shared, "mgr-b").unwrap()["fieldsV1"],
            json!({"f:data": {"f:a": {}, "f:b": {}}})
        );
        assert_eq!(
            entry(&shared, "mgr-a").unwrap()["fieldsV1"]["f:data"],
            json!({"f:a": {}})
        );

        let clash = json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "test-cm"}, "data": {"a": "other"}});
        let err = apply_as(Some(&ab), &clash, "mgr-b", false, &schema, T2).unwrap_err();
        let ApplyError::Conflicts(conflicts) = err else {
            panic!("expected conflicts")
        };
        assert_eq!(
            conflicts.message(),
            "Apply failed with 1 conflict: conflict with \"mgr-a\": .data.a"
        );
    }

    fn deployment(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web"},
               "spec": {"replicas": replicas}})
    }

    // A user who set replicas with client-side apply (an Update) owns it (`spec` itself is not
    // owned: the Go struct is always serialized, so it is never "added"); a server-side apply of
    // another value conflicts, named the way the apiserver names updaters ("… using apps/v1").
    // The 409's causes carry `conflict with "…" using apps/v1` and `.spec.replicas`.
    #[test]
    fn controller_and_user_on_replicas() {
        let schema = deploy_schema();
        let created = update_as(None, &deployment(3), "kubectl-client-side-apply", &schema);
        assert_eq!(
            entry(&created, "kubectl-client-side-apply").unwrap()["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}})
        );
        let err = apply_as(
            Some(&created),
            &deployment(5),
            "my-ctrl",
            false,
            &schema,
            T2,
        )
        .unwrap_err();
        let ApplyError::Conflicts(conflicts) = err else {
            panic!("expected conflicts")
        };
        assert_eq!(
            conflicts.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using \
             apps/v1: .spec.replicas"
        );
        assert_eq!(
            conflicts.0[0].cause_message(),
            "conflict with \"kubectl-client-side-apply\" using apps/v1"
        );
        assert_eq!(conflicts.0[0].field(), ".spec.replicas");

        // The same value is not a conflict: both own it.
        let same = apply_as(
            Some(&created),
            &deployment(3),
            "my-ctrl",
            false,
            &schema,
            T2,
        )
        .unwrap();
        assert!(entry(&same.object, "kubectl-client-side-apply").is_some());
        assert!(entry(&same.object, "my-ctrl").is_some());
    }

    // force=true takes ownership: the value changes and the old owner loses the field (and its
    // entry, now empty).
    #[test]
    fn force_takes_ownership() {
        let schema = deploy_schema();
        let created = update_as(None, &deployment(3), "kubectl-client-side-apply", &schema);
        let forced = apply_as(Some(&created), &deployment(5), "my-ctrl", true, &schema, T2)
            .unwrap()
            .object;
        assert_eq!(forced["spec"]["replicas"], json!(5));
        assert!(entry(&forced, "kubectl-client-side-apply").is_none());
        assert_eq!(
            entry(&forced, "my-ctrl").unwrap()["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}})
        );
    }

    // A field the applier stops applying is removed when nobody else owns it, and only dropped from
    // its set when another manager does.
    #[test]
    fn field_removal_when_a_manager_stops_applying() {
        let schema = cm_schema();
        let both = apply_as(
            None,
            &config_map(json!({"a": "1", "b": "2"})),
            "mgr-a",
            false,
            &schema,
            T1,
        )
        .unwrap()
        .object;
        let only_a = apply_as(
            Some(&both),
            &config_map(json!({"a": "1"})),
            "mgr-a",
            false,
            &schema,
            T2,
        )
        .unwrap()
        .object;
        assert_eq!(only_a["data"], json!({"a": "1"}));

        // mgr-b also applies b; when mgr-a drops it, b stays and belongs to mgr-b alone.
        let b_cfg = json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "test-cm"}, "data": {"b": "2"}});
        let shared = apply_as(Some(&both), &b_cfg, "mgr-b", false, &schema, T2)
            .unwrap()
            .object;
        let dropped = apply_as(
            Some(&shared),
            &config_map(json!({"a": "1"})),
            "mgr-a",
            false,
            &schema,
            T2,
        )
        .unwrap()
        .object;
        assert_eq!(dropped["data"], json!({"a": "1", "b": "2"}));
        assert_eq!(
            entry(&dropped, "mgr-a").unwrap()["fieldsV1"]["f:data"],
            json!({"f:a": {}})
        );
    }

    fn with_containers(containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"template": {"spec": {"containers": containers}}}})
    }

    // Containers are a list-map keyed by name: two appliers each own their container; when one
    // stops applying its container, that container is removed and the other's stays.
    #[test]
    fn list_map_merge_of_containers() {
        let schema = deploy_schema();
        let web = apply_as(
            None,
            &with_containers(json!([{"name": "web", "image": "nginx"}])),
            "app",
            false,
            &schema,
            T1,
        )
        .unwrap()
        .object;
        let both = apply_as(
            Some(&web),
            &with_containers(json!([{"name": "mesh", "image": "envoy"}])),
            "injector",
            false,
            &schema,
            T1,
        )
        .unwrap()
        .object;
        let names = |o: &Value| -> Vec<String> {
            o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(names(&both), ["web", "mesh"]);
        assert_eq!(
            entry(&both, "injector").unwrap()["fieldsV1"],
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"mesh\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
        );
        let gone = apply_as(
            Some(&both),
            &with_containers(json!([])),
            "injector",
            false,
            &schema,
            T2,
        )
        .unwrap()
        .object;
        assert_eq!(names(&gone), ["web"]);
        assert!(entry(&gone, "injector").is_none());
    }

    // Changing another applier's container field is a conflict whose path names the item.
    #[test]
    fn conflict_path_in_list_item() {
        let schema = deploy_schema();
        let web = apply_as(
            None,
            &with_containers(json!([{"name": "web", "image": "nginx:1"}])),
            "app",
            false,
            &schema,
            T1,
        )
        .unwrap()
        .object;
        let err = apply_as(
            Some(&web),
            &with_containers(json!([{"name": "web", "image": "nginx:2"}])),
            "other",
            false,
            &schema,
            T2,
        )
        .unwrap_err();
        let ApplyError::Conflicts(conflicts) = err else {
            panic!("expected conflicts")
        };
        assert_eq!(
            conflicts.0[0].field(),
            ".spec.template.spec.containers[name=\"web\"].image"
        );
    }

    // Several conflicts: "Apply failed with N conflicts: conflicts with \"m\":\n- path…".
    #[test]
    fn several_conflicts_message() {
        let conflicts = Conflicts(vec![
            Conflict {
                manager: "\"a\"".into(),
                path: FieldPath::fields(&["spec", "replicas"]),
            },
            Conflict {
                manager: "\"a\"".into(),
                path: FieldPath::fields(&["spec", "paused"]),
            },
        ]);
        assert_eq!(
            conflicts.message(),
            "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\n- .spec.paused"
        );
    }

    // Updaters take over the fields they change, without conflicts; unchanged fields stay with
    // their owner; a new map gets its own `.` entry.
    #[test]
    fn updates_take_over_changed_fields() {
        let schema = deploy_schema();
        let created = update_as(None, &deployment(1), "kubectl-create", &schema);
        let mut edited = created.clone();
        edited["spec"]["replicas"] = json!(4);
        edited["metadata"]["labels"] = json!({"x": "y"});
        let updated = update_as(Some(&created), &edited, "kubectl-edit", &schema);
        assert!(entry(&updated, "kubectl-create").is_none());
        assert_eq!(
            entry(&updated, "kubectl-edit").unwrap()["fieldsV1"],
            json!({"f:metadata": {"f:labels": {".": {}, "f:x": {}}}, "f:spec": {"f:replicas": {}}})
        );
        // An update that changes nothing leaves managedFields as they were.
        let again = update_as(Some(&updated), &updated, "someone", &schema);
        assert_eq!(again, updated);
    }

    // A write that leaves another manager's fields alone writes that manager's entry as stored
    // (not encoded anew), and what it writes is what encoding every entry anew would give.
    #[test]
    fn untouched_entries_are_kept_as_stored_and_as_encoding_would_give() {
        let schema = deploy_schema();
        let mut object = deployment(1);
        object["metadata"]["labels"] = json!({"app": "web"});
        let created = update_as(None, &object, "kubectl-create", &schema);
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(2);
        let scaled = update_as(Some(&created), &scaled, "scaler", &schema);
        let mut edited = scaled.clone();
        edited["spec"]["replicas"] = json!(3);
        let edited = update_as(Some(&scaled), &edited, "scaler", &schema);
        assert_eq!(
            entry(&edited, "kubectl-create"),
            entry(&scaled, "kubectl-create")
        );
        assert_eq!(
            entry(&edited, "kubectl-create").unwrap()["fieldsV1"],
            json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
        );
        assert_eq!(
            entry(&edited, "scaler").unwrap()["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}})
        );
        let mut encoded = edited.clone();
        encode_managed_fields(&mut encoded, &decode_managed_fields(&edited).unwrap());
        assert_eq!(encoded, edited);
        // Taking a field from a manager encodes that manager's entry anew.
        let mut relabelled = edited.clone();
        relabelled["metadata"]["labels"]["app"] = json!("api");
        let relabelled = update_as(Some(&edited), &relabelled, "scaler", &schema);
        assert_eq!(
            entry(&relabelled, "kubectl-create").unwrap()["fieldsV1"],
            json!({"f:metadata": {"f:labels": {}}})
        );
        assert_eq!(
            entry(&relabelled, "scaler").unwrap()["fieldsV1"],
            json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}}})
        );
    }

    // A client may clear managedFields by sending `[{}]`.
    #[test]
    fn clearing_managed_fields() {
        let schema = deploy_schema();
        let created = update_as(None, &deployment(1), "kubectl-create", &schema);
        let mut cleared = created.clone();
        cleared["metadata"]["managedFields"] = json!([{}]);
        // `{}` has no operation: undecodable, so the old entries are kept, as the apiserver does
        // for managedFields it cannot decode.
        let kept = update_as(Some(&created), &cleared, "x", &schema);
        assert!(entry(&kept, "kubectl-create").is_some());
        cleared["metadata"]["managedFields"] =
            json!([{"manager": "", "operation": "Update", "fieldsV1": {}}]);
        let gone = update_as(Some(&created), &cleared, "x", &schema);
        assert!(gone["metadata"].get("managedFields").is_none());
    }

    // An object created without field tracking: its fields belong to "before-first-apply", and
    // applying another value over them conflicts with that manager.
    #[test]
    fn before_first_apply() {
        let schema = cm_schema();
        let untracked = config_map(json!({"a": "1"}));
        let err = apply_as(
            Some(&untracked),
            &config_map(json!({"a": "2"})),
            "kubectl",
            false,
            &schema,
            T1,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.a"
        );
    }

    // Apply through the status subresource records `subresource: status` and, with the status
    // reset fields, neither changes nor owns the spec.
    #[test]
    fn status_subresource_apply() {
        let schema = deploy_schema();
        let created = update_as(None, &deployment(1), "kubectl-create", &schema);
        let status_cfg = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                "metadata": {"name": "web"},
                                "spec": {"replicas": 9},
                                "status": {"replicas": 1, "conditions": [
                                    {"type": "Available", "status": "True"}]}});
        let reset = reset_fields(Some("status"), true);
        let options = ApplyOptions {
            manager: "ctrl",
            force: false,
            subresource: Some("status"),
            now: T2,
            reset_fields: &reset,
        };
        let written = apply(Some(&created), &status_cfg, &options, &schema)
            .unwrap()
            .object;
        assert_eq!(written["spec"]["replicas"], json!(1));
        assert_eq!(written["status"]["replicas"], json!(1));
        let ctrl = entry(&written, "ctrl").unwrap();
        assert_eq!(ctrl["subresource"], json!("status"));
        assert_eq!(
            ctrl["fieldsV1"],
            json!({"f:status": {"f:conditions": {"k:{\"type\":\"Available\"}": {
                ".": {}, "f:status": {}, "f:type": {}}}, "f:replicas": {}}})
        );
    }

    // The applied object may not carry managedFields, and must say what it is.
    #[test]
    fn invalid_apply_requests() {
        let schema = cm_schema();
        let mut cm = config_map(json!({}));
        cm["metadata"]["managedFields"] = json!([]);
        let err = apply_as(None, &cm, "m", false, &schema, T1).unwrap_err();
        assert_eq!(
            err,
            ApplyError::Invalid("metadata.managedFields must be nil".into())
        );
        let err =
            apply_as(None, &json!({"kind": "ConfigMap"}), "m", false, &schema, T1).unwrap_err();
        assert!(matches!(err, ApplyError::Invalid(_)));
    }

    // More than ten Update managers: the oldest are folded into "ancient-changes".
    #[test]
    fn update_managers_are_capped() {
        let schema = cm_schema();
        let mut object = config_map(json!({}));
        let mut old: Option<Value> = None;
        for i in 0..12 {
            let mut next = object.clone();
            next["data"][format!("k{i}")] = json!("v");
            let options = UpdateOptions {
                manager: &format!("m{i:02}"),
                subresource: None,
                now: &format!("2024-01-01T00:00:{i:02}Z"),
                reset_fields: &[],
            };
            object = record_update(old.as_ref(), &next, &options, &schema).unwrap();
            old = Some(object.clone());
        }
        let entries = decode_managed_fields(&object).unwrap();
        assert_eq!(entries.len(), MAX_UPDATE_MANAGERS);
        let ancient = entries
            .iter()
            .find(|e| e.manager == ANCIENT_CHANGES)
            .unwrap();
        // m00 (which also owns the labels), m01 and m02 were folded together.
        assert!(ancient.fields.has(&FieldPath::fields(&["data", "k0"])));
        assert!(ancient.fields.has(&FieldPath::fields(&["data", "k2"])));
        assert_eq!(ancient.time.as_deref(), Some("2024-01-01T00:00:02Z"));
        assert!(
            entries
                .iter()
                .all(|e| e.manager != "m00" && e.manager != "m02")
        );
    }

    // The 409 Status causes carry the apiserver's type, message and field.
    #[test]
    fn conflict_status_cause() {
        let conflict = Conflict {
            manager: "\"kubectl-client-side-apply\" using apps/v1".into(),
            path: FieldPath::fields(&["spec", "replicas"]),
        };
        assert_eq!(
            conflict.status_cause(),
            json!({"reason": "FieldManagerConflict",
                   "message": "conflict with \"kubectl-client-side-apply\" using apps/v1",
                   "field": ".spec.replicas"})
        );
    }

    // A custom resource gets its CRD's semantics: a list-map keyed by name merges per item
    // between two appliers, and an unlisted list is atomic (owned whole).
    #[test]
    fn custom_resource_with_crd_schema() {
        let schema = Schema::from_crd_validation(&json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "routes": {"type": "array", "x-kubernetes-list-type": "map",
                           "x-kubernetes-list-map-keys": ["name"],
                           "items": {"type": "object", "properties": {
                               "name": {"type": "string"}, "weight": {"type": "integer"}}}},
                "hosts": {"type": "array", "items": {"type": "string"}}
            }}}
        }));
        let cr = |routes: Value, hosts: Value| {
            json!({"apiVersion": "example.com/v1", "kind": "Router", "metadata": {"name": "r"},
                   "spec": {"routes": routes, "hosts": hosts}})
        };
        let first = apply_as(
            None,
            &cr(json!([{"name": "a", "weight": 1}]), json!(["x"])),
            "team-a",
            false,
            &schema,
            T1,
        )
        .unwrap()
        .object;
        let second = json!({"apiVersion": "example.com/v1", "kind": "Router",
                            "metadata": {"name": "r"},
                            "spec": {"routes": [{"name": "b", "weight": 2}]}});
        let both = apply_as(Some(&first), &second, "team-b", false, &schema, T2)
            .unwrap()
            .object;
        assert_eq!(
            both["spec"]["routes"],
            json!([{"name": "a", "weight": 1}, {"name": "b", "weight": 2}])
        );
        assert_eq!(
            entry(&both, "team-a").unwrap()["fieldsV1"]["f:spec"]["f:hosts"],
            json!({})
        );
        let hosts = json!({"apiVersion": "example.com/v1", "kind": "Router",
                           "metadata": {"name": "r"}, "spec": {"hosts": ["y"]}});
        let err = apply_as(Some(&both), &hosts, "team-b", false, &schema, T2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"team-a\": .spec.hosts"
        );
    }

    // Whatever the configuration, applying it twice gives the same object, and the applied
    // field set survives the FieldsV1 encoding.
    #[test]
    fn apply_is_idempotent_and_fields_round_trip() {
        let schema = deploy_schema();
        let configs = [
            with_containers(json!([{"name": "a", "image": "1", "ports": [
                {"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}])),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "labels": {"a": "b"}, "finalizers": ["x", "y"],
                                "annotations": {"k": "v"}},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                                "tolerations": [{"key": "k"}], "nodeSelector": {"x": "y"},
                                "containers": [{"name": "c", "env": [{"name": "E", "value": "1"}],
                                                "resources": {"limits": {"cpu": "1"}}}]}}}}),
        ];
        for config in configs {
            let once = apply_as(None, &config, "m", false, &schema, T1)
                .unwrap()
                .object;
            let twice = apply_as(Some(&once), &config, "m", false, &schema, T2).unwrap();
            assert!(!twice.changed, "{config}");
            assert_eq!(twice.object, once);
            let set = structured::field_set(&config, schema.root()).unwrap();
            assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()).unwrap(), set);
        }
    }

    // The default manager is the User-Agent's product name.
    #[test]
    fn default_manager_from_user_agent() {
        assert_eq!(
            default_manager("kubectl/v1.33.0 (linux/amd64) kubernetes/abc123"),
            "kubectl"
        );
        assert_eq!(
            default_manager("kube-controller-manager/v1.33"),
            "kube-controller-manager"
        );
        assert_eq!(default_manager(""), "");
        assert_eq!(default_manager(&"x".repeat(300)).len(), 128);
    }

    // Entries are sorted Apply before Update, then by time and manager.
    #[test]
    fn entries_are_sorted() {
        let schema = cm_schema();
        let a = update_as(None, &config_map(json!({"a": "1"})), "zeta", &schema);
        let b = apply_as(
            Some(&a),
            &config_map(json!({"b": "1"})),
            "alpha",
            false,
            &schema,
            T2,
        )
        .unwrap()
        .object;
        let managers: Vec<&str> = b["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(managers, ["alpha", "zeta"]);
    }
}
