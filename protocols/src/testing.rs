//! Test helpers: a [`Reporter`] that records what a protocol's adapter reports, and a runner that
//! drives a protocol's handler (from its descriptor) over the two directions of a stream.

use serde_json::Value;

use crate::flow::{FlowEnds, ProtoCounters, Reporter, StreamEvent};
use crate::message::{Message, Peer};
use crate::time::Timestamp;
use crate::Direction;

/// Everything an adapter reported.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Messages handed to the detector.
    pub messages: Vec<Message>,
    /// Event lines, parsed back.
    pub events: Vec<Value>,
    /// Parse errors (protocol, what).
    pub errors: Vec<(&'static str, &'static str)>,
    /// The protocol's counters.
    pub counters: ProtoCounters,
    client: Option<Peer>,
    server: Option<Peer>,
    packet: u64,
}

impl Reporter for Recorder {
    fn flow(&self) -> FlowEnds<'_> {
        FlowEnds {
            id: 1,
            client: self.client.as_ref().unwrap_or(&CLIENT),
            server: self.server.as_ref().unwrap_or(&CLIENT),
        }
    }
    fn ts(&self) -> Timestamp {
        Timestamp::from_nanos(1_700_000_000_000_000_000 + self.packet as i64 * 1_000_000)
    }
    fn packet_index(&self) -> u64 {
        self.packet
    }
    fn counters(&mut self) -> &mut ProtoCounters {
        &mut self.counters
    }
    fn observe(&mut self, m: &Message) {
        self.messages.push(m.clone());
    }
    fn parse_error(&mut self, protocol: &'static str, what: &'static str) {
        self.errors.push((protocol, what));
    }
    fn events_enabled(&self) -> bool {
        true
    }
    fn event(&mut self, ev: &dyn crate::record::Record) {
        let mut buf = Vec::new();
        ev.write_json(&mut buf).unwrap();
        let line: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&buf).unwrap();
        // What the rules read of each field is what the line holds.
        let mut names: Vec<String> = line.keys().cloned().collect();
        names.push("no_such_field".into());
        let fields = crate::record::Fields::new(names.clone());
        let mut picked = crate::record::Picked::default();
        ev.pick(&fields, &mut picked).unwrap();
        let mut seen = Vec::new();
        for (i, json) in picked.fields() {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(Some(&v), line.get(&names[i]), "field {}", names[i]);
            seen.push(i);
        }
        seen.sort_unstable();
        // And every field has a key encoding.
        ev.pick(&fields, &mut crate::record::Picked::key()).unwrap();
        assert_eq!(seen, (0..names.len() - 1).collect::<Vec<_>>(), "{line:?}");
        self.events.push(serde_json::Value::Object(line));
    }
}

const CLIENT: Peer = Peer {
    ip: std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
    port: 40000,
    mac: None,
};

/// Feeds `segments` (direction, bytes), one packet each, to the handler of `protocol` on a
/// TCP flow from 10.0.0.1 to 10.0.0.2:`port`; ends the flow; returns what it reported.
pub fn run_stream(protocol: &str, port: u16, segments: &[(Direction, &[u8])]) -> Recorder {
    run(protocol, port, segments, &mut |h, r, dir, bytes| {
        h.on_stream(r, dir, StreamEvent::Data(bytes));
    })
}

/// Feeds `datagrams` (direction, bytes), one packet each, to the handler of `protocol` on a
/// UDP flow from 10.0.0.1 to 10.0.0.2:`port`; ends the flow; returns what it reported.
pub fn run_datagrams(protocol: &str, port: u16, datagrams: &[(Direction, &[u8])]) -> Recorder {
    run(protocol, port, datagrams, &mut |h, r, dir, bytes| {
        h.on_datagram(r, dir, bytes);
    })
}

/// Hands one packet's bytes to a handler.
type Feed<'a> = dyn FnMut(&mut dyn crate::flow::Handler, &mut Recorder, Direction, &[u8]) + 'a;

/// Feeds each (direction, bytes) to the handler of `protocol` with `feed`, one packet each,
/// on a flow from 10.0.0.1 to 10.0.0.2:`port`; ends the flow.
fn run(protocol: &str, port: u16, packets: &[(Direction, &[u8])], feed: &mut Feed<'_>) -> Recorder {
    let d = crate::descriptor(protocol).unwrap();
    let mut h = (d.parser.unwrap().new_handler)();
    let mut r = Recorder {
        client: Some(CLIENT),
        server: Some(Peer {
            ip: "10.0.0.2".parse().unwrap(),
            port,
            mac: None,
        }),
        ..Recorder::default()
    };
    for (dir, bytes) in packets {
        r.packet += 1;
        feed(h.as_mut(), &mut r, *dir, bytes);
    }
    h.on_end(&mut r);
    r
}

/// Bytes from hex digits (`"810a0011"`), for tests that write frames out.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}
