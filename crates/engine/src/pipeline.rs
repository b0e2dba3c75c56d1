//! The path of one Application: Source (the commit and its files) → Render (the objects) →
//! Plan (desired versus live) → Apply (sync) → Assess (health). `bosun render|diff|sync` and the
//! controller call these, so each stage has one implementation.

// EngineError carries the stage errors whole (file, line, field path): it is returned at most
// once per Application and command, so its size does not matter and boxing would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bosun_apply::sync::{SyncEvent, SyncOutcome, SyncRequest, sync};
use bosun_assess::{AppHealth, ManagedResource, aggregate};
use bosun_clusters::{Change, LiveCache};
use bosun_model::{Application, BosunConfig, ClusterRef, SyncOptions};
use bosun_plan::resolve::Resolver;
use bosun_render::{RenderRequest, Renderer, Tools};
use bosun_source::{Credentials, RepoCache};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::connect::{Cluster, ConnectError, connect};

/// bosun's field manager for everything it applies.
pub const FIELD_MANAGER: &str = "bosun";

/// Each message ends in its cause's text (file, line, field, the server's words), so a variant's
/// `cause` is not also returned by `source()`: printing the chain would say it twice.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A CRD the render needs could not be installed.
    #[error("{app}: installing a CRD: {message}")]
    Crd { app: String, message: String },
    #[error("{app}: deleting {object}: {message}")]
    Delete {
        app: String,
        object: String,
        message: String,
    },
    #[error("{app}: {cause}")]
    Model {
        app: String,
        cause: bosun_model::ModelError,
    },
    /// The source crate's messages begin with the repository already; others are given it.
    #[error("{app}: {}", naming_repo(repo, message))]
    Source {
        app: String,
        repo: String,
        message: String,
    },
    #[error("{app}: render: {cause}")]
    Render {
        app: String,
        cause: bosun_render::RenderError,
    },
    #[error("{app}: {cause}")]
    Connect { app: String, cause: ConnectError },
    #[error("{app}: {cause}")]
    Plan {
        app: String,
        cause: bosun_plan::error::Error,
    },
    #[error("{app}: {cause}")]
    Cache {
        app: String,
        cause: bosun_clusters::NotReady,
    },
    #[error("{app}: sync: {cause}")]
    Sync {
        app: String,
        cause: bosun_apply::sync::SyncError,
    },
}

fn naming_repo(repo: &str, message: &str) -> String {
    if message.starts_with(repo) {
        message.to_string()
    } else {
        format!("source {repo}: {message}")
    }
}

/// The objects of an Application at a revision.
#[derive(Clone, Debug)]
pub struct AppRender {
    /// The commit of each source, in order.
    pub revisions: Vec<String>,
    pub objects: Vec<Value>,
}

/// One destination's connection, made once.
#[derive(Default)]
struct ClusterSlot {
    connected: OnceCell<Arc<Connected>>,
    state: std::sync::Mutex<SlotState>,
}

/// A background connection attempt (`bosun serve`) and who waits for it.
#[derive(Default)]
struct SlotState {
    connecting: bool,
    failures: u32,
    retry_at: Option<tokio::time::Instant>,
    last_error: Option<String>,
    /// Applications told when the connection is made.
    waiting: std::collections::BTreeSet<String>,
}

/// How long connecting to a cluster (version, discovery) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects to `target`, runs discovery and, when `on_change` is given, starts its watch cache.
async fn connect_cluster(
    target: &ClusterRef,
    observer: Arc<dyn Observer>,
    on_change: Option<OnLiveChange>,
    on_connect: Option<OnConnect>,
) -> Result<Arc<Connected>, ConnectError> {
    let label = target
        .name
        .clone()
        .or_else(|| target.context.clone())
        .unwrap_or_else(|| "current context".into());
    let connecting = async {
        let cluster = connect(target, observer).await?;
        // Before discovery: what the hook installs (CRDs) is then served from the start.
        if let Some(on_connect) = &on_connect {
            // The default destination is called as Argo CD calls it.
            let name = target
                .name
                .clone()
                .or_else(|| target.context.clone())
                .unwrap_or_else(|| "in-cluster".into());
            on_connect(name, cluster.client.clone()).await;
        }
        let resolver =
            Resolver::new(cluster.client.clone())
                .await
                .map_err(|e| ConnectError::Discovery {
                    cluster: label.clone(),
                    message: e.to_string(),
                })?;
        let cache = on_change.map(|on_change| {
            LiveCache::new(
                cluster.client.clone(),
                bosun_plan::tracking::APP_LABEL,
                on_change,
            )
        });
        if let Some(cache) = &cache {
            // Every type: an object of a kind the Application no longer renders is still its
            // own, to prune.
            cache.watch(resolver.listable().await.into_iter().map(|r| r.resource));
        }
        Ok(Arc::new(Connected {
            cluster,
            resolver,
            dry_runs: cache.as_ref().map(|_| bosun_plan::DryRunMemo::new()),
            cache,
        }))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Timeout {
                cluster: label.clone(),
                after: CONNECT_TIMEOUT,
            })
        })
}

struct Connected {
    cluster: Cluster,
    resolver: Resolver,
    /// The cluster's watch cache, in `bosun serve` (see [`Engine::on_live_change`]).
    cache: Option<LiveCache>,
    /// Dry-run answers kept while nothing changed (with the cache: a quiet refresh asks nothing).
    dry_runs: Option<bosun_plan::DryRunMemo>,
}

/// How long a comparison waits for a new watch cache to list every type once.
const CACHE_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Told which Application's live objects changed, and how (the controller's trigger).
pub type OnLiveChange = Arc<dyn Fn(&str, Change) + Send + Sync>;

/// Told of every cluster `bosun serve` connects to, by its name and client, before the
/// cluster is used (the rollout controller installs its CRDs and starts its watches).
pub type OnConnect = Arc<
    dyn Fn(String, kube::Client) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// Settings of a sync from the CLI or the controller.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    pub dry_run: bool,
    /// `None`: what the Application's automated policy says.
    pub prune: Option<bool>,
    pub timeout: Duration,
    /// Resume a sync a restart cut short, at this step.
    pub resume: Option<bosun_apply::sync::Step>,
    /// When the operation started (names `generateName` hooks: the same after a resume).
    pub started: std::time::SystemTime,
    /// A partial sync: only these objects, pruning only among them, no hooks. `None`: all.
    pub only: Option<std::collections::BTreeSet<bosun_plan::ResourceKey>>,
}

/// Told how long each Git fetch and render took and how each Kubernetes API call ended, so the
/// controller can export them as metrics without the engine knowing about Prometheus.
pub trait Observer: Send + Sync {
    fn git_fetch(&self, _repo: &str, _took: Duration, _ok: bool) {}
    fn render(&self, _app: &str, _took: Duration, _ok: bool) {}
    /// `status` is the HTTP status, or `None` when no answer arrived (connection error).
    fn kube_response(&self, _status: Option<u16>) {}
}

struct NoObserver;
impl Observer for NoObserver {}

/// One per process: the repository cache, the renderer and the cluster connections are shared
/// by every Application.
pub struct Engine {
    pub config: BosunConfig,
    repos: Arc<RepoCache>,
    renderer: Renderer,
    /// One cell per destination: connecting to one cluster holds no lock that another
    /// cluster's Applications wait on, and a failed connect leaves the cell empty for a retry.
    clusters: std::sync::Mutex<HashMap<String, Arc<ClusterSlot>>>,
    observer: Arc<dyn Observer>,
    live_changes: std::sync::OnceLock<OnLiveChange>,
    on_connect: std::sync::OnceLock<OnConnect>,
    /// The cluster Applications live in as objects (Argo CD's `in-cluster`), once connected.
    management: tokio::sync::OnceCell<kube::Client>,
}

/// `~/.cache/bosun` unless `BOSUN_CACHE` says otherwise.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("BOSUN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir)
                .join(".cache/bosun")
        })
}

impl Engine {
    pub fn new(config: BosunConfig, cache_dir: PathBuf) -> Result<Engine, bosun_source::Error> {
        Ok(Engine {
            repos: Arc::new(RepoCache::new(cache_dir.join("repos"))?),
            renderer: Renderer::new(Tools::discover()).with_plugins(config.plugins.clone()),
            config,
            clusters: std::sync::Mutex::new(HashMap::new()),
            observer: Arc::new(NoObserver),
            live_changes: std::sync::OnceLock::new(),
            on_connect: std::sync::OnceLock::new(),
            management: tokio::sync::OnceCell::new(),
        })
    }

    /// Keeps a watch cache of every cluster connected from now on: comparisons read what an
    /// Application owns from it instead of listing every type, and `on_change` hears of every
    /// change to a tracked object (a long-running controller; one-shot commands list instead).
    pub fn on_live_change(&self, on_change: OnLiveChange) {
        let _ = self.live_changes.set(on_change);
    }

    /// Calls `on_connect` for each cluster connected from now on, before it is used.
    pub fn on_connect(&self, on_connect: OnConnect) {
        let _ = self.on_connect.set(on_connect);
    }

    /// The live objects tracked as `app`'s, from the watch cache: `None` without one (or before
    /// its destination is connected).
    pub async fn cached_objects(&self, app: &Application) -> Option<Vec<Value>> {
        let connected = self.cluster(app).await.ok()?;
        let cache = connected.cache.as_ref()?;
        cache.ready(CACHE_READY_TIMEOUT).await.ok()?;
        Some(tracked_in(cache, &app.metadata.name))
    }

    /// What `app` owns live: from the watch cache (made current for the kinds it renders), or
    /// listed from the cluster without one.
    async fn tracked(
        &self,
        app: &Application,
        connected: &Connected,
        rendered: &AppRender,
    ) -> Result<Vec<Value>, EngineError> {
        let name = app.metadata.name.clone();
        let Some(cache) = &connected.cache else {
            return bosun_plan::tracking::find_tracked(&connected.resolver, &name)
                .await
                .map_err(|cause| EngineError::Plan { app: name, cause });
        };
        // A kind defined since the cache started (a CRD a sync created) is watched from now on.
        let (_, kinds) = self.live_kinds(app, &rendered.objects).await?;
        cache.watch(kinds);
        cache
            .ready(CACHE_READY_TIMEOUT)
            .await
            .map_err(|cause| EngineError::Cache {
                app: name.clone(),
                cause,
            })?;
        Ok(tracked_in(cache, &name))
    }

    /// The same engine, reporting to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Engine {
        self.observer = observer;
        self
    }

    /// The files of `revision` of `repo_url` (app-of-apps: the controller reads Application
    /// manifests from Git): the commit and its read-only checkout directory.
    pub async fn checkout(
        &self,
        repo_url: &str,
        revision: &str,
    ) -> Result<(String, PathBuf), EngineError> {
        let checkout = self.fetch("app-of-apps", repo_url, revision).await?;
        Ok((checkout.commit.as_str().to_string(), checkout.dir))
    }

    /// Resolves `revision` of `repo_url` and checks it out (timed for the observer); errors
    /// name `app` and the repository without credentials.
    async fn fetch(
        &self,
        app: &str,
        repo_url: &str,
        revision: &str,
    ) -> Result<bosun_source::Checkout, EngineError> {
        let creds = self.credentials(app, repo_url)?;
        let (repos, url, revision) = (
            self.repos.clone(),
            repo_url.to_string(),
            revision.to_string(),
        );
        let started = std::time::Instant::now();
        // gix is blocking: the fetch and checkout run off the async threads.
        let result = tokio::task::spawn_blocking(move || {
            let commit = repos.resolve(&url, &revision, &creds)?;
            repos.checkout(&url, &commit, &creds)
        })
        .await
        .expect("checkout task panicked");
        let redacted = bosun_source::redact_url(repo_url);
        self.observer
            .git_fetch(&redacted, started.elapsed(), result.is_ok());
        result.map_err(|e| EngineError::Source {
            app: app.into(),
            repo: redacted,
            message: e.to_string(),
        })
    }

    /// Makes sure `app`'s destination is connected (in `bosun serve`, an error says it is still
    /// connecting, and the Application is told when it is done).
    pub async fn connect_destination(&self, app: &Application) -> Result<(), EngineError> {
        self.cluster(app).await.map(|_| ())
    }

    /// The management cluster: the one Argo CD calls `in-cluster` (bosun.yaml's cluster of that
    /// name or server, else the current kubeconfig context), where Applications are kept as
    /// objects.
    pub async fn management_client(&self) -> Result<kube::Client, ConnectError> {
        self.management
            .get_or_try_init(|| async {
                let destination = bosun_model::Destination {
                    server: Some(bosun_model::config::IN_CLUSTER_SERVER.into()),
                    ..Default::default()
                };
                let target = self
                    .config
                    .resolve_destination(&destination)
                    .unwrap_or_else(|_| ClusterRef::current_context());
                Ok(crate::connect::connect(&target, self.observer.clone())
                    .await?
                    .client)
            })
            .await
            .cloned()
    }

    /// Deletes every live object `app` owns (Argo CD's cascading delete of an Application with
    /// the resources finalizer), with `propagation` as the policy, except objects marked
    /// `argocd.argoproj.io/sync-options: Delete=false`. Returns how many deletions were sent; an
    /// object already gone counts as deleted.
    pub async fn delete_resources(
        &self,
        app: &Application,
        propagation: bosun_model::PropagationPolicy,
    ) -> Result<usize, EngineError> {
        let name = app.metadata.name.clone();
        let connected = self.cluster(app).await?;
        let plan_error = |cause| EngineError::Plan {
            app: name.clone(),
            cause,
        };
        let tracked = bosun_plan::tracking::find_tracked(&connected.resolver, &name)
            .await
            .map_err(plan_error)?;
        let policy = match propagation {
            bosun_model::PropagationPolicy::Foreground => kube::api::PropagationPolicy::Foreground,
            bosun_model::PropagationPolicy::Background => kube::api::PropagationPolicy::Background,
            bosun_model::PropagationPolicy::Orphan => kube::api::PropagationPolicy::Orphan,
        };
        let params = kube::api::DeleteParams {
            propagation_policy: Some(policy),
            ..Default::default()
        };
        let mut deleted = 0;
        for object in tracked {
            let keep = bosun_model::argo::sync_options(&object, &SyncOptions::default())
                .is_ok_and(|o| o.delete == bosun_model::DeletionMode::Skip);
            if keep {
                continue;
            }
            let key = bosun_plan::ResourceKey::of(&object);
            let prepared = bosun_plan::live::prepare(
                &connected.resolver,
                &object,
                &name,
                key.namespace.as_deref().unwrap_or_default(),
            )
            .await
            .map_err(plan_error)?;
            let client = connected.resolver.client().clone();
            let api: kube::Api<kube::api::DynamicObject> =
                match (prepared.resolved.namespaced(), &key.namespace) {
                    (true, Some(ns)) => {
                        kube::Api::namespaced_with(client, ns, &prepared.resolved.resource)
                    }
                    _ => kube::Api::all_with(client, &prepared.resolved.resource),
                };
            match api.delete(&key.name, &params).await {
                Ok(_) => deleted += 1,
                Err(kube::Error::Api(e)) if e.code == 404 => deleted += 1,
                Err(e) => {
                    return Err(EngineError::Delete {
                        app: name.clone(),
                        object: key.to_string(),
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(deleted)
    }

    /// The kube-rs client of an Application's destination (the controller reads the resource
    /// tree with it).
    pub async fn client(&self, app: &Application) -> Result<kube::Client, EngineError> {
        Ok(self.cluster(app).await?.cluster.client.clone())
    }

    /// One live object of `app`'s destination, as the cluster holds it (unmasked: the caller
    /// masks before showing it): `group`/`kind` at the group's preferred version, in
    /// `namespace` when the kind is namespaced. `None` when the cluster does not serve the kind
    /// or has no such object.
    pub async fn live_object(
        &self,
        app: &Application,
        key: &bosun_plan::ResourceKey,
    ) -> Result<Option<Value>, EngineError> {
        let connected = self.cluster(app).await?;
        let Some(resolved) = connected
            .resolver
            .resolve_group_kind(&key.group, &key.kind)
            .await
        else {
            return Ok(None);
        };
        let client = connected.cluster.client.clone();
        let api: kube::Api<kube::api::DynamicObject> = match &key.namespace {
            Some(ns) if resolved.namespaced() => {
                kube::Api::namespaced_with(client, ns, &resolved.resource)
            }
            _ => kube::Api::all_with(client, &resolved.resource),
        };
        match api.get_opt(&key.name).await {
            Ok(found) => Ok(found.map(|o| bosun_plan::live::to_value(o, &resolved))),
            Err(cause) => Err(EngineError::Plan {
                app: app.metadata.name.clone(),
                cause: bosun_plan::error::Error::Get {
                    key: key.clone(),
                    cause: Box::new(cause),
                },
            }),
        }
    }

    /// The kube-rs client of an Application's destination and the API resources of the kinds it
    /// renders (those the cluster serves): what the controller watches for self-heal.
    pub async fn live_kinds(
        &self,
        app: &Application,
        objects: &[Value],
    ) -> Result<(kube::Client, Vec<kube::discovery::ApiResource>), EngineError> {
        let connected = self.cluster(app).await?;
        let mut seen = std::collections::BTreeSet::new();
        let mut kinds = Vec::new();
        for object in objects {
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            let kind = object["kind"].as_str().unwrap_or_default();
            if !seen.insert((api_version.to_string(), kind.to_string())) {
                continue;
            }
            if let Ok(Some(resolved)) = connected.resolver.resolve(api_version, kind).await {
                kinds.push(resolved.resource);
            }
        }
        Ok((connected.cluster.client.clone(), kinds))
    }

    /// The credentials bosun.yaml gives for `repo_url` (read from the environment now), for
    /// `app`'s errors.
    pub fn credentials(&self, app: &str, repo_url: &str) -> Result<Credentials, EngineError> {
        let Some(c) = self.config.credentials_for(repo_url) else {
            return Ok(Credentials::none());
        };
        Credentials::from_env(
            c.username.clone(),
            c.token_env.as_deref().or(c.password_env.as_deref()),
            c.ssh_key_file.as_ref().map(PathBuf::from),
        )
        .map_err(|e| EngineError::Source {
            app: app.into(),
            repo: bosun_source::redact_url(repo_url),
            message: e.to_string(),
        })
    }

    /// The connection to `app`'s destination. One-shot commands connect here and wait. In
    /// `bosun serve` (a watch cache is kept) the connection is made by a task of its own and this
    /// answers at once: a slow or unreachable cluster holds no reconcile of any Application, and
    /// the Applications that asked are told (as a live change) when it is ready.
    async fn cluster(&self, app: &Application) -> Result<Arc<Connected>, EngineError> {
        let name = app.metadata.name.clone();
        let target: ClusterRef = self
            .config
            .resolve_destination(&app.spec.destination)
            .map_err(|cause| EngineError::Model {
                app: name.clone(),
                // The path is relative to the destination; say where it is in the Application.
                cause: cause.under("spec.destination"),
            })?;
        let key = format!("{:?}/{:?}", target.kubeconfig, target.context);
        let slot = self
            .clusters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone();
        if let Some(connected) = slot.connected.get() {
            return Ok(connected.clone());
        }
        let Some(on_change) = self.live_changes.get().cloned() else {
            let connected = slot
                .connected
                .get_or_try_init(|| connect_cluster(&target, self.observer.clone(), None, None))
                .await
                .map_err(|cause| EngineError::Connect { app: name, cause })?;
            return Ok(connected.clone());
        };
        let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
        state.waiting.insert(name.clone());
        let now = tokio::time::Instant::now();
        if !state.connecting && state.retry_at.is_none_or(|at| now >= at) {
            state.connecting = true;
            let (slot, observer) = (slot.clone(), self.observer.clone());
            let target = target.clone();
            let on_connect = self.on_connect.get().cloned();
            tokio::spawn(async move {
                let result =
                    connect_cluster(&target, observer, Some(on_change.clone()), on_connect).await;
                let waiting = {
                    let mut state = slot.state.lock().unwrap_or_else(|p| p.into_inner());
                    state.connecting = false;
                    match &result {
                        Ok(_) => {
                            state.last_error = None;
                            state.failures = 0;
                            std::mem::take(&mut state.waiting)
                        }
                        Err(e) => {
                            // Those waiting are told either way: they see the error and retry
                            // on their own backoff; a new attempt waits for this cluster's
                            // (1 s doubling to a minute), however often they ask.
                            state.failures += 1;
                            let wait = Duration::from_secs(1 << state.failures.min(6));
                            state.retry_at = Some(tokio::time::Instant::now() + wait);
                            state.last_error = Some(e.to_string());
                            tracing::warn!(cluster = %e, retry_in = ?wait, "connecting failed");
                            std::mem::take(&mut state.waiting)
                        }
                    }
                };
                if let Ok(connected) = result {
                    let _ = slot.connected.set(connected);
                }
                for app in waiting {
                    on_change(&app, Change::Spec);
                }
            });
        }
        Err(EngineError::Connect {
            app: name,
            cause: ConnectError::Pending {
                cluster: target
                    .name
                    .clone()
                    .or_else(|| target.context.clone())
                    .unwrap_or_else(|| "current context".into()),
                last_error: state.last_error.clone(),
            },
        })
    }

    fn destination_namespace(app: &Application, cluster: Option<&Cluster>) -> String {
        app.spec
            .destination
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| cluster.map(|c| c.default_namespace.clone()))
            .unwrap_or_else(|| "default".into())
    }

    /// Source + Render. With a cluster, Helm sees its version and API versions.
    async fn render_with(
        &self,
        app: &Application,
        cluster: Option<&Cluster>,
    ) -> Result<AppRender, EngineError> {
        let name = app.metadata.name.clone();
        let namespace = Self::destination_namespace(app, cluster);
        let allow_empty = app
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
            .is_some_and(|a| a.allow_empty);
        let project = app.spec.project.clone().unwrap_or_else(|| "default".into());
        // Every source's checkout (or pulled chart) first: a source's helm value files may
        // come from another source, named by its `ref` (`$values/...`).
        let sources = app.spec.all_sources();
        let mut fetched = Vec::with_capacity(sources.len());
        let mut refs = std::collections::BTreeMap::new();
        for source in &sources {
            let revision = source.target_revision.clone().unwrap_or_default();
            // A chart of a Helm repository is pulled (its revision is the chart's version); any
            // other source is a Git checkout.
            let (root, commit) =
                match source.chart.as_deref().filter(|c| !c.is_empty()) {
                    Some(chart) => {
                        let credentials = self.credentials(&name, &source.repo_url)?;
                        let credentials = credentials.secret.as_ref().map(|secret| {
                            bosun_render::ChartCredentials {
                                username: credentials.username.clone().unwrap_or_default(),
                                password: secret.expose().to_string(),
                            }
                        });
                        let pulled = self
                            .renderer
                            .pull_chart(&source.repo_url, chart, &revision, credentials.as_ref())
                            .await
                            .map_err(|cause| EngineError::Render {
                                app: name.clone(),
                                cause,
                            })?;
                        (pulled.root, pulled.version)
                    }
                    None => {
                        let checkout = self.fetch(&name, &source.repo_url, &revision).await?;
                        (checkout.dir, checkout.commit.as_str().to_string())
                    }
                };
            if let Some(reference) = source.reference.as_deref().filter(|r| !r.is_empty()) {
                refs.insert(
                    reference.to_string(),
                    bosun_render::RefSource {
                        root: root.clone(),
                        commit: commit.clone(),
                    },
                );
            }
            fetched.push((root, commit));
        }
        let mut revisions = Vec::new();
        let mut objects = Vec::new();
        for (source, (root, commit)) in sources.iter().zip(fetched) {
            // A source with a ref and no path gives value files only, as in Argo CD.
            let values_only = source.reference.as_deref().is_some_and(|r| !r.is_empty())
                && source.path.as_deref().is_none_or(|p| p.trim().is_empty());
            if values_only {
                revisions.push(commit);
                continue;
            }
            let request = RenderRequest {
                checkout_root: &root,
                commit: &commit,
                source,
                app_name: &name,
                namespace: &namespace,
                kube_version: cluster.map(|c| c.kube_version.clone()),
                api_versions: cluster.map(|c| c.api_versions.clone()).unwrap_or_default(),
                allow_empty,
                project: &project,
                refs: &refs,
            };
            let started = std::time::Instant::now();
            let rendered = self.renderer.render(&request).await;
            self.observer
                .render(&name, started.elapsed(), rendered.is_ok());
            let rendered = rendered.map_err(|cause| EngineError::Render {
                app: name.clone(),
                cause,
            })?;
            revisions.push(commit);
            objects.extend(rendered.objects);
        }
        Ok(AppRender { revisions, objects })
    }

    /// `bosun render`: the Application's objects, without a cluster.
    pub async fn render(&self, app: &Application) -> Result<AppRender, EngineError> {
        self.render_with(app, None).await
    }

    /// `bosun diff`: render, then compare with the destination cluster.
    pub async fn diff(
        &self,
        app: &Application,
    ) -> Result<(AppRender, bosun_plan::Plan), EngineError> {
        let name = app.metadata.name.clone();
        let connected = self.cluster(app).await?;
        let rendered = self.render_with(app, Some(&connected.cluster)).await?;
        self.ensure_application_crd(app, &connected, &rendered)
            .await?;
        let namespace = Self::destination_namespace(app, Some(&connected.cluster));
        let tracked = self.tracked(app, &connected, &rendered).await?;
        let plan = bosun_plan::plan_with_tracked(
            &connected.resolver,
            &rendered.objects,
            &name,
            &namespace,
            &app.spec.ignore_differences,
            FIELD_MANAGER,
            tracked,
            connected.dry_runs.as_ref(),
        )
        .await
        .map_err(|cause| EngineError::Plan {
            app: name.clone(),
            cause,
        })?;
        Ok((rendered, plan))
    }

    /// An app-of-apps renders Argo CD Applications: a cluster that does not serve them gets
    /// bosun's Application CRD first (as `bosun serve` installs it at start), unless the render
    /// brings its own.
    async fn ensure_application_crd(
        &self,
        app: &Application,
        connected: &Connected,
        rendered: &AppRender,
    ) -> Result<(), EngineError> {
        let is_application = |o: &Value| {
            o["kind"] == "Application"
                && o["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("argoproj.io/"))
        };
        let defines_it = |o: &Value| {
            o["kind"] == "CustomResourceDefinition"
                && o["metadata"]["name"] == "applications.argoproj.io"
        };
        let Some(child) = rendered.objects.iter().find(|o| is_application(o)) else {
            return Ok(());
        };
        if rendered.objects.iter().any(defines_it) {
            return Ok(());
        }
        let api_version = child["apiVersion"].as_str().unwrap_or_default();
        if let Ok(Some(_)) = connected.resolver.resolve(api_version, "Application").await {
            return Ok(());
        }
        let installed = bosun_clusters::crds::ensure(
            connected.resolver.client(),
            vec![bosun_clusters::crds::application()],
        )
        .await
        .map_err(|message| EngineError::Crd {
            app: app.metadata.name.clone(),
            message,
        })?;
        for crd in installed {
            tracing::info!(app = %app.metadata.name, crd = %crd, "installed the Application CRD for the Applications this app renders");
        }
        Ok(())
    }

    /// `bosun sync`: render, plan, apply, and assess what is live afterwards.
    pub async fn sync(
        &self,
        app: &Application,
        settings: &SyncSettings,
        on_event: &(dyn Fn(&SyncEvent) + Sync),
    ) -> Result<SyncReport, EngineError> {
        let (rendered, plan) = self.diff(app).await?;
        self.sync_planned(app, rendered, &plan, settings, on_event)
            .await
    }

    /// Applies a plan made just now by [`Engine::diff`] for `app` (the controller compares,
    /// decides, then syncs what it compared: the Application is not planned a second time).
    pub async fn sync_planned(
        &self,
        app: &Application,
        rendered: AppRender,
        plan: &bosun_plan::Plan,
        settings: &SyncSettings,
        on_event: &(dyn Fn(&SyncEvent) + Sync),
    ) -> Result<SyncReport, EngineError> {
        let name = app.metadata.name.clone();
        let policy = app.spec.sync_policy.clone().unwrap_or_default();
        let options =
            SyncOptions::parse(&policy.sync_options).map_err(|cause| EngineError::Model {
                app: name.clone(),
                cause,
            })?;
        let connected = self.cluster(app).await?;
        let planned = plan
            .resources
            .iter()
            .map(|r| (r.key.clone(), r.status))
            .collect();
        let request = SyncRequest {
            app: name.clone(),
            namespace: Self::destination_namespace(app, Some(&connected.cluster)),
            objects: rendered.objects.clone(),
            options,
            prune: settings
                .prune
                .unwrap_or_else(|| policy.automated.as_ref().is_some_and(|a| a.prune)),
            dry_run: settings.dry_run,
            timeout: settings.timeout,
            manager: FIELD_MANAGER.into(),
            planned,
            unchanged: plan
                .resources
                .iter()
                .filter(|r| r.noop)
                .filter_map(|r| Some((r.key.clone(), r.observed.clone()?)))
                .collect(),
            tracked: Some(self.tracked(app, &connected, &rendered).await?),
            resume: settings.resume,
            revision: rendered.revisions.first().cloned().unwrap_or_default(),
            started: settings.started,
            shared: plan
                .resources
                .iter()
                .filter_map(|r| r.shared_warning(&name))
                .collect(),
            only: settings.only.clone(),
        };
        // A refused write is retried with the Application's backoff (Argo CD's `retry`); a sync
        // that ran but did not become healthy is not, as in Argo CD.
        let mut delays = match &policy.retry {
            Some(retry) => Some(retry.delays().map_err(|cause| EngineError::Model {
                app: name.clone(),
                cause,
            })?),
            None => None,
        };
        let outcome = loop {
            match sync(&connected.resolver, &request, on_event).await {
                Ok(outcome) => break outcome,
                Err(source) => match delays.as_mut().and_then(Iterator::next) {
                    Some(wait) if !settings.dry_run => {
                        tracing::warn!(app = %name, error = %source, retry_in = ?wait, "sync failed; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    _ => {
                        return Err(EngineError::Sync {
                            app: name.clone(),
                            cause: source,
                        });
                    }
                },
            }
        };
        // After a real sync the write answers are the live objects: no second read. A dry run's
        // answers are predictions, so the cluster is read instead.
        let health = if settings.dry_run {
            self.health(app, &rendered).await?
        } else {
            health_after_sync(plan, &outcome)
        };
        Ok(SyncReport {
            rendered,
            outcome,
            health,
        })
    }

    /// The health of what the render wants, as it is live now.
    pub async fn health(
        &self,
        app: &Application,
        rendered: &AppRender,
    ) -> Result<AppHealth, EngineError> {
        let name = app.metadata.name.clone();
        let connected = self.cluster(app).await?;
        let namespace = Self::destination_namespace(app, Some(&connected.cluster));
        let mut pairs = Vec::new();
        for object in &rendered.objects {
            let prepared =
                bosun_plan::live::prepare(&connected.resolver, object, &name, &namespace)
                    .await
                    .map_err(|cause| EngineError::Plan {
                        app: name.clone(),
                        cause,
                    })?;
            let live = bosun_plan::live::get_live(&connected.resolver, &prepared)
                .await
                .map_err(|cause| EngineError::Plan {
                    app: name.clone(),
                    cause,
                })?;
            pairs.push((object.clone(), live));
        }
        Ok(aggregate(pairs.iter().map(|(target, live)| {
            ManagedResource {
                target: Some(target),
                live: live.as_ref(),
            }
        })))
    }
}

/// The health of what a plan compared, from the live objects the plan already read: no request.
/// Hooks and objects left to prune do not count, as in Argo CD.
pub fn health_of_plan(plan: &bosun_plan::Plan) -> AppHealth {
    health_with(plan, &HashMap::new())
}

/// Health right after a sync: each written object as the server answered the write, and the
/// plan's reading for those not written (skipped as in sync).
fn health_after_sync(plan: &bosun_plan::Plan, outcome: &SyncOutcome) -> AppHealth {
    let written: HashMap<bosun_plan::ResourceKey, &Value> = outcome
        .written
        .iter()
        .map(|o| (bosun_plan::ResourceKey::of(o), o))
        .collect();
    health_with(plan, &written)
}

/// The plan's resources (hooks and objects left to prune aside), each live as `newer` has it or
/// else as the plan read it.
fn health_with(
    plan: &bosun_plan::Plan,
    newer: &HashMap<bosun_plan::ResourceKey, &Value>,
) -> AppHealth {
    aggregate(
        plan.resources
            .iter()
            .filter(|r| !r.hook && r.status != bosun_plan::SyncState::Extraneous)
            .map(|r| ManagedResource {
                target: r.predicted.as_ref(),
                live: newer.get(&r.key).copied().or(r.observed.as_ref()),
            }),
    )
}

/// What a sync did and where it left the Application.
#[derive(Clone, Debug)]
pub struct SyncReport {
    pub rendered: AppRender,
    pub outcome: SyncOutcome,
    pub health: AppHealth,
}

/// The objects of `cache` that `app` owns: its label and a tracking annotation naming them.
fn tracked_in(cache: &LiveCache, app: &str) -> Vec<Value> {
    cache
        .objects_of(app)
        .into_iter()
        .filter(|o| bosun_plan::tracking::is_tracked_by(o, app))
        .collect()
}
