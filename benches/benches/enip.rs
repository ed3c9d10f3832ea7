//! The EtherNet/IP + CIP stack alone (encapsulation framing, CPF, CIP requests and replies
//! with EPATH, Multiple Service Packet and Unconnected Send unwrapping, pairing) on the TCP
//! payloads of real captures: CIP messages per second.

mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use otsensor_protocols::enip::{EnipFlow, Event};
use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::Direction;

fn run(segs: &[(Direction, Vec<u8>)]) -> u64 {
    let mut flow = EnipFlow::default();
    let mut n = 0u64;
    for (d, p) in segs {
        flow.feed(*d, p, 0, &mut |e| {
            n += u64::from(matches!(e, Event::Cip(_)))
        });
    }
    n
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../../shared/pcaps/enip-cip");
    for (name, path) in [
        (
            "EIP-SoftwareUpload",
            root.join("../pcaps/enip/iti-eip-software-upload/EIP-SoftwareUpload.pcap"),
        ),
        (
            "EthernetIP-CIP",
            shared.join("iti-ics__EthernetIP-CIP.pcap"),
        ),
    ] {
        let Some(segs) = common::payloads(&path, 44818) else {
            continue;
        };
        let n = run(&segs);
        common::parse_throughput(
            c,
            &format!("enip/{name}"),
            "parse",
            "CIP messages",
            n,
            &segs,
            run,
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
