//! The alert side of the output thread: runs the anomaly engine on facts, applies what the
//! baseline learned, aggregates observations into alerts and writes them to every sink.

use std::collections::HashMap;
use std::sync::Arc;

use otsensor_baselines::alert::{
    alert_hash, Alert, AlertStore, Engine, Observation, Repeat, Signal,
};
use otsensor_baselines::anomaly::AnomalyEngine;
use otsensor_baselines::detector::{Mode, Shared};

use crate::output::sink::Sink;

/// Where alerts go and how they are aggregated.
pub struct AlertOutput {
    /// Aggregation.
    pub store: AlertStore,
    /// Cross-flow anomaly rules.
    pub anomaly: AnomalyEngine,
    /// Mode, baseline and rule switches.
    pub shared: Arc<Shared>,
    /// Destinations.
    pub sinks: Vec<Sink>,
    /// Alert records produced (first sight, updates, final states).
    pub written: u64,
    /// The first write error.
    pub error: Option<String>,
    /// Observations recorded into the baseline while learning.
    pub learned: u64,
    /// Observations not raised because the baseline learned them.
    pub known: u64,
    /// Kafka delivery counters, per Kafka sink (at finish).
    pub kafka: Vec<crate::output::kafka::KafkaReport>,
    /// Sensor id, stamped on asset records.
    pub sensor: String,
    /// When asset records were last published (they are again every 5 minutes while
    /// running, and at the end).
    assets_published: std::time::Instant,
    scratch: Vec<Observation>,
    /// What a [`Repeat`] of a non-policy alert needs: its key while learning, or that the
    /// baseline knows it while detecting.
    repeats: HashMap<u64, RepeatOf>,
}

enum RepeatOf {
    Learning(String),
    Known,
}

/// Wall-clock time between asset publications while running.
const ASSETS_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

impl AlertOutput {
    /// A new output.
    pub fn new(
        store: AlertStore,
        anomaly: AnomalyEngine,
        shared: Arc<Shared>,
        sinks: Vec<Sink>,
    ) -> AlertOutput {
        AlertOutput {
            store,
            anomaly,
            shared,
            sinks,
            written: 0,
            error: None,
            learned: 0,
            known: 0,
            kafka: Vec::new(),
            sensor: String::new(),
            assets_published: std::time::Instant::now(),
            scratch: Vec::new(),
            repeats: HashMap::new(),
        }
    }

    /// Handles one signal from a worker.
    pub fn signal(&mut self, s: Signal) {
        match s {
            Signal::Obs(o) => self.observe(o),
            Signal::Repeat(r) => self.repeat(r),
            Signal::Fact(f) => {
                let mut found = std::mem::take(&mut self.scratch);
                self.anomaly.observe(&f, &mut found);
                for mut o in found.drain(..) {
                    if self.shared.enabled(o.rule) {
                        o.severity = self.shared.severity_override(o.rule);
                        self.observe(o);
                    }
                }
                self.scratch = found;
            }
        }
    }

    /// Aggregates one observation and writes the alert if it is due. Operational, protocol
    /// and anomaly alerts raised while learning are recorded in the baseline; detection does
    /// not raise them again. (Policy alerts come from configuration and are never learned.)
    pub fn observe(&mut self, o: Observation) {
        if o.rule.engine != Engine::Policy {
            let learner = &self.shared.learner;
            let id = alert_hash(o.rule.id, &[&o.key]);
            match self.shared.cfg.mode {
                Mode::Learn => {
                    learner.learn_alert(o.rule.id, &o.key, o.ts);
                    self.learned += 1;
                    self.repeats
                        .entry(id)
                        .or_insert_with(|| RepeatOf::Learning(o.key.clone()));
                }
                Mode::Detect if learner.knows_alert(o.rule.id, &o.key) => {
                    self.known += 1;
                    self.repeats.insert(id, RepeatOf::Known);
                    return;
                }
                _ => {}
            }
        }
        if let Some(a) = self.store.observe(o) {
            self.write(&a);
        }
    }

    /// One more sighting of an alert whose full observation came earlier from the same flow.
    fn repeat(&mut self, r: Repeat) {
        if r.rule.engine != Engine::Policy {
            match self.repeats.get(&r.id) {
                Some(RepeatOf::Known) => {
                    self.known += 1;
                    return;
                }
                Some(RepeatOf::Learning(key)) => {
                    self.shared.learner.learn_alert(r.rule.id, key, r.ts);
                    self.learned += 1;
                }
                None => {}
            }
        }
        if let Some(a) = self.store.repeat(r.id, r.ts) {
            self.write(&a);
        }
    }

    /// Writes one alert record to every sink.
    pub fn write(&mut self, a: &Alert) {
        self.written += 1;
        for s in &mut self.sinks {
            if let Err(e) = s.write(a) {
                self.error.get_or_insert_with(|| format!("{}: {e}", s.name));
            }
        }
    }

    /// Periodic work of the sinks (called once per round by the output thread).
    pub fn tick(&mut self) {
        for s in &mut self.sinks {
            s.tick();
        }
        if self.assets_published.elapsed() >= ASSETS_EVERY {
            self.publish_assets();
        }
    }

    /// Publishes every asset with its risk score to the sinks that take assets.
    pub fn publish_assets(&mut self) {
        self.assets_published = std::time::Instant::now();
        if !self.sinks.iter().any(Sink::wants_assets) {
            return;
        }
        let assets = self.shared.assets.snapshot();
        let alerts = self.store.all();
        let risks = crate::output::risk::score(&assets, &alerts);
        let mut records = Vec::new();
        for asset in &assets {
            let Some(risk) = risks.get(&asset.ip).cloned() else {
                continue;
            };
            let record = crate::output::risk::AssetRecord {
                asset,
                risk,
                sensor: &self.sensor,
            };
            if let Ok(json) = serde_json::to_string(&record) {
                records.push((asset.ip.to_string(), json));
            }
        }
        for s in self.sinks.iter_mut().filter(|s| s.wants_assets()) {
            for (key, json) in &records {
                s.publish_asset(key, json);
            }
        }
    }

    /// Writes the final state of every alert updated since it was last written, publishes
    /// the assets, and finishes every sink.
    pub fn finish(&mut self) {
        for a in self.store.flush() {
            self.write(&a);
        }
        self.publish_assets();
        for s in &mut self.sinks {
            match s.finish() {
                Ok(Some(report)) => self.kafka.push(report),
                Ok(None) => {}
                Err(e) => {
                    self.error.get_or_insert_with(|| format!("{}: {e}", s.name));
                }
            }
        }
    }
}
