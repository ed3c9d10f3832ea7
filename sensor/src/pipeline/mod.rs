//! The packet pipeline: reader → dispatcher → N workers → output, over bounded channels.
//!
//! ```text
//! reader thread: capture source → Dispatcher (decode, flow hash, batch per worker)
//!        │ one Batch per worker per round (bounded; block or drop when full)
//!        ▼
//! worker threads: flow table, TCP reassembly, protocol handlers → events
//!        │ one OutBatch per round
//!        ▼
//! output thread: merge rounds in input order → --events writer; anomaly engine, alert
//!                aggregation → alert sinks
//! ```
//! Batches and event buffers are recycled through return channels, so the steady state
//! allocates nothing per packet.

mod application;
pub mod batch;
pub mod dispatch;
pub mod evidence;
pub mod flowrec;
mod flowstate;
pub mod merge;
pub mod substation;
pub mod worker;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context};
use crossbeam_channel::{bounded, unbounded};

use otsensor_baselines::detector::Shared;
use otsensor_baselines::time::Timestamp;

use crate::config::Config;
use crate::output::OutputSnapshot;
use crate::registry::Registry;

use self::batch::Batch;
use self::dispatch::{DispatchStats, Dispatcher};
use self::merge::merge_rounds;
use self::worker::{Worker, WorkerConfig, WorkerStats};
use crate::events::OutBatch;
use crate::output::alerts::AlertOutput;
use crate::output::alerts::AlertsReport;
use crate::output::OutputReport;

/// Everything the pipeline counted, once it has drained.
#[derive(Debug)]
pub struct PipelineReport {
    /// Reader-side counters.
    pub dispatch: DispatchStats,
    /// Worker counters, summed.
    pub workers: WorkerStats,
    /// Output thread results.
    pub output: OutputReport,
    /// Number of workers that ran.
    pub worker_count: usize,
    /// Alerts: distinct alerts, records written, observations, the first write error.
    pub alerts: AlertsReport,
}

/// A running pipeline. Feed packets through [`Pipeline::dispatcher`], then [`Pipeline::finish`].
pub struct Pipeline {
    dispatcher: Mutex<Dispatcher>,
    workers: Vec<JoinHandle<WorkerStats>>,
    output: JoinHandle<(OutputReport, AlertOutput)>,
    worker_count: usize,
    linger: Option<(Arc<std::sync::atomic::AtomicBool>, String)>,
}

/// Where the pipeline's threads publish their counters while running: the service's
/// telemetry (metrics, health), or nothing. A trait so that the pipeline does not depend on
/// what reads them.
pub trait Publish: Send + Sync {
    /// Worker `i`'s counters and its flow count.
    fn worker(&self, i: usize, s: (WorkerStats, usize));
    /// The output thread's snapshot.
    fn output(&self, o: OutputSnapshot);
}

/// How often a busy thread publishes its counters (an idle one publishes at once).
pub const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

impl Pipeline {
    /// Starts `workers` worker threads and the output thread. `interfaces` are the capture
    /// interfaces by index (for zones by interface); the threads publish their counters to
    /// `telemetry`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        cfg: &Config,
        workers: usize,
        registry: Arc<Registry>,
        shared: Arc<Shared>,
        writers: merge::Writers,
        mut alerts: AlertOutput,
        interfaces: Vec<String>,
        telemetry: Arc<dyn Publish>,
    ) -> anyhow::Result<Pipeline> {
        let n = workers.max(1);
        // The user's ODVA vendor names (checked with the config; once per process).
        if let Some(t) = cfg
            .enip
            .vendor_table()
            .map_err(|e| anyhow!("enip.vendors: {e}"))?
        {
            otsensor_protocols::enip::codes::set_vendors(t);
        }
        let mut wcfg = WorkerConfig::from_config(cfg, n, writers.events.is_some());
        // Flow records are made for `--flows` and for the Kafka sinks with a flows topic.
        wcfg.flows = writers.flows.is_some() || alerts.wants_flows();
        // Live capture (interfaces named) hashes flow keys with random keys, replay with
        // fixed ones (the same output every run); the dispatcher and the workers' tables alike.
        let hasher = if interfaces.is_empty() {
            crate::flow::FlowHasher::fixed()
        } else {
            crate::flow::FlowHasher::random()
        };
        wcfg.hasher = hasher.clone();
        wcfg.interfaces = interfaces;
        let (pool_tx, pool_rx) = unbounded::<Batch>();
        let mut in_txs = Vec::with_capacity(n);
        let mut out_rxs = Vec::with_capacity(n);
        let mut recycle_txs = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let (in_tx, in_rx) = bounded::<Batch>(cfg.pipeline.queue_batches);
            let (out_tx, out_rx) = bounded::<OutBatch>(cfg.pipeline.queue_batches);
            let (rec_tx, rec_rx) = bounded::<OutBatch>(cfg.pipeline.queue_batches + 2);
            in_txs.push(in_tx);
            out_rxs.push(out_rx);
            recycle_txs.push(rec_tx);
            let mut worker = Worker::new(wcfg.clone(), registry.clone(), shared.clone());
            if wcfg.evidence.is_some() {
                let (tx, rx) = unbounded();
                alerts.capture_requests.push(tx);
                worker.capture_requests = Some(rx);
            }
            let pool = pool_tx.clone();
            let tel = telemetry.clone();
            let h = std::thread::Builder::new()
                .name(format!("otsensor-worker-{i}"))
                .spawn(move || {
                    let mut published = std::time::Instant::now();
                    for mut b in in_rx.iter() {
                        worker.process_batch(&b);
                        // Counters go out while busy every PUBLISH_EVERY, and on every idle
                        // round, so that a quiet sensor's published counters are exact.
                        if b.is_empty() || published.elapsed() >= PUBLISH_EVERY {
                            tel.worker(i, worker.snapshot());
                            published = std::time::Instant::now();
                        }
                        let recycled = rec_rx.try_recv().unwrap_or_default();
                        let ob = worker.take_events(b.round, b.now, recycled);
                        // If the output thread is gone its error is reported at finish.
                        let _ = out_tx.send(ob);
                        b.clear();
                        let _ = pool.send(b);
                    }
                    let stats = worker.finish();
                    let last =
                        worker.take_events(u64::MAX, Timestamp::default(), OutBatch::default());
                    let _ = out_tx.send(last);
                    stats
                })
                .context("cannot start a worker thread")?;
            handles.push(h);
        }
        let tel = telemetry.clone();
        let output = std::thread::Builder::new()
            .name("otsensor-output".into())
            .spawn(move || {
                let rep = merge_rounds(out_rxs, recycle_txs, writers, &mut alerts, &*tel);
                (rep, alerts)
            })
            .context("cannot start the output thread")?;
        Ok(Pipeline {
            dispatcher: Mutex::new({
                let mut d = Dispatcher::new(
                    in_txs,
                    pool_rx,
                    cfg.pipeline.on_full,
                    cfg.pipeline.batch_packets,
                    hasher,
                );
                if cfg.evidence.dir.is_some() {
                    d.keep_frames();
                }
                d.identity_to(Arc::clone(&shared.assets));
                d
            }),
            workers: handles,
            output,
            worker_count: n,
            linger: None,
        })
    }

    /// The reader-side half: call [`Dispatcher::packet`] for each captured frame.
    pub fn dispatcher(&mut self) -> &mut Dispatcher {
        self.dispatcher
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The reader-side half for several reader threads (live capture on several interfaces).
    pub fn shared_dispatcher(&self) -> &Mutex<Dispatcher> {
        &self.dispatcher
    }

    /// At [`Pipeline::finish`], once the input is over and every packet processed: say
    /// `message`, and keep the alerts open (for the console's decisions) until `stop` is
    /// raised.
    pub fn linger_until(&mut self, stop: Arc<std::sync::atomic::AtomicBool>, message: String) {
        self.linger = Some((stop, message));
    }

    /// Ends the input, waits for workers and output to drain, and returns the counters.
    pub fn finish(self) -> anyhow::Result<PipelineReport> {
        let dispatch = self
            .dispatcher
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .finish();
        let mut total = WorkerStats::default();
        let mut panicked = 0;
        for h in self.workers {
            match h.join() {
                Ok(s) => total.add(&s),
                Err(_) => panicked += 1,
            }
        }
        let (output, mut alerts) = self
            .output
            .join()
            .map_err(|_| anyhow!("the output thread panicked; events may be lost"))?;
        if panicked > 0 {
            return Err(anyhow!(
                "{panicked} worker thread(s) panicked; their flows were lost"
            ));
        }
        // Polls that stopped can only be judged once the input is over.
        let now = dispatch.last_ts.unwrap_or(Timestamp::from_nanos(0));
        alerts.input_ended(now);
        if let Some((stop, message)) = &self.linger {
            eprintln!("{message}");
            alerts.linger(stop);
        }
        alerts.finish();
        Ok(PipelineReport {
            dispatch,
            workers: total,
            output,
            worker_count: self.worker_count,
            alerts: alerts.report(),
        })
    }
}
