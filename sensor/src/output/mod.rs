//! Writers for what the sensor produces besides events: alerts (formats and sinks), the
//! asset inventory and stats.

pub mod alerts;
pub mod decisions;
pub mod evidence;
pub mod format;
pub mod kafka;
pub mod risk;
pub mod sink;

/// One alert sink's delivery state.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq)]
pub struct SinkStatus {
    /// Sink name (file path, `stdout`, `brokers/topic`).
    pub name: String,
    /// `stdout`, `file` or `kafka`.
    pub kind: &'static str,
    /// Alert and asset records handed to it.
    pub records: u64,
    /// Records it could not write (files) or deliver (Kafka, then spooled).
    pub failed: u64,
    /// Seconds it has been failing to deliver, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded_secs: Option<u64>,
    /// Bytes waiting in its spool (Kafka).
    pub spool_bytes: u64,
    /// The last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What the output thread publishes (read by the metrics and health endpoints).
#[derive(Debug, Clone, Default)]
pub struct OutputSnapshot {
    /// Events written and lost.
    pub events: OutputReport,
    /// Alerts so far.
    pub alerts: alerts::AlertsReport,
    /// Distinct alerts by (rule, severity level).
    pub by_severity: std::collections::BTreeMap<(&'static str, &'static str), u64>,
    /// Each sink's state.
    pub sinks: Vec<SinkStatus>,
}

/// What the event-line writer (the output thread) did.
#[derive(Debug, Default, Clone)]
pub struct OutputReport {
    /// Event lines written.
    pub events_written: u64,
    /// The first write error, after which events were discarded (and counted).
    pub error: Option<String>,
    /// Event lines discarded after a write error.
    pub events_lost: u64,
    /// Flow records the workers made (for `--flows` and Kafka flows topics).
    pub flow_records: u64,
    /// Flow record lines written (`--flows`).
    pub flows_written: u64,
    /// The first write error of the flow records, after which they were discarded.
    pub flows_error: Option<String>,
    /// Flow record lines discarded after a write error.
    pub flows_lost: u64,
}

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use otsensor_baselines::assets::Asset;
use otsensor_baselines::clues::L2Asset;

/// Opens `path` for writing (`-` is stdout), buffered.
pub fn open_writer(path: &Path) -> anyhow::Result<Box<dyn Write + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufWriter::with_capacity(1 << 16, Stdout)));
    }
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 16, f)))
}

/// Set once standard output's reader has gone (`otsensor replay ... --alerts - | head -1`):
/// the input is then read no further, and the run ends quietly with exit 0, as Unix tools do.
pub static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether standard output's reader has gone.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Standard output for alerts, events and flow records: once its reader has gone, writes
/// are dropped (and [`STDOUT_CLOSED`] set) instead of failing the run.
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if stdout_closed() {
            return Ok(buf.len());
        }
        match std::io::stdout().write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(buf.len())
            }
            r => r,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        match std::io::stdout().flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            r => r,
        }
    }
}

/// Asset inventory formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AssetsFormat {
    /// One JSON document: `{"assets": [...]}`.
    Json,
    /// One row per asset; lists joined with `;`.
    Csv,
}

/// Writes the inventory.
pub fn write_assets(
    path: &Path,
    format: AssetsFormat,
    assets: &[Asset],
    l2: &[L2Asset],
) -> anyhow::Result<()> {
    let mut w = open_writer(path)?;
    match format {
        AssetsFormat::Json => {
            serde_json::to_writer_pretty(
                &mut w,
                &AssetsDoc {
                    assets: Sorted(assets),
                    l2_assets: l2,
                },
            )?;
            w.write_all(b"\n")?;
        }
        AssetsFormat::Csv => {
            write_assets_csv(&mut w, assets)?;
            write_l2_assets_csv(&mut w, l2)?;
        }
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The `--assets` JSON document.
#[derive(serde::Serialize)]
struct AssetsDoc<'a> {
    assets: Sorted<'a>,
    /// Devices known only by MAC address.
    #[serde(skip_serializing_if = "<[L2Asset]>::is_empty")]
    l2_assets: &'a [L2Asset],
}

/// Assets written one at a time with their keys sorted (each through a JSON value): a
/// 100,000-host inventory never exists twice in memory as values.
struct Sorted<'a>(&'a [Asset]);

impl serde::Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for a in self.0 {
            seq.serialize_element(&serde_json::to_value(a).map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV columns, in order.
const ASSET_COLUMNS: &[&str] = &[
    "ip",
    "macs",
    "mac_vendor",
    "zone",
    "roles",
    "vendor",
    "model",
    "order_number",
    "firmware",
    "hardware",
    "name",
    "serial",
    "software_version",
    "device_id",
    "vlans",
    "first_seen",
    "last_seen",
    "flows_initiated",
    "flows_accepted",
    "packets_sent",
    "packets_received",
    "bytes_sent",
    "bytes_received",
    "services",
    "protocols",
    "hostnames",
    "software",
    "dhcp_fingerprint",
    "device_type",
    "linked_addresses",
    "os",
    "l2_ports",
    "capabilities",
    "remote_access",
    "cleartext_management",
    "unsupported_os",
];

/// Devices known only by MAC address, after the assets: rows with an empty `ip`, the
/// columns that apply filled (MAC, vendor, times, names, software, OS, ports, type).
fn write_l2_assets_csv(w: &mut dyn Write, l2: &[L2Asset]) -> std::io::Result<()> {
    let col = |name: &str| ASSET_COLUMNS.iter().position(|c| *c == name);
    for a in l2 {
        let mut row = vec![String::new(); ASSET_COLUMNS.len()];
        let mut set = |name: &str, v: String| {
            if let Some(i) = col(name) {
                row[i] = v;
            }
        };
        let c = &a.clues;
        set("macs", a.mac.to_string());
        set("mac_vendor", a.mac_vendor.clone().unwrap_or_default());
        set("first_seen", a.first_seen.to_string());
        set("last_seen", a.last_seen.to_string());
        set("hostnames", clue_values(&c.hostnames));
        set("software", clue_values(&c.software));
        set("os", clue_values(&c.os));
        set("l2_ports", clue_values(&c.l2_ports));
        set("capabilities", clue_values(&c.capabilities));
        set("device_type", a.device_type.clone());
        let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        writeln!(w, "{}", fields.join(","))?;
    }
    Ok(())
}

fn clue_values(v: &[otsensor_baselines::clues::Clue]) -> String {
    v.iter()
        .map(|c| c.value.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

fn write_assets_csv(w: &mut dyn Write, assets: &[Asset]) -> std::io::Result<()> {
    writeln!(w, "{}", ASSET_COLUMNS.join(","))?;
    for a in assets {
        let list = |v: Vec<String>| v.join(";");
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let services = a
            .services
            .iter()
            .map(|s| match &s.protocol {
                Some(p) => format!("{}/{}:{p}", s.transport, s.port),
                None => format!("{}/{}", s.transport, s.port),
            })
            .collect();
        let id = &a.identity;
        let clues = a.clues.as_deref();
        let risk = a.device.as_deref().map(|d| &d.risk_inputs);
        let row = [
            a.ip.to_string(),
            list(a.macs.iter().map(ToString::to_string).collect()),
            opt(&a.mac_vendor),
            opt(&a.zone),
            list(a.roles.iter().cloned().collect()),
            opt(&id.vendor),
            opt(&id.model),
            opt(&id.order_number),
            opt(&id.firmware),
            opt(&id.hardware),
            opt(&id.name),
            opt(&id.serial),
            opt(&id.software_version),
            opt(&id.device_id),
            list(a.vlans.iter().map(ToString::to_string).collect()),
            a.first_seen.to_string(),
            a.last_seen.to_string(),
            a.flows_initiated.to_string(),
            a.flows_accepted.to_string(),
            a.packets_sent.to_string(),
            a.packets_received.to_string(),
            a.bytes_sent.to_string(),
            a.bytes_received.to_string(),
            list(services),
            list(a.protocols.iter().cloned().collect()),
            clues.map_or_else(String::new, |c| clue_values(&c.hostnames)),
            clues.map_or_else(String::new, |c| clue_values(&c.software)),
            clues
                .and_then(|c| c.dhcp_fingerprint.as_ref())
                .map(|c| c.value.clone())
                .unwrap_or_default(),
            a.device
                .as_ref()
                .map(|d| d.device_type.clone())
                .unwrap_or_default(),
            list(a.device.as_ref().map_or(Vec::new(), |d| {
                d.linked_addresses.iter().map(ToString::to_string).collect()
            })),
            clues.map_or_else(String::new, |c| clue_values(&c.os)),
            clues.map_or_else(String::new, |c| clue_values(&c.l2_ports)),
            clues.map_or_else(String::new, |c| clue_values(&c.capabilities)),
            risk.map_or_else(String::new, |r| r.remote_access.join(";")),
            risk.map_or_else(String::new, |r| r.cleartext_management.join(";")),
            risk.map_or_else(String::new, |r| r.unsupported_os.join(";")),
        ];
        debug_assert_eq!(row.len(), ASSET_COLUMNS.len());
        let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        writeln!(w, "{}", fields.join(","))?;
    }
    Ok(())
}

/// Writes any serializable value as pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut w = open_writer(path)?;
    serde_json::to_writer_pretty(&mut w, value)?;
    w.write_all(b"\n")?;
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes pretty JSON to a temporary file beside `path`, then renames it over `path`: a
/// reader never sees a half-written document.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    write_json(&tmp, value)?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_fields_that_need_it() {
        assert_eq!(csv_field("a;b"), "a;b");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
