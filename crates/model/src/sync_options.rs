//! Argo CD sync options (`syncPolicy.syncOptions`, and the per-resource
//! `argocd.argoproj.io/sync-options` annotation): `Key=Value` strings, parsed into typed settings.
//!
//! Argo CD matches these strings exactly and silently ignores anything else; bosun rejects unknown
//! keys and values instead, so `CreateNamespace=True` is an error rather than a no-op.

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

/// How deleting an owner propagates to its dependents (`PrunePropagationPolicy`), as the
/// Kubernetes `propagationPolicy` delete option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// Argo CD's default.
    #[default]
    Foreground,
    Background,
    Orphan,
}

impl PropagationPolicy {
    /// The value of the Kubernetes `DeleteOptions.propagationPolicy` field.
    pub fn as_kubernetes(self) -> &'static str {
        match self {
            PropagationPolicy::Foreground => "Foreground",
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Orphan => "Orphan",
        }
    }
}

/// Whether bosun may delete a resource (`Prune=` when it left Git, `Delete=` when the Application
/// is deleted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionMode {
    /// `true`, the default.
    #[default]
    Allow,
    /// `false`: leave the resource in the cluster.
    Skip,
    /// `confirm`: delete only after a person confirms.
    Confirm,
}

/// One sync option, as written `Key=Value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncOption {
    CreateNamespace(bool),
    PruneLast(bool),
    ServerSideApply(bool),
    Replace(bool),
    ApplyOutOfSyncOnly(bool),
    PrunePropagationPolicy(PropagationPolicy),
    Prune(DeletionMode),
    Delete(DeletionMode),
    Validate(bool),
    SkipDryRunOnMissingResource(bool),
    FailOnSharedResource(bool),
    RespectIgnoreDifferences(bool),
    Force(bool),
    ClientSideApplyMigration(bool),
}

const KNOWN_KEYS: &str = "CreateNamespace, PruneLast, ServerSideApply, Replace, ApplyOutOfSyncOnly, \
PrunePropagationPolicy, Prune, Delete, Validate, SkipDryRunOnMissingResource, FailOnSharedResource, \
RespectIgnoreDifferences, Force, ClientSideApplyMigration";

/// Why a sync option string is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{option}`: {problem}")]
pub struct SyncOptionError {
    pub option: String,
    pub problem: String,
}

impl FromStr for SyncOption {
    type Err = SyncOptionError;

    fn from_str(option: &str) -> Result<Self, Self::Err> {
        let error = |problem: String| SyncOptionError {
            option: option.to_string(),
            problem,
        };
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| error("expected `Key=Value`, such as `CreateNamespace=true`".into()))?;
        let flag = || match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(error("the value must be `true` or `false`".into())),
        };
        let deletion = || match value {
            "true" => Ok(DeletionMode::Allow),
            "false" => Ok(DeletionMode::Skip),
            "confirm" => Ok(DeletionMode::Confirm),
            _ => Err(error(
                "the value must be `true`, `false` or `confirm`".into(),
            )),
        };
        Ok(match key {
            "CreateNamespace" => SyncOption::CreateNamespace(flag()?),
            "PruneLast" => SyncOption::PruneLast(flag()?),
            "ServerSideApply" => SyncOption::ServerSideApply(flag()?),
            "Replace" => SyncOption::Replace(flag()?),
            "ApplyOutOfSyncOnly" => SyncOption::ApplyOutOfSyncOnly(flag()?),
            "PrunePropagationPolicy" => SyncOption::PrunePropagationPolicy(match value {
                "foreground" => PropagationPolicy::Foreground,
                "background" => PropagationPolicy::Background,
                "orphan" => PropagationPolicy::Orphan,
                _ => {
                    return Err(error(
                        "the value must be `foreground`, `background` or `orphan`".into(),
                    ));
                }
            }),
            "Prune" => SyncOption::Prune(deletion()?),
            "Delete" => SyncOption::Delete(deletion()?),
            "Validate" => SyncOption::Validate(flag()?),
            "SkipDryRunOnMissingResource" => SyncOption::SkipDryRunOnMissingResource(flag()?),
            "FailOnSharedResource" => SyncOption::FailOnSharedResource(flag()?),
            "RespectIgnoreDifferences" => SyncOption::RespectIgnoreDifferences(flag()?),
            "Force" => SyncOption::Force(flag()?),
            "ClientSideApplyMigration" => SyncOption::ClientSideApplyMigration(flag()?),
            _ => return Err(error(format!("unknown sync option; known: {KNOWN_KEYS}"))),
        })
    }
}

impl SyncOption {
    fn key(&self) -> &'static str {
        match self {
            SyncOption::CreateNamespace(_) => "CreateNamespace",
            SyncOption::PruneLast(_) => "PruneLast",
            SyncOption::ServerSideApply(_) => "ServerSideApply",
            SyncOption::Replace(_) => "Replace",
            SyncOption::ApplyOutOfSyncOnly(_) => "ApplyOutOfSyncOnly",
            SyncOption::PrunePropagationPolicy(_) => "PrunePropagationPolicy",
            SyncOption::Prune(_) => "Prune",
            SyncOption::Delete(_) => "Delete",
            SyncOption::Validate(_) => "Validate",
            SyncOption::SkipDryRunOnMissingResource(_) => "SkipDryRunOnMissingResource",
            SyncOption::FailOnSharedResource(_) => "FailOnSharedResource",
            SyncOption::RespectIgnoreDifferences(_) => "RespectIgnoreDifferences",
            SyncOption::Force(_) => "Force",
            SyncOption::ClientSideApplyMigration(_) => "ClientSideApplyMigration",
        }
    }
}

impl fmt::Display for SyncOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let deletion = |mode: &DeletionMode| match mode {
            DeletionMode::Allow => "true",
            DeletionMode::Skip => "false",
            DeletionMode::Confirm => "confirm",
        };
        let value = match self {
            SyncOption::CreateNamespace(b)
            | SyncOption::PruneLast(b)
            | SyncOption::ServerSideApply(b)
            | SyncOption::Replace(b)
            | SyncOption::ApplyOutOfSyncOnly(b)
            | SyncOption::Validate(b)
            | SyncOption::SkipDryRunOnMissingResource(b)
            | SyncOption::FailOnSharedResource(b)
            | SyncOption::RespectIgnoreDifferences(b)
            | SyncOption::Force(b)
            | SyncOption::ClientSideApplyMigration(b) => {
                if *b {
                    "true"
                } else {
                    "false"
                }
            }
            SyncOption::PrunePropagationPolicy(p) => match p {
                PropagationPolicy::Foreground => "foreground",
                PropagationPolicy::Background => "background",
                PropagationPolicy::Orphan => "orphan",
            },
            SyncOption::Prune(mode) | SyncOption::Delete(mode) => deletion(mode),
        };
        write!(f, "{}={value}", self.key())
    }
}

/// The sync options of an Application (or of one resource), with Argo CD's defaults for the ones
/// not given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncOptions {
    pub create_namespace: bool,
    pub prune_last: bool,
    pub server_side_apply: bool,
    pub replace: bool,
    pub apply_out_of_sync_only: bool,
    pub prune_propagation: PropagationPolicy,
    pub prune: DeletionMode,
    pub delete: DeletionMode,
    /// `Validate=false`: Argo CD turns off kubectl's schema validation. Parsed and reported as not
    /// acted on (`ignored.rs`): bosun sends no `fieldValidation`, so the API server's default holds.
    pub validate: bool,
    pub skip_dry_run_on_missing_resource: bool,
    pub fail_on_shared_resource: bool,
    pub respect_ignore_differences: bool,
    pub force: bool,
    /// Argo CD moves fields owned by a client-side-apply manager to the server-side-apply manager
    /// unless this is `false`; on by default.
    pub client_side_apply_migration: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            create_namespace: false,
            prune_last: false,
            server_side_apply: false,
            replace: false,
            apply_out_of_sync_only: false,
            prune_propagation: PropagationPolicy::default(),
            prune: DeletionMode::default(),
            delete: DeletionMode::default(),
            validate: true,
            skip_dry_run_on_missing_resource: false,
            fail_on_shared_resource: false,
            respect_ignore_differences: false,
            force: false,
            client_side_apply_migration: true,
        }
    }
}

impl SyncOptions {
    /// Parses `syncPolicy.syncOptions`. An error's path is `syncOptions[i]`, relative to the sync
    /// policy. Giving one key twice with different values is an error; a repeat is not.
    pub fn parse(options: &[String]) -> Result<SyncOptions, ModelError> {
        let mut parsed = SyncOptions::default();
        let mut seen: Vec<SyncOption> = Vec::new();
        for (i, text) in options.iter().enumerate() {
            let path = || format!("syncOptions[{i}]");
            let option: SyncOption = text
                .parse()
                .map_err(|e: SyncOptionError| ModelError::invalid(path(), e.to_string()))?;
            if let Some(earlier) = seen
                .iter()
                .find(|o| o.key() == option.key() && **o != option)
            {
                return Err(ModelError::invalid(
                    path(),
                    format!("`{option}` contradicts `{earlier}` given before it"),
                ));
            }
            seen.push(option);
            parsed.set(option);
        }
        Ok(parsed)
    }

    /// Parses the `argocd.argoproj.io/sync-options` annotation of a resource (comma-separated
    /// options) on top of `self`, the Application's options: the annotation wins.
    pub fn with_annotation(&self, annotation: &str) -> Result<SyncOptions, SyncOptionError> {
        let mut options = self.clone();
        for text in annotation
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            options.set(text.parse()?);
        }
        Ok(options)
    }

    /// Sets one option.
    pub fn set(&mut self, option: SyncOption) {
        match option {
            SyncOption::CreateNamespace(b) => self.create_namespace = b,
            SyncOption::PruneLast(b) => self.prune_last = b,
            SyncOption::ServerSideApply(b) => self.server_side_apply = b,
            SyncOption::Replace(b) => self.replace = b,
            SyncOption::ApplyOutOfSyncOnly(b) => self.apply_out_of_sync_only = b,
            SyncOption::PrunePropagationPolicy(p) => self.prune_propagation = p,
            SyncOption::Prune(mode) => self.prune = mode,
            SyncOption::Delete(mode) => self.delete = mode,
            SyncOption::Validate(b) => self.validate = b,
            SyncOption::SkipDryRunOnMissingResource(b) => self.skip_dry_run_on_missing_resource = b,
            SyncOption::FailOnSharedResource(b) => self.fail_on_shared_resource = b,
            SyncOption::RespectIgnoreDifferences(b) => self.respect_ignore_differences = b,
            SyncOption::Force(b) => self.force = b,
            SyncOption::ClientSideApplyMigration(b) => self.client_side_apply_migration = b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> Result<SyncOptions, ModelError> {
        SyncOptions::parse(&options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_are_argo_cds() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.prune_propagation, PropagationPolicy::Foreground);
        assert!(options.validate);
        assert_eq!(options.prune, DeletionMode::Allow);
        assert!(!options.create_namespace);
    }

    #[test]
    fn parses_every_known_option() {
        let options = parse(&[
            "CreateNamespace=true",
            "PruneLast=true",
            "ServerSideApply=true",
            "Replace=true",
            "ApplyOutOfSyncOnly=true",
            "PrunePropagationPolicy=background",
            "Prune=confirm",
            "Delete=false",
            "Validate=false",
            "SkipDryRunOnMissingResource=true",
            "FailOnSharedResource=true",
            "RespectIgnoreDifferences=true",
            "Force=true",
            "ClientSideApplyMigration=false",
        ])
        .unwrap();
        assert_eq!(
            options,
            SyncOptions {
                create_namespace: true,
                prune_last: true,
                server_side_apply: true,
                replace: true,
                apply_out_of_sync_only: true,
                prune_propagation: PropagationPolicy::Background,
                prune: DeletionMode::Confirm,
                delete: DeletionMode::Skip,
                validate: false,
                skip_dry_run_on_missing_resource: true,
                fail_on_shared_resource: true,
                respect_ignore_differences: true,
                force: true,
                client_side_apply_migration: false,
            }
        );
        assert_eq!(
            parse(&["PrunePropagationPolicy=orphan"])
                .unwrap()
                .prune_propagation,
            PropagationPolicy::Orphan
        );
    }

    #[test]
    fn options_print_as_written() {
        for text in [
            "CreateNamespace=true",
            "PrunePropagationPolicy=orphan",
            "Delete=confirm",
        ] {
            assert_eq!(text.parse::<SyncOption>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_options_name_the_entry() {
        let e = parse(&["CreateNamespace=true", "CreateNamespce=true"]).unwrap_err();
        assert_eq!(e.path, "syncOptions[1]");
        assert!(
            e.message
                .starts_with("`CreateNamespce=true`: unknown sync option; known: CreateNamespace,")
        );
        assert_eq!(
            parse(&["PruneLast"]).unwrap_err().message,
            "`PruneLast`: expected `Key=Value`, such as `CreateNamespace=true`"
        );
        assert_eq!(
            parse(&["CreateNamespace=True"]).unwrap_err().message,
            "`CreateNamespace=True`: the value must be `true` or `false`"
        );
        assert_eq!(
            parse(&["PrunePropagationPolicy=Foreground"])
                .unwrap_err()
                .message,
            "`PrunePropagationPolicy=Foreground`: the value must be `foreground`, `background` or `orphan`"
        );
        assert!(parse(&["Prune=maybe"]).is_err());
    }

    #[test]
    fn contradictions_are_errors_repeats_are_not() {
        assert!(parse(&["CreateNamespace=true", "CreateNamespace=true"]).is_ok());
        let e = parse(&["Prune=false", "Prune=true"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "syncOptions[1]: `Prune=true` contradicts `Prune=false` given before it"
        );
    }

    #[test]
    fn the_annotation_overrides_the_application() {
        let app = parse(&["ServerSideApply=true"]).unwrap();
        let resource = app
            .with_annotation("Prune=false, ServerSideApply=false")
            .unwrap();
        assert_eq!(resource.prune, DeletionMode::Skip);
        assert!(!resource.server_side_apply);
        assert!(app.with_annotation("Bogus=1").is_err());
    }
}
