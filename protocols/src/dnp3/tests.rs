//! DNP3 parser tests: the STYLE.md list with real bytes (file and frame named), plus proptest
//! properties.

use crate::flow::FlowParser;
use proptest::prelude::*;

use super::objects::Value;
use super::parser::*;
use super::state::*;
use crate::{Direction, Operation};

pub(crate) use crate::testing::hex;

/// Builds a link frame with correct CRCs around `user` data.
fn frame(control: u8, dst: u16, src: u16, user: &[u8]) -> Vec<u8> {
    let mut h = vec![0x05, 0x64, (user.len() + 5) as u8, control];
    h.extend_from_slice(&dst.to_le_bytes());
    h.extend_from_slice(&src.to_le_bytes());
    let c = crc(&h);
    h.extend_from_slice(&c.to_le_bytes());
    for block in user.chunks(16) {
        h.extend_from_slice(block);
        h.extend_from_slice(&crc(block).to_le_bytes());
    }
    h
}

/// A request frame from master 1 to outstation 10 carrying one whole fragment.
fn request(app: &[u8]) -> Vec<u8> {
    let mut u = vec![0xc0];
    u.extend_from_slice(app);
    frame(0xc4, 10, 1, &u)
}

fn response(app: &[u8]) -> Vec<u8> {
    let mut u = vec![0xc0];
    u.extend_from_slice(app);
    frame(0x44, 1, 10, &u)
}

// ../shared/pcaps/dnp3/iti-ics__directoperate_and_response.pcap, frame 4: DIRECT_OPERATE of a
// CROB (g12v1, qualifier 0x28, index 3, latch on... code 0x03? see test) from master 1 to 10.
const DO_REQ: &str = "05641ac40a0001008a1cc0c0050c012801000000030164000000dded6400000000005b";
// Same file, frame 6: the outstation's response echoing the CROB with status 0.
const DO_RESP: &str = "05641c4401000a007636c9c08100000c012801000000030164008ccd00006400000000005b";
// ../shared/pcaps/dnp3/zeek__dnp3.pcap, frame 4: unsolicited response with IIN1 device restart.
const UNSOL: &str = "05640a44030004007caee6f78210004fbd";
// Same file, frame 7: WRITE of g50v1 (time and date), i.e. a time synchronisation.
const WRITE_TIME: &str = "056412c4040003001e7cc1c10232010701ebe45a87ff002801";

#[derive(Debug, Default)]
struct Out {
    fragments: Vec<(Direction, u8, Flags, Option<RequestInfo>, Operation, usize)>,
    links: Vec<(u8, Flags)>,
    malformed: usize,
    discarded: u32,
}

fn feed(flow: &mut Dnp3Flow, dir: Direction, chunks: &[&[u8]], out: &mut Out) {
    for (t, c) in chunks.iter().enumerate() {
        flow.feed(dir, c, t as i64, &mut |e| match e {
            Event::Fragment(r) => out.fragments.push((
                r.direction,
                r.fragment.function,
                r.fragment.flags,
                r.request,
                r.operation(),
                r.fragment.objects.len(),
            )),
            Event::Link { header, flags, .. } => out.links.push((header.function(), flags)),
            Event::Malformed(_) => out.malformed += 1,
            Event::Skipped(_) => {}
            Event::SegmentsDiscarded(n) => out.discarded += n,
        });
    }
}

fn run(dir: Direction, chunks: &[&[u8]]) -> Out {
    let mut flow = Dnp3Flow::new(Config::default());
    let mut out = Out::default();
    feed(&mut flow, dir, chunks, &mut out);
    out
}

#[test]
fn crc_matches_captured_frames() {
    let b = hex(UNSOL);
    assert_eq!(crc(&b[..8]), u16::from_le_bytes([b[8], b[9]]));
    assert_eq!(crc(&b[10..15]), u16::from_le_bytes([b[15], b[16]]));
    assert_eq!(frame(0x44, 3, 4, &b[10..15]), b);
}

#[test]
fn empty_input_yields_nothing() {
    let out = run(Direction::Request, &[b""]);
    assert!(out.fragments.is_empty() && out.links.is_empty() && out.malformed == 0);
    let f = parse_fragment(&[], &Caps::default());
    assert!(f.flags.contains(Flags::FRAGMENT_TOO_SHORT));
    let mut d = Vec::new();
    assert_eq!(frame_link(&[], &mut d), Framed::Incomplete(LINK_HEADER_LEN));
}

#[test]
fn real_direct_operate_and_response_pair() {
    let mut flow = Dnp3Flow::new(Config::default());
    let mut out = Out::default();
    feed(&mut flow, Direction::Request, &[&hex(DO_REQ)], &mut out);
    feed(&mut flow, Direction::Response, &[&hex(DO_RESP)], &mut out);
    assert_eq!(out.fragments.len(), 2);
    let (d, fc, flags, req, op, n) = out.fragments[0];
    assert_eq!(
        (d, fc, n, op),
        (Direction::Request, 5, 1, Operation::Control)
    );
    assert!(flags.is_empty(), "{:?}", flags.names().collect::<Vec<_>>());
    assert!(req.is_none());
    let (d, fc, flags, req, op, _) = out.fragments[1];
    assert_eq!((d, fc, op), (Direction::Response, 129, Operation::Control));
    assert!(flags.is_empty());
    assert_eq!(req.map(|r| r.function), Some(5));
    // The CROB itself.
    let mut data = Vec::new();
    let Framed::Frame { .. } = frame_link(&hex(DO_REQ), &mut data) else {
        panic!()
    };
    let f = parse_fragment(&data[1..], &Caps::default());
    let o = &f.objects[0];
    assert_eq!(
        (o.group, o.variation, o.qualifier, o.count),
        (12, 1, 0x28, 1)
    );
    assert!(
        matches!(
            o.points[0].value,
            Value::Crob {
                code: 0x03,
                count: 1,
                on_ms: 100,
                ..
            }
        ),
        "{:?}",
        o.points[0]
    );
    assert_eq!(o.points[0].index, 0);
}

#[test]
fn unsolicited_and_time_write() {
    let out = run(Direction::Response, &[&hex(UNSOL)]);
    assert_eq!(out.fragments[0].1, 130);
    let mut data = Vec::new();
    frame_link(&hex(UNSOL), &mut data);
    let f = parse_fragment(&data[1..], &Caps::default());
    assert_eq!(f.iin, Some(0x1000));
    assert!(f.control.uns && f.control.con);
    let out = run(Direction::Request, &[&hex(WRITE_TIME)]);
    assert_eq!(
        (out.fragments[0].1, out.fragments[0].4),
        (2, Operation::TimeSync)
    );
}

#[test]
fn truncation_at_every_offset_never_emits() {
    for f in [DO_REQ, DO_RESP, UNSOL, WRITE_TIME] {
        let b = hex(f);
        for cut in 0..b.len() {
            let out = run(Direction::Request, &[&b[..cut]]);
            assert!(
                out.fragments.is_empty() && out.malformed == 0,
                "{f} cut {cut}"
            );
        }
        let mut data = Vec::new();
        frame_link(&b, &mut data);
        for cut in 0..data.len() {
            let _ = parse_fragment(data.get(1..cut).unwrap_or_default(), &Caps::default());
        }
    }
}

#[test]
fn one_frame_split_across_segments_and_two_in_one() {
    let b = hex(DO_REQ);
    for split in 1..b.len() {
        let out = run(Direction::Request, &[&b[..split], &b[split..]]);
        assert_eq!(out.fragments.len(), 1, "split {split}");
    }
    let mut two = hex(DO_REQ);
    two.extend(hex(WRITE_TIME));
    let out = run(Direction::Request, &[&two]);
    assert_eq!(
        out.fragments.iter().map(|f| f.1).collect::<Vec<_>>(),
        vec![5, 2]
    );
}

#[test]
fn transport_reassembles_multi_segment_fragments() {
    // A READ response of 40 g30v2 points split over three transport segments.
    let mut app = vec![0xc3, 0x81, 0x00, 0x00, 30, 2, 0x00, 0, 39];
    for i in 0..40u16 {
        app.push(0x01);
        app.extend_from_slice(&i.to_le_bytes());
    }
    let parts: Vec<&[u8]> = app.chunks(50).collect();
    let mut stream = Vec::new();
    for (k, p) in parts.iter().enumerate() {
        let th = (k as u8 & 0x3f)
            | if k == 0 { 0x40 } else { 0 }
            | if k == parts.len() - 1 { 0x80 } else { 0 };
        let mut u = vec![th];
        u.extend_from_slice(p);
        stream.extend(frame(0x44, 1, 10, &u));
    }
    let out = run(Direction::Response, &[&stream]);
    assert_eq!(out.fragments.len(), 1);
    assert!(out.fragments[0].2.contains(Flags::UNPAIRED_RESPONSE));
    // Out of sequence: the middle segment is lost, the partial fragment is discarded.
    let mut lossy = Vec::new();
    let frames: Vec<Vec<u8>> = parts
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let th = k as u8
                | if k == 0 { 0x40 } else { 0 }
                | if k == parts.len() - 1 { 0x80 } else { 0 };
            let mut u = vec![th];
            u.extend_from_slice(p);
            frame(0x44, 1, 10, &u)
        })
        .collect();
    lossy.extend(&frames[0]);
    lossy.extend(&frames[2]);
    let out = run(Direction::Response, &[&lossy]);
    assert!(out.fragments.is_empty());
    assert_eq!(out.discarded, 2);
}

#[test]
fn lying_length_and_bad_crcs() {
    // Length 3 (< 5): malformed, then the next good frame is found.
    let mut b = frame(0xc4, 10, 1, &[]);
    b[2] = 3;
    let c = crc(&b[..8]);
    b[8..10].copy_from_slice(&c.to_le_bytes());
    b.extend(hex(DO_REQ));
    let out = run(Direction::Request, &[&b]);
    assert!(out.malformed >= 1);
    assert_eq!(out.fragments.len(), 1);
    // A data block with a bad CRC: the frame's data is discarded and flagged.
    let mut b = hex(DO_REQ);
    let last = b.len() - 1;
    b[last] ^= 0xff;
    let out = run(Direction::Request, &[&b]);
    assert!(out.fragments.is_empty());
    assert!(out.links[0].1.contains(Flags::BAD_BLOCK_CRC));
    // A header with a bad CRC cannot be trusted: malformed, resync.
    let mut b = hex(DO_REQ);
    b[9] ^= 1;
    b.extend(hex(WRITE_TIME));
    let out = run(Direction::Request, &[&b]);
    assert_eq!(out.malformed, 1);
    assert_eq!(
        out.fragments.iter().map(|f| f.1).collect::<Vec<_>>(),
        vec![2]
    );
    // An object range that lies about its size.
    let f = parse_fragment(
        &[0xc0, 0x81, 0, 0, 30, 1, 0x00, 0, 9, 1, 2, 3],
        &Caps::default(),
    );
    assert!(f.flags.contains(Flags::TRUNCATED));
    let f = parse_fragment(&[0xc0, 0x01, 30, 1, 0x00, 9, 0], &Caps::default());
    assert!(f.flags.contains(Flags::INVALID_RANGE));
}

#[test]
fn unknown_codes_are_kept_and_flagged() {
    let f = parse_fragment(&[0xc0, 0x55, 1, 2, 3], &Caps::default());
    assert_eq!(f.function, 0x55);
    assert!(f.flags.contains(Flags::UNKNOWN_FUNCTION));
    let f = parse_fragment(&[0xc0, 0x81, 0, 0, 99, 1, 0x00, 0, 0, 7], &Caps::default());
    assert!(f.flags.contains(Flags::UNKNOWN_OBJECT));
    assert_eq!(f.objects[0].group, 99);
    let f = parse_fragment(&[0xc0, 0x01, 30, 1, 0x0a], &Caps::default());
    assert!(f.flags.contains(Flags::BAD_QUALIFIER));
    // Unknown link function: a link-only event, flagged.
    let out = run(Direction::Request, &[&frame(0xc5, 10, 1, &[])]);
    assert!(out.links[0].1.contains(Flags::UNKNOWN_LINK_FUNCTION));
}

#[test]
fn exception_reply_via_iin() {
    // The outstation does not support the function: IIN2 bit 0.
    let mut flow = Dnp3Flow::new(Config::default());
    let mut out = Out::default();
    feed(
        &mut flow,
        Direction::Request,
        &[&request(&[0xc0, 31])],
        &mut out,
    );
    feed(
        &mut flow,
        Direction::Response,
        &[&response(&[0xc0, 0x81, 0x00, 0x01])],
        &mut out,
    );
    let mut data = Vec::new();
    frame_link(&response(&[0xc0, 0x81, 0x00, 0x01]), &mut data);
    let f = parse_fragment(&data[1..], &Caps::default());
    assert_eq!(f.iin, Some(0x0001));
    assert_eq!(
        super::codes::iin_names(0x0001).collect::<Vec<_>>(),
        vec!["no_func_code_support"]
    );
    assert_eq!(out.fragments[1].3.map(|r| r.function), Some(31));
}

#[test]
fn pairing_by_sequence_and_flood() {
    let mut flow = Dnp3Flow::new(Config::default());
    let mut out = Out::default();
    // Read seq 3, then a response with seq 4 (unpaired), then seq 3 (paired).
    feed(
        &mut flow,
        Direction::Request,
        &[&request(&[0xc3, 0x01, 60, 1, 0x06])],
        &mut out,
    );
    feed(
        &mut flow,
        Direction::Response,
        &[&response(&[0xc4, 0x81, 0, 0])],
        &mut out,
    );
    feed(
        &mut flow,
        Direction::Response,
        &[&response(&[0xc3, 0x81, 0, 0])],
        &mut out,
    );
    assert!(out.fragments[1].2.contains(Flags::UNPAIRED_RESPONSE));
    assert_eq!(
        out.fragments[2].3.map(|r| (r.function, r.seq)),
        Some((1, 3))
    );
    assert_eq!(out.fragments[2].4, Operation::Read);
    // 33 requests without an answer: the 33rd is flagged.
    let mut flow = Dnp3Flow::new(Config::default());
    let mut out = Out::default();
    for k in 0..33u8 {
        feed(
            &mut flow,
            Direction::Request,
            &[&request(&[0xc0 | (k & 0x0f), 0x01, 60, 1, 0x06])],
            &mut out,
        );
    }
    let flooded: Vec<usize> = out
        .fragments
        .iter()
        .enumerate()
        .filter(|(_, f)| f.2.contains(Flags::REQUEST_FLOOD))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(flooded, vec![32]);
    flow.finish();
    assert_eq!(flow.unanswered, 33);
}

#[test]
fn caps_hold() {
    // 20000 points declared in one header.
    let caps = Caps::default();
    let f = parse_fragment(&[0xc0, 0x01, 1, 2, 0x01, 0, 0, 0x1f, 0x4e], &caps);
    assert!(f.flags.contains(Flags::TOO_MANY_POINTS));
    // A fragment growing past the size cap.
    let cfg = Config {
        max_fragment_len: 100,
        ..Config::default()
    };
    let mut flow = Dnp3Flow::new(cfg);
    let mut out = Out::default();
    let mut stream = Vec::new();
    for k in 0..5u8 {
        let mut u = vec![k | if k == 0 { 0x40 } else { 0 }];
        u.extend(std::iter::repeat_n(0u8, 40));
        stream.extend(frame(0xc4, 10, 1, &u));
    }
    feed(&mut flow, Direction::Request, &[&stream], &mut out);
    assert_eq!(out.fragments.len(), 1);
    assert!(out.fragments[0].2.contains(Flags::FRAGMENT_TOO_LONG));
}

#[test]
fn not_dnp3_is_recognised() {
    let mut flow = Dnp3Flow::new(Config::default());
    let mut out = Out::default();
    feed(
        &mut flow,
        Direction::Request,
        &[b"SSH-2.0-OpenSSH_9.6\r\n"],
        &mut out,
    );
    assert!(flow.not_this_protocol());
    assert_eq!(probe(b"SSH-2.0-OpenSSH_9.6\r\n", false), Some(false));
    assert_eq!(probe(&hex(DO_REQ), false), Some(true));
    assert_eq!(probe(&hex(DO_REQ)[..4], false), None);
    let mut mid = vec![0xaa; 7];
    mid.extend(hex(DO_REQ));
    assert_eq!(probe(&mid, false), Some(false));
    assert_eq!(probe(&mid, true), Some(true));
}

fn fragments_of(chunks: &[&[u8]]) -> Vec<(u8, usize)> {
    let mut flow = Dnp3Flow::new(Config::default());
    let mut v = Vec::new();
    for c in chunks {
        flow.feed(Direction::Request, c, 0, &mut |e| {
            if let Event::Fragment(r) = e {
                v.push((r.fragment.function, r.fragment.objects.len()));
            }
        });
    }
    v
}

proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1500), cut in 0usize..1500) {
        let cut = cut.min(data.len());
        let mut flow = Dnp3Flow::new(Config::default());
        flow.feed(Direction::Request, &data[..cut], 0, &mut |_| {});
        flow.gap(Direction::Request);
        flow.feed(Direction::Request, &data[cut..], 0, &mut |_| {});
        flow.datagram(Direction::Response, &data, 0, &mut |_| {});
        flow.finish();
        let _ = parse_fragment(&data, &Caps::default());
        let _ = probe(&data, true);
    }

    /// Valid frames with random application bodies, split anywhere, give the same fragments.
    #[test]
    fn split_anywhere_gives_same_fragments(
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 1..6),
        split in any::<proptest::sample::Index>(),
    ) {
        let mut stream = Vec::new();
        for b in &bodies {
            let mut app = vec![0xc0, 0x01];
            app.extend_from_slice(b);
            stream.extend(request(&app));
        }
        let whole = fragments_of(&[&stream]);
        prop_assert_eq!(whole.len(), bodies.len());
        let at = split.index(stream.len() + 1);
        prop_assert_eq!(&whole, &fragments_of(&[&stream[..at], &stream[at..]]));
    }
}

#[test]
fn zero_length_objects_do_not_loop() {
    // g110v0 with a count of 4 billion: no octets, no loop.
    let f = parse_fragment(
        &[0xc0, 0x81, 0, 0, 110, 0, 0x09, 0xff, 0xff, 0xff, 0xff],
        &Caps::default(),
    );
    assert!(f.flags.contains(Flags::TOO_MANY_POINTS));
    assert_eq!(f.objects.len(), 1);
}

/// Regression (found by cargo-fuzz): a 4-octet start-stop range 0..=0xFFFFFFFF overflowed
/// the point count.
#[test]
fn full_u32_range_does_not_overflow() {
    let f = parse_fragment(
        &[0xc0, 0x01, 30, 1, 0x02, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        &Caps::default(),
    );
    assert_eq!(f.objects[0].count, u32::MAX);
    assert!(f.flags.contains(Flags::TOO_MANY_POINTS));
}

/// The adapter: a direct operate and its response become a paired request and response with
/// the CROB's point, and event lines.
#[test]
fn adapter_reports_the_operate_and_its_answer() {
    use crate::testing::run_stream;
    let (req, resp) = (hex(DO_REQ), hex(DO_RESP));
    let r = run_stream(
        "dnp3",
        20000,
        &[(Direction::Request, &req), (Direction::Response, &resp)],
    );
    assert_eq!(r.messages.len(), 2, "{:#?}", r.messages);
    assert_eq!(r.messages[0].operation, crate::Operation::Control);
    assert_eq!(r.messages[1].direction, Direction::Response);
    assert!(r.messages[1].request.is_some());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.events.len(), 2);
}
