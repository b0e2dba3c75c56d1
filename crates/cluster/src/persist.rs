//! SQLite persistence for the store (`--data DIR`): one row per object plus the newest
//! resourceVersion, written before the change becomes visible.
//!
//! The database holds Secrets in clear (as etcd does), so its directory is the owner's only
//! (0700) and so are its files (0600), whatever the umask, and an older, readable data directory
//! is made private when opened.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            private(dir, 0o700)?;
        }
        // SQLite creates its -wal and -shm files with the database file's permissions, so the
        // database file is made private before SQLite first opens it.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        private(path, 0o600)?;
        for suffix in ["-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = Path::new(&file);
            if file.exists() {
                private(file, 0o600)?;
            }
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

/// Sets `path`'s permission bits to `mode` unless they are already that.
fn private(path: &Path, mode: u32) -> anyhow::Result<()> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if metadata.permissions().mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("making {} private", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Every entry of `dir` with its permission bits.
    fn modes(dir: &Path) -> Vec<(String, u32)> {
        let mut modes: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    mode(&path),
                )
            })
            .collect();
        modes.sort();
        modes
    }

    fn put_a_secret(db: &Database) {
        let secrets = GroupResource {
            group: String::new(),
            resource: "secrets".into(),
        };
        let secret = serde_json::json!({"kind": "Secret", "data": {"token": "c2VjcmV0"}});
        db.put(&secrets, "default", "db", &secret, 1).unwrap();
    }

    #[test]
    fn the_data_directory_and_its_files_are_the_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cluster");
        let db = Database::open(&dir.join("cluster.sqlite")).unwrap();
        put_a_secret(&db);
        assert_eq!(mode(&dir), 0o700);
        let files = modes(&dir);
        assert!(
            files.iter().any(|(name, _)| name == "cluster.sqlite-wal"),
            "{files:?}"
        );
        assert!(files.iter().all(|(_, mode)| *mode == 0o600), "{files:?}");
    }

    #[test]
    fn a_readable_data_directory_from_before_is_made_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cluster");
        drop(Database::open(&dir.join("cluster.sqlite")).unwrap());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for (name, _) in modes(&dir) {
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        let db = Database::open(&dir.join("cluster.sqlite")).unwrap();
        put_a_secret(&db);
        assert_eq!(mode(&dir), 0o700);
        let files = modes(&dir);
        assert!(files.iter().all(|(_, mode)| *mode == 0o600), "{files:?}");
    }
}
