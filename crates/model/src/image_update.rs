//! Image update settings as Argo CD Image Updater users write them: the v0.x annotations on an
//! Application (`argocd-image-updater.argoproj.io/image-list` and friends), read unchanged.
//!
//! This is the syntax only (which image, which strategy string, which target file); the tag
//! rules themselves (semver constraints, regexps, globs) are compiled and checked by
//! `bosun-images`, which names the annotation in its errors too.

use std::collections::BTreeMap;

use crate::Application;
use crate::error::ModelError;

/// The annotation prefix Image Updater reads.
pub const PREFIX: &str = "argocd-image-updater.argoproj.io/";
/// The annotation that makes an Application's images watched.
pub const IMAGE_LIST: &str = "argocd-image-updater.argoproj.io/image-list";

/// One image of `image-list`, with its options (per-alias annotations, else the app-wide ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageEntry {
    /// The alias (`api=ghcr.io/acme/api`); per-image annotations are keyed by it.
    pub alias: Option<String>,
    /// The image without its constraint: `[registry/]repository`.
    pub image: String,
    /// What follows the image's `:`: a semver constraint (`~1.2`), or the tag to track for the
    /// `digest` strategy.
    pub constraint: Option<String>,
    /// `update-strategy`, `allow-tags`, `ignore-tags`, `force-update`: annotation values as
    /// written, per alias first, else app-wide, with the annotation's full name for errors.
    pub options: BTreeMap<&'static str, (String, String)>,
    /// `helm.image-name`, `helm.image-tag`, `helm.image-spec`, `kustomize.image-name` (per alias
    /// only, as Image Updater).
    pub helm_image_name: Option<String>,
    pub helm_image_tag: Option<String>,
    pub helm_image_spec: Option<String>,
    pub kustomize_image_name: Option<String>,
}

/// Where a write-back goes, relative to the repository's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteBackTarget {
    /// A kustomization in this directory (`kustomization.yaml`, `.yml` or `Kustomization`).
    Kustomization(String),
    /// A Helm values file.
    HelmValues(String),
}

/// An Application's image update settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageUpdate {
    pub images: Vec<ImageEntry>,
    pub target: WriteBackTarget,
    /// The repository written to (`git-repository`, else the source's `repoURL`).
    pub repository: String,
    /// The branch read (`git-branch`'s base, else the source's `targetRevision`; `HEAD` or
    /// empty means the remote's default branch).
    pub base_branch: String,
    /// The branch pushed to, when not `base_branch` (`git-branch: main:image-updater-…`);
    /// a Go template as Image Updater's (`{{.SHA256}}`, `{{range .Images}}…{{end}}`).
    pub target_branch: Option<String>,
    /// `write-back-method` as written (`git`, `git:secret:ns/name`, `argocd`, or absent).
    pub method: Option<String>,
}

const OPTIONS: [&str; 4] = [
    "update-strategy",
    "allow-tags",
    "ignore-tags",
    "force-update",
];

fn at(key: &str) -> String {
    format!("metadata.annotations[\"{key}\"]")
}

/// The Application's image update settings, `None` when it has no `image-list`.
pub fn image_update(app: &Application) -> Result<Option<ImageUpdate>, ModelError> {
    let annotations = &app.metadata.annotations;
    let Some(list) = annotations.get(IMAGE_LIST) else {
        return Ok(None);
    };
    let get = |name: &str| {
        annotations
            .get(&format!("{PREFIX}{name}"))
            .map(|v| v.trim().to_string())
    };
    let mut images = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (alias, reference) = match item.split_once('=') {
            Some((alias, reference)) => (Some(alias.trim().to_string()), reference.trim()),
            None => (None, item),
        };
        if alias.as_deref() == Some("") || reference.is_empty() {
            return Err(ModelError::invalid(
                at(IMAGE_LIST),
                format!("`{item}`: expected [alias=]image[:constraint]"),
            ));
        }
        let (image, constraint) = split_constraint(reference);
        // Image Updater writes a `/` of an alias as `_` in annotation keys.
        let key = alias.as_deref().map(|a| a.replace('/', "_"));
        let per_alias = |option: &str| key.as_deref().and_then(|k| get(&format!("{k}.{option}")));
        let mut options = BTreeMap::new();
        for option in OPTIONS {
            let found = key
                .as_deref()
                .and_then(|k| {
                    let name = format!("{PREFIX}{k}.{option}");
                    annotations.get(&name).map(|v| (name, v.trim().to_string()))
                })
                .or_else(|| {
                    let name = format!("{PREFIX}{option}");
                    annotations.get(&name).map(|v| (name, v.trim().to_string()))
                });
            if let Some(found) = found {
                options.insert(option, found);
            }
        }
        images.push(ImageEntry {
            alias: alias.clone(),
            image: image.to_string(),
            constraint: constraint.map(str::to_string),
            options,
            helm_image_name: per_alias("helm.image-name"),
            helm_image_tag: per_alias("helm.image-tag"),
            helm_image_spec: per_alias("helm.image-spec"),
            kustomize_image_name: per_alias("kustomize.image-name"),
        });
    }
    if images.is_empty() {
        return Err(ModelError::invalid(at(IMAGE_LIST), "names no image"));
    }
    let source = app.spec.all_sources().first().cloned().ok_or_else(|| {
        ModelError::invalid(
            "spec.source",
            "an Application with image-list needs a source",
        )
    })?;
    let source_path = source.path.clone().unwrap_or_default();
    let target = write_back_target(
        get("write-back-target").as_deref(),
        &at(&format!("{PREFIX}write-back-target")),
        &source_path,
    )?;
    let method = get("write-back-method");
    check_method(
        method.as_deref(),
        &at(&format!("{PREFIX}write-back-method")),
    )?;
    let (base_branch, target_branch) = branches(
        get("git-branch").as_deref(),
        &at(&format!("{PREFIX}git-branch")),
        source,
    )?;
    Ok(Some(ImageUpdate {
        images,
        target,
        repository: get("git-repository").unwrap_or(source.repo_url.clone()),
        base_branch,
        target_branch,
        method,
    }))
}

/// `helmvalues[:path]` or `kustomization[:path]` (the annotation `write-back-target`, the
/// resource's `gitConfig.writeBackTarget`), resolved against the source's path; `at` names the
/// field in errors.
pub(crate) fn write_back_target(
    target: Option<&str>,
    at: &str,
    source_path: &str,
) -> Result<WriteBackTarget, ModelError> {
    let Some(target) = target else {
        return Err(ModelError::invalid(
            at,
            "is not set: bosun writes to a file in Git; set `helmvalues[:path]` or \
             `kustomization[:path]` (Image Updater's default `.argocd-source-<app>.yaml` \
             parameter file is not read by bosun's render)",
        ));
    };
    let (kind, path) = target.split_once(':').unwrap_or((target, ""));
    let resolve = |default: &str| {
        if let Some(absolute) = path.strip_prefix('/') {
            clean(absolute)
        } else if path.is_empty() {
            clean(&format!("{source_path}/{default}"))
        } else {
            clean(&format!("{source_path}/{path}"))
        }
    };
    match kind {
        "kustomization" => Ok(WriteBackTarget::Kustomization(resolve("."))),
        "helmvalues" => Ok(WriteBackTarget::HelmValues(resolve("values.yaml"))),
        other => Err(ModelError::invalid(
            at,
            format!("`{other}`: expected `helmvalues[:path]` or `kustomization[:path]`"),
        )),
    }
}

/// `git`, `git:<credentials>` or `argocd` (bosun writes to Git whichever it is).
pub(crate) fn check_method(method: Option<&str>, at: &str) -> Result<(), ModelError> {
    if let Some(method) = method {
        let kind = method.split(':').next().unwrap_or_default();
        if kind != "git" && kind != "argocd" {
            return Err(ModelError::invalid(
                at,
                format!("`{method}`: expected `git`, `git:<credentials>` or `argocd`"),
            ));
        }
    }
    Ok(())
}

/// `branch` or `base:target` (`git-branch`, `gitConfig.branch`): the branch read and the one
/// pushed to when it differs; no base means the source's `targetRevision`.
pub(crate) fn branches(
    branch: Option<&str>,
    at: &str,
    source: &crate::ApplicationSource,
) -> Result<(String, Option<String>), ModelError> {
    let branch = branch.unwrap_or_default();
    let (base, target_branch) = match branch.split(':').collect::<Vec<_>>().as_slice() {
        [base] => (base.to_string(), None),
        [base, target] if !target.is_empty() => (base.to_string(), Some(target.to_string())),
        _ => {
            return Err(ModelError::invalid(
                at,
                format!("`{branch}`: expected `branch` or `base:target`"),
            ));
        }
    };
    let base_branch = if base.is_empty() {
        source.target_revision.clone().unwrap_or_default()
    } else {
        base
    };
    Ok((base_branch, target_branch))
}

/// `ghcr.io/acme/api:~1.2` → (`ghcr.io/acme/api`, `~1.2`); a registry's port is not a tag.
pub(crate) fn split_constraint(reference: &str) -> (&str, Option<&str>) {
    let reference = reference.split('@').next().unwrap_or(reference);
    let name_start = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[name_start..].find(':') {
        Some(i) => {
            let at = name_start + i;
            let constraint = &reference[at + 1..];
            (
                &reference[..at],
                (!constraint.is_empty()).then_some(constraint),
            )
        }
        None => (reference, None),
    }
}

/// `a/./b/../c` → `a/c`, without a leading `/`.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(annotations: &[(&str, &str)]) -> Application {
        let mut text = String::from(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: api-dev\n  annotations:\n",
        );
        for (k, v) in annotations {
            text.push_str(&format!("    {k}: {v:?}\n"));
        }
        text.push_str("spec:\n  project: default\n  source:\n    repoURL: https://git.example.com/config.git\n    targetRevision: main\n    path: envs/dev\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: dev\n");
        crate::parse_applications(&text, "app.yaml")
            .unwrap()
            .remove(0)
    }

    #[test]
    fn annotations_are_read_as_image_updater_reads_them() {
        let app = app(&[
            (
                IMAGE_LIST,
                "api=127.0.0.1:5000/acme/api:~1, worker=ghcr.io/acme/worker",
            ),
            (
                "argocd-image-updater.argoproj.io/api.update-strategy",
                "semver",
            ),
            (
                "argocd-image-updater.argoproj.io/update-strategy",
                "newest-build",
            ),
            (
                "argocd-image-updater.argoproj.io/api.helm.image-tag",
                "api.image.tag",
            ),
            ("argocd-image-updater.argoproj.io/write-back-method", "git"),
            (
                "argocd-image-updater.argoproj.io/write-back-target",
                "helmvalues:../common/values.yaml",
            ),
        ]);
        let update = image_update(&app).unwrap().unwrap();
        assert_eq!(update.images.len(), 2);
        let api = &update.images[0];
        assert_eq!(api.image, "127.0.0.1:5000/acme/api");
        assert_eq!(api.constraint.as_deref(), Some("~1"));
        assert_eq!(api.options["update-strategy"].1, "semver");
        assert_eq!(api.helm_image_tag.as_deref(), Some("api.image.tag"));
        assert_eq!(
            update.images[1].options["update-strategy"].1,
            "newest-build"
        );
        assert_eq!(update.images[1].constraint, None);
        assert_eq!(
            update.target,
            WriteBackTarget::HelmValues("envs/common/values.yaml".into())
        );
        assert_eq!(update.base_branch, "main");
        assert_eq!(update.repository, "https://git.example.com/config.git");
    }

    #[test]
    fn targets_and_branches() {
        let update = image_update(&app(&[
            (IMAGE_LIST, "nginx"),
            (
                "argocd-image-updater.argoproj.io/write-back-target",
                "kustomization:/base",
            ),
            (
                "argocd-image-updater.argoproj.io/git-branch",
                "main:image-updater-{{.SHA256}}",
            ),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(update.target, WriteBackTarget::Kustomization("base".into()));
        assert_eq!(
            update.target_branch.as_deref(),
            Some("image-updater-{{.SHA256}}")
        );
        let error = image_update(&app(&[(IMAGE_LIST, "nginx")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("write-back-target") && error.contains("helmvalues"),
            "{error}"
        );
        let error = image_update(&app(&[
            (IMAGE_LIST, "nginx"),
            (
                "argocd-image-updater.argoproj.io/write-back-target",
                "values.yaml",
            ),
        ]))
        .unwrap_err()
        .to_string();
        assert!(error.contains("`values.yaml`: expected"), "{error}");
    }
}
