//! Calendar dates as officers write them, and periods of the reporting calendar.

use std::fmt;
use std::str::FromStr;

use time::{Date, Month};

/// Why a date or period could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DateError {
    /// Not a date in `YYYY-MM-DD` or `DD/MM/YYYY`, or not a real day.
    #[error("ngày không hợp lệ: {0:?} (dùng dạng 2023-07-17 hoặc 17/07/2023)")]
    Date(String),
    /// Not a period this tool knows.
    #[error(
        "kỳ không hợp lệ: {0:?} (dùng 2023, 2023-H1, 2023-H2, 2023-Q3, 2023-07 hoặc 2023-01-01..2023-06-30)"
    )]
    Period(String),
}

/// Parses a date given as `YYYY-MM-DD` or, as Vietnamese documents write it,
/// `DD/MM/YYYY`. Impossible days such as 2023-02-30 are refused.
pub fn parse_date(text: &str) -> Result<Date, DateError> {
    let err = || DateError::Date(text.to_string());
    let text = text.trim();
    let parts: Vec<&str> = if text.contains('/') {
        let mut p: Vec<&str> = text.split('/').collect();
        p.reverse();
        p
    } else {
        text.split('-').collect()
    };
    if parts.len() != 3 || parts[0].len() != 4 {
        return Err(err());
    }
    let year: i32 = parts[0].parse().map_err(|_| err())?;
    let month: u8 = parts[1].parse().map_err(|_| err())?;
    let day: u8 = parts[2].parse().map_err(|_| err())?;
    if !(1900..=2200).contains(&year) {
        return Err(err());
    }
    let month = Month::try_from(month).map_err(|_| err())?;
    Date::from_calendar_date(year, month, day).map_err(|_| err())
}

/// A date in the canonical `YYYY-MM-DD` form stored in records.
pub fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The day in Vietnam (UTC+7 all year) at an instant given in ms since
/// 1970: "today" for a caller that read its clock. Pure: the caller passes
/// the instant.
pub fn vietnam_day(ms: i64) -> Date {
    let seconds = ms.div_euclid(1000) + 7 * 3600;
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| t.date())
        .unwrap_or(Date::MIN)
}

/// Parses and re-formats a date: the canonical form of what the user typed.
pub fn normalize_date(text: &str) -> Result<String, DateError> {
    parse_date(text).map(format_date)
}

/// A day further ahead than this many days is asked about (`--yes`): work
/// is recorded when done, and a month covers a meeting planned ahead; a
/// year typed wrong (2062 for 2026) lands far beyond it.
pub const FUTURE_DAYS_MAX: i64 = 30;

/// A day more than this many years back is asked about (`--yes`): older
/// than any case a commune still works on, and what a year typed wrong
/// (1926, 2002 for 2026) gives.
pub const PAST_YEARS_MAX: i32 = 20;

/// Why a day is unusual enough to ask before storing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnusualDate {
    /// More than [`FUTURE_DAYS_MAX`] days after today, by this many days.
    Future(i64),
    /// More than [`PAST_YEARS_MAX`] years before today, by this many whole years.
    Past(i32),
}

impl std::fmt::Display for UnusualDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnusualDate::Future(days) => write!(
                f,
                "sau hôm nay {days} ngày (quá {FUTURE_DAYS_MAX} ngày tới)"
            ),
            UnusualDate::Past(years) => write!(
                f,
                "trước hôm nay {years} năm (quá {PAST_YEARS_MAX} năm trước)"
            ),
        }
    }
}

/// Whether `day` is unusual seen from `today`; a deadline (`ahead_ok`)
/// may lie any time ahead.
pub fn unusual_date(day: Date, today: Date, ahead_ok: bool) -> Option<UnusualDate> {
    let ahead = (day - today).whole_days();
    if !ahead_ok && ahead > FUTURE_DAYS_MAX {
        return Some(UnusualDate::Future(ahead));
    }
    let mut years = today.year() - day.year();
    if (today.month() as u8, today.day()) < (day.month() as u8, day.day()) {
        years -= 1;
    }
    (years > PAST_YEARS_MAX).then_some(UnusualDate::Past(years))
}

/// A reporting period: a closed range of days with the name it was given.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Period {
    /// First day in the period.
    pub start: Date,
    /// Last day in the period (inclusive).
    pub end: Date,
    kind: PeriodKind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PeriodKind {
    Year,
    Half(u8),
    Quarter(u8),
    Month,
    Range,
}

fn last_day(year: i32, month: Month) -> Date {
    Date::from_calendar_date(year, month, month.length(year)).expect("valid last day of month")
}

fn first_day(year: i32, month: Month) -> Date {
    Date::from_calendar_date(year, month, 1).expect("valid first day of month")
}

impl Period {
    fn months(year: i32, first: u8, last: u8, kind: PeriodKind) -> Period {
        let first = Month::try_from(first).expect("month 1..=12");
        let last = Month::try_from(last).expect("month 1..=12");
        Period {
            start: first_day(year, first),
            end: last_day(year, last),
            kind,
        }
    }

    /// Whether a day falls in the period.
    pub fn contains(&self, date: Date) -> bool {
        self.start <= date && date <= self.end
    }

    /// Whether the range `[from, to]` overlaps the period.
    pub fn overlaps(&self, from: Date, to: Date) -> bool {
        from <= self.end && self.start <= to
    }

    /// The period containing `date` of the same length as `self` when it is
    /// a half or quarter; used by reminders for "the current period".
    pub fn half_of(date: Date) -> Period {
        let half = if u8::from(date.month()) <= 6 { 1 } else { 2 };
        let (a, b) = if half == 1 { (1, 6) } else { (7, 12) };
        Period::months(date.year(), a, b, PeriodKind::Half(half))
    }

    /// The Vietnamese name of the period, as in report titles.
    pub fn label_vi(&self) -> String {
        let y = self.start.year();
        match self.kind {
            PeriodKind::Year => format!("năm {y}"),
            PeriodKind::Half(1) => format!("6 tháng đầu năm {y}"),
            PeriodKind::Half(_) => format!("6 tháng cuối năm {y}"),
            PeriodKind::Quarter(q) => {
                format!("quý {} năm {y}", ["I", "II", "III", "IV"][q as usize - 1])
            }
            PeriodKind::Month => format!("tháng {}/{y}", u8::from(self.start.month())),
            PeriodKind::Range => format!("từ {} đến {}", vi_date(self.start), vi_date(self.end)),
        }
    }
}

/// A date as Vietnamese documents write it: 17/7/2023.
pub fn vi_date(date: Date) -> String {
    format!("{}/{}/{}", date.day(), u8::from(date.month()), date.year())
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let y = self.start.year();
        match self.kind {
            PeriodKind::Year => write!(f, "{y}"),
            PeriodKind::Half(h) => write!(f, "{y}-H{h}"),
            PeriodKind::Quarter(q) => write!(f, "{y}-Q{q}"),
            PeriodKind::Month => write!(f, "{y}-{:02}", u8::from(self.start.month())),
            PeriodKind::Range => {
                write!(f, "{}..{}", format_date(self.start), format_date(self.end))
            }
        }
    }
}

impl FromStr for Period {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DateError::Period(s.to_string());
        let s = s.trim();
        if let Some((a, b)) = s.split_once("..") {
            let start = parse_date(a).map_err(|_| err())?;
            let end = parse_date(b).map_err(|_| err())?;
            if end < start {
                return Err(err());
            }
            return Ok(Period {
                start,
                end,
                kind: PeriodKind::Range,
            });
        }
        let (year_text, rest) = match s.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (s, None),
        };
        if year_text.len() != 4 {
            return Err(err());
        }
        let year: i32 = year_text.parse().map_err(|_| err())?;
        if !(1900..=2200).contains(&year) {
            return Err(err());
        }
        match rest.map(|r| r.to_ascii_uppercase()) {
            None => Ok(Period::months(year, 1, 12, PeriodKind::Year)),
            Some(r) if r == "H1" => Ok(Period::months(year, 1, 6, PeriodKind::Half(1))),
            Some(r) if r == "H2" => Ok(Period::months(year, 7, 12, PeriodKind::Half(2))),
            Some(r) if r.len() == 2 && r.starts_with('Q') => {
                let q: u8 = r[1..].parse().map_err(|_| err())?;
                if !(1..=4).contains(&q) {
                    return Err(err());
                }
                Ok(Period::months(
                    year,
                    q * 3 - 2,
                    q * 3,
                    PeriodKind::Quarter(q),
                ))
            }
            Some(r) if r.len() == 2 => {
                let m: u8 = r.parse().map_err(|_| err())?;
                if !(1..=12).contains(&m) {
                    return Err(err());
                }
                Ok(Period::months(year, m, m, PeriodKind::Month))
            }
            Some(_) => Err(err()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unusual_dates_are_far_ahead_or_decades_back() {
        let today = parse_date("2026-12-04").unwrap();
        let day = |t| parse_date(t).unwrap();
        assert_eq!(unusual_date(day("2027-01-03"), today, false), None);
        assert_eq!(
            unusual_date(day("2027-01-04"), today, false),
            Some(UnusualDate::Future(31))
        );
        assert_eq!(unusual_date(day("2030-01-01"), today, true), None);
        assert_eq!(unusual_date(day("2006-12-04"), today, false), None);
        // 20 whole years back is still usual; 21 is not.
        assert_eq!(unusual_date(day("2005-12-05"), today, false), None);
        assert_eq!(
            unusual_date(day("2005-12-04"), today, false),
            Some(UnusualDate::Past(21))
        );
        assert_eq!(
            unusual_date(day("1990-01-01"), today, true),
            Some(UnusualDate::Past(36))
        );
        assert_eq!(
            unusual_date(day("1976-05-01"), today, false),
            Some(UnusualDate::Past(50))
        );
    }

    use super::*;

    #[test]
    fn the_day_in_vietnam_starts_at_17_utc() {
        // 2025-06-30 16:59:59 UTC is 23:59:59 in Vietnam; a second later
        // the merges of 1 July 2025 are in force there.
        let ms = 1_751_302_799_000;
        assert_eq!(format_date(vietnam_day(ms)), "2025-06-30");
        assert_eq!(format_date(vietnam_day(ms + 1000)), "2025-07-01");
    }

    #[test]
    fn dates_in_both_notations() {
        assert_eq!(normalize_date("2023-07-17").unwrap(), "2023-07-17");
        assert_eq!(normalize_date("17/7/2023").unwrap(), "2023-07-17");
        assert!(parse_date("2023-02-30").is_err());
        assert!(parse_date("2023-13-01").is_err());
        assert!(parse_date("hôm qua").is_err());
        assert!(parse_date("23-07-17").is_err());
    }

    #[test]
    fn periods() {
        let h2: Period = "2023-H2".parse().unwrap();
        assert_eq!(format_date(h2.start), "2023-07-01");
        assert_eq!(format_date(h2.end), "2023-12-31");
        assert_eq!(h2.label_vi(), "6 tháng cuối năm 2023");
        let q3: Period = "2023-q3".parse().unwrap();
        assert_eq!(format_date(q3.end), "2023-09-30");
        assert_eq!(q3.to_string(), "2023-Q3");
        let y: Period = "2023".parse().unwrap();
        assert!(y.contains(parse_date("2023-12-31").unwrap()));
        assert!(!y.contains(parse_date("2024-01-01").unwrap()));
        let feb: Period = "2024-02".parse().unwrap();
        assert_eq!(format_date(feb.end), "2024-02-29");
        let r: Period = "2023-03-01..2023-03-31".parse().unwrap();
        assert!(r.contains(parse_date("2023-03-15").unwrap()));
        for bad in [
            "2023-H3",
            "2023-Q5",
            "23",
            "2023-06-31..2023-07-01",
            "2023-07-01..2023-06-01",
            "x",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }
}
