//! Runs a [`Reconciler`]: pulls due keys from kube-runtime's scheduler (a delay queue that merges
//! requests per key), starts at most `concurrency` reconciles at once and never two for one key,
//! and schedules what each reconcile asks for.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use futures::{FutureExt, StreamExt};
use kube::runtime::scheduler::{ScheduleRequest, scheduler};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::metrics::{ControllerLabel, ResultLabels};
use crate::{Action, Reconciler, RuntimeMetrics, Trigger};

/// How a controller runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The controller's name in logs and metrics.
    pub name: &'static str,
    /// Reconciles running at once, across keys.
    pub concurrency: usize,
    /// Wait before retrying a failed reconcile; doubled per consecutive failure of the key...
    pub error_backoff: Duration,
    /// ...up to this.
    pub max_error_backoff: Duration,
}

impl Config {
    pub fn new(name: &'static str) -> Config {
        Config {
            name,
            concurrency: 8,
            error_backoff: Duration::from_secs(5),
            max_error_backoff: Duration::from_secs(300),
        }
    }

    /// The wait after the `failures`-th consecutive failure (1-based).
    fn backoff(&self, failures: u32) -> Duration {
        ExponentialBuilder::new()
            .with_min_delay(self.error_backoff)
            .with_max_delay(self.max_error_backoff)
            .with_factor(2.0)
            .without_max_times()
            .build()
            .nth(failures.saturating_sub(1) as usize)
            .unwrap_or(self.max_error_backoff)
    }
}

/// A controller's runtime before it runs: hand out [`Trigger`]s, then [`Runtime::run`].
pub struct Runtime<K> {
    config: Config,
    trigger: Trigger<K>,
    requests: UnboundedReceiver<ScheduleRequest<K>>,
    metrics: RuntimeMetrics,
}

/// One reconcile's end: its key, its answer (or `None` when it panicked) and how long it took.
type Finished<K, E> = (K, Option<Result<Action, E>>, Duration);

impl<K: Clone + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static> Runtime<K> {
    pub fn new(config: Config, metrics: RuntimeMetrics) -> Runtime<K> {
        let (sender, requests) = unbounded_channel();
        Runtime {
            config,
            trigger: Trigger { sender },
            requests,
            metrics,
        }
    }

    pub fn trigger(&self) -> Trigger<K> {
        self.trigger.clone()
    }

    /// Runs `reconciler` until the returned future is dropped; dropping it aborts the
    /// reconciles in flight.
    pub async fn run<R: Reconciler<Key = K>>(self, reconciler: Arc<R>) {
        let Runtime {
            config,
            trigger,
            mut requests,
            metrics,
        } = self;
        let label = ControllerLabel {
            controller: config.name.to_string(),
        };
        let queued_gauge = metrics.queued.get_or_create(&label).clone();
        let running_gauge = metrics.running.get_or_create(&label).clone();
        let duration = metrics.duration.get_or_create(&label).clone();
        // Keys requested and not started yet: the queue depth.
        let queued: Arc<Mutex<HashSet<K>>> = Arc::default();
        let incoming = {
            let (queued, gauge) = (queued.clone(), queued_gauge.clone());
            futures::stream::poll_fn(move |cx| requests.poll_recv(cx)).inspect(move |request| {
                let mut queued = queued.lock().unwrap_or_else(|p| p.into_inner());
                queued.insert(request.message.clone());
                gauge.set(queued.len() as i64);
            })
        };
        let mut scheduled = std::pin::pin!(scheduler(incoming));
        let mut running: HashSet<K> = HashSet::new();
        let mut failures: HashMap<K, u32> = HashMap::new();
        let mut tasks: JoinSet<Finished<K, R::Error>> = JoinSet::new();
        let limit = config.concurrency.max(1);

        enum Event<K, E> {
            Due(K),
            Done(Finished<K, E>),
        }

        loop {
            let event = std::future::poll_fn(|cx| {
                if let Poll::Ready(Some(Ok(done))) = tasks.poll_join_next(cx) {
                    return Poll::Ready(Some(Event::Done(done)));
                }
                if running.len() < limit {
                    // A key that is running stays pending in the scheduler until it ends.
                    match scheduled
                        .as_mut()
                        .hold_unless(|key| !running.contains(key))
                        .poll_next_unpin(cx)
                    {
                        Poll::Ready(Some(key)) => return Poll::Ready(Some(Event::Due(key))),
                        Poll::Ready(None) => return Poll::Ready(None),
                        Poll::Pending => {}
                    }
                } else {
                    // At the limit: keep merging requests while the slots are busy.
                    let _ = scheduled.as_mut().hold().poll_next_unpin(cx);
                }
                Poll::Pending
            })
            .await;
            match event {
                None => return,
                Some(Event::Due(key)) => {
                    {
                        let mut queued = queued.lock().unwrap_or_else(|p| p.into_inner());
                        queued.remove(&key);
                        queued_gauge.set(queued.len() as i64);
                    }
                    running.insert(key.clone());
                    running_gauge.set(running.len() as i64);
                    let reconciler = reconciler.clone();
                    tasks.spawn(async move {
                        let started = Instant::now();
                        // A panicking reconcile is one failed reconcile, not a dead controller.
                        let result = AssertUnwindSafe(reconciler.reconcile(key.clone()))
                            .catch_unwind()
                            .await
                            .ok();
                        (key, result, started.elapsed())
                    });
                }
                Some(Event::Done((key, result, took))) => {
                    running.remove(&key);
                    running_gauge.set(running.len() as i64);
                    duration.observe(took.as_secs_f64());
                    let action = match result {
                        Some(Ok(action)) => {
                            failures.remove(&key);
                            count(&metrics, config.name, "ok");
                            action
                        }
                        Some(Err(error)) => {
                            let n = failures.entry(key.clone()).or_default();
                            *n += 1;
                            let wait = config.backoff(*n);
                            count(&metrics, config.name, "error");
                            tracing::warn!(controller = config.name, key = ?key, failures = *n, retry_in = ?wait, "reconcile failed: {error}");
                            Action::RequeueAfter(wait)
                        }
                        None => {
                            let n = failures.entry(key.clone()).or_default();
                            *n += 1;
                            let wait = config.backoff(*n);
                            count(&metrics, config.name, "error");
                            tracing::error!(controller = config.name, key = ?key, retry_in = ?wait, "reconcile panicked");
                            Action::RequeueAfter(wait)
                        }
                    };
                    if let Action::RequeueAfter(wait) = action {
                        trigger.after(key, wait);
                    }
                }
            }
        }
    }
}

fn count(metrics: &RuntimeMetrics, controller: &str, result: &str) {
    metrics
        .reconciles
        .get_or_create(&ResultLabels {
            controller: controller.into(),
            result: result.into(),
        })
        .inc();
}
