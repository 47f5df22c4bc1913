//! Numbers and days as Vietnamese documents write them. Depends on no other
//! module of the crate.

/// `1234567` → `1.234.567`.
pub(crate) use danvan_model::thousands as int;

/// `1234.5` → `1.234,5` (one decimal; `,0` dropped).
pub(crate) fn dec(x: f64) -> String {
    let tenths = (x * 10.0).round() as i64;
    let whole = int(tenths / 10);
    match (tenths % 10).abs() {
        0 => whole,
        d => format!("{whole},{d}"),
    }
}

/// `45.6` → `45,6%`.
pub(crate) fn pct(x: f64) -> String {
    format!("{}%", dec(x))
}

/// `2023-12-31` → `31/12/2023`.
pub(crate) fn vi_day(day: &str) -> String {
    danvan_model::parse_date(day)
        .map(danvan_model::vi_date)
        .unwrap_or_else(|_| day.to_string())
}

/// `x` rounded to `decimals` places, as figures are printed.
pub(crate) fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_in_vietnamese() {
        assert_eq!(super::int(1_234_567), "1.234.567");
        assert_eq!(super::int(12), "12");
        assert_eq!(super::dec(1234.5), "1.234,5");
        assert_eq!(super::dec(100.0), "100");
        assert_eq!(super::pct(45.62), "45,6%");
        assert_eq!(super::vi_day("2023-07-17"), "17/7/2023");
    }
}
