//! Test helpers and the deterministic simulator of danvan's sync.
//!
//! - [`MemReplica`]: an in-memory store implementing [`danvan_proto::Replica`].
//! - [`TestNode`]: a key and a store, making real signed Automerge changes.
//! - [`Pair`]: two nodes and one session over a link with a fixed delay,
//!   stepped by hand (deliver, inject, drop, time out).
//! - [`run_simulation`]: many nodes, faulty links, crashes, restores and
//!   partitions from one seed; then the invariants.
//!
//! - [`TempDir`]: a temporary directory removed on drop, for every test crate.
//! - [`fuzz_targets`]: the bodies of the fuzz targets in `fuzz/`, which the
//!   e2e tests also replay over the saved corpus.
//!
//! Never used in production code: it trades speed and memory for clarity.

pub mod fuzz_targets;
mod node;
mod pair;
mod replica;
mod sim;
mod temp;

pub use node::{TestNode, build_document};
pub use pair::{Pair, Side};
pub use replica::MemReplica;
pub use sim::{SimConfig, SimFailure, SimReport, run_simulation};
pub use temp::TempDir;
