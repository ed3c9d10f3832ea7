//! The flow table: a hash map from [`FlowKey`] to a slab slot, with intrusive
//! least-recently-used lists, one per [`Class`] of flow, so that idle expiry and eviction at
//! the caps are O(1) per flow whatever the traffic.
//!
//! Every flow of a class shares that class's idle timeout, so a class's list is also its
//! expiry order: a sweep walks each list from its old end and stops at the first flow that
//! has not expired. When the table is full, a new flow evicts the least recently seen flow of
//! the most expendable class: half-open connections first, then closed ones, then UDP and
//! other datagram flows, and an established connection last — a flood of SYNs or of short
//! connections cannot push the plant's long-lived polling connections out. Half-open
//! connections have a cap of their own, and under pressure (the table 90 % full, or the
//! half-open cap reached) the table enters *emergency mode* (as Suricata does): half-open,
//! closed and datagram flows expire after their emergency timeouts until it is 70 % full.
//!
//! One table per worker; no locks. Evicted flows are handed back so the caller can finish
//! them (and count them).

use hashbrown::HashTable;

use super::key::{FlowHasher, FlowKey, Hashed};

const NIL: u32 = u32::MAX;

/// Index of a flow in its table; valid until the flow is removed.
pub type FlowId = u32;

/// What kind of flow, for timeouts and eviction order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A TCP connection that sent a SYN and nothing since: no handshake completed, no data.
    HalfOpen = 0,
    /// A TCP connection carrying data (or picked up midstream).
    Open = 1,
    /// A TCP connection closed by FIN both ways or RST (kept briefly for stragglers).
    Closed = 2,
    /// UDP.
    Udp = 3,
    /// Other IP protocols.
    Other = 4,
}

const CLASSES: usize = 5;

/// Eviction order at the cap: the most expendable class first.
const EVICT_ORDER: [Class; CLASSES] = [
    Class::HalfOpen,
    Class::Closed,
    Class::Other,
    Class::Udp,
    Class::Open,
];

/// Idle timeouts (ns) per class, normal and in emergency mode, and the caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most flows.
    pub max_flows: usize,
    /// Most half-open connections.
    pub max_half_open: usize,
    /// Idle timeout per class, indexed by [`Class`].
    pub timeout: [i64; CLASSES],
    /// The same in emergency mode.
    pub emergency_timeout: [i64; CLASSES],
}

impl Limits {
    /// Limits with one idle timeout for every class and no emergency shortening (tests).
    pub fn uniform(max_flows: usize, timeout: i64) -> Limits {
        Limits {
            max_flows,
            max_half_open: max_flows,
            timeout: [timeout; CLASSES],
            emergency_timeout: [timeout; CLASSES],
        }
    }
}

#[derive(Debug)]
struct Slot<V> {
    /// The key (its hash is computed again when the index grows or the flow is removed,
    /// never per packet: 8 bytes a flow saved).
    key: FlowKey,
    value: Option<V>,
    last_seen: i64,
    class: Class,
    prev: u32,
    next: u32,
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
    len: 0,
};

/// Flows by key, one recency list per class.
#[derive(Debug)]
pub struct FlowTable<V> {
    /// Slot numbers by key hash (4 bytes a flow, so the index stays in cache).
    map: HashTable<FlowId>,
    /// The run's flow hasher, the dispatcher's: a packet comes with its key's hash, and the
    /// table hashes a key itself only when it grows and when a flow leaves.
    hasher: FlowHasher,
    slots: Vec<Slot<V>>,
    free: Vec<FlowId>,
    lists: [List; CLASSES],
    limits: Limits,
    emergency: bool,
    /// Times emergency mode was entered.
    pub emergencies: u64,
}

impl<V> FlowTable<V> {
    /// An empty table within `limits` (caps of at least one), indexing by `hasher`'s hashes.
    pub fn new(mut limits: Limits, hasher: FlowHasher) -> Self {
        limits.max_flows = limits.max_flows.max(1);
        limits.max_half_open = limits.max_half_open.clamp(1, limits.max_flows);
        FlowTable {
            map: HashTable::new(),
            hasher,
            slots: Vec::new(),
            free: Vec::new(),
            lists: [EMPTY; CLASSES],
            limits,
            emergency: false,
            emergencies: 0,
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

    /// Number of flows of a class.
    pub fn count(&self, class: Class) -> usize {
        self.lists[class as usize].len
    }

    /// Whether the table is in emergency mode.
    pub fn in_emergency(&self) -> bool {
        self.emergency
    }

    /// The flow with this key.
    pub fn get(&self, key: &Hashed) -> Option<FlowId> {
        let slots = &self.slots;
        self.map
            .find(key.hash, |&id| {
                slots.get(id as usize).is_some_and(|s| s.key == key.key)
            })
            .copied()
    }

    fn timeout(&self, class: Class) -> i64 {
        if self.emergency {
            self.limits.emergency_timeout[class as usize]
        } else {
            self.limits.timeout[class as usize]
        }
    }

    /// Enters emergency mode at 90 % of the cap or at the half-open cap; leaves it below 70 %.
    fn update_emergency(&mut self) {
        let n = self.map.len();
        let cap = self.limits.max_flows;
        let half_open = self.lists[Class::HalfOpen as usize].len;
        if !self.emergency && (n * 10 >= cap * 9 || half_open >= self.limits.max_half_open) {
            self.emergency = true;
            self.emergencies += 1;
        } else if self.emergency
            && n * 10 < cap * 7
            && half_open * 10 < self.limits.max_half_open * 7
        {
            self.emergency = false;
        }
    }

    /// Adds a flow of `class` seen at `now` (ns). When the table (or, for a half-open
    /// connection, the half-open cap) is full, the least recently seen flow of the most
    /// expendable class is removed first and returned.
    pub fn insert(
        &mut self,
        key: Hashed,
        value: V,
        now: i64,
        class: Class,
    ) -> (FlowId, Option<(FlowKey, V)>) {
        let half_open_full = class == Class::HalfOpen
            && self.lists[Class::HalfOpen as usize].len >= self.limits.max_half_open;
        let victim = if half_open_full {
            self.lists[Class::HalfOpen as usize].tail
        } else if self.map.len() >= self.limits.max_flows {
            EVICT_ORDER
                .iter()
                .map(|c| self.lists[*c as usize].tail)
                .find(|t| *t != NIL)
                .unwrap_or(NIL)
        } else {
            NIL
        };
        let evicted = (victim != NIL).then(|| self.remove(victim));
        debug_assert_eq!(self.hasher.hashed(key.key), key, "hashed by another hasher");
        let slot = Slot {
            key: key.key,
            value: Some(value),
            last_seen: now,
            class,
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
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.map.insert_unique(key.hash, id, |&j| {
            slots
                .get(j as usize)
                .map_or(0, |s| hasher.hashed(s.key).hash)
        });
        self.update_emergency();
        (id, evicted)
    }

    /// Marks the flow as seen at `now` (moves it to the front of its list).
    pub fn touch(&mut self, id: FlowId, now: i64) {
        let s = &mut self.slots[id as usize];
        if now > s.last_seen {
            s.last_seen = now;
        }
        let class = s.class;
        if self.lists[class as usize].head != id {
            self.unlink(id);
            self.link_front(id);
        }
    }

    /// The flow's class.
    pub fn class(&self, id: FlowId) -> Class {
        self.slots[id as usize].class
    }

    /// Moves the flow to another class (e.g. a connection whose handshake completed, or that
    /// closed); it is the most recent of its new class.
    pub fn set_class(&mut self, id: FlowId, class: Class) {
        if self.slots[id as usize].class == class {
            return;
        }
        self.unlink(id);
        self.slots[id as usize].class = class;
        self.link_front(id);
        self.update_emergency();
    }

    /// True when the flow has been idle longer than its class's timeout at `now`.
    pub fn is_expired(&self, id: FlowId, now: i64) -> bool {
        let s = &self.slots[id as usize];
        now.saturating_sub(s.last_seen) > self.timeout(s.class)
    }

    /// The flow's value.
    pub fn value_mut(&mut self, id: FlowId) -> &mut V {
        match self.slots[id as usize].value.as_mut() {
            Some(v) => v,
            None => unreachable!("flow id {id} used after removal"),
        }
    }

    /// Calls `f` on every flow.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut V)) {
        for slot in &mut self.slots {
            if let Some(v) = slot.value.as_mut() {
                f(v);
            }
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
        // Found by hash and slot number, without comparing keys.
        if let Ok(e) = self
            .map
            .find_entry(self.hasher.hashed(key).hash, |&j| j == id)
        {
            e.remove();
        }
        self.free.push(id);
        (key, v)
    }

    /// Removes and returns the flows idle past their class's timeout at `now`: each class's
    /// list is walked from its least recently seen flow up to the first that has not expired,
    /// so a sweep costs O(1) plus the flows it removes.
    pub fn expire(&mut self, now: i64, out: &mut Vec<(FlowKey, V)>) {
        self.update_emergency();
        for class in EVICT_ORDER {
            let timeout = self.timeout(class);
            loop {
                let id = self.lists[class as usize].tail;
                if id == NIL || now.saturating_sub(self.slots[id as usize].last_seen) <= timeout {
                    break;
                }
                out.push(self.remove(id));
            }
        }
        self.update_emergency();
    }

    /// Removes and returns the least recently seen flow of any class (to drain the table
    /// one flow at a time, oldest first).
    pub fn pop_oldest(&mut self) -> Option<(FlowKey, V)> {
        let id = self
            .lists
            .iter()
            .map(|l| l.tail)
            .filter(|t| *t != NIL)
            .min_by_key(|t| self.slots[*t as usize].last_seen)?;
        Some(self.remove(id))
    }

    fn unlink(&mut self, id: FlowId) {
        let (prev, next, class) = {
            let s = &self.slots[id as usize];
            (s.prev, s.next, s.class as usize)
        };
        let list = &mut self.lists[class];
        if prev != NIL {
            self.slots[prev as usize].next = next;
        } else if list.head == id {
            list.head = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        } else if list.tail == id {
            list.tail = prev;
        }
        list.len = list.len.saturating_sub(1);
        let s = &mut self.slots[id as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    fn link_front(&mut self, id: FlowId) {
        let class = self.slots[id as usize].class as usize;
        let old = self.lists[class].head;
        {
            let s = &mut self.slots[id as usize];
            s.prev = NIL;
            s.next = old;
        }
        if old != NIL {
            self.slots[old as usize].prev = id;
        }
        let list = &mut self.lists[class];
        list.head = id;
        if list.tail == NIL {
            list.tail = id;
        }
        list.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u16) -> Hashed {
        super::super::FlowHasher::fixed().hashed(FlowKey {
            lo_ip: [0; 16],
            hi_ip: [1; 16],
            lo_port: n,
            hi_port: 502,
            proto: 6,
            vlan: 0,
        })
    }

    #[test]
    fn evicts_least_recently_seen_at_cap() {
        let mut t = FlowTable::new(Limits::uniform(2, 100), FlowHasher::fixed());
        let (a, _) = t.insert(key(1), "a", 0, Class::Open);
        t.insert(key(2), "b", 1, Class::Open);
        t.touch(a, 2);
        let (_, ev) = t.insert(key(3), "c", 3, Class::Open);
        assert_eq!(ev, Some((key(2).key, "b")));
        assert_eq!(t.len(), 2);
        assert!(t.get(&key(1)).is_some() && t.get(&key(3)).is_some());
    }

    fn limits() -> Limits {
        Limits {
            max_flows: 10,
            max_half_open: 4,
            timeout: [50, 500, 20, 300, 60],
            emergency_timeout: [5, 500, 2, 30, 30],
        }
    }

    #[test]
    fn expires_by_each_class_timeout() {
        let mut t = FlowTable::new(limits(), FlowHasher::fixed());
        t.insert(key(1), 1, 0, Class::HalfOpen);
        t.insert(key(2), 2, 0, Class::Open);
        t.insert(key(3), 3, 90, Class::HalfOpen);
        let mut out = Vec::new();
        t.expire(100, &mut out);
        assert_eq!(out.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![1]);
        t.expire(1000, &mut out);
        assert_eq!(out.len(), 3);
        assert!(t.is_empty());
    }

    #[test]
    fn floods_evict_half_open_and_closed_before_established() {
        let mut t = FlowTable::new(limits(), FlowHasher::fixed());
        // Two established polling connections, seen long ago.
        t.insert(key(100), 100, 0, Class::Open);
        t.insert(key(101), 101, 1, Class::Open);
        // A SYN flood: the half-open cap (4) keeps the newest four.
        let mut evicted = Vec::new();
        for i in 0..20u16 {
            let (_, ev) = t.insert(key(i), u32::from(i), 10 + i64::from(i), Class::HalfOpen);
            evicted.extend(ev.map(|(_, v)| v));
        }
        assert_eq!(t.count(Class::HalfOpen), 4);
        assert_eq!(evicted, (0..16).collect::<Vec<_>>());
        assert!(t.in_emergency());
        // Short connections fill the table: closed ones go before the established.
        for i in 200..220u16 {
            let (id, ev) = t.insert(key(i), u32::from(i), 40, Class::Open);
            t.set_class(id, Class::Closed);
            assert!(ev.is_none_or(|(_, v)| v != 100 && v != 101));
        }
        assert!(t.get(&key(100)).is_some() && t.get(&key(101)).is_some());
        // Emergency timeouts: half-open flows go after 5, not 50.
        let mut out = Vec::new();
        t.expire(60, &mut out);
        assert!(out.iter().all(|(_, v)| *v != 100 && *v != 101));
        assert_eq!(t.count(Class::HalfOpen), 0);
        assert_eq!(t.count(Class::Closed), 0);
        assert!(!t.in_emergency(), "below 70 % again");
    }

    proptest! {
        /// The table agrees with a simple model: a map plus an LRU order vector.
        #[test]
        fn agrees_with_reference_model(ops in proptest::collection::vec((0u16..12, 0u8..3), 0..200)) {
            let cap = 5;
            let mut t = FlowTable::new(Limits::uniform(cap, 1_000_000), FlowHasher::fixed());
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
                        let (_, ev) = t.insert(key(k), k, now, Class::Open);
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
            let all: Vec<_> = std::iter::from_fn(|| t.pop_oldest()).collect();
            prop_assert_eq!(all.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), model);
        }
    }
}
