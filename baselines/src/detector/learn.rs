//! Learning: every message adds to the baseline its edge, operation, function, unit, address
//! ranges and timing; both ends' asset sightings are batched per flow.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::baseline::{EdgeKey, Lesson, Seen};
use crate::zones::{ZoneId, ZoneMap};

use super::findings::Ctx;
use super::timing::Timing;
use super::{FlowView, Shared};

/// A flow's asset sightings not yet added to its two assets.
#[derive(Debug, Default)]
pub(super) struct PendingAssets {
    seen: Option<Seen>,
    /// The flow's ends and their zones, once a message was seen.
    ends: Option<(IpAddr, IpAddr, ZoneId, ZoneId)>,
}

impl PendingAssets {
    /// Notes the flow's ends (every message: a reload may have moved their zones).
    pub fn set_ends_of(&mut self, f: &FlowView<'_>) {
        self.ends = Some((f.client.ip, f.server.ip, f.client_zone, f.server_zone));
    }

    /// Adds what is pending to both assets.
    pub fn flush(&mut self, sh: &Shared, zones: &ZoneMap) {
        let (Some(s), Some((client, server, cz, sz))) = (self.seen.take(), self.ends) else {
            return;
        };
        sh.learner.learn_asset_seen(client, zones.name(cz), &s);
        sh.learner.learn_asset_seen(server, zones.name(sz), &s);
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
        pending.flush(sh, zones);
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
