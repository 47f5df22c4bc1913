//! Tổng quan: what needs attention on this node now: this period's
//! figures per kind, petitions near or past their deadline, tasks with
//! their progress, and how recently this machine synced with whom.

use axum::extract::State;
use danvan_model::{Kind, NodeId, Role};
use danvan_node::{AuditEntry, PeerRow};
use danvan_report::{DuePetition, TaskSection};
use maud::{Markup, html};

use crate::auth::Ctx;
use crate::error::WebError;
use crate::fmt;
use crate::layout::{Nav, page};
use crate::pages::view;
use crate::server::AppState;

/// Petitions whose deadline falls within this many days are listed with
/// the overdue ones: a week is the time a commune needs to answer.
const DUE_WITHIN_DAYS: i64 = 7;

/// The refused changes looked for among this many newest audit entries:
/// the overview shows recent trouble, the town office's audit page the rest.
const AUDIT_ENTRIES_SCANNED: usize = 500;

/// At most this many refused changes are listed.
const REFUSED_SHOWN_MAX: usize = 10;

/// At most this many petitions are listed; the list page has the rest.
const DUE_SHOWN_MAX: usize = 10;

/// One peer as the overview shows it.
struct PeerLine {
    name: String,
    hub: bool,
    row: PeerRow,
}

struct Overview {
    period_label: String,
    counts: Vec<(Kind, u64)>,
    due: Vec<DuePetition>,
    tasks: TaskSection,
    peers: Vec<PeerLine>,
    hub_known: bool,
    refused: Vec<AuditEntry>,
    not_accepted: Vec<danvan_node::RefusedRecord>,
    local_changes: u64,
}

pub(crate) async fn show(ctx: Ctx, State(state): State<AppState>) -> Result<Markup, WebError> {
    let today = view::today_vn();
    let period = view::current_period();
    let overview = state.call(|n| {
        let roster = n.roster()?;
        let is_hub = |peer: &NodeId| {
            roster
                .as_ref()
                .and_then(|r| r.member(peer))
                .is_some_and(|m| m.role == Role::Hub)
        };
        let peers: Vec<PeerLine> = n
            .peers()?
            .into_iter()
            .map(|row| {
                let id = row.peer.parse::<NodeId>().ok();
                PeerLine {
                    name: id
                        .map(|i| n.node_name(&i))
                        .unwrap_or_else(|| row.peer.clone()),
                    hub: id.as_ref().is_some_and(is_hub),
                    row,
                }
            })
            .collect();
        let refused: Vec<AuditEntry> = n
            .audit_log(AUDIT_ENTRIES_SCANNED)?
            .into_iter()
            .rev()
            .filter(|e| e.event == "rejected-change")
            .take(REFUSED_SHOWN_MAX)
            .collect();
        let overview = n.overview(period, today, DUE_WITHIN_DAYS)?;
        Ok(Overview {
            period_label: period.label_vi(),
            counts: overview.counts,
            due: overview.due,
            tasks: overview.tasks,
            // The hub itself has no hub to reach.
            hub_known: !is_hub(&n.id())
                && roster
                    .as_ref()
                    .is_some_and(|r| r.roster().members.iter().any(|m| m.role == Role::Hub)),
            peers,
            refused,
            not_accepted: n.refused_records(REFUSED_SHOWN_MAX)?,
            local_changes: n.own_change_count()?,
        })
    })?;
    Ok(page(&ctx, Nav::Dashboard, "Tổng quan", body(&overview)))
}

fn body(o: &Overview) -> Markup {
    let overdue = o.due.iter().filter(|p| p.overdue).count();
    html! {
        h2 { "Kỳ này: " (o.period_label) }
        section.cards #period-counts {
            @for (kind, n) in &o.counts {
                a.card.kind href=(format!("/ho-so?kind={}&period={}", kind.code(), view::current_period())) data-kind=(kind.code()) {
                    span.big { (fmt::thousands(*n as i64)) }
                    span { (kind.label_vi()) }
                }
            }
        }
        div.two-col {
            section #due {
                h2 { "Đơn thư đến hạn, quá hạn"
                    @if overdue > 0 { " " span.badge.late { (overdue) " quá hạn" } } }
                @if o.due.is_empty() {
                    p.muted { "Không có đơn thư nào quá hạn hoặc đến hạn trong " (DUE_WITHIN_DAYS) " ngày tới." }
                } @else {
                    div.table-wrap { table.responsive {
                        thead { tr { th { "Công dân" } th { "Loại" } th { "Đơn vị" } th { "Hạn" } } }
                        tbody { @for p in o.due.iter().take(DUE_SHOWN_MAX) { tr {
                            td { a href=(format!("/ho-so/{}", p.id)) { (p.citizen) } }
                            td { (p.petition_type) }
                            td { (p.unit_name) }
                            td {
                                (fmt::date(&p.deadline)) " "
                                @if p.overdue {
                                    span.badge.late { "quá " (-p.days_left) " ngày" }
                                } @else {
                                    span.badge.soon { "còn " (p.days_left) " ngày" }
                                }
                            }
                        } } }
                    } }
                    @if o.due.len() > DUE_SHOWN_MAX {
                        p { a href="/ho-so?kind=petition" { "Xem cả " (o.due.len()) " đơn thư" } }
                    }
                }
            }
            section #sync {
                h2 { "Đồng bộ" }
                @if o.peers.is_empty() {
                    p.muted { "Máy này chưa đồng bộ với máy nào." }
                } @else {
                    div.table-wrap { table.responsive {
                        thead { tr { th { "Máy" } th { "Lần cuối" } th.num { "Gửi / nhận" } th.num { "Còn chưa nhận" } } }
                        tbody { @for p in &o.peers { tr {
                            td { (p.name) @if p.hub { " " span.badge { "trạm thị xã" } } }
                            td { (p.row.last_sync.map(fmt::time_ms).unwrap_or_else(|| "chưa".into())) }
                            td.num { (fmt::thousands(p.row.sent)) " / " (fmt::thousands(p.row.received)) }
                            td.num { (fmt::thousands(p.row.behind)) }
                        } } }
                    } }
                }
                @if o.hub_known && !o.peers.iter().any(|p| p.hub) {
                    p.warn { "Chưa đồng bộ lần nào với trạm thị xã." }
                }
                p.muted {
                    "Máy này đã ghi " (fmt::thousands(i64::try_from(o.local_changes).unwrap_or(i64::MAX))) " thay đổi."
                }
                @if o.not_accepted.is_empty() {
                    p.muted { "Nơi nhận chưa từ chối thay đổi nào của máy này." }
                } @else {
                    h3 { "Hồ sơ chưa được chấp nhận" }
                    p.muted { "Nơi nhận đã từ chối thay đổi của các hồ sơ này; hãy sửa theo lý do rồi đồng bộ lại." }
                    ul #not-accepted { @for r in &o.not_accepted { li {
                        a href=(format!("/ho-so/{}", r.id)) { (r.title) } ": " (r.reason)
                    } } }
                }
                @if !o.refused.is_empty() {
                    h3 { "Thay đổi máy này đã từ chối gần đây" }
                    ul #refused { @for e in &o.refused { li {
                        (fmt::time_ms(e.at)) ": "
                        (e.detail.get("reason").and_then(|r| r.as_str()).unwrap_or(""))
                        @if let Some(via) = e.detail.get("via").and_then(|v| v.as_str()) {
                            span.muted { " (" (if via == "bundle" { "qua tệp USB" } else { "khi đồng bộ" }) ")" }
                        }
                    } } }
                }
            }
        }
        section #tasks {
            h2 { "Nhiệm vụ và tiến độ" }
            @if o.tasks.tasks.is_empty() {
                p.muted { "Chưa có nhiệm vụ nào trong kỳ." }
            } @else {
                p.muted { (o.tasks.reported) " / " (o.tasks.assignments) " lượt giao đã báo cáo, "
                    (o.tasks.completed) " hoàn thành." }
                div.table-wrap { table.responsive {
                    thead { tr { th { "Nhiệm vụ" } th { "Tiến độ" } th { "Đơn vị" } } }
                    tbody { @for t in &o.tasks.tasks {
                        @let total = t.assigned.len().max(1);
                        tr {
                            td { a href=(format!("/ho-so/{}", t.id)) { (t.number) ". " (t.title) } }
                            td {
                                progress max=(total) value=(t.completed) {}
                                span.muted { (t.completed) "/" (t.assigned.len()) " hoàn thành" }
                            }
                            td { @for (i, a) in t.assigned.iter().enumerate() {
                                @if i > 0 { ", " }
                                (a.unit_name) ": " (a.status_label)
                            } }
                        }
                    } }
                } }
            }
        }
    }
}
