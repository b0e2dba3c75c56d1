//! One look at an AnalysisRun: its arguments resolved (Secrets read, and masked wherever a value
//! could show), the measurements that are due taken, those in flight resumed or stopped, old ones
//! dropped, and the run assessed. Returns the new status and when to look again.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use bosun_model::analysis::{Metric, Provider, metrics};
use jiff::Timestamp;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

use crate::assess::{
    DEFAULT_MEASUREMENT_HISTORY, Due, Measurement, MetricResult, RunStatus, assess_run, due,
    terminating,
};
use crate::phase::Phase;
use crate::providers::{self, job, prometheus, web};

/// How often a Job measurement is looked at while it runs (its Job's events also trigger).
const JOB_POLL: Duration = Duration::from_secs(2);

/// What a run's `spec.args` resolve to, and which of the values are secret.
#[derive(Debug, Default)]
pub struct Args {
    pub values: BTreeMap<String, String>,
    pub secrets: Vec<String>,
}

impl Args {
    /// `text` with every secret value replaced by `*****`, as Argo masks them.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(s.as_str(), "*****");
        }
        out
    }
}

/// Why arguments could not be resolved.
#[derive(Debug)]
pub enum ArgsError {
    /// The run cannot measure: a missing Secret or key, an argument without a value.
    Invalid(String),
    /// The API server did not answer as it should (a timeout, a 5xx): try again later.
    Unavailable(String),
}

/// Resolves `spec.args`: a `value`, or a `valueFrom.secretKeyRef` read from the run's namespace.
pub async fn resolve_args(
    client: &kube::Client,
    namespace: &str,
    spec_args: &Value,
) -> Result<Args, ArgsError> {
    let mut args = Args::default();
    for arg in spec_args.as_array().into_iter().flatten() {
        let name = arg["name"].as_str().unwrap_or_default().to_string();
        if let Some(v) = arg["value"].as_str() {
            args.values.insert(name, v.to_string());
            continue;
        }
        let secret_ref = &arg["valueFrom"]["secretKeyRef"];
        if let (Some(secret), Some(key)) = (secret_ref["name"].as_str(), secret_ref["key"].as_str())
        {
            let api: Api<DynamicObject> = Api::namespaced_with(
                client.clone(),
                namespace,
                &ApiResource::from_gvk_with_plural(
                    &GroupVersionKind::gvk("", "v1", "Secret"),
                    "secrets",
                ),
            );
            let object = api.get(secret).await.map_err(|e| {
                let message = format!("args.{name}: reading Secret {namespace}/{secret}: {e}");
                match e {
                    kube::Error::Api(s) if matches!(s.code, 403 | 404) => {
                        ArgsError::Invalid(message)
                    }
                    _ => ArgsError::Unavailable(message),
                }
            })?;
            let invalid = |m: String| ArgsError::Invalid(m);
            let encoded = object.data["data"][key].as_str().ok_or_else(|| {
                invalid(format!("key '{key}' does not exist in secret '{secret}'"))
            })?;
            let bytes = decode_base64(encoded).ok_or_else(|| {
                invalid(format!(
                    "args.{name}: Secret {secret} key {key} is not base64"
                ))
            })?;
            let value = String::from_utf8(bytes).map_err(|_| {
                invalid(format!(
                    "args.{name}: Secret {secret} key {key} is not UTF-8"
                ))
            })?;
            args.secrets.push(value.clone());
            args.values.insert(name, value);
            continue;
        }
        return Err(ArgsError::Invalid(format!(
            "argument \"{name}\" was not supplied"
        )));
    }
    Ok(args)
}

/// Standard base64 (what the API serves a Secret's `data` in).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `{{args.name}}` replaced in every string of `value` (spaces inside the braces allowed).
pub fn substitute(value: &Value, args: &BTreeMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(substitute_str(s, args)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute(v, args))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute(v, args)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn substitute_str(text: &str, args: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let tag = rest[start + 2..start + end].trim();
        match tag.strip_prefix("args.").and_then(|name| args.get(name)) {
            Some(v) => out.push_str(v),
            None => return Err(format!("failed to resolve {{{{{tag}}}}}")),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Metric names a `dryRun` or `measurementRetention` rule matches: `metricName` is a regular
/// expression matched anywhere in the name, as Argo's (Go's `regexp.MatchString`); one that
/// does not compile matches nothing, as in Argo.
fn matching<'a>(rule: &Value, metrics: &'a [Metric]) -> Vec<&'a str> {
    let pattern = rule["metricName"].as_str().unwrap_or_default();
    let Ok(re) = regex::Regex::new(pattern) else {
        return Vec::new();
    };
    metrics
        .iter()
        .map(|m| m.name.as_str())
        .filter(|name| re.is_match(name))
        .collect()
}

/// The run's status after one look, and when to look again (None: it has ended).
pub async fn look(
    client: &kube::Client,
    http: &providers::Http,
    run: &Value,
    now: Timestamp,
) -> (RunStatus, Option<Duration>) {
    let mut status: RunStatus = serde_json::from_value(run["status"].clone()).unwrap_or_default();
    if status.phase.completed() {
        return (status, None);
    }
    let fail = |mut status: RunStatus, message: String| {
        status.phase = Phase::Error;
        status.message = message;
        status.started_at.get_or_insert_with(|| now.to_string());
        status.completed_at = Some(now.to_string());
        (status, None)
    };
    let spec = &run["spec"];
    let namespace = run["metadata"]["namespace"].as_str().unwrap_or("default");
    let args = match resolve_args(client, namespace, &spec["args"]).await {
        Ok(a) => a,
        Err(ArgsError::Invalid(e)) => {
            return fail(status, format!("Unable to resolve metric arguments: {e}"));
        }
        Err(ArgsError::Unavailable(e)) => {
            // Not the run's fault: the same look, a little later.
            tracing::warn!(error = %e, "analysis run arguments");
            return (status, Some(Duration::from_secs(10)));
        }
    };
    let resolved = match substitute(
        &serde_json::json!({"metrics": spec["metrics"]}),
        &args.values,
    ) {
        Ok(v) => v,
        Err(e) => return fail(status, format!("Unable to resolve metric arguments: {e}")),
    };
    let metrics = match metrics(&resolved) {
        Ok(m) => m,
        Err(e) => return fail(status, format!("Analysis spec invalid: {e}")),
    };
    let mut dry_run = HashSet::new();
    for (i, rule) in spec["dryRun"].as_array().into_iter().flatten().enumerate() {
        let names = matching(rule, &metrics);
        if names.is_empty() {
            return fail(
                status,
                format!("Analysis spec invalid: dryRun[{i}]: Rule didn't match any metric name(s)"),
            );
        }
        dry_run.extend(names.into_iter().map(str::to_string));
    }
    let mut retention: BTreeMap<String, usize> = BTreeMap::new();
    for (i, rule) in spec["measurementRetention"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let names = matching(rule, &metrics);
        if names.is_empty() {
            return fail(
                status,
                format!(
                    "Analysis spec invalid: measurementRetention[{i}]: Rule didn't match any metric name(s)"
                ),
            );
        }
        if let Some(limit) = rule["limit"].as_u64().filter(|l| *l > 0) {
            for n in names {
                retention.insert(n.to_string(), limit as usize);
            }
        }
    }
    let terminate = spec["terminate"].as_bool().unwrap_or(false);
    let started: Timestamp = match status.started_at.as_deref().and_then(|t| t.parse().ok()) {
        Some(t) => t,
        None => {
            status.started_at = Some(now.to_string());
            now
        }
    };
    let ending = terminating(&status, terminate);
    let mut next: Option<Timestamp> = None;
    let mut job_running = false;
    for metric in &metrics {
        let index = match status
            .metric_results
            .iter()
            .position(|r| r.name == metric.name)
        {
            Some(i) => i,
            None => {
                status.metric_results.push(MetricResult {
                    name: metric.name.clone(),
                    phase: Phase::Running,
                    dry_run: dry_run.contains(&metric.name),
                    ..Default::default()
                });
                status.metric_results.len() - 1
            }
        };
        let result = &mut status.metric_results[index];
        if result.phase.completed() {
            continue;
        }
        let in_flight = result
            .measurements
            .last()
            .is_some_and(|m| m.finished_at.is_none());
        let measurement = if in_flight {
            let last = result.measurements.pop().expect("in flight");
            Some(if ending {
                job::terminate(client, last).await
            } else {
                job::resume(client, last).await
            })
        } else {
            match due(metric, Some(&*result), Some(started), ending) {
                Due::Now => Some(measure(client, http, run, metric, result).await),
                Due::At(t) if t <= now => Some(measure(client, http, run, metric, result).await),
                Due::At(t) => {
                    next = Some(next.map_or(t, |n| n.min(t)));
                    None
                }
                Due::Never => None,
            }
        };
        if let Some(mut m) = measurement {
            m.message = args.mask(&m.message);
            m.value = args.mask(&m.value);
            if m.phase.completed() {
                result.count_measurement(m.phase);
            } else {
                job_running = true;
            }
            result.measurements.push(m);
            if let Ok(Provider::Prometheus(config)) = metric.provider()
                && let Some(q) = config["query"].as_str()
            {
                result
                    .metadata
                    .insert("ResolvedPrometheusQuery".into(), args.mask(q));
            }
            // The next measurement of this metric, now that this one is in.
            if let Due::At(t) = due(metric, Some(&*result), Some(started), ending) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        result.retain(
            retention
                .get(&metric.name)
                .copied()
                .unwrap_or(DEFAULT_MEASUREMENT_HISTORY),
        );
    }
    let (phase, message) = assess_run(&metrics, &mut status, &dry_run, terminate);
    status.phase = phase;
    status.message = args.mask(&message);
    if phase.completed() {
        status.completed_at = Some(now.to_string());
        return (status, None);
    }
    let mut wait = next.map(|t| {
        let d = t.duration_since(now);
        if d.is_negative() {
            Duration::ZERO
        } else {
            d.unsigned_abs()
        }
    });
    if job_running {
        wait = Some(wait.map_or(JOB_POLL, |w| w.min(JOB_POLL)));
    }
    // A metric that failed ends the run on the next look (Argo's order), at once.
    if terminating(&status, terminate) {
        wait = Some(Duration::ZERO);
    }
    (status, wait)
}

async fn measure(
    client: &kube::Client,
    http: &providers::Http,
    run: &Value,
    metric: &Metric,
    result: &MetricResult,
) -> Measurement {
    let success = metric.success_condition.as_deref();
    let failure = metric.failure_condition.as_deref();
    match metric.provider() {
        Ok(Provider::Prometheus(config)) => {
            prometheus::measure(http, &config, success, failure).await
        }
        Ok(Provider::Web(config)) => web::measure(http, &config, success, failure).await,
        Ok(Provider::Job(config)) => {
            let ordinal = result.count + result.error + 1;
            job::start(client, run, &metric.name, &config, ordinal).await
        }
        Ok(Provider::Other(name)) => providers::error(format!(
            "the {name} provider is not supported by bosun (prometheus, web and job are)"
        )),
        Err(e) => providers::error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_substituted_and_unknown_ones_named() {
        let args: BTreeMap<String, String> =
            [("service-name".to_string(), "shop".to_string())].into();
        let v = json!({"query": "rate(x{service=\"{{args.service-name}}\"}[5m])", "n": 1, "l": ["{{ args.service-name }}"]});
        assert_eq!(
            substitute(&v, &args).unwrap(),
            json!({"query": "rate(x{service=\"shop\"}[5m])", "n": 1, "l": ["shop"]})
        );
        assert_eq!(
            substitute(&json!("{{args.nope}}"), &args).unwrap_err(),
            "failed to resolve {{args.nope}}"
        );
    }

    #[test]
    fn dry_run_rules_are_regular_expressions_as_argos() {
        let metrics: Vec<Metric> = ["canary-latency", "canary-errors", "stable-errors"]
            .iter()
            .map(|n| serde_json::from_value(json!({"name": n})).unwrap())
            .collect();
        assert_eq!(
            matching(&json!({"metricName": "^canary-"}), &metrics),
            vec!["canary-latency", "canary-errors"]
        );
        assert_eq!(
            matching(&json!({"metricName": "latency|stable"}), &metrics),
            vec!["canary-latency", "stable-errors"]
        );
        assert_eq!(matching(&json!({"metricName": ".*"}), &metrics).len(), 3);
        // A pattern that does not compile matches nothing, as in Argo (`*`).
        assert!(matching(&json!({"metricName": "*"}), &metrics).is_empty());
    }

    #[test]
    fn secrets_are_decoded_and_masked() {
        assert_eq!(decode_base64("c2VjcmV0LXRva2Vu").unwrap(), b"secret-token");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        let args = Args {
            values: BTreeMap::new(),
            secrets: vec!["secret-token".into()],
        };
        assert_eq!(
            args.mask("Bearer secret-token failed"),
            "Bearer ***** failed"
        );
    }
}
