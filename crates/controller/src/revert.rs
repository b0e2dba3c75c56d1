//! `rollouts.onAbort: revert`: after bosun rolled an Application back for an aborted Rollout, a
//! commit that puts the Application's folder back as it was at the good revision, pushed to the
//! branch it follows, so that Git names what runs (the pin alone holds the cluster on the good
//! revision while Git still names the rejected one).
//!
//! The commit is made only while the Application's folder on the branch is still as the rejected
//! commit left it: if someone changed it meanwhile, the next commit is deployed (and judged) as
//! usual and a revert would undo their work. Commits elsewhere in the repository (another
//! Application's revert) do not stop it: it is made on top of them. It is never forced; a push
//! that finds the branch moved is made again on the new head. Reverts of one repository run one
//! at a time.

use std::path::PathBuf;

use bosun_model::application::Application;
use bosun_source::{Author, Credentials, Writer};

/// Where revert commits are made and who makes them.
#[derive(Clone, Debug)]
pub struct RevertSettings {
    /// bosun's own bare repositories, one per repository URL.
    pub work_dir: PathBuf,
    pub author: Author,
}

/// What a revert came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Reverted {
    /// The commit pushed.
    Pushed(String),
    /// Nothing was committed, and why (Git moved on, the folder is already as it was).
    Skipped(String),
}

/// What to revert: the Application's source, the rejected and the good commit, and why.
pub struct Revert<'a> {
    pub app: &'a Application,
    pub bad: &'a str,
    pub good: &'a str,
    /// `analysis aborted Rollout shop/web: RolloutAborted: ...`, for the commit message.
    pub reason: &'a str,
}

impl Revert<'_> {
    /// Makes and pushes the commit (blocking: it runs git).
    pub fn run(
        &self,
        settings: &RevertSettings,
        credentials: Credentials,
    ) -> Result<Reverted, String> {
        let name = &self.app.metadata.name;
        let (Some(source), true) = (&self.app.spec.source, self.app.spec.sources.is_empty()) else {
            return Ok(Reverted::Skipped(
                "a revert commit is made for an Application with one source only".into(),
            ));
        };
        if source.chart.is_some() {
            return Ok(Reverted::Skipped(
                "the source is a Helm chart repository, not Git".into(),
            ));
        }
        let dir = settings
            .work_dir
            .join(bosun_source::dir_name(&source.repo_url));
        // One revert at a time per repository: two Applications of one repository aborted
        // together would otherwise fetch into, and commit in, the same directory at once.
        let serial = repository_lock(&dir);
        let _serial = serial.lock().unwrap_or_else(|p| p.into_inner());
        let writer = Writer::bare(dir, &source.repo_url, credentials).map_err(|e| e.to_string())?;
        let branch = match source.target_revision.as_deref() {
            None | Some("") | Some("HEAD") => writer.default_branch().map_err(|e| e.to_string())?,
            Some(revision) => revision.to_string(),
        };
        let path = source.path.as_deref().unwrap_or("");
        let folder = if path.is_empty() || path == "." {
            "the repository".to_string()
        } else {
            format!("`{path}`")
        };
        let message = format!(
            "Revert {name} to {good}\n\n{reason}\n\nbosun rolled the Application back from {bad} to {good}; this commit puts {folder} back as it was at {good}.\n",
            good = short(self.good),
            bad = short(self.bad),
            reason = without_error_messages(self.reason),
        );
        // Made again on the new head when a push finds the branch moved, as long as the
        // Application's folder is still as the rejected commit left it.
        let pushed = writer.push_retrying(&branch, |_| {
            let Some(head) = writer.fetch(&branch)? else {
                return Ok(Err(format!(
                    "{branch} is not a branch of {}",
                    bosun_source::redact_url(&source.repo_url)
                )));
            };
            if head != self.bad && !writer.same_folder(&head, self.bad, path)? {
                // Someone changed the folder since: the new commit is theirs to deploy, and a
                // revert would undo their work. Commits elsewhere (another Application's
                // revert, say) leave this one's revert as it was.
                return Ok(Err(format!(
                    "{folder} changed on {branch} since {} (now at {}): the new commit is deployed as usual",
                    short(self.bad),
                    short(&head),
                )));
            }
            match writer.restore(&head, self.good, path, &message, &settings.author)? {
                Some(commit) => Ok(Ok(commit)),
                None => Ok(Err(format!(
                    "{folder} is the same at {} and {}",
                    short(self.good),
                    short(self.bad)
                ))),
            }
        });
        match pushed {
            Ok(Ok((commit, _))) => Ok(Reverted::Pushed(commit)),
            Ok(Err(why)) => Ok(Reverted::Skipped(why)),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The lock of bosun's own repository at `dir`, one per directory for the whole process.
fn repository_lock(dir: &std::path::Path) -> std::sync::Arc<std::sync::Mutex<()>> {
    static LOCKS: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Arc<std::sync::Mutex<()>>>>,
    > = std::sync::LazyLock::new(Default::default);
    LOCKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(dir.to_path_buf())
        .or_default()
        .clone()
}

/// `text` without the providers' error messages (`: "Error Message: ..."`, as Argo's run message
/// carries them): an error can quote a request (a URL with a key in it) that Args' masking did not
/// recognise, and Git history is kept for good and read more widely than the cluster. The
/// Rollout, the metric, the limit and the measured values stay.
fn without_error_messages(text: &str) -> String {
    const OPEN: &str = ": \"Error Message: ";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        // The message ends at the quote before the measured values or the end of the text.
        rest = match after.find("\" (") {
            Some(end) => &after[end + 1..],
            None => match after.rfind('"') {
                Some(end) => &after[end + 1..],
                None => "",
            },
        };
    }
    out.push_str(rest);
    out
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_stay_out_of_the_commit() {
        let reason = "analysis aborted Rollout shop/web: RolloutAborted: Rollout aborted update to revision 3: Step-based analysis phase error/failed: Metric \"smoke\" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): \"Error Message: Get \\\"https://x/api?key=s3cr%20t\\\": refused\" (smoke measured 0)";
        let kept = without_error_messages(reason);
        assert!(!kept.contains("s3cr"), "{kept}");
        assert!(
            kept.ends_with("consecutiveErrorLimit (4) (smoke measured 0)"),
            "{kept}"
        );
        let plain =
            "Metric \"m\" assessed Failed due to failed (4) > failureLimit (3) (m measured [0.95])";
        assert_eq!(without_error_messages(plain), plain);
        let last = "Metric \"m\" assessed Error due to x: \"Error Message: boom\"";
        assert_eq!(
            without_error_messages(last),
            "Metric \"m\" assessed Error due to x"
        );
    }
}

#[cfg(test)]
mod repository_tests {
    use super::*;
    use std::path::Path;

    /// git in `dir` as a person with an identity of their own.
    fn git(dir: &Path, args: &[&str]) -> String {
        let identity = [
            "-c",
            "user.name=person",
            "-c",
            "user.email=person@example.com",
        ];
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .args(identity.iter().chain(args))
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A remote whose `main` has a good commit (`a/` and `b/` at 1), then a rejected one that
    /// changed both folders (2); a person's clone; the two commits.
    fn remote() -> (tempfile::TempDir, String, PathBuf, String, String) {
        let root = tempfile::tempdir().unwrap();
        git(
            root.path(),
            &["init", "--bare", "-q", "-b", "main", "remote.git"],
        );
        let remote = root.path().join("remote.git").display().to_string();
        git(root.path(), &["clone", "-q", &remote, "person"]);
        let person = root.path().join("person");
        let commit = |version: &str| {
            for folder in ["a", "b"] {
                std::fs::create_dir_all(person.join(folder)).unwrap();
                std::fs::write(
                    person.join(folder).join("v.yaml"),
                    format!("v: {version}\n"),
                )
                .unwrap();
            }
            git(&person, &["add", "-A"]);
            git(&person, &["commit", "-q", "-m", version]);
            git(&person, &["push", "-q", "origin", "HEAD:main"]);
            git(&person, &["rev-parse", "HEAD"])
        };
        let good = commit("1");
        let bad = commit("2");
        (root, remote, person, good, bad)
    }

    fn app(name: &str, remote: &str, path: &str) -> Application {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name},
            "spec": {"project": "default",
                     "source": {"repoURL": remote, "path": path, "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": name}}
        }))
        .unwrap()
    }

    // Two Applications of one repository rejected by the same commit are both reverted: one
    // after the other, the second on top of the first's revert; a folder someone changed since
    // is left to them.
    #[test]
    fn reverts_of_one_repository_are_made_one_on_top_of_the_other() {
        let (root, remote, person, good, bad) = remote();
        let settings = RevertSettings {
            work_dir: root.path().join("reverts"),
            author: Author::default(),
        };
        let (a, b) = (app("a", &remote, "a"), app("b", &remote, "b"));
        let revert = |app: &Application| {
            Revert {
                app,
                bad: &bad,
                good: &good,
                reason: "aborted",
            }
            .run(&settings, Credentials::default())
        };
        let (ra, rb) = std::thread::scope(|s| {
            let ra = s.spawn(|| revert(&a));
            let rb = s.spawn(|| revert(&b));
            (ra.join().unwrap(), rb.join().unwrap())
        });
        assert!(matches!(ra, Ok(Reverted::Pushed(_))), "{ra:?}");
        assert!(matches!(rb, Ok(Reverted::Pushed(_))), "{rb:?}");
        git(&person, &["pull", "-q", "--ff-only", "origin", "main"]);
        for folder in ["a", "b"] {
            assert_eq!(
                std::fs::read_to_string(person.join(folder).join("v.yaml")).unwrap(),
                "v: 1\n"
            );
        }
        let log = git(&person, &["log", "--format=%s", "main"]);
        assert_eq!(log.lines().count(), 4, "{log}");
        assert!(
            log.contains("Revert a to") && log.contains("Revert b to"),
            "{log}"
        );

        // The person changes `a/`: a late revert of `a` for the same rejection is not made.
        std::fs::write(person.join("a").join("v.yaml"), "v: 3\n").unwrap();
        git(&person, &["commit", "-q", "-am", "3"]);
        git(&person, &["push", "-q", "origin", "HEAD:main"]);
        match revert(&a) {
            Ok(Reverted::Skipped(why)) => assert!(why.contains("`a` changed on main"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            git(&person, &["log", "--format=%s", "-1", "origin/main"]),
            "3"
        );
    }
}
