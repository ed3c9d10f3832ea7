//! Layer-2 discovery frames: LLDP (IEEE 802.1AB) and Cisco's CDP, which switches, routers,
//! access points and many controllers send every 30 seconds or so. They name the device
//! (LLDP system name, CDP device id), its software (LLDP system description, CDP software
//! version and platform) and its management address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Kind, Sighting, Who, MAX_SIGHTINGS};

const LLDP: u16 = 0x88cc;
const CDP_DST: [u8; 6] = [0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc];
/// LLC (AA AA 03) and SNAP (Cisco OUI, CDP protocol id).
const CDP_SNAP: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00];

fn be16(d: &[u8], at: usize) -> Option<u16> {
    match d.get(at..at + 2)? {
        [a, b] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

fn mac(d: &[u8]) -> Option<[u8; 6]> {
    d.try_into().ok()
}

/// Reads an Ethernet frame (one 802.1Q tag at most): LLDP or CDP sightings of the device
/// that sent it, by management address and MAC when it gives an address, else by MAC.
pub fn l2_frame(frame: &[u8], out: &mut Vec<Sighting>) {
    let (Some(dst), Some(src)) = (frame.get(..6), frame.get(6..12).and_then(mac)) else {
        return;
    };
    let mut at = 12;
    if be16(frame, at) == Some(0x8100) {
        at += 4;
    }
    let Some(t) = be16(frame, at) else { return };
    let body = frame.get(at + 2..).unwrap_or_default();
    if t == LLDP {
        lldp(src, body, out);
    } else if t <= 1500 && dst == CDP_DST && body.starts_with(&CDP_SNAP) {
        cdp(src, body.get(CDP_SNAP.len()..).unwrap_or_default(), out);
    } else if t == crate::goose::GOOSE {
        goose(src, body, out);
    } else if t == crate::profinet::ETHERTYPE {
        dcp(src, body, out);
    }
    super::os::add_os_hints(out, 0);
    out.truncate(MAX_SIGHTINGS);
}

/// A GOOSE publisher (IEC 61850-8-1 §A.3): the logical device of its control block
/// reference (`IED1LD0` of `IED1LD0/LLN0$GO$gcb01`), the first field of the PDU after the
/// APPID, length and reserved words, names the device that sends it. Only that field need be
/// captured.
fn goose(src: [u8; 6], body: &[u8], out: &mut Vec<Sighting>) {
    use crate::mms::ber;
    // goosePdu: [APPLICATION 1] IMPLICIT SEQUENCE; its first field gocbRef [0].
    let pdu = body.get(8..).unwrap_or_default();
    let Some((0x61, _, _, at)) = ber::header(pdu) else {
        return;
    };
    let Some((gocb_ref, _)) = pdu.get(at..).and_then(ber::read) else {
        return;
    };
    if gocb_ref.first != 0x80 {
        return;
    }
    let r = text(gocb_ref.value);
    let ld = r.split_once('/').map_or(r.as_str(), |(ld, _)| ld);
    out.extend(Sighting::new(
        Who::Mac(src),
        Kind::Hostname,
        ld,
        "goose.gocbref",
    ));
}

/// A PROFINET station describing itself in DCP (an Identify or Get answer, or a Hello):
/// its name of station, its type of station (the product), its roles, under its address
/// when it gives one. Requests name nobody (a Set's values are the setter's wishes, an
/// Identify's the name it looks for).
fn dcp(src: [u8; 6], body: &[u8], out: &mut Vec<Sighting>) {
    use crate::profinet;
    let Some((id, rest)) = profinet::frame(body) else {
        return;
    };
    if profinet::FrameKind::of(id) != profinet::FrameKind::Dcp {
        return;
    }
    let Some(p) = profinet::dcp(id, rest) else {
        return;
    };
    let announces = (p.is_response() && p.service_type == 1 && matches!(p.service_id, 3 | 5))
        || (p.service_id == 6 && !p.is_response());
    if !announces {
        return;
    }
    let who = match p.ip.filter(|ip| !ip.is_unspecified()) {
        Some(ip) => Who::Device(IpAddr::V4(ip), src),
        None => Who::Mac(src),
    };
    if let Some(n) = &p.name_of_station {
        out.extend(Sighting::new(
            who,
            Kind::Hostname,
            n,
            "pn_dcp.name_of_station",
        ));
    }
    if let Some(t) = &p.type_of_station {
        out.extend(Sighting::new(
            who,
            Kind::Software,
            t,
            "pn_dcp.type_of_station",
        ));
    }
    for r in profinet::roles(p.device_role.unwrap_or(0)) {
        out.extend(Sighting::new(
            who,
            Kind::Capability,
            r,
            "pn_dcp.device_role",
        ));
    }
}

/// What an ARP packet (IPv4 over Ethernet) says: its sender has this address and MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpClaim {
    /// The sender's IPv4 address: a unicast one (probes, from 0.0.0.0, claim nothing).
    pub ip: Ipv4Addr,
    /// The sender's hardware address, as the ARP payload gives it.
    pub mac: [u8; 6],
    /// A reply (opcode 2), not a request.
    pub reply: bool,
    /// Gratuitous: the sender announces its own address (sender and target address equal).
    pub gratuitous: bool,
}

/// The claim of an ARP frame (one 802.1Q tag at most), if it is IPv4-over-Ethernet ARP
/// with a sender address.
pub fn arp(frame: &[u8]) -> Option<ArpClaim> {
    let mut at = 12;
    if be16(frame, at) == Some(0x8100) {
        at += 4;
    }
    if be16(frame, at)? != 0x0806 {
        return None;
    }
    // Hardware type Ethernet, protocol IPv4, lengths 6 and 4; opcode; sender MAC and
    // address; target MAC and address.
    let [0, 1, 8, 0, 6, 4, o0, o1, m0, m1, m2, m3, m4, m5, i0, i1, i2, i3, _, _, _, _, _, _, t0, t1, t2, t3] =
        *frame.get(at + 2..at + 30)?
    else {
        return None;
    };
    let op = u16::from_be_bytes([o0, o1]);
    let mac = [m0, m1, m2, m3, m4, m5];
    let ip = Ipv4Addr::new(i0, i1, i2, i3);
    let target = Ipv4Addr::new(t0, t1, t2, t3);
    // No host has an address of "this network" (0/8), a multicast or a reserved one.
    let [first, ..] = ip.octets();
    if first == 0 || first >= 224 || !(1..=2).contains(&op) {
        return None;
    }
    if mac[0] & 1 == 1 || mac == [0; 6] {
        return None;
    }
    Some(ArpClaim {
        ip,
        mac,
        reply: op == 2,
        gratuitous: ip == target,
    })
}

/// What a discovery frame said, before it is given to a device.
#[derive(Default)]
struct Said {
    chassis: Option<[u8; 6]>,
    addr: Option<IpAddr>,
    values: Vec<(Kind, String, &'static str)>,
    port: Option<String>,
    port_description: Option<String>,
    capabilities: Vec<&'static str>,
}

impl Said {
    fn emit(self, src: [u8; 6], protocol: &'static str, out: &mut Vec<Sighting>) {
        let mac = self.chassis.unwrap_or(src);
        let who = match self.addr {
            Some(a) => Who::Device(a, mac),
            None => Who::Mac(mac),
        };
        for (kind, v, source) in self.values {
            out.extend(Sighting::new(who, kind, &v, source));
        }
        let port = match (self.port, self.port_description) {
            (Some(p), Some(d)) if !d.trim().is_empty() && d.trim() != p.trim() => {
                Some(format!("{} ({})", p.trim(), d.trim()))
            }
            (Some(p), _) => Some(p),
            (None, d) => d,
        };
        let source = match protocol {
            "lldp" => ["lldp.port", "lldp.capabilities"],
            _ => ["cdp.port", "cdp.capabilities"],
        };
        if let Some(p) = port {
            out.extend(Sighting::new(who, Kind::Port, &p, source[0]));
        }
        for c in self.capabilities {
            out.extend(Sighting::new(who, Kind::Capability, c, source[1]));
        }
    }
}

/// LLDP's enabled system capabilities (IEEE 802.1AB §8.5.8), by bit.
const LLDP_CAPABILITIES: &[&str] = &[
    "other",
    "repeater",
    "bridge",
    "wlan_access_point",
    "router",
    "telephone",
    "docsis_cable_device",
    "station",
    "c_vlan_component",
    "s_vlan_component",
    "two_port_mac_relay",
];

/// CDP's capabilities, by bit.
const CDP_CAPABILITIES: &[&str] = &[
    "router",
    "bridge",
    "source_route_bridge",
    "switch",
    "host",
    "igmp",
    "repeater",
    "telephone",
    "remotely_managed",
    "cvta",
    "two_port_mac_relay",
];

fn bits(v: u32, names: &'static [&'static str]) -> Vec<&'static str> {
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| v & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

fn lldp_capabilities(enabled: u16) -> Vec<&'static str> {
    bits(u32::from(enabled), LLDP_CAPABILITIES)
}

fn cdp_capabilities(v: u32) -> Vec<&'static str> {
    bits(v, CDP_CAPABILITIES)
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// LLDP TLVs: chassis id (a MAC), system name and description, management address.
fn lldp(src: [u8; 6], mut d: &[u8], out: &mut Vec<Sighting>) {
    let mut said = Said::default();
    for _ in 0..64 {
        let Some(h) = be16(d, 0) else { break };
        let (ty, len) = (h >> 9, usize::from(h & 0x1ff));
        let Some(v) = d.get(2..2 + len) else { break };
        match (ty, v) {
            (0, _) => break,
            // Chassis id of subtype 4: a MAC address.
            (1, [4, m @ ..]) => said.chassis = mac(m),
            // Port id: a MAC (3) or network address (4) names no port a person reads.
            (2, [sub, id @ ..]) if !matches!(sub, 3 | 4) => said.port = Some(text(id)),
            (4, _) => said.port_description = Some(text(v)),
            (7, [_, _, e0, e1]) => {
                said.capabilities = lldp_capabilities(u16::from_be_bytes([*e0, *e1]));
            }
            (5, _) => said.values.push((Kind::Hostname, text(v), "lldp.sysname")),
            (6, _) => said.values.push((Kind::Software, text(v), "lldp.sysdescr")),
            // Management address: its length (subtype included), subtype 1 IPv4, 2 IPv6.
            (8, [n, 1, a, b, c, e, ..]) if *n == 5 && said.addr.is_none() => {
                said.addr = Some(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *e)));
            }
            (8, [n, 2, rest @ ..]) if *n == 17 && said.addr.is_none() => {
                let b: Option<[u8; 16]> = rest.get(..16).and_then(|x| x.try_into().ok());
                said.addr = b.map(|b| IpAddr::V6(Ipv6Addr::from(b)));
            }
            _ => {}
        }
        d = d.get(2 + len..).unwrap_or_default();
    }
    said.emit(src, "lldp", out);
}

/// CDP TLVs (after version, TTL and checksum): device id, addresses, software version,
/// platform.
fn cdp(src: [u8; 6], d: &[u8], out: &mut Vec<Sighting>) {
    let mut said = Said::default();
    let mut d = d.get(4..).unwrap_or_default();
    for _ in 0..64 {
        let (Some(ty), Some(len)) = (be16(d, 0), be16(d, 2)) else {
            break;
        };
        let len = usize::from(len);
        let Some(v) = d.get(4..len.max(4)) else { break };
        match ty {
            0x0001 => said.values.push((Kind::Hostname, text(v), "cdp.device_id")),
            0x0002 => said.addr = said.addr.or_else(|| cdp_address(v)),
            0x0003 => said.port = Some(text(v)),
            0x0004 => {
                if let [a, b, c, e] = v {
                    said.capabilities = cdp_capabilities(u32::from_be_bytes([*a, *b, *c, *e]));
                }
            }
            0x0005 => said.values.push((Kind::Software, text(v), "cdp.software")),
            0x0006 => said.values.push((Kind::Software, text(v), "cdp.platform")),
            _ => {}
        }
        if len < 4 {
            break;
        }
        d = d.get(len..).unwrap_or_default();
    }
    said.emit(src, "cdp", out);
}

/// The first IPv4 address of a CDP Addresses TLV: a count, then (protocol type, protocol
/// length, protocol, address length, address); NLPID 0xCC is IP.
fn cdp_address(v: &[u8]) -> Option<IpAddr> {
    let [_, _, _, _, 1, 1, 0xcc, 0, 4, a, b, c, d, ..] = v else {
        return None;
    };
    Some(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(ty: u16, v: &[u8]) -> Vec<u8> {
        let mut out = ((ty << 9) | v.len() as u16).to_be_bytes().to_vec();
        out.extend(v);
        out
    }

    #[test]
    fn lldp_names_a_switch_by_its_management_address() {
        let mut f = vec![
            0x01, 0x80, 0xc2, 0, 0, 0x0e, 0x00, 0x1b, 0x1b, 1, 2, 3, 0x88, 0xcc,
        ];
        f.extend(tlv(1, &[4, 0x00, 0x1b, 0x1b, 9, 9, 9]));
        f.extend(tlv(2, &[7, b'1']));
        f.extend(tlv(3, &[0, 120]));
        f.extend(tlv(5, b"sw-cell-a"));
        f.extend(tlv(4, b"uplink to cell B"));
        f.extend(tlv(6, b"Siemens, SIMATIC NET, SCALANCE XC208"));
        // Capabilities: bridge and router possible, bridge enabled.
        f.extend(tlv(7, &[0, 0x14, 0, 0x04]));
        f.extend(tlv(8, &[5, 1, 10, 1, 0, 2, 2, 0, 0, 0, 1, 0]));
        f.extend(tlv(0, &[]));
        let mut out = Vec::new();
        l2_frame(&f, &mut out);
        let who = Who::Device("10.1.0.2".parse().unwrap(), [0x00, 0x1b, 0x1b, 9, 9, 9]);
        assert!(out.iter().all(|s| s.who == who));
        let said: Vec<(Kind, &str)> = out.iter().map(|s| (s.kind, s.value.as_str())).collect();
        assert_eq!(
            said,
            [
                (Kind::Hostname, "sw-cell-a"),
                (Kind::Software, "Siemens, SIMATIC NET, SCALANCE XC208"),
                (Kind::Port, "1 (uplink to cell B)"),
                (Kind::Capability, "bridge"),
            ]
        );
    }

    #[test]
    fn goose_names_its_publisher() {
        let src = [0x00, 0xa0, 0xf4, 8, 0x2f, 0x77];
        let mut f = vec![0x01, 0x0c, 0xcd, 1, 0, 1];
        f.extend(src);
        f.extend([0x81, 0x00, 0x80, 0x00, 0x88, 0xb8, 0, 1, 0, 40, 0, 0, 0, 0]);
        let r = b"GEDeviceF650/LLN0$GO$gcb01";
        f.extend([0x61, 0x81, (r.len() + 2) as u8, 0x80, r.len() as u8]);
        f.extend(r);
        let mut out = Vec::new();
        l2_frame(&f, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].who, out[0].value.as_str(), out[0].source),
            (Who::Mac(src), "GEDeviceF650", "goose.gocbref")
        );
        // Cut short: nothing.
        out.clear();
        l2_frame(&f[..f.len() - 3], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn arp_claims() {
        let mut f = vec![0xff; 6];
        f.extend([0x00, 0x1b, 0x1b, 1, 2, 3, 0x08, 0x06]);
        f.extend([0, 1, 8, 0, 6, 4, 0, 2]);
        f.extend([0x00, 0x1b, 0x1b, 1, 2, 3, 10, 1, 0, 5]);
        f.extend([0, 0, 0, 0, 0, 0, 10, 1, 0, 5]);
        let c = arp(&f).unwrap();
        assert_eq!(c.ip, Ipv4Addr::new(10, 1, 0, 5));
        assert!(c.reply && c.gratuitous);
        // A probe (sender 0.0.0.0) claims nothing; nor does another hardware type.
        let mut probe = f.clone();
        probe[28..32].copy_from_slice(&[0; 4]);
        assert_eq!(arp(&probe), None);
        let mut other = f.clone();
        other[15] = 6;
        assert_eq!(arp(&other), None);
        assert_eq!(arp(&f[..30]), None);
    }

    #[test]
    fn cdp_device_id_platform_and_address() {
        let mut f = CDP_DST.to_vec();
        f.extend([0x00, 0xe0, 0x1e, 0xd5, 0xd5, 0x15, 0, 0]);
        f.extend(CDP_SNAP);
        f.extend([1, 180, 0, 0]);
        let t = |ty: u16, v: &[u8]| {
            let mut x = ty.to_be_bytes().to_vec();
            x.extend(((v.len() + 4) as u16).to_be_bytes());
            x.extend(v);
            x
        };
        f.extend(t(1, b"R1"));
        f.extend(t(2, &[0, 0, 0, 1, 1, 1, 0xcc, 0, 4, 192, 168, 10, 1]));
        f.extend(t(3, b"Ethernet0"));
        f.extend(t(4, &[0, 0, 0, 0x11]));
        f.extend(t(6, b"cisco 1601"));
        let mut out = Vec::new();
        l2_frame(&f, &mut out);
        assert_eq!(out.len(), 5);
        assert_eq!(out[2].value, "Ethernet0");
        assert_eq!(
            (out[3].value.as_str(), out[4].value.as_str()),
            ("router", "host")
        );
        assert_eq!(out[0].value, "R1");
        assert_eq!(
            out[0].who,
            Who::Device(
                "192.168.10.1".parse().unwrap(),
                [0x00, 0xe0, 0x1e, 0xd5, 0xd5, 0x15]
            )
        );
        // Not CDP: another SNAP protocol.
        let mut g = f.clone();
        g[20] = 0x01;
        out.clear();
        l2_frame(&g, &mut out);
        assert!(out.is_empty());
    }
}
