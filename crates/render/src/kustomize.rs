//! Kustomize sources, built by the real kustomize inside `kubectl kustomize`.
//!
//! Argo CD applies an Application's `kustomize` parameters by running `kustomize edit set image`,
//! `set nameprefix`/`namesuffix`/`namespace` and `add label`/`annotation` on the checkout, then
//! `kustomize build`. bosun does the same edits, but on a private copy of the checkout
//! ([`WorkCopy`]) and directly on the kustomization's data: `kubectl` has no `edit` subcommand,
//! and editing the source kustomization (rather than wrapping it in a new one) keeps Argo CD's
//! meaning exactly, e.g. an `images` entry replaces the entry of the same name even when the
//! overlay already renames that image, which a wrapper layer could not match. The edited file is
//! written as JSON, which kustomize reads as YAML; only the copy ever sees it.
//!
//! Differences from Argo CD: labels and annotations always overwrite existing keys (as with
//! `forceCommonLabels`/`forceCommonAnnotations`), where Argo CD without those flags fails; and
//! `labelWithoutSelector`, `replicas`, `components`, `patches` and `version` are not applied
//! (the model lists them as ignored).

use std::path::Path;

use bosun_model::KustomizeSource;
use serde_json::{Map, Value};

use crate::detect;
use crate::error::RenderError;
use crate::process::{Invocation, ToolRunner};
use crate::workdir::WorkCopy;

/// Whether any parameter asks for an edit of the kustomization.
pub(crate) fn has_edits(options: &KustomizeSource) -> bool {
    !options.images.is_empty()
        || options
            .name_prefix
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        || options
            .name_suffix
            .as_deref()
            .is_some_and(|s| !s.is_empty())
        || !options.common_labels.is_empty()
        || !options.common_annotations.is_empty()
        || options.namespace.as_deref().is_some_and(|s| !s.is_empty())
}

/// Builds `dir` (inside `root`, the canonical checkout) and returns kustomize's YAML output.
pub(crate) async fn build(
    runner: &ToolRunner,
    kubectl: &Path,
    root: &Path,
    dir: &Path,
    options: Option<&KustomizeSource>,
) -> Result<String, RenderError> {
    let edits = options.filter(|o| has_edits(o)).cloned();
    let (copy, build_dir) = match edits {
        None => (None, dir.to_path_buf()),
        Some(edits) => {
            let (original_root, original_dir) = (root.to_path_buf(), dir.to_path_buf());
            let copy = tokio::task::spawn_blocking(move || -> Result<WorkCopy, RenderError> {
                let (root, dir) = (original_root, original_dir);
                let copy = WorkCopy::of(&root)?;
                let copied_dir = copy.path_of(&root, &dir);
                let file = detect::kustomization_file(&copied_dir).ok_or_else(|| {
                    RenderError::Unsupported(format!(
                        "kustomize parameters need a kustomization file in {}",
                        dir.strip_prefix(&root).unwrap_or(&dir).display()
                    ))
                })?;
                let shown = file
                    .strip_prefix(&copy.root)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                edit_kustomization(&file, &shown, &edits)?;
                Ok(copy)
            })
            .await
            .expect("kustomization edit task does not panic")?;
            let build_dir = copy.path_of(root, dir);
            (Some(copy), build_dir)
        }
    };
    let output = runner
        .run(Invocation {
            name: "kubectl kustomize",
            binary: kubectl,
            args: vec!["kustomize".into(), build_dir.clone().into_os_string()],
            cwd: Some(&build_dir),
            env: Vec::new(),
            hide_roots: copy
                .iter()
                .map(|c| c.root.clone())
                .chain([root.to_path_buf()])
                .collect(),
            stdout_in_errors: false,
            stdin: None,
            timeout: None,
        })
        .await;
    drop(copy);
    output
}

/// Applies the Application's parameters to the kustomization at `file`, in place.
fn edit_kustomization(
    file: &Path,
    shown: &str,
    edits: &KustomizeSource,
) -> Result<(), RenderError> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| RenderError::io(format!("reading {shown}"), err))?;
    let parsed: Value =
        serde_saphyr::from_str(&text).map_err(|err| RenderError::InvalidManifest {
            origin: shown.to_string(),
            line: err.location().map(|l| l.line()),
            document: None,
            template: None,
            message: err.without_snippet().to_string(),
        })?;
    let mut kustomization = match parsed {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(RenderError::InvalidManifest {
                origin: shown.to_string(),
                line: None,
                document: None,
                template: None,
                message: "a kustomization must be a mapping".into(),
            });
        }
    };
    apply(&mut kustomization, edits);
    let json = serde_json::to_string_pretty(&Value::Object(kustomization))
        .expect("a JSON value always serialises");
    // The copy may hold a symlink here; replace it rather than write through it.
    std::fs::remove_file(file)
        .and_then(|()| std::fs::write(file, json))
        .map_err(|err| RenderError::io(format!("writing edited {shown}"), err))
}

/// The equivalent of Argo CD's `kustomize edit` calls, on the kustomization's data.
fn apply(kustomization: &mut Map<String, Value>, edits: &KustomizeSource) {
    for spec in &edits.images {
        set_image(kustomization, &ImageOverride::parse(spec));
    }
    for (field, value) in [
        ("namePrefix", &edits.name_prefix),
        ("nameSuffix", &edits.name_suffix),
        ("namespace", &edits.namespace),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            kustomization.insert(field.into(), Value::String(value.into()));
        }
    }
    for (field, entries) in [
        ("commonLabels", &edits.common_labels),
        ("commonAnnotations", &edits.common_annotations),
    ] {
        if entries.is_empty() {
            continue;
        }
        let map = object_field(kustomization, field);
        for (key, value) in entries {
            map.insert(key.clone(), Value::String(value.clone()));
        }
    }
}

fn object_field<'a>(map: &'a mut Map<String, Value>, field: &str) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// One `images` entry as `kustomize edit set image` reads it: `name=newName:tag`,
/// `name=newName@digest`, `name=newName`, `name:tag` or `name@digest`.
#[derive(Debug, PartialEq)]
struct ImageOverride {
    name: String,
    new_name: Option<String>,
    new_tag: Option<String>,
    digest: Option<String>,
}

impl ImageOverride {
    fn parse(spec: &str) -> Self {
        match spec.split_once('=') {
            Some((name, reference)) => {
                let (new_name, new_tag, digest) = split_reference(reference);
                ImageOverride {
                    name: name.to_string(),
                    new_name: Some(new_name),
                    new_tag,
                    digest,
                }
            }
            None => {
                let (name, new_tag, digest) = split_reference(spec);
                ImageOverride {
                    name,
                    new_name: None,
                    new_tag,
                    digest,
                }
            }
        }
    }
}

/// Splits `registry:5000/repo/name:tag@digest` into name, tag and digest. A `:` before the last
/// `/` is a registry port, not a tag.
fn split_reference(reference: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest.to_string())),
        None => (reference, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => {
            let colon = last_slash + i;
            (
                rest[..colon].to_string(),
                Some(rest[colon + 1..].to_string()),
                digest,
            )
        }
        None => (rest.to_string(), None, digest),
    }
}

/// Updates the `images` entry named like the override, or appends one; a new tag drops an old
/// digest and the reverse, as `kustomize edit set image` does.
fn set_image(kustomization: &mut Map<String, Value>, image: &ImageOverride) {
    let images = kustomization
        .entry("images")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !images.is_array() {
        *images = Value::Array(Vec::new());
    }
    let images = images.as_array_mut().expect("just made an array");
    let position = images
        .iter()
        .position(|entry| entry.get("name").and_then(Value::as_str) == Some(image.name.as_str()));
    let entry = match position {
        Some(i) => &mut images[i],
        None => {
            images.push(serde_json::json!({ "name": image.name }));
            images.last_mut().expect("just pushed")
        }
    };
    let Some(entry) = entry.as_object_mut() else {
        return;
    };
    if let Some(new_name) = &image.new_name {
        entry.insert("newName".into(), Value::String(new_name.clone()));
    }
    if let Some(tag) = &image.new_tag {
        entry.insert("newTag".into(), Value::String(tag.clone()));
        entry.remove("digest");
    }
    if let Some(digest) = &image.digest {
        entry.insert("digest".into(), Value::String(digest.clone()));
        if image.new_tag.is_none() {
            entry.remove("newTag");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_overrides_parse_like_kustomize_edit_set_image() {
        let parsed = ImageOverride::parse("app=registry.local:5000/team/app:1.2.3");
        assert_eq!(parsed.name, "app");
        assert_eq!(
            parsed.new_name.as_deref(),
            Some("registry.local:5000/team/app")
        );
        assert_eq!(parsed.new_tag.as_deref(), Some("1.2.3"));
        let parsed = ImageOverride::parse("nginx:1.27");
        assert_eq!(
            (
                parsed.name.as_str(),
                parsed.new_name,
                parsed.new_tag.as_deref()
            ),
            ("nginx", None, Some("1.27"))
        );
        let parsed = ImageOverride::parse("nginx@sha256:abc");
        assert_eq!(
            (
                parsed.name.as_str(),
                parsed.new_tag,
                parsed.digest.as_deref()
            ),
            ("nginx", None, Some("sha256:abc"))
        );
    }

    #[test]
    fn set_image_replaces_the_entry_of_the_same_name() {
        let mut k: Map<String, Value> = serde_json::from_str(
            r#"{"images":[{"name":"app","newName":"ecr/app","newTag":"1.0"},{"name":"db","newTag":"9"}]}"#,
        )
        .unwrap();
        set_image(&mut k, &ImageOverride::parse("app:2.0"));
        set_image(&mut k, &ImageOverride::parse("cache=redis:7"));
        assert_eq!(
            Value::Object(k)["images"],
            serde_json::json!([
                {"name": "app", "newName": "ecr/app", "newTag": "2.0"},
                {"name": "db", "newTag": "9"},
                {"name": "cache", "newName": "redis", "newTag": "7"}
            ])
        );
    }
}
