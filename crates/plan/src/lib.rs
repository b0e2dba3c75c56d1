//! bosun's Plan stage: what a sync would change, without changing anything.
//!
//! Each desired object goes through a server-side-apply dry run with bosun's field manager
//! ([`live::predict`]); the prediction and the live object are normalised ([`normalize`]), the
//! Application's `ignoreDifferences` are taken out ([`ignore`], [`managed_fields`]) and Secret
//! values are masked ([`mask`]) before anything is shown ([`text`]). Live objects tracked as the
//! Application's ([`tracking`]) that are no longer desired are reported for pruning.
//!
//! - [`plan::plan`]: the whole comparison for one Application → [`Plan`].
//! - [`text::print`] / [`text::render`] / [`text::to_json`]: `bosun diff` output.
//! - [`tracking::stamp`] / [`tracking::is_tracked_by`] / [`tracking::find_tracked`]: ownership,
//!   shared with the Apply stage's prune.

pub mod error;
pub mod ignore;
pub mod key;
pub mod live;
pub mod managed_fields;
pub mod mask;
pub mod memo;
pub mod normalize;
pub mod plan;
pub mod resolve;
pub mod text;
pub mod tracking;

pub use error::{Error, Result};
pub use ignore::IgnoreRules;
pub use key::ResourceKey;
pub use live::{Predicted, Prepared};
pub use memo::DryRunMemo;
pub use plan::{Plan, ResourceDiff, SyncState, plan, plan_with_tracked};
pub use resolve::{Resolved, Resolver};
