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

/// Leaves out the signature of every change of `changes` that a later
/// change of the same author and record, sent with its signature, reaches
/// through the dependencies `changes` carry. Changes are named by their
/// `hash`, which the caller took from its store.
pub(crate) fn cover(changes: &mut [SignedChange]) {
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
    let mut covered = vec![false; changes.len()];
    // The group whose walk last reached each change: a change reached once
    // is not walked again for that group (what it reaches was reached).
    let mut reached = vec![usize::MAX; changes.len()];
    // Newest first: a change that keeps its signature is one no later kept
    // one covers (a message carries a record's changes in causal order).
    for head in (0..changes.len()).rev() {
        if changes[head].signature.is_none() || covered[head] || reached[head] == group[head] {
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
                    if group[j] == g {
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
