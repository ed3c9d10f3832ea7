//! Poll timing across connections: a master that opens one TCP connection per poll (many
//! HMIs and historians do) shows its period only between connections. Each connection that
//! requested a function exactly once reports it at its end ([`FactKind::SingleRequest`]);
//! the output thread, in input order, measures the interval since the previous such
//! request on the same edge and function, and learns it (learning) or judges it against the
//! learned timing (detecting), as the per-connection intervals are. Stopped polls need
//! nothing more: every connection publishes its last request to the shared table at its end.

use std::net::IpAddr;

use serde_json::json;

use crate::alert::{Comparison, Fact, FactKind, Observation};
use crate::baseline::{interval_deviates, EdgeKey, State};
use crate::detector::{Mode, Shared};
use crate::lru::Lru;
use crate::rules;

/// Most (edge, function) pairs whose last single request is remembered.
pub const MAX_POLLED: usize = 65_536;

type Key = (IpAddr, IpAddr, &'static str, u16);

/// The last single request per (client, server, protocol, function), bounded.
#[derive(Debug)]
pub struct ConnectionPolls {
    last: Lru<Key, i64>,
    /// Pairs forgotten at the cap (least recently polled first).
    pub evicted: u64,
    /// Intervals measured across connections.
    pub intervals: u64,
}

impl Default for ConnectionPolls {
    fn default() -> Self {
        ConnectionPolls::new(MAX_POLLED)
    }
}

impl ConnectionPolls {
    /// Remembers at most `cap` pairs.
    pub fn new(cap: usize) -> ConnectionPolls {
        ConnectionPolls {
            last: Lru::new(cap),
            evicted: 0,
            intervals: 0,
        }
    }

    /// A connection's single request (a [`FactKind::SingleRequest`] fact): learns or judges
    /// the interval since the previous one of its edge and function. Returns the timing
    /// deviation it raises, if any.
    pub fn observe(&mut self, sh: &Shared, f: &Fact) -> Option<Observation> {
        let FactKind::SingleRequest { protocol, code } = f.kind else {
            return None;
        };
        let key = (f.client_ip(), f.server_ip(), protocol, code);
        let ts = f.ts.as_nanos();
        let prev = self.last.get(&key).copied();
        if prev.is_none_or(|p| ts > p) {
            self.evicted += u64::from(self.last.insert(key, ts, ts).is_some());
        }
        let d = ts.checked_sub(prev?).filter(|d| *d > 0)?;
        let ms = u64::try_from(d / 1_000_000).ok()?;
        self.intervals += 1;
        let edge = EdgeKey {
            src: f.client_ip(),
            dst: f.server_ip(),
            protocol: protocol.into(),
        };
        match sh.mode {
            Mode::Learn => {
                sh.learner.learn_timing(&edge, code, Some(ms), None);
                None
            }
            Mode::Detect => deviation(sh, f, &edge, code, ms),
            Mode::PolicyOnly => None,
        }
    }
}

fn deviation(sh: &Shared, f: &Fact, edge: &EdgeKey, code: u16, ms: u64) -> Option<Observation> {
    let policy = sh.policy();
    if !policy.enabled(&rules::TIMING_DEVIATION) {
        return None;
    }
    let (t, name) = sh
        .learner
        .with_edge(edge, |e| {
            let fe = e.functions.get(&code)?;
            if fe.state == State::Suppressed || e.state == State::Suppressed {
                return None;
            }
            Some((fe.timing.clone()?, fe.name.clone()))
        })
        .flatten()?;
    let th = policy.cfg.thresholds;
    if t.samples < th.min_timing_samples
        || !interval_deviates(ms, t.min_ms, t.max_ms, th.timing_factor)
    {
        return None;
    }
    let label = edge.label();
    Some(Observation {
        rule: &rules::TIMING_DEVIATION,
        key: format!("{label}#{code}"),
        ts: f.ts,
        src: Some(f.client.clone()),
        dst: Some(f.server.clone()),
        protocol: otsensor_protocols::descriptor(&edge.protocol).map(|d| d.name),
        transport: Some("tcp"),
        operation: None,
        function: Some(name.clone()),
        details: format!(
            "{name} after {ms} ms on {label} (one connection per poll); learned intervals {}..={} ms (period {} ms), factor {}",
            t.min_ms, t.max_ms, t.period_ms, th.timing_factor
        ),
        comparison: Comparison {
            observed: json!({ "interval_ms": ms, "across_connections": true }),
            expected: json!({
                "min_ms": t.min_ms,
                "max_ms": t.max_ms,
                "period_ms": t.period_ms,
                "jitter_ms": t.jitter_ms,
                "factor": th.timing_factor,
            }),
        },
        severity: policy.severity_override(&rules::TIMING_DEVIATION),
        community_id: None,
    })
}
