//! The S7comm stack alone (TPKT/COTP framing and reassembly, S7 header, parameters, data items,
//! pairing) on the TCP payloads of real captures: PDUs per second.

mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::s7comm::{Event, S7Flow};
use otsensor_protocols::Direction;

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
        let Some(segs) = common::payloads(&path, 102) else {
            continue;
        };
        let n = run(&segs);
        common::parse_throughput(c, &format!("s7comm/{name}"), "parse", "PDUs", n, &segs, run);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
