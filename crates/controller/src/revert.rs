//! `rollouts.onAbort: revert`: after bosun rolled an Application back for an aborted Rollout, a
//! commit that puts the Application's folder back as it was at the good revision, pushed to the
//! branch it follows, so that Git names what runs (the pin alone holds the cluster on the good
//! revision while Git still names the rejected one).
//!
//! The commit is made only while the branch's head is still the rejected commit: if someone
//! pushed meanwhile, the next commit is deployed (and judged) as usual and a revert would undo
//! their work. It is never forced.

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
        let writer = Writer::bare(dir, &source.repo_url, credentials).map_err(|e| e.to_string())?;
        let branch = match source.target_revision.as_deref() {
            None | Some("") | Some("HEAD") => writer.default_branch().map_err(|e| e.to_string())?,
            Some(revision) => revision.to_string(),
        };
        let Some(head) = writer.fetch(&branch).map_err(|e| e.to_string())? else {
            return Ok(Reverted::Skipped(format!(
                "{branch} is not a branch of {}",
                bosun_source::redact_url(&source.repo_url)
            )));
        };
        if head != self.bad {
            return Ok(Reverted::Skipped(format!(
                "{branch} moved on to {} since {}: the new commit is deployed as usual",
                short(&head),
                short(self.bad)
            )));
        }
        let path = source.path.as_deref().unwrap_or("");
        let message = format!(
            "Revert {name} to {good}\n\n{reason}\n\nbosun rolled the Application back from {bad} to {good}; this commit puts {folder} back as it was at {good}.\n",
            good = short(self.good),
            bad = short(self.bad),
            reason = without_error_messages(self.reason),
            folder = if path.is_empty() || path == "." {
                "the repository".to_string()
            } else {
                format!("`{path}`")
            },
        );
        let commit = writer
            .restore(&head, self.good, path, &message, &settings.author)
            .map_err(|e| e.to_string())?;
        let Some(commit) = commit else {
            return Ok(Reverted::Skipped(format!(
                "`{path}` is the same at {} and {}",
                short(self.good),
                short(self.bad)
            )));
        };
        if writer
            .push_once(&commit, &branch)
            .map_err(|e| e.to_string())?
        {
            Ok(Reverted::Pushed(commit))
        } else {
            Ok(Reverted::Skipped(format!(
                "{branch} moved on while the revert was pushed: the new commit is deployed as usual"
            )))
        }
    }
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
