//! CustomResourceDefinitions: a created CRD's kinds are served at once (discovery, routing), its
//! status says Established and NamesAccepted, and deleting it removes its custom resources.

use std::sync::Arc;

use serde_json::json;

use super::{builtin, controller_write, event_loop};
use crate::resources::{GroupResource, types_from_crd};
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

pub async fn run(state: Shared) {
    event_loop(state, on_event, sync_all).await;
}

fn crd_gr() -> GroupResource {
    GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions")
}

fn sync_all(state: &Shared) {
    for crd in state.objects.store.list(&crd_gr(), None).items {
        establish(state, &crd);
    }
}

fn on_event(state: &Shared, event: &Arc<WatchEvent>) {
    if event.gr != crd_gr() {
        return;
    }
    match event.event_type {
        EventType::Deleted => {
            let spec = &event.object["spec"];
            let group = spec["group"].as_str().unwrap_or_default();
            let plural = spec["names"]["plural"].as_str().unwrap_or_default();
            state.objects.registry.remove_custom(group, plural);
            let gr = GroupResource::new(group, plural);
            for object in state.objects.store.list(&gr, None).items {
                let ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                let _ = state.objects.store.delete(&gr, ns, name, |last, rv| {
                    let mut last = last.clone();
                    last["metadata"]["resourceVersion"] = json!(rv.to_string());
                    last
                });
            }
        }
        _ => establish(state, &event.object),
    }
}

fn establish(state: &Shared, crd: &serde_json::Value) {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    if group.is_empty() || plural.is_empty() {
        return;
    }
    let types = types_from_crd(crd);
    let registry = &state.objects.registry;
    let current: Vec<_> = registry
        .all()
        .into_iter()
        .filter(|t| t.group == group && t.plural == plural)
        .collect();
    if current != types {
        registry.set_custom(group, plural, types);
    }
    let established = crd["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    });
    if established {
        return;
    }
    let rt = builtin(
        state,
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
    );
    let name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let now = crate::objects::now();
    let _ = state.objects.modify(&rt, "", &name, Some("status"), &controller_write(), |live| {
        let mut next = live.clone();
        let stored: Vec<_> = live["spec"]["versions"]
            .as_array()
            .map(|vs| vs.iter().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect())
            .unwrap_or_default();
        next["status"] = json!({
            "acceptedNames": live["spec"]["names"],
            "storedVersions": stored,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
            ],
        });
        Ok(next)
    });
}
