//! The disk spool of a Kafka sink: records that could not be delivered, kept in append-only
//! segment files (one JSON object per line, readable with any tool) until the brokers take
//! them, oldest first. Bounded in bytes; it survives a restart of the sensor.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One spooled message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Message key (the alert id, or the asset's address).
    pub key: String,
    /// Header `format`.
    pub format: String,
    /// Header `kind` (`alert` or `asset`).
    pub kind: String,
    /// The message.
    pub value: String,
}

/// Segments are cut at this size (or a quarter of the spool's limit, if smaller).
const SEGMENT_BYTES: u64 = 16 << 20;

/// A directory of segment files `NNNNNNNNNN.spool`.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Segment numbers, oldest first, with their sizes.
    segments: Vec<(u64, u64)>,
    writer: Option<(u64, BufWriter<File>)>,
    /// Records dropped because the spool was full.
    pub dropped: u64,
}

impl Spool {
    /// Opens (creating) the spool directory and finds the segments a previous run left.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let mut segments = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            let Some(n) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".spool"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            segments.push((n, std::fs::metadata(&p)?.len()));
        }
        segments.sort_unstable();
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segments,
            writer: None,
            dropped: 0,
        })
    }

    fn path(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n:010}.spool"))
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.1).sum()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|s| s.1 == 0)
    }

    /// Appends a record to the newest segment. Returns false (and counts a drop) when the
    /// spool is full.
    pub fn append(&mut self, r: &Record) -> std::io::Result<bool> {
        let mut line = serde_json::to_vec(r).map_err(std::io::Error::from)?;
        line.push(b'\n');
        let len = line.len() as u64;
        if self.bytes() + len > self.max_bytes {
            self.dropped += 1;
            return Ok(false);
        }
        let cut = SEGMENT_BYTES.min((self.max_bytes / 4).max(1));
        let need_new = match (self.writer.as_ref(), self.segments.last()) {
            (Some((n, _)), Some(&(last, size))) => *n != last || size + len > cut,
            _ => true,
        };
        if need_new {
            self.flush()?;
            let n = self.segments.last().map_or(1, |s| s.0 + 1);
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(n))?;
            self.writer = Some((n, BufWriter::new(f)));
            self.segments.push((n, 0));
        }
        if let (Some((_, w)), Some(last)) = (self.writer.as_mut(), self.segments.last_mut()) {
            w.write_all(&line)?;
            last.1 += len;
        }
        Ok(true)
    }

    /// Writes buffered records to the file system (so they survive the process).
    pub fn flush(&mut self) -> std::io::Result<()> {
        if let Some((_, w)) = self.writer.as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    /// The oldest segment's number and records, or None when the spool is empty. The
    /// segment being appended to is closed first, so new records go to a new one.
    pub fn oldest(&mut self) -> std::io::Result<Option<(u64, Vec<Record>)>> {
        let Some(&(n, _)) = self.segments.first() else {
            return Ok(None);
        };
        if self.writer.as_ref().is_some_and(|(w, _)| *w == n) {
            self.flush()?;
            self.writer = None;
        }
        let mut out = Vec::new();
        for line in BufReader::new(File::open(self.path(n))?).lines() {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            // A torn last line (the process died mid-write) is skipped, not fatal.
            if let Ok(r) = serde_json::from_str(&line) {
                out.push(r);
            }
        }
        Ok(Some((n, out)))
    }

    /// Removes a segment whose records were all delivered.
    pub fn remove(&mut self, n: u64) -> std::io::Result<()> {
        if self.writer.as_ref().is_some_and(|(w, _)| *w == n) {
            self.writer = None;
        }
        self.segments.retain(|s| s.0 != n);
        match std::fs::remove_file(self.path(n)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Segments held.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> Record {
        Record {
            topic: "t".into(),
            key: format!("k{i}"),
            format: "json".into(),
            kind: "alert".into(),
            value: format!("{{\"n\":{i}}}"),
        }
    }

    #[test]
    fn oldest_first_bounded_and_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("otsensor-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = Spool::open(&dir, 1000).unwrap();
        let mut stored = 0;
        for i in 0..40 {
            if s.append(&rec(i)).unwrap() {
                stored += 1;
            }
        }
        assert!(s.bytes() <= 1000);
        assert_eq!(stored + s.dropped as usize, 40);
        assert!(s.dropped > 0);
        assert!(
            s.segments() > 1,
            "segments are cut at a quarter of the limit"
        );
        s.flush().unwrap();
        // A new process finds the same records, oldest first.
        let mut s2 = Spool::open(&dir, 1000).unwrap();
        let mut seen = Vec::new();
        while let Some((n, recs)) = s2.oldest().unwrap() {
            seen.extend(recs.into_iter().map(|r| r.key));
            s2.remove(n).unwrap();
        }
        let want: Vec<String> = (0..stored).map(|i| format!("k{i}")).collect();
        assert_eq!(seen, want);
        assert!(s2.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
