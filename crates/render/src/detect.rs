//! Where an Application's manifests are and what kind of source they are, decided as Argo CD's
//! repo server decides it, and the checks that keep every read inside the checkout.

use std::path::{Component, Path, PathBuf};

use bosun_model::ApplicationSource;

use crate::error::RenderError;

/// How a source is turned into objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RenderKind {
    Directory,
    Kustomize,
    Helm,
    /// A config management plugin (`source.plugin`).
    Plugin,
}

/// The file names `kustomize build` accepts as a kustomization root, in its order of preference.
pub(crate) const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Resolves `source.path` against the checkout root. The path must exist and, after following
/// symlinks, stay inside the checkout: a repository must not be able to make bosun read the
/// host's files.
pub(crate) fn app_dir(checkout_root: &Path, path: &str) -> Result<PathBuf, RenderError> {
    let relative = Path::new(path);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
    {
        return Err(RenderError::PathEscapesCheckout {
            path: path.to_string(),
        });
    }
    let root = canonical_root(checkout_root)?;
    let joined = root.join(relative);
    let resolved = match joined.canonicalize() {
        Ok(resolved) => resolved,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            // A `..` escape that lands on a missing path is still an escape, and says so.
            if escapes_lexically(relative) {
                return Err(RenderError::PathEscapesCheckout {
                    path: path.to_string(),
                });
            }
            return Err(RenderError::PathMissing {
                path: path.to_string(),
            });
        }
        Err(err) => {
            return Err(RenderError::io(
                format!("resolving source path {path:?}"),
                err,
            ));
        }
    };
    if !resolved.starts_with(&root) {
        return Err(RenderError::PathEscapesCheckout {
            path: path.to_string(),
        });
    }
    if !resolved.is_dir() {
        return Err(RenderError::PathMissing {
            path: path.to_string(),
        });
    }
    Ok(resolved)
}

pub(crate) fn canonical_root(checkout_root: &Path) -> Result<PathBuf, RenderError> {
    checkout_root.canonicalize().map_err(|err| {
        RenderError::io(format!("reading checkout {}", checkout_root.display()), err)
    })
}

/// Whether `..` components climb above the start of a relative path.
fn escapes_lexically(relative: &Path) -> bool {
    let mut depth = 0i64;
    for component in relative.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// Argo CD's rule: an explicit `helm`, `kustomize` or `directory` block decides (more than one is
/// an error); otherwise `Chart.yaml` in the directory means Helm and a kustomization file means
/// Kustomize. When both files are present Argo's discovery walk sees the kustomization last and
/// Kustomize wins; so it does here.
pub(crate) fn render_kind(
    source: &ApplicationSource,
    dir: &Path,
) -> Result<RenderKind, RenderError> {
    let explicit: Vec<(RenderKind, &str)> = [
        (
            source.kustomize.is_some(),
            RenderKind::Kustomize,
            "kustomize",
        ),
        (source.helm.is_some(), RenderKind::Helm, "helm"),
        (
            source.directory.is_some(),
            RenderKind::Directory,
            "directory",
        ),
        (source.plugin.is_some(), RenderKind::Plugin, "plugin"),
    ]
    .into_iter()
    .filter(|(set, _, _)| *set)
    .map(|(_, kind, name)| (kind, name))
    .collect();
    match explicit.as_slice() {
        [(kind, _)] => return Ok(*kind),
        [] => {}
        several => {
            let names: Vec<&str> = several.iter().map(|(_, name)| *name).collect();
            return Err(RenderError::AmbiguousSourceType(names.join(", ")));
        }
    }
    if kustomization_file(dir).is_some() {
        Ok(RenderKind::Kustomize)
    } else if dir.join("Chart.yaml").is_file() {
        Ok(RenderKind::Helm)
    } else {
        Ok(RenderKind::Directory)
    }
}

/// The kustomization file of `dir`, if it is a kustomization root.
pub(crate) fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// Fails on the first symlink under `root` whose target resolves outside `root` (Argo CD checks
/// the same before generating manifests unless `--allow-oob-symlinks`). `.git` is not looked at.
pub(crate) fn check_symlinks(root: &Path) -> Result<(), RenderError> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|err| RenderError::io(format!("reading {}", dir.display()), err))?;
        for entry in entries {
            let entry =
                entry.map_err(|err| RenderError::io(format!("reading {}", dir.display()), err))?;
            if entry.file_name() == ".git" {
                continue;
            }
            let path = entry.path();
            let file_type = entry
                .file_type()
                .map_err(|err| RenderError::io(format!("reading {}", path.display()), err))?;
            if file_type.is_symlink() {
                check_symlink(root, &path)?;
            } else if file_type.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(())
}

fn check_symlink(root: &Path, link: &Path) -> Result<(), RenderError> {
    let target = std::fs::read_link(link)
        .map_err(|err| RenderError::io(format!("reading symlink {}", link.display()), err))?;
    let resolved = match link.canonicalize() {
        Ok(resolved) => resolved,
        // A dangling link reads nothing; judge it by where it points.
        Err(_) => normalize(&link.parent().unwrap_or(root).join(&target)),
    };
    if resolved.starts_with(root) {
        Ok(())
    } else {
        Err(RenderError::SymlinkEscapesCheckout {
            link: link.strip_prefix(root).unwrap_or(link).to_path_buf(),
            target,
        })
    }
}

/// Lexical normalisation (`a/./b/../c` → `a/c`) for paths that cannot be canonicalised.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_escapes_are_rejected_even_when_missing() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("apps")).unwrap();
        assert!(matches!(
            app_dir(root.path(), "apps/../../etc"),
            Err(RenderError::PathEscapesCheckout { .. })
        ));
        assert!(matches!(
            app_dir(root.path(), "apps/../../nonexistent-xyz"),
            Err(RenderError::PathEscapesCheckout { .. })
        ));
        assert!(matches!(
            app_dir(root.path(), "/etc"),
            Err(RenderError::PathEscapesCheckout { .. })
        ));
        assert!(matches!(
            app_dir(root.path(), "nope"),
            Err(RenderError::PathMissing { .. })
        ));
        assert!(app_dir(root.path(), "apps/../apps").is_ok());
    }

    #[test]
    fn symlinked_path_out_of_the_checkout_is_rejected() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        assert!(matches!(
            app_dir(root.path(), "out"),
            Err(RenderError::PathEscapesCheckout { .. })
        ));
        let canonical = root.path().canonicalize().unwrap();
        assert!(matches!(
            check_symlinks(&canonical),
            Err(RenderError::SymlinkEscapesCheckout { .. })
        ));
    }

    #[test]
    fn explicit_source_type_wins_and_two_are_ambiguous() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Chart.yaml"), "name: x\n").unwrap();
        let mut source = ApplicationSource::default();
        assert_eq!(render_kind(&source, dir.path()).unwrap(), RenderKind::Helm);
        std::fs::write(dir.path().join("kustomization.yaml"), "resources: []\n").unwrap();
        assert_eq!(
            render_kind(&source, dir.path()).unwrap(),
            RenderKind::Kustomize
        );
        source.directory = Some(Default::default());
        assert_eq!(
            render_kind(&source, dir.path()).unwrap(),
            RenderKind::Directory
        );
        source.helm = Some(Default::default());
        assert!(matches!(
            render_kind(&source, dir.path()),
            Err(RenderError::AmbiguousSourceType(_))
        ));
    }
}
