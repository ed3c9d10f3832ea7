//! TCP reassembly for one direction of a connection.
//!
//! Delivers the byte stream in order to a callback, zero-copy for in-order segments.
//! Out-of-order segments are buffered up to [`ReassemblyConfig::max_ooo_bytes`] and
//! [`ReassemblyConfig::max_ooo_segments`]; retransmissions and overlaps are trimmed (the
//! first copy of a byte wins, as on most receivers). A hole is skipped — and reported to the
//! parser as [`StreamEvent::Gap`] so it can resync — when the peer has acknowledged data past
//! it (the sensor missed a packet the receiver got), when the out-of-order buffer is full, or
//! when the flow ends. A direction first seen without its SYN is picked up midstream and
//! reported as [`Gap::Midstream`]. The stream therefore never stalls.

use serde::Serialize;

use crate::decode::tcpflags;

/// Caps on what one direction may buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Most out-of-order payload bytes buffered per direction.
    pub max_ooo_bytes: usize,
    /// Most out-of-order segments buffered per direction.
    pub max_ooo_segments: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_ooo_bytes: 256 * 1024,
            max_ooo_segments: 256,
        }
    }
}

/// Segments further than this ahead of the expected sequence number are not buffered
/// (no real window is that large); they are counted as out of window and dropped.
const MAX_AHEAD: u32 = 1 << 30;

pub use otsensor_protocols::flow::{Gap, StreamEvent};

/// Reassembly counters (per worker, summed into stats).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TcpCounters {
    /// TCP segments seen.
    pub segments: u64,
    /// Payload bytes seen in segments (including retransmissions).
    pub payload_bytes: u64,
    /// Bytes delivered in order to the protocol layer.
    pub delivered_bytes: u64,
    /// Whole segments that repeated already delivered bytes.
    pub retransmitted_segments: u64,
    /// Bytes of those and of partial overlaps, trimmed.
    pub retransmitted_bytes: u64,
    /// Segments that arrived ahead of a hole and were buffered.
    pub out_of_order_segments: u64,
    /// Holes skipped.
    pub gaps: u64,
    /// Bytes skipped over holes.
    pub gap_bytes: u64,
    /// Holes skipped because the out-of-order buffer hit its cap.
    pub ooo_buffer_full: u64,
    /// Holes skipped because the peer acknowledged past them.
    pub gaps_acked: u64,
    /// Holes skipped when the flow ended.
    pub gaps_at_close: u64,
    /// Directions picked up without a SYN.
    pub midstream_pickups: u64,
    /// Segments far outside any window, dropped.
    pub out_of_window_segments: u64,
    /// Payload bytes that arrived after the direction's FIN.
    pub bytes_after_fin: u64,
}

impl TcpCounters {
    /// Adds `other` into `self`.
    pub fn add(&mut self, o: &TcpCounters) {
        self.segments += o.segments;
        self.payload_bytes += o.payload_bytes;
        self.delivered_bytes += o.delivered_bytes;
        self.retransmitted_segments += o.retransmitted_segments;
        self.retransmitted_bytes += o.retransmitted_bytes;
        self.out_of_order_segments += o.out_of_order_segments;
        self.gaps += o.gaps;
        self.gap_bytes += o.gap_bytes;
        self.ooo_buffer_full += o.ooo_buffer_full;
        self.gaps_acked += o.gaps_acked;
        self.gaps_at_close += o.gaps_at_close;
        self.midstream_pickups += o.midstream_pickups;
        self.out_of_window_segments += o.out_of_window_segments;
        self.bytes_after_fin += o.bytes_after_fin;
    }
}

#[derive(Debug)]
struct Segment {
    seq: u32,
    data: Vec<u8>,
}

/// Signed distance from `b` to `a` in sequence space.
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub struct TcpStream {
    /// Next sequence number to deliver; `None` until the direction is synchronised.
    next: Option<u32>,
    /// Sequence number of this direction's FIN, once seen.
    fin: Option<u32>,
    /// Everything up to the FIN was delivered.
    closed: bool,
    /// Highest sequence number the peer acknowledged.
    peer_acked: Option<u32>,
    /// Buffered out-of-order segments, if any: boxed, since most streams never need them
    /// and a flow table holds a million streams.
    ooo: Option<Box<OutOfOrder>>,
}

/// Out-of-order segments, sorted by sequence number relative to the stream's `next`.
#[derive(Debug, Default)]
struct OutOfOrder {
    segments: Vec<Segment>,
    bytes: usize,
}

impl TcpStream {
    /// True once everything up to this direction's FIN has been delivered.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Bytes buffered out of order.
    pub fn buffered_bytes(&self) -> usize {
        self.ooo.as_ref().map_or(0, |o| o.bytes)
    }

    /// The first buffered segment.
    fn first(&self) -> Option<&Segment> {
        self.ooo.as_ref().and_then(|o| o.segments.first())
    }

    /// Processes one segment sent in this direction.
    pub fn on_segment<'p>(
        &mut self,
        seq: u32,
        flags: u8,
        payload: &'p [u8],
        cfg: &ReassemblyConfig,
        c: &mut TcpCounters,
        emit: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        c.segments += 1;
        c.payload_bytes += payload.len() as u64;
        let syn = flags & tcpflags::SYN != 0;
        let fin = flags & tcpflags::FIN != 0;
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if syn && self.next.is_none() {
            self.next = Some(data_seq);
        }
        let next = match self.next {
            Some(n) => n,
            None => {
                if payload.is_empty() && !fin {
                    // A bare ACK says little; wait for data (or a FIN) to synchronise on.
                    return;
                }
                c.midstream_pickups += 1;
                self.next = Some(data_seq);
                emit(StreamEvent::Gap(Gap::Midstream));
                data_seq
            }
        };
        if self.closed {
            c.bytes_after_fin += payload.len() as u64;
            return;
        }
        if fin {
            let fin_seq = data_seq.wrapping_add(payload.len() as u32);
            if self.fin.is_none() {
                self.fin = Some(fin_seq);
            }
        }
        let rel = seq_diff(data_seq, next);
        if rel <= 0 {
            let skip = rel.unsigned_abs() as usize;
            if skip >= payload.len() {
                if !payload.is_empty() {
                    c.retransmitted_segments += 1;
                    c.retransmitted_bytes += payload.len() as u64;
                }
            } else {
                c.retransmitted_bytes += skip as u64;
                let fresh =
                    self.clip_to_fin(data_seq.wrapping_add(skip as u32), &payload[skip..], c);
                self.deliver(fresh, c, emit);
                self.drain(c, emit);
            }
        } else if rel > i64::from(MAX_AHEAD) {
            c.out_of_window_segments += 1;
        } else if !payload.is_empty() {
            c.out_of_order_segments += 1;
            self.insert(data_seq, payload);
            let (bytes, segments) = self
                .ooo
                .as_ref()
                .map_or((0, 0), |o| (o.bytes, o.segments.len()));
            if bytes > cfg.max_ooo_bytes || segments > cfg.max_ooo_segments {
                c.ooo_buffer_full += 1;
                self.skip_to_first(c, emit);
            } else if self.hole_acked() {
                c.gaps_acked += 1;
                self.skip_to_first(c, emit);
            }
        }
        self.check_closed();
    }

    /// Processes an acknowledgement the peer sent for this direction's data.
    pub fn on_peer_ack(
        &mut self,
        ack: u32,
        c: &mut TcpCounters,
        emit: &mut dyn FnMut(StreamEvent<'_>),
    ) {
        if self.next.is_none() {
            return;
        }
        if self.peer_acked.is_none_or(|p| seq_diff(ack, p) > 0) {
            self.peer_acked = Some(ack);
        }
        if self.hole_acked() {
            c.gaps_acked += 1;
            self.skip_to_first(c, emit);
            self.check_closed();
        }
    }

    /// Ends the stream: skips every remaining hole so buffered data is delivered.
    pub fn flush(&mut self, c: &mut TcpCounters, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        while self.first().is_some() {
            c.gaps_at_close += 1;
            self.skip_to_first(c, emit);
        }
        self.check_closed();
    }

    /// True when the peer acknowledged bytes at or past the first buffered segment, i.e. the
    /// hole before it was received by the peer but never captured.
    fn hole_acked(&self) -> bool {
        match (self.peer_acked, self.first()) {
            (Some(acked), Some(first)) => seq_diff(acked, first.seq) >= 0,
            _ => false,
        }
    }

    fn check_closed(&mut self) {
        if let (Some(f), Some(n)) = (self.fin, self.next) {
            if seq_diff(n, f) >= 0 {
                self.closed = true;
                self.ooo = None;
            }
        }
    }

    /// Cuts data that lies beyond this direction's FIN.
    fn clip_to_fin<'d>(&self, start: u32, data: &'d [u8], c: &mut TcpCounters) -> &'d [u8] {
        match self.fin {
            Some(f) => {
                let room = seq_diff(f, start).max(0) as usize;
                if room < data.len() {
                    c.bytes_after_fin += (data.len() - room) as u64;
                    &data[..room]
                } else {
                    data
                }
            }
            None => data,
        }
    }

    fn deliver(&mut self, data: &[u8], c: &mut TcpCounters, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        if data.is_empty() {
            return;
        }
        if let Some(n) = self.next.as_mut() {
            *n = n.wrapping_add(data.len() as u32);
        }
        c.delivered_bytes += data.len() as u64;
        emit(StreamEvent::Data(data));
    }

    fn insert(&mut self, seq: u32, payload: &[u8]) {
        let next = self.next.unwrap_or(seq);
        let key = seq_diff(seq, next);
        let o = self.ooo.get_or_insert_default();
        let pos = o.segments.partition_point(|s| seq_diff(s.seq, next) <= key);
        o.bytes += payload.len();
        o.segments.insert(
            pos,
            Segment {
                seq,
                data: payload.to_vec(),
            },
        );
    }

    /// Delivers buffered segments that have become contiguous.
    fn drain(&mut self, c: &mut TcpCounters, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        while let (Some(next), Some(o)) = (self.next, self.ooo.as_mut()) {
            let Some(first) = o.segments.first() else {
                // Emptied: the buffer goes until the next segment out of order.
                self.ooo = None;
                break;
            };
            let rel = seq_diff(first.seq, next);
            if rel > 0 {
                break;
            }
            let seg = o.segments.remove(0);
            o.bytes -= seg.data.len();
            let skip = rel.unsigned_abs() as usize;
            if skip >= seg.data.len() {
                c.retransmitted_segments += 1;
                c.retransmitted_bytes += seg.data.len() as u64;
                continue;
            }
            c.retransmitted_bytes += skip as u64;
            let fresh = self.clip_to_fin(seg.seq.wrapping_add(skip as u32), &seg.data[skip..], c);
            self.deliver(fresh, c, emit);
        }
    }

    /// Skips the hole before the first buffered segment and delivers what follows.
    fn skip_to_first(&mut self, c: &mut TcpCounters, emit: &mut dyn FnMut(StreamEvent<'_>)) {
        let (Some(next), Some(first)) = (self.next, self.first()) else {
            return;
        };
        let hole = seq_diff(first.seq, next);
        if hole > 0 {
            c.gaps += 1;
            c.gap_bytes += hole as u64;
            emit(StreamEvent::Gap(Gap::Missing(hole as u64)));
            self.next = Some(first.seq);
        }
        self.drain(c, emit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcpflags::{ACK, FIN, SYN};
    use proptest::prelude::*;

    #[derive(Debug, Default)]
    struct Collected {
        bytes: Vec<u8>,
        gaps: Vec<Gap>,
    }

    impl Collected {
        fn push(&mut self, ev: StreamEvent<'_>) {
            match ev {
                StreamEvent::Data(d) => self.bytes.extend_from_slice(d),
                StreamEvent::Gap(g) => self.gaps.push(g),
            }
        }
    }

    struct Harness {
        s: TcpStream,
        c: TcpCounters,
        cfg: ReassemblyConfig,
        out: Collected,
    }

    impl Harness {
        fn new() -> Self {
            Harness {
                s: TcpStream::default(),
                c: TcpCounters::default(),
                cfg: ReassemblyConfig::default(),
                out: Collected::default(),
            }
        }
        fn seg(&mut self, seq: u32, flags: u8, data: &[u8]) {
            let out = &mut self.out;
            self.s
                .on_segment(seq, flags, data, &self.cfg, &mut self.c, &mut |e| {
                    out.push(e)
                });
        }
        fn ack(&mut self, ack: u32) {
            let out = &mut self.out;
            self.s.on_peer_ack(ack, &mut self.c, &mut |e| out.push(e));
        }
        fn flush(&mut self) {
            let out = &mut self.out;
            self.s.flush(&mut self.c, &mut |e| out.push(e));
        }
    }

    #[test]
    fn in_order_after_syn() {
        let mut h = Harness::new();
        h.seg(1000, SYN, b"");
        h.seg(1001, ACK, b"hello ");
        h.seg(1007, ACK, b"world");
        assert_eq!(h.out.bytes, b"hello world");
        assert!(h.out.gaps.is_empty());
        assert_eq!(h.c.delivered_bytes, 11);
    }

    #[test]
    fn out_of_order_is_buffered_then_delivered() {
        let mut h = Harness::new();
        h.seg(0, SYN, b"");
        h.seg(7, ACK, b"world");
        assert!(h.out.bytes.is_empty());
        assert_eq!(h.s.buffered_bytes(), 5);
        h.seg(1, ACK, b"hello ");
        assert_eq!(h.out.bytes, b"hello world");
        assert_eq!(h.s.buffered_bytes(), 0);
        assert_eq!(h.c.out_of_order_segments, 1);
    }

    #[test]
    fn overlapping_retransmission_is_trimmed() {
        let mut h = Harness::new();
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"abcd");
        h.seg(1, ACK, b"abcd"); // full retransmission
        h.seg(3, ACK, b"cdefg"); // overlaps 2 bytes
        h.seg(9, ACK, b"XXk"); // buffered; its first two bytes overlap the next segment
        h.seg(8, ACK, b"hij");
        // The first copy delivered wins: "ij" from the in-order segment, then "k".
        assert_eq!(h.out.bytes, b"abcdefghijk");
        assert_eq!(h.c.retransmitted_segments, 1);
        assert_eq!(h.c.retransmitted_bytes, 4 + 2 + 2);
    }

    #[test]
    fn acked_hole_is_skipped_with_a_gap() {
        let mut h = Harness::new();
        h.seg(0, SYN, b"");
        h.seg(1, ACK, b"aaaa");
        h.seg(9, ACK, b"cccc"); // bytes 5..9 never captured
        assert_eq!(h.out.bytes, b"aaaa");
        h.ack(13); // the receiver got everything
        assert_eq!(h.out.bytes, b"aaaacccc");
        assert_eq!(h.out.gaps, vec![Gap::Missing(4)]);
        assert_eq!((h.c.gaps, h.c.gap_bytes, h.c.gaps_acked), (1, 4, 1));
    }

    #[test]
    fn ack_seen_before_data_does_not_skip() {
        // On a SPAN port the receiver's ACK can be captured before the data it acknowledges.
        let mut h = Harness::new();
        h.seg(0, SYN, b"");
        h.ack(5);
        h.seg(1, ACK, b"abcd");
        assert_eq!(h.out.bytes, b"abcd");
        assert!(h.out.gaps.is_empty());
    }

    #[test]
    fn full_buffer_skips_ahead() {
        let mut h = Harness::new();
        h.cfg.max_ooo_segments = 2;
        h.seg(0, SYN, b"");
        h.seg(11, ACK, b"b");
        h.seg(21, ACK, b"c");
        assert!(h.out.bytes.is_empty());
        h.seg(31, ACK, b"d");
        assert_eq!(h.out.gaps, vec![Gap::Missing(10)]);
        assert_eq!(h.out.bytes, b"b");
        assert_eq!(h.c.ooo_buffer_full, 1);
    }

    #[test]
    fn midstream_pickup() {
        let mut h = Harness::new();
        h.seg(5000, ACK, b""); // bare ACK: not enough to sync
        h.seg(5000, ACK, b"xyz");
        h.seg(5003, ACK, b"!");
        assert_eq!(h.out.gaps, vec![Gap::Midstream]);
        assert_eq!(h.out.bytes, b"xyz!");
        assert_eq!(h.c.midstream_pickups, 1);
    }

    #[test]
    fn fin_closes_and_later_bytes_are_ignored() {
        let mut h = Harness::new();
        h.seg(0, SYN, b"");
        h.seg(1, ACK | FIN, b"bye");
        assert!(h.s.is_closed());
        h.seg(4, ACK, b"late");
        assert_eq!(h.out.bytes, b"bye");
        assert_eq!(h.c.bytes_after_fin, 4);
        // The peer acknowledging the FIN is not a hole.
        h.ack(5);
        assert!(h.out.gaps.is_empty());
    }

    #[test]
    fn flush_delivers_past_holes() {
        let mut h = Harness::new();
        h.seg(0, SYN, b"");
        h.seg(5, ACK, b"tail");
        h.flush();
        assert_eq!(h.out.gaps, vec![Gap::Missing(4)]);
        assert_eq!(h.out.bytes, b"tail");
        assert_eq!(h.c.gaps_at_close, 1);
    }

    #[test]
    fn sequence_wraparound() {
        let mut h = Harness::new();
        h.seg(u32::MAX - 2, SYN, b"");
        h.seg(u32::MAX - 1, ACK, b"ab");
        h.seg(2, ACK, b"ef");
        h.seg(0, ACK, b"cd");
        assert_eq!(h.out.bytes, b"abcdef");
    }

    #[test]
    fn far_out_of_window_is_dropped() {
        let mut h = Harness::new();
        h.seg(0, SYN, b"");
        h.seg(0x8000_0000, ACK, b"zz");
        h.seg(1, ACK, b"ok");
        assert_eq!(h.out.bytes, b"ok");
        assert_eq!(h.c.out_of_window_segments, 1);
    }

    proptest! {
        /// A stream cut into random segments, delivered in random order within the window
        /// (with some duplicated), reassembles to the same bytes with no gap.
        #[test]
        fn random_segmentation_and_order_reassembles(
            data in proptest::collection::vec(any::<u8>(), 1..3000),
            cuts in proptest::collection::vec(1usize..200, 1..64),
            isn in any::<u32>(),
            swaps in proptest::collection::vec((0usize..64, 0usize..64), 0..32),
            dups in proptest::collection::vec(0usize..64, 0..8),
        ) {
            let mut segs = Vec::new();
            let mut off = 0usize;
            let mut i = 0;
            while off < data.len() {
                let len = cuts[i % cuts.len()].min(data.len() - off);
                segs.push((off, len));
                off += len;
                i += 1;
            }
            let n = segs.len();
            for (a, b) in swaps {
                segs.swap(a % n, b % n);
            }
            for d in dups {
                let s = segs[d % n];
                segs.push(s);
            }
            let mut h = Harness::new();
            h.seg(isn, SYN, b"");
            for (o, l) in segs {
                h.seg(isn.wrapping_add(1).wrapping_add(o as u32), ACK, &data[o..o + l]);
            }
            h.flush();
            prop_assert_eq!(&h.out.bytes, &data);
            prop_assert!(h.out.gaps.is_empty());
        }

        /// Whatever segments arrive, the output never repeats bytes, and data+gaps always
        /// account for the stream up to the highest byte delivered.
        #[test]
        fn arbitrary_segments_never_panic(
            ops in proptest::collection::vec((any::<u16>(), 0usize..40, any::<bool>()), 0..100)
        ) {
            let mut h = Harness::new();
            h.cfg.max_ooo_segments = 8;
            h.seg(0, SYN, b"");
            let buf = [7u8; 64];
            for (seq, len, is_ack) in ops {
                if is_ack {
                    h.ack(u32::from(seq));
                } else {
                    h.seg(u32::from(seq), ACK, &buf[..len]);
                }
            }
            h.flush();
            let gap_bytes: u64 = h.out.gaps.iter().map(|g| match g { Gap::Missing(n) => *n, Gap::Midstream => 0 }).sum();
            prop_assert_eq!(h.c.delivered_bytes, h.out.bytes.len() as u64);
            prop_assert!(h.out.bytes.len() as u64 + gap_bytes <= u64::from(u16::MAX) + 40);
        }
    }
}
