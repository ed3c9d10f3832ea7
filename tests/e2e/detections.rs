//! Detections end to end: the attack captures of the corpus (PLC stop, downloads, restarts,
//! passwords, fuzzed and malformed traffic) and the project's synthetic reconnaissance
//! capture raise exactly the expected alerts, with their rule ids and ATT&CK techniques;
//! alerts learned into a baseline are not raised again, others still are.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

/// Replays `args` and returns the final record of every alert by id.
fn alerts_of(args: &[&OsStr]) -> BTreeMap<String, Value> {
    let dir = Scratch::new("det");
    let out = dir.path("alerts.jsonl");
    let mut all: Vec<&OsStr> = args.to_vec();
    all.extend(["--alerts".as_ref(), out.as_os_str()]);
    let (code, _, err) = replay(&all);
    assert_eq!(code, 0, "{args:?}: {err}");
    let mut by_id = BTreeMap::new();
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let a: Value = serde_json::from_str(line).unwrap();
        by_id.insert(a["id"].as_str().unwrap().to_string(), a);
    }
    by_id
}

/// (rule, src, dst) of every alert.
fn summary(alerts: &BTreeMap<String, Value>) -> BTreeSet<(String, String, String)> {
    alerts
        .values()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["src"]["ip"].as_str().unwrap().to_string(),
                a["dst"]["ip"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

fn set(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(r, s, d)| (r.to_string(), s.to_string(), d.to_string()))
        .collect()
}

fn techniques(alerts: &BTreeMap<String, Value>, rule: &str) -> Vec<String> {
    let a = alerts
        .values()
        .find(|a| a["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} alert"));
    assert_eq!(a["attack"]["framework"], "MITRE ATT&CK for ICS v19");
    a["attack"]["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| match t.get("v19_id") {
            Some(v) => format!("{}>{}", t["id"].as_str().unwrap(), v.as_str().unwrap()),
            None => t["id"].as_str().unwrap().to_string(),
        })
        .collect()
}

fn recon() -> PathBuf {
    own_pcaps().join("synthetic/recon-and-rogue-master/recon.pcap")
}

/// The synthetic reconnaissance capture: every anomaly rule, once per scanner and target.
#[test]
fn reconnaissance_and_rogue_master() {
    let a = alerts_of(&[recon().as_os_str()]);
    let (att, plc, s7) = ("10.20.0.66", "10.20.0.10", "10.20.0.11");
    assert_eq!(
        summary(&a),
        set(&[
            ("anomaly.host_scan", att, "-"),
            ("anomaly.port_scan", att, plc),
            ("anomaly.unit_scan", att, plc),
            ("anomaly.new_master_write", att, plc),
            ("anomaly.excessive_sessions", att, plc),
            ("anomaly.szl_enumeration", att, s7),
            // The PLC answers the scanned units 2-20 with exception 11.
            ("protocol.exception", att, plc),
        ])
    );
    assert_eq!(techniques(&a, "anomaly.host_scan"), ["T0846"]);
    assert_eq!(techniques(&a, "anomaly.szl_enumeration"), ["T0888"]);
    assert_eq!(
        techniques(&a, "anomaly.new_master_write"),
        ["T0848", "T0855>T1692.001"]
    );
    let nm = a
        .values()
        .find(|a| a["rule"] == "anomaly.new_master_write")
        .unwrap();
    assert_eq!(nm["evidence"]["expected"]["master"], "10.20.0.5");
    assert_eq!(nm["count"], 1);
    let ex = a
        .values()
        .find(|a| a["rule"] == "protocol.exception")
        .unwrap();
    assert_eq!(ex["count"], 19);
    // The same with three workers: the anomaly engine runs on facts in input order.
    let b = alerts_of(&[recon().as_os_str(), "--workers".as_ref(), "3".as_ref()]);
    let counts = |m: &BTreeMap<String, Value>| -> Vec<(String, u64)> {
        m.iter()
            .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(counts(&a), counts(&b));
}

/// Alerts raised while learning are recorded in the baseline and not raised again when
/// detecting; alerts the baseline has not seen still are.
#[test]
fn learned_alerts_are_not_repeated_but_new_ones_are() {
    let dir = Scratch::new("learned");
    let b = dir.path("b.json");
    let learn = |caps: &[&Path]| {
        let mut args: Vec<&OsStr> = caps.iter().map(|p| p.as_os_str()).collect();
        args.extend(["--learn".as_ref(), "--baseline".as_ref(), b.as_os_str()]);
        alerts_of(&args)
    };
    let p502 =
        own_pcaps().join("modbus/zeek-modbus-and-non-modbus-p502/modbus-and-non-modbus-p502.pcap");
    let during = learn(&[&p502]);
    assert_eq!(during.len(), 5, "{during:?}");
    let base = json(&b);
    assert_eq!(base["schema_version"], 4);
    let learned: BTreeSet<&str> = base["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert_eq!(learned, BTreeSet::from(["protocol.non_ot_on_ot_port"]));
    // Detecting on the same traffic plus the reconnaissance: only the new alerts.
    let after = alerts_of(&[
        p502.as_os_str(),
        recon().as_os_str(),
        "--baseline".as_ref(),
        b.as_os_str(),
    ]);
    let rules: BTreeSet<&str> = after
        .values()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert!(!rules.contains("protocol.non_ot_on_ot_port"), "{rules:?}");
    assert!(rules.contains("anomaly.port_scan"), "{rules:?}");
    // The reconnaissance hosts are new to the baseline.
    assert!(rules.contains("baseline.new_asset"), "{rules:?}");
}

/// Attack captures of the public corpus: (file, expected (rule, src, dst), one rule whose
/// techniques are checked, its techniques).
#[test]
fn attack_captures_raise_the_expected_alerts() {
    let Some(dir) = shared_pcaps() else {
        return;
    };
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str, &'a str)],
        &'a str,
        &'a [&'a str],
    );
    let s300 = ("134.249.62.199", "134.249.61.163");
    let tia = ("134.217.61.131", "134.217.61.211");
    let cases: &[Case<'_>] = &[
        (
            "s7comm/iti-ics__step7_s300_stop.pcapng",
            &[("operational.plc_stop", s300.0, s300.1)],
            "operational.plc_stop",
            &["T0858", "T0881"],
        ),
        (
            "s7comm/iti-ics__s7comm_downloading_block_db1.pcap",
            &[
                (
                    "operational.program_download",
                    "192.168.1.10",
                    "192.168.1.40",
                ),
                // _INSE: activate the downloaded block.
                ("operational.s7_pi_service", "192.168.1.10", "192.168.1.40"),
            ],
            "operational.program_download",
            &["T0843", "T0889"],
        ),
        (
            "s7comm/iti-ics__step7_s300_AuthPassword.pcapng",
            &[(
                "operational.password_in_clear",
                "134.249.62.230",
                "134.249.61.163",
            )],
            "operational.password_in_clear",
            &["T0859"],
        ),
        (
            // TIA Portal downloading a hardware configuration: stop, delete, download,
            // activate, start; one PI service refused by the PLC.
            "s7comm/iti-ics__tia_s300_downloadHwConfig.pcapng",
            &[
                ("operational.plc_stop", tia.0, tia.1),
                ("operational.s7_block_delete", tia.0, tia.1),
                ("operational.program_download", tia.0, tia.1),
                ("operational.s7_pi_service", tia.0, tia.1),
                ("operational.plc_start", tia.0, tia.1),
                ("protocol.exception", tia.0, tia.1),
            ],
            "operational.s7_block_delete",
            &["T0889", "T0809"],
        ),
        (
            // Snap7's test client against an S7-300: uploads, copy RAM to ROM, compress
            // memory, stop and start.
            "s7comm/icsnpp-s7comm__snap7.pcap",
            &[
                ("operational.plc_stop", tia.0, tia.1),
                ("operational.plc_start", tia.0, tia.1),
                ("operational.program_upload", tia.0, tia.1),
                ("operational.s7_copy_ram_to_rom", tia.0, tia.1),
                ("operational.s7_pi_service", tia.0, tia.1),
                ("protocol.exception", tia.0, tia.1),
            ],
            "operational.program_upload",
            &["T0845"],
        ),
        (
            "dnp3/iti-ics__cold_restart_and_response.pcap",
            &[
                (
                    "operational.device_restart",
                    "192.168.60.1",
                    "192.168.60.130",
                ),
                // The outstation answers with IIN2 "function code not supported".
                ("protocol.exception", "192.168.60.1", "192.168.60.130"),
            ],
            "operational.device_restart",
            &["T0816"],
        ),
        (
            "dnp3/iti-ics__disable_unsolcited_and_response.pcap",
            &[(
                "operational.dnp3_disable_unsolicited",
                "192.168.60.1",
                "192.168.60.130",
            )],
            "operational.dnp3_disable_unsolicited",
            &["T0804>T1691.002", "T0815"],
        ),
        (
            // Fuzzed Operate requests: broken headers, truncated objects, and point counts
            // past what a fragment can hold.
            // Fuzzed OPERATEs, none after a SELECT.
            "dnp3/iti-ics__DNP3-Malformed.pcap",
            &[
                ("protocol.malformed", "192.168.0.1", "192.168.0.2"),
                ("protocol.oversized", "192.168.0.1", "192.168.0.2"),
                (
                    "protocol.select_before_operate",
                    "192.168.0.1",
                    "192.168.0.2",
                ),
            ],
            "protocol.malformed",
            &["T0866", "T0814"],
        ),
        (
            "dnp3/suricata-verify__dnp3-too-long-reassembly-request__input.pcap",
            &[("protocol.oversized", "10.0.0.1", "10.0.0.2")],
            "protocol.oversized",
            &["T0814", "T0866"],
        ),
        (
            "modbus/zeek__fuzz-72.pcap",
            &[
                (
                    "protocol.illegal_function",
                    "192.168.66.235",
                    "166.161.16.230",
                ),
                ("protocol.exception", "192.168.66.235", "166.161.16.230"),
            ],
            "protocol.illegal_function",
            &["T0855>T1692.001"],
        ),
        (
            // A sweep of every function code 0-127.
            "modbus/iti-ics__modbus_test_data_part2.pcap",
            &[
                (
                    "protocol.illegal_function",
                    "192.168.66.235",
                    "166.161.16.230",
                ),
                ("protocol.exception", "192.168.66.235", "166.161.16.230"),
                ("protocol.malformed", "192.168.66.235", "166.161.16.230"),
                (
                    "protocol.exception_storm",
                    "192.168.66.235",
                    "166.161.16.230",
                ),
            ],
            "protocol.exception_storm",
            &["T0861", "T0806"],
        ),
        (
            // Schneider UMAS: the engineering tool reads the application from the PLC.
            "modbus/iti-ics__modicon_test.pcap",
            &[(
                "operational.program_upload",
                "192.168.63.100",
                "192.168.63.253",
            )],
            "operational.program_upload",
            &["T0845"],
        ),
    ];
    let mut failures = Vec::new();
    for (file, want, rule, techs) in cases {
        let a = alerts_of(&[dir.join(file).as_os_str()]);
        let got = summary(&a);
        let want = set(want);
        if got != want {
            failures.push(format!("{file}:\n  got  {got:?}\n  want {want:?}"));
            continue;
        }
        let t = techniques(&a, rule);
        if t != *techs {
            failures.push(format!("{file}: {rule} techniques {t:?}, want {techs:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The rule catalog: every rule has a rationale, a valid severity and, outside the
/// exception and policy hygiene rules, ATT&CK techniques; `otsensor rules` lists them all.
#[test]
fn rule_catalog_is_complete() {
    let out = run_with_timeout(
        std::process::Command::new(bin()).arg("rules"),
        std::time::Duration::from_secs(30),
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for id in [
        "operational.plc_stop",
        "operational.program_download",
        "operational.modbus_listen_only",
        "protocol.malformed",
        "protocol.non_ot_on_ot_port",
        "anomaly.host_scan",
        "anomaly.excessive_sessions",
        "policy.no_conduit",
        "baseline.new_edge",
    ] {
        assert!(
            text.contains(id),
            "{id} missing from otsensor rules:\n{text}"
        );
    }
    assert!(text.contains("T0855(T1692.001)"), "v19 ids listed:\n{text}");
}
