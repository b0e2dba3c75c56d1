//! Image automation: a new image tag that a policy allows becomes a Git commit.
//!
//! ```text
//!  registry tags ─► policy (semver | newest-build | digest | alphabetical) ─► edit (byte-exact) ─► commit + push
//! ```

pub mod edit;
pub mod layout;
pub mod metrics;
pub mod policy;
pub mod registry;
pub mod updater;
pub mod write_back;
