//! SQLite persistence for the store (`--data DIR`): one row per object plus the newest
//! resourceVersion, written before the change becomes visible.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::resources::GroupResource;

pub struct Database {
    conn: Mutex<Connection>,
}

type Row = (GroupResource, String, String, Value);

impl Database {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS objects (
                 grp TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (grp, resource, namespace, name));
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )
        .with_context(|| format!("initialising {}", path.display()))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The stored resourceVersion and every object.
    pub fn load(&self) -> anyhow::Result<(u64, Vec<Row>)> {
        let conn = self.conn.lock().expect("db lock");
        let rv: u64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'rv'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| v as u64)
            .unwrap_or(0);
        let mut stmt = conn.prepare("SELECT grp, resource, namespace, name, body FROM objects")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .map(|row| {
                let (g, res, ns, name, body) = row?;
                let object: Value = serde_json::from_str(&body)
                    .with_context(|| format!("stored object {res}.{g} {ns}/{name} is not JSON"))?;
                Ok((
                    GroupResource {
                        group: g,
                        resource: res,
                    },
                    ns,
                    name,
                    object,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok((rv, rows))
    }

    pub fn put(
        &self,
        gr: &GroupResource,
        ns: &str,
        name: &str,
        object: &Value,
        rv: u64,
    ) -> rusqlite::Result<()> {
        let conn = self.conn.lock().expect("db lock");
        let tx = conn.unchecked_transaction()?;
        tx.execute(
            "INSERT INTO objects (grp, resource, namespace, name, body) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (grp, resource, namespace, name) DO UPDATE SET body = excluded.body",
            params![gr.group, gr.resource, ns, name, object.to_string()],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?1)",
            params![rv as i64],
        )?;
        tx.commit()
    }

    pub fn delete(
        &self,
        gr: &GroupResource,
        ns: &str,
        name: &str,
        rv: u64,
    ) -> rusqlite::Result<()> {
        let conn = self.conn.lock().expect("db lock");
        let tx = conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM objects WHERE grp = ?1 AND resource = ?2 AND namespace = ?3 AND name = ?4",
            params![gr.group, gr.resource, ns, name],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('rv', ?1)",
            params![rv as i64],
        )?;
        tx.commit()
    }
}
