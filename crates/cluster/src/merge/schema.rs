//! Per-field merge semantics: how server-side apply and strategic merge patch treat each list and map
//! of an object.
//!
//! The apiserver takes this from the Go struct tags of the built-in types (`+listType`,
//! `+listMapKey`, `+mapType`, `+structType`, `patchStrategy`, `patchMergeKey`) and from the
//! `x-kubernetes-*` extensions of a CRD's `openAPIV3Schema`. A [`Schema`] is a tree of [`Node`]s, one
//! per declared field; anything not declared falls back to what the apiserver does for unknown
//! fields: lists are atomic and objects are granular maps.

use std::collections::BTreeMap;

use serde_json::Value;

/// How server-side apply treats a list (`x-kubernetes-list-type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// The whole list is one value, owned and replaced as a unit.
    Atomic,
    /// A set of scalars; each value is owned separately (`v:"value"` in managedFields).
    Set,
    /// A list of objects identified by the values of some of their fields
    /// (`x-kubernetes-list-map-keys`); each item is owned separately (`k:{...}` in managedFields).
    Map(Vec<MapKey>),
}

/// One key field of an associative list, with the default the apiserver assumes when an item omits
/// it (containers' `ports[].protocol` defaults to `TCP`, so a port without a protocol still has a key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapKey {
    /// The key field's name.
    pub name: String,
    /// The value used when an item omits the field.
    pub default: Option<Value>,
}

/// How server-side apply treats an object value (`x-kubernetes-map-type` / `+structType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// A struct: its fields are declared by the schema and owned one by one.
    Struct,
    /// A map with free-form keys (labels, ConfigMap data); each key is owned one by one.
    Granular,
    /// The whole object is one value (`LabelSelector`, `PodSpec.nodeSelector`).
    Atomic,
}

/// Strategic-merge-patch metadata of a field (`patchStrategy` / `patchMergeKey` struct tags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchMeta {
    /// `patchStrategy` contains `merge`: lists merge (by `merge_key`, or as a set of scalars).
    pub merge: bool,
    /// `patchStrategy` contains `retainKeys`: the patch may carry `$retainKeys`.
    pub retain_keys: bool,
    /// `patchMergeKey`: the field identifying list items.
    pub merge_key: Option<String>,
}

impl PatchMeta {
    const NONE: PatchMeta = PatchMeta {
        merge: false,
        retain_keys: false,
        merge_key: None,
    };
}

/// What a node of the schema says about the values found at its path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// Decided by the value's JSON type. With `deduced`, objects are granular maps whose keys are
    /// map keys (how the apiserver treats unknown / preserve-unknown-fields content); without it,
    /// objects are structs (an undeclared field of a built-in type).
    Auto { deduced: bool },
    /// An object with declared fields. Undeclared keys are map keys when `unknown_deduced`
    /// (`x-kubernetes-preserve-unknown-fields` next to `properties`), else struct fields.
    Struct { atomic: bool, unknown_deduced: bool },
    /// An object whose keys are all map keys; the values are described by `Node::items`.
    Map { atomic: bool },
    /// A list; its items are described by `Node::items`.
    List(ListType),
}

/// One field of a [`Schema`]: its shape, its declared sub-fields and its patch metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    shape: Shape,
    fields: BTreeMap<String, Node>,
    /// Items of a list, values of a map.
    items: Option<Box<Node>>,
    patch: PatchMeta,
    /// The Go type always serializes this field (a non-pointer struct, a list without
    /// `omitempty`), so the apiserver never sees it appear or vanish: an `Update` never owns the
    /// field itself (no `.` in its managedFields), only what is in it.
    always_serialized: bool,
}

static TYPED_DEFAULT: Node = Node::auto(false);
static DEDUCED_DEFAULT: Node = Node::auto(true);
const ATOMIC_LIST: ListType = ListType::Atomic;

/// The resolved semantics of one value, given its node and its JSON type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolved<'a> {
    Scalar,
    /// An object; an `atomic` object is one value, else each key is visited.
    Object {
        atomic: bool,
    },
    List(&'a ListType),
}

impl Node {
    const fn auto(deduced: bool) -> Node {
        Node {
            shape: Shape::Auto { deduced },
            fields: BTreeMap::new(),
            items: None,
            patch: PatchMeta::NONE,
            always_serialized: false,
        }
    }

    /// A (non-pointer) struct of a built-in type; undeclared fields are struct fields too.
    fn strukt() -> Node {
        Node {
            shape: Shape::Struct {
                atomic: false,
                unknown_deduced: false,
            },
            always_serialized: true,
            ..Node::auto(false)
        }
    }

    /// Marks a list field declared without `omitempty` (e.g. `PodSpec.containers`).
    fn not_omitempty(mut self) -> Node {
        self.always_serialized = true;
        self
    }

    /// Whether the Go type always serializes this field (see the field's doc).
    pub(crate) fn always_serialized(&self) -> bool {
        self.always_serialized
    }

    fn atomic_struct() -> Node {
        Node {
            shape: Shape::Struct {
                atomic: true,
                unknown_deduced: false,
            },
            ..Node::auto(false)
        }
    }

    fn granular_map() -> Node {
        Node {
            shape: Shape::Map { atomic: false },
            ..Node::auto(false)
        }
    }

    fn atomic_map() -> Node {
        Node {
            shape: Shape::Map { atomic: true },
            ..Node::auto(false)
        }
    }

    fn list(list_type: ListType, item: Node) -> Node {
        Node {
            shape: Shape::List(list_type),
            items: Some(Box::new(item)),
            ..Node::auto(false)
        }
    }

    fn atomic_list() -> Node {
        Node::list(ListType::Atomic, Node::auto(false))
    }

    fn set_list() -> Node {
        Node::list(ListType::Set, Node::auto(false))
    }

    /// An associative list keyed by `keys`, given as `(name, default)`.
    fn map_list(keys: &[(&str, Option<&str>)], item: Node) -> Node {
        let keys = keys
            .iter()
            .map(|(name, default)| MapKey {
                name: (*name).to_string(),
                default: default.map(|d| Value::String(d.to_string())),
            })
            .collect();
        Node::list(ListType::Map(keys), item)
    }

    fn field(mut self, name: &str, node: Node) -> Node {
        self.fields.insert(name.to_string(), node);
        self
    }

    /// Sets the strategic-merge-patch `patchStrategy: merge` (with `patchMergeKey` when given).
    fn smp_merge(mut self, merge_key: Option<&str>) -> Node {
        self.patch.merge = true;
        self.patch.merge_key = merge_key.map(str::to_string);
        self
    }

    fn smp_retain_keys(mut self) -> Node {
        self.patch.retain_keys = true;
        self
    }

    /// The schema of the key `name` of an object at this node, and whether that key is a declared
    /// struct field (true) or a map key (false). Through a list node, `name` is a field of its items.
    pub(crate) fn child(&self, name: &str) -> (&Node, bool) {
        match &self.shape {
            Shape::List(_) => self.item().child(name),
            Shape::Struct {
                unknown_deduced, ..
            } => match self.fields.get(name) {
                Some(node) => (node, true),
                None if *unknown_deduced => (&DEDUCED_DEFAULT, false),
                None => (&TYPED_DEFAULT, true),
            },
            Shape::Map { .. } => (self.items.as_deref().unwrap_or(&TYPED_DEFAULT), false),
            Shape::Auto { deduced } => match self.fields.get(name) {
                Some(node) => (node, !deduced),
                None if *deduced => (&DEDUCED_DEFAULT, false),
                None => (&TYPED_DEFAULT, true),
            },
        }
    }

    /// The schema of the items of a list at this node.
    pub(crate) fn item(&self) -> &Node {
        match (&self.shape, &self.items) {
            (_, Some(item)) => item,
            (Shape::Auto { deduced: true }, None) => &DEDUCED_DEFAULT,
            _ => &TYPED_DEFAULT,
        }
    }

    /// How a value found at this node is merged, given its JSON type. A value whose type does not
    /// fit the schema is treated as unknown content (atomic list / granular object).
    pub(crate) fn resolve(&self, value: &Value) -> Resolved<'_> {
        match value {
            Value::Object(_) => match self.shape {
                Shape::Struct { atomic, .. } | Shape::Map { atomic } => Resolved::Object { atomic },
                _ => Resolved::Object { atomic: false },
            },
            Value::Array(_) => match &self.shape {
                Shape::List(list_type) => Resolved::List(list_type),
                _ => Resolved::List(&ATOMIC_LIST),
            },
            _ => Resolved::Scalar,
        }
    }

    /// Strategic-merge-patch metadata of this field.
    pub fn patch_meta(&self) -> &PatchMeta {
        &self.patch
    }

    /// The server-side-apply list type of this field, if it is declared as a list.
    pub fn list_type(&self) -> Option<&ListType> {
        match &self.shape {
            Shape::List(list_type) => Some(list_type),
            _ => None,
        }
    }

    /// The server-side-apply map type of this field, if it is declared as an object (unknown
    /// content counts as a granular map).
    pub fn map_type(&self) -> Option<MapType> {
        match self.shape {
            Shape::Struct { atomic: true, .. } | Shape::Map { atomic: true } => {
                Some(MapType::Atomic)
            }
            Shape::Struct { .. } => Some(MapType::Struct),
            Shape::Map { .. } | Shape::Auto { deduced: true } => Some(MapType::Granular),
            Shape::Auto { deduced: false } | Shape::List(_) => None,
        }
    }
}

/// The merge semantics of one kind: the root [`Node`] of its objects.
///
/// The server keeps one per served GVK: [`Schema::builtin`] for the built-in kinds,
/// [`Schema::from_crd_validation`] for custom resources and [`Schema::deduced`] for anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    root: Node,
}

/// The semantics of a field, as answered by [`Schema::lookup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSemantics {
    /// Server-side-apply list type, when the field is declared as a list (unknown lists are
    /// atomic).
    pub list_type: Option<ListType>,
    /// Server-side-apply map type, when the field is declared as an object.
    pub map_type: Option<MapType>,
    /// Strategic-merge-patch metadata.
    pub patch: PatchMeta,
}

impl Schema {
    /// A schema that declares nothing but `metadata`: lists are atomic and objects are granular
    /// maps, as the apiserver treats content it has no schema for.
    pub fn deduced() -> Schema {
        Schema {
            root: Node::auto(true).field("metadata", object_meta()),
        }
    }

    /// The schema of a built-in kind served by bosun's cluster, or `None` when the kind is not one
    /// of them. `group` is `""` for the core group.
    pub fn builtin(group: &str, version: &str, kind: &str) -> Option<Schema> {
        let spec_status =
            |spec: Node, status: Node| top_level().field("spec", spec).field("status", status);
        let root = match (group, version, kind) {
            ("", "v1", "Pod") => spec_status(pod_spec(), pod_status()),
            ("", "v1", "PodTemplate") => top_level().field("template", pod_template()),
            ("", "v1", "ReplicationController") => spec_status(
                Node::strukt()
                    .field("selector", Node::atomic_map())
                    .field("template", pod_template()),
                conditions_status(),
            ),
            ("", "v1", "Service") => spec_status(service_spec(), service_status()),
            ("", "v1", "ConfigMap") => top_level()
                .field("data", Node::granular_map())
                .field("binaryData", Node::granular_map()),
            ("", "v1", "Secret") => top_level()
                .field("data", Node::granular_map())
                .field("stringData", Node::granular_map()),
            ("", "v1", "Endpoints") => top_level().field("subsets", Node::atomic_list()),
            ("", "v1", "Namespace") => spec_status(
                Node::strukt().field("finalizers", Node::atomic_list()),
                conditions_status(),
            ),
            ("", "v1", "Node") => spec_status(
                Node::strukt()
                    .field("podCIDRs", Node::set_list().smp_merge(None))
                    .field("taints", Node::atomic_list()),
                conditions_status()
                    .field(
                        "addresses",
                        Node::map_list(&[("type", None)], Node::strukt()).smp_merge(Some("type")),
                    )
                    .field("capacity", Node::granular_map())
                    .field("allocatable", Node::granular_map()),
            ),
            ("", "v1", "ServiceAccount") => top_level()
                .field("secrets", by_name(Node::strukt()))
                .field("imagePullSecrets", Node::atomic_list()),
            ("", "v1", "PersistentVolumeClaim") => spec_status(
                Node::strukt().field("resources", resource_requirements()),
                conditions_status()
                    .field("capacity", Node::granular_map())
                    .field("allocatedResources", Node::granular_map()),
            ),
            ("apps", "v1", "Deployment") => spec_status(
                // `strategy` is `patchStrategy:"retainKeys"`.
                workload_spec().field("strategy", Node::strukt().smp_retain_keys()),
                conditions_status(),
            ),
            ("apps", "v1", "ReplicaSet" | "DaemonSet") => {
                spec_status(workload_spec(), conditions_status())
            }
            ("apps", "v1", "StatefulSet") => spec_status(
                workload_spec().field("volumeClaimTemplates", Node::atomic_list()),
                conditions_status(),
            ),
            ("batch", "v1", "Job") => spec_status(workload_spec(), conditions_status()),
            ("batch", "v1", "CronJob") => spec_status(
                Node::strukt().field(
                    "jobTemplate",
                    Node::strukt()
                        .field("metadata", object_meta())
                        .field("spec", workload_spec()),
                ),
                Node::strukt().field("active", Node::atomic_list()),
            ),
            ("networking.k8s.io", "v1", "Ingress") => spec_status(
                Node::strukt()
                    .field("rules", Node::atomic_list())
                    .field("tls", Node::atomic_list()),
                Node::strukt(),
            ),
            ("rbac.authorization.k8s.io", "v1", "Role" | "ClusterRole") => {
                top_level().field("rules", Node::atomic_list())
            }
            ("rbac.authorization.k8s.io", "v1", "RoleBinding" | "ClusterRoleBinding") => {
                top_level().field("subjects", Node::atomic_list())
            }
            ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => spec_status(
                // `versions` is `+listType=atomic` in the Go types, not a map keyed by name.
                Node::strukt().field("versions", Node::atomic_list()),
                conditions_status(),
            ),
            ("policy", "v1", "PodDisruptionBudget") => spec_status(
                Node::strukt().field("selector", Node::atomic_struct()),
                conditions_status().field("disruptedPods", Node::granular_map()),
            ),
            ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
                spec_status(Node::strukt(), conditions_status())
            }
            ("coordination.k8s.io", "v1", "Lease")
            | ("", "v1", "Event" | "LimitRange" | "ResourceQuota")
            | ("events.k8s.io", "v1", "Event")
            | ("discovery.k8s.io", "v1", "EndpointSlice") => top_level(),
            _ => return None,
        };
        Some(Schema { root })
    }

    /// The schema of a custom resource, from its CRD version's `schema.openAPIV3Schema`. Reads
    /// `properties`, `additionalProperties`, `items`, `x-kubernetes-list-type`,
    /// `x-kubernetes-list-map-keys` (with the keys' `default`s), `x-kubernetes-map-type` and
    /// `x-kubernetes-preserve-unknown-fields`. `metadata` always gets the ObjectMeta semantics.
    pub fn from_crd_validation(open_api_v3_schema: &Value) -> Schema {
        let mut root = node_from_json_schema(open_api_v3_schema);
        if matches!(root.shape, Shape::Auto { .. }) {
            root.shape = Shape::Struct {
                atomic: false,
                unknown_deduced: true,
            };
        }
        root.fields.insert("metadata".to_string(), object_meta());
        Schema { root }
    }

    /// The root node, for walking the schema alongside a value.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The semantics of the field at `path` (field names from the object's root; list items are
    /// passed through without an index, e.g. `["spec", "template", "spec", "containers", "ports"]`).
    pub fn lookup(&self, path: &[&str]) -> FieldSemantics {
        let mut node = &self.root;
        for name in path {
            node = node.child(name).0;
        }
        FieldSemantics {
            list_type: node.list_type().cloned(),
            map_type: node.map_type(),
            patch: node.patch.clone(),
        }
    }
}

/// `apiVersion`, `kind` and `metadata`, shared by every kind.
fn top_level() -> Node {
    Node::strukt().field("metadata", object_meta())
}

fn object_meta() -> Node {
    Node::strukt()
        .field("labels", Node::granular_map())
        .field("annotations", Node::granular_map())
        .field("finalizers", Node::set_list().smp_merge(None))
        .field(
            "ownerReferences",
            Node::map_list(&[("uid", None)], Node::strukt()).smp_merge(Some("uid")),
        )
        .field("managedFields", Node::atomic_list())
}

/// `status` with `conditions` keyed by `type` (`patchStrategy:"merge" patchMergeKey:"type"`).
fn conditions_status() -> Node {
    Node::strukt().field(
        "conditions",
        Node::map_list(&[("type", None)], Node::strukt()).smp_merge(Some("type")),
    )
}

/// The spec of Deployment, ReplicaSet, StatefulSet, DaemonSet and Job: an atomic `LabelSelector`
/// (`+structType=atomic`) and a pod template.
fn workload_spec() -> Node {
    Node::strukt()
        .field("selector", Node::atomic_struct())
        .field("template", pod_template())
}

fn pod_template() -> Node {
    Node::strukt()
        .field("metadata", object_meta())
        .field("spec", pod_spec())
}

/// A list keyed by `name` for both SSA and SMP.
fn by_name(item: Node) -> Node {
    Node::map_list(&[("name", None)], item).smp_merge(Some("name"))
}

fn pod_spec() -> Node {
    Node::strukt()
        .field("containers", by_name(container()).not_omitempty())
        .field("initContainers", by_name(container()))
        .field("ephemeralContainers", by_name(container()))
        .field("volumes", by_name(Node::strukt()).smp_retain_keys())
        .field("imagePullSecrets", by_name(Node::strukt()))
        .field(
            "hostAliases",
            Node::map_list(&[("ip", None)], Node::strukt()).smp_merge(Some("ip")),
        )
        .field(
            "topologySpreadConstraints",
            Node::map_list(
                &[("topologyKey", None), ("whenUnsatisfiable", None)],
                Node::strukt().field("labelSelector", Node::atomic_struct()),
            )
            .smp_merge(Some("topologyKey")),
        )
        .field("resourceClaims", by_name(Node::strukt()).smp_retain_keys())
        .field("schedulingGates", by_name(Node::strukt()))
        .field("tolerations", Node::atomic_list())
        .field("readinessGates", Node::atomic_list())
        .field("nodeSelector", Node::atomic_map())
        .field("overhead", Node::granular_map())
}

fn container() -> Node {
    Node::strukt()
        .field(
            "ports",
            Node::map_list(
                &[("containerPort", None), ("protocol", Some("TCP"))],
                Node::strukt(),
            )
            .smp_merge(Some("containerPort")),
        )
        .field("env", by_name(Node::strukt()))
        .field("envFrom", Node::atomic_list())
        .field(
            "volumeMounts",
            Node::map_list(&[("mountPath", None)], Node::strukt()).smp_merge(Some("mountPath")),
        )
        .field(
            "volumeDevices",
            Node::map_list(&[("devicePath", None)], Node::strukt()).smp_merge(Some("devicePath")),
        )
        .field("resources", resource_requirements())
        .field("command", Node::atomic_list())
        .field("args", Node::atomic_list())
}

fn resource_requirements() -> Node {
    Node::strukt()
        .field("limits", Node::granular_map())
        .field("requests", Node::granular_map())
        .field("claims", Node::map_list(&[("name", None)], Node::strukt()))
}

fn pod_status() -> Node {
    conditions_status()
        .field(
            "podIPs",
            Node::map_list(&[("ip", None)], Node::strukt()).smp_merge(Some("ip")),
        )
        .field(
            "hostIPs",
            Node::map_list(&[("ip", None)], Node::strukt()).smp_merge(Some("ip")),
        )
        .field(
            "resourceClaimStatuses",
            by_name(Node::strukt()).smp_retain_keys(),
        )
}

fn service_spec() -> Node {
    Node::strukt()
        .field(
            "ports",
            Node::map_list(&[("port", None), ("protocol", Some("TCP"))], Node::strukt())
                .smp_merge(Some("port")),
        )
        .field("selector", Node::atomic_map())
}

fn service_status() -> Node {
    conditions_status().field(
        "loadBalancer",
        Node::strukt().field("ingress", Node::atomic_list()),
    )
}

/// Builds a node from one (structural) JSON schema of a CRD.
fn node_from_json_schema(schema: &Value) -> Node {
    let ext = |name: &str| schema.get(name).and_then(Value::as_str);
    let preserve_unknown = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let atomic_map = ext("x-kubernetes-map-type") == Some("atomic");

    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        let list_type = match ext("x-kubernetes-list-type") {
            Some("set") => ListType::Set,
            Some("map") => {
                let names = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect::<Vec<_>>())
                    .unwrap_or_default();
                ListType::Map(
                    names
                        .into_iter()
                        .map(|name| MapKey {
                            name: name.to_string(),
                            default: items
                                .get("properties")
                                .and_then(|p| p.get(name))
                                .and_then(|p| p.get("default"))
                                .cloned(),
                        })
                        .collect(),
                )
            }
            _ => ListType::Atomic,
        };
        return Node::list(list_type, node_from_json_schema(items));
    }
    if ext("type") == Some("array") {
        return Node::atomic_list();
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let mut node = Node {
            shape: Shape::Struct {
                atomic: atomic_map,
                unknown_deduced: preserve_unknown,
            },
            ..Node::auto(false)
        };
        for (name, sub) in properties {
            node.fields.insert(name.clone(), node_from_json_schema(sub));
        }
        return node;
    }
    let values = match schema.get("additionalProperties") {
        Some(values @ Value::Object(_)) => Some(node_from_json_schema(values)),
        Some(Value::Bool(true)) => Some(Node::auto(true)),
        _ => None,
    };
    if values.is_some() || atomic_map {
        let mut node = if atomic_map {
            Node::atomic_map()
        } else {
            Node::granular_map()
        };
        node.items = values.map(Box::new);
        return node;
    }
    // Scalars, int-or-string, and objects whose content is not described (preserve-unknown-fields):
    // the apiserver deduces their semantics from the value.
    Node::auto(true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn map_keys(semantics: &FieldSemantics) -> Vec<String> {
        match &semantics.list_type {
            Some(ListType::Map(keys)) => keys.iter().map(|k| k.name.clone()).collect(),
            other => panic!("not a map list: {other:?}"),
        }
    }

    // The pod template of a Deployment has the PodSpec semantics: containers keyed by name
    // (`+listMapKey=name`, `patchMergeKey:"name"`), ports by containerPort+protocol for SSA but
    // containerPort alone for SMP.
    #[test]
    fn deployment_pod_template_semantics() {
        let schema = Schema::builtin("apps", "v1", "Deployment").unwrap();
        let containers = schema.lookup(&["spec", "template", "spec", "containers"]);
        assert_eq!(map_keys(&containers), keys(&["name"]));
        assert_eq!(containers.patch.merge_key.as_deref(), Some("name"));
        let ports = schema.lookup(&["spec", "template", "spec", "containers", "ports"]);
        assert_eq!(map_keys(&ports), keys(&["containerPort", "protocol"]));
        assert_eq!(ports.patch.merge_key.as_deref(), Some("containerPort"));
        let env_from = schema.lookup(&["spec", "template", "spec", "containers", "envFrom"]);
        assert_eq!(env_from.list_type, Some(ListType::Atomic));
        assert!(!env_from.patch.merge);
        // LabelSelector is `+structType=atomic`.
        assert_eq!(
            schema.lookup(&["spec", "selector"]).map_type,
            Some(MapType::Atomic)
        );
        let volumes = schema.lookup(&["spec", "template", "spec", "volumes"]);
        assert!(volumes.patch.merge && volumes.patch.retain_keys);
    }

    // CronJob embeds the PodSpec two levels deeper: spec.jobTemplate.spec.template.spec.
    #[test]
    fn cronjob_pod_spec_is_found() {
        let schema = Schema::builtin("batch", "v1", "CronJob").unwrap();
        let path = [
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "initContainers",
            "env",
        ];
        assert_eq!(map_keys(&schema.lookup(&path)), keys(&["name"]));
    }

    // Tolerations are `+listType=atomic` with no patch strategy; metadata.finalizers is a set that
    // SMP merges (`patchStrategy:"merge"`), ownerReferences are keyed by uid.
    #[test]
    fn pod_and_metadata_semantics() {
        let schema = Schema::builtin("", "v1", "Pod").unwrap();
        let tolerations = schema.lookup(&["spec", "tolerations"]);
        assert_eq!(tolerations.list_type, Some(ListType::Atomic));
        assert!(!tolerations.patch.merge);
        let finalizers = schema.lookup(&["metadata", "finalizers"]);
        assert_eq!(finalizers.list_type, Some(ListType::Set));
        assert!(finalizers.patch.merge && finalizers.patch.merge_key.is_none());
        assert_eq!(
            map_keys(&schema.lookup(&["metadata", "ownerReferences"])),
            keys(&["uid"])
        );
        assert_eq!(
            schema.lookup(&["metadata", "labels"]).map_type,
            Some(MapType::Granular)
        );
        assert_eq!(
            schema.lookup(&["spec", "nodeSelector"]).map_type,
            Some(MapType::Atomic)
        );
        assert_eq!(
            map_keys(&schema.lookup(&["status", "conditions"])),
            keys(&["type"])
        );
    }

    // Service ports: SSA keys port+protocol (protocol defaults to TCP), SMP merge key port.
    #[test]
    fn service_ports() {
        let schema = Schema::builtin("", "v1", "Service").unwrap();
        let ports = schema.lookup(&["spec", "ports"]);
        match ports.list_type {
            Some(ListType::Map(keys)) => {
                assert_eq!(keys[1].name, "protocol");
                assert_eq!(keys[1].default, Some(json!("TCP")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ports.patch.merge_key.as_deref(), Some("port"));
    }

    // Unknown paths: lists atomic, objects granular — what the apiserver does for unknown fields.
    #[test]
    fn unknown_paths_fall_back() {
        let schema = Schema::builtin("apps", "v1", "Deployment").unwrap();
        let unknown = schema.lookup(&["spec", "template", "spec", "affinity", "whatever"]);
        assert_eq!(unknown.list_type, None);
        assert!(!unknown.patch.merge);
        assert!(Schema::builtin("example.com", "v1", "Widget").is_none());
        let deduced = Schema::deduced();
        assert_eq!(
            deduced.lookup(&["spec", "x"]).map_type,
            Some(MapType::Granular)
        );
    }

    // A CRD schema's extensions decide the list and map types of a custom resource.
    #[test]
    fn crd_schema_extensions() {
        let schema = Schema::from_crd_validation(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["port", "protocol"],
                            "items": {"type": "object", "properties": {
                                "port": {"type": "integer"},
                                "protocol": {"type": "string", "default": "TCP"}
                            }}
                        },
                        "tags": {"type": "array", "x-kubernetes-list-type": "set",
                                 "items": {"type": "string"}},
                        "args": {"type": "array", "items": {"type": "string"}},
                        "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                                     "additionalProperties": {"type": "string"}},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }
            }
        }));
        match schema.lookup(&["spec", "ports"]).list_type {
            Some(ListType::Map(keys)) => {
                assert_eq!(keys[0].name, "port");
                assert_eq!(keys[1].default, Some(json!("TCP")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            schema.lookup(&["spec", "tags"]).list_type,
            Some(ListType::Set)
        );
        assert_eq!(
            schema.lookup(&["spec", "args"]).list_type,
            Some(ListType::Atomic)
        );
        assert_eq!(
            schema.lookup(&["spec", "selector"]).map_type,
            Some(MapType::Atomic)
        );
        assert_eq!(
            schema.lookup(&["spec", "extra", "a"]).map_type,
            Some(MapType::Granular)
        );
        // metadata keeps its built-in semantics in custom resources.
        assert_eq!(
            schema.lookup(&["metadata", "finalizers"]).list_type,
            Some(ListType::Set)
        );
    }
}
