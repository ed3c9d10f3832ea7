//! Modbus parser tests: the STYLE.md list, with real bytes from captures (file and frame
//! named), plus proptest properties.

use crate::flow::FlowParser;
use proptest::prelude::*;

use super::parser::*;
use super::state::*;
use super::*;
use crate::{Direction, Operation};

pub(crate) use crate::testing::hex;

/// Feeds `chunks` to one direction of a fresh flow; returns (function, exception, flags) per PDU
/// and the number of malformed events.
fn run(dir: Direction, chunks: &[&[u8]]) -> (Vec<(u8, Option<u8>, Flags)>, usize) {
    let mut flow = ModbusFlow::new();
    let mut out = Vec::new();
    let mut bad = 0;
    for c in chunks {
        flow.feed(dir, c, 0, &mut |e| match e {
            Event::Pdu(r) => out.push((r.pdu.function.raw, r.pdu.exception, r.pdu.flags)),
            Event::Malformed(..) => bad += 1,
            Event::Skipped(..) => {}
        });
    }
    (out, bad)
}

// pcaps/modbus/iti-modbustcp/ModbusTCP.pcap, frame 2: read input registers request
//   tid 0x0000 | proto 0 | len 6 | unit 0xff | fc 4 | address 0x08d2 | quantity 2
const FRAME2_READ_INPUT: &str = "000000000006ff0408d20002";
// Same file, frame 5: two responses in one segment (fc 4, 4 bytes; fc 2, 4 bytes)
const FRAME5_TWO_ADUS: &str = "000000000007ff040400000000000100000007ff0204bd4f6739";
// Same file, frame 28: write multiple coils, address 7, 3 coils, 1 byte: 0b001
const FRAME28_WRITE_COILS: &str = "485a00000008ff0f000700030100";
// Same file, frame 6023/6025: write multiple registers request and its response
const FRAME6023_WRITE_REGS: &str = "030c00000009ff1008340001020003";
const FRAME6025_WRITE_REGS_RESP: &str = "030c00000006ff1008340001";
// ../shared/pcaps/modbus/suricata-verify__modbus.pcap, frame 9: exception response to a
// user-defined function 8 | 0x80 ... fc 0x88 with exception 0x0b (gateway target failed)
const SV_FRAME9_EXCEPTION: &str = "0000000000030a880b";
// ../shared/pcaps/modbus/zeek__modbus-eit.pcap, frame 1: Read Device Identification request
const EIT_FRAME1_DEVICE_ID_REQ: &str = "000000000005002b0e0100";
// ../shared/pcaps/modbus/iti-ics__modicon_test.pcap, frame 4: UMAS request, sub-function 0x02
const MODICON_FRAME4_UMAS: &str = "000000000004005a0002";

#[test]
fn empty_input_yields_nothing() {
    let (pdus, bad) = run(Direction::Request, &[b""]);
    assert!(pdus.is_empty());
    assert_eq!(bad, 0);
    assert_eq!(
        parse_adu(&[]),
        Err(nom::Err::Incomplete(nom::Needed::new(2)))
    );
    let p = parse_pdu(&[], Direction::Request);
    assert!(p.flags.contains(Flags::TRUNCATED));
}

#[test]
fn real_request_decodes() {
    let b = hex(FRAME2_READ_INPUT);
    let (rest, adu) = parse_adu(&b).unwrap();
    assert!(rest.is_empty());
    assert_eq!(adu.header.unit_id, 0xff);
    let p = parse_pdu(adu.pdu, Direction::Request);
    assert_eq!(p.function.raw, 4);
    assert_eq!(
        p.body,
        Body::ReadRequest {
            address: 0x08d2,
            quantity: 2
        }
    );
    assert!(p.flags.is_empty());
    assert_eq!(p.operation(), Operation::Read);
}

#[test]
fn truncation_at_every_offset_never_panics_and_never_emits() {
    for frame in [
        FRAME2_READ_INPUT,
        FRAME28_WRITE_COILS,
        FRAME6023_WRITE_REGS,
        EIT_FRAME1_DEVICE_ID_REQ,
    ] {
        let b = hex(frame);
        for cut in 0..b.len() {
            assert!(
                matches!(parse_adu(&b[..cut]), Err(nom::Err::Incomplete(_))),
                "{frame} cut {cut}"
            );
            let (pdus, bad) = run(Direction::Request, &[&b[..cut]]);
            assert!(pdus.is_empty() && bad == 0, "{frame} cut {cut}");
        }
        // PDU bodies cut short are decoded with TRUNCATED, not dropped.
        let (_, adu) = parse_adu(&b).unwrap();
        for cut in 1..adu.pdu.len() {
            let p = parse_pdu(&adu.pdu[..cut], Direction::Request);
            assert!(
                p.flags.contains(Flags::TRUNCATED) || p.flags.contains(Flags::BYTE_COUNT_MISMATCH),
                "{frame} pdu cut {cut}: {p:?}"
            );
        }
    }
}

#[test]
fn one_pdu_split_across_segments() {
    let b = hex(FRAME6023_WRITE_REGS);
    for split in 1..b.len() {
        let (pdus, bad) = run(Direction::Request, &[&b[..split], &b[split..]]);
        assert_eq!(pdus.len(), 1, "split at {split}");
        assert_eq!(pdus[0].0, 16);
        assert_eq!(bad, 0);
    }
}

#[test]
fn two_pdus_in_one_segment() {
    let b = hex(FRAME5_TWO_ADUS);
    let (pdus, bad) = run(Direction::Response, &[&b]);
    assert_eq!(pdus.iter().map(|p| p.0).collect::<Vec<_>>(), vec![4, 2]);
    assert_eq!(bad, 0);
}

#[test]
fn lying_length_is_flagged_and_stream_resyncs() {
    // The write-coils request says length 6 (PDU of 5 bytes) but carries 7 bytes of PDU;
    // the two extra bytes are garbage before the next valid ADU.
    let mut b = hex(FRAME28_WRITE_COILS);
    b[5] = 6;
    b.extend(hex(FRAME2_READ_INPUT));
    let (pdus, bad) = run(Direction::Request, &[&b]);
    assert_eq!(pdus.len(), 2, "{pdus:?}");
    assert!(pdus[0].2.contains(Flags::TRUNCATED) || pdus[0].2.contains(Flags::BYTE_COUNT_MISMATCH));
    assert_eq!(pdus[1].0, 4);
    assert!(bad >= 1);
    // A byte count that lies about the data present.
    let mut w = hex(FRAME6023_WRITE_REGS);
    w[12] = 4;
    let (_, adu) = parse_adu(&w).unwrap();
    let p = parse_pdu(adu.pdu, Direction::Request);
    assert!(p.flags.contains(Flags::BYTE_COUNT_MISMATCH) && p.flags.contains(Flags::TRUNCATED));
}

#[test]
fn a_stream_that_is_not_modbus_is_recognised() {
    let mut flow = ModbusFlow::new();
    let mut pdus = 0;
    flow.feed(
        Direction::Request,
        b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n",
        0,
        &mut |e| {
            if let Event::Pdu(_) = e {
                pdus += 1
            }
        },
    );
    assert_eq!(pdus, 0);
    assert!(flow.not_this_protocol());
    assert_eq!(probe(b"GET / HTTP/1.1\r\n", false, false), Some(false));
    assert_eq!(probe(&hex(FRAME2_READ_INPUT), true, false), Some(true));
    assert_eq!(probe(&hex(FRAME2_READ_INPUT)[..5], true, false), None);
}

#[test]
fn unknown_and_user_defined_codes_are_kept_and_flagged() {
    for (fc, flag) in [
        (0x41u8, Flags::USER_DEFINED_FUNCTION),
        (0x09, Flags::RESERVED_FUNCTION),
        (0x30, Flags::UNASSIGNED_FUNCTION),
    ] {
        let bytes = [fc, 1, 2, 3];
        let p = parse_pdu(&bytes, Direction::Request);
        assert_eq!(p.function.raw, fc);
        assert!(p.flags.contains(flag), "{fc}");
        assert_eq!(p.body, Body::Raw(&[1, 2, 3]));
        assert_eq!(p.operation(), Operation::Other);
    }
}

#[test]
fn exception_reply() {
    let b = hex(SV_FRAME9_EXCEPTION);
    let (_, adu) = parse_adu(&b).unwrap();
    let p = parse_pdu(adu.pdu, Direction::Response);
    assert_eq!(p.function.raw, 8);
    assert_eq!(p.exception, Some(0x0b));
    assert_eq!(
        codes::exception_name(0x0b),
        Some("gateway_target_device_failed_to_respond")
    );
    let p = parse_pdu(&[0x83, 0x09], Direction::Response);
    assert!(p.flags.contains(Flags::UNKNOWN_EXCEPTION_CODE));
}

#[test]
fn pairing_attributes_values_to_registers() {
    let mut flow = ModbusFlow::new();
    let mut recs = Vec::new();
    for (dir, frame, t) in [
        (Direction::Request, FRAME6023_WRITE_REGS, 1_000),
        (Direction::Response, FRAME6025_WRITE_REGS_RESP, 2_000),
    ] {
        flow.feed(dir, &hex(frame), t, &mut |e| {
            if let Event::Pdu(r) = e {
                recs.push((r.direction, r.request, r.pdu.flags, r.operation()))
            }
        });
    }
    assert_eq!(recs.len(), 2);
    let req = recs[1].1.expect("response paired");
    assert_eq!(req.write, Some((Table::HoldingRegisters, 0x0834, 1)));
    assert_eq!(req.ts_ns, 1_000);
    assert!(recs[1].2.is_empty(), "{:?}", recs[1].2);
    assert_eq!(recs[1].3, Operation::Write);
    // An unpaired response and a response whose function differs are flagged.
    let (pdus, _) = run(Direction::Response, &[&hex(FRAME6025_WRITE_REGS_RESP)]);
    assert!(pdus[0].2.contains(Flags::UNPAIRED_RESPONSE));
    let mut flow = ModbusFlow::new();
    let mut flags = Flags::default();
    flow.feed(Direction::Request, &hex(FRAME2_READ_INPUT), 0, &mut |_| {});
    flow.feed(
        Direction::Response,
        &hex("000000000005ff0302abcd"),
        1,
        &mut |e| {
            if let Event::Pdu(r) = e {
                flags = r.pdu.flags
            }
        },
    );
    assert!(flags.contains(Flags::RESPONSE_MISMATCH));
}

#[test]
fn outstanding_requests_are_capped_and_time_out() {
    let mut flow = ModbusFlow::new();
    let mut flood = 0;
    for tid in 0..(MAX_OUTSTANDING as u16 + 5) {
        let mut b = hex(FRAME2_READ_INPUT);
        b[..2].copy_from_slice(&tid.to_be_bytes());
        flow.feed(Direction::Request, &b, 0, &mut |e| {
            if let Event::Pdu(r) = e {
                flood += usize::from(r.pdu.flags.contains(Flags::REQUEST_FLOOD))
            }
        });
    }
    assert_eq!(flood, 5);
    assert_eq!(flow.pairing.unanswered, 5);
    // Past the timeout, every outstanding request counts as unanswered.
    flow.feed(
        Direction::Request,
        &hex(FRAME2_READ_INPUT),
        REQUEST_TIMEOUT_NS + 1,
        &mut |_| {},
    );
    assert_eq!(flow.pairing.unanswered, 5 + MAX_OUTSTANDING as u64);
}

#[test]
fn spec_limits_are_flagged() {
    // Read 126 holding registers (limit 125).
    let p = parse_pdu(&[3, 0, 0, 0, 126], Direction::Request);
    assert!(p.flags.contains(Flags::QUANTITY_OUT_OF_RANGE));
    // Read 2001 coils (limit 2000), from address 65535 (overflow).
    let p = parse_pdu(&[1, 0xff, 0xff, 0x07, 0xd1], Direction::Request);
    assert!(
        p.flags.contains(Flags::QUANTITY_OUT_OF_RANGE) && p.flags.contains(Flags::ADDRESS_OVERFLOW)
    );
    // Write 124 registers (limit 123), byte count consistent.
    let mut w = vec![16, 0, 0, 0, 124, 248];
    w.extend(std::iter::repeat_n(0, 248));
    assert!(parse_pdu(&w, Direction::Request)
        .flags
        .contains(Flags::QUANTITY_OUT_OF_RANGE));
    // Coil value other than 0x0000/0xFF00.
    assert!(parse_pdu(&[5, 0, 1, 0x12, 0x34], Direction::Request)
        .flags
        .contains(Flags::INVALID_COIL_VALUE));
    // Write multiple coils: 3 coils need 1 byte, not 2.
    let p = parse_pdu(&[15, 0, 7, 0, 3, 2, 1, 0], Direction::Request);
    assert!(p.flags.contains(Flags::BYTE_COUNT_MISMATCH));
    // ADU over the spec's 260 bytes (length 255, as Modicon PLCs send) is framed and flagged.
    let mut big = vec![0, 1, 0, 0, 0, 255, 0, 90, 0, 0xfe];
    big.extend(std::iter::repeat_n(0, 251));
    let (pdus, bad) = run(Direction::Response, &[&big]);
    assert_eq!(bad, 0);
    assert!(pdus[0].2.contains(Flags::LENGTH_OVER_SPEC));
}

#[test]
fn every_public_function_decodes() {
    use Direction::{Request as Q, Response as R};
    type Check = fn(&Body<'_>) -> bool;
    let cases: Vec<(Direction, Vec<u8>, Check)> = vec![
        (R, vec![1, 1, 0b101], |b| {
            matches!(b, Body::ReadResponse { byte_count: 1, .. })
        }),
        (Q, vec![5, 0, 3, 0xff, 0], |b| {
            matches!(
                b,
                Body::WriteSingle {
                    address: 3,
                    value: 0xff00
                }
            )
        }),
        (Q, vec![6, 0, 3, 0, 7], |b| {
            matches!(b, Body::WriteSingle { value: 7, .. })
        }),
        (Q, vec![7], |b| matches!(b, Body::Empty)),
        (R, vec![7, 0x6d], |b| {
            matches!(b, Body::ExceptionStatus(0x6d))
        }),
        (Q, vec![8, 0, 4, 0, 0], |b| {
            matches!(
                b,
                Body::Diagnostics {
                    sub_function: 4,
                    ..
                }
            )
        }),
        (R, vec![11, 0xff, 0xff, 1, 8], |b| {
            matches!(
                b,
                Body::CommEventCounter {
                    status: 0xffff,
                    event_count: 0x108
                }
            )
        }),
        (R, vec![12, 8, 0, 0, 1, 8, 1, 0x21, 0x20, 0], |b| {
            matches!(
                b,
                Body::CommEventLog {
                    event_count: 0x108,
                    ..
                }
            )
        }),
        (R, vec![16, 0, 1, 0, 2], |b| {
            matches!(
                b,
                Body::WriteMultipleResponse {
                    address: 1,
                    quantity: 2
                }
            )
        }),
        (R, vec![17, 3, 0x42, 0xff, 0], |b| {
            matches!(b, Body::ServerId { byte_count: 3, .. })
        }),
        (
            Q,
            vec![20, 14, 6, 0, 4, 0, 1, 0, 2, 6, 0, 3, 0, 9, 0, 2],
            |b| matches!(b, Body::FileRecords(r) if r.len() == 2),
        ),
        (
            R,
            vec![20, 12, 5, 6, 0x0d, 0xfe, 0, 0x20, 5, 6, 0x33, 0xcd, 0, 0x40],
            |b| matches!(b, Body::FileRecords(r) if r.len() == 2),
        ),
        (
            Q,
            vec![21, 13, 6, 0, 4, 0, 7, 0, 3, 6, 0xaf, 4, 0xbe, 0x10, 0x0d],
            |b| matches!(b, Body::FileRecords(r) if r.len() == 1 && r[0].data.len() == 6),
        ),
        (Q, vec![22, 0, 4, 0, 0xf2, 0, 0x25], |b| {
            matches!(
                b,
                Body::MaskWrite {
                    and_mask: 0xf2,
                    or_mask: 0x25,
                    ..
                }
            )
        }),
        (
            Q,
            vec![23, 0, 3, 0, 6, 0, 0x0e, 0, 3, 6, 0, 0xff, 0, 0xff, 0, 0xff],
            |b| {
                matches!(
                    b,
                    Body::ReadWriteRequest {
                        read_quantity: 6,
                        write_quantity: 3,
                        ..
                    }
                )
            },
        ),
        (Q, vec![24, 0x04, 0xde], |b| {
            matches!(b, Body::FifoRequest { address: 0x4de })
        }),
        (R, vec![24, 0, 6, 0, 2, 1, 0xb8, 0x12, 0x84], |b| {
            matches!(b, Body::FifoResponse { count: 2, .. })
        }),
        (
            R,
            vec![
                43, 14, 1, 1, 0, 0, 3, 0, 4, b'A', b'C', b'M', b'E', 1, 2, b'P', b'1', 2, 3, b'1',
                b'.', b'0',
            ],
            |b| matches!(b, Body::DeviceIdResponse { objects, .. } if objects.len() == 3 && objects[0].value == b"ACME"),
        ),
        (Q, vec![43, 13, 1, 2], |b| {
            matches!(b, Body::Mei { mei_type: 13, .. })
        }),
    ];
    for (dir, pdu, check) in cases {
        let p = parse_pdu(&pdu, dir);
        assert!(check(&p.body), "{pdu:?}: {p:?}");
        assert!(
            p.flags.is_empty(),
            "{pdu:?}: {:?}",
            p.flags.names().collect::<Vec<_>>()
        );
    }
}

#[test]
fn umas_and_diagnostics_map_to_operations() {
    let b = hex(MODICON_FRAME4_UMAS);
    let (_, adu) = parse_adu(&b).unwrap();
    let p = parse_pdu(adu.pdu, Direction::Request);
    assert_eq!(
        p.body,
        Body::Umas {
            session: 0,
            code: 2,
            data: &[]
        }
    );
    assert_eq!(p.operation(), Operation::Identify);
    assert_eq!(
        parse_pdu(&[90, 0x12, 0x41], Direction::Request).operation(),
        Operation::Control
    );
    assert_eq!(
        parse_pdu(&[90, 0x12, 0x31, 0, 0], Direction::Request).operation(),
        Operation::ProgramDownload
    );
    assert_eq!(
        parse_pdu(&[8, 0, 1, 0, 0], Direction::Request).operation(),
        Operation::Restart
    );
    assert_eq!(
        parse_pdu(&[8, 0, 4, 0, 0], Direction::Request).operation(),
        Operation::Control
    );
    let b = hex(EIT_FRAME1_DEVICE_ID_REQ);
    let (_, adu) = parse_adu(&b).unwrap();
    let p = parse_pdu(adu.pdu, Direction::Request);
    assert_eq!(
        p.body,
        Body::DeviceIdRequest {
            code: 1,
            object_id: 0
        }
    );
    assert_eq!(p.operation(), Operation::Identify);
}

#[test]
fn values_helpers() {
    assert_eq!(
        bits(&[0b0000_0101], 3).collect::<Vec<_>>(),
        vec![true, false, true]
    );
    assert_eq!(bits(&[0xff], 20).count(), 8);
    assert_eq!(
        registers(&[0x12, 0x34, 0xab]).collect::<Vec<_>>(),
        vec![0x1234]
    );
}

fn all_pdus(chunks: &[&[u8]]) -> Vec<(u16, u8, Vec<u8>)> {
    let mut flow = ModbusFlow::new();
    let mut out = Vec::new();
    for c in chunks {
        flow.feed(Direction::Request, c, 0, &mut |e| {
            if let Event::Pdu(r) = e {
                out.push((
                    r.header.transaction_id,
                    r.pdu.function.raw,
                    format!("{:?}", r.pdu.body).into_bytes(),
                ));
            }
        });
    }
    out
}

proptest! {
    /// Random bytes, fed in random pieces, never panic the framer or the PDU decoder.
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), cut in 0usize..2048, dir in any::<bool>()) {
        let dir = if dir { Direction::Request } else { Direction::Response };
        let cut = cut.min(data.len());
        let mut flow = ModbusFlow::new();
        flow.feed(dir, &data[..cut], 0, &mut |_| {});
        flow.gap(dir);
        flow.feed(dir, &data[cut..], 1, &mut |_| {});
        let _ = parse_pdu(&data, dir);
        let _ = probe(&data, true, true);
    }

    /// Splitting a stream of valid ADUs at any point gives the same PDUs.
    #[test]
    fn split_anywhere_gives_same_messages(
        seeds in proptest::collection::vec((any::<u16>(), 1u8..25, proptest::collection::vec(any::<u8>(), 0..20)), 1..12),
        split in any::<proptest::sample::Index>(),
    ) {
        let mut stream = Vec::new();
        for (tid, fc, body) in &seeds {
            let len = (body.len() + 2) as u16;
            stream.extend_from_slice(&tid.to_be_bytes());
            stream.extend_from_slice(&[0, 0]);
            stream.extend_from_slice(&len.to_be_bytes());
            stream.push(1);
            stream.push(*fc);
            stream.extend_from_slice(body);
        }
        let whole = all_pdus(&[&stream]);
        prop_assert_eq!(whole.len(), seeds.len());
        let at = split.index(stream.len() + 1);
        let parts = all_pdus(&[&stream[..at], &stream[at..]]);
        prop_assert_eq!(&whole, &parts);
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        prop_assert_eq!(&whole, &all_pdus(&bytewise));
    }
}

/// The adapter: a read and its answer become two messages (the answer paired), two event
/// lines and counters; an exception answer carries its code; a broken header is a parse error.
#[test]
fn adapter_reports_messages_events_and_errors() {
    use crate::testing::run_stream;
    let req = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0x10, 0, 2];
    let resp = [0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2];
    let req2 = [0, 2, 0, 0, 0, 6, 1, 3, 0x27, 0x10, 0, 2];
    let exc = [0, 2, 0, 0, 0, 3, 1, 0x83, 2];
    let r = run_stream(
        "modbus",
        502,
        &[
            (Direction::Request, &req),
            (Direction::Response, &resp),
            (Direction::Request, &req2),
            (Direction::Response, &exc),
        ],
    );
    let m = &r.messages;
    assert_eq!(m.len(), 4, "{m:#?}");
    assert_eq!(m[0].function_code, Some(3));
    assert_eq!(m[0].operation, crate::Operation::Read);
    assert_eq!(m[0].unit, Some(1));
    assert_eq!(
        (
            m[0].addresses[0].area.as_ref(),
            m[0].addresses[0].start,
            m[0].addresses[0].count
        ),
        ("holding_registers", 16, 2)
    );
    assert_eq!(m[1].direction, Direction::Response);
    assert!(
        m[1].request.is_some(),
        "the answer is paired with its request"
    );
    assert_eq!(
        (m[3].exception_code, m[3].exception),
        (Some(2), Some("illegal_data_address"))
    );
    assert_eq!(r.events.len(), 4);
    assert_eq!(r.events[0]["protocol"], "modbus");
    assert_eq!(r.counters.pdus, 4);
    assert!(r.errors.is_empty());
    // A header with a protocol id other than 0, on a flow that was Modbus: a parse error.
    let bad = [0, 3, 0, 9, 0, 6, 1, 3, 0, 0, 0, 1];
    let r = run_stream(
        "modbus",
        502,
        &[(Direction::Request, &req), (Direction::Request, &bad)],
    );
    assert_eq!(r.errors, [("modbus", "bad_protocol_id")]);
}
