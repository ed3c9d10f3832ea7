//! Per-PDU events (`--events`): serialized by the workers, merged in input order by the
//! output thread.

use serde::Serialize;

use otsensor_baselines::alert::Signal;

/// Orders events deterministically: by the packet that produced them, then by flow, then by
/// emission order within the worker. The same input gives the same order for any worker
/// count, because a flow's events all come from one worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventKey {
    /// Index of the packet in the input.
    pub pkt_index: u64,
    /// Flow id.
    pub flow_id: u64,
    /// Emission order within the worker.
    pub seq: u64,
}

/// Where one event line lies in an [`OutBatch`] buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMark {
    /// Sort key.
    pub key: EventKey,
    /// Start offset in the buffer.
    pub start: u32,
    /// End offset (exclusive, after the newline).
    pub end: u32,
}

/// The events one worker produced for one round, as JSON lines.
#[derive(Debug, Default)]
pub struct OutBatch {
    /// Round number (the reader's batch number); `u64::MAX` for the worker's final flush.
    pub round: u64,
    /// The input's clock at the end of the round (capture time).
    pub now: otsensor_baselines::time::Timestamp,
    /// JSON lines back to back.
    pub buf: Vec<u8>,
    /// One mark per line.
    pub marks: Vec<EventMark>,
    /// Rule observations and anomaly facts, for the output thread to handle in input order.
    pub alerts: Vec<(EventKey, Signal)>,
    /// Evidence captures of alerts first raised on a flow (`[evidence]`).
    pub evidence: Vec<(EventKey, EvidenceCapture)>,
    /// Flow records (`--flows`) as JSON lines back to back.
    pub flow_buf: Vec<u8>,
    /// One mark per flow record.
    pub flow_marks: Vec<EventMark>,
}

/// The output thread asks the worker that owns a flow for an evidence capture of it: an
/// alert the anomaly engine raised from a fact of that flow (the flow that crossed the
/// threshold).
#[derive(Debug, Clone, Copy)]
pub struct CaptureRequest {
    /// The flow (its id).
    pub flow_id: u64,
    /// The alert's hash.
    pub alert_id: u64,
    /// The rule.
    pub rule: &'static str,
}

/// One captured frame kept as evidence.
#[derive(Debug, Clone)]
pub struct EvidencePacket {
    /// Capture time.
    pub ts: otsensor_baselines::time::Timestamp,
    /// Length on the wire.
    pub wire_len: u32,
    /// The link type (libpcap DLT) of the frame.
    pub dlt: u32,
    /// The frame as captured.
    pub data: Box<[u8]>,
}

/// The packets of a flow around the first observation of an alert on it: the last
/// `packets_before` (the one that raised it included) and the next `packets_after`.
#[derive(Debug, Clone)]
pub struct EvidenceCapture {
    /// The alert's hash (its id).
    pub alert_id: u64,
    /// The rule.
    pub rule: &'static str,
    /// The packets, in order.
    pub packets: Vec<EvidencePacket>,
}

impl OutBatch {
    /// Empties the batch for reuse, keeping its allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.marks.clear();
        self.alerts.clear();
        self.evidence.clear();
        self.flow_buf.clear();
        self.flow_marks.clear();
    }
}

/// Appends one JSON line that `write` serializes to `buf`, with its mark (the next `seq`);
/// on an error the buffer is left as it was.
fn push_line(
    buf: &mut Vec<u8>,
    marks: &mut Vec<EventMark>,
    seq: &mut u64,
    pkt_index: u64,
    flow_id: u64,
    write: &mut dyn FnMut(&mut Vec<u8>) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    let start = buf.len();
    if let Err(e) = write(buf) {
        buf.truncate(start);
        return Err(e);
    }
    buf.push(b'\n');
    *seq += 1;
    marks.push(EventMark {
        key: EventKey {
            pkt_index,
            flow_id,
            seq: *seq,
        },
        start: start as u32,
        end: buf.len() as u32,
    });
    Ok(())
}

/// Handlers write events here. When `--events` is off, `emit` does nothing.
#[derive(Debug, Default)]
pub struct EventBuffer {
    enabled: bool,
    seq: u64,
    batch: OutBatch,
    /// Events emitted (counted even when serialization fails).
    pub emitted: u64,
    /// Events that failed to serialize (a bug; counted, never silent).
    pub failed: u64,
    scratch: Vec<Signal>,
    /// With evidence on: the alerts (flow id, alert hash, rule) whose full observation was
    /// committed since the worker last took them.
    full: Option<Vec<(u64, u64, &'static str)>>,
    /// Whether flow records are written (`--flows`).
    flows: bool,
    /// Full observations committed so far (a flow record counts those of its flow).
    pub observations: u64,
}

impl EventBuffer {
    /// A sink that records events only if `enabled`.
    pub fn new(enabled: bool) -> EventBuffer {
        EventBuffer {
            enabled,
            ..EventBuffer::default()
        }
    }

    /// Records flow records too (`--flows`).
    pub fn want_flows(&mut self) {
        self.flows = true;
    }

    /// Whether flow records are written.
    pub fn flows_enabled(&self) -> bool {
        self.flows
    }

    /// Appends one flow record as a JSON line, ordered like events.
    pub fn flow_record<T: Serialize + ?Sized>(&mut self, pkt_index: u64, flow_id: u64, rec: &T) {
        if !self.flows {
            return;
        }
        let b = &mut self.batch;
        if let Err(e) = push_line(
            &mut b.flow_buf,
            &mut b.flow_marks,
            &mut self.seq,
            pkt_index,
            flow_id,
            &mut |buf| serde_json::to_writer(buf, rec),
        ) {
            self.failed += 1;
            tracing::error!("A flow record could not be serialized and was lost: {e}.");
        }
    }

    /// Whether events are being recorded; handlers may skip building them when not.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Appends one event as a JSON line.
    pub fn emit<T: Serialize + ?Sized>(&mut self, pkt_index: u64, flow_id: u64, event: &T) {
        self.emit_with(pkt_index, flow_id, &mut |buf| {
            serde_json::to_writer(buf, event)
        });
    }

    /// Appends one event as a JSON line that `write` serializes into the buffer.
    pub fn emit_with(
        &mut self,
        pkt_index: u64,
        flow_id: u64,
        write: &mut dyn FnMut(&mut Vec<u8>) -> serde_json::Result<()>,
    ) {
        if !self.enabled {
            return;
        }
        self.emitted += 1;
        let b = &mut self.batch;
        if let Err(e) = push_line(
            &mut b.buf,
            &mut b.marks,
            &mut self.seq,
            pkt_index,
            flow_id,
            write,
        ) {
            self.failed += 1;
            tracing::error!("An event could not be serialized and was lost: {e}.");
        }
    }

    /// A buffer the detector fills; see [`EventBuffer::commit_alerts`].
    pub fn alert_scratch(&mut self) -> &mut Vec<Signal> {
        &mut self.scratch
    }

    /// Moves the observations in the scratch buffer into the batch, keyed like events.
    pub fn commit_alerts(&mut self, pkt_index: u64, flow_id: u64) {
        if let Some(full) = &mut self.full {
            for s in &self.scratch {
                if let Signal::Obs(o) = s {
                    let id = otsensor_baselines::alert::alert_hash(o.rule.id, &[&o.key]);
                    full.push((flow_id, id, o.rule.id));
                }
            }
        }
        for o in self.scratch.drain(..) {
            if let Signal::Obs(_) = o {
                self.observations += 1;
            }
            self.seq += 1;
            self.batch.alerts.push((
                EventKey {
                    pkt_index,
                    flow_id,
                    seq: self.seq,
                },
                o,
            ));
        }
    }

    /// Records the full observations committed from now on, for evidence captures.
    pub fn want_evidence(&mut self) {
        self.full = Some(Vec::new());
    }

    /// The full observations committed since the last call (see [`EventBuffer::want_evidence`]).
    pub fn take_full(&mut self) -> Vec<(u64, u64, &'static str)> {
        self.full.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Hands an evidence capture to the output thread, ordered with the signals.
    pub fn evidence(&mut self, pkt_index: u64, flow_id: u64, capture: EvidenceCapture) {
        self.seq += 1;
        self.batch.evidence.push((
            EventKey {
                pkt_index,
                flow_id,
                seq: self.seq,
            },
            capture,
        ));
    }

    /// Hands over what was emitted since the last call, swapping in `fresh` (a recycled
    /// batch) to collect the next round.
    pub fn take(
        &mut self,
        round: u64,
        now: otsensor_baselines::time::Timestamp,
        mut fresh: OutBatch,
    ) -> OutBatch {
        fresh.clear();
        let mut out = std::mem::replace(&mut self.batch, fresh);
        out.round = round;
        out.now = now;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_sink_records_nothing() {
        let mut s = EventBuffer::new(false);
        s.emit(1, 1, &serde_json::json!({"a": 1}));
        assert_eq!(s.emitted, 0);
        assert!(s
            .take(0, Default::default(), OutBatch::default())
            .buf
            .is_empty());
    }

    #[test]
    fn lines_and_marks_agree() {
        let mut s = EventBuffer::new(true);
        s.emit(5, 2, &serde_json::json!({"a": 1}));
        s.emit(6, 2, &serde_json::json!({"b": 2}));
        let b = s.take(3, Default::default(), OutBatch::default());
        assert_eq!(b.round, 3);
        assert_eq!(b.marks.len(), 2);
        let m = b.marks[1];
        assert_eq!(&b.buf[m.start as usize..m.end as usize], b"{\"b\":2}\n");
        assert!(b.marks[0].key < b.marks[1].key);
    }
}
