//! How record values read on the browsing pages: a field's Vietnamese
//! label, a stored value by its type (codes by label, dates dd/mm/yyyy,
//! money with separators, units by name), today in Vietnam time, and the
//! period choices the filters offer.

use danvan_model::{FieldType, Kind, Period, UnitTree, vocab};
use serde_json::Value;

use crate::fmt;

/// Today in Vietnam (UTC+7): "this period" and deadlines count from it.
pub(crate) fn today_vn() -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(7)).date()
}

/// The half-year containing today, the default period of the pages.
pub(crate) fn current_period() -> Period {
    Period::half_of(today_vn())
}

/// Periods offered in the selects: the halves and years around today,
/// newest first. Any other period can still be typed into the address.
pub(crate) fn period_choices() -> Vec<(String, String)> {
    let year = today_vn().year();
    let mut out = Vec::new();
    for y in (year - 2..=year).rev() {
        for code in [format!("{y}-H2"), format!("{y}-H1"), format!("{y}")] {
            if let Ok(p) = code.parse::<Period>() {
                out.push((code, p.label_vi()));
            }
        }
    }
    out
}

/// The label of a record field, editable or not.
pub(crate) fn field_label(kind: Kind, field: &str) -> String {
    if let Ok(spec) = danvan_model::field_spec(kind, field) {
        return capitalize(spec.label_vi);
    }
    let label = match field {
        "header" => "Thông tin chung",
        "stage" => "Giai đoạn",
        "stage_log" => "Chuyển giai đoạn",
        "visits" => "Lần vận động",
        "objections" => "Khiếu nại",
        "parcels" => "Thửa đất",
        "assigned" => "Đơn vị được giao",
        "petitions" => "Đơn thư liên quan",
        "tasks" => "Nhiệm vụ liên quan",
        "task" => "Nhiệm vụ",
        "period" => "Kỳ báo cáo",
        "status" => "Trạng thái",
        _ => field,
    };
    label.to_string()
}

pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A field's value as a reader sees it.
pub(crate) fn field_value(units: &UnitTree, kind: Kind, field: &str, value: &Value) -> String {
    match value {
        Value::Null => return "—".into(),
        Value::Array(items) if items.is_empty() => return "—".into(),
        _ => {}
    }
    let text = value.as_str();
    if let Ok(spec) = danvan_model::field_spec(kind, field) {
        return match (spec.ty, value) {
            (FieldType::Choice(choices), Value::String(code)) => fmt::label(choices, code),
            (FieldType::Date { .. }, Value::String(d)) => fmt::date(d),
            (FieldType::Money, Value::Number(n)) => fmt::money(n.as_i64().unwrap_or(0)),
            (FieldType::Count, Value::Number(n)) => fmt::thousands(n.as_i64().unwrap_or(0)),
            (FieldType::Bool, Value::Bool(b)) => if *b { "Có" } else { "Không" }.into(),
            (FieldType::Unit, Value::String(u)) => units.name(u).to_string(),
            _ => plain(value),
        };
    }
    match (field, text) {
        ("stage", Some(code)) => fmt::label(vocab::HOUSEHOLD_STAGES, code),
        ("status", Some(code)) if kind == Kind::Progress => {
            fmt::label(vocab::PROGRESS_STATUSES, code)
        }
        ("header", _) => "tạo hồ sơ".into(),
        (_, _) => match value {
            Value::Array(items) => {
                if items.iter().all(Value::is_string) {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|u| units.get(u).map(|x| x.name.as_str()).unwrap_or(u))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    format!("{} mục", items.len())
                }
            }
            other => plain(other),
        },
    }
}

/// The text `edit` accepts for a stored value: how a chosen conflict value
/// is posted back.
pub(crate) fn edit_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "co".into(),
        Value::Bool(false) => "khong".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "Có" } else { "Không" }.into(),
        other => other.to_string(),
    }
}

/// The label of a record's status or stage code, whatever its kind.
pub(crate) fn status_label(kind: &str, code: &str) -> String {
    let table = match kind {
        "petition" => vocab::PETITION_STATUSES,
        "household" => vocab::HOUSEHOLD_STAGES,
        "progress" => vocab::PROGRESS_STATUSES,
        _ => return code.to_string(),
    };
    fmt::label(table, code)
}

/// The Vietnamese name of a kind code.
pub(crate) fn kind_label(code: &str) -> &'static str {
    Kind::parse(code).map(Kind::label_vi).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_by_their_field_type() {
        let units = UnitTree::sample();
        let v = |k, f, j: Value| field_value(&units, k, f, &j);
        assert_eq!(
            v(Kind::Household, "compensation_vnd", 850_000_000.into()),
            "850.000.000 đ"
        );
        assert_eq!(
            v(Kind::Petition, "received", "2023-07-17".into()),
            "17/07/2023"
        );
        assert_eq!(v(Kind::Petition, "complex", true.into()), "Có");
        assert_eq!(
            v(Kind::Household, "stage", "kiem-dem".into()),
            "Đã kiểm đếm"
        );
        assert_eq!(
            v(Kind::Petition, "assigned_unit", "duc-pho".into()),
            units.name("duc-pho")
        );
        assert_eq!(v(Kind::Petition, "answer", Value::Null), "—");
        assert_eq!(edit_text(&Value::Bool(true)), "co");
        assert_eq!(edit_text(&serde_json::json!(12)), "12");
        assert_eq!(field_label(Kind::Household, "head"), "Chủ hộ");
    }
}
