//! What an Application's `repoURL` points at, decided once per call: a Git repository reached
//! through gix (https, ssh, `file://`, or a local repository's path), or a plain local directory
//! used as it is. Also the repository's identity in the cache, so that spellings of one URL
//! (`.git` suffix, trailing slash, host case, embedded credentials) share one cached repository.

use std::path::{Path, PathBuf};

use crate::credentials::Secret;
use crate::error::{Error, Result};
use crate::redact::redact_url;

#[derive(Debug)]
pub(crate) enum Location {
    Git(GitRemote),
    /// A directory that is not a Git repository: its files are the source, at no commit.
    Directory(PathBuf),
}

/// A Git repository to fetch from.
#[derive(Debug)]
pub(crate) struct GitRemote {
    /// What gix connects to: the URL without a password (it moves to `url_password`, so gix's
    /// own messages never see it), or a local repository's absolute path.
    pub fetch_url: String,
    /// The URL as the user wrote it, redacted: the only form used in messages.
    pub display: String,
    /// Cache identity (see [`cache_key`]).
    pub key: String,
    /// User name and password that were embedded in an https URL.
    pub url_account: Option<(String, Secret)>,
}

impl Location {
    pub fn parse(repo_url: &str) -> Result<Location> {
        let url = repo_url.trim();
        let display = redact_url(url);
        if let Some(path) = url.strip_prefix("file://") {
            return match local(Path::new(path), &display)? {
                Location::Directory(_) => Err(Error::NotARepository {
                    url: display,
                    message: "a file:// URL must name a Git repository".into(),
                }),
                git => Ok(git),
            };
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            return Ok(Location::Git(network(scheme, rest, display)));
        }
        if let Some((host, path)) = scp_like(url) {
            return Ok(Location::Git(GitRemote {
                fetch_url: url.to_string(),
                key: format!("ssh://{}/{}", host.to_ascii_lowercase(), trim_path(path)),
                display,
                url_account: None,
            }));
        }
        local(Path::new(url), &display)
    }
}

/// `https://user:pw@Host/org/repo.git/` and the like.
fn network(scheme: &str, rest: &str, display: String) -> GitRemote {
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (user_info, host) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (user, password) = match user_info.map(|info| info.split_once(':')) {
        Some(Some((user, password))) => (Some(user), Some(password)),
        Some(None) => (user_info, None),
        None => (None, None),
    };
    let fetch_url = match user {
        Some(user) => format!("{scheme}://{user}@{host}{path}"),
        None => format!("{scheme}://{host}{path}"),
    };
    GitRemote {
        fetch_url,
        display,
        key: format!(
            "{}://{}/{}",
            scheme.to_ascii_lowercase(),
            host.to_ascii_lowercase(),
            trim_path(path)
        ),
        url_account: password
            .map(|password| (user.unwrap_or_default().to_string(), Secret::new(password))),
    }
}

/// `git@github.com:org/repo.git` (scp-like ssh): a `:` before any `/`, and more than one
/// character before it (so `C:/x` stays a path).
fn scp_like(url: &str) -> Option<(&str, &str)> {
    let colon = url.find(':')?;
    if url[..colon].contains('/') || colon < 2 {
        return None;
    }
    let authority = &url[..colon];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    Some((host, &url[colon + 1..]))
}

fn local(path: &Path, display: &str) -> Result<Location> {
    let absolute = path.canonicalize().map_err(|err| Error::NotARepository {
        url: display.to_string(),
        message: err.to_string(),
    })?;
    if !absolute.is_dir() {
        return Err(Error::NotARepository {
            url: display.to_string(),
            message: "not a directory".into(),
        });
    }
    if gix::open_opts(&absolute, gix::open::Options::isolated()).is_err() {
        return Ok(Location::Directory(absolute));
    }
    let fetch_url = absolute.to_string_lossy().into_owned();
    Ok(Location::Git(GitRemote {
        key: format!("file://{}", trim_path(&fetch_url)),
        fetch_url,
        display: display.to_string(),
        url_account: None,
    }))
}

/// `/org/repo.git/` → `org/repo`: git hosts serve a repository with and without `.git`.
fn trim_path(path: &str) -> &str {
    let path = path.trim_matches('/');
    path.strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/')
}

/// The cache directory name of a repository: a hash of its key, so any URL maps to a short,
/// filesystem-safe name.
pub(crate) fn cache_dir_name(key: &str) -> String {
    let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, key.as_bytes())
        .expect("hashing in memory cannot fail");
    id.to_hex_with_len(20).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(url: &str) -> GitRemote {
        match Location::parse(url).unwrap() {
            Location::Git(remote) => remote,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn spellings_of_one_repository_share_a_key() {
        let keys: Vec<String> = [
            "https://github.com/org/repo",
            "https://github.com/org/repo.git",
            "https://GitHub.com/org/repo/",
            "https://bot:tok@github.com/org/repo.git",
        ]
        .iter()
        .map(|url| git(url).key)
        .collect();
        assert!(
            keys.iter().all(|k| k == "https://github.com/org/repo"),
            "{keys:?}"
        );
        assert_ne!(
            git("https://github.com/org/Repo").key,
            git("https://github.com/org/repo").key,
            "paths are case-sensitive"
        );
    }

    #[test]
    fn password_moves_out_of_the_url() {
        let remote = git("https://bot:s3cret@example.com/r.git");
        assert_eq!(remote.fetch_url, "https://bot@example.com/r.git");
        assert_eq!(remote.display, "https://bot:***@example.com/r.git");
        let (user, password) = remote.url_account.unwrap();
        assert_eq!((user.as_str(), password.expose()), ("bot", "s3cret"));
        assert!(!format!("{:?}", git("https://bot:s3cret@example.com/r")).contains("s3cret"));
    }

    #[test]
    fn scp_like_and_ssh_urls_are_git_remotes() {
        let scp = git("git@github.com:org/repo.git");
        assert_eq!(scp.fetch_url, "git@github.com:org/repo.git");
        assert_eq!(scp.key, "ssh://github.com/org/repo");
        assert_eq!(
            git("ssh://git@github.com/org/repo").key,
            "ssh://github.com/org/repo"
        );
    }

    #[test]
    fn plain_directory_and_missing_path() {
        let dir = tempfile::tempdir().unwrap();
        match Location::parse(dir.path().to_str().unwrap()).unwrap() {
            Location::Directory(path) => assert_eq!(path, dir.path().canonicalize().unwrap()),
            other => panic!("{other:?}"),
        }
        let file_url = format!("file://{}", dir.path().display());
        assert!(matches!(
            Location::parse(&file_url),
            Err(Error::NotARepository { .. })
        ));
        assert!(matches!(
            Location::parse("/surely/not/here"),
            Err(Error::NotARepository { .. })
        ));
    }

    #[test]
    fn cache_dir_names_are_stable_and_distinct() {
        let a = cache_dir_name("https://github.com/org/a");
        assert_eq!(a, cache_dir_name("https://github.com/org/a"));
        assert_ne!(a, cache_dir_name("https://github.com/org/b"));
        assert_eq!(a.len(), 20);
    }
}
