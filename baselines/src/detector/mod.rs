//! The detector: policy (zones and conduits) and baseline rules over normalized messages.
//!
//! One [`Detector`] per worker holds flow-local state (poll timing and request rates per
//! connection and function); everything shared lives in [`Shared`] (zones, the learned or
//! loaded baseline, the asset inventory, last-poll times), updated commutatively so results do
//! not depend on how flows are spread over workers. Detection never mutates the baseline: it
//! reports an [`Observation`] for every message that deviates, and the sensor's single output
//! thread aggregates them into alerts in input order.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use serde_json::json;

use otsensor_protocols::Direction;

use crate::alert::{AlertEndpoint, Comparison, Fact, FactKind, Observation, Rule, Signal};
use crate::assets::{is_engineering, message_ends, AssetInventory};
use crate::baseline::{EdgeKey, Learner};
use crate::message::{Message, Peer};
use crate::rules;
use crate::time::Timestamp;
use crate::zones::{ZoneId, ZoneMap};

pub use flows::{conversation_severity, is_public, Label};

mod deviation;
mod edge_cache;
mod facts;
mod findings;
mod flows;
mod learn;
mod names;
mod operational;
mod policy;
mod protocol;
mod sigma;
pub mod substation;
#[cfg(test)]
mod testing;
mod timing;

/// Learning or detecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Learn the baseline; policy alerts still fire, baseline alerts do not.
    Learn,
    /// Alert on deviations from the loaded baseline (changed only by the SOC's decisions on alerts).
    Detect,
    /// No baseline: policy alerts only.
    #[default]
    PolicyOnly,
}

/// How far a message may stray from the learned baseline: the config's `[baseline]` keys of
/// the same names.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// A poll interval deviates when further from the learned period than this many jitters
    /// (at least 5 % of the period).
    pub timing_factor: f64,
    /// Intervals a function needs before its timing is trusted.
    pub min_timing_samples: u64,
    /// A connection's requests per minute spike when above this many times the learned peak...
    pub rate_factor: f64,
    /// ... and at least this many.
    pub min_rate_per_minute: u64,
    /// A periodic poll has stopped after this many periods without it.
    pub poll_stop_periods: f64,
}

impl Thresholds {
    /// The field names (the config keys), for a section that holds these and more.
    pub const KEYS: &'static [&'static str] = &[
        "timing_factor",
        "min_timing_samples",
        "rate_factor",
        "min_rate_per_minute",
        "poll_stop_periods",
    ];
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            timing_factor: 4.0,
            min_timing_samples: 10,
            rate_factor: 4.0,
            min_rate_per_minute: 60,
            poll_stop_periods: 10.0,
        }
    }
}

/// Detection settings (the config's `[baseline]` thresholds and `[rules]`).
#[derive(Debug, Clone, Default)]
pub struct DetectorConfig {
    /// Mode.
    pub mode: Mode,
    /// Deviation thresholds.
    pub thresholds: Thresholds,
    /// Rules switched off.
    pub disabled: Vec<String>,
    /// Severity overrides.
    pub severity: HashMap<String, u8>,
    /// The plant's Sigma rules.
    pub sigma: crate::sigma::Shared,
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
    /// The flow's Community ID (computed when an alert first needs it).
    pub cid: Option<&'a crate::community_id::LazyCommunityId>,
}

impl FlowView<'_> {
    /// The flow's Community ID, for an alert raised on it.
    pub fn community_id(&self) -> Option<Box<str>> {
        self.cid
            .map(|c| c.get(self.client.ip, self.server.ip).into())
    }
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
            ip: Some(p.ip),
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
            flow_id: f.id,
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
    /// Latest request per (edge, function) in this run, in nanoseconds (detection: stopped
    /// polls). Each connection keeps its entries and moves them forward itself (at most once
    /// a second of capture time, and at its end).
    last_poll: DashMap<(EdgeKey, u16), Arc<std::sync::atomic::AtomicI64>, crate::baseline::Keyed>,
    /// The silences reported as stopped polls: the (edge, function)'s last request then.
    stops_reported: std::sync::Mutex<HashMap<(EdgeKey, u16), Timestamp>>,
    /// Message shapes the detecting flows remember as clean, all together (bounded).
    clean_shapes: Arc<std::sync::atomic::AtomicUsize>,
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
            stops_reported: std::sync::Mutex::default(),
            clean_shapes: Arc::default(),
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
}

/// The detector's state for one flow, kept with the flow by its owner (the worker's flow
/// table: no second table of flows) and handed to [`Detector::observe`] with each message and
/// to [`Detector::end_flow`] at its end.
#[derive(Debug, Default)]
pub struct FlowLocal {
    /// The state of the flow's edge (its first protocol's), and of its edges in other
    /// protocols: an ENIP connection also carries CIP.
    edge: Option<EdgeLocal>,
    /// Boxed: a thin field, since a flow table holds a million flows and most have one
    /// protocol.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<EdgeLocal>>>,
    /// While learning: the flow's sightings not yet added to its two assets.
    pending: learn::PendingAssets,
    /// What the flow reported to the anomaly engine.
    reported: facts::Reported,
    /// Alerts this flow sent in full (see [`findings::Findings`]).
    sent: Vec<u64>,
}

/// The detector's state of one of a flow's edges (its ends are the flow's).
#[derive(Debug)]
struct EdgeLocal {
    protocol: &'static str,
    /// The edge's label, built once.
    label: Box<str>,
    /// The client whose role in the protocol the asset inventory has recorded.
    roles: Option<IpAddr>,
    /// Timing and rate per function code.
    fns: timing::Functions,
    /// While detecting, once both ends are known to be in the (read-only) baseline: what the
    /// flow keeps of the edge's entry in it.
    cache: Option<Box<edge_cache::EdgeCache>>,
}

impl EdgeLocal {
    fn new(edge: &EdgeKey, protocol: &'static str) -> EdgeLocal {
        EdgeLocal {
            protocol,
            label: edge.label().into_boxed_str(),
            roles: None,
            fns: timing::Functions::default(),
            cache: None,
        }
    }
}

/// The state of `edge`, made on its first message.
#[allow(clippy::box_collection)]
fn edge_local<'a>(
    first: &'a mut Option<EdgeLocal>,
    more: &'a mut Option<Box<Vec<EdgeLocal>>>,
    edge: &EdgeKey,
    protocol: &'static str,
) -> &'a mut EdgeLocal {
    if first.is_none() {
        return first.insert(EdgeLocal::new(edge, protocol));
    }
    if let Some(e) = first.as_mut().filter(|e| e.protocol == protocol) {
        return e;
    }
    let more = more.get_or_insert_with(Box::default);
    let i = match more.iter().position(|e| e.protocol == protocol) {
        Some(i) => i,
        None => {
            more.push(EdgeLocal::new(edge, protocol));
            more.len() - 1
        }
    };
    &mut more[i]
}

/// One worker's detector.
#[derive(Debug)]
pub struct Detector {
    shared: std::sync::Arc<Shared>,
    policy: Arc<Policy>,
    generation: u64,
    /// The Sigma rules each record shape matched.
    sigma_cache: sigma::SigmaCache,
}

impl Detector {
    /// A detector over the shared state.
    pub fn new(shared: std::sync::Arc<Shared>) -> Detector {
        Detector {
            policy: shared.policy(),
            generation: shared.generation(),
            sigma_cache: sigma::SigmaCache::default(),
            shared,
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

    /// The policy this detector applies, held apart from the detector (to keep its zone
    /// names while the detector is used).
    pub fn policy_arc(&self) -> Arc<Policy> {
        Arc::clone(&self.policy)
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
        self.sigma_cache.clear();
        true
    }

    /// A flow's state at its end (or when its parser gave up): its pending asset sightings
    /// and its last polls are published; while learning or detecting, each function it
    /// requested exactly once goes to `out` as a fact (timing across connections, judged in
    /// input order by the output thread).
    pub fn end_flow(&mut self, f: &FlowView<'_>, mut fl: FlowLocal, out: &mut Vec<Signal>) {
        fl.pending.flush(&self.shared, &self.policy.zones, f);
        let more = fl.more.iter().flat_map(|m| m.iter());
        let timed = self.policy.cfg.mode != Mode::PolicyOnly;
        for e in fl.edge.iter().chain(more) {
            e.fns.publish_last();
            if timed {
                for (code, ts) in e.fns.single_requests() {
                    out.push(self.policy.fact(
                        f,
                        ts,
                        FactKind::SingleRequest {
                            protocol: e.protocol,
                            code,
                        },
                    ));
                }
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
            Comparison {
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
            Comparison {
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
        comparison: Comparison,
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
        out.push(Signal::Obs(Box::new(Observation {
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
            comparison,
            severity: sh.severity_override(rule),
            community_id: f.community_id(),
        })));
    }

    /// Checks and learns one message; what it raises goes to `out`, in this order: asset
    /// roles, facts for the anomaly engine, operational, protocol and policy rules, then
    /// (learning) the baseline lesson or (detecting) the baseline rules.
    pub fn observe(
        &mut self,
        m: &Message,
        f: &FlowView<'_>,
        fl: &mut FlowLocal,
        out: &mut Vec<Signal>,
    ) {
        let (sh, pol): (&Shared, &Policy) = (&self.shared, &self.policy);
        let edge = &edge_of(f, m.protocol);
        let FlowLocal {
            edge: first,
            more,
            pending,
            reported,
            sent,
            ..
        } = fl;
        let EdgeLocal {
            label,
            roles,
            fns,
            cache,
            ..
        } = edge_local(first, more, edge, m.protocol);
        record_roles(sh, m, roles);
        let cx = findings::Ctx { m, f, pol, label };
        let fx = &mut findings::Findings { out, sent };
        if let Some(fw) = m.identity.as_ref().and_then(|i| i.firmware.as_deref()) {
            firmware(&cx, sh, fw, fx);
        }
        facts::check(&cx, reported, fx);
        protocol::count(&cx, fx);
        operational::check(&cx, fx);
        protocol::check(&cx, fx);
        policy::check(&cx, fx);
        let request = match (m.direction, m.function_code) {
            (Direction::Request, Some(c)) => Some(fns.request(m, c)),
            _ => None,
        };
        match pol.cfg.mode {
            Mode::PolicyOnly => {}
            Mode::Learn => learn::learn(&cx, sh, edge, pending, request.map(|(t, _)| t)),
            Mode::Detect => deviation::check(&cx, sh, edge, cache, request, fx),
        }
    }
}

/// A device reported its firmware: learned, or judged against what it reported while
/// learning (`anomaly.identity_changed`).
fn firmware(cx: &findings::Ctx<'_>, sh: &Shared, fw: &str, fx: &mut findings::Findings<'_>) {
    let ip = cx.m.src.ip;
    match cx.pol.cfg.mode {
        Mode::PolicyOnly => {}
        Mode::Learn => sh.learner.learn_asset_firmware(&ip, fw),
        Mode::Detect => {
            let Some(Some(learned)) = sh.learner.with_asset(&ip, |a| a.firmware.clone()) else {
                return;
            };
            if learned == fw {
                return;
            }
            fx.raise(
                cx,
                &rules::IDENTITY_CHANGED,
                &[&ip.to_string(), "#", fw],
                || {
                    (
                        format!("{ip} reports firmware {fw}; while learning it reported {learned}"),
                        Comparison {
                            observed: json!({ "ip": ip, "firmware": fw }),
                            expected: json!({ "firmware": learned }),
                        },
                    )
                },
            );
        }
    }
}

/// The edge of flow `f` in `protocol` (no allocation: the name is borrowed).
fn edge_of(f: &FlowView<'_>, protocol: &'static str) -> EdgeKey {
    EdgeKey {
        src: f.client.ip,
        dst: f.server.ip,
        protocol: protocol.into(),
    }
}

/// Roles once per flow and protocol (`roles`: the client recorded in the message's
/// protocol); engineering and identity when a message shows them.
fn record_roles(sh: &Shared, m: &Message, roles: &mut Option<IpAddr>) {
    let (client, server) = message_ends(m);
    if *roles != Some(client) {
        sh.assets.record_roles(client, server, m.protocol);
        *roles = Some(client);
    }
    if is_engineering(m.operation) {
        sh.assets.record_engineering(client);
    }
    if let Some(id) = &m.identity {
        sh.assets.record_identity(m.src.ip, id, m.packet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zones::{ConduitConfig, ZoneConfig};

    #[test]
    fn each_protocol_of_a_flow_keeps_its_own_edge_state() {
        // An ENIP connection carries CIP too, and both have a function 1: each edge learns
        // the intervals of its own requests (every 10 s), not those of the two interleaved.
        let shared = testing::shared(Mode::Learn, Learner::default());
        let mut d = Detector::new(shared.clone());
        let (c, s) = (testing::client(), testing::server(44818));
        let f = testing::view(&c, &s);
        let mut fl = FlowLocal::default();
        let mut out = Vec::new();
        for i in 0..30 {
            let at = f64::from(i) * 10.0;
            for (protocol, t) in [("enip", at), ("cip", at + 5.0)] {
                let m = testing::MessageBuilder::new(protocol, 44818)
                    .function(1, "f")
                    .at_secs(t)
                    .build();
                d.observe(&m, &f, &mut fl, &mut out);
            }
        }
        d.end_flow(&f, fl, &mut out);
        let b = shared.learner.to_baseline();
        for protocol in ["enip", "cip"] {
            let key = EdgeKey {
                src: c.ip,
                dst: s.ip,
                protocol: protocol.into(),
            };
            let e = b.edge(&key).expect("edge learned");
            let t = e.functions[&1].timing.as_ref().expect("timing learned");
            // (The histogram keeps two significant digits; interleaved, they would be 5 s.)
            assert!(t.min_ms > 9_900 && t.max_ms < 10_100, "{protocol}: {t:?}");
        }
    }

    /// One connection per poll: each carries one request, so only the intervals between
    /// connections show the period. Learned across connections, then judged.
    #[test]
    fn one_connection_per_poll_has_a_period_learned_and_judged_across_connections() {
        let polls = |shared: &Arc<Shared>, times: &[f64]| {
            let mut d = Detector::new(shared.clone());
            let mut cp = crate::polls::ConnectionPolls::default();
            let (c, s) = (testing::client(), testing::server(502));
            let mut raised = Vec::new();
            for t in times {
                let f = testing::view(&c, &s);
                let mut fl = FlowLocal::default();
                let mut out = Vec::new();
                let m = testing::MessageBuilder::modbus(3).at_secs(*t).build();
                d.observe(&m, &f, &mut fl, &mut out);
                let mut ended = Vec::new();
                d.end_flow(&f, fl, &mut ended);
                for sig in ended {
                    if let Signal::Fact(fact) = sig {
                        raised.extend(cp.observe(shared, &fact).map(|o| o.rule.id));
                    }
                }
            }
            raised
        };
        let learn = testing::shared(Mode::Learn, Learner::default());
        let every5: Vec<f64> = (0..30).map(|i| f64::from(i) * 5.0).collect();
        assert!(polls(&learn, &every5).is_empty());
        let b = learn.learner.to_baseline();
        let e = &b.edges[0];
        let t = e.functions[&3]
            .timing
            .as_ref()
            .expect("timing across connections");
        assert_eq!(t.samples, 29);
        assert!((4_900..=5_100).contains(&t.period_ms), "{t:?}");
        let detect = testing::shared(Mode::Detect, Learner::from_baseline(b, Default::default()));
        let mut times: Vec<f64> = (0..10).map(|i| 1000.0 + f64::from(i) * 5.0).collect();
        times.push(1045.0 + 60.0);
        assert_eq!(polls(&detect, &times), vec!["baseline.timing_deviation"]);
    }

    #[test]
    fn a_reload_replaces_the_policy_keeps_the_mode_and_is_taken_once() {
        let shared = testing::shared(Mode::Detect, Learner::default());
        let mut d = Detector::new(shared.clone());
        assert!(!d.refresh());
        let zone = |name: &str, cidr: &str| ZoneConfig {
            name: name.into(),
            cidrs: vec![cidr.parse().unwrap()],
            macs: vec![],
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
                    ports: vec![],
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
