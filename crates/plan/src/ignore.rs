//! `spec.ignoreDifferences`: parts of an object that are not compared, as Argo CD defines them.
//!
//! A rule applies to an object when its group and kind match (shell-style globs, `*` and `?`, as
//! Argo CD's `glob.Match`; an omitted group means the core group) and its name and namespace,
//! when given, are equal. Then:
//! - `jsonPointers` (RFC 6901) are removed from both sides;
//! - `jqPathExpressions` are removed from both sides as Argo CD does, by running
//!   `del(<expression>)`: here the paths of `path(<expression>)` are collected and deleted
//!   together, which is what `del` is defined as. An expression that fails on an object (for
//!   example iterating a field the object does not have) removes nothing, as in Argo CD;
//! - `managedFieldsManagers`: see [`crate::managed_fields`].

use bosun_model::ResourceIgnoreDifferences;
use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::key::ResourceKey;

/// The ignoreDifferences of one Application, jq expressions compiled once.
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

struct Rule {
    source: ResourceIgnoreDifferences,
    pointers: Vec<Vec<String>>,
    jq: Vec<jaq_core::Filter<JustLut<Val>>>,
}

impl IgnoreRules {
    /// Checks and compiles every rule; a bad pointer or jq expression is an error naming it.
    pub fn new(rules: &[ResourceIgnoreDifferences]) -> Result<IgnoreRules> {
        let rules = rules
            .iter()
            .map(|rule| {
                let pointers = rule
                    .json_pointers
                    .iter()
                    .map(|p| {
                        parse_pointer(p).ok_or_else(|| Error::JsonPointer {
                            kind: rule.kind.clone(),
                            pointer: p.clone(),
                        })
                    })
                    .collect::<Result<_>>()?;
                let jq = rule
                    .jq_path_expressions
                    .iter()
                    .map(|e| compile_paths(e, &rule.kind))
                    .collect::<Result<_>>()?;
                Ok(Rule {
                    source: rule.clone(),
                    pointers,
                    jq,
                })
            })
            .collect::<Result<_>>()?;
        Ok(IgnoreRules { rules })
    }

    fn matching<'a>(&'a self, key: &'a ResourceKey) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |rule| {
            let r = &rule.source;
            glob(r.group.as_deref().unwrap_or(""), &key.group)
                && glob(&r.kind, &key.kind)
                && r.name
                    .as_deref()
                    .is_none_or(|n| n.is_empty() || n == key.name)
                && r.namespace
                    .as_deref()
                    .is_none_or(|n| n.is_empty() || Some(n) == key.namespace.as_deref())
        })
    }

    /// The managers whose live fields are trusted for `key` (managedFieldsManagers).
    pub fn managers_for(&self, key: &ResourceKey) -> Vec<String> {
        let mut managers: Vec<String> = self
            .matching(key)
            .flat_map(|rule| rule.source.managed_fields_managers.iter().cloned())
            .collect();
        managers.sort();
        managers.dedup();
        managers
    }

    /// Removes the ignored JSON pointers and jq paths that apply to `key` from `object`.
    pub fn remove_ignored(&self, key: &ResourceKey, object: &mut Value) {
        for rule in self.matching(key) {
            for pointer in &rule.pointers {
                remove_path(
                    object,
                    &pointer
                        .iter()
                        .map(|s| Segment::Token(s))
                        .collect::<Vec<_>>(),
                );
            }
            for filter in &rule.jq {
                let Some(mut paths) = run_paths(filter, object) else {
                    continue;
                };
                // Later positions first, so deleting an array item keeps the others' indices.
                paths.sort_by(|a, b| compare_paths(b, a));
                paths.dedup();
                for path in paths {
                    let segments: Vec<Segment> = path.iter().filter_map(Segment::from_jq).collect();
                    if segments.len() == path.len() && !segments.is_empty() {
                        remove_path(object, &segments);
                    }
                }
            }
        }
    }
}

/// Compiles `[path(<expression>)]`: one array of all the paths the expression selects.
fn compile_paths(expression: &str, kind: &str) -> Result<jaq_core::Filter<JustLut<Val>>> {
    let failed = |reason: String| Error::JqExpression {
        kind: kind.to_owned(),
        expression: expression.to_owned(),
        reason,
    };
    let code = format!("[path({expression})]");
    let program = File {
        code: code.as_str(),
        path: (),
    };
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let arena = Arena::default();
    let modules = Loader::new(defs).load(&arena, program).map_err(|errors| {
        failed(format!(
            "does not parse: {:?}",
            errors.into_iter().map(|(_, e)| e).collect::<Vec<_>>()
        ))
    })?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let undefined: Vec<String> = errors
                .into_iter()
                .flat_map(|(_, errs)| errs)
                .map(|(name, what)| format!("{name} ({what:?})"))
                .collect();
            failed(format!("undefined: {}", undefined.join(", ")))
        })
}

/// The paths `filter` selects in `object`; `None` when the expression fails on it.
fn run_paths(filter: &jaq_core::Filter<JustLut<Val>>, object: &Value) -> Option<Vec<Vec<Value>>> {
    let text = serde_json::to_vec(object).ok()?;
    let input = jaq_json::read::parse_single(&text).ok()?;
    let ctx = Ctx::<JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = filter.id.run((ctx, input)).map(unwrap_valr);
    match out.next()? {
        Ok(paths) => serde_json::from_str(&paths.to_string()).ok(),
        Err(_) => {
            // The error is not logged: jq errors quote values, and this may be a Secret.
            tracing::debug!("jq path expression failed on an object; nothing ignored there");
            None
        }
    }
}

/// One step of a path into a JSON document.
enum Segment<'a> {
    /// A JSON pointer token: an object key, or an array index when the node is an array.
    Token(&'a str),
    Key(&'a str),
    Index(i64),
}

impl<'a> Segment<'a> {
    fn from_jq(value: &'a Value) -> Option<Segment<'a>> {
        match value {
            Value::String(key) => Some(Segment::Key(key)),
            Value::Number(n) => n.as_i64().map(Segment::Index),
            _ => None,
        }
    }
}

/// Removes the node at `path`; a path that does not exist removes nothing.
fn remove_path(root: &mut Value, path: &[Segment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for segment in parents {
        let next = match (segment, node) {
            (Segment::Token(k) | Segment::Key(k), Value::Object(map)) => map.get_mut(*k),
            (Segment::Token(t), Value::Array(items)) => {
                t.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            }
            (Segment::Index(i), Value::Array(items)) => {
                let len = items.len();
                index(*i, len).and_then(|i| items.get_mut(i))
            }
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    match (last, node) {
        (Segment::Token(k) | Segment::Key(k), Value::Object(map)) => {
            map.remove(*k);
        }
        (Segment::Token(t), Value::Array(items)) => {
            if let Some(i) = t.parse::<usize>().ok().filter(|i| *i < items.len()) {
                items.remove(i);
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(i) = index(*i, items.len()) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// A jq index (negative counts from the end) as a position in a list of `len` items.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    usize::try_from(i).ok().filter(|i| *i < len)
}

/// Orders jq paths element by element (numbers by value), so reversing it deletes later array
/// items before earlier ones.
fn compare_paths(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (Value::Number(x), Value::Number(y)) => x.as_i64().cmp(&y.as_i64()),
            _ => x.to_string().cmp(&y.to_string()),
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// RFC 6901 tokens of `pointer` (`~1` → `/`, `~0` → `~`); `None` if it is not a pointer.
fn parse_pointer(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// Shell-style match with `*` (any run) and `?` (one character), as Argo CD matches group and
/// kind.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(kind: &str) -> ResourceIgnoreDifferences {
        ResourceIgnoreDifferences {
            group: Some("apps".into()),
            kind: kind.into(),
            name: None,
            namespace: None,
            json_pointers: vec![],
            jq_path_expressions: vec![],
            managed_fields_managers: vec![],
        }
    }

    fn key() -> ResourceKey {
        ResourceKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("ns".into()),
            name: "web".into(),
        }
    }

    #[test]
    fn jq_select_deletes_selected_items_only() {
        let mut r = rule("Deployment");
        r.jq_path_expressions =
            vec![r#".spec.template.spec.initContainers[] | select(.name == "injected")"#.into()];
        let rules = IgnoreRules::new(&[r]).unwrap();
        let mut object = json!({"spec": {"template": {"spec": {"initContainers": [
            {"name": "injected"}, {"name": "mine"}, {"name": "injected"}
        ]}}}});
        rules.remove_ignored(&key(), &mut object);
        assert_eq!(
            object,
            json!({"spec": {"template": {"spec": {"initContainers": [{"name": "mine"}]}}}})
        );
    }

    #[test]
    fn jq_failure_removes_nothing_and_bad_syntax_is_an_error() {
        let mut r = rule("*");
        r.jq_path_expressions = vec![".spec.missing[] | .x".into()];
        let rules = IgnoreRules::new(&[r]).unwrap();
        let mut object = json!({"spec": {"replicas": 1}});
        rules.remove_ignored(&key(), &mut object);
        assert_eq!(object, json!({"spec": {"replicas": 1}}));

        let mut bad = rule("Deployment");
        bad.jq_path_expressions = vec![".spec | select(".into()];
        assert!(matches!(
            IgnoreRules::new(&[bad]),
            Err(Error::JqExpression { .. })
        ));
    }

    #[test]
    fn json_pointer_with_escapes_and_rule_matching() {
        let mut r = rule("Deploy*");
        r.json_pointers = vec!["/metadata/annotations/a~1b".into(), "/spec/list/1".into()];
        r.namespace = Some("ns".into());
        let rules = IgnoreRules::new(&[r]).unwrap();
        let original = json!({"metadata": {"annotations": {"a/b": "x", "c": "y"}}, "spec": {"list": [0, 1, 2]}});
        let mut object = original.clone();
        rules.remove_ignored(&key(), &mut object);
        assert_eq!(
            object,
            json!({"metadata": {"annotations": {"c": "y"}}, "spec": {"list": [0, 2]}})
        );

        let mut other = key();
        other.namespace = Some("elsewhere".into());
        let mut untouched = original.clone();
        rules.remove_ignored(&other, &mut untouched);
        assert_eq!(untouched, original);

        let mut core = rule("Deployment");
        core.group = None;
        core.json_pointers = vec!["/spec".into()];
        let mut apps_object = original.clone();
        IgnoreRules::new(&[core])
            .unwrap()
            .remove_ignored(&key(), &mut apps_object);
        assert_eq!(
            apps_object, original,
            "an omitted group means the core group only"
        );

        let mut bad = rule("Deployment");
        bad.json_pointers = vec!["spec/replicas".into()];
        assert!(matches!(
            IgnoreRules::new(&[bad]),
            Err(Error::JsonPointer { .. })
        ));
    }

    #[test]
    fn globs() {
        assert!(glob("*", "Deployment"));
        assert!(glob("Dep?oy*", "Deployment"));
        assert!(glob("", ""));
        assert!(!glob("", "apps"));
        assert!(!glob("Service", "ServiceAccount"));
    }
}
