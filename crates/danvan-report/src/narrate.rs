//! Parts I, II and III of a report (results, shortcomings, tasks and
//! solutions), written as sentences from the finished figures. Reads only
//! the figures, so the sentences can never disagree with the tables.

use danvan_model::vocab;

use crate::figures::Report;
use crate::format::{dec, int, pct, round, vi_day};

fn join_counts(items: &[(String, u64)]) -> String {
    items
        .iter()
        .map(|(name, n)| format!("{name} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Counts per name, in first-seen order.
fn tally<'a>(names: impl Iterator<Item = &'a str>) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for name in names {
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, c)) => *c += 1,
            None => out.push((name.to_string(), 1)),
        }
    }
    out
}

/// Writes parts I, II and III of a report from its figures.
pub(crate) fn narrate(r: &mut Report) {
    let a = &r.activities;
    let p = &r.petitions.total;
    let today = vi_day(&r.today);
    let mut results = Vec::new();
    let mut shortcomings = Vec::new();
    let mut solutions = Vec::new();

    results.push(format!(
        "Các cơ quan, đơn vị, địa phương tổ chức {} hoạt động dân vận với {} lượt người tham dự; \
         trong đó {} buổi tiếp công dân, tiếp {} lượt công dân; {} buổi đối thoại trực tiếp với Nhân dân, \
         với {} vụ việc, ý kiến được nêu.",
        int(a.total as i64),
        int(a.attendance),
        int(a.receptions as i64),
        int(a.citizens),
        int(a.dialogues as i64),
        int(a.dialogue_matters),
    ));
    let on_time_pct = if p.resolved > 0 {
        format!(
            " ({} số vụ việc đã giải quyết)",
            pct(round(
                p.resolved_on_time as f64 * 100.0 / p.resolved as f64,
                1
            ))
        )
    } else {
        String::new()
    };
    results.push(format!(
        "Tiếp nhận {} phản ánh, kiến nghị, khiếu nại, tố cáo; giải quyết {} vụ việc, trong đó {} vụ việc \
         đúng thời hạn luật định{on_time_pct}.",
        int(p.received as i64),
        int(p.resolved as i64),
        int(p.resolved_on_time as i64),
    ));
    for project in &r.land.projects {
        let t = &project.total;
        results.push(format!(
            "{}: {} hộ bị ảnh hưởng; đã bàn giao mặt bằng {} hộ với {} m², đạt {} tổng diện tích \
             ({} m²); thực hiện {} lượt vận động trong kỳ.",
            project.label,
            int(t.households as i64),
            int(t.at(vocab::STAGE_HANDED_OVER) as i64),
            dec(t.handed_over_m2),
            pct(t.handed_over_pct),
            dec(t.area_m2),
            int(t.visits as i64),
        ));
    }
    let fields: Vec<String> = r
        .models
        .fields
        .iter()
        .zip(&r.models.by_field)
        .filter(|(_, n)| **n > 0)
        .map(|(f, n)| format!("{n} mô hình lĩnh vực {}", f.to_lowercase()))
        .collect();
    results.push(if fields.is_empty() {
        "Chưa có mô hình \"Dân vận khéo\" nào được công nhận trong kỳ.".to_string()
    } else {
        format!(
            "Có {} mô hình \"Dân vận khéo\" được công nhận, gồm {}.",
            r.models.total,
            fields.join(", ")
        )
    });
    let t = &r.tasks;
    results.push(format!(
        "Thực hiện các kết luận: {} nhiệm vụ, {} lượt đơn vị được giao; {} lượt đã báo cáo tiến độ, \
         {} lượt hoàn thành.",
        t.tasks.len(),
        t.assignments,
        t.reported,
        t.completed,
    ));

    // II and III.
    if p.overdue > 0 {
        let by_unit = tally(r.petitions.overdue.iter().map(|o| o.unit_name.as_str()));
        shortcomings.push(format!(
            "Còn {} đơn, thư quá hạn giải quyết theo quy định (tính đến ngày {today}): {}.",
            p.overdue,
            join_counts(&by_unit)
        ));
        let names: Vec<String> = by_unit.iter().map(|(n, _)| n.clone()).collect();
        solutions.push(format!(
            "Tập trung giải quyết dứt điểm {} đơn, thư quá hạn, trước hết tại {}; trả lời công dân \
             bằng văn bản theo đúng quy định.",
            p.overdue,
            names.join(", ")
        ));
    }
    if p.resolved_late > 0 {
        shortcomings.push(format!(
            "Có {} vụ việc được giải quyết chậm so với thời hạn luật định.",
            p.resolved_late
        ));
    }
    let mut silent_units: Vec<(String, String)> = Vec::new();
    let mut unfinished: Vec<String> = Vec::new();
    let mut silent_lines = Vec::new();
    for task in &t.tasks {
        let silent: Vec<&str> = task
            .assigned
            .iter()
            .filter(|a| a.status.is_none())
            .map(|a| a.unit_name.as_str())
            .collect();
        if !silent.is_empty() {
            silent_lines.push(format!("nhiệm vụ {}: {}", task.number, silent.join(", ")));
        }
        for a in task.assigned.iter().filter(|a| a.status.is_none()) {
            if !silent_units.iter().any(|(u, _)| u == &a.unit) {
                silent_units.push((a.unit.clone(), a.unit_name.clone()));
            }
        }
        if task
            .assigned
            .iter()
            .any(|a| a.status.as_deref() != Some(vocab::PROGRESS_DONE))
        {
            unfinished.push(task.number.clone());
        }
    }
    if t.not_reported > 0 {
        shortcomings.push(format!(
            "Còn {} lượt đơn vị chưa báo cáo tiến độ thực hiện nhiệm vụ trong kỳ: {}.",
            t.not_reported,
            silent_lines.join("; ")
        ));
        let names: Vec<&str> = silent_units.iter().map(|(_, n)| n.as_str()).collect();
        solutions.push(format!(
            "Đôn đốc {} báo cáo tiến độ thực hiện nhiệm vụ về Ban Thường vụ Thị ủy (qua Ban Dân vận Thị ủy).",
            names.join(", ")
        ));
    }
    if !unfinished.is_empty() {
        solutions.push(format!(
            "Tiếp tục triển khai các nhiệm vụ chưa hoàn thành: {}.",
            unfinished.join(", ")
        ));
    }
    for project in &r.land.projects {
        let total = &project.total;
        if total.objections_open > 0 {
            let by_unit: Vec<(String, u64)> = project
                .by_unit
                .iter()
                .filter(|u| u.figures.objections_open > 0)
                .map(|u| (u.unit_name.clone(), u.figures.objections_open))
                .collect();
            shortcomings.push(format!(
                "{}: còn {} hộ khiếu nại chưa được giải quyết: {}.",
                project.label,
                total.objections_open,
                join_counts(&by_unit)
            ));
            solutions.push(format!(
                "Tăng cường tuyên truyền, vận động, đối thoại với {} hộ đang khiếu nại thuộc {}; \
                 phối hợp giải quyết kịp thời, không để phát sinh \"điểm nóng\".",
                total.objections_open, project.label
            ));
        }
        let pending = total.households - total.at(vocab::STAGE_HANDED_OVER);
        if pending > 0 {
            shortcomings.push(format!(
                "{}: còn {} hộ chưa bàn giao mặt bằng ({} diện tích chưa bàn giao).",
                project.label,
                pending,
                pct(round(100.0 - total.handed_over_pct, 1))
            ));
            solutions.push(format!(
                "Đẩy nhanh tiến độ bàn giao mặt bằng {} đối với {} hộ còn lại.",
                project.label, pending
            ));
        }
    }
    if shortcomings.is_empty() {
        shortcomings.push("Số liệu trong kỳ chưa cho thấy tồn tại, hạn chế nổi bật.".to_string());
    }
    if solutions.is_empty() {
        solutions.push("Tiếp tục duy trì, phát huy kết quả đạt được.".to_string());
    }
    r.results = results;
    r.shortcomings = shortcomings;
    r.solutions = solutions;
}
