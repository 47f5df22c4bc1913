//! Storage faults: a full disk or a failing write while recording, exporting
//! or syncing ends in a clear error and a non-zero exit, loses nothing
//! already acknowledged, and the work goes on once there is room again.
//!
//! The disk is made to fail for real processes of the `danvan` binary with
//! `RLIMIT_FSIZE` (`prlimit --fsize`): with `SIGXFSZ` ignored, which an
//! `exec` keeps, a write past the limit fails with `EFBIG` as it would on a
//! full disk. When the tests run as root and may mount, one case also fills
//! a small tmpfs in a private mount namespace for a real `ENOSPC`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::harness::{Dv, TempDir, danvan_bin, without_danvan_env};
use crate::sync::{Server, trust};

/// The start of the two disk messages (`StoreError::DiskFull`, `DiskIo`).
const FULL: &str = "ổ đĩa đầy: ";
const IO: &str = "lỗi đọc/ghi đĩa: ";
/// Both say this: the officer's first question.
const NOTHING_LOST: &str = "không có gì đã lưu bị mất";

/// Runs `danvan` on `dv` with every file it writes limited to `limit` bytes,
/// stdout to `stdout_file` if given.
fn limited(dv: &Dv, limit: u64, args: &[&str], stdout_file: Option<&Path>) -> Output {
    let mut script = format!(r#"trap "" XFSZ; exec prlimit --fsize={limit} -- "$@""#);
    if stdout_file.is_some() {
        script.push_str(r#" > "$DANVAN_TEST_STDOUT""#);
    }
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .arg("_")
        .arg(danvan_bin())
        .arg("--data-dir")
        .arg(&dv.dir)
        .args(args);
    without_danvan_env(&mut cmd);
    if let Some(path) = stdout_file {
        cmd.env("DANVAN_TEST_STDOUT", path);
    }
    cmd.output().expect("run danvan under prlimit")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failed command that ended as it should on a disk fault: exit code 6
/// (the disk's; not a panic's 101, not a signal), one disk message, no panic.
fn assert_disk_error(out: &Output, what: &str) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{what}: expected exit 6 with a disk message, got {:?}; stderr: {err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{what} panicked: {err}");
    assert!(
        err.contains(FULL) || err.contains(IO),
        "{what}: the message should name the disk: {err}"
    );
    assert!(err.contains(NOTHING_LOST), "{what}: {err}");
    let said = err.matches(FULL).count() + err.matches(IO).count();
    assert_eq!(said, 1, "{what}: the disk message is repeated: {err}");
    err
}

/// Bytes the store's files take now (the database and its WAL).
fn store_bytes(dv: &Dv) -> u64 {
    ["danvan.db", "danvan.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dv.dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Every record of `export --format json` by id.
fn records(dv: &Dv) -> BTreeMap<String, serde_json::Value> {
    let all: serde_json::Value =
        serde_json::from_str(&dv.snapshot()).expect("export --format json");
    all.as_array()
        .expect("export is an array")
        .iter()
        .map(|r| {
            let id = r["header"]["id"].as_str().expect("header.id").to_string();
            (id, r.clone())
        })
        .collect()
}

/// Every record of `before` is in `after`, unchanged (`what` names them
/// in the failure).
fn assert_kept(
    before: &BTreeMap<String, serde_json::Value>,
    after: &BTreeMap<String, serde_json::Value>,
    what: &str,
) {
    for (id, record) in before {
        assert_eq!(
            after.get(id),
            Some(record),
            "{what} {id} changed or vanished"
        );
    }
}

/// `check --json` passes; returns the record count.
fn checked(dv: &Dv) -> u64 {
    let c = dv.json(&["check"]);
    assert_eq!(c["ok"], true, "check failed: {c}");
    c["records"].as_u64().expect("records count")
}

/// A household CSV of `rows` rows, each with ~`inventory_words` words of
/// varied inventory text (so the bytes do not compress away).
fn household_csv(path: &Path, rows: usize, inventory_words: usize, seed: u64) {
    const WORDS: [&str; 12] = [
        "nhà", "cấp", "bốn", "tường", "gạch", "mái", "tôn", "sân", "giếng", "xoài", "dừa", "rào",
    ];
    let mut x = seed | 1;
    let mut next = move || {
        // xorshift64: varied, reproducible text
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::from("head,village,parcels,inventory\n");
    for i in 0..rows {
        let inventory: Vec<String> = (0..inventory_words)
            .map(|_| {
                let n = next();
                format!("{}{}", WORDS[(n % 12) as usize], (n >> 8) % 1000)
            })
            .collect();
        text.push_str(&format!(
            "Hộ {seed}-{i},Thôn {},12/{i}:{}.5:ONT,{}\n",
            i % 7,
            100 + i % 50,
            inventory.join(" ")
        ));
    }
    std::fs::write(path, text).expect("write CSV");
}

fn add_activity(title: &str) -> Vec<String> {
    [
        "activity",
        "add",
        "--type",
        "tiep-dan",
        "--date",
        "2023-05-05",
        "--title",
        title,
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn prlimit_makes_writes_fail_instead_of_killing() {
    // The mechanism the other cases rely on: a write past the limit fails
    // (EFBIG) and the process lives on to report it.
    let tmp = TempDir::new("prlimit");
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"trap "" XFSZ; exec prlimit --fsize=1000 -- head -c 5000 /dev/zero > "$1""#)
        .arg("_")
        .arg(tmp.path().join("f"))
        .output()
        .expect("run prlimit (util-linux; .ci/setup.sh installs it)");
    // Killed by SIGXFSZ, `code()` would be None.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(tmp.path().join("f")).unwrap().len(), 1000);
}

#[test]
fn recording_on_a_full_disk_fails_clearly_and_loses_nothing() {
    let dv = Dv::init("pho-minh");
    let first = dv.dir.join("dot-1.csv");
    household_csv(&first, 150, 40, 1);
    dv.ok(&["import", "household", "--csv", first.to_str().unwrap()]);
    dv.activity("doi-thoai", "2023-05-04", "Đối thoại");
    let before = records(&dv);
    assert_eq!(before.len(), 151);

    // A CSV import is one transaction: past the limit, none of it is stored.
    let second = dv.dir.join("dot-2.csv");
    household_csv(&second, 300, 40, 2);
    let out = limited(
        &dv,
        store_bytes(&dv) + 64 * 1024,
        &["import", "household", "--csv", second.to_str().unwrap()],
        None,
    );
    assert_disk_error(&out, "import under the limit");
    assert_eq!(records(&dv), before, "a failed import changed the store");

    // Records one by one until the disk is "full": every one acknowledged
    // (id printed) must survive; the one that failed must not half-exist.
    let limit = store_bytes(&dv) + 32 * 1024;
    let mut acked = Vec::new();
    let failed = loop {
        assert!(
            acked.len() < 300,
            "no write failed under a {limit}-byte limit"
        );
        let args = add_activity(&format!("Tiếp dân lần {}", acked.len()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = limited(&dv, limit, &args, None);
        if !out.status.success() {
            break out;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("add --json");
        acked.push(v["id"].as_str().expect("id").to_string());
    };
    let err = assert_disk_error(&failed, "activity add under the limit");
    eprintln!(
        "storage_faults: {} adds acknowledged under a {limit}-byte limit, then: {}",
        acked.len(),
        err.trim()
    );

    // Exports: to a file (written beside it, then renamed) and to stdout.
    let out_file = dv.dir.join("xuat.json");
    let out = limited(
        &dv,
        48 * 1024,
        &[
            "export",
            "--format",
            "json",
            "--out",
            out_file.to_str().unwrap(),
        ],
        None,
    );
    let err = assert_disk_error(&out, "export --out under the limit");
    assert!(
        err.contains(FULL) && err.contains("vượt giới hạn kích thước"),
        "{err}"
    );
    assert!(
        !out_file.exists(),
        "a failed export left {}",
        out_file.display()
    );
    assert!(
        !dv.dir.join(".xuat.json.tmp").exists(),
        "a failed export left its partial temporary file behind"
    );
    let redirected = dv.dir.join("man-hinh.json");
    let out = limited(
        &dv,
        48 * 1024,
        &["export", "--format", "json"],
        Some(&redirected),
    );
    let err = assert_disk_error(&out, "export to a redirected stdout under the limit");
    assert!(err.contains("đầu ra chuẩn"), "{err}");

    // Room again: the store is whole, nothing acknowledged is missing, and
    // work goes on.
    checked(&dv);
    let after = records(&dv);
    assert_kept(&before, &after, "record");
    for id in &acked {
        assert!(
            after.contains_key(id),
            "acknowledged record {id} is missing"
        );
    }
    assert_eq!(
        after.len(),
        before.len() + acked.len(),
        "records appeared that were never acknowledged"
    );
    dv.activity("tiep-dan", "2023-05-06", "Sau khi dọn đĩa");
    dv.ok(&["import", "household", "--csv", second.to_str().unwrap()]);
    assert_eq!(checked(&dv) as usize, after.len() + 1 + 300);
    dv.ok(&[
        "export",
        "--format",
        "json",
        "--out",
        out_file.to_str().unwrap(),
    ]);
}

#[test]
fn a_sync_onto_a_full_disk_fails_clearly_and_resumes() {
    const HOUSEHOLDS: usize = 3000;
    let hub = Dv::init("duc-pho");
    let csv = hub.dir.join("ho.csv");
    household_csv(&csv, HOUSEHOLDS, 100, 3);
    hub.ok(&["import", "household", "--csv", csv.to_str().unwrap()]);
    let node = Dv::init("pho-minh");
    for i in 0..2 {
        node.activity("tiep-dan", "2023-05-05", &format!("Tiếp dân {i}"));
    }
    let own = records(&node);
    trust(&hub, &node, None);
    let server = Server::start(&hub, &[]);
    trust(&node, &hub, Some(server.addr));
    let addr = server.addr.to_string();

    // The pull needs several MB; let the node's files grow by 2.5 MB only.
    let out = limited(
        &node,
        store_bytes(&node) + 2_500_000,
        &["sync", &addr, "--json"],
        None,
    );
    let err = assert_disk_error(&out, "sync under the limit");
    assert!(err.contains("khi đồng bộ"), "{err}");

    let kept = checked(&node) as usize;
    let now = records(&node);
    assert_kept(&own, &now, "own record");
    let pulled = kept - own.len();
    assert!(
        pulled < HOUSEHOLDS,
        "the limited sync should not have finished"
    );
    // 2.5 MB holds the first batches, not all of them: those committed stay.
    assert!(pulled > 0, "no batch was kept from the limited sync");
    eprintln!("storage_faults: the limited sync kept {pulled} of {HOUSEHOLDS} households");

    // Room again: the sync completes, fetching only what was not stored.
    let s = node.json(&["sync", &addr]);
    assert_eq!(s["changes_rejected"], 0);
    assert_eq!(
        s["changes_received"].as_u64(),
        Some((HOUSEHOLDS - pulled) as u64),
        "changes stored before the failure were fetched again: {s}"
    );
    let node_count = checked(&node);
    assert_eq!(
        node_count,
        checked(&hub),
        "node and hub differ after the sync"
    );
    assert_eq!(node_count as usize, HOUSEHOLDS + own.len());
}

/// A process holding a private mount namespace with a small tmpfs mounted
/// on `dir`; killed (and the tmpfs gone with its namespace) on drop.
struct TinyDisk {
    holder: Child,
    dir: PathBuf,
}

impl TinyDisk {
    /// Mounts a tmpfs of `size` on `dir`, or says why it cannot.
    fn mount(dir: &Path, size: &str) -> Result<TinyDisk, String> {
        let root = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .map(|l| l.split_whitespace().nth(2) == Some("0"))
            })
            .unwrap_or(false);
        if !root {
            return Err("not running as root".into());
        }
        let mut holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount -t tmpfs -o size="$2" tmpfs "$1" && echo ready && exec sleep 600"#)
            .arg("_")
            .arg(dir)
            .arg(size)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut line = String::new();
        let _ = BufReader::new(holder.stdout.take().expect("stdout")).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let out = holder.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "unshare -m / mount tmpfs failed: {}",
                stderr(&out).trim()
            ));
        }
        let disk = TinyDisk {
            holder,
            dir: dir.to_path_buf(),
        };
        let probe = disk.sh("true");
        if !probe.status.success() {
            return Err(format!("nsenter failed: {}", stderr(&probe).trim()));
        }
        Ok(disk)
    }

    /// A command run inside the namespace.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-m", "--"])
            .arg(program);
        cmd
    }

    fn danvan(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(&danvan_bin());
        cmd.arg("--data-dir").arg(self.dir.join("d")).args(args);
        without_danvan_env(&mut cmd)
            .output()
            .expect("run danvan in the namespace")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.danvan(args);
        assert!(
            out.status.success(),
            "danvan {args:?} failed: {}",
            stderr(&out)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// A shell script inside the namespace, with the mount point as `$1`.
    fn sh(&self, script: &str) -> Output {
        self.command(Path::new("sh"))
            .args(["-c", script, "_"])
            .arg(&self.dir)
            .output()
            .expect("run sh in the namespace")
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

#[test]
fn a_real_full_disk_says_so_and_recovers() {
    // Built before the namespace's clock starts (a first build can be slow).
    danvan_bin();
    let tmp = TempDir::new("tmpfs");
    let disk = match TinyDisk::mount(tmp.path(), "4m") {
        Ok(d) => d,
        Err(why) => {
            eprintln!(
                "storage_faults: real ENOSPC case skipped ({why}); the RLIMIT_FSIZE cases cover disk faults"
            );
            return;
        }
    };
    disk.ok(&["init", "--unit", "pho-minh"]);
    let mut acked = Vec::new();
    for i in 0..3 {
        let args = add_activity(&format!("Trước khi đầy {i}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v: serde_json::Value = serde_json::from_str(&disk.ok(&args)).unwrap();
        acked.push(v["id"].as_str().unwrap().to_string());
    }
    // Fill the tmpfs, then leave 64 KiB: room for SQLite's shared-memory
    // file, not for much of a write-ahead log.
    disk.sh(r#"cat /dev/zero > "$1/day" 2>/dev/null; truncate -s -65536 "$1/day""#);
    let failed = loop {
        assert!(acked.len() < 100, "the tmpfs never filled up");
        let args = add_activity(&format!("Khi đầy {}", acked.len()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = disk.danvan(&args);
        if !out.status.success() {
            break out;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        acked.push(v["id"].as_str().unwrap().to_string());
    };
    let err = assert_disk_error(&failed, "activity add on a full tmpfs");
    // A real ENOSPC on the write-ahead log is SQLITE_FULL.
    assert!(err.contains(FULL), "{err}");

    disk.sh(r#"rm "$1/day""#);
    let c: serde_json::Value = serde_json::from_str(&disk.ok(&["check", "--json"])).unwrap();
    assert_eq!(c["ok"], true, "{c}");
    assert_eq!(c["records"].as_u64(), Some(acked.len() as u64));
    let all: serde_json::Value =
        serde_json::from_str(&disk.ok(&["export", "--format", "json"])).unwrap();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["header"]["id"].as_str().unwrap())
        .collect();
    for id in &acked {
        assert!(ids.contains(&id.as_str()), "acknowledged {id} is missing");
    }
    let args = add_activity("Sau khi dọn đĩa");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    disk.ok(&args);
}
