//! The protocol parsers otsensor ships, as registry entries. One [`Handler`] drives every
//! protocol's per-flow parser (an `otsensor_protocols` [`FlowParser`]): stream bytes, gaps,
//! datagrams, the end of the flow, its running totals and when to give up. Each protocol's
//! [`Adapter`] only turns its parser's events into normalized
//! [`Message`](otsensor_baselines::message::Message)s, `--events` lines and counters.

pub mod dnp3;
pub mod modbus;
pub mod s7comm;

use otsensor_baselines::message::{Message, Peer};
use otsensor_protocols::flow::FlowParser;
use otsensor_protocols::Direction;

use crate::flow::StreamEvent;
use crate::registry::{AppCtx, AppHandler, EndpointInfo, FlowInfo, ProtocolSpec, Verdict};

/// Every built-in protocol, in probe order.
pub fn builtin() -> Vec<ProtocolSpec> {
    vec![modbus::spec(), dnp3::spec(), s7comm::spec()]
}

/// A protocol's side of [`Handler`]: how its parser's events become messages, event lines
/// and counters.
pub(crate) trait Adapter: 'static {
    /// The protocol's per-flow parser.
    type Parser: FlowParser;
    /// What [`Adapter::handle`] needs from the parser's state, read before each feed (S7:
    /// the rack and slot of the connection).
    type Context: Copy;

    /// The context now.
    fn context(parser: &Self::Parser) -> Self::Context;

    /// One event of the parser, from data travelling in `dir`.
    fn handle(
        ctx: &mut AppCtx<'_>,
        dir: Direction,
        c: Self::Context,
        e: <Self::Parser as FlowParser>::Event<'_>,
    );
}

/// Most running totals a parser reports ([`FlowParser::tallies`]).
const MAX_TALLIES: usize = 4;

/// The handler of every protocol: drives the adapter's parser, counts its running totals
/// and abandons the flow when the parser gives up.
pub(crate) struct Handler<A: Adapter> {
    parser: A::Parser,
    /// The totals already counted, in the order the parser reports them.
    reported: [u64; MAX_TALLIES],
}

impl<A: Adapter> Handler<A> {
    /// A handler for a new flow (a registry entry's `new_handler`).
    pub(crate) fn boxed() -> Box<dyn AppHandler> {
        Box::new(Handler::<A> {
            parser: A::Parser::default(),
            reported: [0; MAX_TALLIES],
        })
    }

    /// Counts what the running totals grew by since the last report.
    fn report(&mut self, ctx: &mut AppCtx<'_>) {
        let mut k = 0;
        let reported = &mut self.reported;
        self.parser.tallies(&mut |name, n| {
            debug_assert!(k < MAX_TALLIES, "more tallies than MAX_TALLIES");
            if let Some(r) = reported.get_mut(k) {
                if n > *r {
                    *ctx.counters.other.entry(name).or_default() += n - *r;
                    *r = n;
                }
            }
            k += 1;
        });
    }
}

impl<A: Adapter> AppHandler for Handler<A> {
    fn on_stream(&mut self, ctx: &mut AppCtx<'_>, dir: Direction, ev: StreamEvent<'_>) -> Verdict {
        match ev {
            StreamEvent::Gap(_) => self.parser.gap(dir),
            StreamEvent::Data(d) => {
                let now = ctx.ts.as_nanos();
                let c = A::context(&self.parser);
                self.parser
                    .feed(dir, d, now, &mut |e| A::handle(ctx, dir, c, e));
            }
        }
        self.report(ctx);
        match self.parser.give_up() {
            Some(reason) => Verdict::Abandon(reason),
            None => Verdict::Continue,
        }
    }

    fn on_datagram(&mut self, ctx: &mut AppCtx<'_>, dir: Direction, payload: &[u8]) -> Verdict {
        let now = ctx.ts.as_nanos();
        let c = A::context(&self.parser);
        match self
            .parser
            .datagram(dir, payload, now, &mut |e| A::handle(ctx, dir, c, e))
        {
            Err(reason) => Verdict::Abandon(reason),
            Ok(()) => {
                self.report(ctx);
                Verdict::Continue
            }
        }
    }

    fn on_end(&mut self, ctx: &mut AppCtx<'_>) {
        self.parser.finish();
        self.report(ctx);
    }
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
