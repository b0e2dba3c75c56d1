//! The simulated control plane: the controllers a real cluster runs (garbage collector, namespace
//! lifecycle, CRD establishment, and the workload controllers with a kwok-like kubelet), each a
//! task that reacts to store events and resyncs periodically. They write through the same
//! [`Objects`](crate::objects::Objects) API as HTTP clients, so every change they make is
//! versioned, persisted and watchable.

pub mod conditions;
pub mod crd;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod events;
pub mod gc;
pub mod hpa;
pub mod ingress;
pub mod intstr;
pub mod job;
pub mod kubelet;
pub mod namespace;
pub mod ownership;
pub mod podstate;
pub mod pvc;
pub mod replicaset;
pub mod runner;
pub mod service;
pub mod statefulset;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::objects::WriteOptions;
use crate::resources::ResourceType;
use crate::server::Shared;
use crate::store::WatchEvent;

/// Delays of the simulation, shortened in tests.
#[derive(Clone, Debug)]
pub struct Timing {
    /// How long a Pod takes from creation to Ready.
    pub pod_ready_delay: Duration,
    /// How long a Job's Pod runs before it completes (or fails).
    pub job_run_time: Duration,
    /// How often every controller looks at everything, events or not.
    pub resync: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            pod_ready_delay: Duration::from_secs(2),
            job_run_time: Duration::from_secs(3),
            resync: Duration::from_secs(5),
        }
    }
}

/// The field manager controllers write under, as kube-controller-manager does.
pub fn controller_write() -> WriteOptions {
    WriteOptions::manager("kube-controller-manager")
}

/// A built-in resource type by group and plural.
pub fn builtin(state: &Shared, group: &str, version: &str, plural: &str) -> ResourceType {
    state
        .objects
        .registry
        .by_plural(group, version, plural)
        .unwrap_or_else(|| panic!("{plural}.{group} is a built-in type"))
}

/// Starts every controller in `tasks` (so that stopping the cluster stops them) and creates what
/// a fresh cluster has (nodes, system namespaces).
pub fn start(state: Shared, nodes: usize, tasks: &mut tokio::task::JoinSet<()>) {
    bootstrap(&state, nodes);
    tasks.spawn(crd::run(state.clone()));
    tasks.spawn(namespace::run(state.clone()));
    tasks.spawn(deployment::run(state.clone()));
    tasks.spawn(replicaset::run(state.clone()));
    tasks.spawn(kubelet::run(state.clone()));
    tasks.spawn(statefulset::run(state.clone()));
    tasks.spawn(daemonset::run(state.clone()));
    tasks.spawn(job::run(state.clone()));
    tasks.spawn(cronjob::run(state.clone()));
    tasks.spawn(service::run(state.clone()));
    tasks.spawn(pvc::run(state.clone()));
    tasks.spawn(ingress::run(state.clone()));
    tasks.spawn(hpa::run(state.clone()));
    tasks.spawn(gc::run(state));
}

fn bootstrap(state: &Shared, nodes: usize) {
    let namespaces = builtin(state, "", "v1", "namespaces");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if state
            .objects
            .store
            .get(&namespaces.group_resource(), "", ns)
            .is_none()
        {
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}});
            let _ = state
                .objects
                .create(&namespaces, "", object, &controller_write());
        }
    }
    let node_type = builtin(state, "", "v1", "nodes");
    for i in 0..nodes {
        let name = format!("bosun-node-{i}");
        if state
            .objects
            .store
            .get(&node_type.group_resource(), "", &name)
            .is_some()
        {
            continue;
        }
        let node = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "bosun-simulated",
            }},
            "spec": {},
        });
        if state
            .objects
            .create(&node_type, "", node, &controller_write())
            .is_ok()
        {
            let now = crate::objects::now();
            let _ = state.objects.modify(&node_type, "", &name, Some("status"), &controller_write(), |live| {
                let mut next = live.clone();
                next["status"] = json!({
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "simulated by bosun", "lastHeartbeatTime": now, "lastTransitionTime": now}],
                    "addresses": [{"type": "InternalIP", "address": format!("10.0.0.{}", i + 1)}, {"type": "Hostname", "address": name}],
                    "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                    "nodeInfo": {"kubeletVersion": format!("v1.{}.0-bosun", crate::api::discovery::KUBE_MINOR),
                        "containerRuntimeVersion": "bosun://simulated", "operatingSystem": "linux", "architecture": "amd64"},
                });
                Ok(next)
            });
        }
    }
}

/// The loop every controller runs: `sync_all` at start and on every resync tick (and after the
/// event stream lagged), `on_event` for each store event.
pub async fn event_loop<F, G>(state: Shared, mut on_event: F, mut sync_all: G)
where
    F: FnMut(&Shared, &Arc<WatchEvent>),
    G: FnMut(&Shared),
{
    let mut events = state.objects.store.subscribe();
    sync_all(&state);
    let mut ticker = tokio::time::interval(state.timing.resync);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => sync_all(&state),
            received = events.recv() => match received {
                Ok(event) => on_event(&state, &event),
                Err(RecvError::Lagged(_)) => sync_all(&state),
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// `metadata.uid`
pub fn uid_of(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or_default()
}
