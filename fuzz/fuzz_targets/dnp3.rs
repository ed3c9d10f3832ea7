//! Any byte stream, cut anywhere and with gaps, never panics DNP3 link framing, transport
//! reassembly, the application parser or pairing. Built with cfg(fuzzing), every CRC checks,
//! so the fuzzer reaches the layers above the link layer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::dnp3::parser::{parse_fragment, Caps};
use otsensor_protocols::dnp3::{state::probe, Config, Dnp3Flow};
use otsensor_protocols::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let cfg = Config { max_fragment_len: 512, ..Config::default() };
    let mut flow = Dnp3Flow::new(cfg);
    for (i, chunk) in rest.chunks(usize::from(ctl % 64) + 1).enumerate() {
        let dir = if (ctl >> 6) & 1 == (i as u8 & 1) { Direction::Request } else { Direction::Response };
        if ctl & 0x80 != 0 && i % 5 == 2 {
            flow.gap(dir);
        }
        flow.feed(dir, chunk, i as i64, &mut |_| {});
    }
    flow.datagram(Direction::Request, rest, 0, &mut |_| {});
    flow.finish();
    let _ = parse_fragment(rest, &Caps::default());
    let _ = probe(rest, ctl & 1 == 1);
});
