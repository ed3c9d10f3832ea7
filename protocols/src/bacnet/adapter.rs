//! BACnet/IP in the sensor: one message and event per datagram (BVLC, NPDU, APDU), with
//! `function_code` the service choice (as Wireshark's `bacapp.confirmed_service` or
//! `bacapp.unconfirmed_service`; `pdu_type` says which), the object a service addresses as
//! its address (area: the object type), errors, rejects and aborts as exceptions, and
//! ReadProperty answers about a device object as its identity.

use std::borrow::Cow;

use serde::Serialize;

use super::{codes, Apdu, Malformed, Pdu, PduType};
use crate::flow::{emit, message, Adapter, FlowParser, Probe, ProbeMode, Reporter, Transport};
use crate::message::{AddressRange, Identity, Message};
use crate::{Direction, Operation};

/// Name of BACnet messages.
pub const BACNET: &str = "bacnet";

/// The content probe: on port 47808 a BVLC of BACnet/IP (type 0x81 and a known function:
/// a malformed NPDU is then BACnet's own problem, counted); elsewhere also a length no
/// longer than the datagram and, for NPDU-carrying functions, NPDU version 1.
pub fn probe(t: Transport, _d: Direction, data: &[u8], mode: ProbeMode) -> Probe {
    if t != Transport::Udp {
        return Probe::NoMatch;
    }
    let ok = match data {
        [0x81, f, hi, lo, rest @ ..] if *f <= 0x0c => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            let npdu = match f {
                0x04 => rest.get(6),
                0x09..=0x0b => rest.first(),
                _ => Some(&1),
            };
            // Some stacks send trailing bytes past the BVLC length: what it covers is read.
            (4..=data.len()).contains(&len) && npdu == Some(&1)
        }
        _ => false,
    };
    let bvlc = matches!(data, [0x81, f, ..] if *f <= 0x0c);
    if ok || (mode.own_port && bvlc) {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

/// The per-flow parser: datagrams only.
#[derive(Debug, Default)]
pub struct BacnetFlow {
    not_udp: bool,
}

impl FlowParser for BacnetFlow {
    type Event<'a> = Result<Pdu, Malformed>;

    fn feed(&mut self, _: Direction, _: &[u8], _: i64, _: &mut dyn FnMut(Self::Event<'_>)) {
        self.not_udp = true;
    }

    fn gap(&mut self, _: Direction) {}

    fn datagram(
        &mut self,
        _: Direction,
        data: &[u8],
        _: i64,
        f: &mut dyn FnMut(Self::Event<'_>),
    ) -> Result<(), &'static str> {
        f(super::parse(data));
        Ok(())
    }

    fn finish(&mut self) {}

    fn tallies(&self, _: &mut dyn FnMut(&'static str, u64)) {}

    fn give_up(&self) -> Option<&'static str> {
        self.not_udp.then_some("bacnet_over_tcp")
    }
}

/// BACnet in the generic handler.
pub struct Bacnet;

impl Adapter for Bacnet {
    type Parser = BacnetFlow;
    type Context = ();

    fn context(_: &BacnetFlow) {}

    fn handle(ctx: &mut dyn Reporter, dir: Direction, (): (), e: Result<Pdu, Malformed>) {
        match e {
            Ok(p) => pdu(ctx, dir, &p),
            Err(err) => {
                ctx.parse_error(BACNET, err.as_str());
                ctx.counters().bump(err.as_str());
            }
        }
    }
}

fn operation(p: &Pdu) -> Operation {
    match (&p.apdu, p.npdu.and_then(|n| n.network_message)) {
        (Some(a), _) => match (a.pdu_type, a.service) {
            (PduType::UnconfirmedRequest, Some(s)) => codes::unconfirmed_operation(s),
            (PduType::ConfirmedRequest | PduType::SimpleAck | PduType::ComplexAck, Some(s)) => {
                codes::confirmed_operation(s)
            }
            _ => Operation::Other,
        },
        (None, Some(_)) => Operation::Session,
        (None, None) => match p.bvlc.function {
            0x01 | 0x05 | 0x08 => Operation::Configuration,
            0x02 | 0x03 | 0x06 | 0x07 => Operation::Read,
            _ => Operation::Session,
        },
    }
}

fn pdu(ctx: &mut dyn Reporter, dir: Direction, p: &Pdu) {
    ctx.counters().pdus += 1;
    let mut m = message(BACNET, ctx, dir, operation(p));
    if p.bvlc.length_mismatch {
        m.flags.push("bvlc_length_mismatch");
        ctx.counters().bump("bvlc_length_mismatch");
    }
    match &p.apdu {
        Some(a) => {
            apdu_fields(&mut m, a);
            // A forwarded NPDU (from a BBMD) or one routed from another network speaks for
            // its original source, not for the host that sent the datagram.
            if p.bvlc.forwarded_from.is_some() || p.npdu.is_some_and(|n| n.snet.is_some()) {
                m.identity = None;
            }
        }
        None => {
            m.function = Some(match p.npdu.and_then(|n| n.network_message) {
                Some(t) => Cow::Owned(format!("network_message_{t}")),
                None => Cow::Borrowed(super::bvlc_name(p.bvlc.function)),
            });
        }
    }
    ctx.observe(&m);
    if ctx.events_for(m.protocol) {
        emit(
            ctx,
            &BacnetEvent {
                msg: &m,
                bvlc: super::bvlc_name(p.bvlc.function),
                forwarded_from: p
                    .bvlc
                    .forwarded_from
                    .map(|(ip, port)| format!("{}:{port}", std::net::Ipv4Addr::from(ip))),
                npdu: p.npdu.as_ref(),
                apdu: p.apdu.as_ref(),
            },
        );
    }
}

fn apdu_fields(m: &mut Message, a: &Apdu) {
    if let Some(s) = a.service {
        m.function_code = Some(u16::from(s));
        let name = match a.pdu_type {
            PduType::UnconfirmedRequest => codes::unconfirmed_name(s),
            _ => codes::confirmed_name(s),
        };
        m.function = Some(match name {
            Some(n) => Cow::Borrowed(n),
            None => Cow::Owned(format!("service_{s}")),
        });
    } else {
        m.function = Some(Cow::Borrowed(match a.pdu_type {
            PduType::SegmentAck => "segmentAck",
            PduType::Reject => "reject",
            PduType::Abort => "abort",
            _ => "apdu",
        }));
    }
    if let Some(v) = a.request_state {
        m.sub_function = u16::try_from(v).ok();
    }
    if (a.pdu_type, a.service) == (PduType::UnconfirmedRequest, Some(8))
        && a.range.is_none_or(|(lo, hi)| hi > lo)
    {
        m.sub_function_name = Some(Cow::Borrowed(super::SWEEP));
    }
    if let Some(pri) = a.priority {
        m.sub_function = Some(u16::from(pri));
        m.sub_function_name = Some(Cow::Owned(format!("priority_{pri}")));
    }
    if a.property == Some(codes::property::OUT_OF_SERVICE) && a.service == Some(15) {
        m.sub_function_name = Some(Cow::Borrowed("out_of_service"));
    }
    if let Some(o) = a.object {
        m.addresses.push(AddressRange {
            area: match codes::object_type(o.kind) {
                Some(n) => Cow::Borrowed(n),
                None => Cow::Owned(format!("object_type_{}", o.kind)),
            },
            start: o.instance,
            count: 1,
        });
    }
    match a.pdu_type {
        PduType::Error => {
            m.exception = Some("error");
            m.exception_code = a.error_code.and_then(|c| u16::try_from(c).ok());
        }
        PduType::Reject => m.exception = Some("reject"),
        PduType::Abort => m.exception = Some("abort"),
        _ => {}
    }
    m.identity = identity(a);
}

/// What a device says about itself: its I-Am (device instance and vendor number), and
/// ReadProperty answers about its device object (vendor, model, firmware, application
/// software, name).
fn identity(a: &Apdu) -> Option<Identity> {
    let mut id = Identity::default();
    match (a.pdu_type, a.service, &a.text, a.object) {
        (PduType::UnconfirmedRequest, Some(0), _, Some(o)) if o.kind == codes::DEVICE => {
            id.device_id = Some(match a.vendor_id {
                Some(v) => format!("bacnet device {}, vendor {v}", o.instance),
                None => format!("bacnet device {}", o.instance),
            });
        }
        (PduType::ComplexAck, Some(12), Some(t), Some(o)) if o.kind == codes::DEVICE => {
            let field = match a.property {
                Some(codes::property::VENDOR_NAME) => &mut id.vendor,
                Some(codes::property::MODEL_NAME) => &mut id.model,
                Some(codes::property::FIRMWARE_REVISION) => &mut id.firmware,
                Some(codes::property::APPLICATION_SOFTWARE_VERSION) => &mut id.software_version,
                Some(codes::property::OBJECT_NAME) => &mut id.name,
                _ => return None,
            };
            *field = Some(t.clone());
        }
        _ => return None,
    }
    Some(id)
}

/// One `--events` line for a BACnet/IP datagram.
#[derive(Serialize)]
struct BacnetEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    bvlc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    forwarded_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    npdu: Option<&'a super::Npdu>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apdu: Option<&'a Apdu>,
}

impl crate::flow::Event for BacnetEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}
