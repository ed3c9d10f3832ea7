//! Any byte stream, cut anywhere and with gaps, never panics the IEC 104 framer, the ASDU
//! decoder or the sequence checks; the probe never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::iec104::{parser, state, Event, Iec104Flow};
use otsensor_protocols::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let mut flow = Iec104Flow::default();
    let mut n = 0u64;
    for (i, chunk) in rest.chunks(usize::from(ctl % 64) + 1).enumerate() {
        let dir = if (ctl >> 6) & 1 == (i as u8 & 1) { Direction::Request } else { Direction::Response };
        if ctl & 0x80 != 0 && i % 7 == 3 {
            flow.gap(dir);
        }
        flow.feed(dir, chunk, 0, &mut |e| {
            if let Event::Apdu(r) = e {
                n += r.flags.names().count() as u64;
            }
        });
    }
    let _ = parser::asdu(rest);
    let _ = parser::frame(rest);
    let _ = state::probe(rest);
    let _ = n;
});
