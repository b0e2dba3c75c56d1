//! bosun's own configuration (`bosun.yaml`, optional): which kubeconfig and context reach each
//! cluster an Application names, and where the credentials for each Git repository come from.
//!
//! The config holds references to secrets (environment variable names, file paths), never the
//! secrets themselves. Each section is closed (unknown fields are errors); the top level is open:
//! a section this version does not know is skipped and reported by
//! [`BosunConfig::unknown_sections`], so a config written for a newer bosun still loads.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::application::Destination;
use crate::commit_template::CommitTemplate;
use crate::error::{ErrorKind, ModelError};
use crate::serve::{ApplicationSourceConfig, ServerConfig, check_application_sources};
use crate::validate::check_dns_subdomain;
use crate::yaml;

/// The API server address Argo CD gives the cluster it runs in.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// Argo CD's name for that cluster.
pub const IN_CLUSTER_NAME: &str = "in-cluster";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BosunConfig {
    pub clusters: Vec<ClusterConfig>,
    pub repositories: Vec<RepositoryCredentials>,
    /// Where `bosun serve` finds its Applications.
    pub applications: Vec<ApplicationSourceConfig>,
    /// `bosun serve`'s refresh, API tokens and webhook secret.
    pub server: ServerConfig,
    /// Image automation: check interval, write-back author, registries.
    pub images: ImagesConfig,
    /// Argo CD's `argocd-cm` data, pasted unchanged: bosun reads its resource customizations
    /// (health checks in Lua); see [`crate::customizations`].
    pub argocd_cm: std::collections::BTreeMap<String, String>,
    /// Config management plugins Applications may name.
    pub plugins: Vec<PluginConfig>,
    /// What bosun does when it rolls an Application back for an aborted Rollout.
    pub rollouts: RolloutsConfig,
    unknown_sections: Vec<String>,
}

/// The `rollouts` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutsConfig {
    /// After a Rollout of an automated Application is aborted (analysis, progress deadline):
    /// `pin` (the default) rolls back and holds the last good revision until Git moves;
    /// `revert` does that and also pushes a commit that puts the Application's path back as
    /// it was at the good revision, so that Git names what runs.
    #[serde(default)]
    pub on_abort: OnAbort,
    /// Revert commits' author (default `bosun <bosun@localhost>`).
    #[serde(default)]
    pub author: Option<AuthorConfig>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnAbort {
    #[default]
    Pin,
    Revert,
}

/// A cluster Applications can name: by `name` (`destination.name`) or by `server`
/// (`destination.server`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    pub name: String,
    /// The API server URL as Applications write it in `destination.server`.
    #[serde(default)]
    pub server: Option<String>,
    /// Kubeconfig file; unset means the usual lookup (`KUBECONFIG`, then `~/.kube/config`).
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// Kubeconfig context; unset means the kubeconfig's current context.
    #[serde(default)]
    pub context: Option<String>,
}

/// Where the credentials for repositories whose URL starts with `url` come from.
///
/// Only references are held (environment variable names and file paths); `Debug` still prints the
/// URL without any user-info, in case one slipped into it.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepositoryCredentials {
    /// A URL prefix: `https://github.com/org/` covers every repository of `org`.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding a token (HTTPS; sent as the password).
    #[serde(default)]
    pub token_env: Option<String>,
    /// Environment variable holding a password (HTTPS).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Private key file for SSH URLs.
    #[serde(default)]
    pub ssh_key_file: Option<String>,
}

impl fmt::Debug for RepositoryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepositoryCredentials")
            .field("url", &without_user_info(&self.url))
            .field("username", &self.username)
            .field("token_env", &self.token_env)
            .field("password_env", &self.password_env)
            .field("ssh_key_file", &self.ssh_key_file)
            .finish()
    }
}

/// `https://user:secret@host/x` → `https://***@host/x`.
fn without_user_info(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if !scheme.is_empty() => format!("{scheme}://***{}", &rest[at..]),
        _ => url.to_string(),
    }
}

/// The `images` section: how `bosun serve` watches registries and writes new tags to Git.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagesConfig {
    /// How often each watched image's tags are listed (Go duration; default 2m, as Image
    /// Updater's `--interval`).
    #[serde(default)]
    pub interval: Option<String>,
    /// Write-back commits' author (default `bosun <bosun@localhost>`).
    #[serde(default)]
    pub author: Option<AuthorConfig>,
    #[serde(default)]
    pub registries: Vec<RegistryConfig>,
    /// Environment variable holding the secret registry webhooks carry (`?secret=` for Docker
    /// Hub, Quay and the generic hook; the HMAC key of GitHub's; Harbor's `Authorization`).
    #[serde(default)]
    pub webhook_secret_env: Option<String>,
    /// The message of write-back commits: Argo CD Image Updater's `git.commit-message-template`,
    /// pasted unchanged (see [`crate::commit_template`]); unset means Image Updater's default.
    #[serde(default)]
    pub commit_message_template: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorConfig {
    pub name: String,
    pub email: String,
}

impl AuthorConfig {
    /// A commit author needs both: Git refuses an empty name, and an address without `@`
    /// is a typo.
    fn check(&self, field: &str) -> Result<(), ModelError> {
        if self.name.trim().is_empty() || !self.email.contains('@') {
            return Err(ModelError::invalid(
                field,
                "needs a name and an email address",
            ));
        }
        Ok(())
    }
}

/// How to reach one registry. Credentials are environment variable names, never values.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryConfig {
    /// `host[:port]` as in image names: `ghcr.io`, `registry.example.com:5000`.
    pub registry: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// Plain HTTP to a registry that is not on a loopback address.
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub requests_per_second: Option<f64>,
}

impl ImagesConfig {
    pub fn interval(&self) -> std::time::Duration {
        self.interval
            .as_deref()
            .and_then(|t| crate::parse_go_duration(t).ok())
            .unwrap_or(std::time::Duration::from_secs(120))
    }

    /// The write-back commit message template (checked when the config was loaded).
    pub fn commit_template(&self) -> Result<CommitTemplate, ModelError> {
        match &self.commit_message_template {
            Some(text) => CommitTemplate::parse(text)
                .map_err(|e| ModelError::invalid("images.commitMessageTemplate", e)),
            None => Ok(CommitTemplate::default()),
        }
    }

    fn check(&self) -> Result<(), ModelError> {
        if let Some(text) = &self.interval {
            let interval = crate::parse_go_duration(text)
                .map_err(|e| ModelError::invalid("images.interval", e.to_string()))?;
            if interval < std::time::Duration::from_secs(1) {
                return Err(ModelError::invalid(
                    "images.interval",
                    format!("`{text}` is below the 1s floor"),
                ));
            }
        }
        if let Some(author) = &self.author {
            author.check("images.author")?;
        }
        self.commit_template()?;
        for (i, registry) in self.registries.iter().enumerate() {
            let at = |field: &str| format!("images.registries[{i}].{field}");
            if registry.registry.is_empty() || registry.registry.contains(['/', ' ']) {
                return Err(ModelError::invalid(
                    at("registry"),
                    format!("`{}` is not a host[:port]", registry.registry),
                ));
            }
            if registry.username.is_some() != registry.password_env.is_some() {
                return Err(ModelError::invalid(
                    at("passwordEnv"),
                    "set username and passwordEnv together",
                ));
            }
            if registry
                .requests_per_second
                .is_some_and(|r| r.is_nan() || r < 0.001)
            {
                return Err(ModelError::invalid(
                    at("requestsPerSecond"),
                    "must be at least 0.001",
                ));
            }
        }
        Ok(())
    }
}

/// A config management plugin, as Argo CD's CMP v2 `plugin.yaml` describes one (its `spec`
/// with `name` beside it). An Application uses it with `source.plugin.name: <name>`, or
/// `<name>-<version>` when it has a version.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginConfig {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    /// Run first, in the source directory (e.g. `helm dependency build`).
    #[serde(default)]
    pub init: Option<PluginCommand>,
    /// Prints the manifests (YAML or JSON) on stdout.
    pub generate: PluginCommand,
    /// Upper bound of init and generate together (Go duration; default 90s).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Accepted so a `plugin.yaml` spec can be pasted; bosun picks plugins by name only.
    #[serde(default)]
    pub discover: Option<serde_json::Value>,
    /// Accepted so a `plugin.yaml` spec can be pasted: parameter announcements are for Argo CD's
    /// UI.
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    #[serde(default)]
    pub preserve_file_mode: Option<bool>,
    #[serde(default)]
    pub provide_git_creds: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginCommand {
    /// The program and its first arguments (`[sh, -c]`).
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

impl PluginConfig {
    /// The name Applications give: `<name>-<version>`, or `<name>` without a version.
    pub fn full_name(&self) -> String {
        match self.version.as_deref().filter(|v| !v.is_empty()) {
            Some(version) => format!("{}-{version}", self.name),
            None => self.name.clone(),
        }
    }

    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
            .as_deref()
            .and_then(|t| crate::parse_go_duration(t).ok())
            .unwrap_or(std::time::Duration::from_secs(90))
    }

    fn check(&self, at: &dyn Fn(&str) -> String) -> Result<(), ModelError> {
        if self.name.trim().is_empty() {
            return Err(ModelError::invalid(at("name"), "must not be empty"));
        }
        if self.generate.command.first().is_none_or(|c| c.is_empty()) {
            return Err(ModelError::invalid(
                at("generate.command"),
                "must name the program to run",
            ));
        }
        if let Some(init) = &self.init
            && init.command.first().is_none_or(|c| c.is_empty())
        {
            return Err(ModelError::invalid(
                at("init.command"),
                "must name the program to run",
            ));
        }
        if let Some(text) = &self.timeout {
            let timeout = crate::parse_go_duration(text)
                .map_err(|e| ModelError::invalid(at("timeout"), e.to_string()))?;
            if timeout < std::time::Duration::from_secs(1) {
                return Err(ModelError::invalid(
                    at("timeout"),
                    format!("`{text}` is below the 1s floor"),
                ));
            }
        }
        Ok(())
    }
}

/// How to reach the cluster of a destination: a kubeconfig (or the default one) and a context (or
/// the current one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterRef {
    /// The config entry's name; `None` when no entry matched and the current context is used.
    pub name: Option<String>,
    pub kubeconfig: Option<String>,
    pub context: Option<String>,
}

impl ClusterRef {
    /// The current context of the default kubeconfig.
    pub fn current_context() -> Self {
        ClusterRef {
            name: None,
            kubeconfig: None,
            context: None,
        }
    }
}

impl BosunConfig {
    /// Parses the config file's text; `file` is used in errors only.
    pub fn parse(text: &str, file: &str) -> Result<BosunConfig, ModelError> {
        let config: BosunConfig = if text.trim().is_empty() {
            BosunConfig::default()
        } else {
            yaml::decode(text, 0).map_err(|e| e.in_document(file, None))?
        };
        config.check().map_err(|e| e.in_document(file, None))?;
        Ok(config)
    }

    /// Top-level sections this version of bosun does not know, which were skipped.
    pub fn unknown_sections(&self) -> &[String] {
        &self.unknown_sections
    }

    /// The resource customizations of the `argocd-cm` section (checked by [`BosunConfig::parse`]).
    pub fn customizations(&self) -> Result<crate::customizations::Customizations, ModelError> {
        crate::customizations::Customizations::from_argocd_cm(&self.argocd_cm)
            .map_err(|e| e.under("argocd-cm"))
    }

    fn check(&self) -> Result<(), ModelError> {
        self.server.check()?;
        self.customizations()?;
        let mut names = std::collections::BTreeSet::new();
        for (i, plugin) in self.plugins.iter().enumerate() {
            let at = |field: &str| format!("plugins[{i}].{field}");
            plugin.check(&at)?;
            if !names.insert(plugin.full_name()) {
                return Err(ModelError::invalid(
                    at("name"),
                    format!("a second plugin named `{}`", plugin.full_name()),
                ));
            }
        }
        self.images.check()?;
        if let Some(author) = &self.rollouts.author {
            author.check("rollouts.author")?;
        }
        check_application_sources(&self.applications)?;
        for (i, cluster) in self.clusters.iter().enumerate() {
            let at = |field: &str| format!("clusters[{i}].{field}");
            check_dns_subdomain(&cluster.name).map_err(|m| ModelError::invalid(at("name"), m))?;
            if let Some(server) = &cluster.server
                && !(server.starts_with("https://") || server.starts_with("http://"))
            {
                return Err(ModelError::invalid(
                    at("server"),
                    format!("`{server}` is not an http(s) URL"),
                ));
            }
            for (j, earlier) in self.clusters[..i].iter().enumerate() {
                if earlier.name == cluster.name {
                    return Err(ModelError::invalid(
                        at("name"),
                        format!("`{}` is also the name of clusters[{j}]", cluster.name),
                    ));
                }
                if cluster.server.is_some()
                    && normalized(earlier.server.as_deref())
                        == normalized(cluster.server.as_deref())
                {
                    return Err(ModelError::invalid(
                        at("server"),
                        format!("also the server of clusters[{j}]"),
                    ));
                }
            }
        }
        for (i, repository) in self.repositories.iter().enumerate() {
            let at = |field: &str| format!("repositories[{i}].{field}");
            if repository.url.trim().is_empty() {
                return Err(ModelError::invalid(at("url"), "must not be empty"));
            }
            if without_user_info(&repository.url) != repository.url {
                return Err(ModelError::invalid(
                    at("url"),
                    "must not contain credentials; use username with tokenEnv or passwordEnv",
                ));
            }
            if repository.token_env.is_some() && repository.password_env.is_some() {
                return Err(ModelError::invalid(
                    at("tokenEnv"),
                    "set tokenEnv or passwordEnv, not both",
                ));
            }
            for (field, name) in [
                ("tokenEnv", &repository.token_env),
                ("passwordEnv", &repository.password_env),
            ] {
                if let Some(name) = name
                    && (name.is_empty() || name.contains(['=', '\0']))
                {
                    return Err(ModelError::invalid(
                        at(field),
                        format!("`{name}` is not an environment variable name"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The cluster an Application's destination names: the config entry with that `name` or
    /// `server`; without one, `in-cluster` and `https://kubernetes.default.svc` mean the current
    /// kubeconfig context, as in Argo CD. Anything else is an [`ErrorKind::UnknownCluster`] error
    /// with a path relative to `spec.destination`.
    pub fn resolve_destination(&self, destination: &Destination) -> Result<ClusterRef, ModelError> {
        let to_ref = |cluster: &ClusterConfig| ClusterRef {
            name: Some(cluster.name.clone()),
            kubeconfig: cluster.kubeconfig.clone(),
            context: cluster.context.clone(),
        };
        let known = || {
            let names: Vec<&str> = self.clusters.iter().map(|c| c.name.as_str()).collect();
            if names.is_empty() {
                "the bosun config names no clusters".to_string()
            } else {
                format!("known clusters: {}", names.join(", "))
            }
        };
        let server = destination.server.as_deref().filter(|s| !s.is_empty());
        let name = destination.name.as_deref().filter(|s| !s.is_empty());
        match (server, name) {
            (None, Some(name)) => {
                if let Some(cluster) = self.clusters.iter().find(|c| c.name == name) {
                    Ok(to_ref(cluster))
                } else if name == IN_CLUSTER_NAME {
                    Ok(ClusterRef::current_context())
                } else {
                    Err(ModelError::new(
                        ErrorKind::UnknownCluster,
                        "name",
                        format!("no cluster named `{name}`; {}", known()),
                    ))
                }
            }
            (Some(server), None) => {
                let wanted = normalized(Some(server));
                if let Some(cluster) = self
                    .clusters
                    .iter()
                    .find(|c| normalized(c.server.as_deref()) == wanted)
                {
                    Ok(to_ref(cluster))
                } else if wanted == normalized(Some(IN_CLUSTER_SERVER)) {
                    Ok(ClusterRef::current_context())
                } else {
                    Err(ModelError::new(
                        ErrorKind::UnknownCluster,
                        "server",
                        format!("no cluster with server `{server}`; {}", known()),
                    ))
                }
            }
            _ => Err(ModelError::invalid(
                "",
                "exactly one of server or name must be set",
            )),
        }
    }

    /// The credentials for `repo_url`: the entry with the longest `url` prefix of it.
    pub fn credentials_for(&self, repo_url: &str) -> Option<&RepositoryCredentials> {
        self.repositories
            .iter()
            .filter(|r| covers(&r.url, repo_url))
            .max_by_key(|r| r.url.len())
    }
}

/// Whether the credentials' URL prefix covers `url`: the prefix must end at a boundary, so
/// that `https://git.example.com` never hands its token to `https://git.example.com.evil.io`.
/// Within the host only a path or a port may follow; after it, also `.git`
/// (`…/secret-repo` covers `…/secret-repo.git`).
fn covers(prefix: &str, url: &str) -> bool {
    let Some(rest) = url.strip_prefix(prefix) else {
        return false;
    };
    let Some(next) = rest.chars().next() else {
        return true;
    };
    if prefix.ends_with(['/', ':']) {
        return true;
    }
    let host_only = match prefix.split_once("://") {
        Some((_, after)) => !after.contains('/'),
        None => !prefix.contains(':'),
    };
    if host_only {
        matches!(next, '/' | ':')
    } else {
        matches!(next, '/' | '.' | ':')
    }
}

/// Server URLs compare without a trailing slash.
fn normalized(server: Option<&str>) -> Option<&str> {
    server.map(|s| s.trim_end_matches('/'))
}

impl<'de> Deserialize<'de> for BosunConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConfigVisitor;
        impl<'de> Visitor<'de> for ConfigVisitor {
            type Value = BosunConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a bosun config mapping (clusters, repositories, applications, server, images, plugins, argocd-cm, rollouts)",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BosunConfig, A::Error> {
                let mut config = BosunConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "clusters" => {
                            config.clusters = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        "repositories" => {
                            config.repositories = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        "applications" => {
                            config.applications = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        "server" => {
                            config.server = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        "images" => {
                            config.images = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        "plugins" => {
                            config.plugins = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        "argocd-cm" => {
                            config.argocd_cm = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        "rollouts" => {
                            config.rollouts = map.next_value::<Option<_>>()?.unwrap_or_default()
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            config.unknown_sections.push(key);
                        }
                    }
                }
                Ok(config)
            }
        }
        deserializer.deserialize_map(ConfigVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
clusters:
  - name: prod
    server: https://prod.example.com:6443
    kubeconfig: /etc/bosun/prod.kubeconfig
    context: prod-admin
  - name: staging
    context: kind-staging
repositories:
  - url: https://github.com/org/
    username: x-access-token
    tokenEnv: GITHUB_TOKEN
  - url: https://github.com/org/secret-repo
    username: bot
    passwordEnv: SECRET_REPO_PASSWORD
  - url: git@github.com:org/
    sshKeyFile: /home/me/.ssh/id_ed25519
";

    fn destination(server: Option<&str>, name: Option<&str>) -> Destination {
        Destination {
            server: server.map(String::from),
            name: name.map(String::from),
            namespace: None,
        }
    }

    #[test]
    fn resolves_destinations_by_name_and_server() {
        let config = BosunConfig::parse(CONFIG, "bosun.yaml").unwrap();
        let prod = config
            .resolve_destination(&destination(Some("https://prod.example.com:6443/"), None))
            .unwrap();
        assert_eq!(prod.name.as_deref(), Some("prod"));
        assert_eq!(
            prod.kubeconfig.as_deref(),
            Some("/etc/bosun/prod.kubeconfig")
        );
        assert_eq!(prod.context.as_deref(), Some("prod-admin"));
        let staging = config
            .resolve_destination(&destination(None, Some("staging")))
            .unwrap();
        assert_eq!(staging.context.as_deref(), Some("kind-staging"));
        assert_eq!(staging.kubeconfig, None);
    }

    #[test]
    fn in_cluster_means_the_current_context_unless_configured() {
        let none = BosunConfig::default();
        let current = ClusterRef::current_context();
        assert_eq!(
            none.resolve_destination(&destination(Some(IN_CLUSTER_SERVER), None)),
            Ok(current.clone())
        );
        assert_eq!(
            none.resolve_destination(&destination(None, Some("in-cluster"))),
            Ok(current)
        );
        let overriding = BosunConfig::parse(
            "clusters:\n- name: local\n  server: https://kubernetes.default.svc\n  context: kind-local\n",
            "bosun.yaml",
        )
        .unwrap();
        let local = overriding
            .resolve_destination(&destination(Some(IN_CLUSTER_SERVER), None))
            .unwrap();
        assert_eq!(local.context.as_deref(), Some("kind-local"));
    }

    #[test]
    fn unknown_clusters_are_errors_that_list_the_known_ones() {
        let config = BosunConfig::parse(CONFIG, "bosun.yaml").unwrap();
        let e = config
            .resolve_destination(&destination(None, Some("qa")))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownCluster);
        assert_eq!(
            e.to_string(),
            "name: no cluster named `qa`; known clusters: prod, staging"
        );
        let e = BosunConfig::default()
            .resolve_destination(&destination(Some("https://10.0.0.1:6443"), None))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "server: no cluster with server `https://10.0.0.1:6443`; the bosun config names no clusters"
        );
    }

    #[test]
    fn credentials_match_the_longest_prefix() {
        let config = BosunConfig::parse(CONFIG, "bosun.yaml").unwrap();
        let creds = |url: &str| config.credentials_for(url).map(|c| c.url.as_str());
        assert_eq!(
            creds("https://github.com/org/app.git"),
            Some("https://github.com/org/")
        );
        assert_eq!(
            creds("https://github.com/org/secret-repo.git"),
            Some("https://github.com/org/secret-repo")
        );
        assert_eq!(
            creds("git@github.com:org/app.git"),
            Some("git@github.com:org/")
        );
        assert_eq!(creds("https://gitlab.com/org/app.git"), None);
        // A prefix ends at a boundary: a look-alike host gets nothing.
        assert!(covers(
            "https://git.example.com",
            "https://git.example.com/a.git"
        ));
        assert!(!covers(
            "https://git.example.com",
            "https://git.example.com.evil.io/a.git"
        ));
        assert!(!covers(
            "https://github.com/org/app",
            "https://github.com/org/app-evil.git"
        ));
    }

    #[test]
    fn the_images_section_is_read_and_checked() {
        let config = BosunConfig::parse(
            "images:\n  interval: 30s\n  author: {name: bot, email: bot@example.com}\n  registries:\n  - registry: ghcr.io\n    username: bot\n    passwordEnv: GHCR_TOKEN\n    requestsPerSecond: 2\n",
            "bosun.yaml",
        )
        .unwrap();
        assert_eq!(config.images.interval(), std::time::Duration::from_secs(30));
        assert_eq!(
            config.images.registries[0].password_env.as_deref(),
            Some("GHCR_TOKEN")
        );
        assert_eq!(
            BosunConfig::default().images.interval(),
            std::time::Duration::from_secs(120)
        );
        let change = crate::commit_template::TemplateChange {
            image: "acme/api",
            old_tag: "1.2.0",
            new_tag: "1.3.0",
        };
        assert_eq!(
            BosunConfig::default()
                .images
                .commit_template()
                .unwrap()
                .render("api", std::slice::from_ref(&change)),
            "build: automatic update of api\n\nupdates image acme/api tag '1.2.0' to '1.3.0'\n"
        );
        let config = BosunConfig::parse(
            "images:\n  commitMessageTemplate: |\n    chore({{ .AppName }}): new images\n\n    {{ range .AppChanges -}}\n    * {{ .Image }}: {{ .OldTag }} -> {{ .NewTag }}\n    {{ end -}}\n",
            "bosun.yaml",
        )
        .unwrap();
        assert_eq!(
            config
                .images
                .commit_template()
                .unwrap()
                .render("api", &[change]),
            "chore(api): new images\n\n* acme/api: 1.2.0 -> 1.3.0\n"
        );
        for (text, words) in [
            (
                "images:\n  interval: 0s\n",
                "images.interval: `0s` is below the 1s floor",
            ),
            ("images:\n  interval: soon\n", "images.interval"),
            (
                "images:\n  registries:\n  - registry: ghcr.io/acme\n",
                "images.registries[0].registry: `ghcr.io/acme` is not a host[:port]",
            ),
            (
                "images:\n  registries:\n  - registry: ghcr.io\n    username: bot\n",
                "images.registries[0].passwordEnv: set username and passwordEnv together",
            ),
            (
                "images:\n  registries:\n  - registry: ghcr.io\n    requestsPerSecond: 0\n",
                "images.registries[0].requestsPerSecond: must be at least 0.001",
            ),
            (
                "images:\n  author: {name: bot, email: nope}\n",
                "images.author: needs a name and an email address",
            ),
            ("images:\n  intervall: 1m\n", "intervall"),
            ("rollouts:\n  onAbort: undo\n", "unknown variant `undo`"),
            (
                "rollouts:\n  author: {name: '', email: a@b}\n",
                "rollouts.author: needs a name and an email address",
            ),
            (
                "images:\n  commitMessageTemplate: |\n    bump {{ .AppName }}\n    {{ if .AppChanges }}x{{ end }}\n",
                "images.commitMessageTemplate: line 2: `{{if .AppChanges}}` is not supported",
            ),
        ] {
            let e = BosunConfig::parse(text, "bosun.yaml")
                .unwrap_err()
                .to_string();
            assert!(e.contains("bosun.yaml") && e.contains(words), "{text}: {e}");
        }
    }

    #[test]
    fn debug_never_shows_url_credentials() {
        let creds = RepositoryCredentials {
            url: "https://bot:hunter2@github.com/org/".into(),
            token_env: Some("GITHUB_TOKEN".into()),
            ..Default::default()
        };
        let debug = format!("{creds:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("https://***@github.com/org/"), "{debug}");
        assert!(debug.contains("GITHUB_TOKEN"));
        let e = BosunConfig::parse(
            "repositories:\n- url: https://bot:hunter2@github.com/org/\n",
            "bosun.yaml",
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
        assert_eq!(
            e.to_string(),
            "bosun.yaml: repositories[0].url: must not contain credentials; use username with tokenEnv or passwordEnv"
        );
    }

    #[test]
    fn sections_are_closed_and_the_top_level_is_open() {
        let e = BosunConfig::parse("clusters:\n- name: a\n  kubeConfig: x\n", "bosun.yaml")
            .unwrap_err();
        assert_eq!(e.path, "clusters[0].kubeConfig");
        assert!(
            e.to_string()
                .starts_with("bosun.yaml: clusters[0].kubeConfig: unknown field `kubeConfig`"),
            "{e}"
        );
        let config =
            BosunConfig::parse("notifications:\n  slack: {}\nclusters: []\n", "bosun.yaml")
                .unwrap();
        assert_eq!(config.unknown_sections(), ["notifications"]);
        assert_eq!(
            BosunConfig::parse("", "bosun.yaml"),
            Ok(BosunConfig::default())
        );
    }

    #[test]
    fn cluster_entries_are_checked() {
        let e = BosunConfig::parse("clusters:\n- name: a\n- name: a\n", "c.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml: clusters[1].name: `a` is also the name of clusters[0]"
        );
        let e = BosunConfig::parse("clusters:\n- name: a\n  server: prod:6443\n", "c.yaml")
            .unwrap_err();
        assert_eq!(e.path, "clusters[0].server");
        let e = BosunConfig::parse(
            "repositories:\n- url: https://x/\n  tokenEnv: A\n  passwordEnv: B\n",
            "c.yaml",
        )
        .unwrap_err();
        assert_eq!(e.path, "repositories[0].tokenEnv");
    }
}
