//! Fault injection for reliability tests: a share of requests answered 500 or 429, added latency,
//! and watch streams cut after a while. Set by flags at start and changed at run time through
//! `GET/PUT /admin/faults` (JSON), so a test can break the cluster and heal it again.

use std::sync::RwLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Share (0.0–1.0) of API requests answered 500 InternalError.
    #[serde(default)]
    pub error_rate: f64,
    /// Share (0.0–1.0) of API requests answered 429 TooManyRequests.
    #[serde(default)]
    pub throttle_rate: f64,
    /// Latency added to every API request, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Watch streams are closed by the server after this many seconds (0: never).
    #[serde(default)]
    pub drop_watch_after_seconds: u64,
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("errorRate", self.error_rate),
            ("throttleRate", self.throttle_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        Ok(())
    }
}

/// What the fault injector decided for one request.
pub enum Decision {
    Pass,
    Error,
    Throttle,
}

#[derive(Default)]
pub struct Faults {
    config: RwLock<FaultConfig>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Self {
            config: RwLock::new(config),
        }
    }

    pub fn get(&self) -> FaultConfig {
        self.config.read().expect("faults lock").clone()
    }

    pub fn set(&self, config: FaultConfig) -> Result<(), String> {
        config.validate()?;
        *self.config.write().expect("faults lock") = config;
        Ok(())
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.get().latency_ms)
    }

    pub fn decide(&self) -> Decision {
        let c = self.get();
        if c.error_rate <= 0.0 && c.throttle_rate <= 0.0 {
            return Decision::Pass;
        }
        let roll = fastrand::f64();
        if roll < c.error_rate {
            Decision::Error
        } else if roll < c.error_rate + c.throttle_rate {
            Decision::Throttle
        } else {
            Decision::Pass
        }
    }

    pub fn watch_drop_after(&self) -> Option<Duration> {
        match self.get().drop_watch_after_seconds {
            0 => None,
            s => Some(Duration::from_secs(s)),
        }
    }
}
