//! IEC 60870-5-104 in the sensor: one message and event per ASDU (function code = type id,
//! as Wireshark's `iec60870_asdu.typeid`), U and S frames as messages of their own with the
//! function named and no function code. The unit is the common address (station), the
//! addresses the information object address runs.

use std::borrow::Cow;

use serde::Serialize;

use super::codes;
use super::parser::{Control, Flags, Value};
use super::state::{Event, Iec104Flow, Record};
use crate::flow::{emit, message, Adapter, Probe, ProbeMode, Reporter, Transport};
use crate::message::{AddressRange, Message, RequestRef};
use crate::time::Timestamp;
use crate::{Direction, Operation};

/// Name of IEC 104 messages.
pub const IEC104: &str = "iec104";

/// The content probe: a plausible APCI at the start.
pub fn probe(_t: Transport, _d: Direction, data: &[u8], mode: ProbeMode) -> Probe {
    if mode.own_port && mode.midstream {
        return Probe::Match;
    }
    match super::state::probe(data) {
        None => Probe::NeedMore,
        Some(true) => Probe::Match,
        Some(false) => Probe::NoMatch,
    }
}

/// IEC 104 in the generic handler.
pub struct Iec104;

impl Adapter for Iec104 {
    type Parser = Iec104Flow;
    type Context = ();

    fn context(_: &Iec104Flow) {}

    fn handle(ctx: &mut dyn Reporter, _dir: Direction, (): (), e: Event) {
        match e {
            Event::Apdu(rec) => apdu(ctx, &rec),
            Event::Malformed(_, err) => {
                ctx.parse_error(IEC104, err.as_str());
                ctx.counters().bump(err.as_str());
            }
            Event::Skipped(_, n) => {
                *ctx.counters().other.entry("skipped_bytes").or_default() += n as u64;
            }
        }
    }
}

fn apdu(ctx: &mut dyn Reporter, rec: &Record) {
    ctx.counters().pdus += 1;
    if rec.flags.contains(Flags::TRUNCATED) {
        ctx.counters().parse_errors += 1;
    }
    let (format, operation) = match (&rec.control, &rec.asdu) {
        (Control::I { .. }, Some(a)) => ("i", codes::operation(a.type_id)),
        (Control::I { .. }, None) => ("i", Operation::Other),
        (Control::S { .. }, _) => ("s", Operation::Session),
        (Control::U { function }, _) => (
            "u",
            if matches!(function, 0x43 | 0x83) {
                Operation::Diagnostics
            } else {
                Operation::Session
            },
        ),
    };
    ctx.counters().bump(match format {
        "i" => "i_frames",
        "s" => "s_frames",
        _ => "u_frames",
    });
    let mut m = message(IEC104, ctx, rec.direction, operation);
    match (&rec.control, &rec.asdu) {
        (Control::U { function }, _) => {
            m.function = Some(match codes::u_function_name(*function) {
                Some(n) => Cow::Borrowed(n),
                None => Cow::Owned(format!("u_{function:#04x}")),
            });
        }
        (Control::S { .. }, _) => m.function = Some(Cow::Borrowed("s_frame")),
        (Control::I { .. }, Some(a)) => {
            m.function_code = Some(u16::from(a.type_id));
            m.function = Some(match codes::type_name(a.type_id) {
                Some(n) => Cow::Borrowed(n),
                None => Cow::Owned(format!("type_{}", a.type_id)),
            });
            m.sub_function = Some(u16::from(a.cause));
            m.sub_function_name = codes::cause_name(a.cause).map(Cow::Borrowed);
            m.unit = Some(u32::from(a.common_address));
            m.addresses = a
                .ranges
                .iter()
                .map(|(start, count)| AddressRange {
                    area: Cow::Borrowed("ioa"),
                    start: *start,
                    count: *count,
                })
                .collect();
            if a.negative {
                m.exception_code = Some(u16::from(a.cause));
                m.exception = Some("negative_confirmation");
            }
        }
        (Control::I { .. }, None) => {}
    }
    if let Some(t) = rec.request_ts_ns {
        m.request = Some(RequestRef {
            ts: Timestamp::from_nanos(t),
            latency_us: ctx.ts().as_nanos().saturating_sub(t) / 1000,
        });
    }
    m.flags = rec.flags.names().collect();
    ctx.observe(&m);
    if ctx.events_for(m.protocol) {
        emit(ctx, &Iec104Event::new(&m, rec));
    }
}

/// One information object in an event.
#[derive(Serialize)]
struct ObjectEvent {
    ioa: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bits: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    quality: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<String>,
}

/// One `--events` line for an APDU.
#[derive(Serialize)]
struct Iec104Event<'a> {
    #[serde(skip)]
    msg: &'a Message,
    /// `i`, `s` or `u`.
    format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_seq: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recv_seq: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    originator: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    objects_count: Option<u8>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    test: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    objects: Vec<ObjectEvent>,
    /// For a command executed after its select: microseconds since the select.
    #[serde(skip_serializing_if = "Option::is_none")]
    select_delay_us: Option<i64>,
}

impl<'a> Iec104Event<'a> {
    fn new(msg: &'a Message, rec: &Record) -> Iec104Event<'a> {
        let (format, send, recv) = match rec.control {
            Control::I { send, recv } => ("i", Some(send), Some(recv)),
            Control::S { recv } => ("s", None, Some(recv)),
            Control::U { .. } => ("u", None, None),
        };
        let a = rec.asdu.as_ref();
        Iec104Event {
            msg,
            format,
            send_seq: send,
            recv_seq: recv,
            originator: a.map(|a| a.originator),
            sequence: a.map(|a| a.sequence),
            objects_count: a.map(|a| a.count),
            test: a.is_some_and(|a| a.test),
            objects: a
                .map(|a| {
                    a.objects
                        .iter()
                        .map(|o| ObjectEvent {
                            ioa: o.ioa,
                            value: match o.value {
                                Value::Number(v) => Some(v),
                                _ => None,
                            },
                            bits: match o.value {
                                Value::Bits(b) => Some(b),
                                _ => None,
                            },
                            quality: o.quality.clone(),
                            time: o.time.map(|t| t.text()),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            select_delay_us: rec
                .select_ts_ns
                .map(|t| msg.ts.as_nanos().saturating_sub(t) / 1000),
        }
    }
}

impl crate::flow::Event for Iec104Event<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}
