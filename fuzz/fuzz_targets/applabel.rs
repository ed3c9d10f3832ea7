//! Any bytes, on any server port and transport, never panic the application label probes
//! (nor the midstream client guess).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::applabel::{probe_on_port, sent_by_client};
use otsensor_protocols::flow::Transport;

fuzz_target!(|data: &[u8]| {
    let Some((&[p0, p1], rest)) = data.split_first_chunk::<2>() else { return };
    let port = u16::from_be_bytes([p0, p1]);
    let _ = sent_by_client(rest);
    for t in [Transport::Tcp, Transport::Udp] {
        if let Some(f) = probe_on_port(t, port, rest) {
            // A server name, when found, lies inside the input.
            if let Some(n) = f.server_name {
                assert!(n.len() <= rest.len());
            }
        }
    }
});
