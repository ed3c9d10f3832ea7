//! Test hosts in network namespaces, for live capture: namespaces made by the test (and
//! deleted when it ends), veth pairs between them, and real captures rewritten so that every
//! address on the wire is a test host's. Traffic never leaves the namespaces.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Namespaces deleted on drop.
pub struct Netns {
    names: Vec<String>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// Runs a command; its stderr on failure.
pub fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs a command inside namespace `ns`.
pub fn in_ns(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    sh(&v)
}

/// Creates the namespaces `names`, or says why not: a failure when
/// `OTSENSOR_REQUIRE_TEST_INPUTS=1` (CI), else "skipped" and `None`.
pub fn create(names: &[&str]) -> Option<Netns> {
    let mut guard = Netns { names: Vec::new() };
    for n in names {
        if let Err(e) = sh(&["ip", "netns", "add", n]) {
            crate::util::skip(&format!("network namespaces are not permitted here ({e})"));
            return None;
        }
        guard.names.push(n.to_string());
        // No IPv6: no router solicitations or neighbour discovery on the wire.
        for key in ["all", "default"] {
            in_ns(
                n,
                &[
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{key}.disable_ipv6=1"),
                ],
            )
            .unwrap();
        }
        in_ns(n, &["ip", "link", "set", "lo", "up"]).unwrap();
    }
    Some(guard)
}

/// A veth pair: `a` (MAC `mac_a`) in namespace `ns_a`, `b` (MAC `mac_b`) in `ns_b`, both up.
pub fn veth(ns_a: &str, a: &str, mac_a: &str, ns_b: &str, b: &str, mac_b: &str) {
    sh(&[
        "ip", "link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b, "netns", ns_b,
    ])
    .unwrap();
    for (ns, dev, mac) in [(ns_a, a, mac_a), (ns_b, b, mac_b)] {
        in_ns(ns, &["ip", "link", "set", dev, "address", mac]).unwrap();
        in_ns(ns, &["ip", "link", "set", dev, "up"]).unwrap();
    }
}

/// A device name of at most 15 characters (the kernel's limit).
pub fn dev(prefix: &str) -> String {
    let s = format!("{prefix}{}", std::process::id());
    s[..s.len().min(15)].to_string()
}

/// Rewrites a capture with tcprewrite: addresses mapped by `pnat` (`from/24:to/24`), every
/// frame from `smac` to `dmac`, checksums fixed.
pub fn rewrite(src: &Path, out: &Path, pnat: &str, smac: &str, dmac: &str) {
    sh(&[
        "tcprewrite",
        &format!("--pnat={pnat}"),
        &format!("--enet-smac={smac}"),
        &format!("--enet-dmac={dmac}"),
        "--fixcsum",
        &format!("--infile={}", src.display()),
        &format!("--outfile={}", out.display()),
    ])
    .expect("tcprewrite (apt-get install tcpreplay)");
}

/// Replays a capture into `dev` of namespace `ns` with tcpreplay (`extra`: rate options).
pub fn tcpreplay(ns: &str, dev: &str, pcap: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, "tcpreplay", "-q"])
        .args(extra)
        .args(["-i", dev])
        .arg(pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Runs a tcpreplay to its end; panics on failure.
pub fn replay_into(ns: &str, dev: &str, pcap: &Path, extra: &[&str]) {
    let out = tcpreplay(ns, dev, pcap, extra).output().unwrap();
    assert!(
        out.status.success(),
        "tcpreplay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sensor process with its log lines on a channel.
pub struct Sensor {
    pub child: Child,
    pub log: Vec<String>,
    rx: mpsc::Receiver<String>,
}

impl Sensor {
    /// Starts `otsensor capture ARGS` in namespace `ns` with info logging, and waits until
    /// `ready` log lines contain "Capturing on".
    pub fn start(ns: &str, args: &[&std::ffi::OsStr], ready: usize) -> Sensor {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(crate::util::bin())
            .arg("capture")
            .args(args)
            .env("OTSENSOR_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut s = Sensor {
            child,
            log: Vec::new(),
            rx,
        };
        let mut started = 0;
        while started < ready {
            match s.rx.recv_timeout(Duration::from_secs(30)) {
                Ok(l) => {
                    started += usize::from(l.contains("Capturing on"));
                    s.log.push(l);
                }
                Err(_) => {
                    let _ = s.child.kill();
                    panic!("otsensor capture did not start: {:?}", s.log);
                }
            }
        }
        s
    }

    /// Waits (at most `limit`) for a log line containing `text`.
    pub fn wait_log(&mut self, text: &str, limit: Duration) -> bool {
        if self.log.iter().any(|l| l.contains(text)) {
            return true;
        }
        let end = std::time::Instant::now() + limit;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(text);
                    self.log.push(l);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// Sends a signal (`TERM`, `HUP`, `STOP`, `CONT`).
    pub fn signal(&self, sig: &str) {
        sh(&["kill", &format!("-{sig}"), &self.child.id().to_string()]).unwrap();
    }

    /// SIGTERM, then the exit code and the whole log.
    pub fn stop(mut self) -> (Option<i32>, Vec<String>) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        self.log.extend(self.rx.try_iter());
        (status.code(), self.log)
    }
}
