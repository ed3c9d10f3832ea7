//! Zone policy: a message between zones needs a conduit that allows its protocol and
//! operation (IEC 62443), in every mode.

use serde_json::json;

use crate::alert::Comparison;
use crate::rules;
use crate::zones::Violation;

use super::findings::{Ctx, Findings};

/// Raises the policy rule the message breaks, if any.
pub(super) fn check(cx: &Ctx<'_>, fx: &mut Findings<'_>) {
    let (m, f, zones) = (cx.m, cx.f, &cx.pol.zones);
    let Some(v) = zones.check(f.client_zone, f.server_zone, m.protocol, m.operation) else {
        return;
    };
    let rule = match v {
        Violation::NoConduit => &rules::NO_CONDUIT,
        Violation::ProtocolNotAllowed => &rules::PROTOCOL_NOT_ALLOWED,
        Violation::OperationNotAllowed => &rules::OPERATION_NOT_ALLOWED,
    };
    fx.raise(cx, rule, &[cx.label], || {
        let (cz, sz) = (zones.name(f.client_zone), zones.name(f.server_zone));
        (
            format!("{} {} from zone {cz} to zone {sz}", m.protocol, m.operation),
            Comparison {
                observed: json!({ "from": cz, "to": sz, "protocol": m.protocol, "operation": m.operation }),
                expected: json!({ "conduit": v_text(v) }),
            },
        )
    });
}

fn v_text(v: Violation) -> &'static str {
    match v {
        Violation::NoConduit => "none between these zones",
        Violation::ProtocolNotAllowed => "does not list this protocol",
        Violation::OperationNotAllowed => "does not list this operation",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run_in, MessageBuilder};
    use super::super::Policy;
    use super::*;
    use crate::zones::{ConduitConfig, ZoneConfig, ZoneMap};
    use otsensor_protocols::Operation;

    #[test]
    fn a_read_only_conduit_lets_reads_through_and_raises_on_writes_and_other_protocols() {
        let zone = |name: &str, cidr: &str| ZoneConfig {
            name: name.into(),
            cidrs: vec![cidr.parse().unwrap()],
            macs: vec![],
            vlans: vec![],
            interfaces: vec![],
            purdue: None,
        };
        let zones = ZoneMap::new(
            vec![zone("hmi", "10.0.0.1/32"), zone("plc", "10.0.0.2/32")],
            vec![ConduitConfig {
                from: "hmi".into(),
                to: "plc".into(),
                protocols: vec!["modbus".into()],
                operations: Some(vec![Operation::Read]),
                ports: vec![],
            }],
            "unzoned",
        );
        let ip = |s: &str| s.parse().unwrap();
        let ends = (
            zones.lookup(ip("10.0.0.1"), None, None),
            zones.lookup(ip("10.0.0.2"), None, None),
        );
        let pol = Policy {
            zones,
            ..Policy::default()
        };
        let read = MessageBuilder::modbus(3).operation(Operation::Read).build();
        assert!(run_in(check, &[read], &pol, ends).full.is_empty());
        let write = MessageBuilder::modbus(6)
            .operation(Operation::Write)
            .build();
        let fired = run_in(check, &[write], &pol, ends);
        assert_eq!(fired.full[0].0, "policy.operation_not_allowed");
        assert_eq!(fired.full[0].1, "modbus write from zone hmi to zone plc");
        let s7 = MessageBuilder::s7_job(4, "read_var")
            .operation(Operation::Read)
            .build();
        assert_eq!(
            run_in(check, &[s7], &pol, ends).full[0].0,
            "policy.protocol_not_allowed"
        );
        // The other way: no conduit.
        let back = (ends.1, ends.0);
        let read = MessageBuilder::modbus(3).operation(Operation::Read).build();
        assert_eq!(
            run_in(check, &[read], &pol, back).full[0].0,
            "policy.no_conduit"
        );
    }
}
