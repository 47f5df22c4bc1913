//! The record model of danvan: record kinds and their fields, the lifecycle
//! rules CRDT merge alone does not give, units, periods, ids and node identity.
//!
//! This crate is pure: no I/O, no clock, no randomness. Callers pass in the
//! time and random bytes they want used.

mod identity;
mod ids;

pub use identity::{
    ChangeError, EPOCH_LEN, NodeId, NodeIdError, NodeKey, SignedChange, verify_signature,
};
pub use ids::{DocId, DocIdError, SHORT_ID_LEN};
