//! The web app in a real headless Chromium: what an officer sees and does
//! in the browser, against the real `danvan` binary.

use crate::browser::{Browser, WebServer};
use crate::harness::Dv;

#[test]
fn web_dashboard_in_vietnamese() {
    let dv = Dv::init("pho-minh");
    let web = WebServer::web(&dv, "127.0.0.1:0");
    let browser = Browser::open();
    browser.goto(&web.url("/"));
    browser.wait_for("main h1");
    assert_eq!(browser.attr("html", "lang").as_deref(), Some("vi"));
    assert_eq!(browser.text("main h1"), "Tổng quan");
    assert!(
        browser.source().contains("lang=\"vi\""),
        "the page does not declare Vietnamese"
    );
}
