//! What this node, as a sender, has served each peer: "every entry of my
//! feed up to seq S that scope K lets you read is in your store of epoch
//! E". When the peer's read scope later widens (a merge, a roster change),
//! its checkpoint no longer counts (it was made under another scope) and
//! it pulls from 0; the feed then skips what this record says it holds, so
//! only the changes that became readable are listed again, not every hash.
//!
//! Kept in the store's meta table (`served:NODE`), one line per peer,
//! written after each session. The record is made only when it is known
//! true: the session served from 0, or from a checkpoint the peer made
//! under the same roster, or from one the earlier record already covered,
//! and the peer's scope did not change while it ran. Only the peer's own
//! store life counts: a restored or copied peer has a new epoch, and the
//! record is ignored.

use danvan_model::{EPOCH_LEN, NodeId, Scope};
use danvan_proto::{PeerStore, Served};
use danvan_store::{Store, StoreError};

/// What a record says: the peer's store epoch, the scope key, the seq.
struct Record {
    epoch: [u8; EPOCH_LEN],
    scope: String,
    seq: u64,
}

fn meta_key(peer: &NodeId) -> String {
    format!("served:{peer}")
}

fn read(store: &Store, peer: &NodeId) -> Result<Option<Record>, StoreError> {
    let Some(bytes) = store.meta(&meta_key(peer))? else {
        return Ok(None);
    };
    // A record this build cannot read is no record: the peer then lists
    // every hash, as before records existed.
    let text = String::from_utf8_lossy(&bytes);
    let mut parts = text.splitn(3, ' ');
    let (Some(epoch), Some(seq), Some(scope)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (Ok(epoch), Ok(seq)) = (epoch.parse::<u64>(), seq.parse()) else {
        return Ok(None);
    };
    let epoch = epoch.to_be_bytes();
    Ok(Some(Record {
        epoch,
        scope: scope.to_string(),
        seq,
    }))
}

/// The peer's read-scope key under this node's roster today (`None`
/// without a roster, or when the peer is not on it).
pub(crate) fn peer_scope_key(store: &Store, peer: &NodeId) -> Result<Option<String>, StoreError> {
    Ok(store
        .roster()?
        .and_then(|roster| roster.scope_on(peer, danvan_store::today()))
        .map(|scope| scope.key()))
}

/// What the peer's store is known to hold of this node's feed: the scope
/// it was served under and the seq, when the record is of its current
/// store life.
pub(crate) fn held_by(store: &Store, peer: &PeerStore) -> Result<Option<(Scope, u64)>, StoreError> {
    Ok(read(store, &peer.node)?
        .filter(|r| r.epoch == peer.epoch && r.seq > 0)
        .and_then(|r| Scope::from_key(&r.scope).map(|scope| (scope, r.seq))))
}

/// Records what a session served, when it is known true (module docs).
/// `scope_at_start` is the peer's scope key when the session began.
pub(crate) fn record(
    store: &mut Store,
    served: &Served,
    scope_at_start: &Option<String>,
) -> Result<(), StoreError> {
    let Some(scope) = scope_at_start else {
        return Ok(());
    };
    if peer_scope_key(store, &served.peer.node)?.as_ref() != Some(scope) {
        return Ok(());
    }
    let earlier = read(store, &served.peer.node)?
        .filter(|r| r.epoch == served.peer.epoch && &r.scope == scope);
    let covered = served.from_seq == 0
        || served.same_roster
        || earlier.as_ref().is_some_and(|r| r.seq >= served.from_seq);
    if !covered {
        return Ok(());
    }
    let seq = served.acked_seq.max(earlier.map_or(0, |r| r.seq));
    let line = format!("{} {seq} {scope}", u64::from_be_bytes(served.peer.epoch));
    store.set_meta(&meta_key(&served.peer.node), line.as_bytes())
}
