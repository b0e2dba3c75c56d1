//! Strategic merge patch (`application/strategic-merge-patch+json`), after
//! `k8s.io/apimachinery/pkg/util/strategicpatch` (`StrategicMergePatch` with the apiserver's options:
//! parallel delete lists are merged and `null`s that match nothing are ignored).
//!
//! - Maps merge recursively; a `null` value deletes the key.
//! - Lists whose field has `patchStrategy: merge` merge: by `patchMergeKey` for lists of objects, as
//!   sets for lists of scalars. Every other list is replaced by the patch's list.
//! - Directives: `$patch: replace|delete` in a map or in a list item, `$retainKeys`,
//!   `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.
//! - Order of a merged list: the patch's items keep the patch's order (or `$setElementOrder`'s),
//!   items only on the server keep their relative order and are interleaved where they were.

use serde_json::{Map, Value};

use super::schema::{Node, Schema};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Why a strategic merge patch could not be applied. Messages follow the Go library's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategicPatchError {
    /// The patch or the object is not a JSON object.
    #[error("strategic merge patch must be a JSON object")]
    NotAnObject,
    /// `$patch` with a value other than `replace` / `delete` (or `merge`, accepted in lists only).
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownDirective {
        /// The `$patch` value.
        directive: String,
        /// The map that carried it, as JSON.
        map: String,
    },
    /// `$patch: merge` inside a list.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// An item of a merging list lacks the list's merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    MissingMergeKey {
        /// The item, as JSON.
        map: String,
        /// The merge key.
        key: String,
    },
    /// A list of objects whose field merges but declares no merge key.
    #[error("cannot merge lists without merge key for {field}")]
    NoMergeKey {
        /// The list's field name.
        field: String,
    },
    /// A list mixes objects and scalars.
    #[error("list {field} mixes element types")]
    MixedElementTypes {
        /// The list's field name.
        field: String,
    },
    /// Lists of lists cannot be merged.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// A directive or list has a value of the wrong type.
    #[error("expected a list, but received a {received} for {field}")]
    BadArgType {
        /// The directive or field.
        field: String,
        /// The JSON type received.
        received: String,
    },
    /// The patch sets a key that its own `$retainKeys` does not list.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeys,
    /// `$setElementOrder` is not a list.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrder,
    /// The patch list's items are not in the `$setElementOrder` list's order.
    #[error("the order in patch list {patch} doesn't match $setElementOrder list {order}")]
    SetElementOrderMismatch {
        /// The patch list, as JSON.
        patch: String,
        /// The `$setElementOrder` list, as JSON.
        order: String,
    },
}

impl StrategicPatchError {
    /// The HTTP status the apiserver answers with (`interpretStrategicMergePatchError`): format
    /// errors of the directives are 400, a list of lists is 422, and every other error of the
    /// library surfaces as a 500 "Internal error occurred".
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotAnObject | Self::BadRetainKeys | Self::BadSetElementOrder => 400,
            Self::ListOfLists => 422,
            _ => 500,
        }
    }
}

type PatchResult<T> = Result<T, StrategicPatchError>;

/// Applies a strategic merge patch to `original` (a whole object) with the field semantics of
/// `schema`, returning the patched object.
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    schema: &Schema,
) -> PatchResult<Value> {
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        return Err(StrategicPatchError::NotAnObject);
    };
    let mut merged = Value::Object(merge_map(original.clone(), patch.clone(), schema.root())?);
    strip_directives(&mut merged);
    Ok(merged)
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    node: &Node,
) -> PatchResult<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            // The map is replaced by the patch (minus the directive).
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            // The map is emptied.
            Some("delete") => Ok(Map::new()),
            _ => Err(StrategicPatchError::UnknownDirective {
                directive: display_directive(directive),
                map: Value::Object(patch.clone()).to_string(),
            }),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, node)?;

    // Plain keys first, then the parallel delete lists, so that the outcome does not depend on
    // iteration order (Go iterates a map, i.e. in random order).
    let (deletions, plain): (Vec<_>, Vec<_>) = patch
        .into_iter()
        .filter(|(k, _)| !k.starts_with(SET_ELEMENT_ORDER))
        .partition(|(k, _)| k.starts_with(DELETE_FROM_PRIMITIVE_LIST));
    for (key, patch_value) in plain.into_iter().chain(deletions) {
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(field) => (field.to_string(), true),
            None => (key, false),
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let child = node.child(&key).0;
        let Some(original_value) = original.get_mut(&key) else {
            if !is_delete_list {
                original.insert(key, discard_nulls(patch_value));
            }
            continue;
        };
        match (original_value, patch_value) {
            (Value::Object(o), Value::Object(p)) => {
                let merged = merge_map(std::mem::take(o), p, child)?;
                *o = merged;
            }
            (Value::Array(o), Value::Array(p)) => {
                let merged = if child.patch_meta().merge || is_delete_list {
                    merge_slice(std::mem::take(o), p, child, &key, is_delete_list)?
                } else {
                    p
                };
                *o = merged;
            }
            (original_value, patch_value) => {
                if !is_delete_list {
                    *original_value = discard_nulls(patch_value);
                }
            }
        }
    }
    Ok(original)
}

/// `$retainKeys: [..]`: keys of the original map that are not listed are cleared; the patch itself
/// may only set listed keys.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> PatchResult<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(StrategicPatchError::BadArgType {
            field: RETAIN_KEYS.to_string(),
            received: json_type(&retain).to_string(),
        });
    };
    let retained = |key: &str| retain.iter().any(|r| r.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !retained(key) {
            return Err(StrategicPatchError::BadRetainKeys);
        }
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

fn list_field(map: &Map<String, Value>, field: &str) -> PatchResult<Option<Vec<Value>>> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Array(list)) => Ok(Some(list.clone())),
        Some(other) => Err(StrategicPatchError::BadArgType {
            field: field.to_string(),
            received: json_type(other).to_string(),
        }),
    }
}

/// `$setElementOrder/<field>: [..]`: merges `<field>` and orders the result by the directive's
/// list, then by the patch list, then by the live list.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    node: &Node,
) -> PatchResult<()> {
    let order_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for order_key in order_keys {
        let field = order_key[SET_ELEMENT_ORDER.len()..].to_string();
        let Some(Value::Array(order)) = patch.get(&order_key).cloned() else {
            return Err(StrategicPatchError::BadSetElementOrder);
        };
        let original_list = list_field(original, &field)?;
        let patch_list = list_field(patch, &field)?;
        let child = node.child(&field).0;
        let merge_key = child.patch_meta().merge_key.clone();
        if let Some(patch_list) = &patch_list {
            validate_patch_with_set_order(patch_list, &order, merge_key.as_deref())?;
        }
        let merged = match (&original_list, patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => p.into_iter().filter(|item| !has_directive(item)).collect(),
            (Some(o), Some(p)) if child.patch_meta().merge => {
                merge_slice(o.clone(), p, child, &field, false)?
            }
            (Some(_), Some(p)) => p,
            (None, None) => continue,
        };
        let (patch_items, server_only) =
            partition_by_presence(merged, &order, merge_key.as_deref());
        let server_order = original_list.unwrap_or_default();
        let ordered = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &server_order,
            merge_key.as_deref(),
        );
        original.insert(field.clone(), Value::Array(ordered));
        patch.remove(&field);
    }
    Ok(())
}

/// The patch list's items (other than directives) must appear in the `$setElementOrder` list, in
/// the same relative order.
fn validate_patch_with_set_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> PatchResult<()> {
    let items: Vec<&Value> = patch_list.iter().filter(|i| !has_directive(i)).collect();
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if same_item(items[p], &order[o], merge_key) {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return Err(StrategicPatchError::SetElementOrderMismatch {
            patch: Value::Array(patch_list.to_vec()).to_string(),
            order: Value::Array(order.to_vec()).to_string(),
        });
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ElementKind {
    Object,
    Scalar,
}

fn element_kind(field: &str, lists: &[&[Value]]) -> PatchResult<Option<ElementKind>> {
    let mut kind = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let this = match item {
            Value::Array(_) => return Err(StrategicPatchError::ListOfLists),
            Value::Object(_) => ElementKind::Object,
            _ => ElementKind::Scalar,
        };
        match kind {
            None => kind = Some(this),
            Some(k) if k != this => {
                return Err(StrategicPatchError::MixedElementTypes {
                    field: field.to_string(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(kind)
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    list_node: &Node,
    field: &str,
    is_delete_list: bool,
) -> PatchResult<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(field, &[&original, &patch])?;
    let merge_key = list_node.patch_meta().merge_key.clone();
    let (server_order, patch_order, merged) = if kind != Some(ElementKind::Object) {
        if is_delete_list {
            // `$deleteFromPrimitiveList/<field>`: remove every listed value.
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for value in original.iter().chain(patch.iter()) {
            if !merged.contains(value) {
                merged.push(value.clone());
            }
        }
        (original, patch, merged)
    } else {
        let Some(key) = merge_key.as_deref() else {
            return Err(StrategicPatchError::NoMergeKey {
                field: field.to_string(),
            });
        };
        let (original, patch) = merge_special_elements(original, patch, key)?;
        let merged = merge_items_by_key(original.clone(), &patch, key, list_node.item())?;
        (original, patch, merged)
    };
    let (patch_items, server_only) =
        partition_by_presence(merged, &patch_order, merge_key.as_deref());
    Ok(normalize_element_order(
        patch_items,
        server_only,
        &patch_order,
        &server_order,
        merge_key.as_deref(),
    ))
}

/// Handles the `$patch` items of a list of objects: `delete` removes the original items with the
/// same merge key, `replace` makes the rest of the patch list the whole list.
fn merge_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> PatchResult<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(value) = item.get(key) else {
                    return Err(missing_merge_key(&item, key));
                };
                original.retain(|o| o.get(key) != Some(value));
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(StrategicPatchError::MergeDirectiveInList),
            _ => {
                return Err(StrategicPatchError::UnknownDirective {
                    directive: display_directive(directive),
                    map: item.to_string(),
                });
            }
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Merges each patch item into the original item with the same merge key, or appends it.
fn merge_items_by_key(
    mut original: Vec<Value>,
    patch: &[Value],
    key: &str,
    item_node: &Node,
) -> PatchResult<Vec<Value>> {
    for item in patch {
        let Some(key_value) = item.get(key) else {
            return Err(missing_merge_key(item, key));
        };
        let found = original.iter_mut().find(|o| o.get(key) == Some(key_value));
        match (found, item) {
            (Some(Value::Object(found)), Value::Object(patch_map)) => {
                let merged = merge_map(std::mem::take(found), patch_map.clone(), item_node)?;
                *found = merged;
            }
            _ => original.push(discard_nulls(item.clone())),
        }
    }
    Ok(original)
}

fn missing_merge_key(item: &Value, key: &str) -> StrategicPatchError {
    StrategicPatchError::MissingMergeKey {
        map: item.to_string(),
        key: key.to_string(),
    }
}

/// Splits `merged` into the items present in `by` and the others, keeping `merged`'s order.
fn partition_by_presence(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: Option<&str>,
) -> (Vec<Value>, Vec<Value>) {
    merged
        .into_iter()
        .partition(|item| index_of(by, item, merge_key).is_some())
}

/// Orders the patch items by `patch_order` and the server-only items by `server_order`, then
/// interleaves them (`normalizeElementOrder` + `mergeSortedSlice`): a server-only item goes before
/// the next patch item when it came before it in the live list.
fn normalize_element_order(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let position = |order: &[Value], item: &Value| index_of(order, item, merge_key);
    patch_items.sort_by_key(|item| position(patch_order, item).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| position(server_order, item).unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l), position(server_order, r)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    out
}

fn index_of(list: &[Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    list.iter()
        .position(|candidate| same_item(candidate, item, merge_key))
}

fn same_item(a: &Value, b: &Value, merge_key: Option<&str>) -> bool {
    match merge_key {
        Some(key) if a.is_object() && b.is_object() => {
            matches!((a.get(key), b.get(key)), (Some(x), Some(y)) if x == y)
        }
        _ => a == b,
    }
}

fn has_directive(item: &Value) -> bool {
    item.get(DIRECTIVE).is_some()
}

/// A value taken whole from the patch loses its `null`s (`discardNullValuesFromPatch`).
fn discard_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, discard_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(discard_nulls).collect()),
        other => other,
    }
}

/// Removes directives left in values copied whole from the patch. The apiserver drops them when it
/// decodes the result into the typed object (they are unknown fields); bosun stores JSON, so it
/// drops them here, with list items that were only directives.
fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| {
                k != DIRECTIVE
                    && k != RETAIN_KEYS
                    && !k.starts_with(SET_ELEMENT_ORDER)
                    && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            });
            map.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => {
            items.retain(|item| !has_directive(item));
            items.iter_mut().for_each(strip_directives);
        }
        _ => {}
    }
}

fn display_directive(directive: &Value) -> String {
    directive
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| directive.to_string())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment() -> Schema {
        Schema::builtin("apps", "v1", "Deployment").unwrap()
    }

    fn pod() -> Schema {
        Schema::builtin("", "v1", "Pod").unwrap()
    }

    fn containers(obj: &Value) -> &Vec<Value> {
        obj["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
    }

    fn names(items: &[Value]) -> Vec<&str> {
        items.iter().map(|c| c["name"].as_str().unwrap()).collect()
    }

    fn web_deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}},
            "spec": {
                "replicas": 1,
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "envoy:1"}
                ]}}
            }
        })
    }

    fn smp(original: &Value, patch: Value, schema: &Schema) -> Value {
        strategic_merge_patch(original, &patch, schema).unwrap()
    }

    // Maps merge recursively and `null` deletes a key (labels.tier removed, replicas replaced).
    #[test]
    fn maps_merge_and_null_deletes() {
        let patched = smp(
            &web_deployment(),
            json!({"metadata": {"labels": {"tier": null, "new": "x"}}, "spec": {"replicas": 3}}),
            &deployment(),
        );
        assert_eq!(
            patched["metadata"]["labels"],
            json!({"app": "web", "new": "x"})
        );
        assert_eq!(patched["spec"]["replicas"], json!(3));
        assert_eq!(patched["metadata"]["name"], json!("web"));
    }

    // Containers merge by name: a patch naming only `web` changes its image and keeps the sidecar.
    // The new container is placed right after the patch item it follows in the patch, before the
    // server-only sidecar: Go's `mergeSortedSlice` only lets a server-only item go first when
    // both items are in the live list.
    #[test]
    fn containers_merge_by_name() {
        let patched = smp(
            &web_deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:2"},
                {"name": "logger", "image": "fluentbit"}
            ]}}}}),
            &deployment(),
        );
        let list = containers(&patched);
        assert_eq!(names(list), ["web", "logger", "sidecar"]);
        assert_eq!(list[0]["image"], json!("nginx:2"));
        // Fields of the merged item that the patch does not name are kept.
        assert_eq!(list[0]["env"], json!([{"name": "A", "value": "1"}]));
    }

    // Patch items keep the patch order (c before a); the server-only `b` goes before `c` because
    // it preceded `c` in the live list (the interleaving of `mergeSortedSlice`).
    #[test]
    fn merged_list_order() {
        let original = json!({"spec": {"containers": [
            {"name": "a"}, {"name": "b"}, {"name": "c"}]}});
        let patched = smp(
            &original,
            json!({"spec": {"containers": [{"name": "c", "x": 1}, {"name": "a", "x": 1}]}}),
            &pod(),
        );
        assert_eq!(
            names(patched["spec"]["containers"].as_array().unwrap()),
            ["b", "c", "a"]
        );
    }

    // `$patch: delete` in a list item removes the item with that merge key.
    #[test]
    fn patch_delete_on_container() {
        let patched = smp(
            &web_deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "$patch": "delete"}
            ]}}}}),
            &deployment(),
        );
        assert_eq!(names(containers(&patched)), ["web"]);
    }

    // `$patch: replace` in a list makes the patch's other items the whole list.
    #[test]
    fn patch_replace_in_list() {
        let patched = smp(
            &web_deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "only", "image": "busybox"}, {"$patch": "replace"}
            ]}}}}),
            &deployment(),
        );
        assert_eq!(
            containers(&patched),
            &vec![json!({"name": "only", "image": "busybox"})]
        );
    }

    // `$patch: replace` in a map replaces the map; `$patch: delete` empties it.
    #[test]
    fn patch_directives_in_maps() {
        let schema = deployment();
        let replaced = smp(
            &web_deployment(),
            json!({"metadata": {"labels": {"only": "this", "$patch": "replace"}}}),
            &schema,
        );
        assert_eq!(replaced["metadata"]["labels"], json!({"only": "this"}));
        let deleted = smp(
            &web_deployment(),
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            &schema,
        );
        assert_eq!(deleted["metadata"]["labels"], json!({}));
    }

    // An unknown `$patch` value is an error ("unknown patch type: ... in map: ..."), and so is
    // `$patch: merge` in a list.
    #[test]
    fn unknown_directive_is_an_error() {
        let err = strategic_merge_patch(
            &web_deployment(),
            &json!({"metadata": {"labels": {"$patch": "frobnicate"}}}),
            &deployment(),
        )
        .unwrap_err();
        assert!(matches!(err, StrategicPatchError::UnknownDirective { .. }));
        assert!(
            err.to_string()
                .starts_with("unknown patch type: frobnicate in map:")
        );
        let err = strategic_merge_patch(
            &web_deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}}),
            &deployment(),
        )
        .unwrap_err();
        assert_eq!(err, StrategicPatchError::MergeDirectiveInList);
    }

    // A list item without the merge key is rejected.
    #[test]
    fn missing_merge_key_is_an_error() {
        let err = strategic_merge_patch(
            &web_deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            &deployment(),
        )
        .unwrap_err();
        assert!(
            matches!(err, StrategicPatchError::MissingMergeKey { ref key, .. } if key == "name")
        );
    }

    // Lists without a patch strategy (tolerations, args) are replaced whole.
    #[test]
    fn lists_without_strategy_are_replaced() {
        let original = json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}],
                                       "containers": [{"name": "c", "args": ["x", "y"]}]}});
        let patched = smp(
            &original,
            json!({"spec": {"tolerations": [{"key": "c"}],
                            "containers": [{"name": "c", "args": ["z"]}]}}),
            &pod(),
        );
        assert_eq!(patched["spec"]["tolerations"], json!([{"key": "c"}]));
        assert_eq!(patched["spec"]["containers"][0]["args"], json!(["z"]));
    }

    // finalizers (`patchStrategy:"merge"`, no key) merge as a set: patch items first in patch
    // order, server-only items interleaved where they were.
    #[test]
    fn finalizers_merge_as_set() {
        let original = json!({"metadata": {"finalizers": ["a", "b"]}});
        let patched = smp(
            &original,
            json!({"metadata": {"finalizers": ["c", "a"]}}),
            &pod(),
        );
        assert_eq!(patched["metadata"]["finalizers"], json!(["c", "a", "b"]));
    }

    // `$deleteFromPrimitiveList/finalizers` removes values from the list.
    #[test]
    fn delete_from_primitive_list() {
        let original = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
        let patched = smp(
            &original,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
            &pod(),
        );
        assert_eq!(patched, json!({"metadata": {"finalizers": ["a", "c"]}}));
    }

    // `$setElementOrder/containers` decides the order of the merged list (kubectl apply sends it).
    #[test]
    fn set_element_order() {
        let patched = smp(
            &web_deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                "containers": [{"name": "web", "image": "nginx:3"}]
            }}}}),
            &deployment(),
        );
        let list = containers(&patched);
        assert_eq!(names(list), ["sidecar", "web"]);
        assert_eq!(list[1]["image"], json!("nginx:3"));
        assert_eq!(list[0]["image"], json!("envoy:1"));
        assert!(
            patched["spec"]["template"]["spec"]
                .as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with('$'))
        );
    }

    // A patch list out of the `$setElementOrder` order is rejected.
    #[test]
    fn set_element_order_mismatch() {
        let err = strategic_merge_patch(
            &web_deployment(),
            &json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                "containers": [{"name": "web", "image": "a"}, {"name": "sidecar", "image": "b"}]
            }}}}),
            &deployment(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            StrategicPatchError::SetElementOrderMismatch { .. }
        ));
    }

    // `$retainKeys` clears keys not listed: switching the Deployment strategy from RollingUpdate to
    // Recreate drops `rollingUpdate` (the reason `strategy` has `patchStrategy:"retainKeys"`); a
    // patch setting a key it does not retain is a 400.
    #[test]
    fn retain_keys() {
        let original = json!({"spec": {"strategy": {"type": "RollingUpdate",
                                                    "rollingUpdate": {"maxSurge": 1}}}});
        let patched = smp(
            &original,
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            &deployment(),
        );
        assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
        let err = strategic_merge_patch(
            &original,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
            &deployment(),
        )
        .unwrap_err();
        assert_eq!(err, StrategicPatchError::BadRetainKeys);
        assert_eq!(err.http_status(), 400);
    }

    // Container ports merge by containerPort (the SMP key, without protocol).
    #[test]
    fn container_ports_merge_by_container_port() {
        let original = json!({"spec": {"containers": [{"name": "c", "ports": [
            {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]}]}});
        let patched = smp(
            &original,
            json!({"spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "name": "http"}]}]}}),
            &pod(),
        );
        assert_eq!(
            patched["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}])
        );
    }

    // New values copied from the patch lose their nulls; unmatched nulls are ignored.
    #[test]
    fn unmatched_nulls_are_ignored() {
        let patched = smp(
            &json!({"metadata": {}}),
            json!({"metadata": {"labels": {"a": "1", "b": null}, "gone": null}}),
            &pod(),
        );
        assert_eq!(patched, json!({"metadata": {"labels": {"a": "1"}}}));
    }

    // Status conditions merge by type.
    #[test]
    fn conditions_merge_by_type() {
        let original = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}});
        let patched = smp(
            &original,
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            &pod(),
        );
        assert_eq!(
            patched["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])
        );
    }
}
