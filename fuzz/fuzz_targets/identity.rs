//! Any bytes never panic the readers of names and software (DNS family, NetBIOS, DHCP,
//! SNMP, SMB, HTTP, SSH, LLDP/CDP and ARP frames), and what they return stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsensor_protocols::identity::{Reader, MAX_SIGHTINGS, MAX_VALUE};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    otsensor_protocols::identity::l2_frame(data, &mut out);
    assert!(out.len() <= MAX_SIGHTINGS);
    out.clear();
    if let Some(c) = otsensor_protocols::identity::arp(data) {
        assert!(!c.ip.is_unspecified() && c.mac[0] & 1 == 0);
    }
    for r in [
        Reader::Dns,
        Reader::Mdns,
        Reader::Llmnr,
        Reader::Nbns,
        Reader::Dhcp,
        Reader::Snmp,
        Reader::Smb,
        Reader::Http,
        Reader::Ssh,
    ] {
        for from_client in [true, false] {
            r.read(from_client, data, &mut out);
            assert!(out.len() <= MAX_SIGHTINGS);
            assert!(out.iter().all(|s| !s.value.is_empty() && s.value.len() <= MAX_VALUE));
            out.clear();
        }
    }
});
