//! Alerts over Kafka, end to end, against a real Kafka-protocol broker (tansu, started here)
//! and read back by real consumers — rdkafka and Python's confluent-kafka — as a SOC would:
//! what the consumers read equals, in count and content, what the sensor wrote to a file sink
//! in the same run. A broker that is down, then back, loses nothing: alerts wait in the spool
//! and are delivered on the next run.
//!
//! Needs the `tansu` binary (`$OTSENSOR_TANSU`, else on PATH or in ~/.cargo/bin) and, for the
//! Python consumer, `target/test-tools/venv` with confluent-kafka; `scripts/test.sh` installs
//! both. Without them the tests say they skipped, unless `OTSENSOR_REQUIRE_TEST_INPUTS=1`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::Message;
use serde_json::Value;

use crate::util::*;

fn tansu() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OTSENSOR_TANSU") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([home.join(".cargo/bin")])
        .map(|d| d.join("tansu"))
        .find(|p| p.is_file())
}

/// A tansu broker on 127.0.0.1:`port` with in-memory storage, killed on drop (unless it is
/// the shared broker `scripts/test.sh` started).
struct Broker {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
}

impl Broker {
    fn start(bin: &Path, port: u16) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let b = Broker {
            child: Some(child),
            port,
            bin: bin.to_path_buf(),
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "tansu did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        b
    }

    fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn create_topic(&self, name: &str) {
        let out = run_with_timeout(
            Command::new(&self.bin).args([
                "topic",
                "create",
                name,
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
                "--partitions",
                "3",
            ]),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "tansu topic create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The shared broker of `scripts/test.sh` (`$OTSENSOR_KAFKA_BROKERS`), else one of our own
/// on a port of this test's (`slot`: tests run in parallel in one process).
fn broker(slot: u16) -> Option<Broker> {
    let Some(bin) = tansu() else {
        skip("tansu not installed (scripts/test.sh installs it)");
        return None;
    };
    if let Some(port) = std::env::var("OTSENSOR_KAFKA_BROKERS")
        .ok()
        .and_then(|b| b.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
    {
        return Some(Broker {
            child: None,
            port,
            bin,
        });
    }
    let port = 20_000 + (std::process::id() % 20_000) as u16 + slot;
    Some(Broker::start(&bin, port))
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Msg {
    key: String,
    value: String,
    headers: BTreeMap<String, String>,
}

/// Reads `count` messages (or what arrives within `timeout`) with rdkafka.
fn consume_rdkafka(brokers: &str, topic: &str, count: usize, timeout: Duration) -> Vec<Msg> {
    let group = format!("otsensor-e2e-{}-{topic}", std::process::id());
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    let start = Instant::now();
    while out.len() < count && start.elapsed() < timeout {
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let mut headers = BTreeMap::new();
                if let Some(h) = m.headers() {
                    for x in h.iter() {
                        headers.insert(
                            x.key.to_string(),
                            String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                        );
                    }
                }
                out.push(Msg {
                    key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                    value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                    headers,
                });
            }
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
    }
    out
}

/// Reads the topic with Python's confluent-kafka.
fn consume_python(brokers: &str, topic: &str, count: usize) -> Option<Vec<Msg>> {
    let py = root().join("target/test-tools/venv/bin/python");
    let ok = py.is_file()
        && Command::new(&py)
            .args(["-c", "import confluent_kafka"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        skip("confluent-kafka not installed in target/test-tools/venv");
        return None;
    }
    let out = run_with_timeout(
        Command::new(py)
            .arg(root().join("tests/tools/consume_kafka.py"))
            .args([brokers, topic, &count.to_string(), "60"]),
        Duration::from_secs(90),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                Msg {
                    key: v["key"].as_str().unwrap_or_default().to_string(),
                    value: v["value"].as_str().unwrap().to_string(),
                    headers: v["headers"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect(),
                }
            })
            .collect(),
    )
}

fn config(dir: &Scratch, brokers: &str, topic: &str, extra: &str) -> PathBuf {
    let cfg = dir.path("kafka.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[sensor]
id = "kafka-e2e"
site = "lab"

[[zones]]
name = "plant"
cidrs = ["10.20.0.0/28"]

[[sinks]]
type = "kafka"
brokers = "{brokers}"
topic = "{topic}"
assets_topic = "{topic}-assets"
format = "json"
spool_dir = {spool:?}
flush_timeout_secs = 20
{extra}

[[sinks]]
type = "file"
path = {file:?}
format = "json"
"#,
            spool = dir.path("spool").display().to_string(),
            file = dir.path("alerts.jsonl").display().to_string(),
        ),
    )
    .unwrap();
    cfg
}

fn run(cfg: &Path, caps: &[PathBuf], stats: &Path) -> Value {
    let mut args: Vec<&OsStr> = vec!["-c".as_ref(), cfg.as_os_str()];
    args.extend(caps.iter().map(|c| c.as_os_str()));
    args.extend(["--stats".as_ref(), stats.as_os_str()]);
    let (code, _, err) = replay(&args);
    assert_eq!(code, 0, "{err}");
    json(stats)
}

fn sorted_values(v: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().collect();
    v.sort();
    v
}

fn recon() -> PathBuf {
    own_pcaps().join("synthetic/recon-and-rogue-master/recon.pcap")
}

/// Replay with a Kafka sink next to a file sink; both consumers read back exactly what the
/// file holds; asset records carry risk scores.
#[test]
fn alerts_and_assets_read_back_by_real_consumers() {
    let Some(broker) = broker(0) else { return };
    let topic = format!("alerts-{}", std::process::id());
    broker.create_topic(&topic);
    broker.create_topic(&format!("{topic}-assets"));
    broker.create_topic(&format!("{topic}-flows"));
    let dir = Scratch::new("kafka");
    let flows = format!("flows_topic = \"{topic}-flows\"");
    let cfg = config(&dir, &broker.brokers(), &topic, &flows);
    let caps = vec![
        recon(),
        own_pcaps().join("modbus/zeek-modbus-and-non-modbus-p502/modbus-and-non-modbus-p502.pcap"),
    ];
    let stats = run(&cfg, &caps, &dir.path("stats.json"));
    let file: Vec<String> = std::fs::read_to_string(dir.path("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(file.len() > 10, "{}", file.len());
    let k = &stats["alerts"]["kafka"][0];
    assert_eq!(k["produced"], k["acknowledged"], "{k}");
    assert_eq!(k["spooled"], 0, "{k}");
    assert_eq!(k["dropped"], 0, "{k}");

    let got = consume_rdkafka(
        &broker.brokers(),
        &topic,
        file.len(),
        Duration::from_secs(60),
    );
    assert_eq!(got.len(), file.len());
    assert_eq!(
        sorted_values(got.iter().map(|m| m.value.clone())),
        sorted_values(file.iter().cloned()),
        "rdkafka read back something else than the file sink holds"
    );
    for m in &got {
        let v: Value = serde_json::from_str(&m.value).unwrap();
        assert_eq!(m.key, v["id"].as_str().unwrap(), "key = alert id");
        assert_eq!(m.headers["format"], "json");
        assert_eq!(m.headers["kind"], "alert");
        assert_eq!(m.headers["sensor"], "kafka-e2e");
        assert_eq!(m.headers["schema"], "otsensor.v1");
    }
    if let Some(py) = consume_python(&broker.brokers(), &topic, file.len()) {
        assert_eq!(
            sorted_values(py.iter().map(|m| m.value.clone())),
            sorted_values(file.iter().cloned()),
            "confluent-kafka read back something else than the file sink holds"
        );
        assert!(py
            .iter()
            .all(|m| m.headers.get("schema").is_some_and(|s| s == "otsensor.v1")));
    }

    // Asset records: one per asset, keyed by address, with a risk score.
    let assets = consume_rdkafka(
        &broker.brokers(),
        &format!("{topic}-assets"),
        1000,
        Duration::from_secs(15),
    );
    let by_ip: BTreeMap<String, Value> = assets
        .iter()
        .map(|m| (m.key.clone(), serde_json::from_str(&m.value).unwrap()))
        .collect();
    let attacker = &by_ip["10.20.0.66"]["risk"];
    let plc = &by_ip["10.20.0.10"]["risk"];
    assert!(attacker["score"].as_u64().unwrap() >= 28, "{attacker}");
    // The PLC: targeted by alerts, and reached from outside its zone (the attacker is
    // unzoned).
    assert!(plc["score"].as_u64().unwrap() > 0, "{plc}");
    assert_eq!(plc["exposed_to_zones"], serde_json::json!(["unzoned"]));
    assert!(assets.iter().all(|m| m.headers["kind"] == "asset"));

    // Flow records: every one the run made, keyed by its Community ID.
    let n = stats["flows"]["records"]
        .as_u64()
        .expect("flow records counted") as usize;
    let flows = consume_rdkafka(
        &broker.brokers(),
        &format!("{topic}-flows"),
        n,
        Duration::from_secs(60),
    );
    assert_eq!(flows.len(), n);
    for m in &flows {
        let v: Value = serde_json::from_str(&m.value).unwrap();
        assert_eq!(v["type"], "flow");
        assert_eq!(m.key, v["community_id"].as_str().unwrap());
        assert_eq!(m.headers["kind"], "flow");
    }
    broker.stop();
}

/// The broker is down for a whole run: every alert goes to the spool, the run still succeeds;
/// the next run, with the broker back, delivers the spool first. Nothing is lost.
#[test]
fn spool_survives_an_outage_and_a_restart() {
    let Some(bin) = tansu() else {
        skip("tansu not installed (scripts/test.sh installs it)");
        return;
    };
    let port = 20_000 + (std::process::id() % 20_000) as u16 + 7;
    let topic = format!("outage-{}", std::process::id());
    let dir = Scratch::new("kafka-outage");
    let brokers = format!("127.0.0.1:{port}");
    let cfg = config(
        &dir,
        &brokers,
        &topic,
        "[sinks.librdkafka]\n\"message.timeout.ms\" = \"3000\"\n",
    );
    // Run 1: no broker.
    let stats = run(&cfg, &[recon()], &dir.path("s1.json"));
    let k = &stats["alerts"]["kafka"][0];
    let file1 = std::fs::read_to_string(dir.path("alerts.jsonl")).unwrap();
    let n1 = file1.lines().count() as u64;
    assert!(n1 > 5);
    assert_eq!(k["acknowledged"], 0, "{k}");
    assert_eq!(k["dropped"], 0, "{k}");
    // The assets went to the spool too.
    assert!(k["spooled"].as_u64().unwrap() > n1, "{k}");
    assert!(k["spool_left_bytes"].as_u64().unwrap() > 0, "{k}");
    let spooled: usize = std::fs::read_dir(dir.path("spool"))
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(spooled as u64, k["spooled"].as_u64().unwrap());

    // Run 2: the broker is back; a capture without alerts.
    let broker = Broker::start(&bin, port);
    broker.create_topic(&topic);
    broker.create_topic(&format!("{topic}-assets"));
    std::fs::remove_file(dir.path("alerts.jsonl")).unwrap();
    let quiet = own_pcaps().join("dnp3/opendnp3-conformance-8.4.3.2.1/dump.pcap");
    let stats = run(&cfg, &[quiet], &dir.path("s2.json"));
    let k = &stats["alerts"]["kafka"][0];
    assert_eq!(k["spool_left_bytes"], 0, "{k}");
    assert!(k["replayed"].as_u64().unwrap() >= spooled as u64, "{k}");
    let got = consume_rdkafka(&brokers, &topic, n1 as usize, Duration::from_secs(60));
    let mut want: Vec<String> = file1.lines().map(str::to_string).collect();
    want.sort();
    let mut values: Vec<String> = got.iter().map(|m| m.value.clone()).collect();
    values.sort();
    values.dedup();
    assert_eq!(values, want, "every alert of the outage run arrived");
    broker.stop();
}

/// `otsensor replay --realtime -c CFG [EXTRA] recon.pcap --stats STATS`, its stderr kept.
fn realtime_recon(cfg: &Path, extra: &[&OsStr], stats: &Path) -> std::process::Child {
    Command::new(bin())
        .args(["replay", "--realtime", "-c"])
        .arg(cfg)
        .args(extra)
        .arg(recon())
        .arg("--stats")
        .arg(stats)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// What an ended child wrote to its (piped) stderr.
fn stderr_of(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    err
}

/// Reads `topic` continuously (across a broker restart) until `stop`, sending every value.
fn consume_forever(
    brokers: String,
    topic: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tx: std::sync::mpsc::Sender<String>,
) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set(
            "group.id",
            format!("otsensor-e2e-live-{}", std::process::id()),
        )
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    c.subscribe(&[&topic]).expect("subscribe");
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(300)) {
            let _ = tx.send(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
}

/// The broker is stopped in the middle of a (real-time) run and started again: alerts raised
/// during the outage wait in the spool and arrive once it is back; every alert of the run is
/// read back (at least once).
#[test]
fn broker_stopped_mid_run_loses_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    let Some(tansu_bin) = tansu() else {
        skip("tansu not installed (scripts/test.sh installs it)");
        return;
    };
    let port = 20_000 + (std::process::id() % 20_000) as u16 + 13;
    let brokers = format!("127.0.0.1:{port}");
    let topic = format!("midrun-{}", std::process::id());
    let mut broker = Broker::start(&tansu_bin, port);
    broker.create_topic(&topic);
    broker.create_topic(&format!("{topic}-assets"));
    let dir = Scratch::new("kafka-midrun");
    let cfg = config(
        &dir,
        &brokers,
        &topic,
        "[sinks.librdkafka]\n\"message.timeout.ms\" = \"4000\"\n",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let consumer = {
        let (b, t, s) = (brokers.clone(), topic.clone(), stop.clone());
        std::thread::spawn(move || consume_forever(b, t, s, tx))
    };
    // recon.pcap spans 91 s: the host scan at 10 s, the port scan at 20 s, the unit scan at
    // 30 s, the rogue write at 40 s, the session burst at 50 s, the SZL reads at 60 s.
    let stats = dir.path("stats.json");
    let mut sensor = realtime_recon(&cfg, &[], &stats);
    std::thread::sleep(Duration::from_secs(15));
    broker.stop();
    std::thread::sleep(Duration::from_secs(20));
    broker = Broker::start(&tansu_bin, port);
    broker.create_topic(&topic);
    broker.create_topic(&format!("{topic}-assets"));
    // The alerts raised until the broker came back (during the outage among them) must be
    // delivered while the run goes on: within seconds, not at its end or in the next run.
    let back = Instant::now();
    let raised_before: std::collections::BTreeSet<String> =
        std::fs::read_to_string(dir.path("alerts.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
    let mut got = std::collections::BTreeSet::new();
    let mut caught_up: Option<Duration> = None;
    let status = loop {
        while let Ok(v) = rx.try_recv() {
            got.insert(v);
        }
        if caught_up.is_none() && raised_before.is_subset(&got) {
            caught_up = Some(back.elapsed());
        }
        if let Some(s) = sensor.try_wait().unwrap() {
            break s;
        }
        assert!(
            back.elapsed() < Duration::from_secs(150),
            "the sensor did not finish"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let run_left = back.elapsed();
    let err = stderr_of(&mut sensor);
    assert_eq!(status.code(), Some(0), "{err}");
    let file: std::collections::BTreeSet<String> =
        std::fs::read_to_string(dir.path("alerts.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !file.is_subset(&got) && Instant::now() < deadline {
        if let Ok(v) = rx.recv_timeout(Duration::from_millis(500)) {
            got.insert(v);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = consumer.join();
    let s = json(&stats);
    let k = &s["alerts"]["kafka"][0];
    assert!(
        k["spooled"].as_u64().unwrap() + k["failed"].as_u64().unwrap() > 0,
        "the outage went unnoticed: {k}"
    );
    let missing: Vec<&String> = file.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "{} of {} alerts never arrived: {missing:?}\nstats: {k}",
        missing.len(),
        file.len()
    );
    assert_eq!(k["dropped"], 0, "{k}");
    let caught_up = caught_up.unwrap_or_else(|| {
        panic!(
            "the {} alerts raised before the broker came back were not all delivered during the run ({run_left:?} after it came back)\nstats: {k}\n{err}",
            raised_before.len()
        )
    });
    assert!(
        caught_up < Duration::from_secs(20),
        "delivered {caught_up:?} after the broker came back\nstats: {k}"
    );
    eprintln!(
        "broker restart: {} alerts raised before it delivered {caught_up:?} after it came back; {k}",
        raised_before.len()
    );
    broker.stop();
}

/// A topic that does not exist is named as such, not reported as unreachable brokers; the
/// alerts wait in the spool.
#[test]
fn a_missing_topic_is_named() {
    let Some(b) = broker(17) else { return };
    let dir = Scratch::new("kafka-missing-topic");
    let topic = format!("never-created-{}", std::process::id());
    let cfg = config(&dir, &b.brokers(), &topic, "flush_timeout_secs = 2\n")
        .to_string_lossy()
        .into_owned();
    // `config` sets flush_timeout_secs already: keep the file's own value.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "flush_timeout_secs = 20\nflush_timeout_secs = 2\n",
        "flush_timeout_secs = 2\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let stats = dir.path("stats.json");
    let (code, _, err) = replay(&[
        "-c".as_ref(),
        cfg.as_ref(),
        recon().as_os_str(),
        "--stats".as_ref(),
        stats.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("topic {topic} does not exist")) && !err.contains("unreachable"),
        "{err}"
    );
    let k = &json(&stats)["alerts"]["kafka"][0];
    assert!(k["spool_left_bytes"].as_u64().unwrap() > 0, "{k}");
    assert_eq!(k["acknowledged"], 0, "{k}");
}

/// The SOC decides on live alerts from its SIEM: a confluent-kafka producer posts to the
/// decisions topic a mute for the host scan and a learn for the port scan while the sensor
/// runs (real time); each is acknowledged on the alert stream (`status` muted / learned) and
/// the alert does not grow after it; a malformed message and an unknown id are counted, not
/// applied. Run again on the saved baseline, neither alert is raised.
#[test]
fn decisions_from_the_siem_apply_at_once_and_hold_after_a_restart() {
    let Some(b) = broker(23) else { return };
    let py = root().join("target/test-tools/venv/bin/python");
    if !py.is_file() {
        skip("confluent-kafka not installed in target/test-tools/venv");
        return;
    }
    let dir = Scratch::new("kafka-decisions");
    let topic = format!("decided-{}", std::process::id());
    let decisions = format!("{topic}-decisions");
    for t in [&topic, &format!("{topic}-assets"), &decisions] {
        b.create_topic(t);
    }
    let cfg = config(
        &dir,
        &b.brokers(),
        &topic,
        &format!("decisions_topic = \"{decisions}\"\n"),
    );
    // A baseline to detect against (and to keep the decisions in).
    let baseline = dir.path("baseline.json");
    let (code, _, err) = replay(&[
        "--learn".as_ref(),
        "--baseline".as_ref(),
        baseline.as_os_str(),
        own_pcaps()
            .join("modbus/iti-modbustcp/ModbusTCP.pcap")
            .as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let stats = dir.path("stats.json");
    let mut sensor = realtime_recon(&cfg, &["--baseline".as_ref(), baseline.as_os_str()], &stats);
    // The host scan is raised at 10 s, the port scan at 20 s (of 91).
    let alerts = dir.path("alerts.jsonl");
    let records = || -> Vec<Value> {
        std::fs::read_to_string(&alerts)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let id_of = |rule: &str| {
        records()
            .iter()
            .find(|r| r["rule"] == rule)
            .map(|r| r["id"].as_str().unwrap().to_string())
    };
    let start = Instant::now();
    let (host_scan, port_scan) = loop {
        if let (Some(h), Some(p)) = (id_of("anomaly.host_scan"), id_of("anomaly.port_scan")) {
            break (h, p);
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no scans raised");
        std::thread::sleep(Duration::from_millis(200));
    };
    let posted = format!(
        "{{\"alert_id\": \"{host_scan}\", \"action\": \"mute\", \"by\": \"analyst@soc\", \"reason\": \"pentest\"}}\n\
         not a decision\n\
         {{\"alert_id\": \"00000000deadbeef\", \"action\": \"mute\", \"by\": \"analyst@soc\"}}\n\
         {{\"alert_id\": \"{port_scan}\", \"action\": \"learn\", \"by\": \"analyst@soc\", \"reason\": \"asset discovery tool\"}}\n"
    );
    let mut post = Command::new(&py)
        .arg(root().join("tests/tools/post_decision.py"))
        .args([&b.brokers(), &decisions])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    post.stdin
        .take()
        .unwrap()
        .write_all(posted.as_bytes())
        .unwrap();
    assert!(
        post.wait().unwrap().success(),
        "posting the decisions failed"
    );
    let status = loop {
        if let Some(s) = sensor.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "the sensor did not finish"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let err = stderr_of(&mut sensor);
    assert_eq!(status.code(), Some(0), "{err}");
    let all = records();
    for (id, ack) in [(&host_scan, "muted"), (&port_scan, "learned")] {
        let mine: Vec<&Value> = all.iter().filter(|r| r["id"] == **id).collect();
        let at = mine
            .iter()
            .position(|r| r["status"] == ack)
            .unwrap_or_else(|| panic!("no {ack} acknowledgement of {id}: {mine:?}\n{err}"));
        let count = mine[at]["count"].as_u64().unwrap();
        for later in &mine[at..] {
            assert_eq!(later["status"], ack, "{later}");
            assert_eq!(
                later["count"].as_u64().unwrap(),
                count,
                "{id} grew after {ack}: {later}"
            );
        }
    }
    let d = &json(&stats)["alerts"]["decisions"];
    assert_eq!(
        (
            &d["received"],
            &d["malformed"],
            &d["unknown"],
            &d["applied"]
        ),
        (
            &serde_json::json!(4),
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(2)
        ),
        "{d}\n{err}"
    );
    assert!(
        err.contains("holds no such alert") && err.contains("ignored"),
        "{err}"
    );
    // The decisions were saved with the baseline; a new run on it raises neither alert.
    let saved = std::fs::read_to_string(&baseline).unwrap();
    assert!(
        saved.contains(&host_scan) && saved.contains("analyst@soc"),
        "{saved}"
    );
    let again = dir.path("again.jsonl");
    let stats2 = dir.path("stats2.json");
    let (code, _, err) = replay(&[
        "--baseline".as_ref(),
        baseline.as_os_str(),
        recon().as_os_str(),
        "--alerts".as_ref(),
        again.as_os_str(),
        "--stats".as_ref(),
        stats2.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&again).unwrap();
    assert!(
        !text.contains(&host_scan) && !text.contains(&port_scan),
        "{text}"
    );
    assert!(
        text.contains("anomaly.excessive_sessions"),
        "other alerts still raised: {text}"
    );
    let s2 = json(&stats2);
    assert!(
        s2["alerts"]["muted"].as_u64().unwrap() > 0,
        "{}",
        s2["alerts"]
    );
    assert!(
        s2["alerts"]["known"].as_u64().unwrap() > 0,
        "{}",
        s2["alerts"]
    );
}
