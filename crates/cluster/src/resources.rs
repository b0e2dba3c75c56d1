//! The catalogue of resource types the cluster serves: the built-in kinds and, at run time, the
//! kinds that CustomResourceDefinitions add. Discovery, routing and validation all read it, so a
//! kind exists for every part of the server at once.

use std::sync::{Arc, RwLock};

use serde_json::{Value, json};

/// One served resource type (one group/version/resource).
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The lower-case plural used in URLs (`deployments`).
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `/status` is a separate subresource (writes to the main resource ignore status).
    pub status_subresource: bool,
    /// Whether `/scale` is served (autoscaling/v1 Scale), and where its fields live.
    pub scale: Option<ScalePaths>,
    /// For custom resources: the CRD's `openAPIV3Schema`.
    pub schema: Option<Arc<Value>>,
    /// For custom resources: the served version's `additionalPrinterColumns`, which
    /// `kubectl get` shows after the name.
    pub printer_columns: Vec<PrinterColumn>,
    /// How the kind's lists and maps merge (strategic merge patch, server-side apply).
    pub merge_schema: Arc<crate::merge::schema::Schema>,
}

/// One of a CRD version's `additionalPrinterColumns`.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// The OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub kind: String,
    pub json_path: String,
    pub priority: u8,
    pub description: String,
}

impl PrinterColumn {
    fn from_crd(column: &Value) -> Option<Self> {
        Some(PrinterColumn {
            name: column["name"].as_str()?.to_string(),
            kind: column["type"].as_str().unwrap_or("string").to_string(),
            json_path: column["jsonPath"].as_str()?.to_string(),
            priority: u8::try_from(column["priority"].as_u64().unwrap_or(0)).unwrap_or(u8::MAX),
            description: column["description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    }
}

/// Where a kind's `/scale` reads and writes: a CRD's `subresources.scale` paths, or the
/// built-in workloads' `.spec.replicas` / `.status.replicas` with the selector from
/// `.spec.selector`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    /// A path to the selector in string form (`.status.selector`); `None` builds it from
    /// `.spec.selector`.
    pub label_selector: Option<String>,
}

impl ScalePaths {
    fn builtin() -> Self {
        ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: None,
        }
    }

    /// A CRD version's `subresources.scale`.
    fn from_crd(scale: &Value) -> Option<Self> {
        let path = |field: &str| scale[field].as_str().map(String::from);
        Some(ScalePaths {
            spec_replicas: path("specReplicasPath")?,
            status_replicas: path("statusReplicasPath")?,
            label_selector: path("labelSelectorPath"),
        })
    }
}

/// The value at a simple JSONPath (`.status.HPAReplicas`), as CRDs' scale paths are written.
pub fn at_path<'a>(object: &'a Value, path: &str) -> &'a Value {
    path.trim_start_matches('.')
        .split('.')
        .fold(object, |v, field| &v[field])
}

/// Sets the value at a simple JSONPath, creating the objects on the way.
pub fn set_at_path(object: &mut Value, path: &str, value: Value) {
    let mut target = object;
    for field in path.trim_start_matches('.').split('.') {
        if !target.is_object() {
            *target = json!({});
        }
        target = &mut target[field];
    }
    *target = value;
}

impl ResourceType {
    /// `apps/v1` or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps` or `pods`: how the apiserver names a resource in error messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Deployment.apps` or `Pod`: how the apiserver names a kind in validation errors.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The storage key shared by every version of this resource.
    pub fn group_resource(&self) -> GroupResource {
        GroupResource {
            group: self.group.clone(),
            resource: self.plural.clone(),
        }
    }

    /// The entries this type contributes to an `APIResourceList`.
    pub fn discovery_entries(&self) -> Vec<Value> {
        let mut main = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            main["categories"] = json!(self.categories);
        }
        let mut entries = vec![main];
        if self.status_subresource {
            entries.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if self.group.is_empty() && self.kind == "Pod" {
            entries.push(json!({
                "name": "pods/log",
                "singularName": "",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get"],
            }));
        }
        if self.scale.is_some() {
            entries.push(json!({
                "name": format!("{}/scale", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        entries
    }
}

/// Group plus plural: the identity of stored objects across versions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        Self {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// All resource types currently served. Cheap to clone; CRD changes are visible to every clone.
#[derive(Clone)]
pub struct Registry {
    types: Arc<RwLock<Vec<ResourceType>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry holding the built-in kinds.
    pub fn new() -> Self {
        Self {
            types: Arc::new(RwLock::new(builtin_types())),
        }
    }

    pub fn all(&self) -> Vec<ResourceType> {
        self.types.read().expect("registry lock").clone()
    }

    /// The type served at `group/version` under the URL segment `plural`.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types
            .read()
            .expect("registry lock")
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    /// The type for an object's `apiVersion` and `kind`.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        let (group, version) = split_api_version(api_version);
        self.types
            .read()
            .expect("registry lock")
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .cloned()
    }

    /// Whether any version of `group` serves `kind` (to tell "wrong apiVersion" from "unknown kind").
    pub fn versions_of_kind(&self, group: &str, kind: &str) -> Vec<String> {
        self.types
            .read()
            .expect("registry lock")
            .iter()
            .filter(|t| t.group == group && t.kind == kind)
            .map(|t| t.version.clone())
            .collect()
    }

    /// Groups in discovery order, each with its versions (preferred first).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.types.read().expect("registry lock").iter() {
            match groups.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) => {
                    if !versions.contains(&t.version) {
                        versions.push(t.version.clone());
                    }
                }
                None => groups.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        groups
    }

    /// Replace the types that a CRD (identified by group + plural) serves.
    pub fn set_custom(&self, group: &str, plural: &str, types: Vec<ResourceType>) {
        let mut all = self.types.write().expect("registry lock");
        all.retain(|t| !(t.group == group && t.plural == plural));
        all.extend(types);
    }

    pub fn remove_custom(&self, group: &str, plural: &str) {
        self.set_custom(group, plural, Vec::new());
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
}

const ALL: &[&str] = &["all"];

/// The built-in kinds, with the short names and categories a real apiserver advertises.
#[rustfmt::skip]
const BUILTINS: &[Builtin] = &[
    Builtin { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, short_names: &["ns"], categories: &[], status: true, scale: false },
    Builtin { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, short_names: &["cm"], categories: &[], status: false, scale: false },
    Builtin { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true, short_names: &[], categories: &[], status: false, scale: false },
    Builtin { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, short_names: &["svc"], categories: ALL, status: true, scale: false },
    Builtin { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, short_names: &["sa"], categories: &[], status: false, scale: false },
    Builtin { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, short_names: &["po"], categories: ALL, status: true, scale: false },
    Builtin { group: "", version: "v1", kind: "Endpoints", plural: "endpoints", namespaced: true, short_names: &["ep"], categories: &[], status: false, scale: false },
    Builtin { group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, short_names: &["ev"], categories: &[], status: false, scale: false },
    Builtin { group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true, short_names: &["pvc"], categories: &[], status: true, scale: false },
    Builtin { group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false, short_names: &["no"], categories: &[], status: true, scale: false },
    Builtin { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, short_names: &["deploy"], categories: ALL, status: true, scale: true },
    Builtin { group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true, short_names: &["rs"], categories: ALL, status: true, scale: true },
    Builtin { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true, short_names: &["sts"], categories: ALL, status: true, scale: true },
    Builtin { group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", namespaced: true, short_names: &["ds"], categories: ALL, status: true, scale: false },
    Builtin { group: "apps", version: "v1", kind: "ControllerRevision", plural: "controllerrevisions", namespaced: true, short_names: &[], categories: &[], status: false, scale: false },
    Builtin { group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true, short_names: &[], categories: ALL, status: true, scale: false },
    Builtin { group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", namespaced: true, short_names: &["cj"], categories: ALL, status: true, scale: false },
    Builtin { group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", namespaced: true, short_names: &["ing"], categories: &[], status: true, scale: false },
    Builtin { group: "autoscaling", version: "v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers", namespaced: true, short_names: &["hpa"], categories: ALL, status: true, scale: false },
    Builtin { group: "policy", version: "v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", namespaced: true, short_names: &["pdb"], categories: &[], status: true, scale: false },
    Builtin { group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true, short_names: &[], categories: &[], status: false, scale: false },
    Builtin { group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true, short_names: &[], categories: &[], status: false, scale: false },
    Builtin { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false, short_names: &[], categories: &[], status: false, scale: false },
    Builtin { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false, short_names: &[], categories: &[], status: false, scale: false },
    Builtin { group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false, short_names: &["crd", "crds"], categories: &["api-extensions"], status: true, scale: false },
    Builtin { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true, short_names: &[], categories: &[], status: false, scale: false },
];

fn builtin_types() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(|b| ResourceType {
            group: b.group.to_string(),
            version: b.version.to_string(),
            kind: b.kind.to_string(),
            plural: b.plural.to_string(),
            singular: b.kind.to_lowercase(),
            namespaced: b.namespaced,
            short_names: b.short_names.iter().map(|s| s.to_string()).collect(),
            categories: b.categories.iter().map(|s| s.to_string()).collect(),
            status_subresource: b.status,
            scale: b.scale.then(ScalePaths::builtin),
            schema: None,
            printer_columns: Vec::new(),
            merge_schema: crate::field_manager::schema_for(b.group, b.version, b.kind, None),
        })
        .collect()
}

/// The types a CustomResourceDefinition serves, one per served version.
pub fn types_from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let group = spec["group"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    let plural = names["plural"].as_str().unwrap_or_default();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(true))
        .map(|v| ResourceType {
            group: group.to_string(),
            version: v["name"].as_str().unwrap_or_default().to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            singular: names["singular"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| kind.to_lowercase()),
            namespaced: spec["scope"].as_str() != Some("Cluster"),
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            status_subresource: v["subresources"].get("status").is_some(),
            scale: v["subresources"]
                .get("scale")
                .and_then(ScalePaths::from_crd),
            schema: Some(Arc::new(crd_schema(v))),
            printer_columns: v["additionalPrinterColumns"]
                .as_array()
                .map(|cs| cs.iter().filter_map(PrinterColumn::from_crd).collect())
                .unwrap_or_default(),
            merge_schema: crate::field_manager::schema_for(group, "", kind, Some(&crd_schema(v))),
        })
        .collect()
}

/// A CRD version's `openAPIV3Schema`; a version without one keeps any field.
fn crd_schema(version: &Value) -> Value {
    version["schema"]
        .get("openAPIV3Schema")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}))
}
