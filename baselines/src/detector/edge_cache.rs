//! What a detecting connection keeps of its edge in the baseline ([`EdgeCache`]): the entry,
//! and the shapes of its messages that the entry's tables passed, so that a message like one
//! already judged meets only its function's timing and rate rules.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use otsensor_protocols::Operation;

use crate::baseline::{EdgeEntry, EdgeKey, Learner, State};
use crate::message::{AddressRange, Message};

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
    /// The entry (none: the baseline has no such edge).
    pub entry: Option<Arc<EdgeEntry>>,
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
    pub fn new(total: &Arc<AtomicUsize>) -> EdgeCache {
        EdgeCache {
            valid: 0,
            entry: None,
            clean: Vec::new(),
            index: [0; INDEX_SLOTS],
            total: Arc::clone(total),
        }
    }

    /// Remembers `m`'s shape as clean, if there is room, with its function's limits.
    pub fn remember(&mut self, m: &Message, limits: Option<Limits>) {
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
    pub fn find(&self, m: &Message) -> Option<&Shape> {
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
    pub fn refresh(&mut self, l: &Learner, k: &EdgeKey) {
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
pub(super) struct Limits {
    /// Learned intervals: samples, shortest, longest, period and jitter (ms).
    pub timing: Option<[u64; 5]>,
    /// Most requests per minute on one connection.
    pub peak_per_minute: u64,
}

impl Limits {
    /// The limits of function `code` on `e`; none when it has no rules there.
    pub fn of(e: &EdgeEntry, code: u16) -> Option<Limits> {
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
pub(super) struct Shape {
    operation: Operation,
    function_code: Option<u16>,
    unit: Option<u32>,
    /// The first address range, here (most messages have one, and the polls of a
    /// connection differ there), and the others.
    first: Option<AddressRange>,
    rest: Box<[AddressRange]>,
    /// The limits of its function's timing and rate rules (none: no such rules).
    pub limits: Option<Limits>,
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

#[cfg(test)]
mod tests {
    use super::super::testing::read;
    use super::*;

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
}
