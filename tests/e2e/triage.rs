//! Decisions from the SIEM: `otsensor baseline learn` adds what an alert said was missing and
//! `otsensor baseline mute` silences it, each recorded in the baseline (who, when, why).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// Final records by id of a replay of `cap`, learning into or detecting with `baseline`.
fn replay_alerts(
    s: &Scratch,
    cap: &Path,
    baseline: &Path,
    learn: bool,
    tag: &str,
) -> (BTreeMap<String, Value>, Value) {
    let (alerts, stats) = (
        s.path(&format!("{tag}.jsonl")),
        s.path(&format!("{tag}-stats.json")),
    );
    let mut args: Vec<&std::ffi::OsStr> = vec![
        cap.as_os_str(),
        "--baseline".as_ref(),
        baseline.as_os_str(),
        "--alerts".as_ref(),
        alerts.as_os_str(),
        "--stats".as_ref(),
        stats.as_os_str(),
    ];
    if learn {
        args.push("--learn".as_ref());
    }
    let (code, _, err) = replay(&args);
    assert_eq!(code, 0, "{tag}: {err}");
    let mut last = BTreeMap::new();
    for l in std::fs::read_to_string(&alerts).unwrap_or_default().lines() {
        let a: Value = serde_json::from_str(l).unwrap();
        last.insert(a["id"].as_str().unwrap().to_string(), a);
    }
    (last, json(&stats))
}

/// Learns a baseline that knows nothing of the Modbus plant (one CIP packet).
fn seed(s: &Scratch, base: &Path) {
    let cap = own_pcaps().join("enip/iti-cip-stop-plc/cip_stop_plc.pcap");
    replay_alerts(s, &cap, base, true, "seed");
}

fn write_records(p: &Path, alerts: &[&Value]) {
    let text: String = alerts.iter().map(|a| format!("{a}\n")).collect();
    std::fs::write(p, text).unwrap();
}

#[test]
fn learning_each_alert_from_its_record_quiets_detection_and_leaves_an_audit_trail() {
    let s = Scratch::new("triage-learn");
    let base = s.path("b.json");
    seed(&s, &base);
    let first = std::fs::read_to_string(&base).unwrap();
    let plant = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let mut rounds = Vec::new();
    // An address alert names the first range outside the learned ones: learning it may leave
    // another range of the area outside, raised in the next round.
    for round in 0..40 {
        let (alerts, _) = replay_alerts(&s, &plant, &base, false, &format!("r{round}"));
        let baseline_alerts: Vec<&Value> = alerts
            .values()
            .filter(|a| a["rule"].as_str().unwrap().starts_with("baseline."))
            .collect();
        rounds.push(
            baseline_alerts
                .iter()
                .map(|a| a["rule"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
        );
        if baseline_alerts.is_empty() {
            break;
        }
        let f = s.path(&format!("r{round}-decide.jsonl"));
        write_records(&f, &baseline_alerts);
        let (code, out, err) = baseline_cmd(&[
            "learn".as_ref(),
            base.as_os_str(),
            f.as_os_str(),
            "--by".as_ref(),
            "analyst@soc".as_ref(),
            "--reason".as_ref(),
            "normal plant traffic".as_ref(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out.lines().count(), baseline_alerts.len(), "{out}");
    }
    assert!(
        rounds.last().is_some_and(Vec::is_empty),
        "detection still raises after learning every alert: {rounds:?}"
    );
    // First the hosts, then their edges, then what the edges carry.
    assert!(
        rounds[0].iter().all(|r| r == "baseline.new_asset"),
        "{rounds:?}"
    );
    assert!(rounds.len() >= 3, "{rounds:?}");
    // The audit trail: shown, and in the diff from the first baseline.
    let (_, show, _) = baseline_cmd(&["show".as_ref(), base.as_os_str()]);
    assert!(show.contains("DECISIONS"), "{show}");
    assert!(
        show.contains("learn alert") && show.contains("by analyst@soc"),
        "{show}"
    );
    assert!(show.contains("(normal plant traffic)"), "{show}");
    let old = s.path("first.json");
    std::fs::write(&old, first).unwrap();
    let (_, diff, _) = baseline_cmd(&["diff".as_ref(), old.as_os_str(), base.as_os_str()]);
    assert!(diff.contains("+ decision"), "{diff}");
}

#[test]
fn a_muted_alert_is_not_raised_again_and_others_are() {
    let s = Scratch::new("triage-mute");
    let base = s.path("b.json");
    seed(&s, &base);
    let plant = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let (before, _) = replay_alerts(&s, &plant, &base, false, "before");
    assert!(before.len() >= 2, "{before:?}");
    let id = before.keys().next().unwrap().clone();
    let (code, _, err) = baseline_cmd(&[
        "mute".as_ref(),
        base.as_os_str(),
        id.as_ref(),
        "--by".as_ref(),
        "soc".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (after, stats) = replay_alerts(&s, &plant, &base, false, "after");
    assert!(!after.contains_key(&id), "the muted alert was raised again");
    assert_eq!(after.len(), before.len() - 1);
    assert!(
        stats["alerts"]["muted"].as_u64().unwrap() > 0,
        "{}",
        stats["alerts"]
    );
}

#[test]
fn an_operational_alert_learned_is_known_and_a_forged_record_is_refused() {
    let s = Scratch::new("triage-op");
    let base = s.path("b.json");
    let plant = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    replay_alerts(&s, &plant, &base, true, "seed");
    let stop = own_pcaps().join("enip/iti-cip-stop-plc/cip_stop_plc.pcap");
    let (alerts, _) = replay_alerts(&s, &stop, &base, false, "before");
    let op: Vec<&Value> = alerts
        .values()
        .filter(|a| a["rule"] == "operational.plc_stop")
        .collect();
    assert_eq!(op.len(), 1, "{alerts:?}");
    let f = s.path("op.jsonl");
    write_records(&f, &op);
    let (code, _, err) = baseline_cmd(&["learn".as_ref(), base.as_os_str(), f.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let (again, _) = replay_alerts(&s, &stop, &base, false, "after");
    assert!(
        again.values().all(|a| a["rule"] != "operational.plc_stop"),
        "{again:?}"
    );
    // A record whose key does not give its id is refused, naming the alert.
    let mut forged = op[0].clone();
    forged["key"] = Value::from("10.9.9.9>10.9.9.8/enip");
    write_records(&f, &[&forged]);
    let (code, _, err) = baseline_cmd(&["learn".as_ref(), base.as_os_str(), f.as_os_str()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("do not give its id"), "{err}");
}
