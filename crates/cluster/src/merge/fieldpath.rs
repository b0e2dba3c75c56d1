//! Field paths and field sets, after `sigs.k8s.io/structured-merge-diff/fieldpath`, with the
//! `FieldsV1` JSON encoding the apiserver writes into `metadata.managedFields[].fieldsV1`:
//! `f:<field>`, `k:<json object of the list-map keys>`, `v:<json value of a set item>`, `i:<index>`,
//! and `.` for "the node itself is a member" when it also has children.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step of a path into an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathElement {
    /// A field of a struct or a key of a map.
    Field(String),
    /// An item of an associative list, by its key fields (sorted by name).
    Key(Vec<(String, Value)>),
    /// An item of a set, by its value.
    Value(Value),
    /// An item of a list by position (only in sets read from other servers; bosun never writes it).
    Index(usize),
}

/// A path from an object's root, e.g. `.spec.template.spec.containers[name="web"].image`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FieldPath(pub Vec<PathElement>);

/// The error of a malformed `fieldsV1` document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fieldsV1: {0}")]
pub struct FieldsV1Error(String);

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The element's key in the `FieldsV1` encoding.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let object: Map<String, Value> = fields.iter().cloned().collect();
                format!("k:{}", Value::Object(object))
            }
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parses a `FieldsV1` key (`f:`, `k:`, `v:`, `i:`); `.` is handled by the set.
    pub fn from_fields_v1_key(key: &str) -> Result<PathElement, FieldsV1Error> {
        let bad = || FieldsV1Error(format!("unrecognized key {key:?}"));
        let (kind, rest) = key.split_once(':').ok_or_else(bad)?;
        match kind {
            "f" => Ok(PathElement::Field(rest.to_string())),
            "k" => match serde_json::from_str::<Value>(rest) {
                Ok(Value::Object(fields)) => {
                    let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
                    fields.sort_by(|a, b| a.0.cmp(&b.0));
                    Ok(PathElement::Key(fields))
                }
                _ => Err(bad()),
            },
            "v" => serde_json::from_str(rest)
                .map(PathElement::Value)
                .map_err(|_| bad()),
            "i" => rest.parse().map(PathElement::Index).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl Ord for PathElement {
    /// Fields < keys < values < indices, as structured-merge-diff orders them.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b.iter()) {
                    let c = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A total order on JSON values like structured-merge-diff's `value.Compare`: numbers < strings <
/// booleans < lists < maps < null. Ties between numerically equal numbers of different
/// representations are broken by their text, to stay consistent with equality.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            fx.partial_cmp(&fy)
                .unwrap_or(Ordering::Equal)
                .then_with(|| x.to_string().cmp(&y.to_string()))
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (xi, yi) in x.iter().zip(y.iter()) {
                let c = compare_values(xi, yi);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            // serde_json maps iterate in key order (no preserve_order), or insertion order
            // otherwise: sort to be independent of it.
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(ys.iter()) {
                let c = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// How structured-merge-diff prints a value inside a path: strings quoted, numbers and booleans
/// bare, lists bracketed.
fn value_to_path_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(value_to_path_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", value_to_path_string(v)))
            .collect::<String>(),
        other => other.to_string(),
    }
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", value_to_path_string(value)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(value) => write!(f, "[={}]", value_to_path_string(value)),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

impl fmt::Display for FieldPath {
    /// The apiserver's format, used in conflict messages: `.spec.replicas`,
    /// `.spec.template.spec.containers[name="web"].image`, `.metadata.finalizers[="x"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|pe| write!(f, "{pe}"))
    }
}

impl FieldPath {
    /// A path of field names, e.g. `FieldPath::fields(&["spec", "replicas"])`.
    pub fn fields(names: &[&str]) -> FieldPath {
        FieldPath(
            names
                .iter()
                .map(|n| PathElement::Field((*n).to_string()))
                .collect(),
        )
    }

    /// This path extended by one element.
    /// Whether this is the path `.metadata`.
    pub fn is_metadata(&self) -> bool {
        matches!(self.0.as_slice(), [PathElement::Field(f)] if f == "metadata")
    }

    pub fn child(&self, pe: PathElement) -> FieldPath {
        let mut elements = self.0.clone();
        elements.push(pe);
        FieldPath(elements)
    }
}

/// A set of field paths, stored as a tree: `members` are the paths that end here, `children` the
/// subtrees. A node can be both (a list item that is owned and has owned fields: `.` in FieldsV1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Whether the set has no paths.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds `path` (the empty path is ignored: the root is never a member).
    pub fn insert(&mut self, path: &FieldPath) {
        self.insert_elements(&path.0);
    }

    fn insert_elements(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self
                .children
                .entry(first.clone())
                .or_default()
                .insert_elements(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &FieldPath) -> bool {
        let mut set = self;
        let Some((last, init)) = path.0.split_last() else {
            return false;
        };
        for pe in init {
            match set.children.get(pe) {
                Some(child) => set = child,
                None => return false,
            }
        }
        set.members.contains(last)
    }

    /// The subtree under `pe` (paths relative to it).
    pub fn with_prefix(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    /// Whether `pe` is a member at this level.
    pub(crate) fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.intersection(&other.members).cloned().collect();
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(pe.clone(), both);
                }
            }
        }
        out
    }

    /// Paths of `self` that are not paths of `other` (a member of `other` removes only that exact
    /// path, not what lies under it).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.difference(&other.members).cloned().collect();
        for (pe, child) in &self.children {
            let rest = match other.children.get(pe) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(pe.clone(), rest);
            }
        }
        out
    }

    /// [`FieldSet::difference`] in place; whether `self` changed. A write's changed fields
    /// rarely touch most managers' sets, which then stay as they are, uncopied.
    pub fn remove_all(&mut self, other: &FieldSet) -> bool {
        let members = self.members.len();
        if !other.members.is_empty() {
            self.members.retain(|pe| !other.members.contains(pe));
        }
        let mut changed = self.members.len() != members;
        for (pe, child) in &mut self.children {
            if let Some(theirs) = other.children.get(pe) {
                changed |= child.remove_all(theirs);
            }
        }
        let children = self.children.len();
        self.children.retain(|_, child| !child.is_empty());
        changed || self.children.len() != children
    }

    /// Paths of `self` that neither are paths of `other` nor lie under one.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        out.members = self.members.difference(&other.members).cloned().collect();
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let rest = match other.children.get(pe) {
                Some(theirs) => child.recursive_difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(pe.clone(), rest);
            }
        }
        out
    }

    /// The set plus every ancestor path that ends in a field name: owning `.spec.foo.bar` implies
    /// having a stake in `.spec` and `.spec.foo` (`EnsureNamedFieldsAreMembers`; map keys and
    /// list items are already members wherever they matter).
    pub fn with_field_ancestors(&self) -> FieldSet {
        let mut out = self.clone();
        for (pe, child) in &self.children {
            if matches!(pe, PathElement::Field(_)) && !child.is_empty() {
                out.members.insert(pe.clone());
            }
            out.children
                .insert(pe.clone(), child.with_field_ancestors());
        }
        out
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<FieldPath>) {
        // Members and children interleaved in element order, like the Go iterator.
        let mut elements: BTreeSet<&PathElement> = self.members.iter().collect();
        elements.extend(self.children.keys());
        for pe in elements {
            prefix.push(pe.clone());
            if self.members.contains(pe) {
                out.push(FieldPath(prefix.clone()));
            }
            if let Some(child) = self.children.get(pe) {
                child.collect_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Parses a `fieldsV1` document.
    pub fn from_fields_v1(fields: &Value) -> Result<FieldSet, FieldsV1Error> {
        let Value::Object(map) = fields else {
            return Err(FieldsV1Error("not a JSON object".to_string()));
        };
        let mut set = FieldSet::new();
        for (key, value) in map {
            if key == "." {
                continue;
            }
            let pe = PathElement::from_fields_v1_key(key)?;
            let Value::Object(inner) = value else {
                return Err(FieldsV1Error(format!("value of {key:?} is not an object")));
            };
            if inner.is_empty() || inner.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let child = FieldSet::from_fields_v1(value)?;
            if !child.is_empty() {
                set.children.insert(pe, child);
            }
        }
        Ok(set)
    }

    /// Serializes the set as a `fieldsV1` document.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        let mut elements: BTreeSet<&PathElement> = self.members.iter().collect();
        elements.extend(
            self.children
                .keys()
                .filter(|pe| !self.children[*pe].is_empty()),
        );
        for pe in elements {
            let member = self.members.contains(pe);
            let value = match self.children.get(pe).filter(|c| !c.is_empty()) {
                Some(child) => {
                    let Value::Object(mut inner) = child.to_fields_v1() else {
                        unreachable!("to_fields_v1 returns an object")
                    };
                    if member {
                        inner.insert(".".to_string(), Value::Object(Map::new()));
                    }
                    Value::Object(inner)
                }
                None => Value::Object(Map::new()),
            };
            map.insert(pe.to_fields_v1_key(), value);
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(fields: &[(&str, Value)]) -> PathElement {
        PathElement::Key(
            fields
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        )
    }

    // A FieldsV1 document as the apiserver writes it round-trips through the set.
    #[test]
    fn fields_v1_round_trip() {
        let doc = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }
                }}}
            },
            "f:metadata2": {"f:finalizers": {"v:\"example.com/x\"": {}}}
        });
        let set = FieldSet::from_fields_v1(&doc).unwrap();
        assert_eq!(set.to_fields_v1(), doc);
        assert!(set.has(&FieldPath::fields(&["spec", "replicas"])));
        assert!(set.has(&FieldPath::fields(&["metadata", "labels"])));
        assert!(!set.has(&FieldPath::fields(&["metadata"])));
        let web = FieldPath::fields(&["spec", "template", "spec", "containers"])
            .child(key(&[("name", json!("web"))]));
        assert!(set.has(&web));
        assert!(set.has(&web.child(PathElement::Field("image".into()))));
    }

    // Paths print like the apiserver's conflict messages.
    #[test]
    fn path_strings() {
        let path = FieldPath::fields(&["spec", "template", "spec", "containers"])
            .child(key(&[("name", json!("web"))]))
            .child(PathElement::Field("image".into()));
        assert_eq!(
            path.to_string(),
            ".spec.template.spec.containers[name=\"web\"].image"
        );
        let port = FieldPath::fields(&["spec", "ports"])
            .child(key(&[("port", json!(80)), ("protocol", json!("TCP"))]));
        assert_eq!(port.to_string(), ".spec.ports[port=80,protocol=\"TCP\"]");
        let fin =
            FieldPath::fields(&["metadata", "finalizers"]).child(PathElement::Value(json!("a/b")));
        assert_eq!(fin.to_string(), ".metadata.finalizers[=\"a/b\"]");
    }

    // Set algebra: difference is exact-path, recursive difference drops subtrees.
    #[test]
    fn set_operations() {
        let mut a = FieldSet::new();
        a.insert(&FieldPath::fields(&["spec", "a"]));
        a.insert(&FieldPath::fields(&["spec", "b", "c"]));
        let mut b = FieldSet::new();
        b.insert(&FieldPath::fields(&["spec", "b"]));
        b.insert(&FieldPath::fields(&["spec", "a"]));
        assert_eq!(
            a.difference(&b).paths(),
            vec![FieldPath::fields(&["spec", "b", "c"])]
        );
        assert!(a.recursive_difference(&b).is_empty());
        assert_eq!(
            a.intersection(&b).paths(),
            vec![FieldPath::fields(&["spec", "a"])]
        );
        assert_eq!(a.union(&b).paths().len(), 3);
        let ensured = a.with_field_ancestors();
        assert!(ensured.has(&FieldPath::fields(&["spec"])));
        assert!(ensured.has(&FieldPath::fields(&["spec", "b"])));
    }

    #[test]
    fn removing_in_place_is_the_difference_and_says_whether_anything_went() {
        let set = |paths: &[&[&str]]| {
            let mut s = FieldSet::new();
            for p in paths {
                s.insert(&FieldPath::fields(p));
            }
            s
        };
        let a = set(&[&["spec", "a"], &["spec", "b", "c"], &["status", "x"]]);
        for other in [
            set(&[&["spec", "b"], &["spec", "a"]]),
            set(&[&["status", "x"]]),
            set(&[&["spec", "b", "c"], &["status", "y"]]),
            set(&[&["metadata", "name"]]),
            FieldSet::new(),
            a.clone(),
        ] {
            let mut removed = a.clone();
            let changed = removed.remove_all(&other);
            assert_eq!(removed, a.difference(&other), "{other:?}");
            assert_eq!(changed, removed != a, "{other:?}");
        }
    }

    // Malformed documents are errors, not panics.
    #[test]
    fn malformed_fields_v1() {
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
    }
}
