//! MMS as the rest of the sensor knows it: parsed by the S7comm parser in the ISO-on-TCP
//! connections of port 102 (it owns no port of its own), client and server roles, and the
//! program invocation services that stop, start or delete what a device runs.

use crate::descriptor::{Dangerous, Descriptor, Request, Roles};
use crate::rule::attack::*;
use crate::rule::{Engine, Rule, PLC_START, PLC_STOP};

/// MMS.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "mms",
    tcp_ports: &[],
    udp_ports: &[],
    parser: None,
    roles: Roles {
        client: "mms_client",
        server: "mms_server",
    },
    rules: &[&MMS_DELETE],
    dangerous,
};

/// MMS deleteProgramInvocation or deleteDomain.
pub static MMS_DELETE: Rule = Rule {
    id: "operational.mms_delete",
    title: "MMS program invocation or domain deleted",
    engine: Engine::Operational,
    severity: 8,
    techniques: &[MODIFY_PROGRAM, DATA_DESTRUCTION],
    rationale: "Deleting a program invocation or a domain removes what the device runs or its configuration.",
};

/// Program invocation services (ISO 9506-2 §11).
const DELETE_DOMAIN: u16 = 36;
const DELETE_PROGRAM_INVOCATION: u16 = 39;
const START: u16 = 40;
const STOP: u16 = 41;
const RESUME: u16 = 42;
const KILL: u16 = 44;

fn dangerous(r: &Request<'_>) -> Option<Dangerous> {
    Some(match r.function_code {
        STOP => Dangerous::new(&PLC_STOP, "MMS program invocation stop"),
        KILL => Dangerous::new(&PLC_STOP, "MMS program invocation kill"),
        START => Dangerous::new(&PLC_START, "MMS program invocation start"),
        RESUME => Dangerous::new(&PLC_START, "MMS program invocation resume"),
        DELETE_PROGRAM_INVOCATION => Dangerous::new(&MMS_DELETE, "MMS deleteProgramInvocation"),
        DELETE_DOMAIN => Dangerous::new(&MMS_DELETE, "MMS deleteDomain"),
        _ => return None,
    })
}
