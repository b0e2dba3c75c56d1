//! The value operations of server-side apply, walking an object alongside its
//! [`Schema`](super::schema::Schema) node
//! (after structured-merge-diff's `typed` package): the field set of a value, the comparison of two
//! values, the merge of an applied configuration into a live object, and the removal of items.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fieldpath::{FieldPath, FieldSet, PathElement};
use super::schema::{ListType, Node, Resolved};

/// A value that does not fit its schema (e.g. an associative-list item without its key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct StructureError {
    /// Where, in the apiserver's path format.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn structure_error(path: &FieldPath, message: String) -> StructureError {
    StructureError {
        path: path.to_string(),
        message,
    }
}

/// The path element identifying `item` in a list of type `list_type`.
fn item_element(
    item: &Value,
    list_type: &ListType,
    path: &FieldPath,
) -> Result<PathElement, StructureError> {
    match list_type {
        ListType::Map(keys) => {
            let mut fields = Vec::with_capacity(keys.len());
            for key in keys {
                match item.get(&key.name).or(key.default.as_ref()) {
                    Some(value) => fields.push((key.name.clone(), value.clone())),
                    None => {
                        return Err(structure_error(
                            path,
                            format!(
                                "associative list with keys has an element that omits key field \
                                 {:?} (and doesn't have default value)",
                                key.name
                            ),
                        ));
                    }
                }
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
        ListType::Set | ListType::Atomic => Ok(PathElement::Value(item.clone())),
    }
}

/// The items of a granular list by path element, in list order. With `strict`, a duplicate is an
/// error (the applied configuration must not have one); otherwise the first wins (the live object
/// may carry duplicates written by other means).
fn index_items<'v>(
    items: &'v [Value],
    list_type: &ListType,
    path: &FieldPath,
    strict: bool,
) -> Result<Vec<(PathElement, &'v Value)>, StructureError> {
    let mut out: Vec<(PathElement, &Value)> = Vec::with_capacity(items.len());
    for item in items {
        let pe = item_element(item, list_type, path)?;
        if out.iter().any(|(seen, _)| *seen == pe) {
            if strict {
                return Err(structure_error(
                    path,
                    format!("duplicate entries for key {pe}"),
                ));
            }
            continue;
        }
        out.push((pe, item));
    }
    Ok(out)
}

/// The set of fields a value sets (`ToFieldSet`): scalars, atomic lists and atomic objects are
/// leaves; items of granular lists are members too; a map key is a member when it is not a declared
/// struct field or holds `null` / `{}`.
pub fn field_set(value: &Value, node: &Node) -> Result<FieldSet, StructureError> {
    let mut set = FieldSet::new();
    walk_field_set(value, node, &FieldPath::default(), &mut set)?;
    Ok(set)
}

fn walk_field_set(
    value: &Value,
    node: &Node,
    path: &FieldPath,
    set: &mut FieldSet,
) -> Result<(), StructureError> {
    match (node.resolve(value), value) {
        (Resolved::List(ListType::Atomic), _) | (Resolved::Object { atomic: true }, _) => {
            set.insert(path);
        }
        (Resolved::List(list_type), Value::Array(items)) => {
            for (pe, item) in index_items(items, list_type, path, true)? {
                let item_path = path.child(pe);
                walk_field_set(item, node.item(), &item_path, set)?;
                set.insert(&item_path);
            }
        }
        (Resolved::Object { .. }, Value::Object(map)) => {
            for (key, child_value) in map {
                let (child, declared) = node.child(key);
                let child_path = path.child(PathElement::Field(key.clone()));
                walk_field_set(child_value, child, &child_path, set)?;
                let empty_object = child_value.as_object().is_some_and(Map::is_empty);
                if child_value.is_null() || empty_object || !declared {
                    set.insert(&child_path);
                }
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

/// What changed between two versions of an object, as field sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Paths present only in the new value.
    pub added: FieldSet,
    /// Leaves whose value changed.
    pub modified: FieldSet,
    /// Paths present only in the old value.
    pub removed: FieldSet,
}

impl Comparison {
    /// Whether nothing changed.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    /// `added ∪ modified`: what a writer set.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }

    /// The comparison without the paths in `ignored` and below them.
    pub fn without(&self, ignored: &FieldSet) -> Comparison {
        Comparison {
            added: self.added.recursive_difference(ignored),
            modified: self.modified.recursive_difference(ignored),
            removed: self.removed.recursive_difference(ignored),
        }
    }
}

/// Compares two versions of an object (`typed.Compare`). Leaves are scalars, atomic values and
/// pairs of empty containers; a granular container present on one side only is itself added or
/// removed, along with everything in it. `metadata.managedFields` is not compared: the
/// apiserver compares objects without it.
pub fn compare(old: &Value, new: &Value, node: &Node) -> Result<Comparison, StructureError> {
    let mut out = Comparison::default();
    walk_compare(Some(old), Some(new), node, &FieldPath::default(), &mut out)?;
    Ok(out)
}

fn is_empty_container(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(map)) => map.is_empty(),
        Some(_) => false,
    }
}

fn walk_compare(
    old: Option<&Value>,
    new: Option<&Value>,
    node: &Node,
    path: &FieldPath,
    out: &mut Comparison,
) -> Result<(), StructureError> {
    let Some(probe) = new.or(old) else {
        return Ok(());
    };
    // Nothing below two equal values is added, modified or removed; most of an object is
    // unchanged by a write, and walking it would cost a path per field.
    if let (Some(o), Some(n)) = (old, new)
        && o == n
    {
        return Ok(());
    }
    let resolved = node.resolve(probe);
    let same_type = match (old, new) {
        (Some(o), Some(n)) => std::mem::discriminant(o) == std::mem::discriminant(n),
        _ => true,
    };
    let granular = match resolved {
        Resolved::Object { atomic } => !atomic,
        Resolved::List(list_type) => *list_type != ListType::Atomic,
        Resolved::Scalar => false,
    };
    let both_empty = is_empty_container(old) && is_empty_container(new);
    if !granular || !same_type || both_empty {
        match (old, new) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            (Some(o), Some(n)) if o != n => out.modified.insert(path),
            _ => {}
        }
        return Ok(());
    }
    match resolved {
        Resolved::Object { .. } => {
            let empty = Map::new();
            let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
            let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
            let mut keys: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                if key == "managedFields" && path.is_metadata() {
                    continue;
                }
                let child = node.child(key).0;
                let child_path = path.child(PathElement::Field(key.clone()));
                walk_compare(old_map.get(key), new_map.get(key), child, &child_path, out)?;
            }
        }
        Resolved::List(list_type) => {
            let empty = Vec::new();
            let old_items = old.and_then(Value::as_array).unwrap_or(&empty);
            let new_items = new.and_then(Value::as_array).unwrap_or(&empty);
            let old_index: BTreeMap<PathElement, &Value> =
                index_items(old_items, list_type, path, false)?
                    .into_iter()
                    .collect();
            let new_index: BTreeMap<PathElement, &Value> =
                index_items(new_items, list_type, path, false)?
                    .into_iter()
                    .collect();
            let mut elements: Vec<&PathElement> =
                old_index.keys().chain(new_index.keys()).collect();
            elements.sort();
            elements.dedup();
            for pe in elements {
                let item_path = path.child(pe.clone());
                walk_compare(
                    old_index.get(pe).copied(),
                    new_index.get(pe).copied(),
                    node.item(),
                    &item_path,
                    out,
                )?;
            }
        }
        Resolved::Scalar => {}
    }
    // A field the Go type always serializes never appears or vanishes as a whole in the
    // apiserver (it is at least `null` / zero on both sides); only a list item does.
    let is_field = matches!(path.0.last(), Some(PathElement::Field(_)));
    if is_field && node.always_serialized() {
        return Ok(());
    }
    match (old, new) {
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        _ => {}
    }
    Ok(())
}

/// Merges an applied configuration into a live value (`typed.Merge`): granular objects merge key
/// by key, granular lists merge item by item (shared items in the configuration's order,
/// live-only items where they were), everything else is taken from
/// the configuration.
pub fn merge(live: &Value, config: &Value, node: &Node) -> Result<Value, StructureError> {
    merge_at(live, config, node, &FieldPath::default())
}

fn merge_at(
    live: &Value,
    config: &Value,
    node: &Node,
    path: &FieldPath,
) -> Result<Value, StructureError> {
    match (node.resolve(config), live, config) {
        (
            Resolved::Object { atomic: false },
            Value::Object(live_map),
            Value::Object(config_map),
        ) => {
            let mut out = live_map.clone();
            for (key, config_value) in config_map {
                let child = node.child(key).0;
                let merged = match live_map.get(key) {
                    Some(live_value) => merge_at(
                        live_value,
                        config_value,
                        child,
                        &path.child(PathElement::Field(key.clone())),
                    )?,
                    None => config_value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Ok(Value::Object(out))
        }
        (Resolved::List(list_type), Value::Array(live_items), Value::Array(config_items))
            if *list_type != ListType::Atomic =>
        {
            merge_lists(live_items, config_items, list_type, node.item(), path)
        }
        _ => Ok(config.clone()),
    }
}

/// Merges two granular lists the way structured-merge-diff does: items present in both are merged
/// and take the configuration's order; items only in the live list stay where they were relative
/// to the shared ones; new items are placed where the configuration puts them.
fn merge_lists(
    live: &[Value],
    config: &[Value],
    list_type: &ListType,
    item_node: &Node,
    path: &FieldPath,
) -> Result<Value, StructureError> {
    let config_index = index_items(config, list_type, path, true)?;
    let live_index = index_items(live, list_type, path, false)?;
    let live_pes: Vec<&PathElement> = live_index.iter().map(|(pe, _)| pe).collect();
    let live_of = |pe: &PathElement| live_index.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
    let config_of = |pe: &PathElement| config_index.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
    let merge_item = |pe: &PathElement| -> Result<Value, StructureError> {
        let item_path = path.child(pe.clone());
        match (live_of(pe), config_of(pe)) {
            (Some(l), Some(c)) => merge_at(l, c, item_node, &item_path),
            (Some(l), None) => Ok(l.clone()),
            (None, Some(c)) => Ok(c.clone()),
            (None, None) => unreachable!("item comes from one of the lists"),
        }
    };

    // The shared items in the configuration's order.
    let mut shared = config_index
        .iter()
        .map(|(pe, _)| pe)
        .filter(|pe| live_pes.contains(pe))
        .peekable();
    let mut merged_config: Vec<&PathElement> = Vec::new();
    let mut out = Vec::with_capacity(live.len().max(config.len()));
    let (mut l, mut r) = (0, 0);
    while l < live_index.len() || r < config_index.len() {
        if l < live_index.len() && r < config_index.len() {
            let live_pe = &live_index[l].0;
            if *live_pe == config_index[r].0 {
                out.push(merge_item(live_pe)?);
                merged_config.push(live_pe);
                l += 1;
                r += 1;
                shared.next();
                continue;
            }
            // A shared item that the configuration places later: hold it back.
            let is_shared = config_of(live_pe).is_some();
            if is_shared && shared.peek().is_some_and(|next| *next != live_pe) {
                l += 1;
                continue;
            }
        }
        if l < live_index.len() {
            let live_pe = &live_index[l].0;
            if config_of(live_pe).is_none() {
                out.push(live_index[l].1.clone());
                l += 1;
                continue;
            }
            if merged_config.contains(&live_pe) {
                l += 1;
                continue;
            }
        }
        if r < config_index.len() {
            let config_pe = &config_index[r].0;
            out.push(merge_item(config_pe)?);
            merged_config.push(config_pe);
            r += 1;
            if shared.peek().is_some_and(|next| *next == config_pe) {
                shared.next();
            }
        }
    }
    Ok(Value::Array(out))
}

/// Removes the members of `set` from `value` (`RemoveItems`): a member map key or list item is
/// dropped with everything under it; children of the set are followed into granular values.
pub fn remove_items(value: &Value, set: &FieldSet, node: &Node) -> Value {
    if set.is_empty() {
        return value.clone();
    }
    match (node.resolve(value), value) {
        (Resolved::Object { atomic: false }, Value::Object(map)) => {
            let mut out = Map::new();
            for (key, child_value) in map {
                let pe = PathElement::Field(key.clone());
                if set.has_member(&pe) {
                    continue;
                }
                let kept = match set.with_prefix(&pe) {
                    Some(sub) => remove_items(child_value, sub, node.child(key).0),
                    None => child_value.clone(),
                };
                out.insert(key.clone(), kept);
            }
            Value::Object(out)
        }
        (Resolved::List(list_type), Value::Array(items)) if *list_type != ListType::Atomic => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                // Items without a key cannot be addressed by a set: keep them.
                let Ok(pe) = item_element(item, list_type, &FieldPath::default()) else {
                    out.push(item.clone());
                    continue;
                };
                if set.has_member(&pe) {
                    continue;
                }
                out.push(match set.with_prefix(&pe) {
                    Some(sub) => remove_items(item, sub, node.item()),
                    None => item.clone(),
                });
            }
            Value::Array(out)
        }
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::schema::Schema;
    use super::*;

    fn deployment() -> Schema {
        Schema::builtin("apps", "v1", "Deployment").unwrap()
    }

    // The field set of an applied Deployment, as the apiserver records it: struct fields are not
    // members (no `.`), label keys and list items are, the atomic selector is a leaf, and a port
    // without a protocol is keyed with the default "TCP".
    #[test]
    fn field_set_of_a_deployment() {
        let applied = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}
                ]}}
            }
        });
        let set = field_set(&applied, deployment().root()).unwrap();
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:apiVersion": {}, "f:kind": {},
                "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"web\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {}, "f:containerPort": {}
                            }}
                        }
                    }}}
                }
            })
        );
    }

    // Duplicate keys in an applied list are rejected, as is an item without its key.
    #[test]
    fn field_set_rejects_bad_lists() {
        let schema = deployment();
        let dup = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a"}, {"name": "a"}]}}}});
        assert!(field_set(&dup, schema.root()).is_err());
        let keyless = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let err = field_set(&keyless, schema.root()).unwrap_err();
        assert!(err.message.contains("omits key field \"name\""));
    }

    // Comparison: a new label map is added with its key (but not `metadata`, a Go struct that is
    // always serialized); a changed image is modified; a removed
    // container is removed with its fields.
    #[test]
    fn compare_objects() {
        let schema = deployment();
        let old = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}}});
        let new = json!({"metadata": {"labels": {"x": "y"}},
                         "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a", "image": "2"}]}}}});
        let cmp = compare(&old, &new, schema.root()).unwrap();
        let added: Vec<String> = cmp.added.paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(added, [".metadata.labels", ".metadata.labels.x"]);
        let modified: Vec<String> = cmp.modified.paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            modified,
            [".spec.template.spec.containers[name=\"a\"].image"]
        );
        let removed: Vec<String> = cmp.removed.paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            removed,
            [
                ".spec.template.spec.containers[name=\"b\"]",
                ".spec.template.spec.containers[name=\"b\"].image",
                ".spec.template.spec.containers[name=\"b\"].name"
            ]
        );
    }

    // Merge: containers merge by name keeping live-only items in place, sets union, atomic lists
    // and atomic maps are replaced.
    #[test]
    fn merge_applied_into_live() {
        let schema = deployment();
        let live = json!({
            "metadata": {"finalizers": ["a"], "labels": {"keep": "1"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web", "old": "x"}},
                "template": {"spec": {
                    "tolerations": [{"key": "t1"}],
                    "containers": [
                        {"name": "web", "image": "1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "sidecar", "image": "s"}
                    ]
                }}
            }
        });
        let config = json!({
            "metadata": {"finalizers": ["b"], "labels": {"new": "2"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {
                    "tolerations": [{"key": "t2"}],
                    "containers": [{"name": "logger", "image": "l"}, {"name": "web", "image": "2"}]
                }}
            }
        });
        let merged = merge(&live, &config, schema.root()).unwrap();
        assert_eq!(merged["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(
            merged["metadata"]["labels"],
            json!({"keep": "1", "new": "2"})
        );
        assert_eq!(
            merged["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}})
        );
        let pod = &merged["spec"]["template"]["spec"];
        assert_eq!(pod["tolerations"], json!([{"key": "t2"}]));
        assert_eq!(
            pod["containers"],
            json!([
                {"name": "logger", "image": "l"},
                {"name": "web", "image": "2", "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "s"}
            ])
        );
    }

    // The configuration's order wins for shared items; live-only items keep their place.
    #[test]
    fn merge_reorders_shared_items() {
        let schema = deployment();
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a"}, {"name": "x"}, {"name": "b"}]}}}});
        let config = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "b"}, {"name": "a"}]}}}});
        let merged = merge(&live, &config, schema.root()).unwrap();
        let names: Vec<&str> = merged["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["x", "b", "a"]);
    }

    // remove_items drops members and follows children.
    #[test]
    fn remove_items_drops_members() {
        let schema = deployment();
        let value = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
                           "spec": {"template": {"spec": {"containers": [
                               {"name": "a", "image": "1"}, {"name": "b"}]}}}});
        let mut set = FieldSet::new();
        set.insert(&FieldPath::fields(&["metadata", "labels", "a"]));
        set.insert(
            &FieldPath::fields(&["spec", "template", "spec", "containers"])
                .child(PathElement::Key(vec![("name".into(), json!("b"))])),
        );
        set.insert(
            &FieldPath::fields(&["spec", "template", "spec", "containers"])
                .child(PathElement::Key(vec![("name".into(), json!("a"))]))
                .child(PathElement::Field("image".into())),
        );
        let removed = remove_items(&value, &set, schema.root());
        assert_eq!(
            removed,
            json!({"metadata": {"labels": {"b": "2"}},
                   "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}})
        );
    }
}
