//! Đăng nhập / đăng xuất: the officer accounts of the LAN mode. On a
//! loopback address there is nothing to log into and the login page sends
//! the browser to the dashboard.

use std::time::Instant;

use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::{Access, LoginOutcome, Verified, clear_session_cookie, session_cookie};
use crate::error::WebError;
use crate::layout::bare_page;
use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dang-nhap", get(show).post(login))
        .route("/dang-xuat", post(logout))
}

fn login_form(state: &AppState, name: &str, error: Option<&str>) -> Markup {
    bare_page(
        &state.info,
        "Đăng nhập",
        html! {
            form.card.login method="post" action="/dang-nhap" {
                input type="hidden" name="csrf" value=(state.auth.login_token());
                @if let Some(error) = error {
                    p.error role="alert" { (error) }
                }
                label for="ten" { "Tên tài khoản" }
                input #ten type="text" name="name" value=(name) autocomplete="username" required autofocus;
                label for="mat-khau" { "Mật khẩu" }
                input #mat-khau type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Đăng nhập" }
            }
            p.muted { "Tài khoản do người quản trị máy này tạo bằng lệnh " code { "danvan web user add TÊN" } "." }
        },
    )
}

async fn show(State(state): State<AppState>) -> Response {
    match state.auth.access {
        Access::Local => Redirect::to("/").into_response(),
        Access::Accounts(_) => login_form(&state, "", None).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    csrf: String,
    name: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    state.auth.verify_login_token(&form.csrf)?;
    if !matches!(state.auth.access, Access::Accounts(_)) {
        return Ok(Redirect::to("/").into_response());
    }
    let auth = state.auth.clone();
    let name = form.name.trim().to_string();
    let checked_name = name.clone();
    // argon2 takes tens of milliseconds of CPU: keep it off the threads
    // that answer other requests.
    let outcome = tokio::task::spawn_blocking(move || match &auth.access {
        Access::Accounts(accounts) => accounts.login(&checked_name, &form.password, Instant::now()),
        Access::Local => LoginOutcome::Wrong,
    })
    .await
    .map_err(|e| WebError::BadRequest(format!("không kiểm tra được mật khẩu: {e}")))?;
    Ok(match outcome {
        LoginOutcome::Ok { session } => (
            [(header::SET_COOKIE, session_cookie(&session))],
            Redirect::to("/"),
        )
            .into_response(),
        LoginOutcome::Wrong => (
            StatusCode::UNAUTHORIZED,
            login_form(
                &state,
                &name,
                Some("Sai tên tài khoản hoặc mật khẩu. Hãy thử lại."),
            ),
        )
            .into_response(),
        LoginOutcome::Locked { wait_minutes } => (
            StatusCode::TOO_MANY_REQUESTS,
            login_form(
                &state,
                &name,
                Some(&format!(
                    "Tài khoản này đã đăng nhập sai quá nhiều lần. Hãy thử lại sau {wait_minutes} phút."
                )),
            ),
        )
            .into_response(),
    })
}

/// The logout button's post: no field but its token.
#[derive(Debug, Deserialize)]
pub(crate) struct LogoutForm {}

async fn logout(
    State(state): State<AppState>,
    Verified(ctx, LogoutForm {}): Verified<LogoutForm>,
) -> Result<Response, WebError> {
    if let (Access::Accounts(accounts), Some(id)) = (&state.auth.access, &ctx.session) {
        accounts.logout(id);
    }
    Ok((
        [(header::SET_COOKIE, clear_session_cookie())],
        Redirect::to("/dang-nhap"),
    )
        .into_response())
}
