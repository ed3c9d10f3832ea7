//! DNP3 parsers: the link-layer frame (FT3 with CRCs), the transport header, and the
//! application fragment down to object headers and points.
//!
//! Link frames are framed strictly (start bytes, length ≥ 5, header CRC) because that decides
//! where the next frame starts. The application layer never fails: what is out of
//! specification becomes [`Flags`] on the fragment.

use nom::number::complete::{le_u16, le_u32, u8 as be_u8};
use nom::{IResult, Parser};

use super::codes;
use super::objects::{decode_point, object_size, ObjSize, Point, Value};

/// Link start octets.
pub const START: [u8; 2] = [0x05, 0x64];
/// Link header: start (2), length, control, destination (2), source (2), CRC (2).
pub const LINK_HEADER_LEN: usize = 10;
/// Smallest length field: control, destination and source.
pub const MIN_LINK_LENGTH: u8 = 5;
/// User data octets per CRC block.
pub const BLOCK: usize = 16;
/// Largest link frame: 10 + 250 data octets + 16 block CRCs.
pub const MAX_FRAME_LEN: usize = 292;

// Built at compile time: an index past the end would fail the build, not a packet.
#[allow(clippy::indexing_slicing)]
const CRC_TABLE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u16;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xA6BC
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// DNP3 CRC-16 (polynomial 0x3D65, reflected, complemented), as stored little-endian.
pub fn crc(data: &[u8]) -> u16 {
    let mut c: u16 = 0;
    for &b in data {
        // The index is masked to 0..=255, the table's size.
        #[allow(clippy::indexing_slicing)]
        let t = CRC_TABLE[usize::from((c ^ u16::from(b)) & 0xff)];
        c = (c >> 8) ^ t;
    }
    !c
}

/// Whether `data` followed by the stored CRC `stored` checks. Under `cfg(fuzzing)` every CRC
/// checks, so that fuzzers reach the layers above without forging CRCs.
pub fn crc_ok(data: &[u8], stored: u16) -> bool {
    cfg!(fuzzing) || crc(data) == stored
}

/// Link-layer header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkHeader {
    /// Length field: octets from control through user data, without CRCs.
    pub length: u8,
    /// Control octet: DIR, PRM, FCB/FCV or DFC, function.
    pub control: u8,
    /// Destination address.
    pub destination: u16,
    /// Source address.
    pub source: u16,
}

impl LinkHeader {
    /// DIR: set on frames from the master.
    pub fn dir(&self) -> bool {
        self.control & 0x80 != 0
    }
    /// PRM: set on primary (initiating) frames.
    pub fn prm(&self) -> bool {
        self.control & 0x40 != 0
    }
    /// FCB (primary frames).
    pub fn fcb(&self) -> bool {
        self.prm() && self.control & 0x20 != 0
    }
    /// FCV (primary frames).
    pub fn fcv(&self) -> bool {
        self.prm() && self.control & 0x10 != 0
    }
    /// DFC (secondary frames).
    pub fn dfc(&self) -> bool {
        !self.prm() && self.control & 0x10 != 0
    }
    /// The 4-bit link function.
    pub fn function(&self) -> u8 {
        self.control & 0x0f
    }
    /// Octets of user data.
    pub fn data_len(&self) -> usize {
        usize::from(self.length.saturating_sub(MIN_LINK_LENGTH))
    }
    /// Octets on the wire of the whole frame.
    pub fn frame_len(&self) -> usize {
        let d = self.data_len();
        LINK_HEADER_LEN + d + 2 * d.div_ceil(BLOCK)
    }
    /// Whether this frame carries a transport segment.
    pub fn has_user_data(&self) -> bool {
        codes::link_has_user_data(self.prm(), self.function())
    }
}

/// Why bytes could not be framed as a link frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The two start octets are not 0x05 0x64.
    BadStart,
    /// The length field is below 5.
    LengthTooSmall(u8),
    /// The header CRC does not check (the length cannot be trusted); the fields as read.
    BadHeaderCrc(LinkHeader),
}

impl LinkError {
    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkError::BadStart => "bad_start",
            LinkError::LengthTooSmall(_) => "length_too_small",
            LinkError::BadHeaderCrc(_) => "bad_header_crc",
        }
    }
}

/// Result of framing: a frame, more bytes needed, or an error at this position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed {
    /// A complete frame of `len` octets; `bad_blocks` data blocks failed their CRC.
    Frame {
        /// The header.
        header: LinkHeader,
        /// Octets the frame occupies.
        len: usize,
        /// Data blocks whose CRC failed.
        bad_blocks: u8,
    },
    /// At least this many octets are needed.
    Incomplete(usize),
    /// Not a frame here.
    Error(LinkError),
}

// Link header, 10 octets:
//   start 0x05 0x64 @0 | length u8 @2 | control u8 @3 | destination u16le @4 | source u16le @6 |
//   CRC u16le @8 (over octets 0..8)
// then user data in blocks of up to 16 octets, each followed by a CRC u16le.
/// Frames one link frame at the start of `input`, copying its user data (CRCs removed) into
/// `data` (cleared first).
pub fn frame_link(input: &[u8], data: &mut Vec<u8>) -> Framed {
    data.clear();
    let Some(hdr) = input.get(..LINK_HEADER_LEN) else {
        if input.len() >= 2 && input.get(..2) != Some(&START[..]) {
            return Framed::Error(LinkError::BadStart);
        }
        return Framed::Incomplete(LINK_HEADER_LEN);
    };
    if hdr.get(..2) != Some(&START[..]) {
        return Framed::Error(LinkError::BadStart);
    }
    let field = |i: usize| hdr.get(i).copied().unwrap_or_default();
    let header = LinkHeader {
        length: field(2),
        control: field(3),
        destination: u16::from_le_bytes([field(4), field(5)]),
        source: u16::from_le_bytes([field(6), field(7)]),
    };
    let stored = u16::from_le_bytes([field(8), field(9)]);
    if !crc_ok(hdr.get(..8).unwrap_or_default(), stored) {
        return Framed::Error(LinkError::BadHeaderCrc(header));
    }
    if header.length < MIN_LINK_LENGTH {
        return Framed::Error(LinkError::LengthTooSmall(header.length));
    }
    let len = header.frame_len();
    let Some(body) = input.get(LINK_HEADER_LEN..len) else {
        return Framed::Incomplete(len);
    };
    let mut bad_blocks = 0u8;
    for block in body.chunks(BLOCK + 2) {
        let n = block.len().saturating_sub(2);
        let (d, c) = block.split_at(n);
        let stored = u16::from_le_bytes([
            c.first().copied().unwrap_or(0),
            c.get(1).copied().unwrap_or(0),
        ]);
        if !crc_ok(d, stored) {
            bad_blocks = bad_blocks.saturating_add(1);
        }
        data.extend_from_slice(d);
    }
    Framed::Frame {
        header,
        len,
        bad_blocks,
    }
}

/// The transport header octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportHeader {
    /// Final segment of a fragment.
    pub fin: bool,
    /// First segment of a fragment.
    pub fir: bool,
    /// Sequence number, 0..=63.
    pub seq: u8,
}

impl TransportHeader {
    /// From the octet.
    pub fn from_octet(b: u8) -> TransportHeader {
        TransportHeader {
            fin: b & 0x80 != 0,
            fir: b & 0x40 != 0,
            seq: b & 0x3f,
        }
    }
}

/// Application control octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AppControl {
    /// First fragment of a message.
    pub fir: bool,
    /// Final fragment of a message.
    pub fin: bool,
    /// Confirmation requested.
    pub con: bool,
    /// Unsolicited.
    pub uns: bool,
    /// Sequence number, 0..=15.
    pub seq: u8,
}

impl AppControl {
    /// From the octet.
    pub fn from_octet(b: u8) -> AppControl {
        AppControl {
            fir: b & 0x80 != 0,
            fin: b & 0x40 != 0,
            con: b & 0x20 != 0,
            uns: b & 0x10 != 0,
            seq: b & 0x0f,
        }
    }
}

/// Out-of-spec conditions in a link frame or an application fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(u32);

impl Flags {
    /// A data block failed its CRC (the frame's user data was discarded).
    pub const BAD_BLOCK_CRC: Flags = Flags(1 << 0);
    /// An unknown link function for the PRM bit.
    pub const UNKNOWN_LINK_FUNCTION: Flags = Flags(1 << 1);
    /// Transport segments were out of sequence; a partial fragment was discarded first.
    pub const OUT_OF_SEQUENCE: Flags = Flags(1 << 2);
    /// The reassembled fragment exceeded the size cap and was cut.
    pub const FRAGMENT_TOO_LONG: Flags = Flags(1 << 3);
    /// A function code IEEE 1815 does not define.
    pub const UNKNOWN_FUNCTION: Flags = Flags(1 << 4);
    /// An object group/variation whose size is unknown (the rest of the fragment is unparsed).
    pub const UNKNOWN_OBJECT: Flags = Flags(1 << 5);
    /// A reserved qualifier or range code.
    pub const BAD_QUALIFIER: Flags = Flags(1 << 6);
    /// A range whose stop is below its start.
    pub const INVALID_RANGE: Flags = Flags(1 << 7);
    /// Object data shorter than its header declares.
    pub const TRUNCATED: Flags = Flags(1 << 8);
    /// More object headers than the cap.
    pub const TOO_MANY_OBJECTS: Flags = Flags(1 << 9);
    /// More points than the cap (declared or decoded).
    pub const TOO_MANY_POINTS: Flags = Flags(1 << 10);
    /// A response with no outstanding request of that sequence number.
    pub const UNPAIRED_RESPONSE: Flags = Flags(1 << 11);
    /// Requests kept coming without responses beyond the cap.
    pub const REQUEST_FLOOD: Flags = Flags(1 << 12);
    /// The fragment is shorter than its application header.
    pub const FRAGMENT_TOO_SHORT: Flags = Flags(1 << 13);
    /// A response whose function does not fit its request (e.g. a confirm answered).
    pub const RESPONSE_MISMATCH: Flags = Flags(1 << 14);
    /// An OPERATE with no SELECT before it (none, or already operated).
    pub const OPERATE_WITHOUT_SELECT: Flags = Flags(1 << 15);
    /// An OPERATE whose objects differ from its SELECT's, or whose sequence number is not the
    /// next one (IEEE 1815 requires both).
    pub const OPERATE_DIFFERS_FROM_SELECT: Flags = Flags(1 << 16);

    pub(crate) const NAMES: [(Flags, &'static str); 17] = [
        (Flags::BAD_BLOCK_CRC, "bad_block_crc"),
        (Flags::UNKNOWN_LINK_FUNCTION, "unknown_link_function"),
        (Flags::OUT_OF_SEQUENCE, "out_of_sequence"),
        (Flags::FRAGMENT_TOO_LONG, "fragment_too_long"),
        (Flags::UNKNOWN_FUNCTION, "unknown_function"),
        (Flags::UNKNOWN_OBJECT, "unknown_object"),
        (Flags::BAD_QUALIFIER, "bad_qualifier"),
        (Flags::INVALID_RANGE, "invalid_range"),
        (Flags::TRUNCATED, "truncated"),
        (Flags::TOO_MANY_OBJECTS, "too_many_objects"),
        (Flags::TOO_MANY_POINTS, "too_many_points"),
        (Flags::UNPAIRED_RESPONSE, "unpaired_response"),
        (Flags::REQUEST_FLOOD, "request_flood"),
        (Flags::FRAGMENT_TOO_SHORT, "fragment_too_short"),
        (Flags::RESPONSE_MISMATCH, "response_mismatch"),
        (Flags::OPERATE_WITHOUT_SELECT, "operate_without_select"),
        (
            Flags::OPERATE_DIFFERS_FROM_SELECT,
            "operate_differs_from_select",
        ),
    ];
}

flag_set!(Flags);

/// The range field of an object header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    /// Start and stop indices (range codes 0–5).
    StartStop {
        /// First index.
        start: u32,
        /// Last index.
        stop: u32,
    },
    /// A count of objects (range codes 7–9, 0xB).
    Count {
        /// How many.
        count: u32,
    },
    /// No range: all objects (range code 6).
    All,
}

/// Caps on what one fragment may make the parser do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Most object headers parsed per fragment.
    pub max_objects: usize,
    /// Most points per fragment (declared); more sets [`Flags::TOO_MANY_POINTS`].
    pub max_points: u64,
    /// Most points decoded into values per fragment.
    pub max_decoded_points: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_objects: 1024,
            max_points: 16_384,
            max_decoded_points: 2048,
        }
    }
}

/// One object header with its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<'a> {
    /// Group.
    pub group: u8,
    /// Variation.
    pub variation: u8,
    /// Qualifier octet (prefix code in bits 4–6, range code in bits 0–3).
    pub qualifier: u8,
    /// The range field.
    pub range: Range,
    /// Number of objects the header describes.
    pub count: u32,
    /// Object data (with prefixes), empty for headers without data.
    pub data: &'a [u8],
    /// Decoded points (capped).
    pub points: Vec<Point<'a>>,
}

/// A parsed application fragment.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment<'a> {
    /// Application control.
    pub control: AppControl,
    /// Function code.
    pub function: u8,
    /// Internal indications (responses): IIN1 in the high byte.
    pub iin: Option<u16>,
    /// Object headers.
    pub objects: Vec<Object<'a>>,
    /// Everything out of spec.
    pub flags: Flags,
}

impl Fragment<'_> {
    /// True if the fragment carries Secure Authentication objects (group 120).
    pub fn has_authentication(&self) -> bool {
        self.objects.iter().any(|o| o.group == 120)
    }
}

/// Whether a request with this function carries object data (besides size-prefixed objects,
/// which always do).
fn request_carries_data(function: u8, group: u8) -> bool {
    match function {
        2..=6 => group != 60,
        11 | 12 => group == 50 || group == 51,
        25..=33 => true,
        _ => false,
    }
}

type R<'a, T> = IResult<&'a [u8], T>;

fn uint(i: &[u8], n: usize) -> R<'_, u32> {
    match n {
        1 => be_u8(i).map(|(r, v)| (r, u32::from(v))),
        2 => le_u16(i).map(|(r, v)| (r, u32::from(v))),
        _ => le_u32(i),
    }
}

// Object header: group u8 @0 | variation u8 @1 | qualifier u8 @2 | range field (0–8 octets) @3
fn object_header<'a>(i: &'a [u8], flags: &mut Flags) -> R<'a, (u8, u8, u8, Range)> {
    let (i, (group, variation, qualifier)) = (be_u8, be_u8, be_u8).parse(i)?;
    let (i, range) = match qualifier & 0x0f {
        c @ 0..=5 => {
            let n = 1usize << (c % 3);
            let (i, (start, stop)) = (|i| uint(i, n), |i| uint(i, n)).parse(i)?;
            (i, Range::StartStop { start, stop })
        }
        6 => (i, Range::All),
        c @ 7..=9 => {
            let (i, count) = uint(i, 1 << (c - 7))?;
            (i, Range::Count { count })
        }
        0xB => {
            let (i, count) = uint(i, 1)?;
            (i, Range::Count { count })
        }
        _ => {
            flags.insert(Flags::BAD_QUALIFIER);
            return Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Verify,
            )));
        }
    };
    Ok((i, (group, variation, qualifier, range)))
}

/// Walks the object headers of a fragment body. Stops at the first header it cannot size.
fn objects<'a>(
    mut i: &'a [u8],
    function: u8,
    is_request: bool,
    caps: &Caps,
    flags: &mut Flags,
) -> Vec<Object<'a>> {
    let mut out = Vec::new();
    let mut declared: u64 = 0;
    let mut decoded = 0usize;
    while !i.is_empty() {
        if out.len() >= caps.max_objects {
            flags.insert(Flags::TOO_MANY_OBJECTS);
            break;
        }
        let Ok((rest, (group, variation, qualifier, range))) = object_header(i, flags) else {
            flags.insert(Flags::TRUNCATED);
            break;
        };
        let count: u32 = match range {
            Range::StartStop { start, stop } if stop >= start => (stop - start).saturating_add(1),
            Range::StartStop { .. } => {
                flags.insert(Flags::INVALID_RANGE);
                0
            }
            Range::Count { count } => count,
            Range::All => 0,
        };
        declared += u64::from(count);
        if declared > caps.max_points {
            flags.insert(Flags::TOO_MANY_POINTS);
        }
        let prefix = (qualifier >> 4) & 0x07;
        let index_len = match prefix {
            1..=3 => 1usize << (prefix - 1),
            _ => 0,
        };
        let size_len = match prefix {
            4..=6 => 1usize << (prefix - 4),
            _ => 0,
        };
        if prefix == 7 {
            flags.insert(Flags::BAD_QUALIFIER);
            break;
        }
        let carries = !is_request || size_len > 0 || request_carries_data(function, group);
        let mut obj = Object {
            group,
            variation,
            qualifier,
            range,
            count,
            data: &[],
            points: Vec::new(),
        };
        if !carries || matches!(range, Range::All) {
            out.push(obj);
            i = rest;
            continue;
        }
        let first_index = match range {
            Range::StartStop { start, .. } => start,
            _ => 0,
        };
        let mut size = object_size(group, variation);
        if size == ObjSize::Fixed(0) && index_len == 0 && size_len == 0 {
            // Zero-length objects without prefixes (octet strings of variation 0) occupy no
            // octets, however many are declared.
            size = ObjSize::Empty;
        }
        let mut at = 0usize;
        let mut ok = true;
        match size {
            ObjSize::Empty => {}
            ObjSize::Bits(bits) => {
                let budget = caps.max_decoded_points.saturating_sub(decoded);
                match packed_points(rest, count, bits, first_index, budget, &mut obj.points) {
                    Some(used) => at = used,
                    None => ok = false,
                }
                decoded += obj.points.len();
            }
            ObjSize::Fixed(_) | ObjSize::Attribute | ObjSize::Prefixed => {
                let layout = Layout {
                    group,
                    variation,
                    size,
                    first_index,
                    index_len,
                    size_len,
                };
                let budget = caps.max_decoded_points.saturating_sub(decoded);
                let (used, complete) =
                    prefixed_points(rest, count, &layout, budget, &mut obj.points, flags);
                at = used;
                ok = complete;
                decoded += obj.points.len();
            }
            ObjSize::Unknown => {
                flags.insert(Flags::UNKNOWN_OBJECT);
                obj.data = rest;
                out.push(obj);
                return out;
            }
        }
        if !ok {
            flags.insert(Flags::TRUNCATED);
            obj.data = rest;
            out.push(obj);
            return out;
        }
        obj.data = rest.get(..at).unwrap_or_default();
        i = rest.get(at..).unwrap_or_default();
        out.push(obj);
    }
    out
}

/// Packed points of `bits` bits each (binary inputs and outputs, double-bit inputs), at most
/// `budget` decoded: the octets they take, or `None` when the data is short.
fn packed_points<'a>(
    rest: &'a [u8],
    count: u32,
    bits: u8,
    first_index: u32,
    budget: usize,
    points: &mut Vec<Point<'a>>,
) -> Option<usize> {
    let need = (u64::from(count) * u64::from(bits)).div_ceil(8) as usize;
    let d = rest.get(..need)?;
    for k in 0..(count as usize).min(budget) {
        let bit = k * usize::from(bits);
        let v = d
            .get(bit / 8)
            .map_or(0, |b| (b >> (bit % 8)) & ((1 << bits) - 1));
        let value = if bits == 1 {
            Value::Bit(v == 1)
        } else {
            Value::DoubleBit(v)
        };
        points.push(Point {
            index: first_index.saturating_add(k as u32),
            value,
            flags: None,
            time_ms: None,
            status: None,
        });
    }
    Some(need)
}

/// How an object's points lie: index and size prefixes, fixed or attribute size.
struct Layout {
    group: u8,
    variation: u8,
    size: ObjSize,
    first_index: u32,
    index_len: usize,
    size_len: usize,
}

/// Points of fixed, attribute or prefixed size, each with its index and size prefixes, at
/// most `budget` decoded: the octets read, and whether all `count` were there.
fn prefixed_points<'a>(
    rest: &'a [u8],
    count: u32,
    l: &Layout,
    budget: usize,
    points: &mut Vec<Point<'a>>,
    flags: &mut Flags,
) -> (usize, bool) {
    let mut at = 0usize;
    for k in 0..count {
        let mut index = l.first_index.saturating_add(k);
        if l.index_len > 0 {
            match rest.get(at..).map(|r| uint(r, l.index_len)) {
                Some(Ok((_, v))) => index = v,
                _ => return (at, false),
            }
            at += l.index_len;
        }
        let len = if l.size_len > 0 {
            match rest.get(at..).map(|r| uint(r, l.size_len)) {
                Some(Ok((_, v))) => {
                    at += l.size_len;
                    v as usize
                }
                _ => return (at, false),
            }
        } else {
            match l.size {
                ObjSize::Fixed(n) => n,
                // Attribute: data type u8, length u8, value.
                ObjSize::Attribute => match rest.get(at + 1) {
                    Some(&n) => 2 + usize::from(n),
                    None => return (at, false),
                },
                _ => {
                    // A size-prefixed group without a size prefix.
                    flags.insert(Flags::BAD_QUALIFIER);
                    return (at, false);
                }
            }
        };
        let Some(b) = rest.get(at..at + len) else {
            return (at, false);
        };
        at += len;
        if points.len() < budget {
            points.push(match l.size {
                ObjSize::Fixed(_) => decode_point(l.group, l.variation, index, b),
                _ => Point {
                    index,
                    value: Value::Bytes(b),
                    flags: None,
                    time_ms: None,
                    status: None,
                },
            });
        }
    }
    (at, true)
}

// Application header: control u8 @0 | function u8 @1 | IIN u16 (responses 129–131) @2 | objects
/// Parses a reassembled application fragment.
pub fn parse_fragment<'a>(frag: &'a [u8], caps: &Caps) -> Fragment<'a> {
    let mut flags = Flags::default();
    let (Some(&ac), Some(&function)) = (frag.first(), frag.get(1)) else {
        return Fragment {
            control: AppControl::from_octet(frag.first().copied().unwrap_or(0)),
            function: 0,
            iin: None,
            objects: Vec::new(),
            flags: Flags::FRAGMENT_TOO_SHORT,
        };
    };
    if codes::function_name(function).is_none() {
        flags.insert(Flags::UNKNOWN_FUNCTION);
    }
    let response = codes::is_response(function);
    let (iin, body) = if response {
        match frag.get(2..4).and_then(|b| <[u8; 2]>::try_from(b).ok()) {
            Some(b) => (
                Some(u16::from_be_bytes(b)),
                frag.get(4..).unwrap_or_default(),
            ),
            None => {
                flags.insert(Flags::FRAGMENT_TOO_SHORT);
                (None, &[][..])
            }
        }
    } else {
        (None, frag.get(2..).unwrap_or_default())
    };
    let objects = if flags.contains(Flags::UNKNOWN_FUNCTION) {
        Vec::new()
    } else {
        objects(body, function, !response, caps, &mut flags)
    };
    Fragment {
        control: AppControl::from_octet(ac),
        function,
        iin,
        objects,
        flags,
    }
}
