//! bosun's local cluster: a server that speaks the Kubernetes REST API and simulates workloads
//! the way kwok does. The engine never imports this crate; it reaches it over HTTP through kube-rs,
//! exactly as it reaches a real cluster.

pub mod cli;
pub mod merge;
