//! Detection against the loaded baseline: new assets, edges, operations, functions and units,
//! addresses outside the learned ranges, poll intervals off the learned timing, and request
//! rate spikes. The baseline is read, never changed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;

use otsensor_protocols::{Direction, Operation};

use crate::alert::Evidence;
use crate::baseline::{interval_deviates, EdgeEntry, EdgeKey, Learner, State};
use crate::message::{AddressRange, Message};
use crate::rules;

use super::findings::{Ctx, Findings};
use super::timing::{FlowFn, Timing};
use super::Shared;

/// A request's timing and its function's state on the connection.
pub(super) type Request<'a> = Option<(Timing, &'a mut FlowFn)>;

/// Most message shapes a flow remembers as clean on its edge (a poll cycle of one
/// connection rarely has more) ...
const MAX_CLEAN_SHAPES: usize = 16;

/// Slots of a flow's index of clean shapes (a power of two, twice [`MAX_CLEAN_SHAPES`]).
const INDEX_SLOTS: usize = 32;

/// ... and all flows together: a flood of connections between baseline assets must not grow
/// memory (~120 bytes a shape). A message whose shape is not remembered is judged in full:
/// slower, never different.
const MAX_CLEAN_SHAPES_TOTAL: usize = 131_072;

/// What a detecting flow between two baseline assets keeps of its edge, so that a message
/// like one already judged costs neither a look-up in the shared map (nor a lock of its
/// shard) nor the walk through the entry's tables:
/// - the entry (or that the baseline has none);
/// - the shapes of the messages (operation, function, unit, addresses) that no rule of the
///   entry's tables objected to: a later message of the same shape can only meet the timing
///   and rate rules of its function;
/// - with each shape, its function's limits for those rules.
///
/// All of it is dropped when the SOC's decisions change the edges (the learner's edge
/// generation moves).
#[derive(Debug)]
pub(super) struct EdgeCache {
    /// The edges' generation the entry belongs to, plus one (0: not looked up).
    valid: u64,
    entry: Option<Arc<EdgeEntry>>,
    /// The clean shapes, and an index of them: open addressing by a hash of the first
    /// range and the function (slot: position in `clean` plus one, 0 empty). The hash is
    /// cheap and not keyed, and need not be: a shape is found by comparing it whole, and
    /// there are at most [`MAX_CLEAN_SHAPES`] to walk past.
    clean: Vec<Shape>,
    index: [u8; INDEX_SLOTS],
    /// Clean shapes remembered by all flows (see [`MAX_CLEAN_SHAPES_TOTAL`]).
    total: Arc<AtomicUsize>,
}

impl Drop for EdgeCache {
    fn drop(&mut self) {
        self.total.fetch_sub(self.clean.len(), Ordering::Relaxed);
    }
}

impl EdgeCache {
    fn new(total: &Arc<AtomicUsize>) -> EdgeCache {
        EdgeCache {
            valid: 0,
            entry: None,
            clean: Vec::new(),
            index: [0; INDEX_SLOTS],
            total: Arc::clone(total),
        }
    }

    /// Remembers `m`'s shape as clean, if there is room, with its function's limits.
    fn remember(&mut self, m: &Message, limits: Option<Limits>) {
        let n = self.clean.len();
        let Ok(tag) = u8::try_from(n + 1) else {
            return;
        };
        if n >= MAX_CLEAN_SHAPES {
            return;
        }
        if self.total.fetch_add(1, Ordering::Relaxed) >= MAX_CLEAN_SHAPES_TOTAL {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let mut i = slot(m);
        // Fewer shapes than slots: an empty one is always found.
        while self.index.get(i).is_some_and(|&t| t != 0) {
            i = (i + 1) % INDEX_SLOTS;
        }
        if let Some(t) = self.index.get_mut(i) {
            *t = tag;
            self.clean.push(Shape::of(m, limits));
        }
    }

    /// The clean shape of `m`, if remembered.
    fn find(&self, m: &Message) -> Option<&Shape> {
        let mut i = slot(m);
        for _ in 0..INDEX_SLOTS {
            let tag = self.index.get(i).copied().unwrap_or(0);
            if tag == 0 {
                return None;
            }
            let s = self.clean.get(usize::from(tag) - 1)?;
            if s.fits(m) {
                return Some(s);
            }
            i = (i + 1) % INDEX_SLOTS;
        }
        None
    }

    /// Looks the edge up again if the edges changed since.
    fn refresh(&mut self, l: &Learner, k: &EdgeKey) {
        let g = l.edges_generation().wrapping_add(1);
        if self.valid != g {
            self.entry = l.edge_entry(k);
            self.valid = g;
            self.total.fetch_sub(self.clean.len(), Ordering::Relaxed);
            self.clean.clear();
            self.index = [0; INDEX_SLOTS];
        }
    }
}

/// What the timing and rate rules need of a learned function.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Learned intervals: samples, shortest, longest, period and jitter (ms).
    timing: Option<[u64; 5]>,
    peak_per_minute: u64,
}

impl Limits {
    /// The limits of function `code` on `e`; none when it has no rules there.
    fn of(e: &EdgeEntry, code: u16) -> Option<Limits> {
        if e.state == State::Suppressed {
            return None;
        }
        let fe = e.functions.get(&code)?;
        (fe.state != State::Suppressed).then(|| Limits {
            timing: fe
                .timing
                .as_ref()
                .map(|t| [t.samples, t.min_ms, t.max_ms, t.period_ms, t.jitter_ms]),
            peak_per_minute: fe.peak_per_minute,
        })
    }
}

/// A message's shape: what the rules of an edge's tables look at.
#[derive(Debug)]
struct Shape {
    operation: Operation,
    function_code: Option<u16>,
    unit: Option<u32>,
    /// The first address range, here (most messages have one, and the polls of a
    /// connection differ there), and the others.
    first: Option<AddressRange>,
    rest: Box<[AddressRange]>,
    /// The limits of its function's timing and rate rules (none: no such rules).
    limits: Option<Limits>,
}

/// A message's slot in a flow's index of clean shapes.
fn slot(m: &Message) -> usize {
    let (start, count) = first_range(m);
    let code = m.function_code.unwrap_or(u16::MAX);
    let x = (u64::from(start) << 32 | u64::from(count)) ^ u64::from(code).rotate_right(16);
    // Fibonacci hashing: the top bits of the product.
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - INDEX_SLOTS.trailing_zeros())) as usize
}

/// The start and count of a message's first address range.
fn first_range(m: &Message) -> (u32, u32) {
    m.addresses.first().map_or((0, 0), |a| (a.start, a.count))
}

impl Shape {
    fn of(m: &Message, limits: Option<Limits>) -> Shape {
        Shape {
            operation: m.operation,
            function_code: m.function_code,
            unit: m.unit,
            first: m.addresses.first().cloned(),
            rest: m.addresses.get(1..).unwrap_or_default().into(),
            limits,
        }
    }

    fn fits(&self, m: &Message) -> bool {
        let mut ranges = m.addresses.iter();
        (match (&self.first, ranges.next()) {
            (None, None) => true,
            (Some(a), Some(b)) => same_range(a, b),
            _ => false,
        }) && self.function_code == m.function_code
            && self.operation == m.operation
            && self.unit == m.unit
            && self.rest.len() == ranges.len()
            && self.rest.iter().zip(ranges).all(|(a, b)| same_range(a, b))
    }
}

/// Whether two ranges are the same: the numbers first (the polls of a connection differ
/// there), then the area, whose name is most often the same static text.
fn same_range(a: &AddressRange, b: &AddressRange) -> bool {
    let (x, y): (&str, &str) = (&a.area, &b.area);
    a.start == b.start
        && a.count == b.count
        && ((x.as_ptr() == y.as_ptr() && x.len() == y.len()) || x == y)
}

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
    }
    if let (Some(c), Some((_, st))) = (m.function_code, request.as_mut()) {
        st.polled(sh, edge, c, m.ts);
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
                Evidence {
                    observed: json!({ "protocol": m.protocol, "operation": m.operation }),
                    expected: json!({ "edges": "learned" }),
                },
            )
        });
        return;
    };
    if let Some(shape) = cache.find(m) {
        if let (Some(c), Some(lim)) = (m.function_code, shape.limits) {
            function_rules(cx, e, c, lim, request, fx);
        }
        return;
    }
    if on_known_edge(cx, e, request, fx) {
        let limits = m.function_code.and_then(|c| Limits::of(e, c));
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
                    Evidence {
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
                            Evidence {
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
                        Evidence {
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
                    Evidence {
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

    /// Detection against a baseline learned from 20 polls a second apart (`read(i, 0)`).
    fn detecting_after_polls() -> Arc<Shared> {
        let learning = shared(Mode::Learn, Learner::default());
        let mut d = Detector::new(learning.clone());
        let polls: Vec<Message> = (0..20).map(|i| read(f64::from(i), 0)).collect();
        let mut one = super::super::FlowLocal::default();
        observe(&mut d, &mut one, 1, &polls);
        let (c, s) = (client(), server(502));
        d.end_flow(&view(&c, &s), one);
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
    fn clean_shapes_are_bounded_per_flow_and_in_all() {
        let total = Arc::new(AtomicUsize::new(MAX_CLEAN_SHAPES_TOTAL - 20));
        let mut a = EdgeCache::new(&total);
        for i in 0..MAX_CLEAN_SHAPES as u32 + 5 {
            a.remember(&read(0.0, i * 10), None);
        }
        assert_eq!(a.clean.len(), MAX_CLEAN_SHAPES);
        for i in 0..MAX_CLEAN_SHAPES as u32 {
            assert!(a.find(&read(1.0, i * 10)).is_some(), "shape {i}");
        }
        assert!(a.find(&read(1.0, 1000)).is_none() && a.find(&read(1.0, 5)).is_none());
        // The others share what is left.
        let mut b = EdgeCache::new(&total);
        for i in 0..10 {
            b.remember(&read(0.0, i * 10), None);
        }
        assert_eq!(b.clean.len(), 20 - MAX_CLEAN_SHAPES);
        assert_eq!(total.load(Ordering::Relaxed), MAX_CLEAN_SHAPES_TOTAL);
        // A flow's end gives its room back.
        drop(a);
        drop(b);
        assert_eq!(total.load(Ordering::Relaxed), MAX_CLEAN_SHAPES_TOTAL - 20);
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
