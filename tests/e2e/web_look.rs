//! Every main page of the demo town, as an officer sees it on a 1366×768
//! laptop and on a 390×844 phone: nothing wider than the window (tables
//! scroll inside their frame), no raw `null`/`undefined` and no English
//! button text. With `DANVAN_SCREENSHOTS=DIR` each page is also saved as a
//! PNG in `DIR` (how `docs/*.png` are made: see README).

use std::path::PathBuf;

use crate::browser::{Browser, LAPTOP, WebServer};
use crate::harness::Dv;
use crate::web::DemoTown;
use crate::web_forms::{Input, fill_and_save};

/// The window of a small phone.
const PHONE: (u32, u32) = (390, 844);

/// Words that would mean a value or label reached the page unrendered.
const RAW_WORDS: &[&str] = &[
    "undefined",
    "null",
    "NaN",
    "Submit",
    "Error",
    "true",
    "false",
];

/// One page to look at: its file name, where it is, and, for a form, what
/// to type before saving it: all right but one field, to see that field's
/// error.
struct Look {
    name: &'static str,
    url: String,
    refused: Option<&'static [Input<'static>]>,
}

fn look(name: &'static str, url: String) -> Look {
    Look {
        name,
        url,
        refused: None,
    }
}

/// Each Thêm mới form with one field wrong.
const ONE_WRONG: &[(&str, &[Input<'static>])] = {
    use Input::{Pick, Text};
    &[
        (
            "hoat-dong",
            &[
                Text("date", "31/02/2023"),
                Text("title", "Tuyên truyền Luật Đất đai 2024"),
            ],
        ),
        (
            "don-thu",
            &[
                Text("received", "02/08/2023"),
                Text("content", "Đề nghị sửa đường bê tông thôn Phước Lộc"),
            ],
        ),
        (
            "ho-gpmb",
            &[
                Pick("project", "cao-toc-bac-nam"),
                Text("head", "Trần Thị Bình"),
                Text("parcels", "12/345:hai trăm:ONT"),
            ],
        ),
        ("nhiem-vu", &[Text("number", "2.2")]),
        (
            "tien-do",
            &[Text("task", "9.9"), Text("summary", "Đã triển khai")],
        ),
        (
            "mo-hinh",
            &[
                Text("name", "Dân vận khéo trong xây dựng nông thôn mới"),
                Text("year", "năm ngoái"),
            ],
        ),
    ]
};

/// Opens `page`, checks it fits and says nothing raw, and saves it when
/// asked to.
fn check(browser: &Browser, page: &Look, size: &str, shots: &Option<PathBuf>) {
    browser.goto(&page.url);
    browser.wait_for("body");
    if let Some(inputs) = page.refused {
        fill_and_save(browser, inputs);
        browser.wait_for("span.field-error");
        assert_eq!(
            browser.count("span.field-error"),
            1,
            "{}: more than the one wrong field is refused",
            page.name
        );
        // The page puts the cursor in the field to fix.
        let focused =
            browser.execute("return document.activeElement.getAttribute('aria-invalid');");
        assert_eq!(
            focused,
            serde_json::json!("true"),
            "{}: the wrong field is not focused",
            page.name
        );
    }
    let overflow = browser.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
    );
    assert!(
        overflow.as_i64().unwrap_or(0) <= 0,
        "{} at {size} is {overflow} px wider than the window",
        page.name
    );
    // Every drop-down shows its chosen option whole (the text's width
    // against the box, less its arrow): a phone once read "6 tháng cuối
    // năm 2…" for the report's period.
    let cut = browser.execute(
        "const ctx = document.createElement('canvas').getContext('2d');
         return [...document.querySelectorAll('select')].filter(s => {
           const chosen = s.options[s.selectedIndex];
           if (!chosen || s.offsetParent === null) return false;
           ctx.font = getComputedStyle(s).font;
           return ctx.measureText(chosen.text.trim()).width + 24 > s.clientWidth;
         }).map(s => s.name + ': ' + s.options[s.selectedIndex].text.trim());",
    );
    assert_eq!(
        cut,
        serde_json::json!([]),
        "{} at {size}: drop-downs cut their text",
        page.name
    );
    let text = browser.text("body");
    // A field name in code form (`bytes_received`) is never shown.
    let code_name = text.split_whitespace().find(|w| {
        w.contains('_')
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == ':')
    });
    assert!(
        code_name.is_none(),
        "{} at {size} shows {code_name:?}",
        page.name
    );
    for word in RAW_WORDS {
        let found = text
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == *word);
        assert!(!found, "{} at {size} shows {word:?}: {text}", page.name);
    }
    if let Some(dir) = shots {
        // The names README.md shows: `web-PAGE.png` on the laptop,
        // `web-PAGE-dien-thoai.png` on the phone.
        let phone = if size == "390" { "-dien-thoai" } else { "" };
        browser.screenshot(&dir.join(format!("web-{}{phone}.png", page.name)));
    }
}

#[test]
fn web_pages_fit_the_laptop_and_the_phone() {
    let shots = std::env::var_os("DANVAN_SCREENSHOTS").map(PathBuf::from);
    let demo = DemoTown::start();
    let (hub, commune) = (&demo.sites[0], &demo.sites[1]);
    let browser = Browser::open();
    // The record page of the household edited apart on two laptops.
    browser.goto(&format!("{commune}/ho-so?q=vo+van+tam"));
    let conflict = browser
        .attr("#records tbody tr:first-child a.record", "href")
        .expect("the household's link");
    browser.goto(&format!("{hub}/thi-xa"));
    let invite = browser
        .attr("#members a[href^='/thi-xa/loi-moi']", "href")
        .expect("an invite link");
    let invite = invite.trim_start_matches(hub.as_str());
    let mut main = vec![
        look("tong-quan", format!("{commune}/")),
        look("ho-so", format!("{commune}/ho-so")),
        look("ho-so-chi-tiet", format!("{commune}{conflict}")),
        look("gpmb", format!("{hub}/gpmb")),
        look("dong-bo", format!("{commune}/dong-bo")),
        look("bao-cao", format!("{hub}/bao-cao")),
    ];
    for (slug, inputs) in ONE_WRONG {
        main.push(Look {
            name: slug,
            url: format!("{commune}/them/{slug}"),
            refused: Some(inputs),
        });
    }
    let laptop_only = [
        look("thi-xa", format!("{hub}/thi-xa")),
        look("loi-moi", format!("{hub}{invite}&addr=192.168.1.10:7420")),
        look("nhat-ky", format!("{hub}/thi-xa/nhat-ky")),
        look("don-vi", format!("{hub}/thi-xa/don-vi")),
    ];
    for page in main.iter().chain(&laptop_only) {
        check(&browser, page, "1366", &shots);
    }
    drop(browser);
    let phone = Browser::with_window(PHONE);
    for page in &main {
        check(&phone, page, "390", &shots);
    }
    drop(phone);

    // The login page, on a node reachable from the office LAN.
    let dv = Dv::init("pho-minh");
    let add = dv
        .command(&["web", "user", "add", "lan"])
        .env("DANVAN_WEB_PASSWORD", "mat-khau")
        .output()
        .expect("run danvan");
    assert!(add.status.success());
    let web = WebServer::web(&dv, "0.0.0.0:0");
    let browser = Browser::with_window(LAPTOP);
    check(
        &browser,
        &look("dang-nhap", web.url("/dang-nhap")),
        "1366",
        &shots,
    );
}
