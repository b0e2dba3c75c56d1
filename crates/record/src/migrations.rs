//! The schema, as numbered steps recorded in SQLite's `user_version`.
//!
//! `rusqlite_migration` would do this bookkeeping, but no release of it is built against
//! rusqlite 0.41 (2.6.0, the newest, needs 0.40, and two rusqlite versions cannot both link the
//! bundled SQLite), so the steps are run here: each in its own transaction together with the
//! `user_version` it reaches, so a crash leaves the database at one step or the next.
//!
//! Builds before the numbered schema (up to commit 03add2d) left `user_version` at 0 with their
//! tables already there, some without `operations.spec_digest`. That is why steps 1 and 2, the
//! only ones a version-0 database can meet, are idempotent: step 1 creates only what is missing
//! and step 2 adds the column only when it is absent. Later steps need not be.

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// A failure to bring the schema up to date.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrationError {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error(
        "schema version {found} is newer than the {known} this bosun knows: the data directory \
         was written by a newer bosun"
    )]
    Newer { found: i64, known: i64 },
}

type Step = fn(&Transaction) -> rusqlite::Result<()>;

/// Step `n` (from 1) is `STEPS[n - 1]`; append only, never edit a released step.
const STEPS: &[Step] = &[
    first_schema,
    spec_digest,
    operation_progress,
    image_updates,
    selected_resources,
    image_update_attempts,
];

/// The schema version this build writes.
#[cfg(test)]
pub(crate) const LATEST: i64 = STEPS.len() as i64;

/// Step 1: the schema of the first `bosun serve` (commit 930b23d).
fn first_schema(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
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
",
    )
}

/// Step 2: the spec digest auto-sync compares with the revisions (commit ec86a59). Unversioned
/// databases from ec86a59 to 03add2d were created with the column already.
fn spec_digest(tx: &Transaction) -> rusqlite::Result<()> {
    let present: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('operations') WHERE name = 'spec_digest')",
        [],
        |r| r.get(0),
    )?;
    if !present {
        tx.execute_batch("ALTER TABLE operations ADD COLUMN spec_digest TEXT NOT NULL DEFAULT ''")?;
    }
    Ok(())
}

/// Step 3: where a running operation got to (JSON), so a restart resumes it there.
fn operation_progress(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("ALTER TABLE operations ADD COLUMN progress TEXT")
}

/// Step 4: image write-backs and failed image checks, per Application.
fn image_updates(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "
CREATE TABLE image_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    changes TEXT NOT NULL DEFAULT '[]',
    repository TEXT NOT NULL DEFAULT '',
    branch TEXT NOT NULL DEFAULT '',
    revision TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX image_updates_by_app ON image_updates (app, id);
",
    )
}

/// Step 5: the objects a partial sync was limited to (JSON; `[]`: all of them).
fn selected_resources(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("ALTER TABLE operations ADD COLUMN selected TEXT NOT NULL DEFAULT '[]'")
}

/// Step 6: how many pushes a write-back took (a rejected push is rebased and tried again).
fn image_update_attempts(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("ALTER TABLE image_updates ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
}

/// Runs the steps `conn` has not had yet. Refuses a database from a newer bosun rather than
/// reading columns it does not know the meaning of.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), MigrationError> {
    let known = STEPS.len() as i64;
    loop {
        // IMMEDIATE: a second process opening the same directory waits instead of running the
        // same step at the same time.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > known {
            return Err(MigrationError::Newer {
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        STEPS[version as usize](&tx)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_database_gets_every_step_and_a_second_run_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), STEPS.len() as i64);
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), STEPS.len() as i64);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        let e = migrate(&mut conn).unwrap_err();
        assert!(matches!(e, MigrationError::Newer { found: 99, .. }), "{e}");
    }
}
