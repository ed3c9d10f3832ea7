//! MMS as the rest of the sensor knows it: parsed by the S7comm parser in the ISO-on-TCP
//! connections of port 102 (it owns no port of its own), client and server roles, and the
//! program invocation services that stop, start or delete what a device runs.

use crate::descriptor::{Dangerous, Descriptor, FlagKind, Request, Roles};
use crate::rule::attack::*;
use crate::rule::{Engine, Rule, PLC_START, PLC_STOP};

/// MMS.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "mms",
    summary: "IEC 61850 MMS (ISO 9506) over ISO-on-TCP: session, presentation, ACSE, all confirmed services by name, object names, written and read values, information reports, identify",
    tcp_ports: &[],
    udp_ports: &[],
    parser: None,
    roles: Roles {
        client: "mms_client",
        server: "mms_server",
    },
    rules: &[&MMS_DELETE, &MMS_CONTROL, &MMS_FILE_PUSHED],
    dangerous,
    flags: FLAGS,
};

/// MMS's flags.
pub static FLAGS: &[(&str, FlagKind)] = &[("malformed", FlagKind::Malformed)];

/// MMS deleteProgramInvocation, deleteDomain or fileDelete.
pub static MMS_DELETE: Rule = Rule {
    id: "operational.mms_delete",
    title: "MMS program invocation, domain or file deleted",
    engine: Engine::Operational,
    severity: 8,
    techniques: &[MODIFY_PROGRAM, DATA_DESTRUCTION],
    rationale: "Deleting a program invocation, a domain or a file removes what the device runs, its configuration or its records.",
};

/// An IEC 61850 control service: a write to a control object (`$CO$`: select, operate,
/// cancel), one alert per service on an edge.
pub static MMS_CONTROL: Rule = Rule {
    id: "operational.mms_control",
    title: "IEC 61850 control operation",
    engine: Engine::Operational,
    severity: 6,
    techniques: &[UNAUTH_COMMAND, MANIPULATION_OF_CONTROL],
    rationale: "Select and operate on a control object switch breakers, disconnectors and tap changers: who may do it is a plant's decision.",
};

/// MMS obtainFile: the client has the server fetch a file onto itself.
pub static MMS_FILE_PUSHED: Rule = Rule {
    id: "operational.mms_file_pushed",
    title: "MMS file pushed to a device (obtainFile)",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[LATERAL_TOOL_TRANSFER],
    rationale: "obtainFile makes the device copy a file from elsewhere onto itself: configuration or firmware files arrive this way.",
};

/// Services (ISO 9506-2 choice numbers).
const WRITE: u16 = 5;
const OBTAIN_FILE: u16 = 46;
const FILE_DELETE: u16 = 76;
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
        FILE_DELETE => Dangerous::new(&MMS_DELETE, "MMS fileDelete"),
        OBTAIN_FILE => Dangerous::new(&MMS_FILE_PUSHED, "MMS obtainFile"),
        // A write naming a control object: its service (`Oper`, `SBOw`, `Cancel`) was put
        // in the sub-function's name by the parser.
        WRITE => {
            let service = r.sub_function_name?;
            Dangerous {
                rule: &MMS_CONTROL,
                what: format!("IEC 61850 control {service}"),
                service: Some(service.to_string()),
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(code: u16, control: Option<&str>) -> Option<&'static str> {
        let r = Request {
            function_code: code,
            sub_function: None,
            sub_function_name: control,
            function: None,
        };
        (DESCRIPTOR.dangerous)(&r).map(|d| d.rule.id)
    }

    #[test]
    fn program_invocations_files_and_control_objects() {
        assert_eq!(rule(STOP, None), Some("operational.plc_stop"));
        assert_eq!(rule(KILL, None), Some("operational.plc_stop"));
        assert_eq!(rule(START, None), Some("operational.plc_start"));
        assert_eq!(
            rule(DELETE_PROGRAM_INVOCATION, None),
            Some("operational.mms_delete")
        );
        assert_eq!(rule(FILE_DELETE, None), Some("operational.mms_delete"));
        assert_eq!(rule(OBTAIN_FILE, None), Some("operational.mms_file_pushed"));
        assert_eq!(rule(WRITE, Some("Oper")), Some("operational.mms_control"));
        // A write to a data attribute is a write, judged by the baseline, not operational.
        assert_eq!(rule(WRITE, None), None);
        assert_eq!(rule(4, None), None);
    }
}
