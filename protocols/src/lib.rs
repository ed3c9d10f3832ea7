//! Pure parsers for the industrial protocols otsensor understands.
//!
//! Bytes in, typed messages out: this crate does no I/O, reads no clock and starts no
//! threads. Each protocol lives in its own module (`mod.rs` documents what is and is not
//! supported, `codes.rs` holds code tables, `parser.rs` the nom parsers, `state.rs` the
//! per-flow pairing and framing). The sensor turns each protocol's rich PDU into the
//! protocol-independent message that detection works on; the vocabulary shared by all
//! protocols ([`Operation`], [`Direction`]) is defined here so that parsers can classify
//! their own function codes.
//!
//! ```
//! use otsensor_protocols::Operation;
//! assert_eq!(Operation::ProgramDownload.as_str(), "program_download");
//! assert_eq!("restart".parse::<Operation>(), Ok(Operation::Restart));
//! ```

#[macro_use]
mod flags;
mod common;

pub use common::{Direction, Operation, UnknownOperation};
pub mod descriptor;
pub mod dnp3;
pub mod flow;
pub mod framing;
pub mod modbus;
pub mod rule;
pub mod s7comm;

/// Every protocol otsensor parses, in probe order. Adding a protocol: its directory, and
/// one line here.
pub static PROTOCOLS: &[&descriptor::Descriptor] = &[
    &modbus::DESCRIPTOR,
    &dnp3::DESCRIPTOR,
    &s7comm::DESCRIPTOR,
    &s7comm::PLUS_DESCRIPTOR,
];

/// The protocol named `name`.
pub fn descriptor(name: &str) -> Option<&'static descriptor::Descriptor> {
    PROTOCOLS.iter().copied().find(|d| d.name == name)
}
