//! S7comm (and S7comm-plus) over ISO-on-TCP in the registry: TCP port 102, and a content probe
//! (TPKT + COTP carrying S7) for other ports.

use serde::Serialize;

use crate::message::{AddressRange, Identity, Message, RequestRef};
use crate::s7comm::parser::{BlockParam, TpktError};
use crate::s7comm::szl::Szl;
use crate::s7comm::{self, codes, Cotp, Event, Flags, Param, PlusPdu, Record, S7Flow};
use crate::time::Timestamp;
use crate::{Direction, Operation};

use crate::flow::{emit, message, Adapter, Probe, ProbeMode, Reporter, Transport};

/// Most data items and variables written into one event line.
pub const MAX_EVENT_ITEMS: usize = 64;
/// Most value octets shown per data item (hex).
pub const MAX_VALUE_BYTES: usize = 64;

pub fn probe(_t: Transport, _d: Direction, data: &[u8], mode: ProbeMode) -> Probe {
    // Midstream on port 102, the TPKT framer resyncs by itself.
    if mode.own_port && mode.midstream {
        return Probe::Match;
    }
    match s7comm::state::probe(data, !mode.own_port) {
        None => Probe::NeedMore,
        Some(true) => Probe::Match,
        Some(false) => Probe::NoMatch,
    }
}

/// S7comm (and S7comm-plus) in the generic handler.
pub struct S7;

impl Adapter for S7 {
    type Parser = S7Flow;
    /// The connection's rack and slot (from its COTP connection request).
    type Context = Option<(u8, u8)>;

    fn context(flow: &S7Flow) -> Option<(u8, u8)> {
        flow.rack_slot
    }

    fn handle(ctx: &mut dyn Reporter, dir: Direction, rack_slot: Option<(u8, u8)>, e: Event<'_>) {
        handle(ctx, dir, rack_slot, e);
    }
}

fn handle(ctx: &mut dyn Reporter, flow_dir: Direction, rack_slot: Option<(u8, u8)>, e: Event<'_>) {
    match e {
        Event::S7(rec) => {
            ctx.counters().pdus += 1;
            if rec.pdu.flags.contains(Flags::TRUNCATED) || rec.pdu.flags.contains(Flags::BAD_ITEM) {
                ctx.counters().parse_errors += 1;
            }
            if rec.pdu.flags.contains(Flags::PASSWORD_SENT) {
                ctx.counters().bump("passwords_sent");
            }
            let msg = s7_message(ctx, flow_dir, rack_slot, &rec);
            ctx.observe(&msg);
            if ctx.events_for(msg.protocol) {
                emit(ctx, &S7Event::new(&msg, &rec, rack_slot));
            }
        }
        Event::Plus(direction, p) => {
            ctx.counters().bump("s7comm_plus_pdus");
            if p.integrity {
                ctx.counters().bump("s7comm_plus_integrity_protected");
            }
            let msg = plus_message(ctx, flow_dir, direction, rack_slot, &p);
            ctx.observe(&msg);
            if ctx.events_for(msg.protocol) {
                emit(ctx, &PlusEvent::new(&msg, &p));
            }
        }
        Event::Cotp {
            direction,
            cotp,
            iso,
        } => {
            ctx.counters().bump("cotp_control_tpdus");
            let protocol = if iso { "mms" } else { "s7comm" };
            let mut msg = message(protocol, ctx, flow_dir, Operation::Session);
            msg.direction = direction;
            ctx.observe(&msg);
            if ctx.events_for(msg.protocol) {
                emit(ctx, &CotpEvent::new(&msg, &cotp));
            }
        }
        Event::Mms(rec) => {
            ctx.counters().bump("mms_spdus");
            if rec.malformed {
                ctx.parse_error("mms", "malformed_mms_pdu");
            }
            let msg = crate::mms::adapter::message_of(ctx, flow_dir, &rec);
            ctx.observe(&msg);
            if ctx.events_for(msg.protocol) {
                emit(ctx, &crate::mms::adapter::MmsEvent::new(&msg, &rec));
            }
        }
        Event::OtherPayload(_) => ctx.counters().bump("cotp_payload_not_s7"),
        Event::Malformed(err) => {
            let what = match err {
                TpktError::BadVersion(_) => "bad_tpkt_version",
                TpktError::BadLength(_) => "bad_tpkt_length",
            };
            ctx.parse_error("s7comm", what);
            ctx.counters().bump(what);
        }
        Event::BadCotp => {
            ctx.parse_error("s7comm", "bad_cotp");
            ctx.counters().bump("bad_cotp");
        }
        Event::Skipped(n) => *ctx.counters().other.entry("skipped_bytes").or_default() += n as u64,
    }
}

fn unit(rack_slot: Option<(u8, u8)>) -> Option<u32> {
    rack_slot.map(|(r, s)| u32::from(r) * 32 + u32::from(s))
}

/// The normalized message of one S7comm PDU.
pub fn s7_message(
    ctx: &dyn Reporter,
    flow_dir: Direction,
    rack_slot: Option<(u8, u8)>,
    rec: &Record<'_>,
) -> Message {
    let pdu = &rec.pdu;
    let mut m = message("s7comm", ctx, flow_dir, rec.operation());
    m.direction = rec.direction;
    m.unit = unit(rack_slot);
    if let Some(f) = pdu.function {
        m.function_code = Some(u16::from(f));
        m.function = Some(
            codes::function_name(f)
                .map(Into::into)
                .unwrap_or_else(|| format!("unknown_{f:#04x}").into()),
        );
    } else if let Some(u) = &pdu.userdata {
        m.function = Some(
            codes::userdata_subfunction_name(u.group, u.subfunction)
                .map(Into::into)
                .unwrap_or_else(|| format!("userdata_{}_{}", u.group, u.subfunction).into()),
        );
    }
    match &pdu.param {
        Param::PiService { service, .. } | Param::PlcStop { service } => {
            m.sub_function_name = Some(String::from_utf8_lossy(service).into_owned().into());
        }
        _ => {}
    }
    if let Some(szl) = &rec.szl {
        m.sub_function = Some(szl.id);
    }
    if let Param::Vars(items) = &pdu.param {
        for it in items.iter().filter(|i| i.syntax_id == 0x10) {
            m.addresses.push(AddressRange {
                area: codes::area_short(it.area, it.db).into(),
                start: it.byte,
                count: u32::from(it.length) * codes::transport_size_bytes(it.transport_size),
            });
        }
    }
    if let Param::Block(b) = &pdu.param {
        if let (Some(t), Some(n)) = (
            b.block_type().and_then(codes::block_type_name),
            b.block_number(),
        ) {
            m.addresses.push(AddressRange {
                area: t.into(),
                start: n,
                count: 1,
            });
        }
    }
    if let Some((c, e)) = pdu.header.error.filter(|(c, e)| *c != 0 || *e != 0) {
        m.exception_code = Some(u16::from(c) << 8 | u16::from(e));
        m.exception = codes::error_class_name(c);
    }
    m.flags = pdu.flags.names().collect();
    if let Some(r) = &rec.request {
        m.request = Some(RequestRef {
            ts: Timestamp::from_nanos(r.ts_ns),
            latency_us: ctx.ts().as_nanos().saturating_sub(r.ts_ns) / 1000,
        });
    }
    if let Some(szl) = rec
        .szl
        .as_ref()
        .filter(|s| rec.direction == Direction::Response && !s.identity.is_empty())
    {
        let i = &szl.identity;
        let id = Identity {
            vendor: Some("Siemens".to_string()),
            model: i.module_type.clone(),
            order_number: i.order_number.clone(),
            firmware: i.firmware.clone(),
            hardware: i.hardware.clone(),
            name: i.system_name.clone(),
            serial: i.serial.clone(),
            ..Identity::default()
        };
        // An answer with only the CPU mode says nothing about the device itself.
        if id.model.is_some()
            || id.order_number.is_some()
            || id.firmware.is_some()
            || id.name.is_some()
        {
            m.identity = Some(id);
        }
    }
    m
}

/// The normalized message of one S7comm-plus PDU.
pub fn plus_message(
    ctx: &dyn Reporter,
    flow_dir: Direction,
    direction: Direction,
    rack_slot: Option<(u8, u8)>,
    p: &PlusPdu<'_>,
) -> Message {
    let op = match (p.version, p.function) {
        (0xfe, _) => Operation::Session,
        (_, Some(f)) => codes::plus_operation(f),
        _ => Operation::Other,
    };
    let mut m = message("s7comm_plus", ctx, flow_dir, op);
    m.direction = direction;
    m.unit = unit(rack_slot);
    m.function_code = p.function;
    m.function = p
        .function_name()
        .map(Into::into)
        .or(p.function.map(|f| format!("unknown_{f:#06x}").into()));
    m
}

#[derive(Serialize)]
struct ItemOut {
    syntax_id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    area: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    db: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bit: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transport_size: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u16>,
}

#[derive(Serialize)]
struct DataOut {
    return_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_code_name: Option<&'static str>,
    transport_size: u8,
    length: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    value: String,
}

#[derive(Serialize)]
struct BlockOut<'a> {
    status: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<std::borrow::Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block_number: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filesystem: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u32>,
}

impl<'a> BlockOut<'a> {
    fn new(b: &BlockParam<'a>) -> BlockOut<'a> {
        BlockOut {
            status: b.status,
            session_id: b.session_id,
            filename: b.filename.map(String::from_utf8_lossy),
            block_type: b.block_type().and_then(codes::block_type_name),
            block_number: b.block_number(),
            filesystem: b.filesystem().map(|c| match c {
                b'P' => "passive",
                b'A' => "active",
                b'B' => "both",
                _ => "unknown",
            }),
            length: b.length,
        }
    }
}

#[derive(Serialize)]
struct SetupOut {
    amq_calling: u16,
    amq_called: u16,
    pdu_size: u16,
}

/// One `--events` line for an S7comm PDU.
#[derive(Serialize)]
struct S7Event<'a> {
    #[serde(skip)]
    msg: &'a Message,
    rosctr: &'static str,
    rosctr_code: u8,
    pdu_ref: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    rack: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slot: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_class: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userdata_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userdata_group: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userdata_group_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userdata_subfunction: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userdata_seq: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userdata_error: Option<u16>,
    /// A request for the next part of a fragmented answer (8-octet parameter).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    userdata_continuation: bool,
    /// An answer with more parts to follow.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    userdata_more_follows: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    items: Vec<ItemOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    data_items: Vec<DataOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    setup: Option<SetupOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    block: Option<BlockOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pi_service: Option<std::borrow::Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    szl: Option<&'a Szl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    password: bool,
    cotp_tpdus: u32,
}

fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len().min(MAX_VALUE_BYTES) * 2);
    for x in b.iter().take(MAX_VALUE_BYTES) {
        // Two digits a byte, without `write!` (values of every data item of every event).
        for d in [x >> 4, x & 15] {
            s.push(char::from(
                DIGITS.get(usize::from(d)).copied().unwrap_or(b'0'),
            ));
        }
    }
    s
}

impl<'a> S7Event<'a> {
    fn new(msg: &'a Message, rec: &'a Record<'a>, rack_slot: Option<(u8, u8)>) -> S7Event<'a> {
        let pdu = &rec.pdu;
        let h = pdu.header;
        let u = pdu.userdata;
        let mut ev = S7Event {
            msg,
            rosctr: codes::rosctr_name(h.rosctr).unwrap_or("unknown"),
            rosctr_code: h.rosctr,
            pdu_ref: h.pdu_ref,
            rack: rack_slot.map(|r| r.0),
            slot: rack_slot.map(|r| r.1),
            error_class: h.error.map(|e| e.0),
            error_code: h.error.map(|e| e.1),
            userdata_type: u.map(|u| match u.kind {
                0 => "push",
                4 => "request",
                8 => "response",
                _ => "unknown",
            }),
            userdata_group: u.map(|u| u.group),
            userdata_group_name: u.and_then(|u| codes::userdata_group_name(u.group)),
            userdata_subfunction: u.map(|u| u.subfunction),
            userdata_seq: u.map(|u| u.seq),
            userdata_error: u.and_then(|u| u.error),
            userdata_continuation: u.is_some_and(|u| u.kind == 4 && u.last_data_unit.is_some()),
            userdata_more_follows: u.is_some_and(|u| u.kind == 8 && u.last_data_unit == Some(0x01)),
            items: Vec::new(),
            data_items: Vec::new(),
            setup: None,
            block: None,
            pi_service: None,
            szl: rec.szl.as_ref(),
            cpu_mode: s7comm::state::mode_transition(rec),
            // The password itself (XOR-obfuscated) is never logged.
            password: pdu.flags.contains(Flags::PASSWORD_SENT),
            cotp_tpdus: rec.tpdus,
        };
        match &pdu.param {
            Param::Vars(items) => {
                ev.items = items
                    .iter()
                    .take(MAX_EVENT_ITEMS)
                    .map(|i| {
                        let any = i.syntax_id == 0x10;
                        ItemOut {
                            syntax_id: i.syntax_id,
                            area: any.then(|| codes::area_name(i.area)).flatten(),
                            db: (any && matches!(i.area, 0x84 | 0x85)).then_some(i.db),
                            byte: any.then_some(i.byte),
                            bit: any.then_some(i.bit),
                            transport_size: any
                                .then(|| codes::transport_size_name(i.transport_size))
                                .flatten(),
                            length: any.then_some(i.length),
                        }
                    })
                    .collect();
            }
            Param::Setup {
                amq_calling,
                amq_called,
                pdu_size,
            } => {
                ev.setup = Some(SetupOut {
                    amq_calling: *amq_calling,
                    amq_called: *amq_called,
                    pdu_size: *pdu_size,
                })
            }
            Param::Block(b) => ev.block = Some(BlockOut::new(b)),
            Param::PiService { service, .. } | Param::PlcStop { service } => {
                ev.pi_service = Some(String::from_utf8_lossy(service))
            }
            _ => {}
        }
        if u.is_none() {
            ev.data_items = pdu
                .items
                .iter()
                .take(MAX_EVENT_ITEMS)
                .map(|d| DataOut {
                    return_code: d.return_code,
                    return_code_name: codes::return_code_name(d.return_code),
                    transport_size: d.transport_size,
                    length: d.data.len(),
                    value: hex(d.data),
                })
                .collect();
        }
        ev
    }
}

/// One `--events` line for an S7comm-plus PDU.
#[derive(Serialize)]
struct PlusEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    version: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    opcode: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    opcode_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<u32>,
    integrity: bool,
    keep_alive: bool,
    data_len: u16,
}

impl<'a> PlusEvent<'a> {
    fn new(msg: &'a Message, p: &PlusPdu<'_>) -> PlusEvent<'a> {
        PlusEvent {
            msg,
            version: p.version,
            opcode: p.opcode,
            opcode_name: p.opcode.and_then(codes::plus_opcode_name),
            seq: p.seq,
            session_id: p.session_id,
            integrity: p.integrity,
            keep_alive: p.version == 0xfe,
            data_len: p.data_len,
        }
    }
}

/// One `--events` line for a COTP connect or disconnect.
#[derive(Serialize)]
struct CotpEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    cotp_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_tsap: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dst_tsap: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rack: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slot: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tpdu_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<u8>,
}

impl<'a> CotpEvent<'a> {
    fn new(msg: &'a Message, c: &Cotp<'_>) -> CotpEvent<'a> {
        let mut ev = CotpEvent {
            msg,
            cotp_type: codes::cotp_type_name(c.code()),
            src_tsap: None,
            dst_tsap: None,
            rack: None,
            slot: None,
            tpdu_size: None,
            reason: None,
        };
        match c {
            Cotp::Connect {
                params, confirm, ..
            } => {
                ev.src_tsap = params.src_tsap.map(hex);
                ev.dst_tsap = params.dst_tsap.map(hex);
                let called = if *confirm {
                    params.dst_tsap.or(params.src_tsap)
                } else {
                    params.dst_tsap
                };
                // Rack and slot are S7's reading of the called TSAP, not MMS's.
                let s7 = msg.protocol == "s7comm";
                if let Some((r, s)) = called.filter(|_| s7).and_then(s7comm::parser::rack_slot) {
                    ev.rack = Some(r);
                    ev.slot = Some(s);
                }
                ev.tpdu_size = params.tpdu_size.filter(|&c| c < 16).map(|c| 1u32 << c);
            }
            Cotp::Disconnect { reason, .. } => ev.reason = *reason,
            _ => {}
        }
        ev
    }
}

impl crate::flow::Event for S7Event<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}

impl crate::flow::Event for PlusEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}

impl crate::flow::Event for CotpEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}
