//! The resource tree of an Application, as Argo CD's `resource-tree` shows it: the managed
//! resources, and below them what their controllers created — a Deployment's or an Argo
//! Rollout's ReplicaSets and their Pods, a StatefulSet's or DaemonSet's Pods, a CronJob's Jobs and their Pods — found by
//! `ownerReferences`, each with its own health.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use serde_json::{Value, json};

use crate::status::ResourceStatus;

/// Kinds whose children are looked for, and the kinds those children can be.
const OWNERS: &[&str] = &[
    "Rollout",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "CronJob",
    "Job",
];

fn node(object: &Value, parent: Option<&Value>) -> Value {
    let meta = &object["metadata"];
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let health = bosun_assess::assess(object)
        .map(|h| json!({"status": h.status.as_str(), "message": h.message}));
    json!({
        "group": group,
        "version": api_version.rsplit('/').next().unwrap_or_default(),
        "kind": object["kind"],
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "health": health,
        "parentRefs": parent.map(|p| vec![json!({
            "kind": p["kind"], "namespace": p["metadata"]["namespace"],
            "name": p["metadata"]["name"], "uid": p["metadata"]["uid"],
        })]).unwrap_or_default(),
    })
}

/// A namespaced built-in kind read as JSON (the workloads and their children).
trait Workload:
    Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + serde::Serialize
    + std::fmt::Debug
{
}

impl<K> Workload for K where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
{
}

async fn get<K>(client: &Client, namespace: &str, name: &str) -> Option<Value>
where
    K: Workload,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let object = api.get_opt(name).await.ok().flatten()?;
    to_json(&object)
}

/// An Argo Rollout (a custom resource, so read untyped).
async fn get_rollout(client: &Client, namespace: &str, name: &str) -> Option<Value> {
    let resource = kube::api::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        "rollouts",
    );
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource);
    let object = api.get_opt(name).await.ok().flatten()?;
    let mut value = serde_json::to_value(object).ok()?;
    value["apiVersion"] = json!("argoproj.io/v1alpha1");
    value["kind"] = json!("Rollout");
    Some(value)
}

/// The object as JSON with its apiVersion and kind (typed objects serialise without them).
fn to_json<K: Workload>(object: &K) -> Option<Value> {
    let mut value = serde_json::to_value(object).ok()?;
    value["apiVersion"] = json!(K::api_version(&()));
    value["kind"] = json!(K::kind(&()));
    Some(value)
}

async fn list<K>(client: &Client, namespace: &str) -> Vec<Value>
where
    K: Workload,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    match api.list(&ListParams::default()).await {
        Ok(list) => list.items.into_iter().filter_map(|o| to_json(&o)).collect(),
        Err(e) => {
            tracing::debug!(error = %e, kind = %K::kind(&()), "resource tree: list failed");
            Vec::new()
        }
    }
}

/// The managed resources as nodes, followed by every descendant of the managed workloads.
pub async fn resource_tree(client: &Client, managed: &[ResourceStatus]) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut roots: Vec<Value> = Vec::new();
    for r in managed {
        let live = if OWNERS.contains(&r.kind.as_str()) && !r.namespace.is_empty() {
            match r.kind.as_str() {
                "Rollout" if r.group == "argoproj.io" => {
                    get_rollout(client, &r.namespace, &r.name).await
                }
                "Rollout" => None,
                "Deployment" => get::<Deployment>(client, &r.namespace, &r.name).await,
                "StatefulSet" => get::<StatefulSet>(client, &r.namespace, &r.name).await,
                "DaemonSet" => get::<DaemonSet>(client, &r.namespace, &r.name).await,
                "ReplicaSet" => get::<ReplicaSet>(client, &r.namespace, &r.name).await,
                "CronJob" => get::<CronJob>(client, &r.namespace, &r.name).await,
                _ => get::<Job>(client, &r.namespace, &r.name).await,
            }
        } else {
            None
        };
        nodes.push(json!({
            "group": r.group, "kind": r.kind, "namespace": r.namespace, "name": r.name,
            "uid": live.as_ref().map(|l| l["metadata"]["uid"].clone()),
            "status": r.status, "health": r.health.as_ref().map(bosun_api::HealthStatus::from),
            "parentRefs": [],
        }));
        if let Some(live) = live {
            roots.push(live);
        }
    }
    let namespaces: BTreeSet<String> = roots
        .iter()
        .filter_map(|r| r["metadata"]["namespace"].as_str().map(String::from))
        .collect();
    // Every candidate child in those namespaces, by the uid of its controlling owner.
    let mut by_owner: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ns in &namespaces {
        let mut candidates = list::<ReplicaSet>(client, ns).await;
        candidates.extend(list::<Pod>(client, ns).await);
        candidates.extend(list::<Job>(client, ns).await);
        for object in candidates {
            let owners = object["metadata"]["ownerReferences"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for owner in owners {
                if let Some(uid) = owner["uid"].as_str() {
                    by_owner
                        .entry(uid.to_string())
                        .or_default()
                        .push(object.clone());
                }
            }
        }
    }
    let mut queue = roots;
    let mut seen = BTreeSet::new();
    while let Some(parent) = queue.pop() {
        let Some(uid) = parent["metadata"]["uid"].as_str() else {
            continue;
        };
        for child in by_owner.get(uid).into_iter().flatten() {
            let child_uid = child["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !seen.insert(child_uid) {
                continue;
            }
            nodes.push(node(child, Some(&parent)));
            queue.push(child.clone());
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_nodes_name_their_parent_and_carry_health() {
        let parent = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-1", "namespace": "dev", "uid": "rs-uid"}});
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1-a", "namespace": "dev", "uid": "pod-uid"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0,
                                              "state": {"running": {}}}]}});
        let n = node(&pod, Some(&parent));
        assert_eq!(n["kind"], "Pod");
        assert_eq!(n["group"], "");
        assert_eq!(n["version"], "v1");
        assert_eq!(n["parentRefs"][0]["uid"], "rs-uid");
        assert_eq!(n["parentRefs"][0]["kind"], "ReplicaSet");
        assert!(n["health"]["status"].is_string(), "{n}");
    }
}
