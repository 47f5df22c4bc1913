//! Admission of a received change into a document: the checks every
//! receiver makes, after the signature ([`SignedChange::verify`]) and before
//! anything is stored.
//!
//! - its dependencies are held: a store only ever holds changes whose
//!   ancestors it holds, so every change feed is in causal order and the
//!   record's header is known when a change arrives;
//! - a document's first change creates it: it writes a header naming this
//!   document and the signer as creator;
//! - no later change touches the header (kind, unit, project, id, creator):
//!   who may read and write a record is fixed at its creation;
//! - the caller's policy (the roster) allows the signer to write a record
//!   with that header. The header's unit is never rewritten: the policy
//!   resolves it through the unit changes in force on the day of the check
//!   (`SignedRoster::check_write_on`), so a record made under a commune
//!   that merged since is judged as a record of the merged unit.

use automerge::{Automerge, ROOT, Value};

use crate::identity::{ChangeError, SignedChange};
use crate::roster::DocScope;

/// The fixed part of a document's header and where it lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocHeader {
    /// Kind code.
    pub kind: String,
    /// Owning unit.
    pub unit: String,
    /// Project (households).
    pub project: Option<String>,
    /// The header map object: (counter, actor bytes).
    pub(crate) object: (u64, Vec<u8>),
}

impl DocHeader {
    /// The scope the roster decides on.
    pub fn scope(&self) -> DocScope<'_> {
        DocScope {
            kind: &self.kind,
            unit: &self.unit,
            project: self.project.as_deref(),
        }
    }

    /// Reads the header of a document; `None` when it has none, or more
    /// than one (two concurrent creations).
    pub fn of(doc: &Automerge) -> Option<DocHeader> {
        DocHeader::read(doc).map(|(header, _)| header)
    }

    /// [`DocHeader::of`] with the whole header it was read from (the
    /// record's id and creator too), read once.
    fn read(doc: &Automerge) -> Option<(DocHeader, crate::records::Header)> {
        let reader = crate::records::CachedDoc::new(doc);
        // Exactly one value (the root is always a map: the cached read of
        // it says so without a `get_all`); no value at all is caught below.
        if reader.conflicted(&ROOT, "header") != Some(false) {
            return None;
        }
        let (Value::Object(automerge::ObjType::Map), automerge::ObjId::Id(counter, actor, _)) =
            autosurgeon::ReadDoc::get(&reader, &ROOT, "header").ok()??
        else {
            return None;
        };
        let full = crate::records::read_header_from(&reader).ok()?;
        let header = DocHeader {
            kind: full.kind.clone(),
            unit: full.unit.clone(),
            project: full.project.clone(),
            object: (counter, actor.to_bytes().to_vec()),
        };
        Some((header, full))
    }
}

/// A change [`admit_change`] let in.
#[derive(Debug)]
pub struct Admitted {
    /// The document's header (for a creation: the one it writes).
    pub header: DocHeader,
    /// For a creation: the new document with the change already applied,
    /// to use instead of applying it again.
    pub created: Option<Automerge>,
}

/// Checks one received change against the document as stored (plus the
/// changes admitted before it in the same batch). `header` is the
/// document's header, `None` while it has none (then the change must
/// create the record).
///
/// `allow` is the write policy for the signer on that header. The caller
/// applies the change to `doc` only when this returns `Ok`.
pub fn admit_change(
    doc: &Automerge,
    header: Option<&DocHeader>,
    signed: &SignedChange,
    change: &automerge::Change,
    allow: impl FnOnce(&DocScope<'_>) -> Result<(), ChangeError>,
) -> Result<Admitted, ChangeError> {
    admit_change_prepared(doc, header, signed, change, None, allow)
}

/// What [`admit_change`] makes of a change when it is a document's first:
/// its header checked against the signer and the document id, and the new
/// document. It reads nothing but the change, so a receiver may compute it
/// for each change without dependencies on another thread, ahead of the
/// admission ([`admit_change_prepared`]).
pub fn prepare_creation(
    signed: &SignedChange,
    change: &automerge::Change,
) -> Result<Admitted, ChangeError> {
    creation(signed, change)
}

/// [`admit_change`] with the change's [`prepare_creation`] already
/// computed, if it was: used only when the change must create the
/// document, in place of computing it again; every other check is the same.
pub fn admit_change_prepared(
    doc: &Automerge,
    header: Option<&DocHeader>,
    signed: &SignedChange,
    change: &automerge::Change,
    prepared: Option<Result<Admitted, ChangeError>>,
    allow: impl FnOnce(&DocScope<'_>) -> Result<(), ChangeError>,
) -> Result<Admitted, ChangeError> {
    for dep in change.deps() {
        if doc.get_change_meta_by_hash(dep).is_none() {
            return Err(ChangeError::MissingDeps);
        }
    }
    let admitted = match header {
        Some(header) => {
            touches_header(change, header)?;
            Admitted {
                header: header.clone(),
                created: None,
            }
        }
        // A stored document without one readable header (none could be
        // admitted) takes no more changes.
        None if !doc.get_heads().is_empty() => {
            return Err(ChangeError::Header(
                "hồ sơ đang lưu không có phần đầu hợp lệ".into(),
            ));
        }
        None => prepared.unwrap_or_else(|| creation(signed, change))?,
    };
    allow(&admitted.header.scope())?;
    Ok(admitted)
}

/// A document the store holds nothing of, built whole from its received
/// changes ([`admit_new`]).
#[derive(Debug)]
pub struct NewDocument {
    /// The header the document's creation wrote (`None` when no change was
    /// admitted).
    pub header: Option<DocHeader>,
    /// The document with every admitted change applied.
    pub doc: Automerge,
    /// Per change, in the order given: whether the rules let it in.
    pub verdicts: Vec<Result<(), ChangeError>>,
}

/// What [`admit_change`] would decide for each of a document's changes, in
/// order, starting from an empty document and applying each change it
/// admits before the next — with a policy that allows every change: the
/// caller then asks its policy about each admitted change on the header
/// (every change of a document has the same one), and must take the
/// changes one at a time through [`admit_change`] instead if the policy
/// refuses any, since a refused change leaves its dependents missing.
///
/// The admitted changes are applied in one `apply_changes` call instead of
/// one at a time. `None` when that fails or panics (two changes with one
/// actor and sequence number, say): the caller then takes the changes one
/// at a time, which refuses the offending one alone. Each item is a change
/// with its parse and, for a change without dependencies, its
/// [`prepare_creation`] if already computed.
///
/// When nothing was prepared, every change parses, each one's dependencies
/// come before it and the first creates the document, the whole list —
/// creation included — is applied in one call and checked afterwards
/// ([`admit_at_once`]): a quarter less of Automerge's work than the
/// creation alone and then the rest. Anything else, and any check that
/// fails there, takes the way below, which decides each change in order.
pub fn admit_new<'a>(
    changes: impl IntoIterator<
        Item = (
            &'a SignedChange,
            Result<automerge::Change, ChangeError>,
            Option<Result<Admitted, ChangeError>>,
        ),
    >,
) -> Option<NewDocument> {
    let changes: Vec<_> = changes.into_iter().collect();
    if let Some(new) = admit_at_once(&changes) {
        return Some(new);
    }
    admit_in_order(changes)
}

/// One item of [`admit_new`]'s list.
type NewItem<'a> = (
    &'a SignedChange,
    Result<automerge::Change, ChangeError>,
    Option<Result<Admitted, ChangeError>>,
);

/// [`admit_new`]'s shortcut: every change admitted, or `None` to decide
/// them one by one. Sound because it lets in exactly what the in-order way
/// lets in when every change passes there: the in-order way reads the
/// header from the creation alone and then requires that no later change
/// puts the root's `header` or touches that header's map; here the header
/// is read from the document with every change applied, and the same is
/// required of every later change against it — which holds only if the
/// root's `header` is still the creation's object and nothing changed its
/// map, so both ways read the same header and check the same creation.
fn admit_at_once(changes: &[NewItem<'_>]) -> Option<NewDocument> {
    let (first, _, _) = changes.first()?;
    let mut admitted = std::collections::HashSet::new();
    let mut parsed = Vec::with_capacity(changes.len());
    for (_, change, prepared) in changes {
        let Ok(change) = change else {
            return None;
        };
        // A prepared creation has its document built already; a repeated
        // change, a dependency not before it: the in-order way decides.
        if prepared.is_some()
            || change.deps().iter().any(|dep| !admitted.contains(dep))
            || !admitted.insert(change.hash())
        {
            return None;
        }
        parsed.push(change.clone());
    }
    if !parsed[0].deps().is_empty() {
        return None;
    }
    let mut doc = Automerge::new();
    let applied =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes(parsed)));
    if !matches!(applied, Ok(Ok(()))) {
        return None;
    }
    let header = created_header(first, &doc).ok()?;
    let touched = changes[1..].iter().any(|(_, change, _)| {
        change
            .as_ref()
            .is_ok_and(|change| touches_header(change, &header).is_err())
    });
    if touched {
        return None;
    }
    Some(NewDocument {
        header: Some(header),
        doc,
        verdicts: changes.iter().map(|_| Ok(())).collect(),
    })
}

/// [`admit_new`] deciding each change in order (see there).
fn admit_in_order(changes: Vec<NewItem<'_>>) -> Option<NewDocument> {
    let mut header: Option<DocHeader> = None;
    let mut doc = Automerge::new();
    // Hashes admitted so far: on an empty document, exactly the changes
    // `doc.get_change_meta_by_hash` would find once applied.
    let mut admitted = std::collections::HashSet::new();
    let mut later = Vec::new();
    let mut verdicts = Vec::new();
    for (signed, parsed, prepared) in changes {
        let verdict = parsed.and_then(|change| {
            if change.deps().iter().any(|dep| !admitted.contains(dep)) {
                return Err(ChangeError::MissingDeps);
            }
            match &header {
                Some(header) => {
                    touches_header(&change, header)?;
                    admitted.insert(change.hash());
                    later.push(change);
                }
                None => {
                    let created = prepared.unwrap_or_else(|| creation(signed, &change))?;
                    doc = created.created.ok_or(ChangeError::NotCreation)?;
                    admitted.insert(change.hash());
                    header = Some(created.header);
                }
            }
            Ok(())
        });
        verdicts.push(verdict);
    }
    if !later.is_empty() {
        let applied =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.apply_changes(later)));
        if !matches!(applied, Ok(Ok(()))) {
            return None;
        }
    }
    Some(NewDocument {
        header,
        doc,
        verdicts,
    })
}

/// The document a first change creates, with its header checked.
fn creation(signed: &SignedChange, change: &automerge::Change) -> Result<Admitted, ChangeError> {
    let mut trial = Automerge::new();
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        trial.apply_changes([change.clone()])
    }));
    if !matches!(applied, Ok(Ok(()))) {
        return Err(ChangeError::NotCreation);
    }
    Ok(Admitted {
        header: created_header(signed, &trial)?,
        created: Some(trial),
    })
}

/// The header a document's creation by `signed` wrote, read from `doc`,
/// checked: it names this document, the signer as creator and a known
/// kind.
fn created_header(signed: &SignedChange, doc: &Automerge) -> Result<DocHeader, ChangeError> {
    let (header, full) = DocHeader::read(doc).ok_or(ChangeError::NotCreation)?;
    if full.id != signed.doc.to_string() {
        return Err(ChangeError::Header(format!(
            "phần đầu ghi mã hồ sơ {} nhưng thay đổi thuộc hồ sơ {}",
            full.id, signed.doc
        )));
    }
    if full.creator != signed.author.to_string() {
        return Err(ChangeError::Header(format!(
            "phần đầu ghi người tạo {} nhưng người ký là {}",
            full.creator.get(..8).unwrap_or(&full.creator),
            signed.author.short()
        )));
    }
    if crate::records::Kind::parse(&header.kind).is_err() {
        return Err(ChangeError::Header(format!(
            "loại hồ sơ không rõ: {}",
            header.kind
        )));
    }
    Ok(header)
}

/// Refuses a change with an operation on the header map, or one that puts
/// a new `header` at the root.
fn touches_header(change: &automerge::Change, header: &DocHeader) -> Result<(), ChangeError> {
    use automerge::legacy::{Key, ObjectId};
    for op in change.decode().operations {
        let on_header = match &op.obj {
            ObjectId::Root => matches!(&op.key, Key::Map(k) if k == "header"),
            ObjectId::Id(id) => {
                id.0 == header.object.0 && id.1.to_bytes() == header.object.1.as_slice()
            }
        };
        if on_header {
            return Err(ChangeError::Header(
                "thay đổi sửa phần đầu hồ sơ (loại, đơn vị, dự án không được đổi sau khi tạo)"
                    .into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Activity, Header, Kind, Record};
    use crate::{DocId, NodeKey, vocab};
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;

    /// A creation of `doc` by `signer`'s actor, its header naming `creator`
    /// and `named` as the document, of kind `kind`.
    fn created(signer: &NodeKey, creator: &NodeKey, named: DocId, kind: &str) -> Automerge {
        let record = Record::Activity(Activity {
            header: Header {
                id: named.to_string(),
                kind: Kind::Activity.code().into(),
                unit: "pho-minh".into(),
                project: None,
                schema: crate::SCHEMA_VERSION,
                creator: creator.id().to_string(),
                created_at: 1_690_000_000_000,
            },
            activity_type: vocab::ACTIVITY_RECEPTION.into(),
            date: "2025-08-03".into(),
            title: "Tiếp công dân định kỳ".into(),
            place: None,
            organizers: None,
            attendance: None,
            citizens: None,
            matters: None,
            summary: None,
            results: None,
            petitions: Vec::new(),
            tasks: Vec::new(),
        });
        let mut am = Automerge::new().with_actor(signer.actor(&[1; 8]));
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            crate::write_new(tx, &record).expect("writing the record");
            if kind != Kind::Activity.code() {
                let (_, header) = tx.get(ROOT, "header")?.expect("a header");
                tx.put(&header, "kind", kind)?;
            }
            Ok(())
        })
        .expect("the creation");
        am
    }

    /// One edit of `am`: the title, or (by `what`) the header's unit, or a
    /// new header at the root.
    fn edit(am: &mut Automerge, what: &str, n: usize) {
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            match what {
                "unit" => {
                    let (_, header) = tx.get(ROOT, "header")?.expect("a header");
                    tx.put(&header, "unit", "phu-my")?;
                }
                "root header" => {
                    tx.put_object(ROOT, "header", automerge::ObjType::Map)?;
                }
                _ => tx.put(ROOT, "title", format!("Họp dân lần {n}"))?,
            }
            Ok(())
        })
        .expect("the edit");
    }

    /// Every change of `am` after `after`, signed by `key` for `doc`.
    fn signed(
        am: &mut Automerge,
        after: &[automerge::ChangeHash],
        key: &NodeKey,
        doc: DocId,
    ) -> Vec<SignedChange> {
        am.get_changes(after)
            .into_iter()
            .map(|mut c| key.sign_change(&doc, &mut c))
            .collect()
    }

    fn items(changes: &[SignedChange]) -> Vec<NewItem<'_>> {
        changes
            .iter()
            .map(|c| {
                (
                    c,
                    automerge::Change::try_from(c.body.as_slice())
                        .map_err(|_| ChangeError::Malformed("x".into())),
                    None,
                )
            })
            .collect()
    }

    /// What a decision comes to, comparable: verdicts, header, the
    /// document's heads and record.
    type Outcome = (
        Vec<String>,
        Option<DocHeader>,
        Vec<automerge::ChangeHash>,
        String,
    );

    fn outcome(new: Option<NewDocument>) -> Option<Outcome> {
        new.map(|new| {
            let mut heads = new.doc.get_heads();
            heads.sort();
            (
                new.verdicts.iter().map(|v| format!("{v:?}")).collect(),
                new.header,
                heads,
                format!("{:?}", crate::read_record(&new.doc)),
            )
        })
    }

    /// The shortcut decides exactly as the in-order way whenever it
    /// decides at all, and declines every list where some change is not
    /// admitted: a later change touching the header or putting a new one,
    /// a creation naming another document or creator or an unknown kind,
    /// a missing dependency, a repeated or unreadable change.
    #[test]
    fn all_at_once_decides_as_in_order_or_declines() {
        let (a, b) = (NodeKey::from_secret([1; 32]), NodeKey::from_secret([2; 32]));
        let doc = DocId::from_bytes([7; 16]);
        let other = DocId::from_bytes([8; 16]);
        let activity = Kind::Activity.code();
        // (case, whether every change is admitted)
        let mut cases: Vec<(&str, Vec<SignedChange>, bool)> = Vec::new();
        for edits in 0..4 {
            let mut am = created(&a, &a, doc, activity);
            for n in 0..edits {
                edit(&mut am, "title", n);
            }
            cases.push(("plain", signed(&mut am, &[], &a, doc), true));
        }
        // Two authors, concurrent edits.
        let mut am = created(&a, &a, doc, activity);
        let mut fork = am.fork().with_actor(b.actor(&[2; 8]));
        edit(&mut am, "title", 1);
        edit(&mut fork, "title", 2);
        let base = signed(&mut am.clone(), &[], &a, doc);
        let heads = vec![automerge::ChangeHash(base[0].hash)];
        let mut two = base.clone();
        two.extend(signed(&mut fork, &heads, &b, doc));
        cases.push(("two authors", two, true));
        for what in ["unit", "root header"] {
            let mut am = created(&a, &a, doc, activity);
            edit(&mut am, "title", 1);
            edit(&mut am, what, 2);
            edit(&mut am, "title", 3);
            cases.push((what, signed(&mut am, &[], &a, doc), false));
        }
        for (name, creator, named, kind) in [
            ("other document", &a, other, activity),
            ("other creator", &b, doc, activity),
            ("unknown kind", &a, doc, "khong-ro"),
        ] {
            let mut am = created(&a, creator, named, kind);
            edit(&mut am, "title", 1);
            cases.push((name, signed(&mut am, &[], &a, doc), false));
        }
        let mut am = created(&a, &a, doc, activity);
        for n in 0..3 {
            edit(&mut am, "title", n);
        }
        let all = signed(&mut am, &[], &a, doc);
        let mut missing = all.clone();
        missing.remove(1);
        cases.push(("missing dependency", missing, false));
        let mut repeated = all.clone();
        repeated.push(all[1].clone());
        cases.push(("repeated", repeated, false));
        let mut unreadable = all.clone();
        unreadable[2].body = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3];
        cases.push(("unreadable", unreadable, false));
        for (name, changes, admitted) in cases {
            let shortcut = admit_at_once(&items(&changes));
            assert_eq!(shortcut.is_some(), admitted, "{name}");
            let in_order = outcome(admit_in_order(items(&changes)));
            if let Some(new) = shortcut {
                assert!(new.verdicts.iter().all(Result::is_ok), "{name}");
                assert_eq!(outcome(Some(new)), in_order, "{name}");
            } else if name != "repeated" {
                let verdicts = &in_order.as_ref().expect("decided in order").0;
                assert!(
                    verdicts.iter().any(|v| v.starts_with("Err")),
                    "{name}: {verdicts:?}"
                );
            }
            assert_eq!(outcome(admit_new(items(&changes))), in_order, "{name}");
        }
    }
}
