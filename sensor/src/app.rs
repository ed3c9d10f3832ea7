//! The commands: wire config, capture source, pipeline and outputs together.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use otsensor_baselines::alert::{AlertStore, SensorInfo};
use otsensor_baselines::anomaly::AnomalyEngine;
use otsensor_baselines::assets::AssetInventory;
use otsensor_baselines::baseline::{Baseline, Learner};
use otsensor_baselines::detector::{DetectorConfig, Mode, Shared};
use otsensor_baselines::zones::ZoneMap;

use crate::capture::{live, offline, InputReport};
use crate::cli::{CaptureArgs, Cli, Command, CommonArgs, ConfigCommand, ReplayArgs};
use crate::config::{Config, SinkKind};
use crate::output::sink::Sink;
use crate::output::{open_writer, write_assets, write_json};
use crate::pipeline::output::AlertOutput;
use crate::pipeline::Pipeline;
use crate::registry::Registry;
use crate::stats::Stats;

/// Bad usage, config or input: exit code 2, with this one-line reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// How a command ended when it did not fail outright.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was read and processed.
    Clean,
    /// The run completed, but some input could not be read in full (exit code 2).
    InputErrors(Vec<String>),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Replay(args) => replay(args),
        Command::Capture(args) => capture(args),
        Command::Config(ConfigCommand::Check { file }) => {
            Config::load(&file).map_err(|e| BadInput(e.to_string()))?;
            println!("{}: ok", file.display());
            Ok(Outcome::Clean)
        }
        Command::Baseline(cmd) => crate::curate::run(cmd).map(|()| Outcome::Clean),
        Command::Rules => {
            crate::curate::emit(&crate::curate::rules_table())?;
            Ok(Outcome::Clean)
        }
    }
}

fn load_config(common: &CommonArgs) -> anyhow::Result<Config> {
    match &common.config {
        Some(p) => Config::load(p).map_err(|e| BadInput(e.to_string()).into()),
        None => Ok(Config::default()),
    }
}

fn worker_count(common: &CommonArgs, cfg: &Config) -> usize {
    match (common.workers, cfg.pipeline.workers) {
        (Some(n), _) => usize::from(n),
        (None, 0) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        (None, n) => n,
    }
}

/// SIGINT/SIGTERM raise the flag; a second SIGINT while stopping exits at once.
fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())
            .context("cannot install signal handler")?;
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handler")?;
    }
    Ok(stop)
}

struct Session {
    cfg: Config,
    workers: usize,
    registry: Arc<Registry>,
    shared: Arc<Shared>,
    pipeline: Pipeline,
    started: Instant,
}

/// Builds the detector's shared state: zones, mode and the baseline (loaded, or new).
fn detector_shared(cfg: &Config, common: &CommonArgs) -> anyhow::Result<Arc<Shared>> {
    let zones = ZoneMap::new(
        cfg.zones.clone(),
        cfg.conduits.clone(),
        &cfg.policy.default_zone,
    );
    let b = &cfg.baseline;
    let mode = match (&common.baseline, common.learn) {
        (Some(_), true) => Mode::Learn,
        (Some(_), false) => Mode::Detect,
        (None, _) => Mode::PolicyOnly,
    };
    let baseline = match &common.baseline {
        Some(p) if p.exists() || mode == Mode::Detect => {
            Baseline::load(p).map_err(|e| BadInput(e.to_string()))?
        }
        _ => Baseline::default(),
    };
    let mut learner = Learner::from_baseline(baseline, b.caps());
    if mode == Mode::Learn {
        learner.add_sensor(&cfg.sensor.id);
    }
    let dcfg = DetectorConfig {
        mode,
        timing_factor: b.timing_factor,
        min_timing_samples: b.min_timing_samples,
        rate_factor: b.rate_factor,
        min_rate_per_minute: b.min_rate_per_minute,
        poll_stop_periods: b.poll_stop_periods,
        disabled: cfg.rules.disabled.clone(),
        severity: cfg
            .rules
            .severity
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    };
    Ok(Arc::new(Shared::new(
        zones,
        learner,
        dcfg,
        Arc::new(AssetInventory::default()),
    )))
}

/// The configured alert sinks, plus `--alerts`; standard output when there are none.
fn alert_sinks(cfg: &Config, common: &CommonArgs) -> anyhow::Result<Vec<Sink>> {
    let default_format = common.alert_format.unwrap_or(cfg.alerts.format);
    let mut sinks = Vec::new();
    for s in &cfg.sinks {
        let format = s.format.unwrap_or(default_format);
        sinks.push(match (s.kind, &s.path) {
            (SinkKind::File, Some(p)) => Sink::file(p, format, s.max_bytes, s.max_files)
                .map_err(|e| BadInput(format!("{e:#}")))?,
            (SinkKind::Kafka, _) => {
                Sink::kafka(s, format, &cfg.sensor.id).map_err(|e| BadInput(format!("{e:#}")))?
            }
            _ => Sink::writer("stdout", Box::new(std::io::stdout()), format),
        });
    }
    match &common.alerts {
        Some(p) if p.as_os_str() == "-" => {
            sinks.push(Sink::writer(
                "stdout",
                Box::new(std::io::stdout()),
                default_format,
            ));
        }
        Some(p) => {
            sinks.push(Sink::file(p, default_format, 0, 1).map_err(|e| BadInput(format!("{e:#}")))?)
        }
        None if sinks.is_empty() => {
            sinks.push(Sink::writer(
                "stdout",
                Box::new(std::io::stdout()),
                default_format,
            ));
        }
        None => {}
    }
    Ok(sinks)
}

impl Session {
    fn start(common: &CommonArgs, interface: Option<String>) -> anyhow::Result<Session> {
        let cfg = load_config(common)?;
        let workers = worker_count(common, &cfg);
        let events = match &common.events {
            Some(p) => Some(open_writer(p).map_err(|e| BadInput(format!("{e:#}")))?),
            None => None,
        };
        for p in [&common.stats, &common.assets, &common.baseline]
            .into_iter()
            .flatten()
        {
            check_writable(p)?;
        }
        let shared = detector_shared(&cfg, common)?;
        let mut alerts = AlertOutput::new(
            AlertStore::new(
                SensorInfo {
                    id: cfg.sensor.id.clone(),
                    site: cfg.sensor.site.clone(),
                },
                cfg.alerts.update_interval_secs,
            ),
            AnomalyEngine::new(cfg.detection.anomaly()),
            shared.clone(),
            alert_sinks(&cfg, common)?,
        );
        alerts.sensor = cfg.sensor.id.clone();
        let registry = Arc::new(Registry::builtin());
        let pipeline = Pipeline::start(
            &cfg,
            workers,
            registry.clone(),
            shared.clone(),
            events,
            alerts,
            interface,
        )?;
        Ok(Session {
            cfg,
            workers,
            registry,
            shared,
            pipeline,
            started: Instant::now(),
        })
    }

    /// Saves the baseline being learned (atomically), if learning.
    fn save_baseline(shared: &Shared, common: &CommonArgs) -> anyhow::Result<()> {
        if let (Mode::Learn, Some(p)) = (shared.cfg.mode, &common.baseline) {
            shared
                .learner
                .to_baseline()
                .save(p)
                .map_err(|e| anyhow::anyhow!("cannot save the baseline: {e}"))?;
        }
        Ok(())
    }

    fn finish(
        self,
        common: &CommonArgs,
        mode: &'static str,
        inputs: Vec<InputReport>,
        capture: Option<live::CaptureStats>,
    ) -> anyhow::Result<Stats> {
        let report = self.pipeline.finish()?;
        let mut stats = Stats::build(
            mode,
            inputs,
            &report,
            &self.registry,
            capture,
            self.started.elapsed().as_secs_f64(),
        );
        stats.baseline_capped = self
            .shared
            .learner
            .capped
            .load(std::sync::atomic::Ordering::Relaxed);
        Session::save_baseline(&self.shared, common)?;
        if let Some(p) = &common.stats {
            write_json(p, &stats)?;
        }
        if let Some(p) = &common.assets {
            write_assets(p, common.assets_format, &self.shared.assets.snapshot())?;
        }
        if let Some(e) = &report.output.error {
            anyhow::bail!("writing events failed: {e}");
        }
        if let Some(e) = &report.alerts.error {
            anyhow::bail!("writing alerts failed: {e}");
        }
        let _ = &self.cfg;
        tracing::info!(
            "Processed {} packets with {} workers in {:.3}s.",
            stats.packets,
            self.workers,
            stats.elapsed_secs
        );
        Ok(stats)
    }
}

/// Fails early (exit 2) when an output path cannot be created, rather than after a long run.
fn check_writable(p: &Path) -> anyhow::Result<()> {
    if p.as_os_str() == "-" {
        return Ok(());
    }
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(BadInput(format!(
            "cannot write {}: directory {} does not exist",
            p.display(),
            dir.display()
        ))
        .into());
    }
    Ok(())
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    ) {
        pb.set_style(style);
    }
    pb
}

fn replay(args: ReplayArgs) -> anyhow::Result<Outcome> {
    // Every file must open before anything runs: a typo in the fifth name should not cost
    // the time of replaying the first four.
    let mut total = 0u64;
    for p in &args.pcaps {
        offline::open(p).map_err(BadInput)?;
        total += std::fs::metadata(p).map(|m| m.len()).unwrap_or_default();
    }
    let stop = stop_flag()?;
    let mut session = Session::start(&args.common, None)?;
    let pb = progress_bar(total);
    let opts = offline::ReplayOptions {
        realtime: args.realtime,
        stop: &stop,
        progress: &pb,
    };
    let mut pacer = offline::Pacer::default();
    let mut inputs = Vec::new();
    for p in &args.pcaps {
        inputs.push(offline::replay_file(
            p,
            session.pipeline.dispatcher(),
            &opts,
            &mut pacer,
        ));
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
    }
    pb.finish_and_clear();
    let errors: Vec<String> = inputs.iter().filter_map(|i| i.error.clone()).collect();
    session.finish(&args.common, "replay", inputs, None)?;
    Ok(if errors.is_empty() {
        Outcome::Clean
    } else {
        Outcome::InputErrors(errors)
    })
}

fn capture(args: CaptureArgs) -> anyhow::Result<Outcome> {
    let stop = stop_flag()?;
    let mut session = Session::start(&args.common, Some(args.interface.clone()))?;
    let mut ccfg = session.cfg.capture.clone();
    if let Some(s) = args.snaplen {
        ccfg.snaplen = s;
    }
    if let Some(b) = args.buffer_size {
        ccfg.buffer_size = b;
    }
    ccfg.promiscuous &= !args.no_promisc;
    ccfg.immediate |= args.immediate;
    // While learning, save the baseline every `save_interval_secs` so a crash loses little.
    let shared = session.shared.clone();
    let every = std::time::Duration::from_secs(session.cfg.baseline.save_interval_secs.max(1));
    let mut last_save = Instant::now();
    let mut save_error_logged = false;
    let mut tick = || {
        if last_save.elapsed() >= every {
            last_save = Instant::now();
            if let Err(e) = Session::save_baseline(&shared, &args.common) {
                if !save_error_logged {
                    tracing::error!("The baseline could not be saved: {e:#}.");
                    save_error_logged = true;
                }
            }
        }
    };
    let result = live::capture(
        &args.interface,
        args.bpf.as_deref(),
        &ccfg,
        session.pipeline.dispatcher(),
        &stop,
        &mut tick,
    );
    match result {
        Ok((input, cstats)) => {
            let error = input.error.clone();
            session.finish(&args.common, "capture", vec![input], Some(cstats))?;
            Ok(match error {
                Some(e) => Outcome::InputErrors(vec![e]),
                None => Outcome::Clean,
            })
        }
        Err(e) => {
            // Drain the (empty) pipeline so its threads end, then report the bad input.
            let _ = session.pipeline.finish();
            Err(BadInput(e.to_string()).into())
        }
    }
}
