//! Reading Application manifests from disk: a file (one or many YAML documents) or a directory of
//! them. The model parses and validates; this module only finds and reads the files.

use std::path::{Path, PathBuf};

use bosun_model::{Application, Manifests, ModelError, parse_manifests};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] ModelError),
    #[error("{path}: no Application manifests found")]
    Empty { path: PathBuf },
    #[error("no Application named {name:?} in {path} (found: {found})")]
    NoSuchApp {
        name: String,
        path: PathBuf,
        found: String,
    },
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Every `.yaml`, `.yml` and `.json` file under `dir`, recursively, in name order.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|error| LoadError::Read {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files.extend(manifest_files(&path)?);
        } else if is_manifest(&path) {
            files.push(path);
        }
    }
    Ok(files)
}

/// The Applications and `ImageUpdater` objects in `path` (a file or a directory); an error when
/// it holds no Application.
pub fn load_manifests(path: &Path) -> Result<Manifests, LoadError> {
    let files = if path.is_dir() {
        manifest_files(path)?
    } else {
        vec![path.to_path_buf()]
    };
    let mut manifests = Manifests::default();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|error| LoadError::Read {
            path: file.clone(),
            error,
        })?;
        let found = parse_manifests(&text, &file.display().to_string())?;
        manifests.applications.extend(found.applications);
        manifests.image_updaters.extend(found.image_updaters);
    }
    if manifests.applications.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(manifests)
}

/// The Applications in `path` (a file or a directory), optionally only the one named `name`.
pub fn load_applications(path: &Path, name: Option<&str>) -> Result<Vec<Application>, LoadError> {
    let apps = load_manifests(path)?.applications;
    if apps.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    match name {
        None => Ok(apps),
        Some(name) => {
            let found = apps
                .iter()
                .map(|a| a.metadata.name.clone())
                .collect::<Vec<_>>()
                .join(", ");
            let chosen: Vec<Application> = apps
                .into_iter()
                .filter(|a| a.metadata.name == name)
                .collect();
            if chosen.is_empty() {
                return Err(LoadError::NoSuchApp {
                    name: name.to_string(),
                    path: path.to_path_buf(),
                    found,
                });
            }
            Ok(chosen)
        }
    }
}
