//! An Application's status as `bosun serve` shows it, in Argo CD's shape
//! (`status.sync`, `status.health`, `status.conditions`, `status.operationState`,
//! `status.resources`), so that tools written against Argo CD's API read it unchanged.

use serde::Serialize;

/// `Synced`, `OutOfSync` or `Unknown` (the comparison failed), with the commit(s) compared.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub status: String,
    /// The first source's commit (Argo CD's `revision`).
    pub revision: String,
    /// Every source's commit, in order (Argo CD's `revisions` for multi-source Applications).
    pub revisions: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthSummary {
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Something the user should know: `ComparisonError`, `SyncError`, `AutoSyncPaused`, ...
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub last_transition_time: String,
}

/// One resource of the Application with its own sync and health status.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `Synced`, `OutOfSync` (also for missing ones) or, for objects left to prune, `OutOfSync`
    /// with `requiresPruning`.
    pub status: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub requires_pruning: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hook: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSummary>,
}

/// The current or last operation (sync or rollback).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    pub id: i64,
    pub kind: String,
    pub phase: String,
    pub message: String,
    pub initiated_by: String,
    pub revisions: Vec<String>,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl From<&bosun_record::Operation> for OperationState {
    fn from(op: &bosun_record::Operation) -> Self {
        OperationState {
            id: op.id,
            kind: op.kind.as_str().into(),
            phase: op.phase.as_str().to_string(),
            message: op.message.clone(),
            initiated_by: op.initiated_by.clone(),
            revisions: op.revisions.clone(),
            started_at: op.started_at.clone(),
            finished_at: op.finished_at.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub sync: SyncStatus,
    pub health: HealthSummary,
    pub conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    pub resources: Vec<ResourceStatus>,
    /// When the Application was last compared with Git and its cluster (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
}

impl AppStatus {
    /// What a new Application shows before its first comparison.
    pub fn unknown() -> AppStatus {
        AppStatus {
            sync: SyncStatus {
                status: "Unknown".into(),
                ..SyncStatus::default()
            },
            health: HealthSummary {
                status: "Unknown".into(),
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
    fn serialises_in_argo_cd_shape() {
        let mut status = AppStatus::unknown();
        status.resources.push(ResourceStatus {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: "dev".into(),
            name: "web".into(),
            status: "OutOfSync".into(),
            requires_pruning: false,
            hook: false,
            health: None,
        });
        status.set_condition("SyncError", Some("x".into()));
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["sync"]["status"], "Unknown");
        assert_eq!(json["health"]["status"], "Unknown");
        assert_eq!(json["conditions"][0]["type"], "SyncError");
        assert!(json["conditions"][0]["lastTransitionTime"].is_string());
        assert_eq!(json["resources"][0]["kind"], "Deployment");
        assert!(json["resources"][0].get("requiresPruning").is_none());
    }
}
