//! EtherNet/IP encapsulation and CIP parsers (nom): the 24-byte encapsulation header, the
//! common packet format, CIP requests and responses with their EPATH, Multiple Service
//! Packet and Unconnected Send bodies, Forward Open/Close, and the identity object.
//! Little-endian throughout (ODVA Vol. 1 and Vol. 2).

use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u32, le_u64, u8 as byte};
use nom::IResult;

use super::codes::{class, service};

/// Length of the encapsulation header.
pub const HEADER_LEN: usize = 24;
/// Most data an encapsulation message carries (65535 less the header).
pub const MAX_DATA_LEN: u16 = 65_511;

/// Out-of-spec conditions found in a message (a bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(u32);

impl Flags {
    /// The message is shorter than its fields require.
    pub const TRUNCATED: Flags = Flags(1 << 0);
    /// Bytes follow the last field.
    pub const TRAILING_BYTES: Flags = Flags(1 << 1);
    /// An encapsulation command the specification does not define.
    pub const UNKNOWN_COMMAND: Flags = Flags(1 << 2);
    /// The encapsulation options field is not zero.
    pub const NONZERO_OPTIONS: Flags = Flags(1 << 3);
    /// A CIP service code no table names.
    pub const UNKNOWN_SERVICE: Flags = Flags(1 << 4);
    /// An EPATH segment that could not be decoded.
    pub const BAD_PATH: Flags = Flags(1 << 5);
    /// A response with no outstanding request (also normal after midstream pickup).
    pub const UNPAIRED_RESPONSE: Flags = Flags(1 << 6);
    /// A response whose service differs from its request's.
    pub const RESPONSE_MISMATCH: Flags = Flags(1 << 7);
    /// A request beyond the cap on outstanding requests (oldest dropped).
    pub const REQUEST_FLOOD: Flags = Flags(1 << 8);
    /// Multiple Service Packet offsets outside the packet or out of order.
    pub const BAD_OFFSETS: Flags = Flags(1 << 9);
    /// A non-zero encapsulation status on a request.
    pub const STATUS_ON_REQUEST: Flags = Flags(1 << 10);

    pub(crate) const NAMES: [(Flags, &'static str); 11] = [
        (Flags::TRUNCATED, "truncated"),
        (Flags::TRAILING_BYTES, "trailing_bytes"),
        (Flags::UNKNOWN_COMMAND, "unknown_function"),
        (Flags::NONZERO_OPTIONS, "nonzero_options"),
        (Flags::UNKNOWN_SERVICE, "unassigned_function"),
        (Flags::BAD_PATH, "bad_path"),
        (Flags::UNPAIRED_RESPONSE, "unpaired_response"),
        (Flags::RESPONSE_MISMATCH, "response_mismatch"),
        (Flags::REQUEST_FLOOD, "request_flood"),
        (Flags::BAD_OFFSETS, "bad_offsets"),
        (Flags::STATUS_ON_REQUEST, "status_on_request"),
    ];
}

flag_set!(Flags);

/// The encapsulation header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Command.
    pub command: u16,
    /// Length of the data after the header.
    pub length: u16,
    /// Session handle (0 before RegisterSession).
    pub session: u32,
    /// Status (0 on requests; an error code on failed replies).
    pub status: u32,
    /// Sender context, echoed by the target.
    pub context: u64,
    /// Options (must be 0).
    pub options: u32,
}

/// Parses the encapsulation header.
pub fn header(i: &[u8]) -> IResult<&[u8], Header> {
    let (i, command) = le_u16(i)?;
    let (i, length) = le_u16(i)?;
    let (i, session) = le_u32(i)?;
    let (i, status) = le_u32(i)?;
    let (i, context) = le_u64(i)?;
    let (i, options) = le_u32(i)?;
    Ok((
        i,
        Header {
            command,
            length,
            session,
            status,
            context,
            options,
        },
    ))
}

/// Why bytes do not frame as an encapsulation message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A command outside the range any encapsulation command uses.
    BadCommand(u16),
    /// The length exceeds what a message may carry.
    BadLength(u16),
}

impl FrameError {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameError::BadCommand(_) => "bad_command",
            FrameError::BadLength(_) => "bad_length",
        }
    }
}

/// A framed encapsulation message: its length on the wire, header and data.
pub type Framed<'a> = (usize, Header, &'a [u8]);

/// Frames one encapsulation message: `Ok(Some((len, header, data)))`, `Ok(None)` when more
/// bytes are needed, or why the bytes are not a message.
pub fn frame(input: &[u8]) -> Result<Option<Framed<'_>>, FrameError> {
    let Ok((rest, h)) = header(input) else {
        // Fewer than 24 bytes: judge what is there.
        if let Some(&[c0, c1]) = input.get(..2) {
            let c = u16::from_le_bytes([c0, c1]);
            if c > 0x00FF {
                return Err(FrameError::BadCommand(c));
            }
        }
        return Ok(None);
    };
    if h.command > 0x00FF {
        return Err(FrameError::BadCommand(h.command));
    }
    if h.length > MAX_DATA_LEN {
        return Err(FrameError::BadLength(h.length));
    }
    match rest.get(..usize::from(h.length)) {
        Some(data) => Ok(Some((HEADER_LEN + usize::from(h.length), h, data))),
        None => Ok(None),
    }
}

/// True when an encapsulation header of a defined command starts at `b`, with a sane length
/// and zero options (to resynchronise, and to probe).
pub fn plausible_header(b: &[u8]) -> bool {
    let Ok((_, h)) = header(b) else {
        return false;
    };
    super::codes::command_name(h.command).is_some() && h.length <= MAX_DATA_LEN && h.options == 0
}

/// One common packet format item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    /// Type id.
    pub type_id: u16,
    /// Data.
    pub data: &'a [u8],
}

/// Parses a common packet format: item count and items. Returns the items and flags for a
/// truncated list.
pub fn cpf(i: &[u8]) -> (Vec<Item<'_>>, Flags) {
    let mut flags = Flags::default();
    let Ok((mut i, count)) = le_u16::<_, nom::error::Error<&[u8]>>(i) else {
        return (Vec::new(), Flags::TRUNCATED);
    };
    let mut items = Vec::with_capacity(usize::from(count).min(8));
    for _ in 0..count {
        match cpf_item(i) {
            Ok((rest, (type_id, data))) => {
                items.push(Item { type_id, data });
                i = rest;
            }
            Err(_) => {
                flags.insert(Flags::TRUNCATED);
                return (items, flags);
            }
        }
    }
    if !i.is_empty() {
        flags.insert(Flags::TRAILING_BYTES);
    }
    (items, flags)
}

fn cpf_item(i: &[u8]) -> IResult<&[u8], (u16, &[u8])> {
    let (i, type_id) = le_u16(i)?;
    let (i, len) = le_u16(i)?;
    let (i, data) = take(len)(i)?;
    Ok((i, (type_id, data)))
}

/// Where a CIP request is addressed: the EPATH decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path {
    /// Class id (the last one, when a path names several).
    pub class: Option<u32>,
    /// Instance id.
    pub instance: Option<u32>,
    /// Attribute id.
    pub attribute: Option<u32>,
    /// Member id (for a symbolic tag: the array element).
    pub member: Option<u32>,
    /// Connection point.
    pub connection_point: Option<u32>,
    /// Symbolic segments (Logix tag names), joined with `.`; element indices in brackets.
    pub tag: Option<String>,
    /// Port segments (routing): port and link address.
    pub ports: Vec<(u16, u32)>,
    /// A segment could not be decoded (the rest of the path was skipped).
    pub bad: bool,
}

/// Decodes an EPATH (padded format).
pub fn epath(mut b: &[u8]) -> Path {
    let mut p = Path::default();
    while let Some((&seg, rest)) = b.split_first() {
        let next = match seg & 0xE0 {
            0x20 => logical(seg, rest, &mut p),
            0x00 => port_segment(seg, rest, &mut p),
            0x60 if seg == 0x6D || seg == 0x60 => None,
            0x80 if seg == 0x91 => symbolic(rest, &mut p),
            0x80 if seg == 0x80 => {
                // Simple data segment: a word count and that many words.
                rest.split_first()
                    .and_then(|(&n, r)| r.get(usize::from(n) * 2..))
            }
            0x40 => {
                // Network segment: one data byte, or a length-prefixed extension.
                if seg == 0x5F {
                    rest.split_first()
                        .and_then(|(&n, r)| r.get(usize::from(n) * 2..))
                } else {
                    rest.get(1..)
                }
            }
            _ => None,
        };
        match next {
            Some(r) => b = r,
            None => {
                p.bad = true;
                break;
            }
        }
    }
    p
}

fn logical<'a>(seg: u8, rest: &'a [u8], p: &mut Path) -> Option<&'a [u8]> {
    let (value, rest) = match seg & 0x03 {
        0 => {
            let (&v, r) = rest.split_first()?;
            (u32::from(v), r)
        }
        1 => {
            let b = rest.get(1..3)?;
            (
                u32::from(u16::from_le_bytes([*b.first()?, *b.get(1)?])),
                rest.get(3..)?,
            )
        }
        2 => {
            let b = rest.get(1..5)?;
            let v = u32::from_le_bytes([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?]);
            (v, rest.get(5..)?)
        }
        _ => return None,
    };
    match (seg >> 2) & 0x07 {
        0 => {
            p.class = Some(value);
            // A new object: what followed the previous class no longer applies.
            p.instance = None;
            p.attribute = None;
        }
        1 => p.instance = Some(value),
        2 => {
            p.member = Some(value);
            if let Some(t) = p.tag.as_mut() {
                t.push_str(&format!("[{value}]"));
            }
        }
        3 => p.connection_point = Some(value),
        4 => p.attribute = Some(value),
        // Special (electronic key) and service id segments: an electronic key carries 6
        // more bytes after its format byte.
        5 if seg == 0x34 => return rest.get(6..),
        _ => {}
    }
    Some(rest)
}

fn port_segment<'a>(seg: u8, rest: &'a [u8], p: &mut Path) -> Option<&'a [u8]> {
    let extended = seg & 0x10 != 0;
    let mut port = u16::from(seg & 0x0F);
    let (len, mut r) = if extended {
        let (&n, r) = rest.split_first()?;
        (usize::from(n), r)
    } else {
        (1, rest)
    };
    if port == 0x0F {
        let b = r.get(..2)?;
        port = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
        r = r.get(2..)?;
    }
    let addr = r.get(..len)?;
    let link = if len == 1 {
        u32::from(*addr.first()?)
    } else {
        // A textual link address (an IP address as text): not kept as a number.
        0
    };
    p.ports.push((port, link));
    let used = len + usize::from(extended && len % 2 == 1);
    r.get(used..).or(Some(&[]))
}

fn symbolic<'a>(rest: &'a [u8], p: &mut Path) -> Option<&'a [u8]> {
    let (&n, r) = rest.split_first()?;
    let name = r.get(..usize::from(n))?;
    let name = String::from_utf8_lossy(name);
    match p.tag.as_mut() {
        Some(t) => {
            t.push('.');
            t.push_str(&name);
        }
        None => p.tag = Some(name.into_owned()),
    }
    r.get(usize::from(n) + usize::from(n % 2 == 1)..)
        .or(Some(&[]))
}

/// A CIP message: a request, or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cip<'a> {
    /// A request.
    Request {
        /// Service code.
        service: u8,
        /// Where it is addressed.
        path: Path,
        /// Request data.
        data: &'a [u8],
    },
    /// A response.
    Response {
        /// Service code, without the response bit.
        service: u8,
        /// General status.
        status: u8,
        /// Additional (extended) status words.
        extended: Vec<u16>,
        /// Response data.
        data: &'a [u8],
    },
}

impl Cip<'_> {
    /// Service code, without the response bit.
    pub fn service(&self) -> u8 {
        match self {
            Cip::Request { service, .. } | Cip::Response { service, .. } => *service,
        }
    }
}

/// Parses one CIP message.
pub fn cip(i: &[u8]) -> Result<Cip<'_>, Flags> {
    cip_fields(i).map(|(_, c)| c).map_err(|_| Flags::TRUNCATED)
}

fn cip_fields(i: &[u8]) -> IResult<&[u8], Cip<'_>> {
    let (i, sc) = byte(i)?;
    if sc & 0x80 == 0 {
        let (i, words) = byte(i)?;
        let (i, path) = take(usize::from(words) * 2)(i)?;
        Ok((
            &[][..],
            Cip::Request {
                service: sc,
                path: epath(path),
                data: i,
            },
        ))
    } else {
        let (i, _reserved) = byte(i)?;
        let (i, status) = byte(i)?;
        let (i, words) = byte(i)?;
        let mut extended = Vec::with_capacity(usize::from(words).min(4));
        let mut i = i;
        for _ in 0..words {
            let (r, w) = le_u16(i)?;
            extended.push(w);
            i = r;
        }
        Ok((
            &[][..],
            Cip::Response {
                service: sc & 0x7F,
                status,
                extended,
                data: i,
            },
        ))
    }
}

/// The embedded messages of a Multiple Service Packet (request or response data): count,
/// offsets from the start of the data, messages.
pub fn multiple_service(data: &[u8]) -> (Vec<&[u8]>, Flags) {
    let Ok((rest, count)) = le_u16::<_, nom::error::Error<&[u8]>>(data) else {
        return (Vec::new(), Flags::TRUNCATED);
    };
    let mut offsets = Vec::with_capacity(usize::from(count).min(64));
    let mut r = rest;
    for _ in 0..count {
        match le_u16::<_, nom::error::Error<&[u8]>>(r) {
            Ok((rr, o)) => {
                offsets.push(usize::from(o));
                r = rr;
            }
            Err(_) => return (Vec::new(), Flags::TRUNCATED),
        }
    }
    let mut out = Vec::with_capacity(offsets.len());
    let mut flags = Flags::default();
    for (k, &start) in offsets.iter().enumerate() {
        let end = offsets.get(k + 1).copied().unwrap_or(data.len());
        match data.get(start..end) {
            Some(m) if !m.is_empty() => out.push(m),
            _ => flags.insert(Flags::BAD_OFFSETS),
        }
    }
    (out, flags)
}

/// An Unconnected Send request's embedded message and route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnconnectedSend<'a> {
    /// The embedded request.
    pub message: &'a [u8],
    /// The route path (ports and links).
    pub route: Path,
}

/// Parses Unconnected Send request data.
pub fn unconnected_send(data: &[u8]) -> Option<UnconnectedSend<'_>> {
    unconnected_send_fields(data).ok().map(|(_, u)| u)
}

fn unconnected_send_fields(i: &[u8]) -> IResult<&[u8], UnconnectedSend<'_>> {
    let (i, _priority) = byte(i)?;
    let (i, _ticks) = byte(i)?;
    let (i, size) = le_u16(i)?;
    let (i, message) = take(size)(i)?;
    let (i, _pad) = take(size % 2)(i)?;
    let (i, words) = byte(i)?;
    let (i, _reserved) = byte(i)?;
    let (i, route) = take(usize::from(words) * 2)(i)?;
    Ok((
        i,
        UnconnectedSend {
            message,
            route: epath(route),
        },
    ))
}

/// What a Forward Open (request or reply) or Forward Close says about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Connection {
    /// Originator-to-target connection id.
    pub o_t_id: Option<u32>,
    /// Target-to-originator connection id.
    pub t_o_id: Option<u32>,
    /// Connection serial number.
    pub serial: u16,
    /// Originator vendor id.
    pub vendor: u16,
    /// Originator serial number.
    pub originator_serial: u32,
    /// Requested packet intervals (µs), O→T and T→O (Forward Open requests).
    pub rpi_us: Option<(u32, u32)>,
    /// Transport class and trigger (Forward Open requests).
    pub transport: Option<u8>,
}

/// Parses a Forward Open (`large`: Large Forward Open) request.
pub fn forward_open_request(data: &[u8], large: bool) -> Option<Connection> {
    forward_open_request_fields(data, large)
        .ok()
        .map(|(_, c)| c)
}

fn forward_open_request_fields(i: &[u8], large: bool) -> IResult<&[u8], Connection> {
    let (i, _priority) = byte(i)?;
    let (i, _ticks) = byte(i)?;
    let (i, o_t) = le_u32(i)?;
    let (i, t_o) = le_u32(i)?;
    let (i, serial) = le_u16(i)?;
    let (i, vendor) = le_u16(i)?;
    let (i, originator_serial) = le_u32(i)?;
    let (i, _mult) = byte(i)?;
    let (i, _reserved) = take(3usize)(i)?;
    let (i, o_t_rpi) = le_u32(i)?;
    let (i, _) = take(if large { 4usize } else { 2 })(i)?;
    let (i, t_o_rpi) = le_u32(i)?;
    let (i, _) = take(if large { 4usize } else { 2 })(i)?;
    let (i, transport) = byte(i)?;
    Ok((
        i,
        Connection {
            o_t_id: Some(o_t),
            t_o_id: Some(t_o),
            serial,
            vendor,
            originator_serial,
            rpi_us: Some((o_t_rpi, t_o_rpi)),
            transport: Some(transport),
        },
    ))
}

/// Parses a successful Forward Open reply.
pub fn forward_open_reply(data: &[u8]) -> Option<Connection> {
    forward_open_reply_fields(data).ok().map(|(_, c)| c)
}

fn forward_open_reply_fields(i: &[u8]) -> IResult<&[u8], Connection> {
    let (i, o_t) = le_u32(i)?;
    let (i, t_o) = le_u32(i)?;
    let (i, serial) = le_u16(i)?;
    let (i, vendor) = le_u16(i)?;
    let (i, originator_serial) = le_u32(i)?;
    Ok((
        i,
        Connection {
            o_t_id: Some(o_t),
            t_o_id: Some(t_o),
            serial,
            vendor,
            originator_serial,
            rpi_us: None,
            transport: None,
        },
    ))
}

/// A Logix data type code: a structure's is followed by its 16-bit structure handle.
const STRUCTURE: u16 = 0x02A0;

/// Bytes of one element of a Logix atomic data type (`None` for a structure or a type this
/// table does not hold).
pub fn logix_type_size(code: u16) -> Option<u32> {
    match code {
        0xC1 | 0xC2 | 0xC6 => Some(1),        // BOOL, SINT, USINT
        0xC3 | 0xC7 => Some(2),               // INT, UINT
        0xC4 | 0xC8 | 0xCA | 0xD3 => Some(4), // DINT, UDINT, REAL, DWORD (BOOL array)
        0xC5 | 0xC9 | 0xCB => Some(8),        // LINT, ULINT, LREAL
        _ => None,
    }
}

/// A data type field: the type code, and the bytes it took (4 for a structure, with its
/// handle).
fn data_type(i: &[u8]) -> IResult<&[u8], u16> {
    let (i, t) = le_u16(i)?;
    let (i, _) = take(if t == STRUCTURE { 2usize } else { 0 })(i)?;
    Ok((i, t))
}

/// One fragment of a Logix Read_Tag_Fragmented (0x52) or Write_Tag_Fragmented (0x53)
/// transfer, as its request shows it (Logix5000 Data Access, 1756-PM020).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentRequest {
    /// Elements of the whole transfer.
    pub elements: u16,
    /// Byte offset of this fragment in the tag's data.
    pub offset: u32,
    /// Bytes written (a write's data; 0 for a read, whose reply carries them).
    pub bytes: u32,
    /// A write's data type.
    pub data_type: Option<u16>,
}

/// Parses the data of a fragmented tag request (`write`: Write_Tag_Fragmented).
pub fn fragment_request(data: &[u8], write: bool) -> Option<FragmentRequest> {
    let fields = |i| -> IResult<&[u8], FragmentRequest> {
        let (i, t) = if write {
            let (i, t) = data_type(i)?;
            (i, Some(t))
        } else {
            (i, None)
        };
        let (i, elements) = le_u16(i)?;
        let (i, offset) = le_u32(i)?;
        Ok((
            &[],
            FragmentRequest {
                elements,
                offset,
                bytes: if write {
                    u32::try_from(i.len()).unwrap_or(u32::MAX)
                } else {
                    0
                },
                data_type: t,
            },
        ))
    };
    fields(data).ok().map(|(_, r)| r)
}

/// The data bytes a Read_Tag(_Fragmented) reply carries after its data type.
pub fn read_reply_bytes(data: &[u8]) -> Option<u32> {
    let (rest, _) = data_type(data).ok()?;
    u32::try_from(rest.len()).ok()
}

/// Parses a Forward Close request (or reply: the same leading fields after priority).
pub fn forward_close(data: &[u8], request: bool) -> Option<Connection> {
    forward_close_fields(data, request).ok().map(|(_, c)| c)
}

fn forward_close_fields(i: &[u8], request: bool) -> IResult<&[u8], Connection> {
    let i = if request { take(2usize)(i)?.0 } else { i };
    let (i, serial) = le_u16(i)?;
    let (i, vendor) = le_u16(i)?;
    let (i, originator_serial) = le_u32(i)?;
    Ok((
        i,
        Connection {
            serial,
            vendor,
            originator_serial,
            ..Connection::default()
        },
    ))
}

/// The identity object's instance attributes 1–7 (Get_Attributes_All reply on class 1, or
/// the tail of a ListIdentity item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Vendor id.
    pub vendor: u16,
    /// Device type.
    pub device_type: u16,
    /// Product code.
    pub product_code: u16,
    /// Revision, major and minor.
    pub revision: (u8, u8),
    /// Status word.
    pub status: u16,
    /// Serial number.
    pub serial: u32,
    /// Product name.
    pub product_name: String,
}

/// Parses identity attributes 1–7.
pub fn identity(i: &[u8]) -> Option<Identity> {
    identity_fields(i).ok().map(|(_, id)| id)
}

fn identity_fields(i: &[u8]) -> IResult<&[u8], Identity> {
    let (i, vendor) = le_u16(i)?;
    let (i, device_type) = le_u16(i)?;
    let (i, product_code) = le_u16(i)?;
    let (i, major) = byte(i)?;
    let (i, minor) = byte(i)?;
    let (i, status) = le_u16(i)?;
    let (i, serial) = le_u32(i)?;
    let (i, n) = byte(i)?;
    let (i, name) = take(n)(i)?;
    Ok((
        i,
        Identity {
            vendor,
            device_type,
            product_code,
            revision: (major, minor),
            status,
            serial,
            product_name: String::from_utf8_lossy(name).trim().to_string(),
        },
    ))
}

/// Parses a ListIdentity CIP identity item: protocol version, socket address, then the
/// identity attributes (and a state byte).
pub fn list_identity_item(i: &[u8]) -> Option<Identity> {
    identity(i.get(18..)?)
}

/// The request is a Connection Manager service (class 6), so its 0x4E and 0x52 are Forward
/// Close and Unconnected Send rather than Logix tag services.
pub fn is_connection_manager(path: &Path) -> bool {
    path.class == Some(class::CONNECTION_MANAGER)
}

/// The service is Unconnected Send to the Connection Manager.
pub fn is_unconnected_send(sc: u8, path: &Path) -> bool {
    sc == service::UNCONNECTED_SEND && is_connection_manager(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epath_logical_symbolic_and_port_segments() {
        // class 0x6b, instance 0x1234 (16-bit), attribute 2
        let p = epath(&[0x20, 0x6B, 0x25, 0x00, 0x34, 0x12, 0x30, 0x02]);
        assert_eq!(
            (p.class, p.instance, p.attribute, p.bad),
            (Some(0x6B), Some(0x1234), Some(2), false)
        );
        // "Tag.Sub[3]": two symbolic segments (odd length padded) and a member
        let mut b = vec![
            0x91, 3, b'T', b'a', b'g', 0, 0x91, 3, b'S', b'u', b'b', 0, 0x28, 3,
        ];
        let p = epath(&b);
        assert_eq!(p.tag.as_deref(), Some("Tag.Sub[3]"));
        // port 1, link 0 (backplane, slot 0), then class 2 instance 1
        b = vec![0x01, 0x00, 0x20, 0x02, 0x24, 0x01];
        let p = epath(&b);
        assert_eq!(
            (p.ports.clone(), p.class, p.instance),
            (vec![(1, 0)], Some(2), Some(1))
        );
        // truncated 32-bit segment
        assert!(epath(&[0x22, 0x00, 0x01]).bad);
    }

    #[test]
    fn cip_request_and_response() {
        let r = cip(&[0x4C, 0x03, 0x91, 0x03, b'a', b'b', b'c', 0x00, 0x01, 0x00]).expect("parses");
        match r {
            Cip::Request {
                service,
                path,
                data,
            } => {
                assert_eq!(
                    (service, path.tag.as_deref(), data),
                    (0x4C, Some("abc"), &[1u8, 0][..])
                );
            }
            Cip::Response { .. } => panic!("a request"),
        }
        let r = cip(&[0xCC, 0x00, 0x1E, 0x01, 0x34, 0x12, 0xC4, 0x00]).expect("parses");
        assert_eq!(
            r,
            Cip::Response {
                service: 0x4C,
                status: 0x1E,
                extended: vec![0x1234],
                data: &[0xC4, 0x00]
            }
        );
        assert_eq!(cip(&[0x4C, 0x05, 0x91]), Err(Flags::TRUNCATED));
    }

    #[test]
    fn multiple_service_packet_and_unconnected_send() {
        // two services: Get_Attribute_Single class 1 inst 1 attr 7; Get_Attributes_All class 1 inst 1
        let data = [
            2, 0, 6, 0, 14, 0, 0x0E, 3, 0x20, 1, 0x24, 1, 0x30, 7, 0x01, 2, 0x20, 1, 0x24, 1,
        ];
        let (msgs, flags) = multiple_service(&data);
        assert!(flags.is_empty());
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs.first().map(|m| m.first()), Some(Some(&0x0E)));
        let (_, flags) = multiple_service(&[2, 0, 6, 0, 40, 0, 0x0E]);
        assert!(flags.contains(Flags::BAD_OFFSETS));
        // Unconnected Send of a 6-byte Get_Attributes_All, route port 1 slot 0
        let us = [
            0x0A, 0xF0, 6, 0, 0x01, 2, 0x20, 1, 0x24, 1, 1, 0, 0x01, 0x00,
        ];
        let u = unconnected_send(&us).expect("parses");
        assert_eq!(u.message, &[0x01, 2, 0x20, 1, 0x24, 1]);
        assert_eq!(u.route.ports, vec![(1, 0)]);
    }

    #[test]
    fn framing_and_identity() {
        let mut m = vec![0x63, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        m.extend([0u8; 12]);
        assert_eq!(
            frame(&m).map(|f| f.map(|(l, h, _)| (l, h.command))),
            Ok(Some((24, 0x63)))
        );
        assert!(plausible_header(&m));
        assert_eq!(frame(&m[..10]), Ok(None));
        assert_eq!(
            frame(b"GET / HTTP/1.1\r\n"),
            Err(FrameError::BadCommand(0x4547))
        );
        let id = [
            1, 0, 12, 0, 58, 0, 4, 3, 0x30, 0, 0x8e, 0x4d, 0x52, 0, 11, b'1', b'7', b'5', b'6',
            b'-', b'E', b'N', b'B', b'T', b'/', b'A',
        ];
        let id = identity(&id).expect("parses");
        assert_eq!(
            (
                id.vendor,
                id.device_type,
                id.product_code,
                id.revision,
                id.serial
            ),
            (1, 12, 58, (4, 3), 0x524d8e)
        );
        assert_eq!(id.product_name, "1756-ENBT/A");
    }

    #[test]
    fn fragmented_tag_requests_and_replies() {
        // Read_Tag_Fragmented: 300 elements from byte 480.
        let read = [0x2C, 0x01, 0xE0, 0x01, 0x00, 0x00];
        assert_eq!(
            fragment_request(&read, false),
            Some(FragmentRequest {
                elements: 300,
                offset: 480,
                bytes: 0,
                data_type: None
            })
        );
        // Write_Tag_Fragmented of a structure (type 0x02A0, handle 0x1234): 2 elements from
        // byte 8, 4 bytes of data.
        let write = [
            0xA0, 0x02, 0x34, 0x12, 0x02, 0x00, 0x08, 0, 0, 0, 1, 2, 3, 4,
        ];
        assert_eq!(
            fragment_request(&write, true),
            Some(FragmentRequest {
                elements: 2,
                offset: 8,
                bytes: 4,
                data_type: Some(0x02A0)
            })
        );
        assert_eq!(logix_type_size(0x02A0), None);
        assert_eq!(logix_type_size(0xCA), Some(4));
        // Truncated: no offset.
        assert_eq!(fragment_request(&read[..4], false), None);
        // A reply's data after its type (DINT) or structure type and handle.
        assert_eq!(read_reply_bytes(&[0xC4, 0x00, 1, 2, 3, 4]), Some(4));
        assert_eq!(read_reply_bytes(&[0xA0, 0x02, 0x34, 0x12, 1, 2]), Some(2));
        assert_eq!(read_reply_bytes(&[0xA0, 0x02, 0x34]), None);
    }
}
