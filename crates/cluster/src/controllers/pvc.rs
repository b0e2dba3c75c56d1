//! PersistentVolumeClaims bind at once, as with a default StorageClass whose provisioner is
//! instant: `spec.volumeName` becomes `pvc-<uid>` (the name dynamic provisioning gives), the
//! binder's annotations are set, and the status is `Bound` with the requested capacity and
//! access modes. No PersistentVolume object is created (the local cluster serves none).

use std::time::Duration;

use serde_json::json;

use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, controller_write, uid_of};
use crate::objects::{name_of, namespace_of};
use crate::server::Shared;
use crate::store::{EventType, WatchEvent};

pub async fn run(state: Shared) {
    super::runner::run(state, ClaimBinder).await;
}

struct ClaimBinder;

impl Reconciler for ClaimBinder {
    fn keys_for(&mut self, _state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "", "persistentvolumeclaims") && event.event_type != EventType::Deleted {
            return vec![event_key(event)];
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        let claims = builtin(state, "", "v1", "persistentvolumeclaims");
        state
            .objects
            .list(&claims, None)
            .items
            .iter()
            .filter(|c| c["status"]["phase"] != "Bound")
            .map(|c| (namespace_of(c).to_string(), name_of(c).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let claims = builtin(state, "", "v1", "persistentvolumeclaims");
        let claim = state.objects.get(&claims, &key.0, &key.1).ok()?;
        if claim["metadata"]["deletionTimestamp"].is_string() {
            return None;
        }
        let volume = format!("pvc-{}", uid_of(&claim));
        let uid = uid_of(&claim).to_string();
        let bound = state
            .objects
            .modify(&claims, &key.0, &key.1, None, &controller_write(), |live| {
                if uid_of(live) != uid {
                    return Err(crate::status::ApiError::conflict(&claims, &key.1));
                }
                let mut next = live.clone();
                if next["spec"]["volumeName"]
                    .as_str()
                    .is_none_or(str::is_empty)
                {
                    next["spec"]["volumeName"] = json!(volume);
                }
                if !next["metadata"]["annotations"].is_object() {
                    next["metadata"]["annotations"] = json!({});
                }
                let annotations = &mut next["metadata"]["annotations"];
                annotations["pv.kubernetes.io/bind-completed"] = json!("yes");
                annotations["pv.kubernetes.io/bound-by-controller"] = json!("yes");
                Ok(next)
            })
            .ok()?;
        let status = json!({
            "phase": "Bound",
            "accessModes": bound["spec"]["accessModes"].as_array().cloned().unwrap_or_else(|| vec![json!("ReadWriteOnce")]),
            "capacity": {"storage": bound["spec"]["resources"]["requests"]["storage"].as_str().unwrap_or("1Gi")},
        });
        let _ = state.objects.modify(
            &claims,
            &key.0,
            &key.1,
            Some("status"),
            &controller_write(),
            |live| {
                let mut next = live.clone();
                next["status"] = status;
                Ok(next)
            },
        );
        None
    }
}
