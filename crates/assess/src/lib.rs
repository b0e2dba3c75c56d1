//! bosun's Assess stage: is what was applied healthy?
//!
//! Health is judged by Argo CD's rules, so that an Application moved from Argo CD to bosun
//! reports the same health for the same cluster state: the per-kind checks of gitops-engine
//! (`pkg/health`) and Argo CD's built-in Lua checks, and Argo CD's aggregation of resource
//! health into an Application's (`controller/health.go`). `docs/health.md` lists the rules.
//!
//! Pure logic: objects come in as JSON as the API server returns them, nothing here does I/O.
//!
//! ```
//! use bosun_assess::{assess, HealthStatus};
//! let svc = serde_json::json!({"apiVersion": "v1", "kind": "Service",
//!     "metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"}});
//! assert_eq!(assess(&svc).unwrap().status, HealthStatus::Progressing);
//! let config = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap"});
//! assert_eq!(assess(&config), None);
//! ```

mod aggregate;
mod batch;
mod crd;
pub mod custom;
mod generic;
mod hpa;
pub mod lua;
mod network;
mod object;
mod pod;
mod registry;
mod rollout;
mod status;
mod storage;
mod workloads;

pub use aggregate::{AppHealth, IGNORE_HEALTHCHECK, ManagedResource, ResourceHealth, aggregate};
pub use pod::IGNORE_RESTART_POLICY;
pub use registry::{BUILTIN, HealthCheck, lookup};
pub use status::{Health, HealthStatus};

use serde_json::Value;

/// The health of one live object, or `None` when bosun has no health check for its kind
/// (ConfigMap, Secret, Namespace, a custom resource without status conventions…). As in Argo CD,
/// a kind without a check has no health at all rather than an assumed Healthy, and it does not
/// count towards an Application's health.
///
/// The check is, in order: a Lua check the user configured for the kind ([`custom`]), bosun's
/// built-in check for it, and for a custom resource its `Ready`/`Stalled` conditions or
/// `status.phase` ([`generic`]).
///
/// An object being deleted is Progressing ("Pending deletion") whatever its kind, unless it
/// carries Argo CD's hook finalizer: then it is a finished hook waiting for its result to be
/// read, and its status still says how it ended.
pub fn assess(object: &Value) -> Option<Health> {
    if object::at(object, &["metadata", "deletionTimestamp"]).is_some()
        && !bosun_model::argo::has_hook_finalizer(object)
    {
        return Some(Health::progressing("Pending deletion"));
    }
    let (group, kind) = (object::group(object), object::kind(object));
    if let Some(custom) = custom::installed()
        && let Some(check) = custom.check_for(group, kind)
    {
        return Some(check.assess(object));
    }
    match lookup(group, kind) {
        Some(check) => Some(check.run(object)),
        None => generic::custom_resource(object, group),
    }
}
