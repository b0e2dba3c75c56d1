//! The digests of one cluster's ConfigMaps and Secrets, kept by kube-runtime watchers: only
//! `(kind, namespace, name) → digest` is kept, never the content — a Secret's values live no
//! longer than the watch event they arrive in, and reach no log, status or store. A change of
//! a digest is said to a callback (the controller queues the Rollouts that reference the object).
//!
//! Not a reflector: a reflector's store holds whole objects. The watcher's events are applied as
//! a reflector applies them (a relist replaces the kind's entries at its end, so an object
//! deleted while the watch was down goes too).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::config::{Kind, digest};

type Key = (Kind, String, String);

pub struct ConfigDigests {
    digests: RwLock<HashMap<Key, String>>,
    /// Whether each kind's first list is in (ConfigMaps, Secrets).
    listed: watch::Sender<(bool, bool)>,
    /// The kinds this client may not list (403): they are left out of revisions, as before
    /// config versioning, rather than holding every Rollout that references them.
    forbidden: RwLock<Vec<Kind>>,
}

impl ConfigDigests {
    pub fn new() -> Arc<ConfigDigests> {
        Arc::new(ConfigDigests {
            digests: RwLock::default(),
            listed: watch::channel((false, false)).0,
            forbidden: RwLock::default(),
        })
    }

    /// Whether `kind` cannot be listed in this cluster (its objects are not versioned there).
    pub fn forbidden(&self, kind: Kind) -> bool {
        self.forbidden
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&kind)
    }

    fn set_listed(&self, kind: Kind) {
        self.listed.send_modify(|(c, s)| match kind {
            Kind::ConfigMap => *c = true,
            Kind::Secret => *s = true,
        });
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<String> {
        self.digests
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(kind, namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// Waits until both kinds are listed (before that, an object would look missing).
    pub async fn wait_until_ready(&self) {
        let mut listed = self.listed.subscribe();
        let _ = listed.wait_for(|(c, s)| *c && *s).await;
    }

    /// Watches `kind` in every namespace until the task is dropped; `changed(namespace, name)`
    /// is called for each object whose digest changed, appeared or went. The revisions' own
    /// copies are watched too: a template set back to a ReplicaSet's (Argo's `kubectl
    /// argo rollouts undo`) references them.
    pub async fn watch(
        self: Arc<Self>,
        client: kube::Client,
        kind: Kind,
        cluster: String,
        changed: impl Fn(&str, &str),
    ) {
        let api: Api<DynamicObject> = Api::all_with(client, &kind.resource());
        let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        let mut relist: Option<HashMap<Key, String>> = None;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(event) => event,
                Err(watcher::Error::InitialListFailed(kube::Error::Api(e))) if e.code == 403 => {
                    let mut forbidden = self.forbidden.write().unwrap_or_else(|p| p.into_inner());
                    if !forbidden.contains(&kind) {
                        forbidden.push(kind);
                        tracing::warn!(cluster = %cluster, kind = kind.as_str(), error = %e, "may not list this kind: its objects are not part of Rollout revisions in this cluster");
                    }
                    drop(forbidden);
                    self.set_listed(kind);
                    continue;
                }
                Err(e) => {
                    tracing::debug!(cluster = %cluster, kind = kind.as_str(), error = %e, "watching config");
                    continue;
                }
            };
            for (namespace, name) in self.take(kind, &mut relist, event) {
                changed(&namespace, &name);
            }
        }
    }

    /// Takes one watch event of `kind` in, as a reflector would (`relist` buffers a relist
    /// until its end); the (namespace, name) of each object whose digest changed, appeared or
    /// went. The object is digested and dropped here: only its digest is kept.
    fn take(
        &self,
        kind: Kind,
        relist: &mut Option<HashMap<Key, String>>,
        event: watcher::Event<DynamicObject>,
    ) -> Vec<(String, String)> {
        let key = |object: &DynamicObject| -> Key {
            (
                kind,
                object.metadata.namespace.clone().unwrap_or_default(),
                object.metadata.name.clone().unwrap_or_default(),
            )
        };
        let mut notify: Vec<Key> = Vec::new();
        match event {
            watcher::Event::Init => *relist = Some(HashMap::new()),
            watcher::Event::InitApply(object) => {
                if let Some(relist) = relist.as_mut() {
                    relist.insert(key(&object), digest(&object.data));
                }
            }
            watcher::Event::InitDone => {
                let fresh = relist.take().unwrap_or_default();
                // The first list changes nothing anyone decided on: reconciles wait for it.
                let first = match kind {
                    Kind::ConfigMap => !self.listed.borrow().0,
                    Kind::Secret => !self.listed.borrow().1,
                };
                let mut digests = self.digests.write().unwrap_or_else(|p| p.into_inner());
                digests.retain(|k, old| {
                    if k.0 != kind {
                        return true;
                    }
                    if fresh.get(k) != Some(old) {
                        notify.push(k.clone());
                    }
                    fresh.contains_key(k)
                });
                for (k, d) in fresh {
                    if !digests.contains_key(&k) {
                        notify.push(k.clone());
                    }
                    digests.insert(k, d);
                }
                drop(digests);
                if first {
                    notify.clear();
                }
                self.forbidden
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|k| *k != kind);
                self.set_listed(kind);
            }
            watcher::Event::Apply(object) => {
                let k = key(&object);
                let d = digest(&object.data);
                let old = self
                    .digests
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(k.clone(), d.clone());
                if old.as_ref() != Some(&d) {
                    notify.push(k);
                }
            }
            watcher::Event::Delete(object) => {
                let k = key(&object);
                let old = self
                    .digests
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&k);
                if old.is_some() {
                    notify.push(k);
                }
            }
        }
        notify.into_iter().map(|(_, ns, name)| (ns, name)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(name: &str, value: &str) -> DynamicObject {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "shop"}, "data": {"k": value}}))
        .unwrap()
    }

    fn names(changed: Vec<(String, String)>) -> Vec<String> {
        let mut names: Vec<String> = changed.into_iter().map(|(_, n)| n).collect();
        names.sort();
        names
    }

    #[test]
    fn digests_follow_the_watch_as_a_reflector_would_and_say_what_changed() {
        let cache = ConfigDigests::new();
        let mut relist = None;
        let secret = Kind::Secret;
        let mut take = |event| names(cache.take(secret, &mut relist, event));
        // The first list: kept, and nothing said (no decision was taken without it).
        assert!(take(watcher::Event::Init).is_empty());
        assert!(take(watcher::Event::InitApply(object("a", "MQ=="))).is_empty());
        assert!(take(watcher::Event::InitApply(object("b", "MQ=="))).is_empty());
        assert!(
            cache.get(secret, "shop", "a").is_none(),
            "not before the list ends"
        );
        assert!(take(watcher::Event::InitDone).is_empty());
        assert_eq!(
            cache.get(secret, "shop", "a"),
            Some(digest(&json!({"data": {"k": "MQ=="}})))
        );
        assert!(!cache.forbidden(secret));
        // A change of content is said; a write that keeps it (a label) is not.
        assert_eq!(take(watcher::Event::Apply(object("a", "Mg=="))), ["a"]);
        assert!(take(watcher::Event::Apply(object("a", "Mg=="))).is_empty());
        // A relist after a lost watch: `b` went meanwhile, `c` came, `a` changed.
        take(watcher::Event::Init);
        take(watcher::Event::InitApply(object("a", "Mw==")));
        take(watcher::Event::InitApply(object("c", "MQ==")));
        assert_eq!(take(watcher::Event::InitDone), ["a", "b", "c"]);
        assert!(cache.get(secret, "shop", "b").is_none());
        assert_eq!(take(watcher::Event::Delete(object("c", "MQ=="))), ["c"]);
        assert!(cache.get(Kind::ConfigMap, "shop", "a").is_none(), "by kind");
    }
}
