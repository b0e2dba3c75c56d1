//! The wire types of `bosun serve`'s HTTP API: what the server answers, what the CLI reads and
//! what the OpenAPI document describes — one definition for all three.
//!
//! Shapes are Argo CD's where the same thing exists (`Application` with `status.sync`,
//! `status.health`, `status.operationState`, `status.resources`; the resource tree's nodes), so
//! tools written against Argo CD's API read them unchanged. Status words are enums here, so a
//! misspelt one does not compile. No I/O: the server builds these, the CLI decodes them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Every failure, whatever answers it (a handler, an unknown path, a wrong method, a body too
/// large, a bad query string or JSON body): the HTTP status again, and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: u16,
    pub message: String,
}

/// An Argo CD `Application` as the API shows it: its spec as Git has it (repository
/// credentials removed) and bosun's status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// `argoproj.io/v1alpha1`.
    pub api_version: String,
    /// `Application`.
    pub kind: String,
    pub metadata: ApplicationMetadata,
    /// Argo CD's Application spec, as the model crate reads it.
    #[schema(value_type = Object)]
    pub spec: Value,
    pub status: ApplicationStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationMetadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationList {
    pub items: Vec<Application>,
}

/// Where `bosun serve` takes its Applications from (the config's `applications` entries) and
/// what went wrong loading them: `GET /api/v1/catalog`. An entry that fails keeps the
/// Applications it loaded before, so the list alone cannot tell a failing source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    /// Whether the first load has finished (until then the list is empty and `/readyz` 503).
    pub loaded: bool,
    /// The errors of the last load, in the order of the config's entries.
    pub errors: Vec<CatalogError>,
}

/// One entry of `applications` that did not load, or loaded only in part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogError {
    /// The entry: a path, `repoURL revision path`, or `namespace N`.
    pub source: String,
    /// What is wrong (a file and field, an unreachable repository, a name defined twice).
    pub message: String,
}

/// `status` of an Application (Argo CD's shape).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    pub sync: SyncStatus,
    pub health: HealthStatus,
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    pub resources: Vec<ResourceStatus>,
    /// When the Application was last compared with Git and its cluster (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
}

/// Whether the cluster matches Git, with the commit(s) compared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SyncStatus {
    pub status: SyncStatusCode,
    /// The first source's commit (Argo CD's `revision`).
    pub revision: String,
    /// Every source's commit, in order (Argo CD's `revisions` for multi-source Applications).
    pub revisions: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum SyncStatusCode {
    Synced,
    /// Different from Git (also: missing from the cluster, or left to prune).
    OutOfSync,
    /// Not compared yet, or the comparison failed.
    #[default]
    Unknown,
}

impl SyncStatusCode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatusCode::Synced => "Synced",
            SyncStatusCode::OutOfSync => "OutOfSync",
            SyncStatusCode::Unknown => "Unknown",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthStatus {
    pub status: HealthStatusCode,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Argo CD's health words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum HealthStatusCode {
    Healthy,
    Progressing,
    Degraded,
    Suspended,
    Missing,
    #[default]
    Unknown,
}

impl HealthStatusCode {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatusCode::Healthy => "Healthy",
            HealthStatusCode::Progressing => "Progressing",
            HealthStatusCode::Degraded => "Degraded",
            HealthStatusCode::Suspended => "Suspended",
            HealthStatusCode::Missing => "Missing",
            HealthStatusCode::Unknown => "Unknown",
        }
    }
}

/// Something the user should know: `ComparisonError`, `SyncError`, `AutoSyncPaused`, ...
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub last_transition_time: String,
}

/// One resource of the Application with its own sync and health status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `OutOfSync` also for missing objects and, with `requiresPruning`, for ones left to prune.
    pub status: SyncStatusCode,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requires_pruning: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hook: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
}

/// What started an operation (bosun-record's kind words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    /// Asked for through the API or the CLI.
    Sync,
    /// The automated sync policy found Git ahead of the cluster.
    AutoSync,
    /// The automated sync policy found the cluster drifted (`selfHeal`).
    SelfHeal,
    /// A sync back to the revisions of an earlier history entry.
    Rollback,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Sync => "sync",
            OperationKind::AutoSync => "auto-sync",
            OperationKind::SelfHeal => "self-heal",
            OperationKind::Rollback => "rollback",
        }
    }
}

/// Where an operation ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum OperationPhase {
    Running,
    Succeeded,
    /// The sync ran and something in it failed.
    Failed,
    /// The sync could not start or stopped with an error.
    Error,
    /// bosun stopped while the operation ran.
    Interrupted,
}

impl OperationPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationPhase::Running => "Running",
            OperationPhase::Succeeded => "Succeeded",
            OperationPhase::Failed => "Failed",
            OperationPhase::Error => "Error",
            OperationPhase::Interrupted => "Interrupted",
        }
    }
}

/// The current or last operation, in the Application's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    pub id: i64,
    pub kind: OperationKind,
    pub phase: OperationPhase,
    pub message: String,
    pub initiated_by: String,
    pub revisions: Vec<String>,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// An operation, running or finished: a history entry, and what sync and rollback answer.
/// The same fields as the store's record (`null` where not known).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub id: i64,
    pub app: String,
    pub kind: OperationKind,
    pub initiated_by: String,
    pub revisions: Vec<String>,
    pub prune: bool,
    pub dry_run: bool,
    /// For a rollback: the history id it returned to.
    pub rollback_of: Option<i64>,
    pub spec_digest: String,
    /// The resources a partial sync was limited to; absent when it synced them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selected_resources: Vec<SyncResource>,
    pub phase: OperationPhase,
    pub message: String,
    pub resources: Vec<ResourceResult>,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

/// What one resource's write came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceResult {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `created`, `configured`, `pruned`, ...
    pub action: String,
    pub message: String,
}

/// An Application's operations, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OperationList {
    pub items: Vec<Operation>,
}

/// What sync and rollback answer: the operation as it ended, and the Application after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OperationResponse {
    pub operation: Operation,
    pub application: Application,
}

/// `POST /api/v1/applications/{name}/sync`; an empty body is all defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncRequest {
    /// Delete live objects that Git no longer has.
    #[serde(default)]
    pub prune: bool,
    /// Plan and validate with the cluster, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Sync only these of the Application's resources (Argo CD's partial sync): nothing else is
    /// applied, pruning looks only among them, and no hook runs. Empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<SyncResource>,
}

/// One resource of a partial sync (Argo CD's `SyncOperationResource`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncResource {
    /// API group; empty for the core group.
    #[serde(default)]
    pub group: String,
    pub kind: String,
    /// Empty for a cluster-scoped object.
    #[serde(default)]
    pub namespace: String,
    pub name: String,
}

impl SyncResource {
    /// Argo CD's `--resource` form: `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME` (the group
    /// empty for the core group: `:ConfigMap:web/settings`).
    pub fn parse(text: &str) -> Result<SyncResource, String> {
        let parts: Vec<&str> = text.splitn(3, ':').collect();
        let [group, kind, rest] = parts[..] else {
            return Err(format!(
                "{text:?}: expected GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME (the group empty for the core group, as in :ConfigMap:web/settings)"
            ));
        };
        let (namespace, name) = rest.split_once('/').unwrap_or(("", rest));
        if kind.is_empty() || name.is_empty() || name.contains('/') {
            return Err(format!(
                "{text:?}: expected GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME, with a kind and a name"
            ));
        }
        Ok(SyncResource {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        })
    }
}

impl std::fmt::Display for SyncResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:", self.group, self.kind)?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        f.write_str(&self.name)
    }
}

/// `POST /api/v1/applications/{name}/rollback`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackRequest {
    /// The history entry (a successful sync) whose revisions to sync.
    pub id: i64,
    #[serde(default)]
    pub prune: bool,
}

/// `POST /api/v1/refresh`: "this repository changed".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryRefresh {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// `refs/heads/main`; empty: every Application of the repository.
    #[serde(default, rename = "ref")]
    pub pushed_ref: String,
}

/// The Applications a push or a repository refresh concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refreshed {
    pub refreshed: Vec<String>,
    /// A webhook delivery (`X-GitHub-Delivery`) already received within the last ten minutes:
    /// nothing was done again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already_received: bool,
    /// Why nothing was refreshed, when that is not because no Application follows the push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The managed resources and what their controllers created (Argo CD's resource tree).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceTree {
    pub nodes: Vec<ResourceNode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceNode {
    pub group: String,
    /// Only for the nodes found below a managed resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `null` for a managed resource that is not live.
    #[serde(default)]
    pub uid: Option<String>,
    /// The managed resources' sync status; absent below them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SyncStatusCode>,
    #[serde(default)]
    pub health: Option<HealthStatus>,
    #[serde(default)]
    pub parent_refs: Vec<ParentRef>,
}

/// The controlling owner of a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParentRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// One object of an Application's resource tree as it is live: `GET
/// /api/v1/applications/{name}/resource` (Argo CD's `ApplicationResourceResponse`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceManifest {
    /// The live object as YAML; a Secret's `data` and `stringData` values (and kubectl's
    /// last-applied copy of them) masked as `bosun diff` masks them.
    pub manifest: String,
}

/// The Kubernetes Events of one object of an Application, oldest first: `GET
/// /api/v1/applications/{name}/events`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceEventList {
    pub items: Vec<ResourceEvent>,
}

/// A core/v1 Event whose `involvedObject` is the object asked about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceEvent {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub reason: String,
    pub message: String,
    /// How many times it happened (the recorder aggregates repeats).
    pub count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
    /// The component that recorded it (`deployment-controller`, `kubelet`, ...).
    pub source: String,
}

/// Container logs of an Application's Pods: `GET /api/v1/applications/{name}/logs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PodLogList {
    pub items: Vec<PodLog>,
}

/// The log of one container of one Pod, as the cluster gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodLog {
    pub pod_name: String,
    pub namespace: String,
    pub container: String,
    /// The log text (the last `tailLines` lines).
    pub content: String,
    /// Why there is no log (the container has not started, has no previous run, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One audit-log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub at: String,
    pub who: String,
    pub action: String,
    pub app: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditLog {
    pub items: Vec<AuditEntry>,
}

/// One server-sent event of `/api/v1/stream/applications`: `{"result": {"type", "application"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationWatchEvent {
    pub result: ApplicationEvent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationEvent {
    /// `MODIFIED` or `DELETED`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The whole Application (`MODIFIED`), or only its `metadata` (`DELETED`).
    #[schema(value_type = Object)]
    pub application: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn operation() -> Operation {
        Operation {
            id: 3,
            app: "web".into(),
            kind: OperationKind::AutoSync,
            initiated_by: "automated".into(),
            revisions: vec!["abc".into()],
            prune: false,
            dry_run: false,
            rollback_of: None,
            spec_digest: "d".into(),
            selected_resources: Vec::new(),
            phase: OperationPhase::Succeeded,
            message: "ok".into(),
            resources: vec![],
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: None,
            duration_ms: None,
        }
    }

    #[test]
    fn status_serialises_in_argo_cd_shape() {
        let status = ApplicationStatus {
            resources: vec![ResourceStatus {
                group: "apps".into(),
                kind: "Deployment".into(),
                namespace: "dev".into(),
                name: "web".into(),
                status: SyncStatusCode::OutOfSync,
                requires_pruning: false,
                hook: false,
                health: None,
            }],
            conditions: vec![Condition {
                kind: "SyncError".into(),
                message: "x".into(),
                last_transition_time: "t".into(),
            }],
            ..ApplicationStatus::default()
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json,
            json!({
                "sync": {"status": "Unknown", "revision": "", "revisions": []},
                "health": {"status": "Unknown"},
                "conditions": [{"type": "SyncError", "message": "x", "lastTransitionTime": "t"}],
                "resources": [{"group": "apps", "kind": "Deployment", "namespace": "dev",
                               "name": "web", "status": "OutOfSync"}],
            })
        );
        let back: ApplicationStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back, status);
    }

    #[test]
    fn operations_keep_the_stores_words_and_nulls() {
        let json = serde_json::to_value(operation()).unwrap();
        assert_eq!(json["kind"], "auto-sync");
        assert_eq!(json["phase"], "Succeeded");
        assert!(json["rollbackOf"].is_null() && json.get("rollbackOf").is_some());
        assert!(json.get("durationMs").is_some());
        for kind in [
            OperationKind::Sync,
            OperationKind::AutoSync,
            OperationKind::SelfHeal,
            OperationKind::Rollback,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
    }

    #[test]
    fn sync_resources_read_argo_cds_form() {
        let r = SyncResource::parse("apps:Deployment:web/api").unwrap();
        assert_eq!(
            (
                r.group.as_str(),
                r.kind.as_str(),
                r.namespace.as_str(),
                r.name.as_str()
            ),
            ("apps", "Deployment", "web", "api")
        );
        assert_eq!(r.to_string(), "apps:Deployment:web/api");
        let r = SyncResource::parse(":Namespace:web").unwrap();
        assert_eq!((r.group.as_str(), r.namespace.as_str()), ("", ""));
        assert_eq!(r.to_string(), ":Namespace:web");
        for bad in [
            "Deployment:web",
            "apps::web",
            "apps:Deployment:",
            "a:B:c/d/e",
        ] {
            assert!(SyncResource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        assert!(serde_json::from_str::<SyncRequest>(r#"{"prune": true, "force": 1}"#).is_err());
        let r: SyncRequest = serde_json::from_str(r#"{"dryRun": true}"#).unwrap();
        assert!(r.dry_run && !r.prune);
        assert!(serde_json::from_str::<RollbackRequest>(r#"{"prune": true}"#).is_err());
    }

    #[test]
    fn tree_nodes_read_what_the_controller_builds() {
        let managed = json!({"group": "apps", "kind": "Deployment", "namespace": "dev",
            "name": "web", "uid": null, "status": "Synced", "health": null, "parentRefs": []});
        let node: ResourceNode = serde_json::from_value(managed.clone()).unwrap();
        assert_eq!(serde_json::to_value(&node).unwrap(), managed);
        let child = json!({"group": "", "version": "v1", "kind": "Pod", "namespace": "dev",
            "name": "web-1", "uid": "u", "health": {"status": "Healthy", "message": "up"},
            "parentRefs": [{"kind": "ReplicaSet", "namespace": "dev", "name": "web", "uid": "r"}]});
        let node: ResourceNode = serde_json::from_value(child.clone()).unwrap();
        assert_eq!(serde_json::to_value(&node).unwrap(), child);
    }
}

/// A Rollout bosun drives, in a line: where it is, its phase and its step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSummary {
    /// bosun.yaml's name of the cluster (or its kubeconfig context).
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    /// `canary` or `blueGreen`.
    pub strategy: String,
    /// Argo Rollouts' phase: Healthy, Progressing, Paused or Degraded.
    pub phase: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The canary step it is at (= `steps` when done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    pub steps: u64,
    pub desired: i64,
    pub ready: i64,
    pub available: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_hash: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutList {
    pub items: Vec<RolloutSummary>,
}

/// One revision of a Rollout: its ReplicaSet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutRevision {
    pub revision: u64,
    pub replica_set: String,
    pub hash: String,
    /// `stable`, `canary`, `preview`, `active` or `old`.
    pub role: String,
    pub desired: i64,
    pub ready: i64,
    pub available: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_deadline: Option<String>,
}

/// A Rollout in full: the summary, its steps, its revisions and its object as the cluster has
/// it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    pub summary: RolloutSummary,
    /// `spec.strategy.canary.steps` as written.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Value>,
    pub revisions: Vec<RolloutRevision>,
    /// The AnalysisRuns the Rollout owns, oldest first.
    #[serde(default)]
    pub analysis_runs: Vec<AnalysisRunSummary>,
    /// A canary's share of the traffic now (none for blue-green).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<RolloutWeights>,
    #[schema(value_type = Object)]
    pub object: Value,
}

/// How a canary's traffic is split now, in percent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutWeights {
    pub canary: i64,
    pub stable: i64,
    /// `trafficRouting`: the weights set on the traffic router (`status.canary.weights`);
    /// `replicas`: without a router, the split of the pods between the canary and stable
    /// ReplicaSets, which the Services spread the traffic over.
    pub source: String,
}

/// One AnalysisRun of a Rollout: where it runs, its phase and every metric's measurements (in
/// Argo's `status.metricResults` shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunSummary {
    pub name: String,
    /// `Step` or `Background` (the run's `rollout-type` label).
    pub rollout_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_index: Option<u64>,
    /// The revision's pod-template hash it judges.
    pub pod_template_hash: String,
    pub phase: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[schema(value_type = Vec<Object>)]
    pub metric_results: Vec<Value>,
}

/// The body of `POST /api/v1/rollouts/{cluster}/{namespace}/{name}/undo` (optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UndoRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<u64>,
}

/// Said on the Rollout event stream at every change of phase, step or message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutWatchEvent {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub phase: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
}

/// An Application whose images bosun watches (Argo CD Image Updater's annotations): what each
/// image is at in Git, what its policy picks from the registry, and the write-backs so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageApplication {
    pub app: String,
    /// The repository and file new tags are written to.
    pub repository: String,
    pub branch: String,
    pub file: String,
    pub images: Vec<WatchedImage>,
    /// When the last check finished (RFC 3339), if one has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// Why the last check failed as a whole (bad annotations, Git unreachable, a refused push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Write-backs and failed checks, newest first.
    #[serde(default)]
    pub history: Vec<ImageUpdateEntry>,
}

/// One image of an Application's `image-list`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WatchedImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub image: String,
    pub strategy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    /// The key written (`image.tag`, `images[name=nginx].newTag`).
    pub key: String,
    /// The value in Git now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// What the policy picks from the registry's tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    /// How many tags the registry listed.
    pub tags_seen: usize,
    /// Why this image could not be checked (401, no such repository, no allowed tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A write-back commit, or a check that failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateEntry {
    pub id: i64,
    pub at: String,
    /// `Committed` or `Failed`.
    pub outcome: String,
    pub changes: Vec<ImageTagChange>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revision: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// How many pushes the write-back commit took (a rejected push is rebased on the new head
    /// and pushed again); absent for failed checks and for records older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageTagChange {
    pub image: String,
    pub old_tag: String,
    pub new_tag: String,
}

/// `GET /api/v1/images`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImageApplicationList {
    pub items: Vec<ImageApplication>,
}
