//! Any frame never panics the PROFINET readers (header, DCP, alarm), and a DCP PDU stays
//! bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::profinet;

fuzz_target!(|data: &[u8]| {
    if let Some((_, id, rest)) = profinet::header(data) {
        if let Some(p) = profinet::dcp(id, rest) {
            assert!(p.blocks.len() <= profinet::MAX_BLOCKS);
            let _ = p.changes_station();
        }
        let _ = profinet::alarm(rest);
    }
    if let Some((id, rest)) = profinet::frame(data) {
        let _ = profinet::dcp(id, rest);
    }
    let mut out = Vec::new();
    otsensor_protocols::identity::l2_frame(data, &mut out);
});
