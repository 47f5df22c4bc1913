//! The sneakernet bundle: a file of signed changes carried on a USB stick when
//! no link exists.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! magic        8 bytes  "DANVANB\0"
//! version      1 byte   1
//! compression  1 byte   0 = none, 1 = zstd
//! count        u32      number of changes
//! payload_len  u32      bytes of the (possibly compressed) payload
//! payload               count × change record, compressed as a whole if asked
//! sha256      32 bytes  SHA-256 of everything before it
//! ```
//!
//! A change record is `doc (16) | author (32) | signature (64) | hash (32) |
//! body_len (u32) | body`. The whole payload is compressed at once because
//! single Automerge changes are small and compress poorly one by one.
//!
//! Decoding checks the form only. The changes of a bundle are untrusted like
//! anything received from a peer: the importer passes each one through
//! [`SignedChange::verify`] before storing it, exactly as sync does.

use std::io::Read;

use danvan_model::{DocId, NodeId, SignedChange};
use sha2::{Digest, Sha256};

/// The first bytes of every bundle.
const BUNDLE_MAGIC: &[u8; 8] = b"DANVANB\0";
/// The bundle format this code writes and reads.
const BUNDLE_VERSION: u8 = 1;
/// Compression codes of the payload.
const COMPRESSION_NONE: u8 = 0;
const COMPRESSION_ZSTD: u8 = 1;
/// magic + version + compression + count + payload_len.
const HEADER_LEN: usize = 8 + 1 + 1 + 4 + 4;
const CHECKSUM_LEN: usize = 32;
/// doc + author + signature + hash + body_len: the smallest change record.
const RECORD_FIXED_LEN: usize = 16 + 32 + 64 + 32 + 4;
/// Largest decompressed payload accepted. A bundle is read whole into memory,
/// so this bounds the memory a hostile or broken file can make us use (a zstd
/// bomb stops here). 1 GiB is far beyond years of a commune's records.
pub const BUNDLE_PAYLOAD_BYTES_MAX: u64 = 1 << 30;
/// zstd level for bundles: files are written once and carried over slow
/// links, so spend a little more CPU than the default.
const BUNDLE_ZSTD_LEVEL: i32 = 9;

/// Why a bundle file could not be read. Nothing of a bundle that fails to
/// decode is imported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    /// The file does not start with the bundle magic bytes.
    #[error("tệp không phải gói thay đổi danvan")]
    NotABundle,
    /// The file is a bundle of a format this build does not know.
    #[error("phiên bản gói {0} chưa được hỗ trợ, hãy cập nhật danvan")]
    UnsupportedVersion(u8),
    /// The file ends before the length its header announces.
    #[error(
        "tệp gói thay đổi bị cắt cụt: cần {expected} byte, chỉ có {actual} byte; hãy chép lại tệp"
    )]
    Truncated {
        /// Bytes the header announces.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The SHA-256 at the end does not match the content: the file was damaged.
    #[error("tệp gói thay đổi bị hỏng (sai tổng kiểm tra SHA-256); hãy chép lại tệp")]
    ChecksumMismatch,
    /// The content is inconsistent although its checksum matches.
    #[error("nội dung gói thay đổi không hợp lệ: {0}")]
    Malformed(&'static str),
    /// The decompressed content is larger than this build accepts.
    #[error("gói thay đổi giải nén vượt quá {max} byte; hãy chia thành nhiều gói nhỏ hơn", max = BUNDLE_PAYLOAD_BYTES_MAX)]
    TooLarge,
    /// The payload decompresses to far more than any real bundle does for
    /// its size: a zstd bomb, refused before it costs the memory.
    #[error(
        "gói thay đổi giải nén ra hơn {BUNDLE_RATIO_MAX} lần kích thước nén — tệp hỏng hoặc cố ý gây hại; không nhập gì"
    )]
    Bomb,
}

/// Most bytes of payload per byte of compressed payload. Each change
/// carries 96 incompressible bytes (hash and signature), so a real bundle
/// compresses some 5 to 10 times; 64 leaves room and bounds the memory a
/// small hostile file costs to 64 times its size (plus 1 MiB).
pub const BUNDLE_RATIO_MAX: u64 = 64;

/// Writes changes as a bundle file, zstd-compressed.
pub fn encode_bundle(changes: &[SignedChange]) -> Vec<u8> {
    encode_bundle_with(changes, COMPRESSION_ZSTD)
}

fn encode_bundle_with(changes: &[SignedChange], compression: u8) -> Vec<u8> {
    let mut payload = Vec::with_capacity(
        changes
            .iter()
            .map(|c| RECORD_FIXED_LEN + c.body.len())
            .sum(),
    );
    for change in changes {
        payload.extend_from_slice(change.doc.as_bytes());
        payload.extend_from_slice(change.author.as_bytes());
        payload.extend_from_slice(&change.signature);
        payload.extend_from_slice(&change.hash);
        payload.extend_from_slice(&len_u32(change.body.len()).to_le_bytes());
        payload.extend_from_slice(&change.body);
    }
    let payload = match compression {
        COMPRESSION_ZSTD => zstd::bulk::compress(&payload, BUNDLE_ZSTD_LEVEL)
            .expect("zstd compression of an in-memory buffer does not fail"),
        _ => payload,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + CHECKSUM_LEN);
    out.extend_from_slice(BUNDLE_MAGIC);
    out.push(BUNDLE_VERSION);
    out.push(compression);
    out.extend_from_slice(&len_u32(changes.len()).to_le_bytes());
    out.extend_from_slice(&len_u32(payload.len()).to_le_bytes());
    out.extend_from_slice(&payload);
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    out
}

/// A length as the u32 of the format. Bundles are bounded far below 4 GiB
/// (see [`BUNDLE_PAYLOAD_BYTES_MAX`]); a caller that tries more has a bug.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).expect("bundle part larger than 4 GiB; split the bundle")
}

/// Reads a bundle file. Checks the magic, version, length and checksum before
/// looking at any change; never panics and never allocates more than the
/// input's size (or, for a compressed payload, what it actually decompresses
/// to, up to [`BUNDLE_PAYLOAD_BYTES_MAX`]).
pub fn decode_bundle(bytes: &[u8]) -> Result<Vec<SignedChange>, BundleError> {
    let actual = bytes.len() as u64;
    // A prefix of the magic is a truncated bundle; anything else is not one.
    let magic_seen = bytes.len().min(BUNDLE_MAGIC.len());
    if bytes[..magic_seen] != BUNDLE_MAGIC[..magic_seen] {
        return Err(BundleError::NotABundle);
    }
    if bytes.len() > BUNDLE_MAGIC.len() && bytes[8] != BUNDLE_VERSION {
        return Err(BundleError::UnsupportedVersion(bytes[8]));
    }
    if bytes.len() < HEADER_LEN {
        return Err(BundleError::Truncated {
            expected: (HEADER_LEN + CHECKSUM_LEN) as u64,
            actual,
        });
    }
    let compression = bytes[9];
    let count = read_u32(&bytes[10..14]);
    let payload_len = read_u32(&bytes[14..18]) as usize;
    let total = HEADER_LEN as u64 + payload_len as u64 + CHECKSUM_LEN as u64;
    if actual < total {
        return Err(BundleError::Truncated {
            expected: total,
            actual,
        });
    }
    if actual > total {
        return Err(BundleError::Malformed("thừa dữ liệu sau tổng kiểm tra"));
    }
    let (content, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if Sha256::digest(content)[..] != checksum[..] {
        return Err(BundleError::ChecksumMismatch);
    }
    let stored = &content[HEADER_LEN..];
    let decompressed;
    let payload: &[u8] = match compression {
        COMPRESSION_NONE => stored,
        COMPRESSION_ZSTD => {
            decompressed = decompress_bounded(stored)?;
            &decompressed
        }
        _ => return Err(BundleError::Malformed("kiểu nén không xác định")),
    };
    decode_records(payload, count)
}

/// Decompresses into a buffer that grows with the actual output, never with
/// a size announced by the input, and stops at the bound.
fn decompress_bounded(stored: &[u8]) -> Result<Vec<u8>, BundleError> {
    let decoder = zstd::stream::read::Decoder::new(stored)
        .map_err(|_| BundleError::Malformed("không giải nén được"))?;
    let by_ratio = (stored.len() as u64)
        .saturating_mul(BUNDLE_RATIO_MAX)
        .saturating_add(1 << 20);
    let limit = by_ratio.min(BUNDLE_PAYLOAD_BYTES_MAX);
    let mut out = Vec::new();
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|_| BundleError::Malformed("dữ liệu nén zstd hỏng"))?;
    if out.len() as u64 > limit {
        return Err(if limit < BUNDLE_PAYLOAD_BYTES_MAX {
            BundleError::Bomb
        } else {
            BundleError::TooLarge
        });
    }
    Ok(out)
}

fn decode_records(payload: &[u8], count: u32) -> Result<Vec<SignedChange>, BundleError> {
    // The count is untrusted: reserve no more records than the payload can hold.
    let mut changes = Vec::with_capacity((count as usize).min(payload.len() / RECORD_FIXED_LEN));
    let mut rest = payload;
    for _ in 0..count {
        if rest.len() < RECORD_FIXED_LEN {
            return Err(BundleError::Malformed("ít thay đổi hơn số đã khai"));
        }
        let (fixed, after) = rest.split_at(RECORD_FIXED_LEN);
        let body_len = read_u32(&fixed[144..148]) as usize;
        if after.len() < body_len {
            return Err(BundleError::Malformed(
                "độ dài nội dung thay đổi vượt quá tệp",
            ));
        }
        let (body, after) = after.split_at(body_len);
        changes.push(SignedChange {
            doc: DocId::from_bytes(array(&fixed[0..16])),
            author: NodeId::from_bytes(array(&fixed[16..48])),
            signature: array(&fixed[48..112]),
            hash: array(&fixed[112..144]),
            body: body.to_vec(),
        });
        rest = after;
    }
    if !rest.is_empty() {
        return Err(BundleError::Malformed(
            "nhiều dữ liệu hơn số thay đổi đã khai",
        ));
    }
    Ok(changes)
}

fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(array(bytes))
}

/// Copies a slice whose length the caller has already checked.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use danvan_model::NodeKey;

    fn sample_changes(n: usize) -> Vec<SignedChange> {
        let key = NodeKey::from_secret([3; 32]);
        let doc = DocId::from_bytes([9; 16]);
        let mut am = automerge::AutoCommit::new().with_actor(key.actor(&[1; 8]));
        let mut out = Vec::new();
        for i in 0..n {
            use automerge::transaction::Transactable;
            am.put(automerge::ROOT, "visits", i as i64).unwrap();
            am.commit();
            let mut change = am.get_last_local_change().unwrap().clone();
            out.push(key.sign_change(&doc, &mut change));
        }
        out
    }

    #[test]
    fn bundle_round_trips_compressed_and_plain() {
        let changes = sample_changes(5);
        for compression in [COMPRESSION_NONE, COMPRESSION_ZSTD] {
            let bytes = encode_bundle_with(&changes, compression);
            let back = decode_bundle(&bytes).unwrap();
            assert_eq!(back, changes);
            for change in &back {
                change.verify().unwrap();
            }
        }
        assert_eq!(decode_bundle(&encode_bundle(&[])).unwrap(), vec![]);
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let bytes = encode_bundle(&sample_changes(3));
        for len in 0..bytes.len() {
            let err = decode_bundle(&bytes[..len]).unwrap_err();
            assert!(
                matches!(err, BundleError::Truncated { .. }),
                "length {len}: {err:?}"
            );
            assert!(err.to_string().contains("bị cắt cụt"));
        }
    }

    #[test]
    fn every_flipped_byte_fails() {
        for compression in [COMPRESSION_NONE, COMPRESSION_ZSTD] {
            let bytes = encode_bundle_with(&sample_changes(2), compression);
            for i in 0..bytes.len() {
                let mut bad = bytes.clone();
                bad[i] ^= 0x40;
                assert!(
                    decode_bundle(&bad).is_err(),
                    "byte {i} flipped was accepted"
                );
            }
        }
    }

    #[test]
    fn wrong_magic_and_version_say_so() {
        let mut bytes = encode_bundle(&sample_changes(1));
        assert_eq!(
            decode_bundle(b"PK\x03\x04 a zip file").unwrap_err(),
            BundleError::NotABundle
        );
        bytes[8] = 9;
        let err = decode_bundle(&bytes).unwrap_err();
        assert_eq!(err, BundleError::UnsupportedVersion(9));
        assert_eq!(
            err.to_string(),
            "phiên bản gói 9 chưa được hỗ trợ, hãy cập nhật danvan"
        );
    }

    /// A file with a valid checksum but lying counts and lengths: the checksum
    /// protects against damage, not against a hostile author.
    #[test]
    fn lying_lengths_fail_without_huge_allocation() {
        fn with_checksum(mut content: Vec<u8>) -> Vec<u8> {
            let sum = Sha256::digest(&content);
            content.extend_from_slice(&sum);
            content
        }
        let mut header = BUNDLE_MAGIC.to_vec();
        header.extend_from_slice(&[BUNDLE_VERSION, COMPRESSION_NONE]);
        // u32::MAX changes announced, none present.
        let mut lying_count = header.clone();
        lying_count.extend_from_slice(&u32::MAX.to_le_bytes());
        lying_count.extend_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            decode_bundle(&with_checksum(lying_count)),
            Err(BundleError::Malformed(_))
        ));
        // One change whose body length points far past the end.
        let mut record = vec![0u8; RECORD_FIXED_LEN];
        record[144..148].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut lying_body = header.clone();
        lying_body.extend_from_slice(&1u32.to_le_bytes());
        lying_body.extend_from_slice(&len_u32(record.len()).to_le_bytes());
        lying_body.extend_from_slice(&record);
        assert!(matches!(
            decode_bundle(&with_checksum(lying_body)),
            Err(BundleError::Malformed(_))
        ));
        // A zstd payload that is not zstd.
        let mut bad_zstd = BUNDLE_MAGIC.to_vec();
        bad_zstd.extend_from_slice(&[BUNDLE_VERSION, COMPRESSION_ZSTD]);
        bad_zstd.extend_from_slice(&0u32.to_le_bytes());
        bad_zstd.extend_from_slice(&4u32.to_le_bytes());
        bad_zstd.extend_from_slice(b"junk");
        assert!(matches!(
            decode_bundle(&with_checksum(bad_zstd)),
            Err(BundleError::Malformed(_))
        ));
    }
}
