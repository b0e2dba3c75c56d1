//! The image update loop of `bosun serve`: for every Application that an Image Updater
//! `ImageUpdater` object selects or that has Image Updater's annotations, list its images' tags, let each image's policy pick one, and when Git names
//! another, write the new tag to the Application's values file or kustomization and push the
//! commit. The Application then syncs it like any other commit.
//!
//! One reconciler on the shared runtime, keyed by Application name: the runtime owns the
//! interval (with jitter), the backoff after a failure (a registry or Git server that is down)
//! and the one-check-at-a-time rule per Application. Writes to one repository are serialised
//! (Image Updater's per-repository lock), so two Applications in one repository never race
//! each other; a person racing bosun is handled by the push's retry (`write_back`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bosun_api::{ImageApplication, ImageTagChange, ImageUpdateEntry, WatchedImage};
use bosun_model::Application;
use bosun_model::commit_template::{CommitTemplate, TemplateChange};
use bosun_model::image_update::{ImageEntry, ImageUpdate, WriteBackTarget, image_update};
use bosun_model::image_updater::ImageUpdaterResource;
use bosun_record::{ImageChange, ImageUpdateRecord, Store};
use bosun_runtime::{Action, Config, ReconcileLoop, Reconciler, RuntimeMetrics};
use bosun_source::{Author, Credentials, Pushed, WriteError, Writer};
use tokio::sync::oneshot;

use crate::edit::{self, Edit, KeyPath};
use crate::metrics::ImageMetrics;
use crate::policy::{Policy, PolicyError, Strategy, TagInfo};
use crate::registry::Registries;
use crate::write_back::{Expected, WriteBack};

/// Where the updater finds Applications, and whom it tells about a pushed commit.
pub trait Catalog: Send + Sync + 'static {
    fn application(&self, name: &str) -> Option<Application>;
    fn names(&self) -> Vec<String>;
    /// The `ImageUpdater` objects loaded beside the Applications, in load order.
    fn image_updaters(&self) -> Arc<Vec<ImageUpdaterResource>>;
    /// A write-back was pushed to `repo_url`: refresh the Applications that read it, so that
    /// the new tag is deployed now rather than at the next poll.
    fn repository_changed(&self, repo_url: &str);
}

/// Credentials for a repository URL (from `bosun.yaml`'s `repositories`).
pub type CredentialsFor = Arc<dyn Fn(&str) -> Result<Credentials, String> + Send + Sync>;

pub struct UpdaterSettings {
    /// How often each Application's images are checked.
    pub interval: Duration,
    pub author: Author,
    /// Where bosun keeps its own bare clone of each repository it writes to.
    pub work_dir: PathBuf,
    /// The write-back commit's message (`images.commitMessageTemplate`).
    pub commit_template: CommitTemplate,
}

/// A repository bosun writes to, and the branch heads it fetched lately.
struct Repository {
    writer: Writer,
    default_branch: Option<String>,
}

pub struct ImageUpdater {
    registries: Arc<Registries>,
    settings: UpdaterSettings,
    catalog: Arc<dyn Catalog>,
    store: Arc<Store>,
    credentials: CredentialsFor,
    repositories: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Repository>>>>,
    status: RwLock<BTreeMap<String, ImageApplication>>,
    /// The image settings each Application had when last seen (see `application_seen`).
    seen: Mutex<HashMap<String, String>>,
    /// Callers of [`ImageUpdater::check`] waiting for the next check of an Application.
    waiting: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    reconcile_loop: ReconcileLoop<String>,
    metrics: ImageMetrics,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(String);

struct Checker(Weak<ImageUpdater>);

impl Reconciler for Checker {
    type Key = String;
    type Error = CheckError;

    async fn reconcile(self: Arc<Self>, name: String) -> Result<Action, CheckError> {
        let Some(updater) = self.0.upgrade() else {
            return Ok(Action::await_change());
        };
        // Those who asked before this check started are answered by it; those who ask while
        // it runs wait for the next one (their trigger queued it), which sees their request.
        let waiters = lock(&updater.waiting).remove(&name).unwrap_or_default();
        let result = updater.reconcile(&name).await;
        for waiter in waiters {
            let _ = waiter.send(());
        }
        result
    }
}

/// One image's decision in a check.
struct Decision {
    view: WatchedImage,
    /// The registry could not be reached: the check is tried again with backoff, not only at
    /// the next interval.
    transient: Option<String>,
    edits: Vec<Expected>,
    change: Option<ImageChange>,
}

impl ImageUpdater {
    pub fn new(
        registries: Arc<Registries>,
        settings: UpdaterSettings,
        catalog: Arc<dyn Catalog>,
        store: Arc<Store>,
        credentials: CredentialsFor,
        metrics: RuntimeMetrics,
        image_metrics: ImageMetrics,
    ) -> Arc<ImageUpdater> {
        let mut config = Config::new("images");
        config.concurrency = 4;
        config.max_error_backoff = Duration::from_secs(300);
        Arc::new(ImageUpdater {
            registries,
            settings,
            catalog,
            store,
            credentials,
            repositories: Mutex::default(),
            status: RwLock::default(),
            seen: Mutex::default(),
            waiting: Mutex::default(),
            reconcile_loop: ReconcileLoop::new(config, metrics),
            metrics: image_metrics,
        })
    }

    /// Starts the loop.
    pub fn start(self: &Arc<Self>) {
        self.reconcile_loop
            .start(Arc::new(Checker(Arc::downgrade(self))));
    }

    /// The controller saw Application `name` (its status changed), or the `ImageUpdater`
    /// objects changed: when it is new to the updater or its image settings changed, check it
    /// now. Status changes are frequent; this costs reading a few annotations and objects.
    pub fn application_seen(&self, name: &str) {
        let fingerprint = self.catalog.application(name).map(|app| {
            format!(
                "{:?}\n{}",
                self.settings_of(&app),
                serde_json::to_string(&app.spec.all_sources()).unwrap_or_default()
            )
        });
        let changed = {
            let mut seen = lock(&self.seen);
            match fingerprint {
                Some(f) => seen.insert(name.to_string(), f.clone()).as_ref() != Some(&f),
                None => seen.remove(name).is_some(),
            }
        };
        if changed {
            self.reconcile_loop.trigger().now(name.to_string());
        }
    }

    /// Events were missed: look at every Application again.
    pub fn resync(&self) {
        for name in self.catalog.names() {
            self.application_seen(&name);
        }
    }

    /// The registries (for a webhook's cache invalidation and metrics).
    pub fn registries(&self) -> &Registries {
        &self.registries
    }

    /// A registry said `image` changed (webhook): forget its tags and check every Application
    /// that watches it. Returns their names.
    pub fn image_pushed(&self, registry: &str, repository: &str) -> Vec<String> {
        let wanted = normalize(&format!("{registry}/{repository}"));
        let names: Vec<String> = self
            .status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|app| app.images.iter().any(|i| normalize(&i.image) == wanted))
            .map(|app| app.app.clone())
            .collect();
        self.registries
            .invalidate(&format!("{registry}/{repository}"));
        for name in &names {
            self.reconcile_loop.trigger().now(name.clone());
        }
        names
    }

    /// Every watched Application's view.
    pub fn list(&self) -> Vec<ImageApplication> {
        self.status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// One Application's view with its history.
    pub fn get(&self, name: &str) -> Option<ImageApplication> {
        let mut view = self
            .status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()?;
        view.history = self
            .store
            .image_updates(name, 50)
            .unwrap_or_default()
            .into_iter()
            .map(|r| ImageUpdateEntry {
                id: r.id,
                at: r.at,
                outcome: r.outcome,
                changes: r
                    .changes
                    .into_iter()
                    .map(|c| ImageTagChange {
                        image: c.image,
                        old_tag: c.old_tag,
                        new_tag: c.new_tag,
                    })
                    .collect(),
                branch: r.branch,
                revision: r.revision,
                message: r.message,
                attempts: (r.attempts > 0).then_some(r.attempts),
            })
            .collect();
        Some(view)
    }

    /// Checks `name` now, with fresh tags lists (someone asked: the cache is not what they
    /// want), and returns its view after a check that started after the call.
    pub async fn check(&self, name: &str) -> Option<ImageApplication> {
        if let Some(view) = self
            .status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            for image in &view.images {
                self.registries.invalidate(&image.image);
            }
        }
        let (done, checked) = oneshot::channel();
        lock(&self.waiting)
            .entry(name.to_string())
            .or_default()
            .push(done);
        self.reconcile_loop.trigger().now(name.to_string());
        checked.await.ok()?;
        self.get(name)
    }

    async fn reconcile(&self, name: &str) -> Result<Action, CheckError> {
        let forget = || {
            self.status
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(name);
        };
        let Some(app) = self.catalog.application(name) else {
            forget();
            return Ok(Action::await_change());
        };
        let update = match self.settings_of(&app) {
            Ok(Some(update)) => update,
            Ok(None) => {
                forget();
                return Ok(Action::await_change());
            }
            Err(e) => {
                // Bad settings: said on the Application's image view; looked at again when
                // the Application or the ImageUpdater objects change.
                self.set_status(ImageApplication {
                    app: name.to_string(),
                    error: Some(e),
                    checked_at: Some(now()),
                    ..Default::default()
                });
                return Ok(Action::await_change());
            }
        };
        let result = self.check_app(name, &update).await;
        ImageMetrics::count(
            &self.metrics.checks,
            if result.is_ok() { "ok" } else { "failed" },
        );
        match result {
            Ok(()) => Ok(Action::requeue_with_jitter(
                self.settings.interval,
                self.settings.interval / 10,
            )),
            Err(e) => {
                let message = e.0.clone();
                self.record_failure(name, &update, &message);
                let mut status = self.status_of(name);
                status.error = Some(message);
                status.checked_at = Some(now());
                self.set_status(status);
                Err(e)
            }
        }
    }

    /// `app`'s image update settings: from the first `ImageUpdater` that selects it (as in Image
    /// Updater v1, its annotations then do not count, unless the object says `useAnnotations`),
    /// else from its annotations (v0.x). `None`: its images are not watched.
    fn settings_of(&self, app: &Application) -> Result<Option<ImageUpdate>, String> {
        for resource in self.catalog.image_updaters().iter() {
            if let Some(update) = resource.image_update(app) {
                return update.map(Some).map_err(|e| e.to_string());
            }
        }
        image_update(app).map_err(|e| format!("{}: {e}", app.metadata.name))
    }

    fn status_of(&self, name: &str) -> ImageApplication {
        self.status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .unwrap_or_else(|| ImageApplication {
                app: name.to_string(),
                ..Default::default()
            })
    }

    fn set_status(&self, status: ImageApplication) {
        self.status
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(status.app.clone(), status);
    }

    /// A failed check goes to history once, not at every retry: only when its message differs
    /// from the last entry's.
    fn record_failure(&self, name: &str, update: &ImageUpdate, message: &str) {
        let last = self.store.image_updates(name, 1).unwrap_or_default();
        if last
            .first()
            .is_some_and(|l| l.outcome == "Failed" && l.message == message)
        {
            return;
        }
        let _ = self.store.record_image_update(&ImageUpdateRecord {
            id: 0,
            app: name.to_string(),
            at: String::new(),
            outcome: "Failed".to_string(),
            changes: Vec::new(),
            repository: bosun_source::redact_url(&update.repository),
            branch: update.base_branch.clone(),
            revision: String::new(),
            message: message.to_string(),
            attempts: 0,
        });
    }

    fn repository(&self, url: &str) -> Result<Arc<tokio::sync::Mutex<Repository>>, CheckError> {
        // Created under the map's lock: two first checks of one repository must not both run
        // `git init` in its directory.
        let mut repositories = lock(&self.repositories);
        if let Some(repository) = repositories.get(url) {
            return Ok(repository.clone());
        }
        let credentials = (self.credentials)(url).map_err(CheckError)?;
        let dir = self.settings.work_dir.join(bosun_source::dir_name(url));
        let writer = Writer::bare(dir, url, credentials).map_err(|e| CheckError(e.to_string()))?;
        let repository = Arc::new(tokio::sync::Mutex::new(Repository {
            writer,
            default_branch: None,
        }));
        repositories.insert(url.to_string(), repository.clone());
        Ok(repository)
    }

    async fn check_app(&self, name: &str, update: &ImageUpdate) -> Result<(), CheckError> {
        let repository = self.repository(&update.repository)?;
        // One check or write at a time per repository: bosun never races itself.
        let mut repo = repository.lock().await;
        let base = match update.base_branch.as_str() {
            "" | "HEAD" => match &repo.default_branch {
                Some(branch) => branch.clone(),
                None => {
                    let writer = repo.writer.clone();
                    let branch = blocking(move || writer.default_branch()).await?;
                    repo.default_branch = Some(branch.clone());
                    branch
                }
            },
            branch => branch.to_string(),
        };
        let writer = repo.writer.clone();
        let fetched_branch = base.clone();
        let head = blocking(move || writer.fetch(&fetched_branch))
            .await?
            .ok_or_else(|| {
                CheckError(format!(
                    "{}: branch {base} not found",
                    bosun_source::redact_url(&update.repository)
                ))
            })?;
        let (file, content) = self
            .target_file(&repo.writer, &head, &update.target)
            .await?;
        // The registries are asked without the repository's lock: the other Applications of
        // the repository need not wait on them. The push below makes the edit again on whatever
        // head the branch has by then.
        drop(repo);

        let mut decisions = Vec::new();
        for entry in &update.images {
            decisions.push(self.decide(entry, update, &content).await);
        }
        let mut status = ImageApplication {
            app: name.to_string(),
            repository: bosun_source::redact_url(&update.repository),
            branch: update.target_branch.clone().unwrap_or_else(|| base.clone()),
            file: file.clone(),
            images: decisions.iter().map(|d| d.view.clone()).collect(),
            checked_at: Some(now()),
            error: None,
            history: Vec::new(),
        };
        let edits: Vec<Expected> = decisions.iter().flat_map(|d| d.edits.clone()).collect();
        let changes: Vec<ImageChange> = decisions.iter().filter_map(|d| d.change.clone()).collect();
        let transient = decisions.iter().find_map(|d| d.transient.clone());
        if edits.is_empty() {
            self.set_status(status);
            return transient.map_or(Ok(()), |e| Err(CheckError(e)));
        }
        let target = match &update.target_branch {
            Some(template) => branch_name(template, &changes).map_err(CheckError)?,
            None => base.clone(),
        };
        let message = commit_message(&self.settings.commit_template, name, &changes);
        let author = self.settings.author.clone();
        let repo = repository.lock().await;
        let writer = repo.writer.clone();
        let (path, base_branch, target_branch) = (file.clone(), base.clone(), target.clone());
        let pushed = tokio::task::spawn_blocking(move || {
            WriteBack {
                path: &path,
                edits: &edits,
                message: &message,
                author: &author,
            }
            .push(&writer, &base_branch, &target_branch, None)
        })
        .await
        .map_err(|e| CheckError(format!("git task: {e}")))?;
        drop(repo);
        let pushed = match pushed {
            Ok(pushed) => pushed,
            // Someone changed the same value meanwhile: their change stands. Said on the view
            // and in history; looked at again at the next interval, not retried at once.
            Err(WriteError::Conflict(message)) => {
                ImageMetrics::count(&self.metrics.write_backs, "failed");
                self.record_failure(name, update, &message);
                status.error = Some(message);
                self.set_status(status);
                return Ok(());
            }
            Err(e) => {
                ImageMetrics::count(&self.metrics.write_backs, "failed");
                return Err(CheckError(e.to_string()));
            }
        };
        if let Pushed::Commit { id, attempts } = &pushed {
            ImageMetrics::count(&self.metrics.write_backs, "committed");
            tracing::info!(app = name, commit = %id, attempts, branch = %target, "image write-back pushed");
            let _ = self.store.record_image_update(&ImageUpdateRecord {
                id: 0,
                app: name.to_string(),
                at: String::new(),
                outcome: "Committed".to_string(),
                changes: changes.clone(),
                repository: bosun_source::redact_url(&update.repository),
                branch: target.clone(),
                revision: id.clone(),
                message: String::new(),
                attempts: u32::try_from(*attempts).unwrap_or(u32::MAX),
            });
            for (image, change) in status.images.iter_mut().zip(&decisions) {
                if change.change.is_some() {
                    image.current = image.latest.clone();
                }
            }
            self.set_status(status);
            self.catalog.repository_changed(&update.repository);
        } else {
            self.set_status(status);
        }
        transient.map_or(Ok(()), |e| Err(CheckError(e)))
    }

    /// The write-back file at `head` and its text: the values file, or the directory's
    /// kustomization under any of the names kustomize recognises.
    async fn target_file(
        &self,
        writer: &Writer,
        head: &str,
        target: &WriteBackTarget,
    ) -> Result<(String, String), CheckError> {
        let candidates: Vec<String> = match target {
            WriteBackTarget::HelmValues(path) => vec![path.clone()],
            WriteBackTarget::Kustomization(dir) => {
                ["kustomization.yaml", "kustomization.yml", "Kustomization"]
                    .iter()
                    .map(|f| {
                        if dir.is_empty() {
                            f.to_string()
                        } else {
                            format!("{dir}/{f}")
                        }
                    })
                    .collect()
            }
        };
        for path in &candidates {
            let (writer, head, file) = (writer.clone(), head.to_string(), path.clone());
            if let Some(bytes) = blocking(move || writer.read(&head, &file)).await? {
                let text = String::from_utf8(bytes)
                    .map_err(|_| CheckError(format!("{path}: not UTF-8 text")))?;
                return Ok((path.clone(), text));
            }
        }
        Err(CheckError(format!(
            "write-back target {} not found at {}",
            candidates.join(" or "),
            &head[..head.len().min(12)]
        )))
    }

    /// What one image's policy picks, and the edits that write it.
    async fn decide(&self, entry: &ImageEntry, update: &ImageUpdate, content: &str) -> Decision {
        let option = |name: &str| entry.options.get(name).map(|(_, v)| v.as_str());
        let mut view = WatchedImage {
            alias: entry.alias.clone(),
            image: entry.image.clone(),
            strategy: option("update-strategy").unwrap_or("semver").to_string(),
            constraint: entry.constraint.clone(),
            ..Default::default()
        };
        let mut decision = Decision {
            transient: None,
            view: view.clone(),
            edits: Vec::new(),
            change: None,
        };
        let failed = |mut view: WatchedImage, message: String| {
            view.message = Some(message);
            view
        };
        // A registry that could not be reached makes the check fail (and be retried with
        // backoff); other registry errors are this image's message only.
        let transient =
            |e: &crate::registry::RegistryError| e.is_transient().then(|| e.to_string());
        let policy = match policy_of(entry) {
            Ok(policy) => policy,
            Err(e) => {
                decision.view = failed(view, e);
                return decision;
            }
        };
        let keys = match keys(entry, &update.target, content) {
            Ok(keys) => keys,
            Err(e) => {
                decision.view = failed(view, e);
                return decision;
            }
        };
        view.key = keys.tag.to_string();
        let current = match edit::get(content, &keys.tag) {
            Ok(current) if keys.reference => current.and_then(|r| tag_of(&r)),
            Ok(current) => current,
            Err(e) => {
                decision.view = failed(view, e.to_string());
                return decision;
            }
        };
        view.current = current.clone();
        let tags = match self
            .registries
            .tags(&entry.image, self.settings.interval)
            .await
        {
            Ok(tags) => tags,
            Err(e) => {
                decision.transient = transient(&e);
                decision.view = failed(view, e.to_string());
                return decision;
            }
        };
        view.tags_seen = tags.len();
        let allowed: Vec<&String> = tags.iter().filter(|t| policy.allows(t)).collect();
        let mut infos = Vec::new();
        for tag in allowed {
            if policy.needs_metadata() {
                match self.registries.metadata(&entry.image, tag).await {
                    Ok(info) => infos.push(info),
                    Err(e) => {
                        decision.transient = transient(&e);
                        decision.view = failed(view, e.to_string());
                        return decision;
                    }
                }
            } else {
                infos.push(TagInfo {
                    tag: tag.clone(),
                    created: None,
                    digest: None,
                });
            }
        }
        let Some(latest) = policy.select(&infos) else {
            decision.view = failed(view, "no tag the policy allows".to_string());
            return decision;
        };
        // The digest strategy writes `tag@sha256:…` into a Helm tag and `digest` beside
        // `newTag` in a kustomization, as Image Updater.
        let digest_mode = matches!(policy.strategy, Strategy::Digest);
        let new_value = match (&keys.digest, digest_mode, &latest.digest) {
            (None, true, Some(digest)) => format!("{}@{digest}", latest.tag),
            _ => latest.tag.clone(),
        };
        view.latest = Some(new_value.clone());
        let reference = format!("{}:{new_value}", entry.image);
        let mut wanted = vec![(
            keys.tag.clone(),
            if keys.reference {
                reference.clone()
            } else {
                new_value.clone()
            },
        )];
        if let Some(path) = &keys.also_reference {
            wanted.push((path.clone(), reference));
        }
        if let (Some(key), true, Some(digest)) = (&keys.digest, digest_mode, &latest.digest) {
            wanted.push((key.clone(), digest.clone()));
        }
        if let Some((key, value)) = &keys.name {
            wanted.push((key.clone(), value.clone()));
        }
        for (path, value) in wanted {
            let old = edit::get(content, &path).ok().flatten();
            if old.as_deref() != Some(value.as_str()) {
                decision.edits.push(Expected {
                    edit: Edit { path, value },
                    old,
                });
            }
        }
        if !decision.edits.is_empty() {
            decision.change = Some(ImageChange {
                image: entry.image.clone(),
                old_tag: current.unwrap_or_default(),
                new_tag: new_value,
            });
        }
        decision.view = view;
        decision
    }

    /// The Applications whose images are watched.
    pub fn names(&self) -> Vec<String> {
        self.status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

/// The image's policy; an error names the annotation or field that set the bad value.
fn policy_of(entry: &ImageEntry) -> Result<Policy, String> {
    let option = |name: &str| entry.options.get(name).map(|(_, v)| v.as_str());
    option("update-strategy")
        .unwrap_or("")
        .parse::<Strategy>()
        .and_then(|strategy| {
            Policy::new(
                strategy,
                entry.constraint.as_deref(),
                option("allow-tags"),
                option("ignore-tags"),
            )
        })
        .map_err(|e| {
            let set_by = match &e {
                PolicyError::UnknownStrategy(_) => entry.options.get("update-strategy"),
                PolicyError::Allow { .. } => entry.options.get("allow-tags"),
                PolicyError::Ignore(_) => entry.options.get("ignore-tags"),
                _ => None,
            };
            match set_by {
                Some((name, _)) => format!("{}: {name}: {e}", entry.image),
                None => format!("{}: {e}", entry.image),
            }
        })
}

/// The keys an image's new values go to.
struct Keys {
    /// Where the current tag is read and the new one written.
    tag: KeyPath,
    /// `tag` holds `image:tag`, not the tag alone (Flux's `ns:name` marker).
    reference: bool,
    /// Another place for `image:tag`, beside a `tag` of its own (a file with both Flux's
    /// `ns:name:tag` and `ns:name` markers).
    also_reference: Option<KeyPath>,
    /// Set with the new digest (kustomization `digest`).
    digest: Option<KeyPath>,
    /// Set to the image's name (`helm.image-name` given, kustomization `newName` when
    /// `kustomize.image-name` renames).
    name: Option<(KeyPath, String)>,
}

/// The tag of `image:tag` (`registry:port/repo:tag`, `repo:tag@sha256:…`).
fn tag_of(reference: &str) -> Option<String> {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.split_once(':').map(|(_, tag)| tag.to_string())
}

/// The keys Flux's markers in `content` give the image whose alias is the marker's policy name
/// (`# {"$imagepolicy": "<namespace>:<alias>[:tag|:name]"}`; the namespace is Flux's and not
/// compared). `None` when no marker names it.
fn marker_keys(entry: &ImageEntry, content: &str) -> Result<Option<Keys>, String> {
    let Some(alias) = &entry.alias else {
        return Ok(None);
    };
    let policies = edit::markers(content).map_err(|e| e.to_string())?;
    let find = |field: Option<&str>| {
        policies.iter().find(|policy| {
            let parts: Vec<&str> = policy.split(':').collect();
            match (parts.as_slice(), field) {
                ([_, name], None) => name == alias,
                ([_, name, f], Some(field)) => name == alias && *f == field,
                _ => false,
            }
        })
    };
    let marker = |policy: &String| KeyPath(vec![edit::Segment::Marker(policy.clone())]);
    let (full, tag, name) = (find(None), find(Some("tag")), find(Some("name")));
    let (tag, reference, also_reference) = match (tag, full) {
        (Some(tag), full) => (marker(tag), false, full.map(marker)),
        (None, Some(full)) => (marker(full), true, None),
        (None, None) => match name {
            Some(name) => {
                return Err(format!(
                    "{image}: the file marks {name} (the image's name) but not its tag; add a `{policy}:tag` or `{policy}` marker",
                    image = entry.image,
                    policy = name.trim_end_matches(":name"),
                ));
            }
            None => return Ok(None),
        },
    };
    Ok(Some(Keys {
        tag,
        reference,
        also_reference,
        digest: None,
        name: name.map(|n| (marker(n), entry.image.clone())),
    }))
}

fn keys(entry: &ImageEntry, target: &WriteBackTarget, content: &str) -> Result<Keys, String> {
    let parse = |text: &str| -> Result<KeyPath, String> {
        text.parse()
            .map_err(|e: String| format!("{}: {e}", entry.image))
    };
    // Flux's markers name the fields when the annotations do not.
    let named = match target {
        WriteBackTarget::HelmValues(_) => {
            entry.helm_image_tag.is_some() || entry.helm_image_name.is_some()
        }
        WriteBackTarget::Kustomization(_) => entry.kustomize_image_name.is_some(),
    };
    if !named && let Some(keys) = marker_keys(entry, content)? {
        return Ok(keys);
    }
    match target {
        WriteBackTarget::HelmValues(_) => {
            if entry.helm_image_spec.is_some() {
                return Err(format!(
                    "{}: helm.image-spec is not supported yet; use helm.image-name and helm.image-tag",
                    entry.image
                ));
            }
            Ok(Keys {
                tag: parse(entry.helm_image_tag.as_deref().unwrap_or("image.tag"))?,
                reference: false,
                also_reference: None,
                digest: None,
                name: match &entry.helm_image_name {
                    Some(key) => Some((parse(key)?, entry.image.clone())),
                    None => None,
                },
            })
        }
        WriteBackTarget::Kustomization(_) => {
            let name = entry
                .kustomize_image_name
                .as_deref()
                .unwrap_or(&entry.image);
            let select = |field: &str| parse(&format!("images[name={name}].{field}"));
            Ok(Keys {
                tag: select("newTag")?,
                reference: false,
                also_reference: None,
                digest: Some(select("digest")?),
                name: match &entry.kustomize_image_name {
                    Some(original) if original != &entry.image => {
                        Some((select("newName")?, entry.image.clone()))
                    }
                    _ => None,
                },
            })
        }
    }
}

/// The commit message `template` gives these changes.
fn commit_message(template: &CommitTemplate, app: &str, changes: &[ImageChange]) -> String {
    let changes: Vec<TemplateChange<'_>> = changes
        .iter()
        .map(|c| TemplateChange {
            image: short_name(&c.image),
            old_tag: &c.old_tag,
            new_tag: &c.new_tag,
        })
        .collect();
    template.render(app, &changes)
}

/// The image's name without its registry, as Image Updater's `.Image`.
fn short_name(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => rest,
        _ => image,
    }
}

/// The target branch of `git-branch: base:target`: `{{.SHA256}}` is Image Updater's hash of
/// the changes (one branch per distinct update).
fn branch_name(template: &str, changes: &[ImageChange]) -> Result<String, String> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    for change in changes {
        hasher.update(format!(
            "{}-{}-{},",
            short_name(&change.image),
            change.old_tag,
            change.new_tag
        ));
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = template
        .replace("{{.SHA256}}", &hash)
        .replace("{{ .SHA256 }}", &hash);
    if name.contains("{{") {
        return Err(format!(
            "git-branch `{template}`: only {{{{.SHA256}}}} is supported in a branch template"
        ));
    }
    Ok(name.chars().take(255).collect())
}

/// `nginx` and `docker.io/library/nginx` name one image.
fn normalize(image: &str) -> String {
    match image.parse::<oci_client::Reference>() {
        Ok(r) => format!("{}/{}", r.resolve_registry(), r.repository()),
        Err(_) => image.to_string(),
    }
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, bosun_source::WriteError> + Send + 'static,
) -> Result<T, CheckError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CheckError(format!("git task: {e}")))?
        .map_err(|e| CheckError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_branches_follow_image_updater() {
        let changes = vec![ImageChange {
            image: "127.0.0.1:5000/acme/api".into(),
            old_tag: "1.2.0".into(),
            new_tag: "1.10.0".into(),
        }];
        assert_eq!(
            commit_message(&CommitTemplate::default(), "api-dev", &changes),
            "build: automatic update of api-dev\n\nupdates image acme/api tag '1.2.0' to '1.10.0'\n"
        );
        let configured = CommitTemplate::parse(
            "deploy({{.AppName}}):{{range .AppChanges}} {{.Image}} {{.OldTag}}->{{.NewTag}}{{end}}",
        )
        .unwrap();
        assert_eq!(
            commit_message(&configured, "api-dev", &changes),
            "deploy(api-dev): acme/api 1.2.0->1.10.0"
        );
        let branch = branch_name("image-updater-{{.SHA256}}", &changes).unwrap();
        assert_eq!(branch.len(), "image-updater-".len() + 64);
        assert_eq!(
            branch,
            branch_name("image-updater-{{ .SHA256 }}", &changes).unwrap()
        );
        assert!(branch_name("x-{{.AppName}}", &changes).is_err());
        assert_eq!(normalize("nginx"), normalize("docker.io/library/nginx"));
    }

    fn entry(alias: &str, image: &str) -> ImageEntry {
        ImageEntry {
            alias: Some(alias.into()),
            image: image.into(),
            constraint: None,
            options: Default::default(),
            helm_image_name: None,
            helm_image_tag: None,
            helm_image_spec: None,
            kustomize_image_name: None,
        }
    }

    #[test]
    fn flux_markers_name_the_fields_of_the_image_whose_alias_they_name() {
        let values = "image:\n  repository: ghcr.io/acme/api # {\"$imagepolicy\": \"flux-system:api:name\"}\n  tag: 1.2.0 # {\"$imagepolicy\": \"flux-system:api:tag\"}\nworker:\n  image: ghcr.io/acme/worker:0.9 # {\"$imagepolicy\": \"flux-system:worker\"}\n";
        let target = WriteBackTarget::HelmValues("values.yaml".into());
        let api = keys(&entry("api", "ghcr.io/acme/api"), &target, values).unwrap();
        assert_eq!(api.tag.to_string(), "$imagepolicy(flux-system:api:tag)");
        assert!(!api.reference && api.also_reference.is_none());
        let (name, value) = api.name.unwrap();
        assert_eq!(name.to_string(), "$imagepolicy(flux-system:api:name)");
        assert_eq!(value, "ghcr.io/acme/api");
        assert_eq!(
            edit::get(values, &api.tag).unwrap().as_deref(),
            Some("1.2.0")
        );
        // The whole-image marker: the value is `image:tag`, its tag is the current one.
        let worker = keys(&entry("worker", "ghcr.io/acme/worker"), &target, values).unwrap();
        assert!(worker.reference);
        let held = edit::get(values, &worker.tag).unwrap().unwrap();
        assert_eq!(tag_of(&held).as_deref(), Some("0.9"));
        assert_eq!(tag_of("127.0.0.1:5000/acme/api").as_deref(), None);
        assert_eq!(
            tag_of("127.0.0.1:5000/acme/api:1.0").as_deref(),
            Some("1.0")
        );
        // No marker for this alias: the annotations' keys, as before.
        let other = keys(&entry("db", "postgres"), &target, values).unwrap();
        assert_eq!(other.tag.to_string(), "image.tag");
        // An explicit helm.image-tag wins over markers.
        let mut named = entry("api", "ghcr.io/acme/api");
        named.helm_image_tag = Some("image.tag".into());
        assert_eq!(
            keys(&named, &target, values).unwrap().tag.to_string(),
            "image.tag"
        );
        // A name marker without a tag marker is said, not guessed.
        let only_name = "image:\n  repository: ghcr.io/acme/api # {\"$imagepolicy\": \"apps:api:name\"}\n  tag: 1.2.0\n";
        let e = keys(&entry("api", "ghcr.io/acme/api"), &target, only_name)
            .err()
            .unwrap();
        assert!(
            e.contains("marks apps:api:name") && e.contains("`apps:api:tag`"),
            "{e}"
        );
        // In a kustomization, too.
        let kustomization = "images:\n- name: api\n  newName: ghcr.io/acme/api\n  newTag: 1.2.0 # {\"$imagepolicy\": \"apps:api:tag\"}\n";
        let target = WriteBackTarget::Kustomization(".".into());
        let api = keys(&entry("api", "ghcr.io/acme/api"), &target, kustomization).unwrap();
        assert_eq!(api.tag.to_string(), "$imagepolicy(apps:api:tag)");
        assert!(api.digest.is_none());
    }
}
