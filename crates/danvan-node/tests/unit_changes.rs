//! A roster whose unit changes cannot be replayed, signed by the town's own
//! authority key and arriving from a peer: a real node's store refuses it,
//! keeps the roster it held, and audits the refusal with the reason.

mod common;

use common::*;
use danvan_model::SignedRoster;

/// The signed encoding of `roster` as a roster with unit changes (format 2),
/// without the checks `SignedRoster::sign` makes.
fn encode_unchecked(keys: &Keys, roster: &danvan_model::Roster) -> Vec<u8> {
    let body = serde_json::to_vec(roster).unwrap();
    let signature = keys.authority.sign(b"danvan/roster/v1", &body);
    let mut bytes = b"DVRS".to_vec();
    bytes.push(2);
    bytes.extend_from_slice(keys.authority.id().as_bytes());
    bytes.extend_from_slice(&signature);
    bytes.extend_from_slice(&body);
    bytes
}

#[test]
fn a_roster_with_an_impossible_unit_change_from_a_peer_is_refused_and_audited() {
    let keys = Keys::new();
    let tmp = TempDir::new("unit-changes");
    let v1 = signed_roster(&keys, 1, &[]);
    let mut node = node(
        &tmp.path().join("victim"),
        &keys.victim,
        UNIT,
        &keys.authority.id(),
        v1.bytes(),
    );
    let peer = keys.hub.id();
    for (change, reason) in [
        // The town under one of its own wards.
        (
            "[[change]]\ndate = \"2025-07-01\"\naction = \"move\"\nunit = \"duc-pho\"\nparent = \"pho-minh\"\n",
            "vòng lặp",
        ),
        (
            "[[change]]\ndate = \"2025-07-01\"\naction = \"merge\"\nunits = [\"pho-minh\", \"pho-hoa\"]\ninto = \"pho-minh\"\n",
            "vào chính nó",
        ),
        (
            "[[change]]\ndate = \"2025-07-01\"\naction = \"abolish\"\nunits = [\"pho-khong-co\"]\n",
            "không có đơn vị \"pho-khong-co\"",
        ),
        (
            "[[change]]\ndate = \"2025-07-01\"\naction = \"rename\"\nunit = \"pho-hoa\"\nname = \"Phường H\"\n[[change]]\ndate = \"2025-06-01\"\naction = \"rename\"\nunit = \"pho-an\"\nname = \"Xã A\"\n",
            "trước ngày 1/7/2025",
        ),
    ] {
        let mut roster = roster(&keys, 2, &[]);
        roster.units.push('\n');
        roster.units.push_str(change);
        assert!(SignedRoster::sign(&keys.authority, &roster).is_err());
        let bytes = encode_unchecked(&keys, &roster);
        let refused = node
            .store_mut()
            .install_roster(&bytes, Some(&peer))
            .expect_err("an impossible unit change is refused");
        assert!(refused.to_string().contains(reason), "{refused}");
        assert_eq!(node.store().roster_version().unwrap(), 1);
        let audit = node.audit_log(10).unwrap();
        let last = audit.last().unwrap();
        assert_eq!(last.event, "rejected-roster");
        assert_eq!(last.peer.as_deref(), Some(peer.to_string().as_str()));
        assert!(
            last.detail["reason"].as_str().unwrap().contains(reason),
            "{:?}",
            last.detail
        );
    }
}
