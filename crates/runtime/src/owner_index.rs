//! Which cached objects each owner controls, so that a controller reads its own children
//! (a Rollout's ReplicaSets, its AnalysisRuns) without scanning every object of the cache on
//! every reconcile. Kept from the watch that fills the cache; entries are hints, checked against
//! the cache on every read (what the cache no longer holds under the owner leaves the index), so
//! a missed deletion costs nothing but a lookup.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ApiResource, DynamicObject};
use kube::core::ObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

/// Owner uid → (namespace, name) of the objects it controls, for one kind of owner.
pub struct OwnerIndex {
    owner_kind: &'static str,
    owned: Mutex<HashMap<String, BTreeSet<(String, String)>>>,
}

/// The reference to `object`'s controller, if it is of `kind` (as `metav1.GetControllerOf`).
pub fn controller_of<'a>(meta: &'a ObjectMeta, kind: &str) -> Option<&'a OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == kind && o.controller == Some(true))
}

impl OwnerIndex {
    /// An index of the objects controlled by owners of `owner_kind` (`Rollout`).
    pub fn new(owner_kind: &'static str) -> OwnerIndex {
        OwnerIndex {
            owner_kind,
            owned: Mutex::default(),
        }
    }

    /// Takes in an object the watch touched; its controller's reference, when an owner of this
    /// index's kind controls it.
    pub fn record<'a>(&self, object: &'a DynamicObject) -> Option<&'a OwnerReference> {
        let owner = controller_of(&object.metadata, self.owner_kind)?;
        if let Some(name) = &object.metadata.name {
            self.lock().entry(owner.uid.clone()).or_default().insert((
                object.metadata.namespace.clone().unwrap_or_default(),
                name.clone(),
            ));
        }
        Some(owner)
    }

    /// The objects of `namespace` in `cache` that the owner `uid` controls.
    pub fn owned(
        &self,
        cache: &Store<DynamicObject>,
        resource: &ApiResource,
        namespace: &str,
        uid: &str,
    ) -> Vec<Arc<DynamicObject>> {
        let mut index = self.lock();
        let Some(names) = index.get_mut(uid) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        names.retain(|(ns, name)| {
            let reference = ObjectRef::new_with(name, resource.clone()).within(ns);
            match cache.get(&reference) {
                Some(object)
                    if controller_of(&object.metadata, self.owner_kind)
                        .is_some_and(|o| o.uid == uid) =>
                {
                    if ns == namespace {
                        found.push(object);
                    }
                    true
                }
                _ => false,
            }
        });
        if names.is_empty() {
            index.remove(uid);
        }
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeSet<(String, String)>>> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    fn resource() -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("apps", "v1", "ReplicaSet"),
            "replicasets",
        )
    }

    fn child(namespace: &str, name: &str, owner: Option<(&str, &str, bool)>) -> DynamicObject {
        let mut object = DynamicObject::new(name, &resource()).within(namespace);
        object.metadata.owner_references = owner.map(|(kind, uid, controller)| {
            vec![OwnerReference {
                api_version: "argoproj.io/v1alpha1".into(),
                kind: kind.into(),
                name: "web".into(),
                uid: uid.into(),
                controller: Some(controller),
                block_owner_deletion: None,
            }]
        });
        object
    }

    fn names(objects: Vec<Arc<DynamicObject>>) -> Vec<String> {
        let mut names: Vec<String> = objects
            .iter()
            .map(|o| o.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        names
    }

    // The index answers from the cache: only what the cache holds under the owner's controller
    // reference, in the namespace asked; what left the cache, or changed hands, leaves the index.
    #[test]
    fn owned_objects_are_read_from_the_cache_through_the_index() {
        let mut writer = Writer::new(resource());
        let cache = writer.as_reader();
        let index = OwnerIndex::new("Rollout");
        let objects = [
            child("shop", "web-1", Some(("Rollout", "u1", true))),
            child("shop", "web-2", Some(("Rollout", "u1", true))),
            child("shop", "other", Some(("Rollout", "u2", true))),
            child("shop", "not-controlled", Some(("Rollout", "u1", false))),
            child("shop", "a-deployment's", Some(("Deployment", "u1", true))),
            child("shop", "orphan", None),
        ];
        for object in &objects {
            writer.apply_watcher_event(&Event::Apply(object.clone()));
            let recorded = index.record(object).map(|o| o.uid.clone());
            let controlled_by_a_rollout = object
                .metadata
                .owner_references
                .as_ref()
                .is_some_and(|o| o[0].kind == "Rollout" && o[0].controller == Some(true));
            assert_eq!(recorded.is_some(), controlled_by_a_rollout);
        }
        assert_eq!(
            names(index.owned(&cache, &resource(), "shop", "u1")),
            ["web-1", "web-2"]
        );
        assert!(
            index
                .owned(&cache, &resource(), "elsewhere", "u1")
                .is_empty()
        );
        assert!(
            index
                .owned(&cache, &resource(), "shop", "nobody")
                .is_empty()
        );
        // web-1 is deleted; web-2 is adopted by u2 (the cache has it so before the index does).
        writer.apply_watcher_event(&Event::Delete(objects[0].clone()));
        writer.apply_watcher_event(&Event::Apply(child(
            "shop",
            "web-2",
            Some(("Rollout", "u2", true)),
        )));
        assert!(index.owned(&cache, &resource(), "shop", "u1").is_empty());
        assert!(index.lock().get("u1").is_none(), "u1's entries are gone");
        index.record(&child("shop", "web-2", Some(("Rollout", "u2", true))));
        assert_eq!(
            names(index.owned(&cache, &resource(), "shop", "u2")),
            ["other", "web-2"]
        );
    }
}
