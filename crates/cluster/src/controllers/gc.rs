//! The garbage collector: dependents (objects whose ownerReferences name a uid) go when their
//! owner goes (background), before it (foreground, through the `foregroundDeletion` finalizer),
//! or are left with the reference removed (orphan).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{controller_write, event_loop, uid_of};
use crate::objects::{DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Propagation};
use crate::resources::GroupResource;
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

pub async fn run(state: Shared) {
    event_loop(state, on_event, sync_all).await;
}

fn dependents(state: &Shared, uid: &str) -> Vec<(GroupResource, Arc<Value>)> {
    state.objects.store.dependents(uid)
}

fn has_finalizer(object: &Value, f: &str) -> bool {
    object["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == f))
}

fn sync_all(state: &Shared) {
    let pending = state.objects.store.find(|o| {
        o["metadata"]["deletionTimestamp"].is_string()
            && (has_finalizer(o, FOREGROUND_FINALIZER) || has_finalizer(o, ORPHAN_FINALIZER))
    });
    for (_, object) in pending {
        reconcile_deleting_owner(state, &object);
    }
    // Dependents whose owners no longer exist.
    for (_, object) in state.objects.store.with_missing_owners() {
        let refs = object["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if refs.iter().all(|r| {
            !state
                .objects
                .store
                .has_uid(r["uid"].as_str().unwrap_or_default())
        }) {
            delete(state, &object, Propagation::Background);
        }
    }
}

fn on_event(state: &Shared, event: &Arc<WatchEvent>) {
    match event.event_type {
        EventType::Deleted => {
            let uid = uid_of(&event.object);
            let orphaning = has_finalizer(&event.object, ORPHAN_FINALIZER);
            if !orphaning {
                for (_, dependent) in dependents(state, uid) {
                    delete(state, &dependent, Propagation::Background);
                }
            }
            // A dependent leaving may let a foreground-deleting owner go.
            release_owners(state, &event.object);
        }
        _ => {
            let o = &event.object;
            if o["metadata"]["deletionTimestamp"].is_string() {
                reconcile_deleting_owner(state, o);
            }
        }
    }
}

fn delete(state: &Shared, object: &Value, propagation: Propagation) {
    let Some(rt) = state.objects.type_of(object) else {
        return;
    };
    let opts = DeleteOptions {
        propagation,
        ..DeleteOptions::default()
    };
    let ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if object["metadata"]["deletionTimestamp"].is_string() && propagation == Propagation::Background
    {
        return;
    }
    let _ = state.objects.delete(&rt, ns, name, &opts);
}

fn release_owners(state: &Shared, dependent: &Value) {
    for r in dependent["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let uid = r["uid"].as_str().unwrap_or_default();
        if let Some((_, owner)) = state.objects.store.by_uid(uid)
            && owner["metadata"]["deletionTimestamp"].is_string()
        {
            reconcile_deleting_owner(state, &owner);
        }
    }
}

/// An owner being deleted in the foreground waits for its dependents; one being orphaned first
/// frees them.
fn reconcile_deleting_owner(state: &Shared, owner: &Value) {
    let uid = uid_of(owner).to_string();
    let Some(rt) = state.objects.type_of(owner) else {
        return;
    };
    let ns = owner["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = owner["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if has_finalizer(owner, ORPHAN_FINALIZER) {
        for (_, dependent) in dependents(state, &uid) {
            let Some(dt) = state.objects.type_of(&dependent) else {
                continue;
            };
            let dns = dependent["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default();
            let dname = dependent["metadata"]["name"].as_str().unwrap_or_default();
            let _ = state
                .objects
                .modify(&dt, dns, dname, None, &controller_write(), |live| {
                    let mut next = live.clone();
                    let refs: Vec<Value> = live["metadata"]["ownerReferences"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter(|r| r["uid"] != uid.as_str())
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    if refs.is_empty() {
                        next["metadata"]
                            .as_object_mut()
                            .expect("metadata")
                            .remove("ownerReferences");
                    } else {
                        next["metadata"]["ownerReferences"] = json!(refs);
                    }
                    Ok(next)
                });
        }
        remove_finalizer(state, &rt, &ns, &name, ORPHAN_FINALIZER);
        return;
    }
    if has_finalizer(owner, FOREGROUND_FINALIZER) {
        let remaining = dependents(state, &uid);
        if remaining.is_empty() {
            remove_finalizer(state, &rt, &ns, &name, FOREGROUND_FINALIZER);
        } else {
            for (_, dependent) in remaining {
                delete(state, &dependent, Propagation::Foreground);
            }
        }
    }
}

fn remove_finalizer(
    state: &Shared,
    rt: &crate::resources::ResourceType,
    ns: &str,
    name: &str,
    finalizer: &str,
) {
    let _ = state
        .objects
        .modify(rt, ns, name, None, &controller_write(), |live| {
            let mut next = live.clone();
            let kept: Vec<Value> = live["metadata"]["finalizers"]
                .as_array()
                .map(|a| a.iter().filter(|f| *f != finalizer).cloned().collect())
                .unwrap_or_default();
            next["metadata"]["finalizers"] = json!(kept);
            Ok(next)
        });
}
