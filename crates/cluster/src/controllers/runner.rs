//! The work loop of the workload controllers: a set of dirty keys fed by store events, by timers
//! a reconcile asks for ("look again in 3 s": readiness delays, progress deadlines, cron
//! schedules) and by the periodic resync. Events that arrive together are drained as one batch
//! and their keys deduplicated, so a burst of writes costs one reconcile per object, not one per
//! event — which is what keeps a thousand Deployments from making the controllers spin.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::server::Shared;
use crate::store::WatchEvent;

/// What a controller reconciles: the namespace and name of one object.
pub type Key = (String, String);

/// The key of the object an event is about.
pub fn event_key(event: &WatchEvent) -> Key {
    (event.namespace.clone(), event.name.clone())
}

/// One controller: which objects an event concerns, and how to bring one object toward its
/// desired state. Reconcile reads the store (always current), so a key reconciled twice is
/// harmless; it returns how long until time alone would change its answer, if ever.
pub trait Reconciler: Send + 'static {
    /// The keys an event makes dirty (often none: the event is about an unrelated type).
    fn keys_for(&mut self, state: &Shared, event: &WatchEvent) -> Vec<Key>;
    /// Every key this controller is responsible for (at start, on resync, after lagging). It is
    /// also the moment to rebuild any in-memory index from the store.
    fn all_keys(&mut self, state: &Shared) -> Vec<Key>;
    /// Reconciles one object; `Some(d)` asks to be called again after `d`.
    fn reconcile(&mut self, state: &Shared, key: &Key) -> Option<Duration>;
}

/// Runs `reconciler` until the store's event stream closes.
pub async fn run(state: Shared, mut reconciler: impl Reconciler) {
    let mut events = state.objects.store.subscribe();
    let (due_tx, mut due_rx) = mpsc::unbounded_channel::<Key>();
    let mut timers = Timers::default();
    let mut dirty: BTreeSet<Key> = reconciler.all_keys(&state).into_iter().collect();
    let mut ticker = tokio::time::interval(state.timing.resync);
    ticker.tick().await;
    loop {
        for (done, key) in std::mem::take(&mut dirty).into_iter().enumerate() {
            if let Some(after) = reconciler.reconcile(&state, &key) {
                timers.schedule(&due_tx, key, after);
            }
            if done % 64 == 63 {
                // Let the API server's tasks run during a long resync.
                tokio::task::yield_now().await;
            }
        }
        tokio::select! {
            _ = ticker.tick() => dirty.extend(reconciler.all_keys(&state)),
            Some(key) = due_rx.recv() => {
                timers.fired(&key);
                dirty.insert(key);
                while let Ok(key) = due_rx.try_recv() {
                    timers.fired(&key);
                    dirty.insert(key);
                }
            }
            received = events.recv() => {
                let mut next = Some(received);
                while let Some(received) = next.take() {
                    match received {
                        Ok(event) => dirty.extend(reconciler.keys_for(&state, &event)),
                        Err(RecvError::Lagged(_)) => dirty.extend(reconciler.all_keys(&state)),
                        Err(RecvError::Closed) => return,
                    }
                    next = match events.try_recv() {
                        Ok(event) => Some(Ok(event)),
                        Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                        Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
                        Err(TryRecvError::Empty) => None,
                    };
                }
            }
        }
    }
}

/// At most one pending timer per key: the earliest one wins, and the reconcile it triggers asks
/// for a later one if it still needs it.
#[derive(Default)]
struct Timers {
    due: HashMap<Key, Instant>,
}

impl Timers {
    fn schedule(&mut self, tx: &mpsc::UnboundedSender<Key>, key: Key, after: Duration) {
        let at = Instant::now() + after;
        if self.due.get(&key).is_some_and(|pending| *pending <= at) {
            return;
        }
        self.due.insert(key.clone(), at);
        let tx = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let _ = tx.send(key);
        });
    }

    fn fired(&mut self, key: &Key) {
        if self.due.get(key).is_some_and(|at| *at <= Instant::now()) {
            self.due.remove(key);
        }
    }
}

/// Shorthand for reconcilers that react to one event type only.
pub fn is_type(event: &WatchEvent, group: &str, resource: &str) -> bool {
    event.gr.group == group && event.gr.resource == resource
}
