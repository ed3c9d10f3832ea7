//! The command line (the contract in DESIGN.md; keep it stable).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::AssetsFormat;

/// Passive network sensor for OT/ICS networks.
#[derive(Debug, Parser)]
#[command(name = "otsensor", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay pcap/pcapng files through the pipeline, as fast as possible.
    Replay(ReplayArgs),
    /// Capture live from an interface (SPAN/mirror port).
    Capture(CaptureArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Review and curate learned baselines.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// List the protocol names (for conduits, Sigma rules' `service`, `[protocols.NAME]`):
    /// what the sensor does with each, and its ports; with a config, under its
    /// `[protocols]` settings.
    Protocols {
        /// Config file (TOML) whose `[protocols.NAME]` settings apply.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The console in the browser.
    #[command(subcommand)]
    Console(ConsoleCommand),
    /// List the detection rules (id, engine, severity, ATT&CK techniques); with a config,
    /// its Sigma rules too.
    Rules {
        /// Config file (TOML) whose `[rules] sigma` rules are listed after the built-in ones.
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// `otsensor baseline ...`
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Print a baseline as a readable table.
    Show {
        /// The baseline file.
        file: PathBuf,
    },
    /// Print what changed from one baseline to another.
    Diff {
        /// The older baseline.
        old: PathBuf,
        /// The newer baseline.
        new: PathBuf,
    },
    /// Print Graphviz DOT (zones as clusters, assets, edges with protocol and operations).
    Graph {
        /// The baseline file.
        file: PathBuf,
    },
    /// Mark entries approved: SELECTOR is `all`, `asset=IP` or `edge=SRC,DST[/PROTOCOL]`
    /// (`SRC>DST`, as in alert keys, works too: quote it from the shell).
    Approve {
        /// The baseline file (rewritten in place).
        file: PathBuf,
        /// Which entries.
        selector: String,
    },
    /// Mark entries suppressed (never alerted on): same selectors as approve.
    Suppress {
        /// The baseline file (rewritten in place).
        file: PathBuf,
        /// Which entries.
        selector: String,
    },
    /// Learn from an alert: add to the baseline what the alert said was missing (asset, edge,
    /// operation, function, unit, address range, timing bounds) as approved entries, or an
    /// operational, protocol or anomaly alert as known. Recorded with who, when and why. The
    /// alert must be given as its JSON record(s).
    Learn(Decide),
    /// Mute an alert: detection never raises it again (that rule on that edge or host).
    /// Recorded with who, when and why.
    Mute(Decide),
    /// Unmute an alert muted earlier: detection raises it again. Recorded like a mute.
    Unmute(Decide),
    /// Merge baselines (e.g. of several sensors) into OUT.
    Merge {
        /// Output file.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: PathBuf,
        /// Baselines to merge.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
}

/// A decision on an alert (`baseline learn|mute|unmute`).
#[derive(Debug, Args)]
pub struct Decide {
    /// The baseline file (rewritten in place).
    pub file: PathBuf,
    /// The alert: its id (16 hex digits; not for learn), a file of JSON alert records (one per
    /// line; the last of each id counts), or `-` for standard input.
    pub alert: String,
    /// Who decided (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
    /// Why.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// `otsensor console ...`
#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Read a password (one line) on standard input and print its argon2id hash, for
    /// `[[console.users]] password_hash`.
    HashPassword,
}

/// `otsensor config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file; errors name the offending key.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print every config key with its type, default and allowed values (a Markdown table).
    Keys,
}

/// Options shared by replay and capture.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Config file (TOML).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write one JSON line per application PDU to PATH (`-` for stdout).
    #[arg(long, value_name = "PATH|-")]
    pub events: Option<PathBuf>,
    /// Write one JSON line per flow to PATH (`-` for stdout): at its end, and an interim
    /// one every `flows.interim_secs` for long flows.
    #[arg(long, value_name = "PATH|-")]
    pub flows: Option<PathBuf>,
    /// Write final statistics (JSON) to PATH at exit (`-` for stdout).
    #[arg(long, value_name = "PATH")]
    pub stats: Option<PathBuf>,
    /// Write the asset inventory to PATH at exit (`-` for stdout).
    #[arg(long, value_name = "PATH")]
    pub assets: Option<PathBuf>,
    /// Format of the asset inventory.
    #[arg(long, value_enum, default_value = "json")]
    pub assets_format: AssetsFormat,
    /// Baseline file: loaded for detection, or (with --learn) created or extended and saved.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Learn the baseline instead of alerting on deviations from it (needs --baseline).
    #[arg(long, requires = "baseline")]
    pub learn: bool,
    /// One more alert destination besides the configured sinks (`-` for stdout); with no
    /// sink at all, alerts go to stdout.
    #[arg(long, value_name = "PATH|-")]
    pub alerts: Option<PathBuf>,

    /// Alert format for `--alerts` and for configured sinks that name none.
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub alert_format: Option<crate::output::format::AlertFormat>,
    /// Worker threads (default: the config's, else one per CPU core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
}

/// `otsensor replay`
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Replay at the pace of the recorded timestamps.
    #[arg(long)]
    pub realtime: bool,
    /// Capture files (pcap or pcapng), read in order.
    #[arg(required = true, value_name = "PCAP")]
    pub pcaps: Vec<PathBuf>,
}

/// `otsensor capture`
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Interface to capture on; repeat for several (`-i eth1 -i eth2`). Without it, the
    /// config's `[[capture]]` entries.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// BPF capture filter for every interface, e.g. `tcp port 502 or udp port 20000`.
    #[arg(long, value_name = "EXPR")]
    pub bpf: Option<String>,
    /// Bytes captured per packet (overrides capture.snaplen).
    #[arg(long, value_name = "BYTES")]
    pub snaplen: Option<u32>,
    /// Kernel capture buffer in bytes (overrides capture.buffer_size).
    #[arg(long, value_name = "BYTES")]
    pub buffer_size: Option<u32>,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Deliver packets immediately instead of when the kernel buffer fills.
    #[arg(long)]
    pub immediate: bool,
}

/// Bad usage, config or input: exit code 2, with this one-line reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// How a command ended when it did not fail outright.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was read and processed.
    Clean,
    /// The run completed, but some input could not be read in full (exit code 2).
    InputErrors(Vec<String>),
}
