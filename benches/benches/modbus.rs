//! The Modbus parser alone (framing, PDU decoding, pairing) on the reassembled streams of a
//! real capture: PDUs per second.

mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::modbus::{Event, ModbusFlow};
use otsensor_protocols::Direction;

fn run(segs: &[(Direction, Vec<u8>)]) -> u64 {
    let mut flow = ModbusFlow::new();
    let mut pdus = 0u64;
    for (i, (dir, p)) in segs.iter().enumerate() {
        flow.feed(*dir, p, i as i64, &mut |e| {
            if let Event::Pdu(r) = e {
                pdus += 1 + u64::from(r.pdu.flags.is_empty());
            }
        });
    }
    pdus
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let Some(segs) = common::payloads(&root.join("pcaps/modbus/iti-modbustcp/ModbusTCP.pcap"), 502)
    else {
        return;
    };
    // Count PDUs once (the capture holds 15,976: some segments carry two, one run spans many).
    let mut flow = ModbusFlow::new();
    let mut pdus = 0u64;
    for (dir, p) in &segs {
        flow.feed(*dir, p, 0, &mut |e| {
            pdus += u64::from(matches!(e, Event::Pdu(_)))
        });
    }
    common::parse_throughput(
        c,
        "modbus/ModbusTCP.pcap",
        "parse+pair",
        "PDUs",
        pdus,
        &segs,
        run,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
