//! Reaching a destination cluster: a kube-rs client from a kubeconfig and context (bosun's config
//! maps destinations to them), plus what rendering needs to know about the cluster.

use std::path::PathBuf;

use std::sync::Arc;

use bosun_model::{ClusterRef, describe_chain};

use crate::pipeline::Observer;
use kube::config::{KubeConfigOptions, Kubeconfig};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    /// The message is kube's with its causes (hyper's "client error (Connect)" alone does not
    /// say "Connection refused"), so `cause` is not also a `source()`.
    #[error("cluster {cluster} at {server}: {}", describe_chain(cause))]
    Client {
        cluster: String,
        /// The API server's URL, as the kubeconfig gives it.
        server: String,
        cause: kube::Error,
    },
    #[error("cluster {cluster}: discovery: {message}")]
    Discovery { cluster: String, message: String },
    #[error("cluster {cluster}: no answer within {after:?}")]
    Timeout {
        cluster: String,
        after: std::time::Duration,
    },
    /// `bosun serve` connects in the background; the Application is reconciled when it is done.
    #[error("cluster {cluster}: connecting{}", last_error.as_ref().map(|e| format!(" (the last attempt failed: {e})")).unwrap_or_default())]
    Pending {
        cluster: String,
        last_error: Option<String>,
    },
}

/// A connected cluster.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    /// `1.33` style, for `helm template --kube-version`.
    pub kube_version: String,
    /// Served `group/version`s, for `helm template --api-versions`.
    pub api_versions: Vec<String>,
    /// The kubeconfig context's namespace or `default`.
    pub default_namespace: String,
}

/// Connects to the cluster `target` names: its kubeconfig (or `$KUBECONFIG` / `~/.kube/config`)
/// and context (or the current one).
pub async fn connect(
    target: &ClusterRef,
    observer: Arc<dyn Observer>,
) -> Result<Cluster, ConnectError> {
    let label = target
        .name
        .clone()
        .or_else(|| target.context.clone())
        .unwrap_or_else(|| "current context".into());
    let options = KubeConfigOptions {
        context: target.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &target.kubeconfig {
        Some(path) => {
            let path = expand_home(path);
            let kubeconfig =
                Kubeconfig::read_from(&path).map_err(|e| ConnectError::Kubeconfig {
                    path: path.display().to_string(),
                    message: describe_chain(&e),
                })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .map_err(|e| ConnectError::Kubeconfig {
        path: target
            .kubeconfig
            .clone()
            .unwrap_or_else(|| "(default kubeconfig)".into()),
        message: describe_chain(&e),
    })?;
    let default_namespace = config.default_namespace.clone();
    let server = config.cluster_url.to_string();
    let client_error = |cause| ConnectError::Client {
        cluster: label.clone(),
        server: server.clone(),
        cause,
    };
    // Every answer of the API server is counted (the controller's request and error metrics);
    // the layer sees the response before kube-rs turns error statuses into errors.
    let counted = tower::util::MapResultLayer::new(
        move |result: Result<http::Response<_>, tower::BoxError>| {
            observer.kube_response(result.as_ref().ok().map(|r| r.status().as_u16()));
            result
        },
    );
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(client_error)?
        .with_layer(&counted)
        .build();
    let version = client.apiserver_version().await.map_err(client_error)?;
    let minor: String = version
        .minor
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let groups = client.list_api_groups().await.map_err(client_error)?;
    let mut api_versions = vec!["v1".to_string()];
    for group in groups.groups {
        api_versions.extend(group.versions.into_iter().map(|v| v.group_version));
    }
    Ok(Cluster {
        client,
        kube_version: format!("{}.{}", version.major, minor),
        api_versions,
        default_namespace,
    })
}

fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(rest),
        None => PathBuf::from(path),
    }
}
