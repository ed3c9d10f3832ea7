//! EtherNet/IP and CIP against Wireshark on the public corpus: encapsulation commands and CIP
//! services (nested ones included) per capture, the dangerous operations of the ITI attack
//! captures, and identity answers filling the asset inventory.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::*;

/// ENIP on TCP 1102 (RSLinx): Wireshark dissects EtherNet/IP on 44818 only, so it counts
/// nothing in this capture; otsensor's content probe finds the encapsulation headers.
const PORT_1102: &str = "enip-cip/iti-ics__EIP-ControlProtocolChangeAttempt.pcap";

/// What Wireshark counts in that capture when told to decode port 1102 as EtherNet/IP
/// (`tshark -d tcp.port==1102,enip -e enip.command -e cip.sc`, tshark 4.0.17): commands...
const PORT_1102_COMMANDS: &[(u64, u64)] = &[(0x6f, 62), (0x70, 2208)];

/// ... and CIP services.
const PORT_1102_SERVICES: &[(u64, u64)] = &[
    (0x01, 30),
    (0x03, 10518),
    (0x04, 186),
    (0x05, 2),
    (0x06, 2),
    (0x07, 2),
    (0x08, 164),
    (0x0a, 972),
    (0x0d, 6),
    (0x4b, 80),
    (0x4c, 4212),
    (0x4d, 20),
    (0x4e, 10),
    (0x4f, 4),
    (0x50, 42),
    (0x51, 2),
    (0x52, 21),
    (0x54, 10),
];

/// The shared corpus, when present (the project's own captures under `pcaps/enip` are
/// checked from a fresh clone by replay::own_captures_match_expected_counts and below).
/// Our events per capture: (protocol, function code) counts.
fn counts(events: &[Value], protocol: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for e in events.iter().filter(|e| {
        e["protocol"] == protocol && e["function_code"].is_u64() && e["function"] != "implicit_io"
    }) {
        *out.entry(e["function_code"].to_string()).or_default() += 1;
    }
    out
}

/// Every capture with `enip.command` or `cip.sc` rows: our `enip` events per command and `cip`
/// events per service equal tshark's counts.
#[test]
fn commands_and_services_match_tshark() {
    let Some(dir) = shared_pcaps() else { return };
    let commands = tshark_hex_to_dec(tshark_counts(&dir, "enip.command"));
    let services = tshark_hex_to_dec(tshark_counts(&dir, "cip.sc"));
    assert!(
        commands.len() >= 20,
        "enip.command rows: {}",
        commands.len()
    );
    let mut failures = Vec::new();
    for rel in commands
        .keys()
        .chain(services.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (events, stats) = replay_events(&dir.join(rel));
        for (field, protocol, want) in [
            ("enip.command", "enip", commands.get(rel)),
            ("cip.sc", "cip", services.get(rel)),
        ] {
            let got = counts(&events, protocol);
            let want = want.cloned().unwrap_or_default();
            if got != want {
                failures.push(format!("{rel} {field}: ours {got:?} tshark {want:?}"));
            }
        }
        let enip = &stats["protocols"]["enip"];
        assert_eq!(enip["parse_errors"], 0, "{rel}: {enip}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The pinned capture: tshark has no rows; we find EtherNet/IP on TCP 1102.
    assert!(!commands.contains_key(PORT_1102));
    let (events, _) = replay_events(&dir.join(PORT_1102));
    let want = |list: &[(u64, u64)]| -> BTreeMap<String, u64> {
        list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    assert_eq!(counts(&events, "enip"), want(PORT_1102_COMMANDS));
    assert_eq!(counts(&events, "cip"), want(PORT_1102_SERVICES));
    assert!(events
        .iter()
        .filter(|e| e["protocol"] == "enip")
        .all(|e| e["dst"]["port"] == 1102 || e["src"]["port"] == 1102));
}

fn raised(cap: &std::path::Path) -> Vec<Value> {
    let scratch = Scratch::new("enip-alerts");
    let alerts = scratch.path("alerts.jsonl");
    let (code, _, stderr) = replay(&[
        cap.as_os_str(),
        std::ffi::OsStr::new("--alerts"),
        alerts.as_os_str(),
    ]);
    assert_eq!(code, 0, "{}: {stderr}", cap.display());
    let text = std::fs::read_to_string(&alerts).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn assert_rules(cap: &std::path::Path, rules: &[&str]) {
    let raised = raised(cap);
    for rule in rules {
        let a = raised.iter().find(|a| a["rule"] == *rule);
        let a = a.unwrap_or_else(|| panic!("{}: no {rule} in {raised:?}", cap.display()));
        assert_eq!(a["protocol"], "cip", "{}: {a}", cap.display());
    }
}

/// The attack captures raise the operational rules they were recorded for: the project's
/// own, and the rest of the ITI set when the corpus is present.
#[test]
fn attack_captures_raise_their_rules() {
    let own = own_pcaps().join("enip");
    assert_rules(
        &own.join("iti-cip-stop-plc/cip_stop_plc.pcap"),
        &["operational.plc_stop"],
    );
    assert_rules(
        &own.join("iti-eip-software-upload/EIP-SoftwareUpload.pcap"),
        &["operational.program_upload"],
    );
    // A MicroLogix set to program mode, then run mode, over PCCC.
    assert_rules(
        &own.join("iti-cip-only/cip_only.pcap"),
        &["operational.plc_stop", "operational.plc_start"],
    );
    let Some(dir) = shared_pcaps() else { return };
    for (file, rules) in [
        (
            "iti-ics__cip_start_plc.pcap",
            &["operational.plc_start"][..],
        ),
        (
            "iti-ics__EIP-RemoteModeChangeAttempt.pcap",
            &["operational.plc_stop"],
        ),
        (
            "iti-ics__EIP-FirmwareChange.pcap",
            &["operational.firmware_update", "operational.device_restart"],
        ),
        (
            "iti-ics__EIP-FirmwareChangeFailure.pcap",
            &["operational.firmware_update"],
        ),
        (
            "iti-ics__EIP-RebootorRestart.pcap",
            &["operational.program_download", "operational.device_restart"],
        ),
        (
            "iti-ics__EIP-ChangePortConfigurationAttempt.pcap",
            &["operational.cip_network_configuration"],
        ),
        (
            "iti-ics__EIP-LockPLCAttempt.pcap",
            &["operational.cip_controller_lock"],
        ),
        (
            "iti-ics__cip_unlock_cpu.pcap",
            &["operational.cip_controller_lock"],
        ),
    ] {
        assert_rules(&dir.join("enip-cip").join(file), rules);
    }
}

/// ListIdentity answers fill the asset inventory: vendor, product name, revision, serial,
/// device type; the device is a CIP adapter and its peer a scanner.
#[test]
fn list_identity_fills_the_asset() {
    let Some(dir) = shared_pcaps() else { return };
    let scratch = Scratch::new("enip-assets");
    let assets = scratch.path("assets.json");
    let (code, _, stderr) = replay(&[
        dir.join("enip-cip/suricata-verify__enip_cip_example.pcap")
            .as_os_str(),
        std::ffi::OsStr::new("--assets"),
        assets.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let assets = json(&assets);
    let list = assets["assets"]
        .as_array()
        .or(assets.as_array())
        .expect("an asset list");
    let plc = list
        .iter()
        .find(|a| a["identity"]["model"] == "1756-ENBT/A")
        .unwrap_or_else(|| panic!("no 1756-ENBT/A in {assets}"));
    assert_eq!(
        plc["identity"]["vendor"],
        "Rockwell Automation/Allen-Bradley"
    );
    assert_eq!(plc["identity"]["firmware"], "4.003");
    assert_eq!(plc["identity"]["serial"], "0x00524d8e");
    assert_eq!(plc["identity"]["hardware"], "Communications Adapter");
    let roles: Vec<&str> = plc["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(roles.contains(&"cip_adapter"), "{roles:?}");
}

/// PCCC inside Execute PCCC: commands and functions per message equal tshark's
/// (`cip.pccc.cmd.code`, `cip.pccc.fnc.code_06`/`_0f` on the capture: 4,664 diagnostic
/// status, 4,655 of the undocumented 0x0F/0xA3, 103 typed reads, 4 masked writes, 2 mode
/// changes; replies 0x46 and 0x4F), each named, with its operation and data-table address.
#[test]
fn pccc_commands_match_tshark() {
    let cap = own_pcaps().join("enip/iti-cip-only/cip_only.pcap");
    let (events, _) = replay_events(&cap);
    let mut got: BTreeMap<(String, u64, Option<u64>), u64> = BTreeMap::new();
    for e in events.iter().filter(|e| e["pccc"].is_object()) {
        let p = &e["pccc"];
        *got.entry((
            e["direction"].as_str().unwrap().to_string(),
            p["command"].as_u64().unwrap(),
            p["function"].as_u64(),
        ))
        .or_default() += 1;
    }
    let want: BTreeMap<(String, u64, Option<u64>), u64> = [
        ("request", 0x06, Some(0x03), 4664),
        ("request", 0x0F, Some(0x80), 2),
        ("request", 0x0F, Some(0xA2), 103),
        ("request", 0x0F, Some(0xA3), 4655),
        ("request", 0x0F, Some(0xAB), 4),
        ("response", 0x46, None, 4630),
        ("response", 0x4F, None, 4722),
    ]
    .into_iter()
    .map(|(d, c, f, n)| ((d.to_string(), c, f), n))
    .collect();
    assert_eq!(got, want);
    let named = |name: &str| events.iter().filter(|e| e["function"] == name).count();
    assert_eq!(named("pccc_diagnostic_status"), 4664);
    assert_eq!(named("pccc_protected_typed_logical_read_3"), 103);
    assert_eq!(named("pccc_change_cpu_mode_program"), 1);
    assert_eq!(named("pccc_change_cpu_mode_run"), 1);
    let read = events
        .iter()
        .find(|e| e["function"] == "pccc_protected_typed_logical_read_3")
        .unwrap();
    assert_eq!(read["operation"], "read", "{read}");
    assert!(read["addresses"][0]["area"].is_string(), "{read}");
    assert!(read["pccc"]["file_type"].is_u64(), "{read}");
}

/// Implicit I/O paired with the Forward Open that opened it, across flows and for any worker
/// count: the synthetic capture's two connections opened in it (4 ids paired), one opened
/// before it (2 unpaired), and a rogue producer of the first adapter's O→T id (1 mismatched,
/// one alert naming the expected producer).
#[test]
fn implicit_io_pairs_with_its_forward_open() {
    let cap = own_pcaps().join("enip/synthetic-io/io.pcap");
    for workers in ["1", "2", "3"] {
        let scratch = Scratch::new("enip-io");
        let (alerts, stats) = (scratch.path("alerts.jsonl"), scratch.path("stats.json"));
        let (code, _, stderr) = replay(&[
            cap.as_os_str(),
            "--workers".as_ref(),
            workers.as_ref(),
            "--alerts".as_ref(),
            alerts.as_os_str(),
            "--stats".as_ref(),
            stats.as_os_str(),
        ]);
        assert_eq!(code, 0, "{stderr}");
        let stats = json(&stats);
        assert_eq!(
            stats["alerts"]["io_connections"],
            serde_json::json!({ "paired": 4, "unpaired": 2, "mismatched": 1 }),
            "workers {workers}"
        );
        let raised: Vec<Value> = jsonl(&alerts);
        let hits: Vec<&Value> = raised
            .iter()
            .filter(|a| a["rule"] == "anomaly.io_producer_mismatch")
            .collect();
        assert_eq!(hits.len(), 1, "workers {workers}: {raised:?}");
        let a = hits[0];
        assert_eq!(a["evidence"]["observed"]["producer"], "10.0.5.66", "{a}");
        assert_eq!(
            a["evidence"]["observed"]["connection_id"], 0x1000_0001,
            "{a}"
        );
        assert_eq!(a["evidence"]["expected"]["producer"], "10.0.5.10", "{a}");
        assert_eq!(a["protocol"], "enip", "{a}");
    }
}

/// Logix fragmented tag services: each fragment's offset and bytes, and the transfer
/// reassembled on the message that completes it (a read at its final reply, status 0 after
/// partial transfers; a write when all the elements of its atomic type are written).
#[test]
fn fragmented_tag_transfers_are_reassembled() {
    let cap = own_pcaps().join("enip/synthetic-fragmented/fragmented.pcap");
    let (events, _) = replay_events(&cap);
    let cip: Vec<&Value> = events.iter().filter(|e| e["protocol"] == "cip").collect();
    // A write's replies carry no fragment: its data went in the request.
    let fragments: Vec<(&str, &str, u64, u64)> = cip
        .iter()
        .filter(|e| e["fragment"].is_object())
        .map(|e| {
            (
                e["function"].as_str().unwrap(),
                e["direction"].as_str().unwrap(),
                e["fragment"]["offset"].as_u64().unwrap(),
                e["fragment"]["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let read = "read_tag_fragmented";
    let write = "write_tag_fragmented";
    assert_eq!(
        fragments,
        [
            (read, "request", 0, 0),
            (read, "response", 0, 480),
            (read, "request", 480, 0),
            (read, "response", 480, 480),
            (read, "request", 960, 0),
            (read, "response", 960, 240),
            (write, "request", 0, 480),
            (write, "request", 480, 320),
        ]
    );
    let done: Vec<(&str, &Value)> = cip
        .iter()
        .filter(|e| e["transfer"].is_object())
        .map(|e| (e["function"].as_str().unwrap(), &e["transfer"]))
        .collect();
    assert_eq!(
        done,
        [
            (read, &serde_json::json!({ "fragments": 3, "bytes": 1200 })),
            (write, &serde_json::json!({ "fragments": 2, "bytes": 800 })),
        ]
    );
    assert!(cip
        .iter()
        .filter(|e| e["function"] == write)
        .all(|e| e["operation"] == "write" && e["tag"] == "Setpoints"));
}

/// `[enip] vendors` names CIP vendors from the user's table (ahead of the few built in);
/// a table that does not read is refused by `config check` with its line, exit 2.
#[test]
fn cip_vendors_are_named_from_the_users_table() {
    let d = Scratch::new("enip-vendors");
    let (table, cfg, assets) = (
        d.path("vendors.csv"),
        d.path("sensor.toml"),
        d.path("assets.json"),
    );
    std::fs::write(
        &table,
        "id,name\n1,Vendor One (from the user's table)\n0x2F,Omron\n",
    )
    .unwrap();
    std::fs::write(
        &cfg,
        format!("[enip]\nvendors = {:?}\n", table.display().to_string()),
    )
    .unwrap();
    assert_eq!(config_check(&cfg).status.code(), Some(0));
    let cap = own_pcaps().join("enip/suricata-verify-enip-cip-example/enip_cip_example.pcap");
    let (code, _, err) = replay(&[
        cap.as_os_str(),
        "-c".as_ref(),
        cfg.as_os_str(),
        "--assets".as_ref(),
        assets.as_os_str(),
        "--alerts".as_ref(),
        "/dev/null".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let doc = json(&assets);
    let a = doc["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ip"] == "10.1.1.164")
        .unwrap();
    assert_eq!(
        a["identity"]["vendor"],
        "Vendor One (from the user's table)"
    );
    std::fs::write(&table, "1,Rockwell\nseventy,Omron\n").unwrap();
    let out = config_check(&cfg);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("enip.vendors") && err.contains("line 2"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
