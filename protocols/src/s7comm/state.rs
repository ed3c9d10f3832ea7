//! Per-flow S7 state: TPKT framing of each direction (with resync), COTP connection tracking
//! (TSAPs, rack and slot) and DT reassembly up to EOT, and job/ack_data pairing by PDU
//! reference.

use super::codes;
use super::parser::{
    frame_tpkt, parse_cotp, parse_s7, rack_slot, Cotp, Flags, S7Pdu, TpktError, S7PLUS_PROTOCOL_ID,
    S7_PROTOCOL_ID, TPKT_LEN,
};
use super::plus::{parse_plus, PlusPdu};
use super::szl::{self, Szl};
use crate::framing::{Framer, Frames, Problem, Rules, Step};
use crate::{Direction, Operation};

/// Largest S7 PDU reassembled from COTP DT TPDUs (S7comm negotiates at most 960 octets;
/// S7comm-plus messages are larger).
pub const MAX_PDU: usize = 65_536;
/// Most TPKT octets buffered per direction.
pub const MAX_BUFFER: usize = 2 * 65_536;
/// Octets scanned without one valid TPKT before a stream is declared not TPKT.
pub const NOT_TPKT_AFTER: usize = 1024;
/// Most jobs awaiting their ack_data per connection.
pub const MAX_OUTSTANDING: usize = crate::flow::DEFAULT_MAX_OUTSTANDING;

/// What an ack_data needs from its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInfo {
    /// PDU reference.
    pub pdu_ref: u16,
    /// Job function (or userdata group << 8 | subfunction for userdata).
    pub function: Option<u8>,
    /// Operation.
    pub operation: Operation,
    /// Capture time of the job, ns.
    pub ts_ns: i64,
}

/// One S7comm PDU with its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Request (job, userdata request) or response.
    pub direction: Direction,
    /// The PDU.
    pub pdu: S7Pdu<'a>,
    /// For an ack_data, its job.
    pub request: Option<RequestInfo>,
    /// SZL request or answer, for CPU-functions userdata.
    pub szl: Option<Szl>,
    /// COTP DT TPDUs the PDU was built from.
    pub tpdus: u32,
}

impl Record<'_> {
    /// The operation: an ack_data inherits its job's.
    pub fn operation(&self) -> Operation {
        match (&self.request, self.pdu.header.rosctr) {
            (Some(r), 3) => r.operation,
            _ => self.pdu.operation(),
        }
    }
}

/// What [`S7Flow`] reports. Events are handed to a callback one at a time and never stored,
/// so the size of the larger variants costs nothing worth an allocation.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Event<'a> {
    /// A COTP connection request/confirm or disconnect.
    Cotp {
        /// Request (CR, DR from the client) or response.
        direction: Direction,
        /// The TPDU.
        cotp: Cotp<'a>,
        /// The connection carries the ISO upper layers (MMS), not S7.
        iso: bool,
    },
    /// An ISO session SPDU (IEC 61850 MMS on port 102).
    Mms(MmsRecord),
    /// An S7comm PDU.
    S7(Record<'a>),
    /// An S7comm-plus PDU.
    Plus(Direction, PlusPdu<'a>),
    /// A COTP DT payload that is neither S7comm nor S7comm-plus (e.g. MMS on port 102).
    OtherPayload(u8),
    /// Octets that do not frame as TPKT/COTP.
    Malformed(TpktError),
    /// A TPKT payload that is not a COTP TPDU.
    BadCotp,
    /// Octets skipped while resynchronising.
    Skipped(usize),
}

#[derive(Debug, Default)]
struct DirState {
    framer: Framer,
    pdu: Vec<u8>,
    tpdus: u32,
    too_long: bool,
}

/// S7 state of one connection.
#[derive(Debug, Default)]
pub struct S7Flow {
    dirs: [DirState; 2],
    pending: Vec<RequestInfo>,
    /// Most jobs (and MMS requests) kept awaiting their answer (0: the default).
    max_outstanding: usize,
    /// Most octets of one PDU reassembled from COTP data units (0: [`MAX_PDU`]).
    max_pdu: usize,
    /// Rack and slot from the called TSAP of the connection request.
    pub rack_slot: Option<(u8, u8)>,
    /// Jobs never answered.
    pub unanswered: u64,
    /// The first COTP DT payload was neither S7comm, S7comm-plus nor an ISO session SPDU.
    pub foreign_payload: bool,
    seen_payload: bool,
    /// The connection carries the ISO upper layers and MMS (from its TSAPs, then its data).
    pub iso: bool,
    mms_pending: Vec<MmsRequest>,
    /// A COTP TPDU was read in some direction.
    framed: bool,
}

/// `rec` carrying `pdu`.
fn with(mut rec: MmsRecord, pdu: crate::mms::MmsPdu) -> MmsRecord {
    rec.pdu = Some(pdu);
    rec
}

/// An MMS request waiting for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmsRequest {
    /// Invoke id.
    pub invoke_id: u32,
    /// Confirmed service.
    pub service: u32,
    /// Operation.
    pub operation: Operation,
    /// Capture time, ns.
    pub ts_ns: i64,
}

/// One ISO session SPDU of an MMS connection with what it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct MmsRecord {
    /// Request (from the client) or response.
    pub direction: Direction,
    /// The session SPDU (`data`, `connect`, `accept`, `finish`, ...).
    pub spdu: &'static str,
    /// The ACSE APDU, if any (`aarq`, `aare`, `rlrq`, `rlre`, `abrt`).
    pub acse: Option<&'static str>,
    /// The association names MMS's application context.
    pub mms_context: bool,
    /// The MMS PDU, if one is carried and reads as one.
    pub pdu: Option<crate::mms::MmsPdu>,
    /// The MMS octets did not read as an MMS PDU.
    pub malformed: bool,
    /// The request a confirmed response or error answers.
    pub request: Option<MmsRequest>,
    /// The operation.
    pub operation: Operation,
}

/// TPKT framing, resynchronised on the next plausible TPKT + COTP header.
pub const RULES: Rules = Rules {
    keep: 5,
    give_up_after: NOT_TPKT_AFTER,
    max_buffer: MAX_BUFFER,
    plausible_header,
};

/// Framing's view of one direction of an S7 connection.
struct Tpkts<'s, 'f> {
    flow: &'s mut S7Flow,
    dir: Direction,
    now_ns: i64,
    f: &'f mut dyn FnMut(Event<'_>),
}

impl Frames for Tpkts<'_, '_> {
    type Error = TpktError;

    fn frame(&mut self, rest: &[u8]) -> Step<TpktError> {
        match frame_tpkt(rest) {
            Ok(Some((len, payload))) => {
                self.flow.on_tpkt(self.dir, payload, self.now_ns, self.f);
                Step::Frame(len)
            }
            Ok(None) => Step::Incomplete,
            Err(e) => Step::Error(e),
        }
    }

    fn problem(&mut self, p: Problem<TpktError>) {
        match p {
            Problem::Malformed(e) => (self.f)(Event::Malformed(e)),
            Problem::Skipped(n) => (self.f)(Event::Skipped(n)),
        }
    }
}

/// True when a TPKT header with a COTP TPDU type starts here.
pub fn plausible_header(b: &[u8]) -> bool {
    let Some(&[v, r, l0, l1, li, ty]) = b.get(..6) else {
        return false;
    };
    let len = u16::from_be_bytes([l0, l1]);
    v == 3
        && r == 0
        && len >= 7
        && usize::from(li) + 5 <= usize::from(len)
        && matches!(ty & 0xf0, 0xe0 | 0xd0 | 0xf0 | 0x80 | 0xc0)
}

/// Content probe: `None` when too short. The payload must start with TPKT and a COTP TPDU;
/// with `strict` (a port S7 does not own) a data TPDU must carry S7comm (0x32) or
/// S7comm-plus (0x72), or be a connection request naming both TSAPs.
pub fn probe(data: &[u8], strict: bool) -> Option<bool> {
    if data.len() < 6 {
        return if data.first().is_none_or(|&v| v == 3) {
            None
        } else {
            Some(false)
        };
    }
    if !plausible_header(data) {
        return Some(false);
    }
    if !strict {
        return Some(true);
    }
    let ty = data.get(5).copied().unwrap_or(0) & 0xf0;
    if ty == 0xe0 {
        // A connection request: S7 names both TSAPs (RDP's X.224 request, which also rides
        // TPKT/COTP, carries a cookie instead).
        let tpkt_len = data
            .get(2..4)
            .and_then(|l| <[u8; 2]>::try_from(l).ok())
            .map_or(0, |l| usize::from(u16::from_be_bytes(l)));
        let payload = data
            .get(TPKT_LEN..tpkt_len.min(data.len()))
            .unwrap_or_default();
        return Some(matches!(
            parse_cotp(payload),
            Ok(Cotp::Connect { params, .. }) if params.src_tsap.is_some() && params.dst_tsap.is_some()
        ));
    }
    let li = usize::from(data.get(4).copied().unwrap_or(0));
    data.get(TPKT_LEN + 1 + li)
        .map(|&p| ty == 0xf0 && (p == S7_PROTOCOL_ID || p == S7PLUS_PROTOCOL_ID))
}

impl S7Flow {
    /// State for a new connection.
    pub fn new() -> S7Flow {
        S7Flow::default()
    }

    /// True when a direction did not start with TPKT and no COTP TPDU was read in either:
    /// once one direction framed (a connection request was read), garbage in the other is
    /// skipped, not taken for another protocol.
    pub fn not_this_protocol(&self) -> bool {
        !self.framed && self.dirs.iter().any(|d| d.framer.not_this_protocol(&RULES))
    }

    fn on_tpkt(
        &mut self,
        dir: Direction,
        payload: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        let Ok(cotp) = parse_cotp(payload) else {
            f(Event::BadCotp);
            return;
        };
        self.framed = true;
        match cotp {
            Cotp::Data { eot, payload, .. } => self.on_data(dir, eot, payload, now_ns, f),
            Cotp::Connect {
                confirm, params, ..
            } => {
                // IEC 61850 names TSAPs 0x0001, 0x0002, ...; S7 a connection type and a
                // rack and slot (0x0102), or a name (S7comm-plus). The data decides later.
                let iso_tsap = |t: Option<&[u8]>| matches!(t, Some([0, _]));
                if !self.seen_payload && (iso_tsap(params.src_tsap) || iso_tsap(params.dst_tsap)) {
                    self.iso = true;
                }
                if !confirm && !self.iso {
                    if let Some(rs) = params.dst_tsap.and_then(rack_slot) {
                        self.rack_slot = Some(rs);
                    }
                }
                f(Event::Cotp {
                    direction: if confirm {
                        Direction::Response
                    } else {
                        Direction::Request
                    },
                    cotp,
                    iso: self.iso,
                });
            }
            _ => f(Event::Cotp {
                direction: dir,
                cotp,
                iso: self.iso,
            }),
        }
    }

    fn on_data(
        &mut self,
        dir: Direction,
        eot: bool,
        payload: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        let i = dir.index();
        let cap = if self.max_pdu == 0 {
            MAX_PDU
        } else {
            self.max_pdu
        };
        let Some(st) = self.dirs.get_mut(i) else {
            return;
        };
        // The common case: a whole PDU in one TPDU, parsed in place.
        let whole = st.pdu.is_empty() && eot;
        if !whole {
            let room = cap.saturating_sub(st.pdu.len());
            if payload.len() > room {
                st.too_long = true;
            }
            st.pdu
                .extend_from_slice(payload.get(..payload.len().min(room)).unwrap_or_default());
            st.tpdus += 1;
            if !eot {
                return;
            }
        }
        let (bytes, tpdus, too_long) = if whole {
            (Vec::new(), 1, false)
        } else {
            let b = std::mem::take(&mut st.pdu);
            let t = std::mem::replace(&mut st.tpdus, 0);
            let l = std::mem::replace(&mut st.too_long, false);
            (b, t, l)
        };
        let pdu: &[u8] = if whole { payload } else { &bytes };
        self.on_pdu(dir, pdu, tpdus, too_long, now_ns, f);
        if !whole {
            if let Some(st) = self.dirs.get_mut(i) {
                let mut b = bytes;
                b.clear();
                st.pdu = b;
            }
        }
    }

    fn on_pdu(
        &mut self,
        dir: Direction,
        pdu: &[u8],
        tpdus: u32,
        too_long: bool,
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        let first = pdu.first().copied();
        let first_payload = !self.seen_payload;
        self.seen_payload = true;
        match first {
            Some(S7_PROTOCOL_ID) => {
                self.iso = false;
                let Some(mut p) = parse_s7(pdu) else { return };
                if too_long {
                    p.flags.insert(Flags::PDU_TOO_LONG);
                }
                let rec = self.pair(p, tpdus, now_ns);
                f(Event::S7(rec));
            }
            Some(S7PLUS_PROTOCOL_ID) => {
                self.iso = false;
                let p = parse_plus(pdu);
                let d = match p.opcode {
                    Some(0x31) => Direction::Request,
                    Some(_) => Direction::Response,
                    None => dir,
                };
                f(Event::Plus(d, p));
            }
            Some(other) => match crate::mms::session(pdu).or_else(|| crate::mms::bare(pdu)) {
                Some(session) => {
                    self.iso = true;
                    let rec = self.mms_record(dir, session, now_ns);
                    f(Event::Mms(rec));
                }
                None => {
                    if first_payload {
                        self.foreign_payload = true;
                    }
                    f(Event::OtherPayload(other));
                }
            },
            None => {}
        }
    }

    /// An MMS connection's SPDU: its MMS PDU read and paired by invoke id.
    fn mms_record(&mut self, dir: Direction, s: crate::mms::Session<'_>, now_ns: i64) -> MmsRecord {
        use crate::mms::Kind;
        let pdu = s.mms.and_then(crate::mms::parse);
        let malformed = s.mms.is_some() && pdu.is_none();
        let mut rec = MmsRecord {
            direction: dir,
            spdu: s.spdu,
            acse: s.acse,
            mms_context: s.mms_context,
            pdu: None,
            malformed,
            request: None,
            operation: Operation::Session,
        };
        let Some(p) = pdu else { return rec };
        rec.direction = if p.kind.is_request() {
            Direction::Request
        } else if p.kind.is_answer() || p.kind == Kind::Unconfirmed {
            Direction::Response
        } else {
            dir
        };
        // What the PDU's own confirmed service does (a response answering nothing known
        // is judged by it too).
        let own = p
            .service
            .map(|n| crate::mms::codes::operation(n, p.control_object()));
        match (p.kind, p.invoke_id) {
            (Kind::ConfirmedRequest, id) => {
                let Some(op) = own else { return with(rec, p) };
                rec.operation = op;
                if let (Some(id), Some(service)) = (id, p.service) {
                    if let Some(k) = self.mms_pending.iter().position(|r| r.invoke_id == id) {
                        self.mms_pending.remove(k);
                        self.unanswered += 1;
                    }
                    if self.mms_pending.len() >= crate::flow::outstanding_cap(self.max_outstanding)
                    {
                        self.mms_pending.remove(0);
                        self.unanswered += 1;
                    }
                    self.mms_pending.push(MmsRequest {
                        invoke_id: id,
                        service,
                        operation: op,
                        ts_ns: now_ns,
                    });
                }
            }
            (Kind::ConfirmedResponse | Kind::ConfirmedError, Some(id)) => {
                match self.mms_pending.iter().position(|r| r.invoke_id == id) {
                    Some(k) => {
                        let r = self.mms_pending.remove(k);
                        rec.operation = r.operation;
                        rec.request = Some(r);
                    }
                    None => rec.operation = own.unwrap_or(rec.operation),
                }
            }
            (Kind::Unconfirmed, _) => rec.operation = Operation::Read,
            _ => {}
        }
        with(rec, p)
    }

    fn pair<'a>(&mut self, mut pdu: S7Pdu<'a>, tpdus: u32, now_ns: i64) -> Record<'a> {
        let h = pdu.header;
        let response_kind = pdu.userdata.is_some_and(|u| u.kind == 8 || u.kind == 0);
        let direction = match h.rosctr {
            1 => Direction::Request,
            7 if !response_kind => Direction::Request,
            _ => Direction::Response,
        };
        let mut request = None;
        match h.rosctr {
            1 => {
                if let Some(k) = self.pending.iter().position(|r| r.pdu_ref == h.pdu_ref) {
                    self.pending.remove(k);
                    self.unanswered += 1;
                }
                if self.pending.len() >= crate::flow::outstanding_cap(self.max_outstanding) {
                    self.pending.remove(0);
                    self.unanswered += 1;
                }
                crate::common::push_first_one(
                    &mut self.pending,
                    RequestInfo {
                        pdu_ref: h.pdu_ref,
                        function: pdu.function,
                        operation: pdu.operation(),
                        ts_ns: now_ns,
                    },
                );
            }
            2 | 3 => match self.pending.iter().position(|r| r.pdu_ref == h.pdu_ref) {
                Some(k) => request = Some(self.pending.remove(k)),
                None => pdu.flags.insert(Flags::UNPAIRED_RESPONSE),
            },
            _ => {}
        }
        let szl = match (&pdu.userdata, pdu.items.first()) {
            (Some(u), Some(item)) if u.group == 0x4 && u.subfunction == 0x01 => {
                szl::parse(item, direction == Direction::Response)
            }
            _ => None,
        };
        Record {
            direction,
            pdu,
            request,
            szl,
            tpdus,
        }
    }
}

impl crate::flow::FlowParser for S7Flow {
    fn set_max_outstanding(&mut self, n: usize) {
        self.max_outstanding = n;
    }

    fn set_max_message(&mut self, n: usize) {
        self.max_pdu = n;
    }

    type Event<'a> = Event<'a>;

    /// Feeds stream bytes of one direction captured at `now_ns`.
    fn feed(&mut self, dir: Direction, data: &[u8], now_ns: i64, f: &mut dyn FnMut(Event<'_>)) {
        let i = dir.index();
        crate::framing::with_framer(
            self,
            |fl: &mut S7Flow| fl.dirs.get_mut(i).map(|d| &mut d.framer),
            |framer, flow| {
                framer.feed(
                    &RULES,
                    data,
                    &mut Tpkts {
                        flow,
                        dir,
                        now_ns,
                        f,
                    },
                )
            },
        );
    }

    /// Bytes are missing in `dir`.
    fn gap(&mut self, dir: Direction) {
        if let Some(d) = self.dirs.get_mut(dir.index()) {
            d.framer.gap();
            d.pdu.clear();
            d.tpdus = 0;
        }
    }

    /// S7comm runs over TCP only.
    fn datagram(
        &mut self,
        _dir: Direction,
        _data: &[u8],
        _now_ns: i64,
        _f: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), &'static str> {
        Err("s7comm_over_udp")
    }

    /// The flow ended.
    fn finish(&mut self) {
        self.unanswered += (self.pending.len() + self.mms_pending.len()) as u64;
        self.pending.clear();
        self.mms_pending.clear();
    }

    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("unanswered_requests", self.unanswered);
    }

    /// A stream that is not TPKT, or ISO-on-TCP carrying something else (IEC 61850 MMS, ...).
    fn give_up(&self) -> Option<&'static str> {
        if self.not_this_protocol() {
            Some("not_tpkt")
        } else if self.foreign_payload {
            Some("cotp_payload_not_s7")
        } else {
            None
        }
    }
}

/// The CPU mode a mode-transition userdata push reports.
pub fn mode_transition(rec: &Record<'_>) -> Option<&'static str> {
    let u = rec.pdu.userdata?;
    (u.group == 0)
        .then(|| codes::cpu_mode_name(u.subfunction))
        .flatten()
}
