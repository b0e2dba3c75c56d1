//! Rollback pins: a rollback of an automatically synced Application holds it at the
//! rolled-back revision until Git moves past the revision that was rolled back from.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, Store, from_json, to_json};

/// A rollback pin: auto-sync holds `app` at `revisions` while Git's head is still `from_head`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pin {
    pub revisions: Vec<String>,
    pub from_head: Vec<String>,
    pub operation: i64,
}

impl Store {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replace_and_clear() {
        let store = Store::in_memory().unwrap();
        assert_eq!(store.pin("web").unwrap(), None);
        let pin = Pin {
            revisions: vec!["old".into()],
            from_head: vec!["bad".into()],
            operation: 3,
        };
        store.set_pin("web", &pin).unwrap();
        assert_eq!(store.pin("web").unwrap(), Some(pin.clone()));
        let moved = Pin {
            operation: 4,
            ..pin
        };
        store.set_pin("web", &moved).unwrap();
        assert_eq!(store.pin("web").unwrap(), Some(moved));
        store.clear_pin("web").unwrap();
        assert_eq!(store.pin("web").unwrap(), None);
    }
}
