//! otsensor: a passive network sensor for OT/ICS networks.
//!
//! The library behind the `otsensor` binary: packet sources ([`capture`]), L2–L4 decoding
//! ([`decode`]), flows and TCP reassembly ([`flow`]), the protocol registry that hands
//! streams to parsers ([`registry`]), the multi-threaded pipeline ([`pipeline`]), statistics
//! ([`stats`]), outputs ([`output`]) and what running unattended needs: metrics, health alerts,
//! dropping root ([`service`]). It never transmits on the monitored network.
//!
//! What it does not do: it does not reassemble IP fragments (they are counted as
//! undecodable), and it does not decode link types other than Ethernet, Linux SLL/SLL2,
//! BSD/OpenBSD loopback and raw IP.
//!
//! ```
//! use otsensor::decode::{decode, LinkType};
//! // An ARP frame is classified, not a flow.
//! let mut frame = vec![0xff; 12];
//! frame.extend_from_slice(&[0x08, 0x06]);
//! frame.extend_from_slice(&[0u8; 28]);
//! assert!(decode(LinkType::Ethernet, &frame).is_err());
//! ```

pub mod app;
pub mod capture;
pub mod cli;
pub mod config;
pub mod console;
pub mod curate;
pub mod decode;
pub mod events;
pub mod flow;
pub mod output;
pub mod pipeline;
pub mod registry;
pub mod service;
pub mod stats;
