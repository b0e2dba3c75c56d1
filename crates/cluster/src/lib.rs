//! bosun's local cluster: a server that speaks the Kubernetes REST API and simulates workloads
//! the way kwok does. The engine never imports this crate; it reaches it over HTTP through kube-rs,
//! exactly as it reaches a real cluster.

pub mod api;
pub mod cli;
mod codec;
pub mod controllers;
pub mod defaults;
pub mod faults;
pub mod field_manager;
pub mod kubeconfig;
pub mod merge;
pub mod objects;
pub mod persist;
pub mod requests;
pub mod resources;
pub mod selectors;
pub mod server;
pub mod status;
pub mod store;
pub mod traffic;
pub mod validate;
