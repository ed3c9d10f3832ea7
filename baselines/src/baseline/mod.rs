//! The learned baseline: per edge (client asset, server asset, protocol) the operations,
//! function codes, unit ids, address ranges and poll timing seen, each with a state and its
//! provenance. Plain data a person can read, diff and commit (JSON, stable ordering, schema
//! version), written atomically.
//!
//! This file is the format; [`Learner`] (in `learner`) is the baseline being learned or used
//! while the sensor runs (and merges files: [`Baseline::merge`]); [`Selector`] (in `selector`)
//! names the entries a person approves or suppresses ([`Baseline::set_state`]). The format
//! depends on neither.

mod learner;
mod selector;

pub use learner::{Keyed, Learner, Lesson, MAX_NAMED_HOSTS};
pub use selector::Selector;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer as HistDe, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use otsensor_protocols::Operation;

use crate::intervals::Intervals;
use crate::mac::MacAddr;
use crate::time::Timestamp;

/// Version of the file format this build reads and writes.
pub const SCHEMA_VERSION: u32 = 4;

/// The first file format with learned conversations: a baseline of an older version has
/// none, so detection does not judge conversations against it (relearn, or extend it with
/// `--learn`, to have them).
pub const CONVERSATIONS_SINCE: u32 = 3;

/// The first file format with learned substation streams (GOOSE, SV): detection does not
/// judge streams against an older baseline.
pub const STREAMS_SINCE: u32 = 4;

/// Caps that bound a baseline's size (memory and file); the config's `[baseline]` keys of the
/// same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Caps {
    /// Most edges.
    pub max_edges: usize,
    /// Most assets.
    pub max_assets: usize,
    /// Most function codes per edge.
    pub max_functions: usize,
    /// Most unit ids per edge.
    pub max_units: usize,
    /// Most address areas per edge.
    pub max_areas: usize,
    /// Most intervals per area (closest neighbours are joined beyond).
    pub max_ranges: usize,
    /// Most (edge, function) timing histograms held in memory while learning (about 8 KiB
    /// each); functions beyond are learned without timing.
    pub max_timings: usize,
}

impl Caps {
    /// The field names (the config keys), for a section that holds these and more.
    pub const KEYS: &'static [&'static str] = &[
        "max_edges",
        "max_assets",
        "max_functions",
        "max_units",
        "max_areas",
        "max_ranges",
        "max_timings",
    ];
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_edges: 100_000,
            max_assets: 100_000,
            max_functions: 256,
            max_units: 256,
            max_areas: 64,
            max_ranges: 32,
            max_timings: 20_000,
        }
    }
}

/// Review state of an entry.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Learned, not yet reviewed (still normal for detection).
    #[default]
    Learning,
    /// Reviewed and approved.
    Approved,
    /// Never alert on this entry.
    Suppressed,
}

impl State {
    /// The stricter of two states when merging: suppressed over approved over learning.
    pub fn merge(self, o: State) -> State {
        self.max(o)
    }
}

/// When an entry was first and last seen, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// First time.
    pub first_seen: Timestamp,
    /// Last time.
    pub last_seen: Timestamp,
    /// Times seen.
    pub count: u64,
}

impl Seen {
    /// Seen once at `ts`.
    pub fn at(ts: Timestamp) -> Seen {
        Seen {
            first_seen: ts,
            last_seen: ts,
            count: 1,
        }
    }
    /// Seen again at `ts`.
    pub fn add(&mut self, ts: Timestamp) {
        self.first_seen = self.first_seen.min(ts);
        self.last_seen = self.last_seen.max(ts);
        self.count += 1;
    }
    /// Both.
    pub fn merge(&mut self, o: &Seen) {
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.count += o.count;
    }
}

/// An asset known to the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetEntry {
    /// Review state.
    pub state: State,
    /// Provenance.
    #[serde(flatten)]
    pub seen: Seen,
    /// Zone.
    pub zone: String,
    /// MAC addresses its frames came from while learning (at most [`MAX_ASSET_MACS`]; a
    /// host with more is not judged by them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub macs: Vec<MacAddr>,
    /// Firmware it reported over an industrial protocol while learning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Names it gave itself while learning (DHCP, NetBIOS, SNMP sysName, mDNS, LLMNR; at most
    /// [`MAX_ASSET_MACS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
}

/// Most MAC addresses an asset of the baseline keeps.
pub const MAX_ASSET_MACS: usize = 4;

impl AssetEntry {
    /// Adds a name it gave itself (while there is room).
    pub fn add_hostname(&mut self, h: &str) {
        if !self.hostnames.iter().any(|x| x.eq_ignore_ascii_case(h))
            && self.hostnames.len() < MAX_ASSET_MACS
        {
            self.hostnames.push(h.to_string());
            self.hostnames.sort_unstable();
        }
    }

    /// Adds a MAC address it was seen with (while there is room).
    pub fn add_mac(&mut self, m: MacAddr) {
        if !self.macs.contains(&m) && self.macs.len() < MAX_ASSET_MACS {
            self.macs.push(m);
            self.macs.sort_unstable();
        }
    }
}

/// Poll timing of a function on an edge: inter-arrival times of its requests on a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Intervals measured.
    pub samples: u64,
    /// Median interval, ms.
    pub period_ms: u64,
    /// Half the spread between the 10th and 90th percentile, ms.
    pub jitter_ms: u64,
    /// Shortest interval, ms.
    pub min_ms: u64,
    /// Longest interval, ms.
    pub max_ms: u64,
    /// The full distribution (hdrhistogram V2, base64), so that learning can continue.
    pub histogram: String,
}

/// Longest interval recorded, ms (longer ones count as this).
pub const MAX_INTERVAL_MS: u64 = 3_600_000;

fn new_histogram() -> Histogram<u32> {
    // Two significant digits over 1 ms..1 h: about 11 KiB per histogram.
    match Histogram::new_with_bounds(1, MAX_INTERVAL_MS, 2) {
        Ok(h) => h,
        Err(_) => unreachable!("constant histogram bounds are valid"),
    }
}

impl Timing {
    fn from_histogram(h: &Histogram<u32>) -> Option<Timing> {
        if h.is_empty() {
            return None;
        }
        let mut buf = Vec::new();
        V2Serializer::new().serialize(h, &mut buf).ok()?;
        let (p10, p90) = (h.value_at_quantile(0.1), h.value_at_quantile(0.9));
        Some(Timing {
            samples: h.len(),
            period_ms: h.value_at_quantile(0.5),
            jitter_ms: p90.saturating_sub(p10) / 2,
            min_ms: h.min(),
            max_ms: h.max(),
            histogram: base64::engine::general_purpose::STANDARD.encode(buf),
        })
    }

    fn to_histogram(&self) -> Option<Histogram<u32>> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.histogram)
            .ok()?;
        let h: Histogram<u32> = HistDe::new().deserialize(&mut bytes.as_slice()).ok()?;
        let mut out = new_histogram();
        out.add(&h).ok()?;
        Some(out)
    }

    /// Whether an interval of `ms` is far outside the learned ones: more than `factor` times
    /// the longest learned interval, or less than the shortest divided by `factor`. (Several
    /// polls of one function at different addresses interleave, so the distribution of a
    /// function's intervals is often multi-modal; its range is what is robust.)
    pub fn deviates(&self, ms: u64, factor: f64) -> bool {
        interval_deviates(ms, self.min_ms, self.max_ms, factor)
    }
}

/// Whether an interval of `ms` is more than `factor` times `max_ms` or less than `min_ms`
/// divided by `factor` (see [`Timing::deviates`]).
pub fn interval_deviates(ms: u64, min_ms: u64, max_ms: u64, factor: f64) -> bool {
    // Intervals are recorded from 1 ms (see `MAX_INTERVAL_MS` for the top).
    let ms = ms.clamp(1, MAX_INTERVAL_MS) as f64;
    ms > max_ms as f64 * factor || ms * factor < min_ms as f64
}

/// A function code seen on an edge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionEntry {
    /// Function name.
    pub name: String,
    /// Its operation.
    pub operation: Operation,
    /// Review state.
    pub state: State,
    /// Provenance.
    #[serde(flatten)]
    pub seen: Seen,
    /// Most requests of this function per minute on one connection.
    #[serde(default)]
    pub peak_per_minute: u64,
    /// Poll timing, once intervals were measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    #[serde(skip)]
    hist: Option<Box<Histogram<u32>>>,
    /// Input packet number of the message that gave `operation` (0: loaded from a file).
    #[serde(skip)]
    first_packet: u64,
}

impl PartialEq for FunctionEntry {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.operation == o.operation
            && self.state == o.state
            && self.seen == o.seen
            && self.peak_per_minute == o.peak_per_minute
            && self.timing == o.timing
    }
}

impl FunctionEntry {
    fn record_timing(&mut self, interval_ms: Option<u64>, per_minute: Option<u64>) {
        if let Some(ms) = interval_ms {
            let _ = self.hist_mut().record(ms.clamp(1, MAX_INTERVAL_MS));
        }
        if let Some(n) = per_minute {
            self.peak_per_minute = self.peak_per_minute.max(n);
        }
    }

    fn hist_mut(&mut self) -> &mut Histogram<u32> {
        if self.hist.is_none() {
            let h = self
                .timing
                .as_ref()
                .and_then(Timing::to_histogram)
                .unwrap_or_else(new_histogram);
            self.hist = Some(Box::new(h));
        }
        match self.hist.as_mut() {
            Some(h) => h,
            None => unreachable!("set above"),
        }
    }

    fn finalize(&mut self) {
        if let Some(h) = &self.hist {
            self.timing = Timing::from_histogram(h);
        }
    }
}

/// Everything learned about one edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeEntry {
    /// The client (initiator) asset.
    pub src: IpAddr,
    /// The server asset.
    pub dst: IpAddr,
    /// Protocol.
    pub protocol: String,
    /// Zone of the client.
    pub src_zone: String,
    /// Zone of the server.
    pub dst_zone: String,
    /// Review state.
    pub state: State,
    /// Provenance.
    #[serde(flatten)]
    pub seen: Seen,
    /// Messages per operation.
    pub operations: BTreeMap<Operation, u64>,
    /// Function codes.
    pub functions: BTreeMap<u16, FunctionEntry>,
    /// Unit ids (Modbus unit, DNP3 outstation address, S7 rack × 32 + slot).
    pub units: BTreeSet<u32>,
    /// Address ranges per area.
    pub ranges: BTreeMap<String, Intervals>,
}

/// The key of an edge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeKey {
    /// Client.
    pub src: IpAddr,
    /// Server.
    pub dst: IpAddr,
    /// Protocol: borrowed from the protocol's descriptor when the key comes from traffic (no
    /// allocation per connection), owned when it comes from a baseline file.
    pub protocol: std::borrow::Cow<'static, str>,
}

impl EdgeKey {
    /// `src > dst / protocol`, as used in alert keys and selectors.
    pub fn label(&self) -> String {
        format!("{}>{}/{}", self.src, self.dst, self.protocol)
    }
}

/// The baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// File format version.
    pub schema_version: u32,
    /// Sensors whose learning went into this baseline.
    pub sensors: BTreeSet<String>,
    /// Earliest traffic learned.
    pub first_seen: Option<Timestamp>,
    /// Latest traffic learned.
    pub last_seen: Option<Timestamp>,
    /// Assets by IP.
    pub assets: BTreeMap<IpAddr, AssetEntry>,
    /// Edges, sorted by (src, dst, protocol).
    pub edges: Vec<EdgeEntry>,
    /// Operational, protocol and anomaly alerts raised while learning, sorted by (rule,
    /// key): detection does not raise them again. (Schema 2; absent in schema 1 files.)
    #[serde(default)]
    pub alerts: Vec<LearnedAlert>,
    /// Decisions taken on alerts (learn, mute): who, when, why, which alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<crate::decision::Decision>,
    /// Conversations (client, server, server port, transport, application label) of every
    /// flow, sorted. (Schema 3; absent in older files.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversations: Vec<crate::conversations::ConversationEntry>,
    /// Substation streams (GOOSE control blocks, SV streams), sorted by (protocol, id).
    /// (Schema 4; absent in older files.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<crate::streams::StreamEntry>,
}

/// An alert raised while learning, accepted as normal for its edge or host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnedAlert {
    /// Rule id.
    pub rule: String,
    /// What the alert was about (its edge or host), as in the alert's id.
    pub key: String,
    /// Review state.
    pub state: State,
    /// Provenance.
    #[serde(flatten)]
    pub seen: Seen,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            schema_version: SCHEMA_VERSION,
            sensors: BTreeSet::new(),
            first_seen: None,
            last_seen: None,
            assets: BTreeMap::new(),
            edges: Vec::new(),
            alerts: Vec::new(),
            decisions: Vec::new(),
            conversations: Vec::new(),
            streams: Vec::new(),
        }
    }
}

/// Reading or writing a baseline failed.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a valid baseline.
    #[error("{path}: not a valid baseline: {message}")]
    Corrupt {
        /// File.
        path: String,
        /// Why.
        message: String,
    },
    /// The file was written by a newer otsensor.
    #[error("{path}: baseline schema version {found} is newer than this otsensor supports ({SCHEMA_VERSION})")]
    TooNew {
        /// File.
        path: String,
        /// Version in the file.
        found: u32,
    },
}

impl Baseline {
    /// Loads a baseline; a corrupt or newer file is an error, never silently replaced.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
            path: p.clone(),
            source,
        })?;
        // The version first (a newer file may not parse as this version's schema), without
        // building a document tree: baselines can be megabytes.
        #[derive(Deserialize)]
        struct Version {
            #[serde(default)]
            schema_version: u64,
        }
        let corrupt = |e: serde_json::Error| BaselineError::Corrupt {
            path: p.clone(),
            message: e.to_string(),
        };
        let found = serde_json::from_str::<Version>(&text)
            .map_err(corrupt)?
            .schema_version;
        if found > u64::from(SCHEMA_VERSION) {
            return Err(BaselineError::TooNew {
                path: p,
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        let mut b: Baseline = serde_json::from_str(&text).map_err(corrupt)?;
        b.edges
            .sort_by(|a, c| (a.src, a.dst, &a.protocol).cmp(&(c.src, c.dst, &c.protocol)));
        Ok(b)
    }

    /// Writes the baseline atomically (temporary file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<(), BaselineError> {
        let p = path.display().to_string();
        let io = |source| BaselineError::Io {
            path: p.clone(),
            source,
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        let mut text = serde_json::to_string_pretty(self).map_err(|e| BaselineError::Corrupt {
            path: p.clone(),
            message: e.to_string(),
        })?;
        text.push('\n');
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// The edge with this key.
    pub fn edge(&self, k: &EdgeKey) -> Option<&EdgeEntry> {
        self.edges
            .binary_search_by(|e| (e.src, e.dst, &*e.protocol).cmp(&(k.src, k.dst, &*k.protocol)))
            .ok()
            .and_then(|i| self.edges.get(i))
    }
}

#[cfg(test)]
mod tests;
