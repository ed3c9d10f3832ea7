//! PROFINET on Ethernet (EtherType 0x8892, IEC 61158-6-10): the frame id says what a frame
//! is — cyclic real-time I/O data (counted, never parsed: a controller sends thousands a
//! second), alarms (acyclic, high and low priority), or DCP, the discovery and
//! configuration protocol that names stations and sets their addresses.
//!
//! DCP is read whole: service (Get, Set, Identify, Hello), type (request, response, not
//! supported), Xid, and every block — name of station, IP suite, device id (vendor and
//! device), role, options, alias, instance, control (start/end of a transaction, signal,
//! factory reset), the answers' per-block results — as IEC 61158-6-10 §4.3 lays them out:
//! Get requests list option/suboption pairs; Identify requests carry filter blocks; Set
//! requests a block qualifier before each value; responses and Hello a block info.
//!
//! Not here: PROFINET IO context management (DCE/RPC over UDP), RT class 3 (IRT), the
//! alarm notifications' own blocks (an alarm is an event with its header only).

use std::net::Ipv4Addr;

use serde::Serialize;

/// PROFINET's EtherType.
pub const ETHERTYPE: u16 = 0x8892;
/// Most blocks read from one DCP PDU.
pub const MAX_BLOCKS: usize = 32;
/// Longest name kept.
const MAX_NAME: usize = 240;

/// What a PROFINET frame is, by its frame id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Cyclic real-time data (0x0100–0xFBFF: RT classes 1 to 3).
    Cyclic,
    /// An alarm: high priority (0xFC01) or low (0xFE01).
    Alarm {
        /// High priority.
        high: bool,
    },
    /// DCP: Hello (0xFEFC), Get/Set (0xFEFD), Identify request (0xFEFE) or response
    /// (0xFEFF).
    Dcp,
    /// Anything else (PTCP synchronisation, reserved ids).
    Other,
}

impl FrameKind {
    /// The kind of `frame_id`.
    pub fn of(frame_id: u16) -> FrameKind {
        match frame_id {
            0x0100..=0xfbff => FrameKind::Cyclic,
            0xfc01 => FrameKind::Alarm { high: true },
            0xfe01 => FrameKind::Alarm { high: false },
            0xfefc..=0xfeff => FrameKind::Dcp,
            _ => FrameKind::Other,
        }
    }
}

/// The Ethernet header of a PROFINET frame (with or without an 802.1Q tag), in the form the
/// layer-2 flows share with GOOSE and SV (`appid` is the frame id), its frame id and what
/// follows it; `None` for other frames.
pub fn header(f: &[u8]) -> Option<(crate::goose::Header, u16, &[u8])> {
    let dst: [u8; 6] = f.get(..6)?.try_into().ok()?;
    let src: [u8; 6] = f.get(6..12)?.try_into().ok()?;
    let mut at = 12;
    let mut vlan = None;
    if be16(f, at)? == 0x8100 {
        let tci = be16(f, at + 2)?;
        vlan = Some((tci & 0x0fff, (tci >> 13) as u8));
        at += 4;
    }
    if be16(f, at)? != ETHERTYPE {
        return None;
    }
    let (frame_id, rest) = frame(f.get(at + 2..)?)?;
    let h = crate::goose::Header {
        src,
        dst,
        vlan,
        ethertype: ETHERTYPE,
        appid: frame_id,
        length: 0,
        simulated: false,
    };
    Some((h, frame_id, rest))
}

/// An alarm frame's header (after the frame id): its endpoints, PDU type and sequence
/// numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Alarm {
    /// Destination endpoint (alarm reference).
    pub dst_endpoint: u16,
    /// Source endpoint.
    pub src_endpoint: u16,
    /// PDU type: 1 data, 2 nack, 3 ack, 4 error.
    pub pdu_type: u8,
    /// Send sequence number.
    pub send_seq: u16,
    /// Acknowledged sequence number.
    pub ack_seq: u16,
    /// Length of what follows (the alarm notification or error).
    pub var_part_len: u16,
}

/// An alarm frame after its frame id (RTA header, IEC 61158-6-10 §4.10).
pub fn alarm(d: &[u8]) -> Option<Alarm> {
    Some(Alarm {
        dst_endpoint: be16(d, 0)?,
        src_endpoint: be16(d, 2)?,
        pdu_type: *d.get(4)? & 0x0f,
        send_seq: be16(d, 6)?,
        ack_seq: be16(d, 8)?,
        var_part_len: be16(d, 10)?,
    })
}

/// A PROFINET frame's frame id and what follows it.
pub fn frame(payload: &[u8]) -> Option<(u16, &[u8])> {
    let id = u16::from_be_bytes([*payload.first()?, *payload.get(1)?]);
    Some((id, payload.get(2..)?))
}

/// A DCP block's option and suboption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockId {
    /// Option (1 IP, 2 device properties, 3 DHCP, 5 control, 6 device initiative, 255 all).
    pub option: u8,
    /// Suboption.
    pub suboption: u8,
}

/// A DCP PDU.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Dcp {
    /// Frame id (0xFEFC–0xFEFF).
    #[serde(skip)]
    pub frame_id: u16,
    /// Service id: 3 Get, 4 Set, 5 Identify, 6 Hello.
    #[serde(skip)]
    pub service_id: u8,
    /// Service type: 0 request, 1 response (success), 5 response (request not supported).
    #[serde(skip)]
    pub service_type: u8,
    /// Transaction id.
    pub xid: u32,
    /// Identify requests: the response delay factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_delay: Option<u16>,
    /// The blocks, in order (at most [`MAX_BLOCKS`]).
    pub blocks: Vec<BlockId>,
    /// Name of station (2/2): announced, asked for (Identify filter) or set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_of_station: Option<String>,
    /// Alias name (2/6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_name: Option<String>,
    /// Type of station, the device vendor value (2/1), e.g. `S7-300`, `SCALANCE X-200`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_of_station: Option<String>,
    /// IP address (1/2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// Subnet mask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_mask: Option<Ipv4Addr>,
    /// Standard gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    /// Vendor id (2/3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<u16>,
    /// Device id (2/3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<u16>,
    /// Device role bits (2/4): 1 IO device, 2 IO controller, 4 IO multidevice, 8 IO
    /// supervisor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_role: Option<u8>,
    /// A Set's block qualifier of a name or address: 1 permanent, 0 temporary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permanent: Option<bool>,
    /// Control blocks (5/x) of a Set: `start_transaction`, `end_transaction`, `signal`,
    /// `factory_reset`, `reset_to_factory`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub control: Vec<&'static str>,
    /// A response's per-block results (5/4): the block answered and its error (0 ok).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<(BlockId, u8)>,
}

impl Dcp {
    /// The service's name.
    pub fn service_name(&self) -> &'static str {
        service_name(self.service_id)
    }

    /// A response (success or not supported), not a request.
    pub fn is_response(&self) -> bool {
        self.service_type & 1 == 1
    }

    /// Whether a Set request changes a station's name or address, or resets it.
    pub fn changes_station(&self) -> bool {
        self.service_id == 4
            && !self.is_response()
            && (self.name_of_station.is_some()
                || self.ip.is_some()
                || self
                    .control
                    .iter()
                    .any(|c| matches!(*c, "factory_reset" | "reset_to_factory")))
    }
}

/// A DCP service id's name.
pub fn service_name(id: u8) -> &'static str {
    match id {
        3 => "get",
        4 => "set",
        5 => "identify",
        6 => "hello",
        _ => "reserved",
    }
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// A name field: up to its first NUL (names are padded with them, as Wireshark shows).
fn text(v: &[u8]) -> String {
    let end = v
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(v.len())
        .min(MAX_NAME);
    String::from_utf8_lossy(v.get(..end).unwrap_or_default()).into_owned()
}

fn ipv4(v: &[u8], at: usize) -> Option<Ipv4Addr> {
    let b: [u8; 4] = v.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

/// A DCP PDU after its frame id; `None` when the header does not read.
pub fn dcp(frame_id: u16, d: &[u8]) -> Option<Dcp> {
    let mut p = Dcp {
        frame_id,
        service_id: *d.first()?,
        service_type: *d.get(1)?,
        xid: u32::from_be_bytes(d.get(2..6)?.try_into().ok()?),
        ..Dcp::default()
    };
    let len = usize::from(be16(d, 8)?);
    let data = d.get(10..)?;
    let data = data.get(..len.min(data.len()))?;
    let request = !p.is_response();
    if frame_id == 0xfefe && request {
        p.response_delay = be16(d, 6);
    }
    if p.service_id == 3 && request {
        // Get: the options asked for, two octets each.
        for c in data.chunks_exact(2).take(MAX_BLOCKS) {
            if let [option, suboption] = *c {
                p.blocks.push(BlockId { option, suboption });
            }
        }
        return Some(p);
    }
    // Set requests put a qualifier before each value, responses and Hello a block info;
    // Identify requests' filters carry the value alone.
    let lead = if p.service_id == 5 && request { 0 } else { 2 };
    let mut at = 0;
    while let (Some(&option), Some(&suboption), Some(blen)) =
        (data.get(at), data.get(at + 1), be16(data, at + 2))
    {
        if p.blocks.len() >= MAX_BLOCKS {
            break;
        }
        let blen = usize::from(blen);
        let body = data.get(at + 4..at + 4 + blen).unwrap_or_default();
        let id = BlockId { option, suboption };
        p.blocks.push(id);
        block(&mut p, id, body, lead);
        // Blocks are padded to an even length.
        at += 4 + blen + (blen & 1);
    }
    Some(p)
}

/// One block's value into `p`; `lead` octets (qualifier or block info) precede it, except
/// in control responses.
fn block(p: &mut Dcp, id: BlockId, body: &[u8], lead: usize) {
    if (id.option, id.suboption) == (5, 4) {
        // A response: the block answered and its error code.
        if let [option, suboption, error, ..] = *body {
            p.results.push((BlockId { option, suboption }, error));
        }
        return;
    }
    let v = body.get(lead.min(body.len())..).unwrap_or_default();
    let station = matches!((id.option, id.suboption), (1, 2) | (1, 3) | (2, 2) | (2, 6));
    if station && lead == 2 && p.service_id == 4 && !p.is_response() {
        p.permanent = be16(body, 0).map(|q| q & 1 == 1);
    }
    match (id.option, id.suboption) {
        (1, 2) | (1, 3) => {
            p.ip = ipv4(v, 0);
            p.subnet_mask = ipv4(v, 4);
            p.gateway = ipv4(v, 8);
        }
        (2, 1) => p.type_of_station = Some(text(v)),
        (2, 2) => p.name_of_station = Some(text(v)),
        (2, 3) => {
            p.vendor_id = be16(v, 0);
            p.device_id = be16(v, 2);
        }
        (2, 4) => p.device_role = v.first().copied(),
        (2, 6) => p.alias_name = Some(text(v)),
        (5, s) => p.control.extend(match s {
            1 => Some("start_transaction"),
            2 => Some("end_transaction"),
            3 => Some("signal"),
            5 => Some("factory_reset"),
            6 => Some("reset_to_factory"),
            _ => None,
        }),
        _ => {}
    }
}

/// A device role's names (`io_device`, `io_controller`, `io_multidevice`, `io_supervisor`).
pub fn roles(bits: u8) -> impl Iterator<Item = &'static str> {
    [
        (1, "io_device"),
        (2, "io_controller"),
        (4, "io_multidevice"),
        (8, "io_supervisor"),
    ]
    .into_iter()
    .filter(move |(b, _)| bits & b != 0)
    .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hex;

    #[test]
    fn an_identify_answer_names_the_station() {
        // ITI ChangeIPUsingDCP.pcap frame 2, after the Ethernet header.
        let f = hex(concat!(
            "feff050101000001",
            "0000005e",
            "0205001c0000010101020201020202030204020503",
            "3d0501050205030504ffff",
            "020100050000494e4300",
            "0202000b0000583230382d424f524400",
            "0203000600000",
            "02a0a01",
            "0204000400000100",
            "0102000e0001c0a80006ffffff00c0a80001",
        ));
        let (id, rest) = frame(&f).unwrap();
        assert_eq!(FrameKind::of(id), FrameKind::Dcp);
        let p = dcp(id, rest).unwrap();
        assert_eq!(
            (p.service_name(), p.is_response(), p.xid),
            ("identify", true, 0x0100_0001)
        );
        assert_eq!(p.name_of_station.as_deref(), Some("X208-BORD"));
        assert_eq!(p.type_of_station.as_deref(), Some("INC"));
        assert_eq!(
            (p.vendor_id, p.device_id, p.device_role),
            (Some(0x2a), Some(0x0a01), Some(1))
        );
        assert_eq!(p.ip, Some(Ipv4Addr::new(192, 168, 0, 6)));
        assert_eq!(p.gateway, Some(Ipv4Addr::new(192, 168, 0, 1)));
        assert_eq!(p.blocks.len(), 6);
        assert!(!p.changes_station());
    }

    #[test]
    fn a_set_of_the_address_and_its_answer() {
        let f = hex("fefd040001000001000000120102000e0001c0a8000affffff00c0a80001");
        let (id, rest) = frame(&f).unwrap();
        let p = dcp(id, rest).unwrap();
        assert_eq!(p.service_name(), "set");
        assert_eq!(p.ip, Some(Ipv4Addr::new(192, 168, 0, 10)));
        assert_eq!(p.permanent, Some(true));
        assert!(p.changes_station());
        let f = hex("fefd04010100000100000008050400030102000000");
        let (id, rest) = frame(&f).unwrap();
        let p = dcp(id, rest).unwrap();
        assert_eq!(
            p.results,
            [(
                BlockId {
                    option: 1,
                    suboption: 2
                },
                0
            )]
        );
        assert!(!p.changes_station());
        // An Identify request with a name filter, and a Get request.
        let f = hex("fefe0500000000010001000702020003706e2d00");
        let p = dcp(0xfefe, &f[2..]).unwrap();
        assert_eq!(
            (p.response_delay, p.name_of_station.as_deref()),
            (Some(1), Some("pn-"))
        );
        let p = dcp(0xfefd, &hex("0300000000010000000402020103")).unwrap();
        assert_eq!(p.blocks.len(), 2);
        // An alarm acknowledgement (RTA header only) and frame ids by kind.
        let a = alarm(&hex("800280010300000500070000")).unwrap();
        assert_eq!(
            (
                a.dst_endpoint,
                a.src_endpoint,
                a.pdu_type,
                a.send_seq,
                a.ack_seq
            ),
            (0x8002, 0x8001, 3, 5, 7)
        );
        assert_eq!(FrameKind::of(0xfc01), FrameKind::Alarm { high: true });
        assert_eq!(FrameKind::of(0x8000), FrameKind::Cyclic);
        assert_eq!(FrameKind::of(0xff40), FrameKind::Other);
        // Cut short: what reads is kept, nothing panics.
        assert!(dcp(0xfefd, &hex("0300")).is_none());
    }
}
