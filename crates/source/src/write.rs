//! Writing to Git: one file's new content committed on a branch and pushed, never forced.
//!
//! Two writers racing on one branch is the normal case for image write-back (a person commits
//! while bosun writes a tag; CI and bosun both write). Users of other tools lose an update or
//! see a force-push. Here a push that the remote rejects because the branch moved is answered
//! by fetching the new head and asking the caller to make its change again on that head's file
//! (the caller decides whether someone else's change conflicts with its own), then pushing
//! again, with backoff, a bounded number of times.
//!
//! The commit is built with Git's plumbing (`hash-object`, a private index, `write-tree`,
//! `commit-tree`), so it needs no work tree: `bosun serve` writes from a bare repository of its
//! own, and `bosun image set` from the user's clone without touching their index or other
//! files. gix reads but cannot push, so this is the `git` CLI (DESIGN: write behind one type).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::credentials::Credentials;
use crate::redact::{redact_text, redact_url};

/// The longest any one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(300);

/// Who a commit is by (author and committer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl Default for Author {
    fn default() -> Self {
        Author {
            name: "bosun".to_string(),
            email: "bosun@localhost".to_string(),
        }
    }
}

/// How a write failed. Messages never hold a credential.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{remote}: branch {branch} not found")]
    NoBranch { remote: String, branch: String },
    #[error("{remote}: commit {commit} has no file {path}")]
    NoFile {
        remote: String,
        commit: String,
        path: String,
    },
    /// The caller found that someone else's change conflicts with its own.
    #[error("{0}")]
    Conflict(String),
    #[error(
        "{remote}: the push of {branch} was rejected {attempts} times (the branch kept moving)"
    )]
    KeptMoving {
        remote: String,
        branch: String,
        attempts: usize,
    },
    #[error("{remote}: git {command} failed: {message}")]
    Git {
        remote: String,
        command: String,
        message: String,
    },
    /// The message ends in the I/O error's, so it is not also a `source()`.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A repository to commit in and the remote to push to.
#[derive(Debug, Clone)]
pub struct Writer {
    git_dir: PathBuf,
    /// A remote's name (`origin`) or URL.
    remote: String,
    credentials: Credentials,
    /// bosun's own repository (its credentials only, no helper of the user's), rather than the
    /// user's clone (whose credential helper a push may need).
    own: bool,
    /// How many pushes are tried before giving up on a branch that keeps moving.
    pub attempts: usize,
    /// The first wait after a rejected push; doubled after each.
    pub backoff: Duration,
}

/// A directory name for a bosun-owned clone of a repository URL: readable, and unique by a hash
/// (credentials in the URL never reach it).
pub fn dir_name(url: &str) -> String {
    use sha2::Digest as _;
    let hash: String = sha2::Sha256::digest(url.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let tail: String = crate::redact_url(url)
        .rsplit('/')
        .next()
        .unwrap_or("repo")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    format!("{tail}-{hash}")
}

/// What [`Writer::commit_and_push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// A commit was pushed; `attempts` counts the pushes it took.
    Commit { id: String, attempts: usize },
    /// The branch already holds the change: nothing was committed.
    Unchanged { head: String },
}

/// One change to make: `edit` maps the file's content at a head to its new content, or says
/// that the change is already there (`Ok(None)`) or conflicts (`Err(message)`).
pub struct FileChange<'a> {
    pub path: &'a str,
    pub message: &'a str,
    pub author: &'a Author,
    pub edit: &'a dyn Fn(&str) -> Result<Option<String>, String>,
}

enum PushResult {
    Done,
    /// The remote branch moved since our parent: fetch and try again.
    Moved,
}

impl Writer {
    /// A bare repository of bosun's own at `dir` (created when missing) that pushes to `url`.
    pub fn bare(
        dir: impl Into<PathBuf>,
        url: &str,
        credentials: Credentials,
    ) -> Result<Writer, WriteError> {
        Writer::check_remote(url)?;
        let git_dir = dir.into();
        if !git_dir.join("HEAD").exists() {
            std::fs::create_dir_all(&git_dir).map_err(|error| WriteError::Io {
                path: git_dir.clone(),
                error,
            })?;
            let writer = Writer::new(git_dir.clone(), url.to_string(), credentials.clone(), true);
            writer.git(&["init", "--bare", "--quiet"], None)?;
        }
        Ok(Writer::new(git_dir, url.to_string(), credentials, true))
    }

    /// The user's clone at `dir` (any directory inside it), pushing to its remote `remote`.
    pub fn clone_at(dir: &Path, remote: &str) -> Result<Writer, WriteError> {
        Writer::check_remote(remote)?;
        let probe = Writer::new(
            dir.to_path_buf(),
            remote.to_string(),
            Credentials::default(),
            false,
        );
        let out = probe.git_in(dir, &["rev-parse", "--absolute-git-dir"], None)?;
        Ok(Writer::new(
            PathBuf::from(out.trim()),
            remote.to_string(),
            Credentials::default(),
            false,
        ))
    }

    fn new(git_dir: PathBuf, remote: String, credentials: Credentials, own: bool) -> Writer {
        Writer {
            git_dir,
            remote,
            credentials,
            own,
            attempts: 5,
            backoff: Duration::from_millis(200),
        }
    }

    /// A remote git would read as an option (`--upload-pack=…`) is refused: repository URLs
    /// come from Applications, which their authors control.
    fn check_remote(remote: &str) -> Result<(), WriteError> {
        if remote.starts_with('-') || remote.trim().is_empty() || remote.contains(['\n', '\0']) {
            return Err(WriteError::Git {
                remote: redact_url(remote),
                command: "remote".to_string(),
                message: "not a repository URL or remote name".to_string(),
            });
        }
        Ok(())
    }

    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// Fetches `branch` from the remote; its head, or `None` when the remote has no such branch.
    pub fn fetch(&self, branch: &str) -> Result<Option<String>, WriteError> {
        let refspec = format!("+refs/heads/{branch}:{}", tracking_ref(branch));
        let out = self.run(
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--",
                &self.remote,
                &refspec,
            ],
            None,
        )?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("couldn't find remote ref") {
                return Ok(None);
            }
            return Err(self.failed("fetch", &stderr));
        }
        self.resolve(&tracking_ref(branch))
    }

    /// The remote's default branch (what its `HEAD` points at).
    pub fn default_branch(&self) -> Result<String, WriteError> {
        let out = self.git(&["ls-remote", "--symref", "--", &self.remote, "HEAD"], None)?;
        out.lines()
            .find_map(|l| l.strip_prefix("ref: refs/heads/"))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string)
            .ok_or_else(|| WriteError::NoBranch {
                remote: self.remote_name(),
                branch: "HEAD".to_string(),
            })
    }

    /// The commit a ref or revision names, if any.
    pub fn resolve(&self, revision: &str) -> Result<Option<String>, WriteError> {
        let spec = format!("{revision}^{{commit}}");
        let out = self.run(&["rev-parse", "--verify", "--quiet", &spec], None)?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }

    /// The content of `path` at `commit`, or `None` when the commit has no such file.
    pub fn read(&self, commit: &str, path: &str) -> Result<Option<Vec<u8>>, WriteError> {
        let spec = format!("{commit}:{path}");
        let out = self.run(&["cat-file", "blob", &spec], None)?;
        Ok(out.status.success().then_some(out.stdout))
    }

    /// Whether `ancestor` is an ancestor of (or equal to) `commit`.
    pub fn is_ancestor(&self, ancestor: &str, commit: &str) -> Result<bool, WriteError> {
        let out = self.run(&["merge-base", "--is-ancestor", ancestor, commit], None)?;
        Ok(out.status.success())
    }

    /// A commit on `parent` that sets `path` to `content`; no ref moves.
    pub fn commit(
        &self,
        parent: &str,
        path: &str,
        content: &[u8],
        message: &str,
        author: &Author,
    ) -> Result<String, WriteError> {
        let listing = self.git(&["ls-tree", parent, "--", path], None)?;
        let mode = listing
            .split_whitespace()
            .next()
            .filter(|m| m.starts_with("100"))
            .ok_or_else(|| WriteError::NoFile {
                remote: self.remote_name(),
                commit: parent.to_string(),
                path: path.to_string(),
            })?
            .to_string();
        let blob = self.git(&["hash-object", "-w", "--stdin"], Some(content))?;
        let entry = format!("{mode},{},{path}", blob.trim());
        self.commit_index(
            parent,
            &["update-index", "--cacheinfo", &entry],
            None,
            message,
            author,
        )
    }

    /// The files of the folder `path` (`""` or `.`: the whole tree) at `commit`, as `ls-tree -r`
    /// prints them (mode, blob and path of each: two commits with the same listing have the
    /// same folder), which is what `update-index --index-info` reads.
    fn folder(&self, commit: &str, path: &str) -> Result<String, WriteError> {
        let path = path.trim_matches('/');
        let mut args = vec!["ls-tree", "-r", "-z", "--full-tree", commit];
        if !path.is_empty() && path != "." {
            args.extend(["--", path]);
        }
        self.git(&args, None)
    }

    /// Whether the folder `path` is the same at commits `a` and `b`.
    pub fn same_folder(&self, a: &str, b: &str, path: &str) -> Result<bool, WriteError> {
        Ok(self.folder(a, path)? == self.folder(b, path)?)
    }

    /// A commit on `parent` whose tree is `parent`'s with the folder `path` (`""` or `.`: the
    /// whole tree) as it is in `from`: files added since are removed, changed ones restored,
    /// removed ones brought back. No ref moves. `None` when nothing differs.
    pub fn restore(
        &self,
        parent: &str,
        from: &str,
        path: &str,
        message: &str,
        author: &Author,
    ) -> Result<Option<String>, WriteError> {
        let (now, then) = (self.folder(parent, path)?, self.folder(from, path)?);
        if now == then {
            return Ok(None);
        }
        let mut info = String::new();
        let records = |listing: &str| -> Vec<String> {
            listing
                .split('\0')
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect()
        };
        for record in records(&now) {
            if let Some((_, file)) = record.split_once('\t') {
                info.push_str(&format!("0 {}\t{file}\0", "0".repeat(40)));
            }
        }
        for record in records(&then) {
            info.push_str(&record);
            info.push('\0');
        }
        self.commit_index(
            parent,
            &["update-index", "-z", "--index-info"],
            Some(info.as_bytes()),
            message,
            author,
        )
        .map(Some)
    }

    /// A commit on `parent` of `parent`'s tree changed by `change` (a git command run on a
    /// private index, fed `input`), so that no work tree or shared index is touched; no ref
    /// moves.
    fn commit_index(
        &self,
        parent: &str,
        change: &[&str],
        input: Option<&[u8]>,
        message: &str,
        author: &Author,
    ) -> Result<String, WriteError> {
        let index = tempfile_in(&self.git_dir)?;
        let with_index = |args: &[&str], input: Option<&[u8]>| -> Result<String, WriteError> {
            let mut command = self.command(args);
            command.env("GIT_INDEX_FILE", &index);
            let out = self.output(command, input)?;
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
            } else {
                Err(self.failed(args[0], &String::from_utf8_lossy(&out.stderr)))
            }
        };
        let result = (|| {
            with_index(&["read-tree", parent], None)?;
            with_index(change, input)?;
            with_index(&["write-tree"], None)
        })();
        let _ = std::fs::remove_file(&index);
        let tree = result?;
        let mut command = self.command(&["commit-tree", &tree, "-p", parent, "-F", "-"]);
        command
            .env("GIT_AUTHOR_NAME", &author.name)
            .env("GIT_AUTHOR_EMAIL", &author.email)
            .env("GIT_COMMITTER_NAME", &author.name)
            .env("GIT_COMMITTER_EMAIL", &author.email);
        let out = self.output(command, Some(message.as_bytes()))?;
        if !out.status.success() {
            return Err(self.failed("commit-tree", &String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Pushes `commit` to `branch` once, without force: `false` when the branch moved (the
    /// caller decides whether its commit still makes sense on the new head).
    pub fn push_once(&self, commit: &str, branch: &str) -> Result<bool, WriteError> {
        Ok(matches!(self.push(commit, branch)?, PushResult::Done))
    }

    /// Pushes `commit` to `branch` without force.
    fn push(&self, commit: &str, branch: &str) -> Result<PushResult, WriteError> {
        let refspec = format!("{commit}:refs/heads/{branch}");
        let out = self.run(&["push", "--porcelain", "--", &self.remote, &refspec], None)?;
        if out.status.success() {
            return Ok(PushResult::Done);
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let moved = [
            "non-fast-forward",
            "fetch first",
            "stale info",
            "cannot lock ref",
        ];
        if stdout.lines().any(|l| l.starts_with('!'))
            && moved
                .iter()
                .any(|m| stdout.contains(m) || stderr.contains(m))
        {
            return Ok(PushResult::Moved);
        }
        Err(self.failed("push", &format!("{stdout}{stderr}")))
    }

    /// Makes `change` on the head of `base` and pushes it to `target` (the same branch, or a
    /// branch of its own for a pull request, which then starts at `base` unless it exists).
    /// When `first` is given, it is a commit already made on `first_parent` and is pushed as is
    /// on the first attempt (the user's own clone, where the commit is already on their branch).
    pub fn commit_and_push(
        &self,
        base: &str,
        target: &str,
        change: &FileChange<'_>,
        first: Option<(&str, &str)>,
    ) -> Result<Pushed, WriteError> {
        let pushed = self.push_retrying(target, |attempt| {
            if let (1, Some((commit, _))) = (attempt, first) {
                return Ok(Ok(commit.to_string()));
            }
            let head = match self.fetch(target)? {
                Some(head) => head,
                None => self.fetch(base)?.ok_or_else(|| WriteError::NoBranch {
                    remote: self.remote_name(),
                    branch: base.to_string(),
                })?,
            };
            if let (2.., Some((_, first_parent))) = (attempt, first)
                && !self.is_ancestor(first_parent, &head)?
            {
                return Err(WriteError::Conflict(format!(
                    "{target} on {} moved and your branch has commits it does not have; \
                     pull (git pull --rebase) and run again",
                    self.remote_name()
                )));
            }
            let current = self
                .read(&head, change.path)?
                .ok_or_else(|| WriteError::NoFile {
                    remote: self.remote_name(),
                    commit: head.clone(),
                    path: change.path.to_string(),
                })?;
            let current = String::from_utf8_lossy(&current);
            match (change.edit)(&current).map_err(WriteError::Conflict)? {
                None => Ok(Err(Pushed::Unchanged { head })),
                Some(content) => self
                    .commit(
                        &head,
                        change.path,
                        content.as_bytes(),
                        change.message,
                        change.author,
                    )
                    .map(Ok),
            }
        })?;
        Ok(match pushed {
            Ok((id, attempts)) => Pushed::Commit { id, attempts },
            Err(unchanged) => unchanged,
        })
    }

    /// Pushes to `branch`, without force, what `commit_on_head(attempt)` makes (`Ok(commit)`),
    /// again on the new head each time the push finds the branch moved, with a growing wait,
    /// up to `attempts` pushes: `Ok((commit, pushes))`. `commit_on_head` may instead stop
    /// (`Err(why)`: the change is there already, or no longer makes sense on the new head).
    /// Blocking (it runs git, and waits between attempts).
    pub fn push_retrying<T>(
        &self,
        branch: &str,
        mut commit_on_head: impl FnMut(usize) -> Result<Result<String, T>, WriteError>,
    ) -> Result<Result<(String, usize), T>, WriteError> {
        let mut wait = self.backoff;
        for attempt in 1..=self.attempts {
            let commit = match commit_on_head(attempt)? {
                Ok(commit) => commit,
                Err(stop) => return Ok(Err(stop)),
            };
            match self.push(&commit, branch)? {
                PushResult::Done => return Ok(Ok((commit, attempt))),
                PushResult::Moved => {
                    tracing::info!(branch, attempt, "push rejected: the branch moved");
                    if attempt < self.attempts {
                        std::thread::sleep(wait);
                        wait *= 2;
                    }
                }
            }
        }
        Err(WriteError::KeptMoving {
            remote: self.remote_name(),
            branch: branch.to_string(),
            attempts: self.attempts,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .arg("--git-dir")
            .arg(&self.git_dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            // Git's messages are read (a rejected push, a missing branch): in English.
            .env("LC_ALL", "C")
            // A transfer that stalls fails instead of holding the repository's lock for good.
            .env("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
            .env("GIT_HTTP_LOW_SPEED_TIME", "30")
            .env_remove("GIT_INDEX_FILE")
            .stdin(Stdio::null());
        self.authenticate(&mut command);
        command
    }

    /// Credentials reach git through the environment (never the command line, which other
    /// users of the machine can read): an `http.extraHeader` for https, `GIT_SSH_COMMAND` for
    /// ssh. Credential helpers are switched off so that nothing prompts.
    fn authenticate(&self, command: &mut Command) {
        let mut config = Vec::new();
        if self.own {
            config.push(("credential.helper".to_string(), String::new()));
        }
        if let Some(secret) = &self.credentials.secret {
            use base64::Engine as _;
            let user = self.credentials.username.as_deref().unwrap_or("git");
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{user}:{}", secret.expose()));
            config.push((
                "http.extraHeader".to_string(),
                format!("Authorization: Basic {token}"),
            ));
        }
        command.env("GIT_CONFIG_COUNT", config.len().to_string());
        for (i, (key, value)) in config.iter().enumerate() {
            command
                .env(format!("GIT_CONFIG_KEY_{i}"), key)
                .env(format!("GIT_CONFIG_VALUE_{i}"), value);
        }
        if let Some(key) = &self.credentials.ssh_key_file {
            command.env(
                "GIT_SSH_COMMAND",
                format!(
                    "ssh -i '{}' -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=20 -o ServerAliveInterval=15",
                    key.display()
                ),
            );
        }
    }

    fn output(&self, mut command: Command, input: Option<&[u8]>) -> Result<Output, WriteError> {
        let io = |error| WriteError::Io {
            path: self.git_dir.clone(),
            error,
        };
        if input.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io)?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(input).map_err(io)?;
        }
        // A git that hangs (a server that accepts and never answers) is killed: the caller
        // holds the repository's lock, and every Application in it waits on this one.
        let pid = child.id();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if finished.recv_timeout(GIT_TIMEOUT).is_err() {
                let _ = Command::new("kill")
                    .args(["-s", "KILL", &pid.to_string()])
                    .status();
            }
        });
        let output = child.wait_with_output().map_err(io);
        let _ = done.send(());
        let _ = watchdog.join();
        output
    }

    fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<Output, WriteError> {
        self.output(self.command(args), input)
    }

    /// Runs git and returns its trimmed output, or an error with its message.
    fn git(&self, args: &[&str], input: Option<&[u8]>) -> Result<String, WriteError> {
        let out = self.run(args, input)?;
        if !out.status.success() {
            return Err(self.failed(args[0], &String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn git_in(
        &self,
        dir: &Path,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Result<String, WriteError> {
        let mut command = Command::new("git");
        command.current_dir(dir).args(args);
        let out = self.output(command, input)?;
        if !out.status.success() {
            return Err(self.failed(args[0], &String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn remote_name(&self) -> String {
        redact_url(&self.remote)
    }

    fn secrets(&self) -> Vec<&str> {
        self.credentials
            .secret
            .as_ref()
            .map(|s| s.expose())
            .into_iter()
            .collect()
    }

    fn failed(&self, command: &str, message: &str) -> WriteError {
        WriteError::Git {
            remote: self.remote_name(),
            command: command.to_string(),
            message: redact_text(message.trim(), &self.secrets()),
        }
    }
}

/// Where a fetched branch is kept: a namespace of bosun's own, so that a user's
/// `refs/remotes/origin/*` is never moved by bosun.
fn tracking_ref(branch: &str) -> String {
    format!("refs/bosun/remotes/{branch}")
}

fn tempfile_in(dir: &Path) -> Result<PathBuf, WriteError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "bosun-index-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Ok(dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A bare "remote" with `values.yaml` on main, and a clone of it for a racing person.
    fn remote() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let remote = root.path().join("remote.git");
        let person = root.path().join("person");
        git(
            root.path(),
            &["init", "--bare", "-q", "-b", "main", "remote.git"],
        );
        git(
            root.path(),
            &["clone", "-q", remote.to_str().unwrap(), "person"],
        );
        std::fs::write(person.join("values.yaml"), "a: 1\nb: 1\n").unwrap();
        git(&person, &["add", "."]);
        git(&person, &["commit", "-q", "-m", "init"]);
        git(&person, &["push", "-q", "origin", "HEAD:main"]);
        (root, remote, person)
    }

    fn set_a(to: &'static str) -> impl Fn(&str) -> Result<Option<String>, String> {
        move |content: &str| {
            let new: String = content
                .lines()
                .map(|l| {
                    if l.starts_with("a:") {
                        format!("a: {to}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            Ok((new != content).then_some(new))
        }
    }

    #[test]
    fn a_racing_commit_is_kept_and_the_change_is_made_on_top_of_it() {
        let (root, remote, person) = remote();
        let writer = Writer::bare(
            root.path().join("bosun.git"),
            remote.to_str().unwrap(),
            Credentials::default(),
        )
        .unwrap();
        let head = writer.fetch("main").unwrap().unwrap();
        // bosun prepares its commit on the head it saw; meanwhile the person pushes.
        let ours = writer
            .commit(
                &head,
                "values.yaml",
                b"a: 2\nb: 1\n",
                "set a",
                &Author::default(),
            )
            .unwrap();
        std::fs::write(person.join("values.yaml"), "a: 1\nb: 3\n").unwrap();
        git(&person, &["commit", "-q", "-am", "person"]);
        git(&person, &["push", "-q", "origin", "HEAD:main"]);

        let edit = set_a("2");
        let change = FileChange {
            path: "values.yaml",
            message: "set a",
            author: &Author::default(),
            edit: &edit,
        };
        let mut writer = writer;
        writer.backoff = Duration::ZERO;
        let pushed = writer
            .commit_and_push("main", "main", &change, Some((&ours, &head)))
            .unwrap();
        let Pushed::Commit { id, attempts } = pushed else {
            panic!("{pushed:?}")
        };
        assert_eq!(attempts, 2);
        git(&person, &["pull", "-q", "--ff-only"]);
        assert_eq!(git(&person, &["rev-parse", "HEAD"]), id);
        assert_eq!(
            std::fs::read_to_string(person.join("values.yaml")).unwrap(),
            "a: 2\nb: 3\n"
        );
        assert_eq!(
            git(&person, &["log", "-1", "--format=%an <%ae>|%s"]),
            "bosun <bosun@localhost>|set a"
        );

        // Already there: nothing is committed.
        let again = writer
            .commit_and_push("main", "main", &change, None)
            .unwrap();
        assert!(matches!(again, Pushed::Unchanged { .. }), "{again:?}");
    }

    #[test]
    fn restore_puts_one_folder_back_and_leaves_the_rest() {
        let (root, remote, person) = remote();
        let files = |pairs: &[(&str, &str)]| {
            for (path, content) in pairs {
                let file = person.join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, content).unwrap();
            }
        };
        files(&[
            ("app/a.yaml", "a: 1\n"),
            ("app/gone.yaml", "g\n"),
            ("other/x.yaml", "x: 1\n"),
        ]);
        git(&person, &["add", "-A"]);
        git(&person, &["commit", "-q", "-m", "good"]);
        let good = git(&person, &["rev-parse", "HEAD"]);
        files(&[
            ("app/a.yaml", "a: 2\n"),
            ("app/new file.yaml", "n\n"),
            ("other/x.yaml", "x: 2\n"),
        ]);
        std::fs::remove_file(person.join("app/gone.yaml")).unwrap();
        git(&person, &["add", "-A"]);
        git(&person, &["commit", "-q", "-m", "bad"]);
        git(&person, &["push", "-q", "origin", "HEAD:main"]);
        let writer = Writer::bare(
            root.path().join("bosun.git"),
            remote.to_str().unwrap(),
            Credentials::default(),
        )
        .unwrap();
        let head = writer.fetch("main").unwrap().unwrap();
        let author = Author::default();
        let commit = writer
            .restore(&head, &good, "app/", "revert app", &author)
            .unwrap()
            .expect("a commit");
        assert!(writer.push_once(&commit, "main").unwrap());
        git(&person, &["pull", "-q", "--ff-only"]);
        let read = |p: &str| std::fs::read_to_string(person.join(p)).ok();
        assert_eq!(read("app/a.yaml").as_deref(), Some("a: 1\n"));
        assert_eq!(read("app/gone.yaml").as_deref(), Some("g\n"));
        assert_eq!(read("app/new file.yaml"), None);
        assert_eq!(
            read("other/x.yaml").as_deref(),
            Some("x: 2\n"),
            "outside the folder: kept"
        );
        // Nothing left to restore: no commit. A push on a moved branch is refused, not forced.
        assert_eq!(
            writer
                .restore(&commit, &good, "app", "again", &author)
                .unwrap(),
            None
        );
        files(&[("other/x.yaml", "x: 3\n")]);
        git(&person, &["commit", "-q", "-am", "moved"]);
        git(&person, &["push", "-q", "origin", "HEAD:main"]);
        let stale = writer
            .restore(&head, &good, "app", "late", &author)
            .unwrap()
            .unwrap();
        assert!(!writer.push_once(&stale, "main").unwrap());
    }

    #[test]
    fn a_remote_that_git_would_read_as_an_option_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let error = Writer::bare(
            root.path().join("bosun.git"),
            "--upload-pack=touch /tmp/bosun-injected",
            Credentials::default(),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("not a repository URL"),
            "{error}"
        );
        assert!(!root.path().join("bosun.git").exists());
    }

    #[test]
    fn a_new_target_branch_starts_at_base_and_a_conflict_stops() {
        let (root, remote, _person) = remote();
        let writer = Writer::bare(
            root.path().join("bosun.git"),
            remote.to_str().unwrap(),
            Credentials::default(),
        )
        .unwrap();
        let edit = set_a("5");
        let change = FileChange {
            path: "values.yaml",
            message: "set a",
            author: &Author::default(),
            edit: &edit,
        };
        let pushed = writer
            .commit_and_push("main", "update-a", &change, None)
            .unwrap();
        assert!(
            matches!(pushed, Pushed::Commit { attempts: 1, .. }),
            "{pushed:?}"
        );
        let head = writer.fetch("update-a").unwrap().unwrap();
        assert_eq!(
            writer.read(&head, "values.yaml").unwrap().unwrap(),
            b"a: 5\nb: 1\n"
        );

        let conflict = |_: &str| Err("a was changed to 7 by someone else".to_string());
        let change = FileChange {
            edit: &conflict,
            ..change
        };
        let error = writer
            .commit_and_push("main", "main", &change, None)
            .unwrap_err();
        assert_eq!(error.to_string(), "a was changed to 7 by someone else");
        let missing = writer
            .commit_and_push("nope", "nope", &change, None)
            .unwrap_err();
        assert!(
            missing.to_string().contains("branch nope not found"),
            "{missing}"
        );
    }
}
