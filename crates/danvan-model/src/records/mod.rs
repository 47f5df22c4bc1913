//! The record kinds and the rules that CRDT merge alone does not give.
//!
//! One record is one Automerge document. Its root holds a `header` map, fixed
//! at creation, and the kind's fields, mapped with autosurgeon. Appending to
//! lists (visits, stage log, objections) goes through functions here that
//! only ever insert, and the household pipeline stage is read as the furthest
//! of concurrent values.
//!
//! The modules, and the rule each keeps:
//! - `kinds`: the record types and their summaries; plain values, no
//!   Automerge document in sight.
//! - `doc`: the only place a record is read from or written into a document;
//!   lists are only ever appended to, the stage is read as the furthest value.
//! - `fields`: which fields `edit --set` may change and how typed text is
//!   read; never writes.
//! - `cached`: a reader that reads each map of a document once, for
//!   `doc` and `conflicts`; answers exactly what the document would.
//! - `conflicts`: concurrent values of editable fields, shown, never resolved.
//! - `deadline`: statutory petition deadlines and when a case is closed.

/// `match` over a record with the same arm for every kind: `$r` is bound to
/// the kind's own struct, so `$body` is checked against each type.
macro_rules! each_record {
    ($record:expr, $r:ident => $body:expr) => {
        match $record {
            Record::Activity($r) => $body,
            Record::Petition($r) => $body,
            Record::Household($r) => $body,
            Record::Task($r) => $body,
            Record::Progress($r) => $body,
            Record::Model($r) => $body,
        }
    };
}

/// The record of `$kind` holding what `$make` gives, `$make`'s type being
/// inferred as that kind's struct (a deserializer, a hydrate).
macro_rules! record_of_kind {
    ($kind:expr, $make:expr) => {
        match $kind {
            Kind::Activity => Record::Activity($make),
            Kind::Petition => Record::Petition($make),
            Kind::Household => Record::Household($make),
            Kind::Task => Record::Task($make),
            Kind::Progress => Record::Progress($make),
            Kind::Model => Record::Model($make),
        }
    };
}

mod cached;
mod conflicts;
mod deadline;
pub(crate) mod doc;
mod fields;
mod kinds;

pub(crate) use cached::CachedDoc;
pub use conflicts::{Conflict, conflicts, scalar_json};
pub use deadline::petition_deadline_days;
pub(crate) use doc::read_header_from;
pub use doc::{
    append_objection, append_visit, move_stage, read_header, read_record,
    read_record_and_conflicts, set_field, write_new,
};
pub use fields::{FieldSpec, FieldType, editable_fields, field_spec, parse_field};
pub use kinds::{
    Activity, Header, Household, Kind, Model, ObjectionEvent, Parcel, Petition, Progress, Record,
    StageEvent, Summary, Task, Visit,
};

/// Version of the record layout written by this build.
pub const SCHEMA_VERSION: u64 = 1;

/// Why a record or a value was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RecordError {
    /// A kind this build does not know.
    #[error(
        "loại hồ sơ không hợp lệ: {0:?} (dùng: activity (hoạt động), petition (đơn thư), household (hộ GPMB), task (nhiệm vụ), progress (báo cáo tiến độ), model (mô hình))"
    )]
    UnknownKind(String),
    /// A coded value not in its list.
    #[error("{field}: giá trị {value:?} không hợp lệ (dùng: {allowed})")]
    BadChoice {
        /// The field.
        field: String,
        /// What was given.
        value: String,
        /// The allowed codes.
        allowed: String,
    },
    /// A value of the wrong form (number, date, …).
    #[error("{field}: {message}")]
    BadValue {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A field this kind does not have, or one that cannot be set directly.
    #[error("hồ sơ loại {kind} không có trường {field:?} sửa được (các trường: {allowed})")]
    UnknownField {
        /// The record kind, named ([`Kind::named`]).
        kind: String,
        /// The field given.
        field: String,
        /// The fields that can be set.
        allowed: String,
    },
    /// A required field is empty.
    #[error("thiếu {0}")]
    Missing(&'static str),
    /// The document does not hold a record this build can read.
    #[error("tài liệu không đọc được thành hồ sơ: {0}")]
    Unreadable(String),
    /// Automerge refused an operation.
    #[error("lỗi Automerge: {0}")]
    Automerge(String),
    /// A text field longer than [`FIELD_BYTES_MAX`].
    #[error(
        "trường {field} dài {bytes} byte, vượt giới hạn {max} byte — hãy rút ngắn nội dung (không dán tệp hay văn bản rất dài vào một trường); chưa lưu gì"
    )]
    FieldTooLong {
        /// The field.
        field: String,
        /// Its length in bytes.
        bytes: usize,
        /// The bound.
        max: usize,
    },
    /// A whole record larger than [`RECORD_BYTES_MAX`].
    #[error(
        "hồ sơ dài {bytes} byte, vượt giới hạn {max} byte để còn đồng bộ được — hãy rút ngắn nội dung hoặc tách thành nhiều hồ sơ; chưa lưu gì"
    )]
    RecordTooLarge {
        /// Its size as JSON.
        bytes: usize,
        /// The bound.
        max: usize,
    },
}

/// Longest text of one field, in bytes: 64 KiB is some thirty pages of
/// Vietnamese, more than any minute or summary needs. A record holds text,
/// not files.
pub const FIELD_BYTES_MAX: usize = 64 << 10;

/// Largest record, as JSON: a quarter of the largest change sync carries
/// ([`crate::CHANGE_BYTES_MAX`]), so that any one write of it, whatever
/// Automerge's encoding adds, stays far below what sync can carry.
pub const RECORD_BYTES_MAX: usize = 512 << 10;

/// Largest change body that sync carries (part of the protocol). No write
/// may store a larger one; a stored one (older builds) is never offered.
pub const CHANGE_BYTES_MAX: usize = 2 << 20;

/// Checks a record against [`FIELD_BYTES_MAX`] (every text anywhere in
/// it, visits and parcels included) and [`RECORD_BYTES_MAX`].
pub fn check_record_size(record: &Record) -> Result<(), RecordError> {
    fn walk(path: &str, value: &serde_json::Value) -> Result<(), RecordError> {
        match value {
            serde_json::Value::String(text) if text.len() > FIELD_BYTES_MAX => {
                Err(RecordError::FieldTooLong {
                    field: path.to_string(),
                    bytes: text.len(),
                    max: FIELD_BYTES_MAX,
                })
            }
            serde_json::Value::Array(items) => items.iter().try_for_each(|v| walk(path, v)),
            serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
                let inner = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(&inner, v)
            }),
            _ => Ok(()),
        }
    }
    let json = record.to_json();
    walk("", &json)?;
    let bytes = json.to_string().len();
    if bytes > RECORD_BYTES_MAX {
        return Err(RecordError::RecordTooLarge {
            bytes,
            max: RECORD_BYTES_MAX,
        });
    }
    Ok(())
}

impl From<automerge::AutomergeError> for RecordError {
    fn from(e: automerge::AutomergeError) -> Self {
        RecordError::Automerge(e.to_string())
    }
}

impl From<autosurgeon::ReconcileError> for RecordError {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        RecordError::Automerge(e.to_string())
    }
}
