//! Any frame never panics the GOOSE and Sampled Values readers, and what they return stays
//! bounded (dataset values, ASDUs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::goose;
use otsensor_protocols::mms::data::MAX_VALUES;

fn leaves(v: &[otsensor_protocols::mms::data::Value]) -> usize {
    v.iter()
        .map(|x| match x {
            otsensor_protocols::mms::data::Value::List(l) => 1 + leaves(l),
            _ => 1,
        })
        .sum()
}

fuzz_target!(|data: &[u8]| {
    if let Some((h, pdu)) = goose::header(data) {
        // The stream id the dispatcher shards by lies inside the PDU.
        if let Some(id) = goose::stream_id(&h, pdu) {
            assert!(id.len() <= pdu.len());
        }
        if let Some(g) = goose::goose(pdu) {
            assert!(leaves(&g.all_data) <= MAX_VALUES);
        }
        if let Some(a) = goose::sv(pdu) {
            assert!(a.len() <= goose::MAX_ASDUS);
            // Summaries never panic on what a frame says (counters, wraps, ids).
            let mut s = goose::summary::SvStreams::default();
            for (i, x) in a.iter().enumerate() {
                let at = goose::summary::Heard { flow_id: 0, packet: i as u64 };
                let _ = s.asdu(i as i64 * 250_000, h.src, at, x);
            }
            let _ = s.due(i64::MAX);
        }
    }
    if let Some(g) = goose::goose(data) {
        assert!(leaves(&g.all_data) <= MAX_VALUES);
    }
});
