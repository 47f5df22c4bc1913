//! Laptops that find each other on the LAN: `serve` advertises
//! `_danvan._udp.local.` over mDNS (mdns-sd) with its node id and sync
//! port; `peers --lan` browses, and this module decides who may be synced
//! with: only a node of the roster (or, without a roster, the trust list),
//! dialled with its advertised id pinned, so a machine whose QUIC key is not
//! that id is refused at the handshake and nothing is sent to it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use danvan_model::NodeId;
use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use serde::Serialize;

use crate::Node;
use crate::error::NodeError;
use crate::sync::{SharedNode, SyncSummary};

/// The mDNS service type danvan nodes advertise.
pub const LAN_SERVICE: &str = "_danvan._udp.local.";
/// The longest `peers --lan --timeout`.
pub const LAN_BROWSE_MAX: Duration = Duration::from_secs(60);
/// Machines listed at most from one browse.
const LAN_FOUND_MAX: usize = 256;
/// Addresses tried per machine.
const LAN_ADDRS_MAX: usize = 8;

/// A running advertisement; dropping it withdraws it.
pub struct LanAdvert(ServiceDaemon);

impl Drop for LanAdvert {
    fn drop(&mut self) {
        let _ = self.0.shutdown();
    }
}

fn lan_error(e: mdns_sd::Error) -> NodeError {
    NodeError::Lan(e.to_string())
}

/// Advertises node `id` syncing on `port` on every interface.
pub fn advertise(id: &NodeId, port: u16) -> Result<LanAdvert, NodeError> {
    let daemon = ServiceDaemon::new().map_err(lan_error)?;
    let short = id.short();
    let info = ServiceInfo::new(
        LAN_SERVICE,
        &format!("danvan-{short}"),
        &format!("danvan-{}.local.", short.to_ascii_lowercase()),
        "",
        port,
        [("id", id.to_string())].as_slice(),
    )
    .map_err(lan_error)?
    .enable_addr_auto();
    daemon.register(info).map_err(lan_error)?;
    Ok(LanAdvert(daemon))
}

/// A machine found on the LAN, as the officer is shown it.
#[derive(Debug, Clone, Serialize)]
pub struct LanPeer {
    /// The node id it advertises.
    pub id: String,
    /// Its name in the roster (or trust list), if it is in it.
    pub name: Option<String>,
    /// Whether it is an active member (or trusted): the only ones synced with.
    pub known: bool,
    /// Where it says it listens.
    pub addrs: Vec<SocketAddr>,
}

/// Browses for `timeout` (at most [`LAN_BROWSE_MAX`]) and returns what
/// answered, by node id, leaving out `me`. Blocking.
pub fn browse(me: &NodeId, timeout: Duration) -> Result<Vec<(NodeId, Vec<SocketAddr>)>, NodeError> {
    let daemon = ServiceDaemon::new().map_err(lan_error)?;
    let events = daemon.browse(LAN_SERVICE).map_err(lan_error)?;
    let until = Instant::now() + timeout.min(LAN_BROWSE_MAX);
    let mut found: BTreeMap<NodeId, Vec<SocketAddr>> = BTreeMap::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Ok(event) = events.recv_timeout(left) else {
            break;
        };
        let ServiceEvent::ServiceResolved(service) = event else {
            continue;
        };
        let Some(id) = service
            .get_property_val_str("id")
            .and_then(|t| t.parse::<NodeId>().ok())
        else {
            continue;
        };
        if id == *me || (found.len() >= LAN_FOUND_MAX && !found.contains_key(&id)) {
            continue;
        }
        let port = service.get_port();
        let addrs = found.entry(id).or_default();
        let mut v4: Vec<_> = service.get_addresses_v4().into_iter().collect();
        v4.sort();
        for ip in v4 {
            let addr = SocketAddr::new(IpAddr::V4(ip), port);
            if !addrs.contains(&addr) && addrs.len() < LAN_ADDRS_MAX {
                addrs.push(addr);
            }
        }
    }
    let _ = daemon.shutdown();
    Ok(found.into_iter().collect())
}

impl Node {
    /// What the officer is shown of machines found: each by its roster
    /// name, or marked unknown.
    pub fn lan_peers(
        &self,
        found: Vec<(NodeId, Vec<SocketAddr>)>,
    ) -> Result<Vec<LanPeer>, NodeError> {
        let roster = self.roster()?;
        let trusted = self.store().trusted()?;
        Ok(found
            .into_iter()
            .map(|(id, addrs)| {
                let (known, name) = match &roster {
                    Some(r) => match r.check_peer(&id) {
                        Ok(m) => (true, m.name.clone()),
                        Err(_) => (false, None),
                    },
                    None => match trusted.iter().find(|t| t.id == id) {
                        Some(t) => (true, t.name.clone()),
                        None => (false, None),
                    },
                };
                LanPeer {
                    id: id.to_string(),
                    name,
                    known,
                    addrs,
                }
            })
            .collect())
    }
}

impl SharedNode {
    /// Syncs once with a machine found on the LAN that the officer
    /// confirmed: refused unless it is known; its advertised id is pinned,
    /// each advertised address tried in turn.
    pub async fn sync_lan(
        &self,
        endpoint: &crate::Endpoint,
        peer: &LanPeer,
        progress: &mut (dyn FnMut(&crate::Progress) + Send),
    ) -> Result<SyncSummary, NodeError> {
        let id: NodeId = peer
            .id
            .parse()
            .map_err(|_| NodeError::LanUnknown(peer.id.clone()))?;
        if !peer.known {
            return Err(NodeError::LanUnknown(id.short()));
        }
        let mut last = None;
        for addr in &peer.addrs {
            match self
                .sync_pinned(endpoint, *addr, Some(id), false, progress)
                .await
            {
                Err(NodeError::Net(e)) if e.is_transient() => last = Some(NodeError::Net(e)),
                other => return other,
            }
        }
        Err(last.unwrap_or(NodeError::LanUnknown(id.short())))
    }
}
