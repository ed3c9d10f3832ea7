//! A flow's application label and its flow record (`--flows`): one JSON line per flow at its
//! end, and interim ones for long flows, in the manner of Zeek's conn.log and Suricata's flow
//! records, with the Community ID that joins them.

use std::net::IpAddr;

use serde::Serialize;

use otsensor_baselines::detector::Label;
use otsensor_baselines::mac::MacAddr;
use otsensor_baselines::time::Timestamp;
use otsensor_protocols::applabel::{self, App, Found};
use otsensor_protocols::Direction;

use crate::decode::tcpflags;
use crate::registry::{FlowInfo, Registry, Transport};

/// How a flow's label was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelBy {
    /// A parser or a signature recognised the content.
    Content,
    /// A parser took the flow on its own port.
    Port,
    /// Only the server port's owner names it (no content, or none recognised).
    PortOnly,
    /// Nothing: `unknown`.
    None,
}

/// A flow's application label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLabel {
    /// The label's name.
    pub name: &'static str,
    /// The IT label, when it is one.
    pub app: Option<App>,
    /// Whether an industrial parser handles the flow.
    pub parsed: bool,
    /// How it was decided.
    pub by: LabelBy,
    /// A TLS ClientHello's server name.
    pub server_name: Option<Box<str>>,
}

impl FlowLabel {
    /// A flow a parser handles.
    pub fn parsed(name: &'static str, by: LabelBy) -> FlowLabel {
        FlowLabel {
            name,
            app: None,
            parsed: true,
            by,
            server_name: None,
        }
    }

    /// A flow whose content a label's signature recognised.
    pub fn content(f: Found<'_>) -> FlowLabel {
        FlowLabel {
            name: f.app.as_str(),
            app: Some(f.app),
            parsed: false,
            by: LabelBy::Content,
            server_name: f
                .server_name
                .map(|n| String::from_utf8_lossy(n).into_owned().into_boxed_str()),
        }
    }

    /// A flow labelled by its server port alone: a parsed protocol's port first (a Modbus
    /// connection that carried no request is still Modbus to a conduit), then a label's;
    /// `unknown` when none owns it; the transport's name for flows without ports.
    pub fn by_port(info: &FlowInfo, registry: &Registry) -> FlowLabel {
        if let Transport::Other(_) = info.transport {
            return FlowLabel {
                name: info.transport.as_str(),
                app: None,
                parsed: false,
                by: LabelBy::PortOnly,
                server_name: None,
            };
        }
        if let Some(name) = registry.port_owner(info.transport, info.server.port) {
            return FlowLabel {
                name,
                app: None,
                parsed: false,
                by: LabelBy::PortOnly,
                server_name: None,
            };
        }
        let app = applabel::by_port(info.transport, info.server.port);
        FlowLabel {
            name: app.map_or("unknown", App::as_str),
            app,
            parsed: false,
            by: if app.is_some() {
                LabelBy::PortOnly
            } else {
                LabelBy::None
            },
            server_name: None,
        }
    }

    /// What the detector judges.
    pub fn judged(&self, t: Transport, midstream: bool) -> Label {
        Label {
            name: self.name,
            app: self.app,
            parsed: self.parsed,
            proto: proto_number(t),
            guessed_client: midstream,
        }
    }
}

/// The IP protocol number of a transport.
pub fn proto_number(t: Transport) -> u8 {
    match t {
        Transport::Tcp => 6,
        Transport::Udp => 17,
        Transport::Other(p) => p,
    }
}

/// Most history letters kept (each letter once per direction).
const MAX_HISTORY: usize = 12;

/// What a flow record needs beyond the flow's counters (kept only with flow records on).
#[derive(Debug, Default, Clone)]
pub struct RecordState {
    /// The application label, once decided.
    pub label: Option<FlowLabel>,
    /// PDUs its parser produced.
    pub pdus: u64,
    /// Alerts (full observations) raised on it.
    pub alerts: u32,
    /// Zeek's connection history letters, in the order first seen: `S` SYN, `H` SYN-ACK,
    /// `A` pure ACK, `D` data, `F` FIN, `R` RST; upper case from the client, lower case
    /// from the server.
    history: [u8; MAX_HISTORY],
    len: u8,
    /// Capture time of the last record (interim), nanoseconds.
    pub last_record: i64,
    /// Interim records written.
    pub interims: u32,
}

impl RecordState {
    /// Notes a TCP segment's flags and payload.
    pub fn tcp(&mut self, dir: Direction, flags: u8, payload: usize) {
        let syn = flags & tcpflags::SYN != 0;
        let ack = flags & tcpflags::ACK != 0;
        let rst = flags & tcpflags::RST != 0;
        let fin = flags & tcpflags::FIN != 0;
        let letters = [
            (syn && ack).then_some(b'H'),
            (syn && !ack).then_some(b'S'),
            rst.then_some(b'R'),
            (fin && !rst).then_some(b'F'),
            (payload > 0).then_some(b'D'),
            (ack && !syn && !rst && !fin && payload == 0).then_some(b'A'),
        ];
        for c in letters.into_iter().flatten() {
            let c = if dir == Direction::Request {
                c
            } else {
                c.to_ascii_lowercase()
            };
            self.letter(c);
        }
    }

    fn letter(&mut self, c: u8) {
        let len = usize::from(self.len);
        let seen = self.history.get(..len).unwrap_or_default();
        if seen.contains(&c) || len >= MAX_HISTORY {
            return;
        }
        if let Some(slot) = self.history.get_mut(len) {
            *slot = c;
            self.len += 1;
        }
    }

    /// The client and server were swapped (a midstream connection turned around): so are
    /// the letters' cases.
    pub fn swap_sides(&mut self) {
        let len = usize::from(self.len);
        for c in self.history.iter_mut().take(len) {
            *c = if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            };
        }
    }

    /// The history as a string.
    pub fn history(&self) -> &str {
        let h = self
            .history
            .get(..usize::from(self.len))
            .unwrap_or_default();
        std::str::from_utf8(h).unwrap_or_default()
    }
}

/// One end of a flow record.
#[derive(Debug, Serialize)]
pub struct RecordEnd<'a> {
    /// Address.
    pub ip: IpAddr,
    /// Port (ICMP: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Ethernet address of its frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacAddr>,
    /// Zone, when zones are configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<&'a str>,
    /// Packets it sent.
    pub packets: u64,
    /// Bytes it sent (on the wire).
    pub bytes: u64,
}

/// One flow record line (`schemas/flow.schema.json`).
#[derive(Debug, Serialize)]
pub struct FlowRecord<'a> {
    /// Always `flow`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Unique across runs and sensors; interim and final records of a flow share it.
    pub uid: &'a str,
    /// Community ID v1.
    pub community_id: &'a str,
    /// Whether this is the flow's last record.
    #[serde(rename = "final")]
    pub last: bool,
    /// Why it ended (final records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<&'static str>,
    /// First packet.
    pub start: Timestamp,
    /// Last packet so far.
    pub end: Timestamp,
    /// Seconds between them.
    pub duration: f64,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `ip`.
    pub transport: &'static str,
    /// IP protocol number.
    pub proto: u8,
    /// Application label (`unknown` when none; absent while undecided).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<&'static str>,
    /// How the label was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_by: Option<LabelBy>,
    /// Whether an industrial parser read it.
    pub parsed: bool,
    /// TLS server name (SNI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<&'a str>,
    /// The client (initiator).
    pub src: RecordEnd<'a>,
    /// The server.
    pub dst: RecordEnd<'a>,
    /// Outer VLAN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// TCP history (Zeek's letters).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub history: &'a str,
    /// Picked up without its opening: the client is a guess.
    pub midstream: bool,
    /// PDUs parsed, for parsed protocols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdus: Option<u64>,
    /// Alerts raised on it.
    pub alerts: u32,
    /// Sensor id.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub sensor: &'a str,
}

/// A flow's uid: `C` and 16 base-62 digits of SHA-1 over the sensor, the flow's start, its
/// Community ID and its index in the input.
pub fn uid(sensor: &str, start: Timestamp, community_id: &str, flow_id: u64) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(sensor.as_bytes());
    h.update([0]);
    h.update(start.as_nanos().to_be_bytes());
    h.update(community_id.as_bytes());
    h.update(flow_id.to_be_bytes());
    let d = h.finalize();
    let mut v = d
        .iter()
        .take(12)
        .fold(0u128, |a, b| (a << 8) | u128::from(*b));
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(17);
    out.push('C');
    for _ in 0..16 {
        let i = (v % 62) as usize;
        out.push(char::from(DIGITS.get(i).copied().unwrap_or(b'0')));
        v /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_each_letter_once_in_order() {
        let mut r = RecordState::default();
        let (c, s) = (Direction::Request, Direction::Response);
        r.tcp(c, tcpflags::SYN, 0);
        r.tcp(s, tcpflags::SYN | tcpflags::ACK, 0);
        r.tcp(c, tcpflags::ACK, 0);
        r.tcp(c, tcpflags::ACK | tcpflags::PSH, 10);
        r.tcp(s, tcpflags::ACK, 20);
        r.tcp(c, tcpflags::ACK | tcpflags::PSH, 10);
        r.tcp(c, tcpflags::FIN | tcpflags::ACK, 0);
        r.tcp(s, tcpflags::RST, 0);
        assert_eq!(r.history(), "ShADdFr");
    }

    #[test]
    fn uids_differ_by_sensor_time_and_flow() {
        let t = Timestamp::from_nanos(1);
        let a = uid("s1", t, "1:x", 1);
        assert_eq!(a.len(), 17);
        assert!(a.starts_with('C'));
        assert_eq!(a, uid("s1", t, "1:x", 1));
        assert_ne!(a, uid("s2", t, "1:x", 1));
        assert_ne!(a, uid("s1", Timestamp::from_nanos(2), "1:x", 1));
        assert_ne!(a, uid("s1", t, "1:x", 2));
    }
}
