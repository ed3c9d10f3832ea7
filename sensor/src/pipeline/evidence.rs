//! Evidence rings (`[evidence]`): each flow keeps its last packets, bounded in count and bytes
//! per flow and in bytes per worker (a packet beyond is not kept, and counted). When an alert
//! is first raised on a flow, the ring (the packet that raised it included) starts a capture
//! that takes the flow's next packets; it goes to the output thread, which writes it to a
//! file, when complete or when the flow ends.

use std::collections::VecDeque;

use otsensor_baselines::time::Timestamp;

use crate::events::{EvidenceCapture, EvidencePacket};

/// Bounds of the rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Packets kept per flow (the one raising the alert included).
    pub before: usize,
    /// Packets captured after it.
    pub after: usize,
    /// Most bytes kept per flow.
    pub max_flow_bytes: usize,
    /// Most bytes kept by one worker over all its flows.
    pub max_worker_bytes: usize,
}

/// One flow's ring and its captures in progress.
#[derive(Debug, Default)]
pub struct FlowRing {
    ring: VecDeque<EvidencePacket>,
    bytes: usize,
    pending: Vec<(EvidenceCapture, usize)>,
}

/// A worker's rings: their settings and shared byte budget.
#[derive(Debug)]
pub struct Rings {
    settings: Settings,
    bytes: usize,
    /// Packets not kept because the worker's budget was spent.
    pub refused: u64,
}

impl Rings {
    /// Rings within `settings`.
    pub fn new(settings: Settings) -> Rings {
        Rings {
            settings,
            bytes: 0,
            refused: 0,
        }
    }

    /// A packet of the flow: it completes captures in progress (into `done`), then joins the
    /// ring, the oldest packets leaving it beyond its bounds.
    pub fn packet(
        &mut self,
        fr: &mut FlowRing,
        ts: Timestamp,
        wire_len: u32,
        dlt: u32,
        frame: &[u8],
        done: &mut Vec<EvidenceCapture>,
    ) {
        let pkt = || EvidencePacket {
            ts,
            wire_len,
            dlt,
            data: frame.into(),
        };
        let mut i = 0;
        while let Some((c, left)) = fr.pending.get_mut(i) {
            c.packets.push(pkt());
            *left -= 1;
            if *left == 0 {
                done.push(fr.pending.swap_remove(i).0);
            } else {
                i += 1;
            }
        }
        let s = self.settings;
        if s.before == 0 {
            return;
        }
        if self.bytes + frame.len() > s.max_worker_bytes {
            // Make room in this flow's own ring first; else the packet is not kept.
            if let Some(old) = fr.ring.pop_front() {
                self.forget(fr, old.data.len());
            }
            if self.bytes + frame.len() > s.max_worker_bytes {
                self.refused += 1;
                return;
            }
        }
        fr.ring.push_back(pkt());
        fr.bytes += frame.len();
        self.bytes += frame.len();
        while fr.ring.len() > s.before || (fr.bytes > s.max_flow_bytes && fr.ring.len() > 1) {
            if let Some(old) = fr.ring.pop_front() {
                self.forget(fr, old.data.len());
            }
        }
    }

    fn forget(&mut self, fr: &mut FlowRing, n: usize) {
        fr.bytes -= n;
        self.bytes -= n;
    }

    /// Alert `alert_id` of `rule` was first raised on the flow: a capture of its ring starts,
    /// complete at once when no packet after is wanted.
    pub fn arm(
        &mut self,
        fr: &mut FlowRing,
        alert_id: u64,
        rule: &'static str,
        done: &mut Vec<EvidenceCapture>,
    ) {
        if fr.pending.iter().any(|(c, _)| c.alert_id == alert_id) {
            return;
        }
        let c = EvidenceCapture {
            alert_id,
            rule,
            packets: fr.ring.iter().cloned().collect(),
        };
        if self.settings.after == 0 {
            done.push(c);
        } else {
            fr.pending.push((c, self.settings.after));
        }
    }

    /// The flow ended: its captures in progress are complete as they are; its ring is freed.
    pub fn end(&mut self, fr: FlowRing, done: &mut Vec<EvidenceCapture>) {
        self.bytes -= fr.bytes;
        done.extend(fr.pending.into_iter().map(|(c, _)| c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rings(before: usize, after: usize, worker: usize) -> Rings {
        Rings::new(Settings {
            before,
            after,
            max_flow_bytes: 1000,
            max_worker_bytes: worker,
        })
    }

    fn feed(r: &mut Rings, fr: &mut FlowRing, n: u8, done: &mut Vec<EvidenceCapture>) {
        for b in 0..n {
            r.packet(
                fr,
                Timestamp::from_nanos(i64::from(b)),
                10,
                1,
                &[b; 10],
                done,
            );
        }
    }

    #[test]
    fn a_capture_holds_the_packets_before_and_after() {
        let (mut r, mut fr, mut done) = (rings(3, 2, 1 << 20), FlowRing::default(), Vec::new());
        feed(&mut r, &mut fr, 5, &mut done);
        r.arm(&mut fr, 7, "rule", &mut done);
        r.arm(&mut fr, 7, "rule", &mut done);
        assert!(done.is_empty());
        feed(&mut r, &mut fr, 2, &mut done);
        assert_eq!(done.len(), 1, "one capture per alert");
        let firsts: Vec<u8> = done[0].packets.iter().map(|p| p.data[0]).collect();
        assert_eq!(firsts, [2, 3, 4, 0, 1], "the last three, then the next two");
        // The ring stays bounded, and ending the flow frees it.
        assert_eq!(fr.ring.len(), 3);
        r.end(fr, &mut done);
        assert_eq!(r.bytes, 0);
    }

    #[test]
    fn the_worker_budget_refuses_and_a_flow_end_completes_a_capture() {
        let (mut r, mut done) = (rings(4, 10, 25), Vec::new());
        let (mut a, mut b) = (FlowRing::default(), FlowRing::default());
        feed(&mut r, &mut a, 2, &mut done);
        // Flow b finds the budget spent by a: its packets are refused (it has none to drop).
        feed(&mut r, &mut b, 2, &mut done);
        assert_eq!((r.refused, b.ring.len()), (2, 0));
        r.arm(&mut a, 1, "rule", &mut done);
        r.end(a, &mut done);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].packets.len(), 2);
    }
}
