//! EtherNet/IP and CIP as the rest of the sensor knows them: encapsulation on TCP and UDP
//! 44818 and implicit I/O on UDP 2222 (`enip`), CIP explicit messages carried in it (`cip`),
//! scanner and adapter roles, and CIP's dangerous requests: controller stop and start
//! (Logix run/program mode), firmware updates (Non-Volatile Storage, as ControlFLASH does
//! them) and changes to a device's network configuration.

use super::codes::{class, service};
use crate::descriptor::{
    no_dangerous_functions, Dangerous, Descriptor, FlagKind, Parser, Request, Roles,
};
use crate::flow::Driver;
use crate::rule::attack::*;
use crate::rule::{Engine, Rule, FIRMWARE_UPDATE, PLC_START, PLC_STOP};

const ROLES: Roles = Roles {
    client: "cip_scanner",
    server: "cip_adapter",
};

/// EtherNet/IP encapsulation.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "enip",
    summary: "EtherNet/IP encapsulation over TCP and UDP: commands, sessions, ListIdentity device identity, CPF items",
    tcp_ports: &[44818],
    udp_ports: &[44818, super::state::IO_PORT],
    parser: Some(Parser {
        probe: super::adapter::probe,
        new_handler: Driver::<super::adapter::Enip>::boxed,
    }),
    roles: ROLES,
    rules: &[],
    dangerous: no_dangerous_functions,
    flags: FLAGS,
};

/// EtherNet/IP's and CIP's flags: a bad EPATH, fragment offsets that do not add up, nonzero options and a status on a request break the specification.
pub static FLAGS: &[(&str, FlagKind)] = &[
    ("truncated", FlagKind::Malformed),
    ("trailing_bytes", FlagKind::Malformed),
    ("unknown_function", FlagKind::IllegalFunction),
    ("nonzero_options", FlagKind::Malformed),
    ("unassigned_function", FlagKind::IllegalFunction),
    ("bad_path", FlagKind::Malformed),
    ("unpaired_response", FlagKind::Informational),
    ("response_mismatch", FlagKind::Informational),
    ("request_flood", FlagKind::Flood),
    ("bad_offsets", FlagKind::Malformed),
    ("status_on_request", FlagKind::Malformed),
];

/// CIP (parsed by the EtherNet/IP parser, in its messages). A CIP message's sub-function is
/// the class of the object it addresses.
pub static CIP_DESCRIPTOR: Descriptor = Descriptor {
    name: "cip",
    summary: "CIP inside EtherNet/IP: services, class/instance/attribute paths, connected messaging, PCCC, Forward Open",
    tcp_ports: &[],
    udp_ports: &[],
    parser: None,
    roles: ROLES,
    rules: &[&CIP_NETWORK_CONFIGURATION, &CIP_CONTROLLER_LOCK],
    dangerous,
    flags: FLAGS,
};

/// A device's IP address, port or link settings changed over CIP.
pub static CIP_NETWORK_CONFIGURATION: Rule = Rule {
    id: "operational.cip_network_configuration",
    title: "CIP network configuration change",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[MODIFY_PARAMETER, UNAUTH_COMMAND],
    rationale: "Changing a device's IP address or Ethernet link settings can cut it off from its controller or move it where an attacker waits.",
};

/// A Logix controller's change lock taken or released.
pub static CIP_CONTROLLER_LOCK: Rule = Rule {
    id: "operational.cip_controller_lock",
    title: "Logix controller locked for changes",
    engine: Engine::Operational,
    severity: 6,
    techniques: &[UNAUTH_COMMAND],
    rationale: "RSLogix locks a controller (class 0x74, service 0x4B) before it changes it — mode changes, restarts, configuration, also ones the sensor cannot decode — and unlocks it (0x4C) after: who locks a controller is who is about to change it. Read from public captures of lock attempts and mode changes: Rockwell does not publish this object.",
};

fn dangerous(r: &Request<'_>) -> Option<Dangerous> {
    let class = r.sub_function.map(u32::from);
    let sc = u8::try_from(r.function_code).ok()?;
    let set = matches!(
        sc,
        service::SET_ATTRIBUTES_ALL | service::SET_ATTRIBUTE_LIST | service::SET_ATTRIBUTE_SINGLE
    );
    match (sc, class) {
        (service::STOP, Some(class::LOGIX_CONTROLLER)) => {
            Some(Dangerous::new(&PLC_STOP, "Controller stop (program mode)"))
        }
        (service::START, Some(class::LOGIX_CONTROLLER)) => {
            Some(Dangerous::new(&PLC_START, "Controller start (run mode)"))
        }
        (0x4B, Some(class::NON_VOLATILE_STORAGE)) => {
            Some(Dangerous::new(&FIRMWARE_UPDATE, "Firmware update started"))
        }
        (0x4D, Some(class::NON_VOLATILE_STORAGE)) => {
            Some(Dangerous::new(&FIRMWARE_UPDATE, "Firmware image transfer"))
        }
        (service::EXECUTE_PCCC, Some(class::PCCC)) => match r.function? {
            "pccc_change_cpu_mode_program" => Some(Dangerous::new(
                &PLC_STOP,
                "PCCC change to (remote) program mode",
            )),
            "pccc_change_cpu_mode_run" => Some(Dangerous::new(
                &PLC_START,
                "PCCC change to (remote) run mode",
            )),
            "pccc_shutdown" => Some(Dangerous::new(&PLC_STOP, "PCCC shutdown")),
            // Downloads, uploads and restarts go by their operation.
            _ => None,
        },
        (0x4B, Some(class::LOGIX_LOCK)) => Some(Dangerous::new(
            &CIP_CONTROLLER_LOCK,
            "Controller locked for changes",
        )),
        (0x4C, Some(class::LOGIX_LOCK)) => Some(Dangerous::new(
            &CIP_CONTROLLER_LOCK,
            "Controller change lock released",
        )),
        (_, Some(class::TCP_IP_INTERFACE | class::ETHERNET_LINK | class::PORT)) if set => Some(
            Dangerous::new(&CIP_NETWORK_CONFIGURATION, "Network configuration change"),
        ),
        _ => None,
    }
}
