//! Text search in tiers of relevance, read from the full-text index
//! (`record_search_fts`, FTS5 over the folded text; see `schema.rs`).
//!
//! A record's folded search text begins with its title (a household's
//! head, a petition's citizen, an activity's title), so the index itself
//! tells the three tiers apart without reading any text:
//!
//! 1. [`Tier::TitleStart`]: the words, side by side and in order, begin the
//!    title ("Nguyễn Văn Hùng" is the household head or the citizen);
//! 2. [`Tier::Phrase`]: the words side by side elsewhere;
//! 3. [`Tier::Words`]: every word somewhere, not side by side.
//!
//! Each tier is read in the index's own order (newest stored first) and
//! stops at what is left of the limit, so a common name never makes SQLite
//! read or sort every record holding it, and the records of the person
//! asked for are never pushed out by newer records that only share a word.
//! Words match whole tokens; the last word may be the start of one (a
//! person still typing) when it has at least three letters.

use crate::Store;
use crate::error::StoreError;
use crate::projection::{ListFilter, Row, filter_query_matching, read_row};

/// How well a record matched a search's words, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// The words, in order and side by side, begin the record's title.
    TitleStart,
    /// The words in order and side by side, elsewhere in the record.
    Phrase,
    /// Every word somewhere in the record.
    Words,
}

/// One record a search found: its row, its start date (for ordering
/// within a rank) and its tier.
#[derive(Clone, Debug)]
pub struct Hit {
    /// The record's list row.
    pub row: Row,
    /// The day it starts (the list's date order).
    pub date_from: Option<String>,
    /// How it matched.
    pub tier: Tier,
}

impl Store {
    /// The records the filter selects whose text holds every word of
    /// `filter.words` (folded, as [`danvan_model::fold`] makes them), tier
    /// by tier, newest stored first within a tier, at most `limit` in all.
    pub fn search_tiers(&self, filter: &ListFilter, limit: usize) -> Result<Vec<Hit>, StoreError> {
        let mut hits: Vec<Hit> = Vec::new();
        let columns = format!("{}, date_from", self.row_columns()?);
        for (tier, expression) in tier_queries(&filter.words) {
            let left = limit.saturating_sub(hits.len());
            if left == 0 {
                break;
            }
            let (mut sql, mut values) = filter_query_matching(&columns, filter, Some(expression));
            // The index's own order: SQLite stops at the limit without
            // sorting the matches.
            values.push(rusqlite::types::Value::Integer(left as i64));
            sql.push_str(&format!(
                " ORDER BY record_search_fts.rowid DESC LIMIT ?{}",
                values.len()
            ));
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
                Ok(Hit {
                    row: read_row(r)?,
                    date_from: r.get(9)?,
                    tier,
                })
            })?;
            for hit in rows {
                hits.push(hit?);
            }
        }
        Ok(hits)
    }
}

/// The full-text query of each tier; the tiers exclude each other, so no
/// record is read twice. No words, no tiers.
pub(crate) fn tier_queries(words: &[String]) -> Vec<(Tier, String)> {
    if words.is_empty() {
        return Vec::new();
    }
    let phrase = phrase(words);
    let title = format!("^{phrase}");
    if words.len() == 1 {
        return vec![
            (Tier::TitleStart, title.clone()),
            (Tier::Words, format!("{phrase} NOT {title}")),
        ];
    }
    let last = words.len() - 1;
    let each = words
        .iter()
        .enumerate()
        .map(|(i, w)| quoted(std::slice::from_ref(w), i == last))
        .collect::<Vec<_>>()
        .join(" AND ");
    vec![
        (Tier::TitleStart, title.clone()),
        (Tier::Phrase, format!("{phrase} NOT {title}")),
        (Tier::Words, format!("({each}) NOT {phrase}")),
    ]
}

/// The words as one FTS5 phrase, the last one a prefix when long enough.
fn phrase(words: &[String]) -> String {
    quoted(words, true)
}

/// Words as a quoted FTS5 string (nothing in them is read as query
/// syntax); `last_may_be_prefix`: the last word may start a longer token
/// when it has three letters or more.
fn quoted(words: &[String], last_may_be_prefix: bool) -> String {
    let text = words
        .iter()
        .map(|w| w.replace('"', "\"\""))
        .collect::<Vec<_>>()
        .join(" ");
    let prefix = last_may_be_prefix && words.last().is_some_and(|w| w.chars().count() >= 3);
    if prefix {
        format!("\"{text}\" *")
    } else {
        format!("\"{text}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_tiers_are_a_title_phrase_a_phrase_and_every_word() {
        let q = tier_queries(&words("nguyen van hung"));
        assert_eq!(
            q,
            vec![
                (Tier::TitleStart, "^\"nguyen van hung\" *".to_string()),
                (
                    Tier::Phrase,
                    "\"nguyen van hung\" * NOT ^\"nguyen van hung\" *".to_string()
                ),
                (
                    Tier::Words,
                    "(\"nguyen\" AND \"van\" AND \"hung\" *) NOT \"nguyen van hung\" *".to_string()
                ),
            ]
        );
        // A short last word is a whole word: "an" must not find "anh".
        assert_eq!(
            tier_queries(&words("an")),
            vec![
                (Tier::TitleStart, "^\"an\"".to_string()),
                (Tier::Words, "\"an\" NOT ^\"an\"".to_string()),
            ]
        );
        assert!(tier_queries(&[]).is_empty());
        // A quote is a character, never syntax.
        assert_eq!(quoted(&words("a\"b"), false), "\"a\"\"b\"");
    }
}
