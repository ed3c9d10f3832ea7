//! A set kept as a sorted vector: the same order, look-ups and JSON as a `BTreeSet`, in a
//! fraction of the memory for the few elements an asset's sets hold (a `BTreeSet<String>` of
//! one role allocates a 280-byte node; this allocates room for one `String`).
//!
//! ```
//! use otsensor_baselines::sorted_set::SortedSet;
//! let mut s = SortedSet::new();
//! assert!(s.insert("b".to_string()));
//! assert!(s.insert("a".to_string()));
//! assert!(!s.insert("a".to_string()));
//! assert!(s.contains("a"));
//! assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b"]);
//! ```

use std::borrow::Borrow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of `T` in ascending order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortedSet<T>(Vec<T>);

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet(Vec::new())
    }
}

impl<T: Ord> SortedSet<T> {
    /// An empty set (no allocation).
    pub fn new() -> Self {
        SortedSet(Vec::new())
    }

    /// Adds `v`; false when it was there.
    pub fn insert(&mut self, v: T) -> bool {
        match self.0.binary_search(&v) {
            Ok(_) => false,
            Err(at) => {
                if self.0.capacity() == 0 {
                    self.0.reserve_exact(1);
                }
                self.0.insert(at, v);
                true
            }
        }
    }

    /// Whether `v` is in the set.
    pub fn contains<Q: Ord + ?Sized>(&self, v: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.0.binary_search_by(|x| x.borrow().cmp(v)).is_ok()
    }

    /// Removes `v`; false when it was not there.
    pub fn remove<Q: Ord + ?Sized>(&mut self, v: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        match self.0.binary_search_by(|x| x.borrow().cmp(v)) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }
}

impl<T> SortedSet<T> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The elements in ascending order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Self {
        let mut v: Vec<T> = it.into_iter().collect();
        v.sort();
        v.dedup();
        SortedSet(v)
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Serialize> Serialize for SortedSet<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Read in any order, with repeats: kept sorted and distinct, as a `BTreeSet` would be.
impl<'de, T: Deserialize<'de> + Ord> Deserialize<'de> for SortedSet<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(|v| v.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Any inserts and removes: the same elements, order and JSON as a `BTreeSet`.
        #[test]
        fn behaves_as_a_btree_set(ops in proptest::collection::vec((any::<bool>(), 0u8..20), 0..60)) {
            let (mut ours, mut theirs) = (SortedSet::new(), BTreeSet::new());
            for (add, v) in ops {
                if add {
                    prop_assert_eq!(ours.insert(v), theirs.insert(v));
                } else {
                    prop_assert_eq!(ours.remove(&v), theirs.remove(&v));
                }
                prop_assert_eq!(ours.contains(&v), theirs.contains(&v));
                prop_assert_eq!(ours.len(), theirs.len());
            }
            prop_assert_eq!(
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&theirs).unwrap()
            );
            let back: SortedSet<u8> = serde_json::from_str("[3,1,3,2]").unwrap();
            prop_assert_eq!(back.iter().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        }
    }
}
