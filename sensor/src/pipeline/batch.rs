//! Batches: what the reader hands a worker once per round.

use otsensor_baselines::time::Timestamp;

use crate::decode::Summary;

/// One decoded packet in a batch. `sum.payload_off` points into [`Batch::data`].
#[derive(Debug, Clone, Copy)]
pub struct Pkt {
    /// Index of the packet in the whole input (all files), from 0.
    pub index: u64,
    /// Capture interface it came from (index among the capture's interfaces; 0 in replay).
    pub iface: u8,
    /// Capture time.
    pub ts: Timestamp,
    /// The newest capture time seen in the input up to this packet: the monotonic clock that
    /// idle timeouts run on, so that expiry never depends on which worker owns which flow.
    pub clock: Timestamp,
    /// Length on the wire.
    pub wire_len: u32,
    /// Its flow key's hash ([`crate::flow::FlowHasher`]), computed by the dispatcher.
    pub hash: u64,
    /// Decoded headers; the payload is `data[payload_off..payload_off + payload_len]`.
    pub sum: Summary,
    /// With evidence on: the whole frame is `frames[frame.0..frame.0 + frame.1]`.
    pub frame: (u32, u32),
    /// The frame's link type (libpcap DLT), with evidence on.
    pub dlt: u32,
}

/// A GOOSE or Sampled Values frame in a batch: layer 2 only, kept whole (its header names
/// the publisher, the group and the APPID; there is no IP header to decode).
#[derive(Debug, Clone, Copy)]
pub struct L2Pkt {
    /// Index of the frame in the whole input.
    pub index: u64,
    /// Capture interface it came from.
    pub iface: u8,
    /// Capture time.
    pub ts: Timestamp,
    /// Length on the wire.
    pub wire_len: u32,
    /// The frame is `data[frame.0..frame.0 + frame.1]`.
    pub frame: (u32, u32),
}

/// The packets of one round for one worker. Only transport payloads are copied; the headers
/// travel decoded in [`Pkt::sum`]. Batches are recycled, so their buffers are allocated once.
#[derive(Debug, Default)]
pub struct Batch {
    /// Round number, counting from 0.
    pub round: u64,
    /// Time of the newest packet read when the round ended (drives idle expiry).
    pub now: Timestamp,
    /// Index of the first packet of the next round.
    pub upto: u64,
    /// Payload bytes of all packets, back to back.
    pub data: Vec<u8>,
    /// The packets.
    pub pkts: Vec<Pkt>,
    /// Whole frames back to back, only with evidence on.
    pub frames: Vec<u8>,
    /// GOOSE and SV frames (their bytes in `data`, after or between payloads).
    pub l2: Vec<L2Pkt>,
}

impl Batch {
    /// Empties the batch for reuse.
    pub fn clear(&mut self) {
        self.data.clear();
        self.pkts.clear();
        self.frames.clear();
        self.l2.clear();
    }

    /// Packets in the batch (IP and layer 2).
    pub fn len(&self) -> usize {
        self.pkts.len() + self.l2.len()
    }

    /// Whether the batch has no packet.
    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty() && self.l2.is_empty()
    }

    /// Adds a GOOSE or SV frame, copying it whole.
    pub fn push_l2(&mut self, index: u64, iface: u8, ts: Timestamp, wire_len: u32, frame: &[u8]) {
        let off = self.data.len() as u32;
        self.data.extend_from_slice(frame);
        self.l2.push(L2Pkt {
            index,
            iface,
            ts,
            wire_len,
            frame: (off, frame.len() as u32),
        });
    }

    /// The frame of a layer-2 packet of this batch.
    pub fn l2_frame(&self, p: &L2Pkt) -> &[u8] {
        let start = p.frame.0 as usize;
        self.data
            .get(start..start + p.frame.1 as usize)
            .unwrap_or_default()
    }

    /// Adds a packet, copying its payload.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        index: u64,
        iface: u8,
        ts: Timestamp,
        clock: Timestamp,
        wire_len: u32,
        (mut sum, hash): (Summary, u64),
        payload: &[u8],
    ) {
        sum.payload_off = self.data.len() as u32;
        sum.payload_len = payload.len() as u32;
        self.data.extend_from_slice(payload);
        self.pkts.push(Pkt {
            index,
            iface,
            ts,
            clock,
            wire_len,
            hash,
            sum,
            frame: (0, 0),
            dlt: 0,
        });
    }

    /// Keeps the whole frame of the packet just pushed (for evidence captures).
    pub fn attach_frame(&mut self, frame: &[u8], dlt: u32) {
        let off = self.frames.len() as u32;
        self.frames.extend_from_slice(frame);
        if let Some(p) = self.pkts.last_mut() {
            p.frame = (off, frame.len() as u32);
            p.dlt = dlt;
        }
    }

    /// The whole frame of a packet of this batch (empty unless kept).
    pub fn frame(&self, p: &Pkt) -> &[u8] {
        let start = p.frame.0 as usize;
        self.frames
            .get(start..start + p.frame.1 as usize)
            .unwrap_or_default()
    }

    /// The payload of a packet of this batch.
    pub fn payload(&self, p: &Pkt) -> &[u8] {
        let start = p.sum.payload_off as usize;
        self.data
            .get(start..start + p.sum.payload_len as usize)
            .unwrap_or_default()
    }
}
