//! Record: what bosun must remember across a restart, in one embedded SQLite database.
//!
//! - **Operations** (syncs and rollbacks): written as `Running` *before* the first write to a
//!   cluster and finished afterwards, so a `kill -9` in between leaves a `Running` row that the
//!   next start resumes from the step it recorded ([`Store::running`], [`Store::record_progress`]) instead of losing it.
//!   Finished operations are the Application's history (`bosun app history`).
//! - **Pins**: a rollback of an automatically synced Application holds it at the rolled-back
//!   revision until Git moves past the revision that was rolled back from (see `docs/serve.md`).
//! - **Audit**: who did what through the API (sync, rollback, refresh, refused calls).
//! - **Image updates**: the write-back commits pushed for an Application's images, and failed
//!   checks.
//!
//! Only names, revisions, actions and messages are stored — never object bodies — so no Secret
//! value can reach the store. The schema is versioned (`migrations`): a data directory written
//! by an older bosun opens with its history kept.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

mod audit;
mod image_updates;
mod migrations;
mod operations;
mod pins;

pub use audit::AuditEntry;
pub use image_updates::{ImageChange, ImageUpdateRecord};
pub use operations::{
    NewOperation, Operation, OperationKind, Phase, Progress, ResourceRecord, SelectedResource,
    UnknownValue,
};
pub use pins::Pin;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    /// The message ends in SQLite's, so it is not also a `source()`.
    #[error("store: {0}")]
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sql(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

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
    /// Opens (creating if needed) `dir/bosun.db` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Store> {
        let path = dir.join("bosun.db");
        let open_error = |e: &dyn std::fmt::Display| Error::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| open_error(&e))?;
        let mut conn = Connection::open(&path).map_err(|e| open_error(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_error(&e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| open_error(&e))?;
        migrations::migrate(&mut conn).map_err(|e| open_error(&e))?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// A store that lives as long as the process (`bosun serve` without `--data`).
    pub fn in_memory() -> Result<Store> {
        let mut conn = Connection::open_in_memory()?;
        migrations::migrate(&mut conn).map_err(|e| Error::Open {
            path: ":memory:".into(),
            message: e.to_string(),
        })?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (each call is one
        // statement or transaction), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    //! Data directories written before the schema was versioned (`user_version` 0) open with
    //! their rows kept. The fixtures are the `SCHEMA` constants of those builds, verbatim.

    use super::*;

    /// `SCHEMA` at commit 03add2d (with `spec_digest`, from ec86a59 on).
    const SCHEMA_03ADD2D: &str = "
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

    /// `SCHEMA` before commit ec86a59 (the first `bosun serve`, 930b23d): no `spec_digest`.
    const SCHEMA_BEFORE_EC86A59: &str = "
CREATE TABLE IF NOT EXISTS operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    initiated_by TEXT NOT NULL,
    revisions TEXT NOT NULL,
    prune INTEGER NOT NULL,
    dry_run INTEGER NOT NULL,
    rollback_of INTEGER,
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

    /// Writes `dir/bosun.db` as an old build would have: its schema, `user_version` left at 0,
    /// then a succeeded sync, a failed auto-sync, a rollback pin and an audit entry.
    fn old_database(dir: &Path, schema: &str, with_spec_digest: bool) {
        let conn = Connection::open(dir.join("bosun.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(schema).unwrap();
        let (columns, digest) = if with_spec_digest {
            (", spec_digest", ", 'd-old'")
        } else {
            ("", "")
        };
        conn.execute_batch(&format!(
            "INSERT INTO operations (app, kind, initiated_by, revisions, prune, dry_run, rollback_of,
                 phase, message, resources, started_at, finished_at, duration_ms{columns})
             VALUES ('web', 'sync', 'alice', '[\"r1\"]', 1, 0, NULL, 'Succeeded', 'synced',
                 '[{{\"group\":\"apps\",\"kind\":\"Deployment\",\"namespace\":\"dev\",\"name\":\"web\",\"action\":\"created\",\"message\":\"\"}}]',
                 '2026-12-01T10:00:00Z', '2026-12-01T10:00:12.5Z', 12500{digest});
             INSERT INTO operations (app, kind, initiated_by, revisions, prune, dry_run, rollback_of,
                 phase, started_at{columns})
             VALUES ('web', 'auto-sync', 'automated', '[\"r2\"]', 1, 0, NULL, 'Failed',
                 '2026-12-01T11:00:00Z'{digest});
             INSERT INTO pins (app, revisions, from_head, operation) VALUES ('web', '[\"r1\"]', '[\"r2\"]', 1);
             INSERT INTO audit (at, who, action, app, detail)
             VALUES ('2026-12-01T10:00:00Z', 'alice', 'sync', 'web', '');"
        ))
        .unwrap();
    }

    /// What every old fixture must still read as once opened by this build.
    fn assert_history_kept(store: &Store, digest: &str) {
        let history = store.history("web").unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].kind, OperationKind::AutoSync);
        assert_eq!(history[0].phase, Phase::Failed);
        assert_eq!(history[0].revisions, ["r2"]);
        assert_eq!(history[1].kind, OperationKind::Sync);
        assert_eq!(history[1].phase, Phase::Succeeded);
        assert_eq!(history[1].message, "synced");
        assert_eq!(history[1].resources[0].name, "web");
        assert_eq!(history[1].duration_ms, Some(12_500));
        assert_eq!(history[1].spec_digest, digest);
        assert_eq!(
            store.last_automated("web").unwrap(),
            Some((vec!["r2".to_string()], digest.to_string()))
        );
        assert_eq!(
            store.pin("web").unwrap(),
            Some(Pin {
                revisions: vec!["r1".into()],
                from_head: vec!["r2".into()],
                operation: 1,
            })
        );
        assert_eq!(store.audit_log(10).unwrap()[0].who, "alice");
        // New rows go on after the old ones, with every column the current schema has.
        let id = store
            .begin(&NewOperation {
                app: "web".into(),
                kind: OperationKind::SelfHeal,
                initiated_by: "automated".into(),
                revisions: vec!["r2".into()],
                prune: false,
                dry_run: false,
                rollback_of: None,
                spec_digest: "d-new".into(),
                selected: Vec::new(),
            })
            .unwrap();
        assert_eq!(id, 3);
        assert_eq!(
            store.operation("web", id).unwrap().unwrap().spec_digest,
            "d-new"
        );
    }

    fn user_version(dir: &Path) -> i64 {
        Connection::open(dir.join("bosun.db"))
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_database_of_commit_03add2d_opens_with_its_history() {
        let dir = tempfile::tempdir().unwrap();
        old_database(dir.path(), SCHEMA_03ADD2D, true);
        assert_eq!(user_version(dir.path()), 0);
        let store = Store::open(dir.path()).unwrap();
        assert_history_kept(&store, "d-old");
        drop(store);
        assert_eq!(user_version(dir.path()), migrations::LATEST);
        assert_history_kept_after_reopen(dir.path());
    }

    #[test]
    fn a_database_from_before_the_spec_digest_opens_with_its_history() {
        let dir = tempfile::tempdir().unwrap();
        old_database(dir.path(), SCHEMA_BEFORE_EC86A59, false);
        let store = Store::open(dir.path()).unwrap();
        // Rows from before the column have the empty digest: auto-sync sees a new desired
        // state once, as the build that added the column did.
        assert_history_kept(&store, "");
        drop(store);
        assert_eq!(user_version(dir.path()), migrations::LATEST);
        assert_history_kept_after_reopen(dir.path());
    }

    /// A versioned database opens again without running a step twice.
    fn assert_history_kept_after_reopen(dir: &Path) {
        let store = Store::open(dir).unwrap();
        assert_eq!(store.history("web").unwrap().len(), 3);
    }

    #[test]
    fn a_database_from_a_newer_bosun_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        Connection::open(dir.path().join("bosun.db"))
            .unwrap()
            .pragma_update(None, "user_version", migrations::LATEST + 1)
            .unwrap();
        let e = Store::open(dir.path()).err().expect("refused").to_string();
        assert!(e.contains("newer bosun"), "{e}");
    }
}
