//! The columns of each importable kind: the one table that header matching,
//! `danvan import --help`, the template and the error messages all read.

use danvan_model::{Kind, fold, vocab};

/// How a column's cells are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Free text.
    Text,
    /// A day: `dd/mm/yyyy`, `yyyy-mm-dd`, or an Excel date.
    Date,
    /// A whole number ≥ 0 (money in đồng, counts); `850.000.000` is read.
    Number,
    /// Parcels `TỜ/THỬA:DIỆN_TÍCH:LOẠI_ĐẤT`, several separated by `;` or `|`.
    Parcels,
    /// One code of a list, or its Vietnamese label.
    Choice(&'static [vocab::Choice]),
    /// A unit code (empty: this node's unit).
    Unit,
}

/// One importable column.
#[derive(Debug)]
pub struct Column {
    /// The code (the CSV header that worked before Vietnamese names).
    pub code: &'static str,
    /// The Vietnamese header, as the template writes it.
    pub name: &'static str,
    /// Other Vietnamese headers accepted.
    pub aliases: &'static [&'static str],
    /// Must every row have it?
    pub required: bool,
    /// How its cells are read.
    pub format: Format,
    /// What it means, for the notes sheet and `--help`.
    pub meaning: &'static str,
    /// The template's sample value.
    pub sample: &'static str,
}

const fn col(
    code: &'static str,
    name: &'static str,
    aliases: &'static [&'static str],
    required: bool,
    format: Format,
    meaning: &'static str,
    sample: &'static str,
) -> Column {
    Column {
        code,
        name,
        aliases,
        required,
        format,
        meaning,
        sample,
    }
}

/// The owning unit, in every kind.
const UNIT: Column = col(
    "unit",
    "Đơn vị",
    &["Mã đơn vị", "Xã, phường"],
    false,
    Format::Unit,
    "Mã đơn vị (trống: đơn vị của máy này)",
    "",
);

const HOUSEHOLD: &[Column] = &[
    col(
        "head",
        "Chủ hộ",
        &["Họ tên chủ hộ", "Tên chủ hộ"],
        true,
        Format::Text,
        "Họ tên chủ hộ bị ảnh hưởng",
        "Nguyễn Văn An",
    ),
    col(
        "village",
        "Thôn",
        &["Thôn, tổ dân phố", "Thôn/tổ dân phố", "Tổ dân phố"],
        false,
        Format::Text,
        "Thôn hoặc tổ dân phố nơi hộ ở",
        "Thôn Trung",
    ),
    col(
        "parcels",
        "Thửa đất",
        &["Thửa", "Các thửa đất"],
        false,
        Format::Parcels,
        "Các thửa đất bị thu hồi",
        "12/345:250,5:ONT",
    ),
    col(
        "inventory",
        "Kiểm đếm",
        &["Tài sản kiểm đếm", "Kết quả kiểm đếm"],
        false,
        Format::Text,
        "Đất, vật kiến trúc, cây trồng đã kiểm đếm",
        "Nhà cấp 4, 60 m²; 20 cây dừa",
    ),
    col(
        "compensation_vnd",
        "Tiền bồi thường",
        &["Tiền bồi thường (đồng)", "Số tiền bồi thường"],
        false,
        Format::Number,
        "Tổng tiền bồi thường, hỗ trợ (đồng)",
        "850000000",
    ),
    col(
        "stage",
        "Giai đoạn",
        &["Tiến độ"],
        false,
        Format::Choice(vocab::HOUSEHOLD_STAGES),
        "Giai đoạn giải phóng mặt bằng (trống: đã kiểm đếm)",
        vocab::STAGE_INVENTORIED,
    ),
    UNIT,
    col(
        "project",
        "Dự án",
        &["Mã dự án"],
        false,
        Format::Choice(vocab::PROJECTS),
        "Dự án thu hồi đất (trống: dự án đầu tiên trong danh sách)",
        "",
    ),
];

const ACTIVITY: &[Column] = &[
    col(
        "type",
        "Loại hoạt động",
        &["Loại", "Hình thức"],
        true,
        Format::Choice(vocab::ACTIVITY_TYPES),
        "Loại hoạt động dân vận",
        vocab::ACTIVITY_PROPAGANDA,
    ),
    col(
        "date",
        "Ngày",
        &["Ngày tổ chức", "Ngày thực hiện"],
        true,
        Format::Date,
        "Ngày tổ chức",
        "15/03/2024",
    ),
    col(
        "title",
        "Tiêu đề",
        &["Tên hoạt động", "Nội dung"],
        true,
        Format::Text,
        "Tên hoạt động",
        "Tuyên truyền Luật Đất đai 2024 tại thôn Trung",
    ),
    col(
        "place",
        "Địa điểm",
        &["Nơi tổ chức"],
        false,
        Format::Text,
        "Nơi tổ chức",
        "Nhà văn hóa thôn Trung",
    ),
    col(
        "organizers",
        "Đơn vị tổ chức",
        &["Người tổ chức", "Chủ trì"],
        false,
        Format::Text,
        "Đơn vị, người chủ trì",
        "Ban Dân vận xã, Mặt trận xã",
    ),
    col(
        "attendance",
        "Số người dự",
        &["Số người tham dự", "Số lượt người dự"],
        false,
        Format::Number,
        "Số người tham dự",
        "120",
    ),
    col(
        "citizens",
        "Số công dân",
        &["Số công dân được tiếp", "Số lượt công dân"],
        false,
        Format::Number,
        "Số công dân được tiếp (tiếp công dân)",
        "",
    ),
    col(
        "matters",
        "Số vụ việc",
        &["Số vụ việc nêu", "Số ý kiến"],
        false,
        Format::Number,
        "Số vụ việc, ý kiến Nhân dân nêu (tiếp dân, đối thoại)",
        "",
    ),
    col(
        "summary",
        "Tóm tắt",
        &["Nội dung tóm tắt"],
        false,
        Format::Text,
        "Tóm tắt nội dung",
        "Phổ biến quy định mới về bồi thường, hỗ trợ, tái định cư",
    ),
    col(
        "results",
        "Kết quả",
        &["Kết quả đạt được"],
        false,
        Format::Text,
        "Kết quả đạt được",
        "",
    ),
    UNIT,
];

/// The kinds a file can be imported as.
pub const IMPORT_KINDS: [Kind; 2] = [Kind::Household, Kind::Activity];

/// The columns `kind` accepts (empty: not importable).
pub fn columns(kind: Kind) -> &'static [Column] {
    match kind {
        Kind::Household => HOUSEHOLD,
        Kind::Activity => ACTIVITY,
        _ => &[],
    }
}

/// A header as compared: trimmed, without a required-column star or a
/// byte order mark, folded (no case, no diacritics, đ → d), single spaces.
fn header_key(text: &str) -> String {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '*');
    fold(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The column a header names: its code, Vietnamese name or an alias,
/// compared without case or diacritics.
pub fn match_header(kind: Kind, header: &str) -> Option<&'static Column> {
    let key = header_key(header);
    columns(kind).iter().find(|c| {
        header_key(c.code) == key
            || header_key(c.name) == key
            || c.aliases.iter().any(|a| header_key(a) == key)
    })
}

/// A choice typed as its code or its Vietnamese label (no case, no
/// diacritics): the code, or `None`.
pub fn match_choice(choices: &'static [vocab::Choice], text: &str) -> Option<&'static str> {
    let key = header_key(text);
    choices
        .iter()
        .find(|(code, label)| header_key(code) == key || header_key(label) == key)
        .map(|(code, _)| *code)
}

/// The format of a column in words, for the notes sheet and `--help`.
pub fn format_text(format: Format) -> String {
    match format {
        Format::Text => "chữ".into(),
        Format::Date => "ngày dd/mm/yyyy (hoặc ô kiểu ngày của Excel)".into(),
        Format::Number => "số nguyên không âm, có thể viết 850.000.000".into(),
        Format::Parcels => {
            "TỜ/THỬA:DIỆN_TÍCH_M2:LOẠI_ĐẤT, nhiều thửa cách nhau bằng ; hoặc |".into()
        }
        Format::Choice(list) => format!(
            "một trong: {}",
            list.iter()
                .map(|(c, l)| format!("{c} ({l})"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Format::Unit => "mã đơn vị, xem `danvan units`".into(),
    }
}

/// `danvan import --help`'s list: each kind's columns, Vietnamese name and
/// code, which are required.
pub fn columns_help() -> String {
    let mut out = String::from(
        "Cột của tệp (dòng đầu là tên cột; viết tên tiếng Việt hoặc mã, không phân biệt hoa thường, có dấu hay không; * là bắt buộc):\n",
    );
    for kind in IMPORT_KINDS {
        out.push_str(&format!("\n{} ({}):\n", kind.label_vi(), kind.code()));
        for c in columns(kind) {
            let short = match c.format {
                Format::Choice(_) => "mã hoặc tên trong danh sách".to_string(),
                other => format_text(other),
            };
            out.push_str(&format!(
                "  {}{} [{}] — {}; {}\n",
                c.name,
                if c.required { " *" } else { "" },
                c.code,
                c.meaning,
                short
            ));
        }
    }
    out.push_str(
        "\nMẫu Excel có ví dụ và hướng dẫn: danvan import template household --out mau.xlsx",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_without_case_or_diacritics() {
        let by = |h| match_header(Kind::Household, h).map(|c| c.code);
        assert_eq!(by("Chủ hộ"), Some("head"));
        assert_eq!(by("  CHU HO * "), Some("head"));
        assert_eq!(by("\u{feff}head"), Some("head"));
        assert_eq!(by("thửa  đất"), Some("parcels"));
        assert_eq!(by("Số nhà"), None);
        assert_eq!(
            match_header(Kind::Activity, "ngay").map(|c| c.code),
            Some("date")
        );
        assert_eq!(
            match_choice(vocab::HOUSEHOLD_STAGES, "đã kiểm đếm"),
            Some(vocab::STAGE_INVENTORIED)
        );
    }

    #[test]
    fn every_kind_has_unique_headers() {
        for kind in IMPORT_KINDS {
            let mut seen = std::collections::HashSet::new();
            for c in columns(kind) {
                for h in [c.code, c.name].iter().chain(c.aliases) {
                    assert!(seen.insert(header_key(h)), "{h} twice in {kind:?}");
                }
            }
        }
    }
}
