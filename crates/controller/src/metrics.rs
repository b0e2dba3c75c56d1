//! The controller's Prometheus metrics (`/metrics`, text format): reconcile durations, syncs by
//! result, Applications by sync and health status, Git fetch and render durations, and the
//! Kubernetes API requests and errors of every destination cluster. Names follow Argo CD's
//! where one exists (`argocd_app_reconcile` → `bosun_app_reconcile_seconds`).

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabel {
    pub app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    pub app: String,
    /// `Succeeded`, `Failed`, `Error`.
    pub phase: String,
    /// `sync`, `auto-sync`, `self-heal`, `rollback`.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub sync_status: String,
    pub health_status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OkLabel {
    pub ok: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// The HTTP status class of the answer (`2xx`, `4xx`, `5xx`) or `error` when none came.
    pub code: String,
}

pub struct Metrics {
    registry: Registry,
    pub reconcile_seconds: Family<AppLabel, Histogram>,
    pub syncs: Family<SyncLabels, Counter>,
    pub apps: Family<StatusLabels, Gauge>,
    pub git_fetch_seconds: Family<OkLabel, Histogram>,
    pub render_seconds: Family<OkLabel, Histogram>,
    pub kube_requests: Family<CodeLabel, Counter>,
    pub kube_errors: Counter,
    /// The reconcile runtime's per-loop metrics (queue, running, durations, errors).
    pub runtime: bosun_runtime::RuntimeMetrics,
    /// The image loop's registry requests, write-backs and checks.
    pub images: bosun_images::metrics::ImageMetrics,
    /// The label sets last written to `apps`, so that vanished combinations drop to zero.
    app_counts: Mutex<Vec<StatusLabels>>,
}

fn seconds_histogram() -> Histogram {
    // 10 ms … ~80 s.
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("bosun");
        let reconcile_seconds =
            Family::<AppLabel, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        let syncs = Family::<SyncLabels, Counter>::default();
        let apps = Family::<StatusLabels, Gauge>::default();
        let git_fetch_seconds =
            Family::<OkLabel, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        let render_seconds =
            Family::<OkLabel, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        let kube_requests = Family::<CodeLabel, Counter>::default();
        let kube_errors = Counter::default();
        registry.register(
            "app_reconcile_seconds",
            "Time to compare an Application with Git and its cluster (and act on it)",
            reconcile_seconds.clone(),
        );
        registry.register(
            "app_syncs",
            "Sync operations by Application, kind and result",
            syncs.clone(),
        );
        registry.register(
            "apps",
            "Applications by sync and health status",
            apps.clone(),
        );
        registry.register(
            "git_fetch_seconds",
            "Time to resolve and fetch a Git revision",
            git_fetch_seconds.clone(),
        );
        registry.register(
            "render_seconds",
            "Time to render an Application source (helm, kustomize, directory)",
            render_seconds.clone(),
        );
        registry.register(
            "kubernetes_requests",
            "Kubernetes API answers by status class",
            kube_requests.clone(),
        );
        registry.register(
            "kubernetes_errors",
            "Kubernetes API calls that failed (5xx, 429 or no answer)",
            kube_errors.clone(),
        );
        let runtime = bosun_runtime::RuntimeMetrics::register(&mut registry);
        let images = bosun_images::metrics::ImageMetrics::register(&mut registry);
        Metrics {
            runtime,
            images,
            registry,
            reconcile_seconds,
            syncs,
            apps,
            git_fetch_seconds,
            render_seconds,
            kube_requests,
            kube_errors,
            app_counts: Mutex::new(Vec::new()),
        }
    }

    /// Sets the Applications-by-status gauge from the current statuses.
    pub fn set_app_counts<'a>(&self, statuses: impl Iterator<Item = (&'a str, &'a str)>) {
        let mut counts: std::collections::BTreeMap<(String, String), i64> = Default::default();
        for (sync, health) in statuses {
            *counts
                .entry((sync.to_string(), health.to_string()))
                .or_default() += 1;
        }
        let mut last = self.app_counts.lock().unwrap_or_else(|p| p.into_inner());
        for labels in last.drain(..) {
            self.apps.get_or_create(&labels).set(0);
        }
        for ((sync_status, health_status), n) in counts {
            let labels = StatusLabels {
                sync_status,
                health_status,
            };
            self.apps.get_or_create(&labels).set(n);
            last.push(labels);
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

fn ok_label(ok: bool) -> OkLabel {
    OkLabel { ok: ok.to_string() }
}

impl bosun_engine::pipeline::Observer for Metrics {
    fn git_fetch(&self, _repo: &str, took: Duration, ok: bool) {
        self.git_fetch_seconds
            .get_or_create(&ok_label(ok))
            .observe(took.as_secs_f64());
    }

    fn render(&self, _app: &str, took: Duration, ok: bool) {
        self.render_seconds
            .get_or_create(&ok_label(ok))
            .observe(took.as_secs_f64());
    }

    fn kube_response(&self, status: Option<u16>) {
        let code = match status {
            Some(s) => format!("{}xx", s / 100),
            None => "error".into(),
        };
        if status.is_none_or(|s| s >= 500 || s == 429) {
            self.kube_errors.inc();
        }
        self.kube_requests.get_or_create(&CodeLabel { code }).inc();
    }
}
