//! The SOC's decisions on alerts, taken in the SIEM and posted to a Kafka topic (the kafka
//! sink's `decisions_topic`): `{"alert_id": "...", "action": "learn" | "mute" | "unmute",
//! "by": "...", "reason": "..."}`. A consumer thread reads them and hands them to the output
//! thread, which applies each to the running baseline (detection sees it at once) and
//! acknowledges it on the alert stream; see [`crate::output::alerts::AlertOutput::decide`].
//! Malformed messages are counted and logged, never applied.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};
use serde::Deserialize;

use otsensor_baselines::triage::Action;

use super::config::KafkaSinkConfig;
use super::settings;

/// Decisions read and not yet applied by the output thread; beyond, the consumer waits (and
/// the topic keeps them).
pub const PENDING_DECISIONS: usize = 1024;

/// One decision as posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionMsg {
    /// The alert's id (16 hex digits, as in its record).
    pub alert_id: String,
    /// Learn, mute or unmute.
    pub action: Action,
    /// Who decided.
    pub by: String,
    /// Why.
    pub reason: String,
}

#[derive(Deserialize)]
struct Wire {
    alert_id: String,
    action: String,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Reads one posted decision.
pub fn parse(payload: &[u8]) -> Result<DecisionMsg, String> {
    let w: Wire = serde_json::from_slice(payload).map_err(|e| format!("not a decision: {e}"))?;
    let id = w.alert_id.trim().to_ascii_lowercase();
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("alert_id {:?} is not 16 hex digits", w.alert_id));
    }
    let action = match w.action.as_str() {
        "learn" => Action::Learn,
        "mute" => Action::Mute,
        "unmute" => Action::Unmute,
        other => return Err(format!("action {other:?}: expected learn, mute or unmute")),
    };
    let by =
        w.by.filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "siem".into());
    Ok(DecisionMsg {
        alert_id: id,
        action,
        by,
        reason: w.reason.unwrap_or_default(),
    })
}

/// What the consumer counted.
#[derive(Debug, Default)]
pub struct Received {
    /// Messages read from the topic.
    pub messages: AtomicU64,
    /// Messages that were not a decision (logged, never applied).
    pub malformed: AtomicU64,
}

/// The consumer thread of one decisions topic.
pub struct DecisionConsumer {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// Its counters.
    pub received: Arc<Received>,
}

impl DecisionConsumer {
    /// Starts reading `topic` on the sink's brokers (with its security settings), as consumer
    /// group `otsensor-<sensor>-decisions`: a decision posted while the sensor was down is
    /// read when it starts, each once.
    pub fn start(
        s: &KafkaSinkConfig,
        topic: &str,
        sensor: &str,
        tx: crossbeam_channel::Sender<DecisionMsg>,
    ) -> anyhow::Result<DecisionConsumer> {
        let options = settings::client_options(s, sensor, &settings::SystemSecrets)
            .map_err(|e| anyhow::anyhow!("kafka decisions: {e}"))?;
        let mut cfg = ClientConfig::new();
        // Only the connection settings of the producer's options apply to a consumer.
        for (k, v) in options.iter().filter(|(k, _)| {
            ["bootstrap.", "security.", "sasl.", "ssl.", "client.id"]
                .iter()
                .any(|p| k.starts_with(p))
        }) {
            cfg.set(k, v);
        }
        cfg.set("group.id", format!("otsensor-{sensor}-decisions"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "true")
            .set("session.timeout.ms", "10000");
        let consumer: BaseConsumer = cfg
            .create()
            .map_err(|e| anyhow::anyhow!("kafka decisions: {e}"))?;
        consumer
            .subscribe(&[topic])
            .map_err(|e| anyhow::anyhow!("kafka decisions {topic}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Received::default());
        let (st, rc, name) = (stop.clone(), received.clone(), topic.to_string());
        let handle = std::thread::Builder::new()
            .name("otsensor-decisions".into())
            .spawn(move || read(&consumer, &name, &st, &rc, &tx))?;
        tracing::info!("Reading the SOC's decisions on alerts from Kafka topic {topic}.");
        Ok(DecisionConsumer {
            stop,
            handle: Some(handle),
            received,
        })
    }

    /// Stops the thread (its offsets are committed as it goes).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for DecisionConsumer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read(
    c: &BaseConsumer,
    topic: &str,
    stop: &AtomicBool,
    received: &Received,
    tx: &crossbeam_channel::Sender<DecisionMsg>,
) {
    let mut logged_error = false;
    while !stop.load(Ordering::Relaxed) {
        match c.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(e)) if !logged_error => {
                tracing::warn!("Kafka decisions {topic}: {e}.");
                logged_error = true;
            }
            Some(Err(_)) => {}
            Some(Ok(m)) => {
                logged_error = false;
                received.messages.fetch_add(1, Ordering::Relaxed);
                match parse(m.payload().unwrap_or_default()) {
                    Ok(d) => {
                        if !hand_over(tx, d, stop) {
                            return;
                        }
                    }
                    Err(e) => {
                        received.malformed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "Kafka decisions {topic}: message at offset {} of partition {} ignored: {e}.",
                            m.offset(),
                            m.partition()
                        );
                    }
                }
            }
        }
    }
}

/// Passes a decision to the output thread, waiting while its queue is full; false when the
/// output thread is gone or the consumer is being stopped (which must not wait on a queue
/// the stopping thread no longer drains).
fn hand_over(
    tx: &crossbeam_channel::Sender<DecisionMsg>,
    d: DecisionMsg,
    stop: &AtomicBool,
) -> bool {
    let mut d = d;
    loop {
        match tx.send_timeout(d, Duration::from_millis(200)) {
            Ok(()) => return true,
            Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => return false,
            Err(crossbeam_channel::SendTimeoutError::Timeout(back)) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                d = back;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_waits_and_a_stop_ends_the_wait() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let stop = AtomicBool::new(false);
        let d = parse(br#"{"alert_id": "00ab00cd00ef0012", "action": "mute"}"#).unwrap();
        assert!(hand_over(&tx, d.clone(), &stop));
        stop.store(true, Ordering::Relaxed);
        assert!(
            !hand_over(&tx, d.clone(), &stop),
            "full and stopping: gives up"
        );
        assert_eq!(rx.try_iter().count(), 1);
        drop(rx);
        assert!(!hand_over(&tx, d, &AtomicBool::new(false)), "no receiver");
    }

    #[test]
    fn decisions_are_read_strictly() {
        let d = parse(br#"{"alert_id": "00AB00cd00ef0012", "action": "mute", "by": "ana", "reason": "test bench"}"#).unwrap();
        assert_eq!(d.alert_id, "00ab00cd00ef0012");
        assert_eq!((d.action, d.by.as_str()), (Action::Mute, "ana"));
        let d =
            parse(br#"{"alert_id": "00ab00cd00ef0012", "action": "learn", "extra": 1}"#).unwrap();
        assert_eq!((d.action, d.by.as_str()), (Action::Learn, "siem"));
        for bad in [
            &br#"{"alert_id": "xyz", "action": "mute"}"#[..],
            br#"{"alert_id": "00ab00cd00ef0012", "action": "delete"}"#,
            br#"{"action": "mute"}"#,
            b"not json",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
