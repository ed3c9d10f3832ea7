//! Any byte stream, cut anywhere and with gaps, never panics the EtherNet/IP framer, the CIP
//! decoder (EPATH, Multiple Service Packet, Unconnected Send, Forward Open) or the pairing;
//! datagrams (encapsulation or implicit I/O) and the probe never panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::enip::{parser, state, EnipFlow, Event};
use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let mut flow = EnipFlow::default();
    let mut n = 0u64;
    for (i, chunk) in rest.chunks(usize::from(ctl % 64) + 1).enumerate() {
        let dir = if (ctl >> 6) & 1 == (i as u8 & 1) { Direction::Request } else { Direction::Response };
        if ctl & 0x80 != 0 && i % 7 == 3 {
            flow.gap(dir);
        }
        flow.feed(dir, chunk, i as i64 * 1_000_000_000, &mut |e| {
            if let Event::Cip(r) = e {
                n += r.flags.names().count() as u64;
            }
        });
    }
    flow.datagram(Direction::Request, rest, 0, ctl & 1 == 1, &mut |_| {});
    flow.finish();
    let _ = parser::cip(rest);
    let _ = parser::epath(rest);
    let _ = parser::multiple_service(rest);
    let _ = parser::unconnected_send(rest);
    let _ = parser::forward_open_request(rest, ctl & 2 == 2);
    let _ = state::probe(rest, ctl & 4 == 4);
    let _ = n;
});
