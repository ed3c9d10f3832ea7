//! The whole chain on arbitrary frames: decode -> flows and reassembly -> protocol parsers ->
//! detector (zone policy, learning) -> anomaly engine -> alert records in every format. Never
//! a panic. Input: frames, each a big-endian u16 length then that many bytes of Ethernet.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use otsensor::config::Config;
use otsensor::decode::{decode, LinkType};
use otsensor::output::alerts::{AlertOutput, AlertSettings};
use otsensor::output::format::AlertFormat;
use otsensor::output::sink::Sink;
use otsensor::pipeline::batch::Batch;
use otsensor::pipeline::worker::{Worker, WorkerConfig};
use otsensor::registry::Registry;
use otsensor_baselines::alert::{AlertStore, SensorInfo};
use otsensor_baselines::anomaly::{AnomalyConfig, AnomalyEngine};
use otsensor_baselines::assets::AssetInventory;
use otsensor_baselines::baseline::Learner;
use otsensor_baselines::detector::{DetectorConfig, Mode, Shared};
use otsensor_baselines::time::Timestamp;
use otsensor_baselines::zones::{ConduitConfig, ZoneConfig, ZoneMap};

fn zones() -> ZoneMap {
    let zone = |name: &str, cidr: &str| ZoneConfig {
        name: name.into(),
        cidrs: vec![cidr.parse().unwrap()],
        macs: vec![],
        vlans: vec![],
        interfaces: vec![],
        purdue: None,
    };
    ZoneMap::new(
        vec![zone("control", "10.0.0.0/16"), zone("cell", "192.168.0.0/16")],
        vec![ConduitConfig {
            from: "control".into(),
            to: "cell".into(),
            protocols: vec!["modbus".into(), "s7comm".into()],
            operations: None,
            ports: vec![],
        }],
        "unzoned",
    )
}

fuzz_target!(|data: &[u8]| {
    let shared = Arc::new(Shared::new(
        zones(),
        Learner::default(),
        DetectorConfig { mode: Mode::Learn, ..DetectorConfig::default() },
        Arc::new(AssetInventory::default()),
    ));
    let mut cfg = WorkerConfig::from_config(&Config::default(), 1, true);
    // Flow records too: labels, history, interim and final records.
    cfg.flows = true;
    let mut w = Worker::new(cfg, Arc::new(Registry::builtin()), shared.clone());
    let mut batch = Batch::default();
    let hasher = otsensor::flow::FlowHasher::fixed();
    let (mut rest, mut i) = (data, 0u64);
    while let [a, b, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (frame, next) = tail.split_at(n);
        rest = next;
        let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 10_000_000);
        if let Ok(sum) = decode(LinkType::Ethernet, frame) {
            let start = sum.payload_off as usize;
            let payload = &frame[start..start + sum.payload_len as usize];
            let hash = hasher.packet(&sum);
            batch.push(i, 0, ts, ts, frame.len() as u32, (sum, hash), payload);
        }
        batch.now = ts;
        i += 1;
    }
    batch.upto = i;
    w.process_batch(&batch);
    w.finish();
    let out = w.take_events(u64::MAX, Default::default(), Default::default());
    let sinks = [AlertFormat::Json, AlertFormat::Ocsf, AlertFormat::Cef, AlertFormat::Leef]
        .into_iter()
        .map(|f| Sink::writer("fuzz", Box::new(std::io::sink()), f))
        .collect();
    let store = AlertStore::new(SensorInfo { id: "fuzz".into(), site: String::new() }, 300);
    let mut alerts = AlertOutput::new(AlertSettings::new(
        store,
        AnomalyEngine::new(AnomalyConfig::default()),
        shared,
        sinks,
    ));
    for (_, s) in out.alerts {
        alerts.signal(s);
    }
    alerts.tick();
    alerts.finish();
});
