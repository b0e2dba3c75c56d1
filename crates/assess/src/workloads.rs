//! Controllers that keep a set of pods at a spec: Deployment, ReplicaSet, StatefulSet,
//! DaemonSet. Ported from gitops-engine `health_deployment.go`, `health_replicaset.go`,
//! `health_statefulset.go` and `health_daemonset.go`, which in turn follow `kubectl rollout
//! status`.
//!
//! Common to all four: until the controller has observed the latest generation
//! (`status.observedGeneration < metadata.generation`), the status fields describe an older
//! spec, so the object is Progressing whatever they say.

use serde_json::Value;

use crate::object::{bool_at, condition, int_at, name, opt_int_at, str_at};
use crate::status::Health;

/// Deployment: paused → Suspended; a Progressing condition with reason ProgressDeadlineExceeded
/// → Degraded; otherwise Progressing until every replica is updated, old ones are gone and the
/// updated ones are available.
pub fn deployment(d: &Value) -> Health {
    // Paused is checked before the generation: a paused Deployment is never "rolling out".
    if bool_at(d, &["spec", "paused"]) {
        return Health::suspended("Deployment is paused");
    }
    if int_at(d, &["metadata", "generation"]) > int_at(d, &["status", "observedGeneration"]) {
        return Health::progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }
    let progressing = condition(d, "Progressing");
    if progressing.is_some_and(|c| str_at(c, &["reason"]) == "ProgressDeadlineExceeded") {
        return Health::degraded(format!(
            "Deployment {:?} exceeded its progress deadline",
            name(d)
        ));
    }
    let updated = int_at(d, &["status", "updatedReplicas"]);
    let replicas = int_at(d, &["status", "replicas"]);
    let available = int_at(d, &["status", "availableReplicas"]);
    if let Some(desired) = opt_int_at(d, &["spec", "replicas"])
        && updated < desired
    {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {updated} out of {desired} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    Health::healthy("")
}

/// ReplicaSet: a ReplicaFailure condition that is True → Degraded (quota, admission…);
/// otherwise Progressing until `spec.replicas` are available.
pub fn replica_set(rs: &Value) -> Health {
    if int_at(rs, &["metadata", "generation"]) > int_at(rs, &["status", "observedGeneration"]) {
        return Health::progressing(
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        );
    }
    if let Some(failure) = condition(rs, "ReplicaFailure")
        && str_at(failure, &["status"]) == "True"
    {
        return Health::degraded(str_at(failure, &["message"]));
    }
    let available = int_at(rs, &["status", "availableReplicas"]);
    if let Some(desired) = opt_int_at(rs, &["spec", "replicas"])
        && available < desired
    {
        return Health::progressing(format!(
            "Waiting for rollout to finish: {available} out of {desired} new replicas are available..."
        ));
    }
    Health::healthy("")
}

/// StatefulSet. Unlike the others, an `observedGeneration` of 0 also counts as "not observed
/// yet", and readiness is checked before the update strategy. A partitioned rolling update is
/// Healthy once the pods above the partition are updated; OnDelete is Healthy as soon as the
/// pods are ready, because the controller will not replace them by itself.
pub fn stateful_set(sts: &Value) -> Health {
    let observed = int_at(sts, &["status", "observedGeneration"]);
    if observed == 0 || int_at(sts, &["metadata", "generation"]) > observed {
        return Health::progressing("Waiting for statefulset spec update to be observed...");
    }
    let desired = opt_int_at(sts, &["spec", "replicas"]);
    let ready = int_at(sts, &["status", "readyReplicas"]);
    let updated = int_at(sts, &["status", "updatedReplicas"]);
    if let Some(desired) = desired
        && ready < desired
    {
        return Health::progressing(format!(
            "Waiting for {} pods to be ready...",
            desired - ready
        ));
    }
    let strategy = str_at(sts, &["spec", "updateStrategy", "type"]);
    let rolling_update = crate::object::at(sts, &["spec", "updateStrategy", "rollingUpdate"]);
    if strategy == "RollingUpdate" && rolling_update.is_some() {
        let partition = opt_int_at(
            sts,
            &["spec", "updateStrategy", "rollingUpdate", "partition"],
        );
        if let (Some(desired), Some(partition)) = (desired, partition)
            && updated < desired - partition
        {
            return Health::progressing(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                desired - partition
            ));
        }
        return Health::healthy(format!(
            "partitioned roll out complete: {updated} new pods have been updated..."
        ));
    }
    if strategy == "OnDelete" {
        return Health::healthy(format!(
            "statefulset has {ready} ready pods ({updated} updated)"
        ));
    }
    let update_revision = str_at(sts, &["status", "updateRevision"]);
    let current_revision = str_at(sts, &["status", "currentRevision"]);
    if update_revision != current_revision {
        return Health::progressing(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        ));
    }
    Health::healthy(format!(
        "statefulset rolling update complete {} pods at revision {current_revision}...",
        int_at(sts, &["status", "currentReplicas"])
    ))
}

/// DaemonSet: OnDelete is Healthy once observed (nothing will replace the old pods); a
/// rolling update is Progressing until every scheduled pod is updated and available.
pub fn daemon_set(ds: &Value) -> Health {
    if int_at(ds, &["metadata", "generation"]) > int_at(ds, &["status", "observedGeneration"]) {
        return Health::progressing(
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        );
    }
    let desired = int_at(ds, &["status", "desiredNumberScheduled"]);
    let updated = int_at(ds, &["status", "updatedNumberScheduled"]);
    let available = int_at(ds, &["status", "numberAvailable"]);
    if str_at(ds, &["spec", "updateStrategy", "type"]) == "OnDelete" {
        return Health::healthy(format!(
            "daemon set {updated} out of {desired} new pods have been updated"
        ));
    }
    if updated < desired {
        return Health::progressing(format!(
            "Waiting for daemon set {:?} rollout to finish: {updated} out of {desired} new pods have been updated...",
            name(ds)
        ));
    }
    if available < desired {
        return Health::progressing(format!(
            "Waiting for daemon set {:?} rollout to finish: {available} of {desired} updated pods are available...",
            name(ds)
        ));
    }
    Health::healthy("")
}
