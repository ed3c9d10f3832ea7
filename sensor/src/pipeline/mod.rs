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

pub mod batch;
pub mod dispatch;
pub mod events;
pub mod output;
pub mod worker;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context};
use crossbeam_channel::{bounded, unbounded};

use otsensor_baselines::detector::Shared;
use otsensor_baselines::time::Timestamp;

use crate::config::Config;
use crate::registry::Registry;
use crate::service::telemetry::{Telemetry, PUBLISH_EVERY};

use self::batch::Batch;
use self::dispatch::{DispatchStats, Dispatcher};
use self::events::OutBatch;
use self::output::{merge_rounds, AlertOutput, OutputReport};
use self::worker::{Worker, WorkerConfig, WorkerStats};

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

/// What became of alerts.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct AlertsReport {
    /// Distinct alerts raised.
    pub distinct: u64,
    /// Alerts evicted from the alert store at its cap (`alerts.max_alerts`), their final state
    /// written first.
    pub alerts_evicted: u64,
    /// Alert records written (first sight, updates, final states).
    pub records_written: u64,
    /// Rule observations aggregated into them.
    pub observations: u64,
    /// Distinct alerts per rule.
    pub by_rule: std::collections::BTreeMap<&'static str, u64>,
    /// Operational, protocol and anomaly observations recorded into the baseline (learning).
    pub learned: u64,
    /// Observations not raised because the baseline learned them (detecting).
    pub known: u64,
    /// Keys the anomaly engine evicted from its full tables while they were still within
    /// their window (state shed under a flood of new hosts).
    pub anomaly_evicted: u64,
    /// Kafka delivery counters, per Kafka sink.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kafka: Vec<crate::output::kafka::KafkaReport>,
    /// The first error writing alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A running pipeline. Feed packets through [`Pipeline::dispatcher`], then [`Pipeline::finish`].
pub struct Pipeline {
    dispatcher: Mutex<Dispatcher>,
    workers: Vec<JoinHandle<WorkerStats>>,
    output: JoinHandle<(OutputReport, AlertOutput)>,
    worker_count: usize,
    shared: Arc<Shared>,
}

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
        events: Option<Box<dyn Write + Send>>,
        mut alerts: AlertOutput,
        interfaces: Vec<String>,
        telemetry: Arc<Telemetry>,
    ) -> anyhow::Result<Pipeline> {
        let n = workers.max(1);
        let mut wcfg = WorkerConfig::from_config(cfg, n, events.is_some());
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
                        if b.pkts.is_empty() || published.elapsed() >= PUBLISH_EVERY {
                            tel.publish_worker(i, worker.snapshot());
                            published = std::time::Instant::now();
                        }
                        let ob = worker.take_events(b.round, rec_rx.try_recv().unwrap_or_default());
                        // If the output thread is gone its error is reported at finish.
                        let _ = out_tx.send(ob);
                        b.clear();
                        let _ = pool.send(b);
                    }
                    let stats = worker.finish();
                    let _ = out_tx.send(worker.take_events(u64::MAX, OutBatch::default()));
                    stats
                })
                .context("cannot start a worker thread")?;
            handles.push(h);
        }
        let tel = telemetry.clone();
        let output = std::thread::Builder::new()
            .name("otsensor-output".into())
            .spawn(move || {
                let rep = merge_rounds(out_rxs, recycle_txs, events, &mut alerts, &tel);
                (rep, alerts)
            })
            .context("cannot start the output thread")?;
        Ok(Pipeline {
            dispatcher: Mutex::new(Dispatcher::new(
                in_txs,
                pool_rx,
                cfg.pipeline.on_full,
                cfg.pipeline.batch_packets,
            )),
            workers: handles,
            output,
            worker_count: n,
            shared,
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
        for o in self.shared.stopped_polls(now) {
            alerts.observe(o);
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
