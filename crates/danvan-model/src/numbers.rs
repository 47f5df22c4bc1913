//! Numbers as Vietnamese write them: `.` between thousands.

/// `850000000` → `850.000.000`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// A whole number as typed, its thousands marked or not: `850.000.000`,
/// `1,200`, `12 000`, `1_000` → the number; `None` if it is not one.
pub fn parse_grouped(text: &str) -> Option<i64> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | ' ' | '_' | '\u{a0}'))
        .collect();
    digits.parse().ok()
}

/// `850000000` → `850.000.000 đ`.
pub fn money_vnd(n: i64) -> String {
    format!("{} đ", thousands(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_and_money_read_the_vietnamese_way() {
        assert_eq!(money_vnd(850_000_000), "850.000.000 đ");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1.000");
        assert_eq!(thousands(-1_234_567), "-1.234.567");
    }
}

/// A CCCD number as lists, reports and logs show it: the first 4 and the
/// last 2 characters, the rest as `*` (`0512******90`). A value too short
/// to keep anything hidden is all `*`. The one masking function: only the
/// record page, for a node that may write the record, shows it whole.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < 4 || i >= n - 2 { *c } else { '*' })
        .collect()
}

#[cfg(test)]
mod mask_tests {
    use super::mask_id_number;

    #[test]
    fn cccd_keeps_first_four_and_last_two() {
        assert_eq!(mask_id_number("051234567890"), "0512******90");
        assert_eq!(mask_id_number(" 051234567890 "), "0512******90");
        assert_eq!(mask_id_number("12345"), "*****");
        assert_eq!(mask_id_number(""), "");
    }
}
