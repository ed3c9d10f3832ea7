//! Any byte stream, cut anywhere and with gaps, never panics the Modbus framer, decoder or
//! pairing; the probe never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::modbus::{parse_pdu, state::probe, Event, ModbusFlow};
use otsensor_protocols::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let mut flow = ModbusFlow::new();
    let mut n = 0u64;
    for (i, chunk) in rest.chunks(usize::from(ctl % 64) + 1).enumerate() {
        let dir = if (ctl >> 6) & 1 == (i as u8 & 1) { Direction::Request } else { Direction::Response };
        if ctl & 0x80 != 0 && i % 7 == 3 {
            flow.gap(dir);
        }
        flow.feed(dir, chunk, i as i64 * 1_000_000_000, &mut |e| {
            if let Event::Pdu(r) = e {
                n += r.pdu.flags.names().count() as u64;
            }
        });
    }
    flow.finish();
    let _ = parse_pdu(rest, Direction::Request);
    let _ = parse_pdu(rest, Direction::Response);
    let _ = probe(rest, ctl & 1 == 1, ctl & 2 == 2);
    let _ = n;
});
