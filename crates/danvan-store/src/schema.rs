//! Schema migrations, by `PRAGMA user_version`.

use rusqlite::Connection;

use crate::OpenError;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 10;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
-- The append-only change log: the feed peers sync from. `seq` is local and
-- monotonic; `hash` makes storing a change twice a no-op.
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    hash      BLOB NOT NULL UNIQUE,
    doc       BLOB NOT NULL,
    author    BLOB NOT NULL,
    signature BLOB NOT NULL,
    body      BLOB NOT NULL,
    -- The epoch suffix of the change's Automerge actor: the author's store
    -- life it was made in.
    actor_epoch  BLOB NOT NULL,
    -- The peer store it was received from (NULL: made here or imported).
    source       BLOB,
    source_epoch BLOB
);
CREATE INDEX changes_doc ON changes (doc, seq);
CREATE INDEX changes_author ON changes (author, seq);
-- Per document: the compacted snapshot and how many changes came after it.
CREATE TABLE documents (
    doc          BLOB PRIMARY KEY,
    kind         TEXT,
    unit         TEXT,
    project      TEXT,
    snapshot     BLOB,
    snapshot_seq INTEGER NOT NULL DEFAULT 0,
    pending      INTEGER NOT NULL DEFAULT 0
);
-- Projection for lists, search and reports: derived, rebuildable, never authoritative.
CREATE TABLE records (
    doc       BLOB PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    kind      TEXT NOT NULL,
    unit      TEXT NOT NULL,
    project   TEXT,
    title     TEXT NOT NULL,
    date      TEXT,
    date_from TEXT,
    date_to   TEXT,
    status    TEXT,
    conflicts INTEGER NOT NULL DEFAULT 0,
    json      TEXT NOT NULL
);
-- The diacritic-folded text of each record, kept apart from `records` so
-- that a text search scans a small table (reports scan `records` in order).
CREATE TABLE record_search (
    doc    BLOB PRIMARY KEY,
    search TEXT NOT NULL
);
CREATE INDEX records_kind_unit ON records (kind, unit);
CREATE INDEX records_unit ON records (unit);
CREATE INDEX records_date ON records (date_from, date_to);
CREATE INDEX records_conflicts ON records (conflicts) WHERE conflicts > 0;
-- How far this node has pulled from each peer's feed, and what the last session did.
CREATE TABLE peers (
    peer       BLOB PRIMARY KEY,
    epoch      BLOB,
    seq        INTEGER NOT NULL DEFAULT 0,
    last_sync  INTEGER,
    sent       INTEGER NOT NULL DEFAULT 0,
    received   INTEGER NOT NULL DEFAULT 0,
    bytes_sent INTEGER NOT NULL DEFAULT 0,
    bytes_received INTEGER NOT NULL DEFAULT 0,
    behind     INTEGER NOT NULL DEFAULT 0,
    name       TEXT,
    addr       TEXT
);
-- Nodes this node syncs with (until the signed roster replaces this list).
CREATE TABLE trusted (
    peer  BLOB PRIMARY KEY,
    addr  TEXT,
    name  TEXT,
    added INTEGER NOT NULL
);
"#;

/// Access control: the scope a checkpoint was pulled under, and the audit log.
const V2: &str = r#"
-- The read scope (role, units, project) this node had when it pulled up to
-- `seq`: when the roster changes its scope, pulling restarts from 0.
ALTER TABLE peers ADD COLUMN scope TEXT;
-- What happened, for `danvan audit`: sessions, and every rejected change,
-- connection or roster with the reason. Never read by sync.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    event  TEXT NOT NULL,
    peer   BLOB,
    detail TEXT NOT NULL
);
"#;

/// Indexes for the web app's pages at a town's scale (100,000 records).
const V3: &str = r#"
-- The overview counts each kind's records overlapping a period. Few records
-- end after a recent period starts, nearly all start before it ends, so the
-- end date leads; the start date is in the index so that a count reads no row.
CREATE INDEX records_kind_date_to ON records (kind, date_to, date_from);
-- A list of one kind, newest first, stops after its page instead of sorting
-- every record of the kind.
CREATE INDEX records_kind_date_from ON records (kind, date_from);
-- Open petitions by status, without reading the closed ones.
CREATE INDEX records_kind_status ON records (kind, status);
"#;

/// Refused work: which changes held here a peer said it refused, so the
/// record shows "chưa được chấp nhận" until that peer accepts it or a later
/// change of the same author to that record; and quarantined changes.
const V4: &str = r#"
CREATE TABLE refusals (
    hash   BLOB NOT NULL,
    peer   BLOB NOT NULL,
    doc    BLOB NOT NULL,
    author BLOB NOT NULL,
    reason TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (hash, peer)
);
CREATE INDEX refusals_doc ON refusals (doc);
-- Stored changes that cannot be sent (larger than sync carries, or a body
-- that is not the change its hash names: bit rot, tampering, older
-- builds): never offered to a peer, so one bad row never stops a sync.
-- The row itself stays in `changes`, for `check` and for repair.
CREATE TABLE quarantine (
    hash   BLOB PRIMARY KEY,
    reason TEXT NOT NULL,
    at     INTEGER NOT NULL
);
"#;

/// Full-text search over `record_search`: a search reads the index of its
/// words instead of scanning every record's text (100,000 records: a 27 MB
/// scan per query). External content: the text is stored once, in
/// `record_search`; triggers keep the index in step with every write.
const V5: &str = r#"
CREATE VIRTUAL TABLE record_search_fts USING fts5(
    search, content = 'record_search', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER record_search_fts_insert AFTER INSERT ON record_search BEGIN
    INSERT INTO record_search_fts (rowid, search) VALUES (new.rowid, new.search);
END;
CREATE TRIGGER record_search_fts_delete AFTER DELETE ON record_search BEGIN
    INSERT INTO record_search_fts (record_search_fts, rowid, search)
        VALUES ('delete', old.rowid, old.search);
END;
CREATE TRIGGER record_search_fts_update AFTER UPDATE ON record_search BEGIN
    INSERT INTO record_search_fts (record_search_fts, rowid, search)
        VALUES ('delete', old.rowid, old.search);
    INSERT INTO record_search_fts (rowid, search) VALUES (new.rowid, new.search);
END;
INSERT INTO record_search_fts (record_search_fts) VALUES ('rebuild');
"#;

/// Changes set aside when a newer roster revoked their author and the town
/// did not keep them, or that depend on such a change (see
/// `revocation.rs`): the whole row, moved out of `changes` so that no
/// document, feed or check reads it, kept for repair with its reason.
const V6: &str = r#"
CREATE TABLE set_aside (
    hash         BLOB PRIMARY KEY,
    seq          INTEGER NOT NULL,
    doc          BLOB NOT NULL,
    author       BLOB NOT NULL,
    signature    BLOB NOT NULL,
    body         BLOB NOT NULL,
    actor_epoch  BLOB NOT NULL,
    source       BLOB,
    source_epoch BLOB,
    reason       TEXT NOT NULL,
    roster       INTEGER NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX set_aside_doc ON set_aside (doc);
"#;

/// The feed by reader: for each change of a record with a header, who may
/// read it by unit (`reader` is the record's unit, or `*` for a task, which
/// every role reads; see `Scope::may_read`). A peer with a scope of a few
/// units is served from here in the order of the log, reading only its
/// own entries, instead of the whole log (a province hub holds a hundred
/// units). Kept by triggers on both tables, whichever row comes first; an
/// entry whose change was set aside is left and skipped by the join.
const V7: &str = r#"
CREATE TABLE feed_readers (
    reader TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (reader, seq)
) WITHOUT ROWID;
CREATE TRIGGER feed_readers_change AFTER INSERT ON changes BEGIN
    INSERT OR IGNORE INTO feed_readers (reader, seq)
        SELECT CASE WHEN d.kind = 'task' THEN '*' ELSE d.unit END, new.seq
        FROM documents d WHERE d.doc = new.doc AND d.unit IS NOT NULL;
END;
CREATE TRIGGER feed_readers_header AFTER UPDATE OF kind, unit ON documents
WHEN new.unit IS NOT NULL AND (old.unit IS NOT new.unit OR old.kind IS NOT new.kind) BEGIN
    INSERT OR IGNORE INTO feed_readers (reader, seq)
        SELECT CASE WHEN new.kind = 'task' THEN '*' ELSE new.unit END, c.seq
        FROM changes c WHERE c.doc = new.doc;
END;
CREATE TRIGGER feed_readers_document AFTER INSERT ON documents
WHEN new.unit IS NOT NULL BEGIN
    INSERT OR IGNORE INTO feed_readers (reader, seq)
        SELECT CASE WHEN new.kind = 'task' THEN '*' ELSE new.unit END, c.seq
        FROM changes c WHERE c.doc = new.doc;
END;
INSERT OR IGNORE INTO feed_readers (reader, seq)
    SELECT CASE WHEN d.kind = 'task' THEN '*' ELSE d.unit END, c.seq
    FROM changes c JOIN documents d ON d.doc = c.doc WHERE d.unit IS NOT NULL;
"#;

/// A search's rows without reading `records` itself: a search finds its
/// records in the full-text index and looks each up by `doc`; the table's
/// rows carry the whole record's JSON (~750 B each), so 9,240 matches were
/// 9,240 reads of scattered table pages, most outside the page cache. This
/// index holds the list's and the filters' columns in ~130 B per record
/// (see ARCHITECTURE.md, "Side targets of issue 13"); searches name it
/// (`INDEXED BY`), since SQLite prefers the unique index on `doc`.
const V8: &str = r#"
CREATE INDEX records_list ON records (doc, id, kind, unit, project, title, date, date_from, date_to, status, conflicts);
"#;

/// Changes held without a signature of their own (protocol 4: a message
/// carries one signature per author's newest change of a record, whose
/// hash chain covers that author's earlier ones): `signature` is empty and
/// `covered_by` names the held change whose signature covers it (see
/// ARCHITECTURE.md, "Protocol 4"). Such a change is only ever sent
/// together with everything from it up to that one.
const V9: &str = r#"
ALTER TABLE changes ADD COLUMN covered_by BLOB;
ALTER TABLE set_aside ADD COLUMN covered_by BLOB;
"#;

/// A search's rows from `record_search` alone: beside the folded text, the
/// table holds each record's list and filter columns (a copy of `records`'
/// ~130 B), so each match is one read by rowid, the full-text index's own
/// key, instead of a rowid read for the `doc` and then a probe of
/// `records_list` by `doc` (schema 8), which this drops. "nguyễn văn" over
/// 100,000 records: ~50 ms → ~38 ms (see ARCHITECTURE.md, "Side targets of
/// issue 13"). The index is written again only when a record's text
/// changes, not at every write of the row.
const V10: &str = r#"
DROP TRIGGER record_search_fts_update;
CREATE TRIGGER record_search_fts_update AFTER UPDATE OF search ON record_search
WHEN old.search IS NOT new.search BEGIN
    INSERT INTO record_search_fts (record_search_fts, rowid, search)
        VALUES ('delete', old.rowid, old.search);
    INSERT INTO record_search_fts (rowid, search) VALUES (new.rowid, new.search);
END;
ALTER TABLE record_search ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE record_search ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE record_search ADD COLUMN unit TEXT NOT NULL DEFAULT '';
ALTER TABLE record_search ADD COLUMN project TEXT;
ALTER TABLE record_search ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE record_search ADD COLUMN date TEXT;
ALTER TABLE record_search ADD COLUMN date_from TEXT;
ALTER TABLE record_search ADD COLUMN date_to TEXT;
ALTER TABLE record_search ADD COLUMN status TEXT;
ALTER TABLE record_search ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;
DELETE FROM record_search WHERE doc NOT IN (SELECT doc FROM records);
UPDATE record_search SET
    (id, kind, unit, project, title, date, date_from, date_to, status, conflicts) =
    (SELECT id, kind, unit, project, title, date, date_from, date_to, status, conflicts
       FROM records WHERE records.doc = record_search.doc);
DROP INDEX records_list;
"#;

/// The migrations in order: the `n`th brings the schema to version `n`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1, V2, V3, V4, V5, V6, V7, V8, V9, V10];

/// Brings the schema to [`SCHEMA_VERSION`], refusing a newer one.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), OpenError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(OpenError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    // Each step in its own transaction, so an interrupted upgrade resumes
    // from the last version it finished.
    for (to, sql) in (1..).zip(MIGRATIONS) {
        if version < to {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", to)?;
            tx.commit()?;
        }
    }
    Ok(())
}
