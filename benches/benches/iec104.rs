//! The IEC 60870-5-104 stack alone (APCI framing, sequence checks, ASDU decoding with values
//! and time tags) on the TCP payloads of real captures: APDUs per second.

mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::iec104::{Event, Iec104Flow};
use otsensor_protocols::Direction;

fn run(segs: &[(Direction, Vec<u8>)]) -> u64 {
    let mut flow = Iec104Flow::default();
    let mut n = 0u64;
    for (d, p) in segs {
        flow.feed(*d, p, 0, &mut |e| {
            n += u64::from(matches!(e, Event::Apdu(_)))
        });
    }
    n
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, path) in [
        (
            "090813_diverse",
            root.join("../pcaps/iec104/iti-090813-diverse/090813_diverse.pcap"),
        ),
        (
            "TestDissectIec104",
            root.join("../pcaps/iec104/iti-test-dissect-iec104/TestDissectIec104.pcap"),
        ),
    ] {
        let Some(segs) = common::payloads(&path, 2404) else {
            continue;
        };
        let n = run(&segs);
        common::parse_throughput(
            c,
            &format!("iec104/{name}"),
            "parse",
            "APDUs",
            n,
            &segs,
            run,
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
