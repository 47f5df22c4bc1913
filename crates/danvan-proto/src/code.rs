//! Short codes: an invite an officer can read over the phone
//! (`K7QF-M2XR-9D`), exchanged for the full signed invite at the hub.
//!
//! The joiner knows only the code and the hub's address, not the hub's key
//! nor the town's authority, so the code itself authenticates the exchange:
//!
//! - 10 characters of a 31-symbol alphabet without `0 O 1 I L` (49 bits).
//!   The first [`LOOKUP_CHARS`] name the code at the hub; the other 8
//!   (39.6 bits) are the secret, never sent.
//! - Both sides derive a 32-byte key from the whole code and the invited
//!   node's id with Argon2id ([`derive_key`]), so a machine that learns a
//!   proof or a MAC must pay Argon2 for every guess of the secret.
//! - The joiner sends [`CodeRequest`]: the lookup, its node id and
//!   `proof = HMAC(key, "join" ‖ node ‖ hub)`, `hub` being the key the
//!   joiner saw in the QUIC handshake — so a machine in the middle cannot
//!   pass the proof on to the real hub. The hub answers only a correct proof
//!   for the node the code was made for, once, before it expires.
//! - The hub answers [`CodeReply::Invite`] with the invite text and
//!   `HMAC(key, "invite" ‖ text)`; the joiner stores nothing unless the MAC
//!   checks and the invite names it and the hub it is talking to. A machine
//!   that does not know the code cannot make a false invite it accepts.
//! - Wrong proofs are bounded: [`WRONG_PER_CODE_MAX`] per code (then the code
//!   is spent) and [`CodeDesk`]'s window of [`WRONG_PER_WINDOW_MAX`] per
//!   minute for the whole hub (unknown lookups included).
//!
//! Pure: the caller passes the time, the randomness and the hub's invite.

use danvan_model::NodeId;
use sha2::{Digest, Sha256};

/// The symbols of a code: digits and capitals without `0 O 1 I L`.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters in a code.
pub const CODE_CHARS: usize = 10;
/// Characters of the code that name it at the hub (sent in the clear).
pub const LOOKUP_CHARS: usize = 2;
/// Wrong proofs for one code before it is spent.
pub const WRONG_PER_CODE_MAX: u8 = 5;
/// Wrong or unknown requests a hub answers per minute; more are refused unread.
pub const WRONG_PER_WINDOW_MAX: usize = 20;
const WINDOW_MS: u64 = 60_000;
/// Codes a hub keeps waiting at once.
pub const PENDING_MAX: usize = 100;
/// How long a spent or expired code is remembered (so its use says "đã dùng"
/// or "hết hạn" rather than "không có").
pub const REMEMBER_MS: u64 = 7 * 24 * 3_600_000;
/// The longest invite text a reply may carry.
const INVITE_BYTES_MAX: usize = 2048;

const KIND_REQUEST: u8 = 0x60;
const KIND_REPLY: u8 = 0x61;
const CODE_VERSION: u8 = 1;

/// A short code, read from what a person typed or made from randomness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShortCode([u8; CODE_CHARS]);

/// Why a typed code is not a code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "mã ngắn {0:?} không đúng dạng: cần {CODE_CHARS} ký tự chữ và số (không có 0, O, 1, I, L), ví dụ K7QF-M2XR-9D"
)]
pub struct BadShortCode(pub String);

impl ShortCode {
    /// A code from uniformly random bytes (rejection sampling, so every
    /// symbol is equally likely); `None` if the bytes ran out, which 64
    /// bytes make practically impossible.
    pub fn from_random(random: &[u8; 64]) -> Option<ShortCode> {
        let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
        let mut out = [0u8; CODE_CHARS];
        let mut symbols = random
            .iter()
            .filter(|&&b| b < limit)
            .map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()]);
        for slot in &mut out {
            *slot = symbols.next()?;
        }
        Some(ShortCode(out))
    }

    /// Reads a typed code: case, spaces and dashes do not matter.
    pub fn parse(text: &str) -> Result<ShortCode, BadShortCode> {
        let bad = || BadShortCode(text.to_string());
        let chars: Vec<u8> = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| u8::try_from(c.to_ascii_uppercase()).map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let out: [u8; CODE_CHARS] = chars.try_into().map_err(|_| bad())?;
        if !out.iter().all(|c| ALPHABET.contains(c)) {
            return Err(bad());
        }
        Ok(ShortCode(out))
    }

    /// The part that names the code at the hub.
    pub fn lookup(&self) -> String {
        String::from_utf8_lossy(&self.0[..LOOKUP_CHARS]).into_owned()
    }
}

impl std::fmt::Display for ShortCode {
    /// In groups of 4, 4 and 2: `K7QF-M2XR-9D`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = String::from_utf8_lossy(&self.0);
        write!(f, "{}-{}-{}", &s[..4], &s[4..8], &s[8..])
    }
}

/// The key both sides derive from the code and the invited node (Argon2id,
/// 19 MiB, 2 passes: a fraction of a second once, too slow to try 2^39
/// secrets).
pub fn derive_key(code: &ShortCode, node: &NodeId) -> [u8; 32] {
    let salt = Sha256::new()
        .chain_update(b"danvan-ma-ngan-1")
        .chain_update(node.as_bytes())
        .finalize();
    let params = argon2::Params::new(19 * 1024, 2, 1, Some(32)).expect("fixed Argon2 parameters");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(&code.0, &salt[..16], &mut key)
        .expect("fixed Argon2 lengths");
    key
}

/// HMAC-SHA-256 (RFC 2104) of the parts, in order.
fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let mut inner = Sha256::new().chain_update(pad(0x36));
    for part in parts {
        inner.update(part);
    }
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner.finalize())
        .finalize()
        .into()
}

/// Equal without an early exit on the first differing byte.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The joiner's proof that it knows the code, bound to the hub it reached.
pub fn request_proof(key: &[u8; 32], node: &NodeId, hub: &NodeId) -> [u8; 32] {
    hmac(key, &[b"join", node.as_bytes(), hub.as_bytes()])
}

/// The hub's MAC over the invite it returns.
pub fn invite_mac(key: &[u8; 32], invite: &str) -> [u8; 32] {
    hmac(key, &[b"invite", invite.as_bytes()])
}

/// Whether `mac` is the MAC of `invite` under `key`.
pub fn check_invite(key: &[u8; 32], invite: &str, mac: &[u8; 32]) -> bool {
    same(&invite_mac(key, invite), mac)
}

/// The joiner's first and only message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRequest {
    /// The code's lookup part.
    pub lookup: String,
    /// The joining node.
    pub node: NodeId,
    /// [`request_proof`].
    pub proof: [u8; 32],
}

/// Why the hub did not hand out an invite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    /// No such code, or not for this node, or a wrong proof.
    Wrong,
    /// The code was already used.
    Used,
    /// The code expired.
    Expired,
    /// Too many wrong tries: the code is spent, or the hub waits a minute.
    TooMany,
}

impl CodeRefusal {
    fn byte(self) -> u8 {
        match self {
            CodeRefusal::Wrong => 1,
            CodeRefusal::Used => 2,
            CodeRefusal::Expired => 3,
            CodeRefusal::TooMany => 4,
        }
    }

    fn from_byte(b: u8) -> Option<CodeRefusal> {
        Some(match b {
            1 => CodeRefusal::Wrong,
            2 => CodeRefusal::Used,
            3 => CodeRefusal::Expired,
            4 => CodeRefusal::TooMany,
            _ => return None,
        })
    }
}

/// The hub's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeReply {
    /// The invite text and [`invite_mac`].
    Invite {
        /// `dvmoi1-…`.
        text: String,
        /// Its MAC under the code's key.
        mac: [u8; 32],
    },
    /// No invite, and why.
    Refused(CodeRefusal),
}

/// A code exchange message that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("tin nhắn trao đổi mã ngắn không hợp lệ")]
pub struct BadCodeMessage;

/// Whether a first frame is a [`CodeRequest`] (rather than a sync Hello).
pub fn is_code_request(frame: &[u8]) -> bool {
    frame.first() == Some(&KIND_REQUEST)
}

/// `kind, version, lookup [2], node [32], proof [32]`.
pub fn encode_request(r: &CodeRequest) -> Vec<u8> {
    let mut out = vec![KIND_REQUEST, CODE_VERSION];
    let mut lookup = [0u8; LOOKUP_CHARS];
    for (slot, b) in lookup.iter_mut().zip(r.lookup.bytes()) {
        *slot = b;
    }
    out.extend_from_slice(&lookup);
    out.extend_from_slice(r.node.as_bytes());
    out.extend_from_slice(&r.proof);
    out
}

/// Reads a [`CodeRequest`].
pub fn decode_request(frame: &[u8]) -> Result<CodeRequest, BadCodeMessage> {
    if frame.len() != 2 + LOOKUP_CHARS + 64 || frame[0] != KIND_REQUEST || frame[1] != CODE_VERSION
    {
        return Err(BadCodeMessage);
    }
    let lookup = &frame[2..2 + LOOKUP_CHARS];
    if !lookup.iter().all(|c| ALPHABET.contains(c)) {
        return Err(BadCodeMessage);
    }
    let at = 2 + LOOKUP_CHARS;
    Ok(CodeRequest {
        lookup: String::from_utf8_lossy(lookup).into_owned(),
        node: NodeId::from_bytes(frame[at..at + 32].try_into().map_err(|_| BadCodeMessage)?),
        proof: frame[at + 32..].try_into().map_err(|_| BadCodeMessage)?,
    })
}

/// `kind, version, 0, mac [32], text` or `kind, version, refusal`.
pub fn encode_reply(r: &CodeReply) -> Vec<u8> {
    let mut out = vec![KIND_REPLY, CODE_VERSION];
    match r {
        CodeReply::Invite { text, mac } => {
            out.push(0);
            out.extend_from_slice(mac);
            out.extend_from_slice(text.as_bytes());
        }
        CodeReply::Refused(why) => out.push(why.byte()),
    }
    out
}

/// Reads a [`CodeReply`] (an invite text of at most 2 KiB).
pub fn decode_reply(frame: &[u8]) -> Result<CodeReply, BadCodeMessage> {
    if frame.len() < 3 || frame[0] != KIND_REPLY || frame[1] != CODE_VERSION {
        return Err(BadCodeMessage);
    }
    if frame[2] != 0 {
        if frame.len() != 3 {
            return Err(BadCodeMessage);
        }
        return CodeRefusal::from_byte(frame[2])
            .map(CodeReply::Refused)
            .ok_or(BadCodeMessage);
    }
    let rest = &frame[3..];
    if rest.len() < 32 || rest.len() - 32 > INVITE_BYTES_MAX {
        return Err(BadCodeMessage);
    }
    Ok(CodeReply::Invite {
        mac: rest[..32].try_into().map_err(|_| BadCodeMessage)?,
        text: std::str::from_utf8(&rest[32..])
            .map_err(|_| BadCodeMessage)?
            .to_string(),
    })
}

/// A code waiting at the hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCode {
    /// Its lookup part.
    pub lookup: String,
    /// The node it was made for.
    pub node: NodeId,
    /// [`derive_key`] of the code and node (the code itself is not kept).
    pub key: [u8; 32],
    /// When it was made (ms since the epoch).
    pub made_ms: u64,
    /// When it stops working.
    pub expires_ms: u64,
    /// When it was used, if it was.
    pub used_ms: Option<u64>,
    /// Wrong proofs so far.
    pub wrong: u8,
}

impl PendingCode {
    fn live(&self, now_ms: u64) -> bool {
        self.used_ms.is_none() && self.wrong < WRONG_PER_CODE_MAX && now_ms < self.expires_ms
    }
}

/// The hub's codes and its window of wrong requests.
#[derive(Debug, Default)]
pub struct CodeDesk {
    wrong_at: std::collections::VecDeque<u64>,
}

impl CodeDesk {
    /// Answers a request against the codes held (updated in place: a used
    /// code is marked, a wrong proof counted). `invite` makes the invite text
    /// for the code's node; `None` (the node left the roster) refuses.
    pub fn answer(
        &mut self,
        codes: &mut [PendingCode],
        request: &CodeRequest,
        hub: &NodeId,
        now_ms: u64,
        invite: impl FnOnce(&NodeId) -> Option<String>,
    ) -> CodeReply {
        while self
            .wrong_at
            .front()
            .is_some_and(|&t| t + WINDOW_MS <= now_ms)
        {
            self.wrong_at.pop_front();
        }
        if self.wrong_at.len() >= WRONG_PER_WINDOW_MAX {
            return CodeReply::Refused(CodeRefusal::TooMany);
        }
        let found = codes
            .iter_mut()
            .find(|c| c.lookup == request.lookup && c.node == request.node);
        let Some(code) = found else {
            self.wrong_at.push_back(now_ms);
            return CodeReply::Refused(CodeRefusal::Wrong);
        };
        if code.wrong >= WRONG_PER_CODE_MAX {
            return CodeReply::Refused(CodeRefusal::TooMany);
        }
        if !same(
            &request_proof(&code.key, &request.node, hub),
            &request.proof,
        ) {
            code.wrong += 1;
            self.wrong_at.push_back(now_ms);
            return CodeReply::Refused(CodeRefusal::Wrong);
        }
        if code.used_ms.is_some() {
            return CodeReply::Refused(CodeRefusal::Used);
        }
        if now_ms >= code.expires_ms {
            return CodeReply::Refused(CodeRefusal::Expired);
        }
        let Some(text) = invite(&code.node) else {
            return CodeReply::Refused(CodeRefusal::Wrong);
        };
        code.used_ms = Some(now_ms);
        CodeReply::Invite {
            mac: invite_mac(&code.key, &text),
            text,
        }
    }
}

/// Drops codes past remembering, and says whether a new code with `lookup`
/// may be added: no live code has that lookup and fewer than
/// [`PENDING_MAX`] are live.
pub fn prune_and_check(codes: &mut Vec<PendingCode>, lookup: &str, now_ms: u64) -> bool {
    codes.retain(|c| c.expires_ms.saturating_add(REMEMBER_MS) > now_ms);
    let live = codes.iter().filter(|c| c.live(now_ms)).count();
    live < PENDING_MAX && !codes.iter().any(|c| c.lookup == lookup)
}

/// The codes as stored at the hub: per code `lookup [2], node [32], key
/// [32], made u64, expires u64, used u64 (0: not), wrong u8`.
pub fn encode_pending(codes: &[PendingCode]) -> Vec<u8> {
    let mut out = vec![CODE_VERSION];
    for c in codes {
        out.extend_from_slice(&c.lookup.as_bytes()[..LOOKUP_CHARS]);
        out.extend_from_slice(c.node.as_bytes());
        out.extend_from_slice(&c.key);
        out.extend_from_slice(&c.made_ms.to_le_bytes());
        out.extend_from_slice(&c.expires_ms.to_le_bytes());
        out.extend_from_slice(&c.used_ms.unwrap_or(0).to_le_bytes());
        out.push(c.wrong);
    }
    out
}

const PENDING_RECORD: usize = LOOKUP_CHARS + 32 + 32 + 8 * 3 + 1;

/// Reads [`encode_pending`].
pub fn decode_pending(bytes: &[u8]) -> Result<Vec<PendingCode>, BadCodeMessage> {
    let (&version, rest) = bytes.split_first().ok_or(BadCodeMessage)?;
    if version != CODE_VERSION || rest.len() % PENDING_RECORD != 0 {
        return Err(BadCodeMessage);
    }
    let u64_at = |r: &[u8], at: usize| -> Result<u64, BadCodeMessage> {
        Ok(u64::from_le_bytes(
            r[at..at + 8].try_into().map_err(|_| BadCodeMessage)?,
        ))
    };
    rest.chunks_exact(PENDING_RECORD)
        .map(|r| {
            let at = LOOKUP_CHARS;
            let used = u64_at(r, at + 80)?;
            Ok(PendingCode {
                lookup: String::from_utf8(r[..at].to_vec()).map_err(|_| BadCodeMessage)?,
                node: NodeId::from_bytes(r[at..at + 32].try_into().map_err(|_| BadCodeMessage)?),
                key: r[at + 32..at + 64].try_into().map_err(|_| BadCodeMessage)?,
                made_ms: u64_at(r, at + 64)?,
                expires_ms: u64_at(r, at + 72)?,
                used_ms: (used != 0).then_some(used),
                wrong: r[at + 88],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> ShortCode {
        ShortCode::from_random(&[7u8; 64]).unwrap()
    }

    #[test]
    fn codes_read_back_as_typed_and_refuse_ambiguous_symbols() {
        let mut random = [0u8; 64];
        for (i, b) in random.iter_mut().enumerate() {
            *b = (i * 37 % 256) as u8;
        }
        let c = ShortCode::from_random(&random).unwrap();
        let shown = c.to_string();
        assert_eq!(shown.len(), 12);
        assert_eq!(ShortCode::parse(&shown).unwrap(), c);
        assert_eq!(
            ShortCode::parse(&shown.to_lowercase().replace('-', " ")).unwrap(),
            c
        );
        for bad in [
            "K7QF-M2XR-9",
            "K7QF-M2XR-9DD",
            "K7QF-M2XR-90",
            "K7QF-M2XR-9O",
            "K7QF-M2XR-9I",
            "K7QF-M2XR-9L",
            "K7QF-M2XR-91",
            "K7QF-M2XR-9Đ",
        ] {
            assert!(ShortCode::parse(bad).is_err(), "{bad}");
        }
        assert!(!ALPHABET.iter().any(|c| b"0O1IL".contains(c)));
    }

    #[test]
    fn messages_round_trip_and_refuse_garbage() {
        let node = NodeId::from_bytes([3; 32]);
        let request = CodeRequest {
            lookup: code().lookup(),
            node,
            proof: [9; 32],
        };
        let frame = encode_request(&request);
        assert!(is_code_request(&frame));
        assert_eq!(decode_request(&frame).unwrap(), request);
        for reply in [
            CodeReply::Invite {
                text: "dvmoi1-abc".into(),
                mac: [1; 32],
            },
            CodeReply::Refused(CodeRefusal::Expired),
        ] {
            assert_eq!(decode_reply(&encode_reply(&reply)).unwrap(), reply);
        }
        assert!(decode_request(&frame[..frame.len() - 1]).is_err());
        assert!(decode_reply(&[KIND_REPLY, CODE_VERSION, 9]).is_err());
        assert!(decode_reply(&[KIND_REPLY, CODE_VERSION, 0, 1]).is_err());
    }

    #[test]
    fn the_hub_answers_once_only_the_right_proof_and_the_joiner_checks_the_mac() {
        let c = code();
        let node = NodeId::from_bytes([3; 32]);
        let hub = NodeId::from_bytes([4; 32]);
        let key = derive_key(&c, &node);
        let mut codes = vec![PendingCode {
            lookup: c.lookup(),
            node,
            key,
            made_ms: 0,
            expires_ms: 1_000,
            used_ms: None,
            wrong: 0,
        }];
        let round = |codes: &mut Vec<PendingCode>, desk: &mut CodeDesk, proof, now| {
            let request = CodeRequest {
                lookup: c.lookup(),
                node,
                proof,
            };
            desk.answer(codes, &request, &hub, now, |_| Some("dvmoi1-x".into()))
        };
        let mut desk = CodeDesk::default();
        // Another code's key, or a proof for another hub, is wrong.
        let other = derive_key(&ShortCode::parse("2345-6789-AB").unwrap(), &node);
        let wrong = round(
            &mut codes,
            &mut desk,
            request_proof(&other, &node, &hub),
            10,
        );
        assert_eq!(wrong, CodeReply::Refused(CodeRefusal::Wrong));
        let elsewhere = request_proof(&key, &node, &node);
        assert_eq!(
            round(&mut codes, &mut desk, elsewhere, 10),
            CodeReply::Refused(CodeRefusal::Wrong)
        );
        let good = request_proof(&key, &node, &hub);
        let CodeReply::Invite { text, mac } = round(&mut codes, &mut desk, good, 20) else {
            panic!("the right proof gets the invite");
        };
        assert!(check_invite(&key, &text, &mac));
        assert!(!check_invite(&other, &text, &mac));
        assert!(!check_invite(&key, "dvmoi1-y", &mac));
        assert_eq!(
            round(&mut codes, &mut desk, good, 30),
            CodeReply::Refused(CodeRefusal::Used)
        );
        // Stored and read back as it is now.
        assert_eq!(decode_pending(&encode_pending(&codes)).unwrap(), codes);

        // Expiry, and the per-code bound on wrong tries.
        codes[0].used_ms = None;
        assert_eq!(
            round(&mut codes, &mut desk, good, 1_000),
            CodeReply::Refused(CodeRefusal::Expired)
        );
        codes[0].expires_ms = u64::MAX;
        for _ in 0..WRONG_PER_CODE_MAX {
            round(&mut codes, &mut desk, [0; 32], 40);
        }
        assert_eq!(
            round(&mut codes, &mut desk, good, 50),
            CodeReply::Refused(CodeRefusal::TooMany)
        );

        // The hub-wide window: past the limit nothing is looked at for a minute.
        let mut desk = CodeDesk::default();
        codes[0].wrong = 0;
        let stranger = CodeRequest {
            lookup: "ZZ".into(),
            node,
            proof: [0; 32],
        };
        for _ in 0..WRONG_PER_WINDOW_MAX {
            desk.answer(&mut codes, &stranger, &hub, 100, |_| None);
        }
        assert_eq!(
            round(&mut codes, &mut desk, good, 200),
            CodeReply::Refused(CodeRefusal::TooMany)
        );
        assert!(matches!(
            round(&mut codes, &mut desk, good, 100 + WINDOW_MS),
            CodeReply::Invite { .. }
        ));
    }
}
