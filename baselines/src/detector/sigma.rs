//! The plant's Sigma rules on the records of a flow: each match raises its rule on the
//! flow's edge, as the built-in rules do (one full record per flow, then repeats).

use std::collections::HashMap;
use std::str::FromStr;

use otsensor_protocols::record::{Fields, Picked, Record};
use otsensor_protocols::Operation;

use crate::alert::{Comparison, Observation, Signal};
use crate::sigma::{Service, SigmaRule, FLOW};
use crate::time::Timestamp;

use super::findings::Findings;
use super::substation::L2View;
use super::{Detector, FlowLocal, FlowView};
use crate::mac::MacAddr;

/// A string field of a record.
fn text(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

impl Detector {
    /// Whether any Sigma rule watches `service`'s records (a protocol, or `flow`): when
    /// none does, its records need not even be built.
    pub fn sigma_wants(&self, service: &str) -> bool {
        self.policy.cfg.sigma.wants(service)
    }

    /// Whether any Sigma rule watches a protocol's events.
    pub fn sigma_on_events(&self) -> bool {
        self.policy.cfg.sigma.on_events()
    }

    /// The indexes, among its service's rules, of the Sigma rules the record matches.
    fn sigma_matched(&mut self, rec: &dyn Record) -> Box<[u16]> {
        let Some(svc) = self.policy.cfg.sigma.service(rec.service()) else {
            return Box::default();
        };
        if svc.fields.is_none() {
            // A rule searching keywords reads every field: nothing to key a cache on.
            return matching(&svc.rules, &crate::sigma::records(&line(rec)));
        }
        self.sigma_cache.matches(rec, svc)
    }

    /// Tries the Sigma rules of a layer-2 record's service (`goose`, `sv`, `pn_dcp`,
    /// `pn_rt`) on it; a match raises the rule between the frame's MAC addresses.
    pub fn sigma_l2(
        &mut self,
        rec: &dyn Record,
        v: &L2View,
        ts: Timestamp,
        sent: &mut Vec<u64>,
        out: &mut Vec<Signal>,
    ) {
        let matched = self.sigma_matched(rec);
        if matched.is_empty() {
            return;
        }
        let pol = &*self.policy.clone();
        let service = rec.service();
        let rules = pol.cfg.sigma.rules_for(service);
        let (src, dst) = (MacAddr(v.header.src), MacAddr(v.header.dst));
        let label = format!("{src}>{dst}/{service}");
        let fx = &mut Findings { out, sent };
        for r in matched.iter().filter_map(|&i| rules.get(usize::from(i))) {
            fx.send(pol, r.rule, &[&label], ts, || {
                let observed: serde_json::Value =
                    serde_json::from_slice(&line(rec)).unwrap_or(serde_json::Value::Null);
                let details = format!("{} ({service} from {src} to {dst})", r.rule.title);
                let comparison = Comparison {
                    observed,
                    expected: serde_json::Value::Null,
                };
                pol.l2_observation(r.rule, ts, v, v.header.src, details, comparison)
            });
        }
    }

    /// Tries the Sigma rules of the record's service on it; a match raises the rule on the
    /// flow's edge at `ts`. Records of a service no rule watches are not read, and of the
    /// others only the fields the rules name are read, from the record itself: the whole
    /// line is written only for a rule that searches every field and for a match's evidence.
    pub fn sigma(
        &mut self,
        rec: &dyn Record,
        f: &FlowView<'_>,
        fl: Option<&mut FlowLocal>,
        ts: Timestamp,
        out: &mut Vec<Signal>,
    ) {
        let service = rec.service();
        let matched = self.sigma_matched(rec);
        if matched.is_empty() {
            return;
        }
        let pol = &*self.policy.clone();
        let rules = pol.cfg.sigma.rules_for(service);
        let mut own = Vec::new();
        let sent = match fl {
            Some(fl) => &mut fl.sent,
            None => &mut own,
        };
        let fx = &mut Findings { out, sent };
        for r in matched.iter().filter_map(|&i| rules.get(usize::from(i))) {
            let protocol = (r.service != FLOW).then_some(r.service);
            let label = match protocol {
                Some(p) => format!("{}>{}/{p}", f.client.ip, f.server.ip),
                None => format!("{}>{}:{}", f.client.ip, f.server.ip, f.server.port),
            };
            fx.send(pol, r.rule, &[&label], ts, || {
                let observed: serde_json::Value =
                    serde_json::from_slice(&line(rec)).unwrap_or(serde_json::Value::Null);
                let function = text(&observed, "function");
                let what = match (&function, protocol) {
                    (Some(func), Some(p)) => format!("{p} {func}"),
                    (None, Some(p)) => p.to_string(),
                    (_, None) => format!(
                        "{} flow",
                        text(&observed, "app").unwrap_or_else(|| f.transport.to_string())
                    ),
                };
                Observation {
                    rule: r.rule,
                    key: String::new(),
                    ts,
                    src: Some(pol.endpoint(f.client, f.client_zone)),
                    dst: Some(pol.endpoint(f.server, f.server_zone)),
                    protocol,
                    transport: Some(f.transport),
                    operation: text(&observed, "operation")
                        .and_then(|o| Operation::from_str(&o).ok()),
                    function,
                    details: format!(
                        "{} ({what} from {} to {})",
                        r.rule.title, f.client.ip, f.server.ip
                    ),
                    comparison: Comparison {
                        observed,
                        expected: serde_json::Value::Null,
                    },
                    severity: None,
                    community_id: f.community_id(),
                }
            });
        }
    }
}

/// The record's JSON line (empty if it cannot be written, which its own writer reports).
fn line(rec: &dyn Record) -> Vec<u8> {
    let mut out = Vec::new();
    if rec.write_json(&mut out).is_err() {
        out.clear();
    }
    out
}

/// The indexes in `rules` of those matching one of the record's views.
fn matching(rules: &[SigmaRule], views: &[crate::sigma::Record]) -> Box<[u16]> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| views.iter().any(|v| r.matches(v)))
        .map(|(i, _)| i as u16)
        .collect()
}

/// Most record shapes remembered.
const MAX_SHAPES: usize = 16_384;

/// The rules each record shape matched: plant traffic repeats itself (the same polls, the
/// same requests), so the fields the rules name — a request's function, addresses, ends —
/// take few distinct values, and a record whose named fields were seen before is judged
/// without being read into Sigma's form. Cleared when full and when the rules change.
#[derive(Debug)]
pub(super) struct SigmaCache {
    /// By a 128-bit hash of the record's key encoding (two independently seeded hashes,
    /// salted with the service's number): no key is kept or compared, and two shapes
    /// sharing one is not a practical concern.
    shapes: HashMap<u128, Box<[u16]>, std::hash::BuildHasherDefault<Low64>>,
    key: Picked,
    seeds: [ahash::RandomState; 2],
}

/// The hasher of a table whose keys are hashes already: their low 64 bits.
#[derive(Debug, Default)]
struct Low64(u64);

impl std::hash::Hasher for Low64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("the table's keys are u128")
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

impl Default for SigmaCache {
    fn default() -> Self {
        SigmaCache {
            shapes: HashMap::default(),
            key: Picked::key(),
            seeds: Default::default(),
        }
    }
}

impl SigmaCache {
    /// Forgets every shape (the rules changed).
    pub(super) fn clear(&mut self) {
        self.shapes.clear();
    }

    /// The indexes among `svc`'s rules of those matching the record.
    fn matches(&mut self, rec: &dyn Record, svc: &Service) -> Box<[u16]> {
        let Some(fields) = &svc.fields else {
            return Box::default();
        };
        let key = &mut self.key;
        key.clear();
        if rec.pick(fields, key).is_err() {
            return Box::default();
        }
        let bytes = key.as_bytes();
        let [a, b] = &self.seeds;
        let hash = (u128::from(a.hash_one(bytes)) << 64 | u128::from(b.hash_one(bytes)))
            ^ u128::from(svc.id);
        if let Some(m) = self.shapes.get(&hash) {
            return m.clone();
        }
        let m = self.judge(rec, fields, &svc.rules);
        if self.shapes.len() >= MAX_SHAPES {
            self.clear();
        }
        self.shapes.insert(hash, m.clone());
        m
    }

    /// The rules a shape seen for the first time matches, from its fields as JSON.
    fn judge(&self, rec: &dyn Record, fields: &Fields, rules: &[SigmaRule]) -> Box<[u16]> {
        let mut json = Picked::json();
        if rec.pick(fields, &mut json).is_err() {
            return Box::default();
        }
        matching(
            rules,
            &crate::sigma::views(crate::sigma::picked_object(&json, fields)),
        )
    }
}
