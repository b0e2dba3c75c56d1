//! The Application controller of `bosun serve`: a [`Reconciler`] on bosun's runtime. Every
//! Application is compared with Git and its cluster on a schedule (refresh interval plus
//! jitter, as Argo CD 3) and at once when something happens — a webhook, a change to its live
//! objects, an API call — and acted on:
//!
//! - **auto-sync** once per new desired state when `syncPolicy.automated` is set;
//! - **self-heal** when `selfHeal` is set and the live objects drifted at an already-synced
//!   state, with a backoff between attempts (the rules: [`crate::automation`]);
//! - **manual sync** and **rollback**, asked for through the API and run by the reconcile.
//!
//! The runtime runs one reconcile per Application at a time and a bounded number at once, and
//! owns every wait; nothing here sleeps. API calls and webhooks only enqueue work. Every
//! operation is written to the store before the engine acts, and finished afterwards, so a
//! crash leaves a trace that the next start reports.
//!
//! A second loop on the same runtime keeps the catalog (which Applications exist) current.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bosun_apply::hooks::Phase as SyncPhase;
use bosun_apply::sync::{Step, SyncEvent};
use bosun_engine::connect::ConnectError;
use bosun_engine::pipeline::{AppRender, Engine, EngineError, SyncSettings};
use bosun_model::image_updater::ImageUpdaterResource;
use bosun_model::{Application, BosunConfig, PropagationPolicy};
use bosun_record::{
    NewOperation, Operation, OperationKind, Phase, Pin, ResourceRecord, SelectedResource, Store,
};
use bosun_runtime::{Action, Config, Reconciler, Runtime, Trigger};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::app_objects::{AppObjects, Deleting, RESOURCES_FINALIZER};
use crate::automation::{self, Decision, HealBackoff, HealState, Observed, Policy, SyncKind};
use crate::catalog::{self, CatalogSource};
use crate::inspect::{self, LogOptions, ObjectRef};
use crate::metrics::{AppLabel, Metrics, SyncLabels};
use crate::polling::{self, Polling};
use crate::repo_match;
use crate::status::{AppStatus, HealthSummary, OperationState, ResourceStatus, health_code, now};
use bosun_api::{HealthStatusCode, SyncStatusCode};

/// Who started an operation when no person did.
pub const AUTOMATED: &str = "automated";

/// Live-object events come in bursts (a sync writes many objects, a rollout updates status
/// many times): the first one of a burst schedules a reconcile this much later, and the rest
/// merge into it.
const GATHER: Duration = Duration::from_millis(300);
/// How long a catalog load waits for a namespace's first list of Application objects.
const CATALOG_LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// How soon a cascading delete looks again whether the resources are gone.
const DELETION_RECHECK: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("application {0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// An object that is not one of the Application's resource tree.
    #[error("{0}")]
    NoSuchResource(String),
    #[error(transparent)]
    Store(#[from] bosun_record::Error),
    #[error(transparent)]
    Engine(#[from] Box<EngineError>),
    /// The Application's cluster cannot be reached now.
    #[error("{0}")]
    Unavailable(String),
    /// The request contradicts what exists (an Application defined elsewhere, a create over a
    /// different spec).
    #[error("{0}")]
    Conflict(String),
    /// An Application object's status could not be written back (retried with backoff).
    #[error("writing the status of {0}")]
    StatusWrite(String),
}

/// Timings and limits of the loop.
#[derive(Clone, Debug)]
pub struct ControllerSettings {
    /// bosun.yaml's `refreshInterval` and `refreshJitter` (`0s`: polling off).
    pub polling: Polling,
    pub concurrency: usize,
    /// Upper bound of one sync, health waits between waves included.
    pub sync_timeout: Duration,
    /// First self-heal backoff; doubled per failed attempt up to `self_heal_max_backoff`.
    pub self_heal_backoff: Duration,
    pub self_heal_max_backoff: Duration,
    /// bosun.yaml's `argocd-cm` keys, which win over the cluster's `argocd-cm` ConfigMap.
    pub argocd_cm: BTreeMap<String, String>,
    /// `rollouts.onAbort: revert`: where and as whom revert commits are made; `None` pins only.
    pub revert: Option<crate::revert::RevertSettings>,
}

impl ControllerSettings {
    pub fn from_config(config: &BosunConfig) -> ControllerSettings {
        ControllerSettings {
            polling: Polling::from_config(&config.server),
            concurrency: config.server.concurrency.unwrap_or(8),
            sync_timeout: Duration::from_secs(600),
            self_heal_backoff: Duration::from_secs(5),
            self_heal_max_backoff: Duration::from_secs(180),
            argocd_cm: config.argocd_cm.clone(),
            revert: None,
        }
    }

    fn heal_backoff(&self) -> HealBackoff {
        HealBackoff {
            first: self.self_heal_backoff,
            max: self.self_heal_max_backoff,
        }
    }
}

/// A status change, for server-sent events.
#[derive(Clone, Debug, Serialize)]
pub struct AppEvent {
    /// `MODIFIED` or `DELETED`, as Argo CD's application watch.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub application: Value,
}

/// An operation asked for through the API, waiting for the Application's next reconcile.
struct Queued {
    request: OperationRequest,
    /// The operation a restart cut short, resumed from the step it recorded.
    resume: Option<Operation>,
    done: oneshot::Sender<Result<Operation, ControllerError>>,
}

/// One managed Application and everything the loop keeps for it.
struct AppEntry {
    app: RwLock<Application>,
    status: RwLock<AppStatus>,
    heal: Mutex<HealState>,
    /// Something may have changed what Git or the live objects' spec say (a push, the
    /// Application's definition, drift): the next reconcile compares. Without it, a reconcile
    /// after a status-only change re-assesses health from the watch cache alone.
    compare: AtomicBool,
    /// When the last comparison ran: a periodic refresh compares again.
    compared_at: Mutex<Option<Instant>>,
    /// What the last comparison wanted of each resource that counts for health (hooks and
    /// objects left to prune aside), to assess live objects against without planning again.
    /// Kept as JSON text, parsed when assessed: a `Value` costs about five times its text's
    /// memory, for every object of every Application.
    targets: Mutex<Vec<(bosun_plan::ResourceKey, Option<Box<str>>)>>,
    /// API operations, run in order by the next reconcile.
    queued: Mutex<VecDeque<Queued>>,
    /// Callers of [`Controller::refresh`] waiting for a reconcile that starts after they asked.
    refreshed: Mutex<Vec<oneshot::Sender<()>>>,
}

/// What a comparison found, and the render and plan it made (a sync that follows applies that
/// plan instead of making another).
struct Comparison {
    revisions: Vec<String>,
    in_sync: bool,
    /// Every difference is an object left to prune (nothing to apply).
    only_prune: bool,
    rendered: AppRender,
    plan: bosun_plan::Plan,
}

/// A digest of the Application's spec: with the revisions, the desired state an automated sync
/// aims at (editing `valueFiles` at the same commit is a new desired state too).
fn spec_digest(app: &Application) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(&app.spec).unwrap_or_default();
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What an operation is asked to do.
#[derive(Clone, Debug)]
pub struct OperationRequest {
    pub kind: OperationKind,
    pub initiated_by: String,
    /// Sync these commits instead of what `targetRevision` resolves to (rollback).
    pub revisions: Option<Vec<String>>,
    pub prune: bool,
    pub dry_run: bool,
    pub rollback_of: Option<i64>,
    /// A partial sync: only these of the Application's resources (no hooks); empty: all.
    pub selected: Vec<SelectedResource>,
}

/// The key of the catalog loop: there is one catalog.
type CatalogKey = ();

pub struct Controller {
    engine: Arc<Engine>,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    settings: ControllerSettings,
    sources: Vec<CatalogSource>,
    apps: RwLock<BTreeMap<String, Arc<AppEntry>>>,
    catalog_previous: tokio::sync::Mutex<BTreeMap<usize, bosun_model::Manifests>>,
    /// Image Updater's `ImageUpdater` objects of the last catalog load, for the image loop.
    image_updaters: tokio::sync::watch::Sender<Arc<Vec<ImageUpdaterResource>>>,
    /// The errors of the last catalog load (`GET /api/v1/catalog`, `/readyz`).
    catalog_errors: RwLock<Vec<bosun_api::CatalogError>>,
    /// Becomes true when the first catalog load has finished.
    catalog_loaded: tokio::sync::watch::Sender<bool>,
    events: broadcast::Sender<AppEvent>,
    reconcile_app: Trigger<String>,
    reload_catalog: Trigger<CatalogKey>,
    /// Writes an Application object's status back to its cluster.
    write_status: Trigger<String>,
    /// The watches of the `namespace` sources, started on first use (the management cluster may
    /// be unreachable at start).
    app_objects: tokio::sync::Mutex<BTreeMap<String, Arc<AppObjects>>>,
    /// Applications that are objects: name → their namespace.
    object_apps: RwLock<BTreeMap<String, String>>,
    /// The status last written to each Application object, so an unchanged one is not sent.
    written_status: Mutex<BTreeMap<String, Value>>,
    /// The three loops, until [`Controller::start`] runs them.
    runtimes: Mutex<Option<Loops>>,
    /// The running loops; stopped with the controller.
    loops: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        for task in lock(&self.loops).drain(..) {
            task.abort();
        }
    }
}

/// The Application loop's reconciler. It holds the controller weakly, so dropping the
/// controller ends the loops.
struct Applications(Weak<Controller>);

impl Reconciler for Applications {
    type Key = String;
    type Error = ControllerError;

    async fn reconcile(self: Arc<Self>, name: String) -> Result<Action, ControllerError> {
        match self.0.upgrade() {
            Some(controller) => controller.reconcile(&name).await,
            None => Ok(Action::await_change()),
        }
    }
}

/// The controller's loops before they run: Applications, the catalog, status writes.
type Loops = (Runtime<String>, Runtime<CatalogKey>, Runtime<String>);

/// What the API's write of an Application object is.
#[derive(Clone, Copy, Debug)]
pub enum ObjectWrite<'a> {
    /// `POST`: a new Application; with `upsert`, an existing one is replaced.
    Create { upsert: bool },
    /// `PUT` of the Application the path names.
    Update(&'a str),
}

/// The status loop's reconciler: writes an Application object's status back.
struct StatusWriter(Weak<Controller>);

impl Reconciler for StatusWriter {
    type Key = String;
    type Error = ControllerError;

    async fn reconcile(self: Arc<Self>, name: String) -> Result<Action, ControllerError> {
        match self.0.upgrade() {
            Some(controller) => controller
                .write_status_of(&name)
                .await
                .map(|()| Action::await_change()),
            None => Ok(Action::await_change()),
        }
    }
}

/// The catalog loop's reconciler: loads the config's `applications` entries.
struct Catalog(Weak<Controller>);

impl Reconciler for Catalog {
    type Key = CatalogKey;
    type Error = ControllerError;

    async fn reconcile(self: Arc<Self>, _: CatalogKey) -> Result<Action, ControllerError> {
        let Some(controller) = self.0.upgrade() else {
            return Ok(Action::await_change());
        };
        controller.load_catalog().await;
        Ok(match controller.settings.polling.catalog_reload() {
            Some(interval) => Action::requeue(interval),
            None => Action::await_change(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// The Application with each source pinned to the given commit (rollback).
fn at_revisions(app: &Application, revisions: &[String]) -> Application {
    let mut app = app.clone();
    if app.spec.sources.is_empty() {
        if let (Some(source), Some(rev)) = (app.spec.source.as_mut(), revisions.first()) {
            source.target_revision = Some(rev.clone());
        }
    } else {
        for (source, rev) in app.spec.sources.iter_mut().zip(revisions) {
            source.target_revision = Some(rev.clone());
        }
    }
    app
}

impl Controller {
    pub fn new(
        engine: Arc<Engine>,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        settings: ControllerSettings,
        sources: Vec<CatalogSource>,
    ) -> Arc<Controller> {
        let (events, _) = broadcast::channel(256);
        let mut config = Config::new("applications");
        config.concurrency = settings.concurrency.max(1);
        // A comparison that failed on something passing (a 500, a 429, a cut connection) is
        // tried again within a minute however often it failed: with a 5-minute cap, a streak
        // of bad luck left an Application OutOfSync for ten minutes under 20 % injected faults.
        config.max_error_backoff = Duration::from_secs(60);
        let apps = Runtime::new(config, metrics.runtime.clone());
        let mut config = Config::new("catalog");
        config.concurrency = 1;
        let catalog = Runtime::new(config, metrics.runtime.clone());
        let mut config = Config::new("application-status");
        config.concurrency = 2;
        let statuses = Runtime::new(config, metrics.runtime.clone());
        Arc::new(Controller {
            engine,
            store,
            metrics,
            settings,
            sources,
            apps: RwLock::new(BTreeMap::new()),
            catalog_previous: tokio::sync::Mutex::new(BTreeMap::new()),
            image_updaters: tokio::sync::watch::channel(Arc::new(Vec::new())).0,
            catalog_errors: RwLock::new(Vec::new()),
            catalog_loaded: tokio::sync::watch::channel(false).0,
            events,
            reconcile_app: apps.trigger(),
            reload_catalog: catalog.trigger(),
            write_status: statuses.trigger(),
            app_objects: tokio::sync::Mutex::new(BTreeMap::new()),
            object_apps: RwLock::new(BTreeMap::new()),
            written_status: Mutex::new(BTreeMap::new()),
            runtimes: Mutex::new(Some((apps, catalog, statuses))),
            loops: Mutex::new(Vec::new()),
        })
    }

    /// Records who did what through the API.
    pub fn audit(
        &self,
        who: &str,
        action: &str,
        app: &str,
        detail: &str,
    ) -> Result<(), bosun_record::Error> {
        self.stored(|store| store.audit(who, action, app, detail))
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_log(
        &self,
        limit: usize,
    ) -> Result<Vec<bosun_record::AuditEntry>, bosun_record::Error> {
        self.stored(|store| store.audit_log(limit))
    }

    /// A store call, run where it may block: SQLite with `synchronous=FULL` waits for the disk,
    /// and the runtime moves the worker's other tasks elsewhere meanwhile (bosun serve runs on
    /// a multi-threaded runtime).
    fn stored<T>(&self, call: impl FnOnce(&Store) -> T) -> T {
        tokio::task::block_in_place(|| call(&self.store))
    }

    /// The Prometheus exposition; Applications by status are counted now, at scrape time,
    /// rather than on every status change.
    pub fn metrics_text(&self) -> String {
        self.update_app_counts();
        self.metrics.encode()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }

    /// Reports operations a previous run left unfinished, loads the Applications and starts the
    /// loops. Returns when the first load is done.
    pub async fn start(self: &Arc<Self>) -> Result<Vec<Operation>, ControllerError> {
        let running = self.stored(|store| store.running())?;
        let this = Arc::downgrade(self);
        self.engine.on_live_change(Arc::new(move |app, change| {
            if let Some(controller) = this.upgrade() {
                controller.live_changed(app, change);
            }
        }));
        self.load_catalog().await;
        self.catalog_loaded.send_replace(true);
        let interrupted = self.resume(running)?;
        if let Some((apps, catalog, statuses)) = lock(&self.runtimes).take() {
            let mut loops = lock(&self.loops);
            loops.push(tokio::spawn(
                apps.run(Arc::new(Applications(Arc::downgrade(self)))),
            ));
            loops.push(tokio::spawn(
                catalog.run(Arc::new(Catalog(Arc::downgrade(self)))),
            ));
            loops.push(tokio::spawn(
                statuses.run(Arc::new(StatusWriter(Arc::downgrade(self)))),
            ));
        }
        if let Some(interval) = self.settings.polling.catalog_reload() {
            self.reload_catalog.after((), interval);
        }
        Ok(interrupted)
    }

    /// Queues the operations a previous run left `Running` to resume where they got to (the
    /// step their progress names); those that cannot resume (a dry run, an Application no
    /// longer managed) are marked `Interrupted` and returned.
    fn resume(&self, running: Vec<Operation>) -> Result<Vec<Operation>, ControllerError> {
        let mut interrupted = Vec::new();
        for op in running {
            let entry = match self.entry(&op.app) {
                Ok(entry) if !op.dry_run => entry,
                _ => {
                    let why = if op.dry_run {
                        "bosun stopped during this dry run; nothing to resume"
                    } else {
                        "bosun stopped while this operation ran, and its Application is no longer managed"
                    };
                    tracing::warn!(app = %op.app, operation = op.id, "{why}");
                    self.stored(|store| store.interrupt(op.id, why))?;
                    interrupted.push(op);
                    continue;
                }
            };
            tracing::warn!(
                app = %op.app,
                operation = op.id,
                kind = %op.kind,
                step = ?op.progress.as_ref().map(|p| (&p.phase, p.wave)),
                "resuming the operation a restart cut short"
            );
            let request = OperationRequest {
                kind: op.kind,
                initiated_by: op.initiated_by.clone(),
                // The commits it was syncing, when they were known at its start.
                revisions: (!op.revisions.is_empty()).then(|| op.revisions.clone()),
                prune: op.prune,
                dry_run: false,
                rollback_of: op.rollback_of,
                selected: op.selected.clone(),
            };
            // Nobody waits for it: the caller went away with the old process.
            let (done, _) = oneshot::channel();
            lock(&entry.queued).push_back(Queued {
                request,
                resume: Some(op),
                done,
            });
        }
        Ok(interrupted)
    }

    /// Whether the first catalog load has finished, and the errors of the last one (a missing
    /// path, an unreachable app-of-apps repository, a bad manifest, a name defined twice).
    pub fn catalog(&self) -> bosun_api::Catalog {
        bosun_api::Catalog {
            loaded: *self.catalog_loaded.borrow(),
            errors: read(&self.catalog_errors).clone(),
        }
    }

    /// Returns when the first catalog load has finished: before it, the Applications are not
    /// known, and an empty list or a 404 would be a wrong answer.
    pub async fn catalog_loaded(&self) {
        let mut loaded = self.catalog_loaded.subscribe();
        let _ = loaded.wait_for(|loaded| *loaded).await;
    }

    /// The watch of Application objects in `namespace`, started on first use.
    async fn app_objects(self: &Arc<Self>, namespace: &str) -> Result<Arc<AppObjects>, String> {
        let mut started = self.app_objects.lock().await;
        if let Some(objects) = started.get(namespace) {
            return Ok(objects.clone());
        }
        let client = self
            .engine
            .management_client()
            .await
            .map_err(|e| format!("namespace {namespace}: {e}"))?;
        let this = Arc::downgrade(self);
        let on_change = Arc::new(move || {
            if let Some(controller) = this.upgrade() {
                controller.reload_catalog.after((), GATHER);
            }
        });
        let objects = Arc::new(AppObjects::start(client.clone(), namespace, on_change).await?);
        started.insert(namespace.to_owned(), objects.clone());
        // Argo CD keeps its argocd-cm beside its Applications: the first namespace's is read.
        let first = self.sources.iter().find_map(|s| match s {
            CatalogSource::Namespace(namespace) => Some(namespace.as_str()),
            _ => None,
        });
        if first == Some(namespace) {
            let this = Arc::downgrade(self);
            let on_change = Arc::new(move || {
                if let Some(controller) = this.upgrade() {
                    for (name, entry) in read(&controller.apps).iter() {
                        controller.compare_after(name, entry, GATHER);
                    }
                }
            });
            lock(&self.loops).push(tokio::spawn(crate::argocd_cm::watch(
                client,
                namespace.to_owned(),
                self.settings.argocd_cm.clone(),
                on_change,
            )));
        }
        Ok(objects)
    }

    async fn load_catalog(self: &Arc<Self>) {
        // What each namespace entry's watch holds now, and the Applications being deleted.
        let mut listed = BTreeMap::new();
        let mut deleting = Vec::new();
        let mut refresh = Vec::new();
        let mut object_apps = BTreeMap::new();
        for (i, source) in self.sources.iter().enumerate() {
            let CatalogSource::Namespace(namespace) = source else {
                continue;
            };
            let result = match self.app_objects(namespace).await {
                Ok(objects) => objects.list(CATALOG_LIST_TIMEOUT).await.map(|mut l| {
                    for app in &l.apps {
                        object_apps.insert(app.metadata.name.clone(), namespace.clone());
                    }
                    deleting.extend(l.deleting.drain(..).map(|d| (objects.clone(), d)));
                    refresh.extend(l.refresh.drain(..).map(|name| (objects.clone(), name)));
                    l
                }),
                Err(e) => Err(e),
            };
            listed.insert(i, result);
        }
        *write(&self.object_apps) = object_apps;
        let mut previous = self.catalog_previous.lock().await;
        let (loaded, by_entry) =
            catalog::load(&self.engine, &self.sources, &previous, listed).await;
        *previous = by_entry;
        drop(previous);
        self.finish_deletions(deleting).await;
        for error in &loaded.errors {
            tracing::error!(source = %error.source, error = %error.message, "loading Applications");
        }
        *write(&self.catalog_errors) = loaded.errors;
        let image_updaters = loaded.image_updaters;
        self.image_updaters.send_if_modified(|current| {
            if **current == image_updaters {
                return false;
            }
            for resource in &image_updaters {
                if current.contains(resource) {
                    continue;
                }
                tracing::info!(image_updater = %resource.origin, "read ImageUpdater");
                for ignored in resource.ignored_fields() {
                    tracing::warn!(image_updater = %resource.origin, field = %ignored.path, reason = %ignored.reason, "accepted but not acted on");
                }
            }
            *current = Arc::new(image_updaters);
            true
        });
        let invalid = loaded.invalid;
        let mut removed = Vec::new();
        {
            let mut apps = write(&self.apps);
            apps.retain(|name, _| {
                let keep = loaded.apps.contains_key(name);
                if !keep {
                    removed.push(name.clone());
                }
                keep
            });
            for (name, app) in loaded.apps {
                if let Some(entry) = apps.get(&name) {
                    let changed = *read(&entry.app) != app;
                    if changed {
                        *write(&entry.app) = app;
                        self.compare_after(&name, entry, GATHER);
                    }
                    continue;
                }
                for ignored in app.ignored_fields() {
                    tracing::warn!(app = %name, field = %ignored.path, reason = %ignored.reason, "accepted but not acted on");
                }
                let entry = Arc::new(AppEntry {
                    app: RwLock::new(app),
                    status: RwLock::new(AppStatus::unknown()),
                    heal: Mutex::new(HealState::default()),
                    compare: AtomicBool::new(true),
                    compared_at: Mutex::new(None),
                    targets: Mutex::new(Vec::new()),
                    queued: Mutex::new(VecDeque::new()),
                    refreshed: Mutex::new(Vec::new()),
                });
                if let Ok(Some(op)) = self.stored(|store| store.last_operation(&name)) {
                    write(&entry.status).operation_state = Some(OperationState::from(&op));
                }
                tracing::info!(app = %name, "managing Application");
                self.reconcile_app.now(name.clone());
                apps.insert(name, entry);
            }
        }
        // An Application whose definition is wrong keeps its previous one, and says so.
        let entries: Vec<_> = read(&self.apps)
            .iter()
            .map(|(name, entry)| (name.clone(), entry.clone()))
            .collect();
        for (name, entry) in entries {
            let message = invalid.get(&name).cloned();
            let changed = {
                let mut status = write(&entry.status);
                let before = status.condition("InvalidSpecError").cloned();
                status.set_condition("InvalidSpecError", message);
                before != status.condition("InvalidSpecError").cloned()
            };
            if changed {
                self.publish(&name, &entry);
            }
        }
        for name in removed {
            tracing::info!(app = %name, "Application removed from its source; no longer managed (its resources are left in place)");
            let _ = self.events.send(AppEvent {
                kind: "DELETED",
                application: json!({"metadata": {"name": name}}),
            });
        }
        for (objects, name) in refresh {
            if let Ok(entry) = self.entry(&name) {
                self.compare_after(&name, &entry, Duration::ZERO);
            }
            if let Err(e) = objects.clear_refresh(&name).await {
                tracing::warn!(app = %name, error = %e, "removing the refresh annotation");
            }
        }
    }

    /// The namespace an Application object of the API goes to: the one its manifest names,
    /// which must be a namespace source, else the first namespace source.
    fn object_namespace(&self, manifest: &Value) -> Result<String, ControllerError> {
        let namespaces: Vec<&String> = self
            .sources
            .iter()
            .filter_map(|s| match s {
                CatalogSource::Namespace(namespace) => Some(namespace),
                _ => None,
            })
            .collect();
        let Some(first) = namespaces.first() else {
            return Err(ControllerError::BadRequest(
                "bosun.yaml's `applications` has no `namespace:` entry: Applications created through the API are kept as objects in a namespace (e.g. `- namespace: argocd`)".into(),
            ));
        };
        match manifest["metadata"]["namespace"].as_str() {
            None | Some("") => Ok((*first).clone()),
            Some(ns) if namespaces.iter().any(|n| *n == ns) => Ok(ns.to_owned()),
            Some(ns) => Err(ControllerError::BadRequest(format!(
                "metadata.namespace: {ns} is not a namespace bosun takes Applications from (bosun.yaml's `applications`: {})",
                namespaces
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Creates (`Create`) or updates (`Update`) an Application object from Argo CD's manifest, as
    /// `POST /api/v1/applications` and `PUT /api/v1/applications/{name}` do; returns it once
    /// bosun manages it. The manifest is read as a file would be first: a bad field is an error
    /// naming it, and nothing is written.
    pub async fn put_object(
        self: &Arc<Self>,
        mut manifest: Value,
        write: ObjectWrite<'_>,
    ) -> Result<bosun_api::Application, ControllerError> {
        if !manifest.is_object() {
            return Err(ControllerError::BadRequest(
                "request body: an Application manifest (an object) is expected".into(),
            ));
        }
        for (field, value) in [
            ("apiVersion", "argoproj.io/v1alpha1"),
            ("kind", "Application"),
        ] {
            match manifest.get(field) {
                None | Some(Value::Null) => manifest[field] = json!(value),
                Some(v) if *v == json!(value) => {}
                Some(v) => {
                    return Err(ControllerError::BadRequest(format!(
                        "request body: {field}: {v} is not {value}"
                    )));
                }
            }
        }
        let name = manifest["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let ObjectWrite::Update(path_name) = write
            && path_name != name
        {
            return Err(ControllerError::BadRequest(format!(
                "metadata.name: {name:?} is not the Application of the path ({path_name})"
            )));
        }
        let namespace = self.object_namespace(&manifest)?;
        manifest["metadata"]["namespace"] = json!(namespace);
        let text = serde_json::to_string(&manifest).unwrap_or_default();
        let app = bosun_model::parse_applications(&text, "request body")
            .map_err(|e| ControllerError::BadRequest(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| ControllerError::BadRequest("request body: no Application".into()))?;
        let managed = self.entry(&name).is_ok();
        let object_namespace = read(&self.object_apps).get(&name).cloned();
        if managed && object_namespace.is_none() {
            return Err(ControllerError::Conflict(format!(
                "{name} is defined in a file or Git source of bosun.yaml's `applications`: change it there"
            )));
        }
        if let Some(other) = object_namespace.as_ref().filter(|n| **n != namespace) {
            return Err(ControllerError::Conflict(format!(
                "{name} already exists in namespace {other}"
            )));
        }
        let objects = self
            .app_objects(&namespace)
            .await
            .map_err(ControllerError::Unavailable)?;
        let exists = objects.has(&name);
        match write {
            ObjectWrite::Create { upsert: false } if exists => {
                let same = self
                    .application(&name)
                    .is_some_and(|live| live.spec == app.spec);
                if !same {
                    return Err(ControllerError::Conflict(format!(
                        "{name}: existing application spec is different, use upsert flag to force update"
                    )));
                }
                return self.get(&name);
            }
            ObjectWrite::Update(_) if !exists => {
                return Err(ControllerError::NotFound(name));
            }
            _ => {}
        }
        objects.put(&manifest).await.map_err(|e| {
            ControllerError::Unavailable(format!("writing Application {namespace}/{name}: {e}"))
        })?;
        self.load_catalog().await;
        self.get(&name)
    }

    /// Deletes an Application object as `DELETE /api/v1/applications/{name}` does: with
    /// `cascade`, its resources first (by Argo CD's finalizer, with the propagation policy);
    /// without, the resources stay. Answers once the deletion is requested.
    pub async fn delete_object(
        self: &Arc<Self>,
        name: &str,
        cascade: bool,
        propagation: PropagationPolicy,
    ) -> Result<(), ControllerError> {
        let Some(namespace) = read(&self.object_apps).get(name).cloned() else {
            return Err(match self.entry(name) {
                Ok(_) => ControllerError::Conflict(format!(
                    "{name} is defined in a file or Git source of bosun.yaml's `applications`: remove it there"
                )),
                Err(e) => e,
            });
        };
        let objects = self
            .app_objects(&namespace)
            .await
            .map_err(ControllerError::Unavailable)?;
        let finalizer = match propagation {
            PropagationPolicy::Background => format!("{RESOURCES_FINALIZER}/background"),
            _ => RESOURCES_FINALIZER.to_owned(),
        };
        let deleted = objects
            .delete(name, cascade.then_some(finalizer.as_str()))
            .await
            .map_err(|e| {
                ControllerError::Unavailable(format!(
                    "deleting Application {namespace}/{name}: {e}"
                ))
            })?;
        if !deleted {
            return Err(ControllerError::NotFound(name.to_owned()));
        }
        Ok(())
    }

    /// Argo CD's cascading delete: the resources of each Application being deleted with the
    /// resources finalizer are deleted, and once none is left the finalizer is removed (the API
    /// server then deletes the Application). Until then the catalog is loaded again shortly.
    async fn finish_deletions(&self, deleting: Vec<(Arc<AppObjects>, Deleting)>) {
        let mut pending = false;
        for (objects, deleting) in deleting {
            let name = deleting.app.metadata.name.clone();
            match self
                .engine
                .delete_resources(&deleting.app, deleting.propagation)
                .await
            {
                Ok(0) => match objects.remove_finalizer(&name, &deleting.finalizer).await {
                    Ok(()) => {
                        tracing::info!(app = %name, "resources deleted; finalizer removed");
                        let _ = self.stored(|store| {
                            store.audit("bosun", "delete", &name, "resources deleted (finalizer)")
                        });
                    }
                    Err(e) => {
                        tracing::warn!(app = %name, error = %e, "removing the finalizer");
                        pending = true;
                    }
                },
                Ok(left) => {
                    tracing::info!(app = %name, objects = left, "deleting the Application's resources");
                    pending = true;
                }
                Err(e) => {
                    tracing::warn!(app = %name, error = %e, "deleting the Application's resources");
                    pending = true;
                }
            }
        }
        if pending {
            self.reload_catalog.after((), DELETION_RECHECK);
        }
    }

    /// Writes an Application object's status to its cluster, unless it is what was written last.
    async fn write_status_of(&self, name: &str) -> Result<(), ControllerError> {
        let Some(namespace) = read(&self.object_apps).get(name).cloned() else {
            return Ok(());
        };
        let Ok(entry) = self.entry(name) else {
            return Ok(());
        };
        let Some(objects) = self.app_objects.lock().await.get(&namespace).cloned() else {
            return Ok(());
        };
        let status = serde_json::to_value(Self::view(name, &entry))
            .map(|v| v["status"].clone())
            .unwrap_or_default();
        if lock(&self.written_status).get(name) == Some(&status) {
            return Ok(());
        }
        objects
            .write_status(name, &status)
            .await
            .map_err(|e| ControllerError::StatusWrite(format!("{namespace}/{name}: {e}")))?;
        lock(&self.written_status).insert(name.to_owned(), status);
        Ok(())
    }

    fn entry(&self, name: &str) -> Result<Arc<AppEntry>, ControllerError> {
        read(&self.apps)
            .get(name)
            .cloned()
            .ok_or_else(|| ControllerError::NotFound(name.to_string()))
    }

    /// One reconcile of Application `name`: the operations the API queued, then compare, then
    /// what the automated policy calls for. Returns when to come back.
    async fn reconcile(&self, name: &str) -> Result<Action, ControllerError> {
        let Ok(entry) = self.entry(name) else {
            // Removed from the catalog since it was scheduled.
            return Ok(Action::await_change());
        };
        let started = std::time::Instant::now();
        // Those who asked before this reconcile began are answered when it ends.
        let waiting: Vec<_> = lock(&entry.refreshed).drain(..).collect();
        for Queued {
            request,
            resume,
            done,
        } in self.runnable(&entry).await
        {
            let result = self.run_queued(name, &entry, request, resume).await;
            let _ = done.send(result);
        }
        let since_compare = lock(&entry.compared_at).map(|at| at.elapsed());
        let full = entry.compare.swap(false, Ordering::SeqCst)
            || !waiting.is_empty()
            || self.settings.polling.compare_due(since_compare);
        if !full {
            // Only live status moved (a rollout progressing): health from the cache, no plan.
            self.reassess(name, &entry).await;
            let since = since_compare.unwrap_or_default();
            return Ok(self.settings.polling.after_reassess(since));
        }
        *lock(&entry.compared_at) = Some(Instant::now());
        let app = read(&entry.app).clone();
        let mut next = self.settings.polling.after_compare();
        let outcome = match self.compare(name, &entry, &app).await {
            Ok(comparison)
                if app
                    .spec
                    .sync_policy
                    .as_ref()
                    .is_some_and(|p| p.is_automated()) =>
            {
                match self.automate(name, &entry, &app, comparison).await {
                    Ok(Some(wait)) if polling::sooner(wait, &next) => {
                        // Self-heal's backoff ends: compare then.
                        entry.compare.store(true, Ordering::SeqCst);
                        next = Action::requeue(wait);
                        Ok(next)
                    }
                    Ok(_) => Ok(next),
                    Err(e) => Err(e),
                }
            }
            Ok(_) => Ok(next),
            Err(e) => match *e {
                // The first connection to its cluster is being made: the engine tells when.
                EngineError::Connect {
                    cause:
                        ConnectError::Pending {
                            last_error: None, ..
                        },
                    ..
                } => Ok(next),
                // What only Git can fix (a bad manifest, a chart that does not render): the
                // status says so, and a push or the next refresh brings the next comparison.
                EngineError::Model { .. } | EngineError::Render { .. } => Ok(next),
                // What may pass (an unreachable cluster or repository, an answer 500 or 429):
                // compared again on the runtime's backoff, not a refresh later.
                _ => {
                    entry.compare.store(true, Ordering::SeqCst);
                    Err(ControllerError::Engine(e))
                }
            },
        };
        for waiter in waiting {
            let _ = waiter.send(());
        }
        self.metrics
            .reconcile_seconds
            .get_or_create(&AppLabel { app: name.into() })
            .observe(started.elapsed().as_secs_f64());
        outcome
    }

    /// The queued operations that can run now: all of them once the destination is connected.
    /// While its first connection is being made they wait (the engine tells when it is ready);
    /// when it cannot be reached, a new request is answered with why, and a resumed operation
    /// waits for the cluster to come back (it is already recorded as running).
    async fn runnable(&self, entry: &AppEntry) -> Vec<Queued> {
        if lock(&entry.queued).is_empty() {
            return Vec::new();
        }
        let app = read(&entry.app).clone();
        match self.engine.connect_destination(&app).await {
            Ok(()) => lock(&entry.queued).drain(..).collect(),
            Err(e) => {
                if let EngineError::Connect {
                    cause:
                        ConnectError::Pending {
                            last_error: None, ..
                        },
                    ..
                } = &e
                {
                    return Vec::new();
                }
                let mut queued = lock(&entry.queued);
                let (resumed, new): (Vec<Queued>, Vec<Queued>) =
                    queued.drain(..).partition(|q| q.resume.is_some());
                queued.extend(resumed);
                drop(queued);
                let message = e.to_string();
                for q in new {
                    let _ = q
                        .done
                        .send(Err(ControllerError::Unavailable(message.clone())));
                }
                Vec::new()
            }
        }
    }

    /// `rollouts.onAbort: revert`: pushes the revert commit on a task of its own (git runs; the
    /// rollback does not wait for it). Its outcome is logged; the pushed commit is then seen as
    /// any commit is, ending the pin.
    fn push_revert(
        &self,
        app: &Application,
        settings: &crate::revert::RevertSettings,
        bad: &str,
        good: &str,
        reason: String,
    ) {
        let name = app.metadata.name.clone();
        let url = app
            .spec
            .source
            .as_ref()
            .map(|s| s.repo_url.clone())
            .unwrap_or_default();
        let credentials = match self.engine.credentials(&name, &url) {
            Ok(credentials) => credentials,
            Err(e) => {
                tracing::warn!(app = %name, "no revert commit: {e}");
                return;
            }
        };
        let (app, settings) = (app.clone(), settings.clone());
        let (bad, good) = (bad.to_string(), good.to_string());
        tokio::task::spawn_blocking(move || {
            let revert = crate::revert::Revert {
                app: &app,
                bad: &bad,
                good: &good,
                reason: &reason,
            };
            match revert.run(&settings, credentials) {
                Ok(crate::revert::Reverted::Pushed(commit)) => {
                    tracing::warn!(app = %name, %commit, "pushed a revert commit to Git");
                }
                Ok(crate::revert::Reverted::Skipped(why)) => {
                    tracing::info!(app = %name, "no revert commit: {why}");
                }
                Err(e) => tracing::warn!(app = %name, "the revert commit failed: {e}"),
            }
        });
    }

    /// Auto-sync and self-heal for an automated Application. Returns how soon to look again
    /// when self-heal is backing off.
    async fn automate(
        &self,
        name: &str,
        entry: &Arc<AppEntry>,
        app: &Application,
        comparison: Comparison,
    ) -> Result<Option<Duration>, ControllerError> {
        let automated = app
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.clone())
            .unwrap_or_default();
        let mut pin = self.stored(|store| store.pin(name))?;
        if pin
            .as_ref()
            .is_some_and(|p| automation::pin_is_stale(p, &comparison.revisions))
        {
            // Git moved past the revision that was rolled back from: the hold ends.
            self.stored(|store| store.clear_pin(name))?;
            write(&entry.status).set_condition("AutoSyncPaused", None);
            pin = None;
        }
        // A Rollout whose update its analysis or progress deadline aborted: back to the last
        // good revision, held there until
        // Git moves (the rollback is pinned as `bosun app rollback` pins it), so that auto-sync
        // does not deploy the rejected version again.
        if pin.is_none()
            && lock(&entry.queued).is_empty()
            && let Some(aborted) = automation::aborted_update(
                comparison
                    .plan
                    .resources
                    .iter()
                    .filter_map(|r| r.observed.as_ref()),
            )
        {
            let history = self.stored(|store| store.history(name))?;
            let mut synced = history.iter().filter(|op| {
                op.phase == Phase::Succeeded && !op.dry_run && !op.revisions.is_empty()
            });
            // Only while Git still names what runs (the rejected commit): a newer commit goes
            // out as usual. The good revision is the last one synced before it.
            let live = synced.next();
            let good = live
                .filter(|live| live.revisions == comparison.revisions)
                .and_then(|live| synced.find(|op| op.revisions != live.revisions));
            if let Some(good) = good {
                tracing::warn!(app = %name, rollout = %aborted.rollout, to = %short(&good.revisions), reason = %aborted.message, "{} aborted the rollout: rolling back", aborted.cause);
                if let (Some(settings), [bad], [good]) = (
                    &self.settings.revert,
                    comparison.revisions.as_slice(),
                    good.revisions.as_slice(),
                ) {
                    self.push_revert(
                        app,
                        settings,
                        bad,
                        good,
                        format!(
                            "{} aborted Rollout {}: {}",
                            aborted.cause, aborted.rollout, aborted.message
                        ),
                    );
                }
                let (done, _) = oneshot::channel();
                lock(&entry.queued).push_back(Queued {
                    request: OperationRequest {
                        kind: OperationKind::Rollback,
                        initiated_by: format!(
                            "{AUTOMATED} ({} aborted Rollout {})",
                            aborted.cause, aborted.rollout
                        ),
                        revisions: Some(good.revisions.clone()),
                        prune: automated.prune,
                        dry_run: false,
                        rollback_of: Some(good.id),
                        selected: Vec::new(),
                    },
                    resume: None,
                    done,
                });
                self.reconcile_app.now(name.to_string());
                return Ok(None);
            }
        }
        let last = self.stored(|store| store.last_automated(name))?;
        let digest = spec_digest(app);
        let heal = lock(&entry.heal).clone();
        let decision = automation::decide(
            Instant::now(),
            &Observed {
                revisions: &comparison.revisions,
                spec_digest: &digest,
                in_sync: comparison.in_sync,
                only_prune: comparison.only_prune,
            },
            Policy {
                prune: automated.prune,
                self_heal: automated.self_heal,
            },
            pin.as_ref(),
            last.as_ref(),
            &heal,
        );
        let kind = match decision {
            Decision::Paused(pin) => {
                write(&entry.status).set_condition(
                    "AutoSyncPaused",
                    Some(format!(
                        "rolled back to {} by operation {}; automated sync resumes with the next commit after {}",
                        short(&pin.revisions),
                        pin.operation,
                        short(&pin.from_head)
                    )),
                );
                self.publish(name, entry);
                return Ok(None);
            }
            Decision::InSync => {
                *lock(&entry.heal) = HealState::default();
                return Ok(None);
            }
            Decision::Wait => return Ok(None),
            Decision::BackOff(until) => return Ok(Some(until - Instant::now())),
            Decision::Sync(SyncKind::AutoSync) => OperationKind::AutoSync,
            Decision::Sync(SyncKind::SelfHeal) => OperationKind::SelfHeal,
        };
        tracing::info!(app = %name, kind = kind.as_str(), revision = %short(&comparison.revisions), "automated sync");
        let request = OperationRequest {
            kind,
            initiated_by: AUTOMATED.into(),
            revisions: None,
            prune: automated.prune,
            dry_run: false,
            rollback_of: None,
            selected: Vec::new(),
        };
        let result = self
            .operate(name, entry, app, &request, Some(comparison), None)
            .await;
        if kind == OperationKind::SelfHeal {
            let succeeded = matches!(&result, Ok(op) if op.phase == Phase::Succeeded);
            let mut heal = lock(&entry.heal);
            heal.healed(succeeded, Instant::now(), self.settings.heal_backoff());
            // Drift that persists without a further event is looked at when the wait ends.
            return Ok(heal.not_before.map(|at| at - Instant::now()));
        }
        result.map(|_| None)
    }

    /// An operation the API queued: a manual sync ends a rollback's hold; a rollback of an
    /// automated Application is pinned before it touches the cluster.
    async fn run_queued(
        &self,
        name: &str,
        entry: &Arc<AppEntry>,
        request: OperationRequest,
        resume: Option<Operation>,
    ) -> Result<Operation, ControllerError> {
        let app = read(&entry.app).clone();
        // A resumed operation did this before the restart.
        let starting = resume.is_none();
        if starting && request.kind == OperationKind::Sync && !request.dry_run {
            // Syncing the head by hand ends a rollback's hold.
            self.stored(|store| store.clear_pin(name))?;
            write(&entry.status).set_condition("AutoSyncPaused", None);
        }
        // A crash between the pin and the rollback must not let auto-sync or self-heal put the
        // head back silently: the pin is written first.
        let pinned = request.kind == OperationKind::Rollback
            && app
                .spec
                .sync_policy
                .as_ref()
                .is_some_and(|p| p.is_automated());
        if starting
            && pinned
            && let Some(revisions) = &request.revisions
        {
            self.stored(|store| {
                store.set_pin(
                    name,
                    &Pin {
                        revisions: revisions.clone(),
                        from_head: read(&entry.status).sync.revisions.clone(),
                        operation: request.rollback_of.unwrap_or_default(),
                    },
                )
            })?;
        }
        let op = self
            .operate(name, entry, &app, &request, None, resume.as_ref())
            .await;
        if pinned {
            match &op {
                Ok(op) if op.phase == Phase::Succeeded => {
                    if let Some(mut pin) = self.stored(|store| store.pin(name))? {
                        pin.operation = op.id;
                        self.stored(|store| store.set_pin(name, &pin))?;
                    }
                }
                // The rollback did not happen: nothing to hold.
                _ => self.stored(|store| store.clear_pin(name))?,
            }
        }
        op
    }

    /// Refresh: render and compare, assess health, update the status and the live watch.
    async fn compare(
        &self,
        name: &str,
        entry: &Arc<AppEntry>,
        app: &Application,
    ) -> Result<Comparison, Box<EngineError>> {
        let result = self.engine.diff(app).await;
        let comparison = match result {
            Ok((rendered, plan)) => {
                // Health from the live objects the plan read: no second GET per object.
                let health = bosun_engine::pipeline::health_of_plan(&plan);
                *lock(&entry.targets) = plan
                    .resources
                    .iter()
                    .filter(|r| !r.hook && r.status != bosun_plan::SyncState::Extraneous)
                    .map(|r| {
                        let text = r
                            .predicted
                            .as_ref()
                            .and_then(|p| serde_json::to_string(p).ok());
                        (r.key.clone(), text.map(String::into_boxed_str))
                    })
                    .collect();
                let mut status = write(&entry.status);
                status.sync.revisions = rendered.revisions.clone();
                status.sync.revision = rendered.revisions.first().cloned().unwrap_or_default();
                status.sync.status = if plan.in_sync() {
                    SyncStatusCode::Synced
                } else {
                    SyncStatusCode::OutOfSync
                };
                status.set_condition("ComparisonError", None);
                // Objects whose tracking annotation names another Application (Argo CD's
                // SharedResourceWarning): a sync would take them over.
                let shared: Vec<String> = plan
                    .resources
                    .iter()
                    .filter_map(|r| r.shared_warning(name))
                    .collect();
                status.set_condition(
                    "SharedResourceWarning",
                    (!shared.is_empty()).then(|| shared.join("; ")),
                );
                status.resources = plan
                    .resources
                    .iter()
                    .map(|r| {
                        let ns = r.key.namespace.clone().unwrap_or_default();
                        ResourceStatus {
                            group: r.key.group.clone(),
                            kind: r.key.kind.clone(),
                            namespace: ns,
                            name: r.key.name.clone(),
                            status: match r.status {
                                bosun_plan::SyncState::Synced => SyncStatusCode::Synced,
                                _ => SyncStatusCode::OutOfSync,
                            },
                            requires_pruning: r.status == bosun_plan::SyncState::Extraneous,
                            hook: r.hook,
                            health: None,
                        }
                    })
                    .collect();
                set_health(&mut status, &health);
                drop(status);
                Ok(Comparison {
                    revisions: rendered.revisions.clone(),
                    in_sync: plan.in_sync(),
                    only_prune: plan
                        .resources
                        .iter()
                        .filter(|r| r.differs())
                        .all(|r| r.status == bosun_plan::SyncState::Extraneous),
                    rendered,
                    plan,
                })
            }
            Err(e) => {
                // The first connection to a cluster is no failure: the engine tells when it is made.
                let connecting = matches!(
                    &e,
                    EngineError::Connect {
                        cause: ConnectError::Pending {
                            last_error: None,
                            ..
                        },
                        ..
                    }
                );
                if connecting {
                    tracing::debug!(app = %name, error = %e, "waiting for the cluster connection");
                } else {
                    tracing::warn!(app = %name, error = %e, "comparison failed");
                }
                {
                    let mut status = write(&entry.status);
                    status.sync.status = SyncStatusCode::Unknown;
                    status.set_condition("ComparisonError", Some(e.to_string()));
                }
                // Health is what runs, not what Git says: as Argo CD does under a
                // ComparisonError, the live objects are still assessed, against the targets of
                // the last comparison that succeeded (none before the first: nothing to assess).
                if !connecting && !lock(&entry.targets).is_empty() {
                    self.reassess(name, entry).await;
                }
                Err(Box::new(e))
            }
        };
        write(&entry.status).reconciled_at = Some(now());
        self.publish(name, entry);
        comparison
    }

    /// Health again from the watch cache's live objects against the last comparison's targets:
    /// what a status-only change calls for (Argo CD reflects a rollout's progress in seconds),
    /// and what a comparison that failed still gives.
    async fn reassess(&self, name: &str, entry: &Arc<AppEntry>) {
        let app = read(&entry.app).clone();
        let Some(live) = self.engine.cached_objects(&app).await else {
            return;
        };
        let live: std::collections::HashMap<bosun_plan::ResourceKey, Value> = live
            .into_iter()
            .map(|o| (bosun_plan::ResourceKey::of(&o), o))
            .collect();
        let targets: Vec<(bosun_plan::ResourceKey, Option<Value>)> = lock(&entry.targets)
            .iter()
            .map(|(key, text)| {
                let target = text.as_deref().and_then(|t| serde_json::from_str(t).ok());
                (key.clone(), target)
            })
            .collect();
        let health = bosun_assess::aggregate(targets.iter().map(|(key, target)| {
            bosun_assess::ManagedResource {
                target: target.as_ref(),
                live: live.get(key),
            }
        }));
        let changed = {
            let mut status = write(&entry.status);
            let before = (status.health.clone(), status.resources.clone());
            set_health(&mut status, &health);
            before != (status.health.clone(), status.resources.clone())
        };
        if changed {
            self.publish(name, entry);
        }
    }

    /// A tracked object changed in the cluster: drift is compared, a status change re-assessed.
    /// Events come in bursts; the first of a burst schedules the reconcile and the rest merge.
    fn live_changed(&self, app: &str, change: bosun_clusters::Change) {
        let Ok(entry) = self.entry(app) else {
            return;
        };
        match change {
            bosun_clusters::Change::Spec => self.compare_after(app, &entry, GATHER),
            bosun_clusters::Change::Status => self.reconcile_app.after(app.to_string(), GATHER),
        }
    }

    /// Schedules a reconcile of `name` that compares with Git and the cluster.
    fn compare_after(&self, name: &str, entry: &AppEntry, wait: Duration) {
        entry.compare.store(true, Ordering::SeqCst);
        self.reconcile_app.after(name.to_string(), wait);
    }

    /// Runs one operation: recorded as Running first, then the engine syncs, then the record is
    /// finished and the Application compared again.
    async fn operate(
        &self,
        name: &str,
        entry: &Arc<AppEntry>,
        app: &Application,
        request: &OperationRequest,
        planned: Option<Comparison>,
        resume: Option<&Operation>,
    ) -> Result<Operation, ControllerError> {
        let target = match &request.revisions {
            Some(revisions) => at_revisions(app, revisions),
            None => app.clone(),
        };
        let known = request
            .revisions
            .clone()
            .unwrap_or_else(|| read(&entry.status).sync.revisions.clone());
        let id = match resume {
            Some(op) => op.id,
            None => self.stored(|store| {
                store.begin(&NewOperation {
                    app: name.into(),
                    kind: request.kind,
                    initiated_by: request.initiated_by.clone(),
                    revisions: known.clone(),
                    prune: request.prune,
                    dry_run: request.dry_run,
                    rollback_of: request.rollback_of,
                    spec_digest: spec_digest(app),
                    selected: request.selected.clone(),
                })
            })?,
        };
        let mut started = std::time::SystemTime::now();
        if let Ok(Some(op)) = self.stored(|store| store.operation(name, id)) {
            // The recorded start, not now: a resumed operation names its generateName hooks
            // as it did before the restart.
            if let Ok(at) = op.started_at.parse::<jiff::Timestamp>() {
                started = at.into();
            }
            write(&entry.status).operation_state = Some(OperationState::from(&op));
            self.publish(name, entry);
        }
        // Where a resumed operation got to, and what its resources came to before the restart.
        let before = resume.and_then(|op| op.progress.clone());
        let settings = SyncSettings {
            dry_run: request.dry_run,
            prune: Some(request.prune),
            timeout: self.settings.sync_timeout,
            resume: before.as_ref().and_then(|p| {
                Some(Step {
                    phase: SyncPhase::parse(&p.phase)?,
                    wave: p.wave,
                })
            }),
            started,
            only: (!request.selected.is_empty()).then(|| {
                request
                    .selected
                    .iter()
                    .map(|r| bosun_plan::ResourceKey {
                        group: r.group.clone(),
                        kind: r.kind.clone(),
                        namespace: (!r.namespace.is_empty()).then(|| r.namespace.clone()),
                        name: r.name.clone(),
                    })
                    .collect()
            }),
        };
        // Each step is recorded before it starts, with the results so far: a restart resumes
        // at that step.
        let progress = Mutex::new(before.unwrap_or_default());
        let record_progress = |event: &SyncEvent| {
            if request.dry_run {
                return;
            }
            let mut progress = lock(&progress);
            match event {
                SyncEvent::Resource(r) => progress.resources.push(record_of(r)),
                SyncEvent::Reached(step) => {
                    progress.phase = step.phase.as_str().into();
                    progress.wave = step.wave;
                    if let Err(e) = self.stored(|store| store.record_progress(id, &progress)) {
                        tracing::error!(app = %name, operation = id, error = %e, "recording progress");
                    }
                }
                _ => {}
            }
        };
        let result = match planned {
            // What the comparison just planned for the head: applied as planned.
            Some(c) if request.revisions.is_none() => {
                self.engine
                    .sync_planned(&target, c.rendered, &c.plan, &settings, &record_progress)
                    .await
            }
            _ => self.engine.sync(&target, &settings, &record_progress).await,
        };
        // Resources done before a restart first, each once, as its latest step left it.
        let earlier = std::mem::take(&mut lock(&progress).resources);
        let (phase, message, revisions, resources) = match &result {
            Ok(report) => (
                if report.outcome.succeeded {
                    Phase::Succeeded
                } else {
                    Phase::Failed
                },
                report.outcome.message.clone(),
                report.rendered.revisions.clone(),
                report.outcome.resources.iter().map(record_of).collect(),
            ),
            Err(e) => (Phase::Error, e.to_string(), known, Vec::new()),
        };
        let resources = merge_resources(earlier, resources);
        self.stored(|store| store.finish(id, phase, &message, &revisions, &resources))?;
        self.metrics
            .syncs
            .get_or_create(&SyncLabels {
                app: name.into(),
                phase: phase.as_str().into(),
                kind: request.kind.as_str().into(),
            })
            .inc();
        tracing::info!(app = %name, operation = id, kind = request.kind.as_str(), phase = phase.as_str(), revision = %short(&revisions), "{message}");
        let op = self
            .store
            .operation(name, id)?
            .expect("the operation was just written");
        {
            let mut status = write(&entry.status);
            status.operation_state = Some(OperationState::from(&op));
            status.set_condition(
                "SyncError",
                (phase != Phase::Succeeded).then(|| format!("operation {id}: {message}")),
            );
        }
        if !request.dry_run {
            // Its failure is in the status.
            let _ = self.compare(name, entry, app).await;
        }
        Ok(op)
    }
}

impl Controller {
    fn publish(&self, name: &str, entry: &Arc<AppEntry>) {
        if read(&self.object_apps).contains_key(name) {
            self.write_status.after(name.to_string(), GATHER);
        }
        let _ = self.events.send(AppEvent {
            kind: "MODIFIED",
            application: serde_json::to_value(Self::view(name, entry)).unwrap_or_default(),
        });
    }

    fn update_app_counts(&self) {
        let statuses: Vec<(SyncStatusCode, HealthStatusCode)> = read(&self.apps)
            .values()
            .map(|e| {
                let s = read(&e.status);
                (s.sync.status, s.health.status)
            })
            .collect();
        self.metrics
            .set_app_counts(statuses.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    }

    /// An Application as the API shows it: Argo CD's `{metadata, spec, status}`.
    fn view(name: &str, entry: &Arc<AppEntry>) -> bosun_api::Application {
        let app = read(&entry.app);
        let status = read(&entry.status);
        // A repoURL may carry credentials (`https://user:token@host/...`): never shown.
        let mut spec = app.spec.clone();
        for source in spec.source.iter_mut().chain(spec.sources.iter_mut()) {
            source.repo_url = bosun_source::redact_url(&source.repo_url);
        }
        bosun_api::Application {
            api_version: bosun_model::API_VERSION.into(),
            kind: bosun_model::KIND.into(),
            metadata: bosun_api::ApplicationMetadata {
                name: name.into(),
                namespace: app.metadata.namespace.clone(),
                labels: app.metadata.labels.clone(),
            },
            spec: serde_json::to_value(&spec).expect("an Application spec serialises to JSON"),
            status: (&*status).into(),
        }
    }

    // ---- what the API calls ----

    pub fn list(&self) -> Vec<bosun_api::Application> {
        read(&self.apps)
            .iter()
            .map(|(name, entry)| Self::view(name, entry))
            .collect()
    }

    pub fn get(&self, name: &str) -> Result<bosun_api::Application, ControllerError> {
        Ok(Self::view(name, &self.entry(name)?))
    }

    /// The Application as the catalog holds it (annotations and all), for the loops that read
    /// Applications without reconciling them (image updates).
    pub fn application(&self, name: &str) -> Option<bosun_model::Application> {
        read(&self.apps)
            .get(name)
            .map(|entry| read(&entry.app).clone())
    }

    /// The `ImageUpdater` objects the catalog read beside its Applications.
    pub fn image_updaters(&self) -> Arc<Vec<ImageUpdaterResource>> {
        self.image_updaters.borrow().clone()
    }

    /// Changes when the `ImageUpdater` objects of a catalog load differ from the last ones.
    pub fn subscribe_image_updaters(
        &self,
    ) -> tokio::sync::watch::Receiver<Arc<Vec<ImageUpdaterResource>>> {
        self.image_updaters.subscribe()
    }

    /// The names of every managed Application.
    pub fn names(&self) -> Vec<String> {
        read(&self.apps).keys().cloned().collect()
    }

    /// Compares now and returns the fresh view (a hard refresh: Git is asked again). The
    /// reconcile runs in the Application's loop; this waits for one that starts after the call.
    pub async fn refresh(&self, name: &str) -> Result<bosun_api::Application, ControllerError> {
        let entry = self.entry(name)?;
        let (done, reconciled) = oneshot::channel();
        lock(&entry.refreshed).push(done);
        self.reconcile_app.now(name.to_string());
        reconciled
            .await
            .map_err(|_| ControllerError::NotFound(name.to_string()))?;
        Ok(Self::view(name, &entry))
    }

    /// The desired-versus-live plan, Secret values masked.
    pub async fn diff(&self, name: &str) -> Result<Value, ControllerError> {
        let entry = self.entry(name)?;
        let app = read(&entry.app).clone();
        let (_, plan) = self.engine.diff(&app).await.map_err(Box::new)?;
        Ok(bosun_plan::text::to_json(&plan))
    }

    /// Managed resources and their descendants (ReplicaSets, Pods, Jobs), as Argo CD's
    /// resource tree.
    pub async fn resource_tree(&self, name: &str) -> Result<Vec<Value>, ControllerError> {
        let entry = self.entry(name)?;
        let app = read(&entry.app).clone();
        let managed = read(&entry.status).resources.clone();
        let client = self.engine.client(&app).await.map_err(Box::new)?;
        Ok(crate::tree::resource_tree(&client, &managed).await)
    }

    /// The tree node of `object` in the Application's resource tree, with the Application
    /// and the tree; a 404-like error naming it when the tree does not have it.
    async fn tree_node(
        &self,
        name: &str,
        object: &ObjectRef,
    ) -> Result<(Application, Vec<Value>, Value), ControllerError> {
        let entry = self.entry(name)?;
        let app = read(&entry.app).clone();
        let managed = read(&entry.status).resources.clone();
        let client = self.engine.client(&app).await.map_err(Box::new)?;
        let nodes = crate::tree::resource_tree(&client, &managed).await;
        let node = inspect::find(&nodes, object).cloned().ok_or_else(|| {
            ControllerError::NoSuchResource(format!(
                "{} is not a resource of {name}",
                object.describe()
            ))
        })?;
        Ok((app, nodes, node))
    }

    /// One object of the Application's resource tree as it is live, Secret values masked as
    /// the diff masks them.
    pub async fn resource(&self, name: &str, object: &ObjectRef) -> Result<Value, ControllerError> {
        let (app, _, _) = self.tree_node(name, object).await?;
        let mut live = self
            .engine
            .live_object(&app, &object.key())
            .await
            .map_err(Box::new)?
            .ok_or_else(|| {
                ControllerError::NoSuchResource(format!(
                    "{} of {name} is not live in the cluster",
                    object.describe()
                ))
            })?;
        bosun_plan::mask::mask(&mut live);
        Ok(live)
    }

    /// The Kubernetes Events of one object of the Application's resource tree, oldest first.
    pub async fn resource_events(
        &self,
        name: &str,
        object: &ObjectRef,
    ) -> Result<Vec<bosun_api::ResourceEvent>, ControllerError> {
        let (app, _, node) = self.tree_node(name, object).await?;
        let client = self.engine.client(&app).await.map_err(Box::new)?;
        inspect::events(&client, object, node["uid"].as_str())
            .await
            .map_err(|e| ControllerError::Unavailable(format!("listing Events: {e}")))
    }

    /// The container logs of a Pod of the Application's resource tree, or of the Pods below a
    /// workload of it.
    pub async fn pod_logs(
        &self,
        name: &str,
        object: &ObjectRef,
        options: &LogOptions,
    ) -> Result<Vec<bosun_api::PodLog>, ControllerError> {
        let (app, nodes, node) = self.tree_node(name, object).await?;
        let pods = inspect::pods_of(&nodes, &node);
        if pods.is_empty() {
            return Err(ControllerError::BadRequest(format!(
                "{} of {name} has no Pods to read logs of",
                object.describe()
            )));
        }
        let client = self.engine.client(&app).await.map_err(Box::new)?;
        Ok(inspect::logs(&client, &pods, options).await)
    }

    pub fn history(&self, name: &str) -> Result<Vec<Operation>, ControllerError> {
        self.entry(name)?;
        Ok(self.stored(|store| store.history(name))?)
    }

    /// Queues an operation for the Application's loop and waits for its end. The operation runs
    /// in the loop, not in the caller's task: a client that goes away does not cut a sync in half.
    pub async fn run(
        &self,
        name: &str,
        request: OperationRequest,
    ) -> Result<Operation, ControllerError> {
        let entry = self.entry(name)?;
        // A partial sync names resources the Application has (live or to create or prune).
        let unknown: Vec<String> = {
            let status = read(&entry.status);
            request
                .selected
                .iter()
                .filter(|s| {
                    !status.resources.iter().any(|r| {
                        r.group == s.group
                            && r.kind == s.kind
                            && r.namespace == s.namespace
                            && r.name == s.name
                    })
                })
                .map(|s| {
                    let namespace = if s.namespace.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", s.namespace)
                    };
                    format!("{}:{}:{namespace}{}", s.group, s.kind, s.name)
                })
                .collect()
        };
        if !unknown.is_empty() {
            return Err(ControllerError::BadRequest(format!(
                "resources: {} {} not a resource of {name}",
                unknown.join(", "),
                if unknown.len() == 1 { "is" } else { "are" }
            )));
        }
        let (done, finished) = oneshot::channel();
        lock(&entry.queued).push_back(Queued {
            request,
            resume: None,
            done,
        });
        self.reconcile_app.now(name.to_string());
        finished
            .await
            .map_err(|_| ControllerError::NotFound(name.to_string()))?
    }

    /// Sync the revisions that history entry `id` synced.
    pub async fn rollback(
        &self,
        name: &str,
        id: i64,
        initiated_by: &str,
        prune: bool,
    ) -> Result<Operation, ControllerError> {
        // An unknown Application is not found, whatever its history would say.
        self.entry(name)?;
        let op = self
            .stored(|store| store.operation(name, id))?
            .ok_or_else(|| {
                ControllerError::BadRequest(format!("{name} has no history entry {id}"))
            })?;
        if op.dry_run {
            return Err(ControllerError::BadRequest(format!(
                "history entry {id} of {name} was a dry run: nothing was applied then, so there is nothing to roll back to; pick a sync that was applied"
            )));
        }
        if op.phase != Phase::Succeeded || op.revisions.is_empty() {
            return Err(ControllerError::BadRequest(format!(
                "history entry {id} of {name} is not a successful sync ({}); pick one that is",
                op.phase.as_str()
            )));
        }
        self.run(
            name,
            OperationRequest {
                kind: OperationKind::Rollback,
                initiated_by: initiated_by.into(),
                revisions: Some(op.revisions),
                prune,
                dry_run: false,
                rollback_of: Some(id),
                selected: Vec::new(),
            },
        )
        .await
    }

    /// A push to `repo_url` moved `pushed_ref`: refresh the Applications it concerns (and the
    /// catalog, when an app-of-apps entry reads that repository). Returns their names.
    pub fn pushed(&self, repo_url: &str, pushed_ref: &str, default_branch: &str) -> Vec<String> {
        self.repository_moved(repo_url, |target_revision| {
            repo_match::revision_moves(target_revision, pushed_ref, default_branch)
        })
    }

    /// `repo_url` changed (any ref): refresh every Application that reads it, and the catalog
    /// when an app-of-apps entry reads it. Returns the Applications' names.
    pub fn repository_changed(&self, repo_url: &str) -> Vec<String> {
        self.repository_moved(repo_url, |_| true)
    }

    /// Refreshes the catalog (if it reads `repo_url`) and every Application with a source in
    /// `repo_url` whose `targetRevision` `moved` says changed.
    fn repository_moved(&self, repo_url: &str, moved: impl Fn(&str) -> bool) -> Vec<String> {
        if self.sources.iter().any(|s| s.is_repo(repo_url)) {
            self.reload_catalog.now(());
        }
        let mut refreshed = Vec::new();
        for (name, entry) in read(&self.apps).iter() {
            let app = read(&entry.app);
            let concerned = app.spec.all_sources().iter().any(|s| {
                repo_match::same_repo(&s.repo_url, repo_url)
                    && moved(s.target_revision.as_deref().unwrap_or(""))
            });
            if concerned {
                self.compare_after(name, entry, Duration::ZERO);
                refreshed.push(name.clone());
            }
        }
        refreshed
    }

    /// The local paths of the config's `applications` entries (for `bosun up`'s messages).
    pub fn local_sources(&self) -> Vec<PathBuf> {
        self.sources
            .iter()
            .filter_map(|s| match s {
                CatalogSource::Local(p) => Some(p.clone()),
                CatalogSource::Git { .. } | CatalogSource::Namespace(_) => None,
            })
            .collect()
    }
}

/// One resource's result as the history keeps it.
fn record_of(r: &bosun_apply::sync::ResourceResult) -> ResourceRecord {
    ResourceRecord {
        group: r.key.group.clone(),
        kind: r.key.kind.clone(),
        namespace: r.key.namespace.clone().unwrap_or_default(),
        name: r.key.name.clone(),
        action: r.action.as_str().into(),
        message: r.message.clone(),
    }
}

/// The results recorded so far (a resumed operation's earlier steps, and this run's, in order)
/// with each resource once, as its latest result left it.
fn merge_resources(earlier: Vec<ResourceRecord>, now: Vec<ResourceRecord>) -> Vec<ResourceRecord> {
    let mut merged: Vec<ResourceRecord> = Vec::new();
    for record in earlier.into_iter().chain(now) {
        let same = |r: &ResourceRecord| {
            (&r.group, &r.kind, &r.namespace, &r.name)
                == (&record.group, &record.kind, &record.namespace, &record.name)
        };
        match merged.iter_mut().find(|r| same(r)) {
            Some(slot) => *slot = record,
            None => merged.push(record),
        }
    }
    merged
}

fn short(revisions: &[String]) -> String {
    revisions
        .iter()
        .map(|r| r.chars().take(8).collect::<String>())
        .collect::<Vec<_>>()
        .join(",")
}

/// The Application's and each resource's health in the status, from an assessment.
fn set_health(status: &mut AppStatus, health: &bosun_assess::AppHealth) {
    let by_key: std::collections::HashMap<(&str, &str, &str, &str), HealthSummary> = health
        .resources
        .iter()
        .map(|x| {
            (
                (
                    x.group.as_str(),
                    x.kind.as_str(),
                    x.namespace.as_str(),
                    x.name.as_str(),
                ),
                HealthSummary {
                    status: health_code(x.health.status),
                    message: x.health.message.clone(),
                },
            )
        })
        .collect();
    for resource in &mut status.resources {
        resource.health = by_key
            .get(&(
                resource.group.as_str(),
                resource.kind.as_str(),
                resource.namespace.as_str(),
                resource.name.as_str(),
            ))
            .cloned();
    }
    status.health = HealthSummary {
        status: health_code(health.status),
        message: health
            .unhealthy()
            .first()
            .map(|r| format!("{}: {}", r.reference(), r.health.message))
            .unwrap_or_default(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A controller over one Application file, its catalog loaded, its loops not started.
    async fn controller() -> (tempfile::TempDir, Arc<Controller>) {
        let dir = tempfile::tempdir().unwrap();
        let apps = dir.path().join("apps");
        std::fs::create_dir_all(&apps).unwrap();
        std::fs::write(
            apps.join("web.yaml"),
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web\nspec:\n  source:\n    repoURL: https://example.com/org/config.git\n    path: web\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: web\n",
        )
        .unwrap();
        let config = BosunConfig::default();
        let engine = Engine::new(config.clone(), dir.path().join("cache")).unwrap();
        let controller = Controller::new(
            Arc::new(engine),
            Arc::new(Store::in_memory().unwrap()),
            Arc::new(Metrics::new()),
            ControllerSettings::from_config(&config),
            vec![CatalogSource::Local(apps)],
        );
        controller.load_catalog().await;
        assert!(controller.entry("web").is_ok(), "the catalog loaded web");
        (dir, controller)
    }

    fn record(controller: &Controller, dry_run: bool, phase: Phase) -> i64 {
        let store = &controller.store;
        let id = store
            .begin(&NewOperation {
                app: "web".into(),
                kind: OperationKind::Sync,
                initiated_by: "ci".into(),
                revisions: vec!["0123456789abcdef0123456789abcdef01234567".into()],
                prune: false,
                dry_run,
                rollback_of: None,
                spec_digest: String::new(),
                selected: Vec::new(),
            })
            .unwrap();
        store
            .finish(
                id,
                phase,
                "",
                &["0123456789abcdef0123456789abcdef01234567".into()],
                &[],
            )
            .unwrap();
        id
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rollback_refusals_say_what_is_wrong() {
        let (_dir, controller) = controller().await;
        let dry = record(&controller, true, Phase::Succeeded);
        let failed = record(&controller, false, Phase::Failed);

        // An unknown Application is not found (404), not "has no history entry" (400), even
        // for an id that exists under another name.
        let e = controller
            .rollback("nope", dry, "ci", false)
            .await
            .unwrap_err();
        assert!(matches!(e, ControllerError::NotFound(_)), "{e:?}");
        assert_eq!(e.to_string(), "application nope not found");

        let e = controller
            .rollback("web", 999, "ci", false)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "web has no history entry 999");

        let e = controller
            .rollback("web", dry, "ci", false)
            .await
            .unwrap_err();
        assert!(matches!(e, ControllerError::BadRequest(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "history entry {dry} of web was a dry run: nothing was applied then, so there is nothing to roll back to; pick a sync that was applied"
            )
        );

        let e = controller
            .rollback("web", failed, "ci", false)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("not a successful sync (Failed)"),
            "{e}"
        );
    }
}
