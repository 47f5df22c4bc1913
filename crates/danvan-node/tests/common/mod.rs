//! A small town for the access-control tests: fixed keys, a roster signed by
//! the town authority, real nodes in temporary directories, and real signed
//! Automerge changes of real records (valid ones, and the forgeries made from
//! them).
//!
//! Everything is deterministic: keys come from fixed secrets and changes
//! carry a fixed timestamp, so a failing case reproduces byte for byte.

// Each test binary uses part of this module, which is private to it.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{Automerge, ObjType, ROOT, ReadDoc};
use danvan_model::{
    Activity, DocId, Header, Household, Kind, Member, NodeId, NodeKey, Petition, Record, Role,
    Roster, SAMPLE_UNITS_TOML, SCHEMA_VERSION, SignedChange, SignedRoster, Task, encode_kept,
    vocab,
};
use danvan_node::{KEY_FILE, Node};

/// The town unit of the sample tree.
pub const TOWN: &str = "duc-pho";
/// The victim's unit.
pub const UNIT: &str = "pho-minh";
/// Another commune.
pub const OTHER_UNIT: &str = "pho-ninh";
/// The field team's project.
pub const PROJECT: &str = "cao-toc-bac-nam";
/// Another project.
pub const OTHER_PROJECT: &str = "ven-bien-dung-quat-sa-huynh";
/// Timestamp of every change (device clocks are informational only).
const TIME_MS: i64 = 1_690_000_000_000;

/// Every key of the town, from fixed secrets.
pub struct Keys {
    /// The town authority: signs rosters.
    pub authority: NodeKey,
    /// The hub node (role hub, the town).
    pub hub: NodeKey,
    /// The node under attack: an officer of pho-minh.
    pub victim: NodeKey,
    /// Another officer node of pho-minh, which relays.
    pub relay: NodeKey,
    /// A listed officer node of pho-minh that sends forgeries itself.
    pub rogue: NodeKey,
    /// An officer of pho-minh who writes records.
    pub officer: NodeKey,
    /// An officer of pho-ninh.
    pub other_officer: NodeKey,
    /// A land-clearance field team: households of `PROJECT` in pho-minh.
    pub field: NodeKey,
    /// A viewer of pho-minh.
    pub viewer: NodeKey,
    /// An officer of pho-minh revoked in roster version 2.
    pub revoked: NodeKey,
    /// A town-office writer (role hub).
    pub town_writer: NodeKey,
    /// Not in the roster.
    pub stranger: NodeKey,
}

impl Keys {
    /// The keys of the test town.
    pub fn new() -> Keys {
        let k = |n: u8| NodeKey::from_secret([n; 32]);
        Keys {
            authority: k(1),
            hub: k(2),
            victim: k(3),
            relay: k(4),
            rogue: k(5),
            officer: k(6),
            other_officer: k(7),
            field: k(8),
            viewer: k(9),
            revoked: k(10),
            town_writer: k(11),
            stranger: k(12),
        }
    }
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new()
    }
}

fn member(key: &NodeKey, name: &str, role: Role, units: &[&str], project: Option<&str>) -> Member {
    Member {
        node: key.id().to_string(),
        name: Some(name.to_string()),
        role,
        units: units.iter().map(|u| u.to_string()).collect(),
        project: project.map(str::to_string),
        added_at: TIME_MS,
        revoked_at: None,
        kept: String::new(),
    }
}

/// The roster's content at `version`. From version 2 on, `keys.revoked` is
/// revoked and keeps `kept` (the hashes the town held).
pub fn roster(keys: &Keys, version: u64, kept: &[[u8; 32]]) -> Roster {
    let mut revoked = member(
        &keys.revoked,
        "Máy bị thu hồi",
        Role::Officer,
        &[UNIT],
        None,
    );
    if version >= 2 {
        revoked.revoked_at = Some(TIME_MS + 1);
        revoked.kept = encode_kept(kept);
    }
    Roster {
        version,
        town: TOWN.into(),
        issued_at: TIME_MS,
        units: SAMPLE_UNITS_TOML.into(),
        members: vec![
            member(&keys.hub, "Trạm thị xã", Role::Hub, &[TOWN], None),
            member(&keys.victim, "Máy Phổ Minh 1", Role::Officer, &[UNIT], None),
            member(&keys.relay, "Máy Phổ Minh 2", Role::Officer, &[UNIT], None),
            member(&keys.rogue, "Máy Phổ Minh 3", Role::Officer, &[UNIT], None),
            member(
                &keys.officer,
                "Cán bộ Phổ Minh",
                Role::Officer,
                &[UNIT],
                None,
            ),
            member(
                &keys.other_officer,
                "Cán bộ Phổ Ninh",
                Role::Officer,
                &[OTHER_UNIT],
                None,
            ),
            member(&keys.field, "Tổ GPMB", Role::Field, &[UNIT], Some(PROJECT)),
            member(&keys.viewer, "Chỉ xem", Role::Viewer, &[UNIT], None),
            revoked,
            member(&keys.town_writer, "Văn phòng", Role::Hub, &[TOWN], None),
        ],
        successor: None,
        handovers: Vec::new(),
    }
}

/// The roster signed by the town authority.
pub fn signed_roster(keys: &Keys, version: u64, kept: &[[u8; 32]]) -> SignedRoster {
    SignedRoster::sign(&keys.authority, &roster(keys, version, kept)).expect("the roster is valid")
}

pub use danvan_testkit::TempDir;

/// A real node with the given key in `dir`, pinned to the town authority and
/// holding `roster`.
pub fn node(dir: &Path, key: &NodeKey, unit: &str, authority: &NodeId, roster: &[u8]) -> Node {
    std::fs::create_dir_all(dir).expect("creating a data dir");
    let hex: String = key.secret().iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(dir.join(KEY_FILE), format!("{hex}\n")).expect("writing the key file");
    let mut node = Node::init(dir, unit, None, None).expect("init");
    assert_eq!(node.id(), key.id());
    node.store_mut()
        .set_authority(authority)
        .expect("pinning the authority");
    node.store_mut()
        .install_roster(roster, None)
        .expect("installing the roster");
    node
}

/// A record id from a number.
pub fn doc_id(n: u8) -> DocId {
    let mut bytes = [0x5a; 16];
    bytes[0] = n;
    DocId::from_bytes(bytes)
}

/// A record header.
pub fn header(
    kind: Kind,
    doc: DocId,
    unit: &str,
    project: Option<&str>,
    creator: &NodeId,
) -> Header {
    Header {
        id: doc.to_string(),
        kind: kind.code().into(),
        unit: unit.into(),
        project: project.map(str::to_string),
        schema: SCHEMA_VERSION,
        creator: creator.to_string(),
        created_at: TIME_MS,
    }
}

/// An activity.
pub fn activity(header: Header) -> Record {
    Record::Activity(Activity {
        header,
        activity_type: vocab::ACTIVITY_RECEPTION.into(),
        date: "2023-08-03".into(),
        title: "Tiếp công dân định kỳ".into(),
        place: Some("Nhà văn hóa thôn".into()),
        organizers: None,
        attendance: Some(40),
        citizens: Some(12),
        matters: Some(3),
        summary: Some("Người dân phản ánh về giá bồi thường".into()),
        results: None,
        petitions: Vec::new(),
        tasks: Vec::new(),
    })
}

/// A petition.
pub fn petition(header: Header) -> Record {
    Record::Petition(Petition {
        header,
        petition_type: vocab::PETITION_PROPOSAL.into(),
        round: 1,
        complex: false,
        remote: false,
        channel: "truc-tiep".into(),
        received: "2023-08-03".into(),
        citizen: "Nguyễn Văn A".into(),
        address: Some("Thôn 1".into()),
        id_number: None,
        content: "Kiến nghị xem xét lại đơn giá đất".into(),
        category: Some("đất đai".into()),
        assigned_unit: None,
        status: vocab::PETITION_NEW.into(),
        answer: None,
        resolved: None,
    })
}

/// A household case.
pub fn household(header: Header) -> Record {
    Record::Household(Household {
        header,
        head: "Trần Thị B".into(),
        village: Some("Thôn 2".into()),
        parcels: vec![danvan_node::parse_parcel("12/345:210.5:ONT").expect("a parcel")],
        inventory: None,
        compensation_vnd: Some(350_000_000),
        stage: vocab::STAGE_INVENTORIED.into(),
        stage_log: Vec::new(),
        objections: Vec::new(),
        visits: Vec::new(),
    })
}

/// A task of the town.
pub fn task(header: Header) -> Record {
    Record::Task(Task {
        header,
        source: Some("Kết luận 01-KL/TU".into()),
        number: "1.5".into(),
        title: "Đẩy mạnh công tác dân vận trong GPMB".into(),
        text: None,
        assigned: vec![UNIT.into()],
        due: Some("2023-12-31".into()),
    })
}

/// A writer: a key and one store life (epoch) of its node.
pub struct Writer<'a> {
    /// The key.
    pub key: &'a NodeKey,
    /// The store epoch in its actor id.
    pub epoch: [u8; 8],
}

impl<'a> Writer<'a> {
    /// A writer in its first store life.
    pub fn new(key: &'a NodeKey) -> Writer<'a> {
        Writer { key, epoch: [1; 8] }
    }

    /// The same key in another store life (a restored or second store).
    pub fn other_epoch(key: &'a NodeKey) -> Writer<'a> {
        Writer { key, epoch: [2; 8] }
    }

    /// Creates a record: its document and its signed creation change.
    pub fn create(&self, record: &Record) -> (Automerge, SignedChange) {
        let doc: DocId = record.header().id.parse().expect("a record id");
        self.create_raw(doc, |tx| {
            danvan_model::write_new(tx, record).map_err(|e| e.to_string())
        })
    }

    /// Creates a record this writer signs as its creator: `record` fills in
    /// the fields of its header (`kind`, document `doc`, `unit`, `project`).
    pub fn create_own(
        &self,
        record: fn(Header) -> Record,
        kind: Kind,
        doc: DocId,
        unit: &str,
        project: Option<&str>,
    ) -> (Automerge, SignedChange) {
        self.create(&record(header(kind, doc, unit, project, &self.key.id())))
    }

    /// Makes the first change of a document `doc` with any content.
    pub fn create_raw(
        &self,
        doc: DocId,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<(), String>,
    ) -> (Automerge, SignedChange) {
        let mut am = Automerge::new();
        let change = self.edit(doc, &mut am, f);
        (am, change)
    }

    /// Edits a copy of `am` (document `doc`) and signs the change.
    pub fn edit(
        &self,
        doc: DocId,
        am: &mut Automerge,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<(), String>,
    ) -> SignedChange {
        am.set_actor(self.key.actor(&self.epoch));
        let heads = am.get_heads();
        am.transact_with(
            |_| {
                CommitOptions::default()
                    .with_message("sửa".to_string())
                    .with_time(TIME_MS)
            },
            f,
        )
        .map_err(|e| e.error)
        .expect("the edit applies");
        let mut changes = am.get_changes(&heads);
        assert_eq!(changes.len(), 1, "one edit makes one change");
        self.key.sign_change(&doc, &mut changes[0])
    }
}

/// Puts `value` at `key` of the header map.
pub fn set_header_field(tx: &mut Transaction<'_>, key: &str, value: &str) -> Result<(), String> {
    let Some((_, header)) = tx.get(ROOT, "header").map_err(|e| e.to_string())? else {
        return Err("no header".into());
    };
    tx.put(&header, key, value).map_err(|e| e.to_string())
}

/// Writes a header map by hand (any kind text), and a title.
pub fn raw_header(
    tx: &mut Transaction<'_>,
    doc: &str,
    kind: &str,
    unit: &str,
    creator: &str,
) -> Result<(), String> {
    let header = tx
        .put_object(ROOT, "header", ObjType::Map)
        .map_err(|e| e.to_string())?;
    for (k, v) in [
        ("id", doc),
        ("kind", kind),
        ("unit", unit),
        ("creator", creator),
    ] {
        tx.put(&header, k, v).map_err(|e| e.to_string())?;
    }
    tx.put(&header, "schema", SCHEMA_VERSION)
        .map_err(|e| e.to_string())?;
    tx.put(&header, "created_at", TIME_MS)
        .map_err(|e| e.to_string())?;
    tx.put(ROOT, "title", "hồ sơ").map_err(|e| e.to_string())
}

/// Lowercase hex, as the audit log writes hashes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of the Automerge change in `body`, if it is one.
pub fn body_hash(body: &[u8]) -> Option<[u8; 32]> {
    automerge::Change::try_from(body).ok().map(|c| c.hash().0)
}

/// A small deterministic generator (SplitMix64): reproducible from its seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}
