//! Versioned object storage: every write gets the next cluster-wide resourceVersion and an entry
//! in a bounded event history, which is what lets a watch resume from a resourceVersion (and be
//! told 410 Gone when it is older than the history). With a data directory, every write also goes
//! to SQLite before it becomes visible, so objects survive a restart.

use std::collections::{BTreeMap, HashMap, VecDeque};
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

struct Inner {
    rv: u64,
    objects: HashMap<GroupResource, BTreeMap<Key, Arc<Value>>>,
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
        Self {
            inner: Mutex::new(Inner {
                rv,
                objects,
                history: VecDeque::new(),
                history_floor: rv,
                db,
            }),
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

impl Store {
    /// Every stored object for which `pred` holds, with its type (a full scan: the garbage
    /// collector uses it to find dependents by owner uid).
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
