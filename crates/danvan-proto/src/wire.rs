//! The wire format: one message per transport frame, encoded by hand.
//!
//! Every message starts with a version byte (the protocol version it is
//! written in) and a kind byte. Integers are LEB128 varints unless a width is
//! given; fixed-width integers are little-endian.
//!
//! ```text
//! Hello   1  version u16, min_version u16, node [32], epoch [8],
//!            latest_seq, roster_version, flags u8 (1 = cold, 2 = checkpoint,
//!            4 = send every signature held: version 4's hub),
//!            [checkpoint epoch [8], checkpoint seq]
//! Offer   2  from_seq, upto_seq, count, count × hash [32]  (count 0: no Want follows)
//! Want    3  upto_seq, count, bitmap of ceil(count / 8) bytes (bit i = want hash i)
//! Bodies  4  upto_seq, changes
//! Inline  5  from_seq, upto_seq, changes                  (no change: no Ack follows)
//! Ack     6  upto_seq
//! Abort   7  reason length, reason (UTF-8)
//! Roster  8  length, the signed roster (danvan-model's encoding)
//! Refused 9  upto_seq, count, count × (hash [32], reason length, reason)
//!            (version 2: the puller's refusals of a batch, before its Ack)
//!
//! changes: compression u8 (0 = none, 1 = zstd) [, raw length if zstd], then
//!          (compressed) count, then columns: count × doc [16], count ×
//!          author [32], count × signature [64], count × body length,
//!          the bodies one after another (version 3: each body coded as
//!          in [`crate::elide`], a dependency the message carries named by
//!          reference; the lengths are the coded ones; version 4: before the
//!          signatures a bitmap of ceil(count / 8) bytes, bit i set = change
//!          i carries its signature, and only those signatures follow — a
//!          change without one is covered by a signed change of its author
//!          and record in the same message whose history reaches it, see
//!          [`crate::cover`])
//! ```
//!
//! The Hello and Abort layouts never change: later versions only append
//! fields to Hello, and a Hello written in a newer version is read up to the fields this build
//! knows. That is how two versions find the one they share.
//!
//! Change hashes are not sent with bodies: the receiver computes them from
//! the body (Bodies answer a Want in its order, so the receiver knows which
//! hash each body must have). That saves 32 incompressible bytes per change,
//! which matters on a cold sync over 2G.

use std::io::Read;

use danvan_model::{DocId, EPOCH_LEN, NodeId, ROSTER_BYTES_MAX, SignedChange};

use crate::elide::{Received, Sent};
use crate::limits::{
    ABORT_REASON_BYTES_MAX, BATCH_CHANGES_MAX, CHANGE_BYTES_MAX, DECOMPRESSED_BYTES_MAX,
    MESSAGE_BYTES_MAX, OFFER_HASHES_MAX, PROTOCOL_VERSION, REFUSED_REASON_BYTES_MAX,
};
use danvan_model::Checkpoint;

const KIND_HELLO: u8 = 1;
const KIND_OFFER: u8 = 2;
const KIND_WANT: u8 = 3;
const KIND_BODIES: u8 = 4;
const KIND_INLINE: u8 = 5;
const KIND_ACK: u8 = 6;
const KIND_ABORT: u8 = 7;
const KIND_ROSTER: u8 = 8;
const KIND_REFUSED: u8 = 9;
/// The first protocol version with `Refused`.
pub(crate) const REFUSED_SINCE_VERSION: u8 = 2;
/// The first protocol version whose bodies name a dependency the same
/// message carries by reference ([`crate::elide`]).
pub(crate) const DEPS_CODED_SINCE_VERSION: u8 = 3;
/// The first protocol version in which a change may travel without its
/// own signature, covered by a later one of its author ([`crate::cover`]).
pub(crate) const COVERED_SINCE_VERSION: u8 = 4;

const HELLO_FLAG_COLD: u8 = 1;
const HELLO_FLAG_CHECKPOINT: u8 = 2;
const HELLO_FLAG_KEEP_SIGNATURES: u8 = 4;

const COMPRESSION_NONE: u8 = 0;
const COMPRESSION_ZSTD: u8 = 1;
/// Below this a payload is sent as is: zstd's frame header would outweigh
/// what it saves.
const COMPRESS_BYTES_MIN: usize = 128;
/// zstd level for a large payload of bodies (a cold pull's batches):
/// level 7's lazy match search, its match tables capped at level 3's size
/// (`ZSTD_TABLE_LOG`). Against level 3 on a cold pull of 10,000 records:
/// 6 % fewer bytes on the wire (on 2G, bytes are the time) for ~4× the
/// compressing CPU (~180 MB/s: ~0.04 s of a hub's CPU per 10,000 records),
/// no more memory per call. Uncapped, level 7's tables (~5.7 MB a call)
/// raised a hub's RSS by 8 MiB. Decompression is as fast.
const ZSTD_LEVEL: i32 = 7;
/// Below this many bytes a payload is compressed at level 3: small
/// payloads gain little, and at level 7 forty nodes syncing a few records
/// each at once raised the hub's peak memory from 41 to 47 MiB
/// (`danvan-bench --quick load`).
const ZSTD_LARGE_BYTES: usize = 128 * 1024;
/// zstd level below [`ZSTD_LARGE_BYTES`].
const ZSTD_SMALL_LEVEL: i32 = 3;
/// log2 of the hash and chain tables' entries (4 B each): 2 × 512 KiB.
const ZSTD_TABLE_LOG: u32 = 17;
/// doc + author + signature + a one-byte body length.
const WIRE_CHANGE_BYTES_MIN: usize = 16 + 32 + 64 + 1;
/// Version 4: doc + author + a one-byte body length (the signature may
/// be left out, its bit counted apart).
const WIRE_CHANGE_BYTES_MIN_COVERED: usize = 16 + 32 + 1;

/// The opening message of each side of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The newest protocol version the sender speaks.
    pub version: u16,
    /// The oldest protocol version the sender still speaks.
    pub min_version: u16,
    /// The sender's node id; must match the TLS-authenticated peer.
    pub node: NodeId,
    /// The epoch of the sender's store.
    pub epoch: [u8; EPOCH_LEN],
    /// The newest seq of the sender's change feed.
    pub latest_seq: u64,
    /// The version of the roster the sender holds (0 = none yet).
    pub roster_version: u64,
    /// How far the sender has pulled from the receiver's feed, if ever.
    pub checkpoint: Option<Checkpoint>,
    /// The sender's store is empty: send bodies inline, skip hash offers.
    pub cold: bool,
    /// Send every change with its own signature when it is held with one
    /// (a hub: it serves peers of older versions, which need them). Read
    /// from version 4 on; an older peer never leaves one out anyway.
    pub keep_signatures: bool,
}

/// A change as it travels in Bodies and Inline: a [`danvan_model::SignedChange`]
/// without its hash, which the receiver computes from the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireChange {
    /// The document (record) the change belongs to.
    pub doc: DocId,
    /// The node that made and signed the change.
    pub author: NodeId,
    /// The author's signature over document id and change hash; `None`
    /// when a later change of its author in the same message covers it
    /// (version 4).
    pub signature: Option<[u8; 64]>,
    /// The raw Automerge change.
    pub body: Vec<u8>,
}

impl From<SignedChange> for WireChange {
    /// A stored change as it travels: the hash is left out, since the
    /// receiver computes it from the body.
    fn from(change: SignedChange) -> Self {
        WireChange {
            doc: change.doc,
            author: change.author,
            signature: change.signature,
            body: change.body,
        }
    }
}

impl WireChange {
    /// The change as received, named by `hash` (the hash it was asked for,
    /// or the one computed from its body); not verified yet.
    pub fn with_hash(self, hash: [u8; 32]) -> SignedChange {
        SignedChange {
            hash,
            doc: self.doc,
            author: self.author,
            signature: self.signature,
            body: self.body,
        }
    }
}

/// One protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Opens a session: versions, identity, store epoch, feed position.
    Hello(Hello),
    /// The sender's feed entries in `(from_seq, upto_seq]` that the puller
    /// may lack, by hash.
    Offer {
        /// The puller's checkpoint the offer continues from.
        from_seq: u64,
        /// The feed seq the puller's checkpoint moves to once the wanted
        /// bodies are committed.
        upto_seq: u64,
        /// Hashes offered, in feed order.
        hashes: Vec<[u8; 32]>,
    },
    /// The puller's answer to the offer ending at `upto_seq`.
    Want {
        /// Identifies the offer answered.
        upto_seq: u64,
        /// One flag per offered hash: true = send the body.
        wanted: Vec<bool>,
    },
    /// Bodies of wanted changes, in the order they were wanted. One Want may
    /// be answered by several Bodies messages.
    Bodies {
        /// Identifies the offer these bodies belong to.
        upto_seq: u64,
        /// The changes.
        changes: Vec<WireChange>,
    },
    /// For a cold puller: the feed entries in `(from_seq, upto_seq]` with
    /// their bodies, without an offer.
    Inline {
        /// The puller's checkpoint the batch continues from.
        from_seq: u64,
        /// The seq the puller's checkpoint moves to once committed.
        upto_seq: u64,
        /// The changes.
        changes: Vec<WireChange>,
    },
    /// The puller committed the batch ending at `upto_seq`.
    Ack {
        /// The new checkpoint seq.
        upto_seq: u64,
    },
    /// The sender's signed roster, sent right after Hello when its version
    /// is newer than the peer's: the roster syncs before anything else.
    Roster {
        /// The encoded signed roster (at most [`ROSTER_BYTES_MAX`]).
        bytes: Vec<u8>,
    },
    /// The puller refused these changes of the batch ending at `upto_seq`
    /// (its roster does not let their signer write them, a signature is
    /// bad…): sent before that batch's Ack, so the sender can tell its
    /// user which work was not accepted. At most one per batch.
    Refused {
        /// Identifies the batch.
        upto_seq: u64,
        /// Each refused change's hash and why (at most
        /// [`REFUSED_REASON_BYTES_MAX`] bytes of reason each).
        refused: Vec<([u8; 32], String)>,
    },
    /// The sender ends the session, and says why (for the peer's log).
    Abort {
        /// A human-readable reason.
        reason: String,
    },
}

/// Why bytes are not a valid message. Nothing of such a message is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame has no bytes.
    #[error("tin nhắn rỗng")]
    Empty,
    /// The frame is longer than the protocol allows.
    #[error("tin nhắn dài {len} byte, vượt giới hạn {max} byte")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The message is written in a protocol version this build does not read.
    #[error(
        "tin nhắn viết theo phiên bản giao thức {0}, bản danvan này chưa hỗ trợ — hãy cập nhật danvan"
    )]
    UnknownVersion(u8),
    /// The kind byte is not a known message.
    #[error("loại tin nhắn {0} không xác định")]
    UnknownKind(u8),
    /// The message ends in the middle of a field.
    #[error("tin nhắn bị cắt cụt")]
    Truncated,
    /// A varint is longer than 10 bytes or overflows 64 bits.
    #[error("số nguyên mã hóa sai")]
    BadVarint,
    /// A count or length exceeds its protocol bound.
    #[error("{what} = {value} vượt giới hạn {max}")]
    Limit {
        /// Which field.
        what: &'static str,
        /// The value read.
        value: u64,
        /// The bound.
        max: u64,
    },
    /// A zstd payload is corrupt or does not match its announced length.
    #[error("dữ liệu nén zstd hỏng")]
    Decompress,
    /// Bytes remain after the last field.
    #[error("thừa {0} byte ở cuối tin nhắn")]
    TrailingBytes(usize),
    /// A field has a value the protocol does not allow.
    #[error("trường không hợp lệ: {0}")]
    Invalid(&'static str),
}

/// Whether a frame is of a kind that carries changes (Bodies or Inline), by
/// its kind byte alone: a cheap test before decoding it.
pub fn carries_changes(frame: &[u8]) -> bool {
    matches!(frame.get(1), Some(&(KIND_BODIES | KIND_INLINE)))
}

/// Encodes a message in this build's protocol version.
pub fn encode_message(message: &Message) -> Vec<u8> {
    encode_message_as(PROTOCOL_VERSION as u8, message)
}

/// Encodes a message in protocol `version` (its first byte), with that
/// version's layout: what a session sends once the versions are agreed.
pub fn encode_message_as(version: u8, message: &Message) -> Vec<u8> {
    let mut out = vec![version];
    match message {
        Message::Hello(hello) => {
            out.push(KIND_HELLO);
            out.extend_from_slice(&hello.version.to_le_bytes());
            out.extend_from_slice(&hello.min_version.to_le_bytes());
            out.extend_from_slice(hello.node.as_bytes());
            out.extend_from_slice(&hello.epoch);
            put_varint(&mut out, hello.latest_seq);
            put_varint(&mut out, hello.roster_version);
            let mut flags = 0;
            if hello.cold {
                flags |= HELLO_FLAG_COLD;
            }
            if hello.checkpoint.is_some() {
                flags |= HELLO_FLAG_CHECKPOINT;
            }
            if hello.keep_signatures {
                flags |= HELLO_FLAG_KEEP_SIGNATURES;
            }
            out.push(flags);
            if let Some(checkpoint) = &hello.checkpoint {
                out.extend_from_slice(&checkpoint.epoch);
                put_varint(&mut out, checkpoint.seq);
            }
        }
        Message::Offer {
            from_seq,
            upto_seq,
            hashes,
        } => {
            out.push(KIND_OFFER);
            put_varint(&mut out, *from_seq);
            put_varint(&mut out, *upto_seq);
            put_varint(&mut out, hashes.len() as u64);
            for hash in hashes {
                out.extend_from_slice(hash);
            }
        }
        Message::Want { upto_seq, wanted } => {
            out.push(KIND_WANT);
            put_varint(&mut out, *upto_seq);
            put_varint(&mut out, wanted.len() as u64);
            put_bitmap(&mut out, wanted.iter().copied());
        }
        Message::Bodies { upto_seq, changes } => {
            out.push(KIND_BODIES);
            put_varint(&mut out, *upto_seq);
            put_changes(&mut out, version, changes);
        }
        Message::Inline {
            from_seq,
            upto_seq,
            changes,
        } => {
            out.push(KIND_INLINE);
            put_varint(&mut out, *from_seq);
            put_varint(&mut out, *upto_seq);
            put_changes(&mut out, version, changes);
        }
        Message::Ack { upto_seq } => {
            out.push(KIND_ACK);
            put_varint(&mut out, *upto_seq);
        }
        Message::Roster { bytes } => {
            out.push(KIND_ROSTER);
            put_varint(&mut out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
        Message::Refused { upto_seq, refused } => {
            out.push(KIND_REFUSED);
            put_varint(&mut out, *upto_seq);
            put_varint(&mut out, refused.len() as u64);
            for (hash, reason) in refused {
                out.extend_from_slice(hash);
                put_text(&mut out, reason, REFUSED_REASON_BYTES_MAX);
            }
        }
        Message::Abort { reason } => {
            out.push(KIND_ABORT);
            put_text(&mut out, reason, ABORT_REASON_BYTES_MAX);
        }
    }
    out
}

/// A length and UTF-8 text, cut to at most `bytes_max` bytes at a
/// character boundary.
fn put_text(out: &mut Vec<u8>, text: &str, bytes_max: usize) {
    let mut end = text.len().min(bytes_max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    put_varint(out, end as u64);
    out.extend_from_slice(&text.as_bytes()[..end]);
}

fn put_changes(out: &mut Vec<u8>, version: u8, changes: &[WireChange]) {
    let mut raw = Vec::with_capacity(
        changes
            .iter()
            .map(|c| WIRE_CHANGE_BYTES_MIN + 9 + c.body.len())
            .sum::<usize>()
            + 10,
    );
    // Column by column: the repeated document ids and authors compress to
    // almost nothing, and the bodies compress as one run, undisturbed by the
    // incompressible signatures between them.
    put_varint(&mut raw, changes.len() as u64);
    for change in changes {
        raw.extend_from_slice(change.doc.as_bytes());
    }
    for change in changes {
        raw.extend_from_slice(change.author.as_bytes());
    }
    if version >= COVERED_SINCE_VERSION {
        put_bitmap(&mut raw, changes.iter().map(|c| c.signature.is_some()));
        for signature in changes.iter().filter_map(|c| c.signature.as_ref()) {
            raw.extend_from_slice(signature);
        }
    } else {
        // An older peer reads a signature for every change; a session
        // never hands one a change without (it is not offered them), and
        // zeros would be refused as a bad signature.
        for change in changes {
            debug_assert!(
                change.signature.is_some(),
                "a covered change for an older peer"
            );
            raw.extend_from_slice(&change.signature.unwrap_or([0; 64]));
        }
    }
    if version >= DEPS_CODED_SINCE_VERSION {
        let sent = Sent::new(changes.iter().map(|c| c.body.as_slice()));
        let mut bodies = Vec::with_capacity(changes.iter().map(|c| c.body.len() + 1).sum());
        let mut lengths = Vec::with_capacity(changes.len());
        for (i, change) in changes.iter().enumerate() {
            let start = bodies.len();
            sent.put(&mut bodies, i, &change.body);
            lengths.push(bodies.len() - start);
        }
        for len in lengths {
            put_varint(&mut raw, len as u64);
        }
        raw.extend_from_slice(&bodies);
    } else {
        for change in changes {
            put_varint(&mut raw, change.body.len() as u64);
        }
        for change in changes {
            raw.extend_from_slice(&change.body);
        }
    }
    if raw.len() >= COMPRESS_BYTES_MIN
        && let Ok(compressed) = compress(&raw)
        && compressed.len() + 10 < raw.len()
    {
        out.push(COMPRESSION_ZSTD);
        put_varint(out, raw.len() as u64);
        out.extend_from_slice(&compressed);
        return;
    }
    out.push(COMPRESSION_NONE);
    out.extend_from_slice(&raw);
}

/// `raw` compressed: at [`ZSTD_LEVEL`] with tables of [`ZSTD_TABLE_LOG`]
/// from [`ZSTD_LARGE_BYTES`] on, at [`ZSTD_SMALL_LEVEL`] below.
fn compress(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    use zstd::zstd_safe::CParameter;
    if raw.len() < ZSTD_LARGE_BYTES {
        return zstd::bulk::compress(raw, ZSTD_SMALL_LEVEL);
    }
    let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    compressor.set_parameter(CParameter::HashLog(ZSTD_TABLE_LOG))?;
    compressor.set_parameter(CParameter::ChainLog(ZSTD_TABLE_LOG))?;
    compressor.compress(raw)
}

/// One bit per flag, the first in the lowest bit of the first byte;
/// the last byte's spare bits zero.
fn put_bitmap(out: &mut Vec<u8>, bits: impl ExactSizeIterator<Item = bool>) {
    let mut bitmap = vec![0u8; bits.len().div_ceil(8)];
    for (i, _) in bits.enumerate().filter(|(_, bit)| *bit) {
        bitmap[i / 8] |= 1 << (i % 8);
    }
    out.extend_from_slice(&bitmap);
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Decodes one message. Never panics, and never allocates more than the
/// input's length, or for compressed bodies more than they really
/// decompress to (at most [`DECOMPRESSED_BYTES_MAX`]).
pub fn decode_message(bytes: &[u8]) -> Result<Message, WireError> {
    if bytes.is_empty() {
        return Err(WireError::Empty);
    }
    if bytes.len() > MESSAGE_BYTES_MAX {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: MESSAGE_BYTES_MAX,
        });
    }
    let version = bytes[0];
    if version == 0 {
        return Err(WireError::UnknownVersion(0));
    }
    let mut r = Reader { rest: &bytes[1..] };
    let kind = r.u8()?;
    if kind == KIND_HELLO {
        let hello = decode_hello(&mut r)?;
        // A newer Hello may carry appended fields this build does not know.
        if u16::from(version) <= PROTOCOL_VERSION {
            r.finish()?;
        }
        return Ok(Message::Hello(hello));
    }
    if kind == KIND_ABORT {
        // Like Hello, Abort never changes layout: a peer refusing our version
        // must still be able to tell us why.
        let reason = r.text("độ dài lý do", ABORT_REASON_BYTES_MAX)?;
        r.finish()?;
        return Ok(Message::Abort { reason });
    }
    if u16::from(version) > PROTOCOL_VERSION {
        return Err(WireError::UnknownVersion(version));
    }
    let message = match kind {
        KIND_OFFER => {
            let from_seq = r.varint()?;
            let upto_seq = r.varint()?;
            let hashes = r.list("số mã băm đề nghị", OFFER_HASHES_MAX, 32, Reader::array)?;
            Message::Offer {
                from_seq,
                upto_seq,
                hashes,
            }
        }
        KIND_ROSTER => {
            let len = r.count("độ dài danh sách thành viên", ROSTER_BYTES_MAX)?;
            Message::Roster {
                bytes: r.take(len)?.to_vec(),
            }
        }
        KIND_WANT => {
            let upto_seq = r.varint()?;
            let count = r.count("số mã băm yêu cầu", OFFER_HASHES_MAX)?;
            let wanted = r.bitmap(count, "bit thừa trong bảng yêu cầu")?;
            Message::Want { upto_seq, wanted }
        }
        KIND_BODIES => {
            let upto_seq = r.varint()?;
            let changes = decode_changes(&mut r, version)?;
            Message::Bodies { upto_seq, changes }
        }
        KIND_INLINE => {
            let from_seq = r.varint()?;
            let upto_seq = r.varint()?;
            let changes = decode_changes(&mut r, version)?;
            Message::Inline {
                from_seq,
                upto_seq,
                changes,
            }
        }
        KIND_ACK => Message::Ack {
            upto_seq: r.varint()?,
        },
        KIND_REFUSED if version >= REFUSED_SINCE_VERSION => {
            let upto_seq = r.varint()?;
            // Each entry takes at least 33 bytes: a hash and a length.
            let refused = r.list(
                "số thay đổi bị từ chối",
                OFFER_HASHES_MAX,
                33,
                |r| {
                    let hash = r.array()?;
                    Ok((
                        hash,
                        r.text("độ dài lý do từ chối", REFUSED_REASON_BYTES_MAX)?,
                    ))
                },
            )?;
            Message::Refused { upto_seq, refused }
        }
        other => return Err(WireError::UnknownKind(other)),
    };
    r.finish()?;
    Ok(message)
}

fn decode_hello(r: &mut Reader<'_>) -> Result<Hello, WireError> {
    let version = u16::from_le_bytes(r.array()?);
    let min_version = u16::from_le_bytes(r.array()?);
    if min_version == 0 || min_version > version {
        return Err(WireError::Invalid("khoảng phiên bản trong Hello"));
    }
    let node = NodeId::from_bytes(r.array()?);
    let epoch = r.array()?;
    let latest_seq = r.varint()?;
    let roster_version = r.varint()?;
    // Unknown flag bits are left for later versions to define.
    let flags = r.u8()?;
    let checkpoint = if flags & HELLO_FLAG_CHECKPOINT != 0 {
        Some(Checkpoint {
            epoch: r.array()?,
            seq: r.varint()?,
        })
    } else {
        None
    };
    Ok(Hello {
        version,
        min_version,
        node,
        epoch,
        latest_seq,
        roster_version,
        checkpoint,
        cold: flags & HELLO_FLAG_COLD != 0,
        keep_signatures: flags & HELLO_FLAG_KEEP_SIGNATURES != 0,
    })
}

fn decode_changes(r: &mut Reader<'_>, version: u8) -> Result<Vec<WireChange>, WireError> {
    let decompressed;
    let raw: &[u8] = match r.u8()? {
        COMPRESSION_NONE => std::mem::take(&mut r.rest),
        COMPRESSION_ZSTD => {
            let raw_len = r.count("độ dài giải nén", DECOMPRESSED_BYTES_MAX)?;
            decompressed = decompress_exact(std::mem::take(&mut r.rest), raw_len)?;
            &decompressed
        }
        _ => return Err(WireError::Invalid("kiểu nén")),
    };
    let mut r = Reader { rest: raw };
    let count = r.count("số thay đổi trong lô", BATCH_CHANGES_MAX)?;
    let covered = version >= COVERED_SINCE_VERSION;
    // Checked before reserving anything: the columns must fit.
    let bytes_min = if covered {
        WIRE_CHANGE_BYTES_MIN_COVERED
    } else {
        WIRE_CHANGE_BYTES_MIN
    };
    if r.rest.len() < count * bytes_min {
        return Err(WireError::Truncated);
    }
    let docs = r.take(count * 16)?;
    let authors = r.take(count * 32)?;
    let signed: Vec<bool> = if covered {
        r.bitmap(count, "bit thừa trong bảng chữ ký")?
    } else {
        vec![true; count]
    };
    let mut signatures = r
        .take(signed.iter().filter(|s| **s).count() * 64)?
        .chunks_exact(64);
    let mut lengths = Vec::with_capacity(count);
    for _ in 0..count {
        // Protocol 3 adds one byte (how the body is coded) to each.
        lengths.push(r.count("độ dài thay đổi", CHANGE_BYTES_MAX + 1)?);
    }
    let mut changes: Vec<WireChange> = Vec::with_capacity(count);
    // Protocol 3 codes dependencies by reference (crate::elide); the
    // rebuilt bodies are bounded as the decompressed payload is.
    let mut received =
        (version >= DEPS_CODED_SINCE_VERSION).then(|| Received::new(count, DECOMPRESSED_BYTES_MAX));
    for (i, len) in lengths.into_iter().enumerate() {
        let mut doc = [0u8; 16];
        doc.copy_from_slice(&docs[i * 16..(i + 1) * 16]);
        let mut author = [0u8; 32];
        author.copy_from_slice(&authors[i * 32..(i + 1) * 32]);
        let signature = signed[i].then(|| {
            signatures
                .next()
                .and_then(|s| s.try_into().ok())
                .expect("one signature taken per bit set")
        });
        let coded = r.take(len)?;
        let body = match &mut received {
            Some(received) => received.restore(coded, &changes, CHANGE_BYTES_MAX)?,
            None => coded.to_vec(),
        };
        changes.push(WireChange {
            doc: DocId::from_bytes(doc),
            author: NodeId::from_bytes(author),
            signature,
            body,
        });
    }
    r.finish()?;
    Ok(changes)
}

/// Decompresses into a buffer grown by actual output, not by the announced
/// length, and requires the output to be exactly that length.
fn decompress_exact(compressed: &[u8], raw_len: usize) -> Result<Vec<u8>, WireError> {
    let decoder =
        zstd::stream::read::Decoder::new(compressed).map_err(|_| WireError::Decompress)?;
    let mut out = Vec::new();
    decoder
        .take(raw_len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| WireError::Decompress)?;
    if out.len() != raw_len {
        return Err(WireError::Decompress);
    }
    Ok(out)
}

/// A cursor that fails instead of panicking when bytes run out.
pub(crate) struct Reader<'a> {
    pub(crate) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(rest: &'a [u8]) -> Self {
        Reader { rest }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(WireError::BadVarint);
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                // Reject overlong encodings, so each value has one encoding.
                if i > 0 && byte == 0 {
                    return Err(WireError::BadVarint);
                }
                return Ok(value);
            }
        }
        Err(WireError::BadVarint)
    }

    fn count(&mut self, what: &'static str, max: usize) -> Result<usize, WireError> {
        let value = self.varint()?;
        if value > max as u64 {
            return Err(WireError::Limit {
                what,
                value,
                max: max as u64,
            });
        }
        Ok(value as usize)
    }

    /// A length (at most `bytes_max`) and that many bytes, read as UTF-8
    /// text (an invalid sequence becomes U+FFFD: the text is only shown).
    fn text(&mut self, what: &'static str, bytes_max: usize) -> Result<String, WireError> {
        let len = self.count(what, bytes_max)?;
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    /// `count` flags as [`put_bitmap`] writes them; `spare` names the
    /// error when a spare bit of the last byte is set (each value has one
    /// encoding).
    fn bitmap(&mut self, count: usize, spare: &'static str) -> Result<Vec<bool>, WireError> {
        let bitmap = self.take(count.div_ceil(8))?;
        if !count.is_multiple_of(8) && bitmap[count / 8] >> (count % 8) != 0 {
            return Err(WireError::Invalid(spare));
        }
        Ok((0..count)
            .map(|i| bitmap[i / 8] & (1 << (i % 8)) != 0)
            .collect())
    }

    /// A count (at most `max`) and that many entries read by `entry`. Each
    /// entry takes at least `entry_bytes_min` bytes, which is checked before
    /// anything is reserved, so a lying count allocates nothing beyond the
    /// input.
    fn list<T>(
        &mut self,
        what: &'static str,
        max: usize,
        entry_bytes_min: usize,
        mut entry: impl FnMut(&mut Self) -> Result<T, WireError>,
    ) -> Result<Vec<T>, WireError> {
        let count = self.count(what, max)?;
        if self.rest.len() < count * entry_bytes_min {
            return Err(WireError::Truncated);
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(entry(self)?);
        }
        Ok(entries)
    }

    fn finish(&self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes(self.rest.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Message> {
        let change = WireChange {
            doc: DocId::from_bytes([1; 16]),
            author: NodeId::from_bytes([2; 32]),
            signature: Some([3; 64]),
            body: vec![4; 300],
        };
        let hello = Hello {
            version: 1,
            min_version: 1,
            node: NodeId::from_bytes([5; 32]),
            epoch: [6; 8],
            latest_seq: 123_456,
            roster_version: 7,
            checkpoint: Some(Checkpoint {
                epoch: [8; 8],
                seq: u64::MAX,
            }),
            cold: true,
            keep_signatures: false,
        };
        vec![
            Message::Hello(hello.clone()),
            // A hub's Hello: every signature held, please.
            Message::Hello(Hello {
                version: 4,
                keep_signatures: true,
                ..hello.clone()
            }),
            // A newer peer's Hello, holding nothing.
            Message::Hello(Hello {
                version: 3,
                latest_seq: 0,
                roster_version: 0,
                checkpoint: None,
                cold: false,
                ..hello
            }),
            Message::Offer {
                from_seq: 10,
                upto_seq: 20,
                hashes: vec![[9; 32], [10; 32]],
            },
            Message::Want {
                upto_seq: 20,
                wanted: vec![true, false, false, true, true, false, true, false, true],
            },
            Message::Bodies {
                upto_seq: 20,
                changes: vec![change.clone(), change.clone()],
            },
            Message::Inline {
                from_seq: 0,
                upto_seq: 2,
                changes: vec![change],
            },
            // Real changes, each depending on the one before: in protocol
            // 3 their bodies travel with dependencies by reference.
            Message::Bodies {
                upto_seq: 9,
                changes: crate::bundle::tests::sample_changes(3)
                    .into_iter()
                    .map(WireChange::from)
                    .collect(),
            },
            // Protocol 4: the first two covered by the third; nine changes,
            // so the bitmap takes a second byte.
            Message::Inline {
                from_seq: 0,
                upto_seq: 9,
                changes: crate::bundle::tests::sample_changes(9)
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| WireChange {
                        signature: c.signature.filter(|_| i % 3 == 2),
                        ..WireChange::from(c)
                    })
                    .collect(),
            },
            Message::Ack { upto_seq: 20 },
            Message::Refused {
                upto_seq: 20,
                refused: vec![([11; 32], "người ký không được ghi hồ sơ này".into())],
            },
            Message::Roster {
                bytes: b"DVRS\x01 not checked here".to_vec(),
            },
            Message::Abort {
                reason: "hết thời gian chờ".to_string(),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for message in samples() {
            let bytes = encode_message(&message);
            assert_eq!(decode_message(&bytes).unwrap(), message);
        }
    }

    #[test]
    fn every_truncation_and_extension_fails_cleanly() {
        for message in samples() {
            let bytes = encode_message(&message);
            for len in 0..bytes.len() {
                assert!(
                    decode_message(&bytes[..len]).is_err(),
                    "{message:?} cut at {len}"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_message(&longer).is_err(), "{message:?} extended");
        }
    }

    #[test]
    fn flipped_bytes_never_panic() {
        for message in samples() {
            let bytes = encode_message(&message);
            for i in 0..bytes.len() {
                for bit in 0..8 {
                    let mut bad = bytes.clone();
                    bad[i] ^= 1 << bit;
                    let _ = decode_message(&bad);
                }
            }
        }
    }

    /// A cheap fuzz: random frames behind every valid version and kind
    /// byte, of every length up to 300, never panic.
    #[test]
    fn random_frames_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 300) as usize;
            let mut frame: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if frame.len() >= 2 {
                frame[0] = 1 + (next() % 2) as u8;
                frame[1] = 1 + (next() % 7) as u8;
            }
            let _ = decode_message(&frame);
        }
    }

    #[test]
    fn unknown_versions_and_kinds_are_named() {
        let mut ack = encode_message(&Message::Ack { upto_seq: 1 });
        ack[0] = 7;
        assert_eq!(decode_message(&ack), Err(WireError::UnknownVersion(7)));
        assert_eq!(decode_message(&[1, 99]), Err(WireError::UnknownKind(99)));
        // A Hello from a newer version is read up to the fields we know.
        let mut hello = encode_message(&samples()[0]);
        hello[0] = PROTOCOL_VERSION as u8 + 1;
        hello.extend_from_slice(b"future fields");
        assert!(matches!(decode_message(&hello), Ok(Message::Hello(_))));
        // Refused does not exist in version 1.
        let mut refused = encode_message(&Message::Refused {
            upto_seq: 1,
            refused: vec![([1; 32], "x".into())],
        });
        refused[0] = 1;
        assert_eq!(
            decode_message(&refused),
            Err(WireError::UnknownKind(KIND_REFUSED))
        );
    }

    /// A large payload of bodies goes out at level 7 with its tables capped
    /// at level 3's size: fewer bytes than level 3 gives on record-like
    /// text, read back whole; a small one at level 3.
    #[test]
    fn bodies_compress_smaller_than_at_level_3_and_read_back() {
        let names = ["Nguyễn Văn", "Trần Thị", "Lê Văn", "Phạm Thị", "Huỳnh Văn"];
        let given = ["Hùng", "Mai", "Tám", "Hoa", "An", "Bình", "Cúc", "Dũng"];
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut raw = Vec::new();
        for i in 0..3_000u64 {
            let line = format!(
                "{{\"chu_ho\":\"{} {}\",\"thon\":\"Thôn {}\",\"dien_tich_m2\":{},\"ghi_chu\":\"Đã kiểm đếm lần {}\",\"so\":{}}}",
                names[next(5) as usize],
                given[next(8) as usize],
                next(12),
                next(5_000),
                next(4),
                i,
            );
            raw.extend_from_slice(line.as_bytes());
        }
        assert!(raw.len() >= ZSTD_LARGE_BYTES);
        let ours = compress(&raw).unwrap();
        let level_3 = zstd::bulk::compress(&raw, 3).unwrap();
        assert!(
            ours.len() * 100 < level_3.len() * 97,
            "{} B against {} B at level 3",
            ours.len(),
            level_3.len()
        );
        assert_eq!(zstd::bulk::decompress(&ours, raw.len()).unwrap(), raw);
        // A small payload (an edit or two) stays at level 3.
        let small = &raw[..ZSTD_LARGE_BYTES / 4];
        assert_eq!(
            compress(small).unwrap(),
            zstd::bulk::compress(small, 3).unwrap()
        );
    }

    #[test]
    fn lying_counts_and_bombs_are_refused() {
        // An offer announcing 4096 hashes with none present.
        let mut offer = vec![1, KIND_OFFER, 0, 1];
        put_varint(&mut offer, OFFER_HASHES_MAX as u64);
        assert_eq!(decode_message(&offer), Err(WireError::Truncated));
        let mut too_many = vec![1, KIND_OFFER, 0, 1];
        put_varint(&mut too_many, OFFER_HASHES_MAX as u64 + 1);
        assert!(matches!(
            decode_message(&too_many),
            Err(WireError::Limit { .. })
        ));
        // A zstd payload that inflates past its announced length.
        let zeros = vec![0u8; 1 << 20];
        let compressed = zstd::bulk::compress(&zeros, 3).unwrap();
        let mut bomb = vec![1, KIND_BODIES, 1, COMPRESSION_ZSTD];
        put_varint(&mut bomb, 100);
        bomb.extend_from_slice(&compressed);
        assert_eq!(decode_message(&bomb), Err(WireError::Decompress));
        // An announced length past the bound is refused before decompressing.
        let mut big = vec![1, KIND_BODIES, 1, COMPRESSION_ZSTD];
        put_varint(&mut big, DECOMPRESSED_BYTES_MAX as u64 + 1);
        big.extend_from_slice(&compressed);
        assert!(matches!(decode_message(&big), Err(WireError::Limit { .. })));
        // A frame over the size bound is refused unread.
        let huge = vec![1u8; MESSAGE_BYTES_MAX + 1];
        assert!(matches!(
            decode_message(&huge),
            Err(WireError::TooLarge { .. })
        ));
        // Overlong and overflowing varints.
        assert_eq!(
            decode_message(&[1, KIND_ACK, 0x80, 0x00]),
            Err(WireError::BadVarint)
        );
        assert_eq!(
            decode_message(&[
                1, KIND_ACK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
            ]),
            Err(WireError::BadVarint)
        );
    }
}
