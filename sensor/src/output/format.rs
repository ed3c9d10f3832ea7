//! Alert record formats: the native JSON record, OCSF Detection Finding, CEF and LEEF.
//!
//! Each renders one alert as one line (without the newline). CEF and LEEF are escaped per
//! their specifications so that any value (zone names, details, asset labels) round-trips
//! through a standard parser.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::{json, Value};

use otsensor_baselines::alert::{Alert, AlertEndpoint, Technique};
use otsensor_baselines::time::Timestamp;

/// Alert record formats.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AlertFormat {
    /// The native record, one JSON object per line.
    #[default]
    Json,
    /// OCSF 1.5.0 Detection Finding (class 2004), one JSON object per line.
    Ocsf,
    /// ArcSight CEF:0 with standard extension keys (Microsoft Sentinel CommonSecurityLog).
    Cef,
    /// IBM QRadar LEEF:2.0, `^`-delimited attributes.
    Leef,
}

/// Vendor and product in CEF, LEEF and OCSF metadata.
pub const VENDOR: &str = "otsensor";
/// Product name.
pub const PRODUCT: &str = "otsensor";
/// Product version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// OCSF schema version of the Detection Finding records.
pub const OCSF_VERSION: &str = "1.5.0";

/// Appends one alert, rendered in `format`, to `out` (no newline).
pub fn render(a: &Alert, format: AlertFormat, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match format {
        AlertFormat::Json => serde_json::to_writer(out, a),
        AlertFormat::Ocsf => serde_json::to_writer(out, &ocsf(a)),
        AlertFormat::Cef => {
            out.extend_from_slice(cef(a).as_bytes());
            Ok(())
        }
        AlertFormat::Leef => {
            out.extend_from_slice(leef(a).as_bytes());
            Ok(())
        }
    }
}

fn millis(t: Timestamp) -> i64 {
    t.as_nanos().div_euclid(1_000_000)
}

fn techniques(a: &Alert) -> String {
    a.attack
        .techniques
        .iter()
        .map(|t| match t.v19 {
            Some((v19, _)) => format!("{} ({v19})", t.id),
            None => t.id.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------
// CEF

/// Escapes a CEF header field: backslash and pipe; line breaks become spaces.
pub fn cef_header(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\r' | '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Escapes a CEF extension value: backslash, equals sign and line breaks.
pub fn cef_value(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '=' => o.push_str("\\="),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o
}

/// A CEF:0 line. Standard keys (src, dst, spt, dpt, smac, dmac, proto, app, act, cat, msg,
/// rt, start, end, cnt, externalId, dvchost) fill the SIEM's columns (Microsoft Sentinel's
/// CommonSecurityLog: SourceIP, DestinationIP, ...); the rule, zones, function, ATT&CK
/// techniques and site go in labelled custom strings cs1–cs6, asset labels in flexString1–2.
pub fn cef(a: &Alert) -> String {
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", millis(a.last_seen).to_string()),
        ("start", millis(a.first_seen).to_string()),
        ("end", millis(a.last_seen).to_string()),
        ("cnt", a.count.to_string()),
        ("externalId", a.id.clone()),
        ("cat", engine(a).to_string()),
        ("msg", a.details.clone()),
    ];
    if let Some(s) = &a.src {
        endpoint_cef(s, true, &mut ext);
    }
    if let Some(d) = &a.dst {
        endpoint_cef(d, false, &mut ext);
    }
    if let Some(t) = a.transport {
        ext.push(("proto", t.to_ascii_uppercase()));
    }
    if let Some(p) = a.protocol {
        ext.push(("app", p.to_string()));
    }
    if let Some(op) = a.operation {
        ext.push(("act", op.to_string()));
    }
    if let Some(st) = a.status {
        ext.push(("outcome", st.to_string()));
    }
    if !a.sensor.id.is_empty() {
        ext.push(("dvchost", a.sensor.id.clone()));
        ext.push(("deviceExternalId", a.sensor.id.clone()));
    }
    // The evidence capture: CEF's file name and hash (Sentinel's FileName, FileHash).
    if let (Some(f), Some(h)) = (&a.evidence.pcap, &a.evidence.sha256) {
        ext.push(("fname", f.clone()));
        ext.push(("fileHash", h.clone()));
    }
    let custom = [
        ("cs1", "rule", Some(a.rule.to_string())),
        (
            "cs2",
            "srcZone",
            a.src
                .as_ref()
                .and_then(|s| s.zone.as_deref().map(str::to_string)),
        ),
        (
            "cs3",
            "dstZone",
            a.dst
                .as_ref()
                .and_then(|d| d.zone.as_deref().map(str::to_string)),
        ),
        ("cs4", "function", a.function.clone()),
        (
            "cs5",
            "attackTechniques",
            Some(techniques(a)).filter(|s| !s.is_empty()),
        ),
        (
            "cs6",
            "site",
            Some(a.sensor.site.clone()).filter(|s| !s.is_empty()),
        ),
        (
            "flexString1",
            "srcAsset",
            a.src
                .as_ref()
                .and_then(|s| s.asset.as_deref().map(str::to_string)),
        ),
        (
            "flexString2",
            "dstAsset",
            a.dst
                .as_ref()
                .and_then(|d| d.asset.as_deref().map(str::to_string)),
        ),
    ];
    let mut labels: Vec<(String, String)> = Vec::new();
    for (key, label, value) in custom {
        if let Some(v) = value {
            labels.push((format!("{key}Label"), label.to_string()));
            labels.push((key.to_string(), v));
        }
    }
    let mut line = format!(
        "CEF:0|{}|{}|{}|{}|{}|{}|",
        cef_header(VENDOR),
        cef_header(PRODUCT),
        cef_header(VERSION),
        cef_header(a.rule),
        cef_header(a.title),
        a.severity.score
    );
    let mut first = true;
    let pairs = ext
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain(labels);
    for (k, v) in pairs {
        if !first {
            line.push(' ');
        }
        first = false;
        let _ = write!(line, "{k}={}", cef_value(&v));
    }
    line
}

fn endpoint_cef(e: &AlertEndpoint, src: bool, ext: &mut Vec<(&str, String)>) {
    match (e.ip, src) {
        (Some(IpAddr::V4(ip)), true) => ext.push(("src", ip.to_string())),
        (Some(IpAddr::V4(ip)), false) => ext.push(("dst", ip.to_string())),
        (Some(IpAddr::V6(ip)), true) => ext.push(("c6a2", ip.to_string())),
        (Some(IpAddr::V6(ip)), false) => ext.push(("c6a3", ip.to_string())),
        (None, _) => {}
    }
    if let (Some(IpAddr::V6(_)), true) = (e.ip, src) {
        ext.push(("c6a2Label", "Source IPv6 Address".to_string()));
    }
    if let (Some(IpAddr::V6(_)), false) = (e.ip, src) {
        ext.push(("c6a3Label", "Destination IPv6 Address".to_string()));
    }
    if let Some(p) = e.port {
        ext.push((if src { "spt" } else { "dpt" }, p.to_string()));
    }
    if let Some(m) = e.mac {
        ext.push((if src { "smac" } else { "dmac" }, m.to_string()));
    }
}

fn engine(a: &Alert) -> &'static str {
    a.engine.as_str()
}

// ---------------------------------------------------------------------------------------
// LEEF

/// Escapes a LEEF header field: backslash and pipe; line breaks become spaces.
pub fn leef_header(s: &str) -> String {
    cef_header(s)
}

/// The LEEF 2.0 attribute delimiter, declared in the header (IBM's own example character).
pub const LEEF_DELIMITER: char = '^';

/// A LEEF attribute value: the attribute delimiter and line breaks, which LEEF cannot escape,
/// become spaces (`=` needs no escaping: keys end at the first one).
pub fn leef_value(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            LEEF_DELIMITER | '\t' | '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// Milliseconds-precision ISO 8601 for `devTime` (`devTimeFormat` below).
fn leef_time(t: Timestamp) -> String {
    let s = t.to_string(); // 2012-11-12T11:03:00.264365Z
    match s.get(..23) {
        Some(head) => format!("{head}Z"),
        None => s,
    }
}

/// A LEEF:2.0 line with `^`-delimited attributes (declared in the header). Predefined
/// keys: cat, sev, devTime/devTimeFormat, src, dst, srcPort, dstPort, srcMAC, dstMAC, proto;
/// the rest are custom keys.
pub fn leef(a: &Alert) -> String {
    let mut attrs: Vec<(&str, String)> = vec![
        ("cat", engine(a).to_string()),
        ("sev", a.severity.score.to_string()),
        ("devTime", leef_time(a.last_seen)),
        ("devTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSX".to_string()),
    ];
    if let Some(s) = &a.src {
        if let Some(ip) = s.ip {
            attrs.push(("src", ip.to_string()));
        }
        if let Some(p) = s.port {
            attrs.push(("srcPort", p.to_string()));
        }
        if let Some(m) = s.mac {
            attrs.push(("srcMAC", m.to_string()));
        }
    }
    if let Some(d) = &a.dst {
        if let Some(ip) = d.ip {
            attrs.push(("dst", ip.to_string()));
        }
        if let Some(p) = d.port {
            attrs.push(("dstPort", p.to_string()));
        }
        if let Some(m) = d.mac {
            attrs.push(("dstMAC", m.to_string()));
        }
    }
    if let Some(t) = a.transport {
        attrs.push(("proto", t.to_ascii_uppercase()));
    }
    let opt = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let more: [(&str, Option<String>); 19] = [
        ("alertId", Some(a.id.clone())),
        ("title", Some(a.title.to_string())),
        ("details", Some(a.details.clone())),
        ("count", Some(a.count.to_string())),
        ("firstSeen", Some(a.first_seen.to_string())),
        ("lastSeen", Some(a.last_seen.to_string())),
        ("appProtocol", a.protocol.map(str::to_string)),
        ("operation", a.operation.map(|o| o.to_string())),
        ("function", opt(&a.function)),
        ("status", a.status.map(str::to_string)),
        (
            "srcZone",
            a.src
                .as_ref()
                .and_then(|s| s.zone.as_deref().map(str::to_string)),
        ),
        (
            "dstZone",
            a.dst
                .as_ref()
                .and_then(|d| d.zone.as_deref().map(str::to_string)),
        ),
        (
            "srcAsset",
            a.src
                .as_ref()
                .and_then(|s| s.asset.as_deref().map(str::to_string)),
        ),
        (
            "dstAsset",
            a.dst
                .as_ref()
                .and_then(|d| d.asset.as_deref().map(str::to_string)),
        ),
        ("attack", Some(techniques(a)).filter(|s| !s.is_empty())),
        (
            "sensorId",
            Some(a.sensor.id.clone()).filter(|s| !s.is_empty()),
        ),
        (
            "site",
            Some(a.sensor.site.clone()).filter(|s| !s.is_empty()),
        ),
        ("evidencePcap", a.evidence.pcap.clone()),
        ("evidenceSha256", a.evidence.sha256.clone()),
    ];
    attrs.extend(more.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    let mut line = format!(
        "LEEF:2.0|{}|{}|{}|{}|{LEEF_DELIMITER}|",
        leef_header(VENDOR),
        leef_header(PRODUCT),
        leef_header(VERSION),
        leef_header(a.rule)
    );
    let body: Vec<String> = attrs
        .iter()
        .map(|(k, v)| format!("{k}={}", leef_value(v)))
        .collect();
    line.push_str(&body.join(&LEEF_DELIMITER.to_string()));
    line
}

// ---------------------------------------------------------------------------------------
// OCSF

fn ocsf_severity(score: u8) -> (u8, &'static str) {
    match score {
        0 => (0, "Unknown"),
        1..=3 => (2, "Low"),
        4..=6 => (3, "Medium"),
        7..=8 => (4, "High"),
        _ => (5, "Critical"),
    }
}

fn ocsf_endpoint(e: &AlertEndpoint) -> Value {
    let mut v = json!({});
    if let Some(ip) = e.ip {
        v["ip"] = json!(ip.to_string());
    }
    if let Some(p) = e.port {
        v["port"] = json!(p);
    }
    if let Some(m) = e.mac {
        v["mac"] = json!(m.to_string());
    }
    if let Some(z) = &e.zone {
        v["zone"] = json!(z);
    }
    if let Some(a) = &e.asset {
        v["name"] = json!(a);
    }
    v
}

fn ocsf_attacks(ts: &[Technique]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in ts {
        out.push(json!({
            "technique": { "uid": t.id, "name": t.name },
            "version": "18",
        }));
        if let Some((id, name)) = t.v19 {
            let (parent_id, sub) = id.split_once('.').unwrap_or((id, ""));
            let (parent_name, sub_name) = name.split_once(": ").unwrap_or((name, name));
            let mut v = json!({
                "technique": { "uid": parent_id, "name": parent_name },
                "version": "19",
            });
            if !sub.is_empty() {
                v["sub_technique"] = json!({ "uid": id, "name": sub_name });
            }
            out.push(v);
        }
    }
    out
}

/// An OCSF 1.5.0 Detection Finding (class 2004): `Create` at first sight, `Update` after.
pub fn ocsf(a: &Alert) -> Value {
    // A cleared condition (a sensor health alert) closes the finding as resolved.
    let ((activity_id, activity), (status_id, status)) = match (a.count, a.status) {
        (_, Some("cleared")) => ((3, "Close"), (4, "Resolved")),
        (0..=1, _) => ((1, "Create"), (1, "New")),
        _ => ((2, "Update"), (1, "New")),
    };
    let (severity_id, severity) = ocsf_severity(a.severity.score);
    let mut evidence = json!({ "data": a.evidence.comparison.observed });
    if let Some(s) = &a.src {
        evidence["src_endpoint"] = ocsf_endpoint(s);
    }
    if let Some(d) = &a.dst {
        evidence["dst_endpoint"] = ocsf_endpoint(d);
    }
    if let (Some(f), Some(h)) = (&a.evidence.pcap, &a.evidence.sha256) {
        // The packets behind the alert: a file with its SHA-256 (algorithm_id 3).
        evidence["file"] = json!({
            "name": f,
            "type_id": 1,
            "type": "Regular File",
            "hashes": [{ "algorithm_id": 3, "algorithm": "SHA-256", "value": h }],
        });
    }
    if let Some(t) = a.transport {
        evidence["connection_info"] = json!({
            "protocol_name": t,
            "protocol_num": if t == "udp" { 17 } else { 6 },
            "direction_id": 0,
        });
    }
    let mut unmapped = json!({
        "rule": a.rule,
        "engine": engine(a),
        "expected": a.evidence.comparison.expected,
        "attack_framework": a.attack.framework,
    });
    if let Some(p) = a.protocol {
        unmapped["protocol"] = json!(p);
    }
    if let Some(o) = a.operation {
        unmapped["operation"] = json!(o);
    }
    if let Some(f) = &a.function {
        unmapped["function"] = json!(f);
    }
    if !a.sensor.site.is_empty() {
        unmapped["site"] = json!(a.sensor.site);
    }
    let mut product = json!({
        "name": PRODUCT,
        "vendor_name": VENDOR,
        "version": VERSION,
    });
    if !a.sensor.id.is_empty() {
        product["uid"] = json!(a.sensor.id);
    }
    json!({
        "activity_id": activity_id,
        "activity_name": activity,
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200400 + activity_id,
        "type_name": format!("Detection Finding: {activity}"),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "time": millis(a.last_seen),
        "start_time": millis(a.first_seen),
        "end_time": millis(a.last_seen),
        "count": a.count,
        "message": a.details,
        "finding_info": {
            "uid": a.id,
            "title": a.title,
            "desc": a.details,
            "types": [engine(a)],
            "first_seen_time": millis(a.first_seen),
            "last_seen_time": millis(a.last_seen),
            "analytic": {
                "uid": a.rule,
                "name": a.title,
                "type_id": 1,
                "type": "Rule",
            },
            "attacks": ocsf_attacks(a.attack.techniques),
        },
        "metadata": {
            "version": OCSF_VERSION,
            "uid": a.id,
            "product": product,
        },
        "evidences": [evidence],
        "unmapped": unmapped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cef_escaping_follows_the_spec() {
        assert_eq!(cef_header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(cef_value("a=b\\c\nd|e"), r"a\=b\\c\nd|e");
        assert_eq!(leef_value("a\tb\nc=d|e^f"), "a b c=d|e f");
        assert_eq!(
            leef_time(Timestamp::from_nanos(1_352_718_180_264_365_000)),
            "2012-11-12T11:03:00.264Z"
        );
    }

    #[test]
    fn v19_techniques_become_sub_techniques() {
        let t = [Technique {
            id: "T0855",
            name: "Unauthorized Command Message",
            v19: Some(("T1692.001", "Unauthorized Message: Command Message")),
        }];
        let v = ocsf_attacks(&t);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1]["technique"]["uid"], "T1692");
        assert_eq!(v[1]["technique"]["name"], "Unauthorized Message");
        assert_eq!(v[1]["sub_technique"]["uid"], "T1692.001");
        assert_eq!(v[1]["sub_technique"]["name"], "Command Message");
    }
}
