//! Two laptops of one unit edit the same household apart and exchange bundles.

use crate::harness::Dv;

#[test]
fn concurrent_edits_merge_identically_and_conflicts_show_until_set() {
    let a = Dv::init("pho-minh");
    let b = Dv::init("pho-minh");
    let h = a.household("Trần Thị Bé", &["--village", "Thôn Cũ"]);
    let seed = a.dir.join("seed.dvb");
    a.ok(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        seed.to_str().unwrap(),
    ]);
    b.ok(&["bundle", "import", seed.to_str().unwrap()]);
    assert_eq!(a.json(&["show", &h]), b.json(&["show", &h]));

    // Apart: a visit each, different fields, the same field to different values, status on one side.
    a.ok(&[
        "household",
        "visit",
        &h,
        "--date",
        "2023-08-01",
        "--by",
        "Anh Tâm",
        "--outcome",
        "Lần 1: lắng nghe",
    ]);
    b.ok(&[
        "household",
        "visit",
        &h,
        "--date",
        "2023-08-02",
        "--by",
        "Chị Hoa",
        "--outcome",
        "Lần 2: đồng ý",
    ]);
    a.ok(&["edit", &h, "--set", "village=Thôn Vĩnh Xuân"]);
    b.ok(&["edit", &h, "--set", "inventory=Nhà cấp 4, 20 cây dừa"]);
    a.ok(&["edit", &h, "--set", "compensation_vnd=100000000"]);
    b.ok(&["edit", &h, "--set", "compensation_vnd=120000000"]);
    b.ok(&[
        "household",
        "status",
        &h,
        "nhan-tien",
        "--date",
        "2023-08-10",
    ]);
    a.ok(&["household", "status", &h, "dong-y", "--date", "2023-08-09"]);

    let (fa, fb) = (a.dir.join("a.dvb"), b.dir.join("b.dvb"));
    a.ok(&["bundle", "export", "--plain", "--out", fa.to_str().unwrap()]);
    b.ok(&["bundle", "export", "--plain", "--out", fb.to_str().unwrap()]);
    a.ok(&["bundle", "import", fb.to_str().unwrap()]);
    b.ok(&["bundle", "import", fa.to_str().unwrap()]);

    let sa = a.json(&["show", &h]);
    let sb = b.json(&["show", &h]);
    assert_eq!(sa, sb, "replicas differ after exchanging bundles");
    assert_eq!(a.ok(&["show", &h, "--json"]), b.ok(&["show", &h, "--json"]));
    let visits: Vec<&str> = sa["visits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["by"].as_str().unwrap())
        .collect();
    assert_eq!(visits.len(), 2);
    assert!(visits.contains(&"Anh Tâm") && visits.contains(&"Chị Hoa"));
    assert_eq!(
        sa["stage"], "nhan-tien",
        "pipeline must resolve to the furthest stage"
    );
    assert_eq!(sa["village"], "Thôn Vĩnh Xuân");
    assert_eq!(sa["inventory"], "Nhà cấp 4, 20 cây dừa");
    for side in [&a, &b] {
        let c = side.json(&["conflicts"]);
        assert_eq!(c.as_array().unwrap().len(), 1, "{c}");
        assert_eq!(c[0]["conflicts"][0]["field"], "compensation_vnd");
        let mut values: Vec<i64> = c[0]["conflicts"][0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        values.sort();
        assert_eq!(values, vec![100_000_000, 120_000_000]);
    }

    // Importing the same bundle again changes nothing.
    let before = a.snapshot();
    let again = a.json(&["bundle", "import", fb.to_str().unwrap()]);
    assert_eq!(again["new"], 0);
    assert_eq!(before, a.snapshot());

    // Someone chooses; the choice travels and ends the conflict on both sides.
    a.ok(&["edit", &h, "--set", "compensation_vnd=120000000"]);
    assert!(a.json(&["conflicts"]).as_array().unwrap().is_empty());
    assert!(!b.json(&["conflicts"]).as_array().unwrap().is_empty());
    a.ok(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        fa.to_str().unwrap(),
        "--force",
    ]);
    b.ok(&["bundle", "import", fa.to_str().unwrap()]);
    assert!(b.json(&["conflicts"]).as_array().unwrap().is_empty());
    assert_eq!(a.json(&["show", &h]), b.json(&["show", &h]));
    assert_eq!(b.json(&["show", &h])["compensation_vnd"], 120_000_000);
}
