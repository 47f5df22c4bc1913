//! Secret key files (the node key, the authority key) sealed under the
//! store key, so a disk read without the passphrase reveals no key.
//!
//! The sealing key is SHA-256 of a label and the store key: never the
//! store key itself (SQLCipher's), and a different label would give an
//! unrelated key. A sealed file is
//! `MAGIC | slots (1 byte) | slots × (nonce 12 | ChaCha20-Poly1305 of the
//! 32-byte secret, 48)`. One slot normally; `danvan passphrase` writes the
//! file with a slot under the old key and one under the new before it
//! re-keys the database, so a crash at any point leaves a file that the key
//! the store then has opens (danvan-node then seals it under that key alone
//! on the next open). A file without the magic is the plaintext
//! format (64 hex digits), of old and `--plaintext` stores.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

use crate::cipher::StoreKey;

/// The first bytes of a sealed key file.
pub const MAGIC: &[u8; 8] = b"DVSKEY1\n";
const LABEL: &[u8] = b"danvan key-file seal v1";
const NONCE_BYTES: usize = 12;
const SLOT_BYTES: usize = NONCE_BYTES + 32 + 16;
/// Most slots in a file (old and new key during a passphrase change).
const SLOTS_MAX: usize = 2;

/// Whether `bytes` are a sealed key file.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn cipher_of(store_key: &StoreKey) -> ChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(LABEL);
    h.update(store_key.bytes());
    ChaCha20Poly1305::new(Key::from_slice(&h.finalize()))
}

/// `secret` sealed under each of `keys` (one slot per key, at most two).
pub fn seal(keys: &[&StoreKey], secret: &[u8; 32]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(keys.len().min(SLOTS_MAX) as u8);
    for key in keys.iter().take(SLOTS_MAX) {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the operating system provides randomness");
        let sealed = cipher_of(key)
            .encrypt(Nonce::from_slice(&nonce), &secret[..])
            .expect("ChaCha20-Poly1305 seals 32 bytes");
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
    }
    out
}

/// How many slots the sealed file `bytes` has: 1 normally, 2 when a
/// passphrase change was interrupted between sealing under both keys and
/// sealing under the new one alone (0 when malformed).
pub fn slots(bytes: &[u8]) -> usize {
    bytes
        .strip_prefix(&MAGIC[..])
        .and_then(|rest| rest.first())
        .map_or(0, |&n| usize::from(n))
}

/// Why a sealed file did not open.
#[derive(Debug, PartialEq, Eq)]
pub enum UnsealError {
    /// Not a sealed file of this format, or cut short.
    Malformed,
    /// No slot opens under this key: the wrong passphrase.
    WrongKey,
}

/// The secret of the sealed file `bytes` under `store_key`.
pub fn unseal(store_key: &StoreKey, bytes: &[u8]) -> Result<[u8; 32], UnsealError> {
    let rest = bytes
        .strip_prefix(&MAGIC[..])
        .ok_or(UnsealError::Malformed)?;
    let (&count, slots) = rest.split_first().ok_or(UnsealError::Malformed)?;
    let count = usize::from(count);
    if count == 0 || count > SLOTS_MAX || slots.len() != count * SLOT_BYTES {
        return Err(UnsealError::Malformed);
    }
    let cipher = cipher_of(store_key);
    for slot in slots.chunks(SLOT_BYTES) {
        let (nonce, sealed) = slot.split_at(NONCE_BYTES);
        if let Ok(plain) = cipher.decrypt(Nonce::from_slice(nonce), sealed)
            && let Ok(secret) = <[u8; 32]>::try_from(plain.as_slice())
        {
            return Ok(secret);
        }
    }
    Err(UnsealError::WrongKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_key_opens_only_under_its_store_keys() {
        let (a, b, c) = (
            StoreKey::from_bytes([1; 32]),
            StoreKey::from_bytes([2; 32]),
            StoreKey::from_bytes([3; 32]),
        );
        let secret = [7u8; 32];
        let one = seal(&[&a], &secret);
        assert!(is_sealed(&one));
        assert!(!one.windows(32).any(|w| w == secret));
        assert_eq!(unseal(&a, &one), Ok(secret));
        assert_eq!(unseal(&b, &one), Err(UnsealError::WrongKey));
        let two = seal(&[&a, &b], &secret);
        assert_eq!(unseal(&a, &two), Ok(secret));
        assert_eq!(unseal(&b, &two), Ok(secret));
        assert_eq!(unseal(&c, &two), Err(UnsealError::WrongKey));
        assert_eq!((slots(&one), slots(&two), slots(b"64 hex")), (1, 2, 0));
        let mut cut = one.clone();
        cut.pop();
        assert_eq!(unseal(&a, &cut), Err(UnsealError::Malformed));
    }
}
