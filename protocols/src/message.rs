//! The normalized message: one application PDU, protocol-independent, as everything after
//! the parsers (baselines, detection, events) sees it.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Serialize;

use crate::{Direction, Operation};

use crate::mac::MacAddr;
use crate::record::{Fields, Picked};
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

/// An IPv4 address as text, digit by digit: (bytes, length).
fn ipv4_text(v4: std::net::Ipv4Addr) -> ([u8; 15], usize) {
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
    (b, n)
}

/// An IP address as text; IPv4 digit by digit (the address of every event line, twice),
/// IPv6 as the standard library writes it.
fn ip_text<S: serde::Serializer>(ip: &IpAddr, s: S) -> Result<S::Ok, S::Error> {
    let IpAddr::V4(v4) = ip else {
        return ip.serialize(s);
    };
    if !s.is_human_readable() {
        // Its octets (a record's key encoding).
        return ip.serialize(s);
    }
    let (b, n) = ipv4_text(*v4);
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
    /// Application software version, as the device states it (BACnet
    /// application-software-version, OPC UA BuildInfo SoftwareVersion and BuildNumber).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// The device's number in its protocol, with the protocol's vendor number where it
    /// gives one (BACnet I-Am: `bacnet device 1234, vendor 260`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// Number of fields of an [`Identity`].
pub const IDENTITY_FIELDS: usize = 9;

impl Identity {
    /// Each field here with the same field of `o`.
    fn pairs<'a>(
        &'a mut self,
        o: &'a Identity,
    ) -> [(&'a mut Option<String>, &'a Option<String>); IDENTITY_FIELDS] {
        [
            (&mut self.vendor, &o.vendor),
            (&mut self.model, &o.model),
            (&mut self.order_number, &o.order_number),
            (&mut self.firmware, &o.firmware),
            (&mut self.hardware, &o.hardware),
            (&mut self.name, &o.name),
            (&mut self.serial, &o.serial),
            (&mut self.software_version, &o.software_version),
            (&mut self.device_id, &o.device_id),
        ]
    }

    /// Fills fields missing here from `o`, and replaces present ones with `o`'s newer values.
    pub fn update(&mut self, o: &Identity) {
        for (mine, theirs) in self.pairs(o) {
            if let Some(v) = theirs.as_ref().filter(|v| !v.is_empty()) {
                *mine = Some(v.clone());
            }
        }
    }

    /// [`Identity::update`] with `o` carried by packet `at`, where `stamps` holds the packet
    /// each field's value came from: a field takes `o`'s value only if `at` is not older, so
    /// the outcome is the same whatever order the sightings are reported in (workers report
    /// concurrently).
    pub fn update_at(&mut self, o: &Identity, at: u64, stamps: &mut [u64; IDENTITY_FIELDS]) {
        for ((mine, theirs), stamp) in self.pairs(o).into_iter().zip(stamps.iter_mut()) {
            if let Some(v) = theirs.as_ref().filter(|v| !v.is_empty()) {
                if at >= *stamp {
                    *mine = Some(v.clone());
                    *stamp = at;
                }
            }
        }
    }

    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == Identity::default()
    }
}

/// Picks field `i` when present.
fn some<T: Serialize + ?Sized>(
    out: &mut Picked,
    i: usize,
    v: Option<&T>,
    below: Option<&[String]>,
) -> serde_json::Result<()> {
    match v {
        // As the option it is (the key encoding marks it), as serde's walk gives it.
        Some(_) => out.push_below(i, &v, below),
        None => Ok(()),
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
    /// The cyclic (implicit) I/O connection the PDU opens or carries, for the pairing of a
    /// connection's data with the exchange that opened it (another flow). Not in the event:
    /// the protocol's own fields show it there.
    #[serde(skip)]
    pub io: Option<IoLink>,
}

/// A cyclic (implicit) I/O connection, as one PDU shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoLink {
    /// The connection was opened (an EtherNet/IP Forward Open answered with success, sent by
    /// the target to the originator): the ids the data of each direction will carry.
    Opened {
        /// Originator to target (the target consumes it).
        o_t: u32,
        /// Target to originator (the originator consumes it).
        t_o: u32,
    },
    /// The first datagram of connection `id` on its flow, from the message's `src` (the
    /// producer) to its `dst` (the consumer).
    Data {
        /// Connection id.
        id: u32,
    },
}

impl Message {
    /// The names of the fields its `Serialize` writes (when present), in its order.
    pub const FIELDS: [&'static str; 19] = [
        "ts",
        "protocol",
        "direction",
        "flow_id",
        "packet",
        "src",
        "dst",
        "function_code",
        "function",
        "sub_function",
        "sub_function_name",
        "operation",
        "unit",
        "addresses",
        "exception_code",
        "exception",
        "flags",
        "request",
        "identity",
    ];

    /// Picks the fields named in `fields` — what [`crate::record::pick_fields`] picks of
    /// it, in the names' order — by name rather than by walking all nineteen: a Sigma rule
    /// set names a few, and every event of its protocols is read for them.
    pub fn pick(&self, fields: &Fields, out: &mut Picked) -> serde_json::Result<()> {
        for (i, field) in fields.message_fields() {
            let below = fields.below(i);
            // By position in FIELDS.
            match field {
                0 => out.push_below(i, &self.ts, below)?,
                1 => out.push_below(i, self.protocol, below)?,
                2 => out.push_below(i, &self.direction, below)?,
                3 => out.push_below(i, &self.flow_id, below)?,
                4 => out.push_below(i, &self.packet, below)?,
                5 => out.push_below(i, &self.src, below)?,
                6 => out.push_below(i, &self.dst, below)?,
                7 => some(out, i, self.function_code.as_ref(), below)?,
                8 => some(out, i, self.function.as_deref(), below)?,
                9 => some(out, i, self.sub_function.as_ref(), below)?,
                10 => some(out, i, self.sub_function_name.as_deref(), below)?,
                11 => out.push_below(i, &self.operation, below)?,
                12 => some(out, i, self.unit.as_ref(), below)?,
                13 if !self.addresses.is_empty() => out.push_below(i, &self.addresses, below)?,
                14 => some(out, i, self.exception_code.as_ref(), below)?,
                15 => some(out, i, self.exception, below)?,
                16 if !self.flags.is_empty() => out.push_below(i, &self.flags, below)?,
                17 => some(out, i, self.request.as_ref(), below)?,
                18 => some(out, i, self.identity.as_ref(), below)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes the message as its JSON object — byte for byte what its `Serialize` writes —
    /// without going through serde for the envelope: keys are constants, numbers written with
    /// `itoa`, times and addresses digit by digit; strings are still escaped by serde_json.
    /// Every event line starts with this, so it is the hot path of `--events`.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let mut num = itoa::Buffer::new();
        out.extend_from_slice(b"{\"ts\":");
        write_ts(out, self.ts)?;
        out.extend_from_slice(b",\"protocol\":");
        serde_json::to_writer(&mut *out, self.protocol)?;
        out.extend_from_slice(b",\"direction\":");
        serde_json::to_writer(&mut *out, &self.direction)?;
        out.extend_from_slice(b",\"flow_id\":");
        out.extend_from_slice(num.format(self.flow_id).as_bytes());
        out.extend_from_slice(b",\"packet\":");
        out.extend_from_slice(num.format(self.packet).as_bytes());
        out.extend_from_slice(b",\"src\":");
        write_peer(out, &self.src)?;
        out.extend_from_slice(b",\"dst\":");
        write_peer(out, &self.dst)?;
        if let Some(c) = self.function_code {
            out.extend_from_slice(b",\"function_code\":");
            out.extend_from_slice(num.format(c).as_bytes());
        }
        if let Some(f) = &self.function {
            out.extend_from_slice(b",\"function\":");
            serde_json::to_writer(&mut *out, f.as_ref())?;
        }
        if let Some(c) = self.sub_function {
            out.extend_from_slice(b",\"sub_function\":");
            out.extend_from_slice(num.format(c).as_bytes());
        }
        if let Some(f) = &self.sub_function_name {
            out.extend_from_slice(b",\"sub_function_name\":");
            serde_json::to_writer(&mut *out, f.as_ref())?;
        }
        out.extend_from_slice(b",\"operation\":");
        serde_json::to_writer(&mut *out, &self.operation)?;
        if let Some(u) = self.unit {
            out.extend_from_slice(b",\"unit\":");
            out.extend_from_slice(num.format(u).as_bytes());
        }
        if !self.addresses.is_empty() {
            out.extend_from_slice(b",\"addresses\":[");
            for (i, a) in self.addresses.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"area\":");
                serde_json::to_writer(&mut *out, a.area.as_ref())?;
                out.extend_from_slice(b",\"start\":");
                out.extend_from_slice(num.format(a.start).as_bytes());
                out.extend_from_slice(b",\"count\":");
                out.extend_from_slice(num.format(a.count).as_bytes());
                out.push(b'}');
            }
            out.push(b']');
        }
        if let Some(c) = self.exception_code {
            out.extend_from_slice(b",\"exception_code\":");
            out.extend_from_slice(num.format(c).as_bytes());
        }
        if let Some(e) = self.exception {
            out.extend_from_slice(b",\"exception\":");
            serde_json::to_writer(&mut *out, e)?;
        }
        if !self.flags.is_empty() {
            out.extend_from_slice(b",\"flags\":");
            serde_json::to_writer(&mut *out, &self.flags)?;
        }
        if let Some(r) = &self.request {
            out.extend_from_slice(b",\"request\":{\"ts\":");
            write_ts(out, r.ts)?;
            out.extend_from_slice(b",\"latency_us\":");
            out.extend_from_slice(num.format(r.latency_us).as_bytes());
            out.push(b'}');
        }
        if let Some(i) = &self.identity {
            out.extend_from_slice(b",\"identity\":");
            serde_json::to_writer(&mut *out, i)?;
        }
        out.push(b'}');
        Ok(())
    }
}

fn write_ts(out: &mut Vec<u8>, ts: Timestamp) -> serde_json::Result<()> {
    match ts.rfc3339() {
        Some(b) => {
            out.push(b'"');
            out.extend_from_slice(&b);
            out.push(b'"');
            Ok(())
        }
        None => serde_json::to_writer(&mut *out, &ts),
    }
}

fn write_peer(out: &mut Vec<u8>, p: &Peer) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"ip\":");
    match p.ip {
        IpAddr::V4(v4) => {
            let (b, n) = ipv4_text(v4);
            out.push(b'"');
            out.extend_from_slice(b.get(..n).unwrap_or_default());
            out.push(b'"');
        }
        IpAddr::V6(_) => serde_json::to_writer(&mut *out, &p.ip)?,
    }
    out.extend_from_slice(b",\"port\":");
    out.extend_from_slice(itoa::Buffer::new().format(p.port).as_bytes());
    if let Some(m) = p.mac {
        out.extend_from_slice(b",\"mac\":\"");
        out.extend_from_slice(&m.text());
        out.push(b'"');
    }
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full(function: &str, v6: bool, times: (i64, i64)) -> Message {
        let ip = |last: u8| -> IpAddr {
            if v6 {
                IpAddr::from(std::net::Ipv6Addr::new(
                    0xfe80,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    u16::from(last),
                ))
            } else {
                IpAddr::from([10, 0, 0, last])
            }
        };
        Message {
            ts: Timestamp::from_nanos(times.0),
            protocol: "modbus",
            direction: Direction::Response,
            flow_id: u64::MAX,
            packet: 7,
            src: Peer {
                ip: ip(2),
                port: 502,
                mac: Some(MacAddr([0, 0x1b, 0xab, 0xcd, 0xef, 0xff])),
            },
            dst: Peer {
                ip: ip(1),
                port: 40000,
                mac: None,
            },
            function_code: Some(65535),
            function: Some(Cow::Owned(function.to_string())),
            sub_function: Some(0),
            sub_function_name: Some(Cow::Borrowed("sub \"quoted\"")),
            operation: Operation::ProgramDownload,
            unit: Some(u32::MAX),
            addresses: vec![
                AddressRange {
                    area: Cow::Borrowed("holding_registers"),
                    start: 0,
                    count: 125,
                },
                AddressRange {
                    area: Cow::Owned("DB12\n".into()),
                    start: u32::MAX,
                    count: 1,
                },
            ],
            exception_code: Some(2),
            exception: Some("illegal_data_address"),
            flags: vec!["unpaired_response", "request_flood"],
            request: Some(RequestRef {
                ts: Timestamp::from_nanos(times.1),
                latency_us: -5,
            }),
            identity: Some(Identity {
                vendor: Some("Schneider".into()),
                serial: Some("é\u{1}".into()),
                ..Identity::default()
            }),
            io: None,
        }
    }

    /// The names it picks are the names its `Serialize` writes.
    #[test]
    fn field_names_are_the_serialized_ones() {
        let m = full("read", false, (1, 2));
        let v = serde_json::to_value(&m).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut ours = Message::FIELDS.to_vec();
        keys.sort_unstable();
        ours.sort_unstable();
        assert_eq!(keys, ours);
    }

    proptest! {
        /// The hand-written envelope is byte for byte what serde writes.
        #[test]
        fn written_json_equals_serde(function in ".{0,12}", v6 in any::<bool>(), t in any::<(i64, i64)>(), bare in any::<bool>()) {
            let mut m = full(&function, v6, t);
            if bare {
                m.function_code = None;
                m.function = None;
                m.sub_function = None;
                m.sub_function_name = None;
                m.unit = None;
                m.addresses.clear();
                m.exception_code = None;
                m.exception = None;
                m.flags.clear();
                m.request = None;
                m.identity = None;
                m.src.mac = None;
            }
            let mut ours = Vec::new();
            m.write_json(&mut ours).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&m).unwrap());
        }

        /// Picking by name finds what walking its `Serialize` finds, for every field (and
        /// second-level names), present or not, in JSON and in the key encoding.
        #[test]
        fn picked_by_name_equals_walked(function in ".{0,12}", v6 in any::<bool>(), t in any::<(i64, i64)>(), bare in any::<bool>(), pick in proptest::collection::vec(0usize..24, 1..6)) {
            let mut m = full(&function, v6, t);
            if bare {
                m.function_code = None;
                m.function = None;
                m.unit = None;
                m.addresses.clear();
                m.exception = None;
                m.flags.clear();
                m.request = None;
                m.identity = None;
            }
            let extra = ["src.ip", "dst.port", "addresses.start", "identity.vendor", "nonesuch"];
            let names: Vec<String> = pick
                .iter()
                .map(|&k| Message::FIELDS.get(k).copied().or_else(|| extra.get(k - 19).copied()).unwrap().to_string())
                .collect();
            let sorted = |p: &Picked| {
                let mut v: Vec<(usize, String)> = p.fields().map(|(i, j)| (i, j.to_string())).collect();
                v.sort();
                v
            };
            let fields = Fields::new(names.clone());
            let (mut ours, mut walked) = (Picked::json(), Picked::json());
            m.pick(&fields, &mut ours).unwrap();
            crate::record::pick_fields(&m, &fields, &mut walked).unwrap();
            prop_assert_eq!(sorted(&ours), sorted(&walked));
            // One name at a time, the key encodings are the same bytes.
            for n in names {
                let fields = Fields::new(vec![n]);
                let (mut ours, mut walked) = (Picked::key(), Picked::key());
                m.pick(&fields, &mut ours).unwrap();
                crate::record::pick_fields(&m, &fields, &mut walked).unwrap();
                prop_assert_eq!(ours.as_bytes(), walked.as_bytes());
            }
        }

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
