//! Reading the records a report folds: SQLite reads the projection's JSON
//! on the calling thread while a second thread parses it, so a report over
//! a town's records uses both cores (see ARCHITECTURE.md, "Side targets of
//! issue 13").

use std::sync::mpsc::{Receiver, sync_channel};

use danvan_model::{Kind, Record, RecordError};
use danvan_store::{ListFilter, Store};

use crate::error::NodeError;

/// JSON bytes handed to the parsing thread at a time. Few and large: on a
/// busy machine every hand-over that wakes a thread waits for a CPU (with
/// 256 KiB batches, ~230 for a 6-month report, the reading thread waited
/// twice as long as reading alone did).
const BATCH_BYTES: usize = 1024 * 1024;

/// Batches read and waiting for the parser, at most: the reading thread
/// stops when the parser is this far behind, so memory stays bounded.
const BATCHES_WAITING: usize = 8;

/// Records' JSON texts, one after another in `text`, each with its kind
/// and the offset where it ends.
#[derive(Default)]
struct Batch {
    text: String,
    rows: Vec<(Kind, usize)>,
}

/// Every record any of `filters` selects, once, in the order
/// [`Store::for_each_json_of`] reads them (stored order).
pub(crate) fn read_records(
    store: &Store,
    filters: &[ListFilter],
) -> Result<Vec<Record>, NodeError> {
    read_records_in(store, filters, BATCH_BYTES)
}

/// [`read_records`] in batches of about `batch_bytes`.
fn read_records_in(
    store: &Store,
    filters: &[ListFilter],
    batch_bytes: usize,
) -> Result<Vec<Record>, NodeError> {
    std::thread::scope(|scope| {
        let (send, receive) = sync_channel::<Batch>(BATCHES_WAITING);
        let parser = scope.spawn(move || parse_batches(receive));
        let mut batch = Batch::default();
        let read = store.for_each_json_of(filters, |kind, text| {
            batch.text.push_str(text);
            batch.rows.push((Kind::parse(kind)?, batch.text.len()));
            if batch.text.len() >= batch_bytes {
                // The parser stopped (a row it could not read): stop
                // reading; its error is the one returned below.
                send.send(std::mem::take(&mut batch))
                    .map_err(|_| ParserStopped)?;
            }
            Ok::<(), Stop>(())
        });
        if matches!(read, Ok(Ok(()))) && !batch.rows.is_empty() {
            // A failed send means the parser already returned its error.
            let _ = send.send(batch);
        }
        drop(send);
        // The parser returns Ok only once every batch was sent and taken.
        let parsed = parser
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match read? {
            Err(Stop::Record(e)) => return Err(e.into()),
            Err(Stop::Parser(ParserStopped)) | Ok(()) => {}
        }
        Ok(parsed?)
    })
}

/// The parsing thread: every batch's records, in order; stops at the first
/// row it cannot read (dropping `receive`, which stops the reader).
fn parse_batches(receive: Receiver<Batch>) -> Result<Vec<Record>, RecordError> {
    let mut out = Vec::new();
    for batch in receive {
        let mut start = 0;
        for (kind, end) in batch.rows {
            out.push(Record::from_json_str(kind, &batch.text[start..end])?);
            start = end;
        }
    }
    Ok(out)
}

/// The parsing thread is gone: it returned an error, which is the one to
/// report.
struct ParserStopped;

/// Why the reading stopped early.
enum Stop {
    /// A kind code that is not one.
    Record(RecordError),
    /// The parser stopped.
    Parser(ParserStopped),
}

impl From<RecordError> for Stop {
    fn from(e: RecordError) -> Stop {
        Stop::Record(e)
    }
}

impl From<ParserStopped> for Stop {
    fn from(e: ParserStopped) -> Stop {
        Stop::Parser(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Node;
    use danvan_model::Activity;
    use danvan_testkit::TempDir;

    fn activity(n: &Node, i: usize) -> Record {
        Record::Activity(Activity {
            header: n.new_header(Kind::Activity, None, None).expect("header"),
            activity_type: "tuyen-truyen".into(),
            date: format!("2023-0{}-1{}", 1 + i % 6, i % 10),
            title: format!("Hoạt động số {i}: {}", "tuyên truyền ".repeat(40)),
            place: None,
            organizers: None,
            attendance: Some(i as i64),
            citizens: None,
            matters: None,
            summary: None,
            results: None,
            petitions: vec![],
            tasks: vec![],
        })
    }

    fn all() -> Vec<ListFilter> {
        vec![ListFilter::default()]
    }

    /// Parsed beside the reading, the records are the ones a plain read
    /// parses, in the same order, across several batches; a row that is
    /// not a record stops the reading with its error.
    #[test]
    fn records_parsed_on_a_second_thread_are_those_read_in_order() {
        let d = TempDir::new("report-read");
        let mut n = Node::init(d.path(), "duc-pho", None, None).expect("init");
        let records: Vec<Record> = (0..700).map(|i| activity(&n, i)).collect();
        n.add_many(&records).expect("add");
        let mut plain = Vec::new();
        let mut bytes = 0;
        n.store()
            .for_each_json_of(&all(), |kind, text| {
                bytes += text.len();
                plain.push(Record::from_json_str(Kind::parse(kind)?, text)?);
                Ok::<(), RecordError>(())
            })
            .expect("read")
            .expect("parse");
        // Small batches, so that the rows fill many (and one batch, too).
        let batch = 16 * 1024;
        assert!(bytes > 8 * batch, "{bytes} bytes: too few batches");
        for batch_bytes in [batch, BATCH_BYTES] {
            let parsed = read_records_in(n.store(), &all(), batch_bytes).expect("read beside");
            assert_eq!(parsed.len(), 700);
            assert_eq!(parsed, plain);
        }

        let db = rusqlite::Connection::open(d.path().join(danvan_store::DB_FILE)).expect("db");
        db.execute(
            "UPDATE records SET json = '{\"broken\": ' WHERE rowid = (SELECT rowid FROM records LIMIT 1 OFFSET 350)",
            [],
        )
        .expect("break one row");
        let err = read_records_in(n.store(), &all(), batch).expect_err("a broken row");
        assert!(matches!(err, NodeError::Record(_)), "{err:?}");
    }
}
