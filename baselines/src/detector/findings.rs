//! What the rule modules share: the context of one message ([`Ctx`]) and where their findings
//! go ([`Findings`]), which sends an alert's full record only the first time a flow raises it
//! and builds its details and evidence only then.

use crate::alert::{alert_hash, Comparison, FactKind, Observation, Repeat, Rule, Signal};
use crate::message::Message;
use crate::time::Timestamp;

use super::{FlowView, Policy};

/// One message and what it is judged by.
pub(super) struct Ctx<'a> {
    /// The message.
    pub m: &'a Message,
    /// Its flow.
    pub f: &'a FlowView<'a>,
    /// Zones, conduits and rule settings in force.
    pub pol: &'a Policy,
    /// The flow's edge label (`client>server/protocol`): the first part of most alert keys.
    pub label: &'a str,
}

/// Most alerts a flow remembers having sent in full.
const MAX_SENT_PER_FLOW: usize = 16;

/// Where the rule modules report, in the order they report (the order of the signals).
pub(super) struct Findings<'a> {
    /// The worker's signals.
    pub out: &'a mut Vec<Signal>,
    /// Alerts (by [`alert_hash`]) whose full observation this flow has sent (bounded): later
    /// ones go as light [`Repeat`]s.
    pub sent: &'a mut Vec<u64>,
}

impl Findings<'_> {
    /// `rule` fired on the message, under the key made of `key`'s parts. `full` gives the
    /// details and evidence; it runs only when the full record goes out (the rule is on and
    /// this flow has not sent it yet).
    pub fn raise(
        &mut self,
        cx: &Ctx<'_>,
        rule: &'static Rule,
        key: &[&str],
        full: impl FnOnce() -> (String, Comparison),
    ) {
        let (m, f, pol) = (cx.m, cx.f, cx.pol);
        self.send(pol, rule, key, m.ts, || {
            let (details, comparison) = full();
            Observation {
                rule,
                key: String::new(),
                ts: m.ts,
                src: Some(pol.endpoint(f.client, f.client_zone)),
                dst: Some(pol.endpoint(f.server, f.server_zone)),
                protocol: Some(m.protocol),
                transport: Some(f.transport),
                operation: Some(m.operation),
                function: m.function.as_ref().map(|s| s.to_string()),
                details,
                comparison,
                severity: None,
                community_id: f.community_id(),
            }
        });
    }

    /// `rule` fired at `ts` under the key made of `key`'s parts: the observation `build`
    /// makes goes out (with its key and configured severity) if the rule is on and this flow
    /// has not sent it yet; a [`Repeat`] if it has.
    pub fn send(
        &mut self,
        pol: &Policy,
        rule: &'static Rule,
        key: &[&str],
        ts: Timestamp,
        build: impl FnOnce() -> Observation,
    ) {
        if !pol.enabled(rule) || self.repeated(rule, key, ts) {
            return;
        }
        let mut o = build();
        o.key = key.concat();
        o.severity = pol.severity_override(rule);
        self.out.push(Signal::Obs(Box::new(o)));
    }

    /// A fact about the message's flow for the anomaly engine.
    pub fn fact(&mut self, cx: &Ctx<'_>, kind: FactKind) {
        self.out.push(cx.pol.fact(cx.f, cx.m.ts, kind));
    }

    /// Sends a [`Repeat`] when this flow already sent the full observation of the alert
    /// (rule, `key` parts) and says so; otherwise remembers that it is about to.
    fn repeated(&mut self, rule: &'static Rule, key: &[&str], ts: Timestamp) -> bool {
        let id = alert_hash(rule.id, key);
        if self.sent.contains(&id) {
            self.out.push(Signal::Repeat(Repeat { rule, id, ts }));
            return true;
        }
        if self.sent.len() < MAX_SENT_PER_FLOW {
            self.sent.push(id);
        }
        false
    }
}
