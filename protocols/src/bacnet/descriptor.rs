//! BACnet/IP as the rest of the sensor knows it: UDP 47808, clients and devices, and what
//! a building's devices must not be told lightly: stop communicating
//! (DeviceCommunicationControl disable), restart (ReinitializeDevice, through the generic
//! restart rule), writes at the life-safety and manual-override priorities or that take an
//! object out of service, files written to a device; and who sweeps it for devices.

use crate::descriptor::{Dangerous, Descriptor, FlagKind, Parser, Request, Roles};
use crate::flow::Driver;
use crate::rule::attack::*;
use crate::rule::{Engine, Rule, DEVICE_RESTART_RULE};

/// BACnet/IP.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "bacnet",
    summary: "BACnet/IP (ASHRAE 135 Annex J): BVLC, NPDU routing, confirmed and unconfirmed services, object identifiers and properties, Who-Is/I-Am device identity",
    tcp_ports: &[],
    udp_ports: &[super::PORT],
    parser: Some(Parser {
        probe: super::adapter::probe,
        new_handler: Driver::<super::adapter::Bacnet>::boxed,
    }),
    roles: Roles {
        client: "bacnet_client",
        server: "bacnet_device",
    },
    rules: &[
        &BACNET_DCC_DISABLE,
        &BACNET_PRIORITY_WRITE,
        &BACNET_FILE_WRITE,
        &BACNET_DISCOVERY,
    ],
    dangerous,
    flags: FLAGS,
};

/// BACnet/IP's flags: a BVLC length past the datagram is malformed.
pub static FLAGS: &[(&str, FlagKind)] = &[("bvlc_length_mismatch", FlagKind::Malformed)];

/// DeviceCommunicationControl that disables a device's communication.
pub static BACNET_DCC_DISABLE: Rule = Rule {
    id: "operational.bacnet_dcc_disable",
    title: "BACnet device told to stop communicating",
    engine: Engine::Operational,
    severity: 8,
    techniques: &[DENIAL_OF_SERVICE, BLOCK_REPORTING],
    rationale: "DeviceCommunicationControl disable (or disable-initiation) silences a controller for a time or until told otherwise: its alarms and values stop reaching the BMS.",
};

/// WriteProperty at priority 1–2 (life safety) or of out-of-service.
pub static BACNET_PRIORITY_WRITE: Rule = Rule {
    id: "operational.bacnet_priority_write",
    title: "BACnet write at a life-safety priority or taking an object out of service",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[UNAUTH_COMMAND, MODIFY_PARAMETER],
    rationale: "Priorities 1 and 2 are reserved for manual and automatic life safety and override every other command; out-of-service decouples an object's value from the physical point. Neither belongs to everyday BMS traffic.",
};

/// AtomicWriteFile: a file written to a device (programs, configuration).
pub static BACNET_FILE_WRITE: Rule = Rule {
    id: "operational.bacnet_file_write",
    title: "File written to a BACnet device",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[PROGRAM_DOWNLOAD, LATERAL_TOOL_TRANSFER],
    rationale:
        "AtomicWriteFile loads programs, configuration and firmware images into controllers.",
};

/// Who-Is for every device or a range of them.
pub static BACNET_DISCOVERY: Rule = Rule {
    id: "protocol.bacnet_discovery",
    title: "BACnet discovery of every device",
    engine: Engine::Protocol,
    severity: 4,
    techniques: &[REMOTE_SYSTEM_DISCOVERY],
    rationale: "A Who-Is without a range (or with one wider than a device) makes every BACnet device on the network answer with its instance, vendor and limits: a BMS workstation's scan, or reconnaissance. Learned per asking host; a Who-Is for one device (binding) is not a sweep.",
};

const WHO_IS: u16 = 8;
const ATOMIC_WRITE_FILE: u16 = 7;
const WRITE_PROPERTY: u16 = 15;
const DEVICE_COMMUNICATION_CONTROL: u16 = 17;
const REINITIALIZE_DEVICE: u16 = 20;

fn dangerous(r: &Request<'_>) -> Option<Dangerous> {
    // Only confirmed services reach here as requests with these codes (unconfirmed 7 is
    // who-Has, which the adapter names).
    let confirmed = r.function.is_none_or(|f| !f.starts_with("who"));
    if !confirmed {
        let sweep = r.function_code == WHO_IS && r.sub_function_name == Some(super::SWEEP);
        return sweep.then(|| Dangerous::new(&BACNET_DISCOVERY, "BACnet Who-Is for every device"));
    }
    match (r.function_code, r.sub_function, r.sub_function_name) {
        (DEVICE_COMMUNICATION_CONTROL, Some(1 | 2), _) => Some(Dangerous::new(
            &BACNET_DCC_DISABLE,
            "BACnet DeviceCommunicationControl disable",
        )),
        (REINITIALIZE_DEVICE, _, _) => Some(Dangerous::new(
            &DEVICE_RESTART_RULE,
            "BACnet ReinitializeDevice",
        )),
        (WRITE_PROPERTY, Some(1 | 2), _) => Some(Dangerous::new(
            &BACNET_PRIORITY_WRITE,
            "BACnet WriteProperty at a life-safety priority",
        )),
        (WRITE_PROPERTY, _, Some("out_of_service")) => Some(Dangerous::new(
            &BACNET_PRIORITY_WRITE,
            "BACnet WriteProperty of out-of-service",
        )),
        (ATOMIC_WRITE_FILE, _, _) => {
            Some(Dangerous::new(&BACNET_FILE_WRITE, "BACnet AtomicWriteFile"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        code: u16,
        sub: Option<u16>,
        name: Option<&str>,
        function: &str,
    ) -> Option<&'static str> {
        let r = Request {
            function_code: code,
            sub_function: sub,
            sub_function_name: name,
            function: Some(function),
        };
        dangerous(&r).map(|d| d.rule.id)
    }

    #[test]
    fn a_who_is_sweep_is_discovery_and_a_binding_is_not() {
        let sweep = Some(super::super::SWEEP);
        assert_eq!(
            rule(8, None, sweep, "who-Is"),
            Some("protocol.bacnet_discovery")
        );
        assert_eq!(rule(8, None, None, "who-Is"), None);
        // Unconfirmed 7 (who-Has) shares its code with confirmed AtomicWriteFile.
        assert_eq!(rule(7, None, None, "who-Has"), None);
        assert_eq!(
            rule(7, None, None, "atomicWriteFile"),
            Some("operational.bacnet_file_write")
        );
        assert_eq!(
            rule(15, Some(1), Some("priority_1"), "writeProperty"),
            Some("operational.bacnet_priority_write")
        );
        assert_eq!(rule(15, Some(8), Some("priority_8"), "writeProperty"), None);
    }
}
