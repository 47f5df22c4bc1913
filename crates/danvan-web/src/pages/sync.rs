//! Đồng bộ: sync now with the hub or a peer (in the background, with live
//! progress), the last sync with each peer, and USB bundles both ways.

use danvan_node::PeerAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use danvan_model::NodeId;
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::{Ctx, Verified};
use crate::error::{WebError, parse_optional};
use crate::fmt::{thousands, time_ms};
use crate::layout::{Nav, csrf_field, notice, page};
use crate::server::AppState;
use crate::sync_runner::{REFUSED_LISTED_MAX, RefusedChange, SyncStatus, now_ms, refused_since};
use crate::upload::{TempFile, Upload};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dong-bo", get(show).post(start))
        .route("/dong-bo/tien-do", get(progress))
        .route("/dong-bo/goi", get(download).post(upload))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    error: Option<String>,
}

struct PeerLine {
    name: String,
    id: String,
    last_sync: Option<i64>,
    sent: i64,
    received: i64,
    behind: i64,
}

/// What the page shows besides the running sync.
struct SyncPage {
    hub: Option<PeerAddr>,
    peers: Vec<PeerLine>,
}

fn read_page(state: &AppState) -> Result<SyncPage, WebError> {
    state.call(|node| {
        let hub = node.hub_addr()?;
        let trusted = node.trusted()?;
        let roster = node.roster()?;
        let name_of = |id: &str| -> String {
            let member = roster.as_ref().and_then(|r| {
                r.roster()
                    .members
                    .iter()
                    .find(|m| m.node == id)
                    .and_then(|m| m.name.clone())
            });
            member
                .filter(|n| !n.is_empty())
                .or_else(|| {
                    trusted
                        .iter()
                        .find(|t| t.id.to_string() == id)
                        .and_then(|t| t.name.clone())
                })
                .unwrap_or_else(|| format!("Nút {}", &id[..id.len().min(8)]))
        };
        let peers = node
            .peers()?
            .into_iter()
            .map(|p| PeerLine {
                name: name_of(&p.peer),
                id: p.peer.clone(),
                last_sync: p.last_sync,
                sent: p.sent,
                received: p.received,
                behind: p.behind,
            })
            .collect();
        Ok(SyncPage { hub, peers })
    })
}

fn status_view(status: &SyncStatus) -> Markup {
    html! {
        section #sync-status data-state=(status.state) data-run=(status.run) {
            @match status.state {
                "running" => {
                    p.notice role="status" {
                        "Đang đồng bộ với " (status.addr.as_deref().unwrap_or("")) "…"
                    }
                    dl.fields {
                        dt { "Còn nhận (tối đa)" } dd #left-receive { (thousands(status.left_to_receive as i64)) " thay đổi" }
                        dt { "Còn gửi (tối đa)" } dd #left-send { (thousands(status.left_to_send as i64)) " thay đổi" }
                        dt { "Đã nhận / đã gửi" } dd #bytes { (thousands(status.bytes_received as i64)) " / " (thousands(status.bytes_sent as i64)) " byte" }
                        dt { "Tốc độ" } dd #rate { (thousands(status.bytes_per_s as i64)) " byte/giây" }
                    }
                    noscript { p { a href="/dong-bo" { "Tải lại trang" } " để xem tiến độ." } }
                }
                "done" => {
                    @if let Some(s) = &status.summary {
                        p.notice role="status" #sync-result {
                            "Đồng bộ xong với " (status.addr.as_deref().unwrap_or("")) ": nhận "
                            (thousands(s.changes_received as i64)) " thay đổi (" (thousands(s.changes_stored as i64)) " mới, "
                            (thousands(s.changes_rejected as i64)) " bị từ chối), gửi "
                            (thousands(s.changes_sent as i64)) " thay đổi; "
                            (thousands((s.bytes_received + s.bytes_sent) as i64)) " byte; "
                            (thousands(s.elapsed_ms as i64)) " ms."
                        }
                    }
                    (refused_view(&status.refused))
                }
                "failed" => {
                    p.error role="alert" #sync-result {
                        "Không đồng bộ được với " (status.addr.as_deref().unwrap_or("")) ": "
                        (status.error.as_deref().unwrap_or(""))
                    }
                    (refused_view(&status.refused))
                }
                _ => {}
            }
        }
    }
}

fn refused_view(refused: &[RefusedChange]) -> Markup {
    html! {
        @if !refused.is_empty() {
            h2 { "Thay đổi bị từ chối" }
            p.muted { "Các thay đổi này không được lưu; nhật ký kiểm tra giữ đủ chi tiết." }
            div.table-wrap {
                table.responsive #refused {
                    thead { tr { th { "Lúc" } th { "Nút tác giả" } th { "Hồ sơ" } th { "Lý do" } } }
                    tbody {
                        @for r in refused {
                            tr {
                                td { (time_ms(r.at)) }
                                td { code { (short(&r.author)) } }
                                td { @if let Some(doc) = &r.doc { code { (short(doc)) } } }
                                td.reason { (r.reason) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

async fn show(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(query): Query<ShowQuery>,
) -> Result<Markup, WebError> {
    let data = read_page(&state)?;
    let status = state.sync.status();
    Ok(render(&ctx, &data, &status, query.error.as_deref(), None))
}

fn render(
    ctx: &Ctx,
    data: &SyncPage,
    status: &SyncStatus,
    error: Option<&str>,
    bundle_result: Option<Markup>,
) -> Markup {
    let running = status.state == "running";
    page(
        ctx,
        Nav::Sync,
        "Đồng bộ",
        html! {
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.stack #sync-form method="post" action="/dong-bo" {
                (csrf_field(ctx))
                @match &data.hub {
                    Some(hub) => p { "Trạm của thị xã: " code { (hub) } ". Để trống ô dưới để đồng bộ với trạm." }
                    None => p.muted { "Nút này chưa biết trạm nào: hãy ghi địa chỉ của một nút đã tin cậy." }
                }
                label {
                    "Địa chỉ nút khác (tuỳ chọn)"
                    span.hint { "Dạng IP:CỔNG hoặc TÊN-MÁY:CỔNG, ví dụ 192.168.1.20:8421" }
                    input #sync-addr type="text" name="addr" placeholder="192.168.1.20:8421" inputmode="url";
                }
                div { button #sync-now type="submit" disabled[running] { "Đồng bộ ngay" } }
            }
            (status_view(status))
            h2 { "Lần đồng bộ gần nhất với từng nút" }
            @if data.peers.is_empty() {
                p.muted { "Chưa đồng bộ với nút nào." }
            } @else {
                div.table-wrap {
                    table.responsive #peers {
                        thead { tr { th { "Nút" } th { "Lúc" } th.num { "Đã nhận" } th.num { "Đã gửi" } th.num { "Còn thiếu" } } }
                        tbody {
                            @for p in &data.peers {
                                tr {
                                    td { (p.name) " " code.muted { (short(&p.id)) } }
                                    td { @match p.last_sync { Some(ms) => (time_ms(ms)), None => span.muted { "chưa xong lần nào" } } }
                                    td.num data-label="Đã nhận" { (thousands(p.received)) }
                                    td.num data-label="Đã gửi" { (thousands(p.sent)) }
                                    td.num data-label="Còn thiếu" { (thousands(p.behind)) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Gói dữ liệu qua USB" }
            p.muted { "Khi không có mạng: tải gói về, chép sang USB, rồi nạp gói ở máy kia. Mọi thay đổi trong gói được kiểm tra chữ ký và quyền như khi đồng bộ." }
            div.bundles {
                form.stack #bundle-download method="get" action="/dong-bo/goi" {
                    label {
                        "Mã hoá cho nút nhận gói"
                        span.hint { "Mã nút nhận (một thành viên trong danh sách); để trống để mã hoá cho máy chủ thị xã. Chỉ nút đó đọc được gói, và gói chỉ gồm những hồ sơ nút đó được đọc." }
                        input type="text" name="for" placeholder="mã nút";
                    }
                    div { button.secondary type="submit" { "Tải gói về" } }
                }
                form.stack #bundle-upload method="post" action="/dong-bo/goi" enctype="multipart/form-data" {
                    (csrf_field(ctx))
                    label {
                        "Nạp gói từ USB"
                        input #bundle-file type="file" name="bundle" accept=".dvb,application/octet-stream" required;
                    }
                    div { button type="submit" { "Nạp gói" } }
                }
            }
            @if let Some(result) = bundle_result {
                section #bundle-result { (result) }
            }
        },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    addr: String,
}

async fn start(
    State(state): State<AppState>,
    Verified(_, form): Verified<StartForm>,
) -> Result<Response, WebError> {
    let typed = form.addr.trim();
    let addr = if typed.is_empty() {
        match state.call(|n| n.hub_addr())? {
            Some(addr) => addr,
            None => {
                return Ok(error_redirect(
                    "Nút này chưa biết địa chỉ trạm: hãy ghi địa chỉ IP:CỔNG của một nút đã tin cậy.",
                ));
            }
        }
    } else {
        match typed.parse::<PeerAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                return Ok(error_redirect(&format!(
                    "Địa chỉ {typed:?} không đúng dạng IP:CỔNG hoặc TÊN-MÁY:CỔNG (ví dụ 192.168.1.20:8421)."
                )));
            }
        }
    };
    if let Err(e) = state.sync.start(state.node.clone(), addr) {
        return Ok(error_redirect(&e.to_string()));
    }
    Ok(Redirect::to("/dong-bo").into_response())
}

fn error_redirect(message: &str) -> Response {
    let mut url = String::from("/dong-bo?error=");
    for byte in message.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    Redirect::to(&url).into_response()
}

/// The progress the page's script polls while a sync runs.
async fn progress(_ctx: Ctx, State(state): State<AppState>) -> Response {
    let body = serde_json::to_string(&state.sync.status()).unwrap_or_else(|_| "{}".into());
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct DownloadQuery {
    #[serde(default, rename = "for")]
    for_node: String,
}

/// A bundle of this node's changes (optionally only what one node may
/// read), written to a temporary file by the node and sent as a download.
async fn download(
    _ctx: Ctx,
    State(state): State<AppState>,
    Query(query): Query<DownloadQuery>,
) -> Result<Response, WebError> {
    let for_node: Option<NodeId> = parse_optional(query.for_node.trim(), "mã nút")?;
    let tmp = TempFile::new("goi-tai-ve");
    let path = tmp.0.clone();
    // Always sealed: to the node named, or else to the town's hub.
    let count = state.call(move |n| {
        let to = match for_node {
            Some(id) => id,
            None => n.hub_id()?,
        };
        let done = n.bundle_export(&path, &[to], false)?;
        n.audit_outgoing(
            "bundle-export",
            danvan_node::Outgoing::Web,
            &done.counts,
            &done.sealed_to,
        )?;
        Ok(done.changes)
    })?;
    let bytes = std::fs::read(&tmp.0)
        .map_err(|e| WebError::BadRequest(format!("không đọc được gói vừa tạo: {e}")))?;
    let name = format!(
        "danvan-{}-{}-{count}.dvb",
        state.info.unit,
        crate::fmt::time_ms(now_ms())
            .split(' ')
            .next()
            .unwrap_or("")
            .replace('/', "-")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// Imports an uploaded bundle through the same verification as sync, and
/// lists what was refused with the reasons the audit log holds.
async fn upload(State(state): State<AppState>, upload: Upload) -> Result<Markup, WebError> {
    let ctx = &upload.ctx;
    let started_ms = now_ms();
    let path = upload.file.0.clone();
    let imported = state.write(|n| n.bundle_import(&path));
    let data = read_page(&state)?;
    let status = state.sync.status();
    let result = match imported {
        Ok(report) => {
            let logged = state
                .call(|n| refused_since(n, started_ms, REFUSED_LISTED_MAX))
                .unwrap_or_default();
            // The import's own report is the authority on what was refused;
            // the audit rows add when, and are used when they match in count.
            let refused: Vec<RefusedChange> = if logged.len() == report.rejected.len() {
                logged
            } else {
                report
                    .rejected
                    .iter()
                    .take(REFUSED_LISTED_MAX)
                    .map(|r| RefusedChange {
                        at: started_ms,
                        author: r.author.to_string(),
                        doc: Some(r.doc.to_string()),
                        reason: r.reason.to_string(),
                    })
                    .collect()
            };
            html! {
                (notice(&format!(
                    "Đã nạp gói: {} thay đổi mới, {} đã có, {} hồ sơ; {} thay đổi bị từ chối.",
                    thousands(report.new as i64),
                    thousands(report.duplicate as i64),
                    thousands(report.documents as i64),
                    thousands(report.rejected.len() as i64)
                )))
                (refused_view(&refused))
            }
        }
        Err(e) => html! { p.error role="alert" { "Không nạp được gói: " (e) } },
    };
    Ok(render(ctx, &data, &status, None, Some(result)))
}
