//! Bảng GPMB: the households of a land-clearance project in columns by
//! stage, each card linking to its record, with counts per commune.

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use danvan_model::vocab;
use danvan_node::{ListFilter, Row};
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::Ctx;
use crate::error::WebError;
use crate::fmt;
use crate::layout::{Nav, page};
use crate::server::AppState;

/// Cards shown per column: a town-wide project has thousands of
/// households, and a column longer than this is read through the list.
const CARDS_PER_STAGE_MAX: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct BoardQuery {
    #[serde(default)]
    project: String,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/gpmb", get(show))
}

async fn show(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(q): Query<BoardQuery>,
) -> Result<Markup, WebError> {
    let project = if q.project.is_empty() {
        vocab::PROJECTS[0].0.to_string()
    } else if vocab::PROJECTS.iter().any(|(c, _)| *c == q.project) {
        q.project.clone()
    } else {
        return Err(WebError::BadRequest(format!(
            "không có dự án {:?}; chọn một dự án trong danh sách",
            q.project
        )));
    };
    let (rows, units) = state.call(|n| {
        let rows = n.list(&ListFilter {
            kind: Some("household".into()),
            project: Some(project.clone()),
            ..ListFilter::default()
        })?;
        Ok((rows, n.units().clone()))
    })?;
    // Counts per commune and stage, communes in the order of the tree.
    let mut communes: Vec<(String, Vec<usize>)> = Vec::new();
    for row in &rows {
        let stage = stage_index(row);
        let i = match communes.iter().position(|(u, _)| *u == row.unit) {
            Some(i) => i,
            None => {
                communes.push((row.unit.clone(), vec![0; vocab::HOUSEHOLD_STAGES.len()]));
                communes.len() - 1
            }
        };
        communes[i].1[stage] += 1;
    }
    let order: Vec<String> = units.render().iter().map(|(_, u)| u.id.clone()).collect();
    communes.sort_by_key(|(u, _)| order.iter().position(|o| o == u).unwrap_or(usize::MAX));
    let project_label = fmt::label(vocab::PROJECTS, &project);
    Ok(page(
        &ctx,
        Nav::Board,
        "Bảng giải phóng mặt bằng",
        html! {
            form.filters method="get" action="/gpmb" {
                // A row of its own on a phone: a project's name read whole.
                label.whole { "Dự án"
                    select name="project" onchange="this.form.submit()" {
                        @for (code, label) in vocab::PROJECTS {
                            option value=(code) selected[*code == project] { (crate::fmt::option_text("Dự án", label)) }
                        }
                    }
                }
                button type="submit" { "Xem" }
            }
            p.muted { (project_label) ": " (fmt::thousands(rows.len() as i64)) " hộ." }
            h2 { "Số hộ theo xã, phường" }
            @if communes.is_empty() {
                p.muted #no-households { "Chưa có hộ nào của dự án này trên máy." }
            } @else {
                div.table-wrap { table #commune-counts {
                    thead { tr {
                        th { "Đơn vị" }
                        @for (_, label) in vocab::HOUSEHOLD_STAGES { th.num { (label) } }
                        th.num { "Tổng" }
                    } }
                    tbody { @for (unit, counts) in &communes { tr data-unit=(unit) {
                        td { (units.name(unit)) }
                        @for c in counts { td.num { (c) } }
                        td.num { strong { (counts.iter().sum::<usize>()) } }
                    } } }
                } }
            }
            div.board #board {
                @for (i, (code, label)) in vocab::HOUSEHOLD_STAGES.iter().enumerate() {
                    @let cards: Vec<&Row> = rows.iter().filter(|r| stage_index(r) == i).collect();
                    section.col data-stage=(code) {
                        h3 { (label) " " span.badge { (cards.len()) } }
                        @for r in cards.iter().take(CARDS_PER_STAGE_MAX) {
                            a.item href=(format!("/ho-so/{}", r.id)) {
                                strong { (r.title) }
                                br;
                                span.muted { (units.name(&r.unit)) }
                                @if r.conflicts > 0 { " " span.badge.conflict { "xung đột" } }
                            }
                        }
                        @if cards.len() > CARDS_PER_STAGE_MAX {
                            a href=(format!("/ho-so?kind=household&status={code}")) {
                                "Xem cả " (cards.len()) " hộ"
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// The column of a household: its stage, or the first one when unknown.
fn stage_index(row: &Row) -> usize {
    row.status
        .as_deref()
        .and_then(vocab::stage_rank)
        .unwrap_or(0)
        .min(vocab::HOUSEHOLD_STAGES.len() - 1)
}
