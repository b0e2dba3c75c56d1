//! The registries: tags, digests and build times over the OCI distribution API, shared by every
//! Application that watches an image.
//!
//! Registry rate limits bite when every Application polls the same image (Docker Hub allows 100
//! anonymous pulls per 6 hours). So a tags list is asked once per image per interval however
//! many Applications use it — concurrent askers wait for the one request in flight — and each
//! registry can be given a pace (`requestsPerSecond`). A registry on a loopback address is
//! spoken to in plain HTTP, as Docker allows; any other only when its settings say `insecure`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use tokio::time::Instant;

use crate::policy::TagInfo;

/// How to reach one registry (`bosun.yaml` `registries:`). `Debug` masks the password.
#[derive(Clone, Default, PartialEq)]
pub struct RegistrySettings {
    /// `host[:port]`, as in image names (`ghcr.io`, `127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    pub username: Option<String>,
    /// The password or token, read from the environment by the caller.
    pub password: Option<String>,
    /// Plain HTTP for a registry that is not on a loopback address.
    pub insecure: bool,
    /// At most this many requests per second to this registry.
    pub requests_per_second: Option<f64>,
}

impl std::fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySettings")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("insecure", &self.insecure)
            .field("requests_per_second", &self.requests_per_second)
            .finish()
    }
}

/// Why a registry could not answer. Messages never hold a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "{registry}: {image}: authentication required or refused (401); configure credentials for {registry}"
    )]
    Unauthorized { registry: String, image: String },
    #[error("{registry}: {image}: no such repository")]
    NotFound { registry: String, image: String },
    #[error("{registry}: cannot reach the registry: {message}")]
    Unreachable { registry: String, message: String },
    #[error("{registry}: {image}: {message}")]
    Other {
        registry: String,
        image: String,
        message: String,
    },
    #[error("`{image}` is not an image name: {message}")]
    BadName { image: String, message: String },
}

impl RegistryError {
    /// A failure worth trying again soon (the registry was down), rather than a configuration
    /// problem.
    pub fn is_transient(&self) -> bool {
        matches!(self, RegistryError::Unreachable { .. })
    }
}

type TagsEntry =
    Arc<tokio::sync::Mutex<Option<(Instant, Result<Arc<Vec<String>>, RegistryError>)>>>;

/// Every registry bosun reads, with its clients, credentials, caches and pace.
pub struct Registries {
    https: Client,
    http: Client,
    settings: Vec<RegistrySettings>,
    /// Credentials from Docker's `config.json` (`auths`), by registry.
    docker: HashMap<String, (String, String)>,
    tags: Mutex<HashMap<String, TagsEntry>>,
    /// Build times and digests by `image:tag` and manifest digest: a tag's metadata changes only
    /// when its digest does.
    metadata: Mutex<HashMap<String, TagInfo>>,
    paces: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Instant>>>>,
    metrics: crate::metrics::ImageMetrics,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Which image of a multi-platform index a build time is read from: Linux on this machine's
/// architecture, else linux/amd64, else the first. (oci-client's default wants this host's own
/// OS, so a `bosun` on macOS found no image at all.)
fn linux_platform(manifests: &[oci_client::manifest::ImageIndexEntry]) -> Option<String> {
    let host = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let linux_on = |arch: &str| {
        manifests
            .iter()
            .find(|entry| {
                entry.platform.as_ref().is_some_and(|p| {
                    p.os.to_string() == "linux" && p.architecture.to_string() == arch
                })
            })
            .map(|entry| entry.digest.clone())
    };
    linux_on(host)
        .or_else(|| linux_on("amd64"))
        .or_else(|| manifests.first().map(|entry| entry.digest.clone()))
}

/// One name for Docker Hub, however it is spelled (`oci-client` resolves it to
/// `index.docker.io`; users and Docker's `config.json` write `docker.io`).
fn canonical(registry: &str) -> &str {
    match registry {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io",
        other => other,
    }
}

use bosun_model::registry_host::is_loopback;

impl Registries {
    pub fn new(settings: Vec<RegistrySettings>) -> Registries {
        Registries::with_metrics(settings, crate::metrics::ImageMetrics::unregistered())
    }

    pub fn with_metrics(
        settings: Vec<RegistrySettings>,
        metrics: crate::metrics::ImageMetrics,
    ) -> Registries {
        // reqwest is built without a crypto provider; ring is the binary's one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = |protocol| {
            Client::new(ClientConfig {
                protocol,
                platform_resolver: Some(Box::new(linux_platform)),
                connect_timeout: Some(Duration::from_secs(10)),
                read_timeout: Some(Duration::from_secs(30)),
                ..ClientConfig::default()
            })
        };
        Registries {
            https: client(ClientProtocol::Https),
            http: client(ClientProtocol::Http),
            settings,
            docker: docker_config(),
            tags: Mutex::default(),
            metadata: Mutex::default(),
            paces: Mutex::default(),
            metrics,
        }
    }

    fn settings(&self, registry: &str) -> Option<&RegistrySettings> {
        self.settings
            .iter()
            .find(|s| canonical(&s.registry) == canonical(registry))
    }

    fn client(&self, registry: &str) -> &Client {
        if is_loopback(registry) || self.settings(registry).is_some_and(|s| s.insecure) {
            &self.http
        } else {
            &self.https
        }
    }

    fn auth(&self, registry: &str) -> RegistryAuth {
        if let Some(settings) = self.settings(registry)
            && let (Some(user), Some(password)) = (&settings.username, &settings.password)
        {
            return RegistryAuth::Basic(user.clone(), password.clone());
        }
        match self.docker.get(canonical(registry)) {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    /// Waits for this registry's pace, if it has one.
    async fn pace(&self, registry: &str) {
        let Some(rate) = self
            .settings(registry)
            .and_then(|s| s.requests_per_second)
            .filter(|r| *r > 0.0)
        else {
            return;
        };
        let slot = lock(&self.paces)
            .entry(canonical(registry).to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Instant::now())))
            .clone();
        let mut next = slot.lock().await;
        tokio::time::sleep_until(*next).await;
        *next = Instant::now() + Duration::from_secs_f64(1.0 / rate);
    }

    fn parse(image: &str) -> Result<Reference, RegistryError> {
        image
            .parse::<Reference>()
            .map_err(|e| RegistryError::BadName {
                image: image.to_string(),
                message: e.to_string(),
            })
    }

    /// Every tag of `image` (`[registry/]repository`), at most `max_age` old: one request per
    /// image per `max_age` (pages followed), shared by concurrent callers. A refusal (401, no
    /// such repository) is remembered for `max_age` too; a registry that is down is not.
    pub async fn tags(
        &self,
        image: &str,
        max_age: Duration,
    ) -> Result<Arc<Vec<String>>, RegistryError> {
        let reference = Self::parse(image)?;
        let key = format!(
            "{}/{}",
            reference.resolve_registry(),
            reference.repository()
        );
        let entry = lock(&self.tags).entry(key).or_default().clone();
        let mut cached = entry.lock().await;
        if let Some((at, result)) = cached.as_ref()
            && at.elapsed() < max_age
        {
            return result.clone();
        }
        let result = self.list_tags(image, &reference).await.map(Arc::new);
        // A registry that is down is not remembered as down: the caller's backoff paces the
        // next try, and the first that succeeds is used at once.
        if !matches!(&result, Err(e) if e.is_transient()) {
            *cached = Some((Instant::now(), result.clone()));
        }
        result
    }

    /// Forgets the cached tags of `image` (a registry webhook said it changed).
    pub fn invalidate(&self, image: &str) {
        if let Ok(reference) = Self::parse(image) {
            let key = format!(
                "{}/{}",
                reference.resolve_registry(),
                reference.repository()
            );
            lock(&self.tags).remove(&key);
        }
    }

    async fn list_tags(
        &self,
        image: &str,
        reference: &Reference,
    ) -> Result<Vec<String>, RegistryError> {
        const PAGE: usize = 1000;
        let registry = reference.resolve_registry().to_string();
        let client = self.client(&registry);
        let auth = self.auth(&registry);
        let mut tags: Vec<String> = Vec::new();
        loop {
            self.pace(&registry).await;
            self.metrics.request("tags");
            let page = client
                .list_tags(
                    reference,
                    &auth,
                    Some(PAGE),
                    tags.last().map(String::as_str),
                )
                .await
                .map_err(|e| classify(&registry, image, e))?;
            let full = page.tags.len() >= PAGE;
            let before = tags.last().cloned();
            tags.extend(page.tags);
            // A last page is short; a registry that ignores `last` (the same page again) or
            // pages without end is cut off rather than followed forever.
            if !full || tags.last() == before.as_ref() || tags.len() >= PAGE * 100 {
                return Ok(tags);
            }
        }
    }

    /// The digest of `image:tag`'s manifest (the index's, for a multi-platform image, as Image
    /// Updater) and its build time (the config's `created`; of this machine's platform).
    pub async fn metadata(&self, image: &str, tag: &str) -> Result<TagInfo, RegistryError> {
        let reference = Self::parse(&format!("{image}:{tag}"))?;
        let registry = reference.resolve_registry().to_string();
        let client = self.client(&registry);
        let auth = self.auth(&registry);
        self.pace(&registry).await;
        self.metrics.request("manifest");
        let digest = client
            .fetch_manifest_digest(&reference, &auth)
            .await
            .map_err(|e| classify(&registry, image, e))?;
        let key = format!("{image}:{tag}@{digest}");
        if let Some(info) = lock(&self.metadata).get(&key) {
            return Ok(info.clone());
        }
        self.pace(&registry).await;
        self.metrics.request("manifest");
        let (_, _, config) = client
            .pull_manifest_and_config(&reference, &auth)
            .await
            .map_err(|e| classify(&registry, image, e))?;
        let created = serde_json::from_str::<serde_json::Value>(&config)
            .ok()
            .and_then(|c| {
                c.get("created")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .and_then(|c| c.parse::<jiff::Timestamp>().ok());
        let info = TagInfo {
            tag: tag.to_string(),
            created,
            digest: Some(digest),
        };
        lock(&self.metadata).insert(key, info.clone());
        Ok(info)
    }
}

fn classify(registry: &str, image: &str, error: OciDistributionError) -> RegistryError {
    let other = |message: String| RegistryError::Other {
        registry: registry.to_string(),
        image: image.to_string(),
        message,
    };
    match error {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => RegistryError::Unauthorized {
            registry: registry.to_string(),
            image: image.to_string(),
        },
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| format!("{:?}", e.code))
                .collect();
            if codes
                .iter()
                .any(|c| c.contains("Unauthorized") || c.contains("Denied"))
            {
                RegistryError::Unauthorized {
                    registry: registry.to_string(),
                    image: image.to_string(),
                }
            } else if codes
                .iter()
                .any(|c| c.contains("NameUnknown") || c.contains("ManifestUnknown"))
            {
                RegistryError::NotFound {
                    registry: registry.to_string(),
                    image: image.to_string(),
                }
            } else {
                other(
                    envelope
                        .errors
                        .iter()
                        .map(|e| e.message.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            }
        }
        OciDistributionError::ServerError { code, message, .. } if code >= 500 => {
            RegistryError::Unreachable {
                registry: registry.to_string(),
                message: format!("{code} {}", message.trim()),
            }
        }
        OciDistributionError::ServerError { code: 404, .. }
        | OciDistributionError::ImageManifestNotFoundError(_) => RegistryError::NotFound {
            registry: registry.to_string(),
            image: image.to_string(),
        },
        OciDistributionError::RequestError(e) => RegistryError::Unreachable {
            registry: registry.to_string(),
            message: without_source_url(&e),
        },
        other_error => other(other_error.to_string()),
    }
}

/// reqwest's message with the innermost cause (connection refused, timed out).
fn without_source_url(error: &reqwest::Error) -> String {
    let mut message = if error.is_connect() {
        "connection failed".to_string()
    } else if error.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    let mut last = None;
    while let Some(cause) = source {
        last = Some(cause.to_string());
        source = cause.source();
    }
    if let Some(cause) = last {
        message.push_str(": ");
        message.push_str(&cause);
    }
    message
}

/// Docker's `config.json` credentials (`auths.<registry>.auth`, base64 `user:password`) — the
/// file CI logins write. Credential helpers are not run.
fn docker_config() -> HashMap<String, (String, String)> {
    use base64::Engine as _;
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => std::path::PathBuf::from(dir).join("config.json"),
        None => match std::env::var_os("HOME") {
            Some(home) => std::path::PathBuf::from(home).join(".docker/config.json"),
            None => return HashMap::new(),
        },
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return HashMap::new();
    };
    let Ok(config) = serde_json::from_str::<serde_json::Value>(&text) else {
        tracing::warn!(file = %path.display(), "not valid JSON; its registry credentials are not used");
        return HashMap::new();
    };
    let mut out = HashMap::new();
    if let Some(auths) = config.get("auths").and_then(|a| a.as_object()) {
        for (registry, entry) in auths {
            let registry = registry
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default()
                .replace("index.docker.io", "docker.io");
            let decoded = entry
                .get("auth")
                .and_then(|a| a.as_str())
                .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
                .and_then(|a| String::from_utf8(a).ok());
            if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                out.insert(registry, (user.to_string(), password.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_the_password() {
        let settings = RegistrySettings {
            registry: "ghcr.io".into(),
            username: Some("bot".into()),
            password: Some("hunter2-token".into()),
            ..Default::default()
        };
        let text = format!("{settings:?}");
        assert!(!text.contains("hunter2") && text.contains("***"), "{text}");
    }

    #[test]
    fn a_multi_platform_image_is_read_as_linux() {
        let entries: Vec<oci_client::manifest::ImageIndexEntry> = serde_json::from_value(
            serde_json::json!([
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:win", "size": 1,
                 "platform": {"architecture": "amd64", "os": "windows"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:s390x", "size": 1,
                 "platform": {"architecture": "s390x", "os": "linux"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:amd64", "size": 1,
                 "platform": {"architecture": "amd64", "os": "linux"}},
            ]),
        )
        .unwrap();
        // On an x86_64 or an arm64 host alike: linux/amd64 (there is no linux/arm64 here).
        assert_eq!(linux_platform(&entries).as_deref(), Some("sha256:amd64"));
        assert_eq!(linux_platform(&entries[..2]).as_deref(), Some("sha256:win"));
    }

    #[test]
    fn docker_hub_settings_apply_however_it_is_spelled() {
        let registries = Registries::new(vec![RegistrySettings {
            registry: "docker.io".into(),
            username: Some("bot".into()),
            password: Some("token".into()),
            ..Default::default()
        }]);
        let reference: Reference = "nginx".parse().unwrap();
        assert!(matches!(
            registries.auth(reference.resolve_registry()),
            RegistryAuth::Basic(..)
        ));
    }

    #[test]
    fn loopback_registries_are_recognised() {
        for r in [
            "127.0.0.1:5000",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
            "127.0.0.5",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "ghcr.io",
            "docker.io",
            "10.0.0.1:5000",
            "registry.local:5000",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_registry_is_asked_at_most_its_rate() {
        let registries = Registries::new(vec![RegistrySettings {
            registry: "r.example".into(),
            requests_per_second: Some(2.0),
            ..Default::default()
        }]);
        let start = Instant::now();
        for _ in 0..5 {
            registries.pace("r.example").await;
        }
        // Five requests at two per second: the fifth waits until 2 s.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        let start = Instant::now();
        registries.pace("other.example").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
