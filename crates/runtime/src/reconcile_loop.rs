//! A controller's reconcile loop as its owner holds it: the trigger can be handed out before the
//! loop runs (to watches, API handlers), the loop runs from `start`, and everything it and its
//! helpers spawned stops when the owner is dropped.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use crate::{Config, Reconciler, Runtime, RuntimeMetrics, Trigger};

pub struct ReconcileLoop<K> {
    trigger: Trigger<K>,
    /// Until `start` takes it.
    runtime: Mutex<Option<Runtime<K>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<K: Clone + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static> ReconcileLoop<K> {
    pub fn new(config: Config, metrics: RuntimeMetrics) -> Self {
        let runtime = Runtime::new(config, metrics);
        ReconcileLoop {
            trigger: runtime.trigger(),
            runtime: Mutex::new(Some(runtime)),
            tasks: Mutex::default(),
        }
    }

    pub fn trigger(&self) -> Trigger<K> {
        self.trigger.clone()
    }

    /// Runs `reconciler` on the loop; a second call does nothing.
    pub fn start<R: Reconciler<Key = K>>(&self, reconciler: Arc<R>) {
        if let Some(runtime) = lock(&self.runtime).take() {
            self.spawn(runtime.run(reconciler));
        }
    }

    /// A task that lives as long as the loop (a watch feeding its trigger).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        lock(&self.tasks).push(tokio::spawn(task));
    }
}

impl<K> Drop for ReconcileLoop<K> {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}
