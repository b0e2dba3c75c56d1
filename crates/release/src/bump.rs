//! Commits since the last release + a profile → the bump level and the next version.
//!
//! Pure: the commits come in as strings (newest first, as `git log` lists them), so every rule is
//! unit-tested without a repository.

use semver::{Prerelease, Version};
use serde::{Deserialize, Serialize};

use crate::conventional::{self, HeaderKind, ParsedMessage};
use crate::profile::{Profile, RuleInput, rules_bump};

/// How far a set of commits moves the version. Ordered, so the release is the maximum.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    #[default]
    None,
    Patch,
    Minor,
    Major,
}

impl Bump {
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// One commit as the repository gives it.
#[derive(Debug, Clone)]
pub struct CommitInput {
    /// Full hex object id.
    pub id: String,
    pub message: String,
}

/// Why a commit does or does not take part in the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Analyzed; its `bump` may still be `none` (e.g. `docs:` under semantic-release).
    Counted,
    /// Not a Conventional Commit (merge commits land here too): no bump.
    Malformed { reason: String },
    /// A revert and the commit it reverts, both unreleased: neither counts.
    Cancelled { with: String },
    /// Dropped by the profile before analysis.
    Skipped { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct AnalyzedCommit {
    pub hash: String,
    pub header: String,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub scope: Option<String>,
    pub description: String,
    pub breaking: bool,
    pub breaking_notes: Vec<String>,
    pub bump: Bump,
    #[serde(flatten)]
    pub status: Status,
    /// What `git revert` writes (the notes list it under Reverts).
    #[serde(skip)]
    pub revert: bool,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    /// Newest first, every commit in the range, counted or not.
    pub commits: Vec<AnalyzedCommit>,
    /// The largest bump of any counted commit, before the 0.x rules.
    pub bump: Bump,
    /// A valid `Release-As` version, when the profile honours it.
    pub release_as: Option<Version>,
}

/// Judges every commit of the range under `profile`.
pub fn analyze(commits: &[CommitInput], profile: &Profile) -> Analysis {
    let parsed: Vec<ParsedMessage> = commits
        .iter()
        .map(|c| conventional::parse(&c.message))
        .collect();
    let cancelled = if profile.reverts.cancel_pairs {
        cancelled_pairs(commits, &parsed)
    } else {
        vec![None; commits.len()]
    };

    let mut analyzed = Vec::with_capacity(commits.len());
    let mut release_as = None;
    for ((commit, message), cancelled_with) in commits.iter().zip(&parsed).zip(cancelled) {
        let mut entry = judge(commit, message, profile);
        if let Some(other) = cancelled_with {
            entry.bump = Bump::None;
            entry.status = Status::Cancelled { with: other };
        }
        if profile.release_as_footer
            && release_as.is_none()
            && entry.status == Status::Counted
            && let Some(v) = message.release_as.as_deref()
            && let Ok(v) = Version::parse(v)
        {
            release_as = Some(v);
        }
        analyzed.push(entry);
    }
    let bump = analyzed.iter().map(|c| c.bump).max().unwrap_or_default();
    Analysis {
        commits: analyzed,
        bump,
        release_as,
    }
}

fn judge(commit: &CommitInput, message: &ParsedMessage, profile: &Profile) -> AnalyzedCommit {
    let notes: Vec<String> = message
        .breaking_notes
        .iter()
        .filter(|n| profile.hyphenated_breaking_footer || !n.hyphenated)
        .map(|n| n.text.clone())
        .collect();
    let mut entry = AnalyzedCommit {
        hash: commit.id.clone(),
        header: message.header.clone(),
        type_: message.type_().map(str::to_string),
        scope: message.scope().map(str::to_string),
        description: message.description().to_string(),
        breaking: false,
        breaking_notes: Vec::new(),
        bump: Bump::None,
        status: Status::Counted,
        revert: message.revert.is_some(),
    };
    let unpaired_revert = if message.revert.is_some() {
        profile.reverts.unpaired
    } else {
        Bump::None
    };
    match &message.header_kind {
        HeaderKind::Conventional { bang: true, .. } if !profile.bang_allowed => {
            // The angular header pattern has no `!`: the header does not parse at all.
            entry.type_ = None;
            entry.scope = None;
            entry.description = message.header.clone();
            entry.status = Status::Malformed {
                reason: "`!` is not part of this profile's header grammar".into(),
            };
            if profile.breaking_note_without_type && !notes.is_empty() {
                entry.breaking = true;
                entry.breaking_notes = notes;
                entry.bump = Bump::Major;
            }
        }
        HeaderKind::Conventional {
            type_,
            scope,
            description,
            bang,
        } => {
            if profile.is_skipped(type_, scope.as_deref(), description) {
                entry.status = Status::Skipped {
                    reason: format!("{} skips this type/scope", profile.name.as_str()),
                };
                return entry;
            }
            entry.breaking = *bang || !notes.is_empty();
            entry.breaking_notes = notes;
            let by_rules = rules_bump(
                &profile.release_rules,
                &RuleInput {
                    type_: Some(type_),
                    scope: scope.as_deref(),
                    breaking: entry.breaking,
                    revert: message.revert.is_some(),
                },
            );
            entry.bump = match by_rules {
                Some(bump) => bump,
                None if entry.breaking => Bump::Major,
                None => profile.type_bump(type_).max(unpaired_revert),
            };
        }
        HeaderKind::Malformed { reason } => {
            entry.status = Status::Malformed {
                reason: reason.clone(),
            };
            if profile.breaking_note_without_type && !notes.is_empty() {
                entry.breaking = true;
                entry.breaking_notes = notes;
                entry.bump = Bump::Major;
            } else {
                entry.bump = unpaired_revert;
            }
            // Rules without a type or scope still see breaking notes and reverts.
            let by_rules = rules_bump(
                &profile.release_rules,
                &RuleInput {
                    type_: None,
                    scope: None,
                    breaking: entry.breaking,
                    revert: message.revert.is_some(),
                },
            );
            if let Some(bump) = by_rules {
                entry.bump = bump;
            }
        }
    }
    entry
}

/// conventional-commits-filter's pairing, commit by commit from newest to oldest: a revert is
/// held until the commit it names (same full hash *and* same header) shows up; then both drop.
fn cancelled_pairs(commits: &[CommitInput], parsed: &[ParsedMessage]) -> Vec<Option<String>> {
    let mut cancelled = vec![None; commits.len()];
    let mut held: Vec<usize> = Vec::new();
    for (i, (commit, message)) in commits.iter().zip(parsed).enumerate() {
        let matching = held.iter().position(|&r| {
            parsed[r].revert.as_ref().is_some_and(|rev| {
                rev.hash.trim() == commit.id && rev.header.trim() == message.header.trim()
            })
        });
        if let Some(pos) = matching {
            let r = held.remove(pos);
            cancelled[i] = Some(commits[r].id.clone());
            cancelled[r] = Some(commit.id.clone());
        } else if message.revert.is_some() {
            held.push(i);
        }
    }
    cancelled
}

/// Which release line the next version belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    Release,
    /// A prerelease identifier: `rc` → `1.3.0-rc.1`, `1.3.0-rc.2`, …
    Prerelease(String),
}

/// The releases the next version is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Base {
    /// The highest stable release reachable from HEAD.
    pub last_stable: Option<Version>,
    /// The last release on this channel (a prerelease on a prerelease channel, or the stable one);
    /// commits after it are the ones analyzed.
    pub last: Option<Version>,
}

/// The next version and the bump level actually applied (after the 0.x rules), or `None` when
/// nothing in the range is releasable.
pub fn next_version(
    base: &Base,
    bump: Bump,
    release_as: Option<&Version>,
    profile: &Profile,
    channel: &Channel,
) -> Option<(Version, Bump)> {
    if let Some(forced) = release_as {
        return Some((forced.clone(), bump.max(Bump::Patch)));
    }
    if bump == Bump::None {
        return None;
    }
    let effective = match &base.last_stable {
        Some(v) if v.major == 0 => match bump {
            Bump::Major => profile.breaking_before_1,
            Bump::Minor => profile.feature_before_1,
            other => other,
        },
        _ => bump,
    };
    let stable_next = match &base.last_stable {
        None => profile.initial_version.clone(),
        Some(v) => increment(v, effective),
    };
    let next = match channel {
        Channel::Release => match &base.last {
            Some(last) if profile.continue_prerelease_tags && !last.pre.is_empty() => {
                increment_prerelease(last)
            }
            _ => stable_next,
        },
        // semantic-release's rule: the higher of "next counter of the last prerelease on this
        // channel" and "the stable bump, as the first prerelease". A fix after 1.1.0-rc.1 gives
        // rc.2; a breaking change after it gives 2.0.0-rc.1.
        Channel::Prerelease(id) => {
            let mut first = stable_next;
            first.pre = Prerelease::new(&format!("{id}.1")).expect("validated identifier");
            match &base.last {
                Some(last) if prerelease_id(last) == Some(id.as_str()) => {
                    first.max(increment_prerelease(last))
                }
                _ => first,
            }
        }
    };
    Some((next, effective))
}

pub fn increment(v: &Version, bump: Bump) -> Version {
    match bump {
        Bump::Major => Version::new(v.major + 1, 0, 0),
        Bump::Minor => Version::new(v.major, v.minor + 1, 0),
        Bump::Patch => Version::new(v.major, v.minor, v.patch + 1),
        Bump::None => Version::new(v.major, v.minor, v.patch),
    }
}

/// node-semver's `inc(v, "prerelease")`: bump the last numeric identifier, or append `.0`.
pub fn increment_prerelease(v: &Version) -> Version {
    let mut parts: Vec<String> = v.pre.as_str().split('.').map(str::to_string).collect();
    match parts.last().and_then(|p| p.parse::<u64>().ok()) {
        Some(n) => *parts.last_mut().expect("non-empty") = (n + 1).to_string(),
        None => parts.push("0".into()),
    }
    let mut next = Version::new(v.major, v.minor, v.patch);
    next.pre = Prerelease::new(&parts.join(".")).expect("built from a valid prerelease");
    next
}

/// `rc` for `1.3.0-rc.2`.
pub fn prerelease_id(v: &Version) -> Option<&str> {
    (!v.pre.is_empty()).then(|| v.pre.as_str().split('.').next().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileName;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn commits(messages: &[&str]) -> Vec<CommitInput> {
        // Newest first, with distinct fake ids.
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| CommitInput {
                id: format!("{:040x}", i + 1),
                message: m.to_string(),
            })
            .collect()
    }

    fn next(profile: ProfileName, last: Option<&str>, messages: &[&str]) -> Option<String> {
        let p = Profile::new(profile);
        let a = analyze(&commits(messages), &p);
        let base = Base {
            last_stable: last.map(v),
            last: last.map(v),
        };
        next_version(&base, a.bump, a.release_as.as_ref(), &p, &Channel::Release)
            .map(|(v, _)| v.to_string())
    }

    use ProfileName::*;

    #[test]
    fn research_scenarios_semantic_release() {
        // docs/shared research §1.2, column "sem-rel conventionalcommits".
        let p = SemanticRelease;
        assert_eq!(
            next(p, None, &["fix: b", "feat: a"]).as_deref(),
            Some("1.0.0")
        );
        assert_eq!(
            next(p, Some("1.0.0"), &["fix: a"]).as_deref(),
            Some("1.0.1")
        );
        assert_eq!(
            next(p, Some("1.0.0"), &["docs: c", "feat(api): b", "fix: a"]).as_deref(),
            Some("1.1.0")
        );
        assert_eq!(
            next(p, Some("1.0.0"), &["feat!: a"]).as_deref(),
            Some("2.0.0")
        );
        assert_eq!(
            next(p, Some("1.0.0"), &["feat: a\n\nBREAKING CHANGE: b"]).as_deref(),
            Some("2.0.0")
        );
        assert_eq!(
            next(p, Some("0.3.0"), &["feat(core)!: a"]).as_deref(),
            Some("1.0.0")
        );
        assert_eq!(
            next(p, Some("0.3.0"), &["feat: a"]).as_deref(),
            Some("0.4.0")
        );
        assert_eq!(
            next(p, Some("1.0.0"), &["ci: c", "chore: b", "docs: a"]),
            None
        );
        assert_eq!(
            next(p, Some("1.0.0"), &["perf: a"]).as_deref(),
            Some("1.0.1")
        );
        assert_eq!(next(p, Some("1.0.0"), &["refactor: a"]), None);
        assert_eq!(next(p, Some("1.0.0"), &["WIP", "Update stuff"]), None);
        assert_eq!(
            next(p, Some("1.0.0"), &["fix: a\n\nBREAKING-CHANGE: b"]).as_deref(),
            Some("2.0.0")
        );
        assert_eq!(
            next(p, Some("0.3.0"), &["fix: a"]).as_deref(),
            Some("0.3.1")
        );
        assert_eq!(
            next(p, Some("1.2.3"), &["fix(parser)!: a"]).as_deref(),
            Some("2.0.0")
        );
    }

    #[test]
    fn angular_preset_ignores_bang_and_hyphenated_footer() {
        let p = SemanticReleaseAngular;
        assert_eq!(next(p, Some("1.0.0"), &["feat!: a"]), None);
        assert_eq!(
            next(p, Some("1.0.0"), &["fix: a\n\nBREAKING-CHANGE: b"]).as_deref(),
            Some("1.0.1")
        );
        assert_eq!(
            next(p, Some("1.0.0"), &["feat: a\n\nBREAKING CHANGE: b"]).as_deref(),
            Some("2.0.0")
        );
    }

    #[test]
    fn git_cliff_and_release_please_columns() {
        assert_eq!(
            next(GitCliff, None, &["fix: b", "feat: a"]).as_deref(),
            Some("0.1.0")
        );
        assert_eq!(
            next(GitCliff, Some("1.0.0"), &["ci: c", "chore: b", "docs: a"]).as_deref(),
            Some("1.0.1")
        );
        assert_eq!(
            next(GitCliff, Some("1.0.0"), &["refactor: a"]).as_deref(),
            Some("1.0.1")
        );
        assert_eq!(
            next(GitCliff, Some("1.0.0"), &["WIP", "Update stuff"]),
            None
        );
        assert_eq!(
            next(GitCliff, Some("1.0.0"), &["chore(deps): bump x"]),
            None
        );
        assert_eq!(
            next(GitCliff, Some("0.3.0"), &["feat(core)!: a"]).as_deref(),
            Some("1.0.0")
        );
        assert_eq!(
            next(ReleasePlease, None, &["fix: b", "feat: a"]).as_deref(),
            Some("1.0.0")
        );
        assert_eq!(next(ReleasePlease, Some("1.0.0"), &["refactor: a"]), None);
        assert_eq!(
            next(ReleasePlease, Some("1.0.0"), &["docs: b", "fix: a"]).as_deref(),
            Some("1.0.1")
        );
        assert_eq!(
            next(
                ReleasePlease,
                Some("1.0.0"),
                &["chore: x\n\nRelease-As: 3.0.0"]
            )
            .as_deref(),
            Some("3.0.0")
        );
    }

    #[test]
    fn revert_pairs_cancel_only_under_semantic_release() {
        let feat_id = format!("{:040x}", 2);
        let revert = format!("Revert \"feat: a\"\n\nThis reverts commit {feat_id}.");
        let msgs = [revert.as_str(), "feat: a"];
        assert_eq!(next(SemanticRelease, Some("1.0.0"), &msgs), None);
        assert_eq!(
            next(GitCliff, Some("1.0.0"), &msgs).as_deref(),
            Some("1.1.0")
        );
        assert_eq!(
            next(ReleasePlease, Some("1.0.0"), &msgs).as_deref(),
            Some("1.1.0")
        );
        // The reverted commit was released already: the revert alone is a patch.
        let unpaired =
            "Revert \"feat: old\"\n\nThis reverts commit 00000000000000000000000000000000000000ff.";
        assert_eq!(
            next(SemanticRelease, Some("1.0.0"), &[unpaired]).as_deref(),
            Some("1.0.1")
        );
        assert_eq!(next(GitCliff, Some("1.0.0"), &[unpaired]), None);
    }

    #[test]
    fn revert_of_a_revert_restores_the_feature() {
        let p = Profile::new(SemanticRelease);
        let input = vec![
            CommitInput {
                id: "c".repeat(40),
                message: format!(
                    "Revert \"Revert \"feat: a\"\"\n\nThis reverts commit {}.",
                    "b".repeat(40)
                ),
            },
            CommitInput {
                id: "b".repeat(40),
                message: format!(
                    "Revert \"feat: a\"\n\nThis reverts commit {}.",
                    "a".repeat(40)
                ),
            },
            CommitInput {
                id: "a".repeat(40),
                message: "feat: a".into(),
            },
        ];
        let a = analyze(&input, &p);
        assert_eq!(a.bump, Bump::Minor);
        assert_eq!(a.commits[2].status, Status::Counted);
    }

    #[test]
    fn breaking_note_on_malformed_header_is_major_for_semantic_release_only() {
        let msg = ["Update stuff\n\nBREAKING CHANGE: the config moved"];
        assert_eq!(
            next(SemanticRelease, Some("1.0.0"), &msg).as_deref(),
            Some("2.0.0")
        );
        assert_eq!(next(GitCliff, Some("1.0.0"), &msg), None);
    }

    #[test]
    fn pre_major_opt_in_rules() {
        let mut p = Profile::new(SemanticRelease);
        p.breaking_before_1 = Bump::Minor;
        let base = Base {
            last_stable: Some(v("0.3.0")),
            last: Some(v("0.3.0")),
        };
        let n = next_version(&base, Bump::Major, None, &p, &Channel::Release);
        assert_eq!(n, Some((v("0.4.0"), Bump::Minor)));
        // On 1.x the opt-in changes nothing (unlike commitizen's major_version_zero quirk).
        let base = Base {
            last_stable: Some(v("1.0.0")),
            last: Some(v("1.0.0")),
        };
        let n = next_version(&base, Bump::Major, None, &p, &Channel::Release);
        assert_eq!(n, Some((v("2.0.0"), Bump::Major)));
    }

    #[test]
    fn prerelease_counters() {
        let p = Profile::new(SemanticRelease);
        let rc = Channel::Prerelease("rc".into());
        let on = |stable: &str, last: &str, bump| {
            let base = Base {
                last_stable: Some(v(stable)),
                last: Some(v(last)),
            };
            next_version(&base, bump, None, &p, &rc)
                .unwrap()
                .0
                .to_string()
        };
        assert_eq!(on("1.2.0", "1.2.0", Bump::Minor), "1.3.0-rc.1");
        assert_eq!(on("1.2.0", "1.3.0-rc.1", Bump::Patch), "1.3.0-rc.2");
        assert_eq!(on("1.2.0", "1.3.0-rc.2", Bump::Minor), "1.3.0-rc.3");
        assert_eq!(on("1.2.0", "1.3.0-rc.2", Bump::Major), "2.0.0-rc.1");
        let none = Base::default();
        assert_eq!(
            next_version(&none, Bump::Patch, None, &p, &rc)
                .unwrap()
                .0
                .to_string(),
            "1.0.0-rc.1"
        );
        // git-cliff continues a prerelease tag on the release channel.
        let cliff = Profile::new(GitCliff);
        let base = Base {
            last_stable: Some(v("1.0.0")),
            last: Some(v("1.1.0-beta.1")),
        };
        let n = next_version(&base, Bump::Patch, None, &cliff, &Channel::Release);
        assert_eq!(n.unwrap().0.to_string(), "1.1.0-beta.2");
        assert_eq!(
            increment_prerelease(&v("1.0.0-rc")).to_string(),
            "1.0.0-rc.0"
        );
    }
}
