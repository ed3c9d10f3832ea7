//! Sampled Values summarised per stream (svID) per second: a merging unit's 4,000 frames a
//! second make one summary a second, with what a protection engineer checks — samples,
//! smpCnt continuity (lost, repeated, out of order), confRev and smpSynch — and the
//! publishers of the svID (a second one is a spoof or a misconfiguration).

use super::SvAsdu;

/// Most streams followed at once: the first ones heard stay, later ones are counted as
/// refused (a flood of svIDs cannot push out the substation's own streams).
pub const MAX_STREAMS: usize = 1024;

/// One stream's second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvSecond {
    /// The stream.
    pub sv_id: String,
    /// The second (Unix time) it summarises.
    pub second: i64,
    /// Its publisher (the first MAC heard this second).
    pub publisher: [u8; 6],
    /// The flow (pipeline flow id) of the first ASDU heard this second.
    pub flow_id: u64,
    /// Index (in the input) of the last frame heard this second.
    pub last_packet: u64,
    /// Another MAC that published the svID this second, if any.
    pub other_publisher: Option<[u8; 6]>,
    /// ASDUs (samples) heard.
    pub samples: u64,
    /// Sample counts skipped.
    pub lost: u64,
    /// Sample counts heard twice in a row.
    pub repeated: u64,
    /// Sample counts that went back (not a wrap).
    pub out_of_order: u64,
    /// The last confRev.
    pub conf_rev: Option<u32>,
    /// confRev changed during the second.
    pub conf_rev_changed: bool,
    /// The last smpSynch (0 none, 1 local, 2 global).
    pub smp_synch: Option<u8>,
    /// smpSynch was 0 (not synchronised) at least once.
    pub unsynchronised: bool,
}

#[derive(Debug)]
struct Stream {
    now: SvSecond,
    last_cnt: Option<u32>,
    /// The highest smpCnt heard: counters wrap after it (at the samples per second).
    max_cnt: u32,
}

/// Where an ASDU was heard: its flow and packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heard {
    /// The pipeline's flow id.
    pub flow_id: u64,
    /// The packet's index in the input.
    pub packet: u64,
}

/// The SV streams a worker hears.
#[derive(Debug, Default)]
pub struct SvStreams {
    streams: std::collections::HashMap<String, Stream>,
    /// ASDUs of streams not followed, the table being full.
    pub refused: u64,
}

impl SvStreams {
    /// One ASDU from `src` at `ts_ns`; the summary of the stream's previous second when this
    /// ASDU starts a new one.
    pub fn asdu(&mut self, ts_ns: i64, src: [u8; 6], at: Heard, a: &SvAsdu) -> Option<SvSecond> {
        let second = ts_ns.div_euclid(1_000_000_000);
        let fresh = |a: &SvAsdu| SvSecond {
            sv_id: a.sv_id.clone(),
            second,
            publisher: src,
            flow_id: at.flow_id,
            last_packet: at.packet,
            other_publisher: None,
            samples: 0,
            lost: 0,
            repeated: 0,
            out_of_order: 0,
            conf_rev: a.conf_rev,
            conf_rev_changed: false,
            smp_synch: a.smp_synch,
            unsynchronised: false,
        };
        // Found by reference: no allocation per ASDU once the stream is known.
        if !self.streams.contains_key(&a.sv_id) {
            if self.streams.len() >= MAX_STREAMS {
                self.refused += 1;
                return None;
            }
            let stream = Stream {
                now: fresh(a),
                last_cnt: None,
                max_cnt: 0,
            };
            self.streams.insert(a.sv_id.clone(), stream);
        }
        let s = self.streams.get_mut(&a.sv_id)?;
        let done = if second != s.now.second {
            let mut next = fresh(a);
            next.conf_rev = s.now.conf_rev.or(a.conf_rev);
            // A second already reported by `due` is not reported again.
            Some(std::mem::replace(&mut s.now, next)).filter(|d| d.samples > 0)
        } else {
            None
        };
        let n = &mut s.now;
        n.samples += 1;
        n.last_packet = at.packet;
        if src != n.publisher && n.other_publisher.is_none() {
            n.other_publisher = Some(src);
        }
        if let (Some(old), Some(new)) = (n.conf_rev, a.conf_rev) {
            n.conf_rev_changed |= old != new;
        }
        n.conf_rev = a.conf_rev.or(n.conf_rev);
        n.smp_synch = a.smp_synch.or(n.smp_synch);
        n.unsynchronised |= a.smp_synch == Some(0);
        if let Some(cnt) = a.smp_cnt {
            if let Some(last) = s.last_cnt {
                let wrap = u64::from(s.max_cnt) + 1;
                if cnt == last {
                    n.repeated += 1;
                } else if cnt > last {
                    n.lost += u64::from(cnt - last - 1);
                } else if u64::from(last - cnt) > wrap / 2 {
                    // Wrapped: after the highest count, 0 comes next.
                    n.lost += (wrap - 1).saturating_sub(u64::from(last)) + u64::from(cnt);
                } else {
                    n.out_of_order += 1;
                }
            }
            s.max_cnt = s.max_cnt.max(cnt);
            s.last_cnt = Some(cnt);
        }
        done
    }

    /// The current second of every stream (at the end of the input), in svID order.
    pub fn flush(&mut self) -> Vec<SvSecond> {
        let mut v: Vec<SvSecond> = self
            .streams
            .drain()
            .map(|(_, s)| s.now)
            .filter(|n| n.samples > 0)
            .collect();
        v.sort_by(|a, b| a.sv_id.cmp(&b.sv_id));
        v
    }

    /// The seconds of streams that fell silent: those whose second ended before `now_ns`'s
    /// previous second began (a stream still sending reports its second with its next
    /// ASDU), in svID order. Each is reported once; the stream stays followed.
    pub fn due(&mut self, now_ns: i64) -> Vec<SvSecond> {
        let now = now_ns.div_euclid(1_000_000_000);
        let mut v = Vec::new();
        for s in self.streams.values_mut() {
            if s.now.samples > 0 && s.now.second + 1 < now {
                v.push(s.now.clone());
                s.now.samples = 0;
                (s.now.lost, s.now.repeated, s.now.out_of_order) = (0, 0, 0);
                s.now.other_publisher = None;
                s.now.conf_rev_changed = false;
                s.now.unsynchronised = false;
            }
        }
        v.sort_by(|a, b| a.sv_id.cmp(&b.sv_id));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asdu(cnt: u32) -> SvAsdu {
        SvAsdu {
            sv_id: "MU01".into(),
            smp_cnt: Some(cnt),
            conf_rev: Some(1),
            smp_synch: Some(2),
            ..SvAsdu::default()
        }
    }

    const MU: [u8; 6] = [0, 1, 2, 3, 4, 5];

    #[test]
    fn streams_past_the_bound_are_refused_and_counted() {
        let mut s = SvStreams::default();
        for k in 0..MAX_STREAMS + 3 {
            let mut a = asdu(0);
            a.sv_id = format!("MU{k}");
            s.asdu(0, MU, Heard::default(), &a);
        }
        assert_eq!(s.refused, 3);
        assert_eq!(s.flush().len(), MAX_STREAMS);
    }

    #[test]
    fn a_second_of_4000_samples_with_a_loss_a_repeat_and_a_wrap() {
        let mut s = SvStreams::default();
        let mut done = Vec::new();
        // Second 0: 0..=3999, minus 10, with 20 twice.
        for cnt in (0..4000u32).filter(|c| *c != 10) {
            let t = i64::from(cnt) * 250_000;
            done.extend(s.asdu(t, MU, Heard::default(), &asdu(cnt)));
            if cnt == 20 {
                done.extend(s.asdu(t, MU, Heard::default(), &asdu(cnt)));
            }
        }
        // Second 1 starts: 0 after 3999 is a wrap, not a loss; then 2 (1 lost).
        done.extend(s.asdu(1_000_000_000, MU, Heard::default(), &asdu(0)));
        done.extend(s.asdu(1_000_250_000, MU, Heard::default(), &asdu(2)));
        done.extend(s.asdu(1_000_500_000, [9; 6], Heard::default(), &asdu(1)));
        assert_eq!(done.len(), 1);
        let d = &done[0];
        assert_eq!(
            (d.second, d.samples, d.lost, d.repeated, d.out_of_order),
            (0, 4000, 1, 1, 0)
        );
        let last = s.flush();
        assert_eq!(last.len(), 1);
        let l = &last[0];
        assert_eq!((l.samples, l.lost, l.out_of_order), (3, 1, 1));
        assert_eq!(l.other_publisher, Some([9; 6]));
        assert!(!l.unsynchronised && !l.conf_rev_changed);
    }

    #[test]
    fn a_silent_stream_reports_its_last_second_once() {
        let mut s = SvStreams::default();
        for cnt in 0..10 {
            let at = Heard {
                flow_id: 7,
                packet: u64::from(cnt),
            };
            assert!(s.asdu(i64::from(cnt) * 1000, MU, at, &asdu(cnt)).is_none());
        }
        assert!(s.due(1_500_000_000).is_empty(), "its second may go on");
        let d = s.due(2_000_000_000);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].samples, d[0].flow_id, d[0].last_packet), (10, 7, 9));
        assert!(s.due(3_000_000_000).is_empty());
        assert!(s.flush().is_empty());
        // Heard again: a new second, without the reported one again.
        let back = s.asdu(5_000_000_000, MU, Heard::default(), &asdu(10));
        assert!(back.is_none());
        assert_eq!(s.flush()[0].samples, 1);
    }
}
