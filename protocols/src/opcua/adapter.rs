//! OPC UA in the sensor: chunks framed per direction, one message and event per chunk, with
//! `function_code` the service's encoding node id; responses paired with their requests by
//! request handle; the application a server describes (GetEndpoints) as its identity.

use std::borrow::Cow;

use serde::Serialize;

use super::{codes, Chunk, Pairing};
use crate::flow::{emit, message, Adapter, FlowParser, Probe, ProbeMode, Sink, Transport};
use crate::framing::{Framer, Frames, Problem, Rules, Step};
use crate::message::{Identity, Message, RequestRef};
use crate::time::Timestamp;
use crate::{Direction, Operation};

/// Name of OPC UA messages.
pub const OPCUA: &str = "opcua";

/// Most octets of one chunk (a receive buffer is at most this in practice).
const MAX_CHUNK: usize = 1 << 20;

const RULES: Rules = Rules {
    keep: 7,
    give_up_after: 4096,
    max_buffer: MAX_CHUNK,
    plausible_header: |b| super::header(b).is_some_and(|(_, _, n)| n <= MAX_CHUNK),
};

/// The content probe: a chunk header (HEL, ACK, OPN, MSG, CLO, ERR, RHE with F, C or A and a
/// plausible size) at the start of the payload.
pub fn probe(t: Transport, _d: Direction, data: &[u8], mode: ProbeMode) -> Probe {
    if t != Transport::Tcp {
        return Probe::NoMatch;
    }
    if data.len() < 8 {
        return if mode.own_port {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    }
    match super::header(data) {
        Some((_, _, n)) if n <= MAX_CHUNK => Probe::Match,
        _ if mode.own_port && mode.midstream => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// What the parser reports.
#[derive(Debug)]
pub enum Event {
    /// A chunk, and when its request was sent (a paired response).
    Chunk(Box<Chunk>, Option<i64>),
    /// Bytes that did not frame.
    Malformed,
    /// Bytes skipped.
    Skipped(usize),
}

#[derive(Default)]
struct Collect(Vec<Event>);

impl Frames for Collect {
    type Error = ();
    fn frame(&mut self, rest: &[u8]) -> Step<()> {
        let Some((_, _, size)) = super::header(rest) else {
            return if rest.len() < 8 {
                Step::Incomplete
            } else {
                Step::Error(())
            };
        };
        if size > MAX_CHUNK {
            return Step::Error(());
        }
        if rest.len() < size {
            return Step::Incomplete;
        }
        match rest.get(..size).and_then(super::chunk) {
            Some(c) => self.0.push(Event::Chunk(Box::new(c), None)),
            None => self.0.push(Event::Malformed),
        }
        Step::Frame(size)
    }
    fn problem(&mut self, p: Problem<()>) {
        self.0.push(match p {
            Problem::Malformed(()) => Event::Malformed,
            Problem::Skipped(n) => Event::Skipped(n),
        });
    }
}

/// One connection's framing and pairing.
#[derive(Debug, Default)]
pub struct OpcuaFlow {
    framers: [Framer; 2],
    pairing: Pairing,
}

impl FlowParser for OpcuaFlow {
    type Event<'a> = Event;

    fn feed(&mut self, dir: Direction, data: &[u8], now_ns: i64, f: &mut dyn FnMut(Event)) {
        let i = usize::from(dir == Direction::Response);
        let mut c = Collect::default();
        if let Some(fr) = self.framers.get_mut(i) {
            fr.feed(&RULES, data, &mut c);
        }
        for e in c.0 {
            let e = match e {
                Event::Chunk(ch, _) => {
                    let mut sent = None;
                    if let (Some(h), Some(req)) = (ch.request_handle, ch.is_request()) {
                        if req {
                            self.pairing.request(h, now_ns);
                        } else {
                            sent = self.pairing.response(h).map(|p| p.ts_ns);
                        }
                    }
                    Event::Chunk(ch, sent)
                }
                e => e,
            };
            f(e);
        }
    }

    fn gap(&mut self, dir: Direction) {
        if let Some(fr) = self
            .framers
            .get_mut(usize::from(dir == Direction::Response))
        {
            fr.gap();
        }
    }

    fn datagram(
        &mut self,
        _: Direction,
        _: &[u8],
        _: i64,
        _: &mut dyn FnMut(Event),
    ) -> Result<(), &'static str> {
        Err("opcua_over_udp")
    }

    fn finish(&mut self) {
        self.pairing.finish();
    }

    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("unanswered_requests", self.pairing.unanswered);
    }

    fn give_up(&self) -> Option<&'static str> {
        self.framers
            .iter()
            .any(|fr| fr.not_this_protocol(&RULES))
            .then_some("not_opcua")
    }
}

/// OPC UA in the generic handler.
pub struct Opcua;

impl Adapter for Opcua {
    type Parser = OpcuaFlow;
    type Context = ();

    fn context(_: &OpcuaFlow) {}

    fn handle(ctx: &mut dyn Sink, dir: Direction, (): (), e: Event) {
        match e {
            Event::Chunk(c, sent) => chunk(ctx, dir, &c, sent),
            Event::Malformed => {
                ctx.parse_error(OPCUA, "bad_chunk");
                ctx.counters().bump("bad_chunk");
            }
            Event::Skipped(n) => {
                *ctx.counters().other.entry("skipped_bytes").or_default() += n as u64;
            }
        }
    }
}

fn chunk(ctx: &mut dyn Sink, dir: Direction, c: &Chunk, sent: Option<i64>) {
    ctx.counters().pdus += 1;
    if c.encrypted {
        ctx.counters().bump("encrypted_chunks");
    }
    let operation = match (c.message_type, c.service) {
        (_, Some(s)) => codes::operation(s),
        ("HEL" | "ACK" | "ERR" | "RHE" | "OPN" | "CLO", _) => Operation::Session,
        _ => Operation::Other,
    };
    let mut m = message(OPCUA, ctx, dir, operation);
    match c.service {
        Some(s) => {
            m.function_code = u16::try_from(s).ok();
            m.function = codes::service_name(s).map(Cow::Borrowed);
        }
        None => m.function = Some(Cow::Borrowed(c.message_type)),
    }
    // What the rules judge: an OpenSecureChannel's security mode, an ActivateSession's
    // user token.
    if let Some(mode) = c.security_mode {
        m.sub_function = u16::try_from(mode).ok();
        m.sub_function_name = Some(Cow::Borrowed(codes::security_mode(mode)));
    }
    if let Some(t) = c.user_token {
        m.sub_function_name = Some(Cow::Borrowed(t));
    }
    if c.security_policy
        .as_deref()
        .is_some_and(|p| p.ends_with("#None"))
    {
        m.flags.push("security_none");
    }
    if c.encrypted {
        m.flags.push("encrypted");
    }
    if let Some(r) = c.service_result.filter(|r| r & 0x8000_0000 != 0) {
        m.exception = Some("bad_status");
        m.exception_code = u16::try_from(r >> 16).ok();
    }
    if c.message_type == "ERR" {
        m.exception = Some("error");
    }
    if let Some(t) = sent {
        m.request = Some(RequestRef {
            ts: Timestamp::from_nanos(t),
            latency_us: ctx.ts().as_nanos().saturating_sub(t) / 1000,
        });
    }
    // A server describing itself (GetEndpoints answer) names the sender; a client's own
    // description (CreateSession) stays in the event.
    if let (Some(a), Some(431)) = (&c.application, c.service) {
        m.identity = Some(Identity {
            name: a.name.clone(),
            model: a.product_uri.clone(),
            ..Identity::default()
        });
    }
    ctx.observe(&m);
    if ctx.events_enabled() {
        emit(ctx, &OpcuaEvent { msg: &m, chunk: c });
    }
}

/// One `--events` line for a chunk.
#[derive(Serialize)]
struct OpcuaEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    #[serde(flatten)]
    chunk: &'a Chunk,
}

impl crate::flow::Event for OpcuaEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}
