//! Detection against the loaded baseline: new assets, edges, operations, functions and units,
//! addresses outside the learned ranges, poll intervals off the learned timing, and request
//! rate spikes. The baseline is read, never changed.

use serde_json::json;

use otsensor_protocols::{Direction, Operation};

use crate::alert::Evidence;
use crate::baseline::{EdgeEntry, EdgeKey, State};
use crate::rules;

use super::findings::{Ctx, Findings};
use super::timing::{FlowFn, Timing};
use super::Shared;

/// A request's timing and its function's state on the connection.
pub(super) type Request<'a> = Option<(Timing, &'a mut FlowFn)>;

/// Judges one message on `edge` against the baseline. `known` remembers, per flow, that both
/// ends are in the baseline.
pub(super) fn check(
    cx: &Ctx<'_>,
    sh: &Shared,
    edge: &EdgeKey,
    known: &mut Option<bool>,
    mut request: Request<'_>,
    fx: &mut Findings<'_>,
) {
    let (m, f) = (cx.m, cx.f);
    if *known != Some(true) {
        let mut new_asset = false;
        for (p, z) in [(f.client, f.client_zone), (f.server, f.server_zone)] {
            if sh.learner.has_asset(&p.ip) {
                continue;
            }
            new_asset = true;
            fx.raise(cx, &rules::NEW_ASSET, &[&p.ip.to_string()], || {
                let zn = cx.pol.zones.name(z);
                (
                    format!("{} (zone {zn}) is not in the baseline", p.ip),
                    Evidence {
                        observed: json!({ "ip": p.ip, "mac": p.mac, "protocol": m.protocol }),
                        expected: json!({ "assets": "learned" }),
                    },
                )
            });
        }
        // A new asset is in its own learning window for the rest of the run: its traffic
        // raises no other baseline alert.
        if new_asset {
            return;
        }
        *known = Some(true);
    }
    if let (Some(c), Some((_, st))) = (m.function_code, request.as_mut()) {
        st.polled(sh, edge, c, m.ts);
    }
    let on_edge = sh
        .learner
        .with_edge(edge, |e| on_known_edge(cx, e, request, fx));
    if on_edge.is_none() {
        fx.raise(cx, &rules::NEW_EDGE, &[cx.label], || {
            (
                format!(
                    "{} from {} to {} was never seen while learning",
                    m.protocol, f.client.ip, f.server.ip
                ),
                Evidence {
                    observed: json!({ "protocol": m.protocol, "operation": m.operation }),
                    expected: json!({ "edges": "learned" }),
                },
            )
        });
    }
}

/// The rules of a learned edge.
fn on_known_edge(cx: &Ctx<'_>, e: &EdgeEntry, request: Request<'_>, fx: &mut Findings<'_>) {
    if e.state == State::Suppressed {
        return;
    }
    let (m, label) = (cx.m, cx.label);
    if !e.operations.contains_key(&m.operation) {
        fx.raise(
            cx,
            &rules::NEW_OPERATION,
            &[label, "#", m.operation.as_str()],
            || {
                (
                    format!(
                        "{} on {label}, which only saw {}",
                        m.operation,
                        join(e.operations.keys())
                    ),
                    Evidence {
                        observed: json!(m.operation),
                        expected: json!(e.operations.keys().collect::<Vec<_>>()),
                    },
                )
            },
        );
    }
    if let Some(c) = m.function_code {
        // On the stack: every message with a function code comes here.
        let mut digits = itoa::Buffer::new();
        let code = digits.format(c);
        match e.functions.get(&c) {
            None => fx.raise(cx, &rules::NEW_FUNCTION, &[label, "#", code], || {
                (
                    format!(
                        "function {c} ({}) on {label}",
                        m.function.as_deref().unwrap_or("?")
                    ),
                    Evidence {
                        observed: json!(c),
                        expected: json!(e.functions.keys().collect::<Vec<_>>()),
                    },
                )
            }),
            // Suppressed: nothing more on this message.
            Some(fe) if fe.state == State::Suppressed => return,
            Some(fe) => function_rules(cx, fe, code, request, fx),
        }
    }
    if let Some(u) = m.unit {
        if !e.units.is_empty() && !e.units.contains(&u) {
            fx.raise(
                cx,
                &rules::NEW_UNIT,
                &[label, "#unit", &u.to_string()],
                || {
                    (
                        format!("unit {u} on {label}"),
                        Evidence {
                            observed: json!(u),
                            expected: json!(e.units),
                        },
                    )
                },
            );
        }
    }
    for a in &m.addresses {
        if a.count == 0 {
            continue;
        }
        let end = a.start.saturating_add(a.count - 1);
        let known = e.ranges.get(a.area.as_ref());
        if !known.is_some_and(|iv| iv.contains(a.start, end)) {
            fx.raise(
                cx,
                &rules::ADDRESS_OUT_OF_RANGE,
                &[label, "#", &a.area],
                || {
                    (
                        format!(
                            "{} {}..={end} on {label} is outside the learned ranges",
                            a.area, a.start
                        ),
                        Evidence {
                            observed: json!({ "area": a.area, "start": a.start, "end": end }),
                            expected: json!({ "ranges": known }),
                        },
                    )
                },
            );
        }
    }
}

/// Timing and rate of a learned function.
fn function_rules(
    cx: &Ctx<'_>,
    fe: &crate::baseline::FunctionEntry,
    code: &str,
    request: Request<'_>,
    fx: &mut Findings<'_>,
) {
    let (m, label, cfg) = (cx.m, cx.label, &cx.pol.cfg.thresholds);
    let Some((t, st)) = request else {
        return;
    };
    if let (Some(ms), Some(learned)) = (t.interval_ms, fe.timing.as_ref()) {
        if learned.samples >= cfg.min_timing_samples && learned.deviates(ms, cfg.timing_factor) {
            fx.raise(cx, &rules::TIMING_DEVIATION, &[label, "#", code], || {
                (
                    format!(
                        "{} after {ms} ms on {label}; learned intervals {}..={} ms (period {} ms), factor {}",
                        fe.name, learned.min_ms, learned.max_ms, learned.period_ms, cfg.timing_factor
                    ),
                    Evidence {
                        observed: json!({ "interval_ms": ms }),
                        expected: json!({
                            "min_ms": learned.min_ms,
                            "max_ms": learned.max_ms,
                            "period_ms": learned.period_ms,
                            "jitter_ms": learned.jitter_ms,
                            "factor": cfg.timing_factor,
                        }),
                    },
                )
            });
        }
    }
    let (peak, n) = (fe.peak_per_minute, t.in_minute);
    // One observation per connection and minute.
    if m.direction == Direction::Request
        && peak > 0
        && n >= cfg.min_rate_per_minute
        && n as f64 > peak as f64 * cfg.rate_factor
        && !st.spiked
    {
        st.spiked = true;
        fx.raise(cx, &rules::RATE_SPIKE, &[label, "#", code], || {
            (
                format!(
                    "{n} {} requests in a minute on one connection of {label}; learned peak {peak}",
                    fe.name
                ),
                Evidence {
                    observed: json!({ "per_minute": n }),
                    expected: json!({ "peak_per_minute": peak }),
                },
            )
        });
    }
}

fn join<'a>(ops: impl Iterator<Item = &'a Operation>) -> String {
    ops.map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::{client, fired, server, view, MessageBuilder};
    use super::super::{Detector, DetectorConfig, FlowView, Mode};
    use super::*;
    use crate::assets::AssetInventory;
    use crate::baseline::{Caps, Learner};
    use crate::message::Message;
    use crate::zones::ZoneMap;

    fn shared(mode: Mode, learner: Learner) -> Arc<Shared> {
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

    fn observe(
        d: &mut Detector,
        fl: &mut super::super::FlowLocal,
        flow: u64,
        msgs: &[Message],
    ) -> Vec<crate::alert::Signal> {
        let mut out = Vec::new();
        for m in msgs {
            let (c, s) = (client(), server(502));
            let c = crate::message::Peer { ip: m.src.ip, ..c };
            let f = FlowView {
                id: flow,
                client: &c,
                server: &s,
                client_zone: 0,
                server_zone: 0,
                transport: "tcp",
            };
            d.observe(m, &f, fl, &mut out);
        }
        out
    }

    fn read(at: f64, start: u32) -> Message {
        MessageBuilder::modbus(3)
            .operation(Operation::Read)
            .unit(1)
            .addresses("holding_registers", start, 10)
            .at_secs(at)
            .build()
    }

    #[test]
    fn what_learning_did_not_see_is_raised_once_per_flow() {
        let learning = shared(Mode::Learn, Learner::default());
        let mut d = Detector::new(learning.clone());
        let polls: Vec<Message> = (0..20).map(|i| read(f64::from(i), 0)).collect();
        let mut one = super::super::FlowLocal::default();
        observe(&mut d, &mut one, 1, &polls);
        let (c, s) = (client(), server(502));
        d.end_flow(&view(&c, &s), one);
        let b = learning.learner.to_baseline();
        let detecting = shared(Mode::Detect, Learner::from_baseline(b, Caps::default()));
        let mut d = Detector::new(detecting);
        let (mut two, mut three) = Default::default();
        let ids = |out: &[crate::alert::Signal]| {
            fired(out).full.into_iter().map(|f| f.0).collect::<Vec<_>>()
        };
        // The learned poll: nothing.
        assert!(ids(&observe(&mut d, &mut two, 2, &[read(20.0, 0)])).is_empty());
        // Outside the learned range, twice: one alert, then a repeat.
        let out = observe(&mut d, &mut two, 2, &[read(21.0, 100), read(22.0, 100)]);
        assert_eq!(ids(&out), ["baseline.address_out_of_range"]);
        assert_eq!(fired(&out).repeats, 1);
        // A write: new operation and new function; another unit.
        let write = MessageBuilder::modbus(6)
            .operation(Operation::Write)
            .unit(1)
            .at_secs(23.0)
            .build();
        assert_eq!(
            ids(&observe(&mut d, &mut two, 2, &[write])),
            ["baseline.new_operation", "baseline.new_function"]
        );
        let other_unit = MessageBuilder::modbus(3)
            .operation(Operation::Read)
            .unit(7)
            .at_secs(24.0)
            .build();
        assert_eq!(
            ids(&observe(&mut d, &mut two, 2, &[other_unit])),
            ["baseline.new_unit"]
        );
        // A client the baseline never saw: a new asset, and nothing else about its traffic.
        let mut stranger = read(25.0, 100);
        stranger.src.ip = "10.0.0.9".parse().unwrap();
        assert_eq!(
            ids(&observe(&mut d, &mut three, 3, &[stranger])),
            ["baseline.new_asset"]
        );
    }
}
