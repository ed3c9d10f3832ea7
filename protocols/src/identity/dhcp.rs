//! DHCP (RFC 2131/2132): the client's host name (option 12) and FQDN (option 81, RFC 4702),
//! its vendor class (option 60) and parameter-request list (option 55, a fingerprint of its
//! DHCP stack), and the lease a server gives (`yiaddr` for `chaddr`).

use std::net::{IpAddr, Ipv4Addr};

use super::{Kind, Sighting, Who};

/// The fixed BOOTP header before the options' magic cookie.
const BOOTP_LEN: usize = 236;
const COOKIE: [u8; 4] = [99, 130, 83, 99];

/// An address a DHCP server gave a client's MAC address (a DHCPACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpLease {
    /// The client's hardware address.
    pub mac: [u8; 6],
    /// The address leased.
    pub addr: IpAddr,
}

fn v4(b: &[u8]) -> Option<Ipv4Addr> {
    match b {
        [a, b, c, d] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => None,
    }
}

/// The FQDN option's name: flags (E: DNS wire format), two obsolete rcodes, the name.
fn fqdn(v: &[u8]) -> Option<String> {
    let [flags, _, _, name @ ..] = v else {
        return None;
    };
    if flags & 0x04 == 0 {
        return Some(String::from_utf8_lossy(name).into_owned());
    }
    let mut out = String::new();
    let mut rest = name;
    while let [len, tail @ ..] = rest {
        let len = usize::from(*len);
        if len == 0 || len > 63 {
            break;
        }
        let label = tail.get(..len)?;
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&String::from_utf8_lossy(label));
        rest = tail.get(len..)?;
    }
    Some(out)
}

/// Reads one DHCP message: sightings go to `out`; a DHCPACK returns the lease it gives.
///
/// The device a client message describes is its own address (`ciaddr`), else the one it
/// asks for (option 50), else its MAC address (a DISCOVER before any lease). A server's
/// message describes the client it answers (`yiaddr`).
pub fn dhcp(d: &[u8], out: &mut Vec<Sighting>) -> Option<DhcpLease> {
    let [op, htype, hlen, ..] = d else {
        return None;
    };
    if !matches!(op, 1 | 2) || *htype != 1 || *hlen != 6 {
        return None;
    }
    let ciaddr = v4(d.get(12..16)?)?;
    let yiaddr = v4(d.get(16..20)?)?;
    let mac: [u8; 6] = d.get(28..34)?.try_into().ok()?;
    if d.get(BOOTP_LEN..BOOTP_LEN + 4)? != COOKIE {
        return None;
    }
    let (mut msg_type, mut requested) = (None, None);
    let (mut host, mut fq, mut vendor, mut prl) = (None, None, None, None);
    let mut opts = d.get(BOOTP_LEN + 4..)?;
    while let [code, rest @ ..] = opts {
        match code {
            0 => {
                opts = rest;
                continue;
            }
            255 => break,
            _ => {}
        }
        let [len, rest @ ..] = rest else { break };
        let Some(v) = rest.get(..usize::from(*len)) else {
            break;
        };
        match code {
            53 => msg_type = v.first().copied(),
            50 => requested = v4(v),
            12 => host = Some(String::from_utf8_lossy(v).into_owned()),
            81 => fq = fqdn(v),
            60 => vendor = Some(String::from_utf8_lossy(v).into_owned()),
            55 => prl = Some(v.iter().map(u8::to_string).collect::<Vec<_>>().join(",")),
            _ => {}
        }
        opts = rest.get(usize::from(*len)..).unwrap_or_default();
    }
    let unspecified = Ipv4Addr::UNSPECIFIED;
    let device = |a: Ipv4Addr| Who::Device(IpAddr::V4(a), mac);
    let who = if *op == 2 {
        (yiaddr != unspecified).then(|| device(yiaddr))?
    } else if ciaddr != unspecified {
        device(ciaddr)
    } else if let Some(r) = requested.filter(|r| *r != unspecified) {
        device(r)
    } else {
        Who::Mac(mac)
    };
    let names = [(host, "dhcp.hostname"), (fq, "dhcp.fqdn")];
    for (v, source) in names {
        out.extend(v.and_then(|v| Sighting::new(who, Kind::Hostname, &v, source)));
    }
    if *op == 1 {
        out.extend(
            vendor.and_then(|v| Sighting::new(who, Kind::Software, &v, "dhcp.vendor_class")),
        );
        out.extend(prl.and_then(|v| Sighting::new(who, Kind::DhcpFingerprint, &v, "dhcp.prl")));
    }
    // DHCPACK (5): the lease.
    (*op == 2 && msg_type == Some(5) && yiaddr != unspecified).then_some(DhcpLease {
        mac,
        addr: IpAddr::V4(yiaddr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(op: u8, ciaddr: [u8; 4], yiaddr: [u8; 4], options: &[(u8, &[u8])]) -> Vec<u8> {
        let mut d = vec![0u8; BOOTP_LEN];
        d[0] = op;
        d[1] = 1;
        d[2] = 6;
        d[12..16].copy_from_slice(&ciaddr);
        d[16..20].copy_from_slice(&yiaddr);
        d[28..34].copy_from_slice(&[0x00, 0x0c, 0x29, 0x03, 0xdf, 0xad]);
        d.extend(COOKIE);
        for (code, v) in options {
            d.push(*code);
            d.push(v.len() as u8);
            d.extend(*v);
        }
        d.push(255);
        d
    }

    #[test]
    fn a_discover_names_the_mac_a_request_the_address() {
        let mut out = Vec::new();
        let d = message(
            1,
            [0; 4],
            [0; 4],
            &[
                (53, &[1]),
                (12, b"DESKTOP-2AEFM7G"),
                (60, b"MSFT 5.0"),
                (
                    55,
                    &[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252],
                ),
            ],
        );
        assert_eq!(dhcp(&d, &mut out), None);
        let mac = Who::Mac([0x00, 0x0c, 0x29, 0x03, 0xdf, 0xad]);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|s| s.who == mac));
        assert_eq!(out[0].value, "DESKTOP-2AEFM7G");
        assert_eq!(out[1].value, "MSFT 5.0");
        assert_eq!(out[2].value, "1,3,6,15,31,33,43,44,46,47,119,121,249,252");
        out.clear();
        let d = message(
            1,
            [0; 4],
            [0; 4],
            &[(53, &[3]), (50, &[192, 168, 199, 132]), (12, b"ews")],
        );
        dhcp(&d, &mut out);
        assert_eq!(
            out[0].who,
            Who::Device(
                "192.168.199.132".parse().unwrap(),
                [0x00, 0x0c, 0x29, 0x03, 0xdf, 0xad]
            )
        );
    }

    #[test]
    fn an_ack_gives_the_lease_and_fqdn_names() {
        let mut out = Vec::new();
        let d = message(
            2,
            [0; 4],
            [10, 0, 0, 7],
            &[
                (53, &[5]),
                (
                    81,
                    &[
                        0x04, 0, 0, 3, b'p', b'l', b'c', 5, b'p', b'l', b'a', b'n', b't', 0,
                    ],
                ),
            ],
        );
        let lease = dhcp(&d, &mut out).unwrap();
        assert_eq!(lease.addr, "10.0.0.7".parse::<IpAddr>().unwrap());
        assert_eq!(out[0].value, "plc.plant");
        assert_eq!(out[0].source, "dhcp.fqdn");
        // Not BOOTP, or cut short: nothing.
        assert_eq!(dhcp(&d[..100], &mut Vec::new()), None);
    }
}
