//! A map bounded in size with O(1) eviction: every entry is on a list ordered by when it was
//! last touched, so the least recently touched one is found without a scan — when the map is
//! full (evict it) or when entries idle past a window must go (pop them from the old end).
//!
//! ```
//! use otsensor_baselines::lru::Lru;
//! let mut m = Lru::new(2);
//! assert!(m.insert("a", 1, 10).is_none());
//! assert!(m.insert("b", 2, 20).is_none());
//! m.touch(&"a", 30);
//! assert_eq!(m.insert("c", 3, 40), Some(("b", 2)));
//! assert_eq!(m.pop_idle(30), vec![]);
//! assert_eq!(m.pop_idle(41), vec![("a", 1), ("c", 3)]);
//! ```

use std::hash::Hash;

use hashbrown::HashTable;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Node<K, V> {
    key: K,
    /// The key's hash: the index finds a node again (to remove it) by hash and slot number,
    /// without reading the key.
    hash: u64,
    value: Option<V>,
    touched: i64,
    prev: u32,
    next: u32,
}

/// A map of at most `cap` entries, least recently touched first out.
#[derive(Debug)]
pub struct Lru<K, V> {
    /// Slot numbers of the nodes, by key hash: 4 bytes an entry, so the index of a full table
    /// stays small enough for the cache.
    index: HashTable<u32>,
    /// Keys come from the network: hashed with a random key (aHash), fast and flood-safe.
    hasher: ahash::RandomState,
    nodes: Vec<Node<K, V>>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    cap: usize,
}

impl<K: Hash + Eq + Copy, V> Lru<K, V> {
    /// An empty map holding at most `cap` entries (at least one).
    pub fn new(cap: usize) -> Lru<K, V> {
        Lru {
            index: HashTable::new(),
            hasher: ahash::RandomState::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            cap: cap.clamp(1, u32::MAX as usize - 1),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The most entries it holds.
    pub fn cap(&self) -> usize {
        self.cap
    }

    fn find(&self, hash: u64, k: &K) -> Option<u32> {
        let nodes = &self.nodes;
        self.index
            .find(hash, |&i| {
                nodes.get(i as usize).is_some_and(|n| n.key == *k)
            })
            .copied()
    }

    /// The entry of `k`, untouched.
    pub fn get(&self, k: &K) -> Option<&V> {
        let i = self.find(self.hasher.hash_one(k), k)?;
        self.nodes.get(i as usize)?.value.as_ref()
    }

    /// The entry of `k`, marked as touched at `ts` (moved to the front).
    pub fn touch(&mut self, k: &K, ts: i64) -> Option<&mut V> {
        let i = self.find(self.hasher.hash_one(k), k)?;
        self.touch_slot(i, ts)
    }

    fn touch_slot(&mut self, i: u32, ts: i64) -> Option<&mut V> {
        if self.head != i {
            self.unlink(i);
            self.link_front(i);
        }
        let n = self.nodes.get_mut(i as usize)?;
        n.touched = n.touched.max(ts);
        n.value.as_mut()
    }

    /// The entry of `k`, to change, without touching it (its age stays).
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let i = self.find(self.hasher.hash_one(k), k)?;
        self.nodes.get_mut(i as usize)?.value.as_mut()
    }

    /// Adds (or replaces) the entry of `k`, touched at `ts`. When the map is full, the least
    /// recently touched entry is removed first and returned.
    pub fn insert(&mut self, k: K, v: V, ts: i64) -> Option<(K, V)> {
        if let Some(slot) = self.touch(&k, ts) {
            *slot = v;
            return None;
        }
        self.entry(k, ts, || v).1
    }

    /// The entry of `k` touched at `ts`, made with `make` if absent; and the entry evicted to
    /// make room, if one was. One hash of the key; on a miss that evicts, one more look-up
    /// in the index (by slot number, not key).
    pub fn entry(&mut self, k: K, ts: i64, make: impl FnOnce() -> V) -> (&mut V, Option<(K, V)>) {
        let mut evicted = None;
        let v = self.entry_with(k, ts, make, |k, v| evicted = Some((k, v)));
        (v, evicted)
    }

    /// [`Lru::entry`] for callers that only count evictions: the evicted value is dropped
    /// where it lies and its slot reused for the new key (no moves of the value).
    pub fn entry_counting(
        &mut self,
        k: K,
        ts: i64,
        make: impl FnOnce() -> V,
        evicted: &mut u64,
    ) -> &mut V {
        self.entry_with(k, ts, make, |_, _| *evicted += 1)
    }

    fn entry_with(
        &mut self,
        k: K,
        ts: i64,
        make: impl FnOnce() -> V,
        on_evict: impl FnOnce(K, V),
    ) -> &mut V {
        let hash = self.hasher.hash_one(k);
        if let Some(i) = self.find(hash, &k) {
            return match self.touch_slot(i, ts) {
                Some(v) => v,
                None => unreachable!("an indexed node holds a value"),
            };
        }
        let i = if self.index.len() >= self.cap && self.tail != NIL {
            // Full: the least recently touched node gives up its slot.
            let i = self.tail;
            self.unindex(i);
            self.unlink(i);
            let n = &mut self.nodes[i as usize];
            if let Some(old) = n.value.take() {
                on_evict(n.key, old);
            }
            n.key = k;
            n.hash = hash;
            n.touched = ts;
            n.value = Some(make());
            i
        } else {
            let node = Node {
                key: k,
                hash,
                value: Some(make()),
                touched: ts,
                prev: NIL,
                next: NIL,
            };
            match self.free.pop() {
                Some(i) => {
                    self.nodes[i as usize] = node;
                    i
                }
                None => {
                    self.nodes.push(node);
                    (self.nodes.len() - 1) as u32
                }
            }
        };
        self.link_front(i);
        let nodes = &self.nodes;
        self.index
            .insert_unique(hash, i, |&j| nodes.get(j as usize).map_or(0, |n| n.hash));
        match self.nodes[i as usize].value.as_mut() {
            Some(v) => v,
            None => unreachable!("a node just made holds a value"),
        }
    }

    /// Takes slot `i` out of the index (found by its hash and slot number).
    fn unindex(&mut self, i: u32) {
        let Some(hash) = self.nodes.get(i as usize).map(|n| n.hash) else {
            return;
        };
        if let Ok(e) = self.index.find_entry(hash, |&j| j == i) {
            e.remove();
        }
    }

    /// Removes the entry of `k`.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let i = self.find(self.hasher.hash_one(k), k)?;
        self.remove_slot(i).map(|(_, v)| v)
    }

    /// Removes the node in slot `i` (found in the index by its hash and slot number).
    fn remove_slot(&mut self, i: u32) -> Option<(K, V)> {
        self.unindex(i);
        self.unlink(i);
        self.free.push(i);
        let n = self.nodes.get_mut(i as usize)?;
        Some((n.key, n.value.take()?))
    }

    /// Removes and returns the least recently touched entry.
    pub fn pop_oldest(&mut self) -> Option<(K, V)> {
        if self.tail == NIL {
            return None;
        }
        self.remove_slot(self.tail)
    }

    /// Removes and returns every entry last touched before `before`, oldest first.
    pub fn pop_idle(&mut self, before: i64) -> Vec<(K, V)> {
        let mut out = Vec::new();
        while self.tail != NIL && self.nodes[self.tail as usize].touched < before {
            out.extend(self.pop_oldest());
        }
        out
    }

    /// Removes every entry last touched before `before` (amortized O(1) per entry removed).
    pub fn drop_idle(&mut self, before: i64) -> usize {
        let mut n = 0;
        while self.tail != NIL && self.nodes[self.tail as usize].touched < before {
            self.pop_oldest();
            n += 1;
        }
        n
    }

    /// Every entry, most recently touched first.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let mut i = self.head;
        std::iter::from_fn(move || {
            let n = self.nodes.get(i as usize)?;
            i = n.next;
            Some((&n.key, n.value.as_ref()?))
        })
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = match self.nodes.get(i as usize) {
            Some(n) => (n.prev, n.next),
            None => return,
        };
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else if self.head == i {
            self.head = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else if self.tail == i {
            self.tail = prev;
        }
        let n = &mut self.nodes[i as usize];
        n.prev = NIL;
        n.next = NIL;
    }

    fn link_front(&mut self, i: u32) {
        let old = self.head;
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.prev = NIL;
            n.next = old;
        }
        if old != NIL {
            self.nodes[old as usize].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entry_counting_reuses_the_least_recent_slot() {
        let mut m: Lru<u8, String> = Lru::new(2);
        let mut evicted = 0;
        m.entry_counting(1, 10, || "a".into(), &mut evicted);
        m.entry_counting(2, 20, || "b".into(), &mut evicted);
        m.touch(&1, 30);
        let v = m.entry_counting(3, 40, || "c".into(), &mut evicted);
        assert_eq!(v, "c");
        assert_eq!(evicted, 1);
        assert_eq!(m.get(&2), None);
        assert_eq!(m.get(&1).map(String::as_str), Some("a"));
        // A present key is touched, not made again.
        m.entry_counting(1, 50, || unreachable!(), &mut evicted);
        assert_eq!(evicted, 1);
        let order: Vec<u8> = m.iter().map(|(k, _)| *k).collect();
        assert_eq!(order, vec![1, 3]);
        assert_eq!(m.pop_idle(45), vec![(3, "c".to_string())]);
    }

    proptest! {
        /// The map agrees with a reference model: a vector in touch order, capped.
        #[test]
        fn agrees_with_reference_model(ops in proptest::collection::vec((0u8..10, 0u8..4), 0..300)) {
            let cap = 4;
            let mut m: Lru<u8, u32> = Lru::new(cap);
            let mut model: Vec<(u8, u32, i64)> = Vec::new(); // least recent first
            for (t, (k, op)) in ops.into_iter().enumerate() {
                let ts = t as i64;
                match op {
                    0 => {
                        let ev = m.insert(k, t as u32, ts);
                        if let Some(p) = model.iter().position(|e| e.0 == k) {
                            model.remove(p);
                            prop_assert!(ev.is_none());
                        } else if model.len() >= cap {
                            let (vk, vv, _) = model.remove(0);
                            prop_assert_eq!(ev, Some((vk, vv)));
                        } else {
                            prop_assert!(ev.is_none());
                        }
                        model.push((k, t as u32, ts));
                    }
                    1 => {
                        let got = m.touch(&k, ts).map(|v| *v);
                        match model.iter().position(|e| e.0 == k) {
                            Some(p) => {
                                let mut e = model.remove(p);
                                prop_assert_eq!(got, Some(e.1));
                                e.2 = ts;
                                model.push(e);
                            }
                            None => prop_assert!(got.is_none()),
                        }
                    }
                    2 => {
                        let got = m.remove(&k);
                        let want = model.iter().position(|e| e.0 == k).map(|p| model.remove(p).1);
                        prop_assert_eq!(got, want);
                    }
                    _ => {
                        let before = ts - 5;
                        let got = m.pop_idle(before);
                        let n = model.iter().take_while(|e| e.2 < before).count();
                        let want: Vec<(u8, u32)> = model.drain(..n).map(|e| (e.0, e.1)).collect();
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(m.len(), model.len());
            }
            let order: Vec<u8> = m.iter().map(|(k, _)| *k).collect();
            let want: Vec<u8> = model.iter().rev().map(|e| e.0).collect();
            prop_assert_eq!(order, want);
        }
    }
}
