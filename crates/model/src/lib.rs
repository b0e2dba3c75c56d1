//! bosun's model of desired state: Argo CD `Application`s (argoproj.io/v1alpha1) as users already
//! write them, and bosun's own configuration. Parsing and validation only; no I/O: callers read
//! files and environment variables and hand the text to this crate.
//!
//! - [`load::parse_applications`]: multi-document YAML → validated [`Application`]s.
//! - [`validate::validate_application`]: the semantic checks, for Applications from elsewhere.
//! - [`SyncOptions`], [`RetryStrategy::delays`]: typed views the sync engine acts on.
//! - [`argo`]: Argo CD's per-resource vocabulary (hooks, waves, delete policies, sync and
//!   compare options), the one place plan, apply and assess learn what an annotation means.
//! - [`config::BosunConfig`]: clusters and repository credentials (`bosun.yaml`), and
//!   [`serve`]: what `bosun serve` reads from it (Application sources, tokens, webhook secret).

pub mod analysis;
pub mod application;
pub mod argo;
pub mod commit_template;
pub mod config;
pub mod customizations;
pub mod duration;
pub mod error;
pub mod glob;
pub mod ignored;
pub mod image_update;
pub mod image_updater;
pub mod load;
pub mod registry_host;
pub mod retry;
pub mod rollout;
pub mod serve;
pub mod sync_options;
pub mod validate;
mod yaml;

pub use application::*;
pub use config::{
    AuthorConfig, BosunConfig, ClusterConfig, ClusterRef, ImagesConfig, PluginCommand,
    PluginConfig, RegistryConfig, RepositoryCredentials,
};
pub use duration::{DurationError, parse_backoff_duration, parse_go_duration};
pub use error::{ErrorKind, ModelError, describe_chain};
pub use ignored::IgnoredField;
pub use load::{Manifests, application_manifests, parse_applications, parse_manifests};
pub use retry::RetryDelays;
pub use serve::{
    ApplicationSourceConfig, MIN_REFRESH_INTERVAL, Role, ServerConfig, TokenConfig, WebhookConfig,
};
pub use sync_options::{DeletionMode, PropagationPolicy, SyncOption, SyncOptions};
pub use validate::validate_application;
