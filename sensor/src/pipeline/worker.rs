//! A worker: owns a share of the flows (by the hash of their keys), runs TCP reassembly and hands
//! streams and datagrams to the protocol handlers. No locks on the packet path; the only
//! shared structure it touches is the asset inventory, once when a flow starts and once when
//! it ends.

use std::sync::Arc;

use serde::Serialize;

use otsensor_baselines::assets::{AssetInventory, Endpoint, FlowObservation};
use otsensor_baselines::detector::{Detector, Shared};
use otsensor_baselines::time::Timestamp;
use otsensor_protocols::identity::{Sighting, Who};
use otsensor_protocols::record::Serialized;
use otsensor_protocols::{applabel, Direction};

use crate::decode::{ip_to_std, ipproto, tcpflags, Summary};
use crate::events::{CaptureRequest, EventBuffer, EvidenceCapture, OutBatch};
use crate::flow::table::{Class, FlowId, Limits};
use crate::flow::{FlowKey, FlowTable, Hashed, ReassemblyConfig, TcpCounters};
use crate::pipeline::batch::{Batch, Pkt};
use crate::pipeline::evidence::Rings;
use crate::pipeline::flowrec::FlowLabel;
use crate::registry::{EndpointInfo, FlowInfo, ProtoCounters, Registry, Transport};
use otsensor_baselines::community_id::LazyCommunityId;

use super::application::AppEnv;
pub use super::application::AppStats;
use super::flowstate::*;

const NS: i64 = 1_000_000_000;

/// Settings of one worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Flow table caps and idle timeouts per class of flow, for this worker.
    pub limits: Limits,
    /// Reassembly caps.
    pub reassembly: ReassemblyConfig,
    /// Whether `--events` is on.
    pub events: bool,
    /// Capture interfaces (live capture) by index, for zones defined by interface.
    pub interfaces: Vec<String>,
    /// Evidence rings, when `[evidence]` has a directory.
    pub evidence: Option<super::evidence::Settings>,
    /// Whether flow records are written (`--flows`).
    pub flows: bool,
    /// Interim flow records every this many nanoseconds of a flow's life.
    pub interim_ns: i64,
    /// The sensor's id (flow uids).
    pub sensor_id: String,
    /// Most layer-2 (GOOSE, SV) flows this worker holds.
    pub max_l2_flows: usize,
    /// Idle timeout of layer-2 flows, ns.
    pub l2_idle_ns: i64,
    /// The run's flow key hasher: the dispatcher's (packets come hashed by it).
    pub hasher: crate::flow::FlowHasher,
}

impl WorkerConfig {
    /// From the config file's flow and reassembly sections, for one of `workers` workers.
    pub fn from_config(cfg: &crate::config::Config, workers: usize, events: bool) -> WorkerConfig {
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX / NS).saturating_mul(NS);
        let f = &cfg.flows;
        let n = workers.max(1);
        // Indexed by Class: half-open, open, closed, UDP, other.
        let timeout = [
            secs(f.tcp_half_open_timeout_secs),
            secs(f.tcp_idle_timeout_secs),
            secs(f.tcp_closed_timeout_secs),
            secs(f.udp_idle_timeout_secs),
            secs(f.other_idle_timeout_secs),
        ];
        // Emergency mode shortens only the classes a flood fills: half-open and closed.
        let mut emergency_timeout = timeout;
        for c in [Class::HalfOpen, Class::Closed] {
            emergency_timeout[c as usize] = timeout[c as usize].min(secs(f.emergency_timeout_secs));
        }
        WorkerConfig {
            limits: Limits {
                max_flows: f.max_flows.div_ceil(n),
                max_half_open: f.max_half_open.div_ceil(n),
                timeout,
                emergency_timeout,
            },
            reassembly: cfg.reassembly.to_reassembly(),
            events,
            flows: false,
            interim_ns: secs(f.interim_secs),
            max_l2_flows: f.max_l2_flows.div_ceil(n),
            l2_idle_ns: secs(f.l2_idle_timeout_secs),
            sensor_id: cfg.sensor.id.clone(),
            interfaces: Vec::new(),
            hasher: crate::flow::FlowHasher::fixed(),
            evidence: cfg
                .evidence
                .dir
                .as_ref()
                .map(|_| super::evidence::Settings {
                    before: cfg.evidence.packets_before,
                    after: cfg.evidence.packets_after,
                    max_flow_bytes: cfg.evidence.max_flow_bytes,
                    max_worker_bytes: cfg.evidence.max_memory_bytes / n,
                }),
        }
    }
}

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Both directions sent FIN (and the connection then went quiet).
    Fin,
    /// A RST (and the connection then went quiet).
    Rst,
    /// Idle longer than its timeout.
    Idle,
    /// Evicted at the flow table cap.
    Evicted,
    /// A new SYN reused the 5-tuple of a closed connection.
    PortReuse,
    /// The input ended (replay) or the capture stopped.
    EndOfInput,
}

impl EndReason {
    /// All reasons, in stats order.
    pub const ALL: [EndReason; 6] = [
        EndReason::Fin,
        EndReason::Rst,
        EndReason::Idle,
        EndReason::Evicted,
        EndReason::PortReuse,
        EndReason::EndOfInput,
    ];

    /// Name in stats.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::Idle => "idle_timeout",
            EndReason::Evicted => "evicted",
            EndReason::PortReuse => "port_reuse",
            EndReason::EndOfInput => "end_of_input",
        }
    }
}

/// What a worker counted; summed over workers into the final stats.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerStats {
    /// Packets processed.
    pub packets: u64,
    /// Flows created, by transport.
    pub flows_tcp: u64,
    /// UDP flows created.
    pub flows_udp: u64,
    /// Other IP flows created.
    pub flows_other: u64,
    /// Flows ended, indexed like [`EndReason::ALL`].
    pub flows_ended: [u64; 6],
    /// Most flows held at once.
    pub flows_peak: usize,
    /// Times the flow table entered emergency mode.
    pub flows_emergencies: u64,
    /// TCP reassembly counters.
    pub tcp: TcpCounters,
    /// Protocol identification and per-protocol counters.
    pub app: AppStats,
    /// Events emitted.
    pub events: u64,
    /// Events lost to serialization errors.
    pub event_errors: u64,
    /// With evidence on: packets not kept in a flow's ring (the worker's budget was spent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_refused: Option<u64>,
    /// Layer-2 (GOOSE, SV) flows.
    pub l2: super::substation::L2Stats,
}

impl WorkerStats {
    /// Flows ended for this reason.
    pub fn ended(&self, reason: EndReason) -> u64 {
        EndReason::ALL
            .iter()
            .position(|r| *r == reason)
            .and_then(|i| self.flows_ended.get(i).copied())
            .unwrap_or_default()
    }

    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &WorkerStats) {
        self.packets += o.packets;
        self.flows_tcp += o.flows_tcp;
        self.flows_udp += o.flows_udp;
        self.flows_other += o.flows_other;
        for (a, b) in self.flows_ended.iter_mut().zip(o.flows_ended) {
            *a += b;
        }
        self.flows_peak += o.flows_peak;
        self.flows_emergencies += o.flows_emergencies;
        self.tcp.add(&o.tcp);
        self.app.add(&o.app);
        self.events += o.events;
        self.event_errors += o.event_errors;
        if let Some(n) = o.evidence_refused {
            *self.evidence_refused.get_or_insert(0) += n;
        }
        self.l2.add(&o.l2);
    }
}

/// One worker thread's state.
pub struct Worker {
    cfg: WorkerConfig,
    detector: Detector,
    registry: Arc<Registry>,
    assets: Arc<AssetInventory>,
    table: FlowTable<Flow>,
    outbuf: EventBuffer,
    stats: WorkerStats,
    ended: Vec<(FlowKey, Flow)>,
    now: Timestamp,
    upto: u64,
    /// Evidence rings, with evidence on; completed captures wait in `captures`.
    rings: Option<Rings>,
    captures: Vec<EvidenceCapture>,
    /// Captures the output thread asks for (alerts of the anomaly engine), with evidence on.
    pub capture_requests: Option<crossbeam_channel::Receiver<CaptureRequest>>,
    /// What the current packet says about devices (names, software).
    sightings: Vec<Sighting>,
    /// GOOSE and SV flows.
    l2: super::substation::L2Flows,
}

impl Worker {
    /// A worker with an empty flow table.
    pub fn new(cfg: WorkerConfig, registry: Arc<Registry>, shared: Arc<Shared>) -> Worker {
        let n = registry.protocols().len();
        let assets = Arc::clone(&shared.assets);
        let mut outbuf = EventBuffer::new(cfg.events);
        if cfg.evidence.is_some() {
            outbuf.want_evidence();
        }
        if cfg.flows {
            outbuf.want_flows();
        }
        Worker {
            detector: Detector::new(shared),
            table: FlowTable::new(cfg.limits, cfg.hasher.clone()),
            outbuf,
            stats: WorkerStats {
                app: AppStats {
                    protocols: vec![ProtoCounters::default(); n],
                    ..AppStats::default()
                },
                ..WorkerStats::default()
            },
            ended: Vec::new(),
            now: Timestamp::default(),
            upto: 0,
            rings: cfg.evidence.map(Rings::new),
            captures: Vec::new(),
            capture_requests: None,
            sightings: Vec::new(),
            l2: super::substation::L2Flows::new(cfg.max_l2_flows, cfg.l2_idle_ns),
            cfg,
            registry,
            assets,
        }
    }

    /// Processes one round's batch: every packet, then idle expiry at the round's time.
    pub fn process_batch(&mut self, batch: &Batch) {
        if self.detector.refresh() {
            self.rezone();
        }
        self.answer_capture_requests();
        for p in &batch.pkts {
            self.packet(p, batch.payload(p), batch.frame(p));
        }
        self.stats.packets += batch.pkts.len() as u64;
        if !batch.l2.is_empty() {
            // Layer-2 state is apart from the IP flows': their order within the round does
            // not matter (events and signals are merged by packet index).
            let (l2, mut cx) = self.l2_ctx();
            for p in &batch.l2 {
                l2.frame(p, batch.l2_frame(p), &mut cx);
            }
        }
        self.now = self.now.max(batch.now);
        self.upto = batch.upto;
        self.sweep(batch.now, batch.upto);
        let (l2, mut cx) = self.l2_ctx();
        l2.sweep(batch.now, batch.upto, &mut cx);
    }

    /// The layer-2 flows and what they need of the worker.
    fn l2_ctx(
        &mut self,
    ) -> (
        &mut super::substation::L2Flows,
        super::substation::L2Ctx<'_>,
    ) {
        (
            &mut self.l2,
            super::substation::L2Ctx {
                detector: &mut self.detector,
                outbuf: &mut self.outbuf,
                interfaces: &self.cfg.interfaces,
            },
        )
    }

    /// After a configuration reload: the zones of every flow again, under the new zones.
    fn rezone(&mut self) {
        let zones = &self.detector.policy().zones;
        let interfaces = &self.cfg.interfaces;
        self.table.for_each_mut(|f| {
            let iface = interfaces
                .get(usize::from(f.info.iface))
                .map(String::as_str);
            let (c, v) = (&f.info.client, f.info.vlan);
            f.info.client_zone = zones.lookup_device(c.ip, c.mac, v, iface);
            let s = &f.info.server;
            f.info.server_zone = zones.lookup_device(s.ip, s.mac, v, iface);
        });
    }

    /// The counters so far, and the number of flows held now.
    pub fn snapshot(&self) -> (WorkerStats, usize) {
        let mut s = self.stats.clone();
        s.evidence_refused = self.rings.as_ref().map(|r| r.refused);
        s.events = self.outbuf.emitted;
        s.event_errors = self.outbuf.failed;
        s.l2 = self.l2.stats();
        (s, self.table.len() + self.l2.len())
    }

    /// Hands over the events of the round.
    pub fn take_events(&mut self, round: u64, now: Timestamp, recycled: OutBatch) -> OutBatch {
        self.outbuf.take(round, now, recycled)
    }

    /// Ends every flow (end of input) and returns the final counters.
    pub fn finish(&mut self) -> WorkerStats {
        self.answer_capture_requests();
        // One flow at a time, oldest first: no second copy of the table.
        let (now, idx) = (self.now, u64::MAX);
        while let Some((_, flow)) = self.table.pop_oldest() {
            self.end_flow(flow, EndReason::EndOfInput, now, idx);
        }
        let (l2, mut cx) = self.l2_ctx();
        l2.finish(idx, &mut cx);
        self.stats.l2 = self.l2.stats();
        self.stats.events = self.outbuf.emitted;
        self.stats.event_errors = self.outbuf.failed;
        self.stats.evidence_refused = self.rings.as_ref().map(|r| r.refused);
        self.stats.clone()
    }

    /// The class of a new flow: a TCP connection opened by a SYN is half-open until its
    /// handshake completes or it carries data.
    fn class_of_new(f: &Flow, opened: bool) -> Class {
        match f.proto {
            ipproto::TCP if opened => Class::HalfOpen,
            ipproto::TCP => Class::Open,
            ipproto::UDP => Class::Udp,
            _ => Class::Other,
        }
    }

    fn sweep(&mut self, now: Timestamp, upto: u64) {
        let mut ended = std::mem::take(&mut self.ended);
        self.table.expire(now.as_nanos(), &mut ended);
        self.stats.flows_emergencies = self.table.emergencies;
        for (_, flow) in ended.drain(..) {
            let reason = if flow.tcp_rst {
                EndReason::Rst
            } else if flow.tcp_closed {
                EndReason::Fin
            } else {
                EndReason::Idle
            };
            self.end_flow(flow, reason, now, upto);
        }
        self.ended = ended;
    }

    /// Decides which end of a new flow is the client.
    fn client_is_src(&self, s: &Summary) -> bool {
        let t = match Transport::of(s.proto) {
            Transport::Tcp if s.flags & tcpflags::SYN != 0 => return s.flags & tcpflags::ACK == 0,
            Transport::Other(_) => return true,
            t => t,
        };
        let (src_known, dst_known) = (
            self.registry.is_known_port(t, s.sport),
            self.registry.is_known_port(t, s.dport),
        );
        match (src_known, dst_known) {
            (false, true) => true,
            (true, false) => false,
            // No protocol owns either port: the lower port is the service, except that for UDP
            // the first sender is taken as the client when ports are equal.
            _ if s.sport == s.dport => true,
            _ => s.dport < s.sport,
        }
    }

    fn new_flow(&mut self, key: Hashed, src_is_lo: bool, p: &Pkt, payload: &[u8]) -> u32 {
        let s = &p.sum;
        let client_is_src = self.client_is_src(s);
        let src = EndpointInfo {
            ip: ip_to_std(&s.src),
            port: s.sport,
            mac: None,
        };
        let dst = EndpointInfo {
            ip: ip_to_std(&s.dst),
            port: s.dport,
            mac: None,
        };
        let (client, server) = if client_is_src {
            (src, dst)
        } else {
            (dst, src)
        };
        let zones = &self.detector.policy().zones;
        let iface = self
            .cfg
            .interfaces
            .get(usize::from(p.iface))
            .map(String::as_str);
        // The ends' MACs as this first packet carries them (a zone may list a device's MAC).
        let (client_mac, server_mac) = if client_is_src {
            (s.src_mac, s.dst_mac)
        } else {
            (s.dst_mac, s.src_mac)
        };
        let (client_zone, server_zone) = (
            zones.lookup_device(client.ip, client_mac, s.vlan, iface),
            zones.lookup_device(server.ip, server_mac, s.vlan, iface),
        );
        let transport = Transport::of(s.proto);
        // ICMP: the Community ID hashes the first message's type and code.
        let cid = match (s.proto, payload) {
            (ipproto::ICMP | ipproto::ICMPV6, [t, c, ..]) => {
                LazyCommunityId::new(s.proto, u16::from(*t), u16::from(*c))
            }
            _ => LazyCommunityId::new(s.proto, client.port, server.port),
        };
        *match transport {
            Transport::Tcp => &mut self.stats.flows_tcp,
            Transport::Udp => &mut self.stats.flows_udp,
            Transport::Other(_) => &mut self.stats.flows_other,
        } += 1;
        let flow = Flow {
            info: FlowInfo {
                id: p.index,
                transport,
                client,
                server,
                vlan: s.vlan,
                iface: p.iface,
                client_zone,
                server_zone,
                cid,
            },
            client_is_lo: client_is_src == src_is_lo,
            first_ts: p.ts,
            last_ts: p.ts,
            packets: [0; 2],
            bytes: [0; 2],
            proto: s.proto,
            tcp: Default::default(),
            tcp_closed: false,
            tcp_rst: false,
            app: AppState::Pending,
            probe: Probing {
                flags: if s.proto == ipproto::TCP && !s.is_syn() {
                    MIDSTREAM
                } else {
                    0
                },
                record: (self.cfg.flows
                    || self.detector.sigma_wants(otsensor_baselines::sigma::FLOW))
                .then(Box::default),
                ..Probing::default()
            },
            assets_held: [true; 2],
            reported: ([0; 2], [0; 2]),
            evidence: self.rings.as_ref().map(|_| Box::default()),
        };
        // Opened in the capture: a SYN without ACK, or any first datagram.
        let opened = s.proto != ipproto::TCP || s.is_syn();
        self.detector.flow_started(
            &flow.info.view(),
            p.ts,
            s.proto,
            opened,
            self.outbuf.alert_scratch(),
        );
        self.outbuf.commit_alerts(p.index, flow.info.id);
        let class = Worker::class_of_new(&flow, opened);
        let (id, evicted) = self.table.insert(key, flow, p.clock.as_nanos(), class);
        if let Some((_, old)) = evicted {
            if self.stats.ended(EndReason::Evicted) == 0 {
                tracing::warn!(
                    "A flow table is full: the least recently seen flows are evicted (counted in flows.ended.evicted)."
                );
            }
            self.end_flow(old, EndReason::Evicted, p.ts, p.index);
        }
        self.stats.flows_peak = self.stats.flows_peak.max(self.table.len());
        id
    }

    fn packet(&mut self, p: &Pkt, payload: &[u8], frame: &[u8]) {
        let fid = self.flow_packet(p, payload, frame);
        if self.rings.is_some() {
            self.arm_evidence(fid, p.index);
        }
    }

    /// Starts the captures the output thread asked for, on the flows still held (a flow that
    /// ended meanwhile has none).
    fn answer_capture_requests(&mut self) {
        let Some(rx) = &self.capture_requests else {
            return;
        };
        let reqs: Vec<CaptureRequest> = rx.try_iter().collect();
        let Some(rings) = self.rings.as_mut() else {
            return;
        };
        for r in reqs {
            let (captures, outbuf, upto) = (&mut self.captures, &mut self.outbuf, self.upto);
            self.table.for_each_mut(|f| {
                if f.info.id != r.flow_id {
                    return;
                }
                if let Some(fr) = f.evidence.as_deref_mut() {
                    rings.arm(fr, r.alert_id, r.rule, captures);
                    for c in captures.drain(..) {
                        outbuf.evidence(upto, f.info.id, c);
                    }
                }
            });
        }
    }

    /// An alert first raised on the flow by this packet starts an evidence capture.
    fn arm_evidence(&mut self, fid: FlowId, pkt_index: u64) {
        let full = self.outbuf.take_full();
        let (Some(rings), flow) = (self.rings.as_mut(), self.table.value_mut(fid)) else {
            return;
        };
        if let Some(fr) = flow.evidence.as_deref_mut() {
            for (flow_id, id, rule) in full {
                if flow_id == flow.info.id {
                    rings.arm(fr, id, rule, &mut self.captures);
                }
            }
        }
        for c in self.captures.drain(..) {
            self.outbuf.evidence(pkt_index, flow.info.id, c);
        }
    }

    /// Counts, reassembles and parses a packet of its flow; returns the flow.
    fn flow_packet(&mut self, p: &Pkt, payload: &[u8], frame: &[u8]) -> FlowId {
        let s = &p.sum;
        let (key, src_is_lo) = FlowKey::of(s);
        // Hashed once, by the dispatcher.
        let key = Hashed { key, hash: p.hash };
        let now = p.clock.as_nanos();
        let is_syn = s.is_syn();
        let mut id = self.table.get(&key);
        if let Some(fid) = id {
            let reuse = is_syn && self.table.value_mut(fid).tcp_closed;
            if reuse || self.table.is_expired(fid, now) {
                let (_, flow) = self.table.remove(fid);
                let reason = if reuse {
                    EndReason::PortReuse
                } else {
                    EndReason::Idle
                };
                self.end_flow(flow, reason, p.ts, p.index);
                id = None;
            }
        }
        let (fid, is_new) = match id {
            Some(f) => (f, false),
            None => (self.new_flow(key, src_is_lo, p, payload), true),
        };
        self.table.touch(fid, now);
        let Worker {
            table,
            registry,
            outbuf,
            stats,
            cfg,
            detector,
            assets,
            rings,
            captures,
            sightings,
            ..
        } = self;
        let flow = table.value_mut(fid);
        if let (Some(r), Some(fr)) = (rings.as_mut(), flow.evidence.as_deref_mut()) {
            r.packet(fr, p.ts, p.wire_len, p.dlt, frame, captures);
            for c in captures.drain(..) {
                outbuf.evidence(p.index, flow.info.id, c);
            }
        }
        // A connection picked up midstream: its first payload may say which side is the
        // client (a request line, a ClientHello, a query), where the ports only guessed.
        if flow.probe.unreported()
            && !payload.is_empty()
            && applabel::sent_by_client(payload)
                .is_some_and(|c| c != (src_is_lo == flow.client_is_lo))
        {
            flow.reorient();
        }
        let dir = count_packet(flow, p, src_is_lo, payload.len(), is_new);
        let observations = outbuf.observations;
        if (is_new && !flow.probe.midstream()) || (flow.probe.unreported() && !payload.is_empty()) {
            // The asset inventory hears of the flow once its first packet (midstream: its
            // first payload) is counted: a flow that sees nothing more (a scan's SYN) needs
            // no second report at its end.
            flow.assets_held =
                assets.observe_flow(&observation(flow, None, zones_of(detector, flow), true));
            flow.reported = (flow.packets, flow.bytes);
            flow.probe.set(UNREPORTED, false);
        }
        let mut env = AppEnv {
            registry,
            outbuf: &mut *outbuf,
            detector: &mut *detector,
            stats: &mut stats.app,
            ts: p.ts,
            pkt_index: p.index,
        };
        if is_new {
            if let Transport::Other(_) = flow.info.transport {
                let label = FlowLabel::by_port(&flow.info, registry);
                env.label(&flow.info, &mut flow.probe, label);
            }
        }
        let mut closed_now = false;
        match s.proto {
            ipproto::TCP => {
                if flow.tcp_closed {
                    return fid;
                }
                closed_now = tcp_segment(
                    flow,
                    &mut env,
                    s,
                    payload,
                    dir,
                    &cfg.reassembly,
                    &mut stats.tcp,
                );
                // A connection that closed without payload (a port that answers, a connect
                // scan) is judged by its port now, not when its table entry ends.
                if closed_now && !flow.probe.labelled() && flow.probe.answered() {
                    let label = FlowLabel::by_port(&flow.info, registry);
                    env.label(&flow.info, &mut flow.probe, label);
                }
            }
            ipproto::UDP if !payload.is_empty() => env.datagram(flow, dir, payload),
            _ => {}
        }
        // Names and software the packet gives away (its label decided above, at the latest).
        read_names(flow, dir, payload, p, sightings, assets, detector, outbuf);
        if let Some(rec) = flow.probe.record.as_deref_mut() {
            let raised = outbuf.observations - observations;
            rec.alerts = rec
                .alerts
                .saturating_add(u32::try_from(raised).unwrap_or(u32::MAX));
            if p.ts.as_nanos() - rec.last_record.max(flow.first_ts.as_nanos()) >= cfg.interim_ns {
                rec.last_record = p.ts.as_nanos();
                rec.interims += 1;
                write_record(outbuf, &cfg.sensor_id, flow, None, detector, p.index);
            }
        }
        if closed_now {
            table.set_class(fid, Class::Closed);
        } else if s.proto == ipproto::TCP && table.class(fid) == Class::HalfOpen {
            // The handshake completed (the client acknowledged), or data flowed.
            let handshake_done = dir == Direction::Request
                && s.flags & (tcpflags::ACK | tcpflags::SYN) == tcpflags::ACK;
            if handshake_done || !payload.is_empty() {
                table.set_class(fid, Class::Open);
            }
        }
        fid
    }

    fn end_flow(&mut self, mut flow: Flow, reason: EndReason, ts: Timestamp, pkt_index: u64) {
        if let Some(i) = EndReason::ALL.iter().position(|r| *r == reason) {
            self.stats.flows_ended[i] += 1;
        }
        let observations = self.outbuf.observations;
        let Worker {
            registry,
            outbuf,
            stats,
            detector,
            ..
        } = self;
        let mut env = AppEnv {
            registry,
            outbuf,
            detector,
            stats: &mut stats.app,
            ts,
            pkt_index,
        };
        if flow.proto == ipproto::TCP && !flow.tcp_closed {
            let Flow {
                tcp,
                app,
                info,
                probe,
                ..
            } = &mut flow;
            for (st, d) in tcp
                .iter_mut()
                .zip([Direction::Request, Direction::Response])
            {
                st.flush(&mut stats.tcp, &mut |ev| {
                    env.stream(app, info, probe, d, ev)
                });
            }
        }
        let mut app_protocol = None;
        if let AppState::Active {
            index,
            handler,
            det,
        } = &mut flow.app
        {
            app_protocol = registry
                .protocols()
                .get(usize::from(*index))
                .map(|p| p.name);
            if let Some(mut ctx) = env.ctx(&flow.info, det, usize::from(*index)) {
                handler.on_end(&mut ctx);
            }
        }
        // A flow without payload that the server answered (a connection opened and closed,
        // a port that answers) is judged by its port.
        if !flow.probe.labelled() && flow.probe.answered() {
            let label = FlowLabel::by_port(&flow.info, registry);
            env.label(&flow.info, &mut flow.probe, label);
        }
        if let AppState::Active { det, .. } = std::mem::replace(&mut flow.app, AppState::Done) {
            self.detector
                .end_flow(&flow.info.view(), *det, self.outbuf.alert_scratch());
            self.outbuf.commit_alerts(pkt_index, flow.info.id);
        }
        if let (Some(rings), Some(fr)) = (self.rings.as_mut(), flow.evidence.take()) {
            // Alerts raised at its end start captures of what the ring holds; every capture
            // in progress is complete now.
            let mut fr = *fr;
            for (flow_id, id, rule) in self.outbuf.take_full() {
                if flow_id == flow.info.id {
                    rings.arm(&mut fr, id, rule, &mut self.captures);
                }
            }
            rings.end(fr, &mut self.captures);
            for c in self.captures.drain(..) {
                self.outbuf.evidence(pkt_index, flow.info.id, c);
            }
        }
        let raised = self.outbuf.observations - observations;
        if let Some(rec) = flow.probe.record.as_deref_mut() {
            rec.alerts = rec
                .alerts
                .saturating_add(u32::try_from(raised).unwrap_or(u32::MAX));
            let sensor = &self.cfg.sensor_id;
            write_record(
                &mut self.outbuf,
                sensor,
                &flow,
                Some(reason),
                &mut self.detector,
                pkt_index,
            );
        }
        if flow.probe.unreported() {
            // Picked up midstream and never a payload: its only report.
            let zones = zones_of(&self.detector, &flow);
            self.assets
                .observe_flow(&observation(&flow, app_protocol, zones, true));
        } else if flow.packets != flow.reported.0 || app_protocol.is_some() {
            // Only what the report at the start did not say: nothing, for a flow of one packet.
            let zones = zones_of(&self.detector, &flow);
            self.assets.observe_flow_again(
                &observation(&flow, app_protocol, zones, false),
                flow.assets_held,
            );
        }
    }
}
/// Counts a packet on its flow (packets, bytes, last time, the sender's MAC, whether the
/// server answered); returns its direction.
fn count_packet(
    flow: &mut Flow,
    p: &Pkt,
    src_is_lo: bool,
    payload_len: usize,
    is_new: bool,
) -> Direction {
    let s = &p.sum;
    let dir = if src_is_lo == flow.client_is_lo {
        Direction::Request
    } else {
        Direction::Response
    };
    let d = dir.index();
    flow.packets[d] += 1;
    flow.bytes[d] += u64::from(p.wire_len);
    if p.ts > flow.last_ts {
        flow.last_ts = p.ts;
    }
    let sender = match dir {
        Direction::Request => &mut flow.info.client,
        Direction::Response => &mut flow.info.server,
    };
    if sender.mac.is_none() {
        sender.mac = s.src_mac;
    }
    match s.proto {
        ipproto::TCP => {
            if dir == Direction::Response
                && (flow.probe.midstream() || s.flags & tcpflags::SYN != 0)
            {
                flow.probe.set(ANSWERED, true);
            }
            if let Some(r) = flow.probe.record.as_deref_mut() {
                r.tcp(dir, s.flags, payload_len);
            }
        }
        _ if dir == Direction::Response => flow.probe.set(ANSWERED, true),
        _ => {}
    }
    if is_new && flow.probe.midstream() {
        flow.probe.set(UNREPORTED, true);
    }
    dir
}

/// The names and software a packet gives away about its devices, to the asset inventory
/// and the detector.
#[allow(clippy::too_many_arguments)]
fn read_names(
    flow: &mut Flow,
    dir: Direction,
    payload: &[u8],
    p: &Pkt,
    sightings: &mut Vec<Sighting>,
    assets: &AssetInventory,
    detector: &mut Detector,
    outbuf: &mut EventBuffer,
) {
    let d = dir.index();
    if let Some(r) = flow.probe.reader.filter(|_| !payload.is_empty()) {
        if r.every_packet() || !flow.probe.has(READ[d]) {
            flow.probe.set(READ[d], true);
            let sender = match dir {
                Direction::Request => flow.info.client.ip,
                Direction::Response => flow.info.server.ip,
            };
            if let Some(lease) = r.read(dir == Direction::Request, payload, sightings) {
                assets.observe_lease(&lease);
            }
            for s in sightings.drain(..) {
                assets.observe_sighting(sender, &s, p.ts);
                let ip = match s.who {
                    Who::Sender => Some(sender),
                    Who::Addr(ip) | Who::Device(ip, _) => Some(ip),
                    Who::Mac(_) => None,
                };
                if let Some(ip) = ip {
                    detector.sighting(&flow.info.view(), ip, &s, p.ts, outbuf.alert_scratch());
                    outbuf.commit_alerts(p.index, flow.info.id);
                }
            }
        }
    }
}

/// A TCP segment of `flow` sent in direction `dir`: the acknowledgement it carries releases
/// the peer's data, its payload goes through reassembly, and a RST (or FIN both ways) closes
/// the connection, flushing what is buffered. True when it closed now.
fn tcp_segment(
    flow: &mut Flow,
    env: &mut AppEnv<'_>,
    s: &Summary,
    payload: &[u8],
    dir: Direction,
    reassembly: &ReassemblyConfig,
    counters: &mut TcpCounters,
) -> bool {
    let Flow {
        tcp,
        app,
        info,
        probe,
        ..
    } = flow;
    let [req, resp] = tcp;
    let (mine, peer) = if dir == Direction::Request {
        (req, resp)
    } else {
        (resp, req)
    };
    // The acknowledgement first: data it releases in the other direction was sent before
    // this segment (a request released here precedes its answer).
    if s.flags & tcpflags::ACK != 0 {
        peer.on_peer_ack(s.ack, counters, &mut |ev| {
            env.stream(app, info, probe, dir.reverse(), ev)
        });
    }
    mine.on_segment(s.seq, s.flags, payload, reassembly, counters, &mut |ev| {
        env.stream(app, info, probe, dir, ev)
    });
    let rst = s.flags & tcpflags::RST != 0;
    if !(rst || (mine.is_closed() && peer.is_closed())) {
        return false;
    }
    for (st, sd) in [(&mut *mine, dir), (&mut *peer, dir.reverse())] {
        st.flush(counters, &mut |ev| env.stream(app, info, probe, sd, ev));
    }
    flow.tcp_closed = true;
    flow.tcp_rst |= rst;
    true
}

/// Writes `flow`'s record: its final one when it ended for `reason`, else an interim one.
fn write_record(
    outbuf: &mut EventBuffer,
    sensor: &str,
    flow: &Flow,
    reason: Option<EndReason>,
    detector: &mut Detector,
    pkt_index: u64,
) {
    use super::flowrec::{uid, FlowRecord, RecordEnd};
    let Some(state) = flow.probe.record.as_deref() else {
        return;
    };
    let info = &flow.info;
    let proto = flow.proto;
    let cid = info.cid.get(info.client.ip, info.server.ip);
    let uid = uid(sensor, flow.first_ts, cid, info.id);
    let policy = detector.policy_arc();
    let zones = zones_in(&policy, flow);
    let has_ports = matches!(proto, ipproto::TCP | ipproto::UDP);
    let label = state.label.as_ref();
    let end = |e: &EndpointInfo, d: usize| RecordEnd {
        ip: e.ip,
        port: has_ports.then_some(e.port),
        mac: e.mac,
        zone: None,
        packets: flow.packets.get(d).copied().unwrap_or(0),
        bytes: flow.bytes.get(d).copied().unwrap_or(0),
    };
    let rec = FlowRecord {
        kind: "flow",
        uid: &uid,
        community_id: cid,
        last: reason.is_some(),
        end_reason: reason.map(EndReason::as_str),
        start: flow.first_ts,
        end: flow.last_ts,
        duration: flow.last_ts.nanos_since(flow.first_ts) as f64 / 1e9,
        transport: info.transport.as_str(),
        proto,
        app: label.map(|l| l.name),
        app_by: label.map(|l| l.by),
        parsed: label.is_some_and(|l| l.parsed),
        server_name: label.and_then(|l| l.server_name.as_deref()),
        src: RecordEnd {
            zone: zones.0,
            ..end(&info.client, 0)
        },
        dst: RecordEnd {
            zone: zones.1,
            ..end(&info.server, 1)
        },
        vlan: info.vlan,
        history: state.history(),
        midstream: flow.probe.midstream(),
        pdus: label.filter(|l| l.parsed).map(|_| state.pdus),
        alerts: state.alerts,
        sensor,
    };
    outbuf.flow_record(pkt_index, info.id, &rec);
    let service = otsensor_baselines::sigma::FLOW;
    if detector.sigma_wants(service) {
        let rec = Serialized {
            service,
            value: &rec,
        };
        detector.sigma(
            &rec,
            &info.view(),
            None,
            flow.last_ts,
            outbuf.alert_scratch(),
        );
        outbuf.commit_alerts(pkt_index, info.id);
    }
}

fn zones_of<'d>(d: &'d Detector, flow: &Flow) -> (Option<&'d str>, Option<&'d str>) {
    zones_in(d.policy(), flow)
}

fn zones_in<'p>(
    policy: &'p otsensor_baselines::detector::Policy,
    flow: &Flow,
) -> (Option<&'p str>, Option<&'p str>) {
    let z = &policy.zones;
    if z.is_empty() {
        return (None, None);
    }
    (
        Some(z.name(flow.info.client_zone)),
        Some(z.name(flow.info.server_zone)),
    )
}

fn sub(a: [u64; 2], b: [u64; 2]) -> [u64; 2] {
    [a[0].saturating_sub(b[0]), a[1].saturating_sub(b[1])]
}

fn observation<'a>(
    flow: &Flow,
    app_protocol: Option<&'static str>,
    zones: (Option<&'a str>, Option<&'a str>),
    new_flow: bool,
) -> FlowObservation<'a> {
    let ep = |e: &EndpointInfo| Endpoint {
        ip: e.ip,
        mac: e.mac,
        port: e.port,
    };
    FlowObservation {
        client: ep(&flow.info.client),
        server: ep(&flow.info.server),
        transport: flow.info.transport.as_str(),
        vlan: flow.info.vlan,
        app_protocol,
        first_seen: flow.first_ts,
        last_seen: flow.last_ts,
        packets: sub(flow.packets, flow.reported.0),
        bytes: sub(flow.bytes, flow.reported.1),
        server_answered: flow.packets[1] > 0,
        client_zone: zones.0,
        server_zone: zones.1,
        new_flow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, LinkType};
    use crate::flow::Gap;
    use crate::registry::testing::{echo_spec, take_seen};
    use etherparse::PacketBuilder;

    const C: [u8; 4] = [10, 0, 0, 1];
    const S: [u8; 4] = [10, 0, 0, 2];

    struct Rig {
        w: Worker,
        batch: Batch,
        index: u64,
        ts: i64,
    }

    impl Rig {
        fn new(max_flows: usize) -> Rig {
            let mut cfg = WorkerConfig::from_config(&crate::config::Config::default(), 1, true);
            cfg.limits.max_flows = max_flows;
            let reg = Arc::new(Registry::new(vec![echo_spec()]));
            Rig {
                w: Worker::new(cfg, reg, test_shared()),
                batch: Batch::default(),
                index: 0,
                ts: 1_000 * NS,
            }
        }

        #[allow(clippy::too_many_arguments)]
        fn tcp(
            &mut self,
            src: [u8; 4],
            sport: u16,
            dst: [u8; 4],
            dport: u16,
            seq: u32,
            ack: Option<u32>,
            flags: u8,
            data: &[u8],
        ) {
            let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4(src, dst, 64)
                .tcp(sport, dport, seq, 65535);
            if flags & tcpflags::SYN != 0 {
                b = b.syn();
            }
            if flags & tcpflags::FIN != 0 {
                b = b.fin();
            }
            if flags & tcpflags::RST != 0 {
                b = b.rst();
            }
            if let Some(a) = ack {
                b = b.ack(a);
            }
            let mut f = Vec::new();
            b.write(&mut f, data).unwrap();
            self.frame(&f);
        }

        fn udp(&mut self, src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, data: &[u8]) {
            let mut f = Vec::new();
            PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4(src, dst, 64)
                .udp(sport, dport)
                .write(&mut f, data)
                .unwrap();
            self.frame(&f);
        }

        fn frame(&mut self, f: &[u8]) {
            let sum = decode(LinkType::Ethernet, f).unwrap();
            let payload = &f[sum.payload_off as usize..][..sum.payload_len as usize];
            self.ts += NS / 100;
            let ts = Timestamp::from_nanos(self.ts);
            let hash = crate::flow::FlowHasher::fixed().packet(&sum);
            self.batch
                .push(self.index, 0, ts, ts, f.len() as u32, (sum, hash), payload);
            self.index += 1;
        }

        fn run(&mut self) {
            self.batch.now = Timestamp::from_nanos(self.ts);
            self.batch.upto = self.index;
            self.w.process_batch(&self.batch);
            self.batch.clear();
        }

        fn finish(&mut self) -> WorkerStats {
            self.run();
            self.w.finish()
        }
    }

    const A: Option<u32> = None;

    fn test_shared() -> Arc<Shared> {
        Arc::new(Shared::new(
            Default::default(),
            Default::default(),
            Default::default(),
            Arc::new(AssetInventory::default()),
        ))
    }

    #[test]
    fn tcp_stream_reaches_handler_in_both_directions() {
        let mut r = Rig::new(100);
        r.tcp(C, 40000, S, 7, 100, A, tcpflags::SYN, b"");
        r.tcp(S, 7, C, 40000, 500, Some(101), tcpflags::SYN, b"");
        r.tcp(C, 40000, S, 7, 101, Some(501), 0, b"ECHO one");
        r.tcp(S, 7, C, 40000, 501, Some(109), 0, b"reply");
        r.tcp(C, 40000, S, 7, 109, Some(506), 0, b" two");
        r.tcp(C, 40000, S, 7, 113, Some(506), tcpflags::FIN, b"");
        r.tcp(S, 7, C, 40000, 506, Some(114), tcpflags::FIN, b"");
        let st = r.finish();
        let seen = take_seen();
        assert_eq!(seen.len(), 1);
        let (id, s) = &seen[0];
        assert_eq!(*id, 0);
        assert_eq!(s.streams[0], b"ECHO one two");
        assert_eq!(s.streams[1], b"reply");
        assert!(s.gaps[0].is_empty() && s.gaps[1].is_empty());
        assert_eq!(st.app.protocols[0].flows, 1);
        assert_eq!(st.app.protocols[0].flows_on_other_ports, 0);
        assert_eq!(st.ended(EndReason::EndOfInput), 1);
        assert_eq!(st.flows_tcp, 1);
    }

    #[test]
    fn content_probe_finds_protocol_on_other_port_and_midstream_is_flagged() {
        let mut r = Rig::new(100);
        // No handshake captured: the flow is picked up midstream.
        r.tcp(C, 40001, S, 7007, 9000, Some(1), 0, b"ECHO midstream");
        r.tcp(S, 7007, C, 40001, 1, Some(9014), 0, b"ok");
        let st = r.finish();
        let seen = take_seen();
        let s = &seen[0].1;
        assert_eq!(s.streams[0], b"ECHO midstream");
        assert_eq!(s.gaps[0], vec![Gap::Midstream]);
        assert_eq!(s.gaps[1], vec![Gap::Midstream]);
        assert_eq!(st.app.protocols[0].flows_on_other_ports, 1);
        assert_eq!(st.tcp.midstream_pickups, 2);
    }

    #[test]
    fn udp_datagrams_and_unidentified_flows() {
        let mut r = Rig::new(100);
        r.udp(C, 5000, S, 7, b"ECHO a");
        r.udp(S, 7, C, 5000, b"ECHO b");
        r.udp(C, 5001, S, 7, b"GET / HTTP/1.0"); // on the echo port, but not echo
        r.udp(C, 5002, S, 9999, b"random");
        let st = r.finish();
        let seen = take_seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].1.datagrams,
            vec![
                (Direction::Request, b"ECHO a".to_vec()),
                (Direction::Response, b"ECHO b".to_vec())
            ]
        );
        assert_eq!(st.app.protocols[0].flows_not_this_protocol, 1);
        assert_eq!(st.app.unidentified_udp, 2);
        assert_eq!(st.flows_udp, 3);
    }

    #[test]
    fn abandon_is_counted_and_stops_delivery() {
        let mut r = Rig::new(100);
        r.tcp(C, 40000, S, 7, 0, A, tcpflags::SYN, b"");
        r.tcp(C, 40000, S, 7, 1, A, 0, b"ECHO x");
        r.tcp(C, 40000, S, 7, 7, A, 0, b"QUIT");
        r.tcp(C, 40000, S, 7, 11, A, 0, b"more");
        let st = r.finish();
        assert_eq!(st.app.protocols[0].abandoned.get("quit"), Some(&1));
        assert!(
            take_seen().is_empty(),
            "an abandoned handler is dropped, not ended"
        );
    }

    #[test]
    fn flow_cap_evicts_and_counts() {
        let mut r = Rig::new(2);
        for port in 0..5u16 {
            r.udp(C, 6000 + port, S, 9999, b"x");
        }
        let st = r.finish();
        assert_eq!(st.ended(EndReason::Evicted), 3);
        assert_eq!(st.ended(EndReason::EndOfInput), 2);
        assert_eq!(st.flows_peak, 2);
    }

    #[test]
    fn rst_then_new_syn_is_a_new_flow() {
        let mut r = Rig::new(100);
        r.tcp(C, 40000, S, 7, 0, A, tcpflags::SYN, b"");
        r.tcp(C, 40000, S, 7, 1, A, 0, b"ECHO 1");
        r.tcp(S, 7, C, 40000, 0, Some(7), tcpflags::RST, b"");
        r.tcp(C, 40000, S, 7, 5000, A, tcpflags::SYN, b"");
        r.tcp(C, 40000, S, 7, 5001, A, 0, b"ECHO 2");
        let st = r.finish();
        let seen = take_seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].1.streams[0], b"ECHO 1");
        assert_eq!(seen[1].1.streams[0], b"ECHO 2");
        assert_eq!(st.ended(EndReason::PortReuse), 1);
    }

    #[test]
    fn idle_flows_expire_at_round_end() {
        let mut r = Rig::new(100);
        r.udp(C, 5000, S, 9999, b"x");
        r.run();
        r.ts += 10_000 * NS;
        r.udp(C, 5001, S, 9999, b"y");
        r.run();
        let st = r.finish();
        assert_eq!(st.ended(EndReason::Idle), 1);
    }
}
