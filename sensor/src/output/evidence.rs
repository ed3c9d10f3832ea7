//! Evidence files (`[evidence]`): the packets behind an alert, written once per alert to
//! `dir/<alert id>.pcap` (classic pcap, microsecond timestamps), with their SHA-256. The
//! directory is capped: beyond `max_bytes` the oldest capture files go first (those of earlier
//! runs included), counted.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::events::EvidenceCapture;

/// What the evidence writer did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EvidenceReport {
    /// Capture files written.
    pub files_written: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Files deleted to keep the directory under `evidence.max_bytes`.
    pub files_deleted: u64,
    /// Captures not written: the alert was not raised (learned, known, switched off) or
    /// already has its file.
    pub captures_unused: u64,
    /// Files that could not be written (the error is logged once).
    pub write_failures: u64,
}

/// Writes evidence files into one directory, within its cap.
#[derive(Debug)]
pub struct EvidenceWriter {
    dir: PathBuf,
    max_bytes: u64,
    /// Capture files in the directory, oldest first, with their sizes.
    files: VecDeque<(PathBuf, u64)>,
    total: u64,
    /// Counters.
    pub report: EvidenceReport,
}

impl EvidenceWriter {
    /// A writer into `dir`, taking the capture files already there into its cap.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<EvidenceWriter> {
        let mut old: Vec<(std::time::SystemTime, PathBuf, u64)> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "pcap"))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((m.modified().ok()?, e.path(), m.len()))
            })
            .collect();
        old.sort();
        let files: VecDeque<(PathBuf, u64)> = old.into_iter().map(|(_, p, n)| (p, n)).collect();
        let total = files.iter().map(|(_, n)| n).sum();
        Ok(EvidenceWriter {
            dir: dir.to_path_buf(),
            max_bytes,
            files,
            total,
            report: EvidenceReport::default(),
        })
    }

    /// Writes `c` as `<name>.pcap`; returns the file name and its SHA-256 (hex).
    pub fn write(&mut self, name: &str, c: &EvidenceCapture) -> std::io::Result<(String, String)> {
        let bytes = pcap_bytes(c);
        let file = format!("{name}.pcap");
        let path = self.dir.join(&file);
        // Written beside, then renamed: a reader never sees half a file.
        let tmp = self.dir.join(format!(".{file}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, &path)?;
        let n = bytes.len() as u64;
        self.files.push_back((path, n));
        self.total += n;
        self.report.files_written += 1;
        self.report.bytes_written += n;
        while self.total > self.max_bytes && self.files.len() > 1 {
            let Some((old, m)) = self.files.pop_front() else {
                break;
            };
            self.total -= m;
            if std::fs::remove_file(&old).is_ok() {
                self.report.files_deleted += 1;
            }
        }
        Ok((file, hex(&Sha256::digest(&bytes))))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A classic pcap file of the capture's packets (the link type of the first).
fn pcap_bytes(c: &EvidenceCapture) -> Vec<u8> {
    let snaplen = c
        .packets
        .iter()
        .map(|p| p.data.len())
        .max()
        .unwrap_or(0)
        .max(65535) as u32;
    let dlt = c.packets.first().map_or(1, |p| p.dlt);
    let mut out =
        Vec::with_capacity(24 + c.packets.iter().map(|p| 16 + p.data.len()).sum::<usize>());
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&snaplen.to_le_bytes());
    out.extend_from_slice(&dlt.to_le_bytes());
    for p in c.packets.iter().filter(|p| p.dlt == dlt) {
        let ns = p.ts.as_nanos();
        let (secs, usecs) = (
            ns.div_euclid(1_000_000_000),
            ns.rem_euclid(1_000_000_000) / 1000,
        );
        out.extend_from_slice(&(u32::try_from(secs).unwrap_or(0)).to_le_bytes());
        out.extend_from_slice(&(usecs as u32).to_le_bytes());
        out.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&p.wire_len.max(p.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&p.data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EvidencePacket;
    use otsensor_baselines::time::Timestamp;

    fn capture(n: usize) -> EvidenceCapture {
        EvidenceCapture {
            alert_id: 1,
            rule: "r",
            packets: (0..n)
                .map(|i| EvidencePacket {
                    ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 1000),
                    wire_len: 600,
                    dlt: 1,
                    data: vec![i as u8; 600].into(),
                })
                .collect(),
        }
    }

    #[test]
    fn files_are_pcaps_with_their_hash_and_the_oldest_go_first() {
        let dir = std::env::temp_dir().join(format!("otsensor-evidence-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Room for two files of 24 + 2 × 616 bytes.
        let mut w = EvidenceWriter::open(&dir, 2600).unwrap();
        let (name, sha) = w.write("a", &capture(2)).unwrap();
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        assert_eq!(bytes.len(), 24 + 2 * (16 + 600));
        assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
        assert_eq!(sha, hex(&Sha256::digest(&bytes)));
        w.write("b", &capture(2)).unwrap();
        w.write("c", &capture(2)).unwrap();
        assert!(!dir.join("a.pcap").exists(), "the oldest file went");
        assert!(dir.join("b.pcap").exists() && dir.join("c.pcap").exists());
        assert_eq!((w.report.files_written, w.report.files_deleted), (3, 1));
        // A new writer counts what is there.
        let w2 = EvidenceWriter::open(&dir, 2600).unwrap();
        assert_eq!(w2.total, 2 * bytes.len() as u64);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
