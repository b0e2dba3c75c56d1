//! `bosun serve`: the controller and its HTTP API in one process, configured by `bosun.yaml`.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bosun_analysis::controller::AnalysisController;
use bosun_controller::catalog::CatalogSource;
use bosun_controller::metrics::Metrics;
use bosun_controller::{Controller, ControllerSettings};
use bosun_engine::pipeline::{Engine, default_cache_dir};
use bosun_images::registry::{Registries, RegistrySettings};
use bosun_images::updater::{CredentialsFor, ImageUpdater, UpdaterSettings};
use bosun_model::BosunConfig;
use bosun_model::commit_template::CommitTemplate;
use bosun_record::Store;
use bosun_rollout::RolloutController;
use bosun_server::auth::Tokens;
use bosun_server::{ApiState, router};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// bosun's config: Application sources, clusters, repository credentials, tokens, webhook.
    #[arg(long, env = "BOSUN_CONFIG")]
    pub config: PathBuf,
    /// Address of the API (and /metrics, /healthz, the webhook).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Keep history, operations in flight and the audit log in SQLite here (default: memory).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Structured logs: JSON when stderr is not a terminal (a service), readable lines otherwise.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BOSUN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        let _ = builder.try_init();
    } else {
        let _ = builder.json().flatten_event(true).try_init();
    }
}

/// The config, which for `bosun serve` must name where Applications come from.
fn read_serve_config(path: &Path) -> anyhow::Result<BosunConfig> {
    let config = crate::apps::read_config(path)?;
    if config.applications.is_empty() {
        anyhow::bail!(
            "{}: applications: list at least one source of Applications (path, repoURL and path, or namespace)",
            path.display()
        );
    }
    for section in config.unknown_sections() {
        tracing::warn!(file = %path.display(), section, "unknown config section ignored");
    }
    Ok(config)
}

/// The webhook secret, if configured. Short secrets are refused: an HMAC under an empty or
/// guessable key lets anyone sign webhooks.
fn read_secret(env: Option<&str>, file: Option<&str>) -> anyhow::Result<Option<Vec<u8>>> {
    let secret = read_secret_value(env, file)?;
    if let Some(secret) = &secret
        && secret.len() < 16
    {
        anyhow::bail!(
            "server.webhook: the GitHub webhook secret is {} characters; use a random one of 16 or more",
            secret.len()
        );
    }
    Ok(secret)
}

fn read_secret_value(env: Option<&str>, file: Option<&str>) -> anyhow::Result<Option<Vec<u8>>> {
    match (env, file) {
        (Some(var), _) => Ok(Some(
            std::env::var(var)
                .with_context(|| {
                    format!("server.webhook.githubSecretEnv: environment variable {var} is not set")
                })?
                .trim()
                .as_bytes()
                .to_vec(),
        )),
        (None, Some(file)) => Ok(Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("server.webhook.githubSecretFile: {file}"))?
                .trim()
                .as_bytes()
                .to_vec(),
        )),
        (None, None) => Ok(None),
    }
}

/// A controller and API ready to run, and the address they listen on.
pub struct Server {
    pub controller: Arc<Controller>,
    pub listener: tokio::net::TcpListener,
    pub state: Arc<ApiState>,
}

/// Builds everything `bosun serve` runs, failing early on bad config or an unusable store.
pub async fn prepare(
    config_path: &Path,
    listen: SocketAddr,
    data: Option<&Path>,
) -> anyhow::Result<Server> {
    // Everything the config refers to is read, and the address bound, before anything is
    // written: bad input (a missing token file, a token used twice, a busy port) leaves no data
    // directory, store or cache behind.
    let config = read_serve_config(config_path)?;
    let tokens = Tokens::load(&config.server.tokens)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config_path.display()))?;
    if tokens.is_empty() {
        tracing::warn!(
            "no API tokens configured (server.tokens): only /healthz, /readyz, /metrics and the webhook answer"
        );
    }
    let webhook_secret = read_secret(
        config.server.webhook.github_secret_env.as_deref(),
        config.server.webhook.github_secret_file.as_deref(),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            config_path.display(),
            bosun_model::describe_chain(e.as_ref())
        )
    })?;
    let registry_webhook_secret = match &config.images.webhook_secret_env {
        Some(var) => Some(
            std::env::var(var)
                .ok()
                .filter(|v| v.trim().len() >= 16)
                .with_context(|| {
                    format!(
                        "{}: images.webhookSecretEnv: environment variable {var} is not set or shorter than 16 characters",
                        config_path.display()
                    )
                })?
                .trim()
                .as_bytes()
                .to_vec(),
        ),
        None => None,
    };
    let registries = registry_settings(&config, config_path)?;
    // Checked when the config was read; taken out here so the loop cannot meet a bad one.
    let commit_template = config
        .images
        .commit_template()
        .map_err(|e| anyhow::anyhow!("{}: {e}", config_path.display()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let metrics = Arc::new(Metrics::new());
    let cache = match data {
        Some(dir) if std::env::var_os("BOSUN_CACHE").is_none() => dir.join("cache"),
        _ => default_cache_dir(),
    };
    let engine = Arc::new(Engine::new(config.clone(), cache)?.with_observer(metrics.clone()));
    // Every cluster the Applications reach: its Rollouts are driven by bosun (CRDs installed
    // before the cluster is first compared, so a synced Rollout is served at once). 32 reconciles
    // at once: a reconcile mostly waits for one round trip to the API server, and 1,000 pauses
    // that end in the same second are recorded within 0.5 s with 32 and 1-1.5 s with 8 or 16
    // (docs/benchmarks.md, "Rollouts at scale").
    let rollouts = RolloutController::new(metrics.runtime.clone(), 32);
    // AnalysisRuns: measured by their own controller, read by the Rollouts that own them.
    let analysis = AnalysisController::new(metrics.runtime.clone(), 8);
    rollouts.with_analysis(analysis.clone());
    {
        let rollouts = Arc::downgrade(&rollouts);
        let analysis = Arc::downgrade(&analysis);
        engine.on_connect(Arc::new(move |cluster, client| {
            let (rollouts, analysis) = (rollouts.clone(), analysis.clone());
            Box::pin(async move {
                // Rollouts first: they install the CRDs the runs' watch lists. A Rollout looks
                // again until the runs are listed, so it never decides without them.
                if let Some(rollouts) = rollouts.upgrade() {
                    rollouts.add_cluster(cluster.clone(), client.clone()).await;
                }
                if let Some(analysis) = analysis.upgrade() {
                    analysis.add_cluster(cluster, client).await;
                }
            })
        }));
    }
    let store = Arc::new(match data {
        Some(dir) => Store::open(dir)?,
        None => Store::in_memory()?,
    });
    let base = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let sources = config
        .applications
        .iter()
        .map(|entry| CatalogSource::from_config(entry, base))
        .collect();
    let controller = Controller::new(
        engine,
        store.clone(),
        metrics.clone(),
        controller_settings(&config, data),
        sources,
    );
    let images = image_updater(
        &config,
        (registries, commit_template),
        data,
        &controller,
        store,
        &metrics,
    );
    let state = Arc::new(ApiState {
        controller: controller.clone(),
        rollouts: rollouts.clone(),
        tokens,
        webhook_secret,
        images,
        registry_webhook_secret,
        sessions: Default::default(),
        deliveries: Default::default(),
    });
    Ok(Server {
        controller,
        listener,
        state,
    })
}

impl Server {
    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Starts the controller, then serves until `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.state.rollouts.start();
        // The image loop learns of Applications from the controller's status events: a new
        // Application, or one whose image annotations changed, is checked at once.
        self.state.images.start();
        {
            let images = Arc::downgrade(&self.state.images);
            let mut events = self.controller.subscribe();
            tokio::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(event) => {
                            let Some(images) = images.upgrade() else {
                                return;
                            };
                            if let Some(name) = event.application["metadata"]["name"].as_str() {
                                images.application_seen(name);
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            let Some(images) = images.upgrade() else {
                                return;
                            };
                            images.resync();
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
            // Changed ImageUpdater objects may select other Applications or configure them
            // differently: every Application is looked at again (unchanged ones cost nothing).
            let images = Arc::downgrade(&self.state.images);
            let mut updaters = self.controller.subscribe_image_updaters();
            tokio::spawn(async move {
                while updaters.changed().await.is_ok() {
                    let Some(images) = images.upgrade() else {
                        return;
                    };
                    images.resync();
                }
            });
        }
        // The server answers from the start: /healthz at once, /readyz 503 until the first
        // catalog load, the API as soon as that load is done (it waits for it).
        let (stop, mut stopping) = tokio::sync::watch::channel(false);
        let serving =
            axum::serve(self.listener, router(self.state)).with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop.send(true);
            });
        let controller = self.controller.clone();
        let starting = async move {
            let interrupted = controller.start().await?;
            if !interrupted.is_empty() {
                eprintln!(
                    "bosun serve: {} operation(s) were interrupted by the last stop; see `bosun app history`",
                    interrupted.len()
                );
            }
            std::future::pending::<anyhow::Result<()>>().await
        };
        // Open event streams never end on their own: after the signal, in-flight calls get a
        // few seconds to finish, then the server stops regardless.
        tokio::select! {
            result = serving => result?,
            result = starting => result?,
            _ = async {
                let _ = stopping.wait_for(|stopped| *stopped).await;
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            } => tracing::info!("stopped with event streams still open"),
        }
        Ok(())
    }
}

/// The Applications of the controller, as the image loop reads them.
struct ControllerCatalog(std::sync::Weak<Controller>);

impl bosun_images::updater::Catalog for ControllerCatalog {
    fn application(&self, name: &str) -> Option<bosun_model::Application> {
        self.0.upgrade()?.application(name)
    }

    fn names(&self) -> Vec<String> {
        self.0.upgrade().map(|c| c.names()).unwrap_or_default()
    }

    fn image_updaters(&self) -> Arc<Vec<bosun_model::image_updater::ImageUpdaterResource>> {
        self.0
            .upgrade()
            .map(|c| c.image_updaters())
            .unwrap_or_default()
    }

    fn repository_changed(&self, repo_url: &str) {
        if let Some(controller) = self.0.upgrade() {
            controller.repository_changed(repo_url);
        }
    }
}

/// The image update loop: the registries of [`registry_settings`], bosun's own clones under the
/// data or cache directory, repository credentials as the engine's.
fn image_updater(
    config: &BosunConfig,
    (registries, commit_template): (Vec<RegistrySettings>, CommitTemplate),
    data: Option<&Path>,
    controller: &Arc<Controller>,
    store: Arc<Store>,
    metrics: &Arc<Metrics>,
) -> Arc<ImageUpdater> {
    let work_dir = match data {
        Some(dir) => dir.join("images"),
        None => default_cache_dir().join("image-writes"),
    };
    let author = config
        .images
        .author
        .as_ref()
        .map(|a| bosun_source::Author {
            name: a.name.clone(),
            email: a.email.clone(),
        })
        .unwrap_or_default();
    let repositories = config.clone();
    let credentials: CredentialsFor = Arc::new(move |url: &str| {
        let Some(c) = repositories.credentials_for(url) else {
            return Ok(bosun_source::Credentials::none());
        };
        bosun_source::Credentials::from_env(
            c.username.clone(),
            c.token_env.as_deref().or(c.password_env.as_deref()),
            c.ssh_key_file.as_ref().map(PathBuf::from),
        )
        .map_err(|e| e.to_string())
    });
    ImageUpdater::new(
        Arc::new(Registries::with_metrics(registries, metrics.images.clone())),
        UpdaterSettings {
            interval: config.images.interval(),
            author,
            work_dir,
            commit_template,
        },
        Arc::new(ControllerCatalog(Arc::downgrade(controller))),
        store,
        credentials,
        metrics.runtime.clone(),
        metrics.images.clone(),
    )
}

/// The registries of `images.registries`, their passwords read from the environment now, so
/// that a missing one fails the start.
fn registry_settings(
    config: &BosunConfig,
    config_path: &Path,
) -> anyhow::Result<Vec<RegistrySettings>> {
    let mut registries = Vec::new();
    for (i, registry) in config.images.registries.iter().enumerate() {
        let password = match &registry.password_env {
            Some(var) => Some(std::env::var(var).ok().filter(|v| !v.is_empty()).with_context(|| {
                format!(
                    "{}: images.registries[{i}].passwordEnv: environment variable {var} is not set",
                    config_path.display()
                )
            })?),
            None => None,
        };
        registries.push(RegistrySettings {
            registry: registry.registry.clone(),
            username: registry.username.clone(),
            password,
            insecure: registry.insecure,
            requests_per_second: registry.requests_per_second,
        });
    }
    Ok(registries)
}

/// The controller's settings from bosun.yaml, with where revert commits are made
/// (`rollouts.onAbort: revert`): bosun's own clones under the data or cache directory.
fn controller_settings(config: &BosunConfig, data: Option<&Path>) -> ControllerSettings {
    let mut settings = ControllerSettings::from_config(config);
    if config.rollouts.on_abort == bosun_model::config::OnAbort::Revert {
        settings.revert = Some(bosun_controller::revert::RevertSettings {
            work_dir: match data {
                Some(dir) => dir.join("reverts"),
                None => default_cache_dir().join("reverts"),
            },
            author: config
                .rollouts
                .author
                .as_ref()
                .map(|a| bosun_source::Author {
                    name: a.name.clone(),
                    email: a.email.clone(),
                })
                .unwrap_or_default(),
        });
    }
    settings
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and Kubernetes send): either
/// stops the server gracefully, and `bosun up` stops its Prometheus with it.
pub async fn ctrl_c() {
    #[cfg(unix)]
    if let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    crate::apps::runtime().block_on(async {
        let server = prepare(&args.config, args.listen, args.data.as_deref()).await?;
        // Tests and scripts read this line to learn the address (`--listen 127.0.0.1:0`).
        let _ = writeln!(
            std::io::stdout(),
            "bosun serve: listening on http://{}",
            server.address()
        );
        let _ = std::io::stdout().flush();
        server.run(ctrl_c()).await
    })
}
