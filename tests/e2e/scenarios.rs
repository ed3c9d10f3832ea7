//! The labelled scenario set (`pcaps/synthetic/scenarios`, made by `gen-scenarios`): attacks
//! and benign operator actions built into the Plant1 captures. The sensor learns on
//! `train.pcap` and detects on `test.pcap` with the set's zones; every alert is attributed to
//! the scenario whose host pairs it names (no two scenarios share a pair), or else to the
//! plant's own traffic. Per scenario: its expected alerts found, detected or not, time to
//! detect (the first expected alert's first packet after the scenario started) and false
//! alerts. `scripts/scenarios.sh` prints the table (the README has it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::*;

fn dir() -> PathBuf {
    own_pcaps().join("synthetic/scenarios")
}

/// µs since the epoch of an RFC 3339 UTC time as the sensor writes it
/// (`2012-11-12T11:03:00.264365Z`).
fn micros(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> i64 { t[r].parse().unwrap() };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    let frac = &t[20..t.len() - 1];
    let us: i64 = format!("{frac:0<6}")[..6].parse().unwrap();
    secs * 1_000_000 + us
}

/// One alert: (rule, src, dst), its first packet's time and its record.
struct Alert {
    rule: String,
    src: String,
    dst: Option<String>,
    first_seen: i64,
    record: Value,
}

/// A scenario's score.
#[derive(Debug)]
pub struct Row {
    pub name: String,
    pub kind: String,
    pub expected: usize,
    pub found: usize,
    pub time_to_detect_ms: Option<i64>,
    pub false_alerts: Vec<String>,
}

impl Row {
    fn detected(&self) -> &'static str {
        match (self.kind.as_str(), self.found) {
            ("benign", _) => "-",
            (_, 0) => "missed",
            (_, f) if f == self.expected => "detected",
            _ => "partly",
        }
    }
}

fn host(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

/// Scores `alerts` (the first record of each) against the labels: a row per scenario and
/// the alerts on the plant's own traffic.
fn score(labels: &Value, alerts: &[Alert]) -> (Vec<Row>, Vec<String>) {
    let scenarios = labels["scenarios"].as_array().unwrap();
    let involves = |s: &Value, a: &Alert| {
        s["pairs"].as_array().unwrap().iter().any(|p| {
            let (x, y) = (host(&p[0]), host(&p[1]));
            match &a.dst {
                Some(d) => (a.src == x && *d == y) || (a.src == y && *d == x),
                None => a.src == x || a.src == y,
            }
        })
    };
    let mut rows = Vec::new();
    let mut attributed = vec![false; alerts.len()];
    for s in scenarios {
        let start = micros(s["start"].as_str().unwrap());
        let expected: Vec<(String, String, Option<String>)> = s["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    host(&e["rule"]),
                    host(&e["src"]),
                    e["dst"].as_str().map(String::from),
                )
            })
            .collect();
        let mut found = vec![false; expected.len()];
        let (mut first, mut false_alerts) = (None::<i64>, Vec::new());
        for (i, a) in alerts.iter().enumerate() {
            if !involves(s, a) {
                continue;
            }
            attributed[i] = true;
            match expected
                .iter()
                .position(|(r, src, dst)| *r == a.rule && *src == a.src && *dst == a.dst)
            {
                Some(k) => {
                    found[k] = true;
                    let t = (a.first_seen - start) / 1000;
                    first = Some(first.map_or(t, |f| f.min(t)));
                }
                None => false_alerts.push(describe(a)),
            }
        }
        rows.push(Row {
            name: host(&s["name"]),
            kind: host(&s["kind"]),
            expected: expected.len(),
            found: found.iter().filter(|f| **f).count(),
            time_to_detect_ms: first,
            false_alerts,
        });
    }
    let background = alerts
        .iter()
        .zip(attributed)
        .filter(|(_, at)| !at)
        .map(|(a, _)| describe(a))
        .collect();
    (rows, background)
}

fn describe(a: &Alert) -> String {
    format!("{} {}>{}", a.rule, a.src, a.dst.as_deref().unwrap_or("*"))
}

/// The table `scripts/scenarios.sh` prints and the README shows.
fn table(rows: &[Row], background: &[String]) -> String {
    let mut t = String::from(
        "| scenario | kind | expected alerts found | result | time to detect | false alerts |\n\
         |---|---|---|---|---|---|\n",
    );
    for r in rows {
        let ttd = r
            .time_to_detect_ms
            .map_or("-".to_string(), |ms| format!("{ms} ms"));
        t.push_str(&format!(
            "| {} | {} | {}/{} | {} | {} | {} |\n",
            r.name,
            r.kind,
            r.found,
            r.expected,
            r.detected(),
            ttd,
            r.false_alerts.len()
        ));
    }
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for b in background {
        *by_rule.entry(b.split(' ').next().unwrap()).or_default() += 1;
    }
    let rules: Vec<String> = by_rule.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
    t.push_str(&format!(
        "| (the plant's own traffic) | background | - | - | - | {}{} |\n",
        background.len(),
        if rules.is_empty() {
            String::new()
        } else {
            format!(": {}", rules.join(", "))
        }
    ));
    t
}

/// Learns on train.pcap, detects on test.pcap; the first record of every alert.
fn run() -> Vec<Alert> {
    let d = dir();
    let scratch = Scratch::new("scenarios");
    let (base, out) = (scratch.path("baseline.json"), scratch.path("alerts.jsonl"));
    let cfg = d.join("zones.toml");
    learn_into(&cfg, &base, &d.join("train.pcap"));
    let (code, _, err) = replay(&[
        "-c".as_ref(),
        cfg.as_os_str(),
        "--baseline".as_ref(),
        base.as_os_str(),
        "--alerts".as_ref(),
        out.as_os_str(),
        d.join("test.pcap").as_os_str(),
    ]);
    assert_eq!(code, 0, "detecting: {err}");
    let mut seen = std::collections::HashSet::new();
    jsonl(&out)
        .into_iter()
        .filter(|a| seen.insert(a["id"].as_str().unwrap().to_string()))
        .map(|a| Alert {
            rule: host(&a["rule"]),
            src: host(&a["src"]["ip"]),
            dst: a["dst"]["ip"].as_str().map(String::from),
            first_seen: micros(a["first_seen"].as_str().unwrap()),
            record: a,
        })
        .collect()
}

#[test]
fn times_parse_as_written() {
    assert_eq!(micros("1970-01-01T00:00:00.000000Z"), 0);
    assert_eq!(micros("2012-11-12T11:03:00.264365Z"), 1_352_718_180_264_365);
    assert_eq!(micros("2000-02-29T00:00:01.5Z"), 951_782_401_500_000);
}

/// Every attack raises exactly its expected alerts, benign actions raise none, and the
/// plant's own traffic raises no more than the timing and range deviations of a 42-second
/// learning window.
#[test]
fn labelled_scenarios_detected_without_false_alerts() {
    let labels = json(&dir().join("labels.json"));
    let alerts = run();
    let (rows, background) = score(&labels, &alerts);
    let t = table(&rows, &background);
    println!("{t}");
    if let Ok(p) = std::env::var("OTSENSOR_SCENARIO_TABLE") {
        std::fs::write(p, &t).unwrap();
    }
    assert_eq!(rows.len(), 10, "{t}");
    for r in &rows {
        assert!(
            r.false_alerts.is_empty(),
            "{}: {:?}\n{t}",
            r.name,
            r.false_alerts
        );
        assert_eq!(r.found, r.expected, "{}\n{t}", r.name);
        if r.kind == "attack" {
            assert!(r.expected > 0, "{}", r.name);
            assert!(
                r.time_to_detect_ms.is_some_and(|ms| ms >= 0),
                "{}\n{t}",
                r.name
            );
        } else {
            assert_eq!(r.expected, 0, "{}", r.name);
        }
    }
    // The plant's traffic is all allowed by the zones and learned in kind: what it raises
    // is timing and address-range deviations of a short learning window, no policy alert,
    // no new conversation, and no more of them than today.
    assert!(
        background
            .iter()
            .all(|b| b.starts_with("baseline.timing_deviation")
                || b.starts_with("baseline.address_out_of_range")),
        "{background:?}"
    );
    assert!(background.len() <= 8, "{background:?}");

    // The C2 session picked up midstream: its client guessed and said so.
    let conv = alerts
        .iter()
        .find(|a| a.rule == "baseline.new_conversation" && a.dst.as_deref() == Some("91.215.85.17"))
        .unwrap();
    assert_eq!(conv.src, "141.81.0.10");
    assert_eq!(conv.record["evidence"]["observed"]["client_guessed"], true);
    assert_eq!(conv.record["evidence"]["observed"]["port"], 4444);
    // The gateway polled with one connection per poll had a period, and its silence is seen.
    let stop = alerts
        .iter()
        .find(|a| a.rule == "baseline.poll_stopped")
        .unwrap();
    let period = stop.record["evidence"]["expected"]["period_ms"]
        .as_u64()
        .unwrap();
    assert!((1000..1030).contains(&period), "{period}");
    // Every alert of a flow carries its Community ID; the policy and conversation alerts
    // of the TLS beacon name the same flow.
    let ids: Vec<&Value> = alerts
        .iter()
        .filter(|a| a.dst.as_deref() == Some("45.137.21.9"))
        .map(|a| &a.record["community_id"])
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0].as_str().is_some_and(|c| c.starts_with("1:")) && ids[0] == ids[1]);
}
