//! Arbitrary segments and acknowledgements never panic the reassembler, and it never
//! delivers more bytes than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor::flow::{ReassemblyConfig, StreamEvent, TcpCounters, TcpStream};

fuzz_target!(|data: &[u8]| {
    let cfg = ReassemblyConfig { max_ooo_bytes: 4096, max_ooo_segments: 16 };
    let mut s = TcpStream::default();
    let mut c = TcpCounters::default();
    let mut delivered = 0u64;
    let mut given = 0u64;
    let mut emit = |e: StreamEvent<'_>| {
        if let StreamEvent::Data(d) = e {
            delivered += d.len() as u64;
        }
    };
    for chunk in data.chunks(8) {
        if chunk.len() < 8 {
            break;
        }
        let seq = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) % 4096;
        let len = usize::from(chunk[4]);
        let flags = chunk[5] & 0x1f;
        if chunk[6] & 1 == 1 {
            s.on_peer_ack(seq, &mut c, &mut emit);
        } else {
            let payload = vec![chunk[7]; len];
            given += len as u64;
            s.on_segment(seq, flags, &payload, &cfg, &mut c, &mut emit);
        }
    }
    s.flush(&mut c, &mut emit);
    assert!(delivered <= given);
});
