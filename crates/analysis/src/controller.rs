//! The AnalysisRun reconciler on bosun's runtime: per cluster, a kube-runtime reflector keeps
//! every AnalysisRun in memory and a watch on the Jobs of `job` metrics brings their runs back;
//! a reconcile takes one [`look`](crate::run::look) at the run and writes its status. Waiting
//! between measurements is a requeue, never a sleep, so a restart resumes from the measurements
//! the run's status holds.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use bosun_runtime::{Action, Config, OwnerIndex, ReconcileLoop, Reconciler, RuntimeMetrics};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::providers::job::UID_LABEL;

/// An AnalysisRun, by cluster (bosun.yaml's name), namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunKey {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for RunKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.cluster, self.namespace, self.name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{key}: {message}")]
    Kube { key: String, message: String },
    #[error("cluster `{0}` is not connected")]
    UnknownCluster(String),
}

pub fn analysis_run_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "AnalysisRun"),
        "analysisruns",
    )
}

fn job_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("batch", "v1", "Job"), "jobs")
}

struct ClusterRuns {
    client: kube::Client,
    runs: Store<DynamicObject>,
    /// The runs each Rollout controls.
    owned: Arc<OwnerIndex>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ClusterRuns {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A run that changed, by its owner: (cluster, namespace, owning Rollout's name).
pub type OwnerChange = (String, String, String);

pub struct AnalysisController {
    clusters: RwLock<HashMap<String, Arc<ClusterRuns>>>,
    owners: broadcast::Sender<OwnerChange>,
    /// HTTP clients of the prometheus and web providers (made when the loop starts, inside the
    /// runtime whose connections they pool).
    http: RwLock<Option<crate::providers::Http>>,
    reconciles: ReconcileLoop<RunKey>,
}

struct Runs(Weak<AnalysisController>);

impl Reconciler for Runs {
    type Key = RunKey;
    type Error = AnalysisError;

    async fn reconcile(self: Arc<Self>, key: RunKey) -> Result<Action, AnalysisError> {
        match self.0.upgrade() {
            Some(controller) => controller.reconcile(&key).await,
            None => Ok(Action::await_change()),
        }
    }
}

/// After a conflicting status write: soon, not on the failure backoff.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);

fn key_of(cluster: &str, object: &DynamicObject) -> Option<RunKey> {
    Some(RunKey {
        cluster: cluster.to_string(),
        namespace: object.metadata.namespace.clone()?,
        name: object.metadata.name.clone()?,
    })
}

impl AnalysisController {
    pub fn new(metrics: RuntimeMetrics, concurrency: usize) -> Arc<AnalysisController> {
        let mut config = Config::new("analysisruns");
        config.concurrency = concurrency.max(1);
        Arc::new(AnalysisController {
            clusters: RwLock::default(),
            owners: broadcast::channel(1024).0,
            http: RwLock::default(),
            reconciles: ReconcileLoop::new(config, metrics),
        })
    }

    /// Starts the reconcile loop.
    pub fn start(self: &Arc<Self>) {
        match crate::providers::Http::new() {
            Ok(http) => *self.http.write().unwrap_or_else(|p| p.into_inner()) = Some(http),
            Err(e) => {
                tracing::error!(error = %e, "analysis: no HTTP client; web and prometheus metrics will error")
            }
        }
        self.reconciles.start(Arc::new(Runs(Arc::downgrade(self))));
    }

    /// Said whenever a run that a Rollout owns changes (its phase is what the Rollout waits on).
    pub fn subscribe(&self) -> broadcast::Receiver<OwnerChange> {
        self.owners.subscribe()
    }

    /// Runs `cluster`'s AnalysisRuns (the CRDs are installed with the Rollout CRDs).
    pub async fn add_cluster(self: &Arc<Self>, cluster: String, client: kube::Client) {
        if self
            .clusters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&cluster)
        {
            return;
        }
        let writer = reflector::store::Writer::new(analysis_run_resource());
        let runs = writer.as_reader();
        let mut tasks = Vec::new();
        let owned = Arc::new(OwnerIndex::new("Rollout"));
        let (trigger, name, owners, index) = (
            self.reconciles.trigger(),
            cluster.clone(),
            self.owners.clone(),
            owned.clone(),
        );
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &analysis_run_resource());
        tasks.push(tokio::spawn(async move {
            let stream = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .reflect(writer)
                .touched_objects();
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(run) => {
                        if let Some(key) = key_of(&name, &run) {
                            if let Some(owner) = index.record(&run) {
                                let _ = owners.send((
                                    name.clone(),
                                    key.namespace.clone(),
                                    owner.name.clone(),
                                ));
                            }
                            trigger.now(key);
                        }
                    }
                    Err(e) => tracing::debug!(cluster = %name, error = %e, "watching AnalysisRuns"),
                }
            }
        }));
        // A Job of a `job` metric that changes brings its run back.
        let (trigger, name, store) = (self.reconciles.trigger(), cluster.clone(), runs.clone());
        let api: Api<kube::core::PartialObjectMeta<DynamicObject>> =
            Api::all_with(client.clone(), &job_resource());
        tasks.push(tokio::spawn(async move {
            let stream = watcher::watcher(api, watcher::Config::default().labels(UID_LABEL))
                .default_backoff()
                .touched_objects();
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                let Ok(job) = event else { continue };
                let uid = job
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(UID_LABEL))
                    .cloned();
                if let Some(run) = store
                    .state()
                    .into_iter()
                    .find(|r| r.metadata.uid.is_some() && r.metadata.uid == uid)
                    && let Some(key) = key_of(&name, &run)
                {
                    trigger.now(key);
                }
            }
        }));
        self.clusters
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                cluster,
                Arc::new(ClusterRuns {
                    client,
                    runs,
                    owned,
                    tasks,
                }),
            );
    }

    fn cluster(&self, name: &str) -> Result<Arc<ClusterRuns>, AnalysisError> {
        self.clusters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| AnalysisError::UnknownCluster(name.to_string()))
    }

    /// Whether `cluster`'s runs are listed, waiting a little for it (a Rollout deciding before
    /// that would not see the runs it made, and make them again). False for a cluster not taken
    /// in hand yet, or not listed within a few seconds: the caller looks again later.
    pub async fn wait_ready(&self, cluster: &str) -> bool {
        let Ok(cluster) = self.cluster(cluster) else {
            return false;
        };
        tokio::time::timeout(Duration::from_secs(5), cluster.runs.wait_until_ready())
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The AnalysisRuns of `namespace` that `owner_uid` controls, as the cluster has them
    /// (Argo's rule: the run's controller reference, `metav1.GetControllerOf`).
    pub fn runs_owned_by(&self, cluster: &str, namespace: &str, owner_uid: &str) -> Vec<Value> {
        let Ok(cluster) = self.cluster(cluster) else {
            return Vec::new();
        };
        let mut runs: Vec<Value> = cluster
            .owned
            .owned(
                &cluster.runs,
                &analysis_run_resource(),
                namespace,
                owner_uid,
            )
            .into_iter()
            .filter_map(|r| to_value(&r))
            .collect();
        runs.sort_by(|a, b| {
            a["metadata"]["creationTimestamp"]
                .as_str()
                .cmp(&b["metadata"]["creationTimestamp"].as_str())
                .then(
                    a["metadata"]["name"]
                        .as_str()
                        .cmp(&b["metadata"]["name"].as_str()),
                )
        });
        runs
    }

    async fn reconcile(&self, key: &RunKey) -> Result<Action, AnalysisError> {
        let cluster = self.cluster(&key.cluster)?;
        if cluster.runs.wait_until_ready().await.is_err() {
            return Ok(Action::await_change());
        }
        let reference =
            ObjectRef::new_with(&key.name, analysis_run_resource()).within(&key.namespace);
        let Some(object) = cluster.runs.get(&reference) else {
            return Ok(Action::await_change());
        };
        if object.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let Some(value) = to_value(&object) else {
            return Ok(Action::await_change());
        };
        // A completed run with `ttlStrategy` goes when its time is up.
        if let Some(expires) = crate::ttl::expires_at(&value) {
            let left = jiff::Timestamp::now().duration_until(expires);
            if left.is_positive() {
                let left = Duration::try_from(left).unwrap_or(CONFLICT_RETRY);
                return Ok(Action::requeue(left.max(Duration::from_millis(10))));
            }
            let api: Api<DynamicObject> = Api::namespaced_with(
                cluster.client.clone(),
                &key.namespace,
                &analysis_run_resource(),
            );
            return match api.delete(&key.name, &Default::default()).await {
                Ok(_) => {
                    tracing::info!(run = %key, "analysis run deleted: its ttlStrategy expired");
                    Ok(Action::await_change())
                }
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
                Err(e) => Err(AnalysisError::Kube {
                    key: key.to_string(),
                    message: e.to_string(),
                }),
            };
        }
        let Some(http) = self.http.read().unwrap_or_else(|p| p.into_inner()).clone() else {
            return Ok(Action::await_change());
        };
        let (status, requeue) =
            crate::run::look(&cluster.client, &http, &value, jiff::Timestamp::now()).await;
        let status = serde_json::to_value(&status).map_err(|e| AnalysisError::Kube {
            key: key.to_string(),
            message: e.to_string(),
        })?;
        if status != value["status"] {
            let before = value["status"]["phase"].clone();
            let mut next = value.clone();
            next["status"] = status.clone();
            let body: DynamicObject =
                serde_json::from_value(next).map_err(|e| AnalysisError::Kube {
                    key: key.to_string(),
                    message: e.to_string(),
                })?;
            let api: Api<DynamicObject> = Api::namespaced_with(
                cluster.client.clone(),
                &key.namespace,
                &analysis_run_resource(),
            );
            // AnalysisRun has no status subresource (as in Argo): the whole object, at the
            // version read, so a concurrent change (a terminate) is never overwritten.
            match api.replace(&key.name, &PostParams::default(), &body).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    return Ok(Action::requeue(CONFLICT_RETRY));
                }
                Err(e) => {
                    return Err(AnalysisError::Kube {
                        key: key.to_string(),
                        message: e.to_string(),
                    });
                }
            }
            if status["phase"] != before {
                tracing::info!(
                    run = %key,
                    phase = %status["phase"].as_str().unwrap_or_default(),
                    message = %status["message"].as_str().unwrap_or_default(),
                    "analysis run"
                );
            }
        }
        Ok(match requeue {
            Some(d) => Action::requeue(d.max(Duration::from_millis(10))),
            None => Action::await_change(),
        })
    }
}

fn to_value(object: &DynamicObject) -> Option<Value> {
    let mut v = serde_json::to_value(object).ok()?;
    v["apiVersion"] = "argoproj.io/v1alpha1".into();
    v["kind"] = "AnalysisRun".into();
    Some(v)
}
