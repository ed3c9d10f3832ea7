//! Test helpers for the rule modules: a [`Message`] builder and a runner that feeds messages
//! of one flow to a module's `check` and collects what it raised.

use std::borrow::Cow;

use otsensor_protocols::{Direction, Operation};

use crate::alert::Signal;
use crate::message::{AddressRange, Message, Peer};
use crate::time::Timestamp;
use crate::zones::ZoneId;

use super::findings::{Ctx, Findings};
use super::{DetectorConfig, FlowView, Mode, Policy, Shared};
use crate::assets::AssetInventory;
use crate::baseline::Learner;
use crate::zones::ZoneMap;
use std::sync::Arc;

/// The client of the test flow.
pub fn client() -> Peer {
    Peer {
        ip: "10.0.0.1".parse().unwrap(),
        port: 40000,
        mac: None,
    }
}

/// The server of the test flow.
pub fn server(port: u16) -> Peer {
    Peer {
        ip: "10.0.0.2".parse().unwrap(),
        port,
        mac: None,
    }
}

/// The test flow (id 1, TCP, zone 0 at both ends) between `client` and `server`.
pub fn view<'a>(client: &'a Peer, server: &'a Peer) -> FlowView<'a> {
    FlowView {
        id: 1,
        client,
        server,
        client_zone: 0,
        server_zone: 0,
        transport: "tcp",
        cid: None,
    }
}

/// The test flow's poll: read holding registers `start..start + 10` of unit 1 at `at`
/// seconds.
pub fn read(at: f64, start: u32) -> Message {
    MessageBuilder::modbus(3)
        .operation(Operation::Read)
        .unit(1)
        .addresses("holding_registers", start, 10)
        .at_secs(at)
        .build()
}

/// Builds a message of the test flow: a request from [`client`] unless turned around.
#[derive(Debug, Clone)]
pub struct MessageBuilder(Message);

impl MessageBuilder {
    /// A request of `protocol` to `port`.
    pub fn new(protocol: &'static str, port: u16) -> MessageBuilder {
        MessageBuilder(Message {
            ts: Timestamp::from_nanos(1_700_000_000_000_000_000),
            protocol,
            direction: Direction::Request,
            flow_id: 1,
            packet: 1,
            src: client(),
            dst: server(port),
            function_code: None,
            function: None,
            sub_function: None,
            sub_function_name: None,
            operation: Operation::Other,
            unit: None,
            addresses: Vec::new(),
            exception_code: None,
            exception: None,
            flags: Vec::new(),
            request: None,
            identity: None,
            io: None,
        })
    }

    /// A Modbus request with function `code`.
    pub fn modbus(code: u16) -> MessageBuilder {
        MessageBuilder::new("modbus", 502).function(code, "f")
    }

    /// An S7comm job with function `code` named `name`.
    pub fn s7_job(code: u16, name: &'static str) -> MessageBuilder {
        MessageBuilder::new("s7comm", 102).function(code, name)
    }

    /// Function code and name.
    pub fn function(mut self, code: u16, name: &'static str) -> Self {
        self.0.function_code = Some(code);
        self.0.function = Some(Cow::Borrowed(name));
        self
    }

    /// Sub-function.
    pub fn sub_function(mut self, sub: u16) -> Self {
        self.0.sub_function = Some(sub);
        self
    }

    /// The normalized operation.
    pub fn operation(mut self, op: Operation) -> Self {
        self.0.operation = op;
        self
    }

    /// A parser flag.
    pub fn flag(mut self, f: &'static str) -> Self {
        self.0.flags.push(f);
        self
    }

    /// Unit id.
    pub fn unit(mut self, u: u32) -> Self {
        self.0.unit = Some(u);
        self
    }

    /// An address range.
    pub fn addresses(mut self, area: &'static str, start: u32, count: u32) -> Self {
        self.0.addresses.push(AddressRange {
            area: Cow::Borrowed(area),
            start,
            count,
        });
        self
    }

    /// An exception response with `code`.
    pub fn exception(mut self, code: u16, name: &'static str) -> Self {
        self = self.response();
        self.0.exception_code = Some(code);
        self.0.exception = Some(name);
        self
    }

    /// Capture time, seconds after the builder's start.
    pub fn at_secs(mut self, s: f64) -> Self {
        self.0.ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + (s * 1e9) as i64);
        self
    }

    /// The server's answer instead of the client's request.
    pub fn response(mut self) -> Self {
        self.0.direction = Direction::Response;
        std::mem::swap(&mut self.0.src, &mut self.0.dst);
        self
    }

    /// The message.
    pub fn build(self) -> Message {
        self.0
    }
}

/// What a module raised over a run: full observations (rule id, details) and repeats, and
/// the facts for the anomaly engine.
#[derive(Debug, Default)]
pub struct Fired {
    /// Rule id and details of each full observation, in order.
    pub full: Vec<(String, String)>,
    /// Light repeats.
    pub repeats: usize,
    /// Facts.
    pub facts: usize,
}

/// Collects signals.
pub fn fired(out: &[Signal]) -> Fired {
    let mut f = Fired::default();
    for s in out {
        match s {
            Signal::Obs(o) => f.full.push((o.rule.id.to_string(), o.details.clone())),
            Signal::Repeat(_) => f.repeats += 1,
            Signal::Fact(_) => f.facts += 1,
        }
    }
    f
}

/// Runs `check` over `msgs` of one flow, under the default policy.
pub fn run(check: fn(&Ctx<'_>, &mut Findings<'_>), msgs: &[Message]) -> Fired {
    run_with(check, msgs, &[])
}

/// Runs `check` over `msgs` of one flow with the rules `disabled`.
pub fn run_with(
    check: fn(&Ctx<'_>, &mut Findings<'_>),
    msgs: &[Message],
    disabled: &[&str],
) -> Fired {
    let pol = Policy {
        cfg: DetectorConfig {
            disabled: disabled.iter().map(|d| d.to_string()).collect(),
            ..DetectorConfig::default()
        },
        ..Policy::default()
    };
    run_in(check, msgs, &pol, (ZoneId::default(), ZoneId::default()))
}

/// Runs `check` over `msgs` of one flow under `pol`, the client and server in `zones`.
pub fn run_in(
    check: fn(&Ctx<'_>, &mut Findings<'_>),
    msgs: &[Message],
    pol: &Policy,
    zones: (ZoneId, ZoneId),
) -> Fired {
    let (mut out, mut sent) = (Vec::new(), Vec::new());
    for m in msgs {
        let (c, s) = match m.direction {
            Direction::Request => (m.src, m.dst),
            Direction::Response => (m.dst, m.src),
        };
        let f = FlowView {
            id: 1,
            client: &c,
            server: &s,
            client_zone: zones.0,
            server_zone: zones.1,
            transport: "tcp",
            cid: None,
        };
        let label = format!("{}>{}/{}", c.ip, s.ip, m.protocol);
        let cx = Ctx {
            m,
            f: &f,
            pol,
            label: &label,
        };
        check(
            &cx,
            &mut Findings {
                out: &mut out,
                sent: &mut sent,
            },
        );
    }
    fired(&out)
}

/// State shared by detectors in `mode` with `learner`, no zones, default thresholds.
pub fn shared(mode: Mode, learner: Learner) -> Arc<Shared> {
    Arc::new(Shared::new(
        ZoneMap::default(),
        learner,
        DetectorConfig {
            mode,
            ..DetectorConfig::default()
        },
        Arc::new(AssetInventory::default()),
    ))
}
