//! Thêm mới: a form for every kind of record. A form posts the same draft
//! the CLI builds; the node checks every field with the parser `edit --set`
//! uses, and each refused field's message is shown beside it, with what
//! was typed kept. Nothing is stored on an error.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use danvan_model::RecordError;
use danvan_model::{FieldSpec, FieldType, Kind, UnitTree, vocab};
use danvan_node::{Draft, DraftError, NodeError};
use maud::{Markup, html};

use crate::auth::{Ctx, Verified};
use crate::error::WebError;
use crate::layout::{Nav, csrf_field, page};
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/them", get(index))
        .route("/them/{kind}", get(form).post(submit))
        .route(
            "/ho-so/{id}/van-dong",
            get(step_form::<true>).post(step_submit::<true>),
        )
        .route(
            "/ho-so/{id}/giai-doan",
            get(step_form::<false>).post(step_submit::<false>),
        )
}

/// A persuasion visit or a stage move, as posted.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct HouseholdStep {
    /// The unusual-date confirmation box ([`CONFIRM_DATE`]).
    #[serde(rename = "xac-nhan-ngay")]
    confirmed: Option<String>,
    date: String,
    by: String,
    outcome: String,
    stage: String,
    note: String,
}

/// The household's name for the heading, after checking the id is one.
fn household_title(state: &AppState, id: &str) -> Result<String, WebError> {
    let shown = state.call(|n| n.show(id))?;
    danvan_node::Node::expect_kind(&shown.record, Kind::Household)?;
    Ok(shown.record.summary().title)
}

/// The empty visit (`VISIT`) or stage-move form of a household, dated today.
async fn step_form<const VISIT: bool>(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Markup, WebError> {
    let title = household_title(&state, &id)?;
    let step = HouseholdStep {
        date: crate::fmt::date(&today()),
        ..HouseholdStep::default()
    };
    Ok(step_page(&ctx, &id, &title, VISIT, &step, None))
}

/// Stores a visit (`VISIT`) or a stage move, then shows the household;
/// refused, shows its form again with what was typed and the message
/// beside the field it is about.
async fn step_submit<const VISIT: bool>(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Verified(ctx, step): Verified<HouseholdStep>,
) -> Result<Response, WebError> {
    let title = household_title(&state, &id)?;
    let id = id.as_str();
    let stored = state.write_confirmed(step.confirmed.is_some(), |n| {
        Ok(if VISIT {
            n.household_visit(id, &step.date, &step.by, &step.outcome)
                .map(|()| "1")
        } else {
            n.household_status(id, &step.stage, &step.date, &step.by, &step.note)
                .map(|outcome| match outcome {
                    danvan_node::StageOutcome::Backwards { .. } => "lui-giai-doan",
                    _ => "1",
                })
        })
    })?;
    Ok(match stored {
        Ok(note) => Redirect::to(&format!("/ho-so/{id}?da-luu={note}")).into_response(),
        Err(e) => (
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            step_page(&ctx, id, &title, VISIT, &step, Some(&e)),
        )
            .into_response(),
    })
}

/// The form field by which a person confirms an unusual date — the web
/// app's `--yes`. It is offered only after the node refused one.
const CONFIRM_DATE: &str = "xac-nhan-ngay";

/// The message for a day the node asks about before storing (far ahead,
/// decades back), worded for a form rather than a command line.
fn unusual_date(error: &NodeError) -> Option<String> {
    match error {
        NodeError::UnusualDate { field, date, why } => Some(format!(
            "Chưa lưu: {field} {} {why}. Nếu đúng là ngày này, đánh dấu ô xác nhận bên dưới rồi bấm Lưu; nếu gõ nhầm, hãy sửa ngày.",
            crate::fmt::date(date)
        )),
        _ => None,
    }
}

/// The box that lets an unusual date through on the next submit.
fn confirm_box() -> Markup {
    html! {
        label.check {
            input type="checkbox" name=(CONFIRM_DATE) value="1";
            " Đúng, tôi xác nhận ngày này"
        }
    }
}

/// Today in Vietnam time, `YYYY-MM-DD`.
fn today() -> String {
    let now = time::OffsetDateTime::now_utc() + time::Duration::hours(7);
    danvan_model::format_date(now.date())
}

/// The field of a visit or stage form a refusal is about, so its message
/// sits beside that field: the node checks the date, the stage and who
/// acted, in that order, and says which by the error's kind.
fn step_field(error: &NodeError) -> Option<&'static str> {
    match error {
        NodeError::Date(_) => Some("date"),
        NodeError::Record(RecordError::BadChoice { .. }) => Some("stage"),
        NodeError::Record(RecordError::Missing(_)) => Some("by"),
        _ => None,
    }
}

fn step_page(
    ctx: &Ctx,
    id: &str,
    title: &str,
    visit: bool,
    step: &HouseholdStep,
    error: Option<&NodeError>,
) -> Markup {
    let unusual = error.and_then(unusual_date);
    let beside = error.and_then(step_field);
    let field_error = |name: &str| {
        error
            .filter(|_| beside == Some(name))
            .map(ToString::to_string)
    };
    let heading = if visit {
        format!("Ghi lần vận động: {title}")
    } else {
        format!("Chuyển giai đoạn: {title}")
    };
    let action = if visit { "van-dong" } else { "giai-doan" };
    let stages: Vec<vocab::Choice> = vocab::HOUSEHOLD_STAGES
        .iter()
        .copied()
        .chain([vocab::OBJECTION, vocab::OBJECTION_RESOLVED])
        .collect();
    let body = html! {
        p.muted { a href={ "/ho-so/" (id) } { "← Về hồ sơ" } }
        @if let Some(e) = error {
            p.error role="alert" {
                @if let Some(message) = &unusual { (message) }
                @else if beside.is_some() { "Chưa lưu: hãy sửa ô được đánh dấu bên dưới." } @else { (e) }
            }
        }
        form.stack method="post" action={ "/ho-so/" (id) "/" (action) } novalidate {
            (csrf_field(ctx))
            @if !visit {
                (choice("stage", "Giai đoạn mới", &stages, &step.stage, field_error("stage"), true))
            }
            (text_input("date", "Ngày", Some("dd/mm/yyyy"), &step.date, field_error("date"), false))
            (text_input("by", if visit { "Người vận động" } else { "Người ghi" }, None, &step.by, field_error("by"), false))
            @if visit {
                (text_input("outcome", "Kết quả vận động", None, &step.outcome, None, true))
            } @else {
                (text_input("note", "Ghi chú", None, &step.note, None, true))
            }
            @if unusual.is_some() { (confirm_box()) }
            div { button type="submit" { "Lưu" } }
        }
    };
    page(ctx, Nav::Records, &heading, body)
}

/// The kinds, in the order an officer meets them, with their addresses.
const KINDS: &[(Kind, &str, &str)] = &[
    (Kind::Activity, "hoat-dong", "Hoạt động dân vận"),
    (
        Kind::Petition,
        "don-thu",
        "Phản ánh, kiến nghị, khiếu nại, tố cáo",
    ),
    (Kind::Household, "ho-gpmb", "Hộ bị ảnh hưởng GPMB"),
    (Kind::Task, "nhiem-vu", "Nhiệm vụ từ kết luận"),
    (Kind::Progress, "tien-do", "Báo cáo tiến độ nhiệm vụ"),
    (Kind::Model, "mo-hinh", "Mô hình \"Dân vận khéo\""),
];

fn kind_of(slug: &str) -> Result<(Kind, &'static str), WebError> {
    KINDS
        .iter()
        .find(|(_, s, _)| *s == slug)
        .map(|(k, _, title)| (*k, *title))
        .ok_or_else(|| WebError::NotFound(format!("loại hồ sơ {slug:?}")))
}

async fn index(ctx: Ctx) -> Markup {
    page(
        &ctx,
        Nav::New,
        "Thêm mới",
        html! {
            p.muted { "Chọn loại hồ sơ cần ghi. Hồ sơ được lưu ngay trên máy này và gửi đi ở lần đồng bộ tới." }
            ul.kinds {
                @for (_, slug, title) in KINDS {
                    li { a.button.secondary href={ "/them/" (slug) } { (title) } }
                }
            }
            p { a href="/them/nhap-tep" { "Nhập nhiều hộ GPMB hoặc hoạt động từ tệp Excel, CSV →" } }
        },
    )
}

/// What was typed: each field's values, in order (a list field repeats).
type Typed = BTreeMap<String, Vec<String>>;

fn first<'a>(typed: &'a Typed, name: &str) -> &'a str {
    typed
        .get(name)
        .and_then(|v| v.first())
        .map(String::as_str)
        .unwrap_or("")
}

/// What a link may fill in before the officer types: the task a progress
/// report is for (the task page links here with its number).
#[derive(Debug, Default, serde::Deserialize)]
struct Prefill {
    #[serde(default)]
    task: Option<String>,
}

async fn form(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(prefill): Query<Prefill>,
) -> Result<Markup, WebError> {
    let (kind, title) = kind_of(&slug)?;
    let units = state.call(|n| Ok(n.units().clone()))?;
    let mut typed = Typed::new();
    typed.insert("unit".into(), vec![ctx.node.unit.clone()]);
    if kind == Kind::Progress {
        typed.insert("period".into(), vec![current_half()]);
        if let Some(task) = prefill.task {
            typed.insert("task".into(), vec![task]);
        }
    }
    Ok(render(&ctx, kind, &slug, title, &units, &typed, None))
}

async fn submit(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let (kind, title) = kind_of(&slug)?;
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    ctx.verify(csrf)?;
    let confirmed = pairs.iter().any(|(k, _)| k == CONFIRM_DATE);
    let mut typed = Typed::new();
    for (k, v) in pairs
        .into_iter()
        .filter(|(k, _)| k != "csrf" && k != CONFIRM_DATE)
    {
        typed.entry(k).or_default().push(v);
    }
    let draft = draft(kind, &typed)?;
    match state.write_confirmed(confirmed, |n| Ok(n.add_draft(&draft)))? {
        Ok(id) => Ok(Redirect::to(&format!("/ho-so/{id}?da-luu=1")).into_response()),
        Err(error) => {
            let units = state.call(|n| Ok(n.units().clone()))?;
            let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok((
                status,
                render(&ctx, kind, &slug, title, &units, &typed, Some(&error)),
            )
                .into_response())
        }
    }
}

/// The draft a form's fields make: single fields as text, `assigned` as a
/// list, `parcels` one per line.
fn draft(kind: Kind, typed: &Typed) -> Result<Draft, WebError> {
    let mut object = serde_json::Map::new();
    for (name, values) in typed {
        let value = match name.as_str() {
            "assigned" => serde_json::Value::from(values.clone()),
            "parcels" => serde_json::Value::from(
                values
                    .iter()
                    .flat_map(|v| v.lines())
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>(),
            ),
            _ => serde_json::Value::from(values.first().cloned().unwrap_or_default()),
        };
        object.insert(name.clone(), value);
    }
    let value = serde_json::Value::Object(object);
    Draft::from_value(kind, value)
        .map_err(|e| WebError::BadRequest(format!("biểu mẫu không hợp lệ: {e}")))
}

/// The current half-year in Vietnam time, e.g. `2026-H2`.
fn current_half() -> String {
    let now = time::OffsetDateTime::now_utc() + time::Duration::hours(7);
    let half = if u8::from(now.month()) <= 6 { 1 } else { 2 };
    format!("{}-H{half}", now.year())
}

/// Fields a new record of each kind asks for beyond its editable fields,
/// and editable fields a new record does not ask for.
fn asked(kind: Kind, spec: &FieldSpec) -> bool {
    !matches!(
        (kind, spec.name),
        (Kind::Petition, "status" | "answer" | "resolved")
    )
}

fn is_long(name: &str) -> bool {
    matches!(
        name,
        "summary" | "results" | "content" | "text" | "inventory" | "answer"
    )
}

fn hint(spec: &FieldSpec) -> Option<&'static str> {
    match spec.ty {
        FieldType::Date { .. } => Some("dd/mm/yyyy, ví dụ 17/07/2023"),
        FieldType::Money => Some("đồng, ví dụ 850.000.000"),
        FieldType::Year => Some("ví dụ 2023"),
        _ => None,
    }
}

fn render(
    ctx: &Ctx,
    kind: Kind,
    slug: &str,
    title: &str,
    units: &UnitTree,
    typed: &Typed,
    error: Option<&DraftError>,
) -> Markup {
    let field_error = |name: &str| error.and_then(|e| e.for_field(name)).map(str::to_string);
    let unusual = error.and_then(|e| match e {
        DraftError::Node(e) => unusual_date(e),
        DraftError::Fields(_) => None,
    });
    let general = match error {
        Some(_) if unusual.is_some() => unusual.clone(),
        Some(DraftError::Node(e)) => Some(e.to_string()),
        Some(DraftError::Fields(_)) => {
            Some("Chưa lưu: hãy sửa các ô được đánh dấu bên dưới.".to_string())
        }
        None => None,
    };
    let specs = danvan_model::editable_fields(kind);
    let body = html! {
        p.muted { a href="/them" { "← Chọn loại khác" } }
        @if let Some(message) = &general {
            p.error role="alert" { (message) }
        }
        form.stack method="post" action={ "/them/" (slug) } novalidate {
            (csrf_field(ctx))
            (unit_select("unit", "Đơn vị", units, first(typed, "unit"), field_error("unit")))
            @if kind == Kind::Household {
                (choice("project", "Dự án", vocab::PROJECTS, first(typed, "project"), field_error("project"), true))
            }
            @if kind == Kind::Progress {
                (text_input("task", "Nhiệm vụ", Some("số thứ tự trong kết luận, ví dụ 2.4, hoặc mã hồ sơ"), first(typed, "task"), field_error("task"), false))
                (text_input("period", "Kỳ báo cáo", Some("ví dụ 2023-H2, 2023, 2023-Q3"), first(typed, "period"), field_error("period"), false))
            }
            @for spec in specs.iter().filter(|s| asked(kind, s)) {
                (field(spec, units, first(typed, spec.name), field_error(spec.name)))
            }
            @if kind == Kind::Household {
                (text_input("parcels", "Thửa đất", Some("mỗi dòng một thửa: TỜ/THỬA:DIỆN_TÍCH_M2:LOẠI_ĐẤT, ví dụ 12/345:250.5:ONT"), &typed.get("parcels").map(|v| v.join("\n")).unwrap_or_default(), field_error("parcels"), true))
            }
            @if kind == Kind::Task {
                (unit_checks("assigned", "Giao cho", units, typed.get("assigned").map(Vec::as_slice).unwrap_or(&[]), field_error("assigned")))
            }
            @if unusual.is_some() { (confirm_box()) }
            div { button type="submit" { "Lưu" } }
        }
    };
    page(
        ctx,
        Nav::New,
        &format!("Thêm mới: {}", lower_first(title)),
        body,
    )
}

fn label_block(
    name: &str,
    label: &str,
    hint: Option<&str>,
    error: &Option<String>,
    control: Markup,
) -> Markup {
    html! {
        label for=(name) {
            span { (label) }
            @if let Some(h) = hint { span.hint { (h) } }
            (control)
            @if let Some(e) = error { span.field-error id={ (name) "-error" } role="alert" { (e) } }
        }
    }
}

fn text_input(
    name: &str,
    label: &str,
    hint: Option<&str>,
    value: &str,
    error: Option<String>,
    long: bool,
) -> Markup {
    let invalid = error.is_some().then_some("true");
    let control = if long {
        html! { textarea id=(name) name=(name) aria-invalid=[invalid] { (value) } }
    } else {
        html! { input type="text" id=(name) name=(name) value=(value) aria-invalid=[invalid]; }
    };
    label_block(name, label, hint, &error, control)
}

fn choice(
    name: &str,
    label: &str,
    choices: &[vocab::Choice],
    value: &str,
    error: Option<String>,
    with_empty: bool,
) -> Markup {
    let invalid = error.is_some().then_some("true");
    let control = html! {
        select id=(name) name=(name) aria-invalid=[invalid] {
            @if with_empty { option value="" { "— chọn —" } }
            @for (code, text) in choices {
                option value=(code) selected[*code == value] { (crate::fmt::option_text(label, text)) }
            }
        }
    };
    label_block(name, label, None, &error, control)
}

fn unit_select(
    name: &str,
    label: &str,
    units: &UnitTree,
    value: &str,
    error: Option<String>,
) -> Markup {
    let invalid = error.is_some().then_some("true");
    let control = html! {
        select id=(name) name=(name) aria-invalid=[invalid] {
            // Units that ended are not offered, but the one already chosen —
            // a node's own unit merged away keeps writing under it, as the
            // CLI does, read under its successor — stays, marked as such.
            @for (depth, unit) in units.render() {
                @if unit.merged_into.is_none() || unit.id == value {
                    option value=(unit.id) selected[unit.id == value] {
                        (indent(depth)) (unit.name)
                        @if unit.merged_into.is_some() { " (đã sáp nhập)" }
                    }
                }
            }
        }
    };
    label_block(name, label, None, &error, control)
}

fn unit_checks(
    name: &str,
    label: &str,
    units: &UnitTree,
    values: &[String],
    error: Option<String>,
) -> Markup {
    html! {
        fieldset.units id=(name) {
            legend { (label) }
            @for (depth, unit) in units.render() {
                @if unit.merged_into.is_none() {
                    label.check style={ "padding-left:" (depth) "rem" } {
                        input type="checkbox" name=(name) value=(unit.id) checked[values.contains(&unit.id)];
                        " " (unit.name)
                    }
                }
            }
            @if let Some(e) = &error { span.field-error role="alert" { (e) } }
        }
    }
}

fn indent(depth: usize) -> String {
    "\u{a0}\u{a0}".repeat(depth)
}

fn field(spec: &FieldSpec, units: &UnitTree, value: &str, error: Option<String>) -> Markup {
    let label = capitalize(spec.label_vi);
    match spec.ty {
        FieldType::Choice(choices) => choice(spec.name, &label, choices, value, error, false),
        FieldType::Unit => {
            let invalid = error.is_some().then_some("true");
            let control = html! {
                select id=(spec.name) name=(spec.name) aria-invalid=[invalid] {
                    option value="" { "— không —" }
                    @for (depth, unit) in units.render() {
                        @if unit.merged_into.is_none() {
                            option value=(unit.id) selected[unit.id == value] { (indent(depth)) (unit.name) }
                        }
                    }
                }
            };
            label_block(spec.name, &label, None, &error, control)
        }
        FieldType::Bool => html! {
            label.check for=(spec.name) {
                input type="checkbox" id=(spec.name) name=(spec.name) checked[matches!(value, "on" | "co")];
                " " (label)
                @if let Some(e) = &error { span.field-error role="alert" { (e) } }
            }
        },
        FieldType::Round => choice(
            spec.name,
            &label,
            &[("1", "Lần đầu"), ("2", "Lần hai")],
            value,
            error,
            false,
        ),
        _ => text_input(
            spec.name,
            &label,
            hint(spec),
            value,
            error,
            is_long(spec.name),
        ),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `title` with its first letter in lower case, for a heading that goes on
/// after a colon; abbreviations (GPMB) and names ("Dân vận khéo") keep
/// their capitals.
fn lower_first(title: &str) -> String {
    let mut chars = title.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After the 2025 merges a node of Phổ Minh still writes under its own
    /// unit (read under Phường Đức Phổ): the list keeps it chosen, marked,
    /// rather than falling back to the first unit, the province; other
    /// ended units are not offered.
    #[test]
    fn a_merged_unit_already_chosen_stays_chosen_and_others_ended_are_not_offered() {
        let units = UnitTree::duc_pho_2025();
        let html = unit_select("unit", "Đơn vị", &units, "pho-minh", None).into_string();
        assert!(
            html.contains(r#"value="pho-minh" selected"#) && html.contains("(đã sáp nhập)"),
            "{html}"
        );
        assert!(!html.contains(r#"value="pho-hoa""#), "{html}");
        assert!(html.contains(r#"value="phuong-duc-pho""#), "{html}");
    }
}
