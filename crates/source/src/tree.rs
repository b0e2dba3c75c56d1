//! Writing a commit's files into a directory, straight from the object database (no index, no
//! `.git`): a checkout that renderers read and nobody writes. Files are made read-only to say so.

use std::fs;
use std::path::{Component, Path, PathBuf};

use gix::ObjectId;
use gix::objs::tree::EntryKind;

use crate::error::{Error, Result, io};

/// Where the extraction is going and which repository/commit it is, for errors.
pub(crate) struct Extraction<'a> {
    pub repo: &'a gix::Repository,
    pub url: &'a str,
    pub commit: &'a str,
    pub root: &'a Path,
}

impl Extraction<'_> {
    pub fn write_tree(&self, tree: ObjectId, relative: &Path) -> Result<()> {
        let dir = self.root.join(relative);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let tree = self.repo.find_tree(tree).map_err(|e| self.git(e))?;
        for entry in tree.iter() {
            let entry = entry.map_err(|e| self.git(e))?;
            let name = entry.filename().to_string();
            let path = relative.join(self.checked_name(&name, relative)?);
            let target = self.root.join(&path);
            match entry.mode().kind() {
                EntryKind::Tree => self.write_tree(entry.object_id(), &path)?,
                EntryKind::Blob => self.write_blob(entry.object_id(), &target, false)?,
                EntryKind::BlobExecutable => self.write_blob(entry.object_id(), &target, true)?,
                EntryKind::Link => self.write_link(entry.object_id(), &path)?,
                // A submodule: like `git checkout`, an empty directory (its content is another
                // repository, which Argo CD does not fetch either).
                EntryKind::Commit => fs::create_dir_all(&target).map_err(io(&target))?,
            }
        }
        Ok(())
    }

    fn write_blob(&self, id: ObjectId, target: &Path, executable: bool) -> Result<()> {
        let blob = self.repo.find_blob(id).map_err(|e| self.git(e))?;
        fs::write(target, &blob.data).map_err(io(target))?;
        set_read_only(target, executable)
    }

    /// Symbolic links are kept only when they stay inside the checkout: a link to `/etc/passwd`
    /// or `../../other-app` would let a repository make bosun read files outside it (Argo CD
    /// refuses such repositories too).
    fn write_link(&self, id: ObjectId, path: &Path) -> Result<()> {
        let blob = self.repo.find_blob(id).map_err(|e| self.git(e))?;
        let link_target = PathBuf::from(String::from_utf8_lossy(&blob.data).into_owned());
        let base = path.parent().unwrap_or(Path::new(""));
        if !stays_inside(base, &link_target) {
            return Err(Error::SymlinkOutOfBounds {
                url: self.url.to_string(),
                commit: self.commit.to_string(),
                path: path.display().to_string(),
            });
        }
        let target = self.root.join(path);
        std::os::unix::fs::symlink(&link_target, &target).map_err(io(&target))
    }

    /// A tree entry name must be one plain path component; a crafted tree could otherwise
    /// write outside the checkout.
    fn checked_name<'n>(&self, name: &'n str, relative: &Path) -> Result<&'n str> {
        let mut components = Path::new(name).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) if name != ".git" => Ok(name),
            _ => Err(Error::Git {
                url: self.url.to_string(),
                revision: self.commit.to_string(),
                message: format!(
                    "tree entry {:?} in {:?} is not a plain file name",
                    name,
                    relative.display().to_string()
                ),
            }),
        }
    }

    fn git(&self, err: gix::Error) -> Error {
        Error::Git {
            url: self.url.to_string(),
            revision: self.commit.to_string(),
            message: crate::redact::redact_text(&err.to_string(), &[]),
        }
    }
}

/// Whether `link` (a symlink's target), followed from directory `base` (relative to the
/// checkout root), stays within the root.
fn stays_inside(base: &Path, link: &Path) -> bool {
    let mut depth: usize = base.components().count();
    for component in link.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

fn set_read_only(path: &Path, executable: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o555 } else { 0o444 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_that_leave_the_checkout_are_refused() {
        assert!(stays_inside(Path::new("a/b"), Path::new("../c")));
        assert!(stays_inside(Path::new("a"), Path::new("../x")));
        assert!(stays_inside(Path::new(""), Path::new("./x/../y")));
        assert!(!stays_inside(Path::new("a"), Path::new("../../x")));
        assert!(!stays_inside(Path::new(""), Path::new("../x")));
        assert!(!stays_inside(Path::new("a"), Path::new("/etc/passwd")));
    }
}
