//! Watching an Application's live objects, so that a change made behind Git's back (a
//! `kubectl edit`, a deletion) triggers a refresh within seconds instead of at the next periodic
//! one — the signal self-heal acts on.
//!
//! One watch per kind the Application renders, across namespaces, filtered by bosun's app label.
//! Status writes by the cluster's controllers are not changes to desired state: an event counts
//! only when the object without its status and bookkeeping differs from the last one seen.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use tokio::task::JoinHandle;

/// The running watches of one Application; dropping it stops them.
pub struct LiveWatch {
    kinds: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for LiveWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl LiveWatch {
    /// Watches `kinds` for objects labelled as `app`'s; `changed` is called on each change.
    pub fn start(
        client: kube::Client,
        kinds: Vec<ApiResource>,
        app: &str,
        changed: Arc<dyn Fn() + Send + Sync>,
    ) -> LiveWatch {
        let selector = format!("{}={app}", bosun_plan::tracking::APP_LABEL);
        let names = kinds.iter().map(kind_id).collect();
        let tasks = kinds
            .into_iter()
            .map(|kind| {
                let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind);
                tokio::spawn(watch_kind(api, selector.clone(), changed.clone()))
            })
            .collect();
        LiveWatch {
            kinds: names,
            tasks,
        }
    }

    /// Whether this watch covers exactly `kinds` (else the caller starts a new one).
    pub fn covers(&self, kinds: &[ApiResource]) -> bool {
        let mut wanted: Vec<String> = kinds.iter().map(kind_id).collect();
        let mut have = self.kinds.clone();
        wanted.sort();
        have.sort();
        wanted == have
    }
}

fn kind_id(kind: &ApiResource) -> String {
    format!("{}/{}", kind.api_version, kind.kind)
}

/// The object as desired state sees it: no status, no server bookkeeping.
fn fingerprint(object: &DynamicObject) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["resourceVersion", "managedFields", "generation"] {
            meta.remove(field);
        }
    }
    value
}

fn object_id(object: &DynamicObject) -> String {
    format!(
        "{}/{}",
        object.metadata.namespace.as_deref().unwrap_or(""),
        object.metadata.name.as_deref().unwrap_or("")
    )
}

/// List, then watch from the list's resourceVersion; on any error or end of stream, list again
/// after a pause. Runs until aborted.
async fn watch_kind(
    api: Api<DynamicObject>,
    selector: String,
    changed: Arc<dyn Fn() + Send + Sync>,
) {
    let mut seen: HashMap<String, Value> = HashMap::new();
    loop {
        let list = match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => list,
            Err(e) => {
                tracing::debug!(error = %e, "live watch: list failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let mut current = HashMap::new();
        for object in &list.items {
            current.insert(object_id(object), fingerprint(object));
        }
        // A change while the watch was down (or before it started) counts too.
        if !seen.is_empty() && current != seen {
            changed();
        }
        seen = current;
        let version = list.metadata.resource_version.unwrap_or_default();
        let params = WatchParams::default().labels(&selector).timeout(240);
        let stream = match api.watch(&params, &version).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(error = %e, "live watch: watch failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(WatchEvent::Added(object) | WatchEvent::Modified(object)) => {
                    let id = object_id(&object);
                    let print = fingerprint(&object);
                    if seen.get(&id) != Some(&print) {
                        seen.insert(id, print);
                        changed();
                    }
                }
                Ok(WatchEvent::Deleted(object)) => {
                    seen.remove(&object_id(&object));
                    changed();
                }
                Ok(WatchEvent::Bookmark(_)) => {}
                Ok(WatchEvent::Error(_)) | Err(_) => break,
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
