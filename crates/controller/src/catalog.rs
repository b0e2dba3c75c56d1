//! Which Applications `bosun serve` manages: the manifests under the config's `applications`
//! entries — local files or directories, a directory in a Git repository (app-of-apps: a
//! commit there adds, changes and removes Applications), or Application objects in a namespace
//! of the management cluster (`crate::app_objects`). Image Updater's `ImageUpdater`s are read
//! from the same places.
//!
//! Loading is all or nothing per entry: one bad manifest keeps that entry's previous
//! Applications (an error, not a deletion), because a typo in Git must never look like "remove
//! every Application".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bosun_api::CatalogError;
use bosun_engine::load::load_manifests;
use bosun_engine::pipeline::Engine;
use bosun_model::image_updater::ImageUpdaterResource;
use bosun_model::{Application, ApplicationSourceConfig, Manifests};

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
    /// Every error, in entry order; a failing entry keeps what it had before.
    pub errors: Vec<CatalogError>,
    /// Applications whose own definition is wrong (an Application object that does not parse,
    /// a name another entry already defines), by name: their `InvalidSpecError` condition.
    /// A file of a path or Git entry that does not parse is not here: the entry fails as a
    /// whole, and which Application the broken document meant is not known.
    pub invalid: BTreeMap<String, String>,
    /// Image Updater's `ImageUpdater` objects found beside the Applications (in the files and
    /// Git folders of path and Git entries, and the objects of namespace entries), in entry
    /// order.
    pub image_updaters: Vec<ImageUpdaterResource>,
}

/// Loads every entry. `previous` supplies the Applications of entries that fail now; `listed`
/// holds what each namespace entry's watch sees (read by the caller, which owns the watches).
pub async fn load(
    engine: &Engine,
    sources: &[CatalogSource],
    previous: &BTreeMap<usize, Manifests>,
    mut listed: BTreeMap<usize, Result<Listed, String>>,
) -> (Loaded, BTreeMap<usize, Manifests>) {
    let mut loaded = Loaded::default();
    let mut by_entry = BTreeMap::new();
    for (i, source) in sources.iter().enumerate() {
        let result = match source {
            CatalogSource::Namespace(_) => match listed.remove(&i) {
                Some(Ok(listed)) => {
                    // One bad object keeps its previous version; the others load.
                    let mut apps = listed.apps;
                    for (name, error) in listed.errors {
                        loaded.errors.push(CatalogError {
                            source: source.describe(),
                            message: error.clone(),
                        });
                        loaded.invalid.insert(name.clone(), error);
                        let earlier = previous
                            .get(&i)
                            .and_then(|p| p.applications.iter().find(|a| a.metadata.name == name));
                        apps.extend(earlier.cloned());
                    }
                    // An ImageUpdater too: the error is the catalog's; its previous version
                    // goes on updating images.
                    let mut image_updaters = listed.image_updaters;
                    for (name, error) in listed.image_updater_errors {
                        loaded.errors.push(CatalogError {
                            source: source.describe(),
                            message: error,
                        });
                        let earlier = previous.get(&i).and_then(|p| {
                            p.image_updaters.iter().find(|u| u.metadata.name == name)
                        });
                        image_updaters.extend(earlier.cloned());
                    }
                    Ok(Manifests {
                        applications: apps,
                        image_updaters,
                    })
                }
                Some(Err(message)) => Err(message),
                None => Err("not watched".into()),
            },
            CatalogSource::Local(path) => load_manifests(path)
                .map_err(|e| after_prefix(e.to_string(), &format!("{}: ", path.display()))),
            CatalogSource::Git {
                repo_url,
                revision,
                path,
            } => match engine.checkout(repo_url, revision).await {
                Ok((_commit, dir)) => {
                    let dir = dir.join(path.trim_start_matches('/'));
                    match load_manifests(&dir) {
                        Ok(manifests) => Ok(manifests),
                        // An app-of-apps directory that became empty means no Applications.
                        Err(bosun_engine::load::LoadError::Empty { .. }) => {
                            Ok(Manifests::default())
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
                // The repository's own words, which begin with its URL (the entry names it).
                Err(bosun_engine::pipeline::EngineError::Source { repo, message, .. }) => {
                    Err(after_prefix(message, &format!("{repo}: ")))
                }
                Err(e) => Err(e.to_string()),
            },
        };
        let manifests = match result {
            Ok(manifests) => manifests,
            Err(message) => {
                loaded.errors.push(CatalogError {
                    source: source.describe(),
                    message,
                });
                previous.get(&i).cloned().unwrap_or_default()
            }
        };
        loaded
            .image_updaters
            .extend(manifests.image_updaters.iter().cloned());
        for app in &manifests.applications {
            if let Some(earlier) = loaded.apps.get(&app.metadata.name)
                && earlier != app
            {
                let message = format!(
                    "Application {} is defined twice; the first definition is used",
                    app.metadata.name
                );
                loaded.errors.push(CatalogError {
                    source: source.describe(),
                    message: message.clone(),
                });
                loaded.invalid.insert(
                    app.metadata.name.clone(),
                    format!("{message} (again in {})", source.describe()),
                );
                continue;
            }
            loaded.apps.insert(app.metadata.name.clone(), app.clone());
        }
        by_entry.insert(i, manifests);
    }
    (loaded, by_entry)
}

/// `message` without `prefix` (the entry's own name, which the error is printed after).
fn after_prefix(message: String, prefix: &str) -> String {
    match message.strip_prefix(prefix) {
        Some(rest) => rest.to_string(),
        None => message,
    }
}
