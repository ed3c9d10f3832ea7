//! IEC 60870-5-104 as the rest of the sensor knows it: TCP 2404, controlling and controlled
//! stations, and its dangerous requests: reset process (through the generic restart rule by
//! operation) and control commands activated (select and execute alike: one alert per edge).

use crate::descriptor::{Dangerous, Descriptor, FlagKind, Parser, Request, Roles};
use crate::flow::Driver;
use crate::rule::attack::*;
use crate::rule::{Engine, Rule};

/// IEC 104.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "iec104",
    summary: "IEC 60870-5-104: APCI frames (I/S/U), ASDU type ids, causes of transmission, common addresses, information objects with values",
    tcp_ports: &[2404],
    udp_ports: &[],
    parser: Some(Parser {
        probe: super::adapter::probe,
        new_handler: Driver::<super::adapter::Iec104>::boxed,
    }),
    roles: Roles {
        client: "iec104_master",
        server: "iec104_outstation",
    },
    rules: &[&IEC104_COMMAND],
    dangerous,
    flags: FLAGS,
};

/// IEC 60870-5-104's flags: causes of transmission the standard does not define, a bad control field and an ASDU without objects are malformed.
pub static FLAGS: &[(&str, FlagKind)] = &[
    ("truncated", FlagKind::Malformed),
    ("trailing_bytes", FlagKind::Malformed),
    ("unknown_function", FlagKind::IllegalFunction),
    ("unknown_cause", FlagKind::Malformed),
    ("sequence_gap", FlagKind::Sequence),
    ("sequence_duplicate", FlagKind::Sequence),
    ("bad_control", FlagKind::Malformed),
    ("unknown_sub_function", FlagKind::IllegalFunction),
    ("no_objects", FlagKind::Malformed),
    ("negative_confirmation", FlagKind::Informational),
    ("operate_without_select", FlagKind::SelectBeforeOperate),
    ("operate_differs_from_select", FlagKind::SelectBeforeOperate),
];

/// A control command (or set point) activated on an outstation.
pub static IEC104_COMMAND: Rule = Rule {
    id: "operational.iec104_command",
    title: "IEC 104 control command",
    engine: Engine::Operational,
    severity: 5,
    techniques: &[UNAUTH_COMMAND, MODIFY_PARAMETER],
    rationale: "Commands and set points operate breakers, valves and setpoints of the grid or plant: who sends them, and to which station, is worth knowing.",
};

/// Cause of transmission 6: activation.
const ACTIVATION: u16 = 6;

fn dangerous(r: &Request<'_>) -> Option<Dangerous> {
    let t = u8::try_from(r.function_code).ok()?;
    (super::codes::is_command(t) && r.sub_function == Some(ACTIVATION)).then(|| {
        Dangerous::new(
            &IEC104_COMMAND,
            super::codes::type_name(t).unwrap_or("Control command"),
        )
    })
}
