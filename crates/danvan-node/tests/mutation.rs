//! Property test: valid signed messages — record changes (creations and
//! edits of real records), signed rosters and invites — mutated at random
//! (bit flips, byte changes, truncation, extension, splices of random bytes
//! or of fields of other valid messages, signatures made again by another
//! key or for another record). Every mutation that changes the message is
//! refused, by the checks a node runs on what it receives: for changes
//! `SignedChange::verify` and then `Store::apply_changes`; for rosters
//! `accept_successor` (as `Store::install_roster`, handovers and successor rosters included); for invites
//! `Invite::decode`. No un-mutated message is refused.
//!
//! Seeded and reproducible: `DANVAN_MUTATION_SEED=<n>` picks another seed,
//! `DANVAN_MUTATIONS=<n>` the number of mutations per message kind.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use automerge::ROOT;
use automerge::transaction::Transactable;
use danvan_model::{
    ChangeError, DocId, Invite, Kind, NodeId, NodeKey, RosterError, SignedChange, SignedRoster,
    StageEvent, Visit, accept_successor, vocab,
};

use common::*;

const SEED: u64 = 0x00da_4a40_5eed;

/// The seed of one test (the run's seed with the test's own `stream` bits
/// flipped, so the tests draw different sequences) and its generator.
fn seeded(stream: u64) -> (u64, Rng) {
    let seed = seed() ^ stream;
    (seed, Rng(seed))
}

fn seed() -> u64 {
    std::env::var("DANVAN_MUTATION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED)
}

fn count(default: usize) -> usize {
    std::env::var("DANVAN_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn put(
    key: &'static str,
    value: impl Into<automerge::ScalarValue>,
) -> impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), String> {
    let value = value.into();
    move |tx| tx.put(ROOT, key, value).map_err(|e| e.to_string())
}

/// Valid changes in causal order: creations and edits of an activity, a
/// petition, a household case and a task, by writers the roster allows.
fn valid_changes(keys: &Keys) -> Vec<SignedChange> {
    let officer = Writer::new(&keys.officer);
    let field = Writer::new(&keys.field);
    let town = Writer::new(&keys.town_writer);
    let mut out = Vec::new();

    let d = doc_id(1);
    let (mut am, c) = officer.create_own(activity, Kind::Activity, d, UNIT, None);
    out.push(c);
    out.push(officer.edit(d, &mut am, put("title", "Đối thoại với hộ dân thôn 3")));
    out.push(officer.edit(d, &mut am, put("attendance", 55_i64)));

    let d = doc_id(2);
    let (mut am, c) = officer.create_own(petition, Kind::Petition, d, UNIT, None);
    out.push(c);
    out.push(officer.edit(d, &mut am, put("status", vocab::PETITION_IN_PROGRESS)));

    let d = doc_id(3);
    let (mut am, c) = field.create_own(household, Kind::Household, d, UNIT, Some(PROJECT));
    out.push(c);
    let node = keys.field.id().to_string();
    let visit = Visit {
        date: "2023-08-10".into(),
        by: "Tổ công tác số 2".into(),
        outcome: "Hộ đồng ý nhận tiền bồi thường".into(),
        node: node.clone(),
    };
    out.push(field.edit(d, &mut am, move |tx| {
        danvan_model::append_visit(tx, visit).map_err(|e| e.to_string())
    }));
    let event = StageEvent {
        stage: vocab::STAGE_AGREED.into(),
        from: vocab::STAGE_INVENTORIED.into(),
        backwards: false,
        date: "2023-08-11".into(),
        by: "Tổ công tác số 2".into(),
        node,
    };
    out.push(field.edit(d, &mut am, move |tx| {
        danvan_model::move_stage(tx, vocab::STAGE_INVENTORIED, event).map_err(|e| e.to_string())
    }));

    let d = doc_id(4);
    let (mut am, c) = town.create_own(task, Kind::Task, d, TOWN, None);
    out.push(c);
    out.push(town.edit(d, &mut am, put("due", "2024-03-31")));
    out
}

/// The fields of a signed change laid end to end, for byte-level mutation.
const FIXED: usize = 16 + 32 + 64 + 32;

fn to_bytes(c: &SignedChange) -> Vec<u8> {
    [
        &c.doc.as_bytes()[..],
        c.author.as_bytes(),
        &c.signature.unwrap_or([0; 64]),
        &c.hash,
        &c.body,
    ]
    .concat()
}

fn from_bytes(bytes: &[u8]) -> Option<SignedChange> {
    if bytes.len() < FIXED {
        return None;
    }
    Some(SignedChange {
        doc: DocId::from_bytes(bytes[..16].try_into().ok()?),
        author: NodeId::from_bytes(bytes[16..48].try_into().ok()?),
        signature: Some(bytes[48..112].try_into().ok()?),
        hash: bytes[112..144].try_into().ok()?,
        body: bytes[FIXED..].to_vec(),
    })
}

/// A random byte range of `len` bytes (possibly empty).
fn range(rng: &mut Rng, len: usize) -> std::ops::Range<usize> {
    let start = rng.below(len + 1);
    let end = start + rng.below(len - start + 1).min(64);
    start..end
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.byte()).collect()
}

/// One random mutation of `originals[i]`, and what it did.
fn mutate_change(
    rng: &mut Rng,
    originals: &[SignedChange],
    i: usize,
    keys: &[&NodeKey],
) -> (SignedChange, String) {
    let original = &originals[i];
    let other = &originals[rng.below(originals.len())];
    let mut c = original.clone();
    let how = rng.below(12);
    let what = match how {
        0..=2 => {
            // Bit flips anywhere: fields and body.
            let mut bytes = to_bytes(&c);
            let flips = if how == 2 { 2 + rng.below(7) } else { 1 };
            let mut at = Vec::new();
            for _ in 0..flips {
                let bit = rng.below(bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
                at.push(bit);
            }
            c = from_bytes(&bytes).expect("same length");
            format!("flip bits {at:?}")
        }
        3 => {
            let mut bytes = to_bytes(&c);
            let i = rng.below(bytes.len());
            bytes[i] = rng.byte();
            c = from_bytes(&bytes).expect("same length");
            format!("set byte {i} to {}", bytes[i])
        }
        4 => {
            let n = rng.below(c.body.len());
            c.body.truncate(n);
            format!("truncate body to {n}")
        }
        5 => {
            let n = 1 + rng.below(32);
            let extra = random_bytes(rng, n);
            c.body.extend_from_slice(&extra);
            format!("extend body by {n}")
        }
        6 => {
            let r = range(rng, c.body.len());
            let n = rng.below(48);
            let with = random_bytes(rng, n);
            c.body.splice(r.clone(), with);
            format!("splice {n} random bytes over body {r:?}")
        }
        7 => {
            // A part of another valid change's body.
            let from = range(rng, other.body.len());
            let to = range(rng, c.body.len());
            c.body
                .splice(to.clone(), other.body[from.clone()].iter().copied());
            format!("splice other body {from:?} over {to:?}")
        }
        8 => {
            // A whole field of another valid change.
            match rng.below(5) {
                0 => c.doc = other.doc,
                1 => c.author = other.author,
                2 => c.signature = other.signature,
                3 => c.hash = other.hash,
                _ => c.body = other.body.clone(),
            }
            "field from another change".to_string()
        }
        9 => {
            // Another member signs the very same change.
            let key = keys[rng.below(keys.len())];
            let mut parsed = automerge::Change::try_from(c.body.as_slice()).expect("valid");
            c = key.sign_change(&c.doc, &mut parsed);
            format!("signed again by {}", key.id().short())
        }
        10 => {
            // The same change in Automerge's compressed encoding (for
            // bodies over 256 bytes): it hashes the same.
            let mut parsed = automerge::Change::try_from(c.body.as_slice()).expect("valid");
            c.body = parsed.bytes().to_vec();
            "compressed encoding".to_string()
        }
        _ => {
            // The author signs it again for another record.
            let key = keys
                .iter()
                .find(|k| k.id() == c.author)
                .expect("the author's key");
            let mut doc = *c.doc.as_bytes();
            doc[rng.below(16)] ^= 1 << rng.below(8);
            let doc = if rng.below(2) == 0 {
                DocId::from_bytes(doc)
            } else {
                other.doc
            };
            let mut parsed = automerge::Change::try_from(c.body.as_slice()).expect("valid");
            c = key.sign_change(&doc, &mut parsed);
            "signed again by its author for another record".to_string()
        }
    };
    (c, what)
}

fn reason_class(e: &ChangeError) -> &'static str {
    match e {
        ChangeError::Malformed(_) => "malformed",
        ChangeError::HashMismatch => "hash",
        ChangeError::BadSignature(_) => "signature",
        ChangeError::Uncovered(_) => "uncovered",
        ChangeError::ActorMismatch(_) => "actor",
        ChangeError::MissingDeps => "deps",
        ChangeError::DuplicateSeq(_) => "duplicate-seq",
        ChangeError::NotCreation => "not-creation",
        ChangeError::Header(_) => "header",
        ChangeError::Denied(_) => "denied",
    }
}

#[test]
fn mutated_changes_are_refused() {
    let started = Instant::now();
    let (seed, mut rng) = seeded(0);
    let keys = Keys::new();
    let signers = [
        &keys.officer,
        &keys.field,
        &keys.town_writer,
        &keys.other_officer,
        &keys.viewer,
        &keys.stranger,
    ];
    let originals = valid_changes(&keys);
    for c in &originals {
        c.verify().expect("an un-mutated change verifies");
    }
    let roster = signed_roster(&keys, 1, &[]);
    let tmp = TempDir::new("mutation");
    // The receiving node, in its own data directory `name`.
    let victim = |name: &str| {
        node(
            &tmp.sub(name),
            &keys.victim,
            UNIT,
            &keys.authority.id(),
            roster.bytes(),
        )
    };

    // The un-mutated changes are all stored.
    let mut store = victim("all");
    let report = store
        .store_mut()
        .apply_changes(None, &originals, None)
        .expect("applying");
    assert_eq!(
        (report.new, report.rejected.len()),
        (originals.len(), 0),
        "{:?}",
        report.rejected
    );

    let n = count(12_000);
    let mut refused: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unchanged = 0;
    // Mutants that pass verification, by the original they came from.
    let mut passed_verify: BTreeMap<usize, Vec<(SignedChange, String)>> = BTreeMap::new();
    for case in 0..n {
        let i = rng.below(originals.len());
        let (mutant, what) = mutate_change(&mut rng, &originals, i, &signers);
        if originals.contains(&mutant) {
            unchanged += 1;
            assert!(
                mutant.verify().is_ok(),
                "seed {seed} case {case}: an un-mutated change is refused ({what})"
            );
            continue;
        }
        match mutant.verify() {
            Err(e) => *refused.entry(reason_class(&e)).or_default() += 1,
            Ok(_) => passed_verify
                .entry(i)
                .or_default()
                .push((mutant, format!("case {case}: {what}"))),
        }
    }

    // What passes verification is refused by the store, even by a store
    // that holds everything before the original but not the original: the
    // mutants of one original go in batches where no hash repeats (a
    // repeated hash would be skipped as already seen).
    let mut by_store = 0;
    for (&i, mutants) in &passed_verify {
        let mut node = victim(&format!("before-{i}"));
        let prefix = node
            .store_mut()
            .apply_changes(None, &originals[..i], None)
            .expect("applying");
        assert_eq!(prefix.new, i);
        let mut layers: Vec<Vec<&(SignedChange, String)>> = Vec::new();
        for mutant in mutants {
            match layers
                .iter_mut()
                .find(|l| l.iter().all(|(c, _)| c.hash != mutant.0.hash))
            {
                Some(layer) => layer.push(mutant),
                None => layers.push(vec![mutant]),
            }
        }
        for layer in layers {
            let batch: Vec<SignedChange> = layer.iter().map(|(c, _)| c.clone()).collect();
            let report = node
                .store_mut()
                .apply_changes(None, &batch, None)
                .expect("applying");
            let stored: Vec<&String> = layer
                .iter()
                .filter(|(c, _)| report.rejected.iter().all(|r| r.hash != c.hash))
                .map(|(_, what)| what)
                .take(5)
                .collect();
            assert_eq!(
                (report.new, report.rejected.len()),
                (0, batch.len()),
                "seed {seed}: mutants of change {i} that pass verification are taken by the \
                 store, e.g. {stored:?}"
            );
            by_store += batch.len();
            for r in &report.rejected {
                *refused.entry(reason_class(&r.reason)).or_default() += 1;
            }
        }
        assert_eq!(node.store().counts().expect("counting").1, i as u64);
    }
    println!(
        "{n} mutated changes (seed {seed}) in {:.1} s: {unchanged} left the change as it was \
         (accepted); refused {refused:?}; {} passed the signature check and were refused by \
         the store",
        started.elapsed().as_secs_f64(),
        by_store
    );
}

/// One random mutation of the bytes of a signed message.
fn mutate_bytes(rng: &mut Rng, bytes: &[u8], other: &[u8]) -> (Vec<u8>, String) {
    let mut b = bytes.to_vec();
    let what = match rng.below(7) {
        0 | 1 => {
            let flips = 1 + rng.below(3);
            for _ in 0..flips {
                let bit = rng.below(b.len() * 8);
                b[bit / 8] ^= 1 << (bit % 8);
            }
            format!("{flips} bit flips")
        }
        2 => {
            let i = rng.below(b.len());
            b[i] = rng.byte();
            format!("set byte {i}")
        }
        3 => {
            let n = rng.below(b.len());
            b.truncate(n);
            format!("truncate to {n}")
        }
        4 => {
            let n = 1 + rng.below(32);
            let extra = random_bytes(rng, n);
            b.extend_from_slice(&extra);
            format!("extend by {n}")
        }
        5 => {
            let r = range(rng, b.len());
            let n = rng.below(48);
            let with = random_bytes(rng, n);
            b.splice(r.clone(), with);
            format!("splice {n} random bytes over {r:?}")
        }
        _ => {
            let from = range(rng, other.len());
            let to = range(rng, b.len());
            b.splice(to.clone(), other[from.clone()].iter().copied());
            format!("splice other {from:?} over {to:?}")
        }
    };
    (b, what)
}

#[test]
fn mutated_rosters_are_refused() {
    let started = Instant::now();
    let (seed, mut rng) = seeded(0x0f);
    let keys = Keys::new();
    let authority = keys.authority.id();
    let mut originals: Vec<Vec<u8>> = (1..=3)
        .map(|v| signed_roster(&keys, v, &[[0x42; 32], [0x43; 32]][..(v as usize - 1)]))
        .map(|r| r.bytes().to_vec())
        .collect();
    // A handover naming a successor, and the successor's roster carrying
    // it: both accepted from the town's key, so every byte of the
    // successor field and of the carried roster is mutated too.
    let successor = NodeKey::from_secret([0x77; 32]);
    let mut handover = common::roster(&keys, 4, &[]);
    handover.successor = Some(successor.id().to_string());
    let handover = SignedRoster::sign(&keys.authority, &handover).expect("the handover is valid");
    let mut carried = common::roster(&keys, 5, &[]);
    carried
        .carry_handover(&handover)
        .expect("carrying the handover");
    let carried = SignedRoster::sign(&successor, &carried).expect("the successor's roster");
    originals.extend([handover.bytes().to_vec(), carried.bytes().to_vec()]);
    let accept = |bytes: &[u8]| accept_successor(&authority, None, bytes);
    for bytes in &originals {
        accept(bytes).expect("an un-mutated roster is accepted");
    }
    let n = count(5_000);
    let mut refused: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unchanged = 0;
    for case in 0..n {
        let original = &originals[rng.below(originals.len())];
        let (mutant, what) = if rng.below(10) == 0 {
            // The same content, signed by another key.
            let mut content = SignedRoster::decode(original)
                .expect("valid")
                .roster()
                .clone();
            let key = NodeKey::from_secret([rng.byte() | 0x80; 32]);
            // A carried handover must name its carrier: another key signs
            // the rest.
            content.handovers.clear();
            let bytes = SignedRoster::sign(&key, &content)
                .expect("signing")
                .bytes()
                .to_vec();
            (bytes, "signed by another key".to_string())
        } else {
            let other = &originals[rng.below(originals.len())];
            mutate_bytes(&mut rng, original, other)
        };
        if originals.contains(&mutant) {
            unchanged += 1;
            assert!(
                accept(&mutant).is_ok(),
                "seed {seed} case {case}: an un-mutated roster is refused ({what})"
            );
            continue;
        }
        match accept(&mutant) {
            Ok(r) => panic!(
                "seed {seed} case {case}: a mutated roster (version {}) is accepted: {what}",
                r.version()
            ),
            Err(e) => {
                let class = match e {
                    RosterError::Malformed(_) => "malformed",
                    RosterError::TooLarge(_) => "too-large",
                    RosterError::BadSignature => "signature",
                    RosterError::WrongAuthority { .. } => "wrong-authority",
                    RosterError::NotNewer { .. } => "not-newer",
                    RosterError::Invalid(_) => "invalid",
                };
                *refused.entry(class).or_default() += 1;
            }
        }
    }
    println!(
        "{n} mutated rosters (seed {seed}) in {:.1} s: {unchanged} unchanged (accepted); refused {refused:?}",
        started.elapsed().as_secs_f64()
    );
}

/// The text an invite decodes from once copying noise is removed.
fn canonical(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

#[test]
fn mutated_invites_are_refused() {
    let started = Instant::now();
    let (seed, mut rng) = seeded(0xf0);
    let keys = Keys::new();
    let invites: Vec<Invite> = ["10.0.0.5:7700", "[fd00::17]:7700", "192.168.1.20:65535"]
        .iter()
        .zip([&keys.victim, &keys.field, &keys.viewer])
        .map(|(addr, node)| Invite {
            hub_addr: addr.to_string(),
            hub: keys.hub.id(),
            authority: keys.authority.id(),
            node: node.id(),
        })
        .collect();
    let texts: Vec<String> = invites.iter().map(Invite::encode).collect();
    const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let n = count(10_000);
    let (mut unchanged, mut refused) = (0, 0);
    for case in 0..n {
        let i = rng.below(texts.len());
        let mut chars: Vec<char> = texts[i].chars().collect();
        let at = rng.below(chars.len());
        let what = match rng.below(9) {
            0 => {
                let bit = rng.below(7);
                chars[at] = char::from(chars[at] as u8 ^ (1 << bit));
                format!("flip bit {bit} of char {at}")
            }
            1 => {
                chars[at] = char::from(BASE32[rng.below(32)]);
                format!("replace char {at}")
            }
            2 => {
                chars.remove(at);
                format!("delete char {at}")
            }
            3 => {
                chars.insert(at, char::from(BASE32[rng.below(32)]));
                format!("insert a char at {at}")
            }
            4 => {
                chars.truncate(at);
                format!("truncate to {at}")
            }
            5 => {
                let n = 1 + rng.below(8);
                chars.extend((0..n).map(|_| char::from(BASE32[rng.below(32)])));
                format!("extend by {n}")
            }
            6 => {
                let j = (at + 1).min(chars.len() - 1);
                chars.swap(at, j);
                format!("swap chars {at} and {j}")
            }
            7 => {
                // Copying noise: case and spaces do not change the invite.
                chars[at] = chars[at].to_ascii_uppercase();
                chars.insert(rng.below(chars.len() + 1), [' ', '\n', '\t'][rng.below(3)]);
                "upper case and a space".to_string()
            }
            _ => {
                let other: Vec<char> = texts[rng.below(texts.len())].chars().collect();
                let from = range(&mut rng, other.len());
                let to = range(&mut rng, chars.len());
                chars.splice(to.clone(), other[from.clone()].iter().copied());
                format!("splice other {from:?} over {to:?}")
            }
        };
        let mutant: String = chars.into_iter().collect();
        let decoded = Invite::decode(&mutant);
        match texts.iter().position(|t| *t == canonical(&mutant)) {
            Some(j) => {
                unchanged += 1;
                assert_eq!(
                    decoded.as_ref(),
                    Ok(&invites[j]),
                    "seed {seed} case {case}: an un-mutated invite is refused ({what}): {mutant:?}"
                );
            }
            None => {
                assert!(
                    decoded.is_err(),
                    "seed {seed} case {case}: a mutated invite is accepted ({what}): {mutant:?} → {decoded:?}"
                );
                refused += 1;
            }
        }
    }
    println!(
        "{n} mutated invites (seed {seed}) in {:.1} s: {unchanged} unchanged (accepted), {refused} refused",
        started.elapsed().as_secs_f64()
    );
}
