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
