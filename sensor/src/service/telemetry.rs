//! The running sensor's counters, as the threads that own them last published them: what
//! `/metrics`, `/health`, the periodic `--stats` and the health alerts read while it runs.
//!
//! Every thread keeps counting in its own plain integers (the hot path takes no lock and
//! touches no shared cache line); it copies them here at most every [`PUBLISH_EVERY`], and on
//! every idle round, so a quiet sensor's published counters are exact.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use prometheus_client::metrics::histogram::Histogram;

use crate::capture::live::Interface;
use crate::capture::InputReport;
use crate::output::OutputSnapshot;
use crate::pipeline::dispatch::DispatchStats;
use crate::pipeline::worker::WorkerStats;
use crate::pipeline::PipelineReport;
use crate::registry::Registry;
use crate::stats::Stats;

/// How often a busy thread publishes its counters.
pub use crate::pipeline::PUBLISH_EVERY;

/// Buckets of the packet-to-alert latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Shared by the pipeline's threads, the health monitor and the metrics server.
#[derive(Debug)]
pub struct Telemetry {
    /// `replay` or `capture`.
    pub mode: &'static str,
    /// Capture interfaces (live capture).
    pub interfaces: Vec<Arc<Interface>>,
    started: Instant,
    dispatch: Mutex<DispatchStats>,
    queues: Mutex<Vec<usize>>,
    workers: Vec<Mutex<(WorkerStats, usize)>>,
    output: Mutex<OutputSnapshot>,
    /// Seconds from a packet's capture to the first write of the alert it raised.
    pub latency: Histogram,
    /// Why the sensor is degraded now (rule: reason), from the health monitor.
    health: Mutex<Vec<String>>,
    /// The last periodic baseline save's error, if it failed.
    baseline_save: Mutex<Option<String>>,
    /// Baseline entries: edges, assets, learned alerts.
    baseline: Mutex<[usize; 3]>,
    /// The detector's shared model (its refusals at caps go into the stats).
    shared: std::sync::OnceLock<Arc<otsensor_baselines::detector::Shared>>,
}

impl Telemetry {
    /// Telemetry for `workers` workers and these capture interfaces.
    pub fn new(mode: &'static str, workers: usize, interfaces: Vec<Arc<Interface>>) -> Telemetry {
        Telemetry {
            mode,
            interfaces,
            started: Instant::now(),
            dispatch: Mutex::default(),
            queues: Mutex::default(),
            workers: (0..workers.max(1)).map(|_| Mutex::default()).collect(),
            output: Mutex::default(),
            latency: Histogram::new(LATENCY_BUCKETS),
            health: Mutex::default(),
            baseline_save: Mutex::default(),
            baseline: Mutex::default(),
            shared: std::sync::OnceLock::new(),
        }
    }

    /// Hosts the full asset inventory did not add.
    pub fn assets_refused(&self) -> u64 {
        self.shared.get().map_or(0, |s| s.assets.refused())
    }

    /// The detector's shared model, once it exists.
    pub fn set_shared(&self, shared: Arc<otsensor_baselines::detector::Shared>) {
        let _ = self.shared.set(shared);
    }

    /// Number of workers.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// The reader side's counters and the worker queues' depths.
    pub fn publish_dispatch(&self, d: DispatchStats, queues: Vec<usize>) {
        *lock(&self.dispatch) = d;
        *lock(&self.queues) = queues;
    }

    /// Worker `i`'s counters and the flows it holds.
    pub fn publish_worker(&self, i: usize, s: (WorkerStats, usize)) {
        if let Some(w) = self.workers.get(i) {
            *lock(w) = s;
        }
    }

    /// The output thread's counters.
    pub fn publish_output(&self, o: OutputSnapshot) {
        *lock(&self.output) = o;
    }

    /// The baseline's size.
    pub fn publish_baseline(&self, edges: usize, assets: usize, alerts: usize) {
        *lock(&self.baseline) = [edges, assets, alerts];
    }

    /// The outcome of a periodic baseline save.
    pub fn baseline_saved(&self, result: Result<(), String>) {
        *lock(&self.baseline_save) = result.err();
    }

    /// The last periodic baseline save's error.
    pub fn baseline_save_error(&self) -> Option<String> {
        lock(&self.baseline_save).clone()
    }

    /// Sets the reasons the sensor is degraded.
    pub fn set_health(&self, reasons: Vec<String>) {
        *lock(&self.health) = reasons;
    }

    /// Why the sensor is degraded (empty: it is ok).
    pub fn health(&self) -> Vec<String> {
        lock(&self.health).clone()
    }

    /// The output thread's last snapshot.
    pub fn output(&self) -> OutputSnapshot {
        lock(&self.output).clone()
    }

    /// Reader-side counters as last published.
    pub fn dispatch(&self) -> DispatchStats {
        lock(&self.dispatch).clone()
    }

    /// Worker queue depths.
    pub fn queue_depths(&self) -> Vec<usize> {
        lock(&self.queues).clone()
    }

    /// Flows held now, over all workers.
    pub fn flows_active(&self) -> u64 {
        self.workers.iter().map(|w| lock(w).1 as u64).sum()
    }

    /// Baseline entries: edges, assets, learned alerts.
    pub fn baseline(&self) -> [usize; 3] {
        *lock(&self.baseline)
    }

    /// The pipeline's counters as last published.
    pub fn report(&self) -> PipelineReport {
        let mut workers = WorkerStats::default();
        for w in &self.workers {
            workers.add(&lock(w).0);
        }
        let out = self.output();
        PipelineReport {
            dispatch: self.dispatch(),
            workers,
            output: out.events,
            worker_count: self.workers.len(),
            alerts: out.alerts,
        }
    }

    /// Each capture interface's counters now.
    pub fn interface_stats(&self) -> Vec<crate::capture::live::InterfaceStats> {
        self.interfaces.iter().map(|i| i.stats()).collect()
    }

    /// The stats document of `report`, with what telemetry knows besides: per-interface
    /// counters (and their sum) and what the detector's model refused at its caps. The final
    /// `--stats` and the running ones are both built here.
    pub fn stats_of(
        &self,
        report: &PipelineReport,
        registry: &Registry,
        inputs: Vec<InputReport>,
        elapsed_secs: f64,
    ) -> Stats {
        let ifaces = self.interface_stats();
        let capture = (!ifaces.is_empty()).then(|| crate::capture::live::totals(&ifaces));
        let mut s = Stats::build(self.mode, inputs, report, registry, capture, elapsed_secs);
        s.interfaces = ifaces;
        if let Some(sh) = self.shared.get() {
            s.add_model(sh);
        }
        s
    }

    /// The stats document as of the last publications (what `--stats` holds at exit, and
    /// what `/metrics` shows).
    pub fn stats(&self, registry: &Registry, replay_inputs: &[InputReport]) -> Stats {
        let inputs = if self.interfaces.is_empty() {
            replay_inputs.to_vec()
        } else {
            self.interfaces.iter().map(|i| i.report()).collect()
        };
        self.stats_of(
            &self.report(),
            registry,
            inputs,
            self.started.elapsed().as_secs_f64(),
        )
    }
}

impl crate::pipeline::Publish for Telemetry {
    fn worker(&self, i: usize, s: (WorkerStats, usize)) {
        self.publish_worker(i, s);
    }

    fn output(&self, o: OutputSnapshot) {
        self.publish_output(o);
    }
}
