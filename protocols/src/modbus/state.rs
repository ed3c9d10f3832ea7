//! Per-flow Modbus/TCP state: stream framing per direction (with resync after gaps and
//! detection of streams that are not Modbus at all) and request/response pairing by
//! (transaction id, unit id).

use super::codes::{FunctionCode, Table};
use super::parser::{
    parse_adu, parse_pdu, plausible_header, Adu, Body, Error, Flags, Mbap, Pdu, MAX_ADU_LEN,
    MBAP_LEN,
};
use crate::framing::{Framer, Frames, Problem, Rules, Step};
use crate::{Direction, Operation};

/// Most bytes a direction buffers: one partial ADU plus one more.
pub const MAX_BUFFER: usize = 2 * MAX_ADU_LEN;
/// Bytes scanned without finding a single valid ADU before a stream is declared not Modbus.
pub const NOT_MODBUS_AFTER: usize = 1024;
/// Most requests outstanding per flow; one more sets [`Flags::REQUEST_FLOOD`] and drops the
/// oldest.
pub const MAX_OUTSTANDING: usize = crate::flow::DEFAULT_MAX_OUTSTANDING;
/// A request unanswered this long (ns of capture time) is counted as unanswered and dropped.
pub const REQUEST_TIMEOUT_NS: i64 = 30_000_000_000;

/// Modbus/TCP framing: MBAP headers, resynchronised on the next plausible header.
pub const RULES: Rules = Rules {
    keep: MBAP_LEN,
    give_up_after: NOT_MODBUS_AFTER,
    max_buffer: MAX_BUFFER,
    plausible_header,
};

/// Frames `data` (one direction's next bytes) into ADUs, each paired and handed to `f` as a
/// record, with what did not frame.
fn feed_adus(
    framer: &mut Framer,
    pairing: &mut Pairing,
    dir: Direction,
    data: &[u8],
    now_ns: i64,
    f: &mut dyn FnMut(Event<'_>),
) {
    framer.feed(
        &RULES,
        data,
        &mut Adus {
            pairing,
            dir,
            now_ns,
            f,
        },
    );
}

/// Framing's view of a Modbus direction.
struct Adus<'p, 'f> {
    pairing: &'p mut Pairing,
    dir: Direction,
    now_ns: i64,
    f: &'f mut dyn FnMut(Event<'_>),
}

impl Frames for Adus<'_, '_> {
    type Error = Error;

    fn frame(&mut self, rest: &[u8]) -> Step<Error> {
        match parse_adu(rest) {
            Ok((after, adu)) => {
                (self.f)(Event::Pdu(record(self.pairing, self.dir, adu, self.now_ns)));
                Step::Frame(rest.len() - after.len())
            }
            Err(nom::Err::Incomplete(_)) => Step::Incomplete,
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Step::Error(e),
        }
    }

    fn problem(&mut self, p: Problem<Error>) {
        match p {
            Problem::Malformed(e) => (self.f)(Event::Malformed(self.dir, e)),
            Problem::Skipped(n) => (self.f)(Event::Skipped(self.dir, n)),
        }
    }
}

/// What a response needs to know about its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInfo {
    /// Transaction id.
    pub transaction_id: u16,
    /// Unit id.
    pub unit_id: u8,
    /// Function code.
    pub function: u8,
    /// Operation of the request (refined by sub-function).
    pub operation: Operation,
    /// Sub-function (8, 43, 90).
    pub sub_function: Option<u16>,
    /// Table and range read (reads, and the read part of 23).
    pub read: Option<(Table, u16, u16)>,
    /// Table and range written.
    pub write: Option<(Table, u16, u16)>,
    /// Capture time of the request, ns.
    pub ts_ns: i64,
}

impl RequestInfo {
    fn of(h: &Mbap, pdu: &Pdu<'_>, ts_ns: i64) -> RequestInfo {
        let table = pdu.function.table();
        let (read, write) = match (&pdu.body, table) {
            (Body::ReadRequest { address, quantity }, Some(t)) => {
                (Some((t, *address, *quantity)), None)
            }
            (
                Body::ReadWriteRequest {
                    read_address,
                    read_quantity,
                    ..
                },
                Some(t),
            ) => (Some((t, *read_address, *read_quantity)), pdu.range()),
            _ => (None, pdu.range()),
        };
        RequestInfo {
            transaction_id: h.transaction_id,
            unit_id: h.unit_id,
            function: pdu.function.raw,
            operation: pdu.operation(),
            sub_function: pdu.sub_function(),
            read,
            write,
            ts_ns,
        }
    }
}

/// Outstanding requests of a flow.
#[derive(Debug, Default)]
pub struct Pairing {
    pending: Vec<RequestInfo>,
    /// Most requests kept awaiting their answer (0: the default).
    pub max_outstanding: usize,
    /// Requests that timed out or were still open when the flow ended.
    pub unanswered: u64,
}

impl Pairing {
    fn expire(&mut self, now_ns: i64) {
        let before = self.pending.len();
        self.pending
            .retain(|r| now_ns.saturating_sub(r.ts_ns) <= REQUEST_TIMEOUT_NS);
        self.unanswered += (before - self.pending.len()) as u64;
    }

    /// Records a request; returns flags for flooding and reused transaction ids.
    pub fn request(&mut self, info: RequestInfo, now_ns: i64) -> Flags {
        self.expire(now_ns);
        let mut flags = Flags::default();
        if let Some(i) = self
            .pending
            .iter()
            .position(|r| r.transaction_id == info.transaction_id && r.unit_id == info.unit_id)
        {
            self.pending.remove(i);
            self.unanswered += 1;
            flags.insert(Flags::DUPLICATE_TRANSACTION);
        }
        if self.pending.len() >= crate::flow::outstanding_cap(self.max_outstanding) {
            self.pending.remove(0);
            self.unanswered += 1;
            flags.insert(Flags::REQUEST_FLOOD);
        }
        crate::common::push_first_one(&mut self.pending, info);
        flags
    }

    /// Takes the request a response answers.
    pub fn response(&mut self, h: &Mbap, now_ns: i64) -> Option<RequestInfo> {
        let i = self
            .pending
            .iter()
            .position(|r| r.transaction_id == h.transaction_id && r.unit_id == h.unit_id);
        let found = i.map(|i| self.pending.remove(i));
        self.expire(now_ns);
        found
    }

    /// The flow ended: whatever is still open was never answered.
    pub fn finish(&mut self) {
        self.unanswered += self.pending.len() as u64;
        self.pending.clear();
    }
}

/// Cross-checks a response against its request.
fn check_response(req: &RequestInfo, pdu: &Pdu<'_>) -> Flags {
    let mut flags = Flags::default();
    if req.function != pdu.function.raw {
        flags.insert(Flags::RESPONSE_MISMATCH);
        return flags;
    }
    match (&pdu.body, req.read) {
        (Body::ReadResponse { byte_count, .. }, Some((t, _, q))) => {
            let want = if t.is_bits() {
                super::parser::bit_bytes(q)
            } else {
                usize::from(q) * 2
            };
            if usize::from(*byte_count) != want {
                flags.insert(Flags::BYTE_COUNT_MISMATCH);
            }
        }
        (Body::WriteMultipleResponse { address, quantity }, _)
            if req
                .write
                .is_some_and(|(_, a, q)| (a, q) != (*address, *quantity)) =>
        {
            flags.insert(Flags::ECHO_MISMATCH);
        }
        _ => {}
    }
    flags
}

/// One PDU with its header, its paired request (for responses) and all its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Direction of travel.
    pub direction: Direction,
    /// MBAP header.
    pub header: Mbap,
    /// The PDU (its `flags` include the pairing checks).
    pub pdu: Pdu<'a>,
    /// For a response, the request it answers.
    pub request: Option<RequestInfo>,
}

impl Record<'_> {
    /// The operation: a response inherits its request's (UMAS responses carry no function).
    pub fn operation(&self) -> Operation {
        match (self.direction, &self.request) {
            (Direction::Response, Some(r)) => r.operation,
            _ => self.pdu.operation(),
        }
    }
}

/// What [`ModbusFlow`] reports.
#[derive(Debug)]
pub enum Event<'a> {
    /// A PDU.
    Pdu(Record<'a>),
    /// Bytes that could not be framed.
    Malformed(Direction, Error),
    /// Bytes skipped while resynchronising.
    Skipped(Direction, usize),
}

/// Modbus state of one connection.
#[derive(Debug, Default)]
pub struct ModbusFlow {
    framers: [Framer; 2],
    /// Outstanding requests.
    pub pairing: Pairing,
}

impl ModbusFlow {
    /// State for a new connection.
    pub fn new() -> ModbusFlow {
        ModbusFlow::default()
    }

    /// True when a direction has shown only non-Modbus bytes.
    pub fn not_this_protocol(&self) -> bool {
        self.framers.iter().any(|f| f.not_this_protocol(&RULES))
    }

    /// Feeds one UDP datagram (Modbus/UDP: whole ADUs, no stream state kept).
    pub fn datagram(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        feed_adus(
            &mut Framer::default(),
            &mut self.pairing,
            dir,
            data,
            now_ns,
            f,
        );
    }
}

impl crate::flow::FlowParser for ModbusFlow {
    fn set_max_outstanding(&mut self, n: usize) {
        self.pairing.max_outstanding = n;
    }

    type Event<'a> = Event<'a>;

    /// Feeds stream bytes of one direction captured at `now_ns`.
    fn feed(&mut self, dir: Direction, data: &[u8], now_ns: i64, f: &mut dyn FnMut(Event<'_>)) {
        let ModbusFlow { framers, pairing } = self;
        if let Some(framer) = framers.get_mut(dir.index()) {
            feed_adus(framer, pairing, dir, data, now_ns, f);
        }
    }

    /// Bytes are missing in direction `dir`.
    fn gap(&mut self, dir: Direction) {
        if let Some(f) = self.framers.get_mut(dir.index()) {
            f.gap();
        }
    }

    fn datagram(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), &'static str> {
        ModbusFlow::datagram(self, dir, data, now_ns, f);
        Ok(())
    }

    /// The connection ended.
    fn finish(&mut self) {
        self.pairing.finish();
    }

    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("unanswered_requests", self.pairing.unanswered);
    }

    fn give_up(&self) -> Option<&'static str> {
        self.not_this_protocol().then_some("not_modbus")
    }
}

fn record<'a>(pairing: &mut Pairing, dir: Direction, adu: Adu<'a>, now_ns: i64) -> Record<'a> {
    let mut pdu = parse_pdu(adu.pdu, dir);
    if adu.header.length > super::codes::limits::MAX_MBAP_LENGTH {
        pdu.flags.insert(Flags::LENGTH_OVER_SPEC);
    }
    let request = match dir {
        Direction::Request => {
            let info = RequestInfo::of(&adu.header, &pdu, now_ns);
            let f = pairing.request(info, now_ns);
            pdu.flags.insert(f);
            None
        }
        Direction::Response => {
            let req = pairing.response(&adu.header, now_ns);
            match &req {
                Some(r) => {
                    let f = check_response(r, &pdu);
                    pdu.flags.insert(f);
                }
                None => pdu.flags.insert(Flags::UNPAIRED_RESPONSE),
            }
            req
        }
    };
    Record {
        direction: dir,
        header: adu.header,
        pdu,
        request,
    }
}

/// Content probe for the registry: does this payload look like Modbus/TCP? `None` when too
/// short to tell. The payload must start with a plausible MBAP header, or — for a stream
/// picked up `midstream` on Modbus's own port — contain one within the first ADU's worth of
/// bytes. With `strict` (a port Modbus does not own) the header must be at the start, its
/// ADU must fit, and its function code must be assigned or an exception.
pub fn probe(data: &[u8], strict: bool, midstream: bool) -> Option<bool> {
    if data.len() < MBAP_LEN + 1 {
        return None;
    }
    let window = if midstream && !strict {
        data.len().min(MAX_ADU_LEN)
    } else {
        1
    };
    Some((0..window).any(|i| {
        let rest = data.get(i..).unwrap_or_default();
        plausible_header(rest)
            && (!strict
                || parse_adu(rest)
                    .is_ok_and(|(_, a)| a.pdu.first().is_some_and(|&fc| is_known_or_exception(fc))))
    }))
}

fn is_known_or_exception(fc: u8) -> bool {
    let f = FunctionCode { raw: fc & 0x7f };
    fc & 0x80 != 0 || !matches!(f.class(), super::codes::CodeClass::Unassigned)
}
