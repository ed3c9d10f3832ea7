//! Evidence captures: the packets behind each alert, in `evidence.dir/<alert id>.pcap`, named
//! with their SHA-256 in the alert's record, and opened by tshark, which finds the PDU that
//! raised the alert in them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::*;

/// tshark's one-line summaries of a capture file; `None` (after a skip) without tshark.
fn tshark(file: &Path, filter: &str) -> Option<Vec<String>> {
    match Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(["-Y", filter])
        .output()
    {
        Ok(o) if o.status.success() => Some(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
        ),
        Ok(o) => panic!(
            "tshark on {}: {}",
            file.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => {
            skip("tshark not installed (scripts/test.sh installs it)");
            None
        }
    }
}

/// Replays `capture` with evidence into a fresh directory: the final record of each alert,
/// by id, the directory, and the stats.
fn run(
    s: &Scratch,
    capture: &Path,
    extra_config: &str,
) -> (BTreeMap<String, Value>, std::path::PathBuf, Value) {
    let dir = s.path("evidence");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = s.path("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "{extra_config}\n[evidence]\ndir = {:?}\npackets_before = 8\npackets_after = 4\n",
            dir
        ),
    )
    .unwrap();
    let (alerts, stats) = (s.path("alerts.jsonl"), s.path("stats.json"));
    let (code, _, err) = replay(&[
        capture.as_os_str(),
        "-c".as_ref(),
        cfg.as_os_str(),
        "--alerts".as_ref(),
        alerts.as_os_str(),
        "--stats".as_ref(),
        stats.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut last = BTreeMap::new();
    for l in std::fs::read_to_string(&alerts).unwrap().lines() {
        let a: Value = serde_json::from_str(l).unwrap();
        last.insert(a["id"].as_str().unwrap().to_string(), a);
    }
    (last, dir, json(&stats))
}

/// Every alert with a file names it and its hash, and every file belongs to one alert.
fn files_match_records(alerts: &BTreeMap<String, Value>, dir: &Path) -> usize {
    let files: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut named = BTreeSet::new();
    for (id, a) in alerts {
        let Some(f) = a["evidence"]["pcap"].as_str() else {
            continue;
        };
        assert_eq!(f, format!("{id}.pcap"));
        let bytes = std::fs::read(dir.join(f)).unwrap();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(a["evidence"]["sha256"], sha.as_str(), "{f}");
        named.insert(f.to_string());
    }
    assert_eq!(files, named, "one file per alert, no other");
    named.len()
}

#[test]
fn the_cip_plc_stop_alert_carries_the_packet_that_stopped_the_plc() {
    let s = Scratch::new("evidence-cip");
    let cap = own_pcaps().join("enip/iti-cip-stop-plc/cip_stop_plc.pcap");
    let (alerts, dir, stats) = run(&s, &cap, "");
    let stop = alerts
        .values()
        .find(|a| a["rule"] == "operational.plc_stop")
        .expect("a PLC stop alert");
    assert_eq!(files_match_records(&alerts, &dir), 1);
    let file = dir.join(stop["evidence"]["pcap"].as_str().unwrap());
    let Some(lines) = tshark(&file, "cip") else {
        return;
    };
    assert!(lines.iter().any(|l| l.contains("Stop")), "{lines:?}");
    assert_eq!(stats["alerts"]["evidence"]["files_written"], 1);
}

#[test]
fn writes_through_a_read_only_conduit_come_with_their_packets_once_per_alert() {
    let s = Scratch::new("evidence-plant1");
    let cap = own_pcaps().join("s7comm/ct-samples-plant1/Plant1_S7comm.pcap");
    let zones = std::fs::read_to_string(root().join("config/plant1-zones.toml")).unwrap();
    let (alerts, dir, stats) = run(&s, &cap, &zones);
    let n = files_match_records(&alerts, &dir);
    // Every alert of the run was raised on a flow, so each has its file, written once (other
    // flows raising the same alert add none).
    assert_eq!(n, alerts.len(), "{alerts:#?}");
    assert_eq!(stats["alerts"]["evidence"]["files_written"], n as u64);
    let write = alerts
        .values()
        .find(|a| a["rule"] == "policy.operation_not_allowed" && a["operation"] == "write")
        .expect("a write through the read-only conduit");
    let file = dir.join(write["evidence"]["pcap"].as_str().unwrap());
    let Some(lines) = tshark(&file, "s7comm.param.func == 0x05") else {
        return;
    };
    assert!(
        !lines.is_empty(),
        "the S7 Write Var job is in {}",
        file.display()
    );
    // No more than packets_before + packets_after packets.
    let all = tshark(&file, "frame").unwrap();
    assert!(all.len() <= 12, "{all:?}");
}

#[test]
fn a_syn_flood_alert_carries_a_syn_of_the_flow_that_crossed_the_threshold() {
    let s = Scratch::new("evidence-flood");
    let cap = own_pcaps().join("synthetic/syn-flood-in-plant/syn-flood-in-plant.pcap");
    let (alerts, dir, _) = run(&s, &cap, "");
    files_match_records(&alerts, &dir);
    let flood = alerts
        .values()
        .find(|a| a["rule"] == "anomaly.syn_flood")
        .expect("a SYN flood alert");
    let file = dir.join(
        flood["evidence"]["pcap"]
            .as_str()
            .expect("the anomaly engine's alert has its packets"),
    );
    let Some(syns) = tshark(
        &file,
        "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 502",
    ) else {
        return;
    };
    assert!(!syns.is_empty(), "{}", file.display());
}

#[test]
fn an_evidence_directory_that_does_not_exist_is_refused_by_name() {
    let s = Scratch::new("evidence-bad");
    let cfg = s.path("c.toml");
    std::fs::write(
        &cfg,
        "[evidence]\ndir = \"/nonexistent/otsensor-evidence\"\n",
    )
    .unwrap();
    let out = config_check(&cfg);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("evidence.dir"));
}
