//! The S7comm stack alone (TPKT/COTP framing and reassembly, S7 header, parameters, data items,
//! pairing) on the TCP payloads of real captures: PDUs per second.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use otsensor::decode::{decode, LinkType};
use otsensor_benches::load_pcap;
use otsensor_protocols::s7comm::{Event, S7Flow};
use otsensor_protocols::Direction;

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
            (!p.is_empty() && (s.dport == 102 || s.sport == 102)).then(|| {
                let d = if s.dport == 102 {
                    Direction::Request
                } else {
                    Direction::Response
                };
                (d, p.to_vec())
            })
        })
        .collect()
}

fn run(segs: &[(Direction, Vec<u8>)]) -> u64 {
    let mut flow = S7Flow::new();
    let mut n = 0u64;
    for (d, p) in segs {
        flow.feed(*d, p, 0, &mut |e| {
            n += u64::from(matches!(e, Event::S7(_) | Event::Plus(..)))
        });
    }
    n
}

fn bench(c: &mut Criterion) {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/s7comm");
    for (name, path) in [
        (
            "Plant1_S7comm",
            shared.join("ct-samples__Plant1_S7comm.pcap"),
        ),
        (
            "s7comm_varservice_libnodavedemo_bench",
            shared.join("iti-ics__s7comm_varservice_libnodavedemo_bench.pcap"),
        ),
    ] {
        let segs = segments(&path);
        if segs.is_empty() {
            continue;
        }
        let n = run(&segs);
        let bytes: u64 = segs.iter().map(|(_, p)| p.len() as u64).sum();
        let mut g = c.benchmark_group(format!("s7comm/{name}"));
        g.throughput(Throughput::Elements(n));
        g.bench_function("parse (PDUs)", |b| b.iter(|| run(&segs)));
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function("parse (bytes)", |b| b.iter(|| run(&segs)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
