//! The Source stage: an Application's `repoURL` and `targetRevision` in, a commit and its files
//! out.
//!
//! ```text
//!  repoURL + targetRevision ─► RepoCache::resolve ─► Commit ─► RepoCache::checkout ─► Checkout { dir }
//!                                 (ls-remote; fetch only a new commit)     (trees/<commit>/, read-only)
//! ```
//!
//! Repositories are reached with gix over https (reqwest + rustls/ring), ssh (the system `ssh`)
//! and `file://` or a local path; a local directory that is not a Git repository is used as is.
//! Credentials come only from [`Credentials`]; they and any password in a URL are kept out of
//! every message ([`redact_url`]). See `docs/sources.md`.

mod cache;
mod credentials;
mod error;
mod location;
mod packs;
mod redact;
mod remote;
mod revision;
mod tree;
mod write;

pub use cache::{CacheStats, Checkout, Commit, RepoCache};
pub use credentials::{Credentials, Secret};
pub use error::{Error, Result};
pub use redact::{redact_text, redact_url};
pub use write::{Author, FileChange, Pushed, WriteError, Writer, dir_name};
