//! Per-connection IEC 60870-5-104 state: APDU framing of each direction (through
//! [`crate::framing`]), send sequence numbers checked per direction (gaps and duplicates
//! flagged), ASDUs decoded.

use super::codes::is_command;
use super::parser::{
    asdu, frame, plausible_header, Asdu, Control, Flags, FrameError, Value, APCI_LEN,
};
use crate::framing::{Framer, Frames, Problem, Rules, Step};
use crate::Direction;

/// Octets scanned without one valid APDU before a stream is not IEC 104.
pub const NOT_IEC104_AFTER: usize = 1024;
/// Most activations awaiting their confirmation per connection; one more drops the oldest
/// (counted unanswered).
pub const MAX_OUTSTANDING: usize = crate::flow::DEFAULT_MAX_OUTSTANDING;
/// Most points remembered per connection as operated with select-before-operate.
pub const MAX_SBO_POINTS: usize = 256;
/// Causes of transmission: activation, its confirmation, deactivation, its confirmation.
const ACT: u8 = 6;
const ACTCON: u8 = 7;
const DEACT: u8 = 8;
const DEACTCON: u8 = 9;

/// APDU framing, resynchronised on the next plausible APCI.
pub const RULES: Rules = Rules {
    keep: APCI_LEN - 1,
    give_up_after: NOT_IEC104_AFTER,
    max_buffer: 2 * 255,
    plausible_header,
};

/// One APDU.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// From the controlling station (the connection's client) or back.
    pub direction: Direction,
    /// The control field.
    pub control: Control,
    /// The ASDU of an I-frame.
    pub asdu: Option<Asdu>,
    /// For a confirmation (actcon, deactcon), when its activation was captured (ns).
    pub request_ts_ns: Option<i64>,
    /// For a command executed after its select: when the select was captured (ns).
    pub select_ts_ns: Option<i64>,
    /// Out-of-spec conditions of the APDU (sequence, control octets) and its ASDU.
    pub flags: Flags,
}

/// What [`Iec104Flow`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An APDU.
    Apdu(Record),
    /// Octets that do not frame; the stream resyncs.
    Malformed(Direction, FrameError),
    /// Octets skipped while resynchronising.
    Skipped(Direction, usize),
}

/// IEC 104 state of one connection.
#[derive(Debug, Default)]
pub struct Iec104Flow {
    framers: [Framer; 2],
    /// The next N(S) expected per direction.
    next_send: [Option<u16>; 2],
    /// I-frames whose N(S) skipped numbers.
    pub sequence_gaps: u64,
    /// Activations awaiting their confirmation: type id, common address, first IOA, time.
    pending: Vec<(u8, u16, u32, i64)>,
    /// Most activations (and selects) kept awaiting their answer (0: the default).
    max_outstanding: usize,
    /// Activations never confirmed.
    pub unanswered: u64,
    /// Commands selected and not executed yet.
    selects: Vec<Select>,
    /// Points (common address, IOA) this connection selected before operating them.
    sbo_points: Vec<(u16, u32)>,
    /// Selects never executed (cancelled, replaced, refused or open at the end).
    pub selects_not_executed: u64,
}

/// A command selected (S/E = 1), awaiting its execute.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Select {
    point: (u16, u32),
    type_id: u8,
    /// The command's value, as bits (compared, not computed with).
    value: u64,
    ts_ns: i64,
}

impl Iec104Flow {
    /// True when a direction has shown only octets that are not IEC 104.
    pub fn not_this_protocol(&self) -> bool {
        self.framers.iter().any(|f| f.not_this_protocol(&RULES))
    }

    fn apdu(
        &mut self,
        dir: Direction,
        control: Control,
        mut flags: Flags,
        body: &[u8],
        now_ns: i64,
    ) -> Record {
        let mut decoded = None;
        let mut request_ts_ns = None;
        let mut select_ts_ns = None;
        if let Control::I { send, .. } = control {
            let i = dir.index();
            if let Some(slot) = self.next_send.get_mut(i) {
                match *slot {
                    Some(want) if send != want => {
                        // N(S) counts modulo 2^15.
                        let behind = want.wrapping_sub(send) & 0x7FFF;
                        if behind != 0 && behind < 0x4000 {
                            flags.insert(Flags::SEQUENCE_DUPLICATE);
                        } else {
                            flags.insert(Flags::SEQUENCE_GAP);
                            self.sequence_gaps += 1;
                        }
                    }
                    _ => {}
                }
                *slot = Some(send.wrapping_add(1) & 0x7FFF);
            }
            let a = asdu(body);
            flags.insert(a.flags);
            request_ts_ns = self.pair(dir, &a, now_ns);
            if is_command(a.type_id) {
                select_ts_ns = self.select_execute(dir, &a, now_ns, &mut flags);
            }
            decoded = Some(a);
        }
        Record {
            direction: dir,
            control,
            asdu: decoded,
            request_ts_ns,
            select_ts_ns,
            flags,
        }
    }

    /// Select-before-operate (IEC 60870-5-101 7.2.6.26: the S/E bit of a command's
    /// qualifier): an activation with S/E = 1 selects a point, the next activation with
    /// S/E = 0 on it executes the select, with the same type and value; a deactivation or a
    /// refused select cancels it. Direct execution (no select) is allowed, except that a point
    /// this connection has selected before, executed without a select, is flagged. Returns the
    /// select's time for an execute of it.
    fn select_execute(
        &mut self,
        dir: Direction,
        a: &Asdu,
        now_ns: i64,
        flags: &mut Flags,
    ) -> Option<i64> {
        let o = a.objects.first()?;
        let point = (a.common_address, o.ioa);
        let selecting = o.quality.contains(&"select");
        let pos = self.selects.iter().position(|s| s.point == point);
        match (dir, a.cause) {
            (Direction::Request, ACT) if selecting => {
                if let Some(k) = pos {
                    self.selects.remove(k);
                    self.selects_not_executed += 1;
                }
                if self.selects.len() >= crate::flow::outstanding_cap(self.max_outstanding) {
                    self.selects.remove(0);
                    self.selects_not_executed += 1;
                }
                self.selects.push(Select {
                    point,
                    type_id: a.type_id,
                    value: value_bits(&o.value),
                    ts_ns: now_ns,
                });
                if !self.sbo_points.contains(&point) {
                    if self.sbo_points.len() >= MAX_SBO_POINTS {
                        self.sbo_points.remove(0);
                    }
                    self.sbo_points.push(point);
                }
                None
            }
            (Direction::Request, ACT) => {
                let Some(k) = pos else {
                    if self.sbo_points.contains(&point) {
                        flags.insert(Flags::OPERATE_WITHOUT_SELECT);
                    }
                    return None;
                };
                let s = self.selects.remove(k);
                if (s.type_id, s.value) != (a.type_id, value_bits(&o.value)) {
                    flags.insert(Flags::OPERATE_DIFFERS_FROM_SELECT);
                }
                Some(s.ts_ns)
            }
            // Cancelled by the master, or refused by the station.
            (Direction::Request, DEACT) | (Direction::Response, ACTCON)
                if pos.is_some() && (a.cause == DEACT || (a.negative && selecting)) =>
            {
                if let Some(k) = pos {
                    self.selects.remove(k);
                    self.selects_not_executed += 1;
                }
                None
            }
            _ => None,
        }
    }

    /// Pairs an activation (from the controlling station) with its confirmation (from the
    /// station), by type id, common address and first object address; returns the
    /// activation's time for a confirmation.
    fn pair(&mut self, dir: Direction, a: &Asdu, now_ns: i64) -> Option<i64> {
        let ioa = a.ranges.first().map_or(0, |r| r.0);
        let key = (a.type_id, a.common_address, ioa);
        match (dir, a.cause) {
            (Direction::Request, ACT | DEACT) => {
                if self.pending.len() >= crate::flow::outstanding_cap(self.max_outstanding) {
                    self.pending.remove(0);
                    self.unanswered += 1;
                }
                crate::common::push_first_one(&mut self.pending, (key.0, key.1, key.2, now_ns));
                None
            }
            (Direction::Response, ACTCON | DEACTCON) => {
                let k = self.pending.iter().position(|p| (p.0, p.1, p.2) == key)?;
                Some(self.pending.remove(k).3)
            }
            _ => None,
        }
    }
}

/// A command's value as bits, to compare a select's with its execute's.
fn value_bits(v: &Value) -> u64 {
    match *v {
        Value::Number(v) => v.to_bits(),
        Value::Bits(b) => u64::from(b),
        Value::None => 0,
    }
}

/// Framing's view of one direction.
struct Apdus<'s, 'f> {
    flow: &'s mut Iec104Flow,
    dir: Direction,
    now_ns: i64,
    f: &'f mut dyn FnMut(Event),
}

impl Frames for Apdus<'_, '_> {
    type Error = FrameError;

    fn frame(&mut self, rest: &[u8]) -> Step<FrameError> {
        match frame(rest) {
            Ok(Some((len, control, flags, body))) => {
                let rec = self.flow.apdu(self.dir, control, flags, body, self.now_ns);
                (self.f)(Event::Apdu(rec));
                Step::Frame(len)
            }
            Ok(None) => Step::Incomplete,
            Err(e) => Step::Error(e),
        }
    }

    fn problem(&mut self, p: Problem<FrameError>) {
        match p {
            Problem::Malformed(e) => (self.f)(Event::Malformed(self.dir, e)),
            Problem::Skipped(n) => (self.f)(Event::Skipped(self.dir, n)),
        }
    }

    /// On its port, octets before the first APCI are skipped (as Wireshark does, scanning for
    /// the start octet); a stream that never frames is given up after `NOT_IEC104_AFTER`.
    fn proves_foreign(&self, _e: &FrameError) -> bool {
        false
    }
}

/// Content probe: `None` when too short; the payload must start with a plausible APCI.
pub fn probe(data: &[u8]) -> Option<bool> {
    if data.len() < APCI_LEN {
        return if data.first().is_none_or(|&b| b == super::parser::START) {
            None
        } else {
            Some(false)
        };
    }
    Some(plausible_header(data))
}

impl crate::flow::FlowParser for Iec104Flow {
    fn set_max_outstanding(&mut self, n: usize) {
        self.max_outstanding = n;
    }

    type Event<'a> = Event;

    /// Feeds stream octets of one direction.
    fn feed(&mut self, dir: Direction, data: &[u8], now_ns: i64, f: &mut dyn FnMut(Event)) {
        let i = dir.index();
        crate::framing::with_framer(
            self,
            |fl: &mut Iec104Flow| fl.framers.get_mut(i),
            |framer, flow| {
                framer.feed(
                    &RULES,
                    data,
                    &mut Apdus {
                        flow,
                        dir,
                        now_ns,
                        f,
                    },
                )
            },
        );
    }

    fn gap(&mut self, dir: Direction) {
        let i = dir.index();
        if let Some(fr) = self.framers.get_mut(i) {
            fr.gap();
        }
        // Frames were lost: the next N(S) is not known.
        if let Some(s) = self.next_send.get_mut(i) {
            *s = None;
        }
    }

    /// IEC 104 runs over TCP only.
    fn datagram(
        &mut self,
        _dir: Direction,
        _data: &[u8],
        _now_ns: i64,
        _f: &mut dyn FnMut(Event),
    ) -> Result<(), &'static str> {
        Err("iec104_over_udp")
    }

    fn finish(&mut self) {
        self.unanswered += self.pending.len() as u64;
        self.pending.clear();
        self.selects_not_executed += self.selects.len() as u64;
        self.selects.clear();
    }

    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("sequence_gaps", self.sequence_gaps);
        f("unanswered_requests", self.unanswered);
        f("selects_not_executed", self.selects_not_executed);
    }

    fn give_up(&self) -> Option<&'static str> {
        self.not_this_protocol().then_some("not_iec104")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowParser;
    use proptest::prelude::*;

    fn apdus(chunks: &[&[u8]]) -> Vec<Record> {
        let mut flow = Iec104Flow::default();
        let mut out = Vec::new();
        for c in chunks {
            flow.feed(Direction::Response, c, 0, &mut |e| {
                if let Event::Apdu(r) = e {
                    out.push(r);
                }
            });
        }
        out
    }

    /// TestDissectIec104.pcap frame 41: junk, then an APDU of type 24 (undefined) that is cut
    /// short; frame 110: an S-frame, then an interrogation command, in one segment.
    #[test]
    fn junk_before_an_apdu_and_several_apdus_in_a_segment() {
        let a = apdus(&[&[
            8, 8, 8, 8, 8, 8, 8, 8, 0x68, 6, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18,
        ]]);
        assert_eq!(a.len(), 1);
        let asdu = a[0].asdu.as_ref().expect("an I-frame");
        assert_eq!(asdu.type_id, 24);
        assert!(a[0].flags.contains(Flags::UNKNOWN_TYPE) && a[0].flags.contains(Flags::TRUNCATED));
        let b = apdus(&[&[
            0x68, 4, 1, 0, 2, 0, 0x68, 0x0e, 2, 0, 2, 0, 100, 1, 7, 0, 0x0d, 0x91, 0, 0, 0, 20,
        ]]);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].control, Control::S { recv: 1 });
        assert_eq!(
            b[1].asdu
                .as_ref()
                .map(|a| (a.type_id, a.cause, a.common_address)),
            Some((100, 7, 0x910d))
        );
    }

    #[test]
    fn sequence_gaps_and_duplicates_are_flagged() {
        let i = |ns: u16| {
            let c = ns << 1;
            vec![
                0x68,
                0x0e,
                (c & 0xff) as u8,
                (c >> 8) as u8,
                0,
                0,
                100,
                1,
                6,
                0,
                1,
                0,
                0,
                0,
                0,
                20,
            ]
        };
        let (a, b, c, d) = (i(0), i(1), i(3), i(3));
        let r = apdus(&[&a, &b, &c, &d]);
        let f: Vec<_> = r
            .iter()
            .map(|r| {
                (
                    r.flags.contains(Flags::SEQUENCE_GAP),
                    r.flags.contains(Flags::SEQUENCE_DUPLICATE),
                )
            })
            .collect();
        assert_eq!(
            f,
            vec![(false, false), (false, false), (true, false), (false, true)]
        );
    }

    /// A command's confirmation carries its activation's time; one never confirmed counts.
    #[test]
    fn activations_pair_with_confirmations() {
        let apdu =
            |cause: u8, ioa: u8| vec![0x68, 0x0e, 0, 0, 0, 0, 45, 1, cause, 0, 1, 0, ioa, 0, 0, 1];
        let mut flow = Iec104Flow::default();
        let mut seen = Vec::new();
        for (dir, b, t) in [
            (Direction::Request, apdu(6, 5), 1_000),
            (Direction::Request, apdu(6, 9), 2_000),
            (Direction::Response, apdu(7, 5), 5_000),
            (Direction::Response, apdu(10, 5), 6_000),
        ] {
            flow.feed(dir, &b, t, &mut |e| {
                if let Event::Apdu(r) = e {
                    seen.push(r.request_ts_ns);
                }
            });
        }
        assert_eq!(seen, vec![None, None, Some(1_000), None]);
        flow.finish();
        assert_eq!(flow.unanswered, 1);
    }

    /// Select-before-operate: an execute of a select carries the select's time; an execute
    /// differing from its select, or without one on a point selected before, is flagged; a
    /// point never selected may be executed directly; a select never executed is counted.
    #[test]
    fn selects_pair_with_their_executes() {
        // C_SC_NA_1 (45) activation on IOA `ioa`, SCO `sco` (bit 7: select, bit 0: state).
        let cmd = |cause: u8, ioa: u8, sco: u8| {
            vec![
                0x68, 0x0e, 0, 0, 0, 0, 45, 1, cause, 0, 1, 0, ioa, 0, 0, sco,
            ]
        };
        let mut flow = Iec104Flow::default();
        let mut seen = Vec::new();
        for (b, t) in [
            (cmd(6, 5, 0x81), 1_000),  // select IOA 5 ON
            (cmd(6, 5, 0x01), 3_000),  // execute ON: paired
            (cmd(6, 5, 0x01), 4_000),  // execute again without select: flagged
            (cmd(6, 7, 0x01), 5_000),  // IOA 7 never selected: direct execute is fine
            (cmd(6, 5, 0x81), 6_000),  // select IOA 5 ON
            (cmd(6, 5, 0x00), 7_000),  // execute OFF: differs
            (cmd(6, 9, 0x81), 8_000),  // select IOA 9 ...
            (cmd(8, 9, 0x81), 9_000),  // ... deactivated
            (cmd(6, 9, 0x01), 10_000), // execute without select on a selected point
            (cmd(6, 5, 0x81), 11_000), // select never executed
        ] {
            flow.feed(Direction::Request, &b, t, &mut |e| {
                if let Event::Apdu(r) = e {
                    seen.push((
                        r.select_ts_ns,
                        r.flags.contains(Flags::OPERATE_WITHOUT_SELECT),
                        r.flags.contains(Flags::OPERATE_DIFFERS_FROM_SELECT),
                    ));
                }
            });
        }
        let n = (None, false, false);
        assert_eq!(
            seen,
            vec![
                n,
                (Some(1_000), false, false),
                (None, true, false),
                n,
                n,
                (Some(6_000), false, true),
                n,
                n,
                (None, true, false),
                n,
            ]
        );
        flow.finish();
        assert_eq!(
            flow.selects_not_executed, 2,
            "the cancelled select and the last"
        );
    }

    /// A select the station refuses (negative confirmation) is not waiting any more.
    #[test]
    fn a_refused_select_is_dropped() {
        let apdu =
            |cause: u8, sco: u8| vec![0x68, 0x0e, 0, 0, 0, 0, 46, 1, cause, 0, 1, 0, 3, 0, 0, sco];
        let mut flow = Iec104Flow::default();
        let mut flags = Vec::new();
        for (dir, b) in [
            (Direction::Request, apdu(6, 0x82)),
            (Direction::Response, apdu(0x47, 0x82)),
            (Direction::Request, apdu(6, 0x02)),
        ] {
            flow.feed(dir, &b, 0, &mut |e| {
                if let Event::Apdu(r) = e {
                    flags.push(r.flags.contains(Flags::OPERATE_WITHOUT_SELECT));
                }
            });
        }
        assert_eq!(flags, vec![false, false, true]);
        assert_eq!(flow.selects_not_executed, 1);
    }

    proptest! {
        /// Any octets, split anywhere: no panic, and the same APDUs however the stream is
        /// split where nothing was malformed.
        #[test]
        fn any_octets_any_split(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
            let cut = cut.min(data.len());
            let whole = apdus(&[&data]);
            let split = apdus(&[&data[..cut], &data[cut..]]);
            // (Compared as text: a decoded float may be NaN, which is not equal to itself.)
            prop_assert_eq!(format!("{whole:?}"), format!("{split:?}"));
            let _ = crate::iec104::parser::asdu(&data);
        }
    }
}
