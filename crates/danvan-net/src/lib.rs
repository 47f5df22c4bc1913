//! The QUIC transport of danvan: how two nodes find each other trustworthy
//! and exchange frames.
//!
//! Each node's Ed25519 key is its TLS identity, carried in a self-signed
//! certificate. Both sides present one (mutual TLS 1.3, ALPN `danvan/1`, no
//! 0-RTT, no session resumption) and both pin: a peer is let in only if a
//! trust callback accepts its node id, and a dialer may insist on one node.
//! Over a verified [`Connection`], streams carry length-prefixed frames of
//! bounded size. [`Backoff`] paces reconnection. No path MTU probing, and an
//! endpoint that only dials uses no connection ids: an idle check-in is
//! about the three padded datagrams the QUIC handshake requires.
//!
//! This crate never looks inside a frame: it knows nothing of records,
//! stores, rosters or the sync protocol. Who is trusted is decided by the
//! caller's callback, what the frames mean by `danvan-proto`.

mod addr;
mod backoff;
mod cert;
mod config;
mod congestion;
mod endpoint;
mod error;
mod frame;
mod verify;

#[cfg(test)]
mod tests;

pub use addr::{BadPeerAddr, PeerAddr};
pub use backoff::Backoff;
pub use config::NetConfig;
pub use endpoint::{ALPN, Connection, Endpoint};
pub use error::NetError;
pub use frame::{FrameReceiver, FrameSender};
pub use verify::TrustFn;
