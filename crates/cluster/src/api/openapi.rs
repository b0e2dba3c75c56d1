//! A minimal OpenAPI v3 discovery: the root index and one document per group-version listing
//! every resource path with its operations and query parameters. kubectl reads it to decide that
//! the server validates fields itself (the `fieldValidation` parameter on PATCH), so it sends
//! writes without needing client-side schemas. Component schemas are not served.

use serde_json::{Map, Value, json};

use crate::resources::{Registry, ResourceType};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group-version's document is.
pub fn root(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let p = gv_path(&group, &version);
            // The hash changes whenever the served types do, so clients' caches stay right.
            let hash = registry
                .all()
                .iter()
                .filter(|t| t.group == group && t.version == version)
                .map(|t| t.plural.len() + t.kind.len())
                .sum::<usize>();
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash:x}")}),
            );
        }
    }
    json!({"paths": paths})
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(rt: &ResourceType, action: &str, params: &[&str]) -> Value {
    json!({
        "operationId": format!("{action}{}", rt.kind),
        "parameters": params.iter().map(|p| param(p)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    })
}

/// `/openapi/v3/apis/GROUP/VERSION`
pub fn group_version(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<ResourceType> = registry
        .all()
        .into_iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let write = ["dryRun", "fieldManager", "fieldValidation", "pretty"];
    let patch = [
        "dryRun",
        "fieldManager",
        "fieldValidation",
        "force",
        "pretty",
    ];
    let mut paths = Map::new();
    for t in &types {
        let base = format!("/{}", gv_path(group, version));
        let collection = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{base}/{}", t.plural)
        };
        paths.insert(
            collection.clone(),
            json!({
                "get": operation(t, "list", &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"]),
                "post": operation(t, "post", &write),
                "delete": operation(t, "deletecollection", &["labelSelector", "fieldSelector", "dryRun"]),
            }),
        );
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": operation(t, "get", &["pretty"]),
                "put": operation(t, "put", &write),
                "patch": operation(t, "patch", &patch),
                "delete": operation(t, "delete", &["dryRun", "propagationPolicy", "gracePeriodSeconds"]),
            }),
        );
        if t.status_subresource {
            paths.insert(
                format!("{collection}/{{name}}/status"),
                json!({
                    "get": operation(t, "get", &["pretty"]),
                    "put": operation(t, "put", &write),
                    "patch": operation(t, "patch", &patch),
                }),
            );
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::KUBE_MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}
