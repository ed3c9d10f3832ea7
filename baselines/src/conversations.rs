//! Learned conversations: every (client, server, server port, transport, application label)
//! a flow showed while learning, industrial or not, with a state and provenance like an edge.
//! A server port at or above [`DYNAMIC_PORTS`] on a flow of unknown application is kept as
//! port 0 ("dynamic"): RPC and FTP data channels pick such ports anew each time.

use std::borrow::Cow;
use std::net::IpAddr;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use crate::baseline::{Keyed, Seen, State};
use crate::time::Timestamp;

/// First port of the dynamic range (IANA, RFC 6335 §6), also Linux's default ephemeral start.
pub const DYNAMIC_PORTS: u16 = 32768;

/// The key of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Conversation {
    /// The client (initiator).
    pub client: IpAddr,
    /// The server.
    pub server: IpAddr,
    /// Server port (0: a dynamic port of an unknown application, or no port).
    pub port: u16,
    /// `tcp`, `udp`, `icmp`, ...
    pub transport: Cow<'static, str>,
    /// Application label (`http`, `modbus`, `unknown`, ...).
    pub label: Cow<'static, str>,
}

impl Conversation {
    /// The key as learned and checked: dynamic ports of unknown applications folded to 0.
    pub fn normalized(mut self) -> Conversation {
        if self.label == "unknown" && self.port >= DYNAMIC_PORTS {
            self.port = 0;
        }
        self
    }
}

/// One learned conversation, as in the baseline file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationEntry {
    /// The client.
    pub client: IpAddr,
    /// The server.
    pub server: IpAddr,
    /// Server port (0: dynamic).
    pub port: u16,
    /// Transport.
    pub transport: String,
    /// Application label.
    pub label: String,
    /// Review state.
    pub state: State,
    /// Provenance: flows seen.
    #[serde(flatten)]
    pub seen: Seen,
}

impl ConversationEntry {
    /// The entry's key.
    pub fn key(&self) -> Conversation {
        Conversation {
            client: self.client,
            server: self.server,
            port: self.port,
            transport: self.transport.clone().into(),
            label: self.label.clone().into(),
        }
    }

    fn sort_key(&self) -> (IpAddr, IpAddr, u16, &str, &str) {
        (
            self.client,
            self.server,
            self.port,
            &self.transport,
            &self.label,
        )
    }
}

/// The conversations of a baseline being learned or used for detection.
#[derive(Debug, Default)]
pub struct Conversations {
    map: DashMap<Conversation, ConversationEntry, Keyed>,
}

impl Conversations {
    /// Records a flow of `c` at `ts`; false when the table is full (`max`) and `c` is new.
    pub fn learn(&self, c: &Conversation, ts: Timestamp, max: usize) -> bool {
        if let Some(mut e) = self.map.get_mut(c) {
            e.seen.add(ts);
            return true;
        }
        if self.map.len() >= max {
            return false;
        }
        self.map
            .entry(c.clone())
            .and_modify(|e| e.seen.add(ts))
            .or_insert_with(|| ConversationEntry {
                client: c.client,
                server: c.server,
                port: c.port,
                transport: c.transport.to_string(),
                label: c.label.to_string(),
                state: State::Learning,
                seen: Seen::at(ts),
            });
        true
    }

    /// Learns `c` (if new, and the table has room) and approves it: a SOC decision.
    pub fn approve(&self, c: &Conversation, ts: Timestamp, max: usize) -> bool {
        if !self.learn(c, ts, max) {
            return false;
        }
        if let Some(mut e) = self.map.get_mut(c) {
            e.state = e.state.merge(State::Approved);
        }
        true
    }

    /// Whether `c` was learned (in any state: a suppressed one is known and never alerts).
    pub fn knows(&self, c: &Conversation) -> bool {
        self.map.contains_key(c)
    }

    /// Merges an entry (from a file, or another sensor's baseline); false when full.
    pub fn absorb(&self, e: &ConversationEntry, max: usize) -> bool {
        let k = e.key();
        if let Some(mut x) = self.map.get_mut(&k) {
            x.seen.merge(&e.seen);
            x.state = x.state.merge(e.state);
            return true;
        }
        if self.map.len() >= max {
            return false;
        }
        self.map.insert(k, e.clone());
        true
    }

    /// Sets the state of the entries `which` keeps; how many.
    pub fn set_state(&self, which: impl Fn(&ConversationEntry) -> bool, state: State) -> usize {
        let mut n = 0;
        for mut e in self.map.iter_mut() {
            if which(e.value()) {
                e.state = state;
                n += 1;
            }
        }
        n
    }

    /// Number of conversations.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every entry, sorted by (client, server, port, transport, label): a stable file.
    pub fn to_sorted(&self) -> Vec<ConversationEntry> {
        let mut v: Vec<ConversationEntry> = self.map.iter().map(|e| e.value().clone()).collect();
        v.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(port: u16, label: &'static str) -> Conversation {
        Conversation {
            client: "10.0.0.1".parse().unwrap(),
            server: "10.0.0.2".parse().unwrap(),
            port,
            transport: "tcp".into(),
            label: label.into(),
        }
        .normalized()
    }

    #[test]
    fn learns_counts_folds_dynamic_ports_and_respects_its_cap() {
        let c = Conversations::default();
        let t = |s: i64| Timestamp::from_nanos(s * 1_000_000_000);
        assert!(c.learn(&conv(445, "smb"), t(1), 2));
        assert!(c.learn(&conv(445, "smb"), t(5), 2));
        assert!(c.learn(&conv(50123, "unknown"), t(2), 2));
        // Another dynamic port of the same unknown service is the same conversation.
        assert!(c.knows(&conv(61000, "unknown")));
        assert!(!c.knows(&conv(50123, "http")));
        assert!(!c.learn(&conv(3389, "rdp"), t(3), 2), "full");
        assert!(!c.knows(&conv(3389, "rdp")));
        let v = c.to_sorted();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].port, v[0].label.as_str()), (0, "unknown"));
        assert_eq!((v[1].port, v[1].seen.count), (445, 2));
        assert_eq!(v[1].seen.first_seen, t(1));
        // A file's entry merges: counts add, the stricter state wins.
        let mut e = v[1].clone();
        e.state = State::Suppressed;
        assert!(c.absorb(&e, 2));
        let v = c.to_sorted();
        assert_eq!((v[1].seen.count, v[1].state), (4, State::Suppressed));
    }
}
