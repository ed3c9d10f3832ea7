//! The contract between a protocol and the sensor that drives it.
//!
//! A protocol provides a per-flow parser ([`FlowParser`]: stream bytes per direction, gaps,
//! datagrams, the end of the flow, running totals, when to give up on a flow that is not the
//! protocol after all) and an [`Adapter`] that turns the parser's events into normalized
//! [`Message`]s, event lines and counters. One generic [`Driver`] runs every protocol: it is
//! the [`Handler`] the sensor creates per flow (through the protocol's
//! [`Descriptor`](crate::descriptor::Descriptor)), and it reports into a [`Reporter`] the sensor
//! implements (the flow, the packet's time and index, the detector, the event stream and the
//! protocol's counters).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::message::{Message, Peer};
use crate::record::{pick_fields, Fields, Picked, Record};
use crate::time::Timestamp;
use crate::{Direction, Operation};

/// Why bytes are missing from the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// The stream was picked up without its start (no SYN seen); bytes before are unknown.
    Midstream,
    /// This many bytes of the stream were never captured and were skipped.
    Missing(u64),
}

/// What the reassembler hands to the protocol layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// The next bytes of the stream, in order.
    Data(&'a [u8]),
    /// Bytes are missing before the next [`StreamEvent::Data`]: parsers must resync.
    Gap(Gap),
}

/// Transport of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP: handlers get a reassembled stream per direction.
    Tcp,
    /// UDP: handlers get datagrams.
    Udp,
    /// Another IP protocol (its number): no handler, the flow is only counted and judged.
    Other(u8),
}

impl Transport {
    /// The transport of IP protocol number `proto`.
    pub fn of(proto: u8) -> Transport {
        match proto {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            p => Transport::Other(p),
        }
    }

    /// `tcp`, `udp`, `icmp`, `icmpv6`, or `ip` for the other IP protocols.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Other(1) => "icmp",
            Transport::Other(58) => "icmpv6",
            Transport::Other(_) => "ip",
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

/// One protocol's per-flow parser.
pub trait FlowParser: Default + Send + 'static {
    /// What the parser reports (PDUs with their pairing, problems), borrowing the bytes fed.
    type Event<'a>;

    /// The next stream bytes of one direction, captured at `now_ns`; events go to `f` in
    /// stream order.
    fn feed(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Self::Event<'_>),
    );

    /// Bytes are missing in `dir` before the next data.
    fn gap(&mut self, dir: Direction);

    /// One datagram; `Err` with a reason when the protocol does not run over datagrams.
    fn datagram(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Self::Event<'_>),
    ) -> Result<(), &'static str>;

    /// The flow ended: what is still open counts as unanswered.
    fn finish(&mut self);

    /// Running totals the sensor counts per protocol (unanswered requests, incomplete
    /// fragments), by name; they only grow.
    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64));

    /// Why this flow is not the protocol after all, once that is clear: the sensor stops
    /// feeding it and counts the reason.
    fn give_up(&self) -> Option<&'static str>;

    /// Most requests awaiting their answer the flow keeps (`[protocols.NAME]
    /// max_outstanding`); an older one is then counted unanswered and the request flagged a
    /// flood. Parsers that pair requests keep it; the default ignores it.
    fn set_max_outstanding(&mut self, _n: usize) {}

    /// Most octets of one message the flow reassembles from pieces (`[protocols.NAME]
    /// max_message`: COTP data units for S7comm and MMS, chunks for OPC UA); a longer one
    /// is given up. Parsers that reassemble keep it; the default ignores it.
    fn set_max_message(&mut self, _n: usize) {}
}

/// The per-flow caps a protocol is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most requests awaiting their answer a flow keeps.
    pub max_outstanding: usize,
    /// Most octets of one message reassembled from pieces; 0: the protocol's own cap.
    pub max_message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_outstanding: DEFAULT_MAX_OUTSTANDING,
            max_message: 0,
        }
    }
}

/// Most requests awaiting their answer a flow keeps, unless configured.
pub const DEFAULT_MAX_OUTSTANDING: usize = 64;

/// A configured cap, or the default when none was set (0).
pub fn outstanding_cap(n: usize) -> usize {
    if n == 0 {
        DEFAULT_MAX_OUTSTANDING
    } else {
        n
    }
}

/// The flow a handler parses.
#[derive(Debug, Clone, Copy)]
pub struct FlowEnds<'a> {
    /// Flow id: the index of the flow's first packet in the input.
    pub id: u64,
    /// The initiator.
    pub client: &'a Peer,
    /// The responder.
    pub server: &'a Peer,
}

/// Where a protocol's handler reports, for the packet being handled.
pub trait Reporter {
    /// The flow.
    fn flow(&self) -> FlowEnds<'_>;
    /// Capture time of the packet that carried this data (or of the flow's end).
    fn ts(&self) -> Timestamp;
    /// Index of that packet in the input (orders events deterministically).
    fn packet_index(&self) -> u64;
    /// This protocol's counters.
    fn counters(&mut self) -> &mut ProtoCounters;
    /// Hands a normalized message to the detector.
    fn observe(&mut self, m: &Message);
    /// Counts a parse error of `protocol` (`what` failed) and tells the detector.
    fn parse_error(&mut self, protocol: &'static str, what: &'static str);
    /// Whether event lines are wanted (`--events`, or a Sigma rule on some protocol).
    fn events_enabled(&self) -> bool;
    /// Whether the event lines of `protocol` are wanted (`--events`, or a Sigma rule on
    /// it): handlers check it before building an event.
    fn events_for(&self, protocol: &str) -> bool {
        let _ = protocol;
        self.events_enabled()
    }
    /// The per-flow caps of this protocol.
    fn limits(&self) -> Limits {
        Limits::default()
    }
    /// One event: written as a line when events are recorded, read by the rules of its
    /// protocol when there are any.
    fn event(&mut self, ev: &dyn Record);
}

/// An event line: the fields of its [`Message`], then the protocol's own (the event struct
/// skips its message field when serialized; [`write_event`] puts the two together).
pub trait Event: Serialize {
    /// The message the event is about.
    fn message(&self) -> &Message;
}

/// Appends `ev` as an event line, if event lines are wanted.
pub fn emit<T: Event>(sink: &mut dyn Reporter, ev: &T) {
    if sink.events_for(ev.message().protocol) {
        sink.event(&EventRecord {
            msg: ev.message(),
            extra: ev,
        });
    }
}

/// An event as a [`Record`]: its message's fields, then its own.
struct EventRecord<'a, X: ?Sized> {
    msg: &'a Message,
    extra: &'a X,
}

impl<X: Serialize + ?Sized> Record for EventRecord<'_, X> {
    fn service(&self) -> &'static str {
        self.msg.protocol
    }
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_event(out, self.msg, self.extra)
    }
    /// The message's fields read directly; the protocol's own walked only when a rule
    /// names one (a rule on `function_code` and `src.ip` never looks further).
    fn pick(&self, fields: &Fields, out: &mut Picked) -> serde_json::Result<()> {
        self.msg.pick(fields, out)?;
        if fields.beyond_message() {
            pick_fields(self.extra, fields, out)?;
        }
        Ok(())
    }
}

/// Writes one JSON object: the message's fields, then `extra`'s — what `#[serde(flatten)]`
/// writes, without its cost (serde's flatten goes through a map serializer field by field).
pub fn write_event<X: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    msg: &Message,
    extra: &X,
) -> serde_json::Result<()> {
    msg.write_json(buf)?;
    // `{...}` without its `}`: the extra fields follow.
    buf.pop();
    let at = buf.len();
    serde_json::to_writer(&mut *buf, extra)?;
    if buf.len() - at <= 2 {
        // `{}`: no fields of its own.
        buf.truncate(at);
        buf.push(b'}');
    } else if let Some(b) = buf.get_mut(at) {
        *b = b',';
    }
    Ok(())
}

/// Sender and receiver of a PDU travelling in `dir` on the flow.
pub fn endpoints(flow: &FlowEnds<'_>, dir: Direction) -> (Peer, Peer) {
    match dir {
        Direction::Request => (*flow.client, *flow.server),
        Direction::Response => (*flow.server, *flow.client),
    }
}

/// A message skeleton of `protocol` with the flow's fields filled in.
pub fn message(
    protocol: &'static str,
    sink: &dyn Reporter,
    dir: Direction,
    operation: Operation,
) -> Message {
    let flow = sink.flow();
    let (src, dst) = endpoints(&flow, dir);
    Message {
        ts: sink.ts(),
        protocol,
        direction: dir,
        flow_id: flow.id,
        packet: sink.packet_index().saturating_add(1),
        src,
        dst,
        function_code: None,
        function: None,
        sub_function: None,
        sub_function_name: None,
        operation,
        unit: None,
        addresses: Vec::new(),
        exception_code: None,
        exception: None,
        flags: Vec::new(),
        request: None,
        identity: None,
        io: None,
    }
}

/// A protocol's per-flow handler, as the sensor drives it.
pub trait Handler: Send {
    /// The next bytes of one direction of a TCP stream, or a gap in it.
    fn on_stream(
        &mut self,
        sink: &mut dyn Reporter,
        dir: Direction,
        ev: StreamEvent<'_>,
    ) -> Verdict;

    /// One UDP datagram.
    fn on_datagram(&mut self, sink: &mut dyn Reporter, dir: Direction, payload: &[u8]) -> Verdict;

    /// The flow ended (FIN/RST, idle timeout, eviction or end of input).
    fn on_end(&mut self, _sink: &mut dyn Reporter) {}
}

/// A protocol's side of [`Driver`]: how its parser's events become messages, event lines and
/// counters.
pub trait Adapter: 'static {
    /// The protocol's per-flow parser.
    type Parser: FlowParser;
    /// What [`Adapter::handle`] needs from the parser's state, read before each feed (S7:
    /// the rack and slot of the connection).
    type Context: Copy;

    /// The context now.
    fn context(parser: &Self::Parser) -> Self::Context;

    /// One event of the parser, from data travelling in `dir`.
    fn handle(
        sink: &mut dyn Reporter,
        dir: Direction,
        c: Self::Context,
        e: <Self::Parser as FlowParser>::Event<'_>,
    );
}

/// Most running totals a parser reports ([`FlowParser::tallies`]).
const MAX_TALLIES: usize = 4;

/// The handler of every protocol: drives the adapter's parser, counts its running totals and
/// abandons the flow when the parser gives up.
pub struct Driver<A: Adapter> {
    parser: A::Parser,
    /// The totals already counted, in the order the parser reports them.
    reported: [u64; MAX_TALLIES],
    /// Whether the parser has its limits (given on the first call).
    limited: bool,
}

impl<A: Adapter> Driver<A> {
    /// A handler for a new flow (a descriptor's `new_handler`).
    pub fn boxed() -> Box<dyn Handler> {
        Box::new(Driver::<A> {
            parser: A::Parser::default(),
            reported: [0; MAX_TALLIES],
            limited: false,
        })
    }

    /// Gives the parser the configured limits, once.
    fn limit(&mut self, sink: &dyn Reporter) {
        if !self.limited {
            self.limited = true;
            let l = sink.limits();
            self.parser.set_max_outstanding(l.max_outstanding);
            if l.max_message > 0 {
                self.parser.set_max_message(l.max_message);
            }
        }
    }

    /// Counts what the running totals grew by since the last report.
    fn report(&mut self, sink: &mut dyn Reporter) {
        let mut k = 0;
        let reported = &mut self.reported;
        self.parser.tallies(&mut |name, n| {
            debug_assert!(k < MAX_TALLIES, "more tallies than MAX_TALLIES");
            if let Some(r) = reported.get_mut(k) {
                if n > *r {
                    *sink.counters().other.entry(name).or_default() += n - *r;
                    *r = n;
                }
            }
            k += 1;
        });
    }
}

impl<A: Adapter> Handler for Driver<A> {
    fn on_stream(
        &mut self,
        sink: &mut dyn Reporter,
        dir: Direction,
        ev: StreamEvent<'_>,
    ) -> Verdict {
        self.limit(sink);
        match ev {
            StreamEvent::Gap(_) => self.parser.gap(dir),
            StreamEvent::Data(d) => {
                let now = sink.ts().as_nanos();
                let c = A::context(&self.parser);
                self.parser
                    .feed(dir, d, now, &mut |e| A::handle(sink, dir, c, e));
            }
        }
        self.report(sink);
        match self.parser.give_up() {
            Some(reason) => Verdict::Abandon(reason),
            None => Verdict::Continue,
        }
    }

    fn on_datagram(&mut self, sink: &mut dyn Reporter, dir: Direction, payload: &[u8]) -> Verdict {
        self.limit(sink);
        let now = sink.ts().as_nanos();
        let c = A::context(&self.parser);
        match self
            .parser
            .datagram(dir, payload, now, &mut |e| A::handle(sink, dir, c, e))
        {
            Err(reason) => Verdict::Abandon(reason),
            Ok(()) => {
                self.report(sink);
                Verdict::Continue
            }
        }
    }

    fn on_end(&mut self, sink: &mut dyn Reporter) {
        self.parser.finish();
        self.report(sink);
    }
}
