//! The plant's Sigma rules on the records of a flow: each match raises its rule on the
//! flow's edge, as the built-in rules do (one full record per flow, then repeats).

use std::str::FromStr;

use otsensor_protocols::Operation;

use crate::alert::{Evidence, Observation, Signal};
use crate::sigma::FLOW;
use crate::time::Timestamp;

use super::findings::Findings;
use super::{Detector, FlowLocal, FlowView};

/// A string field of a record.
fn text(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

impl Detector {
    /// Whether any Sigma rule watches `service`'s records (a protocol, or `flow`): when
    /// none does, its records need not even be built.
    pub fn sigma_wants(&self, service: &str) -> bool {
        self.policy.cfg.sigma.wants(service)
    }

    /// Tries the Sigma rules of `service` on one record (its JSON line); a match raises the
    /// rule on the flow's edge at `ts`. Records of a service no rule watches are not read.
    pub fn sigma(
        &self,
        service: &str,
        line: &[u8],
        f: &FlowView<'_>,
        fl: Option<&mut FlowLocal>,
        ts: Timestamp,
        out: &mut Vec<Signal>,
    ) {
        let pol = &*self.policy;
        let rules = pol.cfg.sigma.rules_for(service);
        if rules.is_empty() {
            return;
        }
        let views = crate::sigma::records(line);
        if views.is_empty() {
            return;
        }
        let mut own = Vec::new();
        let sent = match fl {
            Some(fl) => &mut fl.sent,
            None => &mut own,
        };
        let fx = &mut Findings { out, sent };
        for r in rules.iter().filter(|r| views.iter().any(|v| r.matches(v))) {
            let protocol = (r.service != FLOW).then_some(r.service);
            let label = match protocol {
                Some(p) => format!("{}>{}/{p}", f.client.ip, f.server.ip),
                None => format!("{}>{}:{}", f.client.ip, f.server.ip, f.server.port),
            };
            fx.send(pol, r.rule, &[&label], ts, || {
                let observed: serde_json::Value =
                    serde_json::from_slice(line).unwrap_or(serde_json::Value::Null);
                let function = text(&observed, "function");
                let what = match (&function, protocol) {
                    (Some(func), Some(p)) => format!("{p} {func}"),
                    (None, Some(p)) => p.to_string(),
                    (_, None) => format!(
                        "{} flow",
                        text(&observed, "app").unwrap_or_else(|| f.transport.to_string())
                    ),
                };
                Observation {
                    rule: r.rule,
                    key: String::new(),
                    ts,
                    src: Some(pol.endpoint(f.client, f.client_zone)),
                    dst: Some(pol.endpoint(f.server, f.server_zone)),
                    protocol,
                    transport: Some(f.transport),
                    operation: text(&observed, "operation")
                        .and_then(|o| Operation::from_str(&o).ok()),
                    function,
                    details: format!(
                        "{} ({what} from {} to {})",
                        r.rule.title, f.client.ip, f.server.ip
                    ),
                    evidence: Evidence {
                        observed,
                        expected: serde_json::Value::Null,
                    },
                    severity: None,
                    community_id: f.community_id(),
                }
            });
        }
    }
}
