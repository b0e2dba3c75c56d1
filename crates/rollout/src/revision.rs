//! A Rollout's revisions: each pod template has a hash (the `rollouts-pod-template-hash` label
//! its ReplicaSet and pods carry, and Services select on) and a ReplicaSet named after it.

use serde_json::{Map, Value, json};

use bosun_model::rollout::RolloutSpec;

use crate::config::{self, Digests};

/// The label that tells a Rollout's revisions apart (Argo Rollouts' name, so Services and tools
/// written for Argo select the same pods).
pub const HASH_LABEL: &str = bosun_model::argo::ROLLOUT_POD_TEMPLATE_HASH;
/// The ReplicaSet's revision number.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";
pub const DESIRED_REPLICAS_ANNOTATION: &str = "rollout.argoproj.io/desired-replicas";
/// When an old ReplicaSet is scaled down (blue-green's `scaleDownDelaySeconds`).
pub const SCALE_DOWN_DEADLINE_ANNOTATION: &str = "scale-down-deadline";
/// On a Service whose selector a Rollout manages.
pub const MANAGED_BY_ANNOTATION: &str = bosun_model::argo::ROLLOUT_MANAGED_BY;

/// The hash of a revision: FNV-1a (32 bits) over the pod template's canonical JSON (keys
/// sorted), written with Kubernetes' "safe" alphabet as Argo writes its hashes (no vowels, no
/// look-alikes). `configs` are the digests of the ConfigMaps and Secrets the template references
/// ([`crate::config`]): with any, the input is `[template, {"configs": {...}}]`, so a change of
/// their content is a new revision; without, it is the template alone, as in Argo.
/// `collisions` is `status.collisionCount`: as in Argo (and Deployments), a ReplicaSet name
/// taken by something else (a Deployment of the same name running the same template, as with
/// a `workloadRef`) is counted there, and the count goes into the hash.
pub fn pod_template_hash(template: &Value, configs: &Digests, collisions: i64) -> String {
    let input = if configs.is_empty() {
        template.clone()
    } else {
        json!([template, config::hash_input(configs)])
    };
    if collisions == 0 {
        return hash_value(&input);
    }
    hash_value(&json!([input, collisions]))
}

/// The hash of the canary steps (`status.currentStepHash`): a change of steps restarts them.
pub fn steps_hash(steps: &Value) -> String {
    hash_value(steps)
}

fn hash_value(value: &Value) -> String {
    let mut text = String::new();
    canonical(value, &mut text);
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.as_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|b| SAFE[b as usize % SAFE.len()] as char)
        .collect()
}

/// JSON with object keys sorted, whatever the map's own order.
pub(crate) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

pub fn replica_set_name(rollout: &Value, hash: &str) -> String {
    format!(
        "{}-{hash}",
        rollout["metadata"]["name"].as_str().unwrap_or("rollout")
    )
}

/// The ReplicaSet of revision `revision` (pod-template hash `hash`) of `rollout`, owned by it
/// and created with no replicas: the decision scales it. Its pods reference the revision's
/// copies of the config in `configs`, which the annotations name.
pub fn replica_set(
    rollout: &Value,
    spec: &RolloutSpec,
    hash: &str,
    revision: u64,
    configs: &Digests,
) -> Value {
    let mut template = spec.template.clone();
    let labels = with_hash(&template["metadata"]["labels"], hash);
    template["metadata"]["labels"] = labels.clone();
    config::point_at_copies(&mut template, configs, hash);
    let mut selector = spec.selector.clone();
    selector["matchLabels"] = with_hash(&selector["matchLabels"], hash);
    let meta = &rollout["metadata"];
    let mut annotations = json!({
        REVISION_ANNOTATION: revision.to_string(),
        DESIRED_REPLICAS_ANNOTATION: spec.replicas().to_string(),
    });
    if !configs.is_empty() {
        annotations[config::COPIES_ANNOTATION] = config::copies_annotation(configs, hash);
        annotations[config::UNOWNED_ANNOTATION] = json!("true");
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": replica_set_name(rollout, hash),
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": spec.min_ready_seconds,
            "selector": selector,
            "template": template,
        },
    })
}

fn with_hash(labels: &Value, hash: &str) -> Value {
    let mut labels: Map<String, Value> = labels.as_object().cloned().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), json!(hash));
    Value::Object(labels)
}

/// A label selector as a string (`status.selector`, read by HPAs through the scale
/// subresource): `a=b,c in (d,e)`.
pub fn selector_string(selector: &Value) -> String {
    let mut parts: Vec<String> = selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    for expr in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = expr["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expr["values"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        parts.push(match expr["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.sort();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_key_order_and_follows_content() {
        let a = json!({"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {"containers": [{"image": "web:1", "name": "web"}]}});
        let b: Value = serde_json::from_str(
            r#"{"spec": {"containers": [{"name": "web", "image": "web:1"}]}, "metadata": {"labels": {"tier": "fe", "app": "web"}}}"#,
        )
        .unwrap();
        let none = Digests::new();
        assert_eq!(
            pod_template_hash(&a, &none, 0),
            pod_template_hash(&b, &none, 0)
        );
        let mut c = a.clone();
        c["spec"]["containers"][0]["image"] = json!("web:2");
        assert_ne!(
            pod_template_hash(&a, &none, 0),
            pod_template_hash(&c, &none, 0)
        );
        assert!(
            pod_template_hash(&a, &none, 0)
                .chars()
                .all(|ch| "bcdfghjklmnpqrstvwxz2456789".contains(ch))
        );
    }

    #[test]
    fn a_template_without_config_keeps_its_hash_and_config_content_makes_a_new_one() {
        let t = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}});
        // The hash a Rollout without references had before configs counted: unchanged.
        assert_eq!(hash_value(&t), pod_template_hash(&t, &Digests::new(), 0));
        assert_eq!(
            hash_value(&json!([t, 2])),
            pod_template_hash(&t, &Digests::new(), 2)
        );
        let with = |digest: &str| {
            let mut d = Digests::new();
            d.insert(
                (config::Kind::ConfigMap, "web-config".into()),
                digest.into(),
            );
            pod_template_hash(&t, &d, 0)
        };
        assert_ne!(with("a"), with("b"), "only the config's content changed");
        assert_eq!(with("a"), with("a"));
        assert_ne!(with("a"), pod_template_hash(&t, &Digests::new(), 0));
    }

    #[test]
    fn selectors_read_as_strings() {
        let s = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]});
        assert_eq!(selector_string(&s), "app=web,tier in (fe,be)");
    }
}
