//! Argo CD's per-resource vocabulary, decided once for every stage: which annotation keys mean
//! what, what is a hook (Argo CD's own and Helm's), which objects are skipped, the wave of an
//! object, the delete policies of a hook, and a resource's sync and compare options.
//!
//! The rules are gitops-engine's (`pkg/sync/hook/hook.go`, `pkg/sync/hook/helm/`,
//! `pkg/sync/syncwaves/waves.go`), so that a manifest Argo CD treats as a hook is a hook to
//! bosun's plan, apply and assess alike:
//!
//! - an object with `argocd.argoproj.io/hook` is a hook unless that annotation is exactly `Skip`,
//!   which means the object is not applied at all;
//! - otherwise an object with `helm.sh/hook` is a hook, unless the value is `crd-install`: Helm
//!   calls that a hook, but Argo CD applies such an object as a normal resource;
//! - the hook types are those of `argocd.argoproj.io/hook`; Helm's are read only when that names
//!   none (pre-install/pre-upgrade → PreSync, post-install/post-upgrade → PostSync,
//!   pre-delete → PreDelete, post-delete → PostDelete);
//! - the wave is `argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, else 0;
//! - the delete policies are those of both annotations, and BeforeHookCreation when neither
//!   names one.
//!
//! Pure: manifests come in as JSON, typed answers go out.

use std::fmt;

use serde_json::Value;

use crate::sync_options::SyncOptions;

/// The hook types of an object (comma-separated [`HookType`]s).
pub const HOOK: &str = "argocd.argoproj.io/hook";
/// When a hook is deleted (comma-separated [`DeletePolicy`]s, as Argo CD spells them).
pub const HOOK_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
/// The finalizer Argo CD puts on a hook whose result it still has to read.
pub const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";
/// The wave of an object within its phase: an integer, lower waves first, default 0.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// A resource's own sync options (`Prune=false`, `Replace=true`, ...) over the Application's.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
/// A resource's compare options (`IgnoreExtraneous`).
pub const COMPARE_OPTIONS: &str = "argocd.argoproj.io/compare-options";
/// Helm's hook annotation (comma-separated Helm hook kinds).
pub const HELM_HOOK: &str = "helm.sh/hook";
/// The order of Helm hooks; Argo CD reads it as the wave when there is no sync-wave.
pub const HELM_HOOK_WEIGHT: &str = "helm.sh/hook-weight";
/// Helm's delete policies (`before-hook-creation`, `hook-succeeded`, `hook-failed`).
pub const HELM_HOOK_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";
/// The `helm.sh/hook` value that is not a hook to Argo CD: the object is applied normally.
pub const HELM_CRD_INSTALL: &str = "crd-install";
/// Argo Rollouts' label that tells a Rollout's revisions apart; the controller puts it in the
/// selectors of the Services a Rollout names.
pub const ROLLOUT_POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";
/// Argo Rollouts' annotation on a Service whose selector a Rollout manages.
pub const ROLLOUT_MANAGED_BY: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";

/// An Argo CD hook type, as `argocd.argoproj.io/hook` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookType {
    PreSync,
    Sync,
    PostSync,
    /// Only when the sync fails.
    SyncFail,
    /// After the Application's resources are deleted.
    PostDelete,
    /// Before the Application's resources are deleted.
    PreDelete,
    /// Not applied at all (when it is the object's only hook type).
    Skip,
}

impl HookType {
    /// The Argo CD spelling; the only spelling [`HookType::parse`] accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            HookType::PreSync => "PreSync",
            HookType::Sync => "Sync",
            HookType::PostSync => "PostSync",
            HookType::SyncFail => "SyncFail",
            HookType::PostDelete => "PostDelete",
            HookType::PreDelete => "PreDelete",
            HookType::Skip => "Skip",
        }
    }

    /// An `argocd.argoproj.io/hook` word; `None` for words Argo CD does not know (ignored).
    pub fn parse(word: &str) -> Option<HookType> {
        Some(match word {
            "PreSync" => HookType::PreSync,
            "Sync" => HookType::Sync,
            "PostSync" => HookType::PostSync,
            "SyncFail" => HookType::SyncFail,
            "PostDelete" => HookType::PostDelete,
            "PreDelete" => HookType::PreDelete,
            "Skip" => HookType::Skip,
            _ => return None,
        })
    }

    /// The Argo CD hook type of a `helm.sh/hook` word; `None` for Helm hooks Argo CD does not
    /// run (`test`, `pre-rollback`, `post-rollback`, `crd-install`, ...).
    pub fn from_helm(word: &str) -> Option<HookType> {
        Some(match word {
            "pre-install" | "pre-upgrade" => HookType::PreSync,
            "post-install" | "post-upgrade" => HookType::PostSync,
            "pre-delete" => HookType::PreDelete,
            "post-delete" => HookType::PostDelete,
            _ => return None,
        })
    }
}

impl fmt::Display for HookType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a hook object is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeletePolicy {
    /// Delete the previous instance before creating the hook again (the default).
    BeforeHookCreation,
    /// Delete the hook once it succeeded.
    HookSucceeded,
    /// Delete the hook once it failed.
    HookFailed,
}

impl DeletePolicy {
    /// An `argocd.argoproj.io/hook-delete-policy` word.
    pub fn parse(word: &str) -> Option<DeletePolicy> {
        Some(match word {
            "BeforeHookCreation" => DeletePolicy::BeforeHookCreation,
            "HookSucceeded" => DeletePolicy::HookSucceeded,
            "HookFailed" => DeletePolicy::HookFailed,
            _ => return None,
        })
    }

    /// A `helm.sh/hook-delete-policy` word.
    pub fn from_helm(word: &str) -> Option<DeletePolicy> {
        Some(match word {
            "before-hook-creation" => DeletePolicy::BeforeHookCreation,
            "hook-succeeded" => DeletePolicy::HookSucceeded,
            "hook-failed" => DeletePolicy::HookFailed,
            _ => return None,
        })
    }
}

/// The hook settings of an object that is a hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Its hook types, each once, in the order written. May be empty (a Helm `test` hook, an
    /// unknown word): such a hook runs in no phase, so it is never applied. May hold
    /// [`HookType::Skip`] next to other types (`Skip,PreSync`), which then do run.
    pub types: Vec<HookType>,
    /// Never empty: BeforeHookCreation when no annotation names a policy.
    pub delete_policies: Vec<DeletePolicy>,
}

/// What the sync does with one manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A normal resource: applied in the Sync phase, compared, pruned when it leaves Git.
    Resource,
    /// A hook: run in its phases, not compared, not pruned.
    Hook(Hook),
    /// `argocd.argoproj.io/hook: Skip`: not applied at all, not compared.
    Skipped,
}

impl Role {
    /// A normal resource (neither a hook nor skipped).
    pub fn is_resource(&self) -> bool {
        matches!(self, Role::Resource)
    }
}

/// An annotation whose value cannot be used; says which annotation and which value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{annotation}: {problem}")]
pub struct AnnotationError {
    pub annotation: &'static str,
    pub value: String,
    pub problem: String,
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// The words of a comma-separated annotation, trimmed, each once, in the order written
/// (gitops-engine's `GetAnnotationCSVs` also drops empty words and repeats).
fn words<'a>(object: &'a Value, key: &str) -> Vec<&'a str> {
    let mut words: Vec<&str> = Vec::new();
    for word in annotation(object, key)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

fn dedup<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The object's hook types: those of `argocd.argoproj.io/hook`, or Helm's mapped ones when that
/// names none. Says nothing about whether the object is a hook: see [`role`].
pub fn hook_types(object: &Value) -> Vec<HookType> {
    let argo: Vec<HookType> = words(object, HOOK)
        .into_iter()
        .filter_map(HookType::parse)
        .collect();
    if !argo.is_empty() {
        return argo;
    }
    dedup(
        words(object, HELM_HOOK)
            .into_iter()
            .filter_map(HookType::from_helm),
    )
}

/// `argocd.argoproj.io/hook: Skip` and no other hook type: the object is not applied at all.
pub fn is_skipped(object: &Value) -> bool {
    hook_types(object) == [HookType::Skip]
}

/// A Helm hook to Argo CD: `helm.sh/hook` is set and is not `crd-install`.
fn is_helm_hook(object: &Value) -> bool {
    annotation(object, HELM_HOOK).is_some_and(|value| value.trim() != HELM_CRD_INSTALL)
}

/// Whether the object is a hook: it has `argocd.argoproj.io/hook` (other than a lone `Skip`),
/// or else is a Helm hook other than `crd-install`.
pub fn is_hook(object: &Value) -> bool {
    if annotation(object, HOOK).is_some() {
        return !is_skipped(object);
    }
    is_helm_hook(object)
}

/// The delete policies of a hook: those of `argocd.argoproj.io/hook-delete-policy` and of
/// `helm.sh/hook-delete-policy` together, BeforeHookCreation when neither names one.
pub fn delete_policies(object: &Value) -> Vec<DeletePolicy> {
    let argo = words(object, HOOK_DELETE_POLICY)
        .into_iter()
        .filter_map(DeletePolicy::parse);
    let helm = words(object, HELM_HOOK_DELETE_POLICY)
        .into_iter()
        .filter_map(DeletePolicy::from_helm);
    let policies = dedup(argo.chain(helm));
    if policies.is_empty() {
        vec![DeletePolicy::BeforeHookCreation]
    } else {
        policies
    }
}

/// What the sync does with the object: a normal resource, a hook (its types and delete
/// policies), or skipped.
pub fn role(object: &Value) -> Role {
    if is_skipped(object) {
        Role::Skipped
    } else if is_hook(object) {
        Role::Hook(Hook {
            types: hook_types(object),
            delete_policies: delete_policies(object),
        })
    } else {
        Role::Resource
    }
}

/// The hook settings of the object; `None` when it is a normal resource or skipped.
pub fn hook(object: &Value) -> Option<Hook> {
    match role(object) {
        Role::Hook(hook) => Some(hook),
        Role::Resource | Role::Skipped => None,
    }
}

/// The object's wave: `argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`, else 0.
///
/// As in gitops-engine's `syncwaves.Wave`, the Helm weight is read whenever there is no
/// sync-wave, whether or not the object is a hook (a `crd-install` CRD's weight orders it too).
/// A value that is not an integer is an error naming the annotation; gitops-engine reads it as
/// if it were absent, which callers that keep Argo CD's leniency do with the error.
pub fn wave(object: &Value) -> Result<i64, AnnotationError> {
    for key in [SYNC_WAVE, HELM_HOOK_WEIGHT] {
        if let Some(value) = annotation(object, key) {
            return value.trim().parse().map_err(|_| AnnotationError {
                annotation: key,
                value: value.to_string(),
                problem: format!("`{value}` is not an integer"),
            });
        }
    }
    Ok(0)
}

/// The resource's sync options: `argocd.argoproj.io/sync-options` over `application`'s.
pub fn sync_options(
    object: &Value,
    application: &SyncOptions,
) -> Result<SyncOptions, AnnotationError> {
    match annotation(object, SYNC_OPTIONS) {
        None => Ok(application.clone()),
        Some(value) => application
            .with_annotation(value)
            .map_err(|e| AnnotationError {
                annotation: SYNC_OPTIONS,
                value: value.to_string(),
                problem: e.to_string(),
            }),
    }
}

/// A resource's compare options (`argocd.argoproj.io/compare-options`). Words bosun does not
/// act on are ignored, as Argo CD ignores unknown ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompareOptions {
    /// `IgnoreExtraneous`: a live object Git no longer has does not make the Application out of
    /// sync.
    pub ignore_extraneous: bool,
}

/// The resource's compare options.
pub fn compare_options(object: &Value) -> CompareOptions {
    CompareOptions {
        ignore_extraneous: words(object, COMPARE_OPTIONS).contains(&"IgnoreExtraneous"),
    }
}

/// Whether the object carries Argo CD's hook finalizer.
pub fn has_hook_finalizer(object: &Value) -> bool {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(HOOK_FINALIZER)))
}
