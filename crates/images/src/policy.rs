//! Which tag of an image a policy picks, decided as Argo CD Image Updater decides it.
//!
//! Users move Applications from Image Updater to bosun with their annotations unchanged, so the
//! same tag list must give the same answer: `semver` with Masterminds' lenient version parsing
//! (`v1.2` is `1.2.0`, and the tag is written back as `v1.2`) and Masterminds' constraint
//! language (`~1`, `^0.2.3`, `1.x`, `1.2 - 1.4.5`, `>=1.3.0-0 || 2.x`), in which a pre-release is
//! only eligible when the constraint asks for one; `newest-build` by the image's build time;
//! `alphabetical` by bytes; `digest` follows one tag's manifest digest. `allow-tags` is an
//! unanchored regular expression, `ignore-tags` Go `filepath.Match` globs.
//!
//! Where Image Updater silently falls back — an unknown strategy becomes `semver`, a bad
//! `allow-tags` matches nothing, a malformed ignore pattern never matches — bosun refuses the
//! policy with an error that names the value: a typo should not quietly stop (or redirect) an
//! image's updates.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use bosun_model::glob::go_match;
use regex::Regex;
use semver::{BuildMetadata, Prerelease, Version};

/// How the newest tag is chosen (`update-strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// The highest semantic version the constraint allows.
    #[default]
    Semver,
    /// The most recently built image (its config's `created`).
    NewestBuild,
    /// The manifest digest of the one tag named by the constraint (`nginx:latest`).
    Digest,
    /// The byte-wise greatest tag name.
    Alphabetical,
}

impl Strategy {
    const VALID: &str = "semver, newest-build (or latest), digest, alphabetical (or name)";
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Semver => "semver",
            Strategy::NewestBuild => "newest-build",
            Strategy::Digest => "digest",
            Strategy::Alphabetical => "alphabetical",
        })
    }
}

impl FromStr for Strategy {
    type Err = PolicyError;

    /// Image Updater's names, case-insensitive, with its deprecated aliases `latest` and `name`;
    /// empty is `semver`, its default. Not trimmed: Image Updater does not trim either.
    fn from_str(value: &str) -> Result<Self, PolicyError> {
        match value.to_lowercase().as_str() {
            "" | "semver" => Ok(Strategy::Semver),
            "newest-build" | "latest" => Ok(Strategy::NewestBuild),
            "digest" => Ok(Strategy::Digest),
            "alphabetical" | "name" => Ok(Strategy::Alphabetical),
            _ => Err(PolicyError::UnknownStrategy(value.to_string())),
        }
    }
}

/// Which tags may be considered at all (`allow-tags`).
#[derive(Debug, Clone)]
pub enum Allow {
    Any,
    /// Tags the expression matches anywhere in them (not anchored, as Image Updater's
    /// `regexp.MatchString`).
    Regex(Regex),
}

impl Allow {
    pub fn matches(&self, tag: &str) -> bool {
        match self {
            Allow::Any => true,
            Allow::Regex(regex) => regex.is_match(tag),
        }
    }
}

impl FromStr for Allow {
    type Err = PolicyError;

    /// `any` (any case), or `regexp:<expression>` (the prefix in any case); empty is `any`, as an
    /// absent annotation. The expression is RE2 syntax in Image Updater; Rust's `regex` accepts
    /// the same syntax, and its Unicode classes (`\d`, `\w`) agree with RE2's ASCII ones on tags,
    /// which are ASCII.
    fn from_str(value: &str) -> Result<Self, PolicyError> {
        if value.is_empty() || value.eq_ignore_ascii_case("any") {
            return Ok(Allow::Any);
        }
        let bad = |reason: String| PolicyError::Allow {
            value: value.to_string(),
            reason,
        };
        let Some((function, expression)) = value.split_once(':') else {
            return Err(bad("expected `any` or `regexp:<expression>`".to_string()));
        };
        if !function.eq_ignore_ascii_case("regexp") {
            return Err(bad(format!(
                "unknown match function `{function}` (expected `regexp:<expression>` or `any`)"
            )));
        }
        Regex::new(expression)
            .map(Allow::Regex)
            .map_err(|e| bad(format!("not a valid regular expression: {e}")))
    }
}

/// Why a policy (or its constraint) was refused, or a current tag could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("unknown update strategy `{0}` (expected one of: {valid})", valid = Strategy::VALID)]
    UnknownStrategy(String),
    #[error("allow-tags `{value}`: {reason}")]
    Allow { value: String, reason: String },
    #[error(
        "ignore-tags `{0}`: not a valid pattern (Go filepath.Match syntax: `*`, `?`, `[a-z]`, `[^x]`, `\\` escapes)"
    )]
    Ignore(String),
    #[error("constraint `{value}`: {reason}")]
    Constraint { value: String, reason: String },
    #[error(
        "the digest strategy needs a constraint: the tag whose digest to follow, as `latest` in `nginx:latest`"
    )]
    DigestWithoutConstraint,
    #[error(
        "the current tag `{0}` is not a semantic version, so the semver strategy cannot update from it"
    )]
    CurrentNotSemver(String),
}

/// One tag of an image, with what the registry said about it. `created` and `digest` are only
/// fetched for strategies that need them ([`Policy::needs_metadata`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagInfo {
    pub tag: String,
    /// The image config's `created` (for a multi-platform image, of the platform that counts).
    pub created: Option<jiff::Timestamp>,
    /// The manifest digest, `sha256:…` (for a multi-platform image, the index's).
    pub digest: Option<String>,
}

impl TagInfo {
    /// A tag without metadata, as the tags list gives it.
    pub fn new(tag: impl Into<String>) -> Self {
        TagInfo {
            tag: tag.into(),
            ..TagInfo::default()
        }
    }
}

/// One image's update policy. Build it with [`Policy::new`], which checks every part.
#[derive(Debug, Clone)]
pub struct Policy {
    pub strategy: Strategy,
    /// The image's tag part in `image-list` (`nginx:~1.26` ⇒ `~1.26`): a semver constraint for
    /// `semver`, the tag to follow for `digest`, unused by the others. Never `Some("")`.
    pub constraint: Option<String>,
    pub allow: Allow,
    /// Go `filepath.Match` patterns; a tag matching any of them is never picked.
    pub ignore: Vec<String>,
    /// `constraint` parsed, for `semver`.
    range: Option<Constraint>,
}

impl Policy {
    /// `constraint` is the tag part of the image reference (empty is none); `allow` the
    /// `allow-tags` value; `ignore` the `ignore-tags` value, a comma-separated list whose items
    /// are trimmed and empty ones dropped, as Image Updater reads it.
    pub fn new(
        strategy: Strategy,
        constraint: Option<&str>,
        allow: Option<&str>,
        ignore: Option<&str>,
    ) -> Result<Policy, PolicyError> {
        let constraint = constraint.filter(|c| !c.is_empty()).map(str::to_string);
        let range = match (strategy, &constraint) {
            (Strategy::Semver, Some(text)) => Some(text.parse::<Constraint>()?),
            (Strategy::Digest, None) => return Err(PolicyError::DigestWithoutConstraint),
            _ => None,
        };
        let allow = allow.map_or(Ok(Allow::Any), str::parse)?;
        let ignore = ignore
            .map(|value| {
                value
                    .trim()
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for pattern in &ignore {
            // Go's filepath.Glob checks a pattern the same way: matching it against "" reads
            // the whole pattern.
            if go_match(pattern.as_bytes(), b"").is_err() {
                return Err(PolicyError::Ignore(pattern.clone()));
            }
        }
        Ok(Policy {
            strategy,
            constraint,
            allow,
            ignore,
            range,
        })
    }

    /// Whether the tag passes `allow-tags` and `ignore-tags` and, for `digest`, is the tracked
    /// tag: Image Updater's filter on the tags list, before any metadata is fetched.
    pub fn allows(&self, tag: &str) -> bool {
        self.allow.matches(tag)
            && !self
                .ignore
                .iter()
                .any(|p| go_match(p.as_bytes(), tag.as_bytes()) == Ok(true))
            && (self.strategy != Strategy::Digest || self.constraint.as_deref() == Some(tag))
    }

    /// Whether each allowed tag's `created` / `digest` must be fetched before [`Policy::select`].
    pub fn needs_metadata(&self) -> bool {
        matches!(self.strategy, Strategy::NewestBuild | Strategy::Digest)
    }

    /// The tag the policy picks among the allowed ones, or `None`.
    ///
    /// - `semver`: tags that parse as (lenient) semantic versions and satisfy the constraint;
    ///   the highest by precedence (build metadata ignored), equal ones by the greater string.
    /// - `newest-build`: the latest `created`, equal ones by the greater tag; tags without
    ///   `created` are skipped.
    /// - `alphabetical`: the byte-wise greatest tag.
    /// - `digest`: the tracked tag, if its digest is known.
    ///
    /// Only `digest` returns a digest: as in Image Updater, the other strategies write the tag
    /// alone, even when the registry reported a digest.
    pub fn select(&self, tags: &[TagInfo]) -> Option<TagInfo> {
        let mut allowed = tags.iter().filter(|t| self.allows(&t.tag));
        let picked = match self.strategy {
            Strategy::Semver => allowed
                .filter_map(|t| parse_version(&t.tag).map(|v| (v, t)))
                .filter(|(v, _)| self.range.as_ref().is_none_or(|r| r.matches(v)))
                .max_by(|(a, ta), (b, tb)| a.cmp_precedence(b).then_with(|| ta.tag.cmp(&tb.tag)))
                .map(|(_, t)| t),
            Strategy::NewestBuild => allowed
                .filter(|t| t.created.is_some())
                .max_by(|a, b| a.created.cmp(&b.created).then_with(|| a.tag.cmp(&b.tag))),
            Strategy::Alphabetical => allowed.max_by(|a, b| a.tag.cmp(&b.tag)),
            Strategy::Digest => return allowed.find(|t| t.digest.is_some()).cloned(),
        };
        picked.map(|t| TagInfo {
            digest: None,
            ..t.clone()
        })
    }

    /// Image Updater refuses to update a `semver` image whose running tag is not a version
    /// (argocd-image-updater#270): with no version to start from it cannot tell what is newer.
    /// An empty tag (none in the image reference) is fine.
    pub fn check_current(&self, current_tag: &str) -> Result<(), PolicyError> {
        if self.strategy == Strategy::Semver
            && !current_tag.is_empty()
            && parse_version(current_tag).is_none()
        {
            return Err(PolicyError::CurrentNotSemver(current_tag.to_string()));
        }
        Ok(())
    }

    /// Whether the running image (`current_tag`, `current_digest`) differs from the picked
    /// `candidate`, so that a write is due. As Image Updater, this is "different", not "newer":
    /// when the constraint is narrowed below the running version, the image moves down to the
    /// highest allowed one. Digests decide when either side has one; `digest` also updates an
    /// image that runs without a digest.
    pub fn needs_update(
        &self,
        current_tag: Option<&str>,
        current_digest: Option<&str>,
        candidate: &TagInfo,
    ) -> bool {
        let current_digest = current_digest.filter(|d| !d.is_empty());
        let candidate_digest = match self.strategy {
            Strategy::Digest => candidate.digest.as_deref().filter(|d| !d.is_empty()),
            _ => None,
        };
        if self.strategy == Strategy::Digest
            && (current_digest.is_none() || current_digest != candidate_digest)
        {
            return true;
        }
        if current_digest.is_some() || candidate_digest.is_some() {
            return current_digest != candidate_digest;
        }
        current_tag != Some(candidate.tag.as_str())
    }
}

// ─── Masterminds semver ────────────────────────────────────────────────────────────────────────
//
// A port of github.com/Masterminds/semver/v3 (v3.4.0, the version in Image Updater v0.18):
// `NewVersion` (with `CoerceNewVersion`, its default) and `NewConstraint` / `Check`. The regular
// expressions are Masterminds' own; Go's RE2 and Rust's `regex` both take the leftmost-first
// match, so the same groups are captured. `\s` is spelled out as Go's ASCII set.

const WS: &str = r"[\t\n\f\r ]";
/// Note the empty alternative (no operator) after `=`.
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// A version in a constraint: `x`, `X`, `*` wildcards, partial. (The `|` in the classes is
/// Masterminds', a literal.)
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("Masterminds' regular expression compiles")
}

static LOOSE_VERSION: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$",
    )
});
static CONSTRAINT: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")));
static RANGE: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")));
static FIND: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"({OPS}){WS}*({CV})")));
static VALID: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
    ))
});

/// A tag read as Masterminds' `NewVersion` reads it: an optional `v`, one to three numbers
/// (leading zeros allowed, missing ones `0`), then an optional pre-release and build metadata.
/// `1`, `v1.2`, `2024.01.05`, `1.2.3-rc.1+build.5` are versions; `latest`, `1.2.3.4`, `V1`,
/// `1.2.3-rc.01` are not. The caller keeps the original string: that is what gets written.
pub fn parse_version(text: &str) -> Option<Version> {
    let captures = LOOSE_VERSION.captures(text)?;
    let number = |i: usize| -> Option<u64> {
        captures
            .get(i)
            .map_or(Some(0), |m| m.as_str().trim_start_matches('.').parse().ok())
    };
    Some(Version {
        major: number(1)?,
        minor: number(2)?,
        patch: number(3)?,
        pre: match captures.get(5) {
            Some(m) => Prerelease::new(m.as_str()).ok()?,
            None => Prerelease::EMPTY,
        },
        build: match captures.get(8) {
            Some(m) => BuildMetadata::new(m.as_str()).ok()?,
            None => BuildMetadata::EMPTY,
        },
    })
}

/// A Masterminds semver constraint: `||`-separated alternatives, each a list of comparisons
/// separated by `,` or spaces, all of which must hold.
#[derive(Debug, Clone)]
pub struct Constraint {
    text: String,
    alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone)]
struct Alternative {
    comparisons: Vec<Comparison>,
    /// Whether a comparison names a pre-release: only then may a pre-release satisfy it.
    prerelease: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// No operator, or `=`: equal, or a tilde range when the version has wildcards.
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Comparison {
    op: Op,
    version: Version,
    /// Some part was a wildcard or missing (`1.2`, `1.x`, `*`).
    dirty: bool,
    /// The minor part was a wildcard or missing (`1`, `1.x`).
    minor_dirty: bool,
    /// The patch part was a wildcard or missing (`1.2`, `1.2.x`).
    patch_dirty: bool,
}

impl Constraint {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Masterminds' `Check`.
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|alternative| {
            alternative
                .comparisons
                .iter()
                .all(|c| c.check(version, alternative.prerelease))
        })
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Constraint {
    type Err = PolicyError;

    /// Masterminds' `NewConstraint`.
    fn from_str(text: &str) -> Result<Self, PolicyError> {
        let bad = |reason: String| PolicyError::Constraint {
            value: text.to_string(),
            reason,
        };
        let rewritten = rewrite_ranges(text);
        let mut alternatives = Vec::new();
        for part in rewritten.split("||") {
            if !VALID.is_match(part) {
                return Err(bad(if part.trim().is_empty() {
                    "an empty alternative".to_string()
                } else {
                    format!("`{}` is not a version range", part.trim())
                }));
            }
            let mut comparisons = Vec::new();
            for found in FIND.find_iter(part) {
                comparisons.push(
                    Comparison::parse(found.as_str())
                        .ok_or_else(|| bad(format!("`{}` is not a version", found.as_str())))?,
                );
            }
            if comparisons.is_empty() {
                return Err(bad(format!("`{part}` is not a version range")));
            }
            let prerelease = comparisons.iter().any(|c| !c.version.pre.is_empty());
            alternatives.push(Alternative {
                comparisons,
                prerelease,
            });
        }
        Ok(Constraint {
            text: text.to_string(),
            alternatives,
        })
    }
}

/// `1.2 - 1.4.5` ⇒ `>= 1.2, <= 1.4.5 ` (Masterminds' `rewriteRange`).
fn rewrite_ranges(text: &str) -> String {
    let mut out = text.to_string();
    for captures in RANGE.captures_iter(text) {
        let replacement = format!(">= {}, <= {} ", &captures[1], &captures[11]);
        out = out.replacen(&captures[0], &replacement, 1);
    }
    out
}

fn is_x(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

impl Comparison {
    /// Masterminds' `parseConstraint`: `None` when the version part is not a version.
    fn parse(text: &str) -> Option<Comparison> {
        let m = CONSTRAINT.captures(text)?;
        let group = |i: usize| m.get(i).map_or("", |g| g.as_str());
        let op = match group(1) {
            "" | "=" => Op::TildeOrEqual,
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterOrEqual,
            "<=" | "=<" => Op::LessOrEqual,
            "~" | "~>" => Op::Tilde,
            "^" => Op::Caret,
            _ => return None,
        };
        let (major, minor, patch, pre) = (group(3), group(4), group(5), group(6));
        let minor_part = minor.trim_start_matches('.');
        let patch_part = patch.trim_start_matches('.');
        let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
        let version = if is_x(major) || major.is_empty() {
            dirty = true;
            format!("0.0.0{pre}")
        } else if is_x(minor_part) || minor.is_empty() {
            (dirty, minor_dirty) = (true, true);
            format!("{major}.0.0{pre}")
        } else if is_x(patch_part) || patch.is_empty() {
            (dirty, patch_dirty) = (true, true);
            format!("{major}{minor}.0{pre}")
        } else {
            group(2).to_string()
        };
        Some(Comparison {
            op,
            version: parse_version(&version)?,
            dirty,
            minor_dirty,
            patch_dirty,
        })
    }

    /// Masterminds' constraint functions, one by one.
    fn check(&self, v: &Version, include_prerelease: bool) -> bool {
        if !v.pre.is_empty() && !include_prerelease {
            return false;
        }
        let c = &self.version;
        let cmp = v.cmp_precedence(c);
        match self.op {
            Op::TildeOrEqual if self.dirty => self.tilde(v),
            Op::TildeOrEqual => cmp == Ordering::Equal,
            Op::Tilde => self.tilde(v),
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if self.minor_dirty {
                        return false;
                    }
                    if c.minor != v.minor {
                        return true;
                    }
                    if self.patch_dirty {
                        return (!v.pre.is_empty() || !c.pre.is_empty()) && v.pre != c.pre;
                    }
                    if c.patch != v.patch {
                        return true;
                    }
                }
                cmp != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return cmp == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                cmp == Ordering::Greater
            }
            Op::Less => cmp == Ordering::Less,
            Op::GreaterOrEqual => cmp != Ordering::Less,
            Op::LessOrEqual => {
                if !self.dirty {
                    return cmp != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Caret => {
                if cmp == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                v.patch == c.patch
            }
        }
    }

    /// `~1.2.3` ⇒ `>=1.2.3 <1.3.0`, `~1` ⇒ `>=1.0.0 <2.0.0`, `~0.0.0` and `*` ⇒ anything.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.cmp_precedence(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.minor_dirty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(names: &[&str]) -> Vec<TagInfo> {
        names.iter().map(|n| TagInfo::new(*n)).collect()
    }

    fn semver(constraint: &str) -> Policy {
        Policy::new(Strategy::Semver, Some(constraint), None, None).unwrap()
    }

    fn pick(policy: &Policy, names: &[&str]) -> Option<String> {
        policy.select(&tags(names)).map(|t| t.tag)
    }

    fn matches(constraint: &str, version: &str) -> bool {
        let c: Constraint = constraint
            .parse()
            .unwrap_or_else(|e| panic!("{constraint}: {e}"));
        let v = parse_version(version).unwrap_or_else(|| panic!("{version} is not a version"));
        c.matches(&v)
    }

    #[test]
    fn the_issue_case_picks_the_highest_release_in_range() {
        let names = ["1.2.0", "1.3.0-rc.1", "1.10.0", "latest", "junk"];
        assert_eq!(pick(&semver("~1"), &names).as_deref(), Some("1.10.0"));
        assert_eq!(
            pick(&semver(">=1.3.0-0"), &names).as_deref(),
            Some("1.10.0")
        );
        assert_eq!(
            pick(&semver(">=1.3.0-0 <1.4"), &names).as_deref(),
            Some("1.3.0-rc.1")
        );
        assert_eq!(pick(&semver("~1.2"), &names).as_deref(), Some("1.2.0"));
        assert_eq!(pick(&semver("2.x"), &names), None);
    }

    #[test]
    fn no_constraint_takes_every_version_including_pre_releases() {
        let policy = Policy::new(Strategy::Semver, None, None, None).unwrap();
        assert_eq!(
            pick(&policy, &["1.9.0", "2.0.0-rc1", "latest"]).as_deref(),
            Some("2.0.0-rc1")
        );
        let empty = Policy::new(Strategy::Semver, Some(""), None, None).unwrap();
        assert_eq!(empty.constraint, None);
        assert_eq!(
            pick(&empty, &["1.9.0", "2.0.0-rc1"]).as_deref(),
            Some("2.0.0-rc1")
        );
    }

    #[test]
    fn tags_parse_leniently_and_keep_their_spelling() {
        for (text, parsed) in [
            ("1", "1.0.0"),
            ("1.2", "1.2.0"),
            ("v1.2.3", "1.2.3"),
            ("01.02", "1.2.0"),
            ("2024.01.05", "2024.1.5"),
            ("1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"),
            ("1.0.0+001", "1.0.0+001"),
            ("1.2-beta", "1.2.0-beta"),
        ] {
            assert_eq!(
                parse_version(text).map(|v| v.to_string()).as_deref(),
                Some(parsed),
                "{text}"
            );
        }
        for text in [
            "latest",
            "1.2.3.4",
            "V1",
            "sha-abc",
            "1.2.3-rc.01",
            "1.2.3-",
            "1.2.3+",
            "",
            "99999999999999999999",
        ] {
            assert_eq!(parse_version(text), None, "{text}");
        }
        // The tag as it is, not the normalised version, is what gets written.
        assert_eq!(
            pick(&semver("v1.x"), &["v1.2.3", "v1.10", "2.0.0"]).as_deref(),
            Some("v1.10")
        );
        assert_eq!(pick(&semver("1.x"), &["v1.2.3"]).as_deref(), Some("v1.2.3"));
    }

    #[test]
    fn equal_versions_are_ordered_by_their_text() {
        // Build metadata does not count in precedence; the greater string wins the tie.
        let policy = semver("^1");
        assert_eq!(
            pick(&policy, &["1.2.3+b", "1.2.3+a", "v1.2.3"]).as_deref(),
            Some("v1.2.3")
        );
        assert_eq!(
            pick(&policy, &["1.2.3+b", "1.2.3+a", "1.2.3"]).as_deref(),
            Some("1.2.3+b")
        );
        assert_eq!(
            pick(&policy, &["1.2", "1.2.0", "1.1.9"]).as_deref(),
            Some("1.2.0")
        );
    }

    #[test]
    fn constraint_forms_of_the_research_table() {
        for (constraint, version, expected) in [
            ("~1.2.3", "1.2.3", true),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("~1", "1.0.0", true),
            ("~1", "1.99.0", true),
            ("~1", "2.0.0", false),
            ("~2.3", "2.3.9", true),
            ("~2.3", "2.4.0", false),
            ("~> 2.3", "2.3.1", true),
            ("^1.2.3", "1.2.3", true),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^1.2.3", "1.2.2", false),
            ("^1.2", "1.2.0", true),
            ("^1.2", "1.1.9", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("^0", "0.9.9", true),
            ("^0", "1.0.0", false),
            ("1.2.x", "1.2.7", true),
            ("1.2.x", "1.3.0", false),
            ("1.x", "1.0.0", true),
            ("1.X", "1.7.0", true),
            ("1.x", "2.0.0", false),
            ("v1.x", "1.0", true),
            ("*", "0.0.1", true),
            ("*", "123.0.0", true),
            ("1.2 - 1.4.5", "1.2.0", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4.5", "1.1.9", false),
            (">=1.2, <2", "1.5.0", true),
            (">=1.2 <2", "2.0.0", false),
            ("<1.2 || >=2", "2.1.0", true),
            ("<1.2 || >=2", "1.5.0", false),
            ("=1.2.3", "1.2.3", true),
            ("!=1.2.3", "1.2.3", false),
            ("=< 1.2", "1.2.9", true),
            ("=> 1.2", "1.2.0", true),
        ] {
            assert_eq!(
                matches(constraint, version),
                expected,
                "{constraint} / {version}"
            );
        }
    }

    #[test]
    fn pre_releases_need_a_pre_release_in_their_and_group() {
        assert!(!matches("~1", "1.3.0-rc.1"));
        assert!(!matches(">=1.0", "1.3.0-rc.1"));
        assert!(!matches("*", "1.3.0-rc.1"));
        assert!(matches(">=1.3.0-0", "1.3.0-rc.1"));
        assert!(matches("2.x-0", "2.1.0-beta"));
        assert!(matches("*-0", "1.2.3-alpha.1"));
        // Per alternative: the `||` side without a pre-release still refuses one.
        assert!(!matches("<1.0.0-0 || >=2", "2.1.0-rc.1"));
        assert!(matches(">=2 <3 >=0.0.0-0", "2.1.0-rc.1"));
    }

    /// Masterminds/semver v3.4.0 `constraints_test.go` `TestConstraintsCheck`, in full.
    #[test]
    fn masterminds_constraints_check_table() {
        for (constraint, version, expected) in [
            ("*", "1.2.3", true),
            ("~0.0.0", "1.2.3", true),
            ("0.x.x", "1.2.3", false),
            ("0.0.x", "1.2.3", false),
            ("0.0.0", "1.2.3", false),
            ("^0.0.0", "1.2.3", false),
            ("= 2.0", "1.2.3", false),
            ("= 2.0", "2.0.0", true),
            ("4.1", "4.1.0", true),
            ("4.1.x", "4.1.3", true),
            ("1.x", "1.4", true),
            ("!=4.1", "4.1.0", false),
            ("!=4.1-alpha", "4.1.0-alpha", false),
            ("!=4.1-alpha", "4.1.1-alpha", false),
            ("!=4.1-alpha", "4.1.0", true),
            ("!=4.1", "5.1.0", true),
            ("!=4.x", "5.1.0", true),
            ("!=4.x", "4.1.0", false),
            ("!=4.1.x", "4.2.0", true),
            ("!=4.2.x", "4.2.3", false),
            (">1.1", "4.1.0", true),
            (">1.1", "1.1.0", false),
            ("<1.1", "0.1.0", true),
            ("<1.1", "1.1.0", false),
            ("<1.1", "1.1.1", false),
            ("<1.x", "1.1.1", false),
            ("<1.x", "0.1.1", true),
            ("<1.x", "2.0.0", false),
            ("<1.1.x", "1.2.1", false),
            ("<1.1.x", "1.1.500", false),
            ("<1.1.x", "1.0.500", true),
            ("<1.2.x", "1.1.1", true),
            (">=1.1", "4.1.0", true),
            (">=1.1", "4.1.0-beta", false),
            (">=1.1", "1.1.0", true),
            (">=1.1", "0.0.9", false),
            ("<=1.1", "0.1.0", true),
            ("<=1.1", "0.1.0-alpha", false),
            ("<=1.1-a", "0.1.0-alpha", true),
            ("<=1.1", "1.1.0", true),
            ("<=1.x", "1.1.0", true),
            ("<=2.x", "3.0.0", false),
            ("<=1.1", "1.1.1", true),
            ("<=1.1.x", "1.2.500", false),
            ("<=4.5", "3.4.0", true),
            ("<=4.5", "3.7.0", true),
            ("<=4.5", "4.6.3", false),
            (">1.1, <2", "1.1.1", false),
            (">1.1, <2", "1.2.1", true),
            (">1.1, <3", "4.3.2", false),
            (">=1.1, <2, !=1.2.3", "1.2.3", false),
            (">1.1 <2", "1.1.1", false),
            (">1.1 <2", "1.2.1", true),
            (">1.1    <3", "4.3.2", false),
            (">=1.1    <2    !=1.2.3", "1.2.3", false),
            (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
            (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
            (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
            (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
            (">=1.1 <2 !=1.2.3", "1.2.3", false),
            (">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true),
            (">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false),
            (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true),
            (">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false),
            ("> 1.1, <     2", "1.1.1", false),
            (">   1.1, <2", "1.2.1", true),
            (">1.1, <  3", "4.3.2", false),
            (">= 1.1, <     2, !=1.2.3", "1.2.3", false),
            ("> 1.1 < 2", "1.1.1", false),
            (">1.1 < 2", "1.2.1", true),
            ("> 1.1    <3", "4.3.2", false),
            (">=1.1    < 2    != 1.2.3", "1.2.3", false),
            (">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
            (">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false),
            (">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true),
            (">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
            (">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
            (">= 1.1 <2 != 1.2.3", "1.2.3", false),
            (">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true),
            (">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false),
            (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true),
            (">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false),
            (">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", true),
            (">= 1.0.0  <= 2.0.0-beta", "1.0.1", true),
            (">= 1.0.0  <= 2.0.0-beta", "3.0.0", false),
            (">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta", true),
            (">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", false),
            (
                ">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3",
                "1.0.1-beta",
                true,
            ),
            (
                ">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3",
                "1.0.1-beta",
                false,
            ),
            (">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", true),
            ("1.1 - 2", "1.1.1", true),
            ("1.5.0 - 4.5", "3.7.0", true),
            ("1.1-3", "4.3.2", false),
            ("^1.1", "1.1.1", true),
            ("^1.1", "4.3.2", false),
            ("^1.x", "1.1.1", true),
            ("^2.x", "1.1.1", false),
            ("^1.x", "2.1.1", false),
            ("^1.x", "1.1.1-beta1", false),
            ("^1.1.2-alpha", "1.2.1-beta1", true),
            ("^1.2.x-alpha", "1.1.1-beta1", false),
            ("^0.0.1", "0.0.1", true),
            ("^0.0.1", "0.3.1", false),
            ("~*", "2.1.1", true),
            ("~1", "2.1.1", false),
            ("~1", "1.3.5", true),
            ("~1", "1.4", true),
            ("~1.x", "2.1.1", false),
            ("~1.x", "1.3.5", true),
            ("~1.x", "1.4", true),
            ("~1.1", "1.1.1", true),
            ("~1.1", "1.1.1-alpha", false),
            ("~1.1-alpha", "1.1.1-beta", true),
            ("~1.1.1-beta", "1.1.1-alpha", false),
            ("~1.1.1-beta", "1.1.1", true),
            ("~1.2.3", "1.2.5", true),
            ("~1.2.3", "1.2.2", false),
            ("~1.2.3", "1.3.2", false),
            ("~1.1", "1.2.3", false),
            ("~1.3", "2.4.5", false),
            ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true),
            ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true),
        ] {
            assert_eq!(
                matches(constraint, version),
                expected,
                "{constraint} / {version}"
            );
        }
    }

    /// Masterminds/semver v3.4.0 `TestConstraintCheck` (one comparison each), except the ""
    /// rows: an empty constraint is "none" here, as in Image Updater.
    #[test]
    fn masterminds_single_comparison_table() {
        for (constraint, version, expected) in [
            ("=2.0.0", "1.2.3", false),
            ("=2.0.0", "2.0.0", true),
            ("=2.0", "1.2.3", false),
            ("=2.0", "2.0.0", true),
            ("=2.0", "2.0.1", true),
            ("4.1", "4.1.0", true),
            ("!=4.1.0", "4.1.0", false),
            ("!=4.1.0", "4.1.1", true),
            ("!=4.1", "4.1.0", false),
            ("!=4.1", "4.1.1", false),
            ("!=4.1", "5.1.0-alpha.1", false),
            ("!=4.1.0", "5.1.0-alpha.1", false),
            ("!=4.1-alpha", "4.1.0", true),
            ("!=4.1", "5.1.0", true),
            ("<11", "0.1.0", true),
            ("<11", "11.1.0", false),
            ("<1.1", "0.1.0", true),
            ("<1.1", "1.1.0", false),
            ("<1.1", "1.1.1", false),
            ("<=11", "1.2.3", true),
            ("<=11", "12.2.3", false),
            ("<=11", "11.2.3", true),
            ("<=1.1", "1.2.3", false),
            ("<=1.1", "0.1.0", true),
            ("<=1.1", "1.1.0", true),
            ("<=1.1", "1.1.1", true),
            (">1.1", "4.1.0", true),
            (">1.1", "1.1.0", false),
            (">0", "0", false),
            (">0", "1", true),
            (">0", "0.0.1-alpha", false),
            (">0.0", "0.0.1-alpha", false),
            (">0-0", "0.0.1-alpha", false),
            (">0.0-0", "0.0.1-alpha", false),
            (">0", "0.0.0-alpha", false),
            (">0-0", "0.0.0-alpha", false),
            (">0.0.0-0", "0.0.0-alpha", true),
            (">1.2.3-alpha.1", "1.2.3-alpha.2", true),
            (">1.2.3-alpha.1", "1.3.3-alpha.2", true),
            (">11", "11.1.0", false),
            (">11.1", "11.1.0", false),
            (">11.1", "11.1.1", false),
            (">11.1", "11.2.1", true),
            (">=11", "11.1.2", true),
            (">=11.1", "11.1.2", true),
            (">=11.1", "11.0.2", false),
            (">=1.1", "4.1.0", true),
            (">=1.1", "1.1.0", true),
            (">=1.1", "0.0.9", false),
            (">=0", "0.0.1-alpha", false),
            (">=0.0", "0.0.1-alpha", false),
            (">=0-0", "0.0.1-alpha", true),
            (">=0.0-0", "0.0.1-alpha", true),
            (">=0", "0.0.0-alpha", false),
            (">=0-0", "0.0.0-alpha", true),
            (">=0.0.0-0", "0.0.0-alpha", true),
            (">=0.0.0-0", "1.2.3", true),
            (">=0.0.0-0", "3.4.5-beta.1", true),
            ("<0", "0.0.0-alpha", false),
            ("<0-z", "0.0.0-alpha", true),
            (">=0", "0", true),
            ("=0", "1", false),
            ("*", "1", true),
            ("*", "4.5.6", true),
            ("*", "1.2.3-alpha.1", false),
            ("*-0", "1.2.3-alpha.1", true),
            ("2.*", "1", false),
            ("2.*", "3.4.5", false),
            ("2.*", "2.1.1", true),
            ("2.1.*", "2.1.1", true),
            ("2.1.*", "2.2.1", false),
            ("2", "1", false),
            ("2", "3.4.5", false),
            ("2", "2.1.1", true),
            ("2.1", "2.1.1", true),
            ("2.1", "2.2.1", false),
            ("~1.2.3", "1.2.4", true),
            ("~1.2.3", "1.3.4", false),
            ("~1.2", "1.2.4", true),
            ("~1.2", "1.3.4", false),
            ("~1", "1.2.4", true),
            ("~1", "2.3.4", false),
            ("~0.2.3", "0.2.5", true),
            ("~0.2.3", "0.3.5", false),
            ("~1.2.3-beta.2", "1.2.3-beta.4", true),
            ("~1.2.3-beta.2", "1.2.4-beta.2", true),
            ("~1.2.3-beta.2", "1.3.4-beta.2", false),
            ("^1.2.3", "1.8.9", true),
            ("^1.2.3", "2.8.9", false),
            ("^1.2.3", "1.2.1", false),
            ("^1.1.0", "2.1.0", false),
            ("^1.2.0", "2.2.1", false),
            ("^1.2.0", "1.2.1-alpha.1", false),
            ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
            ("^1.2.0-alpha.0", "1.2.1-alpha.0", true),
            ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
            ("^1.2", "1.8.9", true),
            ("^1.2", "2.8.9", false),
            ("^1", "1.8.9", true),
            ("^1", "2.8.9", false),
            ("^0.2.3", "0.2.5", true),
            ("^0.2.3", "0.5.6", false),
            ("^0.2", "0.2.5", true),
            ("^0.2", "0.5.6", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.3", true),
            ("^0.0", "0.1.4", false),
            ("^0.0", "1.0.4", false),
            ("^0", "0.2.3", true),
            ("^0", "1.1.4", false),
            ("^0.2.3-beta.2", "0.2.3-beta.4", true),
            ("^0.2.3-beta.2", "0.2.4-beta.2", true),
            ("^0.2.3-beta.2", "0.3.4-beta.2", false),
            ("^0.2.3-beta.2", "0.2.3-beta.2", true),
        ] {
            assert_eq!(
                matches(constraint, version),
                expected,
                "{constraint} / {version}"
            );
        }
    }

    #[test]
    fn constraint_syntax_follows_masterminds() {
        // `TestNewConstraint`: (input, alternatives, comparisons in the first).
        for (text, alternatives, first) in [
            (">= 1.1", 1, 1),
            (">40.50.60, < 50.70", 1, 2),
            ("2.0", 1, 1),
            ("v2.3.5-20161202202307-sha.e8fc5e5", 1, 1),
            (">= 1.2.3 < 2.0", 1, 2),
            (">= 1.2.3 < 2.0 || => 3.0 < 4", 2, 2),
            (">= 1.2.3, < 2.0", 1, 2),
            (">= 1.2.3, < 2.0 || => 3.0, < 4", 2, 2),
            ("3 - 4 || => 3.0, < 4", 2, 2),
            ("12.3.34 ~1.2.3", 1, 2),
            ("1.0.0 - 2.0.0, <=2.0.0", 1, 3),
        ] {
            let c: Constraint = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.alternatives.len(), alternatives, "{text}");
            assert_eq!(c.alternatives[0].comparisons.len(), first, "{text}");
            assert_eq!(c.to_string(), text);
        }
        for text in [
            ">= bar",
            "BAR >= 1.2.3",
            "12.3.4.1234",
            "12.23.4.1234",
            "12.3.34.1234",
            "12.3.34~ 1.2.3",
            "foo",
            "",
            " ",
            "1.2 ||",
            "1x.2",
            "latest",
        ] {
            assert!(text.parse::<Constraint>().is_err(), "{text:?}");
        }
        // `TestRewriteRange`.
        for (text, rewritten) in [
            ("2 - 3", ">= 2, <= 3 "),
            ("2 - 3, 2 - 3", ">= 2, <= 3 ,>= 2, <= 3 "),
            ("2 - 3, 4.0.0 - 5.1", ">= 2, <= 3 ,>= 4.0.0, <= 5.1 "),
            ("2 - 3 4.0.0 - 5.1", ">= 2, <= 3 >= 4.0.0, <= 5.1 "),
            ("1.0.0 - 2.0.0 <=2.0.0", ">= 1.0.0, <= 2.0.0 <=2.0.0"),
        ] {
            assert_eq!(rewrite_ranges(text), rewritten, "{text}");
        }
    }

    #[test]
    fn strategies_parse_like_image_updater_but_unknown_ones_are_refused() {
        for (text, strategy) in [
            ("semver", Strategy::Semver),
            ("", Strategy::Semver),
            ("SemVer", Strategy::Semver),
            ("newest-build", Strategy::NewestBuild),
            ("latest", Strategy::NewestBuild),
            ("digest", Strategy::Digest),
            ("alphabetical", Strategy::Alphabetical),
            ("Name", Strategy::Alphabetical),
        ] {
            assert_eq!(text.parse::<Strategy>().unwrap(), strategy, "{text}");
        }
        assert_eq!(
            "newest".parse::<Strategy>().unwrap_err().to_string(),
            "unknown update strategy `newest` (expected one of: semver, newest-build (or latest), digest, alphabetical (or name))"
        );
        assert!(" semver".parse::<Strategy>().is_err());
        assert_eq!(Strategy::NewestBuild.to_string(), "newest-build");
    }

    #[test]
    fn allow_tags_is_an_unanchored_regex_or_any() {
        let allow = |value: &str, tag: &str| value.parse::<Allow>().unwrap().matches(tag);
        assert!(allow("any", "whatever"));
        assert!(allow("ANY", "whatever"));
        assert!(allow("", "whatever"));
        assert!(allow(
            "regexp:^v[0-9]+\\.[0-9]+\\.[0-9]+-prod$",
            "v1.2.3-prod"
        ));
        assert!(!allow(
            "regexp:^v[0-9]+\\.[0-9]+\\.[0-9]+-prod$",
            "v1.2.3-dev"
        ));
        assert!(allow("RegExp:prod", "v1.2.3-prod-2"));
        assert!(allow("regexp:a:b", "xa:by"));
        assert_eq!(
            "regexp:("
                .parse::<Allow>()
                .unwrap_err()
                .to_string()
                .lines()
                .next(),
            Some("allow-tags `regexp:(`: not a valid regular expression: regex parse error:")
        );
        assert_eq!(
            "^v1".parse::<Allow>().unwrap_err().to_string(),
            "allow-tags `^v1`: expected `any` or `regexp:<expression>`"
        );
        assert_eq!(
            "glob:v1*".parse::<Allow>().unwrap_err().to_string(),
            "allow-tags `glob:v1*`: unknown match function `glob` (expected `regexp:<expression>` or `any`)"
        );
    }

    #[test]
    fn ignore_tags_are_go_filepath_globs() {
        let glob = |p: &str, name: &str| go_match(p.as_bytes(), name.as_bytes()) == Ok(true);
        assert!(glob("*", "1.2.3"));
        assert!(!glob("*", "a/b"));
        assert!(glob("*-rc*", "1.2.0-rc1"));
        assert!(!glob("*-rc*", "1.2.0"));
        assert!(glob("1.?.0", "1.2.0"));
        assert!(glob("[^x]*", "abc"));
        assert!(!glob("[^x]*", "xyz"));
        assert!(glob("[!x]", "!"));
        assert!(!glob("[!x]", "a"));
        assert!(glob("[a-c]1", "b1"));
        assert!(glob("v\\*", "v*"));
        assert!(!glob("v\\*", "v1"));
        assert!(glob("{a,b}", "{a,b}"));
        assert!(!glob("{a,b}", "a"));
        assert!(glob("**", "abc"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("latest", "latest-1"));
        for bad in ["[", "[a", "a[]", "[x-]", "\\", "a*[b", "[]a]"] {
            assert!(go_match(bad.as_bytes(), b"").is_err(), "{bad}");
        }

        let policy = Policy::new(Strategy::Semver, None, None, Some(" *-rc*, ,1.3.* ,")).unwrap();
        assert_eq!(policy.ignore, vec!["*-rc*", "1.3.*"]);
        assert_eq!(
            pick(&policy, &["1.2.0", "1.2.1-rc1", "1.3.0", "1.3.1"]).as_deref(),
            Some("1.2.0")
        );
        let nothing = Policy::new(Strategy::Semver, None, None, Some("*")).unwrap();
        assert_eq!(pick(&nothing, &["1.0.0", "2.0.0"]), None);
        assert_eq!(
            Policy::new(Strategy::Semver, None, None, Some("ok,[a"))
                .unwrap_err()
                .to_string(),
            "ignore-tags `[a`: not a valid pattern (Go filepath.Match syntax: `*`, `?`, `[a-z]`, `[^x]`, `\\` escapes)"
        );
    }

    #[test]
    fn allow_and_ignore_filter_before_the_strategy() {
        let policy = Policy::new(
            Strategy::Semver,
            Some("^1"),
            Some("regexp:^v"),
            Some("v1.9.*"),
        )
        .unwrap();
        assert!(policy.allows("v1.2.0"));
        assert!(!policy.allows("1.2.0"));
        assert!(!policy.allows("v1.9.0"));
        assert_eq!(
            pick(&policy, &["1.8.0", "v1.2.0", "v1.9.0", "v2.0.0"]).as_deref(),
            Some("v1.2.0")
        );
    }

    #[test]
    fn newest_build_takes_the_latest_created_then_the_greatest_name() {
        let at = |tag: &str, created: Option<&str>| TagInfo {
            tag: tag.to_string(),
            created: created.map(|c| c.parse().unwrap()),
            digest: Some(format!("sha256:{tag}")),
        };
        let policy = Policy::new(Strategy::NewestBuild, Some("latest"), None, None).unwrap();
        assert!(policy.needs_metadata());
        let list = [
            at("f33bacd", Some("2024-05-01T10:00:00Z")),
            at("latest", Some("2024-05-01T10:00:00Z")),
            at("a1b2c3d", Some("2024-04-01T10:00:00Z")),
            at("zzz", None),
        ];
        let picked = policy.select(&list).unwrap();
        assert_eq!(picked.tag, "latest");
        // The tag alone is written, as Image Updater does for this strategy.
        assert_eq!(picked.digest, None);
        assert!(picked.created.is_some());
        let list = [
            at("old", Some("2024-05-01T10:00:00Z")),
            at("new", Some("2024-05-01T10:00:00.5Z")),
        ];
        assert_eq!(policy.select(&list).unwrap().tag, "new");
        assert_eq!(policy.select(&[at("x", None)]), None);
    }

    #[test]
    fn alphabetical_takes_the_bytewise_greatest() {
        let policy = Policy::new(Strategy::Alphabetical, Some("anything"), None, None).unwrap();
        assert!(!policy.needs_metadata());
        assert_eq!(
            pick(&policy, &["2024-01-05", "2024-01-10", "2023-12-31"]).as_deref(),
            Some("2024-01-10")
        );
        // Bytes, not numbers: `9` > `1`, lower case after upper case.
        assert_eq!(pick(&policy, &["v10", "v9"]).as_deref(), Some("v9"));
        assert_eq!(pick(&policy, &["B", "a"]).as_deref(), Some("a"));
        assert_eq!(pick(&policy, &[]), None);
    }

    #[test]
    fn digest_follows_the_constraint_tag() {
        let policy = Policy::new(Strategy::Digest, Some("latest"), None, None).unwrap();
        assert!(policy.needs_metadata());
        assert!(policy.allows("latest"));
        assert!(!policy.allows("1.0.0"));
        let list = [
            TagInfo {
                tag: "1.0.0".into(),
                created: None,
                digest: Some("sha256:aaa".into()),
            },
            TagInfo {
                tag: "latest".into(),
                created: None,
                digest: Some("sha256:bbb".into()),
            },
        ];
        let picked = policy.select(&list).unwrap();
        assert_eq!(picked.tag, "latest");
        assert_eq!(picked.digest.as_deref(), Some("sha256:bbb"));
        assert_eq!(policy.select(&tags(&["latest"])), None);

        assert!(policy.needs_update(Some("latest"), None, &picked));
        assert!(policy.needs_update(Some("latest"), Some("sha256:aaa"), &picked));
        assert!(!policy.needs_update(Some("latest"), Some("sha256:bbb"), &picked));

        for constraint in [None, Some("")] {
            assert_eq!(
                Policy::new(Strategy::Digest, constraint, None, None)
                    .unwrap_err()
                    .to_string(),
                "the digest strategy needs a constraint: the tag whose digest to follow, as `latest` in `nginx:latest`"
            );
        }
    }

    #[test]
    fn bad_constraints_are_refused_with_the_value() {
        assert_eq!(
            Policy::new(Strategy::Semver, Some("latest"), None, None)
                .unwrap_err()
                .to_string(),
            "constraint `latest`: `latest` is not a version range"
        );
        assert_eq!(
            Policy::new(Strategy::Semver, Some(">=1.2 ||"), None, None)
                .unwrap_err()
                .to_string(),
            "constraint `>=1.2 ||`: an empty alternative"
        );
        assert_eq!(
            Policy::new(Strategy::Semver, Some("1x.2"), None, None)
                .unwrap_err()
                .to_string(),
            "constraint `1x.2`: `1x.2` is not a version"
        );
        // Only semver reads the constraint as a range.
        assert!(Policy::new(Strategy::NewestBuild, Some("latest"), None, None).is_ok());
        assert!(Policy::new(Strategy::Alphabetical, Some("~~"), None, None).is_ok());
    }

    #[test]
    fn the_current_tag_must_be_a_version_for_semver() {
        let policy = semver("~1");
        assert!(policy.check_current("v1.2").is_ok());
        assert!(policy.check_current("").is_ok());
        assert_eq!(
            policy.check_current("latest").unwrap_err().to_string(),
            "the current tag `latest` is not a semantic version, so the semver strategy cannot update from it"
        );
        let alphabetical = Policy::new(Strategy::Alphabetical, None, None, None).unwrap();
        assert!(alphabetical.check_current("latest").is_ok());
    }

    #[test]
    fn an_update_is_due_when_the_tag_or_digest_differs() {
        let policy = semver("~1");
        let candidate = TagInfo::new("1.3.0");
        assert!(!policy.needs_update(Some("1.3.0"), None, &candidate));
        assert!(policy.needs_update(Some("1.2.0"), None, &candidate));
        // Different, not newer: a narrowed constraint moves the image down.
        assert!(policy.needs_update(Some("1.4.0"), None, &candidate));
        assert!(policy.needs_update(None, None, &candidate));
        // A pinned digest on the running image makes the tag-only candidate different.
        assert!(policy.needs_update(Some("1.3.0"), Some("sha256:aaa"), &candidate));
        // A digest on a non-digest candidate does not count.
        let with_digest = TagInfo {
            digest: Some("sha256:bbb".into()),
            ..TagInfo::new("1.3.0")
        };
        assert!(!policy.needs_update(Some("1.3.0"), Some(""), &with_digest));
    }
}
