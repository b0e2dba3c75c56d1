//! The StatefulSet controller, after `pkg/controller/statefulset`: Pods `<name>-0` … `<name>-N-1`
//! with stable names, `hostname`/`subdomain`, the `statefulset.kubernetes.io/pod-name`,
//! `apps.kubernetes.io/pod-index` and `controller-revision-hash` labels, and a PVC per
//! volumeClaimTemplate (`<claim>-<pod>`). With `OrderedReady` (the default) Pod i is created
//! only once 0…i-1 are Running and Ready and scale-down removes the highest ordinal first, one
//! at a time; `Parallel` does both at once. A template change rolls out under `RollingUpdate`
//! from the highest ordinal down to `partition`, one Pod at a time, each deleted and recreated
//! once the others are Ready; `OnDelete` leaves it to the user.
//!
//! Not simulated: ControllerRevision objects — a Pod below the partition that has to be
//! recreated gets the current template, where upstream would use the older revision's.

use std::time::Duration;

use serde_json::{Value, json};

use super::deployment::pod_template_hash;
use super::ownership::{OwnedIndex, controller_reference, owner_key};
use super::podstate::{availability, is_active, is_ready, is_terminating, pod_from_template};
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, controller_write, uid_of};
use crate::objects::{DeleteOptions, name_of, namespace_of};
use crate::server::Shared;
use crate::store::WatchEvent;

const REVISION_LABEL: &str = "controller-revision-hash";

pub async fn run(state: Shared) {
    super::runner::run(
        state,
        StatefulSetController {
            pods: OwnedIndex::new("", "pods"),
        },
    )
    .await;
}

struct StatefulSetController {
    pods: OwnedIndex,
}

/// The ordinal of a Pod named `<set>-<ordinal>`.
fn ordinal(set: &str, pod: &str) -> Option<i64> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

fn running_and_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && is_ready(pod)
}

impl Reconciler for StatefulSetController {
    fn keys_for(&mut self, _state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "apps", "statefulsets") {
            return vec![event_key(event)];
        }
        if is_type(event, "", "pods") {
            self.pods.observe(event);
            return owner_key(&event.object, "StatefulSet")
                .into_iter()
                .collect();
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        self.pods.rebuild(state);
        let sets = builtin(state, "apps", "v1", "statefulsets");
        state
            .objects
            .list(&sets, None)
            .items
            .iter()
            .map(|s| (namespace_of(s).to_string(), name_of(s).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let sets = builtin(state, "apps", "v1", "statefulsets");
        let pods_type = builtin(state, "", "v1", "pods");
        let set = state.objects.get(&sets, &key.0, &key.1).ok()?;
        let name = name_of(&set).to_string();
        let spec = &set["spec"];
        let replicas = spec["replicas"].as_i64().unwrap_or(1);
        let parallel = spec["podManagementPolicy"] == "Parallel";
        let update_revision = format!(
            "{name}-{}",
            pod_template_hash(&spec["template"], set["status"]["collisionCount"].as_u64())
        );
        let current_revision = set["status"]["currentRevision"]
            .as_str()
            .unwrap_or(&update_revision)
            .to_string();
        let owned = self.pods.children(state, uid_of(&set));
        let mut slots: Vec<Option<&Value>> = vec![None; replicas.max(0) as usize];
        let mut condemned: Vec<(i64, &Value)> = Vec::new();
        for pod in owned.iter() {
            match ordinal(&name, name_of(pod)) {
                Some(i) if i < replicas && i >= 0 => slots[i as usize] = Some(pod),
                Some(i) => condemned.push((i, pod)),
                None => {}
            }
        }
        let delete = |pod: &Value| {
            let _ = state.objects.delete(
                &pods_type,
                namespace_of(pod),
                name_of(pod),
                &DeleteOptions::default(),
            );
        };
        let mut waiting = false;
        if !is_terminating(&set) {
            for (i, slot) in slots.iter().enumerate() {
                match slot {
                    Some(pod) if !is_active(pod) && !is_terminating(pod) => {
                        // A failed or completed Pod is replaced under the same name.
                        delete(pod);
                        waiting = true;
                    }
                    Some(pod) if !running_and_ready(pod) => waiting = true,
                    Some(_) => {}
                    None => {
                        self.create_pod(state, &set, i as i64, &update_revision);
                        waiting = true;
                    }
                }
                if waiting && !parallel {
                    break;
                }
            }
            // Scale down: highest ordinal first; one at a time unless Parallel.
            condemned.sort_by_key(|(i, _)| -i);
            if !waiting || parallel {
                for (_, pod) in &condemned {
                    if !is_terminating(pod) {
                        delete(pod);
                    }
                    if !parallel {
                        waiting = true;
                        break;
                    }
                }
            }
            // Rolling update from the highest ordinal down to the partition.
            let rolling = spec["updateStrategy"]["type"] != "OnDelete";
            let partition = spec["updateStrategy"]["rollingUpdate"]["partition"]
                .as_i64()
                .unwrap_or(0);
            if rolling && !waiting && condemned.is_empty() {
                for i in (partition.max(0)..replicas).rev() {
                    if let Some(pod) = slots[i as usize]
                        && pod["metadata"]["labels"][REVISION_LABEL] != update_revision.as_str()
                    {
                        delete(pod);
                        break;
                    }
                }
            }
        }
        // Status.
        let min_ready = spec["minReadySeconds"].as_i64().unwrap_or(0);
        let live: Vec<&Value> = owned
            .iter()
            .map(|p| &**p)
            .filter(|p| is_active(p))
            .collect();
        let count = |f: &dyn Fn(&Value) -> bool| live.iter().filter(|p| f(p)).count() as i64;
        let revision_of = |p: &Value| {
            p["metadata"]["labels"][REVISION_LABEL]
                .as_str()
                .map(String::from)
        };
        let ready = count(&|p| is_ready(p));
        let mut recheck = None;
        let mut available = 0;
        for pod in &live {
            let (ok, after) = availability(pod, min_ready);
            available += i64::from(ok);
            recheck = recheck.or(after);
        }
        let updated = count(&|p| revision_of(p).as_deref() == Some(update_revision.as_str()));
        let current = count(&|p| revision_of(p).as_deref() == Some(current_revision.as_str()));
        // The rollout is done once every replica runs the update revision and is Ready.
        let done = updated == replicas && ready == replicas && live.len() as i64 == replicas;
        let (current_revision, current) = if done {
            (update_revision.clone(), updated)
        } else {
            (current_revision, current)
        };
        let mut status = json!({
            "replicas": live.len(),
            "availableReplicas": available,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": set["status"]["collisionCount"].as_i64().unwrap_or(0),
        });
        for (field, value) in [
            (
                "observedGeneration",
                set["metadata"]["generation"].as_i64().unwrap_or(0),
            ),
            ("readyReplicas", ready),
            ("currentReplicas", current),
            ("updatedReplicas", updated),
        ] {
            if value != 0 {
                status[field] = json!(value);
            }
        }
        let _ = state.objects.modify(
            &sets,
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
        recheck
    }
}

impl StatefulSetController {
    fn create_pod(&mut self, state: &Shared, set: &Value, ordinal: i64, revision: &str) {
        let pods_type = builtin(state, "", "v1", "pods");
        let claims_type = builtin(state, "", "v1", "persistentvolumeclaims");
        let ns = namespace_of(set);
        let pod_name = format!("{}-{ordinal}", name_of(set));
        let index = ordinal.to_string();
        let mut pod = pod_from_template(
            set,
            &set["spec"]["template"],
            Some(&pod_name),
            &[
                (REVISION_LABEL, revision),
                ("statefulset.kubernetes.io/pod-name", &pod_name),
                ("apps.kubernetes.io/pod-index", &index),
            ],
        );
        pod["spec"]["hostname"] = json!(pod_name);
        if let Some(service) = set["spec"]["serviceName"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            pod["spec"]["subdomain"] = json!(service);
        }
        for template in set["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let claim = template["metadata"]["name"].as_str().unwrap_or_default();
            let claim_name = format!("{claim}-{pod_name}");
            if state.objects.get(&claims_type, ns, &claim_name).is_err() {
                let mut labels = template["metadata"]["labels"].clone();
                if !labels.is_object() {
                    labels = json!({});
                }
                if let Some(selector) = set["spec"]["selector"]["matchLabels"].as_object() {
                    for (k, v) in selector {
                        labels[k] = v.clone();
                    }
                }
                let mut pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim_name, "namespace": ns, "labels": labels},
                    "spec": template["spec"]});
                if set["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete" {
                    pvc["metadata"]["ownerReferences"] = json!([controller_reference(set)]);
                }
                let _ = state
                    .objects
                    .create(&claims_type, ns, pvc, &controller_write());
            }
            let volumes = pod["spec"]["volumes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut volumes: Vec<Value> =
                volumes.into_iter().filter(|v| v["name"] != claim).collect();
            volumes
                .push(json!({"name": claim, "persistentVolumeClaim": {"claimName": claim_name}}));
            pod["spec"]["volumes"] = json!(volumes);
        }
        if let Ok(created) = state
            .objects
            .create(&pods_type, ns, pod, &controller_write())
        {
            self.pods.record(&created);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_belong_to_their_set_only() {
        assert_eq!(ordinal("web", "web-0"), Some(0));
        assert_eq!(ordinal("web", "web-12"), Some(12));
        assert_eq!(ordinal("web", "web-api-0"), None);
        assert_eq!(ordinal("web", "webx-1"), None);
    }
}
