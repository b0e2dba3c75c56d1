//! Every way the Source stage fails. Each variant names the repository (its URL already redacted:
//! no variant ever holds a raw repoURL or a gix error that might print one) and, where there is
//! one, the revision asked for.

use std::path::PathBuf;

use crate::redact::redact_text;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{url}: revision {revision:?} not found: no branch, tag or commit has that name")]
    UnknownRevision { url: String, revision: String },

    #[error("{url}: authentication failed (revision {revision:?}): {message}")]
    Auth {
        url: String,
        revision: String,
        message: String,
    },

    #[error("{url}: cannot reach the repository (revision {revision:?}): {message}")]
    Network {
        url: String,
        revision: String,
        message: String,
    },

    #[error("{url}: not a Git repository, or it does not exist: {message}")]
    NotARepository { url: String, message: String },

    /// Any other failure reading or writing the cached repository (a corrupt pack, a full disk).
    #[error("{url}: git (revision {revision:?}): {message}")]
    Git {
        url: String,
        revision: String,
        message: String,
    },

    #[error("{url}: commit {commit}: symbolic link {path:?} points outside the repository")]
    SymlinkOutOfBounds {
        url: String,
        commit: String,
        path: String,
    },

    #[error("{url}: commit {commit}: no file {path:?}")]
    FileNotFound {
        url: String,
        commit: String,
        path: String,
    },

    #[error("environment variable {variable} holds a repository secret but is not set")]
    MissingSecret { variable: String },

    /// The message ends in the I/O error's, so it is not also a `source()`.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a failure happened, for building [`Error`]s: the redacted URL, the revision asked for
/// and the secrets to scrub from messages written by gix or a subprocess.
pub(crate) struct Context<'a> {
    pub url: &'a str,
    pub revision: &'a str,
    pub secrets: Vec<&'a str>,
}

impl Context<'_> {
    /// Classifies a gix failure by gix's own error classes (set by its transports: HTTP status,
    /// I/O errors, process exits), and keeps only its redacted text.
    pub fn gix(&self, err: &gix::Error) -> Error {
        let message = self.message(err);
        let url = self.url.to_string();
        let revision = self.revision.to_string();
        let classes = || err.classify();
        if classes().is_unauthenticated()
            || classes().is_permission_denied()
            || message.contains(REFUSED_IDENTITY)
        {
            Error::Auth {
                url,
                revision,
                message,
            }
        } else if classes().is_not_found() || looks_like_missing_repository(&message) {
            Error::NotARepository { url, message }
        } else if classes().can_retry() || has_io_error(err) {
            Error::Network {
                url,
                revision,
                message,
            }
        } else {
            Error::Git {
                url,
                revision,
                message,
            }
        }
    }

    /// A gix failure that is not about the remote (opening or reading the local cache).
    pub fn local_git(&self, err: &gix::Error) -> Error {
        Error::Git {
            url: self.url.to_string(),
            revision: self.revision.to_string(),
            message: self.message(err),
        }
    }

    pub fn unknown_revision(&self) -> Error {
        Error::UnknownRevision {
            url: self.url.to_string(),
            revision: self.revision.to_string(),
        }
    }

    /// The whole chain of causes on one line, redacted.
    fn message(&self, err: &gix::Error) -> String {
        let mut parts: Vec<String> = Vec::new();
        for cause in err.iter_errors() {
            let text = cause.to_string();
            if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
        }
        redact_text(&parts.join(": "), &self.secrets)
    }
}

/// gix's (unclassified) refusal to send credentials in clear text over http.
const REFUSED_IDENTITY: &str = "refuses to use a given identity";

/// `git-upload-pack` (file://, ssh) reports a missing repository only in its stderr text.
fn looks_like_missing_repository(message: &str) -> bool {
    message.contains("does not appear to be a git repository")
        || message.contains("not a git repository")
        || message.contains("Repository not found")
}

fn has_io_error(err: &gix::Error) -> bool {
    err.iter_errors()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some())
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |error| Error::Io { path, error }
}
