//! Who is on the network (issue 27): the names and software the rest of the network gives
//! away about a device land on the right asset, compared with what Wireshark shows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::util::*;

/// Names per device: by IP address, and by each MAC address the device used.
struct Names {
    by_ip: BTreeMap<String, BTreeSet<String>>,
    by_mac: BTreeMap<String, BTreeSet<String>>,
}

fn names(cap: &Path) -> (Names, Value) {
    let dir = Scratch::new("identity");
    let out = dir.path("assets.json");
    let (code, _, err) = replay(&[cap.as_os_str(), "--assets".as_ref(), out.as_os_str()]);
    assert_eq!(code, 0, "{}: {err}", cap.display());
    let assets = json(&out);
    let mut n = Names {
        by_ip: BTreeMap::new(),
        by_mac: BTreeMap::new(),
    };
    for a in assets["assets"].as_array().unwrap() {
        let hs: BTreeSet<String> = a["hostnames"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|h| h["value"].as_str().unwrap().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        n.by_ip
            .entry(a["ip"].as_str().unwrap().to_string())
            .or_default()
            .extend(hs.iter().cloned());
        for m in a["macs"].as_array().unwrap() {
            n.by_mac
                .entry(m.as_str().unwrap().to_string())
                .or_default()
                .extend(hs.iter().cloned());
        }
    }
    (n, assets)
}

/// A device as Wireshark's fields name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Device {
    Ip(String),
    Mac(String),
}

/// (device, name) pairs of DHCP host names: a client message's device is its `ciaddr`,
/// else the address it requests, else its MAC; a server's is the address it gives.
fn dhcp_names(cap: &Path) -> Option<BTreeSet<(Device, String)>> {
    let rows = tshark_rows(
        cap,
        "dhcp.option.hostname",
        &[
            "dhcp.type",
            "dhcp.ip.client",
            "dhcp.option.requested_ip_address",
            "dhcp.ip.your",
            "dhcp.hw.mac_addr",
            "dhcp.option.hostname",
        ],
    )?;
    let mut out = BTreeSet::new();
    for r in rows {
        let [op, ci, req, yi, mac, name] = r.as_slice() else {
            continue;
        };
        let dev = if op == "2" {
            Device::Ip(yi.clone())
        } else if ci != "0.0.0.0" {
            Device::Ip(ci.clone())
        } else if !req.is_empty() {
            Device::Ip(req.clone())
        } else {
            // The client identifier option repeats the hardware address.
            Device::Mac(mac.split(',').next().unwrap_or_default().to_string())
        };
        out.insert((dev, name.to_ascii_lowercase()));
    }
    Some(out)
}

/// (address, name) pairs of NetBIOS registrations and positive answers: unique names
/// (group flag clear) of workstations and servers (suffix 00 or 20).
fn nbns_names(cap: &Path) -> Option<BTreeSet<(Device, String)>> {
    let rows = tshark_rows(
        cap,
        "nbns && ((nbns.flags.response==1 && nbns.flags.rcode==0 && nbns.flags.opcode==0) \
         || (nbns.flags.response==0 && (nbns.flags.opcode==5 || nbns.flags.opcode==8 \
         || nbns.flags.opcode==9)))",
        &["nbns.name", "nbns.nb_flags.group", "nbns.addr"],
    )?;
    let mut out = BTreeSet::new();
    for r in rows {
        let [names, groups, addrs] = r.as_slice() else {
            continue;
        };
        let Some(first) = names.split(',').next_back() else {
            continue;
        };
        let Some((name, rest)) = first.split_once('<') else {
            continue;
        };
        if !(rest.starts_with("00>") || rest.starts_with("20>")) {
            continue;
        }
        for (g, a) in groups.split(',').zip(addrs.split(',')) {
            if g == "0" && !a.is_empty() {
                out.insert((Device::Ip(a.to_string()), name.trim().to_ascii_lowercase()));
            }
        }
    }
    Some(out)
}

/// (agent, name) pairs of SNMP answers for sysName.0 (any version whose PDU is in clear).
fn snmp_names(cap: &Path) -> Option<BTreeSet<(Device, String)>> {
    let rows = tshark_rows(
        cap,
        "snmp.data == 2 && snmp.name == 1.3.6.1.2.1.1.5.0",
        &["ip.src", "snmp.name", "snmp.value.octets"],
    )?;
    let mut out = BTreeSet::new();
    for r in rows {
        let [src, oids, values] = r.as_slice() else {
            continue;
        };
        // One value per binding, in order; octet strings in hex.
        for (oid, hex) in oids.split(',').zip(values.split(',')) {
            if oid != "1.3.6.1.2.1.1.5.0" {
                continue;
            }
            let bytes: Vec<u8> = (0..hex.len() / 2)
                .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                .collect();
            out.insert((
                Device::Ip(src.clone()),
                String::from_utf8_lossy(&bytes).to_ascii_lowercase(),
            ));
        }
    }
    Some(out)
}

/// (device, name) pairs of LLDP system names and CDP device ids: the device is its
/// management address when the frame gives one, else its MAC.
fn l2_names(cap: &Path) -> Option<BTreeSet<(Device, String)>> {
    let mut out = BTreeSet::new();
    let lldp = tshark_rows(
        cap,
        "lldp.tlv.system.name",
        &[
            "lldp.tlv.system.name",
            "lldp.mgn.addr.ip4",
            "lldp.chassis.id.mac",
            "eth.src",
        ],
    )?;
    let cdp = tshark_rows(
        cap,
        "cdp.deviceid",
        &["cdp.deviceid", "cdp.nrgyz.ip_address", "eth.src", "eth.src"],
    )?;
    for r in lldp.into_iter().chain(cdp) {
        let [name, addr, chassis, src] = r.as_slice() else {
            continue;
        };
        let first = |s: &str| s.split(',').next().unwrap_or_default().to_string();
        let dev = if !addr.is_empty() {
            Device::Ip(first(addr))
        } else if !chassis.is_empty() {
            Device::Mac(first(chassis))
        } else {
            Device::Mac(first(src))
        };
        out.insert((dev, name.to_ascii_lowercase()));
    }
    Some(out)
}

/// Every DHCP host name, NetBIOS name, SNMP sysName, LLDP system name and CDP device id
/// Wireshark shows is a name of the right device.
#[test]
fn dhcp_netbios_snmp_lldp_and_cdp_names_match_wireshark() {
    let Some(shared) = shared_pcaps() else { return };
    let (mut checked, mut unseen) = (0, 0);
    for name in [
        "suricata-verify__output-eve-ftp-data__input.pcap",
        "suricata-verify__smb2-ntlmssp-negotiateflags__input.pcap",
        "tcpdump__dhcp-mud.pcap",
        "ndpi__netbios.pcap",
        "ndpi__anyconnect-vpn.pcap",
        "zeek__wikipedia.pcap",
        "zeek__snmpv1_get.pcap",
        "ndpi__snmp.pcap",
        "zeek__lldp.pcap",
        "tcpdump__lldp_mudurl.pcap",
        "zeek__cdp-v1.pcap",
        "ndpi__capwap.pcap",
    ] {
        let cap = shared.join("it").join(name);
        let (Some(dhcp), Some(nbns), Some(snmp), Some(l2)) = (
            dhcp_names(&cap),
            nbns_names(&cap),
            snmp_names(&cap),
            l2_names(&cap),
        ) else {
            return;
        };
        // Its DHCP rides inside CAPWAP data tunnels, which the sensor does not open.
        let dhcp = if name == "ndpi__capwap.pcap" {
            BTreeSet::new()
        } else {
            dhcp
        };
        let (ours, _) = names(&cap);
        for (dev, n) in dhcp.iter().chain(&nbns).chain(&snmp).chain(&l2) {
            let have = match dev {
                Device::Ip(ip) => ours.by_ip.get(ip),
                Device::Mac(mac) => ours.by_mac.get(mac),
            };
            // A NetBIOS answer may list an address no packet of the capture came from or
            // went to (a multi-homed server's other interface): no device to name there.
            if have.is_none()
                && matches!(dev, Device::Ip(_))
                && nbns.contains(&(dev.clone(), n.clone()))
            {
                unseen += 1;
                continue;
            }
            assert!(
                have.is_some_and(|h| h.contains(n)),
                "{name}: {n} of {dev:?} not in {have:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} names compared");
    assert!(unseen <= 1, "{unseen} names of addresses never seen");
}

/// Software: the HTTP User-Agent of a client, the Server of a server, SSH banners, DHCP's
/// vendor class and parameter-request list; names from DNS, mDNS and LLMNR answers.
#[test]
fn software_and_answered_names_land_on_their_devices() {
    let Some(shared) = shared_pcaps() else { return };
    let find = |assets: &Value, ip: &str| -> Value {
        assets["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["ip"] == ip)
            .cloned()
            .unwrap_or_else(|| panic!("no asset {ip}"))
    };
    let has = |a: &Value, field: &str, source: &str, prefix: &str| {
        a[field].as_array().is_some_and(|v| {
            v.iter()
                .any(|c| c["source"] == source && c["value"].as_str().unwrap().starts_with(prefix))
        })
    };
    let (_, a) = names(&shared.join("it/suricata-verify__output-eve-ftp-data__input.pcap"));
    let hp = find(&a, "192.168.0.13");
    assert!(
        has(&hp, "software", "http.user_agent", "Microsoft-Windows/6.1"),
        "{hp}"
    );
    assert!(
        has(&hp, "software", "dhcp.vendor_class", "MSFT 5.0"),
        "{hp}"
    );
    assert_eq!(
        hp["dhcp_fingerprint"]["value"],
        "1,15,3,6,44,46,47,31,33,121,249,43"
    );
    let router = find(&a, "192.168.0.1");
    assert!(
        has(&router, "software", "http.server", "UPnP/1.0"),
        "{router}"
    );

    let (_, a) = names(&shared.join("it/zeek__ssh_version_199.pcap"));
    let banners: usize = a["assets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| has(x, "software", "ssh.banner", ""))
        .count();
    assert!(banners >= 2, "{a}");

    let (n, _) = names(&shared.join("it/zeek__wikipedia.pcap"));
    assert!(n.by_ip["208.80.152.2"].contains("text.pmtpa.wikimedia.org"));
    assert!(n.by_ip["141.142.220.50"].contains("gemini.local"), "mDNS");
    let (n, _) = names(&shared.join("it/suricata-verify__smb2-ntlmssp-negotiateflags__input.pcap"));
    assert!(n.by_ip["192.168.199.1"].contains("scv"), "LLMNR");

    // The OS version of every NTLMSSP message is its sender's OS, as Wireshark reads it.
    let smb = shared.join("it/suricata-verify__smb2-ntlmssp-negotiateflags__input.pcap");
    let (_, a) = names(&smb);
    let Some(rows) = tshark_rows(
        &smb,
        "ntlmssp.version.major",
        &[
            "ip.src",
            "ntlmssp.version.major",
            "ntlmssp.version.minor",
            "ntlmssp.version.build_number",
        ],
    ) else {
        return;
    };
    assert!(rows.len() >= 5);
    for r in rows {
        let [ip, major, minor, build] = r.as_slice() else {
            panic!("{r:?}")
        };
        let want = format!("Windows {major}.{minor} build {build}");
        assert!(
            has(&find(&a, ip), "os", "ntlmssp.version", &want),
            "{ip} {want}"
        );
    }
}

/// The asset of `ip` in an `--assets` document, or the MAC-only device `mac`.
fn device<'a>(assets: &'a Value, ip: Option<&str>, mac: &str) -> &'a Value {
    let (list, key, want) = match ip {
        Some(ip) if !ip.is_empty() => ("assets", "ip", ip),
        _ => ("l2_assets", "mac", mac),
    };
    assets[list]
        .as_array()
        .and_then(|v| v.iter().find(|a| a[key] == want))
        .unwrap_or_else(|| panic!("no device {want} in {assets}"))
}

fn values(a: &Value, field: &str) -> Vec<String> {
    a[field]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|c| c["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The OS an SMB1 session setup names (`smb.native_os`), the ports and capabilities LLDP
/// and CDP announce, and every ARP sender's address and MAC, as Wireshark reads them, on
/// the corpus's captures.
#[test]
fn native_os_discovery_ports_and_arp_senders_match_wireshark() {
    let Some(shared) = shared_pcaps() else { return };
    let mut checked = 0;
    for f in ["it/ndpi__smbv1.pcap", "it/suricata-verify__smb1_osx.pcap"] {
        let cap = shared.join(f);
        let (_, a) = names(&cap);
        let Some(rows) = tshark_rows(&cap, "smb.native_os != \"\"", &["ip.src", "smb.native_os"])
        else {
            return;
        };
        for r in rows {
            let [ip, os] = r.as_slice() else {
                panic!("{r:?}")
            };
            let d = device(&a, Some(ip), "");
            assert!(values(d, "os").contains(os), "{f}: {ip} {os}: {d}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked}");
    // An end of support OS is a risk input.
    let (_, a) = names(&shared.join("it/ndpi__smbv1.pcap"));
    let w7 = device(&a, Some("10.128.0.243"), "");
    assert_eq!(
        w7["risk_inputs"]["unsupported_os"][0], "Windows 7 Ultimate 7601 Service Pack 1",
        "{w7}"
    );

    let mut ports = 0;
    for f in [
        "it/zeek__lldp.pcap",
        "it/zeek__cdp-v1.pcap",
        "it/tcpdump__lldp_mudurl.pcap",
    ] {
        let cap = shared.join(f);
        let (_, a) = names(&cap);
        let fields = [
            "eth.src",
            "lldp.mgn.addr.ip4",
            "cdp.nrgyz.ip_address",
            "lldp.port.id",
            "lldp.port.desc",
            "cdp.portid",
            "lldp.tlv.enable_system_cap",
            "cdp.capabilities",
        ];
        let Some(rows) = tshark_rows(&cap, "lldp || cdp", &fields) else {
            return;
        };
        for r in rows {
            let [mac, ip4, cdp_ip, id, desc, cdp_port, caps, cdp_caps] = r.as_slice() else {
                panic!("{r:?}")
            };
            let ip = if ip4.is_empty() { cdp_ip } else { ip4 };
            let d = device(&a, Some(ip), mac);
            let id = if cdp_port.is_empty() { id } else { cdp_port };
            let want = match (id.is_empty(), desc.is_empty()) {
                (false, false) if id != desc => format!("{id} ({desc})"),
                (false, _) => id.clone(),
                _ => desc.clone(),
            };
            assert_eq!(values(d, "l2_ports"), [want], "{f}: {d}");
            let hex = |v: &str| u32::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or(0);
            let bits = hex(caps) | hex(cdp_caps);
            assert_eq!(
                values(d, "capabilities").len(),
                bits.count_ones() as usize,
                "{f}: {d}"
            );
            ports += 1;
        }
    }
    assert!(ports >= 3, "{ports}");

    let mut senders = 0;
    for f in [
        "it/suricata-verify__decode-arp-2__arp.pcap",
        "it/tcpdump__arp-oobr.pcap",
    ] {
        let cap = shared.join(f);
        let (_, a) = names(&cap);
        let filter = "arp.hw.type == 1 && arp.proto.type == 0x0800 && arp.hw.size == 6 \
                      && arp.proto.size == 4 && (arp.opcode == 1 || arp.opcode == 2) \
                      && !(arp.src.proto_ipv4 == 0.0.0.0/8) && arp.src.proto_ipv4 < 224.0.0.0";
        let Some(rows) = tshark_rows(&cap, filter, &["arp.src.proto_ipv4", "arp.src.hw_mac"])
        else {
            return;
        };
        for r in rows {
            let [ip, mac] = r.as_slice() else {
                panic!("{r:?}")
            };
            // A group MAC (the I/G bit set) is no sender's.
            let group =
                u8::from_str_radix(mac.get(..2).unwrap_or("01"), 16).map_or(true, |b| b & 1 == 1);
            if group {
                continue;
            }
            let d = device(&a, Some(ip), "");
            let macs = d["macs"].as_array().unwrap();
            // The fuzzed capture gives one address many MACs: the list stays bounded.
            assert!(
                macs.iter().any(|m| m == mac.as_str()) || macs.len() == 16,
                "{f}: {d}"
            );
            senders += 1;
        }
    }
    assert!(senders >= 4, "{senders}");
}

/// A GOOSE publisher is a device named by the logical device of its control block
/// reference, as Wireshark reads `goose.gocbRef`: an IP asset with the publisher's MAC if
/// one has it (an IED that also speaks MMS), else a device known by its MAC alone.
#[test]
fn goose_publishers_are_named_devices() {
    let Some(shared) = shared_pcaps() else { return };
    let mut checked = 0;
    for f in [
        "iec61850-goose-sv/iti-ics__GOOSE.pcap",
        "iec61850-goose-sv/iti-ics__Sample_File_GOOSE.pcap",
        "iec61850-goose-sv/ct-samples__GOOSE_and_MMS.pcapng",
    ] {
        let cap = shared.join(f);
        let (n, a) = names(&cap);
        let Some(rows) = tshark_rows(&cap, "goose.gocbRef", &["eth.src", "goose.gocbRef"]) else {
            return;
        };
        let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
        for r in rows {
            let [mac, r] = r.as_slice() else {
                panic!("{r:?}")
            };
            let ld = r.split_once('/').map_or(r.as_str(), |(ld, _)| ld);
            pairs.insert((mac.clone(), ld.to_ascii_lowercase()));
        }
        for (mac, ld) in pairs {
            let l2 = a["l2_assets"]
                .as_array()
                .and_then(|v| v.iter().find(|d| d["mac"] == mac.as_str()));
            let named = match l2 {
                Some(d) => values(d, "hostnames")
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(&ld)),
                None => n.by_mac.get(&mac).is_some_and(|hs| hs.contains(&ld)),
            };
            assert!(named, "{f}: {mac} {ld}: {a}");
            if let Some(d) = l2 {
                // Locally administered MACs have no vendor; others name theirs.
                let local = u8::from_str_radix(&mac[..2], 16).is_ok_and(|b| b & 2 == 2);
                assert!(d["mac_vendor"].is_string() || local, "{d}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked}");
}

/// Every asset inventory follows `schemas/asset.schema.json` (JSON Schema 2020-12, formats
/// checked, unknown fields refused): the project's captures and the corpus's IT captures.
#[test]
fn every_asset_inventory_follows_the_schema() {
    let py = root().join("target/test-tools/venv/bin/python");
    if !py.is_file() {
        skip("jsonschema not installed in target/test-tools/venv (scripts/test.sh installs it)");
        return;
    }
    let dir = Scratch::new("assets-schema");
    let mut caps: Vec<_> = captures_under(&own_pcaps())
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("/broken/"))
        .collect();
    if let Some(shared) = shared_pcaps() {
        caps.extend(captures_under(&shared.join("it")));
    }
    let mut files = Vec::new();
    for (i, cap) in caps.iter().enumerate() {
        let f = dir.path(&format!("assets-{i}.json"));
        let (code, _, err) = replay(&[cap.as_os_str(), "--assets".as_ref(), f.as_os_str()]);
        assert_eq!(code, 0, "{}: {err}", cap.display());
        files.push(f);
    }
    let out = Command::new(&py)
        .arg(root().join("tests/tools/validate_documents.py"))
        .arg(root().join("schemas/asset.schema.json"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(n, files.len());
    assert!(n > 50, "{n}");
}

/// One Modbus/TCP connection from the HMI to the PLC: a register read and a device
/// identification read answered with `firmware`, the PLC's frames from `plc_mac`.
fn modbus_session(t0: u64, cport: u16, plc_mac: [u8; 6], firmware: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let (hmi, plc) = ([10, 9, 0, 10], [10, 9, 0, 20]);
    let hmi_mac = [2, 0, 0, 0, 0, 10];
    let seg = |up: bool, seq: u32, ack: Option<u32>, syn: bool, data: &[u8]| {
        let (src, dst, sm, dm, sp, dp) = if up {
            (hmi, plc, hmi_mac, plc_mac, cport, 502)
        } else {
            (plc, hmi, plc_mac, hmi_mac, 502, cport)
        };
        let mut b = etherparse::PacketBuilder::ethernet2(sm, dm)
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 64240);
        if syn {
            b = b.syn();
        }
        if let Some(a) = ack {
            b = b.ack(a);
        }
        let mut f = Vec::new();
        b.write(&mut f, data).unwrap();
        f
    };
    let mut id_resp = vec![0, 2, 0, 0, 0, 0, 1, 0x2b, 0x0e, 1, 1, 0, 0, 3];
    for (obj, v) in [
        (0u8, &b"Schneider Electric"[..]),
        (1, b"BMX P34 2020"),
        (2, firmware),
    ] {
        id_resp.push(obj);
        id_resp.push(v.len() as u8);
        id_resp.extend(v);
    }
    let len = (id_resp.len() - 6) as u16;
    id_resp[4..6].copy_from_slice(&len.to_be_bytes());
    let msgs: [(&[u8], Vec<u8>); 2] = [
        (
            &[0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2],
            vec![0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2],
        ),
        (&[0, 2, 0, 0, 0, 5, 1, 0x2b, 0x0e, 1, 0], id_resp),
    ];
    let (mut c, mut s) = (1000u32, 9000u32);
    let mut out = vec![
        (t0, seg(true, c, None, true, b"")),
        (t0 + 100, seg(false, s, Some(c + 1), true, b"")),
    ];
    c += 1;
    s += 1;
    out.push((t0 + 200, seg(true, c, Some(s), false, b"")));
    let mut t = t0 + 1000;
    for (req, resp) in msgs {
        out.push((t, seg(true, c, Some(s), false, req)));
        c += req.len() as u32;
        out.push((t + 300, seg(false, s, Some(c), false, &resp)));
        s += resp.len() as u32;
        t += 1000;
    }
    out
}

/// A gratuitous ARP reply: `mac` says it has `ip` (broadcast).
fn arp_reply(mac: [u8; 6], ip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(mac);
    f.extend([0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend(mac);
    f.extend(ip);
    f.extend([0xff; 6]);
    f.extend(ip);
    f
}

/// The HMI's NetBIOS name registration (broadcast from 10.9.0.10).
fn nbns_registration(name: &str) -> Vec<u8> {
    let mut raw = [b' '; 16];
    raw[..name.len()].copy_from_slice(name.as_bytes());
    raw[15] = 0;
    let mut d = vec![0x80, 0x01, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1, 0x20];
    for b in raw {
        d.push(b'A' + (b >> 4));
        d.push(b'A' + (b & 0xf));
    }
    d.extend([0, 0, 0x20, 0, 1]);
    d.extend([
        0xc0, 0x0c, 0, 0x20, 0, 1, 0, 4, 0x93, 0xe0, 0, 6, 0, 0, 10, 9, 0, 10,
    ]);
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 10], [0xff; 6])
        .ipv4([10, 9, 0, 10], [10, 9, 0, 255], 64)
        .udp(137, 137)
        .write(&mut f, &d)
        .unwrap();
    f
}

/// A learned PLC answering from another MAC address (ARP spoofing, a swapped device) and
/// reporting other firmware: `anomaly.ip_conflict` and `anomaly.identity_changed` when
/// detecting, nothing while the same device answers as learned.
#[test]
fn a_plc_answering_from_another_mac_or_firmware_is_raised() {
    let dir = Scratch::new("identity-alerts");
    let plc_mac = [0x00, 0x80, 0xf4, 0, 0, 20];
    let t = 1_700_000_000_000_000u64;
    let learn = dir.path("learn.pcap");
    let mut frames = Vec::new();
    for k in 0..5u64 {
        frames.extend(modbus_session(
            t + k * 1_000_000,
            40000 + k as u16,
            plc_mac,
            b"v2.60",
        ));
    }
    frames.push((t + 5_500_000, nbns_registration("HMI01")));
    write_pcap(&learn, &frames);
    let base = dir.path("base.json");
    let (code, _, err) = replay(&[
        learn.as_os_str(),
        "--learn".as_ref(),
        "--baseline".as_ref(),
        base.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let b = json(&base);
    let plc = b["assets"]["10.9.0.20"].clone();
    assert_eq!(plc["macs"], serde_json::json!(["00:80:f4:00:00:14"]), "{b}");
    assert_eq!(plc["firmware"], "v2.60");
    assert_eq!(
        b["assets"]["10.9.0.10"]["hostnames"],
        serde_json::json!(["HMI01"]),
        "{b}"
    );
    let (code, show, _) = baseline_cmd(&["show".as_ref(), base.as_os_str()]);
    assert_eq!(code, 0);
    assert!(
        show.lines().any(
            |l| l.starts_with("10.9.0.20 ") && l.ends_with("00:80:f4:00:00:14, firmware v2.60")
        ),
        "{show}"
    );
    assert!(
        show.lines()
            .any(|l| l.starts_with("10.9.0.10 ") && l.ends_with("HMI01")),
        "{show}"
    );

    let detect = |name: &str, frames: Vec<(u64, Vec<u8>)>| -> BTreeSet<String> {
        let cap = dir.path(name);
        write_pcap(&cap, &frames);
        let alerts = dir.path(&format!("{name}.alerts"));
        let (code, _, err) = replay(&[
            cap.as_os_str(),
            "--baseline".as_ref(),
            base.as_os_str(),
            "--alerts".as_ref(),
            alerts.as_os_str(),
        ]);
        assert_eq!(code, 0, "{err}");
        jsonl(&alerts)
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let same = detect(
        "same.pcap",
        modbus_session(t + 60_000_000, 41000, plc_mac, b"v2.60"),
    );
    assert!(same.is_empty(), "{same:?}");
    // The HMI registers its NetBIOS name while learning; another name later is a change,
    // the same name nothing.
    for (name, want) in [
        ("ROGUE01", vec!["anomaly.identity_changed"]),
        ("HMI01", vec![]),
    ] {
        let mut named = modbus_session(t + 60_000_000, 41003, plc_mac, b"v2.60");
        named.push((t + 60_005_000, nbns_registration(name)));
        let got = detect(&format!("named-{name}.pcap"), named);
        let want: BTreeSet<String> = want.into_iter().map(String::from).collect();
        assert_eq!(got, want, "{name}");
    }
    // ARP spoofing: another MAC announces the PLC's address (gratuitous ARP replies), then
    // answers the HMI's polls in its place.
    let rogue = [0x02, 0xde, 0xad, 0xbe, 0xef, 1];
    let mut spoof = vec![
        (t + 59_000_000, arp_reply(rogue, [10, 9, 0, 20])),
        (t + 59_500_000, arp_reply(rogue, [10, 9, 0, 20])),
    ];
    spoof.extend(modbus_session(t + 60_000_000, 41001, rogue, b"v2.60"));
    let spoofed = detect("spoofed.pcap", spoof);
    assert_eq!(
        spoofed,
        BTreeSet::from(["anomaly.ip_conflict".to_string()]),
        "{spoofed:?}"
    );
    let updated = detect(
        "updated.pcap",
        modbus_session(t + 60_000_000, 41002, plc_mac, b"v3.10"),
    );
    assert_eq!(
        updated,
        BTreeSet::from(["anomaly.identity_changed".to_string()]),
        "{updated:?}"
    );
}

/// A switch that announces itself over LLDP without a management address, and sends no IP
/// packet, is an asset known by its MAC address, with its vendor and name; one that gives an
/// address is an IP asset.
#[test]
fn a_layer_2_only_switch_is_an_asset_by_mac() {
    let dir = Scratch::new("identity-l2");
    let tlv = |ty: u16, v: &[u8]| {
        let mut out = ((ty << 9) | v.len() as u16).to_be_bytes().to_vec();
        out.extend(v);
        out
    };
    let lldp = |chassis: [u8; 6], name: &[u8], mgmt: Option<[u8; 4]>| {
        let mut f = vec![0x01, 0x80, 0xc2, 0, 0, 0x0e];
        f.extend(chassis);
        f.extend([0x88, 0xcc]);
        let mut c = vec![4];
        c.extend(chassis);
        f.extend(tlv(1, &c));
        f.extend(tlv(2, &[7, b'7']));
        f.extend(tlv(3, &[0, 120]));
        f.extend(tlv(4, b"cell B uplink"));
        f.extend(tlv(5, name));
        f.extend(tlv(6, b"Siemens, SIMATIC NET, SCALANCE XB208"));
        // Bridge and router possible, bridge enabled.
        f.extend(tlv(7, &[0, 0x14, 0, 0x04]));
        if let Some(a) = mgmt {
            f.extend(tlv(8, &[5, 1, a[0], a[1], a[2], a[3], 2, 0, 0, 0, 1, 0]));
        }
        f.extend(tlv(0, &[]));
        f
    };
    let t = 1_700_000_000_000_000u64;
    let cap = dir.path("lldp.pcap");
    write_pcap(
        &cap,
        &[
            (t, lldp([0x00, 0x1b, 0x1b, 1, 2, 3], b"sw-cell-b", None)),
            (
                t + 30_000_000,
                lldp([0x00, 0x1b, 0x1b, 1, 2, 3], b"sw-cell-b", None),
            ),
            (
                t + 1000,
                lldp([0x00, 0x1b, 0x1b, 4, 5, 6], b"sw-core", Some([10, 1, 0, 2])),
            ),
            // A device that only answers ARP: an asset with its MAC.
            (
                t + 2000,
                arp_reply([0x00, 0x0e, 0x8c, 7, 7, 7], [10, 1, 0, 7]),
            ),
        ],
    );
    let (_, assets) = names(&cap);
    let l2 = assets["l2_assets"].as_array().expect("l2_assets");
    assert_eq!(l2.len(), 1, "{assets}");
    assert_eq!(l2[0]["mac"], "00:1b:1b:01:02:03");
    assert_eq!(l2[0]["mac_vendor"], "Siemens AG");
    assert_eq!(l2[0]["hostnames"][0]["value"], "sw-cell-b");
    assert_eq!(l2[0]["hostnames"][0]["source"], "lldp.sysname");
    assert_eq!(l2[0]["last_seen"], "2023-11-14T22:13:50.000000Z");
    assert_eq!(
        l2[0]["l2_ports"][0]["value"], "7 (cell B uplink)",
        "{assets}"
    );
    assert_eq!(l2[0]["capabilities"][0]["value"], "bridge");
    assert_eq!(l2[0]["device_type"], "switch");
    let ip = assets["assets"].as_array().unwrap();
    assert_eq!(ip.len(), 2, "{assets}");
    assert_eq!(ip[1]["ip"], "10.1.0.7");
    assert_eq!(ip[1]["macs"][0], "00:0e:8c:07:07:07");
    assert_eq!(ip[1]["mac_vendor"], "Siemens AG", "{assets}");
    assert_eq!(ip[0]["ip"], "10.1.0.2");
    assert_eq!(ip[0]["macs"][0], "00:1b:1b:04:05:06");
    assert_eq!(ip[0]["hostnames"][0]["value"], "sw-core");
    assert_eq!(ip[0]["device_type"], "switch", "{assets}");
}

/// A zone may list MACs: a device whose address no CIDR holds is placed by its MAC, and
/// traffic into it without a conduit is a policy alert naming that zone; a MAC in two zones
/// is refused by `config check`.
#[test]
fn zones_place_devices_by_mac() {
    let dir = Scratch::new("zones-mac");
    let plc_mac = [0x00, 0x80, 0xf4, 0, 0, 20];
    let cap = dir.path("modbus.pcap");
    write_pcap(
        &cap,
        &modbus_session(1_700_000_000_000_000, 40000, plc_mac, b"v2.60"),
    );
    let cfg = dir.path("zones.toml");
    let zones = "[[zones]]\nname = \"ops\"\ncidrs = [\"10.9.0.10/32\"]\npurdue = 3\n\n\
                 [[zones]]\nname = \"cell\"\nmacs = [\"00:80:f4:00:00:14\"]\npurdue = 1\n";
    std::fs::write(&cfg, zones).unwrap();
    assert_eq!(config_check(&cfg).status.code(), Some(0));
    let alerts = dir.path("alerts.jsonl");
    let (code, _, err) = replay(&[
        cap.as_os_str(),
        "-c".as_ref(),
        cfg.as_os_str(),
        "--alerts".as_ref(),
        alerts.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let a = jsonl(&alerts);
    let policy: Vec<&Value> = a
        .iter()
        .filter(|a| a["rule"] == "policy.no_conduit")
        .collect();
    assert!(!policy.is_empty(), "{a:?}");
    for p in policy {
        assert_eq!(
            (&p["src"]["zone"], &p["dst"]["zone"]),
            (&json!("ops"), &json!("cell")),
            "{p}"
        );
    }
    // The same MAC in a second zone.
    let twice = dir.path("twice.toml");
    let extra = "\n[[zones]]\nname = \"bay\"\nmacs = [\"00:80:F4:00:00:14\"]\n";
    std::fs::write(&twice, format!("{zones}{extra}")).unwrap();
    let out = config_check(&twice);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zones.macs") && err.contains("\"cell\""),
        "{err}"
    );
}
