//! The final statistics (`--stats FILE`): one JSON document with every counter, including
//! every drop and eviction, so that nothing the sensor lost goes unreported.

use std::collections::BTreeMap;

use serde::Serialize;

use otsensor_baselines::time::Timestamp;

use crate::capture::live::{CaptureStats, InterfaceStats};
use crate::capture::InputReport;
use crate::flow::TcpCounters;
use crate::pipeline::worker::EndReason;
use crate::pipeline::PipelineReport;
use crate::registry::{ProtoCounters, Registry};

/// Flow counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowStats {
    /// Flows created.
    pub created: u64,
    /// TCP flows created.
    pub tcp: u64,
    /// UDP flows created.
    pub udp: u64,
    /// Other IP flows created (ICMP, ...).
    pub other: u64,
    /// Flows ended, by reason.
    pub ended: BTreeMap<&'static str, u64>,
    /// Sum over workers of the most flows each held at once.
    pub peak: u64,
    /// Times a worker's flow table entered emergency mode (a flood: short timeouts for
    /// half-open and closed connections).
    pub emergencies: u64,
    /// TCP flows with payload no protocol claimed.
    pub unidentified_tcp: u64,
    /// UDP flows with payload no protocol claimed.
    pub unidentified_udp: u64,
    /// Flows per application label (parsed protocols, IT labels from content or port,
    /// `unknown`), counted when the label is decided.
    pub labels: BTreeMap<&'static str, u64>,
    /// Flow records written (`--flows`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
}

/// Network and transport layer counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LayerStats {
    /// IPv4 packets.
    pub ipv4: u64,
    /// IPv6 packets.
    pub ipv6: u64,
    /// ARP frames.
    pub arp: u64,
    /// Other EtherTypes (PROFINET, GOOSE, LLDP, ...), by hex value.
    pub other_ethertypes: BTreeMap<String, u64>,
}

/// Transport layer counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TransportStats {
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// ICMP.
    pub icmp: u64,
    /// ICMPv6.
    pub icmpv6: u64,
    /// Other IP protocols.
    pub other: u64,
}

/// The stats document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// otsensor version.
    pub version: &'static str,
    /// `replay` or `capture`.
    pub mode: &'static str,
    /// Worker threads.
    pub workers: usize,
    /// Inputs in the order read.
    pub inputs: Vec<InputReport>,
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Bytes on the wire.
    pub bytes_on_wire: u64,
    /// First packet time.
    pub first_packet: Option<Timestamp>,
    /// Last packet time.
    pub last_packet: Option<Timestamp>,
    /// Wall-clock seconds the run took.
    pub elapsed_secs: f64,
    /// Packets per wall-clock second.
    pub packets_per_sec: f64,
    /// Captured megabytes (10^6) per wall-clock second.
    pub mbytes_per_sec: f64,
    /// Packets per link type.
    pub link_types: BTreeMap<String, u64>,
    /// Network layer.
    pub l3: LayerStats,
    /// Transport layer.
    pub l4: TransportStats,
    /// Frames that could not be decoded, by reason.
    pub undecodable: BTreeMap<&'static str, u64>,
    /// Flows.
    pub flows: FlowStats,
    /// Layer-2 flows (GOOSE and Sampled Values).
    pub l2_flows: crate::pipeline::substation::L2Stats,
    /// TCP reassembly.
    pub tcp: TcpCounters,
    /// PDUs per protocol.
    pub pdus: BTreeMap<&'static str, u64>,
    /// Parse errors per protocol.
    pub parse_errors: BTreeMap<&'static str, u64>,
    /// Everything per protocol.
    pub protocols: BTreeMap<&'static str, ProtoCounters>,
    /// Event lines written (`--events`).
    pub events: u64,
    /// Alerts.
    pub alerts: crate::output::alerts::AlertsReport,
    /// Baseline updates refused because a cap was reached.
    pub baseline_capped: u64,
    /// Every loss, by reason: packets, flows, bytes or events the sensor could not process.
    pub drops: BTreeMap<&'static str, u64>,
    /// libpcap's counters (live capture only), summed over interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureStats>,
    /// Per capture interface: packets, bytes, libpcap's counters, failures and reopens.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceStats>,
}

impl Stats {
    /// Adds what the detector's shared model refused at its caps: baseline updates, and hosts
    /// the full asset inventory did not add (in `drops.assets_refused`).
    pub fn add_model(&mut self, shared: &otsensor_baselines::detector::Shared) {
        self.baseline_capped = shared
            .learner
            .capped
            .load(std::sync::atomic::Ordering::Relaxed);
        self.drops.insert("assets_refused", shared.assets.refused());
    }

    /// Builds the document from the pipeline's counters.
    pub fn build(
        mode: &'static str,
        inputs: Vec<InputReport>,
        report: &PipelineReport,
        registry: &Registry,
        capture: Option<CaptureStats>,
        elapsed_secs: f64,
    ) -> Stats {
        let d = &report.dispatch;
        let w = &report.workers;
        let mut link_types = BTreeMap::new();
        for i in &inputs {
            if !i.link_type.is_empty() {
                *link_types.entry(i.link_type.clone()).or_default() += i.packets;
            }
        }
        let mut ended = BTreeMap::new();
        for (r, n) in EndReason::ALL.iter().zip(w.flows_ended) {
            ended.insert(r.as_str(), n);
        }
        let mut pdus = BTreeMap::new();
        let mut parse_errors = BTreeMap::new();
        let mut protocols = BTreeMap::new();
        for (i, spec) in registry.protocols().iter().enumerate() {
            // Every protocol, counted or not yet (a worker that has not published is zeros).
            let c = w.app.protocols.get(i).cloned().unwrap_or_default();
            pdus.insert(spec.name, c.pdus);
            parse_errors.insert(spec.name, c.parse_errors);
            protocols.insert(spec.name, c);
        }
        let mut drops = BTreeMap::new();
        drops.insert("worker_queue_full_packets", d.dropped_worker_queue_full);
        drops.insert("flows_evicted", w.ended(EndReason::Evicted));
        drops.insert("l2_flows_evicted", w.l2.flows_evicted);
        drops.insert("sv_asdus_refused", w.l2.sv_streams_refused);
        drops.insert("tcp_gap_bytes", w.tcp.gap_bytes);
        drops.insert("tcp_out_of_window_segments", w.tcp.out_of_window_segments);
        drops.insert("events_unserializable", w.event_errors);
        drops.insert("events_write_failed", report.output.events_lost);
        drops.insert("undecodable_packets", d.undecodable.values().sum());
        if let Some(n) = w.evidence_refused {
            drops.insert("evidence_packets_not_kept", n);
        }
        if let Some(c) = &capture {
            drops.insert("capture_kernel", c.dropped);
            drops.insert("capture_interface", c.if_dropped);
        }
        let secs = elapsed_secs.max(1e-9);
        Stats {
            version: env!("CARGO_PKG_VERSION"),
            mode,
            workers: report.worker_count,
            packets: d.packets,
            bytes: d.bytes,
            bytes_on_wire: d.bytes_on_wire,
            first_packet: d.first_ts,
            last_packet: d.last_ts,
            elapsed_secs,
            packets_per_sec: d.packets as f64 / secs,
            mbytes_per_sec: d.bytes as f64 / secs / 1e6,
            link_types,
            l3: LayerStats {
                ipv4: d.ipv4,
                ipv6: d.ipv6,
                arp: d.arp,
                other_ethertypes: d.other_ethertypes.clone(),
            },
            l4: TransportStats {
                tcp: d.tcp,
                udp: d.udp,
                icmp: d.icmp,
                icmpv6: d.icmpv6,
                other: d.other_ip,
            },
            undecodable: d.undecodable.clone(),
            flows: FlowStats {
                created: w.flows_tcp + w.flows_udp + w.flows_other,
                tcp: w.flows_tcp,
                udp: w.flows_udp,
                other: w.flows_other,
                ended,
                peak: w.flows_peak as u64,
                emergencies: w.flows_emergencies,
                unidentified_tcp: w.app.unidentified_tcp,
                unidentified_udp: w.app.unidentified_udp,
                labels: w.app.labels.clone(),
                records: (report.output.flow_records > 0).then_some(report.output.flow_records),
            },
            l2_flows: w.l2.clone(),
            tcp: w.tcp.clone(),
            pdus,
            parse_errors,
            protocols,
            events: report.output.events_written,
            alerts: report.alerts.clone(),
            baseline_capped: 0,
            drops,
            capture,
            interfaces: Vec::new(),
            inputs,
        }
    }
}
