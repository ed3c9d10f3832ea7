//! A decision on an alert (learn, mute, unmute) as the baseline records it in its audit
//! trail, and the alert ids the decisions leave muted. What a decision does to the baseline
//! is [`crate::triage`]'s.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// What to do with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Add what the alert said was missing to the baseline.
    Learn,
    /// Never raise this alert again.
    Mute,
    /// Raise it again (undoes a mute).
    Unmute,
}

/// A decision, as recorded in the baseline (its audit trail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The alert's id (as in its record).
    pub alert_id: String,
    /// Learn or mute.
    pub action: Action,
    /// The alert's rule, when the decision came with its record.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule: String,
    /// The alert's key (edge or host), when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Who decided.
    pub by: String,
    /// When (wall clock).
    pub at: Timestamp,
    /// Why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// The alert ids muted by `decisions` (in order: an unmute undoes an earlier mute).
pub fn muted(decisions: &[Decision]) -> std::collections::HashSet<u64> {
    let mut m = std::collections::HashSet::new();
    for d in decisions {
        d.apply_to_muted(&mut m);
    }
    m
}

impl Decision {
    /// Mutes or unmutes its alert in `muted` (a learn changes nothing there).
    pub fn apply_to_muted(&self, muted: &mut std::collections::HashSet<u64>) {
        let Ok(id) = u64::from_str_radix(&self.alert_id, 16) else {
            return;
        };
        match self.action {
            Action::Mute => {
                muted.insert(id);
            }
            Action::Unmute => {
                muted.remove(&id);
            }
            Action::Learn => {}
        }
    }
}
