//! Argo Rollouts' analysis as users write it: the metrics of an `AnalysisTemplate`,
//! `ClusterAnalysisTemplate` or `AnalysisRun` (argoproj.io/v1alpha1), their defaults and the
//! checks Argo's `ValidateMetrics` makes, with Argo's messages.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::duration::parse_go_duration;
use crate::rollout::IntOrString;

/// Argo's default `consecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i64 = 4;

/// One metric of a template or run, as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    #[serde(default)]
    pub name: String,
    pub interval: Option<String>,
    pub initial_delay: Option<String>,
    pub count: Option<IntOrString>,
    pub success_condition: Option<String>,
    pub failure_condition: Option<String>,
    pub failure_limit: Option<IntOrString>,
    pub inconclusive_limit: Option<IntOrString>,
    pub consecutive_error_limit: Option<IntOrString>,
    pub consecutive_success_limit: Option<IntOrString>,
    #[serde(default)]
    pub provider: Value,
}

/// The provider of a metric: the one key of `provider`.
#[derive(Clone, Debug, PartialEq)]
pub enum Provider {
    Prometheus(Value),
    Web(Value),
    Job(Value),
    /// A provider Argo has and bosun does not run (Datadog, Kayenta, …): its name.
    Other(String),
}

fn int(v: &Option<IntOrString>) -> Result<Option<i64>, String> {
    match v {
        None => Ok(None),
        Some(IntOrString::Int(i)) => Ok(Some(i64::from(*i))),
        Some(IntOrString::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{s:?} is not an integer")),
    }
}

impl Metric {
    pub fn interval(&self) -> Result<Option<Duration>, String> {
        self.interval
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_go_duration)
            .transpose()
            .map_err(|e| format!("invalid interval string: {e}"))
    }

    pub fn initial_delay(&self) -> Result<Option<Duration>, String> {
        self.initial_delay
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_go_duration)
            .transpose()
            .map_err(|e| format!("invalid startDelay string: {e}"))
    }

    /// How many measurements the metric takes; `None`: until the run is terminated (an
    /// interval and no count). Argo's `EffectiveCount`.
    pub fn effective_count(&self) -> Option<i64> {
        match int(&self.count).ok().flatten() {
            Some(n) if n != 0 => Some(n),
            _ if self.interval.as_deref().is_none_or(str::is_empty) => Some(1),
            _ => None,
        }
    }

    /// `failureLimit` (default 0; -1 disables it).
    pub fn failure_limit(&self) -> i64 {
        int(&self.failure_limit).ok().flatten().unwrap_or(0)
    }

    pub fn inconclusive_limit(&self) -> i64 {
        int(&self.inconclusive_limit).ok().flatten().unwrap_or(0)
    }

    pub fn consecutive_error_limit(&self) -> i64 {
        int(&self.consecutive_error_limit)
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT)
    }

    /// `consecutiveSuccessLimit` (0: off).
    pub fn consecutive_success_limit(&self) -> i64 {
        int(&self.consecutive_success_limit)
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// Whether `failureLimit` was written at all (it changes how a reached count is judged).
    pub fn failure_limit_applies(&self) -> bool {
        self.failure_limit() >= 0
    }

    pub fn provider(&self) -> Result<Provider, String> {
        let Some(map) = self.provider.as_object().filter(|m| !m.is_empty()) else {
            return Err("no provider specified".into());
        };
        if map.len() > 1 {
            return Err("multiple providers specified".into());
        }
        let (name, config) = map.iter().next().expect("one provider");
        Ok(match name.as_str() {
            "prometheus" => Provider::Prometheus(config.clone()),
            "web" => Provider::Web(config.clone()),
            "job" => Provider::Job(config.clone()),
            other => Provider::Other(other.to_string()),
        })
    }

    /// Argo's `ValidateMetric`, with its messages.
    pub fn validate(&self) -> Result<(), String> {
        for (field, v) in [
            ("count", &self.count),
            ("failureLimit", &self.failure_limit),
            ("inconclusiveLimit", &self.inconclusive_limit),
            ("consecutiveErrorLimit", &self.consecutive_error_limit),
            ("consecutiveSuccessLimit", &self.consecutive_success_limit),
        ] {
            int(v).map_err(|e| format!("{field}: {e}"))?;
        }
        let csl = self.consecutive_success_limit();
        let fl = self.failure_limit();
        if csl < 0 {
            return Err("consecutiveSuccessLimit must be >= 0".into());
        }
        if fl < -1 {
            return Err("failureLimit must be >= 0, or -1 to be disabled".into());
        }
        if fl == -1 && csl == 0 {
            return Err("failureLimit and consecutiveSuccessLimit cannot both be disabled".into());
        }
        if self.inconclusive_limit() < 0 {
            return Err("inconclusiveLimit must be >= 0".into());
        }
        if self.consecutive_error_limit() < 0 {
            return Err("consecutiveErrorLimit must be >= 0".into());
        }
        let count = int(&self.count)?.unwrap_or(0);
        if count > 0 {
            if fl >= 0 && count < fl + csl {
                return Err(format!(
                    "count ({count}) must be >= failureLimit + consecutiveSuccessLimit ({fl} + {csl}) if both >= 0"
                ));
            }
            if fl < 0 && count < csl {
                return Err("count must be >= consecutiveSuccessLimit".into());
            }
            if count < self.inconclusive_limit() {
                return Err("count must be >= inconclusiveLimit".into());
            }
        }
        if count > 1 && self.interval.as_deref().is_none_or(str::is_empty) {
            return Err("interval must be specified when count > 1".into());
        }
        self.interval()?;
        self.initial_delay()?;
        self.provider()?;
        Ok(())
    }
}

/// Reads and checks `spec.metrics`: Argo's `metrics[i]: …` messages, duplicate names included.
pub fn metrics(spec: &Value) -> Result<Vec<Metric>, String> {
    let list = spec["metrics"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return Err("no metrics specified".into());
    }
    let mut out: Vec<Metric> = Vec::new();
    for (i, v) in list.into_iter().enumerate() {
        let metric: Metric = serde_json::from_value(v).map_err(|e| format!("metrics[{i}]: {e}"))?;
        if out.iter().any(|m| m.name == metric.name) {
            return Err(format!("metrics[{i}]: duplicate name '{}'", metric.name));
        }
        metric
            .validate()
            .map_err(|e| format!("metrics[{i}]: {e}"))?;
        out.push(metric);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metric(v: Value) -> Metric {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_are_argos() {
        let m = metric(json!({"name": "rate", "provider": {"prometheus": {"query": "up"}}}));
        assert_eq!(m.effective_count(), Some(1));
        assert_eq!(m.failure_limit(), 0);
        assert_eq!(m.inconclusive_limit(), 0);
        assert_eq!(m.consecutive_error_limit(), 4);
        assert_eq!(m.consecutive_success_limit(), 0);
        let forever = metric(json!({"name": "rate", "interval": "1m", "provider": {"web": {}}}));
        assert_eq!(forever.effective_count(), None);
        assert_eq!(forever.interval().unwrap(), Some(Duration::from_secs(60)));
        let counted =
            metric(json!({"name": "r", "interval": "10s", "count": "5", "provider": {"job": {}}}));
        assert_eq!(counted.effective_count(), Some(5));
    }

    #[test]
    fn invalid_metrics_say_why_as_argo_does() {
        let cases = [
            (json!({"name": "a"}), "no provider specified"),
            (
                json!({"name": "a", "provider": {"web": {}, "job": {}}}),
                "multiple providers specified",
            ),
            (
                json!({"name": "a", "count": 3, "provider": {"web": {}}}),
                "interval must be specified when count > 1",
            ),
            (
                json!({"name": "a", "count": 2, "interval": "1s", "failureLimit": 3, "provider": {"web": {}}}),
                "count (2) must be >= failureLimit + consecutiveSuccessLimit (3 + 0) if both >= 0",
            ),
            (
                json!({"name": "a", "failureLimit": -1, "provider": {"web": {}}}),
                "failureLimit and consecutiveSuccessLimit cannot both be disabled",
            ),
            (
                json!({"name": "a", "interval": "soon", "provider": {"web": {}}}),
                "invalid interval string",
            ),
        ];
        for (v, want) in cases {
            let e = metric(v.clone()).validate().unwrap_err();
            assert!(e.starts_with(want), "{v}: {e}");
        }
        let e = metrics(&json!({"metrics": [
            {"name": "a", "provider": {"web": {}}},
            {"name": "a", "provider": {"web": {}}}
        ]}))
        .unwrap_err();
        assert_eq!(e, "metrics[1]: duplicate name 'a'");
        assert_eq!(metrics(&json!({})).unwrap_err(), "no metrics specified");
    }
}
