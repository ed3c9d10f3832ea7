//! The detection rule catalog: every rule the sensor can raise, with its engine, default
//! severity, ATT&CK for ICS techniques and rationale.

use crate::alert::{Engine, Rule};
use otsensor_protocols::rule::attack::*;
pub use otsensor_protocols::rule::{
    DEVICE_RESTART_RULE, FIRMWARE_UPDATE, PLC_START, PLC_STOP, PROGRAM_DOWNLOAD_RULE,
    PROGRAM_UPLOAD_RULE,
};

/// Flow between zones with no conduit.
pub static NO_CONDUIT: Rule = Rule {
    id: "policy.no_conduit",
    title: "Traffic between zones without a conduit",
    engine: Engine::Policy,
    severity: 8,
    techniques: &[REMOTE_SERVICES],
    rationale: "IEC 62443 zones may only talk through conduits; this flow crosses a boundary no conduit opens.",
};

/// Protocol the conduit does not list.
pub static PROTOCOL_NOT_ALLOWED: Rule = Rule {
    id: "policy.protocol_not_allowed",
    title: "Protocol not allowed on the conduit",
    engine: Engine::Policy,
    severity: 7,
    techniques: &[STD_APP_PROTOCOL, REMOTE_SERVICES],
    rationale: "A conduit exists between the zones, but not for this protocol.",
};

/// Operation the conduit does not list (e.g. a write through a read-only conduit).
pub static OPERATION_NOT_ALLOWED: Rule = Rule {
    id: "policy.operation_not_allowed",
    title: "Operation not allowed on the conduit",
    engine: Engine::Policy,
    severity: 8,
    techniques: &[UNAUTH_COMMAND, MODIFY_PARAMETER],
    rationale: "The conduit allows the protocol but not this operation (e.g. a write through a read-only conduit).",
};

/// A control zone talks to the internet.
pub static INTERNET_ACCESS: Rule = Rule {
    id: "policy.internet_access",
    title: "Control zone host talks to the internet",
    engine: Engine::Policy,
    severity: 8,
    techniques: &[INTERNET_ACCESSIBLE_DEVICE, STD_APP_PROTOCOL],
    rationale: "A host in a zone of Purdue level 0-3 opened a flow to a public address that is in no configured zone: command and control, exfiltration or an unmanaged update, unless a conduit allows it.",
};

/// Interactive remote access into a control zone.
pub static REMOTE_ACCESS: Rule = Rule {
    id: "policy.remote_access",
    title: "Remote access into a control zone",
    engine: Engine::Policy,
    severity: 8,
    techniques: &[EXTERNAL_REMOTE_SERVICES, REMOTE_SERVICES],
    rationale: "RDP, VNC, SSH, Telnet or a remote-support tool reached a zone of Purdue level 0-2 from outside it, and no conduit lists the protocol: remote access belongs on a jump host, through a conduit that names it.",
};

/// A conversation the baseline does not know.
pub static NEW_CONVERSATION: Rule = Rule {
    id: "baseline.new_conversation",
    title: "New conversation",
    engine: Engine::Policy,
    severity: 5,
    techniques: &[REMOTE_SERVICES, STD_APP_PROTOCOL],
    rationale: "A client opened a flow to a server, port and application it never used while the baseline was learned; remote access and file sharing into a control zone rank above a new name or time server.",
};

/// A learned host's address used from another MAC address.
pub static IP_CONFLICT: Rule = Rule {
    id: "anomaly.ip_conflict",
    title: "Address claimed by another MAC",
    engine: Engine::Anomaly,
    severity: 8,
    techniques: &[ADVERSARY_IN_THE_MIDDLE, ROGUE_MASTER],
    rationale: "Industrial traffic of a learned host comes from a MAC address it never used while learning: ARP spoofing to sit between an HMI and a PLC, a rogue device taking a controller's address, or a replaced device nobody recorded.",
};

/// A learned device reports another identity.
pub static IDENTITY_CHANGED: Rule = Rule {
    id: "anomaly.identity_changed",
    title: "Device identity changed",
    engine: Engine::Anomaly,
    severity: 7,
    techniques: &[SYSTEM_FIRMWARE, MODULE_FIRMWARE],
    rationale: "A known device reports firmware other than the one it reported while learning, or gives itself a name it never used (DHCP, NetBIOS, SNMP sysName, mDNS, LLMNR): a firmware update outside a maintenance window, a device swapped for another, or a host taking a known address.",
};

/// A host the baseline does not know.
pub static NEW_ASSET: Rule = Rule {
    id: "baseline.new_asset",
    title: "New asset on the network",
    engine: Engine::Policy,
    severity: 6,
    techniques: &[ROGUE_MASTER, REMOTE_SYSTEM_DISCOVERY],
    rationale: "A device absent from the learned baseline is talking an industrial protocol: a rogue master, or a device added without change control.",
};

/// A communication path the baseline does not know.
pub static NEW_EDGE: Rule = Rule {
    id: "baseline.new_edge",
    title: "New communication path",
    engine: Engine::Policy,
    severity: 6,
    techniques: &[REMOTE_SERVICES],
    rationale: "Two known assets talk a protocol they never used with each other while the baseline was learned.",
};

/// An operation never seen on the edge.
pub static NEW_OPERATION: Rule = Rule {
    id: "baseline.new_operation",
    title: "New operation on a known path",
    engine: Engine::Policy,
    severity: 7,
    techniques: &[UNAUTH_COMMAND],
    rationale: "A known client does something to a known server it never did before (e.g. writes where it only read).",
};

/// A function code never seen on the edge.
pub static NEW_FUNCTION: Rule = Rule {
    id: "baseline.new_function",
    title: "New function code on a known path",
    engine: Engine::Policy,
    severity: 5,
    techniques: &[UNAUTH_COMMAND],
    rationale:
        "A function code outside what this pair of devices used while the baseline was learned.",
};

/// A unit id never seen on the edge.
pub static NEW_UNIT: Rule = Rule {
    id: "baseline.new_unit",
    title: "New unit id on a known path",
    engine: Engine::Policy,
    severity: 4,
    techniques: &[POINT_TAG_ID],
    rationale: "A slave, outstation or rack/slot not addressed while the baseline was learned.",
};

/// Addresses outside the learned ranges.
pub static ADDRESS_OUT_OF_RANGE: Rule = Rule {
    id: "baseline.address_out_of_range",
    title: "Address outside the learned ranges",
    engine: Engine::Policy,
    severity: 6,
    techniques: &[POINT_TAG_ID, MODIFY_PARAMETER],
    rationale: "Registers, points or memory outside the ranges this path used: probing, or a changed process.",
};

/// A poll interval far from the learned period.
pub static TIMING_DEVIATION: Rule = Rule {
    id: "baseline.timing_deviation",
    title: "Poll timing outside the learned period",
    engine: Engine::Policy,
    severity: 4,
    techniques: &[UNAUTH_COMMAND],
    rationale: "Industrial polling is periodic; an interval far outside the learned period and jitter suggests another master or a manual command.",
};

/// A periodic poll that stopped.
pub static POLL_STOPPED: Rule = Rule {
    id: "baseline.poll_stopped",
    title: "Periodic poll stopped",
    engine: Engine::Policy,
    severity: 5,
    techniques: &[DENIAL_OF_VIEW, DENIAL_OF_SERVICE],
    rationale: "A poll seen periodically while learning stopped for many periods: loss of view of the process.",
};

/// Request rate far above the learned peak.
pub static RATE_SPIKE: Rule = Rule {
    id: "baseline.rate_spike",
    title: "Request rate far above the learned peak",
    engine: Engine::Policy,
    severity: 5,
    techniques: &[DENIAL_OF_SERVICE, BRUTE_FORCE_IO],
    rationale: "Many more requests per minute on a connection than ever learned: flooding, or brute-forcing I/O.",
};

/// A PLC password sent over the network in clear (S7 set-password userdata).
pub static PASSWORD_IN_CLEAR: Rule = Rule {
    id: "operational.password_in_clear",
    title: "PLC password sent in clear",
    engine: Engine::Operational,
    severity: 7,
    techniques: &[VALID_ACCOUNTS],
    rationale: "The S7 protection password is only XOR-obfuscated: anyone on the path can recover and reuse it.",
};

/// Malformed PDUs on one flow over the threshold.
pub static MALFORMED: Rule = Rule {
    id: "protocol.malformed",
    title: "Malformed industrial protocol traffic",
    engine: Engine::Protocol,
    severity: 6,
    techniques: &[EXPLOIT_REMOTE_SERVICES, DENIAL_OF_SERVICE],
    rationale: "Repeated PDUs that break the protocol specification: fuzzing, exploitation attempts or a broken device.",
};

/// A PDU past the protocol's or the sensor's size limits.
pub static OVERSIZED: Rule = Rule {
    id: "protocol.oversized",
    title: "Oversized PDU",
    engine: Engine::Protocol,
    severity: 6,
    techniques: &[DENIAL_OF_SERVICE, EXPLOIT_REMOTE_SERVICES],
    rationale: "Fragments, point counts or PDUs beyond the specification's limits exhaust receivers' buffers: denial of service or exploitation.",
};

/// A function code the protocol does not define (or reserves).
pub static ILLEGAL_FUNCTION: Rule = Rule {
    id: "protocol.illegal_function",
    title: "Illegal or reserved function code",
    engine: Engine::Protocol,
    severity: 5,
    techniques: &[UNAUTH_COMMAND],
    rationale: "Undefined or reserved function codes have no legitimate use between standard devices: probing or fuzzing.",
};

/// An exception (error) response, aggregated per edge and exception code.
pub static EXCEPTION: Rule = Rule {
    id: "protocol.exception",
    title: "Protocol exception response",
    engine: Engine::Protocol,
    severity: 3,
    techniques: &[],
    rationale: "The device refused a request (illegal address, function or value): misconfiguration, or probing.",
};

/// Many exception responses on one flow in a short window.
pub static EXCEPTION_STORM: Rule = Rule {
    id: "protocol.exception_storm",
    title: "Exception storm",
    engine: Engine::Protocol,
    severity: 6,
    techniques: &[POINT_TAG_ID, BRUTE_FORCE_IO],
    rationale: "Bursts of refused requests come from enumerating addresses or functions a device does not have.",
};

/// Requests piling up unanswered.
pub static REQUEST_FLOOD: Rule = Rule {
    id: "protocol.request_flood",
    title: "Unanswered request flood",
    engine: Engine::Protocol,
    severity: 6,
    techniques: &[DENIAL_OF_SERVICE],
    rationale: "Many requests outstanding with no response: flooding a device, or one that stopped answering.",
};

/// DNP3 frames with bad CRCs.
pub static BAD_CRC: Rule = Rule {
    id: "protocol.bad_crc",
    title: "DNP3 frame with a bad CRC",
    engine: Engine::Protocol,
    severity: 5,
    techniques: &[EXPLOIT_REMOTE_SERVICES],
    rationale:
        "DNP3 protects every block with a CRC; over TCP bad CRCs mean crafted or corrupted frames.",
};

/// A control operated without the select that select-before-operate requires, or with other
/// objects or values than were selected.
pub static SELECT_BEFORE_OPERATE: Rule = Rule {
    id: "protocol.select_before_operate",
    title: "Select-before-operate violated",
    engine: Engine::Protocol,
    severity: 7,
    techniques: &[UNAUTH_COMMAND, MODIFY_PARAMETER],
    rationale: "Select-before-operate makes a control take two matching steps; an operate without its select, or differing from it, is a tool or an attacker skipping the check a legitimate master always makes.",
};

/// Application sequence numbers that skip or repeat on a stream that lost nothing.
pub static SEQUENCE_ANOMALY: Rule = Rule {
    id: "protocol.sequence_anomaly",
    title: "Protocol sequence numbers skipped or repeated",
    engine: Engine::Protocol,
    severity: 5,
    techniques: &[ADVERSARY_IN_THE_MIDDLE, UNAUTH_COMMAND],
    rationale: "On a TCP stream the sensor saw whole, frames numbered out of turn were not lost on the SPAN port: frames injected into or replayed on the session, or a broken protocol stack.",
};

/// An industrial protocol on a port that is not its own.
pub static NONSTANDARD_PORT: Rule = Rule {
    id: "protocol.nonstandard_port",
    title: "Industrial protocol on a non-standard port",
    engine: Engine::Protocol,
    severity: 5,
    techniques: &[STD_APP_PROTOCOL],
    rationale: "Moving an OT protocol off its port evades port-based policy and monitoring.",
};

/// Something else on an industrial protocol's port.
pub static NON_OT_ON_OT_PORT: Rule = Rule {
    id: "protocol.non_ot_on_ot_port",
    title: "Non-industrial traffic on an industrial port",
    engine: Engine::Protocol,
    severity: 6,
    techniques: &[COMMONLY_USED_PORT],
    rationale:
        "Other protocols on an OT port hide behind firewall rules opened for the OT protocol.",
};

/// One source reaching many hosts.
pub static HOST_SCAN: Rule = Rule {
    id: "anomaly.host_scan",
    title: "Host scan",
    engine: Engine::Anomaly,
    severity: 6,
    techniques: &[REMOTE_SYSTEM_DISCOVERY],
    rationale:
        "One source opening connections to many hosts in a short window is sweeping the network.",
};

/// One source probing many ports of a host.
pub static PORT_SCAN: Rule = Rule {
    id: "anomaly.port_scan",
    title: "Port scan",
    engine: Engine::Anomaly,
    severity: 6,
    techniques: &[REMOTE_SYSTEM_DISCOVERY],
    rationale:
        "One source probing many ports of one host in a short window is looking for services.",
};

/// One client addressing many unit ids of a server.
pub static UNIT_SCAN: Rule = Rule {
    id: "anomaly.unit_scan",
    title: "Unit id scan",
    engine: Engine::Anomaly,
    severity: 6,
    techniques: &[REMOTE_SYSTEM_DISCOVERY, POINT_TAG_ID],
    rationale: "Addressing many Modbus unit ids or DNP3 addresses behind one endpoint enumerates the devices behind a gateway.",
};

/// One client reading many SZL lists.
pub static SZL_ENUMERATION: Rule = Rule {
    id: "anomaly.szl_enumeration",
    title: "S7 SZL enumeration",
    engine: Engine::Anomaly,
    severity: 5,
    techniques: &[REMOTE_SYSTEM_INFO_DISCOVERY],
    rationale: "Reading many system status lists collects a PLC's identity, modules and state: fingerprinting.",
};

/// A second client writing to a device.
pub static NEW_MASTER_WRITE: Rule = Rule {
    id: "anomaly.new_master_write",
    title: "New master writing to a device",
    engine: Engine::Anomaly,
    severity: 7,
    techniques: &[ROGUE_MASTER, UNAUTH_COMMAND],
    rationale: "A device written to by a client other than its usual master: a rogue master, or a compromised workstation.",
};

/// A device's clock set by a client other than the one that set it first.
pub static NEW_TIME_MASTER: Rule = Rule {
    id: "anomaly.new_time_master",
    title: "New time master setting a device's clock",
    engine: Engine::Anomaly,
    severity: 6,
    techniques: &[ROGUE_MASTER, UNAUTH_COMMAND],
    rationale: "Clock synchronization from a station that never did it: a rogue master shifting time stamps (sequence of events, interlocks with time windows) or a misconfigured station.",
};

/// Cyclic I/O data on a connection the sensor saw opened, sent by another host than the one
/// the connection was opened with.
pub static IO_PRODUCER_MISMATCH: Rule = Rule {
    id: "anomaly.io_producer_mismatch",
    title: "Cyclic I/O data from a host that did not open the connection",
    engine: Engine::Anomaly,
    severity: 8,
    techniques: &[SPOOF_REPORTING, UNAUTH_COMMAND, ADVERSARY_IN_THE_MIDDLE],
    rationale: "A device takes cyclic I/O (EtherNet/IP implicit messaging) by connection id: a host that injects datagrams with the id of a connection opened by another sets the outputs of an adapter (spoofed commands) or the inputs its scanner sees (spoofed reporting).",
};

/// Many sessions between one client and one server.
pub static EXCESSIVE_SESSIONS: Rule = Rule {
    id: "anomaly.excessive_sessions",
    title: "Excessive sessions",
    engine: Engine::Anomaly,
    severity: 5,
    techniques: &[DENIAL_OF_SERVICE],
    rationale: "Opening many connections to one device in a short window exhausts its few connection slots.",
};

/// Many connection attempts to one server port.
pub static SYN_FLOOD: Rule = Rule {
    id: "anomaly.syn_flood",
    title: "SYN flood",
    engine: Engine::Anomaly,
    severity: 8,
    techniques: &[DENIAL_OF_SERVICE],
    rationale: "A flood of TCP connection attempts exhausts a controller's few connection slots and its CPU: the operators lose control and view.",
};

/// Connections to one server port from many distinct sources.
pub static CONNECTION_FLOOD: Rule = Rule {
    id: "anomaly.connection_flood",
    title: "Distributed connection flood",
    engine: Engine::Anomaly,
    severity: 8,
    techniques: &[DENIAL_OF_SERVICE],
    rationale: "An OT server has a handful of known clients; hundreds of distinct sources connecting is a distributed denial of service or spoofed traffic.",
};

/// Connections on one industrial protocol port from many sources to many hosts.
pub static DISTRIBUTED_SCAN: Rule = Rule {
    id: "anomaly.distributed_scan",
    title: "Distributed scan of an industrial service",
    engine: Engine::Anomaly,
    severity: 7,
    techniques: &[REMOTE_SYSTEM_DISCOVERY],
    rationale: "Many sources each touching a few hosts on a Modbus, DNP3, S7, EtherNet/IP or IEC 104 port is a sweep spread out to stay below per-source scan thresholds (or a worm); a plant's masters are few.",
};

/// The kernel or the interface dropped packets.
pub static CAPTURE_LOSS: Rule = Rule {
    id: "sensor.capture_loss",
    title: "Capture loss",
    engine: Engine::Sensor,
    severity: 7,
    techniques: &[],
    rationale: "Packets dropped before the sensor saw them are traffic no rule could check: an attack can hide in the loss.",
};

/// No packet on an interface for a while.
pub static INPUT_SILENT: Rule = Rule {
    id: "sensor.input_silent",
    title: "Capture input silent",
    engine: Engine::Sensor,
    severity: 8,
    techniques: &[],
    rationale: "A SPAN session removed, a cable pulled or an interface down blinds the sensor without any other sign.",
};

/// The sensor could not keep up with its own pipeline.
pub static OVERLOAD: Rule = Rule {
    id: "sensor.overload",
    title: "Sensor overloaded",
    engine: Engine::Sensor,
    severity: 7,
    techniques: &[],
    rationale: "Packets dropped at a full worker queue, or events lost, are traffic the sensor did not analyse.",
};

/// A sink cannot deliver.
pub static SINK_DEGRADED: Rule = Rule {
    id: "sensor.sink_degraded",
    title: "Alert sink degraded",
    engine: Engine::Sensor,
    severity: 7,
    techniques: &[],
    rationale: "Alerts that do not reach the SOC are alerts nobody acts on; a growing spool fills the disk.",
};

/// A periodic baseline save failed.
pub static BASELINE_SAVE_FAILED: Rule = Rule {
    id: "sensor.baseline_save_failed",
    title: "Baseline save failed",
    engine: Engine::Sensor,
    severity: 6,
    techniques: &[],
    rationale: "What was learned since the last good save is lost if the sensor stops now.",
};

/// A reloaded configuration was refused.
pub static RELOAD_FAILED: Rule = Rule {
    id: "sensor.reload_failed",
    title: "Configuration reload refused",
    engine: Engine::Sensor,
    severity: 5,
    techniques: &[],
    rationale: "The sensor still runs the previous configuration: zones, conduits or rules someone changed are not in force.",
};

/// A GOOSE control block published from a second MAC.
pub static GOOSE_SPOOFING: Rule = Rule {
    id: "protocol.goose_spoofing",
    title: "GOOSE stream published from a second device",
    engine: Engine::Protocol,
    severity: 9,
    techniques: &[SPOOF_REPORTING, ADVERSARY_IN_THE_MIDDLE],
    rationale: "A control block (gocbRef) has one publisher, its IED; the same gocbRef from another MAC is a forged or replayed trip or interlock message (IEC 61850-8-1 has no authentication without 62351-6).",
};

/// A GOOSE stream's stNum jumped far ahead.
pub static GOOSE_STATE_JUMP: Rule = Rule {
    id: "protocol.goose_state_jump",
    title: "GOOSE state number jumped far ahead",
    engine: Engine::Protocol,
    severity: 9,
    techniques: &[UNAUTH_COMMAND, SPOOF_REPORTING],
    rationale: "Subscribers take the frame with the highest stNum as the newest state: a frame far ahead of the stream (the high-stNum poisoning attack) makes them act on a forged state and drop the real publisher's until its stNum catches up.",
};

/// A GOOSE stream went back: stNum, or sqNum within one stNum.
pub static GOOSE_REPLAY: Rule = Rule {
    id: "protocol.goose_replay",
    title: "GOOSE state or sequence number went back",
    engine: Engine::Protocol,
    severity: 7,
    techniques: &[UNAUTH_COMMAND],
    rationale: "A publisher's stNum only grows, and sqNum only grows until the next state change: going back is a replayed frame, or a publisher that restarted.",
};

/// A GOOSE stream silent past twice its time allowed to live.
pub static GOOSE_SILENT: Rule = Rule {
    id: "protocol.goose_silent",
    title: "GOOSE stream silent past its time allowed to live",
    engine: Engine::Protocol,
    severity: 7,
    techniques: &[DENIAL_OF_SERVICE],
    rationale: "Each frame promises the next within timeAllowedToLive; after twice that, subscribers declare the stream lost and interlocks or trips that rely on it fail: a dead IED, a cut link or a denial of service.",
};

/// The simulation (test) flag on a live GOOSE stream.
pub static GOOSE_SIMULATION: Rule = Rule {
    id: "protocol.goose_simulation",
    title: "Simulation flag set on a live GOOSE stream",
    engine: Engine::Protocol,
    severity: 6,
    techniques: &[CHANGE_OPERATING_MODE, UNAUTH_COMMAND],
    rationale: "Subscribers in test mode act on simulated frames: the flag appearing on a production stream is commissioning work left on, or an attacker's frames made acceptable.",
};

/// A GOOSE stream's confRev changed.
pub static GOOSE_CONFREV: Rule = Rule {
    id: "protocol.goose_confrev_changed",
    title: "GOOSE dataset configuration revision changed",
    engine: Engine::Protocol,
    severity: 5,
    techniques: &[MODIFY_PARAMETER],
    rationale: "confRev counts changes to the control block's dataset: a change means the IED's configuration was rewritten, and subscribers configured for the old dataset reject the stream.",
};

/// A PROFINET station renamed, readdressed or reset over DCP.
pub static PN_DCP_SET: Rule = Rule {
    id: "operational.pn_dcp_set",
    title: "PROFINET station renamed, readdressed or reset (DCP Set)",
    engine: Engine::Operational,
    severity: 8,
    techniques: &[MODIFY_PARAMETER, DEVICE_RESTART],
    rationale: "A DCP Set of a station's name or IP suite, or a factory reset, cuts the device from its controller (its IO connection is configured by name and address) and needs no authentication: commissioning work from the engineering station, or an attacker taking a device off the line. Learned per setting host, so the baseline's engineering station stays quiet.",
};

/// A host asked every PROFINET station to identify itself.
pub static PN_DCP_DISCOVERY: Rule = Rule {
    id: "protocol.pn_dcp_discovery",
    title: "PROFINET DCP discovery of every station",
    engine: Engine::Protocol,
    severity: 4,
    techniques: &[REMOTE_SYSTEM_DISCOVERY],
    rationale: "A DCP Identify All makes every PROFINET device answer with its name, address, vendor and role: an engineering tool's scan, or reconnaissance. Learned per asking host.",
};

/// A GOOSE or SV stream the baseline does not know.
pub static NEW_STREAM: Rule = Rule {
    id: "baseline.new_stream",
    title: "New GOOSE or Sampled Values stream",
    engine: Engine::Policy,
    severity: 6,
    techniques: &[SPOOF_REPORTING, UNAUTH_COMMAND],
    rationale: "A substation's GOOSE control blocks and SV streams are fixed by its configuration (SCD file): one the baseline never heard is a new or reconfigured IED, a test set left connected, or injected frames.",
};

/// A learned GOOSE or SV stream with another publisher, group, dataset, revision or heartbeat.
pub static STREAM_CHANGED: Rule = Rule {
    id: "baseline.stream_changed",
    title: "GOOSE or Sampled Values stream differs from the baseline",
    engine: Engine::Policy,
    severity: 6,
    techniques: &[MODIFY_PARAMETER, SPOOF_REPORTING],
    rationale: "A learned stream now comes from another MAC, goes to another group or APPID, carries another dataset or configuration revision, or repeats slower than twice its learned heartbeat: a replaced or reconfigured IED, or a spoofed publisher.",
};

/// An SV stream published from a second MAC.
pub static SV_SPOOFING: Rule = Rule {
    id: "protocol.sv_spoofing",
    title: "Sampled Values stream published from a second device",
    engine: Engine::Protocol,
    severity: 9,
    techniques: &[SPOOF_REPORTING, ADVERSARY_IN_THE_MIDDLE],
    rationale: "An svID has one merging unit; samples of it from another MAC feed forged currents and voltages to protection relays.",
};

/// An SV stream lost, repeated or reordered samples.
pub static SV_DISCONTINUITY: Rule = Rule {
    id: "protocol.sv_discontinuity",
    title: "Sampled Values stream lost or reordered samples",
    engine: Engine::Protocol,
    severity: 5,
    techniques: &[DENIAL_OF_SERVICE, SPOOF_REPORTING],
    rationale: "A merging unit's smpCnt counts every sample: gaps, repeats and steps back beyond a few a second starve protection functions of measurements, or show injected samples.",
};

/// Every rule, for `otsensor rules` and config validation: the detector's own, then each
/// protocol's (from its descriptor), then the sensor's health rules.
pub fn all() -> &'static [&'static Rule] {
    static ALL: std::sync::LazyLock<Vec<&'static Rule>> = std::sync::LazyLock::new(|| {
        let mut v: Vec<&'static Rule> = vec![
            &NO_CONDUIT,
            &PROTOCOL_NOT_ALLOWED,
            &OPERATION_NOT_ALLOWED,
            &INTERNET_ACCESS,
            &REMOTE_ACCESS,
            &NEW_ASSET,
            &NEW_CONVERSATION,
            &NEW_EDGE,
            &NEW_OPERATION,
            &NEW_FUNCTION,
            &NEW_UNIT,
            &ADDRESS_OUT_OF_RANGE,
            &TIMING_DEVIATION,
            &POLL_STOPPED,
            &RATE_SPIKE,
            &PLC_STOP,
            &PLC_START,
            &PROGRAM_DOWNLOAD_RULE,
            &PROGRAM_UPLOAD_RULE,
            &DEVICE_RESTART_RULE,
            &FIRMWARE_UPDATE,
        ];
        v.extend(
            otsensor_protocols::PROTOCOLS
                .iter()
                .flat_map(|d| d.rules.iter().copied()),
        );
        v.extend([
            &PASSWORD_IN_CLEAR,
            &MALFORMED,
            &OVERSIZED,
            &ILLEGAL_FUNCTION,
            &EXCEPTION,
            &EXCEPTION_STORM,
            &REQUEST_FLOOD,
            &BAD_CRC,
            &SELECT_BEFORE_OPERATE,
            &SEQUENCE_ANOMALY,
            &NONSTANDARD_PORT,
            &NON_OT_ON_OT_PORT,
            &HOST_SCAN,
            &PORT_SCAN,
            &UNIT_SCAN,
            &SZL_ENUMERATION,
            &NEW_MASTER_WRITE,
            &NEW_TIME_MASTER,
            &IP_CONFLICT,
            &IDENTITY_CHANGED,
            &IO_PRODUCER_MISMATCH,
            &EXCESSIVE_SESSIONS,
            &SYN_FLOOD,
            &CONNECTION_FLOOD,
            &DISTRIBUTED_SCAN,
            &NEW_STREAM,
            &STREAM_CHANGED,
            &PN_DCP_SET,
            &PN_DCP_DISCOVERY,
            &GOOSE_SPOOFING,
            &GOOSE_STATE_JUMP,
            &GOOSE_REPLAY,
            &GOOSE_SILENT,
            &GOOSE_SIMULATION,
            &GOOSE_CONFREV,
            &SV_SPOOFING,
            &SV_DISCONTINUITY,
            &CAPTURE_LOSS,
            &INPUT_SILENT,
            &OVERLOAD,
            &SINK_DEGRADED,
            &BASELINE_SAVE_FAILED,
            &RELOAD_FAILED,
        ]);
        v
    });
    &ALL
}

/// The rule with this id (built in, or a Sigma rule loaded).
pub fn by_id(id: &str) -> Option<&'static Rule> {
    all()
        .iter()
        .copied()
        .find(|r| r.id == id)
        .or_else(|| crate::sigma::by_id(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_every_protocols_rules_once() {
        let ids: Vec<&str> = all().iter().map(|r| r.id).collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "a rule id is listed twice");
        for d in otsensor_protocols::PROTOCOLS {
            for r in d.rules {
                assert_eq!(by_id(r.id), Some(*r), "{} of {}", r.id, d.name);
            }
        }
        assert!(by_id("operational.modbus_listen_only").is_some());
    }
}
