//! The repository cache: one bare repository per remote, one read-only tree per commit, and the
//! locking that makes many concurrent callers cost one ref listing and one fetch.
//!
//! Layout under the root directory:
//!
//! ```text
//! repos/<hash of normalised URL>/   bare repository (branches and tags mirrored as fetched)
//! trees/<commit id>/                 the commit's files, read-only, shared by every repository
//! tmp/                               staging for trees and new repositories (renamed into place)
//! ```
//!
//! All methods block (gix's transports are blocking). `RepoCache` is `Clone + Send + Sync`: an
//! async caller moves a clone into `tokio::task::spawn_blocking`. Waiting on another caller's
//! fetch then occupies a blocking-pool thread, which is what that pool is for.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gix::ObjectId;

use crate::credentials::Credentials;
use crate::error::{Context, Error, Result, io};
use crate::location::{GitRemote, Location, cache_dir_name};
use crate::packs;
use crate::redact::redact_url;
use crate::remote::{ALL_BRANCHES_AND_TAGS, LISTED_REFS, Remote, mirror_refspec};
use crate::revision::{AdvertisedRef, Revision, find_ref};
use crate::tree::Extraction;

/// A resolved revision: a full commit id, or [`Commit::LOCAL`] for a plain directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Commit(String);

impl Commit {
    /// The "commit" of a plain local directory: its files as they are now. It names no fixed
    /// content, so nothing may be cached under it.
    pub const LOCAL: &str = "local";

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_local(&self) -> bool {
        self.0 == Commit::LOCAL
    }

    /// A commit id as the caller stored it (say, in the sync history); [`RepoCache::checkout`]
    /// fetches it if the cache does not have it.
    pub fn new(id: impl Into<String>) -> Commit {
        Commit(id.into())
    }

    fn from_id(id: ObjectId) -> Commit {
        Commit(id.to_string())
    }
}

impl std::fmt::Display for Commit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A commit's files on disk. For a Git commit the directory is shared and read-only; for a plain
/// local directory it is that directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkout {
    pub commit: Commit,
    pub dir: PathBuf,
}

/// Work done against remotes since the cache was created: what the single-flight and "fetch
/// only when the commit is new" rules save is visible here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Ref listings (`ls-remote`), one per resolve unless a concurrent caller's was reused.
    pub ref_listings: u64,
    /// Fetches, each bringing objects for one or more refs.
    pub fetches: u64,
    /// Trees written under `trees/`.
    pub trees_written: u64,
}

/// See the module documentation.
#[derive(Clone)]
pub struct RepoCache {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    repos: Mutex<HashMap<String, Arc<Mutex<RepoState>>>>,
    trees: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Orders "a caller asked" against "a ref listing started" (see [`RepoState::listing`]).
    clock: AtomicU64,
    ref_listings: AtomicU64,
    fetches: AtomicU64,
    trees_written: AtomicU64,
    staging: AtomicU64,
}

#[derive(Default)]
struct RepoState {
    repo: Option<gix::ThreadSafeRepository>,
    /// The latest ref listing and the clock value when it started. A caller that asked before
    /// that value waited on this repository's lock while the listing ran: the listing is as
    /// fresh as one of its own would be, so it reuses it instead of asking the remote again.
    listing: Option<(u64, Vec<AdvertisedRef>)>,
}

impl RepoCache {
    /// A cache rooted at `root` (created if missing), typically `~/.cache/bosun/repos`. Several
    /// processes may share a root: repositories and trees are moved into place atomically, and
    /// gix locks refs while it updates them.
    pub fn new(root: impl Into<PathBuf>) -> Result<RepoCache> {
        let root = root.into();
        for dir in ["repos", "trees", "tmp"] {
            let dir = root.join(dir);
            fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        // https fetches build a reqwest client with rustls but no built-in provider; ring is
        // the one provider in bosun (as for kube). Ignored if the binary installed one already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(RepoCache {
            inner: Arc::new(Inner {
                root,
                repos: Mutex::default(),
                trees: Mutex::default(),
                clock: AtomicU64::new(0),
                ref_listings: AtomicU64::new(0),
                fetches: AtomicU64::new(0),
                trees_written: AtomicU64::new(0),
                staging: AtomicU64::new(0),
            }),
        })
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            ref_listings: self.inner.ref_listings.load(Ordering::Relaxed),
            fetches: self.inner.fetches.load(Ordering::Relaxed),
            trees_written: self.inner.trees_written.load(Ordering::Relaxed),
        }
    }

    /// The commit `target_revision` (branch, tag, `refs/...`, full or abbreviated commit id,
    /// `HEAD` or empty) names in `repo_url` now.
    ///
    /// A full commit id already in the cache is answered without the network. Otherwise the
    /// remote's refs are listed (one round trip, shared by concurrent callers) and a fetch
    /// happens only when the commit is not yet cached: just that ref for a branch or tag, every
    /// branch and tag for a commit id.
    pub fn resolve(
        &self,
        repo_url: &str,
        target_revision: &str,
        credentials: &Credentials,
    ) -> Result<Commit> {
        let asked = self.inner.clock.fetch_add(1, Ordering::SeqCst);
        let revision = Revision::parse(target_revision);
        let remote = match Location::parse(repo_url)? {
            Location::Directory(_) if revision == Revision::Head => {
                return Ok(Commit(Commit::LOCAL.into()));
            }
            Location::Directory(_) => {
                return Err(Error::UnknownRevision {
                    url: redact_url(repo_url),
                    revision: revision.as_str().to_string(),
                });
            }
            Location::Git(remote) => remote,
        };
        let context = context(&remote, revision.as_str(), credentials);
        let entry = self.repo_entry(&remote.key);
        let mut state = lock(&entry);
        let mut repo = self.open_repo(&mut state, &remote, &context)?;
        let access = Remote {
            remote: &remote,
            credentials,
        };
        self.resolve_locked(&mut state, &mut repo, &access, &revision, asked, &context)
    }

    /// The files of `commit` (from [`resolve`](Self::resolve)) in a read-only directory,
    /// written once per commit and shared by every caller; fetched first if the cache lacks it.
    pub fn checkout(
        &self,
        repo_url: &str,
        commit: &Commit,
        credentials: &Credentials,
    ) -> Result<Checkout> {
        let remote = match Location::parse(repo_url)? {
            Location::Directory(dir) if commit.is_local() => {
                return Ok(Checkout {
                    commit: commit.clone(),
                    dir,
                });
            }
            Location::Directory(_) => {
                return Err(Error::UnknownRevision {
                    url: redact_url(repo_url),
                    revision: commit.to_string(),
                });
            }
            Location::Git(remote) => remote,
        };
        let context = context(&remote, commit.as_str(), credentials);
        let Some(id) = Revision::parse(commit.as_str()).full_id() else {
            return Err(context.unknown_revision());
        };
        let dir = self.inner.root.join("trees").join(id.to_string());
        let tree_entry = self.tree_entry(&id.to_string());
        let _tree_guard = lock(&tree_entry);
        if dir.is_dir() {
            return Ok(Checkout {
                commit: Commit::from_id(id),
                dir,
            });
        }
        let repo = {
            let asked = self.inner.clock.fetch_add(1, Ordering::SeqCst);
            let entry = self.repo_entry(&remote.key);
            let mut state = lock(&entry);
            let mut repo = self.open_repo(&mut state, &remote, &context)?;
            let access = Remote {
                remote: &remote,
                credentials,
            };
            let revision = Revision::Name(id.to_string());
            self.resolve_locked(&mut state, &mut repo, &access, &revision, asked, &context)?;
            repo
        };
        // The repository lock is released: writing files only reads objects, and other
        // callers may fetch meanwhile.
        let _span =
            tracing::debug_span!("checkout", repo = %remote.display, commit = %id).entered();
        self.write_tree(&repo, &remote, id, &dir)?;
        Ok(Checkout {
            commit: Commit::from_id(id),
            dir,
        })
    }

    /// One file of a resolved commit, read from the cache without a checkout (`path` relative
    /// to the repository root). Never fetches: the commit must have come from `resolve`.
    pub fn read_file(&self, repo_url: &str, commit: &Commit, path: &str) -> Result<Vec<u8>> {
        let not_found = |url: String| Error::FileNotFound {
            url,
            commit: commit.to_string(),
            path: path.to_string(),
        };
        let remote = match Location::parse(repo_url)? {
            Location::Directory(dir) => {
                let relative = Path::new(path);
                if relative
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    return Err(not_found(redact_url(repo_url)));
                }
                let file = dir.join(relative);
                return fs::read(&file).map_err(|_| not_found(redact_url(repo_url)));
            }
            Location::Git(remote) => remote,
        };
        let anonymous = Credentials::none();
        let context = context(&remote, commit.as_str(), &anonymous);
        let id = Revision::parse(commit.as_str())
            .full_id()
            .ok_or_else(|| context.unknown_revision())?;
        let repo = {
            let entry = self.repo_entry(&remote.key);
            let mut state = lock(&entry);
            self.open_repo(&mut state, &remote, &context)?
        };
        if !repo.has_object(id) {
            return Err(context.unknown_revision());
        }
        let tree = repo
            .find_commit(id)
            .and_then(|c| c.tree())
            .map_err(|e| context.local_git(&e))?;
        let entry = tree
            .lookup_entry_by_path(path)
            .map_err(|e| context.local_git(&e))?
            .filter(|entry| entry.mode().is_blob())
            .ok_or_else(|| not_found(remote.display.clone()))?;
        let blob = repo
            .find_blob(entry.object_id())
            .map_err(|e| context.local_git(&e))?;
        Ok(blob.data.clone())
    }

    /// Resolution proper, with the repository's lock held (`state` is its guarded state).
    fn resolve_locked(
        &self,
        state: &mut RepoState,
        repo: &mut gix::Repository,
        remote: &Remote<'_>,
        revision: &Revision,
        asked: u64,
        context: &Context<'_>,
    ) -> Result<Commit> {
        // Commit ids never change meaning: a cached one needs no remote at all.
        if let Some(id) = revision.full_id()
            && let Some(commit) = peel_to_commit(repo, id)
        {
            return Ok(Commit::from_id(commit));
        }

        let refs = match &state.listing {
            Some((started, refs)) if *started > asked => refs.clone(),
            _ => {
                let started = self.inner.clock.fetch_add(1, Ordering::SeqCst);
                self.inner.ref_listings.fetch_add(1, Ordering::Relaxed);
                let mut patterns: Vec<&str> = LISTED_REFS.to_vec();
                if let Revision::Name(name) = revision
                    && name.starts_with("refs/")
                {
                    patterns.push(name);
                }
                let refs = remote.list_refs(repo, &patterns, context)?;
                state.listing = Some((started, refs.clone()));
                refs
            }
        };

        if let Some(advertised) = find_ref(revision, &refs) {
            let Some(id) = advertised.commit else {
                return Err(context.unknown_revision()); // unborn HEAD: an empty repository
            };
            if let Some(commit) = peel_to_commit(repo, id) {
                return Ok(Commit::from_id(commit));
            }
            let name = advertised.name.clone();
            self.inner.fetches.fetch_add(1, Ordering::Relaxed);
            let fetched = remote.fetch(repo, &[mirror_refspec(&name)], context);
            self.after_fetch(state, repo, context)?;
            let fetched = fetched?;
            // The ref may have moved since the listing; what was just fetched is newer still.
            let now = fetched
                .iter()
                .find(|r| r.name == name)
                .and_then(|r| r.commit)
                .unwrap_or(id);
            return peel_to_commit(repo, now)
                .map(Commit::from_id)
                .ok_or_else(|| context.unknown_revision());
        }

        if revision.is_hex_prefix() {
            if let Some(commit) = find_by_prefix(repo, revision.as_str()) {
                return Ok(Commit::from_id(commit));
            }
            // Not cached: fetch everything it could be reachable from, then look again.
            self.inner.fetches.fetch_add(1, Ordering::Relaxed);
            let refspecs = ALL_BRANCHES_AND_TAGS.map(String::from);
            let fetched = remote.fetch(repo, &refspecs, context);
            self.after_fetch(state, repo, context)?;
            fetched?;
            if let Some(commit) = find_by_prefix(repo, revision.as_str()) {
                return Ok(Commit::from_id(commit));
            }
        }
        Err(context.unknown_revision())
    }

    /// After a fetch (even a failed one, which may have left a pack): consolidates the packs and
    /// reopens the repository, so that its object store is sized for the packs now on disk (see
    /// the `packs` module). The handle cached for later callers is replaced; callers still
    /// holding the old one keep a store that reads what it already knew.
    fn after_fetch(
        &self,
        state: &mut RepoState,
        repo: &mut gix::Repository,
        context: &Context<'_>,
    ) -> Result<()> {
        let dir = repo.path().to_path_buf();
        let pack_dir = repo.objects.store_ref().path().join("pack");
        let staging = self.staging_dir("multi-pack-index");
        match packs::consolidate(&pack_dir, repo.object_hash(), &staging) {
            Ok(true) => tracing::debug!(repo = %context.url, "wrote a multi-pack index"),
            Ok(false) => {}
            // Not fatal: the reopened store has slots for every pack on disk.
            Err(message) => {
                tracing::warn!(repo = %context.url, %message, "could not consolidate packs")
            }
        }
        let reopened = gix::open_opts(&dir, gix::open::Options::isolated())
            .map_err(|e| context.local_git(&e))?;
        state.repo = Some(reopened.clone().into_sync());
        *repo = reopened;
        Ok(())
    }

    /// The cached bare repository for `remote`, created on first use.
    fn open_repo(
        &self,
        state: &mut RepoState,
        remote: &GitRemote,
        context: &Context<'_>,
    ) -> Result<gix::Repository> {
        if let Some(repo) = &state.repo {
            return Ok(repo.to_thread_local());
        }
        let dir = self
            .inner
            .root
            .join("repos")
            .join(cache_dir_name(&remote.key));
        if !dir.exists() {
            // Created aside and renamed, so a crash or another process never sees half of one.
            let staging = self.staging_dir("repo");
            gix::init_bare(&staging).map_err(|e| context.local_git(&e))?;
            let note = staging.join("bosun-url");
            fs::write(&note, format!("{}\n", remote.display)).map_err(io(&note))?;
            if fs::rename(&staging, &dir).is_err() {
                let _ = fs::remove_dir_all(&staging);
            }
        }
        let repo = gix::open_opts(&dir, gix::open::Options::isolated())
            .map_err(|e| context.local_git(&e))?;
        state.repo = Some(repo.clone().into_sync());
        Ok(repo)
    }

    fn write_tree(
        &self,
        repo: &gix::Repository,
        remote: &GitRemote,
        commit: ObjectId,
        dir: &Path,
    ) -> Result<()> {
        let anonymous = Credentials::none();
        let context = context(remote, "", &anonymous);
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree_id().map(|id| id.detach()))
            .map_err(|e| context.local_git(&e))?;
        let staging = self.staging_dir("tree");
        let extraction = Extraction {
            repo,
            url: &remote.display,
            commit: &commit.to_string(),
            root: &staging,
        };
        let written = extraction.write_tree(tree, Path::new(""));
        if let Err(err) = written {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
        // Another process may have won the race; its tree has the same content.
        if fs::rename(&staging, dir).is_err() {
            let _ = fs::remove_dir_all(&staging);
            if !dir.is_dir() {
                return Err(Error::Io {
                    path: dir.to_path_buf(),
                    error: std::io::Error::other("could not move the checkout into place"),
                });
            }
        } else {
            self.inner.trees_written.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn staging_dir(&self, what: &str) -> PathBuf {
        let n = self.inner.staging.fetch_add(1, Ordering::Relaxed);
        self.inner
            .root
            .join("tmp")
            .join(format!("{what}-{}-{n}", std::process::id()))
    }

    fn repo_entry(&self, key: &str) -> Arc<Mutex<RepoState>> {
        let mut repos = lock(&self.inner.repos);
        repos.entry(key.to_string()).or_default().clone()
    }

    fn tree_entry(&self, commit: &str) -> Arc<Mutex<()>> {
        let mut trees = lock(&self.inner.trees);
        // Entries nobody holds are dropped as we go, so the map stays as small as the
        // checkouts in flight.
        trees.retain(|_, entry| Arc::strong_count(entry) > 1);
        trees.entry(commit.to_string()).or_default().clone()
    }
}

fn context<'a>(
    remote: &'a GitRemote,
    revision: &'a str,
    credentials: &'a Credentials,
) -> Context<'a> {
    let mut secrets = credentials.secrets();
    if let Some((_, password)) = &remote.url_account {
        secrets.push(password.expose());
    }
    Context {
        url: &remote.display,
        revision,
        secrets,
    }
}

/// A poisoned lock only means another caller panicked mid-operation; the state it guards is a
/// cache that every operation re-validates, so carry on.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The commit `id` is or (for an annotated tag) points to, if its objects are cached.
fn peel_to_commit(repo: &gix::Repository, id: ObjectId) -> Option<ObjectId> {
    if !repo.has_object(id) {
        return None;
    }
    let object = repo.find_object(id).ok()?;
    let commit = object.peel_to_commit().ok()?;
    Some(commit.id)
}

/// The cached commit whose id starts with `prefix`; `None` if absent or ambiguous.
fn find_by_prefix(repo: &gix::Repository, prefix: &str) -> Option<ObjectId> {
    let prefix = gix::hash::Prefix::from_hex(prefix).ok()?;
    let id = repo.objects.lookup_prefix(prefix, None).ok()??.ok()?;
    peel_to_commit(repo, id)
}
