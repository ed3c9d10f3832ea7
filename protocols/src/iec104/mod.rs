//! IEC 60870-5-104 (with the ASDUs of IEC 60870-5-101).
//!
//! Supported: the APCI on TCP 2404 (start, length, I/S/U formats; send and receive sequence
//! numbers, gaps and duplicates flagged; STARTDT, STOPDT, TESTFR act/con); the ASDU: type id,
//! variable structure qualifier (SQ bit, count), cause of transmission with P/N and test
//! bits, originator address, common address, information object addresses, and the values,
//! quality descriptors and CP56Time2a time tags of the standard monitor, control, system and
//! parameter types; file transfer types by address; type ids the standard does not define
//! flagged (`unknown_function`), still counted.
//!
//! Activations (commands, interrogations, clock synchronisation, reset) are paired with their
//! confirmations by type id, common address and object address (latency; unconfirmed ones
//! counted as unanswered).
//!
//! Not supported: the select/execute pairing of select-before-operate (the select bit is
//! reported); 101 (serial) framing; parameters
//! other than the 104 defaults (2-octet cause and common address, 3-octet IOA); TLS
//! (IEC 62351-3).

pub mod adapter;
pub mod codes;
pub mod descriptor;
pub mod parser;
pub mod state;

pub use descriptor::DESCRIPTOR;
pub use state::{Event, Iec104Flow};

#[cfg(test)]
mod tests;
