//! Namespace lifecycle: new namespaces are Active; a deleted namespace is Terminating until
//! everything in it is gone, then it is removed.

use std::sync::Arc;

use serde_json::json;

use super::{builtin, controller_write, event_loop};
use crate::objects::DeleteOptions;
use crate::resources::GroupResource;
use crate::server::Shared;
use crate::store::WatchEvent;

pub async fn run(state: Shared) {
    event_loop(state, on_event, sync_all).await;
}

fn ns_gr() -> GroupResource {
    GroupResource::new("", "namespaces")
}

fn sync_all(state: &Shared) {
    for ns in state.objects.store.list(&ns_gr(), None).items {
        reconcile(state, ns["metadata"]["name"].as_str().unwrap_or_default());
    }
}

fn on_event(state: &Shared, event: &Arc<WatchEvent>) {
    if event.gr == ns_gr() {
        reconcile(state, &event.name);
    } else if !event.namespace.is_empty() && event.event_type == crate::store::EventType::Deleted {
        // The last object leaving a terminating namespace lets it go.
        reconcile(state, &event.namespace);
    }
}

fn reconcile(state: &Shared, name: &str) {
    let rt = builtin(state, "", "v1", "namespaces");
    let Some(ns) = state.objects.store.get(&ns_gr(), "", name) else {
        return;
    };
    if !ns["metadata"]["deletionTimestamp"].is_string() {
        if ns["status"]["phase"].as_str() != Some("Active") {
            let _ =
                state
                    .objects
                    .modify(&rt, "", name, Some("status"), &controller_write(), |live| {
                        let mut next = live.clone();
                        next["status"]["phase"] = json!("Active");
                        Ok(next)
                    });
        }
        return;
    }
    let mut remaining = 0;
    for gr in state.objects.store.types_in_namespace(name) {
        for object in state.objects.store.list(&gr, Some(name)).items {
            remaining += 1;
            if object["metadata"]["deletionTimestamp"].is_string() {
                continue;
            }
            if let Some(t) = state.objects.type_of(&object) {
                let _ = state.objects.delete(
                    &t,
                    name,
                    object["metadata"]["name"].as_str().unwrap_or_default(),
                    &DeleteOptions::default(),
                );
            }
        }
    }
    if remaining == 0 || state.objects.store.types_in_namespace(name).is_empty() {
        let _ = state.objects.store.delete(&ns_gr(), "", name, |last, rv| {
            let mut last = last.clone();
            last["metadata"]["resourceVersion"] = json!(rv.to_string());
            last["spec"]["finalizers"] = json!([]);
            last["status"]["phase"] = json!("Terminating");
            last
        });
    }
}
