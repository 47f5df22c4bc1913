//! Personal data leaving the machine: every export, report, bundle and
//! web download is written to the audit log by [`Node::audit_outgoing`],
//! with the personal fields it carries and how many records.

use danvan_model::{Kind, Record};
use danvan_store::ListFilter;

use crate::{Node, NodeError, PersonalCounts};

/// Where personal data went.
#[derive(Clone, Copy, Debug)]
pub enum Outgoing<'a> {
    /// A file on this machine.
    File(&'a std::path::Path),
    /// The terminal or a pipe.
    Stdout,
    /// A download from the web app.
    Web,
}

impl Outgoing<'_> {
    fn label(&self) -> String {
        match self {
            Outgoing::File(p) => p.display().to_string(),
            Outgoing::Stdout => "stdout".into(),
            Outgoing::Web => "web".into(),
        }
    }
}

impl PersonalCounts {
    /// The personal fields counted, by name.
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("name", self.names),
            ("id_number", self.id_numbers),
            ("address", self.addresses),
            ("compensation_vnd", self.compensation),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(f, _)| f)
        .collect()
    }
}

/// The CCCD of a record's JSON (as `export --format json` and `list
/// --json` print it) masked: `0512******90`.
pub fn mask_record_json(value: &mut serde_json::Value) {
    if let Some(id) = value.get_mut("id_number") {
        mask_value(id);
    }
}

impl Node {
    /// Logs that personal data left this machine: `event` (`export`,
    /// `report`, `bundle-export`), where it went, the personal fields and
    /// counts it carries, and the nodes a sealed bundle is for. Every path
    /// that writes records out calls this.
    pub fn audit_outgoing(
        &mut self,
        event: &str,
        to: Outgoing<'_>,
        counts: &PersonalCounts,
        recipients: &[danvan_model::NodeId],
    ) -> Result<(), NodeError> {
        let mut detail = serde_json::json!({
            "to": to.label(),
            "fields": counts.fields(),
            "records": counts.records,
            "names": counts.names,
            "id_numbers": counts.id_numbers,
            "addresses": counts.addresses,
            "compensation": counts.compensation,
        });
        if !recipients.is_empty() {
            detail["recipients"] = recipients
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .into();
        }
        self.store_mut().audit(event, None, &detail)?;
        Ok(())
    }

    /// [`Node::export`] and the personal data the text carries: a JSON
    /// export holds whole records (CCCD masked); a CSV export holds the
    /// titles, which name the citizen of a petition or a household's head.
    pub fn export_counted(
        &self,
        format: &str,
        kind: Option<Kind>,
    ) -> Result<(String, PersonalCounts), NodeError> {
        let text = self.export(format, kind)?;
        let filter = ListFilter {
            kind: kind.map(|k| k.code().to_string()),
            ..ListFilter::default()
        };
        let mut counts = PersonalCounts::default();
        for value in self.store().list_json(&filter)? {
            let Ok(record) = Record::from_json(value) else {
                continue;
            };
            if format == "csv" {
                let mut names = PersonalCounts::default();
                names.add(&record);
                counts.records += 1;
                counts.names += names.names;
            } else {
                counts.add(&record);
            }
        }
        Ok((text, counts))
    }
}

/// A CCCD value masked in place (text only; `null` stays).
fn mask_value(value: &mut serde_json::Value) {
    if let Some(text) = value.as_str() {
        *value = danvan_model::mask_id_number(text).into();
    }
}

/// The competing values of a conflicting `field` masked when it is the
/// CCCD (other fields as they are).
fn mask_conflict<'a>(field: &str, values: impl Iterator<Item = &'a mut serde_json::Value>) {
    if field == "id_number" {
        values.for_each(mask_value);
    }
}

/// A record as a reader that may not write it sees it: its CCCD masked,
/// in the record and in the competing values of a conflict on it.
fn mask_shown(shown: &mut crate::Shown) {
    if let Record::Petition(p) = &mut shown.record {
        p.id_number = p.id_number.as_deref().map(danvan_model::mask_id_number);
    }
    for conflict in shown.conflicts.iter_mut() {
        mask_conflict(conflict.field, conflict.values.iter_mut());
    }
}

impl Node {
    /// A record for its page (`show`, the web record page): the CCCD
    /// whole only when this node's role may write the record, masked
    /// otherwise — in the record and in the history shown beside it.
    pub fn show_for_reader(&self, id: &str) -> Result<crate::Shown, NodeError> {
        let mut shown = self.show(id)?;
        if self.check_record_write(&shown.record).is_ok() {
            return Ok(shown);
        }
        mask_shown(&mut shown);
        Ok(shown)
    }

    /// Records with conflicting fields, as the `conflicts` list shows
    /// them: a list, so a CCCD (in the record and among the competing
    /// values) is masked whatever this node's role. A node that may write
    /// the record sees the values whole on its page (`show`).
    pub fn conflicts_listed(&self) -> Result<Vec<crate::Shown>, NodeError> {
        let mut all = self.conflicts()?;
        all.iter_mut().for_each(mask_shown);
        Ok(all)
    }

    /// [`Node::authored_conflicts`] for the record page: the competing
    /// CCCD values masked unless this node may write `record`.
    pub fn authored_conflicts_for_reader(
        &self,
        id: &str,
        record: &Record,
    ) -> Result<Vec<crate::AuthoredConflict>, NodeError> {
        let mut conflicts = self.authored_conflicts(id)?;
        if self.check_record_write(record).is_err() {
            for c in conflicts.iter_mut() {
                mask_conflict(c.field, c.values.iter_mut().map(|v| &mut v.value));
            }
        }
        Ok(conflicts)
    }

    /// [`Node::field_history`] with the CCCD values masked unless this
    /// node may write the record.
    pub fn field_history_for_reader(
        &self,
        id: &str,
        record: &Record,
    ) -> Result<Vec<crate::FieldHistoryEntry>, NodeError> {
        let mut history = self.field_history(id)?;
        if self.check_record_write(record).is_err() {
            for change in history.iter_mut().flat_map(|e| e.fields.iter_mut()) {
                if change.field == "id_number" {
                    mask_value(&mut change.old);
                    mask_value(&mut change.new);
                }
            }
        }
        Ok(history)
    }
}
