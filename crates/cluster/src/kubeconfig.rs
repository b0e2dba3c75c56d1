//! The kubeconfig `bosun cluster up` writes, for the real kubectl and for bosun alike.

use std::path::Path;

use anyhow::Context;

/// A kubeconfig with one cluster, user and context, all named `name`. Nothing is checked by the
/// server; `user` is there so requests carry a user name: as the token (kube-rs sends it) and as
/// `as:` (an Impersonate-User header), because kubectl sends a token only over TLS.
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
    as: {user}
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
