//! The browsing pages in a real Chromium: search without diacritics,
//! a conflict made on two nodes resolved on the record page, and the
//! report page's chart.

use crate::browser::{Browser, WebServer};
use crate::harness::Dv;
use crate::sync::{Server, trust};

#[test]
fn search_without_diacritics_finds_the_model_and_a_name_needs_every_word() {
    let dv = Dv::init("pho-minh");
    let model = dv.model(
        "Dân vận khéo trong xây dựng nông thôn mới",
        "kinh-te",
        "2023",
    );
    dv.activity(
        "tuyen-truyen",
        "2023-08-01",
        "Hội nghị: khéo léo làm công tác dân vận",
    );
    let an = dv.add(&[
        "petition",
        "add",
        "--received",
        "2023-08-02",
        "--citizen",
        "Nguyễn Văn An",
        "--content",
        "Đường ngập nước",
    ]);
    // Each of these holds "văn" or "an" but not all three words of the name.
    for citizen in ["Nguyễn Văn Thanh", "Trần Văn Bình", "Lê Thị An"] {
        dv.add(&[
            "petition",
            "add",
            "--received",
            "2023-08-03",
            "--citizen",
            citizen,
            "--content",
            "Xin cấp giấy chứng nhận",
        ]);
    }
    let web = WebServer::web(&dv, "127.0.0.1:0");
    let browser = Browser::open();

    browser.goto(&web.url("/ho-so"));
    browser.fill("input[name=q]", "dan van kheo");
    browser.click("form.filters button[type=submit]");
    // Both hold the three words; the one with them side by side is first.
    let first = Some(format!("/ho-so/{model}"));
    assert_eq!(results(&browser), (2, first), "{}", browser.source());

    browser.goto(&web.url("/ho-so?q=nguyen+van+an"));
    let only = Some(format!("/ho-so/{an}"));
    assert_eq!(results(&browser), (1, only), "{}", browser.source());
}

/// Once the results are shown: how many records the list has, and the
/// record its first row links to.
fn results(browser: &Browser) -> (usize, Option<String>) {
    browser.wait_for("#result-count");
    let first = browser.attr("#records tbody tr:first-child a.record", "href");
    (browser.count("#records tbody tr"), first)
}

#[test]
fn a_conflict_made_on_two_nodes_is_resolved_on_the_record_page() {
    let a = Dv::init("pho-minh");
    let b = Dv::init("pho-minh");
    trust(&a, &b, None);
    trust(&b, &a, None);
    let id = a.add(&[
        "model",
        "add",
        "--name",
        "Tổ hòa giải thôn Vĩnh Xuân",
        "--field",
        "van-hoa-xa-hoi",
        "--year",
        "2023",
    ]);
    let mut server = Server::start(&b, &[]);
    a.ok(&["sync", &server.addr.to_string()]);
    server.kill();
    a.ok(&["edit", &id, "--set", "results=Hòa giải thành 12 vụ"]);
    b.ok(&["edit", &id, "--set", "results=Hòa giải thành 15 vụ"]);
    let server = Server::start(&b, &[]);
    a.ok(&["sync", &server.addr.to_string()]);
    drop(server);
    assert_eq!(a.json(&["conflicts"]).as_array().map(Vec::len), Some(1));

    let mut web = WebServer::web(&a, "127.0.0.1:0");
    let browser = Browser::open();
    browser.goto(&web.url(&format!("/ho-so/{id}")));
    browser.wait_for("#conflicts");
    assert_eq!(browser.count("#conflicts li"), 2);
    // Each value names the machine that set it (here by short id).
    assert!(browser.text("#conflicts").contains("đặt"));
    browser.click("#conflicts form[data-value='Hòa giải thành 15 vụ'] button");
    browser.wait_for_text("Đã chọn giá trị");
    assert_eq!(browser.count("#conflicts"), 0);
    assert!(browser.text("#fields").contains("Hòa giải thành 15 vụ"));
    // The history shows the choice as an edit, old → new.
    assert!(browser.text("#history").contains("→"));
    web.stop();

    assert_eq!(a.json(&["conflicts"]), serde_json::json!([]));
    assert_eq!(a.json(&["show", &id])["results"], "Hòa giải thành 15 vụ");
}

#[test]
fn the_report_page_draws_one_bar_per_commune_with_households() {
    let town = Dv::init("duc-pho");
    for (unit, head) in [
        ("pho-minh", "Võ Văn Tám"),
        ("pho-minh", "Huỳnh Thị Lệ"),
        ("pho-an", "Phạm Văn Bảy"),
    ] {
        town.add(&[
            "household",
            "add",
            "--project",
            "cao-toc-bac-nam",
            "--unit",
            unit,
            "--head",
            head,
        ]);
    }
    let web = WebServer::web(&town, "127.0.0.1:0");
    let browser = Browser::open();
    browser.goto(&web.url("/bao-cao?period=2023-H2&unit=duc-pho"));
    browser.wait_for("#report");
    // One bar per commune with households: each is at a single stage, so
    // one segment each; the legend's squares carry no <title>.
    let bars = browser.count("#chart-land-cao-toc-bac-nam rect:has(title)");
    assert_eq!(bars, 2, "{}", browser.source());
    let href = browser
        .attr("a[href^='/bao-cao/tai-ve/xlsx']", "href")
        .expect("xlsx link");
    assert!(href.contains("period=2023-H2"), "{href}");
}
