//! The Kafka sink: alerts (and asset records) to a Kafka topic or an Azure event hub, with a
//! disk spool so that nothing is lost while the brokers are unreachable.
//!
//! Delivery is at least once. Each alert record is keyed by its alert id (updates of one
//! alert stay in order on one partition) and carries headers `format`, `kind`, `sensor` and
//! `schema`. The producer is idempotent with acks=all. A record whose delivery fails, or that
//! arrives while earlier records wait in the spool, is appended to the spool; the spool is
//! replayed oldest first once the brokers answer again, and a segment is deleted only when
//! every record in it was acknowledged. Records still unacknowledged at exit are spooled, so
//! a record may be delivered twice (with the same key and content), never not at all — unless
//! the spool is full, which is a counted drop logged at error level.

pub mod config;
pub mod decisions;
pub mod settings;
pub mod spool;

#[cfg(test)]
mod mock_tests;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use serde::Serialize;

use crate::output::format::AlertFormat;
use config::KafkaSinkConfig;

use self::spool::{Record, Spool};

/// Version of the alert and asset message schemas (header `schema`).
pub const SCHEMA: &str = "otsensor.v1";

/// Delivery counters of one Kafka sink.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct KafkaReport {
    /// Sink (`brokers/topic`).
    pub sink: String,
    /// Messages handed to the producer (including replays from the spool).
    pub produced: u64,
    /// Messages the brokers acknowledged.
    pub acknowledged: u64,
    /// Deliveries that failed (the message went to the spool).
    pub failed: u64,
    /// Messages written to the spool.
    pub spooled: u64,
    /// Messages produced again from the spool.
    pub replayed: u64,
    /// Messages lost because the spool was full.
    pub dropped: u64,
    /// Messages left in the spool at exit (delivered by a later run).
    pub spool_left_bytes: u64,
    /// Producers replaced (a fatal error, or brokers that no longer knew the producer).
    pub producer_restarts: u64,
}

/// Where a produced message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Live,
    Spool(u64),
}

struct Pending {
    record: Record,
    origin: Origin,
}

/// A failed delivery: the error, and whether it is about the producer's own state on the
/// broker (its id or sequence numbers, lost when a broker restarts without its state): the
/// producer will not recover by retrying and must be replaced.
struct Failure {
    error: String,
    producer_state: bool,
}

/// Delivery reports, collected by librdkafka's callback during `poll`.
#[derive(Default)]
struct Reports {
    done: Mutex<Vec<(u64, Option<Failure>)>>,
    /// librdkafka said (in its log or error callback) that a broker refused this producer's
    /// state: it retries such requests internally until the message times out, so a delivery
    /// report alone would say so only much later.
    stale: std::sync::atomic::AtomicBool,
}

/// librdkafka's words for a broker that does not know the producer (its log lines name the
/// error code or its description).
fn says_producer_state(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "unknown_producer_id",
        "unknown producer id",
        "unknownproducerid",
        "out_of_order_sequence",
        "out of order sequence",
        "invalid_producer_epoch",
        "producer_fenced",
        "invalid_producer_id_mapping",
    ]
    .iter()
    .any(|p| t.contains(p))
}

/// Errors that say the broker no longer knows the producer (a restarted broker that lost its
/// state): an idempotent producer retries them forever, or until the message times out.
fn is_producer_state(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::UnknownProducerId
                | C::OutOfOrderSequenceNumber
                | C::InvalidProducerEpoch
                | C::InvalidProducerIdMapping
                | C::ProducerFenced
        )
    )
}

impl ClientContext for Reports {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        if says_producer_state(message) {
            self.stale.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        tracing::debug!(target: "librdkafka", "{level:?} {fac} {message}");
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if is_producer_state(&error) || says_producer_state(reason) {
            self.stale.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        tracing::debug!(target: "librdkafka", "error {error}: {reason}");
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, seq: Box<u64>) {
        let err = result.as_ref().err().map(|(e, _)| Failure {
            error: e.to_string(),
            producer_state: is_producer_state(e),
        });
        if let Ok(mut d) = self.done.lock() {
            d.push((*seq, err));
        }
    }
}

/// A Kafka sink.
pub struct KafkaSink {
    name: String,
    topic: String,
    assets_topic: Option<String>,
    flows_topic: Option<String>,
    format: AlertFormat,
    sensor: String,
    producer: BaseProducer<Reports>,
    /// Kept to rebuild the producer after a fatal error.
    client_config: ClientConfig,
    spool: Spool,
    spool_dir: PathBuf,
    pending: HashMap<u64, Pending>,
    next_seq: u64,
    /// Records go to the spool (brokers failing, or older records still spooled).
    spooling: bool,
    /// The spool segment being replayed: (segment, records not yet acknowledged, failed).
    replaying: Option<(u64, usize, bool)>,
    last_probe: Option<Instant>,
    /// A probe failed since the last one that answered.
    brokers_were_down: bool,
    /// Time between probes while the brokers fail: 1 s, doubling up to [`MAX_PROBE_EVERY`]
    /// (a probe is one metadata request: cheap, and the spool goes out soon after the
    /// brokers are back).
    probe_every: Duration,
    flush_timeout: Duration,
    report: KafkaReport,
    logged_drop: bool,
    /// Since when records have been going to the spool instead of the brokers.
    degraded_since: Option<Instant>,
    last_error: Option<String>,
}

impl KafkaSink {
    /// Connects (lazily: librdkafka connects in the background) and checks the brokers.
    pub fn new(
        s: &KafkaSinkConfig,
        format: AlertFormat,
        sensor: &str,
    ) -> anyhow::Result<KafkaSink> {
        let options = settings::client_options(s, sensor, &settings::SystemSecrets)
            .map_err(|e| anyhow::anyhow!("kafka sink: {e}"))?;
        let mut cfg = ClientConfig::new();
        for (k, v) in &options {
            cfg.set(k, v);
        }
        let producer: BaseProducer<Reports> = cfg
            .create_with_context(Reports::default())
            .map_err(|e| anyhow::anyhow!("kafka sink: {e}"))?;
        let client_config = cfg.clone();
        let topic = s.topic.clone();
        let brokers = options
            .get("bootstrap.servers")
            .cloned()
            .unwrap_or_default();
        let name = format!("kafka {brokers}/{topic}");
        let spool_dir = s.spool_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("otsensor-spool-{}", sanitize(&topic)))
        });
        let spool = Spool::open(&spool_dir, s.spool_max_bytes)
            .map_err(|e| anyhow::anyhow!("kafka spool {}: {e}", spool_dir.display()))?;
        let mut sink = KafkaSink {
            name: name.clone(),
            topic,
            assets_topic: s.assets_topic.clone(),
            flows_topic: s.flows_topic.clone(),
            format,
            sensor: sensor.to_string(),
            producer,
            client_config,
            spooling: !spool.is_empty(),
            spool,
            spool_dir,
            pending: HashMap::new(),
            next_seq: 0,
            replaying: None,
            last_probe: None,
            brokers_were_down: false,
            probe_every: Duration::from_secs(1),
            flush_timeout: Duration::from_secs(s.flush_timeout_secs),
            report: KafkaReport {
                sink: name,
                ..KafkaReport::default()
            },
            logged_drop: false,
            degraded_since: None,
            last_error: None,
        };
        if sink.spooling {
            tracing::warn!(
                "{}: {} bytes of alerts from an earlier run wait in the spool {}; they go first once the brokers answer.",
                sink.name,
                sink.spool.bytes(),
                sink.spool_dir.display()
            );
        }
        // Startup health check: say so when the brokers cannot be reached; keep going.
        if let Err(e) = sink.probe(Duration::from_secs(5)) {
            match e {
                ProbeError::TopicMissing(t) => tracing::warn!(
                    "{}: the brokers answer but topic {t} does not exist (create it, or let the brokers create topics); alerts are spooled to {} until it does.",
                    sink.name,
                    sink.spool_dir.display()
                ),
                ProbeError::Unreachable(e) => tracing::warn!(
                    "{}: brokers unreachable ({e}); alerts are spooled to {} until they answer.",
                    sink.name,
                    sink.spool_dir.display()
                ),
            }
            sink.spooling = true;
        }
        Ok(sink)
    }

    /// Name for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The message format.
    pub fn format(&self) -> AlertFormat {
        self.format
    }

    /// Whether asset records are published, and where.
    pub fn assets_topic(&self) -> Option<&str> {
        self.assets_topic.as_deref()
    }

    fn probe(&mut self, timeout: Duration) -> Result<(), ProbeError> {
        self.last_probe = Some(Instant::now());
        let r = self.fetch_topic(timeout);
        if let Err(e) = &r {
            self.last_error = Some(e.to_string());
        }
        r
    }

    fn fetch_topic(&self, timeout: Duration) -> Result<(), ProbeError> {
        let md = self
            .producer
            .client()
            .fetch_metadata(Some(&self.topic), timeout)
            .map_err(|e| ProbeError::Unreachable(e.to_string()))?;
        let missing = || ProbeError::TopicMissing(self.topic.clone());
        match md.topics().iter().find(|t| t.name() == self.topic) {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(()),
            Some(t) => match t.error() {
                Some(rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                | None => Err(missing()),
                Some(e) => Err(ProbeError::Unreachable(format!(
                    "topic {}: {}",
                    self.topic,
                    rdkafka::types::RDKafkaErrorCode::from(e)
                ))),
            },
            None => Err(missing()),
        }
    }

    /// Sends one alert record (already rendered).
    pub fn send_alert(&mut self, key: &str, value: &str) {
        let r = Record {
            topic: self.topic.clone(),
            key: key.to_string(),
            format: format_name(self.format).to_string(),
            kind: "alert".into(),
            value: value.to_string(),
        };
        self.submit(r);
    }

    /// Whether flow records are published, and where.
    pub fn flows_topic(&self) -> Option<&str> {
        self.flows_topic.as_deref()
    }

    /// Sends one flow record (JSON) to the flows topic, keyed by Community ID.
    pub fn send_flow(&mut self, key: &str, value: &str) {
        if let Some(topic) = self.flows_topic.clone() {
            self.send_json(topic, "flow", key, value);
        }
    }

    /// Sends one asset record (JSON) to the assets topic, keyed by address.
    pub fn send_asset(&mut self, key: &str, value: &str) {
        if let Some(topic) = self.assets_topic.clone() {
            self.send_json(topic, "asset", key, value);
        }
    }

    fn send_json(&mut self, topic: String, kind: &str, key: &str, value: &str) {
        self.submit(Record {
            topic,
            key: key.to_string(),
            format: "json".into(),
            kind: kind.into(),
            value: value.to_string(),
        });
    }

    fn submit(&mut self, r: Record) {
        self.poll();
        if self.spooling {
            self.spool_record(r);
        } else {
            self.produce(r, Origin::Live);
        }
    }

    fn produce(&mut self, r: Record, origin: Origin) -> bool {
        let seq = self.next_seq;
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "format",
                value: Some(r.format.as_str()),
            })
            .insert(Header {
                key: "kind",
                value: Some(r.kind.as_str()),
            })
            .insert(Header {
                key: "sensor",
                value: Some(self.sensor.as_str()),
            })
            .insert(Header {
                key: "schema",
                value: Some(SCHEMA),
            });
        let sent = self.producer.send(
            BaseRecord::with_opaque_to(&r.topic, Box::new(seq))
                .key(r.key.as_str())
                .payload(r.value.as_str())
                .headers(headers),
        );
        match sent {
            Ok(()) => {
                self.next_seq += 1;
                self.report.produced += 1;
                if matches!(origin, Origin::Spool(_)) {
                    self.report.replayed += 1;
                }
                self.pending.insert(seq, Pending { record: r, origin });
                true
            }
            Err((e, _)) => {
                tracing::warn!("{}: cannot queue a message ({e}); spooling.", self.name);
                if origin == Origin::Live {
                    self.spool_record(r);
                }
                self.spooling = true;
                false
            }
        }
    }

    fn spool_record(&mut self, r: Record) {
        match self.spool.append(&r) {
            Ok(true) => self.report.spooled += 1,
            Ok(false) => {
                self.report.dropped += 1;
                if !self.logged_drop {
                    self.logged_drop = true;
                    tracing::error!(
                        "{}: the spool {} is full ({} bytes); alerts are being dropped (counted in stats).",
                        self.name,
                        self.spool_dir.display(),
                        self.spool.bytes()
                    );
                }
            }
            Err(e) => {
                self.report.dropped += 1;
                tracing::error!(
                    "{}: cannot write the spool: {e}; an alert was dropped.",
                    self.name
                );
            }
        }
    }

    /// An idempotent producer stops for good on a fatal error (e.g. a broker that lost its
    /// producer state): spool what it held and start a new one.
    fn recover_from_fatal(&mut self) {
        let Some((code, reason)) = self.producer.client().fatal_error() else {
            return;
        };
        tracing::error!(
            "{}: fatal producer error {code:?} ({reason}); restarting the producer, unacknowledged alerts are spooled.",
            self.name
        );
        self.restart_producer();
    }

    /// Starts a new producer (fresh metadata, a new producer id), spooling what the old one
    /// still held.
    fn restart_producer(&mut self) {
        let pending: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        self.spooling = true;
        self.replaying = None;
        for p in pending {
            if p.origin == Origin::Live {
                self.spool_record(p.record);
            }
        }
        self.report.producer_restarts += 1;
        match self
            .client_config
            .create_with_context::<Reports, BaseProducer<Reports>>(Reports::default())
        {
            Ok(p) => self.producer = p,
            Err(e) => tracing::error!("{}: cannot restart the producer: {e}.", self.name),
        }
    }

    /// Serves delivery reports.
    fn poll(&mut self) {
        self.producer.poll(Duration::ZERO);
        self.recover_from_fatal();
        let done = self
            .producer
            .context()
            .done
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default();
        let mut stale_producer = self
            .producer
            .context()
            .stale
            .swap(false, std::sync::atomic::Ordering::Relaxed);
        for (seq, err) in done {
            let Some(p) = self.pending.remove(&seq) else {
                continue;
            };
            let err = err.map(|f| {
                stale_producer |= f.producer_state;
                f.error
            });
            match (err, p.origin) {
                (None, origin) => {
                    self.report.acknowledged += 1;
                    if let Origin::Spool(n) = origin {
                        self.replay_answered(n, None);
                    }
                }
                (Some(e), Origin::Live) => {
                    self.report.failed += 1;
                    self.last_error = Some(e.clone());
                    if !self.spooling {
                        tracing::warn!("{}: delivery failed ({e}); spooling.", self.name);
                    }
                    self.spooling = true;
                    self.spool_record(p.record);
                }
                (Some(e), Origin::Spool(n)) => {
                    self.report.failed += 1;
                    self.last_error = Some(e.clone());
                    self.replay_answered(n, Some(e));
                }
            }
        }
        if stale_producer {
            // Retrying cannot help: the broker lost this producer's state. A new producer (new
            // id) gets it at once, and the spool goes out as soon as a probe answers.
            tracing::warn!(
                "{}: the brokers no longer know this producer ({}); restarting it.",
                self.name,
                self.last_error.as_deref().unwrap_or("producer state lost")
            );
            self.restart_producer();
            self.last_probe = None;
            self.probe_every = Duration::from_secs(1);
        }
    }

    /// A delivery report for a record replayed from spool segment `n`. When the attempt's
    /// last report is in, the segment is deleted if every record was acknowledged; otherwise
    /// the whole segment is replayed again later (its acknowledged records arrive twice: at
    /// least once).
    fn replay_answered(&mut self, n: u64, err: Option<String>) {
        let Some((seg, left, failed)) = self.replaying.as_mut() else {
            return;
        };
        if *seg != n {
            return;
        }
        if let Some(e) = err {
            if !*failed {
                tracing::warn!(
                    "{}: replay from the spool failed ({e}); will retry.",
                    self.name
                );
            }
            *failed = true;
        }
        *left = left.saturating_sub(1);
        if *left > 0 {
            return;
        }
        let failed = *failed;
        self.replaying = None;
        if !failed {
            if let Err(e) = self.spool.remove(n) {
                tracing::error!("{}: cannot remove a spool segment: {e}.", self.name);
            }
            return;
        }
        // The brokers answered the probe but the replay failed: a producer whose broker
        // restarted can stay stuck on stale state (its producer id, cached leaders). Start a
        // new one now (cheap) rather than after more failed replays.
        tracing::warn!("{}: restarting the producer.", self.name);
        self.restart_producer();
        self.last_probe = None;
    }

    /// The delivery state for health and metrics: records produced and failed, since when the
    /// sink has been spooling (unable to deliver), the spool's size and the last error.
    pub fn status(&mut self) -> crate::output::SinkStatus {
        if !self.spooling {
            self.degraded_since = None;
        } else if self.degraded_since.is_none() {
            self.degraded_since = Some(Instant::now());
        }
        crate::output::SinkStatus {
            name: self.name.clone(),
            kind: "kafka",
            records: self.report.produced,
            failed: self.report.failed,
            degraded_secs: self.degraded_since.map(|t| t.elapsed().as_secs()),
            spool_bytes: self.spool.bytes(),
            last_error: self.last_error.clone().filter(|_| self.spooling),
        }
    }

    /// The delivery counters so far.
    pub fn report(&self) -> KafkaReport {
        let mut r = self.report.clone();
        r.spool_left_bytes = self.spool.bytes();
        r.dropped = r.dropped.max(self.spool.dropped);
        r
    }

    /// Periodic work: delivery reports, and while spooling, probing the brokers and replaying
    /// the spool oldest first.
    pub fn tick(&mut self) {
        self.poll();
        if !self.spooling || self.replaying.is_some() {
            return;
        }
        if self
            .last_probe
            .is_some_and(|t| t.elapsed() < self.probe_every)
        {
            return;
        }
        // A short probe: this runs on the output thread.
        if self.probe(Duration::from_millis(300)).is_err() {
            self.probe_every = (self.probe_every * 2).min(MAX_PROBE_EVERY);
            self.brokers_were_down = true;
            return;
        }
        self.probe_every = Duration::from_secs(1);
        if std::mem::take(&mut self.brokers_were_down) {
            // Brokers back after an outage may have restarted without this producer's state
            // (its id, sequence numbers): a new producer delivers at once, where the old one
            // could retry until its messages time out.
            tracing::info!(
                "{}: brokers answer again; starting a new producer.",
                self.name
            );
            self.restart_producer();
        }
        self.replay_next();
    }

    fn replay_next(&mut self) {
        match self.spool.oldest() {
            Ok(Some((n, records))) => {
                if records.is_empty() {
                    let _ = self.spool.remove(n);
                    return;
                }
                tracing::info!(
                    "{}: replaying {} spooled messages.",
                    self.name,
                    records.len()
                );
                self.replaying = Some((n, records.len(), false));
                for r in records {
                    if !self.produce(r, Origin::Spool(n)) {
                        // Queue full: the rest stays in the segment for the next attempt.
                        if let Some((_, _, failed)) = self.replaying.as_mut() {
                            *failed = true;
                        }
                        break;
                    }
                }
                let sent = self
                    .pending
                    .values()
                    .filter(|p| p.origin == Origin::Spool(n))
                    .count();
                if let Some((_, left, _)) = self.replaying.as_mut() {
                    *left = sent;
                }
                if sent == 0 {
                    self.replaying = None;
                }
            }
            Ok(None) => {
                self.spooling = false;
                tracing::info!("{}: the spool is empty; delivering directly.", self.name);
            }
            Err(e) => tracing::error!("{}: cannot read the spool: {e}.", self.name),
        }
    }

    /// At exit: deliver what can be delivered within the flush timeout (the spool included),
    /// then spool whatever is still unacknowledged.
    pub fn finish(&mut self) -> KafkaReport {
        let deadline = Instant::now() + self.flush_timeout;
        while Instant::now() < deadline {
            self.producer.poll(Duration::from_millis(100));
            self.poll();
            if self.spooling && self.replaying.is_none() {
                if self.spool.is_empty() {
                    self.spooling = false;
                } else if self.probe(Duration::from_millis(500)).is_ok() {
                    self.replay_next();
                } else if self.pending.is_empty() {
                    break;
                }
            }
            if self.pending.is_empty() && !self.spooling {
                break;
            }
        }
        let left: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        for p in left {
            if p.origin == Origin::Live {
                self.spool_record(p.record);
            }
            // A replayed record stays in its segment, which is kept.
        }
        if let Err(e) = self.spool.flush() {
            tracing::error!("{}: cannot write the spool: {e}.", self.name);
        }
        self.report.spool_left_bytes = self.spool.bytes();
        if self.report.spool_left_bytes > 0 {
            tracing::warn!(
                "{}: {} bytes of alerts left in the spool {} for the next run.",
                self.name,
                self.report.spool_left_bytes,
                self.spool_dir.display()
            );
        }
        self.report.dropped = self.report.dropped.max(self.spool.dropped);
        self.report.clone()
    }
}

/// The longest wait between probes of failing brokers.
const MAX_PROBE_EVERY: Duration = Duration::from_secs(5);

/// Why a probe of the brokers failed.
#[derive(Debug)]
enum ProbeError {
    /// No answer (or an error other than a missing topic).
    Unreachable(String),
    /// The brokers answer; the topic does not exist.
    TopicMissing(String),
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::Unreachable(e) => f.write_str(e),
            ProbeError::TopicMissing(t) => write!(f, "topic {t} does not exist"),
        }
    }
}

fn format_name(f: AlertFormat) -> &'static str {
    match f {
        AlertFormat::Json => "json",
        AlertFormat::Ocsf => "ocsf",
        AlertFormat::Cef => "cef",
        AlertFormat::Leef => "leef",
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
