//! The report laid out as parts, sections and tables, once, for every
//! renderer: the same rows end up in Markdown, CSV, xlsx and HTML.

use danvan_model::vocab;

use crate::figures::{LandFigures, PetitionFigures, Report};
use crate::format::{dec, int, pct, vi_day};

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    Text(String),
    Int(i64),
    /// Square metres, one decimal.
    Area(f64),
    /// Percent, one decimal.
    Pct(f64),
}

impl Cell {
    /// As Vietnamese documents write it.
    pub(crate) fn display(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => int(*n),
            Cell::Area(x) => dec(*x),
            Cell::Pct(x) => pct(*x),
        }
    }

    /// Plain, for machines: digits and a decimal point.
    pub(crate) fn plain(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Area(x) | Cell::Pct(x) => format!("{x:.1}"),
        }
    }
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn n(v: u64) -> Cell {
    Cell::Int(v as i64)
}

/// A table with a title, headers, rows and an optional total row.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    pub(crate) title: String,
    pub(crate) headers: Vec<String>,
    pub(crate) rows: Vec<Vec<Cell>>,
    pub(crate) total: Option<Vec<Cell>>,
}

/// A numbered section of part I, which is also one sheet of the workbook.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub(crate) heading: String,
    pub(crate) sheet: &'static str,
    pub(crate) tables: Vec<Table>,
}

/// The report as laid out.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub(crate) title: String,
    pub(crate) meta: Vec<(String, String)>,
    pub(crate) results: Vec<String>,
    pub(crate) sections: Vec<Section>,
    pub(crate) shortcomings: Vec<String>,
    pub(crate) solutions: Vec<String>,
}

impl Layout {
    /// Parts II and III: each its heading and its sentences, in order.
    pub(crate) fn closing_parts(&self) -> [(&'static str, &[String]); 2] {
        [(PART_II, &self.shortcomings), (PART_III, &self.solutions)]
    }
}

pub(crate) const PART_I: &str = "I. KẾT QUẢ ĐẠT ĐƯỢC";
pub(crate) const PART_II: &str = "II. TỒN TẠI, HẠN CHẾ";
pub(crate) const PART_III: &str = "III. NHIỆM VỤ, GIẢI PHÁP";
pub(crate) const SUMMARY_SHEET: &str = "Tổng hợp";
pub(crate) const TOTAL: &str = "Tổng cộng";

/// A table's rows: one per item, its cells as `cells` lays them out.
fn rows<T>(items: &[T], cells: impl Fn(&T) -> Vec<Cell>) -> Vec<Vec<Cell>> {
    items.iter().map(cells).collect()
}

/// Owned header strings.
fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn petition_headers(first: &str) -> Vec<String> {
    strings(&[
        first,
        "Tiếp nhận",
        "Đã giải quyết",
        "Giải quyết đúng hạn",
        "Giải quyết trễ hạn",
        "Đang giải quyết, trong hạn",
        "Quá hạn, chưa giải quyết",
    ])
}

/// A petition table: a row per category or unit, then the total.
fn petition_table<'a>(
    title: &str,
    first_header: &str,
    rows: impl Iterator<Item = (&'a str, &'a PetitionFigures)>,
    total: &PetitionFigures,
) -> Table {
    Table {
        title: title.into(),
        headers: petition_headers(first_header),
        rows: rows
            .map(|(name, f)| petition_cells(text(name), f))
            .collect(),
        total: Some(petition_cells(text(TOTAL), total)),
    }
}

fn petition_cells(first: Cell, f: &PetitionFigures) -> Vec<Cell> {
    vec![
        first,
        n(f.received),
        n(f.resolved),
        n(f.resolved_on_time),
        n(f.resolved_late),
        n(f.open_in_time),
        n(f.overdue),
    ]
}

fn land_headers() -> Vec<String> {
    let mut h = vec!["Đơn vị".to_string(), "Số hộ bị ảnh hưởng".to_string()];
    h.extend(vocab::HOUSEHOLD_STAGES.iter().map(|(_, l)| l.to_string()));
    h.extend(strings(&[
        "Hộ còn khiếu nại",
        "Lượt vận động trong kỳ",
        "Tổng diện tích (m²)",
        "Diện tích đã bàn giao (m²)",
        "Tỷ lệ diện tích đã bàn giao",
    ]));
    h
}

fn land_cells(first: Cell, f: &LandFigures) -> Vec<Cell> {
    let mut c = vec![first, n(f.households)];
    c.extend(f.stages.iter().map(|s| n(s.count)));
    c.extend([
        n(f.objections_open),
        n(f.visits),
        Cell::Area(f.area_m2),
        Cell::Area(f.handed_over_m2),
        Cell::Pct(f.handed_over_pct),
    ]);
    c
}

/// Lays a report out.
pub(crate) fn layout(r: &Report) -> Layout {
    let title = format!(
        "BÁO CÁO KẾT QUẢ CÔNG TÁC DÂN VẬN {}",
        r.period_label.to_uppercase()
    );
    let mut meta = vec![
        ("Đơn vị".to_string(), r.unit_name.clone()),
        (
            "Kỳ báo cáo".to_string(),
            format!(
                "{} (từ ngày {} đến ngày {})",
                r.period_label,
                vi_day(&r.period_start),
                vi_day(&r.period_end)
            ),
        ),
        ("Số liệu tính đến ngày".to_string(), vi_day(&r.today)),
    ];
    meta.extend(
        r.unit_changes
            .iter()
            .map(|line| ("Sắp xếp đơn vị hành chính".to_string(), line.clone())),
    );

    // 1. Activities.
    let a = &r.activities;
    let by_type = Table {
        title: "Bảng 1a. Hoạt động dân vận theo loại".into(),
        headers: vec![
            "Loại hoạt động".into(),
            "Số hoạt động".into(),
            "Số lượt người tham dự".into(),
        ],
        rows: rows(&a.by_type, |t| {
            vec![text(&t.label), n(t.count), Cell::Int(t.attendance)]
        }),
        total: Some(vec![text(TOTAL), n(a.total), Cell::Int(a.attendance)]),
    };
    let act_unit_cells = |first: Cell,
                          count: u64,
                          attendance: i64,
                          receptions: u64,
                          citizens: i64,
                          dialogues: u64,
                          matters: i64| {
        vec![
            first,
            n(count),
            Cell::Int(attendance),
            n(receptions),
            Cell::Int(citizens),
            n(dialogues),
            Cell::Int(matters),
        ]
    };
    let by_unit = Table {
        title: "Bảng 1b. Hoạt động dân vận theo đơn vị".into(),
        headers: strings(&[
            "Đơn vị",
            "Số hoạt động",
            "Số lượt người tham dự",
            "Số buổi tiếp công dân",
            "Số lượt công dân được tiếp",
            "Số buổi đối thoại trực tiếp",
            "Số vụ việc, ý kiến nêu tại đối thoại",
        ]),
        rows: rows(&a.by_unit, |u| {
            act_unit_cells(
                text(&u.unit_name),
                u.count,
                u.attendance,
                u.receptions,
                u.citizens,
                u.dialogues,
                u.dialogue_matters,
            )
        }),
        total: Some(act_unit_cells(
            text(TOTAL),
            a.total,
            a.attendance,
            a.receptions,
            a.citizens,
            a.dialogues,
            a.dialogue_matters,
        )),
    };

    // 2. Petitions.
    let p = &r.petitions;
    let pet_category = petition_table(
        "Bảng 2a. Phản ánh, kiến nghị, khiếu nại, tố cáo theo lĩnh vực",
        "Lĩnh vực",
        p.by_category
            .iter()
            .map(|c| (c.category.as_str(), &c.figures)),
        &p.total,
    );
    let pet_unit = petition_table(
        "Bảng 2b. Phản ánh, kiến nghị, khiếu nại, tố cáo theo đơn vị",
        "Đơn vị",
        p.by_unit.iter().map(|u| (u.unit_name.as_str(), &u.figures)),
        &p.total,
    );
    let pet_month = Table {
        title: "Bảng 2c. Tiếp nhận và giải quyết theo tháng".into(),
        headers: vec!["Tháng".into(), "Tiếp nhận".into(), "Đã giải quyết".into()],
        rows: rows(&p.by_month, |m| {
            vec![text(&m.label), n(m.received), n(m.resolved)]
        }),
        total: Some(vec![
            text(TOTAL),
            n(p.by_month.iter().map(|m| m.received).sum()),
            n(p.by_month.iter().map(|m| m.resolved).sum()),
        ]),
    };
    let pet_overdue = Table {
        title: format!(
            "Bảng 2d. Đơn, thư quá hạn chưa giải quyết (tính đến ngày {})",
            vi_day(&r.today)
        ),
        headers: strings(&[
            "Đơn vị",
            "Loại đơn",
            "Lĩnh vực",
            "Ngày tiếp nhận",
            "Hạn giải quyết",
            "Số ngày quá hạn",
        ]),
        rows: rows(&p.overdue, |o| {
            vec![
                text(&o.unit_name),
                text(&o.petition_type),
                text(&o.category),
                text(vi_day(&o.received)),
                text(vi_day(&o.deadline)),
                Cell::Int(o.days_overdue),
            ]
        }),
        total: None,
    };

    // 3. Land clearance.
    let land_tables: Vec<Table> = r
        .land
        .projects
        .iter()
        .enumerate()
        .map(|(i, project)| Table {
            title: format!(
                "Bảng 3{}. {} (tình hình đến ngày {})",
                (b'a' + (i % 26) as u8) as char,
                project.label,
                vi_day(&r.today)
            ),
            headers: land_headers(),
            rows: rows(&project.by_unit, |u| {
                land_cells(text(&u.unit_name), &u.figures)
            }),
            total: Some(land_cells(text(TOTAL), &project.total)),
        })
        .collect();

    // 4. Models.
    let m = &r.models;
    let mut model_headers = vec!["Đơn vị".to_string()];
    model_headers.extend(m.fields.iter().cloned());
    model_headers.push("Tổng số mô hình".into());
    let model_cells = |first: Cell, by_field: &[u64], total: u64| {
        let mut c = vec![first];
        c.extend(by_field.iter().map(|v| n(*v)));
        c.push(n(total));
        c
    };
    let model_unit = Table {
        title: "Bảng 4a. Mô hình \"Dân vận khéo\" theo lĩnh vực và đơn vị".into(),
        headers: model_headers,
        rows: rows(&m.by_unit, |u| {
            model_cells(text(&u.unit_name), &u.by_field, u.total)
        }),
        total: Some(model_cells(text(TOTAL), &m.by_field, m.total)),
    };
    let model_list = Table {
        title: "Bảng 4b. Danh sách mô hình \"Dân vận khéo\"".into(),
        headers: strings(&["Tên mô hình", "Đơn vị", "Lĩnh vực", "Năm công nhận"]),
        rows: rows(&m.list, |x| {
            vec![
                text(&x.name),
                text(&x.unit_name),
                text(&x.field),
                text(x.year.to_string()),
            ]
        }),
        total: None,
    };

    // 5. Tasks.
    let t = &r.tasks;
    let mut task_rows = Vec::new();
    for task in &t.tasks {
        for a in &task.assigned {
            task_rows.push(vec![
                text(&task.number),
                text(&task.title),
                text(&a.unit_name),
                text(&a.status_label),
                text(a.progress_period.clone().unwrap_or_default()),
                text(a.summary.clone().unwrap_or_default()),
            ]);
        }
    }
    let task_table = Table {
        title: "Bảng 5. Tiến độ thực hiện nhiệm vụ theo kết luận".into(),
        headers: strings(&[
            "Số",
            "Nhiệm vụ",
            "Đơn vị được giao",
            "Tình hình thực hiện",
            "Kỳ báo cáo",
            "Nội dung báo cáo",
        ]),
        rows: task_rows,
        total: Some(vec![
            text(TOTAL),
            text(format!("{} nhiệm vụ", t.tasks.len())),
            text(format!("{} lượt đơn vị", t.assignments)),
            text(format!(
                "{} đã báo cáo, {} hoàn thành, {} chưa báo cáo",
                t.reported, t.completed, t.not_reported
            )),
            text(""),
            text(""),
        ]),
    };

    Layout {
        title,
        meta,
        results: r.results.clone(),
        sections: vec![
            Section {
                heading: "1. Hoạt động dân vận, tiếp công dân, đối thoại trực tiếp".into(),
                sheet: "Hoạt động",
                tables: vec![by_type, by_unit],
            },
            Section {
                heading: "2. Tiếp nhận, giải quyết phản ánh, kiến nghị, khiếu nại, tố cáo".into(),
                sheet: "Đơn thư",
                tables: vec![pet_category, pet_unit, pet_month, pet_overdue],
            },
            Section {
                heading: "3. Công tác tuyên truyền, vận động giải phóng mặt bằng".into(),
                sheet: "GPMB",
                tables: land_tables,
            },
            Section {
                heading: "4. Phong trào thi đua \"Dân vận khéo\"".into(),
                sheet: "Dân vận khéo",
                tables: vec![model_unit, model_list],
            },
            Section {
                heading: "5. Thực hiện nhiệm vụ theo kết luận của Ban Thường vụ".into(),
                sheet: "Nhiệm vụ",
                tables: vec![task_table],
            },
        ],
        shortcomings: r.shortcomings.clone(),
        solutions: r.solutions.clone(),
    }
}
