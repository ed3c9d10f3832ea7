//! The commands: wire config, capture source, pipeline and outputs together.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use otsensor_baselines::alert::{AlertStore, SensorInfo};
use otsensor_baselines::anomaly::AnomalyEngine;
use otsensor_baselines::assets::AssetInventory;
use otsensor_baselines::baseline::{Baseline, Learner};
use otsensor_baselines::detector::{DetectorConfig, Mode, Shared};
use otsensor_baselines::zones::ZoneMap;

use crate::capture::{live, offline, InputReport};
pub use crate::cli::{BadInput, Outcome};
use crate::cli::{
    CaptureArgs, Cli, Command, CommonArgs, ConfigCommand, ConsoleCommand, ReplayArgs,
};
use crate::config::{Config, HealthConfig, SinkConfig};
use crate::output::alerts::Control;
use crate::output::alerts::{AlertOutput, AlertSettings, Capturing};
use crate::output::sink::Sink;
use crate::output::{open_writer, write_assets, write_json, write_json_atomic};
use crate::pipeline::Pipeline;
use crate::registry::Registry;
use crate::service::health::Monitor;
use crate::service::metrics::Server;
use crate::service::privileges;
use crate::service::telemetry::{Telemetry, PUBLISH_EVERY};
use crate::stats::Stats;

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
        Command::Config(ConfigCommand::Keys) => {
            crate::curate::emit(&crate::config::keys::markdown())?;
            Ok(Outcome::Clean)
        }
        Command::Baseline(cmd) => crate::curate::run(cmd).map(|()| Outcome::Clean),
        Command::Protocols { config } => {
            let cfg = match config {
                Some(p) => Config::load(&p).map_err(|e| BadInput(e.to_string()))?,
                None => Config::default(),
            };
            let registry = Registry::configured(&cfg.protocols);
            crate::curate::emit(&crate::curate::protocols_table(&registry))?;
            Ok(Outcome::Clean)
        }
        Command::Console(ConsoleCommand::HashPassword) => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                return Err(BadInput("no password on standard input".into()).into());
            }
            let hash = crate::console::auth::hash_password(password).map_err(anyhow::Error::msg)?;
            println!("{hash}");
            Ok(Outcome::Clean)
        }
        Command::Rules { config } => {
            let cfg = match config {
                Some(p) => Config::load(&p).map_err(|e| BadInput(e.to_string()))?,
                None => Config::default(),
            };
            let sigma: Vec<_> = cfg.rules.loaded.iter().map(|r| r.rule).collect();
            crate::curate::emit(&crate::curate::rules_table(&sigma))?;
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
    workers: usize,
    registry: Arc<Registry>,
    shared: Arc<Shared>,
    pipeline: Pipeline,
    telemetry: Arc<Telemetry>,
    started: Instant,
    console: Option<crate::console::Console>,
}

/// The detector settings of a config (what a reload can change, besides zones).
fn detector_config(cfg: &Config, mode: Mode) -> DetectorConfig {
    DetectorConfig {
        mode,
        thresholds: cfg.baseline.thresholds,
        disabled: cfg.rules.disabled.clone(),
        severity: cfg
            .rules
            .severity
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        sigma: cfg.rules.loaded.clone(),
    }
}

fn zone_map(cfg: &Config) -> ZoneMap {
    ZoneMap::new(
        cfg.zones.clone(),
        cfg.conduits.clone(),
        &cfg.policy.default_zone,
    )
}

/// Builds the detector's shared state: zones, mode and the baseline (loaded, or new).
fn detector_shared(cfg: &Config, common: &CommonArgs) -> anyhow::Result<Arc<Shared>> {
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
    let mut learner = Learner::from_baseline(baseline, cfg.baseline.caps);
    if mode == Mode::Learn {
        learner.add_sensor(&cfg.sensor.id);
    }
    Ok(Arc::new(Shared::new(
        zone_map(cfg),
        learner,
        detector_config(cfg, mode),
        Arc::new(AssetInventory::with_cap(cfg.assets.max_assets)),
    )))
}
/// The readers of the Kafka sinks' `decisions_topic`s, feeding the output thread.
fn decision_consumers(
    cfg: &Config,
    common: &CommonArgs,
) -> anyhow::Result<crate::output::decisions::Decisions> {
    use crate::output::kafka::decisions::{DecisionConsumer, PENDING_DECISIONS};
    // Bounded: a flood on the topic waits in Kafka, not in the sensor's memory.
    let (tx, rx) = crossbeam_channel::bounded(PENDING_DECISIONS);
    let mut consumers = Vec::new();
    for s in &cfg.sinks {
        let SinkConfig::Kafka(k) = s else { continue };
        let Some(topic) = &k.decisions_topic else {
            continue;
        };
        consumers.push(
            DecisionConsumer::start(k, topic, &cfg.sensor.id, tx.clone())
                .map_err(|e| BadInput(format!("sinks.decisions_topic (kafka): {e:#}")))?,
        );
    }
    if consumers.is_empty() {
        return Ok(Default::default());
    }
    if common.baseline.is_none() {
        tracing::warn!(
            "A decisions_topic is read but no --baseline is given: decisions apply until the sensor stops, and are not saved."
        );
    }
    Ok(crate::output::decisions::Decisions::new(rx, consumers))
}

/// The configured alert sinks, plus `--alerts`; standard output when there are none.
fn alert_sinks(cfg: &Config, common: &CommonArgs) -> anyhow::Result<Vec<Sink>> {
    let default_format = common.alert_format.unwrap_or(cfg.alerts.format);
    let mut sinks = Vec::new();
    for s in &cfg.sinks {
        let format = s.format().unwrap_or(default_format);
        sinks.push(match s {
            // The run's errors name the key, like `config check`'s.
            SinkConfig::File(f) => Sink::file(&f.path, format, f.max_bytes, f.max_files)
                .map_err(|e| BadInput(format!("sinks.path (file): {e:#}")))?,
            SinkConfig::Kafka(k) => Sink::kafka(k, format, &cfg.sensor.id).map_err(|e| {
                let e = format!("{e:#}");
                let key = if e.starts_with("kafka spool") {
                    "sinks.spool_dir"
                } else {
                    "sinks"
                };
                BadInput(format!("{key} (kafka): {e}"))
            })?,
            SinkConfig::Stdout(_) => {
                Sink::writer("stdout", Box::new(crate::output::Stdout), format)
            }
        });
    }
    match &common.alerts {
        Some(p) if p.as_os_str() == "-" => {
            sinks.push(Sink::writer(
                "stdout",
                Box::new(crate::output::Stdout),
                default_format,
            ));
        }
        Some(p) => {
            sinks.push(Sink::file(p, default_format, 0, 1).map_err(|e| BadInput(format!("{e:#}")))?)
        }
        None if sinks.is_empty() => {
            sinks.push(Sink::writer(
                "stdout",
                Box::new(crate::output::Stdout),
                default_format,
            ));
        }
        None => {}
    }
    Ok(sinks)
}

impl Session {
    /// Opens the outputs and starts the pipeline. `interfaces` name the capture interfaces
    /// by index (none in replay); `control` carries health signals and reloads to the
    /// output thread (live capture).
    fn start(
        cfg: Config,
        common: &CommonArgs,
        interfaces: Vec<String>,
        telemetry: Arc<Telemetry>,
        control: Option<crossbeam_channel::Receiver<Control>>,
    ) -> anyhow::Result<Session> {
        let workers = telemetry.worker_count();
        let open = |p: &Option<std::path::PathBuf>| match p {
            Some(p) => open_writer(p)
                .map(Some)
                .map_err(|e| BadInput(format!("{e:#}"))),
            None => Ok(None),
        };
        let writers = crate::pipeline::merge::Writers {
            events: open(&common.events)?,
            flows: open(&common.flows)?,
        };
        for p in [&common.stats, &common.assets, &common.baseline]
            .into_iter()
            .flatten()
        {
            check_writable(p)?;
        }
        let shared = detector_shared(&cfg, common)?;
        telemetry.set_shared(shared.clone());
        let registry = Arc::new(Registry::configured(&cfg.protocols));
        let mut decisions = decision_consumers(&cfg, common)?;
        let console = start_console(
            &cfg,
            (&telemetry, &registry, &shared),
            common.baseline.clone(),
            &mut decisions,
        )?;
        let evidence = match &cfg.evidence.dir {
            Some(dir) => Some(
                crate::output::evidence::EvidenceWriter::open(dir, cfg.evidence.max_bytes)
                    .map_err(|e| BadInput(format!("evidence.dir: {}: {e}", dir.display())))?,
            ),
            None => None,
        };
        let alerts = AlertOutput::new(AlertSettings {
            store: AlertStore::with_cap(
                SensorInfo {
                    id: cfg.sensor.id.clone(),
                    site: cfg.sensor.site.clone(),
                },
                cfg.alerts.update_interval_secs,
                cfg.alerts.max_alerts,
            ),
            anomaly: AnomalyEngine::new(cfg.detection),
            shared: shared.clone(),
            sinks: alert_sinks(&cfg, common)?,
            sensor: cfg.sensor.id.clone(),
            decisions,
            capturing: control.map(|control| Capturing {
                control,
                latency: telemetry.latency.clone(),
            }),
            evidence,
            console: console.as_ref().map(|(_, state)| state.clone()),
        });
        let console = console.map(|(c, _)| c);
        let pipeline = Pipeline::start(
            &cfg,
            workers,
            registry.clone(),
            shared.clone(),
            writers,
            alerts,
            interfaces,
            telemetry.clone(),
        )?;
        Ok(Session {
            workers,
            registry,
            shared,
            pipeline,
            telemetry,
            started: Instant::now(),
            console,
        })
    }

    /// Saves the baseline being learned (atomically), if learning.
    /// Saves the baseline being learned, or the one detection runs on once the SOC's
    /// decisions changed it.
    fn save_baseline(shared: &Shared, common: &CommonArgs) -> anyhow::Result<()> {
        let changed = shared.mode == Mode::Learn || shared.learner.has_changes_to_save();
        if let (true, Some(p)) = (changed, &common.baseline) {
            shared
                .learner
                .to_baseline()
                .save(p)
                .map_err(|e| anyhow::anyhow!("cannot save the baseline: {e}"))?;
        }
        Ok(())
    }

    fn finish(self, common: &CommonArgs, inputs: Vec<InputReport>) -> anyhow::Result<Stats> {
        let report = self.pipeline.finish();
        if let Some(c) = self.console {
            c.stop();
        }
        let report = report?;
        let stats = self.telemetry.stats_of(
            &report,
            &self.registry,
            inputs,
            self.started.elapsed().as_secs_f64(),
        );
        Session::save_baseline(&self.shared, common)?;
        if let Some(p) = &common.stats {
            write_json(p, &stats)?;
        }
        if let Some(p) = &common.assets {
            let (assets, l2) = self.shared.assets.inventory();
            write_assets(p, common.assets_format, &assets, &l2)?;
        }
        if let Some(e) = &report.output.error {
            anyhow::bail!("writing events failed: {e}");
        }
        if let Some(e) = &report.output.flows_error {
            anyhow::bail!("writing flow records failed: {e}");
        }
        if let Some(e) = &report.alerts.error {
            anyhow::bail!("writing alerts failed: {e}");
        }
        tracing::info!(
            "Processed {} packets with {} workers in {:.3}s.",
            stats.packets,
            self.workers,
            stats.elapsed_secs
        );
        Ok(stats)
    }
}

/// The console, if `[console] listen` is set: its state is fed by the output thread, its
/// decisions go through the same path as the Kafka decisions topic.
fn start_console(
    cfg: &Config,
    (telemetry, registry, shared): (&Arc<Telemetry>, &Arc<Registry>, &Arc<Shared>),
    baseline_file: Option<std::path::PathBuf>,
    decisions: &mut crate::output::decisions::Decisions,
) -> anyhow::Result<Option<(crate::console::Console, Arc<crate::console::ConsoleState>)>> {
    use crate::console::state::{Layout, PENDING};
    if cfg.console.listen.is_none() {
        return Ok(None);
    }
    let (tx, rx) = crossbeam_channel::bounded(PENDING);
    let state = crate::console::ConsoleState::new(
        cfg.sensor.id.clone(),
        cfg.sensor.site.clone(),
        telemetry.mode,
        telemetry.clone(),
        registry.clone(),
        Layout::of(cfg),
        cfg.evidence.dir.clone(),
        (shared.clone(), baseline_file),
        tx,
        cfg.console.audit_log.as_deref(),
    )
    .map_err(|e| BadInput(format!("console.audit_log: {e}")))?;
    let state = Arc::new(state);
    let console = crate::console::Console::start(&cfg.console, state.clone())
        .map_err(|e| BadInput(format!("{e:#}")))?;
    decisions.with_console(rx);
    eprintln!("otsensor: console at {}", console.url);
    Ok(Some((console, state)))
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
        if offline::is_stream(p) {
            continue;
        }
        if offline::compression_of(p).is_some() {
            // Checked by its magic; its size says nothing of the capture's.
            continue;
        }
        offline::open(p).map_err(BadInput)?;
        total += std::fs::metadata(p).map(|m| m.len()).unwrap_or_default();
    }
    let stop = stop_flag()?;
    let cfg = load_config(&args.common)?;
    let telemetry = Arc::new(Telemetry::new(
        "replay",
        worker_count(&args.common, &cfg),
        Vec::new(),
    ));
    let server = metrics_server(&cfg)?;
    let mut session = Session::start(cfg, &args.common, Vec::new(), telemetry.clone(), None)?;
    let server = server
        .map(|mut s| s.serve(telemetry, session.registry.clone()).map(|()| s))
        .transpose()?;
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
        if stop.load(std::sync::atomic::Ordering::Relaxed) || crate::output::stdout_closed() {
            break;
        }
    }
    pb.finish_and_clear();
    if let Some(c) = &session.console {
        if !stop.load(std::sync::atomic::Ordering::Relaxed) {
            session.pipeline.linger_until(
                stop.clone(),
                format!(
                    "otsensor: the input has ended; the console stays at {} until interrupted (Ctrl-C).",
                    c.url
                ),
            );
        }
    }
    let errors: Vec<String> = inputs.iter().filter_map(|i| i.error.clone()).collect();
    session.finish(&args.common, inputs)?;
    if let Some(s) = server {
        s.stop();
    }
    Ok(if errors.is_empty() {
        Outcome::Clean
    } else {
        Outcome::InputErrors(errors)
    })
}

/// The interfaces to capture on: those named with `-i` (with their `[[capture]]` entry's
/// settings if they have one, else `[capture]`'s), or else every `[[capture]]` entry; the
/// command line's `--bpf`, `--snaplen`, ... apply to all of them.
fn live_inputs(args: &CaptureArgs, cfg: &Config) -> Result<Vec<live::LiveInput>, BadInput> {
    let defaults = cfg.capture.defaults();
    let entries = cfg.capture.entries();
    let mut inputs: Vec<live::LiveInput> = if args.interfaces.is_empty() {
        entries
            .iter()
            .map(|e| live::LiveInput {
                name: e.interface.clone(),
                bpf: e.bpf.clone(),
                cfg: e.settings(&defaults),
            })
            .collect()
    } else {
        args.interfaces
            .iter()
            .map(|name| match entries.iter().find(|e| &e.interface == name) {
                Some(e) => live::LiveInput {
                    name: name.clone(),
                    bpf: e.bpf.clone(),
                    cfg: e.settings(&defaults),
                },
                None => live::LiveInput {
                    name: name.clone(),
                    bpf: None,
                    cfg: defaults.clone(),
                },
            })
            .collect()
    };
    if inputs.is_empty() {
        return Err(BadInput(
            "no interface to capture on: give -i IFACE or [[capture]] entries in the config".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for i in &mut inputs {
        if !seen.insert(i.name.clone()) {
            return Err(BadInput(format!("interface {} is given twice", i.name)));
        }
        if let Some(b) = &args.bpf {
            i.bpf = Some(b.clone());
        }
        if let Some(s) = args.snaplen {
            i.cfg.snaplen = s;
        }
        if let Some(b) = args.buffer_size {
            i.cfg.buffer_size = b;
        }
        i.cfg.promiscuous &= !args.no_promisc;
        i.cfg.immediate |= args.immediate;
    }
    if inputs.len() > usize::from(u8::MAX) {
        return Err(BadInput("at most 255 capture interfaces".into()));
    }
    Ok(inputs)
}

/// The metrics server, bound (not yet serving), if the config asks for one.
fn metrics_server(cfg: &Config) -> anyhow::Result<Option<Server>> {
    match cfg.metrics.listen_addr().map_err(BadInput)? {
        Some(addr) => Ok(Some(
            Server::bind(addr).map_err(|e| BadInput(format!("{e:#}")))?,
        )),
        None => Ok(None),
    }
}

/// SIGHUP raises this flag: re-read the config.
fn reload_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, flag.clone())
        .context("cannot install signal handler")?;
    Ok(flag)
}

/// What a running capture's ticker does besides moving packets.
struct Periodic<'a> {
    common: &'a CommonArgs,
    session: &'a Session,
    monitor: Monitor,
    health_cfg: Arc<std::sync::Mutex<HealthConfig>>,
    control: crossbeam_channel::Sender<Control>,
    reload: Arc<AtomicBool>,
    cfg: Config,
    last_publish: Instant,
    last_save: Instant,
    last_stats: Instant,
}

impl Periodic<'_> {
    fn tick(&mut self) {
        let s = self.session;
        if self.last_publish.elapsed() >= PUBLISH_EVERY {
            self.last_publish = Instant::now();
            let (d, q) = {
                let d = s
                    .pipeline
                    .shared_dispatcher()
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                (d.snapshot(), d.queue_depths())
            };
            s.telemetry.publish_dispatch(d, q);
            let l = &s.shared.learner;
            s.telemetry
                .publish_baseline(l.edge_count(), l.asset_count(), l.alert_count());
        }
        // While learning, save the baseline every `save_interval_secs` so a crash loses little.
        let every = Duration::from_secs(self.cfg.baseline.save_interval_secs.max(1));
        // Detecting, the SOC's decisions are saved the same way.
        let save = s.shared.mode == Mode::Learn || s.shared.learner.has_changes_to_save();
        if save && self.last_save.elapsed() >= every {
            self.last_save = Instant::now();
            let r = Session::save_baseline(&s.shared, self.common).map_err(|e| format!("{e:#}"));
            s.telemetry.baseline_saved(r);
        }
        self.monitor.check();
        let every = self.cfg.sensor.stats_interval_secs;
        if every > 0 && self.last_stats.elapsed() >= Duration::from_secs(every) {
            self.last_stats = Instant::now();
            self.write_stats();
        }
        if self
            .reload
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            self.reload();
        }
    }

    /// Rewrites `--stats` atomically and logs a one-line summary.
    fn write_stats(&self) {
        let st = self.session.telemetry.stats(&self.session.registry, &[]);
        let lost: u64 = st.drops.values().sum();
        tracing::info!(
            "{} packets, {} flows, {} PDUs, {} alerts, {} dropped; {}.",
            st.packets,
            st.flows.created,
            st.pdus.values().sum::<u64>(),
            st.alerts.distinct,
            lost,
            match self.session.telemetry.health() {
                r if r.is_empty() => "healthy".to_string(),
                r => format!("degraded: {}", r.join("; ")),
            }
        );
        if let Some(p) = self.common.stats.as_ref().filter(|p| p.as_os_str() != "-") {
            if let Err(e) = write_json_atomic(p, &st) {
                tracing::warn!("Cannot rewrite the stats {}: {e:#}.", p.display());
            }
        }
    }

    /// SIGHUP: re-reads the config. Zones, conduits, rules, thresholds and health settings
    /// take effect at once; flows, the baseline and pending alerts are kept. A config that
    /// does not load is refused (one log line and a `sensor.reload_failed` alert).
    fn reload(&mut self) {
        let Some(path) = self.common.config.clone() else {
            tracing::warn!("SIGHUP: no config file (-c) to re-read.");
            return;
        };
        let new = match Config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                self.monitor.set(
                    &otsensor_baselines::rules::RELOAD_FAILED,
                    "config",
                    true,
                    format!("reload refused, the previous configuration stays in force: {e}"),
                    serde_json::json!({ "file": path.display().to_string(), "error": e.to_string() }),
                    serde_json::Value::Null,
                );
                return;
            }
        };
        let s = self.session;
        s.shared
            .reload(zone_map(&new), detector_config(&new, s.shared.mode));
        let _ = self.control.send(Control::Anomaly(new.detection));
        *self
            .health_cfg
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new.health.clone();
        let old = &self.cfg;
        let restart: Vec<&str> = [
            ("capture", old.capture != new.capture),
            ("sinks", old.sinks != new.sinks),
            ("pipeline", old.pipeline != new.pipeline),
            ("flows", old.flows != new.flows),
            ("reassembly", old.reassembly != new.reassembly),
            ("metrics", old.metrics != new.metrics),
            ("protocols", old.protocols != new.protocols),
            ("sensor", old.sensor != new.sensor),
            ("alerts", old.alerts != new.alerts),
            (
                "baseline caps",
                old.baseline.caps != new.baseline.caps
                    || old.baseline.save_interval_secs != new.baseline.save_interval_secs,
            ),
        ]
        .into_iter()
        .filter_map(|(k, changed)| changed.then_some(k))
        .collect();
        if !restart.is_empty() {
            tracing::warn!(
                "Reload: {} changed; that takes effect after a restart.",
                restart.join(", ")
            );
        }
        self.monitor.set(
            &otsensor_baselines::rules::RELOAD_FAILED,
            "config",
            false,
            format!("configuration reloaded from {}", path.display()),
            serde_json::json!({ "file": path.display().to_string() }),
            serde_json::Value::Null,
        );
        tracing::warn!(
            "Configuration reloaded from {}: {} zones, {} conduits.",
            path.display(),
            new.zones.len(),
            new.conduits.len()
        );
        self.cfg = new;
    }
}

fn capture(args: CaptureArgs) -> anyhow::Result<Outcome> {
    let stop = stop_flag()?;
    let reload = reload_flag()?;
    let cfg = load_config(&args.common)?;
    let inputs = live_inputs(&args, &cfg)?;
    // Everything that needs root is opened first: the interfaces, the metrics socket.
    let mut opened = Vec::new();
    for i in inputs {
        let cap = live::open(&i).map_err(|e| BadInput(e.to_string()))?;
        opened.push((i, cap));
    }
    let server = metrics_server(&cfg)?;
    if let Some(user) = &cfg.sensor.user {
        privileges::drop_to(user).map_err(|e| BadInput(format!("{e:#}")))?;
    }
    let ifaces: Vec<Arc<live::Interface>> = opened
        .iter()
        .map(|(i, _)| Arc::new(live::Interface::new(&i.name)))
        .collect();
    let names = opened.iter().map(|(i, _)| i.name.clone()).collect();
    let telemetry = Arc::new(Telemetry::new(
        "capture",
        worker_count(&args.common, &cfg),
        ifaces.clone(),
    ));
    let (tx, rx) = crossbeam_channel::unbounded();
    let health_cfg = Arc::new(std::sync::Mutex::new(cfg.health.clone()));
    let session = Session::start(
        cfg.clone(),
        &args.common,
        names,
        telemetry.clone(),
        Some(rx),
    )?;
    let server = server
        .map(|mut s| {
            s.serve(telemetry.clone(), session.registry.clone())
                .map(|()| s)
        })
        .transpose()?;
    let mut periodic = Periodic {
        common: &args.common,
        session: &session,
        monitor: Monitor::new(health_cfg.clone(), telemetry.clone(), tx.clone()),
        health_cfg,
        control: tx,
        reload,
        cfg,
        last_publish: Instant::now(),
        last_save: Instant::now(),
        last_stats: Instant::now(),
    };
    let reports = live::capture(
        opened,
        &ifaces,
        session.pipeline.shared_dispatcher(),
        &stop,
        &mut || {
            // Nobody reads standard output any more: stop as on SIGTERM.
            if crate::output::stdout_closed() {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            periodic.tick();
        },
    );
    drop(periodic);
    let stats = session.finish(&args.common, reports);
    if let Some(s) = server {
        s.stop();
    }
    stats.map(|_| Outcome::Clean)
}
