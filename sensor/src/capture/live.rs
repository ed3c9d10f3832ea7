//! Live capture from an interface through libpcap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcap::{Capture, Precision};
use serde::Serialize;

use otsensor_baselines::time::Timestamp;

use super::{ts_of, InputReport};
use crate::config::CaptureConfig;
use crate::decode::LinkType;
use crate::pipeline::dispatch::Dispatcher;

/// libpcap's own counters for the capture.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaptureStats {
    /// Packets the kernel passed to libpcap.
    pub received: u64,
    /// Packets dropped because the capture buffer was full (the sensor was too slow).
    pub dropped: u64,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u64,
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
    #[error("invalid --bpf filter {expr:?}: {reason}")]
    Filter {
        /// The expression.
        expr: String,
        /// libpcap's reason.
        reason: String,
    },
}

/// Captures until `stop` is raised. Partial batches are handed to the workers every
/// `timeout_ms` so that a quiet network still produces timely events.
pub fn capture(
    iface: &str,
    bpf: Option<&str>,
    cfg: &CaptureConfig,
    disp: &mut Dispatcher,
    stop: &AtomicBool,
    tick: &mut dyn FnMut(),
) -> Result<(InputReport, CaptureStats), LiveError> {
    let open_err = |e: pcap::Error| LiveError::Open {
        iface: iface.to_string(),
        reason: e.to_string(),
    };
    let mut cap = Capture::from_device(iface)
        .map_err(open_err)?
        .promisc(cfg.promiscuous)
        .snaplen(cfg.snaplen as i32)
        .buffer_size(cfg.buffer_size as i32)
        .immediate_mode(cfg.immediate)
        .timeout(cfg.timeout_ms as i32)
        .precision(Precision::Nano)
        .open()
        .map_err(open_err)?;
    if let Some(expr) = bpf {
        cap.filter(expr, true).map_err(|e| LiveError::Filter {
            expr: expr.to_string(),
            reason: e.to_string(),
        })?;
    }
    let link = LinkType::from_dlt(cap.get_datalink().0);
    let mut rep = InputReport {
        source: iface.to_string(),
        link_type: link.name(),
        ..InputReport::default()
    };
    tracing::info!("Capturing on {iface} (link type {}).", rep.link_type);
    let tick_every = Duration::from_millis(u64::from(cfg.timeout_ms));
    let on_tick = tick;
    let tick = tick_every;
    // libpcap may block in poll() indefinitely (immediate mode on Linux ignores the timeout),
    // so a watcher thread wakes the reader with pcap_breakloop when it must stop, and when no
    // packet arrived for a tick, so that partial batches still reach the workers.
    let wake = cap.breakloop_handle();
    let seen = Arc::new(AtomicBool::new(false));
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| loop {
            std::thread::sleep(tick);
            if done.load(Ordering::Relaxed) {
                break;
            }
            if stop.load(Ordering::Relaxed) || !seen.swap(false, Ordering::Relaxed) {
                wake.breakloop();
            }
        });
        let mut last_flush = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            match cap.next_packet() {
                Ok(p) => {
                    disp.packet(link, ts_of(p.header), p.data, p.header.len);
                    rep.packets += 1;
                    rep.bytes += p.data.len() as u64;
                    if rep.packets.is_multiple_of(64) {
                        seen.store(true, Ordering::Relaxed);
                        if last_flush.elapsed() >= tick {
                            disp.end_round();
                            last_flush = Instant::now();
                            on_tick();
                        }
                    }
                }
                // A timeout, or the watcher's wake-up (libpcap reports it as end of input).
                Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => {
                    disp.end_round_at(Timestamp::now());
                    last_flush = Instant::now();
                    on_tick();
                }
                Err(e) => {
                    rep.error = Some(format!("capture on {iface} failed: {e}"));
                    break;
                }
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    let stats = if rep.error.is_none() {
        drain(cap, link, disp, &mut rep)
    } else {
        stats_of(&mut cap)
    };
    Ok((rep, stats))
}

fn stats_of(cap: &mut Capture<pcap::Active>) -> CaptureStats {
    cap.stats()
        .map(|s| CaptureStats {
            received: u64::from(s.received),
            dropped: u64::from(s.dropped),
            if_dropped: u64::from(s.if_dropped),
        })
        .unwrap_or_default()
}

/// On a stop, hands on the packets the kernel had already captured but the reader had not
/// read yet: a clean stop loses nothing that was on the wire before it. Reads without
/// blocking, and at most as many packets as the kernel had received at the stop, so that a
/// busy interface cannot keep the sensor from exiting. Returns the final capture stats.
fn drain(
    mut cap: Capture<pcap::Active>,
    link: LinkType,
    disp: &mut Dispatcher,
    rep: &mut InputReport,
) -> CaptureStats {
    let at_stop = stats_of(&mut cap);
    let mut cap = match cap.setnonblock() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("could not read the packets buffered at stop: {e}");
            return at_stop;
        }
    };
    let backlog = at_stop
        .received
        .saturating_sub(at_stop.dropped)
        .saturating_sub(rep.packets);
    let mut read = 0;
    while read < backlog {
        match cap.next_packet() {
            Ok(p) => {
                disp.packet(link, ts_of(p.header), p.data, p.header.len);
                rep.packets += 1;
                rep.bytes += p.data.len() as u64;
                read += 1;
            }
            Err(_) => break,
        }
    }
    if read > 0 {
        tracing::info!("Read {read} packets buffered at stop.");
    }
    stats_of(&mut cap)
}
