//! Reading a conclusion (plain text or Markdown) into its numbered tasks,
//! and finding the units a task's heading names in the unit tree.
//!
//! A task is a paragraph starting `X.Y.` (`1.1.` … `2.6.`) and every
//! paragraph after it up to the next task or the next heading (`2. …`,
//! `III- …`, "Nơi nhận"). Paragraphs split by a page break (the next starts
//! in lower case) are joined again. A footnote paragraph (`¹ …`) goes to the
//! task whose text carries its mark, wherever the footnote was printed.
//! Markdown emphasis (`*`, `**`) and heading marks (`#`) are dropped.

use danvan_model::{UnitKind, UnitTree, fold};
use serde::Serialize;

use crate::ReportError;

/// One numbered task of a conclusion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConclusionTask {
    /// Its number, e.g. `2.4`.
    pub number: String,
    /// Heading: the addressee when the task opens with one, else its first
    /// sentence (cut at 120 characters).
    pub title: String,
    /// The whole text, paragraphs separated by a newline, footnotes last.
    pub text: String,
    /// The units the task opens with ("Ủy ban nhân dân thị xã: …", or a
    /// line of its own as in 2.4), if it does.
    pub addressee: Option<String>,
}

/// A conclusion as read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParsedConclusion {
    /// The title block (first paragraph), if it looks like one.
    pub title: Option<String>,
    /// The tasks, in document order.
    pub tasks: Vec<ConclusionTask>,
}

const SUPERSCRIPTS: &[char] = &['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
/// Longest heading kept; longer first sentences are cut.
const TITLE_CHARS_MAX: usize = 120;
/// An addressee before a colon is at most this long.
const ADDRESSEE_CHARS_MAX: usize = 100;

fn is_bullet(line: &str) -> bool {
    line.starts_with("- ") || line.starts_with("+ ") || line.starts_with("• ")
}

/// `2.4. text` → ("2.4", "text").
fn item_number(para: &str) -> Option<(String, &str)> {
    let bytes = para.as_bytes();
    let mut i = 0;
    let mut parts = Vec::new();
    loop {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 3 {
            return None;
        }
        parts.push(&para[start..i]);
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            if i < bytes.len() && bytes[i].is_ascii_digit() && parts.len() < 2 {
                continue;
            }
        }
        break;
    }
    if parts.len() != 2 {
        return None;
    }
    let rest = &para[i..];
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some((parts.join("."), rest.trim()))
}

/// A heading that ends the task before it: `2. Nhiệm vụ cụ thể`,
/// `III- Tổ chức thực hiện`, `Nơi nhận:`.
fn is_heading(para: &str) -> bool {
    let digits = para.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && para[digits..].starts_with(". ") {
        return true;
    }
    let roman = para
        .chars()
        .take_while(|c| matches!(c, 'I' | 'V' | 'X' | 'L'))
        .count();
    if roman > 0 && matches!(para[roman..].chars().next(), Some('-' | '.' | '–')) {
        return true;
    }
    fold(para).starts_with("noi nhan")
}

fn paragraphs(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.replace(['*', '\r'], "");
        let line = line.trim_start_matches('#').trim();
        if line.is_empty() {
            out.extend(current.take());
            continue;
        }
        let starts_new = is_bullet(line)
            || item_number(line).is_some()
            || line.starts_with(SUPERSCRIPTS)
            || is_heading(line);
        match &mut current {
            Some(p) if !starts_new => {
                p.push(' ');
                p.push_str(line);
            }
            _ => {
                out.extend(current.take());
                current = Some(line.to_string());
            }
        }
    }
    out.extend(current);
    // A page break splits a paragraph: the rest starts in lower case.
    let mut joined: Vec<String> = Vec::new();
    for p in out {
        let continues = p.chars().next().is_some_and(char::is_lowercase);
        match joined.last_mut() {
            Some(prev) if continues => {
                prev.push(' ');
                prev.push_str(&p);
            }
            _ => joined.push(p),
        }
    }
    joined
}

fn first_sentence(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !SUPERSCRIPTS.contains(c)).collect();
    let cut = [". ", ": ", "; "]
        .iter()
        .filter_map(|sep| clean.find(sep))
        .min()
        .unwrap_or(clean.len());
    let sentence = clean[..cut].trim().trim_end_matches(['.', ':', ';']);
    if sentence.chars().count() <= TITLE_CHARS_MAX {
        return sentence.to_string();
    }
    let mut out = String::new();
    for word in sentence.split_whitespace() {
        if out.chars().count() + word.chars().count() + 1 > TITLE_CHARS_MAX {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.trim_end_matches([',', ';']).to_string() + "…"
}

/// Reads the numbered tasks of a conclusion.
pub fn parse_conclusion(text: &str) -> Result<ParsedConclusion, ReportError> {
    let paras = paragraphs(text);
    let title = paras
        .first()
        .filter(|p| item_number(p).is_none() && p.chars().count() <= 300)
        .cloned();
    // (number, paragraphs)
    let mut items: Vec<(String, Vec<String>)> = Vec::new();
    let mut footnotes: Vec<(Option<usize>, String)> = Vec::new();
    let mut open = false;
    for p in paras {
        if let Some((number, rest)) = item_number(&p) {
            if items.iter().any(|(n, _)| *n == number) {
                return Err(ReportError::DuplicateNumber(number));
            }
            items.push((number, vec![rest.to_string()]));
            open = true;
        } else if p.starts_with(SUPERSCRIPTS) {
            footnotes.push((open.then(|| items.len() - 1), p));
        } else if is_heading(&p) {
            open = false;
        } else if open && let Some((_, body)) = items.last_mut() {
            body.push(p);
        }
    }
    if items.is_empty() {
        return Err(ReportError::NoNumberedItems);
    }
    for (printed_in, note) in footnotes {
        let mark: String = note
            .chars()
            .take_while(|c| SUPERSCRIPTS.contains(c))
            .collect();
        let owner = items
            .iter()
            .position(|(_, body)| body.iter().any(|b| b.contains(&mark)))
            .or(printed_in);
        if let Some(i) = owner {
            items[i].1.push(note);
        }
    }
    let tasks = items
        .into_iter()
        .map(|(number, mut body)| {
            if body.first().is_some_and(|b| b.is_empty()) {
                body.remove(0);
            }
            let first = body.first().cloned().unwrap_or_default();
            let standalone = body.len() > 1
                && !first.ends_with('.')
                && !first.contains(':')
                && first.chars().count() <= ADDRESSEE_CHARS_MAX;
            let before_colon = first
                .split_once(':')
                .map(|(a, _)| a.trim())
                .filter(|a| a.chars().count() <= ADDRESSEE_CHARS_MAX && !a.contains('.'));
            let addressee = if standalone {
                Some(first.clone())
            } else {
                before_colon.map(str::to_string)
            };
            let title = addressee.clone().unwrap_or_else(|| first_sentence(&first));
            ConclusionTask {
                number,
                title,
                text: body.join("\n"),
                addressee,
            }
        })
        .collect();
    Ok(ParsedConclusion { title, tasks })
}

/// The units a task is assigned to, and the parts of its addressee that
/// named no unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct Assignment {
    /// Unit ids, in unit-tree order.
    pub units: Vec<String>,
    /// Phrases of the addressee that matched no unit.
    pub unmatched: Vec<String>,
}

/// Abbreviations of conclusions, folded, and what they stand for.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("hdnd", "hoi dong nhan dan"),
    ("ubnd", "uy ban nhan dan"),
    ("mttq", "mat tran to quoc"),
    ("qcdc", "quy che dan chu"),
    ("llvt", "luc luong vu trang"),
    ("gpmb", "giai phong mat bang"),
    ("ccb", "cuu chien binh"),
    ("tncs", "thanh nien cong san"),
];

/// Names of whole kinds of organization (folded) and the `group` of the
/// unit tree they stand for.
const GROUP_NAMES: &[(&str, &str)] = &[
    ("to chuc chinh tri xa hoi", "doan-the"),
    ("doan the", "doan-the"),
    ("luc luong vu trang", "llvt"),
    ("hoi dong nhan dan", "hdnd"),
    ("uy ban nhan dan", "ubnd"),
    ("mat tran to quoc", "mttq"),
    ("ban chi dao", "ban-chi-dao"),
];

/// Folds, drops punctuation and expands abbreviations: a name as words.
fn words(text: &str) -> String {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            ABBREVIATIONS
                .iter()
                .find(|(a, _)| *a == w)
                .map(|(_, full)| *full)
                .unwrap_or(w)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn has_words(hay: &str, needle: &str) -> bool {
    format!(" {hay} ").contains(&format!(" {needle} "))
}

/// Finds the units an addressee names: by the units' names first, then by
/// the kind of organization (a `group` of the tree), then "các xã, phường"
/// (every commune-level unit). `within` limits the search to a unit's
/// roll-up, e.g. the town that issued the conclusion.
pub fn assign_units(addressee: &str, tree: &UnitTree, within: Option<&str>) -> Assignment {
    let scope = within.map(|w| tree.rollup(w));
    let candidates: Vec<&danvan_model::Unit> = tree
        .units()
        .iter()
        .filter(|u| u.merged_into.is_none())
        .filter(|u| scope.as_ref().is_none_or(|s| s.contains(&u.id)))
        .collect();
    let parent_kind = |u: &danvan_model::Unit| {
        u.parent
            .as_deref()
            .and_then(|p| tree.get(p))
            .map(|p| p.kind)
    };
    // "xã, phường" is one designation, not two phrases.
    let folded = fold(addressee)
        .replace("xa, phuong", "xa phuong")
        .replace("phuong, xa", "phuong xa");
    let mut out = Assignment::default();
    let mut found: Vec<String> = Vec::new();
    for raw in folded.split([',', ';', '+']).flat_map(|p| p.split(" va ")) {
        let phrase = words(raw);
        if phrase.is_empty() {
            continue;
        }
        let commune_level = has_words(&phrase, "xa phuong")
            || has_words(&phrase, "phuong xa")
            || has_words(&phrase, "cac xa")
            || has_words(&phrase, "cac phuong");
        let names: Vec<(&danvan_model::Unit, String)> =
            candidates.iter().map(|u| (*u, words(&u.name))).collect();
        let mut matched: Vec<&danvan_model::Unit> = names
            .iter()
            .filter(|(_, n)| *n == phrase)
            .map(|(u, _)| *u)
            .collect();
        if matched.is_empty() && !commune_level {
            matched = names
                .iter()
                .filter(|(_, n)| n.contains(' ') && has_words(&phrase, n))
                .map(|(u, _)| *u)
                .collect();
        }
        if matched.is_empty() && !commune_level && phrase.split(' ').count() >= 3 {
            matched = names
                .iter()
                .filter(|(_, n)| has_words(n, &phrase))
                .map(|(u, _)| *u)
                .collect();
        }
        if matched.is_empty()
            && let Some((_, group)) = GROUP_NAMES.iter().find(|(g, _)| has_words(&phrase, g))
        {
            matched = candidates
                .iter()
                .filter(|u| u.group.as_deref() == Some(*group))
                .filter(|u| parent_kind(u).is_some_and(UnitKind::is_commune_level) == commune_level)
                .copied()
                .collect();
        }
        if matched.is_empty() && commune_level {
            let wards = !has_words(&phrase, "cac xa") || has_words(&phrase, "phuong");
            let communes = !has_words(&phrase, "cac phuong") || has_words(&phrase, "xa");
            matched = candidates
                .iter()
                .filter(|u| {
                    (wards && u.kind == UnitKind::Ward) || (communes && u.kind == UnitKind::Commune)
                })
                .copied()
                .collect();
        }
        if matched.is_empty() {
            out.unmatched.push(raw.trim().to_string());
        }
        found.extend(matched.into_iter().map(|u| u.id.clone()));
    }
    out.units = tree
        .units()
        .iter()
        .filter(|u| found.contains(&u.id))
        .map(|u| u.id.clone())
        .collect();
    // Report the addressee's own words, not the folded ones.
    if !out.unmatched.is_empty() {
        out.unmatched = vec![addressee.trim().to_string()];
    }
    out
}
