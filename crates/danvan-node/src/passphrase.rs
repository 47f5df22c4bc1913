//! Where the store passphrase comes from on this machine: the prompt on a
//! terminal (no echo; asked twice when setting one), and the demo's own key
//! file. The sources themselves (`DANVAN_PASSPHRASE_FILE`, `DANVAN_KEY_FILE`,
//! `store.key`) and the key derivation are danvan-store's `cipher` module.

use std::io::IsTerminal;
use std::path::Path;

use danvan_store::cipher;

use crate::error::NodeError;

/// Shortest passphrase accepted when setting one.
pub const PASSPHRASE_CHARS_MIN: usize = 8;
/// Tries at typing a new passphrase twice alike.
const SET_TRIES: usize = 3;

/// Installs the terminal prompt when standard input is a terminal.
pub fn install_prompt() {
    if std::io::stdin().is_terminal() {
        cipher::set_prompt(prompt);
    }
}

fn prompt(confirm: bool) -> Option<String> {
    if !confirm {
        return rpassword::prompt_password("Mật khẩu kho dữ liệu: ").ok();
    }
    for _ in 0..SET_TRIES {
        let first =
            rpassword::prompt_password("Đặt mật khẩu kho dữ liệu (ít nhất 8 ký tự): ").ok()?;
        if first.chars().count() < PASSPHRASE_CHARS_MIN {
            eprintln!("mật khẩu quá ngắn: cần ít nhất {PASSPHRASE_CHARS_MIN} ký tự");
            continue;
        }
        let again = rpassword::prompt_password("Nhập lại mật khẩu: ").ok()?;
        if again == first {
            return Some(first);
        }
        eprintln!("hai lần nhập không khớp, hãy nhập lại");
    }
    None
}

/// Whether `init` of `dir` may go on: a source of the passphrase exists, or
/// a terminal to ask on, or `plaintext` was asked for explicitly.
pub fn check_init(dir: &Path, plaintext: bool) -> Result<(), NodeError> {
    if plaintext {
        cipher::create_plaintext();
        return Ok(());
    }
    if cipher::has_source(dir) || std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(NodeError::Open(danvan_store::OpenError::NeedPassphrase(
        format!(
            "{}; hoặc thêm --plaintext để tạo kho KHÔNG mã hoá (không nên trên máy xách tay)",
            cipher::how_to_give()
        ),
    )))
}

/// Gives a new data directory of the demo its own random key file
/// (`store.key`, 0600), so the demo runs encrypted without a prompt.
pub fn demo_store_key(dir: &Path) -> Result<(), NodeError> {
    danvan_store::private::private_dir(dir)?;
    cipher::StoreKey::random()?.write_key_file(dir)?;
    Ok(())
}

/// `danvan encrypt`: the plaintext store of `dir` encrypted in place
/// (danvan-store's `convert`), under the passphrase or key file given.
pub fn encrypt(dir: &Path) -> Result<(), NodeError> {
    danvan_store::convert::encrypt_in_place(dir)?;
    // The store is encrypted from the rename on; its key files are sealed
    // next (a crash in between: `Node::open` seals them).
    crate::key_files::seal_plaintext(dir)?;
    Ok(())
}

/// `danvan passphrase`: a new passphrase for the encrypted store of `dir`,
/// from `DANVAN_NEW_PASSPHRASE_FILE` or asked twice on the terminal.
pub fn change(dir: &Path) -> Result<(), NodeError> {
    use danvan_store::convert::NEW_PASSPHRASE_FILE_ENV;
    let new = match std::env::var_os(NEW_PASSPHRASE_FILE_ENV).filter(|p| !p.is_empty()) {
        Some(path) => {
            let path = std::path::PathBuf::from(path);
            std::fs::read_to_string(&path)
                .map_err(crate::error::io(&path))?
                .trim_end_matches(['\n', '\r'])
                .to_string()
        }
        None => prompt(true).ok_or_else(|| {
            NodeError::Open(danvan_store::OpenError::NeedPassphrase(format!(
                "cần mật khẩu mới: gõ trên cửa sổ lệnh, hoặc đặt {NEW_PASSPHRASE_FILE_ENV}=TỆP"
            )))
        })?,
    };
    if new.chars().count() < PASSPHRASE_CHARS_MIN {
        return Err(NodeError::Open(danvan_store::OpenError::Passphrase(
            format!("mật khẩu mới quá ngắn: cần ít nhất {PASSPHRASE_CHARS_MIN} ký tự"),
        )));
    }
    // The key files are sealed under the old key and the new one before the
    // database is re-keyed, so whichever key a crash leaves the store under
    // opens them; then under the new key alone.
    danvan_store::convert::change_passphrase(dir, &new, |old, new| {
        crate::key_files::reseal(dir, &[old, new])
    })?;
    let key = cipher::key_to_open(dir)?;
    crate::key_files::reseal(dir, &[&key])?;
    Ok(())
}
