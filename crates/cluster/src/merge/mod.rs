//! Merge semantics of the Kubernetes API: strategic merge patch and server-side apply.
