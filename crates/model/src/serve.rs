//! The sections of `bosun.yaml` that only `bosun serve` reads: where its Applications come from
//! (files, or a path in a Git repository — app-of-apps), how often it refreshes them, who may call
//! its API (bearer tokens with roles) and the secret GitHub webhooks are signed with.
//!
//! As everywhere in the config, secrets are referenced (environment variable or file), never
//! written inline, so the config itself can live in Git.

use std::time::Duration;

use serde::Deserialize;

use crate::duration::parse_go_duration;
use crate::error::ModelError;

/// Where `bosun serve` finds Applications. Exactly one of `path` (a local file or directory),
/// `repoURL` (+ `targetRevision`, `path`: a directory in a Git repository, watched app-of-apps
/// style: a commit there adds, changes and removes Applications) or `namespace` (Application
/// objects in that namespace of the management cluster, as Argo CD keeps them: `kubectl apply`
/// adds one, `kubectl delete` removes it).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationSourceConfig {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default, rename = "repoURL")]
    pub repo_url: Option<String>,
    #[serde(default)]
    pub target_revision: Option<String>,
    /// A local file or directory (relative to the config file), or the directory in `repoURL`.
    #[serde(default)]
    pub path: Option<String>,
}

/// What a token may do. Ordered: each role may do everything the one before it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// List and read Applications, diffs, history and events.
    ReadOnly,
    /// Also sync, refresh and roll back.
    Deployer,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "read-only",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }
}

/// A bearer token of the API: its user name, its role, and where its value is read from.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenConfig {
    /// Recorded as who started an operation.
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<String>,
}

/// The secret GitHub signs push webhooks with (`X-Hub-Signature-256`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default)]
    pub github_secret_env: Option<String>,
    #[serde(default)]
    pub github_secret_file: Option<String>,
}

/// The `server` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    /// How often every Application is compared with Git and its cluster (Go duration; default
    /// 120s, plus up to `refreshJitter` so that many Applications do not refresh at once).
    /// `0s` turns polling off, as Argo CD's `timeout.reconciliation: 0`: webhooks, watches and
    /// the API still refresh. Anything else below [`MIN_REFRESH_INTERVAL`] is refused.
    #[serde(default)]
    pub refresh_interval: Option<String>,
    /// Default 60s, as Argo CD 3.
    #[serde(default)]
    pub refresh_jitter: Option<String>,
    /// How many Applications are reconciled at once (default 8).
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    #[serde(default)]
    pub webhook: WebhookConfig,
}

/// The shortest polling interval accepted: below it, bosun would compare every Application with
/// Git and its cluster without pause (`0s` once made 33,853 Kubernetes requests in 10 s for one
/// small Application).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

impl ServerConfig {
    /// The polling interval, or `None` when `refreshInterval: 0s` turned polling off.
    pub fn polling_interval(&self) -> Option<Duration> {
        Some(self.refresh_interval()).filter(|interval| !interval.is_zero())
    }

    pub fn refresh_interval(&self) -> Duration {
        self.refresh_interval
            .as_deref()
            .and_then(|t| parse_go_duration(t).ok())
            .unwrap_or(Duration::from_secs(120))
    }

    pub fn refresh_jitter(&self) -> Duration {
        self.refresh_jitter
            .as_deref()
            .and_then(|t| parse_go_duration(t).ok())
            .unwrap_or(Duration::from_secs(60))
    }

    pub(crate) fn check(&self) -> Result<(), ModelError> {
        for (field, value) in [
            ("refreshInterval", &self.refresh_interval),
            ("refreshJitter", &self.refresh_jitter),
        ] {
            if let Some(text) = value {
                parse_go_duration(text)
                    .map_err(|e| ModelError::invalid(format!("server.{field}"), e.to_string()))?;
            }
        }
        let interval = self.refresh_interval();
        if !interval.is_zero() && interval < MIN_REFRESH_INTERVAL {
            return Err(ModelError::invalid(
                "server.refreshInterval",
                format!(
                    "{} is below the minimum of {}s; use 0s to turn polling off (webhooks, watches and the API still refresh)",
                    self.refresh_interval.as_deref().unwrap_or_default(),
                    MIN_REFRESH_INTERVAL.as_secs()
                ),
            ));
        }
        if self.concurrency == Some(0) {
            return Err(ModelError::invalid(
                "server.concurrency",
                "must be at least 1",
            ));
        }
        for (i, token) in self.tokens.iter().enumerate() {
            let at = |field: &str| format!("server.tokens[{i}].{field}");
            if token.name.trim().is_empty() {
                return Err(ModelError::invalid(at("name"), "must not be empty"));
            }
            if token.token_env.is_some() == token.token_file.is_some() {
                return Err(ModelError::invalid(
                    at("tokenEnv"),
                    "set exactly one of tokenEnv or tokenFile",
                ));
            }
            if self.tokens[..i].iter().any(|t| t.name == token.name) {
                return Err(ModelError::invalid(
                    at("name"),
                    format!("`{}` is used by another token", token.name),
                ));
            }
        }
        if self.webhook.github_secret_env.is_some() && self.webhook.github_secret_file.is_some() {
            return Err(ModelError::invalid(
                "server.webhook.githubSecretEnv",
                "set githubSecretEnv or githubSecretFile, not both",
            ));
        }
        Ok(())
    }
}

pub(crate) fn check_application_sources(
    sources: &[ApplicationSourceConfig],
) -> Result<(), ModelError> {
    for (i, source) in sources.iter().enumerate() {
        let at = |field: &str| format!("applications[{i}].{field}");
        if let Some(namespace) = &source.namespace {
            if source.repo_url.is_some()
                || source.path.is_some()
                || source.target_revision.is_some()
            {
                return Err(ModelError::invalid(
                    at("namespace"),
                    "a namespace source takes no path, repoURL or targetRevision",
                ));
            }
            crate::validate::check_dns_label(namespace)
                .map_err(|m| ModelError::invalid(at("namespace"), m))?;
            continue;
        }
        match (&source.repo_url, &source.path) {
            (None, None) => {
                return Err(ModelError::invalid(
                    at("path"),
                    "set path (a local file or directory), repoURL and path, or namespace",
                ));
            }
            (None, Some(_)) if source.target_revision.is_some() => {
                return Err(ModelError::invalid(
                    at("targetRevision"),
                    "only meaningful with repoURL",
                ));
            }
            (Some(url), _) if url.trim().is_empty() => {
                return Err(ModelError::invalid(at("repoURL"), "must not be empty"));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::BosunConfig;

    use super::*;

    #[test]
    fn server_section_parses_with_defaults() {
        let config = BosunConfig::parse(
            "applications:\n- path: apps/\n- repoURL: file:///srv/config\n  targetRevision: main\n  path: apps\nserver:\n  refreshInterval: 30s\n  tokens:\n  - {name: ci, role: deployer, tokenEnv: CI_TOKEN}\n  - {name: ro, role: read-only, tokenFile: /run/ro}\n  webhook: {githubSecretEnv: HOOK}\n",
            "bosun.yaml",
        )
        .unwrap();
        assert_eq!(config.applications.len(), 2);
        assert_eq!(config.server.refresh_interval(), Duration::from_secs(30));
        assert_eq!(config.server.refresh_jitter(), Duration::from_secs(60));
        assert_eq!(config.server.tokens[0].role, Role::Deployer);
        assert!(Role::Admin > Role::Deployer && Role::Deployer > Role::ReadOnly);
        let defaults = BosunConfig::default();
        assert_eq!(defaults.server.refresh_interval(), Duration::from_secs(120));
        assert_eq!(
            defaults.server.polling_interval(),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn refresh_interval_zero_turns_polling_off_and_short_ones_are_refused() {
        let parse = |interval: &str| {
            BosunConfig::parse(
                &format!("server:\n  refreshInterval: {interval}\n"),
                "bosun.yaml",
            )
        };
        assert_eq!(parse("0s").unwrap().server.polling_interval(), None);
        assert_eq!(parse("0").unwrap().server.polling_interval(), None);
        assert_eq!(
            parse("5s").unwrap().server.polling_interval(),
            Some(Duration::from_secs(5))
        );
        let e = parse("100ms").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bosun.yaml: server.refreshInterval: 100ms is below the minimum of 5s; use 0s to turn polling off (webhooks, watches and the API still refresh)"
        );
    }

    #[test]
    fn bad_server_sections_name_the_field() {
        for (text, path) in [
            (
                "server:\n  refreshInterval: soon\n",
                "server.refreshInterval",
            ),
            (
                "server:\n  tokens:\n  - {name: a, role: admin}\n",
                "server.tokens[0].tokenEnv",
            ),
            (
                "server:\n  tokens:\n  - {name: a, role: root, tokenEnv: X}\n",
                "server.tokens[0].role",
            ),
            (
                "applications:\n- targetRevision: main\n",
                "applications[0].path",
            ),
            ("server:\n  concurrency: 0\n", "server.concurrency"),
            ("server:\n  refreshInterval: 1s\n", "server.refreshInterval"),
            (
                "server:\n  refreshInterval: 4999ms\n",
                "server.refreshInterval",
            ),
        ] {
            let e = BosunConfig::parse(text, "bosun.yaml").unwrap_err();
            assert_eq!(e.path, path, "{text}: {e}");
            assert!(e.to_string().starts_with("bosun.yaml: "), "{e}");
        }
    }
}
