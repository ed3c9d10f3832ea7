//! Facts for the anomaly engine from a flow's requests: the first time the flow addresses a
//! unit id, reads an SZL list, or writes (scans, enumeration and new masters are judged
//! across flows by the engine).

use otsensor_protocols::message::IoLink;
use otsensor_protocols::{Direction, Operation};

use crate::alert::FactKind;

use super::findings::{Ctx, Findings};

/// Most unit or SZL ids a flow reports to the anomaly engine.
const MAX_FACTS_PER_FLOW: usize = 64;

/// What a flow has already reported: unit and SZL ids in one list (a flow that reports one
/// unit then costs one small allocation, not a list's room for four), and two flags.
#[derive(Debug, Default)]
pub(super) struct Reported {
    ids: Vec<Reported1>,
    wrote: bool,
    synced: bool,
}

/// A unit or SZL id a flow reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported1 {
    Unit(u32),
    Szl(u16),
}

impl Reported {
    /// Notes `id`; true when it is new and the flow has room for it.
    fn first(&mut self, id: Reported1) -> bool {
        let kind = |r: &Reported1| std::mem::discriminant(r);
        if self.ids.contains(&id)
            || self.ids.iter().filter(|r| kind(r) == kind(&id)).count() >= MAX_FACTS_PER_FLOW
        {
            return false;
        }
        otsensor_protocols::push_first_one(&mut self.ids, id);
        true
    }
}

/// Reports what the request shows for the first time on its flow.
pub(super) fn check(cx: &Ctx<'_>, seen: &mut Reported, fx: &mut Findings<'_>) {
    let m = cx.m;
    // Cyclic I/O, in either direction: paired across flows by the engine.
    match m.io {
        // Answered by the target, to the originator.
        Some(IoLink::Opened { o_t, t_o }) => fx.fact(
            cx,
            FactKind::IoOpened {
                protocol: m.protocol,
                originator: m.dst.ip,
                target: m.src.ip,
                o_t,
                t_o,
            },
        ),
        Some(IoLink::Data { id }) => fx.fact(
            cx,
            FactKind::IoData {
                protocol: m.protocol,
                producer: m.src.ip,
                consumer: m.dst.ip,
                id,
            },
        ),
        None => {}
    }
    if m.direction != Direction::Request {
        return;
    }
    if let Some(u) = m.unit {
        if seen.first(Reported1::Unit(u)) {
            fx.fact(
                cx,
                FactKind::Unit {
                    protocol: m.protocol,
                    unit: u,
                },
            );
        }
    }
    if let (Some(id), Some("read_szl")) = (m.sub_function, m.function.as_deref()) {
        if seen.first(Reported1::Szl(id)) {
            fx.fact(cx, FactKind::Szl { id });
        }
    }
    let writes = matches!(
        m.operation,
        Operation::Write | Operation::Control | Operation::ProgramDownload
    );
    if writes && !seen.wrote {
        seen.wrote = true;
        fx.fact(
            cx,
            FactKind::Write {
                protocol: m.protocol,
            },
        );
    }
    if m.operation == Operation::TimeSync && !seen.synced {
        seen.synced = true;
        fx.fact(
            cx,
            FactKind::TimeSync {
                protocol: m.protocol,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run, MessageBuilder};
    use super::*;

    fn check_fresh(cx: &Ctx<'_>, fx: &mut Findings<'_>) {
        check(cx, &mut Reported::default(), fx);
    }

    #[test]
    fn each_unit_szl_the_first_write_and_clock_setting_once_per_flow() {
        let mut seen = Reported::default();
        let msgs = [
            MessageBuilder::modbus(3).unit(1).build(),
            MessageBuilder::modbus(3).unit(1).build(),
            MessageBuilder::modbus(16)
                .unit(2)
                .operation(Operation::Write)
                .build(),
            MessageBuilder::modbus(6)
                .unit(2)
                .operation(Operation::Write)
                .build(),
            MessageBuilder::modbus(3).unit(3).response().build(),
            // Setting the clock: a fact of its own (not a write), once.
            MessageBuilder::modbus(8)
                .unit(2)
                .operation(Operation::TimeSync)
                .build(),
            MessageBuilder::modbus(8)
                .unit(2)
                .operation(Operation::TimeSync)
                .build(),
        ];
        let (mut out, mut sent) = (Vec::new(), Vec::new());
        let pol = super::super::Policy::default();
        for m in &msgs {
            let (c, s) = (
                super::super::testing::client(),
                super::super::testing::server(502),
            );
            let f = super::super::testing::view(&c, &s);
            let cx = Ctx {
                m,
                f: &f,
                pol: &pol,
                label: "l",
            };
            check(
                &cx,
                &mut seen,
                &mut Findings {
                    out: &mut out,
                    sent: &mut sent,
                },
            );
        }
        // Unit 1, unit 2, the first write, the first clock setting; nothing for the repeat,
        // the second write, the response or the second clock setting.
        assert_eq!(super::super::testing::fired(&out).facts, 4);
        let szl = MessageBuilder::s7_job(4, "read_szl").sub_function(0x11);
        assert_eq!(run(check_fresh, &[szl.build()]).facts, 1);
    }
}
