//! What the end-to-end tests of the `bosun` binary share: where the real tools are, and Git
//! repositories and files made by the tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod browser;
pub mod registry;
pub mod token_issuer;

/// `$BOSUN_TOOLS` (or `~/.cache/bosun-tools`), where scripts/install-test-deps puts kubectl and helm.
pub fn tools() -> PathBuf {
    std::env::var("BOSUN_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/bosun-tools")
        })
}

/// Runs git in `repo` with a fixed identity; panics with git's message on failure. Returns stdout.
pub fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Writes `text` to `root/path`, creating directories.
pub fn write(root: &Path, path: &str, text: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

/// A custom resource kind with no health convention of its own (Lua checks judge it).
#[allow(dead_code)] // not every test binary uses it
pub const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n";

/// A health check as Argo CD users write it in argocd-cm: the object in `obj`, a table back.
#[allow(dead_code)]
pub const WIDGET_HEALTH: &str = r#"hs = {}
if obj.status ~= nil and obj.status.state == "broken" then
  hs.status = "Degraded"
  hs.message = "widget broken: " .. obj.status.reason
  return hs
end
if obj.status ~= nil and obj.status.state == "on" then
  hs.status = "Healthy"
  hs.message = "widget on"
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the widget"
return hs
"#;
