//! Framing one direction of a byte stream into frames, with resynchronisation: the loop every
//! stream protocol shares (Modbus MBAP, TPKT, DNP3 link frames), written once.
//!
//! The framer buffers at most one partial frame, hands each complete frame to the protocol's
//! `frame` closure, and when bytes do not frame (or after a gap) scans for the next plausible
//! header. A stream whose very first bytes are not a frame, or that shows no valid frame in
//! its first `give_up_after` bytes, is not this protocol. Every step consumes at least one
//! byte (the progress guard), so no input makes the loop spin.
//!
//! ```
//! use otsensor_protocols::framing::{Framer, Frames, Problem, Rules, Step};
//! // Frames are a length byte and that many bytes; a plausible header is a non-zero length.
//! struct Lv(Vec<Vec<u8>>);
//! impl Frames for Lv {
//!     type Error = ();
//!     fn frame(&mut self, b: &[u8]) -> Step<()> {
//!         match b.split_first() {
//!             Some((0, _)) => Step::Error(()),
//!             Some((&l, rest)) if rest.len() >= usize::from(l) => {
//!                 self.0.push(rest.get(..usize::from(l)).unwrap_or_default().to_vec());
//!                 Step::Frame(usize::from(l) + 1)
//!             }
//!             _ => Step::Incomplete,
//!         }
//!     }
//!     fn problem(&mut self, _: Problem<()>) {}
//! }
//! let rules = Rules { keep: 0, give_up_after: 64, max_buffer: 512, plausible_header: |b| b.first().is_some_and(|&l| l > 0) };
//! let (mut framer, mut lv) = (Framer::default(), Lv(Vec::new()));
//! framer.feed(&rules, &[2, 7, 7, 1], &mut lv);
//! framer.feed(&rules, &[9], &mut lv);
//! assert_eq!(lv.0, vec![vec![7, 7], vec![9]]);
//! ```

/// What a protocol made of the bytes at a frame boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<E> {
    /// A frame of this many bytes (at least one), handled by the protocol.
    Frame(usize),
    /// Too few bytes to tell: wait for more.
    Incomplete,
    /// Not a valid frame: the framer reports it and resynchronises.
    Error(E),
}

/// What the framer reports besides frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem<E> {
    /// Bytes that did not frame.
    Malformed(E),
    /// Bytes skipped while looking for a header (or dropped at the buffer cap).
    Skipped(usize),
}

/// A protocol's framing rules.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Bytes kept when a scan finds no plausible header (one may straddle into the next
    /// segment): the header length less one.
    pub keep: usize,
    /// Bytes scanned without a single valid frame before the stream is not this protocol.
    pub give_up_after: usize,
    /// Most bytes buffered (a partial frame never needs more).
    pub max_buffer: usize,
    /// Whether a frame header plausibly starts at the first byte.
    pub plausible_header: fn(&[u8]) -> bool,
}

/// The protocol's side of framing: what it makes of the bytes at a frame boundary, and
/// where the problems go (in stream order with the frames).
pub trait Frames {
    /// Why bytes are not a frame.
    type Error: Copy;
    /// Parses (and handles) the frame at the start of `rest`.
    fn frame(&mut self, rest: &[u8]) -> Step<Self::Error>;
    /// Bytes that did not frame.
    fn problem(&mut self, p: Problem<Self::Error>);
    /// Whether this error on a stream's first bytes shows the stream is another protocol.
    fn proves_foreign(&self, _e: &Self::Error) -> bool {
        true
    }
}

/// Runs `run` with the framer `slot` picks taken out of its owner, so that the consumer of
/// its frames may borrow the owner (the flow), then puts it back. Nothing runs when there is
/// no such framer.
pub fn with_framer<O>(
    owner: &mut O,
    slot: impl Fn(&mut O) -> Option<&mut Framer>,
    run: impl FnOnce(&mut Framer, &mut O),
) {
    let Some(s) = slot(owner) else {
        return;
    };
    let mut framer = std::mem::take(s);
    run(&mut framer, owner);
    if let Some(s) = slot(owner) {
        *s = framer;
    }
}

/// One direction's framing state.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Whether the next byte is not known to start a frame (after a gap or an error).
    lost: bool,
    /// At least one valid frame was seen.
    seen_valid: bool,
    /// Bytes skipped since the last valid frame (saturating: 32 bits keep a connection's
    /// framers small).
    skipped: u32,
    /// The stream's first bytes were not a frame.
    bad_start: bool,
}

impl Framer {
    /// Counts `n` bytes skipped.
    fn skip(&mut self, n: usize) {
        self.skipped = self
            .skipped
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Bytes are missing before the next data: drop the partial frame and resync.
    pub fn gap(&mut self) {
        self.buf.clear();
        self.lost = true;
    }

    /// True when this stream has shown it is not the protocol: no valid frame, and either its
    /// first bytes were not one or `give_up_after` bytes were scanned in vain.
    pub fn not_this_protocol(&self, rules: &Rules) -> bool {
        !self.seen_valid && (self.bad_start || self.skipped as usize >= rules.give_up_after)
    }

    /// A datagram ended: what did not frame in it is dropped, and the next datagram starts
    /// at a frame boundary.
    pub fn end_datagram(&mut self) {
        self.buf.clear();
        self.lost = false;
    }

    /// Feeds stream bytes: the protocol's [`Frames::frame`] is called at each frame boundary
    /// with the bytes from there on, [`Frames::problem`] with what did not frame.
    pub fn feed<P: Frames>(&mut self, rules: &Rules, data: &[u8], p: &mut P) {
        let mut buf = std::mem::take(&mut self.buf);
        if buf.is_empty() {
            let used = self.frame(rules, data, p);
            buf.extend_from_slice(data.get(used..).unwrap_or_default());
        } else {
            buf.extend_from_slice(data);
            let used = self.frame(rules, &buf, p);
            buf.drain(..used.min(buf.len()));
        }
        if buf.len() > rules.max_buffer {
            // Cannot happen with a correct protocol (a partial frame is smaller), but the cap
            // holds whatever the input: drop and resync.
            self.skip(buf.len());
            p.problem(Problem::Skipped(buf.len()));
            buf.clear();
            self.lost = true;
        }
        self.buf = buf;
    }

    /// Frames as many frames as `input` holds; returns the bytes used.
    fn frame<P: Frames>(&mut self, rules: &Rules, input: &[u8], p: &mut P) -> usize {
        let mut pos = 0;
        while pos < input.len() {
            let start = pos;
            let rest = input.get(pos..).unwrap_or_default();
            if self.lost {
                let found = (0..rest.len())
                    .find(|&i| (rules.plausible_header)(rest.get(i..).unwrap_or_default()));
                match found {
                    Some(off) => {
                        if off > 0 {
                            self.skip(off);
                            p.problem(Problem::Skipped(off));
                        }
                        pos += off;
                        self.lost = false;
                    }
                    None => {
                        let skip = rest.len() - rest.len().min(rules.keep);
                        if skip > 0 {
                            self.skip(skip);
                            p.problem(Problem::Skipped(skip));
                        }
                        return pos + skip;
                    }
                }
                continue;
            }
            match p.frame(rest) {
                Step::Frame(len) => {
                    self.seen_valid = true;
                    self.skipped = 0;
                    pos += len;
                }
                Step::Incomplete => return pos,
                Step::Error(e) => {
                    p.problem(Problem::Malformed(e));
                    if !self.seen_valid && self.skipped == 0 && start == 0 && p.proves_foreign(&e) {
                        // The stream starts with something else: not this protocol.
                        self.bad_start = true;
                        return input.len();
                    }
                    self.lost = true;
                    self.skip(1);
                    pos += 1;
                }
            }
            // Progress guard: every step consumes at least one byte.
            pos = pos.max(start + 1);
        }
        pos.min(input.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Frames: `0xAA`, a length byte, that many bytes. `0xAA 0x00` is an error.
    fn rules() -> Rules {
        Rules {
            keep: 1,
            give_up_after: 16,
            max_buffer: 600,
            plausible_header: |b| b.first() == Some(&0xAA) && b.get(1).is_none_or(|&l| l > 0),
        }
    }

    #[derive(Default)]
    struct Rec {
        frames: Vec<Vec<u8>>,
        problems: Vec<Problem<u8>>,
    }

    impl Frames for Rec {
        type Error = u8;
        fn frame(&mut self, b: &[u8]) -> Step<u8> {
            match b {
                [0xAA, 0, ..] => Step::Error(0),
                [0xAA, l, rest @ ..] if rest.len() >= usize::from(*l) => {
                    self.frames.push(rest[..usize::from(*l)].to_vec());
                    Step::Frame(usize::from(*l) + 2)
                }
                [0xAA] | [0xAA, _, ..] => Step::Incomplete,
                [x, ..] => Step::Error(*x),
                [] => Step::Incomplete,
            }
        }
        fn problem(&mut self, p: Problem<u8>) {
            self.problems.push(p);
        }
    }

    fn run(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<Problem<u8>>, Framer) {
        let mut rec = Rec::default();
        let mut f = Framer::default();
        for c in chunks {
            f.feed(&rules(), c, &mut rec);
        }
        (rec.frames, rec.problems, f)
    }

    #[test]
    fn frames_across_segments_and_resyncs_after_errors() {
        let (frames, problems, f) =
            run(&[&[0xAA, 2, 1], &[2, 0xAA, 1, 3, 0xAA, 0, 5, 5, 0xAA, 1, 4]]);
        assert_eq!(frames, vec![vec![1, 2], vec![3], vec![4]]);
        assert_eq!(problems, vec![Problem::Malformed(0), Problem::Skipped(3)]);
        assert!(!f.not_this_protocol(&rules()));
    }

    #[test]
    fn a_stream_that_starts_with_something_else_is_foreign() {
        let (frames, problems, f) = run(&[b"GET / HTTP/1.1"]);
        assert!(frames.is_empty());
        assert_eq!(problems, vec![Problem::Malformed(b'G')]);
        assert!(f.not_this_protocol(&rules()));
    }

    #[test]
    fn after_a_gap_it_gives_up_when_nothing_frames() {
        let mut f = Framer::default();
        f.gap();
        let mut rec = Rec::default();
        f.feed(&rules(), &[1; 40], &mut rec);
        assert_eq!(rec.problems, vec![Problem::Skipped(39)]);
        assert!(f.not_this_protocol(&rules()));
    }

    proptest! {
        /// Any bytes in any split: no panic, the buffer stays capped, and frames come out
        /// the same however the stream was split.
        #[test]
        fn bounded_and_split_independent(data in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
            let cut = cut.min(data.len());
            let (whole, _, f1) = run(&[&data]);
            let (split, _, f2) = run(&[&data[..cut], &data[cut..]]);
            prop_assert!(f1.buf.len() <= rules().max_buffer && f2.buf.len() <= rules().max_buffer);
            // Errors at the very start differ only when a split moves the start (a stream
            // that starts foreign stops there in both).
            if !f1.bad_start && !f2.bad_start {
                prop_assert_eq!(whole, split);
            }
        }
    }
}
