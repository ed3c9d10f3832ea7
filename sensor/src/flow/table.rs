//! The flow table: a hash map from [`FlowKey`] to a slab slot, with an intrusive
//! least-recently-used list so that idle expiry and eviction at the cap are O(1) per flow.
//!
//! One table per worker; no locks. When the table is at its cap, inserting evicts the least
//! recently seen flow and hands it back so the caller can finish it (and count it).

use rustc_hash::FxHashMap;

use super::key::FlowKey;

const NIL: u32 = u32::MAX;

/// Index of a flow in its table; valid until the flow is removed.
pub type FlowId = u32;

#[derive(Debug)]
struct Slot<V> {
    key: FlowKey,
    value: Option<V>,
    last_seen: i64,
    timeout: i64,
    prev: u32,
    next: u32,
}

/// Flows by key, least recently seen last.
#[derive(Debug)]
pub struct FlowTable<V> {
    map: FxHashMap<FlowKey, FlowId>,
    slots: Vec<Slot<V>>,
    free: Vec<FlowId>,
    head: u32,
    tail: u32,
    cap: usize,
}

impl<V> FlowTable<V> {
    /// An empty table holding at most `cap` flows (at least one).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        FlowTable {
            map: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            cap,
        }
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are no flows.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Calls `f` on every flow.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut V)) {
        for slot in &mut self.slots {
            if let Some(v) = slot.value.as_mut() {
                f(v);
            }
        }
    }

    /// The flow with this key.
    pub fn get(&self, key: &FlowKey) -> Option<FlowId> {
        self.map.get(key).copied()
    }

    /// Adds a flow seen at `now` (ns) that expires after `timeout` ns idle. When the table is
    /// full, the least recently seen flow is removed first and returned.
    pub fn insert(
        &mut self,
        key: FlowKey,
        value: V,
        now: i64,
        timeout: i64,
    ) -> (FlowId, Option<(FlowKey, V)>) {
        let evicted = if self.map.len() >= self.cap && self.tail != NIL {
            Some(self.remove(self.tail))
        } else {
            None
        };
        let slot = Slot {
            key,
            value: Some(value),
            last_seen: now,
            timeout,
            prev: NIL,
            next: NIL,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as FlowId
            }
        };
        self.link_front(id);
        self.map.insert(key, id);
        (id, evicted)
    }

    /// Marks the flow as seen at `now` (moves it to the front of the LRU list).
    pub fn touch(&mut self, id: FlowId, now: i64) {
        let s = &mut self.slots[id as usize];
        if now > s.last_seen {
            s.last_seen = now;
        }
        if self.head != id {
            self.unlink(id);
            self.link_front(id);
        }
    }

    /// Changes the idle timeout of a flow (e.g. shorter once a TCP connection closed).
    pub fn set_timeout(&mut self, id: FlowId, timeout: i64) {
        self.slots[id as usize].timeout = timeout;
    }

    /// True when the flow has been idle longer than its timeout at `now`.
    pub fn is_expired(&self, id: FlowId, now: i64) -> bool {
        let s = &self.slots[id as usize];
        now.saturating_sub(s.last_seen) > s.timeout
    }

    /// The flow's value.
    pub fn value_mut(&mut self, id: FlowId) -> &mut V {
        match self.slots[id as usize].value.as_mut() {
            Some(v) => v,
            None => unreachable!("flow id {id} used after removal"),
        }
    }

    /// Removes a flow and returns it.
    pub fn remove(&mut self, id: FlowId) -> (FlowKey, V) {
        self.unlink(id);
        let s = &mut self.slots[id as usize];
        let Some(v) = s.value.take() else {
            unreachable!("flow id {id} removed twice")
        };
        let key = s.key;
        self.map.remove(&key);
        self.free.push(id);
        (key, v)
    }

    /// Removes and returns the flows idle past their timeout at `now`. Walks from the least
    /// recently seen and stops at the first flow seen within `min_timeout` of `now`: nothing
    /// more recent can have expired.
    pub fn expire(&mut self, now: i64, min_timeout: i64, out: &mut Vec<(FlowKey, V)>) {
        let mut id = self.tail;
        while id != NIL {
            let s = &self.slots[id as usize];
            let prev = s.prev;
            let idle = now.saturating_sub(s.last_seen);
            if idle <= min_timeout {
                break;
            }
            if idle > s.timeout {
                out.push(self.remove(id));
            }
            id = prev;
        }
    }

    /// Removes every flow, least recently seen first.
    pub fn drain_all(&mut self, out: &mut Vec<(FlowKey, V)>) {
        while self.tail != NIL {
            out.push(self.remove(self.tail));
        }
    }

    fn unlink(&mut self, id: FlowId) {
        let (prev, next) = {
            let s = &self.slots[id as usize];
            (s.prev, s.next)
        };
        if prev != NIL {
            self.slots[prev as usize].next = next;
        } else if self.head == id {
            self.head = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        } else if self.tail == id {
            self.tail = prev;
        }
        let s = &mut self.slots[id as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    fn link_front(&mut self, id: FlowId) {
        let old = self.head;
        {
            let s = &mut self.slots[id as usize];
            s.prev = NIL;
            s.next = old;
        }
        if old != NIL {
            self.slots[old as usize].prev = id;
        }
        self.head = id;
        if self.tail == NIL {
            self.tail = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u16) -> FlowKey {
        FlowKey {
            lo_ip: [0; 16],
            hi_ip: [1; 16],
            lo_port: n,
            hi_port: 502,
            proto: 6,
            vlan: 0,
        }
    }

    #[test]
    fn evicts_least_recently_seen_at_cap() {
        let mut t = FlowTable::new(2);
        let (a, _) = t.insert(key(1), "a", 0, 100);
        t.insert(key(2), "b", 1, 100);
        t.touch(a, 2);
        let (_, ev) = t.insert(key(3), "c", 3, 100);
        assert_eq!(ev, Some((key(2), "b")));
        assert_eq!(t.len(), 2);
        assert!(t.get(&key(1)).is_some() && t.get(&key(3)).is_some());
    }

    #[test]
    fn expires_by_each_flows_own_timeout() {
        let mut t = FlowTable::new(10);
        t.insert(key(1), 1, 0, 50);
        t.insert(key(2), 2, 0, 500);
        t.insert(key(3), 3, 90, 50);
        let mut out = Vec::new();
        t.expire(100, 50, &mut out);
        assert_eq!(out.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![1]);
        t.expire(1000, 50, &mut out);
        assert_eq!(out.len(), 3);
        assert!(t.is_empty());
    }

    proptest! {
        /// The table agrees with a simple model: a map plus an LRU order vector.
        #[test]
        fn agrees_with_reference_model(ops in proptest::collection::vec((0u16..12, 0u8..3), 0..200)) {
            let cap = 5;
            let mut t = FlowTable::new(cap);
            let mut model: Vec<u16> = Vec::new(); // most recent last
            let mut now = 0i64;
            for (k, op) in ops {
                now += 1;
                match (op, t.get(&key(k))) {
                    (0 | 1, Some(id)) => {
                        t.touch(id, now);
                        model.retain(|&m| m != k);
                        model.push(k);
                    }
                    (0 | 1, None) => {
                        let (_, ev) = t.insert(key(k), k, now, 1_000_000);
                        if model.len() >= cap {
                            let victim = model.remove(0);
                            prop_assert_eq!(ev.map(|(_, v)| v), Some(victim));
                        } else {
                            prop_assert!(ev.is_none());
                        }
                        model.push(k);
                    }
                    (_, Some(id)) => {
                        let (_, v) = t.remove(id);
                        prop_assert_eq!(v, k);
                        model.retain(|&m| m != k);
                    }
                    (_, None) => {}
                }
                prop_assert_eq!(t.len(), model.len());
            }
            let mut all = Vec::new();
            t.drain_all(&mut all);
            prop_assert_eq!(all.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), model);
        }
    }
}
