//! Per-flow DNP3 state: link framing of each stream direction (with resync on 0x0564),
//! transport reassembly per (source, destination) address pair, and request/response pairing
//! by application sequence number per master–outstation pair.

use super::codes;
use super::parser::{
    crc_ok, frame_link, parse_fragment, Caps, Flags, Fragment, Framed, LinkError, LinkHeader,
    TransportHeader, LINK_HEADER_LEN, MAX_FRAME_LEN, START,
};
use crate::framing::{Framer, Frames, Problem, Rules, Step};
use crate::{Direction, Operation};

/// Settings of the DNP3 state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Largest application fragment reassembled (IEEE 1815 recommends 2048 by default;
    /// devices may be configured larger). Beyond it the fragment is parsed as far as it
    /// goes, flagged `fragment_too_long`, and further segments are dropped until the next FIR.
    pub max_fragment_len: usize,
    /// Parser caps per fragment.
    pub caps: Caps,
    /// Requests without any response, in a row, after which each further request is flagged
    /// `request_flood`.
    pub flood_requests: u32,
    /// Most (source, destination) pairs reassembled at once per direction.
    pub max_reassemblies: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_fragment_len: 8192,
            caps: Caps::default(),
            flood_requests: 32,
            max_reassemblies: 16,
        }
    }
}

/// Bytes scanned without one valid frame before a stream is declared not DNP3.
pub const NOT_DNP3_AFTER: usize = 1024;

/// What a response needs from its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInfo {
    /// Function code.
    pub function: u8,
    /// Operation.
    pub operation: Operation,
    /// Application sequence number.
    pub seq: u8,
    /// Capture time of the request, ns.
    pub ts_ns: i64,
}

/// A complete application fragment with its context.
#[derive(Debug, Clone, PartialEq)]
pub struct FragmentRecord<'a> {
    /// Request (from the master, function < 129) or response.
    pub direction: Direction,
    /// Header of the frame that completed the fragment.
    pub link: LinkHeader,
    /// Transport segments it was built from.
    pub segments: u32,
    /// The fragment.
    pub fragment: Fragment<'a>,
    /// For a response, its request.
    pub request: Option<RequestInfo>,
    /// For a confirm: whether it confirms an unsolicited response.
    pub confirms_unsolicited: Option<bool>,
    /// For an OPERATE: when the SELECT it executes was captured (ns).
    pub select_ts_ns: Option<i64>,
}

impl FragmentRecord<'_> {
    /// The operation: WRITE of time objects is time synchronisation; responses inherit their
    /// request's.
    pub fn operation(&self) -> Operation {
        let f = &self.fragment;
        if let Some(r) = &self.request {
            return r.operation;
        }
        match f.function {
            2 if f.objects.iter().any(|o| o.group == 50) => Operation::TimeSync,
            fc => codes::function_operation(fc),
        }
    }
}

/// What [`Dnp3Flow`] reports.
#[derive(Debug)]
pub enum Event<'a> {
    /// A link frame that carries no fragment: link-only functions (reset, link status, ack),
    /// or user data discarded for a bad CRC.
    Link {
        /// Request (DIR set: from the master) or response.
        direction: Direction,
        /// The frame's header.
        header: LinkHeader,
        /// `bad_block_crc`, `unknown_link_function`.
        flags: Flags,
    },
    /// A complete application fragment.
    Fragment(FragmentRecord<'a>),
    /// Bytes that do not frame (bad start, length or header CRC); the stream resyncs.
    Malformed(LinkError),
    /// Bytes skipped while resynchronising.
    Skipped(usize),
    /// Transport segments discarded (out of sequence, or without a first segment).
    SegmentsDiscarded(u32),
}

#[derive(Debug, Default)]
struct Reassembly {
    src: u16,
    dst: u16,
    buf: Vec<u8>,
    active: bool,
    /// Dropping segments until the next FIR (after an oversize fragment).
    skipping: bool,
    next_seq: u8,
    segments: u32,
    flags: Flags,
}

/// One direction of a stream: link framing plus transport reassembly per address pair.
#[derive(Debug, Default)]
struct DirState {
    framer: Framer,
    /// User data of the frame being handled (CRCs removed), reused.
    data: Vec<u8>,
    reassembly: Vec<Reassembly>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    master: u16,
    outstation: u16,
    info: Option<RequestInfo>,
    in_a_row: u32,
    selected: Selected,
}

/// The last SELECT from a master to an outstation, until an OPERATE executes it.
#[derive(Debug, Default, Clone, Copy)]
struct Selected {
    active: bool,
    /// Executed by an OPERATE (kept to know that OPERATE's retries).
    operated: bool,
    /// The SELECT's sequence number, then its OPERATE's.
    seq: u8,
    ts_ns: i64,
    /// The SELECT's object headers and data, as their length and a digest: 16 bytes per
    /// master/outstation pair whatever the fragment's size.
    objects: (usize, u64),
}

/// The length and a digest of a request's objects, to compare an OPERATE's with its
/// SELECT's.
fn digest(objects: &[u8]) -> (usize, u64) {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    objects.hash(&mut h);
    (objects.len(), h.finish())
}

impl Selected {
    /// Select-before-operate (IEEE 1815 4.4.3): an OPERATE executes the last SELECT, with
    /// identical objects and the next sequence number, once; an application-layer retry of
    /// that OPERATE (same sequence number and objects) is not a second execution. Returns
    /// the SELECT's time for an OPERATE that executes it; flags one that has no SELECT or
    /// differs from it.
    fn request(
        &mut self,
        fc: u8,
        seq: u8,
        objects: &[u8],
        now_ns: i64,
        flags: &mut Flags,
    ) -> Option<i64> {
        match fc {
            3 => {
                *self = Selected {
                    active: true,
                    operated: false,
                    seq,
                    ts_ns: now_ns,
                    objects: digest(objects),
                };
                None
            }
            4 if self.active
                && self.objects == digest(objects)
                && if self.operated {
                    self.seq == seq
                } else {
                    seq == self.seq.wrapping_add(1) & 0x0F
                } =>
            {
                self.operated = true;
                self.seq = seq;
                Some(self.ts_ns)
            }
            4 => {
                flags.insert(if self.active && !self.operated {
                    Flags::OPERATE_DIFFERS_FROM_SELECT
                } else {
                    Flags::OPERATE_WITHOUT_SELECT
                });
                self.active = false;
                None
            }
            _ => None,
        }
    }
}

/// DNP3 state of one connection (or UDP flow).
#[derive(Debug, Default)]
pub struct Dnp3Flow {
    cfg: Config,
    dirs: [DirState; 2],
    pairs: Vec<Pending>,
    /// Requests never answered (replaced by a newer one, or open when the flow ended).
    pub unanswered: u64,
    /// Fragments still being reassembled when the flow ended (no FIN seen).
    pub incomplete_fragments: u64,
}

/// Link-layer framing, resynchronised on the next link header whose CRC checks.
pub const RULES: Rules = Rules {
    keep: LINK_HEADER_LEN - 1,
    give_up_after: NOT_DNP3_AFTER,
    max_buffer: 2 * MAX_FRAME_LEN,
    plausible_header,
};

/// Framing's view of one direction of a DNP3 flow.
struct LinkFrames<'s, 'f> {
    flow: &'s mut Dnp3Flow,
    i: usize,
    data: Vec<u8>,
    now_ns: i64,
    f: &'f mut dyn FnMut(Event<'_>),
}

impl Frames for LinkFrames<'_, '_> {
    type Error = LinkError;

    fn frame(&mut self, rest: &[u8]) -> Step<LinkError> {
        match frame_link(rest, &mut self.data) {
            Framed::Frame {
                header,
                len,
                bad_blocks,
            } => {
                self.flow
                    .on_frame(self.i, header, bad_blocks, &self.data, self.now_ns, self.f);
                Step::Frame(len)
            }
            Framed::Incomplete(_) => Step::Incomplete,
            Framed::Error(e) => Step::Error(e),
        }
    }

    fn problem(&mut self, p: Problem<LinkError>) {
        match p {
            Problem::Malformed(e) => (self.f)(Event::Malformed(e)),
            Problem::Skipped(n) => (self.f)(Event::Skipped(n)),
        }
    }

    /// Only bad start octets show a stream is something else: a bad CRC or length at the
    /// start is DNP3 gone wrong.
    fn proves_foreign(&self, e: &LinkError) -> bool {
        matches!(e, LinkError::BadStart)
    }
}

/// True when a link header starts at `input` and its CRC checks.
pub fn plausible_header(input: &[u8]) -> bool {
    let Some(&[s0, s1, len, c, d0, d1, s2, s3, k0, k1]) = input.get(..LINK_HEADER_LEN) else {
        return false;
    };
    [s0, s1] == START
        && len >= 5
        && crc_ok(
            &[s0, s1, len, c, d0, d1, s2, s3],
            u16::from_le_bytes([k0, k1]),
        )
}

/// Content probe for the registry. `None` when too short to tell. The payload must start with
/// a link header whose CRC checks; for a stream picked up midstream on DNP3's own port, one
/// within the first frame's worth of bytes will do.
pub fn probe(data: &[u8], midstream: bool) -> Option<bool> {
    if data.len() < LINK_HEADER_LEN {
        // Too short to check a header: undecided if it could still start one.
        return if midstream || data.len() < 2 || data.starts_with(&START) {
            None
        } else {
            Some(false)
        };
    }
    let window = if midstream {
        data.len().min(MAX_FRAME_LEN)
    } else {
        1
    };
    Some((0..window).any(|i| plausible_header(data.get(i..).unwrap_or_default())))
}

impl Dnp3Flow {
    /// State for a new flow.
    pub fn new(cfg: Config) -> Dnp3Flow {
        Dnp3Flow {
            cfg,
            ..Dnp3Flow::default()
        }
    }

    /// True when a direction showed no valid frame at its start.
    pub fn not_this_protocol(&self) -> bool {
        self.dirs.iter().any(|d| d.framer.not_this_protocol(&RULES))
    }

    /// Feeds one UDP datagram (whole link frames).
    pub fn datagram(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        self.frames(dir.index(), data, now_ns, f, true);
    }

    fn frames(
        &mut self,
        i: usize,
        input: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
        datagram: bool,
    ) {
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let mut framer = std::mem::take(&mut d.framer);
        let data = std::mem::take(&mut d.data);
        let mut frames = LinkFrames {
            flow: self,
            i,
            data,
            now_ns,
            f,
        };
        framer.feed(&RULES, input, &mut frames);
        let data = frames.data;
        if datagram {
            framer.end_datagram();
        }
        if let Some(d) = self.dirs.get_mut(i) {
            d.framer = framer;
            d.data = data;
        }
    }

    fn on_frame(
        &mut self,
        i: usize,
        h: LinkHeader,
        bad_blocks: u8,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        let link_dir = if h.dir() {
            Direction::Request
        } else {
            Direction::Response
        };
        let mut lflags = Flags::default();
        if codes::link_function_name(h.prm(), h.function()) == "unknown" {
            lflags.insert(Flags::UNKNOWN_LINK_FUNCTION);
        }
        if !h.has_user_data() || bad_blocks > 0 || data.is_empty() {
            if bad_blocks > 0 {
                lflags.insert(Flags::BAD_BLOCK_CRC);
            }
            f(Event::Link {
                direction: link_dir,
                header: h,
                flags: lflags,
            });
            return;
        }
        let th = TransportHeader::from_octet(data.first().copied().unwrap_or(0));
        let seg = data.get(1..).unwrap_or_default();
        let cfg = self.cfg;
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let slot = match d
            .reassembly
            .iter()
            .position(|r| r.src == h.source && r.dst == h.destination)
        {
            Some(s) => s,
            None => {
                if d.reassembly.len() >= cfg.max_reassemblies {
                    d.reassembly.remove(0);
                }
                crate::common::push_first_one(
                    &mut d.reassembly,
                    Reassembly {
                        src: h.source,
                        dst: h.destination,
                        ..Reassembly::default()
                    },
                );
                d.reassembly.len() - 1
            }
        };
        let Some(r) = d.reassembly.get_mut(slot) else {
            return;
        };
        let mut discarded = 0u32;
        if th.fir {
            if r.active {
                discarded += r.segments;
            }
            r.buf.clear();
            r.flags = if r.active {
                Flags::OUT_OF_SEQUENCE
            } else {
                Flags::default()
            };
            r.active = true;
            r.skipping = false;
            r.segments = 0;
        } else if !r.active {
            f(Event::SegmentsDiscarded(1));
            return;
        } else if th.seq != r.next_seq {
            if th.seq == r.next_seq.wrapping_sub(1) & 0x3f {
                // A repeated segment (link-layer retransmission): ignore it.
                return;
            }
            discarded += r.segments + 1;
            r.active = false;
            r.buf.clear();
            f(Event::SegmentsDiscarded(discarded));
            return;
        }
        if discarded > 0 {
            f(Event::SegmentsDiscarded(discarded));
        }
        r.next_seq = (th.seq + 1) & 0x3f;
        r.segments += 1;
        let room = cfg.max_fragment_len.saturating_sub(r.buf.len());
        let over = seg.len() > room;
        r.buf
            .extend_from_slice(seg.get(..seg.len().min(room)).unwrap_or_default());
        if !(th.fin || over) {
            return;
        }
        let mut frag_flags = r.flags;
        if over {
            frag_flags.insert(Flags::FRAGMENT_TOO_LONG);
        }
        r.active = false;
        r.skipping = over;
        let segments = r.segments;
        let buf = std::mem::take(&mut r.buf);
        let mut fragment = parse_fragment(&buf, &cfg.caps);
        fragment.flags.insert(frag_flags);
        let record = self.pair(
            h,
            segments,
            fragment,
            buf.get(2..).unwrap_or_default(),
            now_ns,
        );
        f(Event::Fragment(record));
        // Give the buffer back for the next fragment of this pair.
        if let Some(r) = self
            .dirs
            .get_mut(i)
            .and_then(|d| d.reassembly.get_mut(slot))
        {
            let mut buf = buf;
            buf.clear();
            r.buf = buf;
        }
    }

    fn pair<'a>(
        &mut self,
        h: LinkHeader,
        segments: u32,
        mut fragment: Fragment<'a>,
        objects: &[u8],
        now_ns: i64,
    ) -> FragmentRecord<'a> {
        let fc = fragment.function;
        let response = codes::is_response(fc);
        let (master, outstation) = if response {
            (h.destination, h.source)
        } else {
            (h.source, h.destination)
        };
        let p = match self
            .pairs
            .iter()
            .position(|p| p.master == master && p.outstation == outstation)
        {
            Some(k) => k,
            None => {
                if self.pairs.len() >= 64 {
                    self.pairs.remove(0);
                }
                crate::common::push_first_one(
                    &mut self.pairs,
                    Pending {
                        master,
                        outstation,
                        ..Pending::default()
                    },
                );
                self.pairs.len() - 1
            }
        };
        let mut request = None;
        let mut confirms_unsolicited = None;
        let mut select_ts_ns = None;
        if let Some(pend) = self.pairs.get_mut(p) {
            let seq = fragment.control.seq;
            match fc {
                0 => confirms_unsolicited = Some(fragment.control.uns),
                // No response expected to these.
                6 | 8 | 10 | 12 | 33 => {}
                129 | 131 => {
                    pend.in_a_row = 0;
                    match pend.info {
                        Some(info) if info.seq == seq => {
                            request = Some(info);
                            if !fragment.control.con || fragment.control.fin {
                                // The last fragment of the response closes the transaction.
                                pend.info = None;
                            }
                        }
                        _ => fragment.flags.insert(Flags::UNPAIRED_RESPONSE),
                    }
                }
                130 => pend.in_a_row = 0,
                _ if !response => {
                    if pend.info.is_some() {
                        self.unanswered += 1;
                    }
                    pend.in_a_row += 1;
                    if pend.in_a_row > self.cfg.flood_requests {
                        fragment.flags.insert(Flags::REQUEST_FLOOD);
                    }
                    let operation = if fc == 2 && fragment.objects.iter().any(|o| o.group == 50) {
                        Operation::TimeSync
                    } else {
                        codes::function_operation(fc)
                    };
                    pend.info = Some(RequestInfo {
                        function: fc,
                        operation,
                        seq,
                        ts_ns: now_ns,
                    });
                    select_ts_ns =
                        pend.selected
                            .request(fc, seq, objects, now_ns, &mut fragment.flags);
                }
                _ => {}
            }
        }
        FragmentRecord {
            direction: if response {
                Direction::Response
            } else {
                Direction::Request
            },
            link: h,
            segments,
            fragment,
            request,
            confirms_unsolicited,
            select_ts_ns,
        }
    }
}

impl crate::flow::FlowParser for Dnp3Flow {
    type Event<'a> = Event<'a>;

    /// Feeds stream bytes of one direction captured at `now_ns`.
    fn feed(&mut self, dir: Direction, data: &[u8], now_ns: i64, f: &mut dyn FnMut(Event<'_>)) {
        self.frames(dir.index(), data, now_ns, f, false);
    }

    /// Bytes are missing in direction `dir`: drop the partial frame and resync.
    fn gap(&mut self, dir: Direction) {
        if let Some(d) = self.dirs.get_mut(dir.index()) {
            d.framer.gap();
        }
    }

    fn datagram(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), &'static str> {
        Dnp3Flow::datagram(self, dir, data, now_ns, f);
        Ok(())
    }

    /// The flow ended: open requests were never answered.
    fn finish(&mut self) {
        for p in &mut self.pairs {
            if p.info.take().is_some() {
                self.unanswered += 1;
            }
        }
        for d in &mut self.dirs {
            for r in &mut d.reassembly {
                if r.active {
                    r.active = false;
                    self.incomplete_fragments += 1;
                }
            }
        }
    }

    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("unanswered_requests", self.unanswered);
        f("incomplete_fragments", self.incomplete_fragments);
    }

    fn give_up(&self) -> Option<&'static str> {
        self.not_this_protocol().then_some("not_dnp3")
    }
}

#[cfg(test)]
mod select_tests {
    use super::*;

    /// The cases of the opendnp3 select/operate conformance tests (8.2.1.2.x): the outcome is
    /// what the outstation answered there (status 0, or NO_SELECT).
    #[test]
    fn an_operate_executes_its_select_once_with_the_next_sequence_number() {
        let crob = [12, 1, 0x17, 1, 0, 3, 1, 100, 0, 0, 0, 200, 0, 0, 0, 0];
        let mut other = crob;
        other[4] = 1; // point 1, not 0
        let run = |steps: &[(u8, u8, &[u8])]| {
            let mut sel = Selected::default();
            steps
                .iter()
                .map(|&(fc, seq, objects)| {
                    let mut flags = Flags::default();
                    let paired = sel.request(fc, seq, objects, i64::from(seq), &mut flags);
                    (
                        paired.is_some(),
                        flags.contains(Flags::OPERATE_WITHOUT_SELECT),
                        flags.contains(Flags::OPERATE_DIFFERS_FROM_SELECT),
                    )
                })
                .collect::<Vec<_>>()
        };
        let (sel, ok) = ((false, false, false), (true, false, false));
        // Select, operate; the same operate again (a retry); a new operate.
        assert_eq!(
            run(&[(3, 0, &crob), (4, 1, &crob), (4, 1, &crob), (4, 2, &crob)]),
            vec![sel, ok, ok, (false, true, false)]
        );
        // Another point, or a sequence number that is not the next one.
        assert_eq!(
            run(&[(3, 0, &crob), (4, 1, &other)]),
            vec![sel, (false, false, true)]
        );
        assert_eq!(
            run(&[(3, 0, &crob), (4, 2, &crob), (4, 1, &crob)]),
            vec![sel, (false, false, true), (false, true, false)]
        );
        // No select at all; sequence numbers wrap at 16.
        assert_eq!(run(&[(4, 0, &crob)]), vec![(false, true, false)]);
        assert_eq!(run(&[(3, 15, &crob), (4, 0, &crob)]), vec![sel, ok]);
    }
}
