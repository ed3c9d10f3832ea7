//! The one place that maps a `kafka` sink's settings to librdkafka's options.
//!
//! Options come in two kinds: those the sink *requires* (acks=all and the idempotent producer
//! for "nothing lost", the security settings, the Event Hubs preset) and *defaults* a user may
//! tune. A raw `librdkafka` option that contradicts a required one is an error naming both,
//! never a silent choice; one that changes a default wins.

use std::collections::BTreeMap;

use super::config::KafkaSinkConfig;

/// librdkafka options, in order of precedence: required ones, then defaults, then raw
/// pass-through options that did not conflict.
pub type ClientOptions = BTreeMap<String, String>;

/// Where secrets come from: an environment variable or a file.
pub trait Secrets {
    /// The value of environment variable `name`.
    fn env(&self, name: &str) -> Option<String>;
    /// The contents of `path`, trimmed.
    fn file(&self, path: &std::path::Path) -> Result<String, String>;
}

/// The process environment and file system.
pub struct SystemSecrets;

impl Secrets for SystemSecrets {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn file(&self, path: &std::path::Path) -> Result<String, String> {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// Structural checks that need no secrets (for `config check`).
pub fn validate(s: &KafkaSinkConfig) -> Result<(), String> {
    if let Some(eh) = &s.event_hubs {
        if s.brokers.is_some() {
            return Err(
                "event_hubs sets the brokers from the connection string: remove brokers".into(),
            );
        }
        if s.security.is_some() {
            return Err("event_hubs sets SASL_SSL itself: remove security".into());
        }
        match (&eh.connection_string_env, &eh.connection_string_file) {
            (Some(_), Some(_)) => {
                return Err(
                    "event_hubs: give connection_string_env or connection_string_file, not both"
                        .into(),
                )
            }
            (None, None) => {
                return Err(
                    "event_hubs needs connection_string_env or connection_string_file".into(),
                )
            }
            _ => {}
        }
    }
    if let Some(sec) = &s.security {
        security_options(sec, &NoSecrets)?;
    }
    // Conflicts between raw options and required ones do not depend on secret values.
    let required = required_options(s, "-", &PlaceholderSecrets)?;
    conflicts(&required, &s.librdkafka)?;
    Ok(())
}

/// The librdkafka options of a sink.
pub fn client_options(
    s: &KafkaSinkConfig,
    sensor_id: &str,
    secrets: &dyn Secrets,
) -> Result<ClientOptions, String> {
    let required = required_options(s, sensor_id, secrets)?;
    conflicts(&required, &s.librdkafka)?;
    let mut out = defaults(s, sensor_id);
    out.extend(s.librdkafka.clone());
    out.extend(required);
    Ok(out)
}

fn conflicts(required: &ClientOptions, raw: &BTreeMap<String, String>) -> Result<(), String> {
    for (k, v) in raw {
        if let Some(req) = required.get(k) {
            if !req.eq_ignore_ascii_case(v) {
                let shown = if is_secret(k) {
                    "(secret)"
                } else {
                    req.as_str()
                };
                return Err(format!(
                    "librdkafka option {k} = {:?} conflicts with {k} = {shown:?}, which this sink requires",
                    if is_secret(k) { "(secret)" } else { v.as_str() }
                ));
            }
        }
    }
    Ok(())
}

fn is_secret(k: &str) -> bool {
    k.contains("password") || k.contains("secret")
}

/// Event Hubs limits: requests under 1 MB (the service closes connections above 1,046,528
/// bytes), request timeout at least 60 s, gzip the only codec.
const EVENT_HUBS_MAX_BYTES: &str = "1000000";

fn required_options(
    s: &KafkaSinkConfig,
    sensor_id: &str,
    secrets: &dyn Secrets,
) -> Result<ClientOptions, String> {
    let mut o = ClientOptions::new();
    let mut set = |k: &str, v: &str| {
        o.insert(k.to_string(), v.to_string());
    };
    set("acks", "all");
    if let Some(eh) = &s.event_hubs {
        let conn = match (&eh.connection_string_env, &eh.connection_string_file) {
            (Some(var), _) => secrets
                .env(var)
                .ok_or_else(|| format!("event_hubs: environment variable {var} is not set"))?,
            (None, Some(path)) => secrets.file(path)?,
            (None, None) => {
                return Err(
                    "event_hubs needs connection_string_env or connection_string_file".into(),
                )
            }
        };
        let host = event_hubs_host(&conn)?;
        set("bootstrap.servers", &format!("{host}:9093"));
        set("security.protocol", "SASL_SSL");
        set("sasl.mechanism", "PLAIN");
        set("sasl.username", "$ConnectionString");
        set("sasl.password", &conn);
        set("compression.type", "gzip");
        set("message.max.bytes", EVENT_HUBS_MAX_BYTES);
        set("request.timeout.ms", "60000");
        // The Event Hubs Kafka endpoint's idempotent-producer support varies by tier: keep
        // order with one request in flight instead, and rely on alert ids to deduplicate.
        set("enable.idempotence", "false");
        set("max.in.flight.requests.per.connection", "1");
    } else {
        set(
            "bootstrap.servers",
            s.brokers.as_deref().unwrap_or_default(),
        );
        set("enable.idempotence", "true");
        if let Some(sec) = &s.security {
            o.extend(security_options(sec, secrets)?);
        }
    }
    let _ = sensor_id;
    Ok(o)
}

fn defaults(s: &KafkaSinkConfig, sensor_id: &str) -> ClientOptions {
    let mut o = ClientOptions::new();
    let mut set = |k: &str, v: &str| {
        o.insert(k.to_string(), v.to_string());
    };
    set("client.id", &format!("otsensor-{sensor_id}"));
    set("linger.ms", "20");
    set("socket.keepalive.enable", "true");
    set("queue.buffering.max.messages", "100000");
    if s.event_hubs.is_some() {
        set("message.timeout.ms", "120000");
        set("metadata.max.age.ms", "180000");
        set("connections.max.idle.ms", "180000");
    } else {
        set("compression.type", "lz4");
        set("message.timeout.ms", "30000");
        set("max.in.flight.requests.per.connection", "5");
    }
    o
}

fn security_options(
    sec: &super::config::KafkaSecurity,
    secrets: &dyn Secrets,
) -> Result<ClientOptions, String> {
    let mut o = ClientOptions::new();
    let protocol = sec.protocol.to_ascii_uppercase();
    if !["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&protocol.as_str()) {
        return Err(format!(
            "security.protocol {:?}: expected plaintext, ssl, sasl_plaintext or sasl_ssl",
            sec.protocol
        ));
    }
    o.insert("security.protocol".into(), protocol.clone());
    if protocol.starts_with("SASL") {
        let mechanism = sec
            .mechanism
            .clone()
            .ok_or("security.mechanism is needed with SASL")?
            .to_ascii_uppercase();
        if !["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"].contains(&mechanism.as_str()) {
            return Err(format!(
                "security.mechanism {mechanism:?}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
            ));
        }
        let username = sec
            .username
            .clone()
            .ok_or("security.username is needed with SASL")?;
        let password = match (&sec.password_env, &sec.password_file) {
            (Some(_), Some(_)) => {
                return Err("security: give password_env or password_file, not both".into())
            }
            (Some(var), None) => secrets
                .env(var)
                .ok_or_else(|| format!("security: environment variable {var} is not set"))?,
            (None, Some(path)) => secrets.file(path)?,
            (None, None) => return Err("security: password_env or password_file is needed".into()),
        };
        o.insert("sasl.mechanism".into(), mechanism);
        o.insert("sasl.username".into(), username);
        o.insert("sasl.password".into(), password);
    } else if sec.mechanism.is_some() || sec.username.is_some() {
        return Err(format!(
            "security: mechanism and username need a SASL protocol, not {protocol}"
        ));
    }
    Ok(o)
}

/// The namespace host of an Event Hubs connection string
/// (`Endpoint=sb://NAMESPACE.servicebus.windows.net/;SharedAccessKeyName=...;...`).
pub fn event_hubs_host(conn: &str) -> Result<String, String> {
    let endpoint = conn
        .split(';')
        .filter_map(|part| part.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("Endpoint"))
        .map(|(_, v)| v.trim())
        .ok_or("event_hubs: the connection string has no Endpoint=sb://... part")?;
    let host = endpoint
        .strip_prefix("sb://")
        .ok_or("event_hubs: the connection string's Endpoint is not sb://...")?
        .trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err("event_hubs: the connection string's Endpoint has no namespace host".into());
    }
    Ok(host.to_string())
}

/// For `config check`: secrets are not read.
struct NoSecrets;

impl Secrets for NoSecrets {
    fn env(&self, _: &str) -> Option<String> {
        Some("(not read)".into())
    }
    fn file(&self, _: &std::path::Path) -> Result<String, String> {
        Ok("(not read)".into())
    }
}

/// Placeholder secrets that still parse as an Event Hubs connection string.
struct PlaceholderSecrets;

impl Secrets for PlaceholderSecrets {
    fn env(&self, _: &str) -> Option<String> {
        Some("Endpoint=sb://placeholder.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v".into())
    }
    fn file(&self, _: &std::path::Path) -> Result<String, String> {
        Ok(self.env("").unwrap_or_default())
    }
}

/// The sink's settings as `config check` sees them (here, beside the options they make, so
/// that the config types depend on nothing).
impl KafkaSinkConfig {
    /// Checks the sink's settings; an error names its key (under `sinks.`).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.topic.is_empty() {
            return Err(("sinks.topic", "a kafka sink needs a topic".into()));
        }
        if self.event_hubs.is_none() && self.brokers.as_deref().is_none_or(str::is_empty) {
            return Err((
                "sinks.brokers",
                "a kafka sink needs brokers (or the event_hubs preset)".into(),
            ));
        }
        validate(self).map_err(|e| {
            let key = if e.starts_with("security") {
                "sinks.security"
            } else if e.starts_with("event_hubs") {
                "sinks.event_hubs"
            } else {
                "sinks.librdkafka"
            };
            (key, e)
        })?;
        self.check_secrets()
    }

    /// The secrets the run will read are there: `config check` finds a variable that is not
    /// set or a file that cannot be read, not the start of the service.
    fn check_secrets(&self) -> Result<(), (&'static str, String)> {
        let env = |key: &'static str, var: &Option<String>| match var {
            Some(v) if SystemSecrets.env(v).is_none() => {
                Err((key, format!("environment variable {v} is not set")))
            }
            _ => Ok(()),
        };
        let file = |key: &'static str, path: &Option<std::path::PathBuf>| match path {
            Some(p) => SystemSecrets.file(p).map(|_| ()).map_err(|e| (key, e)),
            None => Ok(()),
        };
        if let Some(sec) = &self.security {
            env("sinks.security.password_env", &sec.password_env)?;
            file("sinks.security.password_file", &sec.password_file)?;
        }
        if let Some(eh) = &self.event_hubs {
            env(
                "sinks.event_hubs.connection_string_env",
                &eh.connection_string_env,
            )?;
            file(
                "sinks.event_hubs.connection_string_file",
                &eh.connection_string_file,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    struct Fake;
    impl Secrets for Fake {
        fn env(&self, name: &str) -> Option<String> {
            match name {
                "EH" => Some(
                    "Endpoint=sb://plant-ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc="
                        .into(),
                ),
                "PW" => Some("s3cret".into()),
                _ => None,
            }
        }
        fn file(&self, p: &std::path::Path) -> Result<String, String> {
            Err(format!("no {}", p.display()))
        }
    }

    /// The sink as read from the file (not validated: the secrets come from `Fake`).
    fn sink(text: &str) -> KafkaSinkConfig {
        match toml::from_str::<Config>(text).unwrap().sinks.remove(0) {
            crate::config::SinkConfig::Kafka(k) => *k,
            other => panic!("not a kafka sink: {other:?}"),
        }
    }

    #[test]
    fn plain_kafka_is_idempotent_with_acks_all() {
        let s = sink("[[sinks]]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopic = \"a\"\n[sinks.librdkafka]\n\"linger.ms\" = \"50\"\n");
        let o = client_options(&s, "s1", &Fake).unwrap();
        assert_eq!(o["bootstrap.servers"], "127.0.0.1:9092");
        assert_eq!(o["acks"], "all");
        assert_eq!(o["enable.idempotence"], "true");
        assert_eq!(o["linger.ms"], "50", "a raw option changes a default");
        assert_eq!(o["client.id"], "otsensor-s1");
    }

    #[test]
    fn event_hubs_preset() {
        let s = sink("[[sinks]]\ntype = \"kafka\"\ntopic = \"alerts\"\nevent_hubs = { connection_string_env = \"EH\" }\n");
        let o = client_options(&s, "s1", &Fake).unwrap();
        assert_eq!(
            o["bootstrap.servers"],
            "plant-ns.servicebus.windows.net:9093"
        );
        assert_eq!(o["security.protocol"], "SASL_SSL");
        assert_eq!(o["sasl.mechanism"], "PLAIN");
        assert_eq!(o["sasl.username"], "$ConnectionString");
        assert!(o["sasl.password"].starts_with("Endpoint=sb://plant-ns"));
        assert_eq!(o["compression.type"], "gzip");
        assert!(o["message.max.bytes"].parse::<u64>().unwrap() < 1_046_528);
        assert!(o["request.timeout.ms"].parse::<u64>().unwrap() >= 60_000);
    }

    #[test]
    fn conflicts_are_errors_naming_both_values() {
        // `config check` rejects it already, naming the key.
        let e = Config::parse(
            "[[sinks]]\ntype = \"kafka\"\nbrokers = \"b:9092\"\ntopic = \"a\"\n[sinks.librdkafka]\nacks = \"1\"\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("acks") && e.contains("\"1\"") && e.contains("\"all\""),
            "{e}"
        );
        let e = Config::parse(
            "[[sinks]]\ntype = \"kafka\"\ntopic = \"a\"\nevent_hubs = { connection_string_env = \"EH\" }\n[sinks.librdkafka]\n\"compression.type\" = \"lz4\"\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("compression.type"), "{e}");
        let e = Config::parse(
            "[[sinks]]\ntype = \"kafka\"\ntopic = \"a\"\nbrokers = \"x:1\"\nevent_hubs = { connection_string_env = \"EH\" }\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("remove brokers"), "{e}");
    }

    #[test]
    fn sasl_needs_its_parts_and_never_shows_the_password() {
        let s = sink("[[sinks]]\ntype = \"kafka\"\nbrokers = \"b:9093\"\ntopic = \"a\"\nsecurity = { protocol = \"sasl_ssl\", mechanism = \"plain\", username = \"u\", password_env = \"PW\" }\n");
        let o = client_options(&s, "s", &Fake).unwrap();
        assert_eq!(o["sasl.password"], "s3cret");
        assert_eq!(o["security.protocol"], "SASL_SSL");
        assert_eq!(o["sasl.mechanism"], "PLAIN");
        let mut s2 = s.clone();
        s2.librdkafka.insert("sasl.password".into(), "other".into());
        let e = client_options(&s2, "s", &Fake).unwrap_err();
        assert!(!e.contains("s3cret") && !e.contains("other"), "{e}");
        let e = Config::parse(
            "[[sinks]]\ntype = \"kafka\"\nbrokers = \"b:9093\"\ntopic = \"a\"\nsecurity = { protocol = \"sasl_ssl\" }\n",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("mechanism"), "{e}");
        assert!(event_hubs_host("Endpoint=https://x/").is_err());
    }
}
