//! Asking the runtime to reconcile a key.

use std::time::Duration;

use kube::runtime::scheduler::ScheduleRequest;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

/// A handle that schedules reconciles; cheap to clone and hand to webhooks, API handlers and
/// watches. Requests for one key merge: the earliest wins.
pub struct Trigger<K> {
    pub(crate) sender: UnboundedSender<ScheduleRequest<K>>,
}

impl<K> Clone for Trigger<K> {
    fn clone(&self) -> Self {
        Trigger {
            sender: self.sender.clone(),
        }
    }
}

impl<K> Trigger<K> {
    /// Reconcile `key` as soon as a slot is free (and its running reconcile, if any, ended).
    pub fn now(&self, key: K) {
        self.at(key, Instant::now());
    }

    /// Reconcile `key` after `wait`, unless something asks for it sooner. Used to gather a
    /// burst: the first event of the burst sets the time, later ones merge into it.
    pub fn after(&self, key: K, wait: Duration) {
        self.at(key, Instant::now() + wait);
    }

    fn at(&self, key: K, run_at: Instant) {
        // A closed channel means the runtime stopped: there is nothing left to reconcile.
        let _ = self.sender.send(ScheduleRequest {
            message: key,
            run_at,
        });
    }
}
