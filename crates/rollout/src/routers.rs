//! Traffic routers: the canary's weight written into the user's routing objects, as Argo
//! Rollouts writes it. Each function takes the live object and returns the object to write, or
//! `None` when it already carries the weight; the reconciler reads and writes them.
//!
//! - Istio: the named http routes of a `VirtualService` (destinations by Service host, or by
//!   subset with a `DestinationRule` whose subsets are pinned to the revisions' hashes);
//! - NGINX: a canary `Ingress` beside the stable one (`<rollout>-<ingress>-canary`), with the
//!   canary annotations;
//! - Gateway API (Argo's `argoproj-labs/gatewayAPI` plugin): the `backendRefs` weights of an
//!   `HTTPRoute`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::revision::{HASH_LABEL, MANAGED_BY_ANNOTATION};

/// A Service host as Istio writes it (`web`, `web.shop`, `web.shop.svc.cluster.local`) reduced
/// to the Service's name, as Argo compares them.
fn service_of(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

/// How a VirtualService's destinations are told apart.
pub enum Destinations<'a> {
    /// By `host`: the canary and stable Services.
    Services { canary: &'a str, stable: &'a str },
    /// By `subset` of a DestinationRule.
    Subsets { canary: &'a str, stable: &'a str },
}

/// The VirtualService with `weight` percent on the canary in each of `routes` (none named: its
/// only http route). Other destinations that carry weight are dropped, as Argo drops them.
pub fn istio_virtual_service(
    vs: &Value,
    routes: &[String],
    destinations: &Destinations,
    weight: i32,
) -> Result<Option<Value>, String> {
    let name = vs["metadata"]["name"].as_str().unwrap_or_default();
    let mut next = vs.clone();
    let Some(http) = next["spec"]["http"].as_array_mut() else {
        return Err(format!("VirtualService {name} has no http routes"));
    };
    let indices: Vec<usize> = if routes.is_empty() {
        if http.len() == 1 {
            vec![0]
        } else {
            match http
                .iter()
                .position(|r| r["name"].as_str().is_none_or(str::is_empty))
            {
                Some(i) => vec![i],
                None => {
                    return Err(format!(
                        "VirtualService {name} has {} http routes: name the ones to weigh in virtualService.routes",
                        http.len()
                    ));
                }
            }
        }
    } else {
        routes
            .iter()
            .map(|route| {
                http.iter()
                    .position(|r| r["name"] == route.as_str())
                    .ok_or_else(|| {
                        format!("HTTP Route '{route}' is not found in the defined Virtual Service {name}.")
                    })
            })
            .collect::<Result<_, _>>()?
    };
    for i in indices {
        let route_name = http[i]["name"].as_str().unwrap_or("(unnamed)").to_string();
        let Some(list) = http[i]["route"].as_array_mut() else {
            return Err(format!(
                "VirtualService {name}: route {route_name} has no destinations"
            ));
        };
        let role = |d: &Value| -> Option<bool> {
            let dest = &d["destination"];
            match destinations {
                Destinations::Services { canary, stable } => {
                    let host = service_of(dest["host"].as_str().unwrap_or_default());
                    (host == *canary)
                        .then_some(true)
                        .or((host == *stable).then_some(false))
                }
                Destinations::Subsets { canary, stable } => {
                    let subset = dest["subset"].as_str().unwrap_or_default();
                    (subset == *canary)
                        .then_some(true)
                        .or((subset == *stable).then_some(false))
                }
            }
        };
        let (mut canary_found, mut stable_found) = (false, false);
        list.retain(|d| role(d).is_some() || d["weight"].as_i64().unwrap_or(0) == 0);
        for d in list.iter_mut() {
            match role(d) {
                Some(true) => {
                    canary_found = true;
                    d["weight"] = json!(weight);
                }
                Some(false) => {
                    stable_found = true;
                    d["weight"] = json!(100 - weight);
                }
                None => {}
            }
        }
        if !canary_found || !stable_found {
            let (canary, stable) = match destinations {
                Destinations::Services { canary, stable } => (*canary, *stable),
                Destinations::Subsets { canary, stable } => (*canary, *stable),
            };
            return Err(format!(
                "VirtualService {name}: route {route_name} needs a destination for {} and one for {}",
                canary, stable
            ));
        }
    }
    Ok((next != *vs).then_some(next))
}

/// The DestinationRule with its canary and stable subsets selecting the revisions' hashes.
pub fn istio_destination_rule(
    rule: &Value,
    rollout: &str,
    subsets: (&str, &str),
    hashes: (&str, &str),
) -> Result<Option<Value>, String> {
    let name = rule["metadata"]["name"].as_str().unwrap_or_default();
    let mut next = rule.clone();
    let list = next["spec"]["subsets"]
        .as_array_mut()
        .ok_or_else(|| format!("DestinationRule {name} has no subsets"))?;
    for (subset, hash) in [(subsets.0, hashes.0), (subsets.1, hashes.1)] {
        let entry = list
            .iter_mut()
            .find(|s| s["name"] == subset)
            .ok_or_else(|| format!("DestinationRule {name} has no subset {subset}"))?;
        entry["labels"][HASH_LABEL] = json!(hash);
    }
    next["metadata"]["annotations"][MANAGED_BY_ANNOTATION] = json!(rollout);
    Ok((next != *rule).then_some(next))
}

/// The canary Ingress's name for `stable_ingress`.
pub fn nginx_canary_name(rollout: &str, stable_ingress: &str) -> String {
    let mut name = format!("{rollout}-{stable_ingress}-canary");
    name.truncate(253);
    name
}

/// The canary Ingress NGINX reads beside `stable` (a networking.k8s.io/v1 Ingress): its rules
/// with the stable Service's backends pointed at the canary Service, the class and TLS of the
/// stable one, the canary annotations, and owned by the Rollout.
pub fn nginx_canary_ingress(
    stable: &Value,
    rollout: &Value,
    services: (&str, &str),
    weight: i32,
    prefix: &str,
    additional: &BTreeMap<String, String>,
) -> Result<Value, String> {
    let (canary_service, stable_service) = services;
    let stable_name = stable["metadata"]["name"].as_str().unwrap_or_default();
    let mut rules = Vec::new();
    for rule in stable["spec"]["rules"].as_array().into_iter().flatten() {
        let paths: Vec<Value> = rule["http"]["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["backend"]["service"]["name"] == stable_service)
            .map(|p| {
                let mut p = p.clone();
                p["backend"]["service"]["name"] = json!(canary_service);
                p
            })
            .collect();
        if !paths.is_empty() {
            let mut rule = rule.clone();
            rule["http"]["paths"] = json!(paths);
            rules.push(rule);
        }
    }
    if rules.is_empty() {
        return Err(format!(
            "Ingress {stable_name} has no path whose backend is the stable Service {stable_service}"
        ));
    }
    let mut annotations = serde_json::Map::new();
    if let Some(class) = stable["metadata"]["annotations"]["kubernetes.io/ingress.class"].as_str() {
        annotations.insert("kubernetes.io/ingress.class".into(), json!(class));
    }
    annotations.insert(format!("{prefix}/canary"), json!("true"));
    annotations.insert(format!("{prefix}/canary-weight"), json!(weight.to_string()));
    for (k, v) in additional {
        annotations.insert(format!("{prefix}/{k}"), json!(v));
    }
    let meta = &rollout["metadata"];
    let mut spec = json!({"rules": rules});
    for field in ["ingressClassName", "tls"] {
        if !stable["spec"][field].is_null() {
            spec[field] = stable["spec"][field].clone();
        }
    }
    Ok(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": nginx_canary_name(meta["name"].as_str().unwrap_or_default(), stable_name),
            "namespace": stable["metadata"]["namespace"],
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "name": meta["name"], "uid": meta["uid"],
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))
}

/// The HTTPRoute with `weight` on the backendRefs of the canary Service and the rest on those
/// of the stable Service, in every rule that has them.
pub fn gateway_http_route(
    route: &Value,
    services: (&str, &str),
    weight: i32,
) -> Result<Option<Value>, String> {
    let (canary, stable) = services;
    let name = route["metadata"]["name"].as_str().unwrap_or_default();
    let mut next = route.clone();
    let (mut canary_found, mut stable_found) = (false, false);
    for rule in next["spec"]["rules"].as_array_mut().into_iter().flatten() {
        for backend in rule["backendRefs"].as_array_mut().into_iter().flatten() {
            if backend["name"] == canary {
                backend["weight"] = json!(weight);
                canary_found = true;
            } else if backend["name"] == stable {
                backend["weight"] = json!(100 - weight);
                stable_found = true;
            }
        }
    }
    if !canary_found || !stable_found {
        return Err(format!(
            "HTTPRoute {name}: backendRef was not found in httpRoute (it needs {canary} and {stable})"
        ));
    }
    Ok((next != *route).then_some(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vs() -> Value {
        json!({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "web"},
            "spec": {"hosts": ["web"], "http": [
                {"name": "primary", "route": [
                    {"destination": {"host": "web-stable"}, "weight": 100},
                    {"destination": {"host": "web-canary.shop.svc.cluster.local"}, "weight": 0}]},
                {"name": "other", "route": [{"destination": {"host": "legacy"}, "weight": 100}]}]}})
    }

    #[test]
    fn istio_weighs_the_named_routes_by_host_and_leaves_the_others() {
        let services = Destinations::Services {
            canary: "web-canary",
            stable: "web-stable",
        };
        let next = istio_virtual_service(&vs(), &["primary".into()], &services, 30)
            .unwrap()
            .unwrap();
        let route = &next["spec"]["http"][0]["route"];
        assert_eq!(route[0]["weight"], 70);
        assert_eq!(route[1]["weight"], 30);
        assert_eq!(next["spec"]["http"][1], vs()["spec"]["http"][1]);
        // Written already: nothing to write.
        assert_eq!(
            istio_virtual_service(&next, &["primary".into()], &services, 30),
            Ok(None)
        );
        let e = istio_virtual_service(&vs(), &["main".into()], &services, 30).unwrap_err();
        assert_eq!(
            e,
            "HTTP Route 'main' is not found in the defined Virtual Service web."
        );
        let e = istio_virtual_service(&vs(), &[], &services, 30).unwrap_err();
        assert!(e.contains("name the ones to weigh"), "{e}");
    }

    #[test]
    fn istio_subsets_are_weighed_and_pinned_to_the_hashes() {
        let vs = json!({"metadata": {"name": "web"}, "spec": {"http": [{"route": [
            {"destination": {"host": "web", "subset": "stable"}, "weight": 100},
            {"destination": {"host": "web", "subset": "canary"}, "weight": 0},
            {"destination": {"host": "web", "subset": "old"}, "weight": 0}]}]}});
        let subsets = Destinations::Subsets {
            canary: "canary",
            stable: "stable",
        };
        let next = istio_virtual_service(&vs, &[], &subsets, 10)
            .unwrap()
            .unwrap();
        assert_eq!(next["spec"]["http"][0]["route"][1]["weight"], 10);
        let rule = json!({"metadata": {"name": "web"}, "spec": {"host": "web", "subsets": [
            {"name": "stable", "labels": {"app": "web"}}, {"name": "canary", "labels": {"app": "web"}}]}});
        let next = istio_destination_rule(&rule, "web", ("canary", "stable"), ("h2", "h1"))
            .unwrap()
            .unwrap();
        assert_eq!(next["spec"]["subsets"][0]["labels"][HASH_LABEL], "h1");
        assert_eq!(next["spec"]["subsets"][1]["labels"][HASH_LABEL], "h2");
        assert_eq!(
            next["metadata"]["annotations"][MANAGED_BY_ANNOTATION],
            "web"
        );
    }

    #[test]
    fn nginx_gets_a_canary_ingress_for_the_stable_services_paths() {
        let stable = json!({"metadata": {"name": "web", "namespace": "shop",
                "annotations": {"kubernetes.io/ingress.class": "nginx"}},
            "spec": {"ingressClassName": "nginx", "rules": [
                {"host": "shop.example", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web-stable", "port": {"number": 80}}}},
                    {"path": "/admin", "pathType": "Prefix", "backend": {"service": {"name": "admin", "port": {"number": 80}}}}]}}]}});
        let rollout = json!({"metadata": {"name": "web", "uid": "u1"}});
        let canary = nginx_canary_ingress(
            &stable,
            &rollout,
            ("web-canary", "web-stable"),
            25,
            "nginx.ingress.kubernetes.io",
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(canary["metadata"]["name"], "web-web-canary");
        assert_eq!(
            canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"],
            "true"
        );
        assert_eq!(
            canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"],
            "25"
        );
        let paths = canary["spec"]["rules"][0]["http"]["paths"]
            .as_array()
            .unwrap();
        assert_eq!(paths.len(), 1);
        assert_eq!(paths[0]["backend"]["service"]["name"], "web-canary");
        assert_eq!(canary["spec"]["ingressClassName"], "nginx");
        assert_eq!(canary["metadata"]["ownerReferences"][0]["uid"], "u1");
        let e = nginx_canary_ingress(
            &stable,
            &rollout,
            ("web-canary", "nope"),
            25,
            "p",
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(
            e.contains("no path whose backend is the stable Service nope"),
            "{e}"
        );
    }

    #[test]
    fn gateway_api_weighs_the_backend_refs() {
        let route = json!({"metadata": {"name": "web"}, "spec": {"rules": [{"backendRefs": [
            {"name": "web-stable", "port": 80, "weight": 100}, {"name": "web-canary", "port": 80, "weight": 0}]}]}});
        let next = gateway_http_route(&route, ("web-canary", "web-stable"), 40)
            .unwrap()
            .unwrap();
        assert_eq!(next["spec"]["rules"][0]["backendRefs"][0]["weight"], 60);
        assert_eq!(next["spec"]["rules"][0]["backendRefs"][1]["weight"], 40);
        assert_eq!(
            gateway_http_route(&next, ("web-canary", "web-stable"), 40),
            Ok(None)
        );
        let e = gateway_http_route(&route, ("nope", "web-stable"), 40).unwrap_err();
        assert!(e.contains("backendRef was not found"), "{e}");
    }
}
