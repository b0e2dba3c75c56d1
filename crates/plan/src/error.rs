//! Errors of the Plan stage, each naming the object and the call that failed.

use crate::key::ResourceKey;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A message that holds a kube error's text (the server's words) does not also return it from
/// `source()`: printing the chain would say it twice.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A desired manifest that cannot be sent to a cluster at all.
    #[error("{key}: invalid object: {reason}")]
    InvalidObject { key: ResourceKey, reason: String },

    /// Listing the API groups and resources of the cluster failed.
    #[error("API discovery failed: {}", server_message(.0))]
    Discovery(kube::Error),

    /// The cluster does not serve this apiVersion/kind, even after refreshing discovery.
    #[error("{key}: the cluster does not serve {api_version} {}", key.kind)]
    UnknownKind {
        key: ResourceKey,
        api_version: String,
    },

    /// The server rejected the server-side-apply dry run; the message is the server's Status
    /// message.
    #[error("{key}: server-side apply dry run rejected: {}", server_message(cause))]
    DryRun {
        key: ResourceKey,
        cause: Box<kube::Error>,
    },

    /// Reading the live object failed for a reason other than "not found".
    #[error("{key}: reading the live object failed: {}", server_message(cause))]
    Get {
        key: ResourceKey,
        cause: Box<kube::Error>,
    },

    /// Listing one resource type while looking for tracked objects failed.
    #[error(
        "listing {resource} labelled for app {app:?} failed: {}",
        server_message(cause)
    )]
    List {
        resource: String,
        app: String,
        cause: Box<kube::Error>,
    },

    /// A jqPathExpressions entry that does not parse or compile.
    #[error(
        "ignoreDifferences for kind {kind}: invalid jq path expression {expression:?}: {reason}"
    )]
    JqExpression {
        kind: String,
        expression: String,
        reason: String,
    },

    /// A jsonPointers entry that is not an RFC 6901 pointer.
    #[error(
        "ignoreDifferences for kind {kind}: invalid JSON pointer {pointer:?}: it must be empty or start with '/'"
    )]
    JsonPointer { kind: String, pointer: String },
}

impl Error {
    /// The server's message (its Status message) when the error came from a call to it.
    pub fn server_message(&self) -> Option<String> {
        match self {
            Error::DryRun { cause, .. } | Error::Get { cause, .. } | Error::List { cause, .. } => {
                Some(server_message(cause))
            }
            _ => None,
        }
    }
}

/// The server's own words for a failed call: the Status message when there is one, else kube's
/// message with its causes (a refused connection says so).
pub(crate) fn server_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => bosun_model::describe_chain(other),
    }
}
