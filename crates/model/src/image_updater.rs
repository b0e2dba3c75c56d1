//! Argo CD Image Updater's v1 `ImageUpdater` resource
//! (`argocd-image-updater.argoproj.io/v1alpha1`), read unchanged: the second front end of the one
//! image update model, [`ImageUpdate`]. The annotations (`crate::image_update`) are the first.
//!
//! As in Image Updater v1 (`pkg/argocd/argocd.go`): an `ImageUpdater` selects the Applications
//! of its own namespace whose name matches an `applicationRefs[].namePattern` (Go
//! `filepath.Match`) and whose labels match its `labelSelectors`; when several refs match, the
//! most specific one is used (an exact name first, then more literal characters, then label
//! selectors). Settings are layered `spec` < `applicationRefs[]` < `images[]` for
//! `commonUpdateSettings`, field by field, and `spec` < `applicationRefs[]` for
//! `writeBackConfig`. `useAnnotations: true` makes the ref select only; the Application's
//! annotations then configure it. An Application an `ImageUpdater` selects is configured by it,
//! not by its annotations: v1 reads no annotations outside `useAnnotations`.
//!
//! What bosun does not act on is named ([`ImageUpdaterResource::ignored_fields`]), and what
//! would make it act differently from Image Updater is refused with the field's path.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ModelError;
use crate::glob::go_match;
use crate::ignored::IgnoredField;
use crate::image_update::{
    ImageEntry, ImageUpdate, branches, check_method, image_update, split_constraint,
    write_back_target,
};
use crate::{Application, yaml};

pub const API_VERSION: &str = "argocd-image-updater.argoproj.io/v1alpha1";
pub const KIND: &str = "ImageUpdater";

/// Where Argo CD keeps Applications, and so where an `ImageUpdater` or an Application without a
/// `metadata.namespace` is taken to be.
pub const DEFAULT_NAMESPACE: &str = "argocd";

/// One `ImageUpdater` object, with where it was read (for errors and option names).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageUpdaterResource {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
    /// Image Updater's own status; not read.
    #[serde(default)]
    pub status: Option<Value>,
    /// `file: ImageUpdater namespace/name`, set when parsed.
    #[serde(skip)]
    pub origin: String,
}

/// The object's metadata: its name and namespace count; the rest (labels, server-set fields) is
/// Kubernetes' and not read.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Metadata {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Early v1alpha1: the namespace Applications are searched in (later: `metadata.namespace`).
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub common_update_settings: Option<CommonUpdateSettings>,
    #[serde(default)]
    pub write_back_config: Option<WriteBackConfig>,
    #[serde(default)]
    pub application_refs: Vec<ApplicationRef>,
    #[serde(default)]
    pub images_verification: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationRef {
    pub name_pattern: String,
    #[serde(default)]
    pub label_selectors: Option<LabelSelector>,
    #[serde(default)]
    pub use_annotations: Option<bool>,
    #[serde(default)]
    pub images_verification: Option<Value>,
    #[serde(default)]
    pub common_update_settings: Option<CommonUpdateSettings>,
    #[serde(default)]
    pub write_back_config: Option<WriteBackConfig>,
    #[serde(default)]
    pub images: Vec<ImageConfig>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageConfig {
    pub alias: String,
    /// `[registry/]repository[:constraint]`, as an `image-list` item.
    pub image_name: String,
    #[serde(default)]
    pub common_update_settings: Option<CommonUpdateSettings>,
    #[serde(default)]
    pub manifest_targets: Option<ManifestTarget>,
    #[serde(default)]
    pub images_verification: Option<Value>,
    /// Early v1alpha1 kept `platforms` here (later in `commonUpdateSettings`).
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommonUpdateSettings {
    #[serde(default)]
    pub update_strategy: Option<String>,
    #[serde(default)]
    pub force_update: Option<bool>,
    #[serde(default)]
    pub allow_tags: Option<String>,
    #[serde(default)]
    pub ignore_tags: Option<Vec<String>>,
    #[serde(default)]
    pub pull_secret: Option<String>,
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteBackConfig {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub git_config: Option<GitConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitConfig {
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub write_back_target: Option<String>,
    #[serde(default)]
    pub pull_request: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestTarget {
    #[serde(default)]
    pub helm: Option<HelmTarget>,
    #[serde(default)]
    pub kustomize: Option<KustomizeTarget>,
    #[serde(default)]
    pub plugin: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmTarget {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub spec: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KustomizeTarget {
    #[serde(default)]
    pub name: Option<String>,
}

/// A Kubernetes label selector (`metav1.LabelSelector`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Kubernetes' rules: every label and every expression must hold; an empty selector
    /// matches everything.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    _ => value.is_none(),
                }
            })
    }

    fn validate(&self, at: &str) -> Result<(), ModelError> {
        for (i, r) in self.match_expressions.iter().enumerate() {
            let at = format!("{at}.matchExpressions[{i}]");
            match (r.operator.as_str(), r.values.is_empty()) {
                ("In" | "NotIn", false) | ("Exists" | "DoesNotExist", true) => {}
                ("In" | "NotIn", true) => {
                    return Err(ModelError::invalid(
                        format!("{at}.values"),
                        format!("must not be empty for `{}`", r.operator),
                    ));
                }
                ("Exists" | "DoesNotExist", false) => {
                    return Err(ModelError::invalid(
                        format!("{at}.values"),
                        format!("must be empty for `{}`", r.operator),
                    ));
                }
                (other, _) => {
                    return Err(ModelError::invalid(
                        format!("{at}.operator"),
                        format!("`{other}`: expected In, NotIn, Exists or DoesNotExist"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Parses one document already known to be an `ImageUpdater` (see `crate::load`), and checks
/// what can be checked without an Application.
/// Errors before the object's name is known name the document; after, the object.
pub(crate) fn parse_document(
    text: &str,
    line_offset: u64,
    file: &str,
    document: usize,
) -> Result<ImageUpdaterResource, ModelError> {
    let mut resource: ImageUpdaterResource =
        yaml::decode(text, line_offset).map_err(|e| e.in_document(file, Some(document)))?;
    check_api_version(&resource).map_err(|e| e.in_document(file, Some(document)))?;
    resource.origin = format!("{file}: {KIND} {}", resource.key());
    resource
        .validate()
        .map_err(|e| e.in_document(&resource.origin, None))?;
    Ok(resource)
}

/// Parses an `ImageUpdater` kept as a Kubernetes object (`text`, its JSON as a namespace watch
/// sees it, without status), and checks it as [`parse_document`] does. It and its errors are
/// named `ImageUpdater <namespace>/<name>`.
pub fn parse_object(
    text: &str,
    namespace: &str,
    name: &str,
) -> Result<ImageUpdaterResource, ModelError> {
    let origin = format!("{KIND} {namespace}/{name}");
    let mut resource: ImageUpdaterResource =
        yaml::decode(text, 0).map_err(|e| e.in_document(&origin, None))?;
    check_api_version(&resource).map_err(|e| e.in_document(&origin, None))?;
    resource.origin = origin;
    resource
        .validate()
        .map_err(|e| e.in_document(&resource.origin, None))?;
    Ok(resource)
}

fn check_api_version(resource: &ImageUpdaterResource) -> Result<(), ModelError> {
    if resource.api_version == API_VERSION {
        return Ok(());
    }
    Err(ModelError::invalid(
        "apiVersion",
        format!(
            "`{}` is not supported; expected `{API_VERSION}`",
            resource.api_version
        ),
    ))
}

impl ImageUpdaterResource {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace(), self.metadata.name)
    }

    /// The namespace whose Applications it selects: `spec.namespace` (early v1alpha1), else its
    /// own.
    pub fn namespace(&self) -> &str {
        self.spec
            .namespace
            .as_deref()
            .or(self.metadata.namespace.as_deref())
            .unwrap_or(DEFAULT_NAMESPACE)
    }

    fn validate(&self) -> Result<(), ModelError> {
        if self.metadata.name.is_empty() {
            return Err(ModelError::invalid("metadata.name", "must not be empty"));
        }
        if self.spec.application_refs.is_empty() {
            return Err(ModelError::invalid(
                "spec.applicationRefs",
                "names no Application (at least one ref)",
            ));
        }
        if let Some(w) = &self.spec.write_back_config {
            w.validate("spec.writeBackConfig")?;
        }
        let mut patterns = Vec::new();
        for (i, r) in self.spec.application_refs.iter().enumerate() {
            let at = format!("spec.applicationRefs[{i}]");
            if go_match(r.name_pattern.as_bytes(), b"").is_err() {
                return Err(ModelError::invalid(
                    format!("{at}.namePattern"),
                    format!(
                        "`{}`: not a valid pattern (Go filepath.Match syntax)",
                        r.name_pattern
                    ),
                ));
            }
            if patterns.contains(&&r.name_pattern) {
                return Err(ModelError::invalid(
                    format!("{at}.namePattern"),
                    format!("`{}` is used by another ref", r.name_pattern),
                ));
            }
            patterns.push(&r.name_pattern);
            if let Some(s) = &r.label_selectors {
                s.validate(&format!("{at}.labelSelectors"))?;
            }
            if let Some(w) = &r.write_back_config {
                w.validate(&format!("{at}.writeBackConfig"))?;
            }
            if r.use_annotations == Some(true) {
                continue;
            }
            if r.images.is_empty() {
                return Err(ModelError::invalid(
                    format!("{at}.images"),
                    "names no image (and useAnnotations is not true)",
                ));
            }
            let mut aliases = Vec::new();
            for (j, image) in r.images.iter().enumerate() {
                let at = format!("{at}.images[{j}]");
                let alias = &image.alias;
                let valid = alias.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && alias
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
                if !valid {
                    return Err(ModelError::invalid(
                        format!("{at}.alias"),
                        format!(
                            "`{alias}`: expected letters, digits, `-`, `.`, `_`, starting with a letter or digit"
                        ),
                    ));
                }
                if aliases.contains(&alias) {
                    return Err(ModelError::invalid(
                        format!("{at}.alias"),
                        format!("`{alias}` is used by another image of this ref"),
                    ));
                }
                aliases.push(alias);
                if image.image_name.trim().is_empty() {
                    return Err(ModelError::invalid(
                        format!("{at}.imageName"),
                        "must not be empty",
                    ));
                }
                if let Some(t) = &image.manifest_targets {
                    let set = [t.helm.is_some(), t.kustomize.is_some(), t.plugin.is_some()];
                    if set.iter().filter(|s| **s).count() != 1 {
                        return Err(ModelError::invalid(
                            format!("{at}.manifestTargets"),
                            "exactly one of helm, kustomize or plugin must be set",
                        ));
                    }
                    if t.plugin.is_some() {
                        return Err(ModelError::invalid(
                            format!("{at}.manifestTargets.plugin"),
                            "not supported: Image Updater writes it to `.argocd-source-<app>.yaml` \
                             or the Application object, neither of which bosun's render reads; \
                             use helm or kustomize",
                        ));
                    }
                    if let Some(k) = &t.kustomize
                        && k.name.as_deref().is_none_or(str::is_empty)
                    {
                        return Err(ModelError::invalid(
                            format!("{at}.manifestTargets.kustomize.name"),
                            "must be set",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The fields set here that bosun accepts but does not act on.
    pub fn ignored_fields(&self) -> Vec<IgnoredField> {
        let mut found = Vec::new();
        let mut check = |path: String, set: bool, reason: &'static str| {
            if set {
                found.push(IgnoredField { path, reason });
            }
        };
        let settings = |check: &mut dyn FnMut(String, bool, &'static str),
                        at: &str,
                        s: &Option<CommonUpdateSettings>| {
            let Some(s) = s else { return };
            check(
                format!("{at}.commonUpdateSettings.forceUpdate"),
                s.force_update == Some(true),
                "not acted on by bosun yet: a tag the policy allows is written whatever runs",
            );
            check(
                format!("{at}.commonUpdateSettings.pullSecret"),
                s.pull_secret.as_deref().is_some_and(|p| !p.is_empty()),
                "bosun reads registry credentials from bosun.yaml `images.registries` or Docker's config.json",
            );
            check(
                format!("{at}.commonUpdateSettings.platforms"),
                s.platforms.as_ref().is_some_and(|p| !p.is_empty()),
                "not acted on by bosun yet: a multi-platform image's index is read as one image",
            );
        };
        let write_back = |check: &mut dyn FnMut(String, bool, &'static str),
                          at: &str,
                          w: &Option<WriteBackConfig>| {
            let Some(w) = w else { return };
            check(
                format!("{at}.writeBackConfig.method"),
                w.method.as_deref().is_some_and(|m| m.trim() == "argocd"),
                "bosun writes to Git whatever the method says: the cluster must not disagree with Git",
            );
            check(
                format!("{at}.writeBackConfig.gitConfig.pullRequest"),
                w.git_config
                    .as_ref()
                    .is_some_and(|g| g.pull_request.is_some()),
                "not acted on by bosun yet: use `branch: base:target` and open the pull request from that branch",
            );
        };
        check(
            "spec.imagesVerification".into(),
            self.spec.images_verification.is_some(),
            "signature verification is not acted on by bosun yet",
        );
        settings(&mut check, "spec", &self.spec.common_update_settings);
        write_back(&mut check, "spec", &self.spec.write_back_config);
        for (i, r) in self.spec.application_refs.iter().enumerate() {
            let at = format!("spec.applicationRefs[{i}]");
            check(
                format!("{at}.imagesVerification"),
                r.images_verification.is_some(),
                "signature verification is not acted on by bosun yet",
            );
            if r.use_annotations == Some(true) {
                for (field, set) in [
                    ("commonUpdateSettings", r.common_update_settings.is_some()),
                    ("writeBackConfig", r.write_back_config.is_some()),
                    ("images", !r.images.is_empty()),
                ] {
                    check(
                        format!("{at}.{field}"),
                        set,
                        "useAnnotations is true: the Application's annotations configure it, as in Image Updater",
                    );
                }
                continue;
            }
            settings(&mut check, &at, &r.common_update_settings);
            write_back(&mut check, &at, &r.write_back_config);
            for (j, image) in r.images.iter().enumerate() {
                let at = format!("{at}.images[{j}]");
                check(
                    format!("{at}.imagesVerification"),
                    image.images_verification.is_some(),
                    "signature verification is not acted on by bosun yet",
                );
                check(
                    format!("{at}.platforms"),
                    image.platforms.as_ref().is_some_and(|p| !p.is_empty()),
                    "not acted on by bosun yet: a multi-platform image's index is read as one image",
                );
                settings(&mut check, &at, &image.common_update_settings);
            }
        }
        found
    }

    /// The ref that selects `app`, with its index: Image Updater's most specific matching one.
    fn selecting(&self, app: &Application) -> Option<(usize, &ApplicationRef)> {
        let namespace = app
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(DEFAULT_NAMESPACE);
        if namespace != self.namespace() {
            return None;
        }
        let mut refs: Vec<(usize, &ApplicationRef)> =
            self.spec.application_refs.iter().enumerate().collect();
        // Stable: equally specific refs keep their order.
        refs.sort_by_key(|(_, r)| std::cmp::Reverse(specificity(r)));
        refs.into_iter().find(|(_, r)| {
            go_match(r.name_pattern.as_bytes(), app.metadata.name.as_bytes()) == Ok(true)
                && r.label_selectors
                    .as_ref()
                    .is_none_or(|s| s.matches(&app.metadata.labels))
        })
    }

    /// `app`'s image update settings from this object: `None` when it does not select `app`.
    /// Errors name the object and the field (`origin: spec.…`).
    pub fn image_update(&self, app: &Application) -> Option<Result<ImageUpdate, ModelError>> {
        let (index, selected) = self.selecting(app)?;
        let origin = |e: ModelError| e.in_document(&self.origin, None);
        if selected.use_annotations == Some(true) {
            return Some(match image_update(app) {
                Ok(Some(update)) => Ok(update),
                Ok(None) => Err(ModelError::invalid(
                    format!("spec.applicationRefs[{index}].useAnnotations"),
                    format!(
                        "is true, but Application {} has no `{}` annotation",
                        app.metadata.name,
                        crate::image_update::IMAGE_LIST
                    ),
                )
                .in_document(&self.origin, None)),
                Err(e) => Err(e.in_document(&format!("Application {}", app.metadata.name), None)),
            });
        }
        Some(self.resolve(index, selected, app).map_err(origin))
    }

    fn resolve(
        &self,
        index: usize,
        selected: &ApplicationRef,
        app: &Application,
    ) -> Result<ImageUpdate, ModelError> {
        let at_ref = format!("spec.applicationRefs[{index}]");
        let named = |path: &str| format!("{}: {path}", self.origin);
        let mut images = Vec::new();
        for (j, image) in selected.images.iter().enumerate() {
            let at_image = format!("{at_ref}.images[{j}]");
            // Field by field, the most specific level wins (Image Updater's
            // mergeCommonUpdateSettings); the option keeps the path of the level it came from.
            let levels = [
                ("spec", &self.spec.common_update_settings),
                (at_ref.as_str(), &selected.common_update_settings),
                (at_image.as_str(), &image.common_update_settings),
            ];
            let pick = |field: &str, get: &dyn Fn(&CommonUpdateSettings) -> Option<String>| {
                levels.iter().rev().find_map(|(at, s)| {
                    s.as_ref()
                        .and_then(get)
                        .map(|value| (named(&format!("{at}.commonUpdateSettings.{field}")), value))
                })
            };
            let mut options = BTreeMap::new();
            for (option, found) in [
                (
                    "update-strategy",
                    pick("updateStrategy", &|s| s.update_strategy.clone()),
                ),
                ("allow-tags", pick("allowTags", &|s| s.allow_tags.clone())),
                (
                    "ignore-tags",
                    pick("ignoreTags", &|s| {
                        s.ignore_tags.as_ref().map(|t| t.join(","))
                    }),
                ),
                (
                    "force-update",
                    pick("forceUpdate", &|s| s.force_update.map(|f| f.to_string())),
                ),
            ] {
                if let Some(found) = found {
                    options.insert(option, found);
                }
            }
            let (name, constraint) = split_constraint(image.image_name.trim());
            let targets = image.manifest_targets.as_ref();
            let helm = targets.and_then(|t| t.helm.as_ref());
            images.push(ImageEntry {
                alias: Some(image.alias.clone()),
                image: name.to_string(),
                constraint: constraint.map(str::to_string),
                options,
                helm_image_name: helm.and_then(|h| h.name.clone()),
                helm_image_tag: helm.and_then(|h| h.tag.clone()),
                helm_image_spec: helm.and_then(|h| h.spec.clone()),
                kustomize_image_name: targets
                    .and_then(|t| t.kustomize.as_ref())
                    .and_then(|k| k.name.clone()),
            });
        }
        // `writeBackConfig`: the ref's fields over the spec's (Image Updater's mergeWBCSettings).
        let write_back = [
            (at_ref.as_str(), &selected.write_back_config),
            ("spec", &self.spec.write_back_config),
        ];
        let pick = |field: &str, get: &dyn Fn(&WriteBackConfig) -> Option<String>| {
            write_back
                .iter()
                .find_map(|(at, w)| {
                    w.as_ref()
                        .and_then(get)
                        .map(|v| (format!("{at}.writeBackConfig.{field}"), v))
                })
                .map_or(
                    (format!("{at_ref}.writeBackConfig.{field}"), None),
                    |(a, v)| (a, Some(v)),
                )
        };
        let git = |get: fn(&GitConfig) -> Option<String>| {
            move |w: &WriteBackConfig| w.git_config.as_ref().and_then(get)
        };
        let source = app.spec.all_sources().first().cloned().ok_or_else(|| {
            ModelError::invalid(
                at_ref.clone(),
                format!(
                    "selects Application {}, which has no source",
                    app.metadata.name
                ),
            )
        })?;
        let (at, target) = pick(
            "gitConfig.writeBackTarget",
            &git(|g| g.write_back_target.clone()),
        );
        let target = write_back_target(
            target.as_deref().map(str::trim),
            &at,
            source.path.as_deref().unwrap_or_default(),
        )?;
        let (at, method) = pick("method", &|w| w.method.clone());
        check_method(method.as_deref(), &at)?;
        let (at, branch) = pick("gitConfig.branch", &git(|g| g.branch.clone()));
        let (base_branch, target_branch) = branches(branch.as_deref(), &at, source)?;
        let (_, repository) = pick("gitConfig.repository", &git(|g| g.repository.clone()));
        Ok(ImageUpdate {
            images,
            target,
            repository: repository.unwrap_or(source.repo_url.clone()),
            base_branch,
            target_branch,
            method,
        })
    }
}

impl WriteBackConfig {
    fn validate(&self, at: &str) -> Result<(), ModelError> {
        check_method(self.method.as_deref(), &format!("{at}.method"))?;
        if let Some(target) = self
            .git_config
            .as_ref()
            .and_then(|g| g.write_back_target.as_deref())
        {
            // The kind is checked now; the path is resolved per Application.
            write_back_target(Some(target), &format!("{at}.gitConfig.writeBackTarget"), "")?;
        }
        Ok(())
    }
}

/// Image Updater's `calculateSpecificity`: an exact name far above any glob, then the number of
/// literal characters, then label selectors and the number of their terms.
fn specificity(r: &ApplicationRef) -> usize {
    let pattern = &r.name_pattern;
    let mut score = 0;
    if !pattern.contains(['*', '?', '[', ']']) {
        score += 1_000_000;
    }
    // Character sets (`[a-z]`) count for nothing, then the other wildcards are left out.
    let mut literals = 0;
    let mut rest = pattern.as_str();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[')
            && let Some(end) = after.find(']')
        {
            rest = &after[end + 1..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        if c != '*' && c != '?' {
            literals += c.len_utf8();
        }
        rest = &rest[c.len_utf8()..];
    }
    score += literals;
    if let Some(s) = &r.label_selectors {
        score += 10_000 + 100 * (s.match_labels.len() + s.match_expressions.len());
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_update::WriteBackTarget;
    use crate::load::parse_manifests;

    fn app(name: &str, labels: &str) -> Application {
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n  labels: {{{labels}}}\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/config.git\n    targetRevision: main\n    path: envs/{name}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: dev\n"
        );
        crate::parse_applications(&text, "app.yaml")
            .unwrap()
            .remove(0)
    }

    fn updater(text: &str) -> ImageUpdaterResource {
        let mut manifests = parse_manifests(text, "updaters.yaml").unwrap();
        assert!(manifests.applications.is_empty());
        manifests.image_updaters.remove(0)
    }

    fn error(text: &str) -> String {
        parse_manifests(text, "updaters.yaml")
            .unwrap_err()
            .to_string()
    }

    /// The "Complete example" of Image Updater's docs/configuration/applications.md.
    const COMPLETE: &str = r#"apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata:
  name: production-updater
  namespace: argocd
spec:
  commonUpdateSettings:
    updateStrategy: "semver"
    forceUpdate: false
    allowTags: "regexp:^v[0-9]+\\.[0-9]+\\.[0-9]+$"
    ignoreTags: [ "latest", "dev", "test" ]
  writeBackConfig:
    method: "argocd"
  applicationRefs:
    - namePattern: "frontend-*"
      labelSelectors:
        matchLabels:
          environment: "production"
      commonUpdateSettings:
        updateStrategy: "newest-build"
        forceUpdate: true
      writeBackConfig:
        method: "git"
        gitConfig:
          repository: "git@github.com:myorg/frontend-config.git"
          branch: "main"
          writeBackTarget: "helmvalues:/values.yaml"
      images:
        - alias: "frontend"
          imageName: "myregistry/frontend:v1.0"
          commonUpdateSettings:
            allowTags: "regexp:^v[0-9]+\\.[0-9]+\\.[0-9]+-prod$"
        - alias: "nginx"
          imageName: "nginx:1.20"
    - namePattern: "backend"
      images:
        - alias: "api"
          imageName: "myregistry/backend:v2.0"
          commonUpdateSettings:
            updateStrategy: "digest"
        - alias: "database"
          imageName: "postgres:13"
"#;

    #[test]
    fn the_docs_complete_example_layers_spec_ref_and_image() {
        let cr = updater(COMPLETE);
        assert_eq!(cr.key(), "argocd/production-updater");
        let prod = app("frontend-web", "environment: production");
        let update = cr.image_update(&prod).unwrap().unwrap();
        assert_eq!(
            update.repository,
            "git@github.com:myorg/frontend-config.git"
        );
        assert_eq!(update.base_branch, "main");
        assert_eq!(
            update.target,
            WriteBackTarget::HelmValues("values.yaml".into())
        );
        assert_eq!(update.method.as_deref(), Some("git"));
        let frontend = &update.images[0];
        assert_eq!(frontend.alias.as_deref(), Some("frontend"));
        assert_eq!(frontend.image, "myregistry/frontend");
        assert_eq!(frontend.constraint.as_deref(), Some("v1.0"));
        let origin = "updaters.yaml: ImageUpdater argocd/production-updater";
        assert_eq!(
            frontend.options["update-strategy"],
            (
                format!("{origin}: spec.applicationRefs[0].commonUpdateSettings.updateStrategy"),
                "newest-build".to_string()
            )
        );
        assert_eq!(
            frontend.options["allow-tags"],
            (
                format!(
                    "{origin}: spec.applicationRefs[0].images[0].commonUpdateSettings.allowTags"
                ),
                r"regexp:^v[0-9]+\.[0-9]+\.[0-9]+-prod$".to_string()
            )
        );
        assert_eq!(frontend.options["ignore-tags"].1, "latest,dev,test");
        assert_eq!(frontend.options["force-update"].1, "true");
        let nginx = &update.images[1];
        assert_eq!(
            (nginx.image.as_str(), nginx.constraint.as_deref()),
            ("nginx", Some("1.20"))
        );
        assert_eq!(
            nginx.options["allow-tags"].1,
            r"regexp:^v[0-9]+\.[0-9]+\.[0-9]+$"
        );

        // Not in production: the frontend ref's label selector does not match, nor does any
        // other ref.
        assert!(
            cr.image_update(&app("frontend-web", "environment: staging"))
                .is_none()
        );
        // backend: the spec's `method: argocd` and no target — bosun writes only to Git files.
        let error = cr
            .image_update(&app("backend", ""))
            .unwrap()
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            format!(
                "{origin}: spec.applicationRefs[1].writeBackConfig.gitConfig.writeBackTarget: is not set: bosun writes to a file in Git; set `helmvalues[:path]` or `kustomization[:path]` (Image Updater's default `.argocd-source-<app>.yaml` parameter file is not read by bosun's render)"
            )
        );
        // Another namespace's Application is not selected.
        let mut elsewhere = prod.clone();
        elsewhere.metadata.namespace = Some("team-a".into());
        assert!(cr.image_update(&elsewhere).is_none());

        let ignored: Vec<String> = cr.ignored_fields().iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            ignored,
            [
                "spec.writeBackConfig.method",
                "spec.applicationRefs[0].commonUpdateSettings.forceUpdate",
            ]
        );
    }

    #[test]
    fn the_most_specific_ref_wins_as_in_image_updater() {
        // The docs' specificity example: app-1 by its exact name, app-prod-x by the longer glob.
        let cr = updater(
            r#"apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata:
  name: my-image-updater
  namespace: argocd
spec:
  writeBackConfig:
    method: git
    gitConfig:
      writeBackTarget: kustomization
  applicationRefs:
    - namePattern: "app-*"
      images:
        - alias: "redis"
          imageName: "redis:6.2"
    - namePattern: "app-prod-*"
      images:
        - alias: "nginx"
          imageName: "nginx:1.20"
          manifestTargets:
            kustomize:
              name: docker.io/library/nginx
    - namePattern: "app-1"
      images:
        - alias: "test1"
          imageName: "test:1.1.0"
"#,
        );
        let alias = |name: &str| {
            cr.image_update(&app(name, "")).unwrap().unwrap().images[0]
                .alias
                .clone()
                .unwrap()
        };
        assert_eq!(alias("app-1"), "test1");
        assert_eq!(alias("app-prod-eu"), "nginx");
        assert_eq!(alias("app-2"), "redis");
        assert!(cr.image_update(&app("web", "")).is_none());
        let update = cr.image_update(&app("app-prod-eu", "")).unwrap().unwrap();
        assert_eq!(
            update.target,
            WriteBackTarget::Kustomization("envs/app-prod-eu".into())
        );
        assert_eq!(
            update.images[0].kustomize_image_name.as_deref(),
            Some("docker.io/library/nginx")
        );
        // No strategy anywhere: the updater's default (semver) applies.
        assert!(update.images[0].options.is_empty());
        let mut wide = LabelSelector::default();
        wide.match_expressions.push(Requirement {
            key: "environment".into(),
            operator: "In".into(),
            values: vec!["production".into(), "staging".into()],
        });
        let labels = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(wide.matches(&labels(&[("environment", "staging")])));
        assert!(!wide.matches(&labels(&[("environment", "dev")])));
        assert!(!wide.matches(&labels(&[])));
    }

    #[test]
    fn helm_targets_and_use_annotations() {
        let cr = updater(
            r#"apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata:
  name: web
spec:
  writeBackConfig:
    method: git
    gitConfig:
      branch: main:image-updater-{{.SHA256}}
  applicationRefs:
    - namePattern: "web-*"
      writeBackConfig:
        gitConfig:
          writeBackTarget: helmvalues:values-dev.yaml
      images:
        - alias: api
          imageName: ghcr.io/acme/api:~1
          manifestTargets:
            helm:
              name: api.image.repository
              tag: api.image.tag
    - namePattern: "legacy-*"
      useAnnotations: true
"#,
        );
        // No metadata.namespace: Argo CD's, as for an Application without one.
        let update = cr.image_update(&app("web-dev", "")).unwrap().unwrap();
        assert_eq!(update.base_branch, "main");
        assert_eq!(
            update.target_branch.as_deref(),
            Some("image-updater-{{.SHA256}}")
        );
        assert_eq!(
            update.target,
            WriteBackTarget::HelmValues("envs/web-dev/values-dev.yaml".into())
        );
        let api = &update.images[0];
        assert_eq!(api.helm_image_name.as_deref(), Some("api.image.repository"));
        assert_eq!(api.helm_image_tag.as_deref(), Some("api.image.tag"));
        assert_eq!(api.constraint.as_deref(), Some("~1"));
        // useAnnotations: the Application's annotations configure it; none there is an error
        // naming the ref.
        let error = cr
            .image_update(&app("legacy-a", ""))
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("updaters.yaml: ImageUpdater argocd/web: spec.applicationRefs[1].useAnnotations: is true, but Application legacy-a has no"),
            "{error}"
        );
    }

    #[test]
    fn bad_objects_are_refused_naming_the_field() {
        let base = "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\nkind: ImageUpdater\nmetadata:\n  name: web\n  namespace: argocd\nspec:\n";
        for (spec, expected) in [
            (
                "  applicationRefs: []\n",
                "spec.applicationRefs: names no Application",
            ),
            (
                "  applicationRefs:\n  - namePattern: \"[a\"\n    images: [{alias: a, imageName: x}]\n",
                "spec.applicationRefs[0].namePattern: `[a`: not a valid pattern",
            ),
            (
                "  applicationRefs:\n  - namePattern: web\n",
                "spec.applicationRefs[0].images: names no image",
            ),
            (
                "  applicationRefs:\n  - namePattern: web\n    images: [{alias: a, imageName: x}, {alias: a, imageName: y}]\n",
                "spec.applicationRefs[0].images[1].alias: `a` is used by another image",
            ),
            (
                "  applicationRefs:\n  - namePattern: web\n    images:\n    - alias: a\n      imageName: x\n      manifestTargets: {helm: {tag: t}, kustomize: {name: x}}\n",
                "spec.applicationRefs[0].images[0].manifestTargets: exactly one of helm, kustomize or plugin",
            ),
            (
                "  applicationRefs:\n  - namePattern: web\n    images:\n    - alias: a\n      imageName: x\n      manifestTargets: {plugin: {name: IMAGE}}\n",
                "spec.applicationRefs[0].images[0].manifestTargets.plugin: not supported",
            ),
            (
                "  writeBackConfig: {method: gitt}\n  applicationRefs:\n  - namePattern: web\n    images: [{alias: a, imageName: x}]\n",
                "spec.writeBackConfig.method: `gitt`: expected `git`",
            ),
            (
                "  applicationRefs:\n  - namePattern: web\n    writeBackConfig: {gitConfig: {writeBackTarget: values.yaml}}\n    images: [{alias: a, imageName: x}]\n",
                "spec.applicationRefs[0].writeBackConfig.gitConfig.writeBackTarget: `values.yaml`: expected",
            ),
            (
                "  applicationRefs:\n  - namePattern: web\n    labelSelectors: {matchExpressions: [{key: a, operator: Has}]}\n    images: [{alias: a, imageName: x}]\n",
                "spec.applicationRefs[0].labelSelectors.matchExpressions[0].operator: `Has`",
            ),
            (
                "  applicationRefs:\n  - namePattern: web\n    images: [{alias: a, imageName: x, commonUpdateSettings: {updateStrategyy: semver}}]\n",
                "updateStrategyy",
            ),
        ] {
            let error = error(&format!("{base}{spec}"));
            assert!(
                error.starts_with("updaters.yaml: ") && error.contains(expected),
                "{spec}\n{error}"
            );
        }
    }

    #[test]
    fn an_object_from_a_namespace_watch_is_named_by_namespace_and_name() {
        let object = r#"{"apiVersion":"argocd-image-updater.argoproj.io/v1alpha1","kind":"ImageUpdater","metadata":{"name":"web","namespace":"team"},"spec":{"applicationRefs":[{"namePattern":"web","images":[{"alias":"a","imageName":"x"}]}]}}"#;
        let resource = parse_object(object, "team", "web").unwrap();
        assert_eq!(resource.origin, "ImageUpdater team/web");
        assert_eq!(resource.namespace(), "team");
        let bad = object.replace(
            r#""namePattern":"web","#,
            r#""namePattern":"web","imagez":1,"#,
        );
        let error = parse_object(&bad, "team", "web").unwrap_err().to_string();
        assert!(
            error.starts_with("ImageUpdater team/web: ") && error.contains("imagez"),
            "{error}"
        );
    }
}
