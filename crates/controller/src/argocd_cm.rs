//! Argo CD's `argocd-cm` ConfigMap, read from the namespace Applications are kept in: its
//! `resource.customizations` health checks join those of bosun.yaml's `argocd-cm` section
//! (bosun.yaml wins a key both set), and an edit applies without a restart. A ConfigMap whose
//! checks do not load is reported by its key and the checks in use stay.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use bosun_assess::custom::CustomHealth;
use bosun_model::customizations::Customizations;

/// The ConfigMap's name, as Argo CD reads it.
pub const NAME: &str = "argocd-cm";

/// The keys in force: the ConfigMap's, overridden by bosun.yaml's.
fn merged(
    cluster: Option<&BTreeMap<String, String>>,
    local: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut keys = cluster.cloned().unwrap_or_default();
    keys.extend(local.iter().map(|(k, v)| (k.clone(), v.clone())));
    keys
}

/// Compiles the health checks of `keys`; the error names the ConfigMap and the key.
fn compile(keys: &BTreeMap<String, String>, origin: &str) -> Result<CustomHealth, String> {
    let customizations =
        Customizations::from_argocd_cm(keys).map_err(|e| format!("{origin}: {e}"))?;
    for (key, reason) in &customizations.ignored {
        tracing::warn!(configmap = %origin, key = %key, reason = %reason, "accepted but not acted on");
    }
    CustomHealth::new(customizations).map_err(|e| format!("{origin}: {e}"))
}

/// Watches `namespace`'s `argocd-cm` and installs the merged health checks whenever its keys
/// change; `on_change` is then called so every Application's health is assessed again.
pub async fn watch(
    client: kube::Client,
    namespace: String,
    local: BTreeMap<String, String>,
    on_change: Arc<dyn Fn() + Send + Sync>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={NAME}"));
    let mut events = std::pin::pin!(watcher::watcher(api, config).default_backoff());
    let origin = format!("ConfigMap {namespace}/{NAME}");
    // What the installed checks were built from (bosun.yaml's alone at start).
    let mut in_force = merged(None, &local);
    let mut listed: Option<BTreeMap<String, String>> = None;
    while let Some(event) = events.next().await {
        let data = match event {
            Ok(Event::Init) => {
                listed = None;
                continue;
            }
            Ok(Event::InitApply(cm)) => {
                listed = Some(cm.data.unwrap_or_default());
                continue;
            }
            Ok(Event::InitDone) => listed.take(),
            Ok(Event::Apply(cm)) => Some(cm.data.unwrap_or_default()),
            Ok(Event::Delete(_)) => None,
            Err(error) => {
                tracing::debug!(error = %error, "argocd-cm watch: retrying");
                continue;
            }
        };
        let keys = merged(data.as_ref(), &local);
        if keys == in_force {
            continue;
        }
        match compile(&keys, &origin) {
            Ok(health) => {
                tracing::info!(configmap = %origin, checks = health.len(), "health checks loaded");
                bosun_assess::custom::install(health);
                in_force = keys;
                on_change();
            }
            Err(error) => {
                tracing::error!(error = %error, "health checks not loaded; the ones in use stay");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn bosun_yaml_wins_a_key_both_set() {
        let cluster = keys(&[("a", "cluster"), ("b", "cluster")]);
        let local = keys(&[("b", "local")]);
        assert_eq!(
            merged(Some(&cluster), &local),
            keys(&[("a", "cluster"), ("b", "local")])
        );
        assert_eq!(merged(None, &local), local);
    }

    #[test]
    fn a_script_that_does_not_compile_is_named_by_configmap_and_key() {
        let bad = keys(&[(
            "resource.customizations.health.example.com_Widget",
            "hs = {status = ",
        )]);
        let error = compile(&bad, "ConfigMap argocd/argocd-cm").unwrap_err();
        assert!(error.starts_with("ConfigMap argocd/argocd-cm: "), "{error}");
        assert!(error.contains("example.com_Widget"), "{error}");
    }
}
