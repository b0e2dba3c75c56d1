//! The Argo CD vocabulary, one table: for each annotated manifest, what the sync does with it
//! (resource, hook with its types and delete policies, or skipped) and its wave. The expected
//! answers are gitops-engine's (`pkg/sync/hook`, `pkg/sync/hook/helm`, `pkg/sync/syncwaves`).

use bosun_model::argo::{
    self, AnnotationError, CompareOptions, DeletePolicy, Hook, HookType, Role,
};
use bosun_model::{DeletionMode, SyncOptions};
use serde_json::{Value, json};

use DeletePolicy::{BeforeHookCreation, HookFailed, HookSucceeded};
use HookType::*;

fn manifest(annotations: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "x", "annotations": annotations}})
}

fn hook(types: &[HookType], policies: &[DeletePolicy]) -> Role {
    Role::Hook(Hook {
        types: types.to_vec(),
        delete_policies: policies.to_vec(),
    })
}

const DEFAULT: &[DeletePolicy] = &[BeforeHookCreation];

#[test]
fn every_case() {
    #[rustfmt::skip]
    let table: Vec<(&str, Value, Role, Result<i64, &str>)> = vec![
        // Normal resources.
        ("no annotations", json!({}), Role::Resource, Ok(0)),
        ("sync-wave", json!({"argocd.argoproj.io/sync-wave": "-2"}), Role::Resource, Ok(-2)),
        ("sync-wave with spaces", json!({"argocd.argoproj.io/sync-wave": " 3 "}), Role::Resource, Ok(3)),
        // Argo CD hooks.
        ("PreSync", json!({"argocd.argoproj.io/hook": "PreSync"}), hook(&[PreSync], DEFAULT), Ok(0)),
        ("Sync", json!({"argocd.argoproj.io/hook": "Sync"}), hook(&[Sync], DEFAULT), Ok(0)),
        ("PostSync", json!({"argocd.argoproj.io/hook": "PostSync"}), hook(&[PostSync], DEFAULT), Ok(0)),
        ("SyncFail", json!({"argocd.argoproj.io/hook": "SyncFail"}), hook(&[SyncFail], DEFAULT), Ok(0)),
        ("PreDelete", json!({"argocd.argoproj.io/hook": "PreDelete"}), hook(&[PreDelete], DEFAULT), Ok(0)),
        ("PostDelete", json!({"argocd.argoproj.io/hook": "PostDelete"}), hook(&[PostDelete], DEFAULT), Ok(0)),
        ("several hook types", json!({"argocd.argoproj.io/hook": "PreSync, PostSync,PreSync"}),
            hook(&[PreSync, PostSync], DEFAULT), Ok(0)),
        ("unknown hook words are ignored", json!({"argocd.argoproj.io/hook": "Presync,Sync"}),
            hook(&[Sync], DEFAULT), Ok(0)),
        ("an Argo hook of unknown words is still a hook, of no phase",
            json!({"argocd.argoproj.io/hook": "Later"}), hook(&[], DEFAULT), Ok(0)),
        ("hook with a wave", json!({"argocd.argoproj.io/hook": "PostSync", "argocd.argoproj.io/sync-wave": "7"}),
            hook(&[PostSync], DEFAULT), Ok(7)),
        // Skip.
        ("Skip", json!({"argocd.argoproj.io/hook": "Skip"}), Role::Skipped, Ok(0)),
        ("Skip twice is still only Skip", json!({"argocd.argoproj.io/hook": "Skip,Skip"}), Role::Skipped, Ok(0)),
        ("Skip with another type is a hook", json!({"argocd.argoproj.io/hook": "Skip,PreSync"}),
            hook(&[Skip, PreSync], DEFAULT), Ok(0)),
        // Helm hooks and their mapping.
        ("helm pre-install", json!({"helm.sh/hook": "pre-install"}), hook(&[PreSync], DEFAULT), Ok(0)),
        ("helm pre-upgrade", json!({"helm.sh/hook": "pre-upgrade"}), hook(&[PreSync], DEFAULT), Ok(0)),
        ("helm post-install", json!({"helm.sh/hook": "post-install"}), hook(&[PostSync], DEFAULT), Ok(0)),
        ("helm post-upgrade", json!({"helm.sh/hook": "post-upgrade"}), hook(&[PostSync], DEFAULT), Ok(0)),
        ("helm pre-delete", json!({"helm.sh/hook": "pre-delete"}), hook(&[PreDelete], DEFAULT), Ok(0)),
        ("helm post-delete", json!({"helm.sh/hook": "post-delete"}), hook(&[PostDelete], DEFAULT), Ok(0)),
        ("helm install and upgrade are one PreSync", json!({"helm.sh/hook": "pre-install,pre-upgrade"}),
            hook(&[PreSync], DEFAULT), Ok(0)),
        ("helm pre and post", json!({"helm.sh/hook": "pre-install,post-install,pre-upgrade"}),
            hook(&[PreSync, PostSync], DEFAULT), Ok(0)),
        ("helm test is a hook of no phase", json!({"helm.sh/hook": "test"}), hook(&[], DEFAULT), Ok(0)),
        ("helm pre-rollback is a hook of no phase", json!({"helm.sh/hook": "pre-rollback"}), hook(&[], DEFAULT), Ok(0)),
        // crd-install: not a hook, applied as a normal resource.
        ("helm crd-install", json!({"helm.sh/hook": "crd-install"}), Role::Resource, Ok(0)),
        ("helm crd-install with a weight", json!({"helm.sh/hook": "crd-install", "helm.sh/hook-weight": "-5"}),
            Role::Resource, Ok(-5)),
        ("crd-install next to a hook kind is a hook", json!({"helm.sh/hook": "crd-install,pre-install"}),
            hook(&[PreSync], DEFAULT), Ok(0)),
        // An Argo hook annotation wins over Helm's.
        ("Argo hook ignores Helm's types", json!({"argocd.argoproj.io/hook": "Sync", "helm.sh/hook": "pre-install"}),
            hook(&[Sync], DEFAULT), Ok(0)),
        ("Argo Skip ignores Helm's hook", json!({"argocd.argoproj.io/hook": "Skip", "helm.sh/hook": "pre-install"}),
            Role::Skipped, Ok(0)),
        ("Argo hook of unknown words takes Helm's types",
            json!({"argocd.argoproj.io/hook": "Later", "helm.sh/hook": "post-install"}), hook(&[PostSync], DEFAULT), Ok(0)),
        ("Argo hook makes a crd-install object a hook",
            json!({"argocd.argoproj.io/hook": "PreSync", "helm.sh/hook": "crd-install"}), hook(&[PreSync], DEFAULT), Ok(0)),
        // Waves: sync-wave, else hook-weight, else 0; values that are not integers are errors.
        ("hook-weight is the wave", json!({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "-1"}),
            hook(&[PreSync], DEFAULT), Ok(-1)),
        ("sync-wave overrides hook-weight",
            json!({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "5", "argocd.argoproj.io/sync-wave": "2"}),
            hook(&[PreSync], DEFAULT), Ok(2)),
        ("bad sync-wave", json!({"argocd.argoproj.io/sync-wave": "soon"}), Role::Resource,
            Err("argocd.argoproj.io/sync-wave: `soon` is not an integer")),
        ("bad hook-weight", json!({"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "1.5"}),
            hook(&[PreSync], DEFAULT), Err("helm.sh/hook-weight: `1.5` is not an integer")),
        ("a bad sync-wave is not replaced by the hook-weight",
            json!({"argocd.argoproj.io/sync-wave": "", "helm.sh/hook-weight": "4"}), Role::Resource,
            Err("argocd.argoproj.io/sync-wave: `` is not an integer")),
        // Delete policies: Argo's and Helm's together, BeforeHookCreation by default.
        ("Argo delete policies",
            json!({"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded, HookFailed"}),
            hook(&[PreSync], &[HookSucceeded, HookFailed]), Ok(0)),
        ("Argo BeforeHookCreation",
            json!({"argocd.argoproj.io/hook": "Sync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}),
            hook(&[Sync], &[BeforeHookCreation]), Ok(0)),
        ("Helm delete policies map to Argo's",
            json!({"helm.sh/hook": "post-install", "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded,hook-failed"}),
            hook(&[PostSync], &[BeforeHookCreation, HookSucceeded, HookFailed]), Ok(0)),
        ("Argo and Helm delete policies add up",
            json!({"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded",
                   "helm.sh/hook-delete-policy": "hook-failed,hook-succeeded"}),
            hook(&[PreSync], &[HookSucceeded, HookFailed]), Ok(0)),
        ("each annotation has its own spelling",
            json!({"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "hook-succeeded",
                   "helm.sh/hook-delete-policy": "HookFailed"}),
            hook(&[PreSync], DEFAULT), Ok(0)),
        ("unknown policies leave the default", json!({"helm.sh/hook": "pre-install", "helm.sh/hook-delete-policy": "never"}),
            hook(&[PreSync], DEFAULT), Ok(0)),
    ];
    for (name, annotations, role, wave) in table {
        let object = manifest(annotations);
        assert_eq!(argo::role(&object), role, "role: {name}");
        assert_eq!(
            argo::is_hook(&object),
            matches!(role, Role::Hook(_)),
            "is_hook: {name}"
        );
        assert_eq!(
            argo::is_skipped(&object),
            role == Role::Skipped,
            "is_skipped: {name}"
        );
        let expected_hook = match &role {
            Role::Hook(hook) => Some(hook.clone()),
            _ => None,
        };
        assert_eq!(argo::hook(&object), expected_hook, "hook: {name}");
        assert_eq!(
            argo::wave(&object).map_err(|e| e.to_string()),
            wave.map_err(str::to_string),
            "wave: {name}"
        );
    }
}

#[test]
fn wave_errors_name_the_annotation_and_the_value() {
    let e = argo::wave(&manifest(json!({"argocd.argoproj.io/sync-wave": "soon"}))).unwrap_err();
    assert_eq!(
        e,
        AnnotationError {
            annotation: argo::SYNC_WAVE,
            value: "soon".into(),
            problem: "`soon` is not an integer".into(),
        }
    );
}

#[test]
fn objects_without_metadata_are_plain_resources() {
    let object = json!({"kind": "ConfigMap"});
    assert_eq!(argo::role(&object), Role::Resource);
    assert_eq!(argo::wave(&object), Ok(0));
    assert_eq!(argo::compare_options(&object), CompareOptions::default());
    assert!(!argo::has_hook_finalizer(&object));
}

#[test]
fn hook_types_print_as_argo_spells_them() {
    for t in [
        PreSync, Sync, PostSync, SyncFail, PostDelete, PreDelete, Skip,
    ] {
        assert_eq!(HookType::parse(t.as_str()), Some(t));
        assert_eq!(t.to_string(), t.as_str());
    }
    assert_eq!(HookType::parse("presync"), None);
}

#[test]
fn sync_options_per_resource_override_the_application() {
    let app = SyncOptions::parse(&["ServerSideApply=true".to_string()]).unwrap();
    assert_eq!(
        argo::sync_options(&manifest(json!({})), &app),
        Ok(app.clone())
    );
    let options = argo::sync_options(
        &manifest(json!({"argocd.argoproj.io/sync-options":
            "Prune=false, Replace=true, ServerSideApply=false, SkipDryRunOnMissingResource=true"})),
        &app,
    )
    .unwrap();
    assert_eq!(options.prune, DeletionMode::Skip);
    assert!(options.replace);
    assert!(!options.server_side_apply);
    assert!(options.skip_dry_run_on_missing_resource);

    let e = argo::sync_options(
        &manifest(json!({"argocd.argoproj.io/sync-options": "Prune=false,Bogus=1"})),
        &app,
    )
    .unwrap_err();
    assert_eq!(e.annotation, argo::SYNC_OPTIONS);
    assert_eq!(e.value, "Prune=false,Bogus=1");
    assert!(
        e.to_string()
            .starts_with("argocd.argoproj.io/sync-options: `Bogus=1`: unknown sync option"),
        "{e}"
    );
}

#[test]
fn compare_options() {
    let ignore = |value: &str| {
        argo::compare_options(&manifest(
            json!({"argocd.argoproj.io/compare-options": value}),
        ))
        .ignore_extraneous
    };
    assert!(ignore("IgnoreExtraneous"));
    assert!(ignore("ServerSideDiff=true, IgnoreExtraneous"));
    assert!(!ignore("ServerSideDiff=true"));
    assert!(!argo::compare_options(&manifest(json!({}))).ignore_extraneous);
}

#[test]
fn hook_finalizer() {
    let mut object = manifest(json!({"argocd.argoproj.io/hook": "PreSync"}));
    assert!(!argo::has_hook_finalizer(&object));
    object["metadata"]["finalizers"] = json!(["other", argo::HOOK_FINALIZER]);
    assert!(argo::has_hook_finalizer(&object));
}
