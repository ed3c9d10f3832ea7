//! Modbus/TCP as the rest of the sensor knows it: port 502 (TCP and UDP), client and server
//! roles, and its dangerous functions (force listen-only mode; UMAS stop and start PLC).

use super::codes::FunctionCode;
use crate::descriptor::{Dangerous, Descriptor, FlagKind, Parser, Request, Roles};
use crate::flow::Driver;
use crate::rule::attack::*;
use crate::rule::{Engine, Rule, PLC_START, PLC_STOP};

/// The descriptor.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "modbus",
    summary: "Modbus/TCP: function codes, unit ids, coil and register addresses and values, exceptions, MEI device identification; requests paired with responses",
    tcp_ports: &[502],
    udp_ports: &[502],
    parser: Some(Parser {
        probe: super::adapter::probe,
        new_handler: Driver::<super::adapter::Modbus>::boxed,
    }),
    roles: Roles {
        client: "modbus_client",
        server: "modbus_server",
    },
    rules: &[&MODBUS_LISTEN_ONLY],
    dangerous,
    flags: FLAGS,
};

/// Modbus/TCP's flags (the parser's `Flags`): user-defined function codes and pairing misses are informational.
pub static FLAGS: &[(&str, FlagKind)] = &[
    ("quantity_out_of_range", FlagKind::Malformed),
    ("byte_count_mismatch", FlagKind::Malformed),
    ("truncated", FlagKind::Malformed),
    ("trailing_bytes", FlagKind::Malformed),
    ("user_defined_function", FlagKind::Informational),
    ("reserved_function", FlagKind::IllegalFunction),
    ("unassigned_function", FlagKind::IllegalFunction),
    ("invalid_coil_value", FlagKind::Malformed),
    ("unknown_exception_code", FlagKind::Malformed),
    ("unknown_sub_function", FlagKind::IllegalFunction),
    ("response_mismatch", FlagKind::Informational),
    ("unpaired_response", FlagKind::Informational),
    ("request_flood", FlagKind::Flood),
    ("address_overflow", FlagKind::Malformed),
    ("duplicate_transaction", FlagKind::Informational),
    ("echo_mismatch", FlagKind::Malformed),
    // Schneider Modicon PLCs answer UMAS with an MBAP length of 255, one over the
    // specification: a device's habit, not an attack (ADUs longer still are not framed).
    ("length_over_spec", FlagKind::Informational),
];

/// Modbus force listen-only mode.
pub static MODBUS_LISTEN_ONLY: Rule = Rule {
    id: "operational.modbus_listen_only",
    title: "Modbus force listen-only mode",
    engine: Engine::Operational,
    severity: 8,
    techniques: &[DENIAL_OF_SERVICE, BLOCK_REPORTING],
    rationale: "A device in listen-only mode stops answering until restarted: its values disappear from the SCADA view.",
};

/// Diagnostics sub-function 4, force listen-only mode.
const FORCE_LISTEN_ONLY: u16 = 0x04;
/// UMAS start and stop PLC.
const UMAS_START_PLC: u16 = 0x40;
const UMAS_STOP_PLC: u16 = 0x41;

fn dangerous(r: &Request<'_>) -> Option<Dangerous> {
    let (rule, what): (&'static Rule, &str) = match (r.function_code, r.sub_function) {
        (c, Some(FORCE_LISTEN_ONLY)) if c == u16::from(FunctionCode::DIAGNOSTICS) => {
            (&MODBUS_LISTEN_ONLY, "Force listen-only mode")
        }
        (c, Some(UMAS_STOP_PLC)) if c == u16::from(FunctionCode::UMAS) => {
            (&PLC_STOP, "PLC STOP (UMAS)")
        }
        (c, Some(UMAS_START_PLC)) if c == u16::from(FunctionCode::UMAS) => {
            (&PLC_START, "PLC start (UMAS)")
        }
        _ => return None,
    };
    Some(Dangerous::new(rule, what))
}
