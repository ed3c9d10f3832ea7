//! Replay: expected counts on the project's captures, the public corpus against tshark,
//! exit codes, and identical output for 1 and N workers.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

fn cases() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![own_pcaps()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name() == Some(OsStr::new("expected.json")) {
                let cap = std::fs::read_dir(&d)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .find(|f| {
                        let n = f.to_string_lossy();
                        n.ends_with(".pcap") || n.ends_with(".pcapng")
                    })
                    .unwrap_or_else(|| panic!("no capture in {}", d.display()));
                out.push((cap, p));
            }
        }
    }
    out.sort();
    assert!(
        out.len() >= 5,
        "expected the project's own cases under pcaps/"
    );
    out
}

#[test]
fn own_captures_match_expected_counts() {
    for (cap, exp_path) in cases() {
        let exp = json(&exp_path);
        let dir = Scratch::new("own");
        let stats = dir.path("stats.json");
        let events = dir.path("events.jsonl");
        let (code, _, stderr) = replay(&[
            cap.as_os_str(),
            "--stats".as_ref(),
            stats.as_os_str(),
            "--events".as_ref(),
            events.as_os_str(),
        ]);
        let name = cap.display().to_string();
        assert_eq!(
            i64::from(code),
            exp["exit_code"].as_i64().unwrap(),
            "{name}: {stderr}"
        );
        let s = json(&stats);
        assert_eq!(s["packets"], exp["packets"], "{name}");
        assert_eq!(s["l4"]["tcp"], exp["tcp"], "{name}");
        assert_eq!(s["l4"]["udp"], exp["udp"], "{name}");
        let lt = exp["link_type"].as_str().unwrap();
        assert_eq!(s["link_types"][lt], exp["packets"], "{name}");
        for (key, path) in [
            ("tcp_flows", ["flows", "tcp"]),
            ("tcp_gaps", ["tcp", "gaps"]),
            ("tcp_gap_bytes", ["tcp", "gap_bytes"]),
        ] {
            if let Some(v) = exp.get(key) {
                assert_eq!(&s[path[0]][path[1]], v, "{name}: {key}");
            }
        }
        if let Some(per_proto) = exp.get("events").and_then(Value::as_object) {
            for (proto, want) in per_proto {
                let got = event_counts(&events, proto, "function_code");
                let want: BTreeMap<String, u64> = want
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                    .collect();
                assert_eq!(got, want, "{name}: {proto} events per function_code");
            }
        }
        if let Some(per_proto) = exp.get("protocols").and_then(Value::as_object) {
            for (proto, want) in per_proto {
                for (k, v) in want.as_object().unwrap() {
                    assert_eq!(
                        &s["protocols"][proto][k], v,
                        "{name}: protocols.{proto}.{k}"
                    );
                }
            }
        }
        if code == 2 {
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{name}: one line expected: {stderr}");
            assert!(
                lines[0].contains(&name),
                "{name}: error must name the file: {stderr}"
            );
            assert!(
                s["inputs"][0]["error"].is_string(),
                "{name}: error in stats"
            );
        }
    }
}

/// Every capture in the public corpus: `packets` equals tshark's frame count, no panic, no
/// hang (each file has a time limit).
#[test]
fn shared_corpus_packet_counts_match_tshark() {
    let Some(dir) = shared_pcaps() else {
        return;
    };
    let tsv = std::fs::read_to_string(dir.join("TSHARK_COUNTS.tsv")).unwrap();
    let frames: Vec<(String, u64)> = tsv
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 5 && f[1] == "frames").then(|| (f[0].to_string(), f[4].parse().unwrap()))
        })
        .collect();
    assert!(
        frames.len() > 100,
        "TSHARK_COUNTS.tsv has too few frames rows"
    );
    let scratch = Scratch::new("corpus");
    let stats = scratch.path("stats.json");
    let mut failures = Vec::new();
    for (rel, want) in &frames {
        let cap = dir.join(rel);
        let _ = std::fs::remove_file(&stats);
        let out = run_with_timeout(
            std::process::Command::new(bin())
                .arg("replay")
                .arg(&cap)
                .arg("--stats")
                .arg(&stats)
                .arg("--events")
                .arg("/dev/null"),
            Duration::from_secs(60),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("panicked") {
            failures.push(format!("{rel}: panic: {stderr}"));
            continue;
        }
        match std::fs::read_to_string(&stats)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        {
            Some(s) if s["packets"].as_u64() == Some(*want) => {}
            Some(s) => failures.push(format!("{rel}: packets {} != tshark {want}", s["packets"])),
            None => failures.push(format!(
                "{rel}: no stats (exit {:?}): {stderr}",
                out.status.code()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        frames.len(),
        failures.join("\n")
    );
}

fn normalized_stats(p: &Path) -> Value {
    let mut s = json(p);
    let o = s.as_object_mut().unwrap();
    for k in [
        "elapsed_secs",
        "packets_per_sec",
        "mbytes_per_sec",
        "workers",
    ] {
        o.remove(k);
    }
    // The sum of per-worker peaks depends on how flows spread over workers.
    o["flows"].as_object_mut().unwrap().remove("peak");
    s
}

/// The same input gives the same events, alerts, assets and stats with 1 and with N workers.
#[test]
fn one_and_many_workers_give_identical_output() {
    let mut inputs: Vec<PathBuf> = cases()
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| !c.to_string_lossy().contains("broken"))
        .collect();
    if let Some(shared) = shared_pcaps() {
        for rel in [
            "s7comm/ct-samples__Plant1_S7comm.pcap",
            "modbus/zeek__fuzz-72.pcap",
            "dnp3/zeek__dnp3.pcap",
            "mixed/iti-ics__4SICS-GeekLounge-151020.pcap",
        ] {
            if shared.join(rel).is_file() {
                inputs.push(shared.join(rel));
            }
        }
    }
    let mut outputs: BTreeMap<u16, (String, Value, Value, String)> = BTreeMap::new();
    for workers in [1u16, 3] {
        let d = Scratch::new("workers");
        let (ev, st, assets, alerts) = (
            d.path("events.jsonl"),
            d.path("stats.json"),
            d.path("assets.json"),
            d.path("alerts.jsonl"),
        );
        let mut args: Vec<&OsStr> = inputs.iter().map(|p| p.as_os_str()).collect();
        let w = workers.to_string();
        args.extend([
            "--workers".as_ref(),
            OsStr::new(&w),
            "--events".as_ref(),
            ev.as_os_str(),
            "--stats".as_ref(),
            st.as_os_str(),
            "--assets".as_ref(),
            assets.as_os_str(),
            "--alerts".as_ref(),
            alerts.as_os_str(),
        ]);
        let (code, _, stderr) = replay(&args);
        assert_eq!(code, 0, "{stderr}");
        let st_json = normalized_stats(&st);
        assert_eq!(json(&st)["workers"].as_u64(), Some(u64::from(workers)));
        outputs.insert(
            workers,
            (
                std::fs::read_to_string(&ev).unwrap(),
                st_json,
                json(&assets),
                std::fs::read_to_string(&alerts).unwrap(),
            ),
        );
    }
    let (a, b) = (&outputs[&1], &outputs[&3]);
    assert_eq!(a.0, b.0, "events differ between 1 and 3 workers");
    assert_eq!(a.1, b.1, "stats differ between 1 and 3 workers");
    assert_eq!(a.2, b.2, "assets differ between 1 and 3 workers");
    assert_eq!(a.3, b.3, "alerts differ between 1 and 3 workers");
    assert!(a.3.lines().count() > 10);
    assert!(a.1["flows"]["created"].as_u64().unwrap() > 10);
}

fn one_line_error(args: &[&OsStr], must_contain: &str) {
    let (code, _, stderr) = replay(args);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: one line: {stderr}"
    );
    assert!(stderr.contains(must_contain), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let d = Scratch::new("bad");
    let missing = d.path("no-such.pcap");
    one_line_error(&[missing.as_os_str()], "no-such.pcap");
    let text = d.path("notes.pcap");
    std::fs::write(&text, "this is not a capture file\n").unwrap();
    one_line_error(&[text.as_os_str()], "notes.pcap");
    let empty = d.path("empty.pcap");
    std::fs::write(&empty, "").unwrap();
    one_line_error(&[empty.as_os_str()], "empty.pcap");
    // A missing file among good ones fails before anything runs.
    let good = own_pcaps().join("dnp3/suricata-verify-dnp3-flood/input.pcap");
    one_line_error(&[good.as_os_str(), missing.as_os_str()], "no-such.pcap");
    let cfg = d.path("bad.toml");
    std::fs::write(&cfg, "[flows]\nmax_flow = 1\n").unwrap();
    one_line_error(
        &[good.as_os_str(), "-c".as_ref(), cfg.as_os_str()],
        "max_flow",
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["replay"],
        vec!["frobnicate"],
        vec!["replay", "--workers", "0", "x.pcap"],
    ] {
        let out = run_with_timeout(
            std::process::Command::new(bin()).args(&args),
            Duration::from_secs(10),
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = run_with_timeout(
        std::process::Command::new(bin()).arg("--help"),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn config_check_names_the_key() {
    let d = Scratch::new("cfg");
    let good = d.path("good.toml");
    std::fs::write(&good, "[pipeline]\nworkers = 2\non_full = \"drop\"\n").unwrap();
    let out = config_check(&good);
    assert_eq!(out.status.code(), Some(0));
    let bad = d.path("bad.toml");
    std::fs::write(&bad, "[capture]\nsnaplen = 10\n").unwrap();
    let out = config_check(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("capture.snaplen"));
}

#[test]
fn several_files_are_read_in_order_and_assets_written_as_csv() {
    let d = Scratch::new("multi");
    let (st, assets) = (d.path("stats.json"), d.path("assets.csv"));
    let a = own_pcaps().join("dnp3/suricata-verify-dnp3-flood/input.pcap");
    let b = own_pcaps().join("dnp3/opendnp3-conformance-8.4.3.2.1/dump.pcap");
    let (code, _, stderr) = replay(&[
        a.as_os_str(),
        b.as_os_str(),
        "--stats".as_ref(),
        st.as_os_str(),
        "--assets".as_ref(),
        assets.as_os_str(),
        "--assets-format".as_ref(),
        "csv".as_ref(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let s = json(&st);
    assert_eq!(s["packets"], 49);
    assert_eq!(s["inputs"][0]["packets"], 40);
    assert_eq!(s["inputs"][1]["packets"], 9);
    assert_eq!(s["link_types"]["raw_ip"], 40);
    assert_eq!(s["link_types"]["bsd_loopback"], 9);
    let csv = std::fs::read_to_string(&assets).unwrap();
    assert!(csv.starts_with("ip,macs,"));
    assert!(csv.lines().count() >= 3, "{csv}");
}

#[test]
fn example_config_is_valid_and_matches_defaults() {
    let example = root().join("config/example.toml");
    let out = config_check(&example);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGINT stops a (slow, --realtime) replay cleanly: exit 0, stats and assets still written.
#[test]
fn sigint_stops_cleanly_and_writes_stats() {
    let d = Scratch::new("sigint");
    let (st, assets) = (d.path("stats.json"), d.path("assets.json"));
    let cap = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap"); // 85 s of traffic
    let child = std::process::Command::new(bin())
        .args(["replay".as_ref(), "--realtime".as_ref(), cap.as_os_str()])
        .arg("--stats")
        .arg(&st)
        .arg("--assets")
        .arg(&assets)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json(&st);
    let n = s["packets"].as_u64().unwrap();
    assert!(n > 0 && n < 15387, "stopped partway, got {n} packets");
    assert!(json(&assets)["assets"].as_array().is_some());
}

/// `-` reads a capture from standard input and a FIFO is read as a stream: both end cleanly
/// at the end of the stream, with the same packets as the file.
#[test]
fn standard_input_and_a_fifo_are_read_to_the_end() {
    use std::io::Write;
    let cap = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let bytes = std::fs::read(&cap).unwrap();
    let s = Scratch::new("stream");
    let packets = |stats: &std::path::Path| json(stats)["packets"].as_u64().unwrap();
    let (file_stats, stdin_stats, fifo_stats) = (
        s.path("file.json"),
        s.path("stdin.json"),
        s.path("fifo.json"),
    );
    let (code, _, err) = replay(&[cap.as_os_str(), "--stats".as_ref(), file_stats.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let mut child = std::process::Command::new(bin())
        .args(["replay", "-", "--stats"])
        .arg(&stdin_stats)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(packets(&stdin_stats), packets(&file_stats));
    let fifo = s.path("capture.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let (fifo, bytes) = (fifo.clone(), bytes.clone());
        std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
    };
    let (code, _, err) = replay(&[fifo.as_os_str(), "--stats".as_ref(), fifo_stats.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    writer.join().unwrap();
    assert_eq!(packets(&fifo_stats), packets(&file_stats));
}

/// gzip, zstd and xz captures are recognised by their magic bytes and streamed through the
/// same reader: the same packets as the plain file; a cut one is processed up to the break,
/// its stats written, exit 2.
#[test]
fn compressed_captures_are_read_as_the_plain_file() {
    use std::io::Write;
    let cap = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let plain = std::fs::read(&cap).unwrap();
    let s = Scratch::new("compressed");
    let packets = |stats: &std::path::Path| json(stats)["packets"].as_u64().unwrap();
    let file_stats = s.path("file.json");
    let (code, _, err) = replay(&[cap.as_os_str(), "--stats".as_ref(), file_stats.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut &plain[..], &mut xz).unwrap();
    let zst =
        ruzstd::encoding::compress_to_vec(&plain[..], ruzstd::encoding::CompressionLevel::Fastest);
    let gz = gz.finish().unwrap();
    for (name, bytes) in [("c.pcap.gz", &gz), ("c.pcap.xz", &xz), ("c.pcap.zst", &zst)] {
        let p = s.path(name);
        std::fs::write(&p, bytes).unwrap();
        let stats = s.path(&format!("{name}.json"));
        let (code, _, err) = replay(&[p.as_os_str(), "--stats".as_ref(), stats.as_os_str()]);
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(packets(&stats), packets(&file_stats), "{name}");
        // The same on standard input (`gzip -c X.pcap | otsensor replay -`) and from a FIFO.
        let piped = s.path(&format!("{name}.stdin.json"));
        let mut child = std::process::Command::new(bin())
            .args(["replay", "-", "--stats"])
            .arg(&piped)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name} on stdin: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(packets(&piped), packets(&file_stats), "{name} on stdin");
        let fifo = s.path(&format!("{name}.fifo"));
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let writer = {
            let (fifo, bytes) = (fifo.clone(), bytes.clone());
            std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
        };
        let fifo_stats = s.path(&format!("{name}.fifo.json"));
        let (code, _, err) =
            replay(&[fifo.as_os_str(), "--stats".as_ref(), fifo_stats.as_os_str()]);
        assert_eq!(code, 0, "{name} from a FIFO: {err}");
        writer.join().unwrap();
        assert_eq!(
            packets(&fifo_stats),
            packets(&file_stats),
            "{name} from a FIFO"
        );
    }
    let cut = s.path("cut.pcap.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let stats = s.path("cut.json");
    let (code, _, err) = replay(&[cut.as_os_str(), "--stats".as_ref(), stats.as_os_str()]);
    assert_eq!(code, 2, "{err}");
    let n = packets(&stats);
    assert!(n > 0 && n < packets(&file_stats), "{n}");
}

/// The frames of a legacy pcap (microseconds, little-endian): (microseconds, bytes).
fn pcap_frames(p: &Path) -> Vec<(u64, Vec<u8>)> {
    let b = std::fs::read(p).unwrap();
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "{}: not a little-endian µs pcap",
        p.display()
    );
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let u = |o: usize| u32::from_le_bytes(b[i + o..i + o + 4].try_into().unwrap());
        let (sec, usec, cap) = (u(0), u(4), u(8) as usize);
        out.push((
            u64::from(sec) * 1_000_000 + u64::from(usec),
            b[i + 16..i + 16 + cap].to_vec(),
        ));
        i += 16 + cap;
    }
    out
}

/// A pcapng block: type, body (padded to 32 bits), both lengths.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    let mut b = Vec::new();
    b.extend(kind.to_le_bytes());
    b.extend(len.to_le_bytes());
    b.extend(body);
    b.extend(vec![0; pad]);
    b.extend(len.to_le_bytes());
    b
}

fn section_header() -> Vec<u8> {
    let mut body = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    body.extend(1u16.to_le_bytes());
    body.extend(0u16.to_le_bytes());
    body.extend((-1i64).to_le_bytes());
    block(0x0A0D_0D0A, &body)
}

/// An interface: link type, snaplen, and options if_tsresol (code 9) and if_tsoffset (14).
fn interface(link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
    let mut body = link.to_le_bytes().to_vec();
    body.extend(0u16.to_le_bytes());
    body.extend(262_144u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend(9u16.to_le_bytes());
        body.extend(1u16.to_le_bytes());
        body.extend([r, 0, 0, 0]);
    }
    if let Some(o) = tsoffset {
        body.extend(14u16.to_le_bytes());
        body.extend(8u16.to_le_bytes());
        body.extend(o.to_le_bytes());
    }
    if tsresol.is_some() || tsoffset.is_some() {
        body.extend([0u8; 4]); // opt_endofopt
    }
    block(1, &body)
}

fn packet(iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut body = iface.to_le_bytes().to_vec();
    body.extend(((ticks >> 32) as u32).to_le_bytes());
    body.extend((ticks as u32).to_le_bytes());
    body.extend((data.len() as u32).to_le_bytes());
    body.extend((data.len() as u32).to_le_bytes());
    body.extend(data);
    block(6, &body)
}

/// Events without MAC addresses (a raw-IP interface has none).
fn events_without_macs(cap: &Path) -> Vec<Value> {
    let (mut events, _) = replay_events(cap);
    for e in &mut events {
        for end in ["src", "dst"] {
            if let Some(o) = e.get_mut(end).and_then(Value::as_object_mut) {
                o.remove("mac");
            }
        }
    }
    events
}

/// What Wireshark writes when capturing on several interfaces, and libpcap refuses: pcapng
/// with two sections, each with an Ethernet and a raw-IP interface (in a different order),
/// microsecond and nanosecond clocks and a timestamp offset. Every frame of the plant capture
/// is in it once, on one interface or the other: the events are those of the plain file.
#[test]
fn pcapng_with_several_link_types_sections_and_clocks() {
    let d = Scratch::new("pcapng-multi");
    let src = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    let frames = pcap_frames(&src);
    let half = frames.len() / 2;
    let mut f = section_header();
    // Section 1: 0 = Ethernet (µs, the default), 1 = raw IPv4 in nanoseconds.
    f.extend(interface(1, None, None));
    f.extend(interface(228, Some(9), None));
    for (i, (us, data)) in frames[..half].iter().enumerate() {
        if i % 2 == 0 {
            f.extend(packet(0, *us, data));
        } else {
            f.extend(packet(1, us * 1000, &data[14..]));
        }
    }
    // Section 2: interfaces numbered again: 0 = raw IPv4 in ns with a 1000 s offset,
    // 1 = Ethernet in µs (if_tsresol given) with an offset of -5 s.
    f.extend(section_header());
    f.extend(interface(228, Some(9), Some(1000)));
    f.extend(interface(1, Some(6), Some(-5)));
    for (i, (us, data)) in frames[half..].iter().enumerate() {
        if i % 2 == 0 {
            f.extend(packet(0, (us - 1_000_000_000) * 1000, &data[14..]));
        } else {
            f.extend(packet(1, us + 5_000_000, data));
        }
    }
    let multi = d.path("multi.pcapng");
    std::fs::write(&multi, f).unwrap();
    let stats = d.path("stats.json");
    let (code, _, err) = replay(&[multi.as_os_str(), "--stats".as_ref(), stats.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    let s = json(&stats);
    assert_eq!(s["packets"], frames.len(), "{s}");
    assert_eq!(s["inputs"][0]["link_type"], "ethernet+raw_ip", "{s}");
    assert_eq!(events_without_macs(&multi), events_without_macs(&src));
}

/// Captures of three link types merged by Wireshark's mergecap (one pcapng, three
/// interfaces) read as the three files one after the other.
#[test]
fn mergecap_output_of_three_link_types() {
    let d = Scratch::new("mergecap");
    let parts = [
        own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap"),
        own_pcaps().join("dnp3/suricata-verify-dnp3-flood/input.pcap"),
        own_pcaps().join("s7comm-plus/icsnpp-s7comm-plus/s7comm_plus.pcap"),
    ];
    let merged = d.path("merged.pcapng");
    let out = std::process::Command::new("mergecap")
        .arg("-w")
        .arg(&merged)
        .args(&parts)
        .output();
    let Ok(out) = out else {
        skip("mergecap not installed (scripts/test.sh installs tshark)");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = |args: &[&OsStr], name: &str| {
        let p = d.path(name);
        let mut a = args.to_vec();
        a.extend(["--stats".as_ref(), p.as_os_str()]);
        let (code, _, err) = replay(&a);
        assert_eq!(code, 0, "{err}");
        json(&p)
    };
    let one = stats(&[merged.as_os_str()], "merged.json");
    let each: Vec<&OsStr> = parts.iter().map(|p| p.as_os_str()).collect();
    let all = stats(&each, "each.json");
    assert_eq!(one["packets"], all["packets"]);
    assert_eq!(one["pdus"], all["pdus"], "{}\n{}", one["pdus"], all["pdus"]);
    assert_eq!(one["inputs"][0]["link_type"], "ethernet+raw_ip+linux_sll");
    assert_eq!(one["undecodable"], all["undecodable"]);
}

/// Every event line follows `schemas/event.schema.json` (JSON Schema 2020-12, validated by
/// Python's jsonschema with formats checked): all events of the project's own captures, and
/// the first 100 of every capture of the shared corpus when it is there.
#[test]
fn every_event_follows_the_schema() {
    let py = root().join("target/test-tools/venv/bin/python");
    if !py.is_file() {
        skip("jsonschema not installed in target/test-tools/venv (scripts/test.sh installs it)");
        return;
    }
    let d = Scratch::new("schema");
    let all = d.path("events.jsonl");
    let mut out = std::fs::File::create(&all).unwrap();
    let mut caps: Vec<(PathBuf, usize)> = captures_under(&own_pcaps())
        .into_iter()
        .map(|p| (p, usize::MAX))
        .collect();
    if let Some(shared) = shared_pcaps() {
        caps.extend(captures_under(&shared).into_iter().map(|p| (p, 100)));
    }
    let mut protocols = std::collections::BTreeSet::new();
    for (cap, n) in &caps {
        let ev = d.path("one.jsonl");
        let (_, _, err) = replay(&[
            cap.as_os_str(),
            "--events".as_ref(),
            ev.as_os_str(),
            "--alerts".as_ref(),
            "/dev/null".as_ref(),
        ]);
        let text =
            std::fs::read_to_string(&ev).unwrap_or_else(|e| panic!("{}: {e} {err}", cap.display()));
        for line in text.lines().take(*n) {
            if let Some(p) = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v["protocol"].as_str().map(str::to_string))
            {
                protocols.insert(p);
            }
            use std::io::Write;
            writeln!(out, "{line}").unwrap();
        }
    }
    drop(out);
    for p in [
        "modbus",
        "dnp3",
        "s7comm",
        "s7comm_plus",
        "enip",
        "cip",
        "iec104",
        "goose",
        "sv",
        "pn_dcp",
        "bacnet",
        "opcua",
    ] {
        assert!(
            protocols.contains(p),
            "no {p} event to validate: {protocols:?}"
        );
    }
    let res = run_with_timeout(
        std::process::Command::new(&py)
            .arg(root().join("tests/tools/validate_events.py"))
            .arg(root().join("schemas/event.schema.json"))
            .arg(&all),
        Duration::from_secs(600),
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let n: usize = String::from_utf8_lossy(&res.stdout).trim().parse().unwrap();
    assert!(n > 40_000, "only {n} events validated");
}

/// `otsensor replay ... --events - | head -1`: once nobody reads standard output the run
/// ends quietly with exit 0 (no "Broken pipe"), without reading the rest of the input.
#[test]
fn a_closed_standard_output_ends_the_run_quietly() {
    use std::io::BufRead;
    let cap = own_pcaps().join("modbus/iti-modbustcp/ModbusTCP.pcap");
    for out in ["--events", "--alerts"] {
        let mut child = std::process::Command::new(bin())
            .args(["replay", "-c"])
            .arg(root().join("config/plant1-zones.toml"))
            .args([out, "-"])
            .arg(&cap)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        {
            let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
            r.read_line(&mut first).unwrap();
        } // `head -1` exits: the pipe's read end closes.
        let out_ = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out_.stderr);
        assert_eq!(out_.status.code(), Some(0), "{out}: {err}");
        assert!(
            !err.contains("Broken pipe") && err.trim().is_empty(),
            "{out}: {err}"
        );
        assert!(first.starts_with('{'), "{out}: {first}");
    }
}
