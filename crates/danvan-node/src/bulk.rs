//! Many new records at once (CSV import, a conclusion's tasks): each
//! record's Automerge document and signed change are built on worker
//! threads, one per core, while the calling thread writes what is built
//! into the store's one transaction, in the records' order.
//!
//! Building (Automerge's transaction, encoding, the Ed25519 signature) was
//! half of an import's CPU time, and SQLite writes on one thread, so both
//! cores of a commune laptop work. Memory stays bounded: each worker has
//! at most [`CHUNKS_AHEAD`] chunks of [`CHUNK`] documents waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use automerge::Automerge;
use danvan_model::{DocId, NodeKey, Record, SignedChange};

use crate::error::NodeError;

/// Records built by one worker before it hands them over.
const CHUNK: usize = 64;
/// Built chunks a worker may have waiting for the writer.
const CHUNKS_AHEAD: usize = 4;
/// Worker threads at most, whatever the machine has.
const WORKERS_MAX: usize = 4;

/// A record's new document and its signed changes.
pub(crate) type Built = (DocId, Automerge, Vec<SignedChange>);

/// Builds every record with `build` on worker threads and hands each
/// result to `write`, in the records' order, on the calling thread. Stops
/// at the first error (of either), or when `stop` is set (then `Ok(false)`).
pub(crate) fn build_and_write(
    records: &[Record],
    key: &NodeKey,
    actor: &automerge::ActorId,
    stop: &AtomicBool,
    build: fn(&NodeKey, automerge::ActorId, &Record) -> Result<Built, NodeError>,
    write: &mut dyn FnMut(Built) -> Result<(), NodeError>,
) -> Result<bool, NodeError> {
    let chunks: Vec<&[Record]> = records.chunks(CHUNK).collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, WORKERS_MAX)
        .min(chunks.len().max(1));
    std::thread::scope(|scope| {
        let mut inboxes: Vec<Receiver<Result<Vec<Built>, NodeError>>> = Vec::new();
        for first in 0..workers {
            let (tx, rx) = sync_channel(CHUNKS_AHEAD);
            inboxes.push(rx);
            let chunks = &chunks;
            scope.spawn(move || {
                for chunk in chunks.iter().skip(first).step_by(workers) {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let built = chunk.iter().map(|r| build(key, actor.clone(), r)).collect();
                    // The writer stopped (an error): nothing more to do.
                    if tx.send(built).is_err() {
                        return;
                    }
                }
            });
        }
        for i in 0..chunks.len() {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            // A worker ends early only when `stop` is set.
            let Ok(built) = inboxes[i % workers].recv() else {
                return Ok(false);
            };
            for one in built? {
                write(one)?;
            }
        }
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use danvan_model::Kind;
    use danvan_store::ListFilter;
    use danvan_testkit::TempDir;

    use crate::error::NodeError;
    use crate::node::Node;

    /// A household CSV of `rows` rows; `bad`: the data row (from 1) whose
    /// compensation is not a number.
    fn csv(dir: &TempDir, rows: usize, bad: Option<usize>) -> std::path::PathBuf {
        let mut text = String::from("head,village,parcels,compensation_vnd,stage\n");
        for i in 1..=rows {
            let money = if bad == Some(i) { "nhiều" } else { "1000000" };
            text.push_str(&format!(
                "Nguyễn Văn Hộ {i},Thôn 1,12/{i}:100:ONT,{money},kiem-dem\n"
            ));
        }
        let path = dir.path().join(format!("ho-{rows}-{bad:?}.csv"));
        std::fs::write(&path, text).expect("csv");
        path
    }

    fn held(n: &Node) -> usize {
        n.list(&ListFilter::default()).expect("list").len()
    }

    /// Many chunks of records built on worker threads: every row is
    /// stored once, in the file's order of ids; a bad row anywhere is
    /// named by its line and nothing is stored; Ctrl+C while writing
    /// stores nothing.
    #[test]
    fn an_import_built_on_every_core_keeps_its_guarantees() {
        let d = TempDir::new("bulk-import");
        let mut n = Node::init(&d.path().join("node"), "pho-minh", None, None).expect("init");
        let rows = super::CHUNK * 9 + 7;

        // Bad row in the middle: named with its line (header is line 1).
        let bad = csv(&d, rows, Some(300));
        match n.import_csv(Kind::Household, &bad) {
            Err(NodeError::Csv { count, rows, .. }) => {
                assert_eq!(count, 1);
                assert!(rows.contains("Dòng 301"), "{rows}");
            }
            other => panic!("expected a CSV error, got {other:?}"),
        }
        assert_eq!(held(&n), 0, "nothing stored on a bad row");

        // Interrupted while writing: rolled back whole.
        let good = csv(&d, rows, None);
        let stop = AtomicBool::new(false);
        let stopped = n.import_file(Kind::Household, &good, None, &stop, &mut |p| {
            if p.step == "Ghi hồ sơ" {
                stop.store(true, Ordering::Relaxed);
            }
        });
        assert!(
            matches!(stopped, Err(NodeError::Interrupted { .. })),
            "{stopped:?}"
        );
        assert_eq!(held(&n), 0, "nothing stored when stopped");

        // Whole: every row once, each record the row it came from.
        assert_eq!(n.import_csv(Kind::Household, &good).expect("import"), rows);
        assert_eq!(held(&n), rows);
        for i in [1, super::CHUNK, super::CHUNK + 1, rows] {
            let found = n
                .search(&ListFilter::default(), &format!("Nguyễn Văn Hộ {i}"), 10)
                .expect("search");
            let record = n.show(&found.rows[0].id).expect("show").record;
            let danvan_model::Record::Household(h) = record else {
                panic!("not a household")
            };
            assert_eq!(h.head, format!("Nguyễn Văn Hộ {i}"));
            assert_eq!(h.parcels[0].number, i.to_string());
        }
        // Again: every row already held, nothing new.
        assert_eq!(n.import_csv(Kind::Household, &good).expect("again"), 0);
        assert_eq!(held(&n), rows);
    }
}
