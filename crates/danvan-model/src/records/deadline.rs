//! Statutory deadlines of petitions, and when a case counts as closed.

use super::Petition;
use crate::vocab;

/// Days allowed to resolve a petition, from the day it was received.
///
/// Complaints (Luật Khiếu nại 2011, arts. 28 and 37): a first complaint 30
/// days, 45 if complex or in a remote area, 60 if both; a second complaint
/// 45, 60 if complex or remote, 70 if both. Denunciations (Luật Tố cáo 2018,
/// art. 30): 30 days, 60 if complex. Feedback and proposals have no statutory
/// deadline in those laws; danvan uses 15 days (a decision of this project,
/// recorded in ARCHITECTURE.md).
pub fn petition_deadline_days(petition_type: &str, round: i64, complex: bool, remote: bool) -> i64 {
    match petition_type {
        vocab::PETITION_COMPLAINT => match (round >= 2, complex, remote) {
            (false, false, false) => 30,
            (false, true, true) => 60,
            (false, _, _) => 45,
            (true, false, false) => 45,
            (true, true, true) => 70,
            (true, _, _) => 60,
        },
        vocab::PETITION_DENUNCIATION => {
            if complex {
                60
            } else {
                30
            }
        }
        _ => 15,
    }
}

impl Petition {
    /// The statutory deadline, YYYY-MM-DD.
    pub fn deadline(&self) -> Option<String> {
        let received = crate::parse_date(&self.received).ok()?;
        let days =
            petition_deadline_days(&self.petition_type, self.round, self.complex, self.remote);
        Some(crate::format_date(received + time::Duration::days(days)))
    }

    /// Whether the case is closed.
    pub fn is_closed(&self) -> bool {
        vocab::PETITION_CLOSED.contains(&self.status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaint_deadlines_follow_the_law() {
        let cases = [
            (vocab::PETITION_COMPLAINT, 1, false, false, 30),
            (vocab::PETITION_COMPLAINT, 1, true, false, 45),
            (vocab::PETITION_COMPLAINT, 1, false, true, 45),
            (vocab::PETITION_COMPLAINT, 1, true, true, 60),
            (vocab::PETITION_COMPLAINT, 2, false, false, 45),
            (vocab::PETITION_COMPLAINT, 2, true, false, 60),
            (vocab::PETITION_COMPLAINT, 2, false, true, 60),
            (vocab::PETITION_COMPLAINT, 2, true, true, 70),
            (vocab::PETITION_DENUNCIATION, 1, false, false, 30),
            (vocab::PETITION_DENUNCIATION, 1, true, false, 60),
            (vocab::PETITION_FEEDBACK, 1, false, false, 15),
        ];
        for (t, round, complex, remote, days) in cases {
            assert_eq!(
                petition_deadline_days(t, round, complex, remote),
                days,
                "{t} {round} {complex} {remote}"
            );
        }
    }
}
