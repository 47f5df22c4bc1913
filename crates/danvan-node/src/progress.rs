//! Progress of long work (import, bundle import, check, report), told to a
//! callback the interface renders: the node reads no clock for it and
//! prints nothing. Sync tells its own `danvan_proto::Progress`.

/// What long work a progress report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Work {
    /// Rows of a CSV or Excel file.
    Import,
    /// Changes of a bundle file.
    BundleImport,
    /// Stored changes checked by `danvan check`.
    Check,
    /// Records read into a report.
    Report,
}

/// How far one piece of long work is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WorkProgress {
    /// The work.
    pub work: Work,
    /// The step, in Vietnamese ("Kiểm tra dòng", "Ghi hồ sơ", …).
    pub step: &'static str,
    /// What an item is, in Vietnamese ("dòng", "thay đổi", "hồ sơ").
    pub item: &'static str,
    /// Items done.
    pub done: u64,
    /// Items in all (0: not known yet).
    pub total: u64,
}

impl WorkProgress {
    /// Items left.
    pub fn remaining(&self) -> u64 {
        self.total.saturating_sub(self.done)
    }
}

/// The callback long work reports to.
pub type OnProgress<'a> = &'a mut dyn FnMut(&WorkProgress);

/// Reports every `every` items and at the end, so a callback is not called
/// for each of 200,000 rows.
pub(crate) fn due(done: u64, total: u64, every: u64) -> bool {
    done == total || done.is_multiple_of(every.max(1))
}
