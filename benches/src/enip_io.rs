//! Synthetic EtherNet/IP (`gen-enip-io`). Cyclic I/O: a scanner opens class 1 I/O connections
//! to two adapters with Forward Open (TCP 44818: RegisterSession, then SendRRData to the
//! Connection Manager) and exchanges implicit I/O with them on UDP 2222 in both directions;
//! it also exchanges I/O with a third adapter whose connection was opened before the capture
//! began, and a rogue host injects O→T data to the first adapter with that adapter's
//! connection id. Fragmented tag services: a workstation reads a 1,200-byte Logix tag with
//! Read_Tag_Fragmented and writes an 800-byte one with Write_Tag_Fragmented. Written after
//! the ODVA CIP and EtherNet/IP specifications (Vol 1 3-5.4, Vol 2 2-3 and 2-6) and Logix5000
//! Data Access (1756-PM020).

use etherparse::PacketBuilder;

use crate::{frame, Frame};

/// The scanner, the adapters opened in the capture, the adapter opened before it, the rogue.
pub const SCANNER: [u8; 4] = [10, 0, 5, 10];
/// Adapters whose connections are opened in the capture.
pub const ADAPTERS: [[u8; 4]; 2] = [[10, 0, 5, 21], [10, 0, 5, 22]];
/// The adapter whose connection was opened before the capture began.
pub const EARLIER: [u8; 4] = [10, 0, 5, 23];
/// The host injecting O→T data with the first adapter's connection id.
pub const ROGUE: [u8; 4] = [10, 0, 5, 66];

/// The O→T id adapter `k` chooses (it consumes that direction).
pub fn o_t_id(k: u8) -> u32 {
    0x1000_0000 | u32::from(k)
}

/// The T→O id the scanner chooses for adapter `k`.
pub fn t_o_id(k: u8) -> u32 {
    0x2000_0000 | u32::from(k)
}

/// An encapsulation message: the 24-byte header, then `data`.
fn encap(command: u16, session: u32, context: u64, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(24 + data.len());
    v.extend(command.to_le_bytes());
    v.extend(u16::try_from(data.len()).unwrap_or(u16::MAX).to_le_bytes());
    v.extend(session.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(context.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(data);
    v
}

/// SendRRData's data: interface handle, timeout, and the common packet format with a null
/// address item and an unconnected data item holding `cip`.
fn rr_data(cip: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0xB2, 0];
    v.extend(u16::try_from(cip.len()).unwrap_or(u16::MAX).to_le_bytes());
    v.extend(cip);
    v
}

/// A Forward Open request to the Connection Manager (class 6, instance 1).
fn forward_open(k: u8) -> Vec<u8> {
    let mut v = vec![0x54, 2, 0x20, 0x06, 0x24, 0x01];
    v.extend([0x0A, 0x0E]); // priority and tick time, timeout ticks
    v.extend(0u32.to_le_bytes()); // O→T id: the target chooses it
    v.extend(t_o_id(k).to_le_bytes());
    v.extend((0x0100 + u16::from(k)).to_le_bytes()); // connection serial
    v.extend(0x0001u16.to_le_bytes()); // originator vendor
    v.extend(0x00C0_FFEEu32.to_le_bytes()); // originator serial
    v.extend([1, 0, 0, 0]); // timeout multiplier, reserved
    v.extend(10_000u32.to_le_bytes()); // O→T RPI, µs
    v.extend(0x4820u16.to_le_bytes()); // O→T: point to point, fixed, 32 bytes
    v.extend(10_000u32.to_le_bytes()); // T→O RPI
    v.extend(0x4820u16.to_le_bytes());
    v.push(0x01); // class 1, cyclic
                  // Connection path: assembly (class 4) configuration 1, consumed 0x65, produced 0x64.
    v.extend([4, 0x20, 0x04, 0x24, 0x01, 0x2C, 0x65, 0x2C, 0x64]);
    v
}

/// Its successful reply.
fn forward_open_reply(k: u8) -> Vec<u8> {
    let mut v = vec![0xD4, 0, 0, 0];
    v.extend(o_t_id(k).to_le_bytes());
    v.extend(t_o_id(k).to_le_bytes());
    v.extend((0x0100 + u16::from(k)).to_le_bytes());
    v.extend(0x0001u16.to_le_bytes());
    v.extend(0x00C0_FFEEu32.to_le_bytes());
    v.extend(10_000u32.to_le_bytes()); // actual O→T packet interval
    v.extend(10_000u32.to_le_bytes());
    v.extend([0, 0]); // application reply size, reserved
    v
}

/// One class 1 I/O datagram: sequenced address item (connection id, sequence number) and
/// connected data item (16-bit sequence count, then the data).
fn io_payload(id: u32, seq: u32, data: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0x02, 0x80, 8, 0];
    v.extend(id.to_le_bytes());
    v.extend(seq.to_le_bytes());
    v.extend([0xB1, 0]);
    v.extend(
        u16::try_from(data.len() + 2)
            .unwrap_or(u16::MAX)
            .to_le_bytes(),
    );
    v.extend((seq as u16).to_le_bytes());
    v.extend(data);
    v
}

fn udp(from: [u8; 4], to: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mac = |ip: [u8; 4]| [0x02, 0, ip[0], ip[1], ip[2], ip[3]];
    let b = PacketBuilder::ethernet2(mac(from), mac(to))
        .ipv4(from, to, 64)
        .udp(2222, 2222);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    // Writing to a Vec cannot fail.
    let _ = b.write(&mut v, payload);
    v
}

/// A TCP exchange of whole messages between a client and a server, with sequence numbers.
struct Tcp {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    seq: [u32; 2],
    ts_us: u64,
    frames: Vec<Frame>,
}

impl Tcp {
    fn push(&mut self, data: Vec<u8>) {
        self.frames.push(Frame {
            ts_us: self.ts_us,
            data,
        });
        self.ts_us += 500;
    }

    fn open(&mut self) {
        let [c, s] = self.seq;
        self.push(frame(self.client, self.server, c, None, "S", &[]));
        self.push(frame(self.server, self.client, s, Some(c + 1), "S", &[]));
        self.seq = [c + 1, s + 1];
        self.push(frame(self.client, self.server, c + 1, Some(s + 1), "", &[]));
    }

    /// A request and its reply.
    fn exchange(&mut self, request: &[u8], reply: &[u8]) {
        let [c, s] = self.seq;
        self.push(frame(self.client, self.server, c, Some(s), "P", request));
        let c = c + request.len() as u32;
        self.push(frame(self.server, self.client, s, Some(c), "P", reply));
        self.seq = [c, s + reply.len() as u32];
    }

    fn close(&mut self) {
        let [c, s] = self.seq;
        self.push(frame(self.client, self.server, c, Some(s), "F", &[]));
        self.push(frame(self.server, self.client, s, Some(c + 1), "F", &[]));
        self.push(frame(self.client, self.server, c + 1, Some(s + 1), "", &[]));
    }
}

/// The capture: `rounds` I/O exchanges per connection, one every 10 ms.
pub fn io_sessions(rounds: u32) -> Vec<Frame> {
    let t0 = 1_732_000_000_000_000u64;
    let mut frames = Vec::new();
    for (k, adapter) in (1u8..).zip(ADAPTERS) {
        let session = 0x1234_5600 | u32::from(k);
        let mut tcp = Tcp {
            client: (SCANNER, 50_000 + u16::from(k)),
            server: (adapter, 44818),
            seq: [1_000 * u32::from(k), 70_000],
            ts_us: t0 + u64::from(k) * 5_000,
            frames: Vec::new(),
        };
        tcp.open();
        let register = [1, 0, 0, 0];
        tcp.exchange(
            &encap(0x65, 0, 1, &register),
            &encap(0x65, session, 1, &register),
        );
        tcp.exchange(
            &encap(0x6F, session, 2, &rr_data(&forward_open(k))),
            &encap(0x6F, session, 2, &rr_data(&forward_open_reply(k))),
        );
        tcp.close();
        frames.extend(tcp.frames);
    }
    let start = t0 + 100_000;
    let data = [0u8; 32];
    for r in 0..rounds {
        let ts = start + u64::from(r) * 10_000;
        let mut io = |ts_us, from, to, id| {
            frames.push(Frame {
                ts_us,
                data: udp(from, to, &io_payload(id, r + 1, &data)),
            });
        };
        for (k, adapter) in (1u8..).zip(ADAPTERS) {
            io(ts + u64::from(k) * 100, SCANNER, adapter, o_t_id(k));
            io(ts + u64::from(k) * 100 + 50, adapter, SCANNER, t_o_id(k));
        }
        io(ts + 900, SCANNER, EARLIER, o_t_id(3));
        io(ts + 950, EARLIER, SCANNER, t_o_id(3));
        // Halfway, the rogue sends the first adapter's O→T data for a few cycles.
        if (rounds / 2..rounds / 2 + 5).contains(&r) {
            io(ts + 500, ROGUE, ADAPTERS[0], o_t_id(1));
        }
    }
    frames.sort_by_key(|f| f.ts_us);
    frames
}

/// A Logix symbolic path to `tag` in a request: service, path size in words, the ANSI
/// extended symbol segment (padded to a word).
fn tag_request(service: u8, tag: &str) -> Vec<u8> {
    let mut path = vec![0x91, tag.len() as u8];
    path.extend(tag.as_bytes());
    if path.len() % 2 == 1 {
        path.push(0);
    }
    let mut v = vec![service, (path.len() / 2) as u8];
    v.extend(path);
    v
}

/// A workstation reading `Recipe` (DINT[300], 1,200 bytes) in fragments of 480 bytes, then
/// writing `Setpoints` (REAL[200], 800 bytes) in two fragments, over SendRRData.
pub fn fragmented() -> Vec<Frame> {
    let session = 0x0BAD_CAFE;
    let mut tcp = Tcp {
        client: ([10, 0, 6, 10], 51_000),
        server: ([10, 0, 6, 20], 44818),
        seq: [5_000, 90_000],
        ts_us: 1_732_000_000_000_000,
        frames: Vec::new(),
    };
    tcp.open();
    tcp.exchange(
        &encap(0x65, 0, 1, &[1, 0, 0, 0]),
        &encap(0x65, session, 1, &[1, 0, 0, 0]),
    );
    let mut context = 10u64;
    let mut rr = |tcp: &mut Tcp, request: &[u8], reply: &[u8]| {
        context += 1;
        tcp.exchange(
            &encap(0x6F, session, context, &rr_data(request)),
            &encap(0x6F, session, context, &rr_data(reply)),
        );
    };
    let data = |n: usize| (0..n).map(|i| i as u8).collect::<Vec<u8>>();
    for offset in [0u32, 480, 960] {
        let mut req = tag_request(0x52, "Recipe");
        req.extend(300u16.to_le_bytes());
        req.extend(offset.to_le_bytes());
        let last = offset == 960;
        let mut reply = vec![0xD2, 0, if last { 0x00 } else { 0x06 }, 0, 0xC4, 0x00];
        reply.extend(data(if last { 240 } else { 480 }));
        rr(&mut tcp, &req, &reply);
    }
    for (offset, n) in [(0u32, 480usize), (480, 320)] {
        let mut req = tag_request(0x53, "Setpoints");
        req.extend([0xCA, 0x00]);
        req.extend(200u16.to_le_bytes());
        req.extend(offset.to_le_bytes());
        req.extend(data(n));
        rr(&mut tcp, &req, &[0xD3, 0, 0, 0]);
    }
    tcp.close();
    tcp.frames
}
