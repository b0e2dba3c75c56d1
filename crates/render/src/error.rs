//! Why a render failed. Every variant means the same thing to the caller: there is no desired
//! state for this commit, so nothing may be applied and nothing pruned. The message names the
//! cause as precisely as the tool or file gives it.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("source path {path:?} does not exist in the checkout")]
    PathMissing { path: String },

    #[error("source path {path:?} leaves the checkout")]
    PathEscapesCheckout { path: String },

    #[error("symlink {} points outside the checkout (to {})", link.display(), target.display())]
    SymlinkEscapesCheckout { link: PathBuf, target: PathBuf },

    #[error("source sets more than one of helm, kustomize, directory and plugin ({0}); choose one")]
    AmbiguousSourceType(String),

    #[error("{0}")]
    Unsupported(String),

    /// Argo CD's words (`Failed to evaluate jsonnet "file": ...`).
    #[error("failed to evaluate jsonnet {file:?}: {message}")]
    Jsonnet { file: String, message: String },

    #[error("{0}")]
    Plugin(String),

    #[error("helm value file {file:?} does not exist (relative to {})", if chart.starts_with('$') { format!("the root of source {chart}") } else { format!("the chart directory {chart:?}") })]
    ValueFileMissing { file: String, chart: String },

    #[error("helm value file {file:?} leaves the checkout")]
    ValueFileEscapesCheckout { file: String },

    #[error("{tool} not found at {} (set BOSUN_TOOLS or put it on PATH)", binary.display())]
    BinaryMissing { tool: String, binary: PathBuf },

    #[error("{command} did not finish within {}s and was killed", after.as_secs_f64())]
    Timeout { command: String, after: Duration },

    /// The tool's own diagnostics (helm names `template: chart/templates/x.yaml:7:20`, kustomize
    /// names the kustomization and resource) are kept verbatim, only trimmed.
    #[error("{command} failed ({status}): {stderr}")]
    ToolFailed {
        command: String,
        status: String,
        stderr: String,
    },

    /// `origin` is a file in the checkout, or the tool whose output it was; `document` counts from
    /// 1 in that stream; `template` is helm's `# Source:` template when there is one.
    #[error("{origin}{}{}: {message}",
        line.map(|l| format!(":{l}")).unwrap_or_default(),
        describe_document(*document, template.as_deref()))]
    InvalidManifest {
        origin: String,
        line: Option<u64>,
        document: Option<usize>,
        template: Option<String>,
        message: String,
    },

    #[error(
        "rendering {path:?} produced no objects; nothing is applied or pruned (set allowEmpty to accept an empty render)"
    )]
    Empty { path: String },

    #[error("{context}: {error}")]
    Io {
        context: String,
        error: std::io::Error,
    },
}

fn describe_document(document: Option<usize>, template: Option<&str>) -> String {
    match (document, template) {
        (Some(n), Some(s)) => format!(" (document {n}, {s})"),
        (Some(n), None) => format!(" (document {n})"),
        (None, Some(s)) => format!(" ({s})"),
        (None, None) => String::new(),
    }
}

impl RenderError {
    pub(crate) fn io(context: impl Into<String>, error: std::io::Error) -> Self {
        RenderError::Io {
            context: context.into(),
            error,
        }
    }
}
