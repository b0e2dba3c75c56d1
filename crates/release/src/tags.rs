//! Which tags are releases: `<prefix><semver>`, and which of them a channel builds on.

use semver::Version;

use crate::bump::{Base, Channel, prerelease_id};
use crate::profile::Profile;

/// The version in a tag name, if the name is exactly `prefix` + a semantic version. Everything
/// else — other prefixes, `latest`, `v1.2`, `deploy-2024-01-01` — is not a release tag.
pub fn parse_tag(name: &str, prefix: &str) -> Option<Version> {
    let rest = name.strip_prefix(prefix)?;
    // Only a digit may follow the prefix: with prefix "" the tag "v1.0.0" is not a release,
    // and with prefix "app-v" the tag "app-v-1.0.0" is not one either.
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Version::parse(rest).ok()
}

/// The prefix under which `name` is a release tag (`app-v` for `app-v1.2.3`, `` for `1.2.3`):
/// the shortest one [`parse_tag`] accepts. `None` when no split gives a semantic version.
pub fn release_prefix(name: &str) -> Option<&str> {
    name.char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| &name[..i])
        .find(|prefix| parse_tag(name, prefix).is_some())
}

/// Whether a release tag matters on this channel: stable releases always; prerelease tags only on
/// their own channel (semantic-release keeps channels in git notes, bosun in the identifier), or
/// on the release channel for profiles that continue prerelease tags (git-cliff).
pub fn relevant(version: &Version, channel: &Channel, profile: &Profile) -> bool {
    if version.pre.is_empty() {
        return true;
    }
    match channel {
        Channel::Prerelease(id) => prerelease_id(version) == Some(id.as_str()),
        Channel::Release => profile.continue_prerelease_tags,
    }
}

/// The base from the relevant release tags reachable from HEAD.
pub fn choose_base<'a>(reachable: impl IntoIterator<Item = &'a Version>) -> Base {
    let mut base = Base::default();
    for v in reachable {
        if v.pre.is_empty() && base.last_stable.as_ref().is_none_or(|s| v > s) {
            base.last_stable = Some(v.clone());
        }
        if base.last.as_ref().is_none_or(|l| v > l) {
            base.last = Some(v.clone());
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileName;

    #[test]
    fn tag_names() {
        assert_eq!(parse_tag("v1.2.3", "v"), Some(Version::new(1, 2, 3)));
        assert_eq!(parse_tag("1.2.3", ""), Some(Version::new(1, 2, 3)));
        assert_eq!(parse_tag("v1.2.3", ""), None);
        assert_eq!(parse_tag("app-v1.2.3", "v"), None);
        assert_eq!(
            parse_tag("app-v1.2.3", "app-v"),
            Some(Version::new(1, 2, 3))
        );
        assert_eq!(parse_tag("v1.2", "v"), None);
        assert_eq!(parse_tag("latest", "v"), None);
        assert_eq!(parse_tag("v01.2.3", "v"), None);
        assert_eq!(
            parse_tag("v1.3.0-rc.2", "v").map(|v| v.to_string()),
            Some("1.3.0-rc.2".into())
        );
    }

    #[test]
    fn prefixes_of_tag_names() {
        assert_eq!(release_prefix("v1.2.3"), Some("v"));
        assert_eq!(release_prefix("1.2.3"), Some(""));
        assert_eq!(release_prefix("app2-v1.0.0-rc.1"), Some("app2-v"));
        assert_eq!(release_prefix("release-9.0.0"), Some("release-"));
        assert_eq!(release_prefix("v2"), None);
        assert_eq!(release_prefix("deploy-2026-01-01"), None);
        assert_eq!(release_prefix("latest"), None);
    }

    #[test]
    fn channels_and_base() {
        let sr = Profile::new(ProfileName::SemanticRelease);
        let cliff = Profile::new(ProfileName::GitCliff);
        let rc = Channel::Prerelease("rc".into());
        let tags: Vec<Version> = ["1.0.0", "1.1.0-rc.1", "1.1.0-beta.3", "0.9.0"]
            .iter()
            .map(|s| Version::parse(s).unwrap())
            .collect();
        let pick = |c: &Channel, p: &Profile| {
            let b = choose_base(tags.iter().filter(|v| relevant(v, c, p)));
            (
                b.last_stable.map(|v| v.to_string()),
                b.last.map(|v| v.to_string()),
            )
        };
        assert_eq!(
            pick(&Channel::Release, &sr),
            (Some("1.0.0".into()), Some("1.0.0".into()))
        );
        assert_eq!(
            pick(&rc, &sr),
            (Some("1.0.0".into()), Some("1.1.0-rc.1".into()))
        );
        assert_eq!(
            pick(&Channel::Release, &cliff),
            (Some("1.0.0".into()), Some("1.1.0-rc.1".into()))
        );
    }
}
