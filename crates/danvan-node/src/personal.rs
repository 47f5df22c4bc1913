//! Citizens' personal data in what leaves the machine: the counts a
//! plaintext bundle prints before it is written.

use std::collections::BTreeSet;

use danvan_model::{DocId, Record, SignedChange};

use crate::{Node, NodeError};

/// How many of each personal field the records of a file carry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PersonalCounts {
    /// Records in the file.
    pub records: usize,
    /// Citizens' names (a petition's citizen, a household's head).
    pub names: usize,
    /// CCCD numbers (a petition's id_number).
    pub id_numbers: usize,
    /// Citizens' addresses (a petition's address).
    pub addresses: usize,
    /// Compensation amounts (a household's compensation_vnd).
    pub compensation: usize,
}

impl PersonalCounts {
    /// Adds one record's personal fields.
    pub fn add(&mut self, record: &Record) {
        self.records += 1;
        match record {
            Record::Petition(p) => {
                self.names += usize::from(!p.citizen.trim().is_empty());
                self.id_numbers +=
                    usize::from(p.id_number.as_deref().is_some_and(|s| !s.is_empty()));
                self.addresses += usize::from(p.address.as_deref().is_some_and(|s| !s.is_empty()));
            }
            Record::Household(h) => {
                self.names += usize::from(!h.head.trim().is_empty());
                self.compensation += usize::from(h.compensation_vnd.is_some());
            }
            _ => {}
        }
    }

    /// Whether any personal field is counted.
    pub fn any(&self) -> bool {
        self.names + self.id_numbers + self.addresses + self.compensation > 0
    }

    /// The Vietnamese sentence a plaintext file prints.
    pub fn describe(&self) -> String {
        format!(
            "Tệp KHÔNG mã hoá này chứa dữ liệu cá nhân của công dân trong {} hồ sơ: {} họ tên, {} số CCCD, {} địa chỉ, {} số tiền bồi thường. Ai có tệp đều đọc được; hãy giữ và xoá tệp cẩn thận.",
            self.records, self.names, self.id_numbers, self.addresses, self.compensation
        )
    }
}

impl Node {
    /// The personal fields of the records `changes` touch, as this node
    /// holds them now.
    pub fn personal_counts(&self, changes: &[SignedChange]) -> Result<PersonalCounts, NodeError> {
        let docs: BTreeSet<DocId> = changes.iter().map(|c| c.doc).collect();
        let mut counts = PersonalCounts::default();
        for doc in docs {
            let Some(automerge) = self.store().load_doc(&doc)? else {
                continue;
            };
            if let Ok(record) = danvan_model::read_record(&automerge) {
                counts.add(&record);
            }
        }
        Ok(counts)
    }
}

impl Node {
    /// The town hub's node id, from the roster: where a bundle is sealed
    /// when no recipient is named (the web app's download).
    pub fn hub_id(&self) -> Result<danvan_model::NodeId, NodeError> {
        let roster = self.roster()?.ok_or(NodeError::BundleNeedsRecipient)?;
        roster
            .roster()
            .members
            .iter()
            .find(|m| m.role == danvan_model::Role::Hub)
            .and_then(|m| m.node.parse().ok())
            .ok_or(NodeError::BundleNeedsRecipient)
    }
}
