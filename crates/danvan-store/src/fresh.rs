//! A received document the store holds nothing of, built whole off the
//! committing thread (issue 13): its changes admitted by the model's rules
//! and applied in one call, its projection row and (when due) snapshot
//! computed by the caller's verifying thread, so that storing it is SQLite
//! inserts alone. The store still decides, inside its transaction: it takes
//! the build only when it holds nothing of the document and none of its
//! changes, and the roster admits every change the rules let in; otherwise
//! the changes take the one-at-a-time way (`Store::apply_incoming`), which
//! decides each of them exactly as before.

use std::collections::HashSet;

use danvan_model::{ChangeError, DocHeader, DocId, DocScope, NodeId, Rejection, SignedChange};
use rusqlite::{Connection, params};

use crate::access;
use crate::changes::{Incoming, Parsed, actor_epoch, insert_change, parse};
use crate::documents::snapshot_due;
use crate::error::StoreError;
use crate::projection::{ProjectionRow, SearchRows, write_rows};

/// A document built whole from its received changes ([`build_new`]).
#[derive(Debug)]
pub struct NewDoc {
    doc: DocId,
    /// The changes as received, in order.
    changes: Vec<SignedChange>,
    /// For each, the change covering it when it came without a signature.
    covered: Vec<Option<[u8; 32]>>,
    /// What the model's rules decided for each, in the same order.
    verdicts: Vec<Verdict>,
    /// The header the creation wrote (none when no change was admitted).
    header: Option<DocHeader>,
    /// The projection row, when the built document reads as a record.
    projection: Option<ProjectionRow>,
    /// The document saved, when a document of this many changes gets a
    /// snapshot (`after_write`'s rule).
    snapshot: Option<Vec<u8>>,
}

#[derive(Debug)]
enum Verdict {
    /// The same change earlier in the list.
    Duplicate,
    /// Refused by the rules (or unreadable).
    Refused(ChangeError),
    /// Admitted by the rules; its actor's epoch.
    Admitted([u8; 8]),
}

/// Builds a document from its received changes (verified, in the order
/// received) as if the store held nothing of it: a [`Incoming::New`] for
/// [`crate::Store::apply_incoming`], or, when the build cannot stand for the
/// one-at-a-time way (applying the admitted changes together failed), the
/// changes as an [`Incoming::Doc`]. Pure: reads no store, so a receiver
/// runs it on its verifying thread.
pub fn build_new(doc: DocId, changes: Vec<Parsed>) -> Incoming {
    let mut seen = HashSet::new();
    let mut signed = Vec::with_capacity(changes.len());
    let mut input = Vec::with_capacity(changes.len());
    // The index in `signed` of each change handed to the rules.
    let mut judged = Vec::with_capacity(changes.len());
    let mut covered = Vec::with_capacity(changes.len());
    for Parsed {
        signed: change,
        parsed,
        creation,
        covered_by,
    } in changes
    {
        if seen.insert(change.hash) {
            judged.push(signed.len());
            input.push((parsed, creation));
        }
        signed.push(change);
        covered.push(covered_by);
    }
    // A panic in Automerge while building (the one-at-a-time way catches
    // those it can) must not end the caller's verifying thread, which
    // would end its batch short: the changes then go the one-at-a-time way.
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build(&doc, &signed, &judged, input)
    }));
    match built {
        Ok(Some((verdicts, header, projection, snapshot))) => Incoming::New(Box::new(NewDoc {
            doc,
            changes: signed,
            covered,
            verdicts,
            header,
            projection,
            snapshot,
        })),
        _ => Incoming::Doc(doc, parse_each(signed, covered)),
    }
}

/// Changes handed back to the one-at-a-time way, each with what covers it.
fn parse_each(changes: Vec<SignedChange>, covered: Vec<Option<[u8; 32]>>) -> Vec<Parsed> {
    changes
        .into_iter()
        .zip(covered)
        .map(|(c, by)| parse(c, by))
        .collect()
}

/// What [`build_new`] hands over: a verdict per change, the header, the
/// projection row and the snapshot.
type Built = (
    Vec<Verdict>,
    Option<DocHeader>,
    Option<ProjectionRow>,
    Option<Vec<u8>>,
);

/// [`build_new`]'s work: `None` when the build cannot stand for the
/// one-at-a-time way.
fn build(
    doc: &DocId,
    signed: &[SignedChange],
    judged: &[usize],
    input: Vec<ParsedBody>,
) -> Option<Built> {
    let epochs: Vec<Option<[u8; 8]>> = input
        .iter()
        .map(|(parsed, _)| parsed.as_ref().ok().and_then(|c| actor_epoch(c).ok()))
        .collect();
    let built = danvan_model::admit_new(
        judged
            .iter()
            .zip(input)
            .map(|(i, (parsed, creation))| (&signed[*i], parsed, creation)),
    )?;
    let mut verdicts: Vec<Verdict> = signed.iter().map(|_| Verdict::Duplicate).collect();
    for ((i, epoch), verdict) in judged.iter().zip(epochs).zip(built.verdicts) {
        verdicts[*i] = match verdict {
            Err(reason) => Verdict::Refused(reason),
            // An admitted change whose actor is not a node key and epoch:
            // the one-at-a-time way reports the damage.
            Ok(()) => Verdict::Admitted(epoch?),
        };
    }
    let admitted = verdicts
        .iter()
        .filter(|v| matches!(v, Verdict::Admitted(_)))
        .count() as i64;
    let projection = danvan_model::read_record_and_conflicts(&built.doc)
        .ok()
        .map(|(record, conflicts)| ProjectionRow::of(doc, &record, conflicts as i64));
    let snapshot = snapshot_due(admitted, &built.doc).then(|| built.doc.save());
    Some((verdicts, built.header, projection, snapshot))
}

/// A change's parse and, for a change without dependencies, what it
/// creates (see [`Parsed`]).
type ParsedBody = (
    Result<automerge::Change, ChangeError>,
    Option<Result<danvan_model::Admitted, ChangeError>>,
);

/// What storing a built document did.
pub(crate) enum Taken {
    /// Stored (or refused) from the build.
    Stored,
    /// Not taken: the changes, to go the one-at-a-time way.
    Declined(DocId, Vec<Parsed>),
}

/// Stores a built document if the store holds nothing of it or of its
/// changes (nor did an earlier item of this transaction: `seen`) and
/// `allow` (the roster and this node's read scope) admits every change the
/// rules let in; each change refused by the rules is audited and reported.
/// Otherwise nothing is written and the changes are handed back.
pub(crate) fn store_new(
    tx: &Connection,
    new: NewDoc,
    seen: &mut HashSet<[u8; 32]>,
    source: Option<(&NodeId, [u8; 8])>,
    allow: impl Fn(&SignedChange, &DocScope<'_>) -> Result<(), ChangeError>,
    report: &mut danvan_model::ApplyReport,
    search: &mut SearchRows,
) -> Result<Taken, StoreError> {
    let key = new.doc.as_bytes().to_vec();
    let held: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM documents WHERE doc = ?1)
                 OR EXISTS (SELECT 1 FROM changes WHERE doc = ?1)",
        )?
        .query_row(params![key], |r| r.get(0))?;
    let mut declined = held;
    if !declined {
        let mut exists = tx.prepare_cached("SELECT 1 FROM changes WHERE hash = ?1")?;
        for (change, verdict) in new.changes.iter().zip(&new.verdicts) {
            if matches!(verdict, Verdict::Duplicate) {
                continue;
            }
            if seen.contains(&change.hash) || exists.exists(params![change.hash.to_vec()])? {
                declined = true;
                break;
            }
            if let (Verdict::Admitted(_), Some(header)) = (verdict, &new.header)
                && allow(change, &header.scope()).is_err()
            {
                declined = true;
                break;
            }
        }
    }
    if declined {
        return Ok(Taken::Declined(
            new.doc,
            parse_each(new.changes, new.covered),
        ));
    }
    let mut stored = 0;
    let mut last_seq = 0;
    for ((change, verdict), covered_by) in new.changes.iter().zip(new.verdicts).zip(&new.covered) {
        match verdict {
            Verdict::Duplicate => report.duplicate += 1,
            Verdict::Admitted(epoch) => {
                seen.insert(change.hash);
                insert_change(tx, change, *covered_by, Some(epoch), source)?;
                last_seq = tx.last_insert_rowid();
                stored += 1;
            }
            Verdict::Refused(reason) => {
                seen.insert(change.hash);
                access::audit_rejection(
                    tx,
                    source.map(|s| s.0),
                    &change.hash,
                    &change.author,
                    Some(&new.doc),
                    &reason,
                )?;
                report.rejected.push(Rejection {
                    hash: change.hash,
                    author: change.author,
                    doc: new.doc,
                    reason,
                });
            }
        }
    }
    if stored == 0 {
        return Ok(Taken::Stored);
    }
    report.new += stored;
    report.documents += 1;
    let projection = new.projection;
    tx.prepare_cached(
        "INSERT INTO documents (doc, kind, unit, project, snapshot, snapshot_seq, pending)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        key,
        projection.as_ref().map(|p| &p.kind),
        projection.as_ref().map(|p| &p.unit),
        projection.as_ref().and_then(|p| p.project.as_ref()),
        new.snapshot,
        if new.snapshot.is_some() { last_seq } else { 0 },
        if new.snapshot.is_some() {
            0
        } else {
            stored as i64
        },
    ])?;
    if let Some(row) = projection {
        write_rows(tx, &key, row, Some(search))?;
    }
    Ok(Taken::Stored)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use danvan_model::{Activity, Header, Kind, NodeKey, Record, vocab};

    /// A new activity made by `key`: its creation and one edit, signed.
    pub(crate) fn record(key: &NodeKey, doc: DocId) -> Vec<SignedChange> {
        let record = Record::Activity(Activity {
            header: Header {
                id: doc.to_string(),
                kind: Kind::Activity.code().into(),
                unit: "pho-minh".into(),
                project: None,
                schema: danvan_model::SCHEMA_VERSION,
                creator: key.id().to_string(),
                created_at: 1_690_000_000_000,
            },
            activity_type: vocab::ACTIVITY_RECEPTION.into(),
            date: "2025-08-03".into(),
            title: "Tiếp công dân định kỳ".into(),
            place: None,
            organizers: None,
            attendance: None,
            citizens: None,
            matters: None,
            summary: None,
            results: None,
            petitions: Vec::new(),
            tasks: Vec::new(),
        });
        let mut am = automerge::Automerge::new().with_actor(key.actor(&[1; 8]));
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            danvan_model::write_new(tx, &record).expect("writing the record");
            Ok(())
        })
        .expect("the creation");
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, "title", "Họp dân khu phố")?;
            Ok(())
        })
        .expect("the edit");
        am.get_changes(&[])
            .into_iter()
            .map(|mut c| key.sign_change(&doc, &mut c))
            .collect()
    }

    fn parsed(changes: &[SignedChange]) -> Vec<Parsed> {
        changes.iter().cloned().map(|c| parse(c, None)).collect()
    }

    #[test]
    fn a_new_document_is_built_whole_with_its_projection() {
        let key = NodeKey::from_secret([6; 32]);
        let doc = DocId::from_bytes([9; 16]);
        let changes = record(&key, doc);
        let Incoming::New(new) = build_new(doc, parsed(&changes)) else {
            panic!("a new document is built whole");
        };
        assert!(
            new.verdicts
                .iter()
                .all(|v| matches!(v, Verdict::Admitted(e) if *e == [1; 8]))
        );
        assert_eq!(
            new.header.as_ref().map(|h| h.unit.as_str()),
            Some("pho-minh")
        );
        let row = new.projection.as_ref().expect("a projection row");
        assert_eq!(row.summary.title, "Họp dân khu phố");
        assert!(new.snapshot.is_none(), "two changes: no snapshot due");
        // Delivered twice in one list: the second copy is a duplicate.
        let mut twice = changes.clone();
        twice.push(changes[1].clone());
        let Incoming::New(new) = build_new(doc, parsed(&twice)) else {
            panic!("built whole");
        };
        assert!(matches!(new.verdicts[2], Verdict::Duplicate));
    }

    #[test]
    fn a_creation_claimed_for_another_document_is_refused_in_the_build() {
        let key = NodeKey::from_secret([6; 32]);
        let changes = record(&key, DocId::from_bytes([9; 16]));
        // The same record signed as another document's: its header names
        // the first one, so the rules refuse it, and its edit has its
        // dependency missing.
        let other = DocId::from_bytes([8; 16]);
        let resigned: Vec<SignedChange> = changes
            .iter()
            .map(|c| {
                let mut body =
                    automerge::Change::try_from(c.body.as_slice()).expect("a change body");
                key.sign_change(&other, &mut body)
            })
            .collect();
        let Incoming::New(new) = build_new(other, parsed(&resigned)) else {
            panic!("built whole");
        };
        assert!(matches!(
            new.verdicts[0],
            Verdict::Refused(ChangeError::Header(_))
        ));
        assert!(matches!(
            new.verdicts[1],
            Verdict::Refused(ChangeError::MissingDeps)
        ));
        assert!(new.header.is_none() && new.projection.is_none());
    }

    /// A change held without its own signature: the feed names the change
    /// covering it; a verified copy with the signature gives it back, after
    /// which it travels to anyone; a copy without one of a change held is
    /// a duplicate, not a refusal.
    #[test]
    fn a_change_held_without_its_signature_takes_it_from_a_signed_copy() {
        use danvan_model::{NodeId, Rejection};
        let dir = crate::scratch_dir("covered-signed");
        let mut store = crate::Store::create(&dir, [7; 8]).expect("store");
        let key = NodeKey::from_secret([5; 32]);
        let doc = DocId::from_bytes([4; 16]);
        let changes = record(&key, doc);
        let hashes = [changes[0].hash, changes[1].hash];
        let covered = SignedChange {
            signature: None,
            ..changes[0].clone()
        };
        let items = vec![Incoming::Doc(
            doc,
            vec![
                parse(covered, Some(changes[1].hash)),
                parse(changes[1].clone(), None),
            ],
        )];
        assert_eq!(
            store.apply_incoming(None, items, None).expect("stored").new,
            2
        );
        let feed = |store: &crate::Store| -> Vec<Option<u64>> {
            let (entries, _) = store
                .feed(&NodeId::from_bytes([9; 32]), [0; 8], 0, 10, None, None)
                .expect("feed");
            entries.iter().map(|e| e.proof_seq).collect()
        };
        let seqs = store.changes_after(0, 10).expect("changes");
        assert_eq!(feed(&store), [Some(seqs[1].seq), None]);
        assert_eq!(store.held_unsigned(&hashes).expect("held"), [true, false]);
        assert_eq!(store.bodies(&hashes[..1]).expect("body")[0].signature, None);

        let again = vec![Incoming::Doc(doc, vec![parse(changes[0].clone(), None)])];
        assert_eq!(
            store
                .apply_incoming(None, again, None)
                .expect("stored")
                .duplicate,
            1
        );
        assert_eq!(
            store.bodies(&hashes[..1]).expect("body")[0].signature,
            changes[0].signature
        );
        assert_eq!(store.held_unsigned(&hashes).expect("held"), [false, false]);
        assert_eq!(feed(&store), [None, None]);

        let uncovered = vec![Incoming::Refused(Rejection {
            hash: changes[1].hash,
            author: key.id(),
            doc,
            reason: ChangeError::Uncovered(key.id().short()),
        })];
        let report = store.apply_incoming(None, uncovered, None).expect("taken");
        assert_eq!((report.duplicate, report.rejected.len()), (1, 0));
    }
}
