//! The fields `edit --set` may change, and how the text a user types for
//! one is read. Nothing here writes a document.

use automerge::ScalarValue;

use super::{Kind, RecordError};
use crate::vocab::{self, Choice};

/// How a field's text is read.
#[derive(Clone, Copy, Debug)]
pub enum FieldType {
    /// Free text; empty clears it.
    Text,
    /// Required free text.
    RequiredText,
    /// A whole number ≥ 0; empty clears it.
    Count,
    /// An amount in đồng ≥ 0; empty clears it.
    Money,
    /// A date; empty clears it unless required.
    Date {
        /// Whether it must be set.
        required: bool,
    },
    /// yes/no.
    Bool,
    /// One of a list of codes.
    Choice(&'static [Choice]),
    /// A year.
    Year,
    /// 1 or 2.
    Round,
    /// A unit id (checked against the tree by the caller).
    Unit,
}

/// A field that `edit --set` may change.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// Name in the document and on the command line.
    pub name: &'static str,
    /// Vietnamese label.
    pub label_vi: &'static str,
    /// How it is read.
    pub ty: FieldType,
}

const fn field(name: &'static str, label_vi: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { name, label_vi, ty }
}

/// The fields `edit --set` may change, per kind. Header fields, lists and the
/// household stage are not among them: they have their own commands.
pub fn editable_fields(kind: Kind) -> &'static [FieldSpec] {
    use FieldType::*;
    match kind {
        Kind::Activity => {
            const FIELDS: &[FieldSpec] = &[
                field(
                    "activity_type",
                    "loại hoạt động",
                    Choice(vocab::ACTIVITY_TYPES),
                ),
                field("date", "ngày", Date { required: true }),
                field("title", "tiêu đề", RequiredText),
                field("place", "địa điểm", Text),
                field("organizers", "đơn vị, người tổ chức", Text),
                field("attendance", "số người tham dự", Count),
                field("citizens", "số lượt công dân", Count),
                field("matters", "số vụ việc, ý kiến", Count),
                field("summary", "tóm tắt", Text),
                field("results", "kết quả", Text),
            ];
            FIELDS
        }
        Kind::Petition => {
            const FIELDS: &[FieldSpec] = &[
                field("petition_type", "loại đơn", Choice(vocab::PETITION_TYPES)),
                field("round", "lần khiếu nại", Round),
                field("complex", "vụ việc phức tạp", Bool),
                field("remote", "vùng sâu, vùng xa", Bool),
                field(
                    "channel",
                    "hình thức tiếp nhận",
                    Choice(vocab::PETITION_CHANNELS),
                ),
                field("received", "ngày tiếp nhận", Date { required: true }),
                field("citizen", "công dân", RequiredText),
                field("address", "địa chỉ", Text),
                field("id_number", "số CCCD", Text),
                field("content", "nội dung", RequiredText),
                field("category", "lĩnh vực", Text),
                field("assigned_unit", "đơn vị giải quyết", Unit),
                field("status", "trạng thái", Choice(vocab::PETITION_STATUSES)),
                field("answer", "trả lời", Text),
                field("resolved", "ngày giải quyết xong", Date { required: false }),
            ];
            FIELDS
        }
        Kind::Household => {
            const FIELDS: &[FieldSpec] = &[
                field("head", "chủ hộ", RequiredText),
                field("village", "thôn", Text),
                field("inventory", "kiểm đếm", Text),
                field("compensation_vnd", "số tiền bồi thường (đồng)", Money),
            ];
            FIELDS
        }
        Kind::Task => {
            const FIELDS: &[FieldSpec] = &[
                field("source", "văn bản nguồn", Text),
                field("number", "số thứ tự", RequiredText),
                field("title", "tiêu đề", RequiredText),
                field("text", "nội dung", Text),
                field("due", "thời hạn", Date { required: false }),
            ];
            FIELDS
        }
        Kind::Progress => {
            const FIELDS: &[FieldSpec] = &[
                field("status", "trạng thái", Choice(vocab::PROGRESS_STATUSES)),
                field("summary", "nội dung báo cáo", RequiredText),
            ];
            FIELDS
        }
        Kind::Model => {
            const FIELDS: &[FieldSpec] = &[
                field("name", "tên mô hình", RequiredText),
                field("field", "lĩnh vực", Choice(vocab::MODEL_FIELDS)),
                field("year", "năm công nhận", Year),
                field("results", "kết quả", Text),
            ];
            FIELDS
        }
    }
}

/// Finds the spec of an editable field by its code (`title`) or its
/// Vietnamese label typed with or without diacritics ("Tiêu đề", "tieu de").
pub fn field_spec(kind: Kind, name: &str) -> Result<&'static FieldSpec, RecordError> {
    let name = name.trim();
    let folded = crate::fold(name);
    editable_fields(kind)
        .iter()
        .find(|f| f.name == name || crate::fold(f.label_vi) == folded)
        .ok_or_else(|| RecordError::UnknownField {
            kind: kind.named(),
            field: name.to_string(),
            allowed: editable_fields(kind)
                .iter()
                .map(|f| format!("{} ({})", f.label_vi, f.name))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Reads a field value typed by a user. `Ok(None)` clears the field.
pub fn parse_field(spec: &FieldSpec, text: &str) -> Result<Option<ScalarValue>, RecordError> {
    let text = text.trim();
    let bad = |message: String| RecordError::BadValue {
        field: spec.name.to_string(),
        message,
    };
    use FieldType::*;
    Ok(match spec.ty {
        Text | Unit if text.is_empty() => None,
        Text | Unit => Some(ScalarValue::Str(text.into())),
        RequiredText if text.is_empty() => return Err(RecordError::Missing(spec.label_vi)),
        RequiredText => Some(ScalarValue::Str(text.into())),
        Count | Money if text.is_empty() => None,
        Count | Money => {
            let n = crate::parse_grouped(text)
                .ok_or_else(|| bad(format!("{text:?} không phải số nguyên")))?;
            if n < 0 {
                return Err(bad(format!("{text:?} là số âm")));
            }
            Some(ScalarValue::Int(n))
        }
        Date { required } if text.is_empty() => {
            if required {
                return Err(RecordError::Missing(spec.label_vi));
            }
            None
        }
        Date { .. } => Some(ScalarValue::Str(
            crate::normalize_date(text)
                .map_err(|e| bad(e.to_string()))?
                .into(),
        )),
        Bool => Some(ScalarValue::Boolean(match crate::fold(text).as_str() {
            "1" | "true" | "yes" | "co" | "x" => true,
            "0" | "false" | "no" | "khong" | "" => false,
            _ => return Err(bad(format!("{text:?}: dùng co hoặc khong"))),
        })),
        Choice(choices) => {
            if !choices.iter().any(|(c, _)| *c == text) {
                return Err(RecordError::BadChoice {
                    field: spec.name.to_string(),
                    value: text.to_string(),
                    allowed: vocab::codes(choices),
                });
            }
            Some(ScalarValue::Str(text.into()))
        }
        Year => {
            let y: i64 = text
                .parse()
                .map_err(|_| bad(format!("{text:?} không phải năm")))?;
            if !(1945..=2200).contains(&y) {
                return Err(bad(format!("năm {y} không hợp lệ")));
            }
            Some(ScalarValue::Int(y))
        }
        Round => match text {
            "1" => Some(ScalarValue::Int(1)),
            "2" => Some(ScalarValue::Int(2)),
            _ => return Err(bad("lần khiếu nại là 1 hoặc 2".into())),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_field_checks_values() {
        let spec = field_spec(Kind::Activity, "attendance").unwrap();
        assert_eq!(
            parse_field(spec, "1.200").unwrap(),
            Some(ScalarValue::Int(1200))
        );
        assert!(parse_field(spec, "nhiều").is_err());
        assert!(parse_field(spec, "-3").is_err());
        let date = field_spec(Kind::Activity, "date").unwrap();
        assert!(parse_field(date, "2023-02-30").is_err());
        assert!(parse_field(date, "").is_err());
        assert!(field_spec(Kind::Household, "stage").is_err());
        // Vietnamese labels, with or without diacritics, as well as codes.
        assert_eq!(field_spec(Kind::Activity, "Tiêu đề").unwrap().name, "title");
        assert_eq!(
            field_spec(Kind::Activity, " tieu de ").unwrap().name,
            "title"
        );
        assert_eq!(field_spec(Kind::Activity, "NGÀY").unwrap().name, "date");
        assert_eq!(
            field_spec(Kind::Household, "Số tiền bồi thường (đồng)")
                .unwrap()
                .name,
            "compensation_vnd"
        );
        let unknown = field_spec(Kind::Petition, "màu").unwrap_err().to_string();
        assert!(unknown.contains("đơn thư (petition)"), "{unknown}");
        assert!(unknown.contains("nội dung (content)"), "{unknown}");
        // Labels are unique within a kind, so a label finds one field.
        for kind in Kind::ALL {
            let fields = editable_fields(kind);
            for f in fields {
                let same = fields
                    .iter()
                    .filter(|g| crate::fold(g.label_vi) == crate::fold(f.label_vi))
                    .count();
                assert_eq!(same, 1, "{kind:?} {}", f.label_vi);
            }
        }
        let status = field_spec(Kind::Petition, "status").unwrap();
        assert!(parse_field(status, "xong").is_err());
    }
}
