//! The drivers that both the `danvan-bench` command and the end-to-end tests
//! run: today the load driver (many nodes, one hub, a power cut). Like the
//! rest of this crate it never runs in production and is never published.

pub mod load;
