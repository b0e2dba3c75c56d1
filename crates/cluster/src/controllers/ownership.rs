//! Controller ownership: the `ownerReferences` entry (controller: true, blockOwnerDeletion: true)
//! a workload controller puts on what it creates — which is also what lets the garbage collector
//! cascade deletes — and an index from an owner's uid to the objects it controls, so that a
//! reconcile does not scan every Pod of the cluster to find its own.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::objects::{name_of, namespace_of};
use crate::resources::GroupResource;
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

/// The reference a controller puts on an object it creates.
pub fn controller_reference(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The ownerReferences entry with `controller: true`, if any.
pub fn controller_of(object: &Value) -> Option<&Value> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
}

/// The uid of the object's controller.
pub fn controller_uid(object: &Value) -> Option<&str> {
    controller_of(object).and_then(|r| r["uid"].as_str())
}

/// The namespace/name of the object's controller when it is of `kind`: the key an event on a
/// dependent makes dirty for the owner's controller.
pub fn owner_key(object: &Value, kind: &str) -> Option<(String, String)> {
    let owner = controller_of(object)?;
    (owner["kind"] == kind).then(|| {
        (
            namespace_of(object).to_string(),
            owner["name"].as_str().unwrap_or_default().to_string(),
        )
    })
}

/// Owner uid → the (namespace, name) of the objects of one type it controls. Entries are hints
/// checked against the store on every read, so a stale event can never make a controller
/// believe in a child that is gone; objects a controller creates are recorded at once, so the
/// event arriving later is not needed to avoid creating them twice.
pub struct OwnedIndex {
    gr: GroupResource,
    by_owner: HashMap<String, BTreeSet<(String, String)>>,
}

impl OwnedIndex {
    pub fn new(group: &str, resource: &str) -> Self {
        Self {
            gr: GroupResource::new(group, resource),
            by_owner: HashMap::new(),
        }
    }

    /// Rebuilds the index from the store (on resync).
    pub fn rebuild(&mut self, state: &Shared) {
        self.by_owner.clear();
        for object in state.objects.store.list(&self.gr, None).items {
            self.record(&object);
        }
    }

    /// Records an object under its controller.
    pub fn record(&mut self, object: &Value) {
        if let Some(uid) = controller_uid(object) {
            self.by_owner.entry(uid.to_string()).or_default().insert((
                namespace_of(object).to_string(),
                name_of(object).to_string(),
            ));
        }
    }

    /// Keeps the index current with an event on the indexed type.
    pub fn observe(&mut self, event: &WatchEvent) {
        if event.gr != self.gr {
            return;
        }
        if event.event_type == EventType::Deleted {
            if let Some(uid) = controller_uid(&event.object)
                && let Some(set) = self.by_owner.get_mut(uid)
            {
                set.remove(&(event.namespace.clone(), event.name.clone()));
                if set.is_empty() {
                    self.by_owner.remove(uid);
                }
            }
            return;
        }
        self.record(&event.object);
    }

    /// The live objects `owner_uid` controls, in namespace/name order.
    pub fn children(&mut self, state: &Shared, owner_uid: &str) -> Vec<Arc<Value>> {
        let Some(keys) = self.by_owner.get_mut(owner_uid) else {
            return Vec::new();
        };
        let mut live = Vec::new();
        keys.retain(
            |(ns, name)| match state.objects.store.get(&self.gr, ns, name) {
                Some(object) if controller_uid(&object) == Some(owner_uid) => {
                    live.push(object);
                    true
                }
                _ => false,
            },
        );
        live
    }
}
