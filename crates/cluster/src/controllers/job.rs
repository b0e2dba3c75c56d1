//! The Job controller, after `pkg/controller/job`: runs up to `parallelism` Pods until
//! `completions` have succeeded (then `SuccessCriteriaMet` and `Complete`), or fails the Job
//! once more Pods failed than `backoffLimit` allows (`FailureTarget` and `Failed`, reason
//! `BackoffLimitExceeded`) or it ran past `activeDeadlineSeconds` (`DeadlineExceeded`).
//! A suspended Job has its Pods removed. `ttlSecondsAfterFinished` deletes a finished Job.
//! With `restartPolicy: OnFailure` container restarts count as failures, as upstream.
//! Not simulated: Indexed completion mode's indexes, pod failure policies, and the exponential
//! delay before replacing a failed Pod.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::events::{self, Kind};
use super::ownership::{OwnedIndex, owner_key};
use super::podstate::{is_active, is_ready, is_terminating, pod_from_template};
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, conditions, controller_write, uid_of};
use crate::objects::{DeleteOptions, Propagation, name_of, namespace_of, now};
use crate::server::Shared;
use crate::store::WatchEvent;

pub async fn run(state: Shared) {
    super::runner::run(
        state,
        JobController {
            pods: OwnedIndex::new("", "pods"),
        },
    )
    .await;
}

struct JobController {
    pods: OwnedIndex,
}

/// Whether a Job has a true `Complete` or `Failed` condition.
pub fn finished(job: &Value) -> Option<&'static str> {
    ["Complete", "Failed"]
        .into_iter()
        .find(|kind| conditions::get(&job["status"], kind).is_some_and(|c| c["status"] == "True"))
}

fn job_condition(kind: &str, reason: &str, message: &str) -> Value {
    let now = now();
    json!({"type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
        "reason": reason, "message": message})
}

fn seconds_since(timestamp: &Value) -> Option<i64> {
    let t: jiff::Timestamp = timestamp.as_str()?.parse().ok()?;
    Some(jiff::Timestamp::now().as_second() - t.as_second())
}

impl Reconciler for JobController {
    fn keys_for(&mut self, _state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "batch", "jobs") {
            return vec![event_key(event)];
        }
        if is_type(event, "", "pods") {
            self.pods.observe(event);
            return owner_key(&event.object, "Job").into_iter().collect();
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        self.pods.rebuild(state);
        let jobs = builtin(state, "batch", "v1", "jobs");
        state
            .objects
            .list(&jobs, None)
            .items
            .iter()
            .map(|j| (namespace_of(j).to_string(), name_of(j).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let jobs = builtin(state, "batch", "v1", "jobs");
        let pods_type = builtin(state, "", "v1", "pods");
        let job = state.objects.get(&jobs, &key.0, &key.1).ok()?;
        if is_terminating(&job) {
            return None;
        }
        let pods = self.pods.children(state, uid_of(&job));
        if finished(&job).is_some() {
            return self.expire(state, &job);
        }
        let spec = &job["spec"];
        let policy = spec["template"]["spec"]["restartPolicy"]
            .as_str()
            .unwrap_or("Never");
        let active: Vec<&Value> = pods.iter().map(|p| &**p).filter(|p| is_active(p)).collect();
        let counted = |phase: &str| {
            pods.iter()
                .filter(|p| !is_terminating(p) && p["status"]["phase"] == phase)
                .count() as i64
        };
        let succeeded = counted("Succeeded");
        let mut failed = counted("Failed");
        if policy == "OnFailure" {
            failed += active
                .iter()
                .flat_map(|p| {
                    p["status"]["containerStatuses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                })
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum::<i64>();
        }
        let completions = spec["completions"].as_i64();
        let parallelism = spec["parallelism"].as_i64().unwrap_or(1);
        let backoff_limit = spec["backoffLimit"].as_i64().unwrap_or(6);
        let suspended = spec["suspend"] == true;

        let mut status = job["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        if !suspended && status["startTime"].is_null() {
            status["startTime"] = json!(now());
        }
        let mut requeue = None;
        let mut outcome: Option<Vec<Value>> = None;
        if failed > backoff_limit {
            outcome = Some(vec![
                job_condition(
                    "FailureTarget",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ),
                job_condition(
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ),
            ]);
        } else if let Some(deadline) = spec["activeDeadlineSeconds"].as_i64()
            && !suspended
        {
            let ran = seconds_since(&status["startTime"]).unwrap_or(0);
            if ran >= deadline {
                outcome = Some(vec![
                    job_condition(
                        "FailureTarget",
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                    ),
                    job_condition(
                        "Failed",
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                    ),
                ]);
            } else {
                requeue =
                    Some(Duration::from_secs((deadline - ran) as u64) + Duration::from_millis(100));
            }
        }
        let complete = match completions {
            Some(n) => succeeded >= n,
            // Work-queue Jobs complete when a Pod succeeded and none is left running.
            None => succeeded > 0 && active.is_empty(),
        };
        if outcome.is_none() && complete {
            outcome = Some(vec![
                job_condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                ),
                job_condition(
                    "Complete",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                ),
            ]);
            status["completionTime"] = json!(now());
        }
        if let Some(outcome) = &outcome
            && let Some(last) = outcome.last()
        {
            let (kind, reason, message) = if last["type"] == "Complete" {
                (Kind::Normal, "Completed", "Job completed".to_string())
            } else {
                (
                    Kind::Warning,
                    last["reason"].as_str().unwrap_or("Failed"),
                    last["message"].as_str().unwrap_or_default().to_string(),
                )
            };
            events::record(state, &job, kind, reason, &message, "job-controller");
        }
        let mut remaining_active = active.len() as i64;
        if outcome.is_some() || suspended {
            for pod in &active {
                let _ = state.objects.delete(
                    &pods_type,
                    namespace_of(pod),
                    name_of(pod),
                    &DeleteOptions::default(),
                );
            }
            remaining_active = 0;
        } else {
            let wanted = match completions {
                Some(n) => parallelism.min(n - succeeded),
                None if succeeded > 0 => 0,
                None => parallelism,
            };
            while remaining_active < wanted {
                let labels = [
                    ("batch.kubernetes.io/controller-uid", uid_of(&job)),
                    ("batch.kubernetes.io/job-name", name_of(&job)),
                    ("controller-uid", uid_of(&job)),
                    ("job-name", name_of(&job)),
                ];
                let pod = pod_from_template(&job, &spec["template"], None, &labels);
                match state
                    .objects
                    .create(&pods_type, &key.0, pod, &controller_write())
                {
                    Ok(created) => {
                        self.pods.record(&created);
                        remaining_active += 1;
                        events::record(
                            state,
                            &job,
                            Kind::Normal,
                            "SuccessfulCreate",
                            &format!("Created pod: {}", name_of(&created)),
                            "job-controller",
                        );
                    }
                    Err(_) => break,
                }
            }
        }
        if suspended {
            conditions::set(
                &mut status,
                job_condition("Suspended", "JobSuspended", "Job suspended"),
            );
        } else if conditions::get(&status, "Suspended").is_some_and(|c| c["status"] == "True") {
            let mut resumed = job_condition("Suspended", "JobResumed", "Job resumed");
            resumed["status"] = json!("False");
            conditions::set(&mut status, resumed);
        }
        for condition in outcome.into_iter().flatten() {
            conditions::set(&mut status, condition);
        }
        let map = status.as_object_mut().expect("status is an object");
        let counts = [
            ("active", remaining_active),
            ("succeeded", succeeded),
            ("failed", failed),
        ];
        for (field, value) in counts {
            if value == 0 {
                map.remove(field);
            } else {
                map.insert(field.into(), json!(value));
            }
        }
        let ready = active.iter().filter(|p| is_ready(p)).count();
        map.insert(
            "ready".into(),
            json!(if remaining_active == 0 { 0 } else { ready }),
        );
        map.insert("terminating".into(), json!(0));
        map.insert("uncountedTerminatedPods".into(), Value::Object(Map::new()));
        let _ = state.objects.modify(
            &jobs,
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
        requeue
    }
}

impl JobController {
    /// `ttlSecondsAfterFinished`: the TTL-after-finished controller's part.
    fn expire(&mut self, state: &Shared, job: &Value) -> Option<Duration> {
        let ttl = job["spec"]["ttlSecondsAfterFinished"].as_i64()?;
        let finished_at =
            conditions::get(&job["status"], finished(job)?)?["lastTransitionTime"].clone();
        let since = seconds_since(&finished_at).unwrap_or(0);
        if since < ttl {
            return Some(Duration::from_secs((ttl - since) as u64) + Duration::from_millis(100));
        }
        let jobs = builtin(state, "batch", "v1", "jobs");
        let _ = state.objects.delete(
            &jobs,
            namespace_of(job),
            name_of(job),
            &DeleteOptions {
                propagation: Propagation::Background,
                ..DeleteOptions::default()
            },
        );
        None
    }
}
