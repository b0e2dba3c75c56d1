//! Record: what bosun must remember across a restart, in one embedded SQLite database.
//!
//! - **Operations** (syncs and rollbacks): written as `Running` *before* the first write to a
//!   cluster and finished afterwards, so a `kill -9` in between leaves a `Running` row that the
//!   next start reports as `Interrupted` ([`Store::interrupt_running`]) instead of losing it.
//!   Finished operations are the Application's history (`bosun app history`).
//! - **Pins**: a rollback of an automatically synced Application holds it at the rolled-back
//!   revision until Git moves past the revision that was rolled back from (see `docs/serve.md`).
//! - **Audit**: who did what through the API (sync, rollback, refresh, refused calls).
//!
//! Only names, revisions, actions and messages are stored — never object bodies — so no Secret
//! value can reach the store.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

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

    fn parse(text: &str) -> Phase {
        match text {
            "Running" => Phase::Running,
            "Succeeded" => Phase::Succeeded,
            "Failed" => Phase::Failed,
            "Error" => Phase::Error,
            _ => Phase::Interrupted,
        }
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

/// An operation as it starts.
#[derive(Clone, Debug)]
pub struct NewOperation {
    pub app: String,
    /// `sync`, `auto-sync`, `self-heal` or `rollback`.
    pub kind: String,
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
}

/// An operation, running or finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub id: i64,
    pub app: String,
    pub kind: String,
    pub initiated_by: String,
    pub revisions: Vec<String>,
    pub prune: bool,
    pub dry_run: bool,
    pub rollback_of: Option<i64>,
    pub spec_digest: String,
    pub phase: Phase,
    pub message: String,
    pub resources: Vec<ResourceRecord>,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

/// A rollback pin: auto-sync holds `app` at `revisions` while Git's head is still `from_head`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    pub revisions: Vec<String>,
    pub from_head: Vec<String>,
    pub operation: i64,
}

/// One audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub at: String,
    pub who: String,
    pub action: String,
    pub app: String,
    pub detail: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    initiated_by TEXT NOT NULL,
    revisions TEXT NOT NULL,
    prune INTEGER NOT NULL,
    dry_run INTEGER NOT NULL,
    rollback_of INTEGER,
    spec_digest TEXT NOT NULL DEFAULT '',
    phase TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    resources TEXT NOT NULL DEFAULT '[]',
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_ms INTEGER
);
CREATE INDEX IF NOT EXISTS operations_by_app ON operations (app, id);
CREATE TABLE IF NOT EXISTS pins (
    app TEXT PRIMARY KEY,
    revisions TEXT NOT NULL,
    from_head TEXT NOT NULL,
    operation INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    app TEXT NOT NULL,
    detail TEXT NOT NULL
);
";

/// The store. Calls are short and serialised by one connection; SQLite in WAL mode with
/// `synchronous=FULL` makes every finished call durable, which is the point of writing an
/// operation down before acting on it.
pub struct Store {
    conn: Mutex<Connection>,
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

fn from_json<T: for<'de> Deserialize<'de> + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) `dir/bosun.db`.
    pub fn open(dir: &Path) -> Result<Store> {
        let path = dir.join("bosun.db");
        let open_error = |e: &dyn std::fmt::Display| Error::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| open_error(&e))?;
        let conn = Connection::open(&path).map_err(|e| open_error(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_error(&e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| open_error(&e))?;
        conn.execute_batch(SCHEMA).map_err(|e| open_error(&e))?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// A store that lives as long as the process (`bosun serve` without `--data`).
    pub fn in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (each call is one
        // statement or transaction), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an operation as `Running` and returns its id. Call before acting.
    pub fn begin(&self, op: &NewOperation) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO operations (app, kind, initiated_by, revisions, prune, dry_run, rollback_of, spec_digest, phase, started_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'Running', ?9)",
            params![
                op.app,
                op.kind,
                op.initiated_by,
                to_json(&op.revisions),
                op.prune,
                op.dry_run,
                op.rollback_of,
                op.spec_digest,
                now()
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
        let duration_ms = started
            .parse::<jiff::Timestamp>()
            .ok()
            .map(|s| (finished - s).get_milliseconds());
        conn.execute(
            "UPDATE operations SET phase = ?2, message = ?3, revisions = ?4, resources = ?5,
             finished_at = ?6, duration_ms = ?7 WHERE id = ?1",
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

    /// Marks every `Running` operation `Interrupted` and returns them: called once at start,
    /// when nothing can be running yet.
    pub fn interrupt_running(&self) -> Result<Vec<Operation>> {
        let running = self.query("WHERE phase = 'Running' ORDER BY id", params![])?;
        let conn = self.conn();
        let at = now();
        for op in &running {
            conn.execute(
                "UPDATE operations SET phase = 'Interrupted', finished_at = ?2,
                 message = 'bosun stopped while this operation ran; the next reconcile compares again and resumes it'
                 WHERE id = ?1",
                params![op.id, at],
            )?;
        }
        drop(conn);
        Ok(running
            .into_iter()
            .map(|mut op| {
                op.phase = Phase::Interrupted;
                op
            })
            .collect())
    }

    fn query(&self, clause: &str, args: impl rusqlite::Params) -> Result<Vec<Operation>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT id, app, kind, initiated_by, revisions, prune, dry_run, rollback_of, phase,
                    message, resources, started_at, finished_at, duration_ms, spec_digest
             FROM operations {clause}"
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok(Operation {
                id: r.get(0)?,
                app: r.get(1)?,
                kind: r.get(2)?,
                initiated_by: r.get(3)?,
                revisions: from_json(&r.get::<_, String>(4)?),
                prune: r.get(5)?,
                dry_run: r.get(6)?,
                rollback_of: r.get(7)?,
                phase: Phase::parse(&r.get::<_, String>(8)?),
                message: r.get(9)?,
                resources: from_json(&r.get::<_, String>(10)?),
                started_at: r.get(11)?,
                finished_at: r.get(12)?,
                duration_ms: r.get(13)?,
                spec_digest: r.get(14)?,
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
                "WHERE app = ?1 AND dry_run = 0 AND kind = 'auto-sync' AND phase != 'Interrupted'
                 ORDER BY id DESC LIMIT 1",
                params![app],
            )?
            .pop()
            .map(|op| (op.revisions, op.spec_digest)))
    }

    pub fn pin(&self, app: &str) -> Result<Option<Pin>> {
        let conn = self.conn();
        conn.query_row(
            "SELECT revisions, from_head, operation FROM pins WHERE app = ?1",
            [app],
            |r| {
                Ok(Pin {
                    revisions: from_json(&r.get::<_, String>(0)?),
                    from_head: from_json(&r.get::<_, String>(1)?),
                    operation: r.get(2)?,
                })
            },
        )
        .optional()
        .map_err(Error::from)
    }

    pub fn set_pin(&self, app: &str, pin: &Pin) -> Result<()> {
        self.conn().execute(
            "INSERT INTO pins (app, revisions, from_head, operation) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (app) DO UPDATE SET revisions = ?2, from_head = ?3, operation = ?4",
            params![
                app,
                to_json(&pin.revisions),
                to_json(&pin.from_head),
                pin.operation
            ],
        )?;
        Ok(())
    }

    pub fn clear_pin(&self, app: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM pins WHERE app = ?1", [app])?;
        Ok(())
    }

    pub fn audit(&self, who: &str, action: &str, app: &str, detail: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO audit (at, who, action, app, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now(), who, action, app, detail],
        )?;
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT at, who, action, app, detail FROM audit ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                who: r.get(1)?,
                action: r.get(2)?,
                app: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_op(app: &str, kind: &str) -> NewOperation {
        NewOperation {
            app: app.into(),
            kind: kind.into(),
            initiated_by: "alice".into(),
            revisions: vec!["abc".into()],
            prune: true,
            dry_run: false,
            rollback_of: None,
            spec_digest: "d1".into(),
        }
    }

    #[test]
    fn operations_survive_reopening_and_running_ones_become_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let done = store.begin(&new_op("web", "sync")).unwrap();
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
        let cut = store.begin(&new_op("web", "auto-sync")).unwrap();
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        let interrupted = store.interrupt_running().unwrap();
        assert_eq!(interrupted.len(), 1);
        assert_eq!(interrupted[0].id, cut);
        let history = store.history("web").unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].id, cut, "newest first");
        assert_eq!(history[0].phase, Phase::Interrupted);
        assert!(history[0].finished_at.is_some());
        assert_eq!(history[1].phase, Phase::Succeeded);
        assert_eq!(history[1].revisions, ["def"]);
        assert_eq!(history[1].resources, resources);
        assert!(history[1].duration_ms.is_some());
        assert!(store.interrupt_running().unwrap().is_empty());
        // An interrupted auto-sync does not count as tried: the revision is synced again.
        assert_eq!(store.last_automated("web").unwrap(), None);
    }

    #[test]
    fn pins_and_audit() {
        let store = Store::in_memory().unwrap();
        assert_eq!(store.pin("web").unwrap(), None);
        let pin = Pin {
            revisions: vec!["old".into()],
            from_head: vec!["bad".into()],
            operation: 3,
        };
        store.set_pin("web", &pin).unwrap();
        assert_eq!(store.pin("web").unwrap(), Some(pin));
        store.clear_pin("web").unwrap();
        assert_eq!(store.pin("web").unwrap(), None);
        store
            .audit("ro", "sync-refused", "web", "role read-only")
            .unwrap();
        store.audit("alice", "sync", "web", "").unwrap();
        let log = store.audit_log(10).unwrap();
        assert_eq!(log[0].who, "alice");
        assert_eq!(log[1].action, "sync-refused");
    }

    #[test]
    fn last_automated_is_the_newest_auto_sync() {
        let store = Store::in_memory().unwrap();
        let a = store.begin(&new_op("web", "auto-sync")).unwrap();
        store
            .finish(a, Phase::Failed, "hook failed", &["r1".into()], &[])
            .unwrap();
        let b = store.begin(&new_op("web", "sync")).unwrap();
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
}
