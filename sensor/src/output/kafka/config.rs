//! The Kafka sink's configuration (`[[sinks]] type = "kafka"`) and its validation: owned
//! here, with the sink, not by the config file's reader.

use serde::Deserialize;

use crate::output::format::AlertFormat;

/// A Kafka sink (or the Azure Event Hubs preset).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// Format; absent = `alerts.format`.
    #[serde(default)]
    pub format: Option<AlertFormat>,
    /// Kafka bootstrap servers, `host:port,...` (not with `event_hubs`).
    #[serde(default)]
    pub brokers: Option<String>,
    /// Kafka topic of the alerts (for Event Hubs: the event hub's name).
    pub topic: String,
    /// Kafka topic of the asset records with their risk scores.
    #[serde(default)]
    pub assets_topic: Option<String>,
    /// Kafka topic of the flow records (as `--flows` writes them), keyed by Community ID.
    #[serde(default)]
    pub flows_topic: Option<String>,
    /// Topic the SOC posts its decisions on alerts to (learn, mute, unmute), read by the
    /// running sensor on the same brokers.
    #[serde(default)]
    pub decisions_topic: Option<String>,
    /// Kafka security: SASL and TLS.
    #[serde(default)]
    pub security: Option<KafkaSecurity>,
    /// The Azure Event Hubs preset (for Microsoft Sentinel and Defender).
    #[serde(default)]
    pub event_hubs: Option<EventHubsConfig>,
    /// librdkafka options passed through (`"linger.ms" = "50"`); one that contradicts a
    /// setting otsensor makes is an error.
    #[serde(default)]
    pub librdkafka: std::collections::BTreeMap<String, String>,
    /// Directory of the disk spool that holds alerts while the brokers are unreachable.
    #[serde(default)]
    pub spool_dir: Option<std::path::PathBuf>,
    /// Most bytes the spool may hold; beyond, new records are dropped (counted, logged).
    #[serde(default = "default_spool_max_bytes")]
    pub spool_max_bytes: u64,
    /// Seconds to wait at exit for outstanding deliveries before spooling them.
    #[serde(default = "default_flush_secs")]
    pub flush_timeout_secs: u64,
}

fn default_spool_max_bytes() -> u64 {
    1 << 30
}

fn default_flush_secs() -> u64 {
    10
}

/// SASL / TLS settings of a Kafka sink.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KafkaSecurity {
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub protocol: String,
    /// SASL mechanism (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    #[serde(default)]
    pub mechanism: Option<String>,
    /// SASL user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the SASL password (never put the password in the file).
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the SASL password.
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
}

/// The Azure Event Hubs preset: everything comes from a namespace connection string.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EventHubsConfig {
    /// Environment variable holding the connection string.
    #[serde(default)]
    pub connection_string_env: Option<String>,
    /// File holding the connection string.
    #[serde(default)]
    pub connection_string_file: Option<std::path::PathBuf>,
}
