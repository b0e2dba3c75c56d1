//! Where measurements come from: a Prometheus instant query, a web endpoint, a Kubernetes Job.
//! Each answers a [`Measurement`] in Argo's shape; a provider that cannot be reached, a query
//! that fails or a result that cannot be judged is an Error measurement with the reason, never a
//! success.

pub mod job;
pub mod prometheus;
pub mod web;

use std::time::Duration;

use crate::assess::Measurement;
use crate::phase::Phase;

/// A finished measurement of `phase`.
pub fn finished(phase: Phase, value: String, message: String) -> Measurement {
    let now = jiff::Timestamp::now().to_string();
    Measurement {
        phase,
        message,
        started_at: Some(now.clone()),
        finished_at: Some(now),
        value,
        ..Default::default()
    }
}

pub fn error(message: impl Into<String>) -> Measurement {
    finished(Phase::Error, String::new(), message.into())
}

/// An HTTP client for one provider call: its timeout, and certificate checks off when the
/// metric says `insecure: true`.
pub fn http_client(timeout: Duration, insecure: bool) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .tls_danger_accept_invalid_certs(insecure)
        .build()
        .map_err(|e| format!("building an HTTP client: {e}"))
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest form, `NaN`, `+Inf`, `-Inf`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}
