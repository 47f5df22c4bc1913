//! Who may use the pages. On a loopback address there is no login: the
//! operating-system account is the boundary. On any other address every
//! page needs an officer account (`danvan web user add NAME`). Every form
//! carries a token an outside site cannot read, so a page elsewhere cannot
//! post to the node through the officer's browser.
//!
//! Accounts live in `web-users.json` in the data directory (readable by its
//! owner only), as argon2id hashes. Sessions live in memory: restarting the
//! app logs everyone out, which is acceptable for an office LAN and keeps
//! no session secret on disk.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Form;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::WebError;
use crate::server::AppState;

/// File of officer accounts inside the data directory.
pub const USERS_FILE: &str = danvan_node::WEB_USERS_FILE;

/// Version of the accounts file's format, written in the file.
const USERS_FORMAT_VERSION: u32 = 1;

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "danvan_phien";

/// Shortest password accepted: officers type it on a phone as well, but
/// anyone on the office LAN can try passwords.
const PASSWORD_CHARS_MIN: usize = 8;

/// Longest account name: it is shown in the page header.
const NAME_CHARS_MAX: usize = 64;

/// Failed logins allowed per account name within [`FAILURE_WINDOW`]; past
/// it the password is not even checked until the window moves on.
const FAILURES_MAX: usize = 5;

/// The window over which failed logins are counted.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Account names whose failures are remembered at once; guessing random
/// names must not grow memory without bound.
const FAILURE_NAMES_MAX: usize = 10_000;

/// Sessions held at once. An office has a handful of officers; past this
/// the least recently used session is dropped.
const SESSIONS_MAX: usize = 1_000;

/// A session unused this long is ended: a browser left open overnight on a
/// shared office computer should ask for the password again.
const SESSION_IDLE: Duration = Duration::from_secs(12 * 60 * 60);

/// Problems with the accounts file.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The file could not be read or written.
    #[error("không đọc hoặc ghi được tệp tài khoản {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The file is not an accounts file this version understands.
    #[error(
        "tệp tài khoản {path} hỏng hoặc thuộc phiên bản khác ({detail}); hãy khôi phục bản sao lưu hoặc xoá tệp rồi tạo lại tài khoản"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The account name is empty, too long or has odd characters.
    #[error(
        "tên tài khoản {0:?} không hợp lệ: cần từ 1 đến 64 ký tự, không có khoảng trắng hay ký tự điều khiển"
    )]
    BadName(String),
    /// The password is too short.
    #[error("mật khẩu quá ngắn: cần ít nhất {PASSWORD_CHARS_MIN} ký tự")]
    WeakPassword,
    /// The password could not be hashed.
    #[error("không tạo được mã băm mật khẩu: {0}")]
    Hash(String),
}

/// The accounts file as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct UsersFile {
    version: u32,
    users: Vec<UserEntry>,
}

/// One account: its name and the PHC string of its argon2id hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserEntry {
    name: String,
    hash: String,
}

fn users_path(dir: &Path) -> PathBuf {
    dir.join(USERS_FILE)
}

fn read_users(dir: &Path) -> Result<UsersFile, UserError> {
    let path = users_path(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(UsersFile {
                version: USERS_FORMAT_VERSION,
                users: Vec::new(),
            });
        }
        Err(error) => return Err(UserError::Io { path, error }),
    };
    let file: UsersFile = serde_json::from_str(&text).map_err(|e| UserError::Format {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    if file.version != USERS_FORMAT_VERSION {
        return Err(UserError::Format {
            path,
            detail: format!("phiên bản {}", file.version),
        });
    }
    Ok(file)
}

/// Writes the file readable by its owner only, through a temporary file
/// and a rename so a crash never leaves half a file.
fn write_users(dir: &Path, file: &UsersFile) -> Result<(), UserError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;

    let path = users_path(dir);
    let tmp = dir.join(format!("{USERS_FILE}.tmp"));
    let io = |error| UserError::Io {
        path: path.clone(),
        error,
    };
    let text = serde_json::to_string_pretty(file).expect("accounts serialize");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut out = options.open(&tmp).map_err(io)?;
    out.write_all(text.as_bytes()).map_err(io)?;
    out.sync_all().map_err(io)?;
    drop(out);
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(())
}

/// Whether the data directory has any officer account.
pub fn has_users(dir: &Path) -> bool {
    read_users(dir).is_ok_and(|f| !f.users.is_empty())
}

fn valid_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=NAME_CHARS_MAX).contains(&chars)
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn hash_password(password: &str) -> Result<String, UserError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| UserError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| UserError::Hash(e.to_string()))?;
    // `Argon2::default()` is argon2id, version 0x13, with the parameters
    // OWASP recommends (19 MiB, two passes).
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Adds an officer account, or sets a new password for an existing one.
pub fn add_user(dir: &Path, name: &str, password: &str) -> Result<(), UserError> {
    if !valid_name(name) {
        return Err(UserError::BadName(name.to_string()));
    }
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(UserError::WeakPassword);
    }
    let hash = hash_password(password)?;
    let mut file = read_users(dir)?;
    file.version = USERS_FORMAT_VERSION;
    match file.users.iter_mut().find(|u| u.name == name) {
        Some(user) => user.hash = hash,
        None => file.users.push(UserEntry {
            name: name.to_string(),
            hash,
        }),
    }
    write_users(dir, &file)
}

/// How requests are admitted.
#[derive(Debug)]
pub(crate) enum Access {
    /// Loopback: no login.
    Local,
    /// Any other address: officer accounts and sessions.
    Accounts(Accounts),
}

/// Accounts, sessions and failed logins of the accounts mode.
#[derive(Debug)]
pub(crate) struct Accounts {
    /// Name → PHC hash, read at start.
    users: HashMap<String, String>,
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

#[derive(Debug, Clone)]
struct Session {
    user: String,
    csrf: String,
    last_used: Instant,
}

/// What a login attempt came to.
#[derive(Debug)]
pub(crate) enum LoginOutcome {
    /// A new session: its id goes into the cookie.
    Ok { session: String },
    /// Wrong name or password (not saying which).
    Wrong,
    /// Too many failures for this name: the password was not checked.
    Locked { wait_minutes: u64 },
}

/// A hash checked when the name is unknown, so that an unknown name takes
/// as long to refuse as a wrong password and names cannot be probed.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("mật khẩu giả để so thời gian").unwrap_or_default())
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

impl Accounts {
    fn load(dir: &Path) -> Result<Accounts, UserError> {
        let file = read_users(dir)?;
        Ok(Accounts {
            users: file.users.into_iter().map(|u| (u.name, u.hash)).collect(),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        })
    }

    /// Checks a login; slow (argon2), so call it off the async threads.
    pub(crate) fn login(&self, name: &str, password: &str, now: Instant) -> LoginOutcome {
        {
            let mut failures = self.failures.lock().expect("failures lock");
            if let Some(times) = failures.get_mut(name) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= FAILURES_MAX {
                    let oldest = times.front().copied().unwrap_or(now);
                    let left = FAILURE_WINDOW.saturating_sub(now.duration_since(oldest));
                    return LoginOutcome::Locked {
                        wait_minutes: left.as_secs().div_ceil(60).max(1),
                    };
                }
            }
        }
        let ok = match self.users.get(name) {
            Some(hash) => verify_password(hash, password),
            None => {
                let _ = verify_password(decoy_hash(), password);
                false
            }
        };
        if !ok {
            let mut failures = self.failures.lock().expect("failures lock");
            if failures.len() >= FAILURE_NAMES_MAX && !failures.contains_key(name) {
                failures.retain(|_, times| {
                    times
                        .back()
                        .is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW)
                });
            }
            if failures.len() < FAILURE_NAMES_MAX || failures.contains_key(name) {
                failures.entry(name.to_string()).or_default().push_back(now);
            }
            return LoginOutcome::Wrong;
        }
        self.failures.lock().expect("failures lock").remove(name);
        let id = random_secret(32);
        let mut sessions = self.sessions.lock().expect("sessions lock");
        sessions.retain(|_, s| now.duration_since(s.last_used) < SESSION_IDLE);
        if sessions.len() >= SESSIONS_MAX
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                user: name.to_string(),
                csrf: random_token(),
                last_used: now,
            },
        );
        LoginOutcome::Ok { session: id }
    }

    fn session(&self, id: &str, now: Instant) -> Option<Session> {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        let session = sessions.get_mut(id)?;
        if now.duration_since(session.last_used) >= SESSION_IDLE {
            sessions.remove(id);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    pub(crate) fn logout(&self, id: &str) {
        self.sessions.lock().expect("sessions lock").remove(id);
    }
}

/// Per-process secrets and the access mode.
#[derive(Debug)]
pub(crate) struct Auth {
    pub(crate) access: Access,
    /// The form token of the loopback mode, and of the login form in the
    /// accounts mode (before any session exists): random per process.
    local_token: String,
}

impl Auth {
    pub(crate) fn local() -> Auth {
        Auth {
            access: Access::Local,
            local_token: random_token(),
        }
    }

    /// The accounts mode with the accounts of data directory `dir`.
    pub(crate) fn accounts(dir: &Path) -> Result<Auth, UserError> {
        Ok(Auth {
            access: Access::Accounts(Accounts::load(dir)?),
            local_token: random_token(),
        })
    }

    /// The token of the login form.
    pub(crate) fn login_token(&self) -> &str {
        &self.local_token
    }

    /// Checks the login form's token.
    pub(crate) fn verify_login_token(&self, token: &str) -> Result<(), WebError> {
        if constant_time_eq(self.local_token.as_bytes(), token.as_bytes()) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

pub(crate) fn random_token() -> String {
    random_secret(24)
}

fn random_secret(bytes_len: usize) -> String {
    let mut bytes = vec![0u8; bytes_len];
    getrandom::fill(&mut bytes).expect("hệ điều hành không cấp được số ngẫu nhiên");
    data_encoding::BASE64URL_NOPAD.encode(&bytes)
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value that starts a session.
pub(crate) fn session_cookie(id: &str) -> String {
    format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/")
}

/// The `Set-Cookie` value that ends one.
pub(crate) fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
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
    /// The session id, when accounts are in use (for logging out).
    pub(crate) session: Option<String>,
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

/// A posted form whose token matched the session's, with the request's
/// [`Ctx`]: a handler that takes its fields through this cannot read a post
/// before the token is checked. The form's own type has no `csrf` field; a
/// post without one is refused like a wrong one.
pub(crate) struct Verified<T>(pub(crate) Ctx, pub(crate) T);

/// The token field of a posted form.
#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Verified<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (ctx, parts, body) = Ctx::split(req, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let again = |bytes: Bytes| Request::from_parts(parts.clone(), Body::from(bytes));
        let Form(token) = Form::<Token>::from_request(again(bytes.clone()), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Form(form) = Form::<T>::from_request(again(bytes), state)
            .await
            .map_err(IntoResponse::into_response)?;
        ctx.verify(&token.csrf)
            .map_err(IntoResponse::into_response)?;
        Ok(Verified(ctx, form))
    }
}

impl Ctx {
    /// Who sent a request, and the request's head and body for the
    /// extractor that reads its form.
    pub(crate) async fn split(
        req: Request,
        state: &AppState,
    ) -> Result<(Ctx, Parts, Body), Response> {
        let (mut parts, body) = req.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok((ctx, parts, body))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Ctx, WebError> {
        let auth: &Arc<Auth> = &state.auth;
        match &auth.access {
            Access::Local => Ok(Ctx {
                csrf: auth.local_token.clone(),
                user: None,
                node: state.info.clone(),
                session: None,
            }),
            Access::Accounts(accounts) => {
                let id = cookie(parts, SESSION_COOKIE).ok_or(WebError::LoginRequired)?;
                let session = accounts
                    .session(id, Instant::now())
                    .ok_or(WebError::LoginRequired)?;
                Ok(Ctx {
                    csrf: session.csrf,
                    user: Some(session.user),
                    node: state.info.clone(),
                    session: Some(id.to_string()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts_with(name: &str, password: &str) -> (Accounts, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "danvan-web-auth-{}-{name}-{}",
            std::process::id(),
            random_token()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        add_user(&dir, name, password).unwrap();
        (Accounts::load(&dir).unwrap(), dir)
    }

    #[test]
    fn accounts_file_is_private_and_holds_argon2id_hashes() {
        let (_, dir) = accounts_with("lan", "mat-khau-dai");
        let path = dir.join(USERS_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("$argon2id$"), "{text}");
        assert!(!text.contains("mat-khau-dai"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(has_users(&dir));
        assert!(matches!(
            add_user(&dir, "ngan", "ngan"),
            Err(UserError::WeakPassword)
        ));
        assert!(matches!(
            add_user(&dir, "có dấu cách", "mat-khau-dai"),
            Err(UserError::BadName(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn five_failures_lock_the_name_without_checking_the_password() {
        let (accounts, dir) = accounts_with("lan", "mat-khau-dai");
        let start = Instant::now();
        for _ in 0..FAILURES_MAX {
            assert!(matches!(
                accounts.login("lan", "sai", start),
                LoginOutcome::Wrong
            ));
        }
        // Even the right password is refused while locked.
        match accounts.login("lan", "mat-khau-dai", start) {
            LoginOutcome::Locked { wait_minutes } => assert_eq!(wait_minutes, 15),
            other => panic!("expected a lock, got {other:?}"),
        }
        // Another name is not affected.
        assert!(matches!(
            accounts.login("khac", "x", start),
            LoginOutcome::Wrong
        ));
        // After the window the right password works and gives a session.
        let later = start + FAILURE_WINDOW;
        let LoginOutcome::Ok { session } = accounts.login("lan", "mat-khau-dai", later) else {
            panic!("login after the window failed");
        };
        assert_eq!(session.len(), 43, "32 random bytes in base64url");
        assert_eq!(accounts.session(&session, later).unwrap().user, "lan");
        accounts.logout(&session);
        assert!(accounts.session(&session, later).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
