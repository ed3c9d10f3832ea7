//! BACnet/IP through the sensor: every APDU an event with Wireshark's type, service and
//! invoke id, on every capture of the corpus's bacnet folder (BACnet/IP datagrams; the
//! Ethernet, MS/TP and ARCNET ones are not BACnet/IP) and the project's copies; the
//! dangerous services alerted; devices named from ReadProperty answers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

/// (type, service, invoke id) by frame number.
type Apdus = BTreeMap<u64, [String; 3]>;

const TYPES: [&str; 8] = [
    "confirmed_request",
    "unconfirmed_request",
    "simple_ack",
    "complex_ack",
    "segment_ack",
    "error",
    "reject",
    "abort",
];

/// (frame, type, service, invoke id) of every BACnet/IP APDU, by Wireshark; the frames
/// whose NPDU version is not 1 (which Wireshark dissects regardless and the sensor counts
/// as malformed: ASHRAE 135 §6.2.1) are left out, and returned apart.
fn wireshark(cap: &Path) -> Option<(Apdus, Vec<u64>)> {
    let rows = tshark_rows(
        cap,
        "udp and bacapp",
        &[
            "frame.number",
            "bacapp.type",
            "bacapp.confirmed_service",
            "bacapp.unconfirmed_service",
            "bacapp.invoke_id",
            "bacnet.version",
        ],
    )?;
    let mut ok = BTreeMap::new();
    let mut bad = Vec::new();
    for r in rows {
        let first = |i: usize| r[i].split(',').next().unwrap_or_default().to_string();
        let n: u64 = r[0].parse().unwrap();
        if r[5] != "1" {
            bad.push(n);
            continue;
        }
        let service = if r[2].is_empty() { first(3) } else { first(2) };
        ok.insert(n, [r[1].clone(), service, first(4)]);
    }
    Some((ok, bad))
}

fn ours(events: &[Value]) -> Apdus {
    let s = |v: &Value| match v {
        Value::Null => String::new(),
        v => v.to_string(),
    };
    events
        .iter()
        .filter(|e| e["protocol"] == "bacnet" && e.get("apdu").is_some())
        .map(|e| {
            let a = &e["apdu"];
            let t = TYPES
                .iter()
                .position(|t| a["pdu_type"] == *t)
                .unwrap()
                .to_string();
            (
                e["packet"].as_u64().unwrap(),
                [t, s(&a["service"]), s(&a["invoke_id"])],
            )
        })
        .collect()
}

fn own() -> PathBuf {
    own_pcaps().join("bacnet")
}

/// The project's generated building (`gen-bacnet`).
fn synthetic() -> PathBuf {
    own_pcaps().join("synthetic/bacnet")
}

/// Every APDU of every BACnet/IP capture, as Wireshark reads it.
#[test]
fn bacnet_apdus_equal_wireshark() {
    let mut caps = captures_under(&own());
    caps.extend(captures_under(&synthetic()));
    if let Some(shared) = shared_pcaps() {
        caps.extend(captures_under(&shared.join("bacnet")));
    }
    let mut apdus = 0;
    let mut adjudicated = 0;
    for cap in &caps {
        let Some((want, bad)) = wireshark(cap) else {
            return;
        };
        let (events, stats) = replay_events(cap);
        let got = ours(&events);
        assert_eq!(got, want, "{}", cap.display());
        // The frames left out are malformed for the sensor, and counted.
        if !bad.is_empty() {
            assert!(
                stats["parse_errors"]["bacnet"].as_u64().unwrap() >= bad.len() as u64,
                "{}: {bad:?} {}",
                cap.display(),
                stats["parse_errors"]
            );
            adjudicated += bad.len();
        }
        apdus += got.len();
    }
    assert!(apdus >= 11_600, "{apdus}");
    assert!(adjudicated <= 2, "{adjudicated}");
}

/// DeviceCommunicationControl disable, ReinitializeDevice and AtomicWriteFile raise their
/// rules, client to device; errors answer as exceptions.
#[test]
fn dangerous_bacnet_services_are_alerted() {
    let d = Scratch::new("bacnet-alerts");
    let out = d.path("alerts.jsonl");
    let cap = own().join("ct-stack/bacnet-stack-services.cap");
    let (code, _, err) = replay(&[cap.as_os_str(), "--alerts".as_ref(), out.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let rules: std::collections::BTreeSet<(String, String, String)> = jsonl(&out)
        .iter()
        .filter(|a| a["engine"] == "operational")
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["src"]["ip"].as_str().unwrap().to_string(),
                a["dst"]["ip"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let t = |r: &str| {
        (
            r.to_string(),
            "192.168.0.5".to_string(),
            "192.168.0.13".to_string(),
        )
    };
    assert_eq!(
        rules.into_iter().collect::<Vec<_>>(),
        [
            t("operational.bacnet_dcc_disable"),
            t("operational.bacnet_file_write"),
            t("operational.device_restart"),
        ]
    );
    if let Some(shared) = shared_pcaps() {
        let out = d.path("services.jsonl");
        let cap = shared.join("bacnet/icsnpp-bacnet__bacnet_services.pcap");
        let (code, _, err) = replay(&[cap.as_os_str(), "--alerts".as_ref(), out.as_os_str()]);
        assert_eq!(code, 0, "{err}");
        let rules: std::collections::BTreeSet<String> = jsonl(&out)
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .collect();
        assert!(
            rules.contains("operational.bacnet_priority_write"),
            "{rules:?}"
        );
    }
}

/// ReadProperty answers about a device object name the device: vendor, model, firmware and
/// name (UCS-2 strings here).
#[test]
fn read_property_answers_name_the_device() {
    let cap = own().join("iti/bacnet_test.pcap");
    let a = asset_where(&cap, &[], |a| a["ip"] == "10.1.1.165");
    assert_eq!(
        a["identity"],
        serde_json::json!({"vendor": "JCI", "model": "MS-NAE4510-2", "firmware": "5.1.0.4400", "name": "KBRNAE"}),
        "{a}"
    );
    assert!(a["roles"]
        .as_array()
        .unwrap()
        .contains(&"bacnet_device".into()));
}

/// A building learned, a laptop caught: learning on the BMS workstation's day (its Who-Is
/// sweep, reads and a priority-8 setpoint) and detecting on the same day is quiet; the next
/// day the laptop's sweep, DeviceCommunicationControl disable, ReinitializeDevice,
/// priority-1 and out-of-service writes and AtomicWriteFile each raise their rule from the
/// laptop, and nothing comes from the workstation.
#[test]
fn a_laptop_sweeping_silencing_and_overriding_is_caught_after_learning() {
    let d = Scratch::new("bacnet-building");
    let (cfg, base) = (d.path("empty.toml"), d.path("base.json"));
    std::fs::write(&cfg, "").unwrap();
    learn_into(&cfg, &base, &synthetic().join("learn.pcap"));
    let detect = |cap: &Path, out: &Path| -> Vec<(String, String, String)> {
        let (code, _, err) = replay(&[
            cap.as_os_str(),
            "-c".as_ref(),
            cfg.as_os_str(),
            "--baseline".as_ref(),
            base.as_os_str(),
            "--alerts".as_ref(),
            out.as_os_str(),
        ]);
        assert_eq!(code, 0, "{err}");
        let mut got: Vec<_> = jsonl(out)
            .iter()
            .map(|a| {
                let s = |k: &str| a[k]["ip"].as_str().unwrap().to_string();
                (s("src"), a["rule"].as_str().unwrap().to_string(), s("dst"))
            })
            .collect();
        got.sort();
        got.dedup();
        got
    };
    assert_eq!(
        detect(&synthetic().join("learn.pcap"), &d.path("same-day.jsonl")),
        [],
        "the workstation's day is learned"
    );
    let got = detect(&synthetic().join("attack.pcap"), &d.path("alerts.jsonl"));
    let (laptop, ahu, vav, all) = ("10.30.0.66", "10.30.0.21", "10.30.0.22", "10.30.0.255");
    let t = |r: &str, dst: &str| (laptop.to_string(), r.to_string(), dst.to_string());
    assert_eq!(
        got,
        [
            t("anomaly.new_master_write", ahu),
            t("baseline.new_asset", all),
            t("operational.bacnet_dcc_disable", ahu),
            t("operational.bacnet_file_write", ahu),
            t("operational.bacnet_priority_write", ahu),
            t("operational.bacnet_priority_write", vav),
            t("operational.device_restart", vav),
            t("protocol.bacnet_discovery", all),
        ]
    );
}

/// I-Am gives a device's instance and vendor number, ReadProperty answers about its device
/// object its vendor, model, firmware, application software and name: all in the asset.
#[test]
fn i_am_and_read_property_answers_fill_the_asset() {
    let a = asset_where(&synthetic().join("learn.pcap"), &[], |a| {
        a["ip"] == "10.30.0.22"
    });
    assert_eq!(
        a["identity"],
        serde_json::json!({
            "device_id": "bacnet device 2102, vendor 260",
            "vendor": "BACnet Stack at SourceForge",
            "model": "VAV-210",
            "firmware": "4.2.1",
            "software_version": "AcmeBMS app 2.7",
            "name": "VAV-2-14",
        }),
        "{a}"
    );
}
