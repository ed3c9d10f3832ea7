#!/usr/bin/env python3
"""Regenerates truncated.pcap: the first two packets of ../../modbus/iti-modbustcp/ModbusTCP.pcap
followed by the record header and half the data of the third, as a capture cut off while
being written (or copied) looks."""
import struct
from pathlib import Path

here = Path(__file__).resolve().parent
src = (here / "../../modbus/iti-modbustcp/ModbusTCP.pcap").read_bytes()
endian = "<" if src[:4] == b"\xd4\xc3\xb2\xa1" else ">"
off = 24
for _ in range(2):
    incl = struct.unpack(endian + "I", src[off + 8:off + 12])[0]
    off += 16 + incl
incl3 = struct.unpack(endian + "I", src[off + 8:off + 12])[0]
(here / "truncated.pcap").write_bytes(src[:off + 16 + incl3 // 2])
