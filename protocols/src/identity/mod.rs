//! Who a device is, from what the rest of the network says about it: names (DHCP, DNS, mDNS,
//! LLMNR, NetBIOS name service, SNMP sysName, LLDP system name, CDP device id) and software
//! (HTTP User-Agent and Server, SSH banners, SNMP sysDescr, LLDP system description, CDP
//! software version and platform, DHCP vendor class and parameter-request list).
//!
//! Small, bounded readers of the fields that name a device, not full dissectors: each takes
//! one datagram or the first payload of one direction of a connection and returns
//! [`Sighting`]s (at most [`MAX_SIGHTINGS`] per packet, values at most [`MAX_VALUE`] bytes).
//! Which device a sighting belongs to is [`Who`]: the sender, an address the packet names
//! (a DNS answer, a DHCP lease) or a MAC address (a DHCP client without an address yet).

mod dhcp;
mod dns;
mod l2;
mod ntlm;
mod os;
mod snmp;
mod text;

use std::net::IpAddr;

use crate::applabel::App;

pub use dhcp::{dhcp, DhcpLease};
pub use dns::{dns_answers, nbns};
pub use l2::{arp, l2_frame, ArpClaim};
pub use ntlm::{ntlmssp, smb_native_os};
pub use os::os_of_software;
pub use snmp::snmp;
pub use text::{http_headers, ssh_banner};

/// Most sightings taken from one packet.
pub const MAX_SIGHTINGS: usize = 16;
/// Longest value kept (longer ones are cut at a character boundary).
pub const MAX_VALUE: usize = 128;

/// What a sighting says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A name of the device.
    Hostname,
    /// Software it runs (a product and version string).
    Software,
    /// A DHCP fingerprint: its parameter-request list, option codes in order.
    DhcpFingerprint,
    /// Its operating system, as it states it (NTLMSSP version, SMB native OS) or as its
    /// software names it (a User-Agent's platform, an SSH banner's distribution, a sysDescr).
    Os,
    /// An interface it announced itself from (LLDP port id and description, CDP port id):
    /// on a switch, the ports whose discovery frames the sensor sees.
    Port,
    /// What it says it is in LLDP or CDP capabilities (`bridge`, `router`, `telephone`,
    /// `wlan_access_point`, `station`, `host`, ...), enabled ones only.
    Capability,
}

/// Which device a sighting belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// The packet's sender.
    Sender,
    /// The device with this address.
    Addr(IpAddr),
    /// The device with this MAC address (no address known yet).
    Mac([u8; 6]),
    /// The device with this address and MAC address, as a DHCP exchange names it: a local
    /// device, whether or not the capture shows its own packets (a relayed DHCP client).
    Device(IpAddr, [u8; 6]),
}

/// One thing a packet says about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// Which device.
    pub who: Who,
    /// What it says.
    pub kind: Kind,
    /// The value (a name, a product string).
    pub value: String,
    /// Where it was learned: `dhcp.hostname`, `dns.a`, `nbns`, `http.user_agent`, ...
    pub source: &'static str,
}

impl Sighting {
    fn new(who: Who, kind: Kind, value: &str, source: &'static str) -> Option<Sighting> {
        let value = clean(value)?;
        Some(Sighting {
            who,
            kind,
            value,
            source,
        })
    }
}

/// A value as kept: printable, trimmed, at most [`MAX_VALUE`] bytes; `None` when empty.
fn clean(s: &str) -> Option<String> {
    let t: String = s
        .trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '.')
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if t.is_empty() {
        return None;
    }
    let mut end = t.len().min(MAX_VALUE);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    Some(t[..end].to_string())
}

/// Which reader a flow's label calls for, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// DNS answers.
    Dns,
    /// Multicast DNS answers.
    Mdns,
    /// LLMNR answers.
    Llmnr,
    /// NetBIOS name service.
    Nbns,
    /// DHCP.
    Dhcp,
    /// SNMP responses (sysName, sysDescr).
    Snmp,
    /// SMB session setups (NTLMSSP's OS version).
    Smb,
    /// HTTP request and response headers.
    Http,
    /// SSH banners.
    Ssh,
}

impl Reader {
    /// The reader for an application label, with the flow's server port (NetBIOS's name
    /// service is port 137; its datagram and session services name nobody).
    pub fn for_app(app: App, server_port: u16) -> Option<Reader> {
        Some(match app {
            App::Dns => Reader::Dns,
            App::Mdns => Reader::Mdns,
            App::Llmnr => Reader::Llmnr,
            App::Netbios if server_port == 137 => Reader::Nbns,
            App::Dhcp => Reader::Dhcp,
            App::Snmp => Reader::Snmp,
            App::Smb => Reader::Smb,
            App::Http => Reader::Http,
            App::Ssh => Reader::Ssh,
            _ => return None,
        })
    }

    /// Reads one datagram or payload; `from_client` tells a request from a response. A
    /// DHCP acknowledgement returns the lease it gives.
    pub fn read(
        self,
        from_client: bool,
        data: &[u8],
        out: &mut Vec<Sighting>,
    ) -> Option<DhcpLease> {
        let mut lease = None;
        let start = out.len();
        match self {
            Reader::Dns => dns_answers(data, "dns", out),
            Reader::Mdns => dns_answers(data, "mdns", out),
            Reader::Llmnr => dns_answers(data, "llmnr", out),
            Reader::Nbns => nbns(data, out),
            Reader::Dhcp => lease = dhcp(data, out),
            Reader::Snmp => snmp(data, out),
            Reader::Smb => {
                ntlmssp(data, out);
                smb_native_os(data, out);
            }
            Reader::Http => http_headers(from_client, data, out),
            Reader::Ssh => ssh_banner(data, out),
        }
        os::add_os_hints(out, start);
        out.truncate(MAX_SIGHTINGS);
        lease
    }

    /// Whether every packet is read (datagram protocols), or only the first payload of
    /// each direction (a connection's headers or banner).
    pub fn every_packet(self) -> bool {
        !matches!(self, Reader::Http | Reader::Ssh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cleaned_and_bounded() {
        assert_eq!(clean("  host.example.  ").as_deref(), Some("host.example"));
        assert_eq!(clean("a\u{7}b").as_deref(), Some("ab"));
        assert_eq!(clean(" \0 "), None);
        let long = "é".repeat(100);
        let c = clean(&long).unwrap();
        assert!(c.len() <= MAX_VALUE && c.chars().all(|x| x == 'é'));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut out = Vec::new();
            l2_frame(&d, &mut out);
            proptest::prop_assert!(out.len() <= MAX_SIGHTINGS);
            out.clear();
            for r in [Reader::Dns, Reader::Mdns, Reader::Nbns, Reader::Dhcp, Reader::Snmp, Reader::Smb, Reader::Http, Reader::Ssh] {
                r.read(true, &d, &mut out);
                r.read(false, &d, &mut out);
                proptest::prop_assert!(out.len() <= MAX_SIGHTINGS);
                proptest::prop_assert!(out.iter().all(|s| s.value.len() <= MAX_VALUE && !s.value.is_empty()));
                out.clear();
            }
        }
    }
}
