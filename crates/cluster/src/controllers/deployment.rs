//! The Deployment controller, after `k8s.io/kubernetes/pkg/controller/deployment` (sync.go,
//! rolling.go, recreate.go, progress.go, util/deployment_util.go): one ReplicaSet per pod
//! template (named `<deployment>-<pod-template-hash>`), rolling updates within maxSurge and
//! maxUnavailable, proportional scaling of a rollout in progress, revision annotations (which
//! `kubectl rollout history/undo` read), revisionHistoryLimit clean-up, pause/resume, and the
//! Progressing/Available conditions with the real reasons — including
//! `ProgressDeadlineExceeded` once `progressDeadlineSeconds` pass without progress.
//!
//! The code keeps the upstream function names and order (`getNewReplicaSet`,
//! `reconcileNewReplicaSet`, `reconcileOldReplicaSets`, `syncRolloutStatus`, ...) so each can be
//! checked against its original.

use std::cmp::Ordering;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::intstr::resolve_fenceposts;
use super::ownership::{OwnedIndex, controller_reference, controller_uid, owner_key};
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, conditions, controller_write, uid_of};
use crate::objects::{DeleteOptions, name_of, namespace_of, now};
use crate::server::Shared;
use crate::store::WatchEvent;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

// Condition reasons, as `deploymentutil` spells them.
const NEW_RS_REASON: &str = "NewReplicaSetCreated";
const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
const RS_UPDATED_REASON: &str = "ReplicaSetUpdated";
const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
const PAUSED_REASON: &str = "DeploymentPaused";
const RESUMED_REASON: &str = "DeploymentResumed";
const MIN_AVAILABLE_REASON: &str = "MinimumReplicasAvailable";
const MIN_UNAVAILABLE_REASON: &str = "MinimumReplicasUnavailable";

/// Annotations a Deployment does not pass on to its ReplicaSets.
const SKIPPED_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];
const MAX_REV_HISTORY_LENGTH_IN_CHARS: usize = 2000;
const NO_LIMIT: i64 = i32::MAX as i64;

pub async fn run(state: Shared) {
    super::runner::run(
        state,
        DeploymentController {
            replica_sets: OwnedIndex::new("apps", "replicasets"),
        },
    )
    .await;
}

struct DeploymentController {
    replica_sets: OwnedIndex,
}

impl Reconciler for DeploymentController {
    fn keys_for(&mut self, _state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "apps", "deployments") {
            return vec![event_key(event)];
        }
        if is_type(event, "apps", "replicasets") {
            self.replica_sets.observe(event);
            let mut keys: Vec<Key> = owner_key(&event.object, "Deployment").into_iter().collect();
            if let Some(previous) = &event.previous {
                keys.extend(owner_key(previous, "Deployment"));
            }
            return keys;
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        self.replica_sets.rebuild(state);
        let rt = builtin(state, "apps", "v1", "deployments");
        state
            .objects
            .list(&rt, None)
            .items
            .iter()
            .map(|d| (namespace_of(d).to_string(), name_of(d).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let rt = builtin(state, "apps", "v1", "deployments");
        let d = state.objects.get(&rt, &key.0, &key.1).ok()?;
        let rs_list: Vec<Value> = self
            .replica_sets
            .children(state, uid_of(&d))
            .iter()
            .map(|rs| (**rs).clone())
            .collect();
        let mut sync = Sync {
            state,
            d: (*d).clone(),
            index: &mut self.replica_sets,
        };
        match sync.sync_deployment(rs_list) {
            Ok(requeue) => requeue,
            // The object changed or went away under us: the event that says so brings us back;
            // the short retry covers writes refused for other reasons.
            Err(Retry) => Some(Duration::from_millis(500)),
        }
    }
}

/// A write failed; reconcile again later.
struct Retry;

type Step<T> = Result<T, Retry>;

/// The new ReplicaSet (if any) and the old ones of a Deployment.
struct Sets {
    new: Option<Value>,
    old: Vec<Value>,
}

impl Sets {
    fn all(&self) -> Vec<&Value> {
        self.old.iter().chain(self.new.iter()).collect()
    }
}

/// One reconcile of one Deployment.
struct Sync<'a> {
    state: &'a Shared,
    d: Value,
    index: &'a mut OwnedIndex,
}

impl Sync<'_> {
    /// `syncDeployment`
    fn sync_deployment(&mut self, rs_list: Vec<Value>) -> Step<Option<Duration>> {
        if self.d["metadata"]["deletionTimestamp"].is_string() {
            let sets = self.get_all_replica_sets_and_sync_revision(rs_list, false)?;
            self.sync_deployment_status(&sets)?;
            return Ok(None);
        }
        self.check_paused_conditions()?;
        if paused(&self.d) {
            return self.sync(rs_list);
        }
        if self.is_scaling_event(&rs_list)? {
            return self.sync(rs_list);
        }
        if self.d["spec"]["strategy"]["type"] == "Recreate" {
            self.rollout_recreate(rs_list)
        } else {
            self.rollout_rolling(rs_list)
        }
    }

    /// `checkPausedConditions`: Progressing becomes Unknown/DeploymentPaused while paused and
    /// Unknown/DeploymentResumed when resumed.
    fn check_paused_conditions(&mut self) -> Step<()> {
        if !has_progress_deadline(&self.d) {
            return Ok(());
        }
        let reason = conditions::get(&self.d["status"], "Progressing")
            .and_then(|c| c["reason"].as_str())
            .unwrap_or_default()
            .to_string();
        if reason == TIMED_OUT_REASON {
            return Ok(());
        }
        let is_paused = paused(&self.d);
        let condition = if is_paused && reason != PAUSED_REASON {
            deployment_condition(
                "Progressing",
                "Unknown",
                PAUSED_REASON,
                "Deployment is paused",
            )
        } else if !is_paused && reason == PAUSED_REASON {
            deployment_condition(
                "Progressing",
                "Unknown",
                RESUMED_REASON,
                "Deployment is resumed",
            )
        } else {
            return Ok(());
        };
        let mut status = self.d["status"].clone();
        conditions::set(&mut status, condition);
        self.write_status(status)
    }

    /// `sync`: scaling and clean-up only, for paused Deployments and scaling events.
    fn sync(&mut self, rs_list: Vec<Value>) -> Step<Option<Duration>> {
        let mut sets = self.get_all_replica_sets_and_sync_revision(rs_list, false)?;
        self.scale(&mut sets)?;
        if paused(&self.d) {
            self.cleanup_deployment(&sets.old);
        }
        self.sync_deployment_status(&sets)?;
        Ok(None)
    }

    /// `isScalingEvent`: an active ReplicaSet was sized for a different replica count.
    fn is_scaling_event(&mut self, rs_list: &[Value]) -> Step<bool> {
        let sets = self.get_all_replica_sets_and_sync_revision(rs_list.to_vec(), false)?;
        let desired = replicas(&self.d);
        Ok(sets
            .all()
            .into_iter()
            .filter(|rs| replicas(rs) > 0)
            .any(|rs| annotation_int(rs, DESIRED_REPLICAS).is_some_and(|n| n != desired)))
    }

    /// `rolloutRolling`
    fn rollout_rolling(&mut self, rs_list: Vec<Value>) -> Step<Option<Duration>> {
        let mut sets = self.get_all_replica_sets_and_sync_revision(rs_list, true)?;
        if self.reconcile_new_replica_set(&mut sets)? {
            return self.sync_rollout_status(&sets);
        }
        if self.reconcile_old_replica_sets(&mut sets)? {
            return self.sync_rollout_status(&sets);
        }
        if deployment_complete(&self.d, &calculate_status(&sets, &self.d)) {
            self.cleanup_deployment(&sets.old);
        }
        self.sync_rollout_status(&sets)
    }

    /// `rolloutRecreate`: every old Pod goes before the new ReplicaSet scales up.
    fn rollout_recreate(&mut self, rs_list: Vec<Value>) -> Step<Option<Duration>> {
        let mut sets = self.get_all_replica_sets_and_sync_revision(rs_list, false)?;
        let mut scaled_down = false;
        for i in 0..sets.old.len() {
            if replicas(&sets.old[i]) != 0 {
                let mut rs = sets.old[i].clone();
                self.scale_replica_set(&mut rs, 0)?;
                sets.old[i] = rs;
                scaled_down = true;
            }
        }
        if scaled_down {
            return self.sync_rollout_status(&sets);
        }
        // `oldPodsRunning`: the old ReplicaSets' status counts their remaining Pods.
        if sets.old.iter().any(|rs| status_int(rs, "replicas") > 0) {
            return self.sync_rollout_status(&sets);
        }
        if sets.new.is_none() {
            let old = std::mem::take(&mut sets.old);
            sets = self.get_all_replica_sets_and_sync_revision(old, true)?;
        }
        if let Some(mut new_rs) = sets.new.take() {
            let desired = replicas(&self.d);
            self.scale_replica_set(&mut new_rs, desired)?;
            sets.new = Some(new_rs);
        }
        if deployment_complete(&self.d, &calculate_status(&sets, &self.d)) {
            self.cleanup_deployment(&sets.old);
        }
        self.sync_rollout_status(&sets)
    }

    /// `getAllReplicaSetsAndSyncRevision`
    fn get_all_replica_sets_and_sync_revision(
        &mut self,
        mut rs_list: Vec<Value>,
        create_if_not_existed: bool,
    ) -> Step<Sets> {
        sort_by_creation(&mut rs_list);
        let template = &self.d["spec"]["template"];
        let new_index = rs_list
            .iter()
            .position(|rs| equal_ignore_hash(&rs["spec"]["template"], template));
        let existing_new = new_index.map(|i| rs_list.remove(i));
        let old = rs_list;
        let new = self.get_new_replica_set(existing_new, &old, create_if_not_existed)?;
        Ok(Sets { new, old })
    }

    /// `getNewReplicaSet`: brings the new ReplicaSet's annotations up to date, or creates it.
    fn get_new_replica_set(
        &mut self,
        existing: Option<Value>,
        old: &[Value],
        create_if_not_existed: bool,
    ) -> Step<Option<Value>> {
        let max_old_revision = old
            .iter()
            .filter_map(|rs| annotation_int(rs, REVISION))
            .max()
            .unwrap_or(0);
        let new_revision = (max_old_revision + 1).to_string();
        if let Some(existing) = existing {
            let mut rs_copy = existing.clone();
            let annotations_updated =
                set_new_replica_set_annotations(&self.d, &mut rs_copy, &new_revision, true);
            let min_ready = self.d["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
            let min_ready_needs_update =
                rs_copy["spec"]["minReadySeconds"].as_i64().unwrap_or(0) != min_ready;
            let rs = if annotations_updated || min_ready_needs_update {
                let annotations = rs_copy["metadata"]["annotations"].clone();
                self.modify_rs(&existing, |live| {
                    live["metadata"]["annotations"] = annotations;
                    if min_ready == 0 {
                        if let Some(spec) = live["spec"].as_object_mut() {
                            spec.remove("minReadySeconds");
                        }
                    } else {
                        live["spec"]["minReadySeconds"] = json!(min_ready);
                    }
                })?
            } else {
                existing
            };
            let revision = annotation(&rs, REVISION).unwrap_or_default().to_string();
            self.set_deployment_revision(&revision)?;
            if has_progress_deadline(&self.d)
                && conditions::get(&self.d["status"], "Progressing").is_none()
            {
                let mut status = self.d["status"].clone();
                conditions::set(
                    &mut status,
                    deployment_condition(
                        "Progressing",
                        "True",
                        FOUND_NEW_RS_REASON,
                        &format!("Found new replica set \"{}\"", name_of(&rs)),
                    ),
                );
                self.write_status(status)?;
            }
            return Ok(Some(rs));
        }
        if !create_if_not_existed {
            return Ok(None);
        }
        let collision_count = self.d["status"]["collisionCount"].as_u64();
        let hash = pod_template_hash(&self.d["spec"]["template"], collision_count);
        let mut template = self.d["spec"]["template"].clone();
        if !template["metadata"]["labels"].is_object() {
            template["metadata"]["labels"] = json!({});
        }
        template["metadata"]["labels"][POD_TEMPLATE_HASH] = json!(hash);
        let mut selector = self.d["spec"]["selector"].clone();
        if !selector["matchLabels"].is_object() {
            selector["matchLabels"] = json!({});
        }
        selector["matchLabels"][POD_TEMPLATE_HASH] = json!(hash);
        let name = format!("{}-{hash}", name_of(&self.d));
        let mut spec = json!({"replicas": 0, "selector": selector, "template": template});
        if let Some(min_ready) = self.d["spec"]["minReadySeconds"]
            .as_i64()
            .filter(|m| *m > 0)
        {
            spec["minReadySeconds"] = json!(min_ready);
        }
        let mut new_rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": namespace_of(&self.d),
                "labels": template["metadata"]["labels"],
                "ownerReferences": [controller_reference(&self.d)],
            },
            "spec": spec,
        });
        let mut all: Vec<&Value> = old.iter().collect();
        all.push(&new_rs);
        let new_replicas = new_rs_new_replicas(&self.d, &all, &new_rs);
        new_rs["spec"]["replicas"] = json!(new_replicas);
        set_new_replica_set_annotations(&self.d, &mut new_rs, &new_revision, false);
        let rt = builtin(self.state, "apps", "v1", "replicasets");
        let created =
            match self
                .state
                .objects
                .create(&rt, namespace_of(&self.d), new_rs, &controller_write())
            {
                Ok(rs) => (*rs).clone(),
                Err(e) if e.code == 409 => {
                    // A ReplicaSet of that name exists: ours with this template (an earlier create
                    // we have not seen yet) is the new one; anything else is a hash collision.
                    let live = self
                        .state
                        .objects
                        .get(&rt, namespace_of(&self.d), &name)
                        .map_err(|_| Retry)?;
                    if controller_uid(&live) == Some(uid_of(&self.d))
                        && equal_ignore_hash(&live["spec"]["template"], &self.d["spec"]["template"])
                    {
                        self.index.record(&live);
                        return Ok(Some((*live).clone()));
                    }
                    let mut status = self.d["status"].clone();
                    status["collisionCount"] = json!(collision_count.unwrap_or(0) + 1);
                    self.write_status(status)?;
                    return Err(Retry);
                }
                Err(_) => return Err(Retry),
            };
        self.index.record(&created);
        if new_replicas > 0 {
            self.event(&format!(
                "Scaled up replica set {} from 0 to {new_replicas}",
                name_of(&created)
            ));
        }
        let mut status = self.d["status"].clone();
        if has_progress_deadline(&self.d) {
            conditions::set(
                &mut status,
                deployment_condition(
                    "Progressing",
                    "True",
                    NEW_RS_REASON,
                    &format!("Created new replica set \"{}\"", name_of(&created)),
                ),
            );
        }
        self.write_status(status)?;
        self.set_deployment_revision(&new_revision)?;
        Ok(Some(created))
    }

    /// `reconcileNewReplicaSet`: scales the new ReplicaSet up as far as maxSurge allows.
    fn reconcile_new_replica_set(&mut self, sets: &mut Sets) -> Step<bool> {
        let Some(mut new_rs) = sets.new.clone() else {
            return Ok(false);
        };
        let desired = replicas(&self.d);
        let current = replicas(&new_rs);
        if current == desired {
            return Ok(false);
        }
        let target = if current > desired {
            desired
        } else {
            new_rs_new_replicas(&self.d, &sets.all(), &new_rs)
        };
        let scaled = self.scale_replica_set(&mut new_rs, target)?;
        sets.new = Some(new_rs);
        Ok(scaled)
    }

    /// `reconcileOldReplicaSets`: scales old ReplicaSets down as far as maxUnavailable allows,
    /// unhealthy Pods first.
    fn reconcile_old_replica_sets(&mut self, sets: &mut Sets) -> Step<bool> {
        let old_pods: i64 = sets.old.iter().map(replicas).sum();
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods: i64 = sets.all().into_iter().map(replicas).sum();
        let min_available = replicas(&self.d) - max_unavailable(&self.d);
        let new_unavailable = sets
            .new
            .as_ref()
            .map(|rs| replicas(rs) - status_int(rs, "availableReplicas"))
            .unwrap_or(0);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        let cleaned = self.cleanup_unhealthy_replicas(sets, max_scaled_down)?;
        let scaled = self.scale_down_old_replica_sets_for_rolling_update(sets)?;
        Ok(cleaned + scaled > 0)
    }

    /// `cleanupUnhealthyReplicas`: old Pods that are not available go first.
    fn cleanup_unhealthy_replicas(&mut self, sets: &mut Sets, max_cleanup: i64) -> Step<i64> {
        sort_by_creation(&mut sets.old);
        let mut total = 0;
        for i in 0..sets.old.len() {
            if total >= max_cleanup {
                break;
            }
            let rs = &sets.old[i];
            let (spec, available) = (replicas(rs), status_int(rs, "availableReplicas"));
            if spec == 0 || spec == available {
                continue;
            }
            let count = (max_cleanup - total).min(spec - available);
            let mut rs = rs.clone();
            self.scale_replica_set(&mut rs, spec - count)?;
            sets.old[i] = rs;
            total += count;
        }
        Ok(total)
    }

    /// `scaleDownOldReplicaSetsForRollingUpdate`: oldest first, keeping minAvailable.
    fn scale_down_old_replica_sets_for_rolling_update(&mut self, sets: &mut Sets) -> Step<i64> {
        let min_available = replicas(&self.d) - max_unavailable(&self.d);
        let available: i64 = sets
            .all()
            .into_iter()
            .map(|rs| status_int(rs, "availableReplicas"))
            .sum();
        if available <= min_available {
            return Ok(0);
        }
        let total_to_scale_down = available - min_available;
        sort_by_creation(&mut sets.old);
        let mut total = 0;
        for i in 0..sets.old.len() {
            if total >= total_to_scale_down {
                break;
            }
            let spec = replicas(&sets.old[i]);
            if spec == 0 {
                continue;
            }
            let count = spec.min(total_to_scale_down - total);
            let mut rs = sets.old[i].clone();
            self.scale_replica_set(&mut rs, spec - count)?;
            sets.old[i] = rs;
            total += count;
        }
        Ok(total)
    }

    /// `scale`: a replica count change while several ReplicaSets are active is spread over them
    /// in proportion to their size (largest absorbs the rounding leftover).
    fn scale(&mut self, sets: &mut Sets) -> Step<()> {
        let desired = replicas(&self.d);
        // `FindActiveOrLatest`
        let mut active: Vec<usize> = Vec::new();
        let mut candidates: Vec<Value> = sets.old.clone();
        sort_by_creation(&mut candidates);
        candidates.reverse();
        if let Some(new_rs) = &sets.new {
            candidates.push(new_rs.clone());
        }
        for (i, rs) in candidates.iter().enumerate() {
            if replicas(rs) > 0 {
                active.push(i);
            }
        }
        let only = match active.len() {
            0 if !candidates.is_empty() => {
                Some(sets.new.clone().unwrap_or_else(|| candidates[0].clone()))
            }
            1 => Some(candidates[active[0]].clone()),
            _ => None,
        };
        if let Some(mut rs) = only {
            if replicas(&rs) != desired {
                self.scale_replica_set(&mut rs, desired)?;
                self.replace_in(sets, rs);
            }
            return Ok(());
        }
        if candidates.is_empty() {
            return Ok(());
        }
        if let Some(new_rs) = &sets.new
            && is_saturated(&self.d, new_rs)
        {
            for i in 0..sets.old.len() {
                if replicas(&sets.old[i]) != 0 {
                    let mut rs = sets.old[i].clone();
                    self.scale_replica_set(&mut rs, 0)?;
                    sets.old[i] = rs;
                }
            }
            return Ok(());
        }
        if self.d["spec"]["strategy"]["type"] == "Recreate" {
            return Ok(());
        }
        let mut all: Vec<Value> = sets
            .all()
            .into_iter()
            .filter(|rs| replicas(rs) > 0)
            .cloned()
            .collect();
        let all_replicas: i64 = all.iter().map(replicas).sum();
        let allowed = if desired > 0 {
            desired + max_surge(&self.d)
        } else {
            0
        };
        let to_add = allowed - all_replicas;
        // Bigger first; among equals the newer when adding, the older when removing.
        all.sort_by(|a, b| {
            replicas(b).cmp(&replicas(a)).then_with(|| {
                let by_age = creation_order(a, b);
                if to_add > 0 { by_age.reverse() } else { by_age }
            })
        });
        let mut added = 0;
        let mut sizes: Vec<i64> = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let proportion = get_proportion(rs, &self.d, to_add, added);
                sizes.push(replicas(rs) + proportion);
                added += proportion;
            } else {
                sizes.push(replicas(rs));
            }
        }
        if to_add != added && !sizes.is_empty() {
            sizes[0] = (sizes[0] + to_add - added).max(0);
        }
        for (mut rs, size) in all.into_iter().zip(sizes) {
            self.scale_replica_set(&mut rs, size)?;
            self.replace_in(sets, rs);
        }
        Ok(())
    }

    fn replace_in(&self, sets: &mut Sets, rs: Value) {
        if let Some(new_rs) = &mut sets.new
            && uid_of(new_rs) == uid_of(&rs)
        {
            *new_rs = rs;
            return;
        }
        if let Some(old) = sets.old.iter_mut().find(|o| uid_of(o) == uid_of(&rs)) {
            *old = rs;
        }
    }

    /// `scaleReplicaSet`: sets the size and the desired/max-replicas annotations.
    fn scale_replica_set(&mut self, rs: &mut Value, new_scale: i64) -> Step<bool> {
        let desired = replicas(&self.d);
        let max = desired + max_surge(&self.d);
        let size_needs_update = replicas(rs) != new_scale;
        let annotations_need_update = annotation(rs, DESIRED_REPLICAS)
            != Some(desired.to_string().as_str())
            || annotation(rs, MAX_REPLICAS) != Some(max.to_string().as_str());
        if !size_needs_update && !annotations_need_update {
            return Ok(false);
        }
        let old_scale = replicas(rs);
        *rs = self.modify_rs(rs, |live| {
            live["spec"]["replicas"] = json!(new_scale);
            if !live["metadata"]["annotations"].is_object() {
                live["metadata"]["annotations"] = json!({});
            }
            live["metadata"]["annotations"][DESIRED_REPLICAS] = json!(desired.to_string());
            live["metadata"]["annotations"][MAX_REPLICAS] = json!(max.to_string());
        })?;
        if size_needs_update {
            let direction = if new_scale > old_scale { "up" } else { "down" };
            self.event(&format!(
                "Scaled {direction} replica set {} from {old_scale} to {new_scale}",
                name_of(rs)
            ));
        }
        Ok(size_needs_update)
    }

    /// A `ScalingReplicaSet` Event on the Deployment, as the deployment controller records.
    fn event(&self, message: &str) {
        super::events::record(
            self.state,
            &self.d,
            super::events::Kind::Normal,
            "ScalingReplicaSet",
            message,
            "deployment-controller",
        );
    }

    /// `cleanupDeployment`: old ReplicaSets beyond revisionHistoryLimit, oldest revision first,
    /// once they have no Pods.
    fn cleanup_deployment(&mut self, old: &[Value]) {
        let limit = self.d["spec"]["revisionHistoryLimit"]
            .as_i64()
            .unwrap_or(NO_LIMIT);
        if limit == NO_LIMIT {
            return;
        }
        let mut cleanable: Vec<&Value> = old
            .iter()
            .filter(|rs| !rs["metadata"]["deletionTimestamp"].is_string())
            .collect();
        let diff = cleanable.len() as i64 - limit;
        if diff <= 0 {
            return;
        }
        cleanable.sort_by_key(|rs| annotation_int(rs, REVISION).unwrap_or(0));
        let rt = builtin(self.state, "apps", "v1", "replicasets");
        for rs in cleanable.into_iter().take(diff as usize) {
            let observed = rs["status"]["observedGeneration"].as_i64().unwrap_or(0);
            if status_int(rs, "replicas") != 0
                || replicas(rs) != 0
                || rs["metadata"]["generation"].as_i64().unwrap_or(0) > observed
            {
                continue;
            }
            let _ = self.state.objects.delete(
                &rt,
                namespace_of(rs),
                name_of(rs),
                &DeleteOptions::default(),
            );
        }
    }

    /// `syncDeploymentStatus`
    fn sync_deployment_status(&mut self, sets: &Sets) -> Step<()> {
        let status = calculate_status(sets, &self.d);
        self.write_status(status)
    }

    /// `syncRolloutStatus`: the status and the Progressing condition, which times out when no
    /// progress was seen for progressDeadlineSeconds.
    fn sync_rollout_status(&mut self, sets: &Sets) -> Step<Option<Duration>> {
        let mut new_status = calculate_status(sets, &self.d);
        let d = &self.d;
        if !has_progress_deadline(d) {
            conditions::remove(&mut new_status, "Progressing");
        }
        let current = conditions::get(&d["status"], "Progressing").cloned();
        let is_complete = status_field(&new_status, "replicas")
            == status_field(&new_status, "updatedReplicas")
            && current
                .as_ref()
                .is_some_and(|c| c["reason"] == NEW_RS_AVAILABLE_REASON);
        let subject = match &sets.new {
            Some(rs) => format!("ReplicaSet \"{}\"", name_of(rs)),
            None => format!("Deployment \"{}\"", name_of(d)),
        };
        if has_progress_deadline(d) && !is_complete {
            if deployment_complete(d, &new_status) {
                conditions::set(
                    &mut new_status,
                    deployment_condition(
                        "Progressing",
                        "True",
                        NEW_RS_AVAILABLE_REASON,
                        &format!("{subject} has successfully progressed."),
                    ),
                );
            } else if deployment_progressing(d, &new_status) {
                let mut condition = deployment_condition(
                    "Progressing",
                    "True",
                    RS_UPDATED_REASON,
                    &format!("{subject} is progressing."),
                );
                // Progress refreshes lastUpdateTime even when the reason stays the same.
                if let Some(current) = &current {
                    if current["status"] == "True" {
                        condition["lastTransitionTime"] = current["lastTransitionTime"].clone();
                    }
                    conditions::remove(&mut new_status, "Progressing");
                }
                conditions::set(&mut new_status, condition);
            } else if deployment_timed_out(d, &new_status) {
                conditions::set(
                    &mut new_status,
                    deployment_condition(
                        "Progressing",
                        "False",
                        TIMED_OUT_REASON,
                        &format!("{subject} has timed out progressing."),
                    ),
                );
            }
        }
        match replica_failure(sets) {
            Some(failure) => conditions::set(&mut new_status, failure),
            None => conditions::remove(&mut new_status, "ReplicaFailure"),
        }
        if new_status == self.d["status"] {
            return Ok(requeue_stuck_deployment(&self.d, &new_status));
        }
        self.write_status(new_status)?;
        Ok(None)
    }

    fn set_deployment_revision(&mut self, revision: &str) -> Step<()> {
        if annotation(&self.d, REVISION) == Some(revision) {
            return Ok(());
        }
        let rt = builtin(self.state, "apps", "v1", "deployments");
        let revision = revision.to_string();
        let written = self
            .state
            .objects
            .modify(
                &rt,
                namespace_of(&self.d),
                name_of(&self.d),
                None,
                &controller_write(),
                |live| {
                    if uid_of(live) != uid_of(&self.d) {
                        return Err(crate::status::ApiError::conflict(&rt, name_of(live)));
                    }
                    let mut next = live.clone();
                    if !next["metadata"]["annotations"].is_object() {
                        next["metadata"]["annotations"] = json!({});
                    }
                    next["metadata"]["annotations"][REVISION] = json!(revision);
                    Ok(next)
                },
            )
            .map_err(|_| Retry)?;
        self.d = (*written).clone();
        Ok(())
    }

    fn write_status(&mut self, status: Value) -> Step<()> {
        if status == self.d["status"] {
            return Ok(());
        }
        let rt = builtin(self.state, "apps", "v1", "deployments");
        let uid = uid_of(&self.d).to_string();
        let written = self
            .state
            .objects
            .modify(
                &rt,
                namespace_of(&self.d),
                name_of(&self.d),
                Some("status"),
                &controller_write(),
                |live| {
                    if uid_of(live) != uid {
                        return Err(crate::status::ApiError::conflict(&rt, name_of(live)));
                    }
                    let mut next = live.clone();
                    next["status"] = status;
                    Ok(next)
                },
            )
            .map_err(|_| Retry)?;
        self.d = (*written).clone();
        Ok(())
    }

    /// Applies `change` to the live ReplicaSet (the same object: same uid) and returns it.
    fn modify_rs(&mut self, rs: &Value, change: impl FnOnce(&mut Value)) -> Step<Value> {
        let rt = builtin(self.state, "apps", "v1", "replicasets");
        let uid = uid_of(rs).to_string();
        let written = self
            .state
            .objects
            .modify(
                &rt,
                namespace_of(rs),
                name_of(rs),
                None,
                &controller_write(),
                |live| {
                    if uid_of(live) != uid {
                        return Err(crate::status::ApiError::conflict(&rt, name_of(live)));
                    }
                    let mut next = live.clone();
                    change(&mut next);
                    Ok(next)
                },
            )
            .map_err(|_| Retry)?;
        Ok((*written).clone())
    }
}

fn paused(d: &Value) -> bool {
    d["spec"]["paused"] == true
}

pub(crate) fn replicas(object: &Value) -> i64 {
    object["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn status_int(object: &Value, field: &str) -> i64 {
    object["status"][field].as_i64().unwrap_or(0)
}

fn status_field(status: &Value, field: &str) -> i64 {
    status[field].as_i64().unwrap_or(0)
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

fn annotation_int(object: &Value, key: &str) -> Option<i64> {
    annotation(object, key).and_then(|v| v.parse().ok())
}

fn has_progress_deadline(d: &Value) -> bool {
    d["spec"]["progressDeadlineSeconds"]
        .as_i64()
        .is_some_and(|s| s != NO_LIMIT)
}

fn is_rolling(d: &Value) -> bool {
    d["spec"]["strategy"]["type"] != "Recreate"
}

fn fenceposts(d: &Value) -> (i64, i64) {
    let ru = &d["spec"]["strategy"]["rollingUpdate"];
    // Unset values mean the API defaults (`strategy: {}` is what `kubectl create` sends).
    let or_default = |v: &Value| if v.is_null() { json!("25%") } else { v.clone() };
    resolve_fenceposts(
        &or_default(&ru["maxSurge"]),
        &or_default(&ru["maxUnavailable"]),
        replicas(d),
    )
}

/// `MaxSurge`
fn max_surge(d: &Value) -> i64 {
    if !is_rolling(d) {
        return 0;
    }
    fenceposts(d).0
}

/// `MaxUnavailable`
fn max_unavailable(d: &Value) -> i64 {
    let desired = replicas(d);
    if !is_rolling(d) || desired == 0 {
        return 0;
    }
    fenceposts(d).1.min(desired)
}

/// `NewRSNewReplicas`: how big the new ReplicaSet may be now.
fn new_rs_new_replicas(d: &Value, all: &[&Value], new_rs: &Value) -> i64 {
    let desired = replicas(d);
    if !is_rolling(d) {
        return desired;
    }
    let current_pods: i64 = all.iter().map(|rs| replicas(rs)).sum();
    let max_total = desired + max_surge(d);
    if current_pods >= max_total {
        return replicas(new_rs);
    }
    let scale_up = (max_total - current_pods).min(desired - replicas(new_rs));
    replicas(new_rs) + scale_up
}

/// `IsSaturated`
fn is_saturated(d: &Value, rs: &Value) -> bool {
    let desired = replicas(d);
    annotation_int(rs, DESIRED_REPLICAS) == Some(desired)
        && replicas(rs) == desired
        && status_int(rs, "availableReplicas") == desired
}

/// `GetProportion` / `getReplicaSetFraction`
fn get_proportion(rs: &Value, d: &Value, to_add: i64, added: i64) -> i64 {
    if replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if replicas(d) == 0 {
        -replicas(rs)
    } else {
        let deployment_replicas = replicas(d) + max_surge(d);
        let annotated =
            annotation_int(rs, MAX_REPLICAS).unwrap_or_else(|| status_int(d, "replicas"));
        if annotated == 0 {
            0
        } else {
            let size = (replicas(rs) * deployment_replicas) as f64 / annotated as f64;
            size.round() as i64 - replicas(rs)
        }
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// `SetNewReplicaSetAnnotations`: copies the Deployment's annotations, advances the revision
/// (keeping earlier ones in revision-history when an old ReplicaSet becomes new again, as after
/// `kubectl rollout undo`), and sizes a ReplicaSet about to be created.
fn set_new_replica_set_annotations(
    d: &Value,
    rs: &mut Value,
    new_revision: &str,
    exists: bool,
) -> bool {
    if !rs["metadata"]["annotations"].is_object() {
        rs["metadata"]["annotations"] = json!({});
    }
    let mut changed = false;
    if let Some(deployment_annotations) = d["metadata"]["annotations"].as_object() {
        for (k, v) in deployment_annotations {
            if SKIPPED_ANNOTATIONS.contains(&k.as_str()) || rs["metadata"]["annotations"][k] == *v {
                continue;
            }
            rs["metadata"]["annotations"][k] = v.clone();
            changed = true;
        }
    }
    let old_revision = annotation(rs, REVISION).map(String::from);
    let old_revision_int = match &old_revision {
        None => 0,
        Some(r) => match r.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    let Ok(new_revision_int) = new_revision.parse::<i64>() else {
        return false;
    };
    if old_revision_int < new_revision_int {
        rs["metadata"]["annotations"][REVISION] = json!(new_revision);
        changed = true;
        if let Some(old) = old_revision {
            let history = annotation(rs, REVISION_HISTORY).unwrap_or_default();
            let next = if history.is_empty() {
                old
            } else if history.len() + old.len() + 1 > MAX_REV_HISTORY_LENGTH_IN_CHARS {
                // Drop the oldest entries until the new one fits.
                let mut entries: Vec<&str> = history.split(',').collect();
                while !entries.is_empty()
                    && entries.join(",").len() + old.len() + 1 > MAX_REV_HISTORY_LENGTH_IN_CHARS
                {
                    entries.remove(0);
                }
                entries.push(&old);
                entries.join(",")
            } else {
                format!("{history},{old}")
            };
            rs["metadata"]["annotations"][REVISION_HISTORY] = json!(next);
        }
    }
    if !exists {
        let desired = replicas(d);
        rs["metadata"]["annotations"][DESIRED_REPLICAS] = json!(desired.to_string());
        rs["metadata"]["annotations"][MAX_REPLICAS] = json!((desired + max_surge(d)).to_string());
        changed = true;
    }
    changed
}

/// `calculateStatus`: counts from the ReplicaSets' status, and the Available condition.
fn calculate_status(sets: &Sets, d: &Value) -> Value {
    let all = sets.all();
    let available: i64 = all
        .iter()
        .map(|rs| status_int(rs, "availableReplicas"))
        .sum();
    let total: i64 = all.iter().map(|rs| replicas(rs)).sum();
    let unavailable = (total - available).max(0);
    let mut status = Map::new();
    let counts = [
        (
            "observedGeneration",
            d["metadata"]["generation"].as_i64().unwrap_or(0),
        ),
        (
            "replicas",
            all.iter().map(|rs| status_int(rs, "replicas")).sum(),
        ),
        (
            "updatedReplicas",
            sets.new
                .as_ref()
                .map(|rs| status_int(rs, "replicas"))
                .unwrap_or(0),
        ),
        (
            "readyReplicas",
            all.iter().map(|rs| status_int(rs, "readyReplicas")).sum(),
        ),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ];
    // Zero counts are omitted, as Go's `omitempty` does.
    for (field, value) in counts {
        if value != 0 {
            status.insert(field.into(), json!(value));
        }
    }
    if let Some(collisions) = d["status"]["collisionCount"].as_i64() {
        status.insert("collisionCount".into(), json!(collisions));
    }
    let mut status = Value::Object(status);
    if let Some(existing) = d["status"]["conditions"].as_array() {
        status["conditions"] = json!(existing);
    }
    let condition = if available >= replicas(d) - max_unavailable(d) {
        deployment_condition(
            "Available",
            "True",
            MIN_AVAILABLE_REASON,
            "Deployment has minimum availability.",
        )
    } else {
        deployment_condition(
            "Available",
            "False",
            MIN_UNAVAILABLE_REASON,
            "Deployment does not have minimum availability.",
        )
    };
    conditions::set(&mut status, condition);
    status
}

/// `DeploymentComplete`
fn deployment_complete(d: &Value, status: &Value) -> bool {
    let desired = replicas(d);
    status_field(status, "updatedReplicas") == desired
        && status_field(status, "replicas") == desired
        && status_field(status, "availableReplicas") == desired
        && status_field(status, "observedGeneration")
            >= d["metadata"]["generation"].as_i64().unwrap_or(0)
}

/// `DeploymentProgressing`: more updated, fewer old, more ready or more available Pods.
fn deployment_progressing(d: &Value, new_status: &Value) -> bool {
    let old = &d["status"];
    let old_old = status_field(old, "replicas") - status_field(old, "updatedReplicas");
    let new_old =
        status_field(new_status, "replicas") - status_field(new_status, "updatedReplicas");
    status_field(new_status, "updatedReplicas") > status_field(old, "updatedReplicas")
        || new_old < old_old
        || status_field(new_status, "readyReplicas") > status_field(old, "readyReplicas")
        || status_field(new_status, "availableReplicas") > status_field(old, "availableReplicas")
}

/// Seconds since the Progressing condition last saw progress, and the deadline.
fn progress_clock(d: &Value) -> Option<(i64, i64)> {
    let condition = conditions::get(&d["status"], "Progressing")?;
    let from: jiff::Timestamp = condition["lastUpdateTime"].as_str()?.parse().ok()?;
    let deadline = d["spec"]["progressDeadlineSeconds"].as_i64()?;
    Some((
        jiff::Timestamp::now().as_millisecond() - from.as_millisecond(),
        deadline * 1000,
    ))
}

/// `DeploymentTimedOut`
fn deployment_timed_out(d: &Value, _new_status: &Value) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(condition) = conditions::get(&d["status"], "Progressing") else {
        return false;
    };
    if condition["reason"] == NEW_RS_AVAILABLE_REASON {
        return false;
    }
    if condition["reason"] == TIMED_OUT_REASON {
        return true;
    }
    progress_clock(d).is_some_and(|(elapsed, deadline)| elapsed > deadline)
}

/// `requeueStuckDeployment`: when to look again for a rollout that may run out of time.
fn requeue_stuck_deployment(d: &Value, new_status: &Value) -> Option<Duration> {
    let condition = conditions::get(&d["status"], "Progressing")?;
    if !has_progress_deadline(d)
        || deployment_complete(d, new_status)
        || condition["reason"] == TIMED_OUT_REASON
    {
        return None;
    }
    let (elapsed, deadline) = progress_clock(d)?;
    let left = (deadline - elapsed).max(0) as u64;
    // lastUpdateTime has second precision: one more second makes sure the deadline has passed.
    Some(Duration::from_millis(left) + Duration::from_secs(1))
}

/// `getReplicaFailures`: a ReplicaFailure condition of the new (else an old) ReplicaSet.
fn replica_failure(sets: &Sets) -> Option<Value> {
    sets.new
        .iter()
        .chain(sets.old.iter())
        .find_map(|rs| conditions::get(&rs["status"], "ReplicaFailure").cloned())
        .map(|c| {
            let mut condition = deployment_condition(
                "ReplicaFailure",
                c["status"].as_str().unwrap_or("True"),
                c["reason"].as_str().unwrap_or_default(),
                c["message"].as_str().unwrap_or_default(),
            );
            condition["lastTransitionTime"] = c["lastTransitionTime"].clone();
            condition
        })
}

fn deployment_condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    let now = now();
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

/// Oldest first; equal timestamps (second precision) fall back to revision, then name.
fn creation_order(a: &Value, b: &Value) -> Ordering {
    let ts = |o: &Value| {
        o["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    ts(a)
        .cmp(&ts(b))
        .then_with(|| annotation_int(a, REVISION).cmp(&annotation_int(b, REVISION)))
        .then_with(|| name_of(a).cmp(name_of(b)))
}

fn sort_by_creation(list: &mut [Value]) {
    list.sort_by(creation_order);
}

/// `EqualIgnoreHash`: pod templates equal apart from the pod-template-hash label.
pub fn equal_ignore_hash(a: &Value, b: &Value) -> bool {
    fn without_hash(t: &Value) -> Value {
        let mut t = t.clone();
        if let Some(labels) = t
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.remove(POD_TEMPLATE_HASH);
            if labels.is_empty() {
                t["metadata"].as_object_mut().map(|m| m.remove("labels"));
            }
        }
        t
    }
    without_hash(a) == without_hash(b)
}

/// `ComputeHash`: FNV-32a over the template (here its canonical JSON: keys sorted, so the
/// client's key order does not matter) and the collision count, encoded with the apimachinery
/// `SafeEncodeString` alphabet, which has no vowels.
pub fn pod_template_hash(template: &Value, collision_count: Option<u64>) -> String {
    let mut hasher = Fnv32a::new();
    let mut canonical = String::new();
    write_canonical(template, &mut canonical);
    hasher.write(canonical.as_bytes());
    if let Some(count) = collision_count {
        hasher.write(&(count as u32).to_le_bytes());
    }
    safe_encode(&hasher.0.to_string())
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

struct Fnv32a(u32);

impl Fnv32a {
    fn new() -> Self {
        Self(0x811c_9dc5)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}

/// `rand.SafeEncodeString`: maps each byte onto consonants and digits that cannot spell words.
fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(image: &str) -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": image}]}})
    }

    fn deployment(replicas: i64, surge: Value, unavailable: Value) -> Value {
        json!({"metadata": {"name": "web", "generation": 1}, "spec": {"replicas": replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            "template": template("nginx:1")}})
    }

    fn rs(replicas: i64) -> Value {
        json!({"metadata": {"name": "rs"}, "spec": {"replicas": replicas}})
    }

    // The hash names the ReplicaSet: it must not change with key order, must change with the
    // template and with the collision count, and use only the safe alphabet.
    #[test]
    fn pod_template_hash_is_stable() {
        let a = template("nginx:1");
        let b: Value = serde_json::from_str(
            r#"{"spec": {"containers": [{"image": "nginx:1", "name": "c"}]}, "metadata": {"labels": {"app": "web"}}}"#,
        )
        .unwrap();
        assert_eq!(pod_template_hash(&a, None), pod_template_hash(&b, None));
        assert_ne!(
            pod_template_hash(&a, None),
            pod_template_hash(&template("nginx:2"), None)
        );
        assert_ne!(pod_template_hash(&a, None), pod_template_hash(&a, Some(1)));
        let hash = pod_template_hash(&a, None);
        assert!(!hash.is_empty() && hash.len() <= 10);
        assert!(
            hash.chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{hash}"
        );
    }

    #[test]
    fn templates_equal_apart_from_the_hash_label() {
        let mut with_hash = template("nginx:1");
        with_hash["metadata"]["labels"][POD_TEMPLATE_HASH] = json!("abc");
        assert!(equal_ignore_hash(&with_hash, &template("nginx:1")));
        assert!(!equal_ignore_hash(&with_hash, &template("nginx:2")));
    }

    // 10 replicas, 25%/25%: surge 3 (rounded up), unavailable 2 (rounded down).
    #[test]
    fn surge_and_unavailable_from_percentages() {
        let d = deployment(10, json!("25%"), json!("25%"));
        assert_eq!(max_surge(&d), 3);
        assert_eq!(max_unavailable(&d), 2);
        let d = deployment(3, json!(0), json!(5));
        assert_eq!(max_unavailable(&d), 3, "never more than the replicas");
    }

    // A new ReplicaSet may grow to replicas + maxSurge in total, and never past replicas.
    #[test]
    fn new_replica_set_grows_within_surge() {
        let d = deployment(4, json!(1), json!(0));
        let old = rs(4);
        let new = rs(0);
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 1);
        let old = rs(2);
        let new = rs(3);
        assert_eq!(
            new_rs_new_replicas(&d, &[&old, &new], &new),
            3,
            "already at 5 pods"
        );
        let old = rs(0);
        let new = rs(3);
        assert_eq!(
            new_rs_new_replicas(&d, &[&old, &new], &new),
            4,
            "capped at replicas"
        );
    }

    #[test]
    fn revision_advances_and_keeps_history_on_rollback() {
        let d = json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "v3", REVISION: "2"}},
            "spec": {"replicas": 2, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}});
        let mut old = json!({"metadata": {"annotations": {REVISION: "1"}}});
        assert!(set_new_replica_set_annotations(&d, &mut old, "3", true));
        assert_eq!(annotation(&old, REVISION), Some("3"));
        assert_eq!(annotation(&old, REVISION_HISTORY), Some("1"));
        assert_eq!(annotation(&old, "kubernetes.io/change-cause"), Some("v3"));
        assert_eq!(
            annotation(&old, DESIRED_REPLICAS),
            None,
            "only set on create"
        );
        let mut fresh = json!({"metadata": {}});
        set_new_replica_set_annotations(&d, &mut fresh, "1", false);
        assert_eq!(annotation(&fresh, DESIRED_REPLICAS), Some("2"));
        assert_eq!(annotation(&fresh, MAX_REPLICAS), Some("3"));
    }

    // Scaling 10 → 15 during a rollout (old 8, new 5, surge 3 → 13 allowed before, 18 after):
    // the 5 extra replicas are split in proportion to the sets' sizes.
    #[test]
    fn proportional_scaling_splits_by_size() {
        let d = deployment(15, json!(3), json!(2));
        let mut old = rs(8);
        old["metadata"]["annotations"] = json!({MAX_REPLICAS: "13"});
        let mut new = rs(5);
        new["metadata"]["annotations"] = json!({MAX_REPLICAS: "13"});
        // deploymentReplicas = 15 + 4 (25%... here surge 3) = 18
        let to_add = 18 - 13;
        let p_old = get_proportion(&old, &d, to_add, 0);
        let p_new = get_proportion(&new, &d, to_add, p_old);
        assert_eq!((p_old, p_new), (3, 2));
    }
}
