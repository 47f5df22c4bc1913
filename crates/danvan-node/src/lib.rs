//! The danvan node: ties the record model, the SQLite store, the sync engine
//! and the QUIC transport together, and is the API the CLI calls.
//!
//! Record operations are synchronous (one writer per data directory); the
//! sync driver runs them on tokio. This crate holds no protocol logic of its
//! own: what goes on the wire is decided in `danvan-proto`.

mod access;
mod backup;
mod browse;
mod bulk;
pub mod demo;
mod erase;
mod error;
mod handover;
mod household;
pub mod import;
mod intake;
mod key_files;
mod lan;
mod node;
mod outgoing;
pub mod passphrase;
mod personal;
mod progress;
mod replica;
mod report;
mod report_read;
mod search;
mod served;
mod service;
mod short_code;
mod sync;
mod transfer;
mod units;

pub use access::{AUTHORITY_KEY_FILE, MemberSpec};
pub use backup::{BackupDone, RestoreDone, backup, restore};
pub use browse::{
    AuthoredConflict, ConflictValue, FieldChange, FieldHistoryEntry, HISTORY_CHANGES_MAX,
    RecordPage,
};
pub use danvan_net::{Endpoint, NetConfig, NetError, PeerAddr};
pub use danvan_proto::{Progress, SessionStats};
pub use danvan_store::{
    ApplyReport, AuditEntry, ListFilter, PeerRow, Refusal, RefusedRecord, Rejection, Row,
    TrustedNode,
};
pub use erase::{ERASED_NAME, Erased};
pub use error::{EXIT_INTERRUPTED, EXIT_REFUSED, NodeError, file_error};
pub use handover::{Adopted, TownDesk, read_roster_file};
pub use household::StageOutcome;
pub use import::ImportSummary;
pub use intake::{Ahead, AheadHandle, Via, ahead_batches_used, receive_changes, receive_with};
pub use lan::{LAN_BROWSE_MAX, LAN_SERVICE, LanAdvert, LanPeer, advertise, browse as lan_browse};
pub use node::{
    HistoryEntry, KEY_FILE, Node, Shown, UNITS_FILE, WEB_USERS_FILE, default_data_dir, now_ms,
    random_bytes,
};
pub use outgoing::{Outgoing, mask_record_json};
pub use personal::PersonalCounts;
pub use progress::{OnProgress, Work, WorkProgress};
pub use report::{ImportedTask, TaskImport, UnassignedTask};
pub use search::{Found, SEARCH_CANDIDATES_MAX, query_words};
pub use service::{
    ActivityDraft, CheckReport, Draft, DraftError, FieldError, HouseholdDraft, ListQuery,
    ModelDraft, PetitionDraft, ProgressDraft, TaskDraft, join_and_sync, refused_by_peer,
};
pub use short_code::{
    SHORT_CODE_TTL_DEFAULT_MS, SHORT_CODE_TTL_MAX_MS, ShortInvite, fetch_invite, join_with_code,
};
pub use sync::{REFUSED_LISTED_MAX, RefusedChange, SESSIONS_MAX, SharedNode, SyncSummary};
pub use transfer::{BundleExported, check_out_path, parse_parcel, write_atomic};
pub use units::{
    MergeDraft, UNIT_FILE_BYTES_MAX, UnitChangeDraft, UnitChangeRequest, UnitChangesSigned,
};

/// Today in Vietnam by this machine's clock: the day scopes are judged on.
pub fn today() -> time::Date {
    danvan_store::today()
}
