//! Application dispatch: a flow's payloads handed to the protocol that owns it (found by
//! port or content), labels for the rest, and what dispatch counts ([`AppStats`]).

use serde::Serialize;

use otsensor_baselines::detector::{Detector, FlowLocal};
use otsensor_baselines::time::Timestamp;
use otsensor_protocols::identity::Reader;
use otsensor_protocols::Direction;

use crate::events::EventBuffer;
use crate::flow::{Gap, StreamEvent};
use crate::pipeline::flowrec::{FlowLabel, LabelBy};
use crate::registry::{AppCtx, FlowInfo, Identified, ProtoCounters, Registry, Transport, Verdict};

use super::flowstate::*;

/// Payloads a flow may show before the registry gives up identifying it.
pub const MAX_PROBES: u8 = 8;

/// What protocol dispatch counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppStats {
    /// Per protocol, indexed like the registry.
    pub protocols: Vec<ProtoCounters>,
    /// TCP flows with payload that no protocol claimed.
    pub unidentified_tcp: u64,
    /// UDP flows with payload that no protocol claimed.
    pub unidentified_udp: u64,
    /// Flows per application label (parsed protocols, IT labels, `unknown`).
    pub labels: std::collections::BTreeMap<&'static str, u64>,
}

impl AppStats {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &AppStats) {
        if self.protocols.len() < o.protocols.len() {
            self.protocols
                .resize(o.protocols.len(), ProtoCounters::default());
        }
        for (a, b) in self.protocols.iter_mut().zip(&o.protocols) {
            a.add(b);
        }
        self.unidentified_tcp += o.unidentified_tcp;
        self.unidentified_udp += o.unidentified_udp;
        for (k, v) in &o.labels {
            *self.labels.entry(k).or_default() += v;
        }
    }
}

/// What app dispatch needs besides the flow: split from [`Worker`] so that the flow (borrowed
/// from the table) and these can be borrowed at once.
pub(super) struct AppEnv<'a> {
    pub(super) registry: &'a Registry,
    pub(super) outbuf: &'a mut EventBuffer,
    pub(super) detector: &'a mut Detector,
    pub(super) stats: &'a mut AppStats,
    pub(super) ts: Timestamp,
    pub(super) pkt_index: u64,
}

impl AppEnv<'_> {
    pub(super) fn ctx<'c>(
        &'c mut self,
        flow: &'c FlowInfo,
        det: &'c mut FlowLocal,
        index: usize,
    ) -> Option<AppCtx<'c>> {
        let sigma = self.detector.sigma_on_events();
        let limits = self.registry.protocols().get(index)?.limits;
        Some(AppCtx {
            flow,
            det,
            ts: self.ts,
            pkt_index: self.pkt_index,
            events: self.outbuf,
            counters: self.stats.protocols.get_mut(index)?,
            detector: self.detector,
            sigma,
            limits,
        })
    }

    /// Identifies the flow on its first payload. Returns the handler's index when attached.
    pub(super) fn identify(
        &mut self,
        app: &mut AppState,
        info: &FlowInfo,
        probe: &mut Probing,
        dir: Direction,
        data: &[u8],
    ) -> bool {
        let midstream = probe.gap(dir);
        match self
            .registry
            .identify(info.transport, info.server.port, dir, data, midstream)
        {
            Identified::Protocol { index, on_its_port } => {
                let (Some(spec), Ok(index16)) =
                    (self.registry.protocols().get(index), u16::try_from(index))
                else {
                    return false;
                };
                let mut handler = (spec.new_handler)();
                let mut det = Box::<FlowLocal>::default();
                if let Some(c) = self.stats.protocols.get_mut(index) {
                    c.flows += 1;
                    c.flows_on_other_ports += u64::from(!on_its_port);
                }
                self.detector.identified(
                    &info.view(),
                    self.ts,
                    spec.name,
                    on_its_port,
                    self.outbuf.alert_scratch(),
                );
                self.outbuf.commit_alerts(self.pkt_index, info.id);
                let by = if on_its_port {
                    LabelBy::Port
                } else {
                    LabelBy::Content
                };
                self.label(info, probe, FlowLabel::parsed(spec.name, by));
                for d in [Direction::Request, Direction::Response] {
                    if probe.gap(d) {
                        if let Some(mut ctx) = self.ctx(info, &mut det, index) {
                            ctx.counters.gaps += 1;
                            let _ =
                                handler.on_stream(&mut ctx, d, StreamEvent::Gap(Gap::Midstream));
                        }
                    }
                }
                *app = AppState::Active {
                    index: index16,
                    handler,
                    det,
                };
                true
            }
            Identified::Undecided => {
                probe.set(GAP[dir.index()], true);
                probe.probes += 1;
                if probe.probes >= MAX_PROBES {
                    *app = AppState::Done;
                    self.count_unidentified(info.transport);
                    self.label(info, probe, FlowLabel::by_port(info, self.registry));
                }
                false
            }
            Identified::Unknown {
                port_owner,
                app: found,
            } => {
                *app = AppState::Done;
                self.count_unidentified(info.transport);
                if let Some(c) = port_owner.and_then(|o| self.stats.protocols.get_mut(o)) {
                    c.flows_not_this_protocol += 1;
                }
                if let Some(spec) = port_owner.and_then(|o| self.registry.protocols().get(o)) {
                    self.detector.not_this_protocol(
                        &info.view(),
                        self.ts,
                        spec.name,
                        self.outbuf.alert_scratch(),
                    );
                    self.outbuf.commit_alerts(self.pkt_index, info.id);
                }
                let label = match found {
                    Some(f) => FlowLabel::content(f),
                    None => FlowLabel::by_port(info, self.registry),
                };
                self.label(info, probe, label);
                false
            }
        }
    }

    /// The flow's label is decided: counted, kept, and judged (zones and conduits for the
    /// flows no parser handles; the learned conversations for all).
    pub(super) fn label(&mut self, info: &FlowInfo, probe: &mut Probing, label: FlowLabel) {
        if probe.labelled() {
            return;
        }
        probe.set(LABELLED, true);
        probe.reader = label.app.and_then(|a| Reader::for_app(a, info.server.port));
        *self.stats.labels.entry(label.name).or_default() += 1;
        self.detector.flow_labeled(
            &info.view(),
            self.ts,
            label.judged(info.transport, probe.midstream()),
            self.outbuf.alert_scratch(),
        );
        self.outbuf.commit_alerts(self.pkt_index, info.id);
        if let Some(r) = probe.record.as_deref_mut() {
            r.label = Some(label);
        }
    }

    pub(super) fn count_unidentified(&mut self, t: Transport) {
        match t {
            Transport::Tcp => self.stats.unidentified_tcp += 1,
            Transport::Udp => self.stats.unidentified_udp += 1,
            // Never offered to a parser.
            Transport::Other(_) => {}
        }
    }

    pub(super) fn finish_verdict(&mut self, app: &mut AppState, info: &FlowInfo, verdict: Verdict) {
        if let Verdict::Abandon(reason) = verdict {
            if let AppState::Active { index, .. } = app {
                if let Some(c) = self.stats.protocols.get_mut(usize::from(*index)) {
                    *c.abandoned.entry(reason).or_default() += 1;
                }
            }
            // No more messages: the detector's state of the flow is published now.
            if let AppState::Active { det, .. } = std::mem::replace(app, AppState::Done) {
                self.detector
                    .end_flow(&info.view(), *det, self.outbuf.alert_scratch());
                self.outbuf.commit_alerts(self.pkt_index, info.id);
            }
        }
    }

    pub(super) fn stream(
        &mut self,
        app: &mut AppState,
        info: &FlowInfo,
        probe: &mut Probing,
        dir: Direction,
        ev: StreamEvent<'_>,
    ) {
        if let AppState::Pending = app {
            match ev {
                StreamEvent::Gap(_) => {
                    probe.set(GAP[dir.index()], true);
                    return;
                }
                StreamEvent::Data(d) => {
                    if !self.identify(app, info, probe, dir, d) {
                        return;
                    }
                }
            }
        }
        if let AppState::Active {
            index,
            handler,
            det,
        } = app
        {
            let Some(mut ctx) = self.ctx(info, det, usize::from(*index)) else {
                return;
            };
            if matches!(ev, StreamEvent::Gap(_)) {
                ctx.counters.gaps += 1;
            }
            let before = ctx.counters.pdus;
            let verdict = handler.on_stream(&mut ctx, dir, ev);
            if let Some(r) = probe.record.as_deref_mut() {
                r.pdus += ctx.counters.pdus.saturating_sub(before);
            }
            self.finish_verdict(app, info, verdict);
        }
    }

    pub(super) fn datagram(&mut self, flow: &mut Flow, dir: Direction, data: &[u8]) {
        if let AppState::Pending = flow.app {
            if !self.identify(&mut flow.app, &flow.info, &mut flow.probe, dir, data) {
                return;
            }
        }
        if let AppState::Active {
            index,
            handler,
            det,
        } = &mut flow.app
        {
            let Some(mut ctx) = self.ctx(&flow.info, det, usize::from(*index)) else {
                return;
            };
            let before = ctx.counters.pdus;
            let verdict = handler.on_datagram(&mut ctx, dir, data);
            if let Some(r) = flow.probe.record.as_deref_mut() {
                r.pdus += ctx.counters.pdus.saturating_sub(before);
            }
            self.finish_verdict(&mut flow.app, &flow.info, verdict);
        }
    }
}
