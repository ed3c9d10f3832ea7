//! Operational rules: dangerous operations, recognised from the protocol-specific function
//! and sub-function of a request (S7 PLC stop and PI services, program download and upload,
//! restarts, DNP3 application control, Modbus listen-only, PLC passwords in clear).

use serde_json::json;

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
pub fn check(m: &Message) -> Option<Finding> {
    if m.flags.contains(&"password_sent") {
        return Some(finding(&rules::PASSWORD_IN_CLEAR, m, "PLC password sent"));
    }
    if m.direction != Direction::Request {
        return None;
    }
    let code = m.function_code?;
    let sub = m.sub_function;
    let service = m.sub_function_name.as_deref().unwrap_or("");
    match m.protocol {
        "s7comm" => match code {
            0x29 => Some(finding(&rules::PLC_STOP, m, "PLC STOP")),
            0x28 => {
                let (rule, what): (&'static Rule, &str) = match service {
                    "P_PROGRAM" => (&rules::PLC_START, "PLC start (PI P_PROGRAM)"),
                    "_MODU" => (&rules::S7_COPY_RAM_TO_ROM, "Copy RAM to ROM (PI _MODU)"),
                    "_DELE" => (&rules::S7_BLOCK_DELETE, "Block delete (PI _DELE)"),
                    _ => (&rules::S7_PI_SERVICE, "PI service"),
                };
                let mut f = finding(rule, m, what);
                if rule.id == rules::S7_PI_SERVICE.id {
                    f.details = format!("PI service {service} from {} to {}", m.src.ip, m.dst.ip);
                    f.key = format!("#{service}");
                }
                Some(f)
            }
            _ => generic(m),
        },
        "modbus" => match (code, sub) {
            (8, Some(0x04)) => Some(finding(
                &rules::MODBUS_LISTEN_ONLY,
                m,
                "Force listen-only mode",
            )),
            (90, Some(0x41)) => Some(finding(&rules::PLC_STOP, m, "PLC STOP (UMAS)")),
            (90, Some(0x40)) => Some(finding(&rules::PLC_START, m, "PLC start (UMAS)")),
            _ => generic(m),
        },
        "dnp3" => match code {
            15..=18 => Some(finding(
                &rules::DNP3_APPLICATION_CONTROL,
                m,
                "Application control",
            )),
            21 => Some(finding(
                &rules::DNP3_DISABLE_UNSOLICITED,
                m,
                "Disable unsolicited responses",
            )),
            _ => generic(m),
        },
        _ => generic(m),
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
