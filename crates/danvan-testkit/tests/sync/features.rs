//! Sync features, each driven through `Pair` (two nodes, one session, a
//! link with a fixed delay) and checked through a few helpers, so that the
//! engine's internals can change without rewriting these tests.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use danvan_model::{ChangeError, DocId, NodeKey};
use danvan_proto::{
    BATCHES_IN_FLIGHT_MAX, Event, INLINE_BATCHES_IN_FLIGHT_MAX, MESSAGE_BYTES_MAX, Message,
    ProtoError, Replica, Session, SessionConfig, SessionStats, WireChange, WireError,
    decode_message, encode_message,
};
use danvan_testkit::{Pair, Side, TestNode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DELAY_MS: u64 = 100;
const RTT_MS: u64 = 2 * DELAY_MS;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A node holding `records` household cases of `edits` changes each.
fn node_with_records(rng: &mut ChaCha8Rng, records: usize, edits: usize) -> TestNode {
    let mut node = TestNode::new(rng);
    add_records(&mut node, rng, records, edits);
    node
}

/// Two nodes with records (`(records, edits)` each) drawn from the
/// generator of `seed`, which is returned for the rest of the test.
fn two_nodes(
    seed: u64,
    (a_records, a_edits): (usize, usize),
    (b_records, b_edits): (usize, usize),
) -> (ChaCha8Rng, TestNode, TestNode) {
    let mut rng = rng(seed);
    let a = node_with_records(&mut rng, a_records, a_edits);
    let b = node_with_records(&mut rng, b_records, b_edits);
    (rng, a, b)
}

fn add_records(node: &mut TestNode, rng: &mut ChaCha8Rng, records: usize, edits: usize) {
    for _ in 0..records {
        let doc = DocId::from_bytes(rng.r#gen());
        let mut made = 0;
        while made < edits {
            if node.edit_household(doc, rng).is_some() {
                made += 1;
            }
        }
    }
}

fn one_edit(node: &mut TestNode, rng: &mut ChaCha8Rng) {
    let doc = node.store.docs()[0];
    while node.edit_household(doc, rng).is_none() {}
}

/// What a session between two nodes did, once it is over.
#[derive(Debug)]
struct Synced {
    a: SessionStats,
    b: SessionStats,
    elapsed_ms: u64,
}

fn small_batches() -> SessionConfig {
    SessionConfig {
        offer_hashes_max: 16,
        batch_bytes_max: 4_000,
        inline_bytes_max: 4_000,
        ..SessionConfig::default()
    }
}

/// Runs one session to its end and requires both sides to finish cleanly.
fn sync_with(a: &mut TestNode, b: &mut TestNode, config: SessionConfig) -> Synced {
    let mut pair = Pair::new(a, b, config.clone(), config, DELAY_MS);
    pair.run();
    let (Some(sa), Some(sb)) = (pair.done(Side::A), pair.done(Side::B)) else {
        panic!(
            "session did not finish: A {:?}, B {:?}",
            pair.failure(Side::A),
            pair.failure(Side::B)
        );
    };
    Synced {
        a: sa,
        b: sb,
        elapsed_ms: pair.now_ms,
    }
}

fn sync(a: &mut TestNode, b: &mut TestNode) -> Synced {
    sync_with(a, b, SessionConfig::default())
}

/// The state a test compares: change hashes and checkpoints.
fn snapshot(
    node: &TestNode,
) -> (
    BTreeSet<[u8; 32]>,
    Vec<(danvan_model::NodeId, danvan_proto::Checkpoint)>,
) {
    (node.store.hashes(), node.store.checkpoints())
}

fn assert_converged(a: &TestNode, b: &TestNode) {
    assert_eq!(a.store.hashes(), b.store.hashes(), "change sets differ");
    for doc in a.store.docs() {
        assert_eq!(
            a.document(&doc).hydrate(None),
            b.document(&doc).hydrate(None),
            "document {doc:?} differs"
        );
    }
}

/// Every checkpoint `node` holds into `peer`'s current store covers only
/// changes `node` holds.
fn assert_checkpoints_sound(node: &TestNode, peer: &TestNode) {
    if let Some(checkpoint) = node.store.checkpoint(&peer.id()).unwrap()
        && checkpoint.epoch == peer.store.epoch()
    {
        assert!(checkpoint.seq <= peer.store.latest_seq());
        for change in peer.store.prefix(checkpoint.seq) {
            assert!(
                node.store.contains(&change.hash),
                "checkpoint ran ahead of commits"
            );
        }
    }
}

#[test]
fn cold_sync_then_idle_sync_is_one_round_trip_whatever_the_size() {
    let mut idle_bytes = Vec::new();
    for records in [200, 2_000] {
        let mut rng = rng(1);
        // Five changes per record: 1k and 10k changes.
        let mut hub = node_with_records(&mut rng, records, 5);
        let mut laptop = TestNode::new(&mut rng);
        sync(&mut laptop, &mut hub);
        // The next session moves the hub's checkpoint over the laptop's
        // feed, all of it the hub's own changes: an empty offer, no answer.
        let echo = sync(&mut laptop, &mut hub);
        for stats in [echo.a, echo.b] {
            assert_eq!(stats.round_trips, 1, "{stats}");
            assert!(stats.bytes_sent + stats.bytes_received <= 300, "{stats}");
        }
        assert!(echo.elapsed_ms <= RTT_MS);
        assert_converged(&laptop, &hub);
        let idle = sync(&mut laptop, &mut hub);
        for stats in [idle.a, idle.b] {
            assert_eq!(stats.round_trips, 1, "{stats}");
            assert_eq!(stats.messages_sent, 1, "{stats}");
            assert_eq!(stats.changes_received + stats.changes_sent, 0);
            assert!(stats.bytes_sent + stats.bytes_received <= 300, "{stats}");
        }
        assert!(idle.elapsed_ms <= RTT_MS);
        eprintln!(
            "idle sync over {} changes: {} + {} bytes, {} round trip, {} ms",
            hub.store.len(),
            idle.a.bytes_sent,
            idle.b.bytes_sent,
            idle.a.round_trips,
            idle.elapsed_ms
        );
        idle_bytes.push(idle.a.bytes_sent + idle.b.bytes_sent);
    }
    // Ten times the changes costs at most the growth of two varints.
    assert!(idle_bytes[1] <= idle_bytes[0] + 4, "{idle_bytes:?}");
}

#[test]
fn one_new_change_syncs_in_at_most_three_round_trips() {
    let (mut rng, mut hub, mut laptop) = two_nodes(2, (50, 3), (5, 2));
    for _ in 0..3 {
        sync(&mut laptop, &mut hub);
    }
    one_edit(&mut laptop, &mut rng);
    let synced = sync(&mut laptop, &mut hub);
    assert_eq!(synced.b.changes_stored, 1);
    assert_eq!(synced.a.changes_sent, 1);
    assert!(
        synced.a.round_trips <= 3 && synced.b.round_trips <= 3,
        "{synced:?}"
    );
    assert!(synced.elapsed_ms <= 3 * RTT_MS, "{synced:?}");
    eprintln!(
        "one change: {} + {} bytes, {}/{} round trips, {} ms",
        synced.a.bytes_sent,
        synced.b.bytes_sent,
        synced.a.round_trips,
        synced.b.round_trips,
        synced.elapsed_ms
    );
    assert_converged(&laptop, &hub);
}

#[test]
fn both_directions_sync_in_one_session() {
    let (_, mut a, mut b) = two_nodes(3, (30, 3), (20, 4));
    let synced = sync_with(&mut a, &mut b, small_batches());
    assert_eq!(synced.a.changes_stored, 80);
    assert_eq!(synced.b.changes_stored, 90);
    assert_converged(&a, &b);
    assert!(synced.a.to_string().contains("lượt khứ hồi"));
}

#[test]
fn a_cold_node_gets_bodies_inline_within_its_byte_budget() {
    let mut rng = rng(4);
    let mut hub = node_with_records(&mut rng, 400, 4);
    let mut laptop = TestNode::new(&mut rng);
    let synced = sync(&mut laptop, &mut hub);
    assert_converged(&laptop, &hub);
    let bodies: Vec<u8> = hub.store.changes().flat_map(|c| c.body.clone()).collect();
    let zstd_bodies = zstd::bulk::compress(&bodies, 3).unwrap().len() as u64;
    // Each change must carry its author's 64-byte Ed25519 signature, which
    // does not compress: the floor of any encoding is bodies + signatures.
    let signatures = 64 * hub.store.len() as u64;
    let wire = synced.a.bytes_sent + synced.a.bytes_received;
    let ratio_bodies = wire as f64 / zstd_bodies as f64;
    let ratio_floor = wire as f64 / (zstd_bodies + signatures) as f64;
    eprintln!(
        "cold sync of {} changes: {wire} bytes on the wire; zstd of bodies {zstd_bodies} (raw {}), signatures {signatures}; \
         wire / zstd(bodies) = {ratio_bodies:.2}, wire / (zstd(bodies) + signatures) = {ratio_floor:.2}; {} round trips",
        hub.store.len(),
        bodies.len(),
        synced.a.round_trips,
    );
    assert!(
        ratio_floor <= 1.1,
        "cold sync costs {ratio_floor:.2} × its floor"
    );
    assert_eq!(
        synced.a.changes_received,
        hub.store.len() as u64,
        "no hash offers, no resends"
    );
}

/// The body bytes of each Inline message among `frames`.
fn inline_body_bytes(frames: &[Vec<u8>]) -> Vec<usize> {
    frames
        .iter()
        .filter_map(|f| match decode_message(f) {
            Ok(Message::Inline { changes, .. }) if !changes.is_empty() => {
                Some(changes.iter().map(|c| c.body.len()).sum())
            }
            _ => None,
        })
        .collect()
}

/// A cold puller's Inline batches are sized to the link: on a fast one they
/// grow from `batch_bytes_max` to `inline_bytes_max` (fewer batches, fewer
/// commits), on a slow one they stay at `batch_bytes_max` (a cut loses
/// little). Both pulls land everything.
#[test]
fn inline_batches_grow_on_a_fast_link_and_stay_small_on_a_slow_one() {
    let mut rng = rng(14);
    let hub = node_with_records(&mut rng, 300, 4);
    let change_max = hub.store.changes().map(|c| c.body.len()).max().unwrap_or(0);
    let config = SessionConfig {
        batch_bytes_max: 8_000,
        inline_bytes_max: 64_000,
        ..SessionConfig::default()
    };
    // (bytes per second each way, one-way delay): a LAN, and a link slower
    // than 2G's worst.
    for (rate, delay_ms, grows) in [(50_000_000, 1, true), (800, 300, false)] {
        let mut hub = hub.clone();
        let mut laptop = TestNode::new(&mut rng);
        let mut pair = Pair::new(
            &mut laptop,
            &mut hub,
            config.clone(),
            config.clone(),
            delay_ms,
        )
        .with_bandwidth(rate);
        pair.run();
        assert!(pair.done(Side::A).is_some(), "{:?}", pair.failure(Side::A));
        let sizes = inline_body_bytes(&pair.delivered_to_a);
        let largest = sizes.iter().copied().max().unwrap_or(0);
        // A batch ends before the change that would cross its size.
        if grows {
            assert!(largest > 32_000, "{sizes:?}");
            assert!(largest <= 64_000, "{sizes:?}");
            // Each at most twice the size the one before was cut to (less
            // than its bytes and one more change): one fast reading does
            // not jump to the ceiling.
            assert!(
                sizes
                    .windows(2)
                    .all(|w| w[1] <= 2 * (w[0] + change_max).max(8_000)),
                "{sizes:?}"
            );
        } else {
            assert!(largest <= 8_000, "{sizes:?}");
        }
        drop(pair);
        assert_converged(&laptop, &hub);
        eprintln!(
            "{rate} B/s, {delay_ms} ms: {} Inline batches, largest {largest} B of bodies",
            sizes.len()
        );
    }
}

/// On a slow link a cold puller's Inline batches stay small, and the hub
/// keeps up to [`INLINE_BATCHES_IN_FLIGHT_MAX`] of them unanswered (not the
/// two of offers): on 2G two small batches are less than one loss recovery,
/// and the link fell idle behind it. Never more than that many.
#[test]
fn a_slow_link_carries_four_small_inline_batches_unanswered() {
    let mut rng = rng(15);
    let mut hub = node_with_records(&mut rng, 200, 4);
    let mut laptop = TestNode::new(&mut rng);
    let config = SessionConfig {
        batch_bytes_max: 8_000,
        inline_bytes_max: 64_000,
        ..SessionConfig::default()
    };
    let mut pair =
        Pair::new(&mut laptop, &mut hub, config.clone(), config, 300).with_bandwidth(800);
    let is_inline = |f: &[u8]| matches!(decode_message(f), Ok(Message::Inline { changes, .. }) if !changes.is_empty());
    let is_ack = |f: &[u8]| matches!(decode_message(f), Ok(Message::Ack { .. }));
    let mut most = 0;
    while pair.step() {
        let sent = pair.delivered_to_a.iter().filter(|f| is_inline(f)).count()
            + pair.on_the_way(Side::A).filter(|f| is_inline(f)).count();
        let acked = pair.delivered_to_b.iter().filter(|f| is_ack(f)).count();
        most = most.max(sent - acked);
    }
    assert!(pair.done(Side::A).is_some(), "{:?}", pair.failure(Side::A));
    assert_eq!(most, INLINE_BATCHES_IN_FLIGHT_MAX);
    const { assert!(INLINE_BATCHES_IN_FLIGHT_MAX > BATCHES_IN_FLIGHT_MAX) };
    drop(pair);
    assert_converged(&laptop, &hub);
}

#[test]
fn progress_is_reported_until_the_target() {
    let (_, mut hub, mut laptop) = two_nodes(5, (60, 3), (1, 1));
    let mut pair = Pair::new(
        &mut laptop,
        &mut hub,
        small_batches(),
        small_batches(),
        DELAY_MS,
    );
    pair.run();
    let pulled: Vec<(u64, u64)> = pair
        .events(Side::A)
        .iter()
        .filter_map(|e| match e {
            Event::Progress(p) => Some((p.pulled_seq, p.pull_target_seq)),
            _ => None,
        })
        .collect();
    assert!(pulled.len() >= 5, "{pulled:?}");
    assert!(pulled.windows(2).all(|w| w[0].0 <= w[1].0));
    let (last_pulled, target) = *pulled.last().unwrap();
    assert_eq!(last_pulled, target);
}

/// A cut at every point of a session: the next session resends no body
/// already stored and re-offers at most one batch of hashes.
#[test]
fn resume_after_a_cut_resends_at_most_one_batch() {
    let config = small_batches();
    for cold in [false, true] {
        let mut rng = rng(6);
        let hub = node_with_records(&mut rng, 60, 3);
        let laptop = if cold {
            TestNode::new(&mut rng)
        } else {
            node_with_records(&mut rng, 1, 1)
        };
        let frames = {
            let (mut h, mut l) = (hub.clone(), laptop.clone());
            let mut pair = Pair::new(&mut l, &mut h, config.clone(), config.clone(), DELAY_MS);
            pair.run();
            pair.delivered_to_a.len() + pair.delivered_to_b.len()
        };
        assert!(frames > 20, "too few frames to test cuts: {frames}");
        for cut in 1..frames {
            let (mut h, mut l) = (hub.clone(), laptop.clone());
            {
                let mut pair = Pair::new(&mut l, &mut h, config.clone(), config.clone(), DELAY_MS);
                pair.run_frames(cut);
            }
            assert_checkpoints_sound(&l, &h);
            let held = l.store.hashes();
            let mut pair = Pair::new(&mut l, &mut h, config.clone(), config.clone(), DELAY_MS);
            pair.run();
            let stats = pair.done(Side::A).expect("resumed session finishes");
            assert_eq!(
                stats.changes_received, stats.changes_stored,
                "cut at {cut}: bodies already stored were sent again"
            );
            let reoffered: usize = pair
                .delivered_to_a
                .iter()
                .filter_map(|f| match decode_message(f) {
                    Ok(Message::Offer { hashes, .. }) => {
                        Some(hashes.iter().filter(|h| held.contains(*h)).count())
                    }
                    _ => None,
                })
                .sum();
            assert!(
                reoffered <= config.offer_hashes_max,
                "cut at {cut}: {reoffered} hashes re-offered"
            );
            drop(pair);
            assert_converged(&l, &h);
        }
    }
}

/// A session between `sender` (with changes) and `receiver` that has
/// exchanged Hellos, ready for a hostile frame.
fn after_hellos<'n>(sender: &'n mut TestNode, receiver: &'n mut TestNode) -> Pair<'n> {
    let mut pair = Pair::new(
        sender,
        receiver,
        SessionConfig::default(),
        SessionConfig::default(),
        DELAY_MS,
    );
    // Deliver the two Hellos only.
    pair.run_frames(2);
    pair
}

/// Feeds `frame` to the receiver of a fresh session and checks that the
/// session ends with an error matching `expected`, that nothing was stored,
/// that the peer is told why, and that a later session still syncs.
fn check_hostile(frame: Vec<u8>, after_offer: bool, expected: impl Fn(&ProtoError) -> bool) {
    let (_, mut sender, mut receiver) = two_nodes(7, (5, 2), (1, 1));
    let before = snapshot(&receiver);
    {
        let mut pair = after_hellos(&mut sender, &mut receiver);
        if after_offer {
            // Deliver the offer; the receiver answers with a Want.
            pair.run_frames(3);
        }
        let mid = snapshot(pair.b);
        pair.inject(Side::B, &frame);
        let error = pair
            .failure(Side::B)
            .expect("the hostile frame ends the session");
        assert!(expected(error), "unexpected error: {error:?}");
        assert_eq!(
            snapshot(pair.b),
            mid,
            "something was stored from a hostile frame"
        );
        let abort = pair.session_b.poll_transmit();
        let told = pair.delivered_to_a.len();
        pair.run();
        assert!(
            abort.is_some() || pair.delivered_to_a.len() > told,
            "the peer is told why"
        );
        assert!(pair.session_b.is_closed());
    }
    assert_eq!(snapshot(&receiver).0, before.0);
    sync(&mut sender, &mut receiver);
    assert_converged(&sender, &receiver);
}

fn valid_wire_change(seed: u64) -> WireChange {
    let mut rng = rng(seed);
    let mut node = TestNode::new(&mut rng);
    let change = node
        .edit_household(DocId::from_bytes([1; 16]), &mut rng)
        .unwrap();
    WireChange {
        doc: change.doc,
        author: change.author,
        signature: change.signature,
        body: change.body,
    }
}

#[test]
fn malformed_oversized_unknown_version_and_out_of_order_messages_end_the_session() {
    check_hostile(vec![1, 99, 0], false, |e| {
        matches!(e, ProtoError::Wire(WireError::UnknownKind(99)))
    });
    check_hostile(vec![1, 4, 0xff], false, |e| {
        matches!(e, ProtoError::Wire(_))
    });
    check_hostile(vec![0; MESSAGE_BYTES_MAX + 1], false, |e| {
        matches!(e, ProtoError::Wire(WireError::TooLarge { .. }))
    });
    let mut future_ack = encode_message(&Message::Ack { upto_seq: 1 });
    future_ack[0] = 7;
    check_hostile(future_ack, false, |e| {
        matches!(e, ProtoError::Wire(WireError::UnknownVersion(7)))
            && e.to_string().contains("hãy cập nhật danvan")
    });
    let bodies = encode_message(&Message::Bodies {
        upto_seq: 3,
        changes: vec![valid_wire_change(70)],
    });
    check_hostile(bodies, false, |e| matches!(e, ProtoError::OutOfOrder(_)));
    let inline = encode_message(&Message::Inline {
        from_seq: 0,
        upto_seq: 1,
        changes: vec![valid_wire_change(71)],
    });
    check_hostile(inline, false, |e| matches!(e, ProtoError::OutOfOrder(_)));
    let gap = encode_message(&Message::Offer {
        from_seq: 5,
        upto_seq: 6,
        hashes: vec![[1; 32]],
    });
    check_hostile(gap, false, |e| matches!(e, ProtoError::OutOfOrder(_)));
    let mut rng = rng(72);
    let again = TestNode::new(&mut rng);
    let hello = encode_message(&Message::Hello(danvan_proto::Hello {
        version: 1,
        min_version: 1,
        node: again.id(),
        epoch: [0; 8],
        latest_seq: 0,
        roster_version: 0,
        checkpoint: None,
        cold: false,
        keep_signatures: false,
    }));
    check_hostile(hello, false, |e| matches!(e, ProtoError::OutOfOrder(_)));
    let ack = encode_message(&Message::Ack { upto_seq: 9 });
    check_hostile(ack, false, |e| matches!(e, ProtoError::OutOfOrder(_)));
    // After the offer: a body that is not the one wanted.
    let impostor = encode_message(&Message::Bodies {
        upto_seq: 0,
        changes: vec![valid_wire_change(73)],
    });
    check_hostile(impostor, true, |e| {
        matches!(e, ProtoError::OutOfOrder(_) | ProtoError::Violation(_))
    });
}

/// The wanted batch arrives with one body swapped for another valid change:
/// nothing of that message is stored and the checkpoint does not move; the
/// body nobody asked for is reported as a rejected change. Bodies of the
/// batch that only come out of place (a faulty link) are not reported.
#[test]
fn a_body_that_does_not_match_its_wanted_hash_stores_nothing() {
    for forged in [true, false] {
        a_body_that_does_not_match_stores_nothing(forged);
    }
}

fn a_body_that_does_not_match_stores_nothing(forged: bool) {
    let (_, mut sender, mut receiver) = two_nodes(8, (5, 2), (1, 1));
    let before = snapshot(&receiver);
    let mut pair = Pair::new(
        &mut sender,
        &mut receiver,
        SessionConfig::default(),
        SessionConfig::default(),
        DELAY_MS,
    );
    // Run until the sender has the receiver's Want: its Bodies are on the link.
    while !pair
        .delivered_to_a
        .iter()
        .any(|f| matches!(decode_message(f), Ok(Message::Want { .. })))
    {
        assert!(pair.step(), "the receiver never asked for bodies");
    }
    let mut swapped = 0;
    let mut wanted = [0u8; 32];
    pair.tamper(Side::B, |frame| {
        if let Ok(Message::Bodies {
            upto_seq,
            mut changes,
        }) = decode_message(frame)
        {
            wanted = automerge::Change::try_from(changes[3].body.as_slice())
                .unwrap()
                .hash()
                .0;
            if forged {
                changes[3] = valid_wire_change(80);
            } else {
                changes.swap(3, 4);
            }
            *frame = encode_message(&Message::Bodies { upto_seq, changes });
            swapped += 1;
        }
    });
    assert_eq!(swapped, 1);
    pair.run();
    assert!(matches!(
        pair.failure(Side::B),
        Some(ProtoError::Violation(_))
    ));
    let reported: Vec<[u8; 32]> = pair
        .events(Side::B)
        .iter()
        .filter_map(|e| match e {
            Event::Rejected { hash, reason, .. } => {
                assert!(matches!(reason, ChangeError::HashMismatch), "{reason}");
                Some(*hash)
            }
            _ => None,
        })
        .collect();
    if forged {
        assert_eq!(reported, vec![wanted], "the forged body is reported");
    } else {
        assert!(reported.is_empty(), "bodies out of place are not forgeries");
    }
    drop(pair);
    assert_eq!(snapshot(&receiver), before);
}

#[test]
fn a_forged_change_is_rejected_and_the_rest_of_its_batch_commits() {
    for cold in [false, true] {
        let mut rng = rng(9);
        let mut sender = node_with_records(&mut rng, 4, 2);
        // Signed by the sender but made under someone else's actor: a forgery.
        let other = NodeKey::from_secret(rng.r#gen());
        let doc = DocId::from_bytes(rng.r#gen());
        let mut am = automerge::Automerge::new().with_actor(other.actor(&[9; 8]));
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, "status", "đã chi trả")?;
            Ok(())
        })
        .unwrap();
        let mut change = am.get_last_local_change().unwrap();
        let forged = sender.key.sign_change(&doc, &mut change);
        sender.store.add_local(forged.clone());
        add_records(&mut sender, &mut rng, 2, 2);
        let mut receiver = if cold {
            TestNode::new(&mut rng)
        } else {
            node_with_records(&mut rng, 1, 1)
        };
        let served_seq = sender.store.latest_seq();
        let mut pair = Pair::new(
            &mut receiver,
            &mut sender,
            small_batches(),
            small_batches(),
            DELAY_MS,
        );
        pair.run();
        let rejected: Vec<_> = pair
            .events(Side::A)
            .iter()
            .filter_map(|e| match e {
                Event::Rejected { hash, reason, .. } => Some((*hash, reason.to_string())),
                _ => None,
            })
            .collect();
        assert_eq!(rejected.len(), 1, "cold {cold}: {rejected:?}");
        assert_eq!(rejected[0].0, forged.hash);
        assert!(rejected[0].1.contains("giả mạo"));
        let stats = pair.done(Side::A).expect("the session still finishes");
        assert_eq!(stats.changes_rejected, 1);
        drop(pair);
        assert!(!receiver.store.contains(&forged.hash));
        // The sender also got the receiver's own change, if it had one.
        assert_eq!(receiver.store.len() + 1, sender.store.len());
        let checkpoint = receiver.store.checkpoint(&sender.id()).unwrap().unwrap();
        assert_eq!(
            checkpoint.seq, served_seq,
            "the checkpoint moves past the forgery"
        );
    }
}

/// A restored hub (new epoch, older data): the laptop reconciles from 0 by
/// hashes, sends back what the hub lost, and receives no body it has.
#[test]
fn a_restored_peer_triggers_full_reconciliation_without_loss() {
    let (mut rng, mut hub, mut laptop) = two_nodes(10, (30, 2), (10, 2));
    sync(&mut laptop, &mut hub);
    let backup = hub.store.clone();
    add_records(&mut hub, &mut rng, 5, 2);
    add_records(&mut laptop, &mut rng, 5, 2);
    sync(&mut laptop, &mut hub);
    let everything = laptop.store.hashes();
    hub.store = backup.restored(rng.r#gen());
    // The restored hub takes new changes: its feed now runs past the
    // laptop's old checkpoint with different entries at the same seqs.
    add_records(&mut hub, &mut rng, 20, 2);
    assert!(hub.store.latest_seq() > laptop.store.checkpoint(&hub.id()).unwrap().unwrap().seq);
    let synced = sync_with(&mut laptop, &mut hub, small_batches());
    assert_eq!(synced.a.changes_received, 40, "only the new bodies travel");
    assert_eq!(
        synced.b.changes_stored,
        10 + 10,
        "the hub got back what it lost"
    );
    assert!(everything.is_subset(&hub.store.hashes()));
    // Hub-made changes lost by the restore exist nowhere else: they are gone,
    // which is what a restore means, and nothing else is.
    assert_converged(&laptop, &hub);
    assert_checkpoints_sound(&laptop, &hub);
    assert_checkpoints_sound(&hub, &laptop);
}

/// A restored laptop gets back its own changes that the hub holds, although
/// the hub never echoes a node's own changes (the epoch changed).
#[test]
fn a_restored_node_gets_back_its_own_lost_changes() {
    let (mut rng, mut hub, mut laptop) = two_nodes(11, (10, 2), (3, 2));
    sync(&mut laptop, &mut hub);
    let backup = laptop.store.clone();
    add_records(&mut laptop, &mut rng, 4, 3);
    sync(&mut laptop, &mut hub);
    let everything = hub.store.hashes();
    laptop.store = backup.restored(rng.r#gen());
    let synced = sync(&mut laptop, &mut hub);
    assert_eq!(synced.a.changes_stored, 12);
    assert_eq!(laptop.store.hashes(), everything);
    // The restored laptop edits on under its new epoch; the hub takes it.
    one_edit(&mut laptop, &mut rng);
    sync(&mut laptop, &mut hub);
    assert_converged(&laptop, &hub);
}

/// Moves frames between two sessions with no delay until none are left;
/// returns the events of each side.
fn pump_direct(
    a: &mut TestNode,
    sa: &mut Session,
    b: &mut TestNode,
    sb: &mut Session,
) -> (Vec<Event>, Vec<Event>) {
    let (mut events_a, mut events_b) = (Vec::new(), Vec::new());
    loop {
        let mut moved = false;
        while let Some(frame) = sa.poll_transmit() {
            moved = true;
            sb.handle_frame(1, &frame, &mut b.store);
        }
        while let Some(frame) = sb.poll_transmit() {
            moved = true;
            sa.handle_frame(1, &frame, &mut a.store);
        }
        events_a.extend(std::iter::from_fn(|| sa.poll_event()));
        events_b.extend(std::iter::from_fn(|| sb.poll_event()));
        if !moved {
            return (events_a, events_b);
        }
    }
}

#[test]
fn a_newer_peer_still_syncs_and_an_unknown_version_is_refused_clearly() {
    // A peer of the next version that still speaks 1.
    let (mut rng, mut a, mut b) = two_nodes(12, (3, 2), (3, 2));
    let newer = |frame: &mut Vec<u8>, version: u16, min: u16| {
        frame[0] = version as u8;
        frame[2..4].copy_from_slice(&version.to_le_bytes());
        frame[4..6].copy_from_slice(&min.to_le_bytes());
        frame.extend_from_slice(b"fields of a later version");
    };
    {
        let config = SessionConfig::default();
        let mut sa = Session::new(0, config.clone(), a.id(), b.id(), &a.store).unwrap();
        let mut sb = Session::new(0, config, b.id(), a.id(), &b.store).unwrap();
        let mut hello = sb.poll_transmit().unwrap();
        newer(&mut hello, danvan_proto::PROTOCOL_VERSION + 1, 1);
        sa.handle_frame(1, &hello, &mut a.store);
        let (events_a, events_b) = pump_direct(&mut a, &mut sa, &mut b, &mut sb);
        assert!(
            events_a.iter().any(|e| matches!(e, Event::Done(_))),
            "{events_a:?}"
        );
        assert!(
            events_b.iter().any(|e| matches!(e, Event::Done(_))),
            "{events_b:?}"
        );
    }
    assert_converged(&a, &b);

    // A peer that only speaks version 7.
    let mut c = TestNode::new(&mut rng);
    let mut session = Session::new(0, SessionConfig::default(), a.id(), c.id(), &a.store).unwrap();
    let mut peer = Session::new(0, SessionConfig::default(), c.id(), a.id(), &c.store).unwrap();
    let mut hello = peer.poll_transmit().unwrap();
    newer(&mut hello, 7, 7);
    session.handle_frame(10, &hello, &mut a.store);
    let _own_hello = session.poll_transmit();
    let mut failure = None;
    while let Some(event) = session.poll_event() {
        if let Event::Failed(error) = event {
            failure = Some(error);
        }
    }
    let failure = failure.expect("refused");
    assert_eq!(
        failure.to_string(),
        "phiên bản giao thức 7 của nút bên kia chưa được hỗ trợ — hãy cập nhật danvan"
    );
    // The old node tells the new one why, in a message it can still read.
    let abort = session.poll_transmit().expect("an abort is sent");
    peer.handle_frame(20, &abort, &mut c.store);
    let told = std::iter::from_fn(|| peer.poll_event()).find_map(|e| match e {
        Event::Failed(ProtoError::PeerAborted(reason)) => Some(reason),
        _ => None,
    });
    assert!(told.unwrap().contains("phiên bản giao thức 7"));
}

/// A side capped at an older protocol (`SessionConfig::protocol_max`, how
/// a test plays a previous release) offers it in its Hello; both sides then
/// speak only that version, whichever of them is capped, and still
/// converge. Uncapped, both speak this build's version.
#[test]
fn a_side_capped_at_an_older_protocol_makes_the_whole_session_speak_it() {
    for cap in [1, 2, danvan_proto::PROTOCOL_VERSION] {
        for capped in [Side::A, Side::B] {
            let (_, mut a, mut b) = two_nodes(13, (4, 2), (3, 2));
            let old = SessionConfig {
                protocol_max: cap,
                ..SessionConfig::default()
            };
            let (config_a, config_b) = match capped {
                Side::A => (old, SessionConfig::default()),
                Side::B => (SessionConfig::default(), old),
            };
            let mut pair = Pair::new(&mut a, &mut b, config_a, config_b, DELAY_MS);
            pair.run();
            assert!(pair.done(Side::A).is_some() && pair.done(Side::B).is_some());
            for frames in [&pair.delivered_to_a, &pair.delivered_to_b] {
                let hello = match decode_message(&frames[0]) {
                    Ok(Message::Hello(hello)) => hello,
                    other => panic!("{other:?}"),
                };
                assert!(hello.version >= cap && hello.min_version == 1);
                assert!(frames.len() > 2);
                assert!(
                    frames[1..].iter().all(|f| u16::from(f[0]) == cap),
                    "{cap} {capped:?}"
                );
            }
            let capped_hello = match capped {
                Side::A => &pair.delivered_to_b[0],
                Side::B => &pair.delivered_to_a[0],
            };
            assert_eq!(u16::from(capped_hello[0]), cap);
            drop(pair);
            assert_converged(&a, &b);
        }
    }
}

#[test]
fn a_hello_from_another_node_than_the_authenticated_one_is_refused() {
    let mut rng = rng(13);
    let mut a = TestNode::new(&mut rng);
    let b = TestNode::new(&mut rng);
    let c = TestNode::new(&mut rng);
    let mut session = Session::new(0, SessionConfig::default(), a.id(), b.id(), &a.store).unwrap();
    let mut impostor = Session::new(0, SessionConfig::default(), c.id(), a.id(), &c.store).unwrap();
    session.handle_frame(1, &impostor.poll_transmit().unwrap(), &mut a.store);
    let failed = std::iter::from_fn(|| session.poll_event())
        .any(|e| matches!(e, Event::Failed(ProtoError::PeerMismatch { .. })));
    assert!(failed);
    assert!(session.is_closed());
}

#[test]
fn a_silent_peer_stalls_the_session_after_the_timeout() {
    let (_, mut hub, mut laptop) = two_nodes(14, (20, 2), (1, 1));
    let config = SessionConfig {
        stall_timeout_ms: 30_000,
        ..small_batches()
    };
    let mut pair = Pair::new(&mut laptop, &mut hub, config.clone(), config, DELAY_MS);
    pair.run_frames(4);
    pair.drop_in_flight();
    let last_heard = pair.now_ms;
    // Frames from now on are lost too: the link is down.
    while pair.session_a.poll_timeout().is_some() || pair.session_b.poll_timeout().is_some() {
        pair.drop_in_flight();
        if !pair.step() {
            break;
        }
    }
    for side in [Side::A, Side::B] {
        assert!(
            matches!(pair.failure(side), Some(ProtoError::Stalled { ms: 30_000 })),
            "{side:?}: {:?}",
            pair.failure(side)
        );
    }
    assert!(pair.now_ms >= last_heard + 30_000 && pair.now_ms <= last_heard + 30_000 + RTT_MS);
}

/// Re-delivering any one frame of a session a second time stores nothing
/// extra and moves no checkpoint past its changes; a later session ends in
/// the same state as without the duplicate.
#[test]
fn a_duplicated_frame_changes_nothing() {
    let (_, hub, laptop) = two_nodes(15, (20, 2), (3, 2));
    let config = small_batches();
    let (reference, frames) = {
        let (mut h, mut l) = (hub.clone(), laptop.clone());
        let mut pair = Pair::new(&mut l, &mut h, config.clone(), config.clone(), DELAY_MS);
        pair.run();
        let frames = pair.delivered_to_a.len() + pair.delivered_to_b.len();
        drop(pair);
        (l.store.hashes(), frames)
    };
    for k in 0..frames {
        let (mut h, mut l) = (hub.clone(), laptop.clone());
        {
            let mut pair = Pair::new(&mut l, &mut h, config.clone(), config.clone(), DELAY_MS);
            pair.run_frames(k);
            let (to_a, to_b) = (pair.delivered_to_a.len(), pair.delivered_to_b.len());
            pair.step();
            if pair.delivered_to_a.len() > to_a {
                let frame = pair.delivered_to_a.last().unwrap().clone();
                pair.inject(Side::A, &frame);
            } else if pair.delivered_to_b.len() > to_b {
                let frame = pair.delivered_to_b.last().unwrap().clone();
                pair.inject(Side::B, &frame);
            }
            pair.run();
        }
        assert!(l.store.hashes().is_subset(&reference), "frame {k}");
        assert_checkpoints_sound(&l, &h);
        assert_checkpoints_sound(&h, &l);
        sync_with(&mut l, &mut h, config.clone());
        assert_eq!(l.store.hashes(), reference, "frame {k}");
        assert_converged(&l, &h);
    }
}

/// Live sessions forward a change A → hub → B without a new session.
#[test]
fn live_sessions_forward_through_the_hub() {
    let mut rng = rng(16);
    let mut nodes = vec![
        node_with_records(&mut rng, 5, 2), // hub
        node_with_records(&mut rng, 2, 2), // A
        node_with_records(&mut rng, 2, 2), // B
    ];
    let live = SessionConfig {
        live: true,
        ..SessionConfig::default()
    };
    // (owner, peer, session) for both ends of A–hub and hub–B.
    let mut sessions: Vec<(usize, usize, Session)> = Vec::new();
    for (x, y) in [(1, 0), (0, 2)] {
        for (owner, peer) in [(x, y), (y, x)] {
            let session = Session::new(
                0,
                live.clone(),
                nodes[owner].id(),
                nodes[peer].id(),
                &nodes[owner].store,
            )
            .unwrap();
            sessions.push((owner, peer, session));
        }
    }
    let mut caught_up = 0;
    let mut pump =
        |nodes: &mut Vec<TestNode>, sessions: &mut Vec<(usize, usize, Session)>, now: u64| {
            loop {
                let mut moved = false;
                for i in 0..sessions.len() {
                    while let Some(frame) = sessions[i].2.poll_transmit() {
                        moved = true;
                        let (from, to) = (sessions[i].0, sessions[i].1);
                        let j = sessions
                            .iter()
                            .position(|s| s.0 == to && s.1 == from)
                            .unwrap();
                        let before = nodes[to].store.latest_seq();
                        sessions[j]
                            .2
                            .handle_frame(now, &frame, &mut nodes[to].store);
                        if nodes[to].store.latest_seq() != before {
                            for s in sessions.iter_mut().filter(|s| s.0 == to) {
                                s.2.handle_local_change(now, &nodes[to].store);
                            }
                        }
                    }
                    while let Some(event) = sessions[i].2.poll_event() {
                        match event {
                            Event::CaughtUp(_) => caught_up += 1,
                            Event::Failed(error) => panic!("live session failed: {error}"),
                            Event::Done(_) => panic!("a live session does not end by itself"),
                            _ => {}
                        }
                    }
                }
                if !moved {
                    return;
                }
            }
        };
    pump(&mut nodes, &mut sessions, 0);
    assert!(nodes[1].store.hashes() == nodes[2].store.hashes());
    // Live sessions that caught up wait without a deadline.
    assert!(sessions.iter().all(|s| s.2.poll_timeout().is_none()));
    let change = {
        let doc = nodes[1].store.docs()[0];
        let (a, rng) = (&mut nodes[1], &mut rng);
        loop {
            if let Some(change) = a.edit_household(doc, rng) {
                break change;
            }
        }
    };
    for s in sessions.iter_mut().filter(|s| s.0 == 1) {
        s.2.handle_local_change(1_000, &nodes[1].store);
    }
    pump(&mut nodes, &mut sessions, 1_000);
    assert!(
        nodes[2].store.contains(&change.hash),
        "forwarded to B through the hub"
    );
    assert!(sessions.iter().all(|s| !s.2.is_closed()));
    assert!(caught_up >= 4);
}
