//! Bad input gets a clear message, a non-zero exit, and changes nothing stored.

use crate::harness::{Dv, TempDir, activity_args};

fn seeded() -> (Dv, String) {
    let dv = Dv::init("pho-minh");
    let h = dv.household("Đỗ Văn Em", &[]);
    dv.activity("tiep-dan", "2023-05-05", "Tiếp công dân định kỳ");
    (dv, h)
}

#[test]
fn invalid_values_are_refused_with_clear_messages() {
    let (dv, h) = seeded();
    // Activities: (type, date, more options, what the message names).
    let no_more: &[&str] = &[];
    for (activity_type, date, more, needle) in [
        ("doi-thoai", "2023-02-30", no_more, "ngày không hợp lệ"),
        ("doi-thoai", "hôm qua", no_more, "ngày không hợp lệ"),
        ("hop-cho", "2023-02-03", no_more, "activity_type"),
        (
            "doi-thoai",
            "2023-02-03",
            &["--unit", "pho-khong-co"],
            "không có đơn vị \"pho-khong-co\"",
        ),
    ] {
        let mut args = activity_args(activity_type, date, "x");
        args.extend_from_slice(more);
        dv.fails(&args, needle);
    }
    dv.fails(&["list", "--kind", "cuoc-hop"], "loại hồ sơ không hợp lệ");
    dv.fails(&["list", "--period", "2023-H3"], "kỳ không hợp lệ");
    dv.fails(&["list", "--unit", "xa-ma"], "không có đơn vị");
    dv.fails(&["household", "status", &h, "da-xong"], "giai đoạn");
    dv.fails(
        &[
            "household",
            "visit",
            &h,
            "--date",
            "31/02/2023",
            "--by",
            "A",
            "--outcome",
            "B",
        ],
        "ngày không hợp lệ",
    );
    dv.fails(
        &["edit", &h, "--set", "stage=ban-giao"],
        "không có trường \"stage\"",
    );
    dv.fails(
        &["edit", &h, "--set", "compensation_vnd=nhiều"],
        "không phải số nguyên",
    );
    dv.fails(&["edit", &h, "--set", "head="], "thiếu");
    dv.fails(&["show", "zzzzzzzz"], "không tìm thấy hồ sơ");
    dv.fails(
        &[
            "household",
            "add",
            "--project",
            "cao-toc-bac-nam",
            "--head",
            "X",
            "--parcel",
            "12-345",
        ],
        "thửa đất",
    );
    dv.fails(
        &["household", "add", "--project", "duong-sat", "--head", "X"],
        "project",
    );
    dv.fails(
        &[
            "progress",
            "add",
            &h,
            "--period",
            "2023-H2",
            "--status",
            "hoan-thanh",
            "--summary",
            "x",
        ],
        "lệnh này dành cho nhiệm vụ (task)",
    );
}

#[test]
fn a_csv_with_bad_rows_names_each_and_imports_nothing() {
    let (dv, _) = seeded();
    let csv = dv.dir.join("bad.csv");
    std::fs::write(
        &csv,
        "head,village,parcels,stage\nNguyễn Văn Tốt,Thôn 1,12/1:100:ONT,kiem-dem\n,Thôn 2,,\nLê Thị Sai,Thôn 3,12/x,\nPhan Văn Lỗi,Thôn 4,,da-xong\nHồ Văn Đúng,Thôn 5,,\n",
    )
    .unwrap();
    let err = dv.fails(
        &["import", "household", "--csv", csv.to_str().unwrap()],
        "có 3 dòng lỗi",
    );
    for line in [
        "Dòng 3, cột «head»",
        "Dòng 4, cột «parcels»",
        "Dòng 5, cột «stage»",
    ] {
        assert!(err.contains(line), "{line} not named in: {err}");
    }
    assert!(
        !err.contains("Dòng 2,") && !err.contains("Dòng 6,"),
        "valid rows named as bad: {err}"
    );
    let unknown = dv.dir.join("cols.csv");
    std::fs::write(&unknown, "head,so_nha\nA,1\n").unwrap();
    dv.fails(
        &["import", "household", "--csv", unknown.to_str().unwrap()],
        "cột «so_nha»",
    );
    dv.fails(
        &["import", "petition", "--csv", unknown.to_str().unwrap()],
        "chỉ nhập được hộ GPMB (household) hoặc hoạt động (activity)",
    );
    dv.fails(
        &["import", "household", "--csv", "/khong/co/tep.csv"],
        "không đọc hoặc ghi được tệp /khong/co/tep.csv",
    );
}

#[test]
fn corrupt_or_truncated_bundles_are_refused_whole() {
    let (dv, _) = seeded();
    let other = Dv::init("pho-minh");
    for i in 0..3 {
        other.activity("tuyen-truyen", "2023-06-01", &format!("Tuyên truyền {i}"));
    }
    let good = other.dir.join("good.dvb");
    other.ok(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        good.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dv.dir.join("truncated.dvb");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    dv.fails(&["bundle", "import", truncated.to_str().unwrap()], "gói");

    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let corrupt = dv.dir.join("corrupt.dvb");
    std::fs::write(&corrupt, &flipped).unwrap();
    dv.fails(&["bundle", "import", corrupt.to_str().unwrap()], "gói");

    let junk = dv.dir.join("junk.dvb");
    std::fs::write(&junk, "đây không phải gói").unwrap();
    dv.fails(&["bundle", "import", junk.to_str().unwrap()], "gói");

    // The intact bundle still imports afterwards.
    assert_eq!(
        dv.json(&["bundle", "import", good.to_str().unwrap()])["new"],
        3
    );
}

#[test]
fn a_missing_data_directory_is_named() {
    let tmp = TempDir::new("missing");
    let dv = Dv::at(&tmp.path().join("khong-co"));
    let out = dv.run(&["list"]);
    // 1: a usage problem the officer fixes by running `init`.
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("không có thư mục dữ liệu") && err.contains("init"),
        "{err}"
    );
    assert!(
        !tmp.path().join("khong-co").exists(),
        "a failed command must not create the directory"
    );
    // init twice does not wipe anything.
    let dv = Dv::init("pho-van");
    dv.model("Mô hình A", "kinh-te", "2023");
    dv.fails(&["init", "--unit", "pho-van"], "đã có dữ liệu");
    // 2: what was asked for does not exist; the script can tell it apart.
    let out = dv.run(&["show", "aaaaaaaaaaaaaaaaaaaaaaaaaa"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unknown_unit = TempDir::new("unit");
    let fresh = Dv::at(&unknown_unit.path().join("d"));
    let out = fresh.run(&["init", "--unit", "xa-khong-co"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("không có đơn vị"));
}

#[test]
fn a_second_process_on_the_same_directory_is_refused() {
    let (dv, _) = seeded();
    let before = dv.snapshot();
    // Another process holds the directory's lock (as a running `danvan` does).
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(dv.dir.join("danvan.lock"))
        .unwrap();
    lock.try_lock().expect("take the lock");
    let out = dv.run(&[
        "activity",
        "add",
        "--type",
        "doi-thoai",
        "--date",
        "2023-02-03",
        "--title",
        "x",
    ]);
    // 5: locked; a script may wait and retry.
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("đang được một tiến trình danvan khác sử dụng"),
        "{err}"
    );
    lock.unlock().unwrap();
    assert_eq!(before, dv.snapshot());
}
