//! Packet sources: pcap/pcapng files (replay, read by [`file::CaptureReader`]) and live
//! interfaces (capture, through libpcap), both feeding the same
//! [`Dispatcher`](crate::pipeline::dispatch::Dispatcher).

pub mod file;
pub mod live;
pub mod offline;

use serde::Serialize;

use otsensor_baselines::time::Timestamp;

/// What was read from one input (a file or an interface).
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputReport {
    /// File path or interface name.
    pub source: String,
    /// Link type of the input.
    pub link_type: String,
    /// Packets read from it.
    pub packets: u64,
    /// Captured bytes read from it.
    pub bytes: u64,
    /// What went wrong while reading it, if anything (the packets before were processed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// libpcap's timeval with nanosecond precision to a [`Timestamp`].
pub(crate) fn ts_of(h: &pcap::PacketHeader) -> Timestamp {
    #[allow(clippy::unnecessary_cast)]
    let (secs, nanos) = (h.ts.tv_sec as i64, h.ts.tv_usec as i64);
    Timestamp::from_nanos(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
}
