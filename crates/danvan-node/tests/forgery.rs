//! The forgery suite: forged, tampered or unauthorized changes, rosters and
//! connections, each delivered the ways one can reach a node — a bundle
//! file, a rogue peer that is listed in the roster, the hub, another node —
//! against a real node (SQLite store in a temp dir, real Ed25519 keys, real
//! QUIC on loopback).
//!
//! Every case must be refused before anything of it is stored, and logged
//! in the victim's audit log with its reason; valid changes delivered with
//! it are stored. Run with `--nocapture` to see the table of cases.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT};
use danvan_model::{DocId, Kind, NodeId, NodeKey, SignedChange, SignedRoster};
use danvan_net::{Endpoint, NetConfig};
use danvan_node::{Node, SharedNode};
use danvan_proto::{
    ApplyReport, Checkpoint, Event, FeedEntry, PeerStore, Replica, ReplicaError, Session,
    SessionConfig, encode_bundle,
};

use common::*;

// The reasons, as the errors word them.
const NOT_MEMBER: &str = "không có trong danh sách thành viên";
const REVOKED: &str = "đã bị thu hồi quyền";
const MALFORMED: &str = "nội dung thay đổi hỏng";
const HASH_MISMATCH: &str = "mã băm của thay đổi không khớp";
const BAD_SIGNATURE: &str = "chữ ký của thay đổi không hợp lệ";
const ACTOR_MISMATCH: &str = "tác nhân Automerge của thay đổi không thuộc về người ký";
const HEADER_TOUCHED: &str = "thay đổi sửa phần đầu hồ sơ";
const HEADER_OTHER_DOC: &str = "phần đầu ghi mã hồ sơ";
const HEADER_OTHER_CREATOR: &str = "phần đầu ghi người tạo";
const UNKNOWN_KIND: &str = "loại hồ sơ không rõ";
const NOT_CREATION: &str = "không tạo phần đầu hồ sơ hợp lệ";
const MISSING_DEPS: &str = "thiếu thay đổi trước";
const UNCOVERED: &str = "không kèm chữ ký và không thay đổi đã ký nào";
const READ_SCOPE: &str = "ngoài phạm vi đọc của nút nhận";
const ROSTER_WRONG_AUTHORITY: &str = "không phải khóa thẩm quyền của thị xã";
const ROSTER_NOT_NEWER: &str = "không mới hơn phiên bản đang giữ";
const ROSTER_BAD_SIGNATURE: &str = "chữ ký của danh sách thành viên không hợp lệ";

fn denied(kind: &str, unit: &str) -> String {
    format!(
        "không được ghi hồ sơ loại {} của đơn vị {unit}",
        danvan_model::Kind::named_code(kind)
    )
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("an address")
}

/// The changes every case starts from.
struct Fixtures {
    keys: Keys,
    /// Roster 1 (the revoked officer still active) and 2 (revoked, keeping `kept`).
    v1: SignedRoster,
    v2: SignedRoster,
    /// A pho-minh activity by the officer, held by every node beforehand.
    base: SignedChange,
    base_doc: Automerge,
    /// A new pho-minh activity by the officer: delivered with every forgery,
    /// and must be stored.
    valid: SignedChange,
    /// A change of the revoked officer the town held when it revoked it.
    kept: SignedChange,
}

const BASE_DOC: u8 = 1;

impl Fixtures {
    fn new() -> Fixtures {
        let keys = Keys::new();
        let officer = Writer::new(&keys.officer);
        let (base_doc, base) =
            officer.create_own(activity, Kind::Activity, doc_id(BASE_DOC), UNIT, None);
        let (_, valid) = officer.create_own(activity, Kind::Activity, doc_id(2), UNIT, None);
        let (_, kept) =
            Writer::new(&keys.revoked).create_own(activity, Kind::Activity, doc_id(3), UNIT, None);
        let v1 = signed_roster(&keys, 1, &[]);
        let v2 = signed_roster(&keys, 2, &[kept.hash]);
        Fixtures {
            keys,
            v1,
            v2,
            base,
            base_doc,
            valid,
            kept,
        }
    }

    /// The officer's title edit of the base record (`value`), decoded,
    /// changed by `craft` and signed again by the officer.
    fn crafted_title_edit(
        &self,
        value: &'static str,
        craft: impl FnOnce(&mut automerge::ExpandedChange),
    ) -> SignedChange {
        let honest = self.edit_base(&Writer::new(&self.keys.officer), title(value));
        let mut edit = automerge::Change::try_from(honest.body.as_slice())
            .expect("a change")
            .decode();
        craft(&mut edit);
        let mut crafted: automerge::Change = edit.into();
        self.keys
            .officer
            .sign_change(&doc_id(BASE_DOC), &mut crafted)
    }

    /// A change of the base record by `writer`.
    fn edit_base(
        &self,
        writer: &Writer<'_>,
        f: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), String>,
    ) -> SignedChange {
        let mut am = self.base_doc.clone();
        writer.edit(doc_id(BASE_DOC), &mut am, f)
    }
}

/// One forged (or unauthorized) set of changes.
struct Forgery {
    name: &'static str,
    /// Changes delivered with the forged ones, which must be stored.
    valid: Vec<SignedChange>,
    /// Changes that must all be refused.
    forged: Vec<SignedChange>,
    /// The audit reason must contain one of these.
    reasons: Vec<String>,
    /// The body does not match the hash it is offered under: a sync session
    /// ends at that message (see `Session::on_bodies`).
    violation: bool,
    /// A relay that accepts it itself would not offer it to the victim
    /// (not the victim's to read): it is planted under a false index entry.
    plant_only: bool,
}

fn title(
    value: &'static str,
) -> impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), String> {
    move |tx| tx.put(ROOT, "title", value).map_err(|e| e.to_string())
}

/// The put of the root's `title` in a decoded edit.
fn title_put(edit: &mut automerge::ExpandedChange) -> &mut automerge::legacy::Op {
    edit.operations
        .iter_mut()
        .find(|op| matches!(&op.key, automerge::legacy::Key::Map(k) if k == "title"))
        .expect("the title put")
}

/// Signs `change` again with `key` under `doc` (the body stays as made).
fn resign(change: &SignedChange, key: &NodeKey, doc: DocId) -> SignedChange {
    let mut parsed = automerge::Change::try_from(change.body.as_slice()).expect("a change");
    key.sign_change(&doc, &mut parsed)
}

fn change_forgeries(fx: &Fixtures) -> Vec<Forgery> {
    let k = &fx.keys;
    let officer = Writer::new(&k.officer);
    let officer_id = k.officer.id();
    let create = |w: &Writer<'_>, kind: Kind, n: u8, unit: &str, project: Option<&str>| {
        let h = header(kind, doc_id(n), unit, project, &w.key.id());
        let record = match kind {
            Kind::Activity => activity(h),
            Kind::Petition => petition(h),
            Kind::Household => household(h),
            Kind::Task => task(h),
            other => panic!("no builder for {other:?}"),
        };
        w.create(&record).1
    };
    let one = |name, forged: SignedChange, reasons: Vec<String>| Forgery {
        name,
        valid: vec![fx.valid.clone()],
        forged: vec![forged],
        reasons,
        violation: false,
        plant_only: false,
    };
    let s = |text: &str| vec![text.to_string()];
    let mut out = Vec::new();

    // Who signed it.
    out.push(one(
        "unknown-signer-create",
        create(&Writer::new(&k.stranger), Kind::Activity, 10, UNIT, None),
        s(NOT_MEMBER),
    ));
    out.push(one(
        "unknown-signer-edit",
        fx.edit_base(&Writer::new(&k.stranger), title("sửa bởi người lạ")),
        s(NOT_MEMBER),
    ));
    for (name, forged) in [
        (
            "revoked-create",
            create(&Writer::new(&k.revoked), Kind::Activity, 11, UNIT, None),
        ),
        (
            "revoked-edit",
            fx.edit_base(&Writer::new(&k.revoked), title("sửa sau khi bị thu hồi")),
        ),
    ] {
        out.push(Forgery {
            name,
            // What the town kept of the revoked node stays valid.
            valid: vec![fx.valid.clone(), fx.kept.clone()],
            forged: vec![forged],
            reasons: s(REVOKED),
            violation: false,
            plant_only: false,
        });
    }

    // What the roster lets the signer write: a record it may not create…
    for (name, key, kind, n, unit, project) in [
        (
            "other-unit-officer-create",
            &k.other_officer,
            Kind::Activity,
            12,
            UNIT,
            None,
        ),
        (
            "field-writes-petition",
            &k.field,
            Kind::Petition,
            13,
            UNIT,
            None,
        ),
        (
            "field-household-other-project",
            &k.field,
            Kind::Household,
            14,
            UNIT,
            Some(OTHER_PROJECT),
        ),
        (
            "field-household-unassigned-unit",
            &k.field,
            Kind::Household,
            15,
            OTHER_UNIT,
            Some(PROJECT),
        ),
        ("viewer-create", &k.viewer, Kind::Activity, 16, UNIT, None),
        (
            "officer-writes-town-task",
            &k.officer,
            Kind::Task,
            17,
            TOWN,
            None,
        ),
    ] {
        let forged = create(&Writer::new(key), kind, n, unit, project);
        out.push(one(name, forged, vec![denied(kind.code(), unit)]));
    }
    // …and an edit of a record of its unit it may not write.
    for (name, key, value) in [
        (
            "other-unit-officer-edit",
            &k.other_officer,
            "sửa hộ xã khác",
        ),
        ("viewer-edit", &k.viewer, "người xem sửa"),
    ] {
        let forged = fx.edit_base(&Writer::new(key), title(value));
        out.push(one(name, forged, vec![denied("activity", UNIT)]));
    }

    // Tampered bytes. Each starts from a valid change of its own.
    let fresh = |n| create(&officer, Kind::Activity, n, UNIT, None);
    // A forgery the session ends at: the body is not the change offered.
    let ending = |name, forged, reasons| Forgery {
        violation: true,
        ..one(name, forged, reasons)
    };
    let mut c = fresh(20);
    c.body = flipped(&c.body, -6, 4);
    let reasons = vec![MALFORMED.into(), HASH_MISMATCH.into()];
    out.push(ending("flipped-bit-body", c, reasons));
    let mut c = fresh(21);
    c.signature.as_mut().expect("signed")[17] ^= 0x01;
    out.push(one("flipped-bit-signature", c, s(BAD_SIGNATURE)));
    let mut c = fresh(22);
    c.hash[5] ^= 0x80;
    out.push(ending("flipped-bit-hash", c, s(HASH_MISMATCH)));
    let mut c = fresh(23);
    c.doc = DocId::from_bytes(flipped(c.doc.as_bytes(), 3, 0).try_into().unwrap());
    out.push(one("flipped-bit-doc-id", c, s(BAD_SIGNATURE)));
    let mut c = fresh(24);
    c.author = NodeId::from_bytes(flipped(c.author.as_bytes(), 9, 2).try_into().unwrap());
    out.push(one("flipped-bit-author", c, s(BAD_SIGNATURE)));
    // The change in other bytes that Automerge reads as the same change
    // (same hash, so the signature holds): other checksum bytes, and the
    // compressed encoding, which is inflated without bound.
    let mut c = fresh(26);
    c.body[5] ^= 0x20;
    out.push(ending("body-checksum-altered", c, s(MALFORMED)));
    let c = fresh(27);
    let mut parsed = automerge::Change::try_from(c.body.as_slice()).expect("a change");
    let compressed = parsed.bytes().to_vec();
    assert_eq!(compressed[8], 2, "a compressed chunk");
    out.push(ending(
        "body-compressed-encoding",
        SignedChange {
            body: compressed,
            ..c
        },
        s(MALFORMED),
    ));
    // Made with the pho-ninh officer's actor, signed by the pho-minh officer
    // (who may write pho-minh records).
    let made = {
        let h = header(Kind::Activity, doc_id(25), UNIT, None, &officer_id);
        Writer::new(&k.other_officer).create(&activity(h)).1
    };
    out.push(one(
        "actor-of-another-key",
        resign(&made, &k.officer, doc_id(25)),
        s(ACTOR_MISMATCH),
    ));

    // The header is written once.
    let other_doc = doc_id(99).to_string();
    let other_creator = k.other_officer.id().to_string();
    for (name, field, value) in [
        ("header-kind", "kind", "petition"),
        ("header-unit", "unit", OTHER_UNIT),
        ("header-project", "project", PROJECT),
        ("header-id", "id", other_doc.as_str()),
        ("header-creator", "creator", other_creator.as_str()),
    ] {
        let value = value.to_string();
        let forged = fx.edit_base(&officer, move |tx| set_header_field(tx, field, &value));
        out.push(one(name, forged, s(HEADER_TOUCHED)));
    }
    // A second header at the root, concurrent with the creation (the same
    // officer from another store, so the change has no dependencies).
    let concurrent = Writer::other_epoch(&k.officer)
        .create_own(activity, Kind::Activity, doc_id(BASE_DOC), OTHER_UNIT, None)
        .1;
    out.push(one(
        "header-concurrent-at-root",
        concurrent,
        s(HEADER_TOUCHED),
    ));
    out.push(one(
        "header-replaced-at-root",
        fx.edit_base(&officer, |tx| {
            tx.put_object(ROOT, "header", ObjType::Map)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        s(HEADER_TOUCHED),
    ));

    // A title edit that also names the header's unit as an operation it
    // overwrites (a `pred` across objects): applied to the stored record it
    // changes nothing, but a store loading the record from its changes in
    // one call would lose the unit (the header the roster judged would not
    // be the one read).
    let unit_op = {
        use automerge::ReadDoc;
        let (_, header) = fx
            .base_doc
            .get(ROOT, "header")
            .expect("read")
            .expect("a header");
        let (_, unit) = fx
            .base_doc
            .get(&header, "unit")
            .expect("read")
            .expect("a unit");
        match unit {
            automerge::ObjId::Id(counter, actor, _) => automerge::legacy::OpId(counter, actor),
            automerge::ObjId::Root => panic!("a value is not the root"),
        }
    };
    let crafted = fx.crafted_title_edit("sửa tiêu đề", |edit| {
        let put = title_put(edit);
        let mut pred: Vec<_> = put.pred.iter().cloned().collect();
        pred.push(unit_op);
        put.pred = pred.into();
    });
    out.push(one(
        "header-value-named-as-overwritten",
        crafted,
        s(HEADER_TOUCHED),
    ));

    // A title edit numbering its operations from 1, below the operations
    // of the changes it depends on: Automerge would apply it, and then
    // panic listing the record's changes.
    let crafted = fx.crafted_title_edit("sửa tiêu đề, đánh số lại", |edit| {
        edit.start_op = std::num::NonZeroU64::MIN;
    });
    out.push(one(
        "change-numbered-below-its-dependencies",
        crafted,
        s(MALFORMED),
    ));

    // A title edit whose put is made a mark, not inserted into a list:
    // Automerge would place it as the rest of its call happens to fall.
    let crafted = fx.crafted_title_edit("sửa tiêu đề thành dấu", |edit| {
        title_put(edit).action = automerge::legacy::OpType::MarkEnd(false);
    });
    out.push(one("mark-not-inserted", crafted, s(MALFORMED)));

    // A creation must name its own document and its signer.
    let creation_elsewhere = {
        let h = header(Kind::Activity, doc_id(99), UNIT, None, &officer_id);
        let record = activity(h);
        officer
            .create_raw(doc_id(30), |tx| {
                danvan_model::write_new(tx, &record).map_err(|e| e.to_string())
            })
            .1
    };
    out.push(one(
        "creation-names-other-doc",
        creation_elsewhere,
        s(HEADER_OTHER_DOC),
    ));
    let creation_by_other = {
        let h = header(
            Kind::Activity,
            doc_id(31),
            UNIT,
            None,
            &k.other_officer.id(),
        );
        officer.create(&activity(h)).1
    };
    out.push(one(
        "creation-names-other-creator",
        creation_by_other,
        s(HEADER_OTHER_CREATOR),
    ));
    let not_creation = officer
        .create_raw(doc_id(32), |tx| {
            tx.put(ROOT, "title", "không có phần đầu")
                .map_err(|e| e.to_string())
        })
        .1;
    out.push(one(
        "first-change-not-a-creation",
        not_creation,
        s(NOT_CREATION),
    ));
    let doc33 = doc_id(33).to_string();
    let officer_text = officer_id.to_string();
    let unknown_kind = officer
        .create_raw(doc_id(33), |tx| {
            raw_header(tx, &doc33, "vu-khi", UNIT, &officer_text)
        })
        .1;
    out.push(one("creation-unknown-kind", unknown_kind, s(UNKNOWN_KIND)));

    // Ancestors first.
    let mut am = fx.base_doc.clone();
    let _first = officer.edit(doc_id(BASE_DOC), &mut am, title("lần một"));
    let second = officer.edit(doc_id(BASE_DOC), &mut am, title("lần hai"));
    out.push(one("missing-dependency", second, s(MISSING_DEPS)));

    // Protocol 4: a change without its own signature must be reached from
    // a signed change of its author and record delivered with it.
    let unsigned = |c: SignedChange| SignedChange {
        signature: None,
        ..c
    };
    out.push(one(
        "no-signature-nothing-covers-it",
        unsigned(fx.edit_base(&officer, title("không chữ ký"))),
        s(UNCOVERED),
    ));
    {
        // Covered by a signed change of another author that builds on it:
        // that author vouches for its own change, not for the officer's.
        let mut am = fx.base_doc.clone();
        let first = officer.edit(doc_id(BASE_DOC), &mut am, title("của cán bộ"));
        let second = Writer::new(&k.relay).edit(doc_id(BASE_DOC), &mut am, title("người khác"));
        out.push(Forgery {
            forged: vec![unsigned(first), second],
            reasons: vec![UNCOVERED.to_string(), MISSING_DEPS.to_string()],
            ..one(
                "no-signature-covered-by-another-author",
                fx.valid.clone(),
                vec![],
            )
        });
    }
    {
        // A signed change of the same author that does not build on it:
        // its hash covers nothing of the unsigned one. It is itself valid.
        let loose = unsigned(fx.edit_base(&officer, title("nhánh không ký")));
        let beside = fx.edit_base(&officer, title("nhánh có ký"));
        out.push(Forgery {
            valid: vec![fx.valid.clone(), beside],
            forged: vec![loose],
            ..one(
                "no-signature-not-under-the-signed-change",
                fx.valid.clone(),
                s(UNCOVERED),
            )
        });
    }
    {
        // The change covering it carries a bad signature: neither stands.
        let mut am = fx.base_doc.clone();
        let first = officer.edit(doc_id(BASE_DOC), &mut am, title("lần một, không ký"));
        let mut head = officer.edit(doc_id(BASE_DOC), &mut am, title("lần hai, chữ ký hỏng"));
        head.signature.as_mut().expect("signed")[17] ^= 0x01;
        out.push(Forgery {
            forged: vec![unsigned(first), head],
            reasons: vec![UNCOVERED.to_string(), BAD_SIGNATURE.to_string()],
            ..one(
                "no-signature-under-a-forged-signature",
                fx.valid.clone(),
                vec![],
            )
        });
    }

    // Validly written, but not for this node to read. (An honest relay
    // never offers it: its feed skips what the peer may not read.)
    out.push(Forgery {
        plant_only: true,
        ..one(
            "outside-receiver-read-scope",
            create(
                &Writer::new(&k.town_writer),
                Kind::Petition,
                34,
                "pho-hoa",
                None,
            ),
            s(READ_SCOPE),
        )
    });
    out
}

/// How a forgery reaches the victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// A bundle file (`Node::bundle_import`).
    Bundle,
    /// Sync from a listed peer that sends the forgery itself.
    Rogue,
    /// Sync from the hub, which holds roster 1 (the revoked officer still
    /// active): what it accepts it relays; the rest was planted in its store.
    Hub,
    /// Sync from another officer node whose store was tampered with.
    Relay,
}

impl Path {
    const ALL: [Path; 4] = [Path::Bundle, Path::Rogue, Path::Hub, Path::Relay];

    fn name(self) -> &'static str {
        match self {
            Path::Bundle => "bundle",
            Path::Rogue => "rogue-peer",
            Path::Hub => "via-hub",
            Path::Relay => "via-node",
        }
    }
}

/// The outcome of one case, for the table.
struct Row {
    case: String,
    path: &'static str,
    event: &'static str,
    reason: String,
    how: String,
}

/// A peer that serves whatever it was given, holds whatever roster it is
/// told, and claims any roster version: a listed node gone rogue.
struct RogueReplica {
    epoch: [u8; 8],
    log: Vec<SignedChange>,
    roster_version: u64,
    roster: Option<Vec<u8>>,
}

impl Replica for RogueReplica {
    fn epoch(&self) -> [u8; 8] {
        self.epoch
    }

    fn latest_seq(&self) -> u64 {
        self.log.len() as u64
    }

    fn feed(
        &self,
        _peer: &PeerStore,
        since: u64,
        limit: usize,
    ) -> Result<(Vec<FeedEntry>, u64), ReplicaError> {
        let entries: Vec<FeedEntry> = self
            .log
            .iter()
            .enumerate()
            .skip(since as usize)
            .take(limit)
            .map(|(i, c)| FeedEntry {
                seq: i as u64 + 1,
                hash: c.hash,
                body_len: c.body.len() as u32,
                // A change without a signature is sent as it is: the
                // victim must find what covers it, or refuse it.
                proof_seq: c.signature.is_none().then_some(i as u64 + 1),
            })
            .collect();
        let scanned = entries.last().map_or(since, |e| e.seq);
        Ok((entries, scanned))
    }

    fn has_changes(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, ReplicaError> {
        // Wants nothing from the victim.
        Ok(vec![true; hashes.len()])
    }

    fn bodies(&self, hashes: &[[u8; 32]]) -> Result<Vec<SignedChange>, ReplicaError> {
        hashes
            .iter()
            .map(|h| {
                self.log
                    .iter()
                    .find(|c| c.hash == *h)
                    .cloned()
                    .ok_or_else(|| ReplicaError::new("unknown hash"))
            })
            .collect()
    }

    fn checkpoint(&self, _peer: &NodeId) -> Result<Option<Checkpoint>, ReplicaError> {
        Ok(None)
    }

    fn roster_version(&self) -> u64 {
        self.roster_version
    }

    fn roster(&self) -> Option<Vec<u8>> {
        self.roster.clone()
    }

    fn install_roster(&mut self, _from: &NodeId, bytes: &[u8]) -> Result<u64, ReplicaError> {
        let roster = SignedRoster::decode(bytes).map_err(|e| ReplicaError::new(e.to_string()))?;
        self.roster_version = roster.version();
        self.roster = Some(bytes.to_vec());
        Ok(roster.version())
    }

    fn commit(
        &mut self,
        _from: &PeerStore,
        changes: Vec<SignedChange>,
        _pulled_to: Option<u64>,
    ) -> Result<ApplyReport, ReplicaError> {
        Ok(ApplyReport {
            duplicate: changes.len(),
            ..ApplyReport::default()
        })
    }
}

/// The runtime the suite's syncs run on: two workers, like the machine.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Accepts one connection and runs a sync session for the rogue replica.
async fn run_rogue(endpoint: Endpoint, mut replica: RogueReplica, config: SessionConfig) {
    let Some(Ok(conn)) = endpoint.accept().await else {
        return;
    };
    let Ok((mut tx, mut rx)) = conn.accept_stream().await else {
        return;
    };
    let started = Instant::now();
    let now = || started.elapsed().as_millis() as u64;
    let mut session =
        Session::new(now(), config, endpoint.id(), conn.peer(), &replica).expect("a rogue session");
    loop {
        while let Some(frame) = session.poll_transmit() {
            if tx.send(&frame).await.is_err() {
                break;
            }
        }
        while let Some(event) = session.poll_event() {
            if let Event::Failed(e) = event {
                eprintln!("  (rogue side: {e})");
            }
        }
        if session.is_closed() {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Ok(Some(frame))) => session.handle_frame(now(), &frame, &mut replica),
            _ => break,
        }
    }
    while let Some(frame) = session.poll_transmit() {
        let _ = tx.send(&frame).await;
    }
    let _ = tx.finish();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = rx.recv().await {}
    })
    .await;
    conn.close("xong");
    endpoint.close();
}

/// The victim dials the rogue and syncs once.
async fn sync_from_rogue(
    victim: &SharedNode,
    rogue_key: &NodeKey,
    replica: RogueReplica,
    config: SessionConfig,
) -> Result<danvan_node::SyncSummary, String> {
    let endpoint = victim.bind(loopback()).map_err(|e| e.to_string())?;
    let rogue = Endpoint::bind(
        rogue_key,
        loopback(),
        Arc::new(|_| true),
        NetConfig::default(),
    )
    .map_err(|e| e.to_string())?;
    let addr = rogue.local_addr();
    let task = tokio::spawn(run_rogue(rogue, replica, config));
    let result = victim
        .sync_with(&endpoint, addr, false, &mut |_| {})
        .await
        .map_err(|e| e.to_string());
    let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
    endpoint.close();
    result
}

/// The victim dials a real serving node and syncs once.
async fn sync_from_node(
    victim: &SharedNode,
    relay: &SharedNode,
) -> Result<danvan_node::SyncSummary, String> {
    let endpoint = victim.bind(loopback()).map_err(|e| e.to_string())?;
    let relay_endpoint = relay.bind(loopback()).map_err(|e| e.to_string())?;
    let addr = relay_endpoint.local_addr();
    let (stop, serving) = relay.serve_in_background(relay_endpoint);
    let result = victim
        .sync_with(&endpoint, addr, false, &mut |_| {})
        .await
        .map_err(|e| e.to_string());
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), serving).await;
    endpoint.close();
    result
}

/// Writes changes into a node's change log directly, as a tampered store
/// would hold them, under a document index entry the victim may read.
fn plant(dir: &std::path::Path, changes: &[SignedChange], valid: &[SignedChange]) {
    let conn = rusqlite::Connection::open(dir.join("danvan.db")).expect("opening the relay's db");
    for (i, c) in changes.iter().enumerate() {
        // A change without its own signature is held with the change it
        // claims covers it (the next signed one of its record, else a
        // valid change the relay holds), or the relay would never send it.
        let covered_by = c.signature.is_none().then(|| {
            changes[i + 1..]
                .iter()
                .find(|h| h.doc == c.doc && h.signature.is_some())
                .or(valid.first())
                .expect("a change to claim as cover")
                .hash
                .to_vec()
        });
        let epoch = automerge::Change::try_from(c.body.as_slice())
            .ok()
            .and_then(|p| p.actor_id().to_bytes().get(32..40).map(<[u8]>::to_vec))
            .unwrap_or_else(|| vec![0; 8]);
        conn.execute(
            "INSERT INTO changes (hash, doc, author, signature, body, actor_epoch, covered_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                c.hash.to_vec(),
                c.doc.as_bytes().to_vec(),
                c.author.as_bytes().to_vec(),
                c.signature.map_or(Vec::new(), |s| s.to_vec()),
                c.body,
                epoch,
                covered_by
            ],
        )
        .expect("planting a change");
        conn.execute(
            "INSERT OR IGNORE INTO documents (doc, kind, unit, project) VALUES (?1, 'activity', ?2, NULL)",
            rusqlite::params![c.doc.as_bytes().to_vec(), UNIT],
        )
        .expect("planting a document");
    }
}

fn changes_count(node: &Node) -> u64 {
    node.store().counts().expect("counting").1
}

fn held(node: &Node, hash: &[u8; 32]) -> bool {
    node.store().has_changes(&[*hash]).expect("looking up")[0]
}

/// The reason of the first audit entry of `event` that matches `pick`.
fn audit_reason(
    node: &Node,
    event: &str,
    pick: impl Fn(&danvan_node::AuditEntry) -> bool,
) -> Option<String> {
    node.store()
        .audit_entries(10_000)
        .expect("reading the audit log")
        .into_iter()
        .filter(|e| e.event == event && pick(e))
        .map(|e| {
            e.detail["reason"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_default()
        })
        .next()
}

/// Checks a change case on the victim after delivery: nothing forged
/// stored, each forged change audited with an expected reason, the valid
/// ones stored (unless `valid_stored` is false). Returns the first reason.
fn check_change_case(
    victim: &Node,
    case: &Forgery,
    before: u64,
    valid_stored: bool,
) -> Result<String, String> {
    check_change_case_audited(victim, case, before, valid_stored, true)
}

/// [`check_change_case`]; `audited`: whether the victim saw the forged
/// change at all (a relay that quarantined it never sent it).
fn check_change_case_audited(
    victim: &Node,
    case: &Forgery,
    before: u64,
    valid_stored: bool,
    audited: bool,
) -> Result<String, String> {
    let mut problems = Vec::new();
    let mut first_reason = String::new();
    for forged in &case.forged {
        if held(victim, &forged.hash) {
            problems.push(format!("forged change {} stored", hex(&forged.hash[..6])));
        }
        if let Some(real) = body_hash(&forged.body)
            && held(victim, &real)
        {
            problems.push(format!("forged body {} stored", hex(&real[..6])));
        }
        let claimed = hex(&forged.hash);
        if !audited {
            continue;
        }
        match audit_reason(victim, "rejected-change", |e| e.detail["hash"] == claimed) {
            None => problems.push(format!("no rejected-change entry for {}", &claimed[..12])),
            Some(reason) => {
                if !case.reasons.iter().any(|r| reason.contains(r.as_str())) {
                    problems.push(format!(
                        "reason {reason:?} names none of {:?}",
                        case.reasons
                    ));
                }
                if first_reason.is_empty() {
                    first_reason = reason;
                }
            }
        }
    }
    for valid in &case.valid {
        if held(victim, &valid.hash) != valid_stored {
            problems.push(format!(
                "valid change {} {}",
                hex(&valid.hash[..6]),
                if valid_stored { "not stored" } else { "stored" }
            ));
        }
    }
    let expected = before
        + if valid_stored {
            case.valid.len() as u64
        } else {
            0
        };
    let after = changes_count(victim);
    if after != expected {
        problems.push(format!("{after} changes held, {expected} expected"));
    }
    if problems.is_empty() {
        Ok(first_reason)
    } else {
        Err(problems.join("; "))
    }
}

struct Town<'a> {
    fx: &'a Fixtures,
    runtime: &'a tokio::runtime::Runtime,
}

impl Town<'_> {
    fn victim(&self, tmp: &TempDir) -> Node {
        let k = &self.fx.keys;
        let mut node = node(
            &tmp.sub("victim"),
            &k.victim,
            UNIT,
            &k.authority.id(),
            self.fx.v2.bytes(),
        );
        let report = node
            .import_changes(std::slice::from_ref(&self.fx.base))
            .expect("importing the base record");
        assert_eq!(report.new, 1);
        node
    }

    /// Delivers a change forgery by `path`; returns the victim's reason and
    /// how the forgery got there.
    fn change_case(&self, case: &Forgery, path: Path) -> Result<(String, String), String> {
        let fx = self.fx;
        let k = &fx.keys;
        let tmp = TempDir::new("forgery");
        let mut victim = self.victim(&tmp);
        let before = changes_count(&victim);
        let delivered: Vec<SignedChange> = case.valid.iter().chain(&case.forged).cloned().collect();
        // Every valid change arrives: a body that does not match its hash
        // ends a rogue peer's session at that message (the valid ones came
        // in earlier batches), and a relay running danvan catches it in its
        // own store before sending, quarantines it, and the next session
        // brings the rest.
        let valid_stored = true;
        match path {
            Path::Bundle => {
                let file = tmp.sub("forged.dvb");
                std::fs::write(&file, encode_bundle(&delivered)).expect("writing the bundle");
                let report = victim.bundle_import(&file).map_err(|e| e.to_string())?;
                if report.rejected.len() != case.forged.len() {
                    return Err(format!(
                        "bundle import rejected {} changes, {} forged",
                        report.rejected.len(),
                        case.forged.len()
                    ));
                }
                let reason = check_change_case(&victim, case, before, valid_stored)?;
                Ok((reason, "one file with the valid changes".into()))
            }
            Path::Rogue => {
                let replica = RogueReplica {
                    epoch: [0x66; 8],
                    log: delivered,
                    roster_version: fx.v2.version(),
                    roster: Some(fx.v2.bytes().to_vec()),
                };
                // A violation ends the session at its message: offered one
                // by one, the valid changes come in batches before it.
                let config = SessionConfig {
                    offer_hashes_max: if case.violation { 1 } else { 1_000 },
                    ..SessionConfig::default()
                };
                let victim = SharedNode::new(victim, false).map_err(|e| e.to_string())?;
                let reason = self.runtime.block_on(async {
                    let result = sync_from_rogue(&victim, &k.rogue, replica, config).await;
                    if case.violation != result.is_err() {
                        return Err(format!("sync result {result:?}"));
                    }
                    victim
                        .with(|node| check_change_case(node, case, before, valid_stored))
                        .map_err(|e| e.to_string())?
                })?;
                let how = if case.violation {
                    "valid ones in earlier batches; the session ends at the body"
                } else {
                    "one batch with the valid changes"
                };
                Ok((reason, how.into()))
            }
            Path::Hub | Path::Relay => {
                let (key, unit, roster) = match path {
                    Path::Hub => (&k.hub, TOWN, &fx.v1),
                    _ => (&k.relay, UNIT, &fx.v2),
                };
                let dir = tmp.sub("relay");
                let mut relay = node(&dir, key, unit, &k.authority.id(), roster.bytes());
                relay
                    .import_changes(std::slice::from_ref(&fx.base))
                    .expect("base record at the relay");
                // What the relay accepts itself it relays; the rest is planted.
                if !case.plant_only {
                    relay
                        .import_changes(&delivered)
                        .map_err(|e| e.to_string())?;
                }
                let planted: Vec<SignedChange> = delivered
                    .iter()
                    .filter(|c| !held(&relay, &c.hash))
                    .cloned()
                    .collect();
                plant(&dir, &planted, &case.valid);
                let mut how = if planted.iter().any(|c| case.forged.contains(c)) {
                    "planted in its store".to_string()
                } else {
                    "it accepted it (older roster) and relays it".to_string()
                };
                if case.violation {
                    how.push_str("; the relay quarantines it, the next session goes on");
                }
                let relay = SharedNode::new(relay, false).map_err(|e| e.to_string())?;
                let victim = SharedNode::new(victim, false).map_err(|e| e.to_string())?;
                self.runtime
                    .block_on(async {
                        let result = sync_from_node(&victim, &relay).await;
                        if case.violation != result.is_err() {
                            return Err(format!("sync result {result:?}"));
                        }
                        if !case.violation {
                            // A relay that held an older roster and got the
                            // victim's newer one set aside there what that
                            // roster no longer admits (the revocation race):
                            // never offered, so the victim had nothing to
                            // refuse, and the relay's audit says why.
                            let aside = relay
                                .with(|node| {
                                    let mut reasons = case.forged.iter().map(|c| {
                                        let claimed = hex(&c.hash);
                                        audit_reason(node, "set-aside", |e| {
                                            e.detail["hash"] == claimed
                                        })
                                        .filter(|_| !held(node, &c.hash))
                                    });
                                    let first = reasons.next().flatten();
                                    first.filter(|_| reasons.all(|r| r.is_some()))
                                })
                                .map_err(|e| e.to_string())?;
                            let reason = victim
                                .with(|node| {
                                    check_change_case_audited(
                                        node,
                                        case,
                                        before,
                                        valid_stored,
                                        aside.is_none(),
                                    )
                                })
                                .map_err(|e| e.to_string())??;
                            return Ok(match aside {
                                Some(aside) => format!("set aside at the relay: {aside}"),
                                None => reason,
                            });
                        }
                        // The relay found the damaged body in its own store
                        // before sending it, and quarantined it: the next
                        // session brings everything else.
                        let again = sync_from_node(&victim, &relay).await;
                        if let Err(e) = again {
                            return Err(format!("the second sync failed: {e}"));
                        }
                        for forged in &case.forged {
                            let quarantined = relay
                                .with(|node| node.store().is_quarantined(&forged.hash))
                                .map_err(|e| e.to_string())?
                                .map_err(|e| e.to_string())?;
                            if !quarantined {
                                return Err("the relay did not quarantine the body".into());
                            }
                        }
                        victim
                            .with(|node| {
                                check_change_case_audited(node, case, before, valid_stored, false)
                            })
                            .map_err(|e| e.to_string())??;
                        Ok(result.expect_err("checked above").to_string())
                    })
                    .map(|reason| {
                        if reason.starts_with("set aside at the relay") {
                            how = "it accepted it (older roster), then set it aside on getting the victim's newer one: never relayed".into();
                        }
                        (reason, how)
                    })
            }
        }
    }

    /// Offers a forged roster to the victim: imported directly, or pushed
    /// by a listed peer in a sync. Returns the victim's reason.
    fn roster_case(&self, bytes: &[u8], expected: &str, by_sync: bool) -> Result<String, String> {
        let fx = self.fx;
        let k = &fx.keys;
        let tmp = TempDir::new("forgery-roster");
        let mut victim = self.victim(&tmp);
        let held_version = victim.store().roster_version().expect("version");
        let before = changes_count(&victim);
        let check = |node: &Node, expect_peer: Option<NodeId>| -> Result<String, String> {
            let version = node.store().roster_version().expect("version");
            if version != held_version {
                return Err(format!("roster version {version} installed"));
            }
            if node
                .store()
                .roster()
                .expect("roster")
                .map(|r| r.bytes().to_vec())
                != Some(fx.v2.bytes().to_vec())
            {
                return Err("the held roster changed".into());
            }
            if changes_count(node) != before {
                return Err("changes were stored".into());
            }
            let peer = expect_peer.map(|p| p.to_string());
            let reason = audit_reason(node, "rejected-roster", |e| e.peer == peer)
                .ok_or("no rejected-roster entry")?;
            if !reason.contains(expected) {
                return Err(format!("reason {reason:?} does not name {expected:?}"));
            }
            Ok(reason)
        };
        if !by_sync {
            if victim.store_mut().install_roster(bytes, None).is_ok() {
                return Err("the forged roster was installed".into());
            }
            let reason = check(&victim, None)?;
            // The node still takes the authority's next roster.
            let next = signed_roster(&fx.keys, 3, &[fx.kept.hash]);
            victim
                .store_mut()
                .install_roster(next.bytes(), None)
                .map_err(|e| format!("a genuine newer roster is refused: {e}"))?;
            return Ok(reason);
        }
        let replica = RogueReplica {
            epoch: [0x77; 8],
            log: Vec::new(),
            // Claims a newer roster than it sends.
            roster_version: held_version + 1,
            roster: Some(bytes.to_vec()),
        };
        let victim = SharedNode::new(victim, false).map_err(|e| e.to_string())?;
        self.runtime.block_on(async {
            let result =
                sync_from_rogue(&victim, &k.rogue, replica, SessionConfig::default()).await;
            if result.is_ok() {
                return Err("the session went on after a forged roster".into());
            }
            victim
                .with(|node| check(node, Some(k.rogue.id())))
                .map_err(|e| e.to_string())?
        })
    }

    /// A connection the victim must refuse: `dialer` dials the serving
    /// victim, or (with `victim_dials`) the victim dials `dialer`.
    fn connection_case(
        &self,
        peer: &NodeKey,
        victim_dials: bool,
        expected: &str,
    ) -> Result<String, String> {
        let tmp = TempDir::new("forgery-conn");
        let victim = SharedNode::new(self.victim(&tmp), false).map_err(|e| e.to_string())?;
        self.runtime.block_on(async {
            let other = Endpoint::bind(peer, loopback(), Arc::new(|_| true), NetConfig::default())
                .map_err(|e| e.to_string())?;
            let endpoint = victim.bind(loopback()).map_err(|e| e.to_string())?;
            if victim_dials {
                let addr = other.local_addr();
                let accepting = tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(5), other.accept()).await;
                    other.close();
                });
                if victim
                    .sync_with(&endpoint, addr, false, &mut |_| {})
                    .await
                    .is_ok()
                {
                    return Err("the victim synced with a refused peer".into());
                }
                let _ = accepting.await;
                endpoint.close();
            } else {
                let addr = endpoint.local_addr();
                let (stop, serving) = victim.serve_in_background(endpoint);
                let connected = other.connect(addr, Some(victim.id())).await;
                if let Ok(conn) = connected
                    && conn.open_stream().await.is_ok()
                {
                    return Err("the victim accepted a refused peer".into());
                }
                other.close();
                let _ = stop.send(());
                let _ = serving.await;
            }
            victim.refresh().map_err(|e| e.to_string())?;
            let id = peer.id().to_string();
            victim
                .with(|node| {
                    let reason = audit_reason(node, "rejected-connection", |e| {
                        e.peer.as_deref() == Some(&id)
                    })
                    .ok_or("no rejected-connection entry")?;
                    if changes_count(node) != 1 {
                        return Err("changes were stored".to_string());
                    }
                    if reason.contains(expected) {
                        Ok(reason)
                    } else {
                        Err(format!("reason {reason:?} does not name {expected:?}"))
                    }
                })
                .map_err(|e| e.to_string())?
        })
    }
}

/// Flips bit `bit` of byte `at` (from the end when negative).
fn flipped(bytes: &[u8], at: isize, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let i = if at < 0 {
        out.len() - at.unsigned_abs()
    } else {
        at as usize
    };
    out[i] ^= 1 << bit;
    out
}

#[test]
fn forgeries_are_refused_before_storage_and_audited() {
    let started = Instant::now();
    let fx = Fixtures::new();
    let runtime = runtime();
    let town = Town {
        fx: &fx,
        runtime: &runtime,
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut record =
        |case: String, path: &'static str, event, verdict: Result<(String, String), String>| {
            match verdict {
                Ok((reason, how)) => rows.push(Row {
                    case,
                    path,
                    event,
                    reason,
                    how,
                }),
                Err(problem) => failures.push(format!("{case} [{path}]: {problem}")),
            }
        };

    let forgeries = change_forgeries(&fx);
    for case in &forgeries {
        for path in Path::ALL {
            record(
                case.name.to_string(),
                path.name(),
                "rejected-change",
                town.change_case(case, path),
            );
        }
    }

    let k = &fx.keys;
    let v3 = signed_roster(k, 3, &[fx.kept.hash]);
    let by_stranger = SignedRoster::sign(&k.stranger, v3.roster()).expect("signing");
    let mut forged_version = fx.v2.bytes().to_vec();
    let body = 4 + 1 + 32 + 64;
    let text = String::from_utf8(forged_version[body..].to_vec()).expect("JSON");
    let bumped = text.replacen("\"version\":2", "\"version\":3", 1);
    assert_ne!(text, bumped);
    forged_version.truncate(body);
    forged_version.extend_from_slice(bumped.as_bytes());
    // Handovers: one signed by a stranger, the successor's roster without
    // a handover or through a forged or an older one.
    let successor = NodeKey::from_secret([0x66; 32]);
    let handover_by = |signer: &NodeKey, version| {
        let mut r = roster(k, version, &[fx.kept.hash]);
        r.successor = Some(successor.id().to_string());
        SignedRoster::sign(signer, &r).expect("signing a handover")
    };
    let successor_carrying = |handover: Option<&SignedRoster>| {
        let mut r = roster(k, 5, &[fx.kept.hash]);
        if let Some(h) = handover {
            r.carry_handover(h).expect("carrying");
        }
        SignedRoster::sign(&successor, &r)
            .expect("signing the successor's roster")
            .bytes()
            .to_vec()
    };
    let rosters: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "roster-other-signer",
            by_stranger.bytes().to_vec(),
            ROSTER_WRONG_AUTHORITY,
        ),
        (
            "roster-handover-by-other-signer",
            handover_by(&k.stranger, 3).bytes().to_vec(),
            ROSTER_WRONG_AUTHORITY,
        ),
        (
            "roster-successor-before-handover",
            successor_carrying(None),
            ROSTER_WRONG_AUTHORITY,
        ),
        (
            "roster-successor-through-forged-handover",
            successor_carrying(Some(&handover_by(&k.stranger, 3))),
            ROSTER_WRONG_AUTHORITY,
        ),
        (
            "roster-successor-through-older-handover",
            successor_carrying(Some(&handover_by(&k.authority, 2))),
            ROSTER_NOT_NEWER,
        ),
        ("roster-older", fx.v1.bytes().to_vec(), ROSTER_NOT_NEWER),
        ("roster-equal", fx.v2.bytes().to_vec(), ROSTER_NOT_NEWER),
        (
            "roster-flipped-bit-body",
            flipped(v3.bytes(), -20, 3),
            ROSTER_BAD_SIGNATURE,
        ),
        (
            "roster-flipped-bit-signature",
            flipped(v3.bytes(), 4 + 1 + 32 + 10, 0),
            ROSTER_BAD_SIGNATURE,
        ),
        (
            "roster-flipped-bit-authority-key",
            flipped(v3.bytes(), 4 + 1 + 5, 6),
            ROSTER_BAD_SIGNATURE,
        ),
        (
            "roster-version-edited",
            forged_version,
            ROSTER_BAD_SIGNATURE,
        ),
    ];
    for (name, bytes, expected) in &rosters {
        for by_sync in [false, true] {
            record(
                name.to_string(),
                if by_sync { "rogue-peer" } else { "import" },
                "rejected-roster",
                town.roster_case(bytes, expected, by_sync)
                    .map(|r| (r, String::new())),
            );
        }
    }

    for (name, peer, victim_dials, expected) in [
        ("connection-unknown-node", &k.stranger, false, NOT_MEMBER),
        ("connection-revoked-node", &k.revoked, false, REVOKED),
        ("connection-to-unknown-node", &k.stranger, true, NOT_MEMBER),
    ] {
        record(
            name.to_string(),
            if victim_dials {
                "victim-dials"
            } else {
                "dials-victim"
            },
            "rejected-connection",
            town.connection_case(peer, victim_dials, expected)
                .map(|r| (r, String::new())),
        );
    }

    let total = rows.len() + failures.len();
    println!(
        "\n{total} forgery cases in {:.1} s:",
        started.elapsed().as_secs_f64()
    );
    for row in &rows {
        let reason: String = row.reason.chars().take(100).collect();
        let how = if row.how.is_empty() {
            String::new()
        } else {
            format!("  [{}]", row.how)
        };
        println!(
            "  {:<33} {:<12} {:<19} {reason}{how}",
            row.case, row.path, row.event
        );
    }
    assert!(total >= 50, "only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} forgery cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A forged signature in the middle of large batches from a rogue peer,
/// through the real sync driver: the driver verifies each Bodies frame
/// ahead, as it arrives (`danvan_node::Ahead`), and the forgery is still
/// refused and audited while every valid change around it is stored.
#[test]
fn a_forgery_inside_batches_verified_ahead_is_refused() {
    let fx = Fixtures::new();
    let runtime = runtime();
    let officer = Writer::new(&fx.keys.officer);
    let (mut valid, mut forged) = (Vec::new(), Vec::new());
    let mut delivered: Vec<SignedChange> = Vec::new();
    for n in 10..250 {
        let (mut am, created) = officer.create_own(activity, Kind::Activity, doc_id(n), UNIT, None);
        let mut edit = officer.edit(doc_id(n), &mut am, title("Họp tổ dân phố"));
        delivered.push(created.clone());
        valid.push(created);
        if n == 130 {
            edit.signature.as_mut().expect("signed")[9] ^= 0x10;
            forged.push(edit.clone());
        } else {
            valid.push(edit.clone());
        }
        delivered.push(edit);
    }
    let tmp = TempDir::new("forgery-ahead");
    let town = Town {
        fx: &fx,
        runtime: &runtime,
    };
    let victim = town.victim(&tmp);
    let before = changes_count(&victim);
    let replica = RogueReplica {
        epoch: [0x66; 8],
        log: delivered,
        roster_version: fx.v2.version(),
        roster: Some(fx.v2.bytes().to_vec()),
    };
    let used = danvan_node::ahead_batches_used();
    // The victim asks for every signature (as a node that serves does): in
    // protocol 4 a sender leaves out the signature of a record's creation
    // under its edit, and a forged edit would take the creation with it.
    let victim = SharedNode::new(victim, false)
        .expect("a shared node")
        .keeping_signatures();
    runtime
        .block_on(sync_from_rogue(
            &victim,
            &fx.keys.rogue,
            replica,
            SessionConfig::default(),
        ))
        .expect("the sync");
    assert!(
        danvan_node::ahead_batches_used() > used,
        "the batches were verified ahead"
    );
    victim
        .with(|node| {
            assert_eq!(changes_count(node), before + valid.len() as u64);
            assert!(valid.iter().all(|c| held(node, &c.hash)));
            assert!(!held(node, &forged[0].hash), "the forgery is not stored");
            let reason = audit_reason(node, "rejected-change", |e| {
                e.detail["hash"].as_str() == Some(hex(&forged[0].hash).as_str())
            })
            .expect("the refusal is audited");
            assert!(reason.contains(BAD_SIGNATURE), "{reason}");
        })
        .expect("the victim's store");
}
