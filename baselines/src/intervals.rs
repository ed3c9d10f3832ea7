//! Sets of address ranges as sorted, disjoint, merged inclusive intervals with a cap: over the
//! cap, the two neighbours with the smallest gap between them are joined (the set only grows,
//! so a capped baseline may accept a little more than it saw, never less).

use serde::{Deserialize, Serialize};

/// Merged inclusive intervals `[start, end]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Intervals(Vec<[u32; 2]>);

impl Intervals {
    /// The intervals, sorted and disjoint.
    pub fn as_slice(&self) -> &[[u32; 2]] {
        &self.0
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `[start, end]` (inclusive), merging with overlapping or adjacent intervals, then
    /// enforces `cap` (at least 1).
    pub fn insert(&mut self, start: u32, end: u32, cap: usize) {
        let (s, e) = (start.min(end), start.max(end));
        let v = &mut self.0;
        // First interval that could touch [s, e]: its end + 1 >= s.
        let i = v.partition_point(|iv| u64::from(iv[1]) + 1 < u64::from(s));
        let mut j = i;
        let (mut ns, mut ne) = (s, e);
        while let Some(iv) = v.get(j) {
            if u64::from(iv[0]) > u64::from(ne) + 1 {
                break;
            }
            ns = ns.min(iv[0]);
            ne = ne.max(iv[1]);
            j += 1;
        }
        v.splice(i..j, [[ns, ne]]);
        let cap = cap.max(1);
        while v.len() > cap {
            let k = (0..v.len() - 1)
                .min_by_key(|&k| u64::from(v[k + 1][0]) - u64::from(v[k][1]))
                .unwrap_or(0);
            let joined = [v[k][0], v[k + 1][1]];
            v.splice(k..k + 2, [joined]);
        }
    }

    /// Whether `[start, end]` lies entirely inside one interval.
    pub fn contains(&self, start: u32, end: u32) -> bool {
        let (s, e) = (start.min(end), start.max(end));
        let i = self.0.partition_point(|iv| iv[1] < s);
        self.0.get(i).is_some_and(|iv| iv[0] <= s && e <= iv[1])
    }

    /// Adds every interval of `other`.
    pub fn merge(&mut self, other: &Intervals, cap: usize) {
        for iv in &other.0 {
            self.insert(iv[0], iv[1], cap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn merges_overlapping_and_adjacent() {
        let mut iv = Intervals::default();
        iv.insert(10, 20, 8);
        iv.insert(30, 40, 8);
        iv.insert(21, 29, 8);
        assert_eq!(iv.as_slice(), &[[10, 40]]);
        iv.insert(50, 50, 8);
        assert!(iv.contains(12, 39) && !iv.contains(39, 50) && iv.contains(50, 50));
        iv.insert(0, u32::MAX, 8);
        assert_eq!(iv.as_slice(), &[[0, u32::MAX]]);
    }

    #[test]
    fn cap_joins_the_closest_neighbours() {
        let mut iv = Intervals::default();
        for s in [0, 10, 12, 100] {
            iv.insert(s, s, 3);
        }
        assert_eq!(iv.as_slice(), &[[0, 0], [10, 12], [100, 100]]);
    }

    proptest! {
        /// Without a binding cap, the intervals cover exactly the points inserted (naive model:
        /// a set of points).
        #[test]
        fn agrees_with_a_set_of_points(ops in proptest::collection::vec((0u32..200, 0u32..20), 0..40)) {
            let mut iv = Intervals::default();
            let mut model = BTreeSet::new();
            for (s, l) in ops {
                iv.insert(s, s + l, usize::MAX);
                model.extend(s..=s + l);
            }
            let covered: BTreeSet<u32> = iv.as_slice().iter().flat_map(|r| r[0]..=r[1]).collect();
            prop_assert_eq!(&covered, &model);
            for w in iv.as_slice().windows(2) {
                prop_assert!(w[0][1] + 1 < w[1][0], "disjoint and not adjacent");
            }
        }

        /// With a cap, the set never exceeds it and still covers every inserted point.
        #[test]
        fn capped_sets_cover_and_stay_small(ops in proptest::collection::vec((0u32..10_000, 0u32..50), 0..80), cap in 1usize..10) {
            let mut iv = Intervals::default();
            for (s, l) in &ops {
                iv.insert(*s, s + l, cap);
                prop_assert!(iv.len() <= cap);
            }
            for (s, l) in &ops {
                prop_assert!(iv.contains(*s, s + l));
            }
        }
    }
}
