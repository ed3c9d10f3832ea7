//! Any datagram never panics the BACnet/IP reader (BVLC, NPDU, APDU, tags) or its probe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::bacnet;
use otsensor_protocols::flow::{ProbeMode, Transport};
use otsensor_protocols::Direction;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = bacnet::parse(data) {
        if let Some(a) = p.apdu {
            assert!(a.text.as_ref().is_none_or(|t| t.len() <= 4 * 512));
        }
    }
    for own_port in [false, true] {
        let mode = ProbeMode { own_port, midstream: false };
        let _ = bacnet::adapter::probe(Transport::Udp, Direction::Request, data, mode);
    }
});
