//! Link, network and transport decoding: one captured frame in, a [`Summary`] out.
//!
//! Supported link types (those real OT captures use): Ethernet II with 802.1Q/QinQ tags,
//! Linux cooked capture v1 (SLL) and v2 (SLL2), BSD loopback (`NULL`, host byte order) and
//! OpenBSD loopback (`LOOP`), raw IP (`RAW`, `IPV4`, `IPV6`). Above them IPv4 and IPv6
//! (with extension headers), TCP, UDP and other IP protocols (as port-less flows).
//! Decoding uses etherparse's strict slicer: a frame whose IP length says it is longer than
//! what was captured is undecodable (`truncated`), and IP fragments are counted as
//! undecodable (`ip_fragment`) rather than reassembled.

use etherparse::{
    err::packet::SliceError, EtherType, LinkExtSlice, LinkSlice, NetSlice, SlicedPacket,
    TransportSlice,
};

use otsensor_baselines::mac::MacAddr;

/// An IP address as 16 bytes; IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`).
pub type Ip = [u8; 16];

/// IPv4 in the 16-byte form of [`Ip`].
pub fn ip_from_v4(v4: [u8; 4]) -> Ip {
    let mut ip = [0u8; 16];
    ip[10] = 0xff;
    ip[11] = 0xff;
    ip[12..].copy_from_slice(&v4);
    ip
}

/// The 16-byte form back to a standard address (IPv4-mapped becomes IPv4).
pub fn ip_to_std(ip: &Ip) -> std::net::IpAddr {
    let v6 = std::net::Ipv6Addr::from(*ip);
    match v6.to_ipv4_mapped() {
        Some(v4) => std::net::IpAddr::V4(v4),
        None => std::net::IpAddr::V6(v6),
    }
}

/// IP protocol numbers the sensor treats specially.
pub mod ipproto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// The data link types the decoder knows, from libpcap's DLT values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// DLT_EN10MB: Ethernet II.
    Ethernet,
    /// DLT_LINUX_SLL: Linux cooked capture v1.
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux cooked capture v2.
    LinuxSll2,
    /// DLT_NULL: BSD loopback, 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT_LOOP: OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
    /// DLT_RAW (and LINKTYPE_IPV4/IPV6): the frame starts with the IP header.
    RawIp,
    /// Anything else, by DLT number; packets on it are counted as undecodable.
    Unsupported(i32),
}

impl LinkType {
    /// From a libpcap DLT value.
    pub fn from_dlt(dlt: i32) -> LinkType {
        match dlt {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            // DLT_RAW is 12 on most systems and 14 on OpenBSD; 101 is LINKTYPE_RAW in files.
            12 | 14 | 101 | 228 | 229 => LinkType::RawIp,
            other => LinkType::Unsupported(other),
        }
    }

    /// The link type to write in a capture file of these frames (LINKTYPE_RAW for raw IP).
    pub fn dlt(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Null => 0,
            LinkType::Loop => 108,
            LinkType::RawIp => 101,
            LinkType::Unsupported(d) => u32::try_from(d).unwrap_or(0),
        }
    }

    /// Name used in stats.
    pub fn name(self) -> String {
        match self {
            LinkType::Ethernet => "ethernet".into(),
            LinkType::LinuxSll => "linux_sll".into(),
            LinkType::LinuxSll2 => "linux_sll2".into(),
            LinkType::Null => "bsd_loopback".into(),
            LinkType::Loop => "openbsd_loopback".into(),
            LinkType::RawIp => "raw_ip".into(),
            LinkType::Unsupported(dlt) => format!("dlt_{dlt}"),
        }
    }
}

/// TCP flag bits as in the header.
pub mod tcpflags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// Network layer of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L3 {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// What the pipeline needs of one packet, without borrowing it. `payload_off/len` locate the
/// transport payload inside the captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Network layer.
    pub l3: L3,
    /// Source address.
    pub src: Ip,
    /// Destination address.
    pub dst: Ip,
    /// Source port (0 when the protocol has none).
    pub sport: u16,
    /// Destination port (0 when the protocol has none).
    pub dport: u16,
    /// IP protocol number (the last header after IPv6 extensions).
    pub proto: u8,
    /// Outer 802.1Q VLAN id.
    pub vlan: Option<u16>,
    /// Ethernet source, when the link layer has one.
    pub src_mac: Option<MacAddr>,
    /// Ethernet destination, when the link layer has one.
    pub dst_mac: Option<MacAddr>,
    /// TCP sequence number.
    pub seq: u32,
    /// TCP acknowledgement number.
    pub ack: u32,
    /// TCP flags ([`tcpflags`]).
    pub flags: u8,
    /// Offset of the transport payload in the frame.
    pub payload_off: u32,
    /// Length of the transport payload.
    pub payload_len: u32,
}

impl Summary {
    /// A TCP SYN without ACK: a client opening a connection.
    pub fn is_syn(&self) -> bool {
        self.proto == ipproto::TCP && self.flags & (tcpflags::SYN | tcpflags::ACK) == tcpflags::SYN
    }
}

/// What a frame was, when it was not an IP packet the flow layer can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFlow {
    /// An ARP frame (counted in L3 stats, not an error).
    Arp,
    /// Another EtherType (LLDP, PROFINET RT, GOOSE, ...), counted by type.
    OtherEtherType(u16),
    /// A frame the decoder could not use, with the reason.
    Undecodable(Undecodable),
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Undecodable {
    /// The capture's link type is not supported.
    UnsupportedLinkType,
    /// A header or the payload its length field announces is cut short.
    Truncated,
    /// The link header is malformed (bad SLL/SLL2/loopback header).
    MalformedLink,
    /// An IP header is malformed (bad version, header length, total length).
    MalformedIp,
    /// An IP extension header is malformed.
    MalformedIpExtension,
    /// The TCP header is malformed (bad data offset).
    MalformedTcp,
    /// The packet is an IP fragment (not reassembled).
    IpFragment,
    /// The loopback header names an address family that is not IP.
    UnknownAddressFamily,
}

impl Undecodable {
    /// Name used in stats.
    pub fn as_str(self) -> &'static str {
        match self {
            Undecodable::UnsupportedLinkType => "unsupported_link_type",
            Undecodable::Truncated => "truncated",
            Undecodable::MalformedLink => "malformed_link",
            Undecodable::MalformedIp => "malformed_ip",
            Undecodable::MalformedIpExtension => "malformed_ip_extension",
            Undecodable::MalformedTcp => "malformed_tcp",
            Undecodable::IpFragment => "ip_fragment",
            Undecodable::UnknownAddressFamily => "unknown_address_family",
        }
    }
}

fn slice_error(e: &SliceError) -> Undecodable {
    match e {
        SliceError::Len(_) => Undecodable::Truncated,
        SliceError::LinuxSll(_) | SliceError::Macsec(_) => Undecodable::MalformedLink,
        SliceError::Ip(_) | SliceError::Ipv4(_) | SliceError::Ipv6(_) => Undecodable::MalformedIp,
        SliceError::Ipv4Exts(_) | SliceError::Ipv6Exts(_) => Undecodable::MalformedIpExtension,
        SliceError::Tcp(_) => Undecodable::MalformedTcp,
    }
}

// Linux cooked capture v2 header (20 bytes, all big-endian):
//   protocol type 2 @0 | reserved 2 @2 | interface index 4 @4 | ARPHRD type 2 @8 |
//   packet type 1 @10 | address length 1 @11 | address 8 @12
const SLL2_LEN: usize = 20;
const SLL2_PROTO: usize = 0;
const SLL2_ADDR_LEN: usize = 11;
const SLL2_ADDR: usize = 12;

// BSD/OpenBSD loopback: a 4-byte address family, then the IP packet.
const LOOPBACK_LEN: usize = 4;
const AF_INET: u32 = 2;
// AF_INET6 differs per OS: Linux 10, Net/OpenBSD 24, FreeBSD 28, macOS 30.
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

fn loopback_family(data: &[u8], network_order: bool) -> Result<(), NotFlow> {
    let hdr: [u8; 4] = data
        .get(..LOOPBACK_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(NotFlow::Undecodable(Undecodable::Truncated))?;
    let candidates = if network_order {
        [u32::from_be_bytes(hdr), u32::from_be_bytes(hdr)]
    } else {
        // DLT_NULL is in the capturing host's order, which the file does not say: try both.
        [u32::from_le_bytes(hdr), u32::from_be_bytes(hdr)]
    };
    if candidates
        .iter()
        .any(|af| *af == AF_INET || AF_INET6.contains(af))
    {
        Ok(())
    } else {
        Err(NotFlow::Undecodable(Undecodable::UnknownAddressFamily))
    }
}

fn mac_of(m: [u8; 6]) -> MacAddr {
    MacAddr(m)
}

/// Decodes one captured frame.
pub fn decode(link: LinkType, data: &[u8]) -> Result<Summary, NotFlow> {
    let sliced = match link {
        LinkType::Ethernet => SlicedPacket::from_ethernet(data),
        LinkType::LinuxSll => SlicedPacket::from_linux_sll(data),
        LinkType::LinuxSll2 => {
            let proto = data
                .get(SLL2_PROTO..SLL2_PROTO + 2)
                .ok_or(NotFlow::Undecodable(Undecodable::Truncated))?;
            let payload = data
                .get(SLL2_LEN..)
                .ok_or(NotFlow::Undecodable(Undecodable::Truncated))?;
            SlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([proto[0], proto[1]])),
                payload,
            )
        }
        LinkType::Null | LinkType::Loop => {
            loopback_family(data, link == LinkType::Loop)?;
            SlicedPacket::from_ip(data.get(LOOPBACK_LEN..).unwrap_or_default())
        }
        LinkType::RawIp => SlicedPacket::from_ip(data),
        LinkType::Unsupported(_) => {
            return Err(NotFlow::Undecodable(Undecodable::UnsupportedLinkType))
        }
    }
    .map_err(|e| NotFlow::Undecodable(slice_error(&e)))?;

    let (mut src_mac, mut dst_mac) = (None, None);
    match &sliced.link {
        Some(LinkSlice::Ethernet2(eth)) => {
            src_mac = Some(mac_of(eth.source()));
            dst_mac = Some(mac_of(eth.destination()));
        }
        Some(LinkSlice::LinuxSll(sll)) if sll.sender_address_valid_length() == 6 => {
            let a = sll.sender_address_full();
            src_mac = Some(MacAddr([a[0], a[1], a[2], a[3], a[4], a[5]]));
        }
        _ => {}
    }
    if link == LinkType::LinuxSll2 && data.get(SLL2_ADDR_LEN) == Some(&6) {
        if let Some(a) = data.get(SLL2_ADDR..SLL2_ADDR + 6) {
            src_mac = Some(MacAddr([a[0], a[1], a[2], a[3], a[4], a[5]]));
        }
    }
    let vlan = sliced.link_exts.iter().find_map(|e| match e {
        LinkExtSlice::Vlan(v) => Some(v.vlan_identifier().value()),
        LinkExtSlice::Macsec(_) => None,
    });

    let (l3, src, dst, payload) = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => (
            L3::Ipv4,
            ip_from_v4(v4.header().source()),
            ip_from_v4(v4.header().destination()),
            v4.payload(),
        ),
        Some(NetSlice::Ipv6(v6)) => (
            L3::Ipv6,
            v6.header().source(),
            v6.header().destination(),
            v6.payload(),
        ),
        Some(NetSlice::Arp(_)) => return Err(NotFlow::Arp),
        None => {
            let et = sliced.payload_ether_type().map(|t| t.0).unwrap_or_default();
            return Err(NotFlow::OtherEtherType(et));
        }
    };
    if payload.fragmented {
        return Err(NotFlow::Undecodable(Undecodable::IpFragment));
    }
    let base = data.as_ptr() as usize;
    let offset_of = |s: &[u8]| (s.as_ptr() as usize).saturating_sub(base) as u32;
    let mut sum = Summary {
        l3,
        src,
        dst,
        sport: 0,
        dport: 0,
        proto: payload.ip_number.0,
        vlan,
        src_mac,
        dst_mac,
        seq: 0,
        ack: 0,
        flags: 0,
        payload_off: offset_of(payload.payload),
        payload_len: payload.payload.len() as u32,
    };
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            sum.sport = tcp.source_port();
            sum.dport = tcp.destination_port();
            sum.seq = tcp.sequence_number();
            sum.ack = tcp.acknowledgment_number();
            // Byte 13 of the TCP header holds CWR..FIN; the low 5 bits are all we use.
            sum.flags = tcp.header_slice().get(13).copied().unwrap_or_default() & 0x1f;
            sum.payload_off = offset_of(tcp.payload());
            sum.payload_len = tcp.payload().len() as u32;
        }
        Some(TransportSlice::Udp(udp)) => {
            sum.sport = udp.source_port();
            sum.dport = udp.destination_port();
            sum.payload_off = offset_of(udp.payload());
            sum.payload_len = udp.payload().len() as u32;
        }
        _ => {
            if sum.proto == ipproto::TCP || sum.proto == ipproto::UDP {
                // etherparse leaves transport empty when the header does not fit.
                return Err(NotFlow::Undecodable(Undecodable::Truncated));
            }
        }
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
            .single_vlan(etherparse::VlanId::try_new(20).unwrap())
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 502, 1000, 8192)
            .syn()
            .ack(77);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn ethernet_vlan_ipv4_tcp() {
        let f = tcp_frame(b"hello");
        let s = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!(s.l3, L3::Ipv4);
        assert_eq!(ip_to_std(&s.src).to_string(), "10.0.0.1");
        assert_eq!((s.sport, s.dport, s.proto), (40000, 502, ipproto::TCP));
        assert_eq!(s.vlan, Some(20));
        assert_eq!(s.src_mac.unwrap().to_string(), "01:02:03:04:05:06");
        assert_eq!((s.seq, s.ack), (1000, 77));
        assert_eq!(
            s.flags & (tcpflags::SYN | tcpflags::ACK),
            tcpflags::SYN | tcpflags::ACK
        );
        let p = &f[s.payload_off as usize..][..s.payload_len as usize];
        assert_eq!(p, b"hello");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let f = tcp_frame(b"hello");
        for cut in 0..f.len() {
            assert!(
                decode(LinkType::Ethernet, &f[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn loopback_and_raw_ip() {
        let mut ip = Vec::new();
        PacketBuilder::ipv6([1; 16], [2; 16], 5)
            .udp(20000, 20000)
            .write(&mut ip, &[5, 0x64])
            .unwrap();
        let s = decode(LinkType::RawIp, &ip).unwrap();
        assert_eq!((s.l3, s.proto, s.payload_len), (L3::Ipv6, ipproto::UDP, 2));
        for hdr in [[30u8, 0, 0, 0], [0, 0, 0, 30]] {
            let mut f = hdr.to_vec();
            f.extend_from_slice(&ip);
            let s = decode(LinkType::Null, &f).unwrap();
            assert_eq!(s.dport, 20000);
            assert_eq!(s.payload_off as usize, 4 + 40 + 8);
        }
        let mut bad = vec![99, 0, 0, 0];
        bad.extend_from_slice(&ip);
        assert_eq!(
            decode(LinkType::Null, &bad),
            Err(NotFlow::Undecodable(Undecodable::UnknownAddressFamily))
        );
    }

    #[test]
    fn sll2_header() {
        let mut ip = Vec::new();
        PacketBuilder::ipv4([192, 168, 0, 1], [192, 168, 0, 2], 5)
            .tcp(102, 50000, 1, 100)
            .write(&mut ip, &[3, 0, 0, 7])
            .unwrap();
        let mut f = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 0,
        ];
        f.extend_from_slice(&ip);
        let s = decode(LinkType::LinuxSll2, &f).unwrap();
        assert_eq!(s.sport, 102);
        assert_eq!(s.src_mac.unwrap().to_string(), "aa:bb:cc:dd:ee:ff");
    }

    #[test]
    fn non_ip_frames_are_classified() {
        let mut f = vec![0xff; 12];
        f.extend_from_slice(&[0x88, 0x92, 0xfe, 0xfe, 0, 0]);
        assert_eq!(
            decode(LinkType::Ethernet, &f),
            Err(NotFlow::OtherEtherType(0x8892))
        );
        assert_eq!(
            decode(LinkType::Unsupported(7), &f),
            Err(NotFlow::Undecodable(Undecodable::UnsupportedLinkType))
        );
    }
}
