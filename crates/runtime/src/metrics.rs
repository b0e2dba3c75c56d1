//! Per-controller metrics of the runtime, registered into the process's Prometheus registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ControllerLabel {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabels {
    pub controller: String,
    /// `ok` or `error`.
    pub result: String,
}

/// Queue depth, reconciles running, durations and results of every controller.
#[derive(Clone)]
pub struct RuntimeMetrics {
    pub(crate) queued: Family<ControllerLabel, Gauge>,
    pub(crate) running: Family<ControllerLabel, Gauge>,
    pub(crate) reconciles: Family<ResultLabels, Counter>,
    pub(crate) duration: Family<ControllerLabel, Histogram>,
}

fn seconds_histogram() -> Histogram {
    // 5 ms … ~80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

impl RuntimeMetrics {
    /// Metrics registered in `registry` (under its prefix).
    pub fn register(registry: &mut Registry) -> RuntimeMetrics {
        let metrics = RuntimeMetrics {
            queued: Family::default(),
            running: Family::default(),
            reconciles: Family::default(),
            duration: Family::new_with_constructor(seconds_histogram as fn() -> _),
        };
        registry.register(
            "controller_queued_keys",
            "Keys with a reconcile requested that has not started yet (scheduled or due)",
            metrics.queued.clone(),
        );
        registry.register(
            "controller_running_reconciles",
            "Reconciles running now",
            metrics.running.clone(),
        );
        registry.register(
            "controller_reconciles",
            "Finished reconciles by controller and result",
            metrics.reconciles.clone(),
        );
        registry.register(
            "controller_reconcile_seconds",
            "Time one reconcile took",
            metrics.duration.clone(),
        );
        metrics
    }

    /// Metrics that go nowhere (tests, CLI).
    pub fn unregistered() -> RuntimeMetrics {
        RuntimeMetrics::register(&mut Registry::default())
    }
}
