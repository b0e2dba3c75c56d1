//! `.bosun/release.yaml`: the release settings of a repository, as data.
//!
//! A file of its own (not a section of another bosun file) because CI reads it on every commit of
//! repositories that may not use the rest of bosun. Unknown fields are errors, so a typo cannot
//! silently fall back to a default; every error names the file and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use semver::{Prerelease, Version};
use serde::Deserialize;

use crate::bump::{Bump, Channel};
use crate::changelog::{self, TypeSection};
use crate::error::{Error, Result};
use crate::profile::{Profile, ProfileName, ReleaseRule};

/// Where the config lives, relative to the repository root.
pub const DEFAULT_PATH: &str = ".bosun/release.yaml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub profile: Option<ProfileName>,
    /// Tag prefix of the repository's releases (default `v`).
    pub tag_prefix: Option<String>,
    /// The first release when no tag exists (default: the profile's).
    pub initial_version: Option<String>,
    /// Under 1.0.0, breaking changes bump minor (release-please's name for it).
    pub bump_minor_pre_major: Option<bool>,
    /// Under 1.0.0, features bump patch (release-please's name for it).
    pub bump_patch_for_minor_pre_major: Option<bool>,
    /// Bump per commit type, over the profile's (`docs: patch`, `refactor: none`, …).
    #[serde(default)]
    pub bumps: BTreeMap<String, Bump>,
    /// semantic-release's `releaseRules`: `{type, scope, breaking, revert, release}`, matched
    /// (globs) before the profile's rules and `bumps`.
    #[serde(default)]
    pub release_rules: Vec<ReleaseRule>,
    /// Bump for types listed neither here nor in the profile.
    pub other_types: Option<Bump>,
    /// Commit link in the changelog: `{hash}` / `{short}` are substituted.
    pub commit_url: Option<String>,
    /// How the release notes are laid out.
    #[serde(default)]
    pub changelog: ChangelogConfig,
    /// Branch → channel: `release`, or a prerelease identifier (`next: rc`).
    #[serde(default)]
    pub branches: BTreeMap<String, String>,
    /// Monorepo components; one `bosun version` call reports all of them.
    #[serde(default)]
    pub components: Vec<ComponentConfig>,
}

/// The release notes' sections and links, as the conventionalcommits preset's `presetConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangelogConfig {
    /// Replaces the preset's list of types (`[{type, section, hidden, scope}]`), in section order.
    pub types: Option<Vec<TypeSection>>,
    /// Issue link: `{id}` is substituted (default: derived from `commit_url`).
    pub issue_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentConfig {
    pub name: String,
    /// Directory (relative to the repository root) whose commits count.
    pub path: String,
    /// Default `<name>-v`.
    pub tag_prefix: Option<String>,
}

/// A config file, loaded and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from; `None` when there is no file (all defaults).
    pub file: Option<PathBuf>,
    pub data: ConfigFile,
}

impl Config {
    /// Reads `explicit`, or `<root>/.bosun/release.yaml` if that exists, or the defaults.
    pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = root.join(DEFAULT_PATH);
                if !p.exists() {
                    return Ok(Config {
                        file: None,
                        data: ConfigFile::default(),
                    });
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Config::parse(&path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let data: ConfigFile = if text.trim().is_empty() {
            ConfigFile::default()
        } else {
            // Without the source snippet: the error is one line that names the file and the
            // place, and says the cause once.
            let options = serde_saphyr::options! { with_snippet: false };
            serde_saphyr::from_str_with_options(text, options).map_err(|e| Error::ConfigSyntax {
                file: path.to_path_buf(),
                message: e.to_string(),
            })?
        };
        let config = Config {
            file: Some(path.to_path_buf()),
            data,
        };
        config.validate()?;
        Ok(config)
    }

    fn field_error(&self, field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Config {
            file: self
                .file
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH)),
            field: field.into(),
            message: message.into(),
        }
    }

    fn validate(&self) -> Result<()> {
        let d = &self.data;
        if let Some(v) = &d.initial_version
            && let Err(e) = Version::parse(v)
        {
            return Err(self.field_error(
                "initial_version",
                format!("`{v}` is not a semantic version: {e}"),
            ));
        }
        for (branch, channel) in &d.branches {
            if channel != "release" && validate_prerelease_id(channel).is_err() {
                return Err(self.field_error(
                    format!("branches.{branch}"),
                    format!(
                        "`{channel}` is neither `release` nor a prerelease identifier (letters, digits, `-`)"
                    ),
                ));
            }
        }
        for (i, t) in d.changelog.types.iter().flatten().enumerate() {
            if t.type_.trim().is_empty() {
                return Err(
                    self.field_error(format!("changelog.types[{i}].type"), "must not be empty")
                );
            }
            if !t.hidden && t.section.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(self.field_error(
                    format!("changelog.types[{i}].section"),
                    format!(
                        "the section title `{}` commits are listed under is missing (or set \
                         `hidden: true`)",
                        t.type_
                    ),
                ));
            }
        }
        if let Some(url) = &d.changelog.issue_url
            && !url.contains("{id}")
        {
            return Err(self.field_error(
                "changelog.issue_url",
                format!("`{url}` has no `{{id}}` for the issue number"),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, c) in d.components.iter().enumerate() {
            if c.name.trim().is_empty() {
                return Err(self.field_error(format!("components[{i}].name"), "must not be empty"));
            }
            if !names.insert(c.name.as_str()) {
                return Err(self.field_error(
                    format!("components[{i}].name"),
                    format!("`{}` is listed twice", c.name),
                ));
            }
            if normalize_path(&c.path).is_none() {
                return Err(self.field_error(
                    format!("components[{i}].path"),
                    "must be a directory inside the repository",
                ));
            }
        }
        Ok(())
    }

    /// The profile with this file's overrides applied.
    pub fn profile(&self, name: Option<ProfileName>) -> Result<Profile> {
        let d = &self.data;
        let mut profile = Profile::new(name.or(d.profile).unwrap_or_default());
        if let Some(v) = &d.initial_version {
            profile.initial_version = Version::parse(v)
                .map_err(|e| self.field_error("initial_version", e.to_string()))?;
        }
        if d.bump_minor_pre_major == Some(true) {
            profile.breaking_before_1 = Bump::Minor;
        }
        if d.bump_patch_for_minor_pre_major == Some(true) {
            profile.feature_before_1 = Bump::Patch;
        }
        for (type_, bump) in &d.bumps {
            profile.type_bumps.insert(type_.to_lowercase(), *bump);
        }
        if let Some(b) = d.other_types {
            profile.other_types = b;
        }
        profile.release_rules = d.release_rules.clone();
        Ok(profile)
    }

    /// The release notes' types and sections: the config's, else the preset's defaults.
    pub fn changelog_types(&self) -> Vec<TypeSection> {
        self.data
            .changelog
            .types
            .clone()
            .unwrap_or_else(changelog::default_types)
    }

    /// The channel for `branch`: listed branches map as configured; others are release branches.
    pub fn channel(&self, branch: Option<&str>) -> Channel {
        match branch.and_then(|b| self.data.branches.get(b)) {
            Some(c) if c != "release" => Channel::Prerelease(c.clone()),
            _ => Channel::Release,
        }
    }
}

/// A prerelease identifier usable as `<id>.N`: a non-numeric semver identifier.
pub fn validate_prerelease_id(id: &str) -> std::result::Result<(), String> {
    let ok = !id.is_empty()
        && !id.contains('.')
        && !id.chars().all(|c| c.is_ascii_digit())
        && Prerelease::new(id).is_ok();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a prerelease identifier (letters, digits, `-`; not only digits)"
        ))
    }
}

/// `./services/api/` → `services/api`; `None` for paths outside the repository. `.` or empty
/// mean the whole repository (`Some("")`).
pub fn normalize_path(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    if path.starts_with('/') {
        return None;
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("repo/.bosun/release.yaml"), text)
    }

    #[test]
    fn full_file() {
        let c = parse(
            "profile: git-cliff\ntag_prefix: ''\ninitial_version: 0.0.1\nbump_minor_pre_major: true\n\
             bumps:\n  docs: patch\nbranches:\n  main: release\n  next: rc\n\
             components:\n  - name: api\n    path: services/api/\n",
        )
        .unwrap();
        let p = c.profile(None).unwrap();
        assert_eq!(p.name, ProfileName::GitCliff);
        assert_eq!(p.initial_version, Version::new(0, 0, 1));
        assert_eq!(p.breaking_before_1, Bump::Minor);
        assert_eq!(p.type_bump("docs"), Bump::Patch);
        assert_eq!(c.channel(Some("next")), Channel::Prerelease("rc".into()));
        assert_eq!(c.channel(Some("main")), Channel::Release);
        assert_eq!(c.channel(None), Channel::Release);
        assert_eq!(c.data.tag_prefix.as_deref(), Some(""));
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = parse("tag_prefx: v\n").unwrap_err().to_string();
        assert!(
            e.contains("repo/.bosun/release.yaml") && e.contains("tag_prefx"),
            "{e}"
        );
        let e = parse("initial_version: one\n").unwrap_err().to_string();
        assert!(e.contains("field `initial_version`"), "{e}");
        let e = parse("branches:\n  next: 'r.c'\n").unwrap_err().to_string();
        assert!(e.contains("field `branches.next`"), "{e}");
        let e = parse("components:\n  - name: a\n    path: ../x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `components[0].path`"), "{e}");
        let e = parse("profile: semver-magic\n").unwrap_err().to_string();
        assert!(e.contains("semver-magic"), "{e}");
        let e = parse("bumps:\n  docs: huge\n").unwrap_err().to_string();
        assert!(e.contains("huge"), "{e}");
    }

    #[test]
    fn paths() {
        assert_eq!(normalize_path("./a/b/").as_deref(), Some("a/b"));
        assert_eq!(normalize_path(".").as_deref(), Some(""));
        assert_eq!(normalize_path("a/../b"), None);
        assert_eq!(normalize_path("/etc"), None);
    }
}
