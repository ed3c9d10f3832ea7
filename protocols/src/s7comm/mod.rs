//! S7comm over ISO-on-TCP (TPKT RFC 1006 + COTP ISO 8073 class 0), and S7comm-plus
//! recognition.
//!
//! Supported: TPKT framing with resync; COTP connection request/confirm (TSAPs → rack and
//! slot), data TPDUs with EOT reassembly, disconnect; midstream pickup. S7 header (ROSCTR job,
//! ack, ack_data, userdata; PDU reference; error class/code); setup communication; read/write
//! var with every item (syntax id, transport size, length, DB, area, byte and bit address) and
//! the data items with return codes; upload/download functions with block type, number and
//! file system; PI services by name; PLC stop; userdata head (group, subfunction, sequence),
//! SZL requests and answers (order number, firmware, module and system names, serial, CPU mode),
//! PLC password requests flagged, CPU mode transitions. S7comm-plus: version, opcode, function,
//! sequence and session id where readable; V3 integrity digests recognised, not verified.
//!
//! Not supported: S7comm-plus object payloads (and anything behind V3 integrity), alarm and
//! cyclic-data payload contents, NC programming (group 0xF).
//!
//! ```
//! use otsensor_protocols::s7comm::parser::{frame_tpkt, parse_cotp, parse_s7, Cotp};
//! // PLC stop from ../shared/pcaps/s7comm/iti-ics__step7_s300_stop.pcapng, frame 1.
//! let b = [0x03, 0x00, 0x00, 0x21, 0x02, 0xf0, 0x80, 0x32, 0x01, 0x00, 0x00, 0x0e, 0x00,
//!          0x00, 0x10, 0x00, 0x00, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, b'P', b'_',
//!          b'P', b'R', b'O', b'G', b'R', b'A', b'M'];
//! let (_, payload) = frame_tpkt(&b).unwrap().unwrap();
//! let Ok(Cotp::Data { payload, eot: true, .. }) = parse_cotp(payload) else { panic!() };
//! let pdu = parse_s7(payload).unwrap();
//! assert_eq!(pdu.function, Some(0x29));
//! ```

pub mod adapter;
pub mod codes;
pub mod descriptor;
pub mod parser;
pub mod plus;
pub mod state;
pub mod szl;
#[cfg(test)]
mod tests;
pub use descriptor::{DESCRIPTOR, PLUS_DESCRIPTOR};

pub use parser::{Cotp, DataItem, Flags, Header, Param, S7Pdu, UserdataHead, VarItem};
pub use plus::PlusPdu;
pub use state::{Event, Record, RequestInfo, S7Flow};
