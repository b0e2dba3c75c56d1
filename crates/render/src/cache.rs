//! Rendered output kept in memory, keyed like Argo CD's manifest cache: everything that can
//! change what the tools print, and nothing else, so an unchanged Application is rendered once
//! per commit and cluster version.
//!
//! Only successful renders are kept: a failure may be transient (a timeout on a busy host) and is
//! cheap to retry.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::detect::RenderKind;

/// What a render's output depends on. The source parameters are held as their canonical JSON
/// rather than a digest of it, so two different sources can never share an entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub commit: String,
    pub path: String,
    /// `repoURL`, `chart`, `helm`, `kustomize` and `directory` of the source; `targetRevision` is
    /// left out because `commit` is what it resolved to.
    pub source: String,
    pub app_name: String,
    pub namespace: String,
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct CachedRender {
    pub kind: RenderKind,
    /// The objects as one JSON array's text: a `Value` takes about five times the memory of its
    /// text, and the cache holds a render per Application. Parsed again on every use.
    objects: Arc<str>,
}

impl CachedRender {
    pub(crate) fn new(kind: RenderKind, objects: &[Value]) -> CachedRender {
        CachedRender {
            kind,
            objects: serde_json::to_string(objects).unwrap_or_default().into(),
        }
    }

    pub(crate) fn objects(&self) -> Vec<Value> {
        serde_json::from_str(&self.objects).unwrap_or_default()
    }
}

/// A bounded map that forgets the oldest entry first: renders of old commits stop being asked
/// for once an Application moves on.
pub(crate) struct RenderCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<CacheKey, CachedRender>,
    order: VecDeque<CacheKey>,
}

impl RenderCache {
    pub(crate) fn new(capacity: usize) -> Self {
        RenderCache {
            capacity,
            inner: Mutex::new(Entries::default()),
        }
    }

    pub(crate) fn get(&self, key: &CacheKey) -> Option<CachedRender> {
        self.lock().map.get(key).cloned()
    }

    pub(crate) fn insert(&self, key: CacheKey, render: CachedRender) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.map.insert(key.clone(), render).is_none() {
            entries.order.push_back(key);
        }
        while entries.map.len() > self.capacity {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            entries.map.remove(&oldest);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// A panic while holding the lock leaves the map consistent (every mutation is a single
    /// call), so a poisoned lock is still usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(commit: &str) -> CacheKey {
        CacheKey {
            commit: commit.into(),
            path: "app".into(),
            source: "{}".into(),
            app_name: "a".into(),
            namespace: "ns".into(),
            kube_version: None,
            api_versions: Vec::new(),
        }
    }

    #[test]
    fn oldest_entry_is_evicted_at_capacity() {
        let cache = RenderCache::new(2);
        let render = CachedRender::new(RenderKind::Directory, &[]);
        cache.insert(key("1"), render.clone());
        cache.insert(key("2"), render.clone());
        cache.insert(key("3"), render);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&key("1")).is_none());
        assert!(cache.get(&key("2")).is_some() && cache.get(&key("3")).is_some());
    }
}
