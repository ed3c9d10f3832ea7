//! `[protocols.NAME]`: a protocol switched off leaves its flows unknown, an extra port makes
//! a protocol found there without its content probe, and content detection can be turned
//! off. Modbus/TCP moved to port 15020 by `tcprewrite`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use crate::util::*;

/// A replay of `cap` under `settings`: its (events, alerts, flow records).
type Records = (
    Vec<serde_json::Value>,
    Vec<serde_json::Value>,
    Vec<serde_json::Value>,
);

fn records(dir: &Scratch, settings: &str, cap: &Path) -> Records {
    let cfg = dir.path("cfg.toml");
    std::fs::write(&cfg, settings).unwrap();
    let (ev, al, fl) = (
        dir.path("events.jsonl"),
        dir.path("alerts.jsonl"),
        dir.path("flows.jsonl"),
    );
    for p in [&ev, &al, &fl] {
        let _ = std::fs::remove_file(p);
    }
    let args: Vec<&OsStr> = vec![
        "-c".as_ref(),
        cfg.as_os_str(),
        cap.as_os_str(),
        "--events".as_ref(),
        ev.as_os_str(),
        "--alerts".as_ref(),
        al.as_os_str(),
        "--flows".as_ref(),
        fl.as_os_str(),
    ];
    let (code, _, err) = replay(&args);
    assert_eq!(code, 0, "{settings}: {err}");
    (jsonl(&ev), jsonl(&al), jsonl(&fl))
}

/// (Modbus events, `protocol.nonstandard_port` alerts, flow records by `app`) of a replay.
fn run(dir: &Scratch, settings: &str, cap: &Path) -> (usize, usize, Vec<String>) {
    let (events, alerts, flows) = records(dir, settings, cap);
    let events = events.iter().filter(|e| e["protocol"] == "modbus").count();
    let nonstandard = alerts
        .iter()
        .filter(|a| a["rule"] == "protocol.nonstandard_port")
        .count();
    let mut apps: Vec<String> = flows
        .iter()
        .filter(|f| f["final"] == true)
        .map(|f| f["app"].as_str().unwrap_or("").to_string())
        .collect();
    apps.sort();
    apps.dedup();
    (events, nonstandard, apps)
}

#[test]
fn a_protocol_switched_off_an_extra_port_and_content_detection_off() {
    let dir = Scratch::new("settings");
    let orig = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    // Switched off: its flows are unknown, on its own port too.
    let (events, _, apps) = run(&dir, "[protocols.modbus]\nenabled = false\n", &orig);
    assert_eq!(events, 0);
    assert_eq!(apps, ["unknown"]);
    let (events, _, apps) = run(&dir, "", &orig);
    assert!(events > 15_000, "{events}");
    assert_eq!(apps, ["modbus"]);

    let moved = dir.path("m15020.pcap");
    let out = Command::new("tcprewrite")
        .arg("--portmap=502:15020")
        .arg("-i")
        .arg(&orig)
        .arg("-o")
        .arg(&moved)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("tcprewrite: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => return skip(&format!("tcprewrite (apt-get install tcpreplay): {e}")),
    }
    // By content on a port it does not own: found, and each connection is reported.
    let (by_content, nonstandard, apps) = run(&dir, "", &moved);
    assert!(by_content > 10_000, "{by_content}");
    assert!(nonstandard > 0);
    assert_eq!(apps, ["modbus"]);
    // Content detection off: not found.
    let (events, _, apps) = run(
        &dir,
        "[protocols.modbus]\ndetect_by_content = false\n",
        &moved,
    );
    assert_eq!(events, 0);
    assert_eq!(apps, ["unknown"]);
    // Its port added: found by port, so not a non-standard port any more.
    let (events, nonstandard, apps) = run(
        &dir,
        "[protocols.modbus]\ndetect_by_content = false\nports = [15020]\n",
        &moved,
    );
    assert!(events > 10_000, "{events}");
    assert_eq!(nonstandard, 0);
    assert_eq!(apps, ["modbus"]);
    // An unknown protocol name is refused, naming the key.
    let bad = dir.path("bad.toml");
    std::fs::write(&bad, "[protocols.modbuz]\nenabled = false\n").unwrap();
    let out = config_check(&bad);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("protocols") && err.contains("\"modbuz\""),
        "{err}"
    );
}

/// The content probes are strict: no parser claims SMB or DCE/RPC (EtherNet/IP's
/// encapsulation header could be read into a SMB or DCE/RPC header), on any of the corpus's
/// captures of them (SMB1, SMB2/3, DCE/RPC over SMB and over TCP, Kerberos).
#[test]
fn no_parser_claims_smb_or_dce_rpc() {
    let Some(shared) = shared_pcaps() else { return };
    let manifest = std::fs::read_to_string(shared.join("MANIFEST.tsv")).unwrap();
    let caps: Vec<&str> = manifest
        .lines()
        .filter(|l| l.starts_with("it/"))
        .filter(|l| {
            let protocols = l.split('\t').nth(1).unwrap_or("");
            protocols.contains("SMB") || protocols.contains("DCERPC")
        })
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert!(caps.len() >= 5, "{caps:?}");
    for c in caps {
        let (events, _) = replay_events(&shared.join(c));
        let parsed: Vec<&serde_json::Value> = events.iter().take(3).collect();
        assert!(events.is_empty(), "{c}: {parsed:?}");
    }
}

/// `max_outstanding`: the Plant1 SCADA server keeps several Modbus requests in flight; a cap
/// of one makes each pipelined request a flood and its answer unpaired, while the default
/// (64) pairs them all.
#[test]
fn max_outstanding_caps_the_requests_a_flow_keeps() {
    let cap = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let dir = Scratch::new("outstanding");
    // Events of a replay under `settings` carrying each flag.
    let count = |settings: &str, flags: [&str; 2]| {
        let (events, _, _) = records(&dir, settings, &cap);
        flags.map(|flag| {
            events
                .iter()
                .filter(|e| {
                    e["flags"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|x| x == flag))
                })
                .count()
        })
    };
    const FLOOD: [&str; 2] = ["request_flood", "unpaired_response"];
    assert_eq!(count("", FLOOD)[0], 0);
    let [floods, unpaired] = count("[protocols.modbus]\nmax_outstanding = 1\n", FLOOD);
    assert!(floods > 1000, "{floods}");
    assert_eq!(unpaired, floods);
    // Another protocol's cap leaves Modbus alone.
    assert_eq!(
        count("[protocols.s7comm]\nmax_outstanding = 1\n", FLOOD)[0],
        0
    );
}

/// `otsensor protocols` lists every name a conduit takes (each accepted by `config check`),
/// with the config's settings: a protocol switched off, an extra port, content detection off.
#[test]
fn otsensor_protocols_lists_every_name_a_conduit_takes() {
    let dir = Scratch::new("protocols-list");
    let list = |cfg: Option<&Path>| {
        let mut c = Command::new(bin());
        c.arg("protocols");
        if let Some(p) = cfg {
            c.arg("-c").arg(p);
        }
        let out = run_with_timeout(&mut c, std::time::Duration::from_secs(30));
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = list(None);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| {
            l.split("  ")
                .filter(|c| !c.trim().is_empty())
                .map(str::trim)
                .collect()
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    for want in [
        "modbus", "dnp3", "s7comm", "goose", "pn_dcp", "rdp", "smb", "icmp", "unknown",
    ] {
        assert!(names.contains(&want), "{want} missing:\n{text}");
    }
    let modbus = rows.iter().find(|r| r[0] == "modbus").unwrap();
    assert_eq!(&modbus[1..4], ["parsed", "502", "502"], "{text}");
    // Every name listed is one a conduit takes.
    let cfg = dir.path("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[zones]]\nname = \"a\"\ncidrs = [\"10.0.0.0/24\"]\n[[zones]]\nname = \"b\"\ncidrs = [\"10.0.1.0/24\"]\n\
             [[conduits]]\nfrom = \"a\"\nto = \"b\"\nprotocols = {:?}\n",
            names
        ),
    )
    .unwrap();
    let out = config_check(&cfg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Under a config's settings.
    std::fs::write(
        &cfg,
        "[protocols.dnp3]\nenabled = false\n[protocols.modbus]\nports = [15020]\ndetect_by_content = false\n",
    )
    .unwrap();
    let text = list(Some(&cfg));
    let row = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap()
            .to_string()
    };
    assert!(row("dnp3").contains("switched off"), "{text}");
    let modbus = row("modbus");
    assert!(
        modbus.contains("502,15020") && modbus.contains(" no "),
        "{modbus}"
    );
}
