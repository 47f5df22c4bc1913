//! Progress of long work on stderr, three ways: a bar (indicatif) when
//! stderr is a terminal; a plain line every 2 seconds or 10 % otherwise (a
//! log, a pipe, a service); with `--json`, one JSON object per line:
//! `{"event":"progress","work":…,"step":…,"done":…,"total":…,"remaining":…,
//! "rate":…,"eta_s":…,"final":…}`, the last one with `"final": true`.
//! The node tells how far the work is; only this module reads the clock.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use danvan_node::{Work, WorkProgress};

/// `1234567` → "1.234.567".
fn thousands(n: u64) -> String {
    danvan_model::thousands(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Between two plain lines, at most (a line is also printed at every 10 %).
const PLAIN_EVERY: Duration = Duration::from_secs(2);
/// Work of fewer items than this that ends within `PLAIN_EVERY` prints no
/// plain line: a `check` of a small store says only its result.
const PLAIN_QUIET_BELOW: u64 = 1_000;

/// How far one piece of work is, as shown.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    /// Machine name: `import`, `bundle-import`, `check`, `report`, `sync`.
    pub(crate) work: &'static str,
    /// What is being done, in Vietnamese.
    pub(crate) step: String,
    /// Items done.
    pub(crate) done: u64,
    /// Items in all (0: not known).
    pub(crate) total: u64,
    /// What an item is: "dòng", "thay đổi", "hồ sơ".
    pub(crate) item: &'static str,
}

enum Mode {
    Bar(Option<indicatif::ProgressBar>),
    Plain { last: Option<Instant>, tenth: u64 },
    Json,
}

/// Shows one command's progress.
pub(crate) struct Reporter {
    mode: Mode,
    start: Instant,
    last: Option<Snapshot>,
}

impl Reporter {
    /// Chooses how to show progress: JSON lines with `--json`, a bar on a
    /// terminal, plain lines otherwise.
    pub(crate) fn new(json: bool) -> Reporter {
        let mode = if json {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            Mode::Bar(None)
        } else {
            Mode::Plain {
                last: None,
                tenth: 0,
            }
        };
        Reporter {
            mode,
            start: Instant::now(),
            last: None,
        }
    }

    /// The node's progress of `work`.
    pub(crate) fn work(&mut self, p: &WorkProgress) {
        let work = match p.work {
            Work::Import => "import",
            Work::BundleImport => "bundle-import",
            Work::Check => "check",
            Work::Report => "report",
        };
        self.update(Snapshot {
            work,
            step: p.step.to_string(),
            done: p.done,
            total: p.total,
            item: p.item,
        });
    }

    /// Shows `s`.
    pub(crate) fn update(&mut self, s: Snapshot) {
        // A new step starts its own count and rate.
        if self
            .last
            .as_ref()
            .is_some_and(|l| l.step != s.step || l.work != s.work)
        {
            self.end_step();
            self.start = Instant::now();
        }
        let figures = Figures::of(&s, self.start.elapsed());
        match &mut self.mode {
            Mode::Json => json_line(&s, &figures, false),
            Mode::Bar(bar) => {
                let bar = bar.get_or_insert_with(|| {
                    let bar = indicatif::ProgressBar::with_draw_target(
                        Some(s.total),
                        indicatif::ProgressDrawTarget::stderr(),
                    );
                    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:30} {msg}") {
                        bar.set_style(style.progress_chars("█▉ "));
                    }
                    bar
                });
                bar.set_length(s.total);
                bar.set_position(s.done);
                bar.set_message(line(&s, &figures));
            }
            Mode::Plain { last, tenth } => {
                let now_tenth = (s.done * 10).checked_div(s.total).unwrap_or(0);
                let quiet = s.total < PLAIN_QUIET_BELOW && self.start.elapsed() < PLAIN_EVERY;
                let due = last.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) || now_tenth > *tenth;
                if due && !quiet {
                    *last = Some(Instant::now());
                    *tenth = now_tenth;
                    eprintln!("{}", line(&s, &figures));
                }
            }
        }
        self.last = Some(s);
    }

    /// Ends the current step: the bar is cleared, a final JSON event sent.
    fn end_step(&mut self) {
        let Some(s) = self.last.take() else { return };
        let figures = Figures::of(&s, self.start.elapsed());
        match &mut self.mode {
            Mode::Json => json_line(&s, &figures, true),
            Mode::Bar(bar) => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
            Mode::Plain { last, tenth } => {
                *last = None;
                *tenth = 0;
            }
        }
    }

    /// Ends the work (also when it failed): nothing is left on the line.
    pub(crate) fn finish(&mut self) {
        self.end_step();
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.end_step();
    }
}

/// Runs long work of the node with its progress shown (`--json`: as JSON
/// lines); the bar is gone before the caller prints the result.
pub(crate) fn run<T>(json: bool, work: impl FnOnce(danvan_node::OnProgress<'_>) -> T) -> T {
    let mut shown = Reporter::new(json);
    let result = work(&mut |p| shown.work(p));
    shown.finish();
    result
}

/// Rate and time left, from the time the step has taken.
struct Figures {
    remaining: u64,
    rate: f64,
    eta: Option<u64>,
}

impl Figures {
    fn of(s: &Snapshot, elapsed: Duration) -> Figures {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            s.done as f64 / secs
        } else {
            0.0
        };
        let remaining = s.total.saturating_sub(s.done);
        let eta = (rate > 0.0 && s.total > 0).then(|| (remaining as f64 / rate).ceil() as u64);
        Figures {
            remaining,
            rate,
            eta,
        }
    }
}

/// "Đồng bộ: còn 1.234 thay đổi (45 %), 310 thay đổi/giây, còn khoảng 4 giây".
fn line(s: &Snapshot, f: &Figures) -> String {
    let mut out = format!("{}: ", s.step);
    if s.total > 0 {
        out.push_str(&format!(
            "{}/{} {}, còn {} {} ({} %)",
            thousands(s.done),
            thousands(s.total),
            s.item,
            thousands(f.remaining),
            s.item,
            s.done * 100 / s.total
        ));
    } else {
        out.push_str(&format!("{} {}", thousands(s.done), s.item));
    }
    if f.rate >= 1.0 {
        out.push_str(&format!(", {} {}/giây", thousands(f.rate as u64), s.item));
    }
    if let Some(eta) = f.eta.filter(|_| f.remaining > 0) {
        out.push_str(&format!(", còn khoảng {}", duration(eta)));
    }
    out
}

fn json_line(s: &Snapshot, f: &Figures, last: bool) {
    let event = serde_json::json!({
        "event": "progress",
        "work": s.work,
        "step": s.step,
        "done": s.done,
        "total": s.total,
        "remaining": f.remaining,
        "rate": (f.rate * 10.0).round() / 10.0,
        "eta_s": f.eta,
        "final": last,
    });
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{event}");
}

fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} giây"),
        60..3600 => format!("{} phút {} giây", secs / 60, secs % 60),
        _ => format!("{} giờ {} phút", secs / 3600, secs % 3600 / 60),
    }
}

/// A sync's progress (`danvan_proto::Progress`) as a step: what is left
/// to receive and to send, the total growing if the peer's feed grows.
pub(crate) struct SyncProgress {
    reporter: Reporter,
    most: u64,
}

impl SyncProgress {
    pub(crate) fn new(json: bool) -> SyncProgress {
        SyncProgress {
            reporter: Reporter::new(json),
            most: 0,
        }
    }

    pub(crate) fn update(&mut self, p: &danvan_node::Progress) {
        let remaining = p.pull_target_seq.saturating_sub(p.pulled_seq)
            + p.serve_target_seq.saturating_sub(p.served_seq);
        let moved = p.stats.changes_received + p.stats.changes_sent;
        self.most = self.most.max(remaining + moved);
        self.reporter.update(Snapshot {
            work: "sync",
            step: "Đồng bộ".into(),
            done: self.most - remaining,
            total: self.most,
            item: "thay đổi",
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_as_vietnamese() {
        assert_eq!(super::duration(75), "1 phút 15 giây");
    }
}
