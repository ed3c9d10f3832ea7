//! Learned substation streams: every GOOSE control block (by gocbRef) and Sampled Values
//! stream (by svID) heard while learning, with its publisher, destination group, APPID,
//! dataset, configuration revision and, for GOOSE, its heartbeat (the longest interval
//! between two frames of one state). Detection names what is new or changed.

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use crate::baseline::{Keyed, Seen, State};
use crate::mac::MacAddr;
use crate::time::Timestamp;

/// What one frame (GOOSE) or one second (SV) shows of its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSample<'a> {
    /// `goose` or `sv`.
    pub protocol: &'static str,
    /// gocbRef or svID.
    pub id: &'a str,
    /// The publisher.
    pub publisher: MacAddr,
    /// The destination group.
    pub destination: MacAddr,
    /// APPID.
    pub appid: u16,
    /// VLAN id.
    pub vlan: Option<u16>,
    /// Dataset reference (GOOSE; empty when not sent).
    pub dat_set: &'a str,
    /// Configuration revision.
    pub conf_rev: Option<u32>,
    /// ms since the stream's previous frame when this one repeats the same state (GOOSE).
    pub repeat_ms: Option<u64>,
}

/// One learned stream, as in the baseline file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEntry {
    /// `goose` or `sv`.
    pub protocol: String,
    /// gocbRef or svID.
    pub id: String,
    /// The publisher.
    pub publisher: MacAddr,
    /// The destination group.
    pub destination: MacAddr,
    /// APPID.
    pub appid: u16,
    /// VLAN id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Dataset reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dat_set: String,
    /// Configuration revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conf_rev: Option<u32>,
    /// GOOSE: the longest interval between two frames of one state, ms (the heartbeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
    /// Review state.
    pub state: State,
    /// Provenance: frames (GOOSE) or seconds (SV) seen.
    #[serde(flatten)]
    pub seen: Seen,
}

/// How a stream differs from what was learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Not learned.
    New,
    /// Published from another MAC.
    Publisher(MacAddr),
    /// Sent to another group or APPID.
    Destination(MacAddr, u16),
    /// Another dataset.
    Dataset(String),
    /// Another configuration revision.
    ConfRev(Option<u32>),
    /// Repeats slower than twice the learned heartbeat (ms learned, ms now).
    Heartbeat(u64, u64),
}

impl Change {
    /// The changed attribute's name (`publisher`, `destination`, `dataset`, `conf_rev`,
    /// `heartbeat`; `new`).
    pub fn what(&self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Publisher(_) => "publisher",
            Change::Destination(..) => "destination",
            Change::Dataset(_) => "dataset",
            Change::ConfRev(_) => "conf_rev",
            Change::Heartbeat(..) => "heartbeat",
        }
    }
}

/// The streams of a baseline being learned or used for detection.
#[derive(Debug, Default)]
pub struct Streams {
    map: DashMap<(&'static str, String), StreamEntry, Keyed>,
}

impl Streams {
    /// Records `s` at `ts`; false when the table is full (`max`) and the stream is new.
    pub fn learn(&self, s: &StreamSample<'_>, ts: Timestamp, max: usize) -> bool {
        let key = (s.protocol, s.id.to_string());
        if let Some(mut e) = self.map.get_mut(&key) {
            e.seen.add(ts);
            if let Some(ms) = s.repeat_ms {
                e.heartbeat_ms = Some(e.heartbeat_ms.map_or(ms, |h| h.max(ms)));
            }
            return true;
        }
        if self.map.len() >= max {
            return false;
        }
        self.map.insert(
            key,
            StreamEntry {
                protocol: s.protocol.to_string(),
                id: s.id.to_string(),
                publisher: s.publisher,
                destination: s.destination,
                appid: s.appid,
                vlan: s.vlan,
                dat_set: s.dat_set.to_string(),
                conf_rev: s.conf_rev,
                heartbeat_ms: s.repeat_ms,
                state: State::Learning,
                seen: Seen::at(ts),
            },
        );
        true
    }

    /// How `s` differs from the learned stream, first difference first (nothing when it
    /// matches; [`Change::New`] when unknown).
    pub fn compare(&self, s: &StreamSample<'_>, out: &mut Vec<Change>) {
        let Some(e) = self.map.get(&(s.protocol, s.id.to_string())) else {
            out.push(Change::New);
            return;
        };
        if e.publisher != s.publisher {
            out.push(Change::Publisher(e.publisher));
        }
        if e.destination != s.destination || e.appid != s.appid {
            out.push(Change::Destination(e.destination, e.appid));
        }
        if !s.dat_set.is_empty() && e.dat_set != s.dat_set {
            out.push(Change::Dataset(e.dat_set.clone()));
        }
        if s.conf_rev.is_some() && e.conf_rev != s.conf_rev {
            out.push(Change::ConfRev(e.conf_rev));
        }
        if let (Some(h), Some(ms)) = (e.heartbeat_ms, s.repeat_ms) {
            if ms > 2 * h.max(1) {
                out.push(Change::Heartbeat(h, ms));
            }
        }
    }

    /// Merges an entry (from a file, or another sensor's baseline); false when full.
    pub fn absorb(&self, e: &StreamEntry, max: usize) -> bool {
        let protocol = if e.protocol == "goose" { "goose" } else { "sv" };
        let key = (protocol, e.id.clone());
        if let Some(mut x) = self.map.get_mut(&key) {
            x.seen.merge(&e.seen);
            x.state = x.state.merge(e.state);
            x.heartbeat_ms = x.heartbeat_ms.max(e.heartbeat_ms);
            return true;
        }
        if self.map.len() >= max {
            return false;
        }
        self.map.insert(key, e.clone());
        true
    }

    /// Number of streams.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every entry, sorted by (protocol, id): a stable file.
    pub fn to_sorted(&self) -> Vec<StreamEntry> {
        let mut v: Vec<StreamEntry> = self.map.iter().map(|e| e.value().clone()).collect();
        v.sort_by(|a, b| (&a.protocol, &a.id).cmp(&(&b.protocol, &b.id)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(repeat_ms: Option<u64>) -> StreamSample<'static> {
        StreamSample {
            protocol: "goose",
            id: "IED1LD0/LLN0$GO$gcb01",
            publisher: MacAddr([0, 0xa0, 0xf4, 0, 0, 1]),
            destination: MacAddr([1, 0x0c, 0xcd, 1, 0, 1]),
            appid: 1,
            vlan: Some(5),
            dat_set: "IED1LD0/LLN0$DS1",
            conf_rev: Some(1),
            repeat_ms,
        }
    }

    #[test]
    fn learns_the_heartbeat_and_names_what_changed() {
        let s = Streams::default();
        let t = |n: i64| Timestamp::from_nanos(n * 1_000_000_000);
        assert!(s.learn(&sample(None), t(1), 10));
        assert!(s.learn(&sample(Some(4)), t(2), 10));
        assert!(s.learn(&sample(Some(1000)), t(3), 10));
        let v = s.to_sorted();
        assert_eq!(
            (v.len(), v[0].heartbeat_ms, v[0].seen.count),
            (1, Some(1000), 3)
        );
        let mut out = Vec::new();
        s.compare(&sample(Some(1500)), &mut out);
        assert!(out.is_empty(), "{out:?}");
        let mut odd = sample(Some(2500));
        odd.publisher = MacAddr([2, 0xde, 0xad, 0, 0, 1]);
        odd.conf_rev = Some(2);
        odd.dat_set = "IED1LD0/LLN0$DS2";
        s.compare(&odd, &mut out);
        let what: Vec<&str> = out.iter().map(Change::what).collect();
        assert_eq!(what, ["publisher", "dataset", "conf_rev", "heartbeat"]);
        out.clear();
        odd.id = "IED2LD0/LLN0$GO$gcb01";
        s.compare(&odd, &mut out);
        assert_eq!(out, [Change::New]);
        assert!(!s.learn(&odd, t(4), 1), "full");
        // A file's entry merges: counts add, the stricter state wins.
        let mut e = v[0].clone();
        e.state = State::Suppressed;
        assert!(s.absorb(&e, 1));
        let v = s.to_sorted();
        assert_eq!((v[0].seen.count, v[0].state), (6, State::Suppressed));
    }
}
