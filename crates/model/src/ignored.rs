//! Fields of an Application that bosun accepts, because Argo CD users have them, but does not act
//! on. The CLI prints them as warnings so nobody believes a setting took effect when it did not.

use std::fmt;

use crate::application::{Application, ApplicationSource};
use crate::sync_options::{DeletionMode, SyncOption};

/// A field that is set in an Application and that bosun does not act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredField {
    /// Field path, such as `spec.source.helm.skipCrds`.
    pub path: String,
    /// Why it is ignored.
    pub reason: &'static str,
}

impl fmt::Display for IgnoredField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ignored ({})", self.path, self.reason)
    }
}

const SERVER_SET: &str = "set by the Kubernetes API server";
const ARGO_CONTROLLER: &str = "Argo CD controller state; bosun keeps its own";
const NOT_SUPPORTED: &str = "not supported by bosun";
const NOT_YET: &str = "not acted on by bosun yet";

impl Application {
    /// The fields set in this Application that bosun does not act on, in document order.
    pub fn ignored_fields(&self) -> Vec<IgnoredField> {
        let mut found = Fields::default();
        let meta = &self.metadata;
        found.check(
            "metadata.generateName",
            meta.generate_name.is_some(),
            NOT_SUPPORTED,
        );
        for (name, set) in [
            ("uid", meta.uid.is_some()),
            ("resourceVersion", meta.resource_version.is_some()),
            ("generation", meta.generation.is_some()),
            ("creationTimestamp", meta.creation_timestamp.is_some()),
            ("deletionTimestamp", meta.deletion_timestamp.is_some()),
            (
                "deletionGracePeriodSeconds",
                meta.deletion_grace_period_seconds.is_some(),
            ),
            ("selfLink", meta.self_link.is_some()),
            ("ownerReferences", meta.owner_references.is_some()),
            ("managedFields", meta.managed_fields.is_some()),
        ] {
            found.check(&format!("metadata.{name}"), set, SERVER_SET);
        }
        let spec = &self.spec;
        found.check(
            "spec.project",
            // The `default` project allows everything, which is what bosun does.
            spec.project
                .as_deref()
                .is_some_and(|p| !p.is_empty() && p != "default"),
            "bosun has no AppProjects; every destination and source is allowed",
        );
        if let Some(source) = &spec.source {
            source_fields(&mut found, "spec.source", source);
        }
        for (i, source) in spec.sources.iter().enumerate() {
            source_fields(&mut found, &format!("spec.sources[{i}]"), source);
        }
        if let Some(policy) = &spec.sync_policy {
            for (i, text) in policy.sync_options.iter().enumerate() {
                // A malformed option is a validation error, reported there.
                if let Some(reason) = text.parse().ok().and_then(unheeded) {
                    found.check(&format!("spec.syncPolicy.syncOptions[{i}]"), true, reason);
                }
            }
            found.check(
                "spec.syncPolicy.managedNamespaceMetadata",
                policy.managed_namespace_metadata.is_some(),
                NOT_YET,
            );
            if let Some(retry) = &policy.retry {
                found.check(
                    "spec.syncPolicy.retry.refresh",
                    retry.refresh.is_some(),
                    NOT_YET,
                );
            }
        }
        found.check(
            "spec.info",
            !spec.info.is_empty(),
            "shown only in Argo CD's UI",
        );
        found.check(
            "spec.sourceHydrator",
            spec.source_hydrator.is_some(),
            NOT_SUPPORTED,
        );
        found.check("status", self.status.is_some(), ARGO_CONTROLLER);
        found.check("operation", self.operation.is_some(), ARGO_CONTROLLER);
        found.0
    }
}

/// Why a sync option asks for something bosun does not do, or `None` when bosun does what it says
/// (acts on it, or always behaves that way). The engine reads only the other options' typed fields
/// (crates/apply, crates/plan); every arm here is one it never reads. The match is exhaustive so
/// that a new option needs a decision. Only the Application's `syncOptions` are seen here: the
/// same option in a resource's `argocd.argoproj.io/sync-options` annotation is ignored likewise,
/// unreported.
fn unheeded(option: SyncOption) -> Option<&'static str> {
    match option {
        SyncOption::CreateNamespace(_)
        | SyncOption::PruneLast(_)
        | SyncOption::Replace(_)
        | SyncOption::ApplyOutOfSyncOnly(_)
        | SyncOption::PrunePropagationPolicy(_)
        | SyncOption::Prune(_) => None,
        // Never read; `true` is what bosun always does.
        SyncOption::ServerSideApply(true) => None,
        SyncOption::ServerSideApply(false) => Some(
            "`ServerSideApply=false`: bosun has no client-side apply; it always applies \
             server-side (or replaces, with `Replace=true`)",
        ),
        // `Delete=` is read from a resource's own sync-options annotation by the cascading
        // delete of an Application object, as in Argo CD; in the Application's `syncOptions` it
        // changes nothing. `Delete=false` there is the default behaviour's wording and is not
        // reported (docs/applications.md).
        SyncOption::Delete(DeletionMode::Skip) => None,
        SyncOption::Delete(DeletionMode::Allow) => Some(
            "`Delete=true`: read only from a resource's `argocd.argoproj.io/sync-options` \
             annotation when an Application is deleted with cascade",
        ),
        SyncOption::Delete(DeletionMode::Confirm) => Some(
            "`Delete=confirm`: read only from a resource's `argocd.argoproj.io/sync-options` \
             annotation when an Application is deleted with cascade",
        ),
        SyncOption::Validate(true) => None,
        SyncOption::Validate(false) => Some(
            "`Validate=false`: bosun's applies and dry runs carry no `fieldValidation` \
             parameter, so the API server validates them by its own default either way",
        ),
        SyncOption::SkipDryRunOnMissingResource(false) => None,
        SyncOption::SkipDryRunOnMissingResource(true) => Some(
            "`SkipDryRunOnMissingResource=true`: bosun skips the dry run only for a custom \
             resource whose CRD the Application itself renders; any other kind the cluster does \
             not serve fails the plan",
        ),
        SyncOption::FailOnSharedResource(_) => None,
        SyncOption::RespectIgnoreDifferences(false) => None,
        SyncOption::RespectIgnoreDifferences(true) => Some(
            "`RespectIgnoreDifferences=true`: ignoreDifferences only affects the comparison; \
             a sync applies the ignored fields as rendered",
        ),
        SyncOption::Force(_) => None,
        SyncOption::ClientSideApplyMigration(false) => None,
        SyncOption::ClientSideApplyMigration(true) => Some(
            "`ClientSideApplyMigration=true`: bosun does not move fields owned by a \
             client-side-apply manager to its own field manager",
        ),
    }
}

fn source_fields(found: &mut Fields, at: &str, source: &ApplicationSource) {
    if let Some(helm) = &source.helm {
        for (name, set) in [
            ("fileParameters", !helm.file_parameters.is_empty()),
            ("version", helm.version.is_some()),
            ("passCredentials", helm.pass_credentials.is_some()),
        ] {
            found.check(&format!("{at}.helm.{name}"), set, NOT_YET);
        }
    }
    if let Some(kustomize) = &source.kustomize {
        for (name, set) in [
            ("version", kustomize.version.is_some()),
            ("forceCommonLabels", kustomize.force_common_labels.is_some()),
            (
                "forceCommonAnnotations",
                kustomize.force_common_annotations.is_some(),
            ),
            (
                "commonAnnotationsEnvsubst",
                kustomize.common_annotations_envsubst.is_some(),
            ),
            (
                "labelWithoutSelector",
                kustomize.label_without_selector.is_some(),
            ),
            ("replicas", kustomize.replicas.is_some()),
            ("patches", kustomize.patches.is_some()),
            ("components", !kustomize.components.is_empty()),
            (
                "ignoreMissingComponents",
                kustomize.ignore_missing_components.is_some(),
            ),
            ("kubeVersion", kustomize.kube_version.is_some()),
            ("apiVersions", !kustomize.api_versions.is_empty()),
        ] {
            found.check(&format!("{at}.kustomize.{name}"), set, NOT_YET);
        }
    }
}

#[derive(Default)]
struct Fields(Vec<IgnoredField>);

impl Fields {
    fn check(&mut self, path: &str, set: bool, reason: &'static str) {
        if set {
            self.0.push(IgnoredField {
                path: path.to_string(),
                reason,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::load::parse_applications;

    fn with_sync_options(options: &[&str]) -> crate::application::Application {
        let text = format!(
            "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: app
spec:
  source:
    repoURL: https://github.com/org/repo.git
    path: k8s
  destination:
    name: in-cluster
  syncPolicy:
    syncOptions: [{}]
",
            options.join(", ")
        );
        parse_applications(&text, "app.yaml").unwrap().remove(0)
    }

    #[test]
    fn reports_the_sync_options_the_engine_does_not_act_on() {
        let app = with_sync_options(&[
            "CreateNamespace=true",
            "ServerSideApply=false",
            "Validate=false",
            "SkipDryRunOnMissingResource=true",
            "FailOnSharedResource=true",
            "RespectIgnoreDifferences=true",
            "Force=true",
            "ClientSideApplyMigration=true",
            "Delete=true",
            "PruneLast=true",
        ]);
        let reported: Vec<String> = app
            .ignored_fields()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            reported,
            [
                "spec.syncPolicy.syncOptions[1]: ignored (`ServerSideApply=false`: bosun has no \
                 client-side apply; it always applies server-side (or replaces, with \
                 `Replace=true`))",
                "spec.syncPolicy.syncOptions[2]: ignored (`Validate=false`: bosun's applies and \
                 dry runs carry no `fieldValidation` parameter, so the API server validates them \
                 by its own default either way)",
                "spec.syncPolicy.syncOptions[3]: ignored (`SkipDryRunOnMissingResource=true`: \
                 bosun skips the dry run only for a custom resource whose CRD the Application \
                 itself renders; any other kind the cluster does not serve fails the plan)",
                "spec.syncPolicy.syncOptions[5]: ignored (`RespectIgnoreDifferences=true`: \
                 ignoreDifferences only affects the comparison; a sync applies the ignored fields \
                 as rendered)",
                "spec.syncPolicy.syncOptions[7]: ignored (`ClientSideApplyMigration=true`: bosun \
                 does not move fields owned by a client-side-apply manager to its own field \
                 manager)",
                "spec.syncPolicy.syncOptions[8]: ignored (`Delete=true`: read only from a \
                 resource's `argocd.argoproj.io/sync-options` annotation when an Application is \
                 deleted with cascade)",
            ]
        );
        let confirm = with_sync_options(&["Delete=confirm"]).ignored_fields();
        assert_eq!(confirm.len(), 1);
        assert_eq!(confirm[0].path, "spec.syncPolicy.syncOptions[0]");
        assert!(confirm[0].reason.starts_with("`Delete=confirm`: "));
    }

    #[test]
    fn sync_options_bosun_acts_on_or_always_follows_are_not_reported() {
        // Acted on by the engine, or what bosun does anyway (server-side apply, keeping resources
        // when the Application is deleted, no client-side-apply migration, ...).
        let app = with_sync_options(&[
            "CreateNamespace=true",
            "PruneLast=true",
            "ServerSideApply=true",
            "Replace=true",
            "ApplyOutOfSyncOnly=true",
            "PrunePropagationPolicy=background",
            "Prune=false",
            "Delete=false",
            "Validate=true",
            "SkipDryRunOnMissingResource=false",
            "FailOnSharedResource=false",
            "RespectIgnoreDifferences=false",
            "Force=false",
            "ClientSideApplyMigration=false",
        ]);
        assert_eq!(app.ignored_fields(), []);
    }

    #[test]
    fn lists_the_fields_bosun_does_not_act_on() {
        let text = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: app
  uid: 0b6b7f9e-4a55-4d4e-9d6a-1f0c2c7d0f11
  resourceVersion: '123'
  generation: 4
  creationTimestamp: '2026-01-01T00:00:00Z'
spec:
  project: team-a
  sources:
  - repoURL: https://charts.example.com
    chart: nginx
    targetRevision: 1.2.3
    helm:
      skipCrds: true
      passCredentials: false
      ignoreMissingValueFiles: true
      version: v3
      fileParameters:
      - name: config
        path: files/config.json
  - repoURL: https://github.com/org/repo.git
    path: k8s
    kustomize:
      commonAnnotationsEnvsubst: true
      forceCommonLabels: true
      replicas:
      - name: web
        count: 3
      patches:
      - target: {kind: Deployment}
        patch: '[]'
      components: [../c]
  - repoURL: https://github.com/org/repo.git
    path: jsonnet
    directory:
      jsonnet:
        tlas:
        - name: a
          value: b
  - repoURL: https://github.com/org/repo.git
    path: plugin
    plugin:
      name: cmp
      env: [{name: A, value: b}]
  destination:
    name: in-cluster
  syncPolicy:
    managedNamespaceMetadata:
      labels: {team: a}
  info:
  - name: docs
    value: https://example.com
status:
  sync: {status: Synced}
operation:
  sync: {revision: abc}
";
        let apps = parse_applications(text, "all.yaml").unwrap();
        let paths: Vec<String> = apps[0]
            .ignored_fields()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(
            paths,
            [
                "metadata.uid",
                "metadata.resourceVersion",
                "metadata.generation",
                "metadata.creationTimestamp",
                "spec.project",
                "spec.sources[0].helm.fileParameters",
                "spec.sources[0].helm.version",
                "spec.sources[0].helm.passCredentials",
                "spec.sources[1].kustomize.forceCommonLabels",
                "spec.sources[1].kustomize.commonAnnotationsEnvsubst",
                "spec.sources[1].kustomize.replicas",
                "spec.sources[1].kustomize.patches",
                "spec.sources[1].kustomize.components",
                "spec.syncPolicy.managedNamespaceMetadata",
                "spec.info",
                "status",
                "operation",
            ]
        );
        assert_eq!(
            apps[0].ignored_fields()[4].to_string(),
            "spec.project: ignored (bosun has no AppProjects; every destination and source is allowed)"
        );
    }
}
