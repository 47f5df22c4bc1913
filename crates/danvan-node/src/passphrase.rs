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
    let key = cipher::StoreKey::random()?;
    let hex: String = key.bytes().iter().map(|b| format!("{b:02x}")).collect();
    danvan_store::private::write_private_atomic(
        &dir.join(cipher::STORE_KEY_FILE),
        format!("{hex}\n").as_bytes(),
    )?;
    Ok(())
}
