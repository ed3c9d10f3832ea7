//! The sensor's own health: capture loss, silent inputs, overload, sinks that cannot deliver,
//! failed baseline saves. [`Monitor::check`] runs on the capture's ticker thread, reads what
//! the threads published to [`Telemetry`], and sends a [`HealthSignal`] to the output thread
//! when a condition is raised, persists (once per interval) or clears; the output thread turns
//! them into alerts of engine `sensor` on every sink. The same state answers `GET /health`.
//!
//! A condition never depends on the sink it reports about: a Kafka sink that cannot deliver
//! is reported on the other sinks and in the log at once, and on Kafka itself from its spool
//! once the brokers are back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde_json::{json, Value};

use otsensor_baselines::alert::Rule;
use otsensor_baselines::rules;
use otsensor_baselines::time::Timestamp;

use crate::capture::live::CaptureStats;
use crate::config::HealthConfig;
use crate::output::alerts::{Control, HealthSignal};
use crate::service::telemetry::Telemetry;

#[derive(Debug)]
struct Condition {
    active: bool,
    details: String,
    last_sent: Instant,
}

/// Watches the published counters and raises or clears health conditions.
#[derive(Debug)]
pub struct Monitor {
    cfg: Arc<Mutex<HealthConfig>>,
    telemetry: Arc<Telemetry>,
    tx: Sender<Control>,
    started: Instant,
    last_check: Instant,
    /// The time of the evaluation under way (monotonic, and wall clock).
    now: Instant,
    wall: Timestamp,
    /// `health.interval_secs` as of this evaluation.
    interval: Duration,
    /// Start of the current loss/overload window, and the counters then.
    window: (Instant, Vec<CaptureStats>, u64),
    conditions: BTreeMap<(&'static str, String), Condition>,
}

/// What the sensor lost or shed inside itself: packets at full worker queues, events not
/// written, and state shed at its bounds (flows evicted, anomaly keys evicted, hosts the full
/// asset inventory refused).
fn drops_of(t: &Telemetry) -> u64 {
    let r = t.report();
    let refused = t.assets_refused();
    r.dispatch.dropped_worker_queue_full
        + r.output.events_lost
        + r.workers.ended(crate::pipeline::worker::EndReason::Evicted)
        + r.alerts.anomaly_evicted
        + refused
}

impl Monitor {
    /// A monitor sending to the output thread over `tx`; `cfg` may be replaced by a reload.
    pub fn new(
        cfg: Arc<Mutex<HealthConfig>>,
        telemetry: Arc<Telemetry>,
        tx: Sender<Control>,
    ) -> Monitor {
        let now = Instant::now();
        let caps = telemetry
            .interfaces
            .iter()
            .map(|i| i.stats().capture)
            .collect();
        Monitor {
            window: (now, caps, drops_of(&telemetry)),
            cfg,
            telemetry,
            tx,
            started: now,
            last_check: now,
            now,
            wall: Timestamp::now(),
            interval: Duration::from_secs(10),
            conditions: BTreeMap::new(),
        }
    }

    fn cfg(&self) -> HealthConfig {
        self.cfg
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends a condition's state to the output thread when it changes, and once per
    /// interval while it lasts; logs changes.
    pub fn set(
        &mut self,
        rule: &'static Rule,
        subject: &str,
        active: bool,
        details: String,
        observed: Value,
        expected: Value,
    ) {
        let every = self.interval;
        let key = (rule.id, subject.to_string());
        let prev = self.conditions.get(&key);
        let changed = prev.map_or(active, |c| c.active != active);
        let due = prev
            .is_some_and(|c| c.active && active && self.now.duration_since(c.last_sent) >= every);
        if !changed && !due {
            if let Some(c) = self.conditions.get_mut(&key) {
                c.details = details;
            }
            return;
        }
        if changed && active {
            tracing::warn!("{}: {details}", rule.id);
        } else if changed {
            tracing::warn!("{} cleared: {details}", rule.id);
        }
        let _ = self.tx.send(Control::Health(HealthSignal {
            rule,
            subject: subject.to_string(),
            active,
            ts: self.wall,
            details: details.clone(),
            observed,
            expected,
        }));
        self.conditions.insert(
            key,
            Condition {
                active,
                details,
                last_sent: self.now,
            },
        );
    }

    /// Why the sensor is degraded now: `rule subject: details` of every active condition.
    pub fn reasons(&self) -> Vec<String> {
        self.conditions
            .iter()
            .filter(|(_, c)| c.active)
            .map(|((rule, _), c)| format!("{rule}: {}", c.details))
            .collect()
    }

    /// Evaluates every condition (at most once a second) and publishes the health state.
    pub fn check(&mut self) {
        if self.last_check.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.evaluate(Instant::now(), Timestamp::now());
    }

    /// Evaluates every condition as of `now` (and the wall-clock time `wall`).
    pub fn evaluate(&mut self, now: Instant, wall: Timestamp) {
        self.now = now;
        self.wall = wall;
        self.last_check = now;
        let cfg = self.cfg();
        self.interval = Duration::from_secs(cfg.interval_secs);
        self.check_silent(&cfg);
        if now.duration_since(self.window.0) >= Duration::from_secs(cfg.interval_secs) {
            self.check_window(&cfg);
        }
        self.check_sinks(&cfg);
        let save = self.telemetry.baseline_save_error();
        self.set(
            &rules::BASELINE_SAVE_FAILED,
            "baseline",
            save.is_some(),
            match &save {
                Some(e) => format!("the periodic baseline save failed: {e}"),
                None => "the baseline was saved".to_string(),
            },
            json!({ "error": save }),
            Value::Null,
        );
        let reasons = self.reasons();
        self.telemetry.set_health(reasons);
    }

    fn check_silent(&mut self, cfg: &HealthConfig) {
        let now = self.wall;
        let ifaces = self.telemetry.interface_stats();
        for s in ifaces {
            let silent_ns = match s.last_packet {
                Some(t) => now.nanos_since(t),
                None => i64::try_from(self.now.duration_since(self.started).as_nanos())
                    .unwrap_or(i64::MAX),
            };
            let silent = silent_ns / 1_000_000_000;
            let limit = i64::try_from(cfg.silent_secs).unwrap_or(i64::MAX);
            let active = silent >= limit;
            let state = match (&s.up, &s.last_error) {
                (false, Some(e)) => format!(" (interface down: {e})"),
                (false, None) => " (interface down)".to_string(),
                _ => String::new(),
            };
            let details = if active {
                format!("no packet on {} for {silent} s{state}", s.name)
            } else {
                format!("packets on {} again", s.name)
            };
            self.set(
                &rules::INPUT_SILENT,
                &s.name,
                active,
                details,
                json!({ "interface": s.name, "silent_secs": silent, "up": s.up, "error": s.last_error }),
                json!({ "silent_secs_below": cfg.silent_secs }),
            );
        }
    }

    fn check_window(&mut self, cfg: &HealthConfig) {
        let secs = self.now.duration_since(self.window.0).as_secs();
        let ifaces = self.telemetry.interface_stats();
        let before = std::mem::take(&mut self.window.1);
        for (i, s) in ifaces.iter().enumerate() {
            let b = before.get(i).cloned().unwrap_or_default();
            let received = s.capture.received.saturating_sub(b.received);
            let kernel = s.capture.dropped.saturating_sub(b.dropped);
            let interface = s.capture.if_dropped.saturating_sub(b.if_dropped);
            let lost = kernel + interface;
            let ratio = lost as f64 / (received + interface).max(1) as f64;
            let active = lost > 0 && ratio > cfg.max_loss_ratio;
            let details = if active {
                format!(
                    "{lost} of {} packets ({:.2} %) dropped on {} in the last {secs} s (kernel {kernel}, interface {interface})",
                    received + interface,
                    ratio * 100.0,
                    s.name
                )
            } else {
                format!("no capture loss on {} in the last {secs} s", s.name)
            };
            self.set(
                &rules::CAPTURE_LOSS,
                &s.name,
                active,
                details,
                json!({ "interface": s.name, "received": received, "kernel_dropped": kernel, "interface_dropped": interface, "ratio": ratio, "window_secs": secs }),
                json!({ "max_loss_ratio": cfg.max_loss_ratio }),
            );
        }
        let drops = drops_of(&self.telemetry);
        let lost = drops.saturating_sub(self.window.2);
        self.set(
            &rules::OVERLOAD,
            "pipeline",
            lost > 0,
            if lost > 0 {
                format!("{lost} packets, events or pieces of state dropped inside the sensor in the last {secs} s (worker queues full, events not written, or flows, anomaly keys or assets shed at their bounds: a flood?)")
            } else {
                format!("no packet or event dropped inside the sensor in the last {secs} s")
            },
            json!({ "dropped": lost, "window_secs": secs }),
            json!({ "dropped": 0 }),
        );
        self.window = (
            self.now,
            ifaces.into_iter().map(|s| s.capture).collect(),
            drops,
        );
    }

    fn check_sinks(&mut self, cfg: &HealthConfig) {
        for s in self.telemetry.output().sinks {
            let failing = s.degraded_secs.unwrap_or(0);
            let active = s.degraded_secs.is_some_and(|d| d >= cfg.sink_secs);
            let details = if active {
                format!(
                    "{} has not delivered for {failing} s ({}); {} bytes spooled",
                    s.name,
                    s.last_error.as_deref().unwrap_or("no error given"),
                    s.spool_bytes
                )
            } else {
                format!("{} delivers again", s.name)
            };
            self.set(
                &rules::SINK_DEGRADED,
                &s.name,
                active,
                details,
                json!({ "sink": s.name, "kind": s.kind, "failing_secs": failing, "spool_bytes": s.spool_bytes, "error": s.last_error }),
                json!({ "failing_secs_below": cfg.sink_secs }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::live::Interface;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    struct Rig {
        monitor: Monitor,
        rx: crossbeam_channel::Receiver<Control>,
        iface: Arc<Interface>,
        t0: Instant,
        w0: Timestamp,
    }

    impl Rig {
        fn new() -> Rig {
            let iface = Arc::new(Interface::new("eth1"));
            let telemetry = Arc::new(Telemetry::new("capture", 1, vec![iface.clone()]));
            let cfg = HealthConfig {
                interval_secs: 10,
                max_loss_ratio: 0.01,
                silent_secs: 30,
                sink_secs: 60,
            };
            let (tx, rx) = crossbeam_channel::unbounded();
            let monitor = Monitor::new(Arc::new(Mutex::new(cfg)), telemetry, tx);
            Rig {
                t0: monitor.started,
                w0: Timestamp::now(),
                monitor,
                rx,
                iface,
            }
        }

        /// Evaluates at `s` seconds after the start; the signals sent.
        fn at(&mut self, s: u64) -> Vec<HealthSignal> {
            let wall = Timestamp::from_nanos(self.w0.as_nanos() + (s as i64) * 1_000_000_000);
            self.monitor.evaluate(self.t0 + secs(s), wall);
            self.rx
                .try_iter()
                .filter_map(|c| match c {
                    Control::Health(h) => Some(h),
                    Control::Anomaly(_) => None,
                })
                .collect()
        }

        fn packet(&self, s: u64) {
            let wall = Timestamp::from_nanos(self.w0.as_nanos() + (s as i64) * 1_000_000_000);
            self.iface.record_packet(wall, 60);
        }
    }

    fn states(v: &[HealthSignal]) -> Vec<(&'static str, &str, bool)> {
        v.iter()
            .map(|h| (h.rule.id, h.subject.as_str(), h.active))
            .collect()
    }

    #[test]
    fn loss_above_the_ratio_is_raised_then_cleared_by_a_clean_window() {
        let mut r = Rig::new();
        r.packet(1);
        // 5 of 1000 dropped (0.5 %) is under 1 %: nothing.
        r.iface.store_capture(&CaptureStats {
            received: 1000,
            dropped: 5,
            if_dropped: 0,
        });
        assert!(states(&r.at(10)).is_empty());
        r.packet(11);
        r.iface.store_capture(&CaptureStats {
            received: 2000,
            dropped: 105,
            if_dropped: 0,
        });
        let s = r.at(20);
        assert_eq!(states(&s), vec![("sensor.capture_loss", "eth1", true)]);
        assert!(s[0].details.contains("100 of 1000"), "{}", s[0].details);
        assert!(r.monitor.reasons()[0].starts_with("sensor.capture_loss"));
        // Still losing: one reminder per interval, not per check.
        r.iface.store_capture(&CaptureStats {
            received: 3000,
            dropped: 205,
            if_dropped: 0,
        });
        r.packet(25);
        assert_eq!(
            states(&r.at(30)),
            vec![("sensor.capture_loss", "eth1", true)]
        );
        r.packet(35);
        assert!(states(&r.at(35)).is_empty());
        // A window without loss clears it.
        r.iface.store_capture(&CaptureStats {
            received: 4000,
            dropped: 205,
            if_dropped: 0,
        });
        r.packet(39);
        assert_eq!(
            states(&r.at(40)),
            vec![("sensor.capture_loss", "eth1", false)]
        );
        assert!(r.monitor.reasons().is_empty());
    }

    #[test]
    fn silence_is_raised_after_silent_secs_and_cleared_by_a_packet() {
        let mut r = Rig::new();
        r.packet(0);
        assert!(states(&r.at(29)).is_empty());
        let s = r.at(31);
        assert_eq!(states(&s), vec![("sensor.input_silent", "eth1", true)]);
        assert!(
            s[0].details.contains("no packet on eth1 for 31 s"),
            "{}",
            s[0].details
        );
        r.packet(32);
        assert_eq!(
            states(&r.at(33)),
            vec![("sensor.input_silent", "eth1", false)]
        );
    }

    #[test]
    fn drops_inside_the_sensor_are_overload_for_one_window() {
        let mut r = Rig::new();
        r.packet(1);
        let d = crate::pipeline::dispatch::DispatchStats {
            dropped_worker_queue_full: 512,
            ..Default::default()
        };
        r.monitor.telemetry.publish_dispatch(d, vec![16]);
        let s = r.at(10);
        assert_eq!(states(&s), vec![("sensor.overload", "pipeline", true)]);
        assert!(s[0]
            .details
            .starts_with("512 packets, events or pieces of state dropped"));
        r.packet(15);
        assert_eq!(
            states(&r.at(20)),
            vec![("sensor.overload", "pipeline", false)]
        );
    }

    #[test]
    fn a_failed_baseline_save_is_raised_until_a_save_works() {
        let mut r = Rig::new();
        r.packet(1);
        r.monitor
            .telemetry
            .baseline_saved(Err("No space left on device".into()));
        let s = r.at(2);
        assert_eq!(
            states(&s),
            vec![("sensor.baseline_save_failed", "baseline", true)]
        );
        assert!(s[0].details.contains("No space left"));
        r.monitor.telemetry.baseline_saved(Ok(()));
        assert_eq!(
            states(&r.at(3)),
            vec![("sensor.baseline_save_failed", "baseline", false)]
        );
        assert!(r.monitor.telemetry.health().is_empty());
    }
}
