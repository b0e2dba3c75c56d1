//! Merge semantics of the Kubernetes API: strategic merge patch and server-side apply.
//!
//! - [`schema`]: which lists and maps of a kind merge how (list types, map types, SMP metadata).
//! - [`strategic`]: strategic merge patch.
//! - [`patch`]: one entry point for the three patch content types (JSON patch, JSON merge patch,
//!   strategic merge patch).
//! - [`fieldpath`]: field paths and sets, in the `FieldsV1` encoding of `managedFields`.
//! - [`managed`]: server-side apply and the managedFields bookkeeping of every other write.
//! - [`structured`]: the value operations of server-side apply (field set, compare, merge, remove).

pub mod fieldpath;
pub mod managed;
pub mod patch;
pub mod schema;
pub mod strategic;
pub mod structured;
