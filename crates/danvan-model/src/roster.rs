//! The town's roster: who may connect, read and write.
//!
//! The roster is a JSON document signed by the town's authority key (an
//! Ed25519 key held by the town office). It lists the unit tree and every
//! node with its key, role, units, project and status. A node accepts a
//! roster only when the authority it was pinned to signed it and its version
//! is newer than the one held ([`accept_roster`]).
//!
//! Encoding (`danvan/roster/v1`): `"DVRS"`, a format byte, the authority's
//! public key (32 bytes), the signature (64 bytes) over the body, the body
//! (UTF-8 JSON of [`Roster`]). The body bytes themselves are signed, so no
//! canonical JSON is needed. The format byte is 1, or 2 when the unit tree
//! carries dated unit changes (`[[change]]`): a node too old to read them
//! then says "update danvan" instead of failing on the unit file, and
//! rosters without changes stay byte for byte what older nodes hold.
//! Format 3 marks a handover ([`Roster::successor`] or
//! [`Roster::handovers`] set): an older build says "update danvan".
//!
//! A handover moves a town's nodes to another authority (the province's)
//! without re-joining: the pinned authority signs a roster naming its
//! successor; a node that installs it pins the successor. The successor's
//! rosters carry that handover roster inside ([`Roster::handovers`]), so a
//! node that never saw it alone still finds the chain from the authority
//! it pinned ([`accept_successor`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::identity::{NodeId, NodeKey, verify_signature};
use crate::units::UnitTree;

/// Domain separation for roster signatures.
const ROSTER_SIGNATURE_CONTEXT: &[u8] = b"danvan/roster/v1";
const MAGIC: &[u8; 4] = b"DVRS";
const FORMAT: u8 = 1;
/// The format of a roster whose unit tree has dated changes.
const FORMAT_UNIT_CHANGES: u8 = 2;
/// The format of a roster that names a successor or carries handovers.
const FORMAT_HANDOVER: u8 = 3;
/// The most handover rosters one roster may carry (one per town handed over).
pub const ROSTER_HANDOVERS_MAX: usize = 32;
/// How deep handovers may nest (town → province → …).
const HANDOVER_DEPTH_MAX: usize = 4;
const PREFIX_LEN: usize = 4 + 1 + 32 + 64;

/// The largest encoded roster accepted (it must fit in one sync frame).
pub const ROSTER_BYTES_MAX: usize = 3 * 1024 * 1024;
/// The most members a roster may list.
pub const ROSTER_MEMBERS_MAX: usize = 10_000;
/// The most change hashes all revoked members together may keep.
pub const ROSTER_KEPT_MAX: usize = 50_000;
const TEXT_MAX: usize = 200;

/// What a node may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The town office: reads and writes everything.
    Hub,
    /// A unit's officer: reads and writes its units' records; reads tasks.
    Officer,
    /// A land-clearance field team: reads and writes the household cases of
    /// its project in its assigned units; reads tasks.
    Field,
    /// Reads its units' records and tasks; writes nothing.
    Viewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Hub, Role::Officer, Role::Field, Role::Viewer];

    /// The code typed on the command line.
    pub fn code(self) -> &'static str {
        match self {
            Role::Hub => "hub",
            Role::Officer => "officer",
            Role::Field => "field",
            Role::Viewer => "viewer",
        }
    }

    /// The Vietnamese name.
    pub fn label_vi(self) -> &'static str {
        match self {
            Role::Hub => "văn phòng thị xã (trạm trung tâm)",
            Role::Officer => "cán bộ đơn vị",
            Role::Field => "tổ công tác GPMB",
            Role::Viewer => "chỉ xem",
        }
    }

    /// Reads a role code.
    pub fn parse(text: &str) -> Result<Role, RosterError> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == text.trim())
            .ok_or_else(|| {
                RosterError::Invalid(format!(
                    "vai trò không rõ: {text:?} (hub, officer, field, viewer)"
                ))
            })
    }
}

/// One node of the roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The node id (its public key), as printed by `danvan id`.
    pub node: String,
    /// A name for people ("Máy cán bộ Phổ Minh").
    #[serde(default)]
    pub name: Option<String>,
    /// What the node may do.
    pub role: Role,
    /// The units it works for (a field team may have several).
    pub units: Vec<String>,
    /// The land-clearance project of a field team.
    #[serde(default)]
    pub project: Option<String>,
    /// When the town office added it (ms since 1970).
    pub added_at: i64,
    /// When the town office revoked it; `None` while active.
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// For a revoked node: the hashes of its changes the town held when it
    /// was revoked (base64 of the concatenated 32-byte hashes). Those stay
    /// valid everywhere; anything else it signed is refused.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kept: String,
}

impl Member {
    /// Whether the node is revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// The roster's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Increases with every change; a node only accepts a newer one.
    pub version: u64,
    /// The town unit.
    pub town: String,
    /// When this version was signed (ms since 1970, informational).
    pub issued_at: i64,
    /// The unit tree, as TOML (the format of `units.toml`).
    pub units: String,
    /// Every node, active or revoked.
    pub members: Vec<Member>,
    /// The authority (node id of its key) that takes over from the one
    /// signing this roster: a node installing it pins the successor and
    /// from then on accepts only the successor's newer rosters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// Handover rosters (base64 of their signed bytes) by which earlier
    /// authorities named this roster's signer as successor: nodes pinned
    /// to one of them accept this roster through it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handovers: Vec<String>,
}

impl Roster {
    /// Carries `handover` (a roster naming this roster's signer as
    /// successor) inside this one; a newer handover from the same
    /// authority replaces the older.
    pub fn carry_handover(&mut self, handover: &SignedRoster) -> Result<(), RosterError> {
        let encoded = BASE64.encode(handover.bytes());
        let same_signer = |text: &String| {
            BASE64
                .decode(text.as_bytes())
                .ok()
                .and_then(|b| SignedRoster::decode(&b).ok())
                .is_some_and(|h| h.authority == handover.authority)
        };
        match self.handovers.iter().position(same_signer) {
            Some(i) => self.handovers[i] = encoded,
            None if self.handovers.len() >= ROSTER_HANDOVERS_MAX => {
                return Err(RosterError::Invalid(format!(
                    "quá {ROSTER_HANDOVERS_MAX} danh sách chuyển giao"
                )));
            }
            None => self.handovers.push(encoded),
        }
        Ok(())
    }
}

/// Why a roster was refused or a roster edit is impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    /// Not a roster, or cut short.
    #[error("danh sách thành viên hỏng: {0}")]
    Malformed(String),
    /// Over [`ROSTER_BYTES_MAX`].
    #[error("danh sách thành viên quá lớn ({0} byte, tối đa {ROSTER_BYTES_MAX})")]
    TooLarge(usize),
    /// The signature does not verify.
    #[error("chữ ký của danh sách thành viên không hợp lệ")]
    BadSignature,
    /// Signed by a key other than the pinned authority.
    #[error(
        "danh sách thành viên do khóa {signer} ký, không phải khóa thẩm quyền của thị xã {authority}"
    )]
    WrongAuthority {
        /// Who signed it.
        signer: String,
        /// The pinned authority.
        authority: String,
    },
    /// Not newer than the one held.
    #[error("danh sách thành viên phiên bản {offered} không mới hơn phiên bản đang giữ {held}")]
    NotNewer {
        /// The version offered.
        offered: u64,
        /// The version held.
        held: u64,
    },
    /// Content that breaks a rule.
    #[error("danh sách thành viên không hợp lệ: {0}")]
    Invalid(String),
}

/// Why a node or a change is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Not in the roster.
    #[error("nút {0} không có trong danh sách thành viên của thị xã")]
    NotMember(String),
    /// Revoked.
    #[error("nút {0} đã bị thu hồi quyền")]
    Revoked(String),
    /// The role does not allow it.
    #[error("nút {node} ({role}) không được ghi hồ sơ loại {kind} của đơn vị {unit}")]
    Write {
        /// The node.
        node: String,
        /// Its role (Vietnamese).
        role: &'static str,
        /// The record kind.
        kind: String,
        /// The record's unit.
        unit: String,
    },
}

/// The fixed part of a record's header that decides who may read and write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocScope<'a> {
    /// The record kind code.
    pub kind: &'a str,
    /// The owning unit.
    pub unit: &'a str,
    /// The project (households).
    pub project: Option<&'a str>,
}

/// What one node may read and write, resolved against the unit tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    role: Role,
    units: BTreeSet<String>,
    project: Option<String>,
}

impl Scope {
    /// Everything (a node without a roster, or the hub).
    pub fn all() -> Scope {
        Scope {
            role: Role::Hub,
            units: BTreeSet::new(),
            project: None,
        }
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The units whose records this scope may read (a field team: some of
    /// their households), or `None` when it reads every unit (the hub).
    /// Tasks are read by every role besides, whatever their unit. The
    /// store's scoped feed reads its index by these (`feed_readers`).
    pub fn read_units(&self) -> Option<&BTreeSet<String>> {
        match self.role {
            Role::Hub => None,
            Role::Officer | Role::Viewer | Role::Field => Some(&self.units),
        }
    }

    /// Whether a record may be read. Tasks are issued by the town and are
    /// read by every role.
    pub fn may_read(&self, doc: &DocScope<'_>) -> bool {
        match self.role {
            Role::Hub => true,
            Role::Officer | Role::Viewer => doc.kind == "task" || self.units.contains(doc.unit),
            Role::Field => doc.kind == "task" || self.field_case(doc),
        }
    }

    /// Whether a record may be written (created or changed).
    pub fn may_write(&self, doc: &DocScope<'_>) -> bool {
        match self.role {
            Role::Hub => true,
            Role::Officer => self.units.contains(doc.unit),
            Role::Field => self.field_case(doc),
            Role::Viewer => false,
        }
    }

    fn field_case(&self, doc: &DocScope<'_>) -> bool {
        doc.kind == "household"
            && self.units.contains(doc.unit)
            && doc.project == self.project.as_deref()
    }

    /// A text that changes whenever what the node may read changes: a
    /// checkpoint pulled under one scope is not reused under another.
    pub fn key(&self) -> String {
        let units: Vec<&str> = self.units.iter().map(String::as_str).collect();
        format!(
            "{}|{}|{}",
            self.role.code(),
            units.join(","),
            self.project.as_deref().unwrap_or("")
        )
    }

    /// The scope a [`Scope::key`] was made from; `None` for a text that is
    /// not one. How a sender reads back the scope it last served a peer
    /// under (`danvan-node/src/served.rs`).
    pub fn from_key(key: &str) -> Option<Scope> {
        let mut parts = key.splitn(3, '|');
        let role = Role::parse(parts.next()?).ok()?;
        let units = parts.next()?;
        let project = parts.next()?;
        Some(Scope {
            role,
            units: units
                .split(',')
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect(),
            project: (!project.is_empty()).then(|| project.to_string()),
        })
    }
}

/// A roster with its signature, checked and indexed.
#[derive(Clone)]
pub struct SignedRoster {
    bytes: Vec<u8>,
    authority: NodeId,
    roster: Roster,
    successor: Option<NodeId>,
    handovers: Vec<SignedRoster>,
    tree: UnitTree,
    index: BTreeMap<NodeId, usize>,
    kept: HashMap<NodeId, HashSet<[u8; 32]>>,
}

impl fmt::Debug for SignedRoster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRoster")
            .field("version", &self.roster.version)
            .field("authority", &self.authority)
            .field("members", &self.roster.members.len())
            .finish()
    }
}

impl SignedRoster {
    /// Signs a roster with the authority key (after checking it).
    pub fn sign(authority: &NodeKey, roster: &Roster) -> Result<SignedRoster, RosterError> {
        let tree =
            UnitTree::from_toml(&roster.units).map_err(|e| RosterError::Invalid(e.to_string()))?;
        SignedRoster::decode(&encode(authority, roster, format_for(roster, &tree))?)
    }

    /// Reads and checks an encoded roster: size, format, the signature by
    /// the key it names, and every rule of its content. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<SignedRoster, RosterError> {
        SignedRoster::decode_at(bytes, 0)
    }

    fn decode_at(bytes: &[u8], depth: usize) -> Result<SignedRoster, RosterError> {
        if bytes.len() > ROSTER_BYTES_MAX {
            return Err(RosterError::TooLarge(bytes.len()));
        }
        if bytes.len() < PREFIX_LEN || &bytes[..4] != MAGIC {
            return Err(RosterError::Malformed(
                "không phải danh sách thành viên danvan".into(),
            ));
        }
        if ![FORMAT, FORMAT_UNIT_CHANGES, FORMAT_HANDOVER].contains(&bytes[4]) {
            return Err(RosterError::Malformed(format!(
                "định dạng {} chưa được hỗ trợ (bản này đọc định dạng {FORMAT} đến {FORMAT_HANDOVER}); hãy cập nhật danvan",
                bytes[4]
            )));
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes[5..37]);
        let authority = NodeId::from_bytes(key);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[37..PREFIX_LEN]);
        let body = &bytes[PREFIX_LEN..];
        if !verify_signature(&authority, ROSTER_SIGNATURE_CONTEXT, body, &signature) {
            return Err(RosterError::BadSignature);
        }
        let roster: Roster =
            serde_json::from_slice(body).map_err(|e| RosterError::Malformed(e.to_string()))?;
        let (tree, index, kept) = check(&roster)?;
        let (successor, handovers) = check_handover(&roster, &authority, depth)?;
        if bytes[4] != format_for(&roster, &tree) {
            return Err(RosterError::Malformed(format!(
                "định dạng {} không khớp nội dung (thay đổi đơn vị: {})",
                bytes[4],
                tree.changes().len()
            )));
        }
        Ok(SignedRoster {
            bytes: bytes.to_vec(),
            authority,
            roster,
            successor,
            handovers,
            tree,
            index,
            kept,
        })
    }

    /// The authority this roster hands the town over to, if any.
    pub fn successor(&self) -> Option<NodeId> {
        self.successor
    }

    /// The authority a node pins once it installed this roster: the
    /// successor it names, else the key that signed it.
    pub fn pinned_after(&self) -> NodeId {
        self.successor.unwrap_or(self.authority)
    }

    /// The handover rosters this roster carries, checked.
    pub fn handovers(&self) -> &[SignedRoster] {
        &self.handovers
    }

    /// The encoded, signed roster.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The key that signed it.
    pub fn authority(&self) -> NodeId {
        self.authority
    }

    /// The content.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.roster.version
    }

    /// The unit tree it carries (its newest view; the dated changes are in
    /// [`UnitTree::changes`]).
    pub fn units(&self) -> &UnitTree {
        &self.tree
    }

    /// Refuses this roster as the successor of `held` when it drops or
    /// alters a unit change `held` already published: the history of the
    /// units only grows, so every node reads old records the same way.
    /// A mistake in a published change is corrected by a later change.
    pub fn check_unit_history(&self, held: &SignedRoster) -> Result<(), RosterError> {
        let (old, new) = (held.tree.changes(), self.tree.changes());
        if held.authority != self.authority {
            // Across a handover the successor's tree may interleave other
            // towns' changes by date: every change `held` published must
            // still be there, in the same order.
            let mut rest = new.iter();
            return match old.iter().position(|c| !rest.any(|n| n == c)) {
                Some(i) => Err(RosterError::Invalid(format!(
                    "danh sách của khóa thẩm quyền mới thiếu thay đổi đơn vị thứ {} đã ban hành ở phiên bản {} (của khóa {}); phải giữ mọi thay đổi cũ theo đúng thứ tự",
                    i + 1,
                    held.version(),
                    held.authority.short()
                ))),
                None => Ok(()),
            };
        }
        match old.iter().zip(new).position(|(a, b)| a != b) {
            Some(i) => Err(RosterError::Invalid(format!(
                "thay đổi đơn vị thứ {} đã ban hành ở phiên bản {} bị sửa; chỉ được thêm thay đổi mới sau các thay đổi cũ",
                i + 1,
                held.version()
            ))),
            None if new.len() < old.len() => Err(RosterError::Invalid(format!(
                "phiên bản {} có {} thay đổi đơn vị, bỏ mất {} thay đổi đã ban hành ở phiên bản {}",
                self.version(),
                new.len(),
                old.len() - new.len(),
                held.version()
            ))),
            None => Ok(()),
        }
    }

    /// The entry of a node.
    pub fn member(&self, node: &NodeId) -> Option<&Member> {
        self.index.get(node).map(|&i| &self.roster.members[i])
    }

    /// Every active member.
    pub fn active(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.index
            .iter()
            .filter(|(_, i)| !self.roster.members[**i].is_revoked())
            .map(|(id, _)| *id)
    }

    /// May this node connect? It must be listed and not revoked.
    pub fn check_peer(&self, node: &NodeId) -> Result<&Member, Denied> {
        match self.member(node) {
            None => Err(Denied::NotMember(node.short())),
            Some(m) if m.is_revoked() => Err(Denied::Revoked(node.short())),
            Some(m) => Ok(m),
        }
    }

    /// What an active node may read and write in the newest view of the
    /// units (every unit change applied); `None` if it is not listed or
    /// revoked. Callers that know the day use [`SignedRoster::scope_on`].
    pub fn scope(&self, node: &NodeId) -> Option<Scope> {
        self.scope_in(node, &self.tree)
    }

    /// What an active node may read and write on `day`: each of its units
    /// resolved through the unit changes in force that day (an officer
    /// listed under a commune merged by then works for the merged unit),
    /// with every unit whose records are read under it that day — so an
    /// officer of a merged ward reads and writes the records its former
    /// units made before the merge, and no record's header changes.
    pub fn scope_on(&self, node: &NodeId, day: Date) -> Option<Scope> {
        self.scope_in(node, &self.tree.as_of(day))
    }

    fn scope_in(&self, node: &NodeId, tree: &UnitTree) -> Option<Scope> {
        let member = self.check_peer(node).ok()?;
        let mut units = BTreeSet::new();
        for unit in &member.units {
            units.extend(tree.rollup(&tree.current(unit)));
        }
        Some(Scope {
            role: member.role,
            units,
            project: member.project.clone(),
        })
    }

    /// May `author` have written the change `hash` to a record of `doc`'s
    /// header? A revoked node's changes are valid only when the town kept
    /// them at the revocation. Judged in the newest view of the units;
    /// [`SignedRoster::check_write_on`] judges on a day.
    pub fn check_write(
        &self,
        author: &NodeId,
        hash: &[u8; 32],
        doc: &DocScope<'_>,
    ) -> Result<(), Denied> {
        self.check_write_in(author, hash, doc, &self.tree)
    }

    /// [`SignedRoster::check_write`] with the units as they stand on `day`
    /// (the day of the check, not of the change: device clocks decide
    /// nothing).
    pub fn check_write_on(
        &self,
        author: &NodeId,
        hash: &[u8; 32],
        doc: &DocScope<'_>,
        day: Date,
    ) -> Result<(), Denied> {
        self.check_write_in(author, hash, doc, &self.tree.as_of(day))
    }

    fn check_write_in(
        &self,
        author: &NodeId,
        hash: &[u8; 32],
        doc: &DocScope<'_>,
        tree: &UnitTree,
    ) -> Result<(), Denied> {
        let Some(member) = self.member(author) else {
            return Err(Denied::NotMember(author.short()));
        };
        if member.is_revoked() {
            let kept = self.kept.get(author).is_some_and(|k| k.contains(hash));
            return if kept {
                Ok(())
            } else {
                Err(Denied::Revoked(author.short()))
            };
        }
        let scope = self
            .scope_in(author, tree)
            .ok_or_else(|| Denied::Revoked(author.short()))?;
        if scope.may_write(doc) {
            Ok(())
        } else {
            Err(Denied::Write {
                node: author.short(),
                role: member.role.label_vi(),
                kind: crate::Kind::named_code(doc.kind),
                unit: doc.unit.to_string(),
            })
        }
    }
}

/// Accepts `offered` in place of `held` for a node pinned to `authority`:
/// the authority must have signed it and it must be newer.
pub fn accept_roster(
    authority: &NodeId,
    held_version: u64,
    offered: &[u8],
) -> Result<SignedRoster, RosterError> {
    let roster = SignedRoster::decode(offered)?;
    if roster.authority != *authority {
        return Err(RosterError::WrongAuthority {
            signer: roster.authority.short(),
            authority: authority.short(),
        });
    }
    if roster.version() <= held_version {
        return Err(RosterError::NotNewer {
            offered: roster.version(),
            held: held_version,
        });
    }
    Ok(roster)
}

/// [`accept_roster`] in place of the roster `held` (if any): also refuses
/// one that drops or alters a unit change `held` published
/// ([`SignedRoster::check_unit_history`]). What a store calls.
///
/// A roster signed by another key is accepted only through a handover it
/// carries: a roster the pinned `authority` signed, acceptable in place of
/// `held` itself, naming the offered roster's signer as successor (checked
/// when decoding) — and the offered roster keeps its unit history. A
/// successor's roster without such a chain is refused as from any other
/// key. The caller pins [`SignedRoster::pinned_after`].
pub fn accept_successor(
    authority: &NodeId,
    held: Option<&SignedRoster>,
    offered: &[u8],
) -> Result<SignedRoster, RosterError> {
    let roster = SignedRoster::decode(offered)?;
    accept_decoded(authority, held, roster)
}

fn accept_decoded(
    authority: &NodeId,
    held: Option<&SignedRoster>,
    roster: SignedRoster,
) -> Result<SignedRoster, RosterError> {
    let held_version = held.map_or(0, SignedRoster::version);
    if roster.authority != *authority {
        let mut refusal = RosterError::WrongAuthority {
            signer: roster.authority.short(),
            authority: authority.short(),
        };
        for handover in &roster.handovers {
            match accept_decoded(authority, held, handover.clone()) {
                Ok(handover) => {
                    roster.check_unit_history(&handover)?;
                    if let Some(held) = held {
                        roster.check_unit_history(held)?;
                    }
                    return Ok(roster);
                }
                // The most telling reason: a chain from the pinned key
                // that failed says more than "another key".
                Err(e @ (RosterError::NotNewer { .. } | RosterError::Invalid(_))) => refusal = e,
                Err(_) => {}
            }
        }
        return Err(refusal);
    }
    if roster.version() <= held_version {
        return Err(RosterError::NotNewer {
            offered: roster.version(),
            held: held_version,
        });
    }
    if let Some(held) = held {
        roster.check_unit_history(held)?;
    }
    Ok(roster)
}

/// The format byte a roster with this content is encoded with.
fn format_for(roster: &Roster, tree: &UnitTree) -> u8 {
    if roster.successor.is_some() || !roster.handovers.is_empty() {
        FORMAT_HANDOVER
    } else if tree.changes().is_empty() {
        FORMAT
    } else {
        FORMAT_UNIT_CHANGES
    }
}

/// The signed bytes of a roster, unchecked.
fn encode(authority: &NodeKey, roster: &Roster, format: u8) -> Result<Vec<u8>, RosterError> {
    let body = serde_json::to_vec(roster).map_err(|e| RosterError::Malformed(e.to_string()))?;
    let signature = authority.sign(ROSTER_SIGNATURE_CONTEXT, &body);
    let mut bytes = Vec::with_capacity(PREFIX_LEN + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.push(format);
    bytes.extend_from_slice(authority.id().as_bytes());
    bytes.extend_from_slice(&signature);
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Encodes hashes for [`Member::kept`].
pub fn encode_kept(hashes: &[[u8; 32]]) -> String {
    BASE64.encode(&hashes.concat())
}

/// Reads the successor and the handovers of a roster signed by
/// `authority`: the successor is another key; each handover is a roster
/// signed by a third key, naming `authority` as its successor, older than
/// this one.
fn check_handover(
    roster: &Roster,
    authority: &NodeId,
    depth: usize,
) -> Result<(Option<NodeId>, Vec<SignedRoster>), RosterError> {
    let invalid = |m: String| RosterError::Invalid(m);
    let successor = match &roster.successor {
        None => None,
        Some(text) => {
            let id: NodeId = text
                .parse()
                .map_err(|e| invalid(format!("khóa thẩm quyền kế nhiệm {text:?}: {e}")))?;
            if id == *authority {
                return Err(invalid(
                    "khóa thẩm quyền kế nhiệm trùng khóa đang ký".into(),
                ));
            }
            Some(id)
        }
    };
    if roster.handovers.len() > ROSTER_HANDOVERS_MAX {
        return Err(invalid(format!(
            "quá {ROSTER_HANDOVERS_MAX} danh sách chuyển giao"
        )));
    }
    if !roster.handovers.is_empty() && depth >= HANDOVER_DEPTH_MAX {
        return Err(invalid(format!(
            "chuỗi chuyển giao sâu quá {HANDOVER_DEPTH_MAX} cấp"
        )));
    }
    let mut handovers = Vec::with_capacity(roster.handovers.len());
    for (i, text) in roster.handovers.iter().enumerate() {
        let bytes = BASE64
            .decode(text.as_bytes())
            .map_err(|e| invalid(format!("danh sách chuyển giao thứ {}: {e}", i + 1)))?;
        let handover = SignedRoster::decode_at(&bytes, depth + 1)
            .map_err(|e| invalid(format!("danh sách chuyển giao thứ {}: {e}", i + 1)))?;
        if handover.successor != Some(*authority) || handover.authority == *authority {
            return Err(invalid(format!(
                "danh sách chuyển giao thứ {} (khóa {}) không chuyển giao cho khóa đã ký {}",
                i + 1,
                handover.authority.short(),
                authority.short()
            )));
        }
        if handover.version() >= roster.version {
            return Err(invalid(format!(
                "danh sách chuyển giao thứ {} có phiên bản {}, không cũ hơn phiên bản {} mang nó",
                i + 1,
                handover.version(),
                roster.version
            )));
        }
        handovers.push(handover);
    }
    Ok((successor, handovers))
}

type Checked = (
    UnitTree,
    BTreeMap<NodeId, usize>,
    HashMap<NodeId, HashSet<[u8; 32]>>,
);

fn check(roster: &Roster) -> Result<Checked, RosterError> {
    let invalid = |m: String| Err(RosterError::Invalid(m));
    if roster.version == 0 {
        return invalid("phiên bản phải từ 1".into());
    }
    let tree =
        UnitTree::from_toml(&roster.units).map_err(|e| RosterError::Invalid(e.to_string()))?;
    if tree.get(&roster.town).is_none() {
        return invalid(format!(
            "thị xã {:?} không có trong cây đơn vị",
            roster.town
        ));
    }
    if roster.members.len() > ROSTER_MEMBERS_MAX {
        return invalid(format!("quá {ROSTER_MEMBERS_MAX} thành viên"));
    }
    let mut index = BTreeMap::new();
    let mut kept = HashMap::new();
    let mut kept_total = 0usize;
    for (i, m) in roster.members.iter().enumerate() {
        let id: NodeId = m
            .node
            .parse()
            .map_err(|e| RosterError::Invalid(format!("mã nút {:?}: {e}", m.node)))?;
        if index.insert(id, i).is_some() {
            return invalid(format!("nút {} có hai lần", id.short()));
        }
        if m.name
            .as_ref()
            .is_some_and(|n| n.chars().count() > TEXT_MAX)
            || m.project
                .as_ref()
                .is_some_and(|p| p.chars().count() > TEXT_MAX)
        {
            return invalid(format!("tên hoặc dự án của nút {} quá dài", id.short()));
        }
        if m.units.is_empty() || m.units.len() > 100 {
            return invalid(format!("nút {} phải có từ 1 đến 100 đơn vị", id.short()));
        }
        for unit in &m.units {
            if tree.get(unit).is_none() {
                return invalid(format!(
                    "đơn vị {unit:?} của nút {} không có trong cây đơn vị",
                    id.short()
                ));
            }
        }
        if m.role == Role::Field && m.project.as_deref().is_none_or(|p| p.trim().is_empty()) {
            return invalid(format!("nút {} là tổ GPMB nhưng thiếu dự án", id.short()));
        }
        if !m.kept.is_empty() {
            if !m.is_revoked() {
                return invalid(format!(
                    "nút {} chưa bị thu hồi mà có danh sách giữ lại",
                    id.short()
                ));
            }
            let raw = BASE64.decode(m.kept.as_bytes()).map_err(|e| {
                RosterError::Invalid(format!("danh sách giữ lại của nút {}: {e}", id.short()))
            })?;
            if raw.len() % 32 != 0 {
                return invalid(format!(
                    "danh sách giữ lại của nút {} sai độ dài",
                    id.short()
                ));
            }
            kept_total += raw.len() / 32;
            if kept_total > ROSTER_KEPT_MAX {
                return invalid(format!("quá {ROSTER_KEPT_MAX} thay đổi được giữ lại"));
            }
            let set: HashSet<[u8; 32]> = raw
                .chunks_exact(32)
                .map(|c| <[u8; 32]>::try_from(c).unwrap_or([0; 32]))
                .collect();
            kept.insert(id, set);
        }
    }
    Ok((tree, index, kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::SAMPLE_UNITS_TOML;

    fn member(key: &NodeKey, role: Role, units: &[&str], project: Option<&str>) -> Member {
        Member {
            node: key.id().to_string(),
            name: None,
            role,
            units: units.iter().map(|u| u.to_string()).collect(),
            project: project.map(str::to_string),
            added_at: 0,
            revoked_at: None,
            kept: String::new(),
        }
    }

    fn roster(members: Vec<Member>) -> Roster {
        Roster {
            version: 1,
            town: "duc-pho".into(),
            issued_at: 0,
            units: SAMPLE_UNITS_TOML.into(),
            members,
            successor: None,
            handovers: Vec::new(),
        }
    }

    #[test]
    fn roles_read_and_write_what_they_should() {
        let authority = NodeKey::from_secret([1; 32]);
        let (hub, officer, field, viewer) = (
            NodeKey::from_secret([2; 32]),
            NodeKey::from_secret([3; 32]),
            NodeKey::from_secret([4; 32]),
            NodeKey::from_secret([5; 32]),
        );
        let signed = SignedRoster::sign(
            &authority,
            &roster(vec![
                member(&hub, Role::Hub, &["duc-pho"], None),
                member(&officer, Role::Officer, &["pho-minh"], None),
                member(
                    &field,
                    Role::Field,
                    &["pho-minh", "pho-ninh"],
                    Some("cao-toc"),
                ),
                member(&viewer, Role::Viewer, &["pho-ninh"], None),
            ]),
        )
        .unwrap();
        let doc = |kind, unit, project| DocScope {
            kind,
            unit,
            project,
        };
        let petition_minh = doc("petition", "pho-minh", None);
        let petition_ninh = doc("petition", "pho-ninh", None);
        let case_ninh = doc("household", "pho-ninh", Some("cao-toc"));
        let case_other = doc("household", "pho-ninh", Some("khac"));
        let task = doc("task", "duc-pho", None);
        let s = |k: &NodeKey| signed.scope(&k.id()).unwrap();
        assert!(s(&hub).may_read(&petition_ninh) && s(&hub).may_write(&task));
        assert!(s(&officer).may_read(&petition_minh) && s(&officer).may_write(&petition_minh));
        assert!(!s(&officer).may_read(&petition_ninh) && !s(&officer).may_write(&petition_ninh));
        assert!(s(&officer).may_read(&task) && !s(&officer).may_write(&task));
        assert!(s(&field).may_write(&case_ninh) && !s(&field).may_write(&case_other));
        assert!(!s(&field).may_read(&petition_minh) && !s(&field).may_write(&petition_minh));
        assert!(s(&field).may_read(&task));
        assert!(s(&viewer).may_read(&petition_ninh) && !s(&viewer).may_write(&petition_ninh));
        assert!(!s(&viewer).may_read(&petition_minh));
        let stranger = NodeKey::from_secret([9; 32]).id();
        assert!(matches!(
            signed.check_write(&stranger, &[0; 32], &task),
            Err(Denied::NotMember(_))
        ));
    }

    #[test]
    fn only_the_authority_and_only_newer() {
        let authority = NodeKey::from_secret([1; 32]);
        let other = NodeKey::from_secret([6; 32]);
        let r = roster(vec![member(&authority, Role::Hub, &["duc-pho"], None)]);
        let good = SignedRoster::sign(&authority, &r).unwrap();
        let forged = SignedRoster::sign(&other, &r).unwrap();
        assert!(accept_roster(&authority.id(), 0, good.bytes()).is_ok());
        assert!(matches!(
            accept_roster(&authority.id(), 0, forged.bytes()),
            Err(RosterError::WrongAuthority { .. })
        ));
        assert!(matches!(
            accept_roster(&authority.id(), 1, good.bytes()),
            Err(RosterError::NotNewer { .. })
        ));
        let mut flipped = good.bytes().to_vec();
        let last = flipped.len() - 3;
        flipped[last] ^= 1;
        assert!(SignedRoster::decode(&flipped).is_err());
        for cut in [0, 4, 50, PREFIX_LEN, flipped.len() - 1] {
            assert!(SignedRoster::decode(&good.bytes()[..cut]).is_err());
        }
    }

    /// A roster of the Đức Phổ gazetteer (dated unit changes) with these members.
    fn reform_roster(members: Vec<Member>) -> Roster {
        Roster {
            units: crate::units::DUC_PHO_2025_UNITS_TOML.into(),
            ..roster(members)
        }
    }

    fn day(text: &str) -> Date {
        crate::dates::parse_date(text).unwrap()
    }

    #[test]
    fn rosters_carry_unit_changes_and_refuse_bad_ones() {
        let authority = NodeKey::from_secret([1; 32]);
        let hub = member(&authority, Role::Hub, &["duc-pho"], None);
        // Old rosters, without changes, keep their format and bytes.
        let old = SignedRoster::sign(&authority, &roster(vec![hub.clone()])).unwrap();
        assert_eq!(old.bytes()[4], FORMAT);
        assert!(old.units().changes().is_empty());
        assert!(SignedRoster::decode(old.bytes()).is_ok());

        let new = SignedRoster::sign(&authority, &reform_roster(vec![hub.clone()])).unwrap();
        assert_eq!(new.bytes()[4], FORMAT_UNIT_CHANGES);
        assert_eq!(new.units().changes().len(), 7);
        assert!(accept_roster(&authority.id(), 0, new.bytes()).is_ok());
        // The format byte must say what the content is.
        let mut relabelled = new.bytes().to_vec();
        relabelled[4] = FORMAT;
        assert!(matches!(
            SignedRoster::decode(&relabelled),
            Err(RosterError::Malformed(_))
        ));
        let mut relabelled = old.bytes().to_vec();
        relabelled[4] = FORMAT_UNIT_CHANGES;
        assert!(matches!(
            SignedRoster::decode(&relabelled),
            Err(RosterError::Malformed(_))
        ));

        // A change dated before the one above it, signed by the authority
        // all the same: the receiver refuses it, with the reason.
        let mut bad = reform_roster(vec![hub]);
        bad.units.push_str(
            "\n[[change]]\ndate = \"2025-06-01\"\naction = \"rename\"\nunit = \"phuong-duc-pho\"\nname = \"Phường X\"\n",
        );
        let bytes = encode(&authority, &bad, FORMAT_UNIT_CHANGES).unwrap();
        for refused in [
            SignedRoster::decode(&bytes).unwrap_err(),
            accept_roster(&authority.id(), 0, &bytes).unwrap_err(),
            SignedRoster::sign(&authority, &bad).unwrap_err(),
        ] {
            let RosterError::Invalid(message) = refused else {
                panic!("not refused as invalid: {refused:?}");
            };
            assert!(
                message.contains("thay đổi đơn vị thứ 8 ghi ngày 1/6/2025, trước ngày 1/7/2025"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_newer_roster_only_adds_unit_changes() {
        let authority = NodeKey::from_secret([1; 32]);
        let hub = member(&authority, Role::Hub, &["duc-pho"], None);
        let signed = |units: String, version| {
            let r = Roster {
                version,
                units,
                ..reform_roster(vec![hub.clone()])
            };
            SignedRoster::sign(&authority, &r).unwrap()
        };
        let gazetteer = crate::units::DUC_PHO_2025_UNITS_TOML.to_string();
        let v1 = signed(gazetteer.clone(), 1);
        let appended = signed(
            format!(
                "{gazetteer}\n[[change]]\ndate = \"2026-01-01\"\naction = \"rename\"\nunit = \"xa-khanh-cuong\"\nname = \"Xã Khánh Cường mới\"\n"
            ),
            2,
        );
        assert!(appended.check_unit_history(&v1).is_ok());
        assert!(accept_successor(&authority.id(), Some(&v1), appended.bytes()).is_ok());
        // Old rosters had no changes: the first ones are an addition.
        let before = SignedRoster::sign(&authority, &roster(vec![hub.clone()])).unwrap();
        assert!(v1.check_unit_history(&before).is_ok());
        let altered = signed(gazetteer.replace("code = \"21439\"", "code = \"21440\""), 2);
        let dropped = signed(SAMPLE_UNITS_TOML.into(), 2);
        for (offered, words) in [
            (&altered, "thay đổi đơn vị thứ 1 đã ban hành"),
            (&dropped, "bỏ mất 7"),
        ] {
            let message = offered.check_unit_history(&v1).unwrap_err().to_string();
            assert!(message.contains(words), "{message}");
            // Signed by the authority and newer, yet refused by a store.
            assert!(accept_roster(&authority.id(), 1, offered.bytes()).is_ok());
            let refused = accept_successor(&authority.id(), Some(&v1), offered.bytes());
            assert!(matches!(refused, Err(RosterError::Invalid(m)) if m.contains(words)));
        }
    }

    #[test]
    fn an_officer_of_a_merged_ward_reads_and_writes_its_former_units() {
        let authority = NodeKey::from_secret([1; 32]);
        let (ward, old_commune, field) = (
            NodeKey::from_secret([3; 32]),
            NodeKey::from_secret([4; 32]),
            NodeKey::from_secret([5; 32]),
        );
        let signed = SignedRoster::sign(
            &authority,
            &reform_roster(vec![
                member(&ward, Role::Officer, &["phuong-duc-pho"], None),
                member(&old_commune, Role::Officer, &["pho-minh"], None),
                member(
                    &field,
                    Role::Field,
                    &["pho-minh", "pho-an"],
                    Some("cao-toc"),
                ),
            ]),
        )
        .unwrap();
        let (before, after) = (day("2025-06-30"), day("2025-07-01"));
        let petition = |unit| DocScope {
            kind: "petition",
            unit,
            project: None,
        };
        let case = |unit| DocScope {
            kind: "household",
            unit,
            project: Some("cao-toc"),
        };
        let former = [
            "nguyen-nghiem",
            "pho-hoa",
            "pho-minh",
            "pho-vinh",
            "pho-ninh",
        ];
        let s = signed.scope_on(&ward.id(), after).unwrap();
        for unit in former.iter().chain(&["phuong-duc-pho"]) {
            // Records made before the merge keep their unit and are read
            // and written by the merged ward's officer.
            assert!(
                s.may_read(&petition(unit)) && s.may_write(&petition(unit)),
                "{unit}"
            );
            assert!(
                signed
                    .check_write_on(&ward.id(), &[0; 32], &petition(unit), after)
                    .is_ok()
            );
        }
        for unit in ["pho-thanh", "phuong-sa-huynh", "duc-pho", "quang-ngai"] {
            assert!(!s.may_read(&petition(unit)), "{unit}");
        }
        // Before the merge takes effect, the new ward holds only its own.
        let s = signed.scope_on(&ward.id(), before).unwrap();
        assert!(!s.may_read(&petition("pho-minh")) && s.may_read(&petition("phuong-duc-pho")));
        assert!(matches!(
            signed.check_write_on(&ward.id(), &[0; 32], &petition("pho-minh"), before),
            Err(Denied::Write { .. })
        ));
        // An officer still listed under a merged commune works for the
        // merged ward from the day of the merge.
        let s = signed.scope_on(&old_commune.id(), before).unwrap();
        assert!(s.may_write(&petition("pho-minh")) && !s.may_read(&petition("pho-hoa")));
        let s = signed.scope_on(&old_commune.id(), after).unwrap();
        assert!(s.may_write(&petition("pho-hoa")) && s.may_write(&petition("phuong-duc-pho")));
        // A field team's project crosses the new boundaries: its two
        // communes went to two wards, and it follows both.
        let s = signed.scope_on(&field.id(), after).unwrap();
        for unit in ["pho-hoa", "phuong-duc-pho", "pho-thuan", "phuong-tra-cau"] {
            assert!(s.may_write(&case(unit)), "{unit}");
        }
        assert!(!s.may_write(&case("pho-chau")) && !s.may_read(&petition("pho-minh")));
        // The undated scope is the newest view.
        assert_eq!(signed.scope(&ward.id()), signed.scope_on(&ward.id(), after));
        assert_ne!(
            signed.scope_on(&ward.id(), before).unwrap().key(),
            signed.scope_on(&ward.id(), after).unwrap().key()
        );
    }

    #[test]
    fn a_handover_moves_nodes_to_the_successor_and_only_through_the_pinned_key() {
        let (town, province, stranger) = (
            NodeKey::from_secret([1; 32]),
            NodeKey::from_secret([7; 32]),
            NodeKey::from_secret([8; 32]),
        );
        let hub = member(&town, Role::Hub, &["duc-pho"], None);
        let at = |version, members: Vec<Member>| Roster {
            version,
            ..roster(members)
        };
        let held = SignedRoster::sign(&town, &at(1, vec![hub.clone()])).unwrap();
        assert_eq!(held.pinned_after(), town.id());
        // The town names the province's authority as its successor.
        let handover = SignedRoster::sign(
            &town,
            &Roster {
                successor: Some(province.id().to_string()),
                ..at(2, vec![hub.clone()])
            },
        )
        .unwrap();
        assert_eq!(handover.bytes()[4], FORMAT_HANDOVER);
        assert_eq!(handover.pinned_after(), province.id());
        let got = accept_successor(&town.id(), Some(&held), handover.bytes()).unwrap();
        assert_eq!(got.successor(), Some(province.id()));
        // An older build refuses format 3 asking for an update.
        let mut relabelled = handover.bytes().to_vec();
        relabelled[4] = FORMAT;
        assert!(SignedRoster::decode(&relabelled).is_err());

        // The province's roster without the handover: another key, refused
        // by a node pinned to the town; after the handover, accepted.
        let bare = SignedRoster::sign(&province, &at(3, vec![hub.clone()])).unwrap();
        assert!(matches!(
            accept_successor(&town.id(), Some(&held), bare.bytes()),
            Err(RosterError::WrongAuthority { .. })
        ));
        assert!(accept_successor(&province.id(), Some(&handover), bare.bytes()).is_ok());
        // Carrying the handover, it is accepted straight from the town's
        // key, and the node pins the province.
        let mut carried = at(3, vec![hub.clone()]);
        carried.carry_handover(&handover).unwrap();
        let carried = SignedRoster::sign(&province, &carried).unwrap();
        let got = accept_successor(&town.id(), Some(&held), carried.bytes()).unwrap();
        assert_eq!(got.pinned_after(), province.id());
        assert_eq!(got.handovers().len(), 1);
        // A node that already holds something newer than the handover from
        // the town refuses the chain (the town signed after handing over).
        let later = SignedRoster::sign(&town, &at(2, vec![hub.clone()])).unwrap();
        assert!(matches!(
            accept_successor(&town.id(), Some(&later), carried.bytes()),
            Err(RosterError::NotNewer { .. })
        ));
        // A handover signed by anyone but the pinned key is refused.
        let forged = SignedRoster::sign(
            &stranger,
            &Roster {
                successor: Some(province.id().to_string()),
                ..at(2, vec![hub.clone()])
            },
        )
        .unwrap();
        assert!(matches!(
            accept_successor(&town.id(), Some(&held), forged.bytes()),
            Err(RosterError::WrongAuthority { .. })
        ));
        let mut through_forged = at(3, vec![hub.clone()]);
        through_forged.carry_handover(&forged).unwrap();
        let through_forged = SignedRoster::sign(&province, &through_forged).unwrap();
        assert!(matches!(
            accept_successor(&town.id(), Some(&held), through_forged.bytes()),
            Err(RosterError::WrongAuthority { .. })
        ));
        // A carried handover must name the carrier and be older than it.
        let mut misnamed = at(3, vec![hub.clone()]);
        misnamed.carry_handover(&handover).unwrap();
        assert!(matches!(
            SignedRoster::sign(&stranger, &misnamed),
            Err(RosterError::Invalid(_))
        ));
        let mut not_older = at(2, vec![hub.clone()]);
        not_older.carry_handover(&handover).unwrap();
        assert!(matches!(
            SignedRoster::sign(&province, &not_older),
            Err(RosterError::Invalid(_))
        ));
        // Naming oneself as successor is no handover.
        assert!(
            SignedRoster::sign(
                &town,
                &Roster {
                    successor: Some(town.id().to_string()),
                    ..at(2, vec![hub])
                },
            )
            .is_err()
        );
    }

    #[test]
    fn a_successor_keeps_the_unit_history_it_took_over() {
        let (town, province) = (NodeKey::from_secret([1; 32]), NodeKey::from_secret([7; 32]));
        let hub = member(&town, Role::Hub, &["duc-pho"], None);
        let handover = SignedRoster::sign(
            &town,
            &Roster {
                version: 2,
                successor: Some(province.id().to_string()),
                ..reform_roster(vec![hub.clone()])
            },
        )
        .unwrap();
        let province_roster = |units: String| {
            let mut r = Roster {
                version: 3,
                units,
                ..roster(vec![hub.clone()])
            };
            r.carry_handover(&handover).unwrap();
            SignedRoster::sign(&province, &r).unwrap()
        };
        let kept = province_roster(crate::units::DUC_PHO_2025_UNITS_TOML.into());
        assert!(accept_successor(&town.id(), None, kept.bytes()).is_ok());
        let dropped = province_roster(SAMPLE_UNITS_TOML.into());
        let refused = accept_successor(&town.id(), None, dropped.bytes()).unwrap_err();
        assert!(
            matches!(&refused, RosterError::Invalid(m) if m.contains("thiếu thay đổi đơn vị thứ 1")),
            "{refused:?}"
        );
    }

    #[test]
    fn revoked_nodes_keep_only_what_the_town_kept() {
        let authority = NodeKey::from_secret([1; 32]);
        let officer = NodeKey::from_secret([3; 32]);
        let mut m = member(&officer, Role::Officer, &["pho-minh"], None);
        m.revoked_at = Some(5);
        m.kept = encode_kept(&[[7; 32]]);
        let signed = SignedRoster::sign(&authority, &roster(vec![m])).unwrap();
        let doc = DocScope {
            kind: "activity",
            unit: "pho-minh",
            project: None,
        };
        assert!(signed.check_write(&officer.id(), &[7; 32], &doc).is_ok());
        assert!(matches!(
            signed.check_write(&officer.id(), &[8; 32], &doc),
            Err(Denied::Revoked(_))
        ));
        assert!(signed.check_peer(&officer.id()).is_err());
        assert!(signed.scope(&officer.id()).is_none());
    }
}

/// What a new node needs to join the town: where the hub is, the hub's key,
/// the authority key to pin, and the node it was made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    /// The hub's address (`host:port`).
    pub hub_addr: String,
    /// The hub's node id.
    pub hub: NodeId,
    /// The town's authority key.
    pub authority: NodeId,
    /// The node the invite was made for.
    pub node: NodeId,
}

const INVITE_PREFIX: &str = "dvmoi1-";
const INVITE_FORMAT: u8 = 1;
const INVITE_ADDR_MAX: usize = 255;

impl Invite {
    /// One copyable string: `dvmoi1-` and base32 of the fields with a
    /// 4-byte checksum, so a mistyped character is caught.
    pub fn encode(&self) -> String {
        let mut bytes = vec![INVITE_FORMAT];
        bytes.extend_from_slice(self.hub.as_bytes());
        bytes.extend_from_slice(self.authority.as_bytes());
        bytes.extend_from_slice(self.node.as_bytes());
        let addr = &self.hub_addr.as_bytes()[..self.hub_addr.len().min(INVITE_ADDR_MAX)];
        bytes.push(addr.len() as u8);
        bytes.extend_from_slice(addr);
        let sum = invite_checksum(&bytes);
        bytes.extend_from_slice(&sum);
        format!(
            "{INVITE_PREFIX}{}",
            data_encoding::BASE32_NOPAD
                .encode(&bytes)
                .to_ascii_lowercase()
        )
    }

    /// Reads an invite string (spaces and line breaks from copying are
    /// ignored). Never panics.
    pub fn decode(text: &str) -> Result<Invite, RosterError> {
        let bad = |m: &str| RosterError::Malformed(format!("lời mời không hợp lệ: {m}"));
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() > 1024 {
            return Err(bad("quá dài"));
        }
        let body = compact
            .to_ascii_lowercase()
            .strip_prefix(INVITE_PREFIX)
            .map(str::to_ascii_uppercase)
            .ok_or_else(|| bad("không bắt đầu bằng dvmoi1-"))?;
        let bytes = data_encoding::BASE32_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| bad("có ký tự ngoài bảng base32 (a–z, 2–7)"))?;
        let fixed = 1 + 32 * 3 + 1;
        if bytes.len() < fixed + 4 {
            return Err(bad("bị cắt ngắn"));
        }
        let (content, sum) = bytes.split_at(bytes.len() - 4);
        if invite_checksum(content) != sum {
            return Err(bad("sai tổng kiểm tra — có thể chép thiếu hoặc nhầm ký tự"));
        }
        if content[0] != INVITE_FORMAT {
            return Err(bad("định dạng mới hơn bản danvan này; hãy cập nhật"));
        }
        let key = |i: usize| {
            let mut k = [0u8; 32];
            k.copy_from_slice(&content[1 + 32 * i..1 + 32 * (i + 1)]);
            NodeId::from_bytes(k)
        };
        let addr_len = content[fixed - 1] as usize;
        if content.len() != fixed + addr_len {
            return Err(bad("độ dài địa chỉ không khớp"));
        }
        let hub_addr = std::str::from_utf8(&content[fixed..])
            .map_err(|_| bad("địa chỉ trạm không phải UTF-8"))?
            .to_string();
        let invite = Invite {
            hub_addr,
            hub: key(0),
            authority: key(1),
            node: key(2),
        };
        for id in [invite.hub, invite.authority, invite.node] {
            id.verifying_key()
                .map_err(|_| bad("chứa khóa công khai không hợp lệ"))?;
        }
        Ok(invite)
    }
}

fn invite_checksum(bytes: &[u8]) -> [u8; 4] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    [digest[0], digest[1], digest[2], digest[3]]
}

#[cfg(test)]
mod invite_tests {
    use super::*;

    #[test]
    fn invites_round_trip_and_catch_typos() {
        let invite = Invite {
            hub_addr: "10.0.0.5:7700".into(),
            hub: NodeKey::from_secret([1; 32]).id(),
            authority: NodeKey::from_secret([2; 32]).id(),
            node: NodeKey::from_secret([3; 32]).id(),
        };
        let text = invite.encode();
        assert_eq!(Invite::decode(&text).unwrap(), invite);
        assert_eq!(
            Invite::decode(&format!("  {}\n", text.to_uppercase())).unwrap(),
            invite
        );
        let mut typo = text.clone().into_bytes();
        let i = typo.len() - 10;
        typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
        assert!(Invite::decode(&String::from_utf8(typo).unwrap()).is_err());
        for cut in [0, 7, 20, text.len() - 1] {
            assert!(Invite::decode(&text[..cut]).is_err());
        }
    }
}
