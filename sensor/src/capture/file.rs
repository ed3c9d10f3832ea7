//! Capture files read without libpcap: pcap (micro- and nanosecond, either byte order) and
//! pcapng with several sections and several interfaces of different link types, snaplens,
//! timestamp resolutions (`if_tsresol`) and offsets (`if_tsoffset`) — what Wireshark writes
//! when it captures on several interfaces, and libpcap refuses. Blocks are parsed by
//! `pcap-parser` (nom); this module turns them into frames with their link type and time.

use std::io::Read;
use std::sync::{Arc, Mutex};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use otsensor_baselines::time::Timestamp;

use crate::decode::LinkType;

/// Bytes buffered at first; grown for a larger block, up to [`MAX_BLOCK`].
const BUFFER: usize = 1 << 20;
/// The largest block accepted (a frame of a 256 KiB snaplen with options fits many times).
const MAX_BLOCK: usize = 64 << 20;

/// One frame of a capture file.
#[derive(Debug)]
pub struct Frame<'a> {
    /// Its interface's link type.
    pub link: LinkType,
    /// Capture time.
    pub ts: Timestamp,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Length on the wire.
    pub wire_len: u32,
}

/// An interface of the current pcapng section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
    snaplen: u32,
}

/// Reads frames from a capture file (or any stream of one).
pub struct CaptureReader {
    blocks: Box<dyn PcapReaderIterator + Send>,
    /// Legacy pcap: the file's link type, and whether timestamps are in nanoseconds.
    legacy: Option<(LinkType, bool)>,
    /// pcapng: the interfaces of the current section, by id.
    interfaces: Vec<Interface>,
    /// Link types met, in order.
    links: Vec<LinkType>,
    /// An error of the underlying stream (e.g. decompression), which the block parser only
    /// sees as "read error".
    stream_error: Arc<Mutex<Option<String>>>,
}

/// A reader that keeps the message of its stream's error for [`CaptureReader`].
struct Keep<R> {
    inner: R,
    error: Arc<Mutex<Option<String>>>,
}

impl<R: Read> Read for Keep<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if let Ok(mut slot) = self.error.lock() {
                slot.get_or_insert_with(|| e.to_string());
            }
        })
    }
}

impl CaptureReader {
    /// Starts reading `input`; fails when it is neither pcap nor pcapng.
    pub fn new(input: impl Read + Send + 'static) -> Result<CaptureReader, String> {
        let stream_error = Arc::new(Mutex::new(None));
        let keep = Keep {
            inner: input,
            error: stream_error.clone(),
        };
        let blocks = pcap_parser::create_reader(BUFFER, keep).map_err(|e| match e {
            PcapError::Eof => "empty file".to_string(),
            PcapError::HeaderNotRecognized => {
                "unknown file format (neither pcap nor pcapng)".to_string()
            }
            PcapError::ReadError => stream_error
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_else(|| "read error".into()),
            other => format!("not a capture file: {other}"),
        })?;
        Ok(CaptureReader {
            blocks,
            legacy: None,
            interfaces: Vec::new(),
            links: Vec::new(),
            stream_error,
        })
    }

    /// The link types met so far, in order (`ethernet`, or `ethernet+linux_sll`).
    pub fn link_names(&self) -> String {
        let names: Vec<String> = self.links.iter().map(|l| l.name()).collect();
        names.join("+")
    }

    fn saw(&mut self, link: LinkType) {
        if !self.links.contains(&link) {
            self.links.push(link);
        }
    }

    /// Hands the next frame to `f`; false at the end of the file. An error is a damaged or
    /// truncated file (the frames before it were handed over).
    pub fn next_frame(&mut self, f: impl FnOnce(Frame<'_>)) -> Result<bool, String> {
        let mut f = Some(f);
        let mut grown = BUFFER;
        let stream = self.stream_error.clone();
        let damaged = |what: &str| damaged(&stream, what);
        loop {
            match self.blocks.next() {
                Ok((offset, block)) => {
                    let frame = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            let link = LinkType::from_dlt(h.network.0);
                            self.legacy = Some((link, h.is_nanosecond_precision()));
                            self.links.clear();
                            self.saw(link);
                            None
                        }
                        PcapBlockOwned::Legacy(p) => {
                            let (link, nano) =
                                self.legacy.ok_or("a packet before the file header")?;
                            let sub = i64::from(p.ts_usec) * if nano { 1 } else { 1000 };
                            let ns = i64::from(p.ts_sec) * 1_000_000_000 + sub;
                            Some(Frame {
                                link,
                                ts: Timestamp::from_nanos(ns),
                                data: p.data,
                                wire_len: p.origlen,
                            })
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            // A new section: its interfaces are numbered from 0 again.
                            self.interfaces.clear();
                            None
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            let units = idb.ts_resolution().ok_or_else(|| {
                                format!(
                                    "interface {}: invalid if_tsresol {}",
                                    self.interfaces.len(),
                                    idb.if_tsresol
                                )
                            })?;
                            let link = LinkType::from_dlt(idb.linktype.0);
                            self.interfaces.push(Interface {
                                link,
                                units,
                                offset_secs: idb.if_tsoffset,
                                snaplen: idb.snaplen,
                            });
                            self.saw(link);
                            None
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let i = *self.interfaces.get(epb.if_id as usize).ok_or_else(|| {
                                format!(
                                    "a packet of interface {}, which no block described",
                                    epb.if_id
                                )
                            })?;
                            let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            Some(Frame {
                                link: i.link,
                                ts: time(ticks, i),
                                data: epb.data.get(..epb.caplen as usize).unwrap_or(epb.data),
                                wire_len: epb.origlen,
                            })
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            // No time, interface 0, cut to its snaplen (0: no limit).
                            let i = *self
                                .interfaces
                                .first()
                                .ok_or("a simple packet before any interface")?;
                            let cut = match i.snaplen {
                                0 => spb.data.len(),
                                n => spb.data.len().min(n as usize),
                            };
                            Some(Frame {
                                link: i.link,
                                ts: Timestamp::from_nanos(0),
                                data: spb.data.get(..cut).unwrap_or(spb.data),
                                wire_len: spb.origlen,
                            })
                        }
                        // Statistics, name resolution, secrets, custom blocks: not packets.
                        PcapBlockOwned::NG(_) => None,
                    };
                    if let Some(frame) = frame {
                        if let Some(f) = f.take() {
                            f(frame);
                        }
                        self.blocks.consume(offset);
                        return Ok(true);
                    }
                    self.blocks.consume(offset);
                }
                Err(PcapError::Eof) => return Ok(false),
                Err(PcapError::Incomplete(_)) => {
                    if self.blocks.reader_exhausted() {
                        return Err(damaged("truncated file (a block is cut short)"));
                    }
                    self.blocks.refill().map_err(|_| damaged("read error"))?;
                }
                Err(PcapError::BufferTooSmall) if grown < MAX_BLOCK => {
                    grown *= 4;
                    if !self.blocks.grow(grown) {
                        return Err(damaged("a block too large to read"));
                    }
                    self.blocks.refill().map_err(|_| damaged("read error"))?;
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(damaged("truncated file (a block is cut short)"))
                }
                Err(PcapError::ReadError) => return Err(damaged("read error")),
                Err(e) => return Err(damaged(&format!("damaged block: {e}"))),
            }
        }
    }
}

/// The stream's own error when it has one (e.g. a broken compressed file), else `what`.
fn damaged(stream: &Mutex<Option<String>>, what: &str) -> String {
    stream
        .lock()
        .ok()
        .and_then(|s| s.clone())
        .unwrap_or_else(|| what.to_string())
}

/// Ticks of an interface's clock to a time.
fn time(ticks: u64, i: Interface) -> Timestamp {
    let units = u128::from(i.units.max(1));
    let ns = u128::from(ticks) * 1_000_000_000 / units;
    let ns = i64::try_from(ns).unwrap_or(i64::MAX);
    Timestamp::from_nanos(ns.saturating_add(i.offset_secs.saturating_mul(1_000_000_000)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads every frame; the frames' lengths, and how it ended.
    fn read_all(bytes: Vec<u8>) -> (Vec<usize>, Result<(), String>) {
        let mut r = match CaptureReader::new(std::io::Cursor::new(bytes)) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Err(e)),
        };
        let mut lens = Vec::new();
        loop {
            let mut len = 0;
            match r.next_frame(|f| len = f.data.len()) {
                Ok(true) => lens.push(len),
                Ok(false) => return (lens, Ok(())),
                Err(e) => return (lens, Err(e)),
            }
        }
    }

    fn legacy(frames: &[&[u8]], nano: bool) -> Vec<u8> {
        let magic: u32 = if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut b = magic.to_le_bytes().to_vec();
        b.extend([2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend(65_535u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        for (i, f) in frames.iter().enumerate() {
            b.extend(7u32.to_le_bytes());
            b.extend((i as u32 * 10).to_le_bytes());
            b.extend((f.len() as u32).to_le_bytes());
            b.extend((f.len() as u32 + 4).to_le_bytes());
            b.extend(*f);
        }
        b
    }

    #[test]
    fn legacy_times_in_micro_and_nanoseconds() {
        for nano in [false, true] {
            let mut r =
                CaptureReader::new(std::io::Cursor::new(legacy(&[b"ab", b"cde"], nano))).unwrap();
            let mut got = Vec::new();
            while r
                .next_frame(|f| got.push((f.ts.as_nanos(), f.data.to_vec(), f.wire_len)))
                .unwrap()
            {}
            let unit = if nano { 1 } else { 1000 };
            assert_eq!(
                got,
                vec![
                    (7_000_000_000, b"ab".to_vec(), 6),
                    (7_000_000_000 + 10 * unit, b"cde".to_vec(), 7)
                ]
            );
            assert_eq!(r.link_names(), "ethernet");
        }
    }

    #[test]
    fn a_cut_file_keeps_the_frames_before_the_cut() {
        let mut b = legacy(&[b"abcd", b"efgh"], false);
        b.truncate(b.len() - 2);
        let (lens, end) = read_all(b);
        assert_eq!(lens, vec![4]);
        assert!(end.unwrap_err().contains("truncated"));
        let (lens, end) = read_all(b"not a capture at all".to_vec());
        assert!(lens.is_empty() && end.unwrap_err().contains("unknown file format"));
    }

    proptest! {
        /// Damaged files (any bytes after a valid start) end in an error or the end of the
        /// file, never a panic or a loop.
        #[test]
        fn damaged_files_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600), pcapng in any::<bool>()) {
            let mut b = if pcapng {
                // A section header block, then anything.
                let mut h = 0x0A0D_0D0Au32.to_le_bytes().to_vec();
                h.extend(28u32.to_le_bytes());
                h.extend(0x1A2B_3C4Du32.to_le_bytes());
                h.extend([1, 0, 0, 0]);
                h.extend((-1i64).to_le_bytes());
                h.extend(28u32.to_le_bytes());
                h
            } else {
                legacy(&[], false)
            };
            b.extend(tail);
            let _ = read_all(b);
        }
    }
}
