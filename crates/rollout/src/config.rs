//! A revision's config: the ConfigMaps and Secrets a Rollout's pod template references are part
//! of its revision, so that a commit that changes only a ConfigMap is rolled out (and judged,
//! and rolled back) like an image change, and the stable revision keeps the config it was
//! deployed with.
//!
//! - the pod-template hash is taken over the template and a digest of each referenced object's
//!   `data` and `binaryData` ([`crate::revision::pod_template_hash`]);
//! - each revision's ReplicaSet references immutable copies (`<name>-<hash>`, [`copy`]) made
//!   when the ReplicaSet is made, owned by it and deleted with it; the Rollout's own template
//!   keeps naming the originals.
//!
//! Argo Rollouts does not do this (its users give a ConfigMap a content-hashed name with
//! kustomize's `configMapGenerator`, which keeps working here: such a name changes the template
//! itself). Pure: objects come in as JSON, the controller reads and writes them.

use std::collections::BTreeMap;

use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::revision::HASH_LABEL;

/// The kinds a pod template can take config from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    ConfigMap,
    Secret,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        }
    }

    /// The core group's resource of this kind.
    pub fn resource(self) -> ApiResource {
        let plural = match self {
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
        };
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", self.as_str()), plural)
    }
}

/// A ConfigMap or Secret a pod template names; `optional` when every place that names it says
/// `optional: true` (then a missing object is no error: the pods start without it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub kind: Kind,
    pub name: String,
    pub optional: bool,
}

/// The digests of the objects a revision includes (those that exist), by kind and name.
pub type Digests = BTreeMap<(Kind, String), String>;

/// One place in a pod template that names a ConfigMap or Secret: the JSON pointer of the name.
struct Site {
    pointer: String,
    kind: Kind,
    name: String,
    optional: bool,
}

/// Every place in `template` (a pod template: `metadata` and `spec`) that names a ConfigMap or
/// Secret, as the kubelet reads them: containers' and initContainers' `env[].valueFrom`
/// (`configMapKeyRef`, `secretKeyRef`) and `envFrom[]` (`configMapRef`, `secretRef`); volumes'
/// `configMap`, `secret` and `projected.sources[]` (`configMap`, `secret`).
fn sites(template: &Value) -> Vec<Site> {
    let mut found = Vec::new();
    let mut site = |pointer: String, kind: Kind, at: &Value, field: &str| {
        if let Some(name) = at[field].as_str().filter(|n| !n.is_empty()) {
            found.push(Site {
                pointer: format!("{pointer}/{field}"),
                kind,
                name: name.to_string(),
                optional: at["optional"].as_bool().unwrap_or(false),
            });
        }
    };
    let spec = &template["spec"];
    for list in ["initContainers", "containers"] {
        for (c, container) in spec[list].as_array().into_iter().flatten().enumerate() {
            let at = format!("/spec/{list}/{c}");
            for (e, env) in container["env"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let from = &env["valueFrom"];
                let pointer = format!("{at}/env/{e}/valueFrom");
                site(
                    format!("{pointer}/configMapKeyRef"),
                    Kind::ConfigMap,
                    &from["configMapKeyRef"],
                    "name",
                );
                site(
                    format!("{pointer}/secretKeyRef"),
                    Kind::Secret,
                    &from["secretKeyRef"],
                    "name",
                );
            }
            for (e, from) in container["envFrom"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let pointer = format!("{at}/envFrom/{e}");
                site(
                    format!("{pointer}/configMapRef"),
                    Kind::ConfigMap,
                    &from["configMapRef"],
                    "name",
                );
                site(
                    format!("{pointer}/secretRef"),
                    Kind::Secret,
                    &from["secretRef"],
                    "name",
                );
            }
        }
    }
    for (v, volume) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let at = format!("/spec/volumes/{v}");
        site(
            format!("{at}/configMap"),
            Kind::ConfigMap,
            &volume["configMap"],
            "name",
        );
        site(
            format!("{at}/secret"),
            Kind::Secret,
            &volume["secret"],
            "secretName",
        );
        for (s, source) in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let pointer = format!("{at}/projected/sources/{s}");
            site(
                format!("{pointer}/configMap"),
                Kind::ConfigMap,
                &source["configMap"],
                "name",
            );
            site(
                format!("{pointer}/secret"),
                Kind::Secret,
                &source["secret"],
                "name",
            );
        }
    }
    found
}

/// The ConfigMaps and Secrets `template` references, each once (sorted by kind and name).
pub fn references(template: &Value) -> Vec<Reference> {
    let mut by_name: BTreeMap<(Kind, String), bool> = BTreeMap::new();
    for site in sites(template) {
        let optional = by_name.entry((site.kind, site.name)).or_insert(true);
        *optional &= site.optional;
    }
    by_name
        .into_iter()
        .map(|((kind, name), optional)| Reference {
            kind,
            name,
            optional,
        })
        .collect()
}

/// Whether `template` names the ConfigMap or Secret `name`.
pub fn references_object(template: &Value, kind: Kind, name: &str) -> bool {
    sites(template)
        .iter()
        .any(|s| s.kind == kind && s.name == name)
}

/// The digest of a ConfigMap's or Secret's content (`data` and `binaryData`; an absent map is
/// an empty one): SHA-256, so that a Secret's digest says nothing of its values, written in hex.
pub fn digest(object: &Value) -> String {
    let map = |field: &str| match &object[field] {
        Value::Null => json!({}),
        other => other.clone(),
    };
    let mut text = String::new();
    crate::revision::canonical(
        &json!({"binaryData": map("binaryData"), "data": map("data")}),
        &mut text,
    );
    let sum = Sha256::digest(text.as_bytes());
    sum.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A required ConfigMap or Secret that is not there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub kind: Kind,
    pub name: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} referenced by the pod template not found",
            self.kind.as_str(),
            self.name
        )
    }
}

/// The digests of `references` as `lookup` (kind, name → digest of the live object) has them.
/// A missing optional reference is left out (the pods do without it); a missing required one is
/// an error that names it: nothing is invented for it, and the revision waits for it.
pub fn resolve(
    references: &[Reference],
    lookup: impl Fn(Kind, &str) -> Option<String>,
) -> Result<Digests, Missing> {
    let mut digests = Digests::new();
    for reference in references {
        match lookup(reference.kind, &reference.name) {
            Some(digest) => {
                digests.insert((reference.kind, reference.name.clone()), digest);
            }
            None if reference.optional => {}
            None => {
                return Err(Missing {
                    kind: reference.kind,
                    name: reference.name.clone(),
                });
            }
        }
    }
    Ok(digests)
}

/// What the digests add to the pod-template hash's input.
pub fn hash_input(digests: &Digests) -> Value {
    let configs: Map<String, Value> = digests
        .iter()
        .map(|((kind, name), digest)| (format!("{}/{name}", kind.as_str()), json!(digest)))
        .collect();
    json!({"configs": configs})
}

/// The name of `name`'s copy for the revision of hash `hash`: `<name>-<hash>`, shortened (with a
/// hash of the whole name, to keep copies of long names apart) to stay a DNS subdomain of at
/// most 253 characters.
pub fn copy_name(name: &str, hash: &str) -> String {
    const MAX: usize = 253;
    let plain = format!("{name}-{hash}");
    if plain.len() <= MAX {
        return plain;
    }
    let tag = crate::revision::steps_hash(&json!(name));
    let keep = MAX - hash.len() - tag.len() - 2;
    let prefix = name[..keep].trim_end_matches(['-', '.']);
    format!("{prefix}-{tag}-{hash}")
}

/// The annotation on a ReplicaSet that names its copies: `{"ConfigMap/web": "web-<hash>"}`.
pub const COPIES_ANNOTATION: &str = "bosun.dev/config-copies";
/// On a ReplicaSet whose copies are still owned by the Rollout (made before the ReplicaSet,
/// whose uid they can only name once it exists); removed once they are the ReplicaSet's.
pub const UNOWNED_ANNOTATION: &str = "bosun.dev/config-copies-unowned";
/// On a copy: the name of the object it copies.
pub const COPY_OF_ANNOTATION: &str = "bosun.dev/config-copy-of";

/// The copies a revision's ReplicaSet references, as [`COPIES_ANNOTATION`] says them.
pub fn copies_annotation(digests: &Digests, hash: &str) -> Value {
    let map: Map<String, Value> = digests
        .keys()
        .map(|(kind, name)| {
            (
                format!("{}/{name}", kind.as_str()),
                json!(copy_name(name, hash)),
            )
        })
        .collect();
    json!(Value::Object(map).to_string())
}

/// The copies a ReplicaSet references, from its [`COPIES_ANNOTATION`]: (kind, original, copy).
pub fn copies_of(replica_set: &Value) -> Vec<(Kind, String, String)> {
    let Some(text) = replica_set["metadata"]["annotations"][COPIES_ANNOTATION].as_str() else {
        return Vec::new();
    };
    let map: Map<String, Value> = serde_json::from_str(text).unwrap_or_default();
    map.into_iter()
        .filter_map(|(key, copy)| {
            let (kind, name) = key.split_once('/')?;
            let kind = match kind {
                "ConfigMap" => Kind::ConfigMap,
                "Secret" => Kind::Secret,
                _ => return None,
            };
            Some((kind, name.to_string(), copy.as_str()?.to_string()))
        })
        .collect()
}

/// Points every reference of `template` to an object in `digests` at its copy for `hash`
/// (references to missing optional objects keep their names).
pub fn point_at_copies(template: &mut Value, digests: &Digests, hash: &str) {
    for site in sites(template) {
        if digests.contains_key(&(site.kind, site.name.clone()))
            && let Some(name) = template.pointer_mut(&site.pointer)
        {
            *name = json!(copy_name(&site.name, hash));
        }
    }
}

/// The reverse of [`point_at_copies`] for the ReplicaSet `replica_set`'s template (`bosun
/// rollout undo` sets the Rollout's template back to the originals' names).
pub fn point_at_originals(template: &mut Value, replica_set: &Value) {
    let copies = copies_of(replica_set);
    for site in sites(template) {
        if let Some((_, original, _)) = copies
            .iter()
            .find(|(kind, _, copy)| *kind == site.kind && *copy == site.name)
            && let Some(name) = template.pointer_mut(&site.pointer)
        {
            *name = json!(original);
        }
    }
}

/// The immutable copy of `original` (a ConfigMap or Secret as read) named `name`, for the
/// revision of hash `hash`, owned by `owner` (an ownerReference). It has the original's content
/// (and a Secret's `type`) and none of its labels or annotations: neither Argo CD's tracking
/// (`app.kubernetes.io/instance`, `argocd.argoproj.io/tracking-id`) nor bosun's (`bosun.dev/app`,
/// `bosun.dev/tracking-id`), so no Application counts it as its own or prunes it, and no tool
/// that selects config by label (a dashboard loader) picks up a second copy.
pub fn copy(original: &Value, kind: Kind, name: &str, hash: &str, owner: Value) -> Value {
    let mut copy = json!({
        "apiVersion": "v1",
        "kind": kind.as_str(),
        "metadata": {
            "name": name,
            "namespace": original["metadata"]["namespace"],
            "labels": {HASH_LABEL: hash},
            "annotations": {COPY_OF_ANNOTATION: original["metadata"]["name"]},
            "ownerReferences": [owner],
        },
        "immutable": true,
    });
    for field in ["data", "binaryData"] {
        if original[field].is_object() {
            copy[field] = original[field].clone();
        }
    }
    if kind == Kind::Secret && original["type"].is_string() {
        copy["type"] = original["type"].clone();
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {
        "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "db"}}]}],
        "containers": [{"name": "web", "image": "web:1",
            "env": [
                {"name": "A", "value": "1"},
                {"name": "RATE", "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "rate"}}},
                {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ],
            "envFrom": [{"configMapRef": {"name": "flags", "optional": true}, "prefix": "F_"}]}],
        "volumes": [
            {"name": "a", "configMap": {"name": "web-config"}},
            {"name": "b", "secret": {"secretName": "tls", "optional": true}},
            {"name": "c", "projected": {"sources": [
                {"configMap": {"name": "extra"}},
                {"secret": {"name": "tls"}},
                {"serviceAccountToken": {"path": "token"}}
            ]}},
            {"name": "d", "emptyDir": {}}
        ]}})
    }

    #[test]
    fn every_kind_of_reference_is_found_once_optional_only_if_every_place_says_so() {
        let refs = references(&template());
        let found: Vec<(Kind, &str, bool)> = refs
            .iter()
            .map(|r| (r.kind, r.name.as_str(), r.optional))
            .collect();
        assert_eq!(
            found,
            vec![
                (Kind::ConfigMap, "extra", false),
                (Kind::ConfigMap, "flags", true),
                (Kind::ConfigMap, "web-config", false),
                (Kind::Secret, "db", false),
                // optional as a volume, required as a projected source
                (Kind::Secret, "tls", false),
            ]
        );
        assert!(references(&json!({"spec": {"containers": [{"image": "x"}]}})).is_empty());
        assert!(references_object(&template(), Kind::Secret, "db"));
        assert!(!references_object(&template(), Kind::ConfigMap, "db"));
    }

    #[test]
    fn references_point_at_the_copies_and_back() {
        let mut digests = Digests::new();
        for (kind, name) in [
            (Kind::ConfigMap, "web-config"),
            (Kind::Secret, "db"),
            (Kind::Secret, "tls"),
            (Kind::ConfigMap, "extra"),
        ] {
            digests.insert((kind, name.to_string()), "d".into());
        }
        // `flags` is optional and missing: its reference stays as it is.
        let mut t = template();
        point_at_copies(&mut t, &digests, "h4sh");
        let spec = &t["spec"];
        assert_eq!(
            spec["containers"][0]["env"][1]["valueFrom"]["configMapKeyRef"]["name"],
            "web-config-h4sh"
        );
        assert_eq!(
            spec["containers"][0]["env"][2]["valueFrom"]["secretKeyRef"]["name"],
            "db-h4sh"
        );
        assert_eq!(
            spec["containers"][0]["envFrom"][0]["configMapRef"]["name"],
            "flags"
        );
        assert_eq!(
            spec["initContainers"][0]["envFrom"][0]["secretRef"]["name"],
            "db-h4sh"
        );
        assert_eq!(spec["volumes"][0]["configMap"]["name"], "web-config-h4sh");
        assert_eq!(spec["volumes"][1]["secret"]["secretName"], "tls-h4sh");
        assert_eq!(
            spec["volumes"][2]["projected"]["sources"][0]["configMap"]["name"],
            "extra-h4sh"
        );
        assert_eq!(
            spec["volumes"][2]["projected"]["sources"][1]["secret"]["name"],
            "tls-h4sh"
        );
        let rs = json!({"metadata": {"annotations": {
            COPIES_ANNOTATION: copies_annotation(&digests, "h4sh")}}});
        assert_eq!(copies_of(&rs).len(), 4);
        point_at_originals(&mut t, &rs);
        assert_eq!(t, template());
    }

    #[test]
    fn a_missing_required_reference_is_an_error_a_missing_optional_one_is_left_out() {
        let refs = references(&template());
        let all = resolve(&refs, |_, name| Some(format!("digest of {name}"))).unwrap();
        assert_eq!(all.len(), 5);
        let without_flags = resolve(&refs, |_, name| {
            (name != "flags").then(|| format!("digest of {name}"))
        })
        .unwrap();
        assert_eq!(without_flags.len(), 4);
        assert_eq!(
            resolve(&refs, |kind, name| {
                (kind != Kind::Secret || name != "db").then(|| "d".to_string())
            })
            .unwrap_err()
            .to_string(),
            "Secret \"db\" referenced by the pod template not found"
        );
    }

    #[test]
    fn the_digest_follows_the_content_only() {
        let a =
            json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "data": {"k": "1", "j": "2"}});
        let b = json!({"metadata": {"name": "b"}, "data": {"j": "2", "k": "1"}, "binaryData": {}});
        assert_eq!(digest(&a), digest(&b));
        assert_eq!(digest(&a).len(), 32);
        assert_ne!(digest(&a), digest(&json!({"data": {"k": "1"}})));
        assert_ne!(
            digest(&json!({"data": {"k": "AA=="}})),
            digest(&json!({"binaryData": {"k": "AA=="}}))
        );
        assert_eq!(digest(&json!({})), digest(&json!({"data": {}})));
    }

    #[test]
    fn copy_names_stay_dns_subdomains_of_at_most_253_characters() {
        assert_eq!(copy_name("web-config", "5f6d8"), "web-config-5f6d8");
        let long = format!("{}.{}", "a".repeat(200), "b".repeat(52));
        let other = format!("{}.{}", "a".repeat(200), "c".repeat(52));
        let name = copy_name(&long, "5f6d8c7b9");
        assert!(name.len() <= 253, "{}", name.len());
        assert!(name.ends_with("-5f6d8c7b9"));
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        );
        assert_ne!(name, copy_name(&other, "5f6d8c7b9"));
        // A cut that ends in a dot or dash is trimmed.
        let dotted = format!("{}.{}", "a".repeat(236), "b".repeat(16));
        assert!(!copy_name(&dotted, "5f6d8c7b9").contains(".-"));
    }

    #[test]
    fn a_copy_has_the_content_and_none_of_the_originals_metadata() {
        let original = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop", "uid": "u1", "resourceVersion": "4",
                "labels": {"app.kubernetes.io/instance": "shop", "bosun.dev/app": "shop", "team": "a"},
                "annotations": {"argocd.argoproj.io/tracking-id": "shop:/Secret:shop/db",
                    "bosun.dev/tracking-id": "shop:/Secret:shop/db",
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{}}"}},
            "type": "kubernetes.io/basic-auth",
            "data": {"password": "aHVudGVyMg=="}});
        let owner =
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-h", "uid": "u2"});
        let copy = copy(&original, Kind::Secret, "db-h", "h", owner.clone());
        assert_eq!(
            copy,
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db-h", "namespace": "shop",
                    "labels": {HASH_LABEL: "h"},
                    "annotations": {COPY_OF_ANNOTATION: "db"},
                    "ownerReferences": [owner]},
                "immutable": true,
                "type": "kubernetes.io/basic-auth",
                "data": {"password": "aHVudGVyMg=="}})
        );
    }
}
