//! The alert side of the output thread: runs the anomaly engine on facts, applies what the
//! baseline learned, aggregates observations into alerts and writes them to every sink.

use std::sync::Arc;

use otsensor_baselines::alert::{
    alert_hash, Alert, AlertStore, Comparison, Observation, Repeat, Signal,
};
use otsensor_baselines::anomaly::{AnomalyConfig, AnomalyEngine};
use otsensor_baselines::detector::{Mode, Shared};
use otsensor_baselines::time::Timestamp;

use crate::output::sink::Sink;
use crate::output::OutputReport;
use crate::output::OutputSnapshot;

/// A health condition's state, for the output thread.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSignal {
    /// The rule (engine `sensor`).
    pub rule: &'static otsensor_baselines::alert::Rule,
    /// What it is about: an interface, a sink, `pipeline`, `baseline`, `config`.
    pub subject: String,
    /// Raised (or still there) or cleared.
    pub active: bool,
    /// When.
    pub ts: Timestamp,
    /// One sentence.
    pub details: String,
    /// What was measured.
    pub observed: serde_json::Value,
    /// The threshold.
    pub expected: serde_json::Value,
}

/// What became of alerts.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct AlertsReport {
    /// Distinct alerts raised.
    pub distinct: u64,
    /// Alerts evicted from the alert store at its cap (`alerts.max_alerts`), their final state
    /// written first.
    pub alerts_evicted: u64,
    /// Alert records written (first sight, updates, final states).
    pub records_written: u64,
    /// Rule observations aggregated into them.
    pub observations: u64,
    /// Distinct alerts per rule.
    pub by_rule: std::collections::BTreeMap<&'static str, u64>,
    /// Operational, protocol and anomaly observations recorded into the baseline (learning).
    pub learned: u64,
    /// Observations not raised because the baseline learned them (detecting).
    pub known: u64,
    /// Keys the anomaly engine evicted from its full tables while they were still within
    /// their window (state shed under a flood of new hosts).
    pub anomaly_evicted: u64,
    /// Cyclic I/O connection ids (EtherNet/IP implicit messaging) paired with the Forward
    /// Open that opened them, unpaired, or sent by another host (`anomaly.io_producer_mismatch`).
    #[serde(skip_serializing_if = "otsensor_baselines::anomaly::IoPairing::is_empty")]
    pub io_connections: otsensor_baselines::anomaly::IoPairing,
    /// Kafka delivery counters, per Kafka sink.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kafka: Vec<crate::output::kafka::KafkaReport>,
    /// The first error writing alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Evidence files, with `[evidence]` on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::output::evidence::EvidenceReport>,
    /// Observations not raised because a decision muted their alert.
    #[serde(skip_serializing_if = "is_zero")]
    pub muted: u64,
    /// Decisions of the SOC read from Kafka (`decisions_topic`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisions: Option<crate::output::decisions::DecisionsReport>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What other threads tell the output thread while it runs.
#[derive(Debug)]
pub enum Control {
    /// A health condition was raised, persists, or cleared.
    Health(HealthSignal),
    /// New anomaly thresholds (a configuration reload).
    Anomaly(AnomalyConfig),
}

/// Where alerts go and how they are aggregated.
pub struct AlertOutput {
    /// Aggregation.
    pub store: AlertStore,
    /// Cross-flow anomaly rules.
    pub anomaly: AnomalyEngine,
    /// Poll timing across connections (one connection per poll).
    pub polls: otsensor_baselines::polls::ConnectionPolls,
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
    /// Observations not raised because a decision muted their alert.
    pub muted: u64,
    /// Kafka delivery counters, per Kafka sink (at finish).
    pub kafka: Vec<crate::output::kafka::KafkaReport>,
    /// Sensor id, stamped on asset records.
    pub sensor: String,
    /// When asset records were last published (they are again every 5 minutes while
    /// running, and at the end).
    assets_published: std::time::Instant,
    scratch: Vec<Signal>,
    /// What a [`Repeat`] of a non-policy alert needs: its key while learning, or that the
    /// baseline knows it while detecting.
    pub(crate) repeats: otsensor_baselines::lru::Lru<u64, RepeatOf>,
    /// Health signals and reloads from other threads (live capture).
    control: Option<crossbeam_channel::Receiver<Control>>,
    /// Packet-to-alert latency, observed at an alert's first write (live capture).
    latency: Option<prometheus_client::metrics::histogram::Histogram>,
    /// Writes the packets behind alerts, with `[evidence]` on.
    evidence: Option<crate::output::evidence::EvidenceWriter>,
    /// With evidence on: where to ask each worker for a capture of one of its flows.
    pub capture_requests: Vec<crossbeam_channel::Sender<crate::events::CaptureRequest>>,
    /// The SOC's decisions on alerts (Kafka `decisions_topic`), and what became of them.
    pub decisions: crate::output::decisions::Decisions,
    /// While capturing: stopped polls are judged every [`POLL_CHECK_EVERY_SECS`] of capture
    /// time (a replay judges them once, at its end), next at this time.
    poll_checks: bool,
    next_poll_check: Option<Timestamp>,
    /// The console, when one is configured: the alerts and assets are published to it.
    console: Option<Arc<crate::console::ConsoleState>>,
    console_published: Option<std::time::Instant>,
    console_written: u64,
    input_done: bool,
}

/// An asset record and its key (the asset's IP or MAC address).
type Keyed<T> = (String, T);

/// Shortest time between two publications to the console.
const CONSOLE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest: the asset counters move even when no alert does.
const CONSOLE_AT_LEAST: std::time::Duration = std::time::Duration::from_secs(10);

/// What an [`AlertOutput`] is made of: built once by the session.
pub struct AlertSettings {
    /// Aggregation.
    pub store: AlertStore,
    /// Cross-flow anomaly rules.
    pub anomaly: AnomalyEngine,
    /// Mode, baseline and rule switches.
    pub shared: Arc<Shared>,
    /// Destinations.
    pub sinks: Vec<Sink>,
    /// Sensor id, stamped on asset records.
    pub sensor: String,
    /// The SOC's decisions (Kafka decisions topics, the console).
    pub decisions: crate::output::decisions::Decisions,
    /// While capturing live.
    pub capturing: Option<Capturing>,
    /// Writes the packets behind alerts, with `[evidence]` on.
    pub evidence: Option<crate::output::evidence::EvidenceWriter>,
    /// The console, when one is configured.
    pub console: Option<Arc<crate::console::ConsoleState>>,
}

impl AlertSettings {
    /// An output to `sinks` and nothing else (a replay without decisions, evidence or
    /// console).
    pub fn new(
        store: AlertStore,
        anomaly: AnomalyEngine,
        shared: Arc<Shared>,
        sinks: Vec<Sink>,
    ) -> AlertSettings {
        AlertSettings {
            store,
            anomaly,
            shared,
            sinks,
            sensor: String::new(),
            decisions: Default::default(),
            capturing: None,
            evidence: None,
            console: None,
        }
    }
}

/// What a live capture adds: health signals and reloads from other threads, and the
/// packet-to-alert latency histogram.
pub struct Capturing {
    /// Health signals and reloads.
    pub control: crossbeam_channel::Receiver<Control>,
    /// Observed at an alert's first write.
    pub latency: prometheus_client::metrics::histogram::Histogram,
}

/// Capture time between two judgements of stopped polls while capturing.
pub const POLL_CHECK_EVERY_SECS: i64 = 5;

pub(crate) enum RepeatOf {
    Learning(String),
    Known,
}

/// Wall-clock time between asset publications while running.
const ASSETS_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

impl AlertOutput {
    /// An output made of its settings.
    pub fn new(s: AlertSettings) -> AlertOutput {
        let (control, latency) = match s.capturing {
            Some(c) => (Some(c.control), Some(c.latency)),
            None => (None, None),
        };
        AlertOutput {
            store: s.store,
            anomaly: s.anomaly,
            polls: Default::default(),
            shared: s.shared,
            sinks: s.sinks,
            written: 0,
            error: None,
            learned: 0,
            known: 0,
            muted: 0,
            kafka: Vec::new(),
            sensor: s.sensor,
            assets_published: std::time::Instant::now(),
            scratch: Vec::new(),
            repeats: otsensor_baselines::lru::Lru::new(
                otsensor_baselines::alert::DEFAULT_MAX_ALERTS,
            ),
            // While capturing, stopped polls are judged as the capture goes.
            poll_checks: control.is_some(),
            control,
            latency,
            evidence: s.evidence,
            capture_requests: Vec::new(),
            decisions: s.decisions,
            next_poll_check: None,
            console: s.console,
            console_published: None,
            console_written: 0,
            input_done: false,
        }
    }

    /// The input's clock after a round (capture time). While capturing, it judges stopped
    /// polls periodically: a PLC whose HMI stopped polling it is reported within seconds,
    /// not when the sensor stops.
    pub fn clock(&mut self, now: Timestamp) {
        if !self.poll_checks || self.next_poll_check.is_some_and(|t| now < t) {
            return;
        }
        self.next_poll_check = Some(Timestamp::from_nanos(
            now.as_nanos()
                .saturating_add(POLL_CHECK_EVERY_SECS * 1_000_000_000),
        ));
        self.judge_polls(now, false);
    }

    /// The one judge of stopped polls: periodically while capturing ([`AlertOutput::clock`],
    /// allowing for the connections' publication delay), and once when the input has ended
    /// ([`AlertOutput::input_ended`]).
    fn judge_polls(&mut self, now: Timestamp, ended: bool) {
        let stopped = if ended {
            self.shared.stopped_polls(now)
        } else {
            self.shared.stopped_polls_while_capturing(now)
        };
        for o in stopped {
            self.observe(o);
        }
    }

    /// The input has ended at capture time `now`: polls that stopped are judged (a replay
    /// judges them only then).
    pub fn input_ended(&mut self, now: Timestamp) {
        self.judge_polls(now, true);
    }

    /// Asks worker `worker` for an evidence capture of flow `flow_id` for a new alert.
    fn request_capture(&mut self, worker: usize, flow_id: u64, alert_id: u64, rule: &'static str) {
        if let Some(tx) = self.capture_requests.get(worker) {
            let _ = tx.send(crate::events::CaptureRequest {
                flow_id,
                alert_id,
                rule,
            });
        }
    }

    /// The packets behind an alert first raised on a flow: written once per alert (the first
    /// capture to arrive, in input order), its file name and hash then carried by the alert's
    /// next record. Captures of alerts not raised (learned, known, switched off) are dropped.
    pub fn evidence(&mut self, c: crate::events::EvidenceCapture) {
        let Some(w) = self.evidence.as_mut() else {
            return;
        };
        let name = match self.store.get(c.alert_id) {
            Some(a) if a.evidence.pcap.is_none() && !c.packets.is_empty() => a.id.clone(),
            _ => {
                w.report.captures_unused += 1;
                return;
            }
        };
        match w.write(&name, &c) {
            Ok((file, sha)) => {
                self.store.set_evidence_file(c.alert_id, file, sha);
            }
            Err(e) => {
                if w.report.write_failures == 0 {
                    tracing::error!(
                        "Cannot write evidence file {name}.pcap: {e} (counted in alerts.evidence.write_failures)."
                    );
                }
                w.report.write_failures += 1;
            }
        }
    }

    /// The alert counters so far.
    pub fn report(&self) -> AlertsReport {
        let mut by_rule = std::collections::BTreeMap::new();
        for ((rule, _), n) in self.store.by_severity() {
            *by_rule.entry(*rule).or_default() += n;
        }
        let kafka = if self.kafka.is_empty() {
            self.sinks.iter().filter_map(Sink::kafka_report).collect()
        } else {
            self.kafka.clone()
        };
        AlertsReport {
            distinct: self.store.raised,
            alerts_evicted: self.store.evicted,
            records_written: self.written,
            observations: self.store.observations,
            by_rule,
            learned: self.learned,
            known: self.known,
            anomaly_evicted: self.anomaly.evicted,
            io_connections: self.anomaly.io_pairing,
            kafka,
            error: self.error.clone(),
            evidence: self.evidence.as_ref().map(|w| w.report.clone()),
            muted: self.muted,
            decisions: self.decisions.report(),
        }
    }

    /// What the output thread publishes for metrics and health.
    pub fn snapshot(&mut self, events: &OutputReport) -> OutputSnapshot {
        OutputSnapshot {
            events: events.clone(),
            alerts: self.report(),
            by_severity: self.store.by_severity().clone(),
            sinks: self.sinks.iter_mut().map(Sink::status).collect(),
        }
    }

    /// A health condition raised (again), still there, or cleared: the alert of (rule,
    /// subject) is written at once when it changes state, and like any other alert (first
    /// sight, then every update interval) while it lasts.
    fn health(&mut self, h: HealthSignal) {
        let policy = self.shared.policy();
        if !policy.enabled(h.rule) {
            return;
        }
        let id = alert_hash(h.rule.id, &[&h.subject]);
        let comparison = Comparison {
            observed: h.observed,
            expected: h.expected,
        };
        let status = if h.active { "active" } else { "cleared" };
        let out = match self.store.get(id).map(|a| a.status) {
            None if !h.active => None,
            None => {
                let o = Observation {
                    rule: h.rule,
                    key: h.subject,
                    ts: h.ts,
                    src: None,
                    dst: None,
                    protocol: None,
                    transport: None,
                    operation: None,
                    function: None,
                    details: h.details,
                    comparison,
                    severity: policy.severity_override(h.rule),
                    community_id: None,
                };
                self.store.observe(o).map(|mut a| {
                    self.store.set_status(id, Some(status));
                    a.status = Some(status);
                    a
                })
            }
            Some(Some(s)) if s == status && h.active => self.store.repeat(id, h.ts),
            Some(Some(s)) if s == status => None,
            Some(_) => self
                .store
                .update(id, h.ts, h.details, comparison, Some(status)),
        };
        if let Some(a) = out {
            self.write(&a);
        }
    }

    /// Handles one signal from a worker.
    pub fn signal(&mut self, s: Signal) {
        self.signal_from(0, s);
    }

    /// Handles one signal from worker `worker` (which owns the flow of a fact: asked for an
    /// evidence capture when the fact raises an alert).
    pub fn signal_from(&mut self, worker: usize, s: Signal) {
        match s {
            Signal::Obs(o) => self.observe(*o),
            Signal::Repeat(r) => self.repeat(r),
            Signal::Fact(f)
                if matches!(
                    f.kind,
                    otsensor_baselines::alert::FactKind::SingleRequest { .. }
                ) =>
            {
                if let Some(o) = self.polls.observe(&self.shared, &f) {
                    self.observe(o);
                }
            }
            Signal::Fact(f) => {
                let mut found = std::mem::take(&mut self.scratch);
                let (store, repeats) = (&self.store, &self.repeats);
                // Known alerts (raised, or learned) need no details: only the first is kept.
                let learner = &self.shared.learner;
                let known = |id: u64| {
                    store.contains(id)
                        || repeats.get(&id).is_some()
                        || learner.decisions().is_muted(id)
                };
                let shed = self.anomaly.evicted;
                self.anomaly.observe(&f, &mut found, &known);
                if shed == 0 && self.anomaly.evicted > 0 {
                    tracing::warn!(
                        "The anomaly engine's tables are full: the least recently active keys are evicted (counted in alerts.anomaly_evicted)."
                    );
                }
                if !found.is_empty() {
                    let policy = self.shared.policy();
                    for s in found.drain(..) {
                        match s {
                            Signal::Obs(mut o) if policy.enabled(o.rule) => {
                                o.severity = policy.severity_override(o.rule);
                                let id = alert_hash(o.rule.id, &[&o.key]);
                                let rule = o.rule.id;
                                let new = !self.store.contains(id);
                                self.observe(*o);
                                if new && self.store.contains(id) {
                                    self.request_capture(worker, f.flow_id, id, rule);
                                }
                            }
                            Signal::Repeat(r) if policy.enabled(r.rule) => self.repeat(r),
                            _ => {}
                        }
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
        let id = alert_hash(o.rule.id, &[&o.key]);
        if self.shared.learner.decisions().is_muted(id) {
            // A decision muted it (learn mode included: muted means never raised).
            self.muted += 1;
            return;
        }
        if o.rule.engine.learnable() {
            let learner = &self.shared.learner;
            match self.shared.mode {
                Mode::Learn => {
                    learner.learn_alert(o.rule.id, &o.key, o.ts);
                    self.learned += 1;
                    let ts = o.ts.as_nanos();
                    self.repeats
                        .entry(id, ts, || RepeatOf::Learning(o.key.clone()));
                }
                Mode::Detect if learner.knows_alert(o.rule.id, &o.key) => {
                    self.known += 1;
                    self.repeats.insert(id, RepeatOf::Known, o.ts.as_nanos());
                    return;
                }
                _ => {}
            }
        }
        if let Some(a) = self.store.observe(o) {
            self.write(&a);
        }
        for a in self.store.take_evicted() {
            self.write(&a);
        }
    }

    /// One more sighting of an alert whose full observation came earlier from the same flow.
    fn repeat(&mut self, r: Repeat) {
        if self.shared.learner.decisions().is_muted(r.id) {
            self.muted += 1;
            return;
        }
        if r.rule.engine.learnable() {
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

    /// Applies one decision of the SOC (Kafka decisions topic, console): to the running
    /// baseline ([`crate::output::decisions::Decisions::apply`]), then acknowledged on the alert
    /// stream as the alert's next record, with its new status.
    pub fn decide(&mut self, d: crate::output::kafka::decisions::DecisionMsg) {
        use otsensor_baselines::triage::Action;
        let Some((id, action)) = self.decisions.apply(&d, &self.store, &self.shared.learner) else {
            return;
        };
        let status = match action {
            Action::Learn => {
                // Repeats from flows that raised it already are known from now on.
                self.repeats.insert(id, RepeatOf::Known, i64::MAX);
                "learned"
            }
            Action::Mute => "muted",
            Action::Unmute => "active",
        };
        self.store.set_status(id, Some(status));
        if let Some(a) = self.store.get(id).cloned() {
            self.write(&a);
        }
    }

    /// Writes one alert record to every sink.
    pub fn write(&mut self, a: &Alert) {
        self.written += 1;
        if let (Some(h), 1) = (&self.latency, a.count) {
            let secs = Timestamp::now().nanos_since(a.first_seen) as f64 / 1e9;
            h.observe(secs.max(0.0));
        }
        for s in &mut self.sinks {
            if let Err(e) = s.write(a) {
                self.error.get_or_insert_with(|| format!("{}: {e}", s.name));
            }
        }
    }

    /// Periodic work of the sinks, health signals and reloads (called once per round by the
    /// output thread).
    pub fn tick(&mut self) {
        let control: Vec<Control> = match &self.control {
            Some(rx) => rx.try_iter().collect(),
            None => Vec::new(),
        };
        for c in control {
            match c {
                Control::Health(h) => self.health(h),
                Control::Anomaly(cfg) => self.anomaly.set_config(cfg),
            }
        }
        for d in self.decisions.pending() {
            self.decide(d);
        }
        for s in &mut self.sinks {
            s.tick();
        }
        if self.assets_published.elapsed() >= ASSETS_EVERY {
            self.publish_assets();
        }
        if self.console.is_some() {
            self.publish_console(false);
        }
    }

    /// Publishes the alerts and assets to the console: at most every [`CONSOLE_EVERY`] when
    /// an alert record was written since, else every [`CONSOLE_AT_LEAST`]; at once with
    /// `now`.
    pub fn publish_console(&mut self, now: bool) {
        let Some(console) = self.console.clone() else {
            return;
        };
        let due = self.console_published.is_none_or(|t| {
            let e = t.elapsed();
            e >= CONSOLE_AT_LEAST || (e >= CONSOLE_EVERY && self.written != self.console_written)
        });
        if !now && !due {
            return;
        }
        self.console_published = Some(std::time::Instant::now());
        self.console_written = self.written;
        let mut alerts: Vec<Alert> = self.store.all().into_iter().cloned().collect();
        alerts.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        let (ip, mac) = self.asset_records(
            |r| serde_json::to_value(r).ok(),
            |r| serde_json::to_value(r).ok(),
        );
        let values = |v: Vec<Keyed<serde_json::Value>>| v.into_iter().map(|(_, v)| v).collect();
        console.publish(crate::console::state::Snapshot {
            alerts,
            assets: values(ip),
            l2: values(mac),
            report: self.report(),
            done: self.input_done,
        });
    }

    /// After the input ended (a replay with a console): keeps applying the console's
    /// decisions and publishing, until `stop` is raised.
    pub fn linger(&mut self, stop: &std::sync::atomic::AtomicBool) {
        for a in self.store.flush() {
            self.write(&a);
        }
        self.input_done = true;
        self.publish_console(true);
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let written = self.written;
            self.tick();
            if self.written != written {
                self.publish_console(true);
            }
        }
    }

    /// Publishes one flow record line to the sinks that take flow records.
    pub fn publish_flow(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        // The key: the record's Community ID (all records of a flow, and every log that
        // joins on it, on one partition).
        let key = text
            .split_once("\"community_id\":\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map_or("", |(k, _)| k);
        for s in self.sinks.iter_mut().filter(|s| s.wants_flows()) {
            s.publish_flow(key, text);
        }
    }

    /// Whether a sink publishes flow records.
    pub fn wants_flows(&self) -> bool {
        self.sinks.iter().any(Sink::wants_flows)
    }

    /// Publishes every asset with its risk score to the sinks that take assets.
    pub fn publish_assets(&mut self) {
        self.assets_published = std::time::Instant::now();
        if !self.sinks.iter().any(Sink::wants_assets) {
            return;
        }
        let (ip, mac) = self.asset_records(
            |r| serde_json::to_string(r).ok(),
            |r| serde_json::to_string(r).ok(),
        );
        for s in self.sinks.iter_mut().filter(|s| s.wants_assets()) {
            for (key, json) in ip.iter().chain(&mac) {
                s.publish_asset(key, json);
            }
        }
    }

    /// Every asset record with its risk score (keyed by IP address), and the devices known
    /// only by MAC address (keyed by it), each made into `T` by `ip` and `mac` (a JSON line
    /// for the sinks, a JSON value for the console); a record they refuse is left out.
    fn asset_records<T>(
        &self,
        ip: fn(&crate::output::risk::AssetRecord<'_>) -> Option<T>,
        mac: fn(&crate::output::risk::L2AssetRecord<'_>) -> Option<T>,
    ) -> (Vec<Keyed<T>>, Vec<Keyed<T>>) {
        let (assets, l2) = self.shared.assets.inventory();
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
            if let Some(r) = ip(&record) {
                records.push((asset.ip.to_string(), r));
            }
        }
        // Devices known only by MAC address, keyed by it.
        let mut l2_records = Vec::new();
        for device in &l2 {
            let record = crate::output::risk::L2AssetRecord {
                device,
                sensor: &self.sensor,
            };
            if let Some(r) = mac(&record) {
                l2_records.push((device.mac.to_string(), r));
            }
        }
        (records, l2_records)
    }

    /// Writes the final state of every alert updated since it was last written, publishes
    /// the assets, and finishes every sink.
    pub fn finish(&mut self) {
        for d in self.decisions.stop() {
            self.decide(d);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use otsensor_baselines::alert::SensorInfo;
    use otsensor_baselines::rules;

    fn output() -> (
        AlertOutput,
        crossbeam_channel::Sender<Control>,
        Arc<std::sync::Mutex<Vec<u8>>>,
    ) {
        #[derive(Clone)]
        struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| std::io::ErrorKind::Other)?
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Sink::writer(
            "test",
            Box::new(Buf(buf.clone())),
            crate::output::format::AlertFormat::Json,
        );
        let (tx, rx) = crossbeam_channel::unbounded();
        let out = AlertOutput::new(AlertSettings {
            capturing: Some(Capturing {
                control: rx,
                latency: prometheus_client::metrics::histogram::Histogram::new([0.1]),
            }),
            ..AlertSettings::new(
                AlertStore::new(SensorInfo::default(), 60),
                AnomalyEngine::new(AnomalyConfig::default()),
                Arc::new(Shared::default()),
                vec![sink],
            )
        });
        (out, tx, buf)
    }

    fn signal(active: bool, secs: i64) -> Control {
        Control::Health(HealthSignal {
            rule: &rules::INPUT_SILENT,
            subject: "eth1".into(),
            active,
            ts: Timestamp::from_nanos(secs * 1_000_000_000),
            details: format!("eth1 at {secs}"),
            observed: serde_json::json!({ "interface": "eth1" }),
            expected: serde_json::Value::Null,
        })
    }

    fn records(buf: &std::sync::Mutex<Vec<u8>>) -> Vec<serde_json::Value> {
        let text = String::from_utf8(buf.lock().map(|b| b.clone()).unwrap_or_default()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn a_health_condition_is_written_when_raised_cleared_and_raised_again() {
        let (mut out, tx, buf) = output();
        for c in [
            signal(false, 0), // nothing to clear yet
            signal(true, 1),
            signal(true, 2), // still there: aggregated
            signal(false, 3),
            signal(false, 4), // already cleared
            signal(true, 5),
        ] {
            tx.send(c).unwrap();
        }
        out.tick();
        let r = records(&buf);
        let got: Vec<(&str, u64, &str)> = r
            .iter()
            .map(|a| {
                (
                    a["status"].as_str().unwrap(),
                    a["count"].as_u64().unwrap(),
                    a["details"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("active", 1, "eth1 at 1"),
                ("cleared", 3, "eth1 at 3"),
                ("active", 4, "eth1 at 5")
            ]
        );
        assert!(r
            .iter()
            .all(|a| a["engine"] == "sensor" && a.get("src").is_none()));
        assert_eq!(r[0]["id"], r[2]["id"]);
    }

    #[test]
    fn a_disabled_health_rule_writes_nothing() {
        let (mut out, tx, buf) = output();
        out.shared.reload(
            otsensor_baselines::zones::ZoneMap::default(),
            otsensor_baselines::detector::DetectorConfig {
                disabled: vec!["sensor.input_silent".into()],
                ..Default::default()
            },
        );
        tx.send(signal(true, 1)).unwrap();
        out.tick();
        assert!(records(&buf).is_empty());
    }
}
