//! `bosun serve`'s HTTP front: the API ([`api`]), bearer tokens ([`auth`]), GitHub webhooks
//! ([`webhook`]) and the web UI ([`ui`]) over the controller. Handlers only translate HTTP to
//! controller calls.

pub mod api;
pub mod auth;
mod images;
mod inspect;
mod rollouts;
pub mod ui;
pub mod webhook;

pub use api::{ApiState, router};
