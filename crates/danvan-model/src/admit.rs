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
pub fn admit_new<'a>(
    changes: impl IntoIterator<
        Item = (
            &'a SignedChange,
            Result<automerge::Change, ChangeError>,
            Option<Result<Admitted, ChangeError>>,
        ),
    >,
) -> Option<NewDocument> {
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
    let (header, full) = DocHeader::read(&trial).ok_or(ChangeError::NotCreation)?;
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
    Ok(Admitted {
        header,
        created: Some(trial),
    })
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
