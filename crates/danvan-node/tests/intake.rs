//! The intake of a large received batch (`receive_changes`): its changes
//! are verified on a second thread while the store commits the documents
//! already verified. A forged change anywhere in the batch is refused and
//! audited, every other change is stored, and the records read back whole.

mod common;

use std::collections::HashSet;

use danvan_model::{Kind, NodeKey, SignedChange};
use danvan_node::Node;

use common::*;

/// Records in the batch: two changes each, well over the batch size from
/// which the intake verifies on a thread of its own.
const RECORDS: u8 = 120;

fn retitle(
    value: impl Into<String>,
) -> impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), String> {
    use automerge::transaction::Transactable;
    let value = value.into();
    move |tx| {
        tx.put(automerge::ROOT, "title", value)
            .map_err(|e| e.to_string())
    }
}

/// A node of Phổ Minh with `key`, in `tmp`'s directory `name`, holding the
/// town's first roster.
/// The title of record `n` as `node` shows it.
fn title_of(node: &Node, n: u8) -> String {
    node.show(&doc_id(n).to_string())
        .expect("showing a record")
        .record
        .summary()
        .title
}

fn pho_minh_node(keys: &Keys, tmp: &TempDir, name: &str, key: &NodeKey) -> Node {
    let roster = signed_roster(keys, 1, &[]);
    node(
        &tmp.sub(name),
        key,
        UNIT,
        &keys.authority.id(),
        roster.bytes(),
    )
}

#[test]
fn a_large_batch_is_verified_beside_the_commit_and_only_its_forgeries_are_refused() {
    let keys = Keys::new();
    let tmp = TempDir::new("intake");
    let mut victim = pho_minh_node(&keys, &tmp, "victim", &keys.victim);
    let officer = Writer::new(&keys.officer);
    let mut valid: Vec<SignedChange> = Vec::new();
    let mut forged: Vec<SignedChange> = Vec::new();
    let mut delivered: Vec<SignedChange> = Vec::new();
    for n in 10..10 + RECORDS {
        let (mut am, created) = officer.create_own(activity, Kind::Activity, doc_id(n), UNIT, None);
        let edit = officer.edit(doc_id(n), &mut am, retitle("Tiếp xúc cử tri quý 3"));
        delivered.push(created.clone());
        valid.push(created);
        if n == 70 {
            // Its signature tampered with, in the middle of the batch.
            let mut bad = edit;
            bad.signature.as_mut().expect("signed")[7] ^= 0x40;
            delivered.push(bad.clone());
            forged.push(bad);
        } else {
            delivered.push(edit.clone());
            valid.push(edit);
        }
    }
    // A record made by a key not in the roster: refused by the store's
    // admission, not by the verification.
    let (_, stranger) =
        Writer::new(&keys.stranger).create_own(activity, Kind::Activity, doc_id(200), UNIT, None);
    delivered.insert(delivered.len() / 3, stranger.clone());
    forged.push(stranger);

    let before = victim.store().counts().expect("counting").1;
    let report = victim.import_changes(&delivered).expect("the import");

    assert_eq!(report.new, valid.len(), "every valid change stored");
    assert_eq!(report.documents, RECORDS as usize);
    let refused: HashSet<[u8; 32]> = report.rejected.iter().map(|r| r.hash).collect();
    let expected: HashSet<[u8; 32]> = forged.iter().map(|c| c.hash).collect();
    assert_eq!(refused, expected, "exactly the forged changes refused");
    let after = victim.store().counts().expect("counting").1;
    assert_eq!(after - before, valid.len() as u64);
    let held = victim
        .store()
        .has_changes(&forged.iter().map(|c| c.hash).collect::<Vec<_>>())
        .expect("looking up");
    assert!(held.iter().all(|h| !h), "no forged change stored");
    let audited: HashSet<String> = victim
        .store()
        .audit_entries(10_000)
        .expect("reading the audit log")
        .into_iter()
        .filter(|e| e.event == "rejected-change")
        .filter_map(|e| e.detail["hash"].as_str().map(str::to_string))
        .collect();
    for c in &forged {
        assert!(
            audited.contains(&hex(&c.hash)),
            "refusal of {} audited",
            hex(&c.hash[..6])
        );
    }
    // The record whose edit was forged keeps its first title; the others
    // read back with the edit applied.
    let titles = |n: u8| title_of(&victim, n);
    assert_eq!(titles(11), "Tiếp xúc cử tri quý 3");
    assert_eq!(titles(70), "Tiếp công dân định kỳ");
    // Delivered again: everything valid is held, the forged refused again.
    let again = victim.import_changes(&delivered).expect("the import again");
    assert_eq!(again.new, 0);
    assert_eq!(again.duplicate, valid.len());
    assert_eq!(again.rejected.len(), forged.len());
}

/// A document built whole on a verifying thread (its creation in the
/// batch) is stored exactly as the one-at-a-time way stores it, and is
/// taken that way instead whenever the build cannot stand for it: the store
/// already holds the document, the roster refuses one of its changes, or
/// the rules refuse one. Two nodes receive the same batch, one through
/// `receive_changes` (the build), one through `Store::apply_changes` (one
/// change at a time); every count, refusal and record must match.
#[test]
fn a_document_built_on_the_verifying_thread_is_stored_as_one_change_at_a_time_would() {
    let keys = Keys::new();
    let tmp = TempDir::new("intake-built");
    let mut built = pho_minh_node(&keys, &tmp, "built", &keys.victim);
    let mut one_by_one = pho_minh_node(&keys, &tmp, "one-by-one", &keys.relay);
    let officer = Writer::new(&keys.officer);
    let other = Writer::new(&keys.other_officer);
    let mut batch: Vec<SignedChange> = Vec::new();
    // Plain new records, two changes each: built whole.
    for n in 10..60 {
        let (mut am, created) = officer.create_own(activity, Kind::Activity, doc_id(n), UNIT, None);
        batch.push(created);
        batch.push(officer.edit(doc_id(n), &mut am, retitle("Họp dân khu phố")));
    }
    // A record both nodes already hold: its creation again and a new edit.
    let (mut held, held_creation) =
        officer.create_own(activity, Kind::Activity, doc_id(60), UNIT, None);
    for n in [&mut built, &mut one_by_one] {
        n.import_changes(std::slice::from_ref(&held_creation))
            .expect("the held record");
    }
    batch.push(held_creation);
    batch.push(officer.edit(doc_id(60), &mut held, retitle("Đã có, sửa thêm")));
    // An edit by an officer of another unit, which the roster refuses, and
    // the officer's edit after it, whose dependency is then missing.
    let (mut refused, created) =
        officer.create_own(activity, Kind::Activity, doc_id(61), UNIT, None);
    batch.push(created);
    batch.push(other.edit(doc_id(61), &mut refused, retitle("Sửa trái phép")));
    batch.push(officer.edit(doc_id(61), &mut refused, retitle("Sửa sau đó")));
    // An edit touching the header, which the rules refuse; the edit
    // before it stands.
    let (mut touched, created) =
        officer.create_own(activity, Kind::Activity, doc_id(62), UNIT, None);
    batch.push(created);
    batch.push(officer.edit(doc_id(62), &mut touched, retitle("Sửa hợp lệ")));
    batch.push(officer.edit(doc_id(62), &mut touched, |tx| {
        set_header_field(tx, "unit", OTHER_UNIT)
    }));
    // A long history: a snapshot is due as soon as it is stored.
    let (mut long, created) = officer.create_own(activity, Kind::Activity, doc_id(63), UNIT, None);
    batch.push(created);
    for i in 0..20 {
        batch.push(officer.edit(doc_id(63), &mut long, retitle(format!("Lần sửa {i}"))));
    }
    // A record whose creation is not in the batch: nothing of it is stored.
    let (mut orphan, _) = officer.create_own(activity, Kind::Activity, doc_id(64), UNIT, None);
    batch.push(officer.edit(doc_id(64), &mut orphan, retitle("Mồ côi")));
    assert!(
        batch.len() >= 64,
        "large enough to be verified beside the commit"
    );

    let via_build = built.import_changes(&batch).expect("the built import");
    let via_one = one_by_one
        .store_mut()
        .apply_changes(None, &batch, None)
        .expect("the one-at-a-time import");
    assert_eq!(via_build.new, via_one.new);
    assert_eq!(via_build.duplicate, via_one.duplicate);
    assert_eq!(via_build.documents, via_one.documents);
    let reasons = |report: &danvan_model::ApplyReport| {
        let mut r: Vec<(String, String)> = report
            .rejected
            .iter()
            .map(|r| (hex(&r.hash), r.reason.to_string()))
            .collect();
        r.sort();
        r
    };
    assert_eq!(reasons(&via_build), reasons(&via_one));
    // What was refused: the other unit's edit, the edit after it, the
    // header edit, the orphan.
    assert_eq!(via_build.rejected.len(), 4, "{:?}", reasons(&via_build));
    assert_eq!(via_build.duplicate, 1, "the held creation");
    assert_eq!(
        built.store().counts().expect("counting"),
        one_by_one.store().counts().expect("counting")
    );
    let filter = danvan_store::ListFilter::default();
    assert_eq!(
        built.store().list_json(&filter).expect("listing"),
        one_by_one.store().list_json(&filter).expect("listing")
    );
    let rows = |n: &Node| {
        let mut rows = n.store().list(&filter).expect("listing");
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        rows
    };
    assert_eq!(rows(&built), rows(&one_by_one));
    for n in [10, 60, 61, 62, 63] {
        let doc = doc_id(n);
        let heads = |node: &Node| {
            let mut h = node
                .store()
                .load_doc(&doc)
                .expect("loading")
                .expect("held")
                .get_heads();
            h.sort();
            h
        };
        assert_eq!(heads(&built), heads(&one_by_one), "record {n}");
    }
    let title = |n: u8| title_of(&built, n);
    assert_eq!(title(11), "Họp dân khu phố");
    assert_eq!(title(60), "Đã có, sửa thêm");
    assert_eq!(title(61), "Tiếp công dân định kỳ");
    assert_eq!(title(62), "Sửa hợp lệ");
    assert_eq!(title(63), "Lần sửa 19");
    assert!(
        built
            .store()
            .load_doc(&doc_id(64))
            .expect("loading")
            .is_none()
    );
    // A scoped peer is offered the same changes by both (the index of
    // readers follows a document stored whole as it follows one stored
    // change by change).
    // More than 60 of Phổ Minh's: the built records are offered to their
    // unit's officer.
    for (key, at_least) in [
        (format!("officer|{UNIT}|"), 61),
        (format!("officer|{OTHER_UNIT}|"), 0),
    ] {
        let scope = danvan_model::Scope::from_key(&key).expect("a scope");
        let offered = |node: &Node| {
            let (entries, _) = node
                .store()
                .feed(&keys.viewer.id(), [9; 8], 0, 4096, Some(&scope), None)
                .expect("feeding");
            let mut hashes: Vec<[u8; 32]> = entries.iter().map(|e| e.hash).collect();
            hashes.sort();
            hashes
        };
        let built_offers = offered(&built);
        assert_eq!(built_offers, offered(&one_by_one), "{key}");
        assert!(
            built_offers.len() >= at_least,
            "{key}: {}",
            built_offers.len()
        );
    }
    // The store checks out: every change verifies, every projection row
    // matches its document.
    let problems = built.check().expect("checking").problems;
    assert!(problems.is_empty(), "{problems:?}");
}

/// A batch verified ahead, as the sync driver starts it the moment a frame
/// arrives (`danvan_node::Ahead`), is stored exactly as the same batch
/// verified when committed; and a verification started on other changes
/// is never used: a forgery in the committed batch is refused even when
/// the batch verified ahead was clean. (The only test in this binary that
/// verifies ahead: the process has two places for such batches.)
#[test]
fn a_batch_verified_ahead_is_used_only_for_the_very_same_changes() {
    use danvan_node::{Ahead, Via, receive_changes, receive_with};
    use danvan_proto::{Message, WireChange, carried_changes, encode_message};

    let keys = Keys::new();
    let tmp = TempDir::new("intake-ahead");
    let officer = Writer::new(&keys.officer);
    let mut clean: Vec<SignedChange> = Vec::new();
    for n in 10..10 + RECORDS {
        let (mut am, created) = officer.create_own(activity, Kind::Activity, doc_id(n), UNIT, None);
        clean.push(created);
        clean.push(officer.edit(doc_id(n), &mut am, retitle("Tiếp xúc cử tri quý 3")));
    }
    // The same batch with the edit of record 70 forged.
    let mut forged = clean.clone();
    let bad = 2 * (70 - 10) + 1;
    assert_eq!(forged[bad].doc, doc_id(70));
    forged[bad].signature.as_mut().expect("signed")[7] ^= 0x40;
    let frame = |changes: &[SignedChange]| {
        encode_message(&Message::Inline {
            from_seq: 0,
            upto_seq: changes.len() as u64,
            changes: changes.iter().cloned().map(WireChange::from).collect(),
        })
    };
    let ahead_of = |changes: &[SignedChange]| {
        Ahead::start(&frame(changes))
            .expect("a frame of changes is verified ahead")
            .wait()
            .expect("enough changes to verify ahead")
    };

    // The very same changes: the verification started ahead is used, and
    // stores what the intake without it stores.
    let mut ahead_node = pho_minh_node(&keys, &tmp, "ahead", &keys.victim);
    let mut plain_node = pho_minh_node(&keys, &tmp, "plain", &keys.relay);
    let carried = carried_changes(&frame(&forged)).expect("the frame's changes");
    assert_eq!(carried, forged, "the frame carries the batch, named alike");
    let used = danvan_node::ahead_batches_used();
    let with_ahead = receive_with(
        ahead_node.store_mut(),
        Via::Bundle,
        carried,
        Some(ahead_of(&forged)),
    )
    .expect("the intake verified ahead");
    assert_eq!(
        danvan_node::ahead_batches_used(),
        used + 1,
        "the verification started ahead was taken"
    );
    let plain = receive_changes(plain_node.store_mut(), Via::Bundle, forged.clone())
        .expect("the plain intake");
    assert_eq!(with_ahead.new, clean.len() - 1);
    assert_eq!(
        (with_ahead.new, with_ahead.duplicate, with_ahead.documents),
        (plain.new, plain.duplicate, plain.documents)
    );
    let refused = |report: &danvan_model::ApplyReport| {
        report
            .rejected
            .iter()
            .map(|r| (hex(&r.hash), r.reason.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(refused(&with_ahead), refused(&plain));
    assert_eq!(refused(&with_ahead).len(), 1, "the forged edit refused");
    for n in [11, 70, 100] {
        assert_eq!(title_of(&ahead_node, n), title_of(&plain_node, n));
    }
    assert_eq!(title_of(&ahead_node, 70), "Tiếp công dân định kỳ");

    // Verified ahead: the clean batch; committed: the one with a forgery.
    // The forgery must be refused, not stored as its clean twin.
    let mut other_node = pho_minh_node(&keys, &tmp, "other", &keys.victim);
    let report = receive_with(
        other_node.store_mut(),
        Via::Bundle,
        forged.clone(),
        Some(ahead_of(&clean)),
    )
    .expect("the intake");
    assert_eq!(
        danvan_node::ahead_batches_used(),
        used + 1,
        "a verification of other changes is not taken"
    );
    assert_eq!(refused(&report), refused(&plain));
    assert_eq!(report.new, clean.len() - 1);
    assert!(
        !other_node
            .store()
            .has_changes(&[forged[bad].hash])
            .expect("looking up")[0],
        "the forged edit is not stored"
    );
    assert_eq!(title_of(&other_node, 70), "Tiếp công dân định kỳ");

    // Started and dropped uncommitted, again and again: each gives its
    // place back, so the next frame is still verified ahead.
    for _ in 0..5 {
        drop(ahead_of(&clean));
    }
}
