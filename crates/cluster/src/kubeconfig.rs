//! The kubeconfig `bosun cluster up` writes, for the real kubectl and for bosun alike.

use std::path::Path;

use anyhow::Context;

/// A kubeconfig with one cluster, user and context, all named `name`. The token is not checked
/// by the server; it is there so requests carry a user name.
pub fn render(name: &str, server: &str, user: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster:
    server: {server}
users:
- name: {name}
  user:
    token: {user}
contexts:
- name: {name}
  context:
    cluster: {name}
    user: {name}
    namespace: default
current-context: {name}
preferences: {{}}
"
    )
}

pub fn write(path: &Path, name: &str, server: &str, user: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, render(name, server, user))
        .with_context(|| format!("writing kubeconfig {}", path.display()))
}
