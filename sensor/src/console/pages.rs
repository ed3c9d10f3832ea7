//! The console's pages: server-rendered HTML (maud templates, escaped), one stylesheet and
//! one small script compiled into the binary.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

use otsensor_baselines::alert::Alert;

use super::auth::Session;
use super::http::Req;
use super::state::{ConsoleState, Snapshot};
use crate::config::ConsoleRole;

/// The stylesheet.
pub const CSS: &str = include_str!("console.css");
/// The script: live refresh of the page's main part, table sorting.
pub const JS: &str = include_str!("console.js");

/// Rows a table shows at most (the API returns all).
const MAX_ROWS: usize = 1000;

fn head(title: &str) -> Markup {
    html! {
        (DOCTYPE)
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " — otsensor" }
            link rel="stylesheet" href="/static/console.css";
            script src="/static/console.js" defer {}
        }
    }
}

/// The login page.
pub fn login(error: Option<&str>) -> String {
    html! {
        html lang="en" {
            (head("Log in"))
            body.login {
                form method="post" action="/login" {
                    h1 { "otsensor" }
                    @if let Some(e) = error { p.error id="login-error" { (e) } }
                    label { "Name" input name="name" id="name" autocomplete="username" required; }
                    label { "Password" input name="password" id="password" type="password" autocomplete="current-password" required; }
                    button type="submit" id="login" { "Log in" }
                }
            }
        }
    }
    .into_string()
}

/// An error page.
pub fn error(code: u16, msg: &str) -> String {
    html! {
        html lang="en" {
            (head("Error"))
            body { main { h1 { (code) } p { (msg) } p { a href="/" { "Back to the overview" } } } }
        }
    }
    .into_string()
}

/// A page: navigation, the user, and `main` (alone when the script asks for a refresh),
/// refreshed in place every few seconds.
pub fn layout(state: &ConsoleState, s: &Session, req: &Req, main: String) -> String {
    frame(state, s, req, main, true)
}

/// A page that is not refreshed (it is costly to make, or holds forms being filled).
pub fn layout_still(state: &ConsoleState, s: &Session, req: &Req, main: String) -> String {
    frame(state, s, req, main, false)
}

fn frame(state: &ConsoleState, s: &Session, req: &Req, main: String, live: bool) -> String {
    if req.partial {
        return main;
    }
    let nav = [
        ("/", "Overview"),
        ("/assets", "Assets"),
        ("/map", "Zone map"),
        ("/alerts", "Alerts"),
        ("/baseline", "Baseline"),
    ];
    html! {
        html lang="en" {
            (head(&state.sensor))
            body {
                header {
                    span.brand { "otsensor" }
                    span.sensor { (state.sensor) @if !state.site.is_empty() { " · " (state.site) } }
                    nav {
                        @for (href, name) in nav {
                            @let here = req.path == href || (href != "/" && req.path.starts_with(href));
                            a href=(href) class=[here.then_some("here")] { (name) }
                        }
                    }
                    form.logout method="post" action="/logout" {
                        span.user id="user" { (s.user) " (" (role(s.role)) ")" }
                        input type="hidden" name="csrf" value=(s.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main id="main" data-live=[live.then_some("5")] { (PreEscaped(main)) }
            }
        }
    }
    .into_string()
}

fn role(r: ConsoleRole) -> &'static str {
    match r {
        ConsoleRole::Viewer => "viewer",
        ConsoleRole::Operator => "operator",
    }
}

fn uptime(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}m {}s", s / 60, s % 60),
    }
}

/// The overview as JSON (`GET /api/overview`).
pub fn overview_json(state: &ConsoleState, snap: &Snapshot) -> Value {
    let stats = state.telemetry.stats(&state.registry, &[]);
    // A replay publishes the workers' counters, not the reader's.
    let packets = stats.packets.max(state.telemetry.report().workers.packets);
    let rate = {
        let mut last = state
            .rate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        let r = match *last {
            Some((t, n)) if now.duration_since(t).as_secs_f64() > 0.5 => {
                Some(packets.saturating_sub(n) as f64 / now.duration_since(t).as_secs_f64())
            }
            _ => None,
        };
        if r.is_some() || last.is_none() {
            *last = Some((now, packets));
        }
        r
    };
    let mut by_severity = std::collections::BTreeMap::<&str, u64>::new();
    for a in &snap.alerts {
        *by_severity.entry(a.severity.level).or_default() += 1;
    }
    let mut talkers: Vec<&Value> = snap.assets.iter().collect();
    let bytes = |a: &Value| {
        a["bytes_sent"].as_u64().unwrap_or(0) + a["bytes_received"].as_u64().unwrap_or(0)
    };
    talkers.sort_by_key(|a| std::cmp::Reverse(bytes(a)));
    serde_json::json!({
        "sensor": state.sensor,
        "site": state.site,
        "mode": state.mode,
        "input_ended": snap.done,
        "uptime_secs": state.started.elapsed().as_secs(),
        "packets": packets,
        "packets_per_sec": rate,
        "interfaces": stats.interfaces,
        "health": state.telemetry.health(),
        "sinks": state.telemetry.output().sinks,
        "alerts": snap.alerts.len(),
        "alerts_by_severity": by_severity,
        "alerts_by_rule": snap.report.by_rule,
        "assets": snap.assets.len(),
        "top_talkers": talkers.iter().take(10).map(|a| serde_json::json!({
            "ip": a["ip"], "bytes": bytes(a), "zone": a["zone"],
        })).collect::<Vec<_>>(),
    })
}

/// The overview page.
pub fn overview(state: &ConsoleState, snap: &Snapshot) -> String {
    let o = overview_json(state, snap);
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    html! {
        h1 { "Overview" }
        section.cards {
            div.card { h2 { "Sensor" } p { (state.sensor) } p.muted { (state.mode) ", up " (uptime(n(&o["uptime_secs"]))) @if snap.done { ", input ended" } } }
            div.card { h2 { "Packets" } p id="packets" { (n(&o["packets"])) } p.muted { @if let Some(r) = o["packets_per_sec"].as_f64() { (format!("{r:.0}")) " packets/s" } } }
            div.card { h2 { "Alerts" } p id="alert-count" { (snap.alerts.len()) } p.muted { @for (lvl, c) in o["alerts_by_severity"].as_object().into_iter().flatten() { span class={"sev " (lvl)} { (lvl) " " (c) } " " } } }
            div.card { h2 { "Assets" } p { (snap.assets.len()) } @if !snap.l2.is_empty() { p.muted { (snap.l2.len()) " known by MAC only" } } }
        }
        h2 { "Health" }
        @let health = state.telemetry.health();
        @if health.is_empty() { p.ok id="health" { "No health condition." } }
        @else { ul id="health" { @for r in &health { li.bad { (r) } } } }
        @if let Some(ifaces) = o["interfaces"].as_array().filter(|i| !i.is_empty()) {
            h2 { "Interfaces" }
            table { thead { tr { th { "Interface" } th { "State" } th.num { "Packets" } th.num { "Dropped (kernel)" } th.num { "Dropped (interface)" } } }
                tbody { @for i in ifaces { tr {
                    td { (i["name"].as_str().unwrap_or("")) }
                    td { @if i["up"].as_bool() == Some(true) { span.ok { "up" } } @else { span.bad { "down" } } }
                    td.num { (n(&i["packets"])) } td.num { (n(&i["dropped"])) } td.num { (n(&i["if_dropped"])) }
                } } }
            }
        }
        h2 { "Sinks" }
        table { thead { tr { th { "Sink" } th { "Kind" } th.num { "Records" } th.num { "Failed" } th { "State" } } }
            tbody { @for s in o["sinks"].as_array().into_iter().flatten() { tr {
                td { (s["name"].as_str().unwrap_or("")) } td { (s["kind"].as_str().unwrap_or("")) }
                td.num { (n(&s["records"])) } td.num { (n(&s["failed"])) }
                td { @if s["degraded_secs"].is_u64() { span.bad { "failing" } } @else { span.ok { "ok" } } }
            } } }
        }
        h2 { "Alerts by rule" }
        table { thead { tr { th { "Rule" } th.num { "Alerts" } } }
            tbody { @for (rule, c) in &snap.report.by_rule { tr { td { a href={"/alerts?rule=" (rule)} { (rule) } } td.num { (c) } } } }
        }
        h2 { "Top talkers" }
        table { thead { tr { th { "Asset" } th { "Zone" } th.num { "Bytes" } } }
            tbody { @for t in o["top_talkers"].as_array().into_iter().flatten() { tr {
                @let ip = t["ip"].as_str().unwrap_or("");
                td { a href={"/assets/" (ip)} { (ip) } } td { (t["zone"].as_str().unwrap_or("")) } td.num { (n(&t["bytes"])) }
            } } }
        }
    }
    .into_string()
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The columns of the asset table: title, how to read it from the record.
const ASSET_COLUMNS: [(&str, &str); 13] = [
    ("ip", "IP"),
    ("macs", "MAC"),
    ("device_type", "Type"),
    ("identity.name", "Name"),
    ("vendor", "Vendor"),
    ("identity.model", "Model"),
    ("identity.firmware", "Firmware"),
    ("roles", "Roles"),
    ("zone", "Zone"),
    ("protocols", "Protocols"),
    ("first_seen", "First seen"),
    ("last_seen", "Last seen"),
    ("risk.score", "Risk"),
];

fn field<'a>(v: &'a Value, path: &str) -> &'a Value {
    if path == "vendor" {
        // The device's own word, else its network card's maker.
        let own = &v["identity"]["vendor"];
        return if own.is_null() { &v["mac_vendor"] } else { own };
    }
    path.split('.').fold(v, |v, k| &v[k])
}

/// The asset table: `q` searches every column, `sort` orders by one (`-` first for
/// descending).
pub fn assets(snap: &Snapshot, req: &Req) -> String {
    let q = req.q("q").to_lowercase();
    let sort = req.q("sort");
    let (desc, key) = sort.strip_prefix('-').map_or((false, sort), |k| (true, k));
    let key = if ASSET_COLUMNS.iter().any(|(k, _)| *k == key) {
        key
    } else {
        "ip"
    };
    let mut rows: Vec<&Value> = snap
        .assets
        .iter()
        .filter(|a| {
            q.is_empty()
                || ASSET_COLUMNS
                    .iter()
                    .any(|(k, _)| text(field(a, k)).to_lowercase().contains(&q))
        })
        .collect();
    rows.sort_by(|a, b| {
        let (x, y) = (field(a, key), field(b, key));
        let o = match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ if key == "ip" => ip_order(x).cmp(&ip_order(y)),
            _ => text(x).cmp(&text(y)),
        };
        if desc {
            o.reverse()
        } else {
            o
        }
    });
    let total = rows.len();
    html! {
        h1 { "Assets" }
        form.search method="get" action="/assets" {
            input name="q" id="asset-search" value=(req.q("q")) placeholder="Search IP, MAC, vendor, model, zone, protocol…";
            input type="hidden" name="sort" value=(sort);
            button type="submit" { "Search" }
        }
        p.muted { (total) " assets" @if total > MAX_ROWS { ", the first " (MAX_ROWS) " shown (GET /api/assets has all)" } }
        table id="assets" {
            thead { tr { @for (k, title) in ASSET_COLUMNS {
                @let next = if key == k && !desc { format!("-{k}") } else { k.to_string() };
                th { a href={"/assets?q=" (req.q("q")) "&sort=" (next)} { (title) @if key == k { (if desc { " ▼" } else { " ▲" }) } } }
            } } }
            tbody { @for a in rows.iter().take(MAX_ROWS) { tr {
                @for (k, _) in ASSET_COLUMNS {
                    @if k == "ip" { td { a href={"/assets/" (text(&a["ip"]))} { (text(&a["ip"])) } } }
                    @else if k == "risk.score" { td.num { (text(field(a, k))) } }
                    @else if k.ends_with("_seen") { td.time { (short_time(&text(field(a, k)))) } }
                    @else { td { (text(field(a, k))) } }
                }
            } } }
        }
    }
    .into_string()
}

/// `2012-11-12T11:03:00.370006Z` as `2012-11-12 11:03:00` (UTC).
fn short_time(t: &str) -> String {
    let t = t.split('.').next().unwrap_or(t).trim_end_matches('Z');
    t.replacen('T', " ", 1)
}

fn ip_order(v: &Value) -> (u8, u128) {
    match v.as_str().and_then(|s| s.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V4(a)) => (4, u128::from(u32::from(a))),
        Some(std::net::IpAddr::V6(a)) => (6, u128::from(a)),
        None => (9, 0),
    }
}

fn kv_rows(v: &Value, prefix: &str) -> Markup {
    html! {
        @for (k, x) in v.as_object().into_iter().flatten() {
            @if x.is_object() { (kv_rows(x, &format!("{prefix}{k}."))) }
            @else if !x.is_null() && x != &Value::Array(vec![]) { tr { th { (prefix) (k) } td { (text(x)) } } }
        }
    }
}

/// An asset's page: identity, services, peers (from its alerts), its alerts.
pub fn asset(_state: &ConsoleState, snap: &Snapshot, a: &Value) -> String {
    let ip = text(&a["ip"]);
    let involves = |al: &&Alert| {
        [&al.src, &al.dst]
            .into_iter()
            .flatten()
            .any(|e| e.ip.is_some_and(|x| x.to_string() == ip))
    };
    let alerts: Vec<&Alert> = snap.alerts.iter().filter(involves).collect();
    let mut peers = std::collections::BTreeSet::new();
    for al in &alerts {
        for e in [&al.src, &al.dst].into_iter().flatten() {
            if let Some(x) = e.ip.map(|x| x.to_string()).filter(|x| *x != ip) {
                peers.insert(x);
            }
        }
    }
    html! {
        h1 { "Asset " (ip) }
        @if let Some(score) = a["risk"]["score"].as_u64() { p { "Risk score " strong id="risk" { (score) } " / 100" } }
        h2 { "Identity" }
        table.kv { tbody { (kv_rows(a, "")) } }
        h2 { "Services" }
        @if a["services"].as_array().is_none_or(Vec::is_empty) { p.muted { "It answered on no port." } }
        @else { table { thead { tr { th { "Transport" } th { "Port" } th { "Protocol" } } }
            tbody { @for s in a["services"].as_array().into_iter().flatten() { tr { td { (text(&s["transport"])) } td.num { (text(&s["port"])) } td { (text(&s["protocol"])) } } } } } }
        h2 { "Peers in its alerts" }
        p { @for p in &peers { a href={"/assets/" (p)} { (p) } " " } @if peers.is_empty() { span.muted { "None." } } }
        h2 { "Its alerts" }
        (alert_table(&alerts))
        p { a href={"/baseline?asset=" (ip)} id="asset-baseline" { "Its baseline edges" } }
    }
    .into_string()
}

/// The alerts a request's filters keep: `severity`, `rule`, `zone`, `asset`, `status`.
pub fn filter_alerts<'a>(snap: &'a Snapshot, req: &Req) -> Vec<&'a Alert> {
    let (sev, rule, zone, asset, status) = (
        req.q("severity"),
        req.q("rule"),
        req.q("zone"),
        req.q("asset"),
        req.q("status"),
    );
    snap.alerts
        .iter()
        .filter(|a| sev.is_empty() || a.severity.level == sev)
        .filter(|a| rule.is_empty() || a.rule == rule)
        .filter(|a| {
            zone.is_empty()
                || [&a.src, &a.dst]
                    .into_iter()
                    .flatten()
                    .any(|e| e.zone.as_deref() == Some(zone))
        })
        .filter(|a| {
            asset.is_empty()
                || [&a.src, &a.dst]
                    .into_iter()
                    .flatten()
                    .any(|e| e.ip.is_some_and(|x| x.to_string() == asset))
        })
        .filter(|a| status.is_empty() || a.status.unwrap_or("active") == status)
        .collect()
}

fn alert_table(alerts: &[&Alert]) -> Markup {
    html! {
        table id="alerts" {
            thead { tr { th { "Severity" } th { "Rule" } th { "Title" } th { "Key" } th.num { "Count" } th { "Last seen" } th { "Status" } } }
            tbody { @for a in alerts.iter().take(MAX_ROWS) { tr data-id=(a.id) {
                td { span class={"sev " (a.severity.level)} { (a.severity.level) } }
                td { (a.rule) } td { a href={"/alerts/" (a.id)} { (a.title) } } td { (a.key) }
                td.num { (a.count) } td.time { (short_time(&a.last_seen.to_string())) } td.status { (a.status.unwrap_or("active")) }
            } } }
        }
    }
}

/// The alert list with its filters.
pub fn alerts(snap: &Snapshot, req: &Req) -> String {
    let rows = filter_alerts(snap, req);
    let mut rules: Vec<&str> = snap.alerts.iter().map(|a| a.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    let mut zones = std::collections::BTreeSet::new();
    for a in &snap.alerts {
        for e in [&a.src, &a.dst].into_iter().flatten() {
            if let Some(z) = &e.zone {
                zones.insert(&**z);
            }
        }
    }
    let select = |name: &str, values: &[&str]| {
        html! {
            select name=(name) id={"filter-" (name)} {
                option value="" { "any " (name) }
                @for v in values { option value=(v) selected[req.q(name) == *v] { (v) } }
            }
        }
    };
    let zones: Vec<&str> = zones.into_iter().collect();
    html! {
        h1 { "Alerts" }
        form.filters method="get" action="/alerts" {
            (select("severity", &["critical", "high", "medium", "low", "info"]))
            (select("rule", &rules))
            (select("zone", &zones))
            (select("status", &["active", "muted", "learned", "cleared"]))
            input name="asset" placeholder="asset IP" value=(req.q("asset"));
            button type="submit" id="filter" { "Filter" }
        }
        p.muted { (rows.len()) " of " (snap.alerts.len()) " alerts" }
        (alert_table(&rows))
    }
    .into_string()
}

/// One alert: its record, ATT&CK, evidence, and the triage buttons for operators.
pub fn alert(s: &Session, a: &Alert, evidence: bool, queued: &str) -> String {
    let status = a.status.unwrap_or("active");
    // What can be done from here: learn or mute an active alert, unmute a muted one.
    let verbs: &[(&str, &str)] = match status {
        "muted" => &[("unmute", "Unmute")],
        "learned" => &[],
        _ => &[("learn", "Learn"), ("mute", "Mute")],
    };
    let record = serde_json::to_value(a).unwrap_or_default();
    let pretty = serde_json::to_string_pretty(&record).unwrap_or_default();
    html! {
        h1 { span class={"sev " (a.severity.level)} { (a.severity.level) } " " (a.title) }
        p { code { (a.rule) } " on " code { (a.key) } " — status " strong id="status" { (status) } }
        table.kv { tbody {
            tr { th { "Alert id" } td { (a.id) } }
            tr { th { "Count" } td { (a.count) } }
            tr { th { "First seen" } td { (a.first_seen.to_string()) } }
            tr { th { "Last seen" } td { (a.last_seen.to_string()) } }
            @for e in [&a.src, &a.dst].into_iter().flatten() {
                tr { th { "Endpoint" } td {
                    @if let Some(ip) = e.ip { a href={"/assets/" (ip)} { (ip) } }
                    @if let Some(z) = &e.zone { " (zone " (&**z) ")" }
                } }
            }
            tr { th { "Details" } td { (a.details) } }
            tr { th { "Observed" } td { code { (record["evidence"]["observed"].to_string()) } } }
            tr { th { "Expected" } td { code { (record["evidence"]["expected"].to_string()) } } }
            tr { th { "ATT&CK" } td { @for t in a.attack.techniques {
                a.attack href={"https://attack.mitre.org/techniques/" (t.id) "/"} rel="noreferrer" { (t.id) " " (t.name) } " "
            } } }
            @if evidence && a.evidence.pcap.is_some() {
                tr { th { "Evidence" } td { a id="evidence" href={"/alerts/" (a.id) "/evidence"} { "Download the packets (pcap)" } } }
            }
        } }
        @if !queued.is_empty() {
            p.note id="queued" { "Asked to " (queued) " this alert: its status changes once the sensor has applied it." }
        }
        @if s.role == ConsoleRole::Operator {
            section.triage id="triage" {
                @for (verb, label) in verbs {
                    form method="post" action={"/alerts/" (a.id) "/" (verb)} {
                        input type="hidden" name="csrf" value=(s.csrf);
                        button type="submit" id=(verb) { (label) }
                    }
                }
            }
        }
        h2 { "Record" }
        pre { (pretty) }
    }
    .into_string()
}

/// The zone map: zones by Purdue level (highest on top), conduits in grey, the zone pairs of
/// the alerts over them (policy violations in red), each linked to its alerts.
pub fn map(state: &ConsoleState, snap: &Snapshot) -> String {
    let l = &state.layout;
    let mut zones: Vec<(String, Option<f64>, String)> = l.zones.clone();
    // Zones seen in alerts or assets but not configured (the default zone).
    let seen = snap
        .alerts
        .iter()
        .flat_map(|a| [&a.src, &a.dst])
        .flatten()
        .filter_map(|e| e.zone.as_deref())
        .chain(snap.assets.iter().filter_map(|a| a["zone"].as_str()));
    for z in seen {
        if !zones.iter().any(|(n, _, _)| n == z) {
            zones.push((z.to_string(), None, String::new()));
        }
    }
    // Zones without a level on top.
    let level = |p: &Option<f64>| p.unwrap_or(6.5);
    let mut levels: Vec<f64> = zones.iter().map(|(_, p, _)| level(p)).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let (w, row) = (960.0, 110.0);
    let h = row * levels.len().max(1) as f64 + 40.0;
    let mut pos = std::collections::BTreeMap::new();
    for (i, lv) in levels.iter().enumerate() {
        let here: Vec<&(String, Option<f64>, String)> =
            zones.iter().filter(|(_, p, _)| level(p) == *lv).collect();
        for (j, (name, _, _)) in here.iter().enumerate() {
            let x = w * (j as f64 + 1.0) / (here.len() as f64 + 1.0);
            let y = h - 40.0 - row * i as f64;
            pos.insert(name.clone(), (x, y));
        }
    }
    let pairs = zone_pairs(snap);
    html! {
        h1 { "Zone map" }
        p.muted { "Zones by Purdue level. Grey: conduits the config allows. Blue: traffic seen between zones (clients in one zone opened flows to servers in the other). Orange: alerts between zones. Red: policy violations. Click a zone or a line for its alerts." }
        svg id="zone-map" xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (w) " " (h)} width="100%" {
            @for (from, to, protos) in &l.conduits {
                @if let (Some((x1, y1)), Some((x2, y2))) = (pos.get(from), pos.get(to)) {
                    line.conduit x1=(x1) y1=(y1) x2=(x2) y2=(y2) { title { "conduit " (from) " → " (to) ": " (protos.join(", ")) } }
                }
            }
            @for ((from, to), p) in &pairs {
                @if let (Some((x1, y1)), Some((x2, y2))) = (pos.get(from), pos.get(to)) {
                    @let class = if p.policy { "violation" } else if p.alerts > 0 { "alerted" } else { "observed" };
                    a href={"/alerts?zone=" (from)} {
                        line class=(class) x1=(x1) y1=(y1 + 6.0) x2=(x2) y2=(y2 + 6.0) {
                            title { (from) " → " (to) ": " (p.servers) " servers reached, " (p.alerts) " alerts" }
                        }
                    }
                }
            }
            @for (name, _, label) in &zones {
                @if let Some((x, y)) = pos.get(name) {
                    a href={"/alerts?zone=" (name)} {
                        g.zone {
                            rect x=(x - 70.0) y=(y - 22.0) width="140" height="44" rx="6" {}
                            text x=(x) y=(y - 2.0) text-anchor="middle" { (name) }
                            text.level x=(x) y=(y + 14.0) text-anchor="middle" { (if label.is_empty() && *name == l.default_zone { "default zone" } else { label }) }
                        }
                    }
                }
            }
        }
        h2 { "Between zones" }
        table id="zone-pairs" { thead { tr { th { "From" } th { "To" } th.num { "Servers reached" } th.num { "Alerts" } th { "Policy" } } }
            tbody { @for ((from, to), p) in &pairs { tr {
                td { (from) } td { (to) } td.num { (p.servers) } td.num { a href={"/alerts?zone=" (from)} { (p.alerts) } }
                td { @if p.policy { span.bad { "violation" } } @else { "—" } }
            } } }
        }
    }
    .into_string()
}

/// What is known of traffic from one zone to another.
#[derive(Default)]
struct ZonePair {
    /// Servers in the second zone that clients of the first opened flows to.
    servers: usize,
    /// Alerts from the first zone to the second.
    alerts: usize,
    /// Whether one of them is a policy violation.
    policy: bool,
}

/// Zone pairs: from the assets' exposure (`peer_zones`) and from the alerts.
fn zone_pairs(snap: &Snapshot) -> std::collections::BTreeMap<(String, String), ZonePair> {
    let mut pairs = std::collections::BTreeMap::<(String, String), ZonePair>::new();
    for a in &snap.assets {
        let Some(zone) = a["zone"].as_str() else {
            continue;
        };
        for from in a["peer_zones"].as_array().into_iter().flatten() {
            if let Some(from) = from.as_str().filter(|f| *f != zone) {
                pairs
                    .entry((from.to_string(), zone.to_string()))
                    .or_default()
                    .servers += 1;
            }
        }
    }
    for a in &snap.alerts {
        let (Some(s), Some(d)) = (&a.src, &a.dst) else {
            continue;
        };
        let (Some(sz), Some(dz)) = (&s.zone, &d.zone) else {
            continue;
        };
        if sz == dz {
            continue;
        }
        let e = pairs.entry((sz.to_string(), dz.to_string())).or_default();
        e.alerts += 1;
        e.policy |= a.rule.starts_with("policy.");
    }
    pairs
}

fn state_name(s: otsensor_baselines::baseline::State) -> &'static str {
    use otsensor_baselines::baseline::State;
    match s {
        State::Learning => "learning",
        State::Approved => "approved",
        State::Suppressed => "suppressed",
    }
}

/// Approve and Suppress buttons for a selector (operators only).
fn curate_buttons(s: &Session, selector: &str) -> Markup {
    html! {
        @if s.role == ConsoleRole::Operator {
            @for (verb, label) in [("approve", "Approve"), ("suppress", "Suppress")] {
                form.inline method="post" action={"/baseline/" (verb)} {
                    input type="hidden" name="csrf" value=(s.csrf);
                    input type="hidden" name="selector" value=(selector);
                    button type="submit" class=(verb) { (label) }
                }
            }
        }
    }
}

/// Rows of baseline entries shown at most per table.
const MAX_BASELINE_ROWS: usize = 500;

/// The running baseline: what changed against its file, its assets and edges, with the
/// approve and suppress actions of `otsensor baseline approve|suppress`.
pub fn baseline(state: &ConsoleState, s: &Session, req: &Req) -> String {
    let running = state.shared.learner.to_baseline();
    let file = state.baseline_file.as_deref();
    let on_disk = file
        .filter(|f| f.exists())
        .map(otsensor_baselines::baseline::Baseline::load);
    let diff = match &on_disk {
        Some(Ok(b)) => Some(crate::curate::diff(b, &running)),
        _ => None,
    };
    let mode = match state.shared.mode {
        otsensor_baselines::detector::Mode::Learn => "learning",
        _ => "detecting",
    };
    let only = req.q("asset");
    let edges: Vec<&otsensor_baselines::baseline::EdgeEntry> = running
        .edges
        .iter()
        .filter(|e| only.is_empty() || e.src.to_string() == only || e.dst.to_string() == only)
        .collect();
    html! {
        h1 { "Baseline" }
        p { "The sensor is " strong { (mode) } "; "
            (running.assets.len()) " assets, " (running.edges.len()) " edges, "
            (running.conversations.len()) " conversations. "
            @match file { Some(f) => { "File " code { (f.display()) } " (saved " @if mode == "learning" { "as it learns" } @else { "when a decision changes it" } ")." }
                          None => { span.muted { "No --baseline file: changes last until the sensor stops." } } } }
        @if let Some(n) = req.q("changed").parse::<u64>().ok() { p.note id="changed" { (n) " entries changed." } }
        h2 { "Changes against the file" }
        @match (&diff, &on_disk) {
            (Some(d), _) if d.trim().is_empty() => p.muted id="diff" { "None: the running baseline is the file's." },
            (Some(d), _) => pre.diff id="diff" { @for l in d.lines().take(MAX_BASELINE_ROWS) {
                span class=(match l.chars().next() { Some('+') => "add", Some('-') => "del", _ => "chg" }) { (l) } "\n"
            } },
            (None, Some(Err(e))) => p.muted id="diff" { "The file cannot be read: " (e.to_string()) },
            _ => p.muted id="diff" { "No file to compare with." },
        }
        h2 { "Edges" @if !only.is_empty() { " of " (only) " " a href="/baseline" { "(all)" } } }
        table id="baseline-edges" {
            thead { tr { th { "Client" } th { "Server" } th { "Protocol" } th { "Zones" } th { "Operations" } th.num { "Seen" } th { "Last seen" } th { "State" } th {} } }
            tbody { @for e in edges.iter().take(MAX_BASELINE_ROWS) { tr {
                td { a href={"/assets/" (e.src)} { (e.src) } } td { a href={"/assets/" (e.dst)} { (e.dst) } } td { (e.protocol) }
                td { (e.src_zone) " → " (e.dst_zone) }
                td { (e.operations.keys().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")) }
                td.num { (e.seen.count) } td.time { (short_time(&e.seen.last_seen.to_string())) }
                td.state { (state_name(e.state)) }
                td { (curate_buttons(s, &format!("edge={}>{}/{}", e.src, e.dst, e.protocol))) }
            } } }
        }
        @if edges.len() > MAX_BASELINE_ROWS { p.muted { "The first " (MAX_BASELINE_ROWS) " of " (edges.len()) " (GET /api/baseline has all)." } }
        h2 { "Assets" }
        table id="baseline-assets" {
            thead { tr { th { "Asset" } th { "Zone" } th.num { "Seen" } th { "Last seen" } th { "State" } th {} } }
            tbody { @for (ip, a) in running.assets.iter().filter(|(ip, _)| only.is_empty() || ip.to_string() == only).take(MAX_BASELINE_ROWS) { tr {
                td { a href={"/assets/" (ip)} { (ip) } } td { (a.zone) } td.num { (a.seen.count) }
                td.time { (short_time(&a.seen.last_seen.to_string())) } td.state { (state_name(a.state)) }
                td { (curate_buttons(s, &format!("asset={ip}"))) }
            } } }
        }
    }
    .into_string()
}
