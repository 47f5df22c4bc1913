//! The cost of change signatures (issue "Who may read and write"), over
//! the realistic changes of a generated store (see `corpus`), on one thread:
//!
//! 1. changes verified per CPU-second (`SignedChange::verify`: parse the
//!    Automerge change, check its hash, the Ed25519 signature and the
//!    actor), and the parse and the Ed25519 check alone beside it;
//! 2. changes signed per CPU-second (`NodeKey::sign_change`);
//! 3. signature bytes as a share of the bytes on the wire, from the cold and
//!    one-change syncs of the `sync` group.

use std::time::Duration;

use danvan_model::SignedChange;
use danvan_node::Node;

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
    let cold_share = 100.0 * (wire.cold_changes * SIGNATURE_BYTES) as f64 / wire.cold_bytes as f64;
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
    Ok(figures.into_vec())
}

fn ed25519_ok(c: &SignedChange) -> bool {
    danvan_model::verify_signature(
        &c.author,
        CHANGE_SIGNATURE_CONTEXT,
        &signed_message(c),
        &c.signature,
    )
}
