//! The one error type of the model: what is wrong, and where (file, document, field path, line).

use std::fmt;

/// What kind of problem a [`ModelError`] reports, for callers that act on it (the CLI falls back
/// to kubeconfig lookups on [`ErrorKind::UnknownCluster`], for example).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not well-formed YAML (or breaks a resource budget).
    Syntax,
    /// The YAML does not fit the schema: unknown field, missing field, wrong type.
    Schema,
    /// A document is not an `argoproj.io/v1alpha1` `Application`.
    NotAnApplication,
    /// The fields fit the schema but their values are not valid (semantic validation).
    Invalid,
    /// A destination names a cluster that the bosun config does not know.
    UnknownCluster,
}

/// An error in an Application manifest or the bosun config.
///
/// Displays as `apps.yaml: document 2: spec.destination: exactly one of server or name must be
/// set`, leaving out the parts that are not known, and ending in `(line L, column C)` when the
/// YAML parser located the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ModelError {
    /// The file name as the caller gave it; empty when the input did not come from a file.
    pub file: String,
    /// 1-based index of the document in a multi-document file, counting non-empty documents.
    pub document: Option<u32>,
    /// Field path in the document, such as `spec.sources[1].repoURL`; empty for the whole document.
    pub path: String,
    pub kind: ErrorKind,
    pub message: String,
    /// 1-based line and column in the file, when known.
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl ModelError {
    /// An error at `path` without file context; see [`ModelError::in_document`].
    pub fn new(kind: ErrorKind, path: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError {
            file: String::new(),
            document: None,
            path: path.into(),
            kind,
            message: message.into(),
            line: None,
            column: None,
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, path, message)
    }

    /// The same error, located in `file` (and document `document`, when the file has several).
    pub fn in_document(mut self, file: &str, document: Option<usize>) -> Self {
        self.file = file.to_string();
        self.document = document.map(saturating_u32);
        self
    }

    /// The same error with its path put under `prefix` (`spec` + `source.path` → `spec.source.path`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = join_path(prefix, &self.path);
        self
    }
}

pub(crate) fn saturating_u32(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

pub(crate) fn join_path(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) if rest.starts_with('[') => format!("{prefix}{rest}"),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        if let Some(document) = self.document {
            write!(f, "document {document}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, " (line {line}, column {column})"),
            (Some(line), None) => write!(f, " (line {line})"),
            _ => Ok(()),
        }
    }
}

/// An error's text followed by those of its causes that it does not already contain.
///
/// bosun's convention for errors: a message embeds its cause's text, and an error whose message
/// does so does not also return the cause from `source()` (the Rust API guidelines' "either,
/// never both"), so `{e}` is the whole story and printing the chain repeats nothing. Errors of
/// other crates differ: kube's and hyper's do both, and hyper's top message ("client error
/// (Connect)") leaves the real cause ("Connection refused") to the chain. This joins the chain
/// with `: ` and leaves out a cause whose text is already in the message, so that every front
/// end (the CLI's last line, a condition's message) says each cause exactly once.
pub fn describe_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = e.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_document_and_path() {
        let e = ModelError::invalid(
            "spec.destination",
            "exactly one of server or name must be set",
        )
        .in_document("apps.yaml", Some(2));
        assert_eq!(
            e.to_string(),
            "apps.yaml: document 2: spec.destination: exactly one of server or name must be set"
        );
    }

    #[test]
    fn display_leaves_out_unknown_parts_and_adds_the_line() {
        let mut e = ModelError::new(ErrorKind::Syntax, "", "unexpected end of file");
        assert_eq!(e.to_string(), "unexpected end of file");
        e.line = Some(3);
        e.column = Some(7);
        e.file = "a.yaml".into();
        assert_eq!(
            e.to_string(),
            "a.yaml: unexpected end of file (line 3, column 7)"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    struct Chained {
        message: String,
        #[source]
        source: Option<Box<Chained>>,
    }

    fn chained(messages: &[&str]) -> Chained {
        messages
            .iter()
            .rev()
            .fold(None, |source, message| {
                Some(Chained {
                    message: message.to_string(),
                    source: source.map(Box::new),
                })
            })
            .unwrap()
    }

    #[test]
    fn a_chain_says_each_cause_once() {
        // kube's ServiceError embeds hyper's text and returns it as its source too.
        let e = chained(&[
            "ServiceError: client error (Connect)",
            "client error (Connect)",
            "tcp connect error: Connection refused (os error 111)",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            describe_chain(&e),
            "ServiceError: client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
        assert_eq!(describe_chain(&chained(&["a", "b"])), "a: b");
    }

    #[test]
    fn paths_join_with_dots_and_brackets() {
        assert_eq!(join_path("spec", "source.path"), "spec.source.path");
        assert_eq!(
            join_path("spec.sources", "[1].path"),
            "spec.sources[1].path"
        );
        assert_eq!(join_path("", "x"), "x");
        assert_eq!(join_path("x", ""), "x");
    }
}
