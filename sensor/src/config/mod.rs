//! The TOML configuration (`-c FILE`): every section of the file (pipeline, flows, capture,
//! zones and conduits, baseline, rules, alerts and sinks, detection, health, metrics, assets),
//! with its defaults and validation.
//!
//! Every section and key is optional; unknown keys are rejected so that a typo is an error
//! that names the key, not a silently ignored setting. `otsensor config check FILE` runs the
//! same parsing and validation.

use std::path::Path;

use serde::Deserialize;

use otsensor_baselines::anomaly::AnomalyConfig;
use otsensor_baselines::baseline::Caps;
use otsensor_baselines::detector::Thresholds;
use otsensor_baselines::zones::{ConduitConfig, ZoneConfig};

pub use crate::output::format::AlertFormat;
use crate::output::kafka::config::KafkaSinkConfig;

use crate::flow::ReassemblyConfig;

mod check;
pub mod keys;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How packets move from the reader to the workers.
    pub pipeline: PipelineConfig,
    /// Flow table size and idle timeouts.
    pub flows: FlowConfig,
    /// TCP reassembly buffers.
    pub reassembly: ReassemblySettings,
    /// Live capture settings (`otsensor capture`): one `[capture]` table of defaults for the
    /// interfaces given with `-i`, or `[[capture]]` entries, one per interface.
    pub capture: CaptureSection,
    /// Who this sensor is (stamped on every alert).
    pub sensor: SensorConfig,
    /// Zones (IEC 62443): hosts by CIDR, VLAN or capture interface.
    pub zones: Vec<ZoneConfig>,
    /// Conduits: the zone-to-zone flows allowed.
    pub conduits: Vec<ConduitConfig>,
    /// Zone policy settings.
    pub policy: PolicyConfig,
    /// Baseline learning and deviation settings.
    pub baseline: BaselineSettings,
    /// Rule switches and severity overrides.
    pub rules: RulesConfig,
    /// Alert aggregation and the default format.
    pub alerts: AlertsConfig,
    /// Where alerts (and, for Kafka, assets) go; with none (and no `--alerts`), stdout.
    pub sinks: Vec<SinkConfig>,
    /// Protocol-violation and anomaly thresholds (the anomaly engine's own settings).
    pub detection: AnomalyConfig,
    /// The sensor's own health alerts (`otsensor capture`).
    pub health: HealthConfig,
    /// Prometheus metrics and the health endpoint.
    pub metrics: MetricsConfig,
    /// The plant's console in the browser (off unless `listen` is set).
    pub console: ConsoleConfig,
    /// The asset inventory.
    pub assets: AssetsConfig,
    /// Packets behind alerts: a capture file per alert.
    pub evidence: EvidenceConfig,
    /// EtherNet/IP settings.
    pub enip: EnipConfig,
    /// Per-protocol settings (`[protocols.modbus]`): switched off, extra ports, found by
    /// content or not.
    pub protocols: std::collections::BTreeMap<String, ProtocolSettings>,
}

/// One protocol's settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolSettings {
    /// Parsed at all (off: its flows stay `unknown`).
    pub enabled: bool,
    /// Ports it owns besides its registered ones (on the transports it uses).
    pub ports: Vec<u16>,
    /// Recognised by content on ports it does not own.
    pub detect_by_content: bool,
    /// Most requests a flow keeps awaiting their answer (Modbus, EtherNet/IP, S7comm and
    /// MMS, IEC 104); beyond, the oldest is counted unanswered and the request flagged a
    /// flood.
    pub max_outstanding: usize,
    /// Most octets of one message reassembled from pieces (COTP data units for S7comm and
    /// MMS, chunks for OPC UA); 0: the protocol's own cap.
    pub max_message: usize,
}

impl Default for ProtocolSettings {
    fn default() -> Self {
        ProtocolSettings {
            enabled: true,
            ports: Vec::new(),
            detect_by_content: true,
            max_outstanding: otsensor_protocols::flow::DEFAULT_MAX_OUTSTANDING,
            max_message: 0,
        }
    }
}

/// EtherNet/IP settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EnipConfig {
    /// A CSV of ODVA vendor ids and names (`id,name` lines) the user holds a licence to:
    /// CIP identities name their vendor from it (otherwise a few built in, the rest by
    /// number).
    pub vendors: Option<std::path::PathBuf>,
}

impl EnipConfig {
    /// Reads the vendor table, if one is configured.
    pub fn vendor_table(&self) -> Result<Option<std::collections::HashMap<u16, String>>, String> {
        let Some(p) = &self.vendors else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        otsensor_protocols::enip::codes::parse_vendors(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", p.display()))
    }
}

/// Evidence captures: for the first observation of an alert on a flow, the flow's last
/// `packets_before` packets (the one that raised it included) and its next `packets_after`,
/// written to `dir/<alert id>.pcap`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Directory of the capture files; none = no evidence (and no per-flow packet copies).
    pub dir: Option<std::path::PathBuf>,
    /// Packets kept per flow, before and with the packet that raised an alert.
    pub packets_before: usize,
    /// Packets of the flow captured after it.
    pub packets_after: usize,
    /// Most bytes kept per flow (older packets go first).
    pub max_flow_bytes: usize,
    /// Most bytes kept over all flows, per worker; beyond, packets are not kept (counted).
    pub max_memory_bytes: usize,
    /// Most bytes of capture files in `dir`; beyond, the oldest file is deleted (counted).
    pub max_bytes: u64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            dir: None,
            packets_before: 16,
            packets_after: 16,
            max_flow_bytes: 256 * 1024,
            max_memory_bytes: 64 << 20,
            max_bytes: 1 << 30,
        }
    }
}

/// The asset inventory's bound.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AssetsConfig {
    /// Most hosts in the inventory; a host first seen when it is full is not added (counted
    /// in `drops.assets_refused`).
    pub max_assets: usize,
}

impl Default for AssetsConfig {
    fn default() -> Self {
        AssetsConfig {
            max_assets: otsensor_baselines::assets::DEFAULT_MAX_ASSETS,
        }
    }
}

/// Thresholds of the sensor's health alerts (engine `sensor`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds over which capture loss and overload are measured.
    pub interval_secs: u64,
    /// `sensor.capture_loss` when the kernel and the interface dropped more than this share
    /// of an interface's packets in one interval (0.001 = 0.1 %).
    pub max_loss_ratio: f64,
    /// `sensor.input_silent` when an interface has had no packet for this many seconds.
    pub silent_secs: u64,
    /// `sensor.sink_degraded` when a sink has not delivered for this many seconds.
    pub sink_secs: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval_secs: 10,
            max_loss_ratio: 0.001,
            silent_secs: 60,
            sink_secs: 60,
        }
    }
}

/// Prometheus metrics (`GET /metrics`) and the health endpoint (`GET /health`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address to listen on, `ADDRESS:PORT`, e.g. `127.0.0.1:9477`; absent = no metrics
    /// server.
    pub listen: Option<String>,
}

impl MetricsConfig {
    /// The address to listen on, if any.
    pub fn listen_addr(&self) -> Result<Option<std::net::SocketAddr>, String> {
        self.listen
            .as_deref()
            .map(|a| {
                a.parse()
                    .map_err(|_| format!("{a:?} is not ADDRESS:PORT (e.g. 127.0.0.1:9477)"))
            })
            .transpose()
    }
}

/// The console (`[console]`): pages and a JSON API served by the sensor itself.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Address to listen on, `ADDRESS:PORT`; absent = no console. Without TLS it must be a
    /// loopback address.
    pub listen: Option<String>,
    /// TLS certificate chain (PEM); with `tls_key`, the console is served over HTTPS.
    pub tls_cert: Option<std::path::PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<std::path::PathBuf>,
    /// How long a login lasts.
    pub session_minutes: u64,
    /// Where every triage action is appended (JSON lines: user, time, alert, decision);
    /// absent = the service log only.
    pub audit_log: Option<std::path::PathBuf>,
    /// Who may log in.
    pub users: Vec<ConsoleUser>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            listen: None,
            tls_cert: None,
            tls_key: None,
            session_minutes: 480,
            audit_log: None,
            users: Vec::new(),
        }
    }
}

impl ConsoleConfig {
    /// The address to listen on, if any.
    pub fn listen_addr(&self) -> Result<Option<std::net::SocketAddr>, String> {
        self.listen
            .as_deref()
            .map(|a| {
                a.parse()
                    .map_err(|_| format!("{a:?} is not ADDRESS:PORT (e.g. 127.0.0.1:8443)"))
            })
            .transpose()
    }

    /// Whether the console is served over TLS.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

/// One console user.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsoleUser {
    /// Login name.
    pub name: String,
    /// argon2id hash as a PHC string (`otsensor console hash-password` prints one).
    pub password_hash: String,
    /// `viewer` (reads) or `operator` (also triages alerts).
    #[serde(default)]
    pub role: ConsoleRole,
}

/// What a console user may do.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleRole {
    /// Reads every page.
    #[default]
    Viewer,
    /// Also learns, mutes and unmutes alerts.
    Operator,
}

/// Sensor identity.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SensorConfig {
    /// Sensor id (default: the host name).
    pub id: String,
    /// Site name.
    pub site: String,
    /// Started as root, run as this user (and its group) once the capture handles and the
    /// listening socket are open, keeping only CAP_NET_RAW and CAP_NET_ADMIN (to reopen an
    /// interface that went away). Absent = stay who started it.
    pub user: Option<String>,
    /// While capturing, `--stats` is rewritten (atomically) and a one-line summary logged
    /// every this many seconds (0 = only at exit).
    pub stats_interval_secs: u64,
}

impl Default for SensorConfig {
    fn default() -> Self {
        let id = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "otsensor".to_string());
        SensorConfig {
            id,
            site: String::new(),
            user: None,
            stats_interval_secs: 60,
        }
    }
}

/// Zone policy settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Zone of hosts no zone matches.
    pub default_zone: String,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            default_zone: "unzoned".to_string(),
        }
    }
}

/// Baseline settings: the save interval, and the detector's thresholds and the baseline's
/// caps as those components define them (each default lives with its component). One flat
/// `[baseline]` table in the file; each key goes to the part that owns it.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineSettings {
    /// Seconds between saves of the baseline while learning from a live capture.
    pub save_interval_secs: u64,
    /// Deviation thresholds ([`Thresholds::KEYS`]).
    pub thresholds: Thresholds,
    /// Size caps ([`Caps::KEYS`]).
    pub caps: Caps,
}

impl Default for BaselineSettings {
    fn default() -> Self {
        BaselineSettings {
            save_interval_secs: 300,
            thresholds: Thresholds::default(),
            caps: Caps::default(),
        }
    }
}

impl<'de> Deserialize<'de> for BaselineSettings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let named = |k: &str, e: toml::de::Error| {
            D::Error::custom(format!("baseline.{k}: {}", e.message()))
        };
        let mut out = BaselineSettings::default();
        let (mut thresholds, mut caps) = (toml::Table::new(), toml::Table::new());
        for (k, v) in toml::Table::deserialize(d)? {
            if k == "save_interval_secs" {
                out.save_interval_secs = v.try_into().map_err(|e| named(&k, e))?;
            } else if Thresholds::KEYS.contains(&k.as_str()) {
                thresholds.insert(k, v);
            } else if Caps::KEYS.contains(&k.as_str()) {
                caps.insert(k, v);
            } else {
                return Err(D::Error::custom(format!("unknown key `baseline.{k}`")));
            }
        }
        // One key at a time, so that an error names its key.
        for (k, v) in thresholds.iter() {
            let one = toml::Table::from_iter([(k.clone(), v.clone())]);
            Thresholds::deserialize(toml::Value::Table(one)).map_err(|e| named(k, e))?;
        }
        for (k, v) in caps.iter() {
            let one = toml::Table::from_iter([(k.clone(), v.clone())]);
            Caps::deserialize(toml::Value::Table(one)).map_err(|e| named(k, e))?;
        }
        out.thresholds = Thresholds::deserialize(toml::Value::Table(thresholds))
            .map_err(|e| D::Error::custom(e.message()))?;
        out.caps = Caps::deserialize(toml::Value::Table(caps))
            .map_err(|e| D::Error::custom(e.message()))?;
        Ok(out)
    }
}

/// Rule switches.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Rule ids never raised.
    pub disabled: Vec<String>,
    /// Severity (1–10) per rule id, replacing the rule's default.
    pub severity: std::collections::BTreeMap<String, u8>,
    /// Sigma rule files and directories (of `.yml`/`.yaml` files).
    pub sigma: Vec<std::path::PathBuf>,
    /// The Sigma rules, loaded when the config is.
    #[serde(skip)]
    pub loaded: otsensor_baselines::sigma::Shared,
}

/// Alert aggregation and the default format.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// An alert is emitted at first sight, then at most every this many seconds (of capture
    /// time) with its running count, and once more at the end of a replay.
    pub update_interval_secs: u64,
    /// Format of sinks that name none (`--alert-format` overrides).
    pub format: AlertFormat,
    /// Most alerts held for aggregation; a new one then evicts the least recently observed
    /// (its final state written first).
    pub max_alerts: usize,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            update_interval_secs: 300,
            format: AlertFormat::Json,
            max_alerts: otsensor_baselines::alert::DEFAULT_MAX_ALERTS,
        }
    }
}

/// One destination of alerts (and, for Kafka, of assets): `type = "stdout"`, `"file"` or
/// `"kafka"`, with that kind's own keys (a key of another kind is refused by name).
#[derive(Debug, Clone, PartialEq)]
pub enum SinkConfig {
    /// Standard output.
    Stdout(StdoutSinkConfig),
    /// A file, appended to, rotated by size.
    File(FileSinkConfig),
    /// A Kafka topic (or an Azure event hub), with a disk spool: configured and checked by
    /// the Kafka sink (boxed: it is much larger than the others).
    Kafka(Box<KafkaSinkConfig>),
}

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut t = toml::Table::deserialize(d)?;
        let kind = match t.remove("type") {
            Some(toml::Value::String(k)) => k,
            Some(_) => return Err(D::Error::custom("sinks.type: must be a string")),
            None => {
                return Err(D::Error::custom(
                    "sinks.type: missing (stdout, file or kafka)",
                ))
            }
        };
        // The kind's own keys; an error names the key (serde's internally tagged enums
        // would lose it).
        fn part<T: serde::de::DeserializeOwned>(kind: &str, v: toml::Value) -> Result<T, String> {
            serde_path_to_error::deserialize(v).map_err(|e| {
                let m = e.inner().message().trim().replace('\n', " ");
                // A missing key is reported at the table: name it.
                let missing = m
                    .strip_prefix("missing field `")
                    .and_then(|r| r.strip_suffix('`'));
                match (e.path().to_string().as_str(), missing) {
                    (".", Some(key)) => format!("sinks.{key} ({kind}): missing"),
                    (".", None) => format!("sinks ({kind}): {m}"),
                    (key, _) => format!("sinks.{key} ({kind}): {m}"),
                }
            })
        }
        let v = toml::Value::Table(t);
        match kind.as_str() {
            "stdout" => part(&kind, v).map(SinkConfig::Stdout),
            "file" => part(&kind, v).map(SinkConfig::File),
            "kafka" => part(&kind, v).map(|k| SinkConfig::Kafka(Box::new(k))),
            other => Err(format!(
                "sinks.type: unknown sink {other:?} (stdout, file or kafka)"
            )),
        }
        .map_err(D::Error::custom)
    }
}

/// A stdout sink.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    /// Format; absent = `alerts.format`.
    #[serde(default)]
    pub format: Option<AlertFormat>,
}

/// A file sink.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Format; absent = `alerts.format`.
    #[serde(default)]
    pub format: Option<AlertFormat>,
    /// The file.
    pub path: std::path::PathBuf,
    /// Rotate when the file would grow past this many bytes (0 = never).
    #[serde(default)]
    pub max_bytes: u64,
    /// Rotated files kept (`path.1` newest ... `path.N`).
    #[serde(default = "default_max_files")]
    pub max_files: u32,
}

fn default_max_files() -> u32 {
    5
}

impl SinkConfig {
    /// The sink's format, if it names one.
    pub fn format(&self) -> Option<AlertFormat> {
        match self {
            SinkConfig::Stdout(s) => s.format,
            SinkConfig::File(f) => f.format,
            SinkConfig::Kafka(k) => k.format,
        }
    }

    /// The sink's own checks: a file sink's directory exists; a Kafka sink's settings hold
    /// together and its secrets are there (what the run would find missing).
    fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            SinkConfig::Stdout(_) => Ok(()),
            SinkConfig::File(f) => {
                if f.path.as_os_str().is_empty() {
                    return Err(("sinks.path", "must not be empty".into()));
                }
                let dir = match f.path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                if !dir.is_dir() {
                    return Err((
                        "sinks.path",
                        format!("directory {} does not exist", dir.display()),
                    ));
                }
                if f.path.is_dir() {
                    return Err(("sinks.path", format!("{} is a directory", f.path.display())));
                }
                Ok(())
            }
            SinkConfig::Kafka(k) => k.validate(),
        }
    }
}

/// What the reader does when a worker's queue is full.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnFull {
    /// Wait for the worker (nothing is dropped; a live capture may then drop in the kernel,
    /// which shows in `capture.dropped`).
    #[default]
    Block,
    /// Drop the newest batch and count its packets in `drops.worker_queue_full`.
    Drop,
}

/// Pipeline settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Worker threads (0 = one per CPU core). `--workers` overrides.
    pub workers: usize,
    /// Batches that may wait in each worker's queue.
    pub queue_batches: usize,
    /// Packets per round: the reader hands a batch to every worker after this many packets.
    pub batch_packets: usize,
    /// What to do when a worker's queue is full: `block` or `drop`.
    pub on_full: OnFull,
}

fn default_queue_batches() -> usize {
    16
}
fn default_batch_packets() -> usize {
    512
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 0,
            queue_batches: default_queue_batches(),
            batch_packets: default_batch_packets(),
            on_full: OnFull::Block,
        }
    }
}

/// Flow table settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FlowConfig {
    /// Most flows tracked at once, over all workers; at the cap the least recently seen flow
    /// is evicted (counted in `flows.ended.evicted`).
    pub max_flows: usize,
    /// Seconds an established TCP connection may be idle before it is ended. Industrial
    /// polling connections can be quiet for minutes, so this is long.
    pub tcp_idle_timeout_secs: u64,
    /// Seconds a TCP connection is kept after FIN in both directions or RST (to absorb
    /// trailing ACKs and retransmissions).
    pub tcp_closed_timeout_secs: u64,
    /// Seconds a UDP flow may be idle.
    pub udp_idle_timeout_secs: u64,
    /// Seconds a flow of another IP protocol (ICMP, ...) may be idle.
    pub other_idle_timeout_secs: u64,
    /// Most half-open TCP connections (a SYN and nothing since) tracked at once; beyond,
    /// the oldest is evicted. At the cap, or with the table 90 % full, emergency mode.
    pub max_half_open: usize,
    /// Seconds a half-open TCP connection is kept.
    pub tcp_half_open_timeout_secs: u64,
    /// In emergency mode (a flood), half-open and closed connections are kept at most this
    /// many seconds; established connections, UDP and other flows keep their timeouts.
    pub emergency_timeout_secs: u64,
    /// With flow records on (`--flows`): a flow still open after this many seconds gets an
    /// interim record (same uid, totals so far) with its next packet, and again every as
    /// many seconds (a PLC's connection lasts months).
    pub interim_secs: u64,
    /// Most layer-2 flows (GOOSE and SV: one publisher, group and APPID each) tracked at
    /// once, over all workers; at the cap the least recently heard is forgotten (counted).
    pub max_l2_flows: usize,
    /// Seconds a layer-2 flow may be silent before it is ended (a GOOSE publisher repeats
    /// its state at least every few seconds).
    pub l2_idle_timeout_secs: u64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1_000_000,
            tcp_idle_timeout_secs: 3600,
            tcp_closed_timeout_secs: 30,
            udp_idle_timeout_secs: 300,
            other_idle_timeout_secs: 60,
            max_half_open: 100_000,
            tcp_half_open_timeout_secs: 60,
            emergency_timeout_secs: 5,
            interim_secs: 300,
            max_l2_flows: 65_536,
            l2_idle_timeout_secs: 60,
        }
    }
}

/// TCP reassembly settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReassemblySettings {
    /// Most out-of-order bytes buffered per direction of a connection before the sensor skips
    /// the hole (counted in `tcp.ooo_buffer_full`).
    pub max_ooo_bytes: usize,
    /// Most out-of-order segments buffered per direction.
    pub max_ooo_segments: usize,
}

impl Default for ReassemblySettings {
    fn default() -> Self {
        let d = ReassemblyConfig::default();
        ReassemblySettings {
            max_ooo_bytes: d.max_ooo_bytes,
            max_ooo_segments: d.max_ooo_segments,
        }
    }
}

impl ReassemblySettings {
    /// The reassembler's view of these settings.
    pub fn to_reassembly(&self) -> ReassemblyConfig {
        ReassemblyConfig {
            max_ooo_bytes: self.max_ooo_bytes,
            max_ooo_segments: self.max_ooo_segments,
        }
    }
}

/// Live capture settings; the command line overrides each.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Bytes captured per packet.
    pub snaplen: u32,
    /// Kernel capture buffer in bytes.
    pub buffer_size: u32,
    /// Put the interface in promiscuous mode (needed on a SPAN port).
    pub promiscuous: bool,
    /// Deliver packets as they arrive instead of when the kernel buffer fills. libpcap then
    /// uses a ring of fixed slots of about `snaplen` each, so `buffer_size / snaplen` packets
    /// fit: pair it with a snaplen near the MTU.
    pub immediate: bool,
    /// Milliseconds the reader waits for packets before it checks for shutdown and hands
    /// partial batches to the workers.
    pub timeout_ms: u32,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            snaplen: 65535,
            buffer_size: 32 * 1024 * 1024,
            promiscuous: true,
            immediate: false,
            timeout_ms: 100,
        }
    }
}

/// One interface of `[[capture]]`: its name, and settings that replace the defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaptureEntry {
    /// Interface name.
    pub interface: String,
    /// BPF capture filter.
    #[serde(default)]
    pub bpf: Option<String>,
    /// Bytes captured per packet.
    #[serde(default)]
    pub snaplen: Option<u32>,
    /// Kernel capture buffer in bytes.
    #[serde(default)]
    pub buffer_size: Option<u32>,
    /// Promiscuous mode.
    #[serde(default)]
    pub promiscuous: Option<bool>,
    /// Immediate mode.
    #[serde(default)]
    pub immediate: Option<bool>,
    /// Reader wake-up in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
}

impl CaptureEntry {
    /// This entry's settings over `defaults`.
    pub fn settings(&self, defaults: &CaptureConfig) -> CaptureConfig {
        CaptureConfig {
            snaplen: self.snaplen.unwrap_or(defaults.snaplen),
            buffer_size: self.buffer_size.unwrap_or(defaults.buffer_size),
            promiscuous: self.promiscuous.unwrap_or(defaults.promiscuous),
            immediate: self.immediate.unwrap_or(defaults.immediate),
            timeout_ms: self.timeout_ms.unwrap_or(defaults.timeout_ms),
        }
    }
}

/// `[capture]` (settings for every interface) or `[[capture]]` (one entry per interface).
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureSection {
    /// One table: the settings of the interfaces named with `-i`.
    Defaults(CaptureConfig),
    /// Interfaces to capture on, each with its own settings.
    Interfaces(Vec<CaptureEntry>),
}

impl Default for CaptureSection {
    fn default() -> Self {
        CaptureSection::Defaults(CaptureConfig::default())
    }
}

impl CaptureSection {
    /// The settings for interfaces not listed in `[[capture]]`.
    pub fn defaults(&self) -> CaptureConfig {
        match self {
            CaptureSection::Defaults(c) => c.clone(),
            CaptureSection::Interfaces(_) => CaptureConfig::default(),
        }
    }

    /// The `[[capture]]` entries (none with a `[capture]` table).
    pub fn entries(&self) -> &[CaptureEntry] {
        match self {
            CaptureSection::Defaults(_) => &[],
            CaptureSection::Interfaces(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for CaptureSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CaptureSection;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a [capture] table or [[capture]] entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                m: A,
            ) -> Result<Self::Value, A::Error> {
                CaptureConfig::deserialize(serde::de::value::MapAccessDeserializer::new(m))
                    .map(CaptureSection::Defaults)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                s: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::<CaptureEntry>::deserialize(serde::de::value::SeqAccessDeserializer::new(s))
                    .map(CaptureSection::Interfaces)
            }
        }
        d.deserialize_any(V)
    }
}

/// A configuration problem, naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong and where.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid config {path}: {key}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The offending key, dotted.
        key: String,
        /// Why.
        message: String,
    },
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: p.clone(),
            source,
        })?;
        Config::parse(&text, &p)
    }

    /// Parses and validates config text; `origin` names it in errors. Values are checked
    /// against their key's range ([`keys`]) before the file is read into a [`Config`], then
    /// the rules that relate keys ([`check`]) run on the result.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let parse_error = |message: String| ConfigError::Parse {
            path: origin.to_string(),
            message,
        };
        let table: toml::Table = text.parse().map_err(|e| parse_error(located(&e, text)))?;
        let doc = toml::Value::Table(table);
        keys::check(&doc).map_err(|(key, message)| ConfigError::Invalid {
            path: origin.to_string(),
            key,
            message,
        })?;
        let cfg: Config = serde_path_to_error::deserialize(doc).map_err(|e| {
            let m = e.inner().message().trim().replace('\n', " ");
            let path = e.path().to_string();
            let first = path.split(['.', '[']).next().unwrap_or_default();
            // The sections with their own readers name the key already.
            if path == "." || m.starts_with(&format!("{first}.")) {
                parse_error(m)
            } else {
                parse_error(format!("{}: {m}", keys::display(&path)))
            }
        })?;
        let mut cfg = cfg;
        cfg.rules.loaded = otsensor_baselines::sigma::SigmaSet::load(&cfg.rules.sigma)
            .map(std::sync::Arc::new)
            .map_err(|message| ConfigError::Invalid {
                path: origin.to_string(),
                key: "rules.sigma".into(),
                message,
            })?;
        check::all(&cfg).map_err(|(key, message)| ConfigError::Invalid {
            path: origin.to_string(),
            key: key.to_string(),
            message,
        })?;
        Ok(cfg)
    }
}

/// A TOML syntax error as one line: the line it is on, and for a duplicate key the key
/// (with its table), which toml's message leaves out.
fn located(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return msg;
    };
    let before = text.get(..span.start).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    if !msg.contains("duplicate key") {
        return format!("line {line}: {msg}");
    }
    let key = text
        .get(span.clone())
        .unwrap_or_default()
        .trim()
        .trim_matches('"')
        .to_string();
    // The table the key is in: the last header before it.
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|h| h.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let full = match table {
        Some(t) if !key.is_empty() && !before.trim_end().ends_with(']') => format!("{t}.{key}"),
        Some(t) if key.is_empty() || key.starts_with('[') => t,
        Some(t) => format!("{t}.{key}"),
        None => key,
    };
    format!("{full}: duplicate key (line {line})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_keys_go_to_the_part_that_owns_them() {
        for k in Thresholds::KEYS.iter().chain(Caps::KEYS) {
            let c = Config::parse(&format!("[baseline]\n{k} = 7\n"), "t")
                .unwrap_or_else(|e| panic!("{k}: {e}"));
            assert_ne!(c.baseline, BaselineSettings::default(), "{k} was not read");
        }
        let c = Config::parse("[baseline]\nmax_edges = 9\nrate_factor = 2.5\n", "t").unwrap();
        assert_eq!(
            (c.baseline.caps.max_edges, c.baseline.thresholds.rate_factor),
            (9, 2.5)
        );
        let e = Config::parse("[baseline]\nmax_edges = \"x\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("baseline.max_edges"), "{e}");
        let e = Config::parse("[baseline]\nmax_edgez = 1\n", "t").unwrap_err();
        assert!(e.to_string().contains("baseline.max_edgez"), "{e}");
    }

    #[test]
    fn empty_config_is_all_defaults() {
        assert_eq!(Config::parse("", "t").unwrap(), Config::default());
    }

    #[test]
    fn sections_parse() {
        let c = Config::parse(
            "[pipeline]\nworkers = 4\non_full = \"drop\"\n[flows]\nmax_flows = 10\n[capture]\nimmediate = true\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.pipeline.workers, 4);
        assert_eq!(c.pipeline.on_full, OnFull::Drop);
        assert_eq!(c.flows.max_flows, 10);
        assert!(c.capture.defaults().immediate);
    }

    /// Conduits name any protocol with a descriptor, and nothing else.
    #[test]
    fn conduit_protocols_come_from_the_descriptors() {
        let conf = |protocols: &str| {
            format!(
                "[[zones]]\nname = \"a\"\ncidrs = [\"10.0.0.0/24\"]\n[[zones]]\nname = \"b\"\ncidrs = [\"10.0.1.0/24\"]\n[[conduits]]\nfrom = \"a\"\nto = \"b\"\nprotocols = {protocols}\n"
            )
        };
        Config::parse(
            &conf(r#"["enip", "cip", "iec104", "modbus", "s7comm_plus"]"#),
            "t",
        )
        .unwrap();
        let e = Config::parse(&conf(r#"["iec61850"]"#), "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("conduits.protocols") && e.contains("iec104") && e.contains("cip"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::parse("[flows]\nmax_flow = 3\n", "site.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("site.toml") && e.contains("max_flow"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn capture_entries_per_interface() {
        let c = Config::parse(
            "[[capture]]\ninterface = \"eth1\"\nbpf = \"tcp\"\nsnaplen = 1600\n[[capture]]\ninterface = \"eth2\"\n",
            "t",
        )
        .unwrap();
        let e = c.capture.entries();
        assert_eq!(e.len(), 2);
        let s1 = e[0].settings(&c.capture.defaults());
        assert_eq!(
            (s1.snaplen, s1.buffer_size),
            (1600, CaptureConfig::default().buffer_size)
        );
        assert_eq!(e[0].bpf.as_deref(), Some("tcp"));
        assert_eq!(
            e[1].settings(&c.capture.defaults()),
            CaptureConfig::default()
        );
        for (text, key) in [
            (
                "[[capture]]\ninterface = \"eth1\"\n[[capture]]\ninterface = \"eth1\"\n",
                "capture.interface",
            ),
            (
                "[[capture]]\ninterface = \"eth1\"\nsnaplen = 10\n",
                "capture.snaplen",
            ),
            ("[[capture]]\ninterface = \"eth1\"\nsnap = 10\n", "snap"),
            ("[[capture]]\nbpf = \"tcp\"\n", "interface"),
        ] {
            let e = Config::parse(text, "x").unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn health_metrics_and_sensor_keys() {
        let c = Config::parse(
            // A user that exists on the machine (the check looks it up).
            "[sensor]\nuser = \"nobody\"\nstats_interval_secs = 5\n[health]\nsilent_secs = 3\n[metrics]\nlisten = \"127.0.0.1:9477\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.sensor.user.as_deref(), Some("nobody"));
        assert_eq!(c.health.silent_secs, 3);
        assert_eq!(
            c.metrics.listen_addr(),
            Ok(Some("127.0.0.1:9477".parse().unwrap()))
        );
        for (text, key) in [
            ("[health]\ninterval_secs = 0\n", "health.interval_secs"),
            ("[health]\nmax_loss_ratio = 1.5\n", "health.max_loss_ratio"),
            ("[health]\nsilent_secs = 0\n", "health.silent_secs"),
            ("[health]\nsink_secs = 0\n", "health.sink_secs"),
            ("[sensor]\nuser = \"\"\n", "sensor.user"),
            ("[metrics]\nlisten = \"localhost\"\n", "metrics.listen"),
        ] {
            let e = Config::parse(text, "x").unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn out_of_range_value_is_named() {
        let e = Config::parse("[pipeline]\nqueue_batches = 0\n", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pipeline.queue_batches"), "{e}");
        let e = Config::parse("[pipeline]\non_full = \"maybe\"\n", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("maybe") || e.contains("on_full"), "{e}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The shipped example documents the defaults; it must not drift from them.
    #[test]
    fn example_config_equals_defaults() {
        let text = include_str!("../../../config/example.toml");
        assert_eq!(
            Config::parse(text, "example.toml").unwrap(),
            Config::default()
        );
    }
}
