//! From an object's apiVersion/kind to the REST resource that serves it, by API discovery.
//!
//! Discovery runs once per cluster and is kept. A kind it does not know triggers one refresh
//! before giving up, because a sync may create a CustomResourceDefinition and then, later in the
//! same run, objects of the kind it defines.

use kube::Client;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use tokio::sync::RwLock;

use crate::error::{Error, Result};

/// One served kind: where its objects live and whether they are namespaced.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub capabilities: ApiCapabilities,
}

impl Resolved {
    pub fn namespaced(&self) -> bool {
        self.capabilities.scope == Scope::Namespaced
    }
}

/// API discovery of one cluster, refreshed on demand.
pub struct Resolver {
    client: Client,
    state: RwLock<State>,
}

struct State {
    discovery: Discovery,
    /// Bumped on every refresh, so concurrent misses refresh once rather than once each.
    generation: u64,
}

impl Resolver {
    /// Runs discovery against the cluster `client` talks to.
    pub async fn new(client: Client) -> Result<Resolver> {
        let discovery = discover(&client).await?;
        Ok(Resolver {
            client,
            state: RwLock::new(State {
                discovery,
                generation: 0,
            }),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The resource serving `api_version`/`kind`, refreshing discovery once if it is unknown.
    /// `Ok(None)` when the cluster does not serve it even after the refresh.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Option<Resolved>> {
        let seen = {
            let state = self.state.read().await;
            if let Some(found) = lookup(&state.discovery, api_version, kind) {
                return Ok(Some(found));
            }
            state.generation
        };
        let mut state = self.state.write().await;
        if state.generation == seen {
            state.discovery = discover(&self.client).await?;
            state.generation += 1;
        }
        Ok(lookup(&state.discovery, api_version, kind))
    }

    /// The resource serving `kind` of `group` at the group's preferred version (what a reader
    /// who knows only group and kind, as a resource-tree node does, means). `None` when the
    /// cluster does not serve it.
    pub async fn resolve_group_kind(&self, group: &str, kind: &str) -> Option<Resolved> {
        let state = self.state.read().await;
        let (resource, capabilities) = state.discovery.get(group)?.recommended_kind(kind)?;
        Some(Resolved {
            resource,
            capabilities,
        })
    }

    /// Runs discovery again (after CRDs were created or removed).
    pub async fn refresh(&self) -> Result<()> {
        let discovery = discover(&self.client).await?;
        let mut state = self.state.write().await;
        state.discovery = discovery;
        state.generation += 1;
        Ok(())
    }

    /// Every resource type that can be listed, at its group's preferred version, in a stable
    /// order (group, then kind).
    pub async fn listable(&self) -> Vec<Resolved> {
        let state = self.state.read().await;
        let mut out: Vec<Resolved> = state
            .discovery
            .groups()
            .flat_map(|group| group.recommended_resources())
            .filter(|(_, caps)| caps.supports_operation(verbs::LIST))
            .map(|(resource, capabilities)| Resolved {
                resource,
                capabilities,
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.resource.group, &a.resource.kind).cmp(&(&b.resource.group, &b.resource.kind))
        });
        out
    }
}

fn lookup(discovery: &Discovery, api_version: &str, kind: &str) -> Option<Resolved> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    discovery
        .resolve_gvk(&gvk)
        .map(|(resource, capabilities)| Resolved {
            resource,
            capabilities,
        })
}

/// Aggregated discovery (two requests) where the server offers it, the classic walk otherwise.
async fn discover(client: &Client) -> Result<Discovery> {
    match Discovery::new(client.clone()).run_aggregated().await {
        Ok(discovery) => Ok(discovery),
        Err(aggregated) => {
            tracing::debug!(error = %aggregated, "aggregated discovery unavailable; walking groups");
            Discovery::new(client.clone())
                .run()
                .await
                .map_err(Error::Discovery)
        }
    }
}
