//! `danvan erase`: a citizen's personal fields cleared on a lawful
//! request, by a new change (the earlier changes keep the old values).

use danvan_model::{Kind, Record};

use crate::{Node, NodeError};

/// What an erased name reads.
pub const ERASED_NAME: &str = "(đã xoá theo yêu cầu)";

/// What `erase` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Erased {
    /// The record.
    pub id: String,
    /// The fields cleared.
    pub fields: Vec<&'static str>,
    /// Changes of the record before the erasure: each still holds the old
    /// values, here and on every node that synced them.
    pub earlier_changes: usize,
}

/// The personal fields of a kind and what each becomes.
fn personal_fields(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::Petition => &[("citizen", ERASED_NAME), ("id_number", ""), ("address", "")],
        Kind::Household => &[("head", ERASED_NAME)],
        _ => &[],
    }
}

impl Node {
    /// Clears the personal fields of a petition (citizen, CCCD, address)
    /// or a household (its head's name) with a new change, if this node's
    /// role may write the record, and audits it as `erased`.
    pub fn erase(&mut self, id: &str) -> Result<Erased, NodeError> {
        let (doc, automerge) = self.load(id)?;
        let record: Record = danvan_model::read_record(&automerge)?;
        self.check_record_write(&record)?;
        let kind = record.kind();
        let fields = personal_fields(kind);
        if fields.is_empty() {
            return Err(NodeError::NothingToErase(kind.label_vi().to_string()));
        }
        let earlier_changes = automerge.get_changes(&[]).len();
        let mut parsed = Vec::new();
        for (name, value) in fields {
            let spec = danvan_model::field_spec(kind, name)?;
            parsed.push((spec, danvan_model::parse_field(spec, value)?));
        }
        self.change(id, "xoá dữ liệu cá nhân theo yêu cầu", |_, tx| {
            for (spec, value) in parsed {
                danvan_model::set_field(tx, spec, value)?;
            }
            Ok(())
        })?;
        let names: Vec<&'static str> = fields.iter().map(|(f, _)| *f).collect();
        self.store_mut().audit(
            "erased",
            None,
            &serde_json::json!({
                "doc": doc.to_string(),
                "fields": names,
                "earlier_changes": earlier_changes,
            }),
        )?;
        Ok(Erased {
            id: doc.to_string(),
            fields: names,
            earlier_changes,
        })
    }
}
