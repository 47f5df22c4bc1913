//! The node: a data directory's key, unit tree and store, and the record
//! operations the CLI calls. Synchronous; the sync driver wraps it.

use std::path::{Path, PathBuf};

use automerge::Automerge;
use automerge::transaction::CommitOptions;
use danvan_model::{
    DocId, Header, Kind, NodeId, NodeKey, Record, RecordError, SCHEMA_VERSION, SignedChange,
    UnitTree,
};
use danvan_store::{ListFilter, LocalWrite, Row, Store};

use crate::error::{NodeError, io};

/// The node key file inside a data directory.
pub const KEY_FILE: &str = "node.key";
/// The unit tree file inside a data directory.
pub const UNITS_FILE: &str = "units.toml";
/// The web app's officer accounts inside a data directory (`danvan web user`).
pub const WEB_USERS_FILE: &str = "web-users.json";

/// Milliseconds since 1970 on this machine's clock. Informational only.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system provides randomness");
    buf
}

/// Where the data directory is when neither `--data-dir` nor
/// `DANVAN_DATA_DIR` gives one: `danvan` in the platform's data directory
/// (the `directories` crate: `$XDG_DATA_HOME/danvan` or
/// `~/.local/share/danvan` on Linux, `%APPDATA%\danvan` on Windows,
/// `~/Library/Application Support/danvan` on macOS); `danvan-data` in the
/// working directory when the platform names no home.
pub fn default_data_dir() -> PathBuf {
    directories::BaseDirs::new().map_or_else(
        || PathBuf::from("danvan-data"),
        |dirs| dirs.data_dir().join("danvan"),
    )
}

/// A record as `show` presents it.
#[derive(Debug)]
pub struct Shown {
    /// The record.
    pub record: Record,
    /// Fields edited concurrently to different values.
    pub conflicts: Vec<danvan_model::Conflict>,
    /// Changes of this record that a peer refused and has not accepted
    /// since ("chưa được chấp nhận"), newest first.
    pub refusals: Vec<danvan_store::Refusal>,
}

impl Shown {
    /// The JSON of `show --json`: the record with its header, plus derived values.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = self.record.to_json();
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("id".into(), self.record.header().id.clone().into());
            map.insert("kind".into(), self.record.kind().code().into());
            map.insert("unit".into(), self.record.header().unit.clone().into());
            map.insert(
                "conflicts".into(),
                serde_json::to_value(&self.conflicts).unwrap_or_default(),
            );
            map.insert(
                "refusals".into(),
                serde_json::to_value(&self.refusals).unwrap_or_default(),
            );
            match &self.record {
                Record::Petition(p) => {
                    map.insert("deadline".into(), p.deadline().into());
                }
                Record::Household(h) => {
                    map.insert("objection_open".into(), h.objection_open().into());
                    map.insert("area_m2".into(), h.area_m2().into());
                }
                _ => {}
            }
        }
        value
    }
}

/// One entry of a record's history.
#[derive(Debug, serde::Serialize)]
pub struct HistoryEntry {
    /// Position in causal order, from 1.
    pub n: usize,
    /// Short id of the author node.
    pub author: String,
    /// The author's device clock, ms since 1970 (may be wrong).
    pub device_time: i64,
    /// What the change did.
    pub message: String,
    /// Change hash (hex, first 12 characters).
    pub hash: String,
    /// Hashes of the changes it builds on.
    pub deps: Vec<String>,
}

/// A node: an open data directory.
pub struct Node {
    store: Store,
    key: NodeKey,
    units: UnitTree,
    unit: String,
    /// Whether the person confirmed unusual dates (`--yes`); see
    /// [`Node::check_date`].
    pub(crate) unusual_dates_ok: bool,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.key.id())
            .field("unit", &self.unit)
            .finish()
    }
}

fn read_key(dir: &Path) -> Result<NodeKey, NodeError> {
    crate::key_files::read_key(dir, &dir.join(KEY_FILE))
}

/// Creates `path` (never an existing file or a planted link) readable by its
/// owner only, with `text`, synced; on failure leaves nothing behind.
pub(crate) fn write_private(path: &Path, text: impl AsRef<[u8]>) -> Result<(), NodeError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path).map_err(io(path))?;
    if let Err(e) = file.write_all(text.as_ref()).and_then(|()| file.sync_all()) {
        // A partial key is no key: leave none behind.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(io(path)(e));
    }
    Ok(())
}

impl Node {
    /// Creates a data directory: store, node key and unit tree (the bundled
    /// sample unless a file is given).
    pub fn init(
        dir: &Path,
        unit: &str,
        name: Option<&str>,
        units_file: Option<&Path>,
    ) -> Result<Node, NodeError> {
        let units_text = match units_file {
            Some(path) => std::fs::read_to_string(path).map_err(io(path))?,
            None => danvan_model::SAMPLE_UNITS_TOML.to_string(),
        };
        let units = UnitTree::from_toml(&units_text)?;
        units.require(unit)?;
        let mut store = Store::create(dir, random_bytes())?;
        let key_path = dir.join(KEY_FILE);
        let key = if key_path.exists() {
            read_key(dir)?
        } else {
            let key = NodeKey::from_secret(random_bytes());
            crate::key_files::create(dir, &key_path, &key)?;
            key
        };
        let units_path = dir.join(UNITS_FILE);
        std::fs::write(&units_path, units_text).map_err(io(&units_path))?;
        store.set_meta("unit", unit.as_bytes())?;
        if let Some(name) = name {
            store.set_meta("name", name.as_bytes())?;
        }
        store.set_self(key.id());
        Ok(Node {
            store,
            key,
            units,
            unit: unit.to_string(),
            unusual_dates_ok: false,
        })
    }

    /// Opens an existing data directory.
    pub fn open(dir: &Path) -> Result<Node, NodeError> {
        let mut store = Store::open(dir)?;
        let key = read_key(dir)?;
        // Key files left plaintext beside an encrypted store (a store
        // encrypted before keys were sealed) are sealed now.
        crate::key_files::seal_plaintext(dir)?;
        // Key files a crash left sealed under an old passphrase too are
        // sealed under the store's key alone.
        crate::key_files::finish_passphrase_change(dir)?;
        store.set_self(key.id());
        // A node of a town uses the unit tree of the town's roster.
        let units = match store.roster()? {
            Some(roster) => roster.units().clone(),
            None => {
                let units_path = dir.join(UNITS_FILE);
                UnitTree::from_toml(
                    &std::fs::read_to_string(&units_path).map_err(io(&units_path))?,
                )?
            }
        };
        let unit = store
            .meta("unit")?
            .and_then(|v| String::from_utf8(v).ok())
            .unwrap_or_default();
        Ok(Node {
            store,
            key,
            units,
            unit,
            unusual_dates_ok: false,
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.key.id()
    }

    /// This node's key.
    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    /// This node's unit.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// This node's display name, if set.
    pub fn name(&self) -> Option<String> {
        self.store
            .meta("name")
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
    }

    /// The unit tree.
    pub fn units(&self) -> &UnitTree {
        &self.units
    }

    /// Uses another unit tree (a new roster's).
    pub(crate) fn set_units(&mut self, units: UnitTree) {
        self.units = units;
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, for writing, past the service API's checks: only this
    /// crate, and tests and benchmarks that enable the `raw-store` feature
    /// (forged changes, bulk loads). The CLI and the web app never get it.
    #[cfg(not(feature = "raw-store"))]
    pub(crate) fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The store, for writing, past the service API's checks (the
    /// `raw-store` feature: tests and benchmarks only).
    #[cfg(feature = "raw-store")]
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    fn actor(&self) -> automerge::ActorId {
        self.key.actor(&self.store.epoch())
    }

    /// A header for a new record of `kind` owned by `unit` (default: this node's).
    pub fn new_header(
        &self,
        kind: Kind,
        unit: Option<&str>,
        project: Option<&str>,
    ) -> Result<Header, NodeError> {
        let unit = unit.unwrap_or(&self.unit);
        self.units.require(unit)?;
        if let Some(p) = project
            && !danvan_model::vocab::PROJECTS.iter().any(|(c, _)| *c == p)
        {
            return Err(RecordError::BadChoice {
                field: "project".into(),
                value: p.into(),
                allowed: danvan_model::vocab::codes(danvan_model::vocab::PROJECTS),
            }
            .into());
        }
        Ok(Header {
            id: DocId::from_bytes(random_bytes()).to_string(),
            kind: kind.code().into(),
            unit: unit.into(),
            project: project.map(str::to_string),
            schema: SCHEMA_VERSION,
            creator: self.key.id().to_string(),
            created_at: now_ms(),
        })
    }

    /// Checks every editable field of a new record through the same parser
    /// `edit --set` uses, and unit references against the tree.
    pub fn validate(&self, record: &Record) -> Result<(), NodeError> {
        self.check_record_write(record)?;
        danvan_model::check_record_size(record)?;
        let json = record.to_json();
        for spec in danvan_model::editable_fields(record.kind()) {
            let text = match json.get(spec.name) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            if let (danvan_model::FieldType::Count | danvan_model::FieldType::Money, "") =
                (spec.ty, text.as_str())
            {
                continue;
            }
            let value = danvan_model::parse_field(spec, &text)?;
            if matches!(spec.ty, danvan_model::FieldType::Unit) && !text.is_empty() {
                self.units.require(&text)?;
            }
            self.check_field_date(spec, value.as_ref())?;
        }
        Ok(())
    }

    /// Builds the document and signed changes of a new record, without storing them.
    pub fn prepare_new(
        &self,
        record: &Record,
    ) -> Result<(DocId, Automerge, Vec<SignedChange>), NodeError> {
        self.validate(record)?;
        build_new(&self.key, self.actor(), record)
    }

    fn sign_since(
        &self,
        doc: &DocId,
        automerge: &Automerge,
        heads: &[automerge::ChangeHash],
    ) -> Vec<SignedChange> {
        sign_since(&self.key, doc, automerge, heads)
    }

    /// Adds many validated records in one transaction (bulk import). Each
    /// document is built, written and dropped in turn, so memory stays flat.
    pub fn add_many(&mut self, records: &[Record]) -> Result<Vec<DocId>, NodeError> {
        Ok(self
            .add_many_reporting(
                records,
                &std::sync::atomic::AtomicBool::new(false),
                &mut |_| {},
            )?
            .unwrap_or_default())
    }

    /// [`Node::add_many`], rolled back whole (`None`, nothing stored) if
    /// `stop` is set before it commits (Ctrl+C during an import); tells
    /// `written` how many records are written every 500 and at the end.
    pub(crate) fn add_many_reporting(
        &mut self,
        records: &[Record],
        stop: &std::sync::atomic::AtomicBool,
        written: &mut dyn FnMut(u64),
    ) -> Result<Option<Vec<DocId>>, NodeError> {
        let actor = self.actor();
        let mut ids = Vec::with_capacity(records.len());
        let mut batch = self.store.batch()?;
        // Built on every core (`bulk.rs`), written here in order.
        let finished = crate::bulk::build_and_write(
            records,
            &self.key,
            &actor,
            stop,
            build_new,
            &mut |(doc, automerge, changes)| {
                let record = &records[ids.len()];
                batch.write(&LocalWrite {
                    doc,
                    changes,
                    automerge: &automerge,
                    created: Some(record),
                })?;
                ids.push(doc);
                if crate::progress::due(ids.len() as u64, records.len() as u64, 500) {
                    written(ids.len() as u64);
                }
                Ok(())
            },
        )?;
        if !finished || stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        batch.commit()?;
        Ok(Some(ids))
    }

    /// Adds a new record; returns its id once the write has committed.
    pub fn add(&mut self, record: &Record) -> Result<DocId, NodeError> {
        let (doc, automerge, changes) = self.prepare_new(record)?;
        self.store.commit_local(&[LocalWrite {
            doc,
            changes,
            automerge: &automerge,
            created: Some(record),
        }])?;
        Ok(doc)
    }

    /// Loads a record's document by id, unique prefix or task number
    /// ([`Node::resolve`]).
    pub fn load(&self, id: &str) -> Result<(DocId, Automerge), NodeError> {
        let doc = self.resolve(id)?;
        let automerge = self
            .store
            .load_doc(&doc)?
            .ok_or_else(|| danvan_store::StoreError::NotFound(id.to_string()))?;
        Ok((doc, automerge))
    }

    /// Applies an edit to a record in one transaction of the document and
    /// one of the store.
    pub fn change<F>(&mut self, id: &str, message: &str, edit: F) -> Result<DocId, NodeError>
    where
        F: FnOnce(&Record, &mut automerge::transaction::Transaction<'_>) -> Result<(), NodeError>,
    {
        let (doc, mut automerge) = self.load(id)?;
        let record = danvan_model::read_record(&automerge)?;
        self.check_record_write(&record)?;
        automerge.set_actor(self.actor());
        let heads = automerge.get_heads();
        automerge
            .transact_with(
                |_| {
                    CommitOptions::default()
                        .with_message(message.to_string())
                        .with_time(now_ms())
                },
                |tx| edit(&record, tx),
            )
            .map_err(|f| f.error)?;
        // Whatever the edit (a field, a visit, a stage), the record must
        // stay small enough to sync.
        danvan_model::check_record_size(&danvan_model::read_record(&automerge)?)?;
        let changes = self.sign_since(&doc, &automerge, &heads);
        self.store.commit_local(&[LocalWrite {
            doc,
            changes,
            automerge: &automerge,
            created: None,
        }])?;
        Ok(doc)
    }

    /// Sets fields (`FIELD=VALUE`), validating all before writing any.
    pub fn edit(&mut self, id: &str, sets: &[String]) -> Result<DocId, NodeError> {
        let (_, automerge) = self.load(id)?;
        let kind = danvan_model::read_record(&automerge)?.kind();
        let mut parsed = Vec::new();
        for set in sets {
            let (field, value) = set
                .split_once('=')
                .ok_or_else(|| NodeError::BadSet(set.to_string()))?;
            let spec = danvan_model::field_spec(kind, field.trim())?;
            let value_parsed = danvan_model::parse_field(spec, value)?;
            if matches!(spec.ty, danvan_model::FieldType::Unit) && !value.trim().is_empty() {
                self.units.require(value.trim())?;
            }
            self.check_field_date(spec, value_parsed.as_ref())?;
            parsed.push((spec, value_parsed));
        }
        if parsed.is_empty() {
            return Err(NodeError::NothingToSet);
        }
        let names: Vec<&str> = parsed.iter().map(|(s, _)| s.name).collect();
        let message = format!("sửa {}", names.join(", "));
        self.change(id, &message, |_, tx| {
            for (spec, value) in parsed {
                danvan_model::set_field(tx, spec, value)?;
            }
            Ok(())
        })
    }

    /// A record with its conflicts and its refused changes.
    pub fn show(&self, id: &str) -> Result<Shown, NodeError> {
        let (doc, automerge) = self.load(id)?;
        let record = danvan_model::read_record(&automerge)?;
        let conflicts = danvan_model::conflicts(&automerge, record.kind());
        let refusals = self.store.refusals(&doc)?;
        Ok(Shown {
            record,
            conflicts,
            refusals,
        })
    }

    /// The changes of a record that a peer refused and has not accepted
    /// since, newest first: the record is "chưa được chấp nhận" while
    /// this is not empty. (For the web app's record page.)
    pub fn refusals(&self, id: &str) -> Result<Vec<danvan_store::Refusal>, NodeError> {
        let doc = self.resolve(id)?;
        Ok(self.store.refusals(&doc)?)
    }

    /// The record list.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Row>, NodeError> {
        Ok(self.store.list(filter)?)
    }

    /// The unit ids a `--unit` filter covers: the unit, its subtree and
    /// merged units, in every view of the unit tree (see
    /// [`Node::unit_filter_in`] for one period).
    pub fn unit_filter(&self, unit: &str) -> Result<Vec<String>, NodeError> {
        self.unit_filter_in(unit, None)
    }

    /// Who changed what, in causal order.
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEntry>, NodeError> {
        let (_, automerge) = self.load(id)?;
        let hex = |h: &automerge::ChangeHash| h.to_string()[..12].to_string();
        Ok(automerge
            .get_changes(&[])
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let actor = c.actor_id().to_bytes();
                let author = actor
                    .get(..32)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .map(|b| NodeId::from_bytes(b).short())
                    .unwrap_or_else(|| "?".into());
                HistoryEntry {
                    n: i + 1,
                    author,
                    device_time: c.timestamp(),
                    message: c.message().unwrap_or("").to_string(),
                    hash: hex(&c.hash()),
                    deps: c.deps().iter().map(hex).collect(),
                }
            })
            .collect())
    }

    /// Records with conflicting fields.
    pub fn conflicts(&self) -> Result<Vec<Shown>, NodeError> {
        let rows = self.store.list(&ListFilter {
            conflicts_only: true,
            ..ListFilter::default()
        })?;
        rows.iter().map(|r| self.show(&r.id)).collect()
    }

    /// Verifies changes from elsewhere (a bundle) and stores those that
    /// pass every check sync makes (see [`crate::receive_changes`]): each
    /// refused change is logged in the audit log and listed in the report;
    /// the others are stored.
    pub fn import_changes(
        &mut self,
        changes: &[SignedChange],
    ) -> Result<danvan_model::ApplyReport, NodeError> {
        Ok(crate::intake::receive_changes(
            &mut self.store,
            crate::intake::Via::Bundle,
            changes.to_vec(),
        )?)
    }

    /// Every stored change, in log order.
    pub fn all_changes(&self) -> Result<Vec<SignedChange>, NodeError> {
        let mut out = Vec::new();
        let mut since = 0;
        loop {
            let batch = self.store.changes_after(since, 10_000)?;
            let Some(last) = batch.last() else { break };
            since = last.seq;
            out.extend(batch.into_iter().map(|s| s.change));
        }
        Ok(out)
    }

    /// Whether a record is of a kind, else an error naming both.
    pub fn expect_kind(record: &Record, kind: Kind) -> Result<(), NodeError> {
        if record.kind() != kind {
            return Err(NodeError::WrongKind {
                id: record.header().id.clone(),
                expected: kind.named(),
                found: record.kind().named(),
            });
        }
        Ok(())
    }
}

fn sign_since(
    key: &NodeKey,
    doc: &DocId,
    automerge: &Automerge,
    heads: &[automerge::ChangeHash],
) -> Vec<SignedChange> {
    automerge
        .get_changes(heads)
        .into_iter()
        .map(|mut c| key.sign_change(doc, &mut c))
        .collect()
}

fn build_new(
    key: &NodeKey,
    actor: automerge::ActorId,
    record: &Record,
) -> Result<(DocId, Automerge, Vec<SignedChange>), NodeError> {
    let doc: DocId = record.header().id.parse().map_err(NodeError::DocId)?;
    let mut automerge = Automerge::new().with_actor(actor);
    let message = format!("tạo hồ sơ {}", record.kind().label_vi());
    automerge
        .transact_with(
            |_| {
                CommitOptions::default()
                    .with_message(message.clone())
                    .with_time(now_ms())
            },
            |tx| danvan_model::write_new(tx, record),
        )
        .map_err(|f| f.error)?;
    let changes = sign_since(key, &doc, &automerge, &[]);
    Ok((doc, automerge, changes))
}
