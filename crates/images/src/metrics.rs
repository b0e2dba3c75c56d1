//! The image loop's Prometheus metrics: registry requests by kind, write-backs and checks by
//! result. (Its reconciles, durations and failures are the runtime's `controller="images"`.)

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct KindLabel {
    /// `tags` (a tags list page) or `manifest` (a digest or a config).
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ResultLabel {
    pub result: String,
}

#[derive(Clone)]
pub struct ImageMetrics {
    pub(crate) registry_requests: Family<KindLabel, Counter>,
    pub(crate) write_backs: Family<ResultLabel, Counter>,
    pub(crate) checks: Family<ResultLabel, Counter>,
}

impl ImageMetrics {
    pub fn register(registry: &mut Registry) -> ImageMetrics {
        let metrics = ImageMetrics {
            registry_requests: Family::default(),
            write_backs: Family::default(),
            checks: Family::default(),
        };
        registry.register(
            "image_registry_requests",
            "Requests to container registries by kind (tags, manifest)",
            metrics.registry_requests.clone(),
        );
        registry.register(
            "image_write_backs",
            "Image write-back pushes by result (committed, failed)",
            metrics.write_backs.clone(),
        );
        registry.register(
            "image_checks",
            "Image checks of an Application by result (ok, failed)",
            metrics.checks.clone(),
        );
        metrics
    }

    /// Metrics that go nowhere (tests, CLI).
    pub fn unregistered() -> ImageMetrics {
        ImageMetrics::register(&mut Registry::default())
    }

    pub(crate) fn request(&self, kind: &str) {
        self.registry_requests
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    pub(crate) fn count(family: &Family<ResultLabel, Counter>, result: &str) {
        family
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }
}
