//! Thị xã: the town office's pages — the roster, invites as text and QR
//! code, the units, and the audit log. What a page offers follows the
//! machine ([`TownDesk`]): where the authority key is, members are added
//! and revoked (signed there); on a hub that holds only rosters they are
//! shown read-only, a signed roster file is applied (`roster_files.rs`),
//! and the page says where the signing happens. Other nodes answer 404.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use danvan_model::{NodeId, Role, vocab};
use danvan_node::{MemberSpec, TownDesk};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::auth::{Ctx, Verified};
use crate::error::WebError;
use crate::fmt::time_ms;
use crate::layout::{Nav, csrf_field, notice, page};
use crate::server::AppState;

/// Audit entries shown at most on one page; the log itself keeps them all.
const AUDIT_LIMIT_MAX: usize = 1000;
/// Audit entries shown unless the officer asks for more.
const AUDIT_LIMIT_DEFAULT: usize = 100;

/// Roles an officer can give, in the order the form offers them.
const ROLES: [Role; 4] = [Role::Officer, Role::Field, Role::Viewer, Role::Hub];

/// The audit events and how the page names them.
const EVENTS: &[(&str, &str)] = &[
    ("session", "Phiên đồng bộ"),
    ("rejected-change", "Thay đổi bị từ chối"),
    ("rejected-connection", "Kết nối bị từ chối"),
    ("roster", "Danh sách thành viên"),
    ("rejected-roster", "Danh sách thành viên bị từ chối"),
    ("set-aside", "Thay đổi bị gạt ra khi thu hồi"),
    ("export", "Xuất dữ liệu"),
    ("report", "Xuất báo cáo"),
    ("bundle-export", "Xuất gói"),
    ("erased", "Xoá dữ liệu cá nhân"),
];

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/thi-xa", get(roster))
        .route("/thi-xa/them", post(add))
        .route("/thi-xa/thu-hoi", get(confirm_revoke).post(revoke))
        .route("/thi-xa/loi-moi", get(invite))
        .route("/thi-xa/nhat-ky", get(audit))
        .merge(crate::pages::roster_files::routes())
        .merge(crate::pages::town_units::routes())
}

pub(crate) fn town_only(ctx: &Ctx) -> Result<TownDesk, WebError> {
    ctx.node.town_office.ok_or_else(|| {
        WebError::NotFound(
            "trang của văn phòng thị xã (chỉ có trên trạm thị xã và máy giữ khóa thẩm quyền)"
                .into(),
        )
    })
}

/// Refuses, on a hub that holds only rosters, a page that would sign one:
/// the hub has no key, and says where the signing happens.
fn signing_desk(ctx: &Ctx) -> Result<TownDesk, WebError> {
    match town_only(ctx)? {
        TownDesk::AppliesFiles => Err(WebError::BadRequest(format!(
            "trạm này không giữ khóa thẩm quyền nên không ký được danh sách thành viên: thêm, thu hồi máy trên máy giữ khóa (không nối mạng), rồi áp dụng tệp đã ký ở trang Thị xã. {}",
            crate::pages::roster_files::SIGN_ELSEWHERE_SHORT
        ))),
        desk => Ok(desk),
    }
}

/// The member a town-office page is about: only on the town office, and
/// only a well-formed node id.
fn town_member(ctx: &Ctx, node: &str) -> Result<NodeId, WebError> {
    town_only(ctx)?;
    parse_id(node).map_err(WebError::BadRequest)
}

fn parse_id(text: &str) -> Result<NodeId, String> {
    text.trim()
        .parse::<NodeId>()
        .map_err(|e| format!("mã nút {:?} không hợp lệ: {e}", text.trim()))
}

pub(crate) fn sub_nav() -> Markup {
    html! {
        nav.sub {
            a href="/thi-xa" { "Thành viên" }
            " · "
            a href="/thi-xa/don-vi" { "Đơn vị" }
            " · "
            a href="/thi-xa/nhat-ky" { "Nhật ký kiểm tra" }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RosterQuery {
    #[serde(default)]
    ok: Option<String>,
}

/// What the add form holds after a refused post, to show it again.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AddForm {
    #[serde(default)]
    node: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    units: String,
    #[serde(default)]
    project: String,
}

async fn roster(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(query): Query<RosterQuery>,
) -> Result<Markup, WebError> {
    town_only(&ctx)?;
    render_roster(&ctx, &state, query.ok.as_deref(), Refused::None)
}

/// What a refused post on the roster page is shown with.
pub(crate) enum Refused<'a> {
    None,
    /// The add form, its error beside it and what was typed.
    Add(&'a str, &'a AddForm),
    /// A roster file not applied: the error beside the upload form.
    Apply(&'a str),
}

pub(crate) fn render_roster(
    ctx: &Ctx,
    state: &AppState,
    ok: Option<&str>,
    refused: Refused<'_>,
) -> Result<Markup, WebError> {
    let desk = town_only(ctx)?;
    let (roster, units, shown, warning) = state.call(|n| {
        let tree = n.units();
        let units: Vec<(String, String)> = tree
            .units()
            .iter()
            .map(|u| (u.id.clone(), u.name.clone()))
            .collect();
        // A member's unit that has since merged is named with the unit its
        // records are read under now (a roster keeps the unit it was given).
        let shown: Vec<(String, String)> = tree
            .units()
            .iter()
            .map(|u| {
                let now = tree.current(&u.id);
                let name = if now == u.id {
                    u.name.clone()
                } else {
                    format!("{} (nay thuộc {})", u.name, tree.name(&now))
                };
                (u.id.clone(), name)
            })
            .collect();
        Ok((n.roster()?, units, shown, n.authority_key_warning()))
    })?;
    let blank = AddForm::default();
    let (error, form) = match refused {
        Refused::Add(error, form) => (Some(error), form),
        _ => (None, &blank),
    };
    let apply_error = match refused {
        Refused::Apply(error) => Some(error),
        _ => None,
    };
    let signs = desk != TownDesk::AppliesFiles;
    let invites = desk != TownDesk::SignsOffline;
    let unit_name = |id: &str| -> String {
        shown
            .iter()
            .find(|(u, _)| u == id)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    Ok(page(
        ctx,
        Nav::Town,
        "Thị xã — thành viên",
        html! {
            (sub_nav())
            @if let Some(ok) = ok { (notice(ok)) }
            @if let Some(warning) = warning { p.warning role="note" { (crate::pages::view::capitalize(&warning)) } }
            @match &roster {
                None => p.muted { "Chưa có danh sách thành viên." }
                Some(signed) => {
                    p.muted #roster-version {
                        "Danh sách phiên bản " (signed.version()) ", ký bởi khóa thẩm quyền "
                        code title=(signed.authority().to_string()) { (signed.authority().short()) } ". "
                        (crate::pages::roster_files::desk_line(desk))
                    }
                    div.table-wrap {
                        table.responsive #members {
                            thead { tr { th { "Tên máy" } th { "Mã nút" } th { "Vai trò" } th { "Đơn vị" } th { "Dự án" } th { "Trạng thái" } th {} } }
                            tbody {
                                @for m in &signed.roster().members {
                                    tr data-node=(m.node) {
                                        td { (m.name.as_deref().unwrap_or("—")) }
                                        td { code title=(m.node) { (m.node.get(..8).unwrap_or(&m.node)) } }
                                        td { (m.role.label_vi()) }
                                        td { (m.units.iter().map(|u| unit_name(u)).collect::<Vec<_>>().join(", ")) }
                                        td { (m.project.as_deref().map(|p| crate::fmt::label(vocab::PROJECTS, p)).unwrap_or_default()) }
                                        td {
                                            @match m.revoked_at {
                                                Some(at) => span.badge.late { "Đã thu hồi " (time_ms(at)) },
                                                None => span.badge { "Đang hoạt động" },
                                            }
                                        }
                                        td.actions {
                                            @if !m.is_revoked() && m.role != Role::Hub {
                                                @if invites {
                                                    a href={ "/thi-xa/loi-moi?node=" (m.node) } { "Lời mời" }
                                                }
                                                @if invites && signs { " · " }
                                                @if signs {
                                                    a.warn href={ "/thi-xa/thu-hoi?node=" (m.node) } { "Thu hồi" }
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
            @if signs {
            h2 { "Thêm máy vào thị xã" }
            form.stack #member-add method="post" action="/thi-xa/them" {
                (csrf_field(ctx))
                @if let Some(error) = error { p.error role="alert" { (error) } }
                label {
                    "Mã nút"
                    span.hint { "Máy mới in mã này bằng lệnh danvan id, hoặc trang Tổng quan của máy đó" }
                    input type="text" name="node" value=(form.node) required;
                }
                label { "Tên máy" input type="text" name="name" value=(form.name) placeholder="Máy cán bộ Phổ Minh"; }
                label {
                    "Vai trò"
                    select name="role" {
                        @for role in ROLES {
                            option value=(role.code()) selected[form.role == role.code()] { (role.label_vi()) }
                        }
                    }
                }
                label {
                    "Đơn vị"
                    span.hint { "Mã đơn vị; nhiều đơn vị cách nhau bằng dấu phẩy" }
                    input type="text" name="units" value=(form.units) list="unit-codes" required;
                    datalist #unit-codes {
                        @for (id, name) in &units { option value=(id) { (name) } }
                    }
                }
                label { "Dự án GPMB (tổ công tác)"
                    select name="project" {
                        option value="" { "— không —" }
                        @for (code, text) in vocab::PROJECTS {
                            option value=(code) selected[*code == form.project] { (crate::fmt::option_text("Dự án", text)) }
                        }
                    }
                }
                div { button type="submit" { "Thêm vào danh sách" } }
            }
            }
            // After the add form: on the authority's machine the file is
            // what is carried once the changes are made.
            (crate::pages::roster_files::section(ctx, desk, roster.as_deref(), apply_error))
        },
    ))
}

async fn add(
    State(state): State<AppState>,
    Verified(ctx, form): Verified<AddForm>,
) -> Result<Response, WebError> {
    signing_desk(&ctx)?;
    let refused = |message: String| -> Result<Response, WebError> {
        Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            render_roster(&ctx, &state, None, Refused::Add(&message, &form))?,
        )
            .into_response())
    };
    let id = match parse_id(&form.node) {
        Ok(id) => id,
        Err(e) => return refused(e),
    };
    let role = match Role::parse(&form.role) {
        Ok(role) => role,
        Err(e) => return refused(e.to_string()),
    };
    let units: Vec<String> = form
        .units
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let spec = MemberSpec {
        role,
        units,
        project: nonempty(&form.project),
        name: nonempty(&form.name),
    };
    match state.write(|n| n.roster_add(&id, spec)) {
        Ok(signed) => Ok(Redirect::to(&format!(
            "/thi-xa?ok={}",
            encode(&format!(
                "Đã thêm máy {} vào danh sách phiên bản {}.",
                id.short(),
                signed.version()
            ))
        ))
        .into_response()),
        Err(WebError::Node(e)) => refused(e.to_string()),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NodeQuery {
    node: String,
    #[serde(default)]
    addr: Option<String>,
}

async fn confirm_revoke(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(query): Query<NodeQuery>,
) -> Result<Markup, WebError> {
    signing_desk(&ctx)?;
    let id = town_member(&ctx, &query.node)?;
    let member = state.call(|n| Ok(n.roster()?.and_then(|r| r.member(&id).cloned())))?;
    let member = member.ok_or_else(|| WebError::NotFound(format!("máy {}", id.short())))?;
    Ok(page(
        &ctx,
        Nav::Town,
        "Thu hồi máy",
        html! {
            p.error role="alert" {
                "Thu hồi máy " strong { (member.name.as_deref().unwrap_or("không tên")) }
                " (" code { (id.short()) } ", " (member.role.label_vi()) ")? "
                "Các nút nhận danh sách mới sẽ từ chối kết nối của máy này và mọi thay đổi nó ký sau này. "
                "Những gì máy đó đang giữ vẫn ở trên máy: thu hồi không xoá dữ liệu."
            }
            form.stack #revoke-confirm method="post" action="/thi-xa/thu-hoi" {
                (csrf_field(&ctx))
                input type="hidden" name="node" value=(id.to_string());
                div {
                    button type="submit" { "Thu hồi máy này" }
                    " "
                    a.button.secondary href="/thi-xa" { "Huỷ" }
                }
            }
        },
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    node: String,
}

async fn revoke(
    State(state): State<AppState>,
    Verified(ctx, form): Verified<RevokeForm>,
) -> Result<Response, WebError> {
    signing_desk(&ctx)?;
    let id = town_member(&ctx, &form.node)?;
    let (signed, kept) = state.write(|n| n.roster_revoke(&id))?;
    Ok(Redirect::to(&format!(
        "/thi-xa?ok={}",
        encode(&format!(
            "Đã thu hồi máy {} (danh sách phiên bản {}). {} thay đổi nó ghi trước đó vẫn có hiệu lực; mọi thay đổi khác do nó ký sẽ bị từ chối.",
            id.short(),
            signed.version(),
            kept
        ))
    ))
    .into_response())
}

/// The invite for a member, as text to copy and as a QR code a phone or
/// the new laptop's webcam can read.
async fn invite(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(query): Query<NodeQuery>,
) -> Result<Markup, WebError> {
    let id = town_member(&ctx, &query.node)?;
    let addr = query
        .addr
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let made = if addr.is_some() {
        state.write(|n| n.invite(&id, addr))
    } else {
        state.call(|n| n.invite(&id, None))
    };
    let name = state.call(|n| Ok(n.node_name(&id)))?;
    let body = match made {
        Ok(text) => {
            let qr = crate::qr::code(&text).map(|code| crate::qr::svg(&code));
            html! {
                p { "Máy " strong { (name) } " (" code { (id.short()) } ") nhập lời mời này bằng " code { "danvan join LỜI_MỜI" } " hoặc quét mã QR." }
                textarea #invite-text readonly rows="4" { (text) }
                @match qr {
                    // The SVG is built by the qrcode crate from the invite's
                    // bits only: it contains no text from the request.
                    Ok(svg) => div.qr #invite-qr { (PreEscaped(svg)) },
                    Err(e) => p.error { "Không vẽ được mã QR: " (e.to_string()) },
                }
            }
        }
        Err(e) => html! {
            p.error role="alert" { (e) }
            form.stack method="get" action="/thi-xa/loi-moi" {
                input type="hidden" name="node" value=(id.to_string());
                label {
                    "Địa chỉ trạm mà các máy kết nối tới"
                    span.hint { "Dạng IP:CỔNG hoặc TÊN-MÁY:CỔNG, ví dụ 10.0.0.5:7700" }
                    input type="text" name="addr" required;
                }
                div { button type="submit" { "Tạo lời mời" } }
            }
        },
    };
    Ok(page(
        &ctx,
        Nav::Town,
        "Lời mời tham gia",
        html! { (sub_nav()) (body) },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    event: String,
    #[serde(default)]
    peer: String,
    #[serde(default)]
    limit: Option<usize>,
}

async fn audit(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Markup, WebError> {
    town_only(&ctx)?;
    let limit = query
        .limit
        .unwrap_or(AUDIT_LIMIT_DEFAULT)
        .clamp(1, AUDIT_LIMIT_MAX);
    let peer = query.peer.trim().to_string();
    let event = query.event.trim().to_string();
    // Filters apply to a window of the newest entries, bounded so a huge
    // log cannot make one page read it all.
    let window = if event.is_empty() && peer.is_empty() {
        limit
    } else {
        AUDIT_LIMIT_MAX * 10
    };
    let mut entries = state.call(|n| n.audit_log(window))?;
    entries.retain(|e| {
        (event.is_empty() || e.event == event)
            && (peer.is_empty() || e.peer.as_deref().is_some_and(|p| p.starts_with(&peer)))
    });
    entries.reverse();
    entries.truncate(limit);
    let event_label = |code: &str| -> String {
        EVENTS
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, l)| l.to_string())
            .unwrap_or_else(|| code.to_string())
    };
    Ok(page(
        &ctx,
        Nav::Town,
        "Thị xã — nhật ký kiểm tra",
        html! {
            (sub_nav())
            form.filters #audit-filters method="get" action="/thi-xa/nhat-ky" {
                label {
                    "Loại"
                    select name="event" {
                        option value="" { "Tất cả" }
                        @for (code, label) in EVENTS {
                            option value=(code) selected[event == *code] { (label) }
                        }
                    }
                }
                label { "Nút (mã hoặc đầu mã)" input type="text" name="peer" value=(peer); }
                label { "Số dòng" input type="number" name="limit" min="1" max=(AUDIT_LIMIT_MAX) value=(limit); }
                button type="submit" { "Lọc" }
            }
            @if entries.is_empty() {
                p.muted #audit-empty { "Không có mục nào." }
            } @else {
                div.table-wrap {
                    table.responsive #audit {
                        thead { tr { th { "Lúc" } th { "Loại" } th { "Nút" } th { "Chi tiết" } } }
                        tbody {
                            @for e in &entries {
                                tr data-event=(e.event) {
                                    td { (time_ms(e.at)) }
                                    td { (event_label(&e.event)) }
                                    td { @if let Some(p) = &e.peer { code title=(p) { (p.get(..8).unwrap_or(p)) } } }
                                    td { (detail_text(&e.detail)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// How the page names the fields of an audit entry's detail.
const DETAIL_LABELS: &[(&str, &str)] = &[
    ("result", "kết quả"),
    ("author", "tác giả"),
    ("doc", "hồ sơ"),
    ("hash", "mã thay đổi"),
    ("via", "qua"),
    ("version", "phiên bản"),
    ("previous", "phiên bản trước"),
    ("sent", "đã gửi"),
    ("received", "đã nhận"),
    ("stored", "đã lưu"),
    ("rejected", "bị từ chối"),
    ("hashes_offered", "mã thay đổi đã chào"),
    ("held", "phiên bản đang giữ"),
    ("initiator", "máy này mở phiên"),
    ("live", "liên tục"),
    ("bytes_sent", "byte gửi"),
    ("bytes_received", "byte nhận"),
    ("elapsed_ms", "thời gian (ms)"),
    ("to", "nơi đến"),
    ("fields", "trường cá nhân"),
    ("records", "hồ sơ"),
    ("names", "họ tên"),
    ("id_numbers", "số CCCD"),
    ("addresses", "địa chỉ"),
    ("compensation", "số tiền bồi thường"),
    ("recipients", "mã hoá cho"),
    ("earlier_changes", "thay đổi trước còn giữ giá trị cũ"),
];

/// An audit entry's detail as short text: the reason first when there is
/// one, then the other fields.
fn detail_text(detail: &serde_json::Value) -> String {
    let Some(map) = detail.as_object() else {
        return detail.to_string();
    };
    let mut parts = Vec::new();
    if let Some(reason) = map.get("reason").and_then(|v| v.as_str()) {
        parts.push(reason.to_string());
    }
    // Known fields in the order a reader asks about them, then any other.
    let known = DETAIL_LABELS
        .iter()
        .filter_map(|(k, l)| Some((*k, *l, map.get(*k)?)));
    let other = map
        .iter()
        .filter(|(k, _)| *k != "reason" && !DETAIL_LABELS.iter().any(|(d, _)| d == k))
        .map(|(k, v)| (k.as_str(), k.as_str(), v));
    for (key, label, value) in known.chain(other) {
        let text = match value {
            serde_json::Value::String(s) => match s.as_str() {
                "sync" => "đồng bộ".to_string(),
                "bundle" => "gói USB".to_string(),
                "ok" => "thành công".to_string(),
                "stdout" => "màn hình".to_string(),
                "web" => "tải về qua web".to_string(),
                s if key == "result" || key == "to" => s.to_string(),
                s => s.get(..16).unwrap_or(s).to_string(),
            },
            serde_json::Value::Bool(true) => "có".to_string(),
            serde_json::Value::Bool(false) => "không".to_string(),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(n) => crate::fmt::thousands(n),
                None => n.to_string(),
            },
            serde_json::Value::Array(items) if items.is_empty() => "không có".to_string(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| {
                    let s = i.as_str().unwrap_or("");
                    s.get(..16).unwrap_or(s).to_string()
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        parts.push(format!("{label}: {text}"));
    }
    parts.join(" · ")
}

/// Percent-encodes a notice for a redirect's query string.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
