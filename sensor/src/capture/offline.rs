//! Replay of pcap and pcapng files (plain, compressed, or streamed from standard input or a
//! FIFO), read packet by packet by [`CaptureReader`] (not libpcap, which refuses pcapng
//! files with several link types).

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use otsensor_baselines::time::Timestamp;

use super::file::CaptureReader;
use super::InputReport;
use crate::pipeline::dispatch::Dispatcher;

/// Bytes of per-record overhead assumed for progress (pcap record header).
const RECORD_OVERHEAD: u64 = 16;

/// Opens a capture file, with one-line errors that name the file. `-` is standard input
/// (read as a stream, as a FIFO is): both end at the end of the stream.
pub fn open(path: &Path) -> Result<CaptureReader, String> {
    open_streaming(path).map(|(cap, _)| cap)
}

/// The decompressing thread of a compressed capture: its error, if the file broke.
type Feeder = std::thread::JoinHandle<Result<(), String>>;

/// As [`open`], with the thread that decompresses a compressed capture (join it after the
/// last packet, the reader dropped, for a decompression error).
fn open_streaming(path: &Path) -> Result<(CaptureReader, Option<Feeder>), String> {
    let unreadable = |e: String| format!("cannot read {}: {e}", path.display());
    let source: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
        )
    };
    // The first bytes tell a compressed capture; a stream (standard input, a FIFO) cannot
    // be read twice, so they are put back in front of the rest.
    let (head, source) = peek(source).map_err(|e| unreadable(e.to_string()))?;
    let source: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head.clone()).chain(source));
    if let Some(c) = magic(&head) {
        // Decompressed by a thread into a pipe (no temporary file).
        let (reader, feeder) = decompressing(source, c).map_err(|e| unreadable(e.to_string()))?;
        return CaptureReader::new(reader)
            .map(|r| (r, Some(feeder)))
            .map_err(|e| format!("cannot read {} ({c:?}): {e}", path.display()));
    }
    CaptureReader::new(source)
        .map(|r| (r, None))
        .map_err(unreadable)
}

/// Bytes read ahead: enough for a compression's magic and for the capture's header (the
/// capture reader takes its header from one read), few enough that a slow stream starts soon.
const PEEK_LEN: usize = 4096;

/// The first [`PEEK_LEN`] bytes of `r` (fewer at its end), and `r` after them.
fn peek<R: Read>(mut r: R) -> std::io::Result<(Vec<u8>, R)> {
    let mut head = vec![0u8; PEEK_LEN];
    let mut n = 0;
    while n < PEEK_LEN {
        match r.read(head.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(n);
    Ok((head, r))
}

/// The compression whose magic `head` starts with.
fn magic(head: &[u8]) -> Option<Compression> {
    match head {
        [0x1f, 0x8b, ..] => Some(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Some(Compression::Xz),
        _ => None,
    }
}

/// Compressions a capture file may come in, recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`.pcap.gz`), members concatenated as `zcat` reads them.
    Gzip,
    /// Zstandard.
    Zstd,
    /// xz.
    Xz,
}

/// The compression of a regular file, from its first bytes.
pub fn compression_of(path: &Path) -> Option<Compression> {
    let (head, _) = peek(std::fs::File::open(path).ok()?).ok()?;
    magic(&head)
}

/// Starts a thread that decompresses `source` into a pipe; returns the pipe's read end and
/// the thread. A decompression error ends the stream there; the thread returns it.
fn decompressing(
    source: Box<dyn Read + Send>,
    c: Compression,
) -> std::io::Result<(std::io::PipeReader, Feeder)> {
    let file = std::io::BufReader::new(source);
    let (reader, mut writer) = std::io::pipe()?;
    let feeder = std::thread::Builder::new()
        .name("otsensor-decompress".into())
        .spawn(move || {
            let mut file = file;
            let done = match c {
                Compression::Gzip => {
                    std::io::copy(&mut flate2::read::MultiGzDecoder::new(file), &mut writer)
                        .map(drop)
                }
                Compression::Zstd => ruzstd::decoding::StreamingDecoder::new(file)
                    .map_err(std::io::Error::other)
                    .and_then(|mut d| std::io::copy(&mut d, &mut writer).map(drop)),
                Compression::Xz => {
                    lzma_rs::xz_decompress(&mut file, &mut writer).map_err(std::io::Error::other)
                }
            };
            match done {
                // A reader that stopped early (an error, or a stop) is not the file's fault.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("cannot decompress ({c:?}): {e}"))
                }
                _ => Ok(()),
            }
        })?;
    Ok((reader, feeder))
}

/// Standard input (`-`) or a FIFO: readable once, so not opened ahead to check it.
pub fn is_stream(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    path.as_os_str() == "-" || std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// Paces replay to the recorded timestamps (`--realtime`).
#[derive(Debug, Default)]
pub struct Pacer {
    base: Option<(Timestamp, Instant)>,
}

impl Pacer {
    /// Restarts pacing (at each new file, whose clock may be unrelated to the last).
    pub fn reset(&mut self) {
        self.base = None;
    }

    /// Sleeps until `ts` is due; returns early if `stop` is raised. Ends the dispatcher's
    /// round before a long sleep so that events are not held back.
    fn wait(&mut self, ts: Timestamp, stop: &AtomicBool, disp: &mut Dispatcher) {
        let (t0, w0) = *self.base.get_or_insert((ts, Instant::now()));
        let offset = ts.nanos_since(t0);
        if offset <= 0 {
            return;
        }
        let due = w0 + Duration::from_nanos(offset as u64);
        let mut flushed = false;
        loop {
            let now = Instant::now();
            if now >= due || stop.load(Ordering::Relaxed) {
                return;
            }
            let left = due - now;
            if !flushed && left > Duration::from_millis(50) {
                disp.end_round();
                flushed = true;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

/// Options of a replay.
pub struct ReplayOptions<'a> {
    /// Honour recorded timestamps.
    pub realtime: bool,
    /// Raised by SIGINT/SIGTERM.
    pub stop: &'a AtomicBool,
    /// Progress over all files, in bytes.
    pub progress: &'a ProgressBar,
}

/// Streams one file through the dispatcher. Read errors partway (a truncated or corrupt
/// file) end this file; what was read before is kept and the error is in the report.
pub fn replay_file(
    path: &Path,
    disp: &mut Dispatcher,
    opts: &ReplayOptions<'_>,
    pacer: &mut Pacer,
) -> InputReport {
    let mut rep = InputReport {
        source: path.display().to_string(),
        ..InputReport::default()
    };
    let (mut cap, feeder) = match open_streaming(path) {
        Ok(c) => c,
        Err(e) => {
            rep.error = Some(e);
            return rep;
        }
    };
    pacer.reset();
    let mut done_bytes = 0u64;
    loop {
        // Interrupted, or nobody reads standard output any more.
        if opts.stop.load(Ordering::Relaxed) || crate::output::stdout_closed() {
            break;
        }
        let mut len = 0u64;
        let next = cap.next_frame(|f| {
            if opts.realtime {
                pacer.wait(f.ts, opts.stop, disp);
            }
            disp.packet(f.link, f.ts, f.data, f.wire_len);
            len = f.data.len() as u64;
        });
        match next {
            Ok(true) => {
                rep.packets += 1;
                rep.bytes += len;
                done_bytes += len + RECORD_OVERHEAD;
                if rep.packets.is_multiple_of(4096) {
                    opts.progress.inc(done_bytes);
                    done_bytes = 0;
                }
            }
            Ok(false) => break,
            Err(e) => {
                rep.error = Some(format!(
                    "{}: read error after {} packets: {e}",
                    path.display(),
                    rep.packets,
                ));
                break;
            }
        }
    }
    rep.link_type = cap.link_names();
    opts.progress.inc(done_bytes);
    drop(cap);
    if let Some(Ok(Err(e))) = feeder.map(std::thread::JoinHandle::join) {
        // A compressed capture that broke: processed up to the break, like a cut file.
        rep.error.get_or_insert(format!(
            "{}: {e} after {} packets",
            path.display(),
            rep.packets
        ));
    }
    rep
}
