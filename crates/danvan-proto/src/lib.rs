//! The sans-IO sync engine of danvan: the wire format, the sync session state
//! machine, and the sneakernet bundle format.
//!
//! This crate never does I/O: no sockets, no files, no clock, no OS
//! randomness. A driver feeds it bytes and the current time, and takes the
//! bytes to send and the events to show out of it.

mod bundle;

pub use bundle::{BUNDLE_PAYLOAD_BYTES_MAX, BundleError, decode_bundle, encode_bundle};
