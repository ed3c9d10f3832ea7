//! Complete TCP and UDP exchanges for the synthetic captures: a connection opened with a
//! handshake, every segment acknowledged with correct sequence numbers, closed with FIN; MAC
//! addresses from the capture's own table.

use etherparse::PacketBuilder;

use crate::{Frame, Mac};

/// An address and port.
pub type End = ([u8; 4], u16);

/// The MAC address a capture gives a host.
pub trait Macs {
    /// `a`'s MAC (or its router's).
    fn mac(&self, a: [u8; 4]) -> Mac;

    /// A UDP datagram from `from` to `to`.
    fn udp(&self, from: End, to: End, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2(self.mac(from.0), self.mac(to.0))
            .ipv4(from.0, to.0, 64)
            .udp(from.1, to.1);
        let mut v = Vec::with_capacity(b.size(payload.len()));
        // Writing to a Vec cannot fail.
        let _ = b.write(&mut v, payload);
        v
    }
}

/// Locally administered MACs made of the IPv4 address (02:00:a:b:c:d).
pub struct FromIp;

impl Macs for FromIp {
    fn mac(&self, a: [u8; 4]) -> Mac {
        [0x02, 0, a[0], a[1], a[2], a[3]]
    }
}

/// Frames of one capture being built, in time order once sorted.
pub struct Out {
    pub frames: Vec<Frame>,
}

impl Out {
    pub fn push(&mut self, ts_us: u64, data: Vec<u8>) {
        self.frames.push(Frame { ts_us, data });
    }
}

/// One TCP connection with its sequence numbers; every segment is acknowledged.
pub struct Tcp {
    /// The client's end.
    pub client: End,
    /// The server's end.
    pub server: End,
    /// The client's next sequence number.
    pub cseq: u32,
    /// The server's next sequence number.
    pub sseq: u32,
}

impl Tcp {
    pub fn new(client: End, server: End, isn: u32) -> Tcp {
        Tcp {
            client,
            server,
            cseq: isn,
            sseq: isn.wrapping_mul(2_654_435_761),
        }
    }

    pub fn seg(&self, net: &impl Macs, up: bool, flags: &str, payload: &[u8]) -> Vec<u8> {
        let (from, to, seq, ack) = if up {
            (self.client, self.server, self.cseq, self.sseq)
        } else {
            (self.server, self.client, self.sseq, self.cseq)
        };
        let ack = (!flags.contains('S') || !up).then_some(ack);
        super::tcp_frame(
            (net.mac(from.0), net.mac(to.0)),
            from,
            to,
            seq,
            ack,
            flags,
            payload,
        )
    }

    /// The three-way handshake from `ts`; returns the time after it.
    pub fn open(&mut self, net: &impl Macs, out: &mut Out, ts: u64) -> u64 {
        out.push(ts, self.seg(net, true, "S", &[]));
        self.cseq = self.cseq.wrapping_add(1);
        out.push(ts + 300, self.seg(net, false, "S", &[]));
        self.sseq = self.sseq.wrapping_add(1);
        out.push(ts + 600, self.seg(net, true, "", &[]));
        ts + 1000
    }

    /// Data from the client (`up`) or the server, acknowledged by the other side.
    pub fn send(
        &mut self,
        net: &impl Macs,
        out: &mut Out,
        ts: u64,
        up: bool,
        payload: &[u8],
    ) -> u64 {
        out.push(ts, self.seg(net, up, "P", payload));
        let n = payload.len() as u32;
        if up {
            self.cseq = self.cseq.wrapping_add(n);
        } else {
            self.sseq = self.sseq.wrapping_add(n);
        }
        out.push(ts + 200, self.seg(net, !up, "", &[]));
        ts + 500
    }

    /// A request and its response.
    pub fn exchange(
        &mut self,
        net: &impl Macs,
        out: &mut Out,
        ts: u64,
        req: &[u8],
        resp: &[u8],
    ) -> u64 {
        let ts = self.send(net, out, ts, true, req);
        self.send(net, out, ts, false, resp)
    }

    /// FIN from the client, answered and closed by the server.
    pub fn close(&mut self, net: &impl Macs, out: &mut Out, ts: u64) -> u64 {
        out.push(ts, self.seg(net, true, "F", &[]));
        self.cseq = self.cseq.wrapping_add(1);
        out.push(ts + 200, self.seg(net, false, "F", &[]));
        self.sseq = self.sseq.wrapping_add(1);
        out.push(ts + 400, self.seg(net, true, "", &[]));
        ts + 600
    }
}
