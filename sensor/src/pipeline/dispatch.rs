//! The dispatcher: runs on the reader thread. Decodes each frame once (L2–L4), picks the
//! worker that owns its flow by its flow key's hash (computed once: the worker's flow
//! table indexes by it too), and appends it to that worker's batch. After
//! `batch_packets` packets (or on a timer when capturing live) the round ends and every
//! worker gets its batch, empty or not: round boundaries depend only on the input, so the
//! output is the same for any number of workers.

use std::collections::BTreeMap;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde::Serialize;

use otsensor_baselines::time::Timestamp;

use crate::config::OnFull;
use crate::decode::{decode, ipproto, LinkType, NotFlow, Undecodable, L3};
use crate::flow::{worker_of, FlowHasher};
use crate::pipeline::batch::Batch;
use otsensor_protocols::goose;

/// Counters of the reader side (single-threaded, so plain integers).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DispatchStats {
    /// Packets read.
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// Bytes on the wire (original lengths).
    pub bytes_on_wire: u64,
    /// IPv4 packets.
    pub ipv4: u64,
    /// IPv6 packets.
    pub ipv6: u64,
    /// ARP frames.
    pub arp: u64,
    /// Other EtherTypes, by `0x` hex value; IEEE 802.3 length-framed (LLC) frames as
    /// `802.3_llc`.
    pub other_ethertypes: BTreeMap<String, u64>,
    /// TCP segments.
    pub tcp: u64,
    /// UDP datagrams.
    pub udp: u64,
    /// ICMP messages.
    pub icmp: u64,
    /// ICMPv6 messages.
    pub icmpv6: u64,
    /// Other IP protocols.
    pub other_ip: u64,
    /// Undecodable frames by reason.
    pub undecodable: BTreeMap<&'static str, u64>,
    /// Packets dropped because a worker's queue was full (with `on_full = "drop"`).
    pub dropped_worker_queue_full: u64,
    /// First and last packet times.
    pub first_ts: Option<Timestamp>,
    /// Newest packet time.
    pub last_ts: Option<Timestamp>,
}

/// Reader-side half of the pipeline.
pub struct Dispatcher {
    workers: Vec<Sender<Batch>>,
    pending: Vec<Batch>,
    pool: Receiver<Batch>,
    /// The flow key hash: the worker is picked from it, and the worker's table indexes by it.
    hasher: FlowHasher,
    on_full: OnFull,
    batch_packets: usize,
    round: u64,
    round_pkts: usize,
    next_index: u64,
    now: Timestamp,
    other_ethertypes: Vec<(u16, u64)>,
    undecodable: [u64; 8],
    /// Counters so far.
    pub stats: DispatchStats,
    /// Whole frames go to the workers too (evidence captures).
    keep_frames: bool,
    /// Where what layer-2 frames (ARP, LLDP, CDP, GOOSE) say about devices goes.
    identity: Option<std::sync::Arc<otsensor_baselines::assets::AssetInventory>>,
    sightings: Vec<otsensor_protocols::identity::Sighting>,
}

fn undecodable_index(u: Undecodable) -> usize {
    match u {
        Undecodable::UnsupportedLinkType => 0,
        Undecodable::Truncated => 1,
        Undecodable::MalformedLink => 2,
        Undecodable::MalformedIp => 3,
        Undecodable::MalformedIpExtension => 4,
        Undecodable::MalformedTcp => 5,
        Undecodable::IpFragment => 6,
        Undecodable::UnknownAddressFamily => 7,
    }
}

const UNDECODABLE_ALL: [Undecodable; 8] = [
    Undecodable::UnsupportedLinkType,
    Undecodable::Truncated,
    Undecodable::MalformedLink,
    Undecodable::MalformedIp,
    Undecodable::MalformedIpExtension,
    Undecodable::MalformedTcp,
    Undecodable::IpFragment,
    Undecodable::UnknownAddressFamily,
];

impl Dispatcher {
    /// A dispatcher feeding `workers`; processed batches come back through `pool`.
    pub fn new(
        workers: Vec<Sender<Batch>>,
        pool: Receiver<Batch>,
        on_full: OnFull,
        batch_packets: usize,
        hasher: FlowHasher,
    ) -> Dispatcher {
        let pending = workers.iter().map(|_| Batch::default()).collect();
        Dispatcher {
            workers,
            pending,
            pool,
            hasher,
            on_full,
            batch_packets: batch_packets.max(1),
            round: 0,
            round_pkts: 0,
            next_index: 0,
            now: Timestamp::default(),
            other_ethertypes: Vec::new(),
            undecodable: [0; 8],
            stats: DispatchStats::default(),
            keep_frames: false,
            identity: None,
            sightings: Vec::new(),
        }
    }

    /// Hands the workers whole frames too (for evidence captures), not only payloads.
    pub fn keep_frames(&mut self) {
        self.keep_frames = true;
    }

    /// Layer-2 frames name devices in `assets`: ARP senders link an address to a MAC,
    /// LLDP and CDP announce names, software, ports and capabilities, GOOSE publishers
    /// their logical device.
    pub fn identity_to(
        &mut self,
        assets: std::sync::Arc<otsensor_baselines::assets::AssetInventory>,
    ) {
        self.identity = Some(assets);
    }

    /// Packets read so far.
    pub fn packets(&self) -> u64 {
        self.next_index
    }

    /// Whether the current round has no packet yet.
    pub fn round_is_empty(&self) -> bool {
        self.round_pkts == 0
    }

    /// The newest packet time read so far.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Packets waiting in each worker's queue.
    pub fn queue_depths(&self) -> Vec<usize> {
        self.workers.iter().map(Sender::len).collect()
    }

    /// Handles one captured frame of the first (or only) input.
    pub fn packet(&mut self, link: LinkType, ts: Timestamp, data: &[u8], wire_len: u32) {
        self.packet_on(0, link, ts, data, wire_len);
    }

    /// Handles one captured frame of capture interface `iface` (its index on the command
    /// line or in the config).
    pub fn packet_on(
        &mut self,
        iface: u8,
        link: LinkType,
        ts: Timestamp,
        data: &[u8],
        wire_len: u32,
    ) {
        let index = self.next_index;
        self.next_index += 1;
        self.stats.bytes += data.len() as u64;
        self.stats.bytes_on_wire += u64::from(wire_len);
        if ts > self.now {
            self.now = ts;
        }
        if self.stats.first_ts.is_none() {
            self.stats.first_ts = Some(ts);
        }
        match decode(link, data) {
            Ok(sum) => {
                match sum.l3 {
                    L3::Ipv4 => self.stats.ipv4 += 1,
                    L3::Ipv6 => self.stats.ipv6 += 1,
                }
                match sum.proto {
                    ipproto::TCP => self.stats.tcp += 1,
                    ipproto::UDP => self.stats.udp += 1,
                    ipproto::ICMP => self.stats.icmp += 1,
                    ipproto::ICMPV6 => self.stats.icmpv6 += 1,
                    _ => self.stats.other_ip += 1,
                }
                let hash = self.hasher.packet(&sum);
                let w = worker_of(hash, self.workers.len());
                let start = sum.payload_off as usize;
                let payload = data
                    .get(start..start + sum.payload_len as usize)
                    .unwrap_or_default();
                if let Some(b) = self.pending.get_mut(w) {
                    b.push(index, iface, ts, self.now, wire_len, (sum, hash), payload);
                    if self.keep_frames {
                        b.attach_frame(data, link.dlt());
                    }
                }
            }
            Err(NotFlow::Arp) => {
                self.stats.arp += 1;
                if let (Some(inv), LinkType::Ethernet) = (&self.identity, link) {
                    if let Some(c) = otsensor_protocols::identity::arp(data) {
                        let mac = otsensor_baselines::mac::MacAddr(c.mac);
                        inv.observe_arp(std::net::IpAddr::V4(c.ip), mac, ts);
                    }
                }
            }
            Err(NotFlow::OtherEtherType(t)) => {
                let layer2 = [
                    goose::GOOSE,
                    goose::SV,
                    otsensor_protocols::profinet::ETHERTYPE,
                ];
                if link == LinkType::Ethernet && layer2.contains(&t) {
                    self.substation_frame(index, iface, ts, data, wire_len);
                }
                if let (Some(inv), LinkType::Ethernet) = (&self.identity, link) {
                    otsensor_protocols::identity::l2_frame(data, &mut self.sightings);
                    let nobody = std::net::IpAddr::from([0u8; 4]);
                    for s in self.sightings.drain(..) {
                        inv.observe_sighting(nobody, &s, ts);
                    }
                }
                // Values up to 1500 are IEEE 802.3 lengths (LLC frames: STP, BACnet/Ethernet,
                // IEC 61850 over LLC), not EtherTypes: count them together.
                let t = if t <= 1500 { 0 } else { t };
                match self.other_ethertypes.iter_mut().find(|(k, _)| *k == t) {
                    Some((_, n)) => *n += 1,
                    None => self.other_ethertypes.push((t, 1)),
                }
            }
            Err(NotFlow::Undecodable(u)) => self.undecodable[undecodable_index(u)] += 1,
        }
        self.round_pkts += 1;
        if self.round_pkts >= self.batch_packets {
            self.end_round();
        }
    }

    /// A GOOSE, SV or PROFINET frame goes to the worker that judges its stream: a GOOSE or
    /// SV frame by its stream's id (gocbRef, svID), so that a forged frame from another MAC
    /// meets the real publisher's on one worker (by group and APPID when the PDU does not
    /// read); a PROFINET frame by its two MACs, either way round (a DCP request and its
    /// answer meet).
    fn substation_frame(
        &mut self,
        index: u64,
        iface: u8,
        ts: Timestamp,
        data: &[u8],
        wire_len: u32,
    ) {
        let hash = if let Some((h, pdu)) = goose::header(data) {
            match goose::stream_id(&h, pdu) {
                Some(id) => self.hasher.hash_one(id),
                None => self.hasher.hash_one((h.dst, h.appid)),
            }
        } else if let Some((h, _, _)) = otsensor_protocols::profinet::header(data) {
            self.hasher.hash_one((h.src.min(h.dst), h.src.max(h.dst)))
        } else {
            return;
        };
        let w = worker_of(hash, self.workers.len());
        if let Some(b) = self.pending.get_mut(w) {
            b.push_l2(index, iface, ts, wire_len, data);
        }
    }

    /// Ends the current round: every worker gets its batch (possibly empty).
    pub fn end_round(&mut self) {
        self.end_round_at(self.now);
    }

    /// Ends the round with an explicit clock (live capture with no traffic).
    pub fn end_round_at(&mut self, now: Timestamp) {
        let round = self.round;
        self.round += 1;
        self.round_pkts = 0;
        for w in 0..self.workers.len() {
            let fresh = self.pool.try_recv().unwrap_or_default();
            let mut b = std::mem::replace(&mut self.pending[w], fresh);
            b.round = round;
            b.now = now;
            b.upto = self.next_index;
            match self.on_full {
                OnFull::Block => {
                    if let Err(e) = self.workers[w].send(b) {
                        // The worker is gone (it panicked); its packets are lost and counted.
                        self.stats.dropped_worker_queue_full += e.0.len() as u64;
                    }
                }
                OnFull::Drop => match self.workers[w].try_send(b) {
                    Ok(()) => {}
                    Err(TrySendError::Full(mut b)) | Err(TrySendError::Disconnected(mut b)) => {
                        self.stats.dropped_worker_queue_full += b.len() as u64;
                        b.clear();
                        self.pending[w] = b;
                    }
                },
            }
        }
    }

    /// Ends the last round and returns the counters; dropping the dispatcher closes the
    /// workers' queues.
    pub fn finish(mut self) -> DispatchStats {
        if self.round_pkts > 0 || self.round == 0 {
            self.end_round();
        }
        self.snapshot()
    }

    /// The counters so far.
    pub fn snapshot(&self) -> DispatchStats {
        let mut stats = self.stats.clone();
        stats.packets = self.next_index;
        stats.last_ts = (self.next_index > 0).then_some(self.now);
        for (t, n) in &self.other_ethertypes {
            let name = match t {
                0 => "802.3_llc".to_string(),
                t => format!("0x{t:04x}"),
            };
            stats.other_ethertypes.insert(name, *n);
        }
        for (u, n) in UNDECODABLE_ALL.iter().zip(self.undecodable) {
            if n > 0 {
                stats.undecodable.insert(u.as_str(), n);
            }
        }
        stats
    }
}
