//! How values are shown to a Vietnamese reader: dates dd/mm/yyyy, money
//! with dot thousand separators, codes by their Vietnamese labels.

/// `2023-07-17` → `17/07/2023`; anything else is shown as it is.
pub(crate) fn date(iso: &str) -> String {
    let parts: Vec<&str> = iso.split('-').collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
    }
}

/// A device time (ms since 1970) in Vietnam time, `dd/mm/yyyy hh:mm`.
pub(crate) fn time_ms(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let t = t + time::Duration::hours(7);
    format!(
        "{:02}/{:02}/{} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

pub(crate) use danvan_model::{money_vnd as money, thousands};

/// The Vietnamese label of a code in a vocabulary, or the code itself.
/// A choice's name as a drop-down under a label that already says `what`
/// shows it: "Dự án đường Cao tốc…" under "Dự án" reads "Đường Cao tốc…",
/// which a phone shows whole.
pub(crate) fn option_text(what: &str, text: &str) -> String {
    match text
        .strip_prefix(what)
        .and_then(|rest| rest.strip_prefix(' '))
    {
        Some(rest) => {
            let mut chars = rest.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_else(|| text.to_string())
        }
        None => text.to_string(),
    }
}

pub(crate) fn label(table: &[danvan_model::vocab::Choice], code: &str) -> String {
    let l = danvan_model::vocab::label(table, code);
    if l.is_empty() {
        code.to_string()
    } else {
        l.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_money_read_the_vietnamese_way() {
        assert_eq!(date("2023-07-17"), "17/07/2023");
        assert_eq!(date("sai"), "sai");
        assert_eq!(money(850_000_000), "850.000.000 đ");
        // 2023-07-17 00:30 in Vietnam is 2023-07-16 17:30 UTC.
        assert_eq!(time_ms(1_689_528_600_000), "17/07/2023 00:30");
    }

    #[test]
    fn a_choice_drops_what_its_label_already_says() {
        assert_eq!(
            option_text("Dự án", "Dự án đường Cao tốc Bắc - Nam phía Đông"),
            "Đường Cao tốc Bắc - Nam phía Đông"
        );
        // Only a whole word, and nothing else is touched.
        assert_eq!(option_text("Dự án", "Dự ánh"), "Dự ánh");
        assert_eq!(option_text("Loại", "Khiếu nại"), "Khiếu nại");
        assert_eq!(option_text("Dự án", "Dự án"), "Dự án");
    }
}
