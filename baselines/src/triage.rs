//! Decisions on alerts, taken where the analyst triages (the SIEM) and applied to the
//! baseline: **learn** adds exactly what the alert said was missing, as approved entries (the
//! asset, the edge, the operation, function or unit, the address range, the timing bounds),
//! or, for operational, protocol and anomaly rules, the alert itself as known; **mute**
//! suppresses that alert (that rule on that edge or host) from detection. Each decision is
//! kept in the baseline with who, when, why and the alert id.

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::Value;

use otsensor_protocols::Operation;

use crate::alert::alert_hash;
use crate::baseline::{Baseline, Caps, EdgeKey, Learner, Lesson, State};
use crate::message::AddressRange;
use crate::time::Timestamp;

pub use crate::decision::{Action, Decision, Ledger};

/// The parts of an alert record a decision needs.
#[derive(Debug, Clone)]
pub struct AlertRef {
    /// Alert id (16 hex digits).
    pub id: String,
    /// Rule id, key and the rest, when a whole record was given (not just an id).
    pub record: Option<Record>,
}

/// What the alert record says.
#[derive(Debug, Clone)]
pub struct Record {
    rule: String,
    key: String,
    ts: Timestamp,
    src: Option<(IpAddr, String)>,
    dst: Option<(IpAddr, String)>,
    protocol: Option<String>,
    operation: Option<Operation>,
    function: Option<String>,
    observed: Value,
}

impl AlertRef {
    /// From an alert id (16 hex digits) or a JSON alert record.
    pub fn parse(text: &str) -> Result<AlertRef, String> {
        let t = text.trim();
        if t.len() == 16 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(AlertRef {
                id: t.to_ascii_lowercase(),
                record: None,
            });
        }
        let v: Value = serde_json::from_str(t)
            .map_err(|e| format!("not an alert id nor a JSON alert record: {e}"))?;
        AlertRef::from_record(&v)
    }

    /// From a JSON alert record (`--alert-format json`).
    pub fn from_record(v: &Value) -> Result<AlertRef, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let id = s("id").ok_or("the alert record has no id")?;
        let rule = s("rule").ok_or("the alert record has no rule")?;
        let key = s("key").ok_or("the alert record has no key (from an older sensor?)")?;
        if format!("{:016x}", alert_hash(&rule, &[&key])) != id {
            return Err(format!("alert {id}: its rule and key do not give its id"));
        }
        let end = |k: &str| {
            let e = v.get(k)?;
            let ip = e.get("ip")?.as_str()?.parse().ok()?;
            let zone = e.get("zone").and_then(Value::as_str).unwrap_or("unzoned");
            Some((ip, zone.to_string()))
        };
        let ts = v
            .get("last_seen")
            .cloned()
            .and_then(|t| serde_json::from_value(t).ok())
            .unwrap_or_else(Timestamp::now);
        Ok(AlertRef {
            id,
            record: Some(Record {
                rule,
                key,
                ts,
                src: end("src"),
                dst: end("dst"),
                protocol: s("protocol"),
                operation: s("operation").and_then(|o| o.parse().ok()),
                function: s("function"),
                observed: v
                    .get("evidence")
                    .and_then(|e| e.get("observed"))
                    .cloned()
                    .unwrap_or(Value::Null),
            }),
        })
    }
}

/// Applies `action` on `alert` to `b`, recording the decision; returns what changed, in a
/// sentence. (`otsensor baseline learn|mute`.)
pub fn apply(
    b: Baseline,
    alert: &AlertRef,
    action: Action,
    by: &str,
    reason: &str,
    now: Timestamp,
) -> Result<(Baseline, String), String> {
    let l = Learner::from_baseline(b, Caps::default());
    let what = apply_to(&l, alert, action, by, reason, now)?;
    Ok((l.to_baseline(), what))
}

/// Applies `action` on `alert` to the baseline in `l` (the running sensor's, which detection
/// reads at once), recording the decision; returns what changed, in a sentence.
pub fn apply_to(
    l: &Learner,
    alert: &AlertRef,
    action: Action,
    by: &str,
    reason: &str,
    now: Timestamp,
) -> Result<String, String> {
    let what = match (action, &alert.record) {
        (Action::Mute, _) => format!("alert {} muted", alert.id),
        (Action::Unmute, _) => format!("alert {} unmuted", alert.id),
        (Action::Learn, None) => {
            return Err("learning needs the alert's record (JSON), not only its id".into())
        }
        (Action::Learn, Some(r)) => learn(l, r)?,
    };
    let rec = alert.record.as_ref();
    l.decisions().record(Decision {
        alert_id: alert.id.clone(),
        action,
        rule: rec.map(|r| r.rule.clone()).unwrap_or_default(),
        key: rec.map(|r| r.key.clone()).unwrap_or_default(),
        by: by.to_string(),
        at: now,
        reason: reason.to_string(),
    });
    Ok(what)
}

fn learn(l: &Learner, r: &Record) -> Result<String, String> {
    let rule = crate::rules::by_id(&r.rule).ok_or_else(|| format!("unknown rule {:?}", r.rule))?;
    if rule.engine.learnable() {
        // Operational, protocol and anomaly alerts: known for their edge or host.
        l.learn_alert(&r.rule, &r.key, r.ts);
        l.approve_alert(&r.rule, &r.key);
        return Ok(format!("{} on {} is now known", r.rule, r.key));
    }
    if !r.rule.starts_with("baseline.") {
        return Err(format!(
            "{} comes from the zone configuration, not the baseline: change the conduits, or mute it",
            r.rule
        ));
    }
    learn_deviation(l, r)
}

/// A baseline rule: add what was missing.
fn learn_deviation(l: &Learner, r: &Record) -> Result<String, String> {
    let ((src, src_zone), (dst, dst_zone)) = match (&r.src, &r.dst) {
        (Some(s), Some(d)) => (s.clone(), d.clone()),
        _ => return Err(format!("alert {}: no source or destination", r.key)),
    };
    let protocol = r.protocol.clone().unwrap_or_default();
    let edge = EdgeKey {
        src,
        dst,
        protocol: protocol.clone().into(),
    };
    let obs = &r.observed;
    let code_from_key = || {
        r.key
            .rsplit_once('#')
            .and_then(|(_, c)| c.parse::<u16>().ok())
    };
    let mut lesson = Lesson {
        key: Cow::Borrowed(&edge),
        src_zone: &src_zone,
        dst_zone: &dst_zone,
        ts: r.ts,
        packet: 0,
        operation: r.operation.unwrap_or(Operation::Other),
        function: None,
        unit: None,
        ranges: Cow::Owned(Vec::new()),
        timing: None,
    };
    let name = r.function.clone().unwrap_or_default();
    let what = match r.rule.as_str() {
        "baseline.new_asset" => {
            let ip: IpAddr = obs
                .get("ip")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .ok_or("new_asset without its address")?;
            let zone = if ip == src { &src_zone } else { &dst_zone };
            l.learn_asset(ip, zone, r.ts);
            l.approve_asset(ip);
            return Ok(format!("asset {ip} learned"));
        }
        "baseline.new_conversation" => return learn_conversation(l, r, src, dst),
        "baseline.new_edge" | "baseline.new_operation" => {
            format!("{} on {}", lesson.operation, edge.label())
        }
        "baseline.new_function" => {
            let c = obs
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .ok_or("new_function without its code")?;
            lesson.function = Some((c, &name));
            format!("function {c} on {}", edge.label())
        }
        "baseline.new_unit" => {
            let u = obs
                .as_u64()
                .and_then(|u| u32::try_from(u).ok())
                .ok_or("new_unit without its unit")?;
            lesson.unit = Some(u);
            format!("unit {u} on {}", edge.label())
        }
        "baseline.address_out_of_range" => {
            let n = |k: &str| {
                obs.get(k)
                    .and_then(Value::as_u64)
                    .and_then(|x| u32::try_from(x).ok())
            };
            let (Some(area), Some(start), Some(end)) = (
                obs.get("area").and_then(Value::as_str),
                n("start"),
                n("end"),
            ) else {
                return Err("address_out_of_range without its range".into());
            };
            lesson.ranges = Cow::Owned(vec![AddressRange {
                area: Cow::Owned(area.to_string()),
                start,
                count: end.saturating_sub(start).saturating_add(1),
            }]);
            format!("{area} {start}..={end} on {}", edge.label())
        }
        "baseline.timing_deviation" | "baseline.rate_spike" | "baseline.poll_stopped" => {
            let code = code_from_key().ok_or("no function code in the alert's key")?;
            return learn_timing(l, r, &edge, code);
        }
        other => return Err(format!("{other} cannot be learned; mute it")),
    };
    l.learn(&lesson);
    l.approve_edge(&edge);
    Ok(format!("{what} learned"))
}

/// `baseline.new_conversation`: the conversation approved.
fn learn_conversation(l: &Learner, r: &Record, src: IpAddr, dst: IpAddr) -> Result<String, String> {
    let obs = &r.observed;
    let port = obs
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or("new_conversation without its port")?;
    let text = |k: &str| obs.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(transport), Some(label)) = (text("transport"), text("label")) else {
        return Err("new_conversation without its transport and label".into());
    };
    let c = crate::conversations::Conversation {
        client: src,
        server: dst,
        port,
        transport: transport.into(),
        label: label.into(),
    }
    .normalized();
    l.approve_conversation(&c, r.ts);
    Ok(format!(
        "conversation {src}>{dst}:{}/{}/{} learned",
        c.transport, c.port, c.label
    ))
}

/// `baseline.timing_deviation`, `rate_spike`, `poll_stopped`: function `code`'s timing
/// widened, its peak raised, or its poll no longer expected.
fn learn_timing(l: &Learner, r: &Record, edge: &EdgeKey, code: u16) -> Result<String, String> {
    let obs = &r.observed;
    let n = |k: &str| obs.get(k).and_then(Value::as_u64);
    let rule = r.rule.as_str();
    let label = edge.label();
    l.with_function_mut(edge, code, |f| {
        f.state = State::Approved;
        match (rule, f.timing.as_mut()) {
            ("baseline.timing_deviation", Some(t)) => {
                let ms = n("interval_ms").ok_or("timing_deviation without its interval")?;
                t.min_ms = t.min_ms.min(ms);
                t.max_ms = t.max_ms.max(ms);
                Ok(format!(
                    "intervals of function {code} on {label} now {}..={} ms",
                    t.min_ms, t.max_ms
                ))
            }
            ("baseline.rate_spike", _) => {
                let per = n("per_minute").ok_or("rate_spike without its rate")?;
                f.peak_per_minute = f.peak_per_minute.max(per);
                Ok(format!(
                    "peak of function {code} on {label} now {per} a minute"
                ))
            }
            _ => {
                // A poll that stopped: its period is no longer expected.
                f.timing = None;
                Ok(format!("function {code} on {label} no longer polled"))
            }
        }
    })
    .unwrap_or_else(|| Err(format!("function {code} of {label} is not in the baseline")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(rule: &str, key: &str, observed: Value) -> Value {
        json!({
            "id": format!("{:016x}", alert_hash(rule, &[key])),
            "rule": rule,
            "key": key,
            "last_seen": 1_700_000_000_000_000_000i64,
            "src": { "ip": "10.0.0.1", "zone": "hmi" },
            "dst": { "ip": "10.0.0.2", "zone": "plc" },
            "protocol": "modbus",
            "operation": "write",
            "function": "write_single_register",
            "evidence": { "observed": observed },
        })
    }

    fn learn(b: Baseline, v: Value) -> Result<Baseline, String> {
        let a = AlertRef::from_record(&v)?;
        apply(b, &a, Action::Learn, "t", "", Timestamp::from_nanos(0)).map(|(b, _)| b)
    }

    #[test]
    fn learning_adds_what_was_missing_as_approved_and_records_the_decision() {
        let key = "10.0.0.1>10.0.0.2/modbus";
        let b = learn(
            Baseline::default(),
            record("baseline.new_edge", key, json!({})),
        )
        .unwrap();
        assert_eq!(b.edges.len(), 1);
        assert_eq!(b.edges[0].state, State::Approved);
        assert!(b.edges[0].operations.contains_key(&Operation::Write));
        assert_eq!(b.edges[0].src_zone, "hmi");
        let b = learn(
            b,
            record("baseline.new_function", &format!("{key}#6"), json!(6)),
        )
        .unwrap();
        assert!(b.edges[0].functions.contains_key(&6));
        let range = json!({ "area": "holding_registers", "start": 100, "end": 109 });
        let b = learn(
            b,
            record(
                "baseline.address_out_of_range",
                &format!("{key}#holding_registers"),
                range,
            ),
        )
        .unwrap();
        assert!(b.edges[0].ranges["holding_registers"].contains(100, 109));
        assert_eq!(b.decisions.len(), 3);
        assert_eq!(b.decisions[2].rule, "baseline.address_out_of_range");
    }

    #[test]
    fn policy_alerts_and_bare_ids_cannot_be_learned_but_can_be_muted() {
        let v = record("policy.no_conduit", "10.0.0.1>10.0.0.2/modbus", json!({}));
        assert!(learn(Baseline::default(), v.clone())
            .unwrap_err()
            .contains("conduits"));
        let id = AlertRef::parse(v["id"].as_str().unwrap()).unwrap();
        assert!(apply(
            Baseline::default(),
            &id,
            Action::Learn,
            "t",
            "",
            Timestamp::from_nanos(0)
        )
        .is_err());
        let (b, _) = apply(
            Baseline::default(),
            &id,
            Action::Mute,
            "t",
            "noise",
            Timestamp::from_nanos(0),
        )
        .unwrap();
        let expected = u64::from_str_radix(v["id"].as_str().unwrap(), 16).unwrap();
        assert!(Ledger::new(b.decisions.clone()).is_muted(expected));
        let l = Learner::from_baseline(b, Caps::default());
        assert!(l.decisions().is_muted(expected));
        // Live (the running sensor's learner): an unmute undoes it, and both are recorded.
        apply_to(&l, &id, Action::Unmute, "t", "", Timestamp::from_nanos(1)).unwrap();
        assert!(!l.decisions().is_muted(expected));
        let b = l.to_baseline();
        assert_eq!(b.decisions.len(), 2);
        assert!(!Ledger::new(b.decisions.clone()).is_muted(expected));
    }

    #[test]
    fn learning_live_is_seen_by_detection_at_once() {
        let l = Learner::from_baseline(Baseline::default(), Caps::default());
        let key = "10.0.0.1>10.0.0.2/modbus";
        let a = AlertRef::from_record(&record("baseline.new_edge", key, json!({}))).unwrap();
        apply_to(
            &l,
            &a,
            Action::Learn,
            "soc",
            "expected",
            Timestamp::from_nanos(0),
        )
        .unwrap();
        let edge = EdgeKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            protocol: "modbus".into(),
        };
        assert_eq!(l.with_edge(&edge, |e| e.state), Some(State::Approved));
        let op = json!("operational.plc_stop");
        let a =
            AlertRef::from_record(&record(op.as_str().unwrap(), "10.0.0.2", json!({}))).unwrap();
        apply_to(&l, &a, Action::Learn, "soc", "", Timestamp::from_nanos(0)).unwrap();
        assert!(l.knows_alert("operational.plc_stop", "10.0.0.2"));
    }
}
