//! The learned baseline: per edge (client asset, server asset, protocol) the operations,
//! function codes, unit ids, address ranges and poll timing seen, each with a state and its
//! provenance. Plain data a person can read, diff and commit (JSON, stable ordering, schema
//! version), written atomically.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use dashmap::DashMap;
use hdrhistogram::serialization::{Deserializer as HistDe, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use otsensor_protocols::Operation;

use crate::intervals::Intervals;
use crate::mac::MacAddr;
use crate::message::AddressRange;
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

    /// Adds everything of `other` (several sensors, or several learning runs), within `caps`.
    /// Returns how many entries of `other` the caps left out.
    pub fn merge(&mut self, other: &Baseline, caps: &Caps) -> u64 {
        let learner = Learner::from_baseline(self.clone(), *caps);
        learner.absorb(other);
        *self = learner.to_baseline();
        learner.capped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the state of entries matching `selector` (see [`Selector`]): edges and the
    /// conversations from SRC to DST (of that application label). Returns how many entries
    /// changed.
    pub fn set_state(&mut self, selector: &str, state: State) -> Result<usize, String> {
        let sel = Selector::parse(selector)?;
        let mut n = 0;
        for (_, a) in self.assets.iter_mut().filter(|(ip, _)| sel.asset(ip)) {
            a.state = state;
            n += 1;
        }
        for e in self
            .edges
            .iter_mut()
            .filter(|e| sel.edge(e.src, e.dst, &e.protocol))
        {
            set_edge(e, state);
            n += 1;
        }
        for c in self
            .conversations
            .iter_mut()
            .filter(|c| sel.edge(c.client, c.server, &c.label))
        {
            c.state = state;
            n += 1;
        }
        Ok(n)
    }
}

/// Which baseline entries an approval or suppression names: `all`, `asset=IP` (the asset,
/// its edges and conversations) or `edge=SRC,DST[/PROTOCOL]` (also `SRC>DST`, as in alert
/// keys; `*` for any address; also the conversations from SRC to DST, PROTOCOL their
/// application label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Everything.
    All,
    /// One asset and what it is an end of.
    Asset(IpAddr),
    /// Edges (and conversations).
    Edge {
        /// Client, or any.
        src: Option<IpAddr>,
        /// Server, or any.
        dst: Option<IpAddr>,
        /// Protocol (or application label), or any.
        protocol: Option<String>,
    },
}

impl Selector {
    /// Reads a selector.
    pub fn parse(selector: &str) -> Result<Selector, String> {
        if selector == "all" {
            return Ok(Selector::All);
        }
        if let Some(ip) = selector.strip_prefix("asset=") {
            return ip
                .parse()
                .map(Selector::Asset)
                .map_err(|_| format!("invalid asset address in {selector:?}"));
        }
        if let Some(spec) = selector.strip_prefix("edge=") {
            let (pair, proto) = spec
                .split_once('/')
                .map_or((spec, None), |(a, b)| (a, Some(b)));
            // `SRC,DST` needs no quoting in a shell (a `>` anywhere in a word is a
            // redirection); `SRC>DST` is the alert key's form.
            let (s, d) = pair
                .split_once(',')
                .or_else(|| pair.split_once('>'))
                .ok_or_else(|| format!("expected SRC,DST or SRC>DST in {selector:?}"))?;
            let parse = |x: &str| -> Result<Option<IpAddr>, String> {
                if x == "*" {
                    Ok(None)
                } else {
                    x.parse()
                        .map(Some)
                        .map_err(|_| format!("invalid address {x:?} in {selector:?}"))
                }
            };
            return Ok(Selector::Edge {
                src: parse(s)?,
                dst: parse(d)?,
                protocol: proto.map(str::to_string),
            });
        }
        Err(format!(
            "invalid selector {selector:?}: expected all, asset=IP or edge=SRC>DST[/PROTOCOL]"
        ))
    }

    /// Whether it names the asset `ip` itself.
    pub fn asset(&self, ip: &IpAddr) -> bool {
        match self {
            Selector::All => true,
            Selector::Asset(a) => a == ip,
            Selector::Edge { .. } => false,
        }
    }

    /// Whether it names an edge or conversation from `src` to `dst` of `protocol`.
    pub fn edge(&self, src: IpAddr, dst: IpAddr, protocol: &str) -> bool {
        match self {
            Selector::All => true,
            Selector::Asset(a) => *a == src || *a == dst,
            Selector::Edge {
                src: s,
                dst: d,
                protocol: p,
            } => {
                s.is_none_or(|s| s == src)
                    && d.is_none_or(|d| d == dst)
                    && p.as_deref().is_none_or(|p| p == protocol)
            }
        }
    }
}

fn set_edge(e: &mut EdgeEntry, state: State) {
    e.state = state;
    for f in e.functions.values_mut() {
        f.state = state;
    }
}

/// What learning records about one message.
#[derive(Debug, Clone)]
pub struct Lesson<'a> {
    /// The edge.
    pub key: Cow<'a, EdgeKey>,
    /// Zone of the client.
    pub src_zone: &'a str,
    /// Zone of the server.
    pub dst_zone: &'a str,
    /// When.
    pub ts: Timestamp,
    /// Input packet number of the message (its place in the input).
    pub packet: u64,
    /// Operation.
    pub operation: Operation,
    /// Function code and name.
    pub function: Option<(u16, &'a str)>,
    /// Unit.
    pub unit: Option<u32>,
    /// Address ranges.
    pub ranges: Cow<'a, [AddressRange]>,
    /// For a request: the interval (ms) since the previous request of its function on the
    /// connection, and the connection's requests of it in the minute that just ended.
    pub timing: Option<(Option<u64>, Option<u64>)>,
}

/// The hasher of the shared maps: their keys come from the network, so a keyed hash (aHash,
/// random per map) that is fast and resists chosen collisions.
pub type Keyed = ahash::RandomState;

/// The baseline being learned (or, in detection, the one loaded), shared by all workers: one
/// map of edges and one of assets, each sharded ([`DashMap`]), so workers never take a global
/// lock. Every update is commutative (sets, unions, min/max, sums, histogram counts), so the
/// result does not depend on how flows were spread over workers.
#[derive(Debug, Default)]
pub struct Learner {
    base: Baseline,
    /// Each entry shared, so a detecting flow can keep the one of its edge (see
    /// [`Learner::edges_generation`]); changed copy-on-write.
    edges: DashMap<EdgeKey, Arc<EdgeEntry>, Keyed>,
    /// Moves after every change to the edges made while detecting (the SOC's decisions, a
    /// merged baseline): a flow's kept entry is current while this has not moved.
    edges_changed: AtomicU64,
    assets: DashMap<IpAddr, AssetEntry, Keyed>,
    alerts: DashMap<(String, String), LearnedAlert, Keyed>,
    /// Alert ids muted by a decision (decisions arrive while the sensor runs).
    muted: std::sync::RwLock<std::collections::HashSet<u64>>,
    /// The decisions' audit trail, the file's and those taken since.
    decisions: std::sync::Mutex<Vec<crate::decision::Decision>>,
    /// How many of them came with the file.
    decisions_loaded: usize,
    caps: Caps,
    /// Updates refused because a cap was reached.
    pub capped: std::sync::atomic::AtomicU64,
    /// Timing histograms in memory.
    timings: std::sync::atomic::AtomicUsize,
    /// Entries approved or suppressed while running (see [`Learner::set_state`]).
    curated: std::sync::atomic::AtomicBool,
    /// Conversations of every flow (bounded by `max_edges`).
    conversations: crate::conversations::Conversations,
    /// Substation streams (bounded by `max_edges`).
    streams: crate::streams::Streams,
    /// Names hosts gave themselves before their first industrial message was learned
    /// (joined to their asset when the baseline is written; at most [`MAX_NAMED_HOSTS`]).
    names: std::sync::Mutex<std::collections::HashMap<IpAddr, Vec<String>>>,
    /// Firmware hosts reported before their asset was learned (a flow publishes its
    /// assets when it ends; the report may come first): joined to the asset when the
    /// baseline is written, unless it learned a later one (at most [`MAX_NAMED_HOSTS`]).
    firmware: std::sync::Mutex<std::collections::HashMap<IpAddr, String>>,
}

/// Most hosts whose self-given names wait for their asset while learning.
pub const MAX_NAMED_HOSTS: usize = 65_536;

impl Learner {
    /// Starts from an existing baseline (possibly empty).
    ///
    /// Everything in the file is kept, even beyond `caps` (they bound growth, never drop
    /// what was learned).
    pub fn from_baseline(mut b: Baseline, caps: Caps) -> Learner {
        let edges = std::mem::take(&mut b.edges);
        let assets = std::mem::take(&mut b.assets);
        let alerts = std::mem::take(&mut b.alerts);
        let decisions = std::mem::take(&mut b.decisions);
        let conversations = std::mem::take(&mut b.conversations);
        let streams = std::mem::take(&mut b.streams);
        let l = Learner {
            caps,
            decisions_loaded: decisions.len(),
            muted: crate::decision::muted(&decisions).into(),
            decisions: decisions.into(),
            base: b,
            ..Learner::default()
        };
        for (ip, a) in assets {
            l.assets.insert(ip, a);
        }
        for a in alerts {
            l.absorb_alert(&a);
        }
        for c in &conversations {
            l.conversations.absorb(c, usize::MAX);
        }
        for s in &streams {
            l.streams.absorb(s, usize::MAX);
        }
        for e in edges {
            let k = EdgeKey {
                src: e.src,
                dst: e.dst,
                protocol: e.protocol.clone().into(),
            };
            // A hand-edited file may repeat an edge: merge rather than lose one.
            match l.edges.get_mut(&k) {
                Some(mut x) => merge_edge(Arc::make_mut(&mut x), &e, &caps),
                None => {
                    l.edges.insert(k, Arc::new(e));
                }
            }
        }
        l
    }

    /// Whether `f` may record timing: it holds a histogram already, or one more fits the cap.
    fn may_time(&self, f: &FunctionEntry) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if f.hist.is_some() {
            return true;
        }
        if self.timings.fetch_add(1, Relaxed) < self.caps.max_timings {
            return true;
        }
        self.timings.fetch_sub(1, Relaxed);
        self.cap_hit();
        false
    }

    fn cap_hit(&self) {
        self.capped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Merges one learned alert.
    fn absorb_alert(&self, a: &LearnedAlert) {
        match self.alerts.get_mut(&(a.rule.clone(), a.key.clone())) {
            Some(mut x) => {
                x.seen.merge(&a.seen);
                x.state = x.state.merge(a.state);
            }
            None => {
                self.alerts
                    .insert((a.rule.clone(), a.key.clone()), a.clone());
            }
        }
    }

    /// Whether a decision muted the alert with hash `id`.
    pub fn is_muted(&self, id: u64) -> bool {
        self.muted.read().is_ok_and(|m| m.contains(&id))
    }

    /// Records a decision (the audit trail) and mutes or unmutes its alert.
    pub fn decide(&self, d: crate::decision::Decision) {
        if let Ok(mut m) = self.muted.write() {
            d.apply_to_muted(&mut m);
        }
        if let Ok(mut v) = self.decisions.lock() {
            v.push(d);
        }
    }

    /// Whether decisions were taken since the baseline was loaded (it needs saving, also
    /// when detecting).
    pub fn has_new_decisions(&self) -> bool {
        self.decisions
            .lock()
            .is_ok_and(|d| d.len() > self.decisions_loaded)
    }

    /// Approves a known alert (operational, protocol, anomaly): detection will not raise it.
    pub fn approve_alert(&self, rule: &str, key: &str) -> bool {
        match self.alerts.get_mut(&(rule.to_string(), key.to_string())) {
            Some(mut a) => {
                a.state = State::Approved;
                true
            }
            None => false,
        }
    }

    /// Approves an asset and the edges it is an end of.
    pub fn approve_asset(&self, ip: IpAddr) {
        if let Some(mut a) = self.assets.get_mut(&ip) {
            a.state = State::Approved;
        }
        for mut e in self.edges.iter_mut() {
            if e.src == ip || e.dst == ip {
                set_edge(Arc::make_mut(&mut e), State::Approved);
            }
        }
        self.edges_touched();
    }

    /// Approves an edge and its functions.
    /// Also the end of every change a decision makes to an edge (after [`Learner::learn`]):
    /// detecting flows look their edge up again.
    pub fn approve_edge(&self, k: &EdgeKey) -> bool {
        let found = match self.edges.get_mut(k) {
            Some(mut e) => {
                set_edge(Arc::make_mut(&mut e), State::Approved);
                true
            }
            None => false,
        };
        self.edges_touched();
        found
    }

    /// Sets the state of the entries `sel` names (a curation from the console, as
    /// `otsensor baseline approve|suppress` does on a file); they are saved with the next
    /// baseline save. Returns how many entries changed.
    pub fn set_state(&self, sel: &Selector, state: State) -> usize {
        let mut n = 0;
        for mut a in self.assets.iter_mut().filter(|a| sel.asset(a.key())) {
            a.state = state;
            n += 1;
        }
        for mut e in self.edges.iter_mut() {
            if sel.edge(e.src, e.dst, &e.protocol) {
                set_edge(Arc::make_mut(&mut e), state);
                n += 1;
            }
        }
        n += self
            .conversations
            .set_state(|c| sel.edge(c.client, c.server, &c.label), state);
        if n > 0 {
            self.curated
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.edges_touched();
        n
    }

    /// Whether decisions or curations were taken since the baseline was loaded (it must be
    /// saved even while detecting).
    pub fn has_changes_to_save(&self) -> bool {
        self.has_new_decisions() || self.curated.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` on function `code` of the edge, if known.
    pub fn with_function_mut<R>(
        &self,
        k: &EdgeKey,
        code: u16,
        f: impl FnOnce(&mut FunctionEntry) -> R,
    ) -> Option<R> {
        let r = self
            .edges
            .get_mut(k)
            .and_then(|mut e| Arc::make_mut(&mut e).functions.get_mut(&code).map(f));
        self.edges_touched();
        r
    }

    /// Records an alert raised while learning.
    pub fn learn_alert(&self, rule: &str, key: &str, ts: Timestamp) {
        if let Some(mut a) = self.alerts.get_mut(&(rule.to_string(), key.to_string())) {
            a.seen.add(ts);
            return;
        }
        if self.alerts.len() >= self.caps.max_edges {
            self.cap_hit();
            return;
        }
        self.absorb_alert(&LearnedAlert {
            rule: rule.to_string(),
            key: key.to_string(),
            state: State::Learning,
            seen: Seen::at(ts),
        });
    }

    /// Whether the baseline holds this alert (raised while learning): detection skips it.
    pub fn knows_alert(&self, rule: &str, key: &str) -> bool {
        self.alerts
            .contains_key(&(rule.to_string(), key.to_string()))
    }

    /// Records a flow of conversation `c` (learning); beyond `max_edges` conversations, new
    /// ones are counted as capped.
    pub fn learn_conversation(&self, c: &crate::conversations::Conversation, ts: Timestamp) {
        if !self.conversations.learn(c, ts, self.caps.max_edges) {
            self.cap_hit();
        }
    }

    /// Learns and approves conversation `c` (a SOC's decision on a new_conversation alert).
    pub fn approve_conversation(&self, c: &crate::conversations::Conversation, ts: Timestamp) {
        if !self.conversations.approve(c, ts, self.caps.max_edges) {
            self.cap_hit();
        }
    }

    /// Whether the baseline knows conversation `c`, or judges no conversations at all (a
    /// file older than [`CONVERSATIONS_SINCE`] has none): true means "do not alert".
    pub fn knows_conversation(&self, c: &crate::conversations::Conversation) -> bool {
        self.base.schema_version < CONVERSATIONS_SINCE || self.conversations.knows(c)
    }

    /// Records what a frame or second of a substation stream shows (learning).
    pub fn learn_stream(&self, s: &crate::streams::StreamSample<'_>, ts: Timestamp) {
        if !self.streams.learn(s, ts, self.caps.max_edges) {
            self.cap_hit();
        }
    }

    /// How stream `s` differs from the baseline; nothing when the baseline predates
    /// [`STREAMS_SINCE`] (it judges no streams).
    pub fn compare_stream(
        &self,
        s: &crate::streams::StreamSample<'_>,
        out: &mut Vec<crate::streams::Change>,
    ) {
        if self.base.schema_version >= STREAMS_SINCE {
            self.streams.compare(s, out);
        }
    }

    /// Number of learned conversations.
    pub fn conversation_count(&self) -> usize {
        self.conversations.len()
    }

    /// Adds a whole baseline.
    pub fn absorb(&self, b: &Baseline) {
        for c in &b.conversations {
            if !self.conversations.absorb(c, self.caps.max_edges) {
                self.cap_hit();
            }
        }
        for s in &b.streams {
            if !self.streams.absorb(s, self.caps.max_edges) {
                self.cap_hit();
            }
        }
        for a in &b.alerts {
            self.absorb_alert(a);
        }
        for (ip, a) in &b.assets {
            match self.assets.get_mut(ip) {
                Some(mut x) => {
                    x.seen.merge(&a.seen);
                    x.state = x.state.merge(a.state);
                    for m in &a.macs {
                        x.add_mac(*m);
                    }
                    if x.firmware.is_none() {
                        x.firmware.clone_from(&a.firmware);
                    }
                    for h in &a.hostnames {
                        x.add_hostname(h);
                    }
                }
                None if self.assets.len() >= self.caps.max_assets => self.cap_hit(),
                None => {
                    self.assets.insert(*ip, a.clone());
                }
            }
        }
        for e in &b.edges {
            let k = EdgeKey {
                src: e.src,
                dst: e.dst,
                protocol: e.protocol.clone().into(),
            };
            match self.edges.get_mut(&k) {
                Some(mut x) => merge_edge(Arc::make_mut(&mut x), e, &self.caps),
                None if self.edges.len() >= self.caps.max_edges => self.cap_hit(),
                None => {
                    self.edges.insert(k, Arc::new(e.clone()));
                }
            }
        }
        self.edges_touched();
    }

    /// Records the MAC address a learned asset's frames came from.
    pub fn learn_asset_mac(&self, ip: &IpAddr, mac: MacAddr) {
        if let Some(mut a) = self.assets.get_mut(ip) {
            a.add_mac(mac);
        }
    }

    /// Records a name a host gave itself: on its asset, or held until the baseline is
    /// written (its asset may be learned later in the run).
    pub fn learn_asset_hostname(&self, ip: &IpAddr, name: &str) {
        if let Some(mut a) = self.assets.get_mut(ip) {
            a.add_hostname(name);
            return;
        }
        let mut names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if names.len() >= MAX_NAMED_HOSTS && !names.contains_key(ip) {
            return;
        }
        let v = names.entry(*ip).or_default();
        if v.len() < MAX_ASSET_MACS && !v.iter().any(|x| x.eq_ignore_ascii_case(name)) {
            v.push(name.to_string());
        }
    }

    /// Records the firmware a host reported (the latest while learning): on its asset, or
    /// held until the baseline is written (its asset may be learned later in the run).
    pub fn learn_asset_firmware(&self, ip: &IpAddr, firmware: &str) {
        if let Some(mut a) = self.assets.get_mut(ip) {
            if a.firmware.as_deref() != Some(firmware) {
                a.firmware = Some(firmware.to_string());
            }
            return;
        }
        let mut held = self
            .firmware
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.len() < MAX_NAMED_HOSTS || held.contains_key(ip) {
            held.insert(*ip, firmware.to_string());
        }
    }

    /// Runs `f` on the asset, if known.
    pub fn with_asset<R>(&self, ip: &IpAddr, f: impl FnOnce(&AssetEntry) -> R) -> Option<R> {
        self.assets.get(ip).map(|a| f(&a))
    }

    /// Whether the baseline knows this asset.
    pub fn has_asset(&self, ip: &IpAddr) -> bool {
        self.assets.contains_key(ip)
    }

    /// Runs `f` on the edge, if known.
    pub fn with_edge<R>(&self, k: &EdgeKey, f: impl FnOnce(&EdgeEntry) -> R) -> Option<R> {
        self.edges.get(k).map(|e| f(&e))
    }

    /// The edge's entry as it is now, if known: current while [`Learner::edges_generation`]
    /// has not moved (read the generation first).
    pub fn edge_entry(&self, k: &EdgeKey) -> Option<Arc<EdgeEntry>> {
        self.edges.get(k).map(|e| Arc::clone(&e))
    }

    /// The generation of the edges: it moves after each change made while detecting
    /// ([`Learner::approve_edge`], [`Learner::approve_asset`], [`Learner::with_function_mut`],
    /// [`Learner::absorb`]). Learning ([`Learner::learn`], [`Learner::learn_timing`]) does not
    /// move it: nothing keeps entries then.
    pub fn edges_generation(&self) -> u64 {
        self.edges_changed.load(Ordering::Acquire)
    }

    fn edges_touched(&self) {
        self.edges_changed.fetch_add(1, Ordering::Release);
    }

    /// Records an asset seen once at `ts`.
    pub fn learn_asset(&self, ip: IpAddr, zone: &str, ts: Timestamp) {
        self.learn_asset_seen(ip, zone, &Seen::at(ts));
    }

    /// Records an asset seen `seen.count` times (a flow's messages, batched).
    pub fn learn_asset_seen(&self, ip: IpAddr, zone: &str, seen: &Seen) {
        if let Some(mut a) = self.assets.get_mut(&ip) {
            a.seen.merge(seen);
            return;
        }
        if self.assets.len() >= self.caps.max_assets {
            self.cap_hit();
            return;
        }
        self.assets
            .entry(ip)
            .or_insert_with(|| AssetEntry {
                state: State::Learning,
                seen: Seen { count: 0, ..*seen },
                zone: zone.to_string(),
                macs: Vec::new(),
                firmware: None,
                hostnames: Vec::new(),
            })
            .seen
            .merge(seen);
    }

    /// Records one message.
    pub fn learn(&self, l: &Lesson<'_>) {
        let existing = self.edges.get_mut(&*l.key);
        if existing.is_none() && self.edges.len() >= self.caps.max_edges {
            self.cap_hit();
            return;
        }
        let mut slot = existing.unwrap_or_else(|| {
            self.edges
                .entry(l.key.clone().into_owned())
                .or_insert_with(|| {
                    Arc::new(EdgeEntry {
                        src: l.key.src,
                        dst: l.key.dst,
                        protocol: l.key.protocol.to_string(),
                        src_zone: l.src_zone.to_string(),
                        dst_zone: l.dst_zone.to_string(),
                        state: State::Learning,
                        seen: Seen {
                            count: 0,
                            ..Seen::at(l.ts)
                        },
                        operations: BTreeMap::new(),
                        functions: BTreeMap::new(),
                        units: BTreeSet::new(),
                        ranges: BTreeMap::new(),
                    })
                })
        });
        let e = Arc::make_mut(&mut slot);
        e.seen.add(l.ts);
        *e.operations.entry(l.operation).or_default() += 1;
        if let Some((code, name)) = l.function {
            let full =
                e.functions.len() >= self.caps.max_functions && !e.functions.contains_key(&code);
            if full {
                self.cap_hit();
            } else {
                let f = e.functions.entry(code).or_insert_with(|| FunctionEntry {
                    name: name.to_string(),
                    operation: l.operation,
                    state: State::Learning,
                    seen: Seen {
                        count: 0,
                        ..Seen::at(l.ts)
                    },
                    peak_per_minute: 0,
                    timing: None,
                    hist: None,
                    first_packet: l.packet,
                });
                // A response's operation is its request's, so one code can come with several:
                // keep the first message's in input order, whichever worker learns first.
                if l.packet < f.first_packet {
                    f.operation = l.operation;
                    f.first_packet = l.packet;
                }
                f.seen.add(l.ts);
                if let (Some((interval_ms, per_minute)), Some(f)) =
                    (l.timing, e.functions.get_mut(&code))
                {
                    if self.may_time(f) {
                        f.record_timing(interval_ms, per_minute);
                    }
                }
            }
        }
        if let Some(u) = l.unit {
            if e.units.len() < self.caps.max_units || e.units.contains(&u) {
                e.units.insert(u);
            } else {
                self.cap_hit();
            }
        }
        let cap = self.caps.max_ranges;
        for r in l.ranges.iter().filter(|r| r.count > 0) {
            let end = r.start.saturating_add(r.count - 1);
            if let Some(iv) = e.ranges.get_mut(r.area.as_ref()) {
                iv.insert(r.start, end, cap);
            } else if e.ranges.len() >= self.caps.max_areas {
                self.cap_hit();
            } else {
                e.ranges
                    .entry(r.area.to_string())
                    .or_default()
                    .insert(r.start, end, cap);
            }
        }
    }

    /// Records one inter-arrival interval (ms) of a function's requests on one connection,
    /// and the connection's requests in the minute that just ended.
    pub fn learn_timing(
        &self,
        k: &EdgeKey,
        code: u16,
        interval_ms: Option<u64>,
        per_minute: Option<u64>,
    ) {
        if let Some(mut e) = self.edges.get_mut(k) {
            if let Some(f) = Arc::make_mut(&mut e).functions.get_mut(&code) {
                if self.may_time(f) {
                    f.record_timing(interval_ms, per_minute);
                }
            }
        }
    }

    /// The baseline as it stands, sorted for a stable file.
    pub fn to_baseline(&self) -> Baseline {
        let mut b = self.base.clone();
        b.schema_version = SCHEMA_VERSION;
        b.assets = self
            .assets
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect();
        let names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (ip, v) in names.iter() {
            if let Some(a) = b.assets.get_mut(ip) {
                for n in v {
                    a.add_hostname(n);
                }
            }
        }
        drop(names);
        let held = self
            .firmware
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (ip, fw) in held.iter() {
            if let Some(a) = b.assets.get_mut(ip) {
                a.firmware.get_or_insert_with(|| fw.clone());
            }
        }
        drop(held);
        let mut edges: Vec<EdgeEntry> = self
            .edges
            .iter()
            .map(|e| {
                let mut x = EdgeEntry::clone(e.value());
                for f in x.functions.values_mut() {
                    f.finalize();
                    f.hist = None;
                }
                x
            })
            .collect();
        edges.sort_by(|a, c| (a.src, a.dst, &a.protocol).cmp(&(c.src, c.dst, &c.protocol)));
        b.first_seen = edges
            .iter()
            .map(|e| e.seen.first_seen)
            .min()
            .or(b.first_seen);
        b.last_seen = edges.iter().map(|e| e.seen.last_seen).max().or(b.last_seen);
        b.edges = edges;
        let mut alerts: Vec<LearnedAlert> = self.alerts.iter().map(|e| e.value().clone()).collect();
        alerts.sort_by(|a, c| (&a.rule, &a.key).cmp(&(&c.rule, &c.key)));
        b.alerts = alerts;
        b.decisions = self.decisions.lock().map(|d| d.clone()).unwrap_or_default();
        b.conversations = self.conversations.to_sorted();
        b.streams = self.streams.to_sorted();
        b
    }

    /// Notes a sensor id as a contributor.
    pub fn add_sensor(&mut self, id: &str) {
        if !id.is_empty() {
            self.base.sensors.insert(id.to_string());
        }
    }

    /// The latest traffic in the baseline as loaded (the end of learning).
    pub fn last_seen(&self) -> Option<Timestamp> {
        self.base.last_seen
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Number of assets.
    pub fn asset_count(&self) -> usize {
        self.assets.len()
    }

    /// Number of learned alerts.
    pub fn alert_count(&self) -> usize {
        self.alerts.len()
    }
}

fn merge_edge(x: &mut EdgeEntry, e: &EdgeEntry, caps: &Caps) {
    x.seen.merge(&e.seen);
    x.state = x.state.merge(e.state);
    for (op, n) in &e.operations {
        *x.operations.entry(*op).or_default() += n;
    }
    for (code, f) in &e.functions {
        let room = x.functions.len() < caps.max_functions;
        match x.functions.get_mut(code) {
            Some(g) => {
                if (f.seen.first_seen, f.operation) < (g.seen.first_seen, g.operation) {
                    g.operation = f.operation;
                }
                g.seen.merge(&f.seen);
                g.state = g.state.merge(f.state);
                g.peak_per_minute = g.peak_per_minute.max(f.peak_per_minute);
                if let Some(h) = f.timing.as_ref().and_then(Timing::to_histogram) {
                    let _ = g.hist_mut().add(&h);
                    g.finalize();
                }
            }
            None if room => {
                x.functions.insert(*code, f.clone());
            }
            None => {}
        }
    }
    for u in &e.units {
        if x.units.len() < caps.max_units {
            x.units.insert(*u);
        }
    }
    for (area, iv) in &e.ranges {
        if x.ranges.len() < caps.max_areas || x.ranges.contains_key(area) {
            x.ranges
                .entry(area.clone())
                .or_default()
                .merge(iv, caps.max_ranges);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(s: u8, d: u8) -> EdgeKey {
        EdgeKey {
            src: IpAddr::from([10, 0, 0, s]),
            dst: IpAddr::from([10, 0, 0, d]),
            protocol: "modbus".into(),
        }
    }

    fn lesson(
        k: EdgeKey,
        t: i64,
        op: Operation,
        code: u16,
        start: u32,
        count: u32,
    ) -> Lesson<'static> {
        Lesson {
            packet: t.unsigned_abs(),
            key: Cow::Owned(k),
            src_zone: "a",
            dst_zone: "b",
            ts: Timestamp::from_nanos(t),
            operation: op,
            function: Some((code, "f")),
            unit: Some(1),
            ranges: Cow::Owned(vec![AddressRange {
                area: "holding_registers".into(),
                start,
                count,
            }]),
            timing: None,
        }
    }

    #[test]
    fn learns_and_round_trips_through_a_file() {
        let l = Learner::default();
        for i in 0..20 {
            l.learn(&lesson(
                key(1, 2),
                i * 1_000_000_000,
                Operation::Read,
                3,
                100,
                10,
            ));
            l.learn_timing(&key(1, 2), 3, Some(1000 + (i as u64 % 3) * 10), Some(60));
        }
        l.learn(&lesson(key(1, 2), 0, Operation::Write, 6, 105, 1));
        l.learn_asset("10.0.0.1".parse().unwrap(), "a", Timestamp::from_nanos(0));
        let b = l.to_baseline();
        let e = &b.edges[0];
        assert_eq!(e.seen.count, 21);
        assert_eq!(e.operations[&Operation::Read], 20);
        assert_eq!(e.ranges["holding_registers"].as_slice(), &[[100, 109]]);
        let t = e.functions[&3].timing.as_ref().unwrap();
        assert_eq!(t.samples, 20);
        assert!((1000..=1020).contains(&t.period_ms), "{t:?}");
        assert!(!t.deviates(1010, 4.0) && t.deviates(5000, 4.0) && t.deviates(100, 4.0));
        let dir = std::env::temp_dir().join(format!("otsensor-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("b.json");
        b.save(&p).unwrap();
        let back = Baseline::load(&p).unwrap();
        assert_eq!(back, b);
        // Continue learning from the file: the histogram is restored.
        let l2 = Learner::from_baseline(back, Caps::default());
        l2.learn_timing(&key(1, 2), 3, Some(1000), None);
        assert_eq!(
            l2.to_baseline().edges[0].functions[&3]
                .timing
                .as_ref()
                .unwrap()
                .samples,
            21
        );
        // A newer schema, or garbage, is refused.
        std::fs::write(&p, r#"{"schema_version": 99}"#).unwrap();
        assert!(matches!(
            Baseline::load(&p),
            Err(BaselineError::TooNew { found: 99, .. })
        ));
        std::fs::write(&p, "{not json").unwrap();
        assert!(matches!(
            Baseline::load(&p),
            Err(BaselineError::Corrupt { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn caps_bound_every_collection() {
        let caps = Caps {
            max_edges: 3,
            max_assets: 2,
            max_functions: 2,
            max_units: 2,
            max_areas: 1,
            max_ranges: 4,
            max_timings: 2,
        };
        let l = Learner::from_baseline(Baseline::default(), caps);
        for d in 2..12u8 {
            l.learn_asset(IpAddr::from([10, 0, 0, d]), "a", Timestamp::from_nanos(0));
            for code in 1..6u16 {
                for i in 0..20u32 {
                    let mut x = lesson(key(1, d), i64::from(i), Operation::Read, code, i * 10, 2);
                    x.unit = Some(i % 5);
                    x.timing = Some((Some(10), Some(1)));
                    x.ranges.to_mut().push(AddressRange {
                        area: "coils".into(),
                        start: i,
                        count: 1,
                    });
                    l.learn(&x);
                }
            }
        }
        assert!(l.capped.load(std::sync::atomic::Ordering::Relaxed) > 0);
        let b = l.to_baseline();
        assert_eq!(b.assets.len(), 2);
        assert_eq!(b.edges.len(), 3);
        let timed = b
            .edges
            .iter()
            .flat_map(|e| e.functions.values())
            .filter(|f| f.timing.is_some())
            .count();
        assert_eq!(timed, 2, "max_timings");
        for e in &b.edges {
            assert_eq!(e.functions.len(), 2);
            assert_eq!(e.units.len(), 2);
            assert_eq!(e.ranges.len(), 1);
            // Beyond the cap, nearest intervals are joined: every address learned stays covered.
            let iv = e.ranges["holding_registers"].as_slice();
            assert!(iv.len() <= 4, "{iv:?}");
            for i in 0..20u32 {
                assert!(iv.iter().any(|r| r[0] <= i * 10 && i * 10 < r[1]), "{iv:?}");
            }
        }
        // Merging two capped baselines stays within the caps.
        let mut m = b.clone();
        let other = Learner::from_baseline(Baseline::default(), caps);
        for d in 20..30u8 {
            other.learn(&lesson(key(2, d), 0, Operation::Write, 9, 5000, 3));
        }
        assert_eq!(m.merge(&other.to_baseline(), &caps), 3);
        assert_eq!(m.edges.len(), 3);
    }

    #[test]
    fn selectors_set_states() {
        let l = Learner::default();
        l.learn(&lesson(key(1, 2), 0, Operation::Read, 3, 0, 1));
        l.learn(&lesson(key(1, 3), 0, Operation::Read, 3, 0, 1));
        let mut b = l.to_baseline();
        assert_eq!(
            b.set_state("edge=10.0.0.1>10.0.0.3/modbus", State::Suppressed),
            Ok(1)
        );
        assert_eq!(b.set_state("edge=*>10.0.0.2", State::Approved), Ok(1));
        assert_eq!(b.edges[0].state, State::Approved);
        assert_eq!(b.edges[1].functions[&3].state, State::Suppressed);
        assert!(b.set_state("bogus", State::Approved).is_err());
        // The comma form needs no quoting in a shell and names the same edge.
        assert_eq!(
            Selector::parse("edge=10.0.0.1,10.0.0.3/modbus"),
            Selector::parse("edge=10.0.0.1>10.0.0.3/modbus")
        );
        assert_eq!(
            Selector::parse("edge=*,10.0.0.2").unwrap(),
            Selector::Edge {
                src: None,
                dst: "10.0.0.2".parse().ok(),
                protocol: None
            }
        );
        // The running learner takes the same selectors, and marks itself to be saved.
        assert!(!l.has_changes_to_save());
        let sel = Selector::parse("edge=10.0.0.1>10.0.0.3/modbus").unwrap();
        assert_eq!(l.set_state(&sel, State::Suppressed), 1);
        assert!(l.has_changes_to_save());
        let running = l.to_baseline();
        assert_eq!(running, {
            let mut want = l.to_baseline();
            want.set_state("edge=10.0.0.1>10.0.0.3/modbus", State::Suppressed)
                .unwrap();
            want
        });
        assert_eq!(running.edges[1].functions[&3].state, State::Suppressed);
        assert_eq!(running.edges[0].state, State::Learning);
        let none = Selector::parse("asset=10.9.9.9").unwrap();
        assert_eq!(l.set_state(&none, State::Approved), 0);
    }

    proptest! {
        /// Learning the same messages in any order, or split over two learners and merged,
        /// gives the same baseline as a naive model (per-edge sets and sums).
        #[test]
        fn updates_agree_with_a_naive_model(
            msgs in proptest::collection::vec((1u8..4, 1u8..4, 0u8..3, 0u16..5, 0u32..100, 1u32..5, 0i64..1000), 1..60),
            split in 0usize..60,
        ) {
            let ops = [Operation::Read, Operation::Write, Operation::Diagnostics];
            let lessons: Vec<Lesson<'static>> = msgs.iter().map(|&(s, d, op, code, start, count, t)| {
                lesson(key(s, d), t, ops[usize::from(op)], code, start, count)
            }).collect();
            let one = Learner::default();
            for l in &lessons { one.learn(l); }
            let (a, b) = (Learner::default(), Learner::default());
            let split = split.min(lessons.len());
            for l in lessons[split..].iter().rev() { a.learn(l); }
            for l in &lessons[..split] { b.learn(l); }
            let mut merged = a.to_baseline();
            assert_eq!(merged.merge(&b.to_baseline(), &Caps::default()), 0);
            // The naive model.
            // Per edge: messages, function codes, addresses, first and last timestamp.
            type Model = BTreeMap<EdgeKey, (u64, BTreeSet<u16>, BTreeSet<u32>, i64, i64)>;
            let mut model = Model::new();
            for l in &lessons {
                let m = model.entry(l.key.clone().into_owned()).or_insert((0, BTreeSet::new(), BTreeSet::new(), i64::MAX, i64::MIN));
                m.0 += 1;
                m.1.insert(l.function.unwrap().0);
                let (s, c) = (l.ranges[0].start, l.ranges[0].count);
                m.2.extend(s..s + c);
                m.3 = m.3.min(l.ts.as_nanos());
                m.4 = m.4.max(l.ts.as_nanos());
            }
            for base in [one.to_baseline(), merged] {
                prop_assert_eq!(base.edges.len(), model.len());
                for e in &base.edges {
                    let k = EdgeKey { src: e.src, dst: e.dst, protocol: e.protocol.clone().into() };
                    let m = &model[&k];
                    prop_assert_eq!(e.seen.count, m.0);
                    prop_assert_eq!(&e.functions.keys().copied().collect::<BTreeSet<_>>(), &m.1);
                    let covered: BTreeSet<u32> = e.ranges["holding_registers"].as_slice().iter().flat_map(|r| r[0]..=r[1]).collect();
                    prop_assert_eq!(&covered, &m.2);
                    prop_assert_eq!((e.seen.first_seen.as_nanos(), e.seen.last_seen.as_nanos()), (m.3, m.4));
                }
            }
        }
    }
}
