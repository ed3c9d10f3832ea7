//! Any bytes never panic the OPC UA chunk reader or its probe, and a chunk's size is its
//! header's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::flow::{ProbeMode, Transport};
use otsensor_protocols::opcua;
use otsensor_protocols::Direction;

fuzz_target!(|data: &[u8]| {
    if let Some(c) = opcua::chunk(data) {
        assert!(c.size as usize <= data.len());
        let _ = c.is_request();
    }
    let mode = ProbeMode { own_port: true, midstream: true };
    let _ = opcua::adapter::probe(Transport::Tcp, Direction::Request, data, mode);
});
