//! BACnet/IP (ASHRAE 135 Annex J) on UDP 47808: the BVLC (results, broadcast distribution
//! and foreign-device tables, forwarded NPDUs with their original source, foreign-device
//! registration, original unicast and broadcast), the NPDU (network-layer messages, routing:
//! destination and source networks, hop count, priority, expecting-reply), and the APDU:
//! confirmed and unconfirmed requests, simple and complex ACKs, segment ACKs, errors, rejects
//! and aborts, with segmentation (sequence numbers and windows), invoke ids and service
//! choices; in the services the sensor judges, the object and property they address, a
//! write's priority, DeviceCommunicationControl's and ReinitializeDevice's request, I-Am's
//! device, and ReadProperty answers naming a device (vendor, model, firmware, software).
//!
//! Not here: BACnet over Ethernet (LLC), MS/TP, ARCNET and BACnet/SC; segmented messages
//! are not reassembled (each segment is an event; the first carries the service's fields).

pub mod adapter;
pub mod codes;
pub mod descriptor;

use serde::Serialize;

pub use descriptor::DESCRIPTOR;

/// BACnet/IP's UDP port.
pub const PORT: u16 = 47808;

/// The BVLC header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bvlc {
    /// Function (0x0a original unicast, 0x0b original broadcast, 0x04 forwarded, ...).
    pub function: u8,
    /// Forwarded NPDUs: the original source's B/IP address and port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded_from: Option<([u8; 4], u16)>,
    /// Register-Foreign-Device: its time to live, s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u16>,
    /// BVLC-Result: its code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<u16>,
    /// The BVLC length said more than the datagram holds (what is there is read).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub length_mismatch: bool,
}

/// A BVLC function's name.
pub fn bvlc_name(f: u8) -> &'static str {
    match f {
        0x00 => "result",
        0x01 => "write_bdt",
        0x02 => "read_bdt",
        0x03 => "read_bdt_ack",
        0x04 => "forwarded_npdu",
        0x05 => "register_foreign_device",
        0x06 => "read_fdt",
        0x07 => "read_fdt_ack",
        0x08 => "delete_fdt_entry",
        0x09 => "distribute_broadcast_to_network",
        0x0a => "original_unicast",
        0x0b => "original_broadcast",
        0x0c => "secure_bvll",
        _ => "reserved",
    }
}

/// The NPDU header's routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Npdu {
    /// Destination network (0xFFFF: global broadcast).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnet: Option<u16>,
    /// Source network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snet: Option<u16>,
    /// Hop count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop_count: Option<u8>,
    /// Network priority (0 normal .. 3 life safety).
    pub priority: u8,
    /// Expecting a reply.
    pub expecting_reply: bool,
    /// A network-layer message's type (Who-Is-Router-To-Network, I-Am-Router-To-Network,
    /// ...), instead of an APDU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_message: Option<u8>,
}

/// APDU types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PduType {
    /// 0.
    ConfirmedRequest,
    /// 1.
    UnconfirmedRequest,
    /// 2.
    SimpleAck,
    /// 3.
    ComplexAck,
    /// 4.
    SegmentAck,
    /// 5.
    Error,
    /// 6.
    Reject,
    /// 7.
    Abort,
}

impl PduType {
    /// Its number (Wireshark's `bacapp.type`).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// A request (confirmed or unconfirmed), not an answer.
    pub fn is_request(self) -> bool {
        matches!(
            self,
            PduType::ConfirmedRequest | PduType::UnconfirmedRequest
        )
    }
}

/// An object identifier: type and instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ObjectId {
    /// Object type.
    #[serde(rename = "type")]
    pub kind: u16,
    /// Instance.
    pub instance: u32,
}

impl ObjectId {
    fn of(v: u32) -> ObjectId {
        ObjectId {
            kind: (v >> 22) as u16,
            instance: v & 0x3f_ffff,
        }
    }
}

/// The `sub_function_name` of a Who-Is that asks every device, or a range wider than one,
/// to answer.
pub const SWEEP: &str = "every_device";

/// An APDU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Apdu {
    /// Type.
    pub pdu_type: PduType,
    /// Invoke id (all but unconfirmed requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_id: Option<u8>,
    /// Service choice (confirmed service for requests, ACKs and errors; unconfirmed
    /// service for unconfirmed requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<u8>,
    /// Segmented message: the segment's sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<u8>,
    /// More segments follow.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub more_follows: bool,
    /// Reject or abort reason; error class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<u32>,
    /// Error code (errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    /// The object a service addresses (ReadProperty, WriteProperty, ..., I-Am's device).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectId>,
    /// The property it addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<u32>,
    /// WriteProperty's priority (1 highest .. 16).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// DeviceCommunicationControl's enable-disable (0 enable, 1 disable, 2 disable
    /// initiation); ReinitializeDevice's state (0 coldstart, 1 warmstart, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_state: Option<u32>,
    /// A password was sent (DeviceCommunicationControl, ReinitializeDevice).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub password: bool,
    /// I-Am: vendor id, max APDU length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<u32>,
    /// I-Am: max APDU length accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_apdu: Option<u32>,
    /// Who-Is: the device instance range asked for (none: every device).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<(u32, u32)>,
    /// A ReadProperty answer's character string value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A BACnet/IP datagram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pdu {
    /// The BVLC.
    pub bvlc: Bvlc,
    /// The NPDU, when the BVLC carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub npdu: Option<Npdu>,
    /// The APDU, when the NPDU carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apdu: Option<Apdu>,
}

/// Why a datagram did not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not a BVLC of BACnet/IP (type 0x81).
    NotBvlc,
    /// The BVLC length disagrees with the datagram.
    BadLength,
    /// The NPDU's version is not 1, or its header is cut short.
    BadNpdu,
    /// The APDU header is cut short or of a reserved type.
    BadApdu,
}

impl Malformed {
    /// The reason as counted.
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::NotBvlc => "not_bvlc",
            Malformed::BadLength => "bad_bvlc_length",
            Malformed::BadNpdu => "bad_npdu",
            Malformed::BadApdu => "bad_apdu",
        }
    }
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// A tag (ASHRAE 135 §20.2.1): number, context-specific, and its length — or an opening
/// (`Open`) or closing (`Close`) tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Len {
    Value(usize),
    Open,
    Close,
}

/// The tag at the start of `d`: (number, context, length), and the bytes after the header.
fn tag(d: &[u8]) -> Option<(u8, bool, Len, &[u8])> {
    let (&b, mut rest) = d.split_first()?;
    let mut number = b >> 4;
    let context = b & 0x08 != 0;
    if number == 15 {
        let (&n, r) = rest.split_first()?;
        number = n;
        rest = r;
    }
    let lvt = b & 0x07;
    let len = match lvt {
        6 if context => Len::Open,
        7 if context => Len::Close,
        5 => {
            let (&n, r) = rest.split_first()?;
            rest = r;
            match n {
                254 => {
                    let l = be16(rest, 0)?;
                    rest = rest.get(2..)?;
                    Len::Value(usize::from(l))
                }
                255 => {
                    let l = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
                    rest = rest.get(4..)?;
                    Len::Value(usize::try_from(l).ok()?)
                }
                n => Len::Value(usize::from(n)),
            }
        }
        // An application boolean's value is its length field.
        n if !context && number == 1 => {
            let _ = n;
            Len::Value(0)
        }
        n => Len::Value(usize::from(n)),
    };
    Some((number, context, len, rest))
}

fn unsigned(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 4 {
        return None;
    }
    Some(v.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b)))
}

/// The tagged values of a service's parameters at depth 0: (number, context, value);
/// constructed values (between opening and closing tags) as `None` values with their
/// content skipped; at most `max`.
fn items(mut d: &[u8], max: usize) -> Vec<(u8, bool, Option<&[u8]>)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut inner_start: Option<&[u8]> = None;
    while out.len() < max {
        let Some((n, ctx, len, rest)) = tag(d) else {
            break;
        };
        match len {
            Len::Open => {
                if depth == 0 {
                    inner_start = Some(rest);
                    out.push((n, ctx, None));
                }
                depth += 1;
                d = rest;
            }
            Len::Close => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    // The constructed value's content, for the caller to read.
                    if let (Some(start), Some(last)) = (inner_start.take(), out.last_mut()) {
                        let used = start.len().saturating_sub(d.len());
                        last.2 = start.get(..used);
                    }
                }
                d = rest;
            }
            Len::Value(l) => {
                let v = rest.get(..l.min(rest.len())).unwrap_or_default();
                if depth == 0 {
                    out.push((n, ctx, Some(v)));
                }
                d = rest.get(l.min(rest.len())..).unwrap_or_default();
            }
        }
        if d.is_empty() {
            break;
        }
    }
    out
}

/// A character string value (application tag 7): its character set octet, then the text
/// (UTF-8, UCS-2 and ISO 8859-1 decoded; others read as UTF-8, lossily), up to a NUL.
fn char_string(d: &[u8]) -> Option<String> {
    let (n, ctx, len, rest) = tag(d)?;
    let Len::Value(l) = len else { return None };
    if ctx || n != 7 {
        return None;
    }
    let v = rest.get(..l)?;
    let (&charset, text) = v.split_first()?;
    let text = text.get(..text.len().min(512))?;
    let s: String = match charset {
        // ISO 10646 UCS-2, big-endian.
        4 => char::decode_utf16(text.chunks_exact(2).map(|c| {
            u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        }))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        // ISO 8859-1.
        5 => text.iter().map(|b| char::from(*b)).collect(),
        // UTF-8 (ANSI X3.4 before), and the rest as well as it reads.
        _ => String::from_utf8_lossy(text).into_owned(),
    };
    Some(s.split('\0').next().unwrap_or_default().to_string())
}

/// Reads one BACnet/IP datagram.
pub fn parse(d: &[u8]) -> Result<Pdu, Malformed> {
    if d.first() != Some(&0x81) {
        return Err(Malformed::NotBvlc);
    }
    let function = *d.get(1).ok_or(Malformed::BadLength)?;
    let len = usize::from(be16(d, 2).ok_or(Malformed::BadLength)?);
    if len < 4 {
        return Err(Malformed::BadLength);
    }
    let d = d.get(..len.min(d.len())).ok_or(Malformed::BadLength)?;
    let mut bvlc = Bvlc {
        function,
        forwarded_from: None,
        ttl: None,
        result: None,
        length_mismatch: len > d.len(),
    };
    let npdu_at = match function {
        0x04 => {
            let ip: [u8; 4] = d
                .get(4..8)
                .and_then(|x| x.try_into().ok())
                .ok_or(Malformed::BadLength)?;
            bvlc.forwarded_from = Some((ip, be16(d, 8).ok_or(Malformed::BadLength)?));
            10
        }
        0x09..=0x0b => 4,
        0x00 => {
            bvlc.result = be16(d, 4);
            return Ok(Pdu {
                bvlc,
                npdu: None,
                apdu: None,
            });
        }
        0x05 => {
            bvlc.ttl = be16(d, 4);
            return Ok(Pdu {
                bvlc,
                npdu: None,
                apdu: None,
            });
        }
        _ => {
            return Ok(Pdu {
                bvlc,
                npdu: None,
                apdu: None,
            })
        }
    };
    let n = d.get(npdu_at..).ok_or(Malformed::BadNpdu)?;
    let (npdu, apdu_at) = npdu(n)?;
    let apdu = match npdu.network_message {
        Some(_) => None,
        None => Some(apdu(n.get(apdu_at..).ok_or(Malformed::BadApdu)?)?),
    };
    Ok(Pdu {
        bvlc,
        npdu: Some(npdu),
        apdu,
    })
}

fn npdu(n: &[u8]) -> Result<(Npdu, usize), Malformed> {
    let bad = Malformed::BadNpdu;
    if n.first() != Some(&1) {
        return Err(bad);
    }
    let control = *n.get(1).ok_or(bad)?;
    let mut p = Npdu {
        priority: control & 0x03,
        expecting_reply: control & 0x04 != 0,
        ..Npdu::default()
    };
    let mut at = 2;
    if control & 0x20 != 0 {
        p.dnet = Some(be16(n, at).ok_or(bad)?);
        let dlen = usize::from(*n.get(at + 2).ok_or(bad)?);
        at += 3 + dlen;
    }
    if control & 0x08 != 0 {
        p.snet = Some(be16(n, at).ok_or(bad)?);
        let slen = usize::from(*n.get(at + 2).ok_or(bad)?);
        at += 3 + slen;
    }
    if control & 0x20 != 0 {
        p.hop_count = Some(*n.get(at).ok_or(bad)?);
        at += 1;
    }
    if control & 0x80 != 0 {
        p.network_message = Some(*n.get(at).ok_or(bad)?);
        at += 1;
    }
    Ok((p, at))
}

fn apdu(a: &[u8]) -> Result<Apdu, Malformed> {
    let bad = Malformed::BadApdu;
    let b0 = *a.first().ok_or(bad)?;
    let pdu_type = match b0 >> 4 {
        0 => PduType::ConfirmedRequest,
        1 => PduType::UnconfirmedRequest,
        2 => PduType::SimpleAck,
        3 => PduType::ComplexAck,
        4 => PduType::SegmentAck,
        5 => PduType::Error,
        6 => PduType::Reject,
        7 => PduType::Abort,
        _ => return Err(bad),
    };
    let mut p = Apdu {
        pdu_type,
        invoke_id: None,
        service: None,
        segment: None,
        more_follows: false,
        reason: None,
        error_code: None,
        object: None,
        property: None,
        priority: None,
        request_state: None,
        password: false,
        vendor_id: None,
        max_apdu: None,
        range: None,
        text: None,
    };
    let seg = b0 & 0x08 != 0;
    p.more_follows = seg && b0 & 0x04 != 0;
    let at = match pdu_type {
        PduType::ConfirmedRequest => {
            p.invoke_id = Some(*a.get(2).ok_or(bad)?);
            if seg {
                p.segment = Some(*a.get(3).ok_or(bad)?);
                5
            } else {
                3
            }
        }
        PduType::UnconfirmedRequest => 1,
        PduType::SimpleAck | PduType::Error => {
            p.invoke_id = Some(*a.get(1).ok_or(bad)?);
            2
        }
        PduType::ComplexAck => {
            p.invoke_id = Some(*a.get(1).ok_or(bad)?);
            if seg {
                p.segment = Some(*a.get(2).ok_or(bad)?);
                4
            } else {
                2
            }
        }
        PduType::SegmentAck => {
            p.invoke_id = Some(*a.get(1).ok_or(bad)?);
            p.segment = Some(*a.get(2).ok_or(bad)?);
            return Ok(p);
        }
        PduType::Reject | PduType::Abort => {
            p.invoke_id = Some(*a.get(1).ok_or(bad)?);
            p.reason = a.get(2).map(|r| u32::from(*r));
            return Ok(p);
        }
    };
    let service = *a.get(at).ok_or(bad)?;
    p.service = Some(service);
    let params = a.get(at + 1..).unwrap_or_default();
    // A later segment carries the rest of a service's bytes, not its parameters' start.
    if p.segment.is_some_and(|s| s > 0) {
        return Ok(p);
    }
    service_fields(&mut p, service, params);
    Ok(p)
}

/// The fields the sensor reads from a service's parameters.
fn service_fields(p: &mut Apdu, service: u8, params: &[u8]) {
    let it = items(params, 8);
    let ctx_uint = |n: u8| {
        it.iter()
            .find(|(k, c, _)| *k == n && *c)
            .and_then(|(_, _, v)| v.and_then(unsigned))
    };
    match (p.pdu_type, service) {
        (PduType::Error, _) => {
            // Error class and code: two enumerated values (after an opening tag for the
            // services with a constructed error).
            let mut vals = it
                .iter()
                .filter_map(|(_, c, v)| (!c).then_some(*v).flatten());
            p.reason = vals.next().and_then(unsigned);
            p.error_code = vals.next().and_then(unsigned);
        }
        (PduType::UnconfirmedRequest, 0) => {
            // I-Am: application-tagged device id, max APDU, segmentation, vendor.
            let mut vals = it
                .iter()
                .filter_map(|(_, c, v)| (!c).then_some(*v).flatten());
            p.object = vals.next().and_then(unsigned).map(ObjectId::of);
            p.max_apdu = vals.next().and_then(unsigned);
            let _segmentation = vals.next();
            p.vendor_id = vals.next().and_then(unsigned);
        }
        (PduType::UnconfirmedRequest, 8) => {
            if let (Some(lo), Some(hi)) = (ctx_uint(0), ctx_uint(1)) {
                p.range = Some((lo, hi));
            }
        }
        (PduType::ConfirmedRequest, 17) => {
            p.request_state = ctx_uint(1);
            p.password = it.iter().any(|(k, c, _)| *k == 2 && *c);
        }
        (PduType::ConfirmedRequest, 20) => {
            p.request_state = ctx_uint(0);
            p.password = it.iter().any(|(k, c, _)| *k == 1 && *c);
        }
        (PduType::ConfirmedRequest | PduType::ComplexAck, 12 | 15 | 5 | 28 | 26 | 6 | 7)
        | (PduType::ConfirmedRequest, 14 | 16) => {
            // [0] object (for the file services an application-tagged object id), [1]
            // property; WriteProperty's [4] priority; ReadProperty-ACK's [3] value.
            p.object = ctx_uint(0)
                .or_else(|| {
                    it.iter()
                        .find(|(k, c, _)| *k == 12 && !*c)
                        .and_then(|(_, _, v)| v.and_then(unsigned))
                })
                .map(ObjectId::of);
            if matches!(service, 12 | 15 | 26 | 28) {
                p.property = ctx_uint(1);
            }
            if service == 15 {
                p.priority = ctx_uint(4).and_then(|v| u8::try_from(v).ok());
            }
            if (p.pdu_type, service) == (PduType::ComplexAck, 12) {
                p.text = it
                    .iter()
                    .find(|(k, c, _)| *k == 3 && *c)
                    .and_then(|(_, _, v)| v.and_then(char_string));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hex;

    #[test]
    fn who_is_i_am_and_read_property() {
        // Who-Is, broadcast, with a range 0..4194303.
        let p = parse(&hex("810b000c0120ffff00ff10080a0000")).map(|p| p.apdu);
        assert!(p.is_ok(), "{p:?}");
        // I-Am: device 1234, max APDU 1476, segmentation both (0), vendor 260.
        let p = parse(&hex("810b00190120ffff00ff1000c4020004d22205c4910022010400")).unwrap();
        let a = p.apdu.unwrap();
        assert_eq!(
            (a.pdu_type, a.service),
            (PduType::UnconfirmedRequest, Some(0))
        );
        assert_eq!(
            a.object,
            Some(ObjectId {
                kind: 8,
                instance: 1234
            })
        );
        assert_eq!((a.max_apdu, a.vendor_id), (Some(1476), Some(260)));
        assert_eq!(p.npdu.unwrap().dnet, Some(0xffff));
        // ReadProperty of device 1234's vendor-name, and its answer.
        let p = parse(&hex("810a001101040005010c0c020004d2197900")).unwrap();
        let a = p.apdu.unwrap();
        assert_eq!(
            (a.invoke_id, a.service, a.property),
            (Some(1), Some(12), Some(121))
        );
        let p = parse(&hex(
            "810a001c0100300c0c0c020004d219793e75080041434d4520436f3f",
        ))
        .unwrap();
        let a = p.apdu.unwrap();
        assert_eq!(a.text.as_deref(), Some("ACME Co"));
        // WriteProperty at priority 1, DeviceCommunicationControl disable.
        let p = parse(&hex("810a001a01040005010f0c0040000119553e44000000003f4901")).unwrap();
        let a = p.apdu.unwrap();
        assert_eq!(
            (a.service, a.property, a.priority),
            (Some(15), Some(85), Some(1))
        );
        let p = parse(&hex("810a00110104000502111901 2c00706173"
            .replace(' ', "")
            .as_str()))
        .unwrap();
        let a = p.apdu.unwrap();
        assert_eq!(
            (a.service, a.request_state, a.password),
            (Some(17), Some(1), true)
        );
        // Broken: other type, short length, reserved APDU type.
        assert_eq!(parse(&hex("820a0004")), Err(Malformed::NotBvlc));
        assert_eq!(parse(&hex("810a0003")), Err(Malformed::BadLength));
        // A BVLC length past the datagram: what is there is read, and the mismatch noted.
        let p = parse(&hex("810a0011010450011491059 11a"
            .replace(' ', "")
            .as_str()))
        .unwrap();
        assert!(p.bvlc.length_mismatch);
        assert_eq!(p.apdu.unwrap().service, Some(20));
        assert_eq!(parse(&hex("810a00070100f0")), Err(Malformed::BadApdu));
    }

    #[test]
    fn an_i_am_speaks_for_its_sender_unless_forwarded_or_routed() {
        // I-Am of device 1234, vendor 260: sent by the device itself, forwarded by a BBMD
        // (with the original source 192.168.0.5:47808), routed from network 5.
        const I_AM: &str = "1000c4020004d22205c49100220104";
        let direct = hex(&format!("810b00150100{I_AM}"));
        let forwarded = hex(&format!("8104001bc0a80005bac00100{I_AM}"));
        let routed = hex(&format!("810b00190108000501 07{I_AM}").replace(' ', ""));
        let id = |dgram: &[u8]| {
            let r = crate::testing::run_datagrams(
                "bacnet",
                47808,
                &[(crate::Direction::Request, dgram)],
            );
            assert_eq!(r.messages.len(), 1, "{:?}", r.errors);
            r.messages[0].identity.clone().and_then(|i| i.device_id)
        };
        assert_eq!(
            id(&direct).as_deref(),
            Some("bacnet device 1234, vendor 260")
        );
        assert_eq!(id(&forwarded), None);
        assert_eq!(id(&routed), None);
    }
}
