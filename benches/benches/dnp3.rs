//! The DNP3 stack alone (link framing with CRCs, transport reassembly, application objects and
//! points, pairing) on the TCP payloads of real captures: fragments per second.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use otsensor::decode::{decode, LinkType};
use otsensor_benches::load_pcap;
use otsensor_protocols::dnp3::{Config, Dnp3Flow, Event};
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
            (!p.is_empty()).then(|| {
                let d = if s.dport == 20000 {
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
    let mut flow = Dnp3Flow::new(Config::default());
    let mut n = 0u64;
    for (d, p) in segs {
        flow.feed(*d, p, 0, &mut |e| {
            n += u64::from(matches!(e, Event::Fragment(_)))
        });
    }
    n
}

fn bench(c: &mut Criterion) {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pcaps/dnp3");
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcaps/dnp3");
    for (name, path) in [
        (
            "suricata-verify dnp3-eve",
            shared.join("suricata-verify__dnp3-eve__input.pcap"),
        ),
        ("zeek dnp3", shared.join("zeek__dnp3.pcap")),
        (
            "suricata-verify dnp3-flood",
            own.join("suricata-verify-dnp3-flood/input.pcap"),
        ),
    ] {
        let segs = segments(&path);
        if segs.is_empty() {
            continue;
        }
        let frags = run(&segs);
        let bytes: u64 = segs.iter().map(|(_, p)| p.len() as u64).sum();
        let mut g = c.benchmark_group(format!("dnp3/{name}"));
        g.throughput(Throughput::Elements(frags));
        g.bench_function("parse (fragments)", |b| b.iter(|| run(&segs)));
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function("parse (bytes)", |b| b.iter(|| run(&segs)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
