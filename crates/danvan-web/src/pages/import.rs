//! Nhập từ tệp: households or activities from an Excel workbook or a CSV
//! file, uploaded from the office's browser, through the same
//! [`Node::import_file`](danvan_node::Node::import_file) as `danvan import`
//! (all or nothing, errors by row and column, rows already held skipped);
//! and each kind's template to fill in.

use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use danvan_model::Kind;
use danvan_node::NodeError;
use danvan_node::import::columns::{Column, Format, IMPORT_KINDS, columns};
use maud::{Markup, html};

use crate::auth::Ctx;
use crate::error::WebError;
use crate::fmt::thousands;
use crate::layout::{Nav, csrf_field, notice, page};
use crate::server::AppState;
use crate::upload::Upload;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/them/nhap-tep", get(form).post(upload))
        .route("/them/mau/{slug}", get(template))
}

/// The address word of an importable kind, and its Vietnamese title.
fn slug(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Household => ("ho-gpmb", "Hộ bị ảnh hưởng GPMB"),
        _ => ("hoat-dong", "Hoạt động dân vận"),
    }
}

fn kind_of(text: &str) -> Result<Kind, WebError> {
    let text = text.trim_end_matches(".xlsx");
    IMPORT_KINDS
        .into_iter()
        .find(|k| slug(*k).0 == text)
        .ok_or_else(|| WebError::NotFound(format!("không có mẫu nhập cho «{text}»")))
}

async fn form(ctx: Ctx) -> Markup {
    render(&ctx, Kind::Household, None)
}

/// The page: the form, each kind's columns and template, and what the last
/// upload did.
fn render(ctx: &Ctx, chosen: Kind, result: Option<Markup>) -> Markup {
    let body = html! {
        p.muted { a href="/them" { "← Thêm mới từng hồ sơ" } }
        @if let Some(result) = result { (result) }
        p {
            "Chọn tệp Excel (.xlsx) hoặc CSV có dòng đầu là tên cột. Cả tệp được kiểm tra trước: "
            "nếu có dòng lỗi thì không nhập dòng nào và trang này chỉ ra từng dòng, từng cột. "
            "Dòng đã có trên máy (nhập lại cùng tệp) được bỏ qua, không tạo hồ sơ trùng."
        }
        form.stack #import-upload method="post" action="/them/nhap-tep" enctype="multipart/form-data" {
            (csrf_field(ctx))
            label for="kind" { "Loại hồ sơ" }
            select #kind name="kind" {
                @for kind in IMPORT_KINDS {
                    option value=(slug(kind).0) selected[kind == chosen] { (slug(kind).1) }
                }
            }
            label for="import-file" { "Tệp" }
            input #import-file type="file" name="file" accept=".xlsx,.csv,.txt" required;
            div { button type="submit" { "Nhập" } }
        }
        @for kind in IMPORT_KINDS {
            h2 { (slug(kind).1) }
            p { a.button.secondary href={ "/them/mau/" (slug(kind).0) ".xlsx" } { "Tải tệp mẫu Excel" } }
            div.table-wrap { table.responsive {
                thead { tr { th { "Cột" } th { "Bắt buộc" } th { "Ý nghĩa" } th { "Ví dụ" } } }
                tbody { @for c in columns(kind) { tr {
                    td { strong { (c.name) } } td data-label="Bắt buộc" { @if c.required { "có" } @else { "không" } }
                    td data-label="Ý nghĩa" { (c.meaning) } td data-label="Ví dụ" { (sample(c)) }
                } } }
            } }
        }
    };
    page(ctx, Nav::New, "Nhập từ tệp Excel hoặc CSV", body)
}

/// A column's example as an officer types it: a choice by its label, a
/// number with its thousands marked (both are read back by the import).
fn sample(column: &Column) -> String {
    match column.format {
        Format::Choice(choices) if !column.sample.is_empty() => {
            danvan_model::vocab::label(choices, column.sample).to_string()
        }
        Format::Number => column
            .sample
            .parse::<i64>()
            .map(thousands)
            .unwrap_or_else(|_| column.sample.to_string()),
        _ => column.sample.to_string(),
    }
}

/// Stores the uploaded file's rows, all or none, and says what happened.
async fn upload(State(state): State<AppState>, upload: Upload) -> Result<Response, WebError> {
    let ctx = &upload.ctx;
    let kind = kind_of(upload.text("kind").unwrap_or(""))?;
    let (name, path) = (upload.name.as_str(), upload.file.0.clone());
    let imported = state
        .write(|n| Ok(n.import_file(kind, &path, None, &AtomicBool::new(false), &mut |_| {})))?;
    let (status, result) = match imported {
        Ok(done) => (
            StatusCode::OK,
            notice(&format!(
                "Đã nhập «{name}» ({}): {} hồ sơ mới; {} dòng đã có trên máy, bỏ qua; {} dòng trong tệp.",
                done.read_as,
                thousands(done.new as i64),
                thousands(done.existing as i64),
                thousands(done.rows as i64)
            )),
        ),
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            refusal(&error, &path, name),
        ),
    };
    Ok((status, render(ctx, kind, Some(result))).into_response())
}

/// Why nothing was imported, naming the file as the officer chose it.
fn refusal(error: &NodeError, path: &std::path::Path, name: &str) -> Markup {
    let named = |text: String| text.replace(&path.display().to_string(), &format!("«{name}»"));
    html! {
        div.error role="alert" {
            @match error {
                NodeError::Csv { count, rows, .. } => {
                    p { "Không nhập dòng nào: «" (name) "» có " (thousands(*count as i64)) " dòng lỗi. Sửa trong tệp rồi nhập lại." }
                    ul.import-errors { @for line in rows.lines() { li { (line) } } }
                }
                other => p { "Không nhập được: " (named(other.to_string())) }
            }
        }
    }
}

/// The kind's template workbook: Vietnamese headers, a sample row and a
/// "Hướng dẫn" sheet, as `danvan import template` writes it.
async fn template(Path(slug_xlsx): Path<String>) -> Result<Response, WebError> {
    let kind = kind_of(&slug_xlsx)?;
    let bytes = danvan_node::import::template::template(kind)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"mau-{}.xlsx\"", slug(kind).0),
            ),
        ],
        bytes,
    )
        .into_response())
}
