//! An AnalysisRun made from a Rollout's analysis block, as Argo Rollouts makes it: the
//! templates (`AnalysisTemplate`, or `ClusterAnalysisTemplate` with `clusterScope: true`, and the
//! templates they name in turn) fetched and flattened, the Rollout's `args` merged over the
//! templates' (`value`, `valueFrom.podTemplateHashValue: Stable|Latest`,
//! `valueFrom.fieldRef.fieldPath` on the Rollout), and the run labelled and owned as Argo's.

use std::collections::BTreeMap;

use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::providers::web::find;

/// What the Rollout controller asks for.
pub struct RunOrder<'a> {
    pub rollout: &'a Value,
    /// The step's or the strategy's `analysis` block.
    pub analysis: &'a Value,
    pub name: &'a str,
    /// `Step` or `Background` (the `rollout-type` label).
    pub kind: &'a str,
    pub step: Option<usize>,
    /// The new revision's pod-template hash (`Latest`) and the stable one (`Stable`).
    pub latest_hash: &'a str,
    pub stable_hash: &'a str,
    pub revision: u64,
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", kind),
        plural,
    )
}

/// Fetches a template and, recursively, the templates it names (Argo's nested templates).
async fn fetch(
    client: &kube::Client,
    namespace: &str,
    reference: &Value,
    depth: usize,
    into: &mut Vec<Value>,
) -> Result<(), String> {
    let name = reference["templateName"]
        .as_str()
        .ok_or("an analysis template reference without templateName")?;
    if depth > 10 {
        return Err(format!(
            "analysis template {name}: templates nest more than 10 deep"
        ));
    }
    let cluster = reference["clusterScope"].as_bool().unwrap_or(false);
    let (api, what): (Api<DynamicObject>, &str) = if cluster {
        (
            Api::all_with(
                client.clone(),
                &resource("ClusterAnalysisTemplate", "clusteranalysistemplates"),
            ),
            "ClusterAnalysisTemplate",
        )
    } else {
        (
            Api::namespaced_with(
                client.clone(),
                namespace,
                &resource("AnalysisTemplate", "analysistemplates"),
            ),
            "AnalysisTemplate",
        )
    };
    let template = match api.get_opt(name).await {
        Ok(Some(t)) => t,
        Ok(None) => return Err(format!("{what} \"{name}\" not found")),
        Err(e) => return Err(format!("reading {what} \"{name}\": {e}")),
    };
    let spec = template.data["spec"].clone();
    for nested in spec["templates"].as_array().into_iter().flatten() {
        Box::pin(fetch(client, namespace, nested, depth + 1, into)).await?;
    }
    into.push(spec);
    Ok(())
}

/// The value of a Rollout-side argument: `value`, a pod-template hash, or a field of the Rollout.
fn rollout_arg(order: &RunOrder, arg: &Value) -> Result<Option<Value>, String> {
    let name = arg["name"].as_str().unwrap_or_default();
    if let Some(v) = arg["value"].as_str() {
        return Ok(Some(json!({"name": name, "value": v})));
    }
    let from = &arg["valueFrom"];
    if let Some(which) = from["podTemplateHashValue"].as_str() {
        let hash = match which {
            "Latest" => order.latest_hash,
            "Stable" => order.stable_hash,
            other => {
                return Err(format!(
                    "args.{name}: podTemplateHashValue {other:?} is not Stable or Latest"
                ));
            }
        };
        return Ok(Some(json!({"name": name, "value": hash})));
    }
    if let Some(path) = from["fieldRef"]["fieldPath"].as_str() {
        let value = find(order.rollout, &format!(".{path}"))
            .map_err(|e| format!("args.{name}: fieldRef {path}: {e}"))?
            .ok_or_else(|| format!("args.{name}: the Rollout has no field {path}"))?;
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        return Ok(Some(json!({"name": name, "value": text})));
    }
    Ok(None)
}

/// The AnalysisRun object for `order`, ready to create.
pub async fn run_for(client: &kube::Client, order: &RunOrder<'_>) -> Result<Value, String> {
    let rollout = order.rollout;
    let namespace = rollout["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let mut specs = Vec::new();
    let references = order.analysis["templates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if references.is_empty() {
        return Err("analysis names no templates".into());
    }
    for reference in &references {
        fetch(client, namespace, reference, 0, &mut specs).await?;
    }
    // Arguments: the templates' (the same name twice must agree), then the Rollout's over them.
    let mut args: BTreeMap<String, Value> = BTreeMap::new();
    for spec in &specs {
        for arg in spec["args"].as_array().into_iter().flatten() {
            let name = arg["name"].as_str().unwrap_or_default().to_string();
            if let Some(existing) = args.get(&name)
                && existing.get("value").is_some()
                && arg.get("value").is_some()
                && existing["value"] != arg["value"]
            {
                return Err(format!(
                    "Argument `{name}` specified multiple times with different values: '{}', '{}'",
                    existing["value"].as_str().unwrap_or_default(),
                    arg["value"].as_str().unwrap_or_default()
                ));
            }
            args.entry(name).or_insert_with(|| arg.clone());
        }
    }
    for arg in order.analysis["args"].as_array().into_iter().flatten() {
        if let Some(resolved) = rollout_arg(order, arg)? {
            let name = arg["name"].as_str().unwrap_or_default().to_string();
            args.insert(name, resolved);
        }
    }
    for (name, arg) in &args {
        if arg.get("value").is_none_or(Value::is_null)
            && arg.get("valueFrom").is_none_or(Value::is_null)
        {
            return Err(format!("args.{name} was not resolved"));
        }
    }
    let mut metrics: Vec<Value> = Vec::new();
    for spec in &specs {
        for metric in spec["metrics"].as_array().into_iter().flatten() {
            let name = metric["name"].as_str().unwrap_or_default();
            if metrics.iter().any(|m| m["name"] == name) {
                return Err(format!("two metrics have the same name '{name}'"));
            }
            metrics.push(metric.clone());
        }
    }
    let concat = |field: &str| -> Value {
        let mut all: Vec<Value> = specs
            .iter()
            .flat_map(|s| s[field].as_array().cloned().unwrap_or_default())
            .collect();
        all.extend(
            order.analysis[field]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        Value::Array(all)
    };
    let mut labels = json!({
        "rollouts-pod-template-hash": order.latest_hash,
        "rollout-type": order.kind,
    });
    if let Some(step) = order.step {
        labels["step-index"] = json!(step.to_string());
    }
    let meta = &order.analysis["analysisRunMetadata"];
    for (k, v) in meta["labels"].as_object().into_iter().flatten() {
        labels[k] = v.clone();
    }
    for (k, v) in rollout["spec"]["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
    {
        labels[k] = v.clone();
    }
    let mut annotations = json!({"rollout.argoproj.io/revision": order.revision.to_string()});
    for (k, v) in meta["annotations"].as_object().into_iter().flatten() {
        annotations[k] = v.clone();
    }
    let mut spec = json!({
        "metrics": metrics,
        "args": args.into_values().collect::<Vec<_>>(),
    });
    for field in ["dryRun", "measurementRetention"] {
        let v = concat(field);
        if v.as_array().is_some_and(|a| !a.is_empty()) {
            spec[field] = v;
        }
    }
    Ok(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": order.name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "name": rollout["metadata"]["name"], "uid": rollout["metadata"]["uid"],
                "controller": true, "blockOwnerDeletion": true
            }]
        },
        "spec": spec,
    }))
}
