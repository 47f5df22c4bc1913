//! The feed of a peer whose read scope widened: entries the peer's store is
//! known to hold (served under its earlier scope, up to a seq) are not
//! listed again; what became readable, and everything after that seq, is.

mod common;

use common::*;
use danvan_model::{Kind, Scope};

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
