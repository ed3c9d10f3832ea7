//! The baseline while the sensor runs: learned into by every worker at once, read by
//! detection, curated by the SOC's decisions.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use otsensor_protocols::Operation;

use super::selector::set_edge;
use super::{
    AssetEntry, Baseline, Caps, EdgeEntry, EdgeKey, FunctionEntry, LearnedAlert, Seen, Selector,
    State, Timing, CONVERSATIONS_SINCE, MAX_ASSET_MACS, SCHEMA_VERSION, STREAMS_SINCE,
};
use crate::decision::Ledger;
use crate::mac::MacAddr;
use crate::message::AddressRange;
use crate::time::Timestamp;

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
    /// The SOC's decisions on alerts (they arrive while the sensor runs).
    decisions: Ledger,
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
            decisions: Ledger::new(decisions),
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

    /// The decisions on alerts: which are muted, and the audit trail.
    pub fn decisions(&self) -> &Ledger {
        &self.decisions
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
        self.decisions.has_new() || self.curated.load(std::sync::atomic::Ordering::Relaxed)
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
        b.decisions = self.decisions.trail();
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

impl Baseline {
    /// Adds everything of `other` (several sensors, or several learning runs), within `caps`.
    /// Returns how many entries of `other` the caps left out.
    pub fn merge(&mut self, other: &Baseline, caps: &Caps) -> u64 {
        let learner = Learner::from_baseline(self.clone(), *caps);
        learner.absorb(other);
        *self = learner.to_baseline();
        learner.capped.load(std::sync::atomic::Ordering::Relaxed)
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
