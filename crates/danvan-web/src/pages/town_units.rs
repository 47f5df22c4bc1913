//! Thị xã — Đơn vị: the town's units as the roster carries them, read-only
//! on every town desk: today's tree, each former unit with the unit its
//! records are read under, and every dated change. Units change only by a
//! roster signed where the authority key is (`roster unit-change`).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use danvan_model::{format_date, vi_date};
use maud::{Markup, html};

use crate::auth::Ctx;
use crate::error::WebError;
use crate::layout::{Nav, page};
use crate::pages::town::{sub_nav, town_only};
use crate::pages::view::today_vn;
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/thi-xa/don-vi", get(units))
}

async fn units(ctx: Ctx, State(state): State<AppState>) -> Result<Markup, WebError> {
    town_only(&ctx)?;
    let day = today_vn();
    let all = state.call(|n| Ok(n.units().clone()))?;
    let view = all.as_of(day);
    let listed: Vec<_> = view
        .render()
        .into_iter()
        .filter(|(_, u)| u.exists_on(day))
        .collect();
    let mapping = view.mapping();
    Ok(page(
        &ctx,
        Nav::Town,
        "Thị xã — đơn vị",
        html! {
            (sub_nav())
            p.muted {
                "Cây đơn vị ngày " (vi_date(day)) ", theo danh sách thành viên đang giữ. "
                "Đơn vị chỉ đổi bằng danh sách mới ký trên máy giữ khóa thẩm quyền ("
                code { "danvan roster unit-change" } ")."
            }
            div.table-wrap {
                table.responsive #units {
                    thead { tr { th { "Đơn vị" } th { "Cấp" } th { "Mã thống kê" } th { "Mã trong danvan" } } }
                    tbody {
                        @for (depth, u) in &listed {
                            tr data-unit=(u.id) {
                                td { span.indent style={ "margin-left:" (1.25 * *depth as f32) "rem" } { (u.name) } }
                                td data-label="Cấp" { (u.kind.label_vi()) }
                                td data-label="Mã thống kê" { (u.code.as_deref().unwrap_or("—")) }
                                td data-label="Mã trong danvan" { code { (u.id) } }
                            }
                        }
                    }
                }
            }
            @if !mapping.is_empty() {
                h2 { "Đơn vị cũ và đơn vị hiện nay" }
                div.table-wrap {
                    table.responsive #unit-mapping {
                        thead { tr { th { "Đơn vị cũ" } th { "Nay thuộc" } th { "Từ ngày" } } }
                        tbody {
                            @for (old, new) in &mapping {
                                tr {
                                    td { (old.name) }
                                    td data-label="Nay thuộc" { (new.name) }
                                    td data-label="Từ ngày" { (old.until.map(vi_date).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
            @if !all.changes().is_empty() {
                h2 { "Các thay đổi đã ký" }
                ul.changes #unit-changes {
                    @for c in all.changes() {
                        li {
                            (format_date(c.date)) ": " (all.describe_change(c))
                            @if c.date > day { " " span.badge.soon { "chưa có hiệu lực" } }
                        }
                    }
                }
            }
        },
    ))
}
