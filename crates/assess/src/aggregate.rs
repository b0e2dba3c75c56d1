//! An Application's health from its resources' health, as Argo CD's `setApplicationHealth`
//! (`controller/health.go`, Argo CD 3.4 and later) computes it.
//!
//! The Application takes the worst status (see [`HealthStatus`]'s order) of the resources that
//! count. A resource does not count when:
//! - it is a hook, or `argocd.argoproj.io/hook: Skip` (hooks come and go with each sync);
//! - its live object carries `argocd.argoproj.io/ignore-healthcheck: "true"`;
//! - its kind has no health check;
//! - it is Missing from the cluster: the sync status already says so. Only when *every*
//!   resource is missing is the Application Missing;
//! - it is a child Argo CD Application that is Missing or Unknown.
//!
//! Before Argo CD 3.4 a Missing resource did count (if its kind had a health check), which made
//! an Application with one not-yet-created Deployment Missing. bosun follows 3.4: `--wait`
//! should wait for Synced as well as Healthy, as `argocd app wait` does by default.

use bosun_model::argo;
use serde_json::Value;

use crate::object;
use crate::status::{Health, HealthStatus};

/// Argo CD's annotation that keeps a resource out of its Application's health.
pub const IGNORE_HEALTHCHECK: &str = "argocd.argoproj.io/ignore-healthcheck";

/// One resource of an Application: what Git wants, and what the cluster has.
#[derive(Debug, Clone, Copy)]
pub struct ManagedResource<'a> {
    /// The desired object rendered from Git; `None` for a live object Git no longer has.
    pub target: Option<&'a Value>,
    /// The object in the cluster; `None` when it does not exist (yet).
    pub live: Option<&'a Value>,
}

/// The health of one resource, with what identifies it in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceHealth {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub health: Health,
    /// Whether this resource's health went into the Application's. False for Missing resources
    /// (they are reported, but do not count) and Missing/Unknown child Applications.
    pub counted: bool,
}

impl ResourceHealth {
    /// "Deployment web", or "apps/Deployment shop/web" with the group and namespace.
    pub fn reference(&self) -> String {
        let kind = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}/{}", self.group, self.kind)
        };
        if self.namespace.is_empty() {
            format!("{kind} {}", self.name)
        } else {
            format!("{kind} {}/{}", self.namespace, self.name)
        }
    }
}

/// An Application's health and the health of each resource that has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppHealth {
    pub status: HealthStatus,
    pub resources: Vec<ResourceHealth>,
}

impl AppHealth {
    /// The resources that keep the Application from being Healthy, worst first: what `--wait`
    /// prints when it gives up.
    pub fn unhealthy(&self) -> Vec<&ResourceHealth> {
        let mut bad: Vec<&ResourceHealth> = self
            .resources
            .iter()
            .filter(|r| r.counted && r.health.status != HealthStatus::Healthy)
            .collect();
        bad.sort_by_key(|r| std::cmp::Reverse(r.health.status));
        bad
    }
}

/// Aggregate the health of an Application's resources. An Application with no resources that
/// count is Healthy, as in Argo CD.
pub fn aggregate<'a>(resources: impl IntoIterator<Item = ManagedResource<'a>>) -> AppHealth {
    let mut status = HealthStatus::Healthy;
    let mut assessed = Vec::new();
    let mut any_resource = false;
    let mut any_live = false;

    for resource in resources {
        if resource.target.is_some_and(argo::is_skipped) || resource.live.is_some_and(argo::is_hook)
        {
            continue;
        }
        any_resource = true;
        any_live |= resource.live.is_some();
        if resource
            .live
            .is_some_and(|live| object::annotation(live, IGNORE_HEALTHCHECK) == Some("true"))
        {
            continue;
        }
        let Some(identity) = resource.live.or(resource.target) else {
            continue;
        };
        let health = match resource.live {
            None => Some(Health::new(HealthStatus::Missing, "")),
            Some(live) => crate::assess(live),
        };
        let Some(health) = health else {
            continue;
        };
        let child_app =
            object::group(identity) == "argoproj.io" && object::kind(identity) == "Application";
        // Argo CD 3.4: a Missing resource is already reported as OutOfSync; and a child
        // Application that is Missing or Unknown says nothing about this one.
        let missing = resource.live.is_none() && health.status == HealthStatus::Missing;
        let silent_child =
            child_app && matches!(health.status, HealthStatus::Missing | HealthStatus::Unknown);
        let counted = !missing && !silent_child;
        if counted {
            status = status.max(health.status);
        }
        assessed.push(ResourceHealth {
            group: object::group(identity).to_string(),
            kind: object::kind(identity).to_string(),
            namespace: object::namespace(identity).to_string(),
            name: object::name(identity).to_string(),
            health,
            counted,
        });
    }

    if any_resource && !any_live {
        status = status.max(HealthStatus::Missing);
    }
    AppHealth {
        status,
        resources: assessed,
    }
}
