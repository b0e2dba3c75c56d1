//! Where measurements come from: a Prometheus instant query, a web endpoint, a Kubernetes Job.
//! Each answers a [`Measurement`] in Argo's shape; a provider that cannot be reached, a query
//! that fails or a result that cannot be judged is an Error measurement with the reason, never a
//! success.

pub mod job;
pub mod prometheus;
pub mod web;

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

/// The HTTP clients of the provider calls of one controller (connections are pooled across its
/// measurements): one that checks certificates, one for metrics that say `insecure: true`.
/// Timeouts are set per request.
#[derive(Clone)]
pub struct Http {
    secure: reqwest::Client,
    insecure: reqwest::Client,
}

impl Http {
    pub fn new() -> Result<Http, String> {
        // reqwest needs a process-wide provider before it builds a client (installed once).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |insecure: bool| {
            reqwest::Client::builder()
                .tls_danger_accept_invalid_certs(insecure)
                .build()
                .map_err(|e| format!("building an HTTP client: {e}"))
        };
        Ok(Http {
            secure: build(false)?,
            insecure: build(true)?,
        })
    }

    pub fn client(&self, insecure: bool) -> &reqwest::Client {
        if insecure {
            &self.insecure
        } else {
            &self.secure
        }
    }
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
