//! Alert formats checked by independent parsers from the package registries: CEF by pycef
//! (PyPI), LEEF by nsyslog-parser (npm), OCSF validated against the OCSF 1.5.0 Detection
//! Finding JSON schema (ocsf-json-schema and jsonschema, PyPI). `scripts/test.sh` installs
//! them under `target/test-tools` (or `$OTSENSOR_TEST_TOOLS`); without them the tests say they
//! skipped, unless `OTSENSOR_REQUIRE_TEST_INPUTS=1` (CI), where that is a failure.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::util::*;

struct Tools {
    python: PathBuf,
    nsyslog: PathBuf,
}

fn tools() -> Option<Tools> {
    let dir = std::env::var_os("OTSENSOR_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/test-tools"));
    let t = Tools {
        python: dir.join("venv/bin/python"),
        nsyslog: dir.join("nsyslog-parser"),
    };
    if t.python.is_file() && t.nsyslog.join("leef.js").is_file() {
        return Some(t);
    }
    let msg = format!(
        "format parsers not installed in {} (run scripts/test.sh)",
        dir.display()
    );
    skip(&msg);
    None
}

fn check(cmd: &mut Command) {
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A zone layout with names that need escaping (CEF escapes `\` and `=` in values), over the
/// project's captures with policy, protocol and anomaly alerts. (No `|` or `=` in LEEF-checked
/// values: nsyslog-parser splits LEEF values at them, which the LEEF specification does not.)
const CONFIG: &str = r#"
[sensor]
id = "edge=1 \\ a"
site = "plant=a \\ b"

[[zones]]
name = "Line 1 \\ Cell A"
cidrs = ["10.20.0.0/28"]

[[zones]]
name = "Intruders"
cidrs = ["10.20.0.64/28"]
"#;

fn captures() -> Vec<PathBuf> {
    vec![
        own_pcaps().join("synthetic/recon-and-rogue-master/recon.pcap"),
        own_pcaps().join("modbus/zeek-modbus-and-non-modbus-p502/modbus-and-non-modbus-p502.pcap"),
        own_pcaps().join("dnp3/suricata-verify-dnp3-flood/input.pcap"),
    ]
}

#[test]
fn cef_leef_and_ocsf_parse_with_independent_parsers() {
    let Some(t) = tools() else { return };
    let dir = Scratch::new("formats");
    let cfg = dir.path("zones.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let caps = captures();
    let mut outs = Vec::new();
    for format in ["json", "cef", "leef", "ocsf"] {
        let out = dir.path(&format!("alerts.{format}"));
        let mut args: Vec<&OsStr> = vec!["-c".as_ref(), cfg.as_os_str()];
        args.extend(caps.iter().map(|c| c.as_os_str()));
        args.extend([
            "--alerts".as_ref(),
            out.as_os_str(),
            "--alert-format".as_ref(),
            format.as_ref(),
        ]);
        let (code, _, err) = replay(&args);
        assert_eq!(code, 0, "{err}");
        outs.push(out);
    }
    let json = std::fs::read_to_string(&outs[0]).unwrap();
    let rules: std::collections::BTreeSet<&str> = json
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            match v["engine"].as_str().unwrap() {
                "policy" => "policy",
                "protocol" => "protocol",
                "anomaly" => "anomaly",
                _ => "operational",
            }
        })
        .collect();
    assert!(
        rules.contains("policy") && rules.contains("protocol") && rules.contains("anomaly"),
        "{rules:?}"
    );
    let tools_dir = root().join("tests/tools");
    check(
        Command::new(&t.python)
            .arg(tools_dir.join("check_cef.py"))
            .args([&outs[0], &outs[1]]),
    );
    check(
        Command::new("node")
            .arg(tools_dir.join("check_leef.js"))
            .arg(&t.nsyslog)
            .args([&outs[0], &outs[2]]),
    );
    check(
        Command::new(&t.python)
            .arg(tools_dir.join("check_ocsf.py"))
            .args([&outs[0], &outs[3]]),
    );
}

/// Configured sinks: several at once, each in its own format, a file rotated by size.
#[test]
fn several_sinks_and_rotation() {
    let dir = Scratch::new("sinks");
    let (json, cef, leef) = (dir.path("a.jsonl"), dir.path("a.cef"), dir.path("a.leef"));
    let cfg = dir.path("sinks.toml");
    std::fs::write(
        &cfg,
        format!(
            "{CONFIG}\n[alerts]\nformat = \"json\"\n\n[[sinks]]\ntype = \"file\"\npath = {:?}\nformat = \"json\"\nmax_bytes = 4000\nmax_files = 3\n\n[[sinks]]\ntype = \"file\"\npath = {:?}\nformat = \"cef\"\n",
            json.display().to_string(),
            cef.display().to_string()
        ),
    )
    .unwrap();
    let caps = captures();
    let mut args: Vec<&OsStr> = vec!["-c".as_ref(), cfg.as_os_str()];
    args.extend(caps.iter().map(|c| c.as_os_str()));
    args.extend([
        "--alerts".as_ref(),
        leef.as_os_str(),
        "--alert-format".as_ref(),
        "leef".as_ref(),
    ]);
    let (code, stdout, err) = replay(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout, "", "with sinks configured nothing goes to stdout");
    let lines = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let n_cef = lines(&cef);
    assert!(n_cef > 5);
    assert_eq!(lines(&leef), n_cef);
    assert!(std::fs::read_to_string(&leef)
        .unwrap()
        .starts_with("LEEF:2.0|"));
    // The JSON file rotated: current + .1 + .2 (+ .3), each within the size limit, together
    // holding every record of the newest files (older ones were removed).
    let rotated: Vec<PathBuf> = (1..=3)
        .map(|i| PathBuf::from(format!("{}.{i}", json.display())))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(rotated.len(), 3, "{rotated:?}");
    assert!(!PathBuf::from(format!("{}.4", json.display())).exists());
    for p in rotated.iter().chain([&json]) {
        let size = std::fs::metadata(p).unwrap().len();
        assert!(size <= 4000, "{}: {size} bytes", p.display());
        for l in std::fs::read_to_string(p).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["id"].is_string());
        }
    }
    // A file sink needs a path: config check names the key.
    let bad = dir.path("bad.toml");
    std::fs::write(&bad, "[[sinks]]\ntype = \"file\"\n").unwrap();
    let out = config_check(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sinks.path"));
}
