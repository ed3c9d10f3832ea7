//! The normalized message: one application PDU, protocol-independent, as everything after
//! the parsers (baselines, detection, events) sees it.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Serialize;

use crate::{Direction, Operation};

use crate::mac::MacAddr;
use crate::time::Timestamp;

/// One end of the flow a message travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// IP address.
    #[serde(serialize_with = "ip_text")]
    pub ip: IpAddr,
    /// Transport port.
    pub port: u16,
    /// Ethernet address of this end's frames, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
}

/// An IP address as text; IPv4 digit by digit (the address of every event line, twice),
/// IPv6 as the standard library writes it.
fn ip_text<S: serde::Serializer>(ip: &IpAddr, s: S) -> Result<S::Ok, S::Error> {
    let IpAddr::V4(v4) = ip else {
        return ip.serialize(s);
    };
    let mut b = [0u8; 15];
    let mut n = 0;
    for (i, o) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            if let Some(c) = b.get_mut(n) {
                *c = b'.';
            }
            n += 1;
        }
        let digits = [o / 100, (o / 10) % 10, o % 10];
        let skip = if o >= 100 {
            0
        } else if o >= 10 {
            1
        } else {
            2
        };
        for d in digits.into_iter().skip(skip) {
            if let Some(c) = b.get_mut(n) {
                *c = b'0' + d;
            }
            n += 1;
        }
    }
    match b.get(..n).map(std::str::from_utf8) {
        Some(Ok(text)) => s.serialize_str(text),
        _ => ip.serialize(s),
    }
}

/// A range of addresses a message reads or writes, in one protocol area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressRange {
    /// The area: `coils`, `holding_registers`, `g30v1`, `DB12`, ...
    pub area: Cow<'static, str>,
    /// First address.
    pub start: u32,
    /// Number of addresses (bits, registers, points or bytes, as the area counts).
    pub count: u32,
}

/// The request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RequestRef {
    /// When the request was captured.
    pub ts: Timestamp,
    /// Microseconds from request to response.
    pub latency_us: i64,
}

/// What a device says about itself (Modbus Read Device Identification, S7 SZL answers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct Identity {
    /// Vendor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model or product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Order number / product code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    /// Firmware or revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Hardware version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware: Option<String>,
    /// Device or system name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Serial number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

impl Identity {
    /// Fills fields missing here from `o`, and replaces present ones with `o`'s newer values.
    pub fn update(&mut self, o: &Identity) {
        for (mine, theirs) in [
            (&mut self.vendor, &o.vendor),
            (&mut self.model, &o.model),
            (&mut self.order_number, &o.order_number),
            (&mut self.firmware, &o.firmware),
            (&mut self.hardware, &o.hardware),
            (&mut self.name, &o.name),
            (&mut self.serial, &o.serial),
        ] {
            if let Some(v) = theirs.as_ref().filter(|v| !v.is_empty()) {
                *mine = Some(v.clone());
            }
        }
    }

    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == Identity::default()
    }
}

/// A normalized application PDU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Capture time of the packet that completed the PDU.
    pub ts: Timestamp,
    /// `modbus`, `dnp3`, `s7comm`, `s7comm_plus`, ...
    pub protocol: &'static str,
    /// Request (from the flow's initiator) or response.
    pub direction: Direction,
    /// Flow id (index of the flow's first packet in the input).
    pub flow_id: u64,
    /// Number of the packet that completed the PDU, counting from 1 over all inputs (for a
    /// single file, Wireshark's frame number).
    pub packet: u64,
    /// Sender.
    pub src: Peer,
    /// Receiver.
    pub dst: Peer,
    /// The protocol's function code, raw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_code: Option<u16>,
    /// The function's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<Cow<'static, str>>,
    /// The protocol's sub-function, raw (Modbus diagnostic sub-function, MEI type or UMAS
    /// function; S7 SZL id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_function: Option<u16>,
    /// The sub-function's name (for S7 PI services and PLC stop, the service name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_function_name: Option<Cow<'static, str>>,
    /// What the PDU does.
    pub operation: Operation,
    /// Modbus unit id, DNP3 destination address, S7 rack/slot as rack × 32 + slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<u32>,
    /// Address ranges read or written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<AddressRange>,
    /// Exception or error code of a failed request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_code: Option<u16>,
    /// The exception's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<&'static str>,
    /// Out-of-specification conditions the parser found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<&'static str>,
    /// For a response, its request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestRef>,
    /// What the sender says about itself, when the PDU carries identification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// IPv4 digit by digit, IPv6 and MAC addresses: what `Display` writes.
        #[test]
        fn addresses_as_display_writes_them(v4 in any::<u32>(), v6 in any::<u128>(), mac in any::<[u8; 6]>()) {
            for ip in [IpAddr::from(std::net::Ipv4Addr::from(v4)), IpAddr::from(std::net::Ipv6Addr::from(v6))] {
                let p = Peer { ip, port: 1, mac: Some(MacAddr(mac)) };
                let json = serde_json::to_string(&p).unwrap();
                prop_assert_eq!(json, format!("{{\"ip\":\"{ip}\",\"port\":1,\"mac\":\"{}\"}}", MacAddr(mac)));
            }
        }
    }
}
