//! The door to a cluster's live objects for the long-running loops: one [`LiveCache`] per
//! cluster holds every object that carries bosun's app label, kept current by kube-runtime
//! watchers (one per resource type, across namespaces, with its backoff and re-list rules), so
//! a refresh reads what an Application owns from memory instead of listing every type, and
//! every change reaches the loops as an event.

mod cache;
pub mod crds;

pub use cache::{Change, LiveCache, NotReady};
