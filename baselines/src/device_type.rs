//! What kind of device an asset is (PLC, HMI, engineering workstation, IED, switch, router,
//! printer, server, workstation), inferred from its roles in industrial traffic, the
//! services it answers on and what it says about itself, with the reasons. Inferred when
//! the inventory is written, not stored: it always reflects everything known.

use serde::{Deserialize, Serialize};

use crate::assets::Asset;
use crate::clues::Clues;

/// An asset's inferred type and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceType {
    /// `plc`, `ied`, `hmi`, `engineering_workstation`, `switch`, `router`, `printer`,
    /// `server`, `workstation` or `unknown`.
    pub device_type: String,
    /// Why: the reasons, strongest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_type_reasons: Vec<String>,
    /// Addresses behind the asset's MAC when it is a router's (the asset is reached through
    /// it, not the router itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind_router: Option<usize>,
    /// The device's other addresses: those seen with the same MAC (not a router's), at most
    /// [`MAX_LINKED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_addresses: Vec<std::net::IpAddr>,
    /// What a risk score weighs, from what was seen (absent when nothing was).
    #[serde(default, skip_serializing_if = "RiskInputs::is_empty")]
    pub risk_inputs: RiskInputs,
}

/// What a risk score weighs about a device, each from observed traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskInputs {
    /// Remote access it answered on (`rdp/tcp/3389`, `ssh/tcp/22`, `vnc`, `telnet`,
    /// `teamviewer`): a way in from outside its zone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_access: Vec<String>,
    /// Cleartext management it answered on (`telnet`, `ftp`, `http`, `snmp`):
    /// credentials and configuration readable on the wire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleartext_management: Vec<String>,
    /// It programs controllers (uploads or downloads): what it runs matters most.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub engineering_station: bool,
    /// Operating systems it runs that their vendor no longer supports (Windows XP, 7,
    /// Server 2003/2008, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported_os: Vec<String>,
}

impl RiskInputs {
    /// Whether nothing weighs.
    pub fn is_empty(&self) -> bool {
        self.remote_access.is_empty()
            && self.cleartext_management.is_empty()
            && !self.engineering_station
            && self.unsupported_os.is_empty()
    }
}

/// Labels of cleartext management protocols.
const CLEARTEXT_MANAGEMENT: &[&str] = &["telnet", "ftp", "http", "snmp"];
/// Words of operating systems out of their vendor's support (lower case).
const UNSUPPORTED_OS: &[&str] = &[
    "windows xp",
    "windows 2000",
    "windows vista",
    "windows 7",
    "windows 8",
    "windows nt 4",
    "windows 5.",
    "windows 6.0",
    "windows 6.1",
    "windows 6.2",
    "windows 6.3",
    "windows server 2003",
    "windows server 2008",
];

/// The risk inputs of `a`, from the services it answered on, its roles and its OS.
pub fn risk_inputs(a: &Asset) -> RiskInputs {
    use otsensor_protocols::applabel::App;
    let mut r = RiskInputs {
        engineering_station: a.roles.contains("engineering_station"),
        ..RiskInputs::default()
    };
    for s in a.services.iter() {
        let Some(p) = s.protocol.as_deref() else {
            continue;
        };
        let name = format!("{p}/{}/{}", s.transport, s.port);
        if App::from_name(p).is_some_and(App::is_remote_access) {
            r.remote_access.push(name.clone());
        }
        if CLEARTEXT_MANAGEMENT.contains(&p) {
            r.cleartext_management.push(name);
        }
    }
    if let Some(c) = a.clues.as_deref() {
        for os in &c.os {
            let low = os.value.to_ascii_lowercase();
            if UNSUPPORTED_OS.iter().any(|w| low.starts_with(w))
                && !r.unsupported_os.contains(&os.value)
            {
                r.unsupported_os.push(os.value.clone());
            }
        }
    }
    r
}

/// Most linked addresses listed.
pub const MAX_LINKED: usize = 8;

/// Keywords of a switch's and a router's SNMP sysDescr (lower case).
const SWITCH_WORDS: &[&str] = &[
    "switch",
    "scalance x",
    "catalyst",
    "procurve",
    "hirschmann",
    "stratix",
    "moxa eds",
    "ruggedcom rs",
];
const ROUTER_WORDS: &[&str] = &[
    "router",
    "scalance m",
    "routeros",
    "ios software",
    "ruggedcom rx",
];
/// Roles of a host that polls controllers.
const CLIENT_ROLES: [&str; 6] = [
    "s7_client",
    "modbus_client",
    "cip_scanner",
    "dnp3_master",
    "iec104_master",
    "mms_client",
];
/// Ports of databases and process historians (SQL Server, Oracle, MySQL, PostgreSQL,
/// OSIsoft PI's data archive and its API ports).
const HISTORIAN_PORTS: &[u16] = &[1433, 1521, 3306, 5432, 5450, 5457, 5459];
/// Ports printers answer on: raw (JetDirect), LPD, IPP.
const PRINTER_PORTS: &[u16] = &[9100, 515, 631];
/// Ports of the services a server offers (directory, file, web, database, mail, DNS).
const SERVER_PORTS: &[u16] = &[
    53, 80, 88, 389, 443, 445, 636, 1433, 1521, 3306, 5432, 25, 143, 993, 8080,
];

/// A switch or router by what a device says of itself: LLDP/CDP capabilities first, then
/// the words of its system description; the reason is added to `reasons`.
pub fn network_device(c: &Clues, reasons: &mut Vec<String>) -> Option<&'static str> {
    let cap = |names: &[&str]| {
        c.capabilities
            .iter()
            .find(|x| names.contains(&x.value.as_str()))
            .map(|x| format!("announces the {} capability ({})", x.value, x.source))
    };
    if let Some(r) = cap(&["bridge", "switch"]) {
        reasons.push(r);
        return Some("switch");
    }
    if let Some(r) = cap(&["router"]) {
        reasons.push(r);
        return Some("router");
    }
    let said = |words: &[&str]| {
        c.software
            .iter()
            .map(|s| s.value.to_ascii_lowercase())
            .find(|s| words.iter().any(|w| s.contains(w)))
    };
    if let Some(s) = said(SWITCH_WORDS) {
        reasons.push(format!("describes itself as a switch: {s}"));
        return Some("switch");
    }
    if let Some(s) = said(ROUTER_WORDS) {
        reasons.push(format!("describes itself as a router: {s}"));
        return Some("router");
    }
    None
}

/// Infers the type of `a`; `behind` is how many addresses share its MAC when that MAC is
/// a router's (see [`mac_view`]).
pub fn infer(a: &Asset, behind: Option<usize>) -> DeviceType {
    let mut reasons = Vec::new();
    let role = |r: &str| a.roles.contains(r);
    let software: Vec<String> = a
        .clues
        .as_deref()
        .map(|c| {
            c.software
                .iter()
                .chain(&c.os)
                .map(|s| s.value.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let answers = |ports: &[u16]| -> Vec<u16> {
        a.services
            .iter()
            .filter(|s| ports.contains(&s.port))
            .map(|s| s.port)
            .collect()
    };
    let t = if let Some(r) = ["s7_plc", "modbus_server", "cip_adapter"]
        .into_iter()
        .find(|r| role(r))
    {
        reasons.push(format!("answers industrial requests as a controller ({r})"));
        if a.identity.vendor.is_some() || a.identity.model.is_some() {
            reasons.push("gave its identity over an industrial protocol".into());
        }
        "plc"
    } else if let Some(r) = ["dnp3_outstation", "iec104_outstation", "mms_server"]
        .into_iter()
        .find(|r| role(r))
    {
        reasons.push(format!(
            "answers telecontrol requests as an outstation ({r})"
        ));
        "ied"
    } else if role("engineering_station") {
        reasons.push("uploads or downloads controller programs (engineering_station)".into());
        "engineering_workstation"
    } else if let (Some(r), ports @ [_, ..]) = (
        CLIENT_ROLES.into_iter().find(|r| role(r)),
        answers(HISTORIAN_PORTS).as_slice(),
    ) {
        reasons.push(format!(
            "polls controllers ({r}) and answers on database or historian ports {ports:?}"
        ));
        "historian"
    } else if let Some(r) = CLIENT_ROLES.into_iter().find(|r| role(r)) {
        reasons.push(format!("polls controllers ({r})"));
        "hmi"
    } else if let Some(t) = a
        .clues
        .as_deref()
        .and_then(|c| network_device(c, &mut reasons))
    {
        t
    } else if let ports @ [_, ..] = answers(PRINTER_PORTS).as_slice() {
        reasons.push(format!("answers on printer ports {ports:?}"));
        "printer"
    } else if let ports @ [_, ..] = answers(SERVER_PORTS).as_slice() {
        reasons.push(format!("answers on server ports {ports:?}"));
        "server"
    } else if let Some(s) = software
        .iter()
        .find(|s| s.starts_with("mozilla/") || s.starts_with("msft ") || s.contains("windows"))
    {
        reasons.push(format!("a desktop's software: {s}"));
        "workstation"
    } else {
        "unknown"
    };
    if let Some(n) = behind {
        reasons.push(format!(
            "reached through a router: its MAC is seen behind {n} addresses"
        ));
    }
    DeviceType {
        device_type: t.to_string(),
        device_type_reasons: reasons,
        behind_router: behind,
        linked_addresses: Vec::new(),
        risk_inputs: risk_inputs(a),
    }
}

/// Fewest addresses, in as many /24 networks, behind one MAC for it to be a router's.
pub const ROUTER_MIN_ADDRESSES: usize = 4;
/// Fewest /24 networks those addresses span.
pub const ROUTER_MIN_NETWORKS: usize = 3;

/// An address a device may hold on a link (not unspecified, link-local or a group).
fn counts(ip: &std::net::IpAddr) -> Option<[u8; 3]> {
    match ip {
        std::net::IpAddr::V4(v)
            if !(v.is_unspecified()
                || v.is_link_local()
                || v.is_multicast()
                || v.is_broadcast()
                || v.is_loopback()) =>
        {
            let [a, b, c, _] = v.octets();
            Some([a, b, c])
        }
        _ => None,
    }
}

/// What the MAC addresses of the inventory say: the routers' (seen behind at least
/// [`ROUTER_MIN_ADDRESSES`] IPv4 addresses in [`ROUTER_MIN_NETWORKS`] /24 networks, with the
/// count), and for every other MAC the addresses that share it (one device's interfaces,
/// its DHCP and link-local addresses).
pub struct MacView {
    /// Router MACs and the addresses behind each.
    pub routers: std::collections::HashMap<crate::mac::MacAddr, usize>,
    /// Addresses per MAC.
    pub addresses: std::collections::HashMap<crate::mac::MacAddr, Vec<std::net::IpAddr>>,
}

/// Reads the MACs of `assets`.
pub fn mac_view(assets: &[Asset]) -> MacView {
    let mut addresses: std::collections::HashMap<crate::mac::MacAddr, Vec<std::net::IpAddr>> =
        Default::default();
    // The unspecified address (a DHCP client's, a DAD probe's) is nobody's.
    for a in assets.iter().filter(|a| !a.ip.is_unspecified()) {
        for m in a.macs.iter() {
            addresses.entry(*m).or_default().push(a.ip);
        }
    }
    let routers = addresses
        .iter()
        .filter_map(|(m, ips)| {
            let routable: Vec<[u8; 3]> = ips.iter().filter_map(counts).collect();
            let mut nets = routable.clone();
            nets.sort_unstable();
            nets.dedup();
            (routable.len() >= ROUTER_MIN_ADDRESSES && nets.len() >= ROUTER_MIN_NETWORKS)
                .then_some((*m, routable.len()))
        })
        .collect();
    MacView { routers, addresses }
}

#[cfg(test)]
mod tests {
    use crate::assets::{AssetInventory, Endpoint, FlowObservation};
    use crate::mac::MacAddr;
    use crate::time::Timestamp;

    /// A TCP flow the server answered, with MACs (`0` for none) and an application label.
    fn observed(
        inv: &AssetInventory,
        client: (&str, u8),
        server: (&str, u8, u16),
        label: Option<&str>,
    ) {
        let ep = |ip: &str, mac: u8, port| Endpoint {
            ip: ip.parse().unwrap(),
            mac: (mac != 0).then_some(MacAddr([2, 0, 0, 0, 0, mac])),
            port,
        };
        inv.observe_flow(&FlowObservation {
            client: ep(client.0, client.1, 40000),
            server: ep(server.0, server.1, server.2),
            transport: "tcp",
            vlan: None,
            app_protocol: label,
            first_seen: Timestamp::from_nanos(1),
            last_seen: Timestamp::from_nanos(2),
            packets: [1, 1],
            bytes: [60, 60],
            server_answered: true,
            client_zone: None,
            server_zone: None,
            new_flow: true,
        });
    }

    /// The inferred type of the asset `ip` in an inventory's snapshot.
    fn device_of<'a>(snap: &'a [crate::assets::Asset], ip: &str) -> &'a super::DeviceType {
        snap.iter()
            .find(|a| a.ip.to_string() == ip)
            .and_then(|a| a.device.as_deref())
            .unwrap()
    }

    fn flow(inv: &AssetInventory, client: (&str, u8), server: (&str, u8, u16)) {
        observed(inv, client, server, None);
    }

    #[test]
    fn roles_services_and_macs_give_the_type() {
        let inv = AssetInventory::default();
        flow(&inv, ("10.0.0.10", 10), ("10.0.0.20", 20, 102));
        inv.record_roles(
            "10.0.0.10".parse().unwrap(),
            "10.0.0.20".parse().unwrap(),
            "s7comm",
        );
        flow(&inv, ("10.0.0.10", 10), ("10.0.0.30", 30, 9100));
        // A router: its MAC (99) behind addresses of four networks.
        for net in 1..=4 {
            flow(&inv, ("10.0.0.10", 10), (&format!("8.8.{net}.8"), 99, 443));
        }
        // One device, two addresses (99 is the router's; 40 is its own).
        flow(&inv, ("10.0.0.40", 40), ("10.0.0.20", 20, 102));
        flow(&inv, ("10.0.1.40", 40), ("10.0.0.20", 20, 102));
        let snap = inv.snapshot();
        let get = |ip: &str| device_of(&snap, ip);
        assert_eq!(get("10.0.0.20").device_type, "plc");
        assert_eq!(get("10.0.0.10").device_type, "hmi");
        assert_eq!(get("10.0.0.30").device_type, "printer");
        assert_eq!(get("8.8.1.8").behind_router, Some(4));
        assert!(get("8.8.1.8").linked_addresses.is_empty());
        assert_eq!(
            get("10.0.0.40").linked_addresses,
            vec!["10.0.1.40".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(get("10.0.0.40").behind_router, None);
    }

    fn with_label(inv: &AssetInventory, client: &str, server: (&str, u16), label: &str) {
        observed(inv, (client, 0), (server.0, 0, server.1), Some(label));
    }

    fn said(inv: &AssetInventory, ip: &str, kind: Kind, value: &str, source: &'static str) {
        let s = Sighting {
            who: Who::Sender,
            kind,
            value: value.into(),
            source,
        };
        inv.observe_sighting(ip.parse().unwrap(), &s, Timestamp::from_nanos(3));
    }

    use otsensor_protocols::identity::{Kind, Sighting, Who};

    #[test]
    fn historians_capabilities_and_risk_inputs() {
        let inv = AssetInventory::default();
        // A historian: polls a PLC over Modbus and answers SQL Server.
        with_label(&inv, "10.0.0.5", ("10.0.0.20", 502), "modbus");
        inv.record_roles(
            "10.0.0.5".parse().unwrap(),
            "10.0.0.20".parse().unwrap(),
            "modbus",
        );
        with_label(&inv, "10.0.9.9", ("10.0.0.5", 1433), "tds");
        // A switch by its LLDP capability, answering Telnet and HTTP.
        with_label(&inv, "10.0.9.9", ("10.0.0.2", 23), "telnet");
        with_label(&inv, "10.0.9.9", ("10.0.0.2", 80), "http");
        said(
            &inv,
            "10.0.0.2",
            Kind::Capability,
            "bridge",
            "lldp.capabilities",
        );
        // An engineering station on Windows 7 answering RDP.
        with_label(&inv, "10.0.9.9", ("10.0.0.7", 3389), "rdp");
        inv.record_engineering("10.0.0.7".parse().unwrap());
        said(&inv, "10.0.0.7", Kind::Os, "Windows 7", "http.user_agent");
        let snap = inv.snapshot();
        let get = |ip: &str| device_of(&snap, ip);
        assert_eq!(get("10.0.0.5").device_type, "historian");
        let sw = get("10.0.0.2");
        assert_eq!(sw.device_type, "switch");
        assert_eq!(
            sw.risk_inputs.cleartext_management,
            ["telnet/tcp/23", "http/tcp/80"]
        );
        assert!(sw
            .risk_inputs
            .remote_access
            .contains(&"telnet/tcp/23".to_string()));
        let es = &get("10.0.0.7").risk_inputs;
        assert_eq!(es.remote_access, ["rdp/tcp/3389"]);
        assert!(es.engineering_station);
        assert_eq!(es.unsupported_os, ["Windows 7"]);
        assert!(get("10.0.9.9").risk_inputs.is_empty());
    }
}
