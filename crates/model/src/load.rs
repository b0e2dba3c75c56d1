//! Reading Application manifests: a file's text, possibly several `---`-separated documents, into
//! validated [`Application`]s. The caller reads the files (a file, or each file of a directory).

use serde::Deserialize;

use crate::application::{API_VERSION, Application, KIND};
use crate::error::{ErrorKind, ModelError};
use crate::image_updater::{self, ImageUpdaterResource};
use crate::validate::validate_application;
use crate::yaml;

/// Parses and validates every Application in `text`, the contents of `file` (used in errors only).
///
/// Documents are counted from 1, leaving out empty ones (nothing but comments, blank lines or
/// directives), so "document 2" is the second document that has content. Every document must be
/// an `argoproj.io/v1alpha1` `Application`; anything else is an error naming its kind. Unknown
/// fields, wrong types and invalid values are errors naming the field path and, when the parser
/// knows it, the line. The first problem found is returned.
///
/// Argo CD Image Updater's `ImageUpdater` documents beside the Applications are read too (see
/// [`parse_manifests`]) and left out here.
pub fn parse_applications(text: &str, file: &str) -> Result<Vec<Application>, ModelError> {
    parse_manifests(text, file).map(|m| m.applications)
}

/// What a file of Application manifests holds: Applications, and the `ImageUpdater` objects
/// that configure their image updates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifests {
    pub applications: Vec<Application>,
    pub image_updaters: Vec<ImageUpdaterResource>,
}

/// [`parse_applications`], keeping the `ImageUpdater` documents too.
pub fn parse_manifests(text: &str, file: &str) -> Result<Manifests, ModelError> {
    let mut manifests = Manifests::default();
    for (index, document) in split_documents(text).into_iter().enumerate() {
        let number = index + 1;
        let at = |e: ModelError| e.in_document(file, Some(number));
        let type_meta: TypeMeta = yaml::decode(document.text, document.line_offset).map_err(at)?;
        if type_meta.kind.as_deref() == Some(image_updater::KIND) {
            manifests.image_updaters.push(image_updater::parse_document(
                document.text,
                document.line_offset,
                file,
                number,
            )?);
            continue;
        }
        check_type(&type_meta).map_err(at)?;
        let application: Application =
            yaml::decode(document.text, document.line_offset).map_err(at)?;
        validate_application(&application).map_err(at)?;
        manifests.applications.push(application);
    }
    Ok(manifests)
}

/// The Application manifests in `text` as they are written (JSON values, for an API that keeps
/// them), once [`parse_applications`] has found every one of them valid.
pub fn application_manifests(text: &str, file: &str) -> Result<Vec<serde_json::Value>, ModelError> {
    parse_applications(text, file)?;
    split_documents(text)
        .into_iter()
        .enumerate()
        .map(|(index, document)| {
            yaml::decode(document.text, document.line_offset)
                .map_err(|e| e.in_document(file, Some(index + 1)))
        })
        .collect()
}

/// `apiVersion` and `kind`, read first so that a Rollout in the file is reported as "not an
/// Application" instead of as a list of unknown fields.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    api_version: Option<String>,
    kind: Option<String>,
}

fn check_type(type_meta: &TypeMeta) -> Result<(), ModelError> {
    let not_an_application =
        |path: &str, message: String| ModelError::new(ErrorKind::NotAnApplication, path, message);
    match type_meta.kind.as_deref() {
        None | Some("") => {
            return Err(not_an_application(
                "kind",
                format!("missing; expected `{KIND}`"),
            ));
        }
        Some(KIND) => {}
        Some(other) => {
            return Err(not_an_application(
                "kind",
                format!(
                    "`{other}` is not an Argo CD Application; only `{API_VERSION}` `{KIND}` documents are read here"
                ),
            ));
        }
    }
    match type_meta.api_version.as_deref() {
        Some(API_VERSION) => Ok(()),
        None | Some("") => Err(not_an_application(
            "apiVersion",
            format!("missing; expected `{API_VERSION}`"),
        )),
        Some(other) => Err(not_an_application(
            "apiVersion",
            format!("`{other}` is not supported; expected `{API_VERSION}`"),
        )),
    }
}

/// One YAML document of a file: its text (with its own `---` line, if any) and the number of lines
/// before it in the file.
#[derive(Debug, PartialEq)]
struct Document<'a> {
    text: &'a str,
    line_offset: u64,
}

/// Splits a YAML stream into its non-empty documents.
///
/// YAML forbids a line that starts with `---` or `...` followed by a space or the line end anywhere
/// inside a document, including inside scalars, so such lines always separate documents. Splitting
/// here, rather than in the parser, lets each document be decoded on its own: errors then get the
/// document number, and empty documents can be counted out.
fn split_documents(text: &str) -> Vec<Document<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut documents = Vec::new();
    let mut start = 0;
    let mut start_line = 0u64;
    let mut offset = 0;
    for (line_number, line) in (0u64..).zip(text.split_inclusive('\n')) {
        if is_marker(line, "---") && offset > start {
            documents.push(Document {
                text: &text[start..offset],
                line_offset: start_line,
            });
            start = offset;
            start_line = line_number;
        }
        offset += line.len();
        if is_marker(line, "...") {
            documents.push(Document {
                text: &text[start..offset],
                line_offset: start_line,
            });
            start = offset;
            start_line = line_number + 1;
        }
    }
    documents.push(Document {
        text: &text[start..],
        line_offset: start_line,
    });
    documents.retain(|d| has_content(d.text));
    documents
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace()))
}

fn has_content(document: &str) -> bool {
    document.lines().any(|line| {
        let line = if is_marker(line, "---") || is_marker(line, "...") {
            &line[3..]
        } else {
            line
        };
        let line = line.trim();
        !(line.is_empty() || line.starts_with('#') || line.starts_with('%'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
spec:
  source:
    repoURL: https://github.com/org/repo.git
    path: guestbook
  destination:
    server: https://kubernetes.default.svc
    namespace: guestbook
";

    fn texts(text: &str) -> Vec<(&str, u64)> {
        split_documents(text)
            .into_iter()
            .map(|d| (d.text, d.line_offset))
            .collect()
    }

    #[test]
    fn splits_on_document_markers_and_drops_empty_documents() {
        let text = "# header\n---\na: 1\n---\n# nothing\n---\n\n--- # c\nb: 2\n...\n# trailer\n";
        assert_eq!(
            texts(text),
            vec![("---\na: 1\n", 1), ("--- # c\nb: 2\n...\n", 7)]
        );
    }

    #[test]
    fn markers_need_a_space_or_line_end_after_them() {
        assert_eq!(texts("a: ---x\n----\n"), vec![("a: ---x\n----\n", 0)]);
        assert_eq!(texts("--- {a: 1}\n"), vec![("--- {a: 1}\n", 0)]);
        assert_eq!(texts("a: 1\r\n---\r\nb: 2\r\n").len(), 2);
        assert!(texts("").is_empty());
        assert!(texts("%YAML 1.2\n---\n").is_empty());
    }

    #[test]
    fn reads_several_applications() {
        let text = format!(
            "---\n{APP}---\n{}",
            APP.replace("guestbook\nspec", "second\nspec")
        );
        let apps = parse_applications(&text, "apps.yaml").unwrap();
        let names: Vec<_> = apps.iter().map(|a| a.metadata.name.as_str()).collect();
        assert_eq!(names, ["guestbook", "second"]);
    }

    #[test]
    fn a_typo_names_file_document_path_and_line() {
        let bad = APP.replace("    path: guestbook", "    targetRevison: main");
        let text = format!("{APP}---\n{bad}");
        let e = parse_applications(&text, "bad.yaml").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Schema);
        assert_eq!(e.document, Some(2));
        assert_eq!(e.path, "spec.source.targetRevison");
        assert_eq!(e.line, Some(20));
        assert!(
            e.to_string().starts_with(
                "bad.yaml: document 2: spec.source.targetRevison: unknown field `targetRevison`"
            ),
            "{e}"
        );
    }

    #[test]
    fn other_kinds_are_named() {
        let rollout = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\n";
        let e = parse_applications(&format!("{APP}---\n{rollout}"), "mixed.yaml").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotAnApplication);
        assert_eq!(
            e.to_string(),
            "mixed.yaml: document 2: kind: `Rollout` is not an Argo CD Application; only `argoproj.io/v1alpha1` `Application` documents are read here"
        );
        let e = parse_applications("metadata: {}\n", "x.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.yaml: document 1: kind: missing; expected `Application`"
        );
        let e = parse_applications(&APP.replace("v1alpha1", "v1beta1"), "x.yaml").unwrap_err();
        assert_eq!(e.path, "apiVersion");
    }

    #[test]
    fn semantic_errors_get_the_file_and_document() {
        let text = APP.replace(
            "    server: https://kubernetes.default.svc\n",
            "    server: https://kubernetes.default.svc\n    name: in-cluster\n",
        );
        let e = parse_applications(&text, "apps.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "apps.yaml: document 1: spec.destination: exactly one of server or name must be set"
        );
    }

    #[test]
    fn a_file_of_comments_has_no_applications() {
        assert_eq!(
            parse_applications("# nothing yet\n", "empty.yaml"),
            Ok(vec![])
        );
    }

    #[test]
    fn a_document_that_is_not_a_mapping_is_an_error() {
        let e = parse_applications("- a\n- b\n", "list.yaml").unwrap_err();
        assert_eq!(e.document, Some(1));
        assert_eq!(e.line, Some(1));
    }
}
