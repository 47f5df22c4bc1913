//! Measuring tools: scratch directories, percentiles, peak memory, and
//! which file system a directory is on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{BenchError, Options};

/// A scratch directory, removed on drop unless `--keep` was given.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    /// Creates `danvan-bench-<pid>-<n>` under `--dir` (default: the system
    /// temp directory).
    pub(crate) fn new(options: &Options) -> Result<ScratchDir, BenchError> {
        let base = options.dir.clone().unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&base)
            .map_err(|e| format!("cannot create {}: {e}", base.display()))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = base.join(format!("danvan-bench-{}-{nanos:x}", std::process::id()));
        std::fs::create_dir(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        if options.keep {
            eprintln!("  data kept in {}", path.display());
        }
        Ok(ScratchDir {
            path,
            keep: options.keep,
        })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Milliseconds of a duration, as a float.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `f` and returns its result and how long it took.
pub(crate) fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Time the calling thread spent on a CPU and waiting for one, from
/// `/proc/thread-self/schedstat` (Linux). On a machine shared with other
/// work, wall time alone overstates what the code costs; the two together
/// say how much of it was the code and how much was waiting for a core.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuTime {
    /// On a CPU.
    pub(crate) running: Duration,
    /// Runnable but waiting for a CPU.
    pub(crate) waiting: Duration,
}

impl CpuTime {
    /// Now, if the kernel says.
    pub(crate) fn now() -> Option<CpuTime> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
        Some(CpuTime {
            running: Duration::from_nanos(fields.next()??),
            waiting: Duration::from_nanos(fields.next()??),
        })
    }

    /// The time between `earlier` and `self`.
    pub(crate) fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            running: self.running.saturating_sub(earlier.running),
            waiting: self.waiting.saturating_sub(earlier.waiting),
        }
    }
}

/// Runs `f` and returns its result and the CPU time the calling thread
/// spent on it (wall time where the kernel does not say), so that a core
/// shared with other work does not make the code look slower.
pub(crate) fn on_cpu<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let before = CpuTime::now();
    let (out, wall) = timed(f);
    let cpu = CpuTime::now()
        .zip(before)
        .map(|(a, b)| a.since(b).running)
        .unwrap_or(wall);
    (out, cpu)
}

/// Sorted samples, in milliseconds.
#[derive(Debug)]
pub(crate) struct Samples(Vec<f64>);

impl Samples {
    /// From durations.
    pub(crate) fn new(durations: &[Duration]) -> Samples {
        let mut v: Vec<f64> = durations.iter().copied().map(ms).collect();
        v.sort_by(f64::total_cmp);
        Samples(v)
    }

    /// The `q` quantile (0..=1), nearest rank.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let rank = (q * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    /// The median.
    pub(crate) fn median(&self) -> f64 {
        self.quantile(0.5)
    }
}

/// Resets the process's peak resident set size (`VmHWM`), so that the next
/// reading is the peak of what runs after. False where the kernel does not
/// allow it (then the reading is the peak of the whole process so far).
pub(crate) fn reset_peak_rss() -> bool {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak resident set size in MiB (`VmHWM`), if known.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    status_mib(std::process::id(), "VmHWM")
}

/// CPU time of the whole process (every thread, user and system) from
/// `/proc/self/stat`, if known. Clock ticks are taken as 1/100 s, which is
/// what Linux reports on every common platform.
pub(crate) fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A `kB` field (`VmRSS`, `VmHWM`) of `/proc/PID/status`, in MiB.
pub(crate) fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line[field.len()..]
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak resident set size (`VmHWM`) of a child process, as
/// [`reset_peak_rss`] does for this one.
pub(crate) fn reset_peak_rss_of(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The file system type and device of the mount holding `path`, from
/// `/proc/self/mountinfo` (Linux); `None` elsewhere.
pub(crate) fn file_system(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        // Fields: id parent major:minor root mount-point options... - fstype source super-options
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(mount) = fields.get(4) else { continue };
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(fstype), Some(source)) = (fields.get(dash + 1), fields.get(dash + 2)) else {
            continue;
        };
        if path.starts_with(mount) && best.as_ref().is_none_or(|(len, _)| mount.len() >= *len) {
            best = Some((mount.len(), format!("{fstype} on {source}")));
        }
    }
    best.map(|(_, fs)| fs)
}

/// The size of a file in bytes; 0 if it does not exist (a WAL after checkpoint).
pub(crate) fn file_bytes(path: &Path) -> Result<u64, BenchError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(format!("cannot read {}: {e}", path.display()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let s = Samples::new(&(1..=100).map(Duration::from_millis).collect::<Vec<_>>());
        assert_eq!(s.median(), 50.0);
        assert_eq!(s.quantile(0.99), 99.0);
        let one = Samples::new(&[Duration::from_millis(7)]);
        assert_eq!(one.quantile(0.99), 7.0);
    }
}
