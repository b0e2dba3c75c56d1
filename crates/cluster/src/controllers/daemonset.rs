//! The DaemonSet controller, after `pkg/controller/daemon`: one Pod on every simulated Node that
//! matches the template's nodeSelector/affinity, pinned there by a required node affinity on
//! `metadata.name` (as upstream does, leaving the binding to the scheduler), labelled with
//! `controller-revision-hash` and `pod-template-generation`. A template change rolls out with
//! `RollingUpdate` (old Pods deleted while no more than `maxUnavailable` are unavailable;
//! `OnDelete` waits for the user). Taints and tolerations are not simulated.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::deployment::pod_template_hash;
use super::intstr::scaled_value;
use super::kubelet::node_matches;
use super::ownership::{OwnedIndex, owner_key};
use super::podstate::{availability, is_active, is_ready, pod_from_template};
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, controller_write, uid_of};
use crate::objects::{DeleteOptions, name_of, namespace_of};
use crate::server::Shared;
use crate::store::WatchEvent;

const REVISION_LABEL: &str = "controller-revision-hash";

pub async fn run(state: Shared) {
    super::runner::run(
        state,
        DaemonSetController {
            pods: OwnedIndex::new("", "pods"),
        },
    )
    .await;
}

struct DaemonSetController {
    pods: OwnedIndex,
}

/// The Node a DaemonSet Pod is meant for: its nodeName, else its affinity's `metadata.name`.
fn target_node(pod: &Value) -> Option<String> {
    if let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        return Some(node.to_string());
    }
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]
        .as_str()
        .map(String::from)
}

impl Reconciler for DaemonSetController {
    fn keys_for(&mut self, state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "apps", "daemonsets") {
            return vec![event_key(event)];
        }
        if is_type(event, "", "pods") {
            self.pods.observe(event);
            return owner_key(&event.object, "DaemonSet").into_iter().collect();
        }
        if is_type(event, "", "nodes") {
            return self.all_keys(state);
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        self.pods.rebuild(state);
        let sets = builtin(state, "apps", "v1", "daemonsets");
        state
            .objects
            .list(&sets, None)
            .items
            .iter()
            .map(|d| (namespace_of(d).to_string(), name_of(d).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let sets = builtin(state, "apps", "v1", "daemonsets");
        let pods_type = builtin(state, "", "v1", "pods");
        let nodes_type = builtin(state, "", "v1", "nodes");
        let ds = state.objects.get(&sets, &key.0, &key.1).ok()?;
        let template = &ds["spec"]["template"];
        let hash = pod_template_hash(template, ds["status"]["collisionCount"].as_u64());
        let generation = ds["metadata"]["generation"]
            .as_i64()
            .unwrap_or(1)
            .to_string();
        let probe = json!({"spec": template["spec"]});
        let nodes: Vec<String> = state
            .objects
            .list(&nodes_type, None)
            .items
            .iter()
            .filter(|n| !n["metadata"]["deletionTimestamp"].is_string() && node_matches(&probe, n))
            .map(|n| name_of(n).to_string())
            .collect();
        let owned = self.pods.children(state, uid_of(&ds));
        let mut by_node: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for pod in owned.iter().filter(|p| is_active(p)) {
            if let Some(node) = target_node(pod) {
                by_node.entry(node).or_default().push(pod);
            }
        }
        let deleting = ds["metadata"]["deletionTimestamp"].is_string();
        let delete = |pod: &Value| {
            let _ = state.objects.delete(
                &pods_type,
                namespace_of(pod),
                name_of(pod),
                &DeleteOptions::default(),
            );
        };
        // Misscheduled Pods (their Node no longer qualifies) and duplicates go.
        let mut misscheduled = 0;
        for (node, pods) in &by_node {
            if !nodes.contains(node) {
                misscheduled += pods.len() as i64;
                if !deleting {
                    pods.iter().for_each(|p| delete(p));
                }
            } else {
                pods.iter().skip(1).for_each(|p| delete(p));
            }
        }
        if !deleting {
            for node in nodes.iter().filter(|n| !by_node.contains_key(*n)) {
                let mut pod = pod_from_template(
                    &ds,
                    template,
                    None,
                    &[
                        (REVISION_LABEL, &hash),
                        ("pod-template-generation", &generation),
                    ],
                );
                pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
                    "nodeSelectorTerms": [{"matchFields": [
                        {"key": "metadata.name", "operator": "In", "values": [node]}]}]});
                if let Ok(created) =
                    state
                        .objects
                        .create(&pods_type, &key.0, pod, &controller_write())
                {
                    self.pods.record(&created);
                }
            }
        }
        // Status over the Nodes that should run a Pod.
        let min_ready = ds["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let (mut scheduled, mut ready, mut available, mut updated) = (0, 0, 0, 0);
        let mut recheck: Option<Duration> = None;
        let mut old_pods: Vec<(&Value, bool)> = Vec::new();
        for node in &nodes {
            let Some(pod) = by_node.get(node).and_then(|p| p.first()) else {
                continue;
            };
            scheduled += 1;
            if is_ready(pod) {
                ready += 1;
            }
            let (is_available, after) = availability(pod, min_ready);
            if is_available {
                available += 1;
            }
            if let Some(after) = after {
                recheck = Some(recheck.map_or(after, |r| r.min(after)));
            }
            if pod["metadata"]["labels"][REVISION_LABEL] == hash.as_str() {
                updated += 1;
            } else {
                old_pods.push((pod, is_available));
            }
        }
        let desired = nodes.len() as i64;
        let unavailable = desired - available;
        if !deleting && ds["spec"]["updateStrategy"]["type"] != "OnDelete" {
            let max_unavailable = scaled_value(
                &ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
                desired,
                true,
            )
            .max(1);
            // Unavailable old Pods cost nothing to replace; then as many available ones as the
            // budget allows.
            old_pods.sort_by_key(|(_, available)| *available);
            let mut budget = max_unavailable - unavailable;
            for (pod, is_available) in old_pods {
                if !is_available {
                    delete(pod);
                } else if budget > 0 {
                    delete(pod);
                    budget -= 1;
                }
            }
        }
        let mut status = Map::new();
        for (field, value, always) in [
            ("currentNumberScheduled", scheduled, true),
            ("numberMisscheduled", misscheduled, true),
            ("desiredNumberScheduled", desired, true),
            ("numberReady", ready, true),
            (
                "observedGeneration",
                ds["metadata"]["generation"].as_i64().unwrap_or(0),
                false,
            ),
            ("updatedNumberScheduled", updated, false),
            ("numberAvailable", available, false),
            ("numberUnavailable", unavailable, false),
        ] {
            if always || value != 0 {
                status.insert(field.into(), json!(value));
            }
        }
        let _ = state.objects.modify(
            &sets,
            &key.0,
            &key.1,
            Some("status"),
            &controller_write(),
            |live| {
                let mut next = live.clone();
                let mut status = Value::Object(status);
                if let Some(c) = live["status"]["collisionCount"].as_i64() {
                    status["collisionCount"] = json!(c);
                }
                next["status"] = status;
                Ok(next)
            },
        );
        recheck
    }
}
