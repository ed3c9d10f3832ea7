//! Detection against the loaded baseline: new assets, edges, operations, functions and units,
//! addresses outside the learned ranges, poll intervals off the learned timing, and request
//! rate spikes. The baseline is read, never changed.

use serde_json::json;

use otsensor_protocols::{Direction, Operation};

use crate::alert::Comparison;
use crate::baseline::{interval_deviates, EdgeEntry, EdgeKey, State, MAX_ASSET_MACS};
use crate::rules;

use super::edge_cache::{EdgeCache, Limits};
use super::findings::{Ctx, Findings};
use super::timing::{FlowFn, Timing};
use super::Shared;

/// A request's timing and its function's state on the connection.
pub(super) type Request<'a> = Option<(Timing, &'a mut FlowFn)>;

/// Judges one message on `edge` against the baseline. `cached` is what the flow keeps of its
/// edge, made once both ends are known to be in the baseline.
pub(super) fn check(
    cx: &Ctx<'_>,
    sh: &Shared,
    edge: &EdgeKey,
    cached: &mut Option<Box<EdgeCache>>,
    mut request: Request<'_>,
    fx: &mut Findings<'_>,
) {
    let (m, f) = (cx.m, cx.f);
    if cached.is_none() {
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
                    Comparison {
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
        // Once per flow: a learned host's frames from a MAC it never used.
        for p in [f.client, f.server] {
            let Some(mac) = p.mac else { continue };
            let learned = sh.learner.with_asset(&p.ip, |a| {
                (a.macs.len() < MAX_ASSET_MACS && !a.macs.contains(&mac)).then(|| a.macs.clone())
            });
            let Some(Some(learned)) = learned.filter(|l| l.as_ref().is_some_and(|v| !v.is_empty()))
            else {
                continue;
            };
            fx.raise(
                cx,
                &rules::IP_CONFLICT,
                &[&p.ip.to_string(), "@", &mac.to_string()],
                || {
                    (
                        format!(
                            "{} sends from MAC {mac}; while learning it used {}",
                            p.ip,
                            learned
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Comparison {
                            observed: json!({ "ip": p.ip, "mac": mac }),
                            expected: json!({ "macs": learned }),
                        },
                    )
                },
            );
        }
    }
    let cache = cached.get_or_insert_with(|| Box::new(EdgeCache::new(&sh.clean_shapes)));
    cache.refresh(&sh.learner, edge);
    let Some(e) = cache.entry.as_deref() else {
        fx.raise(cx, &rules::NEW_EDGE, &[cx.label], || {
            (
                format!(
                    "{} from {} to {} was never seen while learning",
                    m.protocol, f.client.ip, f.server.ip
                ),
                Comparison {
                    observed: json!({ "protocol": m.protocol, "operation": m.operation }),
                    expected: json!({ "edges": "learned" }),
                },
            )
        });
        return;
    };
    // The shape's function limits, and whether its polls are timed: only functions of the
    // baseline's edges (not suppressed) go into the shared last-poll table, which is thereby
    // bounded by the baseline.
    let (known, limits) = match cache.find(m) {
        Some(shape) => (true, shape.limits),
        None => (false, m.function_code.and_then(|c| Limits::of(e, c))),
    };
    if let (Some(c), Some((_, st)), true) = (m.function_code, request.as_mut(), limits.is_some()) {
        st.polled(sh, edge, c, m.ts);
    }
    if known {
        if let (Some(c), Some(lim)) = (m.function_code, limits) {
            function_rules(cx, e, c, lim, request, fx);
        }
        return;
    }
    if on_known_edge(cx, e, request, fx) {
        cache.remember(m, limits);
    }
}

/// The rules of a learned edge. True when none of its tables' rules objected to the message
/// (its shape is clean).
fn on_known_edge(cx: &Ctx<'_>, e: &EdgeEntry, request: Request<'_>, fx: &mut Findings<'_>) -> bool {
    if e.state == State::Suppressed {
        return true;
    }
    let (m, label) = (cx.m, cx.label);
    let mut clean = true;
    if !e.operations.contains_key(&m.operation) {
        clean = false;
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
                    Comparison {
                        observed: json!(m.operation),
                        expected: json!(e.operations.keys().collect::<Vec<_>>()),
                    },
                )
            },
        );
    }
    if let Some(c) = m.function_code {
        match e.functions.get(&c) {
            None => {
                clean = false;
                let mut digits = itoa::Buffer::new();
                fx.raise(
                    cx,
                    &rules::NEW_FUNCTION,
                    &[label, "#", digits.format(c)],
                    || {
                        (
                            format!(
                                "function {c} ({}) on {label}",
                                m.function.as_deref().unwrap_or("?")
                            ),
                            Comparison {
                                observed: json!(c),
                                expected: json!(e.functions.keys().collect::<Vec<_>>()),
                            },
                        )
                    },
                );
            }
            // Suppressed: nothing more on this message.
            Some(fe) if fe.state == State::Suppressed => return clean,
            Some(_) => {
                if let Some(lim) = Limits::of(e, c) {
                    function_rules(cx, e, c, lim, request, fx);
                }
            }
        }
    }
    if let Some(u) = m.unit {
        if !e.units.is_empty() && !e.units.contains(&u) {
            clean = false;
            fx.raise(
                cx,
                &rules::NEW_UNIT,
                &[label, "#unit", &u.to_string()],
                || {
                    (
                        format!("unit {u} on {label}"),
                        Comparison {
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
            clean = false;
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
                        Comparison {
                            observed: json!({ "area": a.area, "start": a.start, "end": end }),
                            expected: json!({ "ranges": known }),
                        },
                    )
                },
            );
        }
    }
    clean
}

/// Timing and rate of a learned function (`code` on `e`, with limits `lim`).
fn function_rules(
    cx: &Ctx<'_>,
    e: &EdgeEntry,
    code: u16,
    lim: Limits,
    request: Request<'_>,
    fx: &mut Findings<'_>,
) {
    let (m, label, cfg) = (cx.m, cx.label, &cx.pol.cfg.thresholds);
    let Some((t, st)) = request else {
        return;
    };
    // The function's name, for the details of an alert.
    let name = || e.functions.get(&code).map_or("?", |fe| fe.name.as_str());
    // On the stack: every request comes here.
    let mut digits = itoa::Buffer::new();
    let c = digits.format(code);
    if let (Some(ms), Some([samples, min_ms, max_ms, period_ms, jitter_ms])) =
        (t.interval_ms, lim.timing)
    {
        if samples >= cfg.min_timing_samples
            && interval_deviates(ms, min_ms, max_ms, cfg.timing_factor)
        {
            fx.raise(cx, &rules::TIMING_DEVIATION, &[label, "#", c], || {
                (
                    format!(
                        "{} after {ms} ms on {label}; learned intervals {min_ms}..={max_ms} ms (period {period_ms} ms), factor {}",
                        name(), cfg.timing_factor
                    ),
                    Comparison {
                        observed: json!({ "interval_ms": ms }),
                        expected: json!({
                            "min_ms": min_ms,
                            "max_ms": max_ms,
                            "period_ms": period_ms,
                            "jitter_ms": jitter_ms,
                            "factor": cfg.timing_factor,
                        }),
                    },
                )
            });
        }
    }
    let (peak, n) = (lim.peak_per_minute, t.in_minute);
    // One observation per connection and minute.
    if m.direction == Direction::Request
        && peak > 0
        && n >= cfg.min_rate_per_minute
        && n as f64 > peak as f64 * cfg.rate_factor
        && !st.spiked
    {
        st.spiked = true;
        fx.raise(cx, &rules::RATE_SPIKE, &[label, "#", c], || {
            (
                format!(
                    "{n} {} requests in a minute on one connection of {label}; learned peak {peak}",
                    name()
                ),
                Comparison {
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

    use super::super::testing::{client, fired, read, server, shared, view, MessageBuilder};
    use super::super::{Detector, FlowView, Mode};
    use super::*;
    use crate::baseline::{Caps, Learner};
    use crate::message::Message;

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
                cid: None,
            };
            d.observe(m, &f, fl, &mut out);
        }
        out
    }

    /// Detection against a baseline learned from 20 polls a second apart (`read(i, 0)`).
    fn detecting_after_polls() -> Arc<Shared> {
        let learning = shared(Mode::Learn, Learner::default());
        let mut d = Detector::new(learning.clone());
        let polls: Vec<Message> = (0..20).map(|i| read(f64::from(i), 0)).collect();
        let mut one = super::super::FlowLocal::default();
        observe(&mut d, &mut one, 1, &polls);
        let (c, s) = (client(), server(502));
        d.end_flow(&view(&c, &s), one, &mut Vec::new());
        let b = learning.learner.to_baseline();
        shared(Mode::Detect, Learner::from_baseline(b, Caps::default()))
    }

    /// The rules whose full alert went out.
    fn ids(out: &[crate::alert::Signal]) -> Vec<String> {
        fired(out).full.into_iter().map(|f| f.0).collect()
    }

    #[test]
    fn what_learning_did_not_see_is_raised_once_per_flow() {
        let mut d = Detector::new(detecting_after_polls());
        let (mut two, mut three) = Default::default();
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

    #[test]
    fn a_stopped_poll_is_reported_once_per_silence() {
        let detecting = detecting_after_polls();
        let mut d = Detector::new(detecting.clone());
        let (c, s) = (client(), server(502));
        let at = |secs: f64| read(secs, 0).ts;
        let mut fl = super::super::FlowLocal::default();
        let polls: Vec<Message> = (20..26).map(|i| read(f64::from(i), 0)).collect();
        observe(&mut d, &mut fl, 2, &polls);
        d.end_flow(&view(&c, &s), fl, &mut Vec::new());
        // Polled every second while learning: silent for more than 10 periods after 25 s.
        assert!(detecting.stopped_polls(at(35.0)).is_empty());
        let stops = detecting.stopped_polls(at(40.0));
        assert_eq!(stops.len(), 1);
        assert!(
            stops[0].details.contains("none for 15000 ms"),
            "{}",
            stops[0].details
        );
        // Once per silence.
        assert!(detecting.stopped_polls(at(50.0)).is_empty());
        // The poll runs again and stops again. While capturing, the silence must be a second
        // longer (connections publish their polls once a second).
        let mut fl = super::super::FlowLocal::default();
        observe(&mut d, &mut fl, 3, &[read(60.0, 0)]);
        d.end_flow(&view(&c, &s), fl, &mut Vec::new());
        assert!(detecting.stopped_polls_while_capturing(at(70.5)).is_empty());
        assert_eq!(detecting.stopped_polls_while_capturing(at(71.5)).len(), 1);
        assert!(detecting.stopped_polls(at(80.0)).is_empty());
    }

    #[test]
    fn a_flow_keeps_its_edge_until_a_decision_changes_it() {
        let detecting = detecting_after_polls();
        let mut d = Detector::new(detecting.clone());
        let mut two = super::super::FlowLocal::default();
        let (c, s) = (client(), server(502));
        // The learned poll, again and again: judged once, then known clean.
        let again: Vec<Message> = (20..30).map(|i| read(f64::from(i), 0)).collect();
        assert!(ids(&observe(&mut d, &mut two, 2, &again)).is_empty());
        // A clean shape still meets its function's timing: 30 s after the last poll.
        assert_eq!(
            ids(&observe(&mut d, &mut two, 2, &[read(59.0, 0)])),
            ["baseline.timing_deviation"]
        );
        // Outside the learned range: raised on every such message.
        let out = observe(&mut d, &mut two, 2, &[read(60.0, 100), read(61.0, 100)]);
        assert_eq!(ids(&out), ["baseline.address_out_of_range"]);
        assert_eq!(fired(&out).repeats, 1);
        // The SOC learns the range (what a decision on the alert does): the same flow sees
        // the edge as changed.
        let key = EdgeKey {
            src: c.ip,
            dst: s.ip,
            protocol: "modbus".into(),
        };
        detecting.learner.learn(&crate::baseline::Lesson {
            key: std::borrow::Cow::Borrowed(&key),
            src_zone: "unzoned",
            dst_zone: "unzoned",
            ts: read(62.0, 100).ts,
            packet: 0,
            operation: Operation::Read,
            function: None,
            unit: None,
            ranges: std::borrow::Cow::Owned(read(62.0, 100).addresses),
            timing: None,
        });
        detecting.learner.approve_edge(&key);
        let out = observe(&mut d, &mut two, 2, &[read(62.0, 100), read(63.0, 0)]);
        assert!(ids(&out).is_empty() && fired(&out).repeats == 0);
    }
}
