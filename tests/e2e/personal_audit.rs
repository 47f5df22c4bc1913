//! Personal data leaving the machine is audited, and the CCCD is masked
//! everywhere but the record page of a node that may write the record.

use crate::harness::Dv;

use crate::sealed::{CCCD, CITIZEN};
const MASKED: &str = "0512******90";

fn add_petition(dv: &Dv) -> String {
    crate::sealed::add_petition(dv, &["--address", "Thôn Vĩnh Xuân"])
}

/// The audit entries of `event`, newest last.
fn audited(dv: &Dv, event: &str) -> Vec<serde_json::Value> {
    crate::loss::audit_events(dv, event)
        .into_iter()
        .map(|e| e["detail"].clone())
        .collect()
}

#[test]
fn exports_and_bundles_are_audited_with_the_personal_data_they_carry() {
    let dv = Dv::init("pho-minh");
    add_petition(&dv);
    dv.activity("tuyen-truyen", "2023-07-21", "Họp dân thôn Vĩnh Xuân");
    assert!(audited(&dv, "export").is_empty());

    let file = dv.dir.join("ra.json");
    dv.ok(&[
        "export",
        "--format",
        "json",
        "--out",
        file.to_str().unwrap(),
    ]);
    let printed = dv.ok(&["export", "--format", "csv"]);
    assert!(printed.contains(CITIZEN), "{printed}");
    let bundle = dv.dir.join("plain.dvb");
    dv.ok(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        bundle.to_str().unwrap(),
    ]);

    let exports = audited(&dv, "export");
    assert_eq!(exports.len(), 2, "{exports:?}");
    let to_file = &exports[0];
    assert_eq!(to_file["to"], file.to_str().unwrap());
    assert_eq!(to_file["records"], 2);
    assert_eq!(to_file["names"], 1);
    assert_eq!(to_file["id_numbers"], 1);
    assert_eq!(to_file["addresses"], 1);
    assert_eq!(
        to_file["fields"],
        serde_json::json!(["name", "id_number", "address"])
    );
    // A CSV carries titles: the citizen's name, not the CCCD.
    let to_stdout = &exports[1];
    assert_eq!(to_stdout["to"], "stdout");
    assert_eq!(to_stdout["names"], 1);
    assert_eq!(to_stdout["id_numbers"], 0);

    let bundles = audited(&dv, "bundle-export");
    assert_eq!(bundles.len(), 1, "{bundles:?}");
    assert_eq!(bundles[0]["to"], bundle.to_str().unwrap());
    assert_eq!(bundles[0]["id_numbers"], 1);
    assert_eq!(bundles[0]["names"], 1);
    assert!(bundles[0].get("recipients").is_none());

    // The terminal view says it in Vietnamese.
    let log = dv.ok(&["audit"]);
    assert!(
        log.contains("XUẤT gói vào tệp")
            && log.contains("KHÔNG mã hoá")
            && log.contains("1 số CCCD"),
        "{log}"
    );
}

#[test]
fn json_export_masks_the_cccd_that_show_gives_whole_to_the_writer() {
    let dv = Dv::init("pho-minh");
    let id = add_petition(&dv);
    let shown = dv.json(&["show", &id]);
    assert!(shown.to_string().contains(CCCD), "{shown}");

    let exported = dv.ok(&["export", "--format", "json"]);
    assert!(!exported.contains(CCCD), "{exported}");
    assert!(exported.contains(MASKED), "{exported}");
    assert!(exported.contains(CITIZEN));
    let listed = dv.ok(&["list", "--json"]);
    assert!(!listed.contains(CCCD), "{listed}");
}

#[test]
fn web_record_page_gives_the_cccd_whole_only_to_a_writer_and_downloads_are_audited() {
    use crate::browser::{WebServer, http_request};
    let (_town, _hub, officer, viewer) = crate::sealed::town_officer_viewer();
    let id = add_petition(&officer);
    officer.ok(&["sync"]);
    viewer.ok(&["sync"]);

    let page = |dv: &Dv| {
        let web = WebServer::web(dv, "127.0.0.1:0");
        let (status, body) = http_request(web.addr, "GET", &format!("/ho-so/{id}"), &[], "");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(CITIZEN), "{body}");
        body
    };
    let written = page(&officer);
    assert!(written.contains(CCCD), "the writer sees it whole");
    let read = page(&viewer);
    assert!(!read.contains(CCCD), "{read}");
    assert!(read.contains(MASKED), "{read}");

    // A bundle downloaded from the web app is audited, sealed to the hub.
    {
        let web = WebServer::web(&officer, "127.0.0.1:0");
        let (status, _) = http_request(web.addr, "GET", "/dong-bo/goi", &[], "");
        assert_eq!(status, 200);
        let (status, report) = http_request(
            web.addr,
            "GET",
            "/bao-cao/tai-ve/csv?period=2023-H2",
            &[],
            "",
        );
        assert_eq!(status, 200, "{report}");
        assert!(!report.contains(CITIZEN), "{report}");
    }
    let reports = audited(&officer, "report");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["to"], "web");
    assert_eq!(reports[0]["fields"], serde_json::json!([]));
    let bundles = audited(&officer, "bundle-export");
    assert_eq!(bundles.len(), 1, "{bundles:?}");
    assert_eq!(bundles[0]["to"], "web");
    assert_eq!(bundles[0]["id_numbers"], 1);
    assert_eq!(bundles[0]["recipients"].as_array().unwrap().len(), 1);
}

#[test]
fn erase_clears_the_citizen_syncs_to_the_hub_and_is_audited() {
    let (town, hub, officer, viewer) = crate::sealed::town_officer_viewer();
    let id = add_petition(&officer);
    officer.ok(&["sync"]);
    viewer.ok(&["sync"]);

    // A viewer may not erase; without a terminal nor --yes, nothing is erased.
    viewer.fails(&["--yes", "erase", &id], "không được phép");
    officer.fails(&["erase", &id], "--yes");
    assert!(officer.ok(&["show", &id]).contains(CCCD));

    let said = officer.ok(&["--yes", "erase", &id]);
    assert!(said.contains("Còn lại trong lịch sử"), "{said}");
    let shown = officer.json(&["show", &id]).to_string();
    assert!(
        !shown.contains(CCCD) && !shown.contains(CITIZEN) && !shown.contains("Vĩnh Xuân"),
        "{shown}"
    );
    assert!(shown.contains("(đã xoá theo yêu cầu)"), "{shown}");

    // The change reaches the hub.
    officer.ok(&["sync"]);
    drop(hub);
    let at_hub = town.json(&["show", &id]).to_string();
    assert!(
        !at_hub.contains(CCCD) && at_hub.contains("(đã xoá theo yêu cầu)"),
        "{at_hub}"
    );

    let erased = audited(&officer, "erased");
    assert_eq!(erased.len(), 1, "{erased:?}");
    assert_eq!(erased[0]["doc"], id);
    assert_eq!(
        erased[0]["fields"],
        serde_json::json!(["citizen", "id_number", "address"])
    );
    assert!(erased[0]["earlier_changes"].as_u64().unwrap() >= 1);
}

#[test]
fn erase_clears_a_households_head_and_refuses_a_record_without_personal_data() {
    let dv = Dv::init("pho-minh");
    let head = "Phạm Thị Hoa";
    let household = dv.household(head, &[]);
    let activity = dv.activity("tuyen-truyen", "2023-07-21", "Tuyên truyền GPMB");
    dv.fails(&["--yes", "erase", &activity], "không chứa dữ liệu cá nhân");

    let erased = dv.json(&["--yes", "erase", &household]);
    assert_eq!(erased["fields"], serde_json::json!(["head"]));
    let shown = dv.json(&["show", &household]).to_string();
    assert!(!shown.contains(head), "{shown}");
    assert!(shown.contains("(đã xoá theo yêu cầu)"), "{shown}");
    let log = dv.ok(&["audit"]);
    assert!(log.contains("XOÁ dữ liệu cá nhân (head)"), "{log}");
}

/// Everything a command printed, on stdout and stderr (its log lines).
fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_cccd_in_conflict_is_masked_in_every_list_log_and_export_and_whole_only_on_a_writers_page() {
    use crate::browser::{WebServer, http_request};
    const ONE: &str = "051234567811";
    const TWO: &str = "051234567822";
    let (town, hub, officer, viewer) = crate::sealed::town_officer_viewer();
    let other = Dv::init("pho-minh");
    crate::access::enroll(
        &town,
        &hub,
        &other,
        &["--unit", "pho-minh", "--role", "officer"],
    );
    let id = add_petition(&officer);
    officer.ok(&["sync"]);
    other.ok(&["sync"]);
    // Two officers correct the CCCD apart: a conflict on it.
    officer.ok(&["edit", &id, "--set", &format!("id_number={ONE}")]);
    other.ok(&["edit", &id, "--set", &format!("id_number={TWO}")]);
    let mut seen = String::new();
    for dv in [&other, &officer, &viewer] {
        let out = dv
            .command(&["sync"])
            .env("DANVAN_LOG", "debug")
            .output()
            .unwrap();
        crate::harness::assert_succeeded(&out);
        seen.push_str(&printed(&out));
    }

    let report = ["report", "--period", "2023-H2"];
    for dv in [&officer, &viewer] {
        let listed = dv.json(&["conflicts"]);
        assert_eq!(listed[0]["id"], id, "{listed}");
        assert_eq!(listed[0]["conflicts"][0]["field"], "id_number", "{listed}");
        let mut values: Vec<&str> = listed[0]["conflicts"][0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        values.sort();
        assert_eq!(values, ["0512******11", "0512******22"], "{listed}");
        let history = ["history", &id];
        let history_json = ["history", &id, "--json"];
        let commands: [&[&str]; 10] = [
            &["conflicts"],
            &["conflicts", "--json"],
            &["list"],
            &["list", "--json"],
            &["export", "--format", "csv"],
            &["export", "--format", "json"],
            &history,
            &history_json,
            &report,
            &["audit", "--json"],
        ];
        for args in commands {
            let out = dv.run(args);
            crate::harness::assert_succeeded(&out);
            seen.push_str(&printed(&out));
        }
        seen.push_str(&dv.ok(&["audit"]));
    }
    assert!(seen.contains("Số CCCD được che"), "{seen}");
    // The viewer's record page masks them; the writer's shows them whole.
    let shown = viewer.ok(&["show", &id]) + &viewer.ok(&["show", &id, "--json"]);
    assert!(shown.contains("0512******"), "{shown}");
    seen.push_str(&shown);
    let page = |dv: &Dv| {
        let web = WebServer::web(dv, "127.0.0.1:0");
        let (status, body) = http_request(web.addr, "GET", &format!("/ho-so/{id}"), &[], "");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Xung đột cần chọn"), "{body}");
        body
    };
    let read = page(&viewer);
    assert!(
        read.contains("0512******11") && read.contains("0512******22"),
        "{read}"
    );
    // A reader may not choose: no button offers a masked value to write.
    assert!(!read.contains("Chọn giá trị này"), "{read}");
    seen.push_str(&read);
    for cccd in [CCCD, ONE, TWO] {
        assert!(!seen.contains(cccd), "{cccd} shown whole:\n{seen}");
    }
    let written = page(&officer) + &officer.ok(&["show", &id]);
    assert!(written.contains(ONE) && written.contains(TWO), "{written}");
    assert!(written.contains("Chọn giá trị này"), "{written}");
}
