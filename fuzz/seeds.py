#!/usr/bin/env python3
"""Seeds each fuzz target's corpus from the project's captures (pcaps/): real frames for
`decode` and `chain`, real application payloads (each direction of each flow on the
protocol's port) for the protocol targets, in each target's input format.

Usage: fuzz/seeds.py [CORPUS_DIR]   (default fuzz/corpus; run from anywhere)."""
import hashlib
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")
# The decode target's selector: index of the link type in its table.
DLT_SELECTOR = {1: 0, 113: 1, 276: 2, 0: 3, 108: 4, 101: 5, 228: 6}
PORTS = {"modbus": {502}, "dnp3": {20000}, "s7comm": {102}, "enip": {44818, 2222}, "iec104": {2404}}


def frames(path):
    """(link type, frame bytes) of a classic pcap."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    if magic not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return
    dlt = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        yield dlt, frame


def ip_payload(dlt, frame):
    """(src, dst, sport, dport, proto, payload) of a TCP or UDP packet, else None."""
    if dlt == 1:
        if len(frame) < 14:
            return None
        et, p = struct.unpack(">H", frame[12:14])[0], 14
        while et in (0x8100, 0x88A8) and len(frame) >= p + 4:
            et, p = struct.unpack(">H", frame[p + 2:p + 4])[0], p + 4
    elif dlt == 113:
        et, p = struct.unpack(">H", frame[14:16])[0] if len(frame) >= 16 else 0, 16
    elif dlt in (0, 108):
        et, p = 0x0800 if frame[:4] in (b"\x02\x00\x00\x00", b"\x00\x00\x00\x02") else 0x86DD, 4
    elif dlt in (101, 228):
        et, p = (0x0800 if frame[:1] and frame[0] >> 4 == 4 else 0x86DD), 0
    else:
        return None
    ip = frame[p:]
    if et == 0x0800 and len(ip) >= 20:
        ihl, proto = (ip[0] & 0x0F) * 4, ip[9]
        total = struct.unpack(">H", ip[2:4])[0]
        src, dst, l4 = ip[12:16], ip[16:20], ip[ihl:max(total, ihl)]
    elif et == 0x86DD and len(ip) >= 40:
        proto, src, dst, l4 = ip[6], ip[8:24], ip[24:40], ip[40:]
    else:
        return None
    if proto == 6 and len(l4) >= 20:
        sport, dport = struct.unpack(">HH", l4[:4])
        return src, dst, sport, dport, proto, l4[(l4[12] >> 4) * 4:]
    if proto == 17 and len(l4) >= 8:
        sport, dport = struct.unpack(">HH", l4[:4])
        return src, dst, sport, dport, proto, l4[8:]
    return None


def put(target, blob):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(blob).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


def main():
    counts = {}
    for dirpath, _, files in os.walk(os.path.join(ROOT, "pcaps")):
        for fn in sorted(files):
            if not fn.endswith((".pcap", ".cap")):
                continue
            path = os.path.join(dirpath, fn)
            chain, streams, segs, decoded = b"", {}, {}, 0
            for dlt, frame in frames(path):
                if dlt in DLT_SELECTOR and decoded < 32:
                    put("decode", bytes([DLT_SELECTOR[dlt]]) + frame)
                    decoded += 1
                if dlt == 1 and len(chain) < 65536:
                    chain += struct.pack(">H", len(frame)) + frame
                pkt = ip_payload(dlt, frame)
                if not pkt or not pkt[5]:
                    continue
                src, dst, sport, dport, proto, payload = pkt
                for target, ports in PORTS.items():
                    if dport in ports or sport in ports:
                        # Requests to the port, responses from it, each a stream of its own.
                        key = (target, src, dst, sport, dport)
                        streams.setdefault(key, b"")
                        if len(streams[key]) < 4096:
                            streams[key] += payload
                        # ... and each of the first segments alone.
                        if segs.get(key, 0) < 16:
                            segs[key] = segs.get(key, 0) + 1
                            put(target, bytes([0x3F if dport in ports else 0x7F]) + payload)
            if chain:
                put("chain", chain)
            for (target, _, _, sport, dport), stream in streams.items():
                to_server = dport in PORTS[target]
                # ctl: chunks of 64 octets; all in one direction when the stream fits one chunk,
                # else alternating (the fuzzer finds the rest).
                ctl = 0x3F if to_server else 0x7F
                put(target, bytes([ctl]) + stream)
                counts[target] = counts.get(target, 0) + 1
    for t in sorted(os.listdir(OUT)):
        print(f"{t}: {len(os.listdir(os.path.join(OUT, t)))} seeds")


main()
