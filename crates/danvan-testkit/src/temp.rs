//! Temporary directories for tests, removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory under the system temp dir, removed (with everything in
/// it) when dropped, also when a test panics.
///
/// The name holds the label, the process id and a counter: unique within a
/// run, and a leftover of an earlier process that had the same id is
/// removed first, so every test starts from an empty directory.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `danvan-<label>-<pid>-<n>` under the system temp dir.
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "danvan-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        TempDir(path)
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the directory (not created), e.g. for a data directory
    /// that `init` or `Store::create` makes itself.
    pub fn sub(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a test that left a process writing here must not
        // fail in its destructor.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
