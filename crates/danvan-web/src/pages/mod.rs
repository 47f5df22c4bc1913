//! The pages, one module per section of the navigation. Each handler
//! parses its request, calls the node's service API through
//! [`AppState::call`](crate::server::AppState::call), and renders.

mod board;
mod dashboard;
mod forms;
mod import;
mod login;
mod records;
mod report;
mod roster_files;
mod sync;
mod town;
mod town_units;
mod view;

use axum::Router;
use axum::routing::get;

use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::show))
        .merge(forms::routes())
        .merge(import::routes())
        .merge(login::routes())
        .merge(sync::routes())
        .merge(town::routes())
        .merge(records::routes())
        .merge(board::routes())
        .merge(report::routes())
}
