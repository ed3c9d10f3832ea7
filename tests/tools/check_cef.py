#!/usr/bin/env python3
"""Parses otsensor's CEF alerts with pycef (PyPI) and checks every field against the same
alerts in the native JSON format. Usage: check_cef.py ALERTS.json.jsonl ALERTS.cef"""
import json
import re
import sys

import pycef


def unescape(v):
    # CEF extension escapes (pycef splits the pairs but leaves values escaped).
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), v)


def millis(ts):
    from datetime import datetime, timezone
    d = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return str(int(d.timestamp()) * 1000 + d.microsecond // 1000)


natives = [json.loads(l) for l in open(sys.argv[1])]
lines = open(sys.argv[2]).read().splitlines()
assert len(natives) == len(lines), (len(natives), len(lines))
for a, line in zip(natives, lines):
    c = pycef.parse(line)
    assert c is not None, line
    get = lambda k: unescape(c[k])
    checks = {
        "CEFVersion": "0",
        "DeviceVendor": "otsensor",
        "DeviceProduct": "otsensor",
        "DeviceEventClassID": a["rule"],
        "Name": a["title"],
        "Severity": str(a["severity"]["score"]),
        "externalId": a["id"],
        "cnt": str(a["count"]),
        "cat": a["engine"],
        "msg": a["details"],
        "rt": millis(a["last_seen"]),
        "start": millis(a["first_seen"]),
        "src": a["src"]["ip"],
        "rule": a["rule"],
    }
    if "port" in a["src"]:
        checks["spt"] = str(a["src"]["port"])
    if "mac" in a["src"]:
        checks["smac"] = a["src"]["mac"]
    if "zone" in a["src"]:
        checks["srcZone"] = a["src"]["zone"]
    if a.get("dst"):
        checks["dst"] = a["dst"]["ip"]
        if "port" in a["dst"]:
            checks["dpt"] = str(a["dst"]["port"])
        if "zone" in a["dst"]:
            checks["dstZone"] = a["dst"]["zone"]
        if "asset" in a["dst"]:
            checks["dstAsset"] = a["dst"]["asset"]
    if "protocol" in a:
        checks["app"] = a["protocol"]
    if "transport" in a:
        checks["proto"] = a["transport"].upper()
    if "operation" in a:
        checks["act"] = a["operation"]
    if a["sensor"]["site"]:
        checks["site"] = a["sensor"]["site"]
    if a["sensor"]["id"]:
        checks["dvchost"] = a["sensor"]["id"]
    for k, want in checks.items():
        got = get(k) if k in c else None
        assert got == want, f"{a['rule']} {a['id']}: {k} = {got!r}, want {want!r}\n{line}"
print(f"{len(lines)} CEF records match")
