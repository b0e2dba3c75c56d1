//! `bosun serve`'s controller: keeps every Application equal to Git, continuously.
//!
//! - [`automation`]: what an automated Application's policy calls for (pure, Argo CD's rules).
//! - [`catalog`]: which Applications are managed (files, app-of-apps from Git, or objects).
//! - [`app_objects`]: Applications as Kubernetes objects in a namespace (CRD, watch, status
//!   write-back, the resources finalizer).
//! - `argocd_cm`: Argo CD's `argocd-cm` ConfigMap beside them (its Lua health checks).
//! - [`controller`]: the reconcile loop — refresh, auto-sync, self-heal, manual sync, rollback —
//!   over the engine's one implementation of each stage.
//! - [`status`]: the Application status in Argo CD's shape.
//! - [`tree`]: the resource tree (managed resources and what their controllers created).
//! - [`inspect`]: one object of the tree — its live manifest (masked), Events and Pod logs.
//! - [`polling`]: when an Application is compared again without a trigger (`0s`: never).
//! - [`metrics`]: Prometheus metrics.
//! - [`repo_match`]: which Applications a Git push concerns.

mod app_objects;
mod argocd_cm;
pub mod automation;
pub mod catalog;
pub mod controller;
pub mod inspect;
pub mod metrics;
pub mod polling;
pub mod repo_match;
pub mod revert;
pub mod status;
pub mod tree;

pub use controller::{
    AppEvent, Controller, ControllerError, ControllerSettings, ObjectWrite, OperationRequest,
};
