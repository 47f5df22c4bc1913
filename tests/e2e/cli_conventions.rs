//! The command line as a user meets it: Vietnamese help and errors, shell
//! completions, man pages, the default data directory, `--json` on every
//! printing command, task numbers as ids, Vietnamese field names, money
//! with separators and unusual dates behind `--yes` — all through the real
//! binary.

use std::path::Path;
use std::process::{Command, Output};

use crate::harness::{Dv, TempDir, danvan_bin, without_danvan_env};

fn danvan(args: &[&str]) -> Output {
    let mut cmd = Command::new(danvan_bin());
    without_danvan_env(&mut cmd);
    cmd.args(args).output().expect("run danvan")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_is_vietnamese_and_hides_the_testing_option() {
    for args in [
        &["--help"][..],
        &["household", "add", "--help"],
        &["edit", "-h"],
        &["help", "bundle", "export"],
    ] {
        let out = danvan(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = text(&out.stdout);
        assert!(help.contains("Cách dùng: danvan"), "{args:?}:\n{help}");
        assert!(help.contains("Tùy chọn:"), "{args:?}:\n{help}");
        assert!(help.contains("In trợ giúp"), "{args:?}:\n{help}");
        for english in [
            "Usage:",
            "Options:",
            "Arguments:",
            "Commands:",
            "Print help",
        ] {
            assert!(!help.contains(english), "{args:?}: {english} in\n{help}");
        }
        assert!(!help.contains("idle-timeout"), "{args:?}:\n{help}");
    }
    let top = text(&danvan(&["--help"]).stdout);
    assert!(
        top.contains("Lệnh:") && top.contains("completions"),
        "{top}"
    );
    let edit = text(&danvan(&["edit", "--help"]).stdout);
    assert!(edit.contains("Đối số:") && edit.contains("2.4"), "{edit}");
}

#[test]
fn a_mistyped_command_line_gets_a_vietnamese_error_and_exit_1() {
    let out = danvan(&["show", "abc", "--jsn"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lỗi: không có tùy chọn '--jsn'"), "{err}");
    assert!(err.contains("gợi ý: có phải tùy chọn '--json'?"), "{err}");
    assert!(err.contains("Cách dùng: danvan show"), "{err}");
    assert!(!err.contains("Usage:") && !err.contains("error:"), "{err}");
    let out = danvan(&["sycn"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("không có lệnh 'sycn'") && err.contains("'sync'"),
        "{err}"
    );
    let out = danvan(&["completions", "tcsh"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("giá trị 'tcsh' không hợp lệ") && err.contains("bash"),
        "{err}"
    );
}

#[test]
fn completions_load_in_bash_and_man_writes_roff_pages() {
    let tmp = TempDir::new("completions");
    let out = danvan(&["completions", "bash"]);
    assert!(out.status.success());
    let script = tmp.path().join("danvan.bash");
    std::fs::write(&script, &out.stdout).expect("write the script");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("run bash");
    assert!(check.status.success(), "{}", text(&check.stderr));
    // Sourced, it registers a completion for danvan.
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p danvan", script.display()))
        .output()
        .expect("run bash");
    assert!(text(&loaded.stdout).contains("danvan"), "{loaded:?}");
    for shell in ["zsh", "fish", "powershell"] {
        let out = danvan(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(text(&out.stdout).contains("household"), "{shell}");
    }

    let page = text(&danvan(&["man"]).stdout);
    assert!(page.contains(".TH danvan 1"), "{page}");
    assert!(page.contains("Ghi nhận công tác dân vận"), "{page}");
    let dir = tmp.path().join("man1");
    let out = danvan(&["man", "--out", dir.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in ["danvan.1", "danvan-household-add.1", "danvan-edit.1"] {
        let page = std::fs::read_to_string(dir.join(name)).expect(name);
        assert!(page.contains(".TH") && page.contains(".SH"), "{name}");
    }
}

/// `danvan` with HOME (and XDG_DATA_HOME unless `None`) pointing into a
/// temporary directory, and no `--data-dir`.
fn at_home(home: &Path, xdg: Option<&Path>, args: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(danvan_bin());
    without_danvan_env(&mut cmd);
    cmd.env("HOME", home).env_remove("XDG_DATA_HOME");
    if let Some(xdg) = xdg {
        cmd.env("XDG_DATA_HOME", xdg);
    }
    let out = cmd.args(args).arg("--json").output().expect("run danvan");
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn the_platform_data_directory_is_the_default() {
    let tmp = TempDir::new("home");
    let home = tmp.path().join("home");
    let init = at_home(&home, None, &["init", "--unit", "pho-minh"]);
    let expected = home.join(".local/share/danvan");
    assert_eq!(init["data_dir"], expected.to_str().expect("utf-8"));
    assert!(expected.join("danvan.db").is_file());
    let id = at_home(&home, None, &["id"]);
    assert_eq!(id["node_id"], init["node_id"]);
    // XDG_DATA_HOME wins over HOME.
    let xdg = tmp.path().join("xdg");
    let init = at_home(&home, Some(&xdg), &["init", "--unit", "pho-ninh"]);
    assert_eq!(
        init["data_dir"],
        xdg.join("danvan").to_str().expect("utf-8")
    );
    assert_eq!(at_home(&home, Some(&xdg), &["id"])["unit"], "pho-ninh");
}

#[test]
fn tasks_by_number_fields_by_vietnamese_name_money_and_unusual_dates() {
    let dv = Dv::init("pho-minh");
    let task = dv.task("2.4", "Tuyên truyền", &[]);
    let shown = dv.json(&["show", "2.4"]);
    assert_eq!(shown["header"]["id"], task.as_str());
    assert_eq!(
        dv.json(&["history", "2.4"]).as_array().map(Vec::len),
        Some(1)
    );
    dv.ok(&["edit", "2.4", "--set", "Tiêu đề=Vận động hiến đất"]);
    dv.ok(&["edit", "2.4", "--set", "noi dung=Làm đường thôn 3"]);
    let shown = dv.json(&["show", &task[..6]]);
    assert_eq!(shown["title"], "Vận động hiến đất");
    assert_eq!(shown["text"], "Làm đường thôn 3");
    let progress = dv.add(&[
        "progress",
        "add",
        "2.4",
        "--period",
        "2026-Q4",
        "--status",
        "dang-thuc-hien",
        "--summary",
        "Đã họp dân",
    ]);
    assert_eq!(
        dv.json(&["show", &progress])["task"],
        task.as_str(),
        "progress add 2.4 points at the task"
    );
    let missing = dv.run(&["show", "9.9"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("9.9"));
    let err = dv.fails(&["edit", "2.4", "--set", "màu=đỏ"], "nhiệm vụ (task)");
    assert!(err.contains("tiêu đề (title)"), "{err}");

    let household = dv.household("Nguyễn Văn A", &["--compensation", "850000000"]);
    let shown = dv.ok(&["show", &household]);
    assert!(shown.contains("850.000.000 đ"), "{shown}");

    // A year typed 50 years back is refused, then stored with --yes.
    let args = [
        "activity",
        "add",
        "--type",
        "tiep-dan",
        "--date",
        "17/07/1976",
        "--title",
        "Tiếp dân",
    ];
    let err = dv.fails(&args, "--yes");
    assert!(
        err.contains("1976-07-17") && err.contains("20 năm"),
        "{err}"
    );
    let mut yes = args.to_vec();
    yes.push("--yes");
    let id = dv.add(&yes);
    assert_eq!(dv.json(&["show", &id])["date"], "1976-07-17");
    dv.fails(
        &[
            "household",
            "visit",
            &household,
            "--date",
            "2099-01-01",
            "--by",
            "Tổ",
            "--outcome",
            "x",
        ],
        "30 ngày",
    );
    dv.fails(&["edit", &id, "--set", "Ngày=2090-01-01"], "--yes");
    // A deadline may lie years ahead.
    dv.ok(&["edit", "2.4", "--set", "thời hạn=2031-12-31"]);
}

fn keys(v: &serde_json::Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

#[test]
fn every_printing_command_takes_json_with_the_documented_keys() {
    let tmp = TempDir::new("json");
    let town = Dv::at(&tmp.path().join("town"));
    let init = town.json(&["init", "--authority", "--unit", "duc-pho"]);
    assert_eq!(
        keys(&init),
        [
            "authority",
            "data_dir",
            "node_id",
            "roster_version",
            "unit",
            "unit_name"
        ]
    );
    assert_eq!(init["roster_version"], 1);
    let node = Dv::at(&tmp.path().join("node"));
    let node_init = node.json(&["init", "--unit", "pho-minh"]);
    assert!(node_init["authority"].is_null());
    let id = node.json(&["id"]);
    assert_eq!(keys(&id), ["name", "node_id", "unit"]);
    let node_id = id["node_id"].as_str().expect("node id").to_string();
    assert_eq!(node_init["node_id"], node_id.as_str());

    let added = town.json(&[
        "roster", "add", &node_id, "--unit", "pho-minh", "--role", "officer",
    ]);
    assert_eq!(keys(&added), ["node_id", "role", "roster_version", "units"]);
    assert_eq!(added["roster_version"], 2);
    let invite = town.json(&["invite", &node_id, "--addr", "127.0.0.1:7420"]);
    assert_eq!(keys(&invite), ["invite", "node_id"]);
    assert!(
        invite["invite"]
            .as_str()
            .is_some_and(|i| i.starts_with("dvmoi1-"))
    );
    let renamed = town.json(&[
        "roster",
        "unit-change",
        "rename",
        "--unit",
        "pho-minh",
        "--name",
        "Phường Phổ Minh mới",
        "--on",
        "01/12/2026",
    ]);
    assert_eq!(
        keys(&renamed),
        ["changes_added", "lines", "roster_version", "units_added"]
    );
    assert_eq!(renamed["roster_version"], 3);
    assert_eq!(renamed["changes_added"], 1);
    let revoked = town.json(&["roster", "revoke", &node_id]);
    assert_eq!(
        keys(&revoked),
        ["kept_changes", "node_id", "roster_version"]
    );
    assert_eq!(revoked["roster_version"], 4);

    let trusted = node.json(&[
        "trust",
        "add",
        init["node_id"].as_str().expect("id"),
        "--addr",
        "127.0.0.1:7420",
    ]);
    assert_eq!(keys(&trusted), ["addr", "name", "node_id"]);
    let removed = node.json(&["trust", "remove", init["node_id"].as_str().expect("id")]);
    assert_eq!(keys(&removed), ["node_id"]);

    let household = node.household("Trần Thị B", &[]);
    let visit = node.json(&[
        "household",
        "visit",
        &household[..8],
        "--date",
        "2026-11-20",
        "--by",
        "Tổ 1",
        "--outcome",
        "Đồng ý nghe",
    ]);
    assert_eq!(keys(&visit), ["date", "id"]);
    assert_eq!(visit["id"], household.as_str());
    let status = node.json(&[
        "household",
        "status",
        &household,
        "cong-khai",
        "--date",
        "2026-11-21",
    ]);
    assert_eq!(keys(&status), ["date", "from", "id", "outcome", "stage"]);
    assert_eq!(status["outcome"], "forward");
    let back = node.json(&[
        "household",
        "status",
        &household,
        "kiem-dem",
        "--date",
        "2026-11-22",
    ]);
    assert_eq!(
        (&back["outcome"], &back["from"]),
        (&"backwards".into(), &"cong-khai".into())
    );

    let file = tmp.path().join("gui.dvb");
    let bundle = node.json(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        file.to_str().expect("utf-8"),
    ]);
    assert_eq!(keys(&bundle), ["changes", "file", "personal", "sealed_to"]);
    assert!(
        bundle["changes"].as_u64().is_some_and(|n| n >= 4),
        "{bundle}"
    );
    assert!(file.is_file());
}
