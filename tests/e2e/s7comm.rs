//! S7comm and S7comm-plus against Wireshark and CISA's ICSNPP Zeek logs, and the operations
//! of the attack-relevant captures.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

const ACK_BEFORE_DATA: &str = "12 read-var responses (e.g. frame 398) are the only copies of \
    their bytes and were captured after the client's ACK for them (frame 397); tshark labels \
    them spurious retransmissions and does not dissect them, otsensor delivers them in sequence";

const PINNED_FUNCTIONS: &[Pinned<'_>] = &[(
    "s7comm/iti-ics__s7comm_clean.pcap",
    "4",
    5274,
    5262,
    ACK_BEFORE_DATA,
)];
const PINNED_ROSCTR: &[Pinned<'_>] = &[(
    "s7comm/iti-ics__s7comm_clean.pcap",
    "3",
    2637,
    2625,
    ACK_BEFORE_DATA,
)];

fn compare(field: &str, key: &str, pinned: &[Pinned<'_>], skip: impl Fn(&Value) -> bool) {
    let Some(dir) = shared_pcaps() else { return };
    let want_all = tshark_hex_to_dec(tshark_counts(&dir, field));
    assert!(!want_all.is_empty());
    let mut failures = Vec::new();
    for (rel, tshark) in &want_all {
        let (events, _) = replay_events(&dir.join(rel));
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for e in events
            .iter()
            .filter(|e| e["protocol"] == "s7comm" && !skip(e))
        {
            if let Some(v) = e.get(key) {
                *got.entry(v.to_string()).or_default() += 1;
            }
        }
        let mut want = tshark.clone();
        for (file, value, ours, theirs, _) in pinned {
            if file == rel {
                assert_eq!(
                    tshark.get(*value).copied().unwrap_or(0),
                    *theirs,
                    "{rel}: pinned count changed"
                );
                want.insert(value.to_string(), *ours);
            }
        }
        if got != want {
            failures.push(format!("{rel}: ours {got:?} tshark {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Job and ack_data functions per capture equal tshark's `s7comm.param.func`.
#[test]
fn functions_match_tshark() {
    compare(
        "s7comm.param.func",
        "function_code",
        PINNED_FUNCTIONS,
        |_| false,
    );
}

/// PDUs per ROSCTR equal tshark's `s7comm.header.rosctr`.
#[test]
fn rosctr_match_tshark() {
    compare("s7comm.header.rosctr", "rosctr_code", PINNED_ROSCTR, |_| {
        false
    });
}

/// Userdata groups equal tshark's; subfunctions too, except mode transitions (group 0), whose
/// subfunction octet is the new CPU mode: Wireshark shows it as the mode, not as a subfunction.
#[test]
fn userdata_groups_and_subfunctions_match_tshark() {
    compare(
        "s7comm.param.userdata.funcgroup",
        "userdata_group",
        &[],
        |_| false,
    );
    compare(
        "s7comm.param.userdata.subfunc",
        "userdata_subfunction",
        &[],
        |e| e["userdata_group"] == 0,
    );
}

/// S7comm-plus PDUs per capture equal the heuristic rows (COTP payloads starting with 0x72).
/// The heuristic reads a function at fixed offsets for every opcode; only requests and
/// responses carry one (notifications carry a subscription id there, and V3 PDUs an integrity
/// digest first), so keys compare as (version, opcode, function) for opcodes 0x31/0x32/0x02
/// and (version, opcode) otherwise, with totals per file always equal.
#[test]
fn s7comm_plus_matches_heuristic() {
    let Some(dir) = shared_pcaps() else { return };
    let tsv = std::fs::read_to_string(dir.join("TSHARK_COUNTS.tsv")).unwrap();
    let mut want: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for l in tsv.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() >= 5 && f[1].starts_with("s7comm-plus") {
            let parts: Vec<&str> = f[2].split(' ').collect();
            let key = match parts.get(1).map(|o| o.trim_start_matches("opcode=")) {
                Some("0x31" | "0x32" | "0x02") => f[2].to_string(),
                Some(_) => parts[..2].join(" "),
                None => parts[0].to_string(),
            };
            *want
                .entry(f[0].to_string())
                .or_default()
                .entry(key)
                .or_default() += f[4].parse::<u64>().unwrap();
        }
    }
    assert!(want.len() >= 5);
    let mut failures = Vec::new();
    for (rel, w) in &want {
        let (events, _) = replay_events(&dir.join(rel));
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for e in events.iter().filter(|e| e["protocol"] == "s7comm_plus") {
            let v = e["version"].as_u64().unwrap();
            let key = if v == 3 {
                "ver=0x03".to_string()
            } else {
                let op = e["opcode"].as_u64().unwrap_or(0);
                match e["function_code"].as_u64() {
                    Some(f) if matches!(op, 0x31 | 0x32 | 0x02) => {
                        format!("ver=0x{v:02x} opcode=0x{op:02x} func=0x{f:04x}")
                    }
                    _ => format!("ver=0x{v:02x} opcode=0x{op:02x}"),
                }
            };
            *got.entry(key).or_default() += 1;
        }
        if &got != w {
            failures.push(format!("{rel}: ours {got:?} heuristic {w:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn icsnpp_rows(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// ICSNPP reads the PDU reference little-endian (snap7 writes its counter that way);
/// Wireshark and otsensor read it as the big-endian field it is.
fn swap(v: &Value) -> u64 {
    let r = v.as_u64().unwrap();
    ((r & 0xff) << 8) | (r >> 8)
}

/// Every row of ICSNPP's s7comm.log is one of our events, field by field (direction, ROSCTR,
/// PDU reference, function or userdata type/group, subfunction or PI service, error code).
/// We report more than ICSNPP logs, and only: ROSCTR 2 acks (ICSNPP does not log them; tshark
/// counts them, see rosctr_match_tshark), userdata continuation requests (8-octet parameter
/// asking for the next part of an answer), and the parts of a fragmented userdata answer
/// before its last one.
#[test]
fn icsnpp_s7comm_logs_agree() {
    let Some(dir) = shared_pcaps() else { return };
    for (pcap, log) in [
        (
            "s7comm/icsnpp-s7comm__snap7.pcap",
            "s7comm/icsnpp-s7comm__snap7.icsnpp-snap7.s7comm.log",
        ),
        (
            "s7comm/icsnpp-s7comm__s7ident.pcap",
            "s7comm/icsnpp-s7comm__s7ident.icsnpp-s7ident.s7comm.log",
        ),
        (
            "s7comm-plus/icsnpp-s7comm__s7comm_plus.pcap",
            "s7comm-plus/icsnpp-s7comm__s7comm_plus.icsnpp-s7comm_plus.s7comm.log",
        ),
    ] {
        let (events, _) = replay_events(&dir.join(pcap));
        let mut ours: BTreeMap<Vec<String>, (u64, bool)> = BTreeMap::new();
        for e in events
            .iter()
            .filter(|e| e["protocol"] == "s7comm" && e.get("rosctr_code").is_some())
        {
            let r = e["rosctr_code"].as_u64().unwrap();
            let orig = if e["src"]["port"] == 102 { "F" } else { "T" };
            let (fc, sub, err, explained) = if r == 7 {
                let t = match e["userdata_type"].as_str().unwrap() {
                    "request" => 4,
                    "response" => 8,
                    _ => 0,
                };
                let err = match e["userdata_error"].as_u64() {
                    Some(x) if x > 0xff => format!("0x{x:04x}"),
                    Some(x) => format!("0x{x:02x}"),
                    None => "-".into(),
                };
                let explained =
                    e["userdata_continuation"] == true || e["userdata_more_follows"] == true;
                (
                    format!("0x{:02x}", t << 4 | e["userdata_group"].as_u64().unwrap()),
                    format!("0x{:02x}", e["userdata_subfunction"].as_u64().unwrap()),
                    err,
                    explained,
                )
            } else {
                let fc = e["function_code"]
                    .as_u64()
                    .map_or("-".into(), |f| format!("0x{f:02x}"));
                let sub = match (e["function_code"].as_u64(), r) {
                    (Some(0x28), 1) => e["pi_service"].as_str().unwrap_or("-").to_string(),
                    _ => "-".into(),
                };
                let err = e["error_code"]
                    .as_u64()
                    .map_or("-".into(), |c| format!("0x{c:02x}"));
                (fc, sub, err, r == 2)
            };
            let key = vec![
                orig.into(),
                r.to_string(),
                swap(&e["pdu_ref"]).to_string(),
                fc,
                sub,
                err,
            ];
            let entry = ours.entry(key).or_default();
            entry.0 += 1;
            entry.1 |= explained;
        }
        let rows = icsnpp_rows(&dir.join(log));
        assert!(!rows.is_empty());
        for row in &rows {
            let key: Vec<String> = [6, 11, 13, 14, 16, 19]
                .iter()
                .map(|&i| row[i].clone())
                .collect();
            match ours.get_mut(&key) {
                Some((n, _)) if *n > 0 => *n -= 1,
                _ => panic!("{log}: ICSNPP row {key:?} has no matching event"),
            }
        }
        let unexplained: Vec<_> = ours
            .iter()
            .filter(|(_, (n, explained))| *n > 0 && !explained)
            .collect();
        assert!(
            unexplained.is_empty(),
            "{pcap}: events ICSNPP does not log: {unexplained:?}"
        );
    }
}

/// ICSNPP's read_szl, upload_download and known_devices logs agree with our events.
#[test]
fn icsnpp_szl_upload_and_identity_agree() {
    let Some(dir) = shared_pcaps() else { return };
    let (events, _) = replay_events(&dir.join("s7comm/icsnpp-s7comm__snap7.pcap"));
    // SZL requests and answers: (direction, PDU reference, SZL-ID, index).
    let mut ours: BTreeMap<(String, u64, String, String), u64> = BTreeMap::new();
    for e in events.iter().filter(|e| e.get("szl").is_some()) {
        let d = if e["direction"] == "request" {
            "Request"
        } else {
            "Response"
        };
        let k = (
            d.to_string(),
            swap(&e["pdu_ref"]),
            format!("0x{:04x}", e["szl"]["id"].as_u64().unwrap()),
            format!("0x{:04x}", e["szl"]["index"].as_u64().unwrap()),
        );
        *ours.entry(k).or_default() += 1;
    }
    for row in
        icsnpp_rows(&dir.join("s7comm/icsnpp-s7comm__snap7.icsnpp-snap7.s7comm_read_szl.log"))
    {
        let k = (
            row[12].clone(),
            row[11].parse().unwrap(),
            row[13].clone(),
            row[15].clone(),
        );
        let n = ours
            .get_mut(&k)
            .unwrap_or_else(|| panic!("SZL row {k:?} missing"));
        assert!(*n > 0, "{k:?}");
        *n -= 1;
    }
    // Upload: job rows name the file; the Start Upload answer the session and block length.
    let uploads: Vec<&Value> = events.iter().filter(|e| e.get("block").is_some()).collect();
    for row in icsnpp_rows(
        &dir.join("s7comm/icsnpp-s7comm__snap7.icsnpp-snap7.s7comm_upload_download.log"),
    ) {
        let pdu_ref: u64 = row[12].parse().unwrap();
        let job = row[11] == "Job-Request";
        let e = uploads
            .iter()
            .find(|e| swap(&e["pdu_ref"]) == pdu_ref && (e["direction"] == "request") == job)
            .unwrap_or_else(|| panic!("upload row {row:?} missing"));
        let name = e["function"].as_str().unwrap().replace('_', " ");
        assert_eq!(name.to_lowercase(), row[13].to_lowercase(), "{row:?}");
        let b = &e["block"];
        if row[15] != "-" {
            assert_eq!(b["session_id"].to_string(), row[15], "{row:?}");
        }
        if row[16] != "-" && row[13] == "Start Upload" {
            assert_eq!(b["length"].to_string(), row[16], "{row:?}");
        }
        if row[17] != "-" {
            assert_eq!(b["filename"], row[17].as_str(), "{row:?}");
            let ty = match row[18].as_str() {
                "System Data Block" => "SDB",
                "Organization Block" => "OB",
                "Data Block" => "DB",
                "Function" => "FC",
                "Function Block" => "FB",
                other => other,
            };
            assert_eq!(b["block_type"], ty, "{row:?}");
            assert_eq!(
                b["block_number"].as_u64().unwrap(),
                row[19].parse::<u64>().unwrap()
            );
            assert_eq!(b["filesystem"].as_str().unwrap(), row[20].to_lowercase());
        }
        assert_eq!(e["operation"], "program_upload");
    }
    // Identity from SZL 0x001C (ICSNPP's known_devices).
    let (events, _) = replay_events(&dir.join("s7comm/icsnpp-s7comm__s7ident.pcap"));
    let row = &icsnpp_rows(
        &dir.join("s7comm/icsnpp-s7comm__s7ident.icsnpp-s7ident.s7comm_known_devices.log"),
    )[0];
    let id = events
        .iter()
        .find_map(|e| {
            e["szl"]["identity"]
                .get("system_name")
                .map(|_| e["szl"]["identity"].clone())
        })
        .expect("an SZL 0x001C answer");
    assert_eq!(id["system_name"], row[11].as_str());
    assert_eq!(id["module_name"], row[12].as_str());
    assert_eq!(row[13], "(empty)");
    assert_eq!(id["plant"], "");
    assert_eq!(id["serial"], row[14].as_str());
    // And from SZL 0x0011: order number and firmware.
    let id = events
        .iter()
        .find_map(|e| {
            e["szl"]["identity"]
                .get("order_number")
                .map(|_| e["szl"]["identity"].clone())
        })
        .unwrap();
    assert_eq!(id["order_number"], "6ES7 315-2EH14-0AB0");
    assert_eq!(id["firmware"], "V3.2.6");
}

/// The attack-relevant captures give the right operations.
#[test]
fn dangerous_operations_are_classified() {
    let Some(dir) = shared_pcaps() else { return };
    let ops = |rel: &str| -> Vec<(String, String)> {
        replay_events(&dir.join(rel))
            .0
            .into_iter()
            .filter(|e| e["protocol"] == "s7comm" && e["direction"] == "request")
            .map(|e| {
                (
                    e["function"].as_str().unwrap_or("").to_string(),
                    e["operation"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let has = |v: &[(String, String)], f: &str, op: &str| v.iter().any(|(a, b)| a == f && b == op);
    let stop = ops("s7comm/iti-ics__step7_s300_stop.pcapng");
    assert!(has(&stop, "plc_stop", "control"), "{stop:?}");
    let dl = ops("s7comm/iti-ics__step7_s300_download.pcapng");
    for f in ["request_download", "download_block", "download_ended"] {
        assert!(has(&dl, f, "program_download"), "{f}: {dl:?}");
    }
    assert!(has(&dl, "pi_service", "program_download"), "_INSE: {dl:?}");
    let ram = ops("s7comm/iti-ics__step7_s300_copyRamToRom.pcapng");
    assert!(has(&ram, "pi_service", "control"), "{ram:?}");
    let up = ops("s7comm/icsnpp-s7comm__snap7.pcap");
    for f in ["start_upload", "upload", "end_upload"] {
        assert!(has(&up, f, "program_upload"), "{f}");
    }
    let pw = replay_events(&dir.join("s7comm/iti-ics__step7_s300_AuthPassword.pcapng")).0;
    let p = pw
        .iter()
        .find(|e| e["password"] == true)
        .expect("password request");
    assert_eq!(p["operation"], "authentication");
    assert!(p["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "password_sent"));
    assert!(
        !p.to_string().contains("\"data_items\""),
        "the password is never logged"
    );
    let szl = ops("s7comm/icsnpp-s7comm__s7ident.pcap");
    assert!(has(&szl, "read_szl", "identify"));
}
