//! The anomaly engine: correlates per-flow [`Fact`]s across flows — scans of hosts, ports,
//! unit ids and SZL lists, a new master writing to a device, excessive sessions.
//!
//! It runs in the sensor's single output thread, on facts in input order, so its results do
//! not depend on how flows are spread over workers. Every table is bounded and costs O(1)
//! amortized per fact, whatever the traffic: distinct values per key are kept only up to what
//! a decision needs; keys idle past their window are dropped from the old end of the table's
//! recency list ([`Lru`]); and a table holding `max_tracked` keys evicts its least recently
//! touched one for a new key (counted in [`AnomalyEngine::evicted`]): under a flood of new
//! sources the engine sheds the oldest state, never the newest.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;

use serde_json::json;

use crate::alert::{
    alert_hash, AlertEndpoint, Comparison, Fact, FactKind, Observation, Repeat, Rule, Signal,
};
use crate::lru::Lru;
use crate::rules;
use crate::time::Timestamp;

/// Thresholds, all within one sliding window: the config's `[detection]` section, read as is
/// (its key names in the file are the serde names).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    /// The window, seconds.
    #[serde(rename = "anomaly_window_secs")]
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
    /// TCP connection attempts (SYNs) to one server port, from any sources (a SYN flood).
    pub syn_flood: u64,
    /// Distinct sources opening connections to one server port (a distributed flood).
    pub connection_flood: usize,
    /// Distinct sources and distinct hosts, both, opening TCP connections on one industrial
    /// protocol port (a distributed sweep of the plant's service).
    pub distributed_scan: usize,
    /// Malformed PDUs (and parse errors) from one client to one server, over all their
    /// connections, within `count_window_secs`.
    #[serde(rename = "malformed_threshold")]
    pub malformed: u64,
    /// Exception responses between one client and one server within `count_window_secs`.
    pub exception_storm: u64,
    /// The window of the malformed and exception counts, seconds.
    #[serde(rename = "exception_window_secs")]
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
            syn_flood: 1000,
            connection_flood: 256,
            distributed_scan: 128,
            malformed: 3,
            exception_storm: 20,
            count_window_secs: 60,
            max_tracked: 100_000,
        }
    }
}

/// Values a [`Distinct`] keeps inline before it needs a list (a flood's sources mostly have
/// one; two keep a key's entry small when a table holds 100,000 of them).
const FEW: usize = 2;

/// Values a [`Distinct`] keeps in a list, searched in order, before it needs a map: a scan of
/// a few contiguous values costs less than hashing, and holds them in a quarter of the space.
const LIST: usize = 32;

/// Where a [`Distinct`] keeps its values past [`FEW`] (the map boxed: the few keys that
/// need one pay for it, not every key's entry).
#[derive(Debug)]
enum Spill<T> {
    List(Vec<(T, Timestamp)>),
    // Boxed on purpose: the map and its keyed hasher are 64 bytes, the box 8, and a table
    // holds 100,000 entries that almost never need the map.
    #[allow(clippy::box_collection)]
    Map(Box<HashMap<T, Timestamp, ahash::RandomState>>),
}

/// Distinct values seen within the window, keeping at most `2 × threshold` of them: the
/// first [`FEW`] inline (no allocation for the many keys that see one or two values), up to
/// [`LIST`] in a list, then in a map.
#[derive(Debug)]
struct Distinct<T> {
    few: [Option<(T, Timestamp)>; FEW],
    many: Option<Spill<T>>,
    pruned: Timestamp,
    last: Timestamp,
}

impl<T: Hash + Eq + Copy + Ord> Distinct<T> {
    fn new() -> Self {
        Distinct {
            few: [None; FEW],
            many: None,
            pruned: Timestamp::default(),
            last: Timestamp::default(),
        }
    }

    fn len(&self) -> usize {
        match &self.many {
            Some(Spill::List(l)) => l.len(),
            Some(Spill::Map(m)) => m.len(),
            None => self.few.iter().flatten().count(),
        }
    }

    fn contains(&self, v: &T) -> bool {
        match &self.many {
            Some(Spill::List(l)) => l.iter().any(|(x, _)| x == v),
            Some(Spill::Map(m)) => m.contains_key(v),
            None => self.few.iter().flatten().any(|(x, _)| x == v),
        }
    }

    fn retain(&mut self, keep: impl Fn(&Timestamp) -> bool) {
        match &mut self.many {
            Some(Spill::List(l)) => l.retain(|(_, t)| keep(t)),
            Some(Spill::Map(m)) => m.retain(|_, t| keep(t)),
            None => {
                for e in &mut self.few {
                    if e.is_some_and(|(_, t)| !keep(&t)) {
                        *e = None;
                    }
                }
            }
        }
    }

    /// Sets the time of `v` (added if absent).
    fn put(&mut self, v: T, ts: Timestamp) {
        match &mut self.many {
            Some(Spill::Map(m)) => {
                m.insert(v, ts);
                return;
            }
            Some(Spill::List(l)) => {
                if let Some((_, t)) = l.iter_mut().find(|(x, _)| *x == v) {
                    *t = ts;
                } else if l.len() < LIST {
                    l.push((v, ts));
                } else {
                    let mut m =
                        HashMap::with_capacity_and_hasher(LIST * 2, ahash::RandomState::new());
                    m.extend(l.drain(..));
                    m.insert(v, ts);
                    self.many = Some(Spill::Map(Box::new(m)));
                }
                return;
            }
            None => {}
        }
        if let Some((_, t)) = self.few.iter_mut().flatten().find(|(x, _)| *x == v) {
            *t = ts;
            return;
        }
        if let Some(e) = self.few.iter_mut().find(|e| e.is_none()) {
            *e = Some((v, ts));
            return;
        }
        let mut l = Vec::with_capacity(FEW * 2);
        l.extend(self.few.iter_mut().filter_map(Option::take));
        l.push((v, ts));
        self.many = Some(Spill::List(l));
    }

    /// Adds `v` at `ts`; returns how many distinct values the window holds.
    fn add(&mut self, v: T, ts: Timestamp, window_ns: i64, threshold: usize) -> usize {
        self.last = self.last.max(ts);
        let cap = threshold.saturating_mul(2).max(2);
        let len = self.len();
        let full = len >= cap && !self.contains(&v);
        // Expired values go when the table reaches the threshold or its cap, at most once
        // a second of capture time (so a long scan stays linear).
        if (len + 1 >= threshold || full) && ts.nanos_since(self.pruned) >= 1_000_000_000 {
            self.retain(|t| ts.nanos_since(*t) < window_ns);
            self.pruned = ts;
        }
        if self.len() < cap || self.contains(&v) {
            self.put(v, ts);
        }
        self.len()
    }

    fn sample(&self) -> Vec<T> {
        let mut v: Vec<T> = match &self.many {
            Some(Spill::List(l)) => l.iter().map(|(x, _)| *x).collect(),
            Some(Spill::Map(m)) => m.keys().copied().collect(),
            None => self.few.iter().flatten().map(|(x, _)| *x).collect(),
        };
        v.sort_unstable();
        v.truncate(10);
        v
    }
}

/// Cyclic I/O connection ids seen (each first datagram of an id on a flow), by how they
/// paired with the opening of their connection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IoPairing {
    /// Sent by the host the connection was opened with.
    pub paired: u64,
    /// Opened before the capture began (or sent to a multicast group).
    pub unpaired: u64,
    /// Sent by another host than the one the connection was opened with (alerted).
    pub mismatched: u64,
}

impl IoPairing {
    /// True when no I/O was seen.
    pub fn is_empty(&self) -> bool {
        *self == IoPairing::default()
    }
}

/// What the engine keeps per client and server.
#[derive(Debug)]
struct Pair {
    /// Distinct (transport, server port) the client opened flows to.
    ports: Distinct<(u8, u16)>,
    /// When the client's TCP connections to the server were opened, within the window.
    sessions: Times,
}

/// Times in order, oldest first, the first kept inline: most pairs in a flood open one
/// connection, and then need no allocation.
#[derive(Debug, Default)]
struct Times {
    /// The oldest time, when it is inline; `more` follows it.
    first: Option<Timestamp>,
    more: VecDeque<Timestamp>,
}

impl Times {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    fn front(&self) -> Option<&Timestamp> {
        self.first.as_ref().or(self.more.front())
    }

    fn push_back(&mut self, t: Timestamp) {
        if self.first.is_none() && self.more.is_empty() {
            self.first = Some(t);
        } else {
            self.more.push_back(t);
        }
    }

    fn pop_front(&mut self) -> Option<Timestamp> {
        self.first.take().or_else(|| self.more.pop_front())
    }
}

impl Pair {
    fn new() -> Pair {
        Pair {
            ports: Distinct::new(),
            sessions: Times::default(),
        }
    }

    /// Counts a flow opened: returns the distinct ports and the TCP connections (0 for
    /// another transport) within the window.
    fn open(&mut self, o: &Opened, window_ns: i64, cfg: &AnomalyConfig) -> (usize, usize) {
        let ports = self
            .ports
            .add((o.transport, o.port), o.ts, window_ns, cfg.port_scan);
        if o.transport != 6 {
            return (ports, 0);
        }
        let q = &mut self.sessions;
        q.push_back(o.ts);
        while q.front().is_some_and(|t| o.ts.nanos_since(*t) >= window_ns) {
            q.pop_front();
        }
        // Only the count matters beyond the threshold.
        while q.len() > cfg.sessions.saturating_mul(2).max(2) {
            q.pop_front();
        }
        (ports, q.len())
    }
}

/// A flow opened, as a [`Pair`] counts it.
#[derive(Debug, Clone, Copy)]
struct Opened {
    server: IpAddr,
    transport: u8,
    port: u16,
    ts: Timestamp,
}

/// What the engine keeps per source: the distinct hosts it opened flows to and, until it
/// opens a second one, its first flow. A scan's or flood's many one-flow sources then cost
/// one table entry each, not two: their [`Pair`] is made when a second flow needs it.
#[derive(Debug)]
struct Host {
    servers: Distinct<IpAddr>,
    first: First,
}

/// A source's first flow: not seen yet, waiting for a second flow, or counted in its pair.
#[derive(Debug)]
enum First {
    None,
    Waiting(Opened),
    Counted,
}

impl Host {
    fn new() -> Host {
        Host {
            servers: Distinct::new(),
            first: First::None,
        }
    }
}

/// The engine.
#[derive(Debug)]
pub struct AnomalyEngine {
    cfg: AnomalyConfig,
    window_ns: i64,
    hosts: Lru<IpAddr, Host>,
    /// Per client and server: the ports probed, and the TCP connections opened.
    pairs: Lru<(IpAddr, IpAddr), Pair>,
    units: Lru<(IpAddr, IpAddr, &'static str), Distinct<u32>>,
    szls: Lru<IpAddr, Distinct<u16>>,
    /// The first client that wrote to (false) or set the clock of (true) a device, per
    /// device and protocol.
    masters: Lru<(IpAddr, &'static str, bool), IpAddr>,
    malformed: Lru<(IpAddr, IpAddr, &'static str), Counter>,
    exceptions: Lru<(IpAddr, IpAddr, &'static str), Counter>,
    /// Per server port: connection attempts, and their distinct sources.
    ports_in: Lru<(IpAddr, u16), Inbound>,
    /// Per industrial protocol port (TCP): the hosts and the sources of connections opened.
    sweeps: HashMap<u16, Sweep, ahash::RandomState>,
    /// The last flooded server port and its alert key.
    flood_key: (Option<(IpAddr, u16)>, String),
    /// Cyclic I/O connections opened, by consumer and connection id: the host that produces
    /// their data. Kept until evicted at the cap (a connection lives as long as the plant runs).
    io: Lru<(IpAddr, u32), IpAddr>,
    /// Cyclic I/O connection ids seen, by how they paired with an opening.
    pub io_pairing: IoPairing,
    /// Keys evicted from full tables while still within their window: state the engine shed.
    pub evicted: u64,
}

impl AnomalyEngine {
    /// A new engine.
    pub fn new(cfg: AnomalyConfig) -> AnomalyEngine {
        AnomalyEngine {
            cfg,
            window_ns: i64::try_from(cfg.window_secs)
                .unwrap_or(i64::MAX / 1_000_000_000)
                .saturating_mul(1_000_000_000),
            hosts: Lru::new(cfg.max_tracked),
            pairs: Lru::new(cfg.max_tracked),
            units: Lru::new(cfg.max_tracked),
            szls: Lru::new(cfg.max_tracked),
            masters: Lru::new(cfg.max_tracked),
            malformed: Lru::new(cfg.max_tracked),
            exceptions: Lru::new(cfg.max_tracked),
            ports_in: Lru::new(cfg.max_tracked),
            // Bounded by the protocols' ports: a handful of keys.
            sweeps: otsensor_protocols::PROTOCOLS
                .iter()
                .flat_map(|d| d.tcp_ports.iter().map(|&p| (p, Sweep::new(p))))
                .collect(),
            flood_key: (None, String::new()),
            io: Lru::new(cfg.max_tracked),
            io_pairing: IoPairing::default(),
            evicted: 0,
        }
    }

    /// Keys tracked now, over all tables.
    pub fn tracked(&self) -> usize {
        self.hosts.len()
            + self.pairs.len()
            + self.units.len()
            + self.szls.len()
            + self.masters.len()
            + self.malformed.len()
            + self.exceptions.len()
            + self.ports_in.len()
            + self.io.len()
    }

    /// Drops the keys idle past their window (nothing in them could count any more): O(1)
    /// amortized per key dropped. A new master is remembered until evicted at the cap.
    fn expire(&mut self, ts: Timestamp) {
        let before = ts.as_nanos().saturating_sub(self.window_ns);
        self.hosts.drop_idle(before);
        self.pairs.drop_idle(before);
        self.units.drop_idle(before);
        self.szls.drop_idle(before);
        self.ports_in.drop_idle(before);
        let before = ts
            .as_nanos()
            .saturating_sub(secs_ns(self.cfg.count_window_secs));
        self.malformed.drop_idle(before);
        self.exceptions.drop_idle(before);
    }

    /// New thresholds and windows (a configuration reload); what is tracked is kept and
    /// judged by the new settings from the next fact on.
    pub fn set_config(&mut self, cfg: AnomalyConfig) {
        self.cfg = cfg;
        self.window_ns = i64::try_from(cfg.window_secs)
            .unwrap_or(i64::MAX / 1_000_000_000)
            .saturating_mul(1_000_000_000);
    }

    /// Correlates one fact; the rules it fires go to `out`. `known` says whether an alert (by
    /// [`alert_hash`]) was already raised: its observation then carries no details.
    pub fn observe(&mut self, f: &Fact, out: &mut Vec<Signal>, known: &dyn Fn(u64) -> bool) {
        self.expire(f.ts);
        let fx = &mut Fire { out, known };
        match f.kind {
            // A connection picked up midstream says nothing about when it was opened.
            FactKind::FlowStart { transport, opened } => {
                if opened {
                    self.flow_start(f, transport, fx);
                }
            }
            FactKind::Unit { protocol, unit } => self.unit_scan(f, protocol, unit, fx),
            FactKind::Szl { id } => self.szl_enumeration(f, id, fx),
            FactKind::Malformed { protocol, what } => self.malformed(f, protocol, what, fx),
            FactKind::Exception { protocol } => self.exception_storm(f, protocol, fx),
            FactKind::Write { protocol } => self.new_master(f, protocol, false, fx),
            FactKind::TimeSync { protocol } => self.new_master(f, protocol, true, fx),
            FactKind::IoOpened {
                originator,
                target,
                o_t,
                t_o,
                ..
            } => {
                // Each end consumes the direction it chose the id of.
                let ts = f.ts.as_nanos();
                for (key, producer) in [((target, o_t), originator), ((originator, t_o), target)] {
                    let ev = self.io.insert(key, producer, ts);
                    self.evicted += u64::from(ev.is_some());
                }
            }
            FactKind::IoData {
                protocol,
                producer,
                consumer,
                id,
            } => self.io_data(f, protocol, (producer, consumer, id), fx),
            // Timing across connections: the output thread's polls, not a cross-flow rule.
            FactKind::SingleRequest { .. } => {}
        }
    }

    /// One source opening flows to many hosts. Returns the source's first flow when `o` is
    /// its second (to be counted in its pair now), or `None` when `o` is its first and waits.
    fn host_scan(&mut self, f: &Fact, o: Opened, fx: &mut Fire<'_>) -> Option<Option<Opened>> {
        let (c, s) = (f.client_ip(), f.server_ip());
        let (w, cfg) = (self.window_ns, self.cfg);
        let h = self
            .hosts
            .entry_counting(c, f.ts.as_nanos(), Host::new, &mut self.evicted);
        // A first flow can wait only when one flow alone fires no pair rule.
        let first = match std::mem::replace(&mut h.first, First::Counted) {
            First::None if cfg.port_scan > 1 && cfg.sessions > 1 => {
                h.first = First::Waiting(o);
                None
            }
            First::Waiting(p) => Some(Some(p)),
            First::None | First::Counted => Some(None),
        };
        let n = h.servers.add(s, f.ts, w, cfg.host_scan);
        let d = &h.servers;
        if n >= cfg.host_scan {
            fx.fire(&rules::HOST_SCAN,
                &c.to_string(),
                f,
                None,
                None,
                || {
                    (
                        format!("{c} opened flows to {n} hosts within {} s", cfg.window_secs),
                        json!({ "hosts": n, "window_secs": cfg.window_secs, "sample": d.sample().iter().map(|ip| ip.to_string()).collect::<Vec<_>>() }),
                        json!({ "below": cfg.host_scan }),
                    )
                },
            );
        }
        first
    }

    /// A flow opened: host and port scans, sessions, floods and sweeps.
    fn flow_start(&mut self, f: &Fact, transport: u8, fx: &mut Fire<'_>) {
        let (c, s) = (f.client_ip(), f.server_ip());
        let (w, cfg) = (self.window_ns, self.cfg);
        let port = f.server.port.unwrap_or(0);
        let o = Opened {
            server: s,
            transport,
            port,
            ts: f.ts,
        };
        let Some(first) = self.host_scan(f, o, fx) else {
            // The source's first flow, counted in its pair if a second one comes.
            if transport == 6 {
                self.floods(f, port, fx);
                self.sweep(f, port, fx);
            }
            return;
        };
        let now = f.ts.as_nanos();
        if let Some(p) = first {
            // One flow fires no pair rule (`host_scan` waits only then).
            self.pairs
                .entry_counting((c, p.server), now, Pair::new, &mut self.evicted)
                .open(&p, w, &cfg);
        }
        let pair = self
            .pairs
            .entry_counting((c, s), now, Pair::new, &mut self.evicted);
        let (n, sessions) = pair.open(&o, w, &cfg);
        if n >= cfg.port_scan {
            let d = &pair.ports;
            fx.fire(&rules::PORT_SCAN,
                &format!("{c}>{s}"),
                f,
                Some(&f.server),
                None,
                || {
                    (
                        format!("{c} probed {n} ports of {s} within {} s", cfg.window_secs),
                        json!({ "ports": n, "window_secs": cfg.window_secs, "sample": d.sample().iter().map(|p| p.1).collect::<Vec<_>>() }),
                        json!({ "below": cfg.port_scan }),
                    )
                },
            );
        }
        if transport == 6 {
            let n = sessions;
            self.floods(f, port, fx);
            self.sweep(f, port, fx);
            if n >= cfg.sessions {
                fx.fire(
                    &rules::EXCESSIVE_SESSIONS,
                    &format!("{c}>{s}"),
                    f,
                    Some(&f.server),
                    None,
                    || {
                        (
                            format!(
                                "{c} opened {n} connections to {s} within {} s",
                                cfg.window_secs
                            ),
                            json!({ "connections": n, "window_secs": cfg.window_secs }),
                            json!({ "below": cfg.sessions }),
                        )
                    },
                );
            }
        }
    }

    /// A client addressed a unit id for the first time on a flow: unit id scans.
    fn unit_scan(&mut self, f: &Fact, protocol: &'static str, unit: u32, fx: &mut Fire<'_>) {
        let (c, s) = (f.client_ip(), f.server_ip());
        let (w, cfg) = (self.window_ns, self.cfg);
        let d = slot(&mut self.units, (c, s, protocol), f.ts, &mut self.evicted);
        let n = d.add(unit, f.ts, w, cfg.unit_scan);
        if n >= cfg.unit_scan {
            fx.fire(
                &rules::UNIT_SCAN,
                &format!("{c}>{s}/{protocol}"),
                f,
                Some(&f.server),
                Some(protocol),
                || {
                    (
                        format!(
                            "{c} addressed {n} {protocol} unit ids on {s} within {} s",
                            cfg.window_secs
                        ),
                        json!({ "units": n, "window_secs": cfg.window_secs, "sample": d.sample() }),
                        json!({ "below": cfg.unit_scan }),
                    )
                },
            );
        }
    }

    /// A client read an SZL list for the first time on a flow: SZL enumeration.
    fn szl_enumeration(&mut self, f: &Fact, id: u16, fx: &mut Fire<'_>) {
        let c = f.client_ip();
        let (w, cfg) = (self.window_ns, self.cfg);
        let d = slot(&mut self.szls, c, f.ts, &mut self.evicted);
        let n = d.add(id, f.ts, w, cfg.szl_enumeration);
        if n >= cfg.szl_enumeration {
            fx.fire(&rules::SZL_ENUMERATION,
                &c.to_string(),
                f,
                Some(&f.server),
                Some(otsensor_protocols::s7comm::DESCRIPTOR.name),
                || {
                    (
                        format!("{c} read {n} SZL lists within {} s", cfg.window_secs),
                        json!({ "szl_ids": n, "window_secs": cfg.window_secs, "sample": d.sample().iter().map(|i| format!("{i:#06x}")).collect::<Vec<_>>() }),
                        json!({ "below": cfg.szl_enumeration }),
                    )
                },
            );
        }
    }

    /// A malformed PDU: counted per client, server and protocol.
    fn malformed(
        &mut self,
        f: &Fact,
        protocol: &'static str,
        what: &'static str,
        fx: &mut Fire<'_>,
    ) {
        let (c, s) = (f.client_ip(), f.server_ip());
        let cfg = self.cfg;
        let window = secs_ns(cfg.count_window_secs);
        let n = count(
            &mut self.malformed,
            (c, s, protocol),
            f.ts,
            window,
            &mut self.evicted,
        );
        if n >= cfg.malformed {
            fx.fire(&rules::MALFORMED,
                &format!("{c}>{s}/{protocol}"),
                f,
                Some(&f.server),
                Some(protocol),
                || {
                    (
                        format!(
                    "{n} malformed {protocol} PDUs from {c} to {s} within {} s (latest: {what})",
                    cfg.count_window_secs
                ),
                        json!({ "malformed": n, "latest": what, "window_secs": cfg.count_window_secs }),
                        json!({ "below": cfg.malformed }),
                    )
                },
            );
        }
    }

    /// An exception response: exception storms.
    fn exception_storm(&mut self, f: &Fact, protocol: &'static str, fx: &mut Fire<'_>) {
        let (c, s) = (f.client_ip(), f.server_ip());
        let cfg = self.cfg;
        let window = secs_ns(cfg.count_window_secs);
        let n = count(
            &mut self.exceptions,
            (c, s, protocol),
            f.ts,
            window,
            &mut self.evicted,
        );
        if n >= cfg.exception_storm {
            fx.fire(
                &rules::EXCEPTION_STORM,
                &format!("{c}>{s}/{protocol}"),
                f,
                Some(&f.server),
                Some(protocol),
                || {
                    (
                        format!(
                            "{n} {protocol} exceptions between {c} and {s} within {} s",
                            cfg.count_window_secs
                        ),
                        json!({ "exceptions": n, "window_secs": cfg.count_window_secs }),
                        json!({ "below": cfg.exception_storm }),
                    )
                },
            );
        }
    }

    /// A client wrote to a device (or, `time`, set its clock): a client other than the one
    /// that did so first.
    fn new_master(&mut self, f: &Fact, protocol: &'static str, time: bool, fx: &mut Fire<'_>) {
        let (c, s) = (f.client_ip(), f.server_ip());
        let key = (s, protocol, time);
        let (rule, verb, role) = if time {
            (&rules::NEW_TIME_MASTER, "sets the clock of", "time master")
        } else {
            (&rules::NEW_MASTER_WRITE, "writes to", "master")
        };
        match self.masters.touch(&key, f.ts.as_nanos()).copied() {
            Some(first) if first != c => {
                fx.fire(
                    rule,
                    &format!("{c}>{s}/{protocol}"),
                    f,
                    Some(&f.server),
                    Some(protocol),
                    || {
                        (
                            format!("{c} {verb} {s} over {protocol}; its {role} so far was {first}"),
                            json!({ if time { "time_source" } else { "writer" }: c, "protocol": protocol }),
                            json!({ role.replace(' ', "_"): first }),
                        )
                    },
                );
            }
            Some(_) => {}
            None => {
                let ev = self.masters.insert(key, c, f.ts.as_nanos());
                self.evicted += u64::from(ev.is_some());
            }
        }
    }
}

impl AnomalyEngine {
    /// The first datagram of cyclic I/O connection `id` on a flow: paired with the opening
    /// of the connection when the sensor saw it, and raised when another host produces it.
    fn io_data(
        &mut self,
        f: &Fact,
        protocol: &'static str,
        (producer, consumer, id): (IpAddr, IpAddr, u32),
        fx: &mut Fire<'_>,
    ) {
        match self.io.touch(&(consumer, id), f.ts.as_nanos()).copied() {
            Some(opened_by) if opened_by == producer => self.io_pairing.paired += 1,
            Some(opened_by) => {
                self.io_pairing.mismatched += 1;
                let dst = if f.server_ip() == consumer {
                    &f.server
                } else {
                    &f.client
                };
                fx.fire(
                    &rules::IO_PRODUCER_MISMATCH,
                    &format!("{producer}>{consumer}/{protocol}#{id:#010x}"),
                    f,
                    Some(dst),
                    Some(protocol),
                    || {
                        (
                            format!(
                                "{producer} sends cyclic I/O to {consumer} on connection {id:#010x}, which {consumer} opened with {opened_by}"
                            ),
                            json!({ "producer": producer, "connection_id": id }),
                            json!({ "producer": opened_by }),
                        )
                    },
                );
            }
            // Opened before the capture began, or multicast (its consumers are a group).
            None => self.io_pairing.unpaired += 1,
        }
    }

    /// A TCP connection attempt to server port `port`: SYN floods (attempts from any sources)
    /// and distributed connection floods (distinct sources), per server port.
    fn floods(&mut self, f: &Fact, port: u16, fx: &mut Fire<'_>) {
        let (c, s) = (f.client_ip(), f.server_ip());
        let (w, cfg) = (self.window_ns, self.cfg);
        let inb = self.ports_in.entry_counting(
            (s, port),
            f.ts.as_nanos(),
            Inbound::new,
            &mut self.evicted,
        );
        let attempts = inb.attempts.add(f.ts, w);
        let sources = inb.sources.add(c, f.ts, w, cfg.connection_flood);
        if attempts < cfg.syn_flood && sources < cfg.connection_flood {
            return;
        }
        // The alert key of this server port, made once while a flood hits it.
        let key = match std::mem::take(&mut self.flood_key) {
            (Some(k), text) if k == (s, port) => text,
            _ => format!("{s}:{port}"),
        };
        if attempts >= cfg.syn_flood {
            fx.fire(&rules::SYN_FLOOD, &key, f, Some(&f.server), None, || {
                (
                    format!(
                        "{attempts} TCP connection attempts to {s} port {port} within {} s",
                        cfg.window_secs
                    ),
                    json!({ "attempts": attempts, "port": port, "window_secs": cfg.window_secs }),
                    json!({ "below": cfg.syn_flood }),
                )
            });
        }
        if sources >= cfg.connection_flood {
            let d = &inb.sources;
            fx.fire(&rules::CONNECTION_FLOOD,
                &key,
                f,
                Some(&f.server),
                None,
                || {
                    (
                        format!(
                    "{sources} distinct sources opened connections to {s} port {port} within {} s",
                    cfg.window_secs
                ),
                        json!({ "sources": sources, "port": port, "window_secs": cfg.window_secs, "sample": d.sample().iter().map(|ip| ip.to_string()).collect::<Vec<_>>() }),
                        json!({ "below": cfg.connection_flood }),
                    )
                },
            );
        }
        self.flood_key = (Some((s, port)), key);
    }

    /// A distributed sweep of an industrial service: connections on its port from many
    /// sources to many hosts (each source may touch only one, below `host_scan`).
    fn sweep(&mut self, f: &Fact, port: u16, fx: &mut Fire<'_>) {
        let Some(sw) = self.sweeps.get_mut(&port) else {
            return;
        };
        let (w, cfg) = (self.window_ns, self.cfg);
        let t = cfg.distributed_scan;
        let hosts = sw.hosts.add(f.server_ip(), f.ts, w, t);
        let sources = sw.sources.add(f.client_ip(), f.ts, w, t);
        if hosts < t || sources < t {
            return;
        }
        let sw = &*sw;
        fx.fire(&rules::DISTRIBUTED_SCAN,
            &sw.key,
            f,
            None,
            None,
            || {
                (
                    format!(
                        "{sources} distinct sources opened connections to {hosts} hosts on TCP port {port} within {} s",
                        cfg.window_secs
                    ),
                    json!({ "sources": sources, "hosts": hosts, "port": port, "window_secs": cfg.window_secs,
                        "sample_hosts": sw.hosts.sample().iter().map(|ip| ip.to_string()).collect::<Vec<_>>(),
                        "sample_sources": sw.sources.sample().iter().map(|ip| ip.to_string()).collect::<Vec<_>>() }),
                    json!({ "below": t }),
                )
            },
        );
    }
}

/// What the engine keeps per industrial protocol port.
#[derive(Debug)]
struct Sweep {
    /// Hosts connections were opened to.
    hosts: Distinct<IpAddr>,
    /// Clients that opened them.
    sources: Distinct<IpAddr>,
    /// The alert key.
    key: String,
}

impl Sweep {
    fn new(port: u16) -> Sweep {
        Sweep {
            hosts: Distinct::new(),
            sources: Distinct::new(),
            key: format!("tcp/{port}"),
        }
    }
}

/// What the engine keeps per server port.
#[derive(Debug)]
struct Inbound {
    /// TCP connection attempts (SYNs).
    attempts: Counter,
    /// Their distinct sources.
    sources: Distinct<IpAddr>,
}

impl Inbound {
    fn new() -> Inbound {
        Inbound {
            attempts: Counter::default(),
            sources: Distinct::new(),
        }
    }
}

/// Events in a window that restarts when an event comes after it has passed.
#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    start: Timestamp,
    n: u64,
}

impl Counter {
    /// Counts one event at `ts`; returns the count in the current window.
    fn add(&mut self, ts: Timestamp, window: i64) -> u64 {
        if self.n == 0 || ts.nanos_since(self.start) >= window {
            *self = Counter { start: ts, n: 0 };
        }
        self.n += 1;
        self.n
    }
}

fn secs_ns(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX / 1_000_000_000)
        .saturating_mul(1_000_000_000)
}

/// Counts one event for `k`; returns the count in the current window.
fn count<K: Hash + Eq + Copy>(
    map: &mut Lru<K, Counter>,
    k: K,
    ts: Timestamp,
    window: i64,
    evicted: &mut u64,
) -> u64 {
    map.entry_counting(k, ts.as_nanos(), Counter::default, evicted)
        .add(ts, window)
}

/// The table entry for `k` (made if absent; a full table evicts its least recently touched
/// key for it).
fn slot<'m, K: Hash + Eq + Copy, T: Hash + Eq + Copy + Ord>(
    map: &'m mut Lru<K, Distinct<T>>,
    k: K,
    ts: Timestamp,
    evicted: &mut u64,
) -> &'m mut Distinct<T> {
    map.entry_counting(k, ts.as_nanos(), Distinct::new, evicted)
}

/// Where the engine's rules report: the worker signals, and whether an alert (by
/// [`alert_hash`]) was already raised.
struct Fire<'a> {
    out: &'a mut Vec<Signal>,
    known: &'a dyn Fn(u64) -> bool,
}

impl Fire<'_> {
    /// Reports `rule` under `key`: a full observation for an alert the output has not seen yet
    /// (`known` answers by alert hash), else a light [`Repeat`] — a flood fires a rule on every
    /// fact, and only the first observation's record is kept.
    fn fire(
        &mut self,
        rule: &'static Rule,
        key: &str,
        f: &Fact,
        dst: Option<&AlertEndpoint>,
        protocol: Option<&'static str>,
        full: impl FnOnce() -> (String, serde_json::Value, serde_json::Value),
    ) {
        let id = alert_hash(rule.id, &[key]);
        if (self.known)(id) {
            self.out.push(Signal::Repeat(Repeat { rule, id, ts: f.ts }));
            return;
        }
        let (details, observed, expected) = full();
        self.out.push(Signal::Obs(Box::new(Observation {
            rule,
            key: key.to_string(),
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
            comparison: Comparison { observed, expected },
            severity: None,
            community_id: None,
        })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_is_a_queue() {
        let t = |s| Timestamp::from_nanos(s);
        let (mut q, mut want) = (Times::default(), VecDeque::new());
        for (i, pop) in [
            false, false, true, false, true, true, true, false, false, true,
        ]
        .into_iter()
        .enumerate()
        {
            if pop {
                assert_eq!(q.pop_front(), want.pop_front());
            } else {
                q.push_back(t(i as i64));
                want.push_back(t(i as i64));
            }
            assert_eq!((q.len(), q.front()), (want.len(), want.front()));
        }
    }

    /// The full observations among signals.
    fn full(out: &[Signal]) -> Vec<&Observation> {
        out.iter()
            .filter_map(|s| match s {
                Signal::Obs(o) => Some(&**o),
                _ => None,
            })
            .collect()
    }

    fn ep(ip: [u8; 4], port: u16) -> AlertEndpoint {
        AlertEndpoint {
            ip: Some(IpAddr::from(ip)),
            port: Some(port),
            mac: None,
            zone: None,
            asset: None,
        }
    }

    fn start(secs: i64, dst: u8, port: u16) -> Fact {
        Fact {
            flow_id: 0,
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
            e.observe(&start(0, d, 502), &mut out, &|_| false);
        }
        assert!(out.is_empty());
        // The fourth host, but after the window: the first ones have expired.
        e.observe(&start(120, 4, 502), &mut out, &|_| false);
        assert!(out.is_empty(), "{out:?}");
        for d in 5..=7 {
            e.observe(&start(121, d, 502), &mut out, &|_| false);
        }
        assert_eq!(full(&out).len(), 1);
        assert_eq!(full(&out)[0].rule.id, "anomaly.host_scan");
        out.clear();
        for p in [21, 22, 23] {
            e.observe(&start(200, 9, p), &mut out, &|_| false);
        }
        assert_eq!(full(&out).len(), 1);
        assert_eq!(full(&out)[0].rule.id, "anomaly.port_scan");
        assert_eq!(
            full(&out)[0].comparison.observed["sample"],
            json!([21, 22, 23])
        );
        // Midstream pickups never count.
        out.clear();
        let mut f = start(300, 50, 502);
        f.kind = FactKind::FlowStart {
            transport: 6,
            opened: false,
        };
        for d in 50..60 {
            f.server = ep([10, 0, 2, d], 502);
            e.observe(&f, &mut out, &|_| false);
        }
        assert!(out.is_empty());
    }

    #[test]
    fn a_first_flow_waits_in_its_host_and_counts_when_a_second_comes() {
        let cfg = AnomalyConfig {
            port_scan: 2,
            sessions: 2,
            ..AnomalyConfig::default()
        };
        let mut e = AnomalyEngine::new(cfg);
        let mut out = Vec::new();
        e.observe(&start(0, 9, 21), &mut out, &|_| false);
        // One flow: no pair yet, and nothing fired.
        assert_eq!((e.hosts.len(), e.pairs.len()), (1, 0));
        assert!(out.is_empty());
        // The second flow counts the first in its pair: two ports, two connections.
        e.observe(&start(1, 9, 22), &mut out, &|_| false);
        assert_eq!(e.pairs.len(), 1);
        let ids: Vec<_> = full(&out).iter().map(|s| s.rule.id).collect();
        assert_eq!(ids, ["anomaly.port_scan", "anomaly.excessive_sessions"]);
        assert_eq!(full(&out)[0].comparison.observed["sample"], json!([21, 22]));
        // A second flow to another server makes both pairs.
        let mut e = AnomalyEngine::new(cfg);
        e.observe(&start(0, 9, 21), &mut out, &|_| false);
        e.observe(&start(1, 8, 21), &mut out, &|_| false);
        assert_eq!(e.pairs.len(), 2);
        // A first flow past the window counts no more.
        let mut e = AnomalyEngine::new(cfg);
        out.clear();
        e.observe(&start(0, 9, 21), &mut out, &|_| false);
        e.observe(&start(61, 9, 22), &mut out, &|_| false);
        assert!(out.is_empty(), "{out:?}");
        // With a threshold of one, a first flow fires at once.
        let mut e = AnomalyEngine::new(AnomalyConfig {
            port_scan: 1,
            ..AnomalyConfig::default()
        });
        e.observe(&start(0, 9, 21), &mut out, &|_| false);
        assert_eq!(full(&out)[0].rule.id, "anomaly.port_scan");
    }

    #[test]
    fn cyclic_io_pairs_with_its_opening_and_another_producer_is_raised() {
        let mut e = AnomalyEngine::new(AnomalyConfig::default());
        let mut out = Vec::new();
        let (scanner, adapter, rogue) = (
            IpAddr::from([10, 0, 0, 1]),
            IpAddr::from([10, 0, 1, 7]),
            IpAddr::from([10, 0, 0, 66]),
        );
        let mut f = start(0, 7, 44818);
        f.kind = FactKind::IoOpened {
            protocol: "enip",
            originator: scanner,
            target: adapter,
            o_t: 0x100,
            t_o: 0x200,
        };
        e.observe(&f, &mut out, &|_| false);
        let io = |producer, consumer, id| {
            let mut f = start(1, 7, 2222);
            f.kind = FactKind::IoData {
                protocol: "enip",
                producer,
                consumer,
                id,
            };
            f
        };
        // Both directions as opened; an id never opened (before the capture).
        for f in [
            io(scanner, adapter, 0x100),
            io(adapter, scanner, 0x200),
            io(adapter, scanner, 0x300),
        ] {
            e.observe(&f, &mut out, &|_| false);
        }
        assert!(out.is_empty(), "{out:?}");
        // The adapter's O→T id from another host; the scanner's T→O id from it too.
        e.observe(&io(rogue, adapter, 0x100), &mut out, &|_| false);
        e.observe(&io(rogue, scanner, 0x200), &mut out, &|_| false);
        let hits = full(&out);
        assert_eq!(hits.len(), 2);
        assert!(hits
            .iter()
            .all(|o| o.rule.id == "anomaly.io_producer_mismatch"));
        assert_eq!(hits[0].comparison.expected["producer"], json!(scanner));
        assert_eq!(hits[1].comparison.expected["producer"], json!(adapter));
        assert_eq!(
            e.io_pairing,
            IoPairing {
                paired: 2,
                unpaired: 1,
                mismatched: 2
            }
        );
    }

    #[test]
    fn second_clock_setter_is_a_new_time_master_apart_from_writers() {
        let mut e = AnomalyEngine::new(AnomalyConfig::default());
        let mut out = Vec::new();
        let mut f = start(0, 1, 2404);
        f.kind = FactKind::TimeSync { protocol: "iec104" };
        e.observe(&f, &mut out, &|_| false);
        // Another client writing is a matter for the writers' table, not the clock's.
        let mut w = f.clone();
        w.client = ep([10, 0, 0, 66], 40000);
        w.kind = FactKind::Write { protocol: "iec104" };
        e.observe(&w, &mut out, &|_| false);
        assert!(out.is_empty());
        let mut t = f.clone();
        t.client = ep([10, 0, 0, 77], 40000);
        e.observe(&t, &mut out, &|_| false);
        let got = full(&out);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].rule.id, "anomaly.new_time_master");
        assert_eq!(got[0].comparison.expected["time_master"], json!("10.0.0.1"));
    }

    #[test]
    fn second_writer_is_a_new_master_once_per_writer() {
        let mut e = AnomalyEngine::new(AnomalyConfig::default());
        let mut out = Vec::new();
        let mut f = start(0, 1, 502);
        f.kind = FactKind::Write { protocol: "modbus" };
        e.observe(&f, &mut out, &|_| false);
        e.observe(&f, &mut out, &|_| false);
        assert!(out.is_empty());
        f.client = ep([10, 0, 0, 66], 40000);
        e.observe(&f, &mut out, &|_| false);
        assert_eq!(full(&out).len(), 1);
        assert_eq!(
            full(&out)[0].comparison.expected["master"],
            json!("10.0.0.1")
        );
    }

    #[test]
    fn distinct_values_move_from_inline_to_a_list_to_a_map_and_expire_alike() {
        let w = 10_000_000_000;
        let at = |s: i64| Timestamp::from_nanos(s * 1_000_000_000);
        let mut d: Distinct<u16> = Distinct::new();
        for v in 0..FEW as u16 {
            assert_eq!(d.add(v, at(0), w, 100), usize::from(v) + 1);
        }
        assert!(d.many.is_none());
        assert_eq!(
            d.add(0, at(1), w, 100),
            FEW,
            "a value seen again is not new"
        );
        assert_eq!(d.add(99, at(2), w, 100), FEW + 1);
        assert!(matches!(d.many, Some(Spill::List(_))));
        assert_eq!(
            d.sample(),
            (0..FEW as u16).chain([99]).collect::<Vec<u16>>()
        );
        // Past the list's length, a map; the same values either way.
        let mut m: Distinct<u16> = Distinct::new();
        for v in 0..=LIST as u16 {
            assert_eq!(m.add(v, at(0), w, 100), usize::from(v) + 1);
            assert_eq!(m.add(v, at(0), w, 100), usize::from(v) + 1);
        }
        assert!(matches!(m.many, Some(Spill::Map(_))));
        assert_eq!(m.sample(), (0..10).collect::<Vec<u16>>());
        // At the threshold, values older than the window go (0 was seen again at 1 s).
        assert_eq!(d.add(7, at(10), w, 3), 3);
        assert_eq!(d.sample(), vec![0, 7, 99]);
        // Inline, the same: expired values go, the rest stay.
        let mut d: Distinct<u16> = Distinct::new();
        d.add(1, at(0), w, 3);
        d.add(2, at(5), w, 3);
        assert_eq!(d.add(3, at(12), w, 3), 2);
        assert_eq!(d.sample(), vec![2, 3]);
        // At most twice the threshold is kept.
        let mut d: Distinct<u16> = Distinct::new();
        for v in 0..100 {
            d.add(v, at(0), w, 5);
        }
        assert_eq!(d.len(), 10);
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
            e.observe(&f, &mut out, &|_| false);
        }
        assert!(e.hosts.len() <= 10 && e.pairs.len() <= 10);
        assert!(e.evicted > 0);
        // The newest sources are the ones tracked: the oldest were evicted.
        assert!(e.hosts.get(&IpAddr::from([10, 1, 0, 99])).is_some());
        assert!(e.hosts.get(&IpAddr::from([10, 1, 0, 0])).is_none());
        // A long port scan keeps its table at twice the threshold.
        let mut e = AnomalyEngine::new(AnomalyConfig::default());
        for p in 0..10_000u16 {
            e.observe(&start(0, 1, p), &mut out, &|_| false);
        }
        assert!(e
            .pairs
            .iter()
            .all(|(_, p)| p.ports.len() <= 32 && p.sessions.len() <= 200));
    }

    #[test]
    fn idle_keys_are_dropped_and_do_not_count() {
        let mut e = AnomalyEngine::new(AnomalyConfig::default());
        let mut out = Vec::new();
        for i in 0..50u32 {
            let mut f = start(0, 1, 502);
            f.client = ep([10, 1, 0, i as u8], 1);
            e.observe(&f, &mut out, &|_| false);
        }
        assert_eq!(e.hosts.len(), 50);
        // One more fact two windows later drops every idle key first.
        e.observe(&start(120, 1, 502), &mut out, &|_| false);
        assert_eq!(e.hosts.len(), 1);
        assert_eq!(e.evicted, 0, "expired keys are not evictions");
    }

    #[test]
    fn syn_and_distributed_connection_floods() {
        let cfg = AnomalyConfig {
            syn_flood: 100,
            connection_flood: 50,
            ..AnomalyConfig::default()
        };
        let mut e = AnomalyEngine::new(cfg);
        let mut out = Vec::new();
        // 60 SYNs from one source: neither rule (the session rule aside).
        for i in 0..60u16 {
            let mut f = start(0, 1, 502);
            f.client.port = Some(1000 + i);
            e.observe(&f, &mut out, &|_| false);
        }
        assert!(!full(&out).iter().any(|o| o.rule.id.ends_with("_flood")));
        // Distinct sources: the connection flood at 50, the SYN flood at 100 attempts.
        for i in 0..60u32 {
            let mut f = start(1, 1, 502);
            f.client = ep([100, 64, (i / 256) as u8, (i % 256) as u8], 1);
            e.observe(&f, &mut out, &|_| false);
        }
        let rules: Vec<&str> = full(&out).iter().map(|o| o.rule.id).collect();
        assert!(rules.contains(&"anomaly.connection_flood"), "{rules:?}");
        assert!(rules.contains(&"anomaly.syn_flood"), "{rules:?}");
        let syn = full(&out)
            .into_iter()
            .find(|o| o.rule.id == "anomaly.syn_flood")
            .unwrap();
        assert_eq!(syn.key, "10.0.1.1:502");
        assert_eq!(syn.comparison.observed["attempts"], json!(100));
    }

    #[test]
    fn distributed_scan_needs_many_sources_and_many_hosts_on_an_industrial_port() {
        let cfg = AnomalyConfig {
            distributed_scan: 20,
            host_scan: 1000,
            connection_flood: 1000,
            ..AnomalyConfig::default()
        };
        let sweep = |port: u16, sources: u32, hosts: u32| {
            let mut e = AnomalyEngine::new(cfg);
            let mut out = Vec::new();
            for i in 0..200u32 {
                let mut f = start(1, (i % hosts) as u8, port);
                let c = i % sources;
                f.client = ep([100, 64, (c / 256) as u8, (c % 256) as u8], 1);
                e.observe(&f, &mut out, &|_| false);
            }
            full(&out)
                .into_iter()
                .filter(|o| o.rule.id == "anomaly.distributed_scan")
                .map(|o| (o.key.clone(), o.comparison.observed.clone()))
                .collect::<Vec<_>>()
        };
        // 200 sources, one host each, over 50 hosts of port 502: fires at 20 and 20 (every
        // later connection is an occurrence: `known` is never true here).
        let hits = sweep(502, 200, 50);
        assert_eq!(hits.len(), 181);
        assert!(hits.iter().all(|(k, _)| k == "tcp/502"));
        assert_eq!(hits[0].1["hosts"], json!(20));
        assert_eq!(hits[0].1["sources"], json!(20));
        // Few sources (a plant's masters polling many devices), or one host: no sweep.
        assert!(sweep(502, 19, 50).is_empty());
        assert!(sweep(502, 200, 1).is_empty());
        // Not an industrial protocol port.
        assert!(sweep(443, 200, 50).is_empty());
    }
}
