//! Sync over QUIC between real processes on loopback: a hub and nodes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{self, Dv, poll_until, without_danvan_env};

/// A `danvan serve` process, killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Server {
    pub(crate) fn start(dv: &Dv, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let (child, addr) = spawn_serve(&mut dv.command(&args));
        Server { child, addr }
    }

    pub(crate) fn kill(&mut self) {
        harness::stop(&mut self.child);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Imports `households` land-clearance cases into `dv` from a CSV file
/// (about 630 bytes of changes each): bulk data for the sync tests.
pub(crate) fn households_csv_import(dv: &Dv, households: usize) {
    let csv = dv.dir.join("hh.csv");
    let mut text = String::from("head,village,parcels,inventory\n");
    for i in 0..households {
        text.push_str(&format!(
            "Hộ ông Nguyễn Văn {i},Tổ dân phố Vĩnh Xuân {},{}/{}:{}.5:ONT,Nhà cấp 4 và vườn cây ăn quả số {i}\n",
            i % 7,
            i % 40,
            i,
            100 + i % 300
        ));
    }
    std::fs::write(&csv, text).unwrap();
    dv.ok(&["import", "household", "--csv", csv.to_str().unwrap()]);
}

/// Spawns a `danvan serve` command and returns once it listens: it prints
/// its address when the endpoint is bound, so nothing needs to wait longer.
pub(crate) fn spawn_serve(cmd: &mut Command) -> (Child, SocketAddr) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start danvan serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("serve prints its address");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.trim_end_matches([',', '.']).parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (child, addr)
}

pub(crate) fn node_id(dv: &Dv) -> String {
    dv.ok(&["id"]).trim().to_string()
}

/// `a` trusts `b` (optionally at an address).
pub(crate) fn trust(a: &Dv, b: &Dv, addr: Option<SocketAddr>) {
    let id = node_id(b);
    let mut args = vec!["trust", "add", id.as_str()];
    let addr_text = addr.map(|a| a.to_string());
    if let Some(a) = &addr_text {
        args.extend(["--addr", a.as_str()]);
    }
    a.ok(&args);
}

/// `hub` serving sync to `nodes`, each trusting the other.
fn serve_to(hub: &Dv, nodes: &[&Dv]) -> Server {
    for node in nodes {
        trust(hub, node, None);
    }
    let server = Server::start(hub, &[]);
    for node in nodes {
        trust(node, hub, Some(server.addr));
    }
    server
}

/// `danvan ARGS` in `dv`, started in the background, its output discarded.
fn spawn_quiet(dv: &Dv, args: &[&str]) -> Child {
    dv.command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn record_ids(dv: &Dv, kind: &str) -> Vec<String> {
    let mut ids: Vec<String> = dv
        .json(&["list", "--kind", kind])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sync(dv: &Dv, addr: SocketAddr) -> serde_json::Value {
    dv.json(&["sync", &addr.to_string()])
}

#[test]
fn records_travel_through_the_hub_and_laptops_sync_directly() {
    let hub = Dv::init("duc-pho");
    let communes: Vec<Dv> = ["pho-minh", "pho-an", "pho-thanh"]
        .iter()
        .map(|u| Dv::init(u))
        .collect();
    let server = serve_to(&hub, &communes.iter().collect::<Vec<_>>());
    let task = hub.task(
        "1.5",
        "Tổ chức đối thoại trực tiếp",
        &["--assign", "pho-minh"],
    );
    let made: Vec<String> = communes
        .iter()
        .enumerate()
        .map(|(i, c)| c.activity("tiep-dan", "2023-08-03", &format!("Tiếp công dân lần {i}")))
        .collect();
    // Two rounds: everyone's records reach everyone through the hub.
    for _ in 0..2 {
        for c in &communes {
            let s = sync(c, server.addr);
            assert_eq!(s["changes_rejected"], 0);
        }
    }
    let mut expected = made.clone();
    expected.sort();
    for c in &communes {
        assert_eq!(
            record_ids(c, "activity"),
            expected,
            "commune lacks another commune's record"
        );
        assert_eq!(record_ids(c, "task"), vec![task.clone()]);
    }
    assert_eq!(record_ids(&hub, "activity"), expected);
    // An idle sync moves nothing and stays small.
    let idle = sync(&communes[0], server.addr);
    assert_eq!(idle["changes_received"], 0);
    assert_eq!(idle["changes_sent"], 0);
    assert!(
        idle["bytes_sent"].as_u64().unwrap() + idle["bytes_received"].as_u64().unwrap() < 2048,
        "{idle}"
    );
    let peers = communes[0].json(&["peers"]);
    assert_eq!(peers[0]["peer"], node_id(&hub).as_str());

    // Two field laptops sync with each other on site, without the hub.
    let l1 = Dv::init("pho-minh");
    let l2 = Dv::init("pho-minh");
    trust(&l1, &l2, None);
    let laptop = Server::start(&l1, &[]);
    trust(&l2, &l1, Some(laptop.addr));
    let h = l1.household("Võ Văn Tám", &[]);
    l2.ok(&["sync", &laptop.addr.to_string()]);
    assert_eq!(l2.json(&["show", &h])["head"], "Võ Văn Tám");
    l2.ok(&[
        "household",
        "visit",
        &h,
        "--date",
        "2023-09-06",
        "--by",
        "Chị Hoa",
        "--outcome",
        "Đồng ý",
    ]);
    let back = sync(&l2, laptop.addr);
    assert_eq!(back["changes_sent"], 1);
    assert_eq!(l1.json(&["show", &h])["visits"][0]["by"], "Chị Hoa");
}

#[test]
fn an_unknown_key_is_refused_in_both_directions() {
    let hub = Dv::init("duc-pho");
    let stranger = Dv::init("pho-vinh");
    // The hub knows `other` from the start (so no wait for the serving hub
    // to re-read its trust list), but `other` does not know the hub.
    let other = Dv::init("pho-vinh");
    trust(&hub, &other, None);
    let server = Server::start(&hub, &[]);
    // The hub does not know the stranger.
    trust(&stranger, &hub, None);
    let addr = server.addr.to_string();
    // Its sync sends its Hello before the hub confirms the handshake
    // (`connect_early`); the refusal still reads as one, naming its key.
    let err = stranger.fails(&["sync", &addr], "từ chối khóa của nút này");
    assert!(err.contains(&node_id(&stranger)), "{err}");
    // The stranger does not know the hub (the hub knows it).
    let err = other.fails(&["sync", &addr], "không có trong danh sách tin cậy");
    assert!(err.contains(&node_id(&hub)), "{err}");
    assert!(other.json(&["list"]).as_array().unwrap().is_empty());
}

#[test]
fn live_mode_delivers_new_records_without_a_new_command() {
    let hub = Dv::init("duc-pho");
    let a = Dv::init("pho-minh");
    let b = Dv::init("pho-an");
    let server = serve_to(&hub, &[&a, &b]);
    // A record A holds before its live session starts reaches the hub when
    // the session's first round is done: from then on the session is live.
    let first = a.activity(
        "tiep-dan",
        "2023-08-19",
        "Tiếp công dân trước phiên liên tục",
    );
    let mut live = spawn_quiet(&a, &["sync", &server.addr.to_string(), "--live"]);
    let started = poll_until(Duration::from_secs(20), || {
        record_ids(&hub, "activity").contains(&first)
    });
    let (seen, back) = if started {
        let id = b.add(&[
            "petition",
            "add",
            "--received",
            "2023-08-20",
            "--citizen",
            "Lê Thị Mai",
            "--content",
            "Đề nghị sửa đường",
        ]);
        sync(&b, server.addr);
        // A recorded nothing and ran no command: the live session brings it.
        let seen = poll_until(Duration::from_secs(20), || {
            record_ids(&a, "petition").contains(&id)
        });
        // And the other way: a record made on A while its live session
        // runs reaches the hub.
        let back = seen && {
            let x = a.add(&[
                "model",
                "add",
                "--name",
                "Mô hình Dân vận khéo",
                "--field",
                "kinh-te",
                "--year",
                "2023",
            ]);
            poll_until(Duration::from_secs(20), || {
                record_ids(&hub, "model").contains(&x)
            })
        };
        (seen, back)
    } else {
        (false, false)
    };
    let _ = live.kill();
    let _ = live.wait();
    assert!(started, "the live session did not start within 20 s");
    assert!(seen, "the live session did not deliver the new record");
    assert!(
        back,
        "a record made during a live session did not reach the hub"
    );
}

#[test]
fn an_interrupted_sync_resumes_and_resends_at_most_the_batch_in_flight() {
    let hub = Dv::init("duc-pho");
    let source = Dv::init("pho-minh");
    let total = 6000;
    households_csv_import(&source, total as usize);
    let mut server = serve_to(&hub, &[&source]);
    sync(&source, server.addr);

    // A new laptop pulls everything; it is killed mid-transfer, then resumes.
    let mut wait_ms = 300u64;
    for attempt in 0..8 {
        let laptop = Dv::init("pho-minh");
        // A hub started after the trust knows the laptop at once (a running
        // one would take up to a second to re-read its trust list).
        server.kill();
        server = serve_to(&hub, &[&laptop]);
        let mut child = spawn_quiet(&laptop, &["sync", &server.addr.to_string(), "--json"]);
        std::thread::sleep(Duration::from_millis(wait_ms));
        harness::stop(&mut child);
        let before = laptop.json(&["check"]);
        assert_eq!(before["ok"], true, "{before}");
        let had = before["changes"].as_u64().unwrap();
        if had == 0 {
            wait_ms *= 2;
            continue;
        }
        if had == total {
            wait_ms /= 2;
            continue;
        }
        let resumed = sync(&laptop, server.addr);
        let after = laptop.json(&["check"]);
        assert_eq!(
            after["records"], total,
            "attempt {attempt}: not every record arrived"
        );
        assert_eq!(after["changes"], total);
        let received = resumed["changes_received"].as_u64().unwrap();
        // At most one batch (4096 changes, 1 MiB) travels twice.
        assert!(
            had + received <= total + 4096,
            "resent too much: had {had}, received {received}"
        );
        assert_eq!(resumed["changes_stored"].as_u64().unwrap(), total - had);
        return;
    }
    panic!("never managed to kill the sync mid-transfer");
}

#[test]
fn the_demo_runs_and_converges() {
    let tmp = crate::harness::TempDir::new("demo");
    let keep = tmp.path().join("demo");
    let mut cmd = Command::new(crate::harness::danvan_bin());
    cmd.args(["demo", "--once", "--keep"]).arg(&keep);
    let out = without_danvan_env(&mut cmd).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Mọi nút đã hội tụ"), "{text}");
    // Each store it left behind is whole; each node holds what its role may
    // read: the hub everything, the two field laptops the same cases, the
    // communes without each other's records.
    let mut counts = Vec::new();
    for node in [
        "hub",
        "pho-minh",
        "pho-an",
        "pho-thanh",
        "laptop-1",
        "laptop-2",
    ] {
        let dv = Dv::at(&keep.join(node));
        let check = dv.json(&["check"]);
        assert_eq!(check["ok"], true, "{node}: {check}");
        counts.push(check["records"].as_u64().unwrap());
    }
    assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
    assert!(counts[1..].iter().all(|c| *c < counts[0]), "{counts:?}");
    assert_eq!(counts[4], counts[5], "{counts:?}");
    let an = Dv::at(&keep.join("pho-an"));
    let units: std::collections::BTreeSet<String> = an
        .json(&["list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] != "task")
        .map(|r| r["unit"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(units, ["pho-an".to_string()].into(), "{units:?}");
    // The authority key is only in the offline directory: the hub holds
    // rosters, with no warning, and its roster is the authority's, carried
    // as a signed file that verifies on a fresh store too.
    let hub = Dv::at(&keep.join("hub"));
    let authority = Dv::at(&keep.join("co-quan-ky"));
    assert!(!hub.dir.join("authority.key").exists());
    assert!(authority.dir.join("authority.key").exists());
    assert_eq!(hub.json(&["check"])["warnings"], serde_json::json!([]));
    authority.fails(&["sync", "127.0.0.1:9"], "khóa thẩm quyền ngoại tuyến");
    let held = hub.json(&["roster", "show"]);
    let signer = authority.json(&["roster", "show"])["authority"].clone();
    assert_eq!(held["authority"], signer, "{held}");
    assert_eq!(held["pinned"], signer, "{held}");
    let carried = keep.join("usb").join(format!(
        "danh-sach-v{}.dvr",
        held["version"].as_u64().unwrap()
    ));
    assert!(text.contains("usb/danh-sach-v"), "{text}");
    let fresh = Dv::init("duc-pho");
    let applied = fresh.json(&[
        "roster",
        "apply",
        carried.to_str().unwrap(),
        "--authority",
        signer.as_str().unwrap(),
    ]);
    assert_eq!(applied["roster_version"], held["version"]);
    hub.fails(
        &["roster", "apply", carried.to_str().unwrap()],
        "không mới hơn",
    );
    let laptop = Dv::at(&keep.join("laptop-1"));
    let conflicts = laptop.json(&["conflicts"]);
    assert_eq!(
        conflicts[0]["conflicts"][0]["field"], "compensation_vnd",
        "{conflicts}"
    );
}
