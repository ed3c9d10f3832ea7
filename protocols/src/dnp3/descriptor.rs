//! DNP3 as the rest of the sensor knows it: port 20000 (TCP and UDP), master and outstation
//! roles, and its dangerous functions (application control, disable unsolicited).

use crate::descriptor::{Dangerous, Descriptor, FlagKind, Parser, Request, Roles};
use crate::flow::Driver;
use crate::rule::attack::*;
use crate::rule::{Engine, Rule};

/// The descriptor.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "dnp3",
    summary: "DNP3 (IEEE 1815) over TCP and UDP: link, transport and application layers, function codes, object groups and variations with points and values, IIN, select-before-operate",
    tcp_ports: &[20000],
    udp_ports: &[20000],
    parser: Some(Parser {
        probe: super::adapter::probe,
        new_handler: Driver::<super::adapter::Dnp3>::boxed,
    }),
    roles: Roles {
        client: "dnp3_master",
        server: "dnp3_outstation",
    },
    rules: &[&DNP3_APPLICATION_CONTROL, &DNP3_DISABLE_UNSOLICITED],
    dangerous,
    flags: FLAGS,
};

/// DNP3's flags (frame, transport and application layers): a transport sequence out of turn (common at a capture's start) and objects of groups the parser does not know are informational.
pub static FLAGS: &[(&str, FlagKind)] = &[
    ("bad_block_crc", FlagKind::Checksum),
    ("bad_header_crc", FlagKind::Checksum),
    ("unknown_link_function", FlagKind::IllegalFunction),
    ("out_of_sequence", FlagKind::Informational),
    ("fragment_too_long", FlagKind::Oversized),
    ("unknown_function", FlagKind::IllegalFunction),
    ("unknown_object", FlagKind::Informational),
    ("bad_qualifier", FlagKind::Malformed),
    ("invalid_range", FlagKind::Malformed),
    ("truncated", FlagKind::Malformed),
    ("too_many_objects", FlagKind::Oversized),
    ("too_many_points", FlagKind::Oversized),
    ("unpaired_response", FlagKind::Informational),
    ("request_flood", FlagKind::Flood),
    ("fragment_too_short", FlagKind::Malformed),
    ("response_mismatch", FlagKind::Informational),
    ("operate_without_select", FlagKind::SelectBeforeOperate),
    ("operate_differs_from_select", FlagKind::SelectBeforeOperate),
];

/// DNP3 initialize data or application, start or stop application.
pub static DNP3_APPLICATION_CONTROL: Rule = Rule {
    id: "operational.dnp3_application_control",
    title: "DNP3 application initialize/start/stop",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[CHANGE_OPERATING_MODE, SERVICE_STOP],
    rationale: "Initializing, starting or stopping an outstation's applications changes what it does for the process.",
};

/// DNP3 disable unsolicited responses.
pub static DNP3_DISABLE_UNSOLICITED: Rule = Rule {
    id: "operational.dnp3_disable_unsolicited",
    title: "DNP3 unsolicited reporting disabled",
    engine: Engine::Operational,
    severity: 6,
    techniques: &[BLOCK_REPORTING, DENIAL_OF_VIEW],
    rationale: "An outstation that no longer reports events by itself hides changes from the master until it is polled.",
};

/// Application functions 15–18: initialize data, initialize, start and stop application.
const INITIALIZE_DATA: u16 = 15;
const STOP_APPLICATION: u16 = 18;
/// Application function 21.
const DISABLE_UNSOLICITED: u16 = 21;

fn dangerous(r: &Request<'_>) -> Option<Dangerous> {
    match r.function_code {
        INITIALIZE_DATA..=STOP_APPLICATION => Some(Dangerous::new(
            &DNP3_APPLICATION_CONTROL,
            "Application control",
        )),
        DISABLE_UNSOLICITED => Some(Dangerous::new(
            &DNP3_DISABLE_UNSOLICITED,
            "Disable unsolicited responses",
        )),
        _ => None,
    }
}
