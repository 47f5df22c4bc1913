//! A reader of a document that reads each map object whole, once.
//!
//! autosurgeon's derived `Hydrate` asks the document for one key at a time,
//! and each `get` on Automerge 0.12's column storage seeks through the
//! object's operations from scratch (about 4–5 µs): a record of ~15 fields
//! with a header of 7 cost ~25 seeks. [`CachedDoc`] answers those `get`s
//! from one `map_range` per map object instead. `map_range` yields, for
//! each key, the last visible operation — the one `get` returns — through
//! the same visibility and counter rules, and says whether the key holds
//! concurrent values; every other read goes to the document unchanged.

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::ops::RangeBounds;

use automerge::{AutomergeError, ObjId, ObjType, Prop, ReadDoc as _, Value};

/// One key of a cached map: its winning value and that value's id, as `get`
/// returns them, and whether other values are concurrent with it.
struct Entry {
    key: String,
    value: Value<'static>,
    id: ObjId,
    conflict: bool,
}

/// What the cache knows of one object.
struct Object {
    id: ObjId,
    /// Every visible key of a map in the document's key order; `None` for an
    /// object that is not a map, whose reads all go to the document.
    keys: Option<Vec<Entry>>,
}

/// A document read through autosurgeon with each map object read whole on
/// its first `get`, and later `get`s on it answered from that read. Lists,
/// text and everything else are read from the document. Meant for one
/// hydration: the document cannot change while this borrows it, so the
/// cache never goes stale.
pub(crate) struct CachedDoc<'d> {
    doc: &'d automerge::Automerge,
    /// The objects read so far, the latest last. A record has a handful of
    /// maps (the root, the header, one per visit or parcel), and hydration
    /// finishes one before the next, so a search from the end is short.
    objects: RefCell<Vec<Object>>,
}

impl<'d> CachedDoc<'d> {
    /// A reader of `doc` with nothing read yet.
    pub(crate) fn new(doc: &'d automerge::Automerge) -> Self {
        CachedDoc {
            doc,
            objects: RefCell::new(Vec::new()),
        }
    }

    /// The document read.
    pub(crate) fn doc(&self) -> &'d automerge::Automerge {
        self.doc
    }

    /// Whether `key` of the map `obj` holds more than one concurrent value
    /// (`get_all` would return two or more); `None` when `obj` is not a map
    /// or not in the document, for the caller to ask the document.
    pub(crate) fn conflicted(&self, obj: &ObjId, key: &str) -> Option<bool> {
        self.with_map(obj, |keys| {
            keys.iter()
                .find(|entry| entry.key == key)
                .is_some_and(|entry| entry.conflict)
        })
    }

    /// The ids of every value of the map `obj`, concurrent ones included;
    /// `None` when `obj` is not a map of the document. A key without
    /// concurrent values is answered from the cache.
    pub(crate) fn value_ids(&self, obj: &ObjId) -> Option<Vec<ObjId>> {
        let cached: Vec<(String, ObjId, bool)> = self.with_map(obj, |keys| {
            keys.iter()
                .map(|entry| (entry.key.clone(), entry.id.clone(), entry.conflict))
                .collect()
        })?;
        let mut ids = Vec::with_capacity(cached.len());
        for (key, id, conflict) in cached {
            if conflict {
                let all = self.doc.get_all(obj, key.as_str()).ok()?;
                ids.extend(all.into_iter().map(|(_, id)| id));
            } else {
                ids.push(id);
            }
        }
        Some(ids)
    }

    /// Runs `f` on the cached keys of `obj`, reading the object first if it
    /// has not been; `None` when `obj` is not a map of the document.
    fn with_map<T>(&self, obj: &ObjId, f: impl FnOnce(&[Entry]) -> T) -> Option<T> {
        let mut objects = self.objects.borrow_mut();
        let at = match objects.iter().rposition(|o| o.id == *obj) {
            Some(at) => at,
            None => {
                objects.push(self.read_object(obj));
                objects.len() - 1
            }
        };
        objects[at].keys.as_deref().map(f)
    }

    fn read_object(&self, obj: &ObjId) -> Object {
        // A table is a map to `get` too, but records have none: it is left to
        // the document rather than trusted to a path no record takes.
        let keys = match self.doc.object_type(obj) {
            Ok(ObjType::Map) => Some(
                self.doc
                    .map_range(obj, ..)
                    .map(|item| Entry {
                        id: item.id(),
                        key: item.key.into_owned(),
                        value: item.value.into_value(),
                        conflict: item.conflict,
                    })
                    .collect(),
            ),
            _ => None,
        };
        Object {
            id: obj.clone(),
            keys,
        }
    }
}

impl autosurgeon::ReadDoc for CachedDoc<'_> {
    type Parents<'a>
        = automerge::Parents<'a>
    where
        Self: 'a;

    fn get_heads(&self) -> Vec<automerge::ChangeHash> {
        self.doc.get_heads()
    }

    fn get<P: Into<Prop>>(
        &self,
        obj: &ObjId,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        let prop = prop.into();
        if let Prop::Map(key) = &prop {
            let cached = self.with_map(obj, |keys| {
                keys.iter()
                    .find(|entry| entry.key == *key)
                    .map(|entry| (entry.value.clone(), entry.id.clone()))
            });
            if let Some(found) = cached {
                return Ok(found);
            }
        }
        automerge::ReadDoc::get(self.doc, obj, prop)
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Option<ObjType> {
        automerge::ReadDoc::object_type(self.doc, obj).ok()
    }

    fn map_range<'a, O, R>(&'a self, obj: O, range: R) -> automerge::iter::MapRange<'a>
    where
        R: RangeBounds<String> + 'a,
        O: AsRef<ObjId>,
        R: RangeBounds<String>,
    {
        automerge::ReadDoc::map_range(self.doc, obj, range)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> automerge::iter::ListRange<'_> {
        automerge::ReadDoc::list_range(self.doc, obj, range)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        automerge::ReadDoc::length(self.doc, obj)
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        automerge::ReadDoc::text(self.doc, obj)
    }

    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Self::Parents<'_>, AutomergeError> {
        automerge::ReadDoc::parents(self.doc, obj)
    }

    fn is_empty(&self) -> bool {
        autosurgeon::ReadDoc::is_empty(self.doc)
    }
}
