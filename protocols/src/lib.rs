//! The industrial protocols otsensor understands, each complete in its own directory.
//!
//! Bytes in, typed messages out: this crate does no I/O, reads no clock and starts no
//! threads. Each protocol lives in its own module: `mod.rs` documents what is and is not
//! supported, `codes.rs` holds code tables, `parser.rs` the nom parsers, `state.rs` the
//! per-flow framing (through [`framing`]) and pairing (a [`flow::FlowParser`]), `adapter.rs`
//! turns its PDUs into the protocol-independent [`message::Message`] that detection works on
//! and into event lines (a [`flow::Adapter`]), and `descriptor.rs` tells the rest of the
//! sensor about it (a [`descriptor::Descriptor`]: ports, probe, handler, asset roles,
//! operational rules). [`PROTOCOLS`] lists the descriptors: adding a protocol is its
//! directory and one line there. The vocabulary shared by all protocols ([`Operation`],
//! [`Direction`], [`message`], [`rule`], [`time`], [`mac`]) is defined here.
//!
//! ```
//! use otsensor_protocols::Operation;
//! assert_eq!(Operation::ProgramDownload.as_str(), "program_download");
//! assert_eq!("restart".parse::<Operation>(), Ok(Operation::Restart));
//! ```

// Parsers read bytes from the network: no indexing that can panic, no unwrap, expect or panic
// outside tests (the compiler holds what review used to).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[macro_use]
mod flags;
mod common;

pub use common::{push_first_one, Direction, Operation, UnknownOperation};
pub mod applabel;
pub mod bacnet;
pub mod descriptor;
pub mod dnp3;
pub mod enip;
pub mod flow;
pub mod framing;
pub mod goose;
pub mod identity;
pub mod iec104;
pub mod mac;
pub mod message;
pub mod mms;
pub mod modbus;
pub mod opcua;
pub mod profinet;
pub mod record;
pub mod rule;
pub mod s7comm;
#[cfg(test)]
mod testing;
pub mod time;

/// Every protocol otsensor parses, in probe order. Adding a protocol: its directory, and
/// one line here.
pub static PROTOCOLS: &[&descriptor::Descriptor] = &[
    &modbus::DESCRIPTOR,
    &dnp3::DESCRIPTOR,
    &s7comm::DESCRIPTOR,
    &s7comm::PLUS_DESCRIPTOR,
    &enip::DESCRIPTOR,
    &enip::CIP_DESCRIPTOR,
    &iec104::DESCRIPTOR,
    &bacnet::DESCRIPTOR,
    &opcua::DESCRIPTOR,
    &mms::DESCRIPTOR,
];

/// The protocol named `name`.
pub fn descriptor(name: &str) -> Option<&'static descriptor::Descriptor> {
    PROTOCOLS.iter().copied().find(|d| d.name == name)
}
