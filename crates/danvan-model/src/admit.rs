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
    /// Every value of the header map, concurrent ones included: the ids of
    /// the operations that wrote them. A later change may not name one as
    /// an operation it overwrites ([`touches_header`]).
    pub(crate) values: Vec<(u64, Vec<u8>)>,
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
        let (Value::Object(automerge::ObjType::Map), object) =
            autosurgeon::ReadDoc::get(&reader, &ROOT, "header").ok()??
        else {
            return None;
        };
        let automerge::ObjId::Id(counter, actor, _) = &object else {
            return None;
        };
        let full = crate::records::read_header_from(&reader).ok()?;
        let values = reader
            .value_ids(&object)?
            .into_iter()
            .filter_map(|id| match id {
                automerge::ObjId::Id(counter, actor, _) => {
                    Some((counter, actor.to_bytes().to_vec()))
                }
                automerge::ObjId::Root => None,
            })
            .collect();
        let header = DocHeader {
            kind: full.kind.clone(),
            unit: full.unit.clone(),
            project: full.project.clone(),
            object: (*counter, actor.to_bytes().to_vec()),
            values,
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
    after_deps(change, |dep| {
        doc.get_change_meta_by_hash(dep).map(|meta| meta.max_op)
    })?;
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
/// come before it, the first creates the document and one call reads the
/// list as the in-order way would, the whole list — creation included —
/// is applied in one call and checked afterwards ([`admit_at_once`]): a
/// quarter less of Automerge's work than the creation alone and then the
/// rest. Anything else, and any check that fails there, is decided change
/// by change in order.
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
/// them one by one. It must let in only what the in-order way lets in,
/// reading the same document; it declines everything it cannot show reads
/// alike:
///
/// - The in-order way reads the header from the creation alone and then
///   requires that no later change puts the root's `header`, touches that
///   header's map or names one of its operations as overwritten
///   ([`touches_header`]); here the header is read from the document with
///   every change applied, and the same is required of every later change
///   against it.
/// - Automerge applies the operations of one call together: a `pred`
///   naming any operation of that call is honoured, whatever its object,
///   while an operation already in the document is met only in the object
///   being written. The in-order way has the creation in the document
///   when the later changes come; this way applies it in the same call,
///   and then the creation's own references could also reach the later
///   changes' operations. So ([`overwrites_in_place`]) the creation must
///   refer to no operation but its own; every `pred` of a later operation
///   that names one of the creation's operations must name one on the same
///   object and key, neither an insertion (a plain overwrite — what every
///   honest edit of a created field is); and no later change of the
///   creation's actor may start at or below the creation's last operation
///   id.
/// - An operation Automerge finds no place for (a key that does not fit
///   its object) is dropped or slipped in with whatever operations follow
///   it in the same call, which differ between the two ways: every
///   operation must have its place ([`placed`]).
///
/// Anything else — a `pred` across objects or keys, one naming a list
/// element's insertion, a misplaced operation — declines, and the in-order
/// way decides. With these, the root's `header` is the creation's map with
/// the creation's values in both documents, both ways read the same header
/// and check the same creation, and every operation lands where it does
/// the in-order way and meets the same operations it overwrites (three
/// reviews' crafted records and fuzzing of both ways found no other
/// difference). A panic in Automerge declines too.
fn admit_at_once(changes: &[NewItem<'_>]) -> Option<NewDocument> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| at_once(changes)))
        .ok()
        .flatten()
}

/// [`admit_at_once`] without its guard against panics.
fn at_once(changes: &[NewItem<'_>]) -> Option<NewDocument> {
    let (first, _, _) = changes.first()?;
    // Each change taken so far, with its last operation id.
    let mut admitted = std::collections::HashMap::new();
    let mut parsed = Vec::with_capacity(changes.len());
    for (_, change, prepared) in changes {
        let Ok(change) = change else {
            return None;
        };
        // A prepared creation has its document built already; a repeated
        // change, a dependency not before it: the in-order way decides.
        if prepared.is_some()
            || after_deps(change, |dep| admitted.get(dep).copied()).is_err()
            || admitted.insert(change.hash(), change.max_op()).is_some()
        {
            return None;
        }
        parsed.push(change);
    }
    let (creation, later) = parsed.split_first()?;
    if !creation.deps().is_empty() {
        return None;
    }
    let later: Vec<automerge::ExpandedChange> = later.iter().map(|c| c.decode()).collect();
    let expanded = creation.decode();
    if !overwrites_in_place(&expanded, &later) || !placed(&expanded, &later) {
        return None;
    }
    let mut doc = Automerge::new();
    doc.apply_changes(parsed.into_iter().cloned()).ok()?;
    let header = created_header(first, &doc).ok()?;
    if later
        .iter()
        .any(|change| header_ops(&change.operations, &header).is_err())
    {
        return None;
    }
    Some(NewDocument {
        header: Some(header),
        doc,
        verdicts: changes.iter().map(|_| Ok(())).collect(),
    })
}

/// Whether one call reads `creation` and `later` as the in-order way does
/// ([`admit_at_once`]): the creation refers to no operation but its own
/// (the object, list element and `pred` of each of its operations: applied
/// alone it can name nothing else, applied with the later changes it could
/// name theirs); every operation of `later` that names one of the
/// creation's operations as overwritten names one on its own object and
/// key, neither an insertion; and no change of `later` by the creation's
/// actor starts at or below the creation's last operation id.
fn overwrites_in_place(
    creation: &automerge::ExpandedChange,
    later: &[automerge::ExpandedChange],
) -> bool {
    use automerge::legacy::{ElementId, Key, ObjectId, OpId};
    let actor = &creation.actor_id;
    let start = creation.start_op.get();
    let created = &creation.operations;
    // The last operation id (below `start` for a change of no operations;
    // `start` is at least 1).
    let end = start + created.len() as u64 - 1;
    let own = |id: &OpId| id.1 == *actor && (start..=end).contains(&id.0);
    let self_contained = created.iter().all(|op| {
        let obj = match &op.obj {
            ObjectId::Root => true,
            ObjectId::Id(id) => own(id),
        };
        let elem = match &op.key {
            Key::Map(_) | Key::Seq(ElementId::Head) => true,
            Key::Seq(ElementId::Id(id)) => own(id),
        };
        obj && elem && op.pred.iter().all(own)
    });
    if !self_contained {
        return false;
    }
    for change in later {
        if change.actor_id == *actor && change.start_op.get() <= end {
            return false;
        }
        for op in &change.operations {
            for pred in op.pred.iter().filter(|pred| own(pred)) {
                let Some(overwritten) = usize::try_from(pred.0 - start)
                    .ok()
                    .and_then(|i| created.get(i))
                else {
                    return false;
                };
                if overwritten.insert
                    || op.insert
                    || overwritten.obj != op.obj
                    || overwritten.key != op.key
                {
                    return false;
                }
            }
        }
    }
    true
}

/// Whether every operation of the creation and of `later` has a place
/// Automerge can find for it on its own ([`admit_at_once`]): its object is
/// the root or one these changes make, a map's operation has a key, and a
/// list's or text's a position — the head only for an insertion, else an
/// element these changes insert into that same object; a mark only as an
/// insertion ([`loose_mark`]). Automerge's batch apply gives an operation
/// that fits none of these no place: it drops it,
/// or slips it in with the operations placed after it in the same call —
/// which are not the same ones when the creation is applied alone and when
/// it is applied with the rest. Every honest change fits; what does not is
/// decided the in-order way.
fn placed(creation: &automerge::ExpandedChange, later: &[automerge::ExpandedChange]) -> bool {
    use automerge::legacy::{ElementId, Key, ObjectId, OpType};
    let changes = std::iter::once(creation).chain(later);
    // Operation ids as (counter, actor), borrowing the changes' actors.
    let mut objects = std::collections::HashMap::new();
    let mut elements = std::collections::HashSet::new();
    for change in changes.clone() {
        let start = change.start_op.get();
        for (counter, op) in (start..).zip(&change.operations) {
            let id = (counter, &change.actor_id);
            if let OpType::Make(kind) = op.action {
                objects.insert(id, kind);
            }
            if op.insert {
                elements.insert((id, &op.obj));
            }
        }
    }
    changes.flat_map(|change| &change.operations).all(|op| {
        let kind = match &op.obj {
            ObjectId::Root => automerge::ObjType::Map,
            ObjectId::Id(id) => match objects.get(&(id.0, &id.1)) {
                Some(kind) => *kind,
                None => return false,
            },
        };
        if loose_mark(op) {
            return false;
        }
        match (&op.key, kind) {
            (Key::Map(_), automerge::ObjType::Map | automerge::ObjType::Table) => !op.insert,
            (Key::Seq(ElementId::Head), automerge::ObjType::List | automerge::ObjType::Text) => {
                op.insert
            }
            (Key::Seq(ElementId::Id(e)), automerge::ObjType::List | automerge::ObjType::Text) => {
                elements.contains(&((e.0, &e.1), &op.obj))
            }
            _ => false,
        }
    })
}

/// [`admit_new`] deciding each change in order (see there).
fn admit_in_order(changes: Vec<NewItem<'_>>) -> Option<NewDocument> {
    let mut header: Option<DocHeader> = None;
    let mut doc = Automerge::new();
    // Hashes admitted so far, with each one's last operation id: on an
    // empty document, exactly the changes `doc.get_change_meta_by_hash`
    // would find once applied.
    let mut admitted = std::collections::HashMap::new();
    let mut later = Vec::new();
    let mut verdicts = Vec::new();
    for (signed, parsed, prepared) in changes {
        let verdict = parsed.and_then(|change| {
            after_deps(&change, |dep| admitted.get(dep).copied())?;
            match &header {
                Some(header) => {
                    touches_header(&change, header)?;
                    admitted.insert(change.hash(), change.max_op());
                    later.push(change);
                }
                None => {
                    let created = prepared.unwrap_or_else(|| creation(signed, &change))?;
                    doc = created.created.ok_or(ChangeError::NotCreation)?;
                    admitted.insert(change.hash(), change.max_op());
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

/// Refuses a change whose dependencies are not all held
/// (`max_op_of` gives a held change's last operation id), or whose first
/// operation id is not above every one of theirs. Automerge numbers a
/// change's operations after everything it has seen, so an honest change
/// always is; a crafted one below is applied, and Automerge then panics
/// listing the document's changes.
fn after_deps(
    change: &automerge::Change,
    max_op_of: impl Fn(&automerge::ChangeHash) -> Option<u64>,
) -> Result<(), ChangeError> {
    let start = change.start_op().get();
    for dep in change.deps() {
        let max_op = max_op_of(dep).ok_or(ChangeError::MissingDeps)?;
        if start <= max_op {
            return Err(ChangeError::Malformed(format!(
                "thao tác đầu tiên của thay đổi mang số {start}, không lớn hơn số {max_op} của thay đổi trước nó"
            )));
        }
    }
    Ok(())
}

/// The document a first change creates, with its header checked.
fn creation(signed: &SignedChange, change: &automerge::Change) -> Result<Admitted, ChangeError> {
    // Automerge may panic on a crafted change (applying it or reading the
    // document): that change creates nothing.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        marks_inserted(&change.decode().operations)?;
        let mut trial = Automerge::new();
        trial
            .apply_changes([change.clone()])
            .map_err(|_| ChangeError::NotCreation)?;
        Ok(Admitted {
            header: created_header(signed, &trial)?,
            created: Some(trial),
        })
    }))
    .unwrap_or(Err(ChangeError::NotCreation))
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

/// Refuses a change with an operation on the header map, one that puts a
/// new `header` at the root, or one that names the header map or one of its
/// values as an operation it overwrites (its `pred`), whatever object the
/// operation itself is on. Automerge applies such a cross-object `pred`
/// only when it applies the header's operations in the same call (a store
/// loading the document from its changes), not when the header is already
/// in the document (admission): the header the roster judged would not be
/// the one read later. An honest change never names another object's
/// operation.
fn touches_header(change: &automerge::Change, header: &DocHeader) -> Result<(), ChangeError> {
    let ops = change.decode().operations;
    marks_inserted(&ops)?;
    header_ops(&ops, header)
}

/// Refuses a change with a mark (`MarkBegin`, `MarkEnd`) that is not an
/// insertion at a position of a list or text: honest Automerge writes
/// marks only so, danvan's records hold none, and Automerge places any
/// other as the rest of its call happens to fall (and, given one at a map
/// key, panics while unwinding in a debug build — an abort).
fn marks_inserted(ops: &[automerge::legacy::Op]) -> Result<(), ChangeError> {
    if ops.iter().any(loose_mark) {
        return Err(ChangeError::Malformed(
            "dấu định dạng (mark) không nằm ở một vị trí chèn của danh sách".into(),
        ));
    }
    Ok(())
}

/// Whether `op` is a mark that is not an insertion at a list position
/// ([`marks_inserted`]).
fn loose_mark(op: &automerge::legacy::Op) -> bool {
    use automerge::legacy::{Key, OpType};
    matches!(op.action, OpType::MarkBegin(..) | OpType::MarkEnd(..))
        && !(op.insert && matches!(op.key, Key::Seq(_)))
}

/// [`touches_header`] on a change's decoded operations.
fn header_ops(ops: &[automerge::legacy::Op], header: &DocHeader) -> Result<(), ChangeError> {
    use automerge::legacy::{Key, ObjectId, OpId};
    let is = |id: &OpId, (counter, actor): &(u64, Vec<u8>)| {
        id.0 == *counter && id.1.to_bytes() == actor.as_slice()
    };
    for op in ops {
        let on_header = match &op.obj {
            ObjectId::Root => matches!(&op.key, Key::Map(k) if k == "header"),
            ObjectId::Id(id) => is(id, &header.object),
        };
        let names_header = op.pred.iter().any(|pred| {
            is(pred, &header.object) || header.values.iter().any(|value| is(pred, value))
        });
        if on_header || names_header {
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
    use crate::records::{Kind, Record};
    use crate::{DocId, NodeKey};
    use automerge::ReadDoc;
    use automerge::legacy::{Key, ObjectId, OpId, SortedVec};
    use automerge::transaction::Transactable;

    /// A creation of `doc` by `signer`'s actor (the sample activity), its
    /// header naming `creator` and `named` as the document, of kind `kind`.
    fn created(signer: &NodeKey, creator: &NodeKey, named: DocId, kind: &str) -> Automerge {
        let mut record = crate::records::doc::tests::sample_records()
            .into_iter()
            .find(|r| matches!(r, Record::Activity(_)))
            .expect("a sample activity");
        if let Record::Activity(activity) = &mut record {
            activity.header.id = named.to_string();
            activity.header.creator = creator.id().to_string();
        }
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

    /// A new activity `doc` by `key` (the sample activity, made theirs),
    /// and `edits` title edits after it.
    fn record(key: &NodeKey, doc: DocId, edits: usize) -> Automerge {
        let mut am = created(key, key, doc, Kind::Activity.code());
        for n in 0..edits {
            edit(&mut am, "title", n);
        }
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
                let parsed = automerge::Change::try_from(c.body.as_slice())
                    .map_err(|_| ChangeError::Malformed("?".into()));
                (c, parsed, None)
            })
            .collect()
    }

    /// What a crafted title edit names as overwritten besides the title.
    enum Named {
        /// The value [`crafted_with`] added to the header.
        Added,
        /// The header map.
        HeaderMap,
        /// The creation's value of this root field.
        Root(&'static str),
        /// Nothing more, but the edit reuses the creation's operation ids.
        ReusedIds,
    }

    /// A creation of `doc` by `key`, with `add` (a header field and value)
    /// written a second time, concurrent with the first (no `pred`; the
    /// later op wins), then a title edit by the same author whose put also
    /// names `named` as an operation it overwrites.
    fn crafted_with(
        key: &NodeKey,
        doc: DocId,
        add: Option<(&str, &str)>,
        named: Named,
    ) -> Vec<SignedChange> {
        let am = record(key, doc, 1);
        let changes = am.get_changes(&[]);
        let mut creation = changes[0].decode();
        let actor = creation.actor_id.clone();
        let start = creation.start_op.get();
        let id_of = |creation: &automerge::ExpandedChange, obj: &ObjectId, field: &str| {
            let at = creation
                .operations
                .iter()
                .position(|op| op.obj == *obj && matches!(&op.key, Key::Map(k) if k == field))
                .expect("the creation writes the field");
            OpId(start + at as u64, actor.clone())
        };
        let header = id_of(&creation, &ObjectId::Root, "header");
        let mut named = match named {
            Named::HeaderMap => Some(header.clone()),
            Named::Root(field) => Some(id_of(&creation, &ObjectId::Root, field)),
            Named::Added | Named::ReusedIds => None,
        }
        .ok_or(named);
        if let Some((field, value)) = add {
            let at = id_of(&creation, &ObjectId::Id(header.clone()), field);
            let mut added = creation.operations[(at.0 - start) as usize].clone();
            added.action =
                automerge::legacy::OpType::Put(automerge::ScalarValue::Str(value.into()));
            added.pred = SortedVec::new();
            let added_id = OpId(start + creation.operations.len() as u64, actor.clone());
            creation.operations.push(added);
            if let Err(Named::Added) = named {
                named = Ok(added_id);
            }
        }
        let mut creation: automerge::Change = creation.into();
        let mut edit = changes[1].decode();
        edit.deps = vec![creation.hash()];
        edit.start_op = std::num::NonZeroU64::new(creation.max_op() + 1).expect("nonzero");
        match named {
            Ok(named) => {
                let title = edit
                    .operations
                    .iter_mut()
                    .find(|op| matches!(&op.key, Key::Map(k) if k == "title"))
                    .expect("the edit puts the title");
                let mut pred: Vec<OpId> = title.pred.iter().cloned().collect();
                pred.push(named);
                title.pred = pred.into();
            }
            Err(Named::ReusedIds) => edit.start_op = creation.start_op(),
            Err(_) => panic!("nothing added to name"),
        }
        let mut edit: automerge::Change = edit.into();
        vec![
            key.sign_change(&doc, &mut creation),
            key.sign_change(&doc, &mut edit),
        ]
    }

    /// A creation by `key` referring to an operation of the later change
    /// after it (by `later_actor`, a title edit or a new map at the root):
    /// its `date` names that edit as an operation it overwrites, or is
    /// written into that map (`into_later_object`).
    fn creation_reaching_later(
        key: &NodeKey,
        doc: DocId,
        later_actor: automerge::ActorId,
        into_later_object: bool,
    ) -> Vec<SignedChange> {
        let am = record(key, doc, 0);
        let first = am.get_changes(&[])[0].clone();
        let mut fork = am.fork().with_actor(later_actor);
        if into_later_object {
            fork.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put_object(ROOT, "extra", automerge::ObjType::Map)?;
                Ok(())
            })
            .expect("the later change");
        } else {
            edit(&mut fork, "title", 9);
        }
        let mut later = fork.get_changes(&[first.hash()])[0].decode();
        let later_op = OpId(later.start_op.get(), later.actor_id.clone());
        let mut creation = first.decode();
        let date = creation
            .operations
            .iter_mut()
            .find(|op| op.obj == ObjectId::Root && matches!(&op.key, Key::Map(k) if k == "date"))
            .expect("the creation writes the date");
        if into_later_object {
            date.obj = ObjectId::Id(later_op);
        } else {
            let mut pred: Vec<OpId> = date.pred.iter().cloned().collect();
            pred.push(later_op);
            date.pred = pred.into();
        }
        let mut creation: automerge::Change = creation.into();
        later.deps = vec![creation.hash()];
        let mut later: automerge::Change = later.into();
        vec![
            key.sign_change(&doc, &mut creation),
            key.sign_change(&doc, &mut later),
        ]
    }

    /// A creation by `key`, then another author's title edit moved onto
    /// the creation's empty `petitions` list with `at` as its key (no
    /// `pred`): an operation with no place in its object.
    fn misplaced(key: &NodeKey, doc: DocId, at: impl Fn(&OpId) -> Key) -> Vec<SignedChange> {
        let am = record(key, doc, 0);
        let first = am.get_changes(&[])[0].clone();
        let creation = first.decode();
        let id_of = |field: &str| {
            let i = creation
                .operations
                .iter()
                .position(|op| {
                    op.obj == ObjectId::Root && matches!(&op.key, Key::Map(k) if k == field)
                })
                .expect("the creation writes the field");
            OpId(
                creation.start_op.get() + i as u64,
                creation.actor_id.clone(),
            )
        };
        let mut fork = am
            .fork()
            .with_actor(NodeKey::from_secret([2; 32]).actor(&[2; 8]));
        edit(&mut fork, "title", 9);
        let mut later = fork.get_changes(&[first.hash()])[0].decode();
        later.operations[0].obj = ObjectId::Id(id_of("petitions"));
        later.operations[0].key = at(&id_of("title"));
        later.operations[0].pred = SortedVec::new();
        let mut later: automerge::Change = later.into();
        let mut first = first;
        vec![
            key.sign_change(&doc, &mut first),
            key.sign_change(&doc, &mut later),
        ]
    }

    /// A creation by `key`, then another author's change putting a mark
    /// end on the creation's task (not as an insertion), and a new task
    /// inserted after that task.
    fn non_inserting_mark(key: &NodeKey, doc: DocId) -> Vec<SignedChange> {
        use automerge::legacy::{ElementId, Op, OpType};
        let am = record(key, doc, 0);
        let first = am.get_changes(&[])[0].clone();
        let creation = first.decode();
        let id = |i: usize| {
            OpId(
                creation.start_op.get() + i as u64,
                creation.actor_id.clone(),
            )
        };
        let at =
            |f: &dyn Fn(&Op) -> bool| id(creation.operations.iter().position(f).expect("an op"));
        let tasks =
            at(&|op| op.obj == ObjectId::Root && matches!(&op.key, Key::Map(k) if k == "tasks"));
        let task = at(&|op| op.obj == ObjectId::Id(tasks.clone()) && op.insert);
        let mut fork = am
            .fork()
            .with_actor(NodeKey::from_secret([2; 32]).actor(&[2; 8]));
        edit(&mut fork, "title", 9);
        let mut later = fork.get_changes(&[first.hash()])[0].decode();
        let mark = Op {
            action: OpType::MarkEnd(false),
            obj: ObjectId::Id(tasks),
            key: Key::Seq(ElementId::Id(task)),
            pred: SortedVec::new(),
            insert: false,
        };
        let inserted = Op {
            action: OpType::Put(automerge::ScalarValue::Str("Việc mới".into())),
            insert: true,
            ..mark.clone()
        };
        later.operations = vec![mark, inserted];
        let mut later: automerge::Change = later.into();
        let mut first = first;
        vec![
            key.sign_change(&doc, &mut first),
            key.sign_change(&doc, &mut later),
        ]
    }

    /// A creation whose header holds a second value of `unit`, concurrent
    /// with the first ("phu-my" wins), then a title edit naming, as an
    /// operation it overwrites, that winning unit (`names_value`) or the
    /// header map itself: an operation on the root's `title` with a `pred`
    /// across objects.
    fn crafted(key: &NodeKey, doc: DocId, names_value: bool) -> Vec<SignedChange> {
        let named = if names_value {
            Named::Added
        } else {
            Named::HeaderMap
        };
        crafted_with(key, doc, Some(("unit", "phu-my")), named)
    }

    /// A later change naming the header map or one of its values as an
    /// operation it overwrites is refused, by both ways of admission: else
    /// the roster would judge the header the creation shows ("phu-my") and
    /// a store loading the record from its changes (one `apply_changes`,
    /// which honours such a `pred`) would read another ("pho-minh").
    #[test]
    fn a_change_naming_a_header_operation_as_overwritten_is_refused() {
        let key = NodeKey::from_secret([1; 32]);
        let doc = DocId::from_bytes([7; 16]);
        for names_value in [true, false] {
            let changes = crafted(&key, doc, names_value);
            let new = admit_new(items(&changes)).expect("decided");
            assert!(new.verdicts[0].is_ok(), "{:?}", new.verdicts);
            assert!(
                matches!(&new.verdicts[1], Err(ChangeError::Header(_))),
                "names the value: {names_value}: {:?}",
                new.verdicts
            );
            let header = new.header.expect("the creation's header");
            assert_eq!(header.unit, "phu-my");
            // One change at a time, as a store holding the creation does.
            let edit = automerge::Change::try_from(changes[1].body.as_slice()).expect("a change");
            let refused = admit_change(&new.doc, Some(&header), &changes[1], &edit, |_| Ok(()));
            assert!(
                matches!(refused, Err(ChangeError::Header(_))),
                "{refused:?}"
            );
            // What is admitted reads the same when loaded in one call.
            let mut loaded = Automerge::new();
            loaded
                .apply_changes(
                    changes
                        .iter()
                        .zip(&new.verdicts)
                        .filter(|(_, v)| v.is_ok())
                        .map(|(c, _)| {
                            automerge::Change::try_from(c.body.as_slice()).expect("a change")
                        }),
                )
                .expect("loaded");
            assert_eq!(DocHeader::of(&loaded), Some(header));
        }
    }

    /// Honest edits, one author's and another's concurrent with it, are all
    /// admitted: none names an operation of the header.
    #[test]
    fn honest_edits_are_admitted() {
        let (a, b) = (NodeKey::from_secret([1; 32]), NodeKey::from_secret([2; 32]));
        let doc = DocId::from_bytes([7; 16]);
        let am = record(&a, doc, 3);
        let creation = am.get_changes(&[])[0].hash();
        let mut fork = am
            .fork_at(&[creation])
            .expect("forked")
            .with_actor(b.actor(&[2; 8]));
        fork.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "title", "Họp dân (sửa)")?;
            tx.put(ROOT, "place", "Nhà văn hóa")?;
            Ok(())
        })
        .expect("b's edit");
        let mut changes: Vec<SignedChange> = am
            .get_changes(&[])
            .into_iter()
            .map(|mut c| a.sign_change(&doc, &mut c))
            .collect();
        changes.extend(
            fork.get_changes(&[creation])
                .into_iter()
                .map(|mut c| b.sign_change(&doc, &mut c)),
        );
        let new = admit_new(items(&changes)).expect("decided");
        assert_eq!(new.verdicts.len(), 5);
        assert!(new.verdicts.iter().all(Result::is_ok), "{:?}", new.verdicts);
        // One value per key of the header map, none concurrent.
        let (_, object) = automerge::ReadDoc::get(&new.doc, ROOT, "header")
            .expect("read")
            .expect("a header");
        let keys = automerge::ReadDoc::keys(&new.doc, &object).count();
        assert!(keys >= 6, "{keys}");
        assert_eq!(new.header.map(|h| h.values.len()), Some(keys));
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

    /// The shortcut declines every list it could read otherwise than the
    /// in-order way, and `admit_new` then decides as that way does: a
    /// later operation naming as overwritten a creation's operation on
    /// another object (a header value, the header map — so a creation
    /// naming another creator cannot be made to read as the signer's) or
    /// another key, or a list element's insertion (an honest deletion,
    /// admitted in order); a later change reusing the creation's
    /// operation ids; a creation referring to a later change's operation
    /// (naming it as overwritten, writing into its object); an operation
    /// whose key does not fit its object (a map key or a non-inserting head
    /// on a list, a map value as a list element); a mark that is not an
    /// insertion.
    #[test]
    fn all_at_once_declines_what_one_call_could_read_otherwise() {
        let (a, b) = (NodeKey::from_secret([1; 32]), NodeKey::from_secret([2; 32]));
        let doc = DocId::from_bytes([7; 16]);
        let other = b.id().to_string();
        let mut deleted = record(&a, doc, 0);
        deleted
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                let (_, tasks) = tx.get(ROOT, "tasks")?.expect("a task list");
                assert_eq!(tx.length(&tasks), 1);
                tx.delete(&tasks, 0)?;
                Ok(())
            })
            .expect("the deletion");
        let cases = [
            ("unit named", crafted(&a, doc, true), false),
            ("header map named", crafted(&a, doc, false), false),
            (
                "another creator named away",
                crafted_with(&a, doc, Some(("creator", &other)), Named::Added),
                false,
            ),
            (
                "another field named",
                crafted_with(&a, doc, None, Named::Root("date")),
                true,
            ),
            (
                "ids reused",
                crafted_with(&a, doc, None, Named::ReusedIds),
                false,
            ),
            (
                "list element deleted",
                signed(&mut deleted, &[], &a, doc),
                true,
            ),
            // Alone, the creation's pred naming a later operation names
            // nothing; in one call it would delete the later title.
            (
                "creation naming its author's later operation",
                creation_reaching_later(&a, doc, a.actor(&[1; 8]), false),
                true,
            ),
            // Alone, the creation names an actor it does not bring, or an
            // object that does not exist: it creates nothing.
            (
                "creation naming another author's later operation",
                creation_reaching_later(&a, doc, b.actor(&[2; 8]), false),
                false,
            ),
            (
                "creation writing into a later object",
                creation_reaching_later(&a, doc, a.actor(&[1; 8]), true),
                false,
            ),
            // Automerge gives these no place: alone they are dropped, in
            // one call they slip in with the creation's next list.
            (
                "a map key on a list",
                misplaced(&a, doc, |_| Key::Map("title".into())),
                false,
            ),
            (
                "the list's head, not inserting",
                misplaced(&a, doc, |_| Key::Seq(automerge::legacy::ElementId::Head)),
                false,
            ),
            (
                "a mark on a list's element, not inserting",
                non_inserting_mark(&a, doc),
                false,
            ),
            (
                "a map value as the list's element",
                misplaced(&a, doc, |title| {
                    Key::Seq(automerge::legacy::ElementId::Id(title.clone()))
                }),
                false,
            ),
        ];
        for (name, changes, all_admitted) in cases {
            assert!(admit_at_once(&items(&changes)).is_none(), "{name}");
            let in_order = outcome(admit_in_order(items(&changes)));
            if all_admitted {
                let verdicts = &in_order.as_ref().expect("decided in order").0;
                assert!(verdicts.iter().all(|v| v.starts_with("Ok")), "{name}");
            }
            assert_eq!(outcome(admit_new(items(&changes))), in_order, "{name}");
        }
        // The creation naming another creator is refused in order.
        let changes = crafted_with(&a, doc, Some(("creator", &other)), Named::Added);
        let new = admit_new(items(&changes)).expect("decided");
        assert!(
            matches!(&new.verdicts[0], Err(ChangeError::Header(_))),
            "{:?}",
            new.verdicts
        );
    }

    /// A change whose first operation id is not above its dependencies'
    /// (another author's title edit renumbered from 1) is refused by both
    /// ways of admission; what is admitted lists its changes (Automerge
    /// panics listing a document holding such a change).
    #[test]
    fn a_change_numbered_below_its_dependencies_is_refused() {
        let (a, b) = (NodeKey::from_secret([1; 32]), NodeKey::from_secret([2; 32]));
        let doc = DocId::from_bytes([7; 16]);
        let am = record(&a, doc, 0);
        let first = am.get_changes(&[])[0].clone();
        let mut fork = am.fork().with_actor(b.actor(&[2; 8]));
        edit(&mut fork, "title", 9);
        let mut later = fork.get_changes(&[first.hash()])[0].decode();
        later.start_op = std::num::NonZeroU64::MIN;
        let mut later: automerge::Change = later.into();
        let mut first = first;
        let changes = vec![
            a.sign_change(&doc, &mut first),
            b.sign_change(&doc, &mut later),
        ];
        let new = admit_new(items(&changes)).expect("decided");
        assert!(new.verdicts[0].is_ok(), "{:?}", new.verdicts);
        assert!(
            matches!(&new.verdicts[1], Err(ChangeError::Malformed(m)) if m.contains("không lớn hơn")),
            "{:?}",
            new.verdicts
        );
        assert_eq!(new.doc.get_changes(&[]).len(), 1);
        let header = new.header.expect("a header");
        let refused = admit_change(&new.doc, Some(&header), &changes[1], &later, |_| Ok(()));
        assert!(
            matches!(refused, Err(ChangeError::Malformed(_))),
            "{refused:?}"
        );
    }

    /// A mark that is not an insertion at a list position is refused by
    /// both ways of admission: in a creation (at a map key, where a debug
    /// build of Automerge aborts applying it) and in a later change (on a
    /// list's element, not inserting).
    #[test]
    fn a_mark_not_inserted_is_refused() {
        use automerge::legacy::OpType;
        let a = NodeKey::from_secret([1; 32]);
        let doc = DocId::from_bytes([7; 16]);
        let am = record(&a, doc, 0);
        let mut creation = am.get_changes(&[])[0].decode();
        let op = creation
            .operations
            .iter_mut()
            .find(|op| op.obj == ObjectId::Root && matches!(&op.key, Key::Map(k) if k == "date"))
            .expect("the creation writes the date");
        op.action = OpType::MarkEnd(true);
        let mut creation: automerge::Change = creation.into();
        let changes = vec![a.sign_change(&doc, &mut creation)];
        let new = admit_new(items(&changes)).expect("decided");
        assert!(
            matches!(&new.verdicts[0], Err(ChangeError::Malformed(m)) if m.contains("mark")),
            "{:?}",
            new.verdicts
        );
        let refused = admit_change(&Automerge::new(), None, &changes[0], &creation, |_| Ok(()));
        assert!(
            matches!(refused, Err(ChangeError::Malformed(_))),
            "{refused:?}"
        );

        let changes = non_inserting_mark(&a, doc);
        let new = admit_new(items(&changes)).expect("decided");
        assert!(new.verdicts[0].is_ok(), "{:?}", new.verdicts);
        assert!(
            matches!(&new.verdicts[1], Err(ChangeError::Malformed(m)) if m.contains("mark")),
            "{:?}",
            new.verdicts
        );
        let later = automerge::Change::try_from(changes[1].body.as_slice()).expect("a change");
        let header = new.header.expect("a header");
        let refused = admit_change(&new.doc, Some(&header), &changes[1], &later, |_| Ok(()));
        assert!(
            matches!(refused, Err(ChangeError::Malformed(_))),
            "{refused:?}"
        );
    }
}
