//! Plain-directory sources: every `.yaml`, `.yml`, `.json` and `.jsonnet` file, as Argo CD reads
//! them (Jsonnet in [`crate::jsonnet`]).
//!
//! Argo CD's rules, kept here: files are read in lexical path order; subdirectories only with
//! `recurse`; `include`/`exclude` are globs matched against the path relative to the source
//! directory, where `*` also crosses `/` and `{a.yaml,b.yaml}` is a set; exclude wins. A YAML file
//! none of whose documents is a Kubernetes object (a stray config or values file) is skipped, as
//! Argo CD skips "unrelated YAML"; one that mixes objects and non-objects is an error. Unlike Argo
//! CD, a YAML syntax error is always an error naming file and line: a file that cannot be read
//! must not silently drop its objects from the desired state (that would prune them).

use std::path::{Path, PathBuf};

use bosun_model::DirectorySource;
use globset::{Glob, GlobMatcher};
use serde_json::Value;

use crate::error::RenderError;
use crate::jsonnet::{self, JsonnetContext};
use crate::manifests::{self, Document};

pub(crate) fn render(
    dir: &Path,
    checkout_root: &Path,
    options: Option<&DirectorySource>,
    env: &[(String, String)],
) -> Result<Vec<Value>, RenderError> {
    let default = DirectorySource::default();
    let options = options.unwrap_or(&default);
    let include = compile(options.include.as_deref(), "include")?;
    let exclude = compile(options.exclude.as_deref(), "exclude")?;

    let mut objects = Vec::new();
    for file in manifest_files(dir, options.recurse)? {
        let relative = file.strip_prefix(dir).unwrap_or(&file);
        if exclude.as_ref().is_some_and(|g| g.is_match(relative)) {
            continue;
        }
        if include.as_ref().is_some_and(|g| !g.is_match(relative)) {
            continue;
        }
        let shown = file
            .strip_prefix(checkout_root)
            .unwrap_or(&file)
            .display()
            .to_string();
        if shown.ends_with(".jsonnet") {
            let context = JsonnetContext {
                checkout_root,
                app_dir: dir,
                options: options.jsonnet.as_ref(),
                env,
            };
            objects.extend(read_jsonnet(&file, &shown, &context)?);
        } else {
            objects.extend(read_file(&file, &shown)?);
        }
    }
    Ok(objects)
}

/// An empty pattern means "not set", as in Argo CD.
fn compile(pattern: Option<&str>, field: &str) -> Result<Option<GlobMatcher>, RenderError> {
    match pattern.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) => Glob::new(p)
            .map(|g| Some(g.compile_matcher()))
            .map_err(|err| {
                RenderError::Unsupported(format!(
                    "directory.{field} {p:?} is not a valid glob: {err}"
                ))
            }),
    }
}

/// Argo CD's filter: `.libsonnet` files are only imported, never evaluated on their own.
fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml")
        || name.ends_with(".yml")
        || name.ends_with(".json")
        || name.ends_with(".jsonnet")
}

/// Argo CD skips a file that carries this marker.
const SKIP_MARKER: &str = "+argocd:skip-file-rendering";

/// A `.jsonnet` file's objects: its value is one object or an array of them.
fn read_jsonnet(
    path: &Path,
    shown: &str,
    context: &JsonnetContext<'_>,
) -> Result<Vec<Value>, RenderError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| RenderError::io(format!("reading {shown}"), err))?;
    if text.contains(SKIP_MARKER) {
        return Ok(Vec::new());
    }
    let value = jsonnet::evaluate(path, shown, context)?;
    let values = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    let docs = values
        .into_iter()
        .filter(|v| !v.is_null())
        .enumerate()
        .map(|(i, value)| Document {
            value,
            line: 1,
            index: i + 1,
        })
        .collect();
    manifests::into_objects(docs, shown, &text)
}

/// Manifest files under `dir` in lexical path order (Go's `filepath.Walk` order), `.git` skipped.
fn manifest_files(dir: &Path, recurse: bool) -> Result<Vec<PathBuf>, RenderError> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = read_dir_sorted(dir)?;
    // Depth-first with a stack: push in reverse so the lexically first entry is visited first.
    entries.reverse();
    while let Some(path) = entries.pop() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `is_dir`/`is_file` follow symlinks; links out of the checkout were rejected beforehand.
        if path.is_dir() {
            if recurse && name != ".git" {
                let mut children = read_dir_sorted(&path)?;
                children.reverse();
                entries.extend(children);
            }
        } else if path.is_file() && is_manifest_name(&name) {
            files.push(path);
        }
    }
    Ok(files)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let mut paths = std::fs::read_dir(dir)
        .and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|err| RenderError::io(format!("reading directory {}", dir.display()), err))?;
    paths.sort();
    Ok(paths)
}

fn read_file(path: &Path, shown: &str) -> Result<Vec<Value>, RenderError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| RenderError::io(format!("reading {shown}"), err))?;
    let docs = if shown.ends_with(".json") {
        parse_json(&text, shown)?
    } else {
        manifests::parse_stream(&text, shown)?
    };
    if !shown.ends_with(".json") && !docs.iter().any(|d| manifests::is_object(&d.value)) {
        tracing::debug!(file = shown, "no Kubernetes objects in YAML file; skipped");
        return Ok(Vec::new());
    }
    manifests::into_objects(docs, shown, &text)
}

/// A JSON file holds one object (or a List); serde_json gives exact line numbers for errors.
fn parse_json(text: &str, shown: &str) -> Result<Vec<Document>, RenderError> {
    let value: Value = serde_json::from_str(text).map_err(|err| RenderError::InvalidManifest {
        origin: shown.to_string(),
        line: Some(err.line() as u64),
        document: None,
        template: None,
        message: err.to_string(),
    })?;
    Ok(vec![Document {
        value,
        line: 1,
        index: 1,
    }])
}
