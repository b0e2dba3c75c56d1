//! One release computation: tags and commits from [`crate::repo`], judged by the pure core
//! ([`crate::tags`], [`crate::bump`]). This is what the CLI prints, tags and writes outputs from.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::bump::{self, AnalyzedCommit, Bump, Channel, Status};
use crate::changelog::{self, Links, TypeSection};
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::repo::Repo;
use crate::tags;

/// What is being versioned: the whole repository or one component of a monorepo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub component: Option<String>,
    /// Only commits changing this directory (relative to the repository root) count.
    pub path: Option<String>,
    pub tag_prefix: String,
    /// The prefixes of the other release series this run knows of (the config's components and
    /// the repository-wide prefix): their tags are no sign that `tag_prefix` is mistyped.
    pub sibling_prefixes: Vec<String>,
}

/// A commit as `--json` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct CommitSummary {
    pub hash: String,
    pub short: String,
    pub scope: Option<String>,
    pub description: String,
    pub breaking: bool,
    pub bump: Bump,
}

/// A commit that took no part, and why (malformed, cancelled revert pair, skipped).
#[derive(Debug, Clone, Serialize)]
pub struct IgnoredCommit {
    pub hash: String,
    pub header: String,
    #[serde(flatten)]
    pub status: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub component: Option<String>,
    /// The next version when `released`, else the current one (`None`: never released).
    pub version: Option<String>,
    /// The last release on this channel.
    pub previous: Option<String>,
    pub bump: Bump,
    pub released: bool,
    /// The tag the next version gets (`None` when nothing is released).
    pub tag: Option<String>,
    pub profile: &'static str,
    pub channel: String,
    /// Counted commits by type (`feat`, `fix`, …), newest first; malformed ones are in `ignored`.
    pub commits: BTreeMap<String, Vec<CommitSummary>>,
    pub ignored: Vec<IgnoredCommit>,
    #[serde(skip)]
    pub analyzed: Vec<AnalyzedCommit>,
    #[serde(skip)]
    pub head: Option<gix::ObjectId>,
    #[serde(skip)]
    pub head_time: i64,
}

impl Release {
    /// Release notes for this release (`None` when nothing is released).
    pub fn notes(&self, links: &Links, types: &[TypeSection]) -> Option<String> {
        let version = self.version.as_deref().filter(|_| self.released)?;
        Some(changelog::render(
            version,
            &changelog::date(self.head_time),
            &self.analyzed,
            links,
            types,
        ))
    }
}

/// Computes the next release of `target` at HEAD.
pub fn compute(
    repo: &Repo,
    target: &Target,
    profile: &Profile,
    channel: &Channel,
) -> Result<Release> {
    let channel_name = match channel {
        Channel::Release => "release".to_string(),
        Channel::Prerelease(id) => id.clone(),
    };
    let mut release = Release {
        component: target.component.clone(),
        version: None,
        previous: None,
        bump: Bump::None,
        released: false,
        tag: None,
        profile: profile.name.as_str(),
        channel: channel_name,
        commits: BTreeMap::new(),
        ignored: Vec::new(),
        analyzed: Vec::new(),
        head: None,
        head_time: 0,
    };
    let Some(head) = repo.head()? else {
        return Ok(release);
    };
    release.head = Some(head);
    release.head_time = repo.commit_time(head)?;

    let all = repo.release_tags(&target.tag_prefix)?;
    if all.is_empty() {
        check_prefix_unused_elsewhere(repo, target)?;
    }
    let candidates: Vec<_> = all
        .into_iter()
        .filter(|t| tags::relevant(&t.version, channel, profile))
        .collect();
    // Nothing above the highest tag, or the highest stable tag, can change the answer: once
    // both are seen the walk can stop.
    let mut stop_after = HashSet::new();
    if let Some(top) = candidates.iter().max_by(|a, b| a.version.cmp(&b.version)) {
        stop_after.insert(top.commit);
    }
    if let Some(top) = candidates
        .iter()
        .filter(|t| t.version.pre.is_empty())
        .max_by(|a, b| a.version.cmp(&b.version))
    {
        stop_after.insert(top.commit);
    }
    let reachable = repo.reachable_tags(head, &candidates, &stop_after)?;
    let base = tags::choose_base(reachable.iter().map(|t| &t.version));
    let since = base
        .last
        .as_ref()
        .and_then(|v| reachable.iter().find(|t| &t.version == v))
        .map(|t| t.commit);

    let commits = repo.commits_since(head, since, target.path.as_deref())?;
    let analysis = bump::analyze(&commits, profile);
    let next = bump::next_version(
        &base,
        analysis.bump,
        analysis.release_as.as_ref(),
        profile,
        channel,
    );

    release.previous = base.last.as_ref().map(|v| v.to_string());
    match next {
        Some((version, applied)) => {
            release.released = true;
            release.bump = applied;
            release.tag = Some(format!("{}{version}", target.tag_prefix));
            release.version = Some(version.to_string());
        }
        None => release.version = release.previous.clone(),
    }
    for c in &analysis.commits {
        match (&c.status, &c.type_) {
            (Status::Counted, Some(type_)) => {
                release
                    .commits
                    .entry(type_.clone())
                    .or_default()
                    .push(summary(c));
            }
            // A breaking note on a non-conventional header still counts (semantic-release).
            (Status::Malformed { .. }, _) if c.bump > Bump::None => {
                release
                    .commits
                    .entry("breaking".into())
                    .or_default()
                    .push(summary(c));
            }
            _ => release.ignored.push(IgnoredCommit {
                hash: c.hash.clone(),
                header: c.header.clone(),
                status: c.status.clone(),
            }),
        }
    }
    release.analyzed = analysis.commits;
    Ok(release)
}

/// No tag has `target.tag_prefix`. That is a first release — unless the repository has release
/// tags under prefixes nobody here claims (`v1.2.0` while asked for `app-v`): then the prefix is
/// most likely wrong, and the initial version would be a confident wrong answer.
fn check_prefix_unused_elsewhere(repo: &Repo, target: &Target) -> Result<()> {
    let unclaimed: Vec<(String, String)> = repo
        .tag_prefixes()?
        .into_iter()
        .filter(|(prefix, _)| {
            *prefix != target.tag_prefix && !target.sibling_prefixes.contains(prefix)
        })
        .collect();
    if unclaimed.is_empty() {
        return Ok(());
    }
    Err(Error::UnknownTagPrefix {
        prefix: target.tag_prefix.clone(),
        seen: unclaimed
            .iter()
            .take(10)
            .map(|(prefix, example)| match prefix.as_str() {
                "" => format!("none ({example})"),
                _ => format!("`{prefix}` ({example})"),
            })
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn summary(c: &AnalyzedCommit) -> CommitSummary {
    CommitSummary {
        hash: c.hash.clone(),
        short: c.hash[..c.hash.len().min(7)].to_string(),
        scope: c.scope.clone(),
        description: c.description.clone(),
        breaking: c.breaking,
        bump: c.bump,
    }
}
