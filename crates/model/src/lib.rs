//! bosun's model of desired state: Argo CD `Application`s (argoproj.io/v1alpha1) as users already
//! write them, and bosun's own configuration. Parsing and validation only; no I/O.

pub mod application;

pub use application::*;
