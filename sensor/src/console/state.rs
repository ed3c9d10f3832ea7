//! What the console shows and where its decisions go: the output thread publishes a
//! snapshot of the alerts and assets at most once a second (only while a console is
//! configured); the console's Learn, Mute and Unmute go to the output thread through the
//! same path as the Kafka decisions topic, and each is appended to the audit log.

use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use otsensor_baselines::alert::Alert;
use otsensor_baselines::triage::Action;

use crate::config::ConsoleRole;
use crate::output::alerts::AlertsReport;
use crate::output::kafka::decisions::DecisionMsg;
use crate::registry::Registry;
use crate::service::telemetry::Telemetry;

/// Decisions queued for the output thread; beyond, the console answers 503.
pub const PENDING: usize = 256;

/// The alerts and assets as of the output thread's last publication.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every alert held, newest last observation first.
    pub alerts: Vec<Alert>,
    /// Asset records (the `assets_topic` record: the asset, its risk).
    pub assets: Vec<serde_json::Value>,
    /// Devices known only by MAC address.
    pub l2: Vec<serde_json::Value>,
    /// The alert counters.
    pub report: AlertsReport,
    /// Whether the input has ended (a replay explored after its end).
    pub done: bool,
}

impl Snapshot {
    /// The alert with this id.
    pub fn alert(&self, id: &str) -> Option<&Alert> {
        self.alerts.iter().find(|a| a.id == id)
    }

    /// The asset record of this IP address.
    pub fn asset(&self, ip: &str) -> Option<&serde_json::Value> {
        self.assets
            .iter()
            .find(|a| a.get("ip").and_then(|v| v.as_str()) == Some(ip))
    }
}

/// Zones and conduits as configured (the zone map).
#[derive(Debug, Default, Clone)]
pub struct Layout {
    /// Zone names with their Purdue level as a number (the DMZ 3.5, IT 5.5) and as text.
    pub zones: Vec<(String, Option<f64>, String)>,
    /// Conduits: from, to, protocols.
    pub conduits: Vec<(String, String, Vec<String>)>,
    /// The zone of hosts no zone matches.
    pub default_zone: String,
}

/// The console's view of the running sensor.
pub struct ConsoleState {
    /// Sensor id.
    pub sensor: String,
    /// Site.
    pub site: String,
    /// `capture` or `replay`.
    pub mode: &'static str,
    /// Since when.
    pub started: Instant,
    /// Counters of the pipeline (packets, interfaces, health).
    pub telemetry: Arc<Telemetry>,
    /// The protocol registry (for the counters).
    pub registry: Arc<Registry>,
    /// The zone layout.
    pub layout: Layout,
    /// Where evidence pcaps are written, if anywhere.
    pub evidence_dir: Option<std::path::PathBuf>,
    /// The detector's shared state (the running baseline).
    pub shared: Arc<otsensor_baselines::detector::Shared>,
    /// The baseline file (`--baseline`), if any.
    pub baseline_file: Option<std::path::PathBuf>,
    snapshot: RwLock<Arc<Snapshot>>,
    decisions: crossbeam_channel::Sender<DecisionMsg>,
    audit: Mutex<Option<std::fs::File>>,
    /// The last (time, packets) the overview read, for packets per second.
    pub rate: Mutex<Option<(Instant, u64)>>,
}

/// Why a decision was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No alert with this id.
    Unknown,
    /// The queue to the output thread is full, or the output thread is gone.
    Busy,
}

impl ConsoleState {
    /// A state with an empty snapshot; decisions go to `decisions`, the audit trail to
    /// `audit` (appended), if set.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sensor: String,
        site: String,
        mode: &'static str,
        telemetry: Arc<Telemetry>,
        registry: Arc<Registry>,
        layout: Layout,
        evidence_dir: Option<std::path::PathBuf>,
        (shared, baseline_file): (
            Arc<otsensor_baselines::detector::Shared>,
            Option<std::path::PathBuf>,
        ),
        decisions: crossbeam_channel::Sender<DecisionMsg>,
        audit: Option<&std::path::Path>,
    ) -> std::io::Result<ConsoleState> {
        let audit = audit
            .map(|p| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
            })
            .transpose()?;
        Ok(ConsoleState {
            sensor,
            site,
            mode,
            started: Instant::now(),
            telemetry,
            registry,
            layout,
            evidence_dir,
            shared,
            baseline_file,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            decisions,
            audit: Mutex::new(audit),
            rate: Mutex::new(None),
        })
    }

    /// The last published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the snapshot (the output thread).
    pub fn publish(&self, s: Snapshot) {
        *self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(s);
    }

    /// Queues `action` on alert `id` by `user` for the output thread, and records it in the
    /// audit log.
    pub fn decide(
        &self,
        id: &str,
        action: Action,
        user: &str,
        role: ConsoleRole,
        from: Option<std::net::IpAddr>,
    ) -> Result<(), Refused> {
        let snap = self.snapshot();
        let alert = snap.alert(id).ok_or(Refused::Unknown)?;
        let msg = DecisionMsg {
            alert_id: alert.id.clone(),
            action,
            by: user.to_string(),
            reason: "console".into(),
        };
        self.decisions.try_send(msg).map_err(|_| Refused::Busy)?;
        let verb = match action {
            Action::Learn => "learn",
            Action::Mute => "mute",
            Action::Unmute => "unmute",
        };
        tracing::info!(
            "Console: {user} ({role:?}) asked to {verb} alert {} ({} {}).",
            alert.id,
            alert.rule,
            alert.key
        );
        self.audit(serde_json::json!({
            "ts": otsensor_baselines::time::Timestamp::now(),
            "user": user,
            "role": role,
            "from": from.map(|a| a.to_string()),
            "alert_id": alert.id,
            "rule": alert.rule,
            "key": alert.key,
            "decision": verb,
        }));
        Ok(())
    }

    /// Approves or suppresses the running baseline's entries `selector` names (as
    /// `otsensor baseline approve|suppress` does on a file), and records it in the audit log.
    /// How many entries changed.
    pub fn curate(
        &self,
        selector: &str,
        state: otsensor_baselines::baseline::State,
        user: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<usize, String> {
        let sel = otsensor_baselines::baseline::Selector::parse(selector)?;
        let n = self.shared.learner.set_state(&sel, state);
        let verb = match state {
            otsensor_baselines::baseline::State::Suppressed => "suppress",
            _ => "approve",
        };
        tracing::info!("Console: {user} asked to {verb} {selector} ({n} entries).");
        self.audit(serde_json::json!({
            "ts": otsensor_baselines::time::Timestamp::now(),
            "user": user,
            "from": from.map(|a| a.to_string()),
            "selector": selector,
            "decision": verb,
            "entries": n,
        }));
        Ok(n)
    }

    fn audit(&self, line: serde_json::Value) {
        let mut audit = self
            .audit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = audit.as_mut() {
            if let Err(e) = writeln!(f, "{line}").and_then(|()| f.flush()) {
                tracing::warn!("Console audit log: {e}");
            }
        }
    }
}

impl Layout {
    /// The layout of a config.
    pub fn of(cfg: &crate::config::Config) -> Layout {
        use otsensor_baselines::zones::Purdue;
        Layout {
            zones: cfg
                .zones
                .iter()
                .map(|z| {
                    let (n, label) = match z.purdue {
                        Some(Purdue::Level(n)) => (Some(f64::from(n)), format!("Level {n}")),
                        Some(Purdue::Dmz) => (Some(3.5), "DMZ".into()),
                        Some(Purdue::It) => (Some(5.5), "IT".into()),
                        None => (None, String::new()),
                    };
                    (z.name.clone(), n, label)
                })
                .collect(),
            conduits: cfg
                .conduits
                .iter()
                .map(|c| (c.from.clone(), c.to.clone(), c.protocols.clone()))
                .collect(),
            default_zone: cfg.policy.default_zone.clone(),
        }
    }
}
