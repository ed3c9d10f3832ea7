//! Substation streams judged: GOOSE and Sampled Values publishers against zones and
//! conduits, what a GOOSE stream must not do ([`crate::substation::GooseWatch`]'s findings)
//! and SV streams' per-second summaries. Their ends are MAC addresses: a publisher and the
//! multicast group it sends to.

use serde_json::json;

use otsensor_protocols::goose::summary::SvSecond;
use otsensor_protocols::goose::Header;

use crate::alert::{AlertEndpoint, Comparison, Observation, Rule, Signal};
use crate::mac::MacAddr;
use crate::rules;
use crate::streams::{Change, StreamSample};
use crate::substation::{Finding, Silence};
use crate::time::Timestamp;
use crate::zones::{Violation, ZoneId};

use super::findings::Findings;
use super::{Detector, Mode, Policy};

/// Most samples a second of an SV stream may lose, repeat or take out of order before the
/// stream is reported (a lost frame or two on a busy switch is not an attack).
pub const MAX_SV_DISCONTINUITIES: u64 = 8;

/// A layer-2 flow (one publisher's frames of one APPID to one group) as the detector sees
/// it.
#[derive(Debug, Clone, Copy)]
pub struct L2View {
    /// Flow id (the index of its first frame).
    pub id: u64,
    /// `goose` or `sv`.
    pub protocol: &'static str,
    /// The publisher's, destination's, VLAN and APPID.
    pub header: Header,
    /// Zone of the publisher.
    pub src_zone: ZoneId,
    /// Zone of the destination group.
    pub dst_zone: ZoneId,
}

impl Policy {
    /// An alert endpoint known by its MAC only.
    pub fn mac_endpoint(&self, mac: [u8; 6], zone: ZoneId) -> AlertEndpoint {
        let mac = MacAddr(mac);
        AlertEndpoint {
            ip: None,
            port: None,
            mac: Some(mac),
            zone: Some(self.zones.shared_name(zone)),
            asset: crate::oui::vendor(mac).map(std::borrow::Cow::Borrowed),
        }
    }

    /// The zones of a frame's sender and destination. A group (multicast) destination in no
    /// zone stays in the sender's segment: its zone.
    pub fn l2_zones(&self, h: &Header, iface: Option<&str>) -> (ZoneId, ZoneId) {
        let vlan = h.vlan.map(|v| v.0);
        let src = self.zones.lookup_l2(Some(MacAddr(h.src)), vlan, iface);
        let dst = self.zones.lookup_l2(Some(MacAddr(h.dst)), vlan, iface);
        let group = h.dst[0] & 1 == 1;
        (
            src,
            if group && self.zones.is_default(dst) {
                src
            } else {
                dst
            },
        )
    }

    pub(super) fn l2_observation(
        &self,
        rule: &'static Rule,
        ts: Timestamp,
        v: &L2View,
        src: [u8; 6],
        details: String,
        comparison: Comparison,
    ) -> Observation {
        let src_zone = if src == v.header.src {
            v.src_zone
        } else {
            self.zones
                .lookup_l2(Some(MacAddr(src)), v.header.vlan.map(|x| x.0), None)
        };
        Observation {
            rule,
            key: String::new(),
            ts,
            src: Some(self.mac_endpoint(src, src_zone)),
            dst: Some(self.mac_endpoint(v.header.dst, v.dst_zone)),
            protocol: Some(v.protocol),
            transport: None,
            operation: None,
            function: None,
            details,
            comparison,
            severity: None,
            community_id: None,
        }
    }
}

fn mac(m: [u8; 6]) -> String {
    MacAddr(m).to_string()
}

impl Detector {
    /// A layer-2 flow began: its publisher must be allowed to publish to the group's zone
    /// (a conduit listing `goose` or `sv`, unless both are in one zone).
    pub fn l2_started(
        &mut self,
        v: &L2View,
        ts: Timestamp,
        sent: &mut Vec<u64>,
        out: &mut Vec<Signal>,
    ) {
        let pol = &*self.policy;
        let Some(violation) = pol
            .zones
            .check_flow(v.src_zone, v.dst_zone, v.protocol, 0, 0)
        else {
            return;
        };
        let rule = match violation {
            Violation::ProtocolNotAllowed | Violation::OperationNotAllowed => {
                &rules::PROTOCOL_NOT_ALLOWED
            }
            Violation::NoConduit => &rules::NO_CONDUIT,
        };
        let (src, dst) = (mac(v.header.src), mac(v.header.dst));
        let key = [src.as_str(), ">", dst.as_str(), "/", v.protocol];
        let mut fx = Findings { out, sent };
        fx.send(pol, rule, &key, ts, || {
            let (sz, dz) = (pol.zones.name(v.src_zone), pol.zones.name(v.dst_zone));
            pol.l2_observation(
                rule,
                ts,
                v,
                v.header.src,
                format!("{} publisher {src} in zone {sz} sends to {dst} in zone {dz}", v.protocol),
                Comparison {
                    observed: json!({ "from": sz, "to": dz, "protocol": v.protocol, "appid": v.header.appid }),
                    expected: json!({ "conduit": match violation {
                        Violation::NoConduit => "none between these zones",
                        _ => "does not list this protocol",
                    } }),
                },
            )
        });
    }

    /// A GOOSE PDU of control block `gocb_ref` on flow `v` broke its stream's rules.
    pub fn goose_finding(
        &mut self,
        v: &L2View,
        ts: Timestamp,
        gocb_ref: &str,
        f: &Finding,
        sent: &mut Vec<u64>,
        out: &mut Vec<Signal>,
    ) {
        let pol = &*self.policy;
        let src = v.header.src;
        let (rule, details, observed, expected): (&'static Rule, String, _, _) = match f {
            Finding::SecondPublisher { known, other } => (
                &rules::GOOSE_SPOOFING,
                format!(
                    "{gocb_ref} published from {} as well as from its publisher {}",
                    mac(*other),
                    mac(*known)
                ),
                json!({ "gocb_ref": gocb_ref, "publisher": mac(*other) }),
                json!({ "publisher": mac(*known) }),
            ),
            Finding::StNumJump { from, to } => (
                &rules::GOOSE_STATE_JUMP,
                format!(
                    "{gocb_ref} stNum jumped from {from} to {to} (from {})",
                    mac(src)
                ),
                json!({ "gocb_ref": gocb_ref, "st_num": to }),
                json!({ "st_num_at_most": u64::from(*from) + u64::from(crate::substation::MAX_ST_STEP) }),
            ),
            Finding::StNumBack { from, to } => (
                &rules::GOOSE_REPLAY,
                format!("{gocb_ref} stNum went back from {from} to {to}"),
                json!({ "gocb_ref": gocb_ref, "st_num": to }),
                json!({ "st_num_at_least": from }),
            ),
            Finding::SqNumBack { st, from, to } => (
                &rules::GOOSE_REPLAY,
                format!("{gocb_ref} sqNum went back from {from} to {to} within stNum {st}"),
                json!({ "gocb_ref": gocb_ref, "st_num": st, "sq_num": to }),
                json!({ "sq_num_above": from }),
            ),
            Finding::Silent { gap_ms, tal_ms } => (
                &rules::GOOSE_SILENT,
                format!("{gocb_ref} was silent {gap_ms} ms; its frames allowed {tal_ms} ms"),
                json!({ "gocb_ref": gocb_ref, "silent_ms": gap_ms }),
                json!({ "silent_ms_at_most": 2 * u64::from(*tal_ms) }),
            ),
            Finding::Simulation => (
                &rules::GOOSE_SIMULATION,
                format!("{gocb_ref} carries the simulation flag; its frames did not"),
                json!({ "gocb_ref": gocb_ref, "simulation": true }),
                json!({ "simulation": false }),
            ),
            Finding::ConfRevChanged { from, to } => (
                &rules::GOOSE_CONFREV,
                format!("{gocb_ref} confRev changed from {from} to {to}"),
                json!({ "gocb_ref": gocb_ref, "conf_rev": to }),
                json!({ "conf_rev": from }),
            ),
        };
        // The spoofing alert names the other device: one alert per forging MAC.
        let other = match f {
            Finding::SecondPublisher { other, .. } => mac(*other),
            _ => String::new(),
        };
        let key = [gocb_ref, "#", other.as_str()];
        let key = if other.is_empty() {
            &key[..1]
        } else {
            &key[..]
        };
        let mut fx = Findings { out, sent };
        fx.send(pol, rule, key, ts, || {
            pol.l2_observation(rule, ts, v, src, details, Comparison { observed, expected })
        });
    }

    /// What a GOOSE frame or an SV second `s` shows of its stream: learned while learning,
    /// judged against the baseline while detecting (`baseline.new_stream`,
    /// `baseline.stream_changed`).
    pub fn l2_stream(
        &mut self,
        v: &L2View,
        ts: Timestamp,
        s: &StreamSample<'_>,
        sent: &mut Vec<u64>,
        out: &mut Vec<Signal>,
    ) {
        let pol = &*self.policy;
        let learner = &self.shared.learner;
        match pol.cfg.mode {
            Mode::PolicyOnly => return,
            Mode::Learn => return learner.learn_stream(s, ts),
            Mode::Detect => {}
        }
        let mut changes = Vec::new();
        learner.compare_stream(s, &mut changes);
        let mut fx = Findings { out, sent };
        let id = [s.protocol, ":", s.id].concat();
        for c in changes {
            let (rule, details, observed, expected) = match &c {
                Change::New => (
                    &rules::NEW_STREAM,
                    format!(
                        "{} {} from {} was not in the baseline",
                        s.protocol, s.id, s.publisher
                    ),
                    json!({ "id": s.id, "publisher": s.publisher, "destination": s.destination, "appid": s.appid }),
                    json!({ "streams": "learned ones only" }),
                ),
                Change::Publisher(m) => (
                    &rules::STREAM_CHANGED,
                    format!(
                        "{} {} published from {}, learned from {m}",
                        s.protocol, s.id, s.publisher
                    ),
                    json!({ "id": s.id, "publisher": s.publisher }),
                    json!({ "publisher": m }),
                ),
                Change::Destination(m, appid) => (
                    &rules::STREAM_CHANGED,
                    format!(
                        "{} {} sent to {} APPID {:#06x}, learned to {m} APPID {appid:#06x}",
                        s.protocol, s.id, s.destination, s.appid
                    ),
                    json!({ "id": s.id, "destination": s.destination, "appid": s.appid }),
                    json!({ "destination": m, "appid": appid }),
                ),
                Change::Dataset(d) => (
                    &rules::STREAM_CHANGED,
                    format!(
                        "{} {} carries dataset {}, learned {d}",
                        s.protocol, s.id, s.dat_set
                    ),
                    json!({ "id": s.id, "dat_set": s.dat_set }),
                    json!({ "dat_set": d }),
                ),
                Change::ConfRev(r) => (
                    &rules::STREAM_CHANGED,
                    format!(
                        "{} {} confRev {:?}, learned {r:?}",
                        s.protocol, s.id, s.conf_rev
                    ),
                    json!({ "id": s.id, "conf_rev": s.conf_rev }),
                    json!({ "conf_rev": r }),
                ),
                Change::Heartbeat(h, ms) => (
                    &rules::STREAM_CHANGED,
                    format!(
                        "{} {} repeated its state after {ms} ms; its learned heartbeat is {h} ms",
                        s.protocol, s.id
                    ),
                    json!({ "id": s.id, "repeat_ms": ms }),
                    json!({ "repeat_ms_at_most": 2 * h }),
                ),
            };
            let what = c.what();
            let key = [id.as_str(), "#", what];
            let key = if c == Change::New {
                &key[..1]
            } else {
                &key[..]
            };
            fx.send(pol, rule, key, ts, || {
                pol.l2_observation(
                    rule,
                    ts,
                    v,
                    s.publisher.0,
                    details,
                    Comparison { observed, expected },
                )
            });
        }
    }

    /// A PROFINET DCP PDU on flow `v`: a Set that renames, readdresses or resets a station
    /// (`operational.pn_dcp_set`), an Identify of every station (`protocol.pn_dcp_discovery`),
    /// each keyed by the asking host.
    pub fn pn_dcp(
        &mut self,
        v: &L2View,
        ts: Timestamp,
        p: &otsensor_protocols::profinet::Dcp,
        sent: &mut Vec<u64>,
        out: &mut Vec<Signal>,
    ) {
        let pol = &*self.policy;
        let src = mac(v.header.src);
        let mut fx = Findings { out, sent };
        if p.changes_station() {
            let rule = &rules::PN_DCP_SET;
            fx.send(pol, rule, &[src.as_str()], ts, || {
                let mut what = Vec::new();
                if let Some(n) = &p.name_of_station {
                    what.push(format!("name of station {n:?}"));
                }
                if let Some(ip) = p.ip {
                    what.push(format!("IP {ip}"));
                }
                what.extend(p.control.iter().filter(|c| c.contains("reset")).map(|c| c.to_string()));
                pol.l2_observation(
                    rule,
                    ts,
                    v,
                    v.header.src,
                    format!("{src} set {} on {} over DCP", what.join(", "), mac(v.header.dst)),
                    Comparison {
                        observed: json!({ "service": "set", "xid": p.xid, "name_of_station": p.name_of_station, "ip": p.ip, "control": p.control }),
                        expected: json!({ "setter": "the engineering station the baseline learned" }),
                    },
                )
            });
        }
        let all = p.blocks.iter().any(|b| b.option == 0xff);
        if p.service_id == 5 && !p.is_response() && all {
            let rule = &rules::PN_DCP_DISCOVERY;
            fx.send(pol, rule, &[src.as_str()], ts, || {
                pol.l2_observation(
                    rule,
                    ts,
                    v,
                    v.header.src,
                    format!("{src} asked every PROFINET station to identify itself"),
                    Comparison {
                        observed: json!({ "service": "identify", "filter": "all", "xid": p.xid }),
                        expected: json!({ "asking": "the engineering station the baseline learned" }),
                    },
                )
            });
        }
    }

    /// A GOOSE stream fell silent (noticed without a next frame).
    pub fn goose_silence(&mut self, s: &Silence, ts: Timestamp, out: &mut Vec<Signal>) {
        let pol = &*self.policy;
        let (src_zone, dst_zone) = pol.l2_zones(&s.header, None);
        let v = L2View {
            id: 0,
            protocol: "goose",
            header: s.header,
            src_zone,
            dst_zone,
        };
        self.goose_finding(&v, ts, &s.gocb_ref, &s.finding, &mut Vec::new(), out);
    }

    /// One second of an SV stream: a second publisher, or samples lost, repeated or out of
    /// order beyond [`MAX_SV_DISCONTINUITIES`].
    pub fn sv_second(
        &mut self,
        v: &L2View,
        ts: Timestamp,
        s: &SvSecond,
        sent: &mut Vec<u64>,
        out: &mut Vec<Signal>,
    ) {
        let pol = &*self.policy;
        let mut fx = Findings { out, sent };
        if let Some(other) = s.other_publisher {
            let o = mac(other);
            let rule = &rules::SV_SPOOFING;
            fx.send(pol, rule, &[s.sv_id.as_str(), "#", o.as_str()], ts, || {
                pol.l2_observation(
                    rule,
                    ts,
                    v,
                    other,
                    format!(
                        "svID {} published from {o} as well as from {}",
                        s.sv_id,
                        mac(s.publisher)
                    ),
                    Comparison {
                        observed: json!({ "sv_id": s.sv_id, "publisher": o }),
                        expected: json!({ "publisher": mac(s.publisher) }),
                    },
                )
            });
        }
        let bad = s.lost + s.repeated + s.out_of_order;
        if bad > MAX_SV_DISCONTINUITIES {
            let rule = &rules::SV_DISCONTINUITY;
            fx.send(pol, rule, &[s.sv_id.as_str()], ts, || {
                pol.l2_observation(
                    rule,
                    ts,
                    v,
                    s.publisher,
                    format!(
                        "svID {}: {} samples lost, {} repeated, {} out of order in one second ({} heard)",
                        s.sv_id, s.lost, s.repeated, s.out_of_order, s.samples
                    ),
                    Comparison {
                        observed: json!({ "sv_id": s.sv_id, "samples": s.samples, "lost": s.lost, "repeated": s.repeated, "out_of_order": s.out_of_order }),
                        expected: json!({ "discontinuities_at_most": MAX_SV_DISCONTINUITIES }),
                    },
                )
            });
        }
    }
}
