//! Argo CD resource hooks: `argocd.argoproj.io/hook` puts an object in a phase instead of the
//! normal sync, and `argocd.argoproj.io/hook-delete-policy` says when it is deleted.

use serde_json::Value;

pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
pub const DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";
/// Helm's own hook annotation, which Argo CD maps onto its phases.
pub const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";

/// When an object is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
    /// Only when the sync fails.
    SyncFail,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }
}

/// When a hook object is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletePolicy {
    /// Delete the previous instance before creating the hook again (Argo CD's default).
    BeforeHookCreation,
    HookSucceeded,
    HookFailed,
}

/// The hook settings of an object, if it is a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// An object may be a hook of several phases (`PreSync,PostSync`).
    pub phases: Vec<Phase>,
    pub delete_policies: Vec<DeletePolicy>,
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The object's hook settings; `None` for ordinary objects. Argo CD's `Skip` hook type marks an
/// object that is never applied: it is reported as a hook with no phases.
pub fn hook_of(object: &Value) -> Option<Hook> {
    let phases: Vec<Phase> = if let Some(value) = annotation(object, HOOK_ANNOTATION) {
        split(value)
            .filter_map(|p| match p {
                "PreSync" => Some(Phase::PreSync),
                "Sync" => Some(Phase::Sync),
                "PostSync" => Some(Phase::PostSync),
                "SyncFail" => Some(Phase::SyncFail),
                _ => None,
            })
            .collect()
    } else if let Some(value) = annotation(object, HELM_HOOK_ANNOTATION) {
        // Argo CD maps Helm hooks: pre-install/pre-upgrade → PreSync, post-* → PostSync.
        let mut phases: Vec<Phase> = split(value)
            .filter_map(|p| match p {
                "pre-install" | "pre-upgrade" => Some(Phase::PreSync),
                "post-install" | "post-upgrade" => Some(Phase::PostSync),
                _ => None,
            })
            .collect();
        phases.dedup();
        phases
    } else {
        return None;
    };
    let delete_policies = annotation(object, DELETE_POLICY_ANNOTATION)
        .or_else(|| annotation(object, "helm.sh/hook-delete-policy"))
        .map(|v| {
            split(v)
                .filter_map(|p| match p {
                    "BeforeHookCreation" | "before-hook-creation" => {
                        Some(DeletePolicy::BeforeHookCreation)
                    }
                    "HookSucceeded" | "hook-succeeded" => Some(DeletePolicy::HookSucceeded),
                    "HookFailed" | "hook-failed" => Some(DeletePolicy::HookFailed),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| vec![DeletePolicy::BeforeHookCreation]);
    Some(Hook {
        phases,
        delete_policies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(annotations: Value) -> Value {
        json!({"metadata": {"name": "x", "annotations": annotations}})
    }

    // Argo CD: a hook without a delete policy is deleted before it is created again.
    #[test]
    fn presync_hook_defaults_to_before_hook_creation() {
        let hook = hook_of(&with(json!({HOOK_ANNOTATION: "PreSync"}))).unwrap();
        assert_eq!(hook.phases, vec![Phase::PreSync]);
        assert_eq!(hook.delete_policies, vec![DeletePolicy::BeforeHookCreation]);
    }

    #[test]
    fn several_phases_and_policies() {
        let hook = hook_of(&with(json!({HOOK_ANNOTATION: "PreSync, PostSync", DELETE_POLICY_ANNOTATION: "HookSucceeded,HookFailed"}))).unwrap();
        assert_eq!(hook.phases, vec![Phase::PreSync, Phase::PostSync]);
        assert_eq!(
            hook.delete_policies,
            vec![DeletePolicy::HookSucceeded, DeletePolicy::HookFailed]
        );
    }

    // Argo CD maps Helm's pre-install/pre-upgrade to PreSync and post-* to PostSync.
    #[test]
    fn helm_hooks_map_to_phases() {
        let hook = hook_of(&with(
            json!({HELM_HOOK_ANNOTATION: "pre-install,pre-upgrade"}),
        ))
        .unwrap();
        assert_eq!(hook.phases, vec![Phase::PreSync]);
        assert!(hook_of(&with(json!({}))).is_none());
    }
}
