//! When an Application is compared again without a trigger: bosun.yaml's
//! `server.refreshInterval` and `refreshJitter`, where `0s` turns polling off (Argo CD's
//! `timeout.reconciliation: 0`). Webhooks, watches and the API trigger a comparison either way;
//! this module only decides what the clock does. Pure, so the decisions are unit-tested.

use std::time::Duration;

use bosun_model::ServerConfig;
use bosun_runtime::Action;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polling {
    /// Compared only when something asks: a webhook, a watch event, the API.
    Off,
    /// Compared every `interval`, plus up to `jitter` so that many Applications spread out.
    Every {
        interval: Duration,
        jitter: Duration,
    },
}

impl Polling {
    pub fn from_config(server: &ServerConfig) -> Polling {
        match server.polling_interval() {
            None => Polling::Off,
            Some(interval) => Polling::Every {
                interval,
                jitter: server.refresh_jitter(),
            },
        }
    }

    /// Whether a reconcile nobody asked for compares in full: never compared yet, or the
    /// interval has passed since the last comparison.
    pub fn compare_due(&self, since_compare: Option<Duration>) -> bool {
        match (self, since_compare) {
            (_, None) => true,
            (Polling::Off, Some(_)) => false,
            (Polling::Every { interval, .. }, Some(since)) => since >= *interval,
        }
    }

    /// What follows a full comparison.
    pub fn after_compare(&self) -> Action {
        match self {
            Polling::Off => Action::await_change(),
            Polling::Every { interval, jitter } => Action::requeue_with_jitter(*interval, *jitter),
        }
    }

    /// What follows a health-only pass `since_compare` after the last full comparison: the
    /// rest of the interval.
    pub fn after_reassess(&self, since_compare: Duration) -> Action {
        match self {
            Polling::Off => Action::await_change(),
            Polling::Every { interval, .. } => {
                Action::requeue(interval.saturating_sub(since_compare))
            }
        }
    }

    /// When the catalog (the `applications` sources) is loaded again without a trigger.
    pub fn catalog_reload(&self) -> Option<Duration> {
        match self {
            Polling::Off => None,
            Polling::Every { interval, .. } => Some(*interval),
        }
    }
}

/// Whether coming back after `wait` (a self-heal backoff ending) is sooner than `next`.
pub fn sooner(wait: Duration, next: &Action) -> bool {
    match next {
        Action::RequeueAfter(at) => wait < *at,
        Action::AwaitChange => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polling(yaml: &str) -> Polling {
        let config = bosun_model::BosunConfig::parse(yaml, "bosun.yaml").unwrap();
        Polling::from_config(&config.server)
    }

    #[test]
    fn zero_turns_polling_off_everything_but_the_first_comparison() {
        let off = polling("server:\n  refreshInterval: 0s\n");
        assert_eq!(off, Polling::Off);
        assert!(off.compare_due(None), "a new Application is compared once");
        assert!(!off.compare_due(Some(Duration::ZERO)));
        assert!(!off.compare_due(Some(Duration::from_secs(86_400))));
        assert_eq!(off.after_compare(), Action::AwaitChange);
        assert_eq!(
            off.after_reassess(Duration::from_secs(1)),
            Action::AwaitChange
        );
        assert_eq!(off.catalog_reload(), None);
        // A self-heal backoff still brings the Application back.
        assert!(sooner(Duration::from_secs(180), &off.after_compare()));
    }

    #[test]
    fn an_interval_polls_with_jitter() {
        let every = polling("server:\n  refreshInterval: 30s\n  refreshJitter: 0s\n");
        assert_eq!(
            every,
            Polling::Every {
                interval: Duration::from_secs(30),
                jitter: Duration::ZERO
            }
        );
        assert!(!every.compare_due(Some(Duration::from_secs(29))));
        assert!(every.compare_due(Some(Duration::from_secs(30))));
        assert_eq!(
            every.after_compare(),
            Action::RequeueAfter(Duration::from_secs(30))
        );
        assert_eq!(
            every.after_reassess(Duration::from_secs(20)),
            Action::RequeueAfter(Duration::from_secs(10))
        );
        assert_eq!(every.catalog_reload(), Some(Duration::from_secs(30)));
        assert!(sooner(Duration::from_secs(5), &every.after_compare()));
        assert!(!sooner(Duration::from_secs(31), &every.after_compare()));
        let jittered = polling("server:\n  refreshInterval: 30s\n  refreshJitter: 10s\n");
        let Action::RequeueAfter(after) = jittered.after_compare() else {
            panic!("polling requeues");
        };
        assert!(after >= Duration::from_secs(30) && after < Duration::from_secs(40));
    }
}
