//! What the rest of the network says about a device (issue 27): its names and software, each
//! with where and when it was learned, bounded per device; and what was said about devices
//! the inventory does not hold yet (a DNS answer before the first flow to the address, a
//! DHCP client before its lease), held in a bounded table until they show up.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use otsensor_protocols::identity::{Kind, Sighting};

use crate::lru::Lru;
use crate::mac::MacAddr;
use crate::time::Timestamp;

/// Most names, and most software strings, kept per device.
pub const MAX_PER_KIND: usize = 8;
/// Most devices with sightings waiting for the inventory to hold them.
pub const MAX_PENDING: usize = 65_536;

/// One value and where it was learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clue {
    /// The name or product string.
    pub value: String,
    /// Where it was learned (`dhcp.hostname`, `dns`, `nbns`, `http.user_agent`, ...):
    /// borrowed from the reader's names, so no allocation per clue.
    pub source: Cow<'static, str>,
    /// First packet that said it.
    pub first_seen: Timestamp,
    /// Last packet that said it.
    pub last_seen: Timestamp,
}

/// A device's names and software.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clues {
    /// Its names (DHCP, DNS, mDNS, LLMNR, NetBIOS), in the order first seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<Clue>,
    /// Software it runs or announces (HTTP User-Agent and Server, SSH, DHCP vendor class).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub software: Vec<Clue>,
    /// Its DHCP parameter-request list (option codes in order): a fingerprint of its DHCP
    /// client, so of its operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_fingerprint: Option<Clue>,
    /// The other fingerprints it sent (at most [`MAX_PER_KIND`]), each with its times: the
    /// one sent last is the fingerprint, whichever worker reports first.
    #[serde(skip)]
    dhcp_earlier: Vec<Clue>,
    /// Its operating system: as it states it (NTLMSSP version, SMB native OS) or as its
    /// software names it (User-Agent platform, SSH banner, system description, DHCP vendor
    /// class).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os: Vec<Clue>,
    /// Interfaces it announced itself from in LLDP or CDP (port id and description): on a
    /// switch, the ports whose discovery frames the sensor sees, so the ports it mirrors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub l2_ports: Vec<Clue>,
    /// Enabled capabilities it announced in LLDP or CDP (`bridge`, `router`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Clue>,
}

impl Clues {
    /// Notes `value` of `kind` from `source` at `ts`: an existing one is refreshed, a new one
    /// kept while there is room (the first ones stay: a flood of names cannot push out the
    /// device's own).
    pub fn note(&mut self, kind: Kind, value: &str, source: Cow<'static, str>, ts: Timestamp) {
        let list = match kind {
            Kind::Hostname => &mut self.hostnames,
            Kind::Software => &mut self.software,
            Kind::Os => &mut self.os,
            Kind::Port => &mut self.l2_ports,
            Kind::Capability => &mut self.capabilities,
            Kind::DhcpFingerprint => {
                self.note_fingerprint(value, source, ts, ts);
                return;
            }
        };
        if let Some(c) = list
            .iter_mut()
            .find(|c| c.value.eq_ignore_ascii_case(value) && c.source == source)
        {
            c.first_seen = c.first_seen.min(ts);
            c.last_seen = c.last_seen.max(ts);
        } else if list.len() < MAX_PER_KIND {
            // One at a time: most devices have one or two (a first push would make room
            // for four).
            list.reserve_exact(1);
            list.push(clue(value, source, ts));
        }
    }

    /// Takes in everything `other` says.
    pub fn absorb(&mut self, other: Clues) {
        for (kind, list) in [
            (Kind::Hostname, other.hostnames),
            (Kind::Software, other.software),
            (Kind::Os, other.os),
            (Kind::Port, other.l2_ports),
            (Kind::Capability, other.capabilities),
        ] {
            for c in list {
                self.note(kind, &c.value, c.source.clone(), c.first_seen);
                self.note(kind, &c.value, c.source, c.last_seen);
            }
        }
        for c in other.dhcp_fingerprint.into_iter().chain(other.dhcp_earlier) {
            self.note_fingerprint(&c.value, c.source, c.first_seen, c.last_seen);
        }
    }

    /// Notes a DHCP fingerprint sent from `first` to `last`. A changed fingerprint takes over
    /// (the device's stack changed): the one sent last (then the greater) is the device's,
    /// so the result does not depend on the order workers report in.
    fn note_fingerprint(
        &mut self,
        value: &str,
        source: Cow<'static, str>,
        first: Timestamp,
        last: Timestamp,
    ) {
        let known = self
            .dhcp_fingerprint
            .iter_mut()
            .chain(self.dhcp_earlier.iter_mut())
            .find(|c| c.value == value);
        match known {
            Some(c) => {
                c.first_seen = c.first_seen.min(first);
                c.last_seen = c.last_seen.max(last);
            }
            None => {
                let c = Clue {
                    last_seen: last,
                    ..clue(value, source, first)
                };
                match &self.dhcp_fingerprint {
                    None => self.dhcp_fingerprint = Some(c),
                    Some(_) if self.dhcp_earlier.len() < MAX_PER_KIND => self.dhcp_earlier.push(c),
                    Some(_) => {}
                }
            }
        }
        let Some(cur) = self.dhcp_fingerprint.as_mut() else {
            return;
        };
        let latest = self
            .dhcp_earlier
            .iter_mut()
            .max_by(|a, b| (a.last_seen, &a.value).cmp(&(b.last_seen, &b.value)));
        if let Some(e) = latest {
            if (e.last_seen, &e.value) > (cur.last_seen, &cur.value) {
                std::mem::swap(cur, e);
            }
        }
    }

    /// Orders names and software by first sighting (then value and source): the same
    /// listing whatever order the workers reported them in.
    pub fn sort(&mut self) {
        for list in [
            &mut self.hostnames,
            &mut self.software,
            &mut self.os,
            &mut self.l2_ports,
            &mut self.capabilities,
        ] {
            list.sort_by(|a, b| {
                (a.first_seen, &a.value, &a.source).cmp(&(b.first_seen, &b.value, &b.source))
            });
        }
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.hostnames.is_empty()
            && self.software.is_empty()
            && self.dhcp_fingerprint.is_none()
            && self.os.is_empty()
            && self.l2_ports.is_empty()
            && self.capabilities.is_empty()
    }
}

fn clue(value: &str, source: Cow<'static, str>, ts: Timestamp) -> Clue {
    Clue {
        value: value.to_string(),
        source,
        first_seen: ts,
        last_seen: ts,
    }
}

/// A device the inventory does not hold yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PendingKey {
    /// By address.
    Ip(IpAddr),
    /// By MAC address.
    Mac(MacAddr),
}

/// Sightings waiting for their device, at most [`MAX_PENDING`] devices (least recently
/// named forgotten first).
#[derive(Debug)]
pub struct Pending {
    map: Lru<PendingKey, Clues>,
    /// Devices forgotten at the cap.
    pub evicted: u64,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            map: Lru::new(MAX_PENDING),
            evicted: 0,
        }
    }
}

impl Pending {
    /// Holds a sighting for `key`.
    pub fn note(&mut self, key: PendingKey, s: &Sighting, ts: Timestamp) {
        let (c, ev) = self.map.entry(key, ts.as_nanos(), Clues::default);
        c.note(s.kind, &s.value, Cow::Borrowed(s.source), ts);
        self.evicted += u64::from(ev.is_some());
    }

    /// Takes what is held for `key`.
    pub fn take(&mut self, key: &PendingKey) -> Option<Clues> {
        self.map.remove(key)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// What is held for devices known only by MAC address.
    pub fn by_mac(&self) -> Vec<(MacAddr, Clues)> {
        self.map
            .iter()
            .filter_map(|(k, c)| match k {
                PendingKey::Mac(m) => Some((*m, c.clone())),
                PendingKey::Ip(_) => None,
            })
            .collect()
    }
}

/// A device known only at layer 2 (by its MAC address): named by LLDP or CDP without a
/// management address, or a DHCP client that got no lease in the capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct L2Asset {
    /// Its MAC address (the asset's key).
    pub mac: MacAddr,
    /// Vendor of the MAC address, from the IEEE OUI registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_vendor: Option<String>,
    /// First frame that named it.
    pub first_seen: Timestamp,
    /// Last frame that named it.
    pub last_seen: Timestamp,
    /// Its names and software.
    #[serde(flatten)]
    pub clues: Clues,
    /// `switch`, `router` or `unknown`, from its capabilities and description.
    pub device_type: String,
    /// Why: the reasons, strongest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_type_reasons: Vec<String>,
}

impl L2Asset {
    /// The device `mac` from what was said about it.
    pub fn new(mac: MacAddr, clues: Clues) -> L2Asset {
        let all = || {
            clues
                .hostnames
                .iter()
                .chain(&clues.software)
                .chain(&clues.os)
                .chain(&clues.l2_ports)
                .chain(&clues.capabilities)
                .chain(&clues.dhcp_fingerprint)
        };
        let mut reasons = Vec::new();
        let t = crate::device_type::network_device(&clues, &mut reasons).unwrap_or("unknown");
        L2Asset {
            mac,
            device_type: t.to_string(),
            device_type_reasons: reasons,
            mac_vendor: crate::oui::vendor(mac).map(str::to_string),
            first_seen: all().map(|c| c.first_seen).min().unwrap_or_default(),
            last_seen: all().map(|c| c.last_seen).max().unwrap_or_default(),
            clues,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(n: i64) -> Timestamp {
        Timestamp::from_nanos(n)
    }

    #[test]
    fn names_are_refreshed_and_bounded() {
        let mut c = Clues::default();
        c.note(Kind::Hostname, "EWS01", "nbns".into(), ts(5));
        c.note(Kind::Hostname, "ews01", "nbns".into(), ts(9));
        c.note(Kind::Hostname, "ews01", "dhcp.hostname".into(), ts(3));
        assert_eq!(c.hostnames.len(), 2);
        assert_eq!(
            (c.hostnames[0].first_seen, c.hostnames[0].last_seen),
            (ts(5), ts(9))
        );
        for i in 0..20 {
            c.note(Kind::Hostname, &format!("n{i}"), "dns".into(), ts(10));
        }
        assert_eq!(c.hostnames.len(), MAX_PER_KIND);
        assert_eq!(c.hostnames[0].value, "EWS01");
        c.note(Kind::DhcpFingerprint, "1,3,6", "dhcp.prl".into(), ts(1));
        c.note(Kind::DhcpFingerprint, "1,3,6,15", "dhcp.prl".into(), ts(2));
        assert_eq!(c.dhcp_fingerprint.as_ref().unwrap().value, "1,3,6,15");
    }

    proptest::proptest! {
        /// Two workers report a device's DHCP fingerprints in any interleaving, or each into
        /// its own record that is then absorbed: the one sent last is the device's, with the
        /// times of that fingerprint's own packets.
        #[test]
        fn the_fingerprint_does_not_depend_on_report_order(
            sent in proptest::collection::vec((0u8..3, 0i64..50), 1..12),
            order in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 12),
            split in 0usize..12,
        ) {
            let name = |v: u8| format!("1,3,{v}");
            let (mut a, mut b) = (Clues::default(), Clues::default());
            let mut shuffled = sent.clone();
            for (i, ix) in order.iter().enumerate().take(shuffled.len()) {
                let j = ix.index(shuffled.len());
                shuffled.swap(i, j);
            }
            for (i, (v, t)) in shuffled.iter().enumerate() {
                let c = if i < split { &mut a } else { &mut b };
                c.note(Kind::DhcpFingerprint, &name(*v), "dhcp.prl".into(), ts(*t));
            }
            let mut one = Clues::default();
            for (v, t) in &shuffled {
                one.note(Kind::DhcpFingerprint, &name(*v), "dhcp.prl".into(), ts(*t));
            }
            a.absorb(b);
            let (v, t) = sent.iter().copied().max_by_key(|&(v, t)| (t, name(v))).unwrap();
            let first = sent.iter().filter(|s| s.0 == v).map(|s| s.1).min().unwrap();
            for c in [&a, &one] {
                let f = c.dhcp_fingerprint.as_ref().unwrap();
                proptest::prop_assert_eq!(&f.value, &name(v));
                proptest::prop_assert_eq!((f.first_seen, f.last_seen), (ts(first), ts(t)));
            }
        }
    }

    #[test]
    fn pending_devices_are_bounded() {
        let mut p = Pending::default();
        let s = Sighting {
            who: otsensor_protocols::identity::Who::Sender,
            kind: Kind::Hostname,
            value: "x".into(),
            source: "dns",
        };
        for i in 0..(MAX_PENDING as u32 + 10) {
            p.note(
                PendingKey::Ip(IpAddr::from(i.to_be_bytes())),
                &s,
                ts(i64::from(i)),
            );
        }
        assert_eq!(p.evicted, 10);
        assert!(p
            .take(&PendingKey::Ip(IpAddr::from([0, 0, 0, 0])))
            .is_none());
        assert!(p
            .take(&PendingKey::Ip(IpAddr::from(
                (MAX_PENDING as u32).to_be_bytes()
            )))
            .is_some());
    }
}
