//! Zones, conduits, assets and learned baselines, end to end: the real binary learning from
//! and detecting on the "Plant1" captures (one SCADA server polling PLCs over Modbus/TCP and
//! S7comm), the zone layout shipped in `config/plant1-zones.toml`, and the `baseline`
//! curation commands.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

fn modbus_cap() -> PathBuf {
    own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap")
}

fn s7_cap() -> PathBuf {
    own_pcaps().join("s7comm/ct-samples-plant1/Plant1_S7comm.pcap")
}

fn zones_config() -> PathBuf {
    root().join("config/plant1-zones.toml")
}

/// `otsensor replay` with the given arguments; asserts exit 0 and returns the final record of
/// every alert (alerts are re-emitted with a running count; the last record per id wins).
fn replay_alerts(args: &[&OsStr], scratch: &Scratch) -> BTreeMap<String, Value> {
    let alerts = scratch.path("alerts.jsonl");
    let _ = std::fs::remove_file(&alerts);
    let mut all: Vec<&OsStr> = args.to_vec();
    all.extend([OsStr::new("--alerts"), alerts.as_os_str()]);
    let (code, _, stderr) = replay(&all);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    read_alerts(&alerts)
}

fn read_alerts(p: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for line in std::fs::read_to_string(p).unwrap_or_default().lines() {
        let a: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad alert line {line}: {e}"));
        out.insert(a["id"].as_str().unwrap().to_string(), a);
    }
    out
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// `--learn` into `baseline`; returns the alerts raised while learning.
fn learn(caps: &[&Path], baseline: &Path, extra: &[&OsStr]) -> BTreeMap<String, Value> {
    let alerts = baseline.with_extension("learn-alerts.jsonl");
    let mut args: Vec<&OsStr> = caps.iter().map(|p| p.as_os_str()).collect();
    args.extend([OsStr::new("--learn"), OsStr::new("--baseline")]);
    args.push(baseline.as_os_str());
    args.extend([OsStr::new("--alerts"), alerts.as_os_str()]);
    args.extend_from_slice(extra);
    let (code, _, stderr) = replay(&args);
    assert_eq!(code, 0, "learn: {stderr}");
    read_alerts(&alerts)
}

/// Splits a capture at the midpoint of its first and last timestamps.
fn split_by_time(cap: &Path, first: &Path, second: &Path) -> (usize, usize) {
    let mut packets = Vec::new();
    let mut c = pcap::Capture::from_file(cap).unwrap();
    let linktype = c.get_datalink();
    while let Ok(p) = c.next_packet() {
        packets.push((*p.header, p.data.to_vec()));
    }
    let t = |h: &pcap::PacketHeader| h.ts.tv_sec * 1_000_000 + h.ts.tv_usec;
    let (lo, hi) = (t(&packets[0].0), t(&packets[packets.len() - 1].0));
    let mid = lo + (hi - lo) / 2;
    let dead = pcap::Capture::dead(linktype).unwrap();
    let (mut a, mut b) = (
        dead.savefile(first).unwrap(),
        dead.savefile(second).unwrap(),
    );
    let mut n = (0, 0);
    for (h, d) in &packets {
        let p = pcap::Packet::new(h, d);
        if t(h) < mid {
            a.write(&p);
            n.0 += 1;
        } else {
            b.write(&p);
            n.1 += 1;
        }
    }
    a.flush().unwrap();
    b.flush().unwrap();
    n
}

/// Learning on a capture and detecting on the same capture raises nothing, and detection
/// leaves the baseline file untouched.
#[test]
fn learn_then_detect_on_the_same_capture_is_quiet() {
    let dir = Scratch::new("same");
    let mut cases: Vec<Vec<PathBuf>> = vec![
        vec![modbus_cap()],
        vec![s7_cap()],
        vec![modbus_cap(), s7_cap()],
        vec![own_pcaps().join("dnp3/suricata-verify-dnp3-flood/input.pcap")],
    ];
    // Every capture of the corpus's industrial protocols.
    if let Some(shared) = shared_pcaps() {
        for sub in ["modbus", "dnp3", "s7comm", "s7comm-plus", "mixed"] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join(sub))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let n = p.to_string_lossy();
                    n.ends_with(".pcap") || n.ends_with(".pcapng")
                })
                .collect();
            files.sort();
            cases.extend(files.into_iter().map(|f| vec![f]));
        }
    }
    let mut learned = 0;
    for caps in cases {
        let caps: Vec<&Path> = caps.iter().map(PathBuf::as_path).collect();
        let file = dir.path("b.json");
        let _ = std::fs::remove_file(&file);
        // Learning raises the operational, protocol and anomaly alerts (recorded in the
        // baseline); only policy alerts need zones, and none are configured.
        let during = learn(&caps, &file, &[]);
        assert!(
            during.values().all(|a| a["engine"] != "policy"),
            "{caps:?}: learning without zones raised {during:?}"
        );
        let b = json(&file);
        if b["edges"].as_array().unwrap().is_empty() {
            // A capture with no industrial conversation (a handshake only, a broken file).
            continue;
        }
        learned += 1;
        let before = std::fs::read(&file).unwrap();
        let mut args: Vec<&OsStr> = caps.iter().map(|p| p.as_os_str()).collect();
        args.extend([OsStr::new("--baseline"), file.as_os_str()]);
        let alerts = replay_alerts(&args, &dir);
        assert!(
            alerts.is_empty(),
            "{caps:?}: {} alerts, first {}",
            alerts.len(),
            alerts.values().next().unwrap()
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "{caps:?}: detection changed the baseline"
        );
    }
    assert!(
        learned >= 4,
        "only {learned} captures had anything to learn"
    );
}

/// Learn on the first half (by time) of the Modbus capture, detect on the second: every alert
/// is one of these, each explained by what the second half does that the first did not.
#[test]
fn second_half_deviations_are_explained() {
    let dir = Scratch::new("halves");
    let (h1, h2) = (dir.path("first.pcap"), dir.path("second.pcap"));
    assert_eq!(split_by_time(&modbus_cap(), &h1, &h2), (7799, 7588));
    let file = dir.path("b.json");
    assert!(learn(&[&h1], &file, &[]).is_empty());
    let alerts = replay_alerts(
        &[h2.as_os_str(), "--baseline".as_ref(), file.as_os_str()],
        &dir,
    );

    // (rule, server, function, why)
    let expected: &[(&str, &str, &str, &str)] = &[
        (
            "baseline.timing_deviation",
            "141.81.0.86",
            "read_coils",
            "the first half polls .86's coils once a second (intervals 960..=1039 ms); the second \
             half twice runs a read_coils, read_discrete_inputs, read_coils cycle (transactions \
             453-455 and 568-569), a read 34 ms after the last: an extra poll cycle",
        ),
        (
            "baseline.timing_deviation",
            "141.81.0.46",
            "read_coils",
            "learned every 2 s (1968..=2039 ms); transactions 28565 and 28566 read the same coils \
             5 ms apart",
        ),
        (
            "baseline.timing_deviation",
            "141.81.0.84",
            "read_discrete_inputs",
            "learned 350..=1015 ms apart; in the second half a burst of 13 read_coils polls sits \
             between two discrete-input reads only 12 ms apart (transactions 6988 and 7001)",
        ),
        (
            "baseline.timing_deviation",
            "141.81.0.26",
            "read_input_registers",
            "two input-register blocks (399-400 and 1-99) are read back to back; the first half \
             never had them closer than 13 ms, the second half twice 2 ms apart. Timing is per \
             (edge, function), so interleaved polls of one function show as short intervals",
        ),
        (
            "baseline.address_out_of_range",
            "141.81.0.46",
            "read_input_registers",
            "the second half reads input registers 207..=326 on .46, which the first half never \
             touched (it read 1-99, 399-400, 2219-2240, 2258-2259)",
        ),
    ];
    let got: BTreeSet<(String, String, String)> = alerts
        .values()
        .map(|a| {
            assert_eq!(s(&a["src"]["ip"]), "141.81.0.10", "{a}");
            assert_eq!(s(&a["engine"]), "policy", "{a}");
            (
                s(&a["rule"]).to_string(),
                s(&a["dst"]["ip"]).to_string(),
                s(&a["function"]).to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, String)> = expected
        .iter()
        .map(|(r, ip, f, _)| (r.to_string(), ip.to_string(), f.to_string()))
        .collect();
    assert_eq!(got, want, "alerts: {alerts:#?}");
    // Each alert's evidence carries the reason it fired.
    for a in alerts.values() {
        let (obs, exp) = (&a["evidence"]["observed"], &a["evidence"]["expected"]);
        match s(&a["rule"]) {
            "baseline.timing_deviation" => {
                let ms = obs["interval_ms"].as_f64().unwrap().max(1.0);
                let f = exp["factor"].as_f64().unwrap();
                let (lo, hi) = (
                    exp["min_ms"].as_f64().unwrap(),
                    exp["max_ms"].as_f64().unwrap(),
                );
                assert!(
                    ms * f < lo || ms > hi * f,
                    "not outside the learned range: {a}"
                );
            }
            _ => {
                assert_eq!(obs["area"], "input_registers", "{a}");
                let (start, end) = (obs["start"].as_u64().unwrap(), obs["end"].as_u64().unwrap());
                assert_eq!((start, end), (207, 326), "{a}");
                for r in exp["ranges"].as_array().unwrap() {
                    let (lo, hi) = (r[0].as_u64().unwrap(), r[1].as_u64().unwrap());
                    assert!(end < lo || start > hi, "overlaps a learned range: {a}");
                }
            }
        }
    }
    // `baseline diff` of the half and the whole shows the new range.
    let whole = dir.path("whole.json");
    learn(&[&modbus_cap()], &whole, &[]);
    let (code, out, err) = baseline_cmd(&["diff".as_ref(), file.as_os_str(), whole.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("~ edge 141.81.0.10>141.81.0.46/modbus input_registers 1-99 399-400 2219-2240 2258-2259 -> 1-99 199-377 399-400 2219-2240 2258-2259"),
        "{out}"
    );
}

/// The zone layout of config/plant1-zones.toml over the Plant1 Modbus and S7comm traffic:
/// exactly the cross-zone alerts its conduits imply, the same when learning, with any number
/// of workers and on the merged capture.
#[test]
fn zone_policy_alerts_on_the_mixed_plant() {
    let dir = Scratch::new("zones");
    let (cfg, m, s7) = (zones_config(), modbus_cap(), s7_cap());
    let base: Vec<&OsStr> = vec![
        "-c".as_ref(),
        cfg.as_os_str(),
        m.as_os_str(),
        s7.as_os_str(),
    ];
    // (rule, protocol, dst zone, dst ip, operation)
    let mut want: BTreeSet<(String, String, String, String, String)> = BTreeSet::new();
    // cell-b's conduit lists Modbus only: every S7comm PLC there.
    for ip in ["141.81.0.71", "141.81.0.91", "141.81.0.111"] {
        want.insert(row(
            "policy.protocol_not_allowed",
            "s7comm",
            "cell-b",
            ip,
            "read",
        ));
    }
    // cell-c's conduit is read-only: the writes, Modbus and S7comm.
    for ip in [
        "141.81.0.143",
        "141.81.0.144",
        "141.81.0.163",
        "141.81.0.164",
    ] {
        want.insert(row(
            "policy.operation_not_allowed",
            "modbus",
            "cell-c",
            ip,
            "write",
        ));
    }
    for ip in [
        "141.81.0.130",
        "141.81.0.146",
        "141.81.0.151",
        "141.81.0.166",
        "141.81.0.237",
    ] {
        want.insert(row(
            "policy.operation_not_allowed",
            "s7comm",
            "cell-c",
            ip,
            "write",
        ));
    }
    let summarize = |alerts: &BTreeMap<String, Value>| {
        let mut out = BTreeSet::new();
        for a in alerts.values() {
            assert_eq!(s(&a["src"]["zone"]), "scada", "{a}");
            assert_eq!(s(&a["src"]["ip"]), "141.81.0.10", "{a}");
            assert_eq!(s(&a["sensor"]["site"]), "plant1", "{a}");
            assert!(a["count"].as_u64().unwrap() >= 1, "{a}");
            assert!(
                !a["attack"]["techniques"].as_array().unwrap().is_empty(),
                "{a}"
            );
            out.insert(row(
                s(&a["rule"]),
                s(&a["protocol"]),
                s(&a["dst"]["zone"]),
                s(&a["dst"]["ip"]),
                s(&a["operation"]),
            ));
        }
        // One alert per edge and rule.
        assert_eq!(out.len(), alerts.len());
        out
    };
    let counts = |alerts: &BTreeMap<String, Value>| -> BTreeMap<String, u64> {
        alerts
            .iter()
            .map(|(id, a)| (id.clone(), a["count"].as_u64().unwrap()))
            .collect()
    };

    let one = replay_alerts(
        &[&base[..], &["--workers".as_ref(), "1".as_ref()]].concat(),
        &dir,
    );
    assert_eq!(summarize(&one), want);
    let three = replay_alerts(
        &[&base[..], &["--workers".as_ref(), "3".as_ref()]].concat(),
        &dir,
    );
    assert_eq!(
        counts(&three),
        counts(&one),
        "worker count changed the alerts"
    );

    // Learning still raises policy alerts.
    let file = dir.path("b.json");
    let learning = replay_alerts(
        &[
            &base[..],
            &["--learn".as_ref(), "--baseline".as_ref(), file.as_os_str()],
        ]
        .concat(),
        &dir,
    );
    assert_eq!(counts(&learning), counts(&one));
    // The learned baseline records the zones; detection on the same traffic raises the policy
    // alerts again and nothing else.
    let b = json(&file);
    assert_eq!(b["assets"]["141.81.0.10"]["zone"], "scada");
    assert_eq!(b["assets"]["141.81.0.71"]["zone"], "cell-b");
    let detecting = replay_alerts(
        &[&base[..], &["--baseline".as_ref(), file.as_os_str()]].concat(),
        &dir,
    );
    assert_eq!(summarize(&detecting), want);

    if let Some(shared) = shared_pcaps() {
        let merged = shared.join("mixed/plant1__modbus+s7comm-merged.pcap");
        let alerts = replay_alerts(&["-c".as_ref(), cfg.as_os_str(), merged.as_os_str()], &dir);
        assert_eq!(summarize(&alerts), want, "merged capture");
        assert_eq!(counts(&alerts), counts(&one), "merged capture");
    }
}

fn row(r: &str, p: &str, z: &str, ip: &str, op: &str) -> (String, String, String, String, String) {
    (r.into(), p.into(), z.into(), ip.into(), op.into())
}

/// The learned baseline does not depend on how flows are spread over workers.
#[test]
fn baseline_is_independent_of_worker_count() {
    let dir = Scratch::new("workers");
    let (cfg, caps, alerts) = (
        zones_config(),
        [modbus_cap(), s7_cap()],
        dir.path("a.jsonl"),
    );
    let mut files = Vec::new();
    for w in ["1", "2", "3"] {
        let file = dir.path(&format!("b{w}.json"));
        let args: Vec<&OsStr> = vec![
            "-c".as_ref(),
            cfg.as_os_str(),
            caps[0].as_os_str(),
            caps[1].as_os_str(),
            "--learn".as_ref(),
            "--baseline".as_ref(),
            file.as_os_str(),
            "--workers".as_ref(),
            w.as_ref(),
            "--alerts".as_ref(),
            alerts.as_os_str(),
        ];
        let (code, _, err) = replay(&args);
        assert_eq!(code, 0, "{err}");
        files.push(std::fs::read_to_string(&file).unwrap());
    }
    assert_eq!(files[0], files[1]);
    assert_eq!(files[0], files[2]);
}

/// A device that appears after learning is an alert, once per device; its own traffic is in
/// its learning window, so it raises nothing else.
#[test]
fn new_assets_after_learning_alert() {
    let dir = Scratch::new("newasset");
    let file = dir.path("b.json");
    learn(&[&modbus_cap()], &file, &[]);
    let alerts = replay_alerts(
        &[
            s7_cap().as_os_str(),
            "--baseline".as_ref(),
            file.as_os_str(),
        ],
        &dir,
    );
    let plcs: BTreeSet<&str> = alerts
        .values()
        .map(|a| {
            assert_eq!(s(&a["rule"]), "baseline.new_asset", "{a}");
            assert_eq!(a["dst"]["port"], 102, "{a}");
            assert_eq!(a["protocol"], "s7comm", "{a}");
            s(&a["evidence"]["observed"]["ip"])
        })
        .collect();
    let want: BTreeSet<&str> = [
        "141.81.0.14",
        "141.81.0.31",
        "141.81.0.51",
        "141.81.0.71",
        "141.81.0.91",
        "141.81.0.111",
        "141.81.0.130",
        "141.81.0.146",
        "141.81.0.151",
        "141.81.0.166",
        "141.81.0.236",
        "141.81.0.237",
    ]
    .into();
    assert_eq!(plcs, want);
    assert_eq!(alerts.len(), want.len());
}

/// The asset inventory: MAC vendors from the IEEE registry, roles from traffic, zones from the
/// config, S7 identity from SZL answers; JSON and CSV.
#[test]
fn asset_inventory() {
    let dir = Scratch::new("assets");
    let (cfg, out) = (zones_config(), dir.path("assets.json"));
    let (code, _, err) = replay(&[
        "-c".as_ref(),
        cfg.as_os_str(),
        modbus_cap().as_os_str(),
        s7_cap().as_os_str(),
        "--assets".as_ref(),
        out.as_os_str(),
        "--alerts".as_ref(),
        dir.path("a.jsonl").as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let assets = v["assets"].as_array().unwrap();
    assert_eq!(
        assets.len(),
        26,
        "1 SCADA server, 13 Modbus servers, 12 S7 PLCs"
    );
    let by_ip: BTreeMap<&str, &Value> = assets.iter().map(|a| (s(&a["ip"]), a)).collect();
    let scada = by_ip["141.81.0.10"];
    assert_eq!(scada["zone"], "scada");
    assert_eq!(scada["mac_vendor"], "Hewlett Packard");
    assert_eq!(
        scada["roles"],
        serde_json::json!(["modbus_client", "s7_client"])
    );
    assert_eq!(scada["protocols"], serde_json::json!(["modbus", "s7comm"]));
    let plc = by_ip["141.81.0.14"];
    assert_eq!(plc["zone"], "cell-a");
    assert_eq!(plc["mac_vendor"], "Siemens AG");
    assert_eq!(plc["roles"], serde_json::json!(["s7_plc"]));
    assert_eq!(
        by_ip["141.81.0.143"]["roles"],
        serde_json::json!(["modbus_server"])
    );
    assert_eq!(by_ip["141.81.0.143"]["zone"], "cell-c");
    for a in assets {
        assert!(s(&a["first_seen"]) <= s(&a["last_seen"]), "{a}");
        assert!(!a["macs"].as_array().unwrap().is_empty(), "{a}");
    }

    // CSV: a header and one row per asset.
    let csv = dir.path("assets.csv");
    let (code, _, err) = replay(&[
        modbus_cap().as_os_str(),
        "--assets".as_ref(),
        csv.as_os_str(),
        "--assets-format".as_ref(),
        "csv".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(
        header.contains(&"ip") && header.contains(&"mac_vendor"),
        "{header:?}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 14);
    let scada = rows.iter().find(|r| r.starts_with("141.81.0.10,")).unwrap();
    assert!(
        scada.contains(",Hewlett Packard,") && scada.contains("modbus_client"),
        "{scada}"
    );

    // Identity from S7 SZL answers (the snap7 server of the ICSNPP s7ident test).
    let Some(shared) = shared_pcaps() else {
        return;
    };
    let (code, stdout, err) = replay(&[
        shared
            .join("s7comm/icsnpp-s7comm__s7ident.pcap")
            .as_os_str(),
        "--assets".as_ref(),
        "-".as_ref(),
        "--alerts".as_ref(),
        dir.path("ident-alerts.jsonl").as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let a = v["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ip"] == "172.17.0.2")
        .unwrap();
    // The values ICSNPP's s7comm_known_devices.log reports for the same capture.
    assert_eq!(a["identity"]["name"], "SNAP7-SERVER");
    assert_eq!(a["identity"]["model"], "CPU 315-2 PN/DP");
    assert_eq!(a["identity"]["serial"], "S C-C2UR28922012");
    assert_eq!(a["identity"]["order_number"], "6ES7 315-2EH14-0AB0");
    assert_eq!(a["identity"]["vendor"], "Siemens");
    // It uploads blocks from the PLC: an engineering station.
    assert!(
        a["roles"]
            .as_array()
            .unwrap()
            .contains(&"engineering_station".into()),
        "{a}"
    );
}

/// `baseline show|diff|graph|approve|suppress|merge`, and bad baseline files.
#[test]
fn baseline_commands() {
    let dir = Scratch::new("cli");
    let (a, b) = (dir.path("modbus.json"), dir.path("s7.json"));
    let cfg = zones_config();
    learn(&[&modbus_cap()], &a, &["-c".as_ref(), cfg.as_os_str()]);
    learn(&[&s7_cap()], &b, &["-c".as_ref(), cfg.as_os_str()]);

    let (code, out, err) = baseline_cmd(&["show".as_ref(), a.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("14 assets · 13 edges"), "{out}");
    assert!(
        out.contains("141.81.0.10 (scada) -> 141.81.0.143 (cell-c)  modbus  [read,write]"),
        "{out}"
    );
    assert!(out.contains("write_multiple_coils"), "{out}");

    // Graphviz: zones as clusters; renders with dot when it is installed.
    let (code, dot, err) = baseline_cmd(&["graph".as_ref(), a.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    assert!(dot.starts_with("digraph"), "{dot}");
    for z in ["label=\"scada\"", "label=\"cell-a\"", "label=\"cell-c\""] {
        assert!(dot.contains(z), "{z} missing: {dot}");
    }
    assert!(dot.contains("\"141.81.0.10\" -> \"141.81.0.143\""), "{dot}");
    let rendered = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(dot.as_bytes()).unwrap();
            c.wait_with_output().unwrap()
        });
    match rendered {
        Ok(o) => {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(String::from_utf8_lossy(&o.stdout).contains("<svg"));
        }
        Err(_) => skip("graphviz (dot) not installed: the DOT output was not rendered"),
    }

    // Merge: the union of two sensors' baselines, stably ordered.
    let merged = dir.path("merged.json");
    let (code, _, err) = baseline_cmd(&[
        "merge".as_ref(),
        "--output".as_ref(),
        merged.as_os_str(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let m = json(&merged);
    assert_eq!(m["assets"].as_object().unwrap().len(), 26);
    assert_eq!(m["edges"].as_array().unwrap().len(), 13 + 12);
    let (code, out, _) = baseline_cmd(&["diff".as_ref(), a.as_os_str(), merged.as_os_str()]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("+ asset")).count(),
        12,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("+ edge")).count(),
        12,
        "{out}"
    );
    assert!(!out.lines().any(|l| l.starts_with('-')), "{out}");
    let (_, same, _) = baseline_cmd(&["diff".as_ref(), a.as_os_str(), a.as_os_str()]);
    assert_eq!(same, "no differences\n");

    // Approve an edge, suppress an asset: states show in the file and in a diff.
    let before = dir.path("before.json");
    std::fs::copy(&a, &before).unwrap();
    let (code, _, err) = baseline_cmd(&[
        "approve".as_ref(),
        a.as_os_str(),
        "edge=141.81.0.10>141.81.0.143/modbus".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = baseline_cmd(&[
        "suppress".as_ref(),
        a.as_os_str(),
        "asset=141.81.0.164".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&a);
    let edge = |dst: &str| {
        v["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["dst"] == dst)
            .unwrap()
            .clone()
    };
    assert_eq!(edge("141.81.0.143")["state"], "approved");
    assert_eq!(edge("141.81.0.164")["state"], "suppressed");
    assert_eq!(edge("141.81.0.24")["state"], "learning");
    assert_eq!(v["assets"]["141.81.0.164"]["state"], "suppressed");
    let (_, out, _) = baseline_cmd(&["diff".as_ref(), before.as_os_str(), a.as_os_str()]);
    assert!(
        out.contains("~ edge 141.81.0.10>141.81.0.143/modbus state learning -> approved"),
        "{out}"
    );
    assert!(
        out.contains("~ asset 141.81.0.164 state learning -> suppressed"),
        "{out}"
    );
    // A selector that matches nothing is an error, not a silent no-op.
    let (code, _, err) =
        baseline_cmd(&["approve".as_ref(), a.as_os_str(), "asset=10.9.9.9".as_ref()]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // A corrupt or newer baseline is exit 2 with one line, and never replaced by learning.
    let corrupt = dir.path("corrupt.json");
    std::fs::write(&corrupt, "{\"schema_version\": 1, \"edges\": [").unwrap();
    let newer = dir.path("newer.json");
    let mut v = json(&a);
    v["schema_version"] = 99.into();
    std::fs::write(&newer, serde_json::to_string(&v).unwrap()).unwrap();
    let mcap = modbus_cap();
    for bad in [&corrupt, &newer] {
        let text = std::fs::read(bad).unwrap();
        let (code, _, err) = baseline_cmd(&["show".as_ref(), bad.as_os_str()]);
        assert_eq!(code, 2, "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&*bad.to_string_lossy()), "{err}");
        for learning in [true, false] {
            let mut args: Vec<&OsStr> = vec![mcap.as_os_str()];
            if learning {
                args.push("--learn".as_ref());
            }
            args.extend(["--baseline".as_ref(), bad.as_os_str()]);
            let (code, _, err) = replay(&args);
            assert_eq!(code, 2, "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
        assert_eq!(
            std::fs::read(bad).unwrap(),
            text,
            "a bad baseline was replaced"
        );
    }
    assert!(
        err_of(&newer).contains("newer"),
        "the error says the file is from a newer version: {}",
        err_of(&newer)
    );
}

fn err_of(p: &Path) -> String {
    baseline_cmd(&["show".as_ref(), p.as_os_str()]).2
}
