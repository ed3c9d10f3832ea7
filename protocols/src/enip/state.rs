//! Per-flow EtherNet/IP state: encapsulation framing of each direction (through
//! [`crate::framing`]), the session handle, CIP explicit messages unwrapped (Multiple Service
//! Packet, Unconnected Send: each inner service is its own message) and paired with their
//! replies (unconnected by sender context, connected by sequence count), Forward Open/Close,
//! identity answers, and implicit I/O datagrams (UDP 2222) recognised per connection id.

use super::codes::{command, item, service};
use super::parser::{
    self, cip, frame, multiple_service, plausible_header, Cip, Connection, Flags, FragmentRequest,
    FrameError, Header, Identity, Path, HEADER_LEN,
};
use crate::framing::{Framer, Frames, Problem, Rules, Step};
use crate::Direction;

/// The UDP port of implicit (class 0/1) I/O.
pub const IO_PORT: u16 = 2222;
/// Bytes scanned without one valid encapsulation header before a stream is not EtherNet/IP.
pub const NOT_ENIP_AFTER: usize = 1024;
/// Most requests awaiting their reply per connection.
pub const MAX_OUTSTANDING: usize = crate::flow::DEFAULT_MAX_OUTSTANDING;
/// Most implicit I/O connection ids remembered per flow.
pub const MAX_IO_CONNECTIONS: usize = 64;
/// Deepest nesting unwrapped (Unconnected Send inside Multiple Service Packet ...).
const MAX_DEPTH: u8 = 4;

/// Encapsulation framing, resynchronised on the next plausible header.
pub const RULES: Rules = Rules {
    keep: HEADER_LEN - 1,
    give_up_after: NOT_ENIP_AFTER,
    max_buffer: 2 * (HEADER_LEN + parser::MAX_DATA_LEN as usize),
    plausible_header,
};

/// What a reply needs from its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// Service code.
    pub service: u8,
    /// Class, instance, attribute and tag addressed.
    pub path: Path,
    /// Capture time of the request, ns.
    pub ts_ns: i64,
    /// A fragmented tag service's fragment.
    pub fragment: Option<FragmentRequest>,
}

/// Where a message stands in a fragmented tag transfer (Logix Read_Tag_Fragmented and
/// Write_Tag_Fragmented): its fragment, and on the fragment that completes it, the whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Byte offset of the fragment in the tag's data.
    pub offset: u32,
    /// Bytes it carries (a read request's are in its reply).
    pub bytes: u32,
    /// The transfer this fragment completed: fragments and bytes, reassembled.
    pub transfer: Option<(u32, u32)>,
}

/// A fragmented transfer in progress on a connection.
#[derive(Debug)]
struct Transfer {
    service: u8,
    path: Path,
    /// The offset the next fragment continues at.
    next: u32,
    fragments: u32,
    bytes: u32,
}

/// Fragmented transfers a connection tracks at once (a client reads or writes one tag at a
/// time; the cap bounds a misbehaving one).
const MAX_TRANSFERS: usize = 8;

/// One encapsulation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncapRecord {
    /// Request (from the flow's initiator) or reply.
    pub direction: Direction,
    /// The header.
    pub header: Header,
    /// The common packet format item types it carried.
    pub items: Vec<u16>,
    /// A ListIdentity reply's identity.
    pub identity: Option<Identity>,
    /// A ListServices reply's service name.
    pub service_name: Option<String>,
    /// Out-of-spec conditions.
    pub flags: Flags,
}

/// One CIP message (nested ones each their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipRecord<'a> {
    /// Request or reply.
    pub direction: Direction,
    /// The encapsulation command that carried it.
    pub command: u16,
    /// The connection id (connected messages).
    pub connection: Option<u32>,
    /// The connected sequence count.
    pub sequence: Option<u16>,
    /// The message.
    pub cip: Cip<'a>,
    /// Nesting: 0 for the carried message, 1 inside a Multiple Service Packet or Unconnected
    /// Send, ...
    pub depth: u8,
    /// For a reply, its request.
    pub request: Option<RequestInfo>,
    /// An identity answer (Get_Attributes_All on the identity object).
    pub identity: Option<Identity>,
    /// What a Forward Open or Forward Close says about the connection.
    pub connection_info: Option<Connection>,
    /// A fragmented tag service's fragment.
    pub fragment: Option<Fragment>,
    /// Out-of-spec conditions.
    pub flags: Flags,
}

impl CipRecord<'_> {
    /// The path the message addresses: its own, or for a reply its request's.
    pub fn path(&self) -> Option<&Path> {
        match &self.cip {
            Cip::Request { path, .. } => Some(path),
            Cip::Response { .. } => self.request.as_ref().map(|r| &r.path),
        }
    }
}

/// What [`EnipFlow`] reports. Events are handed to a callback one at a time and never stored,
/// so the size of the larger variants costs nothing worth an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Event<'a> {
    /// An encapsulation message.
    Encap(EncapRecord),
    /// A CIP message.
    Cip(CipRecord<'a>),
    /// The first implicit I/O datagram of a connection id in this flow.
    IoConnection {
        /// Direction of the datagram.
        direction: Direction,
        /// Connection id.
        connection: u32,
        /// Its sequence number.
        sequence: u32,
    },
    /// Bytes that do not frame as encapsulation messages; the stream resyncs.
    Malformed(Direction, FrameError),
    /// Bytes skipped while resynchronising.
    Skipped(Direction, usize),
}

/// Which reply answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// Unconnected (SendRRData): the sender context, echoed by the target.
    Context(u64),
    /// Connected (SendUnitData): the sequence count, echoed by the target.
    Sequence(u16),
}

#[derive(Debug, Clone)]
struct Pending {
    key: Key,
    info: RequestInfo,
    /// The embedded requests (Multiple Service Packet, Unconnected Send), in order.
    inner: Vec<RequestInfo>,
}

/// EtherNet/IP state of one flow.
#[derive(Debug, Default)]
pub struct EnipFlow {
    framers: [Framer; 2],
    pending: Vec<Pending>,
    /// Most requests kept awaiting their answer (0: the default).
    max_outstanding: usize,
    /// The session handle registered on this connection.
    pub session: Option<u32>,
    /// Requests never answered.
    pub unanswered: u64,
    io_connections: Vec<u32>,
    /// Implicit I/O datagrams seen.
    pub io_packets: u64,
    /// Fragmented tag transfers in progress.
    transfers: Vec<Transfer>,
}

impl EnipFlow {
    /// Feeds one UDP datagram: encapsulation messages (port 44818), or implicit I/O when
    /// `io` (port 2222).
    pub fn datagram(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        io: bool,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        if io {
            self.io(dir, data, f);
            return;
        }
        let mut framer = Framer::default();
        framer.feed(
            &RULES,
            data,
            &mut Messages {
                flow: self,
                dir,
                now_ns,
                f,
            },
        );
    }

    /// True when a direction has shown only bytes that are not EtherNet/IP.
    pub fn not_this_protocol(&self) -> bool {
        self.framers.iter().any(|f| f.not_this_protocol(&RULES))
    }

    fn io(&mut self, dir: Direction, data: &[u8], f: &mut dyn FnMut(Event<'_>)) {
        self.io_packets += 1;
        let (items, _) = parser::cpf(data);
        let Some(addr) = items.iter().find(|i| i.type_id == item::SEQUENCED_ADDRESS) else {
            return;
        };
        let (Some(connection), Some(sequence)) =
            (le32(addr.data), addr.data.get(4..).and_then(le32))
        else {
            return;
        };
        if !self.io_connections.contains(&connection)
            && self.io_connections.len() < MAX_IO_CONNECTIONS
        {
            self.io_connections.push(connection);
            f(Event::IoConnection {
                direction: dir,
                connection,
                sequence,
            });
        }
    }

    fn message(
        &mut self,
        dir: Direction,
        h: Header,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        let mut rec = EncapRecord {
            direction: dir,
            header: h,
            items: Vec::new(),
            identity: None,
            service_name: None,
            flags: Flags::default(),
        };
        if super::codes::command_name(h.command).is_none() {
            rec.flags.insert(Flags::UNKNOWN_COMMAND);
        }
        if h.options != 0 {
            rec.flags.insert(Flags::NONZERO_OPTIONS);
        }
        if dir == Direction::Request && h.status != 0 {
            rec.flags.insert(Flags::STATUS_ON_REQUEST);
        }
        if h.command == command::REGISTER_SESSION && dir == Direction::Response && h.status == 0 {
            self.session = Some(h.session);
        }
        let mut carried = Vec::new();
        match h.command {
            command::SEND_RR_DATA | command::SEND_UNIT_DATA => {
                // Interface handle (4), timeout (2), then the common packet format.
                match data.get(6..) {
                    Some(body) => {
                        let (items, flags) = parser::cpf(body);
                        rec.flags.insert(flags);
                        let mut connection = None;
                        for it in &items {
                            rec.items.push(it.type_id);
                            match it.type_id {
                                item::CONNECTED_ADDRESS => connection = le32(it.data),
                                item::UNCONNECTED_DATA => carried.push((connection, None, it.data)),
                                item::CONNECTED_DATA => {
                                    if let (Some(&[s0, s1]), Some(msg)) =
                                        (it.data.get(..2), it.data.get(2..))
                                    {
                                        carried.push((
                                            connection,
                                            Some(u16::from_le_bytes([s0, s1])),
                                            msg,
                                        ));
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    None => rec.flags.insert(Flags::TRUNCATED),
                }
            }
            command::LIST_IDENTITY | command::LIST_SERVICES | command::LIST_INTERFACES
                if !data.is_empty() =>
            {
                let (items, flags) = parser::cpf(data);
                rec.flags.insert(flags);
                for it in &items {
                    rec.items.push(it.type_id);
                    match it.type_id {
                        item::IDENTITY => rec.identity = parser::list_identity_item(it.data),
                        item::LIST_SERVICES => {
                            rec.service_name = it.data.get(4..20).map(|n| {
                                String::from_utf8_lossy(n)
                                    .trim_end_matches('\0')
                                    .trim()
                                    .to_string()
                            });
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        let context = h.context;
        let cmd = h.command;
        f(Event::Encap(rec));
        for (connection, sequence, msg) in carried {
            let key = match sequence {
                Some(s) => Key::Sequence(s),
                None => Key::Context(context),
            };
            let top = Top {
                dir,
                command: cmd,
                connection,
                sequence,
                key,
                now_ns,
            };
            self.cip_message(&top, msg, f);
        }
    }

    /// One carried CIP message, its embedded ones, and their pairing.
    fn cip_message(&mut self, top: &Top, msg: &[u8], f: &mut dyn FnMut(Event<'_>)) {
        let m = match cip(msg) {
            Ok(m) => m,
            Err(flags) => {
                // Not even a service code and path: a malformed CIP message.
                let rec = CipRecord {
                    direction: top.dir,
                    command: top.command,
                    connection: top.connection,
                    sequence: top.sequence,
                    cip: Cip::Request {
                        service: msg.first().copied().unwrap_or(0) & 0x7F,
                        path: Path::default(),
                        data: &[],
                    },
                    depth: 0,
                    request: None,
                    identity: None,
                    connection_info: None,
                    fragment: None,
                    flags,
                };
                f(Event::Cip(rec));
                return;
            }
        };
        match &m {
            Cip::Request { service, path, .. } => {
                let mut inner = Vec::new();
                let info = RequestInfo {
                    service: *service,
                    path: path.clone(),
                    ts_ns: top.now_ns,
                    fragment: fragment_of(&m),
                };
                let mut flags = Flags::default();
                if self.pending.len() >= crate::flow::outstanding_cap(self.max_outstanding) {
                    self.pending.remove(0);
                    self.unanswered += 1;
                    flags.insert(Flags::REQUEST_FLOOD);
                }
                self.emit(top, m.clone(), 0, None, flags, f);
                self.nested_requests(top, &m, 1, &mut inner, f);
                crate::common::push_first_one(
                    &mut self.pending,
                    Pending {
                        key: top.key,
                        info,
                        inner,
                    },
                );
            }
            Cip::Response { service, .. } => {
                let found = self.pending.iter().position(|p| p.key == top.key);
                let pending = found.map(|p| self.pending.remove(p));
                let mut flags = Flags::default();
                let (request, inner) = match pending {
                    Some(p) if p.info.service == *service => (Some(p.info), p.inner),
                    // An Unconnected Send is answered by its embedded service.
                    Some(p)
                        if parser::is_unconnected_send(p.info.service, &p.info.path)
                            && p.inner.first().is_some_and(|i| i.service == *service) =>
                    {
                        let mut inner = p.inner;
                        let first = inner.remove(0);
                        (Some(first), inner)
                    }
                    Some(p) => {
                        flags.insert(Flags::RESPONSE_MISMATCH);
                        (Some(p.info), Vec::new())
                    }
                    None => {
                        flags.insert(Flags::UNPAIRED_RESPONSE);
                        (None, Vec::new())
                    }
                };
                let is_msp = request
                    .as_ref()
                    .map_or(*service == service::MULTIPLE_SERVICE_PACKET, |r| {
                        r.service == service::MULTIPLE_SERVICE_PACKET
                    });
                self.emit(top, m.clone(), 0, request, flags, f);
                if is_msp {
                    if let Cip::Response {
                        data,
                        status: 0x00 | 0x1E,
                        ..
                    } = &m
                    {
                        let (msgs, flags) = multiple_service(data);
                        let mut inner = inner.into_iter();
                        for (k, sub) in msgs.into_iter().enumerate() {
                            let req = inner.next();
                            match cip(sub) {
                                Ok(r) => {
                                    let fl = if k == 0 { flags } else { Flags::default() };
                                    self.emit(top, r, 1, req, fl, f);
                                }
                                Err(fl) => self.emit_malformed(top, sub, 1, fl, f),
                            }
                        }
                    }
                }
            }
        }
    }

    /// The requests embedded in `m` (Multiple Service Packet, Unconnected Send), each
    /// reported and remembered for the pairing of the reply.
    fn nested_requests(
        &mut self,
        top: &Top,
        m: &Cip<'_>,
        depth: u8,
        inner: &mut Vec<RequestInfo>,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        let Cip::Request {
            service,
            path,
            data,
        } = m
        else {
            return;
        };
        if depth > MAX_DEPTH {
            return;
        }
        let subs: Vec<&[u8]> = if *service == service::MULTIPLE_SERVICE_PACKET {
            let (msgs, flags) = multiple_service(data);
            if !flags.is_empty() {
                self.emit_malformed(top, data, depth, flags, f);
            }
            msgs
        } else if parser::is_unconnected_send(*service, path) {
            match parser::unconnected_send(data) {
                Some(u) => vec![u.message],
                None => {
                    self.emit_malformed(top, data, depth, Flags::TRUNCATED, f);
                    Vec::new()
                }
            }
        } else {
            return;
        };
        for sub in subs {
            match cip(sub) {
                Ok(r) => {
                    if let Cip::Request { service, path, .. } = &r {
                        inner.push(RequestInfo {
                            service: *service,
                            path: path.clone(),
                            ts_ns: top.now_ns,
                            fragment: fragment_of(&r),
                        });
                    }
                    self.emit(top, r.clone(), depth, None, Flags::default(), f);
                    // Deeper wrapping is reported, not paired.
                    self.nested_requests(top, &r, depth + 1, &mut Vec::new(), f);
                }
                Err(fl) => self.emit_malformed(top, sub, depth, fl, f),
            }
        }
    }

    fn emit(
        &mut self,
        top: &Top,
        m: Cip<'_>,
        depth: u8,
        request: Option<RequestInfo>,
        mut flags: Flags,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        let service = m.service();
        let class = match (&m, &request) {
            (Cip::Request { path, .. }, _) => path.class,
            (Cip::Response { .. }, Some(r)) => r.path.class,
            (Cip::Response { .. }, None) => None,
        };
        // Services 0x4B-0x63 are the addressed object's own: on a vendor's object an
        // unnamed one is normal. An unnamed common service is not.
        if service < 0x4B && super::codes::service_name(service, class).is_none() {
            flags.insert(Flags::UNKNOWN_SERVICE);
        }
        if let Cip::Request { path, .. } = &m {
            if path.bad {
                flags.insert(Flags::BAD_PATH);
            }
        }
        let mut identity = None;
        let mut connection_info = None;
        let cm = class == Some(super::codes::class::CONNECTION_MANAGER);
        match &m {
            Cip::Request { data, .. } if cm => {
                connection_info = match service {
                    service::FORWARD_OPEN => parser::forward_open_request(data, false),
                    service::LARGE_FORWARD_OPEN => parser::forward_open_request(data, true),
                    service::FORWARD_CLOSE => parser::forward_close(data, true),
                    _ => None,
                };
            }
            Cip::Response {
                data, status: 0, ..
            } => {
                if cm && matches!(service, service::FORWARD_OPEN | service::LARGE_FORWARD_OPEN) {
                    connection_info = parser::forward_open_reply(data);
                } else if cm && service == service::FORWARD_CLOSE {
                    connection_info = parser::forward_close(data, false);
                } else if service == service::GET_ATTRIBUTES_ALL
                    && class == Some(super::codes::class::IDENTITY)
                {
                    identity = parser::identity(data);
                }
            }
            _ => {}
        }
        let fragment = self.fragment(&m, request.as_ref());
        f(Event::Cip(CipRecord {
            direction: top.dir,
            command: top.command,
            connection: top.connection,
            sequence: top.sequence,
            cip: m,
            depth,
            request,
            identity,
            connection_info,
            fragment,
            flags,
        }));
    }

    /// The fragment a fragmented tag message carries, and the transfer it completes: a
    /// write's fragments are counted at their requests (complete when the elements of an
    /// atomic type are all written), a read's at their replies (complete at the reply with
    /// status 0 rather than 0x06, partial transfer).
    fn fragment(&mut self, m: &Cip<'_>, request: Option<&RequestInfo>) -> Option<Fragment> {
        match m {
            Cip::Request { service, path, .. } => {
                let fr = fragment_of(m)?;
                if *service != service::WRITE_TAG_FRAGMENTED {
                    return Some(Fragment {
                        offset: fr.offset,
                        bytes: 0,
                        transfer: None,
                    });
                }
                let total = fr
                    .data_type
                    .and_then(parser::logix_type_size)
                    .map(|size| size.saturating_mul(u32::from(fr.elements)));
                let transfer = self.track(*service, path, fr.offset, fr.bytes, |next| {
                    total.is_some_and(|t| next >= t)
                });
                Some(Fragment {
                    offset: fr.offset,
                    bytes: fr.bytes,
                    transfer,
                })
            }
            Cip::Response {
                service,
                status: status @ (0x00 | 0x06),
                data,
                ..
            } if *service == service::READ_TAG_FRAGMENTED => {
                let r = request?;
                let fr = r.fragment?;
                let bytes = parser::read_reply_bytes(data)?;
                let last = *status == 0;
                let transfer = self.track(*service, &r.path, fr.offset, bytes, |_| last);
                Some(Fragment {
                    offset: fr.offset,
                    bytes,
                    transfer,
                })
            }
            _ => None,
        }
    }

    /// Adds a fragment to its transfer (started at offset 0, or wherever a fragment does
    /// not continue the last one); returns (fragments, bytes) when `done` says the transfer
    /// is complete.
    fn track(
        &mut self,
        service: u8,
        path: &Path,
        offset: u32,
        bytes: u32,
        done: impl Fn(u32) -> bool,
    ) -> Option<(u32, u32)> {
        let found = self
            .transfers
            .iter()
            .position(|t| t.service == service && t.path == *path);
        // Taken out while it is updated; put back unless complete.
        let mut t = match found.map(|i| self.transfers.remove(i)) {
            Some(t) if offset != 0 && t.next == offset => t,
            _ => {
                if self.transfers.len() >= MAX_TRANSFERS {
                    self.transfers.remove(0);
                }
                Transfer {
                    service,
                    path: path.clone(),
                    next: offset,
                    fragments: 0,
                    bytes: 0,
                }
            }
        };
        t.next = offset.saturating_add(bytes);
        t.fragments += 1;
        t.bytes = t.bytes.saturating_add(bytes);
        if done(t.next) {
            return Some((t.fragments, t.bytes));
        }
        self.transfers.push(t);
        None
    }

    fn emit_malformed(
        &mut self,
        top: &Top,
        bytes: &[u8],
        depth: u8,
        flags: Flags,
        f: &mut dyn FnMut(Event<'_>),
    ) {
        f(Event::Cip(CipRecord {
            direction: top.dir,
            command: top.command,
            connection: top.connection,
            sequence: top.sequence,
            cip: Cip::Request {
                service: bytes.first().copied().unwrap_or(0) & 0x7F,
                path: Path::default(),
                data: &[],
            },
            depth,
            request: None,
            identity: None,
            connection_info: None,
            fragment: None,
            flags,
        }));
    }
}

/// The encapsulation message a CIP message travelled in.
struct Top {
    dir: Direction,
    command: u16,
    connection: Option<u32>,
    sequence: Option<u16>,
    key: Key,
    now_ns: i64,
}

/// Framing's view of one direction.
struct Messages<'s, 'f> {
    flow: &'s mut EnipFlow,
    dir: Direction,
    now_ns: i64,
    f: &'f mut dyn FnMut(Event<'_>),
}

impl Frames for Messages<'_, '_> {
    type Error = FrameError;

    fn frame(&mut self, rest: &[u8]) -> Step<FrameError> {
        match frame(rest) {
            Ok(Some((len, h, data))) => {
                self.flow.message(self.dir, h, data, self.now_ns, self.f);
                Step::Frame(len)
            }
            Ok(None) => Step::Incomplete,
            Err(e) => Step::Error(e),
        }
    }

    fn problem(&mut self, p: Problem<FrameError>) {
        match p {
            Problem::Malformed(e) => (self.f)(Event::Malformed(self.dir, e)),
            Problem::Skipped(n) => (self.f)(Event::Skipped(self.dir, n)),
        }
    }
}

/// Content probe: `None` when too short. With `strict` (a port EtherNet/IP does not own) the
/// payload must start with an encapsulation header of a defined command, zero options and a
/// sane length; on its own ports, any command in the encapsulation range will do (the parser
/// flags commands the specification does not define).
pub fn probe(data: &[u8], strict: bool) -> Option<bool> {
    if data.len() < HEADER_LEN {
        // Too short to tell, unless it cannot even start with a defined command.
        let command = match data {
            [c0, c1, ..] => Some(u16::from_le_bytes([*c0, *c1])),
            _ => None,
        };
        return match command {
            Some(c) if strict && super::codes::command_name(c).is_none() => Some(false),
            Some(c) if c > 0x00FF => Some(false),
            _ => None,
        };
    }
    if strict {
        return Some(plausible_header(data));
    }
    Some(
        matches!(parser::header(data), Ok((_, h)) if h.command <= 0x00FF
        && h.length <= parser::MAX_DATA_LEN
        && h.options == 0),
    )
}

impl crate::flow::FlowParser for EnipFlow {
    fn set_max_outstanding(&mut self, n: usize) {
        self.max_outstanding = n;
    }

    type Event<'a> = Event<'a>;

    /// Feeds stream bytes of one direction captured at `now_ns`.
    fn feed(&mut self, dir: Direction, data: &[u8], now_ns: i64, f: &mut dyn FnMut(Event<'_>)) {
        let i = dir.index();
        crate::framing::with_framer(
            self,
            |fl: &mut EnipFlow| fl.framers.get_mut(i),
            |framer, flow| {
                framer.feed(
                    &RULES,
                    data,
                    &mut Messages {
                        flow,
                        dir,
                        now_ns,
                        f,
                    },
                )
            },
        );
    }

    fn gap(&mut self, dir: Direction) {
        if let Some(fr) = self.framers.get_mut(dir.index()) {
            fr.gap();
        }
    }

    /// Implicit I/O is told apart by its datagrams: no encapsulation header (a CPF whose
    /// first item is a sequenced address).
    fn datagram(
        &mut self,
        dir: Direction,
        data: &[u8],
        now_ns: i64,
        f: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), &'static str> {
        let io = !plausible_header(data) && is_io(data);
        EnipFlow::datagram(self, dir, data, now_ns, io, f);
        Ok(())
    }

    /// The flow ended: open requests were never answered.
    fn finish(&mut self) {
        self.unanswered += self.pending.len() as u64;
        self.pending.clear();
    }

    fn tallies(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("unanswered_requests", self.unanswered);
        f("io_packets", self.io_packets);
    }

    fn give_up(&self) -> Option<&'static str> {
        self.not_this_protocol().then_some("not_enip")
    }
}

/// An implicit I/O datagram: a CPF of two or more items, the first a sequenced address.
pub fn is_io(data: &[u8]) -> bool {
    matches!(data, [n0, n1, t0, t1, ..] if u16::from_le_bytes([*n0, *n1]) >= 2
        && u16::from_le_bytes([*t0, *t1]) == item::SEQUENCED_ADDRESS)
}

/// The little-endian u32 at the start of `b`.
fn le32(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

/// A fragmented tag service request's fragment (0x52 and 0x53 on a tag; on the Connection
/// Manager 0x52 is Unconnected Send).
fn fragment_of(m: &Cip<'_>) -> Option<FragmentRequest> {
    let Cip::Request {
        service,
        path,
        data,
    } = m
    else {
        return None;
    };
    if path.class == Some(super::codes::class::CONNECTION_MANAGER) {
        return None;
    }
    match *service {
        service::READ_TAG_FRAGMENTED => parser::fragment_request(data, false),
        service::WRITE_TAG_FRAGMENTED => parser::fragment_request(data, true),
        _ => None,
    }
}
