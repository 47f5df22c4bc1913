//! The web app's figures (issue 11, section 4): server time of the pages
//! officers open most, and the bytes of a first page load, with a town's
//! worth of records in the store.
//!
//! The store is a real data directory of mixed record kinds (households and
//! activities with their later edits as in [`crate::corpus`]; petitions,
//! tasks, progress reports and "Dân vận khéo" models), written through the
//! node's batch write path, so every record is a signed Automerge document
//! with its projection row. It holds one household with a long history
//! (hundreds of visits) and one model whose field two machines set
//! concurrently. A generated store is cached in `danvan-bench-cache` and
//! copied for each run; opening the copy runs the schema migrations of this
//! build, as an upgrade would.
//!
//! The real web app (`danvan_web::serve_on`) serves the copy on
//! 127.0.0.1:0, and a plain HTTP/1.1 client ([`crate::http`]) times each
//! page from outside over loopback: warm-up requests first, then N timed
//! requests, each checked for its status and for what the page must show.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use danvan_model::{
    DocId, Header, Household, Kind, Model, Petition, Progress, Record, SCHEMA_VERSION, Task,
    format_date, vocab,
};
use danvan_node::{Node, SharedNode};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::corpus::{self, Timeline};
use crate::figure::{Figure, Figures, Target};
use crate::http::Client;
use crate::measure::{Samples, ScratchDir};
use crate::{BenchError, Options, sample};

const GROUP: &str = "web";
/// Bump when the generated content changes, so that old caches are not used.
const WEB_CORPUS_VERSION: u32 = 1;
/// A page stops being timed after this long, even before its N requests,
/// so that one very slow page cannot hold the run for an hour; the figure
/// says how many requests it got. Warm-up stops after a tenth of it.
const PAGE_BUDGET: Duration = Duration::from_secs(40);
/// Timed requests a page gets even past its budget.
const PAGE_REQUESTS_MIN: usize = 10;
/// The issue's target for a page's server time at the 95th percentile.
const PAGE_P95_TARGET_MS: f64 = 100.0;
/// The issue's target for a first page load, in kB (1000 bytes).
const FIRST_LOAD_TARGET_KB: f64 = 200.0;
/// The household with the long history: a name no generated person has,
/// so that a search for it is the rare case.
const LONG_HISTORY_HEAD: &str = "Lương Thế Vinh";
const DAY_MS: i64 = 86_400_000;

/// How much to do; `--quick` shrinks it, the test shrinks it further.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// Records in the store.
    records: usize,
    /// Visits of the long-history household.
    history_visits: usize,
    /// Untimed requests of each page first.
    warmup: usize,
    /// Timed requests of each page.
    requests: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                records: 10_000,
                history_visits: 250,
                warmup: 5,
                requests: 50,
            }
        } else {
            Sizes {
                records: 100_000,
                history_visits: 250,
                warmup: 10,
                requests: 200,
            }
        }
    }
}

/// Runs the web group.
pub(crate) fn run(options: &Options) -> Result<Vec<Figure>, BenchError> {
    measure(options, Sizes::new(options.quick))
}

fn node_err(step: &str) -> impl FnOnce(danvan_node::NodeError) -> BenchError + '_ {
    move |e| format!("{step}: {e}").into()
}

fn measure(options: &Options, sizes: Sizes) -> Result<Vec<Figure>, BenchError> {
    let store = cached_store(options, sizes)?;
    let scratch = ScratchDir::new(options)?;
    let dir = scratch.path().join("node");
    corpus::copy_store(&store.dir, &dir)?;
    let (node, opened) = crate::measure::timed(|| Node::open(&dir));
    let node = node.map_err(node_err("opening the copy"))?;
    eprintln!(
        "  opened the copy (migrations included) in {:.1} s",
        opened.as_secs_f64()
    );
    let (records, _, _) = node.store().counts()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let shared = SharedNode::new(node, true).map_err(node_err("sharing the node"))?;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = danvan_web::WebConfig {
            listen: addr,
            data_dir: dir,
        };
        let server = tokio::spawn(danvan_web::serve_on(shared, config, listener, async {
            let _ = stopped.await;
        }));
        eprintln!("  web app on http://{addr}/, {records} records");
        let measured = measure_pages(addr, &store, sizes, records).await;
        let _ = stop.send(());
        server
            .await
            .map_err(|e| format!("the web server task failed: {e}"))?
            .map_err(|e| format!("the web server stopped: {e}"))?;
        measured
    })
}

/// One page measured: its address and what it must show.
struct PageCase {
    /// What the table calls it.
    name: String,
    /// The address.
    path: String,
    /// Text the page must hold, so that an error page is not timed as the page.
    expect: String,
}

fn cases(store: &WebStore) -> Vec<PageCase> {
    let case = |name: &str, path: &str, expect: &str| PageCase {
        name: name.to_string(),
        path: path.to_string(),
        expect: expect.to_string(),
    };
    let mut out = vec![
        case("dashboard /", "/", "id=\"period-counts\""),
        case("list /ho-so", "/ho-so", "id=\"records\""),
        case("list page 50", "/ho-so?page=49", "Trang 50"),
    ];
    // Where a dashboard card leads: one kind in this half-year.
    let today = (time::OffsetDateTime::now_utc() + time::Duration::hours(7)).date();
    let period = danvan_model::Period::half_of(today);
    out.push(case(
        "list households this half-year",
        &format!("/ho-so?kind=household&period={period}"),
        "id=\"records\"",
    ));
    // Common words: most names are Nguyễn, many middle names Văn.
    for query in ["nguyen", "nguyen van", "nguyen van hung"] {
        out.push(case(
            &format!("search common \"{query}\""),
            &format!("/ho-so?q={}", query.replace(' ', "+")),
            "id=\"result-count\"",
        ));
    }
    // Rare words: only the long-history household holds them.
    for query in ["luong", "luong the", "luong the vinh"] {
        out.push(case(
            &format!("search rare \"{query}\""),
            &format!("/ho-so?q={}", query.replace(' ', "+")),
            &store.long_history,
        ));
    }
    out.push(case(
        "record, long history",
        &format!("/ho-so/{}", store.long_history),
        "id=\"history\"",
    ));
    out.push(case(
        "record with a conflict",
        &format!("/ho-so/{}", store.conflict),
        "id=\"conflicts\"",
    ));
    out
}

async fn measure_pages(
    addr: SocketAddr,
    store: &WebStore,
    sizes: Sizes,
    records: u64,
) -> Result<Vec<Figure>, BenchError> {
    let mut client = Client::new(addr);
    let mut figures = Figures::new(GROUP);
    eprintln!(
        "  {:<36} {:>9} {:>9} {:>9} {:>9}",
        "page", "p50 ms", "p95 ms", "max ms", "bytes"
    );
    for case in cases(store) {
        let mut bytes = 0;
        let started = Instant::now();
        for _ in 0..sizes.warmup {
            fetch_page(&mut client, &case).await?;
            if started.elapsed() > PAGE_BUDGET / 10 {
                break;
            }
        }
        let mut times = Vec::with_capacity(sizes.requests);
        let started = Instant::now();
        for i in 0..sizes.requests {
            if i >= PAGE_REQUESTS_MIN && started.elapsed() > PAGE_BUDGET {
                break;
            }
            let start = Instant::now();
            bytes = fetch_page(&mut client, &case).await?;
            times.push(start.elapsed());
        }
        let n = times.len();
        let s = Samples::new(&times);
        eprintln!(
            "  {:<36} {:>9.1} {:>9.1} {:>9.1} {:>9}",
            case.name,
            s.median(),
            s.quantile(0.95),
            s.quantile(1.0),
            bytes
        );
        figures.info(
            format!("{}, p50 of {n}, {records} records", case.name),
            s.median(),
            "ms",
        );
        figures.target(
            format!("{}, p95 of {n}, {records} records", case.name),
            s.quantile(0.95),
            "ms",
            Target::Below(PAGE_P95_TARGET_MS),
        );
        figures.info(
            format!("{}, max of {n}, {records} records", case.name),
            s.quantile(1.0),
            "ms",
        );
    }
    for (name, path) in [("dashboard", "/"), ("list", "/ho-so")] {
        let (html, assets) = first_load(&mut client, path).await?;
        eprintln!(
            "  first load of {path}: HTML {html} B, assets {assets} B (CSS, JS and whatever else the page references)"
        );
        figures.target(
            format!("first load of {name} {path}: HTML + CSS + JS"),
            (html + assets) as f64 / 1000.0,
            "kB",
            Target::Below(FIRST_LOAD_TARGET_KB),
        );
    }
    Ok(figures.into_vec())
}

/// Fetches a page and checks it; the bytes that came over the connection.
async fn fetch_page(client: &mut Client, case: &PageCase) -> Result<usize, BenchError> {
    let response = client.get(&case.path).await?;
    if response.status != 200 {
        return Err(format!(
            "GET {}: status {}: {}",
            case.path,
            response.status,
            response.text().chars().take(300).collect::<String>()
        )
        .into());
    }
    if !response.text().contains(&case.expect) {
        return Err(format!(
            "GET {}: the page does not hold {:?}",
            case.path, case.expect
        )
        .into());
    }
    Ok(response.wire_bytes)
}

/// The bytes of a first visit to `path`: the page, then every stylesheet,
/// script, icon and image it references, each fetched once as a browser
/// with an empty cache would. Returns (page bytes, asset bytes).
async fn first_load(client: &mut Client, path: &str) -> Result<(usize, usize), BenchError> {
    let page = client.get(path).await?;
    if page.status != 200 {
        return Err(format!("GET {path}: status {}", page.status).into());
    }
    let refs = asset_refs(&page.text());
    if refs.is_empty() {
        return Err(format!("GET {path}: the page references no stylesheet or script").into());
    }
    let mut assets = 0;
    for asset in refs {
        let response = client.get(&asset).await?;
        if response.status != 200 {
            return Err(format!("GET {asset}: status {}", response.status).into());
        }
        assets += response.wire_bytes;
    }
    Ok((page.wire_bytes, assets))
}

/// The local addresses a page loads by itself: every `src` attribute and
/// the `href` of every `<link>` (stylesheets, icons), without repeats.
fn asset_refs(html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |value: &str| {
        if value.starts_with('/') && !out.iter().any(|o| o == value) {
            out.push(value.to_string());
        }
    };
    for (at, _) in html.match_indices("src=\"") {
        if let Some(value) = html[at + 5..].split('"').next() {
            push(value);
        }
    }
    for (at, _) in html.match_indices("<link") {
        let tag = html[at..].split('>').next().unwrap_or("");
        if let Some(start) = tag.find("href=\"")
            && let Some(value) = tag[start + 6..].split('"').next()
        {
            push(value);
        }
    }
    out
}

/// A generated store and its two records the record pages are timed on.
#[derive(Debug)]
struct WebStore {
    dir: PathBuf,
    long_history: String,
    conflict: String,
}

/// Where the ids of the two special records are kept beside the store.
const IDS_FILE: &str = "web-records.txt";

/// The generated store of `sizes.records` records in the cache, generating
/// it first if missing. The cache is never modified: it is copied.
fn cached_store(options: &Options, sizes: Sizes) -> Result<WebStore, BenchError> {
    let base = corpus::cache_dir(options);
    let dir = base.join(format!(
        "web-v{WEB_CORPUS_VERSION}-{}-h{}",
        sizes.records, sizes.history_visits
    ));
    if let Ok(ids) = std::fs::read_to_string(dir.join(IDS_FILE)) {
        let mut lines = ids.lines();
        if let (Some(long_history), Some(conflict)) = (lines.next(), lines.next()) {
            eprintln!("  {} records: cached in {}", sizes.records, dir.display());
            return Ok(WebStore {
                long_history: long_history.to_string(),
                conflict: conflict.to_string(),
                dir,
            });
        }
    }
    std::fs::create_dir_all(&base).map_err(|e| format!("cannot create {}: {e}", base.display()))?;
    // Generated aside and renamed into place, so that an interrupted run
    // never leaves a half-written store that looks complete.
    let partial = base.join(format!(
        "web-v{WEB_CORPUS_VERSION}-{}.partial-{}",
        sizes.records,
        std::process::id()
    ));
    let peer = partial.with_extension("peer");
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_dir_all(&peer);
    eprintln!(
        "  {} records of mixed kinds: generating into {}",
        sizes.records,
        dir.display()
    );
    let started = Instant::now();
    let generated = generate(&partial, &peer, sizes);
    let _ = std::fs::remove_dir_all(&peer);
    let (long_history, conflict) = generated?;
    std::fs::write(
        partial.join(IDS_FILE),
        format!("{long_history}\n{conflict}\n"),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir)
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    eprintln!("    generated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(WebStore {
        dir,
        long_history,
        conflict,
    })
}

/// Writes the store; returns the ids of the long-history household and of
/// the model with a conflict.
fn generate(dir: &Path, peer: &Path, sizes: Sizes) -> Result<(String, String), BenchError> {
    let mut node = Node::init(dir, corpus::HUB_UNIT, Some("Trạm thị xã Đức Phổ"), None)
        .map_err(node_err("init"))?;
    let conflict = conflict_record(&mut node, peer)?;
    let long_history = long_history_record(&mut node, sizes.history_visits)?;
    let today_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let records = sizes.records.saturating_sub(2).max(1);
    // Over the year before today, ending three weeks ago, so that the later
    // edits of the last records are not in the future.
    let timeline = Timeline {
        start_ms: today_ms - 386 * DAY_MS,
        step_ms: (365 * DAY_MS / records as i64).max(1),
        dated_activities: true,
    };
    let mut rng = sample::rng(20);
    let mut tasks: Vec<String> = Vec::new();
    crate::corpus::write_in_batches(
        &mut node,
        records,
        |node, n| mixed_record(node, &mut rng, n, &timeline, &mut tasks),
        |written| {
            if written % 20_000 == 0 {
                eprintln!("    {written} records");
            }
        },
        &mut [],
    )?;
    Ok((long_history, conflict))
}

/// A model that this machine and another set to different results while
/// apart, then merged: its page shows the conflict with who set each value.
fn conflict_record(node: &mut Node, peer_dir: &Path) -> Result<String, BenchError> {
    let mut peer = Node::init(peer_dir, "pho-minh", Some("Máy Ban Dân vận Phổ Minh"), None)
        .map_err(node_err("init the peer"))?;
    node.trust_add(&peer.id(), None, Some("Máy Ban Dân vận Phổ Minh"))
        .map_err(node_err("trust"))?;
    let model = Record::Model(Model {
        header: node
            .new_header(Kind::Model, Some("pho-minh"), None)
            .map_err(node_err("header"))?,
        name: "Thôn Vĩnh Tuy ra quân làm đường giao thông nông thôn".into(),
        field: vocab::MODEL_FIELDS[0].0.into(),
        year: 2025,
        results: None,
    });
    let id = node
        .add(&model)
        .map_err(node_err("add the model"))?
        .to_string();
    let changes = node.all_changes().map_err(node_err("changes"))?;
    peer.import_changes(&changes)
        .map_err(node_err("the peer imports"))?;
    node.edit(
        &id,
        &["results=Làm mới 2,4 km đường bê tông; nhân dân hiến 3.200 m² đất".into()],
    )
    .map_err(node_err("edit here"))?;
    peer.edit(
        &id,
        &["results=Làm mới 2,1 km đường bê tông; nhân dân hiến 2.900 m² đất".into()],
    )
    .map_err(node_err("edit on the peer"))?;
    let report = node
        .import_changes(&peer.all_changes().map_err(node_err("peer changes"))?)
        .map_err(node_err("import the peer's edit"))?;
    if !report.rejected.is_empty() {
        return Err(format!("the peer's edit was refused: {:?}", report.rejected).into());
    }
    Ok(id)
}

/// A household visited `visits` times over years of a project, each visit
/// a change of its own, and moved along the pipeline.
fn long_history_record(node: &mut Node, visits: usize) -> Result<String, BenchError> {
    let household = Record::Household(Household {
        header: node
            .new_header(
                Kind::Household,
                Some("pho-minh"),
                Some(vocab::PROJECTS[0].0),
            )
            .map_err(node_err("header"))?,
        head: LONG_HISTORY_HEAD.into(),
        village: Some("Thôn Vĩnh Tuy".into()),
        parcels: vec![danvan_model::Parcel {
            sheet: "12".into(),
            number: "347".into(),
            area_m2: 1_240.5,
            land_type: "LUC".into(),
        }],
        inventory: Some("Nhà cấp 4 diện tích 86 m², mái ngói; 14 cây dừa".into()),
        compensation_vnd: None,
        stage: vocab::STAGE_INVENTORIED.into(),
        stage_log: Vec::new(),
        objections: Vec::new(),
        visits: Vec::new(),
    });
    let id = node
        .add(&household)
        .map_err(node_err("add the household"))?
        .to_string();
    let mut rng = sample::rng(21);
    let start = time::Date::from_calendar_date(2023, time::Month::March, 1)?;
    for i in 0..visits {
        let date = format_date(start + time::Duration::days(3 * i as i64));
        let by = format!("Tổ công tác, đồng chí {}", sample::person(&mut rng));
        node.household_visit(&id, &date, &by, sample::visit_outcome(&mut rng))
            .map_err(node_err("visit"))?;
    }
    node.edit(&id, &["compensation_vnd=1.250.000.000".into()])
        .map_err(node_err("amount"))?;
    Ok(id)
}

type Built = (DocId, automerge::Automerge, Vec<danvan_model::SignedChange>);

/// Record `n` of the mix: per thousand, 450 households and 280 activities
/// (with their edits), 200 petitions, 40 progress reports, 28 models and 2
/// tasks (a town sets a few hundred a year).
fn mixed_record(
    node: &Node,
    rng: &mut ChaCha8Rng,
    n: i64,
    timeline: &Timeline,
    tasks: &mut Vec<String>,
) -> Result<Built, BenchError> {
    let pick = rng.gen_range(0..1000);
    if pick < 450 {
        return corpus::record(node, rng, n, timeline, Some(true), None);
    }
    if pick < 730 {
        return corpus::record(node, rng, n, timeline, Some(false), None);
    }
    let (unit, villages) = sample::COMMUNES[rng.gen_range(0..sample::COMMUNES.len())];
    let village = villages[rng.gen_range(0..villages.len())];
    let created_at = timeline.start_ms + n * timeline.step_ms + rng.gen_range(0..timeline.step_ms);
    let day = corpus::time_to_date(created_at);
    let header = |kind: Kind, rng: &mut ChaCha8Rng| Header {
        id: DocId::from_bytes(rng.r#gen()).to_string(),
        kind: kind.code().into(),
        unit: unit.into(),
        project: None,
        schema: SCHEMA_VERSION,
        creator: node.id().to_string(),
        created_at,
    };
    let record = if pick < 930 {
        petition(header(Kind::Petition, rng), village, day, created_at, rng)
    } else if pick < 970 && !tasks.is_empty() {
        let task = tasks[rng.gen_range(0..tasks.len())].clone();
        Record::Progress(Progress {
            header: header(Kind::Progress, rng),
            task,
            period: danvan_model::Period::half_of(day).to_string(),
            status: vocab::PROGRESS_STATUSES[rng.gen_range(0..vocab::PROGRESS_STATUSES.len())]
                .0
                .into(),
            summary: format!(
                "Đã tổ chức {} buổi tuyên truyền tại {village}; vận động được {} hộ thống nhất \
                 phương án, còn {} hộ chưa đồng ý đơn giá.",
                rng.gen_range(1..6),
                rng.gen_range(1..40),
                rng.gen_range(0..8)
            ),
        })
    } else if pick < 998 {
        Record::Model(Model {
            header: header(Kind::Model, rng),
            name: format!(
                "{} tại {village}",
                [
                    "Dân vận khéo trong vận động hiến đất làm đường",
                    "Tổ hòa giải ở cơ sở gắn với tiếp dân",
                    "Chung tay xây dựng nông thôn mới",
                    "Ngư dân bám biển không khai thác IUU",
                ][rng.gen_range(0..4)]
            ),
            field: vocab::MODEL_FIELDS[rng.gen_range(0..vocab::MODEL_FIELDS.len())]
                .0
                .into(),
            year: i64::from(day.year()),
            results: Some(format!(
                "Vận động {} hộ hiến {} m² đất, làm {} m đường bê tông.",
                rng.gen_range(5..120),
                rng.gen_range(200..5000),
                rng.gen_range(100..3000)
            )),
        })
    } else {
        let mut header = header(Kind::Task, rng);
        header.unit = corpus::HUB_UNIT.into();
        let number = format!("{}.{}", tasks.len() / 9 + 1, tasks.len() % 9 + 1);
        tasks.push(header.id.clone());
        let assigned = (0..rng.gen_range(2..5))
            .map(|_| sample::COMMUNES[rng.gen_range(0..sample::COMMUNES.len())].0)
            .fold(Vec::<String>::new(), |mut v, u| {
                if !v.iter().any(|x| x == u) {
                    v.push(u.into());
                }
                v
            });
        Record::Task(Task {
            header,
            source: Some(format!(
                "Kết luận số {}-KL/TU của Ban Thường vụ Thị ủy",
                rng.gen_range(100..900)
            )),
            number,
            title: [
                "Hoàn thành bàn giao mặt bằng đoạn tuyến qua địa bàn",
                "Giải quyết dứt điểm đơn thư tồn đọng về đất đai",
                "Tuyên truyền chống khai thác hải sản bất hợp pháp",
                "Xây dựng ít nhất một mô hình Dân vận khéo mỗi năm",
            ][rng.gen_range(0..4)]
            .into(),
            text: None,
            assigned,
            due: Some(format_date(
                day + time::Duration::days(rng.gen_range(30..180)),
            )),
        })
    };
    node.prepare_new(&record)
        .map_err(|e| format!("building a {}: {e}", record.kind().code()).into())
}

/// A petition received on `day`: most older ones answered, some still open.
fn petition(
    header: Header,
    village: &str,
    day: time::Date,
    created_at: i64,
    rng: &mut ChaCha8Rng,
) -> Record {
    const CONTENTS: &[&str] = &[
        "Đề nghị xem xét lại đơn giá bồi thường đất trồng lúa, cho rằng thấp hơn giá thị trường",
        "Phản ánh đường bê tông thôn bị hư hỏng do xe chở vật liệu thi công cao tốc",
        "Khiếu nại việc kiểm đếm thiếu cây dừa và chuồng bò của gia đình",
        "Đề nghị sớm bố trí đất tái định cư cho các hộ bị giải tỏa",
        "Tố cáo việc lấn chiếm đất công để xây nhà tạm",
        "Kiến nghị nạo vét kênh mương nội đồng trước mùa mưa lũ",
    ];
    const CATEGORIES: &[&str] = &["Đất đai", "Giao thông", "Môi trường", "Chính sách"];
    let unit = header.unit.clone();
    let age_days = (time::OffsetDateTime::now_utc().unix_timestamp() * 1000 - created_at) / DAY_MS;
    let roll = rng.gen_range(0..100);
    let status = if age_days > 60 {
        match roll {
            0..92 => vocab::PETITION_RESOLVED,
            92..95 => vocab::PETITION_TRANSFERRED,
            _ => vocab::PETITION_IN_PROGRESS,
        }
    } else {
        match roll {
            0..40 => vocab::PETITION_NEW,
            40..70 => vocab::PETITION_IN_PROGRESS,
            _ => vocab::PETITION_RESOLVED,
        }
    };
    let resolved = status == vocab::PETITION_RESOLVED;
    Record::Petition(Petition {
        header,
        petition_type: vocab::PETITION_TYPES[rng.gen_range(0..vocab::PETITION_TYPES.len())]
            .0
            .into(),
        round: 1,
        complex: rng.gen_bool(0.1),
        remote: false,
        channel: vocab::PETITION_CHANNELS[rng.gen_range(0..vocab::PETITION_CHANNELS.len())]
            .0
            .into(),
        received: format_date(day),
        citizen: sample::person(rng),
        address: Some(format!("{village}, thị xã Đức Phổ")),
        id_number: None,
        content: format!(
            "{} tại {village}.",
            CONTENTS[rng.gen_range(0..CONTENTS.len())]
        ),
        category: Some(CATEGORIES[rng.gen_range(0..CATEGORIES.len())].into()),
        assigned_unit: Some(unit),
        status: status.into(),
        answer: resolved.then(|| {
            "Đã trả lời trực tiếp tại buổi tiếp công dân; công dân thống nhất với nội dung trả lời."
                .into()
        }),
        resolved: resolved.then(|| format_date(day + time::Duration::days(rng.gen_range(3..40)))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The group at a tiny size, so that its code cannot rot: it generates
    /// a store, serves it, times every page (each checked for what it must
    /// show) and measures a first load.
    #[test]
    fn the_web_group_runs_at_a_tiny_size() {
        let base = ScratchDir::new(&Options {
            quick: true,
            json: false,
            dir: None,
            keep: false,
            wire_only: false,
            encrypted: false,
            records: None,
            nodes: None,
            seed: 1,
            seeds: 1,
        })
        .expect("scratch");
        let options = Options {
            quick: true,
            json: false,
            dir: Some(base.path().to_path_buf()),
            keep: false,
            wire_only: false,
            encrypted: false,
            records: None,
            nodes: None,
            seed: 1,
            seeds: 1,
        };
        let sizes = Sizes {
            records: 400,
            history_visits: 12,
            warmup: 1,
            requests: 3,
        };
        let figures = measure(&options, sizes).expect("the web group runs");
        let p95: Vec<&Figure> = figures.iter().filter(|f| f.name.contains("p95")).collect();
        assert_eq!(p95.len(), cases_count(), "{figures:?}");
        assert!(p95.iter().all(|f| f.value > 0.0), "{p95:?}");
        let first_loads: Vec<&Figure> = figures
            .iter()
            .filter(|f| f.name.starts_with("first load"))
            .collect();
        assert_eq!(first_loads.len(), 2);
        // The page alone is more than a kilobyte; CSS and JS come on top.
        assert!(first_loads.iter().all(|f| f.value > 5.0), "{first_loads:?}");
        // The second run reads the cached store.
        let again = measure(&options, sizes).expect("the web group runs again");
        assert_eq!(again.len(), figures.len());
    }

    fn cases_count() -> usize {
        cases(&WebStore {
            dir: PathBuf::new(),
            long_history: String::new(),
            conflict: String::new(),
        })
        .len()
    }

    #[test]
    fn a_page_s_assets_are_its_scripts_styles_and_icons() {
        let html = r#"<html><head><link rel="stylesheet" href="/static/app.css">
            <link rel="icon" href="/favicon.svg"><script src="/static/app.js" defer></script></head>
            <body><a href="/ho-so">x</a><img src="https://elsewhere/x.png"><script src="/static/app.js"></script></body></html>"#;
        assert_eq!(
            asset_refs(html),
            vec!["/static/app.js", "/static/app.css", "/favicon.svg"]
        );
    }
}
