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
    use automerge::legacy::{Key, ObjectId, OpId};
    let is = |id: &OpId, (counter, actor): &(u64, Vec<u8>)| {
        id.0 == *counter && id.1.to_bytes() == actor.as_slice()
    };
    for op in change.decode().operations {
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
    use crate::records::Record;
    use crate::{DocId, NodeKey};
    use automerge::legacy::{Key, ObjectId, OpId, SortedVec};
    use automerge::transaction::Transactable;

    /// A new activity `doc` by `key` (the sample activity, made theirs),
    /// and `edits` title edits after it.
    fn record(key: &NodeKey, doc: DocId, edits: usize) -> Automerge {
        let mut record = crate::records::doc::tests::sample_records()
            .into_iter()
            .find(|r| matches!(r, Record::Activity(_)))
            .expect("a sample activity");
        if let Record::Activity(activity) = &mut record {
            activity.header.id = doc.to_string();
            activity.header.creator = key.id().to_string();
        }
        let mut am = Automerge::new().with_actor(key.actor(&[1; 8]));
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            crate::write_new(tx, &record).expect("writing the record");
            Ok(())
        })
        .expect("the creation");
        for n in 0..edits {
            am.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(ROOT, "title", format!("Họp dân lần {n}"))?;
                Ok(())
            })
            .expect("an edit");
        }
        am
    }

    /// One item of [`admit_new`]'s list.
    type Item<'a> = (
        &'a SignedChange,
        Result<automerge::Change, ChangeError>,
        Option<Result<Admitted, ChangeError>>,
    );

    fn items(changes: &[SignedChange]) -> Vec<Item<'_>> {
        changes
            .iter()
            .map(|c| {
                let parsed = automerge::Change::try_from(c.body.as_slice())
                    .map_err(|_| ChangeError::Malformed("?".into()));
                (c, parsed, None)
            })
            .collect()
    }

    /// A creation whose header holds a second value of `unit`, concurrent
    /// with the first (no `pred`; the later op wins: "phu-my"), then a
    /// title edit by the same author whose put also names, as an operation
    /// it overwrites, the header's winning unit (`names_value`) or the
    /// header map itself: an operation on the root's `title` with a `pred`
    /// across objects.
    fn crafted(key: &NodeKey, doc: DocId, names_value: bool) -> Vec<SignedChange> {
        let am = record(key, doc, 1);
        let changes = am.get_changes(&[]);
        let mut creation = changes[0].decode();
        let actor = creation.actor_id.clone();
        let start = creation.start_op.get();
        let at = creation
            .operations
            .iter()
            .position(|op| {
                op.obj == ObjectId::Root && matches!(&op.key, Key::Map(k) if k == "header")
            })
            .expect("the creation makes a header");
        let header = OpId(start + at as u64, actor.clone());
        let mut added = creation
            .operations
            .iter()
            .find(|op| {
                op.obj == ObjectId::Id(header.clone())
                    && matches!(&op.key, Key::Map(k) if k == "unit")
            })
            .expect("the header has a unit")
            .clone();
        added.action = automerge::legacy::OpType::Put(automerge::ScalarValue::Str("phu-my".into()));
        added.pred = SortedVec::new();
        let added_id = OpId(start + creation.operations.len() as u64, actor);
        creation.operations.push(added);
        let mut creation: automerge::Change = creation.into();
        let mut edit = changes[1].decode();
        edit.deps = vec![creation.hash()];
        edit.start_op = std::num::NonZeroU64::new(creation.max_op() + 1).expect("nonzero");
        let title = edit
            .operations
            .iter_mut()
            .find(|op| matches!(&op.key, Key::Map(k) if k == "title"))
            .expect("the edit puts the title");
        let mut pred: Vec<OpId> = title.pred.iter().cloned().collect();
        pred.push(if names_value { added_id } else { header });
        title.pred = pred.into();
        let mut edit: automerge::Change = edit.into();
        vec![
            key.sign_change(&doc, &mut creation),
            key.sign_change(&doc, &mut edit),
        ]
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
}
