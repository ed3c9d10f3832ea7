//! A decision on an alert (learn, mute, unmute) as the baseline records it in its audit
//! trail, and the [`Ledger`] of a baseline's decisions (the alert ids they leave muted).
//! What a decision does to the baseline is [`crate::triage`]'s.

use std::collections::HashSet;
use std::sync::{Mutex, RwLock};

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

/// A baseline's decisions: its audit trail (the file's, then those taken while the sensor
/// runs) and the alert ids they leave muted. The output thread asks it whether an alert is
/// muted; the decisions topic and the console record into it; the baseline file keeps it.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Alert ids muted by the decisions (in order: an unmute undoes an earlier mute).
    muted: RwLock<HashSet<u64>>,
    /// The audit trail.
    trail: Mutex<Vec<Decision>>,
    /// How many of them came with the file.
    loaded: usize,
}

impl Ledger {
    /// The ledger of a baseline file's decisions.
    pub fn new(decisions: Vec<Decision>) -> Ledger {
        let mut muted = HashSet::new();
        for d in &decisions {
            d.apply_to_muted(&mut muted);
        }
        Ledger {
            muted: muted.into(),
            loaded: decisions.len(),
            trail: decisions.into(),
        }
    }

    /// Whether a decision muted the alert with hash `id`.
    pub fn is_muted(&self, id: u64) -> bool {
        self.muted.read().is_ok_and(|m| m.contains(&id))
    }

    /// Records a decision (the audit trail) and mutes or unmutes its alert.
    pub fn record(&self, d: Decision) {
        if let Ok(mut m) = self.muted.write() {
            d.apply_to_muted(&mut m);
        }
        if let Ok(mut v) = self.trail.lock() {
            v.push(d);
        }
    }

    /// Whether decisions were taken since the file was loaded (it needs saving, also when
    /// detecting).
    pub fn has_new(&self) -> bool {
        self.trail.lock().is_ok_and(|d| d.len() > self.loaded)
    }

    /// The audit trail as it stands.
    pub fn trail(&self) -> Vec<Decision> {
        self.trail.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

impl Decision {
    /// Mutes or unmutes its alert in `muted` (a learn changes nothing there).
    fn apply_to_muted(&self, muted: &mut HashSet<u64>) {
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
