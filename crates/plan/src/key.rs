//! Identity of a Kubernetes object across desired and live state.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// Group, kind, namespace and name: what identifies one object in a cluster. The API version is
/// left out on purpose: `apps/v1` and a future `apps/v2` Deployment named the same are one object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceKey {
    /// API group; empty for the core group (`v1`).
    pub group: String,
    pub kind: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
}

impl ResourceKey {
    /// The key of a manifest or live object as it stands (no namespace defaulting).
    pub fn of(object: &Value) -> ResourceKey {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let meta = object.get("metadata");
        let text = |field: &str| {
            meta.and_then(|m| m.get(field))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        ResourceKey {
            group: group_of(api_version).to_owned(),
            kind: object
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            namespace: text("namespace"),
            name: text("name").unwrap_or_default(),
        }
    }
}

/// The group part of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map_or("", |(group, _version)| group)
}

/// `apps/Deployment/ns/web`, always four segments as Argo CD's `ResourceKey` prints them: the
/// core group and a cluster-scoped object's namespace are empty (`/ConfigMap/ns/cfg`,
/// `rbac.authorization.k8s.io/ClusterRole//view`), so the text is unambiguous.
impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.namespace.as_deref().unwrap_or("");
        write!(f, "{}/{}/{ns}/{}", self.group, self.kind, self.name)
    }
}
