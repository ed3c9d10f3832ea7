//! EtherNet/IP and CIP on real bytes (labelled by capture and frame) and on any bytes.

use crate::flow::FlowParser;
use proptest::prelude::*;

use super::parser::{Cip, Flags};
use super::state::{EnipFlow, Event};
use crate::Direction;

pub(crate) use crate::testing::hex;

/// What a flow reports for `(direction, bytes)` fed in order: (kind, service or command,
/// depth, request service) per event.
fn run(flow: &mut EnipFlow, msgs: &[(Direction, Vec<u8>)]) -> Vec<(String, u16, u8, Option<u8>)> {
    let mut out = Vec::new();
    for (i, (dir, b)) in msgs.iter().enumerate() {
        flow.feed(*dir, b, i as i64 * 1_000_000, &mut |e| match e {
            Event::Encap(r) => out.push(("enip".into(), r.header.command, 0, None)),
            Event::Cip(r) => out.push((
                match r.cip {
                    Cip::Request { .. } => "req".into(),
                    Cip::Response { .. } => "rsp".into(),
                },
                u16::from(r.cip.service()),
                r.depth,
                r.request.as_ref().map(|q| q.service),
            )),
            other => out.push((format!("{other:?}"), 0, 0, None)),
        });
    }
    out
}

/// iti-ics__cip_stop_plc.pcap frame 1: SendUnitData, connected, Stop on class 0x8E.
#[test]
fn connected_stop_of_the_controller() {
    let b = hex("70001c0001002a00000000000000000000000000000000000000000001000200a1000400224095ffb100080006010702208e2401");
    let mut flow = EnipFlow::default();
    let mut seen = Vec::new();
    flow.feed(Direction::Request, &b, 0, &mut |e| {
        if let Event::Cip(r) = e {
            seen.push((
                r.connection,
                r.sequence,
                r.cip.service(),
                r.path().and_then(|p| p.class),
            ));
        }
    });
    assert_eq!(
        seen,
        vec![(Some(0xff95_4022), Some(0x0106), 0x07, Some(0x8E))]
    );
}

/// iti-ics__cip-multiple-1.pcap frame 1: a Multiple Service Packet of eleven
/// Get_Attribute_List requests: twelve CIP messages, as Wireshark counts them.
#[test]
fn multiple_service_packet_unwrapped() {
    let b = hex("7000ba0000010211000000000000000000000000000000000000000001000200a1000400010b7c00b100a60089070a02200224010b00180022002c0036004c005800640072007c008a0094000302200124010100050003022069240001000b0003022073240101000200030220ac240107000100020003000500070009000a000303206825002024010013000302207024010200120013000302208e240103000300080010000302206924000100090003022068240003000f0018001900030220772401010002000302208b240101000600");
    let mut flow = EnipFlow::default();
    let ev = run(&mut flow, &[(Direction::Request, b)]);
    assert_eq!(ev.first().map(|e| e.1), Some(0x70));
    let cip: Vec<_> = ev.iter().filter(|e| e.0 == "req").collect();
    assert_eq!(cip.len(), 12);
    assert_eq!((cip[0].1, cip[0].2), (0x0A, 0));
    assert!(cip[1..].iter().all(|e| e.1 == 0x03 && e.2 == 1));
}

/// suricata-verify__enip_test1.pcap frames 4 and 6: ListIdentity and its reply, a 1756-ENBT/A.
#[test]
fn list_identity_reply() {
    let req = hex("63000000000000000000000000000000c1debed100000000");
    let rsp = hex("63003300000000000000000000000000c1debed10000000001000c002d0001000002af120a0101a4000000000000000001000c003a00040330008e4d52000b313735362d454e42542f4103");
    let mut flow = EnipFlow::default();
    let mut ids = Vec::new();
    for (dir, b) in [(Direction::Request, req), (Direction::Response, rsp)] {
        flow.feed(dir, &b, 0, &mut |e| {
            if let Event::Encap(r) = e {
                ids.push(r.identity.map(|i| {
                    (
                        i.vendor,
                        i.device_type,
                        i.product_code,
                        i.revision,
                        i.serial,
                        i.product_name,
                    )
                }));
            }
        });
    }
    assert_eq!(
        ids,
        vec![
            None,
            Some((1, 12, 58, (4, 3), 0x524d8e, "1756-ENBT/A".to_string()))
        ]
    );
}

fn rr(context: u8, cip: &[u8]) -> Vec<u8> {
    let mut data = vec![0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xB2, 0];
    data.extend((cip.len() as u16).to_le_bytes());
    data.extend(cip);
    let mut m = vec![0x6F, 0];
    m.extend((data.len() as u16).to_le_bytes());
    m.extend([
        1, 0, 0, 0, 0, 0, 0, 0, context, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    m.extend(data);
    m
}

/// Unconnected Send is answered by its embedded service; replies pair by sender context.
#[test]
fn unconnected_send_pairs_with_its_embedded_reply() {
    // Unconnected Send (class 6 inst 1) of Get_Attributes_All on the identity object,
    // routed to port 1 slot 0; a Read_Tag "abc" on another context.
    let us = [
        0x52, 2, 0x20, 6, 0x24, 1, 0x0A, 0xF0, 6, 0, 0x01, 2, 0x20, 1, 0x24, 1, 1, 0, 1, 0,
    ];
    let read = [0x4C, 3, 0x91, 3, b'a', b'b', b'c', 0, 1, 0];
    let mut flow = EnipFlow::default();
    let ev = run(
        &mut flow,
        &[
            (Direction::Request, rr(1, &us)),
            (Direction::Request, rr(2, &read)),
            (
                Direction::Response,
                rr(2, &[0xCC, 0, 0, 0, 0xC4, 0, 1, 0, 0, 0]),
            ),
            (Direction::Response, rr(1, &[0x81, 0, 0, 0])),
        ],
    );
    let cip: Vec<_> = ev.into_iter().filter(|e| e.0 != "enip").collect();
    assert_eq!(
        cip,
        vec![
            ("req".to_string(), 0x52, 0, None),
            ("req".to_string(), 0x01, 1, None),
            ("req".to_string(), 0x4C, 0, None),
            ("rsp".to_string(), 0x4C, 0, Some(0x4C)),
            ("rsp".to_string(), 0x01, 0, Some(0x01)),
        ]
    );
    flow.finish();
    assert_eq!(flow.unanswered, 0);
}

#[test]
fn a_reply_without_request_is_flagged_and_other_bytes_are_not_enip() {
    let mut flow = EnipFlow::default();
    let mut flags = Flags::default();
    flow.feed(Direction::Response, &rr(9, &[0x8E, 0, 0, 0]), 0, &mut |e| {
        if let Event::Cip(r) = e {
            flags = r.flags;
        }
    });
    assert!(flags.contains(Flags::UNPAIRED_RESPONSE));
    let mut flow = EnipFlow::default();
    flow.feed(
        Direction::Request,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        0,
        &mut |_| {},
    );
    assert!(flow.not_this_protocol());
}

proptest! {
    /// Any bytes, split anywhere: no panic, and the same messages however the stream is split.
    #[test]
    fn any_bytes_any_split(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
        let cut = cut.min(data.len());
        let whole = run(&mut EnipFlow::default(), &[(Direction::Request, data.clone())]);
        let split = run(
            &mut EnipFlow::default(),
            &[(Direction::Request, data[..cut].to_vec()), (Direction::Request, data[cut..].to_vec())],
        );
        let frames = |v: &[(String, u16, u8, Option<u8>)]| {
            v.iter().filter(|e| !e.0.starts_with("Malformed") && !e.0.starts_with("Skipped")).cloned().collect::<Vec<_>>()
        };
        // Where nothing was malformed, the split changes nothing.
        if !whole.iter().chain(split.iter()).any(|e| e.0.starts_with("Malformed")) {
            prop_assert_eq!(frames(&whole), frames(&split));
        }
        let mut flow = EnipFlow::default();
        flow.datagram(Direction::Request, &data, 0, true, &mut |_| {});
        flow.datagram(Direction::Response, &data, 0, false, &mut |_| {});
        flow.finish();
    }
}

/// The adapter: a connected CIP Stop of the controller (class 0x8E) becomes a control message
/// and an event line.
#[test]
fn adapter_reports_the_stop_request() {
    use crate::testing::run_stream;
    let b = hex("70001c0001002a00000000000000000000000000000000000000000001000200a1000400224095ffb100080006010702208e2401");
    let r = run_stream("enip", 44818, &[(Direction::Request, &b)]);
    let stop = r
        .messages
        .iter()
        .find(|m| m.protocol == "cip")
        .unwrap_or_else(|| panic!("{:#?}", r.messages));
    assert_eq!(stop.function_code, Some(0x07));
    assert_eq!(stop.operation, crate::Operation::Control);
    assert!(r.events.iter().any(|e| e["protocol"] == "cip"));
}
