//! The protocol parsers otsensor ships, as registry entries: each adapter wraps a
//! `otsensor_protocols` per-flow state machine, turns its PDUs into normalized
//! [`Message`](otsensor_baselines::message::Message)s and `--events` lines, and counts.

pub mod dnp3;
pub mod modbus;
pub mod s7comm;

use otsensor_baselines::message::{Message, Peer};
use otsensor_protocols::Direction;

use crate::registry::{AppCtx, EndpointInfo, FlowInfo, ProtocolSpec};

/// Every built-in protocol, in probe order.
pub fn builtin() -> Vec<ProtocolSpec> {
    vec![modbus::spec(), dnp3::spec(), s7comm::spec()]
}

fn peer(e: &EndpointInfo) -> Peer {
    Peer {
        ip: e.ip,
        port: e.port,
        mac: e.mac,
    }
}

/// Sender and receiver of a PDU travelling in `dir` on `flow`.
pub(crate) fn endpoints(flow: &FlowInfo, dir: Direction) -> (Peer, Peer) {
    match dir {
        Direction::Request => (peer(&flow.client), peer(&flow.server)),
        Direction::Response => (peer(&flow.server), peer(&flow.client)),
    }
}

/// A message skeleton with the flow fields filled in.
pub(crate) fn message(
    protocol: &'static str,
    ctx: &AppCtx<'_>,
    dir: Direction,
    operation: otsensor_protocols::Operation,
) -> Message {
    let (src, dst) = endpoints(ctx.flow, dir);
    Message {
        ts: ctx.ts,
        protocol,
        direction: dir,
        flow_id: ctx.flow.id,
        packet: ctx.pkt_index.saturating_add(1),
        src,
        dst,
        function_code: None,
        function: None,
        sub_function: None,
        sub_function_name: None,
        operation,
        unit: None,
        addresses: Vec::new(),
        exception_code: None,
        exception: None,
        flags: Vec::new(),
        request: None,
        identity: None,
    }
}
