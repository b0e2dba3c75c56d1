//! The `job` provider: a Kubernetes Job made from the metric's `job: {metadata, spec}`; the
//! measurement is Running until the Job completes (Successful) or fails (Failed). Conditions
//! are not used, as in Argo. The Job is named `<run uid>.<metric>.<n>`, labelled with the run's
//! uid, owned by the run (so it goes with it), and deleted when the run is terminated while it
//! still runs.

use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use super::error;
use crate::assess::Measurement;
use crate::phase::Phase;

pub const UID_LABEL: &str = "analysisrun.argoproj.io/uid";

fn job_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("batch", "v1", "Job"), "jobs")
}

/// The Job's name: at most 63 characters, the metric's name shortened to fit.
pub fn job_name(run_uid: &str, metric: &str, ordinal: i64) -> String {
    let suffix = format!(".{ordinal}");
    let room = 63usize.saturating_sub(run_uid.len() + 1 + suffix.len());
    let metric: String = metric.chars().take(room).collect();
    format!("{run_uid}.{metric}{suffix}")
}

/// Creates the Job of a new measurement.
pub async fn start(
    client: &kube::Client,
    run: &Value,
    metric: &str,
    config: &Value,
    ordinal: i64,
) -> Measurement {
    let namespace = run["metadata"]["namespace"].as_str().unwrap_or("default");
    let uid = run["metadata"]["uid"].as_str().unwrap_or_default();
    let run_name = run["metadata"]["name"].as_str().unwrap_or_default();
    let name = job_name(uid, metric, ordinal);
    let mut metadata = config["metadata"].clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["name"] = json!(name);
    metadata["namespace"] = json!(namespace);
    metadata["labels"][UID_LABEL] = json!(uid);
    metadata["annotations"]["analysisrun.argoproj.io/name"] = json!(run_name);
    metadata["annotations"]["analysisrun.argoproj.io/namespace"] = json!(namespace);
    metadata["annotations"]["analysisrun.argoproj.io/metric-name"] = json!(metric);
    metadata["ownerReferences"] = json!([{
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "name": run_name, "uid": uid,
        "controller": true, "blockOwnerDeletion": true
    }]);
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": config["spec"]});
    let object: DynamicObject = match serde_json::from_value(job) {
        Ok(o) => o,
        Err(e) => return error(format!("job metric: {e}")),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &job_resource());
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => {}
        // Created by a reconcile that did not get to record it: the same Job.
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return error(format!("creating Job {namespace}/{name}: {e}")),
    }
    let mut m = Measurement {
        phase: Phase::Running,
        started_at: Some(jiff::Timestamp::now().to_string()),
        ..Default::default()
    };
    m.metadata.insert("job-name".into(), name);
    m.metadata
        .insert("job-namespace".into(), namespace.to_string());
    m
}

/// Looks at the Job of a running measurement: Complete → Successful, Failed → Failed.
pub async fn resume(client: &kube::Client, mut m: Measurement) -> Measurement {
    let (Some(name), Some(namespace)) = (
        m.metadata.get("job-name").cloned(),
        m.metadata.get("job-namespace").cloned(),
    ) else {
        return error("job measurement without its Job's name");
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &job_resource());
    let job = match api.get_opt(&name).await {
        Ok(Some(job)) => job,
        Ok(None) => return error(format!("Job {namespace}/{name} is gone")),
        Err(e) => return error(format!("reading Job {namespace}/{name}: {e}")),
    };
    let condition = |kind: &str| {
        job.data["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == kind && c["status"] == "True")
    };
    let phase = if condition("Complete") {
        Phase::Successful
    } else if condition("Failed") {
        Phase::Failed
    } else {
        return m;
    };
    m.phase = phase;
    m.finished_at = Some(jiff::Timestamp::now().to_string());
    m
}

/// Stops the Job of a running measurement (the run ends): deleted, the measurement Successful
/// with "Metric Terminated", as Argo.
pub async fn terminate(client: &kube::Client, mut m: Measurement) -> Measurement {
    if let (Some(name), Some(namespace)) =
        (m.metadata.get("job-name"), m.metadata.get("job-namespace"))
    {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), namespace, &job_resource());
        let _ = api.delete(name, &DeleteParams::foreground()).await;
    }
    m.phase = Phase::Successful;
    m.message = "Metric Terminated".into();
    m.finished_at = Some(jiff::Timestamp::now().to_string());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_fit_in_63_characters() {
        let uid = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
        let name = job_name(uid, &"m".repeat(80), 12);
        assert_eq!(name.len(), 63);
        assert!(name.starts_with(uid) && name.ends_with(".12"));
        assert_eq!(job_name(uid, "rate", 1), format!("{uid}.rate.1"));
    }
}
