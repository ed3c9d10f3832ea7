//! What an event costs past parsing, per event of a real Modbus capture's reassembled
//! streams driven through the Modbus handler: nothing (events not wanted), the JSON line
//! (`--events`), and what a Sigma rule set naming `function_code`, `addresses.start` and
//! `src.ip` reads of it (the picked fields' key encoding and its 128-bit hash, the work done
//! per event before the shape cache is probed).

mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};

use otsensor_protocols::flow::{FlowEnds, Handler, ProtoCounters, Reporter, StreamEvent};
use otsensor_protocols::message::{Message, Peer};
use otsensor_protocols::record::{Fields, Picked, Record};
use otsensor_protocols::time::Timestamp;
use otsensor_protocols::Direction;

/// What the sink does with each event.
#[derive(Clone, Copy)]
enum Mode {
    Off,
    Json,
    Pick,
}

struct Bench {
    mode: Mode,
    client: Peer,
    server: Peer,
    counters: ProtoCounters,
    line: Vec<u8>,
    key: Picked,
    fields: Fields,
    seeds: [ahash::RandomState; 2],
    /// Events seen, and a value folded from each so nothing is optimised away.
    events: u64,
    folded: u128,
}

impl Reporter for Bench {
    fn flow(&self) -> FlowEnds<'_> {
        FlowEnds {
            id: 1,
            client: &self.client,
            server: &self.server,
        }
    }
    fn ts(&self) -> Timestamp {
        Timestamp::from_nanos(1_700_000_000_000_000_000)
    }
    fn packet_index(&self) -> u64 {
        self.events
    }
    fn counters(&mut self) -> &mut ProtoCounters {
        &mut self.counters
    }
    fn observe(&mut self, _: &Message) {}
    fn parse_error(&mut self, _: &'static str, _: &'static str) {}
    fn events_enabled(&self) -> bool {
        !matches!(self.mode, Mode::Off)
    }
    fn event(&mut self, ev: &dyn Record) {
        self.events += 1;
        match self.mode {
            Mode::Off => {}
            Mode::Json => {
                self.line.clear();
                if ev.write_json(&mut self.line).is_ok() {
                    self.folded += self.line.len() as u128;
                }
            }
            Mode::Pick => {
                self.key.clear();
                if ev.pick(&self.fields, &mut self.key).is_ok() {
                    let b = self.key.as_bytes();
                    let [x, y] = &self.seeds;
                    self.folded ^= u128::from(x.hash_one(b)) << 64 | u128::from(y.hash_one(b));
                }
            }
        }
    }
}

fn run(segs: &[(Direction, Vec<u8>)], mode: Mode) -> (u64, u128) {
    let d = otsensor_protocols::descriptor("modbus").expect("modbus");
    let mut h: Box<dyn Handler> = (d.parser.expect("a parser").new_handler)();
    let peer = |ip: &str, port| Peer {
        ip: ip.parse().expect("an address"),
        port,
        mac: None,
    };
    let mut s = Bench {
        mode,
        client: peer("10.0.0.1", 40000),
        server: peer("10.0.0.2", 502),
        counters: ProtoCounters::default(),
        line: Vec::new(),
        key: Picked::key(),
        fields: Fields::new(
            ["function_code", "addresses.start", "src.ip"]
                .map(String::from)
                .to_vec(),
        ),
        seeds: [ahash::RandomState::new(), ahash::RandomState::new()],
        events: 0,
        folded: 0,
    };
    for (dir, p) in segs {
        h.on_stream(&mut s, *dir, StreamEvent::Data(p));
    }
    h.on_end(&mut s);
    (s.events, s.folded)
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let Some(segs) = common::payloads(&root.join("pcaps/modbus/iti-modbustcp/ModbusTCP.pcap"), 502)
    else {
        return;
    };
    let (events, _) = run(&segs, Mode::Json);
    assert!(events > 10_000, "{events} events");
    for (what, mode) in [
        ("parse, no events", Mode::Off),
        ("parse + JSON line", Mode::Json),
        ("parse + Sigma pick and key hash", Mode::Pick),
    ] {
        common::parse_throughput(
            c,
            "record/ModbusTCP.pcap",
            what,
            "events",
            events,
            &segs,
            |s| {
                let (n, folded) = run(s, mode);
                n ^ folded as u64
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
