//! Limits and timers of the transport, with the reasons for their defaults.

use std::sync::Arc;
use std::time::Duration;

use crate::NetError;
use crate::congestion::PathFloorConfig;

/// Bidirectional streams a peer may have open at once on one connection. A
/// sync session needs one or two; the bound keeps a misbehaving peer from
/// making us hold state for thousands.
const STREAMS_PER_CONNECTION_MAX: u32 = 16;

/// Settings of an [`crate::Endpoint`]. Every limit has a unit in its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// A connection with no packet from the peer for this long is dead.
    /// Default 30 s: long enough for a flaky 2G link, short enough to notice a
    /// laptop that went away.
    pub idle_timeout_ms: u64,
    /// Send a keep-alive after this much silence; must be below
    /// `idle_timeout_ms` so an idle but healthy connection never times out.
    /// Default 10 s, which also keeps NAT bindings open.
    pub keep_alive_ms: u64,
    /// Largest frame sent or accepted, in bytes. A receiver refuses a larger
    /// length prefix before allocating anything. Default 4 MiB.
    pub frame_bytes_max: usize,
    /// Limit for dialing or accepting one connection, handshake included.
    /// Default 10 s.
    pub connect_timeout_ms: u64,
    /// Connections (both directions, handshakes included) this endpoint keeps
    /// at once; more are refused. Default 64: a hub serves a town's communes
    /// and field laptops, a node far fewer.
    pub connections_max: usize,
    /// The endpoint only dials (a `danvan sync` process) and never accepts.
    /// Its connections then use zero-length connection ids: packets to it
    /// carry none and the peer issues one spare id instead of four, which
    /// is a tenth of an idle check-in's bytes (ARCHITECTURE.md,
    /// Decisions). Such an endpoint is found by its address, so it must not
    /// serve: `accept` never yields. Default false.
    pub dial_only: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            idle_timeout_ms: 30_000,
            keep_alive_ms: 10_000,
            frame_bytes_max: 4 * 1024 * 1024,
            connect_timeout_ms: 10_000,
            connections_max: 64,
            dial_only: false,
        }
    }
}

impl NetConfig {
    /// Checks the values against each other and against what QUIC can carry.
    pub(crate) fn validate(&self) -> Result<(), NetError> {
        let fail = |what: &str| Err(NetError::Config(what.to_string()));
        if self.idle_timeout_ms == 0 {
            return fail("idle_timeout_ms phải lớn hơn 0");
        }
        if self.keep_alive_ms == 0 || self.keep_alive_ms >= self.idle_timeout_ms {
            return fail("keep_alive_ms phải lớn hơn 0 và nhỏ hơn idle_timeout_ms");
        }
        if self.frame_bytes_max == 0 || u32::try_from(self.frame_bytes_max).is_err() {
            return fail("frame_bytes_max phải từ 1 đến 4294967295 (độ dài khung là u32)");
        }
        if self.connect_timeout_ms == 0 {
            return fail("connect_timeout_ms phải lớn hơn 0");
        }
        if self.connections_max == 0 {
            return fail("connections_max phải lớn hơn 0");
        }
        Ok(())
    }

    /// The QUIC transport parameters shared by every connection.
    pub(crate) fn transport(&self) -> Result<Arc<quinn::TransportConfig>, NetError> {
        let idle = quinn::IdleTimeout::try_from(Duration::from_millis(self.idle_timeout_ms))
            .map_err(|_| NetError::Config("idle_timeout_ms quá lớn".to_string()))?;
        let mut transport = quinn::TransportConfig::default();
        transport
            .max_idle_timeout(Some(idle))
            .keep_alive_interval(Some(Duration::from_millis(self.keep_alive_ms)))
            .max_concurrent_bidi_streams(quinn::VarInt::from_u32(STREAMS_PER_CONNECTION_MAX))
            // Only framed bidirectional streams are used; refuse the rest.
            .max_concurrent_uni_streams(quinn::VarInt::from_u32(0))
            .datagram_receive_buffer_size(None)
            // No path MTU probing: every probe is a padded datagram of up to
            // 1452 bytes each way, acknowledged, and a check-in that moves a
            // few hundred bytes of danvan's own paid more for the probes
            // than for everything else (ARCHITECTURE.md, Decisions). Packets
            // stay at QUIC's 1200-byte floor, which every path carries.
            .mtu_discovery_config(None);
        // Cubic that a random loss on a radio link does not push below
        // the path's bandwidth-delay product (congestion.rs).
        transport.congestion_controller_factory(Arc::new(PathFloorConfig::default()));
        Ok(Arc::new(transport))
    }

    /// The endpoint settings: connection ids of quinn's default length for
    /// an endpoint that serves, none for one that only dials.
    pub(crate) fn endpoint(&self) -> quinn::EndpointConfig {
        let mut endpoint = quinn::EndpointConfig::default();
        if self.dial_only {
            endpoint.cid_generator(|| Box::new(NoConnectionIds));
        }
        endpoint
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }
}

/// Zero-length connection ids, for an endpoint that only dials: its peer
/// then routes nothing by id to it, and it tells its connections apart by
/// the peer's address (one connection per peer is all `danvan sync` makes).
struct NoConnectionIds;

impl quinn::ConnectionIdGenerator for NoConnectionIds {
    fn generate_cid(&mut self) -> quinn::ConnectionId {
        quinn::ConnectionId::new(&[])
    }

    fn cid_len(&self) -> usize {
        0
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}
