//! Modbus/TCP parsers (nom): the MBAP-framed ADU, then the PDU by function code.
//!
//! Framing is strict (protocol id 0, length 2..=254) because it decides where the next PDU
//! starts. Decoding the PDU never fails: a body that is too short, too long or out of
//! specification is returned with [`Flags`] describing what is wrong, so that a malformed or
//! hostile PDU is reported, never dropped.

use nom::bytes::complete::take;
use nom::error::{ErrorKind, ParseError};
use nom::number::complete::{be_u16, be_u8};
use nom::{IResult, Parser};

use super::codes::{self, limits, CodeClass, FunctionCode, Table};
use crate::{Direction, Operation};

/// Why bytes could not be framed as a Modbus/TCP ADU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The MBAP protocol identifier is not 0.
    BadProtocolId(u16),
    /// The MBAP length is outside 2..=260 (2..=254 per specification; see
    /// [`limits::MAX_FRAMED_LENGTH`]).
    BadLength(u16),
    /// A nom combinator failed.
    Nom(ErrorKind),
}

impl<'a> ParseError<&'a [u8]> for Error {
    fn from_error_kind(_input: &'a [u8], kind: ErrorKind) -> Self {
        Error::Nom(kind)
    }
    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

impl Error {
    /// snake_case reason for counters and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Error::BadProtocolId(_) => "bad_protocol_id",
            Error::BadLength(_) => "bad_length",
            Error::Nom(_) => "malformed_adu",
        }
    }
}

/// The Modbus Application Protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mbap {
    /// Transaction identifier (pairs a response with its request).
    pub transaction_id: u16,
    /// Protocol identifier (0 for Modbus).
    pub protocol_id: u16,
    /// Bytes that follow: unit id plus PDU.
    pub length: u16,
    /// Unit identifier (the serial-line address behind a gateway, or 0xFF/0).
    pub unit_id: u8,
}

/// Size of the MBAP header.
pub const MBAP_LEN: usize = 7;
/// Largest ADU framed: MBAP header fields before the length (6 bytes) plus the largest
/// length field accepted ([`limits::MAX_FRAMED_LENGTH`]).
pub const MAX_ADU_LEN: usize = 6 + limits::MAX_FRAMED_LENGTH as usize;

/// One framed Modbus/TCP ADU; `pdu` is the function code and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adu<'a> {
    /// The header.
    pub header: Mbap,
    /// Function code and data.
    pub pdu: &'a [u8],
}

// MBAP header, 7 bytes, big-endian:
//   transaction id  u16 @0 | protocol id u16 @2 | length u16 @4 | unit id u8 @6
/// Parses one ADU from a stream; `Incomplete` when more bytes are needed.
pub fn parse_adu(input: &[u8]) -> IResult<&[u8], Adu<'_>, Error> {
    use nom::number::streaming::{be_u16 as s_u16, be_u8 as s_u8};
    let (rest, (transaction_id, protocol_id, length, unit_id)) =
        (s_u16, s_u16, s_u16, s_u8).parse(input)?;
    if protocol_id != 0 {
        return Err(nom::Err::Error(Error::BadProtocolId(protocol_id)));
    }
    if !(limits::MIN_MBAP_LENGTH..=limits::MAX_FRAMED_LENGTH).contains(&length) {
        return Err(nom::Err::Error(Error::BadLength(length)));
    }
    let (rest, pdu) = nom::bytes::streaming::take(usize::from(length) - 1)(rest)?;
    Ok((
        rest,
        Adu {
            header: Mbap {
                transaction_id,
                protocol_id,
                length,
                unit_id,
            },
            pdu,
        },
    ))
}

/// True when `input` starts with a header that could begin an ADU: protocol id 0, a valid
/// length, and — when the whole ADU and the next header's first four bytes are present — a
/// next header with protocol id 0 too. Used to resynchronise and to probe.
pub fn plausible_header(input: &[u8]) -> bool {
    let Some(&[_, _, p0, p1, l0, l1, _, _]) = input.get(..8) else {
        return false;
    };
    let len = u16::from_be_bytes([l0, l1]);
    if p0 != 0 || p1 != 0 || !(limits::MIN_MBAP_LENGTH..=limits::MAX_FRAMED_LENGTH).contains(&len) {
        return false;
    }
    let next = 6 + usize::from(len);
    match input.get(next + 2..next + 4) {
        Some(pid) => pid == [0, 0],
        None => true,
    }
}

/// Out-of-spec conditions found in a PDU (a bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Flags(u32);

impl Flags {
    /// A quantity is 0 or above the function's limit.
    pub const QUANTITY_OUT_OF_RANGE: Flags = Flags(1 << 0);
    /// A byte count disagrees with the data present or with the quantity.
    pub const BYTE_COUNT_MISMATCH: Flags = Flags(1 << 1);
    /// The PDU is shorter than its function requires.
    pub const TRUNCATED: Flags = Flags(1 << 2);
    /// Bytes follow the last field the function defines.
    pub const TRAILING_BYTES: Flags = Flags(1 << 3);
    /// A user-defined function code (65–72, 100–110).
    pub const USER_DEFINED_FUNCTION: Flags = Flags(1 << 4);
    /// A reserved function code (9, 10, 13, 14, 41, 42, 90, 91, 125–127).
    pub const RESERVED_FUNCTION: Flags = Flags(1 << 5);
    /// A function code the specification does not assign.
    pub const UNASSIGNED_FUNCTION: Flags = Flags(1 << 6);
    /// Write Single Coil with a value other than 0x0000 or 0xFF00.
    pub const INVALID_COIL_VALUE: Flags = Flags(1 << 7);
    /// An exception code the specification does not define.
    pub const UNKNOWN_EXCEPTION_CODE: Flags = Flags(1 << 8);
    /// A sub-function or MEI type the specification does not define.
    pub const UNKNOWN_SUB_FUNCTION: Flags = Flags(1 << 9);
    /// The response's function differs from its request's.
    pub const RESPONSE_MISMATCH: Flags = Flags(1 << 10);
    /// A response with no outstanding request (also normal right after midstream pickup).
    pub const UNPAIRED_RESPONSE: Flags = Flags(1 << 11);
    /// A request beyond the cap on outstanding requests (oldest dropped).
    pub const REQUEST_FLOOD: Flags = Flags(1 << 12);
    /// Start address plus quantity runs past 65535.
    pub const ADDRESS_OVERFLOW: Flags = Flags(1 << 13);
    /// A request reused the transaction id of one still outstanding.
    pub const DUPLICATE_TRANSACTION: Flags = Flags(1 << 14);
    /// The response carries a different start address or quantity than its request.
    pub const ECHO_MISMATCH: Flags = Flags(1 << 15);
    /// The MBAP length exceeds the specification's 254 (an ADU over 260 bytes).
    pub const LENGTH_OVER_SPEC: Flags = Flags(1 << 16);

    pub(crate) const NAMES: [(Flags, &'static str); 17] = [
        (Flags::QUANTITY_OUT_OF_RANGE, "quantity_out_of_range"),
        (Flags::BYTE_COUNT_MISMATCH, "byte_count_mismatch"),
        (Flags::TRUNCATED, "truncated"),
        (Flags::TRAILING_BYTES, "trailing_bytes"),
        (Flags::USER_DEFINED_FUNCTION, "user_defined_function"),
        (Flags::RESERVED_FUNCTION, "reserved_function"),
        (Flags::UNASSIGNED_FUNCTION, "unassigned_function"),
        (Flags::INVALID_COIL_VALUE, "invalid_coil_value"),
        (Flags::UNKNOWN_EXCEPTION_CODE, "unknown_exception_code"),
        (Flags::UNKNOWN_SUB_FUNCTION, "unknown_sub_function"),
        (Flags::RESPONSE_MISMATCH, "response_mismatch"),
        (Flags::UNPAIRED_RESPONSE, "unpaired_response"),
        (Flags::REQUEST_FLOOD, "request_flood"),
        (Flags::ADDRESS_OVERFLOW, "address_overflow"),
        (Flags::DUPLICATE_TRANSACTION, "duplicate_transaction"),
        (Flags::ECHO_MISMATCH, "echo_mismatch"),
        (Flags::LENGTH_OVER_SPEC, "length_over_spec"),
    ];
}

flag_set!(Flags);

/// One file-record sub-request or sub-response (functions 20 and 21).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord<'a> {
    /// Reference type (must be 6).
    pub reference_type: u8,
    /// File number (requests only).
    pub file_number: Option<u16>,
    /// Starting record number (requests only).
    pub record_number: Option<u16>,
    /// Record length in registers.
    pub record_length: u16,
    /// Record data (write requests and read responses).
    pub data: &'a [u8],
}

/// One Read Device Identification object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceObject<'a> {
    /// Object id (0x00 vendor name, 0x01 product code, 0x02 revision, ...).
    pub id: u8,
    /// Object value, usually ASCII.
    pub value: &'a [u8],
}

/// Function-specific content of a PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// No data (requests of 7, 11, 12, 17).
    Empty,
    /// Read request (1–4): start address and quantity.
    ReadRequest {
        /// Start address.
        address: u16,
        /// Number of bits or registers.
        quantity: u16,
    },
    /// Read response (1–4, 23): byte count and packed bits or big-endian registers.
    ReadResponse {
        /// Byte count field.
        byte_count: u8,
        /// The data.
        data: &'a [u8],
    },
    /// Write Single Coil / Register (5, 6), request and echo.
    WriteSingle {
        /// Address.
        address: u16,
        /// Value (0xFF00/0x0000 for a coil).
        value: u16,
    },
    /// Write Multiple Coils / Registers request (15, 16).
    WriteMultipleRequest {
        /// Start address.
        address: u16,
        /// Number of coils or registers.
        quantity: u16,
        /// Byte count field.
        byte_count: u8,
        /// Packed coils or big-endian registers.
        data: &'a [u8],
    },
    /// Write Multiple response (15, 16): the echoed range.
    WriteMultipleResponse {
        /// Start address.
        address: u16,
        /// Quantity written.
        quantity: u16,
    },
    /// Read Exception Status response (7).
    ExceptionStatus(u8),
    /// Diagnostics (8), request and echo.
    Diagnostics {
        /// Sub-function.
        sub_function: u16,
        /// Data field.
        data: &'a [u8],
    },
    /// Get Comm Event Counter response (11).
    CommEventCounter {
        /// Status word (0xFFFF busy).
        status: u16,
        /// Event count.
        event_count: u16,
    },
    /// Get Comm Event Log response (12).
    CommEventLog {
        /// Status word.
        status: u16,
        /// Event count.
        event_count: u16,
        /// Message count.
        message_count: u16,
        /// Event bytes.
        events: &'a [u8],
    },
    /// Report Server ID response (17): server-specific bytes.
    ServerId {
        /// Byte count field.
        byte_count: u8,
        /// Server id, run indicator and additional data.
        data: &'a [u8],
    },
    /// Read/Write File Record (20, 21).
    FileRecords(Vec<FileRecord<'a>>),
    /// Mask Write Register (22), request and echo.
    MaskWrite {
        /// Address.
        address: u16,
        /// AND mask.
        and_mask: u16,
        /// OR mask.
        or_mask: u16,
    },
    /// Read/Write Multiple Registers request (23).
    ReadWriteRequest {
        /// Read start.
        read_address: u16,
        /// Read quantity.
        read_quantity: u16,
        /// Write start.
        write_address: u16,
        /// Write quantity.
        write_quantity: u16,
        /// Byte count field.
        byte_count: u8,
        /// Registers to write.
        data: &'a [u8],
    },
    /// Read FIFO Queue request (24).
    FifoRequest {
        /// FIFO pointer address.
        address: u16,
    },
    /// Read FIFO Queue response (24).
    FifoResponse {
        /// FIFO count.
        count: u16,
        /// Registers.
        data: &'a [u8],
    },
    /// Read Device Identification request (43/14).
    DeviceIdRequest {
        /// Read device id code (1 basic, 2 regular, 3 extended, 4 one object).
        code: u8,
        /// First object asked for.
        object_id: u8,
    },
    /// Read Device Identification response (43/14).
    DeviceIdResponse {
        /// Read device id code.
        code: u8,
        /// Conformity level.
        conformity: u8,
        /// More objects follow in another transaction.
        more_follows: bool,
        /// Next object id to ask for.
        next_object_id: u8,
        /// The objects.
        objects: Vec<DeviceObject<'a>>,
    },
    /// Another MEI type (43/13 CANopen or unknown): raw data.
    Mei {
        /// MEI type.
        mei_type: u8,
        /// Data.
        data: &'a [u8],
    },
    /// Schneider UMAS (90).
    Umas {
        /// Session/pairing key.
        session: u8,
        /// In requests the UMAS function; in responses the status (0xFE ok, 0xFD error).
        code: u8,
        /// Data.
        data: &'a [u8],
    },
    /// Exception response: the exception code is in [`Pdu::exception`].
    Exception,
    /// Data of an unknown function, or of a known one too malformed to decode.
    Raw(&'a [u8]),
}

/// A decoded PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu<'a> {
    /// Function code without the exception bit.
    pub function: FunctionCode,
    /// The exception code, for exception responses.
    pub exception: Option<u8>,
    /// The content.
    pub body: Body<'a>,
    /// What is out of specification.
    pub flags: Flags,
}

impl Pdu<'_> {
    /// The operation, refined by sub-function for 8, 43 and 90 requests.
    pub fn operation(&self) -> Operation {
        match &self.body {
            Body::Diagnostics { sub_function, .. } => codes::diagnostic_operation(*sub_function),
            Body::Umas { code, .. } if self.exception.is_none() => {
                // Only requests carry the UMAS function; the caller pairs responses.
                codes::umas_operation(*code)
            }
            Body::Mei { .. } => Operation::Other,
            _ => self.function.operation(),
        }
    }

    /// Sub-function for 8 (diagnostic), 43 (MEI type) and 90 (UMAS function, requests).
    pub fn sub_function(&self) -> Option<u16> {
        match &self.body {
            Body::Diagnostics { sub_function, .. } => Some(*sub_function),
            Body::DeviceIdRequest { .. } | Body::DeviceIdResponse { .. } => {
                Some(u16::from(codes::MEI_READ_DEVICE_ID))
            }
            Body::Mei { mei_type, .. } => Some(u16::from(*mei_type)),
            Body::Umas { code, .. } => Some(u16::from(*code)),
            _ => None,
        }
    }

    /// The table and address range the PDU itself names (responses to reads name none: their
    /// range comes from the paired request).
    pub fn range(&self) -> Option<(Table, u16, u16)> {
        let table = self.function.table()?;
        match &self.body {
            Body::ReadRequest { address, quantity }
            | Body::WriteMultipleRequest {
                address, quantity, ..
            }
            | Body::WriteMultipleResponse { address, quantity } => {
                Some((table, *address, *quantity))
            }
            Body::WriteSingle { address, .. } | Body::MaskWrite { address, .. } => {
                Some((table, *address, 1))
            }
            Body::ReadWriteRequest {
                write_address,
                write_quantity,
                ..
            } => Some((table, *write_address, *write_quantity)),
            _ => None,
        }
    }
}

type R<'a, T> = IResult<&'a [u8], T, Error>;

fn u16_pair(i: &[u8]) -> R<'_, (u16, u16)> {
    (be_u16, be_u16).parse(i)
}

/// Checks a quantity against 1..=max and the address space.
fn check_range(flags: &mut Flags, address: u16, quantity: u16, max: u16) {
    if quantity == 0 || quantity > max {
        flags.insert(Flags::QUANTITY_OUT_OF_RANGE);
    }
    if u32::from(address) + u32::from(quantity) > 0x1_0000 {
        flags.insert(Flags::ADDRESS_OVERFLOW);
    }
}

/// Bytes needed for `quantity` packed bits.
pub fn bit_bytes(quantity: u16) -> usize {
    usize::from(quantity).div_ceil(8)
}

// Read request (1–4): start address u16 @0 | quantity u16 @2
fn read_request<'a>(fc: u8, i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, (address, quantity)) = u16_pair(i)?;
    let max = if fc <= 2 {
        limits::MAX_READ_BITS
    } else {
        limits::MAX_READ_REGISTERS
    };
    check_range(flags, address, quantity, max);
    Ok((rest, Body::ReadRequest { address, quantity }))
}

// Read response (1–4, 23): byte count u8 @0 | data (byte count) @1
fn read_response<'a>(fc: u8, i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, byte_count) = be_u8(i)?;
    let n = usize::from(byte_count).min(rest.len());
    if n < usize::from(byte_count) {
        flags.insert(Flags::TRUNCATED | Flags::BYTE_COUNT_MISMATCH);
    }
    let (rest, data) = take(n)(rest)?;
    if fc >= 3 && byte_count % 2 == 1 {
        flags.insert(Flags::BYTE_COUNT_MISMATCH);
    }
    Ok((rest, Body::ReadResponse { byte_count, data }))
}

// Write single (5, 6): address u16 @0 | value u16 @2
fn write_single<'a>(fc: u8, i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, (address, value)) = u16_pair(i)?;
    if fc == FunctionCode::WRITE_SINGLE_COIL && value != 0x0000 && value != 0xFF00 {
        flags.insert(Flags::INVALID_COIL_VALUE);
    }
    Ok((rest, Body::WriteSingle { address, value }))
}

// Write multiple request (15, 16): address u16 @0 | quantity u16 @2 | byte count u8 @4 | data @5
fn write_multiple_request<'a>(fc: u8, i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, (address, quantity, byte_count)) = (be_u16, be_u16, be_u8).parse(i)?;
    let (max, want) = if fc == FunctionCode::WRITE_MULTIPLE_COILS {
        (limits::MAX_WRITE_BITS, bit_bytes(quantity))
    } else {
        (limits::MAX_WRITE_REGISTERS, usize::from(quantity) * 2)
    };
    check_range(flags, address, quantity, max);
    if usize::from(byte_count) != want {
        flags.insert(Flags::BYTE_COUNT_MISMATCH);
    }
    let n = usize::from(byte_count).min(rest.len());
    if n < usize::from(byte_count) {
        flags.insert(Flags::TRUNCATED);
    }
    let (rest, data) = take(n)(rest)?;
    Ok((
        rest,
        Body::WriteMultipleRequest {
            address,
            quantity,
            byte_count,
            data,
        },
    ))
}

// Diagnostics (8): sub-function u16 @0 | data @2
fn diagnostics<'a>(i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (data, sub_function) = be_u16(i)?;
    if codes::diagnostic_name(sub_function).is_none() {
        flags.insert(Flags::UNKNOWN_SUB_FUNCTION);
    }
    Ok((&[][..], Body::Diagnostics { sub_function, data }))
}

// Get Comm Event Log response (12): byte count u8 @0 | status u16 @1 | event count u16 @3 |
//   message count u16 @5 | events (byte count - 6) @7
fn comm_event_log<'a>(i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, (byte_count, status, event_count, message_count)) =
        (be_u8, be_u16, be_u16, be_u16).parse(i)?;
    let want = usize::from(byte_count).saturating_sub(6);
    if byte_count < 6 || want > rest.len() {
        flags.insert(Flags::BYTE_COUNT_MISMATCH);
    }
    let (rest, events) = take(want.min(rest.len()))(rest)?;
    Ok((
        rest,
        Body::CommEventLog {
            status,
            event_count,
            message_count,
            events,
        },
    ))
}

// Read File Record request (20): byte count u8 @0 | sub-requests of 7 bytes:
//   reference type u8 | file number u16 | record number u16 | record length u16
// Write File Record request and response (21): byte count u8 @0 | sub-requests:
//   reference type u8 | file number u16 | record number u16 | record length u16 | data (2 × length)
// Read File Record response (20): byte count u8 @0 | sub-responses:
//   length u8 | reference type u8 | data (length - 1)
fn file_sub_response(b: &[u8]) -> R<'_, FileRecord<'_>> {
    let (b, (len, reference_type)) = (be_u8, be_u8).parse(b)?;
    let (b, data) = take(usize::from(len).saturating_sub(1))(b)?;
    Ok((
        b,
        FileRecord {
            reference_type,
            file_number: None,
            record_number: None,
            record_length: u16::from(len.saturating_sub(1)) / 2,
            data,
        },
    ))
}

fn file_sub_request(fc: u8, b: &[u8]) -> R<'_, FileRecord<'_>> {
    let (b, (reference_type, file, record, length)) = (be_u8, be_u16, be_u16, be_u16).parse(b)?;
    let (b, data) = if fc == FunctionCode::WRITE_FILE_RECORD {
        take(usize::from(length) * 2)(b)?
    } else {
        (b, &[][..])
    };
    Ok((
        b,
        FileRecord {
            reference_type,
            file_number: Some(file),
            record_number: Some(record),
            record_length: length,
            data,
        },
    ))
}

fn file_records<'a>(fc: u8, dir: Direction, i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, byte_count) = be_u8(i)?;
    let n = usize::from(byte_count).min(rest.len());
    if n < usize::from(byte_count) {
        flags.insert(Flags::BYTE_COUNT_MISMATCH | Flags::TRUNCATED);
    }
    let (rest, mut body) = take(n)(rest)?;
    let mut records = Vec::new();
    while !body.is_empty() {
        let parsed = if fc == FunctionCode::READ_FILE_RECORD && dir == Direction::Response {
            file_sub_response(body)
        } else {
            file_sub_request(fc, body)
        };
        match parsed {
            Ok((b, r)) => {
                if r.reference_type != 6 {
                    flags.insert(Flags::BYTE_COUNT_MISMATCH);
                }
                records.push(r);
                body = b;
            }
            Err(_) => {
                flags.insert(Flags::BYTE_COUNT_MISMATCH);
                break;
            }
        }
    }
    Ok((rest, Body::FileRecords(records)))
}

// Read/Write Multiple request (23): read address u16 @0 | read quantity u16 @2 |
//   write address u16 @4 | write quantity u16 @6 | byte count u8 @8 | data @9
fn read_write_request<'a>(i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, (read_address, read_quantity, write_address, write_quantity, byte_count)) =
        (be_u16, be_u16, be_u16, be_u16, be_u8).parse(i)?;
    check_range(
        flags,
        read_address,
        read_quantity,
        limits::MAX_READ_REGISTERS,
    );
    check_range(
        flags,
        write_address,
        write_quantity,
        limits::MAX_RW_WRITE_REGISTERS,
    );
    if usize::from(byte_count) != usize::from(write_quantity) * 2 {
        flags.insert(Flags::BYTE_COUNT_MISMATCH);
    }
    let n = usize::from(byte_count).min(rest.len());
    if n < usize::from(byte_count) {
        flags.insert(Flags::TRUNCATED);
    }
    let (rest, data) = take(n)(rest)?;
    Ok((
        rest,
        Body::ReadWriteRequest {
            read_address,
            read_quantity,
            write_address,
            write_quantity,
            byte_count,
            data,
        },
    ))
}

// Read FIFO Queue response (24): byte count u16 @0 | FIFO count u16 @2 | registers @4
fn fifo_response<'a>(i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, (byte_count, count)) = u16_pair(i)?;
    if count > limits::MAX_FIFO_COUNT {
        flags.insert(Flags::QUANTITY_OUT_OF_RANGE);
    }
    let want = usize::from(count) * 2;
    if usize::from(byte_count) != want + 2 || want > rest.len() {
        flags.insert(Flags::BYTE_COUNT_MISMATCH);
    }
    let (rest, data) = take(want.min(rest.len()))(rest)?;
    Ok((rest, Body::FifoResponse { count, data }))
}

// Encapsulated Interface Transport (43): MEI type u8 @0, then for type 14:
//   request:  read device id code u8 @1 | object id u8 @2
//   response: read device id code u8 @1 | conformity u8 @2 | more follows u8 @3 |
//             next object id u8 @4 | number of objects u8 @5 | objects (id u8, length u8, value)
fn mei<'a>(dir: Direction, i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    let (rest, mei_type) = be_u8(i)?;
    if mei_type != codes::MEI_READ_DEVICE_ID {
        if mei_type != codes::MEI_CANOPEN {
            flags.insert(Flags::UNKNOWN_SUB_FUNCTION);
        }
        return Ok((
            &[][..],
            Body::Mei {
                mei_type,
                data: rest,
            },
        ));
    }
    if dir == Direction::Request {
        let (rest, (code, object_id)) = (be_u8, be_u8).parse(rest)?;
        if !(1..=4).contains(&code) {
            flags.insert(Flags::UNKNOWN_SUB_FUNCTION);
        }
        return Ok((rest, Body::DeviceIdRequest { code, object_id }));
    }
    let (mut rest, (code, conformity, more, next_object_id, count)) =
        (be_u8, be_u8, be_u8, be_u8, be_u8).parse(rest)?;
    let mut objects = Vec::with_capacity(usize::from(count).min(rest.len() / 2));
    for _ in 0..count {
        let r: R<'_, DeviceObject<'_>> = (|b| {
            let (b, (id, len)) = (be_u8, be_u8).parse(b)?;
            let (b, value) = take(usize::from(len))(b)?;
            Ok((b, DeviceObject { id, value }))
        })(rest);
        match r {
            Ok((b, o)) => {
                objects.push(o);
                rest = b;
            }
            Err(_) => {
                flags.insert(Flags::TRUNCATED);
                rest = &[];
                break;
            }
        }
    }
    Ok((
        rest,
        Body::DeviceIdResponse {
            code,
            conformity,
            more_follows: more == 0xFF,
            next_object_id,
            objects,
        },
    ))
}

// UMAS (90): session key u8 @0 | UMAS function (request) or status (response) u8 @1 | data @2
fn umas(i: &[u8]) -> R<'_, Body<'_>> {
    let (data, (session, code)) = (be_u8, be_u8).parse(i)?;
    Ok((
        &[][..],
        Body::Umas {
            session,
            code,
            data,
        },
    ))
}

fn body<'a>(fc: u8, dir: Direction, i: &'a [u8], flags: &mut Flags) -> R<'a, Body<'a>> {
    use Direction::{Request, Response};
    match (fc, dir) {
        (1..=4, Request) => read_request(fc, i, flags),
        (1..=4, Response) => read_response(fc, i, flags),
        (5 | 6, _) => write_single(fc, i, flags),
        (7 | 11 | 12 | 17, Request) => Ok((i, Body::Empty)),
        (7, Response) => be_u8(i).map(|(r, s)| (r, Body::ExceptionStatus(s))),
        (8, _) => diagnostics(i, flags),
        (11, Response) => u16_pair(i).map(|(r, (status, event_count))| {
            (
                r,
                Body::CommEventCounter {
                    status,
                    event_count,
                },
            )
        }),
        (12, Response) => comm_event_log(i, flags),
        (15 | 16, Request) => write_multiple_request(fc, i, flags),
        (15 | 16, Response) => u16_pair(i)
            .map(|(r, (address, quantity))| (r, Body::WriteMultipleResponse { address, quantity })),
        (17, Response) => {
            let (rest, byte_count) = be_u8(i)?;
            let n = usize::from(byte_count).min(rest.len());
            if n < usize::from(byte_count) {
                flags.insert(Flags::BYTE_COUNT_MISMATCH | Flags::TRUNCATED);
            }
            take(n)(rest).map(|(r, data)| (r, Body::ServerId { byte_count, data }))
        }
        (20 | 21, _) => file_records(fc, dir, i, flags),
        (22, _) => (be_u16, be_u16, be_u16)
            .parse(i)
            .map(|(r, (address, and_mask, or_mask))| {
                (
                    r,
                    Body::MaskWrite {
                        address,
                        and_mask,
                        or_mask,
                    },
                )
            }),
        (23, Request) => read_write_request(i, flags),
        (23, Response) => read_response(fc, i, flags),
        (24, Request) => be_u16(i).map(|(r, address)| (r, Body::FifoRequest { address })),
        (24, Response) => fifo_response(i, flags),
        (43, _) => mei(dir, i, flags),
        (90, _) => umas(i),
        _ => Ok((&[][..], Body::Raw(i))),
    }
}

/// Decodes a PDU (function code and data) travelling in direction `dir`.
pub fn parse_pdu(pdu: &[u8], dir: Direction) -> Pdu<'_> {
    let Some((&code, data)) = pdu.split_first() else {
        return Pdu {
            function: FunctionCode { raw: 0 },
            exception: None,
            body: Body::Raw(pdu),
            flags: Flags::TRUNCATED,
        };
    };
    let function = FunctionCode { raw: code & 0x7f };
    let mut flags = Flags::default();
    match function.class() {
        CodeClass::Public => {}
        CodeClass::UserDefined => flags.insert(Flags::USER_DEFINED_FUNCTION),
        CodeClass::Reserved => {
            if function.raw != FunctionCode::UMAS {
                flags.insert(Flags::RESERVED_FUNCTION);
            }
        }
        CodeClass::Unassigned => flags.insert(Flags::UNASSIGNED_FUNCTION),
    }
    if code & 0x80 != 0 {
        // Exception response: exception code u8 @1
        let exception = data.first().copied();
        match exception {
            None => flags.insert(Flags::TRUNCATED),
            Some(e) if codes::exception_name(e).is_none() => {
                flags.insert(Flags::UNKNOWN_EXCEPTION_CODE)
            }
            Some(_) => {}
        }
        if data.len() > 1 {
            flags.insert(Flags::TRAILING_BYTES);
        }
        return Pdu {
            function,
            exception: Some(exception.unwrap_or(0)),
            body: Body::Exception,
            flags,
        };
    }
    let body = match body(function.raw, dir, data, &mut flags) {
        Ok((rest, b)) => {
            if !rest.is_empty() {
                flags.insert(Flags::TRAILING_BYTES);
            }
            b
        }
        Err(_) => {
            flags.insert(Flags::TRUNCATED);
            Body::Raw(data)
        }
    };
    Pdu {
        function,
        exception: None,
        body,
        flags,
    }
}

/// Iterates packed coil/discrete-input bits, least significant bit first.
pub fn bits(data: &[u8], count: usize) -> impl Iterator<Item = bool> + '_ {
    (0..count.min(data.len() * 8))
        .map(move |i| data.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1))
}

/// Iterates big-endian 16-bit registers.
pub fn registers(data: &[u8]) -> impl Iterator<Item = u16> + '_ {
    data.chunks_exact(2)
        .map(|c| u16::from_be_bytes(c.try_into().unwrap_or_default()))
}
