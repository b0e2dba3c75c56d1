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
            if !v.is_string() {
                causes.push(Cause {
                    reason: "FieldValueInvalid",
                    field: format!("metadata.labels.{k}"),
                    message: "Invalid value: label values must be strings".into(),
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
}
