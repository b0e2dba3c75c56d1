//! The Source stage against real Git repositories built with the `git` CLI in temporary
//! directories, fetched over `file://` and plain paths (git-upload-pack, as for ssh).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bosun_source::{Commit, Credentials, Error, RepoCache, Secret};

/// A repository to fetch from, with deterministic commits.
struct Upstream {
    dir: tempfile::TempDir,
    commits: u32,
}

impl Upstream {
    fn new() -> Upstream {
        let upstream = Upstream {
            dir: tempfile::tempdir().unwrap(),
            commits: 0,
        };
        upstream.git(&["init", "-q", "-b", "main"]);
        upstream.git(&["config", "user.name", "Test"]);
        upstream.git(&["config", "user.email", "test@example.com"]);
        upstream
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    fn git(&self, args: &[&str]) -> String {
        let date = format!("2026-01-01T00:{:02}:00Z", self.commits);
        let output = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// Writes `files` (creating directories), commits everything, returns the commit id.
    fn commit(&mut self, files: &[(&str, &str)]) -> String {
        for (path, content) in files {
            let path = self.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        self.commits += 1;
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", &format!("commit {}", self.commits)]);
        self.git(&["rev-parse", "HEAD"])
    }
}

fn cache() -> (tempfile::TempDir, RepoCache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = RepoCache::new(dir.path().join("cache")).unwrap();
    (dir, cache)
}

fn anonymous() -> Credentials {
    Credentials::none()
}

/// Every file under `dir` with its content, by path relative to `dir`.
fn files_under(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(relative, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn resolves_branches_tags_commit_ids_and_head() {
    let mut upstream = Upstream::new();
    let first = upstream.commit(&[("app/deploy.yaml", "v: 1\n")]);
    upstream.git(&["tag", "light"]);
    upstream.git(&["branch", "feature"]);
    let second = upstream.commit(&[("app/deploy.yaml", "v: 2\n")]);
    upstream.git(&["tag", "-a", "v1.0.0", "-m", "release"]);
    let (_dir, cache) = cache();
    let url = upstream.url();

    let resolve = |revision: &str| cache.resolve(&url, revision, &anonymous()).unwrap();
    assert_eq!(resolve("main").as_str(), second);
    assert_eq!(resolve("").as_str(), second);
    assert_eq!(resolve("HEAD").as_str(), second);
    assert_eq!(resolve("feature").as_str(), first);
    assert_eq!(resolve("refs/heads/feature").as_str(), first);
    assert_eq!(resolve("light").as_str(), first, "lightweight tag");
    assert_eq!(resolve("v1.0.0").as_str(), second, "annotated tag, peeled");
    assert_eq!(resolve(&first).as_str(), first, "full commit id");
    assert_eq!(
        resolve(&first[..7]).as_str(),
        first,
        "abbreviated commit id"
    );
}

#[test]
fn commit_id_not_yet_cached_is_fetched_with_all_branches() {
    let mut upstream = Upstream::new();
    let old = upstream.commit(&[("a", "1")]);
    upstream.commit(&[("a", "2")]);
    let (_dir, cache) = cache();

    assert_eq!(
        cache
            .resolve(&upstream.url(), &old[..10], &anonymous())
            .unwrap()
            .as_str(),
        old
    );
    assert_eq!(cache.stats().fetches, 1);
    // Cached now: a full id is answered without asking the remote anything.
    let listings = cache.stats().ref_listings;
    assert_eq!(
        cache
            .resolve(&upstream.url(), &old, &anonymous())
            .unwrap()
            .as_str(),
        old
    );
    assert_eq!(cache.stats().ref_listings, listings);
    assert_eq!(cache.stats().fetches, 1);
}

#[test]
fn a_new_commit_is_fetched_and_an_unchanged_branch_is_not() {
    let mut upstream = Upstream::new();
    let first = upstream.commit(&[("a", "1")]);
    let (_dir, cache) = cache();
    let url = upstream.url();

    assert_eq!(
        cache.resolve(&url, "main", &anonymous()).unwrap().as_str(),
        first
    );
    assert_eq!(cache.stats().fetches, 1);

    assert_eq!(
        cache.resolve(&url, "main", &anonymous()).unwrap().as_str(),
        first
    );
    let stats = cache.stats();
    assert_eq!(stats.fetches, 1, "unchanged branch: listed, not fetched");
    assert_eq!(stats.ref_listings, 2);

    let second = upstream.commit(&[("a", "2")]);
    assert_eq!(
        cache.resolve(&url, "main", &anonymous()).unwrap().as_str(),
        second
    );
    assert_eq!(cache.stats().fetches, 2);

    // A second cache on the same directory (a restarted bosun) finds the objects on disk.
    let again = RepoCache::new(cache.root()).unwrap();
    assert_eq!(
        again.resolve(&url, "main", &anonymous()).unwrap().as_str(),
        second
    );
    assert_eq!(again.stats().fetches, 0);
}

#[test]
fn concurrent_callers_share_one_fetch_and_one_tree() {
    let mut upstream = Upstream::new();
    let head = upstream.commit(&[("k/a.yaml", "a"), ("b.yaml", "b")]);
    let (_dir, cache) = cache();
    let url = upstream.url();
    let callers = 16;
    let barrier = Arc::new(Barrier::new(callers));

    let handles: Vec<_> = (0..callers)
        .map(|_| {
            let (cache, url, barrier) = (cache.clone(), url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let commit = cache.resolve(&url, "main", &anonymous()).unwrap();
                cache.checkout(&url, &commit, &anonymous()).unwrap()
            })
        })
        .collect();
    let checkouts: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    assert!(
        checkouts
            .iter()
            .all(|c| c.commit.as_str() == head && c.dir == checkouts[0].dir)
    );
    let stats = cache.stats();
    assert_eq!(stats.fetches, 1, "{stats:?}");
    assert_eq!(stats.trees_written, 1, "{stats:?}");
}

#[test]
fn checkout_holds_exactly_the_commits_files() {
    let mut upstream = Upstream::new();
    let first = upstream.commit(&[
        ("apps/guestbook/deployment.yaml", "kind: Deployment\n"),
        (
            "apps/guestbook/overlays/prod/kustomization.yaml",
            "resources: []\n",
        ),
        ("README.md", "hello\n"),
    ]);
    upstream.commit(&[
        ("apps/guestbook/deployment.yaml", "changed\n"),
        ("new.txt", "x"),
    ]);
    let (_dir, cache) = cache();
    let url = upstream.url();

    let commit = cache.resolve(&url, &first, &anonymous()).unwrap();
    let checkout = cache.checkout(&url, &commit, &anonymous()).unwrap();
    assert_eq!(checkout.dir, cache.root().join("trees").join(&first));
    let expected: BTreeMap<String, String> = [
        ("README.md", "hello\n"),
        ("apps/guestbook/deployment.yaml", "kind: Deployment\n"),
        (
            "apps/guestbook/overlays/prod/kustomization.yaml",
            "resources: []\n",
        ),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_string(), c.to_string()))
    .collect();
    assert_eq!(files_under(&checkout.dir), expected);

    let metadata = std::fs::metadata(checkout.dir.join("README.md")).unwrap();
    assert!(metadata.permissions().readonly());

    assert_eq!(
        cache
            .read_file(&url, &commit, "apps/guestbook/deployment.yaml")
            .unwrap(),
        b"kind: Deployment\n"
    );
    assert!(matches!(
        cache.read_file(&url, &commit, "new.txt"),
        Err(Error::FileNotFound { .. })
    ));
}

#[test]
fn checkout_of_a_commit_the_cache_lacks_fetches_it() {
    let mut upstream = Upstream::new();
    let head = upstream.commit(&[("x", "1")]);
    let (_dir, cache) = cache();
    let checkout = cache
        .checkout(&upstream.url(), &Commit::new(head.clone()), &anonymous())
        .unwrap();
    assert_eq!(
        files_under(&checkout.dir).get("x").map(String::as_str),
        Some("1")
    );
    assert_eq!(cache.stats().fetches, 1);
}

#[test]
fn missing_revisions_are_named() {
    let mut upstream = Upstream::new();
    upstream.commit(&[("x", "1")]);
    let (_dir, cache) = cache();

    let err = cache
        .resolve(&upstream.url(), "no-such-branch", &anonymous())
        .unwrap_err();
    assert!(matches!(err, Error::UnknownRevision { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("no-such-branch"), "{message}");
    assert!(
        message.contains(&upstream.path().display().to_string()),
        "{message}"
    );

    let absent = "0123456789abcdef0123456789abcdef01234567";
    let err = cache
        .resolve(&upstream.url(), absent, &anonymous())
        .unwrap_err();
    assert!(matches!(err, Error::UnknownRevision { .. }), "{err:?}");
    assert!(err.to_string().contains(absent));
}

#[test]
fn a_local_repository_path_works_like_file_url_and_shares_its_cache() {
    let mut upstream = Upstream::new();
    let head = upstream.commit(&[("x", "1")]);
    let (_dir, cache) = cache();
    let path = upstream.path().display().to_string();

    assert_eq!(
        cache.resolve(&path, "main", &anonymous()).unwrap().as_str(),
        head
    );
    assert_eq!(
        cache
            .resolve(&upstream.url(), "main", &anonymous())
            .unwrap()
            .as_str(),
        head
    );
    assert_eq!(
        cache.stats().fetches,
        1,
        "one cached repository for both spellings"
    );
    assert_eq!(
        std::fs::read_dir(cache.root().join("repos"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn a_plain_directory_is_used_as_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.yaml"), "kind: ConfigMap\n").unwrap();
    let (_cache_dir, cache) = cache();
    let url = dir.path().display().to_string();

    let commit = cache.resolve(&url, "", &anonymous()).unwrap();
    assert!(commit.is_local());
    let checkout = cache.checkout(&url, &commit, &anonymous()).unwrap();
    assert_eq!(checkout.dir, dir.path().canonicalize().unwrap());
    assert_eq!(
        cache.read_file(&url, &commit, "app.yaml").unwrap(),
        b"kind: ConfigMap\n"
    );
    assert!(matches!(
        cache.resolve(&url, "main", &anonymous()),
        Err(Error::UnknownRevision { .. })
    ));
    // file:// promises a Git repository.
    let err = cache
        .resolve(&format!("file://{url}"), "", &anonymous())
        .unwrap_err();
    assert!(matches!(err, Error::NotARepository { .. }), "{err:?}");
}

#[test]
fn a_token_in_the_url_never_appears_in_errors() {
    // Nothing listens on port 1 of the loopback interface: the connection is refused.
    let (_dir, cache) = cache();
    let url = "http://bot:s3cr3t-t0ken@127.0.0.1:1/org/repo.git";
    let err = cache.resolve(url, "main", &anonymous()).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("s3cr3t-t0ken"), "{text}");
    assert!(
        text.contains("http://bot:***@127.0.0.1:1/org/repo.git"),
        "{text}"
    );
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
}

/// A loopback HTTP server that demands credentials: answers one request with 401 and returns
/// the `Authorization` header it carried (waiting at most 10 s for it).
fn unauthorized_server() -> (String, std::thread::JoinHandle<Vec<Option<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/org/repo.git",
        listener.local_addr().unwrap().port()
    );
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while Instant::now() < deadline && seen.is_empty() {
            let mut stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request).to_string();
            seen.push(request.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("authorization")
                    .then(|| value.trim().to_string())
            }));
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        seen
    });
    (url, handle)
}

#[test]
fn without_credentials_a_401_is_an_auth_error_and_nothing_prompts() {
    let (url, server) = unauthorized_server();
    let (_dir, cache) = cache();
    let err = cache.resolve(&url, "main", &anonymous()).unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert_eq!(server.join().unwrap(), vec![None]);
}

/// gix sends credentials only over https; on plain http it refuses rather than leak them.
#[test]
fn credentials_are_never_sent_over_plain_http() {
    let (url, server) = unauthorized_server();
    let (_dir, cache) = cache();
    let credentials = Credentials {
        username: Some("bot".into()),
        secret: Some(Secret::new("s3cr3t-t0ken")),
        ssh_key_file: None,
    };
    let err = cache.resolve(&url, "main", &credentials).unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("s3cr3t-t0ken"));
    assert_eq!(
        server.join().unwrap(),
        vec![None],
        "no request carried the token"
    );
}

/// Issue 14: every fetch adds a pack, and gix sizes its object store's index slots when the
/// repository is opened (32 for a new one). A cache that kept one store open stopped at the
/// 32nd fetch with "too few index slots"; bosun serve then never deployed that repository again.
#[test]
fn two_hundred_commits_fetched_one_by_one_are_each_checked_out() {
    let mut upstream = Upstream::new();
    let (_dir, cache) = cache();
    let url = upstream.url();
    for n in 1..=200 {
        let content = format!("n: {n}\n");
        let id = upstream.commit(&[("app/n.yaml", &content)]);
        let commit = cache
            .resolve(&url, "main", &anonymous())
            .unwrap_or_else(|e| panic!("commit {n}: {e}"));
        assert_eq!(commit.as_str(), id, "commit {n}");
        let checkout = cache
            .checkout(&url, &commit, &anonymous())
            .unwrap_or_else(|e| panic!("commit {n}: {e}"));
        assert_eq!(
            std::fs::read_to_string(checkout.dir.join("app/n.yaml")).unwrap(),
            content
        );
    }
    assert_eq!(cache.stats().fetches, 200);
    // The packs were consolidated under a multi-pack index that git itself accepts.
    let repos: Vec<_> = std::fs::read_dir(cache.root().join("repos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(repos.len(), 1);
    let pack_dir = repos[0].join("objects/pack");
    assert!(pack_dir.join("multi-pack-index").is_file());
    let verify = Command::new("git")
        .args(["multi-pack-index", "verify", "--object-dir"])
        .arg(repos[0].join("objects"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    // A restarted bosun opens the same directory and still reads every commit.
    let again = RepoCache::new(cache.root()).unwrap();
    assert_eq!(
        again.resolve(&url, "main", &anonymous()).unwrap().as_str(),
        upstream.git(&["rev-parse", "HEAD"])
    );
    assert_eq!(again.stats().fetches, 0);
}
