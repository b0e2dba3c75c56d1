//! Which Applications `bosun serve` manages: the manifests under the config's `applications`
//! entries — local files or directories, a directory in a Git repository (app-of-apps: a
//! commit there adds, changes and removes Applications), or Application objects in a namespace
//! of the management cluster (`crate::app_objects`).
//!
//! Loading is all or nothing per entry: one bad manifest keeps that entry's previous
//! Applications (an error, not a deletion), because a typo in Git must never look like "remove
//! every Application".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bosun_engine::load::load_applications;
use bosun_engine::pipeline::Engine;
use bosun_model::{Application, ApplicationSourceConfig};

use crate::app_objects::Listed;

/// One entry of the config's `applications` list, resolved against the config's directory.
#[derive(Clone, Debug)]
pub enum CatalogSource {
    Local(PathBuf),
    Git {
        repo_url: String,
        revision: String,
        path: String,
    },
    /// Application objects in this namespace of the management cluster.
    Namespace(String),
}

impl CatalogSource {
    pub fn from_config(entry: &ApplicationSourceConfig, base: &Path) -> CatalogSource {
        if let Some(namespace) = &entry.namespace {
            return CatalogSource::Namespace(namespace.clone());
        }
        match &entry.repo_url {
            Some(url) => CatalogSource::Git {
                repo_url: url.clone(),
                revision: entry.target_revision.clone().unwrap_or_default(),
                path: entry.path.clone().unwrap_or_default(),
            },
            None => {
                let path = PathBuf::from(entry.path.as_deref().unwrap_or("."));
                CatalogSource::Local(if path.is_absolute() {
                    path
                } else {
                    base.join(path)
                })
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            CatalogSource::Local(path) => path.display().to_string(),
            CatalogSource::Namespace(namespace) => format!("namespace {namespace}"),
            CatalogSource::Git {
                repo_url,
                revision,
                path,
            } => format!(
                "{} {} {}",
                bosun_source::redact_url(repo_url),
                if revision.is_empty() {
                    "HEAD"
                } else {
                    revision
                },
                path
            ),
        }
    }

    /// Whether a push to `repo_url` can change this entry (webhooks reload the catalog).
    pub fn is_repo(&self, repo_url: &str) -> bool {
        matches!(self, CatalogSource::Git { repo_url: url, .. } if crate::repo_match::same_repo(url, repo_url))
    }
}

/// The Applications of one load, by name, and the errors of the entries that failed.
#[derive(Debug, Default)]
pub struct Loaded {
    pub apps: BTreeMap<String, Application>,
    /// Entry index → error; those entries keep what they had before.
    pub errors: BTreeMap<usize, String>,
}

/// Loads every entry. `previous` supplies the Applications of entries that fail now; `listed`
/// holds what each namespace entry's watch sees (read by the caller, which owns the watches).
pub async fn load(
    engine: &Engine,
    sources: &[CatalogSource],
    previous: &BTreeMap<usize, Vec<Application>>,
    mut listed: BTreeMap<usize, Result<Listed, String>>,
) -> (Loaded, BTreeMap<usize, Vec<Application>>) {
    let mut loaded = Loaded::default();
    let mut by_entry = BTreeMap::new();
    for (i, source) in sources.iter().enumerate() {
        let result = match source {
            CatalogSource::Namespace(_) => match listed.remove(&i) {
                Some(Ok(listed)) => {
                    // One bad object keeps its previous version; the others load.
                    let mut apps = listed.apps;
                    for (name, error) in listed.errors {
                        loaded.errors.insert(i, error);
                        let earlier = previous
                            .get(&i)
                            .and_then(|p| p.iter().find(|a| a.metadata.name == name));
                        apps.extend(earlier.cloned());
                    }
                    Ok(apps)
                }
                Some(Err(message)) => Err(message),
                None => Err("not watched".into()),
            },
            CatalogSource::Local(path) => load_applications(path, None).map_err(|e| e.to_string()),
            CatalogSource::Git {
                repo_url,
                revision,
                path,
            } => match engine.checkout(repo_url, revision).await {
                Ok((_commit, dir)) => {
                    let dir = dir.join(path.trim_start_matches('/'));
                    match load_applications(&dir, None) {
                        Ok(apps) => Ok(apps),
                        // An app-of-apps directory that became empty means no Applications.
                        Err(bosun_engine::load::LoadError::Empty { .. }) => Ok(Vec::new()),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e.to_string()),
            },
        };
        let apps = match result {
            Ok(apps) => apps,
            Err(message) => {
                loaded
                    .errors
                    .insert(i, format!("{}: {message}", source.describe()));
                previous.get(&i).cloned().unwrap_or_default()
            }
        };
        for app in &apps {
            if let Some(earlier) = loaded.apps.get(&app.metadata.name)
                && earlier != app
            {
                loaded.errors.insert(
                    i,
                    format!(
                        "{}: Application {} is defined twice; the first definition is used",
                        source.describe(),
                        app.metadata.name
                    ),
                );
                continue;
            }
            loaded.apps.insert(app.metadata.name.clone(), app.clone());
        }
        by_entry.insert(i, apps);
    }
    (loaded, by_entry)
}
