//! Printing for people: Vietnamese labels, aligned columns.

use danvan_model::{Record, UnitTree, vocab};
use danvan_node::{HistoryEntry, Node, Row, Shown};

pub(crate) fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn status_label(kind: &str, code: &str) -> String {
    let list: &[vocab::Choice] = match kind {
        "petition" => vocab::PETITION_STATUSES,
        "household" => vocab::HOUSEHOLD_STAGES,
        "progress" => vocab::PROGRESS_STATUSES,
        _ => &[],
    };
    let label = vocab::label(list, code);
    if label.is_empty() {
        code.to_string()
    } else {
        label.to_string()
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "activity" => "Hoạt động",
        "petition" => "Đơn, phản ánh",
        "household" => "Hộ GPMB",
        "task" => "Nhiệm vụ",
        "progress" => "Tiến độ",
        "model" => "Mô hình DVK",
        _ => "?",
    }
}

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        format!("{text:<width$}")
    } else {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    }
}

pub(crate) fn print_rows(node: &Node, rows: &[Row]) {
    if rows.is_empty() {
        println!("Không có hồ sơ nào phù hợp.");
        return;
    }
    println!(
        "{:<8}  {:<13}  {:<22}  {:<10}  {:<22}  TIÊU ĐỀ",
        "MÃ", "LOẠI", "ĐƠN VỊ", "NGÀY", "TRẠNG THÁI"
    );
    for r in rows {
        let mut conflict = if r.conflicts > 0 {
            " ⚠ có xung đột".to_string()
        } else {
            String::new()
        };
        if let Some(reason) = &r.refused {
            conflict.push_str(&format!(" ⚠ {}", not_accepted(reason)));
        }
        println!(
            "{:<8}  {}  {}  {:<10}  {}  {}{}",
            &r.id[..8],
            cut(kind_label(&r.kind), 13),
            cut(node.units().name(&r.unit), 22),
            r.date.as_deref().unwrap_or(""),
            cut(
                &r.status
                    .as_deref()
                    .map(|s| status_label(&r.kind, s))
                    .unwrap_or_default(),
                22
            ),
            visible(&r.title, false),
            conflict
        );
    }
    println!("({} hồ sơ)", rows.len());
}

fn line(label: &str, value: impl std::fmt::Display) {
    let text = value.to_string();
    if !text.is_empty() {
        // A field of several lines keeps its lines, indented under the value.
        let shown = visible(&text, true).replace('\n', &format!("\n  {:<26} ", ""));
        println!("  {label:<26} {shown}");
    }
}

/// Text typed by someone else, as a terminal may safely show it: control
/// characters (ANSI escapes, BEL, a newline that would break a row) and
/// the invisible direction marks and overrides that can make a terminal
/// show text other than what is stored are written out as `\u{…}`, so
/// the reader sees them instead of obeying them. `newlines`: a newline is
/// kept (a multi-line field in `show`), else shown too (a row of `list`).
pub(crate) fn visible(text: &str, newlines: bool) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        (c.is_control() && !(newlines && c == '\n'))
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn num(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

pub(crate) fn print_shown(node: &Node, shown: &Shown) {
    let units = node.units();
    let h = shown.record.header();
    println!("{} — mã {}", shown.record.kind().label_vi(), h.id);
    line("Đơn vị:", format!("{} ({})", units.name(&h.unit), h.unit));
    if let Some(p) = &h.project {
        line("Dự án:", vocab::label(vocab::PROJECTS, p));
    }
    match &shown.record {
        Record::Activity(a) => {
            line(
                "Loại:",
                vocab::label(vocab::ACTIVITY_TYPES, &a.activity_type),
            );
            line("Ngày:", &a.date);
            line("Tiêu đề:", &a.title);
            line("Địa điểm:", opt(&a.place));
            line("Tổ chức:", opt(&a.organizers));
            line("Số người tham dự:", num(a.attendance));
            line("Lượt công dân:", num(a.citizens));
            line("Vụ việc, ý kiến:", num(a.matters));
            line("Tóm tắt:", opt(&a.summary));
            line("Kết quả:", opt(&a.results));
        }
        Record::Petition(p) => {
            line(
                "Loại đơn:",
                vocab::label(vocab::PETITION_TYPES, &p.petition_type),
            );
            if p.petition_type == "khieu-nai" {
                line("Lần khiếu nại:", p.round);
            }
            line(
                "Hình thức:",
                vocab::label(vocab::PETITION_CHANNELS, &p.channel),
            );
            line("Ngày tiếp nhận:", &p.received);
            line("Công dân:", &p.citizen);
            line("Địa chỉ:", opt(&p.address));
            line("Số CCCD:", opt(&p.id_number));
            line("Nội dung:", &p.content);
            line("Lĩnh vực:", opt(&p.category));
            line(
                "Đơn vị giải quyết:",
                p.assigned_unit
                    .as_deref()
                    .map(|u| units.name(u))
                    .unwrap_or(""),
            );
            line(
                "Trạng thái:",
                vocab::label(vocab::PETITION_STATUSES, &p.status),
            );
            let mut flags = Vec::new();
            if p.complex {
                flags.push("vụ việc phức tạp");
            }
            if p.remote {
                flags.push("vùng sâu, vùng xa");
            }
            line(
                "Hạn giải quyết:",
                format!(
                    "{}{}",
                    p.deadline().unwrap_or_default(),
                    if flags.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", flags.join(", "))
                    }
                ),
            );
            line("Trả lời:", opt(&p.answer));
            line("Ngày giải quyết xong:", opt(&p.resolved));
        }
        Record::Household(hh) => {
            line("Chủ hộ:", &hh.head);
            line("Thôn:", opt(&hh.village));
            line(
                "Giai đoạn:",
                vocab::label(vocab::HOUSEHOLD_STAGES, &hh.stage),
            );
            if hh.objection_open() {
                line("Khiếu nại:", "đang có khiếu nại chưa giải quyết");
            }
            line(
                "Số tiền bồi thường:",
                hh.compensation_vnd
                    .map(danvan_model::money_vnd)
                    .unwrap_or_default(),
            );
            line("Kiểm đếm:", opt(&hh.inventory));
            for p in &hh.parcels {
                line(
                    "Thửa đất:",
                    format!(
                        "tờ {} thửa {}, {} m², loại {}",
                        p.sheet, p.number, p.area_m2, p.land_type
                    ),
                );
            }
            if !hh.visits.is_empty() {
                println!("  Các lần vận động:");
                for v in &hh.visits {
                    println!("    - {} — {}: {}", v.date, v.by, v.outcome);
                }
            }
            if !hh.stage_log.is_empty() {
                println!("  Diễn biến giai đoạn:");
                for e in &hh.stage_log {
                    let mark = if e.backwards {
                        "  ⚠ LÙI GIAI ĐOẠN"
                    } else {
                        ""
                    };
                    println!("    - {}: {} → {}{}", e.date, e.from, e.stage, mark);
                }
            }
            for o in &hh.objections {
                let what = if o.action == vocab::OBJECTION.0 {
                    "khiếu nại"
                } else {
                    "đã giải quyết khiếu nại"
                };
                println!(
                    "    - {}: {} (ở giai đoạn {}) {}",
                    o.date, what, o.stage, o.note
                );
            }
        }
        Record::Task(t) => {
            line("Số:", &t.number);
            line("Tiêu đề:", &t.title);
            line("Nguồn:", opt(&t.source));
            line("Nội dung:", opt(&t.text));
            line(
                "Giao cho:",
                t.assigned
                    .iter()
                    .map(|u| units.name(u))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            line("Thời hạn:", opt(&t.due));
        }
        Record::Progress(p) => {
            line("Nhiệm vụ:", &p.task);
            line("Kỳ:", &p.period);
            line(
                "Trạng thái:",
                vocab::label(vocab::PROGRESS_STATUSES, &p.status),
            );
            line("Nội dung:", &p.summary);
        }
        Record::Model(m) => {
            line("Tên mô hình:", &m.name);
            line("Lĩnh vực:", vocab::label(vocab::MODEL_FIELDS, &m.field));
            line("Năm công nhận:", m.year);
            line("Kết quả:", opt(&m.results));
        }
    }
    for c in &shown.conflicts {
        let values: Vec<String> = c.values.iter().map(|v| v.to_string()).collect();
        println!(
            "  ⚠ XUNG ĐỘT ở \"{}\": {} — chọn một giá trị bằng `danvan edit {} --set {}=…`",
            c.label_vi,
            values.join(" / "),
            &h.id[..8],
            c.field
        );
    }
    for r in &shown.refusals {
        println!(
            "  ⚠ {} (nút {} từ chối thay đổi {})",
            not_accepted(&r.reason),
            &r.peer[..8],
            &r.hash[..12]
        );
    }
}

/// How a record with refused work is marked in `show` and `list`.
pub(crate) fn not_accepted(reason: &str) -> String {
    format!("chưa được chấp nhận: {reason}")
}

pub(crate) fn print_history(entries: &[HistoryEntry]) {
    println!("Lịch sử theo thứ tự nhân quả (giờ là giờ trên máy ghi, có thể sai):");
    for e in entries {
        let when = time::OffsetDateTime::from_unix_timestamp(e.device_time / 1000)
            .map(|t| {
                let t = t + time::Duration::hours(7);
                format!(
                    "{} {:02}:{:02}",
                    danvan_model::format_date(t.date()),
                    t.hour(),
                    t.minute()
                )
            })
            .unwrap_or_default();
        let after = if e.deps.is_empty() {
            String::new()
        } else {
            format!(" (sau {})", e.deps.join(", "))
        };
        println!(
            "{:>3}. nút {} — {} — {} [{}]{}",
            e.n, e.author, when, e.message, e.hash, after
        );
    }
}

pub(crate) fn print_conflicts(all: &[Shown]) {
    if all.is_empty() {
        println!("Không có xung đột.");
        return;
    }
    for s in all {
        let h = s.record.header();
        println!(
            "{} {} — {}",
            &h.id[..8],
            s.record.kind().label_vi(),
            s.record.summary().title
        );
        for c in &s.conflicts {
            let values: Vec<String> = c.values.iter().map(|v| v.to_string()).collect();
            println!("   {} ({}): {}", c.label_vi, c.field, values.join(" / "));
        }
    }
    println!("Chọn giá trị đúng bằng `danvan edit MÃ --set TRƯỜNG=GIÁ_TRỊ`.");
    let masked = all
        .iter()
        .flat_map(|s| &s.conflicts)
        .any(|c| c.field == "id_number");
    if masked {
        println!(
            "Số CCCD được che trong danh sách; máy được ghi hồ sơ xem đầy đủ bằng `danvan show MÃ`."
        );
    }
}

/// The unit tree as it stands on `day`, each former unit with the unit its
/// records are read under since its end, and every dated change (those not
/// yet in force marked so).
pub(crate) fn print_units(all: &UnitTree, day: time::Date, json: bool) {
    let view = all.as_of(day);
    let listed: Vec<(usize, &danvan_model::Unit)> = view
        .render()
        .into_iter()
        .filter(|(_, u)| u.exists_on(day))
        .collect();
    let mapping = view.mapping();
    let date = |d: Option<time::Date>| d.map(danvan_model::format_date);
    if json {
        let units: Vec<serde_json::Value> = listed
            .iter()
            .map(|(_, u)| {
                serde_json::json!({
                    "id": u.id, "name": u.name, "kind": u.kind.code(), "code": u.code,
                    "parent": u.parent, "group": u.group, "since": date(u.since),
                })
            })
            .collect();
        let mapping: Vec<serde_json::Value> = mapping
            .iter()
            .map(|(old, new)| {
                serde_json::json!({
                    "old": old.id, "old_name": old.name, "new": new.id, "new_name": new.name,
                    "new_code": new.code, "since": date(old.until),
                })
            })
            .collect();
        let changes: Vec<serde_json::Value> = all
            .changes()
            .iter()
            .map(|c| {
                serde_json::json!({
                    "date": danvan_model::format_date(c.date),
                    "in_force": c.date <= day,
                    "text": all.describe_change(c),
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "on": danvan_model::format_date(day),
            "units": units,
            "mapping": mapping,
            "changes": changes,
        }));
        return;
    }
    println!("Cây đơn vị ngày {}:", danvan_model::vi_date(day));
    for (depth, u) in &listed {
        let code = u
            .code
            .as_deref()
            .map(|c| format!(" (mã {})", visible(c, false)))
            .unwrap_or_default();
        println!(
            "{}{} [{}]{code}",
            "  ".repeat(*depth),
            visible(&u.name, false),
            visible(&u.id, false)
        );
    }
    if !mapping.is_empty() {
        println!();
        println!("Đơn vị cũ → đơn vị mới (hồ sơ cũ giữ đơn vị cũ, được đọc dưới đơn vị mới):");
        for (old, new) in &mapping {
            let since = old
                .until
                .map(|d| format!(", từ ngày {}", danvan_model::vi_date(d)))
                .unwrap_or_default();
            println!(
                "  {} [{}] → {} [{}]{since}",
                visible(&old.name, false),
                visible(&old.id, false),
                visible(&new.name, false),
                visible(&new.id, false)
            );
        }
    }
    if !all.changes().is_empty() {
        println!();
        println!("Các thay đổi đơn vị:");
        for change in all.changes() {
            let pending = if change.date > day {
                " (chưa có hiệu lực)"
            } else {
                ""
            };
            println!(
                "  {}{pending}",
                visible(&all.describe_change(change), false)
            );
        }
    }
}

/// A moment (Unix milliseconds) as an officer reads it: dd/mm/yyyy HH:MM,
/// Vietnam time (UTC+7).
pub(crate) fn local_time(ms: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000).ok()? + time::Duration::hours(7);
    Some(format!(
        "{} {:02}:{:02}",
        danvan_model::format_date(t.date()),
        t.hour(),
        t.minute()
    ))
}

pub(crate) fn print_peers(node: &Node, peers: &[danvan_node::PeerRow]) {
    if peers.is_empty() {
        println!("Chưa đồng bộ với nút nào.");
        return;
    }
    let names: std::collections::HashMap<String, String> = node
        .trusted()
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.id.to_string(), t.name.or(t.addr).unwrap_or_default()))
        .collect();
    println!(
        "{:<8}  {:<20}  {:<16}  {:>8}  {:>8}  {:>10}  {:>10}  {:>8}",
        "NÚT", "TÊN", "LẦN CUỐI", "ĐÃ GỬI", "ĐÃ NHẬN", "BYTE GỬI", "BYTE NHẬN", "CÒN THIẾU"
    );
    for p in peers {
        let when = p
            .last_sync
            .and_then(local_time)
            .unwrap_or_else(|| "chưa".into());
        println!(
            "{:<8}  {}  {:<16}  {:>8}  {:>8}  {:>10}  {:>10}  {:>8}",
            &p.peer[..8],
            cut(names.get(&p.peer).map(String::as_str).unwrap_or(""), 20),
            when,
            p.sent,
            p.received,
            p.bytes_sent,
            p.bytes_received,
            p.behind
        );
    }
}
pub(crate) fn print_task_import(node: &Node, r: &danvan_node::TaskImport) {
    println!(
        "Đã tạo {} nhiệm vụ từ \"{}\" ({} nhiệm vụ đã có, bỏ qua{}).",
        r.created.len(),
        r.source,
        r.existing.len(),
        if r.existing.is_empty() {
            String::new()
        } else {
            format!(": {}", r.existing.join(", "))
        }
    );
    let assigned: Vec<&danvan_node::ImportedTask> = r
        .created
        .iter()
        .filter(|t| !t.assigned.is_empty())
        .collect();
    if !assigned.is_empty() {
        println!("Giao đơn vị:");
        for t in assigned {
            let names: Vec<&str> = t.assigned.iter().map(|u| node.units().name(u)).collect();
            println!("  {} {} → {}", t.number, t.title, names.join("; "));
        }
    }
    if !r.unassigned.is_empty() {
        println!(
            "Chưa giao được đơn vị (giao bằng lệnh `danvan edit` hoặc nhập lại sau khi sửa văn bản):"
        );
        for t in &r.unassigned {
            match &t.unmatched {
                None => println!(
                    "  {} {} — nhiệm vụ chung, tiêu đề không nêu đơn vị",
                    t.number, t.title
                ),
                Some(u) => println!(
                    "  {} — không tìm thấy đơn vị nào khớp \"{u}\" trong cây đơn vị",
                    t.number
                ),
            }
        }
    }
}

pub(crate) fn print_due(d: &danvan_report::DueList) {
    println!(
        "Việc đến hạn tính đến ngày {} (kỳ {}):",
        vi(&d.today),
        d.period
    );
    println!(
        "\n1. Đơn, thư quá hạn hoặc đến hạn trong {} ngày: {}",
        d.within_days,
        d.petitions.len()
    );
    for p in &d.petitions {
        let when = if p.overdue {
            format!("QUÁ HẠN {} ngày", -p.days_left)
        } else {
            format!("còn {} ngày", p.days_left)
        };
        println!(
            "  {}  {:<24}  {}  nhận {}  hạn {}  {}  [{}]",
            &p.id[..SHORT.min(p.id.len())],
            cut(&p.unit_name, 24),
            cut(&p.citizen, 20),
            vi(&p.received),
            vi(&p.deadline),
            when,
            p.petition_type
        );
    }
    println!(
        "\n2. Nhiệm vụ chưa có báo cáo tiến độ kỳ {}: {}",
        d.period,
        d.tasks.len()
    );
    for t in &d.tasks {
        println!("  {} {}  —  {}", t.number, cut(&t.title, 50), t.unit_name);
    }
    println!(
        "\n3. Hộ chưa bàn giao, không được vận động trong {} ngày: {}",
        d.stale_days,
        d.households.len()
    );
    for h in &d.households {
        let last = match (&h.last_visit, h.days_since_visit) {
            (Some(day), Some(n)) => format!("lần cuối {} ({n} ngày)", vi(day)),
            _ => "chưa có lần vận động nào".to_string(),
        };
        println!(
            "  {}  {:<24}  {}  {}  {}",
            &h.id[..SHORT.min(h.id.len())],
            cut(&h.unit_name, 24),
            cut(&h.head, 20),
            h.stage_label,
            last
        );
    }
}

const SHORT: usize = danvan_model::SHORT_ID_LEN;

fn vi(day: &str) -> String {
    danvan_model::parse_date(day)
        .map(danvan_model::vi_date)
        .unwrap_or_else(|_| day.to_string())
}
