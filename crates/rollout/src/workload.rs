//! `spec.workloadRef`: a Rollout that takes its pod template (and selector) from a Deployment,
//! a ReplicaSet or a PodTemplate, as Argo's `templateref.go` resolves it — the way teams move
//! an existing Deployment under a Rollout without rewriting it. Pure functions: the controller
//! reads the workload, these say what the Rollout is with it and what the workload's replica
//! count should become.

use bosun_model::rollout::{ScaleDown, WorkloadRef};
use serde_json::{Value, json};

/// The Rollout's `spec.workloadRef`, if it has one that parses (a malformed one is reported by
/// the spec's validation, with the field's name).
pub fn reference(rollout: &Value) -> Option<WorkloadRef> {
    let value = rollout["spec"].get("workloadRef")?;
    serde_json::from_value(value.clone()).ok()
}

/// The Rollout as the controller decides on it: the workload's pod template in
/// `spec.template`, and its selector in `spec.selector` unless the Rollout has its own. Argo's
/// messages for a Rollout that also has a template, and for a workload that is not there.
pub fn resolve(
    rollout: &Value,
    reference: &WorkloadRef,
    workload: Option<&Value>,
) -> Result<Value, String> {
    let template = &rollout["spec"]["template"];
    let empty = template.is_null() || template.as_object().is_some_and(|t| t.is_empty());
    if !empty {
        return Err("template must be empty for workload reference rollout".into());
    }
    let Some((template_path, selector_path)) = reference.paths() else {
        return Err(format!(
            "workload of type {}/{} is not supported",
            reference.api_version, reference.kind
        ));
    };
    let Some(workload) = workload else {
        return Err(format!(
            "{} {:?} referenced by spec.workloadRef is not found",
            reference.kind, reference.name
        ));
    };
    let at = |path: &[&str]| path.iter().fold(workload, |v, field| &v[*field]);
    let mut resolved = rollout.clone();
    resolved["spec"]["template"] = at(template_path).clone();
    if resolved["spec"]["selector"].is_null()
        && let Some(path) = selector_path
    {
        resolved["spec"]["selector"] = at(path).clone();
    }
    Ok(resolved)
}

/// The status field Argo sets from the workload: its generation, as a string.
pub fn observe(status: &mut Value, workload: &Value) {
    if let Some(generation) = workload["metadata"]["generation"].as_i64() {
        if !status.is_object() {
            *status = json!({});
        }
        status["workloadObservedGeneration"] = json!(generation.to_string());
    }
}

/// The replica count the referenced Deployment should be given, if it should change. As in
/// Argo (`reconcileNewReplicaSet`, `syncRolloutStatus`), only while the Rollout's first
/// revision is the current one: the migration from the Deployment. `onsuccess` scales it to
/// zero once the Rollout is Healthy; `progressively` gives it what the Rollout's ready pods do
/// not yet cover, and zero once Healthy.
pub fn deployment_replicas(
    reference: &WorkloadRef,
    rollout: &Value,
    status: &Value,
    current_revision: Option<u64>,
    deployment_replicas: i64,
) -> Option<i64> {
    if reference.kind != "Deployment" || current_revision != Some(1) {
        return None;
    }
    let healthy = status["phase"] == "Healthy";
    let wanted = match reference.scale_down {
        ScaleDown::Never => return None,
        ScaleDown::OnSuccess if healthy => 0,
        ScaleDown::OnSuccess => return None,
        ScaleDown::Progressively if healthy => 0,
        ScaleDown::Progressively => {
            let replicas = rollout["spec"]["replicas"].as_i64()?;
            let ready = status["readyReplicas"].as_i64().unwrap_or(0);
            // Before the Rollout has a ready pod the Deployment keeps serving; after an abort
            // it takes the load back.
            if ready == 0 && status["abort"] != true {
                return None;
            }
            (replicas - ready).max(0)
        }
    };
    (wanted != deployment_replicas).then_some(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(extra: Value) -> Value {
        let mut r = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 4,
                "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                    "scaleDown": "progressively"},
                "strategy": {"canary": {"steps": [{"setWeight": 50}]}}}});
        if let Some(fields) = extra.as_object() {
            for (k, v) in fields {
                r["spec"][k] = v.clone();
            }
        }
        r
    }

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": 3},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})
    }

    #[test]
    fn the_workloads_template_and_selector_fill_the_rollout() {
        let r = rollout(json!({}));
        let reference = reference(&r).unwrap();
        assert_eq!(reference.scale_down, ScaleDown::Progressively);
        let resolved = resolve(&r, &reference, Some(&deployment())).unwrap();
        assert_eq!(
            resolved["spec"]["template"]["spec"]["containers"][0]["image"],
            "web:1"
        );
        assert_eq!(resolved["spec"]["selector"]["matchLabels"]["app"], "web");
        let spec = bosun_model::rollout::RolloutSpec::from_object(&resolved).unwrap();
        assert_eq!(spec.replicas(), 4);
        // The Rollout's own selector wins.
        let own = rollout(json!({"selector": {"matchLabels": {"tier": "front"}}}));
        let resolved = resolve(&own, &reference, Some(&deployment())).unwrap();
        assert_eq!(resolved["spec"]["selector"]["matchLabels"]["tier"], "front");
        let mut status = json!({});
        observe(&mut status, &deployment());
        assert_eq!(status["workloadObservedGeneration"], "3");
    }

    #[test]
    fn a_template_beside_the_reference_or_a_missing_workload_is_said_so() {
        let both = rollout(json!({"template": {"spec": {"containers": []}}}));
        let reference = reference(&both).unwrap();
        assert_eq!(
            resolve(&both, &reference, Some(&deployment())).unwrap_err(),
            "template must be empty for workload reference rollout"
        );
        assert_eq!(
            resolve(&rollout(json!({})), &reference, None).unwrap_err(),
            "Deployment \"web\" referenced by spec.workloadRef is not found"
        );
        let mut odd = reference.clone();
        odd.api_version = "batch/v1".into();
        odd.kind = "Job".into();
        assert_eq!(
            resolve(&rollout(json!({})), &odd, Some(&deployment())).unwrap_err(),
            "workload of type batch/v1/Job is not supported"
        );
    }

    #[test]
    fn the_deployment_is_scaled_down_as_argo_does_at_the_first_revision_only() {
        let r = rollout(json!({}));
        let mut reference = reference(&r).unwrap();
        let progressing = json!({"phase": "Progressing", "readyReplicas": 1});
        let healthy = json!({"phase": "Healthy", "readyReplicas": 4});
        // progressively: what the Rollout's ready pods do not cover, then zero.
        assert_eq!(
            deployment_replicas(&reference, &r, &progressing, Some(1), 4),
            Some(3)
        );
        assert_eq!(
            deployment_replicas(&reference, &r, &json!({"phase": "Progressing"}), Some(1), 4),
            None,
            "no ready pod yet: the Deployment keeps serving"
        );
        assert_eq!(
            deployment_replicas(&reference, &r, &healthy, Some(1), 4),
            Some(0)
        );
        assert_eq!(
            deployment_replicas(&reference, &r, &healthy, Some(1), 0),
            None
        );
        assert_eq!(
            deployment_replicas(&reference, &r, &healthy, Some(2), 4),
            None,
            "only the migration's first revision"
        );
        reference.scale_down = ScaleDown::OnSuccess;
        assert_eq!(
            deployment_replicas(&reference, &r, &progressing, Some(1), 4),
            None
        );
        assert_eq!(
            deployment_replicas(&reference, &r, &healthy, Some(1), 4),
            Some(0)
        );
        reference.scale_down = ScaleDown::Never;
        assert_eq!(
            deployment_replicas(&reference, &r, &healthy, Some(1), 4),
            None
        );
    }
}
