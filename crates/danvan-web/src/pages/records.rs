//! Hồ sơ: the record list with filters, search without diacritics and
//! paging, and a record's page with its fields, history and conflicts,
//! where a conflict is resolved by choosing one of its values.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use axum::routing::{get, post};
use danvan_model::{Kind, Period, Record, format_date, vocab};
use danvan_node::{ListFilter, RecordPage};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{Ctx, Verified};
use crate::error::{WebError, parse_optional};
use crate::fmt;
use crate::layout::{Nav, csrf_field, multiline, notice, page};
use crate::pages::view;
use crate::server::AppState;

/// Rows on one page of the list: a screenful on a laptop, quick to send
/// over a weak link.
const ROWS_PER_PAGE: usize = 50;

/// The list's filters, as the address carries them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: usize,
}

impl ListQuery {
    /// The address of the same list at another page.
    fn at_page(&self, page: usize) -> String {
        let mut pairs = Vec::new();
        for (k, v) in [
            ("q", &self.q),
            ("kind", &self.kind),
            ("unit", &self.unit),
            ("period", &self.period),
            ("status", &self.status),
        ] {
            if !v.is_empty() {
                pairs.push(format!("{k}={}", encode(v)));
            }
        }
        if page > 0 {
            pairs.push(format!("page={page}"));
        }
        format!("/ho-so?{}", pairs.join("&"))
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ho-so", get(list))
        .route("/ho-so/{id}", get(show))
        .route("/ho-so/{id}/chon-gia-tri", post(resolve))
}

async fn list(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Markup, WebError> {
    let period: Option<Period> = parse_optional(&query.period, "kỳ")?;
    let kind = if query.kind.is_empty() {
        None
    } else {
        Some(
            Kind::parse(&query.kind)
                .map_err(|e| WebError::BadRequest(e.to_string()))?
                .code()
                .to_string(),
        )
    };
    let (result, units) = state.call(|n| {
        let units = if query.unit.is_empty() {
            None
        } else {
            Some(n.unit_filter_in(&query.unit, period.as_ref())?)
        };
        let filter = ListFilter {
            kind: kind.clone(),
            units,
            period: period.map(|p| (format_date(p.start), format_date(p.end))),
            status: (!query.status.is_empty()).then(|| query.status.clone()),
            ..ListFilter::default()
        };
        let page = n.browse(&filter, &query.q, query.page, ROWS_PER_PAGE)?;
        Ok((page, n.units().clone()))
    })?;
    Ok(page(
        &ctx,
        Nav::Records,
        "Hồ sơ",
        html! {
            (filters(&query, &units))
            (rows(&result, &query, &units))
        },
    ))
}

fn filters(query: &ListQuery, units: &danvan_model::UnitTree) -> Markup {
    let statuses: [(&str, &[vocab::Choice]); 3] = [
        ("Đơn thư", vocab::PETITION_STATUSES),
        ("Hộ GPMB", vocab::HOUSEHOLD_STAGES),
        ("Tiến độ nhiệm vụ", vocab::PROGRESS_STATUSES),
    ];
    html! {
        form.filters method="get" action="/ho-so" role="search" {
            label.grow {
                "Tìm (gõ có dấu hay không dấu đều được)"
                input type="search" name="q" value=(query.q) placeholder="vd: dan van kheo" autofocus;
            }
            label { "Loại hồ sơ"
                select name="kind" {
                    option value="" { "Tất cả" }
                    @for k in Kind::ALL {
                        option value=(k.code()) selected[query.kind == k.code()] { (k.label_vi()) }
                    }
                }
            }
            label { "Đơn vị"
                select name="unit" {
                    option value="" { "Tất cả" }
                    @for (depth, u) in units.render() {
                        option value=(u.id) selected[query.unit == u.id] {
                            (" ".repeat(depth * 2)) (u.name)
                        }
                    }
                }
            }
            label { "Kỳ"
                select name="period" {
                    option value="" { "Mọi kỳ" }
                    @for (code, label) in view::period_choices() {
                        option value=(code) selected[query.period == code] { (label) }
                    }
                }
            }
            label { "Trạng thái"
                select name="status" {
                    option value="" { "Tất cả" }
                    @for (group, choices) in statuses {
                        optgroup label=(group) {
                            @for (code, label) in choices {
                                option value=(code) selected[query.status == *code] { (label) }
                            }
                        }
                    }
                }
            }
            button type="submit" { "Lọc" }
        }
    }
}

fn rows(result: &RecordPage, query: &ListQuery, units: &danvan_model::UnitTree) -> Markup {
    html! {
        @if let Some(total) = result.total {
            p.muted #result-count { "Tìm thấy " (fmt::thousands(total as i64)) " hồ sơ có đủ các từ đã gõ." }
        }
        @if result.truncated {
            p.warn { "Từ khóa quá phổ biến: chỉ xét " (fmt::thousands(danvan_node::SEARCH_CANDIDATES_MAX as i64)) " hồ sơ đầu. Hãy gõ thêm từ hoặc chọn bộ lọc." }
        }
        @if result.rows.is_empty() {
            p #no-records { "Không có hồ sơ nào khớp." }
        } @else {
            div.table-wrap {
                table.responsive #records {
                    thead { tr { th { "Hồ sơ" } th { "Loại" } th { "Đơn vị" } th { "Ngày" } th { "Trạng thái" } } }
                    tbody {
                        @for row in &result.rows {
                            tr {
                                td {
                                    a.record href=(format!("/ho-so/{}", row.id)) { (row.title) }
                                    @if row.conflicts > 0 {
                                        " " span.badge.conflict { (row.conflicts) " xung đột" }
                                    }
                                    @if let Some(reason) = &row.refused {
                                        " " span.badge.late.refused title=(reason) { "chưa được chấp nhận" }
                                    }
                                }
                                td { (view::kind_label(&row.kind)) }
                                td { (units.name(&row.unit)) }
                                td { (row.date.as_deref().map(fmt::date).unwrap_or_default()) }
                                td { (row.status.as_deref().map(|s| view::status_label(&row.kind, s)).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Trang" {
            @if query.page > 0 {
                a.button.secondary href=(query.at_page(query.page - 1)) rel="prev" { "← Trang trước" }
            }
            span.muted { "Trang " (query.page + 1) }
            @if result.more {
                a.button.secondary href=(query.at_page(query.page + 1)) rel="next" { "Trang sau →" }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    chon: Option<String>,
    /// Set by a form after it stored something: `1`, or `lui-giai-doan`
    /// when a stage move went backwards.
    #[serde(default, rename = "da-luu")]
    saved: Option<String>,
}

async fn show(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Markup, WebError> {
    let (shown, history, conflicts, units, creator, may_write) = state.call(|n| {
        // The CCCD whole only when this node may write the record.
        let shown = n.show_for_reader(&id)?;
        let history = n.field_history_for_reader(&id, &shown.record)?;
        let conflicts = n.authored_conflicts_for_reader(&id, &shown.record)?;
        let may_write = n.check_record_write(&shown.record).is_ok();
        let creator = shown
            .record
            .header()
            .creator
            .parse::<danvan_model::NodeId>()
            .map(|c| n.node_name(&c))
            .unwrap_or_else(|_| shown.record.header().creator.clone());
        Ok((
            shown,
            history,
            conflicts,
            n.units().clone(),
            creator,
            may_write,
        ))
    })?;
    let record = &shown.record;
    let kind = record.kind();
    let header = record.header();
    let json = shown.to_json();
    let title = record.summary().title;
    let value = |field: &str| json.get(field).cloned().unwrap_or(Value::Null);
    Ok(page(
        &ctx,
        Nav::Records,
        &title,
        html! {
            @if let Some(field) = &q.chon {
                (notice(&format!("Đã chọn giá trị cho trường “{}”; các máy khác sẽ nhận khi đồng bộ.", view::field_label(kind, field))))
            }
            @match q.saved.as_deref() {
                Some("lui-giai-doan") => (notice("Đã lưu. Lưu ý: hộ được chuyển lùi về giai đoạn trước.")),
                Some(_) => (notice("Đã lưu trên máy này; hồ sơ sẽ được gửi đi ở lần đồng bộ tới.")),
                None => {}
            }
            p.muted {
                (kind.label_vi()) " · " (units.name(&header.unit))
                @if let Some(p) = &header.project { " · " (fmt::label(vocab::PROJECTS, p)) }
                " · mã " code { (header.id) }
            }
            (record_actions(record))
            @if !shown.refusals.is_empty() {
                section #refused.card.conflict {
                    h2 { "Chưa được chấp nhận" }
                    p.muted { "Máy nhận đã từ chối thay đổi dưới đây của hồ sơ này, nên nơi đó chưa có nó. Hãy sửa theo lý do (thường là danh sách thành viên hoặc phạm vi) rồi đồng bộ lại." }
                    ul {
                        @for r in &shown.refusals {
                            li { (r.reason) " " span.muted { "(" (fmt::time_ms(r.at_ms)) ")" } }
                        }
                    }
                }
            }
            @if !conflicts.is_empty() {
                section #conflicts {
                    h2 { "Xung đột cần chọn (" (conflicts.len()) ")" }
                    p.muted {
                        "Hai máy đã sửa cùng một trường khác nhau khi chưa đồng bộ. "
                        @if may_write {
                            "Chọn giá trị đúng; lựa chọn được ghi như một lần sửa."
                        } @else {
                            "Chỉ máy được ghi hồ sơ này mới chọn được giá trị."
                        }
                    }
                    @for c in &conflicts {
                        div.card.conflict data-field=(c.field) {
                            strong { (view::capitalize(c.label_vi)) }
                            ul.values {
                                @for v in &c.values {
                                    @let value_and_setters = html! {
                                        span.value { (view::field_value(&units, kind, c.field, &v.value)) }
                                        " "
                                        span.muted { "— do "
                                            (v.set_by.iter().map(|s| s.1.as_str()).collect::<Vec<_>>().join(", ")) " đặt" }
                                    };
                                    li {
                                        @if may_write {
                                            form.inline method="post" action=(format!("/ho-so/{}/chon-gia-tri", header.id)) data-value=(view::edit_text(&v.value)) {
                                                (csrf_field(&ctx))
                                                input type="hidden" name="field" value=(c.field);
                                                input type="hidden" name="value" value=(view::edit_text(&v.value));
                                                (value_and_setters)
                                                " "
                                                button type="submit" { "Chọn giá trị này" }
                                            }
                                        } @else {
                                            (value_and_setters)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Nội dung" }
            dl.fields #fields {
                @for spec in danvan_model::editable_fields(kind) {
                    dt { (view::capitalize(spec.label_vi)) }
                    dd data-field=(spec.name) {
                        @let v = value(spec.name);
                        @if matches!(spec.ty, danvan_model::FieldType::Text | danvan_model::FieldType::RequiredText) && v.is_string() {
                            (multiline(v.as_str().unwrap_or("")))
                        } @else {
                            (view::field_value(&units, kind, spec.name, &v))
                        }
                    }
                }
                (kind_fields(record, &json, &units))
                dt { "Người tạo" }
                dd { (creator) " · " (fmt::time_ms(header.created_at)) " (giờ máy)" }
            }
            (household_tables(record, &units))
            h2 { "Lịch sử thay đổi" }
            div.table-wrap {
                table.responsive #history {
                    thead { tr { th { "#" } th { "Máy" } th { "Giờ máy" } th { "Thay đổi" } } }
                    tbody {
                        @for h in history.iter().rev() {
                            tr {
                                td.num { (h.n) }
                                td { (h.author_name) }
                                td { (fmt::time_ms(h.device_time)) }
                                td {
                                    @if h.fields.iter().any(|f| f.field == "header") {
                                        "Tạo hồ sơ"
                                    } @else if h.fields.is_empty() {
                                        span.muted { (h.message) }
                                    } @else {
                                        ul.changes {
                                            @for f in &h.fields {
                                                li {
                                                    strong { (view::field_label(kind, &f.field)) } ": "
                                                    @if let Some(added) = appended(&f.old, &f.new) {
                                                        "thêm " (added) " mục"
                                                    } @else {
                                                        span.old { (view::field_value(&units, kind, &f.field, &f.old)) }
                                                        " → "
                                                        span.new { (view::field_value(&units, kind, &f.field, &f.new)) }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.muted { "Giờ là giờ trên máy đã ghi, có thể sai; thứ tự theo quan hệ giữa các thay đổi, không theo giờ." }
        },
    ))
}

/// What an officer does next with a record: a household gets a visit or
/// moves on, a task gets a progress report (its number prefilled).
fn record_actions(record: &Record) -> Markup {
    let id = &record.header().id;
    html! {
        @match record {
            Record::Household(_) => p.actions #record-actions {
                a.button href=(format!("/ho-so/{id}/van-dong")) { "Ghi lần vận động" }
                " "
                a.button.secondary href=(format!("/ho-so/{id}/giai-doan")) { "Chuyển giai đoạn" }
            },
            Record::Task(t) => p.actions #record-actions {
                a.button href=(format!("/them/tien-do?task={}", encode(&t.number))) { "Báo cáo tiến độ" }
            },
            _ => {}
        }
    }
}

/// How many entries a change appended to a list (visits, stage moves):
/// lists only grow, so a count says more than the two lists side by side.
fn appended(old: &Value, new: &Value) -> Option<usize> {
    let new = new.as_array()?;
    let old = match old {
        Value::Null => 0,
        Value::Array(items) => items.len(),
        _ => return None,
    };
    (new.len() > old && new.iter().any(|v| v.is_object())).then(|| new.len() - old)
}

/// Values of a kind that `edit` does not change: the stage, the deadline,
/// the task a progress report is for.
fn kind_fields(record: &Record, json: &Value, units: &danvan_model::UnitTree) -> Markup {
    html! {
        @match record {
            Record::Petition(p) => {
                dt { "Hạn giải quyết" }
                dd {
                    (json.get("deadline").and_then(Value::as_str).map(fmt::date).unwrap_or_default())
                    @if !p.is_closed() { " " span.badge { "đang mở" } }
                }
            }
            Record::Household(h) => {
                dt { "Giai đoạn" }
                dd data-field="stage" { (fmt::label(vocab::HOUSEHOLD_STAGES, &h.stage))
                    @if h.objection_open() { " " span.badge.late { "có khiếu nại" } } }
                dt { "Tổng diện tích" }
                dd { (fmt::thousands(h.area_m2().round() as i64)) " m²" }
            }
            Record::Task(t) => {
                dt { "Đơn vị được giao" }
                dd { (t.assigned.iter().map(|u| units.name(u)).collect::<Vec<_>>().join(", ")) }
            }
            Record::Progress(p) => {
                dt { "Nhiệm vụ" }
                dd { a href=(format!("/ho-so/{}", p.task)) { "Xem nhiệm vụ" } }
                dt { "Kỳ báo cáo" }
                dd { (p.period.parse::<Period>().map(|x| x.label_vi()).unwrap_or_else(|_| p.period.clone())) }
            }
            _ => {}
        }
    }
}

fn household_tables(record: &Record, units: &danvan_model::UnitTree) -> Markup {
    let _ = units;
    let Record::Household(h) = record else {
        return html! {};
    };
    html! {
        @if !h.parcels.is_empty() {
            h2 { "Thửa đất" }
            div.table-wrap { table {
                thead { tr { th { "Tờ bản đồ" } th { "Thửa số" } th.num { "Diện tích (m²)" } th { "Loại đất" } } }
                tbody { @for p in &h.parcels { tr {
                    td { (p.sheet) } td { (p.number) } td.num { (fmt::thousands(p.area_m2.round() as i64)) } td { (p.land_type) }
                } } }
            } }
        }
        @if !h.visits.is_empty() {
            h2 { "Lần vận động (" (h.visits.len()) ")" }
            div.table-wrap { table.responsive {
                thead { tr { th { "Ngày" } th { "Người vận động" } th { "Kết quả" } } }
                tbody { @for v in h.visits.iter().rev() { tr {
                    td { (fmt::date(&v.date)) } td { (v.by) } td { (v.outcome) }
                } } }
            } }
        }
        @if !h.stage_log.is_empty() {
            h2 { "Chuyển giai đoạn" }
            div.table-wrap { table.responsive {
                thead { tr { th { "Ngày" } th { "Từ" } th { "Sang" } th { "Người chuyển" } } }
                tbody { @for s in h.stage_log.iter().rev() { tr {
                    td { (fmt::date(&s.date)) }
                    td { (fmt::label(vocab::HOUSEHOLD_STAGES, &s.from)) }
                    td { (fmt::label(vocab::HOUSEHOLD_STAGES, &s.stage)) @if s.backwards { " " span.badge.late { "lùi lại" } } }
                    td { (s.by) }
                } } }
            } }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResolveForm {
    field: String,
    value: String,
}

async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Verified(_, form): Verified<ResolveForm>,
) -> Result<Redirect, WebError> {
    let set = format!("{}={}", form.field, form.value);
    // The value chosen is one a node already stored, so a date in it was
    // confirmed where it was written.
    let doc = state.write_confirmed(true, |n| n.edit(&id, &[set]))?;
    Ok(Redirect::to(&format!(
        "/ho-so/{doc}?chon={}",
        encode(&form.field)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_address_keeps_the_filters() {
        let q = ListQuery {
            q: "dân vận".into(),
            kind: "model".into(),
            page: 0,
            ..ListQuery::default()
        };
        assert_eq!(
            q.at_page(2),
            "/ho-so?q=d%C3%A2n+v%E1%BA%ADn&kind=model&page=2"
        );
        assert_eq!(q.at_page(0), "/ho-so?q=d%C3%A2n+v%E1%BA%ADn&kind=model");
    }
}
