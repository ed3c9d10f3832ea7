//! What the parser benches share: a capture's payloads, and the two throughput groups.

use std::path::Path;

use criterion::{Criterion, Throughput};

use otsensor::decode::{decode, LinkType};
use otsensor_benches::load_pcap;
use otsensor_protocols::Direction;

/// A capture's non-empty payloads to or from `port`, in order, with their direction (to
/// `port` = request). A capture of the project that cannot be read, or carries nothing on
/// `port`, stops the bench with its path; a capture of the shared corpus that is not here is
/// said on stderr and skipped (`None`), or stops the bench under
/// `OTSENSOR_REQUIRE_TEST_INPUTS=1` (CI). Never a bench that silently measures nothing.
pub fn payloads(path: &Path, port: u16) -> Option<Vec<(Direction, Vec<u8>)>> {
    let shared = path.components().any(|c| c.as_os_str() == "shared");
    let required = std::env::var_os("OTSENSOR_REQUIRE_TEST_INPUTS").is_some_and(|v| v == "1");
    if shared && !required && !path.exists() {
        eprintln!(
            "skipped {}: the shared corpus is not here (../shared/pcaps)",
            path.display()
        );
        return None;
    }
    let (dlt, frames) =
        load_pcap(path).unwrap_or_else(|e| panic!("bench capture {}: {e}", path.display()));
    let link = LinkType::from_dlt(dlt);
    let segs: Vec<_> = frames
        .iter()
        .filter_map(|f| {
            let s = decode(link, &f.data).ok()?;
            let p = f
                .data
                .get(s.payload_off as usize..(s.payload_off + s.payload_len) as usize)?;
            (!p.is_empty() && (s.dport == port || s.sport == port)).then(|| {
                let d = if s.dport == port {
                    Direction::Request
                } else {
                    Direction::Response
                };
                (d, p.to_vec())
            })
        })
        .collect();
    assert!(
        !segs.is_empty(),
        "bench capture {}: no payload on port {port}",
        path.display()
    );
    Some(segs)
}

/// Benchmarks `run` over `segs` as `what` in group `group`: per `unit` (`elements` of them
/// per run) and per payload byte.
pub fn parse_throughput(
    c: &mut Criterion,
    group: &str,
    what: &str,
    unit: &str,
    elements: u64,
    segs: &[(Direction, Vec<u8>)],
    run: impl Fn(&[(Direction, Vec<u8>)]) -> u64,
) {
    let bytes: u64 = segs.iter().map(|(_, p)| p.len() as u64).sum();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(elements));
    g.bench_function(format!("{what} ({unit})"), |b| b.iter(|| run(segs)));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(format!("{what} (bytes)"), |b| b.iter(|| run(segs)));
    g.finish();
}
