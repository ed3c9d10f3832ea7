//! Synthetic captures for benchmarks and scale runs, and loading real captures into memory.
//!
//! The generator models what a SCADA master does to a plant: many TCP connections to port
//! 502, each opened with a handshake, then polled round-robin with Modbus/TCP "read holding
//! registers" requests and answered, with correct sequence and acknowledgement numbers, and
//! closed with FIN at the end. It writes classic pcap (microsecond timestamps) by hand.
//!
//! ```
//! let pkts = otsensor_benches::modbus_polling(2, 3);
//! assert_eq!(pkts.len(), 2 * (3 + 3 * 3 + 4));
//! ```

pub mod bacnet;
pub mod enip_io;
pub mod goose;
pub mod iec104;
pub mod opcua;
pub mod profinet;
pub mod scenarios;
pub mod wire;

use std::io::Write;
use std::path::Path;

use etherparse::PacketBuilder;

/// One frame with its capture time in microseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture time, µs.
    pub ts_us: u64,
    /// Ethernet frame.
    pub data: Vec<u8>,
}

struct Conn {
    client: [u8; 4],
    server: [u8; 4],
    cport: u16,
    cseq: u32,
    sseq: u32,
    tid: u16,
}

/// One end of a connection: address and port.
type End = ([u8; 4], u16);

/// A MAC address.
pub type Mac = [u8; 6];

fn frame(from: End, to: End, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8]) -> Vec<u8> {
    let mac = |ip: [u8; 4]| [0x02, 0, ip[0], ip[1], ip[2], ip[3]];
    tcp_frame((mac(from.0), mac(to.0)), from, to, seq, ack, flags, payload)
}

/// An Ethernet/IPv4/TCP frame; `flags` holds S, F, P, R as set (ACK is set with `ack`).
fn tcp_frame(
    macs: (Mac, Mac),
    from: End,
    to: End,
    seq: u32,
    ack: Option<u32>,
    flags: &str,
    payload: &[u8],
) -> Vec<u8> {
    let ((src, sport), (dst, dport)) = (from, to);
    let mut b = PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 64240);
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('F') {
        b = b.fin();
    }
    if flags.contains('P') {
        b = b.psh();
    }
    if flags.contains('R') {
        b = b.rst();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut v = Vec::with_capacity(b.size(payload.len()));
    // Writing to a Vec cannot fail.
    let _ = b.write(&mut v, payload);
    v
}

impl Conn {
    /// A segment from the client to the server (port 502).
    fn up(&self, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8]) -> Vec<u8> {
        frame(
            (self.client, self.cport),
            (self.server, 502),
            seq,
            ack,
            flags,
            payload,
        )
    }

    /// A segment from the server to the client.
    fn down(&self, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8]) -> Vec<u8> {
        frame(
            (self.server, 502),
            (self.client, self.cport),
            seq,
            ack,
            flags,
            payload,
        )
    }
}

/// `flows` Modbus/TCP connections polled `polls` times each, round-robin, 1 ms apart.
/// Packets: per flow 3 (handshake) + 3 per poll (request, response, ACK) + 4 (FIN/ACK both ways).
pub fn modbus_polling(flows: u32, polls: u32) -> Vec<Frame> {
    let mut conns: Vec<Conn> = (0..flows)
        .map(|i| Conn {
            client: [10, 0, (i / 250 % 250) as u8, (i % 250 + 1) as u8],
            server: [10, 1, (i / 250 % 250) as u8, (i % 250 + 1) as u8],
            cport: 20000 + (i % 40000) as u16,
            cseq: 1000u32.wrapping_mul(i + 7),
            sseq: 5000u32.wrapping_mul(i + 3),
            tid: 0,
        })
        .collect();
    let mut out = Vec::with_capacity(flows as usize * (7 + 3 * polls as usize));
    let mut ts = 1_700_000_000_000_000u64;
    let mut push = |data: Vec<u8>| {
        ts += 1000 / u64::from(flows.clamp(1, 1000));
        out.push(Frame { ts_us: ts, data });
    };
    for c in &mut conns {
        push(c.up(c.cseq, None, "S", &[]));
        push(c.down(c.sseq, Some(c.cseq + 1), "S", &[]));
        c.cseq += 1;
        c.sseq += 1;
        push(c.up(c.cseq, Some(c.sseq), "", &[]));
    }
    for _ in 0..polls {
        for c in &mut conns {
            c.tid = c.tid.wrapping_add(1);
            let t = c.tid.to_be_bytes();
            // MBAP (tid, proto 0, len 6, unit 1) + read holding registers 0x0000, 10 regs.
            let req = [t[0], t[1], 0, 0, 0, 6, 1, 3, 0, 0, 0, 10];
            let mut resp = vec![t[0], t[1], 0, 0, 0, 23, 1, 3, 20];
            resp.extend((0..20u8).map(|b| b.wrapping_mul(c.tid as u8)));
            push(c.up(c.cseq, Some(c.sseq), "P", &req));
            c.cseq = c.cseq.wrapping_add(req.len() as u32);
            push(c.down(c.sseq, Some(c.cseq), "P", &resp));
            c.sseq = c.sseq.wrapping_add(resp.len() as u32);
            push(c.up(c.cseq, Some(c.sseq), "", &[]));
        }
    }
    for c in &conns {
        push(c.up(c.cseq, Some(c.sseq), "F", &[]));
        push(c.down(c.sseq, Some(c.cseq + 1), "", &[]));
        push(c.down(c.sseq, Some(c.cseq + 1), "F", &[]));
        push(c.up(c.cseq + 1, Some(c.sseq + 1), "", &[]));
    }
    out
}

/// Source address number `i` of a flood: 100.64.0.0/10 and up, never a plant address.
fn flood_source(i: u32) -> [u8; 4] {
    let v = 0x6440_0000u32.wrapping_add(i);
    v.to_be_bytes()
}

/// Floods that must not blind the sensor, `n` units each, starting at `ts_us`, `gap_us` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flood {
    /// One SYN per distinct source address, all to 10.1.0.1:502 (half-open connections).
    Syn,
    /// Short Modbus/TCP connections from distinct sources to 10.1.0.1:502: SYN, SYN-ACK, ACK
    /// with a read request, the response, RST (5 packets each).
    Short,
    /// Distinct sources each probing one host of 10.1.0.0/16 on port 502 (a SYN each).
    Scan,
    /// As `Short` without the RST: established connections that all stay open to the end
    /// (concurrent flows, 4 packets each).
    Open,
    /// Distinct devices each renewing a DHCP lease (a REQUEST from its own address to the
    /// server, with a host name, a vendor class and a parameter-request list): every device
    /// gets a name, software and a fingerprint in the inventory (1 packet each).
    Names,
}

impl std::str::FromStr for Flood {
    type Err = String;
    fn from_str(s: &str) -> Result<Flood, String> {
        match s {
            "syn" => Ok(Flood::Syn),
            "short" => Ok(Flood::Short),
            "scan" => Ok(Flood::Scan),
            "open" => Ok(Flood::Open),
            "names" => Ok(Flood::Names),
            _ => Err(format!(
                "unknown flood {s:?} (syn, short, scan, open, names)"
            )),
        }
    }
}

/// `n` units of `kind`, the first at `ts_us`, one unit every `gap_us`.
pub fn flood(kind: Flood, n: u32, ts_us: u64, gap_us: u64) -> Vec<Frame> {
    let per = match kind {
        Flood::Short => 5,
        Flood::Open => 4,
        _ => 1,
    };
    let mut out = Vec::with_capacity(n as usize * per);
    for i in 0..n {
        let ts = ts_us + u64::from(i) * gap_us;
        let src = flood_source(i);
        let sport = 1024 + (i % 60000) as u16;
        let seq = i.wrapping_mul(2_654_435_761);
        match kind {
            Flood::Syn => out.push(Frame {
                ts_us: ts,
                data: frame((src, sport), ([10, 1, 0, 1], 502), seq, None, "S", &[]),
            }),
            Flood::Names => out.push(Frame {
                ts_us: ts,
                data: dhcp_request(src, i),
            }),
            Flood::Scan => {
                let dst = [10, 1, (i >> 8) as u8, (i & 0xff) as u8 | 1];
                out.push(Frame {
                    ts_us: ts,
                    data: frame((src, sport), (dst, 502), seq, None, "S", &[]),
                });
            }
            Flood::Short | Flood::Open => {
                let c = Conn {
                    client: src,
                    server: [10, 1, 0, 1],
                    cport: sport,
                    cseq: seq,
                    sseq: seq ^ 0x5555_5555,
                    tid: 1,
                };
                let req = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2];
                let resp = [0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2];
                let (cs, ss) = (c.cseq.wrapping_add(1), c.sseq.wrapping_add(1));
                let frames = [
                    c.up(c.cseq, None, "S", &[]),
                    c.down(c.sseq, Some(cs), "S", &[]),
                    c.up(cs, Some(ss), "P", &req),
                    c.down(ss, Some(cs.wrapping_add(req.len() as u32)), "P", &resp),
                    c.up(cs.wrapping_add(req.len() as u32), None, "R", &[]),
                ];
                for (k, data) in frames.into_iter().take(per).enumerate() {
                    out.push(Frame {
                        ts_us: ts + k as u64,
                        data,
                    });
                }
            }
        }
    }
    out
}

/// A DHCPREQUEST renewing `src`'s lease at 10.1.0.1, naming the device `host-N`.
fn dhcp_request(src: [u8; 4], n: u32) -> Vec<u8> {
    let mac = [0x02, 0x42, src[0], src[1], src[2], src[3]];
    let mut d = vec![0u8; 236];
    d[0] = 1;
    d[1] = 1;
    d[2] = 6;
    d[4..8].copy_from_slice(&n.to_be_bytes());
    d[12..16].copy_from_slice(&src);
    d[28..34].copy_from_slice(&mac);
    d.extend([99, 130, 83, 99, 53, 1, 3]);
    let name = format!("host-{n}");
    d.extend([12, name.len() as u8]);
    d.extend(name.as_bytes());
    d.extend([60, 8]);
    d.extend(b"MSFT 5.0");
    d.extend([
        55, 14, 1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252, 255,
    ]);
    let b = PacketBuilder::ethernet2(mac, [0x02, 0, 10, 1, 0, 1])
        .ipv4(src, [10, 1, 0, 1], 64)
        .udp(68, 67);
    let mut v = Vec::with_capacity(b.size(d.len()));
    // Writing to a Vec cannot fail.
    let _ = b.write(&mut v, &d);
    v
}

/// Merges two time-ordered captures by timestamp (the first on ties).
pub fn interleave(a: Vec<Frame>, b: Vec<Frame>) -> Vec<Frame> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.ts_us <= y.ts_us,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}

/// Writes frames as a classic little-endian pcap (Ethernet, µs timestamps).
pub fn write_pcap(path: &Path, frames: &[Frame]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0; 8])?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    for f in frames {
        w.write_all(&((f.ts_us / 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&((f.ts_us % 1_000_000) as u32).to_le_bytes())?;
        let n = f.data.len() as u32;
        w.write_all(&n.to_le_bytes())?;
        w.write_all(&n.to_le_bytes())?;
        w.write_all(&f.data)?;
    }
    w.flush()
}

/// Reads a capture file into memory (benchmarks only: the sensor itself streams).
pub fn load_pcap(path: &Path) -> anyhow::Result<(i32, Vec<Frame>)> {
    let mut cap = pcap::Capture::from_file(path)?;
    let dlt = cap.get_datalink().0;
    let mut v = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => v.push(Frame {
                ts_us: (p.header.ts.tv_sec as u64) * 1_000_000 + p.header.ts.tv_usec as u64,
                data: p.data.to_vec(),
            }),
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok((dlt, v))
}

/// XORs the third octet of both IPv4 addresses of an Ethernet frame (after any VLAN tags)
/// with `k` and recomputes the IPv4 header checksum; other frames are left alone.
pub fn renumber_ipv4(frame: &mut [u8], k: u8) {
    if k == 0 {
        return;
    }
    let mut at = 12;
    while frame.get(at..at + 2) == Some(&[0x81, 0x00]) {
        at += 4;
    }
    if frame.get(at..at + 2) != Some(&[0x08, 0x00]) {
        return;
    }
    let ip = at + 2;
    let Some(ihl) = frame.get(ip).map(|b| usize::from(b & 0x0f) * 4) else {
        return;
    };
    if ihl < 20 || frame.len() < ip + ihl {
        return;
    }
    frame[ip + 14] ^= k;
    frame[ip + 18] ^= k;
    frame[ip + 10] = 0;
    frame[ip + 11] = 0;
    let mut sum: u32 = frame[ip..ip + ihl]
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    frame[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
}
