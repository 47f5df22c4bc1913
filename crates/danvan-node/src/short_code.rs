//! Short codes on a node (the exchange itself is `danvan_proto::code`):
//! the authority makes one (`invite --short`), keeps it in its store's meta
//! as `short_codes` (the derived key, never the code), the hub's `serve`
//! answers the request, and the joiner turns the code into the signed
//! invite and joins as with the full invite.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use danvan_model::{Invite, NodeId};
use danvan_net::{Endpoint, FrameReceiver, FrameSender, PeerAddr};
use danvan_proto::code::{self, CodeReply, CodeRequest, PENDING_MAX, PendingCode, ShortCode};

use crate::error::NodeError;
use crate::node::{Node, random_bytes};
use crate::sync::{SharedNode, SyncSummary};

const META_SHORT_CODES: &str = "short_codes";
/// How long a code works unless `--expires` says otherwise.
pub const SHORT_CODE_TTL_DEFAULT_MS: u64 = 24 * 3_600_000;
/// The longest `--expires`.
pub const SHORT_CODE_TTL_MAX_MS: u64 = 7 * 24 * 3_600_000;
/// How long the joiner waits for the hub's answer.
const ANSWER_WAIT_MS: u64 = 15_000;

/// Now, in ms since the epoch, as the codes count time.
fn now_ms() -> u64 {
    u64::try_from(crate::node::now_ms()).unwrap_or(0)
}

/// A short code made for a node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShortInvite {
    /// The code as read out: `K7QF-M2XR-9D`.
    pub code: String,
    /// The node it is for.
    pub node_id: String,
    /// The hub address the joiner types with it.
    pub hub_addr: String,
    /// When it stops working (ms since the epoch).
    pub expires_ms: u64,
}

impl Node {
    fn short_codes(&self) -> Result<Vec<PendingCode>, NodeError> {
        Ok(match self.store().meta(META_SHORT_CODES)? {
            // Unreadable codes are dropped: the authority makes new ones.
            Some(bytes) => code::decode_pending(&bytes).unwrap_or_default(),
            None => Vec::new(),
        })
    }

    fn set_short_codes(&mut self, codes: &[PendingCode]) -> Result<(), NodeError> {
        self.store_mut()
            .set_meta(META_SHORT_CODES, &code::encode_pending(codes))?;
        Ok(())
    }

    /// Makes a single-use short code for a node of the roster, valid for
    /// `ttl_ms`; checks what [`Node::invite`] checks (and remembers `addr`).
    pub fn short_invite(
        &mut self,
        node: &NodeId,
        addr: Option<&str>,
        ttl_ms: u64,
    ) -> Result<ShortInvite, NodeError> {
        if !(1_000..=SHORT_CODE_TTL_MAX_MS).contains(&ttl_ms) {
            return Err(NodeError::ShortCodeTtl);
        }
        let invite = Invite::decode(&self.invite(node, addr)?)?;
        let now = now_ms();
        let mut codes = self.short_codes()?;
        // A fresh lookup part among those remembered: a few draws suffice
        // while at most `PENDING_MAX` of 961 are taken.
        let mut made = None;
        for _ in 0..32 {
            let Some(c) = ShortCode::from_random(&random_bytes::<64>()) else {
                continue;
            };
            if code::prune_and_check(&mut codes, &c.lookup(), now) {
                made = Some(c);
                break;
            }
        }
        let made = made.ok_or(NodeError::ShortCodesFull(PENDING_MAX))?;
        let expires_ms = now + ttl_ms;
        codes.push(PendingCode {
            lookup: made.lookup(),
            node: *node,
            key: code::derive_key(&made, node),
            made_ms: now,
            expires_ms,
            used_ms: None,
            wrong: 0,
        });
        self.set_short_codes(&codes)?;
        Ok(ShortInvite {
            code: made.to_string(),
            node_id: node.to_string(),
            hub_addr: invite.hub_addr,
            expires_ms,
        })
    }
}

impl SharedNode {
    /// The hub's side: answers one short-code request on a stream of a
    /// connection from `peer` (the TLS-verified key, which must be the node
    /// the code names), then waits briefly for the joiner to close.
    pub(crate) async fn answer_code(
        &self,
        peer: NodeId,
        mut tx: FrameSender,
        mut rx: FrameReceiver,
        frame: &[u8],
    ) -> Result<(), NodeError> {
        let reply = match code::decode_request(frame) {
            Ok(request) if request.node == peer => self.answer_request(&request)?,
            _ => CodeReply::Refused(code::CodeRefusal::Wrong),
        };
        match &reply {
            CodeReply::Invite { .. } => {
                tracing::info!("đã trao lời mời qua mã ngắn cho nút {}", peer.short())
            }
            CodeReply::Refused(why) => {
                tracing::warn!("từ chối mã ngắn của nút {}: {why:?}", peer.short())
            }
        }
        tx.send(&code::encode_reply(&reply)).await?;
        let _ = tx.finish();
        let _ = tokio::time::timeout(Duration::from_millis(ANSWER_WAIT_MS), rx.recv()).await;
        Ok(())
    }

    fn answer_request(&self, request: &CodeRequest) -> Result<CodeReply, NodeError> {
        let desk = self.code_desk.clone();
        self.with(|node| -> Result<CodeReply, NodeError> {
            let mut codes = node.short_codes()?;
            if codes.is_empty() {
                return Ok(CodeReply::Refused(code::CodeRefusal::Wrong));
            }
            let text = node.invite(&request.node, None).ok();
            let hub = node.id();
            let reply = desk
                .lock()
                .map_err(|_| NodeError::PeerClosed(request.node.short()))?
                .answer(&mut codes, request, &hub, now_ms(), |_| text);
            node.set_short_codes(&codes)?;
            Ok(reply)
        })?
    }
}

/// Turns a short code into the town's invite at `hub` and verifies it: the
/// hub's key is not known yet, so this one connection accepts any key, and
/// the invite is believed only if its MAC proves the code and it names
/// this node and the key that answered. Nothing is written here.
pub async fn fetch_invite(
    dir: &Path,
    typed: &str,
    hub: &PeerAddr,
    net: crate::NetConfig,
) -> Result<Invite, NodeError> {
    let short = ShortCode::parse(typed)?;
    let key = crate::key_files::read_key(dir, &dir.join(crate::node::KEY_FILE))?;
    let me = key.id();
    // Argon2 takes a moment: done before connecting, off the runtime's
    // threads.
    let secret = {
        let short = short.clone();
        tokio::task::spawn_blocking(move || code::derive_key(&short, &me))
            .await
            .map_err(|_| NodeError::PeerClosed(hub.to_string()))?
    };
    let resolved = hub.resolve(None).await?;
    let any: std::net::SocketAddr = if resolved.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    }
    .parse()
    .map_err(|_| NodeError::BadAddress(hub.to_string()))?;
    let endpoint = Endpoint::bind(&key, any, Arc::new(|_: &NodeId| true), net)?;
    // A node added a moment ago may be refused while the hub re-reads its
    // roster (every second), as in `join_and_sync`.
    let mut attempt = 0;
    let conn = loop {
        match endpoint.connect(resolved, None).await {
            Err(danvan_net::NetError::RefusedByPeer { .. })
                if attempt + 1 < crate::service::JOIN_ATTEMPTS_MAX =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => break other?,
        }
    };
    let hub_id = conn.peer();
    let (mut tx, mut rx) = conn.open_stream().await?;
    tx.send(&code::encode_request(&CodeRequest {
        lookup: short.lookup(),
        node: me,
        proof: code::request_proof(&secret, &me, &hub_id),
    }))
    .await?;
    let frame = tokio::time::timeout(Duration::from_millis(ANSWER_WAIT_MS), rx.recv())
        .await
        .map_err(|_| NodeError::PeerClosed(hub_id.short()))??
        .ok_or_else(|| NodeError::PeerClosed(hub_id.short()))?;
    let _ = tx.finish();
    conn.close("xong");
    endpoint.close();
    let unproven = || NodeError::ShortCodeUnproven(hub.to_string());
    match code::decode_reply(&frame).map_err(|_| unproven())? {
        CodeReply::Refused(why) => Err(NodeError::ShortCodeRefused(why)),
        CodeReply::Invite { text, mac } => {
            if !code::check_invite(&secret, &text, &mac) {
                return Err(unproven());
            }
            let invite = Invite::decode(&text)?;
            if invite.node != me || invite.hub != hub_id {
                return Err(unproven());
            }
            Ok(invite)
        }
    }
}

/// `join --code`: the invite from the code, then [`crate::join_and_sync`].
pub async fn join_with_code(
    dir: &Path,
    typed: &str,
    hub: &PeerAddr,
    net: crate::NetConfig,
    progress: &mut (dyn FnMut(&crate::Progress) + Send),
) -> Result<(Invite, SyncSummary), NodeError> {
    let invite = fetch_invite(dir, typed, hub, net.clone()).await?;
    let summary = crate::join_and_sync(dir, &invite, net, progress).await?;
    Ok((invite, summary))
}
