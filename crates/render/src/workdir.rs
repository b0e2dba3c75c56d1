//! A private copy of the checkout for renders that must write files (a Kustomize source with
//! parameters, a Helm chart whose local dependencies must be built). The checkout is shared by
//! every Application at that commit, so it is never written; Argo CD instead edits in place and
//! takes a repository lock, which serialises such renders.
//!
//! The whole checkout is copied (minus `.git`) because overlays and `file://` dependencies
//! routinely reach outside the source directory (`../base`, `file://../common`).

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::error::RenderError;

pub(crate) struct WorkCopy {
    /// Held only so that the copy is removed, with everything in it, when this is dropped.
    _dir: TempDir,
    pub root: PathBuf,
}

impl WorkCopy {
    /// `root` must be canonical and already checked for symlinks that leave it.
    pub(crate) fn of(root: &Path) -> Result<Self, RenderError> {
        let dir = tempfile::Builder::new()
            .prefix("bosun-render-")
            .tempdir()
            .map_err(|err| RenderError::io("creating a render work directory", err))?;
        let copy_root = dir.path().join("checkout");
        copy_tree(root, &copy_root, root, &copy_root)?;
        Ok(WorkCopy {
            root: copy_root,
            _dir: dir,
        })
    }

    /// Where `original` (a path inside the original checkout) is in the copy.
    pub(crate) fn path_of(&self, original_root: &Path, original: &Path) -> PathBuf {
        match original.strip_prefix(original_root) {
            Ok(relative) => self.root.join(relative),
            Err(_) => original.to_path_buf(),
        }
    }
}

fn copy_tree(from: &Path, to: &Path, root: &Path, copy_root: &Path) -> Result<(), RenderError> {
    std::fs::create_dir_all(to)
        .map_err(|err| RenderError::io(format!("creating {}", to.display()), err))?;
    let entries = std::fs::read_dir(from)
        .map_err(|err| RenderError::io(format!("reading {}", from.display()), err))?;
    for entry in entries {
        let entry =
            entry.map_err(|err| RenderError::io(format!("reading {}", from.display()), err))?;
        if entry.file_name() == ".git" {
            continue;
        }
        let source = entry.path();
        let target = to.join(entry.file_name());
        let file_type = entry
            .file_type()
            .map_err(|err| RenderError::io(format!("reading {}", source.display()), err))?;
        if file_type.is_symlink() {
            let link = std::fs::read_link(&source)
                .map_err(|err| RenderError::io(format!("reading {}", source.display()), err))?;
            // An absolute link into the checkout must point into the copy, or a write through
            // it would reach the shared checkout.
            let link = match link.strip_prefix(root) {
                Ok(inside) if link.is_absolute() => copy_root.join(inside),
                _ => link,
            };
            std::os::unix::fs::symlink(&link, &target)
                .map_err(|err| RenderError::io(format!("copying {}", source.display()), err))?;
        } else if file_type.is_dir() {
            copy_tree(&source, &target, root, copy_root)?;
        } else {
            std::fs::copy(&source, &target)
                .map_err(|err| RenderError::io(format!("copying {}", source.display()), err))?;
        }
    }
    Ok(())
}
