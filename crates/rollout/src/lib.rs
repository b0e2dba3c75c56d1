//! Progressive delivery: bosun drives Argo Rollouts' `Rollout` itself.
//!
//! - [`decide`]: what a Rollout needs next (canary steps, blue-green promotion, abort), a pure
//!   function of its spec, its status, its ReplicaSets and the time;
//! - [`controller`]: the reconciler on bosun's runtime that reads Rollouts and ReplicaSets
//!   from per-cluster watch caches and carries a decision out;
//! - [`config`]: the ConfigMaps and Secrets a pod template references, part of its revision
//!   (in the hash, and copied for each revision's ReplicaSet); [`config_cache`] watches their
//!   digests;
//! - [`actions`]: promote, abort, retry, pause, undo, restart, as the patches Argo's plugin writes;
//! - [`restart`]: `spec.restartAt`, pods recreated a few at a time;
//! - [`workload`]: `spec.workloadRef`, the pod template taken from a Deployment;
//! - [`crds`]: the `argoproj.io` CRDs, installed where missing.

pub mod actions;
pub mod config;
mod config_cache;
pub mod controller;
pub mod crds;
pub mod decide;
// Argo's replica arithmetic, ported whole with its tests; the traffic-routed half waits for
// the traffic routers (docs/rollouts.md).
#[allow(dead_code)]
mod replicas;
pub mod restart;
pub mod revision;
pub mod routers;
mod workload;

pub use actions::{RolloutAction, Target};
pub use controller::{RolloutController, RolloutError, RolloutEvent, RolloutKey};
