//! Shared by the integration tests: the real tools, fixture writing, and request building.

#![allow(dead_code)] // each test file uses a different part of this module

use std::path::{Path, PathBuf};

use bosun_model::ApplicationSource;
use bosun_render::{RenderRequest, Tools, tools_dir};
use serde_json::Value;

/// The pinned helm and kubectl that `scripts/install-test-deps` unpacks into `$BOSUN_TOOLS/bin`.
/// Tests render with the real tools, so their absence is a failure, not a skip.
pub fn tools() -> Tools {
    let dir = tools_dir().expect("HOME or BOSUN_TOOLS is set").join("bin");
    let tools = Tools {
        helm: dir.join("helm"),
        kubectl: dir.join("kubectl"),
    };
    for binary in [&tools.helm, &tools.kubectl] {
        assert!(
            binary.is_file(),
            "{} is missing: run scripts/install-test-deps (it installs helm and kubectl into $BOSUN_TOOLS, \
             default ~/.cache/bosun-tools)",
            binary.display()
        );
    }
    tools
}

pub fn write(root: &Path, relative: &str, contents: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

pub fn source(path: &str) -> ApplicationSource {
    ApplicationSource {
        repo_url: "https://git.example/deploy.git".into(),
        target_revision: Some("main".into()),
        path: Some(path.into()),
        ..Default::default()
    }
}

pub fn request<'a>(root: &'a Path, source: &'a ApplicationSource) -> RenderRequest<'a> {
    RenderRequest {
        checkout_root: root,
        commit: "0123456789abcdef0123456789abcdef01234567",
        source,
        app_name: "web",
        namespace: "shop",
        kube_version: None,
        api_versions: Vec::new(),
        allow_empty: false,
        project: "default",
        refs: &NO_REFS,
    }
}

/// No source named by a `ref`.
pub static NO_REFS: std::collections::BTreeMap<String, bosun_render::RefSource> =
    std::collections::BTreeMap::new();

/// `kind/name` of each object, in order.
pub fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {:?}", names(objects)))
}

/// Every file under `dir` with its contents, to show that a render left a checkout untouched.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}
