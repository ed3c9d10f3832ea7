//! DNP3 (IEEE 1815) over TCP and UDP: link layer with CRCs, transport reassembly, application
//! layer down to object headers and point values, request/response pairing.
//!
//! Supported: link frames (start 0x0564, length, control with DIR/PRM/FCB/FCV/DFC and function,
//! addresses, header and per-block CRCs), link-only frames, resync on 0x0564 after a gap or
//! garbage; transport FIR/FIN/sequence reassembly per address pair with a size cap; application
//! control, function codes 0–33 and 129–131, IIN bits, object headers for every qualifier code,
//! point values for groups 1–4, 10–13, 20–23, 30–34, 40–43, 50–52, 60, 80, 101, 102, 110–113,
//! 121, 122; size-prefixed objects (70 file transfer, 120 Secure Authentication, ...) kept raw;
//! unknown groups kept raw with their ranges (the rest of that fragment is not walked).
//!
//! Not supported: Secure Authentication cryptography (g120 is recognised, not verified), data
//! set (g85–88) and device attribute contents beyond raw bytes, serial (non-TCP/UDP) links.
//!
//! ```
//! use otsensor_protocols::dnp3::parser::{crc, frame_link, Framed};
//! // Unsolicited response header frame from ../shared/pcaps/dnp3/zeek__dnp3.pcap, frame 4.
//! let frame = [0x05, 0x64, 0x0a, 0x44, 0x03, 0x00, 0x04, 0x00, 0x7c, 0xae,
//!              0xe6, 0xf7, 0x82, 0x10, 0x00, 0x4f, 0xbd];
//! assert_eq!(crc(&frame[..8]), 0xae7c);
//! let mut data = Vec::new();
//! let Framed::Frame { header, bad_blocks, .. } = frame_link(&frame, &mut data) else { panic!() };
//! assert_eq!((header.source, header.destination, bad_blocks), (4, 3, 0));
//! assert_eq!(data, [0xe6, 0xf7, 0x82, 0x10, 0x00]);
//! ```

pub mod adapter;
pub mod codes;
pub mod descriptor;
pub mod objects;
pub mod parser;
pub mod state;
#[cfg(test)]
mod tests;
pub use descriptor::DESCRIPTOR;

pub use parser::{parse_fragment, Flags, Fragment, LinkHeader, Object, Range};
pub use state::{Config, Dnp3Flow, Event, FragmentRecord, RequestInfo};
