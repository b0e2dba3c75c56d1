//! The order of a sync, as Argo CD's gitops-engine orders sync tasks: by phase, then by wave
//! (`bosun_model::argo::wave`: sync-wave, else Helm's hook-weight, default 0), then by kind
//! (Namespaces and CRDs before what needs them), then by name.

use bosun_model::argo;
use serde_json::Value;

/// gitops-engine's `kindOrder`: kinds that others depend on come first; kinds not listed
/// (custom resources among them) come after all of these.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The object's wave. A value that is not an integer counts as 0 (gitops-engine ignores it too),
/// with a warning that names the object, the annotation and the value.
pub fn wave_of(object: &Value) -> i64 {
    argo::wave(object).unwrap_or_else(|e| {
        tracing::warn!(
            kind = object["kind"].as_str().unwrap_or_default(),
            name = object["metadata"]["name"].as_str().unwrap_or_default(),
            "{e}; wave 0 used"
        );
        0
    })
}

fn kind_rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

/// The sort key of an object within a phase: wave, kind rank, kind, namespace, name.
pub fn sort_key(object: &Value) -> (i64, usize, String, String, String) {
    let kind = object["kind"].as_str().unwrap_or_default();
    (
        wave_of(object),
        kind_rank(kind),
        kind.to_string(),
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Objects grouped into waves, in order; each wave's objects in kind order.
pub fn waves(objects: &[Value]) -> Vec<(i64, Vec<Value>)> {
    let mut sorted: Vec<(_, &Value)> = objects.iter().map(|o| (sort_key(o), o)).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut waves: Vec<(i64, Vec<Value>)> = Vec::new();
    for ((wave, ..), object) in sorted {
        match waves.last_mut() {
            Some((w, members)) if *w == wave => members.push(object.clone()),
            _ => waves.push((wave, vec![object.clone()])),
        }
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, name: &str, wave: Option<&str>) -> Value {
        let mut o = json!({"kind": kind, "metadata": {"name": name}});
        if let Some(w) = wave {
            o["metadata"]["annotations"] = json!({argo::SYNC_WAVE: w});
        }
        o
    }

    // Argo CD: lower waves first (negative waves before the default 0), and within a wave
    // Namespaces, then ConfigMaps, Services, Deployments, and unknown kinds (CRs) last.
    #[test]
    fn waves_then_kinds_then_names() {
        let objects = vec![
            obj("Deployment", "web", None),
            obj("Widget", "w", None),
            obj("Service", "web", None),
            obj("Namespace", "shop", Some("-1")),
            obj("ConfigMap", "b", None),
            obj("ConfigMap", "a", None),
            obj("Job", "migrate", Some("5")),
        ];
        let order: Vec<(i64, Vec<String>)> = waves(&objects)
            .into_iter()
            .map(|(w, os)| {
                (
                    w,
                    os.iter()
                        .map(|o| {
                            format!(
                                "{}/{}",
                                o["kind"].as_str().unwrap(),
                                o["metadata"]["name"].as_str().unwrap()
                            )
                        })
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            order,
            vec![
                (-1, vec!["Namespace/shop".to_string()]),
                (
                    0,
                    vec![
                        "ConfigMap/a".into(),
                        "ConfigMap/b".into(),
                        "Service/web".into(),
                        "Deployment/web".into(),
                        "Widget/w".into()
                    ]
                ),
                (5, vec!["Job/migrate".to_string()]),
            ]
        );
    }

    #[test]
    fn unparsable_wave_is_zero() {
        assert_eq!(wave_of(&obj("ConfigMap", "a", Some("soon"))), 0);
    }

    // Argo CD orders Helm hooks without a sync-wave by their hook-weight.
    #[test]
    fn helm_hook_weight_orders_hooks() {
        let hook = |name: &str, weight: &str| {
            json!({"kind": "Job", "metadata": {"name": name, "annotations":
                {"helm.sh/hook": "pre-install", "helm.sh/hook-weight": weight}}})
        };
        let order: Vec<(i64, String)> = waves(&[hook("late", "5"), hook("early", "-1")])
            .into_iter()
            .map(|(w, os)| (w, os[0]["metadata"]["name"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(order, vec![(-1, "early".into()), (5, "late".into())]);
    }
}
