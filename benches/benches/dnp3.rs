//! The DNP3 stack alone (link framing with CRCs, transport reassembly, application objects and
//! points, pairing) on the TCP payloads of real captures: fragments per second.

mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use otsensor_protocols::dnp3::{Config, Dnp3Flow, Event};
use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::Direction;

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
        let Some(segs) = common::payloads(&path, 20000) else {
            continue;
        };
        let frags = run(&segs);
        common::parse_throughput(
            c,
            &format!("dnp3/{name}"),
            "parse",
            "fragments",
            frags,
            &segs,
            run,
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
