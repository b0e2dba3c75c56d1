//! bosun's Render stage: an Application source at a commit becomes the list of Kubernetes objects
//! it declares.
//!
//! ```text
//!  Git commit ─► Source ─► [Render] ─► Plan ─► Apply ─► ...
//! ```
//!
//! Four kinds of source, detected as Argo CD detects them: a Helm chart (`Chart.yaml`, rendered
//! by the real `helm template`), a Kustomize root (a kustomization file, built by the real
//! kustomize in `kubectl kustomize`), a directory of YAML, JSON and Jsonnet files (Jsonnet
//! evaluated in-process), or a config management plugin (`source.plugin`, bosun.yaml's
//! `plugins`). bosun does not re-implement Helm or Kustomize.
//!
//! Safety: any failure — a tool error, a timeout, a missing path, unreadable output, or no objects
//! at all unless `allowEmpty` — is an error, never a partial or empty list, so the stages after
//! this one never apply half a render nor prune what a broken render left out.

mod build_env;
mod cache;
mod detect;
mod directory;
mod error;
mod helm;
mod jsonnet;
mod kustomize;
mod manifests;
mod plugin;
mod process;
mod renderer;
mod workdir;

pub use detect::RenderKind;
pub use error::RenderError;
pub use helm::ChartCredentials;
pub use renderer::{
    DEFAULT_CACHE_CAPACITY, DEFAULT_TIMEOUT, PulledChart, RefSource, RenderRequest, Rendered,
    Renderer, Tools, tools_dir,
};
