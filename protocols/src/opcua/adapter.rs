//! OPC UA in the sensor: chunks framed per direction, one message and event per chunk, with
//! `function_code` the service's encoding node id; responses paired with their requests by
//! request handle; the application a server describes (GetEndpoints) as its identity.

use std::borrow::Cow;

use serde::Serialize;

use super::{codes, Chunk, Pairing};
use crate::flow::{emit, message, Adapter, FlowParser, Probe, ProbeMode, Reporter, Transport};
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

/// A message arriving in more than one chunk: its first chunk with the later chunks' bodies
/// appended, until the final chunk.
#[derive(Debug)]
struct Partial {
    request_id: u32,
    bytes: Vec<u8>,
    chunks: u32,
}

/// Most octets of one message reassembled from chunks, unless configured (`[protocols.opcua]
/// max_message`); a longer one is given up (its chunks stay events without a service).
const MAX_MESSAGE: usize = 4 << 20;
/// Where a symmetric (MSG) chunk's body starts: header, channel and token ids, sequence
/// header.
const MSG_BODY: usize = 24;

struct Collect<'p> {
    events: Vec<Event>,
    partial: &'p mut Option<Partial>,
    /// Messages given up (too long, aborted, or a new one before the last ended).
    abandoned: u64,
    /// Most octets of one message.
    max_message: usize,
}

impl Collect<'_> {
    /// A whole chunk: an intermediate one is kept until its message's final chunk, which is
    /// read with the bodies before it.
    fn whole(&mut self, raw: &[u8]) -> Event {
        let is_msg = raw.get(..3) == Some(b"MSG");
        let (chunk_type, request_id) = (raw.get(3).copied(), super::u32_le(raw, 20));
        let continues = |p: &Option<Partial>| {
            is_msg && p.as_ref().map(|p| Some(p.request_id)) == Some(request_id)
        };
        match (chunk_type, is_msg) {
            (Some(b'C'), true) => {
                let body = raw.get(MSG_BODY..).unwrap_or_default();
                if continues(self.partial) {
                    if let Some(p) = self.partial.as_mut() {
                        p.bytes.extend_from_slice(body);
                        p.chunks += 1;
                    }
                } else {
                    self.abandoned += u64::from(self.partial.is_some());
                    *self.partial = request_id.map(|request_id| Partial {
                        request_id,
                        bytes: raw.to_vec(),
                        chunks: 1,
                    });
                }
                if self
                    .partial
                    .as_ref()
                    .is_some_and(|p| p.bytes.len() > self.max_message)
                {
                    *self.partial = None;
                    self.abandoned += 1;
                }
                // An intermediate chunk: what its header shows, no service.
                let mut c = super::header_only(raw);
                c.encrypted = false;
                Event::Chunk(Box::new(c), None)
            }
            (Some(b'F'), true) if continues(self.partial) => {
                let Some(mut p) = self.partial.take() else {
                    return Event::Malformed;
                };
                p.bytes
                    .extend_from_slice(raw.get(MSG_BODY..).unwrap_or_default());
                let size = u32::try_from(p.bytes.len())
                    .unwrap_or(u32::MAX)
                    .to_le_bytes();
                if let Some(h) = p.bytes.get_mut(3..8) {
                    h.copy_from_slice(&[b'F', size[0], size[1], size[2], size[3]]);
                }
                match super::chunk(&p.bytes) {
                    Some(mut c) => {
                        // The final chunk as it came, the message's service read whole.
                        let last = super::header_only(raw);
                        (c.size, c.sequence) = (last.size, last.sequence);
                        c.chunks = Some(p.chunks + 1);
                        Event::Chunk(Box::new(c), None)
                    }
                    None => Event::Malformed,
                }
            }
            (Some(b'A'), true) if continues(self.partial) => {
                *self.partial = None;
                self.abandoned += 1;
                chunk_event(raw)
            }
            _ => chunk_event(raw),
        }
    }
}

fn chunk_event(raw: &[u8]) -> Event {
    match super::chunk(raw) {
        Some(c) => Event::Chunk(Box::new(c), None),
        None => Event::Malformed,
    }
}

impl Frames for Collect<'_> {
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
        let e = match rest.get(..size) {
            Some(raw) => self.whole(raw),
            None => Event::Malformed,
        };
        self.events.push(e);
        Step::Frame(size)
    }
    fn problem(&mut self, p: Problem<()>) {
        self.events.push(match p {
            Problem::Malformed(()) => Event::Malformed,
            Problem::Skipped(n) => Event::Skipped(n),
        });
    }
}

/// One connection's framing and pairing.
#[derive(Debug, Default)]
pub struct OpcuaFlow {
    framers: [Framer; 2],
    partial: [Option<Partial>; 2],
    pairing: Pairing,
    abandoned: u64,
    /// Most octets of one message reassembled from chunks (0: [`MAX_MESSAGE`]).
    max_message: usize,
}

impl FlowParser for OpcuaFlow {
    type Event<'a> = Event;

    fn set_max_outstanding(&mut self, n: usize) {
        self.pairing.set_cap(n);
    }

    fn set_max_message(&mut self, n: usize) {
        self.max_message = n;
    }

    fn feed(&mut self, dir: Direction, data: &[u8], now_ns: i64, f: &mut dyn FnMut(Event)) {
        let i = usize::from(dir == Direction::Response);
        let (Some(fr), Some(partial)) = (self.framers.get_mut(i), self.partial.get_mut(i)) else {
            return;
        };
        let mut c = Collect {
            events: Vec::new(),
            partial,
            abandoned: 0,
            max_message: if self.max_message == 0 {
                MAX_MESSAGE
            } else {
                self.max_message
            },
        };
        fr.feed(&RULES, data, &mut c);
        self.abandoned += c.abandoned;
        for e in c.events {
            let e = match e {
                Event::Chunk(mut ch, _) => {
                    let mut sent = None;
                    if let (Some(h), Some(req)) = (ch.request_handle, ch.is_request()) {
                        if req {
                            let reads = std::mem::take(&mut ch.build_reads);
                            self.pairing.request(h, now_ns, reads);
                        } else if let Some(p) = self.pairing.response(h) {
                            sent = Some(p.ts_ns);
                            ch.build_info = build_info(&p.build_reads, &ch.read_values);
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
        // A message missing a chunk cannot be read whole.
        if let Some(p) = self
            .partial
            .get_mut(usize::from(dir == Direction::Response))
        {
            self.abandoned += u64::from(p.take().is_some());
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
        for p in &mut self.partial {
            self.abandoned += u64::from(p.take().is_some());
        }
    }

    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("unanswered_requests", self.pairing.unanswered);
        f("unfinished_messages", self.abandoned);
    }

    fn give_up(&self) -> Option<&'static str> {
        self.framers
            .iter()
            .any(|fr| fr.not_this_protocol(&RULES))
            .then_some("not_opcua")
    }
}

/// What a ReadResponse's `values` say about the server's build, given the nodes its Read
/// asked for (`reads`, by index).
fn build_info(reads: &[(u8, u32)], values: &[(u8, super::ReadValue)]) -> Option<super::BuildInfo> {
    let mut b = super::BuildInfo::default();
    for (i, node) in reads {
        if let Some((_, v)) = values.iter().find(|(j, _)| j == i) {
            b.add(*node, v);
        }
    }
    (b != super::BuildInfo::default()).then_some(b)
}

/// OPC UA in the generic handler.
pub struct Opcua;

impl Adapter for Opcua {
    type Parser = OpcuaFlow;
    type Context = ();

    fn context(_: &OpcuaFlow) {}

    fn handle(ctx: &mut dyn Reporter, dir: Direction, (): (), e: Event) {
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

fn chunk(ctx: &mut dyn Reporter, dir: Direction, c: &Chunk, sent: Option<i64>) {
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
    // A server answering a Read of its build names its maker, product and software.
    if let Some(b) = &c.build_info {
        m.identity = Some(Identity {
            vendor: b.manufacturer.clone(),
            model: b.product_name.clone(),
            software_version: match (&b.software_version, &b.build_number) {
                (Some(v), Some(n)) if !n.is_empty() => Some(format!("{v} (build {n})")),
                (v, _) => v.clone(),
            },
            ..Identity::default()
        });
    }
    ctx.observe(&m);
    if ctx.events_for(m.protocol) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A MSG chunk of `body` with request id `id`.
    fn msg(kind: u8, id: u32, body: &[u8]) -> Vec<u8> {
        let mut f = vec![b'M', b'S', b'G', kind];
        f.extend(((body.len() + MSG_BODY) as u32).to_le_bytes());
        f.extend([1, 0, 0, 0, 2, 0, 0, 0]); // channel, token
        f.extend(id.to_le_bytes()); // sequence
        f.extend(id.to_le_bytes()); // request id
        f.extend(body);
        f
    }

    fn services(flow: &mut OpcuaFlow, data: &[u8]) -> Vec<(Option<u32>, Option<u32>)> {
        let mut got = Vec::new();
        flow.feed(Direction::Request, data, 0, &mut |e| {
            if let Event::Chunk(c, _) = e {
                got.push((c.service, c.chunks));
            }
        });
        got
    }

    /// A ReadRequest: type id 631, RequestHeader (handle 7), maxAge, timestamps, no nodes.
    fn read_request() -> Vec<u8> {
        let mut b = vec![0x01, 0x00, 0x77, 0x02, 0x00, 0x00];
        b.extend([0; 8]);
        b.extend(7u32.to_le_bytes());
        b.extend([0; 4]);
        b.extend((-1i32).to_le_bytes());
        b.extend([0; 4]);
        b.extend([0; 3]);
        b.extend([0; 12]);
        b.extend(0u32.to_le_bytes());
        b
    }

    #[test]
    fn a_message_in_three_chunks_is_read_whole_and_an_aborted_one_dropped() {
        let b = read_request();
        let (one, rest) = b.split_at(9);
        let (two, three) = rest.split_at(9);
        let mut flow = OpcuaFlow::default();
        let mut wire = msg(b'C', 5, one);
        wire.extend(msg(b'C', 5, two));
        wire.extend(msg(b'F', 5, three));
        assert_eq!(
            services(&mut flow, &wire),
            [(None, None), (None, None), (Some(631), Some(3))]
        );
        // Aborted after its first chunk: the abort is an event, the message dropped; a final
        // chunk of another message is read alone.
        let mut wire = msg(b'C', 6, one);
        wire.extend(msg(b'A', 6, &[0; 8]));
        wire.extend(msg(b'F', 7, &b));
        assert_eq!(
            services(&mut flow, &wire),
            [(None, None), (None, None), (Some(631), None)]
        );
        // A first chunk left unfinished at the end: counted.
        services(&mut flow, &msg(b'C', 8, one));
        flow.finish();
        let mut unfinished = 0;
        flow.tallies(&mut |k, v| {
            if k == "unfinished_messages" {
                unfinished = v;
            }
        });
        assert_eq!(unfinished, 2);
    }

    #[test]
    fn a_configured_max_message_gives_up_a_longer_message() {
        let b = read_request();
        let (one, two) = b.split_at(20);
        let mut wire = msg(b'C', 5, one);
        wire.extend(msg(b'F', 5, two));
        // Read whole under the default cap; given up past 40 octets (the first chunk alone
        // is 44), so the final chunk is read alone.
        let mut flow = OpcuaFlow::default();
        assert_eq!(services(&mut flow, &wire)[1], (Some(631), Some(2)));
        let mut flow = OpcuaFlow::default();
        flow.set_max_message(40);
        assert_eq!(services(&mut flow, &wire)[1].1, None);
        let mut unfinished = 0;
        flow.tallies(&mut |k, v| {
            if k == "unfinished_messages" {
                unfinished = v;
            }
        });
        assert_eq!(unfinished, 1);
    }
}
