//! Land-clearance operations on a household: visits and the stage pipeline.

use danvan_model::{Kind, ObjectionEvent, Record, StageEvent, Visit, vocab};

use crate::error::NodeError;
use crate::node::Node;

/// What a stage command did.
#[derive(Debug, PartialEq, Eq)]
pub enum StageOutcome {
    /// Moved forward.
    Forward,
    /// Moved backwards: recorded and to be shown.
    Backwards {
        /// The stage it was at.
        from: String,
    },
    /// Already at that stage: nothing written.
    Unchanged,
    /// An objection was recorded.
    ObjectionRaised,
    /// An objection was closed.
    ObjectionResolved,
}

fn household(record: &Record) -> Result<&danvan_model::Household, NodeError> {
    Node::expect_kind(record, Kind::Household)?;
    match record {
        Record::Household(h) => Ok(h),
        _ => unreachable!("checked by expect_kind"),
    }
}

impl Node {
    /// Appends a persuasion visit.
    pub fn household_visit(
        &mut self,
        id: &str,
        date: &str,
        by: &str,
        outcome: &str,
    ) -> Result<(), NodeError> {
        let date = danvan_model::normalize_date(date)?;
        self.check_date("ngày vận động", &date, false)?;
        if by.trim().is_empty() {
            return Err(danvan_model::RecordError::Missing("người vận động (--by)").into());
        }
        let node = self.id().short();
        self.change(id, "ghi lần vận động", |record, tx| {
            household(record)?;
            danvan_model::append_visit(
                tx,
                Visit {
                    date,
                    by: by.trim().into(),
                    outcome: outcome.trim().into(),
                    node,
                },
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// Moves a household along the pipeline, or records an objection.
    pub fn household_status(
        &mut self,
        id: &str,
        stage: &str,
        date: &str,
        by: &str,
        note: &str,
    ) -> Result<StageOutcome, NodeError> {
        let date = danvan_model::normalize_date(date)?;
        self.check_date("ngày chuyển giai đoạn", &date, false)?;
        let stage = stage.trim();
        let is_objection = stage == vocab::OBJECTION.0 || stage == vocab::OBJECTION_RESOLVED.0;
        if !is_objection && vocab::stage_rank(stage).is_none() {
            return Err(danvan_model::RecordError::BadChoice {
                field: "giai đoạn".into(),
                value: stage.into(),
                allowed: format!(
                    "{}, {}, {}",
                    vocab::codes(vocab::HOUSEHOLD_STAGES),
                    vocab::OBJECTION.0,
                    vocab::OBJECTION_RESOLVED.0
                ),
            }
            .into());
        }
        let (_, automerge) = self.load(id)?;
        let record = danvan_model::read_record(&automerge)?;
        let current = household(&record)?.stage.clone();
        let node = self.id().short();
        if is_objection {
            let raised = stage == vocab::OBJECTION.0;
            let message = if raised {
                "ghi nhận khiếu nại"
            } else {
                "ghi nhận đã giải quyết khiếu nại"
            };
            self.change(id, message, |_, tx| {
                danvan_model::append_objection(
                    tx,
                    ObjectionEvent {
                        action: stage.into(),
                        date,
                        stage: current.clone(),
                        note: note.trim().into(),
                        node,
                    },
                )?;
                Ok(())
            })?;
            return Ok(if raised {
                StageOutcome::ObjectionRaised
            } else {
                StageOutcome::ObjectionResolved
            });
        }
        let (from_rank, to_rank) = (vocab::stage_rank(&current), vocab::stage_rank(stage));
        if from_rank == to_rank {
            return Ok(StageOutcome::Unchanged);
        }
        let backwards = to_rank < from_rank;
        let message = if backwards {
            format!("lùi giai đoạn {current} → {stage}")
        } else {
            format!("chuyển giai đoạn {current} → {stage}")
        };
        self.change(id, &message, |_, tx| {
            danvan_model::move_stage(
                tx,
                &current,
                StageEvent {
                    stage: stage.into(),
                    from: current.clone(),
                    backwards,
                    date,
                    by: by.trim().into(),
                    node,
                },
            )?;
            Ok(())
        })?;
        Ok(if backwards {
            StageOutcome::Backwards { from: current }
        } else {
            StageOutcome::Forward
        })
    }
}
