//! Operational rules: dangerous operations — those each protocol's descriptor recognises from
//! the function and sub-function of a request (PLC stop and start, PI services, application
//! control, listen-only mode, ...), program download and upload and restarts by normalized
//! operation for every protocol, and PLC passwords sent in clear.

use serde_json::json;

use otsensor_protocols::descriptor::{Dangerous, Request};
use otsensor_protocols::{Direction, Operation};

use crate::alert::{Evidence, Rule};
use crate::message::Message;
use crate::rules;

/// What an operational rule found: the rule, a key suffix (appended to the edge label) and
/// the details.
pub struct Finding {
    /// The rule.
    pub rule: &'static Rule,
    /// Distinguishes alerts of one rule on one edge (e.g. the S7 PI service).
    pub key: String,
    /// Human-readable details.
    pub details: String,
    /// Observed and expected.
    pub evidence: Evidence,
}

fn finding(rule: &'static Rule, m: &Message, what: &str) -> Finding {
    let function = m.function.as_deref().unwrap_or("?");
    Finding {
        rule,
        key: String::new(),
        details: format!(
            "{what} ({} {function}) from {} to {}",
            m.protocol, m.src.ip, m.dst.ip
        ),
        evidence: Evidence {
            observed: json!({
                "protocol": m.protocol,
                "function_code": m.function_code,
                "function": m.function,
                "sub_function": m.sub_function,
                "sub_function_name": m.sub_function_name,
                "packet": m.packet,
            }),
            expected: serde_json::Value::Null,
        },
    }
}

/// The operational rule a request triggers, if any. Responses never do: the request is the
/// act (and a response without its request was already counted when the request was seen).
/// The protocol's descriptor knows its dangerous functions; the rules by operation apply to
/// the rest.
pub fn check(m: &Message) -> Option<Finding> {
    if m.flags.contains(&"password_sent") {
        return Some(finding(&rules::PASSWORD_IN_CLEAR, m, "PLC password sent"));
    }
    if m.direction != Direction::Request {
        return None;
    }
    let request = Request {
        function_code: m.function_code?,
        sub_function: m.sub_function,
        sub_function_name: m.sub_function_name.as_deref(),
    };
    let danger = otsensor_protocols::descriptor(m.protocol).and_then(|d| (d.dangerous)(&request));
    match danger {
        Some(Dangerous {
            rule,
            what,
            service: None,
        }) => Some(finding(rule, m, &what)),
        Some(Dangerous {
            rule,
            what,
            service: Some(service),
        }) => {
            // One alert per service on the edge.
            let mut f = finding(rule, m, &what);
            f.details = format!("{what} from {} to {}", m.src.ip, m.dst.ip);
            f.key = format!("#{service}");
            Some(f)
        }
        None => generic(m),
    }
}

/// Rules by normalized operation, for every protocol.
fn generic(m: &Message) -> Option<Finding> {
    match m.operation {
        Operation::ProgramDownload => Some(finding(
            &rules::PROGRAM_DOWNLOAD_RULE,
            m,
            "Program download",
        )),
        Operation::ProgramUpload => Some(finding(&rules::PROGRAM_UPLOAD_RULE, m, "Program upload")),
        Operation::Restart => Some(finding(&rules::DEVICE_RESTART_RULE, m, "Restart")),
        _ => None,
    }
}
