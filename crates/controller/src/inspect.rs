//! One object of an Application as the API and the UI show it: its live manifest (Secret values
//! masked by the Plan stage's one masking), the Kubernetes Events whose `involvedObject` it is,
//! and its Pods' container logs (a Pod's own, or those of the Pods below a workload).
//!
//! Only objects of the Application's resource tree are answered: a token that may read an
//! Application must not read any other object of its cluster through it.

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Client;
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value;

/// Which object of the tree: Argo CD's `group`, `kind`, `namespace` and `resourceName`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectRef {
    pub group: String,
    pub kind: String,
    /// Empty for a cluster-scoped object.
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn key(&self) -> bosun_plan::ResourceKey {
        bosun_plan::ResourceKey {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: (!self.namespace.is_empty()).then(|| self.namespace.clone()),
            name: self.name.clone(),
        }
    }

    /// `Deployment web/api` as a message names it.
    pub fn describe(&self) -> String {
        let kind = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        };
        if self.namespace.is_empty() {
            format!("{kind} {}", self.name)
        } else {
            format!("{kind} {}/{}", self.namespace, self.name)
        }
    }

    fn is(&self, node: &Value) -> bool {
        node["group"].as_str().unwrap_or("") == self.group
            && node["kind"].as_str().unwrap_or("") == self.kind
            && node["namespace"].as_str().unwrap_or("") == self.namespace
            && node["name"].as_str().unwrap_or("") == self.name
    }
}

/// The tree node of `object`, if the tree has it.
pub fn find<'a>(nodes: &'a [Value], object: &ObjectRef) -> Option<&'a Value> {
    nodes.iter().find(|n| object.is(n))
}

/// How many log lines when the caller does not say, and the most it may ask for.
pub const DEFAULT_TAIL_LINES: i64 = 100;
pub const MAX_TAIL_LINES: i64 = 10_000;

/// What to read of the containers' logs (Argo CD's `container`, `tailLines`, `previous`).
#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    /// One container; every container of each Pod when `None`.
    pub container: Option<String>,
    pub tail_lines: Option<i64>,
    /// The run before the last restart.
    pub previous: bool,
}

/// The Pods whose logs `node` stands for: itself when it is a Pod, else the Pods below it in
/// the tree (a Deployment's through its ReplicaSets), in the tree's order.
pub fn pods_of(nodes: &[Value], node: &Value) -> Vec<(String, String)> {
    let is_pod = |n: &Value| n["kind"] == "Pod" && n["group"].as_str().unwrap_or("").is_empty();
    if is_pod(node) {
        return vec![pod_id(node)];
    }
    let mut pods = Vec::new();
    let mut parents: Vec<&Value> = vec![node];
    // uids already walked: ownerReferences are data, and a loop in them must not hang a page.
    let mut seen = std::collections::BTreeSet::new();
    while let Some(parent) = parents.pop() {
        let Some(uid) = parent["uid"].as_str() else {
            continue;
        };
        if !seen.insert(uid) {
            continue;
        }
        for child in nodes.iter().filter(|n| {
            n["parentRefs"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
        }) {
            if is_pod(child) {
                pods.push(pod_id(child));
            } else {
                parents.push(child);
            }
        }
    }
    pods.sort();
    pods.dedup();
    pods
}

fn pod_id(node: &Value) -> (String, String) {
    (
        node["namespace"].as_str().unwrap_or("").to_string(),
        node["name"].as_str().unwrap_or("").to_string(),
    )
}

/// The Events whose involvedObject is `object` (and, when its uid is known, that very
/// object, not an earlier one of the same name), oldest first. Events of cluster-scoped
/// objects live in `default`, where the recorder puts them.
pub async fn events(
    client: &Client,
    object: &ObjectRef,
    uid: Option<&str>,
) -> Result<Vec<bosun_api::ResourceEvent>, kube::Error> {
    let namespace = if object.namespace.is_empty() {
        "default"
    } else {
        &object.namespace
    };
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let listed = api.list(&ListParams::default()).await?;
    let mut events: Vec<&Event> = listed
        .items
        .iter()
        .filter(|e| {
            let involved = &e.involved_object;
            involved.kind.as_deref() == Some(object.kind.as_str())
                && involved.name.as_deref() == Some(object.name.as_str())
                && involved.namespace.as_deref().unwrap_or("") == object.namespace
                && match (uid, involved.uid.as_deref()) {
                    (Some(want), Some(got)) if !got.is_empty() => want == got,
                    _ => true,
                }
        })
        .collect();
    let time = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    };
    events.sort_by_key(|e| time(e));
    Ok(events
        .into_iter()
        .map(|e| bosun_api::ResourceEvent {
            event_type: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
            first_timestamp: e.first_timestamp.as_ref().map(|t| t.0.to_string()),
            last_timestamp: e.last_timestamp.as_ref().map(|t| t.0.to_string()),
            source: e
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .or_else(|| e.reporting_component.clone())
                .unwrap_or_default(),
        })
        .collect())
}

/// The logs of `pods`' containers (`options.container` only, when given), as the cluster's
/// `pods/log` gives them. A container without a log (not started, no previous run, not one of
/// the Pod's) is an entry with the cluster's reason.
pub async fn logs(
    client: &Client,
    pods: &[(String, String)],
    options: &LogOptions,
) -> Vec<bosun_api::PodLog> {
    let tail_lines = options
        .tail_lines
        .unwrap_or(DEFAULT_TAIL_LINES)
        .clamp(1, MAX_TAIL_LINES);
    let mut out = Vec::new();
    for (namespace, name) in pods {
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let containers: Vec<String> = match &options.container {
            Some(c) => vec![c.clone()],
            None => match api.get_opt(name).await {
                Ok(Some(pod)) => pod
                    .spec
                    .map(|s| s.containers.into_iter().map(|c| c.name).collect())
                    .unwrap_or_default(),
                Ok(None) => {
                    out.push(bosun_api::PodLog {
                        pod_name: name.clone(),
                        namespace: namespace.clone(),
                        error: Some(format!("pod {namespace}/{name} is gone")),
                        ..Default::default()
                    });
                    continue;
                }
                Err(e) => {
                    out.push(bosun_api::PodLog {
                        pod_name: name.clone(),
                        namespace: namespace.clone(),
                        error: Some(e.to_string()),
                        ..Default::default()
                    });
                    continue;
                }
            },
        };
        for container in containers {
            let params = LogParams {
                container: Some(container.clone()),
                tail_lines: Some(tail_lines),
                previous: options.previous,
                ..LogParams::default()
            };
            let (content, error) = match api.logs(name, &params).await {
                Ok(text) => (text, None),
                Err(kube::Error::Api(status)) => (String::new(), Some(status.message)),
                Err(e) => (String::new(), Some(e.to_string())),
            };
            out.push(bosun_api::PodLog {
                pod_name: name.clone(),
                namespace: namespace.clone(),
                container,
                content,
                error,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deployments_pods_are_found_through_its_replica_sets() {
        let nodes = vec![
            json!({"group": "apps", "kind": "Deployment", "namespace": "web", "name": "web", "uid": "d", "parentRefs": []}),
            json!({"group": "apps", "kind": "ReplicaSet", "namespace": "web", "name": "web-1", "uid": "r", "parentRefs": [{"uid": "d"}]}),
            json!({"group": "", "kind": "Pod", "namespace": "web", "name": "web-1-b", "uid": "p2", "parentRefs": [{"uid": "r"}]}),
            json!({"group": "", "kind": "Pod", "namespace": "web", "name": "web-1-a", "uid": "p1", "parentRefs": [{"uid": "r"}]}),
            json!({"group": "", "kind": "Pod", "namespace": "web", "name": "other", "uid": "p3", "parentRefs": [{"uid": "x"}]}),
            json!({"group": "", "kind": "ConfigMap", "namespace": "web", "name": "c", "uid": null, "parentRefs": []}),
        ];
        let deployment = ObjectRef {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: "web".into(),
            name: "web".into(),
        };
        let node = find(&nodes, &deployment).unwrap();
        let web = |p: &str| ("web".to_string(), p.to_string());
        assert_eq!(pods_of(&nodes, node), [web("web-1-a"), web("web-1-b")]);
        assert_eq!(pods_of(&nodes, &nodes[2]), [web("web-1-b")]);
        assert!(pods_of(&nodes, &nodes[5]).is_empty());
        let wrong_group = ObjectRef {
            group: "".into(),
            ..deployment
        };
        assert!(find(&nodes, &wrong_group).is_none());
    }
}
