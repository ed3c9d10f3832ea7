//! DNP3 in the registry: TCP and UDP port 20000, and a content probe (a link header with a
//! valid CRC) so that DNP3 on other ports is found.

use serde::Serialize;

use crate::dnp3::objects::Point;
use crate::dnp3::parser::{LinkError, Range};
use crate::dnp3::{self, codes, Dnp3Flow, Event, Flags, FragmentRecord, LinkHeader};
use crate::message::{AddressRange, Message, RequestRef};
use crate::time::Timestamp;
use crate::{Direction, Operation};

use crate::flow::{emit, message, Adapter, Probe, ProbeMode, Reporter, Transport};

/// Most points written into one event line.
pub const MAX_EVENT_POINTS: usize = 64;

pub fn probe(_t: Transport, _d: Direction, data: &[u8], mode: ProbeMode) -> Probe {
    // On DNP3's own port, a connection whose first bytes are DNP3's start octets is DNP3 even
    // when its first header is broken: the parser then reports what is wrong (malformed
    // traffic, bad CRCs) instead of the flow being written off as something else.
    if mode.own_port && data.starts_with(&[0x05, 0x64]) {
        return Probe::Match;
    }
    match dnp3::state::probe(data, mode.midstream && mode.own_port) {
        None => Probe::NeedMore,
        Some(true) => Probe::Match,
        Some(false) => Probe::NoMatch,
    }
}

/// DNP3 in the generic handler.
pub struct Dnp3;

impl Adapter for Dnp3 {
    type Parser = Dnp3Flow;
    type Context = ();

    fn context(_: &Dnp3Flow) {}

    fn handle(ctx: &mut dyn Reporter, dir: Direction, (): (), e: Event<'_>) {
        handle(ctx, dir, e);
    }
}

const PARSE_ERROR_FLAGS: [Flags; 4] = [
    Flags::TRUNCATED,
    Flags::BAD_QUALIFIER,
    Flags::FRAGMENT_TOO_SHORT,
    Flags::UNKNOWN_OBJECT,
];

fn count_flags(ctx: &mut dyn Reporter, flags: Flags) {
    for (f, name) in [
        (Flags::BAD_BLOCK_CRC, "crc_errors"),
        (Flags::FRAGMENT_TOO_LONG, "fragments_too_long"),
        (Flags::TOO_MANY_POINTS, "too_many_points"),
        (Flags::TOO_MANY_OBJECTS, "too_many_objects"),
        (Flags::REQUEST_FLOOD, "flooded_requests"),
        (Flags::UNKNOWN_OBJECT, "unknown_objects"),
        (Flags::OUT_OF_SEQUENCE, "out_of_sequence_fragments"),
    ] {
        if flags.contains(f) {
            ctx.counters().bump(name);
        }
    }
}

fn handle(ctx: &mut dyn Reporter, flow_dir: Direction, e: Event<'_>) {
    match e {
        Event::Fragment(rec) => {
            ctx.counters().pdus += 1;
            let flags = rec.fragment.flags;
            if PARSE_ERROR_FLAGS.iter().any(|f| flags.contains(*f)) {
                ctx.counters().parse_errors += 1;
            }
            count_flags(ctx, flags);
            if rec.fragment.has_authentication() {
                ctx.counters().bump("secure_authentication_fragments");
            }
            let msg = fragment_message(ctx, flow_dir, &rec);
            ctx.observe(&msg);
            if ctx.events_for(msg.protocol) {
                let ev = Dnp3Event::fragment(&msg, &rec);
                emit(ctx, &ev);
            }
        }
        Event::Link {
            direction,
            header,
            flags,
        } => {
            ctx.counters().bump("link_frames");
            count_flags(ctx, flags);
            let msg = link_message(ctx, flow_dir, direction, &header, flags);
            ctx.observe(&msg);
            if ctx.events_for(msg.protocol) {
                let ev = Dnp3Event::link(&msg, &header);
                emit(ctx, &ev);
            }
        }
        Event::Malformed(err) => {
            ctx.parse_error("dnp3", err.as_str());
            ctx.counters().bump(err.as_str());
            if let LinkError::BadHeaderCrc(header) = err {
                ctx.counters().bump("crc_errors");
                let direction = if header.dir() {
                    Direction::Request
                } else {
                    Direction::Response
                };
                let mut msg = link_message(ctx, flow_dir, direction, &header, Flags::default());
                msg.flags.push("bad_header_crc");
                ctx.observe(&msg);
                if ctx.events_for(msg.protocol) {
                    let ev = Dnp3Event::link(&msg, &header);
                    emit(ctx, &ev);
                }
            }
        }
        Event::Skipped(n) => *ctx.counters().other.entry("skipped_bytes").or_default() += n as u64,
        Event::SegmentsDiscarded(n) => {
            *ctx.counters()
                .other
                .entry("segments_discarded")
                .or_default() += u64::from(n)
        }
    }
}

/// A message skeleton: src/dst follow the TCP/UDP direction the bytes travelled.
fn base(ctx: &dyn Reporter, flow_dir: Direction, direction: Direction, op: Operation) -> Message {
    let mut m = message("dnp3", ctx, flow_dir, op);
    m.direction = direction;
    m
}

fn link_message(
    ctx: &dyn Reporter,
    flow_dir: Direction,
    direction: Direction,
    h: &LinkHeader,
    flags: Flags,
) -> Message {
    let mut m = base(ctx, flow_dir, direction, Operation::Session);
    m.unit = Some(u32::from(if h.dir() { h.destination } else { h.source }));
    m.flags = flags.names().collect();
    m
}

/// The normalized message of one application fragment.
pub fn fragment_message(
    ctx: &dyn Reporter,
    flow_dir: Direction,
    rec: &FragmentRecord<'_>,
) -> Message {
    let f = &rec.fragment;
    let mut m = base(ctx, flow_dir, rec.direction, rec.operation());
    m.function_code = Some(u16::from(f.function));
    m.function = Some(
        codes::function_name(f.function)
            .map(Into::into)
            .unwrap_or_else(|| format!("unknown_{}", f.function).into()),
    );
    // The outstation's address: the destination of a request, the source of a response.
    m.unit = Some(u32::from(match rec.direction {
        Direction::Request => rec.link.destination,
        Direction::Response => rec.link.source,
    }));
    for o in &f.objects {
        let (start, count) = match o.range {
            Range::StartStop { start, stop } => {
                (start, stop.saturating_sub(start).saturating_add(1))
            }
            Range::Count { count } => (o.points.first().map_or(0, |p| p.index), count),
            Range::All => (0, 0),
        };
        m.addresses.push(AddressRange {
            area: format!("g{}v{}", o.group, o.variation).into(),
            start,
            count,
        });
    }
    if let Some(iin) = f.iin {
        // IIN2 bits 0–2 report a request the outstation could not carry out.
        let err = iin & 0x0007;
        if err != 0 {
            m.exception_code = Some(err);
            m.exception = codes::iin_names(err).next();
        }
    }
    m.flags = f.flags.names().collect();
    if let Some(r) = &rec.request {
        m.request = Some(RequestRef {
            ts: Timestamp::from_nanos(r.ts_ns),
            latency_us: ctx.ts().as_nanos().saturating_sub(r.ts_ns) / 1000,
        });
    }
    m
}

#[derive(Serialize)]
struct ObjectOut<'a> {
    group: u8,
    variation: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
    qualifier: u8,
    range: Range,
    count: u32,
    #[serde(skip_serializing_if = "<[Point<'a>]>::is_empty")]
    points: &'a [Point<'a>],
}

#[derive(Serialize)]
struct AppControlOut {
    fir: bool,
    fin: bool,
    con: bool,
    uns: bool,
    seq: u8,
}

/// One `--events` line for DNP3: the normalized message plus link, transport and
/// application fields.
#[derive(Serialize)]
struct Dnp3Event<'a> {
    #[serde(skip)]
    msg: &'a Message,
    link_src: u16,
    link_dst: u16,
    link_function: u8,
    link_function_name: &'static str,
    link_dir: bool,
    link_prm: bool,
    link_fcb: bool,
    link_fcv: bool,
    link_dfc: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    transport_segments: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_control: Option<AppControlOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iin: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    iin_flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    objects: Vec<ObjectOut<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    points_truncated: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    secure_authentication: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirms: Option<&'static str>,
    /// For an OPERATE that executes its SELECT: microseconds since the SELECT.
    #[serde(skip_serializing_if = "Option::is_none")]
    select_delay_us: Option<i64>,
}

impl<'a> Dnp3Event<'a> {
    fn link(msg: &'a Message, h: &LinkHeader) -> Dnp3Event<'a> {
        Dnp3Event {
            msg,
            link_src: h.source,
            link_dst: h.destination,
            link_function: h.function(),
            link_function_name: codes::link_function_name(h.prm(), h.function()),
            link_dir: h.dir(),
            link_prm: h.prm(),
            link_fcb: h.fcb(),
            link_fcv: h.fcv(),
            link_dfc: h.dfc(),
            transport_segments: None,
            app_control: None,
            iin: None,
            iin_flags: Vec::new(),
            objects: Vec::new(),
            points_truncated: false,
            secure_authentication: false,
            confirms: None,
            select_delay_us: None,
        }
    }

    fn fragment(msg: &'a Message, rec: &'a FragmentRecord<'a>) -> Dnp3Event<'a> {
        let f = &rec.fragment;
        let mut ev = Dnp3Event::link(msg, &rec.link);
        ev.transport_segments = Some(rec.segments);
        ev.app_control = Some(AppControlOut {
            fir: f.control.fir,
            fin: f.control.fin,
            con: f.control.con,
            uns: f.control.uns,
            seq: f.control.seq,
        });
        ev.iin = f.iin;
        ev.iin_flags = f
            .iin
            .map(|i| codes::iin_names(i).collect())
            .unwrap_or_default();
        let mut budget = MAX_EVENT_POINTS;
        for o in &f.objects {
            let take = o.points.len().min(budget);
            budget -= take;
            ev.points_truncated |= take < o.points.len()
                || (o.points.len() as u64) < u64::from(o.count) && !o.points.is_empty();
            ev.objects.push(ObjectOut {
                group: o.group,
                variation: o.variation,
                name: codes::group_name(o.group),
                qualifier: o.qualifier,
                range: o.range,
                count: o.count,
                points: o.points.get(..take).unwrap_or_default(),
            });
        }
        ev.secure_authentication = f.has_authentication();
        ev.confirms = rec
            .confirms_unsolicited
            .map(|u| if u { "unsolicited" } else { "response" });
        ev.select_delay_us = rec
            .select_ts_ns
            .map(|t| msg.ts.as_nanos().saturating_sub(t) / 1000);
        ev
    }
}

impl crate::flow::Event for Dnp3Event<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}
