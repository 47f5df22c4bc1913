//! Issue 16 items 1 and 5: files as commune offices have them — an Excel
//! workbook filled from `danvan import template`, CSV in UTF-16,
//! Windows-1258 or UTF-8 with a BOM and semicolons, Vietnamese headers —
//! imported by the real binary; errors named by row and column with
//! nothing stored; the same rows imported twice create nothing the second
//! time; long work shows its progress.

use std::path::{Path, PathBuf};

use calamine::{Data, Reader};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use unicode_normalization::UnicodeNormalization;

use crate::harness::Dv;

/// The titles of every activity held, sorted.
fn titles(dv: &Dv) -> Vec<String> {
    let list = dv.json(&["list", "--kind", "activity", "--limit", "1000"]);
    let mut titles: Vec<String> = list
        .as_array()
        .expect("a JSON list")
        .iter()
        .map(|r| r["title"].as_str().expect("a title").to_string())
        .collect();
    titles.sort();
    titles
}

fn nfc(text: &str) -> String {
    text.nfc().collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The first row of `sheet` (or the first sheet) of an xlsx, as text.
fn header_row(file: &Path, sheet: Option<&str>) -> Vec<String> {
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(file).unwrap();
    let name = sheet.map_or_else(|| book.sheet_names()[0].clone(), str::to_string);
    let range = book.worksheet_range(&name).unwrap();
    range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| match c {
            Data::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn an_excel_file_from_the_template_imports_with_dates_numbers_and_a_named_sheet() {
    let dv = Dv::init("pho-minh");
    let template = dv.dir.with_file_name("mau-hoat-dong.xlsx");
    dv.ok(&["import", "template", "activity", "--out", path(&template)]);
    let headers = header_row(&template, None);
    assert_eq!(
        &headers[..3],
        ["Loại hoạt động", "Ngày", "Tiêu đề"],
        "{headers:?}"
    );
    let notes = header_row(&template, Some("Hướng dẫn"));
    assert_eq!(notes[..3], ["Cột", "Mã", "Bắt buộc"]);
    // Not overwritten without --force.
    let again = dv.run(&["import", "template", "activity", "--out", path(&template)]);
    assert!(!again.status.success());

    // The template's own sample row imports as it is.
    let done = dv.json(&["import", "activity", path(&template)]);
    assert_eq!(done["new"], 1, "{done}");
    assert_eq!(
        titles(&dv),
        ["Tuyên truyền Luật Đất đai 2024 tại thôn Trung"]
    );
    let sample = &dv.json(&["list", "--kind", "activity"])[0];
    assert_eq!(sample["date"], "2024-03-15", "{sample}");

    // An officer's workbook: the template's headers in another order, on a
    // second sheet, dates as Excel dates, as serial numbers and as text.
    let file = dv.dir.with_file_name("hoat-dong.xlsx");
    let mut book = Workbook::new();
    book.add_worksheet().set_name("Ghi chú").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("Quý 1").unwrap();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    for (c, h) in ["tieu de", "NGÀY", "Loại hoạt động", "Số người dự"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet
        .write_string(1, 0, "Đối thoại với hộ dân khu phố 3")
        .unwrap();
    sheet
        .write_datetime_with_format(1, 1, ExcelDateTime::from_ymd(2024, 2, 29).unwrap(), &date)
        .unwrap();
    sheet.write_string(1, 2, "doi-thoai").unwrap();
    sheet.write_number(1, 3, 45.0).unwrap();
    sheet
        .write_string(2, 0, "Tiếp công dân định kỳ tháng 3")
        .unwrap();
    // 45366 is 15/03/2024 as Excel counts days.
    sheet.write_number(2, 1, 45366.0).unwrap();
    sheet.write_string(2, 2, "Tiếp công dân").unwrap();
    sheet
        .write_string(3, 0, "Vận động ngư dân ký cam kết")
        .unwrap();
    sheet.write_string(3, 1, "05/04/2024").unwrap();
    sheet.write_string(3, 2, "iuu").unwrap();
    sheet.write_string(3, 3, "1.250").unwrap();
    book.save(&file).unwrap();

    let done = dv.json(&["import", "activity", path(&file), "--sheet", "quy 1"]);
    assert_eq!(
        (done["new"].as_u64(), done["existing"].as_u64()),
        (Some(3), Some(0))
    );
    let all = dv.json(&["list", "--kind", "activity"]);
    let by_title = |t: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|r| r["title"] == t)
            .unwrap_or_else(|| panic!("{t} not imported: {all}"))
            .clone()
    };
    assert_eq!(
        by_title("Đối thoại với hộ dân khu phố 3")["date"],
        "2024-02-29"
    );
    assert_eq!(
        by_title("Tiếp công dân định kỳ tháng 3")["date"],
        "2024-03-15"
    );
    let iuu = by_title("Vận động ngư dân ký cam kết");
    assert_eq!(iuu["date"], "2024-04-05");
    let shown = dv.json(&["show", iuu["id"].as_str().unwrap()]);
    assert_eq!(shown["attendance"], 1250, "{shown}");
    let dialogue = dv.json(&[
        "show",
        by_title("Đối thoại với hộ dân khu phố 3")["id"]
            .as_str()
            .unwrap(),
    ]);
    assert_eq!(dialogue["activity_type"], "doi-thoai");

    // A sheet that is not there is named, with the ones that are.
    dv.fails(
        &["import", "activity", path(&file), "--sheet", "Quý 2"],
        "không có trang «Quý 2» (các trang: Ghi chú, Quý 1)",
    );
}

#[test]
fn a_household_workbook_reads_money_as_a_number_and_the_template_sample() {
    let dv = Dv::init("pho-minh");
    let template = dv.dir.with_file_name("mau-ho.xlsx");
    dv.ok(&["import", "template", "household", "--out", path(&template)]);
    assert_eq!(
        header_row(&template, None)[..3],
        ["Chủ hộ", "Thôn", "Thửa đất"]
    );
    assert_eq!(dv.json(&["import", "household", path(&template)])["new"], 1);
    let file = dv.dir.with_file_name("ho.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let money = Format::new().set_num_format("#,##0");
    for (c, h) in ["Chủ hộ", "Thôn", "Thửa đất", "Tiền bồi thường", "Giai đoạn"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "Phạm Thị Hồng").unwrap();
    sheet.write_string(1, 1, "Thôn Đông").unwrap();
    sheet
        .write_string(1, 2, "7/88:120:ONT; 7/89:45,5:CLN")
        .unwrap();
    sheet
        .write_number_with_format(1, 3, 1_250_000_000.0, &money)
        .unwrap();
    sheet.write_string(1, 4, "Đã đồng ý phương án").unwrap();
    book.save(&file).unwrap();
    assert_eq!(dv.json(&["import", "household", path(&file)])["new"], 1);
    let found = dv.json(&["list", "--search", "pham thi hong"]);
    let shown = dv.json(&["show", found[0]["id"].as_str().unwrap()]);
    assert_eq!(shown["compensation_vnd"], 1_250_000_000_i64, "{shown}");
    assert_eq!(shown["parcels"].as_array().unwrap().len(), 2);
    assert_eq!(shown["parcels"][1]["area_m2"], 45.5);
    assert_eq!(shown["stage"], "dong-y");
}

/// Windows-1258 as Vietnamese Windows writes it: base letters (with their
/// circumflex, breve or horn) from the code page, tone marks as combining
/// characters after them.
fn windows_1258(text: &str) -> Vec<u8> {
    let bytes: Vec<u8> = (0x80..=0xff).collect();
    let (high, _) = encoding_rs::WINDOWS_1258.decode_without_bom_handling(&bytes);
    let byte_of = |c: char| -> u8 {
        if c.is_ascii() {
            return c as u8;
        }
        let i = high
            .chars()
            .position(|h| h == c)
            .unwrap_or_else(|| panic!("{c:?} not in windows-1258"));
        0x80 + i as u8
    };
    const TONES: [char; 5] = ['\u{300}', '\u{301}', '\u{303}', '\u{309}', '\u{323}'];
    let mut out = Vec::new();
    for c in text.chars() {
        let parts: Vec<char> = c.nfd().collect();
        let base: String = parts.iter().filter(|p| !TONES.contains(p)).collect();
        let base: String = base.nfc().collect();
        for b in base.chars() {
            out.push(byte_of(b));
        }
        for t in parts.iter().filter(|p| TONES.contains(p)) {
            out.push(byte_of(*t));
        }
    }
    out
}

#[test]
fn csv_in_utf16_windows_1258_and_utf8_with_bom_keeps_every_diacritic() {
    let rows = [
        (
            "tuyen-truyen",
            "02/01/2024",
            "Tuyên truyền bảo vệ nguồn lợi thủy sản",
        ),
        (
            "tiep-dan",
            "2024-01-03",
            "Tiếp dân: ý kiến về đường điện, nước sạch",
        ),
        (
            "doi-thoai",
            "04/01/2024",
            "Đối thoại với bà Nguyễn Thị Ngọc Hưởng",
        ),
    ];
    let mut want: Vec<String> = rows.iter().map(|r| nfc(r.2)).collect();
    want.sort();

    // Excel's "Unicode text": UTF-16 LE with a BOM, tab-separated; and the
    // same in big endian.
    let tabbed: String = std::iter::once("Loại hoạt động\tNgày\tTiêu đề\r\n".to_string())
        .chain(rows.iter().map(|(t, d, x)| format!("{t}\t{d}\t{x}\r\n")))
        .collect();
    let mut le = vec![0xff, 0xfe];
    let mut be = vec![0xfe, 0xff];
    for u in tabbed.encode_utf16() {
        le.extend_from_slice(&u.to_le_bytes());
        be.extend_from_slice(&u.to_be_bytes());
    }
    // Windows-1258, commas, the codes as headers.
    let comma: String = std::iter::once("type,date,title\r\n".to_string())
        .chain(rows.iter().map(|(t, d, x)| format!("{t},{d},\"{x}\"\r\n")))
        .collect();
    let cp1258 = windows_1258(&comma);
    assert!(
        cp1258.contains(&0xf2),
        "the test text must carry a combining dot below"
    );
    // UTF-8 with a BOM and semicolons, headers without diacritics.
    let semi: String = std::iter::once("loai hoat dong;ngay;tieu de\n".to_string())
        .chain(rows.iter().map(|(t, d, x)| format!("{t};{d};{x}\n")))
        .collect();
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend_from_slice(semi.as_bytes());

    for (name, bytes, read_as) in [
        ("unicode-le.txt", le, "CSV UTF-16LE"),
        ("unicode-be.txt", be, "CSV UTF-16BE"),
        ("ansi.csv", cp1258, "CSV windows-1258"),
        ("bom.csv", bom, "CSV UTF-8, ngăn cột bằng dấu ;"),
    ] {
        let dv = Dv::init("pho-minh");
        let file = dv.dir.with_file_name(name);
        std::fs::write(&file, &bytes).unwrap();
        let done = dv.json(&["import", "activity", path(&file)]);
        assert_eq!(done["new"], 3, "{name}: {done}");
        assert!(
            done["read_as"].as_str().unwrap().starts_with(read_as),
            "{name}: {done}"
        );
        let got = titles(&dv);
        assert_eq!(got, want, "{name}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.as_bytes(), w.as_bytes(), "{name}: not NFC");
        }
    }
}

#[test]
fn an_excel_file_with_errors_names_each_row_and_column_and_stores_nothing() {
    let dv = Dv::init("pho-minh");
    dv.activity("tuyen-truyen", "2024-01-02", "Đã có từ trước");
    let before = dv.snapshot();
    let file = dv.dir.with_file_name("loi.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["Loại hoạt động", "Ngày", "Tiêu đề", "Số người dự"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let good = |sheet: &mut rust_xlsxwriter::Worksheet, r: u32| {
        sheet.write_string(r, 0, "tuyen-truyen").unwrap();
        sheet.write_string(r, 1, "01/02/2024").unwrap();
        sheet.write_string(r, 2, format!("Buổi {r}")).unwrap();
    };
    for r in (1..=20).filter(|r| *r != 8) {
        good(sheet, r);
    }
    // Row 4 (sheet row 5): a date that is not one.
    sheet.write_string(4, 1, "31/02/2024").unwrap();
    // Row 9: no title, and attendance that is not a number.
    sheet.write_string(8, 0, "tuyen-truyen").unwrap();
    sheet.write_string(8, 1, "01/02/2024").unwrap();
    sheet.write_string(8, 3, "nhiều").unwrap();
    // Row 14: an unknown activity type.
    sheet.write_string(13, 0, "hop-mat").unwrap();
    book.save(&file).unwrap();

    let err = dv.fails(&["import", "activity", path(&file)], "có 3 dòng lỗi");
    for needle in [
        "Dòng 5, cột «Ngày»: «31/02/2024» không phải ngày",
        "Dòng 9, cột «Tiêu đề»: trống, nhưng cột này bắt buộc",
        "Dòng 9, cột «Số người dự»: «nhiều» không phải số nguyên không âm",
        "Dòng 14, cột «Loại hoạt động»: «hop-mat» không có trong danh sách",
    ] {
        assert!(err.contains(needle), "{needle} not in: {err}");
    }
    assert!(!err.contains("Dòng 2,"), "a good row named: {err}");
    assert_eq!(before, dv.snapshot());

    // An unknown column and a missing required one are named before any row.
    let csv = dv.dir.with_file_name("cot.csv");
    std::fs::write(&csv, "Chủ hộ,Số nhà\nA,1\n").unwrap();
    dv.fails(
        &["import", "household", path(&csv)],
        "cột «Số nhà» không có",
    );
    std::fs::write(&csv, "Thôn,Thửa đất\nThôn 1,\n").unwrap();
    dv.fails(
        &["import", "household", path(&csv)],
        "thiếu cột bắt buộc «Chủ hộ»",
    );
}

/// Rows of activities as a CSV file.
fn activities(dir: &Path, name: &str, rows: usize) -> PathBuf {
    let mut text = String::from("Loại hoạt động,Ngày,Tiêu đề\n");
    for i in 0..rows {
        text.push_str(&format!(
            "tuyen-truyen,01/07/2024,Buổi tuyên truyền số {i}\n"
        ));
    }
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn importing_the_same_rows_again_creates_nothing_here_or_after_a_bundle() {
    let dv = Dv::init("pho-minh");
    let file = activities(dv.dir.parent().unwrap(), "200.csv", 200);
    let first = dv.json(&["import", "activity", path(&file)]);
    assert_eq!(
        (first["new"].as_u64(), first["existing"].as_u64()),
        (Some(200), Some(0))
    );
    let snapshot = dv.snapshot();
    let again = dv.json(&["import", "activity", path(&file)]);
    assert_eq!(
        (again["new"].as_u64(), again["existing"].as_u64()),
        (Some(0), Some(200))
    );
    assert_eq!(snapshot, dv.snapshot(), "a second import changed the store");
    let text = dv.ok(&["import", "activity", path(&file)]);
    assert!(
        text.contains("Đã nhập 0 hồ sơ") && text.contains("200 dòng đã có"),
        "{text}"
    );

    // The same rows written differently (case, diacritics, spaces) and
    // with 10 more: only the 10 are new.
    let mut more = String::from("type,date,title\n");
    for i in 0..210 {
        more.push_str(&format!(
            "tuyen-truyen,2024-07-01,BUỔI TUYÊN  TRUYỀN SỐ {i}\n"
        ));
    }
    let more_file = dv.dir.with_file_name("210.csv");
    std::fs::write(&more_file, more).unwrap();
    let third = dv.json(&["import", "activity", path(&more_file)]);
    assert_eq!(
        (third["new"].as_u64(), third["existing"].as_u64()),
        (Some(10), Some(200))
    );

    // Another laptop that received these records (a bundle here; sync
    // carries the same changes) recognises the rows too.
    let bundle = dv.dir.with_file_name("ho.dvb");
    dv.ok(&["bundle", "export", "--plain", "--out", path(&bundle)]);
    let other = Dv::init("pho-minh");
    other.ok(&["bundle", "import", path(&bundle)]);
    let there = other.json(&["import", "activity", path(&file)]);
    assert_eq!(
        (there["new"].as_u64(), there["existing"].as_u64()),
        (Some(0), Some(200))
    );
}

#[test]
fn import_help_lists_each_kinds_columns() {
    let dv = Dv::init("pho-minh");
    let help = dv.ok(&["import", "--help"]);
    for needle in [
        "Chủ hộ * [head]",
        "Thửa đất [parcels]",
        "Ngày * [date]",
        "Tiêu đề * [title]",
        "danvan import template",
    ] {
        assert!(help.contains(needle), "{needle} not in: {help}");
    }
}

/// The JSON progress events of `step` on stderr, in order.
fn progress_events(stderr: &[u8], work: &str) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "progress" && e["work"] == work)
        .collect()
}

/// Events whose "remaining" never grows and ends at 0 in a final event.
fn assert_counts_down(events: &[serde_json::Value], what: &str) {
    assert!(events.len() >= 2, "{what}: too few events: {events:?}");
    let remaining: Vec<u64> = events
        .iter()
        .map(|e| e["remaining"].as_u64().expect("remaining"))
        .collect();
    assert!(
        remaining.windows(2).all(|w| w[1] <= w[0]) && remaining[0] > 0,
        "{what}: remaining not counting down: {remaining:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(
        (last["final"].as_bool(), last["remaining"].as_u64()),
        (Some(true), Some(0)),
        "{what}: {last}"
    );
    assert!(last["total"].as_u64().unwrap() > 0, "{last}");
}

#[test]
fn long_work_reports_progress_as_json_events_and_plain_lines() {
    let rows = 5_000;
    let dv = Dv::init("pho-minh");
    let file = activities(dv.dir.parent().unwrap(), "nhieu.csv", rows);
    let out = dv.run(&["import", "activity", path(&file), "--json"]);
    assert!(out.status.success());
    let result: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is the result only");
    assert_eq!(result["new"], rows);
    let events = progress_events(&out.stderr, "import");
    let step = |name: &str| -> Vec<serde_json::Value> {
        events
            .iter()
            .filter(|e| e["step"] == name)
            .cloned()
            .collect()
    };
    let checking = step("Kiểm tra dòng");
    assert_counts_down(&checking, "import rows");
    assert_eq!(checking.last().unwrap()["total"], rows);
    let writing = step("Ghi hồ sơ");
    assert_counts_down(&writing, "import writes");

    // Not a terminal and no --json (a log): plain lines.
    let other = Dv::init("pho-minh");
    let out = other.run(&["import", "activity", path(&file)]);
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Kiểm tra dòng: 5.000/5.000 dòng, còn 0 dòng (100 %)"),
        "{log}"
    );
    assert!(
        log.contains("Kiểm tra dòng: 500/5.000 dòng, còn 4.500 dòng (10 %)"),
        "{log}"
    );

    // A bundle import and a check of the same changes.
    let bundle = dv.dir.with_file_name("nhieu.dvb");
    dv.ok(&["bundle", "export", "--plain", "--out", path(&bundle)]);
    let third = Dv::init("pho-minh");
    let out = third.run(&["bundle", "import", path(&bundle), "--json"]);
    assert!(out.status.success());
    assert_counts_down(
        &progress_events(&out.stderr, "bundle-import"),
        "bundle import",
    );
    let out = third.run(&["check", "--json"]);
    assert!(out.status.success());
    assert_counts_down(&progress_events(&out.stderr, "check"), "check");

    // A cold sync of those changes from a hub: "còn N thay đổi" counts down.
    let hub = &dv;
    let laptop = Dv::init("pho-minh");
    crate::sync::trust(hub, &laptop, None);
    let server = crate::sync::Server::start(hub, &[]);
    crate::sync::trust(&laptop, hub, Some(server.addr));
    let out = laptop.run(&["sync", &server.addr.to_string(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the summary only");
    assert_eq!(summary["changes_stored"], rows);
    assert_counts_down(&progress_events(&out.stderr, "sync"), "sync");
}
