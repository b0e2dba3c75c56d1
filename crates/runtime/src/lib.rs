//! The reconcile loop every bosun controller runs on, after kube-runtime's controller.
//!
//! A controller is a [`Reconciler`]: given a key, it compares desired with actual, acts, and
//! returns an [`Action`] that says when to look again. It never sleeps, spawns timers or keeps
//! its own schedule; the [`Runtime`] owns time and threads:
//!
//! - **triggers** — a [`Trigger`] asks for a key now or after a delay (a webhook, an API call, a
//!   watch event, a gathered burst); requests for one key merge and the earliest wins;
//! - **one reconcile per key at a time** — a request for a key that is running waits for it to
//!   finish and then runs once, however many requests arrived meanwhile;
//! - **a concurrency limit** across keys;
//! - **an error policy** — a failed reconcile comes back after an exponential backoff;
//! - **metrics** per controller ([`RuntimeMetrics`]);
//! - an [`OwnerIndex`] of the objects each owner controls, for controllers that read their
//!   children from a watch cache.
//!
//! Because the runtime owns time, time-driven behaviour is tested with a paused tokio clock.

mod metrics;
mod owner_index;
mod reconcile_loop;
mod runner;
mod trigger;

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

pub use metrics::RuntimeMetrics;
pub use owner_index::{OwnerIndex, controller_of};
pub use reconcile_loop::ReconcileLoop;
pub use runner::{Config, Runtime};
pub use trigger::Trigger;

/// What a reconcile asks to happen next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Reconcile this key again after the duration (sooner if triggered).
    RequeueAfter(Duration),
    /// Nothing scheduled: the key runs again only when triggered.
    AwaitChange,
}

impl Action {
    pub fn requeue(after: Duration) -> Action {
        Action::RequeueAfter(after)
    }

    /// `after` plus a random part of `jitter`: periodic refreshes of many keys spread out
    /// instead of arriving together (Argo CD 3's refresh jitter).
    pub fn requeue_with_jitter(after: Duration, jitter: Duration) -> Action {
        let extra = jitter.as_millis() as u64;
        let extra = if extra == 0 {
            0
        } else {
            fastrand::u64(0..extra)
        };
        Action::RequeueAfter(after + Duration::from_millis(extra))
    }

    pub fn await_change() -> Action {
        Action::AwaitChange
    }
}

/// One controller's logic. `reconcile` is called with one key at a time per key, never
/// concurrently for the same key.
pub trait Reconciler: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static;
    type Error: std::fmt::Display + Send + 'static;

    fn reconcile(
        self: Arc<Self>,
        key: Self::Key,
    ) -> impl Future<Output = Result<Action, Self::Error>> + Send;
}
