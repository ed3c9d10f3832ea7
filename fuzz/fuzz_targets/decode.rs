//! Any bytes, under any supported link type, decode to a summary or an error — never a panic,
//! and a summary's payload always lies inside the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor::decode::{decode, LinkType};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else { return };
    let dlt = [1, 113, 276, 0, 108, 101, 228][usize::from(sel) % 7];
    if let Ok(s) = decode(LinkType::from_dlt(dlt), frame) {
        let end = s.payload_off as usize + s.payload_len as usize;
        assert!(end <= frame.len());
    }
});
