//! The protocol registry: which parser handles a flow.
//!
//! Each protocol registers a [`ProtocolSpec`]: its well-known TCP/UDP ports, a cheap content
//! probe and a constructor for its per-flow [`AppHandler`]. On a flow's first payload the
//! registry asks the protocols that own the server port first, then every protocol's content
//! probe (so Modbus on port 5020 or DNP3 on 20001 is still found). A port owner whose probe
//! rejects the payload is remembered: that flow is other traffic on an OT port.
//!
//! Handlers receive reassembled TCP streams ([`StreamEvent`]s, gaps included) or UDP
//! datagrams, with an [`AppCtx`] that carries the flow, the packet's time and index, the
//! event sink and the protocol's counters.

use std::collections::BTreeMap;

use serde::Serialize;

use otsensor_baselines::detector::{Detector, FlowView};
use otsensor_baselines::message::{Message, Peer};
use otsensor_baselines::time::Timestamp;
use otsensor_baselines::zones::ZoneId;
use otsensor_protocols::Direction;

use crate::flow::StreamEvent;
use crate::pipeline::events::EventSink;

/// Transport of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP: handlers get a reassembled stream per direction.
    Tcp,
    /// UDP: handlers get datagrams.
    Udp,
}

impl Transport {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// A content probe's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The bytes look like this protocol.
    Match,
    /// The bytes cannot be this protocol.
    NoMatch,
    /// Too few bytes to tell.
    NeedMore,
}

/// What a probe may assume about the bytes it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeMode {
    /// The flow is on a port the protocol owns: reject only what cannot be this protocol.
    /// Otherwise match only what is clearly this protocol.
    pub own_port: bool,
    /// The stream was picked up midstream (or bytes were skipped before this payload), so it
    /// may not start at a PDU boundary.
    pub midstream: bool,
}

/// What a handler wants after it has seen data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep sending this flow's data.
    Continue,
    /// This flow is not (or no longer) parseable as this protocol; stop, with a reason that
    /// is counted in the protocol's stats.
    Abandon(&'static str),
}

/// One end of a flow: address, port (0 when the transport has none) and the Ethernet source
/// address of this end's frames, when known.
pub type EndpointInfo = Peer;

/// What a handler knows about its flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowInfo {
    /// Flow id: the index of the flow's first packet in the input (stable across runs and
    /// worker counts).
    pub id: u64,
    /// Transport.
    pub transport: Transport,
    /// The initiator (sent the SYN, or was judged the client by port).
    pub client: EndpointInfo,
    /// The responder.
    pub server: EndpointInfo,
    /// Outer VLAN id.
    pub vlan: Option<u16>,
    /// Capture interface of its first packet (index; 0 in replay).
    pub iface: u8,
    /// Zone of the client.
    pub client_zone: ZoneId,
    /// Zone of the server.
    pub server_zone: ZoneId,
}

/// Per-protocol counters, summed over workers into stats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProtoCounters {
    /// Flows handed to this protocol's parser.
    pub flows: u64,
    /// Of those, flows found by content probe on a port the protocol does not own.
    pub flows_on_other_ports: u64,
    /// Flows on this protocol's port whose content was something else.
    pub flows_not_this_protocol: u64,
    /// PDUs parsed.
    pub pdus: u64,
    /// PDUs or frames that could not be parsed.
    pub parse_errors: u64,
    /// Stream gaps the parser had to resync after.
    pub gaps: u64,
    /// Flows the parser gave up on, by reason.
    pub abandoned: BTreeMap<&'static str, u64>,
    /// Protocol-specific counters (e.g. `crc_errors`).
    pub other: BTreeMap<&'static str, u64>,
}

impl ProtoCounters {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &ProtoCounters) {
        self.flows += o.flows;
        self.flows_on_other_ports += o.flows_on_other_ports;
        self.flows_not_this_protocol += o.flows_not_this_protocol;
        self.pdus += o.pdus;
        self.parse_errors += o.parse_errors;
        self.gaps += o.gaps;
        for (k, v) in &o.abandoned {
            *self.abandoned.entry(k).or_default() += v;
        }
        for (k, v) in &o.other {
            *self.other.entry(k).or_default() += v;
        }
    }

    /// Increments a protocol-specific counter.
    pub fn bump(&mut self, name: &'static str) {
        *self.other.entry(name).or_default() += 1;
    }
}

/// What a handler gets with each call.
pub struct AppCtx<'a> {
    /// The flow.
    pub flow: &'a FlowInfo,
    /// Capture time of the packet that carried this data (or of the flow's end).
    pub ts: Timestamp,
    /// Index of that packet in the input (orders events deterministically).
    pub pkt_index: u64,
    /// Where events go (`--events`).
    pub events: &'a mut EventSink,
    /// This protocol's counters.
    pub counters: &'a mut ProtoCounters,
    /// Policy and baseline checks.
    pub detector: &'a mut Detector,
}

impl FlowInfo {
    /// The detector's view of the flow.
    pub fn view(&self) -> FlowView<'_> {
        FlowView {
            id: self.id,
            client: &self.client,
            server: &self.server,
            client_zone: self.client_zone,
            server_zone: self.server_zone,
            transport: self.transport.as_str(),
        }
    }
}

impl AppCtx<'_> {
    /// Hands a normalized message to the detector; what deviates goes out with the events.
    pub fn observe(&mut self, msg: &Message) {
        let scratch = self.events.alert_scratch();
        self.detector.observe(msg, &self.flow.view(), scratch);
        self.events.commit_alerts(self.pkt_index, self.flow.id);
    }

    /// Counts a parse error of `protocol` (`what` failed) and tells the detector.
    pub fn parse_error(&mut self, protocol: &'static str, what: &'static str) {
        self.counters.parse_errors += 1;
        let scratch = self.events.alert_scratch();
        self.detector
            .parse_error(&self.flow.view(), self.ts, protocol, what, scratch);
        self.events.commit_alerts(self.pkt_index, self.flow.id);
    }
}

/// A protocol's per-flow state, created when the flow is identified.
pub trait AppHandler: Send {
    /// The next bytes of one direction of a TCP stream, or a gap in it.
    fn on_stream(&mut self, ctx: &mut AppCtx<'_>, dir: Direction, ev: StreamEvent<'_>) -> Verdict;

    /// One UDP datagram.
    fn on_datagram(&mut self, ctx: &mut AppCtx<'_>, dir: Direction, payload: &[u8]) -> Verdict;

    /// The flow ended (FIN/RST, idle timeout, eviction or end of input).
    fn on_end(&mut self, _ctx: &mut AppCtx<'_>) {}
}

/// A protocol the sensor can parse.
#[derive(Clone, Copy)]
pub struct ProtocolSpec {
    /// Name used in events, stats and config (`modbus`, `dnp3`, `s7comm`, ...).
    pub name: &'static str,
    /// TCP ports the protocol owns.
    pub tcp_ports: &'static [u16],
    /// UDP ports the protocol owns.
    pub udp_ports: &'static [u16],
    /// Cheap content check on the first payload of a flow in either direction.
    pub probe: fn(Transport, Direction, &[u8], ProbeMode) -> Probe,
    /// Per-flow state for a newly identified flow.
    pub new_handler: fn() -> Box<dyn AppHandler>,
}

impl std::fmt::Debug for ProtocolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolSpec")
            .field("name", &self.name)
            .field("tcp_ports", &self.tcp_ports)
            .field("udp_ports", &self.udp_ports)
            .finish()
    }
}

impl ProtocolSpec {
    fn owns_port(&self, t: Transport, port: u16) -> bool {
        match t {
            Transport::Tcp => self.tcp_ports.contains(&port),
            Transport::Udp => self.udp_ports.contains(&port),
        }
    }
}

/// The registry's decision on a flow's first payload(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identified {
    /// Hand the flow to protocol `index`; `on_its_port` is false when found by content only.
    Protocol {
        /// Index in [`Registry::protocols`].
        index: usize,
        /// Whether the server port is one the protocol owns.
        on_its_port: bool,
    },
    /// Not enough bytes to decide yet.
    Undecided,
    /// No protocol matches; `port_owner` names the protocol whose port this was, if any.
    Unknown {
        /// Index of the protocol that owns the server port, if one does.
        port_owner: Option<usize>,
    },
}

/// The set of protocols the sensor parses.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    protocols: Vec<ProtocolSpec>,
}

impl Registry {
    /// A registry with exactly these protocols (tests, or a subset).
    pub fn new(protocols: Vec<ProtocolSpec>) -> Registry {
        Registry { protocols }
    }

    /// The protocols otsensor ships parsers for.
    pub fn builtin() -> Registry {
        Registry::new(crate::parsers::builtin())
    }

    /// The registered protocols, in probe order.
    pub fn protocols(&self) -> &[ProtocolSpec] {
        &self.protocols
    }

    /// True when some protocol owns this port (used to tell server from client midstream).
    pub fn is_known_port(&self, t: Transport, port: u16) -> bool {
        self.protocols.iter().any(|p| p.owns_port(t, port))
    }

    /// Decides which protocol a flow speaks from one payload.
    pub fn identify(
        &self,
        t: Transport,
        server_port: u16,
        dir: Direction,
        data: &[u8],
        midstream: bool,
    ) -> Identified {
        let mut port_owner = None;
        let mut undecided = false;
        for (index, p) in self.protocols.iter().enumerate() {
            if !p.owns_port(t, server_port) {
                continue;
            }
            match (p.probe)(
                t,
                dir,
                data,
                ProbeMode {
                    own_port: true,
                    midstream,
                },
            ) {
                Probe::Match => {
                    return Identified::Protocol {
                        index,
                        on_its_port: true,
                    }
                }
                // On its own port, too few bytes is enough: the parser validates as it goes.
                Probe::NeedMore => {
                    return Identified::Protocol {
                        index,
                        on_its_port: true,
                    }
                }
                Probe::NoMatch => port_owner = port_owner.or(Some(index)),
            }
        }
        for (index, p) in self.protocols.iter().enumerate() {
            if p.owns_port(t, server_port) {
                continue;
            }
            match (p.probe)(
                t,
                dir,
                data,
                ProbeMode {
                    own_port: false,
                    midstream,
                },
            ) {
                Probe::Match => {
                    return Identified::Protocol {
                        index,
                        on_its_port: false,
                    }
                }
                Probe::NeedMore => undecided = true,
                Probe::NoMatch => {}
            }
        }
        if undecided {
            Identified::Undecided
        } else {
            Identified::Unknown { port_owner }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A test protocol that records what the registry delivers to it.

    use std::cell::RefCell;

    use super::*;
    use crate::flow::Gap;

    /// What the recorder saw, shared with the test.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    pub struct Seen {
        /// Reassembled bytes per direction (request, response).
        pub streams: [Vec<u8>; 2],
        /// Gaps per direction.
        pub gaps: [Vec<Gap>; 2],
        /// Datagrams in order with their direction.
        pub datagrams: Vec<(Direction, Vec<u8>)>,
        /// Flow ids that ended.
        pub ended: Vec<u64>,
    }

    thread_local! {
        /// Flows the recorder finished on this thread, with what it saw.
        pub static SEEN: RefCell<Vec<(u64, Seen)>> = const { RefCell::new(Vec::new()) };
    }

    /// Recorder handler: everything goes into [`SEEN`] under the flow id at the end.
    #[derive(Default)]
    pub struct Recorder {
        seen: Seen,
        flow: u64,
    }

    fn idx(d: Direction) -> usize {
        match d {
            Direction::Request => 0,
            Direction::Response => 1,
        }
    }

    impl AppHandler for Recorder {
        fn on_stream(
            &mut self,
            ctx: &mut AppCtx<'_>,
            dir: Direction,
            ev: StreamEvent<'_>,
        ) -> Verdict {
            self.flow = ctx.flow.id;
            match ev {
                StreamEvent::Data(d) => {
                    if d.starts_with(b"QUIT") {
                        return Verdict::Abandon("quit");
                    }
                    self.seen.streams[idx(dir)].extend_from_slice(d);
                    ctx.counters.pdus += 1;
                }
                StreamEvent::Gap(g) => self.seen.gaps[idx(dir)].push(g),
            }
            Verdict::Continue
        }

        fn on_datagram(&mut self, ctx: &mut AppCtx<'_>, dir: Direction, payload: &[u8]) -> Verdict {
            self.flow = ctx.flow.id;
            self.seen.datagrams.push((dir, payload.to_vec()));
            ctx.counters.pdus += 1;
            Verdict::Continue
        }

        fn on_end(&mut self, ctx: &mut AppCtx<'_>) {
            self.seen.ended.push(ctx.flow.id);
            let seen = std::mem::take(&mut self.seen);
            SEEN.with(|s| s.borrow_mut().push((ctx.flow.id, seen)));
        }
    }

    /// `echo` on TCP/UDP port 7 and anything that starts with `ECHO` elsewhere.
    pub fn echo_spec() -> ProtocolSpec {
        ProtocolSpec {
            name: "echo",
            tcp_ports: &[7],
            udp_ports: &[7],
            probe: |_, _, d, _| {
                if d.len() < 4 {
                    Probe::NeedMore
                } else if d.starts_with(b"ECHO") {
                    Probe::Match
                } else {
                    Probe::NoMatch
                }
            },
            new_handler: || Box::new(Recorder::default()),
        }
    }

    /// Takes what the recorder saw on this thread.
    pub fn take_seen() -> Vec<(u64, Seen)> {
        SEEN.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::echo_spec;
    use super::*;

    #[test]
    fn port_owner_first_then_content() {
        let r = Registry::new(vec![echo_spec()]);
        assert_eq!(
            r.identify(Transport::Tcp, 7, Direction::Request, b"ECHO hi", false),
            Identified::Protocol {
                index: 0,
                on_its_port: true
            }
        );
        assert_eq!(
            r.identify(Transport::Tcp, 7, Direction::Request, b"x", false),
            Identified::Protocol {
                index: 0,
                on_its_port: true
            }
        );
        assert_eq!(
            r.identify(Transport::Tcp, 7007, Direction::Request, b"ECHO hi", false),
            Identified::Protocol {
                index: 0,
                on_its_port: false
            }
        );
        assert_eq!(
            r.identify(Transport::Tcp, 7007, Direction::Request, b"EC", false),
            Identified::Undecided
        );
        assert_eq!(
            r.identify(
                Transport::Udp,
                7,
                Direction::Request,
                b"GET / HTTP/1.1",
                false
            ),
            Identified::Unknown {
                port_owner: Some(0)
            }
        );
        assert_eq!(
            r.identify(
                Transport::Udp,
                80,
                Direction::Request,
                b"GET / HTTP/1.1",
                false
            ),
            Identified::Unknown { port_owner: None }
        );
        assert!(r.is_known_port(Transport::Tcp, 7));
        assert!(!r.is_known_port(Transport::Tcp, 8));
    }
}
