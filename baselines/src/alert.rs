//! The canonical alert record, the rule catalog entries it refers to, and aggregation: one
//! alert per rule and edge, updated (count, last_seen) rather than repeated.

use std::hash::Hasher;
use std::net::IpAddr;

use serde::Serialize;

pub use otsensor_protocols::rule::{Engine, Rule, Technique};
use otsensor_protocols::Operation;

use crate::mac::MacAddr;
use crate::time::Timestamp;

/// Severity level and score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Severity {
    /// `low`, `medium`, `high` or `critical`.
    pub level: &'static str,
    /// 1–10.
    pub score: u8,
}

impl Severity {
    /// From a 1–10 score.
    pub fn from_score(score: u8) -> Severity {
        let score = score.clamp(1, 10);
        Severity {
            level: match score {
                1..=3 => "low",
                4..=6 => "medium",
                7..=8 => "high",
                _ => "critical",
            },
            score,
        }
    }
}

/// One end of an alert's edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertEndpoint {
    /// IP address (absent for a layer-2 device, e.g. a GOOSE publisher).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// MAC address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Zone name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<std::sync::Arc<str>>,
    /// Asset label (vendor/model or roles), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<std::borrow::Cow<'static, str>>,
}

/// What a rule compared: observed vs expected (the first part of an alert's [`Evidence`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// What was seen.
    pub observed: serde_json::Value,
    /// What the policy or baseline expected.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub expected: serde_json::Value,
}

/// An alert's evidence (its record's `evidence`): what its first observation compared, and
/// the evidence capture, the file of the packets behind it (`[evidence] dir`), once written,
/// with its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Observed and expected.
    #[serde(flatten)]
    pub comparison: Comparison,
    /// File name of the evidence capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap: Option<String>,
    /// SHA-256 of that file, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// What a worker reports when a rule fires; the output thread aggregates these into alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The rule.
    pub rule: &'static Rule,
    /// What identifies "the same alert" besides the rule (e.g. `src>dst/protocol`).
    pub key: String,
    /// When.
    pub ts: Timestamp,
    /// Source (absent for the sensor's own health alerts).
    pub src: Option<AlertEndpoint>,
    /// Destination (absent for single-host alerts).
    pub dst: Option<AlertEndpoint>,
    /// Protocol.
    pub protocol: Option<&'static str>,
    /// Transport (`tcp`, `udp`).
    pub transport: Option<&'static str>,
    /// Operation.
    pub operation: Option<Operation>,
    /// Function name.
    pub function: Option<String>,
    /// Human-readable details.
    pub details: String,
    /// Observed vs expected.
    pub comparison: Comparison,
    /// Severity override (from config); `None` uses the rule's.
    pub severity: Option<u8>,
    /// Community ID of the flow it was seen on.
    pub community_id: Option<Box<str>>,
}

/// What the detector hands the output thread, in input order.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// A rule fired (boxed: an observation is large and rare, the other signals small and
    /// many, and every signal is moved through the worker batches and the merge).
    Obs(Box<Observation>),
    /// A rule fired again on a flow that already sent the full observation of this alert.
    Repeat(Repeat),
    /// A fact the anomaly engine correlates across flows.
    Fact(Fact),
}

/// A repeated observation, as light as can be: on a flow that keeps breaking a rule (every
/// request of an unauthorized connection), only the first observation carries the record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Repeat {
    /// The rule.
    pub rule: &'static Rule,
    /// [`alert_hash`] of the rule and key.
    pub id: u64,
    /// When.
    pub ts: Timestamp,
}

/// A per-flow fact for the anomaly engine, which runs single-threaded in the output thread
/// (so that correlating across flows does not depend on how flows are spread over workers).
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// When.
    pub ts: Timestamp,
    /// The flow it is about (its id: the index of its first packet).
    pub flow_id: u64,
    /// The flow's client.
    pub client: AlertEndpoint,
    /// The flow's server.
    pub server: AlertEndpoint,
    /// What happened.
    pub kind: FactKind,
}

impl Fact {
    /// The client's address (facts come from IP flows only, so it is always there).
    pub fn client_ip(&self) -> IpAddr {
        self.client
            .ip
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    /// The server's address.
    pub fn server_ip(&self) -> IpAddr {
        self.server
            .ip
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }
}

/// Kinds of [`Fact`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    /// A connection ended having requested function `code` of `protocol` exactly once (at
    /// the fact's time): one poll of a master that opens a connection per poll.
    SingleRequest {
        /// Protocol.
        protocol: &'static str,
        /// Function code.
        code: u16,
    },
    /// A flow began; `opened` when its first packet was a TCP SYN or a UDP datagram (not a
    /// connection picked up midstream).
    FlowStart {
        /// IP protocol number.
        transport: u8,
        /// Opened during the capture.
        opened: bool,
    },
    /// A client addressed a unit id (Modbus unit, DNP3 destination) for the first time on
    /// this flow.
    Unit {
        /// Protocol.
        protocol: &'static str,
        /// Unit id.
        unit: u32,
    },
    /// A client read an S7 SZL list for the first time on this flow.
    Szl {
        /// SZL id.
        id: u16,
    },
    /// A PDU that broke its protocol's specification, or data its parser could not parse.
    Malformed {
        /// Protocol.
        protocol: &'static str,
        /// What was wrong.
        what: &'static str,
    },
    /// An exception response.
    Exception {
        /// Protocol.
        protocol: &'static str,
    },
    /// A client wrote (or controlled, or downloaded to) a server for the first time on this
    /// flow.
    Write {
        /// Protocol.
        protocol: &'static str,
    },
    /// A client set a device's clock (time synchronization) for the first time on this flow.
    TimeSync {
        /// Protocol.
        protocol: &'static str,
    },
    /// A cyclic I/O connection was opened (EtherNet/IP Forward Open answered with success).
    IoOpened {
        /// Protocol.
        protocol: &'static str,
        /// The originator (scanner): it produces the O→T data and consumes the T→O data.
        originator: IpAddr,
        /// The target (adapter).
        target: IpAddr,
        /// Originator to target connection id.
        o_t: u32,
        /// Target to originator connection id.
        t_o: u32,
    },
    /// The first datagram of a cyclic I/O connection id on this flow.
    IoData {
        /// Protocol.
        protocol: &'static str,
        /// Its sender.
        producer: IpAddr,
        /// Its receiver.
        consumer: IpAddr,
        /// Connection id.
        id: u32,
    },
}

/// The sensor that raised an alert.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SensorInfo {
    /// Sensor id.
    pub id: String,
    /// Site.
    pub site: String,
}

/// ATT&CK mapping of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attack {
    /// Framework and version the ids refer to.
    pub framework: &'static str,
    /// Techniques.
    pub techniques: &'static [Technique],
}

/// The ATT&CK framework version: technique `id`s are the stable T08xx ids (v18 numbering, kept
/// by MITRE as the ICS crosswalk's source), with `v19_id` wherever v19 reissued one.
pub const ATTACK_FRAMEWORK: &str = "MITRE ATT&CK for ICS v19";

/// The canonical alert record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Stable for the same rule and key, so a SIEM updates rather than duplicates.
    pub id: String,
    /// What the alert is about: its edge or host (with the rule, what the id is made of; a
    /// decision taken on the record names it).
    pub key: String,
    /// Time of this version of the alert (its last observation).
    pub ts: Timestamp,
    /// First observation.
    pub first_seen: Timestamp,
    /// Last observation.
    pub last_seen: Timestamp,
    /// Observations so far.
    pub count: u64,
    /// Engine.
    pub engine: Engine,
    /// Rule id.
    pub rule: &'static str,
    /// Title.
    pub title: &'static str,
    /// Severity.
    pub severity: Severity,
    /// `active` or `cleared` for conditions that end (the sensor's health alerts); absent
    /// for alerts about traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    /// Source (absent for the sensor's own health alerts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<AlertEndpoint>,
    /// Destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<AlertEndpoint>,
    /// Protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
    /// Transport (`tcp`, `udp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<&'static str>,
    /// Operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// Function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Details.
    pub details: String,
    /// Evidence: the first observation's comparison, and the packets behind the alert once
    /// written.
    pub evidence: Evidence,
    /// ATT&CK mapping.
    pub attack: Attack,
    /// Community ID of the flow of its first observation (joins with Zeek, Suricata and
    /// firewall logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_id: Option<Box<str>>,
    /// Sensor.
    pub sensor: SensorInfo,
}

/// The stable id of (rule, key): 16 hex digits of a fixed 64-bit FNV-1a hash.
pub fn alert_id(rule: &str, key: &str) -> String {
    format!("{:016x}", alert_hash(rule, &[key]))
}

/// The hash behind [`alert_id`], of a key given in parts (their concatenation is the key),
/// so that a worker can find an alert's id without building its key.
pub fn alert_hash(rule: &str, key: &[&str]) -> u64 {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    // As `str::hash` of the rule and of the whole key: bytes, then 0xff.
    h.write(rule.as_bytes());
    h.write_u8(0xff);
    for part in key {
        h.write(part.as_bytes());
    }
    h.write_u8(0xff);
    h.finish()
}

/// Most alerts a store keeps by default.
pub const DEFAULT_MAX_ALERTS: usize = 100_000;

/// One alert in the store.
#[derive(Debug)]
struct Entry {
    alert: Alert,
    last_emit: Timestamp,
    dirty: bool,
    /// Order of first sight.
    seq: u64,
}

/// Aggregates observations into alerts: an alert is emitted at first sight, then at most
/// every `update_interval` of capture time with its running count, and once more at the end.
///
/// At most `max` alerts are kept (a flood across zones raises one per source): a new alert
/// then evicts the least recently observed one, whose final state, if not yet written, is
/// handed out by [`AlertStore::take_evicted`]. Counts of alerts raised per rule and severity
/// are kept as they come, so reading them costs nothing per alert.
#[derive(Debug)]
pub struct AlertStore {
    alerts: crate::lru::Lru<u64, Entry>,
    next_seq: u64,
    update_ns: i64,
    sensor: SensorInfo,
    /// Observations received (repeats included).
    pub observations: u64,
    /// Distinct alerts raised (evicted ones included).
    pub raised: u64,
    /// Alerts evicted at the cap.
    pub evicted: u64,
    evicted_finals: Vec<Alert>,
    by_severity: std::collections::BTreeMap<(&'static str, &'static str), u64>,
}

impl AlertStore {
    /// A store re-emitting updates at most every `update_secs` seconds of capture time.
    pub fn new(sensor: SensorInfo, update_secs: u64) -> AlertStore {
        AlertStore::with_cap(sensor, update_secs, DEFAULT_MAX_ALERTS)
    }

    /// The same, keeping at most `max` alerts.
    pub fn with_cap(sensor: SensorInfo, update_secs: u64, max: usize) -> AlertStore {
        AlertStore {
            alerts: crate::lru::Lru::new(max),
            next_seq: 0,
            update_ns: i64::try_from(update_secs)
                .unwrap_or(i64::MAX / 1_000_000_000)
                .saturating_mul(1_000_000_000),
            sensor,
            observations: 0,
            raised: 0,
            evicted: 0,
            evicted_finals: Vec::new(),
            by_severity: std::collections::BTreeMap::new(),
        }
    }

    /// Alerts held now.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// True when no alert is held.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Distinct alerts raised (evicted ones included), by (rule, severity level).
    pub fn by_severity(&self) -> &std::collections::BTreeMap<(&'static str, &'static str), u64> {
        &self.by_severity
    }

    /// Final states of alerts evicted at the cap since the last call, to be written.
    pub fn take_evicted(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.evicted_finals)
    }

    /// Adds an observation; returns the alert when it should be emitted now.
    pub fn observe(&mut self, o: Observation) -> Option<Alert> {
        let id = alert_hash(o.rule.id, &[&o.key]);
        if self.alerts.get(&id).is_some() {
            return self.repeat(id, o.ts);
        }
        self.observations += 1;
        self.raised += 1;
        let a = Alert {
            id: format!("{id:016x}"),
            key: o.key.clone(),
            ts: o.ts,
            first_seen: o.ts,
            last_seen: o.ts,
            count: 1,
            engine: o.rule.engine,
            rule: o.rule.id,
            title: o.rule.title,
            severity: Severity::from_score(o.severity.unwrap_or(o.rule.severity)),
            status: None,
            src: o.src,
            dst: o.dst,
            protocol: o.protocol,
            transport: o.transport,
            operation: o.operation,
            function: o.function,
            details: o.details,
            evidence: Evidence {
                comparison: o.comparison,
                pcap: None,
                sha256: None,
            },
            attack: Attack {
                framework: ATTACK_FRAMEWORK,
                techniques: o.rule.techniques,
            },
            community_id: o.community_id,
            sensor: self.sensor.clone(),
        };
        *self
            .by_severity
            .entry((a.rule, a.severity.level))
            .or_default() += 1;
        let entry = Entry {
            alert: a.clone(),
            last_emit: o.ts,
            dirty: false,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        if let Some((_, old)) = self.alerts.insert(id, entry, o.ts.as_nanos()) {
            self.evicted += 1;
            if old.dirty {
                self.evicted_finals.push(old.alert);
            }
        }
        Some(a)
    }

    /// Counts one more sighting of the alert with hash `id` (see [`alert_hash`]) at `ts`;
    /// returns the alert when an update is due. An id not held is ignored.
    pub fn repeat(&mut self, id: u64, ts: Timestamp) -> Option<Alert> {
        let update_ns = self.update_ns;
        let e = self.alerts.touch(&id, ts.as_nanos())?;
        self.observations += 1;
        let a = &mut e.alert;
        a.count += 1;
        a.last_seen = a.last_seen.max(ts);
        a.first_seen = a.first_seen.min(ts);
        a.ts = a.last_seen;
        if a.last_seen.nanos_since(e.last_emit) >= update_ns {
            e.last_emit = a.last_seen;
            e.dirty = false;
            return Some(a.clone());
        }
        e.dirty = true;
        None
    }

    /// Counts one more sighting of the alert with hash `id` and emits it now, whatever the
    /// update interval, with new details, evidence and status: for conditions that change
    /// state (a health alert raised again, or cleared). An id not held is ignored.
    pub fn update(
        &mut self,
        id: u64,
        ts: Timestamp,
        details: String,
        comparison: Comparison,
        status: Option<&'static str>,
    ) -> Option<Alert> {
        let e = self.alerts.touch(&id, ts.as_nanos())?;
        self.observations += 1;
        let a = &mut e.alert;
        a.count += 1;
        a.last_seen = a.last_seen.max(ts);
        a.ts = a.last_seen;
        a.details = details;
        a.evidence.comparison = comparison;
        a.status = status;
        e.last_emit = a.last_seen;
        e.dirty = false;
        Some(a.clone())
    }

    /// Sets the status an alert will carry from now on (no emission).
    pub fn set_status(&mut self, id: u64, status: Option<&'static str>) {
        if let Some(e) = self.alerts.touch(&id, i64::MIN) {
            e.alert.status = status;
        }
    }

    /// Records the evidence capture of the alert with hash `id`, once: false when the alert
    /// is not held or already has one. The next update (the final one at the latest) carries
    /// it.
    pub fn set_evidence_file(&mut self, id: u64, pcap: String, sha256: String) -> bool {
        let Some(e) = self.alerts.touch(&id, i64::MIN) else {
            return false;
        };
        if e.alert.evidence.pcap.is_some() {
            return false;
        }
        e.alert.evidence.pcap = Some(pcap);
        e.alert.evidence.sha256 = Some(sha256);
        e.dirty = true;
        true
    }

    /// Whether the alert with hash `id` is held.
    pub fn contains(&self, id: u64) -> bool {
        self.alerts.get(&id).is_some()
    }

    /// The alert with hash `id`.
    pub fn get(&self, id: u64) -> Option<&Alert> {
        self.alerts.get(&id).map(|e| &e.alert)
    }

    /// The final state of every alert updated since it was last emitted, in first-seen order.
    pub fn flush(&mut self) -> Vec<Alert> {
        let mut dirty: Vec<(u64, u64)> = self
            .alerts
            .iter()
            .filter(|(_, e)| e.dirty)
            .map(|(id, e)| (e.seq, *id))
            .collect();
        dirty.sort_unstable();
        let mut out = Vec::with_capacity(dirty.len());
        for (_, id) in dirty {
            if let Some(e) = self.alerts.touch(&id, i64::MIN) {
                e.dirty = false;
                e.last_emit = e.alert.last_seen;
                out.push(e.alert.clone());
            }
        }
        out
    }

    /// Every alert held, in first-seen order.
    pub fn all(&self) -> Vec<&Alert> {
        let mut v: Vec<(u64, &Alert)> =
            self.alerts.iter().map(|(_, e)| (e.seq, &e.alert)).collect();
        v.sort_unstable_by_key(|(seq, _)| *seq);
        v.into_iter().map(|(_, a)| a).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static RULE: Rule = Rule {
        id: "test.rule",
        title: "Test",
        engine: Engine::Policy,
        severity: 7,
        techniques: &[Technique {
            id: "T0886",
            name: "Remote Services",
            v19: None,
        }],
        rationale: "test",
    };

    fn obs(key: &str, secs: i64) -> Observation {
        Observation {
            rule: &RULE,
            key: key.into(),
            ts: Timestamp::from_nanos(secs * 1_000_000_000),
            src: Some(AlertEndpoint {
                ip: "10.0.0.1".parse().ok(),
                port: None,
                mac: None,
                zone: None,
                asset: None,
            }),
            dst: None,
            protocol: None,
            transport: None,
            operation: None,
            function: None,
            details: String::new(),
            comparison: Comparison {
                observed: serde_json::Value::Null,
                expected: serde_json::Value::Null,
            },
            severity: None,
            community_id: None,
        }
    }

    #[test]
    fn one_alert_per_rule_and_key_updated_not_repeated() {
        let mut s = AlertStore::new(SensorInfo::default(), 60);
        let a = s.observe(obs("a", 0)).unwrap();
        assert_eq!(a.count, 1);
        assert_eq!(
            a.severity,
            Severity {
                level: "high",
                score: 7
            }
        );
        assert!(s.observe(obs("a", 10)).is_none());
        let b = s.observe(obs("b", 11)).unwrap();
        assert_ne!(a.id, b.id);
        let again = s.observe(obs("a", 61)).unwrap();
        assert_eq!((again.id.clone(), again.count), (a.id.clone(), 3));
        assert!(s.observe(obs("a", 62)).is_none());
        let fin = s.flush();
        assert_eq!(fin.len(), 1);
        assert_eq!(
            (fin[0].count, fin[0].last_seen.as_nanos()),
            (4, 62_000_000_000)
        );
        assert!(s.flush().is_empty());
        assert_eq!(alert_id("r", "k"), alert_id("r", "k"));
    }

    #[test]
    fn ids_are_fnv1a_of_rule_and_key_in_parts_or_whole() {
        // FNV-1a 64 of "policy.no_conduit" 0xff "10.0.0.1>10.1.0.1/modbus" 0xff, computed
        // independently: ids stay what earlier versions (and a SIEM's incidents) had.
        let (rule, key) = ("policy.no_conduit", "10.0.0.1>10.1.0.1/modbus");
        assert_eq!(alert_id(rule, key), "acc8f444641a0b37");
        assert_eq!(
            alert_hash(rule, &["10.0.0.1>10.1.0.1", "/modbus"]),
            0xacc8_f444_641a_0b37
        );
    }

    #[test]
    fn a_full_store_evicts_the_least_recently_observed_writing_its_final_state() {
        let mut s = AlertStore::with_cap(SensorInfo::default(), 60, 2);
        s.observe(obs("a", 0)).unwrap();
        s.observe(obs("b", 1)).unwrap();
        assert!(s.observe(obs("a", 2)).is_none(), "a repeat, not due");
        // c evicts b (a was observed later); b was clean, so nothing to write.
        s.observe(obs("c", 3)).unwrap();
        assert!(s.take_evicted().is_empty());
        assert!(s.contains(alert_hash(RULE.id, &["a"])));
        assert!(!s.contains(alert_hash(RULE.id, &["b"])));
        // d evicts a, whose count 2 was never written: its final state comes out.
        s.observe(obs("d", 4)).unwrap();
        let fin = s.take_evicted();
        assert_eq!(fin.len(), 1);
        assert_eq!(
            (fin[0].id.as_str(), fin[0].count),
            (alert_id(RULE.id, "a").as_str(), 2)
        );
        assert_eq!((s.len(), s.raised, s.evicted), (2, 4, 2));
        assert_eq!(s.by_severity().get(&(RULE.id, "high")), Some(&4));
        let ids: Vec<&str> = s.all().iter().map(|a| a.details.as_str()).collect();
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn repeats_count_like_observations() {
        let mut full = AlertStore::new(SensorInfo::default(), 60);
        let mut light = AlertStore::new(SensorInfo::default(), 60);
        let id = alert_hash(RULE.id, &["a"]);
        assert!(
            light.repeat(id, Timestamp::from_nanos(0)).is_none(),
            "unknown id"
        );
        assert_eq!(light.observations, 0);
        let mut emitted = (Vec::new(), Vec::new());
        for (i, secs) in [0, 10, 61, 62, 200].into_iter().enumerate() {
            emitted.0.extend(full.observe(obs("a", secs)));
            emitted.1.extend(if i == 0 {
                light.observe(obs("a", secs))
            } else {
                light.repeat(id, Timestamp::from_nanos(secs * 1_000_000_000))
            });
        }
        assert_eq!(emitted.0, emitted.1);
        assert_eq!(full.flush(), light.flush());
        assert_eq!(light.observations, 5);
    }
}
