#!/usr/bin/env python3
"""Writes recon.pcap: an attacker's reconnaissance and a rogue master in a small plant.

Hosts (10.20.0.0/24): HMI .5 polls PLC .10 over Modbus/TCP (reads, and writes one register);
S7 PLC .11; attacker .66. Timeline (seconds from the start):

   0  HMI opens a Modbus connection to the PLC and polls it every second until t=90
  10  attacker sweeps 40 hosts (.100-.139) with SYNs to port 502      -> anomaly.host_scan
  20  attacker SYN-scans ports 1-100 of the PLC                       -> anomaly.port_scan
  30  attacker reads holding registers of unit ids 1-20 on the PLC
      (the PLC answers units 2-20 with exception 11)                  -> anomaly.unit_scan,
                                                                         protocol.exception(_storm)
  40  attacker writes a holding register on the PLC                   -> anomaly.new_master_write
  50  attacker opens and closes 120 connections to the PLC            -> anomaly.excessive_sessions
  60  attacker reads 10 different SZL lists of the S7 PLC             -> anomaly.szl_enumeration

Everything is built from the protocol specifications (Ethernet II, IPv4, TCP with real
handshakes, sequence numbers and checksums, Modbus/TCP, TPKT/COTP/S7comm userdata), so the
capture dissects cleanly in Wireshark. Run: python3 make.py (writes recon.pcap next to it).
"""

import os
import struct

LINKTYPE_ETHERNET = 1
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recon.pcap")
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z

MAC = {
    "10.20.0.5": "02:00:00:00:00:05",
    "10.20.0.10": "00:1b:1b:00:00:10",  # Siemens OUI
    "10.20.0.11": "00:1b:1b:00:00:11",
    "10.20.0.66": "02:00:00:00:00:66",
}


def mac(ip):
    return bytes.fromhex(MAC.get(ip, "02:00:00:00:00:ff").replace(":", ""))


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


packets = []


def frame(t, src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    c = csum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    total = 20 + len(tcp) + len(payload)
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, ip4(src), ip4(dst))
    iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
    eth = mac(dst) + mac(src) + b"\x08\x00"
    packets.append((t, eth + iph + tcp + payload))


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Conn:
    """A TCP connection with a real handshake and sequence numbers."""

    def __init__(self, t, client, cport, server, sport, isn=1000):
        self.c, self.cp, self.s, self.sp = client, cport, server, sport
        self.cseq, self.sseq = isn, isn * 7 + 1
        frame(t, client, server, cport, sport, self.cseq, 0, SYN)
        frame(t + 0.0002, server, client, sport, cport, self.sseq, self.cseq + 1, SYN | ACK)
        self.cseq += 1
        self.sseq += 1
        frame(t + 0.0004, client, server, cport, sport, self.cseq, self.sseq, ACK)

    def request(self, t, data):
        frame(t, self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, PSH | ACK, data)
        self.cseq += len(data)

    def response(self, t, data):
        frame(t, self.s, self.c, self.sp, self.cp, self.sseq, self.cseq, PSH | ACK, data)
        self.sseq += len(data)

    def close(self, t):
        frame(t, self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, FIN | ACK)
        frame(t + 0.0002, self.s, self.c, self.sp, self.cp, self.sseq, self.cseq + 1, FIN | ACK)
        frame(t + 0.0004, self.c, self.s, self.cp, self.sp, self.cseq + 1, self.sseq + 1, ACK)


def mbap(tid, unit, pdu):
    return struct.pack("!HHHB", tid, 0, len(pdu) + 1, unit) + pdu


HMI, PLC, S7PLC, ATT = "10.20.0.5", "10.20.0.10", "10.20.0.11", "10.20.0.66"

# The HMI's poll loop: read 10 holding registers every second, write register 5 every 10 s.
hmi = Conn(T0, HMI, 50000, PLC, 502)
tid = 0
for i in range(90):
    t = T0 + 1 + i
    tid += 1
    hmi.request(t, mbap(tid, 1, struct.pack("!BHH", 3, 0, 10)))
    hmi.response(t + 0.003, mbap(tid, 1, bytes([3, 20]) + bytes(20)))
    if i % 10 == 0:
        tid += 1
        pdu = struct.pack("!BHH", 6, 5, i)
        hmi.request(t + 0.5, mbap(tid, 1, pdu))
        hmi.response(t + 0.503, mbap(tid, 1, pdu))

# Host sweep: SYNs to 40 hosts on 502; none answer.
for i in range(40):
    frame(T0 + 10 + i * 0.01, ATT, f"10.20.0.{100 + i}", 40000 + i, 502, 5000 + i, 0, SYN)

# Port scan of the PLC: SYN to ports 1-100; closed ports answer RST, 502 answers SYN-ACK.
for p in range(1, 101):
    t = T0 + 20 + p * 0.005
    frame(t, ATT, PLC, 41000, p, 9000, 0, SYN)
    if p == 502:
        frame(t + 0.0002, PLC, ATT, p, 41000, 777, 9001, SYN | ACK)
    else:
        frame(t + 0.0002, PLC, ATT, p, 41000, 0, 9001, RST | ACK)

# Unit id scan: one connection, read holding registers of units 1-20.
scan = Conn(T0 + 30, ATT, 42000, PLC, 502)
for unit in range(1, 21):
    t = T0 + 30.1 + unit * 0.01
    scan.request(t, mbap(unit, unit, struct.pack("!BHH", 3, 0, 1)))
    if unit == 1:
        scan.response(t + 0.002, mbap(unit, unit, bytes([3, 2, 0, 0])))
    else:
        scan.response(t + 0.002, mbap(unit, unit, bytes([0x83, 0x0B])))

# The rogue master writes the PLC's register 5 on the same connection.
scan.request(T0 + 40, mbap(100, 1, struct.pack("!BHH", 6, 5, 0xDEAD)))
scan.response(T0 + 40.002, mbap(100, 1, struct.pack("!BHH", 6, 5, 0xDEAD)))
scan.close(T0 + 41)

# 120 connections in 12 seconds.
for i in range(120):
    c = Conn(T0 + 50 + i * 0.1, ATT, 43000 + i, PLC, 502, isn=20000 + i)
    c.close(T0 + 50 + i * 0.1 + 0.01)

# S7: COTP connect, setup communication, then 10 SZL reads.
tpkt = lambda body: struct.pack("!BBH", 3, 0, len(body) + 4) + body
cotp_dt = b"\x02\xf0\x80"
s7 = Conn(T0 + 60, ATT, 44000, S7PLC, 102)
# COTP CR with calling TSAP 0x0100 and called TSAP 0x0102 (rack 0, slot 2), TPDU size 1024.
cr = bytes.fromhex("e00000000100c0010ac1020100c2020102")
s7.request(T0 + 60.01, tpkt(bytes([len(cr)]) + cr))
cc = bytes.fromhex("d00001000100c0010ac1020100c2020102")
s7.response(T0 + 60.012, tpkt(bytes([len(cc)]) + cc))
setup = bytes.fromhex("32010000000100080000f0000001000101e0")
s7.request(T0 + 60.02, tpkt(cotp_dt + setup))
setup_ack = bytes.fromhex("320300000001000800000000f0000001000100f0")
s7.response(T0 + 60.022, tpkt(cotp_dt + setup_ack))
for i, szl in enumerate([0x0011, 0x001C, 0x0131, 0x0132, 0x0111,
                         0x0424, 0x0019, 0x0074, 0x0232, 0x0091]):
    ref = 2 + i
    param = bytes.fromhex("000112041144010" + "0")  # userdata: request, CPU functions, read SZL
    data = bytes([0xFF, 0x09]) + struct.pack("!HHH", 4, szl, 0)
    head = struct.pack("!BBHHHH", 0x32, 7, 0, ref, len(param), len(data))
    s7.request(T0 + 60.1 + i * 0.05, tpkt(cotp_dt + head + param + data))
s7.close(T0 + 61)

packets.sort(key=lambda p: p[0])
with open(OUT, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
    for t, data in packets:
        sec = int(t)
        usec = int(round((t - sec) * 1_000_000))
        f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
        f.write(data)
print(f"{OUT}: {len(packets)} packets")
