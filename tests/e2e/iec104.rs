//! IEC 60870-5-104 against Wireshark on the public corpus: one event per ASDU with the type
//! id Wireshark's `iec60870_asdu.typeid` shows, U and S frames as events of their own, and
//! commands raising their operational rule.

use serde_json::Value;

use crate::util::*;

/// ASDUs per type id equal tshark's on every IEC 104 capture of the corpus (including the
/// dissector test capture, whose streams start with junk before each APDU).
#[test]
fn type_ids_match_tshark() {
    compare_with_tshark("iec60870_asdu.typeid", "iec104", "function_code", &[]);
}

/// Frames of every format are events; commands raise `operational.iec104_command`.
#[test]
fn frames_and_commands() {
    let cap = own_pcaps().join("iec104/iti-090813-diverse/090813_diverse.pcap");
    let (events, stats) = replay_events(&cap);
    let iec: Vec<&Value> = events
        .iter()
        .filter(|e| e["protocol"] == "iec104")
        .collect();
    for format in ["i", "s", "u"] {
        assert!(
            iec.iter().any(|e| e["format"] == format),
            "no {format} frame"
        );
    }
    assert!(iec.iter().any(|e| e["function"] == "testfr_act"
        && e["operation"] == "diagnostics"
        && e.get("function_code").is_none()));
    let measured = iec
        .iter()
        .find(|e| e["function"] == "M_ME_NC_1")
        .expect("a short float measurement");
    assert!(measured["objects"][0]["value"].is_number(), "{measured}");
    assert!(measured["unit"].is_u64() && measured["addresses"][0]["area"] == "ioa");
    assert_eq!(stats["protocols"]["iec104"]["parse_errors"], 0, "{stats}");
    let scratch = Scratch::new("iec104-alerts");
    let alerts = scratch.path("alerts.jsonl");
    let (code, _, stderr) = replay(&[
        cap.as_os_str(),
        std::ffi::OsStr::new("--alerts"),
        alerts.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&alerts).unwrap();
    assert!(
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .any(|a| a["rule"] == "operational.iec104_command" && a["protocol"] == "iec104"),
        "{text}"
    );
}

/// The controlling station is the master, the controlled one the outstation.
#[test]
fn stations_get_their_roles() {
    let cap = own_pcaps().join("iec104/iti-test-dissect-iec104/TestDissectIec104.pcap");
    let scratch = Scratch::new("iec104-assets");
    let assets = scratch.path("assets.json");
    let (code, _, stderr) = replay(&[
        cap.as_os_str(),
        std::ffi::OsStr::new("--assets"),
        assets.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let assets = json(&assets);
    let list = assets["assets"]
        .as_array()
        .or(assets.as_array())
        .expect("an asset list");
    let roles = |role: &str| {
        list.iter()
            .filter(|a| {
                a["roles"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == role))
            })
            .count()
    };
    assert!(
        roles("iec104_master") >= 1 && roles("iec104_outstation") >= 1,
        "{assets}"
    );
}

/// The synthetic sessions (pcaps/iec104/synthetic-sessions, written with their ground truth)
/// are read by Wireshark as by us: the same ASDUs per type id, and nothing malformed.
#[test]
fn synthetic_sessions_match_tshark() {
    let cap = own_pcaps().join("iec104/synthetic-sessions/sessions.pcap");
    let tshark = |args: &[&str]| {
        std::process::Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(&cap)
            .args(args)
            .output()
    };
    let out = match tshark(&[
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "iec60870_asdu.typeid",
    ]) {
        Ok(o) if o.status.success() => o,
        _ => {
            skip("tshark not installed (scripts/test.sh installs it)");
            return;
        }
    };
    let mut theirs = std::collections::BTreeMap::<String, u64>::new();
    for t in String::from_utf8_lossy(&out.stdout)
        .split([',', '\n'])
        .filter(|t| !t.is_empty())
    {
        *theirs.entry(t.to_string()).or_default() += 1;
    }
    let (events, _) = replay_events(&cap);
    let mut ours = std::collections::BTreeMap::<String, u64>::new();
    for e in events
        .iter()
        .filter(|e| e["protocol"] == "iec104" && e["function_code"].is_u64())
    {
        *ours.entry(e["function_code"].to_string()).or_default() += 1;
        assert!(e.get("flags").is_none(), "{e}");
    }
    assert_eq!(ours, theirs);
    let malformed = tshark(&["-Y", "_ws.malformed || _ws.expert.severity >= 8388608"]).unwrap();
    assert!(
        malformed.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&malformed.stdout)
    );
}

/// Select-before-operate on the corpus capture: every execute of a selected point carries
/// its select's delay, the double command sent without a select (a point never selected) is
/// a legitimate direct execute, and nothing is flagged or raised.
#[test]
fn executes_pair_with_their_selects() {
    let cap = own_pcaps().join("iec104/iti-090813-diverse/090813_diverse.pcap");
    let (events, stats) = replay_events(&cap);
    let executes: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["protocol"] == "iec104"
                && e["direction"] == "request"
                && e["sub_function"] == 6
                && e["function_code"]
                    .as_u64()
                    .is_some_and(|t| (45..=64).contains(&t))
                && !e["objects"][0]["quality"]
                    .as_array()
                    .is_some_and(|q| q.iter().any(|x| x == "select"))
        })
        .collect();
    let paired = executes
        .iter()
        .filter(|e| e["select_delay_us"].is_i64())
        .count();
    let direct: Vec<u64> = executes
        .iter()
        .filter(|e| e["select_delay_us"].is_null())
        .map(|e| e["function_code"].as_u64().unwrap())
        .collect();
    assert_eq!((paired, direct), (8, vec![46, 46]), "{executes:?}");
    assert!(
        executes.iter().all(|e| e["flags"].is_null()),
        "{executes:?}"
    );
    // (Counters at zero are left out.)
    assert!(
        stats["protocols"]["iec104"]["other"]
            .get("selects_not_executed")
            .is_none(),
        "{stats}"
    );
}
