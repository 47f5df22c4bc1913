//! The record model of danvan: record kinds and their fields, the lifecycle
//! rules CRDT merge alone does not give, units, periods, ids and node identity.
//!
//! This crate is pure: no I/O, no clock, no randomness. Callers pass in the
//! time and random bytes they want used.

/// `Debug` for an id type: its name and short form, `DocId(abcdefgh)`, so
/// that ids in logs and test failures read as they do in lists.
macro_rules! debug_as_short {
    ($id:ident) => {
        impl std::fmt::Debug for $id {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($id), "({})"), self.short())
            }
        }
    };
}

/// The crate by its own name in its tests, for code shared with its
/// benches (`benches/read_record/uncached.rs`).
#[cfg(test)]
extern crate self as danvan_model;

mod admit;
mod dates;
mod feed;
mod fold;
mod identity;
mod ids;
mod numbers;
mod records;
mod roster;
mod unit_changes;
mod units;
pub mod vocab;

pub use admit::{
    Admitted, DocHeader, NewDocument, admit_change, admit_change_prepared, admit_new,
    prepare_creation,
};
pub use dates::{
    DateError, FUTURE_DAYS_MAX, PAST_YEARS_MAX, Period, UnusualDate, format_date, normalize_date,
    parse_date, unusual_date, vi_date, vietnam_day,
};
pub use feed::{ApplyReport, Checkpoint, FeedEntry, Rejection};
pub use fold::fold;
pub use identity::{
    CHUNK_CHANGE, CHUNK_MAGIC, COVERED_AUTHORS_MAX, ChangeError, EPOCH_LEN, NodeId, NodeIdError,
    NodeKey, SignedChange, Verified, VerifyingKeys, body_hash, check_body, parse_change_body,
    verify_group, verify_signature,
};
pub use ids::{DocId, DocIdError, SHORT_ID_LEN};
pub use numbers::{mask_id_number, money_vnd, parse_grouped, thousands};
pub use records::{
    Activity, Conflict, FieldSpec, FieldType, Header, Household, Kind, Model, ObjectionEvent,
    Parcel, Petition, Progress, Record, RecordError, SCHEMA_VERSION, StageEvent, Summary, Task,
    Visit, append_objection, append_visit, conflicts, editable_fields, field_spec, move_stage,
    parse_field, petition_deadline_days, read_header, read_record, read_record_and_conflicts,
    scalar_json, set_field, write_new,
};
pub use records::{CHANGE_BYTES_MAX, FIELD_BYTES_MAX, RECORD_BYTES_MAX, check_record_size};
pub use roster::{
    Denied, DocScope, Invite, Member, ROSTER_BYTES_MAX, ROSTER_HANDOVERS_MAX, ROSTER_KEPT_MAX,
    ROSTER_MEMBERS_MAX, Role, Roster, RosterError, Scope, SignedRoster, accept_roster,
    accept_successor, encode_kept,
};
pub use unit_changes::{
    MergeInto, UNIT_CHANGES_MAX, UNITS_PER_CHANGE_MAX, UnitAction, UnitChange, UnitChangeError,
};
pub use units::{
    DUC_PHO_2025_UNITS_TOML, QUANG_NGAI_2025_UNITS_TOML, SAMPLE_UNITS_TOML, Unit, UnitError,
    UnitKind, UnitTree,
};
