//! The intake of a large received batch (`receive_changes`): its changes
//! are verified on a second thread while the store commits the documents
//! already verified. A forged change anywhere in the batch is refused and
//! audited, every other change is stored, and the records read back whole.

mod common;

use std::collections::HashSet;

use danvan_model::{Kind, SignedChange};

use common::*;

/// Records in the batch: two changes each, well over the batch size from
/// which the intake verifies on a thread of its own.
const RECORDS: u8 = 120;

fn retitle(
    value: &'static str,
) -> impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), String> {
    use automerge::transaction::Transactable;
    move |tx| {
        tx.put(automerge::ROOT, "title", value)
            .map_err(|e| e.to_string())
    }
}

#[test]
fn a_large_batch_is_verified_beside_the_commit_and_only_its_forgeries_are_refused() {
    let keys = Keys::new();
    let tmp = TempDir::new("intake");
    let roster = signed_roster(&keys, 1, &[]);
    let mut victim = node(
        &tmp.sub("victim"),
        &keys.victim,
        UNIT,
        &keys.authority.id(),
        roster.bytes(),
    );
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
            bad.signature[7] ^= 0x40;
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
    let titles = |n: u8| {
        victim
            .show(&doc_id(n).to_string())
            .expect("showing a record")
            .record
            .summary()
            .title
    };
    assert_eq!(titles(11), "Tiếp xúc cử tri quý 3");
    assert_eq!(titles(70), "Tiếp công dân định kỳ");
    // Delivered again: everything valid is held, the forged refused again.
    let again = victim.import_changes(&delivered).expect("the import again");
    assert_eq!(again.new, 0);
    assert_eq!(again.duplicate, valid.len());
    assert_eq!(again.rejected.len(), forged.len());
}
