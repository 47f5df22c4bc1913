//! A test node: a key, an in-memory store, and realistic record edits made
//! as real, signed Automerge changes.

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT, ReadDoc};
use danvan_model::{DocId, NodeId, NodeKey, SignedChange};
use danvan_proto::Replica;
use rand::Rng;

use crate::replica::MemReplica;

/// Words for generated visit notes: real Vietnamese, so bodies compress
/// like the real thing.
const WORDS: &[&str] = &[
    "hộ",
    "gia",
    "đình",
    "đồng",
    "ý",
    "phương",
    "án",
    "bồi",
    "thường",
    "hỗ",
    "trợ",
    "tái",
    "định",
    "cư",
    "cán",
    "bộ",
    "dân",
    "vận",
    "đã",
    "gặp",
    "gỡ",
    "trao",
    "đổi",
    "với",
    "chủ",
    "hộ",
    "về",
    "diện",
    "tích",
    "thửa",
    "đất",
    "ruộng",
    "lúa",
    "vườn",
    "cây",
    "ăn",
    "quả",
    "kiến",
    "nghị",
    "xem",
    "xét",
    "lại",
    "giá",
    "bàn",
    "giao",
    "mặt",
    "bằng",
    "cao",
    "tốc",
    "thôn",
    "xã",
    "ủy",
    "ban",
    "mặt",
    "trận",
    "tổ",
    "quốc",
    "hội",
    "nông",
    "dân",
    "phụ",
    "nữ",
    "thanh",
    "niên",
    "vận",
    "động",
    "tuyên",
    "truyền",
    "chính",
    "sách",
    "pháp",
    "luật",
];

const STATUSES: &[&str] = &[
    "đã kiểm đếm",
    "đã niêm yết phương án",
    "đã đồng ý",
    "đã chi trả",
    "đã bàn giao",
];

/// A node of a test: key and store.
pub struct TestNode {
    /// The node's signing key.
    pub key: NodeKey,
    /// Its store.
    pub store: MemReplica,
}

impl Clone for TestNode {
    fn clone(&self) -> Self {
        TestNode {
            key: NodeKey::from_secret(self.key.secret()),
            store: self.store.clone(),
        }
    }
}

impl std::fmt::Debug for TestNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestNode({}, {:?})", self.key.id().short(), self.store)
    }
}

impl TestNode {
    /// A node with key and epoch drawn from `rng`.
    pub fn new(rng: &mut impl Rng) -> Self {
        TestNode {
            key: NodeKey::from_secret(rng.r#gen()),
            store: MemReplica::new(rng.r#gen()),
        }
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.key.id()
    }

    /// The document as built from the changes this store holds.
    pub fn document(&self, doc: &DocId) -> Automerge {
        build_document(&self.store.changes_of(doc))
    }

    /// Makes one change to `doc` (creating it if new), signs it and stores
    /// it locally. Returns the change, or `None` if the edit changed nothing
    /// (Automerge drops a put of the value already there).
    pub fn edit(
        &mut self,
        doc: DocId,
        edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) -> Option<SignedChange> {
        let actor = self.key.actor(&self.store.epoch());
        let mut am = self.document(&doc).with_actor(actor);
        let heads = am.get_heads();
        am.transact::<_, _, automerge::AutomergeError>(|tx| {
            edit(tx);
            Ok(())
        })
        .expect("edits of generated records do not fail");
        if am.get_heads() == heads {
            return None;
        }
        let mut change = am
            .get_last_local_change()
            .expect("a transaction that moved the heads made a change");
        let signed = self.key.sign_change(&doc, &mut change);
        assert!(self.store.add_local(signed.clone()), "a new change is new");
        Some(signed)
    }

    /// A realistic edit of a household case: creates it on first use, then
    /// appends a visit, moves the status, or edits the compensation. `None`
    /// if the edit set a value already there.
    pub fn edit_household(&mut self, doc: DocId, rng: &mut impl Rng) -> Option<SignedChange> {
        let exists = !self.store.changes_of(&doc).is_empty();
        let choice = rng.gen_range(0..10);
        let note = visit_note(rng);
        let officer = self.id().short();
        let status = STATUSES[rng.gen_range(0..STATUSES.len())];
        let amount = rng.gen_range(50_000_000i64..3_000_000_000);
        let area = rng.gen_range(50..5000) as f64 + 0.5;
        let parcel = rng.gen_range(1..900i64);
        self.edit(doc, |tx| {
            if !exists {
                tx.put(ROOT, "kind", "household").unwrap();
                tx.put(ROOT, "head", "Nguyễn Văn An").unwrap();
                tx.put(ROOT, "project", "cao tốc Bắc – Nam").unwrap();
                let parcels = tx.put_object(ROOT, "parcels", ObjType::List).unwrap();
                let p = tx.insert_object(&parcels, 0, ObjType::Map).unwrap();
                tx.put(&p, "sheet", 12i64).unwrap();
                tx.put(&p, "parcel", parcel).unwrap();
                tx.put(&p, "area_m2", area).unwrap();
                tx.put(&p, "land", "đất trồng lúa").unwrap();
                tx.put_object(ROOT, "visits", ObjType::List).unwrap();
                tx.put(ROOT, "status", "đã kiểm đếm").unwrap();
                return;
            }
            match choice {
                0..=5 => {
                    let visits = match tx.get(ROOT, "visits").unwrap() {
                        Some((_, id)) => id,
                        None => tx.put_object(ROOT, "visits", ObjType::List).unwrap(),
                    };
                    let at = tx.length(&visits);
                    let v = tx.insert_object(&visits, at, ObjType::Map).unwrap();
                    tx.put(&v, "officer", officer.as_str()).unwrap();
                    tx.put(&v, "note", note.as_str()).unwrap();
                }
                6..=7 => tx.put(ROOT, "status", status).unwrap(),
                _ => tx.put(ROOT, "compensation_vnd", amount).unwrap(),
            }
        })
    }
}

fn visit_note(rng: &mut impl Rng) -> String {
    let n = rng.gen_range(8..40);
    let words: Vec<&str> = (0..n)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    words.join(" ")
}

/// Builds a document from its changes, in any order.
pub fn build_document(changes: &[SignedChange]) -> Automerge {
    let mut am = Automerge::new();
    let parsed: Vec<automerge::Change> = changes
        .iter()
        .map(|c| automerge::Change::from_bytes(c.body.clone()).expect("stored changes are valid"))
        .collect();
    am.apply_changes(parsed)
        .expect("stored changes apply to a document");
    am
}
