//! Alert sinks: standard output, or a file appended to and rotated by size.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use otsensor_baselines::alert::Alert;

use crate::output::format;
use crate::output::format::AlertFormat;
use crate::output::kafka::config::KafkaSinkConfig;
use crate::output::kafka::{KafkaReport, KafkaSink};
use crate::output::SinkStatus;

/// One destination with its format.
pub struct Sink {
    /// Where it writes, for messages.
    pub name: String,
    format: AlertFormat,
    out: Out,
    line: Vec<u8>,
    /// Records written, records that failed, since when writes fail, the last error (the
    /// Kafka sink keeps its own).
    records: u64,
    failed: u64,
    failing_since: Option<std::time::Instant>,
    last_error: Option<String>,
}

enum Out {
    Writer(Box<dyn Write + Send>),
    File(RotatingFile),
    Kafka(Box<KafkaSink>),
}

/// A file appended to and rotated when it would exceed `max_bytes`: `path` → `path.1` →
/// ... → `path.N` (the oldest is removed).
struct RotatingFile {
    path: PathBuf,
    file: BufWriter<File>,
    size: u64,
    max_bytes: u64,
    max_files: u32,
}

impl RotatingFile {
    fn open(path: &Path, max_bytes: u64, max_files: u32) -> anyhow::Result<RotatingFile> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file: BufWriter::new(f),
            size,
            max_bytes,
            max_files,
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut s = self.path.as_os_str().to_owned();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        let _ = std::fs::remove_file(self.numbered(self.max_files));
        for n in (1..self.max_files).rev() {
            let from = self.numbered(n);
            if from.exists() {
                std::fs::rename(&from, self.numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, self.numbered(1))?;
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.file = BufWriter::new(f);
        self.size = 0;
        Ok(())
    }

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let len = line.len() as u64;
        if self.max_bytes > 0 && self.size > 0 && self.size + len > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += len;
        Ok(())
    }
}

impl Sink {
    /// Standard output, or any writer.
    pub fn writer(name: &str, w: Box<dyn Write + Send>, format: AlertFormat) -> Sink {
        Sink {
            name: name.to_string(),
            format,
            out: Out::Writer(w),
            line: Vec::new(),
            records: 0,
            failed: 0,
            failing_since: None,
            last_error: None,
        }
    }

    /// A file, appended to; rotated past `max_bytes` (0 = never), keeping `max_files`.
    pub fn file(
        path: &Path,
        format: AlertFormat,
        max_bytes: u64,
        max_files: u32,
    ) -> anyhow::Result<Sink> {
        Ok(Sink {
            name: path.display().to_string(),
            format,
            out: Out::File(RotatingFile::open(path, max_bytes, max_files.max(1))?),
            line: Vec::new(),
            records: 0,
            failed: 0,
            failing_since: None,
            last_error: None,
        })
    }

    /// A Kafka topic (or Azure event hub), with its spool.
    pub fn kafka(s: &KafkaSinkConfig, format: AlertFormat, sensor: &str) -> anyhow::Result<Sink> {
        let k = KafkaSink::new(s, format, sensor)?;
        Ok(Sink {
            name: k.name().to_string(),
            format,
            out: Out::Kafka(Box::new(k)),
            line: Vec::new(),
            records: 0,
            failed: 0,
            failing_since: None,
            last_error: None,
        })
    }

    /// Writes one alert record (a line; for Kafka a message keyed by the alert id).
    pub fn write(&mut self, a: &Alert) -> std::io::Result<()> {
        let r = self.write_record(a);
        self.records += 1;
        match &r {
            Ok(()) => self.failing_since = None,
            Err(e) => {
                self.failed += 1;
                self.failing_since
                    .get_or_insert_with(std::time::Instant::now);
                self.last_error = Some(e.to_string());
            }
        }
        r
    }

    /// Delivery state, for health and metrics.
    pub fn status(&mut self) -> SinkStatus {
        let kind = match &mut self.out {
            Out::Kafka(k) => return k.status(),
            Out::Writer(_) => "stdout",
            Out::File(_) => "file",
        };
        SinkStatus {
            name: self.name.clone(),
            kind,
            records: self.records,
            failed: self.failed,
            degraded_secs: self.failing_since.map(|t| t.elapsed().as_secs()),
            spool_bytes: 0,
            last_error: self
                .last_error
                .clone()
                .filter(|_| self.failing_since.is_some()),
        }
    }

    /// Kafka delivery counters so far (Kafka sinks).
    pub fn kafka_report(&self) -> Option<KafkaReport> {
        match &self.out {
            Out::Kafka(k) => Some(k.report()),
            _ => None,
        }
    }

    fn write_record(&mut self, a: &Alert) -> std::io::Result<()> {
        self.line.clear();
        format::render(a, self.format, &mut self.line).map_err(std::io::Error::from)?;
        match &mut self.out {
            Out::Kafka(k) => {
                k.send_alert(&a.id, &String::from_utf8_lossy(&self.line));
                Ok(())
            }
            Out::Writer(w) => {
                self.line.push(b'\n');
                w.write_all(&self.line)
            }
            Out::File(f) => {
                self.line.push(b'\n');
                f.write_line(&self.line)
            }
        }
    }

    /// Whether this sink publishes flow records.
    pub fn wants_flows(&self) -> bool {
        matches!(&self.out, Out::Kafka(k) if k.flows_topic().is_some())
    }

    /// Publishes one flow record (Kafka sinks with a flows topic).
    pub fn publish_flow(&mut self, key: &str, json: &str) {
        if let Out::Kafka(k) = &mut self.out {
            k.send_flow(key, json);
        }
    }

    /// Whether this sink publishes asset records.
    pub fn wants_assets(&self) -> bool {
        matches!(&self.out, Out::Kafka(k) if k.assets_topic().is_some())
    }

    /// Publishes one asset record (Kafka sinks with an assets topic).
    pub fn publish_asset(&mut self, key: &str, json: &str) {
        if let Out::Kafka(k) = &mut self.out {
            k.send_asset(key, json);
        }
    }

    /// Periodic work: files and stdout are flushed (a live capture's alerts must not wait
    /// in a buffer); Kafka handles delivery reports and spool replay.
    pub fn tick(&mut self) {
        let flushed = match &mut self.out {
            Out::Kafka(k) => {
                k.tick();
                return;
            }
            Out::Writer(w) => w.flush(),
            Out::File(f) => f.file.flush(),
        };
        match flushed {
            // A flush that works means the sink delivers (again).
            Ok(()) => self.failing_since = None,
            Err(e) => {
                self.failing_since
                    .get_or_insert_with(std::time::Instant::now);
                self.last_error = Some(e.to_string());
            }
        }
    }

    /// Flushes buffered records; a Kafka sink delivers what it can and spools the rest, and
    /// reports its counters.
    pub fn finish(&mut self) -> std::io::Result<Option<KafkaReport>> {
        match &mut self.out {
            Out::Writer(w) => w.flush().map(|()| None),
            Out::File(f) => f.file.flush().map(|()| None),
            Out::Kafka(k) => Ok(Some(k.finish())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_keeping_max_files() {
        let dir = std::env::temp_dir().join(format!("otsensor-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("alerts.log");
        let mut f = RotatingFile::open(&p, 10, 2).unwrap();
        for i in 0..7 {
            f.write_line(format!("line {i}\n").as_bytes()).unwrap();
        }
        f.file.flush().unwrap();
        // 7-byte lines, 10-byte limit: one line per file; the current file plus 2 rotated.
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "line 6\n");
        assert_eq!(std::fs::read_to_string(f.numbered(1)).unwrap(), "line 5\n");
        assert_eq!(std::fs::read_to_string(f.numbered(2)).unwrap(), "line 4\n");
        assert!(!f.numbered(3).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
