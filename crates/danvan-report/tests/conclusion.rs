//! Reading the seed conclusion into tasks and assigning them to units.

use danvan_model::UnitTree;
use danvan_report::{ReportError, assign_units, parse_conclusion};

const SEED: &str = include_str!("../testdata/ket-luan-2023-07-17.txt");

fn check_assignment(heading: &str, expected: &[&str]) {
    let tree = UnitTree::sample();
    let a = assign_units(heading, &tree, Some("duc-pho"));
    assert_eq!(a.units, expected, "{heading}");
    assert!(a.unmatched.is_empty(), "{heading}: {:?}", a.unmatched);
}

#[test]
fn seed_conclusion_has_sixteen_tasks_with_full_texts() {
    let c = parse_conclusion(SEED).unwrap();
    let numbers: Vec<&str> = c.tasks.iter().map(|t| t.number.as_str()).collect();
    assert_eq!(
        numbers,
        [
            "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "1.10", "2.1", "2.2",
            "2.3", "2.4", "2.5", "2.6"
        ]
    );
    let task = |n: &str| c.tasks.iter().find(|t| t.number == n).unwrap();
    // A paragraph split by a page break is whole again.
    assert!(
        task("1.1")
            .text
            .contains("Quy chế giám sát và phản biện xã hội của Mặt trận")
    );
    assert!(task("2.2").text.contains("thông tin người dân cần biết"));
    // The footnote printed after 1.5 belongs to 1.2, which carries its mark.
    assert!(
        task("1.2")
            .text
            .ends_with("Đề án thí điểm về xây dựng lực lượng nông công cốt ở cơ sở.")
    );
    assert!(
        task("1.2")
            .text
            .contains("\n¹ Trọng tâm là: Việc thực hiện Chỉ thị số 25-CT/TU")
    );
    assert!(
        !task("1.5")
            .text
            .contains("Trọng tâm là: Việc thực hiện Chỉ thị số 25-CT/TU")
    );
    assert!(
        task("1.5")
            .text
            .ends_with("giải quyết các vấn đề, vụ việc sau đối thoại.")
    );
    // 2.4's three bullets, each on its line.
    let t24 = &task("2.4").text;
    assert_eq!(t24.lines().filter(|l| l.starts_with("- ")).count(), 3);
    assert!(t24.starts_with("Đảng ủy các xã, phường\n- Chỉ đạo các cơ quan, đơn vị"));
    assert!(t24.ends_with("phối hợp chặt chẽ với các Tổ công tác của cấp thẩm quyền trong công tác tuyên truyền, vận động người dân thực hiện Dự án."));
    // Markdown emphasis is dropped.
    assert!(
        task("1.7")
            .text
            .contains("phong trào thi đua \"Dân vận khéo\";")
    );
    // The last task stops before part III.
    assert!(
        task("2.6")
            .text
            .ends_with("tăng cường khối đại đoàn kết toàn dân.")
    );
    assert!(!c.tasks.iter().any(|t| t.text.contains("Nơi nhận")));
    assert_eq!(task("2.1").title, "Thường trực Hội đồng nhân dân thị xã");
    assert_eq!(task("2.5").title, "Các đơn vị lực lượng vũ trang");
    assert_eq!(
        task("1.10").title,
        "Tổ chức Hội nghị tổng kết thực hiện công tác dân vận năm 2023, triển khai nhiệm vụ năm 2024"
    );
    assert!(c.tasks[..10].iter().all(|t| t.addressee.is_none()));
    assert!(
        c.title
            .unwrap()
            .starts_with("KẾT LUẬN CỦA BAN THƯỜNG VỤ THỊ ỦY tại Hội nghị")
    );
}

#[test]
fn seed_tasks_are_assigned_by_names_and_groups() {
    let c = parse_conclusion(SEED).unwrap();
    let tree = UnitTree::sample();
    let units = |n: &str| {
        let t = c.tasks.iter().find(|t| t.number == n).unwrap();
        assign_units(t.addressee.as_deref().unwrap(), &tree, Some("duc-pho")).units
    };
    assert_eq!(units("2.1"), ["duc-pho-hdnd"]);
    assert_eq!(units("2.2"), ["duc-pho-ubnd"]);
    let mut expected: Vec<String> = vec!["duc-pho-mttq".into()];
    expected.extend(tree.group("doan-the").iter().map(|u| u.id.clone()));
    assert_eq!(units("2.3"), expected);
    let communes: Vec<String> = tree
        .units()
        .iter()
        .filter(|u| u.kind.is_commune_level())
        .map(|u| u.id.clone())
        .collect();
    assert_eq!(communes.len(), 15);
    assert_eq!(units("2.4"), communes);
    let llvt: Vec<String> = tree.group("llvt").iter().map(|u| u.id.clone()).collect();
    assert_eq!(units("2.5"), llvt);
    assert_eq!(units("2.6"), ["duc-pho-bcd-qcdc", "duc-pho-bcd-ton-giao"]);
}

#[test]
fn addressees_in_other_words() {
    check_assignment("UBND thị xã", &["duc-pho-ubnd"]);
    check_assignment("Hội Nông dân thị xã", &["duc-pho-hoi-nong-dan"]);
    check_assignment(
        "Các phường",
        &[
            "nguyen-nghiem",
            "pho-hoa",
            "pho-minh",
            "pho-ninh",
            "pho-quang",
            "pho-thanh",
            "pho-van",
            "pho-vinh",
        ],
    );
    check_assignment(
        "Công an thị xã và Ban Chỉ huy Quân sự thị xã",
        &["duc-pho-ban-chqs", "duc-pho-cong-an"],
    );
    let tree = UnitTree::sample();
    let a = assign_units("Sở Giáo dục và Đào tạo", &tree, Some("duc-pho"));
    assert!(a.units.is_empty());
    assert_eq!(a.unmatched, ["Sở Giáo dục và Đào tạo"]);
}

#[test]
fn markdown_conclusion_reads_the_same() {
    let md = "# Kết luận số 99\n\n## II. Nhiệm vụ\n\n**1.1.** Làm việc *thứ nhất*\nvẫn đoạn đó.\n\n**2.1. Ủy ban nhân dân thị xã:** làm việc thứ hai.\n\n- ý một\n- ý hai\n\nNơi nhận:\n- Lưu\n";
    let c = parse_conclusion(md).unwrap();
    assert_eq!(c.tasks.len(), 2);
    assert_eq!(c.tasks[0].text, "Làm việc thứ nhất vẫn đoạn đó.");
    assert_eq!(
        c.tasks[1].text,
        "Ủy ban nhân dân thị xã: làm việc thứ hai.\n- ý một\n- ý hai"
    );
    assert_eq!(
        c.tasks[1].addressee.as_deref(),
        Some("Ủy ban nhân dân thị xã")
    );
}

#[test]
fn text_without_numbered_items_is_refused() {
    assert!(matches!(
        parse_conclusion("Kết luận\n\nKhông có mục nào đánh số.\n\n1. Một đề mục\n"),
        Err(ReportError::NoNumberedItems)
    ));
    assert!(matches!(
        parse_conclusion("1.1. a\n\n1.1. b\n"),
        Err(ReportError::DuplicateNumber(n)) if n == "1.1"
    ));
}
