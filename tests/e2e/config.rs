//! Config files a new operator gets wrong: each is refused by `config check` and by the run
//! itself with exit code 2 and one line naming the key; none panics or starts.

use std::time::Duration;

use crate::util::{bin, config_check, own_pcaps, replay, run_with_timeout, Scratch};

/// (what, file, the key the error must name)
const REFUSED: &[(&str, &str, &str)] = &[
    ("queue without bound", "[pipeline]\nqueue_batches = 9223372036854775807\n", "pipeline.queue_batches"),
    ("queue of 1e9", "[pipeline]\nqueue_batches = 1000000000\n", "pipeline.queue_batches"),
    ("queue of 1e8", "[pipeline]\nqueue_batches = 100000000\n", "pipeline.queue_batches"),
    ("queue × batch too large", "[pipeline]\nqueue_batches = 1024\nbatch_packets = 65536\n", "pipeline.queue_batches"),
    ("negative workers", "[pipeline]\nworkers = -1\n", "pipeline.workers"),
    ("workers of the wrong type", "[pipeline]\nworkers = \"two\"\n", "pipeline.workers"),
    ("unknown on_full", "[pipeline]\non_full = \"panic\"\n", "pipeline.on_full"),
    ("two zones, one CIDR", "[[zones]]\nname = \"a\"\ncidrs = [\"10.0.0.0/8\"]\n[[zones]]\nname = \"b\"\ncidrs = [\"10.0.0.0/8\"]\n", "zones.cidrs"),
    ("two zones, one VLAN", "[[zones]]\nname = \"a\"\nvlans = [10]\n[[zones]]\nname = \"b\"\nvlans = [10]\n", "zones.vlans"),
    ("update interval 0", "[alerts]\nupdate_interval_secs = 0\n", "alerts.update_interval_secs"),
    ("rate factor inf", "[baseline]\nrate_factor = inf\n", "baseline.rate_factor"),
    ("rate factor nan", "[baseline]\nrate_factor = nan\n", "baseline.rate_factor"),
    ("timing factor 0", "[baseline]\ntiming_factor = 0\n", "baseline.timing_factor"),
    ("VLAN 5000", "[[zones]]\nname = \"a\"\nvlans = [5000]\n", "zones.vlans"),
    ("zone matching nothing", "[[zones]]\nname = \"a\"\n", "zones.cidrs"),
    ("conduit to itself", "[[zones]]\nname = \"a\"\ncidrs = [\"10.0.0.0/8\"]\n[[conduits]]\nfrom = \"a\"\nto = \"a\"\nprotocols = [\"modbus\"]\n", "conduits.to"),
    ("empty default zone", "[policy]\ndefault_zone = \"\"\n", "policy.default_zone"),
    ("file sink in a missing directory", "[[sinks]]\ntype = \"file\"\npath = \"/nonexistent-otsensor/alerts.json\"\n", "sinks.path"),
    ("password variable not set", "[[sinks]]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopic = \"t\"\n[sinks.security]\nprotocol = \"sasl_plaintext\"\nmechanism = \"PLAIN\"\nusername = \"u\"\npassword_env = \"OTSENSOR_TEST_UNSET_PASSWORD\"\n", "sinks.security.password_env"),
    ("password file missing", "[[sinks]]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopic = \"t\"\n[sinks.security]\nprotocol = \"sasl_plaintext\"\nmechanism = \"PLAIN\"\nusername = \"u\"\npassword_file = \"/nonexistent-otsensor/pw\"\n", "sinks.security.password_file"),
    ("Event Hubs variable not set", "[[sinks]]\ntype = \"kafka\"\ntopic = \"t\"\nevent_hubs = { connection_string_env = \"OTSENSOR_TEST_UNSET_EH\" }\n", "sinks.event_hubs.connection_string_env"),
    ("baseline factors", "[baseline]\npoll_stop_periods = -1.0\n", "baseline.poll_stop_periods"),
    ("detection window", "[detection]\nanomaly_window_secs = 0\n", "detection.anomaly_window_secs"),
    ("exception window", "[detection]\nexception_window_secs = 0\n", "detection.exception_window_secs"),
    ("duplicate key", "[pipeline]\nworkers = 1\nworkers = 2\n", "pipeline.workers: duplicate key (line 3)"),
    ("duplicate table", "[flows]\nmax_flows = 10\n[flows]\nmax_flows = 20\n", "flows"),
    ("unknown key", "[flows]\nmax_flow = 10\n", "flows.max_flow"),
    ("kafka flush 0", "[[sinks]]\ntype = \"kafka\"\nbrokers = \"b:1\"\ntopic = \"t\"\nflush_timeout_secs = 0\n", "sinks.flush_timeout_secs"),
    ("file sink keeps no files", "[[sinks]]\ntype = \"file\"\npath = \"/tmp/otsensor-a.json\"\nmax_files = 0\n", "sinks.max_files"),
    ("snaplen 10", "[[capture]]\ninterface = \"lo\"\nsnaplen = 10\n", "capture.snaplen"),
    ("capture timeout 0", "[capture]\ntimeout_ms = 0\n", "capture.timeout_ms"),
    ("interface twice", "[[capture]]\ninterface = \"lo\"\n[[capture]]\ninterface = \"lo\"\n", "capture.interface"),
    ("max_flows 0", "[flows]\nmax_flows = 0\n", "flows.max_flows"),
    ("max_flows 1e12", "[flows]\nmax_flows = 1000000000000\n", "flows.max_flows"),
    ("half-open timeout beyond a year", "[flows]\ntcp_half_open_timeout_secs = 100000000\n", "flows.tcp_half_open_timeout_secs"),
    ("reassembly 1 GiB", "[reassembly]\nmax_ooo_bytes = 1073741824\n", "reassembly.max_ooo_bytes"),
    ("tracked keys 1e9", "[detection]\nmax_tracked = 1000000000\n", "detection.max_tracked"),
    ("scan threshold 1e9", "[detection]\nhost_scan = 1000000000\n", "detection.host_scan"),
    ("loss ratio 2", "[health]\nmax_loss_ratio = 2.0\n", "health.max_loss_ratio"),
    ("severity 11", "[rules.severity]\n\"policy.no_conduit\" = 11\n", "rules.severity.policy.no_conduit"),
    ("unknown rule", "[rules]\ndisabled = [\"no.such.rule\"]\n", "rules.disabled"),
    ("unknown protocol in a conduit", "[[zones]]\nname = \"a\"\ncidrs = [\"10.0.0.0/8\"]\n[[conduits]]\nfrom = \"a\"\nto = \"unzoned\"\nprotocols = [\"gopher\"]\n", "conduits.protocols"),
    ("metrics address", "[metrics]\nlisten = \"localhost\"\n", "metrics.listen"),
    ("evidence directory missing", "[evidence]\ndir = \"/nonexistent-otsensor\"\n", "evidence.dir"),
    ("evidence packets 1e6", "[evidence]\npackets_before = 1000000\n", "evidence.packets_before"),
    ("assets 0", "[assets]\nmax_assets = 0\n", "assets.max_assets"),
    ("baseline cap 0", "[baseline]\nmax_edges = 0\n", "baseline.max_edges"),
    ("unknown service user", "[sensor]\nuser = \"no-such-user-otsensor\"\n", "sensor.user"),
    ("stats every 1e9 s", "[sensor]\nstats_interval_secs = 1000000000\n", "sensor.stats_interval_secs"),
];

#[test]
fn every_refused_config_names_its_key_in_check_and_in_the_run() {
    let d = Scratch::new("refused-configs");
    let pcap = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    for (i, (what, text, key)) in REFUSED.iter().enumerate() {
        let cfg = d.path(&format!("{i}.toml"));
        std::fs::write(&cfg, text).unwrap();
        let check = run_with_timeout(
            std::process::Command::new(bin())
                .args(["config", "check"])
                .arg(&cfg)
                .env_remove("OTSENSOR_TEST_UNSET_PASSWORD")
                .env_remove("OTSENSOR_TEST_UNSET_EH"),
            Duration::from_secs(20),
        );
        let stderr = String::from_utf8_lossy(&check.stderr);
        assert_eq!(
            check.status.code(),
            Some(2),
            "{what}: config check: {stderr}"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{what}: one line: {stderr}"
        );
        assert!(stderr.contains(key), "{what}: {key} not named: {stderr}");
        let (code, _, stderr) = replay(&["-c".as_ref(), cfg.as_os_str(), pcap.as_os_str()]);
        assert_eq!(code, 2, "{what}: replay: {stderr}");
        assert!(
            stderr.contains(key),
            "{what}: replay does not name {key}: {stderr}"
        );
    }
}

#[test]
fn bounds_are_accepted() {
    let d = Scratch::new("bound-configs");
    let cfg = d.path("bounds.toml");
    std::fs::write(
        &cfg,
        "[pipeline]\nqueue_batches = 1024\nbatch_packets = 1024\n[alerts]\nupdate_interval_secs = 1\n\
         [[zones]]\nname = \"a\"\nvlans = [0, 4095]\n[[zones]]\nname = \"b\"\ncidrs = [\"10.0.0.0/8\"]\n\
         [[zones]]\nname = \"c\"\ncidrs = [\"10.1.0.0/16\"]\n[[conduits]]\nfrom = \"c\"\nto = \"b\"\nprotocols = [\"modbus\"]\n",
    )
    .unwrap();
    let out = config_check(&cfg);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What only the run can find (a file that cannot be created in a directory that exists) is
/// refused by the run with the key named too.
#[test]
fn the_run_names_the_key_of_what_it_cannot_open() {
    let d = Scratch::new("run-only-config");
    let cfg = d.path("sink.toml");
    std::fs::write(
        &cfg,
        "[[sinks]]\ntype = \"file\"\npath = \"/proc/otsensor-cannot-create.json\"\n",
    )
    .unwrap();
    let pcap = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let (code, _, stderr) = replay(&["-c".as_ref(), cfg.as_os_str(), pcap.as_os_str()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("sinks.path (file): cannot open"),
        "{stderr}"
    );
}
