//! Ingress status: every Ingress gets `status.loadBalancer.ingress` with the first simulated
//! Node's InternalIP, as an ingress controller running on the nodes' host network (kind's
//! ingress-nginx setup) reports it. IngressClass selection is not simulated.

use std::time::Duration;

use serde_json::json;

use super::kubelet::node_ip;
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, controller_write};
use crate::objects::{name_of, namespace_of};
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

pub async fn run(state: Shared) {
    super::runner::run(state, IngressStatus).await;
}

struct IngressStatus;

impl Reconciler for IngressStatus {
    fn keys_for(&mut self, _state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "networking.k8s.io", "ingresses")
            && event.event_type != EventType::Deleted
        {
            return vec![event_key(event)];
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        let ingresses = builtin(state, "networking.k8s.io", "v1", "ingresses");
        state
            .objects
            .list(&ingresses, None)
            .items
            .iter()
            .map(|i| (namespace_of(i).to_string(), name_of(i).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let ingresses = builtin(state, "networking.k8s.io", "v1", "ingresses");
        let nodes = builtin(state, "", "v1", "nodes");
        let first_node = state.objects.list(&nodes, None).items.first().cloned()?;
        let ip = node_ip(state, name_of(&first_node));
        let _ = state.objects.modify(
            &ingresses,
            &key.0,
            &key.1,
            Some("status"),
            &controller_write(),
            |live| {
                let mut next = live.clone();
                next["status"] = json!({"loadBalancer": {"ingress": [{"ip": ip}]}});
                Ok(next)
            },
        );
        None
    }
}
