//! PROFINET through the layer-2 flows: every DCP PDU an event with Wireshark's fields, on
//! every capture of the corpus's profinet folder and the project's copies; Sets that
//! readdress or rename a station and discovery of every station alerted, learned per
//! asking host; stations named in the asset inventory.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

const FIELDS: [&str; 8] = [
    "pn_dcp.service_id",
    "pn_dcp.service_type",
    "pn_dcp.xid",
    "pn_dcp.suboption_device_nameofstation",
    "pn_dcp.suboption_ip_ip",
    "pn_dcp.suboption_vendor_id",
    "pn_dcp.suboption_device_id",
    "pn_dcp.suboption_device_role",
];

/// The same fields from the sensor's events, in Wireshark's notation.
fn event_rows(events: &[Value]) -> Vec<Vec<String>> {
    let hex = |v: &Value, w: usize| {
        v.as_u64()
            .map(|n| format!("0x{n:0w$x}"))
            .unwrap_or_default()
    };
    let t = |v: &Value| v.as_str().unwrap_or_default().to_string();
    events
        .iter()
        .filter(|e| e["protocol"] == "pn_dcp")
        .map(|e| {
            vec![
                e["function_code"].to_string(),
                match e["service_type"].as_str() {
                    Some("request") => "0",
                    Some("response") => "1",
                    Some("not_supported") => "5",
                    _ => "?",
                }
                .to_string(),
                hex(&e["xid"], 8),
                t(&e["name_of_station"]),
                t(&e["ip"]),
                hex(&e["vendor_id"], 4),
                hex(&e["device_id"], 4),
                hex(&e["device_role"], 2),
            ]
        })
        .collect()
}

fn own() -> PathBuf {
    own_pcaps().join("profinet/iti-dcp")
}

/// One event per DCP PDU, with Wireshark's service, type, Xid, name, address, vendor,
/// device and role, on every capture of the corpus's profinet folder and the project's
/// copies; the stats count what Wireshark counts.
#[test]
fn dcp_pdus_equal_wireshark() {
    let mut caps = captures_under(&own());
    caps.extend(captures_under(&own_pcaps().join("synthetic/profinet-dcp")));
    if let Some(shared) = shared_pcaps() {
        caps.extend(captures_under(&shared.join("profinet")));
    }
    let mut pdus = 0;
    for cap in &caps {
        let Some(want) = tshark_rows(cap, "pn_dcp", &FIELDS) else {
            return;
        };
        let (events, stats) = replay_events(cap);
        let got = event_rows(&events);
        assert_eq!(got, want, "{}", cap.display());
        assert_eq!(
            stats["l2_flows"]["pn_dcp_pdus"],
            got.len(),
            "{}",
            cap.display()
        );
        assert_eq!(stats["l2_flows"]["malformed"], 0);
        pdus += got.len();
    }
    assert!(pdus >= 8, "{pdus}");
}

fn alerts(cap: &Path, extra: &[&std::ffi::OsStr]) -> Vec<(String, String)> {
    let d = Scratch::new("pn-alerts");
    let out = d.path("alerts.jsonl");
    let mut args: Vec<&std::ffi::OsStr> =
        vec![cap.as_os_str(), "--alerts".as_ref(), out.as_os_str()];
    args.extend(extra);
    let (code, _, err) = replay(&args);
    assert_eq!(code, 0, "{err}");
    jsonl(&out)
        .iter()
        .map(|a| {
            assert_eq!(a["protocol"], "pn_dcp");
            (
                a["rule"].as_str().unwrap().to_string(),
                a["src"]["mac"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A Set of a station's address, and one of its name, raise `operational.pn_dcp_set`
/// naming the setter, and an Identify All `protocol.pn_dcp_discovery`; both are learned
/// per asking host (detection with the learned baseline is quiet); Identify requests that
/// look for one name (stations checking theirs) raise nothing.
#[test]
fn dcp_sets_and_discovery_are_alerted_and_learned_per_host() {
    let station = "00:0c:29:ba:09:ea";
    let set_ip = own().join("ChangeIPUsingDCP.pcap");
    let rules = |v: Vec<(String, String)>| v;
    assert_eq!(
        rules(alerts(&set_ip, &[])),
        [
            ("protocol.pn_dcp_discovery".to_string(), station.to_string()),
            ("operational.pn_dcp_set".to_string(), station.to_string()),
        ]
    );
    let set_name = alerts(&own().join("SetNameOfStation.pcap"), &[]);
    assert!(set_name.contains(&(
        "operational.pn_dcp_set".to_string(),
        "00:80:c8:38:a4:8b".to_string()
    )));
    let d = Scratch::new("pn-learn");
    let (cfg, base) = (d.path("empty.toml"), d.path("base.json"));
    std::fs::write(&cfg, "").unwrap();
    learn_into(&cfg, &base, &set_ip);
    let detect = alerts(
        &set_ip,
        &[
            "-c".as_ref(),
            cfg.as_os_str(),
            "--baseline".as_ref(),
            base.as_os_str(),
        ],
    );
    assert_eq!(detect, [], "learned for the engineering station");
    if let Some(shared) = shared_pcaps() {
        let by_name = alerts(&shared.join("profinet/iti-ics__PROFINET-RT.pcap"), &[]);
        assert_eq!(by_name, [], "Identify by name of station");
    }
}

/// An Identify answer names the station in the inventory: its name of station, type of
/// station and role, under the address it gives.
#[test]
fn dcp_answers_name_the_station() {
    let cap = own().join("ChangeIPUsingDCP.pcap");
    let a = asset_where(&cap, &[], |a| a["ip"] == "192.168.0.6");
    let values = |k: &str| -> Vec<String> {
        a[k].as_array()
            .map(|v| {
                v.iter()
                    .map(|x| x["value"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(values("hostnames"), ["X208-BORD"]);
    assert_eq!(values("software"), ["INC"]);
    assert_eq!(values("capabilities"), ["io_device"]);
    assert_eq!(a["macs"], serde_json::json!(["08:00:06:93:cf:32"]));
}

/// Commissioning learned, a rogue host caught: learning on the engineering station's
/// discovery and name set, detection on the next day's traffic raises the discovery and the
/// Sets (an address change and a factory reset, one alert) for the rogue host only.
#[test]
fn a_rogue_host_renaming_and_resetting_stations_is_caught_after_learning() {
    let dir = own_pcaps().join("synthetic/profinet-dcp");
    let d = Scratch::new("pn-rogue");
    let (cfg, base) = (d.path("empty.toml"), d.path("base.json"));
    std::fs::write(&cfg, "").unwrap();
    learn_into(&cfg, &base, &dir.join("engineering.pcap"));
    let out = d.path("alerts.jsonl");
    let rogue = dir.join("rogue.pcap");
    let (code, _, err) = replay(&[
        rogue.as_os_str(),
        "-c".as_ref(),
        cfg.as_os_str(),
        "--baseline".as_ref(),
        base.as_os_str(),
        "--alerts".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let got: Vec<(String, String, u64)> = jsonl(&out)
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["src"]["mac"].as_str().unwrap().to_string(),
                a["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let rogue_mac = "02:de:ad:be:ef:03".to_string();
    let last: std::collections::BTreeMap<String, (String, u64)> =
        got.into_iter().map(|(r, m, n)| (r, (m, n))).collect();
    assert_eq!(
        last.into_iter().collect::<Vec<_>>(),
        [
            ("operational.pn_dcp_set".to_string(), (rogue_mac.clone(), 2)),
            ("protocol.pn_dcp_discovery".to_string(), (rogue_mac, 1)),
        ]
    );
}
