//! EtherNet/IP and CIP in the sensor: each encapsulation message becomes a message of
//! protocol `enip` (function code: the command), each CIP message — nested ones included — a
//! message of protocol `cip` (function code: the service code without the response bit), as
//! Wireshark counts `enip.command` and `cip.sc`. A CIP message's sub-function is the class of
//! the object it addresses (its name the class's), its addresses the instance of that class
//! or the Logix tag, its unit the connection id of connected messages.

use std::borrow::Cow;

use serde::Serialize;

use super::codes;
use super::parser::{Cip, Connection, Flags, Identity as CipIdentity, Path};
use super::pccc::{self, Pccc};
use super::state::{CipRecord, EncapRecord, EnipFlow, Event};
use crate::flow::{emit, message, Adapter, Probe, ProbeMode, Reporter, Transport};
use crate::message::{AddressRange, Identity, IoLink, Message, RequestRef};
use crate::time::Timestamp;
use crate::{Direction, Operation};

/// Name of encapsulation messages.
pub const ENIP: &str = "enip";
/// Name of CIP messages.
pub const CIP: &str = "cip";

/// The content probe: an encapsulation header of a defined command at the start.
pub fn probe(_t: Transport, _d: Direction, data: &[u8], mode: ProbeMode) -> Probe {
    // On its own ports, a stream picked up midstream resyncs by itself.
    if mode.own_port && mode.midstream {
        return Probe::Match;
    }
    // Implicit I/O datagrams have no encapsulation header.
    if mode.own_port && super::state::is_io(data) {
        return Probe::Match;
    }
    match super::state::probe(data, !mode.own_port) {
        None => Probe::NeedMore,
        Some(true) => Probe::Match,
        Some(false) => Probe::NoMatch,
    }
}

/// EtherNet/IP in the generic handler.
pub struct Enip;

impl Adapter for Enip {
    type Parser = EnipFlow;
    type Context = ();

    fn context(_: &EnipFlow) {}

    fn handle(ctx: &mut dyn Reporter, _dir: Direction, (): (), e: Event<'_>) {
        match e {
            Event::Encap(rec) => encap(ctx, &rec),
            Event::Cip(rec) => cip(ctx, &rec),
            Event::IoConnection {
                direction,
                connection,
                sequence,
            } => {
                ctx.counters().bump("io_connections");
                let mut m = message(ENIP, ctx, direction, Operation::Other);
                m.function = Some(Cow::Borrowed("implicit_io"));
                m.unit = Some(connection);
                m.io = Some(IoLink::Data { id: connection });
                ctx.observe(&m);
                if ctx.events_for(m.protocol) {
                    emit(
                        ctx,
                        &IoEvent {
                            msg: &m,
                            connection_id: connection,
                            sequence,
                        },
                    );
                }
            }
            Event::Malformed(_, err) => {
                ctx.parse_error(ENIP, err.as_str());
                ctx.counters().bump(err.as_str());
            }
            Event::Skipped(_, n) => {
                *ctx.counters().other.entry("skipped_bytes").or_default() += n as u64;
            }
        }
    }
}

fn identity(id: &CipIdentity) -> Identity {
    Identity {
        vendor: Some(
            codes::vendor_name(id.vendor)
                .map_or_else(|| format!("vendor {}", id.vendor), str::to_string),
        ),
        model: Some(id.product_name.clone()).filter(|n| !n.is_empty()),
        order_number: Some(format!("product code {}", id.product_code)),
        firmware: Some(format!("{}.{:03}", id.revision.0, id.revision.1)),
        hardware: codes::device_type_name(id.device_type).map(str::to_string),
        name: None,
        serial: Some(format!("{:#010x}", id.serial)),
        ..Identity::default()
    }
}

fn encap(ctx: &mut dyn Reporter, rec: &EncapRecord) {
    let h = &rec.header;
    ctx.counters().pdus += 1;
    if rec.flags.contains(Flags::TRUNCATED) {
        ctx.counters().parse_errors += 1;
    }
    if rec.flags.contains(Flags::UNKNOWN_COMMAND) {
        ctx.counters().bump("unknown_commands");
    }
    let mut m = message(
        ENIP,
        ctx,
        rec.direction,
        codes::command_operation(h.command),
    );
    m.function_code = Some(h.command);
    m.function = Some(match codes::command_name(h.command) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("command_{:#06x}", h.command)),
    });
    if rec.direction == Direction::Response && h.status != 0 {
        m.exception_code = u16::try_from(h.status).ok().or(Some(u16::MAX));
        m.exception = codes::status_name(h.status);
    }
    m.flags = rec.flags.names().collect();
    m.identity = rec.identity.as_ref().map(identity);
    ctx.observe(&m);
    if !ctx.events_for(m.protocol) {
        return;
    }
    emit(
        ctx,
        &EncapEvent {
            msg: &m,
            session: h.session,
            status: h.status,
            sender_context: h.context,
            items: rec.items.iter().map(|t| format!("{t:#06x}")).collect(),
            service_name: rec.service_name.as_deref(),
            device: rec.identity.as_ref().map(Device::of),
        },
    );
}

fn addresses(path: &Path) -> Vec<AddressRange> {
    if let Some(tag) = &path.tag {
        return vec![AddressRange {
            area: Cow::Owned(format!("tag:{tag}")),
            start: 0,
            count: 1,
        }];
    }
    match (path.class, path.instance) {
        (Some(c), i) => vec![AddressRange {
            area: Cow::Owned(match codes::class_name(c) {
                Some(n) => format!("class:{n}"),
                None => format!("class:{c:#x}"),
            }),
            start: i.unwrap_or(0),
            count: 1,
        }],
        _ => Vec::new(),
    }
}

fn cip(ctx: &mut dyn Reporter, rec: &CipRecord<'_>) {
    ctx.counters().bump("cip_messages");
    if rec.flags.contains(Flags::TRUNCATED) || rec.flags.contains(Flags::BAD_PATH) {
        ctx.counters().parse_errors += 1;
    }
    let service = rec.cip.service();
    let path = rec.path();
    let class = path.and_then(|p| p.class);
    let operation = match (&rec.cip, &rec.request) {
        (Cip::Request { .. }, _) => codes::operation(service, class),
        (Cip::Response { .. }, Some(r)) => codes::operation(r.service, r.path.class),
        (Cip::Response { .. }, None) => Operation::Other,
    };
    let mut m = message(CIP, ctx, rec.direction, operation);
    m.function_code = Some(u16::from(service));
    m.function = Some(match codes::service_name(service, class) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("service_{service:#04x}")),
    });
    // The object addressed is CIP's sub-function: Stop on the controller is not Stop on a
    // connection.
    m.sub_function = class.and_then(|c| u16::try_from(c).ok());
    m.sub_function_name = class.and_then(codes::class_name).map(Cow::Borrowed);
    if let Some(p) = path {
        m.addresses = addresses(p);
    }
    m.unit = rec.connection;
    // A Forward Open answered with success: the ids its I/O data will carry.
    if let (
        Cip::Response { .. },
        Some(Connection {
            o_t_id: Some(o_t),
            t_o_id: Some(t_o),
            ..
        }),
    ) = (&rec.cip, &rec.connection_info)
    {
        if matches!(
            service,
            codes::service::FORWARD_OPEN | codes::service::LARGE_FORWARD_OPEN
        ) {
            m.io = Some(IoLink::Opened {
                o_t: *o_t,
                t_o: *t_o,
            });
        }
    }
    let pccc = decode_pccc(rec, service, class);
    if let (Some(p), Cip::Request { .. }) = (&pccc, &rec.cip) {
        m.operation = p.operation();
        m.function = Some(Cow::Owned(p.message_name()));
        if let Some(a) = p.address {
            m.addresses = vec![data_table_address(&a)];
        }
    }
    if let Cip::Response { status: s, .. } = &rec.cip {
        // Partial transfer is how fragmented services go on, not a failure.
        if !matches!(s, 0x00 | 0x06) {
            m.exception_code = Some(u16::from(*s));
            m.exception = codes::general_status_name(*s);
        }
    }
    if let Some(r) = &rec.request {
        m.request = Some(RequestRef {
            ts: Timestamp::from_nanos(r.ts_ns),
            latency_us: ctx.ts().as_nanos().saturating_sub(r.ts_ns) / 1000,
        });
    }
    m.flags = rec.flags.names().collect();
    m.identity = rec.identity.as_ref().map(identity);
    ctx.observe(&m);
    if !ctx.events_for(m.protocol) {
        return;
    }
    let (route, general_status, extended_status): (&[(u16, u32)], _, &[u16]) = match &rec.cip {
        Cip::Request { path, .. } => (&path.ports, None, &[]),
        Cip::Response {
            status, extended, ..
        } => (&[], Some(*status), extended),
    };
    emit(
        ctx,
        &CipEvent {
            msg: &m,
            command: rec.command,
            connection_id: rec.connection,
            sequence: rec.sequence,
            depth: rec.depth,
            instance: path.and_then(|p| p.instance),
            attribute: path.and_then(|p| p.attribute),
            member: path.and_then(|p| p.member),
            tag: path.and_then(|p| p.tag.as_deref()),
            route,
            general_status,
            extended_status,
            connection: rec.connection_info.as_ref().map(ConnectionEvent::of),
            device: rec.identity.as_ref().map(Device::of),
            pccc: pccc.as_ref().map(PcccEvent::of),
            fragment: rec.fragment.map(|f| FragmentEvent {
                offset: f.offset,
                bytes: f.bytes,
            }),
            transfer: rec
                .fragment
                .and_then(|f| f.transfer)
                .map(|(fragments, bytes)| TransferEvent { fragments, bytes }),
        },
    );
}

/// The PCCC command or reply an Execute PCCC message carries (a reply only when CIP
/// carried it successfully).
fn decode_pccc(rec: &CipRecord<'_>, service: u8, class: Option<u32>) -> Option<Pccc> {
    if (service, class) != (codes::service::EXECUTE_PCCC, Some(codes::class::PCCC)) {
        return None;
    }
    match &rec.cip {
        Cip::Request { data, .. } => pccc::request(data),
        Cip::Response {
            status: 0, data, ..
        } => pccc::reply(data),
        Cip::Response { .. } => None,
    }
}

/// A PCCC data-table address as the programming software writes it (`N7`, element 0):
/// the file's type letter and number, the element, and how many elements the bytes span.
fn data_table_address(a: &pccc::Address) -> AddressRange {
    // (letter, bytes per element) of the SLC/MicroLogix file types.
    let (letter, size) = match a.file_type {
        0x82 => ("O", 2),
        0x83 => ("I", 2),
        0x84 => ("S", 2),
        0x85 => ("B", 2),
        0x86 => ("T", 6),
        0x87 => ("C", 6),
        0x89 => ("N", 2),
        0x8A => ("F", 4),
        0x22 => ("program", 1),
        _ => ("", 1),
    };
    AddressRange {
        area: Cow::Owned(if letter.is_empty() {
            format!("file{}_type{:#04x}", a.file, a.file_type)
        } else {
            format!("{letter}{}", a.file)
        }),
        start: u32::from(a.element),
        count: u32::from(a.bytes).div_ceil(size).max(1),
    }
}

/// An Execute PCCC message's PCCC part in an event.
#[derive(Serialize)]
struct PcccEvent {
    command: u8,
    status: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ext_status: Option<u8>,
    tns: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    function: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    element: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_element: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_mode: Option<u8>,
    requestor_vendor: u16,
    requestor_serial: u32,
}

impl PcccEvent {
    fn of(p: &Pccc) -> PcccEvent {
        PcccEvent {
            command: p.command,
            status: p.status,
            status_name: pccc::status_name(p.status),
            ext_status: p.ext_status,
            tns: p.tns,
            function: p.function,
            function_name: p.function_name(),
            file: p.address.map(|a| a.file),
            file_type: p.address.map(|a| a.file_type),
            element: p.address.map(|a| a.element),
            sub_element: p.address.and_then(|a| a.sub_element),
            bytes: p.address.map(|a| a.bytes),
            cpu_mode: p.cpu_mode,
            requestor_vendor: p.vendor,
            requestor_serial: p.serial,
        }
    }
}

/// What a device said about itself, as the identity object has it.
#[derive(Serialize)]
struct Device<'a> {
    vendor_id: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor: Option<&'static str>,
    device_type: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_type_name: Option<&'static str>,
    product_code: u16,
    revision: String,
    serial: String,
    product_name: &'a str,
}

impl Device<'_> {
    fn of(id: &CipIdentity) -> Device<'_> {
        Device {
            vendor_id: id.vendor,
            vendor: codes::vendor_name(id.vendor),
            device_type: id.device_type,
            device_type_name: codes::device_type_name(id.device_type),
            product_code: id.product_code,
            revision: format!("{}.{:03}", id.revision.0, id.revision.1),
            serial: format!("{:#010x}", id.serial),
            product_name: &id.product_name,
        }
    }
}

/// One `--events` line for an encapsulation message.
#[derive(Serialize)]
struct EncapEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    session: u32,
    status: u32,
    sender_context: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    items: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<Device<'a>>,
}

/// A Forward Open or Close, as an event shows it.
#[derive(Serialize)]
struct ConnectionEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    o_t_connection_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    t_o_connection_id: Option<u32>,
    connection_serial: u16,
    originator_vendor_id: u16,
    originator_serial: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    rpi_us: Option<(u32, u32)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transport_class: Option<u8>,
}

impl ConnectionEvent {
    fn of(c: &Connection) -> ConnectionEvent {
        ConnectionEvent {
            o_t_connection_id: c.o_t_id,
            t_o_connection_id: c.t_o_id,
            connection_serial: c.serial,
            originator_vendor_id: c.vendor,
            originator_serial: c.originator_serial,
            rpi_us: c.rpi_us,
            transport_class: c.transport.map(|t| t & 0x0F),
        }
    }
}

/// One `--events` line for a CIP message.
#[derive(Serialize)]
struct CipEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    /// The encapsulation command that carried it.
    command: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u16>,
    #[serde(skip_serializing_if = "is_zero")]
    depth: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attribute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    route: &'a [(u16, u32)],
    #[serde(skip_serializing_if = "Option::is_none")]
    general_status: Option<u8>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    extended_status: &'a [u16],
    #[serde(skip_serializing_if = "Option::is_none")]
    connection: Option<ConnectionEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<Device<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pccc: Option<PcccEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fragment: Option<FragmentEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer: Option<TransferEvent>,
}

/// A fragment of a fragmented tag service (Logix Read/Write_Tag_Fragmented).
#[derive(Serialize)]
struct FragmentEvent {
    offset: u32,
    bytes: u32,
}

/// The fragmented transfer a message completed, reassembled.
#[derive(Serialize)]
struct TransferEvent {
    fragments: u32,
    bytes: u32,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// The first implicit I/O datagram of a connection.
#[derive(Serialize)]
struct IoEvent<'a> {
    #[serde(skip)]
    msg: &'a Message,
    connection_id: u32,
    sequence: u32,
}

impl crate::flow::Event for EncapEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}

impl crate::flow::Event for CipEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}

impl crate::flow::Event for IoEvent<'_> {
    fn message(&self) -> &Message {
        self.msg
    }
}
