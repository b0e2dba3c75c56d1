//! One sync of an Application: every desired object server-side applied with bosun's field
//! manager (tracking stamped), in Argo CD's order — PreSync hooks, then the Sync phase wave by
//! wave (its `Sync` hooks run in their wave, next to the objects) with each wave healthy and its
//! hooks finished before the next, pruning what left Git in its wave (or after everything with
//! PruneLast), then PostSync hooks; SyncFail hooks when it fails. A partial sync
//! ([`SyncRequest::only`], Argo CD's sync `resources`) applies and prunes only the selected
//! objects and runs no hook.
//!
//! The caller has rendered the complete set of objects (a partial or failed render never gets
//! here) and decides about pruning; this module never deletes an object that does not carry the
//! Application's exact tracking id, nor one marked `Prune=false`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use bosun_assess::{HealthStatus, assess};
use bosun_model::argo::{self, DeletePolicy, HookType, Role};
use bosun_model::{DeletionMode, SyncOptions};
use bosun_plan::SyncState;
use bosun_plan::key::ResourceKey;
use bosun_plan::live::{Prepared, prepare};
use bosun_plan::resolve::Resolver;
use bosun_plan::tracking::{find_tracked, is_tracked_by};
use futures::{FutureExt, StreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;
use tokio::time::Instant;

use crate::hooks::Phase;
use crate::order::{wave_of, waves};

/// Writes in flight at once within a wave.
const APPLY_CONCURRENCY: usize = 8;

/// A hook that was created and is being waited for, with its delete policies.
type RunningHook = (Prepared, Vec<DeletePolicy>);

/// What to sync and how.
#[derive(Clone, Debug)]
pub struct SyncRequest {
    pub app: String,
    /// The destination namespace: namespaced objects without one go there.
    pub namespace: String,
    /// The complete render.
    pub objects: Vec<Value>,
    pub options: SyncOptions,
    /// Delete tracked objects that are no longer rendered.
    pub prune: bool,
    /// Server-side dry run of every write; nothing changes, nothing is waited for.
    pub dry_run: bool,
    /// Upper bound for the whole sync, waits included.
    pub timeout: Duration,
    /// The field manager of every apply.
    pub manager: String,
    /// The Plan's verdict per desired object: what an apply will be (created, configured,
    /// unchanged) and, with `ApplyOutOfSyncOnly`, which objects are skipped.
    pub planned: BTreeMap<ResourceKey, SyncState>,
    /// Objects whose server-side dry run returned the live object unchanged (the Plan's `noop`),
    /// with that live object: their apply would be a no-op, so it is not sent.
    pub unchanged: BTreeMap<ResourceKey, Value>,
    /// The live objects tracked as this Application's, when the caller holds them already (the
    /// controller's watch cache); `None` lists them from the cluster.
    pub tracked: Option<Vec<Value>>,
    /// Resume an operation that a restart cut short: every step (a phase's wave) before this
    /// one is done and is skipped; this one runs again (applies are idempotent).
    pub resume: Option<Step>,
    /// The commit being synced (of the first source) and when the operation started: a hook
    /// with `generateName` is named from both, as Argo CD names it, so a resumed operation
    /// finds the hooks it created before the restart.
    pub revision: String,
    pub started: SystemTime,
    /// The Plan's warnings for objects another Application owns (its `shared_warning`): with
    /// `FailOnSharedResource=true` the sync fails on them before it writes anything.
    pub shared: Vec<String>,
    /// A partial sync (Argo CD's sync `resources`): only these objects are applied, pruning
    /// looks only among them, and no hook runs. `None`: everything.
    pub only: Option<BTreeSet<ResourceKey>>,
}

impl SyncRequest {
    /// Whether a partial sync selected `object` (every object when the sync is not partial). A
    /// manifest without a namespace is matched as the destination namespace's, and also as
    /// cluster-scoped (the selection says which it is).
    fn selects(&self, object: &Value) -> bool {
        let Some(only) = &self.only else {
            return true;
        };
        let key = ResourceKey::of(object);
        if only.contains(&key) {
            return true;
        }
        key.namespace.is_none()
            && !self.namespace.is_empty()
            && only.contains(&ResourceKey {
                namespace: Some(self.namespace.clone()),
                ..key
            })
    }
}

/// The name Argo CD gives a hook that has `generateName` and no name (gitops-engine's
/// `getSyncTasks`): `<generateName><commit[0..7]>-<phase>-<start in Unix seconds>`, lower case.
/// Deterministic, unlike the API server's random suffix: the same operation names its hook the
/// same way after a restart, and a new operation gets a new hook.
pub fn generated_hook_name(
    generate_name: &str,
    revision: &str,
    phase: Phase,
    started: SystemTime,
) -> String {
    let short = revision.get(..7).unwrap_or(revision);
    let seconds = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{generate_name}{}",
        format!("{short}-{}-{seconds}", phase.as_str()).to_lowercase()
    )
}

/// One step of a sync: PreSync hooks (wave 0), a wave of the Sync phase, or the end (PostSync,
/// wave 0: PruneLast and PostSync hooks). Steps run in this order (phase, then wave).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Step {
    pub phase: Phase,
    pub wave: i64,
}

/// What happened to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    /// Not applied: in sync, with ApplyOutOfSyncOnly.
    Skipped,
    Pruned,
    /// Would be pruned, but `Prune=false` (or pruning was not asked for).
    PruneSkipped,
    HookSucceeded,
    HookFailed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Skipped => "skipped (in sync)",
            Action::Pruned => "pruned",
            Action::PruneSkipped => "prune skipped",
            Action::HookSucceeded => "hook succeeded",
            Action::HookFailed => "hook failed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ResourceResult {
    pub key: ResourceKey,
    pub phase: Phase,
    pub wave: i64,
    pub action: Action,
    pub message: String,
}

/// Progress, as it happens.
#[derive(Clone, Debug)]
pub enum SyncEvent {
    /// A phase's wave is about to be applied.
    Wave {
        phase: Phase,
        wave: i64,
        objects: usize,
    },
    /// One resource was written (or pruned, or skipped).
    Resource(ResourceResult),
    /// Everything before this step is done, and it starts: where a resumed sync picks up.
    Reached(Step),
    /// Waiting for these resources to become healthy (or hooks to finish).
    Waiting {
        phase: Phase,
        wave: i64,
        pending: Vec<String>,
    },
}

/// The result of a sync that ran to its end (successfully or not).
#[derive(Clone, Debug)]
pub struct SyncOutcome {
    pub resources: Vec<ResourceResult>,
    pub succeeded: bool,
    pub message: String,
    /// The objects as the server answered each write of the Sync phase (after a dry run: its
    /// predictions), so that health can be assessed without reading them again.
    pub written: Vec<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Plan(Box<bosun_plan::error::Error>),
    #[error("{key}: {action} failed: {message}")]
    Write {
        key: String,
        action: &'static str,
        message: String,
    },
    #[error("{0}")]
    Options(String),
}

impl From<bosun_plan::error::Error> for SyncError {
    fn from(e: bosun_plan::error::Error) -> Self {
        SyncError::Plan(Box::new(e))
    }
}

fn status_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

fn api_for(resolver: &Resolver, prepared: &Prepared) -> Api<DynamicObject> {
    let client = resolver.client().clone();
    match (prepared.resolved.namespaced(), &prepared.key.namespace) {
        (true, Some(ns)) => Api::namespaced_with(client, ns, &prepared.resolved.resource),
        _ => Api::all_with(client, &prepared.resolved.resource),
    }
}

/// The resource's own sync options on top of the Application's.
fn options_of(object: &Value, app: &SyncOptions) -> Result<SyncOptions, SyncError> {
    argo::sync_options(object, app)
        .map_err(|e| SyncError::Options(format!("{}: {e}", ResourceKey::of(object))))
}

/// One object's write: what happened, and (unless it was skipped) the object as prepared and as
/// the server answered.
type Written = (ResourceResult, Option<(Prepared, Value)>);

struct Run<'a> {
    resolver: &'a Resolver,
    req: &'a SyncRequest,
    deadline: Instant,
    results: Vec<ResourceResult>,
    written: Vec<Value>,
    on_event: &'a (dyn Fn(&SyncEvent) + Sync),
    /// A namespace this dry run would create (CreateNamespace=true) and so did not: the server
    /// cannot dry-run objects inside it.
    namespace_not_created: Option<String>,
}

/// Runs one sync. `Err` means the sync could not be carried out (a write was refused, the
/// cluster does not serve a kind); `Ok` with `succeeded: false` means it ran but the resources
/// did not become healthy in time or a hook failed.
pub async fn sync(
    resolver: &Resolver,
    req: &SyncRequest,
    on_event: &(dyn Fn(&SyncEvent) + Sync),
) -> Result<SyncOutcome, SyncError> {
    let mut run = Run {
        resolver,
        req,
        deadline: Instant::now() + req.timeout,
        results: Vec::new(),
        written: Vec::new(),
        on_event,
        namespace_not_created: None,
    };
    // Argo CD checks this before the sync starts: no hook runs, nothing is written.
    if req.options.fail_on_shared_resource && !req.shared.is_empty() {
        return Ok(SyncOutcome {
            resources: Vec::new(),
            written: Vec::new(),
            succeeded: false,
            message: format!("Shared resource found: {}", req.shared.join("; ")),
        });
    }
    let outcome = run.execute().await;
    match outcome {
        Ok(Ok(())) => Ok(SyncOutcome {
            resources: run.results,
            written: run.written,
            succeeded: true,
            message: if req.dry_run {
                "dry run succeeded".into()
            } else {
                "successfully synced".into()
            },
        }),
        Ok(Err(message)) => {
            run.run_sync_fail_hooks().await;
            Ok(SyncOutcome {
                resources: run.results,
                written: run.written,
                succeeded: false,
                message,
            })
        }
        Err(e) => {
            run.run_sync_fail_hooks().await;
            Err(e)
        }
    }
}

impl Run<'_> {
    fn emit(&self, event: SyncEvent) {
        (self.on_event)(&event);
    }

    /// Whether `step` was done before the sync was resumed; if not, it starts now.
    fn skip_or_start(&self, phase: Phase, wave: i64) -> bool {
        let step = Step { phase, wave };
        if self.req.resume.is_some_and(|resume| step < resume) {
            return true;
        }
        self.emit(SyncEvent::Reached(step));
        false
    }

    fn record(&mut self, result: ResourceResult) {
        self.emit(SyncEvent::Resource(result.clone()));
        self.results.push(result);
    }

    /// `Ok(Err(message))`: the sync ran and failed (unhealthy, hook failed, timeout).
    async fn execute(&mut self) -> Result<Result<(), String>, SyncError> {
        let req = self.req;
        let mut hooks: BTreeMap<Phase, Vec<Value>> = BTreeMap::new();
        let mut normal = Vec::new();
        for object in &req.objects {
            // A partial sync runs no hook and applies only what was selected (Argo CD).
            if req.only.is_some() && (!argo::role(object).is_resource() || !req.selects(object)) {
                continue;
            }
            match argo::role(object) {
                // A hook runs in the sync phases of its types; a hook of none (a Helm `test`
                // hook, PreDelete) and a skipped object are not applied.
                Role::Hook(hook) => {
                    for phase in hook.types.into_iter().filter_map(Phase::of_hook) {
                        hooks.entry(phase).or_default().push(object.clone());
                    }
                }
                Role::Skipped => {}
                Role::Resource => normal.push(object.clone()),
            }
        }
        if req.options.create_namespace && !req.namespace.is_empty() {
            self.ensure_namespace().await?;
        }
        if !self.skip_or_start(Phase::PreSync, 0)
            && let Some(pre) = hooks.get(&Phase::PreSync).cloned()
            && let Err(message) = self.run_hooks(Phase::PreSync, &pre).await?
        {
            return Ok(Err(message));
        }

        // What to prune, by wave (PruneLast: after every wave).
        let desired_keys: BTreeSet<ResourceKey> = {
            let mut keys = BTreeSet::new();
            for object in &req.objects {
                // A generateName hook is named per operation; it is never pruned anyway.
                if object.pointer("/metadata/name").is_none_or(|n| n == "")
                    && !argo::role(object).is_resource()
                {
                    continue;
                }
                let key = match prepare(self.resolver, object, &req.app, &req.namespace).await {
                    Ok(prepared) => prepared.key,
                    // Its CRD is applied by this sync, in an earlier wave.
                    Err(e @ bosun_plan::Error::UnknownKind { .. }) => {
                        bosun_plan::plan::pending_crd_key(&req.objects, object, &req.namespace)
                            .ok_or(e)?
                    }
                    Err(e) => return Err(e.into()),
                };
                keys.insert(key);
            }
            keys
        };
        let mut prune_by_wave: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
        let mut prune_last = Vec::new();
        let tracked = match &req.tracked {
            Some(tracked) => tracked.clone(),
            None => find_tracked(self.resolver, &req.app).await?,
        };
        for live in tracked {
            let key = ResourceKey::of(&live);
            if desired_keys.contains(&key)
                || !argo::role(&live).is_resource()
                || !is_tracked_by(&live, &req.app)
                || req.only.as_ref().is_some_and(|only| !only.contains(&key))
            {
                continue;
            }
            let options = options_of(&live, &req.options)?;
            if options.prune_last {
                prune_last.push(live);
            } else {
                prune_by_wave.entry(wave_of(&live)).or_default().push(live);
            }
        }

        // Sync hooks belong to the Sync phase: each runs in its wave, after that wave's objects
        // are applied, and the next wave waits for it to finish (gitops-engine orders hook and
        // non-hook tasks of a phase together, by wave).
        let mut sync_hooks: BTreeMap<i64, Vec<Value>> = hooks
            .get(&Phase::Sync)
            .map(|h| waves(h).into_iter().collect())
            .unwrap_or_default();
        let mut planned = waves(&normal);
        for wave in prune_by_wave.keys().chain(sync_hooks.keys()) {
            if !planned.iter().any(|(w, _)| w == wave) {
                planned.push((*wave, Vec::new()));
            }
        }
        planned.sort_by_key(|(w, _)| *w);
        let last_wave = planned.last().map(|(w, _)| *w);
        for (wave, objects) in planned {
            let wave_hooks = sync_hooks.remove(&wave).unwrap_or_default();
            if self.skip_or_start(Phase::Sync, wave) {
                prune_by_wave.remove(&wave);
                continue;
            }
            self.emit(SyncEvent::Wave {
                phase: Phase::Sync,
                wave,
                objects: objects.len() + wave_hooks.len(),
            });
            // The futures are made before streaming them: rustc cannot prove a stream that holds
            // the mapping closure Send for every lifetime once the sync runs inside a spawned
            // task (the controller's operations).
            // A CRD and resources of its kind in one wave: the CRDs go first and are waited for
            // until established, as Argo CD does, so the resources' kind is served when they
            // are applied.
            let defines = |crd: &Value, object: &Value| {
                let (api_version, kind) = (
                    object["apiVersion"].as_str().unwrap_or_default(),
                    object["kind"].as_str().unwrap_or_default(),
                );
                crd["spec"]["names"]["kind"] == kind
                    && api_version.split_once('/').map(|(g, _)| g) == crd["spec"]["group"].as_str()
            };
            let is_crd = |o: &&Value| o["kind"] == "CustomResourceDefinition";
            let crds: Vec<&Value> = objects.iter().filter(is_crd).collect();
            let batches: Vec<Vec<&Value>> = if objects
                .iter()
                .any(|o| crds.iter().any(|crd| defines(crd, o)))
            {
                vec![crds, objects.iter().filter(|o| !is_crd(o)).collect()]
            } else {
                vec![objects.iter().collect()]
            };
            let mut applied = Vec::new();
            let last_batch = batches.len() - 1;
            for (i, batch) in batches.into_iter().enumerate() {
                let writes: Vec<_> = batch
                    .into_iter()
                    .map(|object| self.apply(object, Phase::Sync, wave).boxed())
                    .collect();
                let outcomes: Vec<Result<Written, SyncError>> = futures::stream::iter(writes)
                    .buffered(APPLY_CONCURRENCY)
                    .collect()
                    .await;
                let mut batch_applied = Vec::new();
                for outcome in outcomes {
                    let (result, written) = outcome?;
                    self.record(result);
                    if let Some((prepared, response)) = written {
                        batch_applied.push(prepared);
                        self.written.push(response);
                    }
                }
                if i < last_batch
                    && !req.dry_run
                    && let Err(message) = self.wait_healthy(Phase::Sync, wave, &batch_applied).await
                {
                    return Ok(Err(message));
                }
                applied.extend(batch_applied);
            }
            let running = self.start_hooks(Phase::Sync, wave, &wave_hooks).await?;
            if let Some(pruned) = prune_by_wave.remove(&wave) {
                self.prune(&pruned, wave).await?;
            }
            // A wave's hooks finish before the next wave, the last one's before the sync ends.
            if let Err(message) = self.finish_hooks(Phase::Sync, wave, &running).await {
                return Ok(Err(message));
            }
            // Each wave must be healthy before the next; the last one before PostSync hooks.
            let more = Some(wave) != last_wave
                || !prune_last.is_empty()
                || hooks.contains_key(&Phase::PostSync);
            if more
                && !req.dry_run
                && let Err(message) = self.wait_healthy(Phase::Sync, wave, &applied).await
            {
                return Ok(Err(message));
            }
        }
        self.skip_or_start(Phase::PostSync, 0);
        if !prune_last.is_empty() {
            self.prune(&prune_last, last_wave.unwrap_or(0)).await?;
        }
        if let Some(post) = hooks.get(&Phase::PostSync).cloned()
            && let Err(message) = self.run_hooks(Phase::PostSync, &post).await?
        {
            return Ok(Err(message));
        }
        Ok(Ok(()))
    }

    async fn ensure_namespace(&mut self) -> Result<(), SyncError> {
        let namespace = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": self.req.namespace},
        });
        let api: Api<DynamicObject> = Api::all_with(
            self.resolver.client().clone(),
            &kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
        );
        if api
            .get_opt(&self.req.namespace)
            .await
            .map_err(|e| self.write_error("get namespace", &namespace, &e))?
            .is_some()
        {
            return Ok(());
        }
        let mut pp = PatchParams::apply(&self.req.manager).force();
        pp.dry_run = self.req.dry_run;
        api.patch(&self.req.namespace, &pp, &Patch::Apply(&namespace))
            .await
            .map_err(|e| self.write_error("create namespace", &namespace, &e))?;
        if self.req.dry_run {
            self.namespace_not_created = Some(self.req.namespace.clone());
        }
        Ok(())
    }

    /// A dry run's write into the namespace it would have created answers 404 (the namespace
    /// is not there): the object as Git has it stands for the answer, as `bosun diff` predicts a
    /// new object in a new namespace. Any other error stays one.
    fn in_namespace_not_created(
        &self,
        prepared: &Prepared,
        e: kube::Error,
    ) -> Result<Value, kube::Error> {
        match &e {
            kube::Error::Api(status)
                if status.code == 404
                    && self.namespace_not_created.is_some()
                    && prepared.key.namespace == self.namespace_not_created =>
            {
                Ok(prepared.object.clone())
            }
            _ => Err(e),
        }
    }

    fn write_error(&self, action: &'static str, object: &Value, e: &kube::Error) -> SyncError {
        SyncError::Write {
            key: ResourceKey::of(object).to_string(),
            action,
            message: status_message(e),
        }
    }

    /// Applies one object; no `Prepared` when it was skipped (in sync under ApplyOutOfSyncOnly).
    async fn apply(&self, object: &Value, phase: Phase, wave: i64) -> Result<Written, SyncError> {
        let req = self.req;
        let options = options_of(object, &req.options)?;
        let mut prepared = prepare(self.resolver, object, &req.app, &req.namespace).await?;
        let as_git = prepared.object.clone();
        let mut conditional = self.keep_rollout_selector(&mut prepared).await;
        let planned = req.planned.get(&prepared.key).copied();
        let key = prepared.key.clone();
        let result = |action: Action, message: &str| ResourceResult {
            key: key.clone(),
            phase,
            wave,
            action,
            message: message.to_string(),
        };
        if options.apply_out_of_sync_only
            && phase == Phase::Sync
            && planned == Some(SyncState::Synced)
        {
            return Ok((result(Action::Skipped, ""), None));
        }
        if !options.replace
            && phase == Phase::Sync
            && let Some(live) = req.unchanged.get(&prepared.key)
        {
            // The dry run already showed this apply changes nothing; the live object stands in
            // for the answer (health gates still wait on it).
            let live = live.clone();
            return Ok((result(Action::Unchanged, ""), Some((prepared, live))));
        }
        let api = api_for(self.resolver, &prepared);
        let name = prepared.key.name.clone();
        let mut recreated = false;
        let response = if options.replace {
            // Replace=true: create, or replace the whole object (Argo CD's `kubectl replace`).
            let object: DynamicObject = serde_json::from_value(prepared.object.clone())
                .map_err(|e| SyncError::Options(format!("{}: {e}", prepared.key)))?;
            let pp = PostParams {
                dry_run: req.dry_run,
                field_manager: Some(req.manager.clone()),
            };
            let live = api
                .get_opt(&name)
                .await
                .map_err(|e| self.write_error("read", &prepared.object, &e))?;
            match &live {
                None => api.create(&pp, &object).await,
                // With Force=true, Argo CD's `kubectl replace --force`: delete, then create.
                Some(_) if options.force && req.dry_run => Ok(object.clone()),
                Some(_) if options.force => {
                    self.delete_and_wait(&prepared, "delete to re-create")
                        .await?;
                    recreated = true;
                    api.create(&pp, &object).await
                }
                Some(live) => {
                    let mut object = object.clone();
                    object.metadata.resource_version = live.metadata.resource_version.clone();
                    api.replace(&name, &pp, &object).await
                }
            }
            .map(|response| bosun_plan::live::to_value(response, &prepared.resolved))
            .or_else(|e| self.in_namespace_not_created(&prepared, e))
            .map_err(|e| self.write_error("replace", &prepared.object, &e))?
        } else {
            let mut pp = PatchParams::apply(&req.manager).force();
            pp.dry_run = req.dry_run;
            let mut conflicts = 0;
            loop {
                match api.patch(&name, &pp, &Patch::Apply(&prepared.object)).await {
                    // The Rollout moved the Service's hash between the read and the write
                    // (a promotion): read it again rather than put the old hash back.
                    Err(kube::Error::Api(status))
                        if status.code == 409 && conditional && conflicts < 3 =>
                    {
                        conflicts += 1;
                        prepared.object = as_git.clone();
                        conditional = self.keep_rollout_selector(&mut prepared).await;
                    }
                    // Force=true: Argo CD's `kubectl apply --force` — a change the cluster
                    // refuses (an immutable field) is made by deleting the object and
                    // creating it again.
                    Err(kube::Error::Api(status))
                        if status.code == 422 && options.force && !recreated =>
                    {
                        if req.dry_run {
                            break prepared.object.clone();
                        }
                        self.delete_and_wait(&prepared, "delete to re-create")
                            .await?;
                        recreated = true;
                    }
                    result => {
                        break result
                            .map(|response| {
                                bosun_plan::live::to_value(response, &prepared.resolved)
                            })
                            .or_else(|e| self.in_namespace_not_created(&prepared, e))
                            .map_err(|e| self.write_error("apply", &prepared.object, &e))?;
                    }
                }
            }
        };
        // The Plan's dry run already said what this apply does.
        let action = match planned {
            Some(SyncState::Missing) => Action::Created,
            Some(SyncState::Synced) => Action::Unchanged,
            _ => Action::Configured,
        };
        let message = match (req.dry_run, recreated) {
            (true, _) => "(dry run)",
            (false, true) => "deleted and re-created (Force=true)",
            (false, false) => "",
        };
        Ok((result(action, message), Some((prepared, response))))
    }

    /// As the plan predicted it: a Rollout's Service keeps the hash in its selector, and the
    /// apply is then conditional on the Service being as it was read (true). A read that fails
    /// leaves the object as Git has it (the apply says what is wrong).
    async fn keep_rollout_selector(&self, prepared: &mut Prepared) -> bool {
        if !bosun_plan::live::is_service(prepared) {
            return false;
        }
        let live = bosun_plan::live::get_live(self.resolver, prepared)
            .await
            .ok()
            .flatten();
        if !bosun_plan::live::keep_rollout_selector(prepared, live.as_ref()) {
            return false;
        }
        let version = live
            .as_ref()
            .map(|l| l["metadata"]["resourceVersion"].clone());
        prepared.object["metadata"]["resourceVersion"] = version.unwrap_or_default();
        true
    }

    async fn prune(&mut self, objects: &[Value], wave: i64) -> Result<(), SyncError> {
        let req = self.req;
        for live in objects {
            let options = options_of(live, &req.options)?;
            let key = ResourceKey::of(live);
            if !req.prune || options.prune != DeletionMode::Allow {
                let message = if !req.prune {
                    "no longer in Git; pruning not enabled".to_string()
                } else {
                    "no longer in Git; kept by Prune=false".to_string()
                };
                self.record(ResourceResult {
                    key,
                    phase: Phase::Sync,
                    wave,
                    action: Action::PruneSkipped,
                    message,
                });
                continue;
            }
            let prepared = prepare(
                self.resolver,
                live,
                &req.app,
                key.namespace.as_deref().unwrap_or_default(),
            )
            .await?;
            let api = api_for(self.resolver, &prepared);
            let dp = DeleteParams {
                dry_run: req.dry_run,
                propagation_policy: Some(match options.prune_propagation {
                    bosun_model::PropagationPolicy::Foreground => {
                        kube::api::PropagationPolicy::Foreground
                    }
                    bosun_model::PropagationPolicy::Background => {
                        kube::api::PropagationPolicy::Background
                    }
                    bosun_model::PropagationPolicy::Orphan => kube::api::PropagationPolicy::Orphan,
                }),
                ..DeleteParams::default()
            };
            match api.delete(&key.name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.write_error("prune", live, &e)),
            }
            self.record(ResourceResult {
                key,
                phase: Phase::Sync,
                wave,
                action: Action::Pruned,
                message: if req.dry_run {
                    "(dry run)".into()
                } else {
                    String::new()
                },
            });
        }
        Ok(())
    }

    /// Polls the applied objects until each is Healthy (or Suspended, or has no health check).
    async fn wait_healthy(
        &self,
        phase: Phase,
        wave: i64,
        objects: &[Prepared],
    ) -> Result<(), String> {
        let mut last_pending = Vec::new();
        loop {
            let mut pending = Vec::new();
            for prepared in objects {
                let api = api_for(self.resolver, prepared);
                match api.get_opt(&prepared.key.name).await {
                    Ok(Some(live)) => {
                        let live = serde_json::to_value(&live).unwrap_or_default();
                        if let Some(health) = assess(&live)
                            && !matches!(
                                health.status,
                                HealthStatus::Healthy | HealthStatus::Suspended
                            )
                        {
                            pending.push(format!(
                                "{} is {}: {}",
                                prepared.key,
                                health.status.as_str(),
                                health.message
                            ));
                        }
                    }
                    Ok(None) => pending.push(format!("{} is Missing", prepared.key)),
                    Err(e) => pending.push(format!("{}: {}", prepared.key, status_message(&e))),
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            if pending != last_pending {
                self.emit(SyncEvent::Waiting {
                    phase,
                    wave,
                    pending: pending.clone(),
                });
                last_pending = pending.clone();
            }
            if Instant::now() >= self.deadline {
                return Err(format!(
                    "timed out waiting for wave {wave} to become healthy: {}",
                    pending.join("; ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Runs the hooks of a phase wave by wave: each is (re)created and waited for until it
    /// completes; a failed hook fails the sync.
    async fn run_hooks(
        &mut self,
        phase: Phase,
        objects: &[Value],
    ) -> Result<Result<(), String>, SyncError> {
        for (wave, hooks) in waves(objects) {
            self.emit(SyncEvent::Wave {
                phase,
                wave,
                objects: hooks.len(),
            });
            let running = self.start_hooks(phase, wave, &hooks).await?;
            if let Err(message) = self.finish_hooks(phase, wave, &running).await {
                return Ok(Err(message));
            }
        }
        Ok(Ok(()))
    }

    /// Creates the hooks of one wave, each after deleting its previous instance when its policy
    /// is BeforeHookCreation. In a dry run nothing is created: each is reported as skipped.
    async fn start_hooks(
        &mut self,
        phase: Phase,
        wave: i64,
        hooks: &[Value],
    ) -> Result<Vec<RunningHook>, SyncError> {
        let mut running = Vec::new();
        for hook in hooks {
            if self.req.dry_run {
                self.record(ResourceResult {
                    key: ResourceKey::of(hook),
                    phase,
                    wave,
                    action: Action::Skipped,
                    message: "hook not run in a dry run".into(),
                });
                continue;
            }
            let policies = argo::delete_policies(hook);
            let named = self.named_hook(hook, phase);
            let prepared =
                prepare(self.resolver, &named, &self.req.app, &self.req.namespace).await?;
            if policies.contains(&DeletePolicy::BeforeHookCreation) {
                self.delete_and_wait(&prepared, "delete previous hook")
                    .await?;
            }
            let api = api_for(self.resolver, &prepared);
            let pp = PatchParams::apply(&self.req.manager).force();
            api.patch(&prepared.key.name, &pp, &Patch::Apply(&prepared.object))
                .await
                .map_err(|e| self.write_error("create hook", &prepared.object, &e))?;
            running.push((prepared, policies));
        }
        Ok(running)
    }

    /// Waits for started hooks to finish, records each outcome and applies the
    /// HookSucceeded/HookFailed delete policies; `Err` names the first hook that failed.
    async fn finish_hooks(
        &mut self,
        phase: Phase,
        wave: i64,
        running: &[RunningHook],
    ) -> Result<(), String> {
        let mut failed = None;
        for (prepared, policies) in running {
            let result = self.wait_hook(phase, wave, prepared).await;
            let ok = result.is_ok();
            self.record(ResourceResult {
                key: prepared.key.clone(),
                phase,
                wave,
                action: if ok {
                    Action::HookSucceeded
                } else {
                    Action::HookFailed
                },
                message: result.clone().err().unwrap_or_default(),
            });
            let delete = (ok && policies.contains(&DeletePolicy::HookSucceeded))
                || (!ok && policies.contains(&DeletePolicy::HookFailed));
            if delete {
                let _ = api_for(self.resolver, prepared)
                    .delete(&prepared.key.name, &DeleteParams::background())
                    .await;
            }
            if let Err(message) = result {
                failed.get_or_insert(format!("{phase:?} hook {} failed: {message}", prepared.key));
            }
        }
        match failed {
            Some(message) => Err(message),
            None => Ok(()),
        }
    }

    /// The hook with its name: a `generateName` hook without one gets Argo CD's
    /// [`generated_hook_name`] for this operation and phase.
    fn named_hook(&self, hook: &Value, phase: Phase) -> Value {
        let mut hook = hook.clone();
        let meta = &hook["metadata"];
        let unnamed = meta["name"].as_str().is_none_or(str::is_empty);
        if let Some(prefix) = meta["generateName"].as_str().filter(|_| unnamed) {
            let name = generated_hook_name(prefix, &self.req.revision, phase, self.req.started);
            if let Some(meta) = hook["metadata"].as_object_mut() {
                meta.remove("generateName");
                meta.insert("name".into(), name.into());
            }
        }
        hook
    }

    /// Deletes the object (foreground: its dependents first) and waits until it is gone, so
    /// that it can be created again under its name.
    async fn delete_and_wait(
        &self,
        prepared: &Prepared,
        action: &'static str,
    ) -> Result<(), SyncError> {
        let api = api_for(self.resolver, prepared);
        match api
            .delete(&prepared.key.name, &DeleteParams::foreground())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(self.write_error(action, &prepared.object, &e)),
        }
        let mut finalizers = Vec::new();
        while Instant::now() < self.deadline {
            match api.get_opt(&prepared.key.name).await {
                Ok(None) => return Ok(()),
                Ok(Some(live)) => {
                    finalizers = live.metadata.finalizers.unwrap_or_default();
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => return Err(self.write_error(action, &prepared.object, &e)),
            }
        }
        // Said here rather than left to the create that follows, whose AlreadyExists would not
        // name the cause.
        let waiting_for = if finalizers.is_empty() {
            String::new()
        } else {
            format!(" (finalizers: {})", finalizers.join(", "))
        };
        Err(SyncError::Write {
            key: ResourceKey::of(&prepared.object).to_string(),
            action,
            message: format!("still being deleted when the sync's time ran out{waiting_for}"),
        })
    }

    /// A hook is done when a Job completes or fails, a Pod succeeds or fails, or any other kind is
    /// healthy.
    async fn wait_hook(&self, phase: Phase, wave: i64, prepared: &Prepared) -> Result<(), String> {
        let api = api_for(self.resolver, prepared);
        let mut announced = false;
        loop {
            let live = match api.get_opt(&prepared.key.name).await {
                Ok(Some(live)) => serde_json::to_value(&live).unwrap_or_default(),
                Ok(None) => return Err("the hook disappeared before it finished".into()),
                Err(e) => return Err(status_message(&e)),
            };
            let condition = |kind: &str| {
                live["status"]["conditions"]
                    .as_array()
                    .and_then(|cs| {
                        cs.iter()
                            .find(|c| c["type"] == kind && c["status"] == "True")
                    })
                    .map(|c| c["message"].as_str().unwrap_or_default().to_string())
            };
            match prepared.key.kind.as_str() {
                "Job" => {
                    if condition("Complete").is_some() {
                        return Ok(());
                    }
                    if let Some(message) = condition("Failed") {
                        return Err(message);
                    }
                }
                "Pod" => match live["status"]["phase"].as_str() {
                    Some("Succeeded") => return Ok(()),
                    Some("Failed") => {
                        return Err(live["status"]["message"]
                            .as_str()
                            .unwrap_or("pod failed")
                            .to_string());
                    }
                    _ => {}
                },
                _ => match assess(&live) {
                    None => return Ok(()),
                    Some(h) if h.status == HealthStatus::Healthy => return Ok(()),
                    Some(h) if h.status == HealthStatus::Degraded => return Err(h.message),
                    _ => {}
                },
            }
            if !announced {
                self.emit(SyncEvent::Waiting {
                    phase,
                    wave,
                    pending: vec![format!("{} running", prepared.key)],
                });
                announced = true;
            }
            if Instant::now() >= self.deadline {
                return Err("timed out waiting for the hook to finish".into());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn run_sync_fail_hooks(&mut self) {
        if self.req.only.is_some() {
            return;
        }
        let fail: Vec<Value> = self
            .req
            .objects
            .iter()
            .filter(|o| argo::hook(o).is_some_and(|h| h.types.contains(&HookType::SyncFail)))
            .cloned()
            .collect();
        if !fail.is_empty() && !self.req.dry_run {
            // The sync already failed; a failing SyncFail hook is reported but changes nothing.
            let _ = self.run_hooks(Phase::SyncFail, &fail).await;
        }
    }
}
