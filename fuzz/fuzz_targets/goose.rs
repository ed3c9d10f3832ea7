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
    if let Some((_, pdu)) = goose::header(data) {
        if let Some(g) = goose::goose(pdu) {
            assert!(leaves(&g.all_data) <= MAX_VALUES);
        }
        if let Some(a) = goose::sv(pdu) {
            assert!(a.len() <= goose::MAX_ASDUS);
        }
    }
    if let Some(g) = goose::goose(data) {
        assert!(leaves(&g.all_data) <= MAX_VALUES);
    }
});
