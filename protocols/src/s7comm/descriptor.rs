//! S7comm and S7comm-plus as the rest of the sensor knows them: ISO-TSAP port 102 (S7comm-plus
//! rides in the same TPKT/COTP connections, so it owns no port), client and PLC roles, and
//! S7comm's dangerous functions (PLC STOP, the PI services).

use crate::descriptor::{
    no_dangerous_functions, Dangerous, Descriptor, FlagKind, Parser, Request, Roles,
};
use crate::flow::Driver;
use crate::rule::attack::*;
use crate::rule::{Engine, Rule, PLC_START, PLC_STOP};

const ROLES: Roles = Roles {
    client: "s7_client",
    server: "s7_plc",
};

/// S7comm.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "s7comm",
    summary: "S7comm over ISO-on-TCP (TPKT/COTP): jobs and ack-data, read/write variables with areas and addresses, PLC control (start/stop), block up/download, SZL reads, CPU identity",
    tcp_ports: &[102],
    udp_ports: &[],
    parser: Some(Parser {
        probe: super::adapter::probe,
        new_handler: Driver::<super::adapter::S7>::boxed,
    }),
    roles: ROLES,
    rules: &[&S7_COPY_RAM_TO_ROM, &S7_BLOCK_DELETE, &S7_PI_SERVICE],
    dangerous,
    flags: FLAGS,
};

/// S7comm's flags; an error class in an answer is informational (its exception is judged).
pub static FLAGS: &[(&str, FlagKind)] = &[
    ("truncated", FlagKind::Malformed),
    ("trailing_bytes", FlagKind::Malformed),
    ("unknown_rosctr", FlagKind::IllegalFunction),
    ("unknown_function", FlagKind::IllegalFunction),
    ("bad_item", FlagKind::Malformed),
    ("unpaired_response", FlagKind::Informational),
    ("error_reported", FlagKind::Informational),
    ("bad_userdata_head", FlagKind::Malformed),
    ("pdu_too_long", FlagKind::Oversized),
    ("password_sent", FlagKind::Password),
];

/// S7comm-plus (parsed by the S7comm parser, in the same connections).
pub static PLUS_DESCRIPTOR: Descriptor = Descriptor {
    name: "s7comm_plus",
    summary: "S7comm-plus (S7-1200/1500): recognised in S7comm's connections, opcodes and functions, no values",
    tcp_ports: &[],
    udp_ports: &[],
    parser: None,
    roles: ROLES,
    rules: &[],
    dangerous: no_dangerous_functions,
    flags: FLAGS,
};

/// S7 PI service copy RAM to ROM (_MODU).
pub static S7_COPY_RAM_TO_ROM: Rule = Rule {
    id: "operational.s7_copy_ram_to_rom",
    title: "S7 copy RAM to ROM",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[MODIFY_PROGRAM],
    rationale: "Makes the PLC's current (possibly modified) program survive a power cycle.",
};

/// S7 PI service delete block (_DELE).
pub static S7_BLOCK_DELETE: Rule = Rule {
    id: "operational.s7_block_delete",
    title: "S7 program block deleted",
    engine: Engine::Operational,
    severity: 8,
    techniques: &[MODIFY_PROGRAM, DATA_DESTRUCTION],
    rationale: "Deleting blocks removes control logic or data from the PLC.",
};

/// Another S7 PI service (compress memory, activate blocks, ...).
pub static S7_PI_SERVICE: Rule = Rule {
    id: "operational.s7_pi_service",
    title: "S7 PI service invoked",
    engine: Engine::Operational,
    severity: 6,
    techniques: &[UNAUTH_COMMAND],
    rationale: "Program-invocation services manage the PLC's program and memory (compress, activate blocks): engineering actions.",
};

/// Job functions.
const PI_SERVICE: u16 = 0x28;
const PLC_STOP_FUNCTION: u16 = 0x29;

fn dangerous(r: &Request<'_>) -> Option<Dangerous> {
    match r.function_code {
        PLC_STOP_FUNCTION => Some(Dangerous::new(&PLC_STOP, "PLC STOP")),
        PI_SERVICE => {
            let service = r.sub_function_name.unwrap_or("");
            Some(match service {
                "P_PROGRAM" => Dangerous::new(&PLC_START, "PLC start (PI P_PROGRAM)"),
                "_MODU" => Dangerous::new(&S7_COPY_RAM_TO_ROM, "Copy RAM to ROM (PI _MODU)"),
                "_DELE" => Dangerous::new(&S7_BLOCK_DELETE, "Block delete (PI _DELE)"),
                _ => Dangerous {
                    rule: &S7_PI_SERVICE,
                    what: format!("PI service {service}"),
                    service: Some(service.to_string()),
                },
            })
        }
        _ => None,
    }
}
