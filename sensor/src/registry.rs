//! The protocol registry: which parser handles a flow.
//!
//! Each protocol registers a [`ProtocolSpec`]: its well-known TCP/UDP ports, a cheap content
//! probe and a constructor for its per-flow [`Handler`] (built from the protocol descriptors
//! of `otsensor_protocols`). On a flow's first payload the
//! registry asks the protocols that own the server port first, then every protocol's content
//! probe (so Modbus on port 5020 or DNP3 on 20001 is still found). A port owner whose probe
//! rejects the payload is remembered: that flow is other traffic on an OT port.
//!
//! Handlers receive reassembled TCP streams ([`StreamEvent`]s, gaps included) or UDP
//! datagrams, with an [`AppCtx`] that carries the flow, the packet's time and index, the
//! event buffer and the protocol's counters.

use otsensor_baselines::detector::{Detector, FlowView};
use otsensor_baselines::message::{Message, Peer};
use otsensor_baselines::time::Timestamp;
use otsensor_baselines::zones::ZoneId;
pub use otsensor_protocols::flow::{
    FlowEnds, Handler, Limits, Probe, ProbeMode, ProtoCounters, Reporter, Transport, Verdict,
};
use otsensor_protocols::record::{Fields, Picked, Record};
use otsensor_protocols::Direction;

use crate::events::EventBuffer;

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
    /// Community ID (computed on first use).
    pub cid: otsensor_baselines::community_id::LazyCommunityId,
}

/// What a handler gets with each call.
pub struct AppCtx<'a> {
    /// The flow.
    pub flow: &'a FlowInfo,
    /// The detector's state of the flow.
    pub det: &'a mut otsensor_baselines::detector::FlowLocal,
    /// Capture time of the packet that carried this data (or of the flow's end).
    pub ts: Timestamp,
    /// Index of that packet in the input (orders events deterministically).
    pub pkt_index: u64,
    /// Where events go (`--events`).
    pub events: &'a mut EventBuffer,
    /// This protocol's counters.
    pub counters: &'a mut ProtoCounters,
    /// Policy and baseline checks.
    pub detector: &'a mut Detector,
    /// Whether a Sigma rule watches the events of some protocol: those of the protocols
    /// it watches are then built even when `--events` is off.
    pub sigma: bool,
    /// The per-flow caps of this protocol.
    pub limits: Limits,
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
            cid: Some(&self.cid),
        }
    }
}

impl Reporter for AppCtx<'_> {
    fn flow(&self) -> FlowEnds<'_> {
        FlowEnds {
            id: self.flow.id,
            client: &self.flow.client,
            server: &self.flow.server,
        }
    }

    fn ts(&self) -> Timestamp {
        self.ts
    }

    fn packet_index(&self) -> u64 {
        self.pkt_index
    }

    fn counters(&mut self) -> &mut ProtoCounters {
        self.counters
    }

    fn observe(&mut self, msg: &Message) {
        let scratch = self.events.alert_scratch();
        self.detector
            .observe(msg, &self.flow.view(), self.det, scratch);
        self.events.commit_alerts(self.pkt_index, self.flow.id);
    }

    fn parse_error(&mut self, protocol: &'static str, what: &'static str) {
        self.counters.parse_errors += 1;
        let scratch = self.events.alert_scratch();
        self.detector
            .parse_error(&self.flow.view(), self.ts, protocol, what, scratch);
        self.events.commit_alerts(self.pkt_index, self.flow.id);
    }

    fn events_enabled(&self) -> bool {
        self.sigma || self.events.enabled()
    }

    fn events_for(&self, protocol: &str) -> bool {
        self.events.enabled() || (self.sigma && self.detector.sigma_wants(protocol))
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    /// The event, with the flow's Community ID as its last key.
    fn event(&mut self, ev: &dyn Record) {
        let cid = self.flow.cid.get(self.flow.client.ip, self.flow.server.ip);
        let ev = WithCommunityId { ev, cid };
        self.events
            .emit_with(self.pkt_index, self.flow.id, &mut |buf| ev.write_json(buf));
        if self.sigma {
            let found = self.events.alert_scratch();
            self.detector
                .sigma(&ev, &self.flow.view(), Some(self.det), self.ts, found);
            self.events.commit_alerts(self.pkt_index, self.flow.id);
        }
    }
}

/// An event with its flow's Community ID, the last key of its line.
struct WithCommunityId<'a> {
    ev: &'a dyn Record,
    cid: &'a str,
}

impl Record for WithCommunityId<'_> {
    fn service(&self) -> &'static str {
        self.ev.service()
    }

    fn write_json(&self, buf: &mut Vec<u8>) -> serde_json::Result<()> {
        let start = buf.len();
        self.ev.write_json(buf)?;
        // An event is one JSON object: its closing brace makes room for one more key (the
        // ID's characters, base64 and `:`, need no escaping).
        if buf.len() > start + 2 && buf.last() == Some(&b'}') {
            buf.pop();
            buf.extend_from_slice(b",\"community_id\":\"");
            buf.extend_from_slice(self.cid.as_bytes());
            buf.extend_from_slice(b"\"}");
        }
        Ok(())
    }

    fn pick(&self, fields: &Fields, out: &mut Picked) -> serde_json::Result<()> {
        self.ev.pick(fields, out)?;
        match fields.position("community_id") {
            Some(i) => out.push(i, self.cid),
            None => Ok(()),
        }
    }
}

/// A protocol the sensor can parse.
#[derive(Clone)]
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
    pub new_handler: fn() -> Box<dyn Handler>,
    /// Ports it owns besides its registered ones (`[protocols.NAME] ports`), on the
    /// transports it has registered ports on.
    pub extra_ports: Vec<u16>,
    /// Whether its content probe runs on ports it does not own.
    pub by_content: bool,
    /// Its per-flow caps.
    pub limits: Limits,
}

impl std::fmt::Debug for ProtocolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolSpec")
            .field("name", &self.name)
            .field("tcp_ports", &self.tcp_ports)
            .field("udp_ports", &self.udp_ports)
            .field("extra_ports", &self.extra_ports)
            .field("by_content", &self.by_content)
            .finish()
    }
}

impl ProtocolSpec {
    fn owns_port(&self, t: Transport, port: u16) -> bool {
        let (registered, uses) = match t {
            Transport::Tcp => (self.tcp_ports, !self.tcp_ports.is_empty()),
            Transport::Udp => (self.udp_ports, !self.udp_ports.is_empty()),
            Transport::Other(_) => return false,
        };
        registered.contains(&port) || (uses && self.extra_ports.contains(&port))
    }
}

/// The registry's decision on a flow's first payload(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identified<'a> {
    /// Hand the flow to protocol `index`; `on_its_port` is false when found by content only.
    Protocol {
        /// Index in [`Registry::protocols`].
        index: usize,
        /// Whether the server port is one the protocol owns.
        on_its_port: bool,
    },
    /// Not enough bytes to decide yet.
    Undecided,
    /// No parser matches; `port_owner` names the protocol whose port this was, if any, and
    /// `app` the application the content shows, if a label's signature matched.
    Unknown {
        /// Index of the protocol that owns the server port, if one does.
        port_owner: Option<usize>,
        /// The application the sensor labels but does not parse, recognised by content.
        app: Option<otsensor_protocols::applabel::Found<'a>>,
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

    /// The protocols otsensor ships parsers for, from their descriptors, in probe order.
    pub fn builtin() -> Registry {
        Registry::new(
            otsensor_protocols::PROTOCOLS
                .iter()
                .filter_map(|d| {
                    d.parser.map(|p| ProtocolSpec {
                        name: d.name,
                        tcp_ports: d.tcp_ports,
                        udp_ports: d.udp_ports,
                        probe: p.probe,
                        new_handler: p.new_handler,
                        extra_ports: Vec::new(),
                        by_content: true,
                        limits: Limits::default(),
                    })
                })
                .collect(),
        )
    }

    /// The built-in protocols under the config's `[protocols.NAME]` settings: those switched
    /// off left out (their flows stay unknown), extra ports added, content probes off where
    /// asked.
    pub fn configured(
        settings: &std::collections::BTreeMap<String, crate::config::ProtocolSettings>,
    ) -> Registry {
        let mut r = Registry::builtin();
        r.protocols
            .retain(|p| settings.get(p.name).is_none_or(|s| s.enabled));
        for p in &mut r.protocols {
            if let Some(s) = settings.get(p.name) {
                p.extra_ports.clone_from(&s.ports);
                p.by_content = s.detect_by_content;
                p.limits = Limits {
                    max_outstanding: s.max_outstanding,
                    max_message: s.max_message,
                };
            }
        }
        r
    }

    /// The registered protocols, in probe order.
    pub fn protocols(&self) -> &[ProtocolSpec] {
        &self.protocols
    }

    /// The parsed protocol that owns this port, if one does.
    pub fn port_owner(&self, t: Transport, port: u16) -> Option<&'static str> {
        self.protocols
            .iter()
            .find(|p| p.owns_port(t, port))
            .map(|p| p.name)
    }

    /// True when some protocol owns this port, parsed or labelled (used to tell server from
    /// client midstream).
    pub fn is_known_port(&self, t: Transport, port: u16) -> bool {
        self.protocols.iter().any(|p| p.owns_port(t, port))
            || otsensor_protocols::applabel::by_port(t, port).is_some()
    }

    /// Decides which protocol a flow speaks from one payload: the parsers that own the
    /// server port first, then the IT signatures (content: SMB on 445 is SMB, whatever an
    /// industrial probe would make of its header), then every parser's content probe.
    pub fn identify<'a>(
        &self,
        t: Transport,
        server_port: u16,
        dir: Direction,
        data: &'a [u8],
        midstream: bool,
    ) -> Identified<'a> {
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
        if let Some(found) = otsensor_protocols::applabel::probe_on_port(t, server_port, data) {
            return Identified::Unknown {
                port_owner,
                app: Some(found),
            };
        }
        for (index, p) in self.protocols.iter().enumerate() {
            if p.owns_port(t, server_port) || !p.by_content {
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
            Identified::Unknown {
                port_owner,
                app: None,
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A test protocol that records what the registry delivers to it.

    use std::cell::RefCell;

    use super::*;
    use crate::flow::{Gap, StreamEvent};

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

    impl Handler for Recorder {
        fn on_stream(
            &mut self,
            ctx: &mut dyn Reporter,
            dir: Direction,
            ev: StreamEvent<'_>,
        ) -> Verdict {
            self.flow = ctx.flow().id;
            match ev {
                StreamEvent::Data(d) => {
                    if d.starts_with(b"QUIT") {
                        return Verdict::Abandon("quit");
                    }
                    self.seen.streams[dir.index()].extend_from_slice(d);
                    ctx.counters().pdus += 1;
                }
                StreamEvent::Gap(g) => self.seen.gaps[dir.index()].push(g),
            }
            Verdict::Continue
        }

        fn on_datagram(
            &mut self,
            ctx: &mut dyn Reporter,
            dir: Direction,
            payload: &[u8],
        ) -> Verdict {
            self.flow = ctx.flow().id;
            self.seen.datagrams.push((dir, payload.to_vec()));
            ctx.counters().pdus += 1;
            Verdict::Continue
        }

        fn on_end(&mut self, ctx: &mut dyn Reporter) {
            self.seen.ended.push(ctx.flow().id);
            let seen = std::mem::take(&mut self.seen);
            SEEN.with(|s| s.borrow_mut().push((ctx.flow().id, seen)));
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
            extra_ports: Vec::new(),
            by_content: true,
            limits: Limits::default(),
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
    fn configured_protocols_carry_their_limits_and_settings() {
        let toml = "[s7comm]\nmax_message = 4096\nmax_outstanding = 8\n\
                    [opcua]\nmax_outstanding = 3\n[modbus]\nenabled = false\n";
        let settings: std::collections::BTreeMap<String, crate::config::ProtocolSettings> =
            toml::from_str(toml).unwrap();
        let r = Registry::configured(&settings);
        let limits = |name: &str| {
            r.protocols()
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.limits)
        };
        assert_eq!(
            limits("s7comm"),
            Some(Limits {
                max_outstanding: 8,
                max_message: 4096
            })
        );
        assert_eq!(
            limits("opcua"),
            Some(Limits {
                max_outstanding: 3,
                max_message: 0
            })
        );
        assert_eq!(limits("dnp3"), Some(Limits::default()));
        assert_eq!(limits("modbus"), None);
    }

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
                port_owner: Some(0),
                app: None,
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
            Identified::Unknown {
                port_owner: None,
                app: None,
            }
        );
        assert!(r.is_known_port(Transport::Tcp, 7));
        assert!(!r.is_known_port(Transport::Tcp, 8));
        assert!(
            r.is_known_port(Transport::Tcp, 3389),
            "labelled ports count"
        );
    }
}
