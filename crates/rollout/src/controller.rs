//! The Rollout reconciler on bosun's runtime: per cluster, kube-runtime reflectors keep every
//! Rollout and every ReplicaSet a Rollout owns in memory; their events queue the Rollout's key;
//! a reconcile reads both from memory, asks [`decide`] what to do and does it. It waits for
//! nothing: a pause or a scale-down delay is a requeue, a scaling ReplicaSet is a watch event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bosun_runtime::{Action, Config, OwnerIndex, ReconcileLoop, Reconciler, RuntimeMetrics};
use futures::StreamExt;
use jiff::Timestamp;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use bosun_analysis::controller::AnalysisController;

use crate::config::Kind;
use crate::config_cache::ConfigDigests;
use crate::decide::{
    AnalysisRunView, ConfigCopy, Decision, ReplicaSetView, RunKind, decide_with_runs,
};
use crate::revision::{HASH_LABEL, MANAGED_BY_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION};

/// A Rollout, by cluster (bosun.yaml's name), namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RolloutKey {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for RolloutKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.cluster, self.namespace, self.name)
    }
}

/// Said on every change of a Rollout's phase, step or message (server-sent events).
#[derive(Clone, Debug)]
pub struct RolloutEvent {
    pub key: RolloutKey,
    pub phase: String,
    pub message: String,
    pub step: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("{key}: {message}")]
    Kube { key: String, message: String },
    #[error("cluster `{0}` is not connected")]
    UnknownCluster(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
}

pub fn rollout_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Rollout"),
        "rollouts",
    )
}

fn deployment_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apps", "v1", "Deployment"),
        "deployments",
    )
}

fn replica_set_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apps", "v1", "ReplicaSet"),
        "replicasets",
    )
}

/// One cluster's Rollouts.
struct ClusterRollouts {
    client: kube::Client,
    rollouts: Store<DynamicObject>,
    replica_sets: Store<DynamicObject>,
    /// The digests of the ConfigMaps and Secrets (never their content).
    configs: Arc<ConfigDigests>,
    /// Routing kinds found by discovery, by `group/kind`.
    resources: Mutex<HashMap<String, ApiResource>>,
    /// By `namespace/name`: the resourceVersion a Rollout had when this controller last wrote
    /// its status (a write that made a new version), and when. While the cache still holds
    /// that version, it has not seen the write, and a decision on it would undo what the
    /// write's decision did (scale a canary back a step). The same, by
    /// `replicasets/namespace/name`, for the ReplicaSets this controller scaled: a decision on
    /// a ReplicaSet the cache has from before our patch would patch it again to the same.
    written_over: Mutex<HashMap<String, (String, std::time::Instant)>>,
    /// The ReplicaSets each Rollout (by uid) controls, as (namespace, name): kept from the
    /// ReplicaSet watch and checked against the cache on every read, so that a reconcile looks
    /// up its own ReplicaSets instead of scanning every ReplicaSet of the cluster.
    /// The ReplicaSets each Rollout controls.
    owned: Arc<OwnerIndex>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ClusterRollouts {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub struct RolloutController {
    clusters: RwLock<HashMap<String, Arc<ClusterRollouts>>>,
    /// The AnalysisRun controller: the runs a Rollout owns are read from its cache.
    analysis: RwLock<Option<Arc<AnalysisController>>>,
    reconciles: ReconcileLoop<RolloutKey>,
    events: broadcast::Sender<RolloutEvent>,
    /// Every change the view of a Rollout is read from: the Rollout, its ReplicaSets, its
    /// AnalysisRuns (as their caches take it in).
    changed: broadcast::Sender<RolloutKey>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long a cache may lag behind our own write before it is trusted again anyway (a watch
/// that missed the event relists within this).
const STALE_AT_MOST: Duration = Duration::from_secs(5);

/// Whether `read` is the version a status write of ours replaced (the cache is behind it); a
/// newer version, or [`STALE_AT_MOST`] passing, ends the watch for it.
fn stale(
    written_over: &Mutex<HashMap<String, (String, std::time::Instant)>>,
    name: &str,
    read: Option<&str>,
) -> bool {
    let mut written_over = lock(written_over);
    match (written_over.get(name), read) {
        (Some((replaced, at)), Some(read)) if replaced == read && at.elapsed() < STALE_AT_MOST => {
            true
        }
        (Some(_), _) => {
            written_over.remove(name);
            false
        }
        (None, _) => false,
    }
}

struct Rollouts(Weak<RolloutController>);

impl Reconciler for Rollouts {
    type Key = RolloutKey;
    type Error = RolloutError;

    async fn reconcile(self: Arc<Self>, key: RolloutKey) -> Result<Action, RolloutError> {
        match self.0.upgrade() {
            Some(controller) => controller.reconcile(&key).await,
            None => Ok(Action::await_change()),
        }
    }
}

/// How often a Rollout is looked at without any event (a missed watch event costs at most this).
const RESYNC: Duration = Duration::from_secs(300);

/// After a router failed (an object missing or not as the Rollout names it): looked at again
/// this soon, as well as when the Rollout changes.
const ROUTER_RETRY: Duration = Duration::from_secs(10);

/// When a cache the decision reads is not listed yet: soon.
const CACHE_RETRY: Duration = Duration::from_secs(1);

/// How long a reconcile waits for a cache's first list before it lets its slot go.
const CACHE_WAIT: Duration = Duration::from_secs(5);

/// After a conflicting status write, in case the newer object's watch event was already taken
/// in: soon, not on the failure backoff.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);

impl RolloutController {
    pub fn new(metrics: RuntimeMetrics, concurrency: usize) -> Arc<RolloutController> {
        let mut config = Config::new("rollouts");
        config.concurrency = concurrency.max(1);
        Arc::new(RolloutController {
            clusters: RwLock::default(),
            analysis: RwLock::default(),
            reconciles: ReconcileLoop::new(config, metrics),
            events: broadcast::channel(256).0,
            changed: broadcast::channel(1024).0,
        })
    }

    /// Starts the reconcile loop, and the analysis controller's.
    pub fn start(self: &Arc<Self>) {
        if let Some(analysis) = self.analysis() {
            analysis.start();
        }
        self.reconciles
            .start(Arc::new(Rollouts(Arc::downgrade(self))));
    }

    /// Reads AnalysisRuns from `analysis`, and reconciles a Rollout whenever one of its runs
    /// changes.
    pub fn with_analysis(self: &Arc<Self>, analysis: Arc<AnalysisController>) {
        let mut changes = analysis.subscribe();
        *self.analysis.write().unwrap_or_else(|p| p.into_inner()) = Some(analysis);
        let trigger = self.reconciles.trigger();
        let changed = self.changed.clone();
        self.reconciles.spawn(async move {
            loop {
                match changes.recv().await {
                    Ok((cluster, namespace, name)) => {
                        let key = RolloutKey {
                            cluster,
                            namespace,
                            name,
                        };
                        let _ = changed.send(key.clone());
                        trigger.now(key);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    fn analysis(&self) -> Option<Arc<AnalysisController>> {
        self.analysis
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RolloutEvent> {
        self.events.subscribe()
    }

    /// Said whenever a Rollout, one of its ReplicaSets or one of its AnalysisRuns changed in the
    /// caches [`Self::get`] and [`Self::analysis_runs`] read (a new weight, a pod ready, a
    /// measurement): what a page showing the Rollout in full follows.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<RolloutKey> {
        self.changed.subscribe()
    }

    /// Takes `cluster`'s Rollouts in hand: installs the CRDs if the cluster lacks them, and
    /// watches Rollouts and their ReplicaSets, unless Argo's own Rollouts controller runs
    /// there (then it is left to it, and the log says so).
    pub async fn add_cluster(self: &Arc<Self>, cluster: String, client: kube::Client) {
        if self
            .clusters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&cluster)
        {
            return;
        }
        if let Some(at) = argo_controller(&client).await {
            tracing::warn!(
                cluster = %cluster,
                argo_rollouts = %at,
                "Argo Rollouts' controller runs in this cluster: bosun leaves its Rollouts to it"
            );
            return;
        }
        match crate::crds::ensure(&client).await {
            Ok(installed) if !installed.is_empty() => {
                tracing::info!(cluster = %cluster, crds = ?installed, "installed the Argo Rollouts CRDs");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(cluster = %cluster, error = %e, "installing the Argo Rollouts CRDs")
            }
        }
        let rollouts_writer = reflector::store::Writer::new(rollout_resource());
        let rollouts = rollouts_writer.as_reader();
        let replica_sets_writer = reflector::store::Writer::new(replica_set_resource());
        let replica_sets = replica_sets_writer.as_reader();
        let mut tasks = Vec::new();
        let trigger = self.reconciles.trigger();
        let changed = self.changed.clone();
        let name = cluster.clone();
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &rollout_resource());
        tasks.push(tokio::spawn(async move {
            let stream = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .reflect(rollouts_writer)
                .touched_objects();
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(object) => {
                        if let Some(key) =
                            key_of(&name, &object.metadata.namespace, &object.metadata.name)
                        {
                            let _ = changed.send(key.clone());
                            trigger.now(key);
                        }
                    }
                    Err(e) => tracing::debug!(cluster = %name, error = %e, "watching Rollouts"),
                }
            }
        }));
        let trigger = self.reconciles.trigger();
        let changed = self.changed.clone();
        let name = cluster.clone();
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &replica_set_resource());
        let owned = Arc::new(OwnerIndex::new("Rollout"));
        let index = owned.clone();
        tasks.push(tokio::spawn(async move {
            let stream = watcher::watcher(api, watcher::Config::default().labels(HASH_LABEL))
                .default_backoff()
                .reflect(replica_sets_writer)
                .touched_objects();
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(rs) => {
                        if let Some(owner) = index.record(&rs)
                            && let Some(key) =
                                key_of(&name, &rs.metadata.namespace, &Some(owner.name.clone()))
                        {
                            let _ = changed.send(key.clone());
                            trigger.now(key);
                        }
                    }
                    Err(e) => tracing::debug!(cluster = %name, error = %e, "watching ReplicaSets"),
                }
            }
        }));
        // A Deployment's change (its generation) reaches the Rollouts whose workloadRef names
        // it. Metadata only: the template is read when the Rollout is reconciled.
        let trigger = self.reconciles.trigger();
        let name = cluster.clone();
        let store = rollouts.clone();
        let api: Api<kube::core::PartialObjectMeta<DynamicObject>> =
            Api::all_with(client.clone(), &deployment_resource());
        tasks.push(tokio::spawn(async move {
            let stream = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .touched_objects();
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(deployment) => {
                        let namespace = deployment.metadata.namespace.unwrap_or_default();
                        let deployment = deployment.metadata.name.unwrap_or_default();
                        for rollout in store.state() {
                            let reference = &rollout.data["spec"]["workloadRef"];
                            if rollout.metadata.namespace.as_deref() == Some(&namespace)
                                && reference["kind"] == "Deployment"
                                && reference["name"] == deployment.as_str()
                                && let Some(key) = key_of(
                                    &name,
                                    &rollout.metadata.namespace,
                                    &rollout.metadata.name,
                                )
                            {
                                trigger.now(key);
                            }
                        }
                    }
                    Err(e) => tracing::debug!(cluster = %name, error = %e, "watching Deployments"),
                }
            }
        }));
        // A ConfigMap's or Secret's new content reaches the Rollouts whose template references
        // it (a Rollout with a workloadRef is looked at whatever it references: its template
        // is the workload's).
        let configs = ConfigDigests::new();
        for kind in [Kind::ConfigMap, Kind::Secret] {
            let trigger = self.reconciles.trigger();
            let name = cluster.clone();
            let store = rollouts.clone();
            let changed = move |namespace: &str, object: &str| {
                for rollout in store.state() {
                    if rollout.metadata.namespace.as_deref() != Some(namespace) {
                        continue;
                    }
                    let spec = &rollout.data["spec"];
                    let referenced = spec.get("workloadRef").is_some()
                        || crate::config::references_object(&spec["template"], kind, object);
                    if referenced
                        && let Some(key) =
                            key_of(&name, &rollout.metadata.namespace, &rollout.metadata.name)
                    {
                        trigger.now(key);
                    }
                }
            };
            tasks.push(tokio::spawn(configs.clone().watch(
                client.clone(),
                kind,
                cluster.clone(),
                changed,
            )));
        }
        let entry = Arc::new(ClusterRollouts {
            client,
            rollouts,
            replica_sets,
            configs,
            resources: Mutex::default(),
            written_over: Mutex::default(),
            owned,
            tasks,
        });
        self.clusters
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cluster, entry);
    }

    fn cluster(&self, name: &str) -> Result<Arc<ClusterRollouts>, RolloutError> {
        self.clusters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| RolloutError::UnknownCluster(name.to_string()))
    }

    /// Every Rollout bosun drives, as the cluster has it.
    pub fn list(&self) -> Vec<(RolloutKey, Value)> {
        let clusters: Vec<(String, Arc<ClusterRollouts>)> = self
            .clusters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut all = Vec::new();
        for (name, cluster) in clusters {
            for object in cluster.rollouts.state() {
                if let Some(key) = key_of(&name, &object.metadata.namespace, &object.metadata.name)
                {
                    all.push((key, to_value(&object, &rollout_resource())));
                }
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// One Rollout and the ReplicaSets it owns (newest revision first).
    pub fn get(&self, key: &RolloutKey) -> Result<(Value, Vec<Value>), RolloutError> {
        let cluster = self.cluster(&key.cluster)?;
        let object = find(&cluster.rollouts, key)
            .ok_or_else(|| RolloutError::NotFound(format!("Rollout {key}")))?;
        let uid = object.metadata.uid.clone();
        let mut owned: Vec<Value> = owned_by(&cluster, &key.namespace, uid.as_deref())
            .into_iter()
            .map(|rs| to_value(&rs, &replica_set_resource()))
            .collect();
        owned.sort_by_key(|rs| {
            std::cmp::Reverse(
                rs["metadata"]["annotations"][crate::revision::REVISION_ANNOTATION]
                    .as_str()
                    .and_then(|r| r.parse::<u64>().ok())
                    .unwrap_or(0),
            )
        });
        Ok((to_value(&object, &rollout_resource()), owned))
    }

    /// The AnalysisRuns `key`'s Rollout owns, oldest first, as the cluster has them.
    pub fn analysis_runs(&self, key: &RolloutKey) -> Vec<Value> {
        let (Ok(cluster), Some(analysis)) = (self.cluster(&key.cluster), self.analysis()) else {
            return Vec::new();
        };
        let Some(uid) = find(&cluster.rollouts, key).and_then(|o| o.metadata.uid.clone()) else {
            return Vec::new();
        };
        analysis.runs_owned_by(&key.cluster, &key.namespace, &uid)
    }

    /// An action of `bosun rollout` (promote, abort, ...) on the Rollout: the patch Argo's
    /// kubectl plugin sends, then a reconcile at once.
    pub async fn act(
        &self,
        key: &RolloutKey,
        action: &crate::actions::RolloutAction,
    ) -> Result<(), RolloutError> {
        let cluster = self.cluster(&key.cluster)?;
        let (object, replica_sets) = self.get(key)?;
        let patches = action
            .patches(&object, &replica_sets)
            .map_err(RolloutError::Refused)?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &key.namespace, &rollout_resource());
        for (subresource, patch) in patches {
            let params = PatchParams::default();
            let result = match subresource {
                crate::actions::Target::Spec => {
                    api.patch(&key.name, &params, &Patch::Merge(&patch)).await
                }
                crate::actions::Target::Status => {
                    api.patch_status(&key.name, &params, &Patch::Merge(&patch))
                        .await
                }
            };
            result.map_err(|e| kube_error(key, e))?;
        }
        self.reconciles.trigger().now(key.clone());
        Ok(())
    }

    async fn reconcile(&self, key: &RolloutKey) -> Result<Action, RolloutError> {
        let cluster = self.cluster(&key.cluster)?;
        // Decisions read both caches: before their first list is in, a Rollout would look as if
        // it owned no ReplicaSet (a restarted server would start its revision over).
        // Bounded: a cache not listed within a few seconds is looked at again, never waited on
        // for good (a stalled wait would hold a reconcile slot).
        let listed = tokio::time::timeout(Duration::from_secs(5), async {
            cluster.rollouts.wait_until_ready().await.is_ok()
                && cluster.replica_sets.wait_until_ready().await.is_ok()
        })
        .await;
        match listed {
            Ok(true) => {}
            Ok(false) => return Ok(Action::await_change()),
            Err(_) => return Ok(Action::requeue(CACHE_RETRY)),
        }
        let Some(object) = find(&cluster.rollouts, key) else {
            return Ok(Action::await_change());
        };
        if object.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        if stale(
            &cluster.written_over,
            &format!("{}/{}", key.namespace, key.name),
            object.metadata.resource_version.as_deref(),
        ) {
            // Our last status write is not in the cache yet: its watch event brings it.
            return Ok(Action::requeue(CONFLICT_RETRY));
        }
        let value = to_value(&object, &rollout_resource());
        let owned_objects = owned_by(&cluster, &key.namespace, object.metadata.uid.as_deref());
        if owned_objects.iter().any(|rs| {
            stale(
                &cluster.written_over,
                &replica_set_mark(
                    &key.namespace,
                    rs.metadata.name.as_deref().unwrap_or_default(),
                ),
                rs.metadata.resource_version.as_deref(),
            )
        }) {
            // Our last scale of one of them is not in the cache yet: its watch event brings it.
            return Ok(Action::requeue(CONFLICT_RETRY));
        }
        let owned: Vec<ReplicaSetView> = owned_objects
            .iter()
            .filter_map(|rs| ReplicaSetView::from_object(&to_value(rs, &replica_set_resource())))
            .collect();
        let now = Timestamp::now();
        // With a workloadRef, decisions are taken on the Rollout as the workload completes it.
        let reference = crate::workload::reference(&value);
        let workload = match &reference {
            Some(reference) => self.workload(&cluster, key, reference).await?,
            None => None,
        };
        let resolved = match &reference {
            Some(reference) => crate::workload::resolve(&value, reference, workload.as_ref()),
            None => Ok(value.clone()),
        };
        let runs: Vec<AnalysisRunView> = match (self.analysis(), object.metadata.uid.as_deref()) {
            (Some(analysis), Some(uid)) => {
                if !analysis.wait_ready(&key.cluster).await {
                    return Ok(Action::requeue(CACHE_RETRY));
                }
                analysis
                    .runs_owned_by(&key.cluster, &key.namespace, uid)
                    .iter()
                    .filter_map(AnalysisRunView::from_object)
                    .collect()
            }
            _ => Vec::new(),
        };
        // The config the template references is part of the revision: its digests, or why
        // the revision cannot be made (a required ConfigMap or Secret missing).
        let mut references = match &resolved {
            Ok(effective) => crate::config::references(&effective["spec"]["template"]),
            Err(_) => Vec::new(),
        };
        if !references.is_empty() {
            if tokio::time::timeout(CACHE_WAIT, cluster.configs.wait_until_ready())
                .await
                .is_err()
            {
                return Ok(Action::requeue(CACHE_RETRY));
            }
            references.retain(|r| !cluster.configs.forbidden(r.kind));
        }
        let configs = crate::config::resolve(&references, |kind, name| {
            cluster.configs.get(kind, &key.namespace, name)
        });
        if let Err(missing) = &configs
            && self.exists(&cluster, key, missing).await?
        {
            // Made after the Rollout (or in the same sync) and not yet in the digests: its watch
            // event brings it.
            return Ok(Action::requeue(CACHE_RETRY));
        }
        let configs = configs.map_err(|missing| missing.to_string());
        let resolved = resolved.and_then(|effective| configs.map(|c| (effective, c)));
        let (effective, mut decision) = match resolved {
            Ok((effective, configs)) => {
                let decision = decide_with_runs(&effective, &configs, &owned, &runs, now);
                (effective, decision)
            }
            Err(message) => {
                let decision = crate::decide::refuse(&value, &owned, now, &message);
                (value.clone(), decision)
            }
        };
        // The new revision's copies of its config before its ReplicaSet (whose pods name them).
        if let Some(rs) = &decision.create
            && !self
                .copy_configs(
                    &cluster,
                    key,
                    &object,
                    rs["metadata"]["labels"][HASH_LABEL]
                        .as_str()
                        .unwrap_or_default(),
                    &decision.copies,
                )
                .await?
        {
            // The content changed since its digest was taken: the watch event brings the new
            // digest, and the revision is decided on it.
            return Ok(Action::requeue(CONFLICT_RETRY));
        }
        // Copies made before their ReplicaSet, not yet handed to it (a crash in between).
        for rs in &owned_objects {
            if rs
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(crate::config::UNOWNED_ANNOTATION))
            {
                self.hand_copies_over(&cluster, key, rs).await?;
            }
        }
        let collided = self.carry_out(&cluster, key, &mut decision).await?;
        if collided {
            // Count the collision (the hash changes with it) and decide again.
            let mut status = value["status"].clone();
            if !status.is_object() {
                status = json!({});
            }
            let collisions = status["collisionCount"].as_i64().unwrap_or(0) + 1;
            tracing::info!(rollout = %key, collisions, "the new ReplicaSet's name is taken; counting a hash collision");
            status["collisionCount"] = json!(collisions);
            decision = Decision {
                status,
                requeue: Some(CONFLICT_RETRY),
                ..Decision::default()
            };
        } else if let Some(traffic) = decision.traffic.clone()
            && let Err(message) = self.route(&cluster, key, &effective, &traffic).await
        {
            // The weight did not reach the router: the Rollout stays where it was, and says why.
            tracing::warn!(rollout = %key, error = %message, "traffic routing");
            let mut kept = value["status"].clone();
            if !kept.is_object() {
                kept = json!({});
            }
            kept["phase"] = json!("Degraded");
            kept["message"] = json!(format!("TrafficRoutingError: {message}"));
            decision.status = kept;
            decision.requeue = Some(ROUTER_RETRY);
        }
        if !collided
            && let Err(message) = self
                .analyse(&cluster, key, &effective, &owned, &decision)
                .await
        {
            // The run could not be made (a template missing, an argument unresolved): the
            // Rollout stays where it is and says why, as Argo's InvalidSpec.
            tracing::warn!(rollout = %key, error = %message, "analysis");
            decision.status["phase"] = json!("Degraded");
            decision.status["message"] = json!(format!("InvalidSpec: {message}"));
            decision.requeue = Some(ROUTER_RETRY);
        }
        if !collided
            && let Some(at) = crate::restart::pending(&effective, now)
            && decision.status["phase"] != "Degraded"
        {
            self.restart(&cluster, key, &effective, at, &mut decision)
                .await?;
        }
        if !collided && let (Some(reference), Some(workload)) = (&reference, &workload) {
            crate::workload::observe(&mut decision.status, workload);
            let current = decision.status["currentPodHash"].as_str();
            let revision = owned
                .iter()
                .find(|rs| Some(rs.hash.as_str()) == current)
                .map(|rs| rs.revision);
            let replicas = workload["spec"]["replicas"].as_i64().unwrap_or(1);
            if let Some(replicas) = crate::workload::deployment_replicas(
                reference,
                &effective,
                &decision.status,
                revision,
                replicas,
            ) {
                self.scale_deployment(&cluster, key, &reference.name, replicas)
                    .await?;
            }
        }
        let scaling = async {
            if collided {
                return Ok(());
            }
            self.scale(&cluster, key, &decision).await
        };
        if decision.status != value["status"] {
            let mut next = value.clone();
            next["status"] = decision.status.clone();
            let api: Api<DynamicObject> =
                Api::namespaced_with(cluster.client.clone(), &key.namespace, &rollout_resource());
            let body: DynamicObject =
                serde_json::from_value(next).map_err(|e| RolloutError::Kube {
                    key: key.to_string(),
                    message: e.to_string(),
                })?;
            // A replace with the resourceVersion we read: a promote or abort written meanwhile
            // (or our own last write, not yet in the reflector) makes it conflict, and the
            // reconcile runs again on the newer object, which its watch event brings.
            // The ReplicaSets are scaled at the same time: the status records the step the
            // decision took (the next decision, from that status, asks for the same replicas
            // again if a patch failed), and the step is recorded one round trip after the
            // decision, not after every patch.
            let params = PostParams::default();
            let (written, scaled) =
                futures::join!(api.replace_status(&key.name, &params, &body), scaling);
            match written {
                Ok(written) => {
                    // A write the server took as a no-op keeps the version: no event follows,
                    // and there is nothing to wait for.
                    if let Some(read) = object.metadata.resource_version.clone()
                        && written.metadata.resource_version.as_ref() != Some(&read)
                    {
                        lock(&cluster.written_over).insert(
                            format!("{}/{}", key.namespace, key.name),
                            (read, std::time::Instant::now()),
                        );
                    }
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    tracing::debug!(rollout = %key, "status written meanwhile; looking again");
                    scaled?;
                    return Ok(Action::requeue(CONFLICT_RETRY));
                }
                Err(e) => return Err(kube_error(key, e)),
            }
            scaled?;
            let said = |s: &Value| {
                (
                    s["phase"].clone(),
                    s["message"].clone(),
                    s["currentStepIndex"].clone(),
                )
            };
            if said(&decision.status) != said(&value["status"]) {
                let _ = self.events.send(RolloutEvent {
                    key: key.clone(),
                    phase: decision.status["phase"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    message: decision.status["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    step: decision.status["currentStepIndex"].as_u64(),
                });
                tracing::info!(
                    rollout = %key,
                    phase = %decision.status["phase"].as_str().unwrap_or_default(),
                    step = ?decision.status["currentStepIndex"].as_u64(),
                    message = %decision.status["message"].as_str().unwrap_or_default(),
                    "rollout"
                );
            }
        } else {
            scaling.await?;
        }
        Ok(match decision.requeue {
            Some(after) => Action::requeue(after.min(RESYNC)),
            None => Action::requeue(RESYNC),
        })
    }

    /// Makes the AnalysisRuns the decision asks for (from the Rollout's templates) and stops
    /// those it no longer needs.
    async fn analyse(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        rollout: &Value,
        owned: &[ReplicaSetView],
        decision: &Decision,
    ) -> Result<(), String> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &key.namespace,
            &bosun_analysis::controller::analysis_run_resource(),
        );
        for name in &decision.terminate {
            let patch = json!({"spec": {"terminate": true}});
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => tracing::info!(rollout = %key, run = %name, "analysis run terminated"),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(format!("terminating AnalysisRun {name}: {e}")),
            }
        }
        for name in &decision.delete_runs {
            match api.delete(name, &Default::default()).await {
                Ok(_) => tracing::debug!(rollout = %key, run = %name, "old analysis run deleted"),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(format!("deleting AnalysisRun {name}: {e}")),
            }
        }
        let stable = decision.status["stableRS"].as_str().unwrap_or_default();
        for request in &decision.runs {
            let revision = owned
                .iter()
                .find(|rs| rs.hash == request.hash)
                .map_or(0, |rs| rs.revision);
            let step = match request.kind {
                RunKind::Step(i) => Some(i),
                RunKind::Background | RunKind::PrePromotion | RunKind::PostPromotion => None,
            };
            let order = bosun_analysis::template::RunOrder {
                rollout,
                analysis: &request.analysis,
                name: &request.name,
                kind: request.kind.label(),
                step,
                latest_hash: &request.hash,
                stable_hash: stable,
                revision,
            };
            let run = bosun_analysis::template::run_for(&cluster.client, &order).await?;
            let object: DynamicObject = serde_json::from_value(run)
                .map_err(|e| format!("AnalysisRun {}: {e}", request.name))?;
            match api.create(&PostParams::default(), &object).await {
                Ok(_) => {
                    tracing::info!(rollout = %key, run = %request.name, "analysis run created")
                }
                // Made by an earlier reconcile whose status write did not land: the same run.
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(format!("creating AnalysisRun {}: {e}", request.name)),
            }
        }
        Ok(())
    }

    /// The object a Rollout's `workloadRef` names, or `None` when it does not exist.
    async fn workload(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        reference: &bosun_model::rollout::WorkloadRef,
    ) -> Result<Option<Value>, RolloutError> {
        if reference.paths().is_none() {
            return Ok(None);
        }
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::try_from(&kube::core::TypeMeta {
                api_version: reference.api_version.clone(),
                kind: reference.kind.clone(),
            })
            .map_err(|e| RolloutError::Refused(e.to_string()))?,
            &format!("{}s", reference.kind.to_lowercase()),
        );
        let api: Api<DynamicObject> =
            Api::namespaced_with(cluster.client.clone(), &key.namespace, &resource);
        let object = api
            .get_opt(&reference.name)
            .await
            .map_err(|e| kube_error(key, e))?;
        Ok(object.map(|o| to_value(&o, &resource)))
    }

    /// Sets the replica count of the Deployment a Rollout took over (`workloadRef.scaleDown`).
    async fn scale_deployment(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        name: &str,
        replicas: i64,
    ) -> Result<(), RolloutError> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &key.namespace,
            &deployment_resource(),
        );
        tracing::info!(rollout = %key, deployment = %name, replicas, "scaling the referenced Deployment");
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .map_err(|e| kube_error(key, e))?;
        Ok(())
    }

    /// The API resource of `kind` in `group`, at the version the cluster prefers (Istio and the
    /// Gateway API serve several), asked once per cluster.
    async fn resource(
        &self,
        cluster: &ClusterRollouts,
        group: &str,
        kind: &str,
    ) -> Result<ApiResource, String> {
        let id = format!("{group}/{kind}");
        if let Some(found) = lock(&cluster.resources).get(&id) {
            return Ok(found.clone());
        }
        let served = kube::discovery::oneshot::group(&cluster.client, group)
            .await
            .map_err(|e| format!("the cluster does not serve {group}: {e}"))?;
        let (resource, _) = served
            .recommended_kind(kind)
            .ok_or_else(|| format!("the cluster does not serve {kind} in {group}"))?;
        lock(&cluster.resources).insert(id, resource.clone());
        Ok(resource)
    }

    /// Writes `traffic` into every router the Rollout names.
    async fn route(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        rollout: &Value,
        traffic: &crate::decide::Traffic,
    ) -> Result<(), String> {
        let spec =
            bosun_model::rollout::RolloutSpec::from_object(rollout).map_err(|e| e.to_string())?;
        let Some(canary) = &spec.strategy.canary else {
            return Ok(());
        };
        let Some(routing) = &canary.traffic_routing else {
            return Ok(());
        };
        let canary_service = canary.canary_service.clone().unwrap_or_default();
        let stable_service = canary.stable_service.clone().unwrap_or_default();
        let services = (canary_service.as_str(), stable_service.as_str());
        let weight = traffic.canary_weight;
        let api = |resource: &ApiResource, namespace: &str| -> Api<DynamicObject> {
            Api::namespaced_with(cluster.client.clone(), namespace, resource)
        };
        // Reads `name`, lets `change` say what to write, and replaces it (with its
        // resourceVersion: a concurrent change conflicts and the next reconcile retries).
        async fn update(
            api: &Api<DynamicObject>,
            kind: &str,
            name: &str,
            change: impl FnOnce(&Value) -> Result<Option<Value>, String>,
        ) -> Result<(), String> {
            let live = api
                .get_opt(name)
                .await
                .map_err(|e| format!("reading {kind} {name}: {e}"))?
                .ok_or_else(|| format!("{kind} {name} not found"))?;
            let live = serde_json::to_value(&live).map_err(|e| e.to_string())?;
            if let Some(next) = change(&live)? {
                let next: DynamicObject =
                    serde_json::from_value(next).map_err(|e| e.to_string())?;
                api.replace(name, &PostParams::default(), &next)
                    .await
                    .map_err(|e| format!("writing {kind} {name}: {e}"))?;
            }
            Ok(())
        }
        if let Some(istio) = &routing.istio {
            let subsets = istio.destination_rule.as_ref();
            if let Some(rule) = subsets {
                let resource = self
                    .resource(cluster, "networking.istio.io", "DestinationRule")
                    .await?;
                let (name, namespace) = split_namespace(&rule.name, &key.namespace);
                update(
                    &api(&resource, namespace),
                    "DestinationRule",
                    name,
                    |live| {
                        crate::routers::istio_destination_rule(
                            live,
                            &key.name,
                            (&rule.canary_subset_name, &rule.stable_subset_name),
                            (&traffic.canary_hash, &traffic.stable_hash),
                        )
                    },
                )
                .await?;
            }
            let destinations = match subsets {
                Some(rule) => crate::routers::Destinations::Subsets {
                    canary: &rule.canary_subset_name,
                    stable: &rule.stable_subset_name,
                },
                None => crate::routers::Destinations::Services {
                    canary: services.0,
                    stable: services.1,
                },
            };
            let resource = self
                .resource(cluster, "networking.istio.io", "VirtualService")
                .await?;
            for vs in routing.istio_virtual_services() {
                let (name, namespace) = split_namespace(&vs.name, &key.namespace);
                update(&api(&resource, namespace), "VirtualService", name, |live| {
                    crate::routers::istio_virtual_service(live, &vs.routes, &destinations, weight)
                })
                .await?;
            }
        }
        if let Some(nginx) = &routing.nginx {
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("networking.k8s.io", "v1", "Ingress"),
                "ingresses",
            );
            let ingresses = api(&resource, &key.namespace);
            let prefix = nginx
                .annotation_prefix
                .clone()
                .unwrap_or_else(|| "nginx.ingress.kubernetes.io".into());
            for stable_name in routing.nginx_stable_ingresses() {
                let stable = ingresses
                    .get_opt(&stable_name)
                    .await
                    .map_err(|e| format!("reading Ingress {stable_name}: {e}"))?
                    .ok_or_else(|| format!("Ingress {stable_name} not found"))?;
                let stable = serde_json::to_value(&stable).map_err(|e| e.to_string())?;
                let mut wanted = crate::routers::nginx_canary_ingress(
                    &stable,
                    rollout,
                    services,
                    weight,
                    &prefix,
                    &nginx.additional_ingress_annotations,
                )?;
                let name = crate::routers::nginx_canary_name(&key.name, &stable_name);
                let live = ingresses
                    .get_opt(&name)
                    .await
                    .map_err(|e| format!("reading Ingress {name}: {e}"))?;
                match live {
                    None => {
                        let object: DynamicObject =
                            serde_json::from_value(wanted).map_err(|e| e.to_string())?;
                        ingresses
                            .create(&PostParams::default(), &object)
                            .await
                            .map_err(|e| format!("creating Ingress {name}: {e}"))?;
                    }
                    Some(live) => {
                        let live = serde_json::to_value(&live).map_err(|e| e.to_string())?;
                        if live["spec"] != wanted["spec"]
                            || live["metadata"]["annotations"] != wanted["metadata"]["annotations"]
                        {
                            wanted["metadata"]["resourceVersion"] =
                                live["metadata"]["resourceVersion"].clone();
                            let object: DynamicObject =
                                serde_json::from_value(wanted).map_err(|e| e.to_string())?;
                            ingresses
                                .replace(&name, &PostParams::default(), &object)
                                .await
                                .map_err(|e| format!("writing Ingress {name}: {e}"))?;
                        }
                    }
                }
            }
        }
        if let Some(gateway) = routing.gateway_api().map_err(|e| e.to_string())? {
            let resource = self
                .resource(cluster, "gateway.networking.k8s.io", "HTTPRoute")
                .await?;
            let namespace = gateway
                .namespace
                .clone()
                .unwrap_or_else(|| key.namespace.clone());
            let names = gateway
                .http_route
                .iter()
                .cloned()
                .chain(gateway.http_routes.iter().map(|r| r.name.clone()));
            for name in names {
                update(&api(&resource, &namespace), "HTTPRoute", &name, |live| {
                    crate::routers::gateway_http_route(live, services, weight)
                })
                .await?;
            }
        }
        Ok(())
    }

    /// One round of `spec.restartAt`: the oldest pods made before it are deleted (as many as
    /// `maxUnavailable` allows while others are not ready); when none is left the restart is
    /// recorded in `status.restartedAt`. The ReplicaSets' pod events bring the next round.
    async fn restart(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        rollout: &Value,
        at: Timestamp,
        decision: &mut Decision,
    ) -> Result<(), RolloutError> {
        let pods: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &key.namespace,
            &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Pod"), "pods"),
        );
        let selector = crate::revision::selector_string(&rollout["spec"]["selector"]);
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| kube_error(key, e))?;
        let views: Vec<crate::restart::PodView> = list
            .items
            .iter()
            .filter_map(|p| crate::restart::PodView::from_object(&serde_json::to_value(p).ok()?))
            .collect();
        let max_unavailable = bosun_model::rollout::RolloutSpec::from_object(rollout)
            .map(|spec| crate::decide::max_unavailable(&spec))
            .unwrap_or(1);
        let (delete, done) = crate::restart::next(&views, at, max_unavailable);
        for pod in &delete {
            match pods.delete(pod, &Default::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(kube_error(key, e)),
            }
        }
        if done {
            decision.status["restartedAt"] = json!(at.to_string());
        } else if decision.status["phase"] == "Healthy" {
            decision.status["phase"] = json!("Progressing");
            decision.status["message"] = json!("rollout is restarting");
        }
        Ok(())
    }

    /// Whether a ConfigMap or Secret the digests do not have is there after all (their watch is
    /// behind). Its metadata only: a Secret's values are not read for this.
    async fn exists(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        missing: &crate::config::Missing,
    ) -> Result<bool, RolloutError> {
        let api = config_api(cluster, &key.namespace, missing.kind);
        match api.get_metadata_opt(&missing.name).await {
            Ok(found) => Ok(found.is_some()),
            Err(e) => Err(kube_error(key, e)),
        }
    }

    /// Makes the immutable copies of the new revision's config (owned by the Rollout until its
    /// ReplicaSet exists), each from one read of the original. `false` when an original's
    /// content is no longer what the revision's hash was taken over (or it is gone): no copy
    /// that disagrees with its hash is made. A copy already there (made before a crash) is
    /// taken as it is: its name carries the hash of its content.
    async fn copy_configs(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        rollout: &DynamicObject,
        hash: &str,
        copies: &[ConfigCopy],
    ) -> Result<bool, RolloutError> {
        let owner = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": key.name,
            "uid": rollout.metadata.uid,
            "controller": false,
        });
        for copy in copies {
            let api = config_api(cluster, &key.namespace, copy.kind);
            let original = match api.get_opt(&copy.name).await {
                Ok(Some(original)) => to_value(&original, &copy.kind.resource()),
                Ok(None) => return Ok(false),
                Err(e) => return Err(kube_error(key, e)),
            };
            if crate::config::digest(&original) != copy.digest {
                tracing::debug!(rollout = %key, kind = copy.kind.as_str(), name = %copy.name, "config changed since its digest was taken; deciding again");
                return Ok(false);
            }
            let object = crate::config::copy(&original, copy.kind, &copy.copy, hash, owner.clone());
            drop(original);
            let object: DynamicObject =
                serde_json::from_value(object).map_err(|e| RolloutError::Kube {
                    key: key.to_string(),
                    message: e.to_string(),
                })?;
            match api.create(&PostParams::default(), &object).await {
                Ok(_) => {
                    tracing::info!(rollout = %key, kind = copy.kind.as_str(), copy = %copy.copy, "config copied for the new revision")
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(kube_error(key, e)),
            }
        }
        Ok(true)
    }

    /// Makes the ReplicaSet `rs` the only owner of the copies it references (they go with it),
    /// then takes the mark that they were not yet off it.
    async fn hand_copies_over(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        rs: &DynamicObject,
    ) -> Result<(), RolloutError> {
        let value = to_value(rs, &replica_set_resource());
        let copies = crate::config::copies_of(&value);
        if copies.is_empty() {
            return Ok(());
        }
        let owner = json!({"metadata": {"ownerReferences": [{
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": rs.metadata.name,
            "uid": rs.metadata.uid,
            "controller": false,
        }]}});
        for (kind, _, copy) in &copies {
            let api = config_api(cluster, &key.namespace, *kind);
            match api
                .patch(copy, &PatchParams::default(), &Patch::Merge(&owner))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(kube_error(key, e)),
            }
        }
        let done = json!({"metadata": {"annotations": {crate::config::UNOWNED_ANNOTATION: null}}});
        let replica_sets: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &key.namespace,
            &replica_set_resource(),
        );
        match replica_sets
            .patch(
                rs.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &Patch::Merge(&done),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(kube_error(key, e)),
        }
    }

    /// Sets the replicas and scale-down deadlines `decision` asks for: one patch per ReplicaSet
    /// (its replicas and its deadline together), all sent at once.
    async fn scale(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        decision: &Decision,
    ) -> Result<(), RolloutError> {
        let replica_sets: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &key.namespace,
            &replica_set_resource(),
        );
        let mut patches: std::collections::BTreeMap<&str, Value> = Default::default();
        for (name, replicas) in &decision.scale {
            let patch = patches.entry(name).or_insert_with(|| json!({}));
            patch["metadata"]["annotations"][crate::revision::DESIRED_REPLICAS_ANNOTATION] =
                json!(replicas.to_string());
            patch["spec"]["replicas"] = json!(replicas);
        }
        for (name, deadline) in &decision.deadlines {
            let patch = patches.entry(name).or_insert_with(|| json!({}));
            patch["metadata"]["annotations"][SCALE_DOWN_DEADLINE_ANNOTATION] =
                json!(deadline.map(|d| d.to_string()));
        }
        let params = PatchParams::default();
        let patches: Vec<(&str, Patch<&Value>)> = patches
            .iter()
            .map(|(name, patch)| (*name, Patch::Merge(patch)))
            .collect();
        let read: Vec<Option<String>> = patches
            .iter()
            .map(|(name, _)| {
                let at = reflector::ObjectRef::new_with(name, replica_set_resource())
                    .within(&key.namespace);
                cluster
                    .replica_sets
                    .get(&at)
                    .and_then(|rs| rs.metadata.resource_version.clone())
            })
            .collect();
        let written = futures::future::try_join_all(
            patches
                .iter()
                .map(|(name, patch)| replica_sets.patch(name, &params, patch)),
        )
        .await
        .map_err(|e| kube_error(key, e))?;
        let mut written_over = lock(&cluster.written_over);
        for (((name, _), read), written) in patches.iter().zip(read).zip(written) {
            // A patch that changed nothing keeps the version: no event follows.
            if let Some(read) = read
                && written.metadata.resource_version.as_ref() != Some(&read)
            {
                written_over.insert(
                    replica_set_mark(&key.namespace, name),
                    (read, std::time::Instant::now()),
                );
            }
        }
        Ok(())
    }

    /// Creates, deletes and annotates ReplicaSets and points Services, as `decision` says (its
    /// replicas are set by [`Self::scale`], together with the status write). A
    /// Service that does not exist turns the Rollout Degraded with a message that names it.
    /// `true` when the new ReplicaSet's name belongs to another owner's ReplicaSet (nothing
    /// else is done then).
    async fn carry_out(
        &self,
        cluster: &ClusterRollouts,
        key: &RolloutKey,
        decision: &mut Decision,
    ) -> Result<bool, RolloutError> {
        let replica_sets: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &key.namespace,
            &replica_set_resource(),
        );
        if let Some(mut rs) = decision.create.take() {
            let name = rs["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(replicas) = decision.scale.remove(&name) {
                rs["spec"]["replicas"] = json!(replicas);
            }
            let rs: DynamicObject = serde_json::from_value(rs).map_err(|e| RolloutError::Kube {
                key: key.to_string(),
                message: e.to_string(),
            })?;
            match replica_sets.create(&PostParams::default(), &rs).await {
                Ok(created) => self.hand_copies_over(cluster, key, &created).await?,
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    // Made by a reconcile whose watch event has not arrived yet, or a name
                    // taken by another owner's ReplicaSet: a collision.
                    let existing = replica_sets
                        .get_opt(&name)
                        .await
                        .map_err(|e| kube_error(key, e))?;
                    let ours = existing.is_none_or(|existing| {
                        existing
                            .metadata
                            .owner_references
                            .iter()
                            .flatten()
                            .any(|o| {
                                Some(&o.uid)
                                    == rs
                                        .metadata
                                        .owner_references
                                        .as_ref()
                                        .and_then(|r| r.first())
                                        .map(|r| &r.uid)
                            })
                    });
                    if !ours {
                        return Ok(true);
                    }
                    // Ours: its copies were handed over, or the next reconcile sees that they
                    // were not (its annotation) and does it.
                }
                Err(e) => return Err(kube_error(key, e)),
            }
        }
        for name in &decision.delete {
            match replica_sets.delete(name, &Default::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(kube_error(key, e)),
            }
        }
        let services: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &key.namespace,
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("", "v1", "Service"),
                "services",
            ),
        );
        for (service, hash) in &decision.services {
            let live = match services
                .get_opt(service)
                .await
                .map_err(|e| kube_error(key, e))?
            {
                Some(live) => live,
                None => {
                    decision.status["phase"] = json!("Degraded");
                    decision.status["message"] =
                        json!(format!("InvalidSpec: Service \"{service}\" not found"));
                    continue;
                }
            };
            let live = serde_json::to_value(&live).unwrap_or_default();
            if live["spec"]["selector"][HASH_LABEL] == json!(hash)
                && live["metadata"]["annotations"][MANAGED_BY_ANNOTATION] == json!(key.name)
            {
                continue;
            }
            let patch = json!({
                "metadata": {"annotations": {MANAGED_BY_ANNOTATION: key.name}},
                "spec": {"selector": {HASH_LABEL: hash}},
            });
            services
                .patch(service, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| kube_error(key, e))?;
        }
        Ok(false)
    }
}

/// `name` or `name.namespace` (Istio's way to name an object in another namespace).
fn split_namespace<'a>(name: &'a str, default: &'a str) -> (&'a str, &'a str) {
    name.split_once('.').unwrap_or((name, default))
}

/// A ReplicaSet's key in `written_over`.
fn replica_set_mark(namespace: &str, name: &str) -> String {
    format!("replicasets/{namespace}/{name}")
}

fn key_of(cluster: &str, namespace: &Option<String>, name: &Option<String>) -> Option<RolloutKey> {
    Some(RolloutKey {
        cluster: cluster.to_string(),
        namespace: namespace.clone().unwrap_or_default(),
        name: name.clone()?,
    })
}

fn find(store: &Store<DynamicObject>, key: &RolloutKey) -> Option<Arc<DynamicObject>> {
    store.get(&reflector::ObjectRef::new_with(&key.name, rollout_resource()).within(&key.namespace))
}

/// The ReplicaSets in `namespace` that the Rollout of `uid` controls, from the cache.
fn owned_by(
    cluster: &ClusterRollouts,
    namespace: &str,
    uid: Option<&str>,
) -> Vec<Arc<DynamicObject>> {
    match uid {
        Some(uid) => cluster.owned.owned(
            &cluster.replica_sets,
            &replica_set_resource(),
            namespace,
            uid,
        ),
        None => Vec::new(),
    }
}

fn to_value(object: &DynamicObject, resource: &ApiResource) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), resource.api_version.clone().into());
        map.insert("kind".into(), resource.kind.clone().into());
    }
    value
}

fn config_api(cluster: &ClusterRollouts, namespace: &str, kind: Kind) -> Api<DynamicObject> {
    Api::namespaced_with(cluster.client.clone(), namespace, &kind.resource())
}

fn kube_error(key: &RolloutKey, e: kube::Error) -> RolloutError {
    RolloutError::Kube {
        key: key.to_string(),
        message: e.to_string(),
    }
}

/// Where Argo Rollouts' own controller runs, if it does (a Deployment labelled as Argo's
/// manifests label it).
async fn argo_controller(client: &kube::Client) -> Option<String> {
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apps", "v1", "Deployment"),
            "deployments",
        ),
    );
    let params = ListParams::default()
        .labels("app.kubernetes.io/name=argo-rollouts")
        .limit(1);
    let list = api.list_metadata(&params).await.ok()?;
    let found = list.items.first()?;
    Some(format!(
        "{}/{}",
        found.metadata.namespace.clone().unwrap_or_default(),
        found.metadata.name.clone().unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_rollout_is_stale_only_at_the_version_our_write_replaced() {
        let written_over = Mutex::new(HashMap::new());
        let key = "shop/web";
        assert!(!stale(&written_over, key, Some("7")), "nothing written yet");
        lock(&written_over).insert(
            "shop/web".to_string(),
            ("7".to_string(), std::time::Instant::now()),
        );
        assert!(
            stale(&written_over, key, Some("7")),
            "the cache is behind our write"
        );
        assert!(stale(&written_over, key, Some("7")), "still behind");
        assert!(
            !stale(&written_over, key, Some("9")),
            "the write (or a newer) arrived"
        );
        assert!(lock(&written_over).is_empty(), "and the mark is gone");
        assert!(!stale(&written_over, key, Some("7")));
        // A cache that never catches up is trusted again after a while.
        let long_ago = std::time::Instant::now() - STALE_AT_MOST;
        lock(&written_over).insert("shop/web".to_string(), ("7".to_string(), long_ago));
        assert!(!stale(&written_over, key, Some("7")));
    }
}
