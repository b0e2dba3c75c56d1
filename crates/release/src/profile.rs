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

/// One of semantic-release's `releaseRules`: commits whose type and scope match (globs, as its
/// micromatch; unset matches anything), and that are breaking / reverts when the rule says so,
/// release `release`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRule {
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub breaking: bool,
    #[serde(default)]
    pub revert: bool,
    pub release: Bump,
}

/// What a commit is, as far as release rules look.
pub struct RuleInput<'a> {
    pub type_: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub breaking: bool,
    pub revert: bool,
}

impl ReleaseRule {
    fn matches(&self, c: &RuleInput) -> bool {
        // Types are case-insensitive in bosun (the spec says so); scopes are compared as written.
        let type_ok = match (&self.type_, c.type_) {
            (None, _) => true,
            (Some(pattern), Some(t)) => glob(&pattern.to_lowercase(), &t.to_lowercase()),
            (Some(_), None) => false,
        };
        let scope_ok = match (&self.scope, c.scope) {
            (None, _) => true,
            (Some(pattern), Some(s)) => glob(pattern, s),
            (Some(_), None) => false,
        };
        type_ok && scope_ok && (!self.breaking || c.breaking) && (!self.revert || c.revert)
    }
}

/// commit-analyzer's rule: the highest release of the matching rules; `None` when no rule
/// matches (then the profile's own rules apply, as its default `releaseRules` do).
pub fn rules_bump(rules: &[ReleaseRule], commit: &RuleInput) -> Option<Bump> {
    rules
        .iter()
        .filter(|r| r.matches(commit))
        .map(|r| r.release)
        .max()
}

/// A micromatch-style glob for one type or scope: `*` is any run of characters except `/`, `**`
/// any run at all, `?` one character except `/`; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p {
            [] => t.is_empty(),
            ['*', '*', rest @ ..] => (0..=t.len()).any(|i| go(rest, &t[i..])),
            ['*', rest @ ..] => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != '/')
                .any(|i| go(rest, &t[i..])),
            ['?', rest @ ..] => t.first().is_some_and(|c| *c != '/') && go(rest, &t[1..]),
            [c, rest @ ..] => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
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
    /// semantic-release's `releaseRules`, from the config: a commit they match gets the highest
    /// of their releases, and the profile's rules (breaking → major included) are not consulted.
    pub release_rules: Vec<ReleaseRule>,
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
            release_rules: Vec::new(),
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
                release_rules: Vec::new(),
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
                release_rules: Vec::new(),
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
    fn release_rules_match_type_and_scope_globs() {
        let rules: Vec<ReleaseRule> = serde_saphyr::from_str(
            "- {type: docs, scope: readme.md, release: patch}\n\
             - {type: chore, scope: 'deps*', release: patch}\n\
             - {scope: 'api/**', release: minor}\n\
             - {breaking: true, release: minor}\n",
        )
        .unwrap();
        let c = |type_, scope, breaking| RuleInput {
            type_: Some(type_),
            scope,
            breaking,
            revert: false,
        };
        assert_eq!(
            rules_bump(&rules, &c("docs", Some("readme.md"), false)),
            Some(Bump::Patch)
        );
        assert_eq!(
            rules_bump(&rules, &c("DOCS", Some("readme.md"), false)),
            Some(Bump::Patch)
        );
        assert_eq!(
            rules_bump(&rules, &c("docs", Some("README.md"), false)),
            None
        );
        assert_eq!(rules_bump(&rules, &c("docs", None, false)), None);
        assert_eq!(
            rules_bump(&rules, &c("chore", Some("deps-dev"), false)),
            Some(Bump::Patch)
        );
        assert_eq!(rules_bump(&rules, &c("chore", Some("deps/x"), false)), None);
        assert_eq!(
            rules_bump(&rules, &c("fix", Some("api/v1/users"), false)),
            Some(Bump::Minor)
        );
        // The highest matching rule wins; a breaking commit that matches a rule gets the rule's
        // release, not major (commit-analyzer consults its defaults only when nothing matched).
        assert_eq!(
            rules_bump(&rules, &c("docs", Some("readme.md"), true)),
            Some(Bump::Minor)
        );
        assert!(
            glob("a?c", "abc") && !glob("a?c", "a/c") && glob("**", "a/b") && !glob("*", "a/b")
        );
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
