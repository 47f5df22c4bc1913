//! The town pages where the authority key is not, in a real browser
//! against real `danvan web` processes. On a hub that holds only rosters
//! the page shows the roster read-only, applies a signed roster file
//! uploaded through "Áp dụng danh sách đã ký" (the path of `roster apply
//! FILE`), refuses an older or forged file with nothing changed and
//! audited, and never signs. On the offline authority's machine the page
//! signs, hands out the file, opens only on loopback and never syncs.

use std::path::{Path, PathBuf};

use crate::access::audit_reasons;
use crate::browser::{Browser, WebServer, http_exchange, http_request};
use crate::harness::Dv;
use crate::sync::node_id;
use crate::web::csrf_in;

/// An offline authority of Đức Phổ (`init --authority --offline`) and its
/// key's id.
fn offline_authority(name: &str) -> (Dv, String) {
    let dv = Dv::init_with(name, &["--authority", "--offline", "--unit", "duc-pho"]);
    let id = dv.json(&["roster", "show"])["authority"]
        .as_str()
        .expect("authority")
        .to_string();
    (dv, id)
}

/// `authority` lists `node` with `role` in `unit` and signs the roster into
/// `name` beside its data directory; returns the file.
fn sign_with(authority: &Dv, node: &str, unit: &str, role: &str, name: &str) -> PathBuf {
    authority.ok(&["roster", "add", node, "--unit", unit, "--role", role]);
    let path = authority
        .dir
        .parent()
        .expect("a temporary directory")
        .join(name);
    authority.ok(&["roster", "sign", "--out", path.to_str().unwrap()]);
    path
}

fn roster_version(dv: &Dv) -> u64 {
    dv.json(&["roster", "show"])["version"]
        .as_u64()
        .expect("version")
}

/// Uploads `file` through the hub page's "Áp dụng danh sách đã ký" form.
fn upload(browser: &Browser, web: &WebServer, file: &Path) {
    browser.goto(&web.url("/thi-xa"));
    browser.choose_file("#roster-file", file);
    browser.click("#roster-apply button");
}

#[test]
fn web_hub_without_the_key_applies_signed_roster_files() {
    let (authority, authority_id) = offline_authority("web-authority");
    let hub = Dv::init_with("web-hub", &["--unit", "duc-pho"]);
    let hub_id = node_id(&hub);
    let first = sign_with(&authority, &hub_id, "duc-pho", "hub", "v2.dvr");
    hub.ok(&[
        "roster",
        "apply",
        first.to_str().unwrap(),
        "--authority",
        &authority_id,
    ]);
    assert!(!hub.dir.join("authority.key").exists());
    let officer = Dv::init("pho-minh");
    let officer_id = node_id(&officer);
    let v3 = sign_with(&authority, &officer_id, "pho-minh", "officer", "v3.dvr");

    let web = WebServer::web(&hub, "127.0.0.1:0");
    let browser = Browser::open();
    browser.goto(&web.url("/thi-xa"));
    browser.wait_for("#roster-apply");
    // Read-only: no add form, no revoke link; the page says where and how
    // the roster is signed.
    assert_eq!(browser.count("#member-add"), 0);
    assert_eq!(browser.count("#members a[href^='/thi-xa/thu-hoi']"), 0);
    let howto = browser.text("#sign-elsewhere");
    assert!(
        howto.contains("roster add") && howto.contains("roster sign --out"),
        "{howto}"
    );
    assert!(
        browser
            .text("#roster-version")
            .contains("chỉ giữ danh sách đã ký")
    );

    // The signed file is applied, as `roster apply` would.
    upload(&browser, &web, &v3);
    browser.wait_for_text("Đã áp dụng tệp v3.dvr");
    assert_eq!(roster_version(&hub), 3);
    let row = format!("#members tr[data-node='{officer_id}']");
    assert!(browser.text(&row).contains("cán bộ đơn vị"));
    // The hub makes the new member's invite with the authority it pinned.
    assert_eq!(
        browser.count(&format!("{row} a[href^='/thi-xa/loi-moi']")),
        1
    );
    // The units and the audit log are there too.
    browser.goto(&web.url("/thi-xa/don-vi"));
    browser.wait_for("#units");
    assert!(browser.text("#units").contains("Phường Phổ Minh"));

    // An older file and a forged one (another authority's, newer): refused
    // beside the form, nothing changed, each audited.
    let before = hub.json(&["roster", "show"]);
    let refused = audit_reasons(&hub, "rejected-roster").len();
    upload(&browser, &web, &first);
    browser.wait_for("#roster-apply p.error");
    let error = browser.text("#roster-apply p.error");
    assert!(
        error.contains("không mới hơn") && error.contains("không đổi (phiên bản 3)"),
        "{error}"
    );
    let (forger, _) = offline_authority("web-forger");
    for role in ["hub", "viewer"] {
        forger.ok(&[
            "roster", "add", &hub_id, "--unit", "duc-pho", "--role", role,
        ]);
    }
    let forged = sign_with(&forger, &officer_id, "duc-pho", "officer", "forged.dvr");
    upload(&browser, &web, &forged);
    browser.wait_for("#roster-apply p.error");
    let error = browser.text("#roster-apply p.error");
    assert!(error.contains("không phải khóa thẩm quyền"), "{error}");
    assert_eq!(hub.json(&["roster", "show"]), before);
    let reasons = audit_reasons(&hub, "rejected-roster");
    assert_eq!(reasons.len(), refused + 2, "{reasons:?}");
    browser.goto(&web.url("/thi-xa/nhat-ky?event=rejected-roster"));
    browser.wait_for("#audit");
    assert_eq!(browser.count("#audit tbody tr"), reasons.len());

    // The hub never signs: a post to the add form is refused with where to
    // sign, and the roster is as it was.
    browser.goto(&web.url("/thi-xa"));
    let token = csrf_in(&browser.source());
    let form = format!("csrf={token}&node={officer_id}&name=&role=viewer&units=pho-minh&project=");
    let (status, body) = http_request(
        web.addr,
        "POST",
        "/thi-xa/them",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("không giữ khóa thẩm quyền"), "{body}");
    assert_eq!(hub.json(&["roster", "show"]), before);
}

#[test]
fn web_on_the_offline_authority_signs_and_hands_out_the_file() {
    let (authority, authority_id) = offline_authority("web-offline");
    let hub = Dv::init_with("web-offline-hub", &["--unit", "duc-pho"]);
    let hub_id = node_id(&hub);
    // Its page is for this machine only.
    let out = authority.run(&["web", "--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("chỉ mở tại 127.0.0.1"), "{stderr}");

    let web = WebServer::web(&authority, "127.0.0.1:0");
    let browser = Browser::open();
    // Nor does its page sync, whatever address is typed.
    browser.goto(&web.url("/dong-bo"));
    browser.fill("#sync-addr", "127.0.0.1:9");
    browser.click("#sync-now");
    browser.wait_for("p.error#sync-result");
    let refused = browser.text("#sync-result");
    assert!(refused.contains("khóa thẩm quyền ngoại tuyến"), "{refused}");
    browser.goto(&web.url("/thi-xa"));
    browser.wait_for("#member-add");
    assert_eq!(browser.count("#roster-apply"), 0);
    // Nor does its navigation offer Đồng bộ.
    assert_eq!(browser.count("nav.main a[href='/dong-bo']"), 0);
    assert_eq!(browser.count("nav.main a[href='/thi-xa']"), 1);
    browser.fill("#member-add input[name=node]", &hub_id);
    browser.fill("#member-add input[name=name]", "Trạm thị xã");
    browser.select("#member-add select[name=role]", "hub");
    browser.fill("#member-add input[name=units]", "duc-pho");
    browser.click("#member-add button");
    browser.wait_for_text("Đã thêm máy");
    assert!(browser.text("#roster-download").contains("phiên bản 2"));
    // The file it hands out is the signed roster, which the hub applies.
    let reply = http_exchange(web.addr, "GET", "/thi-xa/tep-ky", &[], "");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-disposition")
            .is_some_and(|d| d.contains("danh-sach-thanh-vien-v2.dvr"))
    );
    let file = hub
        .dir
        .parent()
        .expect("a temporary directory")
        .join("tai-ve.dvr");
    std::fs::write(&file, &reply.body).unwrap();
    let applied = hub.json(&[
        "roster",
        "apply",
        file.to_str().unwrap(),
        "--authority",
        &authority_id,
    ]);
    assert_eq!(applied["roster_version"], 2);
    let members = hub.json(&["roster", "show"])["members"].clone();
    assert_eq!(members[0]["node"], hub_id.as_str(), "{members}");
    assert_eq!(members[0]["role"], "hub", "{members}");
}
