//! The console (`[console]`): a replay of the Plant1 S7comm capture serves it after its end;
//! the security rules are checked over raw HTTP (no session, CSRF, roles, limits, path
//! traversal, rate-limited logins), then Debian's chromium, driven by chromedriver through
//! python3-selenium (`tests/console/browser.py`), logs in, walks the pages, mutes an alert
//! (the alerts file gets its record with status `muted`) and checks that a viewer has no
//! triage buttons and that no page asked another host for anything. Its screenshots are the
//! book's and the README's (`docs/src/console/`, refreshed with `OTSENSOR_UPDATE_SCREENSHOTS=1`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

fn plant1() -> std::path::PathBuf {
    own_pcaps().join("s7comm/ct-samples-plant1/Plant1_S7comm.pcap")
}

const OPERATOR: (&str, &str) = ("olga", "correct horse battery");
const VIEWER: (&str, &str) = ("vic", "viewer-only");

pub fn hash(password: &str) -> String {
    let mut c = Command::new(bin())
        .args(["console", "hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn console_config(dir: &Scratch, extra: &str) -> std::path::PathBuf {
    let zones = std::fs::read_to_string(root().join("config/plant1-zones.toml")).unwrap();
    let cfg = dir.path("console.toml");
    std::fs::create_dir_all(dir.path("evidence")).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "{zones}\n[evidence]\ndir = {:?}\n\n[console]\nlisten = \"127.0.0.1:0\"\naudit_log = {:?}\n{extra}\n\
             [[console.users]]\nname = \"{}\"\npassword_hash = \"{}\"\nrole = \"operator\"\n\n\
             [[console.users]]\nname = \"{}\"\npassword_hash = \"{}\"\n",
            dir.path("evidence"),
            dir.path("audit.jsonl"),
            OPERATOR.0,
            hash(OPERATOR.1),
            VIEWER.0,
            hash(VIEWER.1),
        ),
    )
    .unwrap();
    cfg
}

/// A replay serving its console after the input ended.
struct Served {
    child: Child,
    url: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Served {
    fn start(cfg: &Path, alerts: &Path, more: &[&std::ffi::OsStr]) -> Served {
        let mut child = Command::new(bin())
            .arg("replay")
            .arg("-c")
            .arg(cfg)
            .arg("--alerts")
            .arg(alerts)
            .args(more)
            .arg(plant1())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(url) = line.split("the console stays at ").nth(1) {
                    let _ = tx.send(url.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("no console URL: {}", log.lock().unwrap()));
        Served { child, url, log }
    }

    fn addr(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }

    /// SIGINT, then the exit code.
    fn stop(mut self) -> (i32, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no exit after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        (status.code().unwrap_or(-1), log)
    }
}

/// An HTTP answer: code, headers (lower-case names), body.
struct Answer {
    code: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request over a fresh connection; `head` is the request line and headers as sent.
fn raw(addr: &str, head: &str, body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (and close) before a refused body is sent.
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    Answer {
        code,
        headers,
        body,
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
    out
}

fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    raw(addr, &head, body.as_bytes())
}

/// Logs in through the API: (cookie header value, CSRF token).
fn login(addr: &str, user: (&str, &str)) -> (String, String) {
    let a = request(
        addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        &serde_json::json!({"name": user.0, "password": user.1}).to_string(),
    );
    assert_eq!(a.code, 200, "{}", a.text());
    let cookie = a.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    (pair, a.json()["csrf"].as_str().unwrap().to_string())
}

fn records_of(alerts: &Path, id: &str) -> Vec<serde_json::Value> {
    jsonl(alerts)
        .into_iter()
        .filter(|r| r["id"] == id)
        .collect()
}

#[test]
fn the_console_serves_a_replay_securely_and_a_browser_mutes_an_alert() {
    let dir = Scratch::new("console");
    let cfg = console_config(&dir, "");
    let alerts = dir.path("alerts.jsonl");
    // A baseline learned from the capture, which the console's replay detects with.
    let base = dir.path("baseline.json");
    learn_into(&root().join("config/plant1-zones.toml"), &base, &plant1());
    let served = Served::start(&cfg, &alerts, &["--baseline".as_ref(), base.as_os_str()]);
    let addr = served.addr();

    // Without a session: the API is 401, the pages send to the login.
    for path in ["/api/alerts", "/api/assets", "/api/overview"] {
        assert_eq!(request(&addr, "GET", path, &[], "").code, 401, "{path}");
    }
    let a = request(&addr, "GET", "/alerts", &[], "");
    assert_eq!((a.code, a.header("location")), (303, Some("/login")));
    let a = request(&addr, "GET", "/login", &[], "");
    assert_eq!(a.code, 200);
    let csp = a.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    // A wrong password.
    let a = request(
        &addr,
        "POST",
        "/api/login",
        &[],
        r#"{"name": "olga", "password": "wrong"}"#,
    );
    assert_eq!(a.code, 401);
    assert!(a.header("set-cookie").is_none());

    let (op, op_csrf) = login(&addr, OPERATOR);
    let (view, view_csrf) = login(&addr, VIEWER);
    let listed = request(&addr, "GET", "/api/alerts", &[("Cookie", &op)], "").json();
    let listed = listed.as_array().unwrap().clone();
    assert!(listed.len() >= 5, "{listed:?}");
    let assets = request(&addr, "GET", "/api/assets", &[("Cookie", &view)], "").json();
    assert!(
        assets
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["ip"] == "141.81.0.10" && a["risk"]["score"].is_u64()),
        "{assets}"
    );
    let policy: Vec<&serde_json::Value> = listed
        .iter()
        .filter(|a| a["rule"] == "policy.operation_not_allowed")
        .collect();
    let target = policy[0]["id"].as_str().unwrap().to_string();
    let body = serde_json::json!({ "id": target }).to_string();
    // No CSRF token, a wrong one, another session's: 403. A viewer with its own: 403.
    for (cookie, token) in [
        (&op, ""),
        (&op, "0000"),
        (&op, view_csrf.as_str()),
        (&view, view_csrf.as_str()),
        (&view, op_csrf.as_str()),
    ] {
        let mut h = vec![("Cookie", cookie.as_str())];
        if !token.is_empty() {
            h.push(("X-CSRF-Token", token));
        }
        let a = request(&addr, "POST", "/api/alerts/mute", &h, &body);
        assert_eq!(a.code, 403, "{cookie} {token}: {}", a.text());
    }
    // A form POST without the token too.
    let a = request(
        &addr,
        "POST",
        &format!("/alerts/{target}/mute"),
        &[("Cookie", &op)],
        "",
    );
    assert_eq!(a.code, 403);
    // Malformed and oversized requests.
    let with = |extra: (&'static str, &'static str)| {
        vec![
            ("Cookie", op.as_str()),
            ("X-CSRF-Token", op_csrf.as_str()),
            extra,
        ]
    };
    let a = request(
        &addr,
        "POST",
        "/api/alerts/mute",
        &with(("Content-Type", "application/json")),
        "{not json",
    );
    assert_eq!(a.code, 400, "{}", a.text());
    let a = request(
        &addr,
        "POST",
        "/api/alerts/mute",
        &with(("X-Pad", "1")),
        &"x".repeat(40_000),
    );
    assert_eq!(a.code, 413, "{}", a.text());
    let a = request(
        &addr,
        "GET",
        &format!("/alerts?rule={}", "a".repeat(5000)),
        &[("Cookie", &op)],
        "",
    );
    assert_eq!(a.code, 414);
    let a = request(&addr, "PUT", "/api/alerts", &[("Cookie", &op)], "");
    assert_eq!(a.code, 405);
    let a = request(&addr, "GET", "/alerts?rule=%zz", &[("Cookie", &op)], "");
    assert_eq!(a.code, 400);
    let a = raw(&addr, "GARBAGE\r\n\r\n", b"");
    assert!(a.code >= 400, "{}", a.code);
    // Path traversal on the evidence download and the static files.
    for path in [
        "/alerts/..%2F..%2F..%2Fetc%2Fpasswd/evidence",
        &format!("/alerts/{target}/evidence/../../../../etc/passwd"),
        "/alerts/../../../../etc/passwd",
        "/static/../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
    ] {
        let a = request(&addr, "GET", path, &[("Cookie", &op)], "");
        assert!(
            a.code == 404 && !a.text().contains("root:"),
            "{path}: {} {}",
            a.code,
            a.text()
        );
    }
    // The evidence pcap of an alert that has one.
    let with_pcap = listed
        .iter()
        .find(|a| a["evidence"]["pcap"].is_string())
        .expect("an alert with an evidence pcap");
    let a = request(
        &addr,
        "GET",
        &format!("/alerts/{}/evidence", with_pcap["id"].as_str().unwrap()),
        &[("Cookie", &view)],
        "",
    );
    assert_eq!(a.code, 200);
    assert!(
        a.body.starts_with(&[0xd4, 0xc3, 0xb2, 0xa1])
            || a.body.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]),
        "not a pcap"
    );
    // A decision through the API: the alert's next record is unmuted after a mute.
    let a = request(
        &addr,
        "POST",
        "/api/alerts/mute",
        &with(("Content-Type", "application/json")),
        &serde_json::json!({ "id": policy[1]["id"] }).to_string(),
    );
    assert_eq!(a.code, 202, "{}", a.text());
    let second = policy[1]["id"].as_str().unwrap().to_string();
    let muted = |id: &str| {
        records_of(&alerts, id)
            .last()
            .is_some_and(|r| r["status"] == "muted")
    };
    let t = Instant::now();
    while !muted(&second) {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "the API mute was not applied"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The browser.
    let shots = if std::env::var_os("OTSENSOR_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        root().join("docs/src/console")
    } else {
        dir.path("shots")
    };
    std::fs::create_dir_all(&shots).unwrap();
    let browser = browser_run(&served.url, &shots);
    let mut approved_edge = None;
    if let Some(done) = browser {
        assert_eq!(done["wrong_password"], "wrong name or password", "{done}");
        assert_eq!(
            done["overview_alerts"].as_u64(),
            Some(listed.len() as u64),
            "{done}"
        );
        assert!(done["assets"].as_u64() >= Some(10), "{done}");
        assert!(done["map_zones"].as_u64() >= Some(5), "{done}");
        assert!(done["map_violations"].as_u64() >= Some(1), "{done}");
        // scada -> cell-a is allowed and seen: drawn as traffic, not as an alert.
        assert!(done["map_observed"].as_u64() >= Some(1), "{done}");
        assert!(
            done["attack_links"].as_array().unwrap().iter().all(|l| l
                .as_str()
                .unwrap()
                .starts_with("https://attack.mitre.org/techniques/T")),
            "{done}"
        );
        let id = done["muted"].as_str().unwrap();
        assert!(
            muted(id),
            "the browser's mute of {id} is not in the alerts file"
        );
        assert_eq!(done["viewer_status"], "muted");
        assert_eq!(
            done["viewer_buttons"], 0,
            "a viewer was shown triage buttons"
        );
        assert_eq!(
            done["viewer_baseline_buttons"], 0,
            "a viewer was shown curation buttons"
        );
        let edge: Vec<&str> = done["baseline_edge"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let approved = format!(
            "~ edge {}>{}/{} state learning -> approved",
            edge[0], edge[1], edge[2]
        );
        assert!(
            done["baseline_diff"].as_str().unwrap().contains(&approved),
            "{approved} not in {done}"
        );
        approved_edge = Some((
            edge[0].to_string(),
            edge[1].to_string(),
            edge[2].to_string(),
        ));
        let hosts: Vec<&str> = done["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert_eq!(hosts, vec![addr.as_str()], "requests to other hosts");
        for page in [
            "login", "overview", "assets", "asset", "map", "alerts", "alert", "baseline",
        ] {
            assert!(shots.join(format!("{page}.png")).is_file(), "{page}.png");
        }
    }

    // Failed logins are rate-limited (last: they lock this address out for a minute).
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(
            request(
                &addr,
                "POST",
                "/api/login",
                &[],
                r#"{"name": "olga", "password": "guess"}"#,
            )
            .code,
        );
    }
    assert!(codes.contains(&429), "{codes:?}");
    let a = request(
        &addr,
        "POST",
        "/api/login",
        &[],
        &serde_json::json!({"name": OPERATOR.0, "password": OPERATOR.1}).to_string(),
    );
    assert_eq!(a.code, 429, "the right password during the lockout");

    let (code, log) = served.stop();
    assert_eq!(code, 0, "{log}");
    // Every triage action is in the audit log.
    let audit = jsonl(&dir.path("audit.jsonl"));
    assert!(
        audit.iter().any(|l| l["user"] == OPERATOR.0
            && l["alert_id"] == second.as_str()
            && l["decision"] == "mute"),
        "{audit:?}"
    );
    assert!(audit.iter().all(|l| l["user"] != VIEWER.0), "{audit:?}");
    // The approval is in the baseline saved at exit (detecting, but curated).
    if let Some((src, dst, proto)) = approved_edge {
        let b = json(&base);
        let e = b["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| {
                e["src"] == src.as_str()
                    && e["dst"] == dst.as_str()
                    && e["protocol"] == proto.as_str()
            })
            .unwrap();
        assert_eq!(e["state"], "approved", "{e}");
        assert!(
            audit.iter().any(|l| l["decision"] == "approve"),
            "{audit:?}"
        );
    }
}

/// Runs the browser script: its report, or `None` after saying it skipped (a failure when
/// inputs are required).
fn browser_run(url: &str, shots: &Path) -> Option<serde_json::Value> {
    for tool in [
        "/usr/bin/chromium",
        "/usr/bin/chromedriver",
        "/usr/bin/python3",
    ] {
        if !Path::new(tool).exists() {
            skip(&format!(
                "{tool} is missing (apt-get install chromium chromium-driver python3-selenium)"
            ));
            return None;
        }
    }
    let has_selenium = Command::new("/usr/bin/python3")
        .args(["-c", "import selenium"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_selenium {
        skip("python3-selenium is missing");
        return None;
    }
    let out = run_with_timeout(
        Command::new("/usr/bin/python3")
            .arg(root().join("tests/console/browser.py"))
            .arg(url)
            .arg(format!("{}:{}", OPERATOR.0, OPERATOR.1))
            .arg(format!("{}:{}", VIEWER.0, VIEWER.1))
            .arg(shots),
        Duration::from_secs(240),
    );
    assert!(
        out.status.success(),
        "browser: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    Some(serde_json::from_str(line.lines().last().unwrap_or("")).unwrap())
}

#[test]
fn config_check_refuses_unsafe_console_settings() {
    let dir = Scratch::new("console-check");
    let good = hash("x");
    let user = format!("[[console.users]]\nname = \"a\"\npassword_hash = \"{good}\"\n");
    for (body, key, words) in [
        (format!("[console]\nlisten = \"0.0.0.0:8443\"\n{user}"), "console.listen", "loopback"),
        (format!("[console]\nlisten = \"127.0.0.1:8443\"\ntls_cert = \"/etc/hostname\"\n{user}"), "console.tls_key", "tls_cert is set"),
        ("[console]\nlisten = \"127.0.0.1:8443\"\n".to_string(), "console.users", "no user"),
        ("[console]\nlisten = \"127.0.0.1:8443\"\n[[console.users]]\nname = \"a\"\npassword_hash = \"plain\"\n".to_string(), "console.users.password_hash", "PHC"),
        (format!("[console]\nlisten = \"127.0.0.1:8443\"\n{user}{user}"), "console.users.name", "twice"),
        (format!("[console]\nlisten = \"localhost\"\n{user}"), "console.listen", "ADDRESS:PORT"),
        (format!("[console]\nlisten = \"127.0.0.1:8443\"\n[[console.users]]\nname = \"a\"\npassword_hash = \"{good}\"\nrole = \"admin\"\n"), "role", "viewer"),
    ] {
        let p = dir.path("c.toml");
        std::fs::write(&p, &body).unwrap();
        let out = config_check(&p);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}: {err}");
        assert!(err.contains(key) && err.contains(words), "{body}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn tls_console_sets_secure_cookies() {
    let dir = Scratch::new("console-tls");
    let (cert, key) = (dir.path("cert.pem"), dir.path("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        skip("openssl cannot make a certificate here");
        return;
    }
    serves_https_with(&cert, &key);
}

/// A replay's console over TLS with this pair: HTTPS, a `Secure` cookie, HSTS.
pub fn serves_https_with(cert: &Path, key: &Path) {
    let dir = Scratch::new("console-https");
    let cfg = console_config(&dir, &format!("tls_cert = {cert:?}\ntls_key = {key:?}\n"));
    let served = Served::start(&cfg, &dir.path("alerts.jsonl"), &[]);
    assert!(
        served.url.starts_with("https://127.0.0.1:"),
        "{}",
        served.url
    );
    let out = Command::new("curl")
        .arg("--cacert")
        .arg(cert)
        .args([
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Content-Type: application/json",
            "--data",
        ])
        .arg(serde_json::json!({"name": OPERATOR.0, "password": OPERATOR.1}).to_string())
        .arg(format!("{}api/login", served.url))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("set-cookie: otsensor_session=") && head.contains("; secure"),
        "{head}"
    );
    assert!(head.contains("strict-transport-security"), "{head}");
    let (code, log) = served.stop();
    assert_eq!(code, 0, "{log}");
}
