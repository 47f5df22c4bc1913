//! A file as a table of text cells: a CSV (any encoding and separator
//! `decode` reads) or the first (or a named) sheet of an `.xlsx`. Both give
//! the headers as the user wrote them, the column each names, and every
//! data row with its line number; the import reads cells only from here.

use std::path::Path;

use calamine::{Data, Reader};
use danvan_model::Kind;
use unicode_normalization::UnicodeNormalization;

use super::columns::{Column, Format, match_header};
use super::decode;
use crate::error::{NodeError, io};

/// Largest CSV or xlsx file accepted, in bytes.
pub(crate) const FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Largest `.xlsx`: it is a zip, read whole into memory and inflated.
const XLSX_BYTES_MAX: u64 = 32 * 1024 * 1024;
/// Most rows one import takes: every row is checked before any is stored,
/// and the checked records are held in memory (about 1.5 KiB each), so the
/// bound keeps an import under a few hundred MiB. Split larger files.
pub(crate) const ROWS_MAX: usize = 200_000;

/// One data row.
#[derive(Debug)]
pub(crate) struct Row {
    /// Its line (CSV) or row (sheet) number, as the user's program shows it.
    pub line: u64,
    /// One text per column (empty when absent).
    pub cells: Vec<String>,
    /// Cells that could not be read as text: (column, what is wrong).
    pub errors: Vec<(usize, String)>,
}

/// A file read as a table.
#[derive(Debug)]
pub(crate) struct Table {
    /// The headers as written.
    pub headers: Vec<String>,
    /// The column each header names; `None` for a column without a header.
    pub columns: Vec<Option<&'static Column>>,
    /// The data rows (rows with every cell empty are left out).
    pub rows: Vec<Row>,
    /// What the file was read as: "xlsx, trang «…»", "CSV UTF-8, dấu ;".
    pub read_as: String,
}

impl Table {
    /// The text of `code`'s column in `row` ("" when the file lacks it).
    pub(crate) fn get<'r>(&self, row: &'r Row, code: &str) -> &'r str {
        self.columns
            .iter()
            .position(|c| c.is_some_and(|c| c.code == code))
            .and_then(|i| row.cells.get(i))
            .map_or("", |s| s.as_str())
    }
}

/// Reads `path` as `kind`'s table: an `.xlsx` (by its zip signature, whatever
/// its name) or a CSV.
pub(crate) fn read(path: &Path, kind: Kind, sheet: Option<&str>) -> Result<Table, NodeError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if !meta.is_file() {
        return Err(NodeError::NotAFile(path.to_path_buf()));
    }
    let too_large = |bytes, max| NodeError::TooLarge {
        path: path.to_path_buf(),
        bytes,
        max,
    };
    if meta.len() > FILE_BYTES_MAX {
        return Err(too_large(meta.len(), FILE_BYTES_MAX));
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    if bytes.starts_with(b"PK\x03\x04") {
        if bytes.len() as u64 > XLSX_BYTES_MAX {
            return Err(too_large(bytes.len() as u64, XLSX_BYTES_MAX));
        }
        return read_xlsx(path, bytes, kind, sheet);
    }
    if sheet.is_some() {
        return Err(NodeError::CsvRead(format!(
            "{}: --sheet chỉ dùng cho tệp Excel .xlsx; tệp này là tệp văn bản (CSV)",
            path.display()
        )));
    }
    read_csv(path, &bytes, kind)
}

fn read_csv(path: &Path, bytes: &[u8], kind: Kind) -> Result<Table, NodeError> {
    let (text, encoding) = decode::decode(bytes).ok_or_else(|| {
        NodeError::CsvRead(format!(
            "{}: tệp có dấu mã hóa (BOM) nhưng nội dung không đúng mã hóa đó; hãy lưu lại tệp (Excel: Lưu thành → CSV UTF-8)",
            path.display()
        ))
    })?;
    let sep = decode::separator(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sep)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        None => return Err(NodeError::CsvEmpty(path.to_path_buf())),
        Some(r) => r
            .map_err(|e| NodeError::CsvRead(format!("{}: dòng tiêu đề lỗi: {e}", path.display())))?
            .iter()
            .map(str::to_string)
            .collect(),
    };
    let columns = match_columns(path, kind, &headers)?;
    let mut rows = Vec::new();
    for record in records {
        if rows.len() >= ROWS_MAX {
            return Err(NodeError::CsvTooLong {
                path: path.to_path_buf(),
                max: ROWS_MAX,
            });
        }
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            NodeError::CsvRead(format!(
                "{}: dòng {line}: không đọc được: {e}",
                path.display()
            ))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let mut row = Row {
            line,
            cells: record.iter().map(|c| c.trim().to_string()).collect(),
            errors: Vec::new(),
        };
        check_width(&mut row, &columns);
        if row.cells.iter().any(|c| !c.is_empty()) {
            rows.push(row);
        }
    }
    let sep = match sep {
        b'\t' => "tab",
        b';' => "dấu ;",
        _ => "dấu phẩy",
    };
    Ok(Table {
        headers,
        columns,
        rows,
        read_as: format!("CSV {encoding}, ngăn cột bằng {sep}"),
    })
}

fn read_xlsx(
    path: &Path,
    bytes: Vec<u8>,
    kind: Kind,
    sheet: Option<&str>,
) -> Result<Table, NodeError> {
    let bad = |e: String| {
        NodeError::CsvRead(format!("{}: không đọc được tệp Excel: {e}", path.display()))
    };
    let mut book =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let names = book.sheet_names();
    let name = match sheet {
        None => names
            .first()
            .cloned()
            .ok_or_else(|| bad("không có trang nào".into()))?,
        Some(wanted) => names
            .iter()
            .find(|n| danvan_model::fold(n.trim()) == danvan_model::fold(wanted.trim()))
            .cloned()
            .ok_or_else(|| {
                bad(format!(
                    "không có trang «{wanted}» (các trang: {})",
                    names.join(", ")
                ))
            })?,
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| bad(e.to_string()))?;
    if range.height() > ROWS_MAX + 1 {
        return Err(NodeError::CsvTooLong {
            path: path.to_path_buf(),
            max: ROWS_MAX,
        });
    }
    let first_row = range.start().map_or(0, |(r, _)| r) as u64;
    let mut sheet_rows = range.rows().enumerate();
    let headers: Vec<String> = match sheet_rows.next() {
        None => return Err(NodeError::CsvEmpty(path.to_path_buf())),
        Some((_, cells)) => cells.iter().map(|c| plain(c).trim().to_string()).collect(),
    };
    let columns = match_columns(path, kind, &headers)?;
    let mut rows = Vec::new();
    for (i, cells) in sheet_rows {
        if rows.len() >= ROWS_MAX {
            return Err(NodeError::CsvTooLong {
                path: path.to_path_buf(),
                max: ROWS_MAX,
            });
        }
        let mut row = Row {
            line: first_row + i as u64 + 1,
            cells: Vec::with_capacity(cells.len()),
            errors: Vec::new(),
        };
        for (c, cell) in cells.iter().enumerate() {
            let format = columns.get(c).copied().flatten().map(|c| c.format);
            match cell_text(cell, format) {
                Ok(text) => row.cells.push(text),
                Err(e) => {
                    row.cells.push(String::new());
                    row.errors.push((c, e));
                }
            }
        }
        check_width(&mut row, &columns);
        if row.cells.iter().any(|c| !c.is_empty()) || !row.errors.is_empty() {
            rows.push(row);
        }
    }
    Ok(Table {
        headers,
        columns,
        rows,
        read_as: format!("Excel, trang «{name}»"),
    })
}

/// The text of a cell, whatever its type.
fn plain(cell: &Data) -> String {
    cell_text(cell, None).unwrap_or_default()
}

/// A sheet cell as the text a CSV would hold: a date as `YYYY-MM-DD`
/// (an Excel date, or a serial number in a date column), a whole number
/// without decimals, text in NFC.
fn cell_text(cell: &Data, format: Option<Format>) -> Result<String, String> {
    let date = |serial: f64| {
        let (y, m, d, ..) =
            calamine::ExcelDateTime::new(serial, calamine::ExcelDateTimeType::DateTime, false)
                .to_ymd_hms_milli();
        format!("{y:04}-{m:02}-{d:02}")
    };
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().nfc().collect(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if format == Some(Format::Date) && (1.0..2_958_466.0).contains(f) => {
            date(*f)
        }
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "có" } else { "không" }.to_string(),
        Data::DateTime(dt) => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{d:02}")
        }
        Data::DateTimeIso(s) => s.split('T').next().unwrap_or("").to_string(),
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("ô bị lỗi công thức Excel ({e})")),
    })
}

/// Maps each header to its column; refuses an unknown header, a column
/// named twice, or a required column that is missing.
fn match_columns(
    path: &Path,
    kind: Kind,
    headers: &[String],
) -> Result<Vec<Option<&'static Column>>, NodeError> {
    let known = || {
        super::columns::columns(kind)
            .iter()
            .map(|c| format!("{} ({})", c.name, c.code))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut columns: Vec<Option<&'static Column>> = Vec::with_capacity(headers.len());
    for h in headers {
        if h.trim().trim_matches('\u{feff}').is_empty() {
            columns.push(None);
            continue;
        }
        let Some(column) = match_header(kind, h) else {
            return Err(NodeError::CsvColumn {
                path: path.to_path_buf(),
                column: h.trim().to_string(),
                known: known(),
            });
        };
        if columns.iter().flatten().any(|c| c.code == column.code) {
            return Err(NodeError::CsvRead(format!(
                "{}: cột «{}» có hai lần (cột «{}»); mỗi cột chỉ một lần",
                path.display(),
                column.name,
                h.trim()
            )));
        }
        columns.push(Some(column));
    }
    let missing: Vec<&str> = super::columns::columns(kind)
        .iter()
        .filter(|c| c.required && !columns.iter().flatten().any(|m| m.code == c.code))
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(NodeError::CsvRead(format!(
            "{}: thiếu cột bắt buộc {} (dòng đầu của tệp phải là tên cột; các cột: {})",
            path.display(),
            missing
                .iter()
                .map(|m| format!("«{m}»"))
                .collect::<Vec<_>>()
                .join(", "),
            known()
        )));
    }
    Ok(columns)
}

/// A row with more cells than headers is wrong where the extra cells hold
/// something; a cell under a column without a header is too.
fn check_width(row: &mut Row, columns: &[Option<&'static Column>]) {
    for (i, cell) in row.cells.iter().enumerate() {
        if cell.is_empty() || columns.get(i).is_some_and(Option::is_some) {
            continue;
        }
        row.errors.push((
            i,
            format!(
                "ô thứ {} có dữ liệu nhưng cột không có tên ở dòng tiêu đề",
                i + 1
            ),
        ));
    }
}
