//! Moving records in and out: record builders for imports, CSV/JSON
//! export, change bundles (CSV and Excel import: `crate::import`).

use std::collections::HashSet;
use std::io::{Read, Seek};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use danvan_model::{Activity, DocId, Household, Kind, NodeId, Parcel, Record, SignedChange, vocab};
use danvan_store::ListFilter;

use crate::error::{NodeError, io};
use crate::node::Node;

/// Largest bundle file imported: 256 MiB of compressed changes is many
/// years of a town's records.
pub(crate) const BUNDLE_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Reads `SHEET/NO:AREA_M2:LANDTYPE`, e.g. `12/345:250.5:ONT`.
pub fn parse_parcel(text: &str) -> Result<Parcel, NodeError> {
    let bad = || NodeError::BadParcel(text.to_string());
    let mut parts = text.trim().split(':');
    let (Some(place), Some(area), Some(land_type), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (sheet, number) = place.split_once('/').ok_or_else(bad)?;
    let area_m2: f64 = area.trim().replace(',', ".").parse().map_err(|_| bad())?;
    if !area_m2.is_finite() || area_m2 <= 0.0 || sheet.trim().is_empty() || number.trim().is_empty()
    {
        return Err(bad());
    }
    if land_type.trim().is_empty() {
        return Err(bad());
    }
    Ok(Parcel {
        sheet: sheet.trim().into(),
        number: number.trim().into(),
        area_m2,
        land_type: land_type.trim().to_uppercase(),
    })
}

impl Node {
    /// Builds a household record (validated) from its fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new_household(
        &self,
        unit: Option<&str>,
        project: &str,
        head: &str,
        village: Option<String>,
        parcels: Vec<Parcel>,
        inventory: Option<String>,
        compensation_vnd: Option<i64>,
        stage: Option<&str>,
    ) -> Result<Record, NodeError> {
        let stage = stage.unwrap_or(vocab::HOUSEHOLD_STAGES[0].0);
        if vocab::stage_rank(stage).is_none() {
            return Err(danvan_model::RecordError::BadChoice {
                field: "stage".into(),
                value: stage.into(),
                allowed: vocab::codes(vocab::HOUSEHOLD_STAGES),
            }
            .into());
        }
        let record = Record::Household(Household {
            header: self.new_header(Kind::Household, unit, Some(project))?,
            head: head.trim().into(),
            village,
            parcels,
            inventory,
            compensation_vnd,
            stage: stage.into(),
            stage_log: Vec::new(),
            objections: Vec::new(),
            visits: Vec::new(),
        });
        self.validate(&record)?;
        Ok(record)
    }

    /// Builds an activity record (validated) from its fields.
    #[allow(clippy::too_many_arguments)]
    pub fn new_activity(
        &self,
        unit: Option<&str>,
        activity_type: &str,
        date: &str,
        title: &str,
        place: Option<String>,
        organizers: Option<String>,
        attendance: Option<i64>,
        citizens: Option<i64>,
        matters: Option<i64>,
        summary: Option<String>,
        results: Option<String>,
    ) -> Result<Record, NodeError> {
        let record = Record::Activity(Activity {
            header: self.new_header(Kind::Activity, unit, None)?,
            activity_type: activity_type.trim().into(),
            date: danvan_model::normalize_date(date)?,
            title: title.trim().into(),
            place,
            organizers,
            attendance,
            citizens,
            matters,
            summary,
            results,
            petitions: Vec::new(),
            tasks: Vec::new(),
        });
        self.validate(&record)?;
        Ok(record)
    }

    /// Exports records as CSV (summary columns) or JSON (whole records).
    pub fn export(&self, format: &str, kind: Option<Kind>) -> Result<String, NodeError> {
        let filter = ListFilter {
            kind: kind.map(|k| k.code().to_string()),
            ..ListFilter::default()
        };
        match format {
            "json" => {
                let mut all = self.store().list_json(&filter)?;
                // Lists and files show the CCCD masked; whole only on the
                // record page for a node that may write the record.
                all.iter_mut().for_each(crate::mask_record_json);
                Ok(serde_json::to_string_pretty(&all).unwrap_or_default())
            }
            "csv" => {
                let mut out = csv::Writer::from_writer(Vec::new());
                let csv_err = |e: csv::Error| NodeError::Export(e.to_string());
                out.write_record([
                    "id",
                    "kind",
                    "unit",
                    "unit_name",
                    "project",
                    "title",
                    "date",
                    "status",
                    "conflicts",
                ])
                .map_err(csv_err)?;
                for row in self.store().list(&filter)? {
                    // Typed by officers and citizens: never a formula in Excel.
                    let conflicts = row.conflicts.to_string();
                    let cells = [
                        row.id.as_str(),
                        row.kind.as_str(),
                        row.unit.as_str(),
                        self.units().name(&row.unit),
                        row.project.as_deref().unwrap_or(""),
                        row.title.as_str(),
                        row.date.as_deref().unwrap_or(""),
                        row.status.as_deref().unwrap_or(""),
                        conflicts.as_str(),
                    ];
                    out.write_record(
                        cells
                            .iter()
                            .map(|c| danvan_report::csv_cell_safe(c).into_owned()),
                    )
                    .map_err(csv_err)?;
                }
                let bytes = out
                    .into_inner()
                    .map_err(|e| NodeError::Export(e.to_string()))?;
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            other => Err(NodeError::ExportFormat(other.to_string())),
        }
    }

    /// Writes a bundle file and says what it holds. With `for_nodes`, the
    /// changes of records any of those nodes may read under the roster (as
    /// sync would offer them), sealed to those nodes and signed by this
    /// node ([`danvan_proto::seal_bundle`]); with none, every stored change
    /// — and then only with `plain` (a plaintext file), whose personal
    /// data is counted for the caller to show.
    pub fn bundle_export(
        &self,
        out: &Path,
        for_nodes: &[NodeId],
        plain: bool,
    ) -> Result<BundleExported, NodeError> {
        if for_nodes.is_empty() && !plain {
            return Err(NodeError::BundleNeedsRecipient);
        }
        let mut changes = Vec::new();
        if for_nodes.is_empty() {
            changes = self.all_changes()?;
        } else {
            let mut seen = std::collections::HashSet::new();
            for node in for_nodes {
                for change in self.changes_for(node)? {
                    if seen.insert(change.hash) {
                        changes.push(change);
                    }
                }
            }
        }
        let inner = danvan_proto::encode_bundle(&changes);
        let counts = self.personal_counts(&changes)?;
        let (bytes, personal) = if plain {
            (inner, Some(counts))
        } else {
            let sealed = danvan_proto::seal_bundle(
                &inner,
                self.key(),
                for_nodes,
                crate::node::random_bytes(),
                crate::node::random_bytes(),
            )?;
            (sealed, None)
        };
        write_atomic(out, &bytes)?;
        Ok(BundleExported {
            changes: changes.len(),
            sealed_to: if plain {
                Vec::new()
            } else {
                for_nodes.to_vec()
            },
            personal,
            counts,
        })
    }

    /// The changes of the records `node` may read under the roster.
    /// Without a roster (a node not yet in a town) nothing can be
    /// filtered: every change, as a plain export would carry.
    fn changes_for(&self, node: &NodeId) -> Result<Vec<SignedChange>, NodeError> {
        let Some(roster) = self.roster()? else {
            return self.all_changes();
        };
        let scope = roster
            .scope_on(node, danvan_store::today())
            .ok_or_else(|| NodeError::NoScope(node.short()))?;
        let mut changes = Vec::new();
        let mut since = 0;
        loop {
            // No epoch of that node's store is known: nothing is
            // skipped as "its own".
            let (entries, scanned) =
                self.store()
                    .feed(node, [0; 8], since, 10_000, Some(&scope), None)?;
            let hashes: Vec<[u8; 32]> = entries.iter().map(|e| e.hash).collect();
            changes.extend(self.store().bodies(&hashes)?);
            if scanned == since {
                break;
            }
            since = scanned;
        }
        Ok(changes)
    }

    /// Reads a bundle file and merges its changes after verifying every one.
    pub fn bundle_import(&mut self, path: &Path) -> Result<danvan_model::ApplyReport, NodeError> {
        self.bundle_import_until(path, &AtomicBool::new(false))
    }

    /// [`Node::bundle_import`], stopping between two batches once `stop`
    /// is set (Ctrl+C): the batches committed stay, and the error says how
    /// many changes they stored.
    ///
    /// The file is read as a stream, twice: first its whole form is checked
    /// (checksum included) while nothing is kept, so a malformed bundle
    /// imports nothing; then its changes are decoded one by one and stored
    /// in batches of at most [`BUNDLE_BATCH_CHANGES`] changes, each through
    /// the one intake path, each in its own transaction. Memory stays at
    /// one batch whatever the file's size.
    pub fn bundle_import_until(
        &mut self,
        path: &Path,
        stop: &AtomicBool,
    ) -> Result<danvan_model::ApplyReport, NodeError> {
        self.bundle_import_reporting(path, stop, &mut |_| {})
    }

    /// [`Node::bundle_import_until`], telling `progress` after each batch
    /// how many of the bundle's changes are stored or known.
    pub fn bundle_import_reporting(
        &mut self,
        path: &Path,
        stop: &AtomicBool,
        progress: crate::OnProgress<'_>,
    ) -> Result<danvan_model::ApplyReport, NodeError> {
        // Looked at before the file is opened: `/dev/zero`, a FIFO or a
        // directory is refused, and so is a file over the cap.
        let meta = std::fs::metadata(path).map_err(io(path))?;
        if !meta.is_file() {
            return Err(NodeError::NotAFile(path.to_path_buf()));
        }
        let too_large = |bytes| NodeError::TooLarge {
            path: path.to_path_buf(),
            bytes,
            max: BUNDLE_FILE_BYTES_MAX,
        };
        if meta.len() > BUNDLE_FILE_BYTES_MAX {
            return Err(too_large(meta.len()));
        }
        let mut file = std::fs::File::open(path).map_err(io(path))?;
        // The path may have been replaced between the look and the open.
        let meta = file.metadata().map_err(io(path))?;
        if !meta.is_file() {
            return Err(NodeError::NotAFile(path.to_path_buf()));
        }
        let len = meta.len();
        if len > BUNDLE_FILE_BYTES_MAX {
            return Err(too_large(len));
        }
        // Never read past the size looked at, even if the file grows.
        fn reader(
            file: &std::fs::File,
            len: u64,
        ) -> std::io::BufReader<std::io::Take<&std::fs::File>> {
            std::io::BufReader::new(file.take(len))
        }
        let mut head = [0u8; 9];
        let got = file.read(&mut head).map_err(io(path))?;
        file.rewind().map_err(io(path))?;
        if danvan_proto::is_sealed_bundle(&head[..got]) {
            // A sealed file is read whole (it is bounded by
            // BUNDLE_FILE_BYTES_MAX), its signature checked and opened
            // with this node's key; the bundle inside goes through the same
            // checks and intake as a plaintext one.
            let mut bytes = Vec::with_capacity(len as usize);
            reader(&file, len)
                .read_to_end(&mut bytes)
                .map_err(io(path))?;
            let (_, inner) = danvan_proto::open_sealed_bundle(&bytes, self.key())?;
            drop(bytes);
            let inner_len = inner.len() as u64;
            danvan_proto::verify_bundle(inner.as_slice(), inner_len)?;
            let bundle = danvan_proto::BundleReader::new(inner.as_slice(), inner_len)?;
            return self.import_bundle(path, bundle, stop, progress);
        }
        danvan_proto::verify_bundle(reader(&file, len), len)?;
        if stop.load(Ordering::Relaxed) {
            return Err(interrupted_bundle(0));
        }
        file.rewind().map_err(io(path))?;
        let bundle = danvan_proto::BundleReader::new(reader(&file, len), len)?;
        self.import_bundle(path, bundle, stop, progress)
    }

    /// Stores the changes of a bundle whose form is checked, in batches.
    fn import_bundle<R: Read>(
        &mut self,
        path: &Path,
        mut bundle: danvan_proto::BundleReader<R>,
        stop: &AtomicBool,
        progress: crate::OnProgress<'_>,
    ) -> Result<danvan_model::ApplyReport, NodeError> {
        if stop.load(Ordering::Relaxed) {
            return Err(interrupted_bundle(0));
        }
        let changed = |kept, cause| NodeError::BundleChanged {
            path: path.to_path_buf(),
            kept,
            cause,
        };
        let mut total = danvan_model::ApplyReport::default();
        let count = u64::from(bundle.count());
        let mut done = 0u64;
        loop {
            let mut batch = Vec::new();
            let mut bytes = 0;
            // A change without its own signature is checked with the
            // changes covering it (a later signed change of its author and
            // record): a batch is not cut while such a change waits for
            // one — a run as a node holds it came in one message, so it
            // is at most a message's changes and bytes longer.
            let mut waiting: HashSet<(DocId, NodeId)> = HashSet::new();
            loop {
                let (changes_max, bytes_max) = if waiting.is_empty() {
                    (BUNDLE_BATCH_CHANGES, BUNDLE_BATCH_BYTES)
                } else {
                    (
                        BUNDLE_BATCH_CHANGES + danvan_proto::BATCH_CHANGES_MAX,
                        BUNDLE_BATCH_BYTES + danvan_proto::DECOMPRESSED_BYTES_MAX,
                    )
                };
                if batch.len() >= changes_max || bytes >= bytes_max {
                    break;
                }
                match bundle.next_change() {
                    Ok(Some(change)) => {
                        bytes += change.body.len();
                        if change.signature.is_none() {
                            waiting.insert((change.doc, change.author));
                        } else {
                            waiting.remove(&(change.doc, change.author));
                        }
                        batch.push(change);
                    }
                    Ok(None) => break,
                    Err(e) => return Err(changed(total.new, e)),
                }
            }
            if batch.is_empty() {
                break;
            }
            if stop.load(Ordering::Relaxed) {
                return Err(interrupted_bundle(total.new));
            }
            let batch_len = batch.len();
            let mut report = crate::intake::receive_changes(
                self.store_mut(),
                crate::intake::Via::Bundle,
                batch,
            )?;
            total.new += report.new;
            total.duplicate += report.duplicate;
            total.documents += report.documents;
            total.rejected.append(&mut report.rejected);
            done += batch_len as u64;
            progress(&crate::WorkProgress {
                work: crate::Work::BundleImport,
                step: "Nhập gói",
                item: "thay đổi",
                done,
                total: count,
            });
        }
        bundle.finish().map_err(|e| changed(total.new, e))?;
        Ok(total)
    }
}

/// What `bundle export` wrote.
#[derive(Debug, Clone)]
pub struct BundleExported {
    /// Changes in the file.
    pub changes: usize,
    /// The nodes it is sealed to (empty: a plaintext file).
    pub sealed_to: Vec<NodeId>,
    /// The personal data a plaintext file carries.
    pub personal: Option<crate::personal::PersonalCounts>,
    /// The personal data the file carries, sealed or not (for the audit log).
    pub counts: crate::personal::PersonalCounts,
}

/// Changes stored per transaction of a bundle import: bounds its memory and
/// how much a Ctrl+C waits for.
pub(crate) const BUNDLE_BATCH_CHANGES: usize = 2_000;
/// Body bytes per batch of a bundle import, at most (one change may pass it).
const BUNDLE_BATCH_BYTES: usize = 16 << 20;

fn interrupted_bundle(kept: usize) -> NodeError {
    NodeError::Interrupted {
        kept: if kept == 0 {
            "Chưa nhập thay đổi nào của gói; kho dữ liệu không đổi.".to_string()
        } else {
            format!(
                "Đã nhập {kept} thay đổi của gói (các lô đã xong, không có lô nào ghi dở); phần còn lại chưa nhập. Chạy lại `danvan bundle import` để nhập tiếp: thay đổi đã có được bỏ qua."
            )
        },
    }
}

/// Refuses an output path that already exists (a file, or a symlink
/// someone planted there) unless the user said `--force`: `--out` never
/// overwrites by surprise. The file is then written by [`write_atomic`],
/// which replaces a symlink at `path` instead of writing through it.
pub fn check_out_path(path: &Path, force: bool) -> Result<(), NodeError> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(NodeError::OutExists(path.to_path_buf()));
    }
    Ok(())
}

/// A fresh temporary name in the directory of `path` (hidden, random), for a
/// file the caller creates exclusively and then renames over `path`.
pub(crate) fn temp_beside(path: &Path) -> std::path::PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let suffix: String = crate::node::random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    dir.join(format!(
        ".{}.{suffix}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("danvan")
    ))
}

/// Writes a file so that a crash leaves either the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    use std::io::Write;
    // A fresh name, created exclusively: a symlink or file planted at a
    // predictable temporary name is never followed or written through.
    // Every file written here may hold citizens' personal data (exports,
    // reports, bundles): readable by its owner only (0600), whatever the
    // umask.
    let tmp = temp_beside(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&tmp).map_err(io(&tmp))?;
    let written = (|| {
        let mut file = file;
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        // A partial file on a full disk would keep it full.
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}
