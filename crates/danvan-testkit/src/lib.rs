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
//! - [`UNDO_SCHEMA_10`]: SQL making a store older, for the migration tests.
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

/// SQL taking a store from schema 10 back to schema 9 (the list's columns
/// out of `record_search`, its full-text trigger and `records_list` as
/// they were), for tests that build a store of an older schema and open it
/// (the migrations then run again). Leaves `user_version` to the caller.
pub const UNDO_SCHEMA_10: &str = "
    DROP TRIGGER record_search_fts_update;
    CREATE TRIGGER record_search_fts_update AFTER UPDATE ON record_search BEGIN
        INSERT INTO record_search_fts (record_search_fts, rowid, search)
            VALUES ('delete', old.rowid, old.search);
        INSERT INTO record_search_fts (rowid, search) VALUES (new.rowid, new.search);
    END;
    ALTER TABLE record_search DROP COLUMN id;
    ALTER TABLE record_search DROP COLUMN kind;
    ALTER TABLE record_search DROP COLUMN unit;
    ALTER TABLE record_search DROP COLUMN project;
    ALTER TABLE record_search DROP COLUMN title;
    ALTER TABLE record_search DROP COLUMN date;
    ALTER TABLE record_search DROP COLUMN date_from;
    ALTER TABLE record_search DROP COLUMN date_to;
    ALTER TABLE record_search DROP COLUMN status;
    ALTER TABLE record_search DROP COLUMN conflicts;
    CREATE INDEX records_list ON records
        (doc, id, kind, unit, project, title, date, date_from, date_to, status, conflicts);
";
