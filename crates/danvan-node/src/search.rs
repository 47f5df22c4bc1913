//! Text search ranked by relevance, the one search `danvan list --search`
//! and the web app's record list both use.
//!
//! The store reads the full-text index in tiers (`danvan-store`'s
//! `search.rs`): the words as a phrase beginning the title, the phrase
//! elsewhere, every word somewhere. So a person's full name ("Nguyễn Văn
//! Hùng") finds that person's records first, and only records holding
//! every word ("văn" alone finds nothing for it). Without diacritics, as
//! an officer types on a cheap keyboard; when the query has them, titles
//! spelled exactly so come before those that only fold alike ("Hùng"
//! before "Hưng").

use std::cmp::Reverse;

use danvan_model::fold;
use danvan_store::{ListFilter, Row, Tier};
use unicode_normalization::UnicodeNormalization;

use crate::error::NodeError;
use crate::node::Node;

/// A search reads at most this many candidate rows before ranking them: a
/// query of one common word ("van") over a whole town would otherwise read
/// every record. The tiers are read best first, so what this cuts off are
/// the least relevant records; the person is asked to type more.
pub const SEARCH_CANDIDATES_MAX: usize = 5_000;

/// At most this many words of a query are used; more only slow the search.
const QUERY_WORDS_MAX: usize = 8;

/// The records a search found, best first.
#[derive(Debug, Clone)]
pub struct Found {
    /// The rows, best first.
    pub rows: Vec<Row>,
    /// Whether the search stopped at its candidate limit.
    pub truncated: bool,
}

/// The folded words of a query, without repeats.
pub fn query_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in fold(query).split(|c: char| !c.is_alphanumeric()) {
        if !w.is_empty() && !words.iter().any(|x| x == w) && words.len() < QUERY_WORDS_MAX {
            words.push(w.to_string());
        }
    }
    words
}

/// The words of `text`, split as the index splits them.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
}

/// Whether `word` is a whole word of `text` (folded), or the start of one
/// when `prefix` is allowed.
fn has_word(text: &str, word: &str, prefix: bool) -> bool {
    tokens(text).any(|t| t == word || (prefix && t.starts_with(word)))
}

/// Whether the words occur in order, side by side, in `text` (folded).
fn has_phrase(text: &str, words: &[String]) -> bool {
    let tokens: Vec<&str> = tokens(text).collect();
    !words.is_empty()
        && tokens
            .windows(words.len())
            .any(|w| w.iter().zip(words).all(|(a, b)| *a == b.as_str()))
}

/// The query as typed, lowercase, its words joined by single spaces: only
/// when it differs from its folded form (it has diacritics).
fn typed_form(query: &str, words: &[String]) -> Option<String> {
    let typed: String = query.nfc().flat_map(char::to_lowercase).collect();
    let typed = tokens(&typed).collect::<Vec<_>>().join(" ");
    (typed != words.join(" ")).then_some(typed)
}

/// The rank of a record for a query; smaller is better. First the words as
/// a phrase beginning the title (the tier `TitleStart`: the household head
/// or the citizen is the person asked for), then the phrase inside the
/// title, then elsewhere, then every word in the title, then by how many
/// words the title lacks; last, whether the title is spelled otherwise
/// than typed (`typed`, lowercase with diacritics).
fn rank(title: &str, words: &[String], tier: Tier, typed: Option<&str>) -> (u8, usize, bool) {
    let (class, missing) = if tier == Tier::TitleStart {
        // The phrase begins the title: every word is in it.
        (0, 0)
    } else {
        let folded = fold(title);
        let last = words.len().saturating_sub(1);
        let in_title = words
            .iter()
            .enumerate()
            .filter(|(i, w)| has_word(&folded, w, *i == last && w.chars().count() >= 3))
            .count();
        let class = match tier {
            Tier::Phrase if has_phrase(&folded, words) => 1,
            Tier::Phrase => 2,
            _ if in_title == words.len() => 3,
            _ => 4,
        };
        (class, words.len() - in_title)
    };
    // Compared as stored (the import stores NFC, as keyboards type).
    let spelled_otherwise = typed.is_some_and(|t| !contains_lowercased(title, t));
    (class, missing, spelled_otherwise)
}

/// Whether `text` lowercased contains `lower` (lowercase already): what
/// `text.to_lowercase().contains(lower)` says, without a lowercase copy of
/// every title a search ranks.
fn contains_lowercased(text: &str, lower: &str) -> bool {
    text.char_indices().any(|(at, _)| {
        let mut hay = text[at..].chars().flat_map(char::to_lowercase);
        lower.chars().all(|c| hay.next() == Some(c))
    })
}

impl Node {
    /// The records the filter selects that hold every word of `query`,
    /// best first (see the module's rank), equal ranks newest date first
    /// (records without a date last), then by id; at most `max` candidates
    /// are read and ranked. No words: no rows.
    pub fn search(&self, filter: &ListFilter, query: &str, max: usize) -> Result<Found, NodeError> {
        let words = query_words(query);
        if words.is_empty() {
            return Ok(Found {
                rows: Vec::new(),
                truncated: false,
            });
        }
        let mut filter = filter.clone();
        filter.words = words.clone();
        let mut hits = self.store().search_tiers(&filter, max.saturating_add(1))?;
        let truncated = hits.len() > max;
        hits.truncate(max);
        let typed = typed_form(query, &words);
        // The order is found over small keys borrowing from the hits, then
        // the rows are moved out in it once (sorting the hits themselves
        // moves rows of ten fields at every step). Ids are unique, so the
        // order is total and an unstable sort gives the same one.
        let mut keys: Vec<_> = hits
            .iter()
            .enumerate()
            .map(|(at, hit)| {
                let rank = rank(&hit.row.title, &words, hit.tier, typed.as_deref());
                (
                    rank,
                    Reverse(hit.date_from.as_deref()),
                    hit.row.id.as_str(),
                    at,
                )
            })
            .collect();
        keys.sort_unstable();
        let order: Vec<usize> = keys.into_iter().map(|(.., at)| at).collect();
        let mut rows: Vec<Option<Row>> = hits.into_iter().map(|hit| Some(hit.row)).collect();
        Ok(Found {
            rows: order.into_iter().filter_map(|at| rows[at].take()).collect(),
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use danvan_model::{Kind, Petition, Record};
    use danvan_testkit::TempDir;

    fn words(q: &str) -> Vec<String> {
        query_words(q)
    }

    #[test]
    fn query_words_are_folded_deduplicated_and_bounded() {
        assert_eq!(words(" Dân, vận  dân! "), vec!["dan", "van"]);
        assert_eq!(words("a b c d e f g h i j").len(), QUERY_WORDS_MAX);
        assert!(words("  ,.; ").is_empty());
    }

    #[test]
    fn a_phrase_in_the_title_ranks_before_the_phrase_elsewhere_and_scattered_words() {
        let w = words("dan van kheo");
        let r = |title, tier| rank(title, &w, tier, None);
        let best = r("Dân vận khéo ở thôn 3", Tier::TitleStart);
        let inside = r("Mô hình Dân vận khéo", Tier::Phrase);
        let elsewhere = r("Hội nghị dân vận", Tier::Phrase);
        let scattered = r("Khéo léo trong dân vận", Tier::Words);
        let partial = r("Hội nghị dân vận", Tier::Words);
        let none = r("Đối thoại", Tier::Words);
        assert!(best < inside, "{best:?} {inside:?}");
        assert!(inside < elsewhere, "{inside:?} {elsewhere:?}");
        assert!(elsewhere < scattered, "{elsewhere:?} {scattered:?}");
        assert!(scattered < partial, "{scattered:?} {partial:?}");
        assert!(partial < none, "{partial:?} {none:?}");
        // Spelled as typed before what only folds alike.
        let typed = typed_form("Nguyễn Văn Hùng", &words("Nguyễn Văn Hùng"));
        assert_eq!(typed.as_deref(), Some("nguyễn văn hùng"));
        assert_eq!(
            typed_form("nguyen van hung", &words("nguyen van hung")),
            None
        );
        let w = words("Nguyễn Văn Hùng");
        let exact = rank("Nguyễn Văn Hùng", &w, Tier::TitleStart, typed.as_deref());
        let folded = rank("Nguyễn Văn Hưng", &w, Tier::TitleStart, typed.as_deref());
        assert!(exact < folded, "{exact:?} {folded:?}");
    }

    fn petition(n: &Node, citizen: &str, content: &str, received: &str) -> Record {
        Record::Petition(Petition {
            header: n.new_header(Kind::Petition, None, None).expect("header"),
            petition_type: "kien-nghi".into(),
            round: 1,
            complex: false,
            remote: false,
            channel: "truc-tiep".into(),
            received: received.into(),
            citizen: citizen.into(),
            address: Some("Thôn Văn Trường".into()),
            id_number: None,
            content: content.into(),
            category: None,
            assigned_unit: None,
            status: "moi".into(),
            answer: None,
            resolved: None,
        })
    }

    /// Names sharing "Văn": the person asked for comes first, records that
    /// only share a word are not found, and a newer crowd of records with
    /// every word scattered never pushes the person's records out.
    #[test]
    fn a_full_name_finds_that_persons_records_first() {
        let d = TempDir::new("search-names");
        let mut n = Node::init(d.path(), "duc-pho", None, None).expect("init");
        let mut records = vec![
            petition(&n, "Nguyễn Văn Hùng", "Xin cấp sổ đỏ", "2023-01-05"),
            petition(&n, "Nguyễn Văn Hưng", "Đường ngập", "2023-02-01"),
            petition(
                &n,
                "Trần Thị Mai",
                "Ông Nguyễn Văn Hùng lấn chiếm đất",
                "2023-03-01",
            ),
            petition(
                &n,
                "Nguyễn Văn An",
                "Tranh chấp với ông Lê Văn Hùng",
                "2023-04-01",
            ),
            petition(&n, "Lê Văn Tám", "Đèn đường hỏng", "2023-05-01"),
            petition(&n, "Phạm Thị Hoa", "Nhà văn hóa xuống cấp", "2023-06-01"),
        ];
        // Stored after the person's records: newer, holding every word.
        for i in 0..30 {
            records.push(petition(
                &n,
                &format!("Nguyễn Văn Tài {i}"),
                "Đề nghị hỗ trợ ông Hùng",
                "2023-07-01",
            ));
        }
        n.add_many(&records).expect("add");
        let titles = |q: &str, max: usize| -> Vec<String> {
            n.search(&ListFilter::default(), q, max)
                .expect("search")
                .rows
                .into_iter()
                .map(|r| r.title)
                .collect()
        };
        let found = titles("Nguyễn Văn Hùng", 100);
        assert_eq!(found.len(), 34, "{found:#?}");
        assert!(found[0].starts_with("Nguyễn Văn Hùng:"), "{found:#?}");
        assert!(found[1].starts_with("Nguyễn Văn Hưng:"), "{found:#?}");
        assert!(found[2].starts_with("Trần Thị Mai:"), "{found:#?}");
        // Neither "Lê Văn Tám" nor the cultural house: only "văn" in common.
        assert!(
            !found
                .iter()
                .any(|t| t.starts_with("Lê Văn Tám") || t.starts_with("Phạm Thị Hoa")),
            "{found:#?}"
        );
        // Typed without diacritics: both spellings first, newest first.
        let plain = titles("nguyen van hung", 100);
        assert!(plain[0].starts_with("Nguyễn Văn Hưng:"), "{plain:#?}");
        assert!(plain[1].starts_with("Nguyễn Văn Hùng:"), "{plain:#?}");
        // Four candidates only: the tiers are read best first, so the
        // scattered crowd is what the limit cuts off.
        let few = n
            .search(&ListFilter::default(), "nguyen van hung", 4)
            .expect("search");
        assert!(few.truncated);
        assert_eq!(few.rows.len(), 4);
        assert!(few.rows[2].title.starts_with("Trần Thị Mai:"));
        // "văn" alone finds every record holding it as a word; "an" is a
        // whole word ("An", not "Anh" or "Văn").
        assert_eq!(titles("văn", 100).len(), 36);
        assert_eq!(titles("an", 100).len(), 1);
    }

    /// A record a peer refused shows the newest refusal's reason in a
    /// search and in a list, and no other record does (while no refusal is
    /// stored, lists skip the lookup: the same rows without one).
    #[test]
    fn a_refused_record_shows_its_newest_reason_in_searches_and_lists() {
        let d = TempDir::new("search-refused");
        let mut n = Node::init(d.path(), "duc-pho", None, None).expect("init");
        let records = [
            petition(&n, "Nguyễn Văn Hùng", "Xin cấp sổ đỏ", "2023-01-05"),
            petition(&n, "Nguyễn Văn Hưng", "Đường ngập", "2023-02-01"),
        ];
        n.add_many(&records).expect("add");
        type Refused = Vec<(String, Option<String>)>;
        let seen = |n: &Node| -> (Refused, Refused) {
            let pairs = |rows: Vec<Row>| {
                let mut pairs: Vec<_> = rows.into_iter().map(|r| (r.id, r.refused)).collect();
                pairs.sort();
                pairs
            };
            let found = n.search(&ListFilter::default(), "nguyen van", 100);
            let listed = n.list(&ListFilter::default());
            (
                pairs(found.expect("search").rows),
                pairs(listed.expect("list")),
            )
        };
        let (found, listed) = seen(&n);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|(_, r)| r.is_none()), "{found:?}");
        assert_eq!(found, listed);
        let hung = n
            .search(&ListFilter::default(), "Nguyễn Văn Hùng", 1)
            .expect("search")
            .rows[0]
            .id
            .clone();
        let change = n
            .all_changes()
            .expect("changes")
            .into_iter()
            .find(|c| c.doc.to_string() == hung)
            .expect("the record's change");
        let hub = danvan_model::NodeId::from_bytes([3; 32]);
        let other = danvan_model::NodeId::from_bytes([4; 32]);
        let store = n.store_mut();
        assert!(
            store
                .note_refused(&hub, &change.hash, "lý do cũ", 1_000)
                .expect("noted")
        );
        assert!(
            store
                .note_refused(&other, &change.hash, "lý do mới", 2_000)
                .expect("noted")
        );
        let (found, listed) = seen(&n);
        let want: Vec<_> = found
            .iter()
            .map(|(id, _)| (id.clone(), (*id == hung).then(|| "lý do mới".to_string())))
            .collect();
        assert_eq!(found, want);
        assert_eq!(listed, want);
    }

    /// A search reads each match's list columns and filters from its search
    /// row (schema 10): they follow an edit of any field, the text's or not.
    #[test]
    fn a_search_sees_every_edit_in_its_rows_and_filters() {
        let d = TempDir::new("search-edits");
        let mut n = Node::init(d.path(), "duc-pho", None, None).expect("init");
        let id = n
            .add(&petition(
                &n,
                "Nguyễn Văn Hùng",
                "Xin cấp sổ đỏ",
                "2023-01-05",
            ))
            .expect("add")
            .to_string();
        let status = |code: &str| ListFilter {
            status: Some(code.into()),
            ..ListFilter::default()
        };
        let found =
            |n: &Node, filter: &ListFilter, q: &str| n.search(filter, q, 10).expect("search").rows;
        assert_eq!(found(&n, &status("moi"), "nguyen van hung").len(), 1);
        n.edit(&id, &["status=dang-xu-ly".into()])
            .expect("edit the status");
        assert!(found(&n, &status("moi"), "nguyen van hung").is_empty());
        let rows = found(&n, &status("dang-xu-ly"), "nguyen van hung");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status.as_deref(), Some("dang-xu-ly"));
        n.edit(&id, &["citizen=Trần Thị Mai".into()])
            .expect("edit the name");
        assert!(found(&n, &ListFilter::default(), "nguyen van hung").is_empty());
        let rows = found(&n, &status("dang-xu-ly"), "tran thi mai");
        assert_eq!(rows.len(), 1);
        assert!(rows[0].title.starts_with("Trần Thị Mai:"), "{rows:?}");
        // The whole JSON of a search's matches comes from `records`.
        let words = ListFilter {
            words: vec!["tran".into(), "mai".into()],
            ..ListFilter::default()
        };
        let json = n.store().list_json(&words).expect("json");
        assert_eq!(json.len(), 1);
        assert_eq!(json[0]["citizen"], "Trần Thị Mai", "{json:?}");
    }

    /// A store from before the full-text index (schema 4) opens: the
    /// migration indexes every record once, nothing is lost, and the
    /// ranked search finds them; the index then follows new records.
    #[test]
    fn an_older_store_is_indexed_once_on_open() {
        let d = TempDir::new("search-migrate");
        let mut n = Node::init(d.path(), "duc-pho", None, None).expect("init");
        n.add_many(&[
            petition(&n, "Nguyễn Văn Hùng", "Xin cấp sổ đỏ", "2023-01-05"),
            petition(
                &n,
                "Lê Văn Hùng",
                "Ông Nguyễn Văn Hùng lấn chiếm",
                "2023-02-05",
            ),
            petition(&n, "Lê Văn Tám", "Đèn đường hỏng", "2023-03-05"),
        ])
        .expect("add");
        drop(n);
        {
            let db = rusqlite::Connection::open(d.path().join(danvan_store::DB_FILE)).expect("db");
            db.execute_batch(danvan_testkit::UNDO_SCHEMA_10)
                .expect("back to schema 9");
            db.execute_batch(
                "DROP TRIGGER record_search_fts_insert;
                 DROP TRIGGER record_search_fts_delete;
                 DROP TRIGGER record_search_fts_update;
                 DROP TABLE record_search_fts;
                 DROP TABLE set_aside;
                 DROP INDEX records_list;
                 DROP TRIGGER feed_readers_change;
                 DROP TRIGGER feed_readers_header;
                 DROP TRIGGER feed_readers_document;
                 DROP TABLE feed_readers;
                 ALTER TABLE changes DROP COLUMN covered_by;
                 PRAGMA user_version = 4;",
            )
            .expect("back to schema 4");
        }
        let mut n = Node::open(d.path()).expect("open migrates");
        let version: i64 = rusqlite::Connection::open(d.path().join(danvan_store::DB_FILE))
            .and_then(|db| db.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .expect("version");
        assert_eq!(version, danvan_store::SCHEMA_VERSION);
        let titles = |n: &Node| -> Vec<String> {
            n.search(&ListFilter::default(), "Nguyễn Văn Hùng", 100)
                .expect("search")
                .rows
                .into_iter()
                .map(|r| r.title)
                .collect()
        };
        assert_eq!(
            titles(&n),
            vec![
                "Nguyễn Văn Hùng: Xin cấp sổ đỏ".to_string(),
                "Lê Văn Hùng: Ông Nguyễn Văn Hùng lấn chiếm".to_string(),
            ]
        );
        assert_eq!(n.list(&ListFilter::default()).expect("list").len(), 3);
        n.add(&petition(&n, "Nguyễn Văn Hùng", "Đường ngập", "2023-04-05"))
            .expect("add after");
        assert_eq!(titles(&n).len(), 3);
    }
}
