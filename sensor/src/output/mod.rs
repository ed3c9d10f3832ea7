//! Writers for what the sensor produces besides events: alerts (formats and sinks), the
//! asset inventory and stats.

pub mod alerts;
pub mod evidence;
pub mod format;
pub mod kafka;
pub mod risk;
pub mod sink;
pub mod triage;

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

/// Opens `path` for writing (`-` is stdout), buffered.
pub fn open_writer(path: &Path) -> anyhow::Result<Box<dyn Write + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        )));
    }
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 16, f)))
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
pub fn write_assets(path: &Path, format: AssetsFormat, assets: &[Asset]) -> anyhow::Result<()> {
    let mut w = open_writer(path)?;
    match format {
        AssetsFormat::Json => {
            serde_json::to_writer_pretty(&mut w, &serde_json::json!({ "assets": assets }))?;
            w.write_all(b"\n")?;
        }
        AssetsFormat::Csv => write_assets_csv(&mut w, assets)?,
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
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
];

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
