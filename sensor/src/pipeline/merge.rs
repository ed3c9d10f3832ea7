//! The output thread: merges the workers' event batches round by round, in input order.
//!
//! Each worker sends exactly one [`OutBatch`] per round it received (and one final batch with
//! round `u64::MAX`). For the lowest round any worker still has pending, the thread takes
//! that round's batch from every worker that has it, sorts the lines by [`EventKey`] and
//! writes them. A worker whose batch for a round was dropped (queue full) simply has its
//! next round waiting, which sorts later.
//!
//! [`EventKey`]: crate::events::EventKey

use std::io::Write;

use crossbeam_channel::{Receiver, Sender};

use otsensor_baselines::alert::Signal;

use crate::events::{EventKey, EventMark, EvidenceCapture, OutBatch};
use crate::output::alerts::AlertOutput;
use crate::output::OutputReport;
use crate::pipeline::{Publish, PUBLISH_EVERY};

/// Hands every signal of the lanes to `f` in key order, moving each once: a stable merge
/// (each lane stably sorted first, in case it is not yet; ties go to the earlier lane), so the
/// order is that of a stable sort of the lanes one after the other, whatever their number.
fn merge_by_key<T>(lanes: &mut [&mut Vec<(EventKey, T)>], mut f: impl FnMut(usize, T)) {
    for lane in lanes.iter_mut() {
        if !lane.is_sorted_by_key(|(k, _)| *k) {
            lane.sort_by_key(|(k, _)| *k);
        }
    }
    let mut its: Vec<_> = lanes.iter_mut().map(|l| l.drain(..).peekable()).collect();
    loop {
        let mut best: Option<(usize, EventKey)> = None;
        for (i, it) in its.iter_mut().enumerate() {
            if let Some((k, _)) = it.peek() {
                if best.is_none_or(|(_, b)| *k < b) {
                    best = Some((i, *k));
                }
            }
        }
        let Some((i, _)) = best else { break };
        if let Some((_, v)) = its.get_mut(i).and_then(Iterator::next) {
            f(i, v);
        }
    }
}

/// Where the lines the workers serialize go.
#[derive(Default)]
pub struct Writers {
    /// Events (`--events`).
    pub events: Option<Box<dyn Write + Send>>,
    /// Flow records (`--flows`).
    pub flows: Option<Box<dyn Write + Send>>,
}

/// Writes the lines `order` marks in the batches of `slots`, counting into `written` and,
/// after the first error (kept in `error`), `lost`.
fn write_lines(
    order: &[(EventMark, usize)],
    slots: &[Option<OutBatch>],
    buf: impl Fn(&OutBatch) -> &[u8],
    writer: &mut Option<Box<dyn Write + Send>>,
    error: &mut Option<String>,
    written: &mut u64,
    lost: &mut u64,
) {
    for (m, i) in order {
        let Some(b) = slots.get(*i).and_then(Option::as_ref) else {
            continue;
        };
        let line = buf(b)
            .get(m.start as usize..m.end as usize)
            .unwrap_or_default();
        match writer.as_mut() {
            Some(w) if error.is_none() => match w.write_all(line) {
                Ok(()) => *written += 1,
                Err(e) => {
                    *error = Some(e.to_string());
                    *lost += 1;
                }
            },
            Some(_) => *lost += 1,
            None => {}
        }
    }
}

/// Runs until every worker has closed its channel.
pub fn merge_rounds(
    rxs: Vec<Receiver<OutBatch>>,
    recycle: Vec<Sender<OutBatch>>,
    writers: Writers,
    alerts: &mut AlertOutput,
    telemetry: &dyn Publish,
) -> OutputReport {
    let Writers {
        events: mut writer,
        flows: mut flow_writer,
    } = writers;
    let mut flow_order: Vec<(EventMark, usize)> = Vec::new();
    let mut published = std::time::Instant::now();
    let n = rxs.len();
    let mut slots: Vec<Option<OutBatch>> = (0..n).map(|_| None).collect();
    let mut open = vec![true; n];
    let mut report = OutputReport::default();
    let mut order: Vec<(EventMark, usize)> = Vec::new();
    loop {
        for i in 0..n {
            if slots[i].is_none() && open[i] {
                match rxs[i].recv() {
                    Ok(b) => slots[i] = Some(b),
                    Err(_) => open[i] = false,
                }
            }
        }
        let Some(round) = slots.iter().flatten().map(|b| b.round).min() else {
            break;
        };
        order.clear();
        flow_order.clear();
        let mut lanes: Vec<&mut Vec<(EventKey, Signal)>> = Vec::with_capacity(n);
        let mut captures: Vec<&mut Vec<(EventKey, EvidenceCapture)>> = Vec::new();
        // The worker of each lane.
        let mut workers: Vec<usize> = Vec::with_capacity(n);
        for (i, slot) in slots.iter_mut().enumerate() {
            if let Some(b) = slot.as_mut().filter(|b| b.round == round) {
                order.extend(b.marks.iter().map(|m| (*m, i)));
                flow_order.extend(b.flow_marks.iter().map(|m| (*m, i)));
                lanes.push(&mut b.alerts);
                captures.push(&mut b.evidence);
                workers.push(i);
            }
        }
        merge_by_key(&mut lanes, |lane, s| {
            alerts.signal_from(workers.get(lane).copied().unwrap_or(0), s)
        });
        // After the round's signals: the alerts the captures belong to are raised by now.
        merge_by_key(&mut captures, |_, c| alerts.evidence(c));
        if round != u64::MAX {
            let now = slots
                .iter()
                .flatten()
                .filter(|b| b.round == round)
                .map(|b| b.now)
                .max();
            if let Some(now) = now {
                alerts.clock(now);
            }
        }
        alerts.tick();
        order.sort_unstable_by_key(|(m, _)| m.key);
        write_lines(
            &order,
            &slots,
            |b| &b.buf,
            &mut writer,
            &mut report.error,
            &mut report.events_written,
            &mut report.events_lost,
        );
        flow_order.sort_unstable_by_key(|(m, _)| m.key);
        report.flow_records += flow_order.len() as u64;
        if alerts.wants_flows() {
            for (m, i) in &flow_order {
                if let Some(line) = slots
                    .get(*i)
                    .and_then(Option::as_ref)
                    .and_then(|b| b.flow_buf.get(m.start as usize..m.end as usize))
                {
                    alerts.publish_flow(line);
                }
            }
        }
        write_lines(
            &flow_order,
            &slots,
            |b| &b.flow_buf,
            &mut flow_writer,
            &mut report.flows_error,
            &mut report.flows_written,
            &mut report.flows_lost,
        );
        let idle = order.is_empty() && flow_order.is_empty();
        for i in 0..n {
            if slots[i].as_ref().is_some_and(|b| b.round == round) {
                if let Some(mut b) = slots[i].take() {
                    b.clear();
                    let _ = recycle[i].try_send(b);
                }
            }
        }
        if idle || published.elapsed() >= PUBLISH_EVERY {
            telemetry.output(alerts.snapshot(&report));
            published = std::time::Instant::now();
        }
    }
    if let Some(w) = writer.as_mut() {
        if let Err(e) = w.flush() {
            report.error.get_or_insert(e.to_string());
        }
    }
    if let Some(w) = flow_writer.as_mut() {
        if let Err(e) = w.flush() {
            report.flows_error.get_or_insert(e.to_string());
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventBuffer;
    use proptest::prelude::*;
    use std::sync::{Arc, Mutex};

    proptest! {
        /// The merge gives the order of a stable sort of the lanes one after the other,
        /// sorted or not, ties and all.
        #[test]
        fn merge_equals_stable_sort(lanes in prop::collection::vec(
            prop::collection::vec((0u64..6, 0u64..3), 0..20), 0..4)) {
            let mut keyed: Vec<Vec<(EventKey, (usize, usize))>> = lanes
                .iter()
                .enumerate()
                .map(|(l, v)| {
                    v.iter()
                        .enumerate()
                        .map(|(i, &(p, f))| {
                            (EventKey { pkt_index: p, flow_id: f, seq: 0 }, (l, i))
                        })
                        .collect()
                })
                .collect();
            let mut want: Vec<_> = keyed.concat();
            want.sort_by_key(|(k, _)| *k);
            let want: Vec<_> = want.into_iter().map(|(_, v)| v).collect();
            let mut got = Vec::new();
            let mut refs: Vec<&mut Vec<_>> = keyed.iter_mut().collect();
            merge_by_key(&mut refs, |_, v| got.push(v));
            prop_assert_eq!(got, want);
            prop_assert!(keyed.iter().all(Vec::is_empty));
        }
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn batch(round: u64, events: &[(u64, u64)]) -> OutBatch {
        let mut s = EventBuffer::new(true);
        for (pkt, flow) in events {
            s.emit(*pkt, *flow, &serde_json::json!({ "p": pkt }));
        }
        s.take(round, Default::default(), OutBatch::default())
    }

    #[test]
    fn merges_rounds_in_packet_order_and_skips_missing_rounds() {
        let (tx0, rx0) = crossbeam_channel::unbounded();
        let (tx1, rx1) = crossbeam_channel::unbounded();
        let (r0, _k0) = crossbeam_channel::unbounded();
        let (r1, _k1) = crossbeam_channel::unbounded();
        tx0.send(batch(0, &[(1, 1), (4, 1)])).unwrap();
        tx1.send(batch(0, &[(2, 2), (3, 2)])).unwrap();
        // worker 1's round 1 was dropped
        tx0.send(batch(1, &[(6, 1)])).unwrap();
        tx1.send(batch(2, &[(9, 2)])).unwrap();
        tx0.send(batch(2, &[(8, 1)])).unwrap();
        tx1.send(batch(u64::MAX, &[(u64::MAX, 2)])).unwrap();
        drop((tx0, tx1));
        let out = Shared::default();
        let mut alerts = AlertOutput::new(crate::output::alerts::AlertSettings::new(
            otsensor_baselines::alert::AlertStore::new(Default::default(), 60),
            otsensor_baselines::anomaly::AnomalyEngine::new(Default::default()),
            Arc::new(otsensor_baselines::detector::Shared::default()),
            Vec::new(),
        ));
        let rep = merge_rounds(
            vec![rx0, rx1],
            vec![r0, r1],
            Writers {
                events: Some(Box::new(out.clone())),
                flows: None,
            },
            &mut alerts,
            &crate::service::telemetry::Telemetry::new("replay", 2, Vec::new()),
        );
        assert_eq!(rep.events_written, 8);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let ps: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["p"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ps, vec![1, 2, 3, 4, 6, 8, 9, u64::MAX]);
    }
}
