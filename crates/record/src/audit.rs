//! The audit log: who did what through the API (sync, rollback, refresh, refused calls).

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::{Result, Store, now};

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

impl Store {
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

    #[test]
    fn newest_first() {
        let store = Store::in_memory().unwrap();
        store
            .audit("ro", "sync-refused", "web", "role read-only")
            .unwrap();
        store.audit("alice", "sync", "web", "").unwrap();
        let log = store.audit_log(10).unwrap();
        assert_eq!(log[0].who, "alice");
        assert_eq!(log[1].action, "sync-refused");
        assert_eq!(store.audit_log(1).unwrap().len(), 1);
    }
}
