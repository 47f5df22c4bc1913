//! The bodies of danvan's fuzz targets, shared by the cargo-fuzz crate in
//! `fuzz/` and by the corpus replay in the e2e tests, so the two cannot
//! drift apart.
//!
//! Each target takes arbitrary bytes and panics only when danvan misbehaves:
//! a decoder that panics, a round trip that changes a message, a store that
//! fails its own check after taking verified changes. Rejecting the input
//! with an error is the expected outcome for almost every input.
//!
//! Targets are looked up by name in [`TARGETS`]; the name is also the
//! directory of the target's corpus (`fuzz/corpus/<name>/`), crashes
//! (`fuzz/artifacts/<name>/`) and regression inputs
//! (`fuzz/regressions/<name>/`).
//!
//! A target that reads several formats picks one by the first input byte,
//! matched against explicit values (never `byte % n`), so that adding a
//! format later leaves every saved input meaning what it meant. The signed
//! roster and invites have targets of their own ([`roster_decode`],
//! [`invite_decode`]), since each reaches past a signature or a checksum.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use arbitrary::Unstructured;
use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use danvan_model::{
    ApplyReport, ChangeError, DocId, DocScope, Invite, Kind, Member, NodeId, NodeKey, Period,
    Record, Role, Roster, RosterError, SignedChange, SignedRoster, UnitTree, Visit, accept_roster,
    format_date, parse_date,
};
use danvan_node::{Via, receive_changes};
use danvan_proto::{decode_bundle, decode_message, encode_bundle, encode_message};
use danvan_store::{Checkpoint, ListFilter, Store};
use sha2::{Digest, Sha256};

use crate::TempDir;

/// A fuzz target: arbitrary bytes in, a panic only on a bug.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus directory and fuzz binary carry.
pub const TARGETS: &[(&str, Target)] = &[
    ("wire_message", wire_message),
    ("bundle", bundle),
    ("untrusted_text", untrusted_text),
    ("change_verify", change_verify),
    ("store_apply", store_apply),
    ("roster_decode", roster_decode),
    ("invite_decode", invite_decode),
];

/// The target of a name in [`TARGETS`].
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The wire-message decoder: never panics, and a decoded message survives
/// encode → decode unchanged.
pub fn wire_message(data: &[u8]) {
    let Ok(message) = decode_message(data) else {
        return;
    };
    let encoded = encode_message(&message);
    match decode_message(&encoded) {
        Ok(again) => assert_eq!(again, message, "message changed by encode → decode"),
        Err(e) => panic!("re-encoded message {message:?} does not decode: {e}"),
    }
}

/// The bundle reader, on the bytes as given and once more with the trailing
/// SHA-256 made to match, so that the fuzzer reaches the records behind the
/// checksum. A bundle that decodes survives encode → decode, and verifying
/// its changes never panics.
pub fn bundle(data: &[u8]) {
    bundle_round_trip(data);
    // The smallest bundle is an 18-byte header and the checksum.
    if data.len() >= 18 + 32 {
        let (content, _) = data.split_at(data.len() - 32);
        let mut fixed = content.to_vec();
        fixed.extend_from_slice(&Sha256::digest(content));
        bundle_round_trip(&fixed);
    }
}

fn bundle_round_trip(data: &[u8]) {
    let Ok(changes) = decode_bundle(data) else {
        return;
    };
    for change in &changes {
        let _ = change.verify();
    }
    match decode_bundle(&encode_bundle(&changes)) {
        Ok(again) => assert_eq!(again, changes, "bundle changed by encode → decode"),
        Err(e) => panic!("re-encoded bundle does not decode: {e}"),
    }
}

/// Parsers of text a person or a file hands to danvan, chosen by the first
/// byte: 0 node id, 1 record id, 2 unit tree (TOML), 3 period, 4 date.
/// Whatever parses prints back to text that parses to the same value.
pub fn untrusted_text(data: &[u8]) {
    let Some((&parser, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match parser {
        0 => {
            if let Ok(id) = NodeId::from_str(&text) {
                assert_eq!(NodeId::from_str(&id.to_string()), Ok(id));
                let _ = id.short();
            }
        }
        1 => {
            if let Ok(id) = DocId::from_str(&text) {
                assert_eq!(DocId::from_str(&id.to_string()), Ok(id));
                let _ = id.short();
            }
        }
        2 => {
            if let Ok(tree) = UnitTree::from_toml(&text) {
                // Everything a loaded tree offers must work on any tree
                // that loads.
                assert_eq!(tree.render().len(), tree.units().len());
                for unit in tree.units() {
                    assert!(tree.rollup(&unit.id).contains(&unit.id));
                    let _ = tree.current(&unit.id);
                    let _ = tree.name(&unit.id);
                }
            }
        }
        3 => {
            if let Ok(period) = Period::from_str(&text) {
                assert_eq!(Period::from_str(&period.to_string()), Ok(period));
                assert!(period.start <= period.end);
                let _ = period.label_vi();
            }
        }
        4 => {
            if let Ok(date) = parse_date(&text) {
                assert_eq!(parse_date(&format_date(date)), Ok(date));
            }
        }
        _ => {}
    }
}

/// The key that signs the changes the targets make. Any key will do: a
/// hostile peer signs with a key of its own.
fn fuzz_key(n: u8) -> NodeKey {
    NodeKey::from_secret([n + 1; 32])
}

/// [`SignedChange::verify`] on an arbitrary body. The first byte says how
/// the rest is framed: 0 = doc [16], author [32], signature [64], hash [32],
/// then the body, all as given; 1 = the body alone, hashed (when it parses
/// as an Automerge change) and signed by a fuzz key, so that the checks
/// behind the signature are reached too.
pub fn change_verify(data: &[u8]) {
    let Some((&framing, rest)) = data.split_first() else {
        return;
    };
    let change = match framing {
        0 => {
            if rest.len() < 16 + 32 + 64 + 32 {
                return;
            }
            let (fixed, body) = rest.split_at(16 + 32 + 64 + 32);
            SignedChange {
                doc: DocId::from_bytes(fixed[..16].try_into().expect("16 bytes")),
                author: NodeId::from_bytes(fixed[16..48].try_into().expect("32 bytes")),
                signature: Some(fixed[48..112].try_into().expect("64 bytes")),
                hash: fixed[112..144].try_into().expect("32 bytes"),
                body: body.to_vec(),
            }
        }
        1 => match automerge::Change::try_from(rest) {
            Ok(mut parsed) => fuzz_key(0).sign_change(&DocId::from_bytes([7; 16]), &mut parsed),
            Err(_) => return,
        },
        _ => return,
    };
    if let Ok(parsed) = change.verify() {
        // What verifies is what the store will keep: it must be the change
        // the signature covers.
        assert_eq!(parsed.hash().0, change.hash);
        assert_eq!(
            &parsed.actor_id().to_bytes()[..32],
            change.author.as_bytes()
        );
    }
}

/// The signed-roster decoder. The first byte says how the rest is framed:
/// 0 = an encoded roster as given; 1 = a roster body (its JSON), signed by a
/// fuzz authority key, so that the checks of the content behind the
/// signature are reached.
///
/// Decoding never panics. A roster that decodes keeps its bytes, is
/// accepted over any older version and refused at its own, signs again to
/// the same content, and answers every question a node asks of it (who may
/// connect, read, write) without panicking.
pub fn roster_decode(data: &[u8]) {
    let Some((&framing, rest)) = data.split_first() else {
        return;
    };
    let bytes = match framing {
        0 => rest.to_vec(),
        1 => {
            let Ok(content) = serde_json::from_slice::<Roster>(rest) else {
                return;
            };
            match SignedRoster::sign(&fuzz_key(3), &content) {
                Ok(signed) => signed.bytes().to_vec(),
                Err(_) => return,
            }
        }
        _ => return,
    };
    let Ok(roster) = SignedRoster::decode(&bytes) else {
        return;
    };
    assert_eq!(
        roster.bytes(),
        &bytes[..],
        "a decoded roster keeps its bytes"
    );
    let authority = roster.authority();
    let version = roster.version();
    assert!(version >= 1, "version 0 is refused");
    match accept_roster(&authority, version - 1, &bytes) {
        Ok(accepted) => assert_eq!(accepted.roster(), roster.roster()),
        Err(e) => panic!("a valid roster is refused over an older one: {e}"),
    }
    assert!(matches!(
        accept_roster(&authority, version, &bytes),
        Err(RosterError::NotNewer { .. })
    ));
    let again = SignedRoster::sign(&fuzz_key(4), roster.roster())
        .unwrap_or_else(|e| panic!("a decoded roster does not sign again: {e}"));
    assert_eq!(
        again.roster(),
        roster.roster(),
        "content changed by sign → decode"
    );
    let mut units: Vec<&str> = roster
        .units()
        .units()
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    units.push("khong-co");
    let mut active = 0;
    for member in &roster.roster().members {
        let id: NodeId = member
            .node
            .parse()
            .expect("a checked roster has valid node ids");
        let peer = roster.check_peer(&id);
        assert_eq!(peer.is_ok(), !member.is_revoked());
        let Some(scope) = roster.scope(&id) else {
            assert!(member.is_revoked(), "an active member has a scope");
            continue;
        };
        active += 1;
        let _ = scope.key();
        for (i, unit) in units.iter().enumerate().take(40) {
            let kind = ["household", "petition", "task", "activity"][i % 4];
            let project = member.project.as_deref().filter(|_| i % 3 == 0);
            let doc = DocScope {
                kind,
                unit,
                project,
            };
            let may_write = scope.may_write(&doc);
            assert_eq!(roster.check_write(&id, &[0; 32], &doc).is_ok(), may_write);
            let _ = scope.may_read(&doc);
        }
    }
    assert_eq!(roster.active().count(), active);
}

/// The invite decoder. The first byte says how the rest is framed: 0 = the
/// text as typed (lossy UTF-8); 1 = the three keys (96 bytes) and the hub
/// address of an invite, encoded; 2 = an invite's content bytes, given
/// their checksum and encoded, so that the checks behind the checksum are
/// reached.
///
/// Decoding never panics, and what decodes encodes to the same invite (in
/// the canonical text, for content that came encoded).
pub fn invite_decode(data: &[u8]) {
    let Some((&framing, rest)) = data.split_first() else {
        return;
    };
    match framing {
        0 => {
            let text = String::from_utf8_lossy(rest);
            if let Ok(invite) = Invite::decode(&text) {
                assert_eq!(Invite::decode(&invite.encode()), Ok(invite));
            }
        }
        1 => {
            if rest.len() < 96 {
                return;
            }
            let key = |i: usize| {
                NodeId::from_bytes(rest[32 * i..32 * (i + 1)].try_into().expect("32 bytes"))
            };
            let invite = Invite {
                hub_addr: String::from_utf8_lossy(&rest[96..]).into_owned(),
                hub: key(0),
                authority: key(1),
                node: key(2),
            };
            let text = invite.encode();
            let decoded = Invite::decode(&text);
            let keys_valid = [invite.hub, invite.authority, invite.node]
                .iter()
                .all(|k| k.verifying_key().is_ok());
            if keys_valid && invite.hub_addr.len() <= 255 {
                assert_eq!(decoded, Ok(invite), "invite changed by encode → decode");
            } else if let Ok(decoded) = decoded {
                assert_eq!(decoded.encode(), text);
            }
        }
        2 => {
            let mut bytes = rest.to_vec();
            bytes.extend_from_slice(&Sha256::digest(rest)[..4]);
            let text = format!(
                "dvmoi1-{}",
                data_encoding::BASE32_NOPAD
                    .encode(&bytes)
                    .to_ascii_lowercase()
            );
            if let Ok(invite) = Invite::decode(&text) {
                assert_eq!(invite.encode(), text, "accepted content is canonical");
            }
        }
        _ => {}
    }
}

/// Received changes into a real SQLite store. The first byte picks how the
/// rest becomes changes:
///
/// - 0: a bundle file, imported as `danvan bundle import` does — every
///   change verified; those that fail are refused, the others offered to
///   the store.
/// - 1: a script of edits by a few fuzz keys to a few record documents
///   (real records, hostile field values, concurrent edits), delivered as
///   sync does: batches of changes, some duplicated, dropped, reordered,
///   moved to another document or tampered with; each change verified,
///   the verified ones committed with a checkpoint, the rest rejected.
///
/// The store admits each change on its own (dependencies held, header
/// kept; see `admit_change`) and reports those it refuses. Then the store
/// must hold exactly the changes it accepted, load every
/// document to the state an in-memory Automerge reaches from the same
/// changes, pass [`Store::check`] (whose only complaints may be documents
/// that are not readable records), and hold the projection that
/// [`Store::rebuild_projections`] would write.
pub fn store_apply(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let batches = match mode {
        0 => match decode_bundle(rest) {
            Ok(changes) => vec![Delivery::Bundle(changes)],
            Err(_) => return,
        },
        1 => scripted_deliveries(&mut Unstructured::new(rest)),
        _ => return,
    };
    let dir = TempDir::new("fuzz");
    let mut store =
        Store::create(&dir.sub("store"), [0xee; 8]).expect("creating a store in a temp dir");
    let mut oracle = Oracle::default();
    let peer = fuzz_key(9).id();
    for (i, delivery) in batches.into_iter().enumerate() {
        let result = match delivery {
            // Both go through the node's one intake path, as `danvan bundle
            // import` and a sync session's commit do.
            Delivery::Bundle(changes) => receive_changes(&mut store, Via::Bundle, changes.clone())
                .map(|report| admitted(changes, &report)),
            Delivery::Sync(changes) => {
                let epoch = [i as u8; 8];
                let checkpoint = Checkpoint {
                    epoch,
                    seq: i as u64 + 1,
                };
                let via = Via::Sync {
                    peer: &peer,
                    epoch,
                    checkpoint: Some((checkpoint, "")),
                };
                receive_changes(&mut store, via, changes.clone())
                    .map(|report| admitted(changes, &report))
            }
        };
        // A refused batch (say, two changes with one actor and seq) must
        // leave nothing behind; the checks below see to that.
        if let Ok(stored) = result {
            oracle.add(&stored);
        }
    }
    oracle.check(&mut store);
}

/// The offered changes that verify, minus those the store refused (missing
/// dependencies, an altered header, a creation naming another document).
/// Worked out apart from the intake: a tampered copy of a change fails
/// verification under the same hash as the genuine copy, which is stored.
fn admitted(offered: Vec<SignedChange>, report: &ApplyReport) -> Vec<SignedChange> {
    let refused_by_store = |r: &&danvan_model::Rejection| {
        !matches!(
            r.reason,
            ChangeError::BadSignature(_)
                | ChangeError::ActorMismatch(_)
                | ChangeError::Malformed(_)
                | ChangeError::HashMismatch
        )
    };
    offered
        .into_iter()
        .filter(|c| c.verify().is_ok())
        .filter(|c| {
            !report
                .rejected
                .iter()
                .filter(refused_by_store)
                .any(|r| r.hash == c.hash)
        })
        .collect()
}

/// One delivery of changes to the store.
enum Delivery {
    /// A bundle file's changes.
    Bundle(Vec<SignedChange>),
    /// A sync batch: each change on its own.
    Sync(Vec<SignedChange>),
}

/// What the store must hold: every accepted change, once, in order.
#[derive(Default)]
struct Oracle {
    hashes: BTreeSet<[u8; 32]>,
    docs: BTreeMap<DocId, Vec<automerge::Change>>,
}

impl Oracle {
    fn add(&mut self, stored: &[SignedChange]) {
        for change in stored {
            // The log is keyed by hash alone: a known hash is a no-op even
            // when it comes again under another document.
            if self.hashes.insert(change.hash) {
                let parsed = change.verify().expect("only verified changes are stored");
                self.docs.entry(change.doc).or_default().push(parsed);
            }
        }
    }

    fn check(&self, store: &mut Store) {
        let (_, change_count, doc_count) = store.counts().expect("counting the store");
        assert_eq!(change_count as usize, self.hashes.len(), "changes stored");
        assert_eq!(doc_count as usize, self.docs.len(), "documents stored");
        let mut not_records = BTreeSet::new();
        for (doc, changes) in &self.docs {
            let mut expected = Automerge::new();
            expected
                .apply_changes(changes.iter().cloned())
                .expect("the changes the store accepted apply in memory");
            let loaded = match store.load_doc(doc) {
                Ok(Some(loaded)) => loaded,
                other => panic!("document {doc} does not load: {other:?}"),
            };
            assert_eq!(loaded.get_heads(), expected.get_heads(), "document {doc}");
            if expected.get_missing_deps(&[]).is_empty()
                && danvan_model::read_record(&expected).is_err()
            {
                not_records.insert(doc.to_string());
            }
        }
        let problems = store.check().expect("checking the store");
        assert_eq!(
            problems.len(),
            not_records.len(),
            "problems {problems:?}, documents that are not records {not_records:?}"
        );
        for doc in &not_records {
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(&format!("hồ sơ {doc}: "))),
                "document {doc} not reported in {problems:?}"
            );
        }
        // Reports read the projection's JSON straight into records.
        let projected = store
            .list_json(&ListFilter::default())
            .expect("listing the projection");
        for json in &projected {
            if let Err(e) = Record::from_json(json.clone()) {
                panic!("projection row does not read back: {e}: {json}");
            }
        }
        store.rebuild_projections().expect("rebuilding projections");
        let rebuilt = store
            .list_json(&ListFilter::default())
            .expect("listing the rebuilt projection");
        assert_eq!(projected, rebuilt, "projection differs from its rebuild");
    }
}

/// Documents, writers (key × store epoch) and edits a script may use:
/// enough for concurrency and restores, few enough that edits collide.
const SCRIPT_DOCS: u8 = 3;
const SCRIPT_KEYS: u8 = 2;
const SCRIPT_EPOCHS: u8 = 2;
const SCRIPT_EDITS_MAX: usize = 48;
const SCRIPT_BATCHES_MAX: usize = 4;
const SCRIPT_BATCH_CHANGES_MAX: usize = 32;

/// Field names of the record kinds, and a few that are not.
const FIELD_NAMES: &[&str] = &[
    "header",
    "kind",
    "id",
    "unit",
    "project",
    "schema",
    "creator",
    "created_at",
    "head",
    "stage",
    "stage_log",
    "visits",
    "parcels",
    "objections",
    "area_m2",
    "compensation_vnd",
    "title",
    "date",
    "received",
    "status",
    "round",
    "complex",
    "year",
    "period",
    "task",
    "assigned",
    "due",
    "petitions",
    "activity_type",
    "petition_type",
    "attendance",
    "summary",
    "citizen",
    "content",
    "name",
    "field",
    "number",
    "",
];

/// Text values a record may really hold, and a few that break it.
const TEXT_VALUES: &[&str] = &[
    "household",
    "activity",
    "petition",
    "task",
    "progress",
    "model",
    "kiem-dem",
    "dong-y",
    "ban-giao",
    "khieu-nai",
    "pho-minh",
    "cao-toc-bac-nam",
    "2023-07-17",
    "17/07/2023",
    "2023-02-30",
    "2023-H2",
    "Nguyễn Văn A",
    "",
    "\u{0}",
];

fn scalar(u: &mut Unstructured<'_>) -> arbitrary::Result<ScalarValue> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 | 1 => ScalarValue::from(*u.choose(TEXT_VALUES)?),
        2 => ScalarValue::from(u.arbitrary::<String>()?),
        3 => ScalarValue::Int(u.arbitrary()?),
        4 => ScalarValue::Uint(u.arbitrary()?),
        5 => ScalarValue::F64(u.arbitrary()?),
        6 => ScalarValue::Boolean(u.arbitrary()?),
        7 => ScalarValue::Null,
        8 => ScalarValue::Timestamp(u.arbitrary()?),
        _ => ScalarValue::counter(u.arbitrary()?),
    })
}

fn field_name(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    if u.ratio(1, 8)? {
        u.arbitrary()
    } else {
        Ok(u.choose(FIELD_NAMES)?.to_string())
    }
}

fn text(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    if u.ratio(1, 4)? {
        u.arbitrary()
    } else {
        Ok(u.choose(TEXT_VALUES)?.to_string())
    }
}

/// One edit of a document by one writer.
enum Edit {
    /// Writes a whole record of a kind, as `danvan … add` does.
    NewRecord(Box<Record>),
    /// Puts a value at a key of the root or of the header.
    Put {
        in_header: bool,
        key: String,
        value: ScalarValue,
    },
    /// Puts an empty object at a root key.
    PutObject { key: String, ty: ObjType },
    /// Inserts a value into the list at a root key, if it is one.
    Insert {
        key: String,
        index: usize,
        value: ScalarValue,
    },
    /// Appends a visit, as `household visit` does.
    Visit(Visit),
    /// Deletes a root key.
    Delete { key: String },
    /// Increments a counter at a root key.
    Increment { key: String, by: i64 },
    /// Merges another writer's copy of the document: a sync between them.
    Merge { from: usize },
}

fn record(u: &mut Unstructured<'_>, doc: DocId, author: NodeId) -> arbitrary::Result<Record> {
    let kind = *u.choose(&[
        Kind::Household,
        Kind::Activity,
        Kind::Petition,
        Kind::Task,
        Kind::Progress,
        Kind::Model,
    ])?;
    let header = serde_json::json!({
        "id": if u.ratio(1, 8)? { u.arbitrary::<String>()? } else { doc.to_string() },
        "kind": kind.code(),
        "unit": text(u)?,
        "project": if kind == Kind::Household { Some(text(u)?) } else { None },
        "schema": u.int_in_range(0..=2u64)?,
        "creator": author.to_string(),
        "created_at": u.arbitrary::<i64>()?,
    });
    let (a, b, c) = (text(u)?, text(u)?, text(u)?);
    let n: i64 = u.arbitrary()?;
    let x: f64 = u.arbitrary()?;
    let json = match kind {
        Kind::Household => serde_json::json!({
            "header": header, "head": a, "stage": b, "village": c,
            "compensation_vnd": n,
            "parcels": [{"sheet": "12", "number": "345", "area_m2": x, "land_type": "ONT"}],
        }),
        Kind::Activity => serde_json::json!({
            "header": header, "activity_type": a, "date": b, "title": c, "attendance": n,
        }),
        Kind::Petition => serde_json::json!({
            "header": header, "petition_type": a, "round": n, "complex": false,
            "remote": true, "channel": "truc-tiep", "received": b, "citizen": c,
            "content": "…", "status": "moi",
        }),
        Kind::Task => serde_json::json!({
            "header": header, "number": a, "title": b, "due": c, "assigned": [c],
        }),
        Kind::Progress => serde_json::json!({
            "header": header, "task": a, "period": b, "status": c, "summary": "…",
        }),
        Kind::Model => serde_json::json!({
            "header": header, "name": a, "field": b, "year": n, "results": c,
        }),
    };
    // A non-finite area is not JSON; such a record cannot be made this way.
    Record::from_json(json).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn edit(
    u: &mut Unstructured<'_>,
    doc: DocId,
    author: NodeId,
    writers: usize,
) -> arbitrary::Result<Edit> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 => Edit::NewRecord(Box::new(record(u, doc, author)?)),
        1..=3 => Edit::Put {
            in_header: u.ratio(1, 4)?,
            key: field_name(u)?,
            value: scalar(u)?,
        },
        4 => Edit::PutObject {
            key: field_name(u)?,
            ty: *u.choose(&[ObjType::Map, ObjType::List, ObjType::Text])?,
        },
        5 => Edit::Insert {
            key: field_name(u)?,
            index: u.int_in_range(0..=3)?,
            value: scalar(u)?,
        },
        6 => Edit::Visit(Visit {
            date: text(u)?,
            by: text(u)?,
            outcome: text(u)?,
            node: author.to_string(),
        }),
        7 => Edit::Delete {
            key: field_name(u)?,
        },
        8 => Edit::Increment {
            key: field_name(u)?,
            by: u.arbitrary()?,
        },
        _ => Edit::Merge {
            from: u.choose_index(writers)?,
        },
    })
}

/// Why an edit was refused; the transaction then rolls back, like a
/// refused command.
type EditError = Box<dyn std::error::Error>;

fn apply_edit(
    tx: &mut automerge::transaction::Transaction<'_>,
    edit: Edit,
) -> Result<(), EditError> {
    match edit {
        Edit::NewRecord(record) => {
            danvan_model::write_new(tx, &record)?;
        }
        Edit::Put {
            in_header,
            key,
            value,
        } => {
            let obj = match tx.get(ROOT, "header")? {
                Some((Value::Object(ObjType::Map), header)) if in_header => header,
                _ => ROOT,
            };
            tx.put(&obj, key, value)?;
        }
        Edit::PutObject { key, ty } => {
            tx.put_object(ROOT, key, ty)?;
        }
        Edit::Insert { key, index, value } => {
            if let Some((Value::Object(ObjType::List), list)) = tx.get(ROOT, key.as_str())? {
                let index = index.min(tx.length(&list));
                tx.insert(&list, index, value)?;
            }
        }
        Edit::Visit(visit) => {
            danvan_model::append_visit(tx, visit)?;
        }
        Edit::Delete { key } => tx.delete(ROOT, key)?,
        Edit::Increment { key, by } => tx.increment(ROOT, key, by)?,
        Edit::Merge { .. } => unreachable!("merges are not transactions"),
    }
    Ok(())
}

/// Runs a script of edits and returns how its changes are delivered.
fn scripted_deliveries(u: &mut Unstructured<'_>) -> Vec<Delivery> {
    let docs: Vec<DocId> = (0..SCRIPT_DOCS)
        .map(|d| DocId::from_bytes([d + 1; 16]))
        .collect();
    let keys: Vec<NodeKey> = (0..SCRIPT_KEYS).map(fuzz_key).collect();
    // Writer w: key w / SCRIPT_EPOCHS, store epoch w % SCRIPT_EPOCHS (a
    // second epoch is the same node restored from backup).
    let writers = usize::from(SCRIPT_KEYS * SCRIPT_EPOCHS);
    let mut copies: BTreeMap<(usize, usize), Automerge> = BTreeMap::new();
    let mut made: Vec<SignedChange> = Vec::new();
    for _ in 0..SCRIPT_EDITS_MAX {
        if u.is_empty() {
            break;
        }
        let (Ok(d), Ok(w)) = (u.choose_index(docs.len()), u.choose_index(writers)) else {
            break;
        };
        let key = &keys[w / usize::from(SCRIPT_EPOCHS)];
        let Ok(edit) = edit(u, docs[d], key.id(), writers) else {
            continue;
        };
        let actor = key.actor(&[(w % usize::from(SCRIPT_EPOCHS)) as u8; 8]);
        let mut copy = copies.remove(&(d, w)).unwrap_or_default().with_actor(actor);
        if let Edit::Merge { from } = edit {
            if let Some(other) = copies.get_mut(&(d, from)) {
                let _ = copy.merge(other);
            }
        } else {
            let heads = copy.get_heads();
            let _ = copy.transact(|tx| apply_edit(tx, edit));
            if copy.get_heads() != heads
                && let Some(mut change) = copy.get_last_local_change()
            {
                made.push(key.sign_change(&docs[d], &mut change));
            }
        }
        copies.insert((d, w), copy);
    }
    if made.is_empty() {
        return Vec::new();
    }
    if u.is_empty() {
        // Nothing says how to deliver: everything, once, in order.
        return vec![Delivery::Sync(made)];
    }
    let mut deliveries = Vec::new();
    let batches = u.int_in_range(1..=SCRIPT_BATCHES_MAX).unwrap_or(1);
    for _ in 0..batches {
        let count = u
            .int_in_range(0..=SCRIPT_BATCH_CHANGES_MAX.min(made.len() * 2))
            .unwrap_or(0);
        let mut batch = Vec::with_capacity(count);
        for _ in 0..count {
            let Ok(i) = u.choose_index(made.len()) else {
                break;
            };
            batch.push(tamper(u, made[i].clone(), &docs, &keys));
        }
        deliveries.push(if u.ratio(1, 4).unwrap_or(false) {
            Delivery::Bundle(batch)
        } else {
            Delivery::Sync(batch)
        });
    }
    deliveries
}

/// Most changes arrive as made; some are altered the ways a broken or
/// hostile peer would.
fn tamper(
    u: &mut Unstructured<'_>,
    mut change: SignedChange,
    docs: &[DocId],
    keys: &[NodeKey],
) -> SignedChange {
    let Ok(how) = u.int_in_range(0..=11u8) else {
        return change;
    };
    let resign = |change: &SignedChange, key: &NodeKey, doc: DocId| {
        automerge::Change::try_from(change.body.as_slice())
            .ok()
            .map(|mut parsed| key.sign_change(&doc, &mut parsed))
    };
    let signer = keys
        .iter()
        .find(|k| k.id() == change.author)
        .unwrap_or(&keys[0]);
    match how {
        // A flipped body byte, signed again by the author: a valid
        // signature over bytes the author never meant.
        7 => {
            if let (Ok(i), Ok(bit)) = (u.choose_index(change.body.len()), u.int_in_range(0..=7u8)) {
                change.body[i] ^= 1 << bit;
                if let Some(resigned) = resign(&change, signer, change.doc) {
                    change = resigned;
                }
            }
        }
        // The author signs its change again under another document.
        8 => {
            if let Ok(doc) = u.choose(docs)
                && let Some(resigned) = resign(&change, signer, *doc)
            {
                change = resigned;
            }
        }
        // Another key signs the change: the actor is not the signer's.
        9 => {
            let other = keys.iter().find(|k| k.id() != change.author);
            if let Some(other) = other
                && let Some(resigned) = resign(&change, other, change.doc)
            {
                change = resigned;
            }
        }
        // A flipped bit, or no signature at all (protocol 4's covered form).
        10 => {
            if let Some(signature) = change.signature.as_mut() {
                signature[0] ^= 1;
            }
        }
        12 => change.signature = None,
        11 => change.hash[0] ^= 1,
        _ => {}
    }
    change
}

/// Starting inputs for every target, made from real messages, bundles,
/// texts and signed record changes, so that the fuzzer starts past the
/// magic bytes and checksums. `scripts/fuzz.sh` writes them into an empty
/// corpus; the replay test runs them as they are made today.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use danvan_proto::{Hello, Message, WireChange};
    let changes = sample_changes();
    let key = fuzz_key(0);
    let wire_changes: Vec<WireChange> = changes
        .iter()
        .map(|c| WireChange {
            doc: c.doc,
            author: c.author,
            signature: c.signature,
            body: c.body.clone(),
        })
        .collect();
    let messages = [
        Message::Hello(Hello {
            version: 1,
            min_version: 1,
            node: key.id(),
            epoch: [3; 8],
            latest_seq: 300,
            roster_version: 0,
            checkpoint: Some(danvan_proto::Checkpoint {
                epoch: [4; 8],
                seq: 200,
            }),
            cold: false,
            keep_signatures: false,
        }),
        Message::Offer {
            from_seq: 0,
            upto_seq: 3,
            hashes: changes.iter().map(|c| c.hash).collect(),
        },
        Message::Want {
            upto_seq: 3,
            wanted: vec![true, false, true],
        },
        Message::Bodies {
            upto_seq: 3,
            changes: wire_changes[..1].to_vec(),
        },
        Message::Inline {
            from_seq: 0,
            upto_seq: 9,
            changes: wire_changes.clone(),
        },
        Message::Ack { upto_seq: 9 },
        Message::Abort {
            reason: "phiên bản giao thức không khớp".into(),
        },
    ];
    let mut seeds: Vec<(&'static str, Vec<u8>)> = messages
        .iter()
        .map(|m| ("wire_message", encode_message(m)))
        .collect();
    seeds.push(("bundle", encode_bundle(&changes)));
    seeds.push(("bundle", encode_bundle(&[])));
    let texts: [(u8, &str); 9] = [
        (0, &key.id().to_string()),
        (1, &changes[0].doc.to_string()),
        (2, danvan_model::SAMPLE_UNITS_TOML),
        (3, "2023-H2"),
        (3, "2024-q1"),
        (3, "2023-03-01..31/03/2023"),
        (3, "2024-02"),
        (4, "17/7/2023"),
        (4, "2024-02-29"),
    ];
    for (parser, text) in texts {
        seeds.push(("untrusted_text", [&[parser], text.as_bytes()].concat()));
    }
    for change in &changes[..2] {
        let framed = [
            &[0][..],
            change.doc.as_bytes(),
            change.author.as_bytes(),
            &change.signature.unwrap_or([0; 64]),
            &change.hash,
            &change.body,
        ]
        .concat();
        seeds.push(("change_verify", framed));
        seeds.push(("change_verify", [&[1][..], &change.body].concat()));
    }
    seeds.push(("store_apply", [&[0][..], &encode_bundle(&changes)].concat()));
    for seed in 0..4u8 {
        seeds.push((
            "store_apply",
            [&[1][..], &pseudo_random(seed, 512)].concat(),
        ));
    }
    let roster = sample_roster();
    let signed = SignedRoster::sign(&fuzz_key(3), &roster).expect("the sample roster is valid");
    seeds.push(("roster_decode", [&[0][..], signed.bytes()].concat()));
    let body = serde_json::to_vec(&roster).expect("a roster serializes");
    seeds.push(("roster_decode", [&[1][..], &body].concat()));
    let invite = Invite {
        hub_addr: "10.0.0.5:7700".into(),
        hub: fuzz_key(5).id(),
        authority: fuzz_key(3).id(),
        node: fuzz_key(0).id(),
    };
    let text = invite.encode();
    seeds.push(("invite_decode", [&[0][..], text.as_bytes()].concat()));
    let typed = format!("  {}\n", text.to_uppercase());
    seeds.push(("invite_decode", [&[0][..], typed.as_bytes()].concat()));
    let keys = [invite.hub, invite.authority, invite.node].map(|k| *k.as_bytes());
    seeds.push((
        "invite_decode",
        [&[1][..], &keys.concat(), b"[fd00::17]:7700"].concat(),
    ));
    let mut content = vec![1];
    content.extend_from_slice(&keys.concat());
    content.push(13);
    content.extend_from_slice(b"10.0.0.5:7700");
    seeds.push(("invite_decode", [&[2][..], &content].concat()));
    seeds
}

/// A small roster: a town of three units and one member of each role, one
/// of them revoked with a kept change.
fn sample_roster() -> Roster {
    let units = "version = 1\n\n[[unit]]\nid = \"duc-pho\"\nname = \"Thị xã Đức Phổ\"\nkind = \"town\"\n\n\
                 [[unit]]\nid = \"pho-minh\"\nname = \"Phường Phổ Minh\"\nkind = \"ward\"\nparent = \"duc-pho\"\n\n\
                 [[unit]]\nid = \"pho-ninh\"\nname = \"Phường Phổ Ninh\"\nkind = \"ward\"\nparent = \"duc-pho\"\n";
    let member = |n: u8, role: Role, unit: &str, project: Option<&str>| Member {
        node: fuzz_key(n).id().to_string(),
        name: Some(format!("Máy {n}")),
        role,
        units: vec![unit.to_string()],
        project: project.map(str::to_string),
        added_at: 1_690_000_000_000,
        revoked_at: None,
        kept: String::new(),
    };
    let mut revoked = member(4, Role::Officer, "pho-ninh", None);
    revoked.revoked_at = Some(1_690_000_100_000);
    revoked.kept = danvan_model::encode_kept(&[[7; 32]]);
    Roster {
        version: 2,
        town: "duc-pho".into(),
        issued_at: 1_690_000_200_000,
        units: units.into(),
        members: vec![
            member(5, Role::Hub, "duc-pho", None),
            member(0, Role::Officer, "pho-minh", None),
            member(1, Role::Field, "pho-minh", Some("cao-toc-bac-nam")),
            member(2, Role::Viewer, "pho-ninh", None),
            revoked,
        ],
        successor: None,
        handovers: Vec::new(),
    }
}

/// Real signed changes: records of several kinds, then edits.
fn sample_changes() -> Vec<SignedChange> {
    let key = fuzz_key(0);
    let mut changes = Vec::new();
    for (d, seed) in (0..20u8).enumerate() {
        let doc = DocId::from_bytes([d as u8 + 1; 16]);
        let bytes = pseudo_random(seed, 256);
        let mut u = Unstructured::new(&bytes);
        let Ok(record) = record(&mut u, doc, key.id()) else {
            continue;
        };
        let mut am = Automerge::new().with_actor(key.actor(&[0; 8]));
        for edit in [
            Edit::NewRecord(Box::new(record)),
            Edit::Visit(Visit {
                date: "2023-08-01".into(),
                by: "Tổ công tác".into(),
                outcome: "hộ đồng ý phương án bồi thường".into(),
                node: key.id().to_string(),
            }),
        ] {
            if am.transact(|tx| apply_edit(tx, edit)).is_ok()
                && let Some(mut change) = am.get_last_local_change()
            {
                changes.push(key.sign_change(&doc, &mut change));
            }
        }
        if changes.len() >= 6 {
            break;
        }
    }
    assert!(changes.len() >= 3, "sample records are made");
    changes
}

/// Deterministic filler bytes (xorshift), so seeds are the same every run.
fn pseudo_random(seed: u8, len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(seed);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
