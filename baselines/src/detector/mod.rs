//! The detector: policy (zones and conduits) and baseline rules over normalized messages.
//!
//! One [`Detector`] per worker holds flow-local state (poll timing and request rates per
//! connection and function); everything shared lives in [`Shared`] (zones, the learned or
//! loaded baseline, the asset inventory, last-poll times), updated commutatively so results do
//! not depend on how flows are spread over workers. Detection never mutates the baseline: it
//! reports an [`Observation`] for every message that deviates, and the sensor's single output
//! thread aggregates them into alerts in input order.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use serde_json::json;

use otsensor_protocols::{Direction, Operation};

use crate::alert::{
    alert_hash, AlertEndpoint, Evidence, Fact, FactKind, Observation, Repeat, Rule, Signal,
};
use crate::assets::{is_engineering, message_ends, AssetInventory};
use crate::baseline::{EdgeKey, Learner, Lesson, Seen, State};
use crate::message::{Message, Peer};
use crate::rules;
use crate::time::Timestamp;
use crate::zones::{Violation, ZoneId, ZoneMap};

mod operational;
mod protocol;

/// Learning or detecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Learn the baseline; policy alerts still fire, baseline alerts do not.
    Learn,
    /// Alert on deviations from the loaded baseline (which is not changed).
    Detect,
    /// No baseline: policy alerts only.
    PolicyOnly,
}

/// Detection settings (the config's `[baseline]` and `[rules]`).
#[derive(Debug, Clone)]
pub struct DetectorConfig {
    /// Mode.
    pub mode: Mode,
    /// A poll interval deviates when further from the learned period than this many jitters.
    pub timing_factor: f64,
    /// Intervals a function needs before its timing is trusted.
    pub min_timing_samples: u64,
    /// A connection's requests per minute spike when above this many times the learned peak.
    pub rate_factor: f64,
    /// ... and at least this many.
    pub min_rate_per_minute: u64,
    /// A periodic poll has stopped after this many periods without it.
    pub poll_stop_periods: f64,
    /// Rules switched off.
    pub disabled: Vec<String>,
    /// Severity overrides.
    pub severity: HashMap<String, u8>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            mode: Mode::PolicyOnly,
            timing_factor: 4.0,
            min_timing_samples: 10,
            rate_factor: 4.0,
            min_rate_per_minute: 60,
            poll_stop_periods: 10.0,
            disabled: Vec::new(),
            severity: HashMap::new(),
        }
    }
}

/// The flow a message belongs to.
#[derive(Debug, Clone, Copy)]
pub struct FlowView<'a> {
    /// Flow id.
    pub id: u64,
    /// The initiator.
    pub client: &'a Peer,
    /// The responder.
    pub server: &'a Peer,
    /// Zone of the client.
    pub client_zone: ZoneId,
    /// Zone of the server.
    pub server_zone: ZoneId,
    /// `tcp` or `udp`.
    pub transport: &'static str,
}

/// What a configuration reload can change: zones and conduits, rule switches, severities
/// and thresholds. Workers and the output thread each hold an `Arc` of the current one and
/// take the new one when [`Shared::generation`] moves.
#[derive(Debug, Default)]
pub struct Policy {
    /// Zones and conduits.
    pub zones: ZoneMap,
    /// Settings.
    pub cfg: DetectorConfig,
}

impl Policy {
    /// Whether a rule is switched on.
    pub fn enabled(&self, r: &Rule) -> bool {
        !self.cfg.disabled.iter().any(|d| d == r.id)
    }

    /// The configured severity of a rule, if overridden.
    pub fn severity_override(&self, r: &Rule) -> Option<u8> {
        self.cfg.severity.get(r.id).copied()
    }

    /// An alert endpoint. Its asset label is the vendor of the MAC address seen on this flow:
    /// what other flows taught the shared inventory depends on how workers interleave, and an
    /// alert must not.
    fn endpoint(&self, p: &Peer, zone: ZoneId) -> AlertEndpoint {
        AlertEndpoint {
            ip: p.ip,
            port: Some(p.port),
            mac: p.mac,
            zone: Some(self.zones.shared_name(zone)),
            asset: p
                .mac
                .and_then(crate::oui::vendor)
                .map(std::borrow::Cow::Borrowed),
        }
    }

    /// A fact about flow `f` for the anomaly engine.
    fn fact(&self, f: &FlowView<'_>, ts: Timestamp, kind: FactKind) -> Signal {
        Signal::Fact(Fact {
            ts,
            client: self.endpoint(f.client, f.client_zone),
            server: self.endpoint(f.server, f.server_zone),
            kind,
        })
    }
}

/// State shared by all workers.
#[derive(Debug)]
pub struct Shared {
    /// Zones, conduits and rule settings, replaced as a whole by [`Shared::reload`].
    policy: RwLock<Arc<Policy>>,
    /// Bumped by every reload.
    generation: AtomicU64,
    /// Learning, detecting or policy only (fixed for a run).
    pub mode: Mode,
    /// The baseline being learned, or the one loaded for detection.
    pub learner: Learner,
    /// The asset inventory.
    pub assets: std::sync::Arc<AssetInventory>,
    /// Latest request per (edge, function) in this run (detection: stopped polls).
    last_poll: DashMap<(EdgeKey, u16), Timestamp, crate::baseline::Keyed>,
}

impl Default for Shared {
    /// No zones, an empty baseline, policy-only mode.
    fn default() -> Self {
        Shared::new(
            ZoneMap::default(),
            Learner::default(),
            DetectorConfig::default(),
            std::sync::Arc::new(AssetInventory::default()),
        )
    }
}

impl Shared {
    /// Builds the shared state.
    pub fn new(
        zones: ZoneMap,
        learner: Learner,
        cfg: DetectorConfig,
        assets: std::sync::Arc<AssetInventory>,
    ) -> Shared {
        Shared {
            mode: cfg.mode,
            policy: RwLock::new(Arc::new(Policy { zones, cfg })),
            generation: AtomicU64::new(0),
            learner,
            assets,
            last_poll: DashMap::default(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        match self.policy.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Counts reloads: a holder of an older [`Policy`] should take the new one.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replaces zones, conduits and rule settings (a configuration reload). The mode stays
    /// what the run started with; flows, the baseline and pending alerts are kept.
    pub fn reload(&self, zones: ZoneMap, mut cfg: DetectorConfig) {
        cfg.mode = self.mode;
        let new = Arc::new(Policy { zones, cfg });
        match self.policy.write() {
            Ok(mut p) => *p = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether a rule is switched on (in the policy in force).
    pub fn enabled(&self, r: &Rule) -> bool {
        self.policy().enabled(r)
    }

    /// Periodic polls that stopped: for every (edge, function) polled in this run whose learned
    /// timing is trusted, if its last request is more than `poll_stop_periods` periods before
    /// `now`. Call once at the end of a run (or periodically when capturing).
    pub fn stopped_polls(&self, now: Timestamp) -> Vec<Observation> {
        let policy = self.policy();
        if self.mode != Mode::Detect || !policy.enabled(&rules::POLL_STOPPED) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut polls: Vec<((EdgeKey, u16), Timestamp)> = self
            .last_poll
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect();
        polls.sort_by(|a, b| a.0.cmp(&b.0));
        let learning_end = self.learner.last_seen();
        for ((edge, code), last) in polls {
            let Some((timing, name, zones, learned_last)) = self
                .learner
                .with_edge(&edge, |e| {
                    let f = e.functions.get(&code)?;
                    if f.state == State::Suppressed || e.state == State::Suppressed {
                        return None;
                    }
                    Some((
                        f.timing.clone()?,
                        f.name.clone(),
                        (e.src_zone.clone(), e.dst_zone.clone()),
                        f.seen.last_seen,
                    ))
                })
                .flatten()
            else {
                continue;
            };
            if timing.samples < policy.cfg.min_timing_samples {
                continue;
            }
            let silent_ms = now.nanos_since(last) / 1_000_000;
            let limit = (timing.period_ms as f64 * policy.cfg.poll_stop_periods).max(1000.0);
            // Only a poll still running when learning ended can stop now.
            let tail_ms = learning_end.map_or(0, |end| end.nanos_since(learned_last) / 1_000_000);
            if tail_ms as f64 > limit {
                continue;
            }
            if silent_ms as f64 > limit {
                let ep = |ip, zone: &str| AlertEndpoint {
                    ip,
                    port: None,
                    mac: None,
                    zone: Some(std::sync::Arc::from(zone)),
                    asset: self.assets.label(&ip).map(std::borrow::Cow::Owned),
                };
                out.push(Observation {
                    rule: &rules::POLL_STOPPED,
                    key: format!("{}#{code}", edge.label()),
                    ts: now,
                    src: Some(ep(edge.src, &zones.0)),
                    dst: Some(ep(edge.dst, &zones.1)),
                    protocol: proto_static(&edge.protocol),
                    transport: None,
                    operation: None,
                    function: Some(name.clone()),
                    details: format!(
                        "{name} on {} polled every {} ms while learning; none for {} ms",
                        edge.label(),
                        timing.period_ms,
                        silent_ms
                    ),
                    evidence: Evidence {
                        observed: json!({ "last_request": last, "silent_ms": silent_ms }),
                        expected: json!({ "period_ms": timing.period_ms, "jitter_ms": timing.jitter_ms }),
                    },
                    severity: policy.severity_override(&rules::POLL_STOPPED),
                });
            }
        }
        out
    }
}

fn proto_static(p: &str) -> Option<&'static str> {
    otsensor_protocols::descriptor(p).map(|d| d.name)
}

/// Timing and rate of one function's requests on one connection.
#[derive(Debug, Default, Clone, Copy)]
struct FlowFn {
    last: Option<Timestamp>,
    minute: i64,
    in_minute: u64,
    spiked: bool,
    /// Last request seen while detecting, and the last time published to
    /// [`Shared::last_poll`] (at most once a second of capture time, and at flow end).
    poll: Option<Timestamp>,
    published: Option<Timestamp>,
}

/// A worker's state for one flow.
#[derive(Debug, Default)]
struct FlowLocal {
    /// Per function code (a connection uses a handful).
    fns: Vec<(u16, FlowFn)>,
    /// The (client, protocol) whose roles the asset inventory has recorded.
    roles: Option<(IpAddr, &'static str)>,
    /// The flow's edge and its label, built once.
    edge: Option<EdgeKey>,
    label: String,
    /// While detecting: whether both ends are in the (read-only) baseline.
    known: Option<bool>,
    /// While learning: the flow's messages not yet added to its two assets, and the ends.
    asset_seen: Option<Seen>,
    ends: Option<(IpAddr, IpAddr, ZoneId, ZoneId)>,
    /// Unit ids and SZL ids already reported to the anomaly engine (bounded), and whether a
    /// write was.
    units: Vec<u32>,
    szls: Vec<u16>,
    wrote: bool,
    /// Alerts (by [`alert_hash`]) whose full observation this flow has sent: later ones
    /// go as light [`Repeat`]s (bounded).
    sent: Vec<u64>,
}

/// Most alerts a flow remembers having sent in full.
const MAX_SENT_PER_FLOW: usize = 16;

/// Sends a [`Repeat`] when this flow already sent the full observation of the alert
/// (rule, `key` parts) and says so; otherwise remembers that it is about to.
fn repeated(
    sent: &mut Vec<u64>,
    out: &mut Vec<Signal>,
    rule: &'static Rule,
    key: &[&str],
    ts: Timestamp,
) -> bool {
    let id = alert_hash(rule.id, key);
    if sent.contains(&id) {
        out.push(Signal::Repeat(Repeat { rule, id, ts }));
        return true;
    }
    if sent.len() < MAX_SENT_PER_FLOW {
        sent.push(id);
    }
    false
}

/// Most unit or SZL ids a flow reports to the anomaly engine.
const MAX_FACTS_PER_FLOW: usize = 64;

/// Adds a flow's batched sightings to both of its assets.
fn flush_assets(
    sh: &Shared,
    zones: &ZoneMap,
    pending: &mut Option<Seen>,
    client: IpAddr,
    server: IpAddr,
    client_zone: ZoneId,
    server_zone: ZoneId,
) {
    if let Some(s) = pending.take() {
        sh.learner
            .learn_asset_seen(client, zones.name(client_zone), &s);
        sh.learner
            .learn_asset_seen(server, zones.name(server_zone), &s);
    }
}

/// The state of function `code` among a flow's.
fn function(fns: &mut Vec<(u16, FlowFn)>, code: u16) -> &mut FlowFn {
    let i = match fns.iter().position(|(c, _)| *c == code) {
        Some(i) => i,
        None => {
            fns.push((code, FlowFn::default()));
            fns.len() - 1
        }
    };
    &mut fns[i].1
}

/// Publishes a request time to the shared last-poll table.
fn publish_poll(sh: &Shared, edge: &EdgeKey, code: u16, ts: Timestamp) {
    let key = (edge.clone(), code);
    if let Some(mut t) = sh.last_poll.get_mut(&key) {
        *t = (*t).max(ts);
        return;
    }
    sh.last_poll
        .entry(key)
        .and_modify(|t| *t = (*t).max(ts))
        .or_insert(ts);
}

/// One worker's detector.
#[derive(Debug)]
pub struct Detector {
    shared: std::sync::Arc<Shared>,
    policy: Arc<Policy>,
    generation: u64,
    flows: HashMap<u64, FlowLocal>,
}

impl Detector {
    /// A detector over the shared state.
    pub fn new(shared: std::sync::Arc<Shared>) -> Detector {
        Detector {
            policy: shared.policy(),
            generation: shared.generation(),
            shared,
            flows: HashMap::new(),
        }
    }

    /// The shared state.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The policy this detector applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Takes the policy in force if a reload replaced it; true when it did (the caller then
    /// looks up its flows' zones again, since zone ids refer to the policy's zone list).
    /// Call between batches.
    pub fn refresh(&mut self) -> bool {
        let g = self.shared.generation();
        if g == self.generation {
            return false;
        }
        self.generation = g;
        self.policy = self.shared.policy();
        true
    }

    /// Forgets a flow's state (call when the flow ends), publishing its last polls.
    pub fn end_flow(&mut self, flow_id: u64) {
        let Some(mut fl) = self.flows.remove(&flow_id) else {
            return;
        };
        if let Some((c, s, cz, sz)) = fl.ends {
            flush_assets(
                &self.shared,
                &self.policy.zones,
                &mut fl.asset_seen,
                c,
                s,
                cz,
                sz,
            );
        }
        let Some(edge) = &fl.edge else {
            return;
        };
        for (code, st) in &fl.fns {
            if let Some(ts) = st.poll.filter(|ts| Some(*ts) != st.published) {
                publish_poll(&self.shared, edge, *code, ts);
            }
        }
    }

    /// A flow began: a fact for the anomaly engine (scans, sessions).
    pub fn flow_started(
        &mut self,
        f: &FlowView<'_>,
        ts: Timestamp,
        transport: u8,
        opened: bool,
        out: &mut Vec<Signal>,
    ) {
        out.push(
            self.policy
                .fact(f, ts, FactKind::FlowStart { transport, opened }),
        );
    }

    /// The flow was identified as `protocol`; `on_its_port` is false when it runs on a port
    /// that is not the protocol's own.
    pub fn identified(
        &mut self,
        f: &FlowView<'_>,
        ts: Timestamp,
        protocol: &'static str,
        on_its_port: bool,
        out: &mut Vec<Signal>,
    ) {
        if on_its_port {
            return;
        }
        let port = f.server.port;
        self.flow_obs(
            f,
            ts,
            &rules::NONSTANDARD_PORT,
            Some(protocol),
            format!("{protocol} on port {port}"),
            Evidence {
                observed: json!({ "protocol": protocol, "port": port }),
                expected: json!({ "port": "the protocol's registered port" }),
            },
            out,
        );
    }

    /// The flow is on `owner`'s port but its first payload is not `owner`.
    pub fn not_this_protocol(
        &mut self,
        f: &FlowView<'_>,
        ts: Timestamp,
        owner: &'static str,
        out: &mut Vec<Signal>,
    ) {
        let port = f.server.port;
        self.flow_obs(
            f,
            ts,
            &rules::NON_OT_ON_OT_PORT,
            None,
            format!("traffic on {owner}'s port {port} is not {owner}"),
            Evidence {
                observed: json!({ "port": port, "protocol": "unidentified" }),
                expected: json!({ "protocol": owner }),
            },
            out,
        );
    }

    /// A protocol parser could not parse data on the flow (counted with malformed PDUs).
    pub fn parse_error(
        &mut self,
        f: &FlowView<'_>,
        ts: Timestamp,
        protocol: &'static str,
        what: &'static str,
        out: &mut Vec<Signal>,
    ) {
        out.push(
            self.policy
                .fact(f, ts, FactKind::Malformed { protocol, what }),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn flow_obs(
        &self,
        f: &FlowView<'_>,
        ts: Timestamp,
        rule: &'static Rule,
        protocol: Option<&'static str>,
        details: String,
        evidence: Evidence,
        out: &mut Vec<Signal>,
    ) {
        let sh = &*self.policy;
        if !sh.enabled(rule) {
            return;
        }
        let label = match protocol {
            Some(p) => format!("{}>{}/{p}", f.client.ip, f.server.ip),
            None => format!("{}>{}:{}", f.client.ip, f.server.ip, f.server.port),
        };
        out.push(Signal::Obs(Observation {
            rule,
            key: label,
            ts,
            src: Some(sh.endpoint(f.client, f.client_zone)),
            dst: Some(sh.endpoint(f.server, f.server_zone)),
            protocol,
            transport: Some(f.transport),
            operation: None,
            function: None,
            details,
            evidence,
            severity: sh.severity_override(rule),
        }));
    }

    /// Checks and learns one message; deviations go to `out`.
    pub fn observe(&mut self, m: &Message, f: &FlowView<'_>, out: &mut Vec<Signal>) {
        let sh: &Shared = &self.shared;
        let pol: &Policy = &self.policy;
        let FlowLocal {
            fns,
            roles,
            edge,
            label,
            known,
            asset_seen,
            ends,
            units,
            szls,
            wrote,
            sent,
        } = self.flows.entry(f.id).or_default();
        *ends = Some((f.client.ip, f.server.ip, f.client_zone, f.server_zone));
        // Roles once per flow; engineering and identity when a message shows them.
        let (client, server) = message_ends(m);
        if *roles != Some((client, m.protocol)) {
            sh.assets.record_roles(client, server, m.protocol);
            *roles = Some((client, m.protocol));
        }
        if is_engineering(m.operation) {
            sh.assets.record_engineering(client);
        }
        if let Some(id) = &m.identity {
            sh.assets.record_identity(m.src.ip, id);
        }
        if edge.as_ref().is_none_or(|e| e.protocol != m.protocol) {
            let e = EdgeKey {
                src: f.client.ip,
                dst: f.server.ip,
                protocol: m.protocol.to_string(),
            };
            *label = e.label();
            *edge = Some(e);
            *known = None;
        }
        let label: &str = label;
        let Some(edge) = edge.as_ref() else {
            return;
        };
        let request = m.direction == Direction::Request;
        // Facts for the anomaly engine: new unit ids, SZL reads and writes on this flow.
        if request {
            let mut fact = |kind| out.push(pol.fact(f, m.ts, kind));
            if let Some(u) = m.unit {
                if !units.contains(&u) && units.len() < MAX_FACTS_PER_FLOW {
                    units.push(u);
                    fact(FactKind::Unit {
                        protocol: m.protocol,
                        unit: u,
                    });
                }
            }
            if let (Some(id), Some("read_szl")) = (m.sub_function, m.function.as_deref()) {
                if !szls.contains(&id) && szls.len() < MAX_FACTS_PER_FLOW {
                    szls.push(id);
                    fact(FactKind::Szl { id });
                }
            }
            let writes = matches!(
                m.operation,
                Operation::Write | Operation::Control | Operation::ProgramDownload
            );
            if writes && !*wrote {
                *wrote = true;
                fact(FactKind::Write {
                    protocol: m.protocol,
                });
            }
        }
        // Protocol rules; malformed PDUs and exceptions are counted across flows by the
        // anomaly engine.
        let mut found = Vec::new();
        let counted = protocol::check(m, &mut found);
        let facts = [
            counted.malformed.map(|what| FactKind::Malformed {
                protocol: m.protocol,
                what,
            }),
            counted.exception.then_some(FactKind::Exception {
                protocol: m.protocol,
            }),
        ];
        for kind in facts.into_iter().flatten() {
            out.push(pol.fact(f, m.ts, kind));
        }
        // An observation of `rule` under the key made of `key`'s parts; `full` gives its
        // details and evidence, built only when the record is sent (not for a repeat).
        let mut obs = |rule: &'static Rule,
                       key: &[&str],
                       out: &mut Vec<Signal>,
                       full: &dyn Fn() -> (String, Evidence)| {
            if !pol.enabled(rule) || repeated(sent, out, rule, key, m.ts) {
                return;
            }
            let (details, evidence) = full();
            out.push(Signal::Obs(Observation {
                rule,
                key: key.concat(),
                ts: m.ts,
                src: Some(pol.endpoint(f.client, f.client_zone)),
                dst: Some(pol.endpoint(f.server, f.server_zone)),
                protocol: Some(m.protocol),
                transport: Some(f.transport),
                operation: Some(m.operation),
                function: m.function.as_ref().map(|s| s.to_string()),
                details,
                evidence,
                severity: pol.severity_override(rule),
            }));
        };
        // Operational and protocol rules, in every mode.
        for o in operational::check(m).into_iter().chain(found) {
            obs(o.rule, &[label, &o.key], out, &|| {
                (o.details.clone(), o.evidence.clone())
            });
        }
        // Policy: zones and conduits, learning or not.
        if let Some(v) = pol
            .zones
            .check(f.client_zone, f.server_zone, m.protocol, m.operation)
        {
            let (cz, sz) = (pol.zones.name(f.client_zone), pol.zones.name(f.server_zone));
            let rule = match v {
                Violation::NoConduit => &rules::NO_CONDUIT,
                Violation::ProtocolNotAllowed => &rules::PROTOCOL_NOT_ALLOWED,
                Violation::OperationNotAllowed => &rules::OPERATION_NOT_ALLOWED,
            };
            obs(rule, &[label], out, &|| {
                (
                    format!("{} {} from zone {cz} to zone {sz}", m.protocol, m.operation),
                    Evidence {
                        observed: json!({ "from": cz, "to": sz, "protocol": m.protocol, "operation": m.operation }),
                        expected: json!({ "conduit": v_text(v) }),
                    },
                )
            });
        }
        let code = m.function_code;
        // Flow-local timing and rate of requests per function.
        let (mut interval_ms, mut minute_done, mut in_minute) = (None, None, 0);
        let mut fn_state = None;
        if let (true, Some(c)) = (request, code) {
            let st = function(fns, c);
            if let Some(last) = st.last {
                let d = m.ts.nanos_since(last);
                if d > 0 {
                    interval_ms = Some((d / 1_000_000) as u64);
                }
            }
            st.last = Some(m.ts);
            let minute = m.ts.as_nanos().div_euclid(60_000_000_000);
            if minute != st.minute {
                if st.in_minute > 0 {
                    minute_done = Some(st.in_minute);
                }
                st.minute = minute;
                st.in_minute = 0;
                st.spiked = false;
            }
            st.in_minute += 1;
            in_minute = st.in_minute;
            fn_state = Some(st);
        }
        let zone_names = (pol.zones.name(f.client_zone), pol.zones.name(f.server_zone));
        match pol.cfg.mode {
            Mode::PolicyOnly => {}
            Mode::Learn => {
                // Both ends' sightings are batched per flow (see `flush_assets`).
                match asset_seen {
                    Some(s) => s.add(m.ts),
                    None => *asset_seen = Some(Seen::at(m.ts)),
                }
                if asset_seen.is_some_and(|s| m.ts.nanos_since(s.first_seen) >= 1_000_000_000) {
                    flush_assets(
                        sh,
                        &pol.zones,
                        asset_seen,
                        f.client.ip,
                        f.server.ip,
                        f.client_zone,
                        f.server_zone,
                    );
                }
                sh.learner.learn(&Lesson {
                    packet: m.packet,
                    key: Cow::Borrowed(edge),
                    src_zone: zone_names.0,
                    dst_zone: zone_names.1,
                    ts: m.ts,
                    operation: m.operation,
                    function: code.map(|c| (c, m.function.as_deref().unwrap_or(""))),
                    unit: m.unit,
                    ranges: Cow::Borrowed(&m.addresses),
                    timing: (request && code.is_some()).then(|| {
                        let peak = minute_done.map(|n| n.max(in_minute));
                        (interval_ms, peak.or(Some(in_minute)))
                    }),
                });
            }
            Mode::Detect => {
                let mut new_asset = false;
                let ends = [(f.client, f.client_zone), (f.server, f.server_zone)];
                let check = if *known == Some(true) {
                    &[][..]
                } else {
                    &ends[..]
                };
                for &(p, z) in check {
                    if !sh.learner.has_asset(&p.ip) {
                        new_asset = true;
                        let zn = pol.zones.name(z);
                        obs(&rules::NEW_ASSET, &[&p.ip.to_string()], out, &|| {
                            (
                                format!("{} (zone {zn}) is not in the baseline", p.ip),
                                Evidence {
                                    observed: json!({ "ip": p.ip, "mac": p.mac, "protocol": m.protocol }),
                                    expected: json!({ "assets": "learned" }),
                                },
                            )
                        });
                    }
                }
                // A new asset is in its own learning window for the rest of the run: its
                // traffic raises no other baseline alert.
                if new_asset {
                    return;
                }
                *known = Some(true);
                if let (Some(c), Some(st)) = (code, fn_state.as_deref_mut()) {
                    st.poll = Some(m.ts);
                    // Published at most once a second of capture time (and at flow end).
                    let due = st
                        .published
                        .is_none_or(|p| m.ts.nanos_since(p) >= 1_000_000_000);
                    if due {
                        publish_poll(sh, edge, c, m.ts);
                        st.published = Some(m.ts);
                    }
                }
                let verdicts = sh.learner.with_edge(edge, |e| {
                    if e.state == State::Suppressed {
                        return Vec::new();
                    }
                    let mut v: Vec<(&'static Rule, String, String, Evidence)> = Vec::new();
                    if !e.operations.contains_key(&m.operation) {
                        v.push((
                            &rules::NEW_OPERATION,
                            format!("{label}#{}", m.operation),
                            format!("{} on {label}, which only saw {}", m.operation, join(e.operations.keys())),
                            Evidence {
                                observed: json!(m.operation),
                                expected: json!(e.operations.keys().collect::<Vec<_>>()),
                            },
                        ));
                    }
                    if let Some(c) = code {
                        match e.functions.get(&c) {
                            None => v.push((
                                &rules::NEW_FUNCTION,
                                format!("{label}#{c}"),
                                format!(
                                    "function {c} ({}) on {label}",
                                    m.function.as_deref().unwrap_or("?")
                                ),
                                Evidence {
                                    observed: json!(c),
                                    expected: json!(e.functions.keys().collect::<Vec<_>>()),
                                },
                            )),
                            Some(fe) if fe.state == State::Suppressed => return v,
                            Some(fe) => {
                                if let (Some(ms), Some(t)) = (interval_ms, fe.timing.as_ref()) {
                                    if t.samples >= pol.cfg.min_timing_samples && t.deviates(ms, pol.cfg.timing_factor) {
                                        v.push((
                                            &rules::TIMING_DEVIATION,
                                            format!("{label}#{c}"),
                                            format!(
                                                "{} after {ms} ms on {label}; learned intervals {}..={} ms (period {} ms), factor {}",
                                                fe.name, t.min_ms, t.max_ms, t.period_ms, pol.cfg.timing_factor
                                            ),
                                            Evidence {
                                                observed: json!({ "interval_ms": ms }),
                                                expected: json!({
                                                    "min_ms": t.min_ms,
                                                    "max_ms": t.max_ms,
                                                    "period_ms": t.period_ms,
                                                    "jitter_ms": t.jitter_ms,
                                                    "factor": pol.cfg.timing_factor,
                                                }),
                                            },
                                        ));
                                    }
                                }
                                let peak = fe.peak_per_minute;
                                if request
                                    && peak > 0
                                    && in_minute >= pol.cfg.min_rate_per_minute
                                    && in_minute as f64 > peak as f64 * pol.cfg.rate_factor
                                {
                                    v.push((
                                        &rules::RATE_SPIKE,
                                        format!("{label}#{c}"),
                                        format!("{in_minute} {} requests in a minute on one connection of {label}; learned peak {peak}", fe.name),
                                        Evidence {
                                            observed: json!({ "per_minute": in_minute }),
                                            expected: json!({ "peak_per_minute": peak }),
                                        },
                                    ));
                                }
                            }
                        }
                    }
                    if let Some(u) = m.unit {
                        if !e.units.is_empty() && !e.units.contains(&u) {
                            v.push((
                                &rules::NEW_UNIT,
                                format!("{label}#unit{u}"),
                                format!("unit {u} on {label}"),
                                Evidence {
                                    observed: json!(u),
                                    expected: json!(e.units),
                                },
                            ));
                        }
                    }
                    for a in &m.addresses {
                        if a.count == 0 {
                            continue;
                        }
                        let end = a.start.saturating_add(a.count - 1);
                        let known = e.ranges.get(a.area.as_ref());
                        if !known.is_some_and(|iv| iv.contains(a.start, end)) {
                            v.push((
                                &rules::ADDRESS_OUT_OF_RANGE,
                                format!("{label}#{}", a.area),
                                format!("{} {}..={end} on {label} is outside the learned ranges", a.area, a.start),
                                Evidence {
                                    observed: json!({ "area": a.area, "start": a.start, "end": end }),
                                    expected: json!({ "ranges": known }),
                                },
                            ));
                        }
                    }
                    v
                });
                match verdicts {
                    None => obs(&rules::NEW_EDGE, &[label], out, &|| {
                        (
                            format!(
                                "{} from {} to {} was never seen while learning",
                                m.protocol, f.client.ip, f.server.ip
                            ),
                            Evidence {
                                observed: json!({ "protocol": m.protocol, "operation": m.operation }),
                                expected: json!({ "edges": "learned" }),
                            },
                        )
                    }),
                    Some(v) => {
                        for (rule, key, details, ev) in v {
                            // Rate spikes: one observation per connection and minute.
                            if rule.id == rules::RATE_SPIKE.id {
                                if let Some(st) = fn_state.as_deref_mut() {
                                    if st.spiked {
                                        continue;
                                    }
                                    st.spiked = true;
                                }
                            }
                            obs(rule, &[&key], out, &|| (details.clone(), ev.clone()));
                        }
                    }
                }
            }
        }
    }
}

fn v_text(v: Violation) -> &'static str {
    match v {
        Violation::NoConduit => "none between these zones",
        Violation::ProtocolNotAllowed => "does not list this protocol",
        Violation::OperationNotAllowed => "does not list this operation",
    }
}

fn join<'a>(ops: impl Iterator<Item = &'a Operation>) -> String {
    ops.map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zones::{ConduitConfig, ZoneConfig};

    #[test]
    fn a_reload_replaces_the_policy_keeps_the_mode_and_is_taken_once() {
        let shared = Arc::new(Shared::new(
            ZoneMap::default(),
            Learner::default(),
            DetectorConfig {
                mode: Mode::Detect,
                ..DetectorConfig::default()
            },
            Arc::new(AssetInventory::default()),
        ));
        let mut d = Detector::new(shared.clone());
        assert!(!d.refresh());
        let zone = |name: &str, cidr: &str| ZoneConfig {
            name: name.into(),
            cidrs: vec![cidr.parse().unwrap()],
            vlans: vec![],
            interfaces: vec![],
            purdue: None,
        };
        shared.reload(
            ZoneMap::new(
                vec![zone("a", "10.0.0.0/24"), zone("b", "10.0.1.0/24")],
                vec![ConduitConfig {
                    from: "a".into(),
                    to: "b".into(),
                    protocols: vec!["modbus".into()],
                    operations: None,
                }],
                "unzoned",
            ),
            DetectorConfig {
                mode: Mode::Learn,
                disabled: vec!["policy.no_conduit".into()],
                ..DetectorConfig::default()
            },
        );
        assert!(d.refresh());
        assert!(!d.refresh());
        assert_eq!(d.policy().cfg.mode, Mode::Detect, "the mode is the run's");
        assert_eq!(shared.mode, Mode::Detect);
        assert!(!shared.enabled(&rules::NO_CONDUIT));
        let a = d
            .policy()
            .zones
            .lookup("10.0.0.5".parse().unwrap(), None, None);
        assert_eq!(d.policy().zones.name(a), "a");
    }
}
