//! A labelled detection test set: attacks and benign operator actions built into the traffic
//! of a real plant.
//!
//! The plant is the "Plant1" capture pair of the corpus (one SCADA server polling 28 PLCs over
//! Modbus/TCP and S7comm for 85 s). Its first half, with the plant's everyday IT traffic
//! added (DNS and NTP to an operations server, a historian collecting from the SCADA server,
//! a gateway polled with one TCP connection per poll, an operator's RDP session through the
//! jump host, an engineer's coil writes), is the learning capture. The second half, with the
//! same everyday traffic, carries the scenarios: each has a time window, the host pairs it
//! involves (no other scenario and no background traffic uses them) and the alerts it must
//! raise (benign ones: none). Every scenario's packets are complete TCP or UDP exchanges
//! with correct sequence numbers, and the plant hosts keep their real MAC addresses.
//!
//! `gen-scenarios` writes `train.pcap`, `test.pcap` and `labels.json`; the end-to-end test
//! and `scripts/scenarios.sh` learn on the first, detect on the second and score the alerts
//! against the labels.

use std::collections::{HashMap, HashSet};

use etherparse::SlicedPacket;
use serde_json::{json, Value};

use crate::wire::{End, Macs, Out, Tcp};
use crate::{Frame, Mac};

/// Plant hosts of the scenarios (Plant1's addresses are 141.81.0.0/24).
const SCADA: [u8; 4] = [141, 81, 0, 10];
const EWS: [u8; 4] = [141, 81, 0, 12];
const PLC_COIL: [u8; 4] = [141, 81, 0, 24];
const PLC_ROGUE: [u8; 4] = [141, 81, 0, 46];
const GATEWAY: [u8; 4] = [141, 81, 0, 200];
const LAPTOP: [u8; 4] = [141, 81, 0, 250];
const OPS_SERVER: [u8; 4] = [141, 81, 1, 2];
const HISTORIAN: [u8; 4] = [141, 81, 1, 20];
const FILE_SERVER: [u8; 4] = [141, 81, 1, 25];
const JUMP_HOST: [u8; 4] = [141, 81, 1, 40];
const OFFICE_PC: [u8; 4] = [10, 50, 3, 7];
const C2_TLS: [u8; 4] = [45, 137, 21, 9];
const C2_RAW: [u8; 4] = [91, 215, 85, 17];

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// A deterministic byte stream (xorshift), for payloads that must look like nothing known.
struct Noise(u64);

impl Noise {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 >> 24) as u8
            })
            .collect()
    }
}

/// Builds frames with the plant's MAC addresses (locally administered ones for other hosts).
struct Net {
    macs: HashMap<[u8; 4], Mac>,
    /// Plant hosts that serve Modbus/TCP (send from port 502).
    modbus_servers: HashSet<[u8; 4]>,
    /// The gateway's MAC for addresses outside the plant.
    router: Mac,
}

impl Macs for Net {
    fn mac(&self, a: [u8; 4]) -> Mac {
        if a[0] != 141 {
            return self.router;
        }
        self.macs
            .get(&a)
            .copied()
            .unwrap_or([0x02, 0, a[0], a[1], a[2], a[3]])
    }
}

fn modbus(tid: u16, function: u8, body: &[u8]) -> Vec<u8> {
    let len = (body.len() + 2) as u16;
    let mut v = Vec::with_capacity(8 + body.len());
    v.extend(tid.to_be_bytes());
    v.extend([0, 0]);
    v.extend(len.to_be_bytes());
    v.extend([1, function]);
    v.extend(body);
    v
}

/// A TLS 1.2 record holding a ClientHello with `sni` (none when empty).
fn tls_client_hello(sni: &str, noise: &mut Noise) -> Vec<u8> {
    let mut ext = Vec::new();
    if !sni.is_empty() {
        let name = sni.as_bytes();
        let n = name.len() as u16;
        ext.extend([0, 0]);
        ext.extend((n + 5).to_be_bytes());
        ext.extend((n + 3).to_be_bytes());
        ext.push(0);
        ext.extend(n.to_be_bytes());
        ext.extend(name);
    }
    let mut body = vec![3, 3];
    body.extend(noise.bytes(32));
    body.push(0);
    body.extend([0, 4, 0x13, 0x01, 0xc0, 0x2f, 1, 0]);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    handshake(1, &body)
}

fn tls_server_hello(noise: &mut Noise) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend(noise.bytes(32));
    body.extend([0, 0xc0, 0x2f, 0, 0, 0]);
    handshake(2, &body)
}

fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len() as u32;
    let mut hs = vec![kind];
    hs.extend(&n.to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![22, 3, 1];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

fn tls_app_data(n: usize, noise: &mut Noise) -> Vec<u8> {
    let mut rec = vec![23, 3, 3];
    rec.extend((n as u16).to_be_bytes());
    rec.extend(noise.bytes(n));
    rec
}

fn dns(id: u16, response: bool, name: &str, answer: [u8; 4]) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend(if response { [0x81, 0x80] } else { [0x01, 0x00] });
    v.extend([0, 1, 0, u8::from(response), 0, 0, 0, 0]);
    for label in name.split('.') {
        v.push(label.len() as u8);
        v.extend(label.as_bytes());
    }
    v.extend([0, 0, 1, 0, 1]);
    if response {
        v.extend([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        v.extend(answer);
    }
    v
}

fn ntp(mode: u8) -> Vec<u8> {
    let mut v = vec![0; 48];
    v[0] = (4 << 3) | mode;
    v[1] = if mode == 4 { 2 } else { 0 };
    v
}

/// NBSS + SMB2 header (+ a short body) of command `cmd`.
fn smb2(cmd: u16, response: bool, mid: u64, noise: &mut Noise) -> Vec<u8> {
    let mut h = vec![0xfe, b'S', b'M', b'B', 64, 0, 0, 0, 0, 0, 0, 0];
    h.extend(cmd.to_le_bytes());
    h.extend([1, 0]);
    h.extend(u32::from(response).to_le_bytes());
    h.extend([0; 4]);
    h.extend(mid.to_le_bytes());
    h.extend([0; 4 + 4 + 8 + 16]);
    h.extend(noise.bytes(36));
    let mut v = vec![0];
    v.extend(&(h.len() as u32).to_be_bytes()[1..]);
    v.extend(h);
    v
}

/// An alert a scenario must raise: rule, source, destination (none for a host's alert).
type Expected = (&'static str, [u8; 4], Option<[u8; 4]>);

/// One labelled scenario.
struct Scenario {
    name: &'static str,
    benign: bool,
    what: &'static str,
    start: u64,
    end: u64,
    pairs: Vec<([u8; 4], [u8; 4])>,
    expected: Vec<Expected>,
}

/// Everyday IT traffic of the plant between `from` and `to` (µs): DNS every 10 s and NTP
/// every 16 s from the SCADA server to the operations server, the historian's collection
/// connection to the SCADA server every 5 s, and the gateway polled over Modbus/TCP with one
/// connection per poll every second until `gateway_until`.
fn everyday(net: &Net, out: &mut Out, from: u64, to: u64, gateway_until: u64, seed: u64) {
    let mut noise = Noise(seed | 1);
    let mut k = 0u32;
    let mut t = from + 400_000;
    while t < to {
        let port = 50_000 + (k % 10_000) as u16;
        let q = dns(k as u16, false, "historian.plant1.local", [0; 4]);
        let r = dns(k as u16, true, "historian.plant1.local", HISTORIAN);
        out.push(t, net.udp((SCADA, port), (OPS_SERVER, 53), &q));
        out.push(t + 700, net.udp((OPS_SERVER, 53), (SCADA, port), &r));
        t += 10_000_000;
        k += 1;
    }
    let mut t = from + 2_100_000;
    while t < to {
        out.push(t, net.udp((SCADA, 123), (OPS_SERVER, 123), &ntp(3)));
        out.push(t + 900, net.udp((OPS_SERVER, 123), (SCADA, 123), &ntp(4)));
        t += 16_000_000;
    }
    let mut t = from + 1_300_000;
    while t < to {
        k += 1;
        let mut c = Tcp::new((HISTORIAN, 40_000 + (k % 20_000) as u16), (SCADA, 5450), k);
        let mut req = vec![0xaa, 0x55, 0x01, 0x00];
        req.extend(noise.bytes(28));
        let mut resp = vec![0xaa, 0x55, 0x81, 0x00];
        resp.extend(noise.bytes(380));
        let s = c.open(net, out, t);
        let s = c.exchange(net, out, s, &req, &resp);
        c.close(net, out, s);
        t += 5_000_000;
    }
    let mut t = from + 700_000;
    while t < to.min(gateway_until) {
        k += 1;
        let tid = k as u16;
        let mut c = Tcp::new((SCADA, 30_000 + (k % 30_000) as u16), (GATEWAY, 502), k);
        let req = modbus(tid, 3, &[0, 0, 0, 4]);
        let resp = modbus(tid, 3, &[8, 0, 1, 0, 2, 0, 3, 0, 4]);
        let s = c.open(net, out, t);
        let s = c.exchange(net, out, s, &req, &resp);
        c.close(net, out, s);
        t += 1_000_000 + u64::from(k % 7) * 3_000;
    }
}

/// The engineer's occasional coil write from the engineering station (learned as normal).
fn coil_write(net: &Net, out: &mut Out, t: u64, k: u32) -> u64 {
    let mut c = Tcp::new((EWS, 51_000 + k as u16), (PLC_COIL, 502), 77 + k);
    let req = modbus(k as u16, 5, &[0, 10, 0xff, 0]);
    let s = c.open(net, out, t);
    let s = c.exchange(net, out, s, &req, &req);
    c.close(net, out, s)
}

/// An operator's RDP session from the jump host to the engineering station.
fn rdp_session(net: &Net, out: &mut Out, from: End, t: u64, k: u32, noise: &mut Noise) -> u64 {
    let mut c = Tcp::new(from, (EWS, 3389), 9_000 + k);
    let cr = [3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0];
    let cc = [
        3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
    ];
    let mut s = c.open(net, out, t);
    s = c.exchange(net, out, s, &cr, &cc);
    s = c.exchange(
        net,
        out,
        s,
        &tls_client_hello("", noise),
        &tls_server_hello(noise),
    );
    for _ in 0..6 {
        s = c.exchange(
            net,
            out,
            s + 40_000,
            &tls_app_data(90, noise),
            &tls_app_data(900, noise),
        );
    }
    c.close(net, out, s)
}

/// The learning and test captures and the labels (a JSON document).
pub struct Set {
    /// Learning capture: the plant's first half and its everyday traffic.
    pub train: Vec<Frame>,
    /// Test capture: the plant's second half, everyday traffic and the scenarios.
    pub test: Vec<Frame>,
    /// `labels.json`.
    pub labels: Value,
}

/// The MAC address of every IPv4 source in `frames`, and the hosts that send from TCP port 502.
fn hosts(frames: &[Frame]) -> (HashMap<[u8; 4], Mac>, HashSet<[u8; 4]>) {
    let (mut macs, mut modbus) = (HashMap::new(), HashSet::new());
    for f in frames {
        let Ok(p) = SlicedPacket::from_ethernet(&f.data) else {
            continue;
        };
        let (Some(etherparse::LinkSlice::Ethernet2(eth)), Some(etherparse::NetSlice::Ipv4(v4))) =
            (&p.link, &p.net)
        else {
            continue;
        };
        let src = v4.header().source();
        macs.entry(src).or_insert(eth.source());
        if let Some(etherparse::TransportSlice::Tcp(t)) = &p.transport {
            if t.source_port() == 502 {
                modbus.insert(src);
            }
        }
    }
    (macs, modbus)
}
/// A scenario's generator: it writes its packets into the test half from time `t`.
type ScenarioFn = fn(&Net, &mut Out, &mut Noise, u64) -> Scenario;

/// Command and control over TLS to a new port on the internet, beaconing every 2 s.
fn c2_tls_new_port(net: &Net, test: &mut Out, noise: &mut Noise, t: u64) -> Scenario {
    let mut c = Tcp::new((EWS, 52_100), (C2_TLS, 8443), 4242);
    let mut e = c.open(net, test, t);
    e = c.exchange(
        net,
        test,
        e,
        &tls_client_hello("cdn-update.example.com", noise),
        &tls_server_hello(noise),
    );
    for _ in 0..4 {
        e = c.exchange(
            net,
            test,
            e + 2_000_000,
            &tls_app_data(120, noise),
            &tls_app_data(48, noise),
        );
    }
    let end = c.close(net, test, e);
    Scenario {
        name: "c2-tls-new-port",
        benign: false,
        what: "engineering station beacons over TLS to an internet host on tcp/8443",
        start: t,
        end,
        pairs: vec![(EWS, C2_TLS)],
        expected: vec![
            ("policy.internet_access", EWS, Some(C2_TLS)),
            ("baseline.new_conversation", EWS, Some(C2_TLS)),
        ],
    }
}

/// Command and control already running when the sensor starts: no handshake seen.
fn c2_midstream(net: &Net, test: &mut Out, noise: &mut Noise, t: u64) -> Scenario {
    let mut c = Tcp::new((SCADA, 49_733), (C2_RAW, 4444), 777);
    let mut e = t;
    for _ in 0..5 {
        e = c.send(net, test, e, false, &noise.bytes(64));
        e = c.send(net, test, e + 30_000, true, &noise.bytes(700));
        e += 1_500_000;
    }
    Scenario {
        name: "c2-midstream",
        benign: false,
        what: "SCADA server in a raw TCP session to an internet host on tcp/4444, \
               open before the sensor started",
        start: t,
        end: e,
        pairs: vec![(SCADA, C2_RAW)],
        expected: vec![
            ("policy.internet_access", SCADA, Some(C2_RAW)),
            ("baseline.new_conversation", SCADA, Some(C2_RAW)),
        ],
    }
}

/// The engineer's coil write, as learned: no alert.
fn benign_coil_write(net: &Net, test: &mut Out, _noise: &mut Noise, t: u64) -> Scenario {
    let end = coil_write(net, test, t, 9);
    Scenario {
        name: "benign-coil-write",
        benign: true,
        what: "engineering station writes a coil on a PLC, as it does while learning",
        start: t,
        end,
        pairs: vec![(EWS, PLC_COIL)],
        expected: vec![],
    }
}

/// Lateral movement over SMB inside the supervisory zone.
fn lateral_smb(net: &Net, test: &mut Out, noise: &mut Noise, t: u64) -> Scenario {
    let mut c = Tcp::new((EWS, 52_300), (SCADA, 445), 4545);
    let mut e = c.open(net, test, t);
    for (mid, cmd) in [(0u64, 0u16), (1, 1), (2, 1), (3, 3), (4, 5), (5, 9)] {
        let req = smb2(cmd, false, mid, noise);
        let resp = smb2(cmd, true, mid, noise);
        e = c.exchange(net, test, e, &req, &resp);
    }
    let end = c.close(net, test, e);
    Scenario {
        name: "lateral-smb",
        benign: false,
        what: "engineering station opens an SMB2 session and writes a file on the SCADA server",
        start: t,
        end,
        pairs: vec![(EWS, SCADA)],
        expected: vec![("baseline.new_conversation", EWS, Some(SCADA))],
    }
}

/// Remote access from the office straight into the supervisory zone, past the jump host.
fn lateral_rdp_from_office(net: &Net, test: &mut Out, noise: &mut Noise, t: u64) -> Scenario {
    let end = rdp_session(net, test, (OFFICE_PC, 50_123), t, 1, noise);
    Scenario {
        name: "lateral-rdp-from-office",
        benign: false,
        what:
            "an office PC opens RDP to the engineering station (no conduit, not via the jump host)",
        start: t,
        end,
        pairs: vec![(OFFICE_PC, EWS)],
        expected: vec![
            ("policy.remote_access", OFFICE_PC, Some(EWS)),
            ("baseline.new_conversation", OFFICE_PC, Some(EWS)),
        ],
    }
}

/// File transfer: FTP upload with a passive data connection to a file server.
fn file_transfer(net: &Net, test: &mut Out, noise: &mut Noise, t: u64) -> Scenario {
    let data_port = 50_042u16;
    let mut c = Tcp::new((SCADA, 53_001), (FILE_SERVER, 21), 2121);
    let mut e = c.open(net, test, t);
    e = c.send(
        net,
        test,
        e,
        false,
        b"220 ProFTPD 1.3.5 Server (files) [141.81.1.25]\r\n",
    );
    for (req, resp) in [
        (
            &b"USER backup\r\n"[..],
            &b"331 Password required for backup\r\n"[..],
        ),
        (b"PASS s3cret\r\n", b"230 User backup logged in\r\n"),
        (b"TYPE I\r\n", b"200 Type set to I\r\n"),
        (
            b"PASV\r\n",
            b"227 Entering Passive Mode (141,81,1,25,195,122).\r\n",
        ),
    ] {
        e = c.exchange(net, test, e, req, resp);
    }
    e = c.send(net, test, e, true, b"STOR plc-project.zip\r\n");
    let mut d = Tcp::new((SCADA, 53_002), (FILE_SERVER, data_port), 2020);
    let mut de = d.open(net, test, e);
    e = c.send(
        net,
        test,
        de,
        false,
        b"150 Opening BINARY mode data connection\r\n",
    );
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend(noise.bytes(1200));
    for _ in 0..8 {
        de = d.send(net, test, de.max(e), true, &zip);
    }
    de = d.close(net, test, de);
    e = c.send(net, test, de, false, b"226 Transfer complete\r\n");
    e = c.exchange(net, test, e, b"QUIT\r\n", b"221 Goodbye.\r\n");
    let end = c.close(net, test, e);
    Scenario {
        name: "file-transfer",
        benign: false,
        what: "SCADA server uploads a file over FTP (control and passive data connection) \
               to a file server in the operations zone",
        start: t,
        end,
        pairs: vec![(SCADA, FILE_SERVER)],
        expected: vec![
            ("policy.protocol_not_allowed", SCADA, Some(FILE_SERVER)),
            ("baseline.new_conversation", SCADA, Some(FILE_SERVER)),
        ],
    }
}

/// A laptop on the control network sweeps it for Modbus and probes one PLC's ports.
fn scan(net: &Net, test: &mut Out, _noise: &mut Noise, t: u64) -> Scenario {
    let mut e = t;
    let (mut pairs, mut expected) = (Vec::new(), Vec::new());
    // A connect scan: a Modbus server answers and the scanner resets; other plant hosts
    // refuse; addresses in use by nobody stay silent.
    let probe = |e: u64, c: &mut Tcp, open: bool, out: &mut Out| {
        out.push(e, c.seg(net, true, "S", &[]));
        c.cseq = c.cseq.wrapping_add(1);
        if open {
            out.push(e + 400, c.seg(net, false, "S", &[]));
            c.sseq = c.sseq.wrapping_add(1);
            out.push(e + 600, c.seg(net, true, "R", &[]));
        } else if net.macs.contains_key(&c.server.0) {
            out.push(e + 300, c.seg(net, false, "R", &[]));
        }
    };
    for h in 1..=60u8 {
        let dst = [141, 81, 0, h];
        let mut c = Tcp::new(
            (LAPTOP, 41_000 + u16::from(h)),
            (dst, 502),
            31 * u32::from(h),
        );
        let open = net.modbus_servers.contains(&dst);
        probe(e, &mut c, open, test);
        if open {
            expected.push(("baseline.new_conversation", LAPTOP, Some(dst)));
        }
        pairs.push((LAPTOP, dst));
        e += 5_000;
    }
    for (k, port) in [
        21u16, 22, 23, 25, 53, 80, 81, 88, 102, 110, 111, 135, 139, 143,
    ]
    .into_iter()
    .chain([
        161, 443, 445, 502, 1089, 1433, 2222, 2404, 3389, 4840, 5900, 8080,
    ])
    .enumerate()
    {
        let mut c = Tcp::new((LAPTOP, 42_000 + k as u16), (PLC_COIL, port), 7 + k as u32);
        probe(e, &mut c, port == 502, test);
        e += 5_000;
    }
    expected.push(("anomaly.host_scan", LAPTOP, None));
    expected.push(("anomaly.port_scan", LAPTOP, Some(PLC_COIL)));
    Scenario {
        name: "scan",
        benign: false,
        what: "a laptop on the control network sweeps 60 addresses for Modbus/TCP (a connect \
               scan: each open port is a new conversation) and 26 ports of one PLC",
        start: t,
        end: e,
        pairs,
        expected,
    }
}

/// A rogue Modbus write from the engineering station to a PLC it never talks to.
fn rogue_write(net: &Net, test: &mut Out, _noise: &mut Noise, t: u64) -> Scenario {
    let mut c = Tcp::new((EWS, 52_600), (PLC_ROGUE, 502), 6060);
    let mut e = c.open(net, test, t);
    for (k, reg) in [100u16, 101, 102].into_iter().enumerate() {
        let r = reg.to_be_bytes();
        let req = modbus(k as u16 + 1, 6, &[r[0], r[1], 0x27, 0x0f]);
        e = c.exchange(net, test, e, &req, &req);
    }
    let end = c.close(net, test, e);
    Scenario {
        name: "rogue-write",
        benign: false,
        what: "engineering station writes three holding registers on a PLC it never wrote to",
        start: t,
        end,
        pairs: vec![(EWS, PLC_ROGUE)],
        expected: vec![
            ("baseline.new_edge", EWS, Some(PLC_ROGUE)),
            ("anomaly.new_master_write", EWS, Some(PLC_ROGUE)),
        ],
    }
}

/// The operator's RDP session through the jump host, as learned: no alert.
fn benign_rdp_via_jump_host(net: &Net, test: &mut Out, noise: &mut Noise, t: u64) -> Scenario {
    let end = rdp_session(net, test, (JUMP_HOST, 49_800), t, 2, noise);
    Scenario {
        name: "benign-rdp-via-jump-host",
        benign: true,
        what: "operator's RDP session from the jump host to the engineering station, as while learning",
        start: t,
        end,
        pairs: vec![(JUMP_HOST, EWS)],
        expected: vec![],
    }
}

/// Builds the set from the plant's frames (time-ordered, Ethernet).
pub fn build(plant: Vec<Frame>) -> Set {
    let (macs, modbus_servers) = hosts(&plant);
    let net = Net {
        macs,
        modbus_servers,
        router: [0x00, 0x1b, 0x17, 0x00, 0x01, 0x01],
    };
    let first = plant.first().map_or(0, |f| f.ts_us);
    let last = plant.last().map_or(0, |f| f.ts_us);
    let mid = first + (last - first) / 2;
    let (plant_train, plant_test): (Vec<Frame>, Vec<Frame>) =
        plant.into_iter().partition(|f| f.ts_us < mid);
    let s = |secs: f64| mid + (secs * 1e6) as u64;
    let silenced = s(16.0);

    let mut train = Out { frames: Vec::new() };
    everyday(&net, &mut train, first, mid, u64::MAX, 1);
    let mut noise = Noise(0x5eed);
    for (k, at) in [6.0, 19.0, 33.0].into_iter().enumerate() {
        coil_write(&net, &mut train, first + (at * 1e6) as u64, k as u32);
    }
    rdp_session(
        &net,
        &mut train,
        (JUMP_HOST, 49_500),
        first + 12_000_000,
        0,
        &mut noise,
    );

    let mut test = Out { frames: Vec::new() };
    everyday(&net, &mut test, mid, last, silenced, 2);
    let mut sc = Vec::new();

    // The scenarios, in order (they draw on the same noise), each at its second of the test half.
    let scenarios: [(ScenarioFn, f64); 9] = [
        (c2_tls_new_port, 3.0),
        (c2_midstream, 0.2),
        (benign_coil_write, 5.0),
        (lateral_smb, 8.0),
        (lateral_rdp_from_office, 11.0),
        (file_transfer, 14.0),
        (scan, 18.0),
        (rogue_write, 22.0),
        (benign_rdp_via_jump_host, 25.0),
    ];
    for (scenario, at) in scenarios {
        sc.push(scenario(&net, &mut test, &mut noise, s(at)));
    }
    // The gateway stops answering: its one-connection-per-poll master falls silent.
    sc.push(Scenario {
        name: "poll-stopped-per-connection",
        benign: false,
        what: "the Modbus gateway, polled every second with one connection per poll, goes silent",
        start: silenced,
        end: last,
        pairs: vec![(SCADA, GATEWAY)],
        expected: vec![("baseline.poll_stopped", SCADA, Some(GATEWAY))],
    });

    let mut train_frames = train.frames;
    train_frames.sort_by_key(|f| f.ts_us);
    let mut test_frames = test.frames;
    test_frames.sort_by_key(|f| f.ts_us);
    let iso = |us: u64| rfc3339(us);
    let labels = json!({
        "learn": { "from": iso(first), "to": iso(mid) },
        "test": { "from": iso(mid), "to": iso(last) },
        "scenarios": sc.iter().map(|s| json!({
            "name": s.name,
            "kind": if s.benign { "benign" } else { "attack" },
            "description": s.what,
            "start": iso(s.start),
            "end": iso(s.end),
            "pairs": s.pairs.iter().map(|(a, b)| [ip(*a), ip(*b)]).collect::<Vec<_>>(),
            "expected": s.expected.iter().map(|(rule, src, dst)| json!({
                "rule": rule, "src": ip(*src), "dst": dst.map(ip),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    Set {
        train: crate::interleave(plant_train, train_frames),
        test: crate::interleave(plant_test, test_frames),
        labels,
    }
}

/// `us` (µs since the epoch) as RFC 3339 UTC with microseconds, as the sensor writes times.
pub fn rfc3339(us: u64) -> String {
    let secs = us / 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        us % 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_the_sensor_writes_them() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(1_352_718_180_264_365),
            "2012-11-12T11:03:00.264365Z"
        );
        assert_eq!(rfc3339(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
    }
}
