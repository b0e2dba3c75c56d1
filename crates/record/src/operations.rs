//! Operations: syncs and rollbacks, written as `Running` before they act and finished after.

use std::fmt;
use std::str::FromStr;

use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};

use crate::{Result, Store, from_json, now, to_json};

/// A stored text that is not one of the values the type knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownValue {
    what: &'static str,
    value: String,
}

/// What started an operation. The wire strings (`as_str`, serde) are those Argo CD users and
/// `bosun app history` read, and the ones stored in `operations.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    /// Asked for through the API or the CLI.
    Sync,
    /// Automation syncing a new desired state (revision or spec).
    AutoSync,
    /// Automation putting back drift at a desired state it already synced.
    SelfHeal,
    /// A return to the revisions of an earlier history entry.
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

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OperationKind {
    type Err = UnknownValue;

    fn from_str(text: &str) -> std::result::Result<Self, UnknownValue> {
        Ok(match text {
            "sync" => OperationKind::Sync,
            "auto-sync" => OperationKind::AutoSync,
            "self-heal" => OperationKind::SelfHeal,
            "rollback" => OperationKind::Rollback,
            _ => {
                return Err(UnknownValue {
                    what: "operation kind",
                    value: text.into(),
                });
            }
        })
    }
}

/// Where an operation ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Running,
    Succeeded,
    /// The sync ran and something in it failed (a hook, a write, health within the timeout).
    Failed,
    /// The sync could not start or stopped with an error (render, cluster unreachable).
    Error,
    /// bosun stopped while the operation ran; found at the next start.
    Interrupted,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::Error => "Error",
            Phase::Interrupted => "Interrupted",
        }
    }
}

impl FromStr for Phase {
    type Err = UnknownValue;

    /// Unknown text is an error, not a default: a phase bosun cannot read must not pass for a
    /// finished operation (a rollback target is chosen by phase).
    fn from_str(text: &str) -> std::result::Result<Self, UnknownValue> {
        Ok(match text {
            "Running" => Phase::Running,
            "Succeeded" => Phase::Succeeded,
            "Failed" => Phase::Failed,
            "Error" => Phase::Error,
            "Interrupted" => Phase::Interrupted,
            _ => {
                return Err(UnknownValue {
                    what: "phase",
                    value: text.into(),
                });
            }
        })
    }
}

/// What one resource's write came to, as the history shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRecord {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `created`, `configured`, `pruned`, ...
    pub action: String,
    pub message: String,
}

/// How far a running operation got: the step it was at (a sync phase and wave; everything
/// before it is done) and what its resources came to so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// `PreSync`, `Sync` or `PostSync`.
    pub phase: String,
    pub wave: i64,
    pub resources: Vec<ResourceRecord>,
}

/// One object a sync was limited to (Argo CD's sync `resources`); an operation without any
/// synced them all.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SelectedResource {
    pub group: String,
    pub kind: String,
    /// Empty for a cluster-scoped object.
    #[serde(default)]
    pub namespace: String,
    pub name: String,
}

/// An operation as it starts.
#[derive(Clone, Debug)]
pub struct NewOperation {
    pub app: String,
    pub kind: OperationKind,
    /// The user name of the API token, or `automated`.
    pub initiated_by: String,
    /// The commits being synced (one per source), when known before the sync.
    pub revisions: Vec<String>,
    pub prune: bool,
    pub dry_run: bool,
    /// For a rollback: the history id it returns to.
    pub rollback_of: Option<i64>,
    /// A digest of the Application's spec as it was synced: with the revisions, what auto-sync
    /// has already tried (a changed spec at the same commit is new desired state too).
    pub spec_digest: String,
    /// The objects a partial sync is limited to; empty: all of them.
    pub selected: Vec<SelectedResource>,
}

/// An operation, running or finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub id: i64,
    pub app: String,
    pub kind: OperationKind,
    pub initiated_by: String,
    pub revisions: Vec<String>,
    pub prune: bool,
    pub dry_run: bool,
    pub rollback_of: Option<i64>,
    pub spec_digest: String,
    /// The objects a partial sync was limited to; empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selected: Vec<SelectedResource>,
    pub phase: Phase,
    pub message: String,
    pub resources: Vec<ResourceRecord>,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// While it runs: the step it reached (what a restart resumes from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// Text column `index` (named `column`) parsed as `T`; a value this build does not know is a
/// conversion error naming the column and the value.
fn parsed<T: FromStr<Err = UnknownValue>>(
    row: &Row,
    index: usize,
    column: &str,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    text.parse().map_err(|e: UnknownValue| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("operations.{column}: {e}").into(),
        )
    })
}

impl Store {
    /// Records an operation as `Running` and returns its id. Call before acting.
    pub fn begin(&self, op: &NewOperation) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO operations (app, kind, initiated_by, revisions, prune, dry_run, rollback_of, spec_digest, phase, started_at, selected)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'Running', ?9, ?10)",
            params![
                op.app,
                op.kind.as_str(),
                op.initiated_by,
                to_json(&op.revisions),
                op.prune,
                op.dry_run,
                op.rollback_of,
                op.spec_digest,
                now(),
                to_json(&op.selected)
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Ends operation `id`.
    pub fn finish(
        &self,
        id: i64,
        phase: Phase,
        message: &str,
        revisions: &[String],
        resources: &[ResourceRecord],
    ) -> Result<()> {
        let conn = self.conn();
        let started: String = conn.query_row(
            "SELECT started_at FROM operations WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let finished = jiff::Timestamp::now();
        // The whole length in milliseconds: a span's `get_milliseconds` is only its millisecond
        // component (10.3 s read as 300 ms).
        let duration_ms = started
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|s| finished.as_millisecond() - s.as_millisecond());
        conn.execute(
            "UPDATE operations SET phase = ?2, message = ?3, revisions = ?4, resources = ?5,
             finished_at = ?6, duration_ms = ?7, progress = NULL WHERE id = ?1",
            params![
                id,
                phase.as_str(),
                message,
                to_json(&revisions),
                to_json(&resources),
                finished.to_string(),
                duration_ms
            ],
        )?;
        Ok(())
    }

    /// Records where running operation `id` got to. Called before the step it names starts.
    pub fn record_progress(&self, id: i64, progress: &Progress) -> Result<()> {
        self.conn().execute(
            "UPDATE operations SET progress = ?2 WHERE id = ?1 AND phase = 'Running'",
            params![id, to_json(progress)],
        )?;
        Ok(())
    }

    /// The operations a previous run left `Running` (with their progress), oldest first: called
    /// once at start, when nothing can be running yet, to resume them.
    pub fn running(&self) -> Result<Vec<Operation>> {
        self.query("WHERE phase = 'Running' ORDER BY id", params![])
    }

    /// Marks running operation `id` `Interrupted` (it cannot be resumed), saying why.
    pub fn interrupt(&self, id: i64, message: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE operations SET phase = 'Interrupted', finished_at = ?2, message = ?3
             WHERE id = ?1 AND phase = 'Running'",
            params![id, now(), message],
        )?;
        Ok(())
    }

    fn query(&self, clause: &str, args: impl rusqlite::Params) -> Result<Vec<Operation>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT id, app, kind, initiated_by, revisions, prune, dry_run, rollback_of, phase,
                    message, resources, started_at, finished_at, duration_ms, spec_digest,
                    progress, selected
             FROM operations {clause}"
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok(Operation {
                id: r.get(0)?,
                app: r.get(1)?,
                kind: parsed(r, 2, "kind")?,
                initiated_by: r.get(3)?,
                revisions: from_json(&r.get::<_, String>(4)?),
                prune: r.get(5)?,
                dry_run: r.get(6)?,
                rollback_of: r.get(7)?,
                phase: parsed(r, 8, "phase")?,
                message: r.get(9)?,
                resources: from_json(&r.get::<_, String>(10)?),
                started_at: r.get(11)?,
                finished_at: r.get(12)?,
                duration_ms: r.get(13)?,
                spec_digest: r.get(14)?,
                progress: r
                    .get::<_, Option<String>>(15)?
                    .and_then(|p| serde_json::from_str(&p).ok()),
                selected: from_json(&r.get::<_, String>(16)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The operations of `app`, newest first.
    pub fn history(&self, app: &str) -> Result<Vec<Operation>> {
        self.query("WHERE app = ?1 ORDER BY id DESC", params![app])
    }

    /// Operation `id` of `app`.
    pub fn operation(&self, app: &str, id: i64) -> Result<Option<Operation>> {
        Ok(self
            .query("WHERE app = ?1 AND id = ?2", params![app, id])?
            .pop())
    }

    /// The newest operation of `app` that is not a dry run.
    pub fn last_operation(&self, app: &str) -> Result<Option<Operation>> {
        Ok(self
            .query(
                "WHERE app = ?1 AND dry_run = 0 ORDER BY id DESC LIMIT 1",
                params![app],
            )?
            .pop())
    }

    /// The revisions and spec digest automation last tried to sync `app` to (successfully or
    /// not): auto-sync acts once per new desired state, as Argo CD does.
    pub fn last_automated(&self, app: &str) -> Result<Option<(Vec<String>, String)>> {
        Ok(self
            .query(
                "WHERE app = ?1 AND dry_run = 0 AND kind = ?2 AND phase != 'Interrupted'
                 ORDER BY id DESC LIMIT 1",
                params![app, OperationKind::AutoSync.as_str()],
            )?
            .pop()
            .map(|op| (op.revisions, op.spec_digest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_op(app: &str, kind: OperationKind) -> NewOperation {
        NewOperation {
            app: app.into(),
            kind,
            initiated_by: "alice".into(),
            revisions: vec!["abc".into()],
            prune: true,
            dry_run: false,
            rollback_of: None,
            spec_digest: "d1".into(),
            selected: Vec::new(),
        }
    }

    #[test]
    fn operations_survive_reopening_with_their_progress() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let done = store.begin(&new_op("web", OperationKind::Sync)).unwrap();
        let resources = vec![ResourceRecord {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: "dev".into(),
            name: "web".into(),
            action: "created".into(),
            message: String::new(),
        }];
        store
            .finish(
                done,
                Phase::Succeeded,
                "synced",
                &["def".into()],
                &resources,
            )
            .unwrap();
        let cut = store
            .begin(&new_op("web", OperationKind::AutoSync))
            .unwrap();
        let progress = Progress {
            phase: "Sync".into(),
            wave: 2,
            resources: resources.clone(),
        };
        store.record_progress(cut, &progress).unwrap();
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        let running = store.running().unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].id, cut);
        assert_eq!(running[0].progress.as_ref(), Some(&progress));
        // Not resumable (say, its Application is gone): interrupted, with why.
        store
            .interrupt(cut, "its Application is no longer managed")
            .unwrap();
        let history = store.history("web").unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].id, cut, "newest first");
        assert_eq!(history[0].phase, Phase::Interrupted);
        assert_eq!(history[0].kind, OperationKind::AutoSync);
        assert!(history[0].finished_at.is_some());
        assert_eq!(history[1].phase, Phase::Succeeded);
        assert_eq!(history[1].revisions, ["def"]);
        assert_eq!(history[1].resources, resources);
        assert!(history[1].duration_ms.is_some());
        assert_eq!(
            history[1].progress, None,
            "a finished operation has no progress"
        );
        assert!(store.running().unwrap().is_empty());
        // An interrupted auto-sync does not count as tried: the revision is synced again.
        assert_eq!(store.last_automated("web").unwrap(), None);
    }

    #[test]
    fn a_partial_sync_keeps_its_selection_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let selected = vec![SelectedResource {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: "dev".into(),
            name: "settings".into(),
        }];
        let (partial, whole) = {
            let store = Store::open(dir.path()).unwrap();
            let partial = store
                .begin(&NewOperation {
                    selected: selected.clone(),
                    ..new_op("web", OperationKind::Sync)
                })
                .unwrap();
            let whole = store.begin(&new_op("web", OperationKind::Sync)).unwrap();
            (partial, whole)
        };
        let store = Store::open(dir.path()).unwrap();
        // Still running: a restart resumes it with the same selection.
        let running = store.running().unwrap();
        assert_eq!(running[0].id, partial);
        assert_eq!(running[0].selected, selected);
        assert!(
            store
                .operation("web", whole)
                .unwrap()
                .unwrap()
                .selected
                .is_empty()
        );
    }

    #[test]
    fn last_automated_is_the_newest_auto_sync() {
        let store = Store::in_memory().unwrap();
        let a = store
            .begin(&new_op("web", OperationKind::AutoSync))
            .unwrap();
        store
            .finish(a, Phase::Failed, "hook failed", &["r1".into()], &[])
            .unwrap();
        let b = store.begin(&new_op("web", OperationKind::Sync)).unwrap();
        store
            .finish(b, Phase::Succeeded, "", &["r2".into()], &[])
            .unwrap();
        assert_eq!(
            store.last_automated("web").unwrap(),
            Some((vec!["r1".to_string()], "d1".to_string()))
        );
        assert_eq!(
            store.operation("web", b).unwrap().unwrap().revisions,
            ["r2"]
        );
        assert_eq!(store.operation("other", b).unwrap(), None);
    }

    #[test]
    fn a_duration_over_a_second_is_counted_whole() {
        let store = Store::in_memory().unwrap();
        let id = store.begin(&new_op("web", OperationKind::Sync)).unwrap();
        let started = jiff::Timestamp::now() - jiff::SignedDuration::from_millis(10_300);
        store
            .conn()
            .execute(
                "UPDATE operations SET started_at = ?2 WHERE id = ?1",
                params![id, started.to_string()],
            )
            .unwrap();
        store.finish(id, Phase::Succeeded, "", &[], &[]).unwrap();
        let ms = store.operation("web", id).unwrap().unwrap().duration_ms;
        let ms = ms.expect("a finished operation has a duration");
        assert!((10_300..15_000).contains(&ms), "{ms} ms");
    }

    #[test]
    fn kinds_and_phases_keep_their_wire_strings() {
        for kind in [
            OperationKind::Sync,
            OperationKind::AutoSync,
            OperationKind::SelfHeal,
            OperationKind::Rollback,
        ] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
            assert_eq!(kind.as_str().parse::<OperationKind>(), Ok(kind));
        }
        assert_eq!(OperationKind::AutoSync.as_str(), "auto-sync");
        assert_eq!(OperationKind::SelfHeal.as_str(), "self-heal");
        for phase in [
            Phase::Running,
            Phase::Succeeded,
            Phase::Failed,
            Phase::Error,
            Phase::Interrupted,
        ] {
            assert_eq!(
                serde_json::to_value(phase).unwrap(),
                serde_json::json!(phase.as_str())
            );
            assert_eq!(phase.as_str().parse::<Phase>(), Ok(phase));
        }
    }

    #[test]
    fn an_unknown_stored_phase_or_kind_is_an_error_naming_the_column() {
        let store = Store::in_memory().unwrap();
        let id = store.begin(&new_op("web", OperationKind::Sync)).unwrap();
        let set = |sql: &str| store.conn().execute(sql, [id]).unwrap();
        set("UPDATE operations SET phase = 'Paused' WHERE id = ?1");
        let e = store.history("web").unwrap_err().to_string();
        assert!(
            e.contains("operations.phase") && e.contains("`Paused`"),
            "{e}"
        );
        set("UPDATE operations SET phase = 'Running', kind = 'deploy' WHERE id = ?1");
        let e = store.history("web").unwrap_err().to_string();
        assert!(
            e.contains("operations.kind") && e.contains("`deploy`"),
            "{e}"
        );
    }
}
