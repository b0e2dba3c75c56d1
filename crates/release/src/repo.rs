//! The only module that touches Git. Reading is done in-process with gix (no `git` subprocess per
//! commit: this is what keeps 100,000-commit histories fast); creating and pushing a tag shells
//! out to `git`, which owns credentials, signing and hooks (gix has no push).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use gix::ObjectId;
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;
use semver::Version;

use crate::bump::CommitInput;
use crate::error::{Error, Result};

pub struct Repo {
    repo: gix::Repository,
    root: PathBuf,
}

/// A release tag: its name, version and the commit it points to (annotated tags peeled).
#[derive(Debug, Clone)]
pub struct ReleaseTag {
    pub name: String,
    pub version: Version,
    pub commit: ObjectId,
}

impl Repo {
    /// Opens the repository containing `dir` (like `git` itself, walking up).
    pub fn discover(dir: &Path) -> Result<Repo> {
        let repo = gix::discover(dir).map_err(|source| Error::NotARepository {
            path: dir.to_path_buf(),
            source: Box::new(source),
        })?;
        let root = repo
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| repo.git_dir().to_path_buf());
        Ok(Repo { repo, root })
    }

    /// The work tree (or, for a bare repository, the git dir): config and `--path` are relative
    /// to it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this is a shallow clone (a non-empty `shallow` file in the git dir): history ends
    /// at its boundary commits and tags beyond them are missing.
    pub fn is_shallow(&self) -> Result<bool> {
        self.repo
            .is_shallow()
            .map_err(|e| Error::git("reading the shallow file", e))
    }

    /// HEAD's commit, or `None` in a repository without commits.
    pub fn head(&self) -> Result<Option<ObjectId>> {
        let head = self.repo.head().map_err(|e| Error::git("HEAD", e))?;
        Ok(head.id().map(|id| id.detach()))
    }

    /// The checked-out branch's short name; `None` on a detached HEAD.
    pub fn current_branch(&self) -> Option<String> {
        let name = self.repo.head_name().ok()??;
        Some(name.shorten().to_string())
    }

    /// Tags named `<prefix><semver>`, each peeled to its commit. Tags on trees or blobs are
    /// skipped: they cannot mark a point in history.
    pub fn release_tags(&self, prefix: &str) -> Result<Vec<ReleaseTag>> {
        let refs = self
            .repo
            .references()
            .map_err(|e| Error::git("listing references", e))?;
        let mut tags = Vec::new();
        for reference in refs.tags().map_err(|e| Error::git("listing tags", e))? {
            let mut reference = reference.map_err(|e| Error::git("reading a tag", e))?;
            let name = reference.name().shorten().to_string();
            let Some(version) = crate::tags::parse_tag(&name, prefix) else {
                continue;
            };
            let id = reference
                .peel_to_id()
                .map_err(|e| Error::git(format!("peeling tag {name}"), e))?
                .detach();
            let is_commit = self
                .repo
                .find_header(id)
                .map(|h| h.kind() == gix::object::Kind::Commit)
                .unwrap_or(false);
            if is_commit {
                tags.push(ReleaseTag {
                    name,
                    version,
                    commit: id,
                });
            }
        }
        Ok(tags)
    }

    /// Every prefix under which the repository has release tags (`v` for `v1.2.0`, `app-v` for
    /// `app-v7.0.0`, `` for `1.9.0`), each with one example tag. Read only when a prefix matched
    /// nothing, to say which ones exist.
    pub fn tag_prefixes(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let refs = self
            .repo
            .references()
            .map_err(|e| Error::git("listing references", e))?;
        let mut prefixes = std::collections::BTreeMap::new();
        for reference in refs.tags().map_err(|e| Error::git("listing tags", e))? {
            let reference = reference.map_err(|e| Error::git("reading a tag", e))?;
            let name = reference.name().shorten().to_string();
            if let Some(prefix) = crate::tags::release_prefix(&name) {
                prefixes.entry(prefix.to_string()).or_insert(name);
            }
        }
        Ok(prefixes)
    }

    /// The tags among `tags` that are reachable from `head`. The walk stops as soon as every
    /// commit in `stop_after` has been seen — the caller passes the commits of the highest tags,
    /// since nothing beyond them can change the answer — so in the usual case only the commits
    /// since the last release are read, not the whole history.
    pub fn reachable_tags<'t>(
        &self,
        head: ObjectId,
        tags: &'t [ReleaseTag],
        stop_after: &HashSet<ObjectId>,
    ) -> Result<Vec<&'t ReleaseTag>> {
        let mut by_commit: HashMap<ObjectId, Vec<&ReleaseTag>> = HashMap::new();
        for tag in tags {
            by_commit.entry(tag.commit).or_default().push(tag);
        }
        let mut found = Vec::new();
        let mut pending = stop_after.len();
        if by_commit.is_empty() {
            return Ok(found);
        }
        let walk = self
            .repo
            .rev_walk([head])
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .all()
            .map_err(|e| Error::git("walking history", e))?;
        for info in walk {
            let info = info.map_err(|e| Error::git("walking history", e))?;
            if let Some(tags) = by_commit.get(&info.id) {
                found.extend(tags.iter().copied());
                if stop_after.contains(&info.id) {
                    pending -= 1;
                    if pending == 0 {
                        break;
                    }
                }
            }
        }
        Ok(found)
    }

    /// Commits reachable from `head` but not from `since` (`git log since..head`), newest first,
    /// merge commits included. With `path`, only commits that change it (compared with every
    /// parent, like `git log -- path` without `--full-history`).
    pub fn commits_since(
        &self,
        head: ObjectId,
        since: Option<ObjectId>,
        path: Option<&str>,
    ) -> Result<Vec<CommitInput>> {
        let walk = self
            .repo
            .rev_walk([head])
            .with_hidden(since)
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .all()
            .map_err(|e| Error::git("walking history", e))?;
        let mut path_ids: HashMap<ObjectId, Option<ObjectId>> = HashMap::new();
        let mut commits = Vec::new();
        for info in walk {
            let info = info.map_err(|e| Error::git("walking history", e))?;
            let commit = info
                .object()
                .map_err(|e| Error::git(format!("reading commit {}", info.id), e))?;
            if let Some(path) = path {
                let own = self.path_id(info.id, path, &mut path_ids)?;
                let mut changed = true;
                for parent in info.parent_ids() {
                    if self.path_id(parent.detach(), path, &mut path_ids)? == own {
                        changed = false;
                        break;
                    }
                }
                if info.parent_ids.is_empty() && own.is_none() {
                    changed = false;
                }
                if !changed {
                    continue;
                }
            }
            commits.push(CommitInput {
                id: info.id.to_string(),
                message: commit.message_raw_sloppy().to_string(),
            });
        }
        Ok(commits)
    }

    /// The id of the tree entry at `path` in `commit` (a sub-tree for a directory); equal ids mean
    /// nothing under `path` changed, without diffing any files.
    fn path_id(
        &self,
        commit: ObjectId,
        path: &str,
        cache: &mut HashMap<ObjectId, Option<ObjectId>>,
    ) -> Result<Option<ObjectId>> {
        if let Some(id) = cache.get(&commit) {
            return Ok(*id);
        }
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(|e| Error::git(format!("reading the tree of {commit}"), e))?;
        let id = tree
            .lookup_entry_by_path(path)
            .map_err(|e| Error::git(format!("looking up {path} in {commit}"), e))?
            .map(|entry| entry.object_id());
        cache.insert(commit, id);
        Ok(id)
    }

    /// Commit time (seconds since the epoch), for the changelog date.
    pub fn commit_time(&self, id: ObjectId) -> Result<i64> {
        let commit = self
            .repo
            .find_commit(id)
            .map_err(|e| Error::git(format!("reading commit {id}"), e))?;
        let time = commit
            .time()
            .map_err(|e| Error::git(format!("reading the time of {id}"), e))?;
        Ok(time.seconds)
    }

    /// `git tag -a <name> -m <message> <target>`; verbatim, or git would strip the notes'
    /// `## …` headings as comment lines.
    pub fn create_tag(&self, name: &str, message: &str, target: ObjectId) -> Result<()> {
        let target = target.to_string();
        self.git(&[
            "tag",
            "-a",
            "--cleanup=verbatim",
            name,
            &target,
            "-m",
            message,
        ])
    }

    /// `git push <remote> refs/tags/<name>`.
    pub fn push_tag(&self, remote: &str, name: &str) -> Result<()> {
        self.git(&["push", remote, &format!("refs/tags/{name}")])
    }

    fn git(&self, args: &[&str]) -> Result<()> {
        let shown = args
            .iter()
            .take_while(|a| **a != "-m")
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(args)
            .output()
            .map_err(|source| Error::Io {
                path: PathBuf::from("git"),
                source,
            })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::GitCommand {
                command: shown,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }
}
