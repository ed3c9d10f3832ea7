//! Poll timing: per connection and function, the interval since the previous request and the
//! requests per minute (for the baseline's timing and rate rules); per edge and function, the
//! last request of the run (for stopped polls, judged at the end or periodically).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::alert::{AlertEndpoint, Comparison, Observation};
use crate::baseline::{EdgeKey, State};
use crate::message::Message;
use crate::rules;
use crate::time::Timestamp;

use super::{Mode, Shared};

/// Timing and rate of one function's requests on one connection.
#[derive(Debug, Clone)]
pub(super) struct FlowFn {
    last: Option<Timestamp>,
    /// The minute (of capture time) of the last request, and the requests in it: 32 bits
    /// each keep a connection's entry small (a minute number fits until the year 6000).
    minute: i32,
    in_minute: u32,
    /// A rate spike was raised this minute.
    pub spiked: bool,
    /// While detecting: the (edge, function)'s entry in [`Shared::last_poll`] (looked up once
    /// per connection and function), moved forward at most once a second of capture time
    /// and at the flow's end, and the last time it was (ns).
    last_poll: Option<Arc<AtomicI64>>,
    published: i64,
    /// Requests of the function on the connection (saturating).
    requests: u32,
}

impl Default for FlowFn {
    fn default() -> Self {
        FlowFn {
            last: None,
            minute: 0,
            in_minute: 0,
            spiked: false,
            last_poll: None,
            published: i64::MIN,
            requests: 0,
        }
    }
}

/// What one request says about its function's timing on its connection.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Timing {
    /// Milliseconds since the previous request of the function.
    pub interval_ms: Option<u64>,
    /// Requests in the minute that just ended, when this request began a new one.
    pub minute_done: Option<u64>,
    /// Requests so far in this minute, this one included.
    pub in_minute: u64,
}

/// A connection's functions (a connection uses a handful).
#[derive(Debug, Default)]
pub(super) struct Functions(Vec<(u16, FlowFn)>);

impl Functions {
    /// The state of function `code`.
    fn get(&mut self, code: u16) -> &mut FlowFn {
        let i = match self.0.iter().position(|(c, _)| *c == code) {
            Some(i) => i,
            None => {
                // One at a time: most connections use one to three functions, and a flood
                // of connections should not cost four slots each.
                self.0.reserve_exact(1);
                self.0.push((code, FlowFn::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }

    /// At the flow's end (detecting): the last requests not yet published.
    pub fn publish_last(&self) {
        for (_, st) in &self.0 {
            if let (Some(slot), Some(last)) = (&st.last_poll, st.last) {
                if last.as_nanos() > st.published {
                    slot.fetch_max(last.as_nanos(), Ordering::Relaxed);
                }
            }
        }
    }

    /// The functions requested exactly once on the connection, with the request's time: a
    /// master that opens one connection per poll shows its period only across connections.
    pub fn single_requests(&self) -> impl Iterator<Item = (u16, Timestamp)> + '_ {
        self.0
            .iter()
            .filter(|(_, st)| st.requests == 1)
            .filter_map(|(c, st)| st.last.map(|t| (*c, t)))
    }

    /// Counts a request of function `code` at `m.ts`; its timing and the function's state.
    pub fn request(&mut self, m: &Message, code: u16) -> (Timing, &mut FlowFn) {
        let st = self.get(code);
        let mut t = Timing::default();
        if let Some(last) = st.last {
            let d = m.ts.nanos_since(last);
            if d > 0 {
                t.interval_ms = Some((d / 1_000_000) as u64);
            }
        }
        st.last = Some(m.ts);
        st.requests = st.requests.saturating_add(1);
        let minute = i32::try_from(m.ts.as_nanos().div_euclid(60_000_000_000)).unwrap_or(i32::MAX);
        if minute != st.minute {
            if st.in_minute > 0 {
                t.minute_done = Some(u64::from(st.in_minute));
            }
            st.minute = minute;
            st.in_minute = 0;
            st.spiked = false;
        }
        st.in_minute = st.in_minute.saturating_add(1);
        t.in_minute = u64::from(st.in_minute);
        (t, st)
    }
}

impl FlowFn {
    /// While detecting: a request of the function at `ts` on `edge`, published to the shared
    /// last-poll table (the latest of all its connections).
    pub fn polled(&mut self, sh: &Shared, edge: &EdgeKey, code: u16, ts: Timestamp) {
        let t = ts.as_nanos();
        if t.saturating_sub(self.published) < PUBLISH_EVERY_MS * 1_000_000 {
            return;
        }
        self.published = t;
        self.last_poll
            .get_or_insert_with(|| {
                let key = (edge.clone(), code);
                match sh.last_poll.get(&key) {
                    Some(slot) => Arc::clone(&slot),
                    None => Arc::clone(
                        &sh.last_poll
                            .entry(key)
                            .or_insert_with(|| Arc::new(AtomicI64::new(ts.as_nanos()))),
                    ),
                }
            })
            .fetch_max(t, Ordering::Relaxed);
    }
}

/// A connection publishes its last poll of a function at most this often (capture time), and
/// at its end: while capturing, the shared table can be this far behind.
const PUBLISH_EVERY_MS: i64 = 1000;

fn proto_static(p: &str) -> Option<&'static str> {
    otsensor_protocols::descriptor(p).map(|d| d.name)
}

impl Shared {
    /// Periodic polls that stopped: for every (edge, function) polled in this run whose learned
    /// timing is trusted, if its last request is more than `poll_stop_periods` periods before
    /// `now`. Call at the end of a run, when every connection has published its last polls.
    /// A silence is reported once (until the poll runs again and stops again).
    pub fn stopped_polls(&self, now: Timestamp) -> Vec<Observation> {
        self.stopped_polls_after(now, 0)
    }

    /// The same while capturing, with the clock of the input processed so far: connections
    /// publish their polls at most once a second, so a silence must be that much longer.
    pub fn stopped_polls_while_capturing(&self, now: Timestamp) -> Vec<Observation> {
        self.stopped_polls_after(now, PUBLISH_EVERY_MS as u64)
    }

    fn stopped_polls_after(&self, now: Timestamp, slack_ms: u64) -> Vec<Observation> {
        let policy = self.policy();
        if self.mode != Mode::Detect || !policy.enabled(&rules::POLL_STOPPED) {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut polls: Vec<((EdgeKey, u16), Timestamp)> = self
            .last_poll
            .iter()
            .map(|e| {
                let last = Timestamp::from_nanos(e.value().load(Ordering::Relaxed));
                (e.key().clone(), last)
            })
            .collect();
        polls.sort_by(|a, b| a.0.cmp(&b.0));
        let learning_end = self.learner.last_seen();
        let mut reported = match self.stops_reported.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        for ((edge, code), last) in polls {
            let key = (edge, code);
            if reported.get(&key) == Some(&last) {
                continue;
            }
            let (edge, code) = &key;
            let (edge, code) = (edge, *code);
            let Some((timing, name, zones, learned_last)) = self
                .learner
                .with_edge(edge, |e| {
                    let f = e.functions.get(&code)?;
                    if f.state == State::Suppressed || e.state == State::Suppressed {
                        return None;
                    }
                    Some((
                        f.timing.clone()?,
                        f.name.clone(),
                        (e.src_zone.clone(), e.dst_zone.clone()),
                        f.seen.last_seen,
                    ))
                })
                .flatten()
            else {
                continue;
            };
            if timing.samples < policy.cfg.thresholds.min_timing_samples {
                continue;
            }
            let silent_ms = now.nanos_since(last) / 1_000_000;
            let limit =
                (timing.period_ms as f64 * policy.cfg.thresholds.poll_stop_periods).max(1000.0);
            // Only a poll still running when learning ended can stop now.
            let tail_ms = learning_end.map_or(0, |end| end.nanos_since(learned_last) / 1_000_000);
            if tail_ms as f64 > limit {
                continue;
            }
            if silent_ms as f64 > limit + slack_ms as f64 {
                let ep = |ip, zone: &str| AlertEndpoint {
                    ip: Some(ip),
                    port: None,
                    mac: None,
                    zone: Some(std::sync::Arc::from(zone)),
                    asset: self.assets.label(&ip).map(std::borrow::Cow::Owned),
                };
                out.push(Observation {
                    rule: &rules::POLL_STOPPED,
                    key: format!("{}#{code}", edge.label()),
                    ts: now,
                    src: Some(ep(edge.src, &zones.0)),
                    dst: Some(ep(edge.dst, &zones.1)),
                    protocol: proto_static(&edge.protocol),
                    transport: None,
                    operation: None,
                    function: Some(name.clone()),
                    details: format!(
                        "{name} on {} polled every {} ms while learning; none for {} ms",
                        edge.label(),
                        timing.period_ms,
                        silent_ms
                    ),
                    comparison: Comparison {
                        observed: json!({ "last_request": last, "silent_ms": silent_ms }),
                        expected: json!({ "period_ms": timing.period_ms, "jitter_ms": timing.jitter_ms }),
                    },
                    severity: policy.severity_override(&rules::POLL_STOPPED),
                    community_id: None,
                });
                reported.insert((edge.clone(), code), last);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::MessageBuilder;
    use super::*;

    #[test]
    fn intervals_and_requests_per_minute() {
        let mut fns = Functions::default();
        let at = |s| MessageBuilder::modbus(3).at_secs(s).build();
        let (t, _) = fns.request(&at(0.0), 3);
        assert_eq!((t.interval_ms, t.in_minute), (None, 1));
        let (t, _) = fns.request(&at(0.25), 3);
        assert_eq!((t.interval_ms, t.in_minute), (Some(250), 2));
        // Another function keeps its own time.
        assert_eq!(fns.request(&at(0.5), 4).0.interval_ms, None);
        // The minute turns: the finished minute's count is reported once.
        let base = 1_700_000_000.0f64;
        let next_minute = (base / 60.0).floor() * 60.0 + 60.0 - base;
        let (t, st) = fns.request(&at(next_minute + 1.0), 3);
        assert_eq!((t.minute_done, t.in_minute), (Some(2), 1));
        assert!(!st.spiked);
    }
}
