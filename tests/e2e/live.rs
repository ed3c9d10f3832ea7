//! Live capture end to end, between test hosts in network namespaces.
//!
//! Namespace `ots-plant-*` holds the test hosts (10.77.0.0/24 on one end of a veth pair);
//! namespace `ots-span-*` is the sensor's SPAN port: the other end, with no address, so its
//! kernel never answers. A real Modbus/TCP capture is rewritten with tcprewrite so that every
//! IP address is a test host's (141.81.0.x → 10.77.0.x) and every MAC is one of the veth
//! pair's, replayed with tcpreplay from the plant side, and captured by `otsensor capture` on
//! the span side. Needs root and iproute2; skips (saying so) where namespaces are not permitted.

use std::time::Duration;

use crate::netns::{self, in_ns, Sensor};
use crate::util::*;

const PLANT_MAC: &str = "02:00:00:77:00:01";
const SPAN_MAC: &str = "02:00:00:77:00:02";

/// A plant namespace and a SPAN namespace joined by a veth pair, and the ModbusTCP capture
/// rewritten onto test hosts `net` (`10.x.0.0/24`) with the pair's MACs.
struct Lab {
    _guard: netns::Netns,
    plant: String,
    span: String,
    v_plant: String,
    v_span: String,
    scratch: Scratch,
    rewritten: std::path::PathBuf,
}

/// The lab, named by `tag` (namespaces and devices of tests running at once must differ); `None`
/// where namespaces are not permitted (a failure under CI).
fn lab(tag: &str, net: &str) -> Option<Lab> {
    let id = std::process::id();
    let (plant, span) = (format!("ots-{tag}p-{id}"), format!("ots-{tag}s-{id}"));
    let (v_plant, v_span) = (
        netns::dev(&format!("o{tag}p")),
        netns::dev(&format!("o{tag}s")),
    );
    let guard = netns::create(&[&plant, &span])?;
    netns::veth(&plant, &v_plant, PLANT_MAC, &span, &v_span, SPAN_MAC);
    let src = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let scratch = Scratch::new(&format!("live-{tag}"));
    let rewritten = scratch.path("rewritten.pcap");
    netns::rewrite(
        &src,
        &rewritten,
        &format!("141.81.0.0/24:{net}"),
        PLANT_MAC,
        SPAN_MAC,
    );
    Some(Lab {
        _guard: guard,
        plant,
        span,
        v_plant,
        v_span,
        scratch,
        rewritten,
    })
}

impl Lab {
    /// `otsensor capture` on the SPAN end, in immediate mode, IPv4 only, with `extra`.
    fn sensor(&self, extra: &[&std::ffi::OsStr]) -> Sensor {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "-i".as_ref(),
            self.v_span.as_ref(),
            "--immediate".as_ref(),
            // In immediate mode libpcap's ring has fixed-size slots of about the snap length
            // (64 KiB when the interface offloads): 32 MiB would hold only ~500 packets, and a
            // test machine busy with other tests then drops some. 1600-byte slots hold the
            // whole replay, so a stalled sensor still sees every packet.
            "--snaplen".as_ref(),
            "1600".as_ref(),
            "--bpf".as_ref(),
            "not ether proto 0x86dd".as_ref(),
        ];
        args.extend_from_slice(extra);
        Sensor::start(&self.span, &args, 1)
    }
}

#[test]
fn live_capture_between_namespaces() {
    // The test hosts: the 14 Modbus devices of the capture, renumbered into 10.77.0.0/24.
    let Some(lab) = lab("t", "10.77.0.0/24") else {
        return;
    };
    let (plant, v_plant) = (lab.plant.as_str(), lab.v_plant.as_str());
    let (scratch, rewritten) = (&lab.scratch, lab.rewritten.as_path());
    // Check with the sensor itself that only test-host addresses are on the wire.
    let assets = scratch.path("rewritten-assets.json");
    let (code, _, err) = replay(&[
        rewritten.as_os_str(),
        "--assets".as_ref(),
        assets.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut hosts = Vec::new();
    for a in json(&assets)["assets"].as_array().unwrap() {
        let ip = a["ip"].as_str().unwrap().to_string();
        assert!(
            ip.starts_with("10.77.0."),
            "non-test address {ip} in the rewritten capture"
        );
        assert_eq!(a["macs"], serde_json::json!([PLANT_MAC]), "{ip}");
        hosts.push(ip);
    }
    assert_eq!(hosts.len(), 14);
    for h in &hosts {
        in_ns(
            plant,
            &["ip", "addr", "add", &format!("{h}/24"), "dev", v_plant],
        )
        .unwrap();
    }

    let (stats, live_assets) = (scratch.path("stats.json"), scratch.path("assets.json"));
    // Learn a baseline while capturing, saved every second.
    let (cfg, live_baseline) = (scratch.path("sensor.toml"), scratch.path("baseline.json"));
    std::fs::write(&cfg, "[baseline]\nsave_interval_secs = 1\n").unwrap();
    let sensor = lab.sensor(&[
        "--workers".as_ref(),
        "2".as_ref(),
        "--stats".as_ref(),
        stats.as_os_str(),
        "--assets".as_ref(),
        live_assets.as_os_str(),
        "-c".as_ref(),
        cfg.as_os_str(),
        "--learn".as_ref(),
        "--baseline".as_ref(),
        live_baseline.as_os_str(),
    ]);
    netns::replay_into(plant, v_plant, rewritten, &["--pps=5000"]);
    std::thread::sleep(Duration::from_millis(1500));
    // Saved periodically, before the sensor stops.
    let periodic = json(&live_baseline);
    assert!(!periodic["edges"].as_array().unwrap().is_empty());
    let (code, log) = sensor.stop();
    assert_eq!(code, Some(0), "{log:?}");

    let s = json(&stats);
    assert_eq!(s["mode"], "capture");
    assert_eq!(s["capture"]["dropped"], 0, "{s}");
    assert_eq!(s["packets"], 15387, "every replayed packet captured: {s}");
    assert_eq!(s["l4"]["tcp"], 15387);
    assert_eq!(s["flows"]["tcp"], 14);
    assert_eq!(s["undecodable"], serde_json::json!({}));
    let seen: Vec<String> = json(&live_assets)["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ip"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, hosts);

    // What was learned live is what a replay of the same packets learns (timing aside: the
    // replay compressed the capture's 85 seconds).
    let offline = scratch.path("offline.json");
    let (code, _, err) = replay(&[
        rewritten.as_os_str(),
        "--learn".as_ref(),
        "--baseline".as_ref(),
        offline.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let shape = |b: &serde_json::Value| -> Vec<String> {
        b["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let fns: Vec<&String> = e["functions"].as_object().unwrap().keys().collect();
                format!(
                    "{}>{}/{} {fns:?} {} {}",
                    e["src"], e["dst"], e["protocol"], e["units"], e["ranges"]
                )
            })
            .collect()
    };
    let live = json(&live_baseline);
    assert_eq!(shape(&live), shape(&json(&offline)));
    assert_eq!(live["edges"].as_array().unwrap().len(), 13);
}

/// A poll that stops while the sensor captures is reported within seconds, while it runs (a
/// replay judges stopped polls at its end; a sensor on a SPAN port runs for months).
#[test]
fn a_poll_that_stops_is_reported_while_capturing() {
    let Some(lab) = lab("l", "10.80.0.0/24") else {
        return;
    };
    let (plant, v_plant) = (lab.plant.as_str(), lab.v_plant.as_str());
    let (scratch, rewritten) = (&lab.scratch, lab.rewritten.as_path());
    // The baseline: the same polls, learned from the capture.
    let baseline = scratch.path("baseline.json");
    let (code, _, err) = replay(&[
        rewritten.as_os_str(),
        "--learn".as_ref(),
        "--baseline".as_ref(),
        baseline.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let alerts = scratch.path("alerts.jsonl");
    let sensor = lab.sensor(&[
        "--baseline".as_ref(),
        baseline.as_os_str(),
        "--alerts".as_ref(),
        alerts.as_os_str(),
    ]);
    netns::replay_into(plant, v_plant, rewritten, &["--pps=5000"]);
    // The polls ended with the replay: within the period check (5 s), the silence limit
    // (10 periods, at least 1 s) and the publication slack (1 s), they are reported.
    let stopped = |p: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|a| a["rule"] == "baseline.poll_stopped")
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stopped(&alerts).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    let live = stopped(&alerts);
    assert!(
        !live.is_empty(),
        "no poll_stopped while capturing, 30 s after the polls ended"
    );
    let (code, log) = sensor.stop();
    assert_eq!(code, Some(0), "{log:?}");
    // Each silence once: not again at every check, nor at the stop.
    for a in stopped(&alerts) {
        assert_eq!(a["count"], 1, "{a}");
        assert!(
            a["src"]["ip"].as_str().unwrap().starts_with("10.80.0."),
            "{a}"
        );
    }
}

/// GOOSE captured live: the forged substation capture (a real relay's GOOSE with a forged
/// copy of one frame from another MAC) sent as raw Ethernet frames from the plant side is
/// read as layer-2 flows, and the spoofing alert names the forging MAC while the sensor runs.
#[test]
fn forged_goose_is_caught_while_capturing() {
    let Some(lab) = lab("g", "10.79.0.0/24") else {
        return;
    };
    let (stats, alerts) = (
        lab.scratch.path("stats.json"),
        lab.scratch.path("alerts.jsonl"),
    );
    let sensor = lab.sensor(&[
        "--workers".as_ref(),
        "2".as_ref(),
        "--stats".as_ref(),
        stats.as_os_str(),
        "--alerts".as_ref(),
        alerts.as_os_str(),
    ]);
    let cap = own_pcaps().join("synthetic/substation/goose-forged.pcap");
    netns::replay_into(&lab.plant, &lab.v_plant, &cap, &["--pps=2000"]);
    // Read while the sensor writes: a line still being written is skipped.
    let spoofing = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|a| a["rule"] == "protocol.goose_spoofing")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while spoofing(&alerts).is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let found = spoofing(&alerts);
    let (code, log) = sensor.stop();
    assert_eq!(code, Some(0), "{log:?}");
    let a = found.expect("no goose_spoofing alert while capturing");
    assert_eq!(a["src"]["mac"], "02:de:ad:be:ef:01");
    let s = json(&stats);
    assert_eq!(s["l2_flows"]["goose_pdus"], 452, "{s}");
    assert_eq!(s["l2_flows"]["malformed"], 0);
}

/// `curl -s ARGS` inside namespace `ns`: its standard output.
fn curl_in(ns: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-s", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_capture_serves_its_console_while_it_runs() {
    let Some(lab) = lab("c", "10.79.0.0/24") else {
        return;
    };
    let cfg = lab.scratch.path("sensor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[console]\nlisten = \"127.0.0.1:0\"\n[[console.users]]\nname = \"op\"\npassword_hash = \"{}\"\nrole = \"operator\"\n",
            crate::console::hash("pw")
        ),
    )
    .unwrap();
    let mut sensor = lab.sensor(&["-c".as_ref(), cfg.as_os_str()]);
    assert!(
        sensor.wait_log("console at http://", Duration::from_secs(10)),
        "{:?}",
        sensor.log
    );
    let url = sensor
        .log
        .iter()
        .find_map(|l| l.split("console at ").nth(1))
        .unwrap()
        .trim()
        .to_string();
    let jar = lab.scratch.path("jar");
    let jar = jar.to_str().unwrap();
    // Before logging in: 401.
    let code = curl_in(
        &lab.span,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{url}api/overview"),
        ],
    );
    assert_eq!(code, "401");
    let login = curl_in(
        &lab.span,
        &[
            "-c",
            jar,
            "-H",
            "Content-Type: application/json",
            "--data",
            r#"{"name":"op","password":"pw"}"#,
            &format!("{url}api/login"),
        ],
    );
    assert!(login.contains("\"csrf\""), "{login}");
    netns::replay_into(&lab.plant, &lab.v_plant, &lab.rewritten, &["--pps=5000"]);
    // The running capture's counters and assets reach the console.
    let overview = |k: &str| -> serde_json::Value {
        let o = curl_in(&lab.span, &["-b", jar, &format!("{url}api/overview")]);
        serde_json::from_str::<serde_json::Value>(&o).unwrap_or_default()[k].clone()
    };
    let t = std::time::Instant::now();
    while overview("assets").as_u64().unwrap_or(0) < 14
        || overview("packets").as_u64().unwrap_or(0) == 0
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the console did not see the capture: {:?}",
            sensor.log
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let ifaces = overview("interfaces");
    assert_eq!(ifaces[0]["name"], lab.v_span.as_str(), "{ifaces}");
    assert_eq!(ifaces[0]["up"], true, "{ifaces}");
    let page = curl_in(&lab.span, &["-b", jar, &url]);
    assert!(
        page.contains(&lab.v_span) && page.contains("Overview"),
        "{page}"
    );
    let assets = curl_in(&lab.span, &["-b", jar, &format!("{url}api/assets")]);
    let assets: serde_json::Value = serde_json::from_str(&assets).unwrap();
    assert!(
        assets
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["ip"].as_str().unwrap().starts_with("10.79.0.")),
        "{assets}"
    );
    let (code, log) = sensor.stop();
    assert_eq!(code, Some(0), "{log:?}");
}
