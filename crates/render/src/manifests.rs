//! Turning a YAML (or JSON) manifest stream into Kubernetes objects: the last step of every
//! render kind, so that a file in a directory, `kubectl kustomize` output and `helm template`
//! output are held to the same rules and their errors name the same things.

use serde_json::Value;
use serde_saphyr::Spanned;

use crate::error::RenderError;

/// One document of a stream, with the line it starts on so errors can point at it.
pub(crate) struct Document {
    pub value: Value,
    pub line: u64,
    pub index: usize,
}

/// Rendered output is machine-written and can be large (CRD schemas run to megabytes), so the
/// budget is wider than serde-saphyr's defaults for hand-written config, while still bounded.
fn stream_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 50_000,
            max_nodes: 20_000_000,
            max_events: 80_000_000,
            max_depth: 256,
        },
    }
}

/// Parses every non-empty document of `text`. `origin` names the stream in errors (a file path or
/// the tool that printed it).
pub(crate) fn parse_stream(text: &str, origin: &str) -> Result<Vec<Document>, RenderError> {
    let docs: Vec<Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(text, stream_options()).map_err(|err| {
            let line = err.location().map(|l| l.line());
            RenderError::InvalidManifest {
                origin: origin.to_string(),
                line,
                document: None,
                template: line.and_then(|l| helm_source_before(text, l)),
                message: err.without_snippet().to_string(),
            }
        })?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.value.is_null())
        .enumerate()
        .map(|(i, d)| Document {
            value: d.value,
            line: d.referenced.line(),
            index: i + 1,
        })
        .collect())
}

/// Whether a value is shaped like a Kubernetes object (string `apiVersion` and `kind`).
pub(crate) fn is_object(value: &Value) -> bool {
    value.get("apiVersion").is_some_and(Value::is_string)
        && value.get("kind").is_some_and(Value::is_string)
}

/// Converts parsed documents into objects in order, expanding `kind: List` into its items as Argo
/// CD does. Any document that is not an object is an error naming it: a half-understood stream
/// must not be applied.
pub(crate) fn into_objects(
    docs: Vec<Document>,
    origin: &str,
    text: &str,
) -> Result<Vec<Value>, RenderError> {
    let mut objects = Vec::with_capacity(docs.len());
    for doc in docs {
        let invalid = |message: String| RenderError::InvalidManifest {
            origin: origin.to_string(),
            line: Some(doc.line),
            document: Some(doc.index),
            template: helm_source_before(text, doc.line),
            message,
        };
        if !is_object(&doc.value) {
            return Err(invalid(
                "not a Kubernetes object (needs string apiVersion and kind)".into(),
            ));
        }
        if is_list(&doc.value) {
            let Some(Value::Array(items)) = doc.value.get("items").cloned() else {
                return Err(invalid("kind List without an items array".into()));
            };
            for (n, item) in items.into_iter().enumerate() {
                if !is_object(&item) {
                    return Err(invalid(format!(
                        "List item {} is not a Kubernetes object (needs string apiVersion and kind)",
                        n + 1
                    )));
                }
                objects.push(item);
            }
        } else {
            objects.push(doc.value);
        }
    }
    Ok(objects)
}

/// `kind: List` and the typed lists (`ConfigMapList`, ...) that `kubectl get -o yaml` writes.
fn is_list(value: &Value) -> bool {
    value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && value.get("items").is_some()
}

/// helm prefixes every document with `# Source: chart/templates/file.yaml`; the nearest one at or
/// above `line` names the template an error came from.
fn helm_source_before(text: &str, line: u64) -> Option<String> {
    let upto = usize::try_from(line).ok()?;
    text.lines()
        .take(upto)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(|l| l.strip_prefix("# Source: "))
        .map(|s| format!("# Source: {}", s.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_stream_skips_empty_documents_and_expands_lists() {
        let text = "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n- {apiVersion: v1, kind: Secret, metadata: {name: c}}\n";
        let docs = parse_stream(text, "t.yaml").unwrap();
        let objects = into_objects(docs, "t.yaml", text).unwrap();
        let names: Vec<_> = objects
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn syntax_error_names_origin_and_line() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n";
        let err = parse_stream(text, "dir/cm.yaml").err().unwrap();
        let message = err.to_string();
        assert!(message.starts_with("dir/cm.yaml:"), "{message}");
        match err {
            RenderError::InvalidManifest {
                line: Some(line), ..
            } => assert!((4..=5).contains(&line)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_object_document_is_named_with_its_helm_source() {
        let text = "---\n# Source: app/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\n---\n# Source: app/templates/b.yaml\njust: data\n";
        let docs = parse_stream(text, "helm template").unwrap();
        let message = into_objects(docs, "helm template", text)
            .unwrap_err()
            .to_string();
        assert!(message.contains("document 2"), "{message}");
        assert!(message.contains("app/templates/b.yaml"), "{message}");
    }
}
