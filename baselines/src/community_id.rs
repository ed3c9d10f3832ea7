//! Community ID v1 (corelight/community-id-spec): the flow hash that Zeek, Suricata and
//! Wireshark compute, so a SOC joins otsensor's flows, events and alerts with their logs.
//!
//! `1:` + base64(SHA-1(seed (2, big-endian) · src address · dst address · protocol (1) ·
//! pad (1) · src port (2) · dst port (2))), the endpoints ordered so that the smaller
//! (address, port) comes first. ICMP and ICMPv6 put the type and code (or the type of the
//! paired answer) in the ports; a message type without a pair is one-way and keeps its order.
//! Other IP protocols hash no ports.

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The ICMP type that answers `t` (echo, timestamp, info, router, address mask).
fn icmp4_pair(t: u8) -> Option<u8> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

/// The ICMPv6 type that answers `t` (echo, router, neighbour, multicast listener, home agent).
fn icmp6_pair(t: u8) -> Option<u8> {
    Some(match t {
        128 => 129,
        129 => 128,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        130 => 131,
        131 => 130,
        144 => 145,
        145 => 144,
        _ => return None,
    })
}

/// The Community ID of a packet from `src:sport` to `dst:dport` of IP protocol `proto`. For
/// ICMP/ICMPv6, `sport` and `dport` are the message's type and code.
pub fn community_id(src: IpAddr, dst: IpAddr, proto: u8, sport: u16, dport: u16) -> String {
    String::from_utf8_lossy(&id_bytes(src, dst, proto, sport, dport)).into_owned()
}

/// [`community_id`]'s characters (ASCII).
fn id_bytes(src: IpAddr, dst: IpAddr, proto: u8, sport: u16, dport: u16) -> [u8; ID_LEN] {
    let (mut sport, mut dport) = (sport, dport);
    let mut one_way = false;
    let pair: Option<fn(u8) -> Option<u8>> = match proto {
        1 => Some(icmp4_pair),
        58 => Some(icmp6_pair),
        _ => None,
    };
    if let Some(pair) = pair {
        let t = u8::try_from(sport).unwrap_or(u8::MAX);
        match pair(t) {
            Some(p) => dport = u16::from(p),
            None => one_way = true,
        }
        sport = u16::from(t);
    }
    let ports = matches!(proto, 1 | 6 | 17 | 58 | 132);
    let ordered = match (src, dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (a.octets(), sport) <= (b.octets(), dport),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.octets(), sport) <= (b.octets(), dport),
        _ => true,
    };
    let ((a, ap), (b, bp)) = if one_way || ordered {
        ((src, sport), (dst, dport))
    } else {
        ((dst, dport), (src, sport))
    };
    let mut h = Sha1::new();
    h.update(0u16.to_be_bytes());
    for ip in [a, b] {
        match ip {
            IpAddr::V4(v) => h.update(v.octets()),
            IpAddr::V6(v) => h.update(v.octets()),
        }
    }
    h.update([proto, 0]);
    if ports {
        h.update(ap.to_be_bytes());
        h.update(bp.to_be_bytes());
    }
    let mut out = [0u8; ID_LEN];
    write_id(&h.finalize(), &mut out);
    out
}

/// Characters of an ID: `1:` and the base64 of a 20-byte SHA-1 digest.
const ID_LEN: usize = 2 + 28;

fn write_id(digest: &[u8], out: &mut [u8; ID_LEN]) {
    out[..2].copy_from_slice(b"1:");
    // 20 bytes are 28 base64 characters: the slice always holds them.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut out[2..]);
}

/// A flow's Community ID, computed the first time something asks for it (an event, an
/// alert or the flow record): a flood's flows that nobody reports on never pay for SHA-1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LazyCommunityId {
    /// IP protocol.
    proto: u8,
    /// Client port and server port; for ICMP, the first packet's type and code.
    ports: (u16, u16),
    /// Its characters (ASCII), once computed: one thin pointer in every flow.
    id: std::cell::OnceCell<Box<[u8; ID_LEN]>>,
}

impl LazyCommunityId {
    /// For a flow of IP protocol `proto` whose first packet (from the client) had these
    /// ports, or ICMP type and code.
    pub fn new(proto: u8, client_port: u16, server_port: u16) -> LazyCommunityId {
        LazyCommunityId {
            proto,
            ports: (client_port, server_port),
            id: std::cell::OnceCell::new(),
        }
    }

    /// The ID of the flow between `client` and `server`.
    pub fn get(&self, client: IpAddr, server: IpAddr) -> &str {
        let id = self.id.get_or_init(|| {
            Box::new(id_bytes(
                client,
                server,
                self.proto,
                self.ports.0,
                self.ports.1,
            ))
        });
        std::str::from_utf8(&id[..]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn computed_once_on_demand() {
        let l = LazyCommunityId::new(6, 34855, 80);
        let id = l.get(ip("128.232.110.120"), ip("66.35.250.204"));
        assert_eq!(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(l.get(ip("1.1.1.1"), ip("2.2.2.2")), id, "kept");
    }

    /// The test vectors of the specification's baseline (community-id-spec, baseline/).
    #[test]
    fn matches_the_specification_vectors() {
        assert_eq!(
            community_id(ip("128.232.110.120"), ip("66.35.250.204"), 6, 34855, 80),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        // The same flow seen from the other end.
        assert_eq!(
            community_id(ip("66.35.250.204"), ip("128.232.110.120"), 6, 80, 34855),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        assert_eq!(
            community_id(ip("192.168.1.52"), ip("8.8.8.8"), 17, 54585, 53),
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ="
        );
        // ICMP echo request and its reply share an ID.
        let req = community_id(ip("192.168.0.89"), ip("192.168.0.1"), 1, 8, 0);
        let rep = community_id(ip("192.168.0.1"), ip("192.168.0.89"), 1, 0, 0);
        assert_eq!(req, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
        assert_eq!(req, rep);
    }
}
