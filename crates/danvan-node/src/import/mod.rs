//! Importing households or activities from a CSV or Excel file.
//!
//! One path for every file: [`table::read`] turns a CSV (any encoding and
//! separator [`decode`] reads) or a sheet of an `.xlsx` into headers and
//! text cells, each header matched to a column of [`columns`]; every row is
//! then checked cell by cell, all errors named by row and column; only when
//! no row is bad are the new ones stored, in one transaction.
//!
//! A row already held is recognised by its record's *identity*
//! ([`identity`]: the kind, unit and the fields that name the thing —
//! a household's project, head, village and parcels; an activity's type,
//! day and title — without case or diacritics), compared with the records
//! the store holds, whoever wrote them. Importing the same file again, or
//! on another laptop after sync, stores nothing new.

pub mod columns;
pub mod decode;
mod table;
pub mod template;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use danvan_model::{Kind, Record, fold};
use danvan_store::ListFilter;

use self::columns::{Format, match_choice};
use self::table::{Row, Table};
use crate::error::NodeError;
use crate::node::Node;
use crate::progress::{OnProgress, Work, WorkProgress};
use crate::transfer::parse_parcel;

/// Errors listed before the rest are only counted.
const ERRORS_SHOWN_MAX: usize = 50;
/// Rows checked between two progress reports.
const PROGRESS_EVERY: u64 = 500;

/// What an import did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportSummary {
    /// Data rows in the file.
    pub rows: usize,
    /// Records created.
    pub new: usize,
    /// Rows already held (or twice in the file): nothing created.
    pub existing: usize,
    /// How the file was read ("CSV UTF-8, ngăn cột bằng dấu ;", "Excel, trang «Hộ»").
    pub read_as: String,
}

impl Node {
    /// Imports households or activities from a CSV file with a header row
    /// (the benchmarks' entry): the number of records created.
    pub fn import_csv(&mut self, kind: Kind, path: &Path) -> Result<usize, NodeError> {
        Ok(self
            .import_file(kind, path, None, &AtomicBool::new(false), &mut |_| {})?
            .new)
    }

    /// Imports `kind` records from a CSV or `.xlsx` file (its first sheet,
    /// or `sheet`). Every row is checked first; if any is bad, nothing is
    /// imported and each error is named by row and column. Rows already
    /// held are skipped; the new ones commit in one transaction. Stops
    /// once `stop` is set (Ctrl+C), storing nothing.
    pub fn import_file(
        &mut self,
        kind: Kind,
        path: &Path,
        sheet: Option<&str>,
        stop: &AtomicBool,
        progress: OnProgress<'_>,
    ) -> Result<ImportSummary, NodeError> {
        if columns::columns(kind).is_empty() {
            return Err(NodeError::CsvKind(kind.named()));
        }
        let table = table::read(path, kind, sheet)?;
        if table.rows.is_empty() {
            return Err(NodeError::CsvEmpty(path.to_path_buf()));
        }
        let mut held = self.identities(kind)?;
        let total = table.rows.len() as u64;
        let mut records = Vec::new();
        let mut existing = 0;
        let mut errors = Vec::new();
        let mut bad_rows = 0;
        for (i, row) in table.rows.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                return Err(interrupted());
            }
            match self.record_from_row(kind, &table, row) {
                Ok(record) => {
                    if held.insert(identity(&record)) {
                        records.push(record);
                    } else {
                        existing += 1;
                    }
                }
                Err(mut e) => {
                    bad_rows += 1;
                    errors.append(&mut e);
                }
            }
            let done = i as u64 + 1;
            if crate::progress::due(done, total, PROGRESS_EVERY) {
                progress(&WorkProgress {
                    work: Work::Import,
                    step: "Kiểm tra dòng",
                    item: "dòng",
                    done,
                    total,
                });
            }
        }
        if !errors.is_empty() {
            let count = errors.len();
            errors.truncate(ERRORS_SHOWN_MAX);
            if count > ERRORS_SHOWN_MAX {
                errors.push(format!("… và {} lỗi khác", count - ERRORS_SHOWN_MAX));
            }
            return Err(NodeError::Csv {
                path: path.to_path_buf(),
                count: bad_rows,
                rows: errors.join("\n"),
            });
        }
        let new = records.len();
        if new > 0 {
            let mut on_write = |done: u64| {
                progress(&WorkProgress {
                    work: Work::Import,
                    step: "Ghi hồ sơ",
                    item: "hồ sơ",
                    done,
                    total: new as u64,
                })
            };
            if self
                .add_many_reporting(&records, stop, &mut on_write)?
                .is_none()
            {
                return Err(interrupted());
            }
        }
        Ok(ImportSummary {
            rows: table.rows.len(),
            new,
            existing,
            read_as: table.read_as,
        })
    }

    /// The identity of every record of `kind` held.
    fn identities(&self, kind: Kind) -> Result<HashSet<String>, NodeError> {
        let filter = ListFilter {
            kind: Some(kind.code().to_string()),
            ..ListFilter::default()
        };
        let mut held = HashSet::new();
        self.store().for_each_json(&filter, |text| {
            // A record that does not read is not one the import made.
            if let Ok(record) = Record::from_json_str(kind, text) {
                held.insert(identity(&record));
            }
            Ok::<(), NodeError>(())
        })??;
        Ok(held)
    }

    /// Checks every cell of a row, then builds its record; all the row's
    /// errors, each naming the row and the column as the file wrote it.
    fn record_from_row(&self, kind: Kind, table: &Table, row: &Row) -> Result<Record, Vec<String>> {
        let at = |column: usize, what: &str| {
            let header = table.headers.get(column).map_or("", |h| h.trim());
            if header.is_empty() {
                format!("Dòng {}, cột số {}: {what}", row.line, column + 1)
            } else {
                format!("Dòng {}, cột «{header}»: {what}", row.line)
            }
        };
        let mut errors: Vec<String> = row.errors.iter().map(|(c, e)| at(*c, e)).collect();
        let mut cells = vec![String::new(); table.columns.len()];
        for (i, column) in table.columns.iter().enumerate() {
            let Some(column) = column else { continue };
            let text = row.cells.get(i).map_or("", |s| s.trim());
            if text.is_empty() {
                if column.required && !row.errors.iter().any(|(c, _)| *c == i) {
                    errors.push(at(i, "trống, nhưng cột này bắt buộc"));
                }
                continue;
            }
            match read_cell(self, column.format, text) {
                Ok(value) => cells[i] = value,
                Err(e) => errors.push(at(i, &e)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let cells = Row {
            line: row.line,
            cells,
            errors: Vec::new(),
        };
        let built = match kind {
            Kind::Household => self.household_from_cells(table, &cells),
            _ => self.activity_from_cells(table, &cells),
        };
        built
            .and_then(|r| Ok(danvan_model::check_record_size(&r).map(|()| r)?))
            .map_err(|e| vec![format!("Dòng {}: {e}", row.line)])
    }

    fn household_from_cells(&self, table: &Table, cells: &Row) -> Result<Record, NodeError> {
        let get = |code| table.get(cells, code);
        let parcels = parcels(get("parcels")).map_err(|(_, e)| e)?;
        let project =
            opt(get("project")).unwrap_or_else(|| danvan_model::vocab::PROJECTS[0].0.to_string());
        self.new_household(
            opt(get("unit")).as_deref(),
            &project,
            get("head"),
            opt(get("village")),
            parcels,
            opt(get("inventory")),
            number(get("compensation_vnd")),
            opt(get("stage")).as_deref(),
        )
    }

    fn activity_from_cells(&self, table: &Table, cells: &Row) -> Result<Record, NodeError> {
        let get = |code| table.get(cells, code);
        self.new_activity(
            opt(get("unit")).as_deref(),
            get("type"),
            get("date"),
            get("title"),
            opt(get("place")),
            opt(get("organizers")),
            number(get("attendance")),
            number(get("citizens")),
            number(get("matters")),
            opt(get("summary")),
            opt(get("results")),
        )
    }
}

/// A cell read as its column's format, as the text the record builders
/// take (a day as `YYYY-MM-DD`, a choice as its code, a number as digits).
fn read_cell(node: &Node, format: Format, text: &str) -> Result<String, String> {
    match format {
        Format::Text => Ok(text.to_string()),
        Format::Date => danvan_model::normalize_date(text)
            .map_err(|_| format!("«{text}» không phải ngày (viết dd/mm/yyyy, ví dụ 15/03/2024)")),
        Format::Number => match danvan_model::parse_grouped(text) {
            Some(n) if n >= 0 => Ok(n.to_string()),
            _ => Err(format!("«{text}» không phải số nguyên không âm")),
        },
        Format::Parcels => parcels(text).map(|_| text.to_string()).map_err(|(p, _)| {
            format!("thửa «{p}» sai; viết TỜ/THỬA:DIỆN_TÍCH:LOẠI_ĐẤT, ví dụ 12/345:250,5:ONT")
        }),
        Format::Choice(list) => match_choice(list, text).map(str::to_string).ok_or_else(|| {
            format!(
                "«{text}» không có trong danh sách ({})",
                danvan_model::vocab::codes(list)
            )
        }),
        Format::Unit => node
            .units()
            .require(text)
            .map(|_| text.to_string())
            .map_err(|e| e.to_string()),
    }
}

fn parcels(text: &str) -> Result<Vec<danvan_model::Parcel>, (String, NodeError)> {
    text.split([';', '|'])
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse_parcel(p).map_err(|e| (p.trim().to_string(), e)))
        .collect()
}

fn opt(text: &str) -> Option<String> {
    Some(text.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// A number cell `read_cell` already checked.
fn number(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// What names a record for the import: the same thing imported twice has
/// the same identity, whatever its other fields say now.
pub fn identity(record: &Record) -> String {
    let key: Vec<String> = match record {
        Record::Household(h) => {
            let mut parcels: Vec<String> = h
                .parcels
                .iter()
                .map(|p| format!("{}/{}", fold(&p.sheet), fold(&p.number)))
                .collect();
            parcels.sort();
            vec![
                "household".into(),
                h.header.unit.clone(),
                h.header.project.clone().unwrap_or_default(),
                squash(&h.head),
                squash(h.village.as_deref().unwrap_or("")),
                parcels.join(";"),
            ]
        }
        Record::Activity(a) => vec![
            "activity".into(),
            a.header.unit.clone(),
            a.activity_type.clone(),
            a.date.clone(),
            squash(&a.title),
        ],
        other => vec![other.kind().code().into(), other.header().id.clone()],
    };
    key.join("\u{1f}")
}

/// Folded, with single spaces.
fn squash(text: &str) -> String {
    fold(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The error of an import stopped by Ctrl+C: it stores all rows in one
/// transaction, so nothing was stored.
fn interrupted() -> NodeError {
    NodeError::Interrupted {
        kept: "Chưa nhập dòng nào của tệp; kho dữ liệu không đổi.".to_string(),
    }
}
