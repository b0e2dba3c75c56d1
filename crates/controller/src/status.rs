//! An Application's status as the controller keeps it while it reconciles, and its conversion
//! to the API's wire type ([`bosun_api::ApplicationStatus`], Argo CD's shape: `status.sync`,
//! `status.health`, `status.conditions`, `status.operationState`, `status.resources`).

use bosun_api as api;
use bosun_record::{OperationKind, Phase};

/// `Synced`, `OutOfSync` or `Unknown` (the comparison failed), with the commit(s) compared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncStatus {
    pub status: api::SyncStatusCode,
    /// The first source's commit (Argo CD's `revision`).
    pub revision: String,
    /// Every source's commit, in order (Argo CD's `revisions` for multi-source Applications).
    pub revisions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthSummary {
    pub status: api::HealthStatusCode,
    pub message: String,
}

/// Something the user should know: `ComparisonError`, `SyncError`, `AutoSyncPaused`, ...
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// `type` on the wire.
    pub kind: String,
    pub message: String,
    pub last_transition_time: String,
}

/// One resource of the Application with its own sync and health status.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceStatus {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `Synced`, `OutOfSync` (also for missing ones) or, for objects left to prune, `OutOfSync`
    /// with `requiresPruning`.
    pub status: api::SyncStatusCode,
    pub requires_pruning: bool,
    pub hook: bool,
    pub health: Option<HealthSummary>,
}

/// The current or last operation (sync or rollback).
#[derive(Clone, Debug, PartialEq)]
pub struct OperationState {
    pub id: i64,
    pub kind: OperationKind,
    pub phase: Phase,
    pub message: String,
    pub initiated_by: String,
    pub revisions: Vec<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

impl From<&bosun_record::Operation> for OperationState {
    fn from(op: &bosun_record::Operation) -> Self {
        OperationState {
            id: op.id,
            kind: op.kind,
            phase: op.phase,
            message: op.message.clone(),
            initiated_by: op.initiated_by.clone(),
            revisions: op.revisions.clone(),
            started_at: op.started_at.clone(),
            finished_at: op.finished_at.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppStatus {
    pub sync: SyncStatus,
    pub health: HealthSummary,
    pub conditions: Vec<Condition>,
    pub operation_state: Option<OperationState>,
    pub resources: Vec<ResourceStatus>,
    /// When the Application was last compared with Git and its cluster (RFC 3339).
    pub reconciled_at: Option<String>,
}

impl AppStatus {
    /// What a new Application shows before its first comparison.
    pub fn unknown() -> AppStatus {
        AppStatus {
            sync: SyncStatus {
                status: api::SyncStatusCode::Unknown,
                ..SyncStatus::default()
            },
            health: HealthSummary {
                status: api::HealthStatusCode::Unknown,
                message: String::new(),
            },
            ..AppStatus::default()
        }
    }

    /// Replaces the conditions of `kind` with one saying `message` (keeping its transition time
    /// when the message is unchanged), or removes them when `message` is `None`.
    pub fn set_condition(&mut self, kind: &str, message: Option<String>) {
        let existing = self.conditions.iter().position(|c| c.kind == kind);
        match (existing, message) {
            (Some(i), None) => {
                self.conditions.remove(i);
            }
            (Some(i), Some(message)) => {
                if self.conditions[i].message != message {
                    self.conditions[i] = Condition {
                        kind: kind.into(),
                        message,
                        last_transition_time: now(),
                    };
                }
            }
            (None, Some(message)) => self.conditions.push(Condition {
                kind: kind.into(),
                message,
                last_transition_time: now(),
            }),
            (None, None) => {}
        }
    }

    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}

// ---- to the wire ----

/// bosun-assess's verdict as the API says it (Argo CD's words on both sides).
pub fn health_code(status: bosun_assess::HealthStatus) -> api::HealthStatusCode {
    use bosun_assess::HealthStatus;
    match status {
        HealthStatus::Healthy => api::HealthStatusCode::Healthy,
        HealthStatus::Progressing => api::HealthStatusCode::Progressing,
        HealthStatus::Degraded => api::HealthStatusCode::Degraded,
        HealthStatus::Suspended => api::HealthStatusCode::Suspended,
        HealthStatus::Missing => api::HealthStatusCode::Missing,
        HealthStatus::Unknown => api::HealthStatusCode::Unknown,
    }
}

impl From<&HealthSummary> for api::HealthStatus {
    fn from(h: &HealthSummary) -> Self {
        api::HealthStatus {
            status: h.status,
            message: h.message.clone(),
        }
    }
}

impl From<&ResourceStatus> for api::ResourceStatus {
    fn from(r: &ResourceStatus) -> Self {
        api::ResourceStatus {
            group: r.group.clone(),
            kind: r.kind.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            status: r.status,
            requires_pruning: r.requires_pruning,
            hook: r.hook,
            health: r.health.as_ref().map(Into::into),
        }
    }
}

pub fn operation_kind(kind: OperationKind) -> api::OperationKind {
    match kind {
        OperationKind::Sync => api::OperationKind::Sync,
        OperationKind::AutoSync => api::OperationKind::AutoSync,
        OperationKind::SelfHeal => api::OperationKind::SelfHeal,
        OperationKind::Rollback => api::OperationKind::Rollback,
    }
}

pub fn operation_phase(phase: Phase) -> api::OperationPhase {
    match phase {
        Phase::Running => api::OperationPhase::Running,
        Phase::Succeeded => api::OperationPhase::Succeeded,
        Phase::Failed => api::OperationPhase::Failed,
        Phase::Error => api::OperationPhase::Error,
        Phase::Interrupted => api::OperationPhase::Interrupted,
    }
}

impl From<&OperationState> for api::OperationState {
    fn from(op: &OperationState) -> Self {
        api::OperationState {
            id: op.id,
            kind: operation_kind(op.kind),
            phase: operation_phase(op.phase),
            message: op.message.clone(),
            initiated_by: op.initiated_by.clone(),
            revisions: op.revisions.clone(),
            started_at: op.started_at.clone(),
            finished_at: op.finished_at.clone(),
        }
    }
}

impl From<&AppStatus> for api::ApplicationStatus {
    fn from(s: &AppStatus) -> Self {
        api::ApplicationStatus {
            sync: api::SyncStatus {
                status: s.sync.status,
                revision: s.sync.revision.clone(),
                revisions: s.sync.revisions.clone(),
            },
            health: (&s.health).into(),
            conditions: s
                .conditions
                .iter()
                .map(|c| api::Condition {
                    kind: c.kind.clone(),
                    message: c.message.clone(),
                    last_transition_time: c.last_transition_time.clone(),
                })
                .collect(),
            operation_state: s.operation_state.as_ref().map(Into::into),
            resources: s.resources.iter().map(Into::into).collect(),
            reconciled_at: s.reconciled_at.clone(),
        }
    }
}

/// A stored operation (history entry, sync or rollback result) as the API shows it.
pub fn operation(op: &bosun_record::Operation) -> api::Operation {
    api::Operation {
        id: op.id,
        app: op.app.clone(),
        kind: operation_kind(op.kind),
        initiated_by: op.initiated_by.clone(),
        revisions: op.revisions.clone(),
        prune: op.prune,
        dry_run: op.dry_run,
        rollback_of: op.rollback_of,
        spec_digest: op.spec_digest.clone(),
        selected_resources: op
            .selected
            .iter()
            .map(|r| api::SyncResource {
                group: r.group.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
            })
            .collect(),
        phase: operation_phase(op.phase),
        message: op.message.clone(),
        resources: op
            .resources
            .iter()
            .map(|r| api::ResourceResult {
                group: r.group.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                action: r.action.clone(),
                message: r.message.clone(),
            })
            .collect(),
        started_at: op.started_at.clone(),
        finished_at: op.finished_at.clone(),
        duration_ms: op.duration_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_keep_their_time_until_the_message_changes() {
        let mut status = AppStatus::unknown();
        status.set_condition("ComparisonError", Some("render failed".into()));
        let first = status.conditions[0].last_transition_time.clone();
        status.set_condition("ComparisonError", Some("render failed".into()));
        assert_eq!(status.conditions.len(), 1);
        assert_eq!(status.conditions[0].last_transition_time, first);
        status.set_condition("ComparisonError", None);
        assert!(status.conditions.is_empty());
    }

    #[test]
    fn converts_to_the_wire_in_argo_cd_shape() {
        let mut status = AppStatus::unknown();
        status.resources.push(ResourceStatus {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: "dev".into(),
            name: "web".into(),
            status: api::SyncStatusCode::OutOfSync,
            requires_pruning: false,
            hook: false,
            health: None,
        });
        status.set_condition("SyncError", Some("x".into()));
        let json = serde_json::to_value(api::ApplicationStatus::from(&status)).unwrap();
        assert_eq!(json["sync"]["status"], "Unknown");
        assert_eq!(json["health"]["status"], "Unknown");
        assert_eq!(json["conditions"][0]["type"], "SyncError");
        assert!(json["conditions"][0]["lastTransitionTime"].is_string());
        assert_eq!(json["resources"][0]["kind"], "Deployment");
        assert!(json["resources"][0].get("requiresPruning").is_none());
    }
}
