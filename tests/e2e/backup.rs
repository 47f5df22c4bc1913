//! Backup and restore (issue 16, item 4) with real processes: a backup
//! taken while the hub runs, work done after it, a restore, a sync — and
//! nothing lost, no sequence number used twice.

use crate::harness::Dv;
use crate::loss::{audit_events, town_and_officer};
use crate::sync::Server;

fn has_all(dv: &Dv, ids: &[&String]) {
    let list = dv.ok(&["list"]);
    for id in ids {
        assert!(
            list.contains(&id[..8]),
            "{id} missing on {:?}:\n{list}",
            dv.dir
        );
    }
}

#[test]
fn backup_write_sync_restore_sync_loses_nothing() {
    let (town, _hub, minh) = town_and_officer();

    let first = minh.activity("tuyen-truyen", "2024-09-02", "Trước khi sao lưu");
    minh.ok(&["sync"]);
    let file = minh.dir.with_file_name("pho-minh.dvbak");
    let file_arg = file.to_str().unwrap();
    let taken = minh.json(&["backup", "--out", file_arg]);
    assert_eq!(taken["records"], 1, "{taken}");
    assert!(
        taken["files"]
            .as_array()
            .unwrap()
            .contains(&"node.key".into())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the backup holds the key: {mode:o}");
    }
    // An existing file is not overwritten without --force.
    minh.fails(&["backup", "--out", file_arg], "--force");

    // After the backup: this laptop edits and adds, and syncs; the town adds.
    let after = minh.activity("doi-thoai", "2024-09-03", "Sau khi sao lưu");
    minh.ok(&["edit", &first, "--set", "place=Nhà văn hóa khu phố 2"]);
    minh.ok(&["sync"]);
    let mut town_args = crate::harness::activity_args("tuyen-truyen", "2024-09-04", "Thị xã ghi");
    town_args.extend(["--unit", "pho-minh"]);
    let from_town = town.add(&town_args);

    // The laptop's disk fails; its data directory comes back from the backup.
    let before = minh.snapshot();
    minh.fails(&["restore", file_arg], "--force");
    assert_eq!(before, minh.snapshot());
    let said = minh.ok(&["restore", file_arg, "--force"]);
    assert!(said.contains("epoch mới"), "{said}");
    assert!(said.contains("truoc-khoi-phuc-"), "{said}");
    let list = minh.ok(&["list"]);
    assert!(
        list.contains(&first[..8]) && !list.contains(&after[..8]),
        "{list}"
    );
    let restored = audit_events(&minh, "restored");
    assert_eq!(restored.len(), 1);
    assert_ne!(
        restored[0]["detail"]["old_epoch"],
        restored[0]["detail"]["new_epoch"]
    );
    // The old store was moved aside, whole.
    let aside: Vec<_> = std::fs::read_dir(&minh.dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("truoc-khoi-phuc-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(aside[0].path().join("danvan.db").exists());
    assert!(aside[0].path().join("node.key").exists());

    // Written before syncing, under the restored store's new epoch: the
    // change that would have reused a sequence number of `after`.
    let restored_write = minh.activity("tuyen-truyen", "2024-09-05", "Sau khi khôi phục");
    minh.ok(&["edit", &first, "--set", "organizers=Mặt trận phường"]);
    let synced = minh.json(&["sync"]);
    assert_eq!(
        synced["refused"].as_array().map_or(0, Vec::len),
        0,
        "{synced}"
    );
    assert_eq!(synced["changes_rejected"], 0, "{synced}");
    minh.ok(&["sync"]);
    for dv in [&minh, &town] {
        has_all(dv, &[&first, &after, &from_town, &restored_write]);
        let record = dv.json(&["show", &first]);
        assert_eq!(record["place"], "Nhà văn hóa khu phố 2", "{record}");
        assert_eq!(record["organizers"], "Mặt trận phường", "{record}");
        assert!(dv.ok(&["check"]).contains("toàn vẹn"));
    }
    // Restoring never looks like a copy to the store: one new epoch only.
    assert!(audit_events(&minh, "copy-detected").is_empty());
}

#[test]
fn a_backup_taken_while_the_hub_serves_restores_into_a_new_directory() {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    let hub = Server::start(&town, &[]);
    let ids: Vec<String> = (0..5)
        .map(|i| town.activity("tuyen-truyen", "2024-10-01", &format!("Hoạt động {i}")))
        .collect();
    let file = town.dir.with_file_name("town.dvbak");
    let file_arg = file.to_str().unwrap();
    // The hub keeps serving: the backup takes no lock.
    let out = town.ok(&["backup", "--out", file_arg]);
    assert!(out.contains("5 hồ sơ"), "{out}");
    assert!(out.contains("authority.key"), "{out}");
    drop(hub);

    let elsewhere = Dv::at(&town.dir.with_file_name("may-moi"));
    let said = elsewhere.ok(&["restore", file_arg]);
    assert!(!said.contains("truoc-khoi-phuc-"), "{said}");
    let refs: Vec<&String> = ids.iter().collect();
    has_all(&elsewhere, &refs);
    assert_eq!(elsewhere.ok(&["id"]), town.ok(&["id"]));
    assert!(elsewhere.dir.join("authority.key").exists());
    assert!(elsewhere.ok(&["check"]).contains("toàn vẹn"));
}

#[test]
fn restore_refuses_what_is_not_a_backup_and_changes_nothing() {
    let minh = Dv::init("pho-minh");
    let kept = minh.activity("tuyen-truyen", "2024-11-01", "Đã có");
    let dir = minh.dir.parent().unwrap();
    let bundle = dir.join("goi.dvb");
    minh.ok(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    let garbage = dir.join("rac.dvbak");
    std::fs::write(&garbage, vec![0x5a; 10_000]).unwrap();
    let missing = dir.join("khong-co.dvbak");
    for file in [&bundle, &garbage, &missing] {
        let err = minh.fails(&["restore", file.to_str().unwrap(), "--force"], "");
        assert!(
            err.contains("không phải bản sao lưu") || err.contains("không đọc"),
            "{err}"
        );
    }
    // Neither the store nor its files were moved.
    let entries: Vec<String> = std::fs::read_dir(&minh.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !entries.iter().any(|n| n.starts_with("truoc-khoi-phuc-")),
        "{entries:?}"
    );
    assert!(minh.ok(&["list"]).contains(&kept[..8]));
    // A backup of a directory that has no store says so.
    let empty = Dv::at(&dir.join("trong"));
    let out = empty.run(&["backup", "--out", dir.join("x.dvbak").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("không có thư mục dữ liệu"));
    assert!(!dir.join("x.dvbak").exists());
}

#[test]
fn the_deploy_backup_script_keeps_the_newest_backups() {
    let minh = Dv::init("pho-minh");
    minh.activity("tuyen-truyen", "2024-11-02", "Một hoạt động");
    let out = minh.dir.with_file_name("sao-luu");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/backup.sh");
    for _ in 0..4 {
        let status = crate::harness::without_danvan_env(&mut std::process::Command::new("bash"))
            .arg(script)
            .arg(&minh.dir)
            .arg(&out)
            .arg("2")
            .env("DANVAN_BIN", crate::harness::danvan_bin())
            .status()
            .expect("run deploy/backup.sh");
        assert!(status.success());
    }
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("danvan-") && n.ends_with(".dvbak"))
    );
    // What is kept restores.
    let restored = Dv::at(&minh.dir.with_file_name("tu-ban-moi-nhat"));
    restored.ok(&["restore", out.join(&names[1]).to_str().unwrap()]);
    assert_eq!(restored.count(&["list"]), 1);
}

/// The exit code and stderr of `out`, which must have failed.
fn failed(out: &std::process::Output) -> (Option<i32>, String) {
    assert!(!out.status.success(), "should have failed");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The names in `dir`, sorted.
fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_wrong_or_missing_passphrase_on_a_backup_says_so_with_its_exit_code_and_touches_nothing() {
    use crate::harness::plaintext;
    let minh = Dv::init("pho-minh");
    let kept = minh.activity("tuyen-truyen", "2024-11-01", "Đã có");
    let dir = minh.dir.parent().unwrap().to_path_buf();
    let file = dir.join("sao-luu.dvbak");
    let file_arg = file.to_str().unwrap();
    let wrong = dir.join("sai-mat-khau");
    std::fs::write(&wrong, "không phải mật khẩu này\n").unwrap();
    let before = names_in(&dir);

    // `backup` with no passphrase source and no terminal: the passphrase is
    // asked for (9), not damage (7); nothing written beside the output.
    let out = plaintext(&mut minh.command(&["backup", "--out", file_arg]))
        .output()
        .unwrap();
    let (code, err) = failed(&out);
    assert_eq!(code, Some(9), "{err}");
    assert!(
        err.contains("cần mật khẩu") && err.contains("DANVAN_PASSPHRASE_FILE"),
        "{err}"
    );
    // `backup` under a wrong passphrase: said so, 9.
    let out = minh
        .command(&["backup", "--out", file_arg])
        .env("DANVAN_PASSPHRASE_FILE", &wrong)
        .output()
        .unwrap();
    let (code, err) = failed(&out);
    assert_eq!(code, Some(9), "{err}");
    assert!(err.contains("sai mật khẩu"), "{err}");
    assert_eq!(names_in(&dir), before, "a refused backup wrote nothing");

    minh.ok(&["backup", "--out", file_arg]);
    let store = names_in(&minh.dir);
    let elsewhere = dir.join("khac");
    // `restore` of that backup under a wrong passphrase, over the store and
    // into a new directory: the wrong-passphrase error (9), nothing moved.
    for (target, force) in [(&minh.dir, true), (&elsewhere, false)] {
        let target_dv = Dv::at(target);
        let mut args = vec!["restore", file_arg];
        if force {
            args.push("--force");
        }
        let out = target_dv
            .command(&args)
            .env("DANVAN_PASSPHRASE_FILE", &wrong)
            .output()
            .unwrap();
        let (code, err) = failed(&out);
        assert_eq!(code, Some(9), "{err}");
        assert!(
            err.contains("sai mật khẩu") && err.contains("sao-luu.dvbak"),
            "{err}"
        );
        assert!(
            !err.contains("không phải bản sao lưu khôi phục được"),
            "{err}"
        );
        // No passphrase at all: asked for, 9.
        let out = plaintext(&mut target_dv.command(&args)).output().unwrap();
        let (code, err) = failed(&out);
        assert_eq!(code, Some(9), "{err}");
        assert!(err.contains("DANVAN_PASSPHRASE_FILE"), "{err}");
    }
    assert_eq!(names_in(&minh.dir), store, "the store was not moved aside");
    assert!(
        !elsewhere.exists(),
        "no directory made for a refused restore"
    );
    assert!(minh.ok(&["list"]).contains(&kept[..8]));
    // The right passphrase restores it.
    Dv::at(&elsewhere).ok(&["restore", file_arg]);
    assert!(Dv::at(&elsewhere).ok(&["list"]).contains(&kept[..8]));
}
