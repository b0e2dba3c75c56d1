//! Reading Kubernetes objects held as JSON.
//!
//! Argo CD converts each object to its typed Go struct before judging it, so an absent field
//! reads as Go's zero value: 0, "", false, an empty list. These helpers give the same defaults,
//! so that the health functions can be written in Argo CD's terms without `Option` everywhere.
//! Where Argo CD distinguishes "absent" from zero (pointer fields such as `spec.replicas`),
//! the caller uses the `opt_` form.

use serde_json::Value;

/// The API group of an object: the part of `apiVersion` before the slash ("" for core/v1).
pub fn group(object: &Value) -> &str {
    api_version(object)
        .rsplit_once('/')
        .map_or("", |(group, _)| group)
}

/// The version part of `apiVersion` ("v1" for both "v1" and "apps/v1").
pub fn version(object: &Value) -> &str {
    let api_version = api_version(object);
    api_version
        .rsplit_once('/')
        .map_or(api_version, |(_, version)| version)
}

fn api_version(object: &Value) -> &str {
    str_at(object, &["apiVersion"])
}

pub fn kind(object: &Value) -> &str {
    str_at(object, &["kind"])
}

pub fn name(object: &Value) -> &str {
    str_at(object, &["metadata", "name"])
}

pub fn namespace(object: &Value) -> &str {
    str_at(object, &["metadata", "namespace"])
}

/// The object's annotation `key`, if set (an empty value is still set).
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// The value at `path`, if every step exists and is not null.
pub fn at<'a>(object: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut value = object;
    for key in path {
        value = value.get(key)?;
    }
    (!value.is_null()).then_some(value)
}

/// A string field, "" when absent.
pub fn str_at<'a>(object: &'a Value, path: &[&str]) -> &'a str {
    at(object, path).and_then(Value::as_str).unwrap_or("")
}

/// An integer field that Argo CD reads through a pointer: `None` when absent.
pub fn opt_int_at(object: &Value, path: &[&str]) -> Option<i64> {
    at(object, path).and_then(Value::as_i64)
}

/// An integer field, 0 when absent.
pub fn int_at(object: &Value, path: &[&str]) -> i64 {
    opt_int_at(object, path).unwrap_or(0)
}

/// A boolean field, false when absent.
pub fn bool_at(object: &Value, path: &[&str]) -> bool {
    at(object, path).and_then(Value::as_bool).unwrap_or(false)
}

/// A list field, empty when absent.
pub fn list_at<'a>(object: &'a Value, path: &[&str]) -> &'a [Value] {
    at(object, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `status.conditions`, in the order the controller wrote them.
pub fn conditions(object: &Value) -> &[Value] {
    list_at(object, &["status", "conditions"])
}

/// The first condition of type `kind`: Argo CD's `get...Condition` helpers stop at the first.
pub fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions(object)
        .iter()
        .find(|c| str_at(c, &["type"]) == kind)
}

/// Go's `schema.GroupVersionKind.String()`, which Argo CD puts in its "unsupported" messages.
pub fn gvk_string(object: &Value) -> String {
    format!(
        "{}/{}, Kind={}",
        group(object),
        version(object),
        kind(object)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn group_and_version_split_api_version() {
        let core = json!({"apiVersion": "v1", "kind": "Pod"});
        let apps = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
        assert_eq!((group(&core), version(&core)), ("", "v1"));
        assert_eq!((group(&apps), version(&apps)), ("apps", "v1"));
        assert_eq!(gvk_string(&core), "/v1, Kind=Pod");
    }

    #[test]
    fn absent_and_null_fields_read_as_go_zero_values() {
        let object = json!({"spec": {"replicas": null, "paused": true}});
        assert_eq!(opt_int_at(&object, &["spec", "replicas"]), None);
        assert_eq!(int_at(&object, &["status", "replicas"]), 0);
        assert!(bool_at(&object, &["spec", "paused"]));
        assert!(list_at(&object, &["status", "conditions"]).is_empty());
    }
}
