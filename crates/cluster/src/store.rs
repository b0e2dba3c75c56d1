//! Versioned object storage: every write gets the next cluster-wide resourceVersion and an entry
//! in a bounded event history, which is what lets a watch resume from a resourceVersion (and be
//! told 410 Gone when it is older than the history). With a data directory, every write also goes
//! to SQLite before it becomes visible, so objects survive a restart.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::persist::Database;
use crate::resources::GroupResource;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub rv: u64,
    pub gr: GroupResource,
    pub namespace: String,
    pub name: String,
    pub event_type: EventType,
    /// The object after the change (for Deleted: its last state, with the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The object before the change (None for Added): lets a filtered watch see an object leave
    /// or enter its selector.
    pub previous: Option<Arc<Value>>,
}

/// Why a storage write was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum StoreError {
    NotFound,
    AlreadyExists,
    /// The caller's expected resourceVersion is not the stored one.
    Conflict,
    Persist(String),
}

/// Every change from some point on, in order.
pub type EventReceiver = broadcast::Receiver<Arc<WatchEvent>>;

/// A watch that starts from a resourceVersion older than the retained history.
#[derive(Debug)]
pub struct TooOld {
    pub requested: u64,
    pub oldest: u64,
}

type Key = (String, String);

/// Where an object is stored: its type and its namespace/name.
type Location = (GroupResource, Key);

struct Inner {
    rv: u64,
    objects: HashMap<GroupResource, BTreeMap<Key, Arc<Value>>>,
    /// Every stored object's location by its uid, and the uids of the objects whose
    /// ownerReferences name a uid (the owner's dependents, whether the owner exists or not):
    /// the garbage collector's lookups, kept by every commit so that none is a scan of the store.
    by_uid: HashMap<String, Location>,
    dependents: HashMap<String, BTreeSet<String>>,
    history: VecDeque<Arc<WatchEvent>>,
    /// The resourceVersion just before the oldest retained event: watches from here on are served.
    history_floor: u64,
    db: Option<Database>,
}

pub struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<WatchEvent>>,
    history_limit: usize,
}

/// Objects of one resource type at one resourceVersion.
pub struct Listing {
    pub items: Vec<Arc<Value>>,
    pub rv: u64,
}

impl Store {
    /// An in-memory store.
    pub fn in_memory(history_limit: usize) -> Self {
        Self::build(None, 0, HashMap::new(), history_limit)
    }

    /// A store backed by SQLite under `dir`, loaded with what an earlier run left there.
    pub fn open(dir: &Path, history_limit: usize) -> anyhow::Result<Self> {
        let db = Database::open(&dir.join("cluster.sqlite"))?;
        let (rv, rows) = db.load()?;
        let mut objects: HashMap<GroupResource, BTreeMap<Key, Arc<Value>>> = HashMap::new();
        for (gr, ns, name, object) in rows {
            objects
                .entry(gr)
                .or_default()
                .insert((ns, name), Arc::new(object));
        }
        Ok(Self::build(Some(db), rv, objects, history_limit))
    }

    fn build(
        db: Option<Database>,
        rv: u64,
        objects: HashMap<GroupResource, BTreeMap<Key, Arc<Value>>>,
        history_limit: usize,
    ) -> Self {
        let (events, _) = broadcast::channel(65_536);
        let mut inner = Inner {
            rv,
            objects,
            by_uid: HashMap::new(),
            dependents: HashMap::new(),
            history: VecDeque::new(),
            history_floor: rv,
            db,
        };
        let stored: Vec<(Location, Arc<Value>)> = inner
            .objects
            .iter()
            .flat_map(|(gr, m)| m.iter().map(|(k, o)| ((gr.clone(), k.clone()), o.clone())))
            .collect();
        for (location, object) in stored {
            inner.index(location, &object);
        }
        Self {
            inner: Mutex::new(inner),
            events,
            history_limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("store lock poisoned")
    }

    /// The newest resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, gr: &GroupResource, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.lock()
            .objects
            .get(gr)
            .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
            .cloned()
    }

    /// All objects of a type, in one namespace or (with `None`) in all, sorted by namespace/name.
    pub fn list(&self, gr: &GroupResource, namespace: Option<&str>) -> Listing {
        Self::list_in(&self.lock(), gr, namespace)
    }

    fn list_in(inner: &Inner, gr: &GroupResource, namespace: Option<&str>) -> Listing {
        let items = match inner.objects.get(gr) {
            None => Vec::new(),
            Some(m) => match namespace {
                None => m.values().cloned().collect(),
                Some(ns) => m
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect(),
            },
        };
        Listing {
            items,
            rv: inner.rv,
        }
    }

    /// Every resource type that has objects in `namespace` (for namespace deletion).
    pub fn types_in_namespace(&self, namespace: &str) -> Vec<GroupResource> {
        self.lock()
            .objects
            .iter()
            .filter(|(_, m)| m.keys().any(|(ns, _)| ns == namespace))
            .map(|(gr, _)| gr.clone())
            .collect()
    }

    /// Stores a new object; `make` receives the resourceVersion it will carry.
    pub fn create(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        make: impl FnOnce(u64) -> Value,
    ) -> Result<Arc<Value>, StoreError> {
        let mut inner = self.lock();
        let key = (namespace.to_string(), name.to_string());
        if inner.objects.get(gr).is_some_and(|m| m.contains_key(&key)) {
            return Err(StoreError::AlreadyExists);
        }
        let rv = inner.rv + 1;
        let object = make(rv);
        self.commit(&mut inner, gr, key, EventType::Added, object)
    }

    /// Read-modify-write of one object under the store lock, so concurrent writers never lose
    /// each other's changes. `change` gets the current object and the resourceVersion the new
    /// state will carry; it returns the new state, or `None` to leave the object as it is.
    pub fn update<E>(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&Value, u64) -> Result<Option<Value>, E>,
    ) -> Result<Result<Arc<Value>, StoreError>, E> {
        let mut inner = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let Some(current) = inner.objects.get(gr).and_then(|m| m.get(&key)).cloned() else {
            return Ok(Err(StoreError::NotFound));
        };
        let rv = inner.rv + 1;
        match change(&current, rv)? {
            None => Ok(Ok(current)),
            Some(object) => Ok(self.commit(&mut inner, gr, key, EventType::Modified, object)),
        }
    }

    /// Removes an object; `last` turns its final state into the one the DELETED event carries.
    pub fn delete(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        last: impl FnOnce(&Value, u64) -> Value,
    ) -> Result<Arc<Value>, StoreError> {
        let mut inner = self.lock();
        let key = (namespace.to_string(), name.to_string());
        let Some(current) = inner.objects.get(gr).and_then(|m| m.get(&key)).cloned() else {
            return Err(StoreError::NotFound);
        };
        let rv = inner.rv + 1;
        let object = last(&current, rv);
        self.commit(&mut inner, gr, key, EventType::Deleted, object)
    }

    fn commit(
        &self,
        inner: &mut Inner,
        gr: &GroupResource,
        key: Key,
        event_type: EventType,
        object: Value,
    ) -> Result<Arc<Value>, StoreError> {
        let rv = inner.rv + 1;
        if let Some(db) = &inner.db {
            let written = match event_type {
                EventType::Deleted => db.delete(gr, &key.0, &key.1, rv),
                _ => db.put(gr, &key.0, &key.1, &object, rv),
            };
            written.map_err(|e| StoreError::Persist(e.to_string()))?;
        }
        inner.rv = rv;
        let object = Arc::new(object);
        let objects = inner.objects.entry(gr.clone()).or_default();
        let previous = match event_type {
            EventType::Deleted => objects.remove(&key),
            _ => objects.insert(key.clone(), object.clone()),
        };
        if let Some(previous) = &previous {
            inner.unindex(previous);
        }
        if event_type != EventType::Deleted {
            inner.index((gr.clone(), key.clone()), &object);
        }
        let event = Arc::new(WatchEvent {
            rv,
            gr: gr.clone(),
            namespace: key.0,
            name: key.1,
            event_type,
            object: object.clone(),
            previous,
        });
        inner.history.push_back(event.clone());
        while inner.history.len() > self.history_limit {
            if let Some(old) = inner.history.pop_front() {
                inner.history_floor = old.rv;
            }
        }
        // Nobody listening is fine; a lagging listener notices and restarts.
        let _ = self.events.send(event);
        Ok(object)
    }

    /// Events after `from_rv` that are still in the history, and a receiver for everything after
    /// them, taken under one lock so that no event falls between the two.
    pub fn watch_from(
        &self,
        from_rv: u64,
    ) -> Result<(Vec<Arc<WatchEvent>>, EventReceiver), TooOld> {
        let inner = self.lock();
        if from_rv < inner.history_floor {
            return Err(TooOld {
                requested: from_rv,
                oldest: inner.history_floor,
            });
        }
        let backlog = inner
            .history
            .iter()
            .filter(|e| e.rv > from_rv)
            .cloned()
            .collect();
        Ok((backlog, self.events.subscribe()))
    }

    /// A snapshot of one type's objects and a receiver for every later change, under one lock so
    /// that the watch that follows the snapshot misses nothing and repeats nothing.
    pub fn list_and_watch(
        &self,
        gr: &GroupResource,
        namespace: Option<&str>,
    ) -> (Listing, broadcast::Receiver<Arc<WatchEvent>>) {
        let inner = self.lock();
        (
            Self::list_in(&inner, gr, namespace),
            self.events.subscribe(),
        )
    }

    /// A receiver for every change from now on (controllers use it).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.events.subscribe()
    }
}

fn uid(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or_default()
}

/// The uids an object's ownerReferences name.
fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str())
}

impl Inner {
    fn index(&mut self, location: Location, object: &Value) {
        let uid = uid(object);
        if uid.is_empty() {
            return;
        }
        self.by_uid.insert(uid.to_string(), location);
        for owner in owner_uids(object) {
            self.dependents
                .entry(owner.to_string())
                .or_default()
                .insert(uid.to_string());
        }
    }

    fn unindex(&mut self, object: &Value) {
        let uid = uid(object);
        if uid.is_empty() {
            return;
        }
        self.by_uid.remove(uid);
        for owner in owner_uids(object) {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(uid);
                if set.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
    }

    fn at(&self, location: &Location) -> Option<(GroupResource, Arc<Value>)> {
        let (gr, key) = location;
        let object = self.objects.get(gr)?.get(key)?;
        Some((gr.clone(), object.clone()))
    }
}

impl Store {
    /// The stored object whose uid is `uid`, with its type.
    pub fn by_uid(&self, uid: &str) -> Option<(GroupResource, Arc<Value>)> {
        let inner = self.lock();
        inner.by_uid.get(uid).and_then(|l| inner.at(l))
    }

    /// The stored objects whose ownerReferences name `owner_uid` (whether or not it exists).
    pub fn dependents(&self, owner_uid: &str) -> Vec<(GroupResource, Arc<Value>)> {
        let inner = self.lock();
        inner
            .dependents
            .get(owner_uid)
            .into_iter()
            .flatten()
            .filter_map(|uid| inner.by_uid.get(uid).and_then(|l| inner.at(l)))
            .collect()
    }

    /// The stored objects whose ownerReferences name a uid that no stored object has (the
    /// garbage collector's orphans, if none of their owners exists).
    pub fn with_missing_owners(&self) -> Vec<(GroupResource, Arc<Value>)> {
        let inner = self.lock();
        let uids: BTreeSet<&String> = inner
            .dependents
            .iter()
            .filter(|(owner, _)| !inner.by_uid.contains_key(*owner))
            .flat_map(|(_, uids)| uids)
            .collect();
        uids.into_iter()
            .filter_map(|uid| inner.by_uid.get(uid).and_then(|l| inner.at(l)))
            .collect()
    }

    /// Whether an object with this uid is stored.
    pub fn has_uid(&self, uid: &str) -> bool {
        self.lock().by_uid.contains_key(uid)
    }

    /// Every stored object for which `pred` holds, with its type (a full scan).
    pub fn find(&self, pred: impl Fn(&Value) -> bool) -> Vec<(GroupResource, Arc<Value>)> {
        let inner = self.lock();
        inner
            .objects
            .iter()
            .flat_map(|(gr, m)| {
                m.values()
                    .filter(|o| pred(o))
                    .map(move |o| (gr.clone(), o.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(name: &str, uid: &str, owners: &[&str]) -> Value {
        let refs: Vec<Value> = owners.iter().map(|o| json!({"uid": o})).collect();
        json!({"metadata": {"name": name, "uid": uid, "ownerReferences": refs}})
    }

    fn names(found: Vec<(GroupResource, Arc<Value>)>) -> Vec<String> {
        let mut names: Vec<String> = found
            .iter()
            .map(|(_, o)| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    // The garbage collector's lookups follow every create, update and delete.
    #[test]
    fn owners_and_dependents_are_indexed_by_uid() {
        let store = Store::in_memory(100);
        let rs = GroupResource::new("apps", "replicasets");
        let pods = GroupResource::new("", "pods");
        store
            .create(&rs, "a", "web", |_| object("web", "u-rs", &[]))
            .unwrap();
        for (name, uid) in [("p1", "u-p1"), ("p2", "u-p2")] {
            store
                .create(&pods, "a", name, |_| object(name, uid, &["u-rs"]))
                .unwrap();
        }
        store
            .create(&pods, "a", "lost", |_| {
                object("lost", "u-lost", &["u-gone"])
            })
            .unwrap();
        assert_eq!(names(store.dependents("u-rs")), ["p1", "p2"]);
        assert_eq!(store.by_uid("u-rs").map(|(gr, _)| gr), Some(rs.clone()));
        assert!(store.has_uid("u-p1") && !store.has_uid("u-gone"));
        assert_eq!(names(store.with_missing_owners()), ["lost"]);
        // An update that drops the reference, and a delete.
        store
            .update(&pods, "a", "p1", |_, _| {
                Ok::<_, ()>(Some(object("p1", "u-p1", &[])))
            })
            .unwrap()
            .unwrap();
        store.delete(&pods, "a", "p2", |o, _| o.clone()).unwrap();
        assert!(store.dependents("u-rs").is_empty());
        assert!(!store.has_uid("u-p2"));
        store.delete(&rs, "a", "web", |o, _| o.clone()).unwrap();
        assert!(store.by_uid("u-rs").is_none());
    }
}
