//! The watch cache of one cluster.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What changed in a live object, for whoever reacts to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Created, deleted, or changed outside `status` (drift: worth a comparison with Git).
    Spec,
    /// Only `status` (and bookkeeping) changed: worth re-assessing health, not re-planning.
    Status,
}

/// Told which Application's objects changed and how.
pub type OnChange = Arc<dyn Fn(&str, Change) + Send + Sync>;

/// A resource type whose watcher has not listed yet.
#[derive(Debug)]
pub struct NotReady(pub String);

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the watch cache has not listed {} yet", self.0)
    }
}

impl std::error::Error for NotReady {}

/// An object's place in the cache: type, namespace, name.
type ObjectId = (String, String, String);

struct Kind {
    ready: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

/// One cached object, kept as its JSON text: a `serde_json::Value` of a Deployment with its
/// managedFields takes about five times the memory of its text (a map node and a string per
/// field), and the cache holds every object of every Application. Readers parse the few objects
/// of one Application when they need them.
#[derive(PartialEq)]
struct Cached {
    json: Box<str>,
    /// A digest of the object without what changes when only its status does (see
    /// [`spec_digest`]): tells a status change from a spec change without parsing the old text.
    spec: u64,
}

impl Cached {
    fn new(object: &mut Value) -> Cached {
        Cached {
            spec: spec_digest(object),
            json: serde_json::to_string(object)
                .unwrap_or_default()
                .into_boxed_str(),
        }
    }

    fn value(&self) -> Option<Value> {
        serde_json::from_str(&self.json).ok()
    }
}

struct Inner {
    client: kube::Client,
    label: String,
    on_change: OnChange,
    /// App → its objects.
    objects: RwLock<HashMap<String, HashMap<ObjectId, Cached>>>,
    kinds: Mutex<HashMap<String, Kind>>,
}

/// Every object labelled `label` in one cluster, indexed by the label's value.
pub struct LiveCache {
    inner: Arc<Inner>,
}

impl Drop for LiveCache {
    fn drop(&mut self) {
        for kind in lock(&self.inner.kinds).values() {
            kind.task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn kind_id(resource: &ApiResource) -> String {
    format!("{}/{}", resource.api_version, resource.kind)
}

impl LiveCache {
    /// A cache of the objects labelled `label` (any value) that `client` can see; `on_change`
    /// hears of every change after a type's first list.
    pub fn new(client: kube::Client, label: &str, on_change: OnChange) -> LiveCache {
        LiveCache {
            inner: Arc::new(Inner {
                client,
                label: label.to_string(),
                on_change,
                objects: RwLock::default(),
                kinds: Mutex::default(),
            }),
        }
    }

    /// Starts watching the types not watched yet.
    pub fn watch(&self, resources: impl IntoIterator<Item = ApiResource>) {
        let mut kinds = lock(&self.inner.kinds);
        for resource in resources {
            let id = kind_id(&resource);
            if kinds.contains_key(&id) {
                continue;
            }
            let (ready_tx, ready) = watch::channel(false);
            let task = tokio::spawn(watch_kind(self.inner.clone(), resource, ready_tx));
            kinds.insert(id, Kind { ready, task });
        }
    }

    /// Waits until every watched type has been listed once (at most `timeout`).
    pub async fn ready(&self, timeout: Duration) -> Result<(), NotReady> {
        let pending: Vec<(String, watch::Receiver<bool>)> = lock(&self.inner.kinds)
            .iter()
            .filter(|(_, k)| !*k.ready.borrow())
            .map(|(id, k)| (id.clone(), k.ready.clone()))
            .collect();
        for (id, mut ready) in pending {
            match tokio::time::timeout(timeout, ready.wait_for(|r| *r)).await {
                Ok(Ok(_)) => {}
                _ => return Err(NotReady(id)),
            }
        }
        Ok(())
    }

    /// Every cached object labelled as `app`'s (status included, as the cluster has it).
    pub fn objects_of(&self, app: &str) -> Vec<Value> {
        self.inner
            .objects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(app)
            .map(|objects| objects.values().filter_map(Cached::value).collect())
            .unwrap_or_default()
    }

    /// How many objects the cache holds (for metrics and benchmarks).
    pub fn len(&self) -> usize {
        self.inner
            .objects
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(HashMap::len)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The object as JSON with apiVersion and kind (list items may come without them).
fn to_value(object: DynamicObject, resource: &ApiResource) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), resource.api_version.clone().into());
        map.insert("kind".into(), resource.kind.clone().into());
    }
    value
}

fn app_of<'a>(object: &'a Value, label: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(label))
        .and_then(Value::as_str)
}

fn object_id(object: &Value, kind: &str) -> ObjectId {
    let field = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (
        kind.to_string(),
        field("/metadata/namespace"),
        field("/metadata/name"),
    )
}

/// What changes when only an object's status does: its `status`, and the metadata a status
/// write moves.
const STATUS_METADATA: [&str; 3] = ["resourceVersion", "managedFields", "generation"];

/// A digest of `object` without what changes when only its status does. The fields are taken
/// out for hashing and put back, so the object is not copied.
fn spec_digest(object: &mut Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let status = object.as_object_mut().and_then(|map| map.remove("status"));
    let mut metadata = Vec::new();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in STATUS_METADATA {
            if let Some(value) = meta.remove(field) {
                metadata.push((field, value));
            }
        }
    }
    let mut hasher = std::hash::DefaultHasher::new();
    serde_json::to_string(object)
        .unwrap_or_default()
        .hash(&mut hasher);
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for (field, value) in metadata {
            meta.insert(field.to_string(), value);
        }
    }
    if let (Some(map), Some(status)) = (object.as_object_mut(), status) {
        map.insert("status".to_string(), status);
    }
    hasher.finish()
}

fn change_between(old: Option<&Cached>, new: &Cached) -> Option<Change> {
    match old {
        None => Some(Change::Spec),
        Some(old) if old == new => None,
        Some(old) if old.spec == new.spec => Some(Change::Status),
        Some(_) => Some(Change::Spec),
    }
}

/// Keeps one type's objects current until aborted. kube-runtime's watcher lists, watches from
/// the list's version, re-lists when the version expired, and backs off on errors.
async fn watch_kind(inner: Arc<Inner>, resource: ApiResource, ready: watch::Sender<bool>) {
    let kind = kind_id(&resource);
    let api: Api<DynamicObject> = Api::all_with(inner.client.clone(), &resource);
    let config = watcher::Config::default().labels(&inner.label);
    let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    let mut relisted: Vec<(Option<String>, ObjectId, Cached)> = Vec::new();
    let mut listed_once = false;
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => relisted.clear(),
            Ok(Event::InitApply(object)) => {
                let mut object = to_value(object, &resource);
                let app = app_of(&object, &inner.label).map(str::to_string);
                let id = object_id(&object, &kind);
                relisted.push((app, id, Cached::new(&mut object)));
            }
            Ok(Event::InitDone) => {
                let changed = replace_kind(&inner, &kind, std::mem::take(&mut relisted));
                // The first list is the starting point, not a change; a later one (after a
                // watch was cut) reports what changed while it was down.
                if listed_once {
                    for app in changed {
                        (inner.on_change)(&app, Change::Spec);
                    }
                }
                listed_once = true;
                let _ = ready.send(true);
            }
            Ok(Event::Apply(object)) => {
                let mut object = to_value(object, &resource);
                let Some(app) = app_of(&object, &inner.label).map(str::to_string) else {
                    continue;
                };
                let id = object_id(&object, &kind);
                let object = Cached::new(&mut object);
                let change = {
                    let mut objects = inner.objects.write().unwrap_or_else(|p| p.into_inner());
                    let of_app = objects.entry(app.clone()).or_default();
                    let change = change_between(of_app.get(&id), &object);
                    of_app.insert(id, object);
                    change
                };
                if let Some(change) = change {
                    (inner.on_change)(&app, change);
                }
            }
            Ok(Event::Delete(object)) => {
                let object = to_value(object, &resource);
                let Some(app) = app_of(&object, &inner.label).map(str::to_string) else {
                    continue;
                };
                let id = object_id(&object, &kind);
                let removed = inner
                    .objects
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_mut(&app)
                    .and_then(|of_app| of_app.remove(&id))
                    .is_some();
                if removed {
                    (inner.on_change)(&app, Change::Spec);
                }
            }
            Err(watcher::Error::InitialListFailed(kube::Error::Api(status)))
                if (403..=405).contains(&status.code) =>
            {
                // Not listable by this client: nothing of this type is counted as bosun's,
                // which only means pruning less (as the one-shot listing does).
                tracing::debug!(kind = %kind, code = status.code, "not listable; not cached");
                let _ = ready.send(true);
                return;
            }
            Err(error) => tracing::debug!(kind = %kind, error = %error, "watch cache: retrying"),
        }
    }
}

/// Replaces every cached object of `kind` by `listed` (each with its app and id); returns the
/// apps whose objects changed.
fn replace_kind(
    inner: &Inner,
    kind: &str,
    listed: Vec<(Option<String>, ObjectId, Cached)>,
) -> Vec<String> {
    let mut fresh: HashMap<String, HashMap<ObjectId, Cached>> = HashMap::new();
    for (app, id, object) in listed {
        if let Some(app) = app {
            fresh.entry(app).or_default().insert(id, object);
        }
    }
    let mut objects = inner.objects.write().unwrap_or_else(|p| p.into_inner());
    let mut changed = Vec::new();
    for (app, of_app) in objects.iter_mut() {
        let mut new_of_kind = fresh.remove(app).unwrap_or_default();
        let before = of_app.len();
        let mut differs = false;
        of_app.retain(|id, old| {
            if id.0 != kind {
                return true;
            }
            match new_of_kind.remove(id) {
                Some(new) => {
                    differs |= *old != new;
                    *old = new;
                    true
                }
                None => false,
            }
        });
        differs |= of_app.len() != before || !new_of_kind.is_empty();
        of_app.extend(new_of_kind);
        if differs {
            changed.push(app.clone());
        }
    }
    for (app, of_app) in fresh {
        changed.push(app.clone());
        objects.insert(app, of_app);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: u64, ready: u64, version: &str) -> Value {
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "n", "resourceVersion": version,
                         "generation": 1, "labels": {"bosun.dev/app": "web"}},
            "spec": {"replicas": replicas},
            "status": {"readyReplicas": ready},
        })
    }

    #[test]
    fn a_status_write_is_told_from_a_spec_change_and_the_object_is_kept_whole() {
        let mut first = deployment(2, 0, "1");
        let original = first.clone();
        let old = Cached::new(&mut first);
        assert_eq!(first, original, "the digest puts back what it took out");
        assert_eq!(old.value(), Some(original));

        let same = Cached::new(&mut deployment(2, 0, "1"));
        assert_eq!(change_between(Some(&old), &same), None);
        let status = Cached::new(&mut deployment(2, 2, "2"));
        assert_eq!(change_between(Some(&old), &status), Some(Change::Status));
        let spec = Cached::new(&mut deployment(3, 0, "3"));
        assert_eq!(change_between(Some(&old), &spec), Some(Change::Spec));
        assert_eq!(change_between(None, &spec), Some(Change::Spec));
    }
}
