//! The store's key: SQLCipher encryption at rest.
//!
//! A store is encrypted with a 256-bit raw key (SQLCipher's `x'…'` form, so
//! SQLCipher runs no key derivation of its own). The key comes from, in this
//! order:
//!
//! 1. `DANVAN_KEY_FILE`: a raw key file (64 hex digits) readable only by the
//!    service user — an unattended hub;
//! 2. `store.key` in the data directory: the same, kept beside the store (the
//!    demo; a hub whose disk is trusted);
//! 3. `DANVAN_PASSPHRASE_FILE`: a file holding the passphrase (systemd
//!    credentials, tests);
//! 4. a prompt on a terminal, when the program installed one
//!    ([`set_prompt`]).
//!
//! A passphrase becomes the key through argon2id with a random salt and the
//! parameters kept in `danvan.kdf` beside the store (plaintext, not secret).
//! A store whose file starts with SQLite's plaintext header is a plaintext
//! (legacy or explicitly unencrypted) store and opens without a key.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::Connection;

use crate::error::OpenError;

/// The passphrase file variable (systemd, tests).
pub const PASSPHRASE_FILE_ENV: &str = "DANVAN_PASSPHRASE_FILE";
/// The raw key file variable (an unattended hub).
pub const KEY_FILE_ENV: &str = "DANVAN_KEY_FILE";
/// The KDF parameters and salt, beside the store (not secret).
pub const KDF_FILE: &str = "danvan.kdf";
/// A raw key file kept in the data directory (the demo, a trusted hub).
pub const STORE_KEY_FILE: &str = "store.key";
/// Longest passphrase or key file read.
const SECRET_BYTES_MAX: u64 = 4096;
/// SQLite's header of a plaintext database file.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// argon2id cost: OWASP's minimum (19 MiB, 2 passes), about 50 ms on a
/// cheap laptop, paid once per command.
const KDF_M_KIB: u32 = 19 * 1024;
const KDF_T: u32 = 2;
const KDF_P: u32 = 1;

/// A store key (32 bytes). Its `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey([u8; 32]);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(…)")
    }
}

impl StoreKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> StoreKey {
        StoreKey(bytes)
    }

    /// A fresh random key.
    pub fn random() -> Result<StoreKey, OpenError> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| {
            OpenError::Store(crate::StoreError::Corrupt(format!(
                "không lấy được số ngẫu nhiên: {e}"
            )))
        })?;
        Ok(StoreKey(k))
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Writes this key as the raw key file `store.key` of `dir` (0600).
    pub fn write_key_file(&self, dir: &Path) -> Result<(), OpenError> {
        let text = format!("{}\n", crate::hex(&self.0));
        crate::private::write_private_atomic(&dir.join(STORE_KEY_FILE), text.as_bytes())
            .map_err(OpenError::Store)
    }

    /// Keys `conn` with this key (an existing file: its salt is read from
    /// it).
    pub(crate) fn apply(&self, conn: &Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", crate::hex(&self.0)))
    }

    /// Keys `conn` over a new file whose first 16 bytes (SQLCipher's salt)
    /// are `salt`: the argon2 salt, so a backup file alone tells how its
    /// passphrase becomes its key.
    pub(crate) fn apply_new(
        &self,
        conn: &Connection,
        salt: &[u8; 16],
    ) -> Result<(), rusqlite::Error> {
        conn.execute_batch(&format!(
            "PRAGMA key = \"x'{}{}'\";",
            crate::hex(&self.0),
            crate::hex(salt)
        ))
    }
}

/// Asks for a passphrase on a terminal; `confirm` when setting a new one
/// (asked twice). `None` when there is no terminal.
pub type Prompt = fn(confirm: bool) -> Option<String>;

static PROMPT: OnceLock<Prompt> = OnceLock::new();
static CREATE_PLAIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

static PROCESS_KEY: OnceLock<StoreKey> = OnceLock::new();

/// Every store this process creates or opens is keyed with `key` when no
/// environment variable names a key or passphrase (benchmarks, in-process
/// tests).
pub fn set_process_key(key: StoreKey) {
    let _ = PROCESS_KEY.set(key);
}

/// The process key, if set.
pub fn process_key() -> Option<&'static StoreKey> {
    PROCESS_KEY.get()
}

/// New stores of this process are plaintext whatever the sources (`init
/// --plaintext`).
pub fn create_plaintext() {
    CREATE_PLAIN.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Installs the terminal prompt (the CLI, once at start).
pub fn set_prompt(prompt: Prompt) {
    let _ = PROMPT.set(prompt);
}

/// Whether the database file of `db` is encrypted (not SQLite's plaintext
/// header). A missing or empty file is not.
pub fn is_encrypted(db: &Path) -> bool {
    let mut head = [0u8; 16];
    match std::fs::File::open(db).and_then(|mut f| f.read_exact(&mut head)) {
        Ok(()) => &head != PLAIN_HEADER,
        Err(_) => false,
    }
}

/// Where a key comes from.
#[derive(Debug)]
enum Source {
    Key(StoreKey),
    KeyFile(PathBuf),
    Passphrase(String),
}

fn read_secret(path: &Path) -> Result<String, OpenError> {
    let fail =
        |why: String| OpenError::Passphrase(format!("không đọc được {}: {why}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.len() > SECRET_BYTES_MAX {
        return Err(fail(format!("tệp lớn quá {SECRET_BYTES_MAX} byte")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// The key source for `dir`, without prompting.
fn source(dir: &Path) -> Result<Option<Source>, OpenError> {
    source_env(Some(dir))
}

/// The key source: the environment, and `store.key` of `dir` if given.
fn source_env(dir: Option<&Path>) -> Result<Option<Source>, OpenError> {
    if let Some(p) = std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()) {
        return Ok(Some(Source::KeyFile(PathBuf::from(p))));
    }
    if let Some(own) = dir.map(|d| d.join(STORE_KEY_FILE)).filter(|p| p.exists()) {
        return Ok(Some(Source::KeyFile(own)));
    }
    if let Some(key) = PROCESS_KEY.get() {
        return Ok(Some(Source::Key(key.clone())));
    }
    if let Some(p) = std::env::var_os(PASSPHRASE_FILE_ENV).filter(|p| !p.is_empty()) {
        let pass = read_secret(Path::new(&p))?;
        if pass.is_empty() {
            return Err(OpenError::Passphrase(format!(
                "tệp mật khẩu {} rỗng",
                Path::new(&p).display()
            )));
        }
        return Ok(Some(Source::Passphrase(pass)));
    }
    Ok(None)
}

/// Whether a key source (other than a prompt) is set for `dir`.
pub fn has_source(dir: &Path) -> bool {
    matches!(source(dir), Ok(Some(_)))
}

fn key_from_file(path: &Path) -> Result<StoreKey, OpenError> {
    let text = read_secret(path)?;
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.trim().as_bytes())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            OpenError::Passphrase(format!(
                "tệp khoá {} phải chứa đúng 64 chữ số hex",
                path.display()
            ))
        })?;
    Ok(StoreKey(bytes))
}

/// The KDF parameters and salt of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kdf {
    m_kib: u32,
    t: u32,
    p: u32,
    salt: [u8; 16],
}

impl Kdf {
    /// New parameters with a random salt.
    pub fn fresh() -> Result<Kdf, OpenError> {
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&StoreKey::random()?.0[..16]);
        Ok(Kdf {
            m_kib: KDF_M_KIB,
            t: KDF_T,
            p: KDF_P,
            salt,
        })
    }

    /// The text of a `danvan.kdf` file.
    pub fn to_text(&self) -> String {
        format!(
            "# danvan: tham số dẫn khoá kho từ mật khẩu (không bí mật)\nkdf = argon2id\nm_kib = {}\nt = {}\np = {}\nsalt = {}\n",
            self.m_kib,
            self.t,
            self.p,
            crate::hex(&self.salt)
        )
    }

    /// Reads `danvan.kdf` of `dir`.
    pub fn read(dir: &Path) -> Result<Kdf, OpenError> {
        let path = dir.join(KDF_FILE);
        let bad = |why: &str| {
            OpenError::Passphrase(format!("tệp {} hỏng hoặc thiếu: {why}", path.display()))
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(&e.to_string()))?;
        let field = |name: &str| -> Option<&str> {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == name).then(|| v.trim())
            })
        };
        let num = |name: &str| -> Result<u32, OpenError> {
            field(name)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(&format!("thiếu {name}")))
        };
        if field("kdf") != Some("argon2id") {
            return Err(bad("không phải argon2id"));
        }
        let salt = field("salt")
            .and_then(|v| data_encoding::HEXLOWER_PERMISSIVE.decode(v.as_bytes()).ok())
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .ok_or_else(|| bad("muối sai"))?;
        Ok(Kdf {
            m_kib: num("m_kib")?,
            t: num("t")?,
            p: num("p")?,
            salt,
        })
    }

    /// Writes `danvan.kdf` into `dir` (0600, durable, atomically).
    pub fn write(&self, dir: &Path) -> Result<(), OpenError> {
        crate::private::write_private_atomic(&dir.join(KDF_FILE), self.to_text().as_bytes())
            .map_err(OpenError::Store)
    }

    /// The key of `passphrase` under these parameters.
    pub fn derive(&self, passphrase: &str) -> Result<StoreKey, OpenError> {
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| OpenError::Passphrase(format!("tham số argon2 sai: {e}")))?;
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        a.hash_password_into(passphrase.as_bytes(), &self.salt, &mut out)
            .map_err(|e| OpenError::Passphrase(format!("argon2: {e}")))?;
        Ok(StoreKey(out))
    }
}

/// The message naming the ways to give a passphrase.
pub fn how_to_give() -> String {
    format!(
        "hãy gõ mật khẩu khi được hỏi (chạy trên cửa sổ lệnh), hoặc đặt {PASSPHRASE_FILE_ENV}=TỆP_MẬT_KHẨU, hoặc {KEY_FILE_ENV}=TỆP_KHOÁ (máy chủ tự chạy)"
    )
}

/// The stores this process opened or created, by data directory, with
/// their key (`None`: plaintext). The key files beside a store are read
/// through this, without asking twice and without opening the database
/// file again: closing any descriptor of it would drop the POSIX locks
/// SQLite holds on it in this process.
#[allow(clippy::type_complexity)]
static OPENED: std::sync::Mutex<Vec<(PathBuf, Option<StoreKey>)>> =
    std::sync::Mutex::new(Vec::new());

/// Remembers that the store of `dir` opens with `key` (`None`: plaintext),
/// as checked by SQLCipher or an authenticated key file.
pub fn remember(dir: &Path, key: Option<&StoreKey>) {
    if let Ok(mut held) = OPENED.lock() {
        held.retain(|(d, _)| d != dir);
        held.push((dir.to_path_buf(), key.cloned()));
    }
}

/// What [`remember`] holds for `dir`: `None` when no store of `dir` was
/// opened by this process.
pub fn opened(dir: &Path) -> Option<Option<StoreKey>> {
    let held = OPENED.lock().ok()?;
    held.iter().find(|(d, _)| d == dir).map(|(_, k)| k.clone())
}

/// The key to open the existing encrypted store of `dir`.
pub fn key_to_open(dir: &Path) -> Result<StoreKey, OpenError> {
    if let Some(Some(key)) = opened(dir) {
        return Ok(key);
    }
    match source(dir)? {
        Some(Source::Key(key)) => Ok(key),
        Some(Source::KeyFile(path)) => key_from_file(&path),
        Some(Source::Passphrase(pass)) => Kdf::read(dir)?.derive(&pass),
        None => {
            let pass = PROMPT.get().and_then(|prompt| prompt(false));
            match pass {
                Some(pass) => Kdf::read(dir)?.derive(&pass),
                None => Err(OpenError::NeedPassphrase(how_to_give())),
            }
        }
    }
}

/// What a new store of `dir` is keyed with, and the salt its file starts
/// with: `Some` when a source exists (a prompt asks twice), writing
/// `danvan.kdf` for a passphrase; `None` (plaintext) when there is none.
pub fn key_to_create(dir: &Path) -> Result<Option<(StoreKey, [u8; 16])>, OpenError> {
    if CREATE_PLAIN.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(None);
    }
    let kdf = Kdf::fresh()?;
    let pass = match source(dir)? {
        Some(Source::Key(key)) => return Ok(Some((key, kdf.salt))),
        Some(Source::KeyFile(path)) => return key_from_file(&path).map(|k| Some((k, kdf.salt))),
        Some(Source::Passphrase(pass)) => pass,
        None => match PROMPT.get().and_then(|prompt| prompt(true)) {
            Some(pass) => pass,
            None => return Ok(None),
        },
    };
    kdf.write(dir)?;
    kdf.derive(&pass).map(|k| Some((k, kdf.salt)))
}

/// Writes `danvan.kdf` for a store restored from the encrypted `file`
/// (default parameters, the file's salt), unless a key file keys it.
pub fn adopt_kdf(dir: &Path, file: &Path) -> Result<(), OpenError> {
    if !is_encrypted(file) || matches!(source(dir)?, Some(Source::KeyFile(_) | Source::Key(_))) {
        return Ok(());
    }
    let salt = file_salt(file)
        .ok_or_else(|| OpenError::Passphrase(format!("không đọc được {}", file.display())))?;
    Kdf {
        m_kib: KDF_M_KIB,
        t: KDF_T,
        p: KDF_P,
        salt,
    }
    .write(dir)
}

/// The salt at the head of an encrypted file.
pub fn file_salt(file: &Path) -> Option<[u8; 16]> {
    let mut head = [0u8; 16];
    std::fs::File::open(file)
        .and_then(|mut f| f.read_exact(&mut head))
        .ok()?;
    Some(head)
}

/// The key of an encrypted backup file: a key file, or the passphrase
/// under the default parameters and the salt at the file's head.
pub fn key_for_file(file: &Path) -> Result<StoreKey, OpenError> {
    let salt = file_salt(file)
        .ok_or_else(|| OpenError::Passphrase(format!("không đọc được {}", file.display())))?;
    let kdf = Kdf {
        m_kib: KDF_M_KIB,
        t: KDF_T,
        p: KDF_P,
        salt,
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    match source_env(None)? {
        Some(Source::Key(key)) => Ok(key),
        Some(Source::KeyFile(path)) => key_from_file(&path),
        Some(Source::Passphrase(pass)) => kdf.derive(&pass),
        None => match PROMPT.get().and_then(|prompt| prompt(false)) {
            Some(pass) => kdf.derive(&pass),
            None => {
                let _ = dir;
                Err(OpenError::NeedPassphrase(how_to_give()))
            }
        },
    }
}

/// Checks that `key` opens the encrypted database of `dir`, on a
/// connection of its own that is closed again. Only for a process that has
/// not opened that store ([`opened`] is `None`): closing a descriptor of
/// the file would drop the POSIX locks SQLite holds on it in this process.
pub fn check_key(dir: &Path, key: &StoreKey) -> Result<(), OpenError> {
    let conn = Connection::open_with_flags(
        dir.join(crate::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    unlock(&conn, key)
}

/// Whether an error opening a keyed database means the key is wrong.
pub(crate) fn is_wrong_key(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase
    )
}

/// Keys `conn` (over the encrypted file `db`) and checks the key reads it.
pub fn unlock(conn: &Connection, key: &StoreKey) -> Result<(), OpenError> {
    key.apply(conn)?;
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(e) if is_wrong_key(&e) => Err(OpenError::WrongPassphrase),
        Err(e) => Err(e.into()),
    }
}
