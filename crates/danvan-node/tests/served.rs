//! The feed of a peer whose read scope widened: entries the peer's store is
//! known to hold (served under its earlier scope, up to a seq) are not
//! listed again; what became readable, and everything after that seq, is.

mod common;

use common::*;
use danvan_model::{Kind, Scope};
use danvan_node::Node;

#[test]
fn a_widened_scope_is_offered_only_what_became_readable() {
    let keys = Keys::new();
    let tmp = TempDir::new("served");
    let roster = signed_roster(&keys, 1, &[]);
    let mut hub = node(
        &tmp.path().join("hub"),
        &keys.hub,
        TOWN,
        &keys.authority.id(),
        roster.bytes(),
    );
    let writer = Writer::new(&keys.town_writer);
    let units = [
        "pho-minh", "pho-minh", "pho-hoa", "pho-minh", "pho-hoa", "pho-hoa",
    ];
    let changes: Vec<_> = units
        .iter()
        .enumerate()
        .map(|(n, unit)| {
            let header = header(
                Kind::Activity,
                doc_id(n as u8 + 1),
                unit,
                None,
                &keys.town_writer.id(),
            );
            writer.create(&activity(header)).1
        })
        .collect();
    let report = hub.import_changes(&changes).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let minh = Scope::from_key("officer|pho-minh|").unwrap();
    let ward = Scope::from_key("officer|pho-hoa,pho-minh|").unwrap();
    assert_eq!(ward.key(), "officer|pho-hoa,pho-minh|");
    let peer = keys.victim.id();
    let epoch = [9; 8];
    let feed = |scope: &Scope, held: Option<(&Scope, u64)>| {
        hub.store()
            .feed(&peer, epoch, 0, 100, Some(scope), held)
            .unwrap()
    };
    let (all, latest) = feed(&ward, None);
    assert_eq!(all.len(), 6);
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    // Served under Phổ Minh's scope up to the fourth entry: the three Phổ
    // Minh records there are held; Phổ Hòa's are listed, and so is
    // everything after that seq.
    let (widened, scanned) = feed(&ward, Some((&minh, seqs[3])));
    assert_eq!(scanned, latest);
    let listed: Vec<u64> = widened.iter().map(|e| e.seq).collect();
    assert_eq!(listed, [seqs[2], seqs[4], seqs[5]]);
    // Held up to the end: only Phổ Hòa's three.
    let (widened, _) = feed(&ward, Some((&minh, latest)));
    assert_eq!(widened.len(), 3);
    // A narrowed scope lists nothing again, and still reaches the end.
    let (narrowed, scanned) = feed(&minh, Some((&ward, latest)));
    assert!(narrowed.is_empty());
    assert_eq!(scanned, latest);
    // A text that is no scope key is not read as one.
    assert!(Scope::from_key("chief|pho-minh|").is_none());
}

/// Every entry a scoped feed lists, read page by page with limit `limit`
/// from 0 to the end of the log; checks each page's scanned seq advances
/// and stays within the log.
fn paged_feed(hub: &Node, peer: &danvan_model::NodeId, scope: &Scope, limit: usize) -> Vec<u64> {
    let latest = hub.store().latest_seq().unwrap();
    let (mut since, mut listed) = (0, Vec::new());
    while since < latest {
        let (page, scanned) = hub
            .store()
            .feed(peer, [9; 8], since, limit, Some(scope), None)
            .unwrap();
        assert!(page.len() <= limit);
        assert!(scanned > since && scanned <= latest, "{since} → {scanned}");
        assert!(page.iter().all(|e| e.seq > since && e.seq <= scanned));
        listed.extend(page.iter().map(|e| e.seq));
        since = scanned;
    }
    listed
}

/// A scope of some units is served from the store's index of readers
/// (`feed_readers`), not by walking the log: page by page, whatever the
/// page size, it lists exactly the changes of the records the scope may
/// read (tasks for every role, a field team's project only, edits made
/// after creation), in log order, as the test's own list of records says;
/// and an older store without the index gets it on open, listing the same.
#[test]
fn a_scoped_feed_lists_exactly_its_readers_changes_in_log_order() {
    let keys = Keys::new();
    let tmp = TempDir::new("feed-readers");
    let roster = signed_roster(&keys, 1, &[]);
    let dir = tmp.path().join("hub");
    let mut hub = node(&dir, &keys.hub, TOWN, &keys.authority.id(), roster.bytes());
    let writer = Writer::new(&keys.town_writer);
    // (kind, unit, project) of each record, in the order made; some are
    // edited again later, so a record's changes are spread over the log.
    let mut rng = Rng(7);
    let shapes = [
        (Kind::Activity, UNIT, None),
        (Kind::Activity, OTHER_UNIT, None),
        (Kind::Activity, "pho-hoa", None),
        (Kind::Task, TOWN, None),
        (Kind::Household, UNIT, Some(PROJECT)),
        (Kind::Household, UNIT, Some(OTHER_PROJECT)),
        (Kind::Household, OTHER_UNIT, Some(PROJECT)),
    ];
    let mut made: Vec<(danvan_model::DocId, usize, automerge::Automerge)> = Vec::new();
    let mut by_hash = std::collections::HashMap::new();
    for n in 0..60u8 {
        let which = rng.below(shapes.len());
        let (kind, unit, project) = shapes[which];
        let doc = doc_id(n + 1);
        let make = match kind {
            Kind::Task => task,
            Kind::Household => household,
            _ => activity,
        };
        let (am, change) = writer.create(&make(header(
            kind,
            doc,
            unit,
            project,
            &keys.town_writer.id(),
        )));
        by_hash.insert(change.hash, which);
        let report = hub.import_changes(&[change]).unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        made.push((doc, which, am));
        // Now and then an earlier record is edited again.
        if n % 3 == 2 {
            let (doc, which, am) = &mut made[rng.below(n as usize)];
            let edit = writer.edit(*doc, am, |tx| {
                use automerge::transaction::Transactable;
                tx.put(automerge::ROOT, "ghi_chu", format!("sửa lần {n}"))
                    .map_err(|e| e.to_string())
            });
            by_hash.insert(edit.hash, *which);
            let report = hub.import_changes(&[edit]).unwrap();
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        }
    }
    let peer = keys.victim.id();
    let latest = hub.store().latest_seq().unwrap();
    // The whole log, as the hub's own scope walks it.
    let (log, _) = hub
        .store()
        .feed(&peer, [9; 8], 0, 10_000, None, None)
        .unwrap();
    assert_eq!(log.last().map(|e| e.seq), Some(latest));
    let expected = |scope: &Scope| -> Vec<u64> {
        log.iter()
            .filter(|e| {
                let (kind, unit, project) = shapes[by_hash[&e.hash]];
                scope.may_read(&danvan_model::DocScope {
                    kind: kind.code(),
                    unit,
                    project,
                })
            })
            .map(|e| e.seq)
            .collect()
    };
    let scopes = [
        format!("officer|{UNIT}|"),
        format!("viewer|{UNIT},pho-hoa|"),
        format!("field|{UNIT}|{PROJECT}"),
        "officer||".to_string(),
    ];
    let check = |hub: &Node| {
        for key in &scopes {
            let scope = Scope::from_key(key).unwrap();
            let want = expected(&scope);
            assert!(!want.is_empty() && want.len() < log.len(), "{key}");
            for limit in [1, 2, 5, 4096] {
                assert_eq!(
                    paged_feed(hub, &peer, &scope, limit),
                    want,
                    "{key}, {limit}"
                );
            }
        }
    };
    check(&hub);
    // A store from before the index (schema 6) gets it on open.
    drop(hub);
    {
        let db = rusqlite::Connection::open(dir.join(danvan_store::DB_FILE)).expect("db");
        db.execute_batch(danvan_testkit::UNDO_SCHEMA_10)
            .expect("back to schema 9");
        db.execute_batch(
            "DROP TRIGGER feed_readers_change;
             DROP TRIGGER feed_readers_header;
             DROP TRIGGER feed_readers_document;
             DROP TABLE feed_readers;
             DROP INDEX records_list;
             ALTER TABLE changes DROP COLUMN covered_by;
             ALTER TABLE set_aside DROP COLUMN covered_by;
             PRAGMA user_version = 6;",
        )
        .expect("back to schema 6");
    }
    let hub = Node::open(&dir).expect("open migrates");
    check(&hub);
}
