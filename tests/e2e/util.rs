//! Helpers: paths, running the binary with a timeout, scratch directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Whether missing test inputs and tools (the shared corpus, tansu, tshark, network
/// namespaces, ...) are failures (`OTSENSOR_REQUIRE_TEST_INPUTS=1`, as `.ci/run` sets it)
/// rather than skips.
pub fn required() -> bool {
    std::env::var_os("OTSENSOR_REQUIRE_TEST_INPUTS").is_some_and(|v| v == "1")
}

/// A test that cannot run here: says it skipped, or fails when inputs are [`required`].
pub fn skip(msg: &str) {
    assert!(!required(), "{msg}");
    eprintln!("skipped: {msg}");
    // Cargo hides a passing test's output: the test script counts skips from this file.
    if let Some(log) = std::env::var_os("OTSENSOR_SKIP_LOG").filter(|v| !v.is_empty()) {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let test = std::thread::current()
                .name()
                .unwrap_or("a test")
                .to_string();
            let _ = writeln!(f, "{test}: {msg}");
        }
    }
}

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_otsensor"))
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The project's own captures.
pub fn own_pcaps() -> PathBuf {
    root().join("pcaps")
}

/// The shared public corpus: `$OTSENSOR_SHARED_PCAPS`, else `../shared/pcaps` next to the
/// workspace. When it does not exist: `None` after saying the test skipped (a failure when
/// inputs are [`required`]).
pub fn shared_pcaps() -> Option<PathBuf> {
    let p = std::env::var_os("OTSENSOR_SHARED_PCAPS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/pcaps"));
    if p.join("TSHARK_COUNTS.tsv").is_file() {
        return Some(p);
    }
    skip(&format!(
        "the shared corpus is not at {} (set OTSENSOR_SHARED_PCAPS)",
        p.display()
    ));
    None
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "otsensor-e2e-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command, killing it after `limit`. Panics on timeout (a hang is a failure).
/// Its stdout and stderr are read while it runs (a full pipe would block it).
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "{cmd:?} did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// `otsensor replay` with extra args; returns (exit code, stderr).
pub fn replay(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = run_with_timeout(
        Command::new(bin()).arg("replay").args(args),
        Duration::from_secs(120),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads a JSON file.
pub fn json(p: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Counts `--events` lines of `protocol` by the value of `key` (as a string).
pub fn event_counts(
    events: &Path,
    protocol: &str,
    key: &str,
) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let text = std::fs::read_to_string(events).unwrap_or_default();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad event line {line}: {e}"));
        if v["protocol"] == protocol {
            if let Some(k) = v.get(key) {
                let k = match k {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *out.entry(k).or_default() += 1;
            }
        }
    }
    out
}

/// tshark's per-file counts of one field from TSHARK_COUNTS.tsv: file → value → count.
pub fn tshark_counts(
    dir: &Path,
    field: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> {
    let tsv = std::fs::read_to_string(dir.join("TSHARK_COUNTS.tsv")).unwrap();
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> =
        Default::default();
    for l in tsv.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() >= 5 && f[1] == field {
            *out.entry(f[0].to_string())
                .or_default()
                .entry(f[2].to_string())
                .or_default() += f[4].parse::<u64>().unwrap();
        }
    }
    out
}

/// Wireshark writes some codes in hex (`0x04`); events carry numbers.
pub fn tshark_hex_to_dec(
    m: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> {
    m.into_iter()
        .map(|(f, c)| {
            let c = c
                .into_iter()
                .map(|(k, v)| match k.strip_prefix("0x") {
                    Some(h) => (u64::from_str_radix(h, 16).unwrap().to_string(), v),
                    None => (k, v),
                })
                .collect();
            (f, c)
        })
        .collect()
}

/// A difference from tshark that is tshark's error: (file, value, ours, tshark, why).
pub type Pinned<'a> = (&'a str, &'a str, u64, u64, &'a str);

/// For every capture with `field` rows in TSHARK_COUNTS.tsv, `--events` lines of `protocol`
/// per `key` equal tshark's, except the pinned differences.
pub fn compare_with_tshark(field: &str, protocol: &str, key: &str, pinned: &[Pinned<'_>]) {
    let Some(dir) = shared_pcaps() else {
        return;
    };
    let want_all = tshark_counts(&dir, field);
    assert!(!want_all.is_empty(), "no {field} rows");
    let scratch = Scratch::new(protocol);
    let events = scratch.path("events.jsonl");
    let mut failures = Vec::new();
    for (rel, tshark) in &want_all {
        let (code, _, stderr) = replay(&[
            dir.join(rel).as_os_str(),
            std::ffi::OsStr::new("--events"),
            events.as_os_str(),
        ]);
        assert_eq!(code, 0, "{rel}: {stderr}");
        let got = event_counts(&events, protocol, key);
        let mut want = tshark.clone();
        for (file, value, ours, theirs, _why) in pinned {
            if file == rel {
                assert_eq!(
                    tshark.get(*value).copied().unwrap_or(0),
                    *theirs,
                    "{rel}: pinned tshark count changed"
                );
                if *ours == 0 {
                    want.remove(*value);
                } else {
                    want.insert(value.to_string(), *ours);
                }
            }
        }
        if got != want {
            failures.push(format!("{rel}: ours {got:?}\n   expected {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        want_all.len(),
        failures.join("\n")
    );
}

/// The JSON lines of a file (none when it is missing).
pub fn jsonl(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Replays one capture with `--events` and `--stats`; returns (events, stats).
pub fn replay_events(cap: &Path) -> (Vec<serde_json::Value>, serde_json::Value) {
    let scratch = Scratch::new("ev");
    let (events, stats) = (scratch.path("events.jsonl"), scratch.path("stats.json"));
    let (code, _, stderr) = replay(&[
        cap.as_os_str(),
        std::ffi::OsStr::new("--events"),
        events.as_os_str(),
        std::ffi::OsStr::new("--stats"),
        stats.as_os_str(),
        // Alerts would go to stdout, a pipe nobody reads until the end: a capture with
        // many of them would fill it and block the sensor.
        std::ffi::OsStr::new("--alerts"),
        std::ffi::OsStr::new("/dev/null"),
    ]);
    assert_eq!(code, 0, "{}: {stderr}", cap.display());
    (jsonl(&events), json(&stats))
}

/// Runs `otsensor config check CFG`.
pub fn config_check(cfg: &Path) -> Output {
    run_with_timeout(
        Command::new(bin()).args(["config", "check"]).arg(cfg),
        Duration::from_secs(30),
    )
}

/// Runs `otsensor baseline ...`; returns (exit code, stdout, stderr).
pub fn baseline_cmd(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = run_with_timeout(
        Command::new(bin()).arg("baseline").args(args),
        Duration::from_secs(60),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `d`, recursively.
pub fn files_under(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![d.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Every capture (`.pcap`, `.pcapng`, `.cap`, compressed or not) under `d`, sorted.
pub fn captures_under(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = files_under(d)
        .into_iter()
        .filter(|p| {
            let n = p.to_string_lossy();
            n.contains(".pcap") || n.ends_with(".cap")
        })
        .collect();
    v.sort();
    v
}

/// Writes Ethernet frames (capture time in µs, bytes) as a classic pcap file.
pub fn write_pcap(path: &Path, frames: &[(u64, Vec<u8>)]) {
    let mut out = Vec::new();
    out.extend(0xa1b2_c3d4u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(4u16.to_le_bytes());
    out.extend([0; 8]);
    out.extend(65535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    for (ts, f) in frames {
        out.extend(((ts / 1_000_000) as u32).to_le_bytes());
        out.extend(((ts % 1_000_000) as u32).to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend((f.len() as u32).to_le_bytes());
        out.extend(f);
    }
    std::fs::write(path, out).unwrap();
}

/// `otsensor replay -c CFG --learn --baseline BASE CAP`: learns (or extends) BASE; panics
/// on a non-zero exit.
pub fn learn_into(cfg: &Path, base: &Path, cap: &Path) {
    let (code, _, err) = replay(&[
        "-c".as_ref(),
        cfg.as_os_str(),
        "--learn".as_ref(),
        "--baseline".as_ref(),
        base.as_os_str(),
        cap.as_os_str(),
    ]);
    assert_eq!(code, 0, "learning {}: {err}", cap.display());
}

/// One row per packet `filter` matches, the values of `fields` (tab-separated by tshark; a
/// field with several occurrences joined with `,`); `None` (after saying why) without tshark.
pub fn tshark_rows(cap: &Path, filter: &str, fields: &[&str]) -> Option<Vec<Vec<String>>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(cap).args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let Ok(out) = cmd.output() else {
        skip("tshark is not installed");
        return None;
    };
    assert!(
        out.status.success(),
        "tshark {filter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect(),
    )
}

/// The asset of `--assets` (a replay of `cap` with `extra` arguments) that `pick` chooses;
/// panics when none does.
pub fn asset_where(
    cap: &Path,
    extra: &[&std::ffi::OsStr],
    pick: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let d = Scratch::new("asset");
    let assets = d.path("assets.json");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        cap.as_os_str(),
        "--assets".as_ref(),
        assets.as_os_str(),
        "--alerts".as_ref(),
        "/dev/null".as_ref(),
    ];
    args.extend(extra);
    let (code, _, err) = replay(&args);
    assert_eq!(code, 0, "{}: {err}", cap.display());
    let doc = json(&assets);
    doc["assets"]
        .as_array()
        .and_then(|v| v.iter().find(|a| pick(a)).cloned())
        .unwrap_or_else(|| panic!("{}: no such asset in {doc}", cap.display()))
}
