//! Running the real `danvan` binary against temporary data directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

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
        // binary from an older build would test the wrong code.
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "--quiet", "-p", "danvan-cli", "--bin", "danvan"]);
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
        assert!(status.success(), "cargo build -p danvan-cli failed");
        bin
    })
    .clone()
}

/// A temporary directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let base = std::env::temp_dir().join(format!(
            "danvan-e2e-{}-{}-{}",
            name,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&base).expect("create temp dir");
        TempDir(base)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
        cmd.env_remove("DANVAN_DATA_DIR");
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
