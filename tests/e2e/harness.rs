//! Running the real `danvan` binary against temporary data directories.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `danvan` binary built from this workspace (built on first use if missing).
pub(crate) fn danvan_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/e2e-… → target/<profile>/danvan
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile> directory")
            .to_path_buf();
        let bin = profile_dir.join("danvan");
        // Always ask cargo: a no-op when the binary is current, and a stale
        // binary from an older build would test the wrong code. Ask for the
        // build `cargo test --workspace` makes (danvan-cli's own integration
        // test has it build the binary): the same packages and targets give
        // the same feature set, so in CI this finds everything built. A
        // narrower `cargo build -p danvan-cli` resolves other features and
        // rebuilt a third of the dependencies before the first test ran.
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["test", "--workspace", "--no-run", "--quiet"]);
        // Cargo sets these for the test process; passed on, they differ from
        // a plain build's and make build scripts that watch them (ring's)
        // rerun, rebuilding half the workspace on every test run.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("CARGO_PKG_")
                || key.starts_with("CARGO_BIN_")
                || matches!(
                    key.as_str(),
                    "CARGO_MANIFEST_DIR"
                        | "CARGO_MANIFEST_PATH"
                        | "CARGO_MANIFEST_LINKS"
                        | "CARGO_CRATE_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "CARGO_RUSTC_CURRENT_DIR"
                )
            {
                cmd.env_remove(key);
            }
        }
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo test --workspace --no-run failed");
        bin
    })
    .clone()
}

pub(crate) use danvan_testkit::TempDir;

/// Clears the variables the binary reads as defaults of its options, so that
/// a developer's shell (a `DANVAN_DATA_DIR`, a `DANVAN_TODAY`) cannot change
/// what a test runs; a test that wants one sets it on the command.
///
/// Every command gets the suite's passphrase file, so every store the e2e
/// suite makes is encrypted (SQLCipher) like an officer's; a test of a
/// plaintext store removes it (`init --plaintext`, [`plaintext`]).
pub(crate) fn without_danvan_env(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("DANVAN_DATA_DIR")
        .env_remove("DANVAN_TODAY")
        .env_remove("DANVAN_KEY_FILE")
        .env("DANVAN_PASSPHRASE_FILE", passphrase_file())
}

/// The suite's passphrase, as an officer would type it.
pub(crate) const PASSPHRASE: &str = "mật khẩu xã Phổ Minh 2026";

/// A file holding [`PASSPHRASE`] (0600), made once per test process.
pub(crate) fn passphrase_file() -> &'static Path {
    static FILE: std::sync::OnceLock<(TempDir, PathBuf)> = std::sync::OnceLock::new();
    &FILE
        .get_or_init(|| {
            let tmp = TempDir::new("passphrase");
            let path = tmp.path().join("mat-khau");
            std::fs::write(&path, format!("{PASSPHRASE}\n")).expect("writing the passphrase file");
            (tmp, path)
        })
        .1
}

/// The SQLite file of the data directory `dir` opened beside danvan (for
/// reading or damaging it), keyed with the suite's passphrase when it is
/// encrypted.
pub(crate) fn open_db(dir: &Path) -> rusqlite::Connection {
    let db = dir.join("danvan.db");
    let conn = rusqlite::Connection::open(&db).expect("open danvan.db");
    if danvan_store::cipher::is_encrypted(&db) {
        let key = danvan_store::cipher::Kdf::read(dir)
            .and_then(|kdf| kdf.derive(PASSPHRASE))
            .expect("the store's key from the suite's passphrase");
        danvan_store::cipher::unlock(&conn, &key).expect("the suite's passphrase opens the store");
    }
    conn
}

/// `cmd` without any passphrase source: a plaintext store, or a test of a
/// missing passphrase.
pub(crate) fn plaintext(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("DANVAN_PASSPHRASE_FILE")
        .env_remove("DANVAN_KEY_FILE")
}

/// Whether to run the long versions of the slow scenarios (the relay's ten
/// outages, the load with 48 nodes, a longer soak): `DANVAN_SLOW_TESTS=1`.
/// CI runs the short versions, which check the same properties.
pub(crate) fn slow_tests() -> bool {
    std::env::var("DANVAN_SLOW_TESTS").is_ok_and(|v| v == "1")
}

/// A number from the environment (`DANVAN_SOAK_KILLS=1000`), if set.
pub(crate) fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The seed of a randomized scenario: `var` if set (to repeat a failing
/// run), else the clock; the test prints it either way.
pub(crate) fn seed_from_env(var: &str) -> u64 {
    env_u64(var).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    })
}

/// Polls `condition` every 100 ms until it holds (true) or `limit` has passed
/// (false). Tests wait for what they need this way, not for a fixed time
/// that is too long on a fast machine and too short on a busy one.
pub(crate) fn poll_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills a child process and reaps it; it may have ended already, so
/// neither step can fail a test.
pub(crate) fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// [`poll_until`], panicking with `what` when the condition never held.
pub(crate) fn wait_until(what: &str, limit: Duration, condition: impl FnMut() -> bool) {
    assert!(poll_until(limit, condition), "waited {limit:?} for {what}");
}

/// `activity add` with its three required options, for a test to extend.
pub(crate) fn activity_args<'a>(
    activity_type: &'a str,
    date: &'a str,
    title: &'a str,
) -> Vec<&'a str> {
    vec![
        "activity",
        "add",
        "--type",
        activity_type,
        "--date",
        date,
        "--title",
        title,
    ]
}

/// One data directory driven through the CLI.
pub(crate) struct Dv {
    pub(crate) dir: PathBuf,
    _tmp: Option<TempDir>,
}

impl Dv {
    /// A fresh, initialized data directory of `unit`.
    pub(crate) fn init(unit: &str) -> Dv {
        let tmp = TempDir::new(unit);
        let dv = Dv {
            dir: tmp.path().join("data"),
            _tmp: Some(tmp),
        };
        dv.ok(&["init", "--unit", unit]);
        dv
    }

    /// A fresh data directory initialized with `init ARGS…` (e.g. the town
    /// office's `--authority --unit duc-pho`).
    pub(crate) fn init_with(name: &str, args: &[&str]) -> Dv {
        let tmp = TempDir::new(name);
        let dv = Dv {
            dir: tmp.path().join("data"),
            _tmp: Some(tmp),
        };
        let mut all = vec!["init"];
        all.extend_from_slice(args);
        dv.ok(&all);
        dv
    }

    /// A data directory at a given path (not initialized, not removed).
    pub(crate) fn at(dir: &Path) -> Dv {
        Dv {
            dir: dir.to_path_buf(),
            _tmp: None,
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(danvan_bin());
        cmd.arg("--data-dir").arg(&self.dir).args(args);
        without_danvan_env(&mut cmd);
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run danvan")
    }

    /// Runs and expects success; returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "danvan {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs with `--json` appended and parses stdout.
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let text = self.ok(&all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("danvan {args:?}: bad JSON ({e}): {text}"))
    }

    /// Adds a record with `--json` and returns its id.
    pub(crate) fn add(&self, args: &[&str]) -> String {
        let v = self.json(args);
        v["id"].as_str().expect("id in add output").to_string()
    }

    /// Adds an activity of `activity_type` on `date` titled `title`;
    /// returns its id.
    pub(crate) fn activity(&self, activity_type: &str, date: &str, title: &str) -> String {
        self.add(&activity_args(activity_type, date, title))
    }

    /// Adds a task numbered `number` titled `title`, with `extra` options
    /// (`--assign UNIT`…); returns its id.
    pub(crate) fn task(&self, number: &str, title: &str, extra: &[&str]) -> String {
        let mut args = vec!["task", "add", "--number", number, "--title", title];
        args.extend_from_slice(extra);
        self.add(&args)
    }

    /// Adds a household of the expressway project (`cao-toc-bac-nam`)
    /// headed by `head`, with `extra` options; returns its id.
    pub(crate) fn household(&self, head: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "household",
            "add",
            "--project",
            "cao-toc-bac-nam",
            "--head",
            head,
        ];
        args.extend_from_slice(extra);
        self.add(&args)
    }

    /// Adds a "Dân vận khéo" model named `name` in `field`, of `year`;
    /// returns its id.
    pub(crate) fn model(&self, name: &str, field: &str, year: &str) -> String {
        self.add(&[
            "model", "add", "--name", name, "--field", field, "--year", year,
        ])
    }

    /// How many rows a listing command (`list`, `import`'s rows…) prints
    /// as a JSON array.
    pub(crate) fn count(&self, args: &[&str]) -> usize {
        let rows = self.json(args);
        rows.as_array()
            .unwrap_or_else(|| panic!("danvan {args:?}: not a JSON array: {rows}"))
            .len()
    }

    /// The whole store as `export --format json`, to compare before and after.
    pub(crate) fn snapshot(&self) -> String {
        self.ok(&["export", "--format", "json"])
    }

    /// Runs a command that must fail with a message containing `needle`,
    /// and must leave everything already stored as it was.
    pub(crate) fn fails(&self, args: &[&str], needle: &str) -> String {
        let before = self.snapshot();
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "danvan {args:?} should have failed; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains(needle),
            "danvan {args:?}: message should mention {needle:?}, got: {stderr}"
        );
        assert_eq!(
            before,
            self.snapshot(),
            "danvan {args:?} failed but changed stored data"
        );
        stderr
    }
}

/// [`activity_args`] for an activity of `unit` (a unit other than the
/// node's own, which the roster must let it write).
pub(crate) fn activity_args_in<'a>(
    unit: &'a str,
    activity_type: &'a str,
    date: &'a str,
    title: &'a str,
) -> Vec<&'a str> {
    let mut args = activity_args(activity_type, date, title);
    args.extend(["--unit", unit]);
    args
}

/// `field` of every item of the JSON array `list`, as `read` takes it;
/// panics on an item whose field `read` cannot take.
fn field_values<T>(
    list: &serde_json::Value,
    field: &str,
    read: impl Fn(&serde_json::Value) -> Option<T>,
) -> Vec<T> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a JSON array: {list}"))
        .iter()
        .map(|item| read(&item[field]).unwrap_or_else(|| panic!("bad {field:?} in {item}")))
        .collect()
}

/// The text `field` of every item of the JSON array `list` (the ids of
/// `list --json`, the unit names of a report's rows…).
pub(crate) fn field_texts(list: &serde_json::Value, field: &str) -> Vec<String> {
    field_values(list, field, |v| v.as_str().map(str::to_string))
}

/// The whole number `field` of every item of the JSON array `list` (the
/// count of each stage of a report's land table…).
pub(crate) fn field_numbers(list: &serde_json::Value, field: &str) -> Vec<u64> {
    field_values(list, field, serde_json::Value::as_u64)
}

/// Asserts a finished command succeeded, showing its stderr if not.
pub(crate) fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
