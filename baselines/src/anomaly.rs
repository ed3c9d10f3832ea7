//! The anomaly engine: correlates per-flow [`Fact`]s across flows — scans of hosts, ports,
//! unit ids and SZL lists, a new master writing to a device, excessive sessions.
//!
//! It runs in the sensor's single output thread, on facts in input order, so its results do
//! not depend on how flows are spread over workers. Every table is bounded: distinct values
//! per key are kept only up to what a decision needs, and keys beyond `max_tracked` are not
//! tracked (counted in [`AnomalyEngine::untracked`]).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;

use serde_json::json;

use crate::alert::{AlertEndpoint, Evidence, Fact, FactKind, Observation, Rule};
use crate::rules;
use crate::time::Timestamp;

/// Thresholds, all within one sliding window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyConfig {
    /// The window, seconds.
    pub window_secs: u64,
    /// Distinct hosts one source opens flows to.
    pub host_scan: usize,
    /// Distinct ports one source opens flows to on one host.
    pub port_scan: usize,
    /// Distinct unit ids one client addresses on one server.
    pub unit_scan: usize,
    /// Distinct SZL lists one client reads.
    pub szl_enumeration: usize,
    /// TCP connections one client opens to one server.
    pub sessions: usize,
    /// Malformed PDUs (and parse errors) from one client to one server, over all their
    /// connections, within `count_window_secs`.
    pub malformed: u64,
    /// Exception responses between one client and one server within `count_window_secs`.
    pub exception_storm: u64,
    /// The window of the malformed and exception counts, seconds.
    pub count_window_secs: u64,
    /// Most keys tracked per table.
    pub max_tracked: usize,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            window_secs: 60,
            host_scan: 32,
            port_scan: 16,
            unit_scan: 16,
            szl_enumeration: 8,
            sessions: 100,
            malformed: 3,
            exception_storm: 20,
            count_window_secs: 60,
            max_tracked: 100_000,
        }
    }
}

/// Distinct values seen within the window, keeping at most `2 × threshold` of them.
#[derive(Debug)]
struct Distinct<T> {
    seen: HashMap<T, Timestamp>,
    pruned: Timestamp,
    last: Timestamp,
}

impl<T: Hash + Eq + Copy + Ord> Distinct<T> {
    fn new() -> Self {
        Distinct {
            seen: HashMap::new(),
            pruned: Timestamp::default(),
            last: Timestamp::default(),
        }
    }

    /// Adds `v` at `ts`; returns how many distinct values the window holds.
    fn add(&mut self, v: T, ts: Timestamp, window_ns: i64, threshold: usize) -> usize {
        self.last = self.last.max(ts);
        let cap = threshold.saturating_mul(2).max(2);
        let full = self.seen.len() >= cap && !self.seen.contains_key(&v);
        // Expired values go when the table reaches the threshold or its cap, at most once
        // a second of capture time (so a long scan stays linear).
        if (self.seen.len() + 1 >= threshold || full)
            && ts.nanos_since(self.pruned) >= 1_000_000_000
        {
            self.seen.retain(|_, t| ts.nanos_since(*t) < window_ns);
            self.pruned = ts;
        }
        if self.seen.len() < cap || self.seen.contains_key(&v) {
            self.seen.insert(v, ts);
        }
        self.seen.len()
    }

    fn sample(&self) -> Vec<T> {
        let mut v: Vec<T> = self.seen.keys().copied().collect();
        v.sort_unstable();
        v.truncate(10);
        v
    }
}

/// The engine.
#[derive(Debug)]
pub struct AnomalyEngine {
    cfg: AnomalyConfig,
    window_ns: i64,
    hosts: HashMap<IpAddr, Distinct<IpAddr>>,
    ports: HashMap<(IpAddr, IpAddr), Distinct<(u8, u16)>>,
    units: HashMap<(IpAddr, IpAddr, &'static str), Distinct<u32>>,
    szls: HashMap<IpAddr, Distinct<u16>>,
    masters: HashMap<(IpAddr, &'static str), IpAddr>,
    sessions: HashMap<(IpAddr, IpAddr), VecDeque<Timestamp>>,
    malformed: HashMap<(IpAddr, IpAddr, &'static str), Counter>,
    exceptions: HashMap<(IpAddr, IpAddr, &'static str), Counter>,
    /// Facts about keys the tables had no room for.
    pub untracked: u64,
}

impl AnomalyEngine {
    /// A new engine.
    pub fn new(cfg: AnomalyConfig) -> AnomalyEngine {
        AnomalyEngine {
            cfg,
            window_ns: i64::try_from(cfg.window_secs)
                .unwrap_or(i64::MAX / 1_000_000_000)
                .saturating_mul(1_000_000_000),
            hosts: HashMap::new(),
            ports: HashMap::new(),
            units: HashMap::new(),
            szls: HashMap::new(),
            masters: HashMap::new(),
            sessions: HashMap::new(),
            malformed: HashMap::new(),
            exceptions: HashMap::new(),
            untracked: 0,
        }
    }

    /// New thresholds and windows (a configuration reload); what is tracked is kept and
    /// judged by the new settings from the next fact on.
    pub fn set_config(&mut self, cfg: AnomalyConfig) {
        self.cfg = cfg;
        self.window_ns = i64::try_from(cfg.window_secs)
            .unwrap_or(i64::MAX / 1_000_000_000)
            .saturating_mul(1_000_000_000);
    }

    /// Correlates one fact; the rules it fires go to `out`.
    pub fn observe(&mut self, f: &Fact, out: &mut Vec<Observation>) {
        let (c, s) = (f.client.ip, f.server.ip);
        let (w, cfg) = (self.window_ns, self.cfg);
        match f.kind {
            FactKind::FlowStart { transport, opened } => {
                if !opened {
                    // A connection picked up midstream says nothing about when it was opened.
                    return;
                }
                if let Some(d) = slot(&mut self.hosts, c, cfg.max_tracked, &mut self.untracked) {
                    let n = d.add(s, f.ts, w, cfg.host_scan);
                    if n >= cfg.host_scan {
                        let sample: Vec<String> =
                            d.sample().iter().map(|ip| ip.to_string()).collect();
                        out.push(obs(
                            &rules::HOST_SCAN,
                            c.to_string(),
                            f,
                            None,
                            None,
                            format!("{c} opened flows to {n} hosts within {} s", cfg.window_secs),
                            json!({ "hosts": n, "window_secs": cfg.window_secs, "sample": sample }),
                            json!({ "below": cfg.host_scan }),
                        ));
                    }
                }
                let port = f.server.port.unwrap_or(0);
                if let Some(d) = slot(
                    &mut self.ports,
                    (c, s),
                    cfg.max_tracked,
                    &mut self.untracked,
                ) {
                    let n = d.add((transport, port), f.ts, w, cfg.port_scan);
                    if n >= cfg.port_scan {
                        let sample: Vec<u16> = d.sample().iter().map(|p| p.1).collect();
                        out.push(obs(
                            &rules::PORT_SCAN,
                            format!("{c}>{s}"),
                            f,
                            Some(&f.server),
                            None,
                            format!("{c} probed {n} ports of {s} within {} s", cfg.window_secs),
                            json!({ "ports": n, "window_secs": cfg.window_secs, "sample": sample }),
                            json!({ "below": cfg.port_scan }),
                        ));
                    }
                }
                if transport == 6 {
                    let total = self.sessions.len();
                    if !self.sessions.contains_key(&(c, s)) && total >= cfg.max_tracked {
                        let now = f.ts;
                        self.sessions
                            .retain(|_, q| q.back().is_some_and(|t| now.nanos_since(*t) < w));
                    }
                    if !self.sessions.contains_key(&(c, s))
                        && self.sessions.len() >= cfg.max_tracked
                    {
                        self.untracked += 1;
                        return;
                    }
                    let q = self.sessions.entry((c, s)).or_default();
                    q.push_back(f.ts);
                    while q.front().is_some_and(|t| f.ts.nanos_since(*t) >= w) {
                        q.pop_front();
                    }
                    // Only the count matters beyond the threshold.
                    while q.len() > cfg.sessions.saturating_mul(2).max(2) {
                        q.pop_front();
                    }
                    let n = q.len();
                    if n >= cfg.sessions {
                        out.push(obs(
                            &rules::EXCESSIVE_SESSIONS,
                            format!("{c}>{s}"),
                            f,
                            Some(&f.server),
                            None,
                            format!(
                                "{c} opened {n} connections to {s} within {} s",
                                cfg.window_secs
                            ),
                            json!({ "connections": n, "window_secs": cfg.window_secs }),
                            json!({ "below": cfg.sessions }),
                        ));
                    }
                }
            }
            FactKind::Unit { protocol, unit } => {
                if let Some(d) = slot(
                    &mut self.units,
                    (c, s, protocol),
                    cfg.max_tracked,
                    &mut self.untracked,
                ) {
                    let n = d.add(unit, f.ts, w, cfg.unit_scan);
                    if n >= cfg.unit_scan {
                        out.push(obs(
                            &rules::UNIT_SCAN,
                            format!("{c}>{s}/{protocol}"),
                            f,
                            Some(&f.server),
                            Some(protocol),
                            format!(
                                "{c} addressed {n} {protocol} unit ids on {s} within {} s",
                                cfg.window_secs
                            ),
                            json!({ "units": n, "window_secs": cfg.window_secs, "sample": d.sample() }),
                            json!({ "below": cfg.unit_scan }),
                        ));
                    }
                }
            }
            FactKind::Szl { id } => {
                if let Some(d) = slot(&mut self.szls, c, cfg.max_tracked, &mut self.untracked) {
                    let n = d.add(id, f.ts, w, cfg.szl_enumeration);
                    if n >= cfg.szl_enumeration {
                        let sample: Vec<String> =
                            d.sample().iter().map(|i| format!("{i:#06x}")).collect();
                        out.push(obs(
                            &rules::SZL_ENUMERATION,
                            c.to_string(),
                            f,
                            Some(&f.server),
                            Some("s7comm"),
                            format!("{c} read {n} SZL lists within {} s", cfg.window_secs),
                            json!({ "szl_ids": n, "window_secs": cfg.window_secs, "sample": sample }),
                            json!({ "below": cfg.szl_enumeration }),
                        ));
                    }
                }
            }
            FactKind::Malformed { protocol, what } => {
                let window = secs_ns(cfg.count_window_secs);
                let n = count(
                    &mut self.malformed,
                    (c, s, protocol),
                    f.ts,
                    window,
                    cfg.max_tracked,
                    &mut self.untracked,
                );
                if n >= cfg.malformed {
                    out.push(obs(
                        &rules::MALFORMED,
                        format!("{c}>{s}/{protocol}"),
                        f,
                        Some(&f.server),
                        Some(protocol),
                        format!(
                            "{n} malformed {protocol} PDUs from {c} to {s} within {} s (latest: {what})",
                            cfg.count_window_secs
                        ),
                        json!({ "malformed": n, "latest": what, "window_secs": cfg.count_window_secs }),
                        json!({ "below": cfg.malformed }),
                    ));
                }
            }
            FactKind::Exception { protocol } => {
                let window = secs_ns(cfg.count_window_secs);
                let n = count(
                    &mut self.exceptions,
                    (c, s, protocol),
                    f.ts,
                    window,
                    cfg.max_tracked,
                    &mut self.untracked,
                );
                if n >= cfg.exception_storm {
                    out.push(obs(
                        &rules::EXCEPTION_STORM,
                        format!("{c}>{s}/{protocol}"),
                        f,
                        Some(&f.server),
                        Some(protocol),
                        format!(
                            "{n} {protocol} exceptions between {c} and {s} within {} s",
                            cfg.count_window_secs
                        ),
                        json!({ "exceptions": n, "window_secs": cfg.count_window_secs }),
                        json!({ "below": cfg.exception_storm }),
                    ));
                }
            }
            FactKind::Write { protocol } => {
                let key = (s, protocol);
                match self.masters.get(&key) {
                    Some(first) if *first != c => {
                        let first = *first;
                        out.push(obs(
                            &rules::NEW_MASTER_WRITE,
                            format!("{c}>{s}/{protocol}"),
                            f,
                            Some(&f.server),
                            Some(protocol),
                            format!(
                                "{c} writes to {s} over {protocol}; its master so far was {first}"
                            ),
                            json!({ "writer": c, "protocol": protocol }),
                            json!({ "master": first }),
                        ));
                    }
                    Some(_) => {}
                    None if self.masters.len() >= cfg.max_tracked => self.untracked += 1,
                    None => {
                        self.masters.insert(key, c);
                    }
                }
            }
        }
    }
}

/// Events in a window that restarts when an event comes after it has passed.
#[derive(Debug, Clone, Copy)]
struct Counter {
    start: Timestamp,
    n: u64,
}

fn secs_ns(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX / 1_000_000_000)
        .saturating_mul(1_000_000_000)
}

/// Counts one event for `k`; returns the count in the current window (0 when untracked).
fn count<K: Hash + Eq + Copy>(
    map: &mut HashMap<K, Counter>,
    k: K,
    ts: Timestamp,
    window: i64,
    max: usize,
    untracked: &mut u64,
) -> u64 {
    if !map.contains_key(&k) && map.len() >= max {
        map.retain(|_, c| ts.nanos_since(c.start) < window);
        if map.len() >= max {
            *untracked += 1;
            return 0;
        }
    }
    let c = map.entry(k).or_insert(Counter { start: ts, n: 0 });
    if ts.nanos_since(c.start) >= window {
        *c = Counter { start: ts, n: 0 };
    }
    c.n += 1;
    c.n
}

/// The table entry for `k`, if it exists or there is room (after dropping expired ones).
fn slot<'m, K: Hash + Eq + Copy, T: Hash + Eq + Copy + Ord>(
    map: &'m mut HashMap<K, Distinct<T>>,
    k: K,
    max: usize,
    untracked: &mut u64,
) -> Option<&'m mut Distinct<T>> {
    if !map.contains_key(&k) && map.len() >= max {
        // Forget keys idle for a long time; beyond that, stop tracking new keys.
        let newest = map.values().map(|d| d.last).max().unwrap_or_default();
        map.retain(|_, d| newest.nanos_since(d.last) < 3_600_000_000_000);
        if map.len() >= max {
            *untracked += 1;
            return None;
        }
    }
    Some(map.entry(k).or_insert_with(Distinct::new))
}

#[allow(clippy::too_many_arguments)]
fn obs(
    rule: &'static Rule,
    key: String,
    f: &Fact,
    dst: Option<&AlertEndpoint>,
    protocol: Option<&'static str>,
    details: String,
    observed: serde_json::Value,
    expected: serde_json::Value,
) -> Observation {
    Observation {
        rule,
        key,
        ts: f.ts,
        src: Some(f.client.clone()),
        dst: dst.cloned(),
        protocol,
        transport: match f.kind {
            FactKind::FlowStart { transport: 6, .. } => Some("tcp"),
            FactKind::FlowStart { transport: 17, .. } => Some("udp"),
            _ => None,
        },
        operation: None,
        function: None,
        details,
        evidence: Evidence { observed, expected },
        severity: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: [u8; 4], port: u16) -> AlertEndpoint {
        AlertEndpoint {
            ip: IpAddr::from(ip),
            port: Some(port),
            mac: None,
            zone: None,
            asset: None,
        }
    }

    fn start(secs: i64, dst: u8, port: u16) -> Fact {
        Fact {
            ts: Timestamp::from_nanos(secs * 1_000_000_000),
            client: ep([10, 0, 0, 1], 40000),
            server: ep([10, 0, 1, dst], port),
            kind: FactKind::FlowStart {
                transport: 6,
                opened: true,
            },
        }
    }

    #[test]
    fn host_and_port_scans_fire_at_the_threshold_within_the_window() {
        let cfg = AnomalyConfig {
            host_scan: 4,
            port_scan: 3,
            ..AnomalyConfig::default()
        };
        let mut e = AnomalyEngine::new(cfg);
        let mut out = Vec::new();
        for d in 1..=3 {
            e.observe(&start(0, d, 502), &mut out);
        }
        assert!(out.is_empty());
        // The fourth host, but after the window: the first ones have expired.
        e.observe(&start(120, 4, 502), &mut out);
        assert!(out.is_empty(), "{out:?}");
        for d in 5..=7 {
            e.observe(&start(121, d, 502), &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule.id, "anomaly.host_scan");
        out.clear();
        for p in [21, 22, 23] {
            e.observe(&start(200, 9, p), &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule.id, "anomaly.port_scan");
        assert_eq!(out[0].evidence.observed["sample"], json!([21, 22, 23]));
        // Midstream pickups never count.
        out.clear();
        let mut f = start(300, 50, 502);
        f.kind = FactKind::FlowStart {
            transport: 6,
            opened: false,
        };
        for d in 50..60 {
            f.server = ep([10, 0, 2, d], 502);
            e.observe(&f, &mut out);
        }
        assert!(out.is_empty());
    }

    #[test]
    fn second_writer_is_a_new_master_once_per_writer() {
        let mut e = AnomalyEngine::new(AnomalyConfig::default());
        let mut out = Vec::new();
        let mut f = start(0, 1, 502);
        f.kind = FactKind::Write { protocol: "modbus" };
        e.observe(&f, &mut out);
        e.observe(&f, &mut out);
        assert!(out.is_empty());
        f.client = ep([10, 0, 0, 66], 40000);
        e.observe(&f, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].evidence.expected["master"], json!("10.0.0.1"));
    }

    #[test]
    fn tables_stay_bounded() {
        let cfg = AnomalyConfig {
            max_tracked: 10,
            host_scan: 1000,
            ..AnomalyConfig::default()
        };
        let mut e = AnomalyEngine::new(cfg);
        let mut out = Vec::new();
        for i in 0..100u32 {
            let mut f = start(0, 1, 502);
            f.client = ep([10, 1, (i / 256) as u8, (i % 256) as u8], 1);
            e.observe(&f, &mut out);
        }
        assert!(e.hosts.len() <= 10 && e.ports.len() <= 10 && e.sessions.len() <= 10);
        assert!(e.untracked > 0);
        // A long port scan keeps its table at twice the threshold.
        let mut e = AnomalyEngine::new(AnomalyConfig::default());
        for p in 0..10_000u16 {
            e.observe(&start(0, 1, p), &mut out);
        }
        assert!(e.ports.values().all(|d| d.seen.len() <= 32));
    }
}
