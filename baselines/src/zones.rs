//! Zones (IEC 62443): named sets of hosts by CIDR, VLAN or capture interface, with a Purdue
//! level, and the conduits that allow traffic between them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use otsensor_protocols::Operation;

/// A CIDR block, `10.1.2.0/24` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Prefix length in bits.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn bits(ip: IpAddr) -> (u128, u8) {
        match ip {
            IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    }

    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let (a, _) = Cidr::bits(self.addr);
        let (b, _) = Cidr::bits(ip);
        // IPv4 sits in the top 32 of the 128 bits, so the prefix counts from the top for both.
        let p = u32::from(self.prefix);
        if p == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - p.min(128));
        a & mask == b & mask
    }
}

/// The text is not a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR {0:?}: expected address/prefix like 10.1.2.0/24")]
pub struct ParseCidrError(String);

impl FromStr for Cidr {
    type Err = ParseCidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseCidrError(s.to_string());
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.trim().parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.trim().parse::<u8>().map_err(|_| err())?
        };
        if prefix > max {
            return Err(err());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A Purdue model level: 0–5, or the IT/DMZ layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purdue {
    /// Levels 0 (process) to 5 (enterprise).
    Level(u8),
    /// The industrial DMZ (3.5).
    Dmz,
    /// Enterprise IT.
    It,
}

impl Serialize for Purdue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Purdue::Level(n) => s.serialize_u8(*n),
            Purdue::Dmz => s.serialize_str("dmz"),
            Purdue::It => s.serialize_str("it"),
        }
    }
}

impl<'de> Deserialize<'de> for Purdue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(i64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) if (0..=5).contains(&n) => Ok(Purdue::Level(n as u8)),
            Raw::S(s) if s.eq_ignore_ascii_case("dmz") => Ok(Purdue::Dmz),
            Raw::S(s) if s.eq_ignore_ascii_case("it") => Ok(Purdue::It),
            _ => Err(serde::de::Error::custom(
                "purdue must be 0..5, \"dmz\" or \"it\"",
            )),
        }
    }
}

/// One zone of the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Zone name (used by conduits, alerts and the baseline).
    pub name: String,
    /// Address blocks in the zone; the longest matching prefix over all zones wins.
    #[serde(default)]
    pub cidrs: Vec<Cidr>,
    /// MAC addresses of devices in the zone (hosts not matched by any CIDR; devices without
    /// an address, such as GOOSE publishers). List a device's own MAC, never a router's:
    /// every address routed through it would follow.
    #[serde(default)]
    pub macs: Vec<crate::mac::MacAddr>,
    /// VLAN ids in the zone (hosts not matched by any CIDR or MAC).
    #[serde(default)]
    pub vlans: Vec<u16>,
    /// Capture interfaces whose traffic is in the zone (hosts not matched by CIDR or VLAN).
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Purdue level.
    #[serde(default)]
    pub purdue: Option<Purdue>,
}

/// One conduit: traffic initiated from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConduitConfig {
    /// Zone the flows start in.
    pub from: String,
    /// Zone the flows go to.
    pub to: String,
    /// Protocols allowed (`modbus`, `dnp3`, `s7comm`, `s7comm_plus`, ...).
    pub protocols: Vec<String>,
    /// Operations allowed; absent means every operation of those protocols. `session` is
    /// always allowed when the protocol is.
    #[serde(default)]
    pub operations: Option<Vec<Operation>>,
    /// Server ports allowed whatever the flow's application label (`tcp/8080`, `udp/161`,
    /// `tcp/49152-65535`): flows only, not the operations of parsed protocols.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortRange>,
}

/// A transport and a range of server ports: `tcp/8080`, `udp/161`, `tcp/49152-65535`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// IP protocol number (6 TCP, 17 UDP).
    pub proto: u8,
    /// First port.
    pub lo: u16,
    /// Last port (inclusive).
    pub hi: u16,
}

impl PortRange {
    /// Whether a flow of IP protocol `proto` to server port `port` is in the range.
    pub fn contains(&self, proto: u8, port: u16) -> bool {
        self.proto == proto && (self.lo..=self.hi).contains(&port)
    }
}

/// The text is not a port range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid port {0:?}: expected tcp/PORT, udp/PORT or tcp/FIRST-LAST")]
pub struct ParsePortError(String);

impl FromStr for PortRange {
    type Err = ParsePortError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParsePortError(s.to_string());
        let (t, p) = s.split_once('/').ok_or_else(err)?;
        let proto = match t.trim() {
            "tcp" => 6,
            "udp" => 17,
            _ => return Err(err()),
        };
        let (lo, hi) = p.split_once('-').unwrap_or((p, p));
        let lo: u16 = lo.trim().parse().map_err(|_| err())?;
        let hi: u16 = hi.trim().parse().map_err(|_| err())?;
        if lo > hi {
            return Err(err());
        }
        Ok(PortRange { proto, lo, hi })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = if self.proto == 6 { "tcp" } else { "udp" };
        if self.lo == self.hi {
            write!(f, "{t}/{}", self.lo)
        } else {
            write!(f, "{t}/{}-{}", self.lo, self.hi)
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Why a flow between zones is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// No conduit from the source zone to the destination zone.
    NoConduit,
    /// Conduits exist, but none lists this protocol.
    ProtocolNotAllowed,
    /// The protocol is allowed, but not this operation.
    OperationNotAllowed,
}

/// Zones and conduits, compiled for lookups.
#[derive(Debug, Clone, Default)]
pub struct ZoneMap {
    zones: Vec<ZoneConfig>,
    cidrs: Vec<(Cidr, u16)>,
    conduits: Vec<ConduitConfig>,
    default_zone: String,
    /// The zone of each listed MAC.
    macs: std::collections::HashMap<crate::mac::MacAddr, u16>,
    /// The zone names shared (alert endpoints carry them without copying), by zone id; the
    /// default zone's last.
    shared: Vec<std::sync::Arc<str>>,
}

/// The zone of each MAC the zones list (the first zone listing it, as a scan in order would
/// find; `config check` refuses a MAC in two zones).
fn zone_of_macs(zones: &[ZoneConfig]) -> std::collections::HashMap<crate::mac::MacAddr, u16> {
    let mut m = std::collections::HashMap::new();
    for (i, z) in zones.iter().enumerate() {
        for mac in &z.macs {
            m.entry(*mac).or_insert(i as u16);
        }
    }
    m
}

/// A zone index from [`ZoneMap::lookup`]; `u16::MAX` is the default zone.
pub type ZoneId = u16;

impl ZoneMap {
    /// Builds the map. `default_zone` names where unmatched hosts go.
    pub fn new(
        zones: Vec<ZoneConfig>,
        conduits: Vec<ConduitConfig>,
        default_zone: &str,
    ) -> ZoneMap {
        let mut cidrs: Vec<(Cidr, u16)> = zones
            .iter()
            .enumerate()
            .flat_map(|(i, z)| z.cidrs.iter().map(move |c| (*c, i as u16)))
            .collect();
        // Longest prefix first.
        cidrs.sort_by_key(|c| std::cmp::Reverse(c.0.prefix()));
        let shared = zones
            .iter()
            .map(|z| std::sync::Arc::from(z.name.as_str()))
            .chain([std::sync::Arc::from(default_zone)])
            .collect();
        ZoneMap {
            macs: zone_of_macs(&zones),
            zones,
            cidrs,
            conduits,
            default_zone: default_zone.to_string(),
            shared,
        }
    }

    /// True when no zone is configured (everything is in the default zone).
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The zone of a host: longest-prefix CIDR match, else its MAC, else VLAN, else capture
    /// interface, else the default zone.
    pub fn lookup(&self, ip: IpAddr, vlan: Option<u16>, iface: Option<&str>) -> ZoneId {
        self.lookup_device(ip, None, vlan, iface)
    }

    /// [`ZoneMap::lookup`] for a host whose frames come from `mac`.
    pub fn lookup_device(
        &self,
        ip: IpAddr,
        mac: Option<crate::mac::MacAddr>,
        vlan: Option<u16>,
        iface: Option<&str>,
    ) -> ZoneId {
        if let Some((_, z)) = self.cidrs.iter().find(|(c, _)| c.contains(ip)) {
            return *z;
        }
        self.lookup_l2(mac, vlan, iface)
    }

    /// The zone of a device known by its MAC only (a GOOSE or SV publisher), or of a frame
    /// to a group address: its MAC, else VLAN, else capture interface, else the default zone.
    pub fn lookup_l2(
        &self,
        mac: Option<crate::mac::MacAddr>,
        vlan: Option<u16>,
        iface: Option<&str>,
    ) -> ZoneId {
        if let Some(z) = mac
            .filter(|_| !self.macs.is_empty())
            .and_then(|m| self.macs.get(&m))
        {
            return *z;
        }
        if let Some(v) = vlan {
            if let Some(i) = self.zones.iter().position(|z| z.vlans.contains(&v)) {
                return i as u16;
            }
        }
        if let Some(f) = iface {
            if let Some(i) = self
                .zones
                .iter()
                .position(|z| z.interfaces.iter().any(|x| x == f))
            {
                return i as u16;
            }
        }
        ZoneId::MAX
    }

    /// A zone's name.
    pub fn name(&self, z: ZoneId) -> &str {
        self.zones
            .get(usize::from(z))
            .map_or(&self.default_zone, |z| &z.name)
    }

    /// A zone's name, shared.
    pub fn shared_name(&self, z: ZoneId) -> std::sync::Arc<str> {
        let i = usize::from(z);
        let shared = if i < self.zones.len() {
            self.shared.get(i)
        } else {
            self.shared.last()
        };
        shared
            .cloned()
            .unwrap_or_else(|| std::sync::Arc::from(self.name(z)))
    }

    /// A zone's Purdue level.
    pub fn purdue(&self, z: ZoneId) -> Option<Purdue> {
        self.zones.get(usize::from(z)).and_then(|z| z.purdue)
    }

    /// Checks a message of `protocol`/`operation` on a flow initiated in zone `from` towards
    /// zone `to`. Traffic inside one zone is always allowed.
    pub fn check(
        &self,
        from: ZoneId,
        to: ZoneId,
        protocol: &str,
        op: Operation,
    ) -> Option<Violation> {
        if from == to || self.zones.is_empty() {
            return None;
        }
        let (f, t) = (self.name(from), self.name(to));
        let mut any = false;
        let mut proto = false;
        for c in self.conduits.iter().filter(|c| c.from == f && c.to == t) {
            any = true;
            if !c.protocols.iter().any(|p| p == protocol) {
                continue;
            }
            proto = true;
            if op == Operation::Session || c.operations.as_ref().is_none_or(|ops| ops.contains(&op))
            {
                return None;
            }
        }
        Some(if !any {
            Violation::NoConduit
        } else if !proto {
            Violation::ProtocolNotAllowed
        } else {
            Violation::OperationNotAllowed
        })
    }

    /// Checks a flow labelled `label` (an application label or a parsed protocol's name),
    /// of IP protocol `proto` to server port `port`, initiated in zone `from` towards zone
    /// `to`: a conduit must list the label or the port. Traffic inside one zone is allowed.
    pub fn check_flow(
        &self,
        from: ZoneId,
        to: ZoneId,
        label: &str,
        proto: u8,
        port: u16,
    ) -> Option<Violation> {
        if from == to || self.zones.is_empty() {
            return None;
        }
        let (f, t) = (self.name(from), self.name(to));
        let mut any = false;
        for c in self.conduits.iter().filter(|c| c.from == f && c.to == t) {
            any = true;
            if c.protocols.iter().any(|p| p == label)
                || c.ports.iter().any(|r| r.contains(proto, port))
            {
                return None;
            }
        }
        Some(if any {
            Violation::ProtocolNotAllowed
        } else {
            Violation::NoConduit
        })
    }

    /// Whether a conduit from `from` to `to` lists `label` by name (not by port).
    pub fn conduit_lists(&self, from: ZoneId, to: ZoneId, label: &str) -> bool {
        let (f, t) = (self.name(from), self.name(to));
        self.conduits
            .iter()
            .any(|c| c.from == f && c.to == t && c.protocols.iter().any(|p| p == label))
    }

    /// Whether `z` is the default zone (hosts in no configured zone).
    pub fn is_default(&self, z: ZoneId) -> bool {
        usize::from(z) >= self.zones.len()
    }

    /// The configured zones.
    pub fn zones(&self) -> &[ZoneConfig] {
        &self.zones
    }

    /// Name of the default zone.
    pub fn default_zone(&self) -> &str {
        &self.default_zone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ZoneMap {
        let z = |name: &str, cidr: &str| ZoneConfig {
            name: name.into(),
            cidrs: vec![cidr.parse().unwrap()],
            macs: vec![],
            vlans: vec![],
            interfaces: vec![],
            purdue: Some(Purdue::Level(2)),
        };
        ZoneMap::new(
            vec![
                z("plant", "10.0.0.0/8"),
                z("cell", "10.1.2.0/24"),
                z("hmi", "10.1.2.10/32"),
            ],
            vec![ConduitConfig {
                from: "hmi".into(),
                to: "cell".into(),
                protocols: vec!["modbus".into()],
                operations: Some(vec![Operation::Read]),
                ports: vec![],
            }],
            "unzoned",
        )
    }

    #[test]
    fn longest_prefix_wins() {
        let m = map();
        let n = |ip: &str| {
            m.name(m.lookup(ip.parse().unwrap(), None, None))
                .to_string()
        };
        assert_eq!(n("10.1.2.10"), "hmi");
        assert_eq!(n("10.1.2.11"), "cell");
        assert_eq!(n("10.9.9.9"), "plant");
        assert_eq!(n("192.168.0.1"), "unzoned");
    }

    #[test]
    fn a_listed_mac_places_a_host_no_cidr_holds() {
        let ied: crate::mac::MacAddr = "00:a0:f4:08:2f:77".parse().unwrap();
        let mut zones = vec![ZoneConfig {
            name: "bay".into(),
            cidrs: vec![],
            macs: vec![ied],
            vlans: vec![7],
            interfaces: vec![],
            purdue: Some(Purdue::Level(1)),
        }];
        zones.push(ZoneConfig {
            name: "plant".into(),
            cidrs: vec!["10.0.0.0/8".parse().unwrap()],
            macs: vec![],
            vlans: vec![],
            interfaces: vec![],
            purdue: None,
        });
        let m = ZoneMap::new(zones, vec![], "unzoned");
        let n = |ip: &str, mac, vlan| {
            m.name(m.lookup_device(ip.parse().unwrap(), mac, vlan, None))
                .to_string()
        };
        // CIDR first, then the MAC, then the VLAN.
        assert_eq!(n("10.1.1.1", Some(ied), None), "plant");
        assert_eq!(n("192.168.5.5", Some(ied), None), "bay");
        assert_eq!(n("192.168.5.5", None, None), "unzoned");
        assert_eq!(n("192.168.5.6", None, Some(7)), "bay");
    }

    #[test]
    fn conduits_check_protocol_and_operation() {
        let m = map();
        let z = |ip: &str| m.lookup(ip.parse().unwrap(), None, None);
        let (hmi, cell, plant) = (z("10.1.2.10"), z("10.1.2.11"), z("10.9.9.9"));
        assert_eq!(m.check(hmi, cell, "modbus", Operation::Read), None);
        assert_eq!(m.check(hmi, cell, "modbus", Operation::Session), None);
        assert_eq!(
            m.check(hmi, cell, "modbus", Operation::Write),
            Some(Violation::OperationNotAllowed)
        );
        assert_eq!(
            m.check(hmi, cell, "s7comm", Operation::Read),
            Some(Violation::ProtocolNotAllowed)
        );
        assert_eq!(
            m.check(cell, hmi, "modbus", Operation::Read),
            Some(Violation::NoConduit)
        );
        assert_eq!(m.check(plant, plant, "dnp3", Operation::Write), None);
    }

    #[test]
    fn flows_need_a_conduit_listing_their_label_or_port() {
        let mut m = map();
        m.conduits.push(ConduitConfig {
            from: "hmi".into(),
            to: "cell".into(),
            protocols: vec!["http".into()],
            operations: None,
            ports: vec![
                "udp/161".parse().unwrap(),
                "tcp/49152-65535".parse().unwrap(),
            ],
        });
        let z = |ip: &str| m.lookup(ip.parse().unwrap(), None, None);
        let (hmi, cell, other) = (z("10.1.2.10"), z("10.1.2.11"), z("192.168.1.1"));
        assert_eq!(m.check_flow(hmi, cell, "http", 6, 8080), None);
        assert_eq!(m.check_flow(hmi, cell, "modbus", 6, 502), None);
        assert_eq!(m.check_flow(hmi, cell, "snmp", 17, 161), None);
        assert_eq!(m.check_flow(hmi, cell, "unknown", 6, 50000), None);
        assert_eq!(
            m.check_flow(hmi, cell, "smb", 6, 445),
            Some(Violation::ProtocolNotAllowed)
        );
        assert_eq!(
            m.check_flow(hmi, cell, "snmp", 6, 161),
            Some(Violation::ProtocolNotAllowed)
        );
        assert_eq!(
            m.check_flow(cell, hmi, "http", 6, 80),
            Some(Violation::NoConduit)
        );
        assert_eq!(m.check_flow(cell, cell, "rdp", 6, 3389), None);
        assert!(m.is_default(other) && !m.is_default(cell));
        assert!(m.conduit_lists(hmi, cell, "http") && !m.conduit_lists(hmi, cell, "snmp"));
    }

    #[test]
    fn port_ranges_parse_and_print() {
        for ok in ["tcp/8080", "udp/161", "tcp/49152-65535"] {
            assert_eq!(ok.parse::<PortRange>().unwrap().to_string(), ok);
        }
        for bad in ["8080", "sctp/1", "tcp/70000", "tcp/9-1", "tcp/", "udp/a"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cidr_parsing() {
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("fd00::/8"
            .parse::<Cidr>()
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        assert!(!"fd00::/8"
            .parse::<Cidr>()
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
        assert!("0.0.0.0/0"
            .parse::<Cidr>()
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
    }
}
