//! `otsensor baseline ...` and `otsensor rules`: reviewing and curating learned baselines.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use otsensor_baselines::baseline::{Baseline, Caps, EdgeEntry, State};
use otsensor_baselines::conversations::ConversationEntry;
use otsensor_baselines::rules;
use otsensor_baselines::streams::StreamEntry;
use otsensor_baselines::time::Timestamp;
use otsensor_baselines::triage::{self, Action, AlertRef};

use crate::cli::BadInput;
use crate::cli::BaselineCommand;

fn load(p: &Path) -> anyhow::Result<Baseline> {
    Baseline::load(p).map_err(|e| BadInput(e.to_string()).into())
}

/// Runs a baseline subcommand.
pub fn run(cmd: BaselineCommand) -> anyhow::Result<()> {
    match cmd {
        BaselineCommand::Show { file } => emit(&show(&load(&file)?))?,
        BaselineCommand::Diff { old, new } => emit(&diff(&load(&old)?, &load(&new)?))?,
        BaselineCommand::Graph { file } => emit(&graph(&load(&file)?))?,
        BaselineCommand::Approve { file, selector } => {
            set_state(&file, &selector, State::Approved)?
        }
        BaselineCommand::Suppress { file, selector } => {
            set_state(&file, &selector, State::Suppressed)?
        }
        BaselineCommand::Learn(d) => decide(&d.file, &d.alert, Action::Learn, d.by, &d.reason)?,
        BaselineCommand::Mute(d) => decide(&d.file, &d.alert, Action::Mute, d.by, &d.reason)?,
        BaselineCommand::Unmute(d) => decide(&d.file, &d.alert, Action::Unmute, d.by, &d.reason)?,
        BaselineCommand::Merge { output, inputs } => {
            let mut merged = Baseline::default();
            let mut left_out = 0;
            for p in &inputs {
                left_out += merged.merge(&load(p)?, &Caps::default());
            }
            if left_out > 0 {
                eprintln!(
                    "otsensor: warning: {left_out} entries left out of {} (baseline caps reached)",
                    output.display()
                );
            }
            merged.save(&output).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{}: {} assets, {} edges from {} baselines",
                output.display(),
                merged.assets.len(),
                merged.edges.len(),
                inputs.len()
            );
        }
    }
    Ok(())
}

/// The alerts named by `arg`: an id, `-` (standard input) or a file of JSON records, one per
/// line (the last record of each id counts: a SIEM export holds an alert's updates too).
fn alerts_of(arg: &str) -> anyhow::Result<Vec<AlertRef>> {
    if let Ok(a) = AlertRef::parse(arg) {
        if a.record.is_none() {
            return Ok(vec![a]);
        }
    }
    let text = if arg == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(arg).map_err(|e| BadInput(format!("cannot read {arg}: {e}")))?
    };
    let mut by_id: Vec<AlertRef> = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let a = AlertRef::parse(line).map_err(|e| BadInput(format!("{arg}:{}: {e}", i + 1)))?;
        match by_id.iter_mut().find(|x| x.id == a.id) {
            Some(x) => *x = a,
            None => by_id.push(a),
        }
    }
    if by_id.is_empty() {
        return Err(BadInput(format!("{arg}: no alert")).into());
    }
    Ok(by_id)
}

fn decide(
    file: &Path,
    alert: &str,
    action: Action,
    by: Option<String>,
    reason: &str,
) -> anyhow::Result<()> {
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "otsensor".into());
    let mut b = load(file)?;
    for a in alerts_of(alert)? {
        let (next, what) = triage::apply(b, &a, action, &by, reason, Timestamp::now())
            .map_err(|e| BadInput(format!("alert {}: {e}", a.id)))?;
        b = next;
        println!("{}: {what}", file.display());
    }
    b.save(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn set_state(file: &Path, selector: &str, state: State) -> anyhow::Result<()> {
    let mut b = load(file)?;
    let n = b.set_state(selector, state).map_err(BadInput)?;
    if n == 0 {
        return Err(BadInput(format!(
            "{}: selector {selector:?} matches no entry",
            file.display()
        ))
        .into());
    }
    b.save(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}: {n} entries now {state:?}", file.display());
    Ok(())
}

fn ops(e: &EdgeEntry) -> String {
    e.operations
        .keys()
        .map(|o| o.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The readable table of `baseline show`.
pub fn show(b: &Baseline) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "baseline schema {} · sensors {} · {} assets · {} edges · {} .. {}",
        b.schema_version,
        b.sensors.iter().cloned().collect::<Vec<_>>().join(","),
        b.assets.len(),
        b.edges.len(),
        b.first_seen.map(|t| t.to_string()).unwrap_or_default(),
        b.last_seen.map(|t| t.to_string()).unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "\nASSETS\n{:<40} {:<12} {:<10} {:>9}  identity (MACs, firmware, names)",
        "ip", "zone", "state", "messages"
    );
    for (ip, a) in &b.assets {
        let mut id: Vec<String> = a.macs.iter().map(ToString::to_string).collect();
        id.extend(a.firmware.iter().map(|f| format!("firmware {f}")));
        id.extend(a.hostnames.iter().cloned());
        let line = format!(
            "{:<40} {:<12} {:<10} {:>9}  {}",
            ip.to_string(),
            a.zone,
            format!("{:?}", a.state).to_lowercase(),
            a.seen.count,
            id.join(", ")
        );
        let _ = writeln!(s, "{}", line.trim_end());
    }
    show_edges(b, &mut s);
    show_conversations(b, &mut s);
    show_streams(b, &mut s);
    show_learned(b, &mut s);
    s
}

/// `show`'s edges, with their functions, units and address ranges.
fn show_edges(b: &Baseline, s: &mut String) {
    let _ = writeln!(s, "\nEDGES");
    for e in &b.edges {
        let _ = writeln!(
            s,
            "{} ({}) -> {} ({})  {}  [{}]  {} messages  state {}",
            e.src,
            e.src_zone,
            e.dst,
            e.dst_zone,
            e.protocol,
            ops(e),
            e.seen.count,
            format!("{:?}", e.state).to_lowercase()
        );
        for (code, f) in &e.functions {
            let timing = f
                .timing
                .as_ref()
                .map(|t| {
                    format!(
                        "  interval median {} ms, {}..{} ms ({} samples)",
                        t.period_ms, t.min_ms, t.max_ms, t.samples
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "    fn {code:<5} {:<34} {:<16} {:>8} msgs{timing}",
                f.name,
                f.operation.as_str(),
                f.seen.count
            );
        }
        if !e.units.is_empty() {
            let _ = writeln!(s, "    units {}", units(&e.units));
        }
        for (area, iv) in &e.ranges {
            let _ = writeln!(s, "    {area}: {}", ranges(iv.as_slice()));
        }
    }
}

/// `show`'s conversations.
fn show_conversations(b: &Baseline, s: &mut String) {
    if !b.conversations.is_empty() {
        let _ = writeln!(
            s,
            "\nCONVERSATIONS (every flow: client -> server port/transport, application)\n\
             {:<40} {:<40} {:<14} {:<14} {:<10} {:>7}",
            "client", "server", "port", "application", "state", "flows"
        );
        for c in &b.conversations {
            let _ = writeln!(
                s,
                "{:<40} {:<40} {:<14} {:<14} {:<10} {:>7}",
                c.client.to_string(),
                c.server.to_string(),
                conversation_port(c),
                c.label,
                state(c.state),
                c.seen.count
            );
        }
    }
}

/// `show`'s GOOSE and Sampled Values streams.
fn show_streams(b: &Baseline, s: &mut String) {
    if !b.streams.is_empty() {
        let _ = writeln!(
            s,
            "\nSTREAMS (GOOSE control blocks and Sampled Values: publisher -> group, APPID)"
        );
        for x in &b.streams {
            let _ = writeln!(
                s,
                "{:<5} {:<40} {} -> {} appid {:#06x} {:<10} {:>7}",
                x.protocol,
                x.id,
                x.publisher,
                x.destination,
                x.appid,
                state(x.state),
                x.seen.count
            );
            let mut more = Vec::new();
            if !x.dat_set.is_empty() {
                more.push(format!("dataset {}", x.dat_set));
            }
            if let Some(r) = x.conf_rev {
                more.push(format!("confRev {r}"));
            }
            if let Some(h) = x.heartbeat_ms {
                more.push(format!("heartbeat {h} ms"));
            }
            if !more.is_empty() {
                let _ = writeln!(s, "    {}", more.join(", "));
            }
        }
    }
}

/// `show`'s learned alerts and decisions.
fn show_learned(b: &Baseline, s: &mut String) {
    if !b.alerts.is_empty() {
        let _ = writeln!(s, "\nLEARNED ALERTS (not raised again when detecting)");
        for a in &b.alerts {
            let _ = writeln!(
                s,
                "{:<34} {:<40} {:<10} {:>6}x",
                a.rule,
                a.key,
                state(a.state),
                a.seen.count
            );
        }
    }
    if !b.decisions.is_empty() {
        let _ = writeln!(s, "\nDECISIONS (audit trail)");
        for d in &b.decisions {
            let _ = writeln!(s, "{}", decision_line(d));
        }
    }
}

/// One decision, for `show` and `diff`.
fn decision_line(d: &triage::Decision) -> String {
    let action = match d.action {
        Action::Learn => "learn",
        Action::Mute => "mute",
        Action::Unmute => "unmute",
    };
    let mut line = format!("{} {action} alert {} by {}", d.at, d.alert_id, d.by);
    if !d.rule.is_empty() {
        let _ = write!(line, ": {} {}", d.rule, d.key);
    }
    if !d.reason.is_empty() {
        let _ = write!(line, " ({})", d.reason);
    }
    line
}

/// Address intervals as `1-99 399-400 2258`.
fn ranges(iv: &[[u32; 2]]) -> String {
    if iv.is_empty() {
        return "(none)".to_string();
    }
    iv.iter()
        .map(|r| {
            if r[0] == r[1] {
                r[0].to_string()
            } else {
                format!("{}-{}", r[0], r[1])
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Unit ids as `1 2 255`.
fn units<T: std::fmt::Display>(u: &BTreeSet<T>) -> String {
    if u.is_empty() {
        return "(none)".to_string();
    }
    u.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn state(s: State) -> String {
    format!("{s:?}").to_lowercase()
}

/// A learned period changed enough to show in a diff (more than a quarter, or from or to
/// below 1 ms): smaller drifts are the jitter of any real poll loop.
fn period_changed(old: u64, new: u64) -> bool {
    let (lo, hi) = (old.min(new).max(1) as f64, old.max(new).max(1) as f64);
    hi / lo > 1.25
}

/// `502/tcp`, `dynamic/tcp` (port 0 of an unknown application), `icmp`.
fn conversation_port(c: &ConversationEntry) -> String {
    match (c.port, c.transport.as_str()) {
        (0, t @ ("tcp" | "udp")) => format!("dynamic/{t}"),
        (0, t) => t.to_string(),
        (p, t) => format!("{p}/{t}"),
    }
}

fn conversation_map(b: &Baseline) -> BTreeMap<String, &ConversationEntry> {
    b.conversations
        .iter()
        .map(|c| {
            (
                format!(
                    "{}>{} {} {}",
                    c.client,
                    c.server,
                    conversation_port(c),
                    c.label
                ),
                c,
            )
        })
        .collect()
}

/// The streams' differences: added, removed, and what changed in each (publisher, group,
/// dataset, confRev, heartbeat by more than a quarter, state).
fn stream_diff(a: &Baseline, b: &Baseline, s: &mut String) {
    let (sa, sb) = (stream_map(a), stream_map(b));
    for k in sa.keys().filter(|k| !sb.contains_key(*k)) {
        let _ = writeln!(s, "- stream {k}");
    }
    for (k, x) in &sb {
        let Some(y) = sa.get(k) else {
            let _ = writeln!(s, "+ stream {k} from {} to {}", x.publisher, x.destination);
            continue;
        };
        let mut changed = Vec::new();
        if (y.publisher, y.destination, y.appid) != (x.publisher, x.destination, x.appid) {
            changed.push(format!(
                "{} -> {} appid {:#06x} -> {} -> {} appid {:#06x}",
                y.publisher, y.destination, y.appid, x.publisher, x.destination, x.appid
            ));
        }
        if y.dat_set != x.dat_set {
            changed.push(format!("dataset {} -> {}", y.dat_set, x.dat_set));
        }
        if y.conf_rev != x.conf_rev {
            let rev = |r: Option<u32>| r.map_or("none".to_string(), |r| r.to_string());
            changed.push(format!(
                "confRev {} -> {}",
                rev(y.conf_rev),
                rev(x.conf_rev)
            ));
        }
        if let (Some(h0), Some(h1)) = (y.heartbeat_ms, x.heartbeat_ms) {
            if period_changed(h0, h1) {
                changed.push(format!("heartbeat {h0} -> {h1} ms"));
            }
        }
        if y.state != x.state {
            changed.push(format!("state {} -> {}", state(y.state), state(x.state)));
        }
        for c in changed {
            let _ = writeln!(s, "~ stream {k} {c}");
        }
    }
}

fn stream_map(b: &Baseline) -> BTreeMap<String, &StreamEntry> {
    b.streams
        .iter()
        .map(|x| (format!("{} {}", x.protocol, x.id), x))
        .collect()
}

fn edge_map(b: &Baseline) -> BTreeMap<String, &EdgeEntry> {
    b.edges
        .iter()
        .map(|e| (format!("{}>{}/{}", e.src, e.dst, e.protocol), e))
        .collect()
}

/// What changed from `a` to `b`, one line per difference (`+` added, `-` removed, `~` changed).
pub fn diff(a: &Baseline, b: &Baseline) -> String {
    let mut s = String::new();
    for ip in a.assets.keys().filter(|k| !b.assets.contains_key(k)) {
        let _ = writeln!(s, "- asset {ip}");
    }
    for (ip, x) in &b.assets {
        match a.assets.get(ip) {
            None => {
                let _ = writeln!(s, "+ asset {ip} (zone {})", x.zone);
            }
            Some(y) if y.state != x.state => {
                let _ = writeln!(
                    s,
                    "~ asset {ip} state {} -> {}",
                    state(y.state),
                    state(x.state)
                );
            }
            _ => {}
        }
    }
    let (ea, eb) = (edge_map(a), edge_map(b));
    for k in ea.keys().filter(|k| !eb.contains_key(*k)) {
        let _ = writeln!(s, "- edge {k}");
    }
    for (k, x) in &eb {
        match ea.get(k) {
            Some(y) => edge_diff(k, y, x, &mut s),
            None => {
                let _ = writeln!(s, "+ edge {k} [{}]", ops(x));
            }
        }
    }
    conversation_diff(a, b, &mut s);
    stream_diff(a, b, &mut s);
    learned_diff(a, b, &mut s);
    if s.is_empty() {
        s.push_str("no differences\n");
    }
    s
}

/// What changed on one edge `k` from `y` (old) to `x` (new).
fn edge_diff(k: &str, y: &EdgeEntry, x: &EdgeEntry, s: &mut String) {
    if y.state != x.state {
        let _ = writeln!(
            s,
            "~ edge {k} state {} -> {}",
            state(y.state),
            state(x.state)
        );
    }
    for op in x
        .operations
        .keys()
        .filter(|o| !y.operations.contains_key(o))
    {
        let _ = writeln!(s, "+ edge {k} operation {op}");
    }
    for op in y
        .operations
        .keys()
        .filter(|o| !x.operations.contains_key(o))
    {
        let _ = writeln!(s, "- edge {k} operation {op}");
    }
    for (c, f) in x
        .functions
        .iter()
        .filter(|(c, _)| !y.functions.contains_key(c))
    {
        let _ = writeln!(s, "+ edge {k} function {c} {}", f.name);
    }
    for c in y.functions.keys().filter(|c| !x.functions.contains_key(c)) {
        let _ = writeln!(s, "- edge {k} function {c}");
    }
    for (c, f) in &x.functions {
        if let (Some(t1), Some(t0)) = (
            f.timing.as_ref(),
            y.functions.get(c).and_then(|g| g.timing.as_ref()),
        ) {
            if period_changed(t0.period_ms, t1.period_ms) {
                let _ = writeln!(
                    s,
                    "~ edge {k} function {c} period {} -> {} ms",
                    t0.period_ms, t1.period_ms
                );
            }
        }
    }
    if x.units != y.units {
        let _ = writeln!(
            s,
            "~ edge {k} units {} -> {}",
            units(&y.units),
            units(&x.units)
        );
    }
    let areas: BTreeSet<_> = x.ranges.keys().chain(y.ranges.keys()).collect();
    for area in areas {
        let (old, new) = (y.ranges.get(area), x.ranges.get(area));
        if old != new {
            let _ = writeln!(
                s,
                "~ edge {k} {area} {} -> {}",
                ranges(old.map(|r| r.as_slice()).unwrap_or_default()),
                ranges(new.map(|r| r.as_slice()).unwrap_or_default())
            );
        }
    }
}

/// Conversations added, removed, or whose state changed.
fn conversation_diff(a: &Baseline, b: &Baseline, s: &mut String) {
    let (ca, cb) = (conversation_map(a), conversation_map(b));
    for k in ca.keys().filter(|k| !cb.contains_key(*k)) {
        let _ = writeln!(s, "- conversation {k}");
    }
    for (k, x) in &cb {
        match ca.get(k) {
            None => {
                let _ = writeln!(s, "+ conversation {k}");
            }
            Some(y) if y.state != x.state => {
                let _ = writeln!(
                    s,
                    "~ conversation {k} state {} -> {}",
                    state(y.state),
                    state(x.state)
                );
            }
            _ => {}
        }
    }
}

/// Learned alerts and decisions added or removed.
fn learned_diff(a: &Baseline, b: &Baseline, s: &mut String) {
    let alerts = |b: &Baseline| -> BTreeSet<(String, String)> {
        b.alerts
            .iter()
            .map(|a| (a.rule.clone(), a.key.clone()))
            .collect()
    };
    let (aa, ab) = (alerts(a), alerts(b));
    for (rule, key) in aa.difference(&ab) {
        let _ = writeln!(s, "- alert {rule} {key}");
    }
    for (rule, key) in ab.difference(&aa) {
        let _ = writeln!(s, "+ alert {rule} {key}");
    }
    for d in b.decisions.iter().filter(|d| !a.decisions.contains(d)) {
        let _ = writeln!(s, "+ decision {}", decision_line(d));
    }
    for d in a.decisions.iter().filter(|d| !b.decisions.contains(d)) {
        let _ = writeln!(s, "- decision {}", decision_line(d));
    }
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT: zones as clusters, assets as nodes, edges labelled with protocol and
/// operations.
pub fn graph(b: &Baseline) -> String {
    let mut s = String::from("digraph baseline {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
    let mut by_zone: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (ip, a) in &b.assets {
        by_zone
            .entry(a.zone.as_str())
            .or_default()
            .push(ip.to_string());
    }
    for (i, (zone, ips)) in by_zone.iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph cluster_{i} {{\n    label={};\n    style=rounded;",
            dot_id(zone)
        );
        for ip in ips {
            let _ = writeln!(s, "    {};", dot_id(ip));
        }
        s.push_str("  }\n");
    }
    for e in &b.edges {
        let style = match e.state {
            State::Suppressed => ", style=dashed",
            State::Approved => ", style=bold",
            State::Learning => "",
        };
        let _ = writeln!(
            s,
            "  {} -> {} [label={}{style}];",
            dot_id(&e.src.to_string()),
            dot_id(&e.dst.to_string()),
            dot_id(&format!("{} [{}]", e.protocol, ops(e)))
        );
    }
    s.push_str("}\n");
    s
}

/// A plain-text table: columns as wide as their widest cell (the last one unpadded), the
/// columns in `right` aligned right.
pub fn text_table(head: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let head: Vec<String> = head.iter().map(|h| h.to_string()).collect();
    for r in std::iter::once(&head).chain(rows) {
        let last = r.len().saturating_sub(1);
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if i == last {
                line.push_str(c);
            } else if right.contains(&i) {
                let _ = write!(line, "{c:>w$}");
            } else {
                let _ = write!(line, "{c:<w$}");
            }
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
    s
}

/// The rule catalog of `otsensor rules`: the built-in rules, then `more` (a config's Sigma
/// rules).
pub fn rules_table(more: &[&'static otsensor_baselines::alert::Rule]) -> String {
    let rows: Vec<Vec<String>> = rules::all()
        .iter()
        .chain(more)
        .map(|r| {
            let techniques: Vec<String> = r
                .techniques
                .iter()
                .map(|t| match t.v19 {
                    Some((v19, _)) => format!("{}({v19})", t.id),
                    None => t.id.to_string(),
                })
                .collect();
            vec![
                r.id.to_string(),
                format!("{:?}", r.engine).to_lowercase(),
                r.severity.to_string(),
                techniques.join(","),
                r.title.to_string(),
            ]
        })
        .collect();
    text_table(
        &[
            "id",
            "engine",
            "severity",
            "att&ck (v19 where changed)",
            "title",
        ],
        &rows,
        &[2],
    )
}

/// What `otsensor protocols` lists: every name a conduit, a Sigma rule's `service` or
/// `[protocols.NAME]` takes, what the sensor does with it, and its ports.
pub fn protocols_table(registry: &crate::registry::Registry) -> String {
    use otsensor_protocols::applabel::App;
    let ports = |p: &[u16]| p.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let mut rows = Vec::new();
    for d in otsensor_protocols::PROTOCOLS {
        let spec = registry.protocols().iter().find(|p| p.name == d.name);
        let (kind, content) = match (d.parser.is_some(), spec) {
            (true, Some(p)) => ("parsed", if p.by_content { "yes" } else { "no" }),
            (true, None) => ("switched off", "-"),
            (false, _) => ("parsed (inside another)", "-"),
        };
        let mut tcp = d.tcp_ports.to_vec();
        let mut udp = d.udp_ports.to_vec();
        if let Some(p) = spec {
            tcp.extend(&p.extra_ports);
            udp.extend(&p.extra_ports);
        }
        rows.push(vec![
            d.name.to_string(),
            kind.to_string(),
            ports(&tcp),
            ports(&udp),
            content.to_string(),
            d.summary.to_string(),
        ]);
    }
    for (name, what) in [
        (
            "goose",
            "IEC 61850 GOOSE (EtherType 0x88b8): APDU, dataset, stNum/sqNum, values",
        ),
        (
            "sv",
            "IEC 61850 Sampled Values (EtherType 0x88ba): ASDUs, smpCnt, confRev",
        ),
        (
            "pn_dcp",
            "PROFINET DCP (EtherType 0x8892): identify, get and set with station names",
        ),
        (
            "pn_rt",
            "PROFINET RT (EtherType 0x8892): cyclic frames counted, alarms",
        ),
    ] {
        rows.push(vec![
            name.into(),
            "layer 2".into(),
            String::new(),
            String::new(),
            "-".into(),
            what.into(),
        ]);
    }
    for a in App::ALL {
        let (tcp, udp) = a.ports();
        rows.push(vec![
            a.as_str().into(),
            "labelled".into(),
            ports(tcp),
            ports(udp),
            "-".into(),
            "application label (by port, or by content where it has a signature): flow records, conversations, zone policy".into(),
        ]);
    }
    for (name, what) in [
        ("icmp", "ICMP: flow records, zone policy"),
        ("icmpv6", "ICMPv6: flow records, zone policy"),
        ("ip", "other IP protocols: flow records, zone policy"),
        (
            "unknown",
            "TCP or UDP no parser or label recognised: flow records, zone policy",
        ),
    ] {
        rows.push(vec![
            name.into(),
            "other".into(),
            String::new(),
            String::new(),
            "-".into(),
            what.into(),
        ]);
    }
    text_table(
        &[
            "name",
            "kind",
            "tcp ports",
            "udp ports",
            "by content",
            "what",
        ],
        &rows,
        &[],
    )
}

/// Writes command output to stdout; a closed pipe (`| head`) ends the output quietly.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(Into::into),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_book_lists_every_rule() {
        let book = include_str!("../../docs/src/detections.md");
        let table = super::rules_table(&[]);
        assert!(
            book.contains(&table),
            "docs/src/detections.md's rule table differs from `otsensor rules`:\n{table}"
        );
    }
}
