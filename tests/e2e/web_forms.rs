//! The Thêm mới forms in a real Chromium: one record of each kind typed
//! into its form and found in the store by the CLI; a household's visit and
//! stage move from its record page; a task's progress report from its page;
//! and a refused form that says why beside the field, keeps what was typed,
//! and stores nothing.

use crate::browser::{Browser, WebServer};
use crate::harness::Dv;

/// One field of a form, as an officer fills it.
pub(crate) enum Input<'a> {
    /// Typed into a text box or text area.
    Text(&'a str, &'a str),
    /// Chosen in a drop-down list by its value.
    Pick(&'a str, &'a str),
    /// A check box ticked (its `name` and `value`).
    Tick(&'a str, &'a str),
}

/// Fills `inputs` into the form shown and presses Lưu.
pub(crate) fn fill_and_save(browser: &Browser, inputs: &[Input]) {
    for input in inputs {
        match input {
            Input::Text(name, text) => browser.fill(&format!("form.stack #{name}"), text),
            Input::Pick(name, value) => browser.select(&format!("form.stack #{name}"), value),
            Input::Tick(name, value) => {
                browser.click(&format!("form.stack input[name={name}][value='{value}']"))
            }
        }
    }
    browser.click("form.stack button[type=submit]");
}

/// Opens the form at `path`, fills it, saves, and returns the id of the
/// record page it lands on (which says the record was stored).
pub(crate) fn create(browser: &Browser, web: &WebServer, path: &str, inputs: &[Input]) -> String {
    browser.goto(&web.url(path));
    browser.wait_for("form.stack");
    fill_and_save(browser, inputs);
    saved_record(browser)
}

/// Records through its form a direct dialogue on 17/07/2023 with 120
/// people, titled `title`; returns its id.
pub(crate) fn create_dialogue(browser: &Browser, web: &WebServer, title: &str) -> String {
    use Input::{Pick, Text};
    create(
        browser,
        web,
        "/them/hoat-dong",
        &[
            Pick("activity_type", "doi-thoai"),
            Text("date", "17/07/2023"),
            Text("title", title),
            Text("attendance", "120"),
        ],
    )
}

/// Waits for the record page a saved form redirects to; returns its id.
fn saved_record(browser: &Browser) -> String {
    browser.wait_until(
        "the record page after saving",
        std::time::Duration::from_millis(crate::browser::WAIT_MS_DEFAULT),
        |b| b.url().contains("da-luu="),
    );
    browser.wait_for("p.notice");
    let url = browser.url();
    let path = url.split("/ho-so/").nth(1).expect("a record page");
    path.split(['?', '/']).next().unwrap().to_string()
}

/// The ids and titles of the records of `kind` the CLI lists.
pub(crate) fn listed(dv: &Dv, kind: &str) -> Vec<(String, String)> {
    dv.json(&["list", "--kind", kind])
        .as_array()
        .expect("list is an array")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["title"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Asserts the CLI lists exactly one record of `kind`, `id`, whose title
/// contains `title`.
fn stored_once(dv: &Dv, kind: &str, id: &str, title: &str) {
    let rows = listed(dv, kind);
    assert_eq!(rows.len(), 1, "{kind}: {rows:?}");
    assert_eq!(rows[0].0, id, "{kind}: the page shows another record");
    assert!(rows[0].1.contains(title), "{kind}: {rows:?}");
}

#[test]
fn web_forms_store_one_record_of_each_kind_with_visit_stage_and_progress() {
    use Input::{Pick, Text, Tick};
    let dv = Dv::init("pho-minh");
    let web = WebServer::web(&dv, "127.0.0.1:0");
    let browser = Browser::open();

    let activity = create_dialogue(&browser, &web, "Đối thoại giữa Bí thư Đảng ủy với Nhân dân");
    stored_once(&dv, "activity", &activity, "Đối thoại giữa Bí thư");
    let shown = dv.json(&["show", &activity]);
    assert_eq!(shown["date"], "2023-07-17");
    assert_eq!(shown["attendance"], 120);

    // (form, what is typed, kind, what its listed title holds); the task
    // last, as the progress report starts from its page.
    let [petition, household, task] = [
        (
            "/them/don-thu",
            &[
                Pick("petition_type", "khieu-nai"),
                Text("received", "02/08/2023"),
                Text("citizen", "Nguyễn Văn An"),
                Text("content", "Khiếu nại giá bồi thường đất ở"),
            ][..],
            "petition",
            "Nguyễn Văn An",
        ),
        (
            "/them/ho-gpmb",
            &[
                Pick("project", "cao-toc-bac-nam"),
                Text("head", "Trần Thị Bình"),
                Text("village", "Phước Lộc"),
                Text("compensation_vnd", "850.000.000"),
                Text("parcels", "12/345:250.5:ONT\n12/346:80:CLN"),
            ],
            "household",
            "Trần Thị Bình",
        ),
        (
            "/them/nhiem-vu",
            &[
                Text("number", "1.2"),
                Text("title", "Tăng cường đối thoại với Nhân dân"),
                Tick("assigned", "pho-minh"),
            ],
            "task",
            "Tăng cường đối thoại",
        ),
    ]
    .map(|(form, inputs, kind, title)| {
        let id = create(&browser, &web, form, inputs);
        stored_once(&dv, kind, &id, title);
        id
    });
    assert_eq!(dv.json(&["show", &petition])["petition_type"], "khieu-nai");
    let shown = dv.json(&["show", &household]);
    assert_eq!(
        shown["parcels"].as_array().map(Vec::len),
        Some(2),
        "{shown}"
    );
    assert_eq!(shown["compensation_vnd"], 850_000_000);
    assert_eq!(dv.json(&["show", &task])["assigned"][0], "pho-minh");

    // The task's page offers a progress report with its number filled in.
    browser.click("#record-actions a[href^='/them/tien-do']");
    browser.wait_for("form.stack #task");
    assert_eq!(browser.value("#task"), "1.2");
    fill_and_save(
        &browser,
        &[
            Pick("status", "dang-thuc-hien"),
            Text("summary", "Đã tổ chức 2 buổi đối thoại"),
        ],
    );
    let progress = saved_record(&browser);
    assert_eq!(listed(&dv, "progress").len(), 1);
    let shown = dv.json(&["show", &progress]);
    assert_eq!(shown["task"], task.as_str(), "progress on another task");
    assert_eq!(shown["status"], "dang-thuc-hien");

    let model = create(
        &browser,
        &web,
        "/them/mo-hinh",
        &[
            Text("name", "Dân vận khéo trong xây dựng nông thôn mới"),
            Pick("field", "kinh-te"),
            Text("year", "2023"),
        ],
    );
    stored_once(&dv, "model", &model, "Dân vận khéo");

    // A visit and a stage move, from the household's page.
    browser.goto(&web.url(&format!("/ho-so/{household}")));
    browser.click("#record-actions a[href$='/van-dong']");
    browser.wait_for("form.stack #outcome");
    fill_and_save(
        &browser,
        &[
            Text("date", "01/08/2023"),
            Text("by", "Tổ công tác số 3"),
            Text("outcome", "Hộ đồng ý xem lại phương án"),
        ],
    );
    assert_eq!(saved_record(&browser), household);
    browser.wait_for_text("Lần vận động (1)");
    browser.click("#record-actions a[href$='/giai-doan']");
    browser.wait_for("form.stack #stage");
    fill_and_save(
        &browser,
        &[
            Pick("stage", "dong-y"),
            Text("date", "05/08/2023"),
            Text("by", "Tổ công tác số 3"),
        ],
    );
    assert_eq!(saved_record(&browser), household);
    assert_eq!(
        browser.text("#fields dd[data-field=stage]"),
        "Đã đồng ý phương án"
    );
    let shown = dv.json(&["show", &household]);
    assert_eq!(shown["stage"], "dong-y");
    assert_eq!(shown["visits"][0]["by"], "Tổ công tác số 3");
    assert_eq!(shown["visits"][0]["date"], "2023-08-01");
}

/// A commune's app open in a browser, its node holding one household
/// (`head`'s, id returned second) and nothing else; third, the store as it
/// was then.
fn desk(head: &str) -> (Dv, String, String, WebServer, Browser) {
    let dv = Dv::init("pho-minh");
    let household = dv.household(head, &[]);
    let before = dv.snapshot();
    let web = WebServer::web(&dv, "127.0.0.1:0");
    (dv, household, before, web, Browser::open())
}

#[test]
fn web_forms_refuse_a_bad_field_beside_it_keep_the_typing_and_store_nothing() {
    use Input::{Pick, Text};
    let (dv, household, before, web, browser) = desk("Lê Văn Cường");

    // A date that does not exist, on an activity.
    browser.goto(&web.url("/them/hoat-dong"));
    fill_and_save(
        &browser,
        &[
            Pick("activity_type", "tuyen-truyen"),
            Text("date", "31/02/2023"),
            Text("title", "Tuyên truyền về Luật Đất đai"),
            Text("place", "Nhà văn hóa thôn Phước Lộc"),
        ],
    );
    browser.wait_for("#date[aria-invalid=true] + span.field-error");
    let message = browser.text("#date + span.field-error");
    assert!(message.contains("ngày"), "{message}");
    assert!(browser.text("p.error").starts_with("Chưa lưu"));
    assert_eq!(browser.value("#date"), "31/02/2023");
    assert_eq!(browser.value("#title"), "Tuyên truyền về Luật Đất đai");
    assert_eq!(browser.value("#place"), "Nhà văn hóa thôn Phước Lộc");
    assert_eq!(browser.value("#activity_type"), "tuyen-truyen");
    // Only the bad field is marked.
    assert_eq!(browser.count("[aria-invalid=true]"), 1);

    // A petition without its citizen: the message sits beside that field.
    browser.goto(&web.url("/them/don-thu"));
    fill_and_save(
        &browser,
        &[
            Text("received", "02/08/2023"),
            Text("content", "Đường ngập nước khi mưa"),
        ],
    );
    browser.wait_for("#citizen[aria-invalid=true] + span.field-error");
    let message = browser.text("#citizen + span.field-error");
    assert!(!message.is_empty() && !message.is_ascii(), "{message}");
    assert_eq!(browser.value("#content"), "Đường ngập nước khi mưa");
    assert_eq!(browser.value("#received"), "02/08/2023");

    // A progress report on a task number nobody issued.
    browser.goto(&web.url("/them/tien-do?task=9.9"));
    fill_and_save(&browser, &[Text("summary", "Đã làm")]);
    browser.wait_for("#task[aria-invalid=true] + span.field-error");
    assert!(browser.text("#task + span.field-error").contains("9.9"));

    // A visit with a bad date, on the household's own form.
    browser.goto(&web.url(&format!("/ho-so/{household}/van-dong")));
    fill_and_save(
        &browser,
        &[
            Text("date", "hôm qua"),
            Text("by", "Tổ công tác"),
            Text("outcome", "Chưa gặp chủ hộ"),
        ],
    );
    browser.wait_for("#date[aria-invalid=true] + span.field-error");
    assert!(browser.text("#date + span.field-error").contains("hôm qua"));
    assert_eq!(browser.value("#date"), "hôm qua");
    assert_eq!(browser.value("#outcome"), "Chưa gặp chủ hộ");

    assert_eq!(dv.snapshot(), before, "a refused form stored something");
}

/// The web app's `--yes`: a day decades back is refused with a question and
/// nothing stored; ticking the confirmation box that then appears stores it
/// — on a new record's form and on a household's visit form alike.
#[test]
fn web_forms_ask_before_storing_an_unusual_date_and_store_it_once_confirmed() {
    use Input::{Pick, Text, Tick};
    let (dv, household, before, web, browser) = desk("Trần Thị Mai");

    browser.goto(&web.url("/them/hoat-dong"));
    assert_eq!(browser.count("input[name=xac-nhan-ngay]"), 0);
    fill_and_save(
        &browser,
        &[
            Pick("activity_type", "tuyen-truyen"),
            Text("date", "17/07/1973"),
            Text("title", "Họp dân năm xưa"),
        ],
    );
    browser.wait_for("input[name=xac-nhan-ngay]");
    let message = browser.text("p.error");
    assert!(
        message.starts_with("Chưa lưu") && message.contains("17/07/1973"),
        "{message}"
    );
    assert!(message.contains("xác nhận"), "{message}");
    assert!(!message.contains("--yes"), "{message}");
    assert_eq!(browser.value("#date"), "17/07/1973");
    assert_eq!(
        dv.snapshot(),
        before,
        "an unconfirmed unusual date was stored"
    );
    if let Some(dir) = std::env::var_os("DANVAN_SCREENSHOTS") {
        browser.screenshot(&std::path::Path::new(&dir).join("xac-nhan-ngay.png"));
    }

    fill_and_save(&browser, &[Tick("xac-nhan-ngay", "1")]);
    let id = saved_record(&browser);
    stored_once(&dv, "activity", &id, "Họp dân năm xưa");

    browser.goto(&web.url(&format!("/ho-so/{household}/van-dong")));
    let visit = [
        Text("date", "02/09/1999"),
        Text("by", "Tổ công tác"),
        Text("outcome", "Gặp chủ hộ"),
    ];
    fill_and_save(&browser, &visit);
    browser.wait_for("input[name=xac-nhan-ngay]");
    assert!(browser.text("p.error").contains("02/09/1999"));
    fill_and_save(&browser, &[Tick("xac-nhan-ngay", "1")]);
    saved_record(&browser);
    let shown = dv.ok(&["show", &household, "--json"]);
    assert!(shown.contains("1999-09-02"), "{shown}");
}

/// Nhập từ tệp, from the office's browser: a CSV with Vietnamese headers
/// (UTF-8 with BOM, semicolons) becomes two households; the same file again
/// creates nothing; a file with a bad row names its row and column and
/// stores nothing; each kind's template downloads as a workbook with the
/// Vietnamese headers.
#[test]
fn web_import_takes_a_file_all_or_nothing_skips_rows_held_and_gives_templates() {
    use calamine::Reader;
    let dv = Dv::init("pho-minh");
    let web = WebServer::web(&dv, "127.0.0.1:0");
    let browser = Browser::open();
    let dir = danvan_testkit::TempDir::new("web-import");
    let good = dir.path().join("ho-thon-trung.csv");
    std::fs::write(
        &good,
        "\u{feff}Chủ hộ;Thôn;Tiền bồi thường\nNguyễn Văn An;Thôn Trung;850000000\nLê Thị Bình;Thôn Trung;\n",
    )
    .expect("write csv");
    // Uploads `path` as `kind` records; the text of what answers it.
    let upload = |path: &std::path::Path, kind: &str, answer: &str| {
        browser.goto(&web.url("/them/nhap-tep"));
        browser.select("#kind", kind);
        browser.choose_file("#import-file", path);
        browser.click("#import-upload button[type=submit]");
        browser.wait_for(answer);
        browser.text(answer)
    };

    // The columns read as an officer types them: no raw codes.
    browser.goto(&web.url("/them/nhap-tep"));
    let columns = browser.text("main");
    assert!(
        columns.contains("850.000.000") && columns.contains("Đã kiểm đếm"),
        "{columns}"
    );
    assert!(!columns.contains("kiem-dem"), "{columns}");

    let said = upload(&good, "ho-gpmb", "p.notice");
    assert!(
        said.contains("2 hồ sơ mới") && said.contains("ho-thon-trung.csv"),
        "{said}"
    );
    let heads = listed(&dv, "household");
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(
        heads.iter().any(|(_, t)| t.contains("Nguyễn Văn An")),
        "{heads:?}"
    );

    let said = upload(&good, "ho-gpmb", "p.notice");
    assert!(
        said.contains("0 hồ sơ mới") && said.contains("2 dòng đã có"),
        "{said}"
    );
    assert_eq!(listed(&dv, "household").len(), 2);

    let before = dv.snapshot();
    let bad = dir.path().join("hoat-dong.csv");
    std::fs::write(
        &bad,
        "Loại hoạt động,Ngày,Tiêu đề\ntuyen-truyen,17/07/2023,Tuyên truyền Luật Đất đai\ntuyen-truyen,31/02/2023,Đối thoại\n",
    )
    .expect("write csv");
    let why = upload(&bad, "hoat-dong", "div.error");
    assert_eq!(browser.count("div.error ul.import-errors li"), 1);
    assert!(why.contains("Dòng 3") && why.contains("«Ngày»"), "{why}");
    assert!(
        !why.contains("danvan-web-"),
        "the temporary file shows: {why}"
    );
    assert_eq!(dv.snapshot(), before, "a refused file stored something");
    if let Some(dir) = std::env::var_os("DANVAN_SCREENSHOTS") {
        browser.screenshot(&std::path::Path::new(&dir).join("nhap-tep.png"));
    }

    let reply = crate::browser::http_exchange(web.addr, "GET", "/them/mau/ho-gpmb.xlsx", &[], "");
    assert_eq!(reply.status, 200);
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(reply.body)).expect("a workbook");
    let sheet = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    let headers: Vec<String> = sheet
        .rows()
        .next()
        .expect("headers")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(headers.iter().any(|h| h == "Chủ hộ"), "{headers:?}");
}
