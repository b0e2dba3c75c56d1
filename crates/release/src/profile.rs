//! Profiles: the rules of one established tool, so that a team migrating from it gets the
//! versions it got before. Everything a profile decides is a field here, so `docs/version.md`'s
//! edge-case table can be read straight off [`Profile::new`].

use std::collections::BTreeMap;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::bump::Bump;

/// The named profiles. `semantic-release` (conventionalcommits preset) is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileName {
    /// semantic-release 24 with the conventionalcommits preset.
    #[default]
    SemanticRelease,
    /// semantic-release's default (older) angular preset: no `!`, only `BREAKING CHANGE:`.
    SemanticReleaseAngular,
    /// `git cliff --bumped-version` with git-cliff's built-in configuration.
    GitCliff,
    /// release-please's default versioning strategy.
    ReleasePlease,
}

impl ProfileName {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::SemanticRelease => "semantic-release",
            ProfileName::SemanticReleaseAngular => "semantic-release-angular",
            ProfileName::GitCliff => "git-cliff",
            ProfileName::ReleasePlease => "release-please",
        }
    }
}

/// What happens to `git revert` commits (`Revert "feat: x"` / `This reverts commit …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertRules {
    /// A revert and the commit it reverts, both unreleased, cancel out (semantic-release, via
    /// conventional-commits-filter): neither bumps nor appears in the notes.
    pub cancel_pairs: bool,
    /// What a revert whose target is already released bumps. semantic-release: patch (its
    /// `{revert: true}` release rule); tools that only read the header see no type: none.
    pub unpaired: Bump,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: ProfileName,
    /// Whether `type!:` marks a breaking change. False only for the angular preset, whose header
    /// pattern does not allow `!` at all, so `feat!: x` is not even a feature there.
    pub bang_allowed: bool,
    /// Whether `BREAKING-CHANGE:` (hyphen) counts like `BREAKING CHANGE:`.
    pub hyphenated_breaking_footer: bool,
    /// Whether a breaking note counts on a commit whose header is not conventional.
    /// semantic-release matches `{breaking: true}` on the notes alone.
    pub breaking_note_without_type: bool,
    /// Bump per (lower-case) type.
    pub type_bumps: BTreeMap<String, Bump>,
    /// Bump for conventional types not in `type_bumps` (git-cliff: any surviving commit → patch).
    pub other_types: Bump,
    /// `(type, scope prefix)` pairs dropped before analysis (git-cliff's default commit parsers
    /// skip `chore(deps…)`, `chore(pr)`, `chore(pull)` and its own `chore(release): prepare for`).
    pub skipped: Vec<(String, String)>,
    pub reverts: RevertRules,
    /// What a breaking change bumps while the last version is 0.x (`Major` → 1.0.0).
    pub breaking_before_1: Bump,
    /// What a feature bumps while the last version is 0.x.
    pub feature_before_1: Bump,
    /// The version of the first release, when no tag exists yet.
    pub initial_version: Version,
    /// git-cliff: when the last tag is a prerelease (`v1.1.0-beta.1`), the next version bumps its
    /// counter (`v1.1.0-beta.2`) instead of releasing 1.1.0.
    pub continue_prerelease_tags: bool,
    /// release-please: a `Release-As: x.y.z` footer sets the next version.
    pub release_as_footer: bool,
}

fn bumps(pairs: &[(&str, Bump)]) -> BTreeMap<String, Bump> {
    pairs.iter().map(|(t, b)| (t.to_string(), *b)).collect()
}

impl Profile {
    pub fn new(name: ProfileName) -> Profile {
        use Bump::*;
        // commit-analyzer's default release rules: breaking → major, revert → patch,
        // feat → minor, fix → patch, perf → patch.
        let semantic_release = Profile {
            name,
            bang_allowed: true,
            hyphenated_breaking_footer: true,
            breaking_note_without_type: true,
            type_bumps: bumps(&[("feat", Minor), ("fix", Patch), ("perf", Patch)]),
            other_types: None,
            skipped: Vec::new(),
            reverts: RevertRules {
                cancel_pairs: true,
                unpaired: Patch,
            },
            breaking_before_1: Major,
            feature_before_1: Minor,
            initial_version: Version::new(1, 0, 0),
            continue_prerelease_tags: false,
            release_as_footer: false,
        };
        match name {
            ProfileName::SemanticRelease => semantic_release,
            ProfileName::SemanticReleaseAngular => Profile {
                bang_allowed: false,
                hyphenated_breaking_footer: false,
                ..semantic_release
            },
            ProfileName::GitCliff => Profile {
                name,
                bang_allowed: true,
                hyphenated_breaking_footer: true,
                breaking_note_without_type: false,
                type_bumps: bumps(&[("feat", Minor)]),
                other_types: Patch,
                skipped: [
                    ("chore", "deps"),
                    ("chore", "pr"),
                    ("chore", "pull"),
                    ("chore", "release"),
                ]
                .iter()
                .map(|(t, s)| (t.to_string(), s.to_string()))
                .collect(),
                reverts: RevertRules {
                    cancel_pairs: false,
                    unpaired: None,
                },
                // git-cliff's code defaults (`breaking_always_bump_major`,
                // `features_always_bump_minor` = true), which its docs misstate as false.
                breaking_before_1: Major,
                feature_before_1: Minor,
                initial_version: Version::new(0, 1, 0),
                continue_prerelease_tags: true,
                release_as_footer: false,
            },
            // release-please bumps patch for any commit once one "user-facing" commit
            // (feat/fix/perf/revert/deps or breaking) exists; with only hidden types it releases
            // nothing. Counting hidden types as "no bump" gives the same versions.
            ProfileName::ReleasePlease => Profile {
                name,
                bang_allowed: true,
                hyphenated_breaking_footer: true,
                breaking_note_without_type: false,
                type_bumps: bumps(&[
                    ("feat", Minor),
                    ("feature", Minor),
                    ("fix", Patch),
                    ("perf", Patch),
                    ("revert", Patch),
                    ("deps", Patch),
                ]),
                other_types: None,
                skipped: Vec::new(),
                reverts: RevertRules {
                    cancel_pairs: false,
                    unpaired: None,
                },
                breaking_before_1: Major,
                feature_before_1: Minor,
                initial_version: Version::new(1, 0, 0),
                continue_prerelease_tags: false,
                release_as_footer: true,
            },
        }
    }

    /// The bump one conventional type gets under this profile.
    pub fn type_bump(&self, type_: &str) -> Bump {
        self.type_bumps
            .get(type_)
            .copied()
            .unwrap_or(self.other_types)
    }

    pub fn is_skipped(&self, type_: &str, scope: Option<&str>, description: &str) -> bool {
        self.skipped.iter().any(|(t, s)| {
            t == type_
                && scope.is_some_and(|scope| {
                    if s == "release" {
                        // Only git-cliff's own release commits: `chore(release): prepare for …`.
                        scope == "release" && description.starts_with("prepare for")
                    } else if s == "deps" {
                        scope.starts_with("deps")
                    } else {
                        scope == s
                    }
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_semantic_release_conventionalcommits() {
        let p = Profile::new(ProfileName::default());
        assert_eq!(p.name, ProfileName::SemanticRelease);
        assert!(p.bang_allowed);
        assert_eq!(p.type_bump("docs"), Bump::None);
        assert_eq!(p.type_bump("perf"), Bump::Patch);
        assert_eq!(p.initial_version, Version::new(1, 0, 0));
    }

    #[test]
    fn git_cliff_bumps_any_type_and_skips_its_own_chores() {
        let p = Profile::new(ProfileName::GitCliff);
        assert_eq!(p.type_bump("docs"), Bump::Patch);
        assert!(p.is_skipped("chore", Some("deps-dev"), "bump x"));
        assert!(p.is_skipped("chore", Some("release"), "prepare for v1.0.0"));
        assert!(!p.is_skipped("chore", Some("release"), "something else"));
        assert!(!p.is_skipped("chore", None, "tidy"));
    }
}
