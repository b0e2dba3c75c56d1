//! Argo CD's resource hooks, as far as health is concerned (gitops-engine `pkg/sync/hook`).
//!
//! A hook's own health is assessed like any other object's (the sync stage waits on it), but
//! hooks are left out of an Application's health: they come and go with each sync.

use serde_json::Value;

use crate::object::{annotation, list_at};

pub const HOOK: &str = "argocd.argoproj.io/hook";
pub const HELM_HOOK: &str = "helm.sh/hook";
/// Argo CD puts this finalizer on hooks it still has to read; a hook being deleted with it is
/// not "Pending deletion" but still judged by its status.
pub const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

/// The Argo CD hook types, as `argocd.argoproj.io/hook` spells them; unknown words are ignored.
const HOOK_TYPES: [&str; 7] = [
    "PreSync",
    "Sync",
    "PostSync",
    "SyncFail",
    "Skip",
    "PreDelete",
    "PostDelete",
];

fn argo_hook_types(object: &Value) -> Vec<&str> {
    annotation(object, HOOK)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| HOOK_TYPES.contains(t))
        .collect()
}

/// `argocd.argoproj.io/hook: Skip` and nothing else: the object is not applied at all.
pub fn is_skipped(object: &Value) -> bool {
    argo_hook_types(object) == ["Skip"]
}

/// An Argo CD hook (any `argocd.argoproj.io/hook` value other than a lone Skip), or else a Helm
/// hook other than the `crd-install` kind, which Argo CD applies as a plain resource.
pub fn is_hook(object: &Value) -> bool {
    if annotation(object, HOOK).is_some() {
        return !is_skipped(object);
    }
    annotation(object, HELM_HOOK)
        .is_some_and(|hooks| !hooks.split(',').any(|h| h.trim() == "crd-install"))
}

pub fn has_hook_finalizer(object: &Value) -> bool {
    list_at(object, &["metadata", "finalizers"])
        .iter()
        .any(|f| f.as_str() == Some(HOOK_FINALIZER))
}
