//! The workbook: a summary sheet with parts I–III, then one sheet per section.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::ReportError;
use crate::tables::{Cell, Layout, PART_I, PART_II, PART_III, SUMMARY_SHEET, Table};

impl From<XlsxError> for ReportError {
    fn from(e: XlsxError) -> Self {
        ReportError::Xlsx(e.to_string())
    }
}

struct Styles {
    title: Format,
    bold: Format,
    header: Format,
    int: Format,
    int_bold: Format,
    area: Format,
    area_bold: Format,
    wrap: Format,
}

fn write_cell(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    total: bool,
    s: &Styles,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Text(t) if total => sheet.write_string_with_format(row, col, t, &s.bold)?,
        Cell::Text(t) => sheet.write_string(row, col, t)?,
        Cell::Int(n) => {
            let f = if total { &s.int_bold } else { &s.int };
            sheet.write_number_with_format(row, col, *n as f64, f)?
        }
        Cell::Area(x) | Cell::Pct(x) => {
            let f = if total { &s.area_bold } else { &s.area };
            sheet.write_number_with_format(row, col, *x, f)?
        }
    };
    Ok(())
}

fn write_table(
    sheet: &mut Worksheet,
    row: &mut u32,
    table: &Table,
    s: &Styles,
) -> Result<(), XlsxError> {
    sheet.write_string_with_format(*row, 0, &table.title, &s.bold)?;
    *row += 1;
    for (c, h) in table.headers.iter().enumerate() {
        sheet.write_string_with_format(*row, c as u16, h, &s.header)?;
    }
    *row += 1;
    if table.rows.is_empty() {
        sheet.write_string(*row, 0, "Không có số liệu trong kỳ.")?;
        *row += 1;
    }
    for r in &table.rows {
        for (c, cell) in r.iter().enumerate() {
            write_cell(sheet, *row, c as u16, cell, false, s)?;
        }
        *row += 1;
    }
    if let Some(total) = &table.total {
        for (c, cell) in total.iter().enumerate() {
            write_cell(sheet, *row, c as u16, cell, true, s)?;
        }
        *row += 1;
    }
    *row += 1;
    Ok(())
}

fn build(l: &Layout) -> Result<Vec<u8>, XlsxError> {
    let s = Styles {
        title: Format::new().set_bold().set_font_size(14),
        bold: Format::new().set_bold(),
        header: Format::new()
            .set_bold()
            .set_text_wrap()
            .set_background_color("#EEEEEE")
            .set_border(rust_xlsxwriter::FormatBorder::Thin),
        int: Format::new().set_num_format("#,##0"),
        int_bold: Format::new().set_num_format("#,##0").set_bold(),
        area: Format::new().set_num_format("#,##0.0"),
        area_bold: Format::new().set_num_format("#,##0.0").set_bold(),
        wrap: Format::new().set_text_wrap(),
    };
    let mut book = Workbook::new();

    let sheet = book.add_worksheet();
    sheet.set_name(SUMMARY_SHEET)?;
    sheet.set_column_width(0, 24)?;
    sheet.set_column_width(1, 110)?;
    let mut row = 0u32;
    sheet.write_string_with_format(row, 0, &l.title, &s.title)?;
    row += 2;
    for (k, v) in &l.meta {
        sheet.write_string_with_format(row, 0, k, &s.bold)?;
        sheet.write_string(row, 1, v)?;
        row += 1;
    }
    for (heading, lines) in [
        (PART_I, &l.results),
        (PART_II, &l.shortcomings),
        (PART_III, &l.solutions),
    ] {
        row += 1;
        sheet.write_string_with_format(row, 0, heading, &s.bold)?;
        row += 1;
        for (i, line) in lines.iter().enumerate() {
            sheet.write_number(row, 0, (i + 1) as f64)?;
            sheet.write_string_with_format(row, 1, line, &s.wrap)?;
            row += 1;
        }
    }

    for section in &l.sections {
        let sheet = book.add_worksheet();
        sheet.set_name(section.sheet)?;
        sheet.set_column_width(0, 40)?;
        for c in 1..14u16 {
            sheet.set_column_width(c, 16)?;
        }
        let mut row = 0u32;
        sheet.write_string_with_format(row, 0, &section.heading, &s.title)?;
        row += 2;
        if section.tables.is_empty() {
            sheet.write_string(row, 0, "Không có số liệu.")?;
        }
        for table in &section.tables {
            write_table(sheet, &mut row, table, &s)?;
        }
    }
    book.save_to_buffer()
}

/// Renders the workbook as bytes.
pub(crate) fn workbook(l: &Layout) -> Result<Vec<u8>, ReportError> {
    Ok(build(l)?)
}
