//! Error paths of the Kafka sink against librdkafka's mock cluster (in-process, no broker):
//! a broker that goes away and comes back, and deliveries the broker refuses. The end-to-end
//! tests in `tests/e2e/kafka.rs` do the same against a real broker.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use super::*;

const TOPIC: &str = "alerts";

fn sink(brokers: &str, spool: &std::path::Path) -> KafkaSink {
    let cfg: KafkaSinkConfig = toml::from_str(&format!(
        r#"brokers = "{brokers}"
topic = "{TOPIC}"
spool_dir = "{}"
flush_timeout_secs = 10
librdkafka = {{ "message.timeout.ms" = "1500", "linger.ms" = "5" }}
"#,
        spool.display()
    ))
    .unwrap();
    KafkaSink::new(&cfg, AlertFormat::Json, "mock").unwrap()
}

/// Ticks the sink until `done` holds (panics after 30 s with the counters).
fn tick_until(s: &mut KafkaSink, what: &str, done: impl Fn(&KafkaSink) -> bool) {
    let start = Instant::now();
    while !done(s) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: {:?}",
            s.report
        );
        s.tick();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every key on the topic (all partitions, from the start).
fn keys_on_topic(brokers: &str) -> BTreeMap<String, usize> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "mock-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(TOPIC, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut keys = BTreeMap::new();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let k = String::from_utf8_lossy(m.key().unwrap_or_default()).to_string();
            *keys.entry(k).or_insert(0) += 1;
            quiet_since = Instant::now();
        }
    }
    keys
}

/// A one-broker mock cluster with the topic (3 partitions), its bootstrap servers, and an
/// empty spool directory named after the test.
fn setup(
    name: &str,
) -> (
    MockCluster<'static, DefaultProducerContext>,
    String,
    PathBuf,
) {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, 3, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let d = std::env::temp_dir().join(format!("otsensor-mock-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    (cluster, brokers, d)
}

#[test]
fn broker_outage_spools_then_replays_everything() {
    let (cluster, brokers, dir) = setup("outage");
    let mut s = sink(&brokers, &dir);
    assert!(!s.spooling, "the broker answers at start");

    for i in 0..10 {
        s.send_alert(&format!("a{i}"), &format!("{{\"n\":{i}}}"));
    }
    tick_until(&mut s, "first ten acknowledged", |s| {
        s.report.acknowledged == 10
    });

    cluster.broker_down(1).unwrap();
    for i in 10..20 {
        s.send_alert(&format!("a{i}"), &format!("{{\"n\":{i}}}"));
    }
    // Deliveries time out (message.timeout.ms) and go to the spool; later alerts follow them.
    tick_until(&mut s, "failed deliveries spooled", |s| {
        s.report.failed >= 10
    });
    assert!(s.spooling);
    for i in 20..25 {
        s.send_alert(&format!("a{i}"), &format!("{{\"n\":{i}}}"));
    }
    assert_eq!(s.report.spooled, 15, "{:?}", s.report);
    assert!(!s.spool.is_empty());

    cluster.broker_up(1).unwrap();
    tick_until(&mut s, "spool replayed", |s| {
        !s.spooling && s.pending.is_empty()
    });
    let r = s.finish();
    assert_eq!(r.dropped, 0);
    assert_eq!(r.spool_left_bytes, 0);
    // A replay attempt that met the broker still down fails and is made again.
    assert!(r.replayed >= 15, "{r:?}");
    assert_eq!(r.produced, 20 + r.replayed, "{r:?}");
    assert_eq!(r.acknowledged, 25, "{r:?}");
    assert!(s.spool.is_empty());

    let keys = keys_on_topic(&brokers);
    let want: Vec<String> = (0..25).map(|i| format!("a{i}")).collect();
    assert_eq!(keys.keys().cloned().collect::<Vec<_>>(), {
        let mut w = want;
        w.sort();
        w
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refused_deliveries_are_spooled_and_retried() {
    let (cluster, brokers, dir) = setup("refused");
    let mut s = sink(&brokers, &dir);
    // The broker refuses the next produce requests with an error librdkafka does not retry.
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 3],
    );
    for i in 0..6 {
        s.send_alert(&format!("r{i}"), "{}");
    }
    tick_until(&mut s, "refusal seen", |s| s.report.failed > 0);
    assert!(s.spooling, "{:?}", s.report);
    tick_until(&mut s, "everything delivered", |s| {
        s.report.acknowledged >= 6 && !s.spooling && s.pending.is_empty()
    });
    let r = s.finish();
    assert_eq!((r.dropped, r.spool_left_bytes), (0, 0), "{r:?}");
    // Failed live deliveries were spooled; failed replays stayed in their segment.
    assert!(r.spooled > 0 && r.failed >= r.spooled, "{r:?}");
    assert_eq!(r.produced, 6 + r.replayed, "{r:?}");
    let keys = keys_on_topic(&brokers);
    assert_eq!(keys.len(), 6, "{keys:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A broker that lost the producer's state (restarted without it) refuses its records with
/// UNKNOWN_PRODUCER_ID, which librdkafka retries internally until the messages time out. The
/// sink replaces the producer on the first sign of it (librdkafka's log or error callback,
/// or a delivery report) and delivers at once, spooling what the old producer held. (The
/// mock cluster cannot refuse one producer id and accept the next: the sign is given here as
/// the callback gives it; `tests/e2e/kafka.rs` restarts a real broker.)
#[test]
fn a_producer_the_broker_forgot_is_replaced_at_once() {
    let (_cluster, brokers, dir) = setup("forgotten");
    let mut s = sink(&brokers, &dir);
    s.send_alert("before", "{}");
    tick_until(&mut s, "first acknowledged", |s| s.report.acknowledged == 1);
    s.send_alert("held", "{}");
    // What librdkafka logs when a broker answers a produce request with the error.
    s.producer.context().log(
        rdkafka::config::RDKafkaLogLevel::Warning,
        "PRODUCE",
        "[thrd:127.0.0.1:9092/1]: 127.0.0.1:9092/1: alerts [0]: ProduceRequest failed: Broker: Unknown Producer Id (UNKNOWN_PRODUCER_ID)",
    );
    s.tick();
    assert_eq!(s.report.producer_restarts, 1, "{:?}", s.report);
    assert!(s.spooling, "what the old producer held is spooled");
    let start = Instant::now();
    tick_until(&mut s, "delivered by the new producer", |s| {
        !s.spooling && s.pending.is_empty()
    });
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let r = s.finish();
    assert_eq!(
        (r.dropped, r.spool_left_bytes, r.producer_restarts),
        (0, 0, 1),
        "{r:?}"
    );
    let keys = keys_on_topic(&brokers);
    assert!(
        keys.contains_key("before") && keys.contains_key("held"),
        "{keys:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn producer_state_errors_are_recognised() {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode as C;
    assert!(is_producer_state(&KafkaError::MessageProduction(
        C::UnknownProducerId
    )));
    assert!(is_producer_state(&KafkaError::MessageProduction(
        C::OutOfOrderSequenceNumber
    )));
    assert!(!is_producer_state(&KafkaError::MessageProduction(
        C::MessageTimedOut
    )));
    assert!(says_producer_state(
        "Broker: Unknown Producer Id (UNKNOWN_PRODUCER_ID)"
    ));
    assert!(!says_producer_state("Connection refused"));
}

#[test]
fn a_spool_left_by_a_run_goes_first_in_the_next() {
    let (cluster, brokers, dir) = setup("next-run");
    // A run whose brokers never answered.
    cluster.broker_down(1).unwrap();
    let mut first = sink(&brokers, &dir);
    assert!(first.spooling);
    for i in 0..4 {
        first.send_alert(&format!("old{i}"), "{}");
    }
    let r = first.finish();
    assert_eq!((r.spooled, r.acknowledged), (4, 0), "{r:?}");
    assert!(r.spool_left_bytes > 0);
    drop(first);

    cluster.broker_up(1).unwrap();
    let mut next = sink(&brokers, &dir);
    assert!(next.spooling, "records of the last run wait");
    next.send_alert("new", "{}");
    tick_until(&mut next, "delivered", |s| {
        !s.spooling && s.pending.is_empty() && s.report.acknowledged == 5
    });
    let r = next.finish();
    assert_eq!((r.replayed, r.spool_left_bytes), (5, 0), "{r:?}");
    assert_eq!(keys_on_topic(&brokers).len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}
