//! Recording every kind of work offline, and finding it again.

use crate::harness::{Dv, field_texts};

fn ids(list: &serde_json::Value) -> Vec<String> {
    field_texts(list, "id")
}

#[test]
fn every_kind_can_be_added_edited_listed_shown_and_exported() {
    let dv = Dv::init("pho-minh");
    let activity = dv.add(&[
        "activity",
        "add",
        "--type",
        "doi-thoai",
        "--date",
        "17/7/2023",
        "--title",
        "Đối thoại giữa Bí thư và Nhân dân về GPMB",
        "--place",
        "Hội trường UBND phường",
        "--attendance",
        "120",
        "--matters",
        "9",
    ]);
    let petition = dv.add(&[
        "petition",
        "add",
        "--received",
        "2023-07-20",
        "--citizen",
        "Lê Văn Cường",
        "--content",
        "Đề nghị xem xét đơn giá bồi thường đất ở",
        "--type",
        "khieu-nai",
        "--complex",
        "--category",
        "đất đai",
    ]);
    let household = dv.household(
        "Nguyễn Thị Hoa",
        &[
            "--village",
            "Thôn Vĩnh Xuân",
            "--parcel",
            "12/345:250.5:ONT",
            "--parcel",
            "12/346:1000:LUC",
        ],
    );
    let task = dv.task(
        "1.5",
        "Tổ chức đối thoại trực tiếp",
        &[
            "--assign",
            "pho-minh",
            "--due",
            "2023-12-31",
            "--unit",
            "duc-pho",
        ],
    );
    let progress = dv.add(&[
        "progress",
        "add",
        &task[..10],
        "--period",
        "2023-H2",
        "--status",
        "dang-thuc-hien",
        "--summary",
        "Đã tổ chức 2 hội nghị đối thoại",
    ]);
    let model = dv.model(
        "Dân vận khéo trong vận động hiến đất làm đường",
        "kinh-te",
        "2023",
    );

    // Shown whole, with header fields, by full id or prefix.
    let shown = dv.json(&["show", &household[..8]]);
    assert_eq!(shown["id"], household.as_str());
    assert_eq!(shown["kind"], "household");
    assert_eq!(shown["unit"], "pho-minh");
    assert_eq!(shown["header"]["project"], "cao-toc-bac-nam");
    assert_eq!(shown["stage"], "kiem-dem");
    assert_eq!(shown["visits"].as_array().map(Vec::len), Some(0));
    assert_eq!(shown["area_m2"], 1250.5);
    let p = dv.json(&["show", &petition]);
    // A complex first complaint: 45 days from 20/7/2023.
    assert_eq!(p["deadline"], "2023-09-03");
    assert_eq!(dv.json(&["show", &progress])["task"], task.as_str());
    assert_eq!(dv.json(&["show", &activity])["date"], "2023-07-17");

    // Edited.
    dv.ok(&[
        "edit",
        &activity,
        "--set",
        "attendance=150",
        "--set",
        "results=Giải đáp 9 ý kiến",
    ]);
    let a = dv.json(&["show", &activity]);
    assert_eq!(a["attendance"], 150);
    assert_eq!(a["results"], "Giải đáp 9 ý kiến");
    dv.ok(&[
        "edit",
        &petition,
        "--set",
        "status=da-giai-quyet",
        "--set",
        "resolved=2023-08-30",
    ]);
    assert_eq!(dv.json(&["show", &petition])["status"], "da-giai-quyet");
    dv.ok(&[
        "household",
        "visit",
        &household,
        "--date",
        "2023-08-01",
        "--by",
        "Tổ công tác",
        "--outcome",
        "Hộ đồng ý xem xét",
    ]);
    dv.ok(&[
        "household",
        "status",
        &household,
        "dong-y",
        "--date",
        "2023-08-05",
    ]);
    let h = dv.json(&["show", &household]);
    assert_eq!(h["stage"], "dong-y");
    assert_eq!(h["visits"][0]["by"], "Tổ công tác");

    // Listed, with the contract's fields.
    let all = dv.json(&["list"]);
    assert_eq!(all.as_array().map(Vec::len), Some(6));
    for row in all.as_array().unwrap() {
        for key in ["id", "kind", "unit", "title", "date", "status"] {
            assert!(row.get(key).is_some(), "list row lacks {key}: {row}");
        }
    }
    let mut expected = vec![
        activity.clone(),
        petition.clone(),
        household.clone(),
        task.clone(),
        progress.clone(),
        model.clone(),
    ];
    expected.sort();
    let mut got = ids(&all);
    got.sort();
    assert_eq!(got, expected);

    // Filtered by kind, unit, period, status, text: the ids each list finds.
    let filters: [(&[&str], Vec<&String>); 10] = [
        (&["--kind", "petition"], vec![&petition]),
        (&["--unit", "duc-pho", "--kind", "task"], vec![&task]),
        (&["--unit", "pho-thuan"], vec![]),
        (
            &["--period", "2023-H2", "--kind", "activity"],
            vec![&activity],
        ),
        (&["--period", "2023-H1", "--kind", "activity"], vec![]),
        (
            &["--period", "2023-Q3", "--kind", "progress"],
            vec![&progress],
        ),
        (&["--status", "dong-y"], vec![&household]),
        (&["--search", "dan van kheo"], vec![&model]),
        (&["--search", "DOI THOAI bi thu"], vec![&activity]),
        (&["--search", "Nguyễn Thị Hoa"], vec![&household]),
    ];
    for (filter, expected) in filters {
        let listed = ids(&dv.json(&[&["list"][..], filter].concat()));
        assert_eq!(listed.iter().collect::<Vec<_>>(), expected, "{filter:?}");
    }
    assert_eq!(
        ids(&dv.json(&["list", "--search", "dan van kheo"])),
        vec![model.clone()]
    );
    assert_eq!(
        ids(&dv.json(&["list", "--search", "DOI THOAI bi thu"])),
        vec![activity.clone()]
    );
    assert_eq!(
        ids(&dv.json(&["list", "--search", "Nguyễn Thị Hoa"])),
        vec![household.clone()]
    );

    // Human output is Vietnamese with diacritics.
    let text = dv.ok(&["show", &household]);
    assert!(
        text.contains("Chủ hộ:")
            && text.contains("Nguyễn Thị Hoa")
            && text.contains("Đã đồng ý phương án"),
        "{text}"
    );

    // Exported.
    let csv = dv.ok(&["export", "--format", "csv"]);
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert!(csv.contains("Phường Phổ Minh"));
    let json: serde_json::Value =
        serde_json::from_str(&dv.ok(&["export", "--format", "json", "--kind", "model"])).unwrap();
    assert_eq!(
        json[0]["name"],
        "Dân vận khéo trong vận động hiến đất làm đường"
    );

    // History in causal order.
    let history = dv.json(&["history", &household]);
    let messages: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages[0].starts_with("tạo hồ sơ"));
    assert!(messages[2].contains("dong-y"));

    // The store is whole.
    assert_eq!(dv.json(&["check"])["ok"], true);
}

#[test]
fn a_backwards_move_is_recorded_and_shown() {
    let dv = Dv::init("pho-an");
    let h = dv.household("Phạm Văn Đông", &[]);
    dv.ok(&[
        "household",
        "status",
        &h,
        "nhan-tien",
        "--date",
        "2023-09-01",
    ]);
    let out = dv.ok(&["household", "status", &h, "dong-y", "--date", "2023-09-02"]);
    assert!(out.contains("lùi giai đoạn"), "{out}");
    let shown = dv.json(&["show", &h]);
    assert_eq!(shown["stage"], "dong-y");
    assert_eq!(shown["stage_log"][1]["backwards"], true);
    assert!(dv.ok(&["show", &h]).contains("LÙI GIAI ĐOẠN"));
    dv.ok(&[
        "household",
        "status",
        &h,
        "khieu-nai",
        "--note",
        "Không đồng ý diện tích",
    ]);
    assert_eq!(dv.json(&["show", &h])["objection_open"], true);
    dv.ok(&["household", "status", &h, "het-khieu-nai"]);
    assert_eq!(dv.json(&["show", &h])["objection_open"], false);
}

#[test]
fn csv_import_creates_every_row() {
    let dv = Dv::init("pho-thanh");
    let csv = dv.dir.join("hh.csv");
    std::fs::write(
        &csv,
        "head,village,parcels,compensation_vnd,stage\n\
         Nguyễn Văn An,Thôn 1,12/1:100:ONT;12/2:50.5:LUC,150000000,kiem-dem\n\
         Trần Thị Bình,Thôn 2,,,cong-khai\n\
         Võ Văn Cảnh,Thôn 3,13/7:300:CLN,,\n",
    )
    .unwrap();
    assert_eq!(
        dv.json(&["import", "household", "--csv", csv.to_str().unwrap()])["imported"],
        3
    );
    assert_eq!(
        dv.count(&["list", "--kind", "household", "--status", "cong-khai"]),
        1
    );
    let found = dv.json(&["list", "--search", "vo van canh"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    let shown = dv.json(&["show", found[0]["id"].as_str().unwrap()]);
    assert_eq!(shown["parcels"][0]["land_type"], "CLN");

    let acts = dv.dir.join("act.csv");
    std::fs::write(
        &acts,
        "type,date,title,attendance\ntuyen-truyen,2023-03-02,Tuyên truyền chống khai thác IUU,80\niuu,05/04/2023,Vận động ngư dân ký cam kết,45\n",
    )
    .unwrap();
    assert_eq!(
        dv.json(&["import", "activity", "--csv", acts.to_str().unwrap()])["imported"],
        2
    );
    assert_eq!(
        dv.count(&["list", "--kind", "activity", "--period", "2023-H1"]),
        2
    );
}
