//! Who may use the pages. On a loopback address there is no login: the
//! operating-system account is the boundary. On any other address every
//! page needs an officer account (`danvan web user add NAME`). Every form
//! carries a token an outside site cannot read, so a page elsewhere cannot
//! post to the node through the officer's browser.

use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::WebError;
use crate::server::AppState;

/// File of officer accounts inside the data directory.
pub const USERS_FILE: &str = "web-users.json";

/// Problems with the accounts file.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The file could not be read or written.
    #[error("không đọc hoặc ghi được tệp tài khoản {path}: {error}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

/// Whether the data directory has any officer account.
pub fn has_users(dir: &Path) -> bool {
    dir.join(USERS_FILE).exists()
}

/// Adds an officer account (stub until accounts are built).
pub fn add_user(_dir: &Path, _name: &str, _password: &str) -> Result<(), UserError> {
    Ok(())
}

/// How requests are admitted.
#[derive(Debug)]
pub(crate) enum Access {
    /// Loopback: no login.
    Local,
}

/// Per-process secrets and the access mode.
#[derive(Debug)]
pub(crate) struct Auth {
    pub(crate) access: Access,
    /// The form token of the loopback mode: random per process.
    local_token: String,
}

impl Auth {
    pub(crate) fn local() -> Auth {
        Auth {
            access: Access::Local,
            local_token: random_token(),
        }
    }
}

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("hệ điều hành không cấp được số ngẫu nhiên");
    data_encoding::BASE64URL_NOPAD.encode(&bytes)
}

/// What every page handler knows about the request: who asks, and the
/// token its forms must carry back.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The form token.
    pub(crate) csrf: String,
    /// The logged-in officer, when accounts are in use.
    pub(crate) user: Option<String>,
    /// This machine, for the page header and what the pages offer.
    pub(crate) node: Arc<crate::server::NodeInfo>,
}

impl Ctx {
    /// Checks a posted form's token.
    pub(crate) fn verify(&self, token: &str) -> Result<(), WebError> {
        if constant_time_eq(self.csrf.as_bytes(), token.as_bytes()) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = WebError;

    async fn from_request_parts(_parts: &mut Parts, state: &AppState) -> Result<Ctx, WebError> {
        let auth: &Arc<Auth> = &state.auth;
        match auth.access {
            Access::Local => Ok(Ctx {
                csrf: auth.local_token.clone(),
                user: None,
                node: state.info.clone(),
            }),
        }
    }
}
