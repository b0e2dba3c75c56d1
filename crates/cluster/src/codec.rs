//! The apiserver decodes every client write into its kind's Go type before anything else, so a
//! manifest a real cluster rejects cannot pass here either: a field of the wrong JSON type
//! (`replicas: "abc"`) is refused with 400 "cannot be handled as a Deployment"; and with
//! `fieldValidation=Strict` (what kubectl sends by default) a field the type does not have is
//! refused as a "strict decoding error". Required fields are the validation's (Go's decoder
//! requires none).
//!
//! The Go types come from k8s-openapi's generated ones (the Kubernetes version the cluster
//! reports), decoded with serde_path_to_error for the field path. Custom resources are not
//! decoded here: their schema is the CRD's.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::resources::ResourceType;
use crate::status::ApiError;

/// The `fieldValidation` query parameter of a write: what the apiserver does about fields the
/// kind's type does not have. A wrong type is refused whatever it says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Unknown fields are kept as sent (the apiserver drops them; this cluster stores them).
    Ignore,
    /// The apiserver's default: the write goes through with a warning. This cluster sends no
    /// warning headers, so it is `Ignore` here.
    #[default]
    Warn,
    /// Unknown fields refuse the write (kubectl's `--validate=strict`, its default).
    Strict,
}

impl FieldValidation {
    /// The parameter's value, as the apiserver reads it (an unknown value is a 400).
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation instead must be one of the following: Ignore, Warn, Strict, got {other:?}"
            ))),
        }
    }
}

/// Decodes `object` as the Go type of its built-in kind, and drops the fields the type does not
/// have (unless `Strict` refuses them), as the apiserver's decoding loses them: a typo stored
/// under `Warn` would otherwise make every later strict write fail on a field its writer never
/// sent. Other kinds pass unchanged.
pub fn decode(
    rt: &ResourceType,
    object: &mut Value,
    validation: FieldValidation,
) -> Result<(), ApiError> {
    use k8s_openapi::api::{
        apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
        coordination::v1 as coordination, core::v1 as core, networking::v1 as networking,
        policy::v1 as policy, rbac::v1 as rbac,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    let strict = validation == FieldValidation::Strict;
    match (rt.group.as_str(), rt.version.as_str(), rt.kind.as_str()) {
        ("", "v1", "Namespace") => typed::<core::Namespace>(rt, object, strict),
        ("", "v1", "ConfigMap") => typed::<core::ConfigMap>(rt, object, strict),
        ("", "v1", "Secret") => typed::<core::Secret>(rt, object, strict),
        ("", "v1", "Service") => typed::<core::Service>(rt, object, strict),
        ("", "v1", "ServiceAccount") => typed::<core::ServiceAccount>(rt, object, strict),
        ("", "v1", "Pod") => typed::<core::Pod>(rt, object, strict),
        ("", "v1", "Endpoints") => typed::<core::Endpoints>(rt, object, strict),
        ("", "v1", "Event") => typed::<core::Event>(rt, object, strict),
        ("", "v1", "PersistentVolumeClaim") => {
            typed::<core::PersistentVolumeClaim>(rt, object, strict)
        }
        ("", "v1", "Node") => typed::<core::Node>(rt, object, strict),
        ("apps", "v1", "Deployment") => typed::<apps::Deployment>(rt, object, strict),
        ("apps", "v1", "ReplicaSet") => typed::<apps::ReplicaSet>(rt, object, strict),
        ("apps", "v1", "StatefulSet") => typed::<apps::StatefulSet>(rt, object, strict),
        ("apps", "v1", "DaemonSet") => typed::<apps::DaemonSet>(rt, object, strict),
        ("apps", "v1", "ControllerRevision") => {
            typed::<apps::ControllerRevision>(rt, object, strict)
        }
        ("batch", "v1", "Job") => typed::<batch::Job>(rt, object, strict),
        ("batch", "v1", "CronJob") => typed::<batch::CronJob>(rt, object, strict),
        ("networking.k8s.io", "v1", "Ingress") => typed::<networking::Ingress>(rt, object, strict),
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
            typed::<autoscaling::HorizontalPodAutoscaler>(rt, object, strict)
        }
        ("policy", "v1", "PodDisruptionBudget") => {
            typed::<policy::PodDisruptionBudget>(rt, object, strict)
        }
        ("rbac.authorization.k8s.io", "v1", "Role") => typed::<rbac::Role>(rt, object, strict),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => {
            typed::<rbac::RoleBinding>(rt, object, strict)
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => {
            typed::<rbac::ClusterRole>(rt, object, strict)
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
            typed::<rbac::ClusterRoleBinding>(rt, object, strict)
        }
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => {
            typed::<apiextensions::CustomResourceDefinition>(rt, object, strict)
        }
        ("coordination.k8s.io", "v1", "Lease") => typed::<coordination::Lease>(rt, object, strict),
        _ => Ok(()),
    }
}

fn typed<T: DeserializeOwned + Serialize>(
    rt: &ResourceType,
    object: &mut Value,
    strict: bool,
) -> Result<(), ApiError> {
    let kind = &rt.kind;
    let version = &rt.version;
    let undecodable = |why: String| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}"
        ))
    };
    let decoded: T = match serde_path_to_error::deserialize(&*object) {
        Ok(decoded) => decoded,
        Err(e) => {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            // Go's decoder requires no field (a few k8s-openapi types do, e.g. a Node's
            // `status.nodeInfo.bootID` or an HTTP header's `value`): required fields are the
            // validation's to name (`validate_workload`), so such an object decodes.
            if missing_field(&message) {
                return Ok(());
            }
            return Err(undecodable(go_type_error(kind, &path, &message)));
        }
    };
    // What the type keeps of the object: a field of the body it drops is one it lacks.
    let kept = serde_json::to_value(&decoded).unwrap_or(Value::Null);
    let mut unknown = Vec::new();
    unknown_fields(object, &kept, &mut String::new(), &mut unknown);
    if unknown.is_empty() {
        return Ok(());
    }
    if strict {
        {
            let listed: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect();
            return Err(undecodable(format!(
                "strict decoding error: {}",
                listed.join(", ")
            )));
        }
    }
    drop_unknown(object, &kept);
    Ok(())
}

/// Removes from `sent` the fields `kept` lacks (nulls aside), at every depth.
fn drop_unknown(sent: &mut Value, kept: &Value) {
    match (sent, kept) {
        (Value::Object(sent), Value::Object(kept)) => {
            sent.retain(|key, value| value.is_null() || kept.contains_key(key));
            for (key, value) in sent.iter_mut() {
                if let Some(kept) = kept.get(key) {
                    drop_unknown(value, kept);
                }
            }
        }
        (Value::Array(sent), Value::Array(kept)) => {
            for (sent, kept) in sent.iter_mut().zip(kept) {
                drop_unknown(sent, kept);
            }
        }
        _ => {}
    }
}

/// serde's "missing field `name`".
fn missing_field(message: &str) -> bool {
    message.starts_with("missing field `")
}

/// serde's "invalid type: string \"abc\", expected i32" in the words of Go's encoding/json:
/// "json: cannot unmarshal string into Go struct field Deployment.spec.replicas of type int32".
fn go_type_error(kind: &str, path: &str, message: &str) -> String {
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return format!("{message} at {path}");
    };
    let (got, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
    let got = match got.split([' ', ',']).next().unwrap_or_default() {
        "string" => "string",
        "integer" | "floating" => "number",
        "boolean" => "bool",
        "map" => "object",
        "sequence" => "array",
        "null" | "unit" => "null",
        other => other,
    };
    let expected = match expected.trim() {
        "i32" => "int32",
        "i64" => "int64",
        "f64" => "float64",
        "a string" | "string" => "string",
        "a boolean" | "bool" => "bool",
        "a sequence" => "array",
        "a map" => "map",
        other => other,
    };
    format!("json: cannot unmarshal {got} into Go struct field {kind}.{path} of type {expected}")
}

/// The paths (`spec.template.spec.containers[0].imagee`) of `sent`'s fields that `kept` lacks.
/// A null is no field.
fn unknown_fields(sent: &Value, kept: &Value, path: &mut String, out: &mut Vec<String>) {
    match (sent, kept) {
        (Value::Object(sent), Value::Object(kept)) => {
            for (key, value) in sent {
                if value.is_null() {
                    continue;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match kept.get(key) {
                    None => out.push(path.clone()),
                    Some(k) => unknown_fields(value, k, path, out),
                }
                path.truncate(len);
            }
        }
        (Value::Array(sent), Value::Array(kept)) => {
            for (i, (s, k)) in sent.iter().zip(kept).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                unknown_fields(s, k, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> ResourceType {
        crate::resources::Registry::new()
            .by_plural("apps", "v1", "deployments")
            .unwrap()
    }

    fn manifest(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec})
    }

    fn good_spec() -> Value {
        json!({
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "resources": {"limits": {"cpu": 1, "memory": "64Mi"}}}]}
            }
        })
    }

    #[test]
    fn a_valid_deployment_passes_even_strictly() {
        let mut object = manifest(good_spec());
        decode(&deployment(), &mut object, FieldValidation::Strict).unwrap();
        assert_eq!(object, manifest(good_spec()), "nothing dropped");
    }

    #[test]
    fn a_wrong_type_is_refused_in_go_words() {
        let mut spec = good_spec();
        spec["replicas"] = json!("abc");
        let e = decode(&deployment(), &mut manifest(spec), FieldValidation::Ignore).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field Deployment.spec.replicas of type int32"
        );
    }

    #[test]
    fn a_field_only_k8s_openapi_requires_is_not_refused() {
        // k8s-openapi's metav1.Condition needs `lastTransitionTime`; Go's decoder does not.
        let rt = crate::resources::Registry::new()
            .by_plural("policy", "v1", "poddisruptionbudgets")
            .unwrap();
        let mut object = json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
            "spec": {"minAvailable": 1},
            "status": {"conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "x", "message": ""}],
                       "currentHealthy": 1, "desiredHealthy": 1, "disruptionsAllowed": 0, "expectedPods": 1}
        });
        decode(&rt, &mut object, FieldValidation::Warn).unwrap();
    }

    #[test]
    fn unknown_fields_are_refused_when_strict_and_dropped_otherwise() {
        let mut spec = good_spec();
        spec["replica"] = json!(3);
        spec["template"]["spec"]["containers"][0]["imagee"] = json!("x");
        let object = manifest(spec);
        let mut dropped = object.clone();
        decode(&deployment(), &mut dropped, FieldValidation::Warn).unwrap();
        assert_eq!(
            dropped,
            manifest(good_spec()),
            "as the apiserver's decoding loses them"
        );
        let e = decode(&deployment(), &mut object.clone(), FieldValidation::Strict).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.message.ends_with(
                "strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imagee\""
            ),
            "{}",
            e.message
        );
    }

    #[test]
    fn field_validation_values() {
        assert_eq!(FieldValidation::parse(None).unwrap(), FieldValidation::Warn);
        assert_eq!(
            FieldValidation::parse(Some("Strict")).unwrap(),
            FieldValidation::Strict
        );
        assert_eq!(
            FieldValidation::parse(Some("strict")).unwrap_err().code,
            400
        );
    }
}
