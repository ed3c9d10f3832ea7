//! Modbus/TCP as the rest of the sensor knows it: port 502 (TCP and UDP), client and server
//! roles, and its dangerous functions (force listen-only mode; UMAS stop and start PLC).

use super::codes::FunctionCode;
use crate::descriptor::{Dangerous, Descriptor, Parser, Request, Roles};
use crate::flow::Driver;
use crate::rule::attack::*;
use crate::rule::{Engine, Rule, PLC_START, PLC_STOP};

/// The descriptor.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "modbus",
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
};

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
