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
