//! Checks every write must pass before it is stored, with the messages a real apiserver gives:
//! names (RFC 1123), apiVersion/kind against the URL, namespace against the URL.

use serde_json::Value;

use crate::resources::ResourceType;
use crate::status::{ApiError, Cause};

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// RFC 1123 label: at most 63 characters, `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// Kinds whose names must be DNS labels rather than subdomains.
fn name_is_label(kind: &str) -> bool {
    matches!(kind, "Namespace" | "Service")
}

/// Kinds that accept any path-segment name (RBAC allows ':' in names, for example).
fn name_is_path_segment(kind: &str) -> bool {
    matches!(
        kind,
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding"
    )
}

/// Validates an object about to be created or replaced at a URL for `rt` in `namespace`.
pub fn validate_object(
    rt: &ResourceType,
    url_namespace: Option<&str>,
    object: &Value,
) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    }
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if kind.is_empty() || api_version.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{}'",
            truncate(&object.to_string())
        )));
    }
    if kind != rt.kind || api_version != rt.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        ))
        .with_kind_mismatch(kind, &rt.kind));
    }
    let mut causes = Vec::new();
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            field: "metadata.name".into(),
            message: "Required value: name or generateName is required".into(),
        });
    } else if name_is_path_segment(&rt.kind) {
        if name == "." || name == ".." || name.contains('/') || name.contains('%') {
            causes.push(Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: format!(
                    "Invalid value: {name:?}: may not contain '/' or '%' and may not be '.' or '..'"
                ),
            });
        }
    } else if name_is_label(&rt.kind) {
        if !is_dns1123_label(name) {
            causes.push(Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: format!("Invalid value: {name:?}: {DNS1123_LABEL_MSG}"),
            });
        }
    } else if !is_dns1123_subdomain(name) {
        causes.push(Cause {
            reason: "FieldValueInvalid",
            field: "metadata.name".into(),
            message: format!("Invalid value: {name:?}: {DNS1123_SUBDOMAIN_MSG}"),
        });
    }
    if let Some(labels) = object["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            let Some(value) = v.as_str() else {
                causes.push(Cause {
                    reason: "FieldValueInvalid",
                    field: format!("metadata.labels.{k}"),
                    message: "Invalid value: label values must be strings".into(),
                });
                continue;
            };
            for msg in label_key_errors(k) {
                causes.push(Cause {
                    reason: "FieldValueInvalid",
                    field: "metadata.labels".into(),
                    message: format!("Invalid value: {k:?}: {msg}"),
                });
            }
            for msg in label_value_errors(value) {
                causes.push(Cause {
                    reason: "FieldValueInvalid",
                    field: "metadata.labels".into(),
                    message: format!("Invalid value: {value:?}: {msg}"),
                });
            }
        }
    }
    let body_namespace = object["metadata"]["namespace"].as_str();
    if rt.namespaced
        && let (Some(body), Some(url)) = (body_namespace, url_namespace)
        && !body.is_empty()
        && body != url
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.group, &rt.kind, name, causes))
    }
}

const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`: a label value (when not empty) or the name part
/// of a qualified name.
fn is_label_word(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// The apiserver's `IsValidLabelValue`.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if value.len() > 63 {
        msgs.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_label_word(value) {
        msgs.push(LABEL_VALUE_MSG.to_string());
    }
    msgs
}

/// The apiserver's `IsQualifiedName`, for label keys: an optional DNS subdomain prefix and `/`,
/// then a name of at most 63 characters.
fn label_key_errors(key: &str) -> Vec<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let mut msgs = Vec::new();
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            msgs.push("prefix part must be non-empty".to_string());
        } else if !is_dns1123_subdomain(prefix) {
            msgs.push(format!("prefix part {DNS1123_SUBDOMAIN_MSG}"));
        }
    }
    if name.is_empty() {
        msgs.push("name part must be non-empty".to_string());
    } else {
        if name.len() > 63 {
            msgs.push("name part must be no more than 63 characters".to_string());
        }
        if !is_label_word(name) {
            msgs.push(QUALIFIED_NAME_MSG.to_string());
        }
    }
    msgs
}

/// Where a kind keeps its Pod template, and whether its `spec.selector` must select it.
fn pod_template_path(rt: &ResourceType) -> Option<(&'static [&'static str], bool)> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            Some((&["spec", "template"], true))
        }
        // A Job's selector is generated from its uid unless `manualSelector` is set.
        ("batch", "Job") => Some((&["spec", "template"], false)),
        ("batch", "CronJob") => Some((&["spec", "jobTemplate", "spec", "template"], false)),
        _ => None,
    }
}

/// The apiserver's validation of a workload a client writes, for the mistakes a real cluster
/// refuses and a simulation would otherwise run: a container without a name or an image, a
/// missing selector, a selector that does not select the Pod template's labels, a negative
/// replica count (422 Invalid, one cause per field). Runs after the type decoding.
pub fn validate_workload(rt: &ResourceType, object: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let (spec_path, pod_spec) = if rt.group.is_empty() && rt.kind == "Pod" {
        ("spec".to_string(), &object["spec"])
    } else if let Some((path, selects)) = pod_template_path(rt) {
        let template = path.iter().fold(object, |v, k| &v[*k]);
        let template_path = path.join(".");
        if selects {
            let selector = &object["spec"]["selector"];
            if selector.is_null() {
                causes.push(Cause {
                    reason: "FieldValueRequired",
                    field: "spec.selector".into(),
                    message: "Required value".into(),
                });
            } else if let Ok(parsed) = crate::selectors::LabelSelector::from_object(selector) {
                let labels = crate::selectors::labels_of(template);
                if parsed.is_empty() {
                    causes.push(Cause {
                        reason: "FieldValueInvalid",
                        field: "spec.selector".into(),
                        message: format!(
                            "Invalid value: {}: empty selector is invalid for deployment",
                            go_selector(selector)
                        ),
                    });
                } else if !parsed.matches_labels(&labels) {
                    causes.push(Cause {
                        reason: "FieldValueInvalid",
                        field: format!("{template_path}.metadata.labels"),
                        message: format!(
                            "Invalid value: {}: `selector` does not match template `labels`",
                            go_string_map(&labels)
                        ),
                    });
                }
            }
        }
        if let Some(replicas) = object["spec"]["replicas"].as_i64()
            && replicas < 0
        {
            causes.push(Cause {
                reason: "FieldValueInvalid",
                field: "spec.replicas".into(),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            });
        }
        (format!("{template_path}.spec"), &template["spec"])
    } else {
        return Ok(());
    };
    let containers = pod_spec["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if containers.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            field: format!("{spec_path}.containers"),
            message: "Required value".into(),
        });
    }
    for list in ["initContainers", "containers"] {
        for (i, container) in pod_spec[list].as_array().into_iter().flatten().enumerate() {
            for field in ["name", "image"] {
                if container[field].as_str().unwrap_or_default().is_empty() {
                    causes.push(Cause {
                        reason: "FieldValueRequired",
                        field: format!("{spec_path}.{list}[{i}].{field}"),
                        message: "Required value".into(),
                    });
                }
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        Err(ApiError::invalid(&rt.group, &rt.kind, name, causes))
    }
}

/// The fields an update may not change, as the apiserver's update validation refuses them (422
/// Invalid): a workload's selector; a Job's selector and Pod template; a StatefulSet's spec
/// outside what may change; a PersistentVolumeClaim's spec but for its storage request; a
/// Service's cluster IP once set; a Secret's type; the content of a ConfigMap or Secret marked
/// `immutable`. These are the errors a sync meets on a real cluster (a chart that changed its
/// selector labels, a Job whose image changed) — a simulation that let them through would
/// pass what production refuses. `live` and `next` are compared after defaulting, so that a
/// field the client left out is not taken for a change.
pub fn validate_update(rt: &ResourceType, live: &Value, next: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let immutable = |field: &str, value: &Value| Cause {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: format!(
            "Invalid value: {}: field is immutable",
            truncate(&value.to_string())
        ),
    };
    let changed = |path: &[&str]| {
        let at = |o: &Value| path.iter().fold(o, |v, k| &v[*k]).clone();
        (at(live) != at(next)).then(|| at(next))
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet") => {
            if let Some(selector) = changed(&["spec", "selector"]) {
                causes.push(Cause {
                    message: format!(
                        "Invalid value: {}: field is immutable",
                        go_selector(&selector)
                    ),
                    ..immutable("spec.selector", &selector)
                });
            }
            if rt.kind == "StatefulSet" {
                const MAY_CHANGE: &[&str] = &[
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                    "selector",
                ];
                let rest = |o: &Value| {
                    let mut spec = o["spec"].as_object().cloned().unwrap_or_default();
                    spec.retain(|k, _| !MAY_CHANGE.contains(&k.as_str()));
                    spec
                };
                if rest(live) != rest(next) {
                    causes.push(Cause {
                        reason: "FieldValueForbidden",
                        field: "spec".into(),
                        message: "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".into(),
                    });
                }
            }
        }
        ("batch", "Job") => {
            for path in [["spec", "selector"], ["spec", "template"]] {
                if let Some(value) = changed(&path) {
                    causes.push(immutable(&path.join("."), &value));
                }
            }
        }
        ("", "PersistentVolumeClaim") => {
            let fixed = |o: &Value| {
                let mut spec = o["spec"].clone();
                if let Some(resources) = spec.get_mut("resources").and_then(Value::as_object_mut) {
                    resources.remove("requests");
                }
                if let Some(spec) = spec.as_object_mut() {
                    spec.remove("volumeAttributesClassName");
                }
                spec
            };
            if fixed(live) != fixed(next) {
                causes.push(Cause {
                    reason: "FieldValueForbidden",
                    field: "spec".into(),
                    message: "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims".into(),
                });
            }
        }
        ("", "Service") => {
            // A cluster IP left out is kept (the registry fills it from the live Service).
            let was = live["spec"]["clusterIP"].as_str().unwrap_or_default();
            if let Some(ip) = next["spec"]["clusterIP"].as_str()
                && !was.is_empty()
                && !ip.is_empty()
                && ip != was
                && next["spec"]["type"] != "ExternalName"
            {
                causes.push(immutable("spec.clusterIP", &Value::String(ip.into())));
            }
        }
        ("", "ConfigMap" | "Secret") => {
            if rt.kind == "Secret"
                && let Some(kind) = changed(&["type"])
            {
                causes.push(immutable("type", &kind));
            }
            if live["immutable"] == true {
                const WHEN_SET: &str = "Forbidden: field is immutable when `immutable` is set";
                if next["immutable"] != true {
                    causes.push(Cause {
                        reason: "FieldValueForbidden",
                        field: "immutable".into(),
                        message: WHEN_SET.into(),
                    });
                }
                for field in ["data", "binaryData"] {
                    if changed(&[field]).is_some() {
                        causes.push(Cause {
                            reason: "FieldValueForbidden",
                            field: field.into(),
                            message: WHEN_SET.into(),
                        });
                    }
                }
            }
        }
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            crate::objects::name_of(next),
            causes,
        ))
    }
}

/// A label map as Go's `%#v` prints it: `map[string]string{"app":"web"}`.
fn go_string_map(labels: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    format!("map[string]string{{{}}}", pairs.join(", "))
}

/// A label selector as Go's `%#v` prints the apiserver's `v1.LabelSelector`.
fn go_selector(selector: &Value) -> String {
    let labels: std::collections::BTreeMap<String, String> = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let labels = if labels.is_empty() {
        "map[string]string(nil)".to_string()
    } else {
        go_string_map(&labels)
    };
    let expressions: Vec<String> = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let values: Vec<String> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| format!("{:?}", v.as_str().unwrap_or_default()))
                .collect();
            format!(
                "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{}}}",
                e["key"].as_str().unwrap_or_default(),
                e["operator"].as_str().unwrap_or_default(),
                if values.is_empty() {
                    "[]string(nil)".to_string()
                } else {
                    format!("[]string{{{}}}", values.join(", "))
                }
            )
        })
        .collect();
    let expressions = if expressions.is_empty() {
        "[]v1.LabelSelectorRequirement(nil)".to_string()
    } else {
        format!(
            "[]v1.LabelSelectorRequirement{{{}}}",
            expressions.join(", ")
        )
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}")
}

const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/// The apiserver's `IsConfigMapKey`: the messages for a Secret or ConfigMap key, empty if valid.
pub fn config_key_errors(key: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    if key.len() > 253 {
        msgs.push("must be no more than 253 characters".to_string());
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        msgs.push(CONFIG_KEY_MSG.to_string());
    }
    if key == "." {
        msgs.push("must not be '.'".to_string());
    } else if key == ".." {
        msgs.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        msgs.push("must not start with '..'".to_string());
    }
    msgs
}

/// Decodes base64 as Go's `encoding/json` decodes a `[]byte` field (standard alphabet, padded,
/// `\r` and `\n` ignored, trailing bits allowed); the error is the apiserver's wording.
fn decode_bytes(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const GO_STD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    GO_STD.decode(&cleaned).map_err(|e| {
        let at = match e {
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol(at, _) => at,
            base64::DecodeError::InvalidLength(len) => len / 4 * 4,
            base64::DecodeError::InvalidPadding => cleaned.len().saturating_sub(1),
        };
        format!("illegal base64 data at input byte {at}")
    })
}

/// What the apiserver does to a Secret's or ConfigMap's content on every write, before storing:
/// `data` (Secret) and `binaryData` (ConfigMap) must be base64, or decoding the body fails
/// (400 BadRequest, "cannot be handled as a Secret"); a Secret's `stringData` is folded into
/// `data` (a `stringData` key wins) and dropped; every key must be a valid config key (422 Invalid,
/// field `data[key]`). Other kinds are left alone.
pub fn normalize_content(rt: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    if !rt.group.is_empty() || !matches!(rt.kind.as_str(), "Secret" | "ConfigMap") {
        return Ok(());
    }
    let kind = rt.kind.clone();
    let undecodable = |why: String| {
        ApiError::bad_request(format!(
            "{kind} in version \"v1\" cannot be handled as a {kind}: {why}"
        ))
    };
    let byte_fields: &[&str] = if kind == "Secret" {
        &["data"]
    } else {
        &["binaryData"]
    };
    for field in byte_fields.iter().copied() {
        if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
            for value in map.values_mut() {
                match value {
                    Value::String(s) => {
                        // Stored canonical, as the apiserver re-encodes the bytes it decoded
                        // (a certificate's base64 wrapped at 76 columns loses its line breaks).
                        use base64::Engine;
                        let bytes = decode_bytes(s).map_err(&undecodable)?;
                        *s = base64::engine::general_purpose::STANDARD.encode(bytes);
                    }
                    Value::Null => {}
                    other => {
                        return Err(undecodable(format!(
                            "json: cannot unmarshal {} into Go struct field {kind}.{field} of type []uint8",
                            json_type(other)
                        )));
                    }
                }
            }
        }
    }
    let string_maps: &[&str] = if kind == "Secret" {
        &["stringData"]
    } else {
        &["data"]
    };
    for field in string_maps.iter().copied() {
        if let Some(map) = object.get(field).and_then(Value::as_object)
            && let Some((_, other)) = map.iter().find(|(_, v)| !v.is_string() && !v.is_null())
        {
            return Err(undecodable(format!(
                "json: cannot unmarshal {} into Go struct field {kind}.{field} of type string",
                json_type(other)
            )));
        }
    }
    if kind == "Secret"
        && let Some(map) = object.as_object_mut()
        && let Some(string_data) = map.remove("stringData")
    {
        use base64::Engine;
        if let Value::Object(string_data) = string_data
            && !string_data.is_empty()
        {
            let data = map
                .entry("data")
                .or_insert_with(|| Value::Object(Default::default()));
            if !data.is_object() {
                *data = Value::Object(Default::default());
            }
            let data = data.as_object_mut().expect("object");
            for (k, v) in string_data {
                let text = v.as_str().unwrap_or_default();
                data.insert(
                    k,
                    Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    }
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let key_fields: &[&str] = if kind == "Secret" {
        &["data"]
    } else {
        &["data", "binaryData"]
    };
    let mut causes = Vec::new();
    for field in key_fields.iter().copied() {
        if let Some(map) = object.get(field).and_then(Value::as_object) {
            for key in map.keys() {
                for msg in config_key_errors(key) {
                    causes.push(Cause {
                        reason: "FieldValueInvalid",
                        field: format!("{field}[{key}]"),
                        message: format!("Invalid value: {key:?}: {msg}"),
                    });
                }
                if field == "data" && kind == "ConfigMap" && object["binaryData"].get(key).is_some()
                {
                    causes.push(Cause {
                        reason: "FieldValueInvalid",
                        field: format!("data[{key}]"),
                        message: format!(
                            "Invalid value: {key:?}: duplicate of key present in binaryData"
                        ),
                    });
                }
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.group, &rt.kind, name, causes))
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::String(_) => "string",
        Value::Null => "null",
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

trait KindMismatch {
    fn with_kind_mismatch(self, got: &str, expected: &str) -> Self;
}

impl KindMismatch for ApiError {
    /// The apiserver words a kind mismatch differently from a version mismatch.
    fn with_kind_mismatch(mut self, got: &str, expected: &str) -> Self {
        if got != expected {
            self.message = format!(
                "the kind in the data ({got}) does not match the expected kind ({expected})"
            );
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123() {
        assert!(is_dns1123_subdomain("web.example-1"));
        assert!(!is_dns1123_subdomain("Web"));
        assert!(!is_dns1123_subdomain("web_1"));
        assert!(!is_dns1123_subdomain("-web"));
        assert!(is_dns1123_label("web-1"));
        assert!(!is_dns1123_label("web.1"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
    }

    #[test]
    fn config_keys_and_go_base64() {
        assert!(config_key_errors("tls.crt").is_empty());
        assert!(config_key_errors(".dotfile").is_empty());
        assert_eq!(config_key_errors("a/b").len(), 1);
        assert_eq!(config_key_errors("..").len(), 1);
        assert_eq!(config_key_errors("..x").len(), 1);
        assert!(!config_key_errors(&"a".repeat(254)).is_empty());
        assert_eq!(decode_bytes("aGk=").unwrap(), b"hi");
        assert_eq!(decode_bytes("aG\nk=").unwrap(), b"hi");
        assert_eq!(
            decode_bytes("billy").unwrap_err(),
            "illegal base64 data at input byte 4"
        );
        assert_eq!(
            decode_bytes("no!pe").unwrap_err(),
            "illegal base64 data at input byte 2"
        );
    }

    fn deployment(spec: Value) -> (ResourceType, Value) {
        let rt = crate::resources::Registry::new()
            .by_plural("apps", "v1", "deployments")
            .unwrap();
        let object = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec});
        (rt, object)
    }

    #[test]
    fn a_workload_the_apiserver_refuses() {
        let (rt, good) = deployment(serde_json::json!({
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "tier": "x"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
        }));
        validate_workload(&rt, &good).unwrap();

        let mut mismatched = good.clone();
        mismatched["spec"]["selector"]["matchLabels"]["app"] = "api".into();
        let e = validate_workload(&rt, &mismatched).unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message.contains(
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\", \"tier\":\"x\"}: `selector` does not match template `labels`"
            ),
            "{}",
            e.message
        );

        let mut nameless = good.clone();
        nameless["spec"]["template"]["spec"]["containers"][0] = serde_json::json!({"image": ""});
        nameless["spec"]["replicas"] = (-1).into();
        nameless["spec"].as_object_mut().unwrap().remove("selector");
        let e = validate_workload(&rt, &nameless).unwrap_err();
        for words in [
            "spec.selector: Required value",
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.spec.containers[0].name: Required value",
            "spec.template.spec.containers[0].image: Required value",
        ] {
            assert!(e.message.contains(words), "{words}: {}", e.message);
        }
    }

    #[test]
    fn label_keys_and_values() {
        assert!(label_value_errors("").is_empty());
        assert!(label_value_errors("v1.2_x-y").is_empty());
        assert_eq!(
            label_value_errors(&"a".repeat(64)),
            ["must be no more than 63 characters"]
        );
        assert_eq!(label_value_errors("-x"), [LABEL_VALUE_MSG]);
        assert!(label_key_errors("app.kubernetes.io/name").is_empty());
        assert!(label_key_errors("tier").is_empty());
        assert_eq!(label_key_errors("a b"), [QUALIFIED_NAME_MSG]);
        assert_eq!(label_key_errors("/x"), ["prefix part must be non-empty"]);
        assert_eq!(
            label_key_errors("Example.com/x")[0],
            format!("prefix part {DNS1123_SUBDOMAIN_MSG}")
        );
    }

    #[test]
    fn wrapped_base64_is_stored_canonical_and_decodes() {
        let rt = crate::resources::Registry::new()
            .by_plural("", "v1", "secrets")
            .unwrap();
        let mut secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tls"}, "data": {"tls.crt": "YWJj\nZGVm\r\n"}});
        normalize_content(&rt, &mut secret).unwrap();
        assert_eq!(secret["data"]["tls.crt"], "YWJjZGVm");
        crate::codec::decode(&rt, &mut secret, crate::codec::FieldValidation::Strict).unwrap();
    }
}
