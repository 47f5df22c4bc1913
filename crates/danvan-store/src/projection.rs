//! The projection tables (`records`, `record_search`): derived from the
//! documents, rebuildable at any time, never read as the truth for a
//! merge. Lists, search and reports read them through one query builder.

use automerge::Automerge;
use danvan_model::DocId;
use rusqlite::{Connection, params};

use crate::documents::load_doc;
use crate::error::StoreError;
use crate::{LIST_ROWS_MAX, Store, doc_id};

/// Filters of a record list. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Kind code.
    pub kind: Option<String>,
    /// Unit ids (already rolled up through the unit tree).
    pub units: Option<Vec<String>>,
    /// Days `[from, to]` the record must overlap, YYYY-MM-DD.
    pub period: Option<(String, String)>,
    /// Status or stage code.
    pub status: Option<String>,
    /// Project.
    pub project: Option<String>,
    /// Folded words that must all occur in the record's text.
    pub words: Vec<String>,
    /// Only records with conflicts.
    pub conflicts_only: bool,
    /// At most this many rows.
    pub limit: Option<usize>,
}

/// One row of a record list.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Row {
    /// Record id.
    pub id: String,
    /// Kind code.
    pub kind: String,
    /// Owning unit.
    pub unit: String,
    /// Project.
    pub project: Option<String>,
    /// Title.
    pub title: String,
    /// Date.
    pub date: Option<String>,
    /// Status or stage.
    pub status: Option<String>,
    /// Number of conflicting fields.
    pub conflicts: i64,
    /// Why a peer refused a change of this record made or held here, if
    /// one did and nothing it accepted since settles it (the newest reason).
    pub refused: Option<String>,
}

impl Store {
    /// Resolves a full id or a unique prefix of one.
    pub fn resolve(&self, text: &str) -> Result<DocId, StoreError> {
        let prefix = text.trim().to_ascii_lowercase();
        if prefix.is_empty() {
            return Err(StoreError::NotFound(text.to_string()));
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc, id FROM records WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 5",
        )?;
        let upper = format!("{prefix}~");
        let rows: Vec<(Vec<u8>, String)> = stmt
            .query_map(params![prefix, upper], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        match rows.len() {
            0 => Err(StoreError::NotFound(text.to_string())),
            1 => doc_id(rows.into_iter().next().map(|r| r.0).unwrap_or_default()),
            _ => Err(StoreError::Ambiguous {
                prefix: text.to_string(),
                matches: rows
                    .iter()
                    .map(|r| r.1.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Lists records from the projection.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Row>, StoreError> {
        let (sql, values) = list_query(self.row_columns()?, filter);
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// How many records the filter selects (`filter.limit` is ignored),
    /// counted in the projection's indexes without reading the rows.
    pub fn count(&self, filter: &ListFilter) -> Result<u64, StoreError> {
        let (sql, values) = filter_query("COUNT(*)", filter);
        let n: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(values.iter()), |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The full JSON of the listed records, from the projection.
    pub fn list_json(&self, filter: &ListFilter) -> Result<Vec<serde_json::Value>, StoreError> {
        // A search reads `record_search`, which holds no JSON: each match's
        // is looked up in `records`.
        let column = if filter.words.is_empty() {
            "json"
        } else {
            "(SELECT json FROM records AS whole WHERE whole.doc = records.doc)"
        };
        let (sql, values) = list_query(column, filter);
        let mut stmt = self.conn.prepare(&sql)?;
        let texts = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                r.get::<_, String>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        texts
            .into_iter()
            .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    /// Hands the JSON text of every record the filter selects to `each`, in
    /// the order they are stored and without a row limit (`filter.limit` is
    /// ignored): for reports, which read many rows and need no order, so
    /// that neither SQLite sorts the texts nor the caller holds them all.
    ///
    /// The filter's index gives the rows' ids, and the rows are then read in
    /// id order: read in the index's order, every row is on another page of
    /// a table larger than the page cache, and a 6-month report over
    /// 200,000 records spent most of its time reading the same pages again
    /// (see ARCHITECTURE.md, "Side targets of issue 13").
    pub fn for_each_json<E>(
        &self,
        filter: &ListFilter,
        mut each: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<Result<(), E>, StoreError> {
        self.for_each_json_of(std::slice::from_ref(filter), |_, text| each(text))
    }

    /// [`Store::for_each_json`] of several filters in one pass: every
    /// record any of them selects, once, with its kind code. A report reads
    /// six kinds whose rows share the table's pages; one pass reads each
    /// page once instead of once per kind.
    pub fn for_each_json_of<E>(
        &self,
        filters: &[ListFilter],
        mut each: impl FnMut(&str, &str) -> Result<(), E>,
    ) -> Result<Result<(), E>, StoreError> {
        if filters.is_empty() {
            return Ok(Ok(()));
        }
        let (sql, values) = stored_order_query(filters);
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
        while let Some(row) = rows.next()? {
            let text = |i| -> Result<&str, StoreError> {
                row.get_ref(i)?
                    .as_str()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            };
            if let Err(e) = each(text(0)?, text(1)?) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// Rebuilds every projection row from the documents.
    pub fn rebuild_projections(&mut self) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM records", [])?;
        tx.execute("DELETE FROM record_search", [])?;
        let docs: Vec<Vec<u8>> = {
            let mut stmt = tx.prepare("SELECT doc FROM documents")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut n = 0;
        let mut search = SearchRows::default();
        for doc in docs {
            let doc = doc_id(doc)?;
            if let Some(automerge) = load_doc(&tx, &doc)? {
                n += project(&tx, &doc, &automerge, Some(&mut search))? as usize;
            }
        }
        search.write(&tx)?;
        tx.commit()?;
        Ok(n)
    }

    /// Counts: (records in the projection, changes, documents).
    pub fn counts(&self) -> Result<(u64, u64, u64), StoreError> {
        let q = |sql: &str| -> Result<u64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        Ok((
            q("SELECT COUNT(*) FROM records")?,
            q("SELECT COUNT(*) FROM changes")?,
            q("SELECT COUNT(*) FROM documents")?,
        ))
    }

    /// Stored changes that carry a signature of their own (protocol 4
    /// leaves an author's earlier changes of a record covered by the
    /// newest one's): the signatures a cold pull of this store received.
    pub fn signatures_held(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM changes WHERE length(signature) > 0",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Record counts grouped by (unit, kind), from the projection.
    pub fn counts_by_unit(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT unit, kind, COUNT(*) FROM records GROUP BY unit, kind ORDER BY unit, kind",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

fn list_query(columns: &str, f: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
    let (mut sql, values) = filter_query(columns, f);
    sql.push_str(" ORDER BY date_from DESC, id");
    let limit = f.limit.unwrap_or(LIST_ROWS_MAX).min(LIST_ROWS_MAX);
    sql.push_str(&format!(" LIMIT {limit}"));
    (sql, values)
}

/// The kind and JSON of the rows any of the filters selects, once each, in
/// the order they are stored: the ids from each filter's index first (a
/// list SQLite keeps sorted), then each row by its id.
fn stored_order_query(filters: &[ListFilter]) -> (String, Vec<rusqlite::types::Value>) {
    let mut values = Vec::new();
    let mut selections = Vec::new();
    for f in filters {
        let (selected, more) = filter_query_from("records.rowid", f, None, values);
        values = more;
        selections.push(selected);
    }
    let selected = selections.join(" UNION ALL ");
    (
        format!("SELECT kind, json FROM records WHERE rowid IN ({selected}) ORDER BY rowid"),
        values,
    )
}

/// The `SELECT … WHERE …` of a filter, without order or limit; read from
/// `record_search` when the filter has words.
fn filter_query(columns: &str, f: &ListFilter) -> (String, Vec<rusqlite::types::Value>) {
    let fts = (!f.words.is_empty()).then(|| fts_query(&f.words));
    filter_query_matching(columns, f, fts)
}

/// [`filter_query`] with the full-text query `fts` in place of the
/// filter's words (`search.rs` asks for its tiers so).
pub(crate) fn filter_query_matching(
    columns: &str,
    f: &ListFilter,
    fts: Option<String>,
) -> (String, Vec<rusqlite::types::Value>) {
    filter_query_from(columns, f, fts, Vec::new())
}

/// [`filter_query_matching`] whose parameters follow `values` (a query
/// made of several filters' selections).
fn filter_query_from(
    columns: &str,
    f: &ListFilter,
    fts: Option<String>,
    mut values: Vec<rusqlite::types::Value>,
) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    // With words, the full-text index finds the matching rows first, and
    // each is read by rowid from `record_search`, which holds the list's
    // and the filters' columns beside the text (schema 10): `records`' own
    // rows carry the whole record's JSON. It is named `records` here, so
    // the columns and filters read alike over either table.
    let source = if fts.is_some() {
        "record_search_fts CROSS JOIN record_search AS records
         ON records.rowid = record_search_fts.rowid"
    } else {
        "records"
    };
    let mut sql = format!("SELECT {columns} FROM {source} WHERE 1=1");
    if let Some(kind) = &f.kind {
        values.push(Value::Text(kind.clone()));
        sql.push_str(&format!(" AND kind = ?{}", values.len()));
    }
    if let Some(units) = &f.units {
        let mut marks = Vec::new();
        for u in units {
            values.push(Value::Text(u.clone()));
            marks.push(format!("?{}", values.len()));
        }
        sql.push_str(&format!(" AND unit IN ({})", marks.join(",")));
    }
    if let Some((from, to)) = &f.period {
        values.push(Value::Text(to.clone()));
        sql.push_str(&format!(" AND date_from <= ?{}", values.len()));
        values.push(Value::Text(from.clone()));
        sql.push_str(&format!(" AND date_to >= ?{}", values.len()));
    }
    if let Some(status) = &f.status {
        values.push(Value::Text(status.clone()));
        sql.push_str(&format!(" AND status = ?{}", values.len()));
    }
    if let Some(project) = &f.project {
        values.push(Value::Text(project.clone()));
        sql.push_str(&format!(" AND project = ?{}", values.len()));
    }
    if let Some(fts) = fts {
        values.push(Value::Text(fts));
        sql.push_str(&format!(" AND record_search_fts MATCH ?{}", values.len()));
    }
    if f.conflicts_only {
        sql.push_str(" AND conflicts > 0");
    }
    (sql, values)
}

/// Writes the projection row of a document; false if it holds no readable
/// record yet (e.g. its first change has not arrived).
pub(crate) fn project(
    tx: &Connection,
    doc: &DocId,
    automerge: &Automerge,
    search: Option<&mut SearchRows>,
) -> Result<bool, StoreError> {
    let Ok((record, conflicts)) = danvan_model::read_record_and_conflicts(automerge) else {
        return Ok(false);
    };
    write_projection(tx, doc, &record, conflicts as i64, search)?;
    Ok(true)
}

pub(crate) fn write_projection(
    tx: &Connection,
    doc: &DocId,
    record: &danvan_model::Record,
    conflicts: i64,
    search: Option<&mut SearchRows>,
) -> Result<(), StoreError> {
    let row = ProjectionRow::of(doc, record, conflicts);
    let key = doc.as_bytes().to_vec();
    tx.prepare_cached("UPDATE documents SET kind = ?2, unit = ?3, project = ?4 WHERE doc = ?1")?
        .execute(params![key, row.kind, row.unit, row.project])?;
    write_rows(tx, &key, row, search)
}

/// What the projection holds of one record: its `records` and
/// `record_search` rows and the header its `documents` row names. Computed
/// apart from the writing, so that a received new document's is computed
/// off the committing thread (`fresh.rs`).
#[derive(Debug)]
pub(crate) struct ProjectionRow {
    /// The header's kind, unit and project (the `documents` row's).
    pub(crate) kind: String,
    pub(crate) unit: String,
    pub(crate) project: Option<String>,
    id: String,
    pub(crate) summary: danvan_model::Summary,
    conflicts: i64,
    json: String,
}

impl ProjectionRow {
    pub(crate) fn of(doc: &DocId, record: &danvan_model::Record, conflicts: i64) -> ProjectionRow {
        let header = record.header();
        ProjectionRow {
            kind: header.kind.clone(),
            unit: header.unit.clone(),
            project: header.project.clone(),
            id: doc.to_string(),
            summary: record.summary(),
            conflicts,
            json: record.to_json().to_string(),
        }
    }
}

/// Writes (or replaces) a record's `records` and `record_search` rows; the
/// latter now, or held in `search` for the end of the transaction (with
/// the row's own strings, moved: only the JSON is dropped).
pub(crate) fn write_rows(
    tx: &Connection,
    key: &[u8],
    row: ProjectionRow,
    search: Option<&mut SearchRows>,
) -> Result<(), StoreError> {
    let summary = &row.summary;
    tx.prepare_cached(
        "INSERT INTO records (doc, id, kind, unit, project, title, date, date_from, date_to, status, conflicts, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (doc) DO UPDATE SET id = excluded.id, kind = excluded.kind, unit = excluded.unit,
           project = excluded.project, title = excluded.title, date = excluded.date,
           date_from = excluded.date_from, date_to = excluded.date_to, status = excluded.status,
           conflicts = excluded.conflicts, json = excluded.json",
    )?
    .execute(params![
        key,
        row.id,
        summary.kind,
        summary.unit,
        summary.project,
        summary.title,
        summary.date,
        summary.date_from,
        summary.date_to,
        summary.status,
        row.conflicts,
        row.json,
    ])?;
    let search_row = SearchRow {
        key: key.to_vec(),
        id: row.id,
        conflicts: row.conflicts,
        summary: row.summary,
    };
    match search {
        Some(search) => search.hold(tx, search_row)?,
        None => SearchRows::write_chunk(tx, std::slice::from_ref(&search_row))?,
    }
    Ok(())
}

/// A record's `record_search` row: its folded text and its list's and
/// filters' columns (schema 10), the same as its `records` row's.
#[derive(Debug)]
pub(crate) struct SearchRow {
    key: Vec<u8>,
    id: String,
    conflicts: i64,
    summary: danvan_model::Summary,
}

/// `record_search` rows held back while a transaction writes many records
/// (a sync batch, an import, a rebuild) and written
/// [`SEARCH_ROWS_PER_STATEMENT`] to a statement: when that many are held,
/// and the rest by [`SearchRows::write`] before the commit.
///
/// Why: SQLite opens a statement savepoint for every statement that may
/// have to be undone half-way (one that fires a trigger, an upsert), and
/// FTS5 writes the terms it holds in memory to a new index segment at each
/// savepoint. Written row by row, every record of a batch left a segment
/// of its own, which FTS5 then merged — ~5 % of a node's CPU on a cold
/// pull (`fts5SavepointMethod` in a profile of `danvan sync`). One
/// statement per few hundred rows leaves one segment per statement, and
/// what is held stays bounded. Nothing in these transactions reads
/// `record_search` between a write and the commit.
#[derive(Debug, Default)]
pub(crate) struct SearchRows {
    rows: Vec<SearchRow>,
}

/// Rows of one `record_search` statement (twelve parameters each: 3,072,
/// far below SQLite's limit of 32,766).
const SEARCH_ROWS_PER_STATEMENT: usize = 256;

impl SearchRows {
    /// Holds a row; writes the rows held once there are a statement's worth.
    /// A document held twice is written twice, in order: the upsert keeps
    /// its first row's place and its last values.
    fn hold(&mut self, tx: &Connection, row: SearchRow) -> Result<(), StoreError> {
        self.rows.push(row);
        if self.rows.len() >= SEARCH_ROWS_PER_STATEMENT {
            self.write_held(tx)?;
        }
        Ok(())
    }

    /// Writes the rows held; call it before the transaction commits.
    pub(crate) fn write(mut self, tx: &Connection) -> Result<(), StoreError> {
        self.write_held(tx)
    }

    /// Writes the rows held (at most a statement's worth: `hold` writes
    /// them as soon as there are that many) in one statement.
    fn write_held(&mut self, tx: &Connection) -> Result<(), StoreError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        Self::write_chunk(tx, &self.rows)?;
        self.rows.clear();
        Ok(())
    }

    /// One statement writing (or replacing) `rows`.
    fn write_chunk(tx: &Connection, rows: &[SearchRow]) -> Result<(), StoreError> {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
        let sql = format!(
            "INSERT INTO record_search
               (doc, search, id, kind, unit, project, title, date, date_from, date_to, status, conflicts)
             VALUES {values}
             ON CONFLICT (doc) DO UPDATE SET search = excluded.search, id = excluded.id,
               kind = excluded.kind, unit = excluded.unit, project = excluded.project,
               title = excluded.title, date = excluded.date, date_from = excluded.date_from,
               date_to = excluded.date_to, status = excluded.status, conflicts = excluded.conflicts"
        );
        let params = rusqlite::params_from_iter(rows.iter().flat_map(|row| {
            let s = &row.summary;
            [
                &row.key as &dyn rusqlite::ToSql,
                &s.search,
                &row.id,
                &s.kind,
                &s.unit,
                &s.project,
                &s.title,
                &s.date,
                &s.date_from,
                &s.date_to,
                &s.status,
                &row.conflicts,
            ]
        }));
        // The single row and the full chunk recur; other lengths occur once
        // per transaction and are not worth a place in the statement cache.
        if rows.len() == 1 || rows.len() == SEARCH_ROWS_PER_STATEMENT {
            tx.prepare_cached(&sql)?.execute(params)?;
        } else {
            tx.prepare(&sql)?.execute(params)?;
        }
        Ok(())
    }
}

/// The full-text query of a search's words: every word as the start of a
/// token, so the index returns at least every record the caller's
/// whole-word test keeps (it is a prefilter; the ranking is the node's).
/// Each word is quoted, so nothing in it is read as query syntax.
fn fts_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The columns of a [`Row`], in [`read_row`]'s order: the newest refusal's
/// reason is read with the row.
pub(crate) const ROW_COLUMNS: &str =
    "records.id, kind, unit, project, title, date, status, conflicts,
     (SELECT reason FROM refusals WHERE refusals.doc = records.doc
      ORDER BY at DESC LIMIT 1)";

/// [`ROW_COLUMNS`] while no refusal is stored (nearly always): the last
/// column is NULL without a lookup per row. On a search's 9,240 rows the
/// lookups cost ~5 ms of ~50.
const ROW_COLUMNS_NONE_REFUSED: &str =
    "records.id, kind, unit, project, title, date, status, conflicts, NULL";

impl Store {
    /// The columns a list reads for its [`Row`]s: [`ROW_COLUMNS`], or, when
    /// the store holds no refusal at all, the same columns without the
    /// refusal's lookup.
    pub(crate) fn row_columns(&self) -> Result<&'static str, StoreError> {
        let any: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM refusals)")?
            .query_row([], |r| r.get(0))?;
        Ok(if any {
            ROW_COLUMNS
        } else {
            ROW_COLUMNS_NONE_REFUSED
        })
    }
}

/// A [`Row`] from the first columns of a query that selected [`ROW_COLUMNS`].
pub(crate) fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        kind: r.get(1)?,
        unit: r.get(2)?,
        project: r.get(3)?,
        title: r.get(4)?,
        date: r.get(5)?,
        status: r.get(6)?,
        conflicts: r.get(7)?,
        refused: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::parse;
    use crate::fresh::{build_new, tests::record};
    use danvan_model::{NodeKey, SignedChange};

    /// The full-text index's segments (FTS5 keeps one `_idx` entry or more
    /// per segment).
    fn segments(store: &Store) -> i64 {
        store
            .conn
            .query_row(
                "SELECT COUNT(DISTINCT segid) FROM record_search_fts_idx",
                [],
                |r| r.get(0),
            )
            .expect("segments")
    }

    /// Every transaction that writes many records writes their search rows
    /// together: a sync batch or an import adds one index segment (written
    /// row by row, each record left a segment of its own for FTS5 to merge
    /// — 10 after 40 records), and the index agrees with the search rows.
    #[test]
    fn each_bulk_write_adds_one_index_segment_and_the_index_agrees() {
        let dir = crate::scratch_dir("projection-search-rows");
        let mut store = Store::create(&dir, [7; 8]).expect("store");
        let key = NodeKey::from_secret([6; 32]);
        let made = |from: u8| -> Vec<(DocId, Vec<SignedChange>)> {
            (from..from + 40)
                .map(|i| {
                    let doc = DocId::from_bytes([i; 16]);
                    (doc, record(&key, doc))
                })
                .collect()
        };
        let matching = |store: &Store, word: &str| -> i64 {
            store
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM record_search_fts WHERE record_search_fts MATCH ?1",
                    [word],
                    |r| r.get(0),
                )
                .expect("match")
        };
        // A sync batch of new records (`store_new`).
        let new: Vec<crate::Incoming> = made(1)
            .into_iter()
            .map(|(doc, changes)| {
                build_new(doc, changes.into_iter().map(|c| parse(c, None)).collect())
            })
            .collect();
        assert_eq!(
            store
                .apply_incoming(None, new, None)
                .expect("new")
                .documents,
            40
        );
        assert_eq!(segments(&store), 1);
        // A sync batch of creations, then one of edits to those records
        // (`after_write` for records already held).
        let records = made(41);
        let creations: Vec<crate::Incoming> = records
            .iter()
            .map(|(doc, changes)| build_new(*doc, vec![parse(changes[0].clone(), None)]))
            .collect();
        store
            .apply_incoming(None, creations, None)
            .expect("creations");
        assert_eq!(segments(&store), 2);
        assert_eq!(
            matching(&store, "khu"),
            40,
            "only the first 40 are edited yet"
        );
        let edits: Vec<crate::Incoming> = records
            .iter()
            .map(|(doc, changes)| crate::Incoming::Doc(*doc, vec![parse(changes[1].clone(), None)]))
            .collect();
        assert_eq!(
            store
                .apply_incoming(None, edits, None)
                .expect("edits")
                .documents,
            40
        );
        assert!(segments(&store) <= 3, "{}", segments(&store));
        assert_eq!(matching(&store, "khu"), 80);
        // A local write batch (an import).
        let before = segments(&store);
        let local = made(81);
        let docs: Vec<automerge::Automerge> =
            local
                .iter()
                .map(|(_, changes)| {
                    let mut am = automerge::Automerge::new();
                    am.apply_changes(changes.iter().map(|c| {
                        automerge::Change::try_from(c.body.as_slice()).expect("a change")
                    }))
                    .expect("applied");
                    am
                })
                .collect();
        let mut batch = store.batch().expect("batch");
        for ((doc, changes), automerge) in local.iter().zip(&docs) {
            batch
                .write(&crate::LocalWrite {
                    doc: *doc,
                    changes: changes.clone(),
                    automerge,
                    created: None,
                })
                .expect("written");
        }
        batch.commit().expect("committed");
        assert!(segments(&store) <= before + 1, "{}", segments(&store));
        assert_eq!(matching(&store, "khu"), 120);
        // A rebuild (every row deleted, then written again): its segments
        // say nothing here, since FTS5's merges of many small ones drop the
        // deleted entries too; what it must keep is the index's agreement.
        assert_eq!(store.rebuild_projections().expect("rebuilt"), 120);
        assert_eq!(matching(&store, "khu"), 120);
        // `rank = 1`: the index compared with the content table itself.
        store
            .conn
            .execute(
                "INSERT INTO record_search_fts (record_search_fts, rank) VALUES ('integrity-check', 1)",
                [],
            )
            .expect("the index agrees with the search rows");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A document written twice in one transaction keeps its last text, in
    /// the place (rowid) of its first.
    #[test]
    fn held_search_rows_keep_each_documents_last_text() {
        let dir = crate::scratch_dir("projection-search-held");
        let mut store = Store::create(&dir, [7; 8]).expect("store");
        let tx = store.conn.transaction().expect("tx");
        let row = |key: &[u8], text: &str, status: &str| SearchRow {
            key: key.to_vec(),
            id: format!("id-{text}"),
            conflicts: text.len() as i64,
            summary: danvan_model::Summary {
                id: format!("id-{text}"),
                kind: "petition",
                unit: "xa-a".into(),
                project: None,
                title: text.to_uppercase(),
                date: Some("2026-01-02".into()),
                date_from: Some("2026-01-02".into()),
                date_to: None,
                status: Some(status.into()),
                search: text.into(),
            },
        };
        let mut held = SearchRows::default();
        held.hold(&tx, row(b"a", "mot", "moi")).expect("held");
        held.hold(&tx, row(b"b", "hai", "moi")).expect("held");
        held.hold(&tx, row(b"a", "ba", "xong")).expect("held");
        held.write(&tx).expect("written");
        type Read = (Vec<u8>, String, String, String, String, i64);
        let rows: Vec<Read> = tx
            .prepare(
                "SELECT doc, search, id, title, status, conflicts FROM record_search ORDER BY rowid",
            )
            .expect("select")
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("read");
        let want = |key: &[u8], text: &str, status: &str| -> Read {
            let id = format!("id-{text}");
            let title = text.to_uppercase();
            (
                key.to_vec(),
                text.into(),
                id,
                title,
                status.into(),
                text.len() as i64,
            )
        };
        // Every column the search reads is the last one written.
        assert_eq!(
            rows,
            vec![want(b"a", "ba", "xong"), want(b"b", "hai", "moi")]
        );
        drop(tx);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// SQLite's plan for a filter's query, one line per step.
    fn plan(store: &Store, sql: &str, values: &[rusqlite::types::Value]) -> String {
        plan_steps(store, sql, values, false)
    }

    /// The steps of a plan; `top_only`: the query's own, without a
    /// subquery's (such as the newest refusal's sort).
    fn plan_steps(
        store: &Store,
        sql: &str,
        values: &[rusqlite::types::Value],
        top_only: bool,
    ) -> String {
        let mut stmt = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan");
        let steps: Vec<(i64, String)> = stmt
            .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                Ok((r.get(1)?, r.get(3)?))
            })
            .expect("plan rows")
            .collect::<Result<_, _>>()
            .expect("plan text");
        steps
            .into_iter()
            .filter(|(parent, _)| !top_only || *parent == 0)
            .map(|(_, step)| step)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The pages a town opens all day must not read every record: the
    /// overview's counts and open petitions seek the projection's indexes,
    /// and a search scans the small search table in its stored order and
    /// stops at its limit, without sorting every match.
    #[test]
    fn the_overview_and_search_queries_use_indexes_and_stop_early() {
        let dir = crate::scratch_dir("projection-plan");
        let store = Store::create(&dir, [7; 8]).expect("store");
        let period = ListFilter {
            kind: Some("household".into()),
            period: Some(("2026-07-01".into(), "2026-12-31".into())),
            ..ListFilter::default()
        };
        let (sql, values) = filter_query("COUNT(*)", &period);
        let counted = plan(&store, &sql, &values);
        assert!(
            counted.contains("COVERING INDEX records_kind_date_to"),
            "{counted}"
        );
        let open = ListFilter {
            kind: Some("petition".into()),
            status: Some("moi".into()),
            ..ListFilter::default()
        };
        let (sql, values) = stored_order_query(std::slice::from_ref(&open));
        let petitions = plan(&store, &sql, &values);
        assert!(petitions.contains("records_kind_status"), "{petitions}");
        // Read in stored order without sorting the texts.
        let top = plan_steps(&store, &sql, &values, true);
        assert!(
            top.contains("USING INTEGER PRIMARY KEY") && !top.contains("TEMP B-TREE"),
            "{top}"
        );
        let (sql, values) = list_query(
            "id",
            &ListFilter {
                kind: Some("household".into()),
                limit: Some(51),
                ..ListFilter::default()
            },
        );
        let listed = plan(&store, &sql, &values);
        assert!(listed.contains("records_kind_date_from"), "{listed}");
        // Every tier of a search, as `search.rs` asks for it: the index
        // first, in its own order, stopping at the limit.
        let words = ListFilter {
            words: vec!["nguyen".into(), "van".into()],
            kind: Some("household".into()),
            ..ListFilter::default()
        };
        for (tier, fts) in crate::search::tier_queries(&words.words) {
            let (mut sql, mut values) =
                filter_query_matching(&format!("{ROW_COLUMNS}, date_from"), &words, Some(fts));
            values.push(rusqlite::types::Value::Integer(5000));
            sql.push_str(" ORDER BY record_search_fts.rowid DESC LIMIT ?3");
            let searched = plan_steps(&store, &sql, &values, true);
            assert!(
                searched.contains("VIRTUAL TABLE INDEX")
                    && !searched.contains("SCAN record_search ")
                    && !searched.contains("SCAN records"),
                "{tier:?}: {searched}"
            );
            // Each match's list columns from its `record_search` row, read
            // by the index's rowid, never from `records` (whose pages hold
            // every record's JSON).
            assert!(
                searched.contains("SEARCH records USING INTEGER PRIMARY KEY (rowid=?)"),
                "{tier:?}: {searched}"
            );
            assert!(!searched.contains("TEMP B-TREE"), "{tier:?}: {searched}");
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
