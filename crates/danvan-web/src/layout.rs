//! The page shell every page shares: the header with this machine's name
//! and unit, the navigation, and small pieces forms use (token, errors).

use axum::http::StatusCode;
use danvan_node::TownDesk;
use maud::{DOCTYPE, Markup, html};

use crate::assets::{CSS_PATH, JS_PATH};
use crate::auth::Ctx;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Dashboard,
    Records,
    New,
    Board,
    Sync,
    Report,
    Town,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Dashboard, "/", "Tổng quan"),
    (Nav::Records, "/ho-so", "Hồ sơ"),
    (Nav::New, "/them", "Thêm mới"),
    (Nav::Board, "/gpmb", "Bảng GPMB"),
    (Nav::Sync, "/dong-bo", "Đồng bộ"),
    (Nav::Report, "/bao-cao", "Báo cáo"),
];

/// The `<head>` of every page: Vietnamese text, a phone's width, the
/// stylesheet, and the script where the page has forms that use it.
fn head(title: &str, with_script: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · danvan" }
            link rel="stylesheet" href=(CSS_PATH);
            @if with_script { script src=(JS_PATH) defer {} }
        }
    }
}

/// A whole document: the `<head>` for `title`, then `content` as its body.
fn document(title: &str, with_script: bool, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="vi" {
            (head(title, with_script))
            body { (content) }
        }
    }
}

/// A whole page: `title` in the tab and as the heading, `body` below it.
pub(crate) fn page(ctx: &Ctx, active: Nav, title: &str, body: Markup) -> Markup {
    let content = html! {
        header.top {
            a.brand href="/" { "danvan" }
            span.where { (ctx.node.label()) }
            @if let Some(user) = &ctx.user {
                form.logout method="post" action="/dang-xuat" {
                    (csrf_field(ctx))
                    span.user { (user) }
                    button.link type="submit" { "Đăng xuất" }
                }
            }
        }
        nav.main {
            // The offline authority never syncs: no Đồng bộ item there.
            @for (nav, href, label) in NAV.iter().filter(|(nav, ..)| {
                *nav != Nav::Sync || ctx.node.town_office != Some(TownDesk::SignsOffline)
            }) {
                a href=(href) class=[(*nav == active).then_some("active")] { (label) }
            }
            @if ctx.node.town_office.is_some() {
                a href="/thi-xa" class=[(active == Nav::Town).then_some("active")] { "Thị xã" }
            }
        }
        main {
            h1 { (title) }
            (body)
        }
    };
    document(title, true, content)
}

/// The hidden field every form carries.
pub(crate) fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// A page for an error, without navigation state.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Markup {
    let content = html! {
        main {
            h1 { "Không thực hiện được" }
            p.error role="alert" { (message) }
            p.muted { "Mã lỗi HTTP " (status.as_u16()) ". " a href="/" { "Về trang tổng quan" } }
        }
    };
    document("Lỗi", false, content)
}

/// A notice at the top of a page (after a redirect).
pub(crate) fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// Text with its line breaks kept.
pub(crate) fn multiline(text: &str) -> Markup {
    html! {
        @for (i, line) in text.lines().enumerate() {
            @if i > 0 { br; }
            (line)
        }
    }
}

/// A page outside the navigation (the login page): the header names this
/// machine, nothing else is offered until the officer logs in.
pub(crate) fn bare_page(node: &crate::server::NodeInfo, title: &str, body: Markup) -> Markup {
    let content = html! {
        header.top {
            span.brand { "danvan" }
            span.where { (node.label()) }
        }
        main.narrow {
            h1 { (title) }
            (body)
        }
    };
    document(title, false, content)
}
