//! Live capture from one or more interfaces through libpcap.
//!
//! Each interface has its own reader thread; all of them feed the one [`Dispatcher`] (behind a
//! mutex), so flows, zones and detection span the interfaces. The calling thread is the
//! ticker: every `timeout_ms` it hands partial batches to the workers (so that a quiet network
//! still produces timely events and idle expiry), wakes readers that saw nothing, and runs the
//! caller's periodic work. An interface that fails (goes down, disappears, errors) does not end
//! the capture: its reader reopens it with backoff (1 s doubling to 30 s), and its counters
//! (which the health alerts watch) say it is down.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pcap::{Active, BreakLoop, Capture, Precision};
use serde::Serialize;

use otsensor_baselines::time::Timestamp;

use super::{ts_of, InputReport};
use crate::config::CaptureConfig;
use crate::decode::LinkType;
use crate::pipeline::dispatch::Dispatcher;

/// libpcap's own counters for the capture (summed over interfaces and reopens).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets the kernel passed to libpcap.
    pub received: u64,
    /// Packets dropped because the capture buffer was full (the sensor was too slow).
    pub dropped: u64,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u64,
}

impl CaptureStats {
    fn add(&mut self, o: &CaptureStats) {
        self.received += o.received;
        self.dropped += o.dropped;
        self.if_dropped += o.if_dropped;
    }
}

/// Why a live capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The interface could not be opened.
    #[error("cannot capture on {iface}: {reason}")]
    Open {
        /// Interface name.
        iface: String,
        /// libpcap's reason.
        reason: String,
    },
    /// The BPF expression does not compile.
    #[error("invalid BPF filter {expr:?} for {iface}: {reason}")]
    Filter {
        /// Interface name.
        iface: String,
        /// The expression.
        expr: String,
        /// libpcap's reason.
        reason: String,
    },
}

/// One interface to capture on, with its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveInput {
    /// Interface name.
    pub name: String,
    /// BPF filter.
    pub bpf: Option<String>,
    /// libpcap settings.
    pub cfg: CaptureConfig,
}

/// What one interface did, updated while it runs (read by stats, metrics and health).
#[derive(Default)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    packets: AtomicU64,
    bytes: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
    if_dropped: AtomicU64,
    reopens: AtomicU64,
    failures: AtomicU64,
    /// Capture time (ns) of the newest packet; 0 before the first.
    last_packet_ns: AtomicI64,
    up: AtomicBool,
    link_type: Mutex<String>,
    last_error: Mutex<Option<String>>,
    wake: Mutex<Option<BreakLoop>>,
    seen: AtomicBool,
}

impl std::fmt::Debug for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interface")
            .field("name", &self.name)
            .finish()
    }
}

/// One interface's counters in stats and metrics.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct InterfaceStats {
    /// Interface name.
    pub name: String,
    /// Link type.
    pub link_type: String,
    /// Whether it is open now.
    pub up: bool,
    /// Packets read from it.
    pub packets: u64,
    /// Captured bytes read from it.
    pub bytes: u64,
    /// libpcap's counters, summed over reopens.
    #[serde(flatten)]
    pub capture: CaptureStats,
    /// Times it failed (went down, disappeared, errored).
    pub failures: u64,
    /// Times it was reopened after a failure.
    pub reopens: u64,
    /// The newest packet's capture time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_packet: Option<Timestamp>,
    /// The last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Interface {
    /// Counters for the interface `name`.
    pub fn new(name: &str) -> Interface {
        Interface {
            name: name.to_string(),
            ..Interface::default()
        }
    }

    /// The counters now.
    pub fn stats(&self) -> InterfaceStats {
        let last = self.last_packet_ns.load(Ordering::Relaxed);
        InterfaceStats {
            name: self.name.clone(),
            link_type: lock(&self.link_type).clone(),
            up: self.up.load(Ordering::Relaxed),
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            capture: CaptureStats {
                received: self.received.load(Ordering::Relaxed),
                dropped: self.dropped.load(Ordering::Relaxed),
                if_dropped: self.if_dropped.load(Ordering::Relaxed),
            },
            failures: self.failures.load(Ordering::Relaxed),
            reopens: self.reopens.load(Ordering::Relaxed),
            last_packet: (last != 0).then(|| Timestamp::from_nanos(last)),
            last_error: lock(&self.last_error).clone(),
        }
    }

    /// What was read from it, for stats' `inputs`.
    pub fn report(&self) -> InputReport {
        let s = self.stats();
        InputReport {
            source: s.name,
            link_type: s.link_type,
            packets: s.packets,
            bytes: s.bytes,
            error: None,
        }
    }

    /// Counts one packet read (and its capture time).
    pub(crate) fn record_packet(&self, ts: Timestamp, bytes: usize) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.last_packet_ns.store(ts.as_nanos(), Ordering::Relaxed);
    }

    pub(crate) fn store_capture(&self, c: &CaptureStats) {
        self.received.store(c.received, Ordering::Relaxed);
        self.dropped.store(c.dropped, Ordering::Relaxed);
        self.if_dropped.store(c.if_dropped, Ordering::Relaxed);
    }

    fn wake(&self) {
        if let Some(b) = lock(&self.wake).as_ref() {
            b.breakloop();
        }
    }
}

/// Opens an interface with its settings and filter.
pub fn open(input: &LiveInput) -> Result<Capture<Active>, LiveError> {
    let iface = &input.name;
    let open_err = |e: pcap::Error| LiveError::Open {
        iface: iface.clone(),
        reason: e.to_string(),
    };
    let cfg = &input.cfg;
    let mut cap = Capture::from_device(iface.as_str())
        .map_err(open_err)?
        .promisc(cfg.promiscuous)
        .snaplen(i32::try_from(cfg.snaplen).unwrap_or(i32::MAX))
        .buffer_size(i32::try_from(cfg.buffer_size).unwrap_or(i32::MAX))
        .immediate_mode(cfg.immediate)
        .timeout(i32::try_from(cfg.timeout_ms).unwrap_or(i32::MAX))
        .precision(Precision::Nano)
        .open()
        .map_err(open_err)?;
    if let Some(expr) = &input.bpf {
        cap.filter(expr, true).map_err(|e| LiveError::Filter {
            iface: iface.clone(),
            expr: expr.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(cap)
}

/// The kernel's view of an interface: its index and whether it is administratively up, from
/// `/sys/class/net` (`None`: no such interface there).
fn link_state(name: &str) -> Option<(u32, bool)> {
    let dir = std::path::Path::new("/sys/class/net").join(name);
    let index = std::fs::read_to_string(dir.join("ifindex")).ok()?;
    let flags = std::fs::read_to_string(dir.join("flags")).ok()?;
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).ok()?;
    Some((index.trim().parse().ok()?, flags & 1 == 1))
}

/// Watches an interface through `/sys/class/net`: libpcap on Linux keeps a capture open
/// without a word when its interface goes down, and reads nothing from the new interface
/// when one of the same name replaces it. `None` where sysfs does not show the interface
/// (pseudo-interfaces such as `any`): libpcap's own errors are all there is then.
#[derive(Debug, Clone, Copy)]
struct Watch(Option<u32>);

impl Watch {
    fn of(name: &str) -> Watch {
        Watch(link_state(name).map(|(index, _)| index))
    }

    /// Why the capture must be reopened, if it must.
    fn failure(self, name: &str) -> Option<String> {
        let index = self.0?;
        match link_state(name) {
            None => Some("the interface disappeared".into()),
            Some((i, _)) if i != index => Some("the interface was replaced".into()),
            Some((_, false)) => Some("the interface went down".into()),
            Some(_) => None,
        }
    }
}

fn stats_of(cap: &mut Capture<Active>) -> Option<CaptureStats> {
    cap.stats().ok().map(|s| CaptureStats {
        received: u64::from(s.received),
        dropped: u64::from(s.dropped),
        if_dropped: u64::from(s.if_dropped),
    })
}

/// Locks the dispatcher (a reader that panicked while holding it cannot have left it
/// half-updated in a way that matters more than losing the capture).
fn dispatcher(d: &Mutex<Dispatcher>) -> std::sync::MutexGuard<'_, Dispatcher> {
    lock(d)
}

/// Captures on every opened interface until `stop` is raised. `each_tick` runs on this
/// thread every tick, outside the dispatcher lock. Returns each interface's report.
pub fn capture(
    opened: Vec<(LiveInput, Capture<Active>)>,
    ifaces: &[Arc<Interface>],
    disp: &Mutex<Dispatcher>,
    stop: &AtomicBool,
    each_tick: &mut dyn FnMut(),
) -> Vec<InputReport> {
    let tick = opened
        .iter()
        .map(|(i, _)| i.cfg.timeout_ms)
        .min()
        .map_or(Duration::from_millis(100), |ms| {
            Duration::from_millis(u64::from(ms.max(1)))
        });
    std::thread::scope(|scope| {
        for ((input, cap), (index, iface)) in opened.into_iter().zip(ifaces.iter().enumerate()) {
            let index = u8::try_from(index).unwrap_or(u8::MAX);
            let iface = iface.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("otsensor-capture-{index}"))
                .spawn_scoped(scope, move || {
                    read_interface(input, cap, index, &iface, disp, stop)
                });
            if let Err(e) = spawned {
                tracing::error!("Cannot start a capture thread: {e}.");
                stop.store(true, Ordering::Relaxed);
            }
        }
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(tick);
            for i in ifaces {
                // A reader blocked in libpcap (immediate mode ignores the timeout) is woken
                // when it saw nothing for a tick, to refresh its counters and check for stop.
                if !i.seen.swap(false, Ordering::Relaxed) {
                    i.wake();
                }
            }
            {
                let mut d = dispatcher(disp);
                if d.round_is_empty() {
                    let now = Timestamp::now().max(d.now());
                    d.end_round_at(now);
                } else {
                    d.end_round();
                }
            }
            each_tick();
        }
        for i in ifaces {
            i.wake();
        }
    });
    ifaces.iter().map(|i| i.report()).collect()
}

/// The reader of one interface: reads until `stop`, reopening the interface after failures.
fn read_interface(
    input: LiveInput,
    mut cap: Capture<Active>,
    index: u8,
    iface: &Interface,
    disp: &Mutex<Dispatcher>,
    stop: &AtomicBool,
) {
    // libpcap's counters restart with each handle: `base` holds those of earlier handles.
    let mut base = CaptureStats::default();
    loop {
        let link = LinkType::from_dlt(cap.get_datalink().0);
        *lock(&iface.link_type) = link.name();
        *lock(&iface.wake) = Some(cap.breakloop_handle());
        iface.up.store(true, Ordering::Relaxed);
        tracing::info!("Capturing on {} (link type {}).", input.name, link.name());
        let failure = read_until_failure(&mut cap, link, index, iface, &base, disp, stop);
        *lock(&iface.wake) = None;
        let last = stats_of(&mut cap);
        if let Some(c) = &last {
            let mut total = base.clone();
            total.add(c);
            iface.store_capture(&total);
        }
        let Some(reason) = failure else {
            // A clean stop: hand on what the kernel had already captured.
            drain(cap, link, index, iface, &base, disp);
            return;
        };
        if let Some(c) = last {
            base.add(&c);
        }
        drop(cap);
        iface.up.store(false, Ordering::Relaxed);
        iface.failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("Capture on {} failed: {reason}; reopening it.", input.name);
        *lock(&iface.last_error) = Some(reason);
        match reopen(&input, stop) {
            Some(c) => {
                cap = c;
                iface.reopens.fetch_add(1, Ordering::Relaxed);
            }
            None => return,
        }
    }
}

/// Reads packets until `stop` (returns `None`) or a capture error (returns it).
fn read_until_failure(
    cap: &mut Capture<Active>,
    link: LinkType,
    index: u8,
    iface: &Interface,
    base: &CaptureStats,
    disp: &Mutex<Dispatcher>,
    stop: &AtomicBool,
) -> Option<String> {
    let mut refreshed = Instant::now();
    let refresh_every = Duration::from_millis(250);
    let watch = Watch::of(&iface.name);
    // libpcap's counters, and whether the interface is still the one opened, and up.
    let refresh = |cap: &mut Capture<Active>| {
        if let Some(c) = stats_of(cap) {
            let mut total = base.clone();
            total.add(&c);
            iface.store_capture(&total);
        }
        watch.failure(&iface.name)
    };
    while !stop.load(Ordering::Relaxed) {
        match cap.next_packet() {
            Ok(p) => {
                let ts = ts_of(p.header);
                dispatcher(disp).packet_on(index, link, ts, p.data, p.header.len);
                iface.record_packet(ts, p.data.len());
                iface.seen.store(true, Ordering::Relaxed);
                if refreshed.elapsed() >= refresh_every {
                    if let Some(why) = refresh(cap) {
                        return Some(why);
                    }
                    refreshed = Instant::now();
                }
            }
            // A timeout, or the ticker's wake-up (libpcap reports it as end of input).
            Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => {
                if let Some(why) = refresh(cap) {
                    return Some(why);
                }
                refreshed = Instant::now();
            }
            Err(e) => return Some(e.to_string()),
        }
    }
    None
}

/// Reopens a failed interface: 1 s, then doubling up to 30 s between attempts, until it
/// opens or `stop` is raised.
fn reopen(input: &LiveInput, stop: &AtomicBool) -> Option<Capture<Active>> {
    let mut wait = Duration::from_secs(1);
    let mut logged = false;
    loop {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Only an interface that is there and up: libpcap opens a down one without a word.
        let state = link_state(&input.name);
        let opened = match state {
            Some((_, false)) => Err(LiveError::Open {
                iface: input.name.clone(),
                reason: "the interface is down".into(),
            }),
            _ => open(input),
        };
        match opened {
            Ok(c) => {
                tracing::warn!("Capture on {} reopened.", input.name);
                return Some(c);
            }
            Err(e) => {
                if !logged {
                    tracing::warn!("{e}; retrying (every 1 s, doubling up to {} s)", 30);
                    logged = true;
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// On a stop, hands on the packets the kernel had already captured but the reader had not
/// read yet: a clean stop loses nothing that was on the wire before it. Reads without
/// blocking, and at most as many packets as the kernel had received at the stop, so that a
/// busy interface cannot keep the sensor from exiting.
fn drain(
    mut cap: Capture<Active>,
    link: LinkType,
    index: u8,
    iface: &Interface,
    base: &CaptureStats,
    disp: &Mutex<Dispatcher>,
) {
    let Some(at_stop) = stats_of(&mut cap) else {
        return;
    };
    let mut cap = match cap.setnonblock() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("could not read the packets buffered at stop: {e}");
            return;
        }
    };
    let read_before = iface.packets.load(Ordering::Relaxed);
    let backlog = (base.received + at_stop.received)
        .saturating_sub(base.dropped + at_stop.dropped)
        .saturating_sub(read_before);
    let mut read = 0;
    while read < backlog {
        match cap.next_packet() {
            Ok(p) => {
                let ts = ts_of(p.header);
                dispatcher(disp).packet_on(index, link, ts, p.data, p.header.len);
                iface.record_packet(ts, p.data.len());
                read += 1;
            }
            Err(_) => break,
        }
    }
    if read > 0 {
        tracing::info!("Read {read} packets buffered at stop on {}.", iface.name);
    }
    if let Some(c) = stats_of(&mut cap) {
        let mut total = base.clone();
        total.add(&c);
        iface.store_capture(&total);
    }
}

/// Sums libpcap's counters over interfaces.
pub fn totals(ifaces: &[InterfaceStats]) -> CaptureStats {
    let mut t = CaptureStats::default();
    for i in ifaces {
        t.add(&i.capture);
    }
    t
}
