//! Learning: every message adds to the baseline its edge, operation, function, unit, address
//! ranges and timing; both ends' asset sightings are batched per flow.

use std::borrow::Cow;

use crate::baseline::{EdgeKey, Lesson, Seen};
use crate::zones::ZoneMap;

use super::findings::Ctx;
use super::timing::Timing;
use super::{FlowView, Shared};

/// A flow's asset sightings not yet added to its two assets.
#[derive(Debug, Default)]
pub(super) struct PendingAssets {
    seen: Option<Seen>,
}

impl PendingAssets {
    /// Adds what is pending to both ends of flow `f` (in their zones now: a reload may have
    /// moved them).
    pub fn flush(&mut self, sh: &Shared, zones: &ZoneMap, f: &FlowView<'_>) {
        let Some(s) = self.seen.take() else {
            return;
        };
        sh.learner
            .learn_asset_seen(f.client.ip, zones.name(f.client_zone), &s);
        sh.learner
            .learn_asset_seen(f.server.ip, zones.name(f.server_zone), &s);
        // The MAC addresses their frames came from, for `anomaly.ip_conflict`.
        for p in [f.client, f.server] {
            if let Some(m) = p.mac {
                sh.learner.learn_asset_mac(&p.ip, m);
            }
        }
    }
}

/// Learns one message on `edge`; `timing` is its request's, when it is a request with a
/// function code.
pub(super) fn learn(
    cx: &Ctx<'_>,
    sh: &Shared,
    edge: &EdgeKey,
    pending: &mut PendingAssets,
    timing: Option<Timing>,
) {
    let (m, zones) = (cx.m, &cx.pol.zones);
    // Both ends' sightings are batched per flow, flushed once a second of capture time.
    match &mut pending.seen {
        Some(s) => s.add(m.ts),
        None => pending.seen = Some(Seen::at(m.ts)),
    }
    if pending
        .seen
        .is_some_and(|s| m.ts.nanos_since(s.first_seen) >= 1_000_000_000)
    {
        pending.flush(sh, zones, cx.f);
    }
    let code = m.function_code;
    sh.learner.learn(&Lesson {
        packet: m.packet,
        key: Cow::Borrowed(edge),
        src_zone: zones.name(cx.f.client_zone),
        dst_zone: zones.name(cx.f.server_zone),
        ts: m.ts,
        operation: m.operation,
        function: code.map(|c| (c, m.function.as_deref().unwrap_or(""))),
        unit: m.unit,
        ranges: Cow::Borrowed(&m.addresses),
        timing: timing.map(|t| {
            let peak = t.minute_done.map(|n| n.max(t.in_minute));
            (t.interval_ms, peak.or(Some(t.in_minute)))
        }),
    });
}
