//! What a substation's GOOSE streams must not do (IEC 61850-8-1 §18.1): the judge of each
//! control block's stream, by its reference (gocbRef), whatever MAC sends it.
//!
//! - a second publisher: the same gocbRef from another MAC than the stream's (spoofing,
//!   T0856 Spoof Reporting Message / T0830 Adversary-in-the-Middle);
//! - stNum jumping far ahead, or going back; sqNum going back without a new stNum (the
//!   high-stNum poisoning and replay attacks, T0855 Unauthorized Command Message);
//! - silence past twice the timeAllowedToLive the last frame promised (subscribers drop
//!   the stream: T0814 Denial of Service, or a dead IED);
//! - the simulation (test) flag on a stream that was live; a changed confRev (the dataset's
//!   configuration changed).
//!
//! Bounded: at most [`MAX_STREAMS`] control blocks, least recently heard forgotten first.
//! The pipeline's workers feed it every GOOSE PDU (a control block's frames all reach one
//! worker, whatever MAC sends them).

use std::hash::{Hash, Hasher};

use otsensor_protocols::goose::{Goose, Header};

use crate::lru::Lru;

/// Most GOOSE control blocks followed.
pub const MAX_STREAMS: usize = 4096;
/// How far stNum may advance between two frames before it is a jump (a lost state change
/// or two is not an attack; a poisoning frame sets it far ahead).
pub const MAX_ST_STEP: u32 = 8;

/// Something a GOOSE stream did that it must not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The control block is published from a second MAC.
    SecondPublisher {
        /// The stream's publisher.
        known: [u8; 6],
        /// The other one.
        other: [u8; 6],
    },
    /// stNum advanced by more than [`MAX_ST_STEP`].
    StNumJump {
        /// Before.
        from: u32,
        /// Now.
        to: u32,
    },
    /// stNum went back (a replay, or a publisher that restarted).
    StNumBack {
        /// Before.
        from: u32,
        /// Now.
        to: u32,
    },
    /// sqNum went back within one stNum (a replay).
    SqNumBack {
        /// The state number.
        st: u32,
        /// Before.
        from: u32,
        /// Now.
        to: u32,
    },
    /// The stream was silent past twice its time allowed to live.
    Silent {
        /// The silence, ms.
        gap_ms: u64,
        /// The time allowed to live the last frame gave, ms.
        tal_ms: u32,
    },
    /// The simulation flag appeared on a live stream.
    Simulation,
    /// confRev changed.
    ConfRevChanged {
        /// Before.
        from: u32,
        /// Now.
        to: u32,
    },
}

/// A stream that fell silent (see [`GooseWatch::silent`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    /// The control block.
    pub gocb_ref: String,
    /// The header of its last frame (publisher, destination, VLAN, APPID).
    pub header: Header,
    /// What was found ([`Finding::Silent`]).
    pub finding: Finding,
}

#[derive(Debug, Clone)]
struct Stream {
    gocb_ref: Box<str>,
    header: Header,
    mac: [u8; 6],
    st: u32,
    sq: u32,
    conf_rev: Option<u32>,
    simulation: bool,
    tal_ms: Option<u32>,
    last_ns: i64,
}

/// The GOOSE streams of a network, by control block.
#[derive(Debug)]
pub struct GooseWatch {
    streams: Lru<u64, Stream>,
    /// Control blocks forgotten to make room.
    pub evicted: u64,
}

impl Default for GooseWatch {
    fn default() -> Self {
        GooseWatch {
            streams: Lru::new(MAX_STREAMS),
            evicted: 0,
        }
    }
}

fn key(gocb_ref: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    gocb_ref.hash(&mut h);
    h.finish()
}

impl GooseWatch {
    /// Judges one GOOSE PDU of a frame with header `h` captured at `ts_ns`; what it did
    /// wrong goes to `out`. Returns the ms since the stream's previous frame when this one,
    /// from the stream's publisher, repeats the same state (the retransmission interval,
    /// which grows to the heartbeat).
    pub fn frame(
        &mut self,
        ts_ns: i64,
        h: &Header,
        g: &Goose,
        out: &mut Vec<Finding>,
    ) -> Option<u64> {
        let src = h.src;
        let (Some(st), Some(sq)) = (g.st_num, g.sq_num) else {
            return None;
        };
        let fresh = || Stream {
            gocb_ref: g.gocb_ref.as_str().into(),
            header: *h,
            mac: src,
            st,
            sq,
            conf_rev: g.conf_rev,
            simulation: g.simulation,
            tal_ms: g.time_allowed_to_live,
            last_ns: ts_ns,
        };
        let mut evicted = 0;
        let mut new = false;
        let s = self.streams.entry_counting(
            key(&g.gocb_ref),
            ts_ns,
            || {
                new = true;
                fresh()
            },
            &mut evicted,
        );
        self.evicted += evicted;
        if new {
            return None;
        }
        if s.mac != src {
            // Another device's frames are not the stream's: judged, never learned from.
            out.push(Finding::SecondPublisher {
                known: s.mac,
                other: src,
            });
            if st > s.st.saturating_add(MAX_ST_STEP) {
                out.push(Finding::StNumJump { from: s.st, to: st });
            }
            return None;
        }
        if let Some(tal) = s.tal_ms {
            let gap_ms = u64::try_from(ts_ns.saturating_sub(s.last_ns) / 1_000_000).unwrap_or(0);
            if gap_ms > 2 * u64::from(tal) {
                out.push(Finding::Silent {
                    gap_ms,
                    tal_ms: tal,
                });
            }
        }
        if st > s.st.saturating_add(MAX_ST_STEP) {
            out.push(Finding::StNumJump { from: s.st, to: st });
        } else if st < s.st {
            out.push(Finding::StNumBack { from: s.st, to: st });
        } else if st == s.st && sq < s.sq {
            out.push(Finding::SqNumBack {
                st,
                from: s.sq,
                to: sq,
            });
        }
        if g.simulation && !s.simulation {
            out.push(Finding::Simulation);
        }
        if let (Some(a), Some(b)) = (s.conf_rev, g.conf_rev) {
            if a != b {
                out.push(Finding::ConfRevChanged { from: a, to: b });
            }
        }
        let repeat = (st == s.st && sq > s.sq)
            .then(|| u64::try_from(ts_ns.saturating_sub(s.last_ns) / 1_000_000).ok())
            .flatten();
        (s.st, s.sq, s.conf_rev, s.header) = (st, sq, g.conf_rev, *h);
        (s.simulation, s.tal_ms, s.last_ns) = (g.simulation, g.time_allowed_to_live, ts_ns);
        repeat
    }

    /// Streams silent past twice their time allowed to live at `now_ns` (without waiting for
    /// their next frame): each reported once, then forgotten.
    pub fn silent(&mut self, now_ns: i64, out: &mut Vec<Silence>) {
        let mut dead = Vec::new();
        for (k, s) in self.streams.iter() {
            if let Some(tal) = s.tal_ms {
                let gap_ms =
                    u64::try_from(now_ns.saturating_sub(s.last_ns) / 1_000_000).unwrap_or(0);
                if gap_ms > 2 * u64::from(tal) {
                    dead.push((*k, gap_ms, tal));
                }
            }
        }
        // In the order the streams were last heard: the same for any worker count.
        dead.sort_by_key(|(k, ..)| self.streams.get(k).map(|s| (s.last_ns, s.gocb_ref.clone())));
        for (k, gap_ms, tal_ms) in dead {
            if let Some(s) = self.streams.remove(&k) {
                out.push(Silence {
                    gocb_ref: s.gocb_ref.into(),
                    header: s.header,
                    finding: Finding::Silent { gap_ms, tal_ms },
                });
            }
        }
    }

    /// Control blocks followed.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether none is followed.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdu(st: u32, sq: u32) -> Goose {
        Goose {
            gocb_ref: "IED1LD0/LLN0$GO$gcb01".into(),
            time_allowed_to_live: Some(2000),
            st_num: Some(st),
            sq_num: Some(sq),
            conf_rev: Some(1),
            ..Goose::default()
        }
    }

    const IED: [u8; 6] = [0, 0xa0, 0xf4, 0, 0, 1];
    const ROGUE: [u8; 6] = [2, 0xde, 0xad, 0, 0, 1];

    fn from(src: [u8; 6]) -> Header {
        Header {
            src,
            dst: [1, 0x0c, 0xcd, 1, 0, 1],
            vlan: None,
            ethertype: otsensor_protocols::goose::GOOSE,
            appid: 1,
            length: 0,
            simulated: false,
        }
    }

    fn run(frames: &[(i64, [u8; 6], Goose)]) -> Vec<Finding> {
        let mut w = GooseWatch::default();
        let mut out = Vec::new();
        for (ms, mac, g) in frames {
            w.frame(ms * 1_000_000, &from(*mac), g, &mut out);
        }
        out
    }

    #[test]
    fn a_steady_stream_and_its_state_changes_are_quiet() {
        let out = run(&[
            (0, IED, pdu(1, 0)),
            (1000, IED, pdu(1, 1)),
            (1005, IED, pdu(2, 0)),
            (1010, IED, pdu(2, 1)),
            (2000, IED, pdu(2, 2)),
        ]);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn spoofing_poisoning_replay_silence_and_changes() {
        let out = run(&[
            (0, IED, pdu(5, 3)),
            (10, ROGUE, pdu(5000, 0)),
            (1000, IED, pdu(5, 4)),
        ]);
        assert_eq!(
            out,
            [
                Finding::SecondPublisher {
                    known: IED,
                    other: ROGUE
                },
                Finding::StNumJump { from: 5, to: 5000 }
            ]
        );
        let out = run(&[(0, IED, pdu(5, 3)), (10, IED, pdu(5, 1))]);
        assert_eq!(
            out,
            [Finding::SqNumBack {
                st: 5,
                from: 3,
                to: 1
            }]
        );
        let out = run(&[(0, IED, pdu(5, 3)), (10, IED, pdu(4, 0))]);
        assert_eq!(out, [Finding::StNumBack { from: 5, to: 4 }]);
        let out = run(&[(0, IED, pdu(5, 3)), (4001, IED, pdu(5, 4))]);
        assert_eq!(
            out,
            [Finding::Silent {
                gap_ms: 4001,
                tal_ms: 2000
            }]
        );
        let mut sim = pdu(5, 4);
        sim.simulation = true;
        sim.conf_rev = Some(2);
        let out = run(&[(0, IED, pdu(5, 3)), (10, IED, sim)]);
        assert_eq!(
            out,
            [
                Finding::Simulation,
                Finding::ConfRevChanged { from: 1, to: 2 }
            ]
        );
        // Silence noticed without a next frame, once.
        let mut w = GooseWatch::default();
        let mut found = Vec::new();
        w.frame(0, &from(IED), &pdu(1, 0), &mut found);
        assert!(found.is_empty());
        let mut out = Vec::new();
        w.silent(3_000_000_000, &mut out);
        assert!(out.is_empty());
        w.silent(5_000_000_000, &mut out);
        w.silent(9_000_000_000, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].gocb_ref, "IED1LD0/LLN0$GO$gcb01");
        assert_eq!(out[0].header.src, IED);
        assert!(w.is_empty());
    }
}
