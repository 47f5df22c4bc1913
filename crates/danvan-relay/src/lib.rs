//! A lossy-link relay for testing danvan's sync over bad links on loopback.
//!
//! Linux netem is not at hand in tests, so the bad link is emulated in user
//! space: a UDP relay sits between two QUIC peers and applies a link profile
//! to every datagram — delay and jitter, random and bursty loss
//! (Gilbert–Elliott), a bandwidth cap (token bucket before a bounded,
//! drop-tail queue), each direction separately, and scheduled outages. Every
//! random choice comes from a seeded rng, so a run can be replayed.
//!
//! The link model ([`Link`], [`Direction`]) is pure and takes time as an
//! argument; [`Relay`] drives it with tokio and real sockets. The relay never
//! looks inside a datagram and never talks to anything but the addresses it
//! is given (tests give it loopback addresses only).

mod link;
mod relay;

pub use link::{
    Direction, DirectionProfile, Drop, Fate, GilbertElliott, Link, LinkProfile, Outages,
    PROFILE_NAMES,
};
pub use relay::{CLIENTS_MAX, DirectionFigures, Relay, RelayError, RelayFigures};

#[cfg(test)]
mod tests;
