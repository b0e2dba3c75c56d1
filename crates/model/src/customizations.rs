//! Argo CD's resource customizations, read from `argocd-cm` data as Argo CD reads them
//! (`util/settings/settings.go`): the split keys `resource.customizations.<type>.<group>_<kind>`
//! (`<kind>` alone for the core group, `all` for every kind) and the YAML block
//! `resource.customizations`, keyed by `<group>/<kind>` with `*` wildcards.
//!
//! bosun acts on health checks (`health`, `useOpenLibs`, and `health.lua` /
//! `health.lua.useOpenLibs` in the YAML block). Other customization types (actions,
//! ignoreDifferences, knownTypeFields, ignoreResourceUpdates) are listed as not acted on.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::ModelError;

/// The argocd-cm key of the YAML block, and the prefix of the split keys.
pub const CUSTOMIZATIONS: &str = "resource.customizations";

/// One Lua health check and the kinds it applies to.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthRule {
    /// `<group>/<kind>`, or `<kind>` for the core group; `*` matches any text (`/` included), as
    /// Argo CD's glob does.
    pub pattern: String,
    pub script: String,
    /// `useOpenLibs`: every standard Lua library, not only the safe ones.
    pub open_libs: bool,
    /// Where it was configured (the argocd-cm key), for messages.
    pub origin: String,
}

impl HealthRule {
    pub fn matches(&self, key: &str) -> bool {
        glob_matches(&self.pattern, key)
    }
}

/// What argocd-cm data says about resources.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Customizations {
    /// Exact patterns first, then wildcard ones in the order of their patterns.
    pub health: Vec<HealthRule>,
    /// Keys read but not acted on, with the reason.
    pub ignored: Vec<(String, String)>,
}

impl Customizations {
    /// Reads the `resource.customizations*` keys of argocd-cm data; other keys (Argo CD's URL,
    /// accounts, ...) are not about resources and are skipped. Errors name the key.
    pub fn from_argocd_cm(data: &BTreeMap<String, String>) -> Result<Customizations, ModelError> {
        let mut scripts: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut open_libs: BTreeMap<String, bool> = BTreeMap::new();
        let mut ignored = Vec::new();
        for (key, value) in data {
            if key == CUSTOMIZATIONS {
                read_block(key, value, &mut scripts, &mut open_libs, &mut ignored)?;
                continue;
            }
            let Some(rest) = key
                .strip_prefix(CUSTOMIZATIONS)
                .and_then(|r| r.strip_prefix('.'))
            else {
                continue;
            };
            let Some((kind_of_rule, group_kind)) = rest.split_once('.') else {
                return Err(ModelError::invalid(
                    key,
                    "expected `resource.customizations.<type>.<group>_<kind>`",
                ));
            };
            let pattern = split_key_pattern(group_kind).map_err(|m| ModelError::invalid(key, m))?;
            match kind_of_rule {
                "health" => {
                    scripts.insert(pattern, (value.clone(), key.clone()));
                }
                "useOpenLibs" => {
                    let flag = parse_bool(value).ok_or_else(|| {
                        ModelError::invalid(key, format!("`{value}` is not true or false"))
                    })?;
                    open_libs.insert(pattern, flag);
                }
                "actions" | "ignoreDifferences" | "ignoreResourceUpdates" | "knownTypeFields" => {
                    ignored.push((key.clone(), format!("bosun does not act on {kind_of_rule}")));
                }
                other => {
                    return Err(ModelError::invalid(
                        key,
                        format!(
                            "unknown customization `{other}`, expected health, useOpenLibs, \
                             actions, ignoreDifferences, ignoreResourceUpdates or knownTypeFields"
                        ),
                    ));
                }
            }
        }
        for pattern in open_libs.keys() {
            if !scripts.contains_key(pattern) {
                ignored.push((
                    format!("{CUSTOMIZATIONS}.useOpenLibs ({pattern})"),
                    "no health script for that kind".into(),
                ));
            }
        }
        let mut health: Vec<HealthRule> = scripts
            .into_iter()
            .map(|(pattern, (script, origin))| HealthRule {
                open_libs: open_libs.get(&pattern).copied().unwrap_or(false),
                pattern,
                script,
                origin,
            })
            .collect();
        // An exact key wins over a wildcard, as in Argo CD.
        health.sort_by_key(|r| r.pattern.contains('*'));
        Ok(Customizations { health, ignored })
    }

    /// The health rule for an object of `group` and `kind`.
    pub fn health_rule(&self, group: &str, kind: &str) -> Option<&HealthRule> {
        let key = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{group}/{kind}")
        };
        self.health.iter().find(|r| r.matches(&key))
    }
}

/// One entry of the YAML block.
#[derive(Deserialize, Default)]
struct BlockEntry {
    #[serde(rename = "health.lua")]
    health: Option<String>,
    #[serde(rename = "health.lua.useOpenLibs")]
    open_libs: Option<bool>,
    #[serde(flatten)]
    other: BTreeMap<String, serde::de::IgnoredAny>,
}

fn read_block(
    key: &str,
    text: &str,
    scripts: &mut BTreeMap<String, (String, String)>,
    open_libs: &mut BTreeMap<String, bool>,
    ignored: &mut Vec<(String, String)>,
) -> Result<(), ModelError> {
    let entries: BTreeMap<String, Option<BlockEntry>> =
        crate::yaml::decode(text, 0).map_err(|e| e.under(key))?;
    for (pattern, entry) in entries {
        let entry = entry.unwrap_or_default();
        let origin = format!("{key}.{pattern:?}");
        if let Some(script) = entry.health {
            scripts.insert(pattern.clone(), (script, origin.clone()));
        }
        if let Some(flag) = entry.open_libs {
            open_libs.insert(pattern.clone(), flag);
        }
        for field in entry.other.keys() {
            ignored.push((
                format!("{origin}.{field}"),
                "bosun does not act on it".into(),
            ));
        }
    }
    Ok(())
}

/// `<group>_<kind>` → `<group>/<kind>`; `<kind>` stays; `all` is every kind (Argo CD's
/// `convertToOverrideKey`).
fn split_key_pattern(group_kind: &str) -> Result<String, String> {
    if group_kind == "all" {
        return Ok("*/*".into());
    }
    let parts: Vec<&str> = group_kind.split('_').collect();
    match parts.as_slice() {
        [kind] if !kind.is_empty() => Ok((*kind).to_owned()),
        [group, kind] if !group.is_empty() && !kind.is_empty() => Ok(format!("{group}/{kind}")),
        _ => Err(format!(
            "group kind should be in format `resource.customizations.<type>.<group_kind>` or \
             `resource.customizations.<type>.<kind>`, got group kind: '{group_kind}'"
        )),
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "True" | "TRUE" | "1" | "t" | "T" => Some(true),
        "false" | "False" | "FALSE" | "0" | "f" | "F" => Some(false),
        _ => None,
    }
}

/// `*` matches any run of characters, everything else itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = rest.split('*').collect();
    for (i, piece) in pieces.iter().enumerate() {
        let last = i == pieces.len() - 1;
        if last {
            return remaining.ends_with(piece);
        }
        match remaining.find(piece) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn split_keys_and_the_yaml_block_give_health_rules() {
        let cm = data(&[
            ("url", "https://argocd.example.com"),
            (
                "resource.customizations.health.example.com_Widget",
                "return {status = 'Healthy'}",
            ),
            (
                "resource.customizations.useOpenLibs.example.com_Widget",
                "true",
            ),
            (
                "resource.customizations.health.ConfigMap",
                "return {status = 'Healthy'}",
            ),
            (
                "resource.customizations",
                "\"*.crossplane.io/*\":\n  health.lua: |\n    return {status = 'Degraded'}\n  health.lua.useOpenLibs: false\n  actions: |\n    discovery.lua: x\n",
            ),
            (
                "resource.customizations.ignoreDifferences.apps_Deployment",
                "jsonPointers: [/spec]",
            ),
        ]);
        let custom = Customizations::from_argocd_cm(&cm).unwrap();
        let widget = custom.health_rule("example.com", "Widget").unwrap();
        assert!(widget.open_libs);
        assert_eq!(
            widget.origin,
            "resource.customizations.health.example.com_Widget"
        );
        assert!(!custom.health_rule("", "ConfigMap").unwrap().open_libs);
        let bucket = custom
            .health_rule("s3.aws.crossplane.io", "Bucket")
            .unwrap();
        assert_eq!(bucket.pattern, "*.crossplane.io/*");
        assert!(custom.health_rule("apps", "Deployment").is_none());
        assert_eq!(
            custom
                .ignored
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            [
                "resource.customizations.\"*.crossplane.io/*\".actions",
                "resource.customizations.ignoreDifferences.apps_Deployment"
            ]
        );
    }

    #[test]
    fn an_exact_key_wins_over_a_wildcard() {
        let cm = data(&[
            (
                "resource.customizations.health.all",
                "return {status = 'Unknown'}",
            ),
            (
                "resource.customizations.health.example.com_Widget",
                "return {status = 'Healthy'}",
            ),
        ]);
        let custom = Customizations::from_argocd_cm(&cm).unwrap();
        assert_eq!(
            custom.health_rule("example.com", "Widget").unwrap().pattern,
            "example.com/Widget"
        );
        assert_eq!(
            custom.health_rule("apps", "Deployment").unwrap().pattern,
            "*/*"
        );
    }

    #[test]
    fn bad_keys_and_values_are_errors_that_name_the_key() {
        for (key, value, message) in [
            (
                "resource.customizations.health.a_b_c",
                "x",
                "got group kind: 'a_b_c'",
            ),
            (
                "resource.customizations.useOpenLibs.Pod",
                "yes",
                "`yes` is not true or false",
            ),
            (
                "resource.customizations.healthz.Pod",
                "x",
                "unknown customization `healthz`",
            ),
            (
                "resource.customizations.health",
                "x",
                "expected `resource.customizations.<type>",
            ),
        ] {
            let error = Customizations::from_argocd_cm(&data(&[(key, value)])).unwrap_err();
            assert_eq!(error.path, key);
            assert!(error.message.contains(message), "{key}: {}", error.message);
        }
        let error = Customizations::from_argocd_cm(&data(&[(
            "resource.customizations",
            "example.com/Widget:\n  health.lua.useOpenLibs: maybe\n",
        )]))
        .unwrap_err();
        assert!(error.path.starts_with("resource.customizations"), "{error}");
    }

    #[test]
    fn globs_match_as_argo_cds_do() {
        assert!(glob_matches("*/*", "example.com/Widget"));
        assert!(glob_matches(
            "*.crossplane.io/*",
            "s3.aws.crossplane.io/Bucket"
        ));
        assert!(!glob_matches("*.crossplane.io/*", "crossplane.io/Bucket"));
        assert!(glob_matches("example.com/Wid*", "example.com/Widget"));
        assert!(!glob_matches("example.com/Widget", "example.com/Widgets"));
        assert!(glob_matches("*", ""));
    }
}
