//! Tổng quan: what needs attention on this node now.

use axum::extract::State;
use maud::{Markup, html};

use crate::auth::Ctx;
use crate::error::WebError;
use crate::layout::{Nav, page};
use crate::server::AppState;

pub(crate) async fn show(ctx: Ctx, State(state): State<AppState>) -> Result<Markup, WebError> {
    let (records, changes, documents) = state.call(|n| Ok(n.store().counts()?))?;
    Ok(page(
        &ctx,
        Nav::Dashboard,
        "Tổng quan",
        html! {
            section.cards {
                div.card { span.big { (records) } span { "hồ sơ" } }
                div.card { span.big { (documents) } span { "tài liệu" } }
                div.card { span.big { (changes) } span { "thay đổi" } }
            }
        },
    ))
}
