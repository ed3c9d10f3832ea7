//! The IEC 104 adapter, driven through the protocol's descriptor.

use crate::Direction;

/// The adapter: an interrogation command and its confirmation become a request and a paired
/// response message of type 100, each with an event line.
#[test]
fn adapter_reports_the_interrogation_and_its_confirmation() {
    use crate::testing::run_stream;
    let startdt = [0x68, 4, 0x07, 0, 0, 0];
    let startdt_con = [0x68, 4, 0x0B, 0, 0, 0];
    // I-frame N(S)=0 N(R)=0: C_IC_NA_1, one object, COT 6 (activation), CA 1, IOA 0, QOI 20.
    let act = [0x68, 14, 0, 0, 0, 0, 100, 1, 6, 0, 1, 0, 0, 0, 0, 20];
    // N(S)=0 N(R)=1: the same, COT 7 (confirmation).
    let con = [0x68, 14, 0, 0, 2, 0, 100, 1, 7, 0, 1, 0, 0, 0, 0, 20];
    let r = run_stream(
        "iec104",
        2404,
        &[
            (Direction::Request, &startdt),
            (Direction::Response, &startdt_con),
            (Direction::Request, &act),
            (Direction::Response, &con),
        ],
    );
    let ic: Vec<_> = r
        .messages
        .iter()
        .filter(|m| m.function_code == Some(100))
        .collect();
    assert_eq!(ic.len(), 2, "{:#?}", r.messages);
    assert_eq!(ic[0].direction, Direction::Request);
    assert_eq!(ic[1].direction, Direction::Response);
    assert!(
        ic[1].request.is_some(),
        "the confirmation is paired with the activation"
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.events.iter().any(|e| e["protocol"] == "iec104"));
}
