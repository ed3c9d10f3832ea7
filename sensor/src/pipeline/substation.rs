//! Layer-2 flows: GOOSE, Sampled Values and PROFINET frames, which carry no IP header, as
//! flows of their own (sender MAC, destination, APPID or PROFINET frame id), held by the
//! worker that judges their stream (the dispatcher sends a gocbRef's or svID's frames to
//! one worker, and a pair of MACs' PROFINET frames). Bounded
//! (`flows.max_l2_flows`) and ended when idle (`flows.l2_idle_timeout_secs`), with their
//! own counters.
//!
//! Each GOOSE PDU is one event (`protocol` `goose`) and is judged by the stream's rules
//! ([`GooseWatch`]); Sampled Values are summarised per stream per second (`protocol` `sv`,
//! one event a second however many frames), and each summary is judged (a second publisher,
//! lost or reordered samples). A flow's first frame meets the zones and conduits.

use serde::Serialize;

use otsensor_baselines::detector::substation::L2View;
use otsensor_baselines::detector::Detector;
use otsensor_baselines::lru::Lru;
use otsensor_baselines::mac::MacAddr;
use otsensor_baselines::streams::StreamSample;
use otsensor_baselines::substation::{Finding, GooseWatch, Silence};
use otsensor_baselines::time::Timestamp;
use otsensor_protocols::goose::summary::{Heard, SvSecond, SvStreams};
use otsensor_protocols::goose::{self, Goose, Header};
use otsensor_protocols::mms::data::Value;
use otsensor_protocols::profinet::{self, FrameKind};
use otsensor_protocols::record::Serialized;

use crate::events::EventBuffer;
use crate::pipeline::batch::L2Pkt;

/// What the layer-2 flows of a worker counted.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct L2Stats {
    /// GOOSE and SV frames.
    pub frames: u64,
    /// Their bytes on the wire.
    pub bytes: u64,
    /// GOOSE PDUs read.
    pub goose_pdus: u64,
    /// SV frames read.
    pub sv_frames: u64,
    /// SV ASDUs (samples) read.
    pub sv_asdus: u64,
    /// SV per-second summaries made.
    pub sv_summaries: u64,
    /// Frames whose PDU did not read (malformed or cut short).
    pub malformed: u64,
    /// Layer-2 flows started.
    pub flows: u64,
    /// Flows ended idle.
    pub flows_idle: u64,
    /// Flows forgotten at the cap (`flows.max_l2_flows`).
    pub flows_evicted: u64,
    /// Flows still open when the input ended.
    pub flows_end_of_input: u64,
    /// Most flows held at once.
    pub flows_peak: usize,
    /// GOOSE control blocks forgotten to make room.
    pub goose_streams_evicted: u64,
    /// SV ASDUs of streams not followed (the stream table was full).
    pub sv_streams_refused: u64,
    /// PROFINET DCP PDUs read.
    pub pn_dcp_pdus: u64,
    /// PROFINET cyclic real-time frames (counted, not parsed).
    pub pn_rt_cyclic: u64,
    /// PROFINET alarm frames.
    pub pn_alarms: u64,
    /// Other PROFINET frames (synchronisation, reserved frame ids).
    pub pn_other: u64,
}

impl L2Stats {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &L2Stats) {
        self.frames += o.frames;
        self.bytes += o.bytes;
        self.goose_pdus += o.goose_pdus;
        self.sv_frames += o.sv_frames;
        self.sv_asdus += o.sv_asdus;
        self.sv_summaries += o.sv_summaries;
        self.malformed += o.malformed;
        self.flows += o.flows;
        self.flows_idle += o.flows_idle;
        self.flows_evicted += o.flows_evicted;
        self.flows_end_of_input += o.flows_end_of_input;
        self.flows_peak += o.flows_peak;
        self.goose_streams_evicted += o.goose_streams_evicted;
        self.sv_streams_refused += o.sv_streams_refused;
        self.pn_dcp_pdus += o.pn_dcp_pdus;
        self.pn_rt_cyclic += o.pn_rt_cyclic;
        self.pn_alarms += o.pn_alarms;
        self.pn_other += o.pn_other;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: [u8; 6],
    dst: [u8; 6],
    appid: u16,
    ethertype: u16,
}

#[derive(Debug)]
struct Flow {
    view: L2View,
    /// Alerts this flow has sent in full (later ones go as repeats).
    sent: Vec<u64>,
}

/// One worker's layer-2 flows and substation judges.
#[derive(Debug)]
pub struct L2Flows {
    flows: Lru<Key, Flow>,
    idle_ns: i64,
    goose: GooseWatch,
    sv: SvStreams,
    findings: Vec<Finding>,
    silences: Vec<Silence>,
    stats: L2Stats,
}

/// One end of a layer-2 event.
#[derive(Serialize)]
struct End {
    mac: MacAddr,
}

/// A GOOSE PDU as an event line.
#[derive(Serialize)]
struct GooseEvent<'a> {
    ts: Timestamp,
    protocol: &'static str,
    flow_id: u64,
    packet: u64,
    src: End,
    dst: End,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<u16>,
    appid: u16,
    gocb_ref: &'a str,
    dat_set: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    go_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    st_num: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sq_num: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_allowed_to_live: Option<u32>,
    simulation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    conf_rev: Option<u32>,
    nds_com: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_dat_set_entries: Option<u32>,
    values: &'a [Value],
}

/// A PROFINET DCP PDU as an event line.
#[derive(Serialize)]
struct DcpEvent<'a> {
    ts: Timestamp,
    protocol: &'static str,
    direction: &'static str,
    flow_id: u64,
    packet: u64,
    src: End,
    dst: End,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<u16>,
    function_code: u8,
    function: &'static str,
    operation: &'static str,
    service_type: &'static str,
    frame_id: u16,
    #[serde(flatten)]
    dcp: &'a profinet::Dcp,
}

/// A PROFINET alarm frame as an event line.
#[derive(Serialize)]
struct AlarmEvent {
    ts: Timestamp,
    protocol: &'static str,
    flow_id: u64,
    packet: u64,
    src: End,
    dst: End,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<u16>,
    frame_id: u16,
    function: &'static str,
    #[serde(flatten)]
    alarm: profinet::Alarm,
}

/// One second of an SV stream as an event line.
#[derive(Serialize)]
struct SvEvent<'a> {
    ts: Timestamp,
    protocol: &'static str,
    flow_id: u64,
    packet: u64,
    src: End,
    sv_id: &'a str,
    samples: u64,
    lost: u64,
    repeated: u64,
    out_of_order: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    conf_rev: Option<u32>,
    conf_rev_changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    smp_synch: Option<u8>,
    unsynchronised: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    other_publisher: Option<MacAddr>,
}

/// Where a frame's judgements go: the worker's detector and event buffer.
pub struct L2Ctx<'a> {
    /// The worker's detector.
    pub detector: &'a mut Detector,
    /// The worker's events and signals.
    pub outbuf: &'a mut EventBuffer,
    /// Capture interfaces by index (zones by interface).
    pub interfaces: &'a [String],
}

impl L2Flows {
    /// At most `max_flows` flows, ended after `idle_ns` of silence.
    pub fn new(max_flows: usize, idle_ns: i64) -> L2Flows {
        L2Flows {
            flows: Lru::new(max_flows),
            idle_ns,
            goose: GooseWatch::default(),
            sv: SvStreams::default(),
            findings: Vec::new(),
            silences: Vec::new(),
            stats: L2Stats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> L2Stats {
        let mut s = self.stats.clone();
        s.goose_streams_evicted = self.goose.evicted;
        s.sv_streams_refused = self.sv.refused;
        s
    }

    /// Flows held now.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// One GOOSE or SV frame.
    pub fn frame(&mut self, p: &L2Pkt, frame: &[u8], cx: &mut L2Ctx<'_>) {
        self.stats.frames += 1;
        self.stats.bytes += u64::from(p.wire_len);
        let parsed = goose::header(frame)
            .map(|(h, pdu)| (h, pdu, None))
            .or_else(|| {
                profinet::header(frame).map(|(mut h, id, rest)| {
                    let kind = FrameKind::of(id);
                    // DCP flows are one per pair of MACs; real-time ones one per frame id.
                    if kind == FrameKind::Dcp {
                        h.appid = 0;
                    }
                    (h, rest, Some((id, kind)))
                })
            });
        let Some((h, pdu, pn)) = parsed else {
            self.stats.malformed += 1;
            return;
        };
        let ts_ns = p.ts.as_nanos();
        let key = Key {
            src: h.src,
            dst: h.dst,
            appid: h.appid,
            ethertype: h.ethertype,
        };
        let mut new = false;
        let (flow, evicted) = self.flows.entry(key, ts_ns, || {
            new = true;
            let iface = cx.interfaces.get(usize::from(p.iface)).map(String::as_str);
            let (src_zone, dst_zone) = cx.detector.policy().l2_zones(&h, iface);
            Flow {
                view: L2View {
                    id: p.index,
                    protocol: match (h.ethertype, pn) {
                        (goose::GOOSE, _) => "goose",
                        (goose::SV, _) => "sv",
                        (_, Some((_, FrameKind::Dcp))) => "pn_dcp",
                        _ => "pn_rt",
                    },
                    header: h,
                    src_zone,
                    dst_zone,
                },
                sent: Vec::new(),
            }
        });
        if evicted.is_some() {
            self.stats.flows_evicted += 1;
        }
        // The newest header (its VLAN priority may change); zones stay those of the start.
        flow.view.header = h;
        if new {
            self.stats.flows += 1;
            self.stats.flows_peak = self.stats.flows_peak.max(self.flows.len());
            let Some(flow) = self.flows.touch(&key, ts_ns) else {
                return;
            };
            let scratch = cx.outbuf.alert_scratch();
            cx.detector
                .l2_started(&flow.view, p.ts, &mut flow.sent, scratch);
            cx.outbuf.commit_alerts(p.index, flow.view.id);
        }
        let Some(flow) = self.flows.touch(&key, ts_ns) else {
            return;
        };
        if let Some((id, kind)) = pn {
            profinet_frame(&mut self.stats, p, &h, id, kind, pdu, flow, cx);
        } else if h.ethertype == goose::GOOSE {
            match goose::goose(pdu) {
                Some(g) => {
                    self.stats.goose_pdus += 1;
                    goose_pdu(p, &h, &g, flow, &mut self.goose, &mut self.findings, cx);
                }
                None => self.stats.malformed += 1,
            }
        } else {
            match goose::sv(pdu) {
                Some(asdus) => {
                    self.stats.sv_frames += 1;
                    let at = Heard {
                        flow_id: flow.view.id,
                        packet: p.index,
                    };
                    for a in &asdus {
                        self.stats.sv_asdus += 1;
                        if let Some(done) = self.sv.asdu(ts_ns, h.src, at, a) {
                            self.stats.sv_summaries += 1;
                            let known = done.flow_id == flow.view.id;
                            sv_summary(p.index, &flow.view, known, &done, &mut flow.sent, cx);
                        }
                    }
                }
                None => self.stats.malformed += 1,
            }
        }
    }

    /// The round's end at `now`: flows idle past their timeout end, GOOSE streams silent
    /// past twice their time allowed to live and SV streams that stopped are reported
    /// (keyed at `upto`, the first frame of the next round).
    pub fn sweep(&mut self, now: Timestamp, upto: u64, cx: &mut L2Ctx<'_>) {
        let now_ns = now.as_nanos();
        self.stats.flows_idle += self.flows.drop_idle(now_ns.saturating_sub(self.idle_ns)) as u64;
        self.goose.silent(now_ns, &mut self.silences);
        for s in self.silences.drain(..) {
            let scratch = cx.outbuf.alert_scratch();
            cx.detector.goose_silence(&s, now, scratch);
            cx.outbuf.commit_alerts(upto, 0);
        }
        for done in self.sv.due(now_ns) {
            self.summary_of_stream(&done, upto, cx);
        }
    }

    /// The input ended: the last second of every SV stream is summarised, the flows end.
    pub fn finish(&mut self, last: u64, cx: &mut L2Ctx<'_>) {
        for done in self.sv.flush() {
            self.summary_of_stream(&done, last, cx);
        }
        self.stats.flows_end_of_input += self.flows.len() as u64;
        while self.flows.pop_oldest().is_some() {}
    }

    /// A summary made without a frame of its stream at hand: judged with the flow of its
    /// first frame if that flow is still held.
    fn summary_of_stream(&mut self, done: &SvSecond, at: u64, cx: &mut L2Ctx<'_>) {
        self.stats.sv_summaries += 1;
        let found = self
            .flows
            .iter()
            .find(|(_, f)| f.view.id == done.flow_id)
            .map(|(k, _)| *k);
        let mut spare = Vec::new();
        let (view, known, sent) = match found.and_then(|k| self.flows.get_mut(&k)) {
            Some(f) => (f.view, true, &mut f.sent),
            None => {
                let h = Header {
                    src: done.publisher,
                    dst: [0; 6],
                    vlan: None,
                    ethertype: goose::SV,
                    appid: 0,
                    length: 0,
                    simulated: false,
                };
                let (src_zone, dst_zone) = cx.detector.policy().l2_zones(&h, None);
                let v = L2View {
                    id: done.flow_id,
                    protocol: "sv",
                    header: h,
                    src_zone,
                    dst_zone,
                };
                (v, false, &mut spare)
            }
        };
        sv_summary(at, &view, known, done, sent, cx);
    }
}

/// A PROFINET frame: cyclic data counted, an alarm an event, DCP an event and judged.
#[allow(clippy::too_many_arguments)]
fn profinet_frame(
    stats: &mut L2Stats,
    p: &L2Pkt,
    h: &Header,
    id: u16,
    kind: FrameKind,
    rest: &[u8],
    flow: &mut Flow,
    cx: &mut L2Ctx<'_>,
) {
    let ends = |h: &Header| {
        (
            End {
                mac: MacAddr(h.src),
            },
            End {
                mac: MacAddr(h.dst),
            },
        )
    };
    match kind {
        FrameKind::Cyclic => stats.pn_rt_cyclic += 1,
        FrameKind::Other => stats.pn_other += 1,
        FrameKind::Alarm { high } => {
            let Some(a) = profinet::alarm(rest) else {
                stats.malformed += 1;
                return;
            };
            stats.pn_alarms += 1;
            let (src, dst) = ends(h);
            l2_event(
                cx,
                p.index,
                &flow.view,
                p.ts,
                &mut flow.sent,
                &AlarmEvent {
                    ts: p.ts,
                    protocol: "pn_rt",
                    flow_id: flow.view.id,
                    packet: p.index + 1,
                    src,
                    dst,
                    vlan: h.vlan.map(|v| v.0),
                    frame_id: id,
                    function: if high { "alarm_high" } else { "alarm_low" },
                    alarm: a,
                },
            );
            cx.outbuf.commit_alerts(p.index, flow.view.id);
        }
        FrameKind::Dcp => {
            let Some(d) = profinet::dcp(id, rest) else {
                stats.malformed += 1;
                return;
            };
            stats.pn_dcp_pdus += 1;
            if cx.outbuf.enabled() || cx.detector.sigma_wants("pn_dcp") {
                let (src, dst) = ends(h);
                let response = d.is_response();
                l2_event(
                    cx,
                    p.index,
                    &flow.view,
                    p.ts,
                    &mut flow.sent,
                    &DcpEvent {
                        ts: p.ts,
                        protocol: "pn_dcp",
                        direction: if response { "response" } else { "request" },
                        flow_id: flow.view.id,
                        packet: p.index + 1,
                        src,
                        dst,
                        vlan: h.vlan.map(|v| v.0),
                        function_code: d.service_id,
                        function: d.service_name(),
                        operation: match d.service_id {
                            3 => "read",
                            4 => "configuration",
                            _ => "identify",
                        },
                        service_type: match d.service_type {
                            0 => "request",
                            1 => "response",
                            5 => "not_supported",
                            _ => "reserved",
                        },
                        frame_id: id,
                        dcp: &d,
                    },
                );
            }
            let scratch = cx.outbuf.alert_scratch();
            cx.detector
                .pn_dcp(&flow.view, p.ts, &d, &mut flow.sent, scratch);
            cx.outbuf.commit_alerts(p.index, flow.view.id);
        }
    }
}

/// A layer-2 event: its protocol and flow.
trait L2Record: Serialize {
    fn protocol(&self) -> &'static str;
    fn flow_id(&self) -> u64;
}

macro_rules! l2_record {
    ($($t:ty),*) => {
        $(impl L2Record for $t {
            fn protocol(&self) -> &'static str {
                self.protocol
            }
            fn flow_id(&self) -> u64 {
                self.flow_id
            }
        })*
    };
}

l2_record!(GooseEvent<'_>, DcpEvent<'_>, AlarmEvent, SvEvent<'_>);

/// A layer-2 record of the flow `view`, keyed at packet `at`: written when events are
/// recorded, and tried against the Sigma rules of its protocol (their alerts wait in the
/// event buffer's scratch for the caller to commit).
fn l2_event<T: L2Record>(
    cx: &mut L2Ctx<'_>,
    at: u64,
    view: &L2View,
    ts: Timestamp,
    sent: &mut Vec<u64>,
    ev: &T,
) {
    cx.outbuf.emit(at, ev.flow_id(), ev);
    let service = ev.protocol();
    if cx.detector.sigma_wants(service) {
        let rec = Serialized { service, value: ev };
        let scratch = cx.outbuf.alert_scratch();
        cx.detector.sigma_l2(&rec, view, ts, sent, scratch);
    }
}

/// One GOOSE PDU: its event, then its stream's judgement.
fn goose_pdu(
    p: &L2Pkt,
    h: &Header,
    g: &Goose,
    flow: &mut Flow,
    watch: &mut GooseWatch,
    findings: &mut Vec<Finding>,
    cx: &mut L2Ctx<'_>,
) {
    if cx.outbuf.enabled() || cx.detector.sigma_wants("goose") {
        l2_event(
            cx,
            p.index,
            &flow.view,
            p.ts,
            &mut flow.sent,
            &GooseEvent {
                ts: p.ts,
                protocol: "goose",
                flow_id: flow.view.id,
                packet: p.index + 1,
                src: End {
                    mac: MacAddr(h.src),
                },
                dst: End {
                    mac: MacAddr(h.dst),
                },
                vlan: h.vlan.map(|v| v.0),
                appid: h.appid,
                gocb_ref: &g.gocb_ref,
                dat_set: &g.dat_set,
                go_id: g.go_id.as_deref(),
                t: g.t.as_deref(),
                st_num: g.st_num,
                sq_num: g.sq_num,
                time_allowed_to_live: g.time_allowed_to_live,
                simulation: g.simulation || h.simulated,
                conf_rev: g.conf_rev,
                nds_com: g.nds_com,
                num_dat_set_entries: g.num_dat_set_entries,
                values: &g.all_data,
            },
        );
    }
    let repeat_ms = watch.frame(p.ts.as_nanos(), h, g, findings);
    let scratch = cx.outbuf.alert_scratch();
    for f in findings.drain(..) {
        cx.detector
            .goose_finding(&flow.view, p.ts, &g.gocb_ref, &f, &mut flow.sent, scratch);
    }
    let sample = StreamSample {
        protocol: "goose",
        id: &g.gocb_ref,
        publisher: MacAddr(h.src),
        destination: MacAddr(h.dst),
        appid: h.appid,
        vlan: h.vlan.map(|v| v.0),
        dat_set: &g.dat_set,
        conf_rev: g.conf_rev,
        repeat_ms,
    };
    cx.detector
        .l2_stream(&flow.view, p.ts, &sample, &mut flow.sent, scratch);
    cx.outbuf.commit_alerts(p.index, flow.view.id);
}

/// One second of an SV stream: its event and its judgement, keyed at packet `at`; with
/// `known_flow`, `view` is the stream's flow and the second is learned or judged against
/// the baseline too.
fn sv_summary(
    at: u64,
    view: &L2View,
    known_flow: bool,
    s: &SvSecond,
    sent: &mut Vec<u64>,
    cx: &mut L2Ctx<'_>,
) {
    let ts = Timestamp::from_nanos(s.second.saturating_mul(1_000_000_000));
    if cx.outbuf.enabled() || cx.detector.sigma_wants("sv") {
        l2_event(
            cx,
            at,
            view,
            ts,
            sent,
            &SvEvent {
                ts,
                protocol: "sv",
                flow_id: s.flow_id,
                packet: s.last_packet + 1,
                src: End {
                    mac: MacAddr(s.publisher),
                },
                sv_id: &s.sv_id,
                samples: s.samples,
                lost: s.lost,
                repeated: s.repeated,
                out_of_order: s.out_of_order,
                conf_rev: s.conf_rev,
                conf_rev_changed: s.conf_rev_changed,
                smp_synch: s.smp_synch,
                unsynchronised: s.unsynchronised,
                other_publisher: s.other_publisher.map(MacAddr),
            },
        );
    }
    let scratch = cx.outbuf.alert_scratch();
    cx.detector.sv_second(view, ts, s, sent, scratch);
    if known_flow {
        let h = &view.header;
        let sample = StreamSample {
            protocol: "sv",
            id: &s.sv_id,
            publisher: MacAddr(s.publisher),
            destination: MacAddr(h.dst),
            appid: h.appid,
            vlan: h.vlan.map(|v| v.0),
            dat_set: "",
            conf_rev: s.conf_rev,
            repeat_ms: None,
        };
        cx.detector.l2_stream(view, ts, &sample, sent, scratch);
    }
    cx.outbuf.commit_alerts(at, s.flow_id);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use otsensor_baselines::alert::Signal;
    use otsensor_baselines::detector::Shared;

    use super::*;
    use crate::events::OutBatch;

    const NS: i64 = 1_000_000_000;
    const IED: [u8; 6] = [0, 0xa0, 0xf4, 0, 0, 1];

    fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, v.len() as u8];
        out.extend(v);
        out
    }

    /// A GOOSE frame of `IED1LD0/LLN0$GO$gcb01` (short fields only).
    fn frame(st: u8, sq: u8, tal_ms: u16, simulation: bool, conf_rev: u8) -> Vec<u8> {
        let mut pdu = tlv(0x80, b"IED1LD0/LLN0$GO$gcb01");
        pdu.extend(tlv(0x81, &tal_ms.to_be_bytes()));
        pdu.extend(tlv(0x82, b"IED1LD0/LLN0$DS1"));
        pdu.extend(tlv(0x85, &[st]));
        pdu.extend(tlv(0x86, &[sq]));
        pdu.extend(tlv(0x87, &[u8::from(simulation)]));
        pdu.extend(tlv(0x88, &[conf_rev]));
        pdu.extend(tlv(0xab, &[0x83, 1, 1]));
        let pdu = tlv(0x61, &pdu);
        let mut f = vec![0x01, 0x0c, 0xcd, 0x01, 0x00, 0x01];
        f.extend(IED);
        f.extend([0x88, 0xb8, 0x00, 0x01]);
        f.extend(((pdu.len() + 8) as u16).to_be_bytes());
        f.extend([0, 0, 0, 0]);
        f.extend(pdu);
        f
    }

    fn rules(b: &OutBatch) -> Vec<&'static str> {
        b.alerts
            .iter()
            .filter_map(|(_, s)| match s {
                Signal::Obs(o) => Some(o.rule.id),
                _ => None,
            })
            .collect()
    }

    /// The findings of a stream reach their rules through the worker's layer-2 flows: the
    /// simulation flag and a new confRev with the frame that shows them, the silence at the
    /// round's end past twice the time allowed to live (without a next frame); one event per
    /// PDU; the flow ends idle.
    #[test]
    fn simulation_confrev_and_silence_reach_their_rules() {
        let mut det = Detector::new(Arc::new(Shared::default()));
        let mut outbuf = EventBuffer::new(true);
        let mut l2 = L2Flows::new(16, 60 * NS);
        let mut cx = L2Ctx {
            detector: &mut det,
            outbuf: &mut outbuf,
            interfaces: &[],
        };
        let frames = [
            (0, frame(1, 0, 1000, false, 1)),
            (NS / 2, frame(1, 1, 1000, true, 2)),
        ];
        for (i, (t, f)) in frames.iter().enumerate() {
            let p = L2Pkt {
                index: i as u64,
                iface: 0,
                ts: Timestamp::from_nanos(*t),
                wire_len: f.len() as u32,
                frame: (0, f.len() as u32),
            };
            l2.frame(&p, f, &mut cx);
        }
        l2.sweep(Timestamp::from_nanos(2 * NS), 2, &mut cx);
        let b = cx.outbuf.take(0, Timestamp::default(), OutBatch::default());
        assert_eq!(b.marks.len(), 2, "one event per PDU");
        assert_eq!(
            rules(&b),
            [
                "protocol.goose_simulation",
                "protocol.goose_confrev_changed"
            ]
        );
        l2.sweep(Timestamp::from_nanos(3 * NS), 2, &mut cx);
        let b = cx.outbuf.take(1, Timestamp::default(), OutBatch::default());
        assert_eq!(rules(&b), ["protocol.goose_silent"]);
        l2.sweep(Timestamp::from_nanos(100 * NS), 2, &mut cx);
        let s = l2.stats();
        assert_eq!((s.goose_pdus, s.flows, s.flows_idle), (2, 1, 1));
        assert!(l2.is_empty());
    }
}
