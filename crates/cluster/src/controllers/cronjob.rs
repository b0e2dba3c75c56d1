//! The CronJob controller, after `pkg/controller/cronjob`: at each scheduled time (standard
//! five-field cron or `@hourly`-style macros, parsed by the `croner` crate, in UTC or
//! `spec.timeZone`) it creates the Job `<cronjob>-<minutes since the epoch>` from the
//! jobTemplate, owned by the CronJob. Missed schedules collapse into the most recent one, which
//! is skipped if older than `startingDeadlineSeconds`. `concurrencyPolicy` Forbid skips a run
//! while a Job is active, Replace deletes the active Jobs first. Finished Jobs beyond
//! `successfulJobsHistoryLimit` / `failedJobsHistoryLimit` are deleted, oldest first. Status
//! carries `active`, `lastScheduleTime` and `lastSuccessfulTime`.

use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use super::job::finished;
use super::ownership::{OwnedIndex, controller_reference, owner_key};
use super::runner::{Key, Reconciler, event_key, is_type};
use super::{builtin, controller_write, uid_of};
use crate::objects::{DeleteOptions, Propagation, name_of, namespace_of};
use crate::server::Shared;
use crate::store::WatchEvent;

pub async fn run(state: Shared) {
    super::runner::run(
        state,
        CronJobController {
            jobs: OwnedIndex::new("batch", "jobs"),
        },
    )
    .await;
}

struct CronJobController {
    jobs: OwnedIndex,
}

/// Parses a CronJob schedule: five fields (no seconds), or a macro such as `@hourly`.
pub fn parse_schedule(schedule: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(schedule.trim())
        .map_err(|e| e.to_string())
}

/// The most recent scheduled time in `(after, now]`, if any.
pub fn last_due(cron: &Cron, tz: &TimeZone, after: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let previous = cron
        .find_previous_occurrence(&now.to_zoned(tz.clone()), true)
        .ok()?;
    let t = previous.timestamp();
    (t > after).then_some(t)
}

/// The first scheduled time after `now`.
pub fn next_due(cron: &Cron, tz: &TimeZone, now: Timestamp) -> Option<Timestamp> {
    cron.find_next_occurrence(&now.to_zoned(tz.clone()), false)
        .ok()
        .map(|z| z.timestamp())
}

fn timestamp(value: &Value) -> Option<Timestamp> {
    value.as_str()?.parse().ok()
}

fn format(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Reconciler for CronJobController {
    fn keys_for(&mut self, _state: &Shared, event: &WatchEvent) -> Vec<Key> {
        if is_type(event, "batch", "cronjobs") {
            return vec![event_key(event)];
        }
        if is_type(event, "batch", "jobs") {
            self.jobs.observe(event);
            return owner_key(&event.object, "CronJob").into_iter().collect();
        }
        Vec::new()
    }

    fn all_keys(&mut self, state: &Shared) -> Vec<Key> {
        self.jobs.rebuild(state);
        let cronjobs = builtin(state, "batch", "v1", "cronjobs");
        state
            .objects
            .list(&cronjobs, None)
            .items
            .iter()
            .map(|c| (namespace_of(c).to_string(), name_of(c).to_string()))
            .collect()
    }

    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration> {
        let cronjobs = builtin(state, "batch", "v1", "cronjobs");
        let jobs_type = builtin(state, "batch", "v1", "jobs");
        let cj = state.objects.get(&cronjobs, &key.0, &key.1).ok()?;
        if cj["metadata"]["deletionTimestamp"].is_string() {
            return None;
        }
        let spec = &cj["spec"];
        let cron = parse_schedule(spec["schedule"].as_str().unwrap_or_default()).ok()?;
        let tz = spec["timeZone"]
            .as_str()
            .and_then(|name| TimeZone::get(name).ok())
            .unwrap_or(TimeZone::UTC);
        let jobs = self.jobs.children(state, uid_of(&cj));
        let (active, mut done): (Vec<&Value>, Vec<&Value>) = jobs
            .iter()
            .map(|j| &**j)
            .partition(|j| finished(j).is_none());
        let mut active: Vec<Value> = active.into_iter().cloned().collect();
        let mut status = cj["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        let now = Timestamp::now();
        let earliest = timestamp(&status["lastScheduleTime"])
            .or_else(|| timestamp(&cj["metadata"]["creationTimestamp"]))
            .unwrap_or(now);
        let delete_job = |job: &Value| {
            let _ = state.objects.delete(
                &jobs_type,
                namespace_of(job),
                name_of(job),
                &DeleteOptions {
                    propagation: Propagation::Background,
                    ..DeleteOptions::default()
                },
            );
        };
        if spec["suspend"] != true
            && let Some(due) = last_due(&cron, &tz, earliest, now)
        {
            let too_late = spec["startingDeadlineSeconds"]
                .as_i64()
                .is_some_and(|d| now.as_second() - due.as_second() > d);
            let policy = spec["concurrencyPolicy"].as_str().unwrap_or("Allow");
            let forbidden = policy == "Forbid" && !active.is_empty();
            if !too_late && !forbidden {
                if policy == "Replace" {
                    active.drain(..).for_each(|j| delete_job(&j));
                }
                if let Some(job) = self.create_job(state, &cj, due) {
                    active.push(job);
                }
            }
            if !forbidden {
                status["lastScheduleTime"] = json!(format(due));
            }
        }
        // History limits, oldest first.
        done.sort_by_key(|j| {
            j["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        });
        for (outcome, limit_field, default) in [
            ("Complete", "successfulJobsHistoryLimit", 3),
            ("Failed", "failedJobsHistoryLimit", 1),
        ] {
            let limit = spec[limit_field].as_i64().unwrap_or(default).max(0) as usize;
            let of_kind: Vec<&&Value> = done
                .iter()
                .filter(|j| finished(j) == Some(outcome))
                .collect();
            let excess = of_kind.len().saturating_sub(limit);
            of_kind.into_iter().take(excess).for_each(|j| delete_job(j));
        }
        status["active"] = json!(
            active
                .iter()
                .map(
                    |j| json!({"apiVersion": "batch/v1", "kind": "Job", "name": name_of(j),
                    "namespace": namespace_of(j), "uid": uid_of(j),
                    "resourceVersion": j["metadata"]["resourceVersion"]})
                )
                .collect::<Vec<_>>()
        );
        if status["active"].as_array().is_some_and(Vec::is_empty) {
            status.as_object_mut().map(|s| s.remove("active"));
        }
        if let Some(last) = done
            .iter()
            .filter(|j| finished(j) == Some("Complete"))
            .filter_map(|j| j["status"]["completionTime"].as_str())
            .max()
        {
            status["lastSuccessfulTime"] = json!(last);
        }
        let _ = state.objects.modify(
            &cronjobs,
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
        let next = next_due(&cron, &tz, now)?;
        let wait = (next.as_millisecond() - Timestamp::now().as_millisecond()).max(0) as u64;
        Some(Duration::from_millis(wait + 50))
    }
}

impl CronJobController {
    /// `getJobFromTemplate2`: the Job for the run scheduled at `due`.
    fn create_job(&mut self, state: &Shared, cj: &Value, due: Timestamp) -> Option<Value> {
        let jobs_type = builtin(state, "batch", "v1", "jobs");
        let template = &cj["spec"]["jobTemplate"];
        let name = format!("{}-{}", name_of(cj), due.as_second() / 60);
        let mut annotations = template["metadata"]["annotations"].clone();
        if !annotations.is_object() {
            annotations = json!({});
        }
        annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = json!(format(due));
        let mut labels = template["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace_of(cj), "labels": labels,
                "annotations": annotations, "ownerReferences": [controller_reference(cj)]},
            "spec": template["spec"]});
        match state
            .objects
            .create(&jobs_type, namespace_of(cj), job, &controller_write())
        {
            Ok(created) => {
                self.jobs.record(&created);
                Some((*created).clone())
            }
            // Already created for this schedule (an earlier pass): nothing to add.
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn schedules_match_as_cron_does() {
        let every_five = parse_schedule("*/5 * * * *").unwrap();
        let utc = TimeZone::UTC;
        assert_eq!(
            next_due(&every_five, &utc, at("2025-03-01T10:02:30Z")),
            Some(at("2025-03-01T10:05:00Z"))
        );
        assert_eq!(
            last_due(
                &every_five,
                &utc,
                at("2025-03-01T09:00:00Z"),
                at("2025-03-01T10:07:00Z")
            ),
            Some(at("2025-03-01T10:05:00Z")),
            "missed runs collapse into the latest"
        );
        assert_eq!(
            last_due(
                &every_five,
                &utc,
                at("2025-03-01T10:05:00Z"),
                at("2025-03-01T10:07:00Z")
            ),
            None,
            "already scheduled"
        );
        let hourly = parse_schedule("@hourly").unwrap();
        assert_eq!(
            next_due(&hourly, &utc, at("2025-03-01T10:02:00Z")),
            Some(at("2025-03-01T11:00:00Z"))
        );
        // Day of month and day of week both restricted: either matches (Vixie cron).
        let either = parse_schedule("0 0 1 * MON").unwrap();
        assert_eq!(
            next_due(&either, &utc, at("2025-03-01T12:00:00Z")),
            Some(at("2025-03-03T00:00:00Z"))
        );
        assert!(parse_schedule("* * * *").is_err());
        assert!(parse_schedule("0 * * * * *").is_err(), "no seconds field");
    }
}
