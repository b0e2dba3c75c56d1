//! Image updates: every write-back commit bosun pushed for an Application's images, and every
//! check that failed, so `bosun image get` and the API can say what happened and when.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{Result, Store, from_json, now, to_json};

/// One image's change in a write-back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ImageChange {
    pub image: String,
    pub old_tag: String,
    pub new_tag: String,
}

/// What an image update did: `Committed` (pushed a commit), `Failed` (a check or a write-back
/// failed; `message` says why).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateRecord {
    pub id: i64,
    pub app: String,
    pub at: String,
    pub outcome: String,
    pub changes: Vec<ImageChange>,
    pub repository: String,
    pub branch: String,
    pub revision: String,
    pub message: String,
    /// How many pushes a `Committed` write-back took (0: not a push, or recorded before this
    /// was kept).
    #[serde(default)]
    pub attempts: u32,
}

impl Store {
    /// Records an image update; `id` and `at` are assigned here.
    pub fn record_image_update(&self, record: &ImageUpdateRecord) -> Result<i64> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO image_updates (app, at, outcome, changes, repository, branch, revision, message, attempts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                record.app,
                now(),
                record.outcome,
                to_json(&record.changes),
                record.repository,
                record.branch,
                record.revision,
                record.message,
                record.attempts
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The Application's image updates, newest first, at most `limit`.
    pub fn image_updates(&self, app: &str, limit: usize) -> Result<Vec<ImageUpdateRecord>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, app, at, outcome, changes, repository, branch, revision, message, attempts
             FROM image_updates WHERE app = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![app, limit as i64], |r| {
            Ok(ImageUpdateRecord {
                id: r.get(0)?,
                app: r.get(1)?,
                at: r.get(2)?,
                outcome: r.get(3)?,
                changes: from_json(&r.get::<_, String>(4)?),
                repository: r.get(5)?,
                branch: r.get(6)?,
                revision: r.get(7)?,
                message: r.get(8)?,
                attempts: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_listed_newest_first() {
        let store = Store::in_memory().unwrap();
        for (outcome, tag) in [
            ("Committed", "1.1.0"),
            ("Failed", ""),
            ("Committed", "1.2.0"),
        ] {
            store
                .record_image_update(&ImageUpdateRecord {
                    id: 0,
                    app: "api-dev".into(),
                    at: String::new(),
                    outcome: outcome.into(),
                    changes: vec![ImageChange {
                        image: "acme/api".into(),
                        old_tag: "1.0.0".into(),
                        new_tag: tag.into(),
                    }],
                    repository: "file:///r".into(),
                    branch: "main".into(),
                    revision: "abc".into(),
                    message: String::new(),
                    attempts: 1,
                })
                .unwrap();
        }
        let updates = store.image_updates("api-dev", 2).unwrap();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].changes[0].new_tag, "1.2.0");
        assert_eq!(updates[1].outcome, "Failed");
        assert_eq!(updates[0].attempts, 1);
        assert!(store.image_updates("other", 10).unwrap().is_empty());
    }
}
