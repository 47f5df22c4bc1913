//! The record store's benchmarks, through `danvan_node::Node` on a real
//! SQLite file (WAL, `synchronous=FULL`) in a scratch directory:
//!
//! 1. durable single-record add (`Node::add`), with the latency of a bare
//!    SQLite insert+commit on the same disk as the fsync floor;
//! 2. bulk CSV import of households (`Node::import_csv`), and its peak memory;
//! 3. search (ranked) and a filtered list over the imported store
//!    (`Node::query`, as `danvan list` asks);
//! 4. database bytes per record against the Automerge `save()` of a record.

use std::path::Path;
use std::time::Duration;

use danvan_model::Kind;
use danvan_node::{ListFilter, ListQuery, Node};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::figure::{Figure, Figures, Target};
use crate::measure::{
    CpuTime, Samples, ScratchDir, file_bytes, file_system, peak_rss_mib, process_cpu,
    reset_peak_rss, timed,
};
use crate::{BenchError, Options, sample};

const GROUP: &str = "store";
/// The unit the nodes are created for and the filtered list asks about.
const UNIT: &str = "pho-minh";
/// The search the officers type most: the most common name prefix.
const SEARCH: &str = "nguyễn văn";
/// A person's full name: their records first, not every "văn".
const SEARCH_NAME: &str = "Nguyễn Văn Hùng";
/// The period of the filtered list.
const PERIOD: &str = "2025-H1";
/// The stage of the filtered list.
const STATUS: &str = "dong-y";
/// The limit a screen of results would use.
const SCREEN_ROWS: usize = 100;

/// How much to do; `--quick` shrinks everything.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// Durable adds measured (after the warm-up).
    adds: usize,
    /// Adds before measuring, so that statement caches and the file are warm.
    warmup_adds: usize,
    /// Households in the imported CSV.
    households: usize,
    /// Households that get a visit after the import, so that the period
    /// filter has something to find (a household's date is its last visit).
    visits: usize,
    /// Timed runs of each list, after one warm-up run.
    list_runs: usize,
    /// Documents loaded to measure the size of their `save()`.
    size_sample: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                adds: 100,
                warmup_adds: 5,
                households: 10_000,
                visits: 200,
                list_runs: 5,
                size_sample: 200,
            }
        } else {
            Sizes {
                adds: 500,
                warmup_adds: 10,
                households: 100_000,
                visits: 1_000,
                list_runs: 9,
                size_sample: 1_000,
            }
        }
    }
}

/// Runs the store group.
pub(crate) fn run(options: &Options) -> Result<Vec<Figure>, BenchError> {
    let sizes = Sizes::new(options.quick);
    let scratch = ScratchDir::new(options)?;
    let fs = file_system(scratch.path()).unwrap_or_else(|| "unknown file system".into());
    eprintln!("  data under {} ({fs})", scratch.path().display());
    if fs.starts_with("tmpfs") || fs.starts_with("ramfs") {
        eprintln!(
            "  warning: {fs} does not fsync; pass --dir on a real disk for durable-write figures"
        );
    }
    let mut figures = Figures::new(GROUP);
    durable_add(scratch.path(), sizes, &mut figures)?;
    let dir = scratch.path().join("import");
    import(&dir, scratch.path(), sizes, &mut figures)?;
    visits(&dir, sizes, &mut figures)?;
    size_per_record(&dir, sizes, &mut figures)?;
    lists(&dir, sizes, &mut figures)?;
    Ok(figures.into_vec())
}

fn node_err(step: &str) -> impl FnOnce(danvan_node::NodeError) -> BenchError + '_ {
    move |e| format!("{step}: {e}").into()
}

/// Benchmark 1: durable single-record add, and the bare SQLite floor beside
/// it. The two alternate, one danvan add then one bare commit, so that both
/// see the same disk and the same load from whatever else runs on the machine.
fn durable_add(scratch: &Path, sizes: Sizes, figures: &mut Figures) -> Result<(), BenchError> {
    let mut node = Node::init(&scratch.join("add"), UNIT, None, None).map_err(node_err("init"))?;
    let mut bare = BareSqlite::create(&scratch.join("bare"))?;
    let mut rng = sample::rng(2);
    let total = sizes.warmup_adds + sizes.adds;
    eprintln!(
        "  durable add: {total} activities via Node::add ({} warm-up), each followed by a bare \
         SQLite insert+commit (WAL, synchronous=FULL) on the same disk",
        sizes.warmup_adds
    );
    let mut danvan_ms = Vec::with_capacity(sizes.adds);
    let mut bare_ms = Vec::with_capacity(sizes.adds);
    for i in 0..total {
        let a = sample::activity(&mut rng);
        let record = node
            .new_activity(
                None,
                a.activity_type,
                &a.date,
                &a.title,
                Some(a.place),
                Some(a.organizers),
                Some(a.attendance),
                None,
                None,
                Some(a.summary),
                Some(a.results),
            )
            .map_err(node_err("building an activity"))?;
        let (added, took) = timed(|| node.add(&record));
        added.map_err(node_err("Node::add"))?;
        // The bare row is as large as the record's JSON, so that the floor
        // writes a comparable amount.
        let body = record.to_json().to_string().into_bytes();
        let (inserted, took_bare) = timed(|| bare.insert(&body));
        inserted?;
        if i >= sizes.warmup_adds {
            danvan_ms.push(took);
            bare_ms.push(took_bare);
        }
    }
    let danvan = Samples::new(&danvan_ms);
    let floor = Samples::new(&bare_ms);
    let n = sizes.adds;
    figures.info(
        format!("durable add, median of {n} activities"),
        danvan.median(),
        "ms",
    );
    figures.target(
        format!("durable add, p99 of {n} activities"),
        danvan.quantile(0.99),
        "ms",
        Target::Below(10.0),
    );
    figures.info(
        format!("bare SQLite insert+commit, median of {n}"),
        floor.median(),
        "ms",
    );
    figures.info(
        format!("bare SQLite insert+commit, p99 of {n}"),
        floor.quantile(0.99),
        "ms",
    );
    figures.info(
        "durable add / bare SQLite, median",
        danvan.median() / floor.median(),
        "x",
    );
    figures.info(
        "durable add / bare SQLite, p99",
        danvan.quantile(0.99) / floor.quantile(0.99),
        "x",
    );
    Ok(())
}

/// The fsync floor: a one-table database with the pragmas the store uses,
/// one row per transaction.
struct BareSqlite(rusqlite::Connection);

impl BareSqlite {
    fn create(dir: &Path) -> Result<BareSqlite, BenchError> {
        std::fs::create_dir_all(dir)?;
        let conn = rusqlite::Connection::open(dir.join("bare.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
            [],
        )?;
        Ok(BareSqlite(conn))
    }

    fn insert(&mut self, body: &[u8]) -> rusqlite::Result<()> {
        let tx = self.0.transaction()?;
        tx.prepare_cached("INSERT INTO t (body) VALUES (?1)")?
            .execute([body])?;
        tx.commit()
    }
}

/// Benchmark 2: bulk import from CSV, with the peak memory of the import.
fn import(
    dir: &Path,
    scratch: &Path,
    sizes: Sizes,
    figures: &mut Figures,
) -> Result<(), BenchError> {
    let n = sizes.households;
    let csv = scratch.join("households.csv");
    let csv_bytes = sample::write_household_csv(&csv, n)?;
    eprintln!(
        "  import: {n} households, CSV of {:.1} MiB",
        csv_bytes as f64 / 1048576.0
    );
    let mut node = Node::init(dir, UNIT, None, None).map_err(node_err("init"))?;
    let reset = reset_peak_rss();
    let cpu_before = CpuTime::now();
    let process_before = process_cpu();
    let (imported, took) = timed(|| node.import_csv(Kind::Household, &csv));
    let cpu = CpuTime::now()
        .zip(cpu_before)
        .map(|(after, before)| after.since(before));
    let process = process_cpu()
        .zip(process_before)
        .map(|(after, before)| after.saturating_sub(before));
    let imported = imported.map_err(node_err("Node::import_csv"))?;
    let peak = peak_rss_mib();
    if imported != n {
        return Err(format!("imported {imported} households, expected {n}").into());
    }
    let rate = n as f64 / took.as_secs_f64();
    eprintln!("    {n} in {:.1} s", took.as_secs_f64());
    figures.target(
        format!("CSV import, {n} households"),
        rate,
        "records/s",
        Target::AtLeast(5000.0),
    );
    if let Some(cpu) = cpu {
        // The import writes on this thread (and builds documents on worker
        // threads); what this thread spent neither running nor waiting for
        // a core is I/O or waiting for the workers.
        eprintln!(
            "    writing thread: on CPU {:.1} s, waiting for a CPU {:.1} s, the rest {:.1} s",
            cpu.running.as_secs_f64(),
            cpu.waiting.as_secs_f64(),
            (took.saturating_sub(cpu.running + cpu.waiting)).as_secs_f64()
        );
    }
    if let Some(process) = process {
        // Every thread's CPU: the cost of the import whatever else runs.
        eprintln!("    every thread: on CPU {:.1} s", process.as_secs_f64());
        figures.info(
            format!("CSV import, {n} households, per CPU-second (all threads)"),
            n as f64 / process.as_secs_f64(),
            "records/s",
        );
    }
    if let Some(peak) = peak {
        let what = if reset { "import" } else { "process so far" };
        figures.info(
            format!("peak RSS of the {what}, {n} households"),
            peak,
            "MiB",
        );
    }
    Ok(())
}

/// Every household id of the store, in a stable order.
fn household_ids(node: &Node) -> Result<Vec<String>, BenchError> {
    let mut ids: Vec<String> = node
        .list(&ListFilter {
            kind: Some(Kind::Household.code().to_string()),
            ..ListFilter::default()
        })
        .map_err(node_err("listing households"))?
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// Visits on a sample of the imported households, dated through 2025, so
/// that the period filter finds something; each is a durable edit, timed.
fn visits(dir: &Path, sizes: Sizes, figures: &mut Figures) -> Result<(), BenchError> {
    let mut node = Node::open(dir).map_err(node_err("open"))?;
    let mut ids = household_ids(&node)?;
    let mut rng = sample::rng(3);
    ids.shuffle(&mut rng);
    let n = sizes.visits;
    eprintln!(
        "  visits: {n} households get a visit (durable edit on a {}-record store)",
        ids.len()
    );
    let mut latencies = Vec::with_capacity(n);
    for id in ids.iter().take(n) {
        let date = format!(
            "2025-{:02}-{:02}",
            rng.gen_range(1..=12),
            rng.gen_range(1..=28)
        );
        let by = sample::person(&mut rng);
        let outcome = sample::visit_outcome(&mut rng);
        let (done, took) = timed(|| node.household_visit(id, &date, &by, outcome));
        done.map_err(node_err("Node::household_visit"))?;
        latencies.push(took);
    }
    let s = Samples::new(&latencies);
    figures.info(
        format!("visit (durable edit), median of {n}"),
        s.median(),
        "ms",
    );
    figures.info(
        format!("visit (durable edit), p99 of {n}"),
        s.quantile(0.99),
        "ms",
    );
    Ok(())
}

/// Benchmark 4: database bytes per record against the Automerge `save()` of a record.
fn size_per_record(dir: &Path, sizes: Sizes, figures: &mut Figures) -> Result<(), BenchError> {
    // The node was closed by `visits`: closing the last connection
    // checkpoints the WAL into the database and removes it.
    let db_bytes = file_bytes(&dir.join(danvan_store::DB_FILE))?
        + file_bytes(&dir.join(format!("{}-wal", danvan_store::DB_FILE)))?;
    breakdown(&dir.join(danvan_store::DB_FILE));
    let node = Node::open(dir).map_err(node_err("open"))?;
    let (records, changes, _) = node.store().counts().map_err(|e| format!("counts: {e}"))?;
    let ids = household_ids(&node)?;
    let step = (ids.len() / sizes.size_sample).max(1);
    let mut saved = 0usize;
    let mut loaded = 0usize;
    for id in ids.iter().step_by(step).take(sizes.size_sample) {
        let doc: danvan_model::DocId = id.parse().map_err(|e| format!("id {id}: {e}"))?;
        let automerge = node
            .store()
            .load_doc(&doc)
            .map_err(|e| format!("load_doc {id}: {e}"))?
            .ok_or_else(|| format!("load_doc {id}: not found"))?;
        saved += automerge.save().len();
        loaded += 1;
    }
    let per_record = db_bytes as f64 / records as f64;
    let save_mean = saved as f64 / loaded as f64;
    eprintln!(
        "    {records} records, {changes} changes, database {:.1} MiB",
        db_bytes as f64 / 1048576.0
    );
    figures.info(
        format!("database bytes per record, {records} records"),
        per_record,
        "B",
    );
    figures.info(
        format!("Automerge save() bytes, mean of {loaded}"),
        save_mean,
        "B",
    );
    figures.info("database bytes / save() bytes", per_record / save_mean, "x");
    Ok(())
}

/// Where the bytes are, per table and index (stderr only), when SQLite was
/// built with the `dbstat` table.
fn breakdown(db: &Path) {
    let read = || -> rusqlite::Result<Vec<(String, i64)>> {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut stmt =
            conn.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    };
    match read() {
        Ok(rows) => {
            for (name, bytes) in rows.iter().filter(|r| r.1 > 64 * 1024) {
                eprintln!("      {name:<24} {:>8.1} MiB", *bytes as f64 / 1048576.0);
            }
        }
        Err(e) => eprintln!("    (no per-table breakdown: {e})"),
    }
}

/// The median of `runs` timed calls of `query`, after one warm-up call,
/// and the number of rows it returned.
fn time_query(node: &Node, query: &ListQuery, runs: usize) -> Result<(f64, usize), BenchError> {
    let rows = node.query(query).map_err(node_err("Node::query"))?.len();
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (out, took) = timed(|| node.query(query));
        out.map_err(node_err("Node::query"))?;
        times.push(took);
    }
    Ok((Samples::new(&times).median(), rows))
}

/// Benchmark 3: search and a filtered list, asked for as `danvan list`
/// asks (`Node::query`): a search is ranked by relevance.
fn lists(dir: &Path, sizes: Sizes, figures: &mut Figures) -> Result<(), BenchError> {
    let node = Node::open(dir).map_err(node_err("open"))?;
    let (records, _, _) = node.store().counts().map_err(|e| format!("counts: {e}"))?;
    let search = |text: &str| ListQuery {
        search: Some(text.to_string()),
        ..ListQuery::default()
    };
    let filtered = ListQuery {
        kind: Some("household".to_string()),
        unit: Some(UNIT.to_string()),
        period: Some(PERIOD.to_string()),
        status: Some(STATUS.to_string()),
        ..ListQuery::default()
    };
    let cases = [
        (
            format!("search \"{SEARCH}\""),
            format!("--search \"{SEARCH}\""),
            search(SEARCH),
        ),
        (
            format!("search \"{SEARCH_NAME}\""),
            format!("--search \"{SEARCH_NAME}\""),
            search(SEARCH_NAME),
        ),
        (
            "kind+unit+period+status".to_string(),
            format!("--kind household --unit {UNIT} --period {PERIOD} --status {STATUS}"),
            filtered,
        ),
    ];
    for (name, args, query) in cases {
        eprintln!("  danvan list {args}");
        // The whole list, then the first screen of it.
        for (limit, extent) in [
            (None, "no limit".to_string()),
            (Some(SCREEN_ROWS), format!("limit {SCREEN_ROWS}")),
        ] {
            let query = ListQuery {
                limit,
                ..query.clone()
            };
            let (ms, rows) = time_query(&node, &query, sizes.list_runs)?;
            figures.target(
                format!("list {name}, {extent}, {records} records"),
                ms,
                "ms",
                Target::Below(50.0),
            );
            if limit.is_none() {
                figures.info(format!("list {name}, rows returned"), rows as f64, "rows");
            }
        }
    }
    Ok(())
}
