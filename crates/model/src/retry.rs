//! Retry of failed syncs as Argo CD times it: the n-th retry (from 0) waits
//! `duration × factor^n`, capped at `maxDuration`, for `limit` retries.

use std::time::Duration;

use crate::application::{Backoff, RetryStrategy};
use crate::duration::parse_backoff_duration;
use crate::error::ModelError;

impl RetryStrategy {
    /// The waits before each retry, in order. `limit` unset or 0 means no retries, a negative
    /// `limit` means no end (Argo CD's rule). Missing backoff fields take Argo CD's defaults:
    /// 5s, factor 2, at most 3m; `maxDuration: 0` means no cap. An error names the backoff field
    /// that does not parse, relative to the retry strategy (`backoff.duration`).
    pub fn delays(&self) -> Result<RetryDelays, ModelError> {
        let backoff = self.backoff.clone().unwrap_or_default();
        let parse = |field: &str, value: &Option<String>, default: Duration| match value {
            None => Ok(default),
            Some(text) => parse_backoff_duration(text)
                .map_err(|e| ModelError::invalid(format!("backoff.{field}"), e.to_string())),
        };
        let base = parse("duration", &backoff.duration, Backoff::DEFAULT_DURATION)?;
        let max = parse(
            "maxDuration",
            &backoff.max_duration,
            Backoff::DEFAULT_MAX_DURATION,
        )?;
        let factor = backoff.factor.unwrap_or(Backoff::DEFAULT_FACTOR);
        if factor < 1 {
            return Err(ModelError::invalid(
                "backoff.factor",
                format!("must be at least 1, not {factor}"),
            ));
        }
        let remaining = match self.limit {
            None => Some(0),
            Some(limit) if limit < 0 => None,
            Some(limit) => Some(limit as u64),
        };
        Ok(RetryDelays {
            base,
            factor: factor as f64,
            max,
            retry: 0,
            remaining,
        })
    }
}

/// The waits before successive retries; see [`RetryStrategy::delays`].
#[derive(Clone, Debug)]
pub struct RetryDelays {
    base: Duration,
    factor: f64,
    /// Zero means no cap.
    max: Duration,
    retry: u64,
    /// `None` for no limit.
    remaining: Option<u64>,
}

impl Iterator for RetryDelays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if let Some(remaining) = &mut self.remaining {
            if *remaining == 0 {
                return None;
            }
            *remaining -= 1;
        }
        // As Argo CD: float64(duration) * factor^n, then min with the cap.
        let exponent = i32::try_from(self.retry).unwrap_or(i32::MAX);
        let mut seconds = self.base.as_secs_f64() * self.factor.powi(exponent);
        if !self.max.is_zero() {
            seconds = seconds.min(self.max.as_secs_f64());
        }
        self.retry = self.retry.saturating_add(1);
        Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn strategy(limit: Option<i64>, backoff: Option<Backoff>) -> RetryStrategy {
        RetryStrategy {
            limit,
            backoff,
            ..Default::default()
        }
    }

    #[test]
    fn seed_policy_doubles_from_5s_up_to_3m() {
        let retry = strategy(
            Some(5),
            Some(Backoff {
                duration: Some("5s".into()),
                factor: Some(2),
                max_duration: Some("3m".into()),
            }),
        );
        let delays: Vec<_> = retry.delays().unwrap().collect();
        assert_eq!(delays, [secs(5), secs(10), secs(20), secs(40), secs(80)]);
    }

    #[test]
    fn defaults_and_cap() {
        let delays: Vec<_> = strategy(Some(8), None).delays().unwrap().collect();
        assert_eq!(
            delays,
            [5, 10, 20, 40, 80, 160, 180, 180].map(secs).to_vec()
        );
    }

    #[test]
    fn limits() {
        assert_eq!(strategy(None, None).delays().unwrap().count(), 0);
        assert_eq!(strategy(Some(0), None).delays().unwrap().count(), 0);
        let mut unlimited = strategy(Some(-1), None).delays().unwrap();
        assert_eq!(unlimited.nth(1000), Some(secs(180)));
    }

    #[test]
    fn bare_seconds_and_no_cap() {
        let retry = strategy(
            Some(3),
            Some(Backoff {
                duration: Some("1".into()),
                factor: Some(10),
                max_duration: Some("0".into()),
            }),
        );
        let delays: Vec<_> = retry.delays().unwrap().collect();
        assert_eq!(delays, [secs(1), secs(10), secs(100)]);
        let mut huge = strategy(Some(-1), retry.backoff.clone()).delays().unwrap();
        assert_eq!(huge.nth(400), Some(Duration::MAX));
    }

    #[test]
    fn bad_backoff_names_the_field() {
        let bad = |backoff: Backoff| strategy(Some(1), Some(backoff)).delays().unwrap_err();
        let e = bad(Backoff {
            duration: Some("5 s".into()),
            ..Default::default()
        });
        assert_eq!(e.path, "backoff.duration");
        let e = bad(Backoff {
            max_duration: Some("forever".into()),
            ..Default::default()
        });
        assert_eq!(e.path, "backoff.maxDuration");
        let e = bad(Backoff {
            factor: Some(0),
            ..Default::default()
        });
        assert_eq!(e.to_string(), "backoff.factor: must be at least 1, not 0");
    }
}
