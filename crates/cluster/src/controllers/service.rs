//! Services: a clusterIP from 10.96.0.0/12 (10.96.0.1 and 10.96.0.10 stay free for the
//! `kubernetes` and DNS Services a real cluster has), nodePorts from 30000–32767 for NodePort
//! and LoadBalancer Services, an ingress IP from 172.18.0.0/16 in a LoadBalancer Service's
//! `status.loadBalancer` (what a cloud or MetalLB would report), and the Endpoints controller:
//! an `Endpoints` object of the Service's name listing the Pods its selector matches — Ready
//! ones under `addresses`, the others under `notReadyAddresses`.
//!
//! A real apiserver allocates the clusterIP while it creates the Service; here the controller
//! does it just after, so a client reading the Service back at once may not see it yet.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use serde_json::{Value, json};

use super::podstate::is_ready;
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, controller_write, uid_of};
use crate::objects::{DeleteOptions, name_of, namespace_of};
use crate::selectors::LabelSelector;
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

pub async fn run(state: Shared) {
    super::runner::run(state, ServiceController::default()).await;
}

#[derive(Default)]
struct ServiceController {
    cluster_ips: Pool,
    load_balancer_ips: Pool,
    node_ports: HashSet<u32>,
}

/// Addresses in use, and where to look for the next free one.
#[derive(Default)]
struct Pool {
    used: HashSet<u32>,
    cursor: u32,
}

impl Pool {
    /// The first free address of `base + [first, size)`, after the last one handed out.
    fn allocate(&mut self, base: [u8; 4], first: u32, size: u32) -> Option<String> {
        let base = u32::from_be_bytes(base);
        for _ in 0..size {
            self.cursor = if self.cursor + 1 >= size || self.cursor < first {
                first
            } else {
                self.cursor + 1
            };
            if self.used.insert(base + self.cursor) {
                return Some(Ipv4Addr::from(base + self.cursor).to_string());
            }
        }
        None
    }

    fn note(&mut self, ip: &str) {
        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
            self.used.insert(u32::from(ip));
        }
    }
}

fn selector_of(service: &Value) -> Option<LabelSelector> {
    let selector = service["spec"]["selector"].as_object()?;
    if selector.is_empty() {
        return None;
    }
    LabelSelector::from_object(&json!({"matchLabels": selector})).ok()
}

fn wants_node_ports(service: &Value) -> bool {
    matches!(
        service["spec"]["type"].as_str(),
        Some("NodePort" | "LoadBalancer")
    )
}

impl Reconciler for ServiceController {
    fn keys_for(&mut self, state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "", "services") {
            if event.event_type == EventType::Deleted {
                self.release(&event.object);
            }
            return vec![event_key(event)];
        }
        if is_type(event, "", "endpoints") {
            return vec![event_key(event)];
        }
        if !is_type(event, "", "pods") {
            return Vec::new();
        }
        // The Services whose selector matches the Pod now or matched it before.
        let services = builtin(state, "", "v1", "services");
        state
            .objects
            .list(&services, Some(&event.namespace))
            .items
            .iter()
            .filter(|s| {
                selector_of(s).is_some_and(|sel| {
                    sel.matches(&event.object)
                        || event.previous.as_ref().is_some_and(|p| sel.matches(p))
                })
            })
            .map(|s| (namespace_of(s).to_string(), name_of(s).to_string()))
            .collect()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        let services = builtin(state, "", "v1", "services");
        let all = state.objects.list(&services, None).items;
        self.cluster_ips.used.clear();
        self.load_balancer_ips.used.clear();
        self.node_ports.clear();
        for s in &all {
            self.note(s);
        }
        all.iter()
            .map(|s| (namespace_of(s).to_string(), name_of(s).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let services = builtin(state, "", "v1", "services");
        let endpoints = builtin(state, "", "v1", "endpoints");
        let Ok(mut service) = state.objects.get(&services, &key.0, &key.1) else {
            // The Endpoints go with their Service.
            let _ = state
                .objects
                .delete(&endpoints, &key.0, &key.1, &DeleteOptions::default());
            return None;
        };
        if service["metadata"]["deletionTimestamp"].is_string() {
            return None;
        }
        self.note(&service);
        if let Some(spec) = self.allocate_spec(&service) {
            let uid = uid_of(&service).to_string();
            service = state
                .objects
                .modify(
                    &services,
                    &key.0,
                    &key.1,
                    None,
                    &controller_write(),
                    |live| {
                        if uid_of(live) != uid {
                            return Err(crate::status::ApiError::conflict(&services, &key.1));
                        }
                        let mut next = live.clone();
                        next["spec"] = spec;
                        Ok(next)
                    },
                )
                .ok()?;
        }
        let load_balancer = if service["spec"]["type"] == "LoadBalancer" {
            let existing = service["status"]["loadBalancer"]["ingress"][0]["ip"].as_str();
            let ip = match existing {
                Some(ip) => Some(ip.to_string()),
                None => self.load_balancer_ips.allocate([172, 18, 0, 0], 1, 1 << 16),
            };
            json!({"ingress": ip.map(|ip| json!([{"ip": ip, "ipMode": "VIP"}])).unwrap_or(json!([]))})
        } else {
            json!({})
        };
        let _ = state.objects.modify(
            &services,
            &key.0,
            &key.1,
            Some("status"),
            &controller_write(),
            |live| {
                let mut next = live.clone();
                next["status"]["loadBalancer"] = load_balancer;
                Ok(next)
            },
        );
        if let Some(selector) = selector_of(&service) {
            self.sync_endpoints(state, &service, &selector);
        }
        None
    }
}

impl ServiceController {
    fn note(&mut self, service: &Value) {
        if let Some(ip) = service["spec"]["clusterIP"].as_str() {
            self.cluster_ips.note(ip);
        }
        if let Some(ip) = service["status"]["loadBalancer"]["ingress"][0]["ip"].as_str() {
            self.load_balancer_ips.note(ip);
        }
        for port in service["spec"]["ports"].as_array().into_iter().flatten() {
            if let Some(p) = port["nodePort"].as_u64() {
                self.node_ports.insert(p as u32);
            }
        }
    }

    fn release(&mut self, service: &Value) {
        for (pool, ip) in [
            (&mut self.cluster_ips, service["spec"]["clusterIP"].as_str()),
            (
                &mut self.load_balancer_ips,
                service["status"]["loadBalancer"]["ingress"][0]["ip"].as_str(),
            ),
        ] {
            if let Some(ip) = ip.and_then(|ip| ip.parse::<Ipv4Addr>().ok()) {
                pool.used.remove(&u32::from(ip));
            }
        }
        for port in service["spec"]["ports"].as_array().into_iter().flatten() {
            if let Some(p) = port["nodePort"].as_u64() {
                self.node_ports.remove(&(p as u32));
            }
        }
    }

    /// The spec with a clusterIP and nodePorts filled in, if any was missing.
    fn allocate_spec(&mut self, service: &Value) -> Option<Value> {
        let mut spec = service["spec"].clone();
        let mut changed = false;
        let external_name = spec["type"] == "ExternalName";
        if !external_name && spec["clusterIP"].as_str().is_none_or(str::is_empty) {
            // 10.96.0.0/12, leaving .1 (kubernetes) and .10 (DNS) alone.
            let ip = loop {
                let ip = self.cluster_ips.allocate([10, 96, 0, 0], 2, 1 << 20)?;
                if ip != "10.96.0.10" {
                    break ip;
                }
            };
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
            changed = true;
        }
        if wants_node_ports(service) {
            for port in spec
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if port["nodePort"].as_u64().is_none() {
                    let free = (30000u32..=32767).find(|p| !self.node_ports.contains(p))?;
                    self.node_ports.insert(free);
                    port["nodePort"] = json!(free);
                    changed = true;
                }
            }
        }
        changed.then_some(spec)
    }

    /// The Endpoints controller's `syncService`.
    fn sync_endpoints(&mut self, state: &Shared, service: &Value, selector: &LabelSelector) {
        let pods = builtin(state, "", "v1", "pods");
        let endpoints = builtin(state, "", "v1", "endpoints");
        let ns = namespace_of(service);
        let publish_not_ready = service["spec"]["publishNotReadyAddresses"] == true;
        let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
        let mut ports: Option<Vec<Value>> = None;
        for pod in state.objects.list(&pods, Some(ns)).items {
            let phase = pod["status"]["phase"].as_str().unwrap_or_default();
            let Some(ip) = pod["status"]["podIP"].as_str() else {
                continue;
            };
            if !selector.matches(&pod)
                || phase == "Succeeded"
                || phase == "Failed"
                || pod["metadata"]["deletionTimestamp"].is_string()
            {
                continue;
            }
            let Some(pod_ports) = endpoint_ports(service, &pod) else {
                continue;
            };
            ports.get_or_insert(pod_ports);
            let mut address = json!({"ip": ip, "targetRef": {"kind": "Pod", "namespace": ns,
                "name": name_of(&pod), "uid": uid_of(&pod)}});
            if let Some(node) = pod["spec"]["nodeName"].as_str() {
                address["nodeName"] = json!(node);
            }
            if is_ready(&pod) || publish_not_ready {
                ready.push(address);
            } else {
                not_ready.push(address);
            }
        }
        let by_ip = |a: &Value, b: &Value| {
            let ip = |v: &Value| v["ip"].as_str().and_then(|s| s.parse::<Ipv4Addr>().ok());
            ip(a).cmp(&ip(b))
        };
        ready.sort_by(by_ip);
        not_ready.sort_by(by_ip);
        let mut subsets = Vec::new();
        if !ready.is_empty() || !not_ready.is_empty() {
            let mut subset = json!({"ports": ports.unwrap_or_default()});
            if !ready.is_empty() {
                subset["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                subset["notReadyAddresses"] = json!(not_ready);
            }
            subsets.push(subset);
        }
        let mut labels = service["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        if service["spec"]["clusterIP"] == "None" {
            labels["service.kubernetes.io/headless"] = json!("");
        }
        let name = name_of(service);
        let desired = json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "labels": labels}, "subsets": subsets});
        if state.objects.get(&endpoints, ns, name).is_err() {
            let _ = state
                .objects
                .create(&endpoints, ns, desired, &controller_write());
            return;
        }
        let _ = state
            .objects
            .modify(&endpoints, ns, name, None, &controller_write(), |live| {
                let mut next = live.clone();
                next["metadata"]["labels"] = desired["metadata"]["labels"].clone();
                next["subsets"] = desired["subsets"].clone();
                Ok(next)
            });
    }
}

/// The Service's ports as this Pod serves them (a named targetPort is looked up among the
/// Pod's container ports); None when the Pod lacks a named port.
fn endpoint_ports(service: &Value, pod: &Value) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    for port in service["spec"]["ports"].as_array().into_iter().flatten() {
        let target = &port["targetPort"];
        let number = match target {
            Value::Number(n) => n.as_u64()?,
            Value::String(name) => pod["spec"]["containers"]
                .as_array()?
                .iter()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|p| p["name"] == name.as_str())?["containerPort"]
                .as_u64()?,
            _ => port["port"].as_u64()?,
        };
        let mut entry =
            json!({"port": number, "protocol": port["protocol"].as_str().unwrap_or("TCP")});
        if let Some(name) = port["name"].as_str() {
            entry["name"] = json!(name);
        }
        if let Some(app) = port["appProtocol"].as_str() {
            entry["appProtocol"] = json!(app);
        }
        out.push(entry);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ips_start_above_the_reserved_ones() {
        let mut pool = Pool::default();
        pool.note("10.96.0.2");
        assert_eq!(
            pool.allocate([10, 96, 0, 0], 2, 1 << 20).as_deref(),
            Some("10.96.0.3")
        );
    }

    #[test]
    fn named_target_ports_resolve_per_pod() {
        let service = json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}]}});
        let pod =
            json!({"spec": {"containers": [{"ports": [{"name": "web", "containerPort": 8080}]}]}});
        assert_eq!(
            endpoint_ports(&service, &pod).unwrap(),
            vec![json!({"name": "http", "port": 8080, "protocol": "TCP"})]
        );
        assert!(endpoint_ports(&service, &json!({"spec": {"containers": [{}]}})).is_none());
    }
}
