//! The sneakernet bundle: a file of signed changes carried on a USB stick when
//! no link exists.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! magic        8 bytes  "DANVANB\0"
//! version      1 byte   1, or 3 when a change has no signature of its own
//!                       (2 is a sealed bundle: `crate::sealed`)
//! compression  1 byte   0 = none, 1 = zstd
//! count        u32      number of changes
//! payload_len  u32      bytes of the (possibly compressed) payload
//! payload               count × change record, compressed as a whole if asked
//! sha256      32 bytes  SHA-256 of everything before it
//! ```
//!
//! A change record is `doc (16) | author (32) | signature (64) | hash (32) |
//! body_len (u32) | body`. In version 3 a signature of 64 zero bytes
//! stands for none: the change is covered by a later change of its author
//! and record in the bundle (protocol 4's rule, `danvan_model::verify_group`);
//! a bundle of changes that all carry their own is written as version 1,
//! which every release reads. The whole payload is compressed at once because
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
/// The bundle format of changes that all carry their own signature.
const BUNDLE_VERSION: u8 = 1;
/// The bundle format that may hold a change without its own signature
/// (2 is the sealed bundle's, `crate::sealed`).
const BUNDLE_VERSION_COVERED: u8 = 3;
/// Compression codes of the payload.
const COMPRESSION_NONE: u8 = 0;
const COMPRESSION_ZSTD: u8 = 1;
/// magic + version + compression + count + payload_len.
const HEADER_LEN: usize = 8 + 1 + 1 + 4 + 4;
const CHECKSUM_LEN: usize = 32;
/// doc + author + signature + hash + body_len: the smallest change record.
const RECORD_FIXED_LEN: usize = 16 + 32 + 64 + 32 + 4;
/// Largest decompressed payload accepted (a zstd bomb stops here; the
/// payload is decoded as a stream, never held whole). 1 GiB is far beyond
/// years of a commune's records.
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
    /// The sender's signature over a sealed bundle does not hold: a byte
    /// was changed after it was signed.
    #[error("chữ ký của gói mã hoá không đúng: tệp đã bị sửa hoặc bị hỏng; không nhập gì")]
    BadSignature,
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
        payload.extend_from_slice(&change.signature.unwrap_or([0; 64]));
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
    out.push(if changes.iter().all(|c| c.signature.is_some()) {
        BUNDLE_VERSION
    } else {
        BUNDLE_VERSION_COVERED
    });
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

/// Reads a bundle held in memory: the form is checked whole (checksum
/// included) before any change is returned. Never panics and never
/// allocates more than the input's size (or, for a compressed payload,
/// what it actually decompresses to, within the bounds of
/// [`BundleReader`]).
pub fn decode_bundle(bytes: &[u8]) -> Result<Vec<SignedChange>, BundleError> {
    verify_bundle(bytes, bytes.len() as u64)?;
    let mut reader = BundleReader::new(bytes, bytes.len() as u64)?;
    let mut changes = Vec::new();
    while let Some(change) = reader.next_change()? {
        changes.push(change);
    }
    reader.finish()?;
    Ok(changes)
}

/// Checks the whole form of a bundle read from `input` (`len` bytes, as
/// its file says) without keeping any change: magic, version, lengths,
/// every change record, the decompression bounds and the checksum. A
/// damaged file is reported as damaged (the checksum is checked even when
/// the payload does not decode). Memory: one change and the decoder's
/// window, whatever the file's size.
pub fn verify_bundle<R: Read>(input: R, len: u64) -> Result<u32, BundleError> {
    let mut reader = BundleReader::new(input, len)?;
    let mut seen = 0u32;
    let decoded = loop {
        match reader.next_change() {
            Ok(Some(_)) => seen += 1,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    match decoded {
        Ok(()) => reader.finish().map(|()| seen),
        // The payload did not decode: damage (a wrong checksum) is the
        // likelier cause and the more useful message.
        Err(e) => match reader.finish_after_error() {
            Err(BundleError::ChecksumMismatch) => Err(BundleError::ChecksumMismatch),
            _ => Err(e),
        },
    }
}

/// Reads at most `remaining` bytes of the stored payload, hashing them.
struct Stored<R> {
    inner: R,
    remaining: u64,
    hasher: Sha256,
}

impl<R: Read> Read for Stored<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (buf.len() as u64).min(self.remaining) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.hasher.update(&buf[..n]);
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The payload as it decodes: plain, or through a streaming zstd decoder.
enum Payload<R: Read> {
    Plain(Stored<R>),
    Zstd(zstd::stream::read::Decoder<'static, std::io::BufReader<Stored<R>>>),
}

/// A bundle decoded change by change from a stream: the file is never
/// held whole, and neither is its payload. Memory is one change plus the
/// zstd window, and the decompressed total is bounded as
/// [`decode_bundle`] always was (at most [`BUNDLE_RATIO_MAX`] times the
/// compressed size plus 1 MiB, and [`BUNDLE_PAYLOAD_BYTES_MAX`]).
///
/// The checksum covers the whole file and is known only at its end
/// ([`BundleReader::finish`]): a caller that must store nothing of a bad
/// file runs [`verify_bundle`] over it first.
pub struct BundleReader<R: Read> {
    /// Version 3: a zero signature stands for none.
    covered: bool,
    payload: Option<Payload<R>>,
    count: u32,
    read: u32,
    /// Decompressed bytes taken so far, and the most allowed.
    taken: u64,
    limit: u64,
    /// Whether the limit is the ratio's (a bomb) or the absolute one.
    by_ratio: bool,
}

impl<R: Read> BundleReader<R> {
    /// Reads and checks the header of a bundle of `len` bytes (the file's
    /// size): magic, version, compression, and that the lengths it
    /// announces are the file's.
    pub fn new(mut input: R, len: u64) -> Result<BundleReader<R>, BundleError> {
        let mut header = [0u8; HEADER_LEN];
        let got = read_up_to(&mut input, &mut header)
            .map_err(|_| BundleError::Malformed("không đọc được tệp"))?;
        // A prefix of the magic is a truncated bundle; anything else is not one.
        let magic_seen = got.min(BUNDLE_MAGIC.len());
        if header[..magic_seen] != BUNDLE_MAGIC[..magic_seen] {
            return Err(BundleError::NotABundle);
        }
        if got > BUNDLE_MAGIC.len()
            && header[8] != BUNDLE_VERSION
            && header[8] != BUNDLE_VERSION_COVERED
        {
            return Err(BundleError::UnsupportedVersion(header[8]));
        }
        if got < HEADER_LEN {
            return Err(BundleError::Truncated {
                expected: (HEADER_LEN + CHECKSUM_LEN) as u64,
                actual: len.min(got as u64),
            });
        }
        let compression = header[9];
        let count = read_u32(&header[10..14]);
        let payload_len = read_u32(&header[14..18]) as u64;
        let total = HEADER_LEN as u64 + payload_len + CHECKSUM_LEN as u64;
        if len < total {
            return Err(BundleError::Truncated {
                expected: total,
                actual: len,
            });
        }
        if len > total {
            return Err(BundleError::Malformed("thừa dữ liệu sau tổng kiểm tra"));
        }
        let mut hasher = Sha256::new();
        hasher.update(header);
        let stored = Stored {
            inner: input,
            remaining: payload_len,
            hasher,
        };
        let by_ratio = payload_len
            .saturating_mul(BUNDLE_RATIO_MAX)
            .saturating_add(1 << 20);
        let (payload, limit, by_ratio) = match compression {
            COMPRESSION_NONE => (Payload::Plain(stored), payload_len, false),
            COMPRESSION_ZSTD => (
                Payload::Zstd(
                    zstd::stream::read::Decoder::new(stored)
                        .map_err(|_| BundleError::Malformed("không giải nén được"))?,
                ),
                by_ratio.min(BUNDLE_PAYLOAD_BYTES_MAX),
                by_ratio < BUNDLE_PAYLOAD_BYTES_MAX,
            ),
            _ => return Err(BundleError::Malformed("kiểu nén không xác định")),
        };
        Ok(BundleReader {
            covered: header[8] == BUNDLE_VERSION_COVERED,
            payload: Some(payload),
            count,
            read: 0,
            taken: 0,
            limit,
            by_ratio,
        })
    }

    /// The number of changes the header announces.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Reads into `buf` exactly, from the decoded payload, within the
    /// decompression bound. False at a clean end of the payload.
    fn payload_exact(&mut self, buf: &mut [u8]) -> Result<usize, BundleError> {
        let Some(payload) = self.payload.as_mut() else {
            return Ok(0);
        };
        let mut filled = 0;
        while filled < buf.len() {
            let n = match payload {
                Payload::Plain(p) => p.read(&mut buf[filled..]),
                Payload::Zstd(z) => z.read(&mut buf[filled..]),
            };
            let n = match n {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(BundleError::Malformed(
                        "độ dài nội dung thay đổi vượt quá tệp",
                    ));
                }
                Err(_) => return Err(BundleError::Malformed("dữ liệu nén zstd hỏng")),
            };
            filled += n;
            self.taken += n as u64;
            if self.taken > self.limit {
                return Err(if self.by_ratio {
                    BundleError::Bomb
                } else {
                    BundleError::TooLarge
                });
            }
        }
        Ok(filled)
    }

    /// The next change, or `None` after the count the header announced.
    pub fn next_change(&mut self) -> Result<Option<SignedChange>, BundleError> {
        if self.read == self.count {
            return Ok(None);
        }
        let mut fixed = [0u8; RECORD_FIXED_LEN];
        if self.payload_exact(&mut fixed)? < RECORD_FIXED_LEN {
            return Err(BundleError::Malformed("ít thay đổi hơn số đã khai"));
        }
        let body_len = read_u32(&fixed[144..148]) as usize;
        // Grown as bytes arrive, never sized by the untrusted length.
        let mut body = Vec::new();
        let mut chunk = [0u8; 8192];
        while body.len() < body_len {
            let want = (body_len - body.len()).min(chunk.len());
            let got = self.payload_exact(&mut chunk[..want])?;
            if got < want {
                return Err(BundleError::Malformed(
                    "độ dài nội dung thay đổi vượt quá tệp",
                ));
            }
            body.extend_from_slice(&chunk[..got]);
        }
        self.read += 1;
        Ok(Some(SignedChange {
            doc: DocId::from_bytes(array(&fixed[0..16])),
            author: NodeId::from_bytes(array(&fixed[16..48])),
            signature: Some(array(&fixed[48..112]))
                .filter(|s: &[u8; 64]| !self.covered || s.iter().any(|b| *b != 0)),
            hash: array(&fixed[112..144]),
            body,
        }))
    }

    /// After the last change: checks that the payload holds nothing more
    /// and that the file's checksum matches everything read.
    pub fn finish(mut self) -> Result<(), BundleError> {
        if self.read < self.count {
            return Err(BundleError::Malformed("ít thay đổi hơn số đã khai"));
        }
        // Whatever follows the last change is read to its end within the
        // decompression bound, so a bomb behind a short bundle is named as
        // one.
        let mut extra = false;
        let mut scratch = vec![0u8; 64 * 1024];
        loop {
            let n = self.payload_exact(&mut scratch)?;
            extra |= n > 0;
            if n < scratch.len() {
                break;
            }
        }
        if extra {
            return Err(BundleError::Malformed(
                "nhiều dữ liệu hơn số thay đổi đã khai",
            ));
        }
        self.check_sum()
    }

    /// Checks the checksum after a decoding error: the rest of the stored
    /// payload is read (and hashed) without decoding it.
    fn finish_after_error(self) -> Result<(), BundleError> {
        self.check_sum()
    }

    fn check_sum(mut self) -> Result<(), BundleError> {
        let mut stored = match self.payload.take() {
            Some(Payload::Plain(p)) => p,
            Some(Payload::Zstd(z)) => z.finish().into_inner(),
            None => return Err(BundleError::Malformed("không đọc được tệp")),
        };
        std::io::copy(&mut stored, &mut std::io::sink())
            .map_err(|_| BundleError::Malformed("không đọc được tệp"))?;
        let mut checksum = [0u8; CHECKSUM_LEN];
        if read_up_to(&mut stored.inner, &mut checksum)
            .map_err(|_| BundleError::Malformed("không đọc được tệp"))?
            < CHECKSUM_LEN
        {
            return Err(BundleError::ChecksumMismatch);
        }
        if stored.hasher.finalize()[..] != checksum[..] {
            return Err(BundleError::ChecksumMismatch);
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn read_up_to<R: Read>(input: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
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
pub(crate) mod tests {
    use super::*;
    use danvan_model::NodeKey;

    /// `n` signed changes of one record, each depending on the one before.
    pub(crate) fn sample_changes(n: usize) -> Vec<SignedChange> {
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

    /// A reader that hands out one byte per call, as a slow pipe might.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(out)) => {
                    *out = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn a_stream_decodes_change_by_change_and_checks_the_sum_at_its_end() {
        let changes = sample_changes(40);
        for compression in [COMPRESSION_NONE, COMPRESSION_ZSTD] {
            let bytes = encode_bundle_with(&changes, compression);
            let len = bytes.len() as u64;
            assert_eq!(verify_bundle(Trickle(&bytes), len), Ok(40));
            let mut reader = BundleReader::new(Trickle(&bytes), len).unwrap();
            assert_eq!(reader.count(), 40);
            let mut back = Vec::new();
            while let Some(change) = reader.next_change().unwrap() {
                back.push(change);
            }
            reader.finish().unwrap();
            assert_eq!(back, changes);
            // Damage in the payload is reported as damage, by the check
            // that runs before anything is kept.
            let mut bad = bytes.clone();
            let middle = HEADER_LEN + (bytes.len() - HEADER_LEN - CHECKSUM_LEN) / 2;
            bad[middle] ^= 0x01;
            assert_eq!(
                verify_bundle(Trickle(&bad), len),
                Err(BundleError::ChecksumMismatch)
            );
        }
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
