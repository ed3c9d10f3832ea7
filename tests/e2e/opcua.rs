//! OPC UA binary through the sensor: service counts per encoding node id equal to
//! Wireshark's on every capture of the corpus's opcua folder and the project's copies
//! (Wireshark told the two non-standard ports); the rules on unsecured channels,
//! anonymous sessions and node management; servers named by their GetEndpoints answers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::*;

/// Ports of the corpus's captures that Wireshark does not know as OPC UA.
const DECODE_AS: [&str; 4] = ["-d", "tcp.port==48010,opcua", "-d", "tcp.port==12001,opcua"];

fn wireshark(cap: &Path) -> Option<BTreeMap<u64, u64>> {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(cap)
        .args(DECODE_AS)
        .args([
            "-Y",
            "opcua",
            "-T",
            "fields",
            "-e",
            "opcua.servicenodeid.numeric",
        ])
        .output();
    let Ok(out) = out else {
        skip("tshark is not installed");
        return None;
    };
    assert!(out.status.success());
    let mut n = BTreeMap::new();
    for id in String::from_utf8_lossy(&out.stdout)
        .lines()
        .flat_map(|l| l.split(','))
        .filter(|x| !x.is_empty())
    {
        *n.entry(id.parse().unwrap()).or_default() += 1;
    }
    Some(n)
}

fn own() -> PathBuf {
    own_pcaps().join("opcua/icsnpp")
}

/// Per service (encoding node id), as many messages as Wireshark, on every capture.
/// Adjudicated: in the two `with-gap` captures a CreateSessionResponse of 13,990 bytes
/// arrives in contiguous segments two of which Wireshark takes for spurious
/// retransmissions, so it never reassembles that message; the sensor reads it (one 464
/// more in each).
#[test]
fn opcua_services_equal_wireshark() {
    let mut caps = captures_under(&own());
    if let Some(shared) = shared_pcaps() {
        caps.extend(captures_under(&shared.join("opcua")));
    }
    let mut total = 0;
    for cap in &caps {
        let Some(mut want) = wireshark(cap) else {
            return;
        };
        let name = cap.file_name().unwrap().to_string_lossy();
        if name.contains("with-gap") {
            *want.entry(464).or_default() += 1;
        }
        let (events, stats) = replay_events(cap);
        let mut got = BTreeMap::new();
        for e in events.iter().filter(|e| e["protocol"] == "opcua") {
            if let Some(c) = e["function_code"].as_u64() {
                *got.entry(c).or_default() += 1;
            }
        }
        assert_eq!(got, want, "{}", cap.display());
        assert_eq!(stats["parse_errors"]["opcua"], 0, "{}", cap.display());
        total += got.values().sum::<u64>();
    }
    assert!(total >= 1_900, "{total}");
}

fn alerts(cap: &Path) -> Vec<(String, String)> {
    let d = Scratch::new("opcua-alerts");
    let out = d.path("alerts.jsonl");
    let (code, _, err) = replay(&[cap.as_os_str(), "--alerts".as_ref(), out.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let mut v: Vec<(String, String)> = jsonl(&out)
        .iter()
        .filter(|a| a["engine"] == "operational")
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["function"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// An unsecured channel, an anonymous session and AddNodes raise their rules; a user-name
/// session does not.
#[test]
fn unsecured_channels_anonymous_sessions_and_node_management_are_alerted() {
    let s = |r: &str, f: &str| (r.to_string(), f.to_string());
    assert_eq!(
        alerts(&own().join("open62541_client-server_mainloop.pcap")),
        [
            s("operational.opcua_node_management", "AddNodesRequest"),
            s(
                "operational.opcua_security_none",
                "OpenSecureChannelRequest"
            ),
        ]
    );
    assert_eq!(
        alerts(&own().join("python_opcua-client-server_encrypted.pcap")),
        [
            s(
                "operational.opcua_anonymous_session",
                "ActivateSessionRequest"
            ),
            s(
                "operational.opcua_security_none",
                "OpenSecureChannelRequest"
            ),
        ]
    );
}

/// The encrypted channel's chunks are counted as such; the server names itself.
#[test]
fn encrypted_chunks_are_counted_and_servers_named() {
    let cap = own().join("python_opcua-client-server_encrypted.pcap");
    let (events, stats) = replay_events(&cap);
    let encrypted = events.iter().filter(|e| e["encrypted"] == true).count() as u64;
    assert!(encrypted > 0);
    assert_eq!(
        stats["protocols"]["opcua"]["other"]["encrypted_chunks"],
        encrypted
    );
    let server = asset_where(&cap, &[], |a| {
        a["identity"]["name"] == "FreeOpcUa Python Server"
    });
    assert_eq!(
        server["identity"]["model"],
        "urn:freeopcua.github.io:python:server"
    );
}

/// Negative tests for the new parsers and probes: no capture of the project's other
/// protocols (Modbus, DNP3, S7comm, EtherNet/IP, IEC 104, MMS-free IT traffic, the
/// scenario set) yields an OPC UA, BACnet, PROFINET, GOOSE or SV event, and no capture of
/// theirs yields another of them.
#[test]
fn new_protocols_are_not_seen_in_other_protocols_captures() {
    let folders: [(&str, &[&str]); 4] = [
        ("opcua", &["opcua"]),
        ("bacnet", &["bacnet"]),
        ("profinet", &["pn_dcp", "pn_rt"]),
        ("iec61850", &["goose", "sv"]),
    ];
    let new: Vec<&str> = folders
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    for cap in captures_under(&own_pcaps()) {
        let rel = cap
            .strip_prefix(own_pcaps())
            .unwrap()
            .to_string_lossy()
            .to_string();
        // Unreadable on purpose (a replay exits 2); no protocol to look at.
        if rel.starts_with("broken/") {
            continue;
        }
        let own: &[&str] = folders
            .iter()
            .find(|(f, _)| rel.starts_with(f))
            .map_or(&[], |(_, p)| *p);
        // The synthetic captures made for these protocols are theirs.
        let own: Vec<&str> = match rel.split('/').nth(1) {
            Some("substation") => vec!["goose", "sv"],
            Some("profinet-dcp") => vec!["pn_dcp"],
            _ => own.to_vec(),
        };
        let (events, _) = replay_events(&cap);
        for e in &events {
            let p = e["protocol"].as_str().unwrap_or_default();
            assert!(
                !new.contains(&p) || own.contains(&p),
                "{rel}: a {p} event: {e}"
            );
        }
    }
}
