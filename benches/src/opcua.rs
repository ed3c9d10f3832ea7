//! OPC UA between a plant's clients and its OPC UA server, for the OPC UA detections.
//!
//! - `learn`: the MES on a signed-and-encrypted channel (Basic256Sha256: what its headers
//!   show, the rest ciphertext) and the SCADA server on an unsecured channel with an
//!   anonymous session that reads the server's status (with its build) and tags: what the
//!   baseline learns.
//! - `attack`: the same two the next day, and a laptop that discovers the server's endpoints,
//!   opens an unsecured channel, activates an anonymous session, browses, reads, writes a
//!   setpoint, calls a method and adds and deletes nodes; its Write request is sent in three
//!   chunks (reassembled by the sensor and by Wireshark); then the SCADA server, which only
//!   ever read, writes a setpoint and calls the same method on a new connection.
//!
//! Messages as OPC 10000-6 lays them out (checked against Wireshark by
//! tests/e2e/opcua.rs).

use crate::wire::{FromIp, Out, Tcp};
use crate::Frame;

/// The OPC UA server.
pub const SERVER: [u8; 4] = [10, 20, 0, 10];
/// The MES (signed and encrypted).
pub const MES: [u8; 4] = [10, 20, 1, 5];
/// The SCADA server (unsecured, anonymous, reads).
pub const SCADA: [u8; 4] = [10, 20, 0, 20];
/// The laptop.
pub const LAPTOP: [u8; 4] = [10, 20, 0, 66];

const PORT: u16 = 4840;
const NONE: &str = "http://opcfoundation.org/UA/SecurityPolicy#None";
const BASIC256SHA256: &str = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256";

/// A little-endian encoder of OPC UA built-in types.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn f64(&mut self, v: f64) -> &mut Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn string(&mut self, v: Option<&str>) -> &mut Self {
        self.bytes(v.map(str::as_bytes))
    }
    fn bytes(&mut self, v: Option<&[u8]>) -> &mut Self {
        match v {
            Some(b) => {
                self.u32(b.len() as u32);
                self.0.extend(b);
            }
            None => {
                self.u32(u32::MAX);
            }
        }
        self
    }
    /// A numeric NodeId in its shortest encoding.
    fn numeric(&mut self, ns: u16, id: u32) -> &mut Self {
        match (ns, id) {
            (0, 0..=255) => self.u8(0).u8(id as u8),
            (0..=255, 0..=65535) => self.u8(1).u8(ns as u8).u16(id as u16),
            _ => self.u8(2).u16(ns).u32(id),
        }
    }
    /// A string NodeId.
    fn named(&mut self, ns: u16, s: &str) -> &mut Self {
        self.u8(3).u16(ns).string(Some(s))
    }
    /// A null ExtensionObject.
    fn no_extension(&mut self) -> &mut Self {
        self.u8(0).u8(0).u8(0)
    }
    /// An ExtensionObject of type `id` with a binary body.
    fn extension(&mut self, id: u32, body: &[u8]) -> &mut Self {
        self.numeric(0, id).u8(1).bytes(Some(body))
    }
    /// The type id and RequestHeader of a request.
    fn request(&mut self, service: u32, handle: u32, token: u32) -> &mut Self {
        self.numeric(0, service)
            .numeric(1, token)
            .i64(133_800_000_000_000_000)
            .u32(handle)
            .u32(0)
            .string(None)
            .u32(10_000)
            .no_extension()
    }
    /// The type id and ResponseHeader of a good response.
    fn response(&mut self, service: u32, handle: u32) -> &mut Self {
        self.numeric(0, service)
            .i64(133_800_000_000_000_000)
            .u32(handle)
            .u32(0)
            .u8(0)
            .u32(u32::MAX)
            .no_extension()
    }
    /// An ApplicationDescription.
    fn application(&mut self, uri: &str, product: &str, name: &str, kind: u32) -> &mut Self {
        self.string(Some(uri))
            .string(Some(product))
            .u8(2)
            .string(Some(name))
            .u32(kind)
            .string(None)
            .string(None)
            .u32(0)
    }
}

/// One chunk: type, chunk type, size and what follows.
fn chunk(kind: &[u8; 3], chunk_type: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = kind.to_vec();
    v.push(chunk_type);
    v.extend(((rest.len() + 8) as u32).to_le_bytes());
    v.extend(rest);
    v
}

/// One client's secure channel: ids and numbers as the messages go.
struct Channel {
    id: u32,
    token: u32,
    seq: u32,
    request_id: u32,
    handle: u32,
    session: u32,
}

impl Channel {
    fn new(id: u32) -> Channel {
        Channel {
            id,
            token: 1,
            seq: 1,
            request_id: 1,
            handle: 1,
            session: 0,
        }
    }

    /// An OpenSecureChannel request and answer with `policy` and `mode`; `None` channels
    /// have readable bodies, the others are ciphertext after the security header.
    fn open(&mut self, policy: &str, mode: u32, noise: &mut Noise) -> (Vec<u8>, Vec<u8>) {
        let secure = policy != NONE;
        let mut head = |channel: u32| {
            let mut e = Enc::default();
            e.u32(channel).string(Some(policy));
            if secure {
                e.bytes(Some(&noise.bytes(1200)))
                    .bytes(Some(&noise.bytes(20)));
            } else {
                e.bytes(None).bytes(None);
            }
            e.0
        };
        let mut req = head(0);
        let mut resp = head(self.id);
        if secure {
            req.extend(noise.bytes(256));
            resp.extend(noise.bytes(256));
        } else {
            let mut e = Enc::default();
            e.u32(self.seq).u32(self.request_id);
            e.request(446, self.handle, 0)
                .u32(0)
                .u32(0)
                .u32(mode)
                .bytes(Some(&[]))
                .u32(3_600_000);
            req.extend(e.0);
            let mut e = Enc::default();
            e.u32(self.seq).u32(self.request_id);
            e.response(449, self.handle)
                .u32(0)
                .u32(self.id)
                .u32(self.token)
                .i64(133_800_000_000_000_000)
                .u32(3_600_000)
                .bytes(Some(&[]));
            resp.extend(e.0);
        }
        self.next();
        (chunk(b"OPN", b'F', &req), chunk(b"OPN", b'F', &resp))
    }

    /// A request and its answer on the channel, each in one chunk (`body` is the service's
    /// own fields after its header).
    fn call(&mut self, service: u32, body: &[u8], answer: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut req = Enc::default();
        req.request(service, self.handle, self.session);
        req.0.extend(body);
        let mut resp = Enc::default();
        resp.response(service + 3, self.handle);
        resp.0.extend(answer);
        let out = (
            self.msg(b'F', &req.0),
            self.msg_as(self.request_id, b'F', &resp.0),
        );
        self.next();
        out
    }

    /// A request sent in `n` chunks, and its one-chunk answer.
    fn call_chunked(
        &mut self,
        service: u32,
        body: &[u8],
        answer: &[u8],
        n: usize,
    ) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut req = Enc::default();
        req.request(service, self.handle, self.session);
        req.0.extend(body);
        let size = req.0.len().div_ceil(n);
        let parts: Vec<&[u8]> = req.0.chunks(size).collect();
        let last = parts.len() - 1;
        let mut chunks = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            chunks.push(self.msg(if i == last { b'F' } else { b'C' }, p));
            self.seq += 1;
        }
        self.seq -= 1;
        let mut resp = Enc::default();
        resp.response(service + 3, self.handle);
        resp.0.extend(answer);
        let out = (chunks, self.msg_as(self.request_id, b'F', &resp.0));
        self.next();
        out
    }

    /// Ciphertext of `n` octets on the channel (a signed-and-encrypted message).
    fn sealed(&mut self, n: usize, noise: &mut Noise) -> Vec<u8> {
        let out = self.msg(b'F', &noise.bytes(n));
        self.next();
        out
    }

    fn msg(&self, chunk_type: u8, body: &[u8]) -> Vec<u8> {
        self.msg_as(self.request_id, chunk_type, body)
    }

    fn msg_as(&self, request_id: u32, chunk_type: u8, body: &[u8]) -> Vec<u8> {
        let mut e = Enc::default();
        e.u32(self.id).u32(self.token).u32(self.seq).u32(request_id);
        e.0.extend(body);
        chunk(b"MSG", chunk_type, &e.0)
    }

    fn next(&mut self) {
        self.seq += 1;
        self.request_id += 1;
        self.handle += 1;
    }
}

/// A deterministic byte stream (xorshift) for ciphertext, nonces and certificates.
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

fn hello() -> (Vec<u8>, Vec<u8>) {
    let mut h = Enc::default();
    h.u32(0)
        .u32(65_536)
        .u32(65_536)
        .u32(0)
        .u32(0)
        .string(Some("opc.tcp://10.20.0.10:4840"));
    let mut a = Enc::default();
    a.u32(0).u32(65_536).u32(65_536).u32(0).u32(0);
    (chunk(b"HEL", b'F', &h.0), chunk(b"ACK", b'F', &a.0))
}

/// CreateSession and ActivateSession with `token` (an identity token's type id and body).
fn session(ch: &mut Channel, client: &str, token: (u32, &[u8])) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut create = Enc::default();
    create
        .application(
            &format!("urn:{client}:client"),
            "urn:example:client",
            client,
            1,
        )
        .string(None)
        .string(Some("opc.tcp://10.20.0.10:4840"))
        .string(Some(client))
        .bytes(Some(&[7; 32]))
        .bytes(None)
        .f64(1_200_000.0)
        .u32(0);
    let mut created = Enc::default();
    created
        .numeric(1, 7001)
        .numeric(1, 9001)
        .f64(1_200_000.0)
        .bytes(Some(&[9; 32]))
        .bytes(None)
        .u32(0)
        .u32(0)
        .string(None)
        .bytes(None)
        .u32(65_536);
    let first = ch.call(461, &create.0, &created.0);
    ch.session = 9001;
    let mut activate = Enc::default();
    activate
        .string(None)
        .bytes(None)
        .u32(0)
        .u32(1)
        .string(Some("en"))
        .extension(token.0, token.1)
        .string(None)
        .bytes(None);
    let mut activated = Enc::default();
    activated.bytes(Some(&[3; 32])).u32(0).u32(0);
    vec![first, ch.call(467, &activate.0, &activated.0)]
}

fn anonymous() -> (u32, Vec<u8>) {
    let mut t = Enc::default();
    t.string(Some("anonymous"));
    (321, t.0)
}

/// A Read of `tags` (Value attribute) and its answer (doubles).
fn read(ch: &mut Channel, tags: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let mut r = Enc::default();
    r.f64(0.0).u32(2).u32(tags.len() as u32);
    for t in tags {
        r.named(2, t).u32(13).string(None).u16(0).string(None);
    }
    let mut a = Enc::default();
    a.u32(tags.len() as u32);
    for (i, _) in tags.iter().enumerate() {
        a.u8(0x01).u8(11).f64(20.0 + i as f64);
    }
    a.u32(u32::MAX);
    ch.call(631, &r.0, &a.0)
}

/// A Read of the server's status (i=2256, Value) and its answer: a ServerStatusDataType
/// with the server's BuildInfo, as SCADA and HMI clients read on connecting.
fn read_server_status(ch: &mut Channel) -> (Vec<u8>, Vec<u8>) {
    let mut r = Enc::default();
    r.f64(0.0).u32(2).u32(1);
    r.numeric(0, 2256).u32(13).string(None).u16(0).string(None);
    let mut status = Enc::default();
    status
        .i64(133_799_000_000_000_000)
        .i64(133_800_000_000_000_000)
        .u32(0)
        .string(Some("urn:vendor:uaserver"))
        .string(Some("Example Automation"))
        .string(Some("Line1 OPC UA Server"))
        .string(Some("2.3.1"))
        .string(Some("417"))
        .i64(133_700_000_000_000_000)
        .u32(0)
        .u8(0);
    let mut a = Enc::default();
    a.u32(1).u8(0x01).u8(22).extension(864, &status.0);
    a.u32(u32::MAX);
    ch.call(631, &r.0, &a.0)
}

/// A Write of `value` (a double) to `tag`'s Value.
fn write_body(tag: &str, value: f64) -> (Vec<u8>, Vec<u8>) {
    let mut w = Enc::default();
    w.u32(1)
        .named(2, tag)
        .u32(13)
        .string(None)
        .u8(0x05)
        .u8(11)
        .f64(value)
        .i64(133_800_000_000_000_000);
    let mut a = Enc::default();
    a.u32(1).u32(0).u32(u32::MAX);
    (w.0, a.0)
}

/// Frames of one TCP connection carrying `exchanges` (request chunks, answer) from `ts`.
fn connection(
    out: &mut Out,
    client: [u8; 4],
    cport: u16,
    ts: u64,
    exchanges: Vec<(Vec<Vec<u8>>, Vec<u8>)>,
) -> u64 {
    let mut tcp = Tcp::new((client, cport), (SERVER, PORT), u32::from(cport) * 7919);
    let mut ts = tcp.open(&FromIp, out, ts);
    for (reqs, resp) in exchanges {
        for r in reqs {
            ts = tcp.send(&FromIp, out, ts, true, &r);
        }
        ts = tcp.send(&FromIp, out, ts, false, &resp);
        ts += 10_000;
    }
    tcp.close(&FromIp, out, ts)
}

fn one((req, resp): (Vec<u8>, Vec<u8>)) -> (Vec<Vec<u8>>, Vec<u8>) {
    (vec![req], resp)
}

/// The MES's signed-and-encrypted connection.
fn mes(out: &mut Out, ts: u64, noise: &mut Noise) -> u64 {
    let mut ch = Channel::new(0x51);
    let mut ex = vec![one(hello()), one(ch.open(BASIC256SHA256, 3, noise))];
    for _ in 0..4 {
        let req = ch.sealed(180, noise);
        ch.request_id -= 1;
        ch.seq -= 1;
        let resp = ch.sealed(420, noise);
        ex.push((vec![req], resp));
    }
    connection(out, MES, 50_100, ts, ex)
}

/// The SCADA server's unsecured, anonymous connection reading tags.
fn scada(out: &mut Out, ts: u64) -> u64 {
    let mut ch = Channel::new(0x52);
    let mut ex = vec![one(hello()), one(ch.open(NONE, 1, &mut Noise(1)))];
    let (kind, body) = anonymous();
    ex.extend(
        session(&mut ch, "SCADA", (kind, &body))
            .into_iter()
            .map(one),
    );
    ex.push(one(read_server_status(&mut ch)));
    for _ in 0..5 {
        ex.push(one(read(&mut ch, &["Line1.Temperature", "Line1.Pressure"])));
    }
    connection(out, SCADA, 50_200, ts, ex)
}

/// What the baseline learns: the MES and the SCADA server.
pub fn learn() -> Vec<Frame> {
    let mut out = Out { frames: Vec::new() };
    let mut noise = Noise(0x0c0a_5eed);
    let t0 = 1_767_000_000_000_000;
    mes(&mut out, t0, &mut noise);
    scada(&mut out, t0 + 50_000);
    let mut f = out.frames;
    f.sort_by_key(|f| f.ts_us);
    f
}

/// An AddNodes request adding the variable `Line1.Bypass` under `Line1`, and its answer.
fn add_bypass_node() -> (Enc, Enc) {
    let mut add = Enc::default();
    // VariableAttributes: specified, display name, description, write masks, value (a
    // boolean), data type, value rank, dimensions, access levels, sampling, historizing.
    let mut attrs = Enc::default();
    attrs
        .u32(0)
        .u8(2)
        .string(Some("Bypass"))
        .u8(0)
        .u32(0)
        .u32(0)
        .u8(1)
        .u8(0)
        .numeric(0, 1)
        .u32(u32::MAX)
        .u32(u32::MAX)
        .u8(3)
        .u8(3)
        .f64(0.0)
        .u8(0);
    add.u32(1)
        .named(2, "Line1")
        .numeric(0, 47)
        .u8(0)
        .u8(0)
        .u16(2)
        .string(Some("Bypass"))
        .u32(2)
        .extension(357, &attrs.0)
        .numeric(0, 63);
    let mut added = Enc::default();
    added.u32(1).u32(0).named(2, "Line1.Bypass").u32(u32::MAX);
    (add, added)
}

/// The next day: the MES and the SCADA server again, the laptop, and the SCADA server writing.
pub fn attack() -> Vec<Frame> {
    let mut out = Out { frames: Vec::new() };
    let mut noise = Noise(0x0c0a_5eee);
    let t0 = 1_767_086_400_000_000;
    mes(&mut out, t0, &mut noise);
    scada(&mut out, t0 + 50_000);
    // The laptop: endpoints, an unsecured channel, an anonymous session, and changes.
    let mut ch = Channel::new(0x66);
    let mut endpoints = Enc::default();
    endpoints
        .string(Some("opc.tcp://10.20.0.10:4840"))
        .u32(0)
        .u32(0);
    let mut described = Enc::default();
    described
        .u32(1)
        .string(Some("opc.tcp://10.20.0.10:4840"))
        .application(
            "urn:plant:line1:opcua",
            "urn:vendor:uaserver",
            "Line1 OPC UA Server",
            0,
        )
        .bytes(None)
        .u32(1)
        .string(Some(NONE))
        .u32(0)
        .string(Some(
            "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary",
        ))
        .u8(0);
    let mut ex = vec![
        one(hello()),
        one(ch.open(NONE, 1, &mut noise)),
        one(ch.call(428, &endpoints.0, &described.0)),
    ];
    let (kind, body) = anonymous();
    ex.extend(
        session(&mut ch, "laptop", (kind, &body))
            .into_iter()
            .map(one),
    );
    // Browse the Objects folder.
    let mut browse = Enc::default();
    browse
        .numeric(0, 0)
        .i64(0)
        .u32(0)
        .u32(0)
        .u32(1)
        .numeric(0, 85)
        .u32(0)
        .numeric(0, 33)
        .u8(1)
        .u32(0)
        .u32(63);
    let mut browsed = Enc::default();
    browsed.u32(0).u32(u32::MAX);
    ex.push(one(ch.call(527, &browse.0, &browsed.0)));
    ex.push(one(read(&mut ch, &["Line1.Setpoint"])));
    let (w, wa) = write_body("Line1.Setpoint", 480.0);
    let (chunks, answer) = ch.call_chunked(673, &w, &wa, 3);
    ex.push((chunks, answer));
    // Call a method: stop the line.
    let mut call = Enc::default();
    call.u32(1)
        .named(2, "Line1")
        .named(2, "Line1.Stop")
        .u32(1)
        .u8(1)
        .u8(1);
    let mut called = Enc::default();
    called.u32(1).u32(0).u32(0).u32(0).u32(0).u32(u32::MAX);
    ex.push(one(ch.call(712, &call.0, &called.0)));
    // AddNodes: a variable under Line1; DeleteNodes: Line1.Alarm.
    let (add, added) = add_bypass_node();
    ex.push(one(ch.call(488, &add.0, &added.0)));
    let mut del = Enc::default();
    del.u32(1).named(2, "Line1.Alarm").u8(1);
    let mut deleted = Enc::default();
    deleted.u32(1).u32(0).u32(u32::MAX);
    ex.push(one(ch.call(500, &del.0, &deleted.0)));
    connection(&mut out, LAPTOP, 50_300, t0 + 100_000, ex);
    // Then the SCADA server, which only ever read, writes a setpoint and stops the line.
    let mut ch = Channel::new(0x53);
    let mut ex = vec![one(hello()), one(ch.open(NONE, 1, &mut Noise(1)))];
    let (kind, body) = anonymous();
    ex.extend(
        session(&mut ch, "SCADA", (kind, &body))
            .into_iter()
            .map(one),
    );
    let (w, wa) = write_body("Line1.Setpoint", 510.0);
    ex.push(one(ch.call(673, &w, &wa)));
    ex.push(one(ch.call(712, &call.0, &called.0)));
    connection(&mut out, SCADA, 50_201, t0 + 200_000, ex);
    let mut f = out.frames;
    f.sort_by_key(|f| f.ts_us);
    f
}
