//! Modbus against Wireshark: for every capture of the public corpus with `modbus.func_code`
//! rows in TSHARK_COUNTS.tsv, the `--events` lines per function code (and per exception code)
//! equal tshark's — except where tshark is wrong, each pinned below with the reason.

use std::ffi::OsStr;

use crate::util::*;

/// (file, value, ours, tshark, why). The sensor's count is asserted to be `ours` there.
const PINNED_FUNCTION_CODES: &[Pinned<'_>] = &[
    (
        "modbus/iti-ics__modbus_test_data_part1.pcap",
        "42",
        2,
        1,
        "frame 111 carries an ADU whose MBAP length (5) is shorter than its data; tshark then \
         treats the 3 leftover bytes plus frame 113 as one broken ADU and stops, while otsensor \
         flags the garbage, resynchronises on the MBAP header at the start of frame 113 and \
         reports the complete function-42 request found there",
    ),
    (
        "modbus/zeek__modbusBig.pcap",
        "1",
        2775,
        2774,
        "frame 3150 is the only copy of a read-coils response, captured after the client's ACK \
         for it (frame 3149); tshark labels it a spurious retransmission and does not dissect \
         it, otsensor delivers it in sequence",
    ),
    ("modbus/zeek__fuzz-72.pcap", "28", 1, 0, FUZZ_72),
    ("modbus/zeek__fuzz-72.pcap", "34", 1, 0, FUZZ_72),
    ("modbus/zeek__fuzz-72.pcap", "47", 2, 1, FUZZ_72),
    ("modbus/zeek__fuzz-72.pcap", "50", 0, 1, FUZZ_72),
    ("modbus/zeek__fuzz-72.pcap", "51", 1, 0, FUZZ_72),
];

const FUZZ_72: &str = "fuzzed TCP: sequence numbers jump, overlap and go backwards; tshark \
    dissects each segment where it lies, otsensor reassembles by sequence number as the receiver \
    would, so PDUs in overlapping or out-of-window segments differ";

const PINNED_EXCEPTIONS: &[Pinned<'_>] = &[("modbus/zeek__fuzz-72.pcap", "1", 4, 1, FUZZ_72)];

#[test]
fn function_codes_match_tshark() {
    compare_with_tshark(
        "modbus.func_code",
        "modbus",
        "function_code",
        PINNED_FUNCTION_CODES,
    );
}

#[test]
fn exception_codes_match_tshark() {
    compare_with_tshark(
        "modbus.exception_code",
        "modbus",
        "exception_code",
        PINNED_EXCEPTIONS,
    );
}

/// Read Device Identification answers reach the events with vendor, product and revision.
#[test]
fn device_identification_is_decoded() {
    let Some(dir) = shared_pcaps() else {
        return;
    };
    let scratch = Scratch::new("modbus-eit");
    let events = scratch.path("events.jsonl");
    let (code, _, _) = replay(&[
        dir.join("modbus/zeek__modbus-eit.pcap").as_os_str(),
        OsStr::new("--events"),
        events.as_os_str(),
    ]);
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&events).unwrap();
    let ids: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["sub_function_name"] == "read_device_identification")
        .collect();
    assert!(ids
        .iter()
        .any(|e| e["operation"] == "identify" && e["direction"] == "request"));
    assert!(ids.iter().any(|e| e["direction"] == "response"), "{text}");
}
