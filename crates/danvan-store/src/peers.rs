//! Other nodes as this store knows them: the trust list (standalone mode's
//! gate, the address book once a roster is held) and per-peer sync figures.

use danvan_model::NodeId;
use rusqlite::params;

use crate::error::StoreError;
use crate::{Store, node_id};

/// A node on the trust list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedNode {
    /// Its id.
    pub id: NodeId,
    /// Where to dial it, if known.
    pub addr: Option<String>,
    /// A display name.
    pub name: Option<String>,
}

/// Per-peer sync figures, as `danvan peers` shows them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PeerRow {
    /// The peer.
    pub peer: String,
    /// Last successful sync, ms since 1970 (this node's clock).
    pub last_sync: Option<i64>,
    /// Changes sent in the last session.
    pub sent: i64,
    /// Changes received in the last session.
    pub received: i64,
    /// Application bytes sent in the last session.
    pub bytes_sent: i64,
    /// Application bytes received in the last session.
    pub bytes_received: i64,
    /// Changes the peer's feed had that we had not pulled, at the end of the last session.
    pub behind: i64,
    /// How far we have pulled from its feed.
    pub seq: i64,
}

impl Store {
    /// Adds or updates a trusted node.
    pub fn trust(
        &mut self,
        peer: &NodeId,
        addr: Option<&str>,
        name: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO trusted (peer, addr, name, added) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (peer) DO UPDATE SET addr = COALESCE(excluded.addr, addr), name = COALESCE(excluded.name, name)",
            params![peer.as_bytes().to_vec(), addr, name, now_ms],
        )?;
        Ok(())
    }

    /// Removes a trusted node; false if it was not trusted.
    pub fn untrust(&mut self, peer: &NodeId) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM trusted WHERE peer = ?1",
            params![peer.as_bytes().to_vec()],
        )? == 1)
    }

    /// The trusted nodes.
    pub fn trusted(&self) -> Result<Vec<TrustedNode>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT peer, addr, name FROM trusted ORDER BY added")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(TrustedNode {
                id: node_id(r.get(0)?)?,
                addr: r.get(1)?,
                name: r.get(2)?,
            });
        }
        Ok(out)
    }

    /// Records the figures of a finished session with a peer.
    #[allow(clippy::too_many_arguments)]
    pub fn record_session(
        &mut self,
        peer: &NodeId,
        now_ms: i64,
        sent: u64,
        received: u64,
        bytes_sent: u64,
        bytes_received: u64,
        behind: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO peers (peer, last_sync, sent, received, bytes_sent, bytes_received, behind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (peer) DO UPDATE SET last_sync = excluded.last_sync, sent = excluded.sent,
               received = excluded.received, bytes_sent = excluded.bytes_sent,
               bytes_received = excluded.bytes_received, behind = excluded.behind",
            params![
                peer.as_bytes().to_vec(),
                now_ms,
                sent as i64,
                received as i64,
                bytes_sent as i64,
                bytes_received as i64,
                behind as i64
            ],
        )?;
        Ok(())
    }

    /// Per-peer figures.
    pub fn peers(&self) -> Result<Vec<PeerRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT peer, last_sync, sent, received, bytes_sent, bytes_received, behind, seq FROM peers ORDER BY last_sync DESC",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    PeerRow {
                        peer: String::new(),
                        last_sync: r.get(1)?,
                        sent: r.get(2)?,
                        received: r.get(3)?,
                        bytes_sent: r.get(4)?,
                        bytes_received: r.get(5)?,
                        behind: r.get(6)?,
                        seq: r.get(7)?,
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(peer, mut row)| {
                row.peer = node_id(peer)?.to_string();
                Ok(row)
            })
            .collect()
    }
}
