//! Protocol 4: one signature per author's newest change of a record in a
//! message.
//!
//! A change's signature is over its record and its hash, and the hash
//! covers the hashes of the changes it depends on, so an author's signed
//! change vouches for every change of that author its history reaches. In
//! a message a sender therefore leaves out the signature of each change
//! that a later signed change of the same author and record in the same
//! message reaches through dependencies the message carries; the receiver
//! walks the same hashes (`danvan_model::verify_group`) and refuses a
//! change without a signature that no such walk reaches.
//!
//! A change held without its own signature (received that way) is sent
//! only in a message that also carries everything from it up to the change
//! covering it: the session keeps such runs whole ([`FeedEntry::proof_seq`]
//! — `danvan_model::FeedEntry`), and never offers one to a peer of an
//! older version, whose decoder reads a signature for every change.

use std::collections::HashMap;

use danvan_model::{DocId, NodeId, SignedChange};

use crate::elide::dep_hashes;
use crate::limits::BATCH_BYTES_MAX;

/// Most body bytes from a change left without its signature to the change
/// covering it, both included. The receiver holds such a change with
/// everything between the two, and sends that run whole in one message of
/// its own (past its batch bound if need be): without a bound on the span,
/// a run could grow at each hop until no message carries it.
pub const COVER_SPAN_BYTES_MAX: usize = BATCH_BYTES_MAX;

/// Leaves out the signature of every change of `changes` that a later
/// change of the same author and record, sent with its signature, reaches
/// through the dependencies `changes` carry: what a protocol-4 sender does
/// to each message. Changes are named by their `hash`, which the caller
/// took from its store.
pub fn cover(changes: &mut [SignedChange]) {
    let at: HashMap<[u8; 32], usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash, i))
        .collect();
    let mut groups: HashMap<(DocId, NodeId), usize> = HashMap::new();
    let group: Vec<usize> = changes
        .iter()
        .map(|c| {
            let next = groups.len();
            *groups.entry((c.doc, c.author)).or_insert(next)
        })
        .collect();
    let mut members = vec![0usize; groups.len()];
    for &g in &group {
        members[g] += 1;
    }
    // Body bytes before each change, for the span of a run.
    let mut before = Vec::with_capacity(changes.len() + 1);
    before.push(0usize);
    for change in changes.iter() {
        before.push(before.last().expect("one") + change.body.len());
    }
    let mut covered = vec![false; changes.len()];
    // The group whose walk last reached each change: a change reached once
    // is not walked again for that group (what it reaches was reached).
    let mut reached = vec![usize::MAX; changes.len()];
    // Newest first: a change that keeps its signature is one no later kept
    // one covers (a message carries a record's changes in causal order).
    for head in (0..changes.len()).rev() {
        // A change alone of its author and record in the message covers
        // nothing: no walk.
        if changes[head].signature.is_none() || covered[head] || members[group[head]] < 2 {
            continue;
        }
        let g = group[head];
        reached[head] = g;
        let mut stack = vec![head];
        while let Some(i) = stack.pop() {
            for dep in dep_hashes(&changes[i].body) {
                if let Some(&j) = at.get(dep)
                    && reached[j] != g
                {
                    reached[j] = g;
                    if group[j] == g
                        && j < head
                        && before[head + 1] - before[j] <= COVER_SPAN_BYTES_MAX
                    {
                        covered[j] = true;
                    }
                    stack.push(j);
                }
            }
        }
    }
    for (change, covered) in changes.iter_mut().zip(covered) {
        if covered {
            change.signature = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use danvan_model::{NodeKey, VerifyingKeys, verify_group};

    use super::*;
    use crate::wire::{Message, WireChange, decode_message, encode_message_as};

    /// Changes of record `doc` made in turn by `writers`, each building on
    /// all before it, signed.
    fn history(doc: u8, writers: &[&NodeKey]) -> Vec<SignedChange> {
        let doc = DocId::from_bytes([doc; 16]);
        let mut am = automerge::Automerge::new();
        writers
            .iter()
            .enumerate()
            .map(|(i, key)| {
                am.set_actor(key.actor(&[1; 8]));
                am.transact::<_, _, automerge::AutomergeError>(|tx| {
                    use automerge::transaction::Transactable;
                    tx.put(automerge::ROOT, "record", i64::from(doc.as_bytes()[0]))?;
                    tx.put(automerge::ROOT, "visits", i as i64)?;
                    Ok(())
                })
                .expect("an edit");
                let mut change = am.get_last_local_change().expect("a change").clone();
                key.sign_change(&doc, &mut change)
            })
            .collect()
    }

    /// Exactly each author's newest change of a record keeps its
    /// signature; the message, encoded in protocol 4 and decoded, verifies
    /// whole, and is 64 bytes a left-out signature smaller before
    /// compression than in protocol 3.
    #[test]
    fn each_authors_newest_change_of_a_record_keeps_its_signature_and_all_verify() {
        let (a, b) = (NodeKey::from_secret([7; 32]), NodeKey::from_secret([8; 32]));
        let mut changes = history(1, &[&a, &a, &a]);
        changes.extend(history(2, &[&a, &b, &a]));
        changes.extend(history(3, &[&b]));
        let mut covered = changes.clone();
        cover(&mut covered);
        let signed: Vec<bool> = covered.iter().map(|c| c.signature.is_some()).collect();
        assert_eq!(
            signed,
            [false, false, true, false, true, true, true],
            "record 1: its newest; record 2: b's only change and a's newest; record 3"
        );
        // Only signatures were left out.
        for (before, after) in changes.iter().zip(&covered) {
            assert_eq!((before.hash, &before.body), (after.hash, &after.body));
        }
        let wire = |changes: &[SignedChange]| Message::Inline {
            from_seq: 0,
            upto_seq: 7,
            changes: changes.iter().cloned().map(WireChange::from).collect(),
        };
        let frame = encode_message_as(4, &wire(&covered));
        let Message::Inline { changes: got, .. } = decode_message(&frame).expect("decodes") else {
            panic!("an Inline");
        };
        let got: Vec<SignedChange> = got
            .into_iter()
            .map(|c| {
                let hash = danvan_model::body_hash(&c.body);
                c.with_hash(hash)
            })
            .collect();
        assert_eq!(got, covered);
        let mut keys = VerifyingKeys::default();
        for doc in 1..=3u8 {
            let group: Vec<SignedChange> = got
                .iter()
                .filter(|c| c.doc == DocId::from_bytes([doc; 16]))
                .cloned()
                .collect();
            for verdict in verify_group(&group, &mut keys) {
                verdict.expect("every change stands");
            }
        }
        // Not across more than COVER_SPAN_BYTES_MAX bytes: a receiver
        // sends what lies between whole, and that must not grow per hop.
        let mut am = automerge::Automerge::new().with_actor(a.actor(&[1; 8]));
        let big: Vec<SignedChange> = (0..2)
            .map(|i| {
                am.transact::<_, _, automerge::AutomergeError>(|tx| {
                    use automerge::transaction::Transactable;
                    let text = format!("{i}").repeat(COVER_SPAN_BYTES_MAX / 2 + 1);
                    tx.put(automerge::ROOT, "text", text)?;
                    Ok(())
                })
                .expect("an edit");
                let mut change = am.get_last_local_change().expect("a change").clone();
                a.sign_change(&DocId::from_bytes([4; 16]), &mut change)
            })
            .collect();
        let mut apart = big.clone();
        cover(&mut apart);
        assert!(
            apart.iter().all(|c| c.signature.is_some()),
            "spans more than the bound"
        );
        // A message cut between a record's changes: each part keeps the
        // newest signature it carries.
        let mut first_two = changes[..2].to_vec();
        cover(&mut first_two);
        assert_eq!(
            first_two
                .iter()
                .map(|c| c.signature.is_some())
                .collect::<Vec<_>>(),
            [false, true]
        );
    }
}
