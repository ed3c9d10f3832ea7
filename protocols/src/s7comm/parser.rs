//! TPKT (RFC 1006), COTP (ISO 8073 class 0) and S7comm parsers.
//!
//! TPKT framing is strict (version 3, length ≥ 7) because it decides where the next packet
//! starts. COTP and S7 decoding never fail: out-of-spec input becomes [`Flags`].

use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u32, u8 as be_u8};
use nom::{IResult, Parser};

use super::codes;

/// TPKT header: version 3, reserved, length u16 (whole packet).
pub const TPKT_LEN: usize = 4;
/// Smallest TPKT length: header plus a minimal COTP header.
pub const MIN_TPKT_LENGTH: u16 = 7;
/// S7comm protocol id.
pub const S7_PROTOCOL_ID: u8 = 0x32;
/// S7comm-plus protocol id.
pub const S7PLUS_PROTOCOL_ID: u8 = 0x72;

/// Why bytes do not frame as a TPKT packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpktError {
    /// The version octet is not 3.
    BadVersion(u8),
    /// The length is below 7.
    BadLength(u16),
}

impl TpktError {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TpktError::BadVersion(_) => "bad_tpkt_version",
            TpktError::BadLength(_) => "bad_tpkt_length",
        }
    }
}

// TPKT: version u8 (3) @0 | reserved u8 @1 | length u16 @2 (including this header)
/// Frames one TPKT packet: `Ok(Some((len, payload)))`, `Ok(None)` when more bytes are
/// needed, or an error.
pub fn frame_tpkt(input: &[u8]) -> Result<Option<(usize, &[u8])>, TpktError> {
    let Some(&v) = input.first() else {
        return Ok(None);
    };
    if v != 3 {
        return Err(TpktError::BadVersion(v));
    }
    let Some(&[_, _, l0, l1]) = input.get(..TPKT_LEN) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([l0, l1]);
    if len < MIN_TPKT_LENGTH {
        return Err(TpktError::BadLength(len));
    }
    Ok(input
        .get(TPKT_LEN..usize::from(len))
        .map(|p| (usize::from(len), p)))
}

/// COTP connection parameters of CR/CC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CotpParams<'a> {
    /// TPDU size code (0xC0): 2^code octets.
    pub tpdu_size: Option<u8>,
    /// Calling (source) TSAP (0xC1).
    pub src_tsap: Option<&'a [u8]>,
    /// Called (destination) TSAP (0xC2).
    pub dst_tsap: Option<&'a [u8]>,
}

/// A COTP TPDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cotp<'a> {
    /// Connection request (CR) or confirm (CC).
    Connect {
        /// True for CC.
        confirm: bool,
        /// Destination reference.
        dst_ref: u16,
        /// Source reference.
        src_ref: u16,
        /// Parameters.
        params: CotpParams<'a>,
    },
    /// Data (DT).
    Data {
        /// Last TPDU of the user data unit.
        eot: bool,
        /// TPDU number.
        number: u8,
        /// User data.
        payload: &'a [u8],
    },
    /// Disconnect request (DR) or confirm (DC).
    Disconnect {
        /// True for DC.
        confirm: bool,
        /// Reason (DR only).
        reason: Option<u8>,
    },
    /// Any other TPDU type (expedited data, reject, error, ...).
    Other {
        /// The type octet.
        code: u8,
    },
}

impl Cotp<'_> {
    /// The PDU type code (high nibble of the type octet).
    pub fn code(&self) -> u8 {
        match self {
            Cotp::Connect { confirm: false, .. } => 0xe0,
            Cotp::Connect { confirm: true, .. } => 0xd0,
            Cotp::Data { .. } => 0xf0,
            Cotp::Disconnect { confirm: false, .. } => 0x80,
            Cotp::Disconnect { confirm: true, .. } => 0xc0,
            Cotp::Other { code } => *code & 0xf0,
        }
    }
}

/// Why a TPKT payload is not a COTP TPDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CotpError;

// COTP: length indicator u8 @0 (header octets after it) | type u8 @1 | fixed part | variable part
//   DT:    TPDU number + EOT u8 @2 (EOT = bit 7)
//   CR/CC: dst ref u16 @2 | src ref u16 @4 | class/options u8 @6 | parameters (code u8, len u8, value)
//   DR:    dst ref u16 @2 | src ref u16 @4 | reason u8 @6
/// Parses the COTP TPDU carried in a TPKT payload.
pub fn parse_cotp(p: &[u8]) -> Result<Cotp<'_>, CotpError> {
    let (Some(&li), Some(&ty)) = (p.first(), p.get(1)) else {
        return Err(CotpError);
    };
    let hdr = p.get(1..1 + usize::from(li)).ok_or(CotpError)?;
    let user = p.get(1 + usize::from(li)..).unwrap_or_default();
    Ok(match ty & 0xf0 {
        0xf0 => {
            let nr = hdr.get(1).copied().ok_or(CotpError)?;
            Cotp::Data {
                eot: nr & 0x80 != 0,
                number: nr & 0x7f,
                payload: user,
            }
        }
        0xe0 | 0xd0 => {
            let f = |i: usize| hdr.get(i).copied().unwrap_or(0);
            let mut params = CotpParams::default();
            let mut rest = hdr.get(6..).unwrap_or_default();
            while let (Some(&code), Some(&len)) = (rest.first(), rest.get(1)) {
                let Some(value) = rest.get(2..2 + usize::from(len)) else {
                    break;
                };
                match code {
                    0xc0 => params.tpdu_size = value.first().copied(),
                    0xc1 => params.src_tsap = Some(value),
                    0xc2 => params.dst_tsap = Some(value),
                    _ => {}
                }
                rest = rest.get(2 + usize::from(len)..).unwrap_or_default();
            }
            Cotp::Connect {
                confirm: ty & 0xf0 == 0xd0,
                dst_ref: u16::from_be_bytes([f(1), f(2)]),
                src_ref: u16::from_be_bytes([f(3), f(4)]),
                params,
            }
        }
        0x80 => Cotp::Disconnect {
            confirm: false,
            reason: hdr.get(5).copied(),
        },
        0xc0 => Cotp::Disconnect {
            confirm: true,
            reason: None,
        },
        _ => Cotp::Other { code: ty },
    })
}

/// Rack and slot from an S7 TSAP (second octet: rack × 32 + slot).
pub fn rack_slot(tsap: &[u8]) -> Option<(u8, u8)> {
    let b = *tsap.get(1)?;
    Some((b >> 5, b & 0x1f))
}

/// Out-of-spec conditions in an S7 PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(u32);

impl Flags {
    /// The PDU is shorter than its header's parameter and data lengths.
    pub const TRUNCATED: Flags = Flags(1 << 0);
    /// Octets follow the declared parameter and data.
    pub const TRAILING_BYTES: Flags = Flags(1 << 1);
    /// A ROSCTR S7comm does not define.
    pub const UNKNOWN_ROSCTR: Flags = Flags(1 << 2);
    /// A function code S7comm does not define.
    pub const UNKNOWN_FUNCTION: Flags = Flags(1 << 3);
    /// An item count or item length inconsistent with the parameter length.
    pub const BAD_ITEM: Flags = Flags(1 << 4);
    /// A response with no outstanding request of that PDU reference.
    pub const UNPAIRED_RESPONSE: Flags = Flags(1 << 5);
    /// The header reports an error (class and code in the event).
    pub const ERROR_REPORTED: Flags = Flags(1 << 6);
    /// A userdata parameter head other than 0x000112.
    pub const BAD_USERDATA_HEAD: Flags = Flags(1 << 7);
    /// S7 PDU reassembled from several COTP DT TPDUs beyond the size cap (cut).
    pub const PDU_TOO_LONG: Flags = Flags(1 << 8);
    /// A PLC password was sent (userdata security, in clear or weakly obfuscated).
    pub const PASSWORD_SENT: Flags = Flags(1 << 9);

    pub(crate) const NAMES: [(Flags, &'static str); 10] = [
        (Flags::TRUNCATED, "truncated"),
        (Flags::TRAILING_BYTES, "trailing_bytes"),
        (Flags::UNKNOWN_ROSCTR, "unknown_rosctr"),
        (Flags::UNKNOWN_FUNCTION, "unknown_function"),
        (Flags::BAD_ITEM, "bad_item"),
        (Flags::UNPAIRED_RESPONSE, "unpaired_response"),
        (Flags::ERROR_REPORTED, "error_reported"),
        (Flags::BAD_USERDATA_HEAD, "bad_userdata_head"),
        (Flags::PDU_TOO_LONG, "pdu_too_long"),
        (Flags::PASSWORD_SENT, "password_sent"),
    ];
}

flag_set!(Flags);

/// The S7 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// ROSCTR: 1 job, 2 ack, 3 ack_data, 7 userdata.
    pub rosctr: u8,
    /// Redundancy identification (reserved).
    pub redundancy: u16,
    /// PDU reference (pairs job and ack_data).
    pub pdu_ref: u16,
    /// Parameter length.
    pub param_len: u16,
    /// Data length.
    pub data_len: u16,
    /// Error class and code (ack, ack_data).
    pub error: Option<(u8, u8)>,
}

/// One read/write variable specification (S7ANY addressing, or another syntax kept raw).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarItem<'a> {
    /// Syntax id (0x10 S7ANY, 0xb0 DBREAD, 0xb2 1200 symbolic, ...).
    pub syntax_id: u8,
    /// Transport size (element type).
    pub transport_size: u8,
    /// Number of elements.
    pub length: u16,
    /// DB number (data blocks).
    pub db: u16,
    /// Memory area.
    pub area: u8,
    /// Byte address.
    pub byte: u32,
    /// Bit address.
    pub bit: u8,
    /// The raw specification for syntaxes other than S7ANY.
    pub raw: &'a [u8],
}

/// One data item of read responses and write requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataItem<'a> {
    /// Return code (0xff success).
    pub return_code: u8,
    /// Data transport size (0x03 bit, 0x04 byte/word/dword, 0x05 int, 0x07 real, 0x09 octets).
    pub transport_size: u8,
    /// The value's octets.
    pub data: &'a [u8],
}

/// Upload/download block parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockParam<'a> {
    /// Function status.
    pub status: u8,
    /// Session (upload) id.
    pub session_id: Option<u32>,
    /// File name, e.g. `_0A00001P`.
    pub filename: Option<&'a [u8]>,
    /// Block length reported by Start Upload's answer (ASCII decimal) or the download request.
    pub length: Option<u32>,
}

impl<'a> BlockParam<'a> {
    /// Block type (two characters after `_`).
    pub fn block_type(&self) -> Option<&'a [u8]> {
        self.filename.and_then(|f| f.get(1..3))
    }
    /// Block number (five digits).
    pub fn block_number(&self) -> Option<u32> {
        let d = self.filename?.get(3..8)?;
        std::str::from_utf8(d).ok()?.parse().ok()
    }
    /// Destination file system: `P` passive, `A` active, `B` both.
    pub fn filesystem(&self) -> Option<u8> {
        self.filename?.get(8).copied()
    }
}

/// Decoded job / ack_data parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param<'a> {
    /// Setup communication (0xF0).
    Setup {
        /// Max parallel jobs calling.
        amq_calling: u16,
        /// Max parallel jobs called.
        amq_called: u16,
        /// Negotiated PDU size.
        pdu_size: u16,
    },
    /// Read / write var request (0x04, 0x05): the variables.
    Vars(Vec<VarItem<'a>>),
    /// Read / write var response parameter: the item count.
    ItemCount(u8),
    /// Upload / download functions (0x1A–0x1F).
    Block(BlockParam<'a>),
    /// PI service (0x28).
    PiService {
        /// Service name (`_INSE`, `_DELE`, `P_PROGRAM`, `_GARB`, `_MODU`, ...).
        service: &'a [u8],
        /// Parameter block (e.g. block list).
        params: &'a [u8],
    },
    /// PLC stop (0x29).
    PlcStop {
        /// Service name (`P_PROGRAM`).
        service: &'a [u8],
    },
    /// Nothing decoded.
    Raw(&'a [u8]),
}

/// The userdata parameter head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserdataHead {
    /// Method (0x11 request, 0x12 response).
    pub method: u8,
    /// Type: 0 push, 4 request, 8 response (high nibble of the type/group octet).
    pub kind: u8,
    /// Function group (low nibble).
    pub group: u8,
    /// Subfunction.
    pub subfunction: u8,
    /// Sequence number.
    pub seq: u8,
    /// Error code (8-octet parameters, i.e. responses).
    pub error: Option<u16>,
    /// Last data unit (0x00 yes, 0x01 more follow).
    pub last_data_unit: Option<u8>,
}

/// A decoded S7 PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S7Pdu<'a> {
    /// Header.
    pub header: Header,
    /// Job/ack_data function (first parameter octet).
    pub function: Option<u8>,
    /// Decoded parameters.
    pub param: Param<'a>,
    /// Userdata head, for userdata.
    pub userdata: Option<UserdataHead>,
    /// Data items (read responses, write requests, userdata data unit).
    pub items: Vec<DataItem<'a>>,
    /// The raw data part.
    pub data: &'a [u8],
    /// What is out of specification.
    pub flags: Flags,
}

type R<'a, T> = IResult<&'a [u8], T>;

// S7 header: protocol id 0x32 @0 | ROSCTR u8 @1 | redundancy u16 @2 | PDU ref u16 @4 |
//   parameter length u16 @6 | data length u16 @8 | [ack/ack_data: error class u8 @10 | code u8 @11]
fn header(i: &[u8]) -> R<'_, Header> {
    let (i, (_, rosctr, redundancy, pdu_ref, param_len, data_len)) =
        (be_u8, be_u8, be_u16, be_u16, be_u16, be_u16).parse(i)?;
    let (i, error) = if rosctr == 2 || rosctr == 3 {
        let (i, (c, e)) = (be_u8, be_u8).parse(i)?;
        (i, Some((c, e)))
    } else {
        (i, None)
    };
    Ok((
        i,
        Header {
            rosctr,
            redundancy,
            pdu_ref,
            param_len,
            data_len,
            error,
        },
    ))
}

// Variable specification (S7ANY): 0x12 u8 | length u8 (0x0a) | syntax id u8 (0x10) |
//   transport size u8 | length u16 | DB number u16 | area u8 | address u24 (byte << 3 | bit)
fn var_item(i: &[u8]) -> R<'_, VarItem<'_>> {
    let (i, (_spec, len)) = (be_u8, be_u8).parse(i)?;
    let (i, body) = take(usize::from(len))(i)?;
    let mut item = VarItem {
        syntax_id: body.first().copied().unwrap_or(0),
        transport_size: 0,
        length: 0,
        db: 0,
        area: 0,
        byte: 0,
        bit: 0,
        raw: body,
    };
    if item.syntax_id == 0x10 && body.len() >= 10 {
        let f = |k: usize| body.get(k).copied().unwrap_or(0);
        item.transport_size = f(1);
        item.length = u16::from_be_bytes([f(2), f(3)]);
        item.db = u16::from_be_bytes([f(4), f(5)]);
        item.area = f(6);
        let addr = u32::from_be_bytes([0, f(7), f(8), f(9)]);
        item.byte = addr >> 3;
        item.bit = (addr & 7) as u8;
    }
    Ok((i, item))
}

// Data item: return code u8 | transport size u8 | length u16 (bits for sizes 3, 4, 5; octets
//   otherwise) | data | fill octet when the length is odd and another item follows
fn data_items<'a>(mut d: &'a [u8], count: usize, flags: &mut Flags) -> Vec<DataItem<'a>> {
    let mut out = Vec::with_capacity(count.min(d.len() / 4 + 1));
    for k in 0..count {
        let r: R<'a, DataItem<'a>> = (|i: &'a [u8]| {
            let (i, (return_code, transport_size, len)) = (be_u8, be_u8, be_u16).parse(i)?;
            let bytes = match transport_size {
                0x03..=0x05 => usize::from(len).div_ceil(8),
                _ => usize::from(len),
            };
            let (i, data) = take(bytes)(i)?;
            Ok((
                i,
                DataItem {
                    return_code,
                    transport_size,
                    data,
                },
            ))
        })(d);
        match r {
            Ok((rest, item)) => {
                let odd = item.data.len() % 2 == 1;
                out.push(item);
                d = rest;
                if odd && k + 1 < count && !d.is_empty() {
                    d = d.get(1..).unwrap_or_default();
                }
            }
            Err(_) => {
                // A response item with a non-success return code may carry no length.
                if let Some(&rc) = d.first() {
                    if rc != 0xff && d.len() < 4 {
                        out.push(DataItem {
                            return_code: rc,
                            transport_size: d.get(1).copied().unwrap_or(0),
                            data: &[],
                        });
                        break;
                    }
                }
                flags.insert(Flags::BAD_ITEM);
                break;
            }
        }
    }
    out
}

/// A length-prefixed string: length u8 then octets.
fn pstring(i: &[u8]) -> R<'_, &[u8]> {
    let (i, n) = be_u8(i)?;
    take(usize::from(n))(i)
}

fn ascii_number(s: &[u8]) -> Option<u32> {
    std::str::from_utf8(s).ok()?.trim().parse().ok()
}

// Upload/download parameters (after the function octet):
//   status u8 | unknown u16 | session id u32 | [filename: length u8 + octets] |
//   [request download: length part: length u8 + '1' + load length (6) + MC7 length (6)]
// Start upload ack_data: status u8 | unknown u16 | session id u32 | block length (len u8 + ASCII)
fn block_param(f: u8, rosctr: u8, i: &[u8]) -> BlockParam<'_> {
    let mut b = BlockParam::default();
    let r: R<'_, (u8, u16, u32)> = (be_u8, be_u16, be_u32).parse(i);
    let Ok((rest, (status, _unknown, session))) = r else {
        b.status = i.first().copied().unwrap_or(0);
        return b;
    };
    b.status = status;
    b.session_id = Some(session);
    match (f, rosctr) {
        (0x1d, 3) => b.length = pstring(rest).ok().and_then(|(_, s)| ascii_number(s)),
        (0x1a..=0x1d, 1) => {
            if let Ok((rest, name)) = pstring(rest) {
                b.filename = Some(name);
                if let Ok((_, lp)) = pstring(rest) {
                    // '1' then the load memory length in 6 ASCII digits.
                    b.length = lp.get(1..7).and_then(ascii_number);
                }
            }
        }
        _ => {}
    }
    b
}

fn job_param<'a>(f: u8, rosctr: u8, p: &'a [u8], flags: &mut Flags) -> Param<'a> {
    let rest = p.get(1..).unwrap_or_default();
    match f {
        0xf0 => match (be_u8, be_u16, be_u16, be_u16).parse(rest) as R<'_, (u8, u16, u16, u16)> {
            Ok((_, (_, amq_calling, amq_called, pdu_size))) => Param::Setup {
                amq_calling,
                amq_called,
                pdu_size,
            },
            Err(_) => {
                flags.insert(Flags::TRUNCATED);
                Param::Raw(rest)
            }
        },
        0x04 | 0x05 if rosctr == 1 => {
            let Some((&count, mut i)) = rest.split_first() else {
                flags.insert(Flags::TRUNCATED);
                return Param::Raw(rest);
            };
            let mut items = Vec::with_capacity(usize::from(count).min(i.len() / 4 + 1));
            for _ in 0..count {
                match var_item(i) {
                    Ok((r, item)) => {
                        items.push(item);
                        i = r;
                    }
                    Err(_) => {
                        flags.insert(Flags::BAD_ITEM);
                        break;
                    }
                }
            }
            if !i.is_empty() {
                flags.insert(Flags::TRAILING_BYTES);
            }
            Param::Vars(items)
        }
        0x04 | 0x05 => Param::ItemCount(rest.first().copied().unwrap_or(0)),
        0x1a..=0x1f => Param::Block(block_param(f, rosctr, rest)),
        // PI service: unknown 7 octets | parameter block (length u16 + octets) | service (len u8 + name)
        0x28 if rosctr == 1 => {
            let r: R<'_, (&[u8], &[u8])> = (|i| {
                let (i, _) = take(7usize)(i)?;
                let (i, n) = be_u16(i)?;
                let (i, params) = take(usize::from(n))(i)?;
                let (i, service) = pstring(i)?;
                Ok((i, (params, service)))
            })(rest);
            match r {
                Ok((_, (params, service))) => Param::PiService { service, params },
                Err(_) => {
                    flags.insert(Flags::TRUNCATED);
                    Param::Raw(rest)
                }
            }
        }
        // PLC stop: unknown 5 octets | service (len u8 + name)
        0x29 if rosctr == 1 => match rest.get(5..).map(pstring) {
            Some(Ok((_, service))) => Param::PlcStop { service },
            _ => {
                flags.insert(Flags::TRUNCATED);
                Param::Raw(rest)
            }
        },
        _ => Param::Raw(rest),
    }
}

// Userdata parameter: head 0x00 0x01 0x12 | length u8 (4 or 8) | method u8 | type/group u8 |
//   subfunction u8 | sequence u8 | [data unit reference u8 | last data unit u8 | error u16]
// Userdata data: return code u8 | transport size u8 | length u16 | data
fn userdata<'a>(
    p: &'a [u8],
    d: &'a [u8],
    flags: &mut Flags,
) -> (Option<UserdataHead>, Vec<DataItem<'a>>) {
    let f = |k: usize| p.get(k).copied();
    if p.get(..3) != Some(&[0x00, 0x01, 0x12][..]) {
        flags.insert(Flags::BAD_USERDATA_HEAD);
    }
    let (Some(len), Some(method), Some(tg), Some(sub), Some(seq)) = (f(3), f(4), f(5), f(6), f(7))
    else {
        flags.insert(Flags::TRUNCATED);
        return (None, Vec::new());
    };
    let mut head = UserdataHead {
        method,
        kind: tg >> 4,
        group: tg & 0x0f,
        subfunction: sub,
        seq,
        error: None,
        last_data_unit: None,
    };
    if len >= 8 {
        head.last_data_unit = f(9);
        if let (Some(a), Some(b)) = (f(10), f(11)) {
            head.error = Some(u16::from_be_bytes([a, b]));
        }
    }
    if head.group == 0x5 && head.subfunction == 0x01 && head.kind == 4 {
        flags.insert(Flags::PASSWORD_SENT);
    }
    let items = if d.is_empty() {
        Vec::new()
    } else {
        data_items(d, 1, flags)
    };
    (Some(head), items)
}

/// Parses an S7comm PDU (starting with 0x32).
pub fn parse_s7(pdu: &[u8]) -> Option<S7Pdu<'_>> {
    if pdu.first() != Some(&S7_PROTOCOL_ID) {
        return None;
    }
    let mut flags = Flags::default();
    let Ok((rest, h)) = header(pdu) else {
        return Some(S7Pdu {
            header: Header {
                rosctr: pdu.get(1).copied().unwrap_or(0),
                redundancy: 0,
                pdu_ref: 0,
                param_len: 0,
                data_len: 0,
                error: None,
            },
            function: None,
            param: Param::Raw(pdu),
            userdata: None,
            items: Vec::new(),
            data: &[],
            flags: Flags::TRUNCATED,
        });
    };
    if codes::rosctr_name(h.rosctr).is_none() {
        flags.insert(Flags::UNKNOWN_ROSCTR);
    }
    if h.error.is_some_and(|(c, e)| c != 0 || e != 0) {
        flags.insert(Flags::ERROR_REPORTED);
    }
    let pl = usize::from(h.param_len);
    let dl = usize::from(h.data_len);
    if rest.len() < pl + dl {
        flags.insert(Flags::TRUNCATED);
    } else if rest.len() > pl + dl {
        flags.insert(Flags::TRAILING_BYTES);
    }
    let p = rest.get(..pl.min(rest.len())).unwrap_or_default();
    let d = rest
        .get(pl.min(rest.len())..(pl + dl).min(rest.len()))
        .unwrap_or_default();
    let mut out = S7Pdu {
        header: h,
        function: None,
        param: Param::Raw(p),
        userdata: None,
        items: Vec::new(),
        data: d,
        flags,
    };
    match h.rosctr {
        1 | 3 => {
            if let Some(&f) = p.first() {
                out.function = Some(f);
                if codes::function_name(f).is_none() {
                    out.flags.insert(Flags::UNKNOWN_FUNCTION);
                }
                out.param = job_param(f, h.rosctr, p, &mut out.flags);
                let count = match (&out.param, f, h.rosctr) {
                    (Param::ItemCount(n), 0x04, 3) => usize::from(*n),
                    (Param::Vars(v), 0x05, 1) => v.len(),
                    _ => 0,
                };
                if count > 0 {
                    out.items = data_items(d, count, &mut out.flags);
                }
            }
        }
        7 => {
            let (head, items) = userdata(p, d, &mut out.flags);
            out.userdata = head;
            out.items = items;
        }
        _ => {}
    }
    Some(out)
}

impl S7Pdu<'_> {
    /// What the PDU does (userdata by group and subfunction, PI services by name).
    pub fn operation(&self) -> crate::Operation {
        if let Some(u) = &self.userdata {
            return codes::userdata_operation(u.group, u.subfunction);
        }
        match (&self.param, self.function) {
            (Param::PiService { service, .. }, _) => codes::pi_operation(service),
            (_, Some(f)) => codes::function_operation(f),
            _ => crate::Operation::Session,
        }
    }
}
