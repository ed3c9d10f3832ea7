//! Live capture end to end, between test hosts in network namespaces.
//!
//! Namespace `ots-plant-*` holds the test hosts (10.77.0.0/24 on one end of a veth pair);
//! namespace `ots-span-*` is the sensor's SPAN port: the other end, with no address, so its
//! kernel never answers. A real Modbus/TCP capture is rewritten with tcprewrite so that every
//! IP address is a test host's (141.81.0.x → 10.77.0.x) and every MAC is one of the veth
//! pair's, replayed with tcpreplay from the plant side, and captured by `otsensor capture` on
//! the span side. Needs root and iproute2; skips (saying so) where namespaces are not permitted.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::*;

struct Netns {
    names: Vec<String>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn in_ns(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    sh(&v)
}

const PLANT_MAC: &str = "02:00:00:77:00:01";
const SPAN_MAC: &str = "02:00:00:77:00:02";

#[test]
fn live_capture_between_namespaces() {
    let id = std::process::id();
    let (plant, span) = (format!("ots-plant-{id}"), format!("ots-span-{id}"));
    let (v_plant, v_span) = (format!("otp{id}"), format!("ots{id}"));
    let (v_plant, v_span) = (
        &v_plant[..v_plant.len().min(15)],
        &v_span[..v_span.len().min(15)],
    );
    if let Err(e) = sh(&["ip", "netns", "add", &plant]) {
        eprintln!("skipped: network namespaces are not permitted here ({e})");
        return;
    }
    let _guard = Netns {
        names: vec![plant.clone(), span.clone()],
    };
    sh(&["ip", "netns", "add", &span]).unwrap();
    sh(&[
        "ip", "link", "add", v_plant, "netns", &plant, "type", "veth", "peer", "name", v_span,
        "netns", &span,
    ])
    .unwrap();
    for (ns, dev, mac) in [(&plant, v_plant, PLANT_MAC), (&span, v_span, SPAN_MAC)] {
        // No IPv6: no router solicitations or neighbour discovery on the wire.
        in_ns(ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]).unwrap();
        in_ns(
            ns,
            &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
        )
        .unwrap();
        in_ns(ns, &["ip", "link", "set", dev, "address", mac]).unwrap();
        in_ns(ns, &["ip", "link", "set", "lo", "up"]).unwrap();
        in_ns(ns, &["ip", "link", "set", dev, "up"]).unwrap();
    }
    // The test hosts: the 14 Modbus devices of the capture, renumbered into 10.77.0.0/24.
    let src = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let scratch = Scratch::new("live");
    let rewritten = scratch.path("rewritten.pcap");
    sh(&[
        "tcprewrite",
        "--pnat=141.81.0.0/24:10.77.0.0/24",
        &format!("--enet-smac={PLANT_MAC}"),
        &format!("--enet-dmac={SPAN_MAC}"),
        "--fixcsum",
        &format!("--infile={}", src.display()),
        &format!("--outfile={}", rewritten.display()),
    ])
    .expect("tcprewrite (apt-get install tcpreplay)");
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
            &plant,
            &["ip", "addr", "add", &format!("{h}/24"), "dev", v_plant],
        )
        .unwrap();
    }

    let (stats, live_assets) = (scratch.path("stats.json"), scratch.path("assets.json"));
    // Learn a baseline while capturing, saved every second.
    let (cfg, live_baseline) = (scratch.path("sensor.toml"), scratch.path("baseline.json"));
    std::fs::write(&cfg, "[baseline]\nsave_interval_secs = 1\n").unwrap();
    let mut sensor = Command::new("ip")
        .args(["netns", "exec", &span])
        .arg(bin())
        .args([
            "capture",
            "-i",
            v_span,
            "--immediate",
            // In immediate mode libpcap's ring has fixed-size slots of about the snap length
            // (64 KiB when the interface offloads): 32 MiB would hold only ~500 packets, and a
            // test machine busy with other tests then drops some. 1600-byte slots hold the
            // whole replay, so a stalled sensor still sees every packet.
            "--snaplen",
            "1600",
            "--workers",
            "2",
            "--bpf",
            "not ether proto 0x86dd",
        ])
        .arg("--stats")
        .arg(&stats)
        .arg("--assets")
        .arg(&live_assets)
        .arg("-c")
        .arg(&cfg)
        .arg("--learn")
        .arg("--baseline")
        .arg(&live_baseline)
        .env("OTSENSOR_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = sensor.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => {
                let started = l.contains("Capturing on");
                log.push(l);
                if started {
                    break;
                }
            }
            Err(_) => {
                let _ = sensor.kill();
                panic!("otsensor capture did not start: {log:?}");
            }
        }
    }
    let replayed = Command::new("ip")
        .args([
            "netns",
            "exec",
            &plant,
            "tcpreplay",
            "-q",
            "--pps=5000",
            "-i",
            v_plant,
        ])
        .arg(&rewritten)
        .output()
        .unwrap();
    assert!(
        replayed.status.success(),
        "tcpreplay: {}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    std::thread::sleep(Duration::from_millis(1500));
    // Saved periodically, before the sensor stops.
    let periodic = json(&live_baseline);
    assert!(!periodic["edges"].as_array().unwrap().is_empty());
    sh(&["kill", "-TERM", &sensor.id().to_string()]).unwrap();
    let status = sensor.wait().unwrap();
    log.extend(rx.try_iter());
    assert_eq!(status.code(), Some(0), "{log:?}");

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
