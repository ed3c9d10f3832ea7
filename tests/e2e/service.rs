//! Running unattended (issue: service, health alerts, metrics, reload, several interfaces),
//! tested running: `otsensor capture` on two veth interfaces in a network namespace, started
//! as root with `[sensor] user = "nobody"`, with metrics on and small capture buffers. Traffic
//! (a real Modbus/TCP capture renumbered into test-host addresses) is replayed into both;
//! the test forces kernel drops on one interface (the sensor is stopped with SIGSTOP while
//! traffic arrives), then silence on it, and checks the health alerts naming the interface,
//! `/health` degraded then ok, a SIGHUP that adds a conduit silencing a policy alert and a
//! Sigma rule that raises on the traffic after it, and
//! `/metrics` (parsed by Python's prometheus_client OpenMetrics parser) equal to the final
//! stats. A second run points a Kafka sink at a broker that is not there and finds
//! `sensor.sink_degraded` on its file sink.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::netns::{self, Sensor};
use crate::util::*;

const PLANT_MAC: &str = "02:00:00:78:00:01";
const SPAN_MAC: &str = "02:00:00:78:00:02";
const METRICS: &str = "127.0.0.1:19477";

/// The venv python with prometheus_client (installed by scripts/test.sh).
fn python() -> Option<PathBuf> {
    let dir = std::env::var_os("OTSENSOR_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/test-tools"));
    let py = dir.join("venv/bin/python");
    let ok = py.is_file()
        && Command::new(&py)
            .args(["-c", "import prometheus_client"])
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    let msg = format!(
        "prometheus_client not installed in {} (run scripts/test.sh)",
        dir.display()
    );
    skip(&msg);
    None
}

/// GET `path` from the metrics server inside namespace `ns`: (HTTP status, body).
fn get(ns: &str, path: &str) -> (u16, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-s", "-w", "\n%{http_code}"])
        .arg(format!("http://{METRICS}{path}"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Polls `f` every 200 ms until it is true or `limit` passes.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}

fn alerts(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn find<'a>(
    all: &'a [serde_json::Value],
    rule: &str,
    subject: &str,
    status: &str,
) -> Option<&'a serde_json::Value> {
    all.iter().find(|a| {
        a["rule"] == rule
            && a["status"] == status
            && a["evidence"]["observed"].to_string().contains(subject)
    })
}

/// The metrics page as {name{labels}: value}, parsed by prometheus_client.
fn metrics(py: &Path, text: &str, scratch: &Scratch) -> serde_json::Value {
    let page = scratch.path("metrics.txt");
    std::fs::write(&page, text).unwrap();
    let script = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = {}
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        out[f"{s.name}{{{labels}}}"] = s.value
print(json.dumps(out))
"#;
    let out = Command::new(py)
        .args(["-c", script])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the metrics page does not parse: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A Sigma rule the reload adds: Modbus reads by the test hosts (those of B, whose steady
/// traffic goes on after the reload, included).
const HMI_READS: &str = "title: Modbus read by a test host
id: service-test-hmi-reads
level: low
tags: [attack.t0801]
logsource: {product: otsensor, service: modbus}
detection:
  read:
    direction: request
    operation: read
    src.ip|cidr: 10.78.0.0/15
  condition: read
";

/// The reloaded config (`conduit`) adds a conduit hmi -> plc and the Sigma rule
/// `rules.yml` next to the config.
fn config(p: &Path, zones: &str, alerts: &Path, conduit: bool) {
    let conduit = if conduit {
        format!(
            "[[conduits]]\nfrom = \"hmi\"\nto = \"plc\"\nprotocols = [\"modbus\"]\n[rules]\nsigma = [\"{}\"]\n",
            p.with_file_name("rules.yml").display()
        )
    } else {
        String::new()
    };
    let text = format!(
        r#"[sensor]
user = "nobody"
stats_interval_secs = 1
[health]
interval_secs = 1
max_loss_ratio = 0.001
silent_secs = 4
sink_secs = 2
[metrics]
listen = "{METRICS}"
[alerts]
update_interval_secs = 1
[[capture]]
interface = "{a}"
snaplen = 1600
buffer_size = 262144
immediate = true
bpf = "not ether proto 0x86dd"
[[capture]]
interface = "{b}"
snaplen = 1600
immediate = true
[[sinks]]
type = "file"
path = "{alerts}"
{zones}{conduit}"#,
        a = netns::dev("osa"),
        b = netns::dev("osb"),
        alerts = alerts.display(),
    );
    std::fs::write(p, text).unwrap();
}

#[test]
fn unattended_on_two_interfaces() {
    let Some(py) = python() else {
        return;
    };
    let id = std::process::id();
    let (plant, span) = (format!("ots-sp-{id}"), format!("ots-ss-{id}"));
    let Some(_guard) = netns::create(&[&plant, &span]) else {
        return;
    };
    let (pa, sa) = (netns::dev("opa"), netns::dev("osa"));
    let (pb, sb) = (netns::dev("opb"), netns::dev("osb"));
    netns::veth(&plant, &pa, PLANT_MAC, &span, &sa, SPAN_MAC);
    netns::veth(&plant, &pb, PLANT_MAC, &span, &sb, SPAN_MAC);

    // Test hosts: the capture's 14 Modbus devices as 10.78.0.x on interface A, 10.79.0.x on B.
    let scratch = Scratch::new("service");
    // The sensor runs as nobody: it must be able to write its outputs here.
    sh_ok(&["chmod", "0777", scratch.0.to_str().unwrap()]);
    let src = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let (cap_a, cap_b) = (scratch.path("a.pcap"), scratch.path("b.pcap"));
    netns::rewrite(
        &src,
        &cap_a,
        "141.81.0.0/24:10.78.0.0/24",
        PLANT_MAC,
        SPAN_MAC,
    );
    netns::rewrite(
        &src,
        &cap_b,
        "141.81.0.0/24:10.79.0.0/24",
        PLANT_MAC,
        SPAN_MAC,
    );
    // One Modbus client of A in zone hmi, the rest of A in zone plc: no conduit between them.
    let assets = scratch.path("assets.json");
    let (code, _, err) = replay(&[cap_a.as_os_str(), "--assets".as_ref(), assets.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let client = json(&assets)["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r == "modbus_client"))
        })
        .map(|a| a["ip"].as_str().unwrap().to_string())
        .expect("a Modbus client");
    // B's hosts match no CIDR: they are in zone cell_b by the interface they are seen on.
    let zones = format!(
        "[[zones]]\nname = \"hmi\"\ncidrs = [\"{client}/32\"]\n[[zones]]\nname = \"plc\"\ncidrs = [\"10.78.0.0/24\"]\n[[zones]]\nname = \"cell_b\"\ninterfaces = [\"{sb}\"]\n"
    );
    let (cfg, alerts_path, stats, live_assets) = (
        scratch.path("sensor.toml"),
        scratch.path("alerts.jsonl"),
        scratch.path("stats.json"),
        scratch.path("live-assets.json"),
    );
    config(&cfg, &zones, &alerts_path, false);
    std::fs::write(cfg.with_file_name("rules.yml"), HMI_READS).unwrap();
    let sensor = Sensor::start(
        &span,
        &[
            "-i".as_ref(),
            sa.as_ref(),
            "-i".as_ref(),
            sb.as_ref(),
            "-c".as_ref(),
            cfg.as_os_str(),
            "--workers".as_ref(),
            "2".as_ref(),
            "--stats".as_ref(),
            stats.as_os_str(),
            "--assets".as_ref(),
            live_assets.as_os_str(),
        ],
        2,
    );
    let mut sensor = sensor;
    // Never root once capturing: every uid of the process is nobody's.
    let status = std::fs::read_to_string(format!("/proc/{}/status", sensor.child.id())).unwrap();
    let uids = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_string();
    assert!(
        uids.split_whitespace().skip(1).all(|u| u != "0"),
        "still root: {uids}"
    );

    // Steady traffic on B for the whole test; a first burst on A.
    let mut steady_b = netns::tcpreplay(&plant, &pb, &cap_b, &["--pps=400", "--loop=40"])
        .spawn()
        .unwrap();
    netns::replay_into(&plant, &pa, &cap_a, &["--pps=3000", "--limit=3000"]);
    assert!(
        eventually(Duration::from_secs(10), || get(&span, "/health").0 == 200),
        "/health not ok with traffic on both interfaces: {:?} {:?}",
        get(&span, "/health"),
        sensor.log
    );

    // Drops on A: the sensor stopped while a burst arrives overflows the 256 KiB ring.
    sensor.signal("STOP");
    netns::replay_into(&plant, &pa, &cap_a, &["--topspeed", "--limit=6000"]);
    sensor.signal("CONT");
    let loss = eventually(Duration::from_secs(15), || {
        find(&alerts(&alerts_path), "sensor.capture_loss", &sa, "active").is_some()
    });
    assert!(
        loss,
        "no capture_loss alert for {sa}: {:?}",
        alerts(&alerts_path)
    );
    let (code, body) = get(&span, "/health");
    // The loss is judged per 1 s window: it may have cleared already; silence comes next.
    assert!(code == 503 || body.contains("\"ok\""), "{code} {body}");

    // Then silence on A (B keeps its traffic): input_silent names A, /health is degraded.
    let silent = eventually(Duration::from_secs(15), || {
        find(&alerts(&alerts_path), "sensor.input_silent", &sa, "active").is_some()
    });
    assert!(silent, "no input_silent alert for {sa}");
    let (code, body) = get(&span, "/health");
    assert_eq!(code, 503, "{body}");
    let h: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["status"], "degraded");
    assert!(h["reasons"].to_string().contains(&sa), "{h}");
    let all = alerts(&alerts_path);
    let silent_alert = find(&all, "sensor.input_silent", &sa, "active").unwrap();
    assert_eq!(silent_alert["engine"], "sensor");
    assert!(silent_alert.get("src").is_none(), "{silent_alert}");
    assert!(
        find(&all, "sensor.capture_loss", &sa, "cleared").is_some(),
        "capture_loss cleared after a window without loss: {all:?}"
    );
    assert!(
        !all.iter().any(|a| a["rule"] == "sensor.capture_loss"
            && a["evidence"]["observed"]["interface"] == sb.as_str()),
        "no loss on {sb}"
    );

    // Traffic on A again: cleared, and /health ok.
    netns::replay_into(&plant, &pa, &cap_a, &["--pps=3000", "--limit=3000"]);
    assert!(
        eventually(Duration::from_secs(10), || {
            find(&alerts(&alerts_path), "sensor.input_silent", &sa, "cleared").is_some()
        }),
        "input_silent not cleared"
    );
    assert!(
        eventually(Duration::from_secs(10), || get(&span, "/health").0 == 200),
        "/health not ok again: {:?}",
        get(&span, "/health")
    );

    // A policy alert (hmi -> plc without a conduit), then SIGHUP with a conduit: it stops.
    std::thread::sleep(Duration::from_millis(2500));
    let count_of = |all: &[serde_json::Value]| {
        all.iter()
            .filter(|a| a["rule"] == "policy.no_conduit")
            .map(|a| a["count"].as_u64().unwrap())
            .max()
            .unwrap_or(0)
    };
    assert!(
        count_of(&alerts(&alerts_path)) > 0,
        "no policy.no_conduit alert before the reload"
    );
    // A config that does not load is refused, with an alert; the old one stays.
    std::fs::write(&cfg, "[health]\ninterval_secs = 0\n").unwrap();
    sensor.signal("HUP");
    assert!(
        eventually(Duration::from_secs(10), || {
            find(
                &alerts(&alerts_path),
                "sensor.reload_failed",
                "interval_secs",
                "active",
            )
            .is_some()
        }),
        "no reload_failed alert"
    );
    let sigma = "sigma.service-test-hmi-reads";
    assert!(
        !alerts(&alerts_path).iter().any(|a| a["rule"] == sigma),
        "a Sigma alert before its rule was loaded"
    );
    config(&cfg, &zones, &alerts_path, true);
    sensor.signal("HUP");
    assert!(
        sensor.wait_log("Configuration reloaded", Duration::from_secs(10)),
        "{:?}",
        sensor.log
    );
    let reloaded = now_rfc3339();
    assert!(
        eventually(Duration::from_secs(10), || {
            find(
                &alerts(&alerts_path),
                "sensor.reload_failed",
                "sensor.toml",
                "cleared",
            )
            .is_some()
        }),
        "reload_failed not cleared by a good reload"
    );
    let packets_a = |s: &serde_json::Value| {
        s["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == sa.as_str())
            .map(|i| i["packets"].as_u64().unwrap())
            .unwrap()
    };
    let before_packets = packets_a(&json(&stats));
    netns::replay_into(&plant, &pa, &cap_a, &["--pps=3000", "--limit=3000"]);
    // The rule the reload added raises on the traffic after it (B's steady reads).
    assert!(
        eventually(Duration::from_secs(10), || {
            alerts(&alerts_path)
                .iter()
                .any(|a| a["rule"] == sigma && a["engine"] == "sigma")
        }),
        "the Sigma rule added by SIGHUP raised nothing: {:?}",
        sensor.log
    );

    // A goes down and comes back: the sensor (no longer root) reopens it and reads on.
    let iface_a = |key: &str| {
        let s = json(&stats);
        s["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == sa.as_str())
            .map(|i| i[key].as_u64().unwrap())
            .unwrap()
    };
    netns::in_ns(&span, &["ip", "link", "set", &sa, "down"]).unwrap();
    assert!(
        eventually(Duration::from_secs(15), || iface_a("failures") >= 1),
        "{sa} down was not noticed: {:?}",
        sensor.log
    );
    netns::in_ns(&span, &["ip", "link", "set", &sa, "up"]).unwrap();
    assert!(
        eventually(Duration::from_secs(20), || iface_a("reopens") >= 1),
        "{sa} was not reopened: {:?}",
        sensor.log
    );
    let before_reopen = iface_a("packets");
    netns::replay_into(&plant, &pa, &cap_a, &["--pps=3000", "--limit=1000"]);
    assert!(
        eventually(Duration::from_secs(10), || iface_a("packets")
            >= before_reopen + 1000),
        "no packets on {sa} after it was reopened"
    );

    // Quiet: stop B's traffic, let the counters settle, scrape, stop, compare.
    let _ = steady_b.kill();
    let _ = steady_b.wait();
    std::thread::sleep(Duration::from_millis(2500));
    let (code, page) = get(&span, "/metrics");
    assert_eq!(code, 200);
    let m = metrics(&py, &page, &scratch);
    let (code, log) = sensor.stop();
    assert_eq!(code, Some(0), "{log:?}");
    let s = json(&stats);
    assert!(
        packets_a(&s) >= before_packets + 4000,
        "the traffic after the reload was captured"
    );
    // Every policy.no_conduit observation (the final records included) predates the reload,
    // although the same hmi -> plc traffic was captured after it.
    for a in alerts(&alerts_path) {
        if a["rule"] == "policy.no_conduit" {
            let last = a["last_seen"].as_str().unwrap();
            assert!(
                last < reloaded.as_str(),
                "policy.no_conduit observed at {last}, after the conduit was added at {reloaded}"
            );
        }
    }

    // Zones by interface: B's hosts are in cell_b, A's in hmi and plc.
    for a in json(&live_assets)["assets"].as_array().unwrap() {
        let (ip, zone) = (a["ip"].as_str().unwrap(), a["zone"].as_str().unwrap());
        if ip.starts_with("10.79.0.") {
            assert_eq!(zone, "cell_b", "{ip}");
        } else {
            assert!(
                zone == "plc" || (zone == "hmi" && ip == client),
                "{ip} in {zone}"
            );
        }
    }

    // /metrics agrees with the final stats.
    let metric = |k: &str| m[k].as_f64().unwrap_or_else(|| panic!("{k} not in {m}")) as u64;
    for i in s["interfaces"].as_array().unwrap() {
        let name = i["name"].as_str().unwrap();
        assert_eq!(
            metric(&format!("otsensor_packets_total{{input={name}}}")),
            i["packets"].as_u64().unwrap()
        );
        assert_eq!(
            metric(&format!("otsensor_bytes_total{{input={name}}}")),
            i["bytes"].as_u64().unwrap()
        );
        assert_eq!(
            metric(&format!(
                "otsensor_capture_dropped_total{{interface={name},where=kernel}}"
            )),
            i["dropped"].as_u64().unwrap()
        );
        assert_eq!(
            metric(&format!(
                "otsensor_capture_received_total{{interface={name}}}"
            )),
            i["received"].as_u64().unwrap()
        );
    }
    assert!(s["interfaces"][0]["dropped"].as_u64().unwrap() > 0, "{s}");
    for (k, v) in s["drops"].as_object().unwrap() {
        assert_eq!(
            metric(&format!("otsensor_drops_total{{reason={k}}}")),
            v.as_u64().unwrap(),
            "{k}"
        );
    }
    for (k, v) in s["pdus"].as_object().unwrap() {
        assert_eq!(
            metric(&format!("otsensor_pdus_total{{protocol={k}}}")),
            v.as_u64().unwrap(),
            "{k}"
        );
    }
    assert_eq!(
        metric("otsensor_flows_created_total{transport=tcp}"),
        s["flows"]["tcp"].as_u64().unwrap()
    );
    assert!(m
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("otsensor_alert_latency_seconds_bucket")));
    assert_eq!(
        s["packets"].as_u64().unwrap(),
        s["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["packets"].as_u64().unwrap())
            .sum::<u64>()
    );

    // A Kafka sink whose broker is not there: sensor.sink_degraded on the file sink.
    let (cfg2, alerts2) = (scratch.path("kafka.toml"), scratch.path("alerts2.jsonl"));
    std::fs::write(
        &cfg2,
        format!(
            r#"[health]
interval_secs = 1
sink_secs = 1
[[sinks]]
type = "file"
path = "{}"
[[sinks]]
type = "kafka"
brokers = "127.0.0.1:9"
topic = "otsensor.alerts"
spool_dir = "{}"
flush_timeout_secs = 1
"#,
            alerts2.display(),
            scratch.path("spool").display()
        ),
    )
    .unwrap();
    let sensor = Sensor::start(
        &span,
        &["-i".as_ref(), sb.as_ref(), "-c".as_ref(), cfg2.as_os_str()],
        1,
    );
    let degraded = eventually(Duration::from_secs(20), || {
        find(&alerts(&alerts2), "sensor.sink_degraded", "kafka", "active").is_some()
    });
    let (code, log) = sensor.stop();
    assert!(
        degraded,
        "no sink_degraded alert: {:?} {log:?}",
        alerts(&alerts2)
    );
    assert_eq!(code, Some(0), "{log:?}");
}

/// The time now as the alert records write it (RFC 3339, UTC, microseconds).
fn now_rfc3339() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.%6NZ"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sh_ok(args: &[&str]) {
    netns::sh(args).unwrap();
}
