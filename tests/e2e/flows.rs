//! Every flow judged (issue 26): application labels for IT traffic, zones and conduits for
//! every flow (not only parsed industrial messages), internet and remote access, learned
//! conversations, and flow records whose Community IDs and packet totals equal Wireshark's.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

fn it(name: &str) -> PathBuf {
    own_pcaps().join("it").join(name)
}

/// HTTP, DNS, SSH, FTP and NTP between a workstation (172.16.238.131), its LAN
/// (172.16.238.1, the resolver .2) and three internet servers.
fn services() -> PathBuf {
    it("zeek__var-services-std-ports.pcap")
}

/// The workstation is a control zone (Purdue 2); the rest of its LAN is enterprise (4).
fn zones(dir: &Scratch, conduits: &str) -> PathBuf {
    let cfg = dir.path("zones.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[zones]]\nname = \"control\"\ncidrs = [\"172.16.238.131/32\"]\npurdue = 2\n\
             [[zones]]\nname = \"enterprise\"\ncidrs = [\"172.16.238.0/24\"]\npurdue = 4\n{conduits}"
        ),
    )
    .unwrap();
    cfg
}

/// (rule, src, dst, protocol) of alerts.
type Rows = BTreeSet<(String, String, String, String)>;

/// Replays with `args`; returns (rule, src, dst, protocol) of every alert and the flow records.
fn run(dir: &Scratch, pcaps: &[&Path], args: &[&OsStr]) -> (Rows, Vec<Value>) {
    let alerts = dir.path("alerts.jsonl");
    let flows = dir.path("flows.jsonl");
    let mut all: Vec<&OsStr> = pcaps.iter().map(|p| p.as_os_str()).collect();
    all.extend(args);
    all.extend([
        "--alerts".as_ref(),
        alerts.as_os_str(),
        "--flows".as_ref(),
        flows.as_os_str(),
    ]);
    let (code, _, err) = replay(&all);
    assert_eq!(code, 0, "{err}");
    let rows = jsonl(&alerts)
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["src"]["ip"].as_str().unwrap_or("-").to_string(),
                a["dst"]["ip"].as_str().unwrap_or("-").to_string(),
                a["protocol"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    (rows, jsonl(&flows))
}

fn rows(r: &[(&str, &str, &str, &str)]) -> Rows {
    r.iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect()
}

fn policy(
    all: &BTreeSet<(String, String, String, String)>,
) -> BTreeSet<(String, String, String, String)> {
    all.iter()
        .filter(|r| r.0.starts_with("policy."))
        .cloned()
        .collect()
}

const WS: &str = "172.16.238.131";
const LAN: &str = "172.16.238.1";
const DNS: &str = "172.16.238.2";

#[test]
fn it_traffic_across_zones_meets_the_conduits() {
    let dir = Scratch::new("flows-zones");
    let cfg = zones(&dir, "");
    let (alerts, flows) = run(&dir, &[&services()], &["-c".as_ref(), cfg.as_os_str()]);
    assert_eq!(
        policy(&alerts),
        rows(&[
            // DNS from the control zone to the enterprise resolver: no conduit.
            ("policy.no_conduit", WS, DNS, "dns"),
            // Into the control zone from the enterprise: SSH is remote access, FTP and HTTP
            // have no conduit.
            ("policy.remote_access", LAN, WS, "ssh"),
            ("policy.no_conduit", LAN, WS, "ftp"),
            ("policy.no_conduit", LAN, WS, "http"),
            // From the control zone to public addresses in no zone.
            ("policy.internet_access", WS, "74.125.225.81", "http"),
            ("policy.internet_access", WS, "141.142.192.39", "ssh"),
            ("policy.internet_access", WS, "69.50.219.51", "ntp"),
        ])
    );
    // Labels come from content (port 22 and 21 would say the same; 80 both ways).
    let label = |dst: &str, port: u64| {
        flows
            .iter()
            .find(|f| f["dst"]["ip"] == dst && f["dst"]["port"] == port)
            .map(|f| {
                (
                    f["app"].as_str().unwrap().to_string(),
                    f["app_by"].as_str().unwrap().to_string(),
                )
            })
            .unwrap_or_else(|| panic!("no flow to {dst}:{port}"))
    };
    assert_eq!(label(WS, 22), ("ssh".into(), "content".into()));
    assert_eq!(label(WS, 21), ("ftp".into(), "content".into()));
    assert_eq!(label(DNS, 53), ("dns".into(), "content".into()));
    assert_eq!(label("69.50.219.51", 123), ("ntp".into(), "content".into()));
    // mDNS to its multicast group is no conversation between zones.
    assert!(!alerts.iter().any(|r| r.2 == "224.0.0.251"));
}

#[test]
fn conduits_that_list_the_label_or_port_allow_it() {
    let dir = Scratch::new("flows-allowed");
    let cfg = zones(
        &dir,
        "[[conduits]]\nfrom = \"control\"\nto = \"enterprise\"\nprotocols = [\"dns\"]\n\
         [[conduits]]\nfrom = \"enterprise\"\nto = \"control\"\nprotocols = [\"ssh\", \"http\"]\nports = [\"tcp/21\"]\n\
         [[conduits]]\nfrom = \"control\"\nto = \"unzoned\"\nprotocols = [\"ntp\", \"http\"]\n",
    );
    let (alerts, _) = run(&dir, &[&services()], &["-c".as_ref(), cfg.as_os_str()]);
    assert_eq!(
        policy(&alerts),
        rows(&[
            // The conduit to the internet lists NTP and HTTP, not SSH.
            ("policy.internet_access", WS, "141.142.192.39", "ssh"),
        ])
    );
}

#[test]
fn a_new_conversation_between_baseline_hosts_is_raised_with_its_label() {
    let dir = Scratch::new("flows-conv");
    let base = dir.path("base.json");
    // Learn on the first 10 seconds (SSH and HTTP from the LAN, some DNS), detect on all.
    let early = dir.path("early.pcap");
    let st = Command::new("editcap")
        .args(["-B", "2011-06-24 15:51:41"])
        .arg(services())
        .arg(&early)
        .status();
    let Ok(st) = st else {
        skip("editcap (tshark's package) is not installed");
        return;
    };
    assert!(st.success());
    let (_, _) = run(
        &dir,
        &[&early],
        &["--learn".as_ref(), "--baseline".as_ref(), base.as_os_str()],
    );
    let b = json(&base);
    assert_eq!(b["schema_version"], 4);
    let convs = b["conversations"]
        .as_array()
        .expect("conversations learned");
    assert!(convs.iter().any(|c| c["client"] == LAN
        && c["server"] == WS
        && c["port"] == 22
        && c["label"] == "ssh"));
    let (alerts, _) = run(
        &dir,
        &[&services()],
        &["--baseline".as_ref(), base.as_os_str()],
    );
    let new: BTreeSet<_> = alerts
        .iter()
        .filter(|r| r.0 == "baseline.new_conversation")
        .cloned()
        .collect();
    // FTP from the LAN and the internet servers came after the learning window.
    assert!(
        new.contains(&(
            "baseline.new_conversation".into(),
            LAN.into(),
            WS.into(),
            "ftp".into()
        )),
        "{new:?}"
    );
    assert!(
        new.contains(&(
            "baseline.new_conversation".into(),
            WS.into(),
            "141.142.192.39".into(),
            "ssh".into()
        )),
        "{new:?}"
    );
    // What was learned is not raised.
    assert!(!new.iter().any(|r| r.3 == "ssh" && r.1 == LAN), "{new:?}");
}

/// `baseline show` lists the conversations, `suppress`/`approve` select them like edges and
/// `diff` names the change; a suppressed conversation is not raised.
#[test]
fn conversations_are_shown_diffed_and_curated() {
    let dir = Scratch::new("flows-curate");
    let set = own_pcaps().join("synthetic/scenarios");
    let cfg = set.join("zones.toml");
    let base = dir.path("base.json");
    learn_into(&cfg, &base, &set.join("train.pcap"));
    let (code, show, _) = baseline_cmd(&["show".as_ref(), base.as_os_str()]);
    assert_eq!(code, 0);
    let section = show
        .split("\nCONVERSATIONS")
        .nth(1)
        .expect("a conversations section");
    let line = |client: &str, server: &str, port: &str, app: &str| {
        section.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 6 && f[0] == client && f[1] == server && f[2] == port && f[3] == app
        })
    };
    assert!(
        line("141.81.0.10", "141.81.1.2", "53/udp", "dns"),
        "{section}"
    );
    assert!(
        line("141.81.1.40", "141.81.0.12", "3389/tcp", "rdp"),
        "{section}"
    );
    assert!(
        line("141.81.1.20", "141.81.0.10", "5450/tcp", "unknown"),
        "{section}"
    );

    let before = dir.path("before.json");
    std::fs::copy(&base, &before).unwrap();
    // A selector naming the RDP conversation from the jump host, and one naming the DNS
    // server's address.
    let (code, out, err) = baseline_cmd(&[
        "approve".as_ref(),
        base.as_os_str(),
        "edge=141.81.1.40>141.81.0.12/rdp".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 entries"), "{out}");
    let (code, _, err) = baseline_cmd(&[
        "suppress".as_ref(),
        base.as_os_str(),
        "edge=141.81.0.12>*".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, diff, _) = baseline_cmd(&["diff".as_ref(), before.as_os_str(), base.as_os_str()]);
    assert_eq!(code, 0);
    assert!(
        diff.contains(
            "~ conversation 141.81.1.40>141.81.0.12 3389/tcp rdp state learning -> approved"
        ),
        "{diff}"
    );
    assert!(
        diff.contains(
            "~ conversation 141.81.0.12>141.81.0.24 502/tcp modbus state learning -> suppressed"
        ),
        "{diff}"
    );
    // Learning the test capture on top adds its new conversations, which diff lists.
    learn_into(&cfg, &base, &set.join("test.pcap"));
    let (_, diff, _) = baseline_cmd(&["diff".as_ref(), before.as_os_str(), base.as_os_str()]);
    assert!(
        diff.contains("+ conversation 141.81.0.12>45.137.21.9 8443/tcp tls"),
        "{diff}"
    );
    assert!(
        diff.contains("+ conversation 141.81.0.10>141.81.1.25 dynamic/tcp unknown"),
        "{diff}"
    );
}

/// A connection picked up midstream between two unregistered ports: the ports guess the
/// lower one is the server, the first payload (an HTTP request from it) says it is the
/// client, and the flow record, the label and the new conversation follow the content.
#[test]
fn a_midstream_client_is_known_by_its_first_payload() {
    let dir = Scratch::new("flows-midstream");
    let (c, s) = ([192, 168, 7, 10], [192, 168, 7, 20]);
    let seg = |from: [u8; 4], fp: u16, to: [u8; 4], tp: u16, seq: u32, ack: u32, data: &[u8]| {
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, from[3]], [2, 0, 0, 0, 0, to[3]])
            .ipv4(from, to, 64)
            .tcp(fp, tp, seq, 64240)
            .ack(ack)
            .psh()
            .write(&mut f, data)
            .unwrap();
        f
    };
    let req = b"GET /status HTTP/1.1\r\nHost: hmi\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let t = 1_700_000_000_000_000u64;
    let cap = dir.path("midstream.pcap");
    write_pcap(
        &cap,
        &[
            // The server's ACK first: the ports alone would make 33000 the server.
            (t, seg(s, 50080, c, 33000, 9000, 5000, b"")),
            (t + 1000, seg(c, 33000, s, 50080, 5000, 9000, req)),
            (
                t + 2000,
                seg(s, 50080, c, 33000, 9000, 5000 + req.len() as u32, resp),
            ),
            (
                t + 3000,
                seg(
                    c,
                    33000,
                    s,
                    50080,
                    5000 + req.len() as u32,
                    9000 + resp.len() as u32,
                    b"",
                ),
            ),
        ],
    );
    let flows = dir.path("flows.jsonl");
    let (code, _, err) = replay(&[
        cap.as_os_str(),
        "--flows".as_ref(),
        flows.as_os_str(),
        "--alerts".as_ref(),
        "/dev/null".as_ref(),
    ]);
    assert_eq!(code, 0, "{err}");
    let recs = jsonl(&flows);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["src"]["ip"], "192.168.7.10", "{r}");
    assert_eq!(r["src"]["port"], 33000);
    assert_eq!(r["dst"]["port"], 50080);
    assert_eq!(r["app"], "http");
    assert_eq!(r["midstream"], true);
    assert_eq!(r["history"], "aDdA", "{r}");
    assert_eq!(r["src"]["packets"], 2);
    assert_eq!(r["dst"]["packets"], 2);
}

#[test]
fn remote_access_labels_by_content() {
    let dir = Scratch::new("flows-rdp");
    let (_, flows) = run(
        &dir,
        &[
            &it("zeek__rdp-x509.pcap"),
            &it("zeek__chrome-34-google.pcap"),
        ],
        &[],
    );
    let apps: BTreeSet<(String, String)> = flows
        .iter()
        .map(|f| {
            (
                f["app"].as_str().unwrap_or("-").to_string(),
                f["server_name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(apps.contains(&("rdp".into(), String::new())), "{apps:?}");
    assert!(
        apps.iter()
            .any(|(a, sni)| a == "tls" && sni.contains("google")),
        "{apps:?}"
    );
}

/// SMB on 445 and DCE/RPC over UDP are not EtherNet/IP, CLDAP is not Modbus: the IT captures
/// of the corpus give no industrial protocol at all. (MMS on 102 against S7comm is the MMS
/// dissector's test.)
#[test]
fn it_captures_are_never_taken_for_industrial_protocols() {
    let Some(shared) = shared_pcaps() else { return };
    let dir = Scratch::new("flows-neg");
    let stats = dir.path("stats.json");
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("it"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut args: Vec<&OsStr> = files.iter().map(|p| p.as_os_str()).collect();
    args.extend(["--stats".as_ref(), stats.as_os_str()]);
    let (code, _, err) = replay(&args);
    assert_eq!(code, 0, "{err}");
    let s = json(&stats);
    let labels = &s["flows"]["labels"];
    for p in ["modbus", "dnp3", "s7comm", "enip", "cip", "iec104"] {
        assert!(
            labels.get(p).is_none(),
            "{p} found in IT captures: {labels}"
        );
    }
    for want in [
        "smb", "dcerpc", "tls", "http", "dns", "ssh", "rdp", "snmp", "ntp", "dhcp", "vnc",
        "telnet", "ftp", "mqtt", "syslog", "kerberos", "ldap", "sip", "netbios",
    ] {
        assert!(labels.get(want).is_some(), "no {want} flow: {labels}");
    }
}

/// Community ID and packets per ID equal Wireshark's (TCP and UDP flows), on the project's
/// captures and the IT and mixed captures of the corpus.
#[test]
fn community_ids_and_packet_totals_equal_wiresharks() {
    if Command::new("tshark").arg("-v").output().is_err() {
        skip("tshark is not installed");
        return;
    }
    let mut files = vec![
        services(),
        it("zeek__rdp-x509.pcap"),
        own_pcaps().join("modbus"),
    ];
    if let Some(shared) = shared_pcaps() {
        files.push(shared.join("mixed/plant1__modbus+s7comm-merged.pcap"));
        for name in [
            "zeek__wikipedia.pcap",
            "suricata-verify__dcerpc-ctxids__input.pcap",
            "ndpi__anyconnect-vpn.pcap",
        ] {
            files.push(shared.join("it").join(name));
        }
    }
    let mut pcaps = Vec::new();
    for f in files {
        if f.is_dir() {
            let mut v: Vec<PathBuf> = files_under(&f)
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
                .collect();
            v.sort();
            pcaps.extend(v.into_iter().take(4));
        } else {
            pcaps.push(f);
        }
    }
    let mut compared = 0;
    for p in &pcaps {
        let out = Command::new("tshark")
            .args(["-n", "--enable-protocol", "communityid", "-r"])
            .arg(p)
            .args(["-Y", "(tcp or udp) and not icmp and not icmpv6 and not ip.flags.mf == 1 and not ip.frag_offset > 0", "-T", "fields", "-e", "communityid"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let id = l.split(',').next().unwrap_or("").trim();
            if !id.is_empty() {
                *want.entry(id.to_string()).or_default() += 1;
            }
        }
        let dir = Scratch::new("cid");
        let (_, flows) = run(&dir, &[p], &["--workers".as_ref(), "1".as_ref()]);
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for f in flows
            .iter()
            .filter(|f| f["final"] == true && (f["transport"] == "tcp" || f["transport"] == "udp"))
        {
            *got.entry(f["community_id"].as_str().unwrap().to_string())
                .or_default() +=
                f["src"]["packets"].as_u64().unwrap() + f["dst"]["packets"].as_u64().unwrap();
        }
        assert_eq!(got, want, "{}", p.display());
        compared += want.len();
    }
    assert!(compared > 50, "only {compared} flows compared");
}

/// Flow records carry what a SOC joins on and what Zeek's conn.log holds.
#[test]
fn flow_records_hold_the_connection() {
    let dir = Scratch::new("flows-rec");
    let cfg = zones(&dir, "");
    let (_, flows) = run(&dir, &[&services()], &["-c".as_ref(), cfg.as_os_str()]);
    let ssh = flows
        .iter()
        .find(|f| f["dst"]["port"] == 22 && f["dst"]["ip"] == WS)
        .expect("the SSH flow");
    assert_eq!(ssh["type"], "flow");
    assert_eq!(ssh["final"], true);
    assert!(ssh["uid"].as_str().unwrap().starts_with('C'));
    assert!(ssh["community_id"].as_str().unwrap().starts_with("1:"));
    assert_eq!(ssh["transport"], "tcp");
    assert_eq!(ssh["src"]["zone"], "enterprise");
    assert_eq!(ssh["dst"]["zone"], "control");
    assert_eq!(ssh["midstream"], false);
    assert!(ssh["history"].as_str().unwrap().starts_with("Sh"), "{ssh}");
    assert_eq!(ssh["alerts"], 1, "the remote access alert");
    assert_eq!(
        ssh["src"]["packets"].as_u64().unwrap() + ssh["dst"]["packets"].as_u64().unwrap(),
        70
    );
    let uids: BTreeSet<&str> = flows.iter().map(|f| f["uid"].as_str().unwrap()).collect();
    assert_eq!(uids.len(), flows.len(), "uids are unique");
}

/// A long flow gets interim records (same uid, running totals) before its final one.
#[test]
fn long_flows_get_interim_records() {
    let dir = Scratch::new("flows-interim");
    let cfg = dir.path("interim.toml");
    std::fs::write(&cfg, "[flows]\ninterim_secs = 4\n").unwrap();
    let (_, flows) = run(&dir, &[&services()], &["-c".as_ref(), cfg.as_os_str()]);
    // The SSH session from the LAN lasts 9.95 s: interim records after 4 s and 8 s.
    let ssh: Vec<&Value> = flows
        .iter()
        .filter(|f| f["dst"]["port"] == 22 && f["dst"]["ip"] == WS)
        .collect();
    assert_eq!(ssh.len(), 3, "{ssh:?}");
    let finals: Vec<bool> = ssh.iter().map(|f| f["final"] == true).collect();
    assert_eq!(finals, [false, false, true]);
    assert!(ssh.iter().all(|f| f["uid"] == ssh[0]["uid"]));
    let total =
        |f: &Value| f["src"]["packets"].as_u64().unwrap() + f["dst"]["packets"].as_u64().unwrap();
    assert!(total(ssh[0]) < total(ssh[1]) && total(ssh[1]) < total(ssh[2]));
    assert!(ssh[0].get("end_reason").is_none());
    assert_eq!(ssh[2]["end_reason"], "end_of_input");
}

/// Every flow record follows `schemas/flow.schema.json` (JSON Schema 2020-12, formats
/// checked), on the project's captures and the corpus's IT, mixed and industrial samples.
#[test]
fn every_flow_record_follows_the_schema() {
    let py = root().join("target/test-tools/venv/bin/python");
    if !py.is_file() {
        skip("jsonschema not installed in target/test-tools/venv (scripts/test.sh installs it)");
        return;
    }
    let dir = Scratch::new("flows-schema");
    let mut caps = captures_under(&own_pcaps());
    if let Some(shared) = shared_pcaps() {
        for sub in ["it", "mixed", "iec61850-goose-sv", "bacnet"] {
            caps.extend(captures_under(&shared.join(sub)));
        }
    }
    let mut files = Vec::new();
    for (i, cap) in caps.iter().enumerate() {
        let f = dir.path(&format!("flows-{i}.jsonl"));
        let (_, _, err) = replay(&[
            cap.as_os_str(),
            "--flows".as_ref(),
            f.as_os_str(),
            "--alerts".as_ref(),
            "/dev/null".as_ref(),
        ]);
        assert!(f.is_file(), "{}: {err}", cap.display());
        files.push(f);
    }
    let res = run_with_timeout(
        Command::new(&py)
            .arg(root().join("tests/tools/validate_events.py"))
            .arg(root().join("schemas/flow.schema.json"))
            .args(&files),
        std::time::Duration::from_secs(600),
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let n: usize = String::from_utf8_lossy(&res.stdout).trim().parse().unwrap();
    assert!(n > 1_000, "only {n} flow records validated");
}
