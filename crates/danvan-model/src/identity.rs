//! Node identity and signed changes.
//!
//! A node is its Ed25519 key. Its id is the public key in base32 with a short
//! checksum, grouped like a Syncthing device id, so that it can be read over a
//! phone line and a typo is caught. Every Automerge change a node makes carries
//! an actor id derived from that key, and is signed with it; a receiver checks
//! both, so a change relayed through any number of peers keeps its author.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha256};

/// Domain separation for change signatures, so a signature made for a change
/// can never be replayed as a signature over anything else.
const CHANGE_SIGNATURE_CONTEXT: &[u8] = b"danvan/change/v1";

/// Bytes of the store epoch appended to the public key to form an actor id.
pub const EPOCH_LEN: usize = 8;

/// The public identity of a node: its Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; 32]);

/// Why a node id could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NodeIdError {
    /// The text has the wrong number of characters once dashes are removed.
    #[error("mã nút phải có 56 ký tự (không kể dấu gạch), nhận được {0}")]
    Length(usize),
    /// The text is not base32.
    #[error("mã nút chứa ký tự không hợp lệ (chỉ dùng A–Z và 2–7)")]
    Alphabet,
    /// The checksum does not match: a typo.
    #[error("mã nút sai tổng kiểm tra: có thể gõ nhầm một ký tự")]
    Checksum,
    /// The bytes are not a valid Ed25519 public key.
    #[error("mã nút không phải khóa công khai Ed25519 hợp lệ")]
    Key,
}

impl NodeId {
    /// The id of a raw 32-byte public key. The key is not checked here.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        NodeId(bytes)
    }

    /// The raw public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first group of the id: enough to tell nodes apart on screen.
    pub fn short(&self) -> String {
        self.to_string()[..8].to_string()
    }

    fn checksum(key: &[u8; 32]) -> String {
        let digest = Sha256::new()
            .chain_update(b"danvan-node-id")
            .chain_update(key)
            .finalize();
        // 16 bits of checksum encode to 4 base32 characters.
        BASE32_NOPAD.encode(&digest[..2])[..4].to_string()
    }

    /// Checks that the bytes are a usable Ed25519 public key.
    pub fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, NodeIdError> {
        ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| NodeIdError::Key)
    }

    /// The X25519 public key of this node (its Ed25519 key on the
    /// Montgomery curve): bundles are sealed to it.
    pub fn x25519_public(&self) -> Result<[u8; 32], NodeIdError> {
        Ok(self.verifying_key()?.to_montgomery().to_bytes())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = BASE32_NOPAD.encode(&self.0);
        text.push_str(&Self::checksum(&self.0));
        for (i, chunk) in text.as_bytes().chunks(8).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(chunk).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

debug_as_short!(NodeId);

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String = s
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if cleaned.len() != 56 {
            return Err(NodeIdError::Length(cleaned.len()));
        }
        let (key_text, check) = cleaned.split_at(52);
        let decoded = BASE32_NOPAD
            .decode(key_text.as_bytes())
            .map_err(|_| NodeIdError::Alphabet)?;
        let key: [u8; 32] = decoded.try_into().map_err(|_| NodeIdError::Alphabet)?;
        if Self::checksum(&key) != check {
            return Err(NodeIdError::Checksum);
        }
        let id = NodeId(key);
        id.verifying_key()?;
        Ok(id)
    }
}

/// A node's private key. Kept in the data directory; never leaves it.
pub struct NodeKey(ed25519_dalek::SigningKey);

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({})", self.id().short())
    }
}

impl NodeKey {
    /// A key from 32 secret bytes. The caller supplies the randomness, so that
    /// this crate stays pure and tests stay deterministic.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        NodeKey(ed25519_dalek::SigningKey::from_bytes(&secret))
    }

    /// The 32 secret bytes, for writing the key file.
    pub fn secret(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The X25519 secret of this key (the clamped Ed25519 scalar), with
    /// which a bundle sealed to [`NodeId::x25519_public`] is opened.
    pub fn x25519_secret(&self) -> [u8; 32] {
        self.0.to_scalar_bytes()
    }

    /// This key's public id.
    pub fn id(&self) -> NodeId {
        NodeId(self.0.verifying_key().to_bytes())
    }

    /// Signs arbitrary bytes under a context label.
    pub fn sign(&self, context: &[u8], message: &[u8]) -> [u8; 64] {
        let mut buf = Vec::with_capacity(context.len() + message.len() + 1);
        buf.extend_from_slice(context);
        buf.push(0);
        buf.extend_from_slice(message);
        self.0.sign(&buf).to_bytes()
    }

    /// The Automerge actor id of this node's changes in a store of `epoch`.
    pub fn actor(&self, epoch: &[u8; EPOCH_LEN]) -> automerge::ActorId {
        let mut bytes = self.0.verifying_key().to_bytes().to_vec();
        bytes.extend_from_slice(epoch);
        automerge::ActorId::from(bytes)
    }

    /// Signs one change of document `doc`.
    pub fn sign_change(&self, doc: &crate::DocId, change: &mut automerge::Change) -> SignedChange {
        let hash = change.hash().0;
        let body = change.raw_bytes().to_vec();
        let signature = self.sign(CHANGE_SIGNATURE_CONTEXT, &change_message(doc, &hash));
        SignedChange {
            hash,
            doc: *doc,
            author: self.id(),
            signature: Some(signature),
            body,
        }
    }
}

/// Verifies a signature made by [`NodeKey::sign`].
pub fn verify_signature(
    author: &NodeId,
    context: &[u8],
    message: &[u8],
    signature: &[u8; 64],
) -> bool {
    let Ok(key) = author.verifying_key() else {
        return false;
    };
    verify_with_key(&key, context, message, signature)
}

/// [`verify_signature`] with the author's key already decompressed.
fn verify_with_key(
    key: &ed25519_dalek::VerifyingKey,
    context: &[u8],
    message: &[u8],
    signature: &[u8; 64],
) -> bool {
    let mut buf = Vec::with_capacity(context.len() + message.len() + 1);
    buf.extend_from_slice(context);
    buf.push(0);
    buf.extend_from_slice(message);
    key.verify(&buf, &ed25519_dalek::Signature::from_bytes(signature))
        .is_ok()
}

fn change_message(doc: &crate::DocId, hash: &[u8; 32]) -> [u8; 48] {
    let mut message = [0u8; 48];
    message[..16].copy_from_slice(doc.as_bytes());
    message[16..].copy_from_slice(hash);
    message
}

/// One Automerge change with the document it belongs to, its author and the
/// author's signature: the unit that is stored, synced and bundled.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedChange {
    /// The Automerge change hash (SHA-256 of the change).
    pub hash: [u8; 32],
    /// The document (record) the change belongs to.
    pub doc: crate::DocId,
    /// The node that made and signed the change.
    pub author: NodeId,
    /// Ed25519 signature over the document id and change hash; `None` for
    /// a change received without one (protocol 4): the signature of a
    /// later change of the same author and record, whose history reaches
    /// it by hash, covers it ([`verify_group`]).
    pub signature: Option<[u8; 64]>,
    /// The raw Automerge change bytes.
    pub body: Vec<u8>,
}

impl fmt::Debug for SignedChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedChange")
            .field("hash", &data_encoding::HEXLOWER.encode(&self.hash[..6]))
            .field("doc", &self.doc)
            .field("author", &self.author)
            .field("len", &self.body.len())
            .field("signed", &self.signature.is_some())
            .finish()
    }
}

/// Why a received change was rejected. Nothing of a rejected change is stored.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    /// The body is not a well-formed Automerge change.
    #[error("nội dung thay đổi hỏng hoặc không phải thay đổi Automerge: {0}")]
    Malformed(String),
    /// The body hashes to something other than the hash it came with.
    #[error("mã băm của thay đổi không khớp với nội dung")]
    HashMismatch,
    /// The signature does not verify against the stated author.
    #[error("chữ ký của thay đổi không hợp lệ (tác giả {0})")]
    BadSignature(String),
    /// The change came without a signature, and no signed change of its
    /// author that came with it reaches it through its history.
    #[error(
        "thay đổi không kèm chữ ký và không thay đổi đã ký nào của tác giả {0} đi kèm bao phủ nó"
    )]
    Uncovered(String),
    /// The Automerge actor of the change is not derived from the signer's key.
    #[error("tác nhân Automerge của thay đổi không thuộc về người ký {0}: giả mạo")]
    ActorMismatch(String),
    /// A change it depends on is not held (a store holds no change without
    /// its ancestors).
    #[error("thiếu thay đổi trước mà thay đổi này phụ thuộc vào")]
    MissingDeps,
    /// The first change of a document does not create the record.
    #[error("thay đổi đầu tiên của hồ sơ không tạo phần đầu hồ sơ hợp lệ")]
    NotCreation,
    /// The change alters or forges a record's header.
    #[error("phần đầu hồ sơ không hợp lệ: {0}")]
    Header(String),
    /// The signer may not write this record.
    #[error("không được phép: {0}")]
    Denied(String),
    /// The record holds another change with the same Automerge actor and
    /// sequence number: the signer's data directory was copied (or restored
    /// from a backup) and both copies wrote to this record with one epoch.
    #[error(
        "hồ sơ đã có một thay đổi khác cùng tác nhân và số thứ tự {0}: thư mục dữ liệu của người ký đã bị sao chép hoặc khôi phục từ bản sao lưu khi chưa có bản danvan tự phát hiện việc này; hai thay đổi không ghép được — mở bản sao bằng bản danvan mới (nó tự đổi epoch) rồi ghi lại nội dung bị từ chối"
    )]
    DuplicateSeq(u64),
}

/// The first bytes of every Automerge chunk.
pub const CHUNK_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The chunk type of a plain (uncompressed) change.
pub const CHUNK_CHANGE: u8 = 1;

/// Parses a received change body in the one encoding a change is signed
/// and stored in: a plain Automerge change chunk whose checksum bytes are
/// those of its hash.
///
/// Automerge reads a change from other bytes that hash the same, and which
/// a signature over the hash therefore does not pin down: with any checksum
/// bytes (it does not check them), and deflate-compressed — which it
/// inflates, without bound, before anything else is checked, so that a
/// body within the size limit could take gigabytes. Both are refused here,
/// before Automerge reads the body.
pub fn parse_change_body(body: &[u8]) -> Result<automerge::Change, ChangeError> {
    if body.len() < 9 || body[..4] != CHUNK_MAGIC || body[8] != CHUNK_CHANGE {
        return Err(ChangeError::Malformed(
            "không phải một thay đổi Automerge dạng thường (không nén)".into(),
        ));
    }
    let change =
        automerge::Change::try_from(body).map_err(|e| ChangeError::Malformed(e.to_string()))?;
    if body[4..8] != change.hash().0[..4] {
        return Err(ChangeError::Malformed(
            "tổng kiểm tra của thay đổi không khớp mã băm".into(),
        ));
    }
    Ok(change)
}

/// The hash a received body names, without parsing it: for a plain
/// change chunk, Automerge's change hash of it in this encoding (the
/// SHA-256 of the chunk after magic and checksum); for anything else, the
/// SHA-256 of all its bytes. A body that is not the well-formed change
/// this hash names fails [`SignedChange::verify`], which parses it.
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    if body.len() >= 9 && body[..4] == CHUNK_MAGIC && body[8] == CHUNK_CHANGE {
        Sha256::digest(&body[8..]).into()
    } else {
        Sha256::digest(body).into()
    }
}

/// Whether a stored body is, in its signed encoding, the change `hash`
/// names: what a sender checks before it sends a body, so that a damaged
/// row is caught at home instead of ending the peer's session. Automerge's
/// change hash is the SHA-256 of the chunk after magic and checksum, which
/// is checked first (cheap); only when that does not match is the body
/// parsed, to say what is wrong.
pub fn check_body(hash: &[u8; 32], body: &[u8]) -> Result<(), ChangeError> {
    if body.len() >= 9 && body[4..8] == hash[..4] && body_hash(body) == *hash {
        return Ok(());
    }
    let change = parse_change_body(body)?;
    if change.hash().0 != *hash {
        return Err(ChangeError::HashMismatch);
    }
    Ok(())
}

/// Authors' public keys as verification uses them, decompressed once per
/// author (a curve point decompression, ~10 % of one signature check)
/// instead of once per change. A receiver keeps one per batch: its changes
/// come from few authors, and there are never more keys than changes.
#[derive(Debug, Default)]
pub struct VerifyingKeys(std::collections::HashMap<NodeId, Option<ed25519_dalek::VerifyingKey>>);

impl VerifyingKeys {
    /// The key of `author`, `None` when its id is no valid key.
    fn of(&mut self, author: &NodeId) -> Option<&ed25519_dalek::VerifyingKey> {
        self.0
            .entry(*author)
            .or_insert_with(|| author.verifying_key().ok())
            .as_ref()
    }
}

impl SignedChange {
    /// Checks the encoding ([`parse_change_body`]), hash, signature and
    /// actor, and returns the parsed change.
    pub fn verify(&self) -> Result<automerge::Change, ChangeError> {
        self.verify_with(&mut VerifyingKeys::default())
    }

    /// [`SignedChange::verify`], taking the author's key from `keys`
    /// (decompressed there the first time): the same checks.
    pub fn verify_with(&self, keys: &mut VerifyingKeys) -> Result<automerge::Change, ChangeError> {
        let change = self.parsed()?;
        let signed = self.signature.is_some_and(|signature| {
            keys.of(&self.author).is_some_and(|key| {
                verify_with_key(
                    key,
                    CHANGE_SIGNATURE_CONTEXT,
                    &change_message(&self.doc, &self.hash),
                    &signature,
                )
            })
        });
        if !signed {
            return Err(ChangeError::BadSignature(self.author.short()));
        }
        self.check_actor(&change)?;
        Ok(change)
    }

    /// The body parsed in its signed encoding, and the change it names.
    fn parsed(&self) -> Result<automerge::Change, ChangeError> {
        let change = parse_change_body(&self.body)?;
        if change.hash().0 != self.hash {
            return Err(ChangeError::HashMismatch);
        }
        Ok(change)
    }

    /// The change's Automerge actor must be the signer's key and an epoch.
    fn check_actor(&self, change: &automerge::Change) -> Result<(), ChangeError> {
        let actor = change.actor_id().to_bytes();
        if actor.len() != 32 + EPOCH_LEN || actor[..32] != self.author.as_bytes()[..] {
            return Err(ChangeError::ActorMismatch(self.author.short()));
        }
        Ok(())
    }
}

/// A change [`verify_group`] found sound: parsed, and, when it came
/// without a signature of its own, the hash of the signed change whose
/// history covers it.
#[derive(Debug)]
pub struct Verified {
    /// The parsed change.
    pub change: automerge::Change,
    /// For a change without a signature: the signed change that covers it.
    pub covered_by: Option<[u8; 32]>,
}

/// Authors of one record's group whose changes without a signature are
/// looked for under their signed ones: each is a walk through the group,
/// and the authors are whatever keys a sender made up (the roster is
/// asked only later), so their number bounds the work. An honest record
/// has a handful in one message; the changes of any further author are
/// refused as uncovered.
pub const COVERED_AUTHORS_MAX: usize = 16;

/// Verifies the changes of one record that arrived together (one message,
/// one bundle, or a record's stored history), in the order they are
/// applied: each signed change as [`SignedChange::verify`] does; a change
/// without a signature must be well formed, carry its author's actor, and
/// be reached through the dependency hashes of changes in `changes`, from
/// a signed change of the same author and record that verified and comes
/// after it (the store applies the group in order: a covering change
/// before it would be refused for want of it, and leave it stored with no
/// cover held). A signature is over the record
/// and the change hash, and the hash covers the bodies of everything the
/// change depends on, so that author vouched for it. A change of another
/// author on the way only carries the walk: it is itself accepted only
/// by its own signature or its own author's. Results are in the order of
/// `changes`; `changes` must all belong to one record (a change of another
/// is refused). A panic while reading a body refuses that change.
pub fn verify_group(
    changes: &[SignedChange],
    keys: &mut VerifyingKeys,
) -> Vec<Result<Verified, ChangeError>> {
    use std::collections::HashMap;
    let doc = changes.first().map(|c| c.doc);
    let mut results: Vec<Result<Verified, ChangeError>> = changes
        .iter()
        .map(|signed| {
            if Some(signed.doc) != doc {
                return Err(ChangeError::Malformed(
                    "thay đổi của hồ sơ khác trong cùng nhóm".into(),
                ));
            }
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if signed.signature.is_some() {
                    signed.verify_with(keys)
                } else {
                    let change = signed.parsed()?;
                    signed.check_actor(&change)?;
                    Ok(change)
                }
            }))
            .unwrap_or_else(|_| {
                Err(ChangeError::Malformed(
                    "không đọc được thay đổi Automerge".into(),
                ))
            })
            .map(|change| Verified {
                change,
                covered_by: None,
            })
        })
        .collect();
    if changes.iter().all(|c| c.signature.is_some()) {
        return results;
    }
    // The walk: from each verified signed change, through the dependency
    // hashes of changes whose body was read (its hash is that of the
    // body, so what it names is what the signer's hash covers).
    let mut at: HashMap<[u8; 32], usize> = HashMap::with_capacity(changes.len());
    for (i, (signed, result)) in changes.iter().zip(&results).enumerate() {
        if result.is_ok() {
            at.entry(signed.hash).or_insert(i);
        }
    }
    let mut covered: Vec<Option<[u8; 32]>> = vec![None; changes.len()];
    // One walk per author with changes to cover, from its signed changes
    // newest first; a change reached once is not walked again for that
    // author (what it reaches was reached then): O(authors × (changes +
    // dependencies)), the authors at most COVERED_AUTHORS_MAX.
    let mut walked: HashMap<NodeId, Vec<bool>> = HashMap::new();
    for c in changes.iter().filter(|c| c.signature.is_none()) {
        if walked.len() < COVERED_AUTHORS_MAX || walked.contains_key(&c.author) {
            walked
                .entry(c.author)
                .or_insert_with(|| vec![false; changes.len()]);
        }
    }
    for head in (0..changes.len()).rev() {
        if changes[head].signature.is_none() || results[head].is_err() {
            continue;
        }
        let author = changes[head].author;
        let Some(seen) = walked.get_mut(&author) else {
            continue;
        };
        if seen[head] {
            continue;
        }
        seen[head] = true;
        let mut stack = vec![head];
        while let Some(i) = stack.pop() {
            let Ok(verified) = &results[i] else { continue };
            for dep in verified.change.deps() {
                if let Some(&j) = at.get(&dep.0)
                    && !seen[j]
                {
                    seen[j] = true;
                    if changes[j].signature.is_none() && changes[j].author == author && j < head {
                        covered[j].get_or_insert(changes[head].hash);
                    }
                    stack.push(j);
                }
            }
        }
    }
    for ((signed, result), covered) in changes.iter().zip(&mut results).zip(covered) {
        if signed.signature.is_some() {
            continue;
        }
        match (result.as_mut(), covered) {
            (Ok(verified), Some(head)) => verified.covered_by = Some(head),
            (Ok(_), None) => *result = Err(ChangeError::Uncovered(signed.author.short())),
            (Err(_), _) => {}
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    /// A signed change with a body of `len` text bytes.
    fn signed_change(key: &NodeKey, len: usize) -> SignedChange {
        let doc = crate::DocId::from_bytes([3; 16]);
        let mut am = automerge::Automerge::new().with_actor(key.actor(&[1; 8]));
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, "text", "a".repeat(len))?;
            Ok(())
        })
        .expect("an edit");
        let mut change = am.get_last_local_change().expect("a change");
        key.sign_change(&doc, &mut change)
    }

    #[test]
    fn a_change_verifies_only_in_its_signed_encoding() {
        let key = NodeKey::from_secret([7; 32]);
        let change = signed_change(&key, 100_000);
        assert!(change.verify().is_ok());
        // Other checksum bytes: Automerge reads the same change.
        for i in 4..8 {
            let mut other = change.clone();
            other.body[i] ^= 0x20;
            assert!(automerge::Change::try_from(other.body.as_slice()).is_ok());
            assert!(matches!(other.verify(), Err(ChangeError::Malformed(_))));
        }
        // Compressed: 100 kB in a few hundred bytes, the same hash.
        let mut parsed = automerge::Change::try_from(change.body.as_slice()).expect("a change");
        let compressed = parsed.bytes().to_vec();
        assert!(compressed.len() < 1_000, "{}", compressed.len());
        let parsed_again = automerge::Change::try_from(compressed.as_slice()).expect("a change");
        assert_eq!(parsed_again.hash().0, change.hash);
        let other = SignedChange {
            body: compressed,
            ..change.clone()
        };
        assert!(matches!(other.verify(), Err(ChangeError::Malformed(_))));
        // Not a chunk at all, or cut short.
        assert!(parse_change_body(&[]).is_err());
        assert!(parse_change_body(&change.body[..8]).is_err());
        assert!(parse_change_body(&change.body[..change.body.len() - 1]).is_err());
    }

    /// A key taken from the cache checks exactly what a fresh one does: a
    /// signature by another key, or claimed for another author, or an
    /// author id that is no key, is refused after the author's key was
    /// cached by a good change.
    #[test]
    fn cached_keys_refuse_what_fresh_keys_refuse() {
        let key = NodeKey::from_secret([7; 32]);
        let other = NodeKey::from_secret([8; 32]);
        let good = signed_change(&key, 10);
        let mut keys = VerifyingKeys::default();
        assert!(good.verify_with(&mut keys).is_ok());
        let forged = SignedChange {
            signature: signed_change(&other, 10).signature,
            ..good.clone()
        };
        let claimed = SignedChange {
            author: other.id(),
            ..good.clone()
        };
        // Not a point on the curve: no key at all.
        let no_key = (0..=u8::MAX)
            .map(|b| NodeId::from_bytes([b; 32]))
            .find(|id| id.verifying_key().is_err())
            .expect("an id that is no key");
        let keyless = SignedChange {
            author: no_key,
            ..good.clone()
        };
        for bad in [&forged, &claimed, &keyless] {
            let fresh = bad.verify().map(|_| ()).map_err(|e| e.to_string());
            let cached = bad
                .verify_with(&mut keys)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(cached.is_err());
            assert_eq!(cached, fresh);
        }
        assert!(good.verify_with(&mut keys).is_ok());
    }

    /// Changes of one record made in turn by `writers` (each builds on
    /// all before it), signed.
    fn history(writers: &[&NodeKey]) -> Vec<SignedChange> {
        let doc = crate::DocId::from_bytes([5; 16]);
        let mut am = automerge::Automerge::new();
        writers
            .iter()
            .enumerate()
            .map(|(i, key)| {
                am.set_actor(key.actor(&[1; 8]));
                am.transact::<_, _, automerge::AutomergeError>(|tx| {
                    tx.put(automerge::ROOT, "visits", i as i64)?;
                    Ok(())
                })
                .expect("an edit");
                let mut change = am.get_last_local_change().expect("a change").clone();
                key.sign_change(&doc, &mut change)
            })
            .collect()
    }

    fn unsigned(mut changes: Vec<SignedChange>, which: &[usize]) -> Vec<SignedChange> {
        for &i in which {
            changes[i].signature = None;
        }
        changes
    }

    /// What `verify_group` says of each: covered by (index), signed, or
    /// refused for want of cover.
    fn verdicts(changes: &[SignedChange]) -> Vec<String> {
        verify_group(changes, &mut VerifyingKeys::default())
            .into_iter()
            .map(|r| match r {
                Ok(Verified {
                    covered_by: Some(h),
                    ..
                }) => format!(
                    "covered by {}",
                    changes
                        .iter()
                        .position(|c| c.hash == h)
                        .expect("a change of the group")
                ),
                Ok(_) => "signed".into(),
                Err(ChangeError::Uncovered(_)) => "uncovered".into(),
                Err(ChangeError::BadSignature(_)) => "bad signature".into(),
                Err(e) => e.to_string(),
            })
            .collect()
    }

    /// A change without its own signature stands only under a signed
    /// change of its own author whose history reaches it through changes
    /// delivered with it — through another author's change on the way, but
    /// never on that author's word, nor past a bad signature.
    #[test]
    fn a_change_without_its_signature_stands_only_under_its_authors_signed_change() {
        let (a, b) = (NodeKey::from_secret([7; 32]), NodeKey::from_secret([8; 32]));
        let own = history(&[&a, &a, &a]);
        assert_eq!(verdicts(&own), ["signed", "signed", "signed"]);
        assert_eq!(
            verdicts(&unsigned(own.clone(), &[0, 1])),
            ["covered by 2", "covered by 2", "signed"]
        );
        // Covered only by a change after it: the store applies a group in
        // order, and would refuse a covering change it meets first (its
        // dependencies not held yet), leaving no cover held.
        let mut shuffled = unsigned(own.clone(), &[0, 1]);
        shuffled.rotate_left(2);
        assert_eq!(verdicts(&shuffled), ["signed", "uncovered", "uncovered"]);
        // The newest one unsigned: nothing covers it.
        assert_eq!(
            verdicts(&unsigned(own.clone(), &[1, 2])),
            ["signed", "uncovered", "uncovered"]
        );
        // The change that would cover it was not delivered with it.
        assert_eq!(
            verdicts(&unsigned(own[..2].to_vec(), &[0])),
            ["covered by 1", "signed"]
        );
        assert_eq!(verdicts(&unsigned(own[..1].to_vec(), &[0])), ["uncovered"]);
        // A bad signature covers nothing.
        let mut forged = unsigned(own.clone(), &[0, 1]);
        forged[2].signature.as_mut().expect("signed")[5] ^= 1;
        assert_eq!(
            verdicts(&forged),
            ["uncovered", "uncovered", "bad signature"]
        );
        // Another author's change on the way carries the walk…
        let mixed = history(&[&a, &b, &a]);
        assert_eq!(
            verdicts(&unsigned(mixed.clone(), &[0])),
            ["covered by 2", "signed", "signed"]
        );
        // …but its signature vouches for its own author's changes only.
        assert_eq!(
            verdicts(&unsigned(mixed[..2].to_vec(), &[0])),
            ["uncovered", "signed"]
        );
        assert_eq!(
            verdicts(&unsigned(mixed.clone(), &[0, 1])),
            ["covered by 2", "uncovered", "signed"]
        );
        // A signed change of its author that does not build on it.
        let mut other = automerge::Automerge::new().with_actor(a.actor(&[1; 8]));
        other
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(automerge::ROOT, "title", "một nhánh khác")?;
                Ok(())
            })
            .expect("an edit");
        let mut beside = other.get_last_local_change().expect("a change").clone();
        let loose = vec![
            unsigned(own[..1].to_vec(), &[0]).remove(0),
            a.sign_change(&own[0].doc, &mut beside),
        ];
        assert_eq!(verdicts(&loose), ["uncovered", "signed"]);
        // At most COVERED_AUTHORS_MAX authors are looked for: each is a
        // walk, and a sender may make up any number of keys.
        let keys: Vec<NodeKey> = (0..=COVERED_AUTHORS_MAX as u8)
            .map(|i| NodeKey::from_secret([100 + i; 32]))
            .collect();
        let writers: Vec<&NodeKey> = keys.iter().flat_map(|k| [k, k]).collect();
        let many = unsigned(
            history(&writers),
            &(0..keys.len()).map(|i| 2 * i).collect::<Vec<_>>(),
        );
        let seen = verdicts(&many);
        for (i, verdict) in seen.iter().enumerate().step_by(2) {
            let expected = if i / 2 < COVERED_AUTHORS_MAX {
                format!("covered by {}", i + 1)
            } else {
                "uncovered".to_string()
            };
            assert_eq!(verdict, &expected, "author {}", i / 2);
        }
        // A change of another record in the group is refused.
        let mut elsewhere = own.clone();
        elsewhere[1].doc = crate::DocId::from_bytes([6; 16]);
        assert!(verdicts(&elsewhere)[1].contains("hồ sơ khác"));
    }

    #[test]
    fn node_id_round_trips_and_catches_typos() {
        let key = NodeKey::from_secret([7; 32]);
        let text = key.id().to_string();
        assert_eq!(text.len(), 56 + 6);
        assert_eq!(text.parse::<NodeId>().unwrap(), key.id());
        assert_eq!(text.to_lowercase().parse::<NodeId>().unwrap(), key.id());
        let mut typo = text.clone().into_bytes();
        typo[3] = if typo[3] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(typo).unwrap();
        assert!(typo.parse::<NodeId>().is_err());
    }
}
