//! Modbus/TCP in the registry: port 502 (TCP and UDP) and a content probe for other ports.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::message::{AddressRange, Identity, Message, RequestRef};
use crate::modbus::{self, bits, codes, registers, Body, Event, Flags, ModbusFlow, Record, Table};
use crate::time::Timestamp;
use crate::Direction;

use crate::flow::{emit, message, Adapter, Probe, ProbeMode, Reporter, Transport};

/// Most values written into one event line (a read of 2000 coils stays one line).
pub const MAX_EVENT_VALUES: usize = 256;

pub fn probe(_t: Transport, _d: Direction, data: &[u8], mode: ProbeMode) -> Probe {
    match modbus::state::probe(data, !mode.own_port, mode.midstream) {
        None => Probe::NeedMore,
        Some(true) => Probe::Match,
        Some(false) => Probe::NoMatch,
    }
}

/// Modbus in the generic handler.
pub struct Modbus;

impl Adapter for Modbus {
    type Parser = ModbusFlow;
    type Context = ();

    fn context(_: &ModbusFlow) {}

    fn handle(ctx: &mut dyn Reporter, _dir: Direction, (): (), e: Event<'_>) {
        handle(ctx, e);
    }
}

fn handle(ctx: &mut dyn Reporter, e: Event<'_>) {
    match e {
        Event::Pdu(rec) => {
            ctx.counters().pdus += 1;
            if rec.pdu.flags.contains(Flags::TRUNCATED) {
                ctx.counters().parse_errors += 1;
            } else if !rec.pdu.flags.is_empty() {
                ctx.counters().bump("out_of_spec_pdus");
            }
            if rec.pdu.exception.is_some() {
                ctx.counters().bump("exceptions");
            }
            let msg = to_message(ctx, &rec);
            ctx.observe(&msg);
            if ctx.events_for(msg.protocol) {
                let ev = ModbusEvent::new(&msg, &rec);
                emit(ctx, &ev);
            }
        }
        Event::Malformed(_, err) => {
            let what = err.as_str();
            ctx.parse_error("modbus", what);
            ctx.counters().bump(what);
        }
        Event::Skipped(_, n) => {
            *ctx.counters().other.entry("skipped_bytes").or_default() += n as u64;
        }
    }
}

type Range = (Table, u16, u16);

/// The ranges a PDU reads and writes: its own, or for a response its request's.
fn ranges(rec: &Record<'_>) -> (Option<Range>, Option<Range>) {
    match (&rec.request, rec.direction) {
        (Some(r), Direction::Response) => (r.read, r.write),
        _ => {
            let own = rec.pdu.range();
            match &rec.pdu.body {
                Body::ReadRequest { .. } => (own, None),
                Body::ReadWriteRequest {
                    read_address,
                    read_quantity,
                    ..
                } => (
                    Some((Table::HoldingRegisters, *read_address, *read_quantity)),
                    own,
                ),
                _ => (None, own),
            }
        }
    }
}

fn range(area: Table, start: u16, count: u16) -> AddressRange {
    AddressRange {
        area: area.as_str().into(),
        start: u32::from(start),
        count: u32::from(count),
    }
}

/// The normalized message of one Modbus PDU.
pub fn to_message(ctx: &dyn Reporter, rec: &Record<'_>) -> Message {
    let mut m = message("modbus", ctx, rec.direction, rec.operation());
    let f = rec.pdu.function;
    m.function_code = Some(u16::from(f.raw));
    m.function = Some(f.name().into());
    m.unit = Some(u32::from(rec.header.unit_id));
    m.sub_function = sub_function(rec);
    m.sub_function_name = m
        .sub_function
        .and_then(|s| sub_function_name(f.raw, s))
        .map(Into::into);
    let (read, write) = ranges(rec);
    m.addresses.extend(
        read.iter()
            .chain(write.iter())
            .map(|(t, a, q)| range(*t, *a, *q)),
    );
    if let Some(e) = rec.pdu.exception {
        m.exception_code = Some(u16::from(e));
        m.exception = codes::exception_name(e);
    }
    m.flags = rec.pdu.flags.names().collect();
    if let Some(r) = &rec.request {
        m.request = Some(RequestRef {
            ts: Timestamp::from_nanos(r.ts_ns),
            latency_us: ctx.ts().as_nanos().saturating_sub(r.ts_ns) / 1000,
        });
    }
    if let Body::DeviceIdResponse { objects, .. } = &rec.pdu.body {
        let mut id = Identity::default();
        for o in objects {
            let v =
                Some(String::from_utf8_lossy(o.value).trim().to_string()).filter(|v| !v.is_empty());
            match o.id {
                0x00 => id.vendor = v,
                0x01 => id.order_number = v,
                0x02 => id.firmware = v,
                0x04 | 0x05 => id.model = v.or(id.model.take()),
                0x06 => id.name = v,
                _ => {}
            }
        }
        m.identity = (!id.is_empty()).then_some(id);
    }
    m
}

/// The sub-function of a PDU: diagnostic sub-function, MEI type or UMAS function (a UMAS
/// response carries a status where its request had the function, so it takes the request's).
fn sub_function(rec: &Record<'_>) -> Option<u16> {
    let req = rec.request.as_ref().and_then(|r| r.sub_function);
    match (&rec.pdu.body, rec.direction) {
        (Body::Umas { .. }, Direction::Response) => req,
        _ => rec.pdu.sub_function().or(req),
    }
}

fn sub_function_name(function: u8, sub: u16) -> Option<&'static str> {
    match function {
        codes::FunctionCode::DIAGNOSTICS => codes::diagnostic_name(sub),
        codes::FunctionCode::ENCAPSULATED_INTERFACE => match u8::try_from(sub) {
            Ok(codes::MEI_READ_DEVICE_ID) => Some("read_device_identification"),
            Ok(codes::MEI_CANOPEN) => Some("canopen_general_reference"),
            _ => None,
        },
        codes::FunctionCode::UMAS => u8::try_from(sub).ok().and_then(codes::umas_name),
        _ => None,
    }
}

/// Register or bit values of an event.
#[derive(Serialize)]
#[serde(untagged)]
enum Values {
    Bits(Vec<bool>),
    Registers(Vec<u16>),
}

impl Values {
    fn is_empty(&self) -> bool {
        match self {
            Values::Bits(v) => v.is_empty(),
            Values::Registers(v) => v.is_empty(),
        }
    }
}

/// One `--events` line for a Modbus PDU: the normalized message plus Modbus fields.
#[derive(Serialize)]
struct ModbusEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    transaction_id: u16,
    /// The table a response's values belong to (a request names it in `addresses`).
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<&'static str>,
    #[serde(skip_serializing_if = "Values::is_empty")]
    values: Values,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    values_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_identification: Option<BTreeMap<String, String>>,
    /// UMAS responses: `ok` (0xFE) or `error` (0xFD), else the raw status.
    #[serde(skip_serializing_if = "Option::is_none")]
    umas_status: Option<String>,
}

impl<'a> ModbusEvent<'a> {
    fn new(msg: &'a Message, rec: &Record<'_>) -> ModbusEvent<'a> {
        let pdu = &rec.pdu;
        let req = rec.request.as_ref();
        let mut ev = ModbusEvent {
            msg,
            transaction_id: rec.header.transaction_id,
            // The unit is the message's `unit`, a request's ranges its `addresses`.
            table: pdu
                .function
                .table()
                .map(Table::as_str)
                .filter(|_| msg.addresses.is_empty()),
            values: Values::Registers(Vec::new()),
            values_truncated: false,
            device_identification: None,
            umas_status: None,
        };
        if let (Body::Umas { code, .. }, Direction::Response) = (&pdu.body, rec.direction) {
            // A UMAS response carries a status where the request had its function.
            ev.umas_status = Some(match code {
                0xFE => "ok".to_string(),
                0xFD => "error".to_string(),
                other => format!("{other:#04x}"),
            });
        }
        ev.values = match &pdu.body {
            Body::ReadResponse { data, .. } => {
                let bit_table = req.and_then(|r| r.read).map(|(t, _, q)| (t.is_bits(), q));
                match bit_table {
                    Some((true, q)) => Values::Bits(bits(data, usize::from(q)).collect()),
                    Some((false, _)) => Values::Registers(registers(data).collect()),
                    None if pdu.function.raw <= 2 => {
                        Values::Bits(bits(data, data.len() * 8).collect())
                    }
                    None => Values::Registers(registers(data).collect()),
                }
            }
            Body::WriteMultipleRequest { quantity, data, .. } => {
                if pdu.function.raw == codes::FunctionCode::WRITE_MULTIPLE_COILS {
                    Values::Bits(bits(data, usize::from(*quantity)).collect())
                } else {
                    Values::Registers(registers(data).collect())
                }
            }
            Body::ReadWriteRequest { data, .. } | Body::FifoResponse { data, .. } => {
                Values::Registers(registers(data).collect())
            }
            Body::WriteSingle { value, .. } => {
                if pdu.function.raw == codes::FunctionCode::WRITE_SINGLE_COIL {
                    Values::Bits(vec![*value == 0xFF00])
                } else {
                    Values::Registers(vec![*value])
                }
            }
            Body::MaskWrite {
                and_mask, or_mask, ..
            } => Values::Registers(vec![*and_mask, *or_mask]),
            _ => Values::Registers(Vec::new()),
        };
        match &mut ev.values {
            Values::Bits(v) if v.len() > MAX_EVENT_VALUES => {
                v.truncate(MAX_EVENT_VALUES);
                ev.values_truncated = true;
            }
            Values::Registers(v) if v.len() > MAX_EVENT_VALUES => {
                v.truncate(MAX_EVENT_VALUES);
                ev.values_truncated = true;
            }
            _ => {}
        }
        if let Body::DeviceIdResponse { objects, .. } = &pdu.body {
            ev.device_identification = Some(
                objects
                    .iter()
                    .map(|o| {
                        let name = codes::device_object_name(o.id)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("object_{:#04x}", o.id));
                        (name, String::from_utf8_lossy(o.value).into_owned())
                    })
                    .collect(),
            );
        }
        ev
    }
}

impl crate::flow::Event for ModbusEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}
