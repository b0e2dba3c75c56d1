//! `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`: the server-side printing that
//! `kubectl get` asks for, with the columns a real apiserver prints for each kind (priority 1
//! columns are the ones `-o wide` adds).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::resources::ResourceType;

struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
}

const fn col(name: &'static str, kind: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind,
        priority,
    }
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    let name = col("Name", "string", 0);
    let age = col("Age", "string", 0);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Event") => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Subobject", "string", 1),
            col("Source", "string", 1),
            col("Message", "string", 0),
            col("First Seen", "string", 1),
            col("Count", "string", 1),
            name,
        ],
        ("apps", "Deployment") => vec![
            name,
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            age,
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        ("apps", "ReplicaSet") => vec![
            name,
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            age,
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        ("apps", "StatefulSet") => vec![
            name,
            col("Ready", "string", 0),
            age,
            col("Containers", "string", 1),
            col("Images", "string", 1),
        ],
        ("apps", "DaemonSet") => vec![
            name,
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            col("Node Selector", "string", 0),
            age,
        ],
        ("", "Pod") => vec![
            name,
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            age,
            col("IP", "string", 1),
            col("Node", "string", 1),
        ],
        ("", "Service") => vec![
            name,
            col("Type", "string", 0),
            col("Cluster-IP", "string", 0),
            col("External-IP", "string", 0),
            col("Port(s)", "string", 0),
            age,
            col("Selector", "string", 1),
        ],
        ("", "Namespace") => vec![name, col("Status", "string", 0), age],
        ("", "ConfigMap") => vec![name, col("Data", "integer", 0), age],
        ("", "Secret") => vec![
            name,
            col("Type", "string", 0),
            col("Data", "integer", 0),
            age,
        ],
        ("", "Node") => vec![
            name,
            col("Status", "string", 0),
            col("Roles", "string", 0),
            age,
            col("Version", "string", 0),
        ],
        ("", "PersistentVolumeClaim") => vec![
            name,
            col("Status", "string", 0),
            col("Volume", "string", 0),
            age,
        ],
        ("batch", "Job") => vec![
            name,
            col("Status", "string", 0),
            col("Completions", "string", 0),
            col("Duration", "string", 0),
            age,
        ],
        ("batch", "CronJob") => vec![
            name,
            col("Schedule", "string", 0),
            col("Suspend", "boolean", 0),
            col("Active", "integer", 0),
            col("Last Schedule", "string", 0),
            age,
        ],
        _ => vec![name, age],
    }
}

/// "5s", "3m", "2h" … as kubectl's duration printing.
fn age(timestamp: &Value) -> String {
    let Some(ts) = timestamp
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - ts.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn container_field(o: &Value, path: &[&str], field: &str) -> String {
    let mut spec = o;
    for p in path {
        spec = &spec[*p];
    }
    spec["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c[field].as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn cells(rt: &ResourceType, o: &Value) -> Vec<Value> {
    let name = json!(o["metadata"]["name"]);
    let created = age(&o["metadata"]["creationTimestamp"]);
    let s = &o["status"];
    let tmpl = ["spec", "template", "spec"];
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Event") => {
            let involved = &o["involvedObject"];
            vec![
                json!(age(&o["lastTimestamp"])),
                o["type"].clone(),
                o["reason"].clone(),
                json!(format!(
                    "{}/{}",
                    involved["kind"].as_str().unwrap_or_default().to_lowercase(),
                    involved["name"].as_str().unwrap_or_default()
                )),
                json!(involved["fieldPath"].as_str().unwrap_or_default()),
                json!(o["source"]["component"].as_str().unwrap_or_default()),
                o["message"].clone(),
                json!(age(&o["firstTimestamp"])),
                json!(int(&o["count"]).to_string()),
                name,
            ]
        }
        ("apps", "Deployment") => vec![
            name,
            json!(format!(
                "{}/{}",
                int(&s["readyReplicas"]),
                int(&o["spec"]["replicas"])
            )),
            json!(int(&s["updatedReplicas"])),
            json!(int(&s["availableReplicas"])),
            json!(created),
            json!(container_field(o, &tmpl, "name")),
            json!(container_field(o, &tmpl, "image")),
            json!(super::selector_string(&o["spec"]["selector"])),
        ],
        ("apps", "ReplicaSet") => vec![
            name,
            json!(int(&o["spec"]["replicas"])),
            json!(int(&s["replicas"])),
            json!(int(&s["readyReplicas"])),
            json!(created),
            json!(container_field(o, &tmpl, "name")),
            json!(container_field(o, &tmpl, "image")),
            json!(super::selector_string(&o["spec"]["selector"])),
        ],
        ("apps", "StatefulSet") => vec![
            name,
            json!(format!(
                "{}/{}",
                int(&s["readyReplicas"]),
                int(&o["spec"]["replicas"])
            )),
            json!(created),
            json!(container_field(o, &tmpl, "name")),
            json!(container_field(o, &tmpl, "image")),
        ],
        ("apps", "DaemonSet") => vec![
            name,
            json!(int(&s["desiredNumberScheduled"])),
            json!(int(&s["currentNumberScheduled"])),
            json!(int(&s["numberReady"])),
            json!(int(&s["updatedNumberScheduled"])),
            json!(int(&s["numberAvailable"])),
            json!(
                o["spec"]["template"]["spec"]["nodeSelector"]
                    .as_object()
                    .map(|m| m
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(","))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "<none>".into())
            ),
            json!(created),
        ],
        ("", "Pod") => {
            let statuses = s["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| int(&c["restartCount"])).sum();
            let waiting = statuses
                .iter()
                .find_map(|c| c["state"]["waiting"]["reason"].as_str().map(String::from));
            let phase = if o["metadata"]["deletionTimestamp"].is_string() {
                "Terminating".to_string()
            } else {
                waiting.unwrap_or_else(|| s["phase"].as_str().unwrap_or("Pending").to_string())
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(phase),
                json!(restarts.to_string()),
                json!(created),
                json!(s["podIP"].as_str().unwrap_or("<none>")),
                json!(o["spec"]["nodeName"].as_str().unwrap_or("<none>")),
            ]
        }
        ("", "Service") => {
            let ports = o["spec"]["ports"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| match p["nodePort"].as_i64() {
                            Some(np) => format!(
                                "{}:{}/{}",
                                int(&p["port"]),
                                np,
                                p["protocol"].as_str().unwrap_or("TCP")
                            ),
                            None => format!(
                                "{}/{}",
                                int(&p["port"]),
                                p["protocol"].as_str().unwrap_or("TCP")
                            ),
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "<none>".into());
            let external = s["loadBalancer"]["ingress"]
                .as_array()
                .and_then(|i| i.first())
                .and_then(|i| i["ip"].as_str())
                .map(String::from)
                .unwrap_or_else(|| {
                    if o["spec"]["type"] == "LoadBalancer" {
                        "<pending>".into()
                    } else {
                        "<none>".into()
                    }
                });
            let selector = o["spec"]["selector"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "<none>".into());
            vec![
                name,
                json!(o["spec"]["type"].as_str().unwrap_or("ClusterIP")),
                json!(o["spec"]["clusterIP"].as_str().unwrap_or("<none>")),
                json!(external),
                json!(ports),
                json!(created),
                json!(selector),
            ]
        }
        ("", "Namespace") => vec![
            name,
            json!(s["phase"].as_str().unwrap_or("Active")),
            json!(created),
        ],
        ("", "ConfigMap") => {
            let n = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(n), json!(created)]
        }
        ("", "Secret") => vec![
            name,
            json!(o["type"].as_str().unwrap_or("Opaque")),
            json!(o["data"].as_object().map_or(0, |m| m.len())),
            json!(created),
        ],
        ("", "Node") => {
            let ready = s["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .is_some_and(|c| c["status"] == "True");
            vec![
                name,
                json!(if ready { "Ready" } else { "NotReady" }),
                json!("<none>"),
                json!(created),
                json!(s["nodeInfo"]["kubeletVersion"].as_str().unwrap_or_default()),
            ]
        }
        ("", "PersistentVolumeClaim") => vec![
            name,
            json!(s["phase"].as_str().unwrap_or("Pending")),
            json!(o["spec"]["volumeName"].as_str().unwrap_or_default()),
            json!(created),
        ],
        ("batch", "Job") => {
            let conditions = s["conditions"].as_array().cloned().unwrap_or_default();
            let has = |t: &str| {
                conditions
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else {
                "Running"
            };
            vec![
                name,
                json!(status),
                json!(format!(
                    "{}/{}",
                    int(&s["succeeded"]),
                    o["spec"]["completions"].as_i64().unwrap_or(1)
                )),
                json!(age(&s["startTime"])),
                json!(created),
            ]
        }
        ("batch", "CronJob") => vec![
            name,
            json!(o["spec"]["schedule"].as_str().unwrap_or_default()),
            json!(o["spec"]["suspend"].as_bool().unwrap_or(false)),
            json!(s["active"].as_array().map_or(0, Vec::len)),
            json!(
                s["lastScheduleTime"]
                    .as_str()
                    .map(|_| age(&s["lastScheduleTime"]))
                    .unwrap_or_else(|| "<none>".into())
            ),
            json!(created),
        ],
        _ => vec![name, json!(created)],
    }
}

/// A custom resource's cells: its name, then each of the CRD's printer columns (a `date`
/// printed as an age, as the apiserver does; a path that finds nothing is an empty cell).
fn custom_cells(rt: &ResourceType, o: &Value) -> Vec<Value> {
    let mut cells = vec![json!(o["metadata"]["name"])];
    for column in &rt.printer_columns {
        let value = json_path(o, &column.json_path);
        cells.push(match value {
            None | Some(Value::Null) => Value::Null,
            Some(v) if column.kind == "date" => json!(age(v)),
            Some(v) => v.clone(),
        });
    }
    cells
}

/// The value at a printer column's JSONPath: the field and index steps that CRDs use
/// (`.status.sync.status`, `.status.conditions[0].type`, `.metadata.labels['app.kubernetes.io/name']`).
fn json_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut rest = path.trim_start_matches('$');
    let mut at = object;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            at = at.get(&after[..end])?;
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let step = after[..end].trim();
            at = match step.parse::<usize>() {
                Ok(i) => at.get(i)?,
                Err(_) => at.get(step.trim_matches(|c| c == '\'' || c == '"'))?,
            };
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(at)
}

/// A meta.k8s.io/v1 Table of `items`; `rv` is set for lists.
pub fn table(rt: &ResourceType, items: &[Arc<Value>], rv: Option<u64>) -> Value {
    let custom = !rt.printer_columns.is_empty();
    let definitions: Vec<Value> = if custom {
        std::iter::once(json!({
            "name": "Name", "type": "string", "format": "name", "priority": 0,
            "description": "Name must be unique within a namespace.",
        }))
        .chain(rt.printer_columns.iter().map(|c| {
            json!({
                "name": c.name,
                "type": c.kind,
                "format": "",
                "description": c.description,
                "priority": c.priority,
            })
        }))
        .collect()
    } else {
        columns(rt)
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "type": c.kind,
                    "format": if c.name == "Name" { "name" } else { "" },
                    "description": "",
                    "priority": c.priority,
                })
            })
            .collect()
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            json!({
                "cells": if custom { custom_cells(rt, o) } else { cells(rt, o) },
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": o["metadata"],
                },
            })
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = rv {
        metadata["resourceVersion"] = json!(rv.to_string());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crds_printer_columns_are_its_table() {
        let crd = json!({
            "spec": {
                "group": "argoproj.io",
                "scope": "Namespaced",
                "names": {"kind": "Application", "plural": "applications"},
                "versions": [{
                    "name": "v1alpha1", "served": true,
                    "additionalPrinterColumns": [
                        {"name": "Sync Status", "type": "string", "jsonPath": ".status.sync.status"},
                        {"name": "First", "type": "string", "jsonPath": ".status.list[0]['a.b']"},
                        {"name": "Created", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                        {"name": "Project", "type": "string", "jsonPath": ".spec.project", "priority": 10},
                    ],
                }],
            },
        });
        let rt = &crate::resources::types_from_crd(&crd)[0];
        let object = Arc::new(json!({
            "metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {},
            "status": {"sync": {"status": "Synced"}, "list": [{"a.b": 3}]},
        }));
        let t = table(rt, &[object], Some(7));
        let names: Vec<_> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["priority"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                ("Name", 0),
                ("Sync Status", 0),
                ("First", 0),
                ("Created", 0),
                ("Project", 10)
            ]
        );
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "web");
        assert_eq!(cells[1], "Synced");
        assert_eq!(cells[2], 3);
        assert!(cells[3].as_str().unwrap().ends_with('d'), "{cells}");
        assert_eq!(cells[4], Value::Null, "a missing field is an empty cell");
    }
}
