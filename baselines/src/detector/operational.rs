//! Operational rules: dangerous operations — those each protocol's descriptor recognises from
//! the function and sub-function of a request (PLC stop and start, PI services, application
//! control, listen-only mode, ...), program download and upload and restarts by normalized
//! operation for every protocol, and PLC passwords sent in clear.

use serde_json::json;

use otsensor_protocols::descriptor::{Dangerous, FlagKind, Request};
use otsensor_protocols::{Direction, Operation};

use crate::alert::{Comparison, Rule};
use crate::message::Message;
use crate::rules;

use super::findings::{Ctx, Findings};

/// What the message carried, for the evidence.
fn observed(m: &Message) -> Comparison {
    Comparison {
        observed: json!({
            "protocol": m.protocol,
            "function_code": m.function_code,
            "function": m.function,
            "sub_function": m.sub_function,
            "sub_function_name": m.sub_function_name,
            "packet": m.packet,
        }),
        expected: serde_json::Value::Null,
    }
}

/// Raises `rule` on the edge, described as `what`.
fn raise(cx: &Ctx<'_>, fx: &mut Findings<'_>, rule: &'static Rule, what: &str) {
    let m = cx.m;
    fx.raise(cx, rule, &[cx.label], || {
        let function = m.function.as_deref().unwrap_or("?");
        (
            format!(
                "{what} ({} {function}) from {} to {}",
                m.protocol, m.src.ip, m.dst.ip
            ),
            observed(m),
        )
    });
}

/// The operational rule a request triggers, if any. Responses never do: the request is the
/// act (and a response without its request was already counted when the request was seen).
/// The protocol's descriptor knows its dangerous functions; the rules by operation apply to
/// the rest.
pub(super) fn check(cx: &Ctx<'_>, fx: &mut Findings<'_>) {
    let m = cx.m;
    if super::protocol::first_of(m, FlagKind::Password).is_some() {
        return raise(cx, fx, &rules::PASSWORD_IN_CLEAR, "PLC password sent");
    }
    if m.direction != Direction::Request {
        return;
    }
    let Some(function_code) = m.function_code else {
        return;
    };
    let request = Request {
        function_code,
        sub_function: m.sub_function,
        sub_function_name: m.sub_function_name.as_deref(),
        function: m.function.as_deref(),
    };
    let danger = otsensor_protocols::descriptor(m.protocol).and_then(|d| (d.dangerous)(&request));
    match danger {
        Some(Dangerous {
            rule,
            what,
            service: None,
        }) => raise(cx, fx, rule, &what),
        Some(Dangerous {
            rule,
            what,
            service: Some(service),
        }) => {
            // One alert per service on the edge.
            fx.raise(cx, rule, &[cx.label, "#", &service], || {
                (
                    format!("{what} from {} to {}", m.src.ip, m.dst.ip),
                    observed(m),
                )
            });
        }
        None => generic(cx, fx),
    }
}

/// Rules by normalized operation, for every protocol.
fn generic(cx: &Ctx<'_>, fx: &mut Findings<'_>) {
    let (rule, what) = match cx.m.operation {
        Operation::ProgramDownload => (&rules::PROGRAM_DOWNLOAD_RULE, "Program download"),
        Operation::ProgramUpload => (&rules::PROGRAM_UPLOAD_RULE, "Program upload"),
        Operation::Restart => (&rules::DEVICE_RESTART_RULE, "Restart"),
        _ => return,
    };
    raise(cx, fx, rule, what);
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run, MessageBuilder};
    use super::*;

    #[test]
    fn a_plc_stop_request_raises_once_per_flow_and_its_response_never() {
        let stop = MessageBuilder::s7_job(0x29, "plc_stop").operation(Operation::Control);
        let ids =
            |fired: &[(String, String)]| fired.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
        let fired = run(check, &[stop.clone().build(), stop.clone().build()]);
        assert_eq!(ids(&fired.full), ["operational.plc_stop"]);
        assert_eq!(fired.repeats, 1, "the second STOP on the flow is a repeat");
        assert!(fired.full[0].1.contains("PLC STOP"), "{:?}", fired.full);
        let fired = run(check, &[stop.response().build()]);
        assert!(fired.full.is_empty() && fired.repeats == 0);
    }

    #[test]
    fn program_download_and_passwords_by_operation_and_flag() {
        let dl = MessageBuilder::modbus(90).operation(Operation::ProgramDownload);
        let fired = run(check, &[dl.build()]);
        assert_eq!(fired.full[0].0, "operational.program_download");
        let pw = MessageBuilder::s7_job(4, "read_var").flag("password_sent");
        assert_eq!(
            run(check, &[pw.build()]).full[0].0,
            "operational.password_in_clear"
        );
        let read = MessageBuilder::modbus(3).operation(Operation::Read);
        assert!(run(check, &[read.build()]).full.is_empty());
    }

    #[test]
    fn a_disabled_rule_raises_nothing_and_builds_nothing() {
        let stop = MessageBuilder::s7_job(0x29, "plc_stop").operation(Operation::Control);
        let fired =
            super::super::testing::run_with(check, &[stop.build()], &["operational.plc_stop"]);
        assert!(fired.full.is_empty() && fired.repeats == 0);
    }
}
