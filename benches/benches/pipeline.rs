//! Per-packet cost of the sensor core: decode, and decode + flow lookup + TCP reassembly +
//! protocol dispatch (one worker, no threads), on a real capture and a synthetic one; and the
//! same learning a baseline, or detecting against the baseline learned from the same packets
//! (so the cost of the baseline rules on traffic that conforms, as on a plant's normal day).

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use otsensor::config::Config;
use otsensor::decode::{decode, LinkType};
use otsensor::pipeline::batch::Batch;
use otsensor::pipeline::worker::{Worker, WorkerConfig};
use otsensor::registry::Registry;
use otsensor_baselines::assets::AssetInventory;
use otsensor_baselines::baseline::{Baseline, Caps, Learner};
use otsensor_baselines::detector::{DetectorConfig, Mode, Shared};
use otsensor_baselines::time::Timestamp;
use otsensor_baselines::zones::ZoneMap;
use otsensor_benches::{load_pcap, modbus_polling, Frame};

fn inputs() -> Vec<(String, LinkType, Vec<Frame>)> {
    let mut v = vec![(
        "synthetic-modbus-100x200".to_string(),
        LinkType::Ethernet,
        modbus_polling(100, 200),
    )];
    let real =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pcaps/modbus/iti-modbustcp/ModbusTCP.pcap");
    // The project's own capture: a bench without it would measure less than it says.
    let (dlt, frames) =
        load_pcap(&real).unwrap_or_else(|e| panic!("bench capture {}: {e}", real.display()));
    v.push((
        "ModbusTCP.pcap".to_string(),
        LinkType::from_dlt(dlt),
        frames,
    ));
    v
}

/// The detector's shared state: no zones, baseline `b`, in `mode`.
fn shared(mode: Mode, b: Baseline) -> Arc<Shared> {
    Arc::new(Shared::new(
        ZoneMap::default(),
        Learner::from_baseline(b, Caps::default()),
        DetectorConfig {
            mode,
            ..DetectorConfig::default()
        },
        Arc::new(AssetInventory::default()),
    ))
}

fn run_worker(link: LinkType, frames: &[Frame], batches: &mut [Batch], sh: Arc<Shared>) -> u64 {
    let cfg = WorkerConfig::from_config(&Config::default(), 1, false);
    let mut w = Worker::new(cfg, Arc::new(Registry::builtin()), sh);
    let mut clock = Timestamp::default();
    let mut i = 0u64;
    let hasher = otsensor::flow::FlowHasher::fixed();
    for (chunk, batch) in frames.chunks(512).zip(batches.iter_mut()) {
        batch.clear();
        for f in chunk {
            let ts = Timestamp::from_nanos(f.ts_us as i64 * 1000);
            clock = clock.max(ts);
            if let Ok(sum) = decode(link, &f.data) {
                let start = sum.payload_off as usize;
                let payload = &f.data[start..start + sum.payload_len as usize];
                // As the dispatcher does: the flow key hashed once.
                let hash = hasher.packet(&sum);
                batch.push(i, 0, ts, clock, f.data.len() as u32, (sum, hash), payload);
            }
            i += 1;
        }
        batch.now = clock;
        batch.upto = i;
        w.process_batch(batch);
    }
    w.finish().packets
}

fn bench(c: &mut Criterion) {
    for (name, link, frames) in inputs() {
        let bytes: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
        let mut g = c.benchmark_group(format!("core/{name}"));
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function("decode", |b| {
            b.iter(|| {
                frames
                    .iter()
                    .filter(|f| decode(link, &f.data).is_ok())
                    .count()
            })
        });
        let mut batches: Vec<Batch> = (0..frames.len().div_ceil(512))
            .map(|_| Batch::default())
            .collect();
        // Parsers, assets and zone policy; no baseline.
        let none = || shared(Mode::PolicyOnly, Baseline::default());
        g.bench_function("decode+flows+reassembly+parse", |b| {
            b.iter(|| run_worker(link, &frames, &mut batches, none()))
        });
        // The same, learning a baseline (edges, functions, ranges, timing histograms).
        g.bench_function("decode+flows+reassembly+parse+learn", |b| {
            b.iter(|| {
                let sh = shared(Mode::Learn, Baseline::default());
                run_worker(link, &frames, &mut batches, sh)
            })
        });
        // Detecting against what that learned.
        let learning = shared(Mode::Learn, Baseline::default());
        run_worker(link, &frames, &mut batches, learning.clone());
        let learned = learning.learner.to_baseline();
        g.bench_function("decode+flows+reassembly+parse+detect", |b| {
            b.iter_batched(
                || shared(Mode::Detect, learned.clone()),
                |sh| run_worker(link, &frames, &mut batches, sh),
                BatchSize::SmallInput,
            )
        });
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function("decode+flows+reassembly+parse (bytes)", |b| {
            b.iter(|| run_worker(link, &frames, &mut batches, none()))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
