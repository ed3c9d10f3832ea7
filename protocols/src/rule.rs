//! The vocabulary of detection rules, shared by the detector and the protocols: each
//! protocol declares the operational rules its dangerous functions raise (in its own
//! directory), the detector raises them. Also the ATT&CK for ICS techniques the rules cite,
//! and the operational rules several protocols raise (PLC stop and start, program download
//! and upload, restarts).

use serde::Serialize;

/// Which part of the sensor raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// Zones, conduits, the learned baseline and new assets.
    Policy,
    /// Protocol violations (malformed traffic, illegal codes, floods).
    Protocol,
    /// Dangerous operations (PLC stop, program download, restarts, ...).
    Operational,
    /// Statistical anomalies (scans, new masters, excessive sessions).
    Anomaly,
    /// The sensor's own health (capture loss, silent inputs, overload, sinks, saves).
    Sensor,
    /// The plant's own Sigma rules over event and flow records (`[rules] sigma`).
    Sigma,
}

impl Engine {
    /// The engine's name, as in the alert record.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Policy => "policy",
            Engine::Protocol => "protocol",
            Engine::Operational => "operational",
            Engine::Anomaly => "anomaly",
            Engine::Sensor => "sensor",
            Engine::Sigma => "sigma",
        }
    }

    /// Whether alerts of this engine are recorded in a baseline while learning (operational,
    /// protocol, anomaly and Sigma alerts; policy alerts come from configuration and sensor alerts
    /// from the sensor itself, so neither is).
    pub fn learnable(self) -> bool {
        matches!(
            self,
            Engine::Protocol | Engine::Operational | Engine::Anomaly | Engine::Sigma
        )
    }
}

/// A MITRE ATT&CK for ICS technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Technique {
    /// Technique id (T08xx, as of ATT&CK v18; always present).
    pub id: &'static str,
    /// Technique name.
    pub name: &'static str,
    /// Where ATT&CK v19 revoked `id` and reissued it as a sub-technique: its v19 id and name.
    pub v19: Option<(&'static str, &'static str)>,
}

impl Serialize for Technique {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", self.id)?;
        m.serialize_entry("name", self.name)?;
        if let Some((id, name)) = self.v19 {
            m.serialize_entry("v19_id", id)?;
            m.serialize_entry("v19_name", name)?;
        }
        m.end()
    }
}

/// A detection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable rule id, e.g. `policy.no_conduit`.
    pub id: &'static str,
    /// Short title.
    pub title: &'static str,
    /// Engine.
    pub engine: Engine,
    /// Default severity score (1–10).
    pub severity: u8,
    /// ATT&CK for ICS techniques.
    pub techniques: &'static [Technique],
    /// Why this matters, in one line.
    pub rationale: &'static str,
}

/// ATT&CK for ICS techniques (ids as of v18; where v19 revoked an id and reissued it as a
/// sub-technique, per MITRE's ICS sub-technique crosswalk, the v19 id is given too).
pub mod attack {
    use super::Technique;

    macro_rules! t {
        ($id:literal, $name:literal) => {
            Technique {
                id: $id,
                name: $name,
                v19: None,
            }
        };
        ($id:literal, $name:literal, $v19:literal, $v19name:literal) => {
            Technique {
                id: $id,
                name: $name,
                v19: Some(($v19, $v19name)),
            }
        };
    }

    /// T0886 Remote Services.
    pub const REMOTE_SERVICES: Technique = t!("T0886", "Remote Services");
    /// T0822 External Remote Services.
    pub const EXTERNAL_REMOTE_SERVICES: Technique = t!("T0822", "External Remote Services");
    /// T0883 Internet Accessible Device.
    pub const INTERNET_ACCESSIBLE_DEVICE: Technique = t!("T0883", "Internet Accessible Device");
    /// T0869 Standard Application Layer Protocol.
    pub const STD_APP_PROTOCOL: Technique = t!("T0869", "Standard Application Layer Protocol");
    /// T0855 Unauthorized Command Message.
    pub const UNAUTH_COMMAND: Technique = t!(
        "T0855",
        "Unauthorized Command Message",
        "T1692.001",
        "Unauthorized Message: Command Message"
    );
    /// T0830 Adversary-in-the-Middle.
    pub const ADVERSARY_IN_THE_MIDDLE: Technique = t!("T0830", "Adversary-in-the-Middle");
    /// T0836 Modify Parameter.
    pub const MODIFY_PARAMETER: Technique = t!("T0836", "Modify Parameter");
    /// T0848 Rogue Master.
    pub const ROGUE_MASTER: Technique = t!("T0848", "Rogue Master");
    /// T0861 Point & Tag Identification.
    pub const POINT_TAG_ID: Technique = t!("T0861", "Point & Tag Identification");
    /// T0815 Denial of View.
    pub const DENIAL_OF_VIEW: Technique = t!("T0815", "Denial of View");
    /// T0814 Denial of Service.
    pub const DENIAL_OF_SERVICE: Technique = t!("T0814", "Denial of Service");
    /// T0806 Brute Force I/O.
    pub const BRUTE_FORCE_IO: Technique = t!("T0806", "Brute Force I/O");
    /// T0858 Change Operating Mode.
    pub const CHANGE_OPERATING_MODE: Technique = t!("T0858", "Change Operating Mode");
    /// T0881 Service Stop.
    pub const SERVICE_STOP: Technique = t!("T0881", "Service Stop");
    /// T0843 Program Download.
    pub const PROGRAM_DOWNLOAD: Technique = t!("T0843", "Program Download");
    /// T0845 Program Upload.
    pub const PROGRAM_UPLOAD: Technique = t!("T0845", "Program Upload");
    /// T0889 Modify Program.
    pub const MODIFY_PROGRAM: Technique = t!("T0889", "Modify Program");
    /// T0809 Data Destruction.
    pub const DATA_DESTRUCTION: Technique = t!("T0809", "Data Destruction");
    pub const MANIPULATION_OF_CONTROL: Technique = t!("T0831", "Manipulation of Control");
    pub const LATERAL_TOOL_TRANSFER: Technique = t!("T0867", "Lateral Tool Transfer");
    /// T0816 Device Restart/Shutdown.
    pub const DEVICE_RESTART: Technique = t!("T0816", "Device Restart/Shutdown");
    /// T0804 Block Reporting Message.
    pub const BLOCK_REPORTING: Technique = t!(
        "T0804",
        "Block Reporting Message",
        "T1691.002",
        "Block Operational Technology Message: Reporting Message"
    );
    /// T0857 System Firmware.
    pub const SYSTEM_FIRMWARE: Technique = t!("T0857", "System Firmware");
    /// T0839 Module Firmware.
    pub const MODULE_FIRMWARE: Technique = t!("T0839", "Module Firmware");
    /// T0859 Valid Accounts.
    pub const VALID_ACCOUNTS: Technique = t!("T0859", "Valid Accounts");
    /// T0866 Exploitation of Remote Services.
    pub const EXPLOIT_REMOTE_SERVICES: Technique = t!("T0866", "Exploitation of Remote Services");
    /// T0885 Commonly Used Port.
    pub const COMMONLY_USED_PORT: Technique = t!("T0885", "Commonly Used Port");
    /// T0846 Remote System Discovery.
    pub const REMOTE_SYSTEM_DISCOVERY: Technique = t!("T0846", "Remote System Discovery");
    /// T0888 Remote System Information Discovery.
    pub const REMOTE_SYSTEM_INFO_DISCOVERY: Technique =
        t!("T0888", "Remote System Information Discovery");
    /// T0856 Spoof Reporting Message.
    pub const SPOOF_REPORTING: Technique = t!("T0856", "Spoof Reporting Message");
}

use attack::*;

/// An S7 PLC STOP, or a UMAS stop PLC.
pub static PLC_STOP: Rule = Rule {
    id: "operational.plc_stop",
    title: "PLC stop command",
    engine: Engine::Operational,
    severity: 9,
    techniques: &[CHANGE_OPERATING_MODE, SERVICE_STOP],
    rationale: "A stopped controller no longer runs its program: the process it controls is left unattended.",
};

/// A PLC start (S7 PI service P_PROGRAM, UMAS start PLC).
pub static PLC_START: Rule = Rule {
    id: "operational.plc_start",
    title: "PLC start command",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[CHANGE_OPERATING_MODE],
    rationale: "Restarting a controller's program changes the process state; outside maintenance it is an attacker's move after a download.",
};

/// A program (or part of one) written to a controller.
pub static PROGRAM_DOWNLOAD_RULE: Rule = Rule {
    id: "operational.program_download",
    title: "Program download to a controller",
    engine: Engine::Operational,
    severity: 8,
    techniques: &[PROGRAM_DOWNLOAD, MODIFY_PROGRAM],
    rationale: "New logic in a PLC changes what the process does; outside planned maintenance it is the core of an ICS attack.",
};

/// A program read from a controller.
pub static PROGRAM_UPLOAD_RULE: Rule = Rule {
    id: "operational.program_upload",
    title: "Program upload from a controller",
    engine: Engine::Operational,
    severity: 6,
    techniques: &[PROGRAM_UPLOAD],
    rationale:
        "Reading a PLC's program reveals the process logic: reconnaissance before modifying it.",
};

/// Device or communication restart (DNP3 cold/warm restart, Modbus restart communications).
pub static DEVICE_RESTART_RULE: Rule = Rule {
    id: "operational.device_restart",
    title: "Device restart command",
    engine: Engine::Operational,
    severity: 8,
    techniques: &[DEVICE_RESTART],
    rationale:
        "A restarted outstation or controller drops its I/O and communications while it reboots.",
};

/// A firmware update of a device (CIP Non-Volatile Storage update, as ControlFLASH does it).
pub static FIRMWARE_UPDATE: Rule = Rule {
    id: "operational.firmware_update",
    title: "Firmware update of a device",
    engine: Engine::Operational,
    severity: 9,
    techniques: &[SYSTEM_FIRMWARE, MODULE_FIRMWARE],
    rationale: "New firmware changes what a controller or module is at its core; malicious firmware survives program reloads and can hide itself.",
};
