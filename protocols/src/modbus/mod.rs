//! Modbus/TCP (and Modbus over UDP): MBAP framing, every public function decoded to fields,
//! request/response pairing, Schneider UMAS recognition.
//!
//! Supported: functions 1–8, 11, 12, 15–17, 20–24, 43/13 (raw), 43/14 (Read Device
//! Identification objects), exceptions (function | 0x80 with codes 1–11), user-defined and
//! unassigned codes kept raw and flagged, UMAS (function 90) sub-functions mapped to
//! operations. Spec limits (quantities, byte counts, coil values, address overflow) are
//! checked and reported as [`Flags`], never as errors.
//!
//! Not supported: Modbus RTU/ASCII over serial or encapsulated in TCP (no CRC/LRC framing),
//! decoding of UMAS payloads beyond the sub-function, CANopen (43/13) contents.
//!
//! Reference: MODBUS Application Protocol Specification V1.1b3; MODBUS Messaging on TCP/IP
//! Implementation Guide V1.0b (MBAP header).
//!
//! ```
//! use otsensor_protocols::modbus::{parse_adu, parse_pdu, Body};
//! use otsensor_protocols::Direction;
//! // Read holding registers 0x006B..+3 from unit 17 (spec 6.3 example, MBAP-framed).
//! let bytes = [0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03];
//! let (_, adu) = parse_adu(&bytes).unwrap();
//! let pdu = parse_pdu(adu.pdu, Direction::Request);
//! assert_eq!(pdu.body, Body::ReadRequest { address: 0x6B, quantity: 3 });
//! assert!(pdu.flags.is_empty());
//! ```

pub mod adapter;
pub mod codes;
pub mod descriptor;
pub mod parser;
pub mod state;
#[cfg(test)]
mod tests;
pub use descriptor::DESCRIPTOR;

pub use codes::{FunctionCode, Table};
pub use parser::{
    bits, parse_adu, parse_pdu, registers, Adu, Body, DeviceObject, Error, FileRecord, Flags, Mbap,
    Pdu,
};
pub use state::{Event, ModbusFlow, Record, RequestInfo};
