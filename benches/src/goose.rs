//! Forged GOOSE for the substation detections: a copy of a real publisher's frame, sent from
//! another MAC with its stNum far ahead (the high-stNum poisoning attack: subscribers take the
//! forged state and drop the real publisher's until its stNum catches up), interleaved right
//! after the original in a capture.

use otsensor_protocols::goose;
use otsensor_protocols::mms::ber;

use crate::Frame;

/// A BER length.
fn ber_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

/// An unsigned INTEGER's content octets (with a leading zero when the top bit is set).
fn ber_uint(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let first = b.iter().position(|x| *x != 0).unwrap_or(3);
    let mut out = b[first..].to_vec();
    if out[0] & 0x80 != 0 {
        out.insert(0, 0);
    }
    out
}

/// `frame`, a GOOSE frame, as if `rogue` sent it with stNum `ahead` past the original's and
/// sqNum 0; `None` when `frame` is not GOOSE.
pub fn forge_frame(frame: &[u8], rogue: [u8; 6], ahead: u32) -> Option<Vec<u8>> {
    let (h, pdu) = goose::header(frame)?;
    if h.ethertype != goose::GOOSE {
        return None;
    }
    let g = goose::goose(pdu)?;
    let st = g.st_num?.saturating_add(ahead);
    let (outer, _) = ber::read(pdu)?;
    let mut body = Vec::new();
    let mut rest = outer.value;
    while let Some((t, after)) = ber::read(rest) {
        let whole = &rest[..rest.len() - after.len()];
        match (t.class, t.number) {
            (2, 5) => {
                body.extend([&[0x85][..], &ber_len(ber_uint(st).len()), &ber_uint(st)].concat())
            }
            (2, 6) => body.extend([0x86, 1, 0]),
            _ => body.extend(whole),
        }
        rest = after;
    }
    let mut new_pdu = vec![0x61];
    new_pdu.extend(ber_len(body.len()));
    new_pdu.extend(body);
    // Header: everything before the PDU, with the source MAC and the length field replaced.
    let head_len = frame.len() - pdu.len();
    let mut out = frame[..head_len].to_vec();
    out[6..12].copy_from_slice(&rogue);
    let len_at = head_len - 6;
    let total = (new_pdu.len() + 8) as u16;
    out[len_at..len_at + 2].copy_from_slice(&total.to_be_bytes());
    out.extend(new_pdu);
    Some(out)
}

/// `frames` with a forged copy of the `nth` GOOSE frame (0-based) right after it, 1 µs later;
/// returns the frames and the forged frame's index.
pub fn forge(
    frames: &[Frame],
    nth: usize,
    rogue: [u8; 6],
    ahead: u32,
) -> Option<(Vec<Frame>, usize)> {
    let (at, original) = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| goose::header(&f.data).is_some_and(|(h, _)| h.ethertype == goose::GOOSE))
        .nth(nth)?;
    let forged = Frame {
        ts_us: original.ts_us + 1,
        data: forge_frame(&original.data, rogue, ahead)?,
    };
    let mut out = frames.to_vec();
    out.insert(at + 1, forged);
    Some((out, at + 1))
}

/// A BER TLV with a short tag.
fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(ber_len(v.len()));
    out.extend(v);
    out
}

/// What a Sampled Values stream does: a merging unit (`mu`) publishing `sv_id` at `rate`
/// frames a second for `secs` seconds, one ASDU a frame with 8 currents and voltages
/// (IEC 61850-9-2LE), its smpCnt wrapping at the rate.
#[derive(Debug, Clone)]
pub struct SvStream {
    /// The merging unit's MAC.
    pub mu: [u8; 6],
    /// Stream id.
    pub sv_id: String,
    /// Frames a second.
    pub rate: u32,
    /// Seconds.
    pub secs: u32,
    /// Start, µs since the epoch.
    pub start_us: u64,
    /// smpCnt values never sent (lost samples), as (second, count) pairs.
    pub drop: Vec<(u32, u32)>,
    /// A second publisher: from this MAC, the frame of (second, count) sent again.
    pub rogue: Option<([u8; 6], u32, u32)>,
}

impl SvStream {
    /// `sv_id` from `mu` at 4,000 frames a second (80 samples a cycle at 50 Hz) for `secs`.
    pub fn new(mu: [u8; 6], sv_id: &str, secs: u32) -> SvStream {
        SvStream {
            mu,
            sv_id: sv_id.into(),
            rate: 4000,
            secs,
            start_us: 1_700_000_000_000_000,
            drop: Vec::new(),
            rogue: None,
        }
    }

    fn frame(&self, src: [u8; 6], cnt: u32) -> Vec<u8> {
        let mut asdu = tlv(0x80, self.sv_id.as_bytes());
        asdu.extend(tlv(0x82, &(cnt as u16).to_be_bytes()));
        asdu.extend(tlv(0x83, &1u32.to_be_bytes()));
        asdu.extend(tlv(0x85, &[2]));
        // 8 channels of (value, quality).
        let mut samples = Vec::with_capacity(64);
        for ch in 0..8u32 {
            let phase = (cnt + ch * 27) % self.rate.max(1);
            samples.extend((phase as i32 * 10).to_be_bytes());
            samples.extend(0u32.to_be_bytes());
        }
        asdu.extend(tlv(0x87, &samples));
        let seq = tlv(0xa2, &tlv(0x30, &asdu));
        let mut body = tlv(0x80, &[1]);
        body.extend(seq);
        let pdu = tlv(0x60, &body);
        let mut f = vec![0x01, 0x0c, 0xcd, 0x04, 0x00, 0x01];
        f.extend(src);
        f.extend([0x81, 0x00, 0x80, 0x05, 0x88, 0xba, 0x40, 0x00]);
        f.extend(((pdu.len() + 8) as u16).to_be_bytes());
        f.extend([0, 0, 0, 0]);
        f.extend(pdu);
        f
    }

    /// The frames, in time order.
    pub fn frames(&self) -> Vec<Frame> {
        let mut out = Vec::with_capacity((self.rate * self.secs) as usize);
        let step = 1_000_000 / u64::from(self.rate.max(1));
        for sec in 0..self.secs {
            for cnt in 0..self.rate {
                let ts_us = self.start_us + u64::from(sec) * 1_000_000 + u64::from(cnt) * step;
                if !self.drop.contains(&(sec, cnt)) {
                    out.push(Frame {
                        ts_us,
                        data: self.frame(self.mu, cnt),
                    });
                }
                if let Some((rogue, s, c)) = self.rogue {
                    if (s, c) == (sec, cnt) {
                        out.push(Frame {
                            ts_us: ts_us + 1,
                            data: self.frame(rogue, cnt),
                        });
                    }
                }
            }
        }
        out
    }
}

/// `streams` merging units (`MU01MU0101`, `MU02MU0101`, ...) for `secs` seconds, merged by
/// time; with `faults`, the first loses smpCnt 100 to 119 of its second second and a rogue
/// MAC (02:de:ad:be:ef:02) sends a copy of its frame 500 of that second.
pub fn sv_capture(secs: u32, streams: u8, faults: bool) -> Vec<Frame> {
    let mut frames = Vec::new();
    for k in 0..streams {
        let mut s = SvStream::new(
            [0x00, 0x0a, 0x35, 0x00, 0x01, k],
            &format!("MU{:02}MU0101", k + 1),
            secs,
        );
        if faults && k == 0 {
            s.drop = (100..120).map(|c| (1, c)).collect();
            s.rogue = Some(([0x02, 0xde, 0xad, 0xbe, 0xef, 0x02], 1, 500));
        }
        frames = crate::interleave(frames, s.frames());
    }
    frames
}
