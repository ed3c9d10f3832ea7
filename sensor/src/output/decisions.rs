//! Decisions of the SOC on alerts while the sensor runs (the Kafka sink's `decisions_topic`,
//! the console):
//! each is applied to the running baseline — detection reads it at once, so the next
//! occurrence of a learned or muted alert is not raised — recorded in the baseline's audit
//! trail (saved with the next baseline save), and acknowledged on the alert stream as an
//! update of the alert with `status` `learned`, `muted` or, after an unmute, `active`.
//! Unknown alert ids and decisions the baseline cannot take are counted and logged, never
//! applied.

use otsensor_baselines::alert::{Alert, AlertStore};
use otsensor_baselines::baseline::Learner;
use otsensor_baselines::time::Timestamp;
use otsensor_baselines::triage::{self, Action, AlertRef};

use crate::output::kafka::decisions::{DecisionConsumer, DecisionMsg};

/// The consumers of decisions topics and the channel they feed.
#[derive(Default)]
pub struct Decisions {
    rx: Option<crossbeam_channel::Receiver<DecisionMsg>>,
    consumers: Vec<DecisionConsumer>,
    /// The console's decisions.
    console: Option<crossbeam_channel::Receiver<DecisionMsg>>,
    applied: u64,
    unknown: u64,
    refused: u64,
}

/// What became of the decisions.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecisionsReport {
    /// Messages read from the decisions topics.
    pub received: u64,
    /// Messages that were not a decision.
    pub malformed: u64,
    /// Decisions applied.
    pub applied: u64,
    /// Decisions on alert ids this sensor does not hold.
    pub unknown: u64,
    /// Decisions the baseline cannot take (e.g. learning a zone-policy alert).
    pub refused: u64,
}

impl Decisions {
    /// Reads decisions from `consumers`, fed through `rx`.
    pub fn new(
        rx: crossbeam_channel::Receiver<DecisionMsg>,
        consumers: Vec<DecisionConsumer>,
    ) -> Decisions {
        Decisions {
            rx: Some(rx),
            consumers,
            ..Decisions::default()
        }
    }

    /// Takes the console's decisions too.
    pub fn with_console(&mut self, rx: crossbeam_channel::Receiver<DecisionMsg>) {
        self.console = Some(rx);
    }

    /// Decisions received since the last call.
    pub fn pending(&self) -> Vec<DecisionMsg> {
        self.rx
            .iter()
            .chain(&self.console)
            .flat_map(|rx| rx.try_iter())
            .collect()
    }

    /// Stops the consumers; the decisions they had passed on.
    pub fn stop(&mut self) -> Vec<DecisionMsg> {
        for c in &mut self.consumers {
            c.stop();
        }
        self.pending()
    }

    /// The counters (none without a decisions topic).
    pub fn report(&self) -> Option<DecisionsReport> {
        self.rx.as_ref()?;
        let load = |f: fn(&crate::output::kafka::decisions::Received) -> u64| {
            self.consumers.iter().map(|c| f(&c.received)).sum()
        };
        Some(DecisionsReport {
            received: load(|r| r.messages.load(std::sync::atomic::Ordering::Relaxed)),
            malformed: load(|r| r.malformed.load(std::sync::atomic::Ordering::Relaxed)),
            applied: self.applied,
            unknown: self.unknown,
            refused: self.refused,
        })
    }
}

impl Decisions {
    /// Applies one decision of the SOC to the baseline (see the module doc): the alert's id
    /// and the action when it was applied; counted and logged either way.
    pub fn apply(
        &mut self,
        d: &DecisionMsg,
        store: &AlertStore,
        learner: &Learner,
    ) -> Option<(u64, Action)> {
        let Ok(id) = u64::from_str_radix(&d.alert_id, 16) else {
            self.unknown += 1;
            return None;
        };
        let Some(alert) = store.get(id) else {
            self.unknown += 1;
            tracing::warn!(
                "Decision by {} on alert {}: this sensor holds no such alert (not applied).",
                d.by,
                d.alert_id
            );
            return None;
        };
        let applied = alert_ref(alert).and_then(|a| {
            triage::apply_to(learner, &a, d.action, &d.by, &d.reason, Timestamp::now())
        });
        match applied {
            Ok(what) => {
                self.applied += 1;
                tracing::info!(
                    "Decision by {} on alert {} ({} {}): {what}.",
                    d.by,
                    d.alert_id,
                    alert.rule,
                    alert.key
                );
                Some((id, d.action))
            }
            Err(e) => {
                self.refused += 1;
                tracing::warn!(
                    "Decision by {} to {:?} alert {} ({} {}): {e} (not applied).",
                    d.by,
                    d.action,
                    d.alert_id,
                    alert.rule,
                    alert.key
                );
                None
            }
        }
    }
}

/// What the baseline needs of an alert, from its JSON record.
fn alert_ref(a: &Alert) -> Result<AlertRef, String> {
    let v = serde_json::to_value(a).map_err(|e| e.to_string())?;
    AlertRef::from_record(&v)
}
