//! The cost of change signatures (issue "Who may read and write"), over
//! the realistic changes of a generated store (see `corpus`), on one thread:
//!
//! 1. changes verified per CPU-second (`SignedChange::verify`: parse the
//!    Automerge change, check its hash, the Ed25519 signature and the
//!    actor), and the parse and the Ed25519 check alone beside it;
//! 2. changes signed per CPU-second (`NodeKey::sign_change`);
//! 3. signature bytes as a share of the bytes on the wire, from the cold and
//!    one-change syncs of the `sync` group;
//! 4. the cold pull's Inline frames for the same changes in protocols 2, 3
//!    (a dependency the frame carries by reference) and 4 (one signature
//!    per author's newest change of a record in a frame), and what a
//!    further step would carry (ARCHITECTURE, "Protocol 3 for cold sync
//!    bytes"): the bodies as each record's whole document
//!    (`Automerge::save`) against change by change, both through zstd as
//!    the wire compresses.

use std::time::Duration;

use danvan_model::SignedChange;
use danvan_node::Node;
use danvan_proto::{Message, SessionConfig, chunk_by_bytes, cover_signatures, encode_message_as};

use crate::figure::{Figure, Figures, Target};
use crate::measure::{ScratchDir, on_cpu};
use crate::sync::{CHANGE_SIGNATURE_CONTEXT, SIGNATURE_BYTES, signed_message, wire_bytes};
use crate::{BenchError, Options, corpus};

const GROUP: &str = "signature";
/// Records of the store whose changes are verified and signed.
const RECORDS: usize = 10_000;

/// Runs the signature group.
pub(crate) fn run(options: &Options) -> Result<Vec<Figure>, BenchError> {
    let scratch = ScratchDir::new(options)?;
    let corpus_dir = corpus::cached_store(options, RECORDS)?;
    let dir = scratch.path().join("store");
    corpus::copy_store(&corpus_dir, &dir)?;
    let node = Node::open(&dir).map_err(|e| format!("open: {e}"))?;
    let changes = node
        .all_changes()
        .map_err(|e| format!("reading changes: {e}"))?;
    // `--quick` verifies a fifth of them: the rate is the same.
    let changes = if options.quick {
        &changes[..changes.len() / 5]
    } else {
        &changes[..]
    };
    let n = changes.len();
    let mean = changes.iter().map(|c| c.body.len()).sum::<usize>() as f64 / n as f64;
    eprintln!("  {n} changes of {RECORDS} generated records, mean body {mean:.0} B");
    let mut figures = Figures::new(GROUP);
    let rate = |figures: &mut Figures, what: &str, unit: &'static str, cpu: Duration| {
        figures.info(
            format!("{what}, {n} changes, one core"),
            n as f64 / cpu.as_secs_f64(),
            unit,
        )
    };

    let (failed, cpu) = on_cpu(|| changes.iter().filter(|c| c.verify().is_err()).count());
    if failed > 0 {
        return Err(format!("{failed} of {n} changes failed verification").into());
    }
    rate(&mut figures, "SignedChange::verify", "changes/s", cpu);

    let (parsed, cpu) = on_cpu(|| {
        changes
            .iter()
            .filter_map(|c| automerge::Change::try_from(c.body.as_slice()).ok())
            .collect::<Vec<_>>()
    });
    rate(
        &mut figures,
        "of which Automerge parse + hash",
        "changes/s",
        cpu,
    );

    let (good, cpu) = on_cpu(|| changes.iter().filter(|c| ed25519_ok(c)).count());
    if good != n {
        return Err(format!(
            "{} signatures do not verify with the context the bench assumes",
            n - good
        )
        .into());
    }
    rate(
        &mut figures,
        "of which Ed25519 verification alone",
        "signatures/s",
        cpu,
    );

    let key = node.key();
    let mut parsed = parsed;
    let (signed, cpu) = on_cpu(|| {
        parsed
            .iter_mut()
            .zip(changes)
            .map(|(p, c)| key.sign_change(&c.doc, p))
            .collect::<Vec<SignedChange>>()
    });
    if signed.iter().zip(changes).any(|(s, c)| s != c) {
        return Err("re-signing a change gave another signature".into());
    }
    rate(&mut figures, "NodeKey::sign_change", "changes/s", cpu);

    let wire = wire_bytes(options)?;
    // Protocol 4 sends a signature per author's newest change of a record
    // in each message: as many as the same changes' Inline frames carry.
    let (_, carried) = inline_frames(changes, 4);
    let sent = wire.cold_changes as f64 * carried as f64 / n as f64;
    let cold_share = 100.0 * sent * SIGNATURE_BYTES as f64 / wire.cold_bytes as f64;
    figures.target(
        format!(
            "signatures, share of the bytes of a cold sync of {} records",
            wire.records
        ),
        cold_share,
        "%",
        Target::Below(15.0),
    );
    figures.target(
        "signature, share of the bytes of a one-change sync",
        100.0 * SIGNATURE_BYTES as f64 / wire.one_change_bytes as f64,
        "%",
        Target::Below(15.0),
    );
    figures.info(
        "signature, share of a mean change body",
        100.0 * SIGNATURE_BYTES as f64 / mean,
        "%",
    );
    whole_documents(changes, &mut figures)?;
    Ok(figures.into_vec())
}

/// Uncompressed bytes per compressed batch, as a cold sync's batches carry.
const BATCH_BYTES: usize = 256 * 1024;

/// The bytes of `items` compressed with zstd at `level` in batches of
/// [`BATCH_BYTES`], as the wire compresses a batch of bodies (the wire's
/// level was 3 when these were first compared; every form here is
/// compressed at the one level passed, so they compare alike).
fn zstd_batches<'a>(
    items: impl Iterator<Item = &'a [u8]>,
    level: i32,
) -> Result<usize, BenchError> {
    let (mut total, mut raw) = (0, Vec::with_capacity(BATCH_BYTES * 2));
    let mut flush = |raw: &mut Vec<u8>| -> Result<(), BenchError> {
        if !raw.is_empty() {
            total += zstd::bulk::compress(raw, level)?.len();
            raw.clear();
        }
        Ok(())
    };
    for item in items {
        raw.extend_from_slice(item);
        if raw.len() >= BATCH_BYTES {
            flush(&mut raw)?;
        }
    }
    flush(&mut raw)?;
    Ok(total)
}

/// Protocol 3's Inline frames against protocol 2's, and what a further step
/// would carry, measured on the same changes: each record's changes applied
/// to one document and saved whole, against the bodies change by change;
/// signatures per record and author against per change.
fn whole_documents(changes: &[SignedChange], figures: &mut Figures) -> Result<(), BenchError> {
    let mut by_doc: std::collections::BTreeMap<_, Vec<&SignedChange>> = Default::default();
    for change in changes {
        by_doc.entry(change.doc).or_default().push(change);
    }
    let mut saved = Vec::with_capacity(by_doc.len());
    let mut heads_signed = 0;
    for doc_changes in by_doc.values() {
        let mut doc = automerge::Automerge::new();
        let parsed = doc_changes
            .iter()
            .map(|c| automerge::Change::try_from(c.body.as_slice()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("parsing a change: {e}"))?;
        doc.apply_changes(parsed)
            .map_err(|e| format!("applying a record's changes: {e}"))?;
        saved.push((doc.save(), doc.save_nocompress()));
        let authors: std::collections::HashSet<_> = doc_changes.iter().map(|c| c.author).collect();
        heads_signed += authors.len();
    }
    let ((v2, _), (v3, _)) = (inline_frames(changes, 2), inline_frames(changes, 3));
    let (v4, v4_signatures) = inline_frames(changes, 4);
    let per_change = zstd_batches(changes.iter().map(|c| c.body.as_slice()), 3)?;
    let whole = zstd_batches(saved.iter().map(|(s, _)| s.as_slice()), 3)?;
    let whole_raw = zstd_batches(saved.iter().map(|(_, s)| s.as_slice()), 3)?;
    // A cold pull could afford a higher level: its bytes and the CPU it costs.
    let (whole_19, cpu_19) = on_cpu(|| zstd_batches(saved.iter().map(|(_, s)| s.as_slice()), 19));
    let whole_19 = whole_19?;
    let (n, docs) = (changes.len(), by_doc.len());
    let mb = |bytes: usize| bytes as f64 / 1e6;
    let signatures = |count: usize| count * SIGNATURE_BYTES as usize;
    eprintln!(
        "  whole documents (not built) and a signature per author (protocol 4): {docs} records, bodies {:.2} MB change by change, {:.2} MB as whole documents ({:.2} MB saved without Automerge's deflate); signatures {:.2} MB per change, {:.2} MB per record and author",
        mb(per_change),
        mb(whole),
        mb(whole_raw),
        mb(signatures(n)),
        mb(signatures(heads_signed))
    );
    let at = format!("{docs} records");
    eprintln!(
        "  Inline frames of a cold pull: protocol 2 {:.2} MB, protocol 3 {:.2} MB (of which signatures {:.2} MB)",
        mb(v2),
        mb(v3),
        mb(signatures(n))
    );
    figures.info(format!("{at}: Inline frames, protocol 2"), mb(v2), "MB");
    figures.info(
        format!("{at}: Inline frames, protocol 3 (dependencies by reference)"),
        mb(v3),
        "MB",
    );
    figures.info(
        format!("{at}: signatures, share of protocol 3's Inline frames"),
        100.0 * signatures(n) as f64 / v3 as f64,
        "%",
    );
    figures.info(
        format!(
            "{at}: Inline frames, protocol 4 (one signature per author's newest change of a record)"
        ),
        mb(v4),
        "MB",
    );
    figures.target(
        format!("{at}: signatures, share of protocol 4's Inline frames"),
        100.0 * signatures(v4_signatures) as f64 / v4 as f64,
        "%",
        Target::Below(15.0),
    );
    figures.info(
        format!("{at}: change bodies alone, change by change (zstd, protocol 2)"),
        mb(per_change),
        "MB",
    );
    figures.info(
        format!("{at}: the same as whole documents (Automerge save, zstd)"),
        mb(whole.min(whole_raw)),
        "MB",
    );
    figures.info(
        format!("{at}: the same, zstd level 19 (a cold pull's option)"),
        mb(whole_19),
        "MB",
    );
    figures.info(
        format!("{at}: CPU of zstd level 19 over those documents"),
        cpu_19.as_secs_f64(),
        "s",
    );
    figures.info(
        format!("{at}: signatures, one per change (protocols 1 to 3)"),
        mb(signatures(n)),
        "MB",
    );
    figures.info(
        format!("{at}: signatures, one per record and author (protocol 4, a record in one frame)"),
        mb(signatures(heads_signed)),
        "MB",
    );
    Ok(())
}

/// The bytes of the Inline frames that carry `changes` in protocol
/// `version`, batched by body bytes as a sender batches them by default.
/// The bytes of a cold pull's Inline frames of `changes` in protocol
/// `version`, and the signatures they carry (from protocol 4, one per
/// author's newest change of a record in each frame).
fn inline_frames(changes: &[SignedChange], version: u8) -> (usize, usize) {
    let batches = chunk_by_bytes(changes.to_vec(), SessionConfig::default().batch_bytes_max);
    let mut seq = 0;
    let (mut bytes, mut signatures) = (0, 0);
    for batch in batches {
        let mut batch: Vec<SignedChange> = batch
            .into_iter()
            .map(|c| {
                let hash = danvan_model::body_hash(&c.body);
                c.with_hash(hash)
            })
            .collect();
        if version >= 4 {
            cover_signatures(&mut batch);
        }
        signatures += batch.iter().filter(|c| c.signature.is_some()).count();
        let from_seq = seq;
        seq += batch.len() as u64;
        let message = Message::Inline {
            from_seq,
            upto_seq: seq,
            changes: batch.into_iter().map(Into::into).collect(),
        };
        bytes += encode_message_as(version, &message).len();
    }
    (bytes, signatures)
}

fn ed25519_ok(c: &SignedChange) -> bool {
    danvan_model::verify_signature(
        &c.author,
        CHANGE_SIGNATURE_CONTEXT,
        &signed_message(c),
        &c.signature.unwrap_or([0; 64]),
    )
}
