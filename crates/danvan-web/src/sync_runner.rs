//! The "Đồng bộ ngay" button's background work: one sync at a time, owned
//! by the app state, with its progress readable by the page while it runs.
//!
//! The sync itself is the node's (`SharedNode::sync_with`); this module only
//! starts it off the request, bounds it in time, keeps the figures the page
//! polls, and collects the audit entries of changes refused meanwhile.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use danvan_node::{Endpoint, NodeError, PeerAddr, Progress, SharedNode, SyncSummary};
use serde::Serialize;

/// A sync from the page stops after this long. A 2G link moves a commune's
/// month in a few minutes; past half an hour something is wrong, and the
/// next press resumes from the last committed batch anyway.
const SYNC_MS_MAX: u64 = 30 * 60 * 1000;

/// Refused changes listed on the page after one sync; the audit log holds
/// them all.
pub(crate) const REFUSED_LISTED_MAX: usize = 200;

/// What the page shows of the current or last sync.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SyncStatus {
    /// Increases with each sync started, so the page knows a result is new.
    pub(crate) run: u64,
    /// `idle`, `running`, `done` or `failed`.
    pub(crate) state: &'static str,
    /// The peer's address.
    pub(crate) addr: Option<String>,
    /// Changes left to receive (an upper bound).
    pub(crate) left_to_receive: u64,
    /// Changes left to send (an upper bound).
    pub(crate) left_to_send: u64,
    pub(crate) bytes_received: u64,
    pub(crate) bytes_sent: u64,
    /// Bytes both ways per second since the start.
    pub(crate) bytes_per_s: u64,
    pub(crate) elapsed_ms: u64,
    /// The session's figures, once done.
    pub(crate) summary: Option<SyncSummary>,
    /// Why it failed, in Vietnamese.
    pub(crate) error: Option<String>,
    /// The changes refused during this sync, with their reasons.
    pub(crate) refused: Vec<RefusedChange>,
}

/// One refused change, from the audit log.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RefusedChange {
    /// When, ms since 1970.
    pub(crate) at: i64,
    /// The author the change claims.
    pub(crate) author: String,
    /// The record it claims, if known.
    pub(crate) doc: Option<String>,
    /// Why it was refused (Vietnamese, from the verifier).
    pub(crate) reason: String,
}

/// Reads the `rejected-change` audit entries written since `since_ms`
/// (this node's clock), newest last.
pub(crate) fn refused_since(
    node: &danvan_node::Node,
    since_ms: i64,
    limit: usize,
) -> Result<Vec<RefusedChange>, NodeError> {
    // The audit log is read newest first in a window large enough for the
    // session; entries older than the start are dropped.
    let entries = node.audit_log(limit.saturating_mul(4).max(64))?;
    let mut refused: Vec<RefusedChange> = entries
        .into_iter()
        .filter(|e| e.event == "rejected-change" && e.at >= since_ms)
        .map(|e| RefusedChange {
            at: e.at,
            author: e.detail["author"].as_str().unwrap_or("").to_string(),
            doc: e.detail["doc"].as_str().map(str::to_string),
            reason: e.detail["reason"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    if refused.len() > limit {
        refused.drain(..refused.len() - limit);
    }
    Ok(refused)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Why a sync could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("một lần đồng bộ đang chạy; hãy đợi nó xong rồi bấm lại")]
    Busy,
}

/// The one sync of the app at a time, and the client endpoints it dials
/// from (bound on first use: a node that never syncs from the page opens
/// no UDP socket).
#[derive(Default)]
pub(crate) struct SyncRunner {
    status: Arc<Mutex<SyncStatus>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    endpoints: Arc<tokio::sync::Mutex<[Option<Arc<Endpoint>>; 2]>>,
}

impl std::fmt::Debug for SyncRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncRunner").finish_non_exhaustive()
    }
}

impl Drop for SyncRunner {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

impl SyncRunner {
    /// The current or last sync, for the page.
    pub(crate) fn status(&self) -> SyncStatus {
        let status = self.status.lock().expect("sync status lock").clone();
        if status.run == 0 {
            return SyncStatus {
                state: "idle",
                ..status
            };
        }
        status
    }

    /// Starts a sync with `addr` in the background.
    pub(crate) fn start(&self, node: SharedNode, addr: PeerAddr) -> Result<u64, StartError> {
        let mut task = self.task.lock().expect("sync task lock");
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return Err(StartError::Busy);
        }
        let run = {
            let mut status = self.status.lock().expect("sync status lock");
            let run = status.run + 1;
            *status = SyncStatus {
                run,
                state: "running",
                addr: Some(addr.to_string()),
                ..SyncStatus::default()
            };
            run
        };
        let status = self.status.clone();
        let endpoints = self.endpoints.clone();
        *task = Some(tokio::spawn(async move {
            let started_ms = now_ms();
            let outcome = tokio::time::timeout(
                Duration::from_millis(SYNC_MS_MAX),
                run_sync(&node, &endpoints, addr, &status),
            )
            .await;
            let outcome = match outcome {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "đồng bộ quá {} phút nên đã dừng; lần sau sẽ tiếp tục từ chỗ đã lưu",
                    SYNC_MS_MAX / 60_000
                )),
            };
            let refused = node
                .with(|n| refused_since(n, started_ms, REFUSED_LISTED_MAX))
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let mut status = status.lock().expect("sync status lock");
            status.refused = refused;
            match outcome {
                Ok(summary) => {
                    status.state = "done";
                    status.left_to_receive = 0;
                    status.left_to_send = 0;
                    status.bytes_received = summary.bytes_received;
                    status.bytes_sent = summary.bytes_sent;
                    status.elapsed_ms = summary.elapsed_ms;
                    status.summary = Some(summary);
                }
                Err(error) => {
                    status.state = "failed";
                    status.error = Some(error);
                }
            }
        }));
        Ok(run)
    }
}

async fn endpoint_for(
    node: &SharedNode,
    endpoints: &tokio::sync::Mutex<[Option<Arc<Endpoint>>; 2]>,
    addr: SocketAddr,
) -> Result<Arc<Endpoint>, NodeError> {
    let mut endpoints = endpoints.lock().await;
    let slot = &mut endpoints[usize::from(addr.is_ipv6())];
    if let Some(endpoint) = slot {
        return Ok(endpoint.clone());
    }
    let bind: SocketAddr = if addr.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let endpoint = Arc::new(node.bind(bind)?);
    *slot = Some(endpoint.clone());
    Ok(endpoint)
}

async fn run_sync(
    node: &SharedNode,
    endpoints: &tokio::sync::Mutex<[Option<Arc<Endpoint>>; 2]>,
    addr: PeerAddr,
    status: &Arc<Mutex<SyncStatus>>,
) -> Result<SyncSummary, NodeError> {
    // The offline authority's machine never syncs, whatever the page asks.
    node.with(|n| n.check_may_go_online())??;
    // A name is looked up for the socket's family, and again by each session.
    let resolved = addr.resolve(None).await?;
    let endpoint = endpoint_for(node, endpoints, resolved).await?;
    let started = Instant::now();
    let mut earlier = SyncStats::default();
    let mut progress = |p: &Progress| {
        let mut status = status.lock().expect("sync status lock");
        let elapsed_ms = started.elapsed().as_millis() as u64;
        status.left_to_receive = p.pull_target_seq.saturating_sub(p.pulled_seq);
        status.left_to_send = p.serve_target_seq.saturating_sub(p.served_seq);
        status.bytes_received = earlier.bytes_received + p.stats.bytes_received;
        status.bytes_sent = earlier.bytes_sent + p.stats.bytes_sent;
        status.elapsed_ms = elapsed_ms;
        status.bytes_per_s = (status.bytes_received + status.bytes_sent) * 1000 / elapsed_ms.max(1);
    };
    let mut summary = node
        .sync_with(&endpoint, &addr, false, &mut progress)
        .await?;
    if summary.scope_changed {
        // The roster that arrived changed what this node may read: the
        // refresh makes it the handshake's trust list, and a second session
        // brings what became readable (as `danvan sync` does).
        node.refresh()?;
        earlier = SyncStats {
            bytes_received: summary.bytes_received,
            bytes_sent: summary.bytes_sent,
        };
        let first = summary;
        let mut progress = |p: &Progress| {
            let mut status = status.lock().expect("sync status lock");
            status.left_to_receive = p.pull_target_seq.saturating_sub(p.pulled_seq);
            status.left_to_send = p.serve_target_seq.saturating_sub(p.served_seq);
            status.bytes_received = earlier.bytes_received + p.stats.bytes_received;
            status.bytes_sent = earlier.bytes_sent + p.stats.bytes_sent;
        };
        summary = node
            .sync_with(&endpoint, &addr, false, &mut progress)
            .await?;
        summary.add(&first);
    }
    // Records that arrived are now in the store: live sessions of this
    // process (under `serve --web`) learn of them and pass them on.
    node.refresh()?;
    Ok(summary)
}

#[derive(Debug, Default, Clone, Copy)]
struct SyncStats {
    bytes_received: u64,
    bytes_sent: u64,
}
