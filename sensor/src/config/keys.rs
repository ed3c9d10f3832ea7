//! Every key of the configuration file, with its type, default and allowed range: the one
//! table that `config check` and the start of every run check values against (before the
//! file is read into [`super::Config`], so a value out of range is refused with its key and
//! never allocates), and that the book's key table is printed from (`otsensor config keys`).
//!
//! A key's path is dotted; `name[]` is every entry of an array of tables, `name[kind]` the
//! entries whose `type` is `kind` (sinks). A list of numbers has each element checked.

use toml::Value;

/// What values a key takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// An integer in `min..=max` (a list of them: each element).
    Int(i64, i64),
    /// A finite number above `min` (`min` itself only when `min_ok`) and at most `max`.
    Number { min: f64, min_ok: bool, max: f64 },
    /// Checked elsewhere (by the file's reader or a rule of [`super::check`]); the text says
    /// what is allowed.
    Text(&'static str),
}

/// One key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Dotted path (see the module doc).
    pub path: &'static str,
    /// TOML type.
    pub ty: &'static str,
    /// Default, as written in the file (`—` when the key has none).
    pub default: &'static str,
    /// Allowed values.
    pub range: Range,
}

const YEAR: i64 = 365 * 86_400;
const DAY: i64 = 86_400;
const MILLION: i64 = 1_000_000;

const fn int(path: &'static str, default: &'static str, min: i64, max: i64) -> Key {
    Key {
        path,
        ty: "integer",
        default,
        range: Range::Int(min, max),
    }
}

const fn text(
    path: &'static str,
    ty: &'static str,
    default: &'static str,
    what: &'static str,
) -> Key {
    Key {
        path,
        ty,
        default,
        range: Range::Text(what),
    }
}

const fn positive(path: &'static str, default: &'static str, max: f64) -> Key {
    Key {
        path,
        ty: "number",
        default,
        range: Range::Number {
            min: 0.0,
            min_ok: false,
            max,
        },
    }
}

const FORMATS: &str = "`json`, `ocsf`, `cef`, `leef`";

/// Packets a worker's queue may hold at most (`queue_batches × batch_packets`): with the
/// bound on each, what the reader can have in flight per worker.
pub const MAX_QUEUED_PACKETS: i64 = 1 << 20;

/// Every key of the file, section by section.
pub const KEYS: &[Key] = &[
    int("pipeline.workers", "0", 0, 256),
    int("pipeline.queue_batches", "16", 1, 1024),
    int("pipeline.batch_packets", "512", 1, 65_536),
    text(
        "pipeline.on_full",
        "string",
        "\"block\"",
        "`block` (wait) or `drop` (count and drop the batch)",
    ),
    int("flows.max_flows", "1000000", 1, 20 * MILLION),
    int("flows.max_half_open", "100000", 1, 20 * MILLION),
    int("flows.tcp_idle_timeout_secs", "3600", 1, YEAR),
    int("flows.tcp_closed_timeout_secs", "30", 1, YEAR),
    int("flows.udp_idle_timeout_secs", "300", 1, YEAR),
    int("flows.other_idle_timeout_secs", "60", 1, YEAR),
    int("flows.tcp_half_open_timeout_secs", "60", 1, YEAR),
    int("flows.emergency_timeout_secs", "5", 1, YEAR),
    int("flows.interim_secs", "300", 1, YEAR),
    int("flows.max_l2_flows", "65536", 1, 20 * MILLION),
    int("flows.l2_idle_timeout_secs", "60", 1, YEAR),
    int("reassembly.max_ooo_bytes", "262144", 0, 16 << 20),
    int("reassembly.max_ooo_segments", "256", 1, 65_536),
    int("capture.snaplen", "65535", 64, 262_144),
    int("capture.buffer_size", "33554432", 65_536, 1 << 31),
    text("capture.promiscuous", "boolean", "true", "true, false"),
    text("capture.immediate", "boolean", "false", "true, false"),
    int("capture.timeout_ms", "100", 1, 10_000),
    text(
        "capture[].interface",
        "string",
        "—",
        "an interface name, each listed once",
    ),
    text("capture[].bpf", "string", "—", "a libpcap filter"),
    int("capture[].snaplen", "`capture.snaplen`", 64, 262_144),
    int(
        "capture[].buffer_size",
        "`capture.buffer_size`",
        65_536,
        1 << 31,
    ),
    text(
        "capture[].promiscuous",
        "boolean",
        "`capture.promiscuous`",
        "true, false",
    ),
    text(
        "capture[].immediate",
        "boolean",
        "`capture.immediate`",
        "true, false",
    ),
    int("capture[].timeout_ms", "`capture.timeout_ms`", 1, 10_000),
    text("sensor.id", "string", "the host name", "any"),
    text("sensor.site", "string", "\"\"", "any"),
    text("sensor.user", "string", "—", "a user name (not empty)"),
    int("sensor.stats_interval_secs", "60", 0, DAY),
    text(
        "zones[].name",
        "string",
        "—",
        "not empty, unique, not `policy.default_zone`",
    ),
    text(
        "zones[].cidrs",
        "list of strings",
        "[]",
        "CIDRs, each in one zone only",
    ),
    text(
        "zones[].macs",
        "list of strings",
        "[]",
        "MAC addresses (`00:80:f4:01:02:03`), each in one zone only; a device's own, never a router's",
    ),
    Key {
        path: "zones[].vlans",
        ty: "list of integers",
        default: "[]",
        range: Range::Int(0, 4095),
    },
    text(
        "zones[].interfaces",
        "list of strings",
        "[]",
        "capture interfaces, each in one zone only",
    ),
    text(
        "zones[].purdue",
        "integer or string",
        "—",
        "0 to 5, `dmz` or `it`",
    ),
    text(
        "conduits[].from",
        "string",
        "—",
        "a zone (or `policy.default_zone`)",
    ),
    text(
        "conduits[].to",
        "string",
        "—",
        "another zone (or `policy.default_zone`)",
    ),
    text(
        "conduits[].protocols",
        "list of strings",
        "—",
        "the names `otsensor protocols` lists: parsed protocols (`modbus`, `dnp3`, ...), layer 2 (`goose`, ...) and flow labels (`http`, `tls`, `rdp`, ..., `icmp`, `unknown`); with `ports`, at least one of the two",
    ),
    text(
        "conduits[].ports",
        "list of strings",
        "none",
        "server ports allowed whatever the label: `tcp/8080`, `udp/161`, `tcp/49152-65535`",
    ),
    text(
        "conduits[].operations",
        "list of strings",
        "all",
        "`read`, `write`, `control`, `program`, `firmware`, `diagnostics`, `other`",
    ),
    text(
        "policy.default_zone",
        "string",
        "\"unzoned\"",
        "not empty, not a configured zone",
    ),
    int("baseline.save_interval_secs", "300", 1, DAY),
    positive("baseline.timing_factor", "4.0", 1000.0),
    int("baseline.min_timing_samples", "10", 1, MILLION),
    positive("baseline.rate_factor", "4.0", 1000.0),
    int("baseline.min_rate_per_minute", "60", 0, MILLION),
    positive("baseline.poll_stop_periods", "10.0", 1000.0),
    int("baseline.max_edges", "100000", 1, 10 * MILLION),
    int("baseline.max_assets", "100000", 1, 10 * MILLION),
    int("baseline.max_functions", "256", 1, 65_536),
    int("baseline.max_units", "256", 1, 65_536),
    int("baseline.max_areas", "64", 1, 65_536),
    int("baseline.max_ranges", "32", 1, 65_536),
    int("baseline.max_timings", "20000", 1, 10 * MILLION),
    text(
        "rules.disabled",
        "list of strings",
        "[]",
        "rule ids (`otsensor rules`)",
    ),
    text(
        "rules.sigma",
        "list of strings",
        "[]",
        "Sigma rule files and directories of `.yml` files",
    ),
    Key {
        path: "rules.severity.*",
        ty: "integer",
        default: "the rule's",
        range: Range::Int(1, 10),
    },
    int("alerts.update_interval_secs", "300", 1, DAY),
    text("alerts.format", "string", "\"json\"", FORMATS),
    int("alerts.max_alerts", "100000", 1, 10 * MILLION),
    text("sinks[].type", "string", "—", "`stdout`, `file`, `kafka`"),
    text("sinks[].format", "string", "`alerts.format`", FORMATS),
    text(
        "sinks[file].path",
        "string",
        "—",
        "a file in an existing directory",
    ),
    int("sinks[file].max_bytes", "0", 0, 1 << 40),
    int("sinks[file].max_files", "5", 1, 1000),
    text(
        "sinks[kafka].brokers",
        "string",
        "—",
        "host:port,... (not with `event_hubs`)",
    ),
    text("sinks[kafka].topic", "string", "—", "not empty"),
    text("sinks[kafka].assets_topic", "string", "—", "a topic"),
    text("sinks[kafka].flows_topic", "string", "—", "a topic"),
    text(
        "sinks[kafka].decisions_topic",
        "string",
        "—",
        "a topic the SOC posts decisions to (learn, mute, unmute)",
    ),
    text(
        "sinks[kafka].security.protocol",
        "string",
        "—",
        "`plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl`",
    ),
    text(
        "sinks[kafka].security.mechanism",
        "string",
        "`PLAIN`",
        "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`",
    ),
    text(
        "sinks[kafka].security.username",
        "string",
        "—",
        "needed with SASL",
    ),
    text(
        "sinks[kafka].security.password_env",
        "string",
        "—",
        "an environment variable that is set",
    ),
    text(
        "sinks[kafka].security.password_file",
        "string",
        "—",
        "a readable file",
    ),
    text(
        "sinks[kafka].event_hubs.connection_string_env",
        "string",
        "—",
        "an environment variable that is set",
    ),
    text(
        "sinks[kafka].event_hubs.connection_string_file",
        "string",
        "—",
        "a readable file",
    ),
    text(
        "sinks[kafka].librdkafka",
        "table of strings",
        "{}",
        "librdkafka options that do not contradict the sink's own",
    ),
    text("sinks[kafka].spool_dir", "string", "—", "a directory"),
    int(
        "sinks[kafka].spool_max_bytes",
        "1073741824",
        1 << 20,
        1 << 40,
    ),
    int("sinks[kafka].flush_timeout_secs", "10", 1, 3600),
    int("detection.anomaly_window_secs", "60", 1, DAY),
    int("detection.host_scan", "32", 1, 100_000),
    int("detection.port_scan", "16", 1, 100_000),
    int("detection.unit_scan", "16", 1, 100_000),
    int("detection.szl_enumeration", "8", 1, 100_000),
    int("detection.sessions", "100", 1, 100_000),
    int("detection.syn_flood", "1000", 1, MILLION),
    int("detection.connection_flood", "256", 1, 100_000),
    int("detection.distributed_scan", "128", 1, 100_000),
    int("detection.malformed_threshold", "3", 1, MILLION),
    int("detection.exception_storm", "20", 1, MILLION),
    int("detection.exception_window_secs", "60", 1, DAY),
    int("detection.max_tracked", "100000", 1, 10 * MILLION),
    int("health.interval_secs", "10", 1, DAY),
    Key {
        path: "health.max_loss_ratio",
        ty: "number",
        default: "0.001",
        range: Range::Number {
            min: 0.0,
            min_ok: true,
            max: 1.0,
        },
    },
    int("health.silent_secs", "60", 1, 30 * DAY),
    int("health.sink_secs", "60", 1, 30 * DAY),
    text("metrics.listen", "string", "—", "ADDRESS:PORT"),
    text(
        "console.listen",
        "string",
        "—",
        "ADDRESS:PORT (loopback unless TLS is set)",
    ),
    text("console.tls_cert", "string", "—", "a PEM certificate chain"),
    text("console.tls_key", "string", "—", "a PEM private key"),
    int("console.session_minutes", "480", 1, 7 * 24 * 60),
    text(
        "console.audit_log",
        "string",
        "—",
        "a file (JSON lines, appended)",
    ),
    text("console.users[].name", "string", "—", "a login name"),
    text(
        "console.users[].password_hash",
        "string",
        "—",
        "an argon2id PHC string",
    ),
    text(
        "console.users[].role",
        "string",
        "viewer",
        "`viewer`, `operator`",
    ),
    int("assets.max_assets", "100000", 1, 10 * MILLION),
    text("evidence.dir", "string", "—", "an existing directory"),
    int("evidence.packets_before", "16", 0, 10_000),
    int("evidence.packets_after", "16", 0, 10_000),
    int("evidence.max_flow_bytes", "262144", 1024, 64 << 20),
    int("evidence.max_memory_bytes", "67108864", 1 << 20, 16 << 30),
    int("evidence.max_bytes", "1073741824", 1 << 20, 1 << 44),
    text(
        "enip.vendors",
        "string",
        "—",
        "a CSV file of `id,name` lines (ODVA vendor ids)",
    ),
    text("protocols.*.enabled", "boolean", "true", "true, false"),
    Key {
        path: "protocols.*.ports",
        ty: "list of integers",
        default: "[]",
        range: Range::Int(1, 65535),
    },
    text(
        "protocols.*.detect_by_content",
        "boolean",
        "true",
        "true, false",
    ),
    int("protocols.*.max_outstanding", "64", 1, 65_536),
    int("protocols.*.max_message", "0", 0, 64 << 20),
];

/// The key's name in messages: its path without the array markers (`sinks.max_files`).
pub fn display(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut skip = false;
    for c in path.chars() {
        match c {
            '[' => skip = true,
            ']' => skip = false,
            _ if !skip => out.push(c),
            _ => {}
        }
    }
    out.trim_end_matches(".*").to_string()
}

/// The values at `path` in `doc`, each with the name to report it under.
fn values<'a>(doc: &'a Value, path: &str) -> Vec<(String, &'a Value)> {
    let mut here: Vec<(String, &Value)> = vec![(String::new(), doc)];
    for seg in path.split('.') {
        let mut next = Vec::new();
        for (name, v) in here {
            let join = |k: &str| {
                if name.is_empty() {
                    k.to_string()
                } else {
                    format!("{name}.{k}")
                }
            };
            if seg == "*" {
                if let Some(t) = v.as_table() {
                    next.extend(t.iter().map(|(k, x)| (join(k), x)));
                }
                continue;
            }
            let (key, filter) = match seg.split_once('[') {
                Some((k, f)) => (k, Some(f.trim_end_matches(']'))),
                None => (seg, None),
            };
            let Some(x) = v.as_table().and_then(|t| t.get(key)) else {
                continue;
            };
            match (filter, x) {
                (None, Value::Array(_))
                    if x.as_array().is_some_and(|a| a.iter().any(Value::is_table)) => {}
                (None, _) => next.push((join(key), x)),
                (Some(kind), Value::Array(entries)) => {
                    for e in entries {
                        let of_kind =
                            kind.is_empty() || e.get("type").and_then(Value::as_str) == Some(kind);
                        if of_kind && e.is_table() {
                            next.push((join(key), e));
                        }
                    }
                }
                (Some(_), _) => {}
            }
        }
        here = next;
    }
    here
}

/// Checks every value of `doc` (the parsed file) against its key's range; the first value out
/// of range is an error naming its key.
pub fn check(doc: &Value) -> Result<(), (String, String)> {
    for k in KEYS {
        for (name, v) in values(doc, k.path) {
            check_value(k, v).map_err(|m| (name, m))?;
        }
    }
    Ok(())
}

fn check_value(k: &Key, v: &Value) -> Result<(), String> {
    if let Value::Array(items) = v {
        return items.iter().try_for_each(|x| check_value(k, x));
    }
    let describe = |_| k.allowed();
    let range = k.range;
    match range {
        Range::Int(min, max) => match v {
            Value::Integer(n) if (min..=max).contains(n) => Ok(()),
            Value::Integer(n) => Err(format!(
                "{n} is out of range (allowed: {})",
                describe(range)
            )),
            _ => Err(format!("must be an integer ({})", describe(range))),
        },
        Range::Number { min, min_ok, max } => {
            let x = match v {
                Value::Float(x) => *x,
                Value::Integer(n) => *n as f64,
                _ => return Err(format!("must be a number ({})", describe(range))),
            };
            let above = if min_ok { x >= min } else { x > min };
            if above && x <= max {
                Ok(())
            } else {
                Err(format!(
                    "{x} is out of range (allowed: {})",
                    describe(range)
                ))
            }
        }
        Range::Text(_) => Ok(()),
    }
}

impl Key {
    /// The allowed values in words.
    pub fn allowed(&self) -> String {
        let bytes = self.path.ends_with("bytes") || self.path.ends_with("buffer_size");
        let n = |v: i64| if bytes { human(v) } else { v.to_string() };
        match self.range {
            Range::Int(min, max) => format!("{} to {}", n(min), n(max)),
            range => describe(range),
        }
    }
}

/// The allowed values in words.
fn describe(range: Range) -> String {
    match range {
        Range::Int(min, max) => format!("{min} to {max}"),
        Range::Number {
            min,
            min_ok: true,
            max,
        } => format!("{min} to {max}"),
        Range::Number {
            min,
            min_ok: false,
            max,
        } => format!("above {min}, at most {max}"),
        Range::Text(t) => t.to_string(),
    }
}

/// Big powers of two as such (`1 GiB` reads better than 1073741824 in the table).
fn human(n: i64) -> String {
    const UNITS: [(i64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (u, name) in UNITS {
        if n >= u && n % u == 0 && n >= 1 << 16 {
            return format!("{n} ({} {name})", n / u);
        }
    }
    n.to_string()
}

/// The book's table of keys (`docs/src/configuration.md`; `otsensor config keys`).
pub fn markdown() -> String {
    let mut out = String::from("| key | type | default | allowed |\n|---|---|---|---|\n");
    for k in KEYS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            k.path,
            k.ty,
            k.default,
            k.allowed()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The entry an array key is set in, with what the entry needs besides it.
    fn context(path: &str) -> Option<(&'static str, &'static str)> {
        let (array, _) = path.split_once('.')?;
        Some(match array {
            "capture[]" => ("[[capture]]", "interface = \"lo\""),
            "zones[]" => ("[[zones]]", "name = \"z\"\ncidrs = [\"10.9.0.0/16\"]"),
            "sinks[file]" => (
                "[[sinks]]",
                "type = \"file\"\npath = \"/tmp/otsensor-keys-test.json\"",
            ),
            "sinks[kafka]" => (
                "[[sinks]]",
                "type = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopic = \"t\"",
            ),
            _ => return None,
        })
    }

    /// A config file setting `path` to `value` (TOML text).
    fn doc(path: &str, value: &str) -> String {
        // A table of named entries (`protocols.*.ports`): one of them.
        let path = path.replace(".*.", ".modbus.");
        let path = path.as_str();
        if let Some((header, needs)) = context(path) {
            let key = path.split_once('.').map_or(path, |(_, k)| k);
            let key = key.replace(".*", "");
            return format!("{header}\n{needs}\n{key} = {value}\n");
        }
        let (table, key) = path.rsplit_once('.').unwrap_or(("", path));
        format!("[{table}]\n{key} = {value}\n")
    }

    fn int_keys() -> impl Iterator<Item = (&'static Key, i64, i64)> {
        KEYS.iter().filter_map(|k| match k.range {
            Range::Int(min, max) if !k.path.ends_with(".*") => Some((k, min, max)),
            _ => None,
        })
    }

    #[test]
    fn each_bound_is_accepted_and_beyond_it_refused_naming_the_key() {
        for (k, min, max) in int_keys() {
            let wrap = |v: i64| {
                if k.ty.starts_with("list") {
                    format!("[{v}]")
                } else {
                    v.to_string()
                }
            };
            for ok in [min, max] {
                let text = doc(k.path, &wrap(ok));
                Config::parse(&text, "t")
                    .unwrap_or_else(|e| panic!("{}: {ok} refused: {e}\n{text}", k.path));
            }
            // The error names the key as written (`protocols.modbus.ports`).
            let name = display(&k.path.replace(".*.", ".modbus."));
            for bad in [min.checked_sub(1), max.checked_add(1)]
                .into_iter()
                .flatten()
            {
                let text = doc(k.path, &wrap(bad));
                let e = Config::parse(&text, "t").expect_err(&text).to_string();
                assert!(e.contains(&format!("{name}: {bad} is out of range")), "{e}");
            }
            let e = Config::parse(&doc(k.path, "\"x\""), "t")
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("{name}: must be")), "{e}");
        }
        let e = Config::parse(
            &doc("rules.severity.*", "0").replace(
                "[rules.severity]\n* =",
                "[rules.severity]\n\"policy.no_conduit\" =",
            ),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("rules.severity.policy.no_conduit: 0 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn numbers_refuse_zero_infinity_and_nan_where_they_must_be_positive() {
        for k in KEYS
            .iter()
            .filter(|k| matches!(k.range, Range::Number { min_ok: false, .. }))
        {
            for bad in ["0", "-1.5", "inf", "nan", "1e9"] {
                let e = Config::parse(&doc(k.path, bad), "t")
                    .unwrap_err()
                    .to_string();
                assert!(e.contains(&format!("{}: ", k.path)), "{bad}: {e}");
            }
            Config::parse(&doc(k.path, "0.5"), "t").unwrap();
        }
    }

    #[test]
    fn defaults_in_the_table_are_the_defaults() {
        let defaults = Config::parse("", "t").unwrap();
        for k in KEYS {
            // Only literal TOML values, on keys outside arrays of tables.
            let literal = format!("v = {}", k.default).parse::<toml::Table>().is_ok();
            if !literal || k.path.contains('[') || k.path.ends_with(".*") {
                continue;
            }
            if k.path.contains(".*.") {
                // An entry of a named table: one with the default equals one without.
                let set = Config::parse(&doc(k.path, k.default), "t")
                    .unwrap_or_else(|e| panic!("{}: default refused: {e}", k.path));
                let entry = set.protocols.get("modbus").expect(k.path);
                assert_eq!(
                    *entry,
                    super::super::ProtocolSettings::default(),
                    "{}",
                    k.path
                );
                continue;
            }
            let set = Config::parse(&doc(k.path, k.default), "t")
                .unwrap_or_else(|e| panic!("{}: default refused: {e}", k.path));
            assert_eq!(
                set, defaults,
                "{} = {} is not the default",
                k.path, k.default
            );
        }
        // Defaults inside entries: an entry with them equals one without.
        for k in KEYS
            .iter()
            .filter(|k| k.path.contains('[') && k.ty == "integer")
        {
            if format!("v = {}", k.default).parse::<toml::Table>().is_err() {
                continue;
            }
            let (header, needs) = context(k.path).expect(k.path);
            let without = Config::parse(&format!("{header}\n{needs}\n"), "t").unwrap();
            let with = Config::parse(&doc(k.path, k.default), "t").unwrap();
            assert_eq!(with, without, "{}", k.path);
        }
    }

    /// The fields serde expects in a table, from its message for an unknown one.
    fn fields_of(text: &str) -> Vec<String> {
        let e = Config::parse(text, "t").unwrap_err().to_string();
        let list = e
            .split("expected one of ")
            .nth(1)
            .or_else(|| e.split("expected ").nth(1))
            .unwrap_or_else(|| panic!("{e}"));
        list.split(", ")
            .flat_map(|f| f.split(" or "))
            .map(|f| f.trim().trim_matches('`').to_string())
            .collect()
    }

    #[test]
    fn every_key_of_the_file_is_in_the_table() {
        let listed = |prefix: &str| -> Vec<String> {
            let mut v: Vec<String> = KEYS
                .iter()
                .filter_map(|k| k.path.strip_prefix(prefix))
                .filter(|rest| !rest.contains('.') || rest.ends_with(".*"))
                .map(|rest| rest.trim_end_matches(".*").to_string())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let probe = "zz_unknown = 1";
        let mut tables = vec![
            ("pipeline.", format!("[pipeline]\n{probe}")),
            ("flows.", format!("[flows]\n{probe}")),
            ("reassembly.", format!("[reassembly]\n{probe}")),
            ("capture.", format!("[capture]\n{probe}")),
            ("sensor.", format!("[sensor]\n{probe}")),
            ("policy.", format!("[policy]\n{probe}")),
            ("rules.", format!("[rules]\n{probe}")),
            ("alerts.", format!("[alerts]\n{probe}")),
            ("detection.", format!("[detection]\n{probe}")),
            ("health.", format!("[health]\n{probe}")),
            ("metrics.", format!("[metrics]\n{probe}")),
            ("console.", format!("[console]\n{probe}")),
            (
                "console.users[].",
                format!("[[console.users]]\nname = \"a\"\n{probe}"),
            ),
            ("assets.", format!("[assets]\n{probe}")),
            ("evidence.", format!("[evidence]\n{probe}")),
            ("zones[].", format!("[[zones]]\nname = \"z\"\n{probe}")),
            (
                "conduits[].",
                format!("[[conduits]]\nfrom = \"a\"\n{probe}"),
            ),
            (
                "capture[].",
                format!("[[capture]]\ninterface = \"lo\"\n{probe}"),
            ),
        ];
        for (kind, needs) in [("file", "path = \"/tmp/x\""), ("kafka", "topic = \"t\"")] {
            tables.push((
                if kind == "file" {
                    "sinks[file]."
                } else {
                    "sinks[kafka]."
                },
                format!("[[sinks]]\ntype = \"{kind}\"\n{needs}\n{probe}"),
            ));
        }
        tables.push((
            "sinks[kafka].security.",
            format!("[[sinks]]\ntype = \"kafka\"\ntopic = \"t\"\n[sinks.security]\nprotocol = \"ssl\"\n{probe}"),
        ));
        tables.push((
            "sinks[kafka].event_hubs.",
            format!("[[sinks]]\ntype = \"kafka\"\ntopic = \"t\"\n[sinks.event_hubs]\n{probe}"),
        ));
        for (prefix, text) in tables {
            let mut want = fields_of(&text);
            want.sort();
            let mut have = listed(prefix);
            // Nested tables are fields too.
            have.extend(
                KEYS.iter()
                    .filter_map(|k| k.path.strip_prefix(prefix))
                    .filter_map(|rest| {
                        rest.split_once('.')
                            .map(|(t, _)| t.trim_end_matches("[]").to_string())
                    }),
            );
            if prefix.matches('.').count() == 1 && prefix.starts_with("sinks[") {
                // Keys of every kind (`type` is the tag, not a field).
                have.extend(listed("sinks[].").into_iter().filter(|f| f != "type"));
            }
            have.sort();
            have.dedup();
            assert_eq!(have, want, "{prefix}");
        }
        // [baseline] routes its keys to the parts that own them.
        let mut want: Vec<String> = otsensor_baselines::detector::Thresholds::KEYS
            .iter()
            .chain(otsensor_baselines::baseline::Caps::KEYS)
            .chain(&["save_interval_secs"])
            .map(|s| s.to_string())
            .collect();
        want.sort();
        assert_eq!(listed("baseline."), want);
        // And the sections themselves.
        let mut sections: Vec<String> = KEYS
            .iter()
            .map(|k| {
                k.path
                    .split(['.', '['])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        sections.sort();
        sections.dedup();
        let mut want = fields_of(probe);
        want.sort();
        assert_eq!(sections, want);
    }

    #[test]
    fn the_book_lists_every_key() {
        let book = include_str!("../../../docs/src/configuration.md");
        assert!(
            book.contains(&markdown()),
            "docs/src/configuration.md's key table differs from `otsensor config keys`:\n{}",
            markdown()
        );
    }
}
