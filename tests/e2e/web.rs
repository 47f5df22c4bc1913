//! The web app in a real headless Chromium: what an officer sees and does
//! in the browser, against the real `danvan` binary.

use std::time::Duration;

use crate::browser::{Browser, WebServer, http_exchange, http_request};
use crate::harness::{Dv, field_texts};
use crate::web_forms::{Input, create, create_dialogue, listed};

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

/// The form token in a page's HTML (the first hidden `csrf` field).
pub(crate) fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no form token in {html}"));
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("end of token")].to_string()
}

fn roster_nodes(dv: &Dv) -> Vec<String> {
    field_texts(&dv.json(&["roster", "show"])["members"], "node")
}

#[test]
fn web_on_lan_needs_login_and_forms_need_their_token() {
    let town = Dv::init_with("town-web", &["--authority", "--unit", "duc-pho"]);
    let laptop = Dv::init("pho-minh");
    let laptop_id = crate::sync::node_id(&laptop);
    // Without accounts the app refuses a non-loopback address.
    let out = town.run(&["web", "--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chưa có tài khoản cán bộ"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let add = town
        .command(&["web", "user", "add", "lan"])
        .env("DANVAN_WEB_PASSWORD", "mat-khau-cua-lan")
        .output()
        .expect("run danvan");
    assert!(add.status.success(), "{add:?}");
    let users = std::fs::read_to_string(town.dir.join("web-users.json")).unwrap();
    assert!(users.contains("$argon2id$") && !users.contains("mat-khau-cua-lan"));

    // Any address other than loopback means accounts; the browser reaches
    // it on 127.0.0.1.
    let web = WebServer::web(&town, "0.0.0.0:0");
    let browser = Browser::open();
    browser.goto(&web.url("/thi-xa"));
    browser.wait_for("form.login");
    assert!(browser.url().ends_with("/dang-nhap"), "{}", browser.url());
    assert!(!browser.source().contains("Thêm máy vào thị xã"));

    browser.fill("#ten", "lan");
    browser.fill("#mat-khau", "sai-mat-khau");
    browser.click("form.login button");
    browser.wait_for_text("Sai tên tài khoản hoặc mật khẩu");
    browser.fill("#mat-khau", "mat-khau-cua-lan");
    browser.click("form.login button");
    browser.wait_for("header .user");
    assert_eq!(browser.text("header .user"), "lan");
    assert_eq!(browser.text("main h1"), "Tổng quan");

    // The session cookie is HttpOnly and SameSite=Strict; the WebDriver
    // can read it, a page script cannot.
    let session = browser.cookie("danvan_phien").expect("session cookie");
    assert_eq!(session.len(), 43, "32 random bytes, base64url");
    assert_eq!(
        browser.execute("return document.cookie;"),
        serde_json::json!(""),
        "the session cookie is readable by scripts"
    );
    browser.goto(&web.url("/thi-xa"));
    browser.wait_for("#member-add");
    let token = csrf_in(&browser.source());
    let cookie = format!("danvan_phien={session}");
    let form = format!("node={laptop_id}&name=May+Pho+Minh&role=officer&units=pho-minh&project=");
    let form_headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Cookie", cookie.as_str()),
    ];
    let before = roster_nodes(&town);
    // A post without its token, and one with a made-up token, are refused
    // and store nothing.
    let (status, body) = http_request(web.addr, "POST", "/thi-xa/them", &form_headers, &form);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("biểu mẫu hết hạn"), "{body}");
    let forged = format!("csrf=gia-mao&{form}");
    let (status, _) = http_request(web.addr, "POST", "/thi-xa/them", &form_headers, &forged);
    assert_eq!(status, 403);
    // A post with the token but without the session goes to the login page.
    let with_token = format!("csrf={token}&{form}");
    let (status, _) = http_request(
        web.addr,
        "POST",
        "/thi-xa/them",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &with_token,
    );
    assert_eq!(status, 303);
    assert_eq!(
        roster_nodes(&town),
        before,
        "a refused post changed the roster"
    );
    // With both, the same post is stored.
    let (status, body) = http_request(web.addr, "POST", "/thi-xa/them", &form_headers, &with_token);
    assert_eq!(status, 303, "{body}");
    assert!(roster_nodes(&town).contains(&laptop_id));

    // Logging out ends the session on the server, not only in the browser.
    browser.click("form.logout button");
    browser.wait_for("form.login");
    let (status, _) = http_request(web.addr, "GET", "/", &[("Cookie", cookie.as_str())], "");
    assert_eq!(status, 303, "the old session still works after logout");

    // Five wrong passwords lock the name: even the right one is refused
    // for a while, with a Vietnamese message.
    let (_, login_page) = http_request(web.addr, "GET", "/dang-nhap", &[], "");
    let login_token = csrf_in(&login_page);
    let login = |password: &str| {
        http_request(
            web.addr,
            "POST",
            "/dang-nhap",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &format!("csrf={login_token}&name=lan&password={password}"),
        )
    };
    for _ in 0..5 {
        assert_eq!(login("doan-bua").0, 401);
    }
    let (status, body) = login("mat-khau-cua-lan");
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("Hãy thử lại sau 15 phút"), "{body}");
}

/// Opens the Đồng bộ page of the app at `site` (`http://ADDR`), checks it
/// offers `target`, presses "Đồng bộ ngay" and returns the result line once
/// the sync finished.
fn sync_now(browser: &Browser, site: &str, target: &str) -> String {
    browser.goto(&format!("{site}/dong-bo"));
    browser.wait_for_text(target);
    browser.click("#sync-now");
    browser.wait_for("#sync-result");
    let result = browser.text("#sync-result");
    assert!(result.starts_with("Đồng bộ xong"), "{result}");
    result
}

fn activity(dv: &Dv, title: &str) -> String {
    dv.add(&[
        "activity",
        "add",
        "--type",
        "tiep-dan",
        "--date",
        "2023-08-03",
        "--title",
        title,
    ])
}

fn activity_ids(dv: &Dv) -> Vec<String> {
    listed(dv, "activity")
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn web_sync_now_brings_the_peer_record() {
    let a = Dv::init("pho-minh");
    let b = Dv::init("pho-minh");
    let made = activity(&b, "Đối thoại với hộ dân thôn Phước Lộc");
    crate::sync::trust(&b, &a, None);
    let b_server = crate::sync::Server::start(&b, &[]);
    // A knows B at its address: the page offers it as the place to sync.
    crate::sync::trust(&a, &b, Some(b_server.addr));
    let web = WebServer::web(&a, "127.0.0.1:0");
    assert!(!activity_ids(&a).contains(&made));

    let browser = Browser::open();
    let result = sync_now(&browser, &web.url(""), &b_server.addr.to_string());
    assert!(
        result.contains("1 mới") || result.contains(" mới,"),
        "{result}"
    );
    // The web app holds the data directory only while it touches the store,
    // so the CLI reads A's store beside it.
    assert!(
        activity_ids(&a).contains(&made),
        "B's record did not reach A's store"
    );
    // The peer table shows the sync just made.
    browser.goto(&web.url("/dong-bo"));
    browser.wait_for("#peers");
    let peers = browser.text("#peers");
    assert!(peers.contains(&crate::sync::node_id(&b)[..8]), "{peers}");
    // The progress endpoint the page's script polls answers JSON.
    let (status, body) = http_request(web.addr, "GET", "/dong-bo/tien-do", &[], "");
    assert_eq!(status, 200);
    let progress: serde_json::Value = serde_json::from_str(&body).expect("progress JSON");
    assert_eq!(progress["state"], "done");
    assert!(progress["summary"]["changes_stored"].as_u64().unwrap() >= 1);
}

#[test]
fn web_town_roster_invite_revoke_audit_and_refused_bundle() {
    let town = Dv::init_with("town-pages", &["--authority", "--unit", "duc-pho"]);
    let laptop = Dv::init("pho-minh");
    let laptop_id = crate::sync::node_id(&laptop);
    let web = WebServer::web(&town, "127.0.0.1:0");
    let browser = Browser::open();

    // A hub that keeps the authority key signs here, and says it should not.
    browser.goto(&web.url("/thi-xa"));
    browser.wait_for("#member-add");
    assert!(
        browser
            .text("p.warning")
            .contains("Cảnh báo: khóa thẩm quyền")
    );

    // Add the laptop to the roster through the form.
    browser.fill("#member-add input[name=node]", &laptop_id);
    browser.fill("#member-add input[name=name]", "Máy cán bộ Phổ Minh");
    browser.fill("#member-add input[name=units]", "pho-minh");
    browser.click("#member-add button");
    browser.wait_for_text("Đã thêm máy");
    let row = format!("#members tr[data-node='{laptop_id}']");
    let text = browser.text(&row);
    assert!(
        text.contains("Máy cán bộ Phổ Minh") && text.contains("Phổ Minh"),
        "{text}"
    );
    assert!(text.contains("Đang hoạt động"), "{text}");

    // Its invite, as text and as a QR code.
    browser.click(&format!("{row} a[href^='/thi-xa/loi-moi']"));
    browser.wait_for_text("chưa biết địa chỉ trạm");
    browser.fill("input[name=addr]", "127.0.0.1:7700");
    browser.click("form.stack button");
    browser.wait_for("#invite-qr svg");
    let invite = browser.execute("return document.getElementById('invite-text').value;");
    let invite = invite.as_str().expect("invite text").trim().to_string();
    assert!(invite.starts_with("dvmoi1-"), "{invite}");
    assert_eq!(
        invite,
        town.ok(&["invite", &laptop_id]).trim(),
        "the page's invite differs from the CLI's"
    );

    // Revoke, after a confirmation page.
    browser.goto(&web.url("/thi-xa"));
    browser.click(&format!("{row} a[href^='/thi-xa/thu-hoi']"));
    browser.wait_for("#revoke-confirm");
    assert!(browser.text("main").contains("Máy cán bộ Phổ Minh"));
    browser.click("#revoke-confirm button");
    browser.wait_for_text("Đã thu hồi máy");
    assert!(browser.text(&row).contains("Đã thu hồi"));

    // What the revoked laptop signs is refused, even carried by USB: the
    // upload lists the refused change with its reason and stores nothing.
    let late = activity(&laptop, "Ghi sau khi bị thu hồi");
    let bundle = laptop.dir.join("late.dvb");
    laptop.ok(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    browser.goto(&web.url("/dong-bo"));
    browser.choose_file("#bundle-file", &bundle);
    browser.click("#bundle-upload button");
    browser.wait_for("#bundle-result");
    let result = browser.text("#bundle-result");
    assert!(result.contains("0 thay đổi mới"), "{result}");
    assert!(browser.count("#refused tbody tr") >= 1, "{result}");
    let reason = browser.text("#refused td.reason");
    assert!(!reason.is_empty(), "a refused change without its reason");
    assert!(!activity_ids(&town).contains(&late));

    // The audit log, filtered to refused changes, shows the same reason.
    browser.goto(&web.url("/thi-xa/nhat-ky?event=rejected-change"));
    browser.wait_for("#audit");
    let rows = browser.count("#audit tbody tr");
    assert!(rows >= 1);
    assert_eq!(
        browser.count("#audit tbody tr[data-event='rejected-change']"),
        rows,
        "the filter let other entries through"
    );
    assert!(browser.text("#audit").contains(&reason), "{reason}");
    browser.goto(&web.url("/thi-xa/nhat-ky?event=roster&limit=1"));
    browser.wait_for("#audit");
    assert_eq!(browser.count("#audit tbody tr"), 1);
    assert_eq!(browser.count("#audit tbody tr[data-event='roster']"), 1);
}

/// The report of the second half of 2023 for the whole town, as the hub's
/// Báo cáo page links it in `format`: checks the answer and returns it.
fn download_report(browser: &Browser, web: &WebServer, format: &str, mime: &str) -> Vec<u8> {
    browser.goto(&web.url("/bao-cao?period=2023-H2&unit=duc-pho"));
    browser.wait_for("#report");
    let link = format!("p.downloads a[href^='/bao-cao/tai-ve/{format}']");
    let href = browser.attr(&link, "href").expect("a download link");
    let path = href.trim_start_matches(&web.url(""));
    let reply = http_exchange(web.addr, "GET", path, &[], "");
    assert_eq!(reply.status, 200, "{path}");
    assert_eq!(reply.header("content-type"), Some(mime), "{path}");
    assert!(
        reply
            .header("content-disposition")
            .is_some_and(|d| d.contains(&format!(".{format}"))),
        "{path}: not a download"
    );
    reply.body
}

/// A commune's week in the browser, as its officer lives it: record an
/// activity and a petition on the commune node's page, press sync, and
/// download the town's report on the hub's page, with the week counted.
#[test]
fn web_a_week_of_work_recorded_synced_and_reported() {
    use Input::Text;
    let town = Dv::init_with("town-week", &["--authority", "--unit", "duc-pho"]);
    let hub = WebServer::serve(&town, "127.0.0.1:0", &[]);
    let hub_sync = hub.sync_addr.expect("the hub's sync address");
    let commune = Dv::init("pho-minh");
    let commune_id = crate::sync::node_id(&commune);
    town.ok(&[
        "roster",
        "add",
        &commune_id,
        "--unit",
        "pho-minh",
        "--role",
        "officer",
        "--name",
        "UBND phường Phổ Minh",
    ]);
    let invite = town.ok(&["invite", &commune_id, "--addr", &hub_sync.to_string()]);
    commune.ok(&["join", invite.trim()]);
    let web = WebServer::web(&commune, "127.0.0.1:0");
    let browser = Browser::open();

    let dialogue = "Đối thoại giữa Bí thư Đảng ủy với Nhân dân khu phố 2";
    let activity = create_dialogue(&browser, &web, dialogue);
    let petition = create(
        &browser,
        &web,
        "/them/don-thu",
        &[
            Text("received", "18/07/2023"),
            Text("citizen", "Phạm Văn Dũng"),
            Text("content", "Đề nghị sửa đường bê tông thôn Phước Lộc"),
        ],
    );
    let before = download_report(&browser, &hub, "csv", "text/csv; charset=utf-8");
    let before = String::from_utf8(before).expect("utf-8 csv");
    assert!(
        !before.contains("Đối thoại trực tiếp với Nhân dân,1,120"),
        "{before}"
    );

    let result = sync_now(&browser, &web.url(""), &hub_sync.to_string());
    assert!(
        !result.contains("gửi 0 thay đổi"),
        "nothing was sent: {result}"
    );
    assert!(activity_ids(&town).contains(&activity));
    assert!(
        listed(&town, "petition")
            .iter()
            .any(|(id, _)| *id == petition)
    );

    // The town office downloads the report from the hub's own page.
    let csv = download_report(&browser, &hub, "csv", "text/csv; charset=utf-8");
    let csv = String::from_utf8(csv).expect("utf-8 csv");
    assert!(
        csv.contains("Đối thoại trực tiếp với Nhân dân,1,120"),
        "{csv}"
    );
    assert!(csv.contains("Phường Phổ Minh,1,120"), "{csv}");
    assert!(csv.contains("Tiếp nhận 1 phản ánh"), "{csv}");
    let xlsx = download_report(
        &browser,
        &hub,
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    );
    assert!(
        xlsx.starts_with(b"PK\x03\x04"),
        "the xlsx is not a zip file"
    );
    // The page itself shows the week too.
    assert!(
        browser
            .text("#report")
            .contains("1 buổi đối thoại trực tiếp")
    );
}

/// `danvan demo --web 127.0.0.1:0` running until [`DemoTown::stop`] sends
/// it Ctrl+C (SIGINT), or until it is dropped (Ctrl+C too, then killed if
/// it does not end).
pub(crate) struct DemoTown {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
    /// The hub's web app, then Phổ Minh's (`http://ADDR`, no slash).
    pub(crate) sites: Vec<String>,
    /// The temporary data the demo says it removes on exit.
    pub(crate) data: std::path::PathBuf,
    /// What it printed until it was ready.
    pub(crate) printed: String,
}

impl DemoTown {
    pub(crate) fn start() -> DemoTown {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut cmd = Command::new(crate::harness::danvan_bin());
        cmd.args(["demo", "--web", "127.0.0.1:0"]);
        let mut child = crate::harness::without_danvan_env(&mut cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start danvan demo");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut sites = Vec::new();
        let mut data = None;
        let mut printed = String::new();
        // Bounded: the demo prints a few dozen lines before it is ready.
        for _ in 0..200 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            printed.push_str(&line);
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                sites.push(url.trim_end_matches('/').to_string());
            }
            if let Some(rest) = line.trim().strip_prefix("Dữ liệu tạm tại ") {
                data = rest
                    .split(" sẽ bị xóa")
                    .next()
                    .map(std::path::PathBuf::from);
            }
            if line.contains("Ctrl+C") {
                break;
            }
        }
        let demo = DemoTown {
            child,
            out,
            sites,
            data: data.unwrap_or_default(),
            printed,
        };
        assert_eq!(demo.sites.len(), 2, "two web addresses:\n{}", demo.printed);
        assert!(demo.data.is_dir(), "no data directory:\n{}", demo.printed);
        demo
    }

    /// Presses Ctrl+C; returns whether it exited cleanly and what it
    /// printed meanwhile.
    pub(crate) fn stop(&mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status();
        let status = self.child.wait().expect("wait for the demo");
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.out, &mut rest);
        (status.success(), rest)
    }
}

impl Drop for DemoTown {
    fn drop(&mut self) {
        // Ctrl+C first, so the demo removes its temporary data; killed only
        // if it has not ended after a while.
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid])
                .status();
            let ended = crate::harness::poll_until(Duration::from_millis(DEMO_STOP_MS_MAX), || {
                matches!(self.child.try_wait(), Ok(Some(_)))
            });
            if !ended {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// How long a demo may take to stop after Ctrl+C before it is killed.
const DEMO_STOP_MS_MAX: u64 = 10_000;

/// `danvan demo` (the README's first command) leaves the town running with
/// the web app of the hub and of a commune, every main page with something
/// on it, until Ctrl+C, which removes its temporary data.
#[test]
fn web_demo_serves_the_hub_and_a_commune_until_ctrl_c() {
    let mut demo = DemoTown::start();
    let printed = &demo.printed;
    assert!(printed.contains("Mọi nút đã hội tụ"), "{printed}");
    assert!(printed.contains("Văn phòng thị xã"), "{printed}");
    let (hub, commune) = (demo.sites[0].clone(), demo.sites[1].clone());

    let browser = Browser::open();
    // The commune officer's overview: petitions due, a task with progress.
    browser.goto(&format!("{commune}/"));
    browser.wait_for("main h1");
    let main = browser.text("main");
    assert!(main.contains("Đơn thư đến hạn"), "{main}");
    assert!(main.contains("còn ") && main.contains("quá "), "{main}");
    assert!(main.contains("Vận động Nhân dân tham gia"), "{main}");
    // A household the two field laptops edited apart waits to be resolved.
    browser.goto(&format!("{commune}/ho-so?kind=household"));
    browser.wait_for("#records");
    assert!(browser.count("#records tbody tr") >= 4);
    browser.goto(&format!("{commune}/ho-so?q=vo+van+tam"));
    browser.click("#records tbody tr:first-child a.record");
    browser.wait_for("#conflicts .conflict[data-field=compensation_vnd]");
    // Sync from the ward's page reaches the hub running in the same demo.
    sync_now(&browser, &commune, "Trạm của thị xã");
    // The hub's land-clearance board has households at several stages.
    browser.goto(&format!("{hub}/gpmb"));
    browser.wait_for("main h1");
    let board = browser.text("main");
    assert!(board.contains("bàn giao"), "{board}");
    // The town applied the 2025 reform: a 2023 period by the old units, or
    // mapped to the five new ones.
    assert!(
        printed.contains("sắp xếp đơn vị hành chính ngày 1/7/2025"),
        "{printed}"
    );
    browser.goto(&format!("{hub}/bao-cao?period=2023-H2&unit=duc-pho"));
    browser.wait_for("#report");
    let old = browser.text("#report");
    assert!(
        old.contains("Phường Phổ Minh") && !old.contains("Phường Đức Phổ"),
        "{old}"
    );
    browser.goto(&format!(
        "{hub}/bao-cao?period=2023-H2&unit=duc-pho&units=new"
    ));
    browser.wait_for("#report");
    let new = browser.text("#report");
    assert!(
        new.contains("Phường Đức Phổ") && new.contains("Thị xã Đức Phổ (cũ)"),
        "{new}"
    );
    // The hub's Thị xã page lists the whole roster; the hub holds no
    // authority key, so it applies signed roster files and signs nothing.
    assert!(printed.contains("co-quan-ky"), "{printed}");
    browser.goto(&format!("{hub}/thi-xa"));
    browser.wait_for("#members");
    assert!(browser.count("#members tbody tr") >= 6);
    // The demo's roster carries the 2025 merges: a member's former unit is
    // named with the unit its records are read under now.
    let members = browser.text("#members");
    assert!(
        members.contains("Phường Phổ Minh (nay thuộc Phường Đức Phổ)"),
        "{members}"
    );
    assert_eq!(browser.count("#roster-apply"), 1);
    assert_eq!(browser.count("#member-add"), 0);
    assert!(!demo.data.join("hub").join("authority.key").exists());

    let (clean, rest) = demo.stop();
    assert!(clean, "{rest}");
    assert!(rest.contains("Đã dừng"), "{rest}");
    assert!(
        !demo.data.exists(),
        "the demo left {} behind",
        demo.data.display()
    );
}
