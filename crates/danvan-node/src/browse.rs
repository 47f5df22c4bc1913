//! Reading records the way a person browses them: search ranked by
//! relevance with paging, a record's history as field changes (old → new)
//! by named machines, conflicts with who set each value, and counts for
//! the overview. Nothing here writes; the web app and the CLI render it.

use automerge::{Automerge, ChangeHash, ReadDoc};
use danvan_model::{Kind, NodeId, Period, Record, format_date};
use danvan_store::{ListFilter, Row};
use serde::Serialize;

use crate::error::NodeError;
use crate::node::Node;
use crate::search::{SEARCH_CANDIDATES_MAX, query_words};

/// A record's field history reads at most this many changes: every change
/// costs a fork of the document, and a record edited more often than this
/// is shown with its latest changes.
pub const HISTORY_CHANGES_MAX: usize = 300;

/// One page of a record list.
#[derive(Debug, Clone, Serialize)]
pub struct RecordPage {
    /// The rows of this page, best first.
    pub rows: Vec<Row>,
    /// Whether a next page exists.
    pub more: bool,
    /// How many records matched, when known (always for a search).
    pub total: Option<usize>,
    /// Whether the search stopped at [`SEARCH_CANDIDATES_MAX`] candidates.
    pub truncated: bool,
}

/// One field changed by one change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field's name in the record (`status`, `visits`, …).
    pub field: String,
    /// The value before the change (`null` when unset).
    pub old: serde_json::Value,
    /// The value after it.
    pub new: serde_json::Value,
}

/// One change of a record, as the history page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldHistoryEntry {
    /// Position in causal order, from 1.
    pub n: usize,
    /// The author machine's node id.
    pub author: String,
    /// Its name: the roster's, else the trust list's, else its short id.
    pub author_name: String,
    /// The author's device clock, ms since 1970 (information only).
    pub device_time: i64,
    /// The change's own message ("sửa status").
    pub message: String,
    /// What it changed.
    pub fields: Vec<FieldChange>,
}

/// One of the competing values of a conflicting field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictValue {
    /// The value.
    pub value: serde_json::Value,
    /// The machines that set it (node id, name).
    pub set_by: Vec<(String, String)>,
}

/// A field edited concurrently to different values, with who set each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthoredConflict {
    /// The field.
    pub field: &'static str,
    /// Its Vietnamese label.
    pub label_vi: &'static str,
    /// The values, the one shown by default first.
    pub values: Vec<ConflictValue>,
}

impl Node {
    /// A page of the record list. Without `query` the rows come in the
    /// store's order (newest first); with one, only records holding every
    /// word of it (without diacritics, as whole words) are listed, best
    /// match first. `page` counts from 0.
    pub fn browse(
        &self,
        filter: &ListFilter,
        query: &str,
        page: usize,
        per_page: usize,
    ) -> Result<RecordPage, NodeError> {
        let per_page = per_page.max(1);
        if query_words(query).is_empty() {
            let mut filter = filter.clone();
            filter.words.clear();
            filter.limit = Some((page + 1) * per_page + 1);
            let mut rows = self.store().list(&filter)?;
            let more = rows.len() > (page + 1) * per_page;
            let rows: Vec<Row> = rows
                .drain(..)
                .skip(page * per_page)
                .take(per_page)
                .collect();
            return Ok(RecordPage {
                rows,
                more,
                total: None,
                truncated: false,
            });
        }
        // Ranked by relevance (`search.rs`), the same search as `danvan
        // list --search`.
        let found = self.search(filter, query, SEARCH_CANDIDATES_MAX)?;
        let total = found.rows.len();
        let rows = found
            .rows
            .into_iter()
            .skip(page * per_page)
            .take(per_page)
            .collect();
        Ok(RecordPage {
            rows,
            more: total > (page + 1) * per_page,
            total: Some(total),
            truncated: found.truncated,
        })
    }

    /// The name people know a machine by: its roster name when a roster is
    /// held, else the name it has on this node's trust list, else its short
    /// id; this machine's own name for itself.
    pub fn node_name(&self, node: &NodeId) -> String {
        if *node == self.id()
            && let Some(name) = self.name()
        {
            return name;
        }
        if let Ok(Some(roster)) = self.store().roster()
            && let Some(name) = roster.member(node).and_then(|m| m.name.clone())
        {
            return name;
        }
        if let Ok(trusted) = self.store().trusted()
            && let Some(name) = trusted
                .into_iter()
                .find(|t| t.id == *node)
                .and_then(|t| t.name)
        {
            return name;
        }
        node.short()
    }

    /// A record's history: each change with its author's name and the
    /// fields it changed, old → new, found by comparing the record just
    /// before the change (at its dependencies) with the record just after.
    pub fn field_history(&self, id: &str) -> Result<Vec<FieldHistoryEntry>, NodeError> {
        let (_, automerge) = self.load(id)?;
        let changes = automerge.get_changes(&[]);
        let skip = changes.len().saturating_sub(HISTORY_CHANGES_MAX);
        // The document is replayed change by change in causal order. When a
        // change follows the one before it (a history made on one machine,
        // or after a sync), the record before it is the one read after the
        // previous change and the record after it is read from the replay;
        // only a change made concurrently with its predecessor needs a fork
        // of the whole document, which costs a read of the whole history.
        let mut replay = Automerge::new();
        let mut previous: Option<(ChangeHash, serde_json::Value)> = None;
        let mut names: Vec<(NodeId, String)> = Vec::new();
        let mut out = Vec::new();
        let mut roots = RootKeys::default();
        for (i, change) in changes.iter().enumerate() {
            replay
                .apply_changes([change.clone()])
                .map_err(|e| danvan_model::RecordError::Unreadable(e.to_string()))?;
            if i < skip {
                roots.learn(change);
                continue;
            }
            let hash = change.hash();
            let before = match previous.take() {
                Some((h, json)) if change.deps() == [h] => json,
                _ => record_json_at(&automerge, change.deps())?,
            };
            let touched = roots.touched(change);
            let mut before = before;
            let appended = if replay.get_heads() == [hash] {
                list_append(&replay, &mut before, &touched)
            } else {
                None
            };
            let (after, fields) = match appended {
                Some((after, change)) => (after, vec![change]),
                None => {
                    let after = if replay.get_heads() == [hash] {
                        danvan_model::read_record(&replay)?.to_json()
                    } else {
                        record_json_at(&automerge, &[hash])?
                    };
                    let fields = diff_fields(&before, &after);
                    (after, fields)
                }
            };
            let author = actor_node(change.actor_id().to_bytes());
            // One name lookup per machine, not per change: it reads the roster.
            let author_name = match author {
                Some(a) => match names.iter().find(|(n, _)| *n == a) {
                    Some((_, name)) => name.clone(),
                    None => {
                        let name = self.node_name(&a);
                        names.push((a, name.clone()));
                        name
                    }
                },
                None => "?".into(),
            };
            out.push(FieldHistoryEntry {
                n: i + 1,
                author: author.map(|a| a.to_string()).unwrap_or_default(),
                author_name,
                device_time: change.timestamp(),
                message: change.message().unwrap_or("").to_string(),
                fields,
            });
            previous = Some((hash, after));
        }
        Ok(out)
    }

    /// The conflicting fields of a record with who set each value.
    pub fn authored_conflicts(&self, id: &str) -> Result<Vec<AuthoredConflict>, NodeError> {
        let (_, automerge) = self.load(id)?;
        let kind = danvan_model::read_record(&automerge)?.kind();
        let mut out = Vec::new();
        for spec in danvan_model::editable_fields(kind) {
            let Ok(values) = automerge.get_all(automerge::ROOT, spec.name) else {
                continue;
            };
            if values.len() < 2 {
                continue;
            }
            let mut merged: Vec<ConflictValue> = Vec::new();
            // get_all lists values in op order with the default winner last.
            for (value, exid) in values.iter().rev() {
                let value = danvan_model::scalar_json(value);
                let setter = match exid {
                    automerge::ObjId::Id(_, actor, _) => actor_node(actor.to_bytes()),
                    automerge::ObjId::Root => None,
                };
                let setter = setter.map(|n| (n.to_string(), self.node_name(&n)));
                match merged.iter_mut().find(|c| c.value == value) {
                    Some(c) => c.set_by.extend(setter),
                    None => merged.push(ConflictValue {
                        value,
                        set_by: setter.into_iter().collect(),
                    }),
                }
            }
            if merged.len() > 1 {
                out.push(AuthoredConflict {
                    field: spec.name,
                    label_vi: spec.label_vi,
                    values: merged,
                });
            }
        }
        Ok(out)
    }

    /// How many records of each kind touch the period: the overview's
    /// figures. Tasks are counted by their deadline.
    pub fn period_counts(&self, period: &Period) -> Result<Vec<(Kind, u64)>, NodeError> {
        let range = (format_date(period.start), format_date(period.end));
        let mut out = Vec::new();
        for kind in Kind::ALL {
            // Counted in the projection's (kind, date) index: no row is read.
            let n = self.store().count(&ListFilter {
                kind: Some(kind.code().into()),
                period: Some(range.clone()),
                ..ListFilter::default()
            })?;
            out.push((kind, n));
        }
        Ok(out)
    }
}

/// What the overview shows besides the counts: petitions near or past
/// their deadline and the tasks of the period with their progress.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Records of each kind touching the period.
    pub counts: Vec<(Kind, u64)>,
    /// Open petitions due within the days asked, or overdue.
    pub due: Vec<danvan_report::DuePetition>,
    /// The period's tasks and each unit's progress.
    pub tasks: danvan_report::TaskSection,
}

impl Node {
    /// Reads the records of some kinds the filter selects, parsed; with
    /// `statuses`, only those in one of them.
    fn records_of(
        &self,
        kinds: &[Kind],
        period: Option<&Period>,
        statuses: Option<&[&str]>,
    ) -> Result<Vec<Record>, NodeError> {
        let mut out = Vec::new();
        for kind in kinds {
            let filter = |status: Option<&str>| ListFilter {
                kind: Some(kind.code().into()),
                period: period.map(|p| (format_date(p.start), format_date(p.end))),
                status: status.map(str::to_string),
                ..ListFilter::default()
            };
            let filters = match statuses {
                Some(statuses) => statuses.iter().map(|s| filter(Some(s))).collect(),
                None => vec![filter(None)],
            };
            for filter in filters {
                self.store().for_each_json(&filter, |text| {
                    out.push(Record::from_json_str(*kind, text)?);
                    Ok::<(), NodeError>(())
                })??;
            }
        }
        Ok(out)
    }

    /// The overview of this node's unit for a period as of `today`. It
    /// reads only petitions, tasks and progress reports: the full report and
    /// due list also parse every activity and household, which a town-wide
    /// overview opened many times a day cannot afford.
    pub fn overview(
        &self,
        period: Period,
        today: time::Date,
        due_within_days: i64,
    ) -> Result<Overview, NodeError> {
        let unit = self.unit().to_string();
        // Only open petitions can be due: a town's closed ones, nearly all
        // of them, are not read (the projection's status is the petition's).
        let open: Vec<&str> = danvan_model::vocab::PETITION_STATUSES
            .iter()
            .map(|(code, _)| *code)
            .filter(|code| !danvan_model::vocab::PETITION_CLOSED.contains(code))
            .collect();
        let petitions = self.records_of(&[Kind::Petition], None, Some(&open))?;
        let due = danvan_report::due(
            &danvan_report::DueRequest {
                units: self.units(),
                unit: &unit,
                today,
                within_days: due_within_days,
                // No households are read, so no visit is stale.
                stale_days: 36_500,
            },
            &petitions,
        )?
        .petitions;
        let tasks = self.records_of(&[Kind::Task], None, None)?;
        let mut reading = tasks;
        reading.extend(self.records_of(&[Kind::Progress], Some(&period), None)?);
        let tasks = danvan_report::build_report(
            &danvan_report::ReportRequest {
                units: self.units(),
                unit: &unit,
                period,
                today,
            },
            &reading,
        )?
        .tasks;
        Ok(Overview {
            counts: self.period_counts(&period)?,
            due,
            tasks,
        })
    }
}

/// The node whose key starts an Automerge actor (key ‖ store epoch).
fn actor_node(actor: &[u8]) -> Option<NodeId> {
    actor
        .get(..32)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(NodeId::from_bytes)
}

/// Which top-level field of the record each nested object lies under, as
/// learnt from the operations that made the objects.
#[derive(Default)]
struct RootKeys {
    of: std::collections::HashMap<automerge::legacy::OpId, String>,
}

/// What one change did, by top-level field.
#[derive(Debug, Default)]
struct Touched {
    /// The top-level fields the change touched (the root key of every op).
    keys: Vec<String>,
    /// Whether an op's object could not be traced back to a root key.
    unknown: bool,
    /// Whether every op was an insert of a new object into a top-level
    /// list, or an op inside an object the change itself made.
    appends_only: bool,
    /// The list objects inserted into and the ids of the inserted objects,
    /// in op order.
    inserted: Vec<(automerge::legacy::OpId, automerge::legacy::OpId)>,
}

impl RootKeys {
    /// Learns the objects a change makes (for changes not shown).
    fn learn(&mut self, change: &automerge::Change) {
        self.touched(change);
    }

    /// The fields a change touched; learns the objects it makes.
    fn touched(&mut self, change: &automerge::Change) -> Touched {
        use automerge::legacy::{Key, ObjectId, OpId, OpType};
        let expanded = change.decode();
        let actor = expanded.actor_id.clone();
        let start = expanded.start_op.get();
        let mut out = Touched {
            appends_only: true,
            ..Touched::default()
        };
        // Objects made by this change: inside them, any op is part of a
        // new item.
        let mut made: std::collections::HashSet<OpId> = std::collections::HashSet::new();
        for (n, op) in expanded.operations.iter().enumerate() {
            let id = OpId(start + n as u64, actor.clone());
            let key = match &op.obj {
                ObjectId::Root => match &op.key {
                    Key::Map(k) => Some(k.to_string()),
                    Key::Seq(_) => None,
                },
                ObjectId::Id(obj) => self.of.get(obj).cloned(),
            };
            let Some(key) = key else {
                out.unknown = true;
                out.appends_only = false;
                continue;
            };
            let in_new = match &op.obj {
                ObjectId::Id(obj) => made.contains(obj),
                ObjectId::Root => false,
            };
            if let OpType::Make(_) = op.action {
                self.of.insert(id.clone(), key.clone());
                made.insert(id.clone());
            }
            if !in_new {
                match (&op.obj, &op.action) {
                    (ObjectId::Id(list), OpType::Make(_)) if op.insert => {
                        out.inserted.push((list.clone(), id.clone()));
                    }
                    _ => out.appends_only = false,
                }
            }
            if !out.keys.contains(&key) {
                out.keys.push(key);
            }
        }
        out
    }
}

/// The record after a change that only appended new items to one of a
/// household's lists, with the one field change it made (the list, old →
/// new, as [`diff_fields`] reports it), from `before` and the new items
/// alone: reading the whole record costs milliseconds once it holds
/// hundreds of visits. `before` loses the list (moved into the change's
/// old value). `None`, `before` untouched, when the change did anything
/// else; the caller reads the record.
fn list_append(
    doc: &Automerge,
    before: &mut serde_json::Value,
    touched: &Touched,
) -> Option<(serde_json::Value, FieldChange)> {
    if touched.unknown || !touched.appends_only || touched.keys.len() != 1 {
        return None;
    }
    let key = touched.keys[0].as_str();
    let (list_op, _) = touched.inserted.first()?;
    if touched.inserted.iter().any(|(l, _)| l != list_op) {
        return None;
    }
    let is_household = before
        .get("header")
        .and_then(|h| h.get("kind"))
        .and_then(|k| k.as_str())
        == Some(Kind::Household.code());
    if !is_household {
        return None;
    }
    let old_len = before.get(key)?.as_array()?.len();
    let list = match doc.get(automerge::ROOT, key).ok()?? {
        (automerge::Value::Object(automerge::ObjType::List), id) => id,
        _ => return None,
    };
    // The list the change inserted into must be the field's list.
    match &list {
        automerge::ObjId::Id(counter, actor, _) if *counter == list_op.0 && *actor == list_op.1 => {
        }
        _ => return None,
    }
    let len = doc.length(&list);
    let added = touched.inserted.len();
    if len != old_len + added {
        return None;
    }
    // The new items must be the list's last ones, in order: the change
    // appended rather than inserted before older items.
    let mut new_items = Vec::with_capacity(added);
    for (i, (_, item_op)) in touched.inserted.iter().enumerate() {
        let index = old_len + i;
        match doc.get(&list, index).ok()?? {
            (automerge::Value::Object(_), automerge::ObjId::Id(counter, actor, _))
                if counter == item_op.0 && actor == item_op.1 => {}
            _ => return None,
        }
        new_items.push(item_json(doc, &list, key, index)?);
    }
    // The old list is moved into the change, not copied: only the new list
    // is, once for the change and once for the record after it.
    let old = std::mem::take(before.get_mut(key)?);
    let mut items = old.as_array()?.clone();
    items.extend(new_items);
    let new = serde_json::Value::Array(items);
    let mut after = std::mem::take(before);
    after.as_object_mut()?.insert(key.to_string(), new.clone());
    Some((
        after,
        FieldChange {
            field: key.to_string(),
            old,
            new,
        },
    ))
}

/// One item of a household's list as the record's JSON shows it.
fn item_json(
    doc: &Automerge,
    list: &automerge::ObjId,
    key: &str,
    index: usize,
) -> Option<serde_json::Value> {
    fn read<T: autosurgeon::Hydrate + Serialize>(
        doc: &Automerge,
        list: &automerge::ObjId,
        index: usize,
    ) -> Option<serde_json::Value> {
        let item: T = autosurgeon::hydrate_prop(doc, list, index).ok()?;
        serde_json::to_value(item).ok()
    }
    match key {
        "visits" => read::<danvan_model::Visit>(doc, list, index),
        "stage_log" => read::<danvan_model::StageEvent>(doc, list, index),
        "objections" => read::<danvan_model::ObjectionEvent>(doc, list, index),
        _ => None,
    }
}

/// The record's JSON as of `heads` (an empty object before the first change).
fn record_json_at(doc: &Automerge, heads: &[ChangeHash]) -> Result<serde_json::Value, NodeError> {
    if heads.is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    let fork = doc
        .fork_at(heads)
        .map_err(|e| danvan_model::RecordError::Unreadable(e.to_string()))?;
    Ok(danvan_model::read_record(&fork)?.to_json())
}

/// The top-level fields that differ between two record JSONs, in the
/// order of the newer one. The header is shown as one field when created.
fn diff_fields(before: &serde_json::Value, after: &serde_json::Value) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let old = before.as_object().unwrap_or(&empty);
    let new = after.as_object().unwrap_or(&empty);
    let mut out = Vec::new();
    for (field, value) in new {
        let was = old.get(field).cloned().unwrap_or(serde_json::Value::Null);
        if was != *value {
            out.push(FieldChange {
                field: field.clone(),
                old: was,
                new: value.clone(),
            });
        }
    }
    for (field, was) in old {
        if !new.contains_key(field) && !was.is_null() {
            out.push(FieldChange {
                field: field.clone(),
                old: was.clone(),
                new: serde_json::Value::Null,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use danvan_testkit::TempDir;

    #[test]
    fn a_diff_lists_changed_added_and_removed_fields() {
        let before = serde_json::json!({"status": "moi", "title": "A", "gone": "x"});
        let after = serde_json::json!({"status": "dang-giai-quyet", "title": "A", "answer": "ok"});
        let diff = diff_fields(&before, &after);
        assert_eq!(
            diff,
            vec![
                FieldChange {
                    field: "answer".into(),
                    old: serde_json::Value::Null,
                    new: "ok".into()
                },
                FieldChange {
                    field: "status".into(),
                    old: "moi".into(),
                    new: "dang-giai-quyet".into()
                },
                FieldChange {
                    field: "gone".into(),
                    old: "x".into(),
                    new: serde_json::Value::Null
                },
            ]
        );
    }

    fn model(node: &Node, name: &str) -> Record {
        Record::Model(danvan_model::Model {
            header: node.new_header(Kind::Model, None, None).expect("header"),
            name: name.into(),
            field: danvan_model::vocab::MODEL_FIELDS[0].0.into(),
            year: 2023,
            results: None,
        })
    }

    /// Two machines of the town, "Máy A" and "Máy B", A trusting B; their
    /// data directories are named `prefix` + a/b and live as long as the
    /// first value.
    fn machines_a_and_b(prefix: &str) -> ((TempDir, TempDir), Node, Node) {
        let dirs = (
            TempDir::new(&format!("browse-{prefix}a")),
            TempDir::new(&format!("browse-{prefix}b")),
        );
        let mut a = Node::init(dirs.0.path(), "duc-pho", Some("Máy A"), None).expect("init a");
        let b = Node::init(dirs.1.path(), "duc-pho", Some("Máy B"), None).expect("init b");
        a.store_mut()
            .trust(&b.id(), None, Some("Máy B"), 0)
            .expect("trust");
        (dirs, a, b)
    }

    fn exchange(from: &Node, to: &mut Node) {
        let changes = from.all_changes().expect("changes");
        let report = to.import_changes(&changes).expect("import");
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    }

    #[test]
    fn history_names_machines_and_conflicts_name_who_set_each_value() {
        let (_dirs, mut a, mut b) = machines_a_and_b("");
        let id = a
            .add(&model(&a, "Dân vận khéo thôn 1"))
            .expect("add")
            .to_string();
        exchange(&a, &mut b);
        a.edit(&id, &["results=Giảm 5 vụ".into()]).expect("edit a");
        b.edit(&id, &["results=Giảm 7 vụ".into()]).expect("edit b");
        exchange(&b, &mut a);

        let history = a.field_history(&id).expect("history");
        assert_eq!(history.len(), 3, "{history:?}");
        assert_eq!(history[0].author_name, "Máy A");
        assert!(
            history[0]
                .fields
                .iter()
                .any(|f| f.field == "name" && f.old.is_null() && f.new == "Dân vận khéo thôn 1")
        );
        let by_b = history
            .iter()
            .find(|h| h.author_name == "Máy B")
            .expect("B's change");
        assert_eq!(
            by_b.fields,
            vec![FieldChange {
                field: "results".into(),
                old: serde_json::Value::Null,
                new: "Giảm 7 vụ".into()
            }]
        );

        let conflicts = a.authored_conflicts(&id).expect("conflicts");
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].field, "results");
        let mut seen: Vec<(String, String)> = conflicts[0]
            .values
            .iter()
            .map(|v| {
                (
                    v.value.as_str().unwrap_or("").to_string(),
                    v.set_by[0].1.clone(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("Giảm 5 vụ".to_string(), "Máy A".to_string()),
                ("Giảm 7 vụ".to_string(), "Máy B".to_string())
            ]
        );

        // Setting the field is the resolution: the conflict is gone.
        a.edit(&id, &["results=Giảm 7 vụ".into()]).expect("resolve");
        assert!(a.authored_conflicts(&id).expect("conflicts").is_empty());
    }

    /// The history as it was first made: the whole record read before and
    /// after every change and compared. The test's oracle for the fast
    /// path, which reads only the fields a change touched.
    fn field_history_whole(node: &Node, id: &str) -> Vec<FieldHistoryEntry> {
        let (_, automerge) = node.load(id).expect("load");
        let changes = automerge.get_changes(&[]);
        let skip = changes.len().saturating_sub(HISTORY_CHANGES_MAX);
        let mut out = Vec::new();
        for (i, change) in changes.iter().enumerate().skip(skip) {
            let before = record_json_at(&automerge, change.deps()).expect("before");
            let after = record_json_at(&automerge, &[change.hash()]).expect("after");
            let author = actor_node(change.actor_id().to_bytes());
            out.push(FieldHistoryEntry {
                n: i + 1,
                author: author.map(|a| a.to_string()).unwrap_or_default(),
                author_name: author.map(|a| node.node_name(&a)).unwrap_or("?".into()),
                device_time: change.timestamp(),
                message: change.message().unwrap_or("").to_string(),
                fields: diff_fields(&before, &after),
            });
        }
        out
    }

    #[test]
    fn a_long_household_history_equals_the_whole_record_comparison() {
        let (_dirs, mut a, mut b) = machines_a_and_b("long-");
        let household = Record::Household(danvan_model::Household {
            header: a
                .new_header(
                    Kind::Household,
                    None,
                    Some(danvan_model::vocab::PROJECTS[0].0),
                )
                .expect("header"),
            head: "Nguyễn Văn A".into(),
            village: Some("Thôn 1".into()),
            parcels: vec![],
            inventory: None,
            compensation_vnd: None,
            stage: danvan_model::vocab::STAGE_INVENTORIED.into(),
            stage_log: vec![],
            objections: vec![],
            visits: vec![],
        });
        let id = a.add(&household).expect("add").to_string();
        let visit = |n: &mut Node, i: usize| {
            n.household_visit(
                &id,
                "2024-03-01",
                &format!("Đồng chí {i}"),
                "Đồng ý một phần",
            )
            .expect("visit");
        };
        for i in 0..100 {
            visit(&mut a, i);
        }
        a.household_status(
            &id,
            danvan_model::vocab::STAGE_PLAN_POSTED,
            "2024-04-01",
            "Tổ 1",
            "",
        )
        .expect("stage");
        a.household_status(
            &id,
            danvan_model::vocab::OBJECTION.0,
            "2024-04-02",
            "",
            "Giá",
        )
        .expect("objection");
        for i in 100..196 {
            visit(&mut a, i);
        }
        a.edit(&id, &["compensation_vnd=1.250.000.000".into()])
            .expect("amount");
        exchange(&a, &mut b);
        // Concurrent: both machines append a visit, B also edits a field
        // and raises an objection; A merges and goes on.
        visit(&mut a, 196);
        visit(&mut b, 197);
        b.edit(&id, &["village=Thôn 2".into()]).expect("edit b");
        b.household_status(
            &id,
            danvan_model::vocab::OBJECTION.0,
            "2024-05-02",
            "",
            "Đất",
        )
        .expect("objection b");
        exchange(&b, &mut a);
        visit(&mut a, 198);
        visit(&mut a, 199);

        let fast = a.field_history(&id).expect("history");
        let whole = field_history_whole(&a, &id);
        assert_eq!(fast.len(), whole.len());
        for (f, w) in fast.iter().zip(&whole) {
            assert_eq!(f, w, "change {}", w.n);
        }
        // The fast path was taken and still names what each change did.
        let visits: Vec<usize> = fast
            .iter()
            .filter(|h| h.fields.len() == 1 && h.fields[0].field == "visits")
            .map(|h| h.fields[0].new.as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(visits.len(), 200, "{visits:?}");
        assert!(
            fast.iter()
                .any(|h| h.author_name == "Máy B" && h.fields.iter().any(|f| f.field == "village"))
        );
    }

    #[test]
    fn the_search_index_follows_edits_and_a_rebuild() {
        let d = TempDir::new("browse-fts");
        let mut n = Node::init(d.path(), "duc-pho", None, None).expect("init");
        let id = n
            .add(&model(&n, "Mô hình Dân vận khéo thôn Tân An"))
            .expect("add")
            .to_string();
        let hits = |n: &Node, q: &str| {
            n.browse(&ListFilter::default(), q, 0, 10)
                .expect("search")
                .rows
                .len()
        };
        assert_eq!(hits(&n, "tan an"), 1);
        // "an" is a whole word of the name; "tha" only starts "thôn".
        assert_eq!(hits(&n, "tha"), 0);
        n.edit(&id, &["name=Mô hình Dân vận khéo thôn Phước Hòa".into()])
            .expect("edit");
        assert_eq!(hits(&n, "tan an"), 0, "the old name is gone from the index");
        assert_eq!(hits(&n, "phuoc hoa"), 1);
        n.store_mut().rebuild_projections().expect("rebuild");
        assert_eq!(hits(&n, "phuoc hoa"), 1, "a rebuild indexes again");
        assert_eq!(hits(&n, "tan an"), 0);
    }

    #[test]
    fn browsing_pages_and_ranks_and_counts_the_period() {
        let d = TempDir::new("browse-list");
        let mut n = Node::init(d.path(), "duc-pho", None, None).expect("init");
        let mut records = Vec::new();
        for i in 0..5 {
            records.push(model(&n, &format!("Mô hình số {i}")));
        }
        records.push(model(&n, "Khéo vận động dân"));
        records.push(model(&n, "Dân vận khéo thôn 2"));
        n.add_many(&records).expect("add");

        let first = n.browse(&ListFilter::default(), "", 0, 3).expect("page 0");
        assert_eq!(first.rows.len(), 3);
        assert!(first.more);
        let last = n.browse(&ListFilter::default(), "", 2, 3).expect("page 2");
        assert_eq!(last.rows.len(), 1);
        assert!(!last.more);

        let found = n
            .browse(&ListFilter::default(), "dan van kheo", 0, 50)
            .expect("search");
        // Both hold the three words; the one with them side by side is first.
        assert_eq!(found.total, Some(2), "{:?}", found.rows);
        assert_eq!(found.rows[0].title, "Dân vận khéo thôn 2");
        let found = n
            .browse(&ListFilter::default(), "mo hinh so 3", 0, 50)
            .expect("search");
        assert_eq!(found.total, Some(1), "{:?}", found.rows);
        assert_eq!(found.rows[0].title, "Mô hình số 3");
        let found = n
            .browse(&ListFilter::default(), "kheo van", 0, 50)
            .expect("search");
        assert_eq!(found.total, Some(2));
        assert_eq!(found.rows[0].title, "Khéo vận động dân");

        let year: Period = "2023".parse().expect("period");
        let counts = n.period_counts(&year).expect("counts");
        assert!(counts.contains(&(Kind::Model, 7)), "{counts:?}");
        let petition = Record::Petition(danvan_model::Petition {
            header: n.new_header(Kind::Petition, None, None).expect("header"),
            petition_type: "kien-nghi".into(),
            round: 1,
            complex: false,
            remote: false,
            channel: "truc-tiep".into(),
            received: "2023-01-02".into(),
            citizen: "Nguyễn Văn An".into(),
            address: None,
            id_number: None,
            content: "Đường ngập".into(),
            category: None,
            assigned_unit: None,
            status: "moi".into(),
            answer: None,
            resolved: None,
        });
        n.add(&petition).expect("add petition");
        let today = time::Date::from_calendar_date(2023, time::Month::March, 1).expect("date");
        let overview = n.overview(year, today, 7).expect("overview");
        // Received 2 January, 15 days to answer: overdue on 1 March.
        assert_eq!(overview.due.len(), 1);
        assert!(overview.due[0].overdue);
        assert!(overview.counts.contains(&(Kind::Petition, 1)));
        let other: Period = "2021".parse().expect("period");
        assert!(
            n.period_counts(&other)
                .expect("counts")
                .contains(&(Kind::Model, 0))
        );
    }
}
