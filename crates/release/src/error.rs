//! Every way `bosun version` can fail, with the context a user needs to fix it. Nothing to
//! release is *not* an error (see `release::Release::released`).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: not inside a Git repository", path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: Box<gix::Error>,
    },

    #[error("reading the Git repository: {context}")]
    Git {
        context: String,
        #[source]
        source: Box<gix::Error>,
    },

    #[error("{}: {message}", file.display())]
    ConfigSyntax { file: PathBuf, message: String },

    #[error("{}: field `{field}`: {message}", file.display())]
    Config {
        file: PathBuf,
        field: String,
        message: String,
    },

    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`git {command}` failed: {stderr}")]
    GitCommand { command: String, stderr: String },

    #[error(
        "{}: is a shallow clone, so the last release tag and the commits since it may be missing \
         and the version would be wrong; fetch the whole history and the tags with \
         `git fetch --unshallow --tags` (GitHub Actions: `fetch-depth: 0` in actions/checkout), \
         or pass --allow-shallow to use what is there",
        root.display()
    )]
    Shallow { root: PathBuf },

    #[error(
        "no tag has the prefix `{prefix}`, but the repository has release tags with the prefixes \
         {seen}; set --tag-prefix or `tag_prefix` in .bosun/release.yaml to the prefix of its \
         releases (a new component of a monorepo belongs under `components:`)"
    )]
    UnknownTagPrefix { prefix: String, seen: String },

    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub(crate) fn git(context: impl Into<String>, source: impl Into<gix::Error>) -> Error {
        Error::Git {
            context: context.into(),
            source: Box::new(source.into()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
