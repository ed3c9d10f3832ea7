//! A flow's state in its worker: counters, TCP streams, how far identification got
//! ([`Probing`]) and the protocol handler that owns it ([`AppState`]).

use otsensor_baselines::community_id::LazyCommunityId;
use otsensor_baselines::detector::FlowLocal;
use otsensor_baselines::time::Timestamp;
use otsensor_protocols::identity::Reader;
use otsensor_protocols::Direction;

use crate::flow::TcpStream;
use crate::pipeline::evidence::FlowRing;
use crate::registry::{FlowInfo, Handler};

pub(super) enum AppState {
    /// No payload yet, or not enough to decide.
    Pending,
    /// A protocol's handler owns the flow; the detector's state of the flow goes with it.
    Active {
        /// The protocol's index in the registry (16 bits: a flow table holds a million flows).
        index: u16,
        handler: Box<dyn Handler>,
        det: Box<FlowLocal>,
    },
    /// No protocol matched (or the handler gave up).
    Done,
}

/// What identification keeps of a flow: its flags packed in one byte (a million open
/// connections pay for every byte here).
#[derive(Default)]
pub(super) struct Probing {
    pub(super) flags: u8,
    pub(super) probes: u8,
    /// The reader of names and software its label calls for (DNS, DHCP, HTTP, ...).
    pub(super) reader: Option<Reader>,
    /// With flow records on: the label, the TCP history, the PDUs parsed, the last interim
    /// record (boxed, made at the flow's start: without flow records a flow pays a pointer).
    pub(super) record: Option<Box<super::flowrec::RecordState>>,
}

/// Per direction (request, response): bytes were skipped before the handler attached.
pub(super) const GAP: [u8; 2] = [1, 2];
/// The flow was picked up without its opening (no SYN): its client is a guess.
pub(super) const MIDSTREAM: u8 = 4;
/// The server answered (a SYN-ACK, or any packet of a flow picked up midstream).
pub(super) const ANSWERED: u8 = 8;
/// The application label was decided (and judged).
pub(super) const LABELLED: u8 = 16;
/// Picked up midstream, the flow was not yet reported to the asset inventory: that waits for
/// its first payload, which may say which side is the client.
pub(super) const UNREPORTED: u8 = 32;
/// Per direction: a reader of the first payload only has read it.
pub(super) const READ: [u8; 2] = [64, 128];

impl Probing {
    pub(super) fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    pub(super) fn set(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }

    pub(super) fn gap(&self, d: Direction) -> bool {
        self.has(GAP[d.index()])
    }

    pub(super) fn midstream(&self) -> bool {
        self.has(MIDSTREAM)
    }

    pub(super) fn answered(&self) -> bool {
        self.has(ANSWERED)
    }

    pub(super) fn labelled(&self) -> bool {
        self.has(LABELLED)
    }

    pub(super) fn unreported(&self) -> bool {
        self.has(UNREPORTED)
    }

    /// The per-direction flags swapped (the flow was turned around).
    pub(super) fn swap_directions(&mut self) {
        for pair in [GAP, READ] {
            let (a, b) = (self.has(pair[0]), self.has(pair[1]));
            self.set(pair[0], b);
            self.set(pair[1], a);
        }
    }
}

pub(super) struct Flow {
    pub(super) info: FlowInfo,
    /// Whether the client is the key's `lo` endpoint.
    pub(super) client_is_lo: bool,
    pub(super) first_ts: Timestamp,
    pub(super) last_ts: Timestamp,
    pub(super) packets: [u64; 2],
    pub(super) bytes: [u64; 2],
    pub(super) proto: u8,
    pub(super) tcp: [TcpStream; 2],
    /// Saw RST, or FIN both ways.
    pub(super) tcp_closed: bool,
    pub(super) tcp_rst: bool,
    pub(super) app: AppState,
    /// Identification: gaps before a handler, probes so far, the label once decided.
    pub(super) probe: Probing,
    /// Which ends (client, server) the asset inventory took at the flow's start.
    pub(super) assets_held: [bool; 2],
    /// Packets and bytes per direction already reported to the asset inventory.
    pub(super) reported: ([u64; 2], [u64; 2]),
    /// The flow's last packets, with evidence on.
    pub(super) evidence: Option<Box<FlowRing>>,
}

impl Flow {
    /// Turns the flow around (client and server swapped): a connection picked up midstream
    /// whose first payload shows the port guess was wrong. Nothing was parsed or reported yet.
    pub(super) fn reorient(&mut self) {
        let info = &mut self.info;
        std::mem::swap(&mut info.client, &mut info.server);
        std::mem::swap(&mut info.client_zone, &mut info.server_zone);
        info.cid = LazyCommunityId::new(self.proto, info.client.port, info.server.port);
        self.client_is_lo = !self.client_is_lo;
        self.packets.swap(0, 1);
        self.bytes.swap(0, 1);
        self.tcp.swap(0, 1);
        self.probe.swap_directions();
        let answered = self.packets[1] > 0;
        self.probe.set(ANSWERED, answered);
        if let Some(r) = self.probe.record.as_deref_mut() {
            r.swap_sides();
        }
    }
}
