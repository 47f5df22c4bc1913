//! The roster a store holds, the authority it is pinned to, and the audit log.

use std::sync::Arc;

use danvan_model::{ChangeError, DocId, NodeId, SignedRoster, accept_successor};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::{Store, StoreError, node_id};

const META_AUTHORITY: &str = "authority";
const META_ROSTER: &str = "roster";
const META_ROSTER_VERSION: &str = "roster_version";
/// Audit entries kept; older ones are dropped as new ones come.
const AUDIT_ROWS_MAX: i64 = 100_000;

/// One line of the audit log.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    /// When, ms since 1970.
    pub at: i64,
    /// `session`, `rejected-change`, `rejected-connection`, `roster`,
    /// `rejected-roster`, `handover`.
    pub event: String,
    /// The peer, if any.
    pub peer: Option<String>,
    /// What happened, as JSON.
    pub detail: serde_json::Value,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Appends an audit entry (inside whatever transaction `conn` is in).
pub(crate) fn audit_insert(
    conn: &Connection,
    event: &str,
    peer: Option<&NodeId>,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit (at, event, peer, detail) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            now_ms(),
            event,
            peer.map(|p| p.as_bytes().to_vec()),
            detail.to_string()
        ])?;
    let id = conn.last_insert_rowid();
    if id % 1_000 == 0 {
        conn.execute(
            "DELETE FROM audit WHERE id <= ?1",
            params![id - AUDIT_ROWS_MAX],
        )?;
    }
    Ok(())
}

/// Logs a refused change: what it claims (hash, author, document when
/// known), the path it came by (`sync` from `peer`, or a `bundle`) and why.
pub(crate) fn audit_rejection(
    conn: &Connection,
    peer: Option<&NodeId>,
    hash: &[u8; 32],
    author: &NodeId,
    doc: Option<&DocId>,
    reason: &ChangeError,
) -> Result<(), StoreError> {
    let mut detail = serde_json::json!({
        "hash": data_encoding::HEXLOWER.encode(hash),
        "author": author.to_string(),
        "via": if peer.is_some() { "sync" } else { "bundle" },
        "reason": reason.to_string(),
    });
    if let Some(doc) = doc {
        detail["doc"] = doc.to_string().into();
    }
    audit_insert(conn, "rejected-change", peer, &detail)
}

impl Store {
    /// Logs a change refused before it reached the store (its signature,
    /// hash or actor failed): see [`Store::apply_changes`] for the others.
    pub fn audit_rejection(
        &mut self,
        peer: Option<&NodeId>,
        hash: &[u8; 32],
        author: &NodeId,
        doc: Option<&DocId>,
        reason: &ChangeError,
    ) -> Result<(), StoreError> {
        audit_rejection(&self.conn, peer, hash, author, doc, reason)
    }

    /// The town authority this store is pinned to, if it joined a town.
    pub fn authority(&self) -> Result<Option<NodeId>, StoreError> {
        self.meta(META_AUTHORITY)?.map(node_id).transpose()
    }

    /// Pins the town authority (at `init --authority` or `join`). Refused
    /// if another authority is already pinned.
    pub fn set_authority(&mut self, authority: &NodeId) -> Result<(), StoreError> {
        match self.authority()? {
            Some(held) if held != *authority => Err(StoreError::Access(format!(
                "kho này đã thuộc thị xã có khóa thẩm quyền {}; không đổi sang {}",
                held.short(),
                authority.short()
            ))),
            _ => self.set_meta(META_AUTHORITY, authority.as_bytes()),
        }
    }

    /// The roster version held (0 without a roster).
    pub fn roster_version(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta(META_ROSTER_VERSION)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// The roster held, checked (cached while its version does not change).
    pub fn roster(&self) -> Result<Option<Arc<SignedRoster>>, StoreError> {
        let version = self.roster_version()?;
        if version == 0 {
            return Ok(None);
        }
        if let Some((cached, roster)) = &*self.roster_cache.borrow()
            && *cached == version
        {
            return Ok(Some(roster.clone()));
        }
        let bytes = self
            .meta(META_ROSTER)?
            .ok_or_else(|| StoreError::Corrupt("thiếu danh sách thành viên".into()))?;
        let roster = Arc::new(
            SignedRoster::decode(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("danh sách thành viên đang giữ: {e}")))?,
        );
        *self.roster_cache.borrow_mut() = Some((version, roster.clone()));
        Ok(Some(roster))
    }

    /// Installs a roster if the pinned authority signed it (or it comes
    /// through a handover from the pinned authority) and it is newer than
    /// the one held; a refused roster is logged. A roster naming a
    /// successor re-pins the authority to it. `from` is the peer it
    /// came from (`None`: made or imported here).
    pub fn install_roster(
        &mut self,
        bytes: &[u8],
        from: Option<&NodeId>,
    ) -> Result<Arc<SignedRoster>, StoreError> {
        let Some(authority) = self.authority()? else {
            return Err(StoreError::Access(
                "nút này chưa tham gia thị xã nào (chưa có khóa thẩm quyền): hãy chạy `danvan join …`"
                    .into(),
            ));
        };
        let held = self.roster_version()?;
        // A newer roster may only add unit changes to those published.
        let held_roster = self.roster()?;
        let roster = match accept_successor(&authority, held_roster.as_deref(), bytes) {
            Ok(r) => Arc::new(r),
            Err(e) => {
                let reason = e.to_string();
                audit_insert(
                    &self.conn,
                    "rejected-roster",
                    from,
                    &serde_json::json!({ "held": held, "reason": reason }),
                )?;
                return Err(StoreError::Access(reason));
            }
        };
        let tx = self.conn.transaction()?;
        for (key, value) in [
            (META_ROSTER, bytes.to_vec()),
            (META_ROSTER_VERSION, roster.version().to_be_bytes().to_vec()),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        // The revocation race: what this roster no longer admits is set
        // aside in the same transaction (each change audited as
        // `set-aside`), so no reader sees it after.
        crate::revocation::set_aside_revoked(&tx, &roster, self.me.as_ref(), now_ms())?;
        // A handover (this roster names a successor, or the successor's
        // roster came through the handover it carries) re-pins the
        // authority in the same transaction: from now on only the new
        // authority's newer rosters are accepted.
        let pinned = roster.pinned_after();
        if pinned != authority {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![META_AUTHORITY, pinned.as_bytes().to_vec()],
            )?;
            audit_insert(
                &tx,
                "handover",
                from,
                &serde_json::json!({
                    "from": authority.to_string(),
                    "to": pinned.to_string(),
                    "version": roster.version(),
                }),
            )?;
        }
        audit_insert(
            &tx,
            "roster",
            from,
            &serde_json::json!({ "version": roster.version(), "previous": held }),
        )?;
        tx.commit()?;
        *self.roster_cache.borrow_mut() = Some((roster.version(), roster.clone()));
        Ok(roster)
    }

    /// Appends an entry to the audit log.
    pub fn audit(
        &mut self,
        event: &str,
        peer: Option<&NodeId>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        audit_insert(&self.conn, event, peer, detail)
    }

    /// The newest `limit` audit entries, oldest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT at, event, peer, detail FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(at, event, peer, detail)| {
                Ok(AuditEntry {
                    at,
                    event,
                    peer: peer.map(node_id).transpose()?.map(|p| p.to_string()),
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// How many stored changes `author` signed, counted in the
    /// `(author, seq)` index without reading them.
    pub fn count_changes_by(&self, author: &NodeId) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM changes WHERE author = ?1")?
            .query_row(params![author.as_bytes().to_vec()], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The ids of every stored change signed by `author` (for a revocation
    /// that keeps what the town already held).
    pub fn hashes_by(&self, author: &NodeId) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash FROM changes WHERE author = ?1 ORDER BY seq")?;
        let rows = stmt
            .query_map(params![author.as_bytes().to_vec()], |r| {
                r.get::<_, Vec<u8>>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(crate::hash32).collect()
    }

    /// Which peer checkpoint scope was stored (for tests and `peers`).
    pub fn checkpoint_scope(&self, peer: &NodeId) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT scope FROM peers WHERE peer = ?1",
                params![peer.as_bytes().to_vec()],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }
}
