//! One QUIC endpoint per node, which both accepts and dials, and the verified
//! connections it yields.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use danvan_model::{NodeId, NodeKey};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::crypto::CryptoProvider;
use rustls::sign::{CertifiedKey, SingleCertAndKey};

use crate::error::{connection_error, peer_refusal};
use crate::frame::{ByteCounters, FrameReceiver, FrameSender, StreamContext};
use crate::verify::{PinnedPeer, Refusal, RefusalSlot, TrustFn};
use crate::{Backoff, NetConfig, NetError, cert};

/// The ALPN protocol id of danvan's sync transport, version 1.
pub const ALPN: &[u8] = b"danvan/1";

/// Application close code of an orderly close.
const CLOSE_NORMAL: u32 = 0;

/// How often a dialer looks whether the server has confirmed the handshake.
/// There is no event for it in quinn; a few milliseconds is well below any
/// real round trip and costs nothing measurable.
const CONFIRM_POLL: Duration = Duration::from_millis(2);

/// What every handshake of this endpoint shares.
struct Shared {
    id: NodeId,
    provider: Arc<CryptoProvider>,
    certified: Arc<CertifiedKey>,
    trust: TrustFn,
    config: NetConfig,
    transport: Arc<quinn::TransportConfig>,
    /// The socket's address, real port included: what the server side
    /// names as its preferred address (see `server_config`).
    local: SocketAddr,
}

/// A node's QUIC endpoint: one UDP socket that accepts peers and dials them.
pub struct Endpoint {
    quic: quinn::Endpoint,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.shared.id)
            .field("local_addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Opens a UDP socket on `addr` (port 0 picks a free port) with the
    /// node's key as its TLS identity. `trust` decides, at every handshake and
    /// in both directions, which peers are let in. Must be called inside a
    /// tokio runtime.
    pub fn bind(
        key: &NodeKey,
        addr: SocketAddr,
        trust: TrustFn,
        config: NetConfig,
    ) -> Result<Endpoint, NetError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = cert::certified_key(key, &provider)?;
        Self::bind_identity(key.id(), certified, provider, addr, trust, config)
    }

    /// [`Endpoint::bind`] with a ready TLS identity (tests use it to forge one).
    pub(crate) fn bind_identity(
        id: NodeId,
        certified: Arc<CertifiedKey>,
        provider: Arc<CryptoProvider>,
        addr: SocketAddr,
        trust: TrustFn,
        config: NetConfig,
    ) -> Result<Endpoint, NetError> {
        config.validate()?;
        let transport = config.transport()?;
        let bind_error = |source| NetError::Bind { addr, source };
        let socket = std::net::UdpSocket::bind(addr).map_err(bind_error)?;
        let local = socket.local_addr().map_err(bind_error)?;
        let shared = Arc::new(Shared {
            id,
            provider,
            certified,
            trust,
            config,
            transport,
            local,
        });
        // Every incoming connection gets its own config in `accept`; this one
        // only lets quinn hand incoming connections to us, and verifies like the rest.
        let server_config = if shared.config.dial_only {
            None
        } else {
            Some(shared.server_config(addr, RefusalSlot::default())?)
        };
        let quic = quinn::Endpoint::new(
            shared.config.endpoint(),
            server_config,
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(bind_error)?;
        Ok(Endpoint { quic, shared })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.shared.id
    }

    /// The address the socket is bound to (with the real port if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        // The socket exists for the endpoint's whole life; the error arm is
        // only reachable if the OS loses it, and then the unspecified address says so.
        self.quic
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Dials `addr` and completes the mutual TLS handshake. The peer must be
    /// trusted and, if `expected` is given, be exactly that node. Returns only
    /// once the peer has also accepted our key, so a refusal is reported here
    /// rather than on the first stream.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        expected: Option<NodeId>,
    ) -> Result<Connection, NetError> {
        self.dial(addr, expected, true).await
    }

    /// Dials like [`Endpoint::connect`], but returns as soon as our side of
    /// the handshake is done, without waiting for the peer's confirmation
    /// (its HANDSHAKE_DONE, a round trip later): the first frame written
    /// leaves a round trip sooner, ~0.8 s on 2G. The peer has our key by
    /// then and reads nothing of ours before it has checked it. A peer
    /// that refuses our key closes the connection instead, and the first
    /// stream fails with the same [`NetError::RefusedByPeer`] (or
    /// [`NetError::PeerBusy`]) that `connect` would have returned.
    pub async fn connect_early(
        &self,
        addr: SocketAddr,
        expected: Option<NodeId>,
    ) -> Result<Connection, NetError> {
        self.dial(addr, expected, false).await
    }

    async fn dial(
        &self,
        addr: SocketAddr,
        expected: Option<NodeId>,
        confirmed: bool,
    ) -> Result<Connection, NetError> {
        let shared = &self.shared;
        self.check_capacity(addr)?;
        let refusal = RefusalSlot::default();
        let client_config = shared.client_config(addr, expected, refusal.clone())?;
        let connecting = self
            .quic
            .connect_with(client_config, addr, cert::SERVER_NAME)
            .map_err(|e| match e {
                quinn::ConnectError::EndpointStopping => NetError::EndpointClosed,
                other => NetError::Connect {
                    addr,
                    reason: other.to_string(),
                },
            })?;
        let handshake = async {
            let quic = connecting.await?;
            if confirmed {
                wait_confirmed(&quic).await?;
            }
            Ok(quic)
        };
        let quic = match tokio::time::timeout(shared.config.connect_timeout(), handshake).await {
            Err(_elapsed) => {
                return Err(NetError::ConnectTimeout {
                    addr,
                    timeout_ms: shared.config.connect_timeout_ms,
                });
            }
            Ok(Err(e)) => return Err(shared.handshake_error(addr, &refusal, e)),
            Ok(Ok(quic)) => quic,
        };
        shared.connection(quic)
    }

    /// Dials like [`Endpoint::connect`], retrying transient failures (no
    /// answer, lost link, busy peer) after the delays of `backoff`. A refusal
    /// is never retried: trying again would only be refused again.
    /// `random` supplies one uniformly random `u64` per retry.
    pub async fn connect_with_retry(
        &self,
        addr: SocketAddr,
        expected: Option<NodeId>,
        backoff: &Backoff,
        random: &mut (impl FnMut() -> u64 + Send),
    ) -> Result<Connection, NetError> {
        let mut attempt = 0;
        loop {
            let error = match self.connect(addr, expected).await {
                Ok(connection) => return Ok(connection),
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) => e,
            };
            // Draw randomness only for a retry that will happen, so that a
            // replayed schedule consumes the same values.
            let delay_ms = if attempt < backoff.retries_max {
                backoff.delay_ms(attempt, random())
            } else {
                None
            };
            let Some(delay_ms) = delay_ms else {
                tracing::warn!(%addr, attempts = attempt + 1, "bỏ cuộc: {error}");
                return Err(error);
            };
            tracing::debug!(%addr, attempt, delay_ms, "thử lại sau: {error}");
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            attempt += 1;
        }
    }

    /// Waits for the next incoming connection and completes its handshake;
    /// the peer's key has been verified and trusted when this returns `Ok`.
    /// An `Err` concerns that one connection only: log it and call again.
    /// `None` means the endpoint was closed.
    ///
    /// Handshakes are completed one at a time, each within
    /// `connect_timeout_ms`; a node has few peers, so this is not a bottleneck.
    pub async fn accept(&self) -> Option<Result<Connection, NetError>> {
        let incoming = self.quic.accept().await?;
        let addr = incoming.remote_address();
        if let Err(e) = self.check_capacity(addr) {
            tracing::warn!(%addr, "{e}");
            incoming.refuse();
            return Some(Err(e));
        }
        let shared = &self.shared;
        let refusal = RefusalSlot::default();
        let server_config = match shared.server_config(addr, refusal.clone()) {
            Ok(config) => config,
            Err(e) => {
                incoming.refuse();
                return Some(Err(e));
            }
        };
        let connecting = match incoming.accept_with(Arc::new(server_config)) {
            Ok(connecting) => connecting,
            Err(e) => return Some(Err(shared.handshake_error(addr, &refusal, e))),
        };
        let result = match tokio::time::timeout(shared.config.connect_timeout(), connecting).await {
            Err(_elapsed) => Err(NetError::ConnectTimeout {
                addr,
                timeout_ms: shared.config.connect_timeout_ms,
            }),
            Ok(Err(e)) => Err(shared.handshake_error(addr, &refusal, e)),
            Ok(Ok(quic)) => shared.connection(quic),
        };
        Some(result)
    }

    /// Closes every connection at once and stops accepting. Frames not yet
    /// delivered are lost; finish streams and let the peer answer first.
    pub fn close(&self) {
        self.quic
            .close(quinn::VarInt::from_u32(CLOSE_NORMAL), b"endpoint closed");
    }

    /// Waits until every connection has been closed and the peers told, so
    /// that they do not wait out their idle timeout.
    pub async fn wait_idle(&self) {
        self.quic.wait_idle().await;
    }

    fn check_capacity(&self, addr: SocketAddr) -> Result<(), NetError> {
        let connections_max = self.shared.config.connections_max;
        if self.quic.open_connections() >= connections_max {
            return Err(NetError::TooManyConnections {
                addr,
                connections_max,
            });
        }
        Ok(())
    }
}

impl Shared {
    fn verifier(
        &self,
        addr: SocketAddr,
        expected: Option<NodeId>,
        refusal: RefusalSlot,
    ) -> Arc<PinnedPeer> {
        Arc::new(PinnedPeer::new(
            self.trust.clone(),
            expected,
            self.provider.signature_verification_algorithms,
            addr,
            refusal,
        ))
    }

    fn client_config(
        &self,
        addr: SocketAddr,
        expected: Option<NodeId>,
        refusal: RefusalSlot,
    ) -> Result<quinn::ClientConfig, NetError> {
        let mut tls = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .dangerous()
            .with_custom_certificate_verifier(self.verifier(addr, expected, refusal))
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(self.certified.clone())));
        tls.alpn_protocols = vec![ALPN.to_vec()];
        // No 0-RTT: early data can be replayed. No resumption either: a resumed
        // session skips the certificate, and so the trust check.
        tls.enable_early_data = false;
        tls.resumption = rustls::client::Resumption::disabled();
        let quic = QuicClientConfig::try_from(tls).map_err(tls_error)?;
        let mut config = quinn::ClientConfig::new(Arc::new(quic));
        config.transport_config(self.transport.clone());
        Ok(config)
    }

    fn server_config(
        &self,
        addr: SocketAddr,
        refusal: RefusalSlot,
    ) -> Result<quinn::ServerConfig, NetError> {
        let mut tls = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_client_cert_verifier(self.verifier(addr, None, refusal))
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(self.certified.clone())));
        tls.alpn_protocols = vec![ALPN.to_vec()];
        // See `client_config`: no 0-RTT, no session tickets.
        tls.max_early_data_size = 0;
        tls.send_tls13_tickets = 0;
        let quic = QuicServerConfig::try_from(tls).map_err(tls_error)?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
        config.transport_config(self.transport.clone());
        // Our own address as the "preferred address": it carries the one
        // spare connection id a peer is given inside the handshake flight,
        // in bytes that are padding otherwise, instead of a NEW_CONNECTION_ID
        // packet of its own (46 bytes of every check-in; ARCHITECTURE.md,
        // Decisions). quinn takes the id and never moves to the address; a
        // client that did would reach the same socket, or (bound to
        // 0.0.0.0) fail to validate that path and stay on the one it has.
        match self.local {
            SocketAddr::V4(local) => config.preferred_address_v4(Some(local)),
            SocketAddr::V6(local) => config.preferred_address_v6(Some(local)),
        };
        Ok(config)
    }

    /// Wraps a handshaken QUIC connection, reading the peer's id from the
    /// certificate the verifier accepted.
    fn connection(&self, quic: quinn::Connection) -> Result<Connection, NetError> {
        let addr = quic.remote_address();
        let peer = quic
            .peer_identity()
            .and_then(|identity| {
                identity
                    .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                    .ok()
            })
            .and_then(|certs| certs.first().map(cert::node_id))
            .unwrap_or_else(|| Err("thiếu chứng chỉ".to_string()));
        let peer = match peer {
            Ok(peer) => peer,
            Err(reason) => {
                quic.close(quinn::VarInt::from_u32(CLOSE_NORMAL), b"bad certificate");
                return Err(NetError::BadCertificate { addr, reason });
            }
        };
        tracing::debug!(%addr, peer = %peer.short(), "đã kết nối");
        Ok(Connection {
            quic,
            peer,
            context: StreamContext {
                addr,
                us: self.id,
                frame_bytes_max: self.config.frame_bytes_max,
                counters: Arc::new(ByteCounters::default()),
            },
        })
    }

    /// Turns a failed handshake into the error the user should see: our own
    /// verifier's refusal if there was one, otherwise what the peer said.
    fn handshake_error(
        &self,
        addr: SocketAddr,
        refusal: &RefusalSlot,
        error: quinn::ConnectionError,
    ) -> NetError {
        let ours = refusal.lock().ok().and_then(|mut slot| slot.take());
        match ours {
            Some(Refusal::Untrusted(peer)) => return NetError::Untrusted { peer, addr },
            Some(Refusal::Unexpected { expected, actual }) => {
                return NetError::UnexpectedPeer {
                    addr,
                    expected,
                    actual,
                };
            }
            Some(Refusal::BadCertificate(reason)) => {
                return NetError::BadCertificate { addr, reason };
            }
            None => {}
        }
        if let Some(refused) = peer_refusal(addr, self.id, &error) {
            return refused;
        }
        match &error {
            quinn::ConnectionError::LocallyClosed => NetError::EndpointClosed,
            quinn::ConnectionError::TimedOut => NetError::Connect {
                addr,
                reason: "không nhận được phản hồi".to_string(),
            },
            other => NetError::Connect {
                addr,
                reason: other.to_string(),
            },
        }
    }
}

/// Waits until the server confirms the handshake (its HANDSHAKE_DONE frame).
///
/// In TLS 1.3 the client finishes its side of the handshake before the
/// server has checked the client's certificate. Without this wait a client
/// the server refuses would get a "connection" that dies a round trip later,
/// and learn of the refusal only on its first stream.
async fn wait_confirmed(quic: &quinn::Connection) -> Result<(), quinn::ConnectionError> {
    loop {
        if quic.stats().frame_rx.handshake_done > 0 {
            return Ok(());
        }
        tokio::select! {
            error = quic.closed() => return Err(error),
            () = tokio::time::sleep(CONFIRM_POLL) => {}
        }
    }
}

fn tls_error(e: impl std::fmt::Display) -> NetError {
    NetError::Certificate(e.to_string())
}

/// A verified connection to a trusted peer. Cloning gives another handle to
/// the same connection; it closes when the last handle is dropped.
#[derive(Clone)]
pub struct Connection {
    quic: quinn::Connection,
    peer: NodeId,
    context: StreamContext,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("remote_addr", &self.remote_addr())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The QUIC connection underneath, for tests that write raw bytes.
    #[cfg(test)]
    pub(crate) fn quic(&self) -> &quinn::Connection {
        &self.quic
    }

    /// The peer's node id, taken from its verified certificate.
    pub fn peer(&self) -> NodeId {
        self.peer
    }

    /// The peer's current address (it may change if the peer roams).
    pub fn remote_addr(&self) -> SocketAddr {
        self.quic.remote_address()
    }

    /// Opens a framed bidirectional stream. The peer's
    /// [`Connection::accept_stream`] sees it when the first frame arrives.
    pub async fn open_stream(&self) -> Result<(FrameSender, FrameReceiver), NetError> {
        self.framed(self.quic.open_bi().await)
    }

    /// Waits for the peer to open a framed stream.
    pub async fn accept_stream(&self) -> Result<(FrameSender, FrameReceiver), NetError> {
        self.framed(self.quic.accept_bi().await)
    }

    /// Both halves of a stream just opened or accepted, framed, or why the
    /// connection could not give one.
    fn framed(
        &self,
        stream: Result<(quinn::SendStream, quinn::RecvStream), quinn::ConnectionError>,
    ) -> Result<(FrameSender, FrameReceiver), NetError> {
        let context = &self.context;
        let (send, recv) = stream.map_err(|e| connection_error(context.addr, context.us, e))?;
        Ok((
            FrameSender::new(send, self.context.clone()),
            FrameReceiver::new(recv, self.context.clone()),
        ))
    }

    /// Closes the connection at once with a reason the peer will see. Frames
    /// in flight are lost; close after the peer has acknowledged what matters.
    pub fn close(&self, reason: &str) {
        self.quic
            .close(quinn::VarInt::from_u32(CLOSE_NORMAL), reason.as_bytes());
    }

    /// Waits until the connection ends, and says why.
    pub async fn closed(&self) -> NetError {
        connection_error(self.context.addr, self.context.us, self.quic.closed().await)
    }

    /// Frame body bytes (without length prefixes) sent and received on this
    /// connection so far, over all its streams.
    pub fn app_bytes(&self) -> (u64, u64) {
        let counters = &self.context.counters;
        (
            counters.sent.load(Ordering::Relaxed),
            counters.received.load(Ordering::Relaxed),
        )
    }

    /// QUIC's own counters: packets, bytes on the wire, losses, round trip.
    pub fn stats(&self) -> quinn::ConnectionStats {
        self.quic.stats()
    }
}
