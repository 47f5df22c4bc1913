//! The danvan web app: the pages commune officers, field teams and the town
//! office use in a browser, served by their own node (`danvan web`, or
//! `danvan serve --web`). Server-rendered HTML (maud escapes every value),
//! one small vendored script and one stylesheet compiled into the binary:
//! it makes no outside request and works with the network cable pulled.
//!
//! This crate is an adapter: it parses forms, calls `danvan-node`'s service
//! API and renders the result. It never decides anything about records,
//! scopes or sync, and never touches the store or the network itself.

mod assets;
mod auth;
mod error;
mod fmt;
mod layout;
mod pages;
pub mod qr;
mod server;
mod sync_runner;
mod upload;

pub use auth::{USERS_FILE, UserError, add_user, has_users};
pub use error::WebError;
pub use server::{DEFAULT_LISTEN, WebConfig, serve, serve_on};
