//! `danvan import template KIND`: an `.xlsx` an officer fills in — the
//! Vietnamese headers of [`columns`](super::columns), one sample row that
//! imports as it is, and a "Hướng dẫn" sheet saying what each column
//! means, how to write it and whether it is required.

use danvan_model::Kind;
use rust_xlsxwriter::{Color, ExcelDateTime, Format as Style, Workbook, XlsxError};

use super::columns::{Format, columns, format_text};
use crate::error::NodeError;

/// The template of `kind` as the bytes of an `.xlsx` file.
pub fn template(kind: Kind) -> Result<Vec<u8>, NodeError> {
    let cols = columns(kind);
    if cols.is_empty() {
        return Err(NodeError::CsvKind(kind.named()));
    }
    write(kind, cols).map_err(|e| NodeError::Export(format!("không tạo được tệp mẫu: {e}")))
}

fn write(kind: Kind, cols: &[super::columns::Column]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let head = Style::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7));
    let required = head.clone().set_font_color(Color::RGB(0xC00000));
    let date = Style::new().set_num_format("dd/mm/yyyy");
    let money = Style::new().set_num_format("#,##0");
    let text = Style::new().set_num_format("@");

    let sheet = book.add_worksheet();
    sheet.set_name(kind.label_vi())?;
    for (c, column) in cols.iter().enumerate() {
        let c = c as u16;
        let style = if column.required { &required } else { &head };
        sheet.write_string_with_format(0, c, column.name, style)?;
        sheet.set_column_width(c, (column.name.chars().count() as f64 + 4.0).max(14.0))?;
        let sample = column.sample;
        match column.format {
            _ if sample.is_empty() => {}
            Format::Date => {
                let (d, m, y) = dmy(sample);
                sheet.write_datetime_with_format(1, c, ExcelDateTime::from_ymd(y, m, d)?, &date)?;
            }
            Format::Number => {
                let n: f64 = sample.parse().unwrap_or_default();
                sheet.write_number_with_format(1, c, n, &money)?;
            }
            // Text cells, so Excel never reads "12/345" as a date.
            _ => {
                sheet.write_string_with_format(1, c, sample, &text)?;
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;

    let notes = book.add_worksheet();
    notes.set_name("Hướng dẫn")?;
    let titles = ["Cột", "Mã", "Bắt buộc", "Ý nghĩa", "Cách viết"];
    for (c, t) in titles.iter().enumerate() {
        notes.write_string_with_format(0, c as u16, *t, &head)?;
    }
    let wrap = Style::new().set_text_wrap();
    for (r, column) in cols.iter().enumerate() {
        let r = r as u32 + 1;
        notes.write_string(r, 0, column.name)?;
        notes.write_string(r, 1, column.code)?;
        notes.write_string(r, 2, if column.required { "có" } else { "không" })?;
        notes.write_string_with_format(r, 3, column.meaning, &wrap)?;
        notes.write_string_with_format(r, 4, format_text(column.format), &wrap)?;
    }
    let r = cols.len() as u32 + 2;
    notes.write_string(
        r,
        0,
        format!(
            "Mỗi dòng của trang «{}» là một hồ sơ; dòng 2 là ví dụ, xóa hoặc sửa trước khi nhập. Tên cột tô đỏ là bắt buộc. Nhập: danvan import {} TỆP.xlsx. Dòng đã có trong kho (cùng nội dung chính) không được tạo lại.",
            kind.label_vi(),
            kind.code()
        ),
    )?;
    for (c, w) in [18.0, 18.0, 10.0, 45.0, 70.0].into_iter().enumerate() {
        notes.set_column_width(c as u16, w)?;
    }
    book.save_to_buffer()
}

/// `dd/mm/yyyy` of a sample (the table's samples are well formed).
fn dmy(text: &str) -> (u8, u8, u16) {
    let mut parts = text.split('/').map(|p| p.parse::<u16>().unwrap_or(1));
    let d = parts.next().unwrap_or(1) as u8;
    let m = parts.next().unwrap_or(1) as u8;
    let y = parts.next().unwrap_or(2000);
    (d, m, y)
}
