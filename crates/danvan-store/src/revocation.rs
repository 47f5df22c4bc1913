//! The revocation race: a change accepted from a peer before the roster
//! that revoked its author arrived. When a roster is installed, every held
//! change signed by a member it revokes and not kept by it (the town did
//! not hold it at the revocation) is set aside, and so is every held
//! change that depends on one set aside, whoever signed it: Automerge
//! cannot apply a change without its dependencies, and every node holding
//! the roster refuses it for that reason, so showing it here would show
//! what no other node can hold. Set aside means moved whole from `changes`
//! to `set_aside` with its reason (kept on disk, never offered to a peer,
//! never read into a document), audited, the affected documents rebuilt
//! from the changes that remain, and a record that remains marked
//! "chưa được chấp nhận" with the reason until it is written here again.

use std::collections::{BTreeMap, HashMap};

use danvan_model::{DocId, DocScope, NodeId, SignedRoster};
use rusqlite::{Connection, params};

use crate::documents::{after_write, load_doc};
use crate::error::StoreError;
use crate::{Store, access, doc_id, hash32, node_id};

/// What a roster set aside (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetAside {
    /// Changes set aside.
    pub changes: usize,
    /// Records that lost every change (their creation was set aside).
    pub records_removed: usize,
    /// Records rebuilt without the changes set aside.
    pub records_rebuilt: usize,
}

/// Why a change was set aside.
fn revoked_reason(author: &NodeId) -> String {
    format!(
        "tác giả {} đã bị thu hồi và thị xã không giữ thay đổi này",
        author.short()
    )
}

fn dependent_reason(root: &[u8; 32]) -> String {
    format!(
        "dựa trên thay đổi {} của nút đã bị thu hồi; hãy ghi lại nội dung này",
        hex12(root)
    )
}

fn hex12(hash: &[u8; 32]) -> String {
    hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Sets aside, inside the caller's transaction, every held change the
/// roster no longer admits for having been signed by a member it revokes
/// (and not kept), with everything that depends on them. `me` (this
/// node's own changes) is never set aside: a revoked node keeps seeing its
/// own work. The marks on records that remain name `me` as the node
/// that no longer holds the change.
pub(crate) fn set_aside_revoked(
    tx: &Connection,
    roster: &SignedRoster,
    me: Option<&NodeId>,
    now_ms: i64,
) -> Result<SetAside, StoreError> {
    // Any header does: a revoked member's change is judged by the kept
    // list alone, before any scope.
    let any = DocScope {
        kind: "",
        unit: "",
        project: None,
    };
    // root hash → reason, per document.
    let mut roots: BTreeMap<DocId, HashMap<[u8; 32], String>> = BTreeMap::new();
    for member in &roster.roster().members {
        if !member.is_revoked() {
            continue;
        }
        let Ok(author) = member.node.parse::<NodeId>() else {
            continue;
        };
        if Some(&author) == me {
            continue;
        }
        let mut stmt = tx.prepare_cached("SELECT hash, doc FROM changes WHERE author = ?1")?;
        let mut rows = stmt.query(params![author.as_bytes().to_vec()])?;
        while let Some(r) = rows.next()? {
            let hash = hash32(r.get(0)?)?;
            if roster.check_write(&author, &hash, &any).is_err() {
                roots
                    .entry(doc_id(r.get(1)?)?)
                    .or_default()
                    .insert(hash, revoked_reason(&author));
            }
        }
    }
    let mut done = SetAside::default();
    for (doc, roots) in roots {
        // In log order every change comes after its dependencies, so one
        // pass finds every descendant of a root.
        let mut aside: HashMap<[u8; 32], (String, [u8; 32])> = roots
            .into_iter()
            .map(|(h, reason)| (h, (reason, h)))
            .collect();
        let mut order = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT hash, author, body FROM changes WHERE doc = ?1 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![doc.as_bytes().to_vec()])?;
            while let Some(r) = rows.next()? {
                let hash = hash32(r.get(0)?)?;
                let author = node_id(r.get(1)?)?;
                if aside.contains_key(&hash) {
                    order.push((hash, author));
                    continue;
                }
                let body: Vec<u8> = r.get(2)?;
                // A body that does not parse is `check`'s to report.
                let Ok(parsed) = automerge::Change::try_from(body.as_slice()) else {
                    continue;
                };
                let root = parsed
                    .deps()
                    .iter()
                    .find_map(|d| aside.get(&d.0).map(|(_, root)| *root));
                if let Some(root) = root {
                    aside.insert(hash, (dependent_reason(&root), root));
                    order.push((hash, author));
                }
            }
        }
        for (hash, author) in &order {
            let (reason, _) = &aside[hash];
            move_aside(tx, hash, reason, roster.version(), now_ms)?;
            access::audit_insert(
                tx,
                "set-aside",
                None,
                &serde_json::json!({
                    "hash": data_encoding::HEXLOWER.encode(hash),
                    "author": author.to_string(),
                    "doc": doc.to_string(),
                    "reason": reason,
                    "roster": roster.version(),
                }),
            )?;
        }
        done.changes += order.len();
        if rebuild(tx, &doc)? {
            done.records_rebuilt += 1;
            // The record stays without them: say so on it, once per change.
            if let Some(me) = me {
                for (hash, author) in &order {
                    tx.prepare_cached(
                        "INSERT INTO refusals (hash, peer, doc, author, reason, at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (hash, peer) DO UPDATE SET reason = excluded.reason, at = excluded.at",
                    )?
                    .execute(params![
                        hash.to_vec(),
                        me.as_bytes().to_vec(),
                        doc.as_bytes().to_vec(),
                        author.as_bytes().to_vec(),
                        aside[hash].0,
                        now_ms
                    ])?;
                }
            }
        } else {
            done.records_removed += 1;
        }
    }
    Ok(done)
}

/// Moves one change row from `changes` to `set_aside`, and drops the
/// refusals peers sent of it (this node no longer holds it).
fn move_aside(
    tx: &Connection,
    hash: &[u8; 32],
    reason: &str,
    roster_version: u64,
    now_ms: i64,
) -> Result<(), StoreError> {
    let key = hash.to_vec();
    tx.prepare_cached(
        "INSERT OR IGNORE INTO set_aside (hash, seq, doc, author, signature, body, actor_epoch,
                                         source, source_epoch, reason, roster, at, covered_by)
         SELECT hash, seq, doc, author, signature, body, actor_epoch, source, source_epoch, ?2, ?3, ?4,
                covered_by
           FROM changes WHERE hash = ?1",
    )?
    .execute(params![key, reason, roster_version as i64, now_ms])?;
    tx.prepare_cached("DELETE FROM changes WHERE hash = ?1")?
        .execute(params![key])?;
    tx.prepare_cached("DELETE FROM refusals WHERE hash = ?1")?
        .execute(params![key])?;
    Ok(())
}

/// Rebuilds a document from the changes that remain (its snapshot held
/// the ones set aside); false, with its rows gone, if none remain.
fn rebuild(tx: &Connection, doc: &DocId) -> Result<bool, StoreError> {
    let key = doc.as_bytes().to_vec();
    let remaining: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM changes WHERE doc = ?1")?
        .query_row(params![key], |r| r.get(0))?;
    if remaining == 0 {
        for table in ["records", "record_search", "refusals", "documents"] {
            tx.execute(&format!("DELETE FROM {table} WHERE doc = ?1"), params![key])?;
        }
        return Ok(false);
    }
    tx.prepare_cached(
        "UPDATE documents SET snapshot = NULL, snapshot_seq = 0, pending = ?2 WHERE doc = ?1",
    )?
    .execute(params![key, remaining])?;
    let automerge = load_doc(tx, doc)?.unwrap_or_default();
    // `after_write` with nothing new: a fresh snapshot when due, and the
    // projection read from the rebuilt document.
    after_write(tx, doc, &automerge, 0, None, None)?;
    Ok(true)
}

impl Store {
    /// How many changes are set aside (see [`SetAside`]).
    pub fn set_aside_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM set_aside", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}
