//! S7comm-plus (protocol id 0x72): what can be read passively.
//!
//! Header: protocol id 0x72 u8 @0 | version u8 @1 (0x01, 0x02, 0x03; 0xfe keep-alive) |
//! data length u16 @2. Version 3 carries an integrity part first:
//! digest length u8 (0x20) and a 32-octet digest computed with a session key negotiated in the
//! TLS-like handshake; its contents cannot be verified passively and are not decoded. Then:
//! opcode u8 (0x31 request, 0x32 response, 0x33 notification) | reserved u16 | function u16 |
//! reserved u16 | sequence number u16 | (requests: session id u32).

use super::codes;

/// A recognised S7comm-plus PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlusPdu<'a> {
    /// Protocol version.
    pub version: u8,
    /// Data length from the header.
    pub data_len: u16,
    /// An integrity digest precedes the data (V3).
    pub integrity: bool,
    /// Opcode, when readable.
    pub opcode: Option<u8>,
    /// Function code, for requests and responses.
    pub function: Option<u16>,
    /// Sequence number.
    pub seq: Option<u16>,
    /// Session id (requests).
    pub session_id: Option<u32>,
    /// The whole PDU.
    pub raw: &'a [u8],
}

impl PlusPdu<'_> {
    /// Function name, if known.
    pub fn function_name(&self) -> Option<&'static str> {
        self.function.and_then(codes::plus_function_name)
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Parses the readable part of an S7comm-plus PDU (starting with 0x72).
pub fn parse_plus(b: &[u8]) -> PlusPdu<'_> {
    let version = b.get(1).copied().unwrap_or(0);
    let mut p = PlusPdu {
        version,
        data_len: be16(b, 2).unwrap_or(0),
        integrity: false,
        opcode: None,
        function: None,
        seq: None,
        session_id: None,
        raw: b,
    };
    if version == 0xfe {
        return p;
    }
    let mut at = 4;
    if version == 0x03 && b.get(4) == Some(&0x20) {
        // Integrity part: digest length 32 and the digest.
        p.integrity = true;
        at = 4 + 33;
    }
    p.opcode = b.get(at).copied();
    if matches!(p.opcode, Some(0x31 | 0x32 | 0x02)) {
        p.function = be16(b, at + 3);
        p.seq = be16(b, at + 7);
        if p.opcode == Some(0x31) {
            p.session_id = b
                .get(at + 9..at + 13)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_be_bytes);
        }
    }
    p
}
