//! The asset inventory: every IP host the sensor has seen, with what it did.
//!
//! Shared by all workers (a [`DashMap`] keyed by IP); workers report each flow when it
//! starts and when it ends, never per packet. What an asset is (its MACs, VLANs, the
//! services it answered on, the application protocols it spoke, traffic volume and when it
//! was seen) is plain data that serializes to JSON and CSV.

use crate::sorted_set::SortedSet;
use std::net::IpAddr;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use crate::clues::{Clues, Pending, PendingKey};
use crate::device_type::DeviceType;
use crate::mac::MacAddr;
use crate::message::{Identity, Message};
use crate::time::Timestamp;
use otsensor_protocols::identity::{DhcpLease, Sighting, Who};
use otsensor_protocols::message::IDENTITY_FIELDS;
use std::sync::Mutex;

/// Most MAC addresses remembered per IP (more means a router or a spoofing storm).
pub const MAX_MACS_PER_ASSET: usize = 16;
/// Most VLAN ids remembered per IP.
pub const MAX_VLANS_PER_ASSET: usize = 16;
/// Most services (transport, port) remembered per IP.
pub const MAX_SERVICES_PER_ASSET: usize = 256;

/// One end of a flow as the sensor saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// IP address.
    pub ip: IpAddr,
    /// Source MAC of this end's frames, when the link layer carries one.
    pub mac: Option<MacAddr>,
    /// Transport port (0 for protocols without ports).
    pub port: u16,
}

/// What a worker reports about a flow, once when it starts and once when it ends.
#[derive(Debug, Clone)]
pub struct FlowObservation<'a> {
    /// The side that opened the flow (sent the SYN, or the first packet).
    pub client: Endpoint,
    /// The side that was contacted.
    pub server: Endpoint,
    /// `tcp`, `udp` or another IP protocol name.
    pub transport: &'a str,
    /// Outer VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// Application protocol identified on the flow, if any.
    pub app_protocol: Option<&'a str>,
    /// First packet of the flow.
    pub first_seen: Timestamp,
    /// Last packet of the flow so far.
    pub last_seen: Timestamp,
    /// Packets client→server and server→client not yet reported.
    pub packets: [u64; 2],
    /// Bytes (on the wire) client→server and server→client not yet reported.
    pub bytes: [u64; 2],
    /// Whether the server sent anything back (a service only counts if it answered).
    pub server_answered: bool,
    /// Zone of the client.
    pub client_zone: Option<&'a str>,
    /// Zone of the server.
    pub server_zone: Option<&'a str>,
    /// True for the report at flow start (counts the flow), false for later reports.
    pub new_flow: bool,
}

/// A service an asset answered on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Service {
    /// `tcp` or `udp`.
    pub transport: String,
    /// Port the asset answered on.
    pub port: u16,
    /// Application protocol identified there, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// Everything known about one IP host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// The host's IP address.
    pub ip: IpAddr,
    /// Source MACs seen on its frames (capped at [`MAX_MACS_PER_ASSET`]).
    pub macs: SortedSet<MacAddr>,
    /// Vendor of its (first) MAC address, from the IEEE OUI registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_vendor: Option<String>,
    /// Zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Roles inferred from traffic (modbus_client, dnp3_outstation, s7_plc,
    /// engineering_station, ...).
    pub roles: SortedSet<String>,
    /// What the device says about itself.
    #[serde(skip_serializing_if = "Identity::is_empty")]
    pub identity: Identity,
    /// The packet each field of `identity` came from (boxed: most hosts say nothing).
    #[serde(skip)]
    identity_at: Option<Box<[u64; IDENTITY_FIELDS]>>,
    /// VLAN ids its traffic was tagged with.
    pub vlans: SortedSet<u16>,
    /// First packet to or from it.
    pub first_seen: Timestamp,
    /// Last packet to or from it (updated when flows end).
    pub last_seen: Timestamp,
    /// Flows it opened.
    pub flows_initiated: u64,
    /// Flows opened towards it.
    pub flows_accepted: u64,
    /// Packets it sent.
    pub packets_sent: u64,
    /// Packets sent to it.
    pub packets_received: u64,
    /// Bytes it sent.
    pub bytes_sent: u64,
    /// Bytes sent to it.
    pub bytes_received: u64,
    /// Services it answered on.
    pub services: SortedSet<Service>,
    /// Application protocols it spoke, as client or server.
    pub protocols: SortedSet<String>,
    /// Zones, other than its own, of clients that opened flows to it (its exposure).
    #[serde(skip_serializing_if = "SortedSet::is_empty")]
    pub peer_zones: SortedSet<String>,
    /// Its names and software, from what the network says about it (boxed: most hosts of
    /// a flood have none).
    #[serde(flatten, default)]
    pub clues: Option<Box<Clues>>,
    /// Its inferred type and why (filled when the inventory is written).
    #[serde(flatten, default)]
    pub device: Option<Box<DeviceType>>,
}

impl Asset {
    fn clues_mut(&mut self) -> &mut Clues {
        self.clues.get_or_insert_with(Box::default)
    }

    fn absorb(&mut self, c: Clues) {
        self.clues_mut().absorb(c);
    }
}

impl Asset {
    fn new(ip: IpAddr, ts: Timestamp) -> Asset {
        Asset {
            ip,
            macs: SortedSet::new(),
            mac_vendor: None,
            zone: None,
            roles: SortedSet::new(),
            identity: Identity::default(),
            identity_at: None,
            vlans: SortedSet::new(),
            first_seen: ts,
            last_seen: ts,
            flows_initiated: 0,
            flows_accepted: 0,
            packets_sent: 0,
            packets_received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            services: SortedSet::new(),
            protocols: SortedSet::new(),
            peer_zones: SortedSet::new(),
            clues: None,
            device: None,
        }
    }
}

/// Most assets an inventory keeps by default.
pub const DEFAULT_MAX_ASSETS: usize = 100_000;

/// The shared inventory, of at most `max` assets: a host first seen when it is full is not
/// added (counted in [`AssetInventory::refused`]), so a flood of spoofed sources costs O(1)
/// per packet and bounded memory.
#[derive(Debug)]
pub struct AssetInventory {
    /// Boxed: the table itself stays small (a look-up of an unknown host, the common case
    /// in a flood, touches only the index), and a resize moves pointers, not assets.
    map: DashMap<IpAddr, Box<Asset>, crate::baseline::Keyed>,
    max: usize,
    size: std::sync::atomic::AtomicUsize,
    refused: std::sync::atomic::AtomicU64,
    /// Sightings of devices not (yet) in the inventory.
    pending: Mutex<Pending>,
    /// Whether `pending` holds anything (read without its lock on every flow report).
    pending_any: std::sync::atomic::AtomicBool,
    /// Addresses DHCP servers leased to each MAC address (at most
    /// [`crate::clues::MAX_PENDING`] MACs): what a client said by MAC goes to them.
    leases: Mutex<std::collections::HashMap<MacAddr, Vec<IpAddr>>>,
}

impl Default for AssetInventory {
    fn default() -> Self {
        AssetInventory::with_cap(DEFAULT_MAX_ASSETS)
    }
}

impl AssetInventory {
    /// An empty inventory of at most `max` assets.
    pub fn with_cap(max: usize) -> AssetInventory {
        AssetInventory {
            map: DashMap::default(),
            max: max.max(1),
            size: std::sync::atomic::AtomicUsize::new(0),
            refused: std::sync::atomic::AtomicU64::new(0),
            pending: Mutex::default(),
            pending_any: std::sync::atomic::AtomicBool::new(false),
            leases: Mutex::default(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes what was said about `key` before the inventory held it.
    fn take_pending(&self, key: &PendingKey) -> Option<Clues> {
        use std::sync::atomic::Ordering::Relaxed;
        if !self.pending_any.load(Relaxed) {
            return None;
        }
        let mut p = self.pending();
        let c = p.take(key);
        self.pending_any.store(!p.is_empty(), Relaxed);
        c
    }

    /// Records what a packet from `sender` says about a device (a name, software): on the
    /// asset when the inventory holds it, else held (bounded) until it appears.
    pub fn observe_sighting(&self, sender: IpAddr, s: &Sighting, ts: Timestamp) {
        let key = match s.who {
            Who::Sender => PendingKey::Ip(sender),
            Who::Addr(ip) => PendingKey::Ip(ip),
            Who::Mac(m) => PendingKey::Mac(MacAddr(m)),
            Who::Device(ip, m) => {
                self.device_at(ip, MacAddr(m), Some(s), ts);
                return;
            }
        };
        if let PendingKey::Ip(ip) = key {
            if let Some(mut a) = self.map.get_mut(&ip) {
                a.clues_mut()
                    .note(s.kind, &s.value, std::borrow::Cow::Borrowed(s.source), ts);
                return;
            }
        }
        let mut p = self.pending();
        p.note(key, s, ts);
        self.pending_any
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// An ARP packet's sender: a local device with this address and MAC (an asset while
    /// the inventory has room, even if it sends nothing but ARP).
    pub fn observe_arp(&self, ip: IpAddr, mac: MacAddr, ts: Timestamp) {
        self.device_at(ip, mac, None, ts);
    }

    /// A local device named by address and MAC (DHCP, LLDP, CDP, ARP): an asset (while the
    /// inventory has room), with the MAC and what was said.
    fn device_at(&self, ip: IpAddr, mac: MacAddr, s: Option<&Sighting>, ts: Timestamp) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut a = match self.map.get_mut(&ip) {
            Some(a) => a,
            None if self.size.load(Relaxed) >= self.max => {
                self.refused.fetch_add(1, Relaxed);
                return;
            }
            None => self.map.entry(ip).or_insert_with(|| {
                self.size.fetch_add(1, Relaxed);
                let mut a = Box::new(Asset::new(ip, ts));
                if let Some(c) = self.take_pending(&PendingKey::Ip(ip)) {
                    a.absorb(c);
                }
                a
            }),
        };
        a.first_seen = a.first_seen.min(ts);
        a.last_seen = a.last_seen.max(ts);
        if !mac.is_multicast() && a.macs.len() < MAX_MACS_PER_ASSET && !a.macs.contains(&mac) {
            a.macs.insert(mac);
            if a.mac_vendor.is_none() {
                a.mac_vendor = crate::oui::vendor(mac).map(str::to_string);
            }
        }
        if let Some(s) = s {
            a.clues_mut()
                .note(s.kind, &s.value, std::borrow::Cow::Borrowed(s.source), ts);
        }
    }

    /// A DHCP server leased `lease.addr` to `lease.mac`: what the client said before it had
    /// an address goes to that address.
    pub fn observe_lease(&self, lease: &DhcpLease) {
        let mut l = self
            .leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mac = MacAddr(lease.mac);
        if l.len() >= crate::clues::MAX_PENDING && !l.contains_key(&mac) {
            return;
        }
        let ips = l.entry(mac).or_default();
        if !ips.contains(&lease.addr) && ips.len() < MAX_MACS_PER_ASSET {
            ips.push(lease.addr);
        }
    }

    /// Devices whose sightings were forgotten before they appeared (the pending table's cap).
    pub fn pending_evicted(&self) -> u64 {
        self.pending().evicted
    }

    /// Sightings of hosts not added because the inventory was full.
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Number of assets.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no asset has been seen.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records one flow report on both of its ends; returns which ends the inventory holds
    /// (client, server).
    pub fn observe_flow(&self, obs: &FlowObservation<'_>) -> [bool; 2] {
        [self.observe_end(obs, true), self.observe_end(obs, false)]
    }

    /// Records a later report of a flow whose first report returned `held`: an end refused
    /// then is refused again without a look-up (hosts are never removed, so a full inventory
    /// stays full), counted as a look-up would count it. Under a flood of new hosts this
    /// halves the work on the shared map.
    pub fn observe_flow_again(&self, obs: &FlowObservation<'_>, held: [bool; 2]) {
        for (is_client, held) in [(true, held[0]), (false, held[1])] {
            if held {
                self.observe_end(obs, is_client);
            } else {
                self.refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Records the report on one end; false when the host was refused (inventory full).
    fn observe_end(&self, obs: &FlowObservation<'_>, is_client: bool) -> bool {
        let (me, idx_out, idx_in) = if is_client {
            (obs.client, 0, 1)
        } else {
            (obs.server, 1, 0)
        };
        use std::sync::atomic::Ordering::Relaxed;
        let mut a = match self.map.get_mut(&me.ip) {
            Some(a) => a,
            None if self.size.load(Relaxed) >= self.max => {
                if self.refused.fetch_add(1, Relaxed) == 0 {
                    tracing::warn!(
                        "The asset inventory is full ({} hosts): new hosts are not added (counted in drops.assets_refused).",
                        self.max
                    );
                }
                return false;
            }
            None => self.map.entry(me.ip).or_insert_with(|| {
                self.size.fetch_add(1, Relaxed);
                let mut a = Box::new(Asset::new(me.ip, obs.first_seen));
                if let Some(c) = self.take_pending(&PendingKey::Ip(me.ip)) {
                    a.absorb(c);
                }
                a
            }),
        };
        a.first_seen = a.first_seen.min(obs.first_seen);
        a.last_seen = a.last_seen.max(obs.last_seen);
        if let Some(mac) = me.mac {
            if !mac.is_multicast() && a.macs.len() < MAX_MACS_PER_ASSET && !a.macs.contains(&mac) {
                a.macs.insert(mac);
                if a.mac_vendor.is_none() {
                    a.mac_vendor = crate::oui::vendor(mac).map(str::to_string);
                }
            }
        }
        let zone = if is_client {
            obs.client_zone
        } else {
            obs.server_zone
        };
        if let (None, Some(z)) = (&a.zone, zone) {
            a.zone = Some(z.to_string());
        }
        if let (false, Some(own), Some(peer)) = (is_client, obs.server_zone, obs.client_zone) {
            if own != peer
                && a.peer_zones.len() < MAX_VLANS_PER_ASSET
                && !a.peer_zones.contains(peer)
            {
                a.peer_zones.insert(peer.to_string());
            }
        }
        if let Some(v) = obs.vlan {
            if a.vlans.len() < MAX_VLANS_PER_ASSET {
                a.vlans.insert(v);
            }
        }
        if obs.new_flow {
            if is_client {
                a.flows_initiated += 1;
            } else {
                a.flows_accepted += 1;
            }
        }
        a.packets_sent += obs.packets[idx_out];
        a.packets_received += obs.packets[idx_in];
        a.bytes_sent += obs.bytes[idx_out];
        a.bytes_received += obs.bytes[idx_in];
        if let Some(p) = obs.app_protocol {
            if !a.protocols.contains(p) {
                a.protocols.insert(p.to_string());
            }
        }
        let offers_service = !is_client
            && obs.server_answered
            && matches!(obs.transport, "tcp" | "udp")
            && me.port != 0;
        if offers_service && a.services.len() < MAX_SERVICES_PER_ASSET {
            let svc = Service {
                transport: obs.transport.to_string(),
                port: me.port,
                protocol: obs.app_protocol.map(str::to_string),
            };
            if svc.protocol.is_some() {
                // A service first seen before its protocol was identified gains the name.
                a.services.remove(&Service {
                    protocol: None,
                    ..svc.clone()
                });
                a.services.insert(svc);
            } else if !a
                .services
                .iter()
                .any(|s| s.transport == svc.transport && s.port == svc.port)
            {
                // ... and a nameless sighting after the named one (flows end in any order
                // across workers) adds nothing.
                a.services.insert(svc);
            }
        }
        true
    }

    /// Records the roles of a client and server of `protocol` (both must have been observed
    /// in a flow already; unknown addresses are ignored).
    pub fn record_roles(&self, client: IpAddr, server: IpAddr, protocol: &str) {
        let (client_role, server_role) = match otsensor_protocols::descriptor(protocol) {
            Some(d) => (d.roles.client, d.roles.server),
            None => (protocol, protocol),
        };
        for (ip, role) in [(client, client_role), (server, server_role)] {
            if let Some(mut a) = self.map.get_mut(&ip) {
                if !a.roles.contains(role) {
                    a.roles.insert(role.to_string());
                }
            }
        }
    }

    /// Marks a client that uploads or downloads programs as an engineering station.
    pub fn record_engineering(&self, client: IpAddr) {
        if let Some(mut a) = self.map.get_mut(&client) {
            if !a.roles.contains("engineering_station") {
                a.roles.insert("engineering_station".to_string());
            }
        }
    }

    /// Merges what a device said about itself in packet `at`: a field keeps the value of
    /// the latest packet that gave one, whichever worker reports first.
    pub fn record_identity(&self, ip: IpAddr, id: &Identity, at: u64) {
        if let Some(mut a) = self.map.get_mut(&ip) {
            let a = &mut *a;
            let stamps = a.identity_at.get_or_insert_with(Box::default);
            a.identity.update_at(id, at, stamps);
        }
    }

    /// A short label for alerts: vendor and model, else roles.
    pub fn label(&self, ip: &IpAddr) -> Option<String> {
        let a = self.map.get(ip)?;
        let id = &a.identity;
        let parts: Vec<&str> = [id.vendor.as_deref(), id.model.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !parts.is_empty() {
            return Some(parts.join(" "));
        }
        if let Some(v) = &a.mac_vendor {
            return Some(v.clone());
        }
        (!a.roles.is_empty()).then(|| a.roles.iter().cloned().collect::<Vec<_>>().join(","))
    }

    /// Devices known only by MAC address, sorted: what was said about a MAC that no asset
    /// of `ip_assets` uses. What was said about one that assets use goes to each of them
    /// (the device's addresses), whichever order the workers saw them in.
    fn snapshot_l2(&self, ip_assets: &mut [Asset]) -> Vec<crate::clues::L2Asset> {
        let held = self.pending().by_mac();
        if held.is_empty() {
            return Vec::new();
        }
        let mut owners: std::collections::HashMap<MacAddr, Vec<usize>> = Default::default();
        let leases = self
            .leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (i, a) in ip_assets.iter().enumerate() {
            if a.ip.is_unspecified() {
                continue;
            }
            for m in a.macs.iter() {
                owners.entry(*m).or_default().push(i);
            }
        }
        // A leased address is the client's, whichever MAC its own packets came from.
        for (mac, ips) in &leases {
            for ip in ips {
                if let Ok(i) = ip_assets.binary_search_by_key(ip, |a| a.ip) {
                    let own = owners.entry(*mac).or_default();
                    if !own.contains(&i) {
                        own.push(i);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (mac, clues) in held {
            match owners.get(&mac).map(Vec::as_slice) {
                // Every address of the device has its names (a router's MAC, behind many
                // addresses, names none of them).
                Some(own) if own.len() < crate::device_type::ROUTER_MIN_ADDRESSES => {
                    for i in own {
                        if let Some(a) = ip_assets.get_mut(*i) {
                            a.absorb(clues.clone());
                        }
                    }
                }
                Some(_) => {}
                None => out.push(crate::clues::L2Asset::new(mac, clues)),
            }
        }
        out.sort_by_key(|a| a.mac);
        out
    }

    /// A copy of every asset, sorted by IP address, with its inferred device type.
    pub fn snapshot(&self) -> Vec<Asset> {
        self.inventory().0
    }

    /// Every asset (sorted by IP address, with its inferred device type) and every device
    /// known only by MAC address (sorted by MAC).
    pub fn inventory(&self) -> (Vec<Asset>, Vec<crate::clues::L2Asset>) {
        let mut v: Vec<Asset> = self.map.iter().map(|e| Asset::clone(e.value())).collect();
        v.sort_by_key(|a| a.ip);
        let mut l2 = self.snapshot_l2(&mut v);
        // Workers report in any order: names and software are listed by first sighting.
        for c in v
            .iter_mut()
            .filter_map(|a| a.clues.as_deref_mut())
            .chain(l2.iter_mut().map(|a| &mut a.clues))
        {
            c.sort();
        }
        let macs = crate::device_type::mac_view(&v);
        for a in &mut v {
            // Reached through a router when every MAC it was seen with is one.
            let behind = if a.macs.is_empty() {
                None
            } else {
                a.macs
                    .iter()
                    .map(|m| macs.routers.get(m).copied())
                    .collect::<Option<Vec<usize>>>()
                    .and_then(|n| n.into_iter().max())
            };
            let mut d = crate::device_type::infer(a, behind);
            let mut linked: Vec<IpAddr> = a
                .macs
                .iter()
                .filter(|_| !a.ip.is_unspecified())
                .filter(|m| !macs.routers.contains_key(m))
                .filter_map(|m| macs.addresses.get(m))
                .flatten()
                .copied()
                .filter(|ip| *ip != a.ip && !ip.is_unspecified())
                .collect();
            linked.sort_unstable();
            linked.dedup();
            linked.truncate(crate::device_type::MAX_LINKED);
            d.linked_addresses = linked;
            a.device = Some(Box::new(d));
        }
        (v, l2)
    }
}

/// The (client, server) of a message: the sender of a request is the client.
pub fn message_ends(m: &Message) -> (IpAddr, IpAddr) {
    match m.direction {
        otsensor_protocols::Direction::Request => (m.src.ip, m.dst.ip),
        otsensor_protocols::Direction::Response => (m.dst.ip, m.src.ip),
    }
}

/// Operations only an engineering station performs.
pub fn is_engineering(op: otsensor_protocols::Operation) -> bool {
    matches!(
        op,
        otsensor_protocols::Operation::ProgramDownload
            | otsensor_protocols::Operation::ProgramUpload
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            mac: Some(MacAddr([0, 1, 2, 3, 4, port as u8])),
            port,
        }
    }

    fn obs<'a>(new_flow: bool, answered: bool, proto: Option<&'a str>) -> FlowObservation<'a> {
        FlowObservation {
            client: ep("10.0.0.1", 40000),
            server: ep("10.0.0.2", 502),
            transport: "tcp",
            vlan: Some(20),
            app_protocol: proto,
            first_seen: Timestamp::from_nanos(10),
            last_seen: Timestamp::from_nanos(20),
            packets: [3, 2],
            bytes: [300, 200],
            server_answered: answered,
            client_zone: Some("cell"),
            server_zone: None,
            new_flow,
        }
    }

    #[test]
    fn flow_reports_accumulate_per_end() {
        let inv = AssetInventory::default();
        inv.observe_flow(&obs(true, false, None));
        inv.observe_flow(&obs(false, true, Some("modbus")));
        let snap = inv.snapshot();
        assert_eq!(snap.len(), 2);
        let (c, s) = (&snap[0], &snap[1]);
        assert_eq!(c.ip.to_string(), "10.0.0.1");
        assert_eq!((c.flows_initiated, c.flows_accepted), (1, 0));
        assert_eq!((s.flows_initiated, s.flows_accepted), (0, 1));
        assert_eq!((c.packets_sent, c.packets_received), (6, 4));
        assert_eq!((s.bytes_sent, s.bytes_received), (400, 600));
        assert!(c.services.is_empty());
        assert_eq!(
            s.services.iter().collect::<Vec<_>>(),
            vec![&Service {
                transport: "tcp".into(),
                port: 502,
                protocol: Some("modbus".into())
            }]
        );
        assert!(s.protocols.contains("modbus"));
        assert_eq!(s.vlans.iter().copied().collect::<Vec<_>>(), vec![20]);
    }

    #[test]
    fn unnamed_service_is_replaced_once_protocol_known() {
        let inv = AssetInventory::default();
        inv.observe_flow(&obs(true, true, None));
        inv.observe_flow(&obs(false, true, Some("modbus")));
        let s = &inv.snapshot()[1];
        assert_eq!(s.services.len(), 1);
    }
}
