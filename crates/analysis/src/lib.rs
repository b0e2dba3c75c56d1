//! Argo Rollouts' analysis, run by bosun: an AnalysisRun's metrics measured by their providers
//! (Prometheus, web, Job), judged by Argo's expression language, and counted against their
//! limits as Argo does.

pub mod assess;
pub mod condition;
pub mod controller;
pub mod phase;
pub mod providers;
pub mod run;
pub mod template;
mod ttl;
