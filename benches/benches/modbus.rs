//! The Modbus parser alone (framing, PDU decoding, pairing) on the reassembled streams of a
//! real capture: PDUs per second.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use otsensor::decode::{decode, LinkType};
use otsensor_benches::load_pcap;
use otsensor_protocols::modbus::{Event, ModbusFlow};
use otsensor_protocols::Direction;

/// The TCP payloads of a capture in order, with their direction (to port 502 = request).
fn segments(path: &Path) -> Vec<(Direction, Vec<u8>)> {
    let Ok((dlt, frames)) = load_pcap(path) else {
        return Vec::new();
    };
    let link = LinkType::from_dlt(dlt);
    frames
        .iter()
        .filter_map(|f| {
            let s = decode(link, &f.data).ok()?;
            let p = f
                .data
                .get(s.payload_off as usize..(s.payload_off + s.payload_len) as usize)?;
            if p.is_empty() {
                return None;
            }
            let dir = if s.dport == 502 {
                Direction::Request
            } else {
                Direction::Response
            };
            Some((dir, p.to_vec()))
        })
        .collect()
}

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
    let segs = segments(&root.join("pcaps/modbus/iti-modbustcp/ModbusTCP.pcap"));
    if segs.is_empty() {
        return;
    }
    // Count PDUs once (the capture holds 15,976: some segments carry two, one run spans many).
    let mut flow = ModbusFlow::new();
    let mut pdus = 0u64;
    for (dir, p) in &segs {
        flow.feed(*dir, p, 0, &mut |e| {
            pdus += u64::from(matches!(e, Event::Pdu(_)))
        });
    }
    let bytes: u64 = segs.iter().map(|(_, p)| p.len() as u64).sum();
    let mut g = c.benchmark_group("modbus/ModbusTCP.pcap");
    g.throughput(Throughput::Elements(pdus));
    g.bench_function("parse+pair (PDUs)", |b| b.iter(|| run(&segs)));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("parse+pair (bytes)", |b| b.iter(|| run(&segs)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
