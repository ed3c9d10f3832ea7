//! S7comm tests: the STYLE.md list with real bytes (file and frame named), plus proptest.

use crate::flow::FlowParser;
use proptest::prelude::*;

use super::parser::*;
use super::plus::parse_plus;
use super::state::*;
use crate::{Direction, Operation};

pub(crate) use crate::testing::hex;

// ../shared/pcaps/s7comm/iti-ics__s7comm_varservice_libnodavedemo.pcap
//   frame 7: COTP connection request, called TSAP 0x0102 (rack 0, slot 2)
const CR: &str = "0300001611e00000000100c1020100c2020102c00109";
//   frame 9: setup communication job (PDU size 960 = 0x03c0? here 0x0780 = 1920)
const SETUP: &str = "0300001902f08032010000ffff00080000f000000100010780";
//   frame 11: read var job, one S7ANY item: 64 bytes of DB1 from byte 0
const READ: &str = "0300001f02f080320100000000000e00000401120a10020040000184000000";
//   frame 14: its ack_data with one data item (4 octets)
const READ_RESP: &str =
    "0300002902f0803203000000010002001400000401ff040080a9100000000001010000000000000000";
//   frame 13: read var job for 16 bytes of M (flags) from byte 0
const READ_M: &str = "0300001f02f080320100000001000e00000401120a10020010000083000000";
//   frame 15: write var job, 4 bytes to M at byte 0; data item: return code 0x00, transport
//   size 0x04 (length in bits), length 32, data a9 10 00 01
const WRITE: &str =
    "0300002702f080320100000002000e00080501120a1002000400008300000000040020a9100001";
//   frame 16: its ack_data, return code 0xff
const WRITE_RESP: &str = "0300001602f0803203000000020002000100000501ff";
// ../shared/pcaps/s7comm/icsnpp-s7comm__snap7.pcap, frame 17: start upload of SDB 0
const START_UPLOAD: &str = "0300002302f080320100000800001200001d00000000000000095f3042303030303041";
//   frame 18: its ack_data, session 7, block length "0000216"
const START_UPLOAD_ACK: &str =
    "0300002302f0803203000008000010000000001d000100000000070730303030323136";
//   frame 3: read SZL 0x0011 index 0 (userdata, CPU functions)
const SZL_REQ: &str = "0300002102f080320700000100000800080001120411440100ff09000400110000";

type Seen = (u8, Option<u8>, Flags, Operation, bool);

fn pdus(dir: Direction, chunks: &[&[u8]]) -> (Vec<Seen>, usize) {
    let mut flow = S7Flow::new();
    let mut out = Vec::new();
    let mut bad = 0;
    for c in chunks {
        flow.feed(dir, c, 0, &mut |e| match e {
            Event::S7(r) => out.push((
                r.pdu.header.rosctr,
                r.pdu.function,
                r.pdu.flags,
                r.operation(),
                r.request.is_some(),
            )),
            Event::Malformed(_) | Event::BadCotp => bad += 1,
            _ => {}
        });
    }
    (out, bad)
}

#[test]
fn empty_input_yields_nothing() {
    let (p, bad) = pdus(Direction::Request, &[b""]);
    assert!(p.is_empty() && bad == 0);
    assert_eq!(frame_tpkt(&[]), Ok(None));
    assert!(parse_s7(&[]).is_none());
    assert!(parse_cotp(&[]).is_err());
}

#[test]
fn cotp_connect_gives_rack_and_slot() {
    let b = hex(CR);
    let (_, payload) = frame_tpkt(&b).unwrap().unwrap();
    let Ok(Cotp::Connect {
        confirm: false,
        params,
        ..
    }) = parse_cotp(payload)
    else {
        panic!()
    };
    assert_eq!(params.dst_tsap, Some(&[0x01, 0x02][..]));
    assert_eq!(params.tpdu_size, Some(9));
    assert_eq!(rack_slot(params.dst_tsap.unwrap()), Some((0, 2)));
    let mut flow = S7Flow::new();
    flow.feed(Direction::Request, &b, 0, &mut |_| {});
    assert_eq!(flow.rack_slot, Some((0, 2)));
}

#[test]
fn real_read_write_with_items_and_pairing() {
    let mut flow = S7Flow::new();
    let mut recs = Vec::new();
    for (dir, f) in [
        (Direction::Request, SETUP),
        (Direction::Request, READ_M),
        (Direction::Response, READ_RESP),
        (Direction::Request, WRITE),
        (Direction::Response, WRITE_RESP),
    ] {
        flow.feed(dir, &hex(f), 1, &mut |e| {
            if let Event::S7(r) = e {
                recs.push(r.clone().pdu.header.rosctr);
                if let Param::Vars(items) = &r.pdu.param {
                    let it = items[0];
                    if r.pdu.function == Some(5) {
                        assert_eq!(
                            (it.area, it.byte, it.length, it.transport_size),
                            (0x83, 0, 4, 2)
                        );
                        assert_eq!(r.pdu.items[0].data, &[0xa9, 0x10, 0x00, 0x01]);
                        assert_eq!(r.operation(), Operation::Write);
                    } else {
                        assert_eq!((it.area, it.byte, it.length), (0x83, 0, 16));
                    }
                }
                if r.pdu.header.rosctr == 3 && r.pdu.function == Some(4) {
                    assert!(r.request.is_some());
                    assert_eq!(r.pdu.items[0].return_code, 0xff);
                    assert_eq!(r.pdu.items[0].data.len(), 16);
                }
                if r.pdu.header.rosctr == 3 && r.pdu.function == Some(5) {
                    assert_eq!(r.operation(), Operation::Write);
                    assert!(r.request.is_some());
                }
            }
        });
    }
    assert_eq!(recs, vec![1, 1, 3, 1, 3]);
    let b = hex(READ);
    let (_, payload) = frame_tpkt(&b).unwrap().unwrap();
    let Ok(Cotp::Data { payload, .. }) = parse_cotp(payload) else {
        panic!()
    };
    let p = parse_s7(payload).unwrap();
    let Param::Vars(items) = p.param else {
        panic!()
    };
    assert_eq!((items[0].area, items[0].db, items[0].length), (0x84, 1, 64));
}

#[test]
fn truncation_at_every_offset() {
    for f in [CR, SETUP, READ, READ_RESP, WRITE, START_UPLOAD, SZL_REQ] {
        let b = hex(f);
        for cut in 0..b.len() {
            let (p, bad) = pdus(Direction::Request, &[&b[..cut]]);
            assert!(p.is_empty() && bad == 0, "{f} cut {cut}");
        }
        let (_, payload) = frame_tpkt(&b).unwrap().unwrap();
        if let Ok(Cotp::Data { payload, .. }) = parse_cotp(payload) {
            for cut in 1..payload.len() {
                let p = parse_s7(&payload[..cut]).unwrap();
                assert!(
                    p.flags.contains(Flags::TRUNCATED) || p.flags.contains(Flags::BAD_ITEM),
                    "{f} s7 cut {cut}"
                );
            }
        }
    }
}

#[test]
fn one_pdu_split_and_two_in_one_segment_and_cotp_reassembly() {
    let b = hex(WRITE);
    for split in 1..b.len() {
        let (p, _) = pdus(Direction::Request, &[&b[..split], &b[split..]]);
        assert_eq!(p.len(), 1, "split {split}");
    }
    let mut two = hex(READ);
    two.extend(hex(WRITE));
    let (p, _) = pdus(Direction::Request, &[&two]);
    assert_eq!(
        p.iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![Some(4), Some(5)]
    );
    // The write job cut into two COTP DT TPDUs, the first without EOT.
    let s7 = &hex(WRITE)[7..];
    let mut tp = Vec::new();
    for (chunk, eot) in [(&s7[..10], 0x00u8), (&s7[10..], 0x80)] {
        tp.extend_from_slice(&[3, 0, 0, (7 + chunk.len()) as u8, 2, 0xf0, eot]);
        tp.extend_from_slice(chunk);
    }
    let mut flow = S7Flow::new();
    let mut n = 0;
    flow.feed(Direction::Request, &tp, 0, &mut |e| {
        if let Event::S7(r) = e {
            assert_eq!((r.tpdus, r.pdu.function), (2, Some(5)));
            n += 1;
        }
    });
    assert_eq!(n, 1);
}

#[test]
fn a_configured_max_message_cuts_reassembly() {
    // The write job in two COTP data units: whole under the default cap, too long (flagged,
    // parsed from what was kept) under a 12-octet one.
    let s7 = &hex(WRITE)[7..];
    let mut tp = Vec::new();
    for (chunk, eot) in [(&s7[..10], 0x00u8), (&s7[10..], 0x80)] {
        tp.extend_from_slice(&[3, 0, 0, (7 + chunk.len()) as u8, 2, 0xf0, eot]);
        tp.extend_from_slice(chunk);
    }
    let flags = |cap: Option<usize>| {
        let mut flow = S7Flow::new();
        if let Some(n) = cap {
            flow.set_max_message(n);
        }
        let mut seen = Vec::new();
        flow.feed(Direction::Request, &tp, 0, &mut |e| {
            if let Event::S7(r) = e {
                seen.push(r.pdu.flags.contains(Flags::PDU_TOO_LONG));
            }
        });
        seen
    };
    assert_eq!(flags(None), vec![false]);
    assert_eq!(flags(Some(12)), vec![true]);
}

#[test]
fn lying_lengths_are_flagged_and_framing_resyncs() {
    // S7 header says more parameter octets than present.
    let mut b = hex(READ);
    b[14] = 0x40;
    let (p, _) = pdus(Direction::Request, &[&b]);
    assert!(p[0].2.contains(Flags::TRUNCATED));
    // TPKT length below 7 after a good packet: malformed, then the next packet is found.
    let mut b = hex(READ);
    b.extend([3, 0, 0, 5, 0xaa, 0xbb]);
    b.extend(hex(READ));
    let (p, bad) = pdus(Direction::Request, &[&b]);
    assert!(bad >= 1);
    assert_eq!(p.len(), 2);
}

#[test]
fn unknown_codes_are_kept_and_flagged() {
    let mut b = hex(READ);
    b[17] = 0x77; // function
    let (p, _) = pdus(Direction::Request, &[&b]);
    assert_eq!(p[0].1, Some(0x77));
    assert!(p[0].2.contains(Flags::UNKNOWN_FUNCTION));
    let mut b = hex(READ);
    b[8] = 0x09; // ROSCTR
    let (p, _) = pdus(Direction::Request, &[&b]);
    assert!(p[0].2.contains(Flags::UNKNOWN_ROSCTR));
}

#[test]
fn error_reply_and_unpaired_ack() {
    // An ack_data reporting error class 0x85 code 0x00 for a job never seen.
    let mut b = hex(WRITE_RESP);
    b[17] = 0x85;
    let (p, _) = pdus(Direction::Response, &[&b]);
    assert!(p[0].2.contains(Flags::ERROR_REPORTED) && p[0].2.contains(Flags::UNPAIRED_RESPONSE));
}

#[test]
fn upload_block_parameters() {
    let mut flow = S7Flow::new();
    let mut blocks = Vec::new();
    for (d, f) in [
        (Direction::Request, START_UPLOAD),
        (Direction::Response, START_UPLOAD_ACK),
    ] {
        flow.feed(d, &hex(f), 0, &mut |e| {
            if let Event::S7(r) = e {
                if let Param::Block(b) = r.pdu.param {
                    blocks.push((
                        b.filename.map(<[u8]>::to_vec),
                        b.block_type().map(<[u8]>::to_vec),
                        b.block_number(),
                        b.filesystem(),
                        b.session_id,
                        b.length,
                        r.operation(),
                    ));
                }
            }
        });
    }
    assert_eq!(blocks[0].0.as_deref(), Some(&b"_0B00000A"[..]));
    assert_eq!(blocks[0].1.as_deref(), Some(&b"0B"[..]));
    assert_eq!((blocks[0].2, blocks[0].3), (Some(0), Some(b'A')));
    assert_eq!(
        (blocks[1].4, blocks[1].5, blocks[1].6),
        (Some(7), Some(216), Operation::ProgramUpload)
    );
}

#[test]
fn userdata_szl_and_password() {
    let mut flow = S7Flow::new();
    let mut szl = None;
    flow.feed(Direction::Request, &hex(SZL_REQ), 0, &mut |e| {
        if let Event::S7(r) = e {
            assert_eq!(r.operation(), Operation::Identify);
            szl = r.szl.clone();
        }
    });
    let s = szl.unwrap();
    assert_eq!((s.id, s.index), (0x0011, 0));
    // A password request (security group 5, subfunction 1) is flagged.
    let mut b = hex(SZL_REQ);
    b[22] = 0x45;
    let (p, _) = pdus(Direction::Request, &[&b]);
    assert!(p[0].2.contains(Flags::PASSWORD_SENT));
    assert_eq!(p[0].3, Operation::Authentication);
}

#[test]
fn other_traffic_on_102_is_recognised() {
    // IEC 61850 MMS rides the same TPKT/COTP: a DT payload that is not S7.
    let mut flow = S7Flow::new();
    let b = [3, 0, 0, 11, 2, 0xf0, 0x80, 0x01, 0x00, 0x01, 0x00];
    let mut other = 0;
    flow.feed(Direction::Request, &b, 0, &mut |e| {
        if let Event::OtherPayload(_) = e {
            other += 1
        }
    });
    assert_eq!(other, 1);
    assert!(flow.foreign_payload);
    let mut flow = S7Flow::new();
    flow.feed(
        Direction::Request,
        b"GET / HTTP/1.1\r\n\r\n",
        0,
        &mut |_| {},
    );
    assert!(flow.not_this_protocol());
    assert_eq!(probe(&hex(READ), true), Some(true));
    assert_eq!(
        probe(
            b"\x03\x00\x00\x2b\x26\xe0\x00\x00\x00\x00\x00Cookie: mstshash=x\r\n",
            true
        ),
        Some(false)
    );
}

#[test]
fn s7comm_plus_header() {
    // ../shared/pcaps/s7comm-plus/icsnpp-s7comm__s7comm_plus.pcap frame 7 (V3 request, start).
    let b = hex("7203005920e969a95a852ab0e288480ccecb618e48779f4b68a1ce9a9c42cd6aa53680068331000004f20000831a70000e4d");
    let p = parse_plus(&b);
    assert!(p.integrity);
    assert_eq!(
        (p.version, p.opcode, p.function, p.seq),
        (3, Some(0x31), Some(0x04f2), Some(0x831a))
    );
    let k = parse_plus(&[0x72, 0xfe, 0, 0]);
    assert_eq!((k.version, k.opcode), (0xfe, None));
}

fn functions_of(chunks: &[&[u8]]) -> Vec<(u8, Option<u8>, u16)> {
    let mut flow = S7Flow::new();
    let mut v = Vec::new();
    for c in chunks {
        flow.feed(Direction::Request, c, 0, &mut |e| {
            if let Event::S7(r) = e {
                v.push((r.pdu.header.rosctr, r.pdu.function, r.pdu.header.pdu_ref));
            }
        });
    }
    v
}

proptest! {
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1500), cut in 0usize..1500) {
        let cut = cut.min(data.len());
        let mut flow = S7Flow::new();
        flow.feed(Direction::Request, &data[..cut], 0, &mut |_| {});
        flow.gap(Direction::Request);
        flow.feed(Direction::Response, &data[cut..], 0, &mut |_| {});
        flow.finish();
        let _ = parse_s7(&data);
        let _ = parse_cotp(&data);
        let _ = parse_plus(&data);
        let _ = probe(&data, true);
    }

    #[test]
    fn split_anywhere_gives_same_pdus(refs in proptest::collection::vec(any::<u16>(), 1..8), split in any::<proptest::sample::Index>()) {
        let mut stream = Vec::new();
        for r in &refs {
            let mut b = hex(READ);
            b[11..13].copy_from_slice(&r.to_be_bytes());
            stream.extend(b);
        }
        let whole = functions_of(&[&stream]);
        prop_assert_eq!(whole.len(), refs.len());
        let at = split.index(stream.len() + 1);
        prop_assert_eq!(&whole, &functions_of(&[&stream[..at], &stream[at..]]));
    }
}

/// The adapter: a COTP connection, setup, a read and a write with their answers become paired
/// messages with their operations and address ranges, and event lines.
#[test]
fn adapter_reports_paired_reads_and_writes() {
    use crate::testing::run_stream;
    let (cr, setup, read, read_resp, write, write_resp) = (
        hex(CR),
        hex(SETUP),
        hex(READ),
        hex(READ_RESP),
        hex(WRITE),
        hex(WRITE_RESP),
    );
    let r = run_stream(
        "s7comm",
        102,
        &[
            (Direction::Request, &cr),
            (Direction::Request, &setup),
            (Direction::Request, &read),
            (Direction::Response, &read_resp),
            (Direction::Request, &write),
            (Direction::Response, &write_resp),
        ],
    );
    let ops: Vec<_> = r
        .messages
        .iter()
        .map(|m| (m.direction, m.operation))
        .collect();
    assert!(
        ops.contains(&(Direction::Request, crate::Operation::Read)),
        "{ops:?}"
    );
    assert!(
        ops.contains(&(Direction::Request, crate::Operation::Write)),
        "{ops:?}"
    );
    let write_msg = r
        .messages
        .iter()
        .find(|m| m.operation == crate::Operation::Write && m.direction == Direction::Request)
        .unwrap();
    assert!(!write_msg.addresses.is_empty(), "{write_msg:?}");
    // The write's ack (same PDU reference) is paired with it; the read's sample answer comes
    // from another exchange of the capture (another reference) and is not.
    let write_ack = r
        .messages
        .iter()
        .find(|m| m.direction == Direction::Response && m.operation == crate::Operation::Write)
        .unwrap_or_else(|| panic!("{:#?}", r.messages));
    assert!(write_ack.request.is_some());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.events.len(), r.messages.len());
}
