//! bosun's release side loop (DESIGN.md: "Release: Conventional Commits → next semantic version,
//! changelog, tag"): `bosun version`.
//!
//! A pure core — [`conventional`] (one message), [`profile`] (one tool's rules), [`bump`]
//! (commits → bump → next version), [`tags`] (which tags are releases), [`changelog`] (notes) —
//! unit-tested without a repository; [`repo`] is the only Git I/O; [`release`] joins them;
//! [`config`], [`github_output`] and [`cli`] are the edges.

pub mod bump;
pub mod changelog;
pub mod cli;
pub mod config;
pub mod conventional;
pub mod error;
pub mod github_output;
pub mod profile;
pub mod release;
pub mod repo;
pub mod tags;

pub use error::{Error, Result};
