//! Simulated traffic: the local cluster runs no containers, so it invents the requests a real
//! service would receive, for a canary to be judged by real PromQL.
//!
//! Every Service with ready endpoints receives a steady rate of requests (the cluster's
//! `--requests-per-second`, default 10, or the Service's annotation
//! `bosun.dev/simulated-requests-per-second`; 0 turns it off). When routing objects name the
//! Service as a backend — an Istio `VirtualService` destination, a Gateway API `HTTPRoute`
//! backendRef, or an NGINX Ingress (a canary Ingress carries its `canary-weight`, the Ingresses
//! of the same host without it the rest) — the Service receives the share of that rate the
//! routers give it (the largest share any of them gives: they describe one flow of traffic, as
//! Argo Rollouts sets them together); a Service no router names receives all of it. Within a
//! Service the requests are split evenly across its ready pods, so without routers a canary's
//! share is its share of the pods, as with Argo Rollouts' basic canary.
//!
//! Each pod answers as its pod template says, from the environment of its first container that
//! sets them: `SIMULATED_ERROR_RATE` (a fraction, `0.05`, or a percentage, `5%`; default 0) of
//! its requests are answered 500, the rest 200, each after `SIMULATED_LATENCY_MS` milliseconds
//! (default 10). The environment is resolved as a kubelet resolves it, against the ConfigMaps of
//! the pod's namespace: `envFrom[].configMapRef` (with its `prefix`) first, then `env[]`, whose
//! entries win — a literal `value` or a `valueFrom.configMapKeyRef`. A ConfigMap or key that is
//! not there leaves the variable unset (a kubelet would not start a container whose required
//! reference is missing; the simulation answers with the defaults instead). As with a kubelet,
//! which resolves the environment once when the container starts, a pod's answers are fixed
//! when the simulation first sends it requests: a ConfigMap changed later changes only the
//! answers of pods that start later. The simulation is deterministic (an exact share of errors, one latency per pod),
//! so a PromQL ratio reads exactly the configured rate.
//!
//! The counts are served at the cluster's `/metrics` in Prometheus' text format:
//! `http_requests_total{namespace, service, pod, rollouts_pod_template_hash, status}` and the
//! histogram `http_request_duration_seconds` (same labels without `status`, Prometheus' default
//! buckets). A pod that stops being an endpoint keeps its series until it is deleted.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::objects::{name_of, namespace_of};
use crate::resources::GroupResource;
use crate::server::Shared;

/// Prometheus' default histogram buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const RATE_ANNOTATION: &str = "bosun.dev/simulated-requests-per-second";
const HASH_LABEL: &str = "rollouts-pod-template-hash";

/// One pod's requests through one Service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SeriesKey {
    namespace: String,
    service: String,
    pod: String,
    hash: String,
}

#[derive(Clone, Debug, Default)]
struct Series {
    ok: f64,
    errors: f64,
    /// Requests per bucket of `BUCKETS` (not cumulative) and beyond the last.
    buckets: [f64; BUCKETS.len() + 1],
    latency_sum: f64,
}

/// How a pod answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Behaviour {
    pub error_rate: f64,
    pub latency_seconds: f64,
}

/// The simulated requests so far.
pub struct Traffic {
    requests_per_second: f64,
    series: Mutex<BTreeMap<SeriesKey, Series>>,
    /// By pod uid: how it answers, resolved once (its environment, as at its start).
    behaviours: Mutex<HashMap<String, Behaviour>>,
}

impl Traffic {
    pub fn new(requests_per_second: f64) -> Self {
        Self {
            requests_per_second,
            series: Mutex::new(BTreeMap::new()),
            behaviours: Mutex::new(HashMap::new()),
        }
    }

    /// Adds `elapsed` worth of requests to every Service with ready endpoints.
    pub fn advance(&self, state: &Shared, elapsed: Duration) {
        let store = &state.objects.store;
        let shares = router_shares(state);
        let services: HashMap<(String, String), std::sync::Arc<Value>> = store
            .list(&GroupResource::new("", "services"), None)
            .items
            .into_iter()
            .map(|s| ((namespace_of(&s).to_string(), name_of(&s).to_string()), s))
            .collect();
        let pods = GroupResource::new("", "pods");
        let config_maps = GroupResource::new("", "configmaps");
        let mut live = std::collections::HashSet::new();
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut behaviours = self.behaviours.lock().unwrap_or_else(|p| p.into_inner());
        for endpoints in store.list(&GroupResource::new("", "endpoints"), None).items {
            let namespace = namespace_of(&endpoints).to_string();
            let service = name_of(&endpoints).to_string();
            let Some(svc) = services.get(&(namespace.clone(), service.clone())) else {
                continue;
            };
            let rate = svc["metadata"]["annotations"][RATE_ANNOTATION]
                .as_str()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(self.requests_per_second)
                .max(0.0);
            let share = shares
                .get(&(namespace.clone(), service.clone()))
                .copied()
                .unwrap_or(1.0);
            let ready: Vec<String> = endpoints["subsets"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["addresses"].as_array().into_iter().flatten())
                .filter_map(|a| a["targetRef"]["name"].as_str().map(str::to_string))
                .collect();
            if ready.is_empty() {
                continue;
            }
            let per_pod = rate * share * elapsed.as_secs_f64() / ready.len() as f64;
            for pod_name in ready {
                let Some(pod) = store.get(&pods, &namespace, &pod_name) else {
                    continue;
                };
                let key = SeriesKey {
                    namespace: namespace.clone(),
                    service: service.clone(),
                    hash: pod["metadata"]["labels"][HASH_LABEL]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    pod: pod_name,
                };
                let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
                let behaviour = *behaviours.entry(uid.to_string()).or_insert_with(|| {
                    behaviour(&pod, |name| store.get(&config_maps, &namespace, name))
                });
                let s = series.entry(key.clone()).or_default();
                s.errors += per_pod * behaviour.error_rate;
                s.ok += per_pod * (1.0 - behaviour.error_rate);
                let bucket = BUCKETS
                    .iter()
                    .position(|le| behaviour.latency_seconds <= *le)
                    .unwrap_or(BUCKETS.len());
                s.buckets[bucket] += per_pod;
                s.latency_sum += per_pod * behaviour.latency_seconds;
                live.insert((key.namespace, key.pod));
            }
        }
        // Series of deleted pods go; those of pods that are only not ready stay.
        series.retain(|k, _| {
            live.contains(&(k.namespace.clone(), k.pod.clone()))
                || store.get(&pods, &k.namespace, &k.pod).is_some()
        });
        if !behaviours.is_empty() {
            let uids: std::collections::HashSet<String> = store
                .list(&pods, None)
                .items
                .iter()
                .filter_map(|p| p["metadata"]["uid"].as_str().map(str::to_string))
                .collect();
            behaviours.retain(|uid, _| uids.contains(uid));
        }
    }

    /// The counts in Prometheus' text exposition format (counters as whole requests).
    pub fn exposition(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP http_requests_total Requests the local cluster simulated, by the pod that answered and its status.\n# TYPE http_requests_total counter\n");
        for (k, s) in series.iter() {
            for (status, count) in [("200", s.ok), ("500", s.errors)] {
                let _ = writeln!(
                    out,
                    "http_requests_total{{{},status=\"{status}\"}} {}",
                    labels(k),
                    count.floor()
                );
            }
        }
        out.push_str("# HELP http_request_duration_seconds Latency of the simulated requests.\n# TYPE http_request_duration_seconds histogram\n");
        for (k, s) in series.iter() {
            let labels = labels(k);
            let mut cumulative = 0.0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i];
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    cumulative.floor()
                );
            }
            cumulative += s.buckets[BUCKETS.len()];
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\nhttp_request_duration_seconds_sum{{{labels}}} {}\nhttp_request_duration_seconds_count{{{labels}}} {}",
                cumulative.floor(),
                s.latency_sum,
                cumulative.floor()
            );
        }
        out
    }
}

fn labels(k: &SeriesKey) -> String {
    format!(
        "namespace=\"{}\",service=\"{}\",pod=\"{}\",rollouts_pod_template_hash=\"{}\"",
        escape(&k.namespace),
        escape(&k.service),
        escape(&k.pod),
        escape(&k.hash)
    )
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// How a pod answers, from the environment of its first container that says; `config_map`
/// reads a ConfigMap of the pod's namespace by name.
pub fn behaviour(
    pod: &Value,
    config_map: impl Fn(&str) -> Option<std::sync::Arc<Value>>,
) -> Behaviour {
    let environments: Vec<HashMap<String, String>> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| environment(c, &config_map))
        .collect();
    let env =
        |name: &str| -> Option<String> { environments.iter().find_map(|e| e.get(name).cloned()) };
    let error_rate = env("SIMULATED_ERROR_RATE")
        .and_then(|v| {
            let v = v.trim();
            match v.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().ok().map(|p| p / 100.0),
                None => v.parse::<f64>().ok(),
            }
        })
        .unwrap_or(0.0)
        .clamp(0.0, 1.0);
    let latency_ms = env("SIMULATED_LATENCY_MS")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(10.0)
        .max(0.0);
    Behaviour {
        error_rate,
        latency_seconds: latency_ms / 1000.0,
    }
}

/// A container's environment as a kubelet makes it (ConfigMaps only): `envFrom` in order, then
/// `env`, later entries over earlier ones.
fn environment(
    container: &Value,
    config_map: &impl Fn(&str) -> Option<std::sync::Arc<Value>>,
) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for from in container["envFrom"].as_array().into_iter().flatten() {
        let Some(map) = from["configMapRef"]["name"].as_str().and_then(config_map) else {
            continue;
        };
        let prefix = from["prefix"].as_str().unwrap_or_default();
        for (key, value) in map["data"].as_object().into_iter().flatten() {
            if let Some(value) = value.as_str() {
                env.insert(format!("{prefix}{key}"), value.to_string());
            }
        }
    }
    for entry in container["env"].as_array().into_iter().flatten() {
        let Some(name) = entry["name"].as_str() else {
            continue;
        };
        let reference = &entry["valueFrom"]["configMapKeyRef"];
        let value = match entry["value"].as_str() {
            Some(value) => Some(value.to_string()),
            None => reference["name"]
                .as_str()
                .and_then(config_map)
                .and_then(|map| {
                    let key = reference["key"].as_str()?;
                    map["data"][key].as_str().map(str::to_string)
                }),
        };
        match value {
            Some(value) => env.insert(name.to_string(), value),
            None => env.remove(name),
        };
    }
    env
}

/// The share of traffic each Service receives from the routers that name it: (namespace,
/// Service) → largest share.
fn router_shares(state: &Shared) -> HashMap<(String, String), f64> {
    let store = &state.objects.store;
    let mut shares: HashMap<(String, String), f64> = HashMap::new();
    let mut give = |namespace: &str, service: &str, share: f64| {
        let e = shares
            .entry((namespace.to_string(), service.to_string()))
            .or_insert(0.0);
        *e = e.max(share);
    };
    for vs in store
        .list(
            &GroupResource::new("networking.istio.io", "virtualservices"),
            None,
        )
        .items
    {
        let namespace = namespace_of(&vs);
        for route in vs["spec"]["http"].as_array().into_iter().flatten() {
            let destinations: Vec<&Value> =
                route["route"].as_array().into_iter().flatten().collect();
            for d in &destinations {
                let weight = d["weight"].as_f64().unwrap_or(if destinations.len() == 1 {
                    100.0
                } else {
                    0.0
                });
                // `web-stable` or `web-stable.ns.svc.cluster.local`
                let host = d["destination"]["host"].as_str().unwrap_or_default();
                let mut parts = host.split('.');
                let service = parts.next().unwrap_or_default();
                let ns = parts.next().unwrap_or(namespace);
                give(ns, service, weight / 100.0);
            }
        }
    }
    for route in store
        .list(
            &GroupResource::new("gateway.networking.k8s.io", "httproutes"),
            None,
        )
        .items
    {
        let namespace = namespace_of(&route);
        for rule in route["spec"]["rules"].as_array().into_iter().flatten() {
            let refs: Vec<&Value> = rule["backendRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            let weight = |r: &Value| r["weight"].as_f64().unwrap_or(1.0);
            let total: f64 = refs.iter().map(|r| weight(r)).sum();
            for r in &refs {
                let ns = r["namespace"].as_str().unwrap_or(namespace);
                let share = if total > 0.0 { weight(r) / total } else { 0.0 };
                give(ns, r["name"].as_str().unwrap_or_default(), share);
            }
        }
    }
    // NGINX: per namespace and host, the canary Ingresses take their weights, the others the rest.
    let ingresses = store
        .list(&GroupResource::new("networking.k8s.io", "ingresses"), None)
        .items;
    let canary_weight = |ing: &Value| -> Option<f64> {
        let a = &ing["metadata"]["annotations"];
        (a["nginx.ingress.kubernetes.io/canary"] == "true").then(|| {
            a["nginx.ingress.kubernetes.io/canary-weight"]
                .as_str()
                .and_then(|w| w.parse::<f64>().ok())
                .unwrap_or(0.0)
        })
    };
    let hosts = |ing: &Value| -> Vec<String> {
        ing["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["host"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let backends = |ing: &Value| -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = ing["spec"]["defaultBackend"]["service"]["name"].as_str() {
            out.push(s.to_string());
        }
        for rule in ing["spec"]["rules"].as_array().into_iter().flatten() {
            for path in rule["http"]["paths"].as_array().into_iter().flatten() {
                if let Some(s) = path["backend"]["service"]["name"].as_str() {
                    out.push(s.to_string());
                }
            }
        }
        out
    };
    for ing in &ingresses {
        let namespace = namespace_of(ing);
        match canary_weight(ing) {
            Some(w) => {
                for s in backends(ing) {
                    give(namespace, &s, w / 100.0);
                }
            }
            None => {
                let my_hosts = hosts(ing);
                let canaries: f64 = ingresses
                    .iter()
                    .filter(|o| namespace_of(o) == namespace)
                    .filter(|o| hosts(o).iter().any(|h| my_hosts.contains(h)))
                    .filter_map(|o| canary_weight(o))
                    .sum();
                for s in backends(ing) {
                    give(namespace, &s, (1.0 - canaries / 100.0).max(0.0));
                }
            }
        }
    }
    shares
}

/// Advances the simulation once a second until the cluster stops.
pub async fn run(state: Shared, traffic: std::sync::Arc<Traffic>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    loop {
        ticker.tick().await;
        let now = Instant::now();
        traffic.advance(&state, now - last);
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pod_answers_as_its_environment_says() {
        let pod = json!({"spec": {"containers": [
            {"name": "sidecar"},
            {"name": "app", "env": [
                {"name": "SIMULATED_ERROR_RATE", "value": "5%"},
                {"name": "SIMULATED_LATENCY_MS", "value": "250"}
            ]}
        ]}});
        let none = |_: &str| None;
        assert_eq!(
            behaviour(&pod, none),
            Behaviour {
                error_rate: 0.05,
                latency_seconds: 0.25
            }
        );
        let fraction = json!({"spec": {"containers": [{"env": [
            {"name": "SIMULATED_ERROR_RATE", "value": "0.5"}
        ]}]}});
        assert_eq!(behaviour(&fraction, none).error_rate, 0.5);
        assert_eq!(
            behaviour(&json!({}), none),
            Behaviour {
                error_rate: 0.0,
                latency_seconds: 0.01
            }
        );
    }

    #[test]
    fn the_environment_is_resolved_from_config_maps_as_a_kubelet_does() {
        let maps = |name: &str| -> Option<std::sync::Arc<Value>> {
            let data = match name {
                "rates" => json!({"error-rate": "0.25", "SIMULATED_LATENCY_MS": "40"}),
                "prefixed" => json!({"LATENCY_MS": "70"}),
                _ => return None,
            };
            Some(std::sync::Arc::new(json!({"data": data})))
        };
        let from_key = json!({"spec": {"containers": [{"env": [
            {"name": "SIMULATED_ERROR_RATE",
             "valueFrom": {"configMapKeyRef": {"name": "rates", "key": "error-rate"}}}
        ]}]}});
        assert_eq!(behaviour(&from_key, maps).error_rate, 0.25);
        // envFrom, then env over it; a prefix is put before each key.
        let from_map = json!({"spec": {"containers": [{
            "envFrom": [{"configMapRef": {"name": "rates"}},
                        {"configMapRef": {"name": "prefixed"}, "prefix": "SIMULATED_"}],
            "env": [{"name": "SIMULATED_ERROR_RATE", "value": "0.5"}]
        }]}});
        assert_eq!(
            behaviour(&from_map, maps),
            Behaviour {
                error_rate: 0.5,
                latency_seconds: 0.07
            }
        );
        // A missing ConfigMap or key leaves the variable unset: the default.
        let missing = json!({"spec": {"containers": [{"env": [
            {"name": "SIMULATED_ERROR_RATE",
             "valueFrom": {"configMapKeyRef": {"name": "rates", "key": "nope"}}},
            {"name": "SIMULATED_LATENCY_MS",
             "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "x"}}}
        ]}]}});
        assert_eq!(behaviour(&missing, maps), behaviour(&json!({}), maps));
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
