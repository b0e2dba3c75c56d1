//! An AnalysisRun's status in Argo's shape, and Argo's arithmetic over it: how a measurement
//! counts, when a metric has Failed, turned Inconclusive or Error (its limits), when the next
//! measurement is due, and the run's phase — the worst of its metrics.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use bosun_model::analysis::Metric;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::phase::Phase;

/// Measurements kept per metric unless `measurementRetention` says otherwise (Argo's default).
pub const DEFAULT_MEASUREMENT_HISTORY: usize = 10;
/// After an Error, the next measurement is this far away, whatever the interval (Argo's).
pub const ERROR_RETRY_INTERVAL: Duration = Duration::from_secs(10);

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_at: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    pub name: String,
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// Successful + Failed + Inconclusive (errors are not counted).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub successful: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inconclusive: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_error: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_success: i64,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub successful: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inconclusive: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: i64,
}

impl Summary {
    fn add(&mut self, phase: Phase) {
        match phase {
            Phase::Failed => self.failed += 1,
            Phase::Inconclusive => self.inconclusive += 1,
            Phase::Error => self.error += 1,
            _ => self.successful += 1,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub run_summary: Summary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_summary: Option<Summary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_results: Vec<MetricResult>,
}

impl MetricResult {
    /// Counts a completed measurement, as Argo's `runMeasurements`.
    pub fn count_measurement(&mut self, phase: Phase) {
        match phase {
            Phase::Successful => {
                self.successful += 1;
                self.count += 1;
                self.consecutive_error = 0;
                self.consecutive_success += 1;
            }
            Phase::Failed => {
                self.failed += 1;
                self.count += 1;
                self.consecutive_error = 0;
                self.consecutive_success = 0;
            }
            Phase::Inconclusive => {
                self.inconclusive += 1;
                self.count += 1;
                self.consecutive_error = 0;
                self.consecutive_success = 0;
            }
            Phase::Error => {
                self.error += 1;
                self.consecutive_error += 1;
                self.consecutive_success = 0;
            }
            Phase::Pending | Phase::Running => {}
        }
    }

    /// Keeps the last `limit` measurements (the counters are not affected).
    pub fn retain(&mut self, limit: usize) {
        let n = self.measurements.len();
        if n > limit {
            self.measurements.drain(..n - limit);
        }
    }
}

/// Argo's `assessMetricFailureInconclusiveOrError`: the phase a metric's limits give it, and why
/// (later checks win: Error over Inconclusive over Failed; every comparison is strict).
pub fn limits(metric: &Metric, result: &MetricResult) -> Option<(Phase, String)> {
    let mut verdict = None;
    let failure_limit = metric.failure_limit();
    if failure_limit >= 0 && result.failed > failure_limit {
        verdict = Some((
            Phase::Failed,
            format!(
                "failed ({}) > failureLimit ({failure_limit})",
                result.failed
            ),
        ));
    }
    let inconclusive_limit = metric.inconclusive_limit();
    if result.inconclusive > inconclusive_limit {
        verdict = Some((
            Phase::Inconclusive,
            format!(
                "inconclusive ({}) > inconclusiveLimit ({inconclusive_limit})",
                result.inconclusive
            ),
        ));
    }
    let error_limit = metric.consecutive_error_limit();
    if result.consecutive_error > error_limit {
        verdict = Some((
            Phase::Error,
            format!(
                "consecutiveErrors ({}) > consecutiveErrorLimit ({error_limit})",
                result.consecutive_error
            ),
        ));
    }
    verdict
}

/// Argo's `assessMetricStatus`.
pub fn metric_phase(metric: &Metric, result: &MetricResult, terminating: bool) -> Phase {
    if result.phase.completed() {
        return result.phase;
    }
    let Some(last) = result.measurements.last() else {
        return if terminating {
            Phase::Successful
        } else {
            Phase::Pending
        };
    };
    if !last.phase.completed() {
        return Phase::Running;
    }
    if let Some((phase, _)) = limits(metric, result) {
        return phase;
    }
    let success_limit = metric.consecutive_success_limit();
    if success_limit > 0 && result.consecutive_success >= success_limit {
        return Phase::Successful;
    }
    if let Some(count) = metric.effective_count()
        && result.count >= count
    {
        let failure_applies = metric.failure_limit_applies();
        let success_applies = success_limit > 0;
        return match (failure_applies, success_applies) {
            (true, true) => Phase::Inconclusive,
            (false, true) => Phase::Failed,
            _ => Phase::Successful,
        };
    }
    if terminating {
        Phase::Successful
    } else {
        Phase::Running
    }
}

/// Whether the run is ending: asked to (`spec.terminate`) or a metric that counts has already
/// Failed, Errored or turned Inconclusive (Argo's `IsTerminating`).
pub fn terminating(status: &RunStatus, terminate: bool) -> bool {
    terminate
        || status.metric_results.iter().any(|r| {
            !r.dry_run && matches!(r.phase, Phase::Failed | Phase::Error | Phase::Inconclusive)
        })
}

/// Argo's `assessRunStatus`: every metric's phase brought up to date, the summaries counted,
/// and the run's phase and message.
pub fn assess_run(
    metrics: &[Metric],
    status: &mut RunStatus,
    dry_run: &HashSet<String>,
    terminate: bool,
) -> (Phase, String) {
    let ending = terminating(status, terminate);
    let mut worst: Option<Phase> = None;
    let mut message = if terminate {
        "Run Terminated".to_string()
    } else {
        String::new()
    };
    let mut everything_completed = true;
    let mut summary = Summary::default();
    let mut dry_summary = Summary::default();
    for metric in metrics {
        let is_dry = dry_run.contains(&metric.name);
        if is_dry {
            dry_summary.count += 1;
        } else {
            summary.count += 1;
        }
        let Some(result) = status
            .metric_results
            .iter_mut()
            .find(|r| r.name == metric.name)
        else {
            everything_completed = false;
            continue;
        };
        let phase = metric_phase(metric, result, ending);
        if phase != result.phase {
            result.message = result
                .measurements
                .last()
                .map(|m| m.message.clone())
                .unwrap_or_default();
            result.phase = phase;
        }
        if !phase.completed() {
            everything_completed = false;
            continue;
        }
        let verdict = limits(metric, result);
        if is_dry {
            if worst.is_none() {
                worst = Some(Phase::Successful);
            }
            if let Some((p, why)) = &verdict {
                result.message = format!("Metric assessed {p} due to {why}");
            }
            dry_summary.add(verdict.as_ref().map_or(Phase::Successful, |v| v.0));
            continue;
        }
        if worst.is_none_or(|w| phase.worse_than(w)) {
            worst = Some(phase);
            if let Some((_, why)) = &verdict {
                message = format!("Metric \"{}\" assessed {phase} due to {why}", metric.name);
                if !result.message.is_empty() {
                    message.push_str(&format!(": \"Error Message: {}\"", result.message));
                }
            }
        }
        summary.add(verdict.as_ref().map_or(Phase::Successful, |v| v.0));
    }
    status.run_summary = summary;
    status.dry_run_summary = Some(dry_summary);
    if ending {
        return (worst.unwrap_or(Phase::Successful), message);
    }
    match worst {
        Some(w) if everything_completed => (w, message),
        _ => (Phase::Running, String::new()),
    }
}

/// When a metric's next measurement is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Now,
    At(Timestamp),
    /// Nothing more to measure (completed, counted out, or the run is ending).
    Never,
}

/// Argo's `generateMetricTasks` for one metric.
pub fn due(
    metric: &Metric,
    result: Option<&MetricResult>,
    started_at: Option<Timestamp>,
    ending: bool,
) -> Due {
    if ending {
        return Due::Never;
    }
    let Some(result) = result.filter(|r| !r.measurements.is_empty()) else {
        if let Some(delay) = metric.initial_delay().ok().flatten() {
            let Some(started) = started_at else {
                // The clock starts with the run; measure once it has.
                return Due::Never;
            };
            return Due::At(started + delay);
        }
        return Due::Now;
    };
    if result.phase.completed() {
        return Due::Never;
    }
    if let Some(count) = metric.effective_count()
        && result.count >= count
    {
        return Due::Never;
    }
    let last = result.measurements.last().expect("not empty");
    let Some(finished) = last
        .finished_at
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok())
    else {
        // In flight (a Job): resumed, not measured anew.
        return Due::Now;
    };
    let interval = if last.phase == Phase::Error {
        ERROR_RETRY_INTERVAL
    } else {
        metric
            .interval()
            .ok()
            .flatten()
            .unwrap_or(ERROR_RETRY_INTERVAL)
    };
    Due::At(finished + interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metric(v: serde_json::Value) -> Metric {
        serde_json::from_value(v).unwrap()
    }

    fn measured(phases: &[Phase]) -> MetricResult {
        let mut r = MetricResult {
            name: "m".into(),
            phase: Phase::Running,
            ..Default::default()
        };
        for p in phases {
            r.count_measurement(*p);
            r.measurements.push(Measurement {
                phase: *p,
                finished_at: Some("2026-12-05T12:00:00Z".into()),
                ..Default::default()
            });
        }
        r
    }

    use Phase::*;

    #[test]
    fn the_seeds_failure_limit_of_three_fails_at_the_fourth_failure() {
        let m = metric(json!({"name": "m", "interval": "1m", "failureLimit": 3,
            "successCondition": "result[0] >= 0.99", "provider": {"prometheus": {}}}));
        assert_eq!(metric_phase(&m, &measured(&[Failed; 3]), false), Running);
        let r = measured(&[Failed; 4]);
        assert_eq!(metric_phase(&m, &r, false), Failed);
        assert_eq!(limits(&m, &r).unwrap().1, "failed (4) > failureLimit (3)");
    }

    #[test]
    fn defaults_fail_at_one_failure_and_error_after_five_consecutive_errors() {
        let m = metric(json!({"name": "m", "interval": "10s", "provider": {"web": {}}}));
        assert_eq!(metric_phase(&m, &measured(&[Failed]), false), Failed);
        assert_eq!(
            metric_phase(&m, &measured(&[Inconclusive]), false),
            Inconclusive
        );
        assert_eq!(metric_phase(&m, &measured(&[Error; 4]), false), Running);
        let r = measured(&[Error; 5]);
        assert_eq!(metric_phase(&m, &r, false), Error);
        assert_eq!(
            limits(&m, &r).unwrap().1,
            "consecutiveErrors (5) > consecutiveErrorLimit (4)"
        );
        // A success in between resets the consecutive count; errors are not counted.
        let r = measured(&[Error, Error, Error, Error, Successful, Error]);
        assert_eq!(metric_phase(&m, &r, false), Running);
        assert_eq!(r.count, 1);
    }

    #[test]
    fn a_counted_metric_ends_when_its_count_is_reached() {
        let m = metric(
            json!({"name": "m", "interval": "10s", "count": 3, "failureLimit": 1,
            "provider": {"web": {}}}),
        );
        assert_eq!(
            metric_phase(&m, &measured(&[Successful, Failed]), false),
            Running
        );
        assert_eq!(
            metric_phase(&m, &measured(&[Successful, Failed, Successful]), false),
            Successful
        );
        // With a consecutiveSuccessLimit not reached, a reached count is Inconclusive.
        let m = metric(json!({"name": "m", "interval": "10s", "count": 3,
            "consecutiveSuccessLimit": 2, "failureLimit": 1, "provider": {"web": {}}}));
        assert_eq!(
            metric_phase(&m, &measured(&[Successful, Failed, Successful]), false),
            Inconclusive
        );
        assert_eq!(
            metric_phase(&m, &measured(&[Successful, Successful]), false),
            Successful
        );
    }

    #[test]
    fn the_run_takes_the_worst_metric_and_says_why() {
        let metrics = vec![
            metric(json!({"name": "ok", "provider": {"web": {}}})),
            metric(json!({"name": "bad", "provider": {"web": {}}})),
        ];
        let mut status = RunStatus::default();
        let mut ok = measured(&[Successful]);
        ok.name = "ok".into();
        let mut bad = measured(&[Failed]);
        bad.name = "bad".into();
        status.metric_results = vec![ok, bad];
        let (phase, message) = assess_run(&metrics, &mut status, &HashSet::new(), false);
        assert_eq!(phase, Failed);
        assert_eq!(
            message,
            "Metric \"bad\" assessed Failed due to failed (1) > failureLimit (0)"
        );
        assert_eq!(status.run_summary.count, 2);
        assert_eq!(status.run_summary.successful, 1);
        assert_eq!(status.run_summary.failed, 1);
        // A dry-run metric's failure does not fail the run.
        let mut status2 = status.clone();
        status2.metric_results[1].phase = Running;
        status2.metric_results[1].dry_run = true;
        let dry: HashSet<String> = ["bad".to_string()].into();
        let (phase, _) = assess_run(&metrics, &mut status2, &dry, false);
        assert_eq!(phase, Successful);
        assert_eq!(status2.dry_run_summary.unwrap().failed, 1);
    }

    #[test]
    fn an_unfinished_metric_keeps_the_run_running_until_it_ends() {
        let metrics = vec![
            metric(json!({"name": "a", "provider": {"web": {}}})),
            metric(json!({"name": "b", "interval": "1m", "provider": {"web": {}}})),
        ];
        let mut a = measured(&[Successful]);
        a.name = "a".into();
        let mut b = measured(&[Successful]);
        b.name = "b".into();
        let mut status = RunStatus {
            metric_results: vec![a, b],
            ..Default::default()
        };
        assert_eq!(
            assess_run(&metrics, &mut status, &HashSet::new(), false).0,
            Running
        );
        // Terminated (the canary was promoted): the endless metric ends Successful.
        let (phase, message) = assess_run(&metrics, &mut status, &HashSet::new(), true);
        assert_eq!(phase, Successful);
        assert_eq!(message, "Run Terminated");
    }

    #[test]
    fn the_next_measurement_waits_its_interval_or_ten_seconds_after_an_error() {
        let m = metric(json!({"name": "m", "interval": "1m", "provider": {"web": {}}}));
        let at = |s: &str| Due::At(s.parse().unwrap());
        assert_eq!(due(&m, None, None, false), Due::Now);
        assert_eq!(
            due(&m, Some(&measured(&[Successful])), None, false),
            at("2026-12-05T12:01:00Z")
        );
        assert_eq!(
            due(&m, Some(&measured(&[Error])), None, false),
            at("2026-12-05T12:00:10Z")
        );
        assert_eq!(
            due(&m, Some(&measured(&[Successful])), None, true),
            Due::Never
        );
        let delayed = metric(json!({"name": "m", "initialDelay": "30s", "provider": {"web": {}}}));
        assert_eq!(due(&delayed, None, None, false), Due::Never);
        assert_eq!(
            due(
                &delayed,
                None,
                Some("2026-12-05T12:00:00Z".parse().unwrap()),
                false
            ),
            at("2026-12-05T12:00:30Z")
        );
        let once = metric(json!({"name": "m", "provider": {"web": {}}}));
        assert_eq!(
            due(&once, Some(&measured(&[Successful])), None, false),
            Due::Never
        );
    }
}
