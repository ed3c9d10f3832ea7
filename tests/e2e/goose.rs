//! GOOSE and Sampled Values through the sensor: GOOSE PDUs read as Wireshark reads them,
//! field by field, on every GOOSE frame of the corpus (by the parser, and as the sensor's
//! events); SV streams summarised per second; the substation detections (a forged publisher,
//! a poisoned stNum, lost samples, a publisher outside its zone) on captures made from real
//! ones, and none on the real ones.

use std::ffi::OsStr;
use std::path::Path;

use serde_json::Value;

use otsensor_protocols::goose;

use crate::util::*;

const FIELDS: [&str; 9] = [
    "goose.gocbRef",
    "goose.timeAllowedtoLive",
    "goose.datSet",
    "goose.goID",
    "goose.stNum",
    "goose.sqNum",
    "goose.confRev",
    "goose.numDatSetEntries",
    "eth.src",
];

/// Ours, in the same form.
fn ours(cap: &Path) -> Vec<Vec<String>> {
    let mut c = pcap::Capture::from_file(cap).unwrap();
    let mut rows = Vec::new();
    while let Ok(p) = c.next_packet() {
        let Some((h, pdu)) = goose::header(p.data) else {
            continue;
        };
        if h.ethertype != goose::GOOSE {
            continue;
        }
        let g = goose::goose(pdu).unwrap_or_else(|| panic!("{}: unread GOOSE", cap.display()));
        let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        let mac = h.src.map(|b| format!("{b:02x}")).join(":");
        rows.push(vec![
            g.gocb_ref,
            n(g.time_allowed_to_live),
            g.dat_set,
            g.go_id.unwrap_or_default(),
            n(g.st_num),
            n(g.sq_num),
            n(g.conf_rev),
            n(g.num_dat_set_entries),
            mac,
        ]);
        assert_eq!(
            Some(g.all_data.len() as u32),
            g.num_dat_set_entries,
            "{}: dataset values",
            cap.display()
        );
    }
    rows
}

#[test]
fn goose_pdus_equal_wireshark_field_by_field() {
    let Some(shared) = shared_pcaps() else { return };
    let mut caps = captures_under(&shared.join("iec61850-goose-sv"));
    caps.extend(captures_under(&shared.join("iec61850-mms")));
    let mut frames = 0;
    for cap in caps {
        let Some(want) = tshark_rows(&cap, "goose", &FIELDS) else {
            return;
        };
        let got = ours(&cap);
        assert_eq!(got, want, "{}", cap.display());
        frames += got.len();
    }
    assert!(frames >= 600, "{frames}");
}

/// The same fields from the sensor's GOOSE events.
fn event_rows(events: &[Value]) -> Vec<Vec<String>> {
    let n = |v: &Value| v.as_u64().map(|v| v.to_string()).unwrap_or_default();
    let t = |v: &Value| v.as_str().unwrap_or_default().to_string();
    events
        .iter()
        .filter(|e| e["protocol"] == "goose")
        .map(|e| {
            assert_eq!(
                e["values"].as_array().map(Vec::len) as Option<usize>,
                e["num_dat_set_entries"].as_u64().map(|n| n as usize),
                "{e}"
            );
            vec![
                t(&e["gocb_ref"]),
                n(&e["time_allowed_to_live"]),
                t(&e["dat_set"]),
                t(&e["go_id"]),
                n(&e["st_num"]),
                n(&e["sq_num"]),
                n(&e["conf_rev"]),
                n(&e["num_dat_set_entries"]),
                t(&e["src"]["mac"]),
            ]
        })
        .collect()
}

/// One event per GOOSE PDU, with Wireshark's fields, out of the pipeline (layer-2 flows
/// through the workers), on every capture of the two IEC 61850 folders and the project's
/// own copy; with three workers the events are the same.
#[test]
fn goose_events_one_per_pdu_equal_wireshark() {
    let mut caps = vec![own_pcaps().join("iec61850/iti-goose/Sample_File_GOOSE.pcap")];
    if let Some(shared) = shared_pcaps() {
        caps.extend(captures_under(&shared.join("iec61850-goose-sv")));
        caps.extend(captures_under(&shared.join("iec61850-mms")));
    }
    let mut pdus = 0;
    for cap in &caps {
        let Some(want) = tshark_rows(cap, "goose", &FIELDS) else {
            return;
        };
        let (events, stats) = replay_events(cap);
        let got = event_rows(&events);
        assert_eq!(got, want, "{}", cap.display());
        assert_eq!(
            stats["l2_flows"]["goose_pdus"],
            got.len(),
            "{}",
            cap.display()
        );
        assert_eq!(stats["l2_flows"]["malformed"], 0, "{}", cap.display());
        pdus += got.len();
        let d = Scratch::new("goose3");
        let ev = d.path("events.jsonl");
        let args: [&OsStr; 5] = [
            cap.as_os_str(),
            "--workers".as_ref(),
            "3".as_ref(),
            "--events".as_ref(),
            ev.as_os_str(),
        ];
        let (code, _, err) = replay(&args);
        assert_eq!(code, 0, "{err}");
        assert_eq!(jsonl(&ev), events, "{} with 3 workers", cap.display());
    }
    assert!(pdus >= 451, "{pdus}");
}

/// `--alerts` of a replay (with `extra` arguments), as records.
fn alerts(cap: &Path, extra: &[&OsStr]) -> Vec<Value> {
    let d = Scratch::new("goose-alerts");
    let out = d.path("alerts.jsonl");
    let mut args: Vec<&OsStr> = vec![cap.as_os_str(), "--alerts".as_ref(), out.as_os_str()];
    args.extend(extra);
    let (code, _, err) = replay(&args);
    assert_eq!(code, 0, "{}: {err}", cap.display());
    jsonl(&out)
}

fn substation() -> std::path::PathBuf {
    own_pcaps().join("synthetic/substation")
}

/// A forged GOOSE frame (another MAC, stNum 1000 ahead) interleaved in a real capture raises
/// the spoofing alert naming that MAC, and the poisoning alert; the real capture raises
/// nothing.
#[test]
fn a_forged_goose_frame_raises_the_spoofing_alert_naming_its_mac() {
    let real = own_pcaps().join("iec61850/iti-goose/Sample_File_GOOSE.pcap");
    assert_eq!(alerts(&real, &[]), Vec::<Value>::new(), "the real capture");
    for workers in ["1", "2"] {
        let got = alerts(
            &substation().join("goose-forged.pcap"),
            &["--workers".as_ref(), workers.as_ref()],
        );
        let rules: Vec<&str> = got.iter().map(|a| a["rule"].as_str().unwrap()).collect();
        assert_eq!(
            rules,
            ["protocol.goose_spoofing", "protocol.goose_state_jump"],
            "{got:?}"
        );
        let spoof = &got[0];
        assert_eq!(spoof["src"]["mac"], "02:de:ad:be:ef:01");
        assert_eq!(
            spoof["evidence"]["expected"]["publisher"],
            "0a:bb:fe:10:c9:02"
        );
        assert_eq!(spoof["protocol"], "goose");
        assert!(spoof["src"].get("ip").is_none(), "{spoof}");
        let ids: Vec<&str> = spoof["attack"]["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["T0856", "T0830"]);
        assert_eq!(got[1]["attack"]["techniques"][0]["id"], "T0855");
        // Frame 11 has stNum 36,712; the forged copy 1,000 more.
        assert_eq!(got[1]["evidence"]["observed"]["st_num"], 37_712);
    }
}

/// Sampled Values: two merging units at 4,000 frames a second for two seconds make four
/// events (one per stream per second), whose samples add up to Wireshark's frames per
/// svID; the lost samples and the second publisher are counted and alerted.
#[test]
fn sampled_values_summarised_per_stream_per_second() {
    let cap = substation().join("sv-faults.pcap");
    let Some(rows) = tshark_rows(&cap, "sv", &["sv.svID"]) else {
        return;
    };
    let mut want = std::collections::BTreeMap::<String, u64>::new();
    for r in rows {
        *want.entry(r[0].clone()).or_default() += 1;
    }
    let (events, stats) = replay_events(&cap);
    assert_eq!(events.len(), 4, "{events:?}");
    let mut got = std::collections::BTreeMap::<String, u64>::new();
    for e in &events {
        assert_eq!(e["protocol"], "sv");
        *got.entry(e["sv_id"].as_str().unwrap().to_string())
            .or_default() += e["samples"].as_u64().unwrap();
    }
    assert_eq!(got, want);
    assert_eq!(stats["l2_flows"]["sv_asdus"], 15_981);
    assert_eq!(stats["l2_flows"]["flows"], 3, "two units and the rogue");
    let faulty = events
        .iter()
        .find(|e| e["sv_id"] == "MU01MU0101" && e["lost"] != 0)
        .expect("the second with the lost samples");
    assert_eq!(
        (
            &faulty["lost"],
            &faulty["repeated"],
            &faulty["other_publisher"]
        ),
        (
            &Value::from(20),
            &Value::from(1),
            &Value::from("02:de:ad:be:ef:02")
        )
    );
    let got = alerts(&cap, &[]);
    let rules: Vec<(&str, &str)> = got
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap(),
                a["src"]["mac"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("protocol.sv_spoofing", "02:de:ad:be:ef:02"),
            ("protocol.sv_discontinuity", "00:0a:35:00:01:00")
        ]
    );
}

/// Zones by MAC and VLAN: the relay publishes inside its station-bus zone (allowed); the
/// forged publisher, listed in the engineering zone, publishes to the station bus without a
/// conduit (`policy.no_conduit`, naming its MAC), and with a conduit for MMS only
/// (`policy.protocol_not_allowed`); a conduit listing `goose` lets it through.
#[test]
fn a_goose_publisher_outside_its_zone_is_a_policy_alert() {
    let d = Scratch::new("goose-zones");
    let cap = substation().join("goose-forged.pcap");
    for (conduit, rule) in [
        ("", "policy.no_conduit"),
        (
            "[[conduits]]\nfrom = \"engineering\"\nto = \"station_bus\"\nprotocols = [\"mms\"]\n",
            "policy.protocol_not_allowed",
        ),
        (
            "[[conduits]]\nfrom = \"engineering\"\nto = \"station_bus\"\nprotocols = [\"goose\"]\n",
            "",
        ),
    ] {
        let cfg = d.path("zones.toml");
        std::fs::write(
            &cfg,
            format!(
                "[[zones]]\nname = \"station_bus\"\nvlans = [0]\nmacs = [\"0a:bb:fe:10:c9:02\"]\npurdue = 1\n\n\
                 [[zones]]\nname = \"engineering\"\nmacs = [\"02:de:ad:be:ef:01\"]\npurdue = 2\n\n{conduit}"
            ),
        )
        .unwrap();
        let got = alerts(&cap, &["--config".as_ref(), cfg.as_os_str()]);
        let policy: Vec<&Value> = got.iter().filter(|a| a["engine"] == "policy").collect();
        if rule.is_empty() {
            assert_eq!(policy, Vec::<&Value>::new());
            continue;
        }
        assert_eq!(policy.len(), 1, "{got:?}");
        let a = policy[0];
        assert_eq!(a["rule"], rule);
        assert_eq!(a["src"]["mac"], "02:de:ad:be:ef:01");
        assert_eq!(a["src"]["zone"], "engineering");
        assert_eq!(a["dst"]["zone"], "station_bus");
    }
}

/// The baseline learns each GOOSE control block (publisher, group, APPID, dataset,
/// confRev, heartbeat) and SV stream; detection names a stream it never heard and one
/// published from another MAC.
#[test]
fn the_baseline_learns_substation_streams_and_names_what_changed() {
    let d = Scratch::new("goose-baseline");
    let cfg = d.path("empty.toml");
    std::fs::write(&cfg, "").unwrap();
    let base = d.path("base.json");
    let real = own_pcaps().join("iec61850/iti-goose/Sample_File_GOOSE.pcap");
    learn_into(&cfg, &base, &real);
    learn_into(&cfg, &base, &substation().join("sv-faults.pcap"));
    let b = json(&base);
    let streams = b["streams"].as_array().unwrap();
    let ids: Vec<(&str, &str)> = streams
        .iter()
        .map(|s| (s["protocol"].as_str().unwrap(), s["id"].as_str().unwrap()))
        .collect();
    assert!(ids.contains(&("sv", "MU01MU0101")), "{ids:?}");
    let gcb = streams
        .iter()
        .find(|s| s["id"] == "AA1C1Q01A1LD0/LLN0$GO$gcb_A")
        .unwrap();
    assert_eq!(gcb["publisher"], "0a:bb:fe:10:c9:02");
    assert_eq!(gcb["dat_set"], "AA1C1Q01A1LD0/LLN0$InterlockingA");
    assert!(gcb["heartbeat_ms"].as_u64().unwrap() > 1000, "{gcb}");
    let (code, shown, err) = baseline_cmd(&["show".as_ref(), base.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        shown.contains("STREAMS") && shown.contains("AA1C1Q01A1LD0/LLN0$GO$gcb_A"),
        "{shown}"
    );
    let mut changed = b.clone();
    changed["streams"][0]["conf_rev"] = 7.into();
    let other = d.path("changed.json");
    std::fs::write(&other, changed.to_string()).unwrap();
    let (code, diff, err) = baseline_cmd(&["diff".as_ref(), base.as_os_str(), other.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        diff.contains("~ stream goose ") && diff.contains("confRev 1 -> 7"),
        "{diff}"
    );
    let detect = |cap: &Path| {
        alerts(
            cap,
            &[
                "-c".as_ref(),
                cfg.as_os_str(),
                "--baseline".as_ref(),
                base.as_os_str(),
            ],
        )
        .into_iter()
        .filter(|a| a["engine"] == "policy")
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["key"].as_str().unwrap().to_string(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(detect(&real), Default::default(), "the learned capture");
    let forged = detect(&substation().join("goose-forged.pcap"));
    assert_eq!(
        forged.into_iter().collect::<Vec<_>>(),
        [(
            "baseline.stream_changed".to_string(),
            "goose:AA1C1Q01A1LD0/LLN0$GO$gcb_A#publisher".to_string()
        )]
    );
    if let Some(shared) = shared_pcaps() {
        let other = detect(&shared.join("iec61850-goose-sv/iti-ics__GOOSE.pcap"));
        assert!(
            other.contains(&(
                "baseline.new_stream".to_string(),
                "goose:GEDeviceF650/LLN0$GO$gcb01".to_string()
            )),
            "{other:?}"
        );
    }
}

/// A layer-2 alert in every SIEM format: MACs where addresses would be, no empty address.
#[test]
fn layer_2_alerts_in_cef_leef_and_ocsf_carry_macs_and_no_address() {
    let cap = substation().join("goose-forged.pcap");
    for (format, src, no_ip) in [
        ("cef", "smac=02:de:ad:be:ef:01", " src="),
        ("leef", "srcMAC=02:de:ad:be:ef:01", "^src="),
        (
            "ocsf",
            "\"src_endpoint\":{\"mac\":\"02:de:ad:be:ef:01\"",
            "\"ip\"",
        ),
    ] {
        let d = Scratch::new("goose-fmt");
        let out = d.path("alerts");
        let args: [&OsStr; 5] = [
            cap.as_os_str(),
            "--alerts".as_ref(),
            out.as_os_str(),
            "--alert-format".as_ref(),
            format.as_ref(),
        ];
        let (code, _, err) = replay(&args);
        assert_eq!(code, 0, "{err}");
        let text = std::fs::read_to_string(&out).unwrap();
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.contains("goose_spoofing") && first.contains(src),
            "{format}: {first}"
        );
        assert!(!first.contains(no_ip), "{format}: {first}");
    }
}
