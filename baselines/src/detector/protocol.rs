//! Protocol-violation rules over the parsers' flags and exceptions. What needs counting
//! across flows (malformed PDUs over a threshold, exception storms) is handed to the anomaly
//! engine as facts.

use serde_json::json;

use otsensor_protocols::Direction;

use crate::alert::Evidence;
use crate::message::Message;
use crate::rules;

/// Parser flags that mean a PDU broke its protocol's specification.
pub const MALFORMED_FLAGS: &[&str] = &[
    // Modbus
    "truncated",
    "byte_count_mismatch",
    "quantity_out_of_range",
    "address_overflow",
    "trailing_bytes",
    "echo_mismatch",
    "invalid_coil_value",
    "unknown_exception_code",
    // DNP3
    "bad_qualifier",
    "invalid_range",
    "fragment_too_short",
    // S7comm
    "bad_item",
    "bad_userdata_head",
];

/// Parser flags for PDUs beyond the specification's (or the sensor's) size limits: one is
/// enough to alert.
pub const OVERSIZED_FLAGS: &[&str] = &[
    "fragment_too_long",
    "too_many_objects",
    "too_many_points",
    "pdu_too_long",
];

/// Parser flags for function codes the protocol does not define or reserves.
pub const ILLEGAL_FUNCTION_FLAGS: &[&str] = &[
    "unassigned_function",
    "reserved_function",
    "unknown_function",
    "unknown_sub_function",
    "unknown_rosctr",
    "unknown_link_function",
];

pub use super::operational::Finding;

/// What a message says that the anomaly engine counts across flows.
#[derive(Debug, Default)]
pub struct Counted {
    /// The malformed-PDU flag it carries, if any.
    pub malformed: Option<&'static str>,
    /// Whether it is an exception response.
    pub exception: bool,
}

/// The protocol rules one message triggers by itself; what must be counted across flows
/// (malformed PDUs, exceptions) is returned.
pub fn check(m: &Message, out: &mut Vec<Finding>) -> Counted {
    let mut counted = Counted::default();
    let function = m.function.as_deref().unwrap_or("?");
    if let Some(f) = m.flags.iter().find(|f| ILLEGAL_FUNCTION_FLAGS.contains(*f)) {
        let code = m.function_code.map_or(-1, i64::from);
        out.push(Finding {
            rule: &rules::ILLEGAL_FUNCTION,
            key: String::new(),
            details: format!("{} function {code} ({function}): {f}", m.protocol),
            evidence: Evidence {
                observed: json!({
                    "function_code": m.function_code,
                    "sub_function": m.sub_function,
                    "flag": f,
                }),
                expected: json!({ "functions": "defined by the protocol specification" }),
            },
        });
    }
    counted.malformed = m
        .flags
        .iter()
        .copied()
        .find(|f| MALFORMED_FLAGS.contains(f));
    if let Some(f) = m.flags.iter().find(|f| OVERSIZED_FLAGS.contains(*f)) {
        out.push(Finding {
            rule: &rules::OVERSIZED,
            key: String::new(),
            details: format!("{} {function} {f}", m.protocol),
            evidence: Evidence {
                observed: json!({ "flag": f, "packet": m.packet }),
                expected: json!({ "within": "the protocol's size limits" }),
            },
        });
    }
    if m.flags.contains(&"request_flood") {
        out.push(Finding {
            rule: &rules::REQUEST_FLOOD,
            key: String::new(),
            details: format!("{} requests left unanswered in bulk", m.protocol),
            evidence: Evidence {
                observed: json!({ "flag": "request_flood" }),
                expected: json!({ "outstanding": "answered in turn" }),
            },
        });
    }
    if let Some(f) = m
        .flags
        .iter()
        .find(|f| **f == "bad_block_crc" || **f == "bad_header_crc")
    {
        out.push(Finding {
            rule: &rules::BAD_CRC,
            key: String::new(),
            details: format!("DNP3 frame with a bad CRC ({f})"),
            evidence: Evidence {
                observed: json!({ "flag": f, "packet": m.packet }),
                expected: serde_json::Value::Null,
            },
        });
    }
    if let (Some(code), Direction::Response) = (m.exception_code, m.direction) {
        let name = m.exception.unwrap_or("unnamed");
        // S7 errors are class and code in one 16-bit value: hex reads as the manuals do.
        let shown = if code > 0xff {
            format!("{code:#06x}")
        } else {
            code.to_string()
        };
        out.push(Finding {
            rule: &rules::EXCEPTION,
            key: format!("#{code}"),
            details: format!("{} exception {shown} ({name}) to {function}", m.protocol),
            evidence: Evidence {
                observed: json!({ "exception_code": code, "exception": name, "function": function }),
                expected: serde_json::Value::Null,
            },
        });
        counted.exception = true;
    }
    counted
}
