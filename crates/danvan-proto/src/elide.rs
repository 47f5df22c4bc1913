//! Protocol 3's bodies: a dependency hash the same message already carries
//! travels as a back-reference instead of its 32 bytes.
//!
//! An Automerge change names the changes it builds on by their hashes,
//! 32 incompressible bytes each, and in a batch the change named is most
//! often one sent just before it (a record's history travels in order).
//! The receiver computes every body's hash anyway, so protocol 3 writes
//! such a dependency as the distance back to that body; the receiver
//! rebuilds the exact bytes the author signed before anything reads them.
//! Nothing else changes: the rebuilt body is hashed, verified and stored as
//! it was in protocol 2, and a forged back-reference can only rebuild a
//! body whose hash the author's signature does not cover.
//!
//! ```text
//! body: tag u8
//!   0: the body as it is
//!   1: a plain change chunk: its bytes up to and including the count of
//!      dependencies (magic, checksum, type, chunk length, count, copied),
//!      then per dependency a varint r (0: the 32-byte hash follows;
//!      r ≥ 1: the hash of the body r places earlier in this message),
//!      then the rest of the chunk as it is
//! ```

use std::collections::HashMap;

use danvan_model::{CHUNK_CHANGE, CHUNK_MAGIC, body_hash};

use crate::wire::{Reader, WireChange, WireError, put_varint};

const TAG_AS_IS: u8 = 0;
const TAG_DEPS_CODED: u8 = 1;
/// Bytes of magic, checksum and chunk type before the chunk length.
const CHUNK_HEAD: usize = 9;

/// The hashes of a message's bodies, for the encoder: the index of the
/// first body with each hash.
pub(crate) struct Sent {
    first: HashMap<[u8; 32], usize>,
}

impl Sent {
    /// Names every body of `bodies` by its hash.
    pub(crate) fn new<'a>(bodies: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut first = HashMap::new();
        for (i, body) in bodies.enumerate() {
            first.entry(body_hash(body)).or_insert(i);
        }
        Sent { first }
    }

    /// Appends body number `index` of the message to `out` in protocol
    /// 3's form.
    pub(crate) fn put(&self, out: &mut Vec<u8>, index: usize, body: &[u8]) {
        let Some((deps_at, count)) = deps_of(body) else {
            out.push(TAG_AS_IS);
            out.extend_from_slice(body);
            return;
        };
        out.push(TAG_DEPS_CODED);
        out.extend_from_slice(&body[..deps_at]);
        let mut at = deps_at;
        for _ in 0..count {
            let dep: &[u8; 32] = body[at..at + 32].try_into().expect("32 bytes");
            match self.first.get(dep) {
                Some(&j) if j < index => put_varint(out, (index - j) as u64),
                _ => {
                    out.push(0);
                    out.extend_from_slice(dep);
                }
            }
            at += 32;
        }
        out.extend_from_slice(&body[at..]);
    }
}

/// The dependency hashes a plain change chunk names (none for anything
/// else), read without parsing the rest of it.
pub(crate) fn dep_hashes(body: &[u8]) -> impl Iterator<Item = &[u8; 32]> {
    let (at, count) = deps_of(body).unwrap_or((0, 0));
    (0..count).map(move |i| {
        body[at + 32 * i..at + 32 * (i + 1)]
            .try_into()
            .expect("32 bytes")
    })
}

/// Where a plain change chunk's dependency hashes start and how many there
/// are; `None` for anything else (sent as it is).
fn deps_of(body: &[u8]) -> Option<(usize, usize)> {
    let (deps_at, count) = deps_count(body)?;
    (count <= (body.len() - deps_at) / 32).then_some((deps_at, count))
}

/// Where a change chunk's list of dependencies starts (after its count),
/// and the count, as written: in a coded body each takes at least a byte,
/// in a plain one 32.
fn deps_count(chunk: &[u8]) -> Option<(usize, usize)> {
    if chunk.len() < CHUNK_HEAD || chunk[..4] != CHUNK_MAGIC || chunk[8] != CHUNK_CHANGE {
        return None;
    }
    let mut r = Reader::new(&chunk[CHUNK_HEAD..]);
    r.varint().ok()?;
    let count = usize::try_from(r.varint().ok()?).ok()?;
    let deps_at = chunk.len() - r.rest.len();
    (count <= r.rest.len()).then_some((deps_at, count))
}

/// The receiver's side: the bodies rebuilt so far, hashed when a later
/// body refers back to them.
pub(crate) struct Received {
    hashes: Vec<Option<[u8; 32]>>,
    restored_bytes: usize,
    restored_max: usize,
}

impl Received {
    /// Rebuilds at most `restored_max` bytes of bodies in all.
    pub(crate) fn new(count: usize, restored_max: usize) -> Self {
        Received {
            hashes: Vec::with_capacity(count),
            restored_bytes: 0,
            restored_max,
        }
    }

    /// Rebuilds the next body of the message from its protocol-3 form,
    /// `body_max` bytes at most. `earlier` are the changes rebuilt before it.
    pub(crate) fn restore(
        &mut self,
        coded: &[u8],
        earlier: &[WireChange],
        body_max: usize,
    ) -> Result<Vec<u8>, WireError> {
        let index = self.hashes.len();
        let (&tag, rest) = coded.split_first().ok_or(WireError::Truncated)?;
        let body = match tag {
            TAG_AS_IS => rest.to_vec(),
            TAG_DEPS_CODED => {
                let (deps_at, count) =
                    deps_count(rest).ok_or(WireError::Invalid("phần đầu thay đổi đã mã hoá"))?;
                let mut body = Vec::with_capacity((rest.len() + 31 * count).min(body_max));
                body.extend_from_slice(&rest[..deps_at]);
                let mut r = Reader::new(&rest[deps_at..]);
                for _ in 0..count {
                    let back = r.varint()?;
                    if back == 0 {
                        body.extend_from_slice(r.take(32)?);
                    } else {
                        let j = usize::try_from(back)
                            .ok()
                            .and_then(|back| index.checked_sub(back))
                            .ok_or(WireError::Invalid("tham chiếu phụ thuộc ngoài lô"))?;
                        let hash =
                            *self.hashes[j].get_or_insert_with(|| body_hash(&earlier[j].body));
                        body.extend_from_slice(&hash);
                    }
                    if body.len() > body_max {
                        return Err(WireError::Invalid("thay đổi quá lớn sau khi dựng lại"));
                    }
                }
                body.extend_from_slice(r.rest);
                body
            }
            _ => return Err(WireError::Invalid("kiểu mã hoá nội dung thay đổi")),
        };
        if body.len() > body_max {
            return Err(WireError::Invalid("thay đổi quá lớn sau khi dựng lại"));
        }
        self.restored_bytes += body.len();
        if self.restored_bytes > self.restored_max {
            return Err(WireError::Invalid("lô quá lớn sau khi dựng lại"));
        }
        self.hashes.push(None);
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::sample_changes;
    use crate::wire::{Message, decode_message, encode_message_as};

    /// Body number `index` of the message `sent` names, coded.
    fn coded(sent: &Sent, index: usize, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        sent.put(&mut out, index, body);
        out
    }

    fn inline(changes: &[danvan_model::SignedChange]) -> Message {
        Message::Inline {
            from_seq: 0,
            upto_seq: changes.len() as u64,
            changes: changes.iter().cloned().map(WireChange::from).collect(),
        }
    }

    #[test]
    fn a_dependency_the_message_carries_travels_as_a_reference() {
        let changes = sample_changes(6);
        let message = inline(&changes);
        let v2 = encode_message_as(2, &message);
        let v3 = encode_message_as(3, &message);
        for frame in [&v2, &v3] {
            let Message::Inline { changes: back, .. } = decode_message(frame).unwrap() else {
                panic!("not an Inline");
            };
            for (sent, got) in changes.iter().zip(&back) {
                assert_eq!(got.body, sent.body, "the signed bytes, rebuilt exactly");
                got.clone()
                    .with_hash(body_hash(&got.body))
                    .verify()
                    .unwrap();
            }
        }
        // Five of the six name the change before them: 32 bytes each,
        // incompressible, replaced by one.
        assert!(
            v2.len() >= v3.len() + 5 * 30,
            "v2 {} B, v3 {} B",
            v2.len(),
            v3.len()
        );
    }

    #[test]
    fn a_dependency_the_message_lacks_travels_whole() {
        let changes = sample_changes(3);
        let message = inline(&changes[1..]);
        let frame = encode_message_as(3, &message);
        assert_eq!(decode_message(&frame).unwrap(), message);
        // The first body's dependency (changes[0]) is written out in full.
        let alone = Sent::new(std::iter::once(changes[1].body.as_slice()));
        assert_eq!(
            coded(&alone, 0, &changes[1].body).len(),
            changes[1].body.len() + 2,
            "tag and a zero reference"
        );
    }

    #[test]
    fn a_reference_outside_the_message_or_too_large_a_body_is_refused() {
        let changes = sample_changes(2);
        let sent = Sent::new(changes.iter().map(|c| c.body.as_slice()));
        let second = coded(&sent, 1, &changes[1].body);
        // Alone, its reference points before the start of the message.
        assert_eq!(
            Received::new(1, usize::MAX).restore(&second, &[], CHANGE_MAX),
            Err(WireError::Invalid("tham chiếu phụ thuộc ngoài lô"))
        );
        let first = WireChange::from(changes[0].clone());
        let mut received = Received::new(2, usize::MAX);
        let first_coded = coded(&sent, 0, &first.body);
        assert_eq!(
            received.restore(&first_coded, &[], CHANGE_MAX).unwrap(),
            first.body
        );
        let earlier = [first.clone()];
        // One byte of reference may not rebuild more than the body limit.
        assert!(
            received
                .restore(&second, &earlier, changes[1].body.len() - 1)
                .is_err()
        );
        assert_eq!(
            received.restore(&second, &earlier, CHANGE_MAX).unwrap(),
            changes[1].body
        );
        // Nor all the bodies more than the message's limit.
        let mut small = Received::new(2, first.body.len());
        small.restore(&first_coded, &[], CHANGE_MAX).unwrap();
        assert!(small.restore(&second, &earlier, CHANGE_MAX).is_err());
        // An unknown tag.
        let mut bad = second.clone();
        bad[0] = 7;
        assert!(
            Received::new(2, usize::MAX)
                .restore(&bad, &earlier, CHANGE_MAX)
                .is_err()
        );
    }

    #[test]
    fn a_forged_reference_rebuilds_a_body_its_signature_does_not_cover() {
        let changes = sample_changes(3);
        let sent = Sent::new(changes.iter().map(|c| c.body.as_slice()));
        let mut third = coded(&sent, 2, &changes[2].body);
        // The third names the second (one back); a forger makes it two back.
        let (deps_at, count) = deps_of(&changes[2].body).unwrap();
        assert_eq!(count, 1);
        let at = 1 + deps_at;
        assert_eq!(third[at], 1);
        third[at] = 2;
        let earlier: Vec<WireChange> = changes[..2].iter().cloned().map(WireChange::from).collect();
        let mut received = Received::new(3, usize::MAX);
        for (i, change) in earlier.iter().enumerate() {
            let body = received
                .restore(&coded(&sent, i, &change.body), &earlier[..i], CHANGE_MAX)
                .unwrap();
            assert_eq!(body, change.body);
        }
        let body = received.restore(&third, &earlier, CHANGE_MAX).unwrap();
        assert_ne!(body, changes[2].body);
        let forged = WireChange {
            body,
            ..WireChange::from(changes[2].clone())
        };
        assert!(
            forged
                .clone()
                .with_hash(body_hash(&forged.body))
                .verify()
                .is_err()
        );
    }

    /// A merge names several changes, and its coded form can be shorter
    /// than its hashes would be (the simulator found a decoder that
    /// measured the count against the plain form).
    #[test]
    fn a_change_naming_several_earlier_ones_round_trips() {
        use automerge::transaction::Transactable;
        let key = danvan_model::NodeKey::from_secret([4; 32]);
        let doc = danvan_model::DocId::from_bytes([5; 16]);
        let mut a = automerge::AutoCommit::new().with_actor(key.actor(&[1; 8]));
        a.put(automerge::ROOT, "x", 1).unwrap();
        a.commit();
        let mut b = a.fork().with_actor(key.actor(&[2; 8]));
        let mut c = a.fork().with_actor(key.actor(&[3; 8]));
        b.put(automerge::ROOT, "y", 2).unwrap();
        b.commit();
        c.put(automerge::ROOT, "z", 3).unwrap();
        c.commit();
        a.merge(&mut b).unwrap();
        a.merge(&mut c).unwrap();
        a.put(automerge::ROOT, "w", 4).unwrap();
        a.commit();
        let changes: Vec<WireChange> = a
            .get_changes(&[])
            .into_iter()
            .map(|change| WireChange::from(key.sign_change(&doc, &mut change.clone())))
            .collect();
        let last = changes.len() - 1;
        let deps = automerge::Change::try_from(changes[last].body.as_slice())
            .unwrap()
            .deps()
            .len();
        assert!(deps >= 2, "{deps} dependencies");
        let message = Message::Bodies {
            upto_seq: 4,
            changes: changes.clone(),
        };
        assert_eq!(
            decode_message(&encode_message_as(3, &message)).unwrap(),
            message
        );
        // Its references alone, each one byte instead of 32.
        let sent = Sent::new(changes.iter().map(|c| c.body.as_slice()));
        assert_eq!(
            coded(&sent, last, &changes[last].body).len(),
            changes[last].body.len() + 1 - deps * 31
        );
    }

    const CHANGE_MAX: usize = crate::limits::CHANGE_BYTES_MAX;
}
