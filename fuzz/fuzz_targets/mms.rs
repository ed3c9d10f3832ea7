//! Any bytes never panic the BER reader, the ISO session/presentation/ACSE unwrapping or the
//! MMS PDU reader, and what they return stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::mms::{self, pdu::MAX_NAME, pdu::MAX_OBJECTS};

fuzz_target!(|data: &[u8]| {
    let _ = mms::ber::children(data).count();
    for s in [mms::session(data), mms::bare(data)].into_iter().flatten() {
        if let Some(p) = s.mms.and_then(mms::parse) {
            assert!(p.objects.len() <= MAX_OBJECTS);
            assert!(p.objects.iter().all(|o| o.len() <= 2 * MAX_NAME + 1));
        }
    }
    if let Some(p) = mms::parse(data) {
        assert!(p.objects.len() <= MAX_OBJECTS);
    }
});
