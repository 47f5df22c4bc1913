//! Sealed bundles (format version 2): a version-1 bundle encrypted to one
//! or more nodes and signed by its sender, so that a file carried on a USB
//! stick reveals nothing to whoever finds the stick, and a changed byte is
//! refused before anything is read from it.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! magic        8 bytes  "DANVANB\0"   (the same as version 1)
//! version      1 byte   2
//! sender      32 bytes  Ed25519 public key (node id) of the sender
//! ephemeral   32 bytes  X25519 public key made for this file only
//! recipients   u16      1 ..= SEALED_RECIPIENTS_MAX
//! recipients × (node id 32 | wrapped file key 48)
//! sealed_len   u64      bytes of the sealed payload
//! sealed                ChaCha20-Poly1305(file key, nonce 0, aad = all bytes before it)
//!                       over a whole version-1 bundle
//! signature   64 bytes  the sender's Ed25519 signature of everything before it
//! ```
//!
//! Each recipient's X25519 key is its Ed25519 node id on the Montgomery
//! curve, so no second key has to be carried in the roster. The file key
//! (random, 32 bytes) is wrapped per recipient with
//! ChaCha20-Poly1305 under `SHA-256(label | X25519(ephemeral, recipient) |
//! ephemeral | recipient id)`. Randomness comes in as arguments: this
//! module does no I/O.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use danvan_model::{NodeId, NodeKey};
use sha2::{Digest, Sha256};

use crate::bundle::BundleError;

const MAGIC: &[u8; 8] = b"DANVANB\0";
/// The format version of a sealed bundle.
pub const SEALED_VERSION: u8 = 2;
/// Most recipients of one sealed bundle.
pub const SEALED_RECIPIENTS_MAX: usize = 64;
const WRAPPED_LEN: usize = 32 + 16;
const FIXED_LEN: usize = 8 + 1 + 32 + 32 + 2;
const SIGNATURE_LEN: usize = 64;
const SIGNATURE_CONTEXT: &[u8] = b"danvan-sealed-bundle-v2";
const WRAP_LABEL: &[u8] = b"danvan-sealed-bundle-v2 wrap";

/// Whether `head` (the first bytes of a file, at least 9) is a sealed bundle.
pub fn is_sealed_bundle(head: &[u8]) -> bool {
    head.len() > 8 && &head[..8] == MAGIC && head[8] == SEALED_VERSION
}

/// The key that wraps the file key for one recipient.
fn wrap_key(shared: &[u8; 32], ephemeral: &[u8; 32], recipient: &NodeId) -> Key {
    let mut h = Sha256::new();
    h.update(WRAP_LABEL);
    h.update(shared);
    h.update(ephemeral);
    h.update(recipient.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    Key::from(digest)
}

/// Seals `inner` (a whole version-1 bundle) to `recipients`, signed by
/// `sender`. `file_key` and `ephemeral_secret` must be fresh random bytes
/// for every file. Recipients listed twice are kept once.
pub fn seal_bundle(
    inner: &[u8],
    sender: &NodeKey,
    recipients: &[NodeId],
    file_key: [u8; 32],
    ephemeral_secret: [u8; 32],
) -> Result<Vec<u8>, BundleError> {
    let mut unique: Vec<NodeId> = Vec::new();
    for r in recipients {
        if !unique.contains(r) {
            unique.push(*r);
        }
    }
    if unique.is_empty() || unique.len() > SEALED_RECIPIENTS_MAX {
        return Err(BundleError::Malformed(
            "gói mã hoá cần từ 1 đến 64 nút nhận",
        ));
    }
    let ephemeral = MontgomeryPoint::mul_base_clamped(ephemeral_secret).to_bytes();
    let mut out = Vec::with_capacity(
        FIXED_LEN + unique.len() * (32 + WRAPPED_LEN) + 8 + inner.len() + 16 + SIGNATURE_LEN,
    );
    out.extend_from_slice(MAGIC);
    out.push(SEALED_VERSION);
    out.extend_from_slice(sender.id().as_bytes());
    out.extend_from_slice(&ephemeral);
    out.extend_from_slice(&(unique.len() as u16).to_le_bytes());
    for r in &unique {
        let public = r
            .x25519_public()
            .map_err(|_| BundleError::Malformed("mã nút nhận không phải khoá hợp lệ"))?;
        let shared = MontgomeryPoint(public)
            .mul_clamped(ephemeral_secret)
            .to_bytes();
        let wrapped = ChaCha20Poly1305::new(&wrap_key(&shared, &ephemeral, r))
            .encrypt(&Nonce::default(), file_key.as_slice())
            .expect("encrypting 32 bytes in memory does not fail");
        out.extend_from_slice(r.as_bytes());
        out.extend_from_slice(&wrapped);
    }
    let sealed_len = inner.len() as u64 + 16;
    out.extend_from_slice(&sealed_len.to_le_bytes());
    let sealed = ChaCha20Poly1305::new(&Key::from(file_key))
        .encrypt(
            &Nonce::default(),
            Payload {
                msg: inner,
                aad: &out,
            },
        )
        .map_err(|_| BundleError::Malformed("không mã hoá được gói"))?;
    out.extend_from_slice(&sealed);
    let signature = sender.sign(SIGNATURE_CONTEXT, &out);
    out.extend_from_slice(&signature);
    Ok(out)
}

/// What a sealed bundle says of itself before it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    /// The node that made and signed the file.
    pub sender: NodeId,
    /// The nodes it is sealed to.
    pub recipients: Vec<NodeId>,
}

/// Checks the sender's signature over the whole file and reads who sent
/// it and to whom. A changed byte anywhere is refused here.
pub fn sealed_header(bytes: &[u8]) -> Result<SealedHeader, BundleError> {
    Ok(parse(bytes)?.0)
}

struct Parsed<'a> {
    ephemeral: [u8; 32],
    wrapped: Vec<&'a [u8]>,
    aad: &'a [u8],
    sealed: &'a [u8],
}

fn parse(bytes: &[u8]) -> Result<(SealedHeader, Parsed<'_>), BundleError> {
    let truncated = |expected: usize| BundleError::Truncated {
        expected: expected as u64,
        actual: bytes.len() as u64,
    };
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(BundleError::NotABundle);
    }
    if bytes.len() < FIXED_LEN {
        return Err(truncated(FIXED_LEN + SIGNATURE_LEN));
    }
    if bytes[8] != SEALED_VERSION {
        return Err(BundleError::UnsupportedVersion(bytes[8]));
    }
    let id = |b: &[u8]| -> Result<NodeId, BundleError> {
        let raw: [u8; 32] = b.try_into().expect("32 bytes");
        let id = NodeId::from_bytes(raw);
        id.verifying_key()
            .map_err(|_| BundleError::Malformed("mã nút trong gói không hợp lệ"))?;
        Ok(id)
    };
    let sender = id(&bytes[9..41])?;
    let ephemeral: [u8; 32] = bytes[41..73].try_into().expect("32 bytes");
    let n = usize::from(u16::from_le_bytes([bytes[73], bytes[74]]));
    if n == 0 || n > SEALED_RECIPIENTS_MAX {
        return Err(BundleError::Malformed("số nút nhận của gói không hợp lệ"));
    }
    let list_end = FIXED_LEN + n * (32 + WRAPPED_LEN);
    if bytes.len() < list_end + 8 + SIGNATURE_LEN {
        return Err(truncated(list_end + 8 + SIGNATURE_LEN));
    }
    let sealed_len = u64::from_le_bytes(bytes[list_end..list_end + 8].try_into().expect("8"));
    let expected = (list_end as u64 + 8)
        .saturating_add(sealed_len)
        .saturating_add(SIGNATURE_LEN as u64);
    if expected != bytes.len() as u64 {
        if expected > bytes.len() as u64 {
            return Err(BundleError::Truncated {
                expected,
                actual: bytes.len() as u64,
            });
        }
        return Err(BundleError::Malformed("gói có byte thừa sau chữ ký"));
    }
    let signed_len = bytes.len() - SIGNATURE_LEN;
    let signature: [u8; 64] = bytes[signed_len..].try_into().expect("64 bytes");
    if !danvan_model::verify_signature(&sender, SIGNATURE_CONTEXT, &bytes[..signed_len], &signature)
    {
        return Err(BundleError::BadSignature);
    }
    let mut recipients = Vec::with_capacity(n);
    let mut wrapped = Vec::with_capacity(n);
    for i in 0..n {
        let at = FIXED_LEN + i * (32 + WRAPPED_LEN);
        recipients.push(id(&bytes[at..at + 32])?);
        wrapped.push(&bytes[at + 32..at + 32 + WRAPPED_LEN]);
    }
    Ok((
        SealedHeader { sender, recipients },
        Parsed {
            ephemeral,
            wrapped,
            aad: &bytes[..list_end + 8],
            sealed: &bytes[list_end + 8..signed_len],
        },
    ))
}

/// Why a sealed bundle could not be opened by this node.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    /// The file's form or signature is wrong.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The file is sealed to other nodes.
    #[error(
        "gói này được mã hoá cho nút khác ({recipients}), không phải nút này ({us}); nút này không đọc được nó. Hãy nhờ nút gửi ({sender}) xuất lại gói với --for mã nút này"
    )]
    NotForUs {
        /// This node (short form).
        us: String,
        /// The nodes it is sealed to (short forms).
        recipients: String,
        /// The sender (short form).
        sender: String,
    },
    /// The signature holds but the content does not decrypt.
    #[error("gói mã hoá bị hỏng hoặc bị sửa (không giải mã được); không nhập gì")]
    Damaged,
}

/// Opens a sealed bundle with this node's key: checks the sender's
/// signature, finds this node among the recipients and returns the
/// version-1 bundle inside, whose every change the caller still verifies.
pub fn open_sealed_bundle(
    bytes: &[u8],
    key: &NodeKey,
) -> Result<(SealedHeader, Vec<u8>), OpenError> {
    let (header, parsed) = parse(bytes)?;
    let us = key.id();
    let Some(i) = header.recipients.iter().position(|r| *r == us) else {
        return Err(OpenError::NotForUs {
            us: us.short(),
            recipients: header
                .recipients
                .iter()
                .map(|r| r.short())
                .collect::<Vec<_>>()
                .join(", "),
            sender: header.sender.short(),
        });
    };
    let shared = MontgomeryPoint(parsed.ephemeral)
        .mul_clamped(key.x25519_secret())
        .to_bytes();
    let file_key = ChaCha20Poly1305::new(&wrap_key(&shared, &parsed.ephemeral, &us))
        .decrypt(&Nonce::default(), parsed.wrapped[i])
        .map_err(|_| OpenError::Damaged)?;
    let file_key: [u8; 32] = file_key.try_into().map_err(|_| OpenError::Damaged)?;
    let inner = ChaCha20Poly1305::new(&Key::from(file_key))
        .decrypt(
            &Nonce::default(),
            Payload {
                msg: parsed.sealed,
                aad: parsed.aad,
            },
        )
        .map_err(|_| OpenError::Damaged)?;
    Ok((header, inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> NodeKey {
        NodeKey::from_secret([n; 32])
    }

    #[test]
    fn only_named_nodes_open_and_a_flipped_byte_is_refused() {
        let inner = b"DANVANB\0 plaintext bundle with Nguyen Van A 012345678901".to_vec();
        let (a, b, c, d) = (key(1), key(2), key(3), key(4));
        let file = seal_bundle(&inner, &a, &[b.id(), c.id(), b.id()], [9; 32], [8; 32]).unwrap();
        assert!(is_sealed_bundle(&file));
        assert!(!file.windows(12).any(|w| w == b"012345678901"));
        for k in [&b, &c] {
            let (header, opened) = open_sealed_bundle(&file, k).unwrap();
            assert_eq!(opened, inner);
            assert_eq!(header.sender, a.id());
            assert_eq!(header.recipients, vec![b.id(), c.id()]);
        }
        assert!(matches!(
            open_sealed_bundle(&file, &d),
            Err(OpenError::NotForUs { .. })
        ));
        assert!(matches!(
            open_sealed_bundle(&file, &a),
            Err(OpenError::NotForUs { .. })
        ));
        for at in [9, 50, 80, file.len() / 2, file.len() - 70, file.len() - 1] {
            let mut bad = file.clone();
            bad[at] ^= 1;
            assert!(open_sealed_bundle(&bad, &b).is_err(), "byte {at} flipped");
        }
        assert!(open_sealed_bundle(&file[..file.len() - 1], &b).is_err());
    }
}
