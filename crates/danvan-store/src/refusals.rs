//! Refused work: the changes held here that a peer said it refused, kept
//! per change and peer so that a record shows "chưa được chấp nhận: LÝ DO"
//! until it is settled (never read by sync or merge); and quarantined
//! changes, which the feed never offers.

use danvan_model::{DocId, NodeId};
use rusqlite::params;

use crate::error::StoreError;
use crate::{Store, hash32, node_id};

/// A peer's refusal of a change of a record held here.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The change hash, hex.
    pub hash: String,
    /// The refusing peer.
    pub peer: String,
    /// The author of the refused change.
    pub author: String,
    /// The peer's reason.
    pub reason: String,
    /// When this node learned of it, ms since 1970 (this node's clock).
    pub at_ms: i64,
}

/// A record some of whose changes a peer refused (see
/// [`Store::refused_records`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RefusedRecord {
    /// The record id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The newest reason.
    pub reason: String,
    /// When this node learned of it, ms since 1970.
    pub at_ms: i64,
}

impl Store {
    /// Notes that `peer` refused the change `hash`; false (and nothing
    /// kept) if this store does not hold that change.
    pub fn note_refused(
        &mut self,
        peer: &NodeId,
        hash: &[u8; 32],
        reason: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO refusals (hash, peer, doc, author, reason, at)
             SELECT hash, ?2, doc, author, ?3, ?4 FROM changes WHERE hash = ?1
             ON CONFLICT (hash, peer) DO UPDATE SET reason = excluded.reason, at = excluded.at",
            params![hash.to_vec(), peer.as_bytes().to_vec(), reason, at_ms],
        )?;
        Ok(n == 1)
    }

    /// Notes that `peer` accepted these changes: their refusals by that
    /// peer are settled, and so are refusals of earlier changes by the same
    /// author to the same record (the author's later change builds on its
    /// earlier ones, so the peer holds them now).
    pub fn note_accepted(&mut self, peer: &NodeId, hashes: &[[u8; 32]]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut any = tx.prepare_cached("SELECT 1 FROM refusals WHERE peer = ?1 LIMIT 1")?;
            if !any.exists(params![peer.as_bytes().to_vec()])? {
                return Ok(());
            }
            let mut settle = tx.prepare_cached(
                "DELETE FROM refusals WHERE peer = ?1 AND (hash = ?2 OR hash IN (
                     SELECT old.hash FROM changes new JOIN changes old
                       ON old.doc = new.doc AND old.author = new.author AND old.seq < new.seq
                     WHERE new.hash = ?2))",
            )?;
            for hash in hashes {
                settle.execute(params![peer.as_bytes().to_vec(), hash.to_vec()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The records with unsettled refusals, the most recently refused
    /// first, at most `limit`: each record's id, title and newest reason.
    pub fn refused_records(&self, limit: usize) -> Result<Vec<RefusedRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT records.id, records.title, r.reason, r.at FROM records
               JOIN refusals r ON r.doc = records.doc
              WHERE r.at = (SELECT MAX(at) FROM refusals WHERE doc = records.doc)
              GROUP BY records.doc ORDER BY r.at DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![limit], |r| {
                Ok(RefusedRecord {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    reason: r.get(2)?,
                    at_ms: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The unsettled refusals of a record's changes, newest first.
    pub fn refusals(&self, doc: &DocId) -> Result<Vec<Refusal>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash, peer, author, reason, at FROM refusals WHERE doc = ?1 ORDER BY at DESC, hash",
        )?;
        let mut rows = stmt.query(params![doc.as_bytes().to_vec()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let hash = hash32(r.get(0)?)?;
            out.push(Refusal {
                hash: hash.iter().map(|b| format!("{b:02x}")).collect(),
                peer: node_id(r.get(1)?)?.to_string(),
                author: node_id(r.get(2)?)?.to_string(),
                reason: r.get(3)?,
                at_ms: r.get(4)?,
            });
        }
        Ok(out)
    }
}

impl Store {
    /// Quarantines a stored change that cannot be sent: the feed never
    /// offers it again. The row stays for `check` and repair. False if it
    /// was quarantined already.
    pub fn quarantine(
        &mut self,
        hash: &[u8; 32],
        reason: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO quarantine (hash, reason, at) VALUES (?1, ?2, ?3)",
            params![hash.to_vec(), reason, at_ms],
        )?;
        Ok(n == 1)
    }

    /// Whether a change is quarantined.
    pub fn is_quarantined(&self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM quarantine WHERE hash = ?1")?;
        Ok(stmt.exists(params![hash.to_vec()])?)
    }
}
