//! Protocol-violation rules over the parsers' flags and exceptions. What needs counting
//! across flows (malformed PDUs over a threshold, exception storms) is handed to the anomaly
//! engine as facts.

use serde_json::json;

use otsensor_protocols::descriptor::FlagKind;
use otsensor_protocols::Direction;

use crate::alert::{Comparison, FactKind};
use crate::message::Message;
use crate::rules;

use super::findings::{Ctx, Findings};

/// The message's flags with their kinds, as its protocol's descriptor declares them. A
/// flag no descriptor declares is a parser bug (the protocols' flag test catches it; debug
/// builds stop here); release builds take it for malformed.
fn flags<'m>(m: &'m Message) -> impl Iterator<Item = (&'static str, FlagKind)> + 'm {
    let d = otsensor_protocols::descriptor(m.protocol);
    m.flags.iter().map(move |f| {
        let kind = d.and_then(|d| d.flag_kind(f));
        debug_assert!(kind.is_some(), "{} flag {f} has no kind", m.protocol);
        (*f, kind.unwrap_or(FlagKind::Malformed))
    })
}

/// The first of the message's flags of `kind`.
pub(super) fn first_of(m: &Message, kind: FlagKind) -> Option<&'static str> {
    flags(m).find(|(_, k)| *k == kind).map(|(f, _)| f)
}

/// What a message says that the anomaly engine counts across flows (malformed PDUs over a
/// threshold, exception storms), as facts.
pub(super) fn count(cx: &Ctx<'_>, fx: &mut Findings<'_>) {
    let m = cx.m;
    if let Some(what) = first_of(m, FlagKind::Malformed) {
        fx.fact(
            cx,
            FactKind::Malformed {
                protocol: m.protocol,
                what,
            },
        );
    }
    if m.exception_code.is_some() && m.direction == Direction::Response {
        fx.fact(
            cx,
            FactKind::Exception {
                protocol: m.protocol,
            },
        );
    }
}

/// The protocol rules one message triggers by itself.
pub(super) fn check(cx: &Ctx<'_>, fx: &mut Findings<'_>) {
    let m = cx.m;
    let function = || m.function.as_deref().unwrap_or("?");
    if let Some(f) = first_of(m, FlagKind::IllegalFunction) {
        fx.raise(cx, &rules::ILLEGAL_FUNCTION, &[cx.label], || {
            let code = m.function_code.map_or(-1, i64::from);
            (
                format!("{} function {code} ({}): {f}", m.protocol, function()),
                Comparison {
                    observed: json!({
                        "function_code": m.function_code,
                        "sub_function": m.sub_function,
                        "flag": f,
                    }),
                    expected: json!({ "functions": "defined by the protocol specification" }),
                },
            )
        });
    }
    if let Some(f) = first_of(m, FlagKind::Oversized) {
        fx.raise(cx, &rules::OVERSIZED, &[cx.label], || {
            (
                format!("{} {} {f}", m.protocol, function()),
                Comparison {
                    observed: json!({ "flag": f, "packet": m.packet }),
                    expected: json!({ "within": "the protocol's size limits" }),
                },
            )
        });
    }
    if let Some(f) = first_of(m, FlagKind::Flood) {
        fx.raise(cx, &rules::REQUEST_FLOOD, &[cx.label], || {
            (
                format!("{} requests left unanswered in bulk", m.protocol),
                Comparison {
                    observed: json!({ "flag": f }),
                    expected: json!({ "outstanding": "answered in turn" }),
                },
            )
        });
    }
    if let Some(f) = first_of(m, FlagKind::Checksum) {
        fx.raise(cx, &rules::BAD_CRC, &[cx.label], || {
            (
                format!(
                    "{} frame with a bad CRC ({f})",
                    m.protocol.to_ascii_uppercase()
                ),
                Comparison {
                    observed: json!({ "flag": f, "packet": m.packet }),
                    expected: serde_json::Value::Null,
                },
            )
        });
    }
    if let Some(f) = first_of(m, FlagKind::SelectBeforeOperate) {
        fx.raise(
            cx,
            &rules::SELECT_BEFORE_OPERATE,
            &[cx.label, "#", f],
            || {
                let what = if f == "operate_without_select" {
                    "without a select of the same objects before it"
                } else {
                    "differing from its select (objects, values or sequence)"
                };
                (
                    format!("{} {} {what}", m.protocol, function()),
                    Comparison {
                        observed: json!({
                            "flag": f,
                            "function_code": m.function_code,
                            "addresses": m.addresses,
                            "packet": m.packet,
                        }),
                        expected: json!({ "select": "the same objects and values, selected first" }),
                    },
                )
            },
        );
    }
    if let Some(f) = first_of(m, FlagKind::Sequence) {
        fx.raise(cx, &rules::SEQUENCE_ANOMALY, &[cx.label], || {
            (
                format!(
                    "{} {} with a {} send sequence number on a stream that lost nothing",
                    m.protocol,
                    function(),
                    if f == "sequence_gap" {
                        "skipped"
                    } else {
                        "repeated"
                    }
                ),
                Comparison {
                    observed: json!({ "flag": f, "packet": m.packet }),
                    expected: json!({ "sequence": "each frame numbered one after the last" }),
                },
            )
        });
    }
    if let (Some(code), Direction::Response) = (m.exception_code, m.direction) {
        let name = m.exception.unwrap_or("unnamed");
        fx.raise(cx, &rules::EXCEPTION, &[cx.label, "#", &code.to_string()], || {
            // S7 errors are class and code in one 16-bit value: hex reads as the manuals do.
            let shown = if code > 0xff {
                format!("{code:#06x}")
            } else {
                code.to_string()
            };
            (
                format!("{} exception {shown} ({name}) to {}", m.protocol, function()),
                Comparison {
                    observed: json!({ "exception_code": code, "exception": name, "function": function() }),
                    expected: serde_json::Value::Null,
                },
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run, MessageBuilder};
    use super::*;

    #[test]
    fn flags_raise_their_rules_and_malformed_pdus_are_counted_as_facts() {
        let m = MessageBuilder::new("dnp3", 20000)
            .function(3, "unknown")
            .flag("unknown_function")
            .flag("truncated")
            .flag("too_many_points");
        let fired = run(check, &[m.clone().build()]);
        let ids: Vec<&str> = fired.full.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(ids, ["protocol.illegal_function", "protocol.oversized"]);
        assert!(fired.full[0].1.contains("function 3"), "{:?}", fired.full);
        // The malformed flag is counted across flows, not raised here.
        assert_eq!(run(count, &[m.build()]).facts, 1);
    }

    /// An operate without its select and one differing from it are two alerts per edge; a
    /// repeat of either is a repeat. Sequence numbers out of turn raise their own rule.
    #[test]
    fn select_before_operate_and_sequence_flags_raise_their_rules() {
        let op = |f| {
            MessageBuilder::new("dnp3", 20000)
                .function(4, "operate")
                .flag(f)
                .build()
        };
        let fired = run(
            check,
            &[
                op("operate_without_select"),
                op("operate_without_select"),
                op("operate_differs_from_select"),
            ],
        );
        let ids: Vec<&str> = fired.full.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            ids,
            [
                "protocol.select_before_operate",
                "protocol.select_before_operate"
            ]
        );
        assert_eq!(fired.repeats, 1);
        assert!(
            fired.full[0].1.contains("dnp3 operate without a select"),
            "{:?}",
            fired.full
        );
        assert!(
            fired.full[1].1.contains("differing from its select"),
            "{:?}",
            fired.full
        );
        let gap = MessageBuilder::new("iec104", 2404)
            .function(45, "C_SC_NA_1")
            .flag("sequence_gap");
        let fired = run(check, &[gap.build()]);
        assert_eq!(fired.full.len(), 1);
        assert_eq!(fired.full[0].0, "protocol.sequence_anomaly");
        assert!(
            fired.full[0].1.contains("skipped send sequence number"),
            "{:?}",
            fired.full
        );
        // Neither flag is counted as malformed.
        let plain = MessageBuilder::new("iec104", 2404).flag("sequence_duplicate");
        assert_eq!(run(count, &[plain.build()]).facts, 0);
    }

    #[test]
    fn exceptions_raise_per_code_and_count() {
        let e = |code| MessageBuilder::modbus(3).exception(code, "illegal_data_address");
        let fired = run(check, &[e(2).build(), e(2).build(), e(3).build()]);
        assert_eq!(fired.full.len(), 2, "one alert per code: {:?}", fired.full);
        assert_eq!(fired.repeats, 1);
        assert!(fired.full[0]
            .1
            .contains("exception 2 (illegal_data_address)"));
        assert_eq!(run(count, &[e(2).build()]).facts, 1);
        // An S7 error class and code reads in hex.
        let s7 = MessageBuilder::s7_job(4, "read_var").exception(0x8104, "e");
        assert!(run(check, &[s7.build()]).full[0].1.contains("0x8104"));
    }
}
