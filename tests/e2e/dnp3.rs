//! DNP3 against Wireshark, Zeek and Suricata on the public corpus, and the hostile captures.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

const LINK_FUNCTION_WITHOUT_DATA: &str = "opendnp3 conformance test of link frames whose \
    function carries no user data (PRM functions 2 TEST_LINK_STATES, 5 and 10 undefined) but \
    which are followed by a READ: the outstation under test discards them (the test checks \
    that it does not answer), and so does otsensor; tshark dissects the payload as an \
    application fragment anyway";

const PINNED: &[Pinned<'_>] = &[
    (
        "dnp3/iti-ics__opendnp3conf-6.6.2.2__dump.pcap",
        "1",
        1,
        3,
        LINK_FUNCTION_WITHOUT_DATA,
    ),
    (
        "dnp3/iti-ics__opendnp3conf-6.6.2.5__dump.pcap",
        "1",
        2,
        3,
        LINK_FUNCTION_WITHOUT_DATA,
    ),
];

#[test]
fn function_codes_match_tshark() {
    compare_with_tshark("dnp3.al.func", "dnp3", "function_code", PINNED);
}

/// Zeek's dnp3.log next to each capture: every reply (function, IIN) and every request Zeek
/// logs is in our events, and vice versa. Zeek writes one row per reply and keeps only the
/// latest request of a transaction, so a request followed by another before any reply is not
/// logged; for zeek__dnp3.pcap that drops one DISABLE_UNSOLICITED and one STOP_APPL, which
/// tshark counts (and so do we: see function_codes_match_tshark).
#[test]
fn replies_and_requests_agree_with_zeek() {
    let Some(dir) = shared_pcaps() else { return };
    let alias = |n: &str| match n {
        "STOP_APPL" => "STOP_APPLICATION".to_string(),
        "START_APPL" => "START_APPLICATION".to_string(),
        "INITIALIZE_APPL" => "INITIALIZE_APPLICATION".to_string(),
        n => n.to_string(),
    };
    let mut logs: Vec<_> = std::fs::read_dir(dir.join("dnp3"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".dnp3.log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 10);
    let mut failures = Vec::new();
    for log in logs {
        let name = log.file_name().unwrap().to_string_lossy().to_string();
        let base = name.split(".zeek-").next().unwrap();
        let (mut zrep, mut zreq) = (
            BTreeMap::<(String, String), u64>::new(),
            BTreeMap::<String, u64>::new(),
        );
        for l in std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            let f: Vec<&str> = l.split('\t').collect();
            if f[7] != "-" {
                *zrep
                    .entry((f[7].to_string(), f[8].to_string()))
                    .or_default() += 1;
            }
            if f[6] != "-" && f[6] != "CONFIRM" {
                *zreq.entry(alias(f[6])).or_default() += 1;
            }
        }
        if base == "zeek__dnp3" {
            *zreq.get_mut("DISABLE_UNSOLICITED").unwrap() += 1;
            *zreq.get_mut("STOP_APPLICATION").unwrap() += 1;
        }
        let (events, _) = replay_events(&dir.join(format!("dnp3/{base}.pcap")));
        let (mut orep, mut oreq) = (
            BTreeMap::<(String, String), u64>::new(),
            BTreeMap::<String, u64>::new(),
        );
        for e in events.iter().filter(|e| e.get("function_code").is_some()) {
            let f = e["function"].as_str().unwrap().to_uppercase();
            if e["direction"] == "response" {
                *orep.entry((f, e["iin"].to_string())).or_default() += 1;
            } else if e["function_code"] != 0 {
                *oreq.entry(f).or_default() += 1;
            }
        }
        if orep != zrep || oreq != zreq {
            failures.push(format!(
                "{base}: replies ours {orep:?} zeek {zrep:?}; requests ours {oreq:?} zeek {zreq:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `- filter:` blocks of a suricata-verify test.yaml: (count, match fields).
fn sv_filters(path: &Path) -> Vec<(u64, Vec<(String, String)>)> {
    let mut out: Vec<(u64, Vec<(String, String)>)> = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let t = line.trim();
        if t == "- filter:" {
            out.push((0, Vec::new()));
        } else if let (Some(last), Some((k, v))) = (out.last_mut(), t.split_once(": ")) {
            if k == "count" && line.starts_with("    count") {
                last.0 = v.parse().unwrap();
            } else if line.starts_with("      ") {
                last.1
                    .push((k.to_string(), v.trim_matches('\'').to_string()));
            }
        }
    }
    out
}

/// Our event's value for a Suricata eve field, as text; `None` when the field has no
/// counterpart (flow-level addresses, packet numbers).
fn ours(e: &Value, key: &str) -> Option<String> {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let fc = e["function_code"].as_u64().unwrap_or(999);
    Some(match key {
        "event_type" => "dnp3".into(),
        "dnp3.type" => match fc {
            129 => "response".into(),
            130 => "unsolicited_response".into(),
            _ => "request".into(),
        },
        "dnp3.src" => s(&e["link_src"]),
        "dnp3.dst" => s(&e["link_dst"]),
        "dnp3.control.pri" => s(&e["link_prm"]),
        "dnp3.control.dir" => s(&e["link_dir"]),
        "dnp3.control.fcb" => s(&e["link_fcb"]),
        "dnp3.control.fcv" => s(&e["link_fcv"]),
        "dnp3.control.function_code" => s(&e["link_function"]),
        "dnp3.application.function_code" => fc.to_string(),
        "dnp3.application.complete" => "true".into(),
        k if k.starts_with("dnp3.application.control.") => {
            let f = k.rsplit('.').next().unwrap();
            s(&e["app_control"][if f == "sequence" { "seq" } else { f }])
        }
        k if k.starts_with("dnp3.iin.indicators[") => {
            let i: usize = k[20..k.len() - 1].parse().unwrap();
            s(&e["iin_flags"][i])
        }
        k if k.starts_with("dnp3.application.objects[") => {
            let close = k.find(']').unwrap();
            let i: usize = k[25..close].parse().unwrap();
            let o = &e["objects"][i];
            let rest = &k[close + 2..];
            let q = o["qualifier"].as_u64().unwrap_or(0);
            let (start, stop) = match &o["range"] {
                Value::Object(m) if m.contains_key("start_stop") => {
                    (s(&m["start_stop"]["start"]), s(&m["start_stop"]["stop"]))
                }
                _ => ("0".into(), "0".into()),
            };
            match rest {
                "group" | "variation" | "qualifier" | "count" => s(&o[rest]),
                "prefix_code" => ((q >> 4) & 7).to_string(),
                "range_code" => (q & 15).to_string(),
                "start" => start,
                "stop" => stop,
                r if r.starts_with("points[") => {
                    let close = r.find(']').unwrap();
                    let j: usize = r[7..close].parse().unwrap();
                    let p = &o["points"][j];
                    if p.is_null() && e["points_truncated"] == true {
                        // Past the per-event cap on points: not in our event to compare.
                        return None;
                    }
                    let flags = p["flags"].as_u64().unwrap_or(0);
                    let bit = |b: u64| if flags & b != 0 { "1" } else { "0" }.to_string();
                    match &r[close + 2..] {
                        "index" => s(&p["index"]),
                        // Suricata's prefix is the index prefix, 0 for unprefixed objects.
                        "prefix" if (1..=3).contains(&((q >> 4) & 7)) => s(&p["index"]),
                        "prefix" if (q >> 4) & 7 == 0 => "0".into(),
                        "online" => bit(0x01),
                        "restart" => bit(0x02),
                        "comm_lost" => bit(0x04),
                        "remote_forced" => bit(0x08),
                        "local_forced" => bit(0x10),
                        "chatter_filter" | "rollover" | "over_range" => bit(0x20),
                        "discontinuity" | "reference_err" => bit(0x40),
                        // Suricata's g2v1 "state" is the whole flags octet (1 online, 129 online
                        // and on); Wireshark and otsensor read bit 7 as the value, the rest as
                        // flags.
                        "state" if o["group"] == 2 && o["variation"] == 1 => s(&p["flags"]),
                        "state" => match &p["value"] {
                            Value::Bool(b) => u8::from(*b).to_string(),
                            v => s(v),
                        },
                        "value" => s(&p["value"]),
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// Suricata's own expectations on its DNP3 reference trace (suricata-verify dnp3-eve): every
/// filter on `event_type: dnp3` matches as many of our events, field by field, except that
/// Suricata does not log application confirms, which we report as events of their own.
#[test]
fn suricata_eve_expectations_hold() {
    let Some(dir) = shared_pcaps() else { return };
    let (events, _) = replay_events(&dir.join("dnp3/suricata-verify__dnp3-eve__input.pcap"));
    let events: Vec<Value> = events
        .into_iter()
        .filter(|e| e.get("function_code").is_some_and(|f| f != 0))
        .collect();
    let filters =
        sv_filters(&dir.join("dnp3/suricata-verify__dnp3-eve__input.sv-dnp3-eve.test.yaml"));
    let mut checked = 0;
    let mut failures = Vec::new();
    for (count, fields) in filters {
        if !fields.iter().any(|(k, v)| k == "event_type" && v == "dnp3") {
            continue;
        }
        let n = events
            .iter()
            .filter(|e| {
                fields
                    .iter()
                    .all(|(k, v)| ours(e, k).is_none_or(|o| &o == v))
            })
            .count() as u64;
        if fields.iter().any(|(k, _)| k == "pcap_cnt") {
            // The filter names one packet (Suricata's pcap_cnt is where it logged the
            // transaction, often a few packets after the one that completed it, so it is not
            // compared); equal events elsewhere in the capture match too.
            if n < count {
                let pcap = fields
                    .iter()
                    .find(|(k, _)| k == "pcap_cnt")
                    .map(|(_, v)| v.clone());
                failures.push(format!("pcap_cnt {pcap:?}: {n} < {count}"));
            }
            checked += 1;
            continue;
        }
        if n != count {
            let brief: Vec<_> = fields
                .iter()
                .filter(|(k, _)| !k.contains("objects["))
                .collect();
            failures.push(format!("filter {brief:?}: {n} != {count}"));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 20, "only {checked} filters checked");
}

fn flags_of(events: &[Value]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in events {
        for f in e["flags"].as_array().into_iter().flatten() {
            *m.entry(f.as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    m
}

/// The hostile captures parse without panic and raise the right flags.
#[test]
fn hostile_captures_raise_flags() {
    let Some(dir) = shared_pcaps() else { return };
    let d = |f: &str| dir.join("dnp3").join(f);
    // 33 requests and no answer: the 33rd is a flood.
    let (ev, _) = replay_events(&d("suricata-verify__dnp3-flood__input.pcap"));
    assert_eq!(ev.len(), 33);
    assert_eq!(flags_of(&ev).get("request_flood"), Some(&1));
    assert!(ev[32]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "request_flood"));
    // A WRITE of 65535 binary points.
    let (ev, _) = replay_events(&d("suricata-verify__dnp3-max-points__test.pcap"));
    assert!(flags_of(&ev).contains_key("too_many_points"), "{ev:?}");
    // Fragments that never end grow past the reassembly cap.
    for f in [
        "suricata-verify__dnp3-too-long-reassembly-request__input.pcap",
        "suricata-verify__dnp3-too-long-reassembly-response__input.pcap",
    ] {
        let (ev, stats) = replay_events(&d(f));
        assert_eq!(flags_of(&ev).get("fragment_too_long"), Some(&1), "{f}");
        assert_eq!(
            stats["protocols"]["dnp3"]["other"]["fragments_too_long"], 1,
            "{f}"
        );
    }
    // Fuzzed Operate requests: every one still reported, with what is wrong.
    let (ev, stats) = replay_events(&d("iti-ics__DNP3-Malformed.pcap"));
    assert_eq!(ev.iter().filter(|e| e["function_code"] == 4).count(), 197);
    let fl = flags_of(&ev);
    for f in [
        "truncated",
        "invalid_range",
        "bad_qualifier",
        "too_many_points",
        "unknown_object",
    ] {
        assert!(fl.contains_key(f), "{f}: {fl:?}");
    }
    assert!(stats["protocols"]["dnp3"]["parse_errors"].as_u64().unwrap() > 100);
    // Large frames of a fragment that never finishes (a Zeek assertion once): counted.
    let (_, stats) = replay_events(&d("zeek__dnp3-flowbuffer-overflow-assert.pcap"));
    assert_eq!(
        stats["protocols"]["dnp3"]["other"]["incomplete_fragments"],
        1
    );
    // A flow that starts with the outstation's response (midstream).
    let (ev, _) = replay_events(&d("suricata-verify__dnp3_toclient_start.pcap"));
    assert!(ev.iter().any(|e| e["direction"] == "response"));
}

/// DNP3 on TCP port 20001 is found by the content probe.
#[test]
fn non_standard_port_found_by_probe() {
    let Some(dir) = shared_pcaps() else { return };
    let (ev, stats) = replay_events(&dir.join("dnp3/zeek__dnp3_read_p20001.pcap"));
    assert_eq!(stats["protocols"]["dnp3"]["flows_on_other_ports"], 1);
    let fcs: Vec<u64> = ev
        .iter()
        .filter_map(|e| e["function_code"].as_u64())
        .collect();
    assert_eq!(fcs, vec![1, 129]);
}

/// Select-before-operate on the opendnp3 conformance captures: an OPERATE executing its
/// SELECT carries the delay; a retry of that OPERATE (same sequence number) is the same
/// execution; a second OPERATE (new sequence number, which the outstation refuses with
/// NO_SELECT) is flagged and raises `protocol.select_before_operate`.
#[test]
fn operates_pair_with_their_selects() {
    let run = |case: &str| {
        let cap = own_pcaps().join(format!("dnp3/opendnp3-conformance-{case}/dump.pcap"));
        let scratch = Scratch::new(&format!("dnp3-sbo-{case}"));
        let (events, alerts) = (scratch.path("events.jsonl"), scratch.path("alerts.jsonl"));
        let (code, _, stderr) = replay(&[
            cap.as_os_str(),
            std::ffi::OsStr::new("--events"),
            events.as_os_str(),
            std::ffi::OsStr::new("--alerts"),
            alerts.as_os_str(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        let operates: Vec<(Option<i64>, bool)> = jsonl(&events)
            .iter()
            .filter(|e| e["function_code"] == 4)
            .map(|e| {
                (
                    e["select_delay_us"].as_i64(),
                    flags_of(std::slice::from_ref(e)).contains_key("operate_without_select"),
                )
            })
            .collect();
        let raised = jsonl(&alerts)
            .iter()
            .filter(|a| a["rule"] == "protocol.select_before_operate")
            .count();
        (operates, raised)
    };
    let (ops, raised) = run("8.2.1.2.13");
    assert!(
        ops.iter()
            .all(|(delay, flagged)| delay.is_some() && !flagged),
        "{ops:?}"
    );
    assert_eq!((ops.len(), raised), (2, 0));
    let (ops, raised) = run("8.2.1.2.14");
    assert!(ops[0].0.is_some() && !ops[0].1, "{ops:?}");
    assert!(ops[1].0.is_none() && ops[1].1, "{ops:?}");
    assert_eq!((ops.len(), raised), (2, 1));
}
