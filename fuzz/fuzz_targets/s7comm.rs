//! Any byte stream, cut anywhere and with gaps, never panics TPKT/COTP framing and
//! reassembly, the S7comm and S7comm-plus parsers or pairing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::s7comm::parser::{parse_cotp, parse_s7};
use otsensor_protocols::s7comm::plus::parse_plus;
use otsensor_protocols::s7comm::state::probe;
use otsensor_protocols::s7comm::S7Flow;
use otsensor_protocols::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let mut flow = S7Flow::new();
    for (i, chunk) in rest.chunks(usize::from(ctl % 64) + 1).enumerate() {
        let dir = if (ctl >> 6) & 1 == (i as u8 & 1) { Direction::Request } else { Direction::Response };
        if ctl & 0x80 != 0 && i % 5 == 2 {
            flow.gap(dir);
        }
        flow.feed(dir, chunk, i as i64, &mut |_| {});
    }
    flow.finish();
    let _ = parse_s7(rest);
    let _ = parse_cotp(rest);
    let _ = parse_plus(rest);
    let _ = probe(rest, ctl & 1 == 1);
});
